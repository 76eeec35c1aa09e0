//! Vector tiles: the combined `/tiles/{z}/{x}/{y}.mvt`, the OGC API – Tiles shape per collection, the tile
//! matrix set, and TileJSON 3.0.
//!
//! A tile with no features answers `204 No Content` (as OGC API – Tiles recommends and MapLibre expects).
//! Every tile has a strong ETag (304 on `If-None-Match`) and `Cache-Control`. `crs=GCJ-02` or `crs=BD-09`
//! shifts the layers so they line up on AMap or Baidu base maps; `filter` (CQL2) narrows what is drawn.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::features::{crs_param, find};
use super::{Caching, JSON, QueryParams, State, base_url, etag_of, link, respond_json, respond_tagged};
use crate::error::{ApiError, ApiResult};
use crate::geom::crs::Crs;
use crate::geom::tiles::{HALF_WORLD_M, TileId};
use crate::store::Collection;
use crate::store::Feature;
use crate::store::admin::BOUNDARY_ATTRIBUTION;
use crate::store::cql::{self, CqlFilter, FilterLang};
use crate::store::tiles::{MAX_ZOOM, combined, tiled as tiled_layers};

/// The MVT media type.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
/// The OGC URI of the tile matrix set served.
pub const WEB_MERCATOR_QUAD: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";

/// The CRS option of tile requests: plain, or shifted for a Chinese base map.
fn tile_crs(params: &QueryParams) -> ApiResult<Crs> {
    let crs = crs_param(params, "crs")?;
    match crs {
        Crs::Crs84 | Crs::Epsg4326 | Crs::Gcj02 | Crs::Bd09 => Ok(crs),
        other => Err(ApiError::param(
            "crs",
            format!(
                "tiles are Web Mercator; crs only chooses a base-map shift: CRS84 (default), {} or {}, not {other}",
                Crs::Gcj02.uri(),
                Crs::Bd09.uri()
            ),
        )),
    }
}

/// Checks a JSON-only resource's parameters: `f` may only be `json`.
fn json_only(req: &HttpRequest) -> ApiResult<()> {
    let params = QueryParams::from_request(req)?;
    params.only(&["f"])?;
    match params.get("f") {
        None | Some("json") => Ok(()),
        Some(other) => {
            Err(ApiError::param("f", format!("'{other}' is not offered here; this resource is json")))
        }
    }
}

fn tile_id(z: &str, x: &str, y: &str) -> ApiResult<TileId> {
    TileId::parse(z, x, y, MAX_ZOOM).map_err(|e| ApiError::NotFound(format!("no tile: {e}")))
}

fn filter_param(params: &QueryParams, c: &Collection) -> ApiResult<Option<CqlFilter>> {
    // `filter-lang` and `filter-crs` are checked with or without a filter, as items checks them.
    let lang =
        FilterLang::from_param(params.get("filter-lang")).map_err(|e| ApiError::param("filter-lang", e))?;
    let crs = crs_param(params, "filter-crs")?;
    let Some(raw) = params.get("filter") else { return Ok(None) };
    cql::parse(raw, lang, crs, c).map(Some).map_err(|e| ApiError::param("filter", e.0))
}

/// A tile (or 204 when it has nothing), kept by clients as long as the data pages (a minute, then revalidated):
/// the projects change with every write, and a map must not draw the old tile for an hour. An empty tile has a
/// tag too, so it revalidates like the rest.
fn answer_tile(req: &HttpRequest, bytes: Option<std::sync::Arc<Vec<u8>>>) -> HttpResponse {
    match bytes {
        Some(b) => {
            let etag = etag_of(&b);
            respond_tagged(req, MVT, b.as_ref().clone(), &etag, Caching::Data)
        }
        None => {
            let etag = etag_of(&[]);
            let mut resp = respond_tagged(req, MVT, Vec::new(), &etag, Caching::Data);
            if resp.status() == actix_web::http::StatusCode::OK {
                *resp.status_mut() = actix_web::http::StatusCode::NO_CONTENT;
                resp.headers_mut().remove(header::CONTENT_TYPE);
            }
            resp
        }
    }
}

