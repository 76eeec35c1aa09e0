//! Nearest, within-distance, corridor and area queries, checked against brute force and PROJ's `geod`.

use std::collections::BTreeSet;

use geo::{Coord, Geometry, Intersects};
use planatlas::geom::geodesic;
use serde_json::Value;

use crate::helpers::{Rng, app, assert_problem, catalog};

/// Liaoning's bounding box, a little larger.
fn random_point(rng: &mut Rng) -> Coord<f64> {
    Coord { x: rng.range(118.5, 126.0), y: rng.range(38.5, 43.7) }
}

fn brute_force(collection: &str, p: Coord<f64>) -> Vec<(String, f64)> {
    let c = catalog();
    let col = c.collection(collection).unwrap();
    let mut all: Vec<(String, f64)> = col
        .features()
        .iter()
        .map(|f| (f.id.clone(), geodesic::point_geometry_distance_m(p, f.geometry.as_ref().unwrap())))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all
}

fn rows(doc: &Value) -> Vec<(String, f64)> {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap().to_owned(), f["properties"]["distance_m"].as_f64().unwrap()))
        .collect()
}

/// The answer equals the brute-force ranking: same distances in the same order, and the same ids wherever
/// the distance is not tied with the cut-off.
fn assert_same_ranking(got: &[(String, f64)], expected: &[(String, f64)], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: count");
    for (g, e) in got.iter().zip(expected) {
        assert!((g.1 - e.1).abs() < 0.001, "{what}: {g:?} vs {e:?}");
    }
    if let Some(last) = expected.last() {
        let strict = |v: &[(String, f64)]| -> BTreeSet<String> {
            v.iter().filter(|r| r.1 < last.1 - 0.001).map(|r| r.0.clone()).collect()
        };
        assert_eq!(strict(got), strict(expected), "{what}: ids closer than the cut-off");
    }
}

#[test]
fn k_nearest_equal_a_brute_force_geodesic_scan_for_50_seeded_points() {
    let mut rng = Rng::new(20_221_010);
    for case in 0..50 {
        let p = random_point(&mut rng);
        let k = 1 + (rng.next_u64() % 12) as usize;
        let doc = app().get_json(&format!("/collections/projects/nearest?lon={}&lat={}&k={k}", p.x, p.y));
        let got = rows(&doc);
        let expected: Vec<(String, f64)> = brute_force("projects", p).into_iter().take(k).collect();
        assert_same_ranking(&got, &expected, &format!("case {case} at {p:?} k={k}"));
        let ds: Vec<f64> = got.iter().map(|r| r.1).collect();
        assert!(ds.windows(2).all(|w| w[0] <= w[1]), "ordered by distance");
    }
}

#[test]
fn nearest_works_on_polygons_with_distance_zero_inside() {
    let mut rng = Rng::new(7);
    for case in 0..10 {
        let p = random_point(&mut rng);
        let doc = app().get_json(&format!("/collections/counties/nearest?lon={}&lat={}&k=3", p.x, p.y));
        let expected: Vec<(String, f64)> = brute_force("counties", p).into_iter().take(3).collect();
        assert_same_ranking(&rows(&doc), &expected, &format!("county case {case}"));
    }
    let inside = app().get_json("/collections/regions/nearest?lon=123.40&lat=41.79&k=1");
    assert_eq!(inside["features"][0]["id"], "shenyang-circle");
    assert_eq!(inside["features"][0]["properties"]["distance_m"], 0.0);
}

#[test]
fn a_line_is_measured_to_its_nearest_point_not_its_centre() {
    // A point 2 km from the Shenyang–Baihe railway ranks it before projects whose centre is closer.
    let c = catalog();
    let line = c.projects().get("shenyang-baihe-hsr").unwrap().geometry.clone().unwrap();
    let Geometry::LineString(ls) = &line else { panic!("a line") };
    let a = ls.0[1];
    let b = ls.0[2];
    let mid = Coord { x: f64::midpoint(a.x, b.x), y: f64::midpoint(a.y, b.y) + 0.018 };
    let d = geodesic::point_geometry_distance_m(mid, &line);
    let doc = app().get_json(&format!("/collections/projects/nearest?lon={}&lat={}&k=20", mid.x, mid.y));
    let got = rows(&doc);
    let hsr = got.iter().find(|r| r.0 == "shenyang-baihe-hsr").expect("the railway is among the nearest");
    assert!((hsr.1 - d).abs() < 0.01);
    let centre_distance = geodesic::distance_m(
        mid,
        Coord {
            x: f64::midpoint(ls.0[0].x, ls.0.last().unwrap().x),
            y: f64::midpoint(ls.0[0].y, ls.0.last().unwrap().y),
        },
    );
    assert!(hsr.1 < centre_distance / 5.0, "{} vs centre {}", hsr.1, centre_distance);
}

