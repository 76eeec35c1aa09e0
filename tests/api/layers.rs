//! Planners' own layers (issue 20): files served with `--layer` as collections with the full interface, joined
//! to the plan's areas; the OGC CQL2 ATS on its own data; every format giving the same layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use geo::{Centroid, Geometry, Intersects};
use planatlas::config::Settings;
use planatlas::store::DataSource;
use planatlas::store::engine::Engine;
use planatlas::store::layers::LayerSpec;
use serde_json::{Value, json};

use crate::helpers::{TestApp, run, spawn_engine, tag, tile_of, urlencode};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A server over a new store with these layers.
fn serve(layers: &[&str]) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let specs: Vec<LayerSpec> = layers.iter().map(|l| l.parse().expect("layer spec")).collect();
    let engine = Engine::open_with_layers(DataSource::Embedded, dir.path(), &specs).expect("layers load");
    (spawn_engine(Settings::local(), Arc::new(engine)), dir)
}

fn number_matched(app: &TestApp, path: &str) -> Result<u64, String> {
    let r = app.get(path);
    let status = r.status().as_u16();
    let body: Value = r.json().map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {}", body["detail"]));
    }
    body["numberMatched"].as_u64().ok_or_else(|| "no numberMatched".into())
}

/// The ATS conformance class a dependency name in its tables stands for.
fn class_of(dependency: &str) -> String {
    match dependency {
        "Property-Property Comparisons" => "property-property".into(),
        other => other.to_ascii_lowercase().replace(' ', "-"),
    }
}

#[test]
fn the_cql2_ats_filters_select_what_the_ats_says_through_text_and_json() {
    let gpkg = fixture("cql2-ats/ne110m4cql2.gpkg");
    let (app, _dir) = serve(&[gpkg.to_str().expect("utf-8 path")]);
    let ats: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("cql2-ats/ats.json")).expect("fixture"))
            .expect("json");
    let conformance = app.get_json("/conformance");
    let declared: BTreeSet<String> = conformance["conformsTo"]
        .as_array()
        .expect("conformsTo")
        .iter()
        .filter_map(|c| {
            c.as_str()?.strip_prefix("http://www.opengis.net/spec/cql2/1.0/conf/").map(str::to_owned)
        })
        .collect();
    for layer in
        ["ne_110m_admin_0_countries", "ne_110m_populated_places_simple", "ne_110m_rivers_lake_centerlines"]
    {
        let c = app.get_json(&format!("/collections/{layer}"));
        assert_eq!(c["id"], layer);
    }
    // The places' DATETIME values are UTC, as a GeoPackage's are, written without their Z: served as RFC 3339
    // instants, which the schema's `date-time` says they are.
    let place = app.get_json("/collections/ne_110m_populated_places_simple/items?limit=1000");
    let starts: Vec<&str> = place["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["properties"]["start"].as_str())
        .collect();
    assert!(!starts.is_empty(), "the places have start instants");
    for t in &starts {
        assert!(
            chrono::DateTime::parse_from_rfc3339(t).is_ok_and(|t| t.offset().local_minus_utc() == 0),
            "{t}"
        );
    }
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for t in ats["tests"].as_array().expect("tests") {
        let class = t["class"].as_str().expect("class");
        let needs: Vec<String> = t["dependency"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(class_of)
            .collect();
        if !declared.contains(class) || needs.iter().any(|n| !declared.contains(n)) {
            continue;
        }
        let (layer, filter) =
            (t["collection"].as_str().expect("layer"), t["filter"].as_str().expect("filter"));
        let want = t["count"].as_u64().expect("count");
        let text =
            number_matched(&app, &format!("/collections/{layer}/items?limit=1&filter={}", urlencode(filter)));
        if text.as_ref() != Ok(&want) {
            failures.push(format!("{class} {layer}: {filter}: text gives {text:?}, the ATS {want}"));
        }
        let json =
            cql2::parse_text(filter).expect("the cql2 crate reads the ATS text").to_value().expect("as json");
        let r = app
            .client
            .post(app.url(&format!("/collections/{layer}/search")))
            .json(&json!({"filter": json, "limit": 1}))
            .send()
            .expect("search answers");
        let status = r.status().as_u16();
        let body: Value = r.json().expect("json");
        if status != 200 || body["numberMatched"].as_u64() != Some(want) {
            failures.push(format!(
                "{class} {layer}: {filter}: POST search gives {status} {} {}, the ATS {want}",
                body["numberMatched"], body["detail"]
            ));
        }
        *checked.entry(class.to_owned()).or_default() += 1;
    }
    eprintln!("ATS rows checked per class: {checked:?}");
    assert!(failures.is_empty(), "{} ATS rows fail:\n{}", failures.len(), failures.join("\n"));
    for class in ["basic-cql2", "advanced-comparison-operators", "temporal-functions", "spatial-functions"] {
        assert!(checked.get(class).copied().unwrap_or(0) > 5, "the {class} rows were checked: {checked:?}");
    }
}

/// Development zones made for the tests: boxes over Shenyang's centre, Dalian's centre and across the
/// Anshan/Liaoyang border, and one in Beijing (outside Liaoning).
fn zones_geojson() -> Value {
    let square = |x0: f64, y0: f64, x1: f64, y1: f64| json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]});
    // `reviewed`: instants written with different offsets, so their text order is not their time order.
    let reviewed = |code: &str| match code {
        "sy-centre" => json!("2024-01-01T10:00:00+08:00"),
        "dl-centre" => json!("2024-01-01T03:00:00Z"),
        "an-ly" => json!("2024-01-01T01:00:00Z"),
        _ => Value::Null,
    };
    let zone = |id: &str, name: &str, g: Value, area: f64, approved: &str, level: i64, active: bool| {
        json!({"type": "Feature", "geometry": g, "properties": {
            "code": id, "name": name, "area_km2": area, "approved": approved, "level": level, "active": active,
            "reviewed": reviewed(id),
        }})
    };
    json!({"type": "FeatureCollection", "features": [
        zone("sy-centre", "沈阳市中心开发区", square(123.38, 41.76, 123.50, 41.84), 66.5, "2019-05-01", 1, true),
        zone("dl-centre", "大连中山片区", square(121.60, 38.88, 121.70, 38.94), 58.25, "2021-10-12", 2, true),
        zone("an-ly", "鞍辽交界产业园", square(123.05, 41.08, 123.35, 41.24), 440.0, "2022-03-15", 2, false),
        zone("bj", "北京对口合作园", square(116.30, 39.85, 116.45, 39.95), 140.0, "2020-01-20", 3, true),
    ]})
}

struct Zones {
    dir: tempfile::TempDir,
}

impl Zones {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The zones written once as GeoJSON, and by GDAL as GeoPackage, FlatGeobuf and a zipped Shapefile (this one
/// in CGCS2000 3-degree Gauss-Kruger, EPSG:4550, so the CRS in its .prj is read and transformed).
fn zones() -> &'static Zones {
    static ZONES: OnceLock<Zones> = OnceLock::new();
    ZONES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let geojson = dir.path().join("zones.geojson");
        std::fs::write(&geojson, zones_geojson().to_string()).expect("write");
        let g = geojson.to_str().expect("utf-8");
        let out = |n: &str| dir.path().join(n).to_str().expect("utf-8").to_owned();
        for (file, args) in [
            ("zones.gpkg", vec!["-f", "GPKG", "-nln", "zones"]),
            ("zones.fgb", vec!["-f", "FlatGeobuf", "-nln", "zones"]),
        ] {
            let target = out(file);
            let mut all: Vec<&str> = args.clone();
            all.push(&target);
            all.push(g);
            let (ok, log) = run("ogr2ogr", &all);
            assert!(ok, "ogr2ogr {file}: {log}");
        }
        let shp_dir = dir.path().join("shp");
        std::fs::create_dir(&shp_dir).expect("dir");
        let shp = shp_dir.join("zones.shp");
        let (ok, log) = run(
            "ogr2ogr",
            &[
                "-f",
                "ESRI Shapefile",
                "-t_srs",
                "EPSG:4550",
                "-lco",
                "ENCODING=UTF-8",
                shp.to_str().expect("utf-8"),
                g,
            ],
        );
        assert!(ok, "ogr2ogr shp: {log}");
        let zip_path = dir.path().join("zones.shp.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("zip"));
        for entry in std::fs::read_dir(&shp_dir).expect("list") {
            let entry = entry.expect("entry");
            zip.start_file(entry.file_name().to_string_lossy(), zip::write::SimpleFileOptions::default())
                .expect("zip entry");
            std::io::copy(&mut std::fs::File::open(entry.path()).expect("open"), &mut zip).expect("copy");
        }
        zip.finish().expect("zip written");
        Zones { dir }
    })
}

fn features(app: &TestApp, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let doc = app.get_json(&format!("{path}{sep}limit=10000"));
    doc["features"].as_array().expect("features").clone()
}

fn geometry(f: &Value) -> Geometry<f64> {
    let g: geojson::Geometry = serde_json::from_value(f["geometry"].clone()).expect("geometry");
    Geometry::try_from(g).expect("a geo geometry")
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
}

#[test]
fn projects_within_a_zone_are_those_its_polygon_meets_and_zones_join_like_locate() {
    let z = zones();
    let (app, _dir) = serve(&[&format!("zones={}", z.path("zones.gpkg").display())]);
    let zones = features(&app, "/collections/zones/items");
    assert_eq!(zones.len(), 4);
    let projects = features(&app, "/collections/projects/items");
    assert!(projects.len() > 150);
    let mut nonempty = 0;
    for zone in &zones {
        let id = zone["id"].as_str().map_or_else(|| zone["id"].to_string(), str::to_owned);
        let area = geometry(zone);
        // Independently: every project whose geometry meets the zone's polygon.
        let expected: BTreeSet<String> = projects
            .iter()
            .filter(|p| !p["geometry"].is_null() && geometry(p).intersects(&area))
            .map(|p| p["id"].as_str().expect("id").to_owned())
            .collect();
        let got: BTreeSet<String> = features(&app, &format!("/collections/projects/items?within=zones:{id}"))
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(got, expected, "projects within zones:{id} ({})", zone["properties"]["name"]);
        nonempty += usize::from(!got.is_empty());
        // The join at the zone's centroid is where /locate puts that point.
        let c = area.centroid().expect("centroid");
        let p = &zone["properties"];
        let loc = app.get_json(&format!("/locate?lon={}&lat={}", c.x(), c.y()));
        if p["code"] == "bj" {
            assert_eq!(loc["inLiaoning"], false, "Beijing is outside Liaoning");
            assert!(p.get("county_adcodes").is_none(), "a zone outside Liaoning has no join: {p}");
            continue;
        }
        let county = loc["county"]["adcode"].as_str().expect("county");
        assert!(strings(&p["county_adcodes"]).contains(county), "{} joins {county}: {p}", p["code"]);
        let loc_regions: BTreeSet<String> = loc["regions"]
            .as_array()
            .expect("regions")
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect();
        assert!(loc_regions.is_subset(&strings(&p["region_ids"])), "{}: {loc_regions:?} in {p}", p["code"]);
        // The county parts add up to the zone's land: all of it inland, less where it reaches the sea.
        let shares: f64 = p["join"]["counties"]
            .as_array()
            .expect("county shares")
            .iter()
            .map(|c| c["area_km2"].as_f64().unwrap_or(0.0))
            .sum();
        // The file has its own `area_km2`, kept as written; the join's measure is `join_area_km2`.
        let total = p["join_area_km2"].as_f64().expect("the join's area");
        assert!(p["area_km2"].as_f64().is_some_and(|a| a != total), "the file's area_km2 is kept: {p}");
        assert!(shares <= total * 1.001, "{}: county areas {shares} within the zone's {total}", p["code"]);
        if p["code"] != "dl-centre" {
            assert!(
                (shares - total).abs() / total < 0.01,
                "{}: county areas {shares} sum to the zone's {total}",
                p["code"]
            );
        }
    }
    assert!(nonempty >= 2, "the zones hold projects");
    // The boundary zone crosses the Anshan/Liaoyang city border: two cities, shares summing to one.
    let cross = zones.iter().find(|z| z["properties"]["code"] == "an-ly").expect("an-ly");
    let cities = cross["properties"]["join"]["cities"].as_array().expect("cities");
    assert!(cities.len() >= 2, "{cities:?}");
    let sum: f64 = cities.iter().map(|c| c["share"].as_f64().expect("share")).sum();
    assert!((sum - 1.0).abs() < 0.01, "{sum}");
    // A layer's features confined to a city and a region, by the join.
    for (area, code) in [("210100", "sy-centre"), ("210200", "dl-centre")] {
        let ids: Vec<String> = features(&app, &format!("/collections/zones/items?within={area}"))
            .iter()
            .map(|f| f["properties"]["code"].as_str().expect("code").to_owned())
            .collect();
        assert_eq!(ids, [code], "zones within {area}");
    }
    let in_circle = features(&app, "/collections/zones/items?within=shenyang-circle");
    let codes: BTreeSet<&str> = in_circle.iter().filter_map(|f| f["properties"]["code"].as_str()).collect();
    assert!(codes.contains("sy-centre") && codes.contains("an-ly") && !codes.contains("bj"), "{codes:?}");
}

