//! The four regions: dissolved geometry, areas, members and their basis.

use geo::{Contains, GeodesicArea, Point};

use crate::helpers::{app, catalog};

#[test]
fn the_circles_geodesic_area_equals_its_seven_cities_within_a_tenth_of_a_percent() {
    let circle = app().get_json("/collections/regions/items/shenyang-circle");
    let area = circle["properties"]["area_km2"].as_f64().unwrap();
    let cities: Vec<&str> = circle["properties"]["city_adcodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(cities.len(), 7);
    let sum: f64 = cities
        .iter()
        .map(|c| {
            app().get_json(&format!("/collections/cities/items/{c}"))["properties"]["area_km2"]
                .as_f64()
                .unwrap()
        })
        .sum();
    let rel = (area - sum).abs() / sum;
    assert!(rel < 0.001, "circle {area} km² vs cities {sum} km² ({:.5} %)", rel * 100.0);
    // And the dissolved geometry itself, measured here independently of the served number.
    let c = catalog();
    let g = c.regions().get("shenyang-circle").unwrap().geometry.as_ref().unwrap();
    let measured = g.geodesic_area_unsigned() / 1e6;
    assert!((measured - sum).abs() / sum < 0.001, "{measured} vs {sum}");
}

#[test]
fn the_liaodong_zone_contains_huanren() {
    let zone = app().get_json("/collections/regions/items/liaodong-zone");
    let counties: Vec<&str> = zone["properties"]["county_adcodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(counties.contains(&"210522"), "桓仁 210522 in {counties:?}");
    // Geometrically too: 桓仁's county seat lies inside the dissolved zone.
    let c = catalog();
    let g = c.regions().get("liaodong-zone").unwrap().geometry.as_ref().unwrap();
    assert!(g.contains(&Point::new(125.36, 41.27)));
}

#[test]
fn every_region_lists_members_with_their_basis_and_its_area() {
    let doc = app().get_json("/collections/regions/items?limit=10");
    let features = doc["features"].as_array().unwrap();
    assert_eq!(features.len(), 4);
    for f in features {
        let p = &f["properties"];
        assert!(p["area_km2"].as_f64().unwrap() > 10_000.0, "{}", p["id"]);
        assert!(!p["positioning_zh"].as_str().unwrap().is_empty());
        for m in p["members"].as_array().unwrap() {
            match m["basis"].as_str().unwrap() {
                "stated" => assert!(m["source"].as_str().is_some_and(|s| !s.is_empty()), "{m}"),
                "inferred" | "inferred-weak" => {
                    assert!(m["section"].is_string() && m["reason"].is_string(), "{m}");
                    // Every inferred member quotes the plan's words, and they are in the plan.
                    let quote = m["quote"].as_str().unwrap_or_default();
                    let plan = plan_text();
                    for piece in quote.split(" … ") {
                        assert!(
                            !piece.is_empty() && plan.contains(piece),
                            "{}: quote not in the plan: {piece}",
                            m["name_zh"]
                        );
                    }
                }
                other => panic!("basis {other}"),
            }
        }
        assert!(matches!(f["geometry"]["type"].as_str(), Some("Polygon" | "MultiPolygon")));
    }
    let belt = features.iter().find(|f| f["id"] == "coastal-belt").unwrap();
    assert_eq!(belt["properties"]["membership_basis"], "stated");
    let liaoxi = features.iter().find(|f| f["id"] == "liaoxi-zone").unwrap();
    assert_eq!(liaoxi["properties"]["membership_basis"], "inferred");
    // Members part 六 does not name are marked weak, with why.
    let liaodong = features.iter().find(|f| f["id"] == "liaodong-zone").unwrap();
    let weak: Vec<&str> = liaodong["properties"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["basis"] == "inferred-weak")
        .map(|m| m["adcode"].as_str().unwrap())
        .collect();
    for code in ["210323", "210421", "210422", "210423"] {
        assert!(weak.contains(&code), "{code} is weak in Liaodong: {weak:?}");
    }
}

#[test]
fn overlapping_regions_share_cities_by_design() {
    let fuxin = app().get_json("/collections/cities/items/210900");
    assert_eq!(fuxin["properties"]["region_ids"], serde_json::json!(["shenyang-circle", "liaoxi-zone"]));
}

/// The plan's cleaned text, item by item, as `plan-items.json` holds it (the quotes are verbatim pieces of it).
fn plan_text() -> String {
    let raw =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/geodata/plan-items.json")).unwrap();
    let items: Vec<serde_json::Value> = serde_json::from_str(&raw).unwrap();
    items
        .iter()
        .flat_map(|i| [&i["title"], &i["text"], &i["body"]])
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `within=collection:featureId` selects by geometry: exactly the features whose geometry meets the area's, as
/// a brute-force test of every feature against it finds (`geo::Intersects`).
#[test]
fn within_a_feature_selects_what_meets_its_geometry() {
    use geo::Intersects;
    let catalog = catalog();
    for (collection, area_collection, area_id) in [
        ("cities", "regions", "shenyang-circle"),
        ("counties", "cities", "210100"),
        ("projects", "regions", "liaoxi-zone"),
    ] {
        let area =
            catalog.collection(area_collection).unwrap().get(area_id).unwrap().geometry.clone().unwrap();
        let mut expected: Vec<String> = catalog
            .collection(collection)
            .unwrap()
            .features()
            .iter()
            .filter(|f| f.geometry.as_ref().is_some_and(|g| g.intersects(&area)))
            .map(|f| f.id.clone())
            .collect();
        expected.sort();
        let doc = app().get_json(&format!(
            "/collections/{collection}/items?within={area_collection}:{area_id}&limit=1000"
        ));
        let mut got: Vec<String> = doc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert!(!got.is_empty(), "{collection} within {area_collection}:{area_id}");
        assert_eq!(got, expected, "{collection} within {area_collection}:{area_id}");
    }
}