#[test]
fn max_distance_limits_nearest_and_k_is_clamped() {
    let doc = app().get_json("/collections/projects/nearest?lon=123.40&lat=41.79&k=50&max-distance=1500");
    for (_, d) in rows(&doc) {
        assert!(d <= 1500.0);
    }
    let doc = app().get_json("/collections/projects/nearest?lon=123.40&lat=41.79&k=100000");
    assert_eq!(
        doc["numberReturned"].as_u64().unwrap() as usize,
        catalog().projects().features().len().min(1000)
    );
    // Collection filters apply.
    let doc = app().get_json("/collections/projects/nearest?lon=121.6&lat=38.9&k=3&category=airport");
    for f in doc["features"].as_array().unwrap() {
        assert_eq!(f["properties"]["category"], "airport");
    }
}

/// `geod -I` from PROJ (Debian proj-bin) is the reference for point-to-point distances.
#[test]
fn distances_agree_with_proj_geod_to_a_millimetre() {
    let mut rng = Rng::new(42);
    let mut pairs = vec![
        (Coord { x: 123.40, y: 41.79 }, Coord { x: 121.6, y: 38.9 }),
        (Coord { x: 119.5, y: 41.33 }, Coord { x: 125.36, y: 41.27 }),
    ];
    for _ in 0..20 {
        pairs.push((random_point(&mut rng), random_point(&mut rng)));
    }
    let input = pairs.iter().fold(String::new(), |mut s, (a, b)| {
        use std::fmt::Write as _;
        let _ = writeln!(s, "{} {} {} {}", a.y, a.x, b.y, b.x);
        s
    });
    let mut child = std::process::Command::new("geod")
        .args(["+ellps=WGS84", "-I", "-f", "%.9f", "+units=m"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("geod (proj-bin) is installed by the test command");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), pairs.len(), "{text}");
    for ((a, b), line) in pairs.iter().zip(lines) {
        let reference: f64 = line.split_whitespace().last().unwrap().parse().unwrap();
        let ours = geodesic::distance_m(*a, *b);
        assert!((ours - reference).abs() < 0.001, "{a:?}–{b:?}: ours {ours} geod {reference}");
    }
    // And through the HTTP answer: the nearest point project to a query point, measured by geod.
    let doc = app().get_json("/collections/projects/nearest?lon=121.0&lat=40.0&k=1&geometry_type=Point");
    let f = &doc["features"][0];
    let c = f["geometry"]["coordinates"].as_array().unwrap();
    let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    let (ok, out) = run_geod(&format!("40.0 121.0 {lat} {lon}\n"));
    assert!(ok);
    let reference: f64 = out.split_whitespace().last().unwrap().parse().unwrap();
    assert!((f["properties"]["distance_m"].as_f64().unwrap() - reference).abs() < 0.001, "{out}");
}

fn run_geod(input: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("geod")
        .args(["+ellps=WGS84", "-I", "-f", "%.9f", "+units=m"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn within_distance_equals_brute_force_for_20_seeded_cases() {
    let mut rng = Rng::new(99);
    for case in 0..20 {
        let p = random_point(&mut rng);
        let r = rng.range(1_000.0, 60_000.0);
        let doc = app().get_json(&format!(
            "/collections/projects/within-distance?lon={}&lat={}&distance={r}&limit=1000",
            p.x, p.y
        ));
        let expected: Vec<(String, f64)> =
            brute_force("projects", p).into_iter().filter(|x| x.1 <= r).collect();
        assert_eq!(doc["numberMatched"].as_u64().unwrap() as usize, expected.len(), "case {case}");
        assert_same_ranking(&rows(&doc), &expected, &format!("within case {case}"));
    }
}

#[test]
fn within_distance_pages_with_links() {
    let first =
        app().get_json("/collections/projects/within-distance?lon=123.4&lat=41.8&distance=30000&limit=5");
    let total = first["numberMatched"].as_u64().unwrap() as usize;
    assert!(total > 10);
    let mut seen: Vec<(String, f64)> = rows(&first);
    let mut doc = first;
    while let Some(next) = doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next") {
        doc = app().get_json(next["href"].as_str().unwrap());
        seen.extend(rows(&doc));
    }
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1));
}

fn corridor_brute_force(line: &Geometry<f64>, r: f64, exclude: Option<&str>) -> Vec<(String, f64)> {
    let c = catalog();
    let mut out: Vec<(String, f64)> = c
        .projects()
        .features()
        .iter()
        .filter(|f| Some(f.id.as_str()) != exclude)
        .map(|f| (f.id.clone(), geodesic::geometry_distance_m(line, f.geometry.as_ref().unwrap())))
        .filter(|x| x.1 <= r)
        .collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    out
}

