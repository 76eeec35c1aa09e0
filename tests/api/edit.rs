//! Editing the catalogue through the real server over a real SQLite store: Part 4 writes, tokens and scopes,
//! If-Match, history, derived data after a write, and the clients (`OWSLib` writes, GDAL reads back).

use std::sync::{Arc, Barrier};

use planatlas::config::Settings;
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::{Value, json};

use crate::helpers::{StoreApp, add_token, assert_problem, python, run, spawn_store, urlencode};

/// A project in 沈阳 (沈河区, 210103).
fn shenyang_project(id: &str) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [123.4335, 41.8057]},
        "properties": {
            "id": id,
            "name_zh": "测试项目（沈阳）",
            "name_en": "Test project (Shenyang)",
            "category": "urban",
            "sections": ["三.(四).1"],
            "lead_unit": null,
            "co_units": [],
            "excerpt": "测试用项目。",
            "targets": [],
            "named_place": "沈阳",
            "place_id": "test-place",
            "county_adcode": "210103",
            "city_adcode": "210100",
            "location_precision": "district",
            "location_source": "test fixture",
            "outside_province": null,
            "consistency_notes": {},
            // Derived: must be ignored and recomputed.
            "county_adcodes": ["999999"],
            "region_ids": ["made-up"],
        }
    })
}

/// The same project moved to 大连 (沙河口区, 210204).
fn moved_to_dalian(id: &str) -> Value {
    let mut f = shenyang_project(id);
    f["geometry"]["coordinates"] = json!([121.59, 38.91]);
    f["properties"]["county_adcode"] = json!("210204");
    f["properties"]["city_adcode"] = json!("210200");
    f
}

struct Editor<'a> {
    s: &'a StoreApp,
    token: String,
}

impl Editor<'_> {
    fn auth(&self, r: RequestBuilder) -> RequestBuilder {
        r.header("authorization", format!("Bearer {}", self.token))
    }

    fn post(&self, body: &Value) -> Response {
        let url = self.s.app.url("/collections/projects/items");
        self.auth(self.s.app.client.post(url))
            .header("content-type", "application/geo+json")
            .body(body.to_string())
            .send()
            .unwrap()
    }

    fn put(&self, id: &str, body: &Value, if_match: Option<&str>) -> Response {
        let url = self.s.app.url(&format!("/collections/projects/items/{id}"));
        let mut r = self.auth(self.s.app.client.put(url)).header("content-type", "application/geo+json");
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        r.body(body.to_string()).send().unwrap()
    }

    fn patch(&self, id: &str, body: &Value) -> Response {
        let url = self.s.app.url(&format!("/collections/projects/items/{id}"));
        self.auth(self.s.app.client.patch(url))
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .unwrap()
    }

    fn delete(&self, id: &str) -> Response {
        let url = self.s.app.url(&format!("/collections/projects/items/{id}"));
        self.auth(self.s.app.client.delete(url)).send().unwrap()
    }
}

fn etag(s: &StoreApp, path: &str) -> String {
    let r = s.app.client.get(s.app.url(path)).header("accept-encoding", "identity").send().unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.headers()["etag"].to_str().unwrap().to_owned()
}

fn count(s: &StoreApp) -> u64 {
    s.app.get_json("/collections/projects/items?limit=1")["numberMatched"].as_u64().unwrap()
}

