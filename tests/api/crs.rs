//! Coordinate systems: Part 2 parameters through PROJ (checked against `cs2cs`), GCJ-02 and BD-09 (checked
//! against the raw GCJ-02 boundaries), and PROJ working from any directory.

use std::collections::BTreeSet;
use std::io::Write;

use geo::{Coord, CoordsIter, Geometry};
use planatlas::geom::chinese;
use planatlas::geom::crs::{Crs, from_crs84};
use planatlas::geom::geodesic::distance_m;
use serde_json::Value;

use crate::helpers::{app, assert_problem, catalog, urlencode};

/// Runs `cs2cs -d 9 OGC:CRS84 <target>` on lon/lat pairs; returns the two output numbers of each line.
fn cs2cs(target: &str, points: &[Coord<f64>]) -> Vec<(f64, f64)> {
    let mut child = std::process::Command::new("cs2cs")
        .args(["-d", "9", "OGC:CRS84", target])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cs2cs (proj-bin) is installed by the test command");
    let input = points.iter().fold(String::new(), |mut s, p| {
        use std::fmt::Write as _;
        let _ = writeln!(s, "{} {}", p.x, p.y);
        s
    });
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().take(2).map(|x| x.parse().unwrap()).collect();
            (v[0], v[1])
        })
        .collect()
}

fn sample_points() -> Vec<(String, Coord<f64>)> {
    let c = catalog();
    c.projects()
        .features()
        .iter()
        .filter_map(|f| match &f.geometry {
            Some(Geometry::Point(p)) => Some((f.id.clone(), p.0)),
            _ => None,
        })
        .step_by(17)
        .take(12)
        .collect()
}

const EPSG: [(Crs, &str); 6] = [
    (Crs::Epsg4326, "EPSG:4326"),
    (Crs::Epsg4490, "EPSG:4490"),
    (Crs::Epsg3857, "EPSG:3857"),
    (Crs::Epsg4549, "EPSG:4549"),
    (Crs::Epsg4550, "EPSG:4550"),
    (Crs::Epsg4551, "EPSG:4551"),
];

#[test]
fn every_epsg_crs_agrees_with_cs2cs_to_a_millimetre() {
    let points = sample_points();
    let coords: Vec<Coord<f64>> = points.iter().map(|p| p.1).collect();
    for (crs, code) in EPSG {
        let reference = cs2cs(code, &coords);
        assert_eq!(reference.len(), coords.len(), "{code}");
        for ((id, c), (a, b)) in points.iter().zip(&reference) {
            // The library, unrounded.
            let ours = from_crs84(crs, *c).unwrap();
            let tol = if crs.is_geographic() { 1e-8 } else { 0.001 };
            assert!(
                (ours.x - a).abs() < tol && (ours.y - b).abs() < tol,
                "{code} {id}: ours {ours:?} cs2cs ({a}, {b})"
            );
            // The HTTP answer, rounded to 6 decimals (degrees) or 3 (metres).
            let f = app().get_json(&format!("/collections/projects/items/{id}?crs={}", urlencode(crs.uri())));
            let xy = f["geometry"]["coordinates"].as_array().unwrap();
            let (x, y) = (xy[0].as_f64().unwrap(), xy[1].as_f64().unwrap());
            let tol = if crs.is_geographic() { 5.1e-7 } else { 0.001 };
            assert!(
                (x - a).abs() < tol && (y - b).abs() < tol,
                "{code} {id} over HTTP: ({x}, {y}) vs ({a}, {b})"
            );
        }
    }
}

