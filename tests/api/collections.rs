//! Collections, items, paging and filters over the real data.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{app, urlencode};

fn matched(collection: &str) -> u64 {
    app().get_json(&format!("/collections/{collection}/items?limit=1"))["numberMatched"].as_u64().unwrap()
}

#[test]
fn collections_list_regions_cities_and_counties_with_4_14_and_100_features() {
    let doc = app().get_json("/collections");
    let ids: Vec<&str> =
        doc["collections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    for id in ["regions", "cities", "counties"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    assert_eq!(matched("regions"), 4);
    assert_eq!(matched("cities"), 14);
    assert_eq!(matched("counties"), 100);
}

#[test]
fn a_collection_has_its_extent_in_crs84_and_links_to_its_items() {
    let doc = app().get_json("/collections/counties");
    let bbox = doc["extent"]["spatial"]["bbox"][0].as_array().unwrap();
    let b: Vec<f64> = bbox.iter().map(|v| v.as_f64().unwrap()).collect();
    // Liaoning spans roughly 118.8–125.8 E, 38.7–43.5 N.
    assert!(b[0] > 118.0 && b[0] < 119.5 && b[2] > 125.0 && b[2] < 126.0, "{b:?}");
    assert!(b[1] > 38.0 && b[1] < 39.5 && b[3] > 43.0 && b[3] < 44.0, "{b:?}");
    assert!(
        doc["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "items" && l["type"] == "application/geo+json")
    );
}

#[test]
fn walking_next_links_from_limit_7_visits_every_county_exactly_once() {
    let mut url = app().url("/collections/counties/items?limit=7");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let doc = app().get_json(&url);
        assert_eq!(doc["numberMatched"], 100);
        let features = doc["features"].as_array().unwrap();
        assert_eq!(doc["numberReturned"].as_u64().unwrap() as usize, features.len());
        assert!(doc["timeStamp"].is_string());
        seen.extend(features.iter().map(|f| f["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next") {
            Some(next) => url = next["href"].as_str().unwrap().to_owned(),
            None => break,
        }
        assert!(pages < 50, "next links loop");
    }
    assert_eq!(pages, 15);
    assert_eq!(seen.len(), 100);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 100, "no county twice");
}

#[test]
fn prev_links_walk_back_to_the_first_page() {
    let doc = app().get_json("/collections/counties/items?limit=7&offset=14");
    let prev = doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == "prev").unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(prev.contains("offset=7"), "{prev}");
    let first = app().get_json("/collections/counties/items?limit=7&offset=0");
    assert!(first["links"].as_array().unwrap().iter().all(|l| l["rel"] != "prev"));
}

#[test]
fn prev_from_past_the_end_leads_back_to_the_last_features() {
    let doc = app().get_json("/collections/counties/items?limit=7&offset=500");
    assert_eq!(doc["numberReturned"], 0);
    let prev = doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == "prev").unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let back = app().get_json(&prev);
    assert_eq!(back["numberReturned"], 7, "{prev}");
    assert!(back["links"].as_array().unwrap().iter().all(|l| l["rel"] != "next"), "{prev} is the last page");
}

#[test]
fn limit_above_the_maximum_is_clamped() {
    let doc = app().get_json("/collections/counties/items?limit=1000000");
    assert_eq!(doc["numberReturned"], 100);
    let mut s = planatlas::config::Settings::local();
    s.limits.max_limit = 5;
    let small = crate::helpers::spawn_with(s);
    let doc = small.get_json("/collections/counties/items?limit=50");
    assert_eq!(doc["numberReturned"], 5);
    assert!(
        doc["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "next" && l["href"].as_str().unwrap().contains("limit=5"))
    );
}

#[test]
fn equality_filter_on_parent_adcode_selects_benxis_counties() {
    let doc = app().get_json("/collections/counties/items?parent_adcode=210500&limit=100");
    let features = doc["features"].as_array().unwrap();
    assert_eq!(doc["numberMatched"].as_u64().unwrap() as usize, features.len());
    assert_eq!(features.len(), 6, "本溪 has 4 districts and 2 autonomous counties");
    assert!(features.iter().all(|f| f["properties"]["parent_adcode"] == "210500"));
    let names: Vec<&str> = features.iter().map(|f| f["properties"]["name_zh"].as_str().unwrap()).collect();
    assert!(names.contains(&"桓仁满族自治县"));
}

#[test]
fn equality_filter_on_an_array_property_matches_any_element() {
    let doc = app().get_json("/collections/cities/items?region_ids=liaoxi-zone&limit=100");
    let mut names: Vec<&str> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name_zh"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, vec!["朝阳市", "葫芦岛市", "锦州市", "阜新市"]);
}

#[test]
fn bbox_selects_features_intersecting_it() {
    // A small box in central Shenyang.
    let doc = app().get_json("/collections/counties/items?bbox=123.38,41.78,123.42,41.80&limit=100");
    let ids: Vec<&str> =
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"210102"), "和平区 in {ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("2101")), "{ids:?}");
    let none = app().get_json("/collections/counties/items?bbox=0,0,1,1");
    assert_eq!(none["numberMatched"], 0);
    assert_eq!(none["features"], Value::Array(vec![]));
}

