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

/// GDAL's OAPIF driver sends `-where "city_wide = 1"` to the server (the parameter is in the API description;
/// since the contract lists `cql-text`, as the filter `city_wide = 1`): the projects' own property is filtered,
/// the rows GDAL would pick itself (it was a 400).
/// A target's value is a number written as one (`1.0`), so GDAL types the field Real from the first page and
/// keeps 7.7 (it read the field as Integer and kept 7).
#[test]
fn gdal_filters_city_wide_projects_on_the_server_and_keeps_a_targets_fraction() {
    let url = format!("OAPIF:{}", app().base);
    let want = crate::helpers::catalog()
        .projects()
        .features()
        .iter()
        .filter(|f| f.properties.get("city_wide") == Some(&serde_json::Value::Bool(true)))
        .count();
    assert!(want > 0);
    let (ok, out) = run("ogrinfo", &["-ro", "-q", &url, "projects", "-where", "city_wide = 1"]);
    assert!(ok && !out.contains("ERROR"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("OGRFeature(")).count(), want, "{out}");
    let (ok, out) =
        run("ogrinfo", &["-ro", "-q", &url, "targets", "-where", "id = 'liaodong-zone-forest-stock-growth'"]);
    assert!(ok && !out.contains("ERROR"), "{out}");
    assert!(out.contains("value (Real) = 7.7"), "{out}");
    // A report's fields are on every record (null where it has none), so GDAL makes them all.
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &url, "progress"]);
    assert!(ok && !out.contains("ERROR"), "{out}");
    for field in ["investment_planned_year:", "investment_period:", "reported_by:"] {
        assert!(out.contains(field), "{field} {out}");
    }
}