#[test]
fn a_layer_has_the_full_interface_queryables_cql2_tiles_proximity_exports() {
    let z = zones();
    let (app, _dir) = serve(&[
        &format!("zones={}", z.path("zones.gpkg").display()),
        &format!("zj={}", z.path("zones.geojson").display()),
    ]);
    // `datetime` selects on the layer's date field.
    assert_eq!(number_matched(&app, "/collections/zones/items?datetime=2021-01-01/.."), Ok(2));
    assert_eq!(number_matched(&app, "/collections/zones/items?datetime=2019-05-01"), Ok(1));
    // Timestamps sort by instant, not by their text; nulls last.
    let by_time = features(&app, "/collections/zj/items?sortby=reviewed");
    let order: Vec<&str> = by_time.iter().filter_map(|f| f["properties"]["code"].as_str()).collect();
    assert_eq!(order, ["an-ly", "sy-centre", "dl-centre", "bj"]);
    // The HTML list of a layer shows its own fields.
    let html = app.get("/collections/zj/items?f=html").text().expect("html");
    assert!(html.contains("沈阳市中心开发区") && html.contains("<th>code</th>"), "{html}");
    let q = app.get_json("/collections/zones/queryables");
    let props = &q["properties"];
    assert_eq!(props["name"]["type"], "string");
    assert_eq!(props["area_km2"]["type"], "number");
    assert_eq!(props["level"]["type"], "integer");
    assert_eq!(props["active"]["type"], "boolean");
    assert_eq!(props["approved"]["format"], "date", "{q}");
    let f = |filter: &str| {
        number_matched(&app, &format!("/collections/zones/items?filter={}", urlencode(filter)))
    };
    assert_eq!(f("approved > DATE('2020-06-01')"), Ok(2));
    assert_eq!(f("T_DURING(approved, INTERVAL('2019-01-01', '2021-12-31'))"), Ok(3));
    assert_eq!(f("T_AFTER(approved, INTERVAL('..', '2020-01-20'))"), Ok(2));
    assert_eq!(f("level = 2 AND active = true"), Ok(1));
    assert_eq!(f("name LIKE '%开发区'"), Ok(1));
    let bad = app.get_problem("/collections/zones/items?filter=approved%20%3E%205", 400);
    assert!(bad["detail"].as_str().unwrap_or_default().contains("wrong types"), "{bad}");
    let sorted = features(&app, "/collections/zones/items?sortby=-area_km2&properties=code");
    let codes: Vec<&str> = sorted.iter().filter_map(|f| f["properties"]["code"].as_str()).collect();
    assert_eq!(codes, ["an-ly", "bj", "sy-centre", "dl-centre"]);
    assert_eq!(sorted[0]["properties"].as_object().map(serde_json::Map::len), Some(1));
    // The OpenAPI document names the layer.
    let api = app.get_json("/api");
    assert!(
        api.pointer("/components/parameters/collectionId/schema/enum")
            .expect("enum")
            .as_array()
            .expect("array")
            .contains(&json!("zones"))
    );
    // Proximity: the zone holding the point first, at 0 m.
    let near = app.get_json("/collections/zones/nearest?lon=123.44&lat=41.80&k=2");
    let first = &near["features"][0];
    assert_eq!(first["properties"]["code"], "sy-centre", "{near}");
    // Tiles: its own tile set and the combined tiles carry the zone with its fields.
    let (x, y) = tile_of(123.44, 41.80, 10);
    for path in
        [format!("/collections/zones/tiles/WebMercatorQuad/10/{y}/{x}"), format!("/tiles/10/{x}/{y}.mvt")]
    {
        use geozero::mvt::Message;
        let r = app.get(&path);
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let tile = geozero::mvt::Tile::decode(r.bytes().expect("bytes").as_ref()).expect("mvt");
        let layer = tile.layers.iter().find(|l| l.name == "zones").expect("a zones layer");
        assert!(
            layer.features.iter().any(|f| tag(layer, f, "code").as_deref() == Some("sy-centre")),
            "{path}"
        );
    }
    let tj = app.get_json("/tiles.json");
    assert!(tj["vector_layers"].as_array().expect("layers").iter().any(|l| l["id"] == "zones"));
    // Exports: GDAL reads the layer back with its count.
    let dl = tempfile::tempdir().expect("dir");
    for ext in ["gpkg", "fgb", "geojson", "csv"] {
        let r = app.get(&format!("/exports/zones.{ext}"));
        assert_eq!(r.status().as_u16(), 200, "zones.{ext}");
        let file = dl.path().join(format!("zones.{ext}"));
        std::fs::write(&file, r.bytes().expect("bytes")).expect("write");
        let (ok, info) = run("ogrinfo", &["-ro", "-so", "-al", file.to_str().expect("utf-8")]);
        assert!(ok && info.contains("Feature Count: 4"), "zones.{ext}: {info}");
    }
}

/// A zone across a county border keeps only its join's numbers and makes the measured values (its area in
/// each county, the shares) when read: read whole, by id, with `properties=`, from nearest and from the CSV
/// export, they are the same values.
#[test]
fn join_values_made_when_read_are_the_same_however_they_are_read() {
    let z = zones();
    let (app, _dir) = serve(&[&format!("zj={}", z.path("zones.geojson").display())]);
    let filter = urlencode("code = 'an-ly'");
    let whole = features(&app, &format!("/collections/zj/items?filter={filter}"));
    assert_eq!(whole.len(), 1);
    let p = &whole[0]["properties"];
    let counties = p["join"]["counties"].as_array().expect("counties");
    assert!(counties.len() > 1, "the zone lies across a county border: {p}");
    let inside: f64 = counties.iter().map(|c| c["area_km2"].as_f64().expect("area in a county")).sum();
    // The file has its own area_km2, so the join's goes under join_area_km2.
    let area = p["join_area_km2"].as_f64().expect("the join's area");
    assert!((inside - area).abs() < 0.05 * counties.len() as f64, "{inside} in counties, {area} in all");
    assert_eq!(p["area_km2"], json!(440.0), "the file's own value is kept");
    let by_id =
        app.get_json(&format!("/collections/zj/items/{}", urlencode(whole[0]["id"].as_str().expect("id"))));
    assert_eq!(by_id["properties"], *p);
    let some =
        features(&app, &format!("/collections/zj/items?filter={filter}&properties=code,join_area_km2,join"));
    assert_eq!(
        some[0]["properties"],
        json!({"code": "an-ly", "join_area_km2": p["join_area_km2"], "join": p["join"]})
    );
    let names =
        features(&app, &format!("/collections/zj/items?filter={filter}&properties=code,county_adcodes"));
    assert_eq!(names[0]["properties"], json!({"code": "an-ly", "county_adcodes": p["county_adcodes"]}));
    let near =
        app.get_json("/collections/zj/nearest?lon=123.2&lat=41.16&k=1&properties=join_area_km2,region_ids");
    let np = &near["features"][0]["properties"];
    assert_eq!(np["join_area_km2"], p["join_area_km2"], "{near}");
    assert_eq!(np["region_ids"], p["region_ids"], "{near}");
    assert_eq!(np["distance_m"], json!(0.0), "{near}");
    // The CSV export writes the same area and the same join, as text.
    let csv = app.get("/exports/zj.csv").text().expect("csv");
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().expect("header").clone();
    let column =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name}: {header:?}"));
    let row =
        rows.records().map(|r| r.expect("row")).find(|r| &r[column("code")] == "an-ly").expect("the zone");
    assert_eq!(row[column("join_area_km2")].parse::<f64>().ok(), Some(area));
    let join: Value = serde_json::from_str(&row[column("join")]).expect("the join as JSON");
    assert_eq!(join, p["join"]);
}