#[test]
fn create_patch_replace_delete_with_history_and_derived_data() {
    let s = spawn_store(Settings::local());
    let ed = Editor { token: add_token(&s.store, "省发展改革委", "province"), s: &s };
    let before = count(&s);
    let projects_tag = etag(&s, "/collections/projects");
    let counties_tag = etag(&s, "/collections/counties");
    let report_before = s.app.get_json("/reports/consistency");
    let shenhe_count = |s: &StoreApp| {
        let q = s.app.get_json("/reports/data-quality");
        q["by_county"].as_array().unwrap().iter().find(|c| c["adcode"] == "210103").unwrap()["projects"]
            .as_u64()
            .unwrap()
    };
    let quality_before = shenhe_count(&s);

    // OPTIONS tells clients (QGIS) what is editable.
    let r = s
        .app
        .client
        .request(reqwest::Method::OPTIONS, s.app.url("/collections/projects/items"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["allow"].to_str().unwrap().contains("POST"));
    let r = s
        .app
        .client
        .request(reqwest::Method::OPTIONS, s.app.url("/collections/counties/items"))
        .send()
        .unwrap();
    assert!(!r.headers()["allow"].to_str().unwrap().contains("POST"));

    let tile_here = etag(&s, "/tiles/10/863/380");
    let tile_far = etag(&s, "/tiles/10/854/381");
    let conformance = etag(&s, "/conformance");
    let seeded_at = s.app.get_json("/collections/projects")["updated"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let r = ed.post(&shenyang_project("test-shenyang"));
    assert_eq!(r.status(), 201, "{:?}", r.text());
    // The tile containing it changes; a tile in 朝阳 and the conformance document keep their tags.
    assert_ne!(etag(&s, "/tiles/10/863/380"), tile_here);
    assert_eq!(etag(&s, "/tiles/10/854/381"), tile_far);
    assert_eq!(etag(&s, "/conformance"), conformance);
    // The data-quality report counts it in 沈河区 (its county is known).
    assert_eq!(shenhe_count(&s), quality_before + 1);
    // The catalogue as it stood before the write, by transaction time.
    let then = s.app.get_json(&format!("/collections/projects/items?limit=1&datetime={seeded_at}"));
    assert_eq!(then["numberMatched"].as_u64().unwrap(), before, "{then}");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("/collections/projects/items/test-shenyang"), "{location}");
    let created_tag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(created_tag.starts_with("\"v1-"), "{created_tag}");
    // The tag a write answers with is the one a GET of the feature answers with.
    assert_eq!(etag(&s, "/collections/projects/items/test-shenyang"), created_tag);
    // Derived properties come from the server's join, not the body.
    let f = s.app.get_json("/collections/projects/items/test-shenyang");
    assert_eq!(f["properties"]["county_adcodes"], json!(["210103"]), "{f}");
    assert_eq!(f["properties"]["city_adcodes"], json!(["210100"]));
    assert!(f["properties"]["region_ids"].as_array().unwrap().iter().any(|r| r == "shenyang-circle"), "{f}");
    assert_eq!(count(&s), before + 1);
    // The counts, the collection's ETag and the tile containing it change; the counties' ETag too (counts).
    assert_ne!(etag(&s, "/collections/projects"), projects_tag);
    let county = s.app.get_json("/collections/counties/items/210103");
    let n_after = county["properties"]["project_count"].as_u64().unwrap();
    let _ = counties_tag;
    // Exports hold it.
    let csv = s.app.get("/exports/projects.csv").text().unwrap();
    assert!(csv.contains("test-shenyang"));
    // /locate-style joins: nearest from the point finds it first.
    let near = s
        .app
        .get_json("/collections/projects/within-distance?lon=123.4335&lat=41.8057&distance=10&limit=100");
    assert!(near["features"].as_array().unwrap().iter().any(|f| f["id"] == "test-shenyang"), "{near}");

    // PATCH twice.
    let r = ed.patch("test-shenyang", &json!({"properties": {"name_en": "Patched once"}}));
    assert_eq!(r.status(), 204, "{:?}", r.text());
    std::thread::sleep(std::time::Duration::from_millis(5));
    let r = ed.patch("test-shenyang", &json!({"properties": {"name_en": "Patched twice", "place_id": null}}));
    assert_eq!(r.status(), 204, "{:?}", r.text());
    let patched_tag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(patched_tag.starts_with("\"v3-"), "{patched_tag}");
    let r = s
        .app
        .client
        .get(s.app.url("/collections/projects/items/test-shenyang"))
        .header("accept-encoding", "identity")
        .header("if-none-match", &patched_tag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 304, "the tag the PATCH answered with names what a GET now answers");
    let f = s.app.get_json("/collections/projects/items/test-shenyang");
    assert_eq!(f["properties"]["name_en"], "Patched twice");
    assert!(f["properties"].get("place_id").is_none_or(Value::is_null), "merge-patch null removes: {f}");

    // PUT with the current ETag, then with a stale one.
    let tag = etag(&s, "/collections/projects/items/test-shenyang");
    let mut replacement = shenyang_project("test-shenyang");
    replacement["properties"]["name_en"] = json!("Replaced");
    // A body naming another feature (top-level or in its properties) is refused, not stored under this id.
    let mut renamed = replacement.clone();
    renamed["id"] = json!("someone-else");
    let body = assert_problem(ed.put("test-shenyang", &renamed, Some(&tag)), 400);
    assert_eq!(body["parameter"], "id");
    assert!(body["detail"].as_str().unwrap().contains("'someone-else'"), "{body}");
    renamed["id"] = json!("test-shenyang");
    renamed["properties"]["id"] = json!("someone-else");
    assert_problem(ed.put("test-shenyang", &renamed, Some(&tag)), 400);
    let body = assert_problem(ed.patch("test-shenyang", &json!({"id": 7})), 400);
    assert_eq!(body["parameter"], "id");
    assert_eq!(etag(&s, "/collections/projects/items/test-shenyang"), tag, "nothing was written");
    // The same id top-level, as a feature read from here carries it, is the feature itself.
    replacement["id"] = json!("test-shenyang");
    let r = ed.put("test-shenyang", &replacement, Some(&tag));
    assert_eq!(r.status(), 204, "{:?}", r.text());
    let r = ed.put("test-shenyang", &replacement, Some(&tag));
    assert_problem(r, 412);

    // DELETE, then the item is gone with a link to its last version.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let r = ed.delete("test-shenyang");
    assert_eq!(r.status(), 204);
    let r = s.app.get("/collections/projects/items/test-shenyang");
    assert_eq!(r.status(), 410);
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("rel=\"latest-version\""), "{link}");
    assert_eq!(count(&s), before);
    let county = s.app.get_json("/collections/counties/items/210103");
    assert_eq!(county["properties"]["project_count"].as_u64().unwrap(), n_after - 1);

    // History: create, patch, patch, replace, delete, in order; datetime answers the state then.
    let h = s.app.get_json("/collections/projects/items/test-shenyang/versions");
    let ops: Vec<&str> =
        h["versions"].as_array().unwrap().iter().map(|v| v["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["create", "patch", "patch", "replace", "delete"], "{h}");
    assert!(h["versions"].as_array().unwrap().iter().all(|v| v["actor"] == "省发展改革委"));
    let second_at = h["versions"][1]["at"].as_str().unwrap();
    let r = s.app.get(&format!("/collections/projects/items/test-shenyang?datetime={second_at}"));
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("memento-datetime"));
    let then: Value = r.json().unwrap();
    assert_eq!(then["properties"]["name_en"], "Patched once", "{then}");
    // Follow the latest-version link of the deleted feature.
    let latest = link.split(';').next().unwrap().trim_matches(['<', '>', ' ']);
    let last: Value = s.app.client.get(latest).send().unwrap().json().unwrap();
    assert_eq!(last["properties"]["name_en"], "Replaced", "{last}");
    // The reports are back to what they were.
    assert_eq!(s.app.get_json("/reports/consistency")["entries"], report_before["entries"]);
    assert_eq!(shenhe_count(&s), quality_before);
    // Versioning is declared.
    let c = s.app.get_json("/collections/projects");
    assert_eq!(c["versioning"]["timeAxis"], "transaction-time", "{c}");
    assert!(c["revision"].as_i64().unwrap() > 236);

    // A restart on the same data directory loads from the store.
    let engine = crate::helpers::open_store(&s.store, &[]);
    let m = engine.model();
    assert!(m.catalog.projects().get("test-shenyang").is_none());
    assert_eq!(m.catalog.projects().features().len() as u64, before);
    assert!(m.revision >= 236 + 5);
}

#[test]
fn every_error_path_answers_a_problem_and_changes_nothing() {
    let s = spawn_store(Settings::local());
    let shenyang = Editor { token: add_token(&s.store, "沈阳市发展改革委", "city:210100"), s: &s };
    let dalian = Editor { token: add_token(&s.store, "大连市发展改革委", "city:210200"), s: &s };
    let nobody = Editor { token: "pa_not-a-token".into(), s: &s };
    let province = Editor { token: add_token(&s.store, "省发展改革委", "province"), s: &s };
    assert_eq!(shenyang.post(&shenyang_project("sy-1")).status(), 201);
    let listing = || {
        let mut v = s.app.get_json("/collections/projects/items?limit=1000");
        v.as_object_mut().unwrap().remove("timeStamp");
        v
    };
    let before = listing();
    let before_item = s.app.get("/collections/projects/items/sy-1").text().unwrap();

    // No token: 401 with WWW-Authenticate.
    let r = s
        .app
        .client
        .post(s.app.url("/collections/projects/items"))
        .body(shenyang_project("x").to_string())
        .send()
        .unwrap();
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_problem(r, 401);
    assert_problem(nobody.delete("sy-1"), 401);
    // A 大连 token editing a 沈阳 project; a 沈阳 token moving its project into 大连.
    let p = assert_problem(dalian.patch("sy-1", &json!({"properties": {"name_en": "x"}})), 403);
    assert!(p["detail"].as_str().unwrap().contains("沈阳"), "{p}");
    assert_problem(dalian.delete("sy-1"), 403);
    let p = assert_problem(shenyang.put("sy-1", &moved_to_dalian("sy-1"), None), 403);
    assert!(p["detail"].as_str().unwrap().contains("大连"), "{p}");
    let mut sy2 = shenyang_project("sy-2");
    sy2["geometry"]["coordinates"] = json!([123.4355, 41.8057]);
    assert_problem(dalian.post(&sy2), 403);
    // Stale If-Match.
    assert_problem(shenyang.put("sy-1", &shenyang_project("sy-1"), Some("\"v99-0\"")), 412);
    // Malformed bodies.
    let url = s.app.url("/collections/projects/items");
    let r = shenyang
        .auth(s.app.client.post(&url))
        .header("content-type", "application/geo+json")
        .body("{not json")
        .send()
        .unwrap();
    assert_problem(r, 400);
    let r =
        shenyang.auth(s.app.client.post(&url)).header("content-type", "text/plain").body("x").send().unwrap();
    assert_problem(r, 415);
    assert_problem(shenyang.post(&json!({"type": "Point", "coordinates": [123.4, 41.8]})), 400);
    // A point outside Liaoning; an unknown category; a county that contradicts the point; a taken id.
    let mut outside = shenyang_project("sy-3");
    outside["geometry"]["coordinates"] = json!([116.4, 39.9]);
    let p = assert_problem(shenyang.post(&outside), 422);
    assert!(p["detail"].as_str().unwrap().contains("outside"), "{p}");
    let mut bad = shenyang_project("sy-4");
    bad["properties"]["category"] = json!("spaceport");
    let p = assert_problem(shenyang.post(&bad), 422);
    assert!(p["detail"].as_str().unwrap().contains("category"), "{p}");
    assert_eq!(p["property"], "category", "a 422 names the field: {p}");
    // An area is not a project (it would fit neither projects-points nor projects-lines): a planner's layer.
    let mut area = shenyang_project("sy-6");
    area["geometry"] = json!({"type": "Polygon", "coordinates": [[[123.42, 41.80], [123.44, 41.80], [123.44, 41.81], [123.42, 41.80]]]});
    let p = assert_problem(shenyang.post(&area), 422);
    assert!(p["detail"].as_str().unwrap().contains("Polygon geometries are not allowed"), "{p}");
    // A line: its counties are where it runs, it has length, and it touches Liaoning.
    let line = |id: &str, coords: Value| {
        let mut f = shenyang_project(id);
        f["geometry"] = json!({"type": "LineString", "coordinates": coords});
        f["properties"]["county_adcode"] = Value::Null;
        f["properties"]["city_adcode"] = Value::Null;
        f["properties"]["location_precision"] = json!("schematic");
        f
    };
    let mut named = line("sy-7", json!([[123.40, 41.79], [123.45, 41.82]]));
    named["properties"]["county_adcode"] = json!("210202");
    let p = assert_problem(shenyang.post(&named), 422);
    assert!(p["detail"].as_str().unwrap().contains("`county_adcode` 210202 is for a point"), "{p}");
    assert_eq!(p["property"], "county_adcode", "{p}");
    let p = assert_problem(shenyang.post(&line("sy-8", json!([[123.40, 41.79], [123.40, 41.79]]))), 422);
    assert!(p["detail"].as_str().unwrap().contains("two distinct positions"), "{p}");
    let mut beijing = line("sy-9", json!([[116.30, 39.90], [116.50, 39.95]]));
    beijing["properties"]["outside_province"] = json!("北京市");
    let p = assert_problem(province.post(&beijing), 422);
    assert!(p["detail"].as_str().unwrap().contains("wholly outside Liaoning"), "{p}");
    let mut wrong_county = shenyang_project("sy-5");
    wrong_county["properties"]["county_adcode"] = json!("210204");
    assert_problem(shenyang.post(&wrong_county), 422);
    assert_problem(shenyang.post(&shenyang_project("sy-1")), 409);
    // Unknown features; read-only collections.
    assert_problem(shenyang.put("no-such", &shenyang_project("no-such"), None), 404);
    let r =
        shenyang.auth(s.app.client.delete(s.app.url("/collections/counties/items/210103"))).send().unwrap();
    assert_problem(r, 405);

    // Nothing changed.
    assert_eq!(listing(), before);
    assert_eq!(s.app.get("/collections/projects/items/sy-1").text().unwrap(), before_item);
    let versions = s.app.get_json("/collections/projects/items/sy-1/versions");
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn a_body_in_cgcs2000_gauss_kruger_is_stored_in_crs84() {
    let s = spawn_store(Settings::local());
    let ed = Editor { token: add_token(&s.store, "省自然资源厅", "province"), s: &s };
    // The 沈河区 point in EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E, northing first), from PROJ.
    let mut child = std::process::Command::new("cs2cs")
        .args(["-f", "%.4f", "EPSG:4326", "EPSG:4549"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cs2cs (proj-bin) is installed by scripts/setup --test");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"41.8057 123.4335\n").unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let nums: Vec<f64> = out.split_whitespace().take(2).map(|n| n.parse().unwrap()).collect();
    let (northing, easting) = (nums[0], nums[1]);
    let mut body = shenyang_project("gk-test");
    // EPSG:4549's axis order is northing, easting.
    body["geometry"]["coordinates"] = json!([northing, easting]);
    let url = s.app.url("/collections/projects/items");
    let r = ed
        .auth(s.app.client.post(url))
        .header("content-type", "application/geo+json")
        .header("content-crs", "<http://www.opengis.net/def/crs/EPSG/0/4549>")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let f = s.app.get_json("/collections/projects/items/gk-test");
    let c = f["geometry"]["coordinates"].as_array().unwrap();
    assert!((c[0].as_f64().unwrap() - 123.4335).abs() < 1e-6, "{f}");
    assert!((c[1].as_f64().unwrap() - 41.8057).abs() < 1e-6, "{f}");
    // The server writes it back in the same CRS and order.
    let same =
        s.app.get_json("/collections/projects/items/gk-test?crs=http://www.opengis.net/def/crs/EPSG/0/4549");
    let sc = same["geometry"]["coordinates"].as_array().unwrap();
    assert!(
        (sc[0].as_f64().unwrap() - northing).abs() < 0.01 && (sc[1].as_f64().unwrap() - easting).abs() < 0.01,
        "{same} vs {out}"
    );
    // An unknown Content-Crs is a 400 naming the header.
    let r = ed
        .auth(s.app.client.post(s.app.url("/collections/projects/items")))
        .header("content-crs", "<urn:nothing>")
        .body(shenyang_project("gk-2").to_string())
        .send()
        .unwrap();
    let p = assert_problem(r, 400);
    assert!(p["detail"].as_str().unwrap().contains("Content-Crs"), "{p}");
}

/// A project read in GCJ-02 or BD-09 and written back as it was is unchanged: no version, the same stored
/// coordinates; and written back with one vertex moved, only that vertex moves. (Converted back, a position
/// written to 1e-6° could land on the next 1e-6° of WGS84 and record a move no one made; a merge patch of the
/// geometry in another CRS read the stored CRS84 positions it kept as that CRS's, moving the project 460 m.)
#[test]
fn a_project_read_in_gcj02_or_bd09_and_written_back_changes_only_what_was_moved() {
    let s = spawn_store(Settings::local());
    let ed = Editor { token: add_token(&s.store, "省自然资源厅", "province"), s: &s };
    let all = s.app.get_json("/collections/projects/items?limit=1000");
    let ids: Vec<String> =
        all["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
    assert!(ids.len() > 200, "{}", ids.len());
    // A PUT of a body in `crs`.
    let put_in = |crs: &str, id: &str, body: &Value| {
        let url = s.app.url(&format!("/collections/projects/items/{id}"));
        ed.auth(s.app.client.put(url))
            .header("content-type", "application/geo+json")
            .header("content-crs", format!("<{crs}>"))
            .body(body.to_string())
            .send()
            .unwrap()
    };
    // Every project in GCJ-02, every fourth in BD-09 (the same conversion, through GCJ-02).
    for (crs, step) in [(planatlas::geom::crs::GCJ02_URI, 1), (planatlas::geom::crs::BD09_URI, 4)] {
        for id in ids.iter().step_by(step) {
            let f = s.app.get_json(&format!("/collections/projects/items/{id}?crs={}", urlencode(crs)));
            let r = put_in(crs, id, &f);
            assert_eq!(r.status(), 204, "{crs} {id}: {:?}", r.text());
        }
    }
    // A merge patch in GCJ-02 or EPSG:4326 that leaves the positions alone (a type, a foreign member) moves
    // nothing: it is merged into the geometry as written in that CRS. So does a PUT with a `bbox` member.
    let point = ids
        .iter()
        .find(|id| {
            all["features"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == **id && f["geometry"]["type"] == "Point")
        })
        .unwrap();
    let gcj = planatlas::geom::crs::GCJ02_URI;
    for (crs, patch) in [
        (gcj, json!({"geometry": {"type": "Point"}})),
        (gcj, json!({"geometry": {"bbox": [0, 0, 1, 1]}})),
        ("http://www.opengis.net/def/crs/EPSG/0/4326", json!({"geometry": {"type": "Point"}})),
    ] {
        let url = s.app.url(&format!("/collections/projects/items/{point}"));
        let r = ed
            .auth(s.app.client.patch(url))
            .header("content-type", "application/merge-patch+json")
            .header("content-crs", format!("<{crs}>"))
            .body(patch.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status(), 204, "{crs} {patch}: {:?}", r.text());
    }
    let mut with_bbox =
        s.app.get_json(&format!("/collections/projects/items/{point}?crs={}", urlencode(gcj)));
    with_bbox["geometry"]["bbox"] = json!([0, 0, 1, 1]);
    assert_eq!(put_in(gcj, point, &with_bbox).status(), 204);
    let after = s.app.get_json("/collections/projects/items?limit=1000");
    assert_eq!(after["features"], all["features"]);
    for id in &ids {
        let versions = s.app.get_json(&format!("/collections/projects/items/{id}/versions"));
        assert_eq!(versions["versions"].as_array().unwrap().len(), 1, "{id}: {versions}");
    }
    // Moving one vertex of a line in GCJ-02 moves that vertex only.
    let line =
        all["features"].as_array().unwrap().iter().find(|f| f["geometry"]["type"] == "LineString").unwrap();
    let id = line["id"].as_str().unwrap();
    let mut moved = s.app.get_json(&format!("/collections/projects/items/{id}?crs={}", urlencode(gcj)));
    let lat = moved["geometry"]["coordinates"][1][1].as_f64().unwrap();
    moved["geometry"]["coordinates"][1][1] = json!(lat + 1e-4);
    assert_eq!(put_in(gcj, id, &moved).status(), 204);
    let now = s.app.get_json(&format!("/collections/projects/items/{id}"));
    let (was, is) = (
        line["geometry"]["coordinates"].as_array().unwrap(),
        now["geometry"]["coordinates"].as_array().unwrap(),
    );
    assert_eq!(was.len(), is.len());
    for (k, (w, i)) in was.iter().zip(is).enumerate() {
        assert_eq!(w == i, k != 1, "vertex {k}: {w} then {i}");
    }
}

#[test]
fn if_match_is_required_when_configured() {
    let mut settings = Settings::local();
    settings.require_if_match = true;
    let s = spawn_store(settings);
    let ed = Editor { token: add_token(&s.store, "省自然资源厅", "province"), s: &s };
    assert_eq!(ed.post(&shenyang_project("im-1")).status(), 201);
    assert_problem(ed.put("im-1", &shenyang_project("im-1"), None), 428);
    assert_problem(ed.delete("im-1"), 428);
    let tag = etag(&s, "/collections/projects/items/im-1");
    assert_eq!(ed.put("im-1", &shenyang_project("im-1"), Some(&tag)).status(), 204);
}

#[test]
fn two_racing_puts_with_one_if_match_exactly_one_wins() {
    let s = Arc::new(spawn_store(Settings::local()));
    let token = add_token(&s.store, "省发展改革委", "province");
    let ed = Editor { token: token.clone(), s: &s };
    assert_eq!(ed.post(&shenyang_project("race")).status(), 201);
    for round in 0..5 {
        let tag = etag(&s, "/collections/projects/items/race");
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|n| {
                let (s, barrier, token, tag) = (s.clone(), barrier.clone(), token.clone(), tag.clone());
                std::thread::spawn(move || {
                    let ed = Editor { token, s: &s };
                    let mut body = shenyang_project("race");
                    body["properties"]["name_en"] = json!(format!("writer {n} round {round}"));
                    barrier.wait();
                    ed.put("race", &body, Some(&tag)).status().as_u16()
                })
            })
            .collect();
        let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [204, 412], "round {round}");
    }
    let versions = s.app.get_json("/collections/projects/items/race/versions");
    assert_eq!(versions["versions"].as_array().unwrap().len(), 6, "one create and five winning replaces");
}

#[test]
fn failed_token_attempts_are_rate_limited() {
    let s = spawn_store(Settings::local());
    let bad = Editor { token: "pa_guess".into(), s: &s };
    for _ in 0..planatlas::auth::MAX_FAILURES {
        assert_problem(bad.delete("anshan-benxi-steel-new-materials-cluster"), 401);
    }
    let r = bad.delete("anshan-benxi-steel-new-materials-cluster");
    assert!(r.headers().contains_key("retry-after"));
    assert_problem(r, 429);
}

#[test]
fn behind_a_trusted_proxy_failures_count_per_forwarded_client_and_the_scheme_is_case_insensitive() {
    let mut settings = Settings::local();
    settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let s = spawn_store(settings);
    let good = add_token(&s.store, "省发展改革委", "province");
    let send = |token: &str, scheme: &str, client: &str| {
        s.app
            .client
            .patch(s.app.url("/collections/projects/items/xudabao-nuclear-power-plant"))
            .header("authorization", format!("{scheme} {token}"))
            .header("x-forwarded-for", client)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"properties": {"name_en": format!("Xudabao ({client})")}}).to_string())
            .send()
            .unwrap()
    };
    for _ in 0..planatlas::auth::MAX_FAILURES {
        assert_problem(send("pa_guess", "Bearer", "203.0.113.66"), 401);
    }
    // The guessing client is held back; another client behind the same proxy is not.
    assert_problem(send(&good, "Bearer", "203.0.113.66"), 429);
    let r = send(&good, "BEARER", "198.51.100.7");
    assert!(r.status().is_success(), "{}: {}", r.status(), r.text().unwrap());
    let f = s.app.get_json("/collections/projects/items/xudabao-nuclear-power-plant");
    assert_eq!(f["properties"]["name_en"], "Xudabao (198.51.100.7)");
    // A proxy appends the address it saw to what the client sent: a client that makes up the leftmost entries
    // is still one client, the rightmost untrusted one (a new made-up address per guess was never held back).
    for i in 0..planatlas::auth::MAX_FAILURES {
        assert_problem(send("pa_guess", "Bearer", &format!("192.0.2.{i}, 203.0.113.99")), 401);
    }
    assert_problem(send(&good, "Bearer", "192.0.2.200, 203.0.113.99"), 429);
    // A trusted proxy further along is skipped: the address before it is the client's.
    assert_problem(send(&good, "Bearer", "192.0.2.201, 203.0.113.99, 127.0.0.1"), 429);
    // The proxy writes X-Forwarded-For (the default --client-header): a Forwarded header is the client's own
    // and names nobody.
    let forged = |token: &str, n: u32| {
        s.app
            .client
            .patch(s.app.url("/collections/projects/items/xudabao-nuclear-power-plant"))
            .header("authorization", format!("Bearer {token}"))
            .header("forwarded", format!("for=192.0.2.{n}"))
            .header("x-forwarded-for", "203.0.113.120")
            .header("content-type", "application/merge-patch+json")
            .body(json!({"properties": {"name_en": "Xudabao"}}).to_string())
            .send()
            .unwrap()
    };
    for n in 0..planatlas::auth::MAX_FAILURES {
        assert_problem(forged("pa_guess", n), 401);
    }
    assert_problem(forged(&good, 99), 429);
}

