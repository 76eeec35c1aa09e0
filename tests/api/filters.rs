//! CQL2 filters over the real catalogue: a table of filters, each in text and JSON form, compared with an
//! independent evaluation in plain Rust; the PyPI `cql2` package as an independent parser; bad filters;
//! `sortby` with paging; `properties`.

use std::collections::BTreeSet;

use geo::{Contains, Coord, Geometry, Intersects, LineString, Point, Rect, Relate, Within, polygon};
use planatlas::store::Feature;
use serde_json::Value;

use crate::helpers::{app, assert_problem, catalog, urlencode};

type Pred = Box<dyn Fn(&Feature) -> bool>;

fn s(f: &Feature, k: &str) -> Option<String> {
    f.properties.get(k).and_then(Value::as_str).map(str::to_owned)
}
fn n(f: &Feature, k: &str) -> Option<f64> {
    f.properties.get(k).and_then(Value::as_f64)
}
fn arr(f: &Feature, k: &str) -> Vec<String> {
    f.properties
        .get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
fn g(f: &Feature) -> &Geometry<f64> {
    f.geometry.as_ref().unwrap()
}
fn rect(a: f64, b: f64, c: f64, d: f64) -> Geometry<f64> {
    Geometry::Rect(Rect::new(Coord { x: a, y: b }, Coord { x: c, y: d }))
}
fn dist(f: &Feature, x: f64, y: f64) -> f64 {
    planatlas::geom::geodesic::point_geometry_distance_m(Coord { x, y }, g(f))
}

/// The table: (collection, cql2-text, independent predicate).
fn table() -> Vec<(&'static str, &'static str, Pred)> {
    let dalian = polygon![(x: 121.0, y: 38.7), (x: 122.5, y: 38.7), (x: 122.5, y: 40.0), (x: 121.0, y: 40.0)];
    let dalian2 = dalian.clone();
    vec![
        ("projects", "category = 'energy'", Box::new(|f| s(f, "category").as_deref() == Some("energy"))),
        ("projects", "category <> 'energy'", Box::new(|f| s(f, "category").as_deref() != Some("energy"))),
        (
            "projects",
            "category IN ('energy', 'water')",
            Box::new(|f| matches!(s(f, "category").as_deref(), Some("energy" | "water"))),
        ),
        (
            "projects",
            "NOT (category IN ('energy', 'water'))",
            Box::new(|f| !matches!(s(f, "category").as_deref(), Some("energy" | "water"))),
        ),
        ("projects", "name_zh LIKE '%机场%'", Box::new(|f| s(f, "name_zh").unwrap().contains("机场"))),
        ("projects", "name_zh LIKE '沈阳%'", Box::new(|f| s(f, "name_zh").unwrap().starts_with("沈阳"))),
        ("projects", "name_en LIKE '%Airport%'", Box::new(|f| s(f, "name_en").unwrap().contains("Airport"))),
        (
            "projects",
            "CASEI(name_en) LIKE CASEI('%airport%')",
            Box::new(|f| s(f, "name_en").unwrap().to_lowercase().contains("airport")),
        ),
        (
            "projects",
            "location_precision = 'site'",
            Box::new(|f| s(f, "location_precision").as_deref() == Some("site")),
        ),
        (
            "projects",
            "location_precision IN ('site', 'district')",
            Box::new(|f| matches!(s(f, "location_precision").as_deref(), Some("site" | "district"))),
        ),
        (
            "projects",
            "lead_unit = '省发展改革委'",
            Box::new(|f| s(f, "lead_unit").as_deref() == Some("省发展改革委")),
        ),
        ("projects", "lead_unit IS NULL", Box::new(|f| s(f, "lead_unit").is_none())),
        ("projects", "lead_unit IS NOT NULL", Box::new(|f| s(f, "lead_unit").is_some())),
        ("projects", "length_km > 100", Box::new(|f| n(f, "length_km").is_some_and(|v| v > 100.0))),
        (
            "projects",
            "length_km BETWEEN 50 AND 200",
            Box::new(|f| n(f, "length_km").is_some_and(|v| (50.0..=200.0).contains(&v))),
        ),
        ("projects", "length_km IS NULL", Box::new(|f| n(f, "length_km").is_none())),
        ("projects", "length_km * 2 > 300", Box::new(|f| n(f, "length_km").is_some_and(|v| v * 2.0 > 300.0))),
        ("projects", "length_km + 10 < 60", Box::new(|f| n(f, "length_km").is_some_and(|v| v + 10.0 < 60.0))),
        (
            "projects",
            "category = 'railway' AND length_km > 100",
            Box::new(|f| {
                s(f, "category").as_deref() == Some("railway") && n(f, "length_km").is_some_and(|v| v > 100.0)
            }),
        ),
        (
            "projects",
            "category = 'airport' OR category = 'port'",
            Box::new(|f| matches!(s(f, "category").as_deref(), Some("airport" | "port"))),
        ),
        (
            "projects",
            "(category = 'energy' OR category = 'water') AND A_CONTAINS(region_ids, ('liaoxi-zone'))",
            Box::new(|f| {
                matches!(s(f, "category").as_deref(), Some("energy" | "water"))
                    && arr(f, "region_ids").contains(&"liaoxi-zone".into())
            }),
        ),
        (
            "projects",
            "A_CONTAINS(region_ids, ('coastal-belt', 'liaoxi-zone'))",
            Box::new(|f| {
                let r = arr(f, "region_ids");
                r.contains(&"coastal-belt".into()) && r.contains(&"liaoxi-zone".into())
            }),
        ),
        (
            "projects",
            "A_OVERLAPS(region_ids, ('liaodong-zone', 'liaoxi-zone'))",
            Box::new(|f| arr(f, "region_ids").iter().any(|r| r == "liaodong-zone" || r == "liaoxi-zone")),
        ),
        (
            "projects",
            "A_CONTAINEDBY(region_ids, ('shenyang-circle'))",
            Box::new(|f| arr(f, "region_ids").iter().all(|r| r == "shenyang-circle")),
        ),
        (
            "projects",
            "A_EQUALS(region_ids, ('coastal-belt'))",
            Box::new(|f| arr(f, "region_ids") == vec!["coastal-belt".to_owned()]),
        ),
        (
            "projects",
            "A_CONTAINS(sections, ('四.(四).2'))",
            Box::new(|f| arr(f, "sections").contains(&"四.(四).2".into())),
        ),
        (
            "projects",
            "A_CONTAINS(city_names, ('大连市'))",
            Box::new(|f| arr(f, "city_names").contains(&"大连市".into())),
        ),
        (
            "projects",
            "A_OVERLAPS(county_adcodes, ('210522', '210624'))",
            Box::new(|f| arr(f, "county_adcodes").iter().any(|c| c == "210522" || c == "210624")),
        ),
        (
            "projects",
            "S_INTERSECTS(geometry, BBOX(123.0, 41.5, 124.0, 42.1))",
            Box::new(|f| g(f).intersects(&rect(123.0, 41.5, 124.0, 42.1))),
        ),
        (
            "projects",
            "S_INTERSECTS(geometry, POLYGON((121 38.7, 122.5 38.7, 122.5 40, 121 40, 121 38.7)))",
            Box::new(move |f| g(f).intersects(&dalian)),
        ),
        (
            "projects",
            "S_WITHIN(geometry, POLYGON((121 38.7, 122.5 38.7, 122.5 40, 121 40, 121 38.7)))",
            Box::new(move |f| g(f).is_within(&dalian2)),
        ),
        (
            "projects",
            "S_DISJOINT(geometry, BBOX(118, 38, 122, 44))",
            Box::new(|f| !g(f).intersects(&rect(118.0, 38.0, 122.0, 44.0))),
        ),
        (
            "projects",
            "S_DWITHIN(geometry, POINT(123.4 41.8), 10000)",
            Box::new(|f| dist(f, 123.4, 41.8) <= 10_000.0),
        ),
        (
            "projects",
            "S_DWITHIN(geometry, POINT(121.6 38.9), 5000) AND category = 'science'",
            Box::new(|f| dist(f, 121.6, 38.9) <= 5_000.0 && s(f, "category").as_deref() == Some("science")),
        ),
        (
            "projects",
            "S_INTERSECTS(geometry, LINESTRING(120 40, 125 42))",
            Box::new(|f| g(f).intersects(&LineString::from(vec![(120.0, 40.0), (125.0, 42.0)]))),
        ),
        ("projects", "geometry_type = 'LineString'", Box::new(|f| matches!(g(f), Geometry::LineString(_)))),
        (
            "projects",
            "geometry_type = 'Point' AND location_precision = 'site'",
            Box::new(|f| {
                matches!(g(f), Geometry::Point(_)) && s(f, "location_precision").as_deref() == Some("site")
            }),
        ),
        (
            "projects",
            "id = 'xudabao-nuclear-power-plant'",
            Box::new(|f| f.id == "xudabao-nuclear-power-plant"),
        ),
        ("projects", "id LIKE 'dalian-%'", Box::new(|f| f.id.starts_with("dalian-"))),
        (
            "projects",
            "name_zh LIKE '%抽水蓄能%' AND category = 'energy'",
            Box::new(|f| {
                s(f, "name_zh").unwrap().contains("抽水蓄能") && s(f, "category").as_deref() == Some("energy")
            }),
        ),
        (
            "projects",
            "NOT (category = 'industrial_park')",
            Box::new(|f| s(f, "category").as_deref() != Some("industrial_park")),
        ),
        (
            "projects",
            "category = 'science' AND NOT A_CONTAINS(region_ids, ('shenyang-circle'))",
            Box::new(|f| {
                s(f, "category").as_deref() == Some("science")
                    && !arr(f, "region_ids").contains(&"shenyang-circle".into())
            }),
        ),
        (
            "counties",
            "S_CONTAINS(geometry, POINT(123.4 41.79))",
            Box::new(|f| g(f).contains(&Point::new(123.4, 41.79))),
        ),
        ("counties", "area_km2 > 2000", Box::new(|f| n(f, "area_km2").unwrap() > 2000.0)),
        (
            "counties",
            "parent_adcode = '210500' AND area_km2 < 1000",
            Box::new(|f| {
                s(f, "parent_adcode").as_deref() == Some("210500") && n(f, "area_km2").unwrap() < 1000.0
            }),
        ),
        ("counties", "area_km2 / 100 >= 30", Box::new(|f| n(f, "area_km2").unwrap() / 100.0 >= 30.0)),
        (
            "counties",
            "S_TOUCHES(geometry, BBOX(123.35, 41.75, 123.45, 41.85))",
            Box::new(|f| g(f).relate(&rect(123.35, 41.75, 123.45, 41.85)).is_touches()),
        ),
        (
            "cities",
            "A_CONTAINS(region_ids, ('liaodong-zone')) AND NOT A_CONTAINS(region_ids, ('coastal-belt'))",
            Box::new(|f| {
                let r = arr(f, "region_ids");
                r.contains(&"liaodong-zone".into()) && !r.contains(&"coastal-belt".into())
            }),
        ),
    ]
}

fn ids(doc: &Value) -> BTreeSet<String> {
    doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
}

/// Converts every text filter with the PyPI `cql2` package (installed by the test command).
fn pypi_json(texts: &[&str]) -> Vec<Value> {
    let script = "import cql2, json, sys\nfor line in sys.stdin.read().split('\\n'):\n    if line:\n        print(json.dumps(cql2.parse_text(line).to_json()))\n";
    let mut child = std::process::Command::new(crate::helpers::python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(texts.join("\n").as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the PyPI cql2 package is installed (scripts/setup --test): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_table_of_filters_matches_an_independent_evaluation_in_text_and_json() {
    let cases = table();
    assert!(cases.len() >= 40, "{} filters", cases.len());
    let texts: Vec<&str> = cases.iter().map(|c| c.1).collect();
    let json_forms = pypi_json(&texts);
    assert_eq!(json_forms.len(), cases.len());
    let cat = catalog();
    let mut non_trivial = 0;
    for ((collection, text, pred), json_form) in cases.iter().zip(&json_forms) {
        let expected: BTreeSet<String> = cat
            .collection(collection)
            .unwrap()
            .features()
            .iter()
            .filter(|f| pred(f))
            .map(|f| f.id.clone())
            .collect();
        let by_text =
            app().get_json(&format!("/collections/{collection}/items?limit=1000&filter={}", urlencode(text)));
        assert_eq!(ids(&by_text), expected, "text: {text}");
        let by_json = app().get_json(&format!(
            "/collections/{collection}/items?limit=1000&filter-lang=cql2-json&filter={}",
            urlencode(&json_form.to_string())
        ));
        assert_eq!(ids(&by_json), expected, "json: {json_form}");
        let total = cat.collection(collection).unwrap().features().len();
        if !expected.is_empty() && expected.len() < total {
            non_trivial += 1;
        }
    }
    assert!(non_trivial >= 35, "most filters select a proper, non-empty subset ({non_trivial})");
}

#[test]
fn the_pypi_cql2_package_converts_each_text_filter_to_the_same_json_as_ours() {
    let cases = table();
    let texts: Vec<&str> = cases.iter().map(|c| c.1).collect();
    for (text, theirs) in texts.iter().zip(pypi_json(&texts)) {
        let ours = cql2::parse_text(text).unwrap().to_value().unwrap();
        assert_eq!(ours, theirs, "{text}");
    }
}

#[test]
fn a_posted_search_body_takes_cql2_json() {
    let body = serde_json::json!({
        "filter": {"op": "and", "args": [
            {"op": "=", "args": [{"property": "category"}, "energy"]},
            {"op": "a_contains", "args": [{"property": "region_ids"}, ["liaoxi-zone"]]}
        ]},
        "limit": 100
    });
    let r = app()
        .client
        .post(app().url("/collections/projects/search"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().unwrap();
    let get = app().get_json(&format!(
        "/collections/projects/items?limit=100&filter={}",
        urlencode("category = 'energy' AND A_CONTAINS(region_ids, ('liaoxi-zone'))")
    ));
    assert_eq!(ids(&doc), ids(&get));
    assert!(!ids(&doc).is_empty());
}

/// A search whose filter is thousands of values long answers with a `Link` header clients can read, and pages
/// that can be followed: a GET of a query string that long would be a 414, so its paging links say to POST the
/// search again, with the body to send.
#[test]
fn a_search_too_long_for_a_query_string_pages_with_post_links() {
    let values: Vec<String> = (0..3000).map(|i| format!("'v{i}'")).collect();
    let filter = format!("name_zh IN ({}) OR category = 'energy'", values.join(","));
    let post = |url: &str, body: &Value| {
        let r = app()
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let header = r.headers().get("link").map(|h| h.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(header.len() < 16 * 1024, "a Link header of {} bytes", header.len());
        (header, r.json::<Value>().unwrap())
    };
    let rel =
        |doc: &Value, rel: &str| doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == rel).cloned();
    let all = app().get_json("/collections/projects/items?limit=1000&filter=category%20%3D%20%27energy%27");
    let (header, mut doc) = post(
        &app().url("/collections/projects/search"),
        &serde_json::json!({"filter-lang": "cql2-text", "filter": filter, "limit": 2}),
    );
    assert!(!header.contains("rel=\"next\""), "a link to POST is not a header link: {header}");
    assert_eq!(doc["numberMatched"], all["numberMatched"]);
    let mut seen = ids(&doc);
    while let Some(next) = rel(&doc, "next") {
        assert_eq!(next["method"], "POST", "{next}");
        assert!(next["href"].as_str().unwrap().ends_with("/collections/projects/search"), "{next}");
        assert_eq!(next["body"]["filter"], filter.as_str());
        assert_eq!(next["body"]["limit"], 2);
        assert_eq!(next["body"]["offset"].as_u64().unwrap() as usize, seen.len());
        doc = post(next["href"].as_str().unwrap(), &next["body"]).1;
        let prev = rel(&doc, "prev").expect("a prev link");
        assert_eq!(prev["method"], "POST");
        seen.extend(ids(&doc));
    }
    assert_eq!(seen, ids(&all), "following the links pages through every match once, in order");
    // A short search pages with GET links, as the GET items URLs it stands for.
    let (header, doc) = post(
        &app().url("/collections/projects/search"),
        &serde_json::json!({"filter": "category = 'energy'", "limit": 2}),
    );
    assert!(header.contains("rel=\"next\""), "{header}");
    let next = rel(&doc, "next").unwrap();
    assert!(next.get("method").is_none(), "{next}");
    assert!(next["href"].as_str().unwrap().contains("/collections/projects/items?"), "{next}");
}

/// A filter's geometry literals are held to the positions a posted geometry may have: each costs a spatial
/// test against every position of every feature.
#[test]
fn a_filter_geometry_over_the_position_limit_is_a_400() {
    let ring = |n: usize| -> Vec<[f64; 2]> {
        let mut r: Vec<[f64; 2]> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                [123.4 + 0.5 * a.cos(), 41.8 + 0.4 * a.sin()]
            })
            .collect();
        r.push(r[0]);
        r
    };
    let search = |n: usize| {
        let body = serde_json::json!({"filter": {"op": "s_intersects", "args": [
            {"property": "geometry"}, {"type": "Polygon", "coordinates": [ring(n)]}]}});
        app()
            .client
            .post(app().url("/collections/counties/search"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap()
    };
    let p = crate::helpers::assert_problem(search(planatlas::store::cql::MAX_LITERAL_POSITIONS + 10), 400);
    assert_eq!(p["parameter"], "filter", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("the limit is 20000"), "{p}");
    // Under the limit it is answered.
    assert_eq!(search(1000).status(), 200);
}

#[test]
fn invalid_filters_answer_400_naming_what_is_wrong() {
    for (filter, lang, needle) in [
        ("category = 'energy' AND", "cql2-text", "column"),
        ("category = = 'energy'", "cql2-text", "syntax error"),
        ("colour = 'red'", "cql2-text", "unknown property 'colour'"),
        ("category = 5", "cql2-text", "wrong types"),
        ("length_km > 'long'", "cql2-text", "wrong types"),
        ("region_ids = 'liaoxi-zone'", "cql2-text", "array"),
        ("name_zh LIKE 5", "cql2-text", "pattern"),
        ("BUFFER(geometry) = 1", "cql2-text", "unknown function"),
        ("S_DWITHIN(geometry, POINT(121 39), -5)", "cql2-text", "distance"),
        ("T_BEFORE(name_zh, TIMESTAMP('2022-01-01T00:00:00Z'))", "cql2-text", "dates or timestamps"),
        ("T_BEFORE(updated, TIMESTAMP('2022-01-01T00:00:00Z'))", "cql2-text", "unknown property 'updated'"),
        ("T_WHENEVER(updated, updated)", "cql2-text", "unknown temporal function"),
        ("name_zh > DATE('2022-13-01')", "cql2-text", "is not a day"),
        // A day written as a plain string: the property is named as a date, and the answer says how to write it.
        (
            "progress_as_of IN ('2022-04-14', '2022-04-15')",
            "cql2-text",
            "IN compares the date property 'progress_as_of' with the string '2022-04-14'; write a date literal as \
             DATE('2022-04-14')",
        ),
        ("S_INTERSECTS(geometry, POINT(500 41))", "cql2-text", "longitude"),
        // CQL2's point is x y [z]: a fourth number is no position.
        ("S_INTERSECTS(geometry, POINT(120.54583 40.35139 7 9))", "cql2-text", "more than three numbers"),
        ("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 1)))", "cql2-text", "not closed"),
        ("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 0 0)))", "cql2-text", "at least four"),
        ("S_INTERSECTS(geometry, LINESTRING(121 40))", "cql2-text", "at least two"),
        (
            "{\"op\": \"s_intersects\", \"args\": [{\"property\": \"geometry\"}, {\"type\": \"Polygon\", \"coordinates\": [[[0, 0], [1, 0], [1, 1]]]}]}",
            "cql2-json",
            "at least four",
        ),
        ("{\"op\": \"=\", \"args\": [{\"property\": \"nope\"}, 1]}", "cql2-json", "unknown property 'nope'"),
        ("{not json", "cql2-json", "cql2-json"),
        // A BBOX follows the bbox parameter's rules: the lower corner first (geo's Rect sorted the corners).
        ("S_INTERSECTS(geometry, BBOX(121,41,124,38.5))", "cql2-text", "lower corner above its upper corner"),
        ("S_INTERSECTS(geometry, BBOX(121,38.5,9,124,41,0))", "cql2-text", "height"),
        (
            "{\"op\": \"s_intersects\", \"args\": [{\"property\": \"geometry\"}, {\"bbox\": [121, 41, 124, 38.5]}]}",
            "cql2-json",
            "lower corner",
        ),
    ] {
        let p = app().get_problem(
            &format!("/collections/projects/items?filter-lang={lang}&filter={}", urlencode(filter)),
            400,
        );
        assert_eq!(p["parameter"], "filter", "{filter}: {p}");
        assert!(p["detail"].as_str().unwrap().contains(needle), "{filter}: {p}");
    }
    // In EPSG:4326 the latitudes come first; only a longitude/latitude box may cross the antimeridian (in GCJ-02
    // its halves' corners were converted alone, and selected projects north of it).
    for (crs, filter, needle) in [
        (
            "http://www.opengis.net/def/crs/EPSG/0/4326",
            "S_INTERSECTS(geometry, BBOX(41,121,38.5,124))",
            "lower corner",
        ),
        (
            "http://www.opengis.net/def/crs/EPSG/0/3857",
            "S_INTERSECTS(geometry, BBOX(14000000,4500000,13500000,5000000))",
            "west edge",
        ),
        ("GCJ-02", "S_INTERSECTS(geometry, BBOX(123,41.5,-179,41.841))", "antimeridian"),
        ("BD-09", "S_INTERSECTS(geometry, BBOX(123,41.5,-179,41.847))", "antimeridian"),
    ] {
        let p = app().get_problem(
            &format!(
                "/collections/projects/items?filter-crs={}&filter={}",
                urlencode(crs),
                urlencode(filter)
            ),
            400,
        );
        assert_eq!(p["parameter"], "filter", "{filter}: {p}");
        assert!(p["detail"].as_str().unwrap().contains(needle), "{crs} {filter}: {p}");
    }
    app().get_problem("/collections/projects/items?filter-lang=ecql&filter=1", 400);
    app().get_problem("/collections/projects/items?sortby=colour", 400);
    app().get_problem("/collections/projects/items?properties=colour", 400);
    let r = app()
        .client
        .post(app().url("/collections/projects/search"))
        .header("Content-Type", "application/json")
        .body("[1, 2]")
        .send()
        .unwrap();
    assert_problem(r, 400);
}

#[test]
fn s_dwithin_takes_an_optional_unit_as_ecql_does() {
    let get =
        |f: &str| app().get_json(&format!("/collections/projects/items?limit=1000&filter={}", urlencode(f)));
    let metres = ids(&get("S_DWITHIN(geometry, POINT(123.4 41.8), 20000)"));
    assert!(!metres.is_empty());
    assert_eq!(ids(&get("S_DWITHIN(geometry, POINT(123.4 41.8), 20, kilometers)")), metres);
    assert_eq!(ids(&get("S_DWITHIN(geometry, POINT(123.4 41.8), 20000, meters)")), metres);
    let p = app().get_problem(
        &format!(
            "/collections/projects/items?filter={}",
            urlencode("S_DWITHIN(geometry, POINT(123.4 41.8), 20, furlongs)")
        ),
        400,
    );
    assert!(p["detail"].as_str().unwrap().contains("furlongs"), "{p}");
}

#[test]
fn sortby_with_paging_returns_every_feature_once_in_order() {
    let mut url = app()
        .url(&format!("/collections/projects/items?limit=17&sortby={}", urlencode("-category,+name_zh")));
    let mut seen: Vec<(String, String, String)> = Vec::new();
    loop {
        let doc = app().get_json(&url);
        for f in doc["features"].as_array().unwrap() {
            let p = &f["properties"];
            seen.push((
                f["id"].as_str().unwrap().to_owned(),
                p["category"].as_str().unwrap().to_owned(),
                p["name_zh"].as_str().unwrap().to_owned(),
            ));
        }
        match doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next") {
            Some(l) => url = l["href"].as_str().unwrap().to_owned(),
            None => break,
        }
    }
    let total = catalog().projects().features().len();
    assert_eq!(seen.len(), total);
    assert_eq!(seen.iter().map(|s| &s.0).collect::<BTreeSet<_>>().len(), total, "each once");
    for w in seen.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(a.1 > b.1 || (a.1 == b.1 && a.2 <= b.2), "order: {a:?} then {b:?}");
    }
    // An unencoded '+' arrives as a space and still means ascending.
    let doc = app().get_json("/collections/projects/items?limit=3&sortby=+name_en");
    let names: Vec<&str> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name_en"].as_str().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
}

#[test]
fn properties_choose_what_comes_back_in_items_and_exports() {
    let doc = app().get_json("/collections/projects/items?limit=5&properties=name_zh,category");
    for f in doc["features"].as_array().unwrap() {
        let keys: BTreeSet<&str> = f["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["name_zh", "category"]));
    }
    let csv = app()
        .get("/collections/projects/items?f=csv&properties=name_zh,category&sortby=name_zh")
        .text()
        .unwrap();
    assert!(
        csv.lines().next().unwrap().starts_with("id,name_zh,category,wkt"),
        "{}",
        csv.lines().next().unwrap()
    );
}

#[test]
fn the_day_the_progress_figures_stand_at_is_a_date_to_filter_on() {
    let matched = |filter: &str| {
        app().get_json(&format!("/collections/projects/items?limit=1&filter={}", urlencode(filter)))["numberMatched"]
            .as_u64()
            .unwrap()
    };
    let all = matched("1 = 1");
    assert!(all > 200, "{all}");
    // Every project's figures stand at today in Liaoning: after the plan began, and not years ahead.
    assert_eq!(matched("progress_as_of > DATE('2022-01-01')"), all);
    assert_eq!(matched("progress_as_of > DATE('2100-01-01')"), 0);
    let q = app().get_json("/collections/projects/queryables");
    assert_eq!(q["properties"]["progress_as_of"]["format"], "date", "{}", q["properties"]["progress_as_of"]);
}

/// cql2-json's nesting limit is counted in JSON levels (two per operation), checked before any parser, so a
/// filter at the limit is answered and one over it is a 400 naming the filter and the limit, not "invalid JSON".
#[test]
fn a_cql2_json_filter_is_answered_to_its_stated_depth() {
    let nested = |nots: usize| {
        let mut f = serde_json::json!({"op": "=", "args": [{"property": "category"}, "energy"]});
        for _ in 0..nots {
            f = serde_json::json!({"op": "not", "args": [f]});
        }
        f
    };
    let depth = |nots: usize| planatlas::store::cql::limits::json_depth(nested(nots).to_string().as_bytes());
    let limit = planatlas::store::cql::limits::MAX_JSON_DEPTH;
    let at = (0..200).rev().find(|&n| depth(n) <= limit).unwrap();
    let energy =
        app().get_json("/collections/projects/items?limit=1&filter=category%3D%27energy%27")["numberMatched"]
            .as_u64()
            .unwrap();
    let post = |filter: &Value| {
        app()
            .client
            .post(app().url("/collections/projects/search"))
            .header("content-type", "application/json")
            .body(serde_json::json!({"filter-lang": "cql2-json", "filter": filter, "limit": 1}).to_string())
            .send()
            .unwrap()
    };
    for n in [at, at - 1] {
        let url = format!(
            "/collections/projects/items?limit=1&filter-lang=cql2-json&filter={}",
            urlencode(&nested(n).to_string())
        );
        let want = if n % 2 == 0 {
            energy
        } else {
            app().get_json("/collections/projects/items?limit=1")["numberMatched"].as_u64().unwrap() - energy
        };
        assert_eq!(app().get_json(&url)["numberMatched"].as_u64().unwrap(), want, "{n} NOTs by GET");
        let r = post(&nested(n));
        assert_eq!(r.status(), 200, "{n} NOTs by POST");
        assert_eq!(r.json::<Value>().unwrap()["numberMatched"].as_u64().unwrap(), want, "{n} NOTs by POST");
    }
    let over = nested(at + 1);
    let p = app().get_problem(
        &format!("/collections/projects/items?filter-lang=cql2-json&filter={}", urlencode(&over.to_string())),
        400,
    );
    assert_eq!(p["parameter"], "filter", "{p}");
    assert!(p["detail"].as_str().unwrap().contains(&format!("the limit is {limit}")), "{p}");
    let p = assert_problem(post(&over), 400);
    assert_eq!(p["parameter"], "filter", "{p}");
    assert!(!p["detail"].as_str().unwrap().contains("not valid JSON"), "{p}");
}