/// A feature's file fields, with numbers as f64 so 58.25 from a Shapefile equals 58.25 from GeoJSON, and
/// booleans as 1 and 0: GDAL writes a boolean field into a Shapefile (dBase has no boolean it writes) as the
/// integers 1 and 0, as `ogrinfo` shows them back.
fn file_fields(f: &Value) -> BTreeMap<String, String> {
    ["code", "name", "area_km2", "approved", "level", "active"]
        .iter()
        .map(|k| {
            let v = &f["properties"][*k];
            let s = match v {
                Value::Bool(b) => u8::from(*b).to_string(),
                Value::Number(n) => format!("{}", n.as_f64().expect("number")),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            ((*k).to_owned(), s)
        })
        .collect()
}

/// What a format gave for one zone: its file fields, the counties it joins and its bounding box.
type Seen = (BTreeMap<String, String>, BTreeSet<String>, [f64; 4]);

#[test]
fn every_format_loads_the_same_layer_with_the_same_count_values_and_join() {
    let z = zones();
    let files = ["zones.geojson", "zones.gpkg", "zones.fgb", "zones.shp.zip"];
    let specs: Vec<String> =
        files.iter().map(|f| format!("{}={}", f.replace('.', "_"), z.path(f).display())).collect();
    let (app, _dir) = serve(&specs.iter().map(String::as_str).collect::<Vec<_>>());
    let mut reference: Option<BTreeMap<String, Seen>> = None;
    for file in files {
        let id = file.replace('.', "_");
        let fs = features(&app, &format!("/collections/{id}/items"));
        assert_eq!(fs.len(), 4, "{file}");
        let by_code: BTreeMap<String, Seen> = fs
            .iter()
            .map(|f| {
                use geo::BoundingRect;
                let b = geometry(f).bounding_rect().expect("bbox");
                let fields = file_fields(f);
                (
                    fields["code"].clone(),
                    (
                        fields,
                        strings(&f["properties"]["county_adcodes"]),
                        [b.min().x, b.min().y, b.max().x, b.max().y],
                    ),
                )
            })
            .collect();
        let q = app.get_json(&format!("/collections/{id}/queryables"));
        assert_eq!(q["properties"]["level"]["type"], "integer", "{file}: {q}");
        assert_eq!(q["properties"]["approved"]["format"], "date", "{file}");
        let boolean = if file.ends_with(".shp.zip") { "integer" } else { "boolean" };
        assert_eq!(q["properties"]["active"]["type"], boolean, "{file}");
        match &reference {
            None => reference = Some(by_code),
            Some(r) => {
                for (code, (fields, counties, bbox)) in r {
                    let (f2, c2, b2) = by_code.get(code).unwrap_or_else(|| panic!("{file} has {code}"));
                    assert_eq!(f2, fields, "{file}: {code}");
                    assert_eq!(c2, counties, "{file}: {code} joins the same counties");
                    for (a, b) in bbox.iter().zip(b2) {
                        assert!((a - b).abs() < 1e-6, "{file}: {code} bbox {bbox:?} vs {b2:?}");
                    }
                }
            }
        }
    }
}

/// `planatlas check --layer …` (the real command line): the error on stderr.
fn check_error(layer: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planatlas"))
        .args(["check", "--layer", layer])
        .output()
        .expect("planatlas runs");
    assert!(!out.status.success(), "{layer} loads, but should not");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn broken_layers_stop_loading_naming_the_file_layer_feature_and_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let write = |name: &str, doc: Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, doc.to_string()).expect("write");
        p.to_str().expect("utf-8").to_owned()
    };
    let point = |x: f64, y: f64| json!({"type": "Point", "coordinates": [x, y]});
    let fc = |features: Vec<Value>| json!({"type": "FeatureCollection", "features": features});
    let out_of_range = write(
        "far.geojson",
        fc(vec![
            json!({"type": "Feature", "id": "ok", "geometry": point(123.0, 41.0), "properties": {}}),
            json!({"type": "Feature", "id": "kfq-7", "geometry": point(523.0, 41.0), "properties": {}}),
        ]),
    );
    let e = check_error(&out_of_range);
    assert!(
        e.contains("far.geojson") && e.contains("layer far") && e.contains("kfq-7") && e.contains("523"),
        "{e}"
    );
    let collection = write(
        "gc.geojson",
        fc(vec![
            json!({"type": "Feature", "geometry": {"type": "GeometryCollection", "geometries": [point(123.0, 41.0)]}, "properties": {}}),
        ]),
    );
    let e = check_error(&collection);
    assert!(
        e.contains("gc.geojson") && e.contains("feature 1") && e.contains("unsupported geometry type"),
        "{e}"
    );
    let gpkg = zones().path("zones.gpkg");
    let e = check_error(&format!("{}:parks", gpkg.display()));
    assert!(e.contains("zones.gpkg") && e.contains("no feature table 'parks'") && e.contains("zones"), "{e}");
    let kml = dir.path().join("zones.kml");
    std::fs::write(&kml, "<kml/>").expect("write");
    let e = check_error(kml.to_str().expect("utf-8"));
    assert!(e.contains("zones.kml") && e.contains("unsupported layer format"), "{e}");
    let not_gpkg = dir.path().join("fake.gpkg");
    std::fs::write(&not_gpkg, "not a database").expect("write");
    let e = check_error(not_gpkg.to_str().expect("utf-8"));
    assert!(e.contains("fake.gpkg") && e.contains("not a readable GeoPackage"), "{e}");
    let e = check_error(&format!("projects={}", zones().path("zones.fgb").display()));
    assert!(e.contains("'projects' is a collection of the plan"), "{e}");
    // An unknown CRS in a Shapefile's .prj.
    let shp = dir.path().join("odd");
    std::fs::create_dir(&shp).expect("dir");
    for entry in std::fs::read_dir(zones().path("shp")).expect("list") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), shp.join(entry.file_name())).expect("copy");
    }
    std::fs::write(shp.join("zones.prj"), "PROJCS[\"nowhere\",GEOGCS[\"x\"],PROJECTION[\"Imaginary\"]]")
        .expect("prj");
    let e = check_error(shp.join("zones.shp").to_str().expect("utf-8"));
    assert!(e.contains("zones.shp") && e.contains("unsupported CRS"), "{e}");
}

#[test]
fn an_imported_layer_is_kept_in_the_store_and_uploading_needs_a_province_token() {
    let z = zones();
    let dir = tempfile::tempdir().expect("dir");
    let store = crate::helpers::new_store(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planatlas"))
        .args(["import", z.path("zones.fgb").to_str().expect("utf-8"), "--new-collection", "kfq"])
        .args(crate::helpers::store_args(&store))
        .output()
        .expect("planatlas import runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && log.contains("as collection 'kfq': 4 features"), "{log}");
    let province = crate::helpers::add_token(&store, "省发展改革委", "province");
    let city = crate::helpers::add_token(&store, "沈阳市发展改革委", "city:210100");
    let open = || Arc::new(crate::helpers::open_store(&store, &[]));
    let app = spawn_engine(Settings::local(), open());
    let kfq = features(&app, "/collections/kfq/items");
    assert_eq!(kfq.len(), 4);
    let sy = kfq.iter().find(|f| f["properties"]["code"] == "sy-centre").expect("sy-centre");
    let in_zone =
        features(&app, &format!("/collections/projects/items?within=kfq:{}", sy["id"].as_str().expect("id")));
    assert!(!in_zone.is_empty(), "projects in the imported zone");
    // As they stood on a day: the stored layer is there too (it was a 400, "not collection:featureId").
    let then = features(
        &app,
        &format!(
            "/collections/projects/items?within=kfq:{}&datetime=2030-06-30",
            sy["id"].as_str().expect("id")
        ),
    );
    assert_eq!(then.len(), in_zone.len());
    // Uploading through the API.
    let body = std::fs::read(z.path("zones.geojson")).expect("read");
    let put = |id: &str, token: Option<&str>| {
        let mut r = app
            .client
            .put(app.url(&format!("/collections/{id}")))
            .header("Content-Type", "application/geo+json");
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.body(body.clone()).send().expect("answers")
    };
    assert_eq!(put("parks", None).status().as_u16(), 401);
    assert_eq!(put("parks", Some(&city)).status().as_u16(), 403);
    assert_eq!(put("projects", Some(&province)).status().as_u16(), 409, "the plan's collections stay");
    assert_eq!(put("layers", Some(&province)).status().as_u16(), 400, "the store's name for layers");
    let r = put("parks", Some(&province));
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(features(&app, "/collections/parks/items").len(), 4);
    // Titled by its id, not by the temporary file's name ("upload").
    assert_ne!(app.get_json("/collections/parks")["title"], "upload");
    // Preconditions: the layer's ETag names its version; a replace or removal naming another is a 412, so two
    // planners replacing one layer cannot both win (they were ignored).
    let etag = |app: &TestApp| {
        let r = app.get("/collections/parks");
        r.headers()["etag"].to_str().expect("etag").to_owned()
    };
    let seen = etag(&app);
    assert!(seen.trim_start_matches("W/").starts_with("\"v"), "{seen}");
    let conditional = |header: &str, value: &str| {
        app.client
            .put(app.url("/collections/parks"))
            .header("Content-Type", "application/geo+json")
            .header(header, value)
            .bearer_auth(&province)
            .body(body.clone())
            .send()
            .expect("answers")
            .status()
            .as_u16()
    };
    assert_eq!(conditional("If-None-Match", "*"), 412, "it exists");
    assert_eq!(conditional("If-Match", "\"v999-0\""), 412);
    assert_eq!(conditional("If-Match", &seen), 200);
    assert_eq!(conditional("If-Match", &seen), 412, "the version it named is gone");
    assert_eq!(conditional("If-Match", "*"), 200, "any version of one that exists");
    let stale = app
        .client
        .delete(app.url("/collections/parks"))
        .header("If-Match", &seen)
        .bearer_auth(&province)
        .send()
        .expect("answers");
    assert_eq!(stale.status().as_u16(), 412);
    assert_ne!(etag(&app), seen);
    let broken = app
        .client
        .put(app.url("/collections/broken"))
        .header("Content-Type", "application/geo+json")
        .bearer_auth(&province)
        .body(r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[400,1]},"properties":{}}]}"#)
        .send()
        .expect("answers");
    assert_eq!(broken.status().as_u16(), 422);
    let problem: Value = broken.json().expect("problem");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("feature 1"), "{problem}");
    // Kept across a restart of the store.
    drop(app);
    let again = spawn_engine(Settings::local(), open());
    assert_eq!(features(&again, "/collections/parks/items").len(), 4);
    assert_eq!(features(&again, "/collections/kfq/items").len(), 4);
    // A layer's store key is not a project id: a city token cannot reach the layer as project `layers/parks`
    // (it deleted it), and no layer may be called `layers`.
    for method in [reqwest::Method::DELETE, reqwest::Method::PATCH] {
        let r = again
            .client
            .request(method.clone(), again.url("/collections/projects/items/layers%2Fparks"))
            .header("Content-Type", "application/merge-patch+json")
            .bearer_auth(&city)
            .body("{}")
            .send()
            .expect("answers");
        assert_eq!(r.status().as_u16(), 404, "{method}");
    }
    assert_eq!(again.get("/collections/projects/items/layers%2Fparks/versions").status().as_u16(), 404);
    for path in ["layers%2Fparks", "layers%2Fparks?datetime=2030-01-01T00:00:00Z"] {
        let r = again.get(&format!("/collections/projects/items/{path}"));
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    assert_eq!(features(&again, "/collections/parks/items").len(), 4, "the layer is still there");
    let del =
        again.client.delete(again.url("/collections/parks")).bearer_auth(&province).send().expect("answers");
    assert_eq!(del.status().as_u16(), 204);
    assert_eq!(again.get("/collections/parks").status().as_u16(), 404);
    // The service's own collections cannot go: a conflict, as PUT over them is (it was a 404, "no layer").
    let del = again
        .client
        .delete(again.url("/collections/projects"))
        .bearer_auth(&province)
        .send()
        .expect("answers");
    assert_eq!(del.status().as_u16(), 409);
    let problem: Value = del.json().expect("problem");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("cannot be deleted"), "{problem}");
    assert_eq!(again.get("/collections/projects").status().as_u16(), 200);
    // A stored layer shadowed by a --layer file of its id: writes to it are a 409 (they answered 2xx and
    // changed nothing that is served).
    drop(again);
    let stored = spawn_engine(Settings::local(), open());
    assert_eq!(put_to(&stored, "parks", &province, &body), 200);
    drop(stored);
    let spec: LayerSpec = format!("parks={}", z.path("zones.fgb").display()).parse().expect("spec");
    let shadowed = spawn_engine(Settings::local(), Arc::new(crate::helpers::open_store(&store, &[spec])));
    assert_eq!(put_to(&shadowed, "parks", &province, &body), 409);
    let del = shadowed
        .client
        .delete(shadowed.url("/collections/parks"))
        .bearer_auth(&province)
        .send()
        .expect("answers");
    assert_eq!(del.status().as_u16(), 409);
    let problem: Value = del.json().expect("problem");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("--layer"), "{problem}");
}

fn put_to(app: &TestApp, id: &str, token: &str, body: &[u8]) -> u16 {
    app.client
        .put(app.url(&format!("/collections/{id}")))
        .header("Content-Type", "application/geo+json")
        .bearer_auth(token)
        .body(body.to_vec())
        .send()
        .expect("answers")
        .status()
        .as_u16()
}

