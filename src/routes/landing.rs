//! The landing page, conformance declaration, the OpenAPI document and health.

use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::html::{Block, Cell, Page, Span, Style};
use super::{
    Caching, Format, HTML, JSON, QueryParams, State, base_url, link, negotiate, respond, respond_json,
};
use crate::error::{ApiError, ApiResult};
use crate::store::admin::BOUNDARY_ATTRIBUTION;

/// The OpenAPI contract as written.
pub const OPENAPI_YAML: &str = include_str!("../../api/openapi.yaml");

/// The OpenAPI contract as JSON, parsed once.
pub static OPENAPI_JSON: LazyLock<Result<Value, String>> =
    LazyLock::new(|| serde_norway::from_str::<Value>(OPENAPI_YAML).map_err(|e| e.to_string()));

/// The conformance classes this server implements.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
];

/// `GET /`: what the service is and where to go.
pub async fn get_landing(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let format = negotiate(&req, &params)?;
    let base = base_url(&req, &state.settings);
    let links = vec![
        link(
            format!("{base}/?f=json"),
            if format == Format::Json { "self" } else { "alternate" },
            JSON,
            "This document as JSON",
        ),
        link(
            format!("{base}/?f=html"),
            if format == Format::Html { "self" } else { "alternate" },
            "text/html",
            "This document as HTML",
        ),
        link(
            format!("{base}/api?f=json"),
            "service-desc",
            "application/vnd.oai.openapi+json;version=3.0",
            "The API definition (OpenAPI 3.0, JSON)",
        ),
        link(
            format!("{base}/api?f=yaml"),
            "service-desc",
            "application/vnd.oai.openapi;version=3.0",
            "The API definition (OpenAPI 3.0, YAML)",
        ),
        link(format!("{base}/api?f=html"), "service-doc", "text/html", "The API documentation"),
        link(
            format!("{base}/conformance"),
            "conformance",
            JSON,
            "OGC API conformance classes implemented by this server",
        ),
        link(
            format!("{base}/collections"),
            "data",
            JSON,
            "The collections: regions, cities, counties, projects, targets, sections",
        ),
        link(
            format!("{base}/locate?lon=123.40&lat=41.79"),
            "related",
            JSON,
            "Which county, city and regions contain a point",
        ),
        link(
            format!("{base}/reports/consistency"),
            "related",
            JSON,
            "Consistency of the project catalogue with the plan",
        ),
        link(
            format!("{base}/reports/dispatch"),
            "related",
            JSON,
            "季调度 The quarterly dispatch table (also /reports/summary for 半年小结 and 年终总结)",
        ),
        link(
            format!("{base}/reports/data-quality"),
            "related",
            JSON,
            "数据质量 How precisely the projects are placed, and on what",
        ),
        link(format!("{base}/health"), "related", JSON, "Health"),
        link(format!("{base}/map"), "related", "text/html", "地图 The map of the plan"),
        link(
            format!("{base}/tiles.json"),
            "related",
            JSON,
            "矢量瓦片 Vector tiles (TileJSON, for MapLibre/OpenLayers/Leaflet)",
        ),
        link(format!("{base}/styles/default.json"), "stylesheet", JSON, "地图样式 The map's MapLibre style"),
        link(
            format!("{base}/exports/planatlas.gpkg"),
            "enclosure",
            "application/geopackage+sqlite3",
            "下载 The whole plan as one GeoPackage, styled for QGIS",
        ),
        link(
            format!("{base}/exports/planatlas.qgz"),
            "enclosure",
            "application/x-qgis-project-container",
            "QGIS 工程 A QGIS project that opens the plan as the map shows it",
        ),
    ];
    let catalog = &model.catalog;
    let doc = json!({
        "title": "planatlas: Liaoning “one circle, one belt, two zones” (一圈一带两区)",
        "description": "The regions, cities, counties and projects of Liaoning Province's 2022 three-year action plan \
            for coordinated regional development, as OGC API – Features.",
        "attribution": BOUNDARY_ATTRIBUTION,
        "data": {
            "source": catalog.source().describe(),
            "collections": catalog.collections().iter().map(|c| json!({"id": c.id(), "numberMatched": c.features().len()})).collect::<Vec<_>>(),
            "loadMilliseconds": (catalog.report().total_ms * 10.0).round() / 10.0,
        },
        "links": links,
    });
    match format {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let items = catalog
                .collections()
                .iter()
                .map(|c| {
                    let zh = crate::store::catalog::title_zh(c.id())
                        .map(|z| format!("{z} · "))
                        .unwrap_or_default();
                    vec![
                        Span::link(
                            format!("{zh}{}", c.meta.title),
                            format!("{base}/collections/{}/items?f=html", c.id()),
                        ),
                        Span::text(format!(" ({} 条 features)", c.features().len())),
                    ]
                })
                .collect();
            let link_to = |text: &str, href: String, note: &str| {
                vec![Span::link(text, href), Span::text(format!(" {note}")).styled(Style::Muted)]
            };
            let mut downloads = vec![
                link_to(
                    "地图 The map",
                    format!("{base}/map"),
                    "按区域、类别和进度查看项目 regions, categories, progress",
                ),
                link_to(
                    "GeoPackage (planatlas.gpkg)",
                    format!("{base}/exports/planatlas.gpkg"),
                    "全部图层，含空间索引和 QGIS 样式 every layer, spatial index and QGIS styles",
                ),
                link_to(
                    "QGIS 工程 (planatlas.qgz)",
                    format!("{base}/exports/planatlas.qgz"),
                    "在 QGIS 中按地图样式打开 opens the plan in QGIS as the map shows it",
                ),
            ];
            // A Shapefile holds one geometry type: the projects' points and lines are two files.
            for file in [
                "projects.fgb",
                "projects-points.shp.zip",
                "projects-lines.shp.zip",
                "projects.kml",
                "projects.csv",
                "projects.geojson",
            ] {
                downloads.push(link_to(&format!("项目 {file}"), format!("{base}/exports/{file}"), ""));
            }
            // Excel and WPS read a CSV without a byte-order mark in the local code page (GBK): the Chinese
            // would show garbled.
            downloads.push(link_to(
                "项目 projects.csv（Excel / WPS，带 BOM）",
                format!("{base}/exports/projects.csv?bom=true"),
                "opens in Excel and WPS with the Chinese intact",
            ));
            downloads.extend([
                link_to("矢量瓦片 TileJSON", format!("{base}/tiles.json"), "MapLibre, OpenLayers, Leaflet"),
                link_to("地图样式 MapLibre style", format!("{base}/styles/default.json"), ""),
                link_to("季调度 dispatch report", format!("{base}/reports/dispatch?f=html"), ""),
                link_to(
                    "数据质量 data quality",
                    format!("{base}/reports/data-quality?f=html"),
                    "位置精度与来源 precision and sources",
                ),
            ]);
            let page = Page::new(
                "辽宁“一圈一带两区” · planatlas",
                &[("planatlas", format!("{base}/?f=html"))],
                BOUNDARY_ATTRIBUTION,
            )
            .text("《辽宁省“一圈一带两区”区域协调发展三年行动方案》的区域、城市、区县和项目，以 OGC API – Features 提供。")
            .text(doc["description"].as_str().unwrap_or_default())
            .heading("地图与下载 Map, tiles and downloads")
            .block(Block::List { items: downloads })
            .heading("数据集 Collections")
            .block(Block::List { items })
            .heading("链接 Links")
            .links(doc["links"].as_array().map_or(&[][..], Vec::as_slice));
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// `GET /conformance`.
pub async fn get_conformance(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let doc = json!({ "conformsTo": CONFORMANCE });
    match negotiate(&req, &params)? {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let base = base_url(&req, &state.settings);
            let items = CONFORMANCE.iter().map(|c| vec![Span::link(*c, *c)]).collect();
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Conformance", format!("{base}/conformance?f=html")),
            ];
            let page = Page::new("Conformance", &crumbs, BOUNDARY_ATTRIBUTION).block(Block::List { items });
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// The OpenAPI document as this server runs: planners' layers (`--layer`) added to the collection ids it lists,
/// and the configured page size and maximum; `None` when it is the shipped document.
fn served_doc(doc: &Value, catalog: &crate::store::Catalog, limits: crate::domain::Limits) -> Option<Value> {
    let layers = catalog.layers();
    if layers.is_empty() && limits == crate::domain::Limits::default() {
        return None;
    }
    let mut doc = doc.clone();
    if let Some(schema) = doc.pointer_mut("/components/parameters/limit/schema") {
        schema["maximum"] = json!(limits.max_limit);
        schema["default"] = json!(limits.default_limit);
    }
    // A layer with geometries has tiles of its own; the projects' views (spatial too) are not tiled.
    for (param, spatial_only) in
        [("collectionId", false), ("spatialCollectionId", true), ("tiledCollectionId", true)]
    {
        let pointer = format!("/components/parameters/{param}/schema/enum");
        if let Some(Value::Array(ids)) = doc.pointer_mut(&pointer) {
            ids.extend(layers.iter().filter(|c| !spatial_only || c.is_spatial()).map(|c| json!(c.id())));
        }
    }
    Some(doc)
}

/// Whether `Accept` prefers the API document as YAML: `application/vnd.oai.openapi` (the type the landing
/// page gives the YAML link), `application/yaml` or `text/yaml` weighs more than any JSON or HTML type it
/// names. (They were answered JSON, or 406.)
fn yaml_asked(req: &HttpRequest) -> bool {
    let Some(accept) = req.headers().get(actix_web::http::header::ACCEPT).and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (mut yaml, mut other) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse().ok()))
            .unwrap_or(1.0);
        match media.as_str() {
            "application/vnd.oai.openapi" | "application/yaml" | "application/x-yaml" | "text/yaml" => {
                yaml = yaml.max(q);
            }
            "application/json"
            | "application/vnd.oai.openapi+json"
            | "text/html"
            | "application/xhtml+xml" => {
                other = other.max(q);
            }
            _ => {}
        }
    }
    // On a tie JSON, the default, stands.
    yaml > other
}