#[test]
fn corridor_results_equal_brute_force_for_20_seeded_cases() {
    let c = catalog();
    let lines: Vec<&str> = c
        .projects()
        .features()
        .iter()
        .filter(|f| matches!(f.geometry, Some(Geometry::LineString(_))))
        .map(|f| f.id.as_str())
        .collect();
    let mut rng = Rng::new(5);
    for case in 0..20 {
        let r = rng.range(500.0, 20_000.0);
        if case % 2 == 0 {
            // A project id as the corridor.
            let id = lines[(rng.next_u64() as usize) % lines.len()];
            let line = c.projects().get(id).unwrap().geometry.clone().unwrap();
            let doc =
                app().get_json(&format!("/collections/projects/along?project={id}&distance={r}&limit=1000"));
            let expected = corridor_brute_force(&line, r, Some(id));
            assert_same_ranking(&rows(&doc), &expected, &format!("corridor {id} r={r}"));
        } else {
            // A GeoJSON line in the body.
            let a = random_point(&mut rng);
            let b = Coord { x: a.x + rng.range(-1.0, 1.0), y: a.y + rng.range(-0.7, 0.7) };
            let body = serde_json::json!({"type": "LineString", "coordinates": [[a.x, a.y], [b.x, b.y]]});
            let resp = app()
                .client
                .post(app().url(&format!("/collections/projects/along?distance={r}&limit=1000")))
                .header("Content-Type", "application/geo+json")
                .body(body.to_string())
                .send()
                .unwrap();
            assert_eq!(resp.status(), 200);
            let doc: Value = resp.json().unwrap();
            let line = Geometry::LineString(geo::LineString(vec![a, b]));
            let expected = corridor_brute_force(&line, r, None);
            assert_same_ranking(&rows(&doc), &expected, &format!("posted corridor case {case}"));
        }
    }
}

#[test]
fn everything_within_5_km_of_the_shenyang_baihe_railway() {
    let doc =
        app().get_json("/collections/projects/along?project=shenyang-baihe-hsr&distance=5000&limit=100");
    let got = rows(&doc);
    assert!(!got.is_empty());
    assert!(got.iter().all(|r| r.1 <= 5000.0 && r.0 != "shenyang-baihe-hsr"));
    // The views of the projects by geometry type answer the same: the corridor is not near itself there either.
    let in_view = rows(
        &app()
            .get_json("/collections/projects-lines/along?project=shenyang-baihe-hsr&distance=5000&limit=100"),
    );
    let points =
        rows(&app().get_json(
            "/collections/projects-points/along?project=shenyang-baihe-hsr&distance=5000&limit=100",
        ));
    let mut both: Vec<(String, f64)> = in_view.into_iter().chain(points).collect();
    both.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut expected = got;
    expected.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    assert_eq!(both, expected);
}

#[test]
fn area_queries_by_posted_polygon_and_by_within() {
    let poly = serde_json::json!({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[123.0, 41.5], [124.0, 41.5], [124.0, 42.1], [123.0, 42.1], [123.0, 41.5]]]}});
    let resp = app()
        .client
        .post(app().url("/collections/projects/intersecting?limit=1000&category=science"))
        .header("Content-Type", "application/json")
        .body(poly.to_string())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().unwrap();
    let rect = geo::Rect::new(Coord { x: 123.0, y: 41.5 }, Coord { x: 124.0, y: 42.1 }).to_polygon();
    let expected: BTreeSet<String> = catalog()
        .projects()
        .features()
        .iter()
        .filter(|f| f.properties["category"] == "science" && f.geometry.as_ref().unwrap().intersects(&rect))
        .map(|f| f.id.clone())
        .collect();
    let got: BTreeSet<String> =
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, expected);
    assert!(!got.is_empty());

    let within = app().get_json("/collections/projects/items?within=liaoxi-zone&limit=1000");
    let by_region = app().get_json("/collections/projects/items?region=liaoxi-zone&limit=1");
    assert_eq!(within["numberMatched"], by_region["numberMatched"]);
    let counties = app().get_json("/collections/counties/items?within=210500&limit=100");
    assert_eq!(counties["numberMatched"], 6, "本溪's six counties, not its neighbours that touch it");
    let by_name = app().get_json(&format!(
        "/collections/projects/items?within={}&limit=1",
        crate::helpers::urlencode("桓仁")
    ));
    let by_code = app().get_json("/collections/projects/items?within=210522&limit=1");
    assert_eq!(by_name["numberMatched"], by_code["numberMatched"]);
}