/// What a review found, each now refused with a message or read right.
#[test]
fn hostile_and_odd_layer_files_are_refused_or_read_right() {
    let dir = tempfile::tempdir().expect("dir");
    let p = |n: &str| dir.path().join(n);
    let s = |path: &Path| path.to_str().expect("utf-8").to_owned();
    // A GeoPackage line claiming four billion points in a few bytes: refused before anything is allocated.
    let line = p("line.geojson");
    std::fs::write(&line, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":1},"geometry":{"type":"LineString","coordinates":[[123,41],[123.1,41.1]]}}]}"#).expect("write");
    let bomb = p("bomb.gpkg");
    // No R-tree: its triggers call SpatiaLite functions this SQLite lacks.
    let (ok, log) =
        run("ogr2ogr", &["-f", "GPKG", "-nln", "l", "-lco", "SPATIAL_INDEX=NO", &s(&bomb), &s(&line)]);
    assert!(ok, "{log}");
    {
        let c = rusqlite::Connection::open(&bomb).expect("open");
        let mut blob: Vec<u8> = c.query_row("SELECT geom FROM l", [], |r| r.get(0)).expect("blob");
        let envelope = match (blob[3] >> 1) & 7 {
            0 => 0,
            1 => 32,
            4 => 64,
            _ => 48,
        };
        let count = 8 + envelope + 5;
        blob[count..count + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        c.execute("UPDATE l SET geom = ?1", [blob]).expect("update");
    }
    let e = check_error(&s(&bomb));
    assert!(e.contains("bomb.gpkg (layer l): feature 1") && e.contains("more than its bytes hold"), "{e}");
    // A zipped Shapefile whose .shp unpacks to over the 512 MiB its parts may hold together; one whose .shp
    // is zeros (no Shapefile's file code) is refused before it is unpacked.
    let zipped = |name: &str, mib: usize| {
        use std::io::Write;
        let path = p(name);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("zip"));
        let o = zip::write::SimpleFileOptions::default().large_file(true);
        zip.start_file("big.shp", o).expect("entry");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..mib {
            zip.write_all(&zeros).expect("write");
        }
        zip.start_file("big.dbf", o).expect("entry");
        zip.finish().expect("zip");
        path
    };
    let e = check_error(&s(&zipped("big.zip", 513)));
    assert!(e.contains("big.shp unpacks to more than"), "{e}");
    let e = check_error(&s(&zipped("zeros.zip", 8)));
    assert!(e.contains("big.shp is not a Shapefile"), "{e}");
    // Empty geometries (as GDAL writes them) are null; a one-position line is refused like in GeoJSON.
    let odd = p("odd.gpkg");
    let csv = p("odd.csv");
    std::fs::write(&csv, "id,WKT\n1,LINESTRING EMPTY\n2,POINT (123 41)\n").expect("csv");
    let (ok, log) = run("ogr2ogr", &["-f", "GPKG", "-nln", "odd", "-a_srs", "EPSG:4326", &s(&odd), &s(&csv)]);
    assert!(ok, "{log}");
    let one = p("one.csv");
    std::fs::write(&one, "id,WKT\n1,\"LINESTRING (123 41)\"\n").expect("csv");
    let one_gpkg = p("one.gpkg");
    let (ok, log) =
        run("ogr2ogr", &["-f", "GPKG", "-nln", "one", "-a_srs", "EPSG:4326", &s(&one_gpkg), &s(&one)]);
    assert!(ok, "{log}");
    let e = check_error(&s(&one_gpkg));
    assert!(e.contains("one.gpkg (layer one): feature 1") && e.contains("at least two positions"), "{e}");
    // GBK text in a Shapefile (.cpg says GBK), field names included; a MultiPoint across two counties; file
    // fields named like the join's.
    let cn = p("cn.geojson");
    std::fs::write(&cn, r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"名称":"大连港区"},"geometry":{"type":"Point","coordinates":[121.61,38.91]}}]}"#).expect("write");
    let shp_dir = p("gbk");
    std::fs::create_dir(&shp_dir).expect("dir");
    let (ok, log) = run(
        "ogr2ogr",
        &["-f", "ESRI Shapefile", "-lco", "ENCODING=GBK", &s(&shp_dir.join("gbk.shp")), &s(&cn)],
    );
    assert!(ok, "{log}");
    let multi = p("multi.geojson");
    std::fs::write(&multi, r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"county_adcodes":"mine","n":1,"开发区规划面积公顷":1.5},"geometry":{"type":"MultiPoint","coordinates":[[123.44,41.80],[121.61,38.91]]}}]}"#).expect("write");
    let (app, _store) = serve(&[&s(&odd), &format!("gbk={}", s(&shp_dir.join("gbk.shp"))), &s(&multi)]);
    let odd_features = features(&app, "/collections/odd/items");
    assert_eq!(odd_features.len(), 2);
    assert!(odd_features.iter().any(|f| f["geometry"].is_null()), "the empty line is a null geometry");
    let gbk = &features(&app, "/collections/gbk/items")[0]["properties"];
    assert_eq!(gbk["名称"], "大连港区", "{gbk}");
    let m = &features(&app, "/collections/multi/items")[0]["properties"];
    assert_eq!(m["county_adcodes"], "mine", "the file's own value is kept: {m}");
    assert_eq!(
        strings(&m["join_county_adcodes"]),
        BTreeSet::from(["210103".to_owned(), "210203".to_owned()]),
        "{m}"
    );
    assert_eq!(m["point_count"], 2.0);
    let q = app.get_json("/collections/multi/queryables");
    assert_eq!(q["properties"]["county_adcodes"]["type"], "string", "{q}");
    assert_eq!(q["properties"]["join_county_adcodes"]["type"], "array", "{q}");
    let f = |filter: &str| {
        number_matched(&app, &format!("/collections/multi/items?filter={}", urlencode(filter)))
    };
    assert_eq!(f("A_CONTAINS(join_county_adcodes, ('210203'))"), Ok(1));
    assert_eq!(f("join_county_adcodes IS NULL"), Ok(0), "an array is not NULL");
    assert_eq!(f("region_ids IS NOT NULL"), Ok(1), "region_ids keeps its name: the file has none");
    // A Chinese field name longer than dBase's 10 bytes is shortened in the Shapefile export.
    let url = app.url("/exports/multi.shp.zip");
    let (ok, info) = run("ogrinfo", &["-ro", "-al", &format!("/vsizip//vsicurl/{url}")]);
    assert!(ok && info.contains("Feature Count: 1") && info.contains("开发区 (Real)"), "{info}");
}

/// Writes a one-record polygon Shapefile (`.shp`, `.shx`, and a `.dbf` with one text field `name`) whose parts
/// are `rings` exactly as given, winding and order included, as other tools may write them.
fn polygon_shapefile(path: &Path, rings: &[Vec<(f64, f64)>], name: &str) {
    let points: Vec<(f64, f64)> = rings.iter().flatten().copied().collect();
    let (xs, ys): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
    let bbox = [
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        ys.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    ];
    let mut content = Vec::new();
    content.extend(5i32.to_le_bytes());
    for v in bbox {
        content.extend(v.to_le_bytes());
    }
    content.extend(i32::try_from(rings.len()).expect("parts").to_le_bytes());
    content.extend(i32::try_from(points.len()).expect("points").to_le_bytes());
    let mut start = 0i32;
    for r in rings {
        content.extend(start.to_le_bytes());
        start += i32::try_from(r.len()).expect("points");
    }
    for (x, y) in &points {
        content.extend(x.to_le_bytes());
        content.extend(y.to_le_bytes());
    }
    let header = |file_len: usize| {
        let mut h = Vec::new();
        h.extend(9994i32.to_be_bytes());
        h.extend([0u8; 20]);
        h.extend(i32::try_from(file_len / 2).expect("length").to_be_bytes());
        h.extend(1000i32.to_le_bytes());
        h.extend(5i32.to_le_bytes());
        for v in bbox {
            h.extend(v.to_le_bytes());
        }
        h.extend([0u8; 32]);
        h
    };
    let mut shp = header(100 + 8 + content.len());
    shp.extend(1i32.to_be_bytes());
    shp.extend(i32::try_from(content.len() / 2).expect("length").to_be_bytes());
    shp.extend(&content);
    std::fs::write(path, shp).expect("write .shp");
    let mut shx = header(100 + 8);
    shx.extend(50i32.to_be_bytes());
    shx.extend(i32::try_from(content.len() / 2).expect("length").to_be_bytes());
    std::fs::write(path.with_extension("shx"), shx).expect("write .shx");
    let mut dbf = vec![0x03, 126, 1, 1];
    dbf.extend(1u32.to_le_bytes());
    dbf.extend(65u16.to_le_bytes());
    dbf.extend(21u16.to_le_bytes());
    dbf.extend([0u8; 20]);
    let mut field = *b"name\0\0\0\0\0\0\0C\0\0\0\0\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    field[16] = 20;
    dbf.extend(field);
    dbf.push(0x0D);
    dbf.push(b' ');
    dbf.extend(format!("{name:<20}").as_bytes());
    dbf.push(0x1A);
    std::fs::write(path.with_extension("dbf"), dbf).expect("write .dbf");
}

