//! Proximity and area queries: nearest, within a distance of a point, along a corridor, intersecting an area.
//!
//! Every answer comes from the collection's R-tree (a conservative box around the query) refined with exact
//! geodesic distances on WGS84 to the nearest point of each geometry.

use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use geo::Geometry;
use serde_json::{Value, json};

use super::features::{PageOut, crs_param, feature_out, find, with_content_crs};
use super::html::{Cell, Page as HtmlPage, Span};
use super::selection::{parse_ranked_selection, parse_selection, point_param, required};
use super::{Caching, Format, GEO_JSON, HTML, QueryParams, State, base_url, link, negotiate, respond};
use crate::domain::Page;
use crate::domain::query::parse_f64;
use crate::error::{ApiError, ApiResult};
use crate::geom::crs::Crs;
use crate::store::admin::BOUNDARY_ATTRIBUTION;
use crate::store::{Collection, Found};

/// Parses a non-negative distance in metres.
fn parse_distance(name: &str, raw: &str) -> ApiResult<f64> {
    let d = parse_f64(name, raw)?;
    if d < 0.0 {
        return Err(ApiError::param(name, format!("{d} is negative; give a distance in metres >= 0")));
    }
    Ok(d)
}

/// A ranked answer ready to be shaped: the features of the page with their distances in metres (`None` where
/// distance means nothing, as for `intersecting`), and the total matched.
struct Ranked {
    rows: Found,
    matched: usize,
}

#[allow(clippy::too_many_arguments)]
fn shape(
    req: &HttpRequest,
    state: &State,
    c: &Collection,
    ranked: &Ranked,
    page: Option<Page>,
    params: &QueryParams,
    endpoint: &str,
    echo: &Value,
    post_body: Option<&Value>,
    properties: Option<&[String]>,
) -> ApiResult<HttpResponse> {
    let format = negotiate(req, params)?;
    let out_crs = crs_param(params, "crs")?;
    let base = base_url(req, &state.settings);
    let href = format!("{base}/collections/{}/{endpoint}", c.id());
    let here = |overrides: &[(&str, Option<String>)]| {
        let q = params.with(overrides);
        if q.is_empty() { href.clone() } else { format!("{href}?{q}") }
    };
    let with_body = |mut l: Value| {
        if let Some(b) = post_body {
            l["method"] = json!("POST");
            l["body"] = b.clone();
        }
        l
    };
    let self_type = if format == Format::Html { "text/html" } else { GEO_JSON };
    let mut links = vec![with_body(link(here(&[]), "self", self_type, "This answer"))];
    if let Some(page) = page {
        if page.offset + ranked.rows.len() < ranked.matched {
            let next = here(&[
                ("offset", Some((page.offset + page.limit).to_string())),
                ("limit", Some(page.limit.to_string())),
            ]);
            links.push(with_body(link(next, "next", self_type, "Next page")));
        }
        if page.offset > 0 {
            let prev = here(&[
                ("offset", Some(page.prev_offset(ranked.matched).to_string())),
                ("limit", Some(page.limit.to_string())),
            ]);
            links.push(with_body(link(prev, "prev", self_type, "Previous page")));
        }
    }
    links.push(link(
        format!("{base}/collections/{}", c.id()),
        "collection",
        "application/json",
        c.meta.title,
    ));
    match format {
        Format::Json => {
            let features = c
                .found(&ranked.rows)
                .map(|(f, d)| feature_out(c, f, &base, out_crs, properties, d))
                .collect::<ApiResult<Vec<_>>>()?;
            let doc = PageOut {
                kind: "FeatureCollection",
                query: Some(echo),
                number_matched: ranked.matched,
                features,
                links: &links,
            };
            let resp = super::respond_written_stamped(req, GEO_JSON, doc.size_hint(), |out| doc.write(out));
            Ok(with_content_crs(resp, out_crs))
        }
        Format::Html => {
            let rows = c
                .found(&ranked.rows)
                .map(|(f, d)| {
                    vec![
                        Cell::text(d.map_or_else(String::new, |d| format!("{d:.1}"))),
                        Span::link(
                            f.id.clone(),
                            format!("{base}/collections/{}/items/{}?f=html", c.id(), f.id),
                        )
                        .into(),
                        Cell::text(f.str_prop("name_zh").unwrap_or("")),
                        Cell::text(f.str_prop("name_en").unwrap_or("")),
                    ]
                })
                .collect();
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                (c.meta.title, format!("{base}/collections/{}?f=html", c.id())),
            ];
            let page = HtmlPage::new(endpoint, &crumbs, BOUNDARY_ATTRIBUTION).depth(3)
                .text(format!(
                    "{} matched, {} shown. Distances are geodesic on WGS84 to the nearest point of each geometry.",
                    ranked.matched,
                    ranked.rows.len()
                ))
                .table(&["Distance (m)", "id", "名称", "Name"], rows);
            Ok(respond(req, HTML, page.render()?, Caching::Data))
        }
    }
}