#[test]
fn a_bbox_narrows_proximity_answers_and_what_they_do_not_take_is_refused() {
    // From Dalian, with a box around Shenyang: only the box's projects are ranked.
    let (p, bbox) = (Coord { x: 121.6, y: 38.9 }, "122.9,41.5,123.9,42.1");
    let boxed: BTreeSet<String> = app()
        .get_json(&format!("/collections/projects/items?bbox={bbox}&limit=1000"))["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(boxed.len() > 5, "{boxed:?}");
    let in_box: Vec<(String, f64)> =
        brute_force("projects", p).into_iter().filter(|r| boxed.contains(&r.0)).collect();
    let doc =
        app().get_json(&format!("/collections/projects/nearest?lon={}&lat={}&k=5&bbox={bbox}", p.x, p.y));
    assert_same_ranking(&rows(&doc), &in_box[..5], "nearest in a bbox");
    let radius = 400_000.0;
    let doc = app().get_json(&format!(
        "/collections/projects/within-distance?lon={}&lat={}&distance={radius}&bbox={bbox}&limit=1000",
        p.x, p.y
    ));
    let within: Vec<(String, f64)> = in_box.iter().filter(|r| r.1 <= radius).cloned().collect();
    assert!(!within.is_empty());
    assert_same_ranking(&rows(&doc), &within, "within-distance in a bbox");
    // nearest answers k features in one page; distance answers are ranked by distance, not sortby.
    bad("/collections/projects/nearest?lon=121.6&lat=38.9&k=3&limit=2", "limit");
    bad("/collections/projects/nearest?lon=121.6&lat=38.9&k=3&offset=5", "offset");
    bad("/collections/projects/nearest?lon=121.6&lat=38.9&sortby=-name_zh", "sortby");
    bad("/collections/projects/within-distance?lon=121.6&lat=38.9&distance=5000&sortby=name_zh", "sortby");
}

/// A ranked answer's features carry `distance_m`, so `properties` may name it: alone it leaves the distances
/// only, beside another property both; where nothing is ranked it is not a property of the projects.
#[test]
fn ranked_answers_take_distance_m_in_properties() {
    for path in [
        "/collections/projects/nearest?lon=123.4&lat=41.8&k=6",
        "/collections/projects/within-distance?lon=123.4&lat=41.8&distance=30000&limit=6",
    ] {
        let all = app().get_json(path);
        assert_eq!(all["features"].as_array().unwrap().len(), 6, "{path}");
        for (properties, keys) in
            [("distance_m", vec!["distance_m"]), ("name_zh,distance_m", vec!["distance_m", "name_zh"])]
        {
            let doc = app().get_json(&format!("{path}&properties={properties}"));
            assert_eq!(rows(&doc), rows(&all), "{path}&properties={properties}");
            for f in doc["features"].as_array().unwrap() {
                let mut got: Vec<&str> =
                    f["properties"].as_object().unwrap().keys().map(String::as_str).collect();
                got.sort_unstable();
                assert_eq!(got, keys, "{path}&properties={properties}: {f}");
            }
        }
    }
    bad("/collections/projects/items?properties=distance_m", "properties");
    bad("/collections/projects/nearest?lon=123.4&lat=41.8&properties=distance_km", "properties");
}

fn bad(path: &str, parameter: &str) {
    let p = app().get_problem(path, 400);
    assert_eq!(p["parameter"], parameter, "{path}: {p}");
}

#[test]
fn bad_proximity_input_is_a_4xx_problem() {
    bad("/collections/projects/nearest?lon=200&lat=41", "lon");
    bad("/collections/projects/nearest?lon=123&lat=-91", "lat");
    bad("/collections/projects/nearest?lon=abc&lat=41", "lon");
    bad("/collections/projects/nearest?lat=41", "lon");
    bad("/collections/projects/nearest?lon=123&lat=41&k=0", "k");
    bad("/collections/projects/nearest?lon=123&lat=41&k=-5", "k");
    bad("/collections/projects/nearest?lon=123&lat=41&k=two", "k");
    bad("/collections/projects/nearest?lon=123&lat=41&max-distance=-1", "max-distance");
    bad("/collections/projects/within-distance?lon=123&lat=41&distance=-10", "distance");
    bad("/collections/projects/within-distance?lon=123&lat=41", "distance");
    bad("/collections/projects/along?project=no-such-project&distance=100", "project");
    bad("/collections/projects/items?within=atlantis", "within");
    app().get_problem("/collections/targets/nearest?lon=123&lat=41", 404);
    for body in [
        "{not json",
        "{\"type\": \"Polygon\", \"coordinates\": 5}",
        "{\"type\": \"FeatureCollection\", \"features\": []}",
        "{\"type\": \"Point\", \"coordinates\": [500, 41]}",
        // What RFC 7946 forbids: a ring of two positions, an unclosed ring, a one-position line, a bare number.
        "{\"type\": \"Polygon\", \"coordinates\": [[[121, 40], [124, 40]]]}",
        "{\"type\": \"Polygon\", \"coordinates\": [[[121, 40], [124, 40], [124, 42], [121, 42]]]}",
        "{\"type\": \"LineString\", \"coordinates\": [[123.4, 41.8]]}",
        "{\"type\": \"Point\", \"coordinates\": [123.4]}",
    ] {
        let r = app()
            .client
            .post(app().url("/collections/projects/intersecting"))
            .header("Content-Type", "application/geo+json")
            .body(body)
            .send()
            .unwrap();
        let p = assert_problem(r, 400);
        assert_eq!(p["parameter"], "body", "{body}: {p}");
    }
    let r = app()
        .client
        .post(app().url("/collections/projects/intersecting"))
        .header("Content-Type", "text/csv")
        .body("a,b")
        .send()
        .unwrap();
    assert_problem(r, 415);
}

#[test]
fn a_body_over_the_size_limit_is_answered_413() {
    let mut settings = planatlas::config::Settings::local();
    settings.max_body_bytes = 1_000;
    let small = crate::helpers::spawn_with(settings);
    let coords: Vec<String> = (0..200).map(|i| format!("[{}, 41.0]", 120.0 + f64::from(i) * 0.01)).collect();
    let body = format!("{{\"type\": \"LineString\", \"coordinates\": [{}]}}", coords.join(","));
    assert!(body.len() > 1_000);
    let r = small
        .client
        .post(small.url("/collections/projects/along?distance=100"))
        .header("Content-Type", "application/geo+json")
        .body(body)
        .send()
        .unwrap();
    assert_problem(r, 413);
}
/// The projects' geometries as the API serves them, each as a list of vertices (one for a point).
fn served_geometries() -> Vec<(String, Vec<Coord<f64>>)> {
    let doc = app().get_json("/collections/projects/items?limit=1000");
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["geometry"].is_null())
        .map(|f| {
            let g = &f["geometry"];
            let c = |v: &Value| Coord { x: v[0].as_f64().unwrap(), y: v[1].as_f64().unwrap() };
            let coords = match g["type"].as_str().unwrap() {
                "Point" => vec![c(&g["coordinates"])],
                "LineString" => g["coordinates"].as_array().unwrap().iter().map(c).collect(),
                t => panic!("no brute force for {t}"),
            };
            (f["id"].as_str().unwrap().to_owned(), coords)
        })
        .collect()
}