/// Broken or mis-encoded files a review found read wrongly or crashing the reader: each stops loading naming
/// the file, the feature and the reason. An uploaded layer is stored with every digit, as its file is served.
#[test]
fn corrupt_and_mis_encoded_layer_files_stop_loading_by_name_and_uploads_keep_every_digit() {
    let dir = tempfile::tempdir().expect("dir");
    let p = |n: &str| dir.path().join(n);
    let s = |path: &Path| path.to_str().expect("utf-8").to_owned();
    let holed = p("holed.geojson");
    std::fs::write(&holed, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"名称":"沈阳"},"geometry":{"type":"Polygon","coordinates":[[[123.3,41.7],[123.6,41.7],[123.6,41.9],[123.3,41.9],[123.3,41.7]],[[123.4,41.75],[123.4,41.85],[123.5,41.85],[123.5,41.75],[123.4,41.75]]]}}]}"#).expect("write");
    // A Shapefile polygon whose parts' first points are swapped (the decoder panicked on it).
    let (ok, log) = run("ogr2ogr", &[&s(&p("parts.shp")), &s(&holed)]);
    assert!(ok, "{log}");
    let mut shp = std::fs::read(p("parts.shp")).expect("read");
    // The first record: header 100, record header 8, type 4, box 32, counts 8, then the part starts.
    let starts = 100 + 8 + 44;
    shp[starts..starts + 8].copy_from_slice(&[6, 0, 0, 0, 5, 0, 0, 0]);
    std::fs::write(p("parts.shp"), shp).expect("write");
    let e = check_error(&s(&p("parts.shp")));
    assert!(e.contains("parts.shp") && e.contains("shape 1") && e.contains("out of order"), "{e}");
    // A MultiPatch claiming four billion parts.
    let (ok, log) = run("ogr2ogr", &["-lco", "SHPT=MULTIPATCH", &s(&p("patch.shp")), &s(&holed)]);
    assert!(ok, "{log}");
    let mut shp = std::fs::read(p("patch.shp")).expect("read");
    assert_eq!(shp[108], 31, "a MultiPatch record");
    shp[144..148].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(p("patch.shp"), shp).expect("write");
    let e = check_error(&s(&p("patch.shp")));
    assert!(e.contains("patch.shp") && e.contains("more parts or points than it holds"), "{e}");
    // GBK text with its .cpg lost and no language driver in the header: refused, not read as '����'.
    let (ok, log) = run("ogr2ogr", &["-lco", "ENCODING=GBK", &s(&p("gbk.shp")), &s(&holed)]);
    assert!(ok, "{log}");
    std::fs::remove_file(p("gbk.cpg")).expect("no .cpg");
    let mut dbf = std::fs::read(p("gbk.dbf")).expect("read");
    dbf[29] = 0;
    std::fs::write(p("gbk.dbf"), dbf).expect("write");
    let e = check_error(&s(&p("gbk.shp")));
    assert!(e.contains("gbk.shp") && e.contains("not UTF-8") && e.contains(".cpg"), "{e}");
    // Nor with a .cpg that says UTF-8.
    std::fs::write(p("gbk.cpg"), "UTF-8").expect("write");
    let e = check_error(&s(&p("gbk.shp")));
    assert!(e.contains("field 1") && e.contains("not UTF-8") && e.contains("the .cpg says UTF-8"), "{e}");
    // A DOS code page (437) there is no decoder for, named by the .cpg or by the header: write it as UTF-8.
    std::fs::write(p("gbk.cpg"), "437").expect("write");
    let e = check_error(&s(&p("gbk.shp")));
    assert!(e.contains("'cp437'") && e.contains("ENCODING=UTF-8"), "{e}");
    std::fs::remove_file(p("gbk.cpg")).expect("no .cpg");
    let mut dbf = std::fs::read(p("gbk.dbf")).expect("read");
    dbf[29] = 0x01;
    std::fs::write(p("gbk.dbf"), dbf).expect("write");
    let e = check_error(&s(&p("gbk.shp")));
    assert!(e.contains("0x01") && e.contains("ENCODING=UTF-8"), "{e}");
    // GDAL's own default (ISO-8859-1, language driver 0x57, no .cpg) is read in that encoding; a whole number
    // past 2^53 in an N field keeps its digits; a lone ring wound anticlockwise is still the polygon (the
    // decoder took it for a hole and the feature lost its geometry).
    let latin = p("latin.geojson");
    std::fs::write(&latin, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"Café Müller","big":9007199254740993},"geometry":{"type":"Polygon","coordinates":[[[123.4,41.8],[123.5,41.8],[123.5,41.9],[123.4,41.9],[123.4,41.8]]]}}]}"#).expect("write");
    let (ok, log) = run("ogr2ogr", &[&s(&p("latin.shp")), &s(&latin)]);
    assert!(ok, "{log}");
    assert!(
        !p("latin.cpg").exists()
            || std::fs::read_to_string(p("latin.cpg")).unwrap_or_default().contains("8859")
    );
    let mut shp = std::fs::read(p("latin.shp")).expect("read");
    // One ring of five points after the record's header, box, counts and one part start.
    let points = 100 + 8 + 44 + 4;
    let mut ring: Vec<[u8; 16]> =
        shp[points..points + 80].chunks(16).map(|c| c.try_into().expect("16 bytes")).collect();
    ring.reverse();
    shp[points..points + 80].copy_from_slice(&ring.concat());
    std::fs::write(p("latin.shp"), shp).expect("write");
    let (latin_app, _latin_store) = serve(&[&format!("latin={}", s(&p("latin.shp")))]);
    let f = &features(&latin_app, "/collections/latin/items")[0];
    assert_eq!(f["properties"]["name"], "Café Müller", "{f}");
    assert_eq!(f["properties"]["big"].to_string(), "9007199254740993", "{f}");
    assert!(f["geometry"]["type"].as_str().is_some_and(|t| t.ends_with("Polygon")), "{f}");
    // Rings by containment, as GDAL reads them: a clockwise A, then an anticlockwise hole inside C, then a
    // clockwise C (the hole went to A); and an anticlockwise ring inside another with no clockwise one (two
    // polygons, not one with a hole).
    let square = |x: f64, y: f64, w: f64, clockwise: bool| {
        let mut r = vec![(x, y), (x + w, y), (x + w, y + w), (x, y + w), (x, y)];
        if clockwise {
            r.reverse();
        }
        r
    };
    polygon_shapefile(
        &p("order.shp"),
        &[square(121.0, 40.0, 1.0, true), square(123.2, 40.2, 0.2, false), square(123.0, 40.0, 1.0, true)],
        "order",
    );
    polygon_shapefile(
        &p("nested.shp"),
        &[square(121.0, 40.0, 1.0, false), square(121.2, 40.2, 0.2, false)],
        "nested",
    );
    let (rings_app, _rings_store) =
        serve(&[&format!("order={}", s(&p("order.shp"))), &format!("nested={}", s(&p("nested.shp")))]);
    let hits = |id: &str, x: f64, y: f64| {
        number_matched(
            &rings_app,
            &format!(
                "/collections/{id}/items?filter={}",
                urlencode(&format!("S_INTERSECTS(geometry,POINT({x} {y}))"))
            ),
        )
    };
    assert_eq!(hits("order", 123.3, 40.3), Ok(0), "inside the hole of C");
    assert_eq!(hits("order", 123.8, 40.8), Ok(1), "inside C");
    assert_eq!(hits("order", 121.5, 40.5), Ok(1), "inside A");
    assert_eq!(hits("nested", 121.3, 40.3), Ok(1), "the inner anticlockwise ring is a polygon, not a hole");
    // A deleted record's shape is skipped with it: the records after it keep their own shapes.
    let three = p("three.geojson");
    std::fs::write(
        &three,
        r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Point","coordinates":[121,41]}},
        {"type":"Feature","properties":{"name":"b"},"geometry":{"type":"Point","coordinates":[122,41]}},
        {"type":"Feature","properties":{"name":"c"},"geometry":{"type":"Point","coordinates":[123,41]}}]}"#,
    )
    .expect("write");
    let (ok, log) = run("ogr2ogr", &[&s(&p("three.shp")), &s(&three)]);
    assert!(ok, "{log}");
    let mut dbf = std::fs::read(p("three.dbf")).expect("read");
    let (header_len, record_len) = (
        usize::from(u16::from_le_bytes([dbf[8], dbf[9]])),
        usize::from(u16::from_le_bytes([dbf[10], dbf[11]])),
    );
    dbf[header_len + record_len] = b'*';
    std::fs::write(p("three.dbf"), dbf).expect("write");
    let (three_app, _three_store) = serve(&[&format!("three={}", s(&p("three.shp")))]);
    let placed: Vec<(String, Value)> = features(&three_app, "/collections/three/items")
        .iter()
        .map(|f| {
            (
                f["properties"]["name"].as_str().unwrap_or_default().to_owned(),
                f["geometry"]["coordinates"].clone(),
            )
        })
        .collect();
    assert_eq!(placed, [("a".to_owned(), json!([121.0, 41.0])), ("c".to_owned(), json!([123.0, 41.0]))]);
    // GeoPackage: a geometry cell holding text, a text value that is not UTF-8, and an EWKB-flagged type.
    for (name, update, reason) in [
        ("text-geom", "UPDATE l SET geom = 'hello'", "holds text, not a GeoPackage geometry blob"),
        ("gbk-text", "UPDATE l SET \"名称\" = CAST(X'C9F2D1F4' AS TEXT)", "not UTF-8"),
        ("ewkb", "", "EWKB"),
    ] {
        let gpkg = p(&format!("{name}.gpkg"));
        let (ok, log) =
            run("ogr2ogr", &["-f", "GPKG", "-nln", "l", "-lco", "SPATIAL_INDEX=NO", &s(&gpkg), &s(&holed)]);
        assert!(ok, "{log}");
        let c = rusqlite::Connection::open(&gpkg).expect("open");
        let envelope: u8 = c
            .query_row("SELECT substr(geom, 4, 1) FROM l", [], |r| r.get::<_, Vec<u8>>(0))
            .map(|b| (b[0] >> 1) & 7)
            .expect("flags");
        assert_eq!(envelope, 1, "GDAL writes an XY envelope (32 bytes)");
        if update.is_empty() {
            // The polygon's type (after the 8-byte header, the envelope and the byte order) with PostGIS's
            // EWKB Z flag.
            let mut blob: Vec<u8> = c.query_row("SELECT geom FROM l", [], |r| r.get(0)).expect("blob");
            blob[8 + 32 + 1..8 + 32 + 5].copy_from_slice(&0x8000_0003u32.to_le_bytes());
            c.execute("UPDATE l SET geom = ?1", [blob]).expect("update");
        } else {
            c.execute(update, []).expect("update");
        }
        drop(c);
        let e = check_error(&s(&gpkg));
        assert!(
            e.contains(&format!("{name}.gpkg (layer l): feature 1")) && e.contains(reason),
            "{name}: {e}"
        );
    }
    // Uploaded, a layer in a projected CRS is stored as read: the same positions as the file served.
    let projected = p("projected.geojson");
    let (ok, log) = run("ogr2ogr", &["-t_srs", "EPSG:4549", &s(&projected), &s(&holed)]);
    assert!(ok, "{log}");
    let store_dir = tempfile::tempdir().expect("dir");
    let store = crate::helpers::new_store(store_dir.path());
    let province = crate::helpers::add_token(&store, "省发展改革委", "province");
    let file: LayerSpec = format!("file={}", s(&projected)).parse().expect("spec");
    let open = || Arc::new(crate::helpers::open_store(&store, std::slice::from_ref(&file)));
    let app = spawn_engine(Settings::local(), open());
    assert_eq!(put_to(&app, "uploaded", &province, &std::fs::read(&projected).expect("read")), 200);
    let in_4549 = |app: &TestApp, id: &str| {
        features(app, &format!("/collections/{id}/items?crs=http://www.opengis.net/def/crs/EPSG/0/4549"))[0]
            ["geometry"]
            .clone()
    };
    assert_eq!(in_4549(&app, "uploaded"), in_4549(&app, "file"));
    drop(app);
    // And after a restart, from the store.
    let app = spawn_engine(Settings::local(), open());
    assert_eq!(in_4549(&app, "uploaded"), in_4549(&app, "file"));
}

#[test]
fn an_upload_id_cannot_name_a_path_and_an_import_over_a_layer_id_does_not_stop_writes() {
    let z = zones();
    let dir = tempfile::tempdir().expect("dir");
    let store = crate::helpers::new_store(dir.path());
    let province = crate::helpers::add_token(&store, "省发展改革委", "province");
    let spec: LayerSpec = format!("given={}", z.path("zones.gpkg").display()).parse().expect("spec");
    let engine = Arc::new(crate::helpers::open_store(&store, &[spec]));
    let app = spawn_engine(Settings::local(), engine.clone());
    let outside = std::env::temp_dir().join(format!("planatlas-traversal-{}", std::process::id()));
    let id = format!("..%2F..%2F..%2F..%2F..%2F..{}", outside.display().to_string().replace('/', "%2F"));
    let r = app
        .client
        .put(app.url(&format!("/collections/{id}")))
        .header("Content-Type", "application/geo+json")
        .bearer_auth(&province)
        .body(std::fs::read(z.path("zones.geojson")).expect("read"))
        .send()
        .expect("answers");
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        !outside.with_extension("geojson").exists(),
        "nothing was written outside the server's own directory"
    );
    // Another process imports a layer under the id a --layer file serves: this server keeps serving the file
    // and keeps taking writes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planatlas"))
        .args(["import", z.path("zones.geojson").to_str().expect("utf-8"), "--new-collection", "given"])
        .args(crate::helpers::store_args(&store))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(engine.refresh().is_ok(), "the store's new revision is read");
    assert_eq!(features(&app, "/collections/given/items").len(), 4);
}