#[test]
fn cgcs2000_output_is_latitude_first_with_content_crs() {
    let r = app().get("/collections/projects/items?limit=50&crs=http://www.opengis.net/def/crs/EPSG/0/4490");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-crs"], "<http://www.opengis.net/def/crs/EPSG/0/4490>");
    let doc: Value = r.json().unwrap();
    let c = catalog();
    for f in doc["features"].as_array().unwrap() {
        if f["geometry"]["type"] == "Point" {
            let xy = f["geometry"]["coordinates"].as_array().unwrap();
            let stored = c.projects().get(f["id"].as_str().unwrap()).unwrap().geometry.clone().unwrap();
            let Geometry::Point(p) = stored else { unreachable!() };
            assert!((xy[0].as_f64().unwrap() - p.y()).abs() < 1e-9, "latitude first");
            assert!((xy[1].as_f64().unwrap() - p.x()).abs() < 1e-9);
        }
    }
    let plain = app().get("/collections/projects/items?limit=1");
    assert_eq!(plain.headers()["content-crs"], "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>");
}

#[test]
fn bbox_crs_in_gauss_kruger_selects_what_the_equivalent_crs84_bbox_selects() {
    let (min, max) = (Coord { x: 123.30, y: 41.70 }, Coord { x: 123.50, y: 41.90 });
    // The equivalent box in EPSG:4550 (northing, easting), its corners converted by cs2cs.
    let corners = cs2cs("EPSG:4550", &[min, max, Coord { x: min.x, y: max.y }, Coord { x: max.x, y: min.y }]);
    let n_min = corners.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
    let n_max = corners.iter().map(|c| c.0).fold(f64::NEG_INFINITY, f64::max);
    let e_min = corners.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    let e_max = corners.iter().map(|c| c.1).fold(f64::NEG_INFINITY, f64::max);
    let ids = |doc: &Value| -> BTreeSet<String> {
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    };
    for collection in ["counties", "projects"] {
        let crs84 = app().get_json(&format!(
            "/collections/{collection}/items?limit=1000&bbox={},{},{},{}",
            min.x, min.y, max.x, max.y
        ));
        let gk = app().get_json(&format!(
            "/collections/{collection}/items?limit=1000&bbox={n_min},{e_min},{n_max},{e_max}&bbox-crs={}",
            urlencode("http://www.opengis.net/def/crs/EPSG/0/4550")
        ));
        assert!(!ids(&crs84).is_empty());
        assert_eq!(ids(&crs84), ids(&gk), "{collection}");
    }
    // Latitude-first bbox in EPSG:4326.
    let lat_first = app().get_json(&format!(
        "/collections/counties/items?limit=1000&bbox={},{},{},{}&bbox-crs=EPSG:4326",
        min.y, min.x, max.y, max.x
    ));
    let crs84 = app().get_json(&format!(
        "/collections/counties/items?limit=1000&bbox={},{},{},{}",
        min.x, min.y, max.x, max.y
    ));
    assert_eq!(ids(&lat_first), ids(&crs84));
}

fn read_counties(path: &str) -> Vec<(String, Vec<Coord<f64>>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let fc: geojson::FeatureCollection = text.parse::<geojson::GeoJson>().unwrap().try_into().unwrap();
    fc.features
        .into_iter()
        .map(|f| {
            let adcode = f.properties.as_ref().unwrap()["adcode"].as_str().unwrap().to_owned();
            let g: Geometry<f64> = f.geometry.unwrap().try_into().unwrap();
            (adcode, g.coords_iter().collect())
        })
        .collect()
}

#[test]
fn wgs84_to_gcj02_reproduces_the_raw_gcj02_counties_to_1e_6_degrees() {
    let wgs = read_counties(concat!(env!("CARGO_MANIFEST_DIR"), "/geodata/liaoning-counties.geojson"));
    let raw = read_counties(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gcj02/liaoning-counties.gcj02.geojson"
    ));
    assert_eq!(wgs.len(), 100);
    let mut worst = 0.0f64;
    let mut worst_round_trip = 0.0f64;
    let mut vertices = 0usize;
    for ((a, w), (b, g)) in wgs.iter().zip(&raw) {
        assert_eq!(a, b);
        assert_eq!(w.len(), g.len(), "county {a}: same vertices");
        for (cw, cg) in w.iter().zip(g) {
            let ours = chinese::wgs84_to_gcj02(*cw);
            worst = worst.max((ours.x - cg.x).abs()).max((ours.y - cg.y).abs());
            let back = chinese::gcj02_to_wgs84(*cg);
            worst_round_trip = worst_round_trip.max(distance_m(*cg, chinese::wgs84_to_gcj02(back)));
            vertices += 1;
        }
    }
    assert!(vertices > 160_000);
    assert!(worst <= 1.0e-6 + 1e-12, "largest difference {worst}°");
    assert!(worst_round_trip < 1.0, "GCJ-02 → WGS84 → GCJ-02 within 1 m: {worst_round_trip} m");
}