/// GDAL 3.6 sent a `-where` on a Date field as the `datetime` parameter (`2024-01-01T/..`), which the server
/// refused, and which means something else here (the projects as they stood). With `cql-text` in the contract
/// it writes in CQL what concerns the parameters listed for items and filters a date itself: the rows are the
/// server's own for the same comparison. `city_wide = 1` still goes to the server.
#[test]
fn gdal_filters_on_a_date_field_give_the_rows_the_server_gives() {
    let url = format!("OAPIF:{}", app().base);
    let count = |out: &str| out.lines().filter(|l| l.starts_with("OGRFeature(")).count() as u64;
    for (gdal_where, cql) in [
        ("progress_as_of >= '2024-01-01'", "progress_as_of >= DATE('2024-01-01')"),
        ("progress_as_of < '2024-01-01'", "progress_as_of < DATE('2024-01-01')"),
    ] {
        let want = app().get_json(&format!(
            "/collections/projects/items?limit=1&filter={}",
            crate::helpers::urlencode(cql)
        ))["numberMatched"]
            .as_u64()
            .unwrap();
        let (ok, out) = run("ogrinfo", &["-ro", "-q", &url, "projects", "-where", gdal_where]);
        assert!(ok && !out.contains("ERROR"), "{gdal_where}: {out}");
        assert_eq!(count(&out), want, "projects {gdal_where}");
        // Every project's state is as of today: all of them on one side, none on the other.
        if gdal_where.contains(">=") {
            assert!(want > 0, "{gdal_where} selects the projects");
        }
    }
    // The reports' days are properties, not queryables: the rows the server holds, counted here.
    let reports = app().get_json("/collections/progress/items?limit=10000");
    let days = |k: &str| -> Vec<String> {
        reports["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"][k].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let (starts, ends) = (days("period_start"), days("period_end"));
    for (gdal_where, want) in [
        ("period_start = '2024-04-01'", starts.iter().filter(|d| *d == "2024-04-01").count()),
        (
            "period_end <= '2023-06-30'",
            ends.iter().filter(|d| !d.is_empty() && d.as_str() <= "2023-06-30").count(),
        ),
    ] {
        assert!(want > 0 && want < starts.len(), "{gdal_where} selects some reports, not all");
        let (ok, out) = run("ogrinfo", &["-ro", "-q", &url, "progress", "-where", gdal_where]);
        assert!(ok && !out.contains("ERROR"), "{gdal_where}: {out}");
        assert_eq!(count(&out), want as u64, "progress {gdal_where}");
    }
    let (ok, out) =
        run("ogrinfo", &["--debug", "on", "-ro", "-q", &url, "projects", "-where", "city_wide = 1"]);
    assert!(ok, "{out}");
    assert!(out.contains("filter-lang=cql-text"), "city_wide = 1 is asked of the server: {out}");
    assert!(!out.contains("datetime="), "{out}");
}

/// GDAL makes its OAPIF fields from the collection's `describedBy` schema, not from the first page alone: a
/// number null on that page (the investment figures of projects with no report yet) is a Real field, not a
/// String one, and the values read back as numbers. The schema names every property `/schema` names.
#[test]
fn gdal_types_the_fields_from_the_feature_schema() {
    let url = format!("OAPIF:{}", app().base);
    // The first page GDAL reads (10 features) has no investment figure: the test means something.
    let first = app().get_json("/collections/projects/items?limit=10");
    assert!(
        first["features"].as_array().unwrap().iter().all(|f| f["properties"]["investment_total"].is_null()),
        "the first page has no figures"
    );
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &url, "projects"]);
    assert!(ok, "{out}");
    for field in [
        "investment_total: Real",
        "investment_share: Real",
        "city_wide: Integer(Boolean)",
        "progress_as_of: Date",
    ] {
        assert!(out.contains(field), "{field}: {out}");
    }
    let reported =
        app().get_json("/collections/projects/items?filter=investment_total%20IS%20NOT%20NULL&limit=1");
    let f = &reported["features"][0];
    let (id, total) = (f["id"].as_str().unwrap(), f["properties"]["investment_total"].as_f64().unwrap());
    let (ok, out) = run("ogrinfo", &["-ro", "-q", &url, "projects", "-where", &format!("id = '{id}'")]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("investment_total (Real) = {total}")), "{total}: {out}");
    // The same properties as the Part 5 schema, each with one type.
    let part5 = app().get_json("/collections/projects/schema");
    let feature = app().get_json("/collections/projects/feature-schema");
    let props = feature["properties"]["properties"]["properties"].as_object().unwrap();
    let named: Vec<&String> =
        part5["properties"].as_object().unwrap().keys().filter(|k| *k != "id" && *k != "geometry").collect();
    assert_eq!(props.keys().collect::<Vec<_>>(), named);
    assert!(props.values().all(|p| p["type"].is_string()), "{feature}");
    assert_eq!(
        props["investment_total"],
        serde_json::json!({"type": "number", "nullable": true, "description": part5["properties"]["investment_total"]["description"]})
    );
    crate::helpers::assert_problem(app().get("/collections/projects/feature-schema?f=html"), 400);
    // OpenAPI 3.0 has one `type` per schema, never a list or "null", in every collection: a property with no
    // value in any feature of a view (the lines' county_adcode) is nullable text, and the views of the projects
    // type a property alike (the lines' targets, all empty lists, as the points' lists of objects).
    let collections = app().get_json("/collections");
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let doc = app().get_json(&format!("/collections/{id}/feature-schema"));
        for (name, p) in doc["properties"]["properties"]["properties"].as_object().unwrap() {
            assert!(p.get("type").is_none_or(|t| t.is_string() && t != "null"), "{id}.{name}: {p}");
        }
    }
    let lines = app().get_json("/collections/projects-lines/feature-schema");
    let lines = &lines["properties"]["properties"]["properties"];
    assert_eq!(lines["county_adcode"]["type"], "string", "{lines}");
    assert_eq!(lines["county_adcode"]["nullable"], true, "{lines}");
    assert_eq!(lines["targets"]["type"], props["targets"]["type"], "{lines}");
    assert_eq!(lines["targets"].get("items"), props["targets"].get("items"), "{lines}");
    // Lists are lists and days are dates in the collections without a declared type for them.
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &url, "progress"]);
    assert!(ok, "{out}");
    // A count is a whole number: Integer, not Real (the counties' project_count was typed number).
    let (ok, counties) = run("ogrinfo", &["-ro", "-so", &url, "counties"]);
    assert!(ok && counties.contains("project_count: Integer "), "{counties}");
    let part5 = app().get_json("/collections/counties/schema");
    assert_eq!(part5["properties"]["project_count"]["type"], "integer", "{part5}");
    for field in ["county_adcodes: StringList", "period_start: Date", "period_end: Date"] {
        assert!(out.contains(field), "{field}: {out}");
    }
}