fn page_of(rows: Found, page: Page) -> Ranked {
    let matched = rows.len();
    Ranked { rows: rows.page(page.offset, page.limit), matched }
}

/// The collection `id` of the state, inside a compute job.
fn collection_of<'a>(m: &'a crate::store::engine::ReadModel, id: &str) -> ApiResult<&'a Collection> {
    m.catalog.collection(id).ok_or_else(|| ApiError::NotFound(format!("no collection '{id}'")))
}

/// `GET /collections/{id}/nearest?lon=..&lat=..&k=..[&max-distance=..]`.
pub async fn get_nearest(req: HttpRequest, state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    no_sortby(&params)?;
    let c = find(&model, &path)?;
    let p = point_param(&params)?;
    let limits = state.settings.limits;
    if let Some(name) = ["limit", "offset"].into_iter().find(|n| params.get(n).is_some()) {
        return Err(ApiError::param(
            name,
            format!(
                "nearest answers the k nearest features in one page: ask with k (at most {}), or page through \
                 within-distance",
                limits.max_limit
            ),
        ));
    }
    let k = match params.get("k") {
        None => limits.default_limit,
        Some(raw) => {
            let k: i64 = raw
                .trim()
                .parse()
                .map_err(|_| ApiError::param("k", format!("'{raw}' is not a whole number")))?;
            if k <= 0 {
                return Err(ApiError::param("k", format!("{k} must be at least 1")));
            }
            usize::try_from(k).unwrap_or(usize::MAX).min(limits.max_limit)
        }
    };
    let max_distance =
        params.get("max-distance").map(|raw| parse_distance("max-distance", raw)).transpose()?;
    let selection = std::sync::Arc::new(parse_ranked_selection(
        &model.catalog,
        c,
        &params,
        &["lon", "lat", "k", "max-distance", "coord-crs"],
    )?);
    if !c.is_spatial() {
        return Err(ApiError::NotFound(format!("collection '{}' has no geometries", c.id())));
    }
    let id = c.id().to_owned();
    let rows = super::compute_here_first(&state, &model, {
        let selection = selection.clone();
        move |m| {
            let c = collection_of(m, &id)?;
            Ok(c.nearest_features(p, k, max_distance, selection.keeper(&m.catalog, c)))
        }
    })
    .await?;
    let echo = json!({"lon": p.x, "lat": p.y, "k": k, "maxDistance_m": max_distance});
    let ranked = Ranked { matched: rows.len(), rows };
    shape(&req, &state, c, &ranked, None, &params, "nearest", &echo, None, selection.properties.as_deref())
}

/// `GET /collections/{id}/within-distance?lon=..&lat=..&distance=..`: every feature within `distance` metres,
/// nearest first, paged.
pub async fn get_within_distance(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    no_sortby(&params)?;
    let c = find(&model, &path)?;
    let p = point_param(&params)?;
    let radius = parse_distance("distance", required(&params, "distance", "metres")?)?;
    let page = Page::parse(params.get("limit"), params.get("offset"), state.settings.limits)?;
    let selection = std::sync::Arc::new(parse_ranked_selection(
        &model.catalog,
        c,
        &params,
        &["lon", "lat", "distance", "coord-crs"],
    )?);
    if !c.is_spatial() {
        return Err(ApiError::NotFound(format!("collection '{}' has no geometries", c.id())));
    }
    let id = c.id().to_owned();
    // Only the features up to the page's end are measured and ranked; the rest are counted.
    let first = page.offset.saturating_add(page.limit);
    let (rows, matched) = super::compute_here_first(&state, &model, {
        let selection = selection.clone();
        move |m| {
            let c = collection_of(m, &id)?;
            let keep = selection.keeper(&m.catalog, c);
            Ok(c.features_within_first(&Geometry::Point(p.into()), radius, keep, first))
        }
    })
    .await?;
    let echo = json!({"lon": p.x, "lat": p.y, "distance_m": radius});
    let ranked = Ranked { rows: rows.page(page.offset, usize::MAX), matched };
    shape(
        &req,
        &state,
        c,
        &ranked,
        Some(page),
        &params,
        "within-distance",
        &echo,
        None,
        selection.properties.as_deref(),
    )
}