/// `GET /tiles/{z}/{x}/{y}.mvt`: every layer (regions, cities, counties, projects, and the label points of
/// the first three). `filter` applies to the projects layer.
pub async fn get_tile(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["crs", "filter", "filter-lang", "filter-crs"])?;
    let (z, x, y) = path.into_inner();
    let y = y.strip_suffix(".mvt").or_else(|| y.strip_suffix(".pbf")).unwrap_or(&y).to_owned();
    let id = tile_id(&z, &x, &y)?;
    let crs = tile_crs(&params)?;
    let filter = filter_param(&params, model.catalog.projects())?;
    let bytes = super::compute(&state, &model, move |m| {
        let keep =
            |layer: &str, f: &Feature| layer != "projects" || filter.as_ref().is_none_or(|q| q.matches(f));
        let cache_key = filter.is_none().then_some("all");
        Ok(m.tiles.tile(&m.catalog, &combined(&m.catalog), id, crs, &keep, cache_key))
    })
    .await?;
    Ok(answer_tile(&req, bytes))
}

fn tiled(model: &crate::store::engine::ReadModel, id: &str) -> ApiResult<&'static str> {
    let c = find(model, id)?;
    let layers = tiled_layers(&model.catalog);
    layers.iter().find(|l| **l == c.id()).copied().ok_or_else(|| {
        ApiError::NotFound(format!(
            "collection '{id}' has no tiles (tiled collections: {})",
            layers.join(", ")
        ))
    })
}

/// `GET /collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}` (OGC API – Tiles).
pub async fn get_collection_tile(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String, String, String, String)>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["crs", "filter", "filter-lang", "filter-crs", "f"])?;
    let (cid, tms, z, row, col) = path.into_inner();
    let layer = tiled(&model, &cid)?;
    if tms != "WebMercatorQuad" {
        return Err(ApiError::NotFound(format!(
            "no tile matrix set '{tms}'; this server tiles in WebMercatorQuad"
        )));
    }
    if let Some(f) = params.get("f").filter(|f| *f != "mvt") {
        return Err(ApiError::param("f", format!("'{f}' is not a tile format here; tiles are mvt")));
    }
    let id = tile_id(&z, &col, &row)?;
    let crs = tile_crs(&params)?;
    let c = find(&model, &cid)?;
    let filter = filter_param(&params, c)?;
    let bytes = super::compute(&state, &model, move |m| {
        let keep = |_: &str, f: &Feature| filter.as_ref().is_none_or(|q| q.matches(f));
        let cache_key = filter.is_none().then_some("all");
        Ok(m.tiles.tile(&m.catalog, &[layer], id, crs, &keep, cache_key))
    })
    .await?;
    Ok(answer_tile(&req, bytes))
}