#[test]
fn text_a_spreadsheet_would_run_is_exported_to_csv_as_text() {
    let s = spawn_store(Settings::local());
    let ed = Editor { token: add_token(&s.store, "沈阳市发展改革委", "city:210100"), s: &s };
    let mut body = shenyang_project("csv-formula");
    body["properties"]["name_en"] = json!("=HYPERLINK(\"http://127.0.0.1/\",\"x\")");
    body["properties"]["excerpt"] = json!("@SUM(1,2)");
    assert_eq!(ed.post(&body).status(), 201);
    for path in ["/exports/projects.csv", "/collections/projects/items?f=csv&limit=1000"] {
        let text = s.app.get(path).text().unwrap();
        let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let head = rows.headers().unwrap().clone();
        let col = |name: &str| head.iter().position(|h| h == name).unwrap();
        let row =
            rows.records().map(Result::unwrap).find(|r| &r[0] == "csv-formula").expect("the project's row");
        assert_eq!(&row[col("name_en")], "'=HYPERLINK(\"http://127.0.0.1/\",\"x\")", "{path}");
        assert_eq!(&row[col("excerpt")], "'@SUM(1,2)", "{path}");
        assert_eq!(&row[col("name_zh")], "测试项目（沈阳）", "{path}: other text as it is");
    }
}

