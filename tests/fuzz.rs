//! Fuzzing every parser of outside input with proptest (stable Rust, runs in CI): bounding boxes, paging, CRS
//! identifiers, CQL2 filters (text, JSON, and generated from a grammar), GeoJSON request bodies, tile
//! coordinates, and the geodata loaders fed mutated files. The property is always "answers Ok or Err, never
//! panics", plus what an Ok promises.
//!
//! `FUZZ_CASES` sets the cases per target (default 256 in CI); `FUZZING.md` records a long run.

#![allow(clippy::unwrap_used, reason = "a test that meets an unexpected None should fail loudly")]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use planatlas::domain::{Bbox, Limits, Page};
use planatlas::geom::crs::Crs;
use planatlas::geom::tiles::TileId;
use planatlas::store::cql::{self, FilterLang};
use planatlas::store::{Catalog, DataSource, projects};
use proptest::prelude::*;
use serde_json::Value;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn catalog() -> Arc<Catalog> {
    static C: OnceLock<Arc<Catalog>> = OnceLock::new();
    C.get_or_init(|| Arc::new(Catalog::load(DataSource::Embedded).unwrap())).clone()
}

/// Arbitrary JSON values, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (-1000i64..1000).prop_map(Value::from),
        "[a-zA-Z]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("Point"),
            Just("LineString"),
            Just("Polygon"),
            Just("Feature"),
            Just("MultiPolygon"),
            Just("FeatureCollection")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("coordinates".to_owned()),
                    Just("geometry".to_owned()),
                    Just("properties".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Well-formed GeoJSON geometries with arbitrary (often invalid) numbers.
fn geojson_geometry() -> impl Strategy<Value = Value> {
    let coord = (prop_oneof![-200.0..200.0f64, any::<f64>()], prop_oneof![-100.0..100.0f64, any::<f64>()]);
    let ring = prop::collection::vec(coord.clone(), 0..8);
    prop_oneof![
        coord.clone().prop_map(|(x, y)| serde_json::json!({"type": "Point", "coordinates": [x, y]})),
        ring.clone().prop_map(|r| serde_json::json!({"type": "LineString", "coordinates": r.iter().map(|(x, y)| [*x, *y]).collect::<Vec<_>>()})),
        ring.prop_map(|r| {
            let mut pts: Vec<[f64; 2]> = r.iter().map(|(x, y)| [*x, *y]).collect();
            if let Some(first) = pts.first().copied() {
                pts.push(first);
            }
            serde_json::json!({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [pts]}})
        }),
    ]
}