fn layer_fields(model: &crate::store::engine::ReadModel, layer: &str) -> BTreeMap<String, String> {
    if let Some(c) = model.catalog.layers().iter().find(|c| c.id() == layer) {
        let mut out: BTreeMap<String, String> =
            c.meta.queryables.iter().map(|q| (q.name.to_owned(), q.description.to_owned())).collect();
        out.insert("id".into(), "feature id".into());
        return out;
    }
    let fields: &[(&str, &str)] = match layer {
        "regions" => &[
            ("id", "region id"),
            ("name_zh", "Chinese name"),
            ("name_en", "English name"),
            ("kind", "circle, belt or zone"),
            ("membership_basis", "stated, inferred or mixed"),
            ("project_count", "projects located in it"),
        ],
        "labels" => &[
            ("kind", "region, city or county: one point per feature, inside its largest part, for its name"),
            ("id", "region id or adcode"),
            ("name_zh", "Chinese name"),
            ("name_en", "English name"),
        ],
        "cities" => &[
            ("id", "adcode"),
            ("name_zh", "Chinese name"),
            ("name_en", "English name"),
            ("region_ids", "plan regions, comma-separated"),
            ("project_count", "projects located in it"),
        ],
        "counties" => &[
            ("id", "adcode"),
            ("name_zh", "Chinese name"),
            ("name_en", "English name"),
            ("parent_adcode", "city adcode"),
            ("city_name_zh", "city"),
            ("region_ids", "plan regions, comma-separated"),
            ("project_count", "projects located in it"),
        ],
        _ => &[
            ("id", "project id"),
            ("name_zh", "Chinese name"),
            ("name_en", "English name"),
            ("category", "category"),
            ("sections", "plan sections, '; '-separated"),
            ("lead_unit", "lead responsible unit"),
            ("co_units", "co-responsible units"),
            ("location_precision", "site, district, county, city or schematic"),
            ("location_source", "what the position is based on"),
            ("region_ids", "plan regions, comma-separated"),
            ("county_names", "counties, '、'-separated"),
            ("geometry_type", "Point or LineString"),
            ("targets", "targets, '; '-separated"),
            ("stage", "stage today (前期, 新开工, 在建, 竣工, 投产运营, 暂停 or 未报告)"),
            ("stage_en", "stage today, in English"),
            ("progress_period", "the quarter of the latest progress report"),
        ],
    };
    fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn query_suffix(crs: Crs) -> String {
    if crs == Crs::Crs84 { String::new() } else { format!("?crs={}", crs.short()) }
}

fn tilejson(
    model: &crate::store::engine::ReadModel,
    layers: &[&str],
    template: &str,
    crs: Crs,
    name: &str,
) -> Value {
    let mut tj = tilejson::tilejson! { tiles: vec![format!("{template}{}", query_suffix(crs))] };
    tj.name = Some(name.to_owned());
    tj.description = Some("Liaoning's 一圈一带两区 plan: regions, cities, counties and projects".to_owned());
    tj.attribution = Some(BOUNDARY_ATTRIBUTION.to_owned());
    tj.minzoom = Some(0);
    tj.maxzoom = Some(MAX_ZOOM);
    // The bounds hold every feature of every layer (a client asks for no tile outside them): the union of the
    // layers' extents, widened by the base-map shift (under 0.02°) when one is asked for.
    let pad = if matches!(crs, Crs::Gcj02 | Crs::Bd09) { 0.02 } else { 0.0 };
    let extent = layers
        .iter()
        .filter_map(|l| model.catalog.collection(l).and_then(Collection::extent))
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        });
    if let Some(e) = extent {
        tj.bounds = Some(tilejson::Bounds::new(
            (e.min().x - pad).max(-180.0),
            (e.min().y - pad).max(-85.051_129),
            (e.max().x + pad).min(180.0),
            (e.max().y + pad).min(85.051_129),
        ));
    }
    // The map opens on the province, whatever the layers reach.
    if let Some(e) = model.catalog.counties().extent() {
        tj.center = Some(tilejson::Center::new(
            f64::midpoint(e.min().x, e.max().x),
            f64::midpoint(e.min().y, e.max().y),
            6,
        ));
    }
    tj.vector_layers = Some(
        layers
            .iter()
            .map(|l| {
                let mut v = tilejson::VectorLayer::new((*l).to_owned(), layer_fields(model, l));
                v.minzoom = Some(0);
                v.maxzoom = Some(MAX_ZOOM);
                v
            })
            .collect(),
    );
    serde_json::to_value(&tj).unwrap_or(Value::Null)
}

/// `GET /tiles.json`: TileJSON 3.0 for the combined tiles.
pub async fn get_tilejson(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req)?;
    params.only(&["crs"])?;
    let crs = tile_crs(&params)?;
    let base = base_url(&req, &state.settings);
    let model = state.model();
    let layers = combined(&model.catalog);
    let doc = tilejson(&model, &layers, &format!("{base}/tiles/{{z}}/{{x}}/{{y}}.mvt"), crs, "planatlas");
    Ok(respond_json(&req, JSON, &doc))
}

/// `GET /collections/{id}/tiles.json`: TileJSON 3.0 for one collection's tiles.
pub async fn get_collection_tilejson(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["crs"])?;
    let layer = tiled(&model, &path)?;
    let crs = tile_crs(&params)?;
    let base = base_url(&req, &state.settings);
    let template = format!("{base}/collections/{layer}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}");
    let doc = tilejson(&state.model(), &[layer], &template, crs, layer);
    Ok(respond_json(&req, JSON, &doc))
}