#[test]
fn gcj02_output_lines_up_with_the_raw_data_over_http() {
    let doc = app().get_json(&format!(
        "/collections/counties/items/210522?crs={}",
        urlencode("urn:planatlas:def:crs:GCJ-02")
    ));
    let raw = read_counties(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gcj02/liaoning-counties.gcj02.geojson"
    ));
    let huanren = &raw.iter().find(|(a, _)| a == "210522").unwrap().1;
    let g: Geometry<f64> =
        geojson::Geometry::from_json_value(doc["geometry"].clone()).unwrap().try_into().unwrap();
    let served: Vec<Coord<f64>> = g.coords_iter().collect();
    assert_eq!(served.len(), huanren.len());
    // Rings are re-oriented at load, so match vertices by position: every served vertex has a raw one within
    // 2e-6° (the two roundings to 6 decimals).
    let key = |c: &Coord<f64>| ((c.x * 1e6).round() as i64, (c.y * 1e6).round() as i64);
    let raw_set: std::collections::HashSet<(i64, i64)> = huanren.iter().map(key).collect();
    for s in &served {
        let (x, y) = key(s);
        let found = (-2..=2).any(|dx| (-2..=2).any(|dy| raw_set.contains(&(x + dx, y + dy))));
        assert!(found, "served GCJ-02 vertex {s:?} has no raw twin");
    }
    // And a point given in GCJ-02 (as an AMap click would) is located where its WGS84 twin is.
    let bd = chinese::wgs84_to_bd09(Coord { x: 123.40, y: 41.79 });
    let located = app().get_json(&format!("/locate?lon={}&lat={}&coord-crs=BD-09", bd.x, bd.y));
    assert_eq!(located["county"]["name_zh"], "和平区");
}

#[test]
fn an_unknown_crs_is_a_400_listing_the_supported_ones() {
    for (path, param) in [
        ("/collections/counties/items?crs=EPSG:2000", "crs"),
        ("/collections/counties/items?bbox=1,2,3,4&bbox-crs=EPSG:32651", "bbox-crs"),
        ("/collections/projects/nearest?lon=123&lat=41&coord-crs=WGS72", "coord-crs"),
        ("/collections/counties/items/210522?crs=foo", "crs"),
    ] {
        let p = app().get_problem(path, 400);
        assert_eq!(p["parameter"], param);
        let detail = p["detail"].as_str().unwrap();
        for crs in Crs::ALL {
            assert!(detail.contains(crs.uri()), "{path}: {detail} lists {}", crs.uri());
        }
    }
    let r = app().get("/collections/counties/items?bbox=600000,4600000,700000,4700000&bbox-crs=EPSG:4326");
    assert_problem(r, 400);
}