/// Distance from `p` to the geodesic `a`–`b` without the crate's geometry code: Karney's solutions at points
/// every 2 km or less along it, then a ternary search around the nearest sample.
fn segment_by_sampling(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
    let g = Geodesic::wgs84();
    let (len, azi, _, _): (f64, f64, f64, f64) = g.inverse(a.y, a.x, b.y, b.x);
    let at = |s: f64| {
        let (lat, lon): (f64, f64) = g.direct(a.y, a.x, azi, s);
        let d: f64 = g.inverse(p.y, p.x, lat, lon);
        d
    };
    let n = (len / 2_000.0).ceil().max(1.0) as usize;
    let step = len / n as f64;
    let i = (0..=n).min_by(|&i, &j| at(i as f64 * step).total_cmp(&at(j as f64 * step))).unwrap();
    let (mut lo, mut hi) = ((i as f64 - 1.0).max(0.0) * step, ((i + 1) as f64 * step).min(len));
    for _ in 0..80 {
        let (m1, m2) = (lo + (hi - lo) / 3.0, hi - (hi - lo) / 3.0);
        if at(m1) < at(m2) { hi = m2 } else { lo = m1 }
    }
    at(0.0).min(at(len)).min(at(f64::midpoint(lo, hi)))
}

fn independent_ranking(p: Coord<f64>) -> Vec<(String, f64)> {
    use geographiclib_rs::{Geodesic, InverseGeodesic};
    let g = Geodesic::wgs84();
    let mut all: Vec<(String, f64)> = served_geometries()
        .into_iter()
        .map(|(id, c)| {
            let d = if c.len() == 1 {
                g.inverse(p.y, p.x, c[0].y, c[0].x)
            } else {
                c.windows(2).map(|w| segment_by_sampling(p, w[0], w[1])).fold(f64::INFINITY, f64::min)
            };
            (id, d)
        })
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all
}

/// From anywhere on Earth (across the Arctic from North America, across the antimeridian, from the far
/// side of the globe, and on the Dalian–Shenyang corridor itself), nearest and within-distance agree with a
/// ranking computed without the crate's geometry code, and the first answer does not depend on k.
#[test]
fn nearest_and_within_distance_are_exact_from_anywhere_on_earth() {
    let mut rng = Rng::new(20_260_512);
    let mut points = vec![
        Coord { x: -100.0, y: 45.0 },
        Coord { x: -70.0, y: 40.0 },
        Coord { x: -60.0, y: -30.0 },
        Coord { x: -179.9, y: 10.0 },
        Coord { x: 180.0, y: 10.0 },
        Coord { x: 10.0, y: 70.0 },
        Coord { x: 122.962_523_106_6, y: 41.085_627_578_2 }, // on the corridor's Dalian–Shenyang geodesic
    ];
    points.extend((0..8).map(|_| Coord { x: rng.range(-180.0, 180.0), y: rng.range(-75.0, 75.0) }));
    for p in points {
        let expected = independent_ranking(p);
        for k in [1, 2, 6] {
            let doc = app().get_json(&format!("/collections/projects/nearest?lon={}&lat={}&k={k}", p.x, p.y));
            assert_same_ranking(&rows(&doc), &expected[..k], &format!("nearest {p:?} k={k}"));
        }
        let r = expected[5].1 + 1.0;
        let doc = app().get_json(&format!(
            "/collections/projects/within-distance?lon={}&lat={}&distance={r}&limit=1000",
            p.x, p.y
        ));
        let inside: Vec<(String, f64)> = expected.iter().filter(|e| e.1 <= r).cloned().collect();
        assert_same_ranking(&rows(&doc), &inside, &format!("within {r} of {p:?}"));
    }
}

