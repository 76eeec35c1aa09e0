//! Write tokens: made by `planatlas token add`, stored only as SHA-256 hashes, each with a scope (the whole
//! province, one plan region or one city). Reads need none.
//!
//! Failed attempts are counted per client address: after [`MAX_FAILURES`] in [`FAILURE_WINDOW`] further
//! attempts from that address are refused with 429 and `Retry-After` until the window ends, so tokens cannot
//! be guessed at speed. Tokens never reach the log: only the token's name does.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::store::{Catalog, Feature};

/// Failed attempts allowed per address in one window.
pub const MAX_FAILURES: u32 = 10;
/// The window failed attempts are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_mins(1);

/// What a token may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything.
    Province,
    /// Projects lying in one plan region.
    Region(String),
    /// Projects lying in one city.
    City(String),
}

impl Scope {
    /// Parses `province`, `region:<id>` or `city:<adcode>`, checking the region or city exists.
    pub fn parse(s: &str, catalog: &Catalog) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "province" => Ok(Self::Province),
            Some(("region", id)) if catalog.regions().get(id).is_some() => Ok(Self::Region(id.to_owned())),
            Some(("city", code)) if catalog.cities().get(code).is_some() => Ok(Self::City(code.to_owned())),
            _ => {
                let regions: Vec<&str> = catalog.regions().features().iter().map(|f| f.id.as_str()).collect();
                Err(format!(
                    "scope '{s}' is not province, region:<id> (one of {}) or city:<adcode> (e.g. city:210100)",
                    regions.join(", ")
                ))
            }
        }
    }

    /// Whether a project lies in this scope: every county it touches belongs to the city or region; a
    /// city-wide project (county not known) by its city and the regions that take that city whole.
    pub fn covers(&self, project: &Feature, catalog: &Catalog) -> bool {
        let counties: Vec<&str> = project.str_list("county_adcodes").collect();
        let cities: Vec<&str> = project.str_list("city_adcodes").collect();
        if counties.is_empty() && !cities.is_empty() {
            // City-wide (county not known), or a record of such a project (a progress report).
            return match self {
                Self::Province => true,
                Self::City(code) => cities.iter().all(|c| c == code),
                Self::Region(id) => project.str_list("region_ids").any(|r| r == id),
            };
        }
        match self {
            Self::Province => true,
            Self::City(code) => {
                !counties.is_empty()
                    && counties.iter().all(|c| {
                        catalog.counties().get(c).and_then(|f| f.str_prop("parent_adcode"))
                            == Some(code.as_str())
                    })
            }
            Self::Region(id) => {
                !counties.is_empty()
                    && counties.iter().all(|c| {
                        catalog.counties().get(c).is_some_and(|f| f.str_list("region_ids").any(|r| r == id))
                    })
            }
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Province => f.write_str("province"),
            Self::Region(id) => write!(f, "region:{id}"),
            Self::City(code) => write!(f, "city:{code}"),
        }
    }
}

/// Who is writing.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name (shown in the history).
    pub name: String,
    /// What it may change.
    pub scope: Scope,
}

/// The SHA-256 of a token, hex.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    hex(&digest)
}

/// Equal in time independent of where the strings differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new token: `pa_` and 32 random bytes from the operating system, hex.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!("pa_{}", hex(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Failed attempts per client address.
#[derive(Default)]
pub struct Failures {
    by_addr: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Failures {
    /// Seconds to wait when `addr` has used up its failures, else `None`.
    pub fn blocked(&self, addr: IpAddr) -> Option<u64> {
        let map = self.by_addr.lock().ok()?;
        let (n, since) = map.get(&addr)?;
        let left = FAILURE_WINDOW.checked_sub(since.elapsed())?;
        (*n >= MAX_FAILURES).then(|| left.as_secs().max(1))
    }

    /// Counts one failure from `addr`.
    pub fn record(&self, addr: IpAddr) {
        if let Ok(mut map) = self.by_addr.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            }
            let e = map.entry(addr).or_insert((0, Instant::now()));
            if e.1.elapsed() >= FAILURE_WINDOW {
                *e = (0, Instant::now());
            }
            e.0 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_are_sha256() {
        let a = new_token().unwrap();
        assert!(a.starts_with("pa_") && a.len() == 67);
        assert_ne!(a, new_token().unwrap());
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(
            constant_time_eq("abc", "abc") && !constant_time_eq("abc", "abd") && !constant_time_eq("a", "ab")
        );
    }

    #[test]
    fn failures_block_after_the_limit() {
        let f = Failures::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(f.blocked(ip).is_none());
            f.record(ip);
        }
        assert!(f.blocked(ip).is_some_and(|s| (1..=60).contains(&s)));
        assert!(f.blocked("192.0.2.2".parse().unwrap()).is_none());
    }
}
