//! The service's nouns and its validated query values.
//!
//! Regions, their members and the basis of each membership; and the request values every endpoint shares
//! (bounding boxes, paging, output formats), each parsed once into a type that cannot hold a bad value. Parsing
//! errors are [`ParamError`]s that name the parameter and say what is wrong; the HTTP layer turns them into
//! RFC 7807 problems. Nothing here knows actix.

pub mod palette;
pub mod project;
pub mod query;
pub mod region;

pub use query::{Bbox, Limits, Page, ParamError};
pub use region::{Basis, MemberLevel, RegionDef, RegionKind, RegionMember};

/// A Chinese place name without its administrative suffix, so `桓仁` matches `桓仁满族自治县` and `大连` matches
/// `大连市`. Names that would shrink below two characters are kept whole.
pub fn short_name(name: &str) -> &str {
    for suffix in ["满族自治县", "蒙古族自治县", "自治县", "市", "县", "区"] {
        if let Some(s) = name.strip_suffix(suffix)
            && s.chars().count() >= 2
        {
            return s;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn county_suffixes_are_dropped_for_matching() {
        assert_eq!(short_name("桓仁满族自治县"), "桓仁");
        assert_eq!(short_name("大连市"), "大连");
        assert_eq!(short_name("抚顺县"), "抚顺");
        assert_eq!(short_name("和平区"), "和平");
        assert_eq!(short_name("桓仁"), "桓仁");
    }
}