/// Every id a query selects, following `next` links.
fn ids_of(path: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut url = app().url(path);
    loop {
        let doc: Value = app().client.get(&url).send().unwrap().json().unwrap();
        assert_eq!(doc["type"], "FeatureCollection", "{url}: {doc}");
        out.extend(doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()));
        match doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next") {
            Some(l) => l["href"].as_str().unwrap().clone_into(&mut url),
            None => return out,
        }
    }
}

#[test]
fn a_bbox_whose_west_edge_is_east_of_its_east_edge_crosses_the_antimeridian() {
    // West 124°E, east 121°E: everything east of 124°E and everything west of 121°E, between 38.5° and 41°N.
    let crossing = ids_of("/collections/projects/items?bbox=124,38.5,121,41&limit=100");
    let east = ids_of("/collections/projects/items?bbox=124,38.5,180,41&limit=100");
    let west = ids_of("/collections/projects/items?bbox=-180,38.5,121,41&limit=100");
    let union: BTreeSet<String> = east.union(&west).cloned().collect();
    assert!(!east.is_empty() && !west.is_empty(), "both halves hold projects");
    assert_eq!(crossing, union);
    // The same box in CQL2 (BBOX across the antimeridian) selects the same.
    let cql = ids_of(&format!(
        "/collections/projects/items?limit=100&filter={}",
        urlencode("S_INTERSECTS(geometry,BBOX(124,38.5,121,41))")
    ));
    assert_eq!(crossing, cql);
    // EPSG:4326 takes latitude first: the same box is 38.5,124,41,121 there, and crosses the same way.
    let lat_first = ids_of(
        "/collections/projects/items?bbox=38.5,124,41,121&limit=100\
         &bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326",
    );
    assert_eq!(crossing, lat_first);
    let doc = app().get_json("/collections/projects/items?bbox=124,38.5,121,41&limit=1");
    assert_eq!(doc["numberMatched"].as_u64(), Some(union.len() as u64));
}

#[test]
fn a_feature_is_served_by_id_with_its_links() {
    let f = app().get_json("/collections/counties/items/210522");
    assert_eq!(f["type"], "Feature");
    assert_eq!(f["id"], "210522");
    assert_eq!(f["properties"]["name_zh"], "桓仁满族自治县");
    assert_eq!(f["geometry"]["type"], "MultiPolygon");
    assert!(f["links"].as_array().unwrap().iter().any(|l| l["rel"] == "collection"));
}

/// A page writes the start of its features' links once and each feature's id after it: every feature of a
/// page, in the default CRS and another, with ids that need percent-encoding (the plan's sections) and without,
/// links to itself in that CRS, to its HTML page and to its collection, and each link leads there.
#[test]
fn every_feature_of_a_page_links_to_itself_its_html_page_and_its_collection() {
    let crs = "http://www.opengis.net/def/crs/EPSG/0/3857";
    let pages = [
        ("sections", "/collections/sections/items?limit=6&offset=3".to_string(), None),
        (
            "projects",
            format!("/collections/projects/nearest?lon=122.2&lat=41.1&k=5&crs={}", urlencode(crs)),
            Some(crs),
        ),
    ];
    for (collection, page, in_crs) in pages {
        let doc = app().get_json(&page);
        let features = doc["features"].as_array().unwrap();
        assert!(features.len() >= 5, "{page}");
        for f in features {
            let id = f["id"].as_str().unwrap();
            let link = |rel: &str| -> String {
                let found =
                    f["links"].as_array().unwrap().iter().filter(|l| l["rel"] == rel).collect::<Vec<_>>();
                assert_eq!(found.len(), 1, "{page}: {id}: one {rel} link in {}", f["links"]);
                found[0]["href"].as_str().unwrap().to_string()
            };
            let me = app().get_json(&link("self"));
            assert_eq!(me["id"], id, "{page}: self of {id}");
            assert_eq!(me["geometry"], f["geometry"], "{page}: self of {id} in the page's CRS");
            if let Some(crs) = in_crs {
                assert!(link("self").ends_with(&format!("?crs={}", urlencode(crs))), "{}", link("self"));
            }
            let html = app().get(&link("alternate"));
            assert_eq!(html.status(), 200, "{page}: alternate of {id}");
            assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
            assert_eq!(app().get_json(&link("collection"))["id"], collection, "{page}: collection of {id}");
        }
    }
}

