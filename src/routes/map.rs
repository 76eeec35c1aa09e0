//! The MapLibre style, the built-in map page, and the files it needs (MapLibre GL JS vendored from npm,
//! served from the binary: the page loads nothing from elsewhere).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{Caching, HTML, JSON, QueryParams, State, base_url, html, respond};
use crate::domain::palette::{
    CATEGORY_COLOURS, CITY_BORDER, COUNTY_BORDER, REGION_COLOURS, REGION_FILL_OPACITY, STAGE_COLOURS,
};
use crate::error::{ApiError, ApiResult};
use crate::geom::crs::Crs;
use crate::store::admin::BOUNDARY_ATTRIBUTION;

/// Files served under `/assets/`: (name, media type, bytes).
static ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "maplibre-gl/maplibre-gl.mjs",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/maplibre-gl/maplibre-gl.mjs"),
    ),
    (
        "maplibre-gl/maplibre-gl-worker.mjs",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/maplibre-gl/maplibre-gl-worker.mjs"),
    ),
    (
        "maplibre-gl/maplibre-gl.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/maplibre-gl/maplibre-gl.css"),
    ),
    (
        "maplibre-gl/LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/vendor/maplibre-gl/LICENSE.txt"),
    ),
    (
        "echarts/echarts.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/echarts/echarts.min.js"),
    ),
    ("echarts/LICENSE", "text/plain; charset=utf-8", include_bytes!("../../assets/vendor/echarts/LICENSE")),
    ("report.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/report.js")),
    ("map.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/map.js")),
    ("items.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/items.js")),
    ("map.css", "text/css; charset=utf-8", include_bytes!("../../assets/map.css")),
];

fn map_crs(params: &QueryParams) -> ApiResult<Crs> {
    let crs = super::features::crs_param(params, "crs")?;
    match crs {
        Crs::Crs84 | Crs::Gcj02 | Crs::Bd09 => Ok(crs),
        other => Err(ApiError::param(
            "crs",
            format!("the map is Web Mercator; crs can be CRS84, GCJ-02 or BD-09, not {other}"),
        )),
    }
}

fn match_expr(property: &str, pairs: &[(&str, &str)], fallback: &str) -> Value {
    let mut e = vec![json!("match"), json!(["get", property])];
    for (k, v) in pairs {
        e.push(json!(k));
        e.push(json!(v));
    }
    e.push(json!(fallback));
    Value::Array(e)
}

/// The default MapLibre style: the four regions in distinct colours (translucent, so overlaps show), city and
/// county borders, projects by category, labels in Chinese with English fallback. Text is drawn with local
/// fonts (no glyph server). An optional raster base map comes from the server's configuration.
pub fn style(base: &str, crs: Crs, basemap: Option<(&str, &str)>) -> Value {
    let suffix = if crs == Crs::Crs84 { String::new() } else { format!("?crs={}", crs.short()) };
    let mut sources = serde_json::Map::new();
    // Project ids become feature ids, so a client can restyle projects by state (the map's period slider).
    sources.insert("planatlas".into(), json!({"type": "vector", "url": format!("{base}/tiles.json{suffix}"), "attribution": BOUNDARY_ATTRIBUTION, "promoteId": {"projects": "id"}}));
    let mut layers =
        vec![json!({"id": "background", "type": "background", "paint": {"background-color": "#f3f1ec"}})];
    if let Some((url, attribution)) = basemap {
        sources.insert(
            "basemap".into(),
            json!({"type": "raster", "tiles": [url], "tileSize": 256, "attribution": attribution}),
        );
        layers.push(json!({"id": "basemap", "type": "raster", "source": "basemap"}));
    }
    let label = json!(["coalesce", ["get", "name_zh"], ["get", "name_en"]]);
    let font = json!(["Noto Sans CJK SC", "WenQuanYi Zen Hei", "sans-serif"]);
    let region_colour = match_expr("id", REGION_COLOURS, "#888888");
    let category_colour = match_expr("category", CATEGORY_COLOURS, "#333333");
    let stage_colour = match_expr("stage", STAGE_COLOURS, "#bdbdbd");
    layers.extend([
        json!({"id": "regions-fill", "type": "fill", "source": "planatlas", "source-layer": "regions",
               "paint": {"fill-color": region_colour, "fill-opacity": REGION_FILL_OPACITY}}),
        json!({"id": "regions-outline", "type": "line", "source": "planatlas", "source-layer": "regions",
               "paint": {"line-color": region_colour, "line-width": 2.2, "line-dasharray": [3, 2]}}),
        json!({"id": "counties-border", "type": "line", "source": "planatlas", "source-layer": "counties",
               "paint": {"line-color": COUNTY_BORDER, "line-width": ["interpolate", ["linear"], ["zoom"], 5, 0.3, 10, 1.0]}}),
        json!({"id": "cities-border", "type": "line", "source": "planatlas", "source-layer": "cities",
               "paint": {"line-color": CITY_BORDER, "line-width": ["interpolate", ["linear"], ["zoom"], 5, 0.9, 10, 2.2]}}),
        json!({"id": "projects-lines", "type": "line", "source": "planatlas", "source-layer": "projects",
               "filter": ["==", ["geometry-type"], "LineString"],
               "paint": {"line-color": category_colour, "line-width": 2.6, "line-opacity": 0.85}}),
        json!({"id": "projects-points", "type": "circle", "source": "planatlas", "source-layer": "projects",
               "filter": ["==", ["geometry-type"], "Point"],
               "paint": {"circle-color": category_colour, "circle-radius": ["interpolate", ["linear"], ["zoom"], 5, 3.5, 12, 7],
                         "circle-stroke-color": stage_colour, "circle-stroke-width": 2.0}}),
        json!({"id": "cities-label", "type": "symbol", "source": "planatlas", "source-layer": "labels", "minzoom": 5, "maxzoom": 9,
               "filter": ["==", ["get", "kind"], "city"],
               "layout": {"text-field": label, "text-font": font, "text-size": 13},
               "paint": {"text-color": "#222222", "text-halo-color": "#ffffff", "text-halo-width": 1.5}}),
        json!({"id": "counties-label", "type": "symbol", "source": "planatlas", "source-layer": "labels", "minzoom": 9,
               "filter": ["==", ["get", "kind"], "county"],
               "layout": {"text-field": label, "text-font": font, "text-size": 11},
               "paint": {"text-color": "#4a4a4a", "text-halo-color": "#ffffff", "text-halo-width": 1.2}}),
        json!({"id": "projects-label", "type": "symbol", "source": "planatlas", "source-layer": "projects", "minzoom": 9,
               "layout": {"text-field": label, "text-font": font, "text-size": 11, "text-offset": [0, 1.1], "text-anchor": "top", "text-optional": true},
               "paint": {"text-color": "#1d2733", "text-halo-color": "#ffffff", "text-halo-width": 1.2}}),
    ]);
    json!({
        "version": 8,
        "name": "planatlas",
        "metadata": {"planatlas:crs": crs.uri(), "planatlas:categories": CATEGORY_COLOURS.iter().map(|(c, _)| c).collect::<Vec<_>>(),
                     "planatlas:stages": STAGE_COLOURS.iter().map(|(s, c)| json!({"stage": s, "stage_en": crate::store::progress::stage_en(s), "colour": c})).collect::<Vec<_>>(),
                     "planatlas:note": "projects-points are ringed by their progress stage (stage); the map page can colour them by stage at any quarter"},
        "center": [122.6, 41.2],
        "zoom": 6,
        "sources": sources,
        "layers": layers,
    })
}

