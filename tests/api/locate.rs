//! `/locate`: county, city and regions for a point.

use crate::helpers::app;

#[test]
fn a_point_in_central_shenyang_is_in_heping_shenyang_and_the_circle() {
    let doc = app().get_json("/locate?lon=123.40&lat=41.79");
    assert_eq!(doc["inLiaoning"], true);
    assert_eq!(doc["county"]["name_zh"], "和平区");
    assert_eq!(doc["city"]["name_zh"], "沈阳市");
    let regions: Vec<&str> =
        doc["regions"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(regions, vec!["shenyang-circle"]);
}

#[test]
fn a_point_in_dalian_is_in_a_dalian_district_and_the_coastal_belt() {
    let doc = app().get_json("/locate?lon=121.6&lat=38.9");
    assert_eq!(doc["city"]["name_zh"], "大连市");
    assert!(doc["county"]["adcode"].as_str().unwrap().starts_with("2102"));
    assert!(doc["county"]["name_zh"].as_str().unwrap().ends_with('区'));
    let regions: Vec<&str> =
        doc["regions"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(regions, vec!["coastal-belt"]);
}

#[test]
fn a_point_in_the_yellow_sea_is_in_nothing() {
    let doc = app().get_json("/locate?lon=120.0&lat=36.0");
    assert_eq!(doc["inLiaoning"], false);
    assert!(doc["county"].is_null() && doc["city"].is_null());
    assert_eq!(doc["regions"].as_array().unwrap().len(), 0);
}

#[test]
fn a_county_member_of_a_zone_is_located_with_the_inferred_basis() {
    // 新宾 county seat: in Fushun (circle, stated) and the Liaodong zone as a single county, inferred from the
    // plan's 绿肺/水塔 wording though part 六 does not name it (inferred-weak).
    let doc = app().get_json("/locate?lon=125.04&lat=41.73");
    assert_eq!(doc["county"]["adcode"], "210422");
    let regions = doc["regions"].as_array().unwrap();
    let liaodong = regions.iter().find(|r| r["id"] == "liaodong-zone").unwrap();
    assert_eq!(liaodong["basis"], "inferred-weak");
    assert_eq!(liaodong["via"], "county");
    let circle = regions.iter().find(|r| r["id"] == "shenyang-circle").unwrap();
    assert_eq!(circle["basis"], "stated");
}
