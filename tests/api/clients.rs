//! Python's `OWSLib`, the OGC API – Features client of Python GIS scripts, reads the server, and what it reads
//! equals the server's own answers.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{app, python, run};

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

#[test]
fn owslib_reads_collections_queryables_pages_and_cql2_filters() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/owslib_features.py");
    let (ok, out) = run(&python(), &[script, &app().base]);
    assert!(ok, "OWSLib failed (scripts/setup --test installs it): {out}");
    let read: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();

    let conformance = app().get_json("/conformance");
    let mut classes = strings(&conformance["conformsTo"]);
    classes.sort();
    assert_eq!(strings(&read["conformance"]), classes);

    let collections = app().get_json("/collections");
    let all: BTreeSet<String> = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(strings(&read["collections"]).into_iter().collect::<BTreeSet<_>>(), all);
    // OWSLib keeps the collections whose itemType is "feature": the six spatial ones (with the projects'
    // points and lines).
    let features: BTreeSet<String> = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["itemType"] == "feature")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(features.len(), 6);
    assert_eq!(strings(&read["feature_collections"]).into_iter().collect::<BTreeSet<_>>(), features);
    assert_eq!(read["counties_collection_title"], app().get_json("/collections/counties")["title"]);

    let queryables = app().get_json("/collections/projects/queryables");
    let keys: BTreeSet<String> = queryables["properties"].as_object().unwrap().keys().cloned().collect();
    assert!(keys.contains("category"));
    assert_eq!(strings(&read["projects_queryables"]).into_iter().collect::<BTreeSet<_>>(), keys);

    // Paging by limit and offset visits every county once.
    let paged = strings(&read["counties_paged_ids"]);
    let every = app().get_json("/collections/counties/items?limit=1000");
    let expected: Vec<String> =
        every["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(expected.len(), 100);
    assert_eq!(paged, expected);
    assert_eq!(read["counties_number_matched"], 100);

    let region = app().get_json("/collections/regions/items/liaodong-zone");
    assert_eq!(read["liaodong_zone_name_zh"], region["properties"]["name_zh"]);

    // The CQL2 filter OWSLib sent selects what the plain equality filter selects.
    let airports = app().get_json("/collections/projects/items?category=airport&limit=1000");
    let mut ids: Vec<String> = airports["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert!(!ids.is_empty());
    assert_eq!(strings(&read["airport_ids_by_cql2"]), ids);
}