/// The latitude of the geodesic from `a` to `b` halfway along it, and that point's longitude.
fn geodesic_midpoint(a: Coord<f64>, b: Coord<f64>) -> Coord<f64> {
    use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
    let g = Geodesic::wgs84();
    let (len, azi, _, _): (f64, f64, f64, f64) = g.inverse(a.y, a.x, b.y, b.x);
    let (lat, lon): (f64, f64) = g.direct(a.y, a.x, azi, len / 2.0);
    Coord { x: lon, y: lat }
}

/// A server over a new store with one GeoJSON layer, `long`, of these features (id, geometry, properties).
fn serve_long_layer(features: &[(&str, Value, Value)]) -> (crate::helpers::TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fc = serde_json::json!({
        "type": "FeatureCollection",
        "features": features.iter().map(|(id, g, p)| serde_json::json!({
            "type": "Feature", "id": id, "geometry": g, "properties": p,
        })).collect::<Vec<_>>(),
    });
    let path = dir.path().join("long.geojson");
    std::fs::write(&path, fc.to_string()).expect("layer written");
    let spec: planatlas::store::layers::LayerSpec =
        format!("long={}", path.display()).parse().expect("layer spec");
    let store = dir.path().join("store");
    std::fs::create_dir(&store).expect("store dir");
    let engine = planatlas::store::engine::Engine::open_with_layers(
        planatlas::store::DataSource::Embedded,
        &store,
        &[spec],
    )
    .expect("layer loads");
    (crate::helpers::spawn_engine(planatlas::config::Settings::local(), std::sync::Arc::new(engine)), dir)
}