/// `GET /api`: the OpenAPI document as JSON (default), YAML (`f=yaml`) or an HTML overview (`f=html`).
pub async fn get_api(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let shipped = OPENAPI_JSON.as_ref().map_err(|e| ApiError::Internal(format!("api/openapi.yaml: {e}")))?;
    let model = state.model();
    let with_layers = served_doc(shipped, &model.catalog, state.settings.limits);
    let doc = with_layers.as_ref().unwrap_or(shipped);
    if matches!(params.get("f"), Some("yaml")) || (params.get("f").is_none() && yaml_asked(&req)) {
        let yaml = match &with_layers {
            None => OPENAPI_YAML.to_owned(),
            Some(d) => serde_norway::to_string(d).map_err(|e| ApiError::Internal(e.to_string()))?,
        };
        return Ok(respond(&req, "application/vnd.oai.openapi;version=3.0", yaml, Caching::Data));
    }
    match negotiate(&req, &params)? {
        Format::Json => Ok(respond_json(&req, "application/vnd.oai.openapi+json;version=3.0", doc)),
        Format::Html => {
            let base = base_url(&req, &state.settings);
            let mut rows = Vec::new();
            if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
                for (path, ops) in paths {
                    for (method, op) in ops.as_object().into_iter().flatten() {
                        if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                            continue;
                        }
                        let summary = op.get("summary").and_then(Value::as_str).unwrap_or_default();
                        rows.push(vec![
                            Cell::text(method.to_uppercase()),
                            Span::text(path.clone()).styled(Style::Code).into(),
                            Cell::text(summary),
                        ]);
                    }
                }
            }
            let crumbs = [("planatlas", format!("{base}/?f=html")), ("API", format!("{base}/api?f=html"))];
            let page = Page::new("API definition", &crumbs, BOUNDARY_ATTRIBUTION)
                .paragraph(vec![
                    Span::text("The contract below is "),
                    Span::link("api/openapi.yaml", "?f=yaml"),
                    Span::text(" (also as "),
                    Span::link("JSON", "?f=json"),
                    Span::text(")."),
                ])
                .table(&["Method", "Path", "Summary"], rows);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// `GET /health`: the service is up and its data loaded.
pub async fn get_health(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    QueryParams::from_request(&req)?.only(&[])?;
    let collections: serde_json::Map<String, Value> =
        model.catalog.collections().iter().map(|c| (c.id().to_owned(), json!(c.features().len()))).collect();
    let body = json!({ "status": "ok", "collections": collections });
    Ok(respond(&req, JSON, body.to_string(), Caching::None))
}

/// `GET /ready`: ready to serve: the catalog is loaded and PROJ transforms work (for load balancers and
/// orchestrators; `/health` says the process is up).
pub async fn get_ready(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    QueryParams::from_request(&req)?.only(&[])?;
    let catalog = !model.catalog.collections().is_empty();
    let probe = geo::Coord { x: 123.43, y: 41.80 };
    let proj = crate::geom::crs::from_crs84(crate::geom::crs::Crs::Epsg3857, probe).is_ok();
    // An unreachable store does not stop the reads (they are answered from memory), so the instance stays
    // ready; the answer says writes are refused and why.
    let trouble = state.engine.store_trouble();
    let writable = state.engine.store().is_some() && trouble.is_none();
    let store = state.engine.store().map(|s| match &trouble {
        None => json!({ "at": s.describe(), "reachable": true, "revision": model.revision }),
        Some((why, since)) => {
            json!({ "at": s.describe(), "reachable": false, "error": why, "since": since, "revision": model.revision })
        }
    });
    if catalog && proj {
        let body = json!({
            "ready": true,
            "writable": writable,
            "checks": { "catalog": catalog, "proj": proj, "store": store },
        });
        Ok(respond(&req, JSON, body.to_string(), Caching::None))
    } else {
        Err(ApiError::Unavailable {
            detail: format!("not ready: catalog loaded = {catalog}, PROJ transforms = {proj}"),
            retry_after_secs: 5,
        })
    }
}

/// `GET /metrics`: request counts, latencies and tile cache counters in the Prometheus text format.
pub async fn get_metrics(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    QueryParams::from_request(&req)?.only(&[])?;
    let body = crate::ops::METRICS.render(&state);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(body))
}
