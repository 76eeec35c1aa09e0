//! What several handlers share to answer features: finding a collection, a feature as GeoJSON with its links,
//! a page of them, the `crs` parameters and `Content-Crs`.

use std::fmt::Write;

use actix_web::HttpResponse;
use serde_json::Value;

use super::{GEO_JSON, JSON, QueryParams};
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

/// A feature in a GeoJSON answer, written straight from the store as text: in CRS84 the geometry and the full
/// property set are copied from text made once per feature ([`Feature::geometry_json`]), a distance is spliced
/// into that text, and the links are written from their parts, so a page costs copies, not a tree of values
/// built, serialised and dropped per request.
pub struct FeatureOut<'a> {
    collection: &'a Collection,
    feature: &'a Feature,
    base: &'a str,
    crs: Crs,
    geometry: Option<JsonOut<'a>>,
    only: Option<&'a [String]>,
    distance_m: Option<f64>,
}

/// JSON made earlier (borrowed text) or now.
enum JsonOut<'a> {
    Raw(std::borrow::Cow<'a, serde_json::value::RawValue>),
    Value(Value),
}

/// Whether a byte stays as it is in a URL (RFC 3986 unreserved).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Appends `s` to a JSON string being written: quotes, backslashes and control characters escaped.
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most text (ids, links, names) needs no escape: one copy. The check folds over every byte rather than
    // stopping at the first hit, so the compiler turns it into vector instructions.
    let hits = bytes
        .iter()
        .fold(0u8, |hit, &b| hit | u8::from(b < 0x20) | u8::from(b == b'"') | u8::from(b == b'\\'));
    if hits == 0 {
        out.extend_from_slice(bytes);
        return;
    }
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..0x20 => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..i]);
        match escaped {
            Some(e) => out.extend_from_slice(e),
            None => {
                let _ = write!(ByteWriter(out), "\\u{b:04x}");
            }
        }
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
}

/// `fmt::Write` into a byte buffer.
struct ByteWriter<'a>(&'a mut Vec<u8>);

impl Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends a JSON value (to a growing buffer, which cannot fail; a value that does not serialise, which the
/// store never holds, is written as `null` and logged).
pub fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    let at = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, value) {
        tracing::error!(error = %e, "an answer did not serialise");
        out.truncate(at);
        out.extend_from_slice(b"null");
    }
}

/// What the features of one page share in their links, escaped once for the page: the start of an item's
/// `href` (`{base}/collections/{id}/items/`) and the whole `collection` link.
struct PageLinks {
    items_href: Vec<u8>,
    collection: Vec<u8>,
}

impl PageLinks {
    fn new(c: &Collection, base: &str) -> Self {
        let mut items_href = Vec::with_capacity(base.len() + c.id().len() + 24);
        escape_into(&mut items_href, base);
        items_href.extend_from_slice(b"/collections/");
        escape_into(&mut items_href, c.id());
        let mut collection = Vec::with_capacity(items_href.len() + c.meta.title.len() + 64);
        collection.extend_from_slice(b"{\"href\":\"");
        collection.extend_from_slice(&items_href);
        collection.extend_from_slice(b"\",\"rel\":\"collection\",\"type\":\"");
        collection.extend_from_slice(JSON.as_bytes());
        collection.extend_from_slice(b"\",\"title\":\"");
        escape_into(&mut collection, c.meta.title);
        collection.extend_from_slice(b"\"}");
        items_href.extend_from_slice(b"/items/");
        Self { items_href, collection }
    }
}