/// Long edges are geodesics wherever distances are measured (a spatial review found each of these wrong): a
/// 15° east–west line's geodesic runs some 0.24° poleward of its ends, and the answers follow it.
/// - within-distance, nearest and `S_DWITHIN` find the line from a point near its geodesic but outside the box
///   of its vertices (the index kept only that box);
/// - a posted corridor that is a polygon finds what lies inside it far from its edges, and one that is a
///   geometry collection finds what is near its points;
/// - a posted long line (and `S_DWITHIN` with it) finds what is near the middle of its geodesic;
/// - two lines whose straight lon/lat drawings cross but whose geodesics do not are apart (and the other way
///   round, at distance 0); a point inside a polygon's drawing but outside its geodesic edges is apart from it;
/// - a layer's own `distance_m` gives way to the measured one in ranked answers (it was written twice).
///
/// Every distance expected is worked out here with geographiclib alone (`segment_by_sampling`).
#[test]
fn long_edges_are_geodesics_in_every_spatial_answer() {
    use serde_json::json;
    let c = |x: f64, y: f64| Coord { x, y };
    let line =
        |a: Coord<f64>, b: Coord<f64>| json!({"type": "LineString", "coordinates": [[a.x, a.y], [b.x, b.y]]});
    let (ew_a, ew_b) = (c(115.0, 45.0), c(130.0, 45.0));
    let ew_mid = geodesic_midpoint(ew_a, ew_b);
    assert!(ew_mid.y > 45.2, "the test's premise: the geodesic bows north ({ew_mid:?})");
    let (lit_a, lit_b) = (c(115.0, 45.3), c(130.0, 45.3));
    let lit_mid = geodesic_midpoint(lit_a, lit_b);
    let mid = c(122.5, lit_mid.y + 0.03);
    let (vert_a, vert_b) = (c(122.5, 44.9), c(122.5, 45.1));
    let (cross_a, cross_b) = (c(120.0, 45.05), c(120.0, 45.6));
    let poly = [c(115.0, 38.0), c(130.0, 38.0), c(130.0, 39.0), c(115.0, 39.0), c(115.0, 38.0)];
    let inner = c(123.0, 42.5);
    let (app, _dir) = serve_long_layer(&[
        ("ew", line(ew_a, ew_b), json!({})),
        ("vert", line(vert_a, vert_b), json!({})),
        ("cross", line(cross_a, cross_b), json!({})),
        ("mid", json!({"type": "Point", "coordinates": [mid.x, mid.y]}), json!({})),
        ("inner", json!({"type": "Point", "coordinates": [inner.x, inner.y]}), json!({"distance_m": 7})),
        (
            "poly",
            json!({"type": "Polygon", "coordinates": [poly.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>()]}),
            json!({}),
        ),
        ("dateline", line(c(179.5, 50.0), c(-179.5, 50.0)), json!({})),
        ("east-of-180", json!({"type": "Point", "coordinates": [-179.99, 10.0]}), json!({})),
        ("pacific-point", json!({"type": "Point", "coordinates": [179.5, -35.0]}), json!({})),
        ("atlantic-point", json!({"type": "Point", "coordinates": [0.0, -35.0]}), json!({})),
        ("box-in", json!({"type": "Point", "coordinates": [120.0, 30.1]}), json!({})),
        ("box-out", json!({"type": "Point", "coordinates": [120.0, 40.2]}), json!({})),
        (
            "pacific",
            json!({"type": "Polygon", "coordinates": [[[179.0, 10.0], [-179.0, 10.0], [-179.0, 12.0], [179.0, 12.0], [179.0, 10.0]]]}),
            json!({}),
        ),
    ]);
    let distance_of =
        |doc: &Value, id: &str| -> Option<f64> { rows(doc).into_iter().find(|r| r.0 == id).map(|r| r.1) };
    let ids_of = |doc: &Value| -> BTreeSet<String> { rows(doc).into_iter().map(|r| r.0).collect() };
    let post = |path: &str, body: &Value| -> Value {
        let r = app
            .client
            .post(app.url(path))
            .header("Content-Type", "application/geo+json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().unwrap()
    };
    let filter = |cql: &str| -> BTreeSet<String> {
        let doc = app.get_json(&format!(
            "/collections/long/items?limit=100&filter={}",
            crate::helpers::urlencode(cql)
        ));
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    };

    // Near the line's geodesic, 0.2° north of its vertices.
    let p1 = c(122.5, ew_mid.y - 0.04);
    let to_ew = segment_by_sampling(p1, ew_a, ew_b);
    assert!(to_ew < 6_000.0, "premise: {to_ew}");
    let doc =
        app.get_json(&format!("/collections/long/within-distance?lon={}&lat={}&distance=6000", p1.x, p1.y));
    let got = distance_of(&doc, "ew").expect("within-distance finds the line near its geodesic");
    assert!((got - to_ew).abs() < 0.001, "{got} vs {to_ew}");
    let doc = app.get_json(&format!("/collections/long/nearest?lon={}&lat={}&k=1", p1.x, p1.y));
    assert_eq!(rows(&doc).first().map(|r| r.0.as_str()), Some("ew"), "nearest: {doc}");
    assert!(filter(&format!("S_DWITHIN(geometry, POINT({} {}), 6000, meters)", p1.x, p1.y)).contains("ew"));

    // A polygon corridor: what is deep inside it is at 0; a collection's point counts.
    let square = json!({"type": "Polygon", "coordinates": [[[121.0, 41.5], [124.0, 41.5], [124.0, 43.5], [121.0, 43.5], [121.0, 41.5]]]});
    let doc = post("/collections/long/along?distance=10", &square);
    assert_eq!(distance_of(&doc, "inner"), Some(0.0), "{doc}");
    let near = c(123.0, 42.5001);
    let collection = json!({"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [near.x, near.y]},
        {"type": "LineString", "coordinates": [[100.0, 30.0], [100.1, 30.0]]},
    ]});
    let doc = post("/collections/long/along?distance=100", &collection);
    let expected = geodesic::distance_m(near, inner);
    let got = distance_of(&doc, "inner").expect("a collection's point is a corridor too");
    assert!((got - expected).abs() < 0.001, "{got} vs {expected}");

    // A long posted line finds what is near the middle of its geodesic, 0.25° north of its vertices.
    let to_mid = segment_by_sampling(mid, lit_a, lit_b);
    assert!(to_mid < 5_000.0, "premise: {to_mid}");
    let doc = post("/collections/long/along?distance=5000", &line(lit_a, lit_b));
    let got = distance_of(&doc, "mid").expect("along finds the point by the geodesic's middle");
    assert!((got - to_mid).abs() < 0.001, "{got} vs {to_mid}");
    assert!(filter("S_DWITHIN(geometry, LINESTRING(115 45.3, 130 45.3), 5000, meters)").contains("mid"));

    // Drawn straight, `vert` crosses the line and `cross` does not; as geodesics it is the other way round.
    assert_eq!(
        filter("S_DWITHIN(geometry, LINESTRING(115 45, 130 45), 1000, meters)"),
        ["cross", "ew"].into_iter().map(str::to_owned).collect::<BTreeSet<_>>()
    );
    let doc = post("/collections/long/along?distance=30000", &line(ew_a, ew_b));
    let to_vert = [
        segment_by_sampling(vert_a, ew_a, ew_b),
        segment_by_sampling(vert_b, ew_a, ew_b),
        segment_by_sampling(ew_a, vert_a, vert_b),
        segment_by_sampling(ew_b, vert_a, vert_b),
    ]
    .into_iter()
    .fold(f64::INFINITY, f64::min);
    assert!(to_vert > 10_000.0, "premise: {to_vert}");
    let got = distance_of(&doc, "vert").expect("vert is within 30 km");
    assert!((got - to_vert).abs() < 0.001, "{got} vs {to_vert}");
    assert_eq!(distance_of(&doc, "cross"), Some(0.0));

    // Inside the polygon's drawing, outside its geodesic bottom edge (which bows north); and the other way
    // round under its top edge.
    let bottom = geodesic_midpoint(poly[0], poly[1]);
    let top = geodesic_midpoint(poly[3], poly[2]);
    let (q1, q2) = (c(122.5, 38.1), c(122.5, 39.1));
    assert!(bottom.y > q1.y && top.y > q2.y, "premise: {bottom:?} {top:?}");
    let to_poly = poly.windows(2).map(|w| segment_by_sampling(q1, w[0], w[1])).fold(f64::INFINITY, f64::min);
    let doc =
        app.get_json(&format!("/collections/long/within-distance?lon={}&lat={}&distance=30000", q1.x, q1.y));
    let got = distance_of(&doc, "poly").expect("poly within 30 km");
    assert!((got - to_poly).abs() < 0.001 && got > 10_000.0, "{got} vs {to_poly}");
    let doc =
        app.get_json(&format!("/collections/long/within-distance?lon={}&lat={}&distance=1", q2.x, q2.y));
    assert_eq!(distance_of(&doc, "poly"), Some(0.0), "{doc}");

    // Across the antimeridian a segment is its 2° geodesic there, not a chord round the globe: nothing in
    // Liaoning is near a line from 179° E to 179° W, the line is near the 180° meridian, and the polygon
    // astride it holds a point on it.
    let nothing = post("/collections/projects/along?distance=1", &line(c(179.0, 41.0), c(-179.0, 41.0)));
    assert_eq!(nothing["numberMatched"], 0, "{nothing}");
    let projects = app.get_json(&format!(
        "/collections/projects/items?filter={}",
        crate::helpers::urlencode("S_DWITHIN(geometry, LINESTRING(179 41, -179 41), 1000, meters)")
    ));
    assert_eq!(projects["numberMatched"], 0, "{projects}");
    let to_dateline = segment_by_sampling(c(180.0, 50.0), c(179.5, 50.0), c(-179.5, 50.0));
    assert!(filter("S_DWITHIN(geometry, POINT(180 50), 2000, meters)").contains("dateline"), "{to_dateline}");
    let doc = app.get_json("/collections/long/within-distance?lon=180&lat=11&distance=1");
    assert_eq!(distance_of(&doc, "pacific"), Some(0.0), "{doc}");
    let doc = app.get_json("/collections/long/within-distance?lon=0&lat=11&distance=1000");
    assert_eq!(distance_of(&doc, "pacific"), None, "{doc}");

    // A corridor by the antimeridian finds what is just across it.
    let doc = post(
        "/collections/long/along?distance=5000",
        &json!({"type": "Point", "coordinates": [179.99, 10.0]}),
    );
    let expected = geodesic::distance_m(c(179.99, 10.0), c(-179.99, 10.0));
    let got = distance_of(&doc, "east-of-180").expect("along across 180°");
    assert!((got - expected).abs() < 0.001, "{got} vs {expected}");
    // A BBOX is a box of parallels and meridians when measured to, as when intersected: 40.2° N is 22 km
    // north of its north edge (not inside a geodesic drawn between its corners), 30.1° N is inside it.
    let north = geodesic::distance_m(c(120.0, 40.0), c(120.0, 40.2));
    let within = |m: f64| filter(&format!("S_DWITHIN(geometry, BBOX(110, 30, 130, 40), {m}, meters)"));
    assert!(within(0.0).contains("box-in") && !within(0.0).contains("box-out"), "{:?}", within(0.0));
    assert!(!within(north - 5.0).contains("box-out") && within(north + 5.0).contains("box-out"), "{north}");
    // A latitude-first box across the antimeridian is read by its longitudes.
    let doc = app.get_json(&format!(
        "/collections/long/items?limit=100&filter-crs={}&filter={}",
        crate::helpers::urlencode("http://www.opengis.net/def/crs/EPSG/0/4326"),
        crate::helpers::urlencode("S_INTERSECTS(geometry, BBOX(-41, 170, -29, -170))")
    ));
    let ids: BTreeSet<String> =
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
    assert!(ids.contains("pacific-point") && !ids.contains("atlantic-point"), "{ids:?}");

    // The layer's own distance_m gives way to the measured one, once, and stays in its items.
    let r =
        app.get(&format!("/collections/long/within-distance?lon={}&lat={}&distance=10", inner.x, inner.y));
    let text = r.text().unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(ids_of(&doc), ["inner".to_owned()].into_iter().collect());
    let feature = text.find("\"type\":\"Feature\"").map(|at| &text[at..]).expect("a feature");
    assert_eq!(feature.matches("\"distance_m\"").count(), 1, "{text}");
    assert_eq!(distance_of(&doc, "inner"), Some(0.0));
    let own = app.get_json("/collections/long/items/inner");
    assert_eq!(own["properties"]["distance_m"], 7);
}
