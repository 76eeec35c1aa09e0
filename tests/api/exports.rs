//! Exports opened by GDAL (Debian gdal-bin): every format, feature counts, CRS, field names, Chinese text;
//! the whole-plan GeoPackage; the CLI writing the same files as HTTP; bad export requests.

use std::path::{Path, PathBuf};

use crate::helpers::{app, assert_problem, feature_count, run, urlencode};

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("planatlas-exports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Downloads `path` into `dir/file`, returning the file path and the response headers.
fn download(path: &str, dir: &Path, file: &str) -> (PathBuf, reqwest::header::HeaderMap) {
    let r = app().get(path);
    assert_eq!(r.status(), 200, "{path}");
    let headers = r.headers().clone();
    let bytes = r.bytes().unwrap();
    let out = dir.join(file);
    std::fs::write(&out, &bytes).unwrap();
    (out, headers)
}

/// The GDAL dataset name for a downloaded file.
fn gdal_name(path: &Path) -> String {
    let p = path.to_str().unwrap().to_owned();
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) { format!("/vsizip/{p}") } else { p }
}

fn ogrinfo_summary(path: &Path, extra: &[&str]) -> String {
    let name = gdal_name(path);
    let mut args = vec!["-ro", "-al", "-so"];
    args.extend(extra);
    args.push(&name);
    let (ok, out) = run("ogrinfo", &args);
    assert!(ok, "ogrinfo failed on {name}: {out}");
    assert!(!out.contains("ERROR"), "GDAL complains about {name}: {out}");
    out
}

fn ogrinfo_where(path: &Path, extra: &[&str], filter: &str) -> String {
    let name = gdal_name(path);
    let mut args = vec!["-ro", "-al", "-q", "-where", filter];
    args.extend(extra);
    args.push(&name);
    let (ok, out) = run("ogrinfo", &args);
    assert!(ok, "{out}");
    out
}

const CSV_OPTS: &[&str] = &["-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO"];