impl FeatureOut<'_> {
    /// About how many bytes [`FeatureOut::write`] appends: exact for the geometry and the kept properties
    /// text, estimated for the rest, so an answer's buffer is allocated once instead of doubling as it grows.
    fn size_hint(&self) -> usize {
        let geometry = match &self.geometry {
            None => 4,
            Some(JsonOut::Raw(r)) => r.get().len(),
            Some(JsonOut::Value(_)) => 256,
        };
        let properties = match self.only {
            Some(only) => 32 * only.len() + 32,
            None => self.feature.kept_properties_json_len().unwrap_or(512) + 32,
        };
        // Three links, each with the base URL, the collection's id and the feature's, and about 100 bytes of
        // names, media types and titles.
        let links = 3 * (self.base.len() + self.collection.id().len() + self.feature.id.len() + 110);
        64 + self.feature.id.len() + geometry + properties + links
    }

    /// Appends the feature as GeoJSON.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_with(out, &PageLinks::new(self.collection, self.base));
    }

    /// [`FeatureOut::write`] with the links' shared parts made already (by the page).
    fn write_with(&self, out: &mut Vec<u8>, links: &PageLinks) {
        let f = self.feature;
        out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":\"");
        escape_into(out, &f.id);
        out.extend_from_slice(b"\",\"geometry\":");
        match &self.geometry {
            None => out.extend_from_slice(b"null"),
            Some(JsonOut::Raw(r)) => out.extend_from_slice(r.get().as_bytes()),
            Some(JsonOut::Value(v)) => write_json(out, v),
        }
        out.extend_from_slice(b",\"properties\":");
        self.write_properties(out);
        out.extend_from_slice(b",\"links\":[{\"href\":\"");
        // Percent-encoded text is unreserved characters and `%`: nothing in it needs a JSON escape.
        let fid = urlencode(&f.id);
        out.extend_from_slice(&links.items_href);
        out.extend_from_slice(fid.as_bytes());
        // `self` names this representation, so it keeps a CRS other than the default.
        if self.crs != Crs::Crs84 {
            out.extend_from_slice(b"?crs=");
            out.extend_from_slice(urlencode(self.crs.uri()).as_bytes());
        }
        out.extend_from_slice(b"\",\"rel\":\"self\",\"type\":\"");
        out.extend_from_slice(GEO_JSON.as_bytes());
        out.extend_from_slice(b"\",\"title\":\"This feature\"},{\"href\":\"");
        out.extend_from_slice(&links.items_href);
        out.extend_from_slice(fid.as_bytes());
        out.extend_from_slice(b"?f=html\",\"rel\":\"alternate\",\"type\":\"text/html\",");
        out.extend_from_slice(b"\"title\":\"This feature as HTML\"},");
        out.extend_from_slice(&links.collection);
        out.extend_from_slice(b"]}");
    }

    /// The properties: all of them or the selected ones, and the distance of a ranked query (metres, to the
    /// millimetre). In a ranked answer `distance_m` is that distance: a layer's own property of the name gives
    /// way to it (an object with the key twice is not JSON anyone can read back), and is still in its items.
    fn write_properties(&self, out: &mut Vec<u8>) {
        let rounded = self.distance_m.map(|d| (d * 1000.0).round() / 1000.0);
        let distance = |out: &mut Vec<u8>, d: f64| {
            out.extend_from_slice(b"\"distance_m\":");
            write_json(out, &d);
        };
        let own_distance = rounded.is_some() && self.feature.properties.contains_key(DISTANCE);
        let every: Vec<String>;
        let only = match self.only {
            None if own_distance => {
                every = self.feature.properties.keys().map(str::to_owned).collect();
                Some(every.as_slice())
            }
            only => only,
        };
        let Some(only) = only else {
            let all = self.feature.properties_json();
            let all = all.get();
            match (rounded, all.strip_suffix('}')) {
                (None, _) | (Some(_), None) => out.extend_from_slice(all.as_bytes()),
                // The stored text with the distance spliced in before its closing brace.
                (Some(d), Some(body)) => {
                    out.extend_from_slice(body.as_bytes());
                    if body.trim_end() != "{" {
                        out.push(b',');
                    }
                    distance(out, d);
                    out.push(b'}');
                }
            }
            return;
        };
        out.push(b'{');
        let mut first = true;
        // Only the selected values are read: one made when read is made only when selected.
        let wanted = |k: &str| only.iter().any(|n| n == k) && !(own_distance && k == DISTANCE);
        for (k, v) in self.feature.properties.select(wanted) {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            escape_into(out, k);
            out.extend_from_slice(b"\":");
            write_json(out, &v);
        }
        if let Some(d) = rounded {
            if !first {
                out.push(b',');
            }
            distance(out, d);
        }
        out.push(b'}');
    }

    /// The feature as GeoJSON text.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(1024);
        self.write(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The property a ranked answer gives each feature's distance in (metres).
const DISTANCE: &str = "distance_m";

/// The entity tag of a feature's GeoJSON `body`. A stored feature's tag names its `version` (`"v{version}-…"`),
/// so `If-Match` on a write can tell which version was seen; the hash is of the body itself, so the tag a write
/// answers with is the one a GET of the same representation answers with.
pub fn feature_etag(version: Option<i64>, body: &str) -> String {
    match version {
        Some(v) => format!("\"v{v}-{:016x}\"", xxhash_rust::xxh3::xxh3_64(body.as_bytes())),
        None => super::etag_of(body.as_bytes()),
    }
}

/// One feature as GeoJSON in `crs`, with its links; `only` selects properties, `distance_m` adds one.
pub fn feature_out<'a>(
    c: &'a Collection,
    f: &'a Feature,
    base: &'a str,
    crs: Crs,
    only: Option<&'a [String]>,
    distance_m: Option<f64>,
) -> ApiResult<FeatureOut<'a>> {
    let geometry = match &f.geometry {
        None => None,
        Some(_) if crs == Crs::Crs84 => f.geometry_json().map(JsonOut::Raw),
        Some(g) => Some(JsonOut::Value(
            geom::geojson_in(g, crs).map_err(|e| ApiError::Internal(format!("feature {}: {e}", f.id)))?,
        )),
    };
    Ok(FeatureOut { collection: c, feature: f, base, crs, geometry, only, distance_m })
}