#[test]
fn owslib_writes_and_gdal_reads_the_changed_layer() {
    let s = spawn_store(Settings::local());
    let token = add_token(&s.store, "省发展改革委", "province");
    let before = count(&s);
    let script = r#"
import json, sys
from owslib.ogcapi.features import Features
url, token, feature, replaced = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
api = Features(url, headers={"Authorization": "Bearer " + token, "Content-Type": "application/geo+json"})
api.collection_item_create("projects", json.dumps(feature))
got = api.collection_item("projects", "owslib-test")
assert got["properties"]["name_en"] == "Test project (Shenyang)", got
api.collection_item_update("projects", "owslib-test", json.dumps(replaced))
got = api.collection_item("projects", "owslib-test")
assert got["properties"]["name_en"] == "Replaced by OWSLib", got
print("ok")
"#;
    let mut replaced = shenyang_project("owslib-test");
    replaced["properties"]["name_en"] = json!("Replaced by OWSLib");
    let (ok, out) = run(
        &python(),
        &[
            "-c",
            script,
            &s.app.base,
            &token,
            &shenyang_project("owslib-test").to_string(),
            &replaced.to_string(),
        ],
    );
    assert!(ok && out.contains("ok"), "{out}");
    // GDAL reads the changed layer: one more feature, with the replaced value.
    let (ok, out) = run(
        "ogrinfo",
        &["-ro", "-al", "-q", "-where", "id = 'owslib-test'", &format!("OAPIF:{}", s.app.base), "projects"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("Replaced by OWSLib"), "{out}");
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &format!("OAPIF:{}", s.app.base), "projects"]);
    assert!(ok && out.contains(&format!("Feature Count: {}", before + 1)), "{out}");
    // OWSLib deletes.
    let script = r#"