/// `GET /styles/default.json`.
pub async fn get_style(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req)?;
    params.only(&["crs"])?;
    let crs = map_crs(&params)?;
    let base = base_url(&req, &state.settings);
    let basemap = state
        .settings
        .basemap_url
        .as_deref()
        .map(|u| (u, state.settings.basemap_attribution.as_deref().unwrap_or("")));
    let doc = style(&base, crs, basemap);
    Ok(respond(&req, JSON, doc.to_string(), Caching::Assets))
}

/// `GET /map`: the built-in map.
pub async fn get_map(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["crs"])?;
    let crs = map_crs(&params)?;
    let config = json!({
        "crs": if crs == Crs::Crs84 { Value::Null } else { json!(crs.short()) },
        "regions": REGION_COLOURS.iter().map(|(id, c)| {
            let name = model.catalog.regions().get(id).and_then(|f| f.str_prop("name_zh")).unwrap_or(id);
            json!({"id": id, "colour": c, "name": name})
        }).collect::<Vec<_>>(),
        "categories": CATEGORY_COLOURS.iter().map(|(id, c)| {
            let zh = crate::domain::project::category_zh(id);
            json!({"id": id, "colour": c, "name": zh})
        }).collect::<Vec<_>>(),
        "stages": STAGE_COLOURS.iter().map(|(s, c)| json!({"id": s, "en": crate::store::progress::stage_en(s), "colour": c})).collect::<Vec<_>>(),
        "quarters": quarters(model.catalog.state_day()),
        "today": model.catalog.state_day().to_string(),
    });
    let page = html::render("map.html", &json!({ "config": config, "attribution": BOUNDARY_ATTRIBUTION }))?;
    Ok(respond(&req, HTML, page, Caching::Data))
}

/// Every quarter from the plan's first to the current one, for the map's period slider.
fn quarters(today: chrono::NaiveDate) -> Vec<String> {
    use crate::store::progress::{PLAN_FIRST_YEAR, Period};
    let last = Period::quarter_of(today);
    (PLAN_FIRST_YEAR..=last.year)
        .flat_map(|y| (1..=4).map(move |q| Period { year: y, months: (q * 3 - 2, q * 3) }))
        .filter(|p| *p <= last)
        .map(|p| p.to_string())
        .collect()
}

/// `GET /assets/{file}`: the map's files. Query strings are ignored (MapLibre adds a version to its worker).
pub async fn get_asset(req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let (_, media, bytes) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == path.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("no asset '{path}'")))?;
    Ok(respond(&req, media, *bytes, Caching::Assets))
}

/// The service's icon (32×32), so browsers and bookmarks show one instead of a 404.
static FAVICON: &[u8] = include_bytes!("../../assets/favicon.ico");

/// `GET /favicon.ico`.
pub async fn get_favicon(req: HttpRequest) -> ApiResult<HttpResponse> {
    Ok(respond(&req, "image/x-icon", FAVICON, Caching::Assets))
}
