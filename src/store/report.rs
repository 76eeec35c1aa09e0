//! The consistency report: places where the data and the plan disagree, each with the explanation the data
//! gives for it (`consistency_notes` on the project).
//!
//! Checks:
//! - `region`: a project named in part 三/四/五/六 whose geometry does not touch that part's region;
//! - `named_place`: the place the plan attaches to a project names a county or city, but the project's
//!   geometry lies in none of the places named;
//! - `near_duplicate`: two project points within 100 m whose names share a two-character piece once generic
//!   words (产业, 基地, 中心…) are removed.
//!
//! A point outside the county it names is not reported here: the loader refuses such data outright.

use std::collections::BTreeSet;

use geo::Geometry;
use serde::Serialize;
use serde_json::Value;

use super::collection::Collection;
use crate::domain::project::{part_of, region_of_part};
use crate::domain::short_name;

/// Words that say what kind of thing a project is rather than which one.
const GENERIC_WORDS: &[&str] = &[
    "产业园",
    "产业",
    "基地",
    "中心",
    "示范区",
    "试验区",
    "先行区",
    "项目",
    "工程",
    "建设",
    "国家",
    "中国",
    "辽宁",
    "省",
    "集群",
    "园区",
    "重点",
    "省部共建",
    "国际",
    "改造",
    "升级",
    "改扩建",
];

/// Distance under which two points count as stacked, in metres.
const NEAR_M: f64 = 100.0;

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// `region`, `named_place` or `near_duplicate`.
    pub check: &'static str,
    /// The project.
    pub project_id: String,
    /// Its Chinese name.
    pub name_zh: String,
    /// What disagrees.
    pub detail: String,
    /// The explanation recorded in the data, if any.
    pub explanation: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every finding, by check then project id.
    pub entries: Vec<Entry>,
}

fn note(props: &super::Properties, check: &str) -> Option<String> {
    props.get("consistency_notes").and_then(|n| n.get(check)).and_then(Value::as_str).map(str::to_owned)
}

/// The distinctive two-character pieces of a name.
fn name_bigrams(name: &str) -> BTreeSet<String> {
    let mut s = name.to_owned();
    let mut words: Vec<&str> = GENERIC_WORDS.to_vec();
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    for w in words {
        s = s.replace(w, "|");
    }
    let separators = |c: char| "|（）()“”、·，,—-".contains(c) || c.is_whitespace() || c.is_ascii_digit();
    let mut out = BTreeSet::new();
    for frag in s.split(separators).filter(|f| !f.is_empty()) {
        let chars: Vec<char> = frag.chars().collect();
        for w in chars.windows(2) {
            out.insert(w.iter().collect());
        }
    }
    out
}

/// Runs every check over the joined projects.
pub fn build(projects: &Collection, counties: &Collection, cities: &Collection) -> Report {
    let mut entries = Vec::new();
    let admin_names: Vec<(String, &str, bool)> = counties
        .features()
        .iter()
        .map(|c| (short_name(c.str_prop("name_zh").unwrap_or_default()).to_owned(), c.id.as_str(), true))
        .chain(cities.features().iter().map(|c| {
            (short_name(c.str_prop("name_zh").unwrap_or_default()).to_owned(), c.id.as_str(), false)
        }))
        .collect();
    for (i, f) in projects.features().iter().enumerate() {
        let p = &f.properties;
        let name_zh = f.str_prop("name_zh").unwrap_or_default().to_owned();
        let ids = |k: &str| -> Vec<&str> {
            p.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
        };
        let region_ids = ids("region_ids");
        let parts: BTreeSet<&str> = ids("sections").into_iter().map(part_of).collect();
        for part in parts {
            if let Some(region) = region_of_part(part)
                && !region_ids.contains(&region)
            {
                entries.push(Entry {
                    check: "region",
                    project_id: f.id.clone(),
                    name_zh: name_zh.clone(),
                    detail: format!(
                        "named in part {part} ({region}) but located in {}",
                        if region_ids.is_empty() { "no region".to_owned() } else { region_ids.join(", ") }
                    ),
                    explanation: note(p, "region"),
                });
            }
        }
        if let Some(named) = f.str_prop("named_place") {
            let county_ids = ids("county_adcodes");
            let city_ids = ids("city_adcodes");
            let tokens: Vec<&str> =
                named.split(['、', '，', ',', '/', ' ']).filter(|t| !t.is_empty()).collect();
            let mut matched_any = false;
            let mut inside_any = false;
            for t in &tokens {
                let t = short_name(t);
                for (name, id, is_county) in &admin_names {
                    if name == t {
                        matched_any = true;
                        inside_any |=
                            if *is_county { county_ids.contains(id) } else { city_ids.contains(id) };
                    }
                }
            }
            if matched_any && !inside_any {
                entries.push(Entry {
                    check: "named_place",
                    project_id: f.id.clone(),
                    name_zh: name_zh.clone(),
                    detail: format!(
                        "the plan places it in {named} but its geometry lies in {}",
                        ids("county_names").join(", ")
                    ),
                    explanation: note(p, "named_place"),
                });
            }
        }
        if let Some(Geometry::Point(pt)) = &f.geometry {
            let mine = name_bigrams(&name_zh);
            let near = projects.within_distance(&Geometry::Point(*pt), NEAR_M, |j| {
                j != i && matches!(projects.feature(j).geometry, Some(Geometry::Point(_)))
            });
            let similar: Vec<String> = near
                .iter()
                .filter_map(|&(j, d)| {
                    let other = projects.feature(j);
                    let shared: Vec<String> = mine
                        .intersection(&name_bigrams(other.str_prop("name_zh").unwrap_or_default()))
                        .cloned()
                        .collect();
                    (!shared.is_empty())
                        .then(|| format!("{} ({:.0} m, shares {})", other.id, d, shared.join("/")))
                })
                .collect();
            if !similar.is_empty() {
                entries.push(Entry {
                    check: "near_duplicate",
                    project_id: f.id.clone(),
                    name_zh: name_zh.clone(),
                    detail: format!(
                        "within {NEAR_M:.0} m of a similarly named project: {}",
                        similar.join("; ")
                    ),
                    explanation: note(p, "near_duplicate"),
                });
            }
        }
    }
    entries.sort_by(|a, b| a.check.cmp(b.check).then(a.project_id.cmp(&b.project_id)));
    Report { entries }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_words_do_not_make_names_similar() {
        let a = name_bigrams("沈阳综合保税区");
        let b = name_bigrams("沈阳产业技术研究院");
        assert!(a.contains("沈阳") && b.contains("沈阳"));
        assert!(name_bigrams("国家物流枢纽中心").iter().all(|g| g != "中心"));
    }
}