/// CQL2 text built from the grammar with the catalogue's property names, to reach past the syntax checks.
fn cql_text() -> impl Strategy<Value = String> {
    let prop = prop_oneof![
        Just("category"),
        Just("name_zh"),
        Just("length_km"),
        Just("region_ids"),
        Just("sections"),
        Just("lead_unit"),
        Just("geometry"),
        Just("id"),
        Just("nope"),
        Just("location_precision")
    ];
    let lit = prop_oneof![
        Just("'energy'".to_owned()),
        Just("'%机场%'".to_owned()),
        (-1e6..1e6f64).prop_map(|f| format!("{f}")),
        Just("NULL".to_owned()),
        Just("TRUE".to_owned()),
        Just("POINT(121.6 38.9)".to_owned()),
        Just("BBOX(120, 38, 125, 43)".to_owned()),
        Just("('liaoxi-zone', 'coastal-belt')".to_owned()),
    ];
    let atom = (
        prop,
        prop_oneof![Just("="), Just("<>"), Just("<"), Just(">="), Just("LIKE"), Just("IN"), Just("IS NULL")],
        lit.clone(),
        prop::sample::select(vec![
            "S_INTERSECTS",
            "S_DWITHIN",
            "A_CONTAINS",
            "A_OVERLAPS",
            "S_WITHIN",
            "CASEI",
            "BOGUS",
        ]),
    )
        .prop_map(|(p, op, l, f)| match op {
            "IS NULL" => format!("{p} IS NULL"),
            "IN" => format!("{p} IN ({l})"),
            _ if f == "S_DWITHIN" => format!("{f}({p}, {l}, 5000)"),
            _ if f.starts_with('S') || f.starts_with('A') => format!("{f}({p}, {l})"),
            _ => format!("{p} {op} {l}"),
        });
    atom.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone(), prop::sample::select(vec!["AND", "OR"]))
                .prop_map(|(a, b, op)| format!("({a}) {op} ({b})")),
            inner.prop_map(|a| format!("NOT ({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn bbox_parse_never_panics_and_orders_corners(s in ".{0,60}", north_first in any::<bool>()) {
        if let Ok(b) = Bbox::parse(&s, north_first) {
            // Latitudes ordered; longitudes west > east are a box across the antimeridian, split in two.
            let b = if north_first { b.swapped() } else { b };
            prop_assert!(b.min.y <= b.max.y);
            for r in b.crs84_rects() {
                prop_assert!(r.min().x <= r.max().x && r.min().y <= r.max().y);
            }
            prop_assert_eq!(b.crs84_rects().len(), if b.min.x > b.max.x { 2 } else { 1 });
        }
    }

    #[test]
    fn bbox_of_four_numbers_is_accepted_exactly_when_latitudes_are_ordered(a in any::<f64>(), b in any::<f64>(), c in any::<f64>(), d in any::<f64>()) {
        let ok = [a, b, c, d].iter().all(|v| v.is_finite()) && b <= d;
        prop_assert_eq!(Bbox::parse(&format!("{a},{b},{c},{d}"), false).is_ok(), ok);
        // Latitude first (EPSG:4326): the first and third are the latitudes.
        let ok = [a, b, c, d].iter().all(|v| v.is_finite()) && a <= c;
        prop_assert_eq!(Bbox::parse(&format!("{a},{b},{c},{d}"), true).is_ok(), ok);
    }

    #[test]
    fn paging_never_panics_and_clamps(limit in prop::option::of(".{0,12}"), offset in prop::option::of(".{0,12}"), n in 0i64..5_000_000) {
        let _ = Page::parse(limit.as_deref(), offset.as_deref(), Limits::default());
        let p = Page::parse(Some(&n.to_string()), None, Limits::default());
        if n >= 1 {
            prop_assert!(p.unwrap().limit <= 1000);
        } else {
            prop_assert!(p.is_err());
        }
    }

    #[test]
    fn crs_identifiers_never_panic(s in ".{0,80}") {
        if let Some(crs) = Crs::parse(&s) {
            prop_assert_eq!(Crs::parse(crs.uri()), Some(crs));
        }
    }

    #[test]
    fn tile_addresses_never_panic(z in ".{0,4}", x in ".{0,8}", y in ".{0,8}", zn in 0u32..40, xn in any::<u32>(), yn in any::<u32>()) {
        let _ = TileId::parse(&z, &x, &y, 16);
        if let Ok(t) = TileId::parse(&zn.to_string(), &xn.to_string(), &yn.to_string(), 16) {
            prop_assert!(t.z <= 16 && u64::from(t.x) < (1u64 << t.z) && u64::from(t.y) < (1u64 << t.z));
        }
    }

    #[test]
    fn geojson_bodies_never_panic(v in prop_oneof![json_value(), geojson_geometry()], crs in prop::sample::select(Crs::ALL.to_vec())) {
        if let Ok(g) = planatlas::geom::geometry_from_geojson(&v, crs) {
            for c in geo::CoordsIter::coords_iter(&g) {
                prop_assert!((-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y));
            }
        }
    }

    #[test]
    fn cql2_text_never_panics(s in ".{0,80}") {
        let c = catalog();
        if let Ok(f) = cql::parse(&s, FilterLang::Text, Crs::Crs84, c.projects()) {
            for feature in c.projects().features() {
                let _ = f.matches(feature);
            }
        }
    }

    #[test]
    fn cql2_json_never_panics(v in json_value()) {
        let c = catalog();
        if let Ok(f) = cql::parse(&v.to_string(), FilterLang::Json, Crs::Crs84, c.projects()) {
            for feature in c.projects().features() {
                let _ = f.matches(feature);
            }
        }
    }

    #[test]
    fn grammar_generated_cql2_parses_or_is_refused_and_evaluates_without_panic(s in cql_text()) {
        let c = catalog();
        if let Ok(f) = cql::parse(&s, FilterLang::Text, Crs::Crs84, c.projects()) {
            for feature in c.projects().features() {
                let _ = f.matches(feature);
            }
        }
    }
}

/// The shipped file `name` with a few bytes replaced, spliced or cut.
fn mutate(name: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata").join(name)).unwrap();
    for &(pos, byte, kind) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = pos % bytes.len();
        match kind % 3 {
            0 => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ => bytes.truncate(at.max(1)),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases((cases() / 100).max(64)))]

    #[test]
    fn the_loaders_refuse_mutated_files_without_panicking(
        file in prop::sample::select(vec!["regions.toml", "targets.json", "plan-items.json", "projects.geojson"]),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let dir = std::env::temp_dir().join(format!("planatlas-fuzz-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), mutate(file, &edits)).unwrap();
        let source = DataSource::Dir(dir.clone());
        let c = catalog();
        let result = match file {
            "targets.json" => projects::read_targets(&source).map(|_| ()),
            "plan-items.json" => projects::read_plan_items(&source).map(|_| ()),
            "projects.geojson" => {
                // The seats projects are placed on are read with them.
                std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata/seats.json"), dir.join("seats.json")).unwrap();
                let locate = |p: geo::Coord<f64>| c.county_at(p);
                projects::read_projects(&source, c.counties(), &locate, &[]).map(|_| ())
            }
            _ => {
                // regions.toml is read with the boundaries: give the loader the real ones next to it.
                for f in ["liaoning-cities.geojson", "liaoning-counties.geojson"] {
                    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata").join(f), dir.join(f)).unwrap();
                }
                planatlas::store::admin::load(&source).map(|_| ())
            }
        };
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = result {
            let message = e.to_string();
            prop_assert!(message.contains(file), "a refusal names the file: {}", message);
        }
    }
}
