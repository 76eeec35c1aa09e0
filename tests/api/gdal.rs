//! GDAL (Debian gdal-bin) as a real OGC API – Features client of the running server.

use crate::helpers::{app, feature_count, run};

#[test]
fn ogrinfo_lists_the_three_collections() {
    let url = format!("OAPIF:{}", app().base);
    let (ok, out) = run("ogrinfo", &["-ro", "-q", &url]);
    assert!(ok, "ogrinfo failed: {out}");
    for layer in ["regions", "cities", "counties"] {
        assert!(out.lines().any(|l| l.contains(&format!(": {layer}"))), "layer {layer} missing:\n{out}");
    }
}

#[test]
fn ogr2ogr_copies_all_100_counties_with_chinese_names_intact() {
    let dir = std::env::temp_dir().join(format!("planatlas-gdal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("counties.gpkg");
    let _ = std::fs::remove_file(&out_path);
    let url = format!("OAPIF:{}", app().base);
    let (ok, out) = run("ogr2ogr", &["-f", "GPKG", out_path.to_str().unwrap(), &url, "counties"]);
    assert!(ok, "ogr2ogr failed: {out}");
    let (ok, info) = run("ogrinfo", &["-ro", "-so", out_path.to_str().unwrap(), "counties"]);
    assert!(ok, "{info}");
    assert!(info.contains("Feature Count: 100"), "{info}");
    let (ok, rows) = run(
        "ogrinfo",
        &[
            "-ro",
            "-q",
            out_path.to_str().unwrap(),
            "-sql",
            "SELECT name_zh FROM counties WHERE adcode = '210522'",
        ],
    );
    assert!(ok, "{rows}");
    assert!(rows.contains("桓仁满族自治县"), "Chinese name read back: {rows}");
    // Every county's Chinese name survives the trip, matched by adcode against the loaded data.
    let (ok, rows) = run(
        "ogrinfo",
        &["-ro", "-q", out_path.to_str().unwrap(), "-sql", "SELECT adcode, name_zh FROM counties"],
    );
    assert!(ok, "{rows}");
    let mut read_back = std::collections::BTreeMap::new();
    let mut adcode = None;
    for line in rows.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("adcode (String) = ") {
            adcode = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("name_zh (String) = ") {
            read_back.insert(adcode.take().expect("adcode before name_zh"), v.to_owned());
        }
    }
    assert_eq!(read_back.len(), 100);
    let catalog = crate::helpers::catalog();
    for f in catalog.counties().features() {
        assert_eq!(read_back.get(&f.id).map(String::as_str), f.str_prop("name_zh"), "county {}", f.id);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// GDAL reads `projects-points` and `projects-lines` over OAPIF as typed layers (Point, Line String), with every
/// project between them: QGIS draws the line projects the mixed `projects` layer loses.
#[test]
fn the_typed_project_layers_open_in_gdal_as_points_and_lines() {
    let url = format!("OAPIF:{}", app().base);
    let mut total = 0;
    for (layer, kind) in [("projects-points", "Point"), ("projects-lines", "Line String")] {
        let (ok, out) = run("ogrinfo", &["-ro", "-so", &url, layer]);
        assert!(ok, "{out}");
        assert!(out.contains(&format!("Geometry: {kind}")), "{layer}: {out}");
        let n = feature_count(&out);
        let api =
            app().get_json(&format!("/collections/{layer}/items?limit=1"))["numberMatched"].as_u64().unwrap();
        assert_eq!(n, api, "{layer}");
        total += n;
    }
    let all = app().get_json("/collections/projects/items?limit=1")["numberMatched"].as_u64().unwrap();
    assert_eq!(total, all);
}