/// [`feature_out`] with the geometry already in `crs` (made on the compute pool for a page in a projected CRS,
/// where reprojecting every vertex is the work).
pub fn feature_out_in<'a>(
    c: &'a Collection,
    f: &'a Feature,
    base: &'a str,
    crs: Crs,
    only: Option<&'a [String]>,
    geometry: Option<Box<serde_json::value::RawValue>>,
) -> FeatureOut<'a> {
    FeatureOut {
        collection: c,
        feature: f,
        base,
        crs,
        geometry: geometry.map(|g| JsonOut::Raw(std::borrow::Cow::Owned(g))),
        only,
        distance_m: None,
    }
}

/// A page of features as a GeoJSON FeatureCollection; `query` echoes a ranked query's parameters.
pub struct PageOut<'a> {
    pub kind: &'static str,
    pub query: Option<&'a Value>,
    pub number_matched: usize,
    pub features: Vec<FeatureOut<'a>>,
    pub links: &'a [Value],
}

impl PageOut<'_> {
    /// About how many bytes [`PageOut::write`] appends (see [`FeatureOut::size_hint`]).
    pub fn size_hint(&self) -> usize {
        let links: usize = self.links.len() * 256;
        512 + links + self.features.iter().map(|f| f.size_hint() + 1).sum::<usize>()
    }

    /// Appends the page as GeoJSON.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"type\":\"");
        escape_into(out, self.kind);
        out.push(b'"');
        if let Some(q) = self.query {
            out.extend_from_slice(b",\"query\":");
            write_json(out, q);
        }
        let _ = write!(
            ByteWriter(out),
            ",\"numberMatched\":{},\"numberReturned\":{},\"features\":[",
            self.number_matched,
            self.features.len()
        );
        // The links' shared parts, made again only when a feature's collection or base differs from the last.
        let mut links: Option<(&Collection, &str, PageLinks)> = None;
        for (i, f) in self.features.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let same =
                links.as_ref().is_some_and(|(c, base, _)| std::ptr::eq(*c, f.collection) && *base == f.base);
            if !same {
                links = Some((f.collection, f.base, PageLinks::new(f.collection, f.base)));
            }
            if let Some((_, _, shared)) = &links {
                f.write_with(out, shared);
            }
        }
        out.extend_from_slice(b"],\"links\":");
        write_json(out, self.links);
        out.push(b'}');
    }
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

/// `s` percent-encoded for a URL path segment or query value (only unreserved characters stay as they are).
pub fn urlencode(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().all(unreserved) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    std::borrow::Cow::Owned(out)
}
