//! `GET /locate?lon=..&lat=..`: which county, city and regions contain a point.

use std::fmt::Write;

use actix_web::{HttpRequest, HttpResponse};
use geo::Coord;
use serde_json::{Value, json};

use super::{
    Caching, Format, HTML, JSON, QueryParams, State, base_url, html, link, negotiate, respond, respond_json,
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
    let params = QueryParams::from_request(&req)?;
    params.only(&["lon", "lat", "f", "coord-crs"])?;
    let p = super::proximity::point_param(&params)?;
    let (lon, lat) = (p.x, p.y);
    let format = negotiate(&req, &params)?;
    let catalog = &state.catalog;
    let base = base_url(&req, &state.settings);
    let location = catalog.locate(Coord { x: lon, y: lat });
    let (county, city, regions) = match &location {
        Some(loc) => {
            let county = catalog.counties().feature(loc.county);
            let memberships =
                county.properties.get("regions").and_then(Value::as_array).cloned().unwrap_or_default();
            let regions: Vec<Value> = loc
                .regions
                .iter()
                .map(|&r| {
                    let f = catalog.regions().feature(r);
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
            (
                unit(county, &base, "counties"),
                unit(catalog.cities().feature(loc.city), &base, "cities"),
                regions,
            )
        }
        None => (Value::Null, Value::Null, Vec::new()),
    };
    let doc = json!({
        "lon": lon,
        "lat": lat,
        "crs": super::collections::CRS84,
        "inLiaoning": location.is_some(),
        "county": county,
        "city": city,
        "regions": regions,
        "links": [link(format!("{base}/locate?lon={lon}&lat={lat}"), "self", JSON, "This answer")],
    });
    match format {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let mut body = format!("<p>Point {lon}, {lat} (CRS84 lon, lat)</p>");
            if location.is_none() {
                body.push_str("<p>Outside Liaoning: no county, city or region contains it.</p>");
            } else {
                let _ = write!(
                    body,
                    "<h2>County / city</h2>{}{}",
                    html::value(&doc["county"]),
                    html::value(&doc["city"])
                );
                let _ = write!(body, "<h2>Regions</h2>{}", html::value(&doc["regions"]));
            }
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Locate", format!("{base}/locate?lon={lon}&lat={lat}&f=html")),
            ];
            Ok(respond(&req, HTML, html::page("Locate", &crumbs, &body, BOUNDARY_ATTRIBUTION), Caching::Data))
        }
    }
}