#[test]
fn every_city_and_county_carries_its_regions() {
    let doc = app().get_json("/collections/counties/items?limit=100");
    for f in doc["features"].as_array().unwrap() {
        let regions = f["properties"]["regions"].as_array().unwrap();
        let ids = f["properties"]["region_ids"].as_array().unwrap();
        assert_eq!(regions.len(), ids.len());
        for r in regions {
            assert!(["stated", "inferred", "inferred-weak"].contains(&r["basis"].as_str().unwrap()), "{r}");
        }
    }
    let shenyang = app().get_json("/collections/cities/items/210100");
    assert_eq!(shenyang["properties"]["region_ids"], serde_json::json!(["shenyang-circle"]));
    let dandong = app().get_json("/collections/cities/items/210600");
    assert_eq!(dandong["properties"]["region_ids"], serde_json::json!(["coastal-belt", "liaodong-zone"]));
}

#[test]
fn queryables_list_filterable_properties_with_types() {
    let doc = app().get_json("/collections/counties/queryables");
    assert_eq!(doc["properties"]["parent_adcode"]["type"], "string");
    assert_eq!(doc["properties"]["area_km2"]["type"], "number");
    assert_eq!(doc["properties"]["region_ids"]["type"], "array");
}

/// Part 1's recommendation: the links of an items page and of a collection also as `Link` headers (RFC 8288),
/// where clients such as GDAL and `ogctests` look for paging and the queryables.
#[test]
fn items_and_collections_carry_their_links_as_link_headers() {
    let r = app().get("/collections/counties/items?limit=5&offset=5");
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    let body: serde_json::Value = r.json().unwrap();
    for rel in ["self", "next", "prev", "alternate", "http://www.opengis.net/def/rel/ogc/1.0/queryables"] {
        let in_body = body["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == rel)
            .unwrap_or_else(|| panic!("{rel}"));
        let href = in_body["href"].as_str().unwrap();
        assert!(link.contains(&format!("<{href}>; rel=\"{rel}\"")), "{rel} {href} in {link}");
    }
    let c = app().get("/collections/projects");
    let link = c.headers()["link"].to_str().unwrap();
    assert!(
        link.contains(
            "/collections/projects/queryables>; rel=\"http://www.opengis.net/def/rel/ogc/1.0/queryables\""
        ),
        "{link}"
    );
    // The page size bounds are in the API document, as served.
    let api = app().get_json("/api");
    let limit = api.pointer("/components/parameters/limit/schema").unwrap();
    assert_eq!(limit["maximum"], 1000, "{limit}");
    let icon = app().get("/favicon.ico");
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/x-icon");
    assert_eq!(&icon.bytes().unwrap()[..4], &[0, 0, 1, 0], "an ICO file");
}

/// Part 5: `/schema` says each collection's geometry type, so a client makes a layer of the right type.
#[test]
fn the_schema_gives_each_collection_its_geometry_type() {
    for (c, format) in [
        ("projects-points", "geometry-point"),
        ("projects-lines", "geometry-linestring"),
        ("projects", "geometry-any"),
        ("counties", "geometry-multipolygon"),
    ] {
        let r = app().get(&format!("/collections/{c}/schema"));
        assert_eq!(r.status(), 200, "{c}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/schema+json"));
        let s: Value = r.json().unwrap();
        assert_eq!(s["properties"]["geometry"]["format"], format, "{c}");
        assert_eq!(s["properties"]["geometry"]["x-ogc-role"], "primary-geometry");
        assert_eq!(s["properties"]["id"]["x-ogc-role"], "id");
    }
    let s = app().get_json("/collections/projects-lines/schema");
    assert_eq!(s["properties"]["category"]["type"], "string");
    assert!(app().get_json("/collections/targets/schema")["properties"].get("geometry").is_none());
    let c = app().get_json("/collections/projects");
    assert!(
        c["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/schema")
    );
}

/// Part 5: `/schema` holds every property the features carry, and each value has one of its types (null
/// included where some feature has none), so a client that makes its fields from the schema can read every
/// feature.
#[test]
fn every_property_of_every_feature_fits_the_schema() {
    let json_type = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    for c in ["projects", "counties", "targets", "progress", "sections"] {
        let schema = app().get_json(&format!("/collections/{c}/schema"));
        let items = app().get_json(&format!("/collections/{c}/items?limit=1000"));
        let features = items["features"].as_array().unwrap();
        assert!(!features.is_empty(), "{c}");
        for f in features {
            for (k, v) in f["properties"].as_object().unwrap() {
                let Some(s) = schema["properties"].get(k) else { panic!("{c}: '{k}' is not in the schema") };
                let allowed: Vec<&str> = match &s["type"] {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    other => panic!("{c}.{k}: no type in {other}"),
                };
                let integer = v.as_f64().is_some_and(|x| x.fract() == 0.0);
                let fits = allowed.contains(&json_type(v)) || (integer && allowed.contains(&"integer"));
                assert!(fits, "{c}.{k} = {v} is not {allowed:?}");
            }
        }
    }
}