/// What a review of layers found: a Shapefile's clockwise exterior measured as the rest of the Earth; an `Id`
/// field broke the GeoPackage export; GDAL's `CP936` label was refused; a `.dbf` from another file dropped
/// shapes without a word; an empty FlatGeobuf export could not be opened.
#[test]
fn shapefile_rings_gbk_labels_clashing_fields_and_empty_exports_come_out_right() {
    let dir = tempfile::tempdir().expect("dir");
    let p = |n: &str| dir.path().join(n);
    let s = |path: &Path| path.to_str().expect("utf-8").to_owned();
    // A square in Dalian, drawn anticlockwise in GeoJSON; ogr2ogr writes the Shapefile's ring clockwise.
    let square = p("sq.geojson");
    std::fs::write(&square, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":1,"Id":7},"geometry":{"type":"Polygon","coordinates":[[[121.5,38.85],[121.7,38.85],[121.7,39.0],[121.5,39.0],[121.5,38.85]]]}},{"type":"Feature","properties":{"n":2,"Id":8},"geometry":{"type":"Polygon","coordinates":[[[121.5,38.85],[121.5,39.0],[121.7,39.0],[121.7,38.85],[121.5,38.85]]]}}]}"#).expect("write");
    let shp = p("sq.shp");
    let (ok, log) = run("ogr2ogr", &["-lco", "ENCODING=CP936", &s(&shp), &s(&square)]);
    assert!(ok, "{log}");
    assert_eq!(std::fs::read_to_string(p("sq.cpg")).expect("cpg").trim(), "CP936");
    let (app, _store) = serve(&[&format!("sqj={}", s(&square)), &format!("sqs={}", s(&shp))]);
    let area = |layer: &str, n: u32| {
        let f = &features(&app, &format!("/collections/{layer}/items?n={n}"))[0];
        (
            f["properties"]["area_km2"].as_f64().expect("area"),
            f["properties"]["join"]["cities"][0]["share"].clone(),
        )
    };
    let (a, share) = area("sqj", 1);
    assert!((250.0..350.0).contains(&a), "{a} km²");
    // Either winding, either format: the same area and shares.
    for (layer, n) in [("sqj", 2), ("sqs", 1), ("sqs", 2)] {
        let (b, sh) = area(layer, n);
        assert!((a - b).abs() < 0.01, "{layer} #{n}: {b} km² against {a}");
        assert_eq!(sh, share, "{layer} #{n}");
    }
    // The layer's own `Id` does not clash with the GeoPackage's `id` and `fid`: the export opens with both.
    let r = app.get("/collections/sqs/items?f=gpkg");
    assert_eq!(r.status(), 200);
    let gpkg = p("out.gpkg");
    std::fs::write(&gpkg, r.bytes().expect("body")).expect("write");
    let (ok, info) = run("ogrinfo", &["-ro", "-q", "-al", &s(&gpkg)]);
    assert!(
        ok && info.contains("Id_1 (Integer") && info.contains(") = 7") && info.contains("id (String) = "),
        "{info}"
    );
    // An empty FlatGeobuf opens in GDAL.
    let r = app.get("/collections/sqs/items?f=fgb&n=99");
    assert_eq!(r.status(), 200);
    let fgb = p("empty.fgb");
    std::fs::write(&fgb, r.bytes().expect("body")).expect("write");
    let (ok, info) = run("ogrinfo", &["-ro", "-so", "-al", &s(&fgb)]);
    assert!(ok && info.contains("Feature Count: 0"), "{info}");
    // A file with fields named like the join's: the join moves to join_<name>, and within= still finds it.
    let clash = p("clash.geojson");
    std::fs::write(&clash, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"region_ids":"mine","county_adcodes":"mine"},"geometry":{"type":"Point","coordinates":[123.4,41.79]}}]}"#).expect("write");
    let (clash_app, _clash_store) = serve(&[&format!("clash={}", s(&clash))]);
    let f = &features(&clash_app, "/collections/clash/items")[0];
    assert_eq!(f["properties"]["region_ids"], "mine", "{f}");
    let county = f["properties"]["join_county_adcodes"][0].as_str().expect("joined").to_owned();
    for area in ["shenyang-circle", county.as_str()] {
        let n = number_matched(&clash_app, &format!("/collections/clash/items?within={area}"));
        assert_eq!(n, Ok(1), "within={area}");
    }
    // A blank dBase date is no date: null, and outside every datetime interval (it was 0000-00-00).
    let dated = p("dated.geojson");
    std::fs::write(&dated, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"d":"2021-10-12"},"geometry":{"type":"Point","coordinates":[123.4,41.79]}},{"type":"Feature","properties":{"d":null},"geometry":{"type":"Point","coordinates":[121.6,38.92]}}]}"#).expect("write");
    let (ok, log) = run("ogr2ogr", &[&s(&p("dated.shp")), &s(&dated)]);
    assert!(ok, "{log}");
    let (dated_app, _dated_store) = serve(&[&format!("dated={}", s(&p("dated.shp")))]);
    let days: Vec<Value> = features(&dated_app, "/collections/dated/items")
        .iter()
        .map(|f| f["properties"]["d"].clone())
        .collect();
    assert_eq!(days, [json!("2021-10-12"), Value::Null]);
    assert_eq!(number_matched(&dated_app, "/collections/dated/items?datetime=../2000-01-01"), Ok(0));
    // A feature without a geometry: a Placemark without one in KML; the Shapefile's fields.txt says it is not
    // in the Shapefile (its writer has no null shapes).
    let nogeom = p("nogeom.geojson");
    std::fs::write(&nogeom, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"d":"2021-10-12"},"geometry":{"type":"Point","coordinates":[123.4,41.79]}},{"type":"Feature","properties":{"d":"2022-01-01"},"geometry":null}]}"#).expect("write");
    let (ng_app, _ng_store) = serve(&[&format!("nogeom={}", s(&nogeom))]);
    let kml = p("nogeom.kml");
    std::fs::write(&kml, ng_app.get("/collections/nogeom/items?f=kml").bytes().expect("kml")).expect("write");
    let (ok, info) = run("ogrinfo", &["-ro", "-so", "-al", &s(&kml)]);
    assert!(ok && info.contains("Feature Count: 2"), "{info}");
    let zipped = ng_app.get("/collections/nogeom/items?f=shp").bytes().expect("zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.to_vec())).expect("zip");
    let mut fields = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("fields.txt").expect("fields.txt"), &mut fields)
        .expect("read");
    assert!(fields.contains("1 feature(s) without a geometry are not in this Shapefile"), "{fields}");
    // Whole numbers past what a double holds exactly are written digit for digit (as text), never rounded or 0.
    let big = p("big.geojson");
    std::fs::write(&big, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"u":18446744073709551615,"b":1234567890123456789,"small":42},"geometry":{"type":"Point","coordinates":[123.4,41.79]}}]}"#).expect("write");
    let (big_app, _big_store) = serve(&[&format!("big={}", s(&big))]);
    for ext in ["gpkg", "fgb", "shp"] {
        let out = p(&format!("big-out.{ext}{}", if ext == "shp" { ".zip" } else { "" }));
        std::fs::write(&out, big_app.get(&format!("/collections/big/items?f={ext}")).bytes().expect("body"))
            .expect("write");
        let name = if ext == "shp" { format!("/vsizip/{}", s(&out)) } else { s(&out) };
        let (ok, info) = run("ogrinfo", &["-ro", "-q", "-al", &name]);
        assert!(ok, "{info}");
        for want in ["18446744073709551615", "1234567890123456789", "= 42"] {
            assert!(info.contains(want), "{ext}: {want} in {info}");
        }
    }
    // `import --crs` with --new-collection was ignored without a word (a layer's CRS is read from its file).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planatlas"))
        .args([
            "import",
            &s(&big),
            "--new-collection",
            "big",
            "--crs",
            "EPSG:4549",
            "--data-dir",
            &s(&p("store")),
        ])
        .output()
        .expect("planatlas runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("'--new-collection <ID>' cannot be used with '--crs <CRS>'"),
        "{said}"
    );
    // A GeoPackage DATE column holding text that is no date: refused, naming the feature (it was served, and
    // matched datetime filters).
    let dg = p("dg.gpkg");
    let (ok, log) =
        run("ogr2ogr", &["-f", "GPKG", "-nln", "dg", "-lco", "SPATIAL_INDEX=NO", &s(&dg), &s(&dated)]);
    assert!(ok, "{log}");
    rusqlite::Connection::open(&dg)
        .expect("open")
        .execute("UPDATE dg SET d = 'garbage' WHERE fid = 2", [])
        .expect("update");
    let e = check_error(&s(&dg));
    assert!(
        e.contains("dg.gpkg (layer dg): feature 2") && e.contains("'garbage' is not a date value"),
        "{e}"
    );
    // A GeoPackage point flagged empty in its header (POINT EMPTY, as GDAL writes it from other sources): no
    // geometry for that feature, the rest served (one such feature refused the whole file).
    let eg = p("eg.gpkg");
    let (ok, log) =
        run("ogr2ogr", &["-f", "GPKG", "-nln", "eg", "-lco", "SPATIAL_INDEX=NO", &s(&eg), &s(&dated)]);
    assert!(ok, "{log}");
    let mut empty_point = b"GP\x00\x11\xe6\x10\x00\x00\x01\x01\x00\x00\x00".to_vec();
    for _ in 0..2 {
        empty_point.extend(f64::NAN.to_le_bytes());
    }
    rusqlite::Connection::open(&eg)
        .expect("open")
        .execute("UPDATE eg SET geom = ?1 WHERE fid = 2", [empty_point])
        .expect("update");
    let (eg_app, _eg_store) = serve(&[&format!("eg={}", s(&eg))]);
    let got = features(&eg_app, "/collections/eg/items");
    assert_eq!(got.len(), 2);
    assert!(got[0]["geometry"].is_object() && got[1]["geometry"].is_null(), "{got:?}");
    // A field name holding NUL (or empty) is refused when read: its exports failed half-way, as a 200.
    let nul = p("nul.geojson");
    std::fs::write(&nul, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a\u0000b":1},"geometry":{"type":"Point","coordinates":[123.4,41.79]}}]}"#).expect("write");
    let e = check_error(&s(&nul));
    assert!(e.contains("nul.geojson") && e.contains("control character"), "{e}");
    // An empty GeoJSON id could not be asked for: the file is refused, naming the feature.
    let blank = p("blank.geojson");
    std::fs::write(&blank, r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"","properties":{},"geometry":{"type":"Point","coordinates":[123.4,41.79]}}]}"#).expect("write");
    let e = check_error(&s(&blank));
    assert!(e.contains("blank.geojson") && e.contains("feature 1") && e.contains("an empty id"), "{e}");
    // Leading spaces in a Shapefile's text are the value's (only dBase's right padding goes).
    let spaced = p("spaced.geojson");
    std::fs::write(&spaced, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"  A1 "},"geometry":{"type":"Point","coordinates":[123.39,41.79]}}]}"#).expect("write");
    let (ok, log) = run("ogr2ogr", &[&s(&p("spaced.shp")), &s(&spaced)]);
    assert!(ok, "{log}");
    let (sp_app, _sp_store) = serve(&[&format!("spaced={}", s(&p("spaced.shp")))]);
    assert_eq!(features(&sp_app, "/collections/spaced/items")[0]["properties"]["code"], "  A1");
    // Chinese field names in a GBK Shapefile, with its .cpg and without (the header's code page says GBK):
    // every field, with its values (two names decoded as the same `����` and one field lost the other).
    let cn = p("cn.geojson");
    std::fs::write(&cn, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"名称":"沈阳站","类型":"车站","编号":3},"geometry":{"type":"Point","coordinates":[123.39,41.79]}}]}"#).expect("write");
    let (ok, log) = run("ogr2ogr", &["-lco", "ENCODING=CP936", &s(&p("cn.shp")), &s(&cn)]);
    assert!(ok, "{log}");
    for with_cpg in [true, false] {
        if !with_cpg {
            // As ArcGIS writes it: no .cpg, the header's language driver byte 0x4D (GBK).
            std::fs::remove_file(p("cn.cpg")).expect("remove");
            let mut dbf = std::fs::read(p("cn.dbf")).expect("dbf");
            dbf[29] = 0x4D;
            std::fs::write(p("cn.dbf"), dbf).expect("write");
        }
        let (cn_app, _cn_store) = serve(&[&format!("cn={}", s(&p("cn.shp")))]);
        let f = &features(&cn_app, "/collections/cn/items")[0];
        let props = &f["properties"];
        assert_eq!(props["名称"], "沈阳站", "with .cpg {with_cpg}: {f}");
        assert_eq!(props["类型"], "车站", "with .cpg {with_cpg}: {f}");
        assert_eq!(props["编号"], 3, "with .cpg {with_cpg}: {f}");
    }
    // A .dbf of another file (one record for two shapes) stops loading, saying so.
    let one = p("one.geojson");
    std::fs::write(&one, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":[123.4,41.8]}}]}"#).expect("write");
    let (ok, log) = run("ogr2ogr", &[&s(&p("one.shp")), &s(&one)]);
    assert!(ok, "{log}");
    std::fs::copy(p("one.dbf"), p("sq.dbf")).expect("copy");
    let e = check_error(&s(&shp));
    assert!(e.contains("sq.shp") && e.contains("2 shapes but the .dbf 1 records"), "{e}");
}