#[test]
fn collections_advertise_their_crs_list_and_storage_crs() {
    let doc = app().get_json("/collections/projects");
    let list: Vec<&str> = doc["crs"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    for crs in Crs::ALL {
        assert!(list.contains(&crs.uri()));
    }
    assert_eq!(doc["storageCrs"], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    let conf = app().get_json("/conformance");
    assert!(
        conf["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs")
    );
}

#[test]
fn a_crs_must_be_one_the_collection_lists_and_self_links_keep_it() {
    // targets have no geometries and list no CRS: asking for one is a 400 (Part 2 /req/crs/crs-action).
    let targets = app().get_json("/collections/targets");
    assert!(targets.get("crs").is_none());
    for path in
        ["/collections/targets/items?crs=EPSG:4326", "/collections/targets/items/shenyang-gdp?crs=EPSG:4326"]
    {
        let p = app().get_problem(path, 400);
        assert_eq!(p["parameter"], "crs", "{path}: {p}");
    }
    app().get_json("/collections/targets/items?crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    // A feature's self link names the representation it came in.
    let crs = "http://www.opengis.net/def/crs/EPSG/0/3857";
    let doc = app().get_json(&format!("/collections/cities/items/210100?crs={}", urlencode(crs)));
    let me = doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == "self").unwrap()["href"]
        .as_str()
        .unwrap();
    assert!(me.contains(&format!("crs={}", urlencode(crs))), "{me}");
    let again = app().get_json(me);
    assert_eq!(again["geometry"], doc["geometry"], "following self gives the same representation");
}

#[test]
fn the_binary_resolves_epsg_codes_from_any_directory() {
    // No PROJ_DATA, no ~/.local/share/proj, run from the root directory: proj.db is inside the binary.
    let home = std::env::temp_dir().join(format!("planatlas-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_planatlas"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir("/")
        .env_remove("PROJ_DATA")
        .env_remove("PROJ_LIB")
        .env("HOME", &home)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut reader = std::io::BufReader::new(stderr);
    let mut address = None;
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0 {
        if let Some(i) = line.find("listening on http://") {
            address = Some(line[i + "listening on ".len()..].split_whitespace().next().unwrap().to_owned());
            break;
        }
        line.clear();
    }
    let address = address.expect("the server logs its address");
    let client = reqwest::blocking::Client::builder().no_proxy().build().unwrap();
    let r = client
        .get(format!("{address}/collections/projects/items/xudabao-nuclear-power-plant?crs=EPSG:4549"))
        .send()
        .unwrap();
    let status = r.status();
    let body: Value = r.json().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    assert_eq!(status, 200, "{body}");
    let n = body["geometry"]["coordinates"][0].as_f64().unwrap();
    assert!(n > 4_400_000.0 && n < 4_500_000.0, "a Gauss-Kruger northing: {body}");
}

/// A `bbox` in a projected CRS selects what meets the box itself, not its larger lon/lat envelope: every
/// point answered lies in the box (in the same CRS), and the answer is the one `S_INTERSECTS(geometry,
/// BBOX(…))` with `filter-crs` gives. (The envelope let in points 4 km south of the box.)
#[test]
fn a_projected_bbox_selects_what_meets_the_box_itself() {
    let app = app();
    let crs = "EPSG:4549";
    for (n0, e0, n1, e1) in [
        (4_650_000.0, 825_000.0, 4_750_000.0, 925_000.0),
        (4_400_000.0, 600_000.0, 4_560_000.0, 700_000.0),
        (4_600_000.0, 500_000.0, 4_700_000.0, 780_000.0),
    ] {
        let bbox = format!("{n0},{e0},{n1},{e1}");
        let doc = app.get_json(&format!(
            "/collections/projects-points/items?bbox-crs={crs}&crs={crs}&limit=1000&bbox={bbox}"
        ));
        let ids = |d: &Value| -> BTreeSet<String> {
            d["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
        };
        // Independently: every point whose EPSG:4549 position lies in the box, and no other.
        let all = app.get_json(&format!("/collections/projects-points/items?crs={crs}&limit=1000"));
        let inside: BTreeSet<String> = all["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                let c = &f["geometry"]["coordinates"];
                let (n, e) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
                (n0..=n1).contains(&n) && (e0..=e1).contains(&e)
            })
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!inside.is_empty(), "{bbox}: a box with points in it");
        for f in doc["features"].as_array().unwrap() {
            let c = &f["geometry"]["coordinates"];
            let (n, e) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            assert!((n0..=n1).contains(&n) && (e0..=e1).contains(&e), "{bbox}: {} at {n}, {e}", f["id"]);
        }
        let filter = urlencode(&format!("S_INTERSECTS(geometry,BBOX({bbox}))"));
        let by_filter = app.get_json(&format!(
            "/collections/projects-points/items?filter-crs={crs}&crs={crs}&limit=1000&filter={filter}"
        ));
        assert_eq!(ids(&doc), inside, "{bbox}");
        assert_eq!(ids(&by_filter), inside, "{bbox}: filter-crs");
    }
}

/// A `bbox` (and a `BBOX` with `filter-crs`) in GCJ-02 or BD-09 is the box in that CRS: its offsets from WGS84
/// differ from corner to corner and wave along the edges, so the box is not the WGS84 box of its two corners
/// converted (which was what decided). Boxes whose edges pass 0.2 m (`bbox`) or 2 m (a filter's `BBOX`) inside
/// or outside of project locations select exactly the projects whose position in that CRS (as served with
/// `crs=`) lies in the box.
#[test]
fn a_gcj02_or_bd09_bbox_selects_what_lies_in_the_box_in_that_crs() {
    let app = app();
    let mut rng = crate::helpers::Rng::new(20_261_207);
    for crs in ["urn:planatlas:def:crs:GCJ-02", "urn:planatlas:def:crs:BD-09"] {
        let enc = urlencode(crs);
        let all = app.get_json(&format!("/collections/projects-points/items?crs={enc}&limit=1000"));
        let points: Vec<(String, Coord<f64>)> = all["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let c = &f["geometry"]["coordinates"];
                (
                    f["id"].as_str().unwrap().to_owned(),
                    Coord { x: c[0].as_f64().unwrap(), y: c[1].as_f64().unwrap() },
                )
            })
            .collect();
        let ids = |d: &Value| -> BTreeSet<String> {
            d["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
        };
        // Boxes drawn through four random locations until eight are wide enough (how many tries that takes
        // depends on the data).
        let mut checked = 0;
        for _ in 0..200 {
            if checked == 8 {
                break;
            }
            let mut pick = || points[(rng.next_u64() as usize) % points.len()].1;
            let (a, b, c, d) = (pick(), pick(), pick(), pick());
            let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
            let (y0, y1) = (c.y.min(d.y), c.y.max(d.y));
            if x1 - x0 < 0.5 || y1 - y0 < 0.5 {
                continue;
            }
            // Each edge inside or outside the location it was drawn through: 0.2 m (2e-6°) for `bbox`, whose
            // candidates are taken into the box's CRS, and 2 m (2e-5°) for a filter's BBOX, drawn as a ring.
            let sides: Vec<f64> =
                (0..4).map(|_| if rng.next_u64().is_multiple_of(2) { 1.0 } else { -1.0 }).collect();
            for (eps, by_filter) in [(2e-6, false), (2e-5, true)] {
                let (x0, y0, x1, y1) =
                    (x0 - sides[0] * eps, y0 - sides[1] * eps, x1 + sides[2] * eps, y1 + sides[3] * eps);
                let inside: BTreeSet<String> = points
                    .iter()
                    .filter(|(_, p)| (x0..=x1).contains(&p.x) && (y0..=y1).contains(&p.y))
                    .map(|(id, _)| id.clone())
                    .collect();
                let bbox = format!("{x0},{y0},{x1},{y1}");
                let doc = if by_filter {
                    let filter = urlencode(&format!("S_INTERSECTS(geometry,BBOX({bbox}))"));
                    app.get_json(&format!(
                        "/collections/projects-points/items?filter-crs={enc}&limit=1000&filter={filter}"
                    ))
                } else {
                    app.get_json(&format!(
                        "/collections/projects-points/items?bbox-crs={enc}&limit=1000&bbox={bbox}"
                    ))
                };
                assert_eq!(ids(&doc), inside, "{crs} {bbox} (filter: {by_filter})");
            }
            checked += 1;
        }
        assert_eq!(checked, 8, "{crs}: {checked} boxes checked");
    }
}