import sys
from owslib.ogcapi.features import Features
api = Features(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
api.collection_item_delete("projects", "owslib-test")
print("ok")
"#;
    let (ok, out) = run(&python(), &["-c", script, &s.app.base, &token]);
    assert!(ok && out.contains("ok"), "{out}");
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &format!("OAPIF:{}", s.app.base), "projects"]);
    assert!(ok && out.contains(&format!("Feature Count: {before}")), "{out}");
}

fn import(at: &planatlas::store::engine::Location, file: &std::path::Path) -> (bool, String) {
    let mut args = vec![
        "import".to_owned(),
        file.to_str().unwrap().to_owned(),
        "--collection".into(),
        "projects".into(),
    ];
    args.extend(crate::helpers::store_args(at));
    run(env!("CARGO_BIN_EXE_planatlas"), &args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn import_is_validated_all_or_nothing_and_a_running_server_picks_it_up() {
    let s = spawn_store(Settings::local());
    let before = count(&s);
    let existing = s.app.get_json("/collections/projects/items/xudabao-nuclear-power-plant");
    let mut changed = existing.clone();
    changed["properties"]["name_en"] = json!("Xudabao (imported)");
    let tmp = tempfile::tempdir().unwrap();

    // One bad feature: nothing is imported, and the message names it.
    let mut bad = shenyang_project("imp-bad");
    bad["properties"]["category"] = json!("spaceport");
    let file = tmp.path().join("bad.geojson");
    let fc = json!({"type": "FeatureCollection", "features": [shenyang_project("imp-new"), bad]});
    std::fs::write(&file, fc.to_string()).unwrap();
    let (ok, out) = import(&s.store, &file);
    assert!(!ok, "{out}");
    assert!(
        out.contains("imp-bad") && out.contains("spaceport") && out.contains("nothing imported"),
        "{out}"
    );
    assert_problem(s.app.get("/collections/projects/items/imp-new"), 404);
    // A height (a third number) is refused by name, not dropped unsaid; so is it over HTTP.
    let mut high = shenyang_project("imp-high");
    high["geometry"]["coordinates"] = json!([123.4335, 41.8057, 45.0]);
    let file = tmp.path().join("high.geojson");
    std::fs::write(&file, json!({"type": "FeatureCollection", "features": [high]}).to_string()).unwrap();
    let (ok, out) = import(&s.store, &file);
    assert!(
        !ok && out.contains("imp-high") && out.contains("height") && out.contains("nothing imported"),
        "{out}"
    );
    let ed = Editor { token: add_token(&s.store, "省自然资源厅", "province"), s: &s };
    let p = assert_problem(ed.post(&high), 400);
    assert!(p["detail"].as_str().unwrap().contains("height"), "{p}");
    let mut xudabao_high = existing.clone();
    xudabao_high["geometry"]["coordinates"].as_array_mut().unwrap().push(json!(12.5));
    assert_problem(ed.put("xudabao-nuclear-power-plant", &xudabao_high, None), 400);
    assert_problem(s.app.get("/collections/projects/items/imp-high"), 404);

    // A good file: one created, one changed; the running server shows both within seconds.
    let file = tmp.path().join("good.geojson");
    let fc = json!({"type": "FeatureCollection", "features": [shenyang_project("imp-new"), changed]});
    std::fs::write(&file, fc.to_string()).unwrap();
    let (ok, out) = import(&s.store, &file);
    assert!(ok, "{out}");
    assert!(out.contains("1 created, 1 changed, 0 unchanged"), "{out}");
    let mut seen = false;
    for _ in 0..50 {
        if count(&s) == before + 1 {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(seen, "the server picked up the import");
    let f = s.app.get_json("/collections/projects/items/xudabao-nuclear-power-plant");
    assert_eq!(f["properties"]["name_en"], "Xudabao (imported)");
    let h = s.app.get_json("/collections/projects/items/imp-new/versions");
    assert_eq!(h["versions"][0]["operation"], "import", "{h}");
}

/// `planatlas export` with the store's options, as a list of arguments.
fn cli_export(
    at: &planatlas::store::engine::Location,
    format: &str,
    out: &std::path::Path,
) -> (bool, String) {
    let mut args: Vec<String> = ["export", "--format", format, "--collection", "projects", "--out"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    args.push(out.to_str().unwrap().to_owned());
    args.extend(crate::helpers::store_args(at));
    run(env!("CARGO_BIN_EXE_planatlas"), &args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn the_cli_exports_the_store_and_its_geopackage_imports_back_unchanged() {
    let s = spawn_store(Settings::local());
    let ed = Editor { token: add_token(&s.store, "省发展改革委", "province"), s: &s };
    // A project written with only what a project needs (no notes, no cite, no place id), and an edit.
    let mut bare = shenyang_project("cli-export-bare");
    for k in ["consistency_notes", "place_id", "outside_province", "lead_unit"] {
        bare["properties"].as_object_mut().unwrap().remove(k);
    }
    assert_eq!(ed.post(&bare).status(), 201);
    let r = ed.patch("xudabao-nuclear-power-plant", &json!({"properties": {"name_en": "Xudabao (edited)"}}));
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let tmp = tempfile::tempdir().unwrap();

    // The command line writes what the server serves, edits included.
    let file = tmp.path().join("projects.geojson");
    let (ok, out) = cli_export(&s.store, "geojson", &file);
    assert!(ok, "{out}");
    let http = s.app.get("/exports/projects.geojson").bytes().unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), http.to_vec(), "the CLI and HTTP exports are the same bytes");
    let fc: Value = serde_json::from_slice(&http).unwrap();
    let name = |id: &str| {
        fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .map(|f| f["properties"]["name_en"].clone())
    };
    assert_eq!(name("xudabao-nuclear-power-plant"), Some(json!("Xudabao (edited)")));
    assert!(name("cli-export-bare").is_some());

    // Both exports import back into the same store with nothing created or changed.
    let gpkg = tmp.path().join("projects.gpkg");
    let (ok, out) = cli_export(&s.store, "gpkg", &gpkg);
    assert!(ok, "{out}");
    // So does a GeoPackage ogr2ogr makes of the GeoJSON export: GDAL writes its lists as "(1:三.(四).1)" text.
    let copied = tmp.path().join("copied.gpkg");
    let (ok, out) = run("ogr2ogr", &["-f", "GPKG", copied.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(ok, "{out}");
    let (ok, out) = run(
        "ogrinfo",
        &["-ro", "-q", "-sql", "SELECT sections FROM projects LIMIT 1", copied.to_str().unwrap()],
    );
    assert!(ok && out.contains(" = (1:"), "GDAL's own list text: {out}");
    for f in [&file, &gpkg, &copied] {
        let (ok, out) = import(&s.store, f);
        assert!(ok, "{}: {out}", f.display());
        assert!(out.contains(" 0 created, 0 changed,"), "{}: {out}", f.display());
    }
    let h = s.app.get_json("/collections/projects/items/xudabao-nuclear-power-plant/versions");
    let ops: Vec<&str> =
        h["versions"].as_array().unwrap().iter().filter_map(|v| v["operation"].as_str()).collect();
    assert!(!ops.is_empty() && !ops.contains(&"import"), "no import version was written: {h}");
}

#[test]
fn a_project_without_an_id_gets_one_from_its_english_name_unique_in_the_store() {
    let s = spawn_store(Settings::local());
    let ed = Editor { token: add_token(&s.store, "省发展改革委", "province"), s: &s };
    let mut body = shenyang_project("unused");
    body["properties"].as_object_mut().unwrap().remove("id");
    body["properties"]["name_en"] = json!("Hunhe  River: Wetland Park (phase 2)");
    let mut made = Vec::new();
    for _ in 0..3 {
        let r = ed.post(&body);
        assert_eq!(r.status(), 201);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        made.push(location.rsplit('/').next().unwrap().to_owned());
    }
    assert_eq!(
        made,
        [
            "hunhe-river-wetland-park-phase-2",
            "hunhe-river-wetland-park-phase-2-2",
            "hunhe-river-wetland-park-phase-2-3"
        ]
    );
    // A deleted project keeps its id (its history answers there), so a new one with its name gets the next.
    assert_eq!(ed.delete(&made[2]).status(), 204);
    let r = ed.post(&body);
    assert_eq!(r.status(), 201);
    assert!(r.headers()["location"].to_str().unwrap().ends_with("/hunhe-river-wetland-park-phase-2-4"));
    for id in &made[..2] {
        let f = s.app.get_json(&format!("/collections/projects/items/{id}"));
        assert_eq!(f["properties"]["name_en"], "Hunhe  River: Wetland Park (phase 2)");
    }
}

/// A project as it stood at an instant before another project and its own target were made: the catalogue of
/// then is built without the newer project's target values (it failed, and the answer was a 500), and the
/// project answers with its stage that day.
#[test]
fn a_version_at_an_instant_before_a_newer_projects_target_and_its_value() {
    let s = spawn_store(Settings::local());
    let province = add_token(&s.store, "省发展改革委", "province");
    let before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut body = shenyang_project("target-owner");
    body["properties"]["targets"] = json!([{
        "id": "target-owner-output", "indicator_zh": "产值", "indicator_en": "output", "comparator": ">=",
        "value": 10, "unit": "亿元", "unit_en": "100 million yuan", "section": "三.(四).1", "excerpt": "测试"
    }]);
    let r = s
        .app
        .client
        .post(s.app.url("/collections/projects/items"))
        .header("authorization", format!("Bearer {province}"))
        .header("content-type", "application/geo+json")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let r = s
        .app
        .client
        .post(s.app.url("/collections/indicators/items"))
        .header("authorization", format!("Bearer {province}"))
        .header("content-type", "application/geo+json")
        .body(
            json!({"type": "Feature", "geometry": null, "properties": {"target": "target-owner-output", "period": "2023", "value": 4.0, "unit": "亿元", "source": "测试"}})
                .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let r = s.app.get(&format!(
        "/collections/projects/items/xudabao-nuclear-power-plant?datetime={}",
        urlencode(&before)
    ));
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().unwrap();
    assert!(doc["properties"]["stage"].is_string(), "{doc}");
    let list = s.app.get(&format!(
        "/collections/projects/items?datetime={}&filter={}",
        urlencode(&before),
        urlencode("id='target-owner'")
    ));
    assert_eq!(list.status(), 200);
    assert_eq!(list.json::<Value>().unwrap()["numberMatched"], 0, "the newer project did not exist then");
}

/// A write that changes nothing stored (a merge patch of derived properties only, a PUT of the same record)
/// makes no version, and is still checked for scope: another city's token gets its 403.
#[test]
fn a_write_that_changes_nothing_makes_no_version_and_is_still_scoped() {
    let s = spawn_store(Settings::local());
    let shenyang = add_token(&s.store, "沈阳市发展改革委", "city:210100");
    let dalian = add_token(&s.store, "大连市发展改革委", "city:210200");
    let ed = Editor { token: shenyang.clone(), s: &s };
    assert_eq!(ed.post(&shenyang_project("no-op")).status(), 201);
    let versions = || {
        s.app.get_json("/collections/projects/items/no-op/versions")["versions"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(versions(), 1);
    let tag = s.app.get("/collections/projects/items/no-op").headers()["etag"].to_str().unwrap().to_owned();
    let patch = |token: &str, body: Value| {
        s.app
            .client
            .patch(s.app.url("/collections/projects/items/no-op"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .unwrap()
    };
    assert_problem(patch(&dalian, json!({"properties": {"stage": "竣工"}})), 403);
    let r = patch(&shenyang, json!({"properties": {"stage": "竣工", "region_ids": ["x"]}}));
    assert_eq!(r.status(), 204);
    assert_eq!(versions(), 1, "nothing stored changed, so no version");
    let now = s.app.get("/collections/projects/items/no-op");
    assert_eq!(now.headers()["etag"].to_str().unwrap(), tag);
    let r = patch(&shenyang, json!({"properties": {"name_en": "Changed"}}));
    assert_eq!(r.status(), 204);
    assert_eq!(versions(), 2);
}

/// A write is not cut short by the request time limit (it was answered 503 "stopped" and committed all the
/// same), and writes without If-Match that land at once are not conflicts (they were 412s): a PUT replaces
/// what is current, a PATCH is applied again to it.
#[test]
fn writes_finish_past_the_time_limit_and_unconditional_ones_do_not_conflict() {
    let mut settings = Settings::local();
    settings.request_timeout_secs = 0.02;
    let s = spawn_store(settings);
    let token = add_token(&s.store, "省发展改革委", "province");
    let ed = Editor { token: token.clone(), s: &s };
    for i in 0..3 {
        let r = ed.post(&shenyang_project(&format!("slow-{i}")));
        assert_eq!(r.status(), 201, "a write longer than the 20 ms limit: {:?}", r.text());
    }
    let settings = Settings::local();
    let s = spawn_store(settings);
    let token = add_token(&s.store, "省发展改革委", "province");
    let barrier = Arc::new(Barrier::new(6));
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let (s, token, barrier) = (&s, token.clone(), barrier.clone());
                scope.spawn(move || {
                    barrier.wait();
                    let url = s.app.url("/collections/projects/items/xudabao-nuclear-power-plant");
                    let r = if i % 2 == 0 {
                        s.app
                            .client
                            .patch(url)
                            .header("content-type", "application/merge-patch+json")
                            .body(json!({"properties": {"name_en": format!("Xudabao {i}")}}).to_string())
                    } else {
                        let mut f = s.app.get_json("/collections/projects/items/xudabao-nuclear-power-plant");
                        f["properties"]["excerpt"] = json!(format!("替换 {i}"));
                        s.app
                            .client
                            .put(url)
                            .header("content-type", "application/geo+json")
                            .body(f.to_string())
                    };
                    r.header("authorization", format!("Bearer {token}")).send().unwrap().status().as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 204 || *s == 200), "{statuses:?}");
}

/// A city's token cannot change the plan's targets a project carries, nor delete a project holding them, nor
/// write a project reaching outside Liaoning; a province token can. A token outside the project's area gets its
/// 403 before the change is validated, so it learns nothing of the other city's records.
#[test]
fn a_city_token_leaves_the_plans_targets_and_other_provinces_alone() {
    let s = spawn_store(Settings::local());
    let shenyang = Editor { token: add_token(&s.store, "沈阳市发展改革委", "city:210100"), s: &s };
    let dalian = Editor { token: add_token(&s.store, "大连市发展改革委", "city:210200"), s: &s };
    let province = Editor { token: add_token(&s.store, "省发展改革委", "province"), s: &s };
    // A 大连 project carrying a plan target.
    let projects = s.app.get_json("/collections/projects/items?limit=1000&city=210200");
    let holder = projects["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["properties"]["targets"].as_array().is_some_and(|t| !t.is_empty())
                && f["properties"]["city_adcodes"] == json!(["210200"])
        })
        .expect("a Dalian project with a target")
        .clone();
    let id = holder["id"].as_str().unwrap().to_owned();
    let target = holder["properties"]["targets"][0].clone();
    let target_id = target["id"].as_str().unwrap().to_owned();
    let value =
        s.app.get_json(&format!("/collections/targets/items/{target_id}"))["properties"]["value"].clone();
    let mut lowered = target.clone();
    lowered["value"] = json!(0.001);
    for body in [json!({"properties": {"targets": [lowered]}}), json!({"properties": {"targets": null}})] {
        let p = assert_problem(dalian.patch(&id, &body), 403);
        assert!(p["detail"].as_str().unwrap().contains("province token"), "{p}");
    }
    let p = assert_problem(dalian.delete(&id), 403);
    assert!(p["detail"].as_str().unwrap().contains("delete a project holding"), "{p}");
    assert_eq!(
        s.app.get_json(&format!("/collections/targets/items/{target_id}"))["properties"]["value"],
        value
    );
    // Its other properties are the city's to change, and its targets may be sent back as the server wrote
    // them (a value 4 as 4.0).
    assert_eq!(dalian.patch(&id, &json!({"properties": {"name_en": "Renamed by Dalian"}})).status(), 204);
    let mut respelt = target.clone();
    respelt["value"] = json!(value.as_f64().unwrap());
    assert_eq!(dalian.patch(&id, &json!({"properties": {"targets": [respelt]}})).status(), 204);
    // The province may change a target.
    assert_eq!(province.patch(&id, &json!({"properties": {"targets": [lowered]}})).status(), 204);
    assert_eq!(
        s.app.get_json(&format!("/collections/targets/items/{target_id}"))["properties"]["value"],
        0.001
    );

    // A line from 沈阳 far into Inner Mongolia and Beijing is not 沈阳's alone.
    let mut line = shenyang_project("sy-out");
    line["geometry"] =
        json!({"type": "LineString", "coordinates": [[123.35, 42.75], [122.0, 44.5], [116.4, 39.9]]});
    for k in ["county_adcode", "city_adcode", "place_id"] {
        line["properties"][k] = Value::Null;
    }
    line["properties"]["location_precision"] = json!("schematic");
    line["properties"]["outside_province"] = json!("内蒙古自治区、北京市");
    let p = assert_problem(shenyang.post(&line), 403);
    assert!(p["detail"].as_str().unwrap().contains("outside Liaoning"), "{p}");
    assert_eq!(province.post(&line).status(), 201);
    let p = assert_problem(shenyang.patch("sy-out", &json!({"properties": {"name_en": "x"}})), 403);
    assert!(p["detail"].as_str().unwrap().contains("outside Liaoning"), "{p}");

    // A 沈阳 project with a report: 大连's token deleting it, or sending it an invalid change, hears 403.
    assert_eq!(shenyang.post(&shenyang_project("sy-report")).status(), 201);
    let r = shenyang
        .auth(s.app.client.post(s.app.url("/collections/progress/items")))
        .header("content-type", "application/geo+json")
        .body(
            json!({"type": "Feature", "geometry": null, "properties": {"project": "sy-report", "period": "2024Q1",
                "stage": "在建", "investment_to_date": 1.0, "source": "测试"}})
            .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_problem(dalian.delete("sy-report"), 403);
    // A report 大连 may not file is a 403 even when the report itself is wrong (a 前期 after 在建).
    let r = dalian
        .auth(s.app.client.post(s.app.url("/collections/progress/items")))
        .header("content-type", "application/geo+json")
        .body(
            json!({"type": "Feature", "geometry": null, "properties": {"project": "sy-report", "period": "2024Q2",
                "stage": "前期", "source": "测试"}})
            .to_string(),
        )
        .send()
        .unwrap();
    assert_problem(r, 403);
    assert_problem(dalian.patch("sy-report", &json!({"properties": {"category": "nonsense"}})), 403);
    let p =
        assert_problem(shenyang.patch("sy-report", &json!({"properties": {"category": "nonsense"}})), 422);
    assert_eq!(p["property"], "category", "{p}");
    // A zig-zag of more positions than a project may have (map tiles simplify every project's line).
    let max = planatlas::store::projects::MAX_PROJECT_POSITIONS;
    let zigzag: Vec<Value> = (0..=max)
        .map(|i| json!([123.30 + 0.1 * (i % 2) as f64, 41.70 + 0.05 * i as f64 / max as f64]))
        .collect();
    let mut long = shenyang_project("sy-zigzag");
    long["geometry"] = json!({"type": "LineString", "coordinates": zigzag});
    for k in ["county_adcode", "city_adcode", "place_id"] {
        long["properties"][k] = Value::Null;
    }
    long["properties"]["location_precision"] = json!("schematic");
    let p = assert_problem(shenyang.post(&long), 400);
    assert_eq!(p["parameter"], "geometry", "{p}");
    assert!(p["detail"].as_str().unwrap().contains(&format!("at most {max}")), "{p}");
    // An id that is no project id is refused naming it, and a patch may not rename a feature.
    let mut slashed = shenyang_project("../../etc");
    slashed["id"] = json!("../../etc");
    let p = assert_problem(shenyang.post(&slashed), 422);
    assert_eq!(p["property"], "id", "{p}");
    let mut numbered = shenyang_project("x");
    numbered["id"] = json!(8);
    numbered["properties"].as_object_mut().unwrap().remove("id");
    let p = assert_problem(shenyang.post(&numbered), 422);
    assert_eq!(p["property"], "id", "a number is refused, not replaced by a made id: {p}");
    let p = assert_problem(shenyang.patch("sy-report", &json!({"id": "renamed"})), 400);
    assert_eq!(p["parameter"], "id", "{p}");
}

/// A write whose body never finishes arriving is answered 408 within the request time limit (it held its
/// connection, unanswered, for as long as the client kept it open), and the server goes on.
#[test]
fn a_write_body_that_never_arrives_is_answered_408() {
    use std::io::{Read, Write};
    let mut settings = Settings::local();
    settings.request_timeout_secs = 1.0;
    let s = spawn_store(settings);
    let token = add_token(&s.store, "省发展改革委", "province");
    let host = s.app.base.trim_start_matches("http://").trim_end_matches('/').to_owned();
    for (method, path) in [
        ("POST", "/collections/projects/items"),
        ("PUT", "/collections/slow-layer"),
        // A read whose body stalls is the client's delay too (it raced the 503 of a query that ran too long).
        ("POST", "/collections/projects/intersecting?filter=category%20IN%20('energy','water')"),
    ] {
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_mins(1))).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/geo+json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{{\"type\":"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 408"), "{method} {path}: {text}");
        assert!(text.contains("request-timeout") && text.contains("did not arrive"), "{text}");
    }
    assert_eq!(s.app.get("/health").status(), 200);
    // The catalogue as it stood before year 0 is a bad datetime, not a missing catalogue (a 404 with a parse
    // error in it).
    for raw in ["-0001-01-01", "-0001-06-30"] {
        let p = s.app.get_problem(&format!("/collections/projects/items?datetime={raw}"), 400);
        assert_eq!(p["parameter"], "datetime", "{raw}: {p}");
    }
}
