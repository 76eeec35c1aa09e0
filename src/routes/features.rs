//! What several handlers share to answer features: finding a collection, a feature as GeoJSON with its links,
//! a page of them, the `crs` parameters and `Content-Crs`.

use std::fmt::Write;

use actix_web::HttpResponse;
use serde_json::Value;

use super::{GEO_JSON, JSON, QueryParams, link};
use crate::error::{ApiError, ApiResult};
use crate::geom::{self, crs::Crs};
use crate::store::engine::ReadModel;
use crate::store::{Collection, Feature};

/// The OGC URI of CRS84 (longitude, latitude on WGS84).
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

pub fn find<'a>(model: &'a ReadModel, id: &str) -> ApiResult<&'a Collection> {
    model.catalog.collection(id).ok_or_else(|| {
        let known: Vec<&str> = model.catalog.collections().iter().map(|c| c.id()).collect();
        ApiError::NotFound(format!("no collection '{id}'; collections: {}", known.join(", ")))
    })
}

/// A feature in a GeoJSON answer. Serialised straight from the store: in CRS84 the geometry and the full
/// property set are copied from text made once per feature ([`Feature::geometry_json`]), so a page costs a
/// copy, not a tree of values built and dropped per request.
#[derive(serde::Serialize)]
pub struct FeatureOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    geometry: Option<JsonOut<'a>>,
    properties: PropertiesOut<'a>,
    links: [Value; 3],
}

/// JSON made earlier (borrowed text) or now.
enum JsonOut<'a> {
    Raw(&'a serde_json::value::RawValue),
    Value(Value),
}

impl serde::Serialize for JsonOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Raw(r) => r.serialize(s),
            Self::Value(v) => v.serialize(s),
        }
    }
}

/// A feature's properties in an answer: all of them or the selected ones, and the distance of a ranked query.
struct PropertiesOut<'a> {
    feature: &'a Feature,
    only: Option<&'a [String]>,
    distance_m: Option<f64>,
}

impl serde::Serialize for PropertiesOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let rounded = self.distance_m.map(|d| (d * 1000.0).round() / 1000.0);
        if self.only.is_none() {
            let all = self.feature.properties_json().get();
            let Some(d) = rounded else { return self.feature.properties_json().serialize(s) };
            // The stored text with the distance spliced in before its closing brace.
            if let (Some(body), Ok(d)) = (all.strip_suffix('}'), serde_json::to_string(&d)) {
                let sep = if body.trim_end() == "{" { "" } else { "," };
                if let Ok(spliced) =
                    serde_json::value::RawValue::from_string(format!("{body}{sep}\"distance_m\":{d}}}"))
                {
                    return spliced.serialize(s);
                }
            }
        }
        let mut map = s.serialize_map(None)?;
        for (k, v) in &self.feature.properties {
            if self.only.is_none_or(|names| names.contains(k)) {
                map.serialize_entry(k, v)?;
            }
        }
        if let Some(d) = rounded {
            map.serialize_entry("distance_m", &d)?;
        }
        map.end()
    }
}

/// One feature as GeoJSON in `crs`, with its links; `only` selects properties, `distance_m` adds one.
pub fn feature_out<'a>(
    c: &Collection,
    f: &'a Feature,
    base: &str,
    crs: Crs,
    only: Option<&'a [String]>,
    distance_m: Option<f64>,
) -> ApiResult<FeatureOut<'a>> {
    let href = format!("{base}/collections/{}/items/{}", c.id(), urlencode(&f.id));
    // `self` names this representation, so it keeps a CRS other than the default.
    let self_href =
        if crs == Crs::Crs84 { href.clone() } else { format!("{href}?crs={}", urlencode(crs.uri())) };
    let geometry = match &f.geometry {
        None => None,
        Some(_) if crs == Crs::Crs84 => f.geometry_json().map(JsonOut::Raw),
        Some(g) => Some(JsonOut::Value(
            geom::geojson_in(g, crs).map_err(|e| ApiError::Internal(format!("feature {}: {e}", f.id)))?,
        )),
    };
    Ok(FeatureOut {
        kind: "Feature",
        id: &f.id,
        geometry,
        properties: PropertiesOut { feature: f, only, distance_m },
        links: [
            link(&self_href, "self", GEO_JSON, "This feature"),
            link(format!("{href}?f=html"), "alternate", "text/html", "This feature as HTML"),
            link(format!("{base}/collections/{}", c.id()), "collection", JSON, c.meta.title),
        ],
    })
}

/// A page of features as a GeoJSON FeatureCollection; `query` echoes a ranked query's parameters.
#[derive(serde::Serialize)]
pub struct PageOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<&'a Value>,
    #[serde(rename = "numberMatched")]
    pub number_matched: usize,
    #[serde(rename = "numberReturned")]
    pub number_returned: usize,
    pub features: Vec<FeatureOut<'a>>,
    pub links: &'a [Value],
}

/// The `crs` of an answer from collection `c`: one of those it lists (OGC API – Features Part 2
/// `/req/crs/crs-action`); a collection without geometries lists none, so only the default applies.
pub fn output_crs(params: &QueryParams, c: &Collection) -> ApiResult<Crs> {
    let crs = crs_param(params, "crs")?;
    if crs != Crs::Crs84 && !c.is_spatial() {
        return Err(ApiError::param(
            "crs",
            format!("collection '{}' has no geometries, so it offers no coordinate systems", c.id()),
        ));
    }
    Ok(crs)
}

/// Reads a CRS parameter (`crs`, `bbox-crs`, `coord-crs`), CRS84 when absent; 400 listing the supported
/// ones when unknown.
pub fn crs_param(params: &QueryParams, name: &str) -> ApiResult<Crs> {
    match params.get(name) {
        None => Ok(Crs::Crs84),
        Some(raw) => Crs::parse(raw).ok_or_else(|| {
            ApiError::param(
                name,
                format!("'{raw}' is not a supported CRS; supported: {}", Crs::supported_list()),
            )
        }),
    }
}

/// Adds `Content-Crs: <uri>` to a response carrying geometries.
pub fn with_content_crs(mut resp: HttpResponse, crs: Crs) -> HttpResponse {
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        resp.headers_mut().insert(actix_web::http::header::HeaderName::from_static("content-crs"), v);
    }
    resp
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