/// A layer file's own `id` field (not the feature id) is a column like any other in every export and in the
/// tiles, under a name that does not clash; FlatGeobuf says what it leaves out and refuses a date-time column
/// holding no date; an empty layer's exports keep its fields; whole numbers past 2^53 filter and sort exactly.
#[test]
fn own_id_fields_fgb_dates_empty_layers_and_big_whole_numbers_come_out_right() {
    let dir = tempfile::tempdir().expect("dir");
    let p = |n: &str| dir.path().join(n);
    let s = |path: &Path| path.to_str().expect("utf-8").to_owned();
    let own = p("own.geojson");
    std::fs::write(&own, r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"f1","properties":{"id":"own-7","b":9007199254740993,"t":"2021-10-12T10:00:00","r":0.0000001,"w":-12345678901234.5,"d":"2024-03-01","n":3000000000,"name":"n1","Visibility":"public"},"geometry":{"type":"Point","coordinates":[123.4,41.79]}},{"type":"Feature","id":"f2","properties":{"id":"own-8","b":9007199254740992,"t":"2022-01-01T08:30:00","n":7},"geometry":null}]}"#).expect("write");
    let (app, _store) = serve(&[&format!("own={}", s(&own))]);
    // CSV: the feature id under `id`, the file's own under `id_1`.
    let csv = app.get("/collections/own/items?f=csv").text().expect("csv");
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with("id,id_1,"), "{header}");
    assert!(lines.next().expect("row").starts_with("f1,own-7,"), "{csv}");
    // GDAL reads both out of every file format.
    for ext in ["gpkg", "fgb", "kml", "shp"] {
        let out = p(&format!("own-out.{ext}{}", if ext == "shp" { ".zip" } else { "" }));
        let r = app.get(&format!("/collections/own/items?f={ext}"));
        assert_eq!(r.status().as_u16(), 200, "{ext}");
        let bytes = r.bytes().expect("body");
        std::fs::write(&out, &bytes).expect("write");
        let name = if ext == "shp" { format!("/vsizip/{}", s(&out)) } else { s(&out) };
        let (ok, info) = run("ogrinfo", &["-ro", "-al", &name]);
        assert!(ok && info.contains("= own-7") && info.contains("= f1"), "{ext}: {info}");
        // Date and date-time fields come out as such where the format has them (they were text, and a
        // re-imported file no longer filtered by them).
        let (_, schema) = run("ogrinfo", &["-ro", "-so", "-al", &name]);
        let want: &[&str] = match ext {
            "gpkg" => &["d: Date", "t: DateTime"],
            "fgb" => &["d: DateTime", "t: DateTime"],
            "shp" => &["d: Date"],
            _ => &[],
        };
        for w in want {
            assert!(schema.contains(w), "{ext}: {w} in {schema}");
        }
        if ext == "shp" {
            assert!(info.contains("d (Date) = 2024/03/01"), "{info}");
        }
        if ext == "kml" {
            // Typed fields: a whole number past KML's 32-bit int is a real, which holds it (an int field was
            // clamped to 2147483647); text past 2^53 stays text, digit for digit.
            for w in ["n: Real", "r: Real", "w: Real", "b: String"] {
                assert!(schema.contains(w), "kml: {w} in {schema}");
            }
            assert!(
                info.contains("n (Real) = 3000000000") && info.contains("b (String) = 9007199254740993"),
                "{info}"
            );
            // A field named as a Placemark part GDAL reads (name, visibility…) keeps its value under another name.
            assert!(
                info.contains("name_1 (String) = n1") && info.contains("Visibility_1 (String) = public"),
                "{info}"
            );
        }
        if ext == "shp" {
            // Real fields keep their digits: 1e-7 was 0 with six decimals; a wide value keeps its whole part.
            assert!(info.contains("r (Real) = 0.0000001") && info.contains("= -12345678901234.5"), "{info}");
        }
        if ext == "fgb" {
            // The feature without a geometry is not in it (GDAL leaves such ones out too), and the header's
            // description says so (GDAL 3.6 does not print it).
            assert!(info.contains("Feature Count: 1"), "{info}");
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.contains("1 feature(s) without geometry are not in this file"), "the description");
        }
    }
    // Over OGC API – Features, GDAL types the fields by the collection's schema: the whole number past 32 bits
    // is a real (a 32-bit integer field clamped it), the day a date.
    let (ok, info) = run("ogrinfo", &["-ro", "-al", &format!("OAPIF:{}", app.base), "own"]);
    assert!(ok && !info.contains("overflow"), "{info}");
    assert!(info.contains("n (Real) = 3000000000") && info.contains("d (Date) = 2024/03/01"), "{info}");
    // The GeoPackage export read back as a layer: its dates are dates again, and filter as such.
    let (rt_app, _rt_store) = serve(&[&format!("rt={}", s(&p("own-out.gpkg")))]);
    let q = rt_app.get_json("/collections/rt/queryables");
    assert_eq!(q["properties"]["d"]["format"], "date", "{q}");
    assert_eq!(q["properties"]["t"]["format"], "date-time", "{q}");
    assert_eq!(number_matched(&rt_app, "/collections/rt/items?filter=d%3DDATE('2024-03-01')"), Ok(1));
    // Tiles: `id` stays the feature's id; the file's own goes as `id_1`.
    let (x, y) = tile_of(123.4, 41.79, 10);
    let r = app.get(&format!("/collections/own/tiles/WebMercatorQuad/10/{y}/{x}"));
    assert_eq!(r.status().as_u16(), 200);
    let tile = {
        use geozero::mvt::Message;
        geozero::mvt::Tile::decode(r.bytes().expect("bytes").as_ref()).expect("mvt")
    };
    let layer = tile.layers.iter().find(|l| l.name == "own").expect("an own layer");
    let f = layer.features.first().expect("a feature");
    assert_eq!(tag(layer, f, "id").as_deref(), Some("f1"));
    assert_eq!(tag(layer, f, "id_1").as_deref(), Some("own-7"));
    // A bbox in a projected CRS keeps the feature without a geometry, as a CRS84 bbox does.
    assert_eq!(number_matched(&app, "/collections/own/items?bbox=118,38,126,44"), Ok(2));
    assert_eq!(
        number_matched(&app, "/collections/own/items?bbox-crs=EPSG:4549&bbox=4000000,0,5000000,1500000"),
        Ok(2)
    );
    // Whole numbers past 2^53: equality and order exact (through a double, 2^53 + 1 was 2^53).
    assert_eq!(number_matched(&app, "/collections/own/items?b=9007199254740993"), Ok(1));
    // In CQL2 a number is a double: 2^53 + 1 would be compared as 2^53 (and match f2), so it is refused, in
    // text and in JSON, naming the number; 2^53 itself, which a double holds, is compared exactly.
    for (lang, filter) in [
        ("cql2-text", "b=9007199254740993".to_owned()),
        ("cql2-json", r#"{"op":"=","args":[{"property":"b"},9007199254740993]}"#.to_owned()),
        ("cql2-json", r#"{"op":"=","args":[{"property":"b"},9007199254740993.0]}"#.to_owned()),
        ("cql2-text", "b=9007199254740993.0".to_owned()),
        ("cql2-text", "b<9.007199254740993e15".to_owned()),
        ("cql2-text", "b IN (1, 900719925474099300e-2)".to_owned()),
        ("cql2-text", "b<9007199254740992.5".to_owned()),
    ] {
        let path = format!("/collections/own/items?filter-lang={lang}&filter={}", urlencode(&filter));
        let problem = app.get_problem(&path, 400);
        assert_eq!(problem["parameter"], "filter", "{problem}");
        assert!(problem["detail"].as_str().unwrap_or_default().contains("beyond 2^53"), "{problem}");
    }
    assert_eq!(
        number_matched(&app, &format!("/collections/own/items?filter={}", urlencode("b=9007199254740992"))),
        Ok(1)
    );
    // Arithmetic on whole numbers is exact too.
    for (filter, id) in
        [("b-1=9007199254740992", "f1"), ("b*1=9007199254740992", "f2"), ("b+1=9007199254740994", "f1")]
    {
        let got = features(&app, &format!("/collections/own/items?filter={}", urlencode(filter)));
        let ids: Vec<&str> = got.iter().filter_map(|f| f["id"].as_str()).collect();
        assert_eq!(ids, [id], "{filter}");
    }
    // A search's posted filter is read as written, not through doubles.
    let r = app
        .client
        .post(app.url("/collections/own/search"))
        .header("Content-Type", "application/json")
        .body(r#"{"filter": {"op": "=", "args": [{"property": "b"}, 9007199254740993.0]}}"#)
        .send()
        .expect("answers");
    assert_eq!(r.status().as_u16(), 400);
    let sorted = features(&app, "/collections/own/items?sortby=b");
    let ids: Vec<&str> = sorted.iter().filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(ids, ["f2", "f1"]);
    // A FlatGeobuf date-time column holding text that is no date-time: refused, naming the feature.
    let fgb = p("dt.fgb");
    let (ok, log) = run("ogr2ogr", &["-f", "FlatGeobuf", &s(&fgb), &s(&own)]);
    assert!(ok, "{log}");
    let (ok, info) = run("ogrinfo", &["-ro", "-so", "-al", &s(&fgb)]);
    assert!(ok && info.contains("t: DateTime"), "{info}");
    let mut bytes = std::fs::read(&fgb).expect("read");
    let at = bytes.windows(19).position(|w| w == b"2021-10-12T10:00:00").expect("the date-time's text");
    bytes[at..at + 19].copy_from_slice(b"garbage-garbage-gar");
    std::fs::write(&fgb, bytes).expect("write");
    let e = check_error(&s(&fgb));
    assert!(
        e.contains("dt.fgb")
            && e.contains("feature 1")
            && e.contains("'garbage-garbage-gar' is not a date-time"),
        "{e}"
    );
    // An empty layer (a GeoPackage table with fields and no rows): its CSV and GeoPackage keep the fields.
    let empty = p("empty.gpkg");
    let (ok, log) = run("ogr2ogr", &["-f", "GPKG", "-nln", "empty", &s(&empty), &s(&own), "-where", "b < 0"]);
    assert!(ok, "{log}");
    let (empty_app, _empty_store) = serve(&[&format!("empty={}", s(&empty))]);
    let csv = empty_app.get("/collections/empty/items?f=csv").text().expect("csv");
    let header = csv.trim_start_matches('\u{feff}').lines().next().unwrap_or_default().to_owned();
    assert!(header.contains(",b,") && header.contains(",t,"), "{csv}");
    let out = p("empty-out.gpkg");
    std::fs::write(&out, empty_app.get("/collections/empty/items?f=gpkg").bytes().expect("body"))
        .expect("write");
    let (ok, info) = run("ogrinfo", &["-ro", "-so", "-al", &s(&out)]);
    assert!(ok && info.contains("Feature Count: 0") && info.contains("b: Integer64"), "{info}");
}

/// Heights (Z) and measures (M) in a layer file are not kept, and the collection says so, in every format;
/// x and y are read as they are. A 2-D file says nothing of it.
#[test]
fn heights_and_measures_in_a_layer_file_are_said_not_kept() {
    let dir = tempfile::tempdir().expect("dir");
    let p = |n: &str| dir.path().join(n);
    let s = |path: &Path| path.to_str().expect("utf-8").to_owned();
    let (flat, high) = (p("flat.geojson"), p("high.geojson"));
    std::fs::write(&flat, r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"a","properties":{"n":1},"geometry":{"type":"LineString","coordinates":[[123.4,41.79],[123.5,41.8]]}}]}"#).expect("write");
    std::fs::write(&high, r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"a","properties":{"n":1},"geometry":{"type":"LineString","coordinates":[[123.4,41.79,55.5],[123.5,41.8,60]]}}]}"#).expect("write");
    let mut layers = vec![format!("flat={}", s(&flat)), format!("high={}", s(&high))];
    for (id, args) in [
        ("hgpkg", vec!["-f", "GPKG", "-nln", "hgpkg"]),
        ("mgpkg", vec!["-f", "GPKG", "-nln", "mgpkg", "-dim", "XYM"]),
        ("hfgb", vec!["-f", "FlatGeobuf"]),
        ("hshp", vec!["-f", "ESRI Shapefile"]),
        ("fshp", vec!["-f", "ESRI Shapefile", "-dim", "XY"]),
    ] {
        let ext = match args[1] {
            "GPKG" => "gpkg",
            "FlatGeobuf" => "fgb",
            _ => "shp",
        };
        let out = p(&format!("{id}.{ext}"));
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend([s(&out), s(&high)]);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let (ok, log) = run("ogr2ogr", &all);
        assert!(ok, "ogr2ogr {id}: {log}");
        layers.push(format!("{id}={}", s(&out)));
    }
    let specs: Vec<&str> = layers.iter().map(String::as_str).collect();
    let (app, _store) = serve(&specs);
    for (id, kept_out) in [
        ("flat", false),
        ("high", true),
        ("hgpkg", true),
        ("mgpkg", true),
        ("hfgb", true),
        ("hshp", true),
        ("fshp", false),
    ] {
        let c = app.get_json(&format!("/collections/{id}"));
        let description = c["description"].as_str().unwrap_or_default();
        assert_eq!(description.contains("heights (Z) or measures (M)"), kept_out, "{id}: {description}");
        // Two positions of two numbers each (a Shapefile's line is read as a MultiLineString).
        let f = &features(&app, &format!("/collections/{id}/items"))[0];
        let mut line = &f["geometry"]["coordinates"];
        if f["geometry"]["type"] == "MultiLineString" {
            line = &line[0];
        }
        assert_eq!(line, &json!([[123.4, 41.79], [123.5, 41.8]]), "{id}: {f}");
    }
}