#[test]
fn every_format_opens_in_gdal_with_count_crs_fields_and_chinese_text() {
    let dir = workdir("formats");
    for (f, file, opts) in [
        ("gpkg", "counties.gpkg", &[][..]),
        ("fgb", "counties.fgb", &[][..]),
        ("shp", "counties.shp.zip", &[][..]),
        ("geojsonseq", "counties.geojsons", &[][..]),
        ("csv", "counties.csv", CSV_OPTS),
        ("kml", "counties.kml", &[][..]),
    ] {
        let (path, headers) = download(&format!("/collections/counties/items?f={f}"), &dir, file);
        assert!(headers["content-disposition"].to_str().unwrap().contains(file), "{f}: sensible file name");
        assert_eq!(headers["content-crs"], "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>");
        let info = ogrinfo_summary(&path, opts);
        assert!(info.contains("Feature Count: 100"), "{f}: {info}");
        if f != "csv" {
            assert!(info.contains("WGS 84"), "{f} declares WGS 84: {info}");
        }
        if f == "kml" {
            let rows = ogrinfo_where(&path, opts, "Name = '桓仁满族自治县'");
            assert!(rows.contains("桓仁满族自治县"), "{f}: {rows}");
            continue;
        }
        let parent = if f == "shp" { "parent_cod" } else { "parent_adcode" };
        for field in ["adcode", "name_zh", "name_en", parent] {
            assert!(info.contains(&format!("{field}: ")), "{f} has field {field}: {info}");
        }
        let rows = ogrinfo_where(&path, opts, "adcode = '210522'");
        assert!(rows.contains("桓仁满族自治县"), "{f}: Chinese name read back: {rows}");
        assert!(rows.contains("POLYGON"), "{f}: geometry read back");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_file_format_puts_a_projected_point_where_the_api_puts_it() {
    // The API answer keeps EPSG:4549's axis order (northing, easting); every file is read by GDAL as x =
    // easting, y = northing, GeoJSON included.
    let crs = urlencode("http://www.opengis.net/def/crs/EPSG/0/4549");
    let id = "xudabao-nuclear-power-plant";
    let api = app().get_json(&format!("/collections/projects/items/{id}?crs={crs}"));
    let (northing, easting) = (
        api["geometry"]["coordinates"][0].as_f64().unwrap(),
        api["geometry"]["coordinates"][1].as_f64().unwrap(),
    );
    assert!(easting < 1_000_000.0 && northing > 4_000_000.0, "{api}");
    let dir = workdir("axes");
    for ext in ["geojson", "fgb", "gpkg"] {
        let (path, _) = download(&format!("/exports/projects.{ext}?crs={crs}"), &dir, &format!("p.{ext}"));
        let out = ogrinfo_where(&path, &[], &format!("id = '{id}'"));
        let wkt =
            out.lines().find_map(|l| l.trim().strip_prefix("POINT (")).unwrap_or_else(|| panic!("{out}"));
        let xy: Vec<f64> = wkt.trim_end_matches(')').split_whitespace().map(|v| v.parse().unwrap()).collect();
        assert!((xy[0] - easting).abs() < 0.01 && (xy[1] - northing).abs() < 0.01, "{ext}: {wkt}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn exports_honour_crs_and_filters() {
    let dir = workdir("crs");
    let (path, headers) = download(
        &format!(
            "/collections/projects/items?f=gpkg&category=airport&crs={}",
            urlencode("http://www.opengis.net/def/crs/EPSG/0/4550")
        ),
        &dir,
        "airports.gpkg",
    );
    assert_eq!(headers["content-crs"], "<http://www.opengis.net/def/crs/EPSG/0/4550>");
    let info = ogrinfo_summary(&path, &[]);
    let airports = app().get_json("/collections/projects/items?category=airport&limit=1")["numberMatched"]
        .as_u64()
        .unwrap();
    assert!(info.contains(&format!("Feature Count: {airports}")), "{info}");
    assert!(info.contains("CGCS2000 / 3-degree Gauss-Kruger CM 123E"), "{info}");
    // Gauss-Kruger eastings: about 300–700 km.
    let extent = info.lines().find(|l| l.starts_with("Extent")).unwrap();
    assert!(
        extent.contains("(2") || extent.contains("(3") || extent.contains("(4") || extent.contains("(5"),
        "{extent}"
    );
    let (csv, _) = download(
        "/collections/projects/items?f=csv&category=airport&crs=EPSG:4550&bom=true",
        &dir,
        "airports.csv",
    );
    let text = std::fs::read(&csv).unwrap();
    assert!(text.starts_with("\u{feff}id,".as_bytes()), "BOM then the header");
    let header = String::from_utf8_lossy(&text).lines().next().unwrap().to_owned();
    assert!(header.ends_with("wkt,easting,northing"), "{header}");
    // Files put longitude first in EPSG:4326 too (as GDAL reads them): their coordinates are CRS84's, and the
    // header says so. The OGC API answer keeps EPSG:4326's latitude first and names it.
    let epsg4326 = urlencode("http://www.opengis.net/def/crs/EPSG/0/4326");
    let page = app().get(&format!("/collections/projects/items?category=airport&limit=1&crs={epsg4326}"));
    assert_eq!(page.headers()["content-crs"], "<http://www.opengis.net/def/crs/EPSG/0/4326>");
    let lat_lon = page.json::<serde_json::Value>().unwrap()["features"][0]["geometry"]["coordinates"].clone();
    assert!(lat_lon[0].as_f64().unwrap() < 45.0 && lat_lon[1].as_f64().unwrap() > 118.0, "{lat_lon}");
    for (path, file, opts) in [
        (format!("/collections/projects/items?f=csv&category=airport&crs={epsg4326}"), "a.csv", CSV_OPTS),
        (format!("/exports/projects.geojson?crs={epsg4326}"), "p.geojson", &[][..]),
        (format!("/exports/projects.gpkg?crs={epsg4326}"), "p.gpkg", &[][..]),
    ] {
        let (out, headers) = download(&path, &dir, file);
        assert_eq!(headers["content-crs"], "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>", "{path}");
        let info = ogrinfo_where(&out, opts, "id IS NOT NULL");
        let wkt =
            info.lines().find_map(|l| l.trim().strip_prefix("POINT (")).unwrap_or_else(|| panic!("{info}"));
        let lon: f64 = wkt.split_whitespace().next().unwrap().parse().unwrap();
        assert!((118.0..126.0).contains(&lon), "{path}: longitude first, {wkt}");
    }
    let geojson = std::fs::read_to_string(dir.join("p.geojson")).unwrap();
    assert!(
        !geojson[..200].contains("\"crs\""),
        "RFC 7946 positions need no crs member: {}",
        &geojson[..200]
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_whole_plan_geopackage_has_every_layer_with_its_count() {
    let dir = workdir("plan");
    let (path, headers) = download("/exports/planatlas.gpkg", &dir, "planatlas.gpkg");
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/geopackage+sqlite3"));
    let info = ogrinfo_summary(&path, &[]);
    for layer in ["regions", "cities", "counties", "projects", "targets", "sections"] {
        let n =
            app().get_json(&format!("/collections/{layer}/items?limit=1"))["numberMatched"].as_u64().unwrap();
        let block = info
            .split("Layer name: ")
            .find(|b| b.starts_with(&format!("{layer}\n")))
            .unwrap_or_else(|| panic!("layer {layer}: {info}"));
        assert!(block.contains(&format!("Feature Count: {n}")), "{layer} has {n} features: {block}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_cli_writes_the_same_files_as_http() {
    let dir = workdir("cli");
    // A new store, seeded from the shipped projects: what the shared test server serves.
    let store = &dir.join("store").display().to_string();
    for (format, collection) in [
        ("csv", "projects"),
        ("geojsonseq", "projects"),
        ("kml", "projects"),
        ("fgb", "projects"),
        ("shp", "counties"),
        ("gpkg", "projects"),
    ] {
        let ext = match format {
            "shp" => "shp.zip",
            "geojsonseq" => "geojsons",
            other => other,
        };
        let (http, _) =
            download(&format!("/exports/{collection}.{ext}"), &dir, &format!("http-{collection}.{ext}"));
        let cli = dir.join(format!("cli-{collection}.{ext}"));
        let (ok, out) = run(
            env!("CARGO_BIN_EXE_planatlas"),
            &[
                "export",
                "--format",
                format,
                "--collection",
                collection,
                "--out",
                cli.to_str().unwrap(),
                "--data-dir",
                store,
            ],
        );
        assert!(ok, "{out}");
        if format == "gpkg" {
            // SQLite stamps the write time into gpkg_contents and layer_styles; compare what GDAL reads
            // instead of bytes, leaving the stamps out.
            let unstamped = |s: String| {
                s.lines().filter(|l| !l.contains("update_time (DateTime) =")).collect::<Vec<_>>().join("\n")
            };
            let a = unstamped(ogrinfo_where(&http, &[], "1 = 1"));
            let b = unstamped(ogrinfo_where(&cli, &[], "1 = 1"));
            assert_eq!(a, b, "{format}");
        } else {
            assert_eq!(std::fs::read(&http).unwrap(), std::fs::read(&cli).unwrap(), "{format}: same bytes");
        }
    }
    // And the whole plan.
    let (http, _) = download("/exports/planatlas.gpkg", &dir, "http-plan.gpkg");
    let cli = dir.join("cli-plan.gpkg");
    let (ok, out) = run(
        env!("CARGO_BIN_EXE_planatlas"),
        &["export", "--format", "gpkg", "--out", cli.to_str().unwrap(), "--data-dir", store],
    );
    assert!(ok, "{out}");
    assert_eq!(
        ogrinfo_summary(&http, &[]).replace(http.to_str().unwrap(), ""),
        ogrinfo_summary(&cli, &[]).replace(cli.to_str().unwrap(), "")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failed_cli_export_leaves_the_existing_file_and_a_shapefile_needs_a_zip_name() {
    let dir = workdir("cli-fail");
    let bin = env!("CARGO_BIN_EXE_planatlas");
    // The store lives outside `dir`, which must hold nothing but the exports.
    let store_dir = tempfile::tempdir().unwrap();
    let store = &store_dir.path().display().to_string();
    let keep = dir.join("keep.kml");
    let (ok, out) = run(
        bin,
        &[
            "export",
            "--format",
            "kml",
            "--collection",
            "counties",
            "--out",
            keep.to_str().unwrap(),
            "--data-dir",
            store,
        ],
    );
    assert!(ok, "{out}");
    let before = std::fs::read(&keep).unwrap();
    // targets have no geometries: KML cannot hold them, and the file already there must survive.
    let (ok, out) = run(
        bin,
        &[
            "export",
            "--format",
            "kml",
            "--collection",
            "targets",
            "--out",
            keep.to_str().unwrap(),
            "--data-dir",
            store,
        ],
    );
    assert!(!ok && out.contains("no geometries"), "{out}");
    assert_eq!(std::fs::read(&keep).unwrap(), before, "the earlier export is intact");
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no partial file left behind: {leftovers:?}");
    // A Shapefile export is a zip: a bare .shp name is refused before anything is written.
    let shp = dir.join("counties.shp");
    let (ok, out) = run(
        bin,
        &[
            "export",
            "--format",
            "shp",
            "--collection",
            "counties",
            "--out",
            shp.to_str().unwrap(),
            "--data-dir",
            store,
        ],
    );
    assert!(!ok && out.contains(".shp.zip"), "{out}");
    assert!(!shp.exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_export_requests_are_4xx_problems() {
    let p = app().get_problem("/collections/counties/items?f=xls", 400);
    assert_eq!(p["parameter"], "f");
    assert!(p["detail"].as_str().unwrap().contains("gpkg"), "lists the formats: {p}");
    // Projects mix points and lines: a Shapefile holds one geometry type.
    let p = app().get_problem("/collections/projects/items?f=shp", 400);
    assert!(p["detail"].as_str().unwrap().contains("one geometry type"), "{p}");
    // …unless filtered to one, as the error from /exports says, with a URL that works.
    let r = app().get("/collections/projects/items?f=shp&geometry_type=Point");
    assert_eq!(r.status(), 200);
    // /exports/projects.shp.zip names the two typed collections' exports, and both work, together holding
    // every project.
    let p = app().get_problem("/exports/projects.shp.zip", 400);
    let detail = p["detail"].as_str().unwrap();
    let suggested =
        detail.split('(').nth(1).and_then(|s| s.split(')').next()).unwrap_or_else(|| panic!("{p}"));
    let urls: Vec<&str> = suggested.split(" and ").collect();
    assert_eq!(urls, ["/exports/projects-points.shp.zip", "/exports/projects-lines.shp.zip"], "{detail}");
    let dir = workdir("typed");
    let mut total = 0;
    for (url, kind) in urls.iter().zip(["Point", "Line String"]) {
        let (path, _) = download(url, &dir, url.rsplit('/').next().unwrap());
        let info = ogrinfo_summary(&path, &[]);
        assert!(info.contains(&format!("Geometry: {kind}")), "{url}: {info}");
        let n = feature_count(&info);
        total += n;
    }
    let all = app().get_json("/collections/projects/items?limit=1")["numberMatched"].as_u64().unwrap();
    assert_eq!(total, all, "points and lines are every project");
    let _ = std::fs::remove_dir_all(dir);
    let p = app().get_problem("/collections/targets/items?f=kml", 400);
    assert!(p["detail"].as_str().unwrap().contains("no geometries"), "{p}");
    app().get_problem("/collections/counties/items?f=kml&crs=EPSG:4550", 400);
    app().get_problem("/exports/counties.xlsx", 404);
    app().get_problem("/exports/provinces.gpkg", 404);
    let r = app()
        .client
        .get(app().url("/collections/counties/items"))
        .header("Accept", "application/vnd.ms-excel")
        .send()
        .unwrap();
    assert_problem(r, 406);
    let r = app()
        .client
        .get(app().url("/collections/counties/items"))
        .header("Accept", "text/csv")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"), "chosen by Accept");
}

/// `ogrinfo /vsicurl/<url>` on every export by URL (GDAL's HEAD for the size, then range reads), with the
/// feature count the API gives; each variant saved under its own name; HEAD, Range and If-None-Match answered
/// as for a file.
#[test]
fn every_export_opens_by_url_and_is_served_as_a_file() {
    let a = app();
    let count =
        |c: &str| a.get_json(&format!("/collections/{c}/items?limit=1"))["numberMatched"].as_u64().unwrap();
    for (file, collection) in [
        ("projects.geojson", "projects"),
        ("projects.geojsons", "projects"),
        ("projects.csv", "projects"),
        ("projects.kml", "projects"),
        ("projects.fgb", "projects"),
        ("projects.gpkg", "projects"),
        ("counties.shp.zip", "counties"),
        ("planatlas.gpkg", "counties"),
    ] {
        let url = a.url(&format!("/exports/{file}"));
        let dataset = if collection == "counties" && file != "planatlas.gpkg" {
            format!("/vsizip//vsicurl/{url}")
        } else {
            format!("/vsicurl/{url}")
        };
        let mut args = vec!["-ro", "-so", "-al"];
        if file == "projects.csv" {
            args.extend(CSV_OPTS);
        }
        if file == "planatlas.gpkg" {
            args.retain(|a| *a != "-al");
            args.push(&dataset);
            args.push("counties");
        } else {
            args.push(&dataset);
        }
        let (ok, out) = run("ogrinfo", &args);
        assert!(ok && !out.contains("ERROR"), "ogrinfo {dataset}: {out}");
        let n = count(collection);
        assert!(out.contains(&format!("Feature Count: {n}")), "{file}: {n} features: {out}");
        // The same bytes by HEAD, GET and ranges.
        let head = a.client.head(&url).send().unwrap();
        let len: usize = head.headers()["content-length"].to_str().unwrap().parse().unwrap();
        let tag = head.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(head.headers()["accept-ranges"], "bytes", "{file}");
        let body = a.get(&format!("/exports/{file}")).bytes().unwrap();
        assert_eq!(body.len(), len, "{file}: HEAD says the GET's length");
        let part = a.client.get(&url).header("Range", "bytes=10-109").send().unwrap();
        assert_eq!(part.status(), 206, "{file}");
        assert_eq!(part.bytes().unwrap().as_ref(), &body[10..110], "{file}: the range is those bytes");
        let again = a.client.get(&url).header("If-None-Match", &tag).send().unwrap();
        assert_eq!(again.status(), 304, "{file}");
    }
    // Variants are saved under names of their own.
    let name = |path: &str| {
        let r = a.client.head(a.url(path)).send().unwrap();
        r.headers()["content-disposition"].to_str().unwrap().to_owned()
    };
    assert!(name("/exports/counties.shp.zip").contains("\"counties.shp.zip\""));
    assert!(name("/exports/counties.shp.zip?crs=EPSG:4549").contains("\"counties-EPSG4549.shp.zip\""));
    assert!(name("/exports/projects.csv?bom=true").contains("\"projects-bom.csv\""));
    assert!(name("/exports/projects.fgb?crs=GCJ-02").contains("\"projects-GCJ02.fgb\""));
}

/// Runs one SQL statement through `ogrinfo` (GDAL's SQLite dialect: GDAL registers the `ST_*` and
/// `HasSpatialIndex` functions GeoPackage triggers use) and returns its output.
fn ogr_sql(path: &Path, sql: &str, update: bool) -> String {
    let name = gdal_name(path);
    let mut args = vec!["-q", "-dialect", "SQLite", "-sql", sql, name.as_str()];
    if !update {
        args.insert(0, "-ro");
    }
    let (ok, out) = run("ogrinfo", &args);
    assert!(ok && !out.contains("ERROR"), "ogrinfo -sql {sql}: {out}");
    out
}

/// The integer `ogrinfo -sql` prints for a one-column answer (`name (Integer) = 236`).
fn sql_number(out: &str) -> i64 {
    out.lines()
        .find_map(|l| l.trim().split_once(") = ").and_then(|(_, v)| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no number in {out}"))
}

#[test]
fn the_plan_geopackage_has_a_spatial_index_kept_in_step_and_the_maps_styles() {
    let dir = workdir("rtree");
    let (path, _) = download("/exports/planatlas.gpkg", &dir, "planatlas.gpkg");
    for layer in ["regions", "cities", "counties", "projects"] {
        let n =
            app().get_json(&format!("/collections/{layer}/items?limit=1"))["numberMatched"].as_i64().unwrap();
        let has = ogr_sql(&path, &format!("SELECT HasSpatialIndex('{layer}', 'geom') AS i"), false);
        assert_eq!(sql_number(&has), 1, "{layer} has a spatial index: {has}");
        let rows = ogr_sql(&path, &format!("SELECT COUNT(*) AS n FROM \"rtree_{layer}_geom\""), false);
        assert_eq!(sql_number(&rows), n, "{layer}: one index entry per feature");
        let styles = ogr_sql(
            &path,
            &format!(
                "SELECT COUNT(*) AS n FROM layer_styles WHERE f_table_name = '{layer}' AND useAsDefault = 1 AND styleQML LIKE '%RuleRenderer%' AND styleSLD LIKE '%StyledLayerDescriptor%'"
            ),
            false,
        );
        assert_eq!(sql_number(&styles), 1, "{layer} has one default style, QML and SLD: {styles}");
    }
    // The map's railway colour and Chinese legend are in the projects style.
    let qml = ogr_sql(&path, "SELECT styleQML FROM layer_styles WHERE f_table_name = 'projects'", false);
    assert!(
        qml.contains("178,24,43,255") && qml.contains("铁路"),
        "railways red, named 铁路: {}",
        &qml[..400.min(qml.len())]
    );
    // A spatial filter through the index selects what the API's bbox selects.
    let bbox = "123.0,41.5,123.8,42.1";
    let api = app().get_json(&format!("/collections/projects/items?bbox={bbox}&limit=1"))["numberMatched"]
        .as_u64()
        .unwrap();
    let (ok, spat) = run(
        "ogrinfo",
        &["-ro", "-so", "-spat", "123.0", "41.5", "123.8", "42.1", path.to_str().unwrap(), "projects"],
    );
    assert!(ok, "{spat}");
    assert_eq!(feature_count(&spat), api, "the same projects in {bbox}");
    assert!(api > 0);
    // The triggers keep the index in step when a client edits the file (they run GDAL's ST_* functions).
    let before = sql_number(&ogr_sql(&path, "SELECT COUNT(*) AS n FROM rtree_projects_geom", false));
    ogr_sql(&path, "DELETE FROM projects WHERE fid = 1", true);
    assert_eq!(
        sql_number(&ogr_sql(&path, "SELECT COUNT(*) AS n FROM rtree_projects_geom", false)),
        before - 1
    );
    // Move feature 2 onto the last one's geometry: its index entry follows.
    let same_box = "SELECT COUNT(*) AS n FROM rtree_projects_geom a, rtree_projects_geom b WHERE a.id = 2 AND b.id = (SELECT MAX(fid) FROM projects) AND a.minx = b.minx AND a.miny = b.miny";
    assert_eq!(sql_number(&ogr_sql(&path, same_box, false)), 0, "they start apart");
    ogr_sql(
        &path,
        "UPDATE projects SET geom = (SELECT geom FROM projects WHERE fid = (SELECT MAX(fid) FROM projects)) WHERE fid = 2",
        true,
    );
    assert_eq!(sql_number(&ogr_sql(&path, same_box, false)), 1, "the moved feature's entry moved with it");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn kml_carries_every_column_as_extended_data_and_the_maps_colours() {
    let dir = workdir("kml-extended");
    let (path, _) = download("/exports/projects.kml", &dir, "projects.kml");
    let text = std::fs::read_to_string(&path).unwrap();
    // One shared style per class, in KML's aabbggrr: railway #b2182b is ff2b18b2.
    assert!(text.contains("<LineStyle><color>ff2b18b2</color>"), "the railway line style");
    let airport = app().get_json("/collections/projects/items?category=airport&limit=1");
    let f = &airport["features"][0];
    let id = f["id"].as_str().unwrap();
    // GDAL reads ExtendedData as fields: the category, units and precision come back with their values.
    let out = ogrinfo_where(&path, &[], &format!("id = '{id}'"));
    for key in ["category", "lead_unit", "location_precision", "location_source"] {
        let v = f["properties"][key].as_str().unwrap();
        assert!(out.contains(&format!("{key} (String) = {v}")), "{key} = {v} read from ExtendedData: {out}");
    }
    // Typed: numbers are numbers to GDAL (they were all text), so a where clause compares them as numbers.
    let reported = app().get_json("/collections/projects/items?filter=investment_total%3E100&limit=1000");
    let want = reported["features"].as_array().unwrap();
    assert!(!want.is_empty(), "projects with more than 100 (亿元) reported");
    let out = ogrinfo_where(&path, &[], "investment_total > 100");
    assert_eq!(out.matches("OGRFeature(").count(), want.len(), "{out}");
    let total = want[0]["properties"]["investment_total"].as_f64().unwrap();
    assert!(out.contains(&format!("investment_total (Real) = {total}")), "{total}: {out}");
    assert!(out.contains("city_wide (Integer) = 0"), "a boolean as 0/1: {out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_qgis_project_reads_the_maps_layers_from_this_server() {
    let r = app().get("/exports/planatlas.qgz");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-qgis-project-container");
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("planatlas.qgz"));
    let bytes = r.bytes().unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let mut qgs = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("planatlas.qgs").expect("holds planatlas.qgs"), &mut qgs)
        .unwrap();
    let base = app().url("");
    let base = base.trim_end_matches('/');
    for c in ["projects-points", "projects-lines", "regions", "cities", "counties"] {
        let source = format!("url=&apos;{base}&apos; typename=&apos;{c}&apos;");
        assert_eq!(
            qgs.matches(&source).count(),
            2,
            "{c}: a layer-tree entry and a map layer reading {source}"
        );
    }
    assert_eq!(qgs.matches("<provider encoding=\"UTF-8\">OAPIF</provider>").count(), 5);
    assert!(qgs.contains("<authid>EPSG:3857</authid>"), "in Web Mercator");
    assert!(qgs.contains("label=\"铁路\""), "the legend in Chinese");
    // It takes no crs: it reads the layers in CRS84.
    assert_problem(app().get("/exports/planatlas.qgz?crs=EPSG:4549"), 400);
}

/// A streamed export (`items?f=…`) has a weak ETag naming the data revision and what was asked: asked again
/// with it, 304; another format or CRS, another tag.
#[test]
fn a_streamed_export_revalidates_with_its_etag() {
    // Its own server: the shared one's export slots are busy with the other export tests.
    let app = crate::helpers::spawn_with(planatlas::config::Settings::local());
    let app = &app;
    let tag = |path: &str| {
        let r = app.get(path);
        assert_eq!(r.status(), 200, "{path}");
        let t = r.headers()["etag"].to_str().unwrap().to_owned();
        assert!(t.starts_with("W/\""), "{path}: {t}");
        assert!(r.headers()["vary"].to_str().unwrap().contains("Accept"), "{path}");
        t
    };
    let csv = tag("/collections/counties/items?f=csv");
    let again = app
        .client
        .get(app.url("/collections/counties/items?f=csv"))
        .header("If-None-Match", &csv)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), csv);
    assert_ne!(tag("/collections/counties/items?f=kml"), csv);
    assert_ne!(tag("/collections/counties/items?f=csv&crs=http://www.opengis.net/def/crs/EPSG/0/4549"), csv);
    assert_eq!(tag("/collections/counties/items?f=csv"), csv, "the same request, the same tag");
}

/// An export's ETag is strong and made from its bytes: the same on another instance with the same data (it was
/// actix-files' inode and time), a 304 for it, and `If-Range` with another tag gets the whole file, never a
/// range of different bytes.
#[test]
fn export_tags_follow_the_bytes_and_if_range_guards_ranges() {
    let a = crate::helpers::spawn_store(planatlas::config::Settings::local());
    let b = crate::helpers::spawn_store(planatlas::config::Settings::local());
    let path = "/exports/counties.csv";
    let first = a.app.get(path);
    assert_eq!(first.status(), 200);
    let tag = first.headers()["etag"].to_str().expect("etag").to_owned();
    let full = first.bytes().expect("body").len();
    assert!(tag.starts_with('"') && full > 300, "{tag}");
    let other = b.app.get(path);
    assert_eq!(
        other.headers()["etag"].to_str().expect("etag"),
        tag,
        "another instance, same bytes: {:?}",
        other.headers()
    );
    let get_with = |headers: &[(&str, &str)]| {
        let mut r = a.app.client.get(a.app.url(path));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().expect("answers")
    };
    assert_eq!(get_with(&[("If-None-Match", &tag)]).status(), 304);
    let ranged = get_with(&[("Range", "bytes=100-199"), ("If-Range", &tag)]);
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().expect("body").len(), 100);
    let stale = get_with(&[("Range", "bytes=100-199"), ("If-Range", "\"bogus\"")]);
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.headers()["etag"].to_str().expect("etag"), tag);
    assert_eq!(stale.bytes().expect("body").len(), full);
    assert_eq!(get_with(&[("If-Match", "\"bogus\"")]).status(), 412);
    let matched = get_with(&[("If-Match", &tag)]);
    assert_eq!(matched.status(), 200, "the right tag in If-Match");
    assert_eq!(matched.bytes().expect("body").len(), full);
    // Several first requests for one export at once: each gets the file and the same tag.
    let c = crate::helpers::spawn_store(planatlas::config::Settings::local());
    let tags: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let r = c.app.get("/exports/counties.csv");
                    assert_eq!(r.status(), 200);
                    r.headers()["etag"].to_str().expect("etag").to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("request")).collect()
    });
    assert!(tags.iter().all(|t| *t == tag), "{tags:?}");
}

/// What a review of the round trip found: `import` read files written in EPSG:4549 or 4326 northing first and
/// ignored the CRS a file names (a GCJ-02 GeoJSON moved projects 500 m); a GeoPackage cell of text that looks
/// like JSON came back as an array; a FeatureCollection with no `features` imported nothing and exit 0; a
/// layer's ids were lost through its GeoPackage, FlatGeobuf and Shapefile; KML kept one hole per polygon.
#[test]
fn exported_files_import_back_unchanged_and_keep_their_ids_and_holes() {
    let every = crate::helpers::catalog().projects().features().len();
    let bin = env!("CARGO_BIN_EXE_planatlas");
    let dir = workdir("round-trip");
    let store = dir.join("store");
    let store = store.to_str().unwrap();
    let export = |args: &[&str]| {
        let mut all = vec!["export"];
        all.extend(args);
        all.extend(["--data-dir", store]);
        let (ok, out) = run(bin, &all);
        assert!(ok, "{args:?}: {out}");
    };
    let import = |file: &Path, extra: &[&str]| {
        let mut all = vec!["import", file.to_str().unwrap(), "--data-dir", store];
        all.extend(extra);
        run(bin, &all)
    };
    for crs in ["EPSG:4549", "EPSG:4326", "EPSG:3857", "BD-09", "GCJ-02"] {
        for format in ["gpkg", "geojson"] {
            let file = dir.join(format!("projects-{}.{format}", crs.replace(':', "")));
            export(&[
                "--format",
                format,
                "--collection",
                "projects",
                "--crs",
                crs,
                "--out",
                file.to_str().unwrap(),
            ]);
            let (ok, out) = import(&file, &[]);
            assert!(
                ok && out.contains(&format!("0 created, 0 changed, {every} unchanged")),
                "{crs} {format}: {out}"
            );
        }
    }
    let in_4549 = dir.join("projects-EPSG4549.geojson");
    let (ok, out) = import(&in_4549, &["--crs", "EPSG:4549"]);
    assert!(ok && out.contains(&format!("{every} unchanged")), "{out}");
    let (ok, out) = import(&in_4549, &["--crs", "CRS84"]);
    assert!(!ok && out.contains("EPSG:4549") && out.contains("nothing imported"), "{out}");
    // Text that looks like JSON stays text through a GeoPackage.
    let plain = dir.join("projects.geojson");
    export(&["--format", "geojson", "--collection", "projects", "--out", plain.to_str().unwrap()]);
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plain).unwrap()).unwrap();
    doc["features"][0]["properties"]["excerpt"] = serde_json::json!("[1]");
    std::fs::write(&plain, doc.to_string()).unwrap();
    let (ok, out) = import(&plain, &[]);
    assert!(ok && out.contains("1 changed"), "{out}");
    let gpkg = dir.join("bracket.gpkg");
    export(&["--format", "gpkg", "--collection", "projects", "--out", gpkg.to_str().unwrap()]);
    let (ok, out) = import(&gpkg, &[]);
    assert!(ok && out.contains(&format!("0 changed, {every} unchanged")), "{out}");
    // A FeatureCollection without its features array is refused.
    let typo = dir.join("typo.geojson");
    std::fs::write(&typo, r#"{"type": "FeatureCollection", "Features": []}"#).unwrap();
    let (ok, out) = import(&typo, &[]);
    assert!(!ok && out.contains("features"), "{out}");
    // A layer keeps its ids through planatlas's own files.
    let layer = dir.join("zones.geojson");
    let square = |x: f64, y: f64| serde_json::json!({"type": "Polygon", "coordinates": [[[x, y], [x + 0.05, y], [x + 0.05, y + 0.05], [x, y + 0.05], [x, y]]]});
    let zones = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "kfq-a", "properties": {"name": "开发区甲"}, "geometry": square(123.9, 41.9)},
        {"type": "Feature", "id": "kfq-b", "properties": {"name": "开发区乙"}, "geometry": square(121.2, 38.9)},
        {"type": "Feature", "id": "kfq-c", "properties": {"name": "开发区丙"}, "geometry": square(122.2, 40.6)},
    ]});
    std::fs::write(&layer, zones.to_string()).unwrap();
    let spec = format!("zones={}", layer.display());
    for format in ["gpkg", "fgb", "shp"] {
        let file =
            dir.join(if format == "shp" { "zones.shp.zip".to_owned() } else { format!("zones.{format}") });
        export(&[
            "--format",
            format,
            "--collection",
            "zones",
            "--layer",
            &spec,
            "--out",
            file.to_str().unwrap(),
        ]);
        let id = format!("back-{format}");
        let (ok, out) = import(&file, &["--new-collection", &id]);
        assert!(ok, "{format}: {out}");
        let back = dir.join(format!("back-{format}.geojson"));
        export(&["--format", "geojson", "--collection", &id, "--out", back.to_str().unwrap()]);
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&back).unwrap()).unwrap();
        let mut got: Vec<(String, String)> = doc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (f["id"].as_str().unwrap().to_owned(), f["properties"]["name"].as_str().unwrap().to_owned())
            })
            .collect();
        got.sort();
        let want = [("kfq-a", "开发区甲"), ("kfq-b", "开发区乙"), ("kfq-c", "开发区丙")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(got, want, "{format}");
    }
    // A GeoJSON layer's own ids stay, numbers or not, whatever its `id` property says.
    let numbered = dir.join("numbered.geojson");
    let mut doc = zones.clone();
    for (n, f) in doc["features"].as_array_mut().unwrap().iter_mut().enumerate() {
        f["id"] = serde_json::json!(n + 1);
        f["properties"]["id"] = serde_json::json!(format!("other-{n}"));
    }
    std::fs::write(&numbered, doc.to_string()).unwrap();
    let (ok, out) = import(&numbered, &["--new-collection", "numbered"]);
    assert!(ok, "{out}");
    let back = dir.join("numbered-back.geojson");
    export(&["--format", "geojson", "--collection", "numbered", "--out", back.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&back).unwrap()).unwrap();
    let mut ids: Vec<String> =
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    assert_eq!(ids, ["1", "2", "3"]);
    // KML: each hole in its own innerBoundaryIs, so GDAL reads both of 凌海市's.
    let kml = dir.join("counties.kml");
    export(&["--format", "kml", "--collection", "counties", "--out", kml.to_str().unwrap()]);
    let (ok, out) = run(
        "ogrinfo",
        &[
            "-ro",
            "-q",
            "-dialect",
            "SQLite",
            "-sql",
            "SELECT ST_NumInteriorRing(ST_GeometryN(geometry, 1)) AS holes FROM counties WHERE id = '210781'",
            kml.to_str().unwrap(),
        ],
    );
    assert!(ok && out.contains("holes (Integer) = 2"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A review of what GIS users meet: the two typed halves of the projects export with the same column types
/// (the schema's, not what their values happen to be: the lines' investment figures are all null); a CSV
/// keeps a lone sign (a target's comparator `=`) as written; a Shapefile's field names differ ignoring case,
/// as dBase compares them (`ID`, `name` beside `Name` and `NAME`).
#[test]
fn exports_follow_the_declared_schema_and_write_names_dbase_can_tell_apart() {
    let dir = workdir("schema");
    let mut kinds = Vec::new();
    for file in ["projects-points.gpkg", "projects-lines.gpkg"] {
        let (path, _) = download(&format!("/exports/{file}"), &dir, file);
        let info = ogrinfo_summary(&path, &[]);
        let kind = |field: &str| {
            info.lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix(&format!("{field}: "))
                        .map(|k| k.split(' ').next().unwrap().to_owned())
                })
                .unwrap_or_else(|| panic!("no {field} in {file}: {info}"))
        };
        kinds.push((kind("investment_total"), kind("investment_share")));
    }
    assert_eq!(kinds[0], kinds[1], "points and lines: {kinds:?}");
    assert_eq!(kinds[0].0, "Real", "{kinds:?}");
    // The investment figures get names a reader can tell apart (cut to ten bytes they were `investment`,
    // `investme_2` and `investme_3`), typed as numbers.
    let (shp, _) = download("/exports/projects-points.shp.zip", &dir, "projects-points.shp.zip");
    let info = ogrinfo_summary(&shp, &[]);
    for name in ["inv_total", "inv_todate", "inv_share"] {
        assert!(info.contains(&format!("{name}: Real")), "{name} in the .dbf: {info}");
    }
    assert!(!info.contains("investme"), "{info}");

    let (csv, _) = download("/exports/targets.csv", &dir, "targets.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let equal = crate::helpers::catalog()
        .targets()
        .features()
        .iter()
        .filter(|t| t.str_prop("comparator") == Some("="))
        .count();
    assert!(equal > 0);
    assert_eq!(text.matches(",=,").count(), equal, "the comparator `=` as written:\n{text}");
    assert!(!text.contains("'="), "{text}");

    let layer = dir.join("cased.geojson");
    std::fs::write(
        &layer,
        serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry":
            {"type": "Point", "coordinates": [123.4, 41.8]}, "properties":
            {"ID": "A0", "Name": "沈阳0", "name": "lower0", "NAME": "UPPER0"}}]})
        .to_string(),
    )
    .unwrap();
    let out = dir.join("cased.shp.zip");
    let (ok, said) = run(
        env!("CARGO_BIN_EXE_planatlas"),
        &[
            "export",
            "--layer",
            &format!("cased={}", layer.display()),
            "--collection",
            "cased",
            "--format",
            "shp",
            "--out",
            out.to_str().unwrap(),
            "--data-dir",
            dir.join("store").to_str().unwrap(),
        ],
    );
    assert!(ok, "{said}");
    let info = ogrinfo_summary(&out, &[]);
    let fields: Vec<String> = info
        .lines()
        .filter_map(|l| {
            l.split_once(": ").filter(|(_, k)| k.starts_with("String")).map(|(n, _)| n.to_lowercase())
        })
        .collect();
    let unique: std::collections::BTreeSet<&String> = fields.iter().collect();
    assert_eq!(unique.len(), fields.len(), "field names ignoring case: {fields:?}");
    let row = ogrinfo_where(&out, &[], "1 = 1");
    for value in ["A0", "沈阳0", "lower0", "UPPER0"] {
        assert!(row.contains(&format!(" = {value}")), "{value} kept in a field of its own: {row}");
    }
}