/// GDAL opens `/exports/projects.csv` by URL and fetches `projects.csvt` beside it, so the CSV's columns are
/// typed as the data is: investment figures Real, the counts Integer, `city_wide` a boolean, the geometry read
/// from its WKT column; and a filter on a number compares numbers. Without the file every column was String.
#[test]
fn gdal_reads_the_csv_export_with_its_column_types() {
    let csv = format!("/vsicurl/{}/exports/projects.csv", app().base);
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &csv, "projects"]);
    assert!(ok, "{out}");
    for field in [
        "id: String",
        "name_zh: String",
        "investment_total: Real",
        "city_wide: Integer(Boolean)",
        "progress_as_of: Date",
        "lon: Real",
        "lat: Real",
        "Geometry Column = geom_wkt",
    ] {
        assert!(out.contains(field), "{field}: {out}");
    }
    assert!(out.contains("Layer SRS WKT:\nGEOGCRS[\"WGS 84\""), "the .prj beside it: {out}");
    // The types line has one entry per column of the CSV's header.
    let header = app().get("/exports/projects.csv").text().unwrap().lines().next().unwrap().to_owned();
    let types = app().get("/exports/projects.csvt").text().unwrap();
    assert_eq!(
        types.trim_end().split(',').count(),
        csv::ReaderBuilder::new().from_reader(header.as_bytes()).headers().unwrap().len(),
        "{types} for {header}"
    );
    let above = app().get_json("/collections/projects/items?filter=investment_total%20%3E%20500&limit=1");
    let n = above["numberMatched"].as_u64().unwrap();
    assert!(n > 0);
    let (ok, out) = run("ogrinfo", &["-ro", "-q", &csv, "projects", "-where", "investment_total > 500"]);
    assert!(ok, "{out}");
    assert_eq!(out.matches("OGRFeature(projects)").count() as u64, n, "{out}");
    // A non-spatial collection has no WKT column (nor .prj); a missing collection is a 404; a report's days are
    // dates, as over OAPIF.
    let targets = app().get("/exports/targets.csvt").text().unwrap();
    assert!(!targets.contains("WKT"), "{targets}");
    crate::helpers::assert_problem(app().get("/exports/targets.prj"), 404);
    crate::helpers::assert_problem(app().get("/exports/nothing.csvt"), 404);
    let progress = format!("/vsicurl/{}/exports/progress.csv", app().base);
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &progress, "progress"]);
    assert!(ok && out.contains("period_start: Date") && out.contains("period_end: Date"), "{out}");
    // A variant is a file of its own name (the name its download is saved under), so GDAL finds its types and
    // CRS too; GDAL asks a URL with a query for neither.
    let projected = format!("/vsicurl/{}/exports/projects-EPSG4549-bom.csv", app().base);
    let (ok, out) = run("ogrinfo", &["-ro", "-so", &projected, "projects-EPSG4549-bom"]);
    assert!(ok, "{out}");
    for field in ["investment_total: Real", "easting: Real", "northing: Real", "CGCS2000", "Feature Count: "]
    {
        assert!(out.contains(field), "{field}: {out}");
    }
    let by_name = app().get("/exports/projects-EPSG4549-bom.csv");
    assert!(
        by_name.headers()["content-disposition"].to_str().unwrap().contains("\"projects-EPSG4549-bom.csv\"")
    );
    let by_query = app().get("/exports/projects.csv?crs=EPSG:4549&bom=true").bytes().unwrap();
    assert_eq!(by_name.bytes().unwrap(), by_query, "one file, two addresses");
    crate::helpers::assert_problem(app().get("/exports/projects-EPSG4549.csv?crs=EPSG:4549"), 400);
    crate::helpers::assert_problem(app().get("/exports/projects-EPSG9999.csv"), 404);
}