/// `GET /collections/{id}/along?project=..&distance=..`: every feature within `distance` metres of a project's
/// geometry (a corridor such as 沈白高铁), with its distance to it.
pub async fn get_along(req: HttpRequest, state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    no_sortby(&params)?;
    let c = find(&model, &path)?;
    let pid = required(
        &params,
        "project",
        "the id of a project whose geometry is the corridor; or POST a GeoJSON line",
    )?;
    let project = model
        .catalog
        .projects()
        .get(pid)
        .ok_or_else(|| ApiError::param("project", format!("no project '{pid}'")))?;
    let line =
        project.geometry.clone().ok_or_else(|| ApiError::param("project", "that project has no geometry"))?;
    let radius = parse_distance("distance", required(&params, "distance", "metres")?)?;
    let page = Page::parse(params.get("limit"), params.get("offset"), state.settings.limits)?;
    let selection =
        std::sync::Arc::new(parse_ranked_selection(&model.catalog, c, &params, &["project", "distance"])?);
    if !c.is_spatial() {
        return Err(ApiError::NotFound(format!("collection '{}' has no geometries", c.id())));
    }
    // The corridor is not near itself, in the projects or in a view of them.
    let self_id = crate::store::catalog::holds_projects(c.id()).then(|| pid.to_owned());
    let id = c.id().to_owned();
    let rows = super::compute(&state, &model, {
        let selection = selection.clone();
        move |m| {
            let c = collection_of(m, &id)?;
            let keep = selection.keeper(&m.catalog, c);
            Ok(c.features_along(&line, radius, |f| Some(&f.id) != self_id.as_ref() && keep(f)))
        }
    })
    .await?;
    let echo = json!({"project": pid, "distance_m": radius});
    shape(
        &req,
        &state,
        c,
        &page_of(rows, page),
        Some(page),
        &params,
        "along",
        &echo,
        None,
        selection.properties.as_deref(),
    )
}

/// The request body's geometry as CRS84, or a 400 naming the body.
pub fn body_geometry(body: &Value, crs: Crs) -> ApiResult<Geometry<f64>> {
    let g = crate::geom::geometry_from_geojson(body, crs).map_err(|e| ApiError::param("body", e))?;
    let n = geo::CoordsIter::coords_count(&g);
    if n > MAX_BODY_VERTICES {
        return Err(ApiError::param(
            "body",
            format!("the geometry has {n} positions; the limit is {MAX_BODY_VERTICES} (simplify it first)"),
        ));
    }
    Ok(g)
}

/// Most positions in a posted geometry: distances cost positions × the feature's positions.
pub const MAX_BODY_VERTICES: usize = 20_000;

/// `POST /collections/{id}/along?distance=..` with a GeoJSON line (or any geometry) as the body.
pub async fn post_along(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    no_sortby(&params)?;
    let c = find(&model, &path)?;
    let radius = parse_distance("distance", required(&params, "distance", "metres")?)?;
    let page = Page::parse(params.get("limit"), params.get("offset"), state.settings.limits)?;
    let selection =
        std::sync::Arc::new(parse_ranked_selection(&model.catalog, c, &params, &["distance", "coord-crs"])?);
    if !c.is_spatial() {
        return Err(ApiError::NotFound(format!("collection '{}' has no geometries", c.id())));
    }
    // The body first: a slot is held only while the work runs, never while a slow client sends.
    let body = super::read_json_body(&req, payload, state.settings.max_body_bytes).await?;
    let _slot = crate::ops::take_slot(&state)?;
    let line = body_geometry(&body, crs_param(&params, "coord-crs")?)?;
    let id = c.id().to_owned();
    let rows = super::compute(&state, &model, {
        let selection = selection.clone();
        move |m| {
            let c = collection_of(m, &id)?;
            Ok(c.features_along(&line, radius, selection.keeper(&m.catalog, c)))
        }
    })
    .await?;
    let echo = json!({"distance_m": radius});
    shape(
        &req,
        &state,
        c,
        &page_of(rows, page),
        Some(page),
        &params,
        "along",
        &echo,
        Some(&body),
        selection.properties.as_deref(),
    )
}

/// `POST /collections/{id}/intersecting` with a GeoJSON geometry as the body: features intersecting it, paged,
/// with the collection's filters.
pub async fn post_intersecting(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    no_sortby(&params)?;
    let c = find(&model, &path)?;
    let page = Page::parse(params.get("limit"), params.get("offset"), state.settings.limits)?;
    let selection = std::sync::Arc::new(parse_selection(&model.catalog, c, &params, &["coord-crs"])?);
    if !c.is_spatial() {
        return Err(ApiError::NotFound(format!("collection '{}' has no geometries", c.id())));
    }
    // The body first: a slot is held only while the work runs, never while a slow client sends.
    let body = super::read_json_body(&req, payload, state.settings.max_body_bytes).await?;
    let _slot = crate::ops::take_slot(&state)?;
    let area = body_geometry(&body, crs_param(&params, "coord-crs")?)?;
    let id = c.id().to_owned();
    let rows = super::compute(&state, &model, {
        let selection = selection.clone();
        move |m| {
            let c = collection_of(m, &id)?;
            Ok(c.features_intersecting(&area, selection.keeper(&m.catalog, c)))
        }
    })
    .await?;
    shape(
        &req,
        &state,
        c,
        &page_of(rows, page),
        Some(page),
        &params,
        "intersecting",
        &json!({}),
        Some(&body),
        selection.properties.as_deref(),
    )
}

/// `sortby` does not apply to proximity answers: they come nearest first (intersecting: in the collection's
/// order), and a sort silently ignored would mislead.
fn no_sortby(params: &QueryParams) -> ApiResult<()> {
    if params.get("sortby").is_some() {
        return Err(ApiError::param(
            "sortby",
            "does not apply here: distance answers come nearest first and intersecting in the collection's \
             order; use /items?filter=… with sortby to sort",
        ));
    }
    Ok(())
}
