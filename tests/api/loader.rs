//! Bad data files stop start-up with a message naming the file, the feature and the reason.

use std::path::{Path, PathBuf};

use planatlas::store::{Catalog, DataSource};
use serde_json::Value;

use crate::helpers::run;

/// A copy of the shipped geodata in a fresh directory, with `projects.geojson` edited by `edit`.
fn data_with(name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
    let dir = std::env::temp_dir().join(format!("planatlas-bad-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in planatlas::store::source::DATA_FILES {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let path = dir.join("projects.geojson");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut doc);
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    dir
}

fn load_error(dir: &Path) -> String {
    match Catalog::load(DataSource::Dir(dir.to_owned())) {
        Ok(_) => panic!("bad data in {} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn feature_mut<'a>(doc: &'a mut Value, id: &str) -> &'a mut Value {
    doc["features"].as_array_mut().unwrap().iter_mut().find(|f| f["properties"]["id"] == id).unwrap()
}

#[test]
fn the_shipped_data_directory_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
    let c = Catalog::load(DataSource::Dir(dir)).unwrap();
    assert_eq!(c.counties().features().len(), 100);
}

#[test]
fn an_unknown_category_stops_loading_with_its_name() {
    let dir = data_with("category", |d| {
        feature_mut(d, "xudabao-nuclear-power-plant")["properties"]["category"] = "spaceport".into();
    });
    let e = load_error(&dir);
    assert!(
        e.contains("projects.geojson")
            && e.contains("xudabao-nuclear-power-plant")
            && e.contains("unknown category 'spaceport'"),
        "{e}"
    );
    // The real binary refuses to start on it, naming the same.
    let (ok, out) = run(
        env!("CARGO_BIN_EXE_planatlas"),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            dir.to_str().unwrap(),
            "--data-dir",
            &format!("{}/store", dir.display()),
        ],
    );
    assert!(!ok, "serve must not start: {out}");
    assert!(out.contains("xudabao-nuclear-power-plant") && out.contains("spaceport"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_point_outside_its_named_county_stops_loading() {
    // Move 徐大堡 (兴城, 211481) to central Shenyang while it still names 兴城.
    let dir = data_with("county", |d| {
        feature_mut(d, "xudabao-nuclear-power-plant")["geometry"]["coordinates"] =
            serde_json::json!([123.40, 41.79]);
    });
    let e = load_error(&dir);
    assert!(e.contains("xudabao-nuclear-power-plant") && e.contains("outside its named county"), "{e}");
    assert!(e.contains("和平区"), "says where it actually is: {e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_duplicate_id_stops_loading() {
    let dir = data_with("duplicate", |d| {
        let features = d["features"].as_array_mut().unwrap();
        let copy = features[0].clone();
        features.push(copy);
    });
    let e = load_error(&dir);
    assert!(e.contains("duplicate id"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_corridor_leaving_liaoning_must_say_so() {
    let dir = data_with("outside", |d| {
        feature_mut(d, "shenyang-baihe-hsr")["properties"]["outside_province"] = Value::Null;
    });
    let e = load_error(&dir);
    assert!(e.contains("shenyang-baihe-hsr") && e.contains("leaves Liaoning"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_broken_boundary_file_names_the_file() {
    let dir = data_with("syntax", |_| {});
    std::fs::write(
        dir.join("liaoning-counties.geojson"),
        "{\"type\": \"FeatureCollection\", \"features\": [",
    )
    .unwrap();
    let e = load_error(&dir);
    assert!(e.contains("liaoning-counties.geojson") && e.contains("not valid"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unclosed_county_ring_stops_loading_naming_file_and_county() {
    let dir = data_with("unclosed", |_| {});
    let path = dir.join("liaoning-counties.geojson");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let county =
        doc["features"].as_array_mut().unwrap().iter_mut().find(|f| f["properties"]["adcode"] == "210224");
    let g = &mut county.unwrap()["geometry"];
    let ring = if g["type"] == "Polygon" { &mut g["coordinates"][0] } else { &mut g["coordinates"][0][0] };
    ring.as_array_mut().unwrap().pop();
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let e = load_error(&dir);
    assert!(
        e.contains("liaoning-counties.geojson") && e.contains("210224") && e.contains("not closed"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_region_member_with_a_wrong_adcode_names_the_region() {
    let dir = data_with("region", |_| {});
    let toml = std::fs::read_to_string(dir.join("regions.toml")).unwrap().replacen(
        "adcode = \"210522\"",
        "adcode = \"219999\"",
        1,
    );
    let toml = if toml.contains("219999") {
        toml
    } else {
        toml.replacen("adcode = \"210421\"", "adcode = \"219999\"", 1)
    };
    std::fs::write(dir.join("regions.toml"), toml).unwrap();
    let e = load_error(&dir);
    assert!(e.contains("regions.toml") && e.contains("219999"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The first project at `precision` (a Point), from the shipped data.
fn first_at(doc: &Value, precision: &str) -> (String, Value) {
    let f = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["location_precision"] == precision && f["geometry"]["type"] == "Point")
        .unwrap_or_else(|| panic!("no {precision} point"));
    (f["properties"]["id"].as_str().unwrap().to_owned(), f.clone())
}

fn shipped_projects() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata/projects.geojson");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_site_position_without_a_cited_source_stops_loading() {
    let (id, _) = first_at(&shipped_projects(), "site");
    let dir = data_with("site-cite", |d| {
        feature_mut(d, &id)["properties"].as_object_mut().unwrap().remove("location_cite");
    });
    let e = load_error(&dir);
    assert!(e.contains("projects.geojson") && e.contains(&id) && e.contains("location_cite"), "{e}");
}

#[test]
fn a_city_wide_position_off_the_city_seat_and_a_point_shared_by_two_places_stop_loading() {
    let doc = shipped_projects();
    let (city_item, f) = first_at(&doc, "city");
    // Moved off the seat (a little, staying in its county): refused, naming the seat.
    let dir = data_with("off-seat", |d| {
        let g = &mut feature_mut(d, &city_item)["geometry"]["coordinates"];
        g[0] = serde_json::json!(g[0].as_f64().unwrap() + 0.001);
    });
    let e = load_error(&dir);
    assert!(e.contains(&city_item) && e.contains("city seat") && e.contains("seats.json"), "{e}");
    // A site item moved onto the city seat: two places on one point.
    let (site_item, _) = first_at(&doc, "site");
    let seat = f["geometry"].clone();
    let county = f["properties"]["county_adcode"].clone();
    let city = f["properties"]["city_adcode"].clone();
    let dir = data_with("shared", |d| {
        let s = feature_mut(d, &site_item);
        s["geometry"] = seat;
        s["properties"]["county_adcode"] = county;
        s["properties"]["city_adcode"] = city;
    });
    let e = load_error(&dir);
    assert!(e.contains("shares its point") && (e.contains(&site_item) || e.contains(&city_item)), "{e}");
}

/// An empty boundary stops loading, naming the file and the unit (a city with no polygon was served with an
/// area of 0); a project whose coordinate is not a number is named (the message said only what JSON expected),
/// and feature numbers count from 1 as `import` counts them; `check` refuses a store option it would not read.
#[test]
fn empty_boundaries_and_malformed_features_are_named() {
    for (file, adcode) in [("liaoning-cities.geojson", "210100"), ("liaoning-counties.geojson", "210224")] {
        let dir = data_with(&format!("empty-{adcode}"), |_| {});
        let path = dir.join(file);
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let unit =
            doc["features"].as_array_mut().unwrap().iter_mut().find(|f| f["properties"]["adcode"] == adcode);
        unit.unwrap()["geometry"] = serde_json::json!({"type": "MultiPolygon", "coordinates": []});
        std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
        let e = load_error(&dir);
        assert!(e.contains(file) && e.contains(adcode) && e.contains("empty"), "{e}");
        let (ok, out) = run(env!("CARGO_BIN_EXE_planatlas"), &["check", "--data", dir.to_str().unwrap()]);
        assert!(!ok && out.contains(adcode), "{out}");
        let _ = std::fs::remove_dir_all(dir);
    }
    let dir = data_with("nan-coordinate", |doc| {
        let f = doc["features"].as_array_mut().unwrap().iter_mut().find(|f| f["geometry"]["type"] == "Point");
        let f = f.unwrap();
        f["geometry"]["coordinates"][0] = serde_json::json!("x");
    });
    let e = load_error(&dir);
    assert!(e.contains("projects.geojson") && e.contains("feature"), "{e}");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("projects.geojson")).unwrap()).unwrap();
    let named = doc["features"].as_array().unwrap().iter().find(|f| f["geometry"]["coordinates"][0] == "x");
    let id = named.unwrap()["properties"]["id"].as_str().unwrap().to_owned();
    assert!(e.contains(&id), "{e} names {id}");
    let _ = std::fs::remove_dir_all(dir);
    let dir = data_with("empty-id", |doc| doc["features"][5]["properties"]["id"] = serde_json::json!(""));
    let e = load_error(&dir);
    assert!(e.contains("#6"), "the sixth feature is #6: {e}");
    let _ = std::fs::remove_dir_all(&dir);
    let (ok, out) = run(env!("CARGO_BIN_EXE_planatlas"), &["check", "--data-dir", dir.to_str().unwrap()]);
    assert!(!ok && out.contains("not a store"), "{out}");
}