/// Files exported in GCJ-02 or BD-09 say so (they were labelled WGS 84, so GIS tools put them 300-700 m off),
/// and read back as a layer they land where the features are: the shift is undone.
#[test]
fn chinese_web_map_exports_say_what_they_are_and_read_back_in_place() {
    let dir = tempfile::tempdir().expect("dir");
    let (app, _store) = serve(&[]);
    let truth: BTreeMap<String, Value> = features(&app, "/collections/projects-points/items")
        .into_iter()
        .map(|f| (f["id"].as_str().expect("id").to_owned(), f["geometry"]["coordinates"].clone()))
        .collect();
    for (crs, label) in [("GCJ-02", "GCJ-02"), ("BD-09", "BD-09")] {
        for ext in ["gpkg", "fgb", "shp"] {
            let name = format!("pts-{label}.{ext}{}", if ext == "shp" { ".zip" } else { "" });
            let out = dir.path().join(&name);
            let r = app
                .get(&format!("/collections/projects-points/items?f={ext}&crs=urn:planatlas:def:crs:{crs}"));
            assert_eq!(r.status().as_u16(), 200, "{crs} {ext}");
            std::fs::write(&out, r.bytes().expect("body")).expect("write");
            let path = out.to_str().expect("utf-8").to_owned();
            let opened = if ext == "shp" { format!("/vsizip/{path}") } else { path.clone() };
            let (ok, info) = run("ogrinfo", &["-ro", "-so", "-al", &opened]);
            assert!(ok && info.contains(&format!("GEOGCRS[\"{label}")), "{crs} {ext}: {info}");
            let spec = format!("back={path}");
            let (back, _back_store) = serve(&[&spec]);
            let got = features(&back, "/collections/back/items");
            assert_eq!(got.len(), truth.len(), "{crs} {ext}");
            let mut compared = 0;
            for f in got {
                let key = f["properties"]["id"].as_str().or(f["id"].as_str()).expect("id").to_owned();
                let Some(want) = truth.get(&key) else { continue };
                compared += 1;
                let (g, w) = (&f["geometry"]["coordinates"], want);
                let d = planatlas::geom::geodesic::distance_m(
                    geo::Coord { x: g[0].as_f64().unwrap(), y: g[1].as_f64().unwrap() },
                    geo::Coord { x: w[0].as_f64().unwrap(), y: w[1].as_f64().unwrap() },
                );
                assert!(d < 1.0, "{crs} {ext} {key}: {d} m from where it is");
            }
            assert_eq!(compared, truth.len(), "{crs} {ext}: every feature found by its id");
        }
    }
}

/// A `{n/m}` star: its edges cross each other about n²/2 times.
fn star(lon: f64, lat: f64, radius: f64, n: usize) -> Vec<[f64; 2]> {
    let m = n / 2 - 1;
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|k| {
            #[expect(clippy::cast_precision_loss, reason = "small counts")]
            let a = std::f64::consts::TAU * (k * m % n) as f64 / n as f64;
            [lon + radius * a.cos(), lat + radius * 0.8 * a.sin()]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

/// A polygon whose edges cross is split at every crossing by the join to the counties: a 1 600-position star
/// held the write lock for minutes, and ran again at each start. Its files and uploads are refused, naming
/// where; a ring pinched to a vertex, hundreds of long diagonal strips side by side (whose edges' boxes all
/// overlap) and a real boundary are still taken.
#[test]
fn a_polygon_whose_edges_cross_is_refused_before_the_join() {
    let s = crate::helpers::spawn_store(Settings::local());
    let province = crate::helpers::add_token(&s.store, "省发展改革委", "province");
    // A layer: the second polygon of a feature crossing the first, a hole crossing its exterior.
    let square = |x: f64, y: f64, d: f64| json!([[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]);
    let layer = |geometry: Value| {
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "fine", "geometry": {"type": "Polygon", "coordinates": [square(122.0, 41.0, 0.1)]}, "properties": {}},
            {"type": "Feature", "id": "kfq-9", "geometry": geometry, "properties": {}}
        ]})
        .to_string()
    };
    let put = |id: &str, body: String| {
        s.app
            .client
            .put(s.app.url(&format!("/collections/{id}")))
            .header("Content-Type", "application/geo+json")
            .bearer_auth(&province)
            .body(body)
            .send()
            .expect("answers")
    };
    for (geometry, says) in [
        (
            json!({"type": "MultiPolygon", "coordinates": [[square(123.0, 41.0, 0.2)], [square(123.1, 41.1, 0.2)]]}),
            "polygon 1's exterior crosses its polygon 2's exterior at",
        ),
        (
            json!({"type": "Polygon", "coordinates": [square(123.0, 41.0, 0.2), [[123.1, 41.1], [123.1, 41.3], [123.15, 41.1], [123.1, 41.1]]]}),
            "exterior crosses its hole 1 at",
        ),
    ] {
        let p = crate::helpers::assert_problem(put("zones", layer(geometry)), 422);
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains("kfq-9") && detail.contains(says), "{p}");
    }
    assert_eq!(s.app.get("/collections/zones").status().as_u16(), 404);
    // A ring pinched to a vertex (a hole touching its exterior, as Shapefiles draw them) is taken.
    let pinched = json!({"type": "Polygon", "coordinates": [
        square(123.0, 41.0, 0.2),
        [[123.0, 41.0], [123.1, 41.05], [123.05, 41.1], [123.0, 41.0]]
    ]});
    assert_eq!(put("zones", layer(pinched)).status().as_u16(), 200);
    let zones = s.app.get_json("/collections/zones/items/kfq-9");
    assert!(zones["properties"]["county_adcodes"].as_array().is_some_and(|a| !a.is_empty()), "{zones}");
    // 400 diagonal strips (shelterbelts, rows of panels): valid, though every edge's box meets every other's.
    let strips: Vec<Value> = (0..400)
        .map(|i| {
            let x = f64::from(i) * 0.001;
            let turn = |(px, py): (f64, f64)| {
                let a = std::f64::consts::FRAC_PI_4;
                [123.4 + px * a.cos() - py * a.sin(), 41.8 + px * a.sin() + py * a.cos()]
            };
            let ring: Vec<[f64; 2]> = [(x, 0.0), (x + 0.0004, 0.0), (x + 0.0004, 0.15), (x, 0.15), (x, 0.0)]
                .into_iter()
                .map(turn)
                .collect();
            json!([ring])
        })
        .collect();
    let r = put("strips", layer(json!({"type": "MultiPolygon", "coordinates": strips})));
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
    // A layer file given at start stops loading, naming the file, the feature and the crossing.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("stars.geojson");
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "star-1", "geometry": {"type": "Polygon", "coordinates": [star(122.5, 41.5, 1.0, 801)]}, "properties": {}}
    ]});
    std::fs::write(&file, fc.to_string()).expect("write");
    let e = check_error(file.to_str().expect("utf-8"));
    assert!(e.contains("stars.geojson") && e.contains("star-1") && e.contains("crosses itself"), "{e}");
}

/// A layer's field of mixed values (a GeoJSON file's `code`: 1, 2.5, "x", true) is typed by the values it has,
/// in both schemas: `/feature-schema` gives it no type (any value) where it said text and the features carried
/// numbers and booleans; a field of one type keeps it.
#[test]
fn a_layer_field_of_mixed_values_is_typed_by_the_values_it_has() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("odd.geojson");
    let feature = |n: u32, code: Value| {
        json!({"type": "Feature", "id": n, "geometry": {"type": "Point", "coordinates": [123.0, 41.0 + f64::from(n) / 100.0]},
               "properties": {"code": code, "name": format!("p{n}"), "none": null}})
    };
    let doc = json!({"type": "FeatureCollection", "features": [
        feature(1, json!(1)), feature(2, json!(2.5)), feature(3, json!("x")), feature(4, json!(true))
    ]});
    std::fs::write(&path, doc.to_string()).expect("write");
    let (app, _keep) = serve(&[&format!("odd={}", path.display())]);
    let part5 = app.get_json("/collections/odd/schema");
    let types = part5["properties"]["code"]["type"].as_array().expect("a list of types").clone();
    for t in ["boolean", "number", "string"] {
        assert!(types.contains(&json!(t)), "{t}: {part5}");
    }
    let feature_schema = app.get_json("/collections/odd/feature-schema");
    let props = &feature_schema["properties"]["properties"]["properties"];
    assert!(props["code"].get("type").is_none(), "{props}");
    assert_eq!(props["name"]["type"], "string", "{props}");
    assert_eq!(props["none"]["type"], "string", "{props}");
    assert_eq!(props["none"]["nullable"], true, "{props}");
}
