//! `GET /locate?lon=..&lat=..`: which county, city and regions contain a point.

use actix_web::{HttpRequest, HttpResponse};
use geo::Coord;
use serde_json::{Value, json};

use super::html::Page;
use super::{
    Caching, Format, HTML, JSON, QueryParams, State, base_url, link, negotiate, respond, respond_json,
};
use crate::error::ApiResult;
use crate::store::Feature;
use crate::store::admin::BOUNDARY_ATTRIBUTION;

fn unit(f: &Feature, base: &str, collection: &str) -> Value {
    json!({
        "adcode": f.id,
        "name_zh": f.str_prop("name_zh"),
        "name_en": f.str_prop("name_en"),
        "href": format!("{base}/collections/{collection}/items/{}", f.id),
    })
}

/// `GET /locate`.
pub async fn get_locate(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["lon", "lat", "f", "coord-crs"])?;
    let p = super::selection::point_param(&params)?;
    let (lon, lat) = (p.x, p.y);
    let format = negotiate(&req, &params)?;
    let catalog = &model.catalog;
    let base = base_url(&req, &state.settings);
    let location = catalog.locate(Coord { x: lon, y: lat });
    let (county, city, regions) = match &location {
        Some(loc) => {
            let county = loc.county;
            let memberships =
                county.properties.get("regions").and_then(Value::as_array).cloned().unwrap_or_default();
            let regions: Vec<Value> = loc
                .regions
                .iter()
                .map(|f| {
                    let via = memberships.iter().find(|m| m["id"].as_str() == Some(f.id.as_str()));
                    json!({
                        "id": f.id,
                        "name_zh": f.str_prop("name_zh"),
                        "name_en": f.str_prop("name_en"),
                        "kind": f.str_prop("kind"),
                        "basis": via.and_then(|m| m.get("basis")).cloned().unwrap_or(Value::Null),
                        "via": via.and_then(|m| m.get("via")).cloned().unwrap_or(Value::Null),
                        "href": format!("{base}/collections/regions/items/{}", f.id),
                    })
                })
                .collect();
            (unit(county, &base, "counties"), unit(loc.city, &base, "cities"), regions)
        }
        None => (Value::Null, Value::Null, Vec::new()),
    };
    let doc = json!({
        "lon": lon,
        "lat": lat,
        "crs": super::features::CRS84,
        "inLiaoning": location.is_some(),
        "county": county,
        "city": city,
        "regions": regions,
        "links": [link(format!("{base}/locate?lon={lon}&lat={lat}"), "self", JSON, "This answer")],
    });
    match format {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Locate", format!("{base}/locate?lon={lon}&lat={lat}&f=html")),
            ];
            let mut page = Page::new("Locate", &crumbs, BOUNDARY_ATTRIBUTION)
                .text(format!("Point {lon}, {lat} (CRS84 lon, lat)"));
            if location.is_none() {
                page = page.text("Outside Liaoning: no county, city or region contains it.");
            } else {
                page = page
                    .heading("County / city")
                    .value(&doc["county"])
                    .value(&doc["city"])
                    .heading("Regions")
                    .value(&doc["regions"]);
            }
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}