fn tileset_json(model: &crate::store::engine::ReadModel, base: &str, layer: &str) -> Value {
    let href = format!("{base}/collections/{layer}/tiles/WebMercatorQuad");
    json!({
        "title": format!("{layer} vector tiles"),
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": WEB_MERCATOR_QUAD,
        "tileMatrixSetLimits": (0..=MAX_ZOOM).map(|z| json!({"tileMatrix": z.to_string(), "minTileRow": 0, "maxTileRow": (1u32 << z) - 1, "minTileCol": 0, "maxTileCol": (1u32 << z) - 1})).collect::<Vec<_>>(),
        "layers": [{"id": layer, "dataType": "vector", "minTileMatrix": "0", "maxTileMatrix": MAX_ZOOM.to_string(),
                    "propertiesSchema": {"type": "object", "properties": layer_fields(model, layer).into_iter().map(|(k, v)| (k, json!({"description": v}))).collect::<serde_json::Map<_, _>>()}}],
        "links": [
            link(&href, "self", JSON, "This tileset"),
            link(format!("{base}/tileMatrixSets/WebMercatorQuad"), "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", JSON, "WebMercatorQuad"),
            json!({"href": format!("{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"), "rel": "item", "type": MVT, "title": "Tiles", "templated": true}),
            link(format!("{base}/collections/{layer}"), "http://www.opengis.net/def/rel/ogc/1.0/geodata", JSON, "The collection"),
        ],
    })
}

/// `GET /collections/{id}/tiles`: the tilesets of a collection (one, in `WebMercatorQuad`).
pub async fn get_tilesets(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    json_only(&req)?;
    let layer = tiled(&model, &path)?;
    let base = base_url(&req, &state.settings);
    let mut ts = tileset_json(&model, &base, layer);
    ts["links"] = json!([
        link(format!("{base}/collections/{layer}/tiles/WebMercatorQuad"), "self", JSON, "The tileset"),
        link(
            format!("{base}/tileMatrixSets/WebMercatorQuad"),
            "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
            JSON,
            "WebMercatorQuad"
        ),
    ]);
    let doc = json!({"tilesets": [ts], "links": [link(format!("{base}/collections/{layer}/tiles"), "self", JSON, "Tilesets")]});
    Ok(respond_json(&req, JSON, &doc))
}

/// `GET /collections/{id}/tiles/WebMercatorQuad`: the tileset metadata.
pub async fn get_tileset(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    json_only(&req)?;
    let (cid, tms) = path.into_inner();
    let layer = tiled(&model, &cid)?;
    if tms != "WebMercatorQuad" {
        return Err(ApiError::NotFound(format!(
            "no tile matrix set '{tms}'; this server tiles in WebMercatorQuad"
        )));
    }
    let base = base_url(&req, &state.settings);
    Ok(respond_json(&req, JSON, &tileset_json(&model, &base, layer)))
}

fn web_mercator_quad() -> Value {
    let matrices: Vec<Value> = (0..=MAX_ZOOM)
        .map(|z| {
            let n = 1u64 << z;
            let cell = 2.0 * HALF_WORLD_M / 256.0 / n as f64;
            json!({
                "id": z.to_string(),
                "scaleDenominator": cell / 0.00028,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF_WORLD_M, HALF_WORLD_M],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": n,
                "matrixHeight": n,
            })
        })
        .collect();
    json!({
        "id": "WebMercatorQuad",
        "title": "Google Maps Compatible for the World",
        "uri": WEB_MERCATOR_QUAD,
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    })
}

/// `GET /tileMatrixSets`.
pub async fn get_tile_matrix_sets(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    json_only(&req)?;
    let base = base_url(&req, &state.settings);
    let doc = json!({"tileMatrixSets": [{"id": "WebMercatorQuad", "title": "Google Maps Compatible for the World", "uri": WEB_MERCATOR_QUAD,
        "links": [link(format!("{base}/tileMatrixSets/WebMercatorQuad"), "self", JSON, "WebMercatorQuad")]}]});
    Ok(respond_json(&req, JSON, &doc))
}

/// `GET /tileMatrixSets/{id}`.
pub async fn get_tile_matrix_set(req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    json_only(&req)?;
    if path.as_str() != "WebMercatorQuad" {
        return Err(ApiError::NotFound(format!(
            "no tile matrix set '{path}'; this server tiles in WebMercatorQuad"
        )));
    }
    Ok(respond_json(&req, JSON, &web_mercator_quad()))
}
