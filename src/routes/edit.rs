//! Editing the catalogue (OGC API – Features Part 4) and its history (the OGC "Versioned Features" proposal,
//! transaction time): `POST …/items`, `PUT`/`PATCH`/`DELETE …/items/{id}`, `OPTIONS` on both, and
//! `…/items/{id}/versions`.
//!
//! `projects`, `progress` (quarterly reports) and `indicators` (measured values) are editable. Writes need
//! `Authorization: Bearer <token>` with a scope covering the feature before and after the change (a report or a
//! value is covered as its project or its target's area is). Bodies are GeoJSON Features in CRS84, or in the CRS named by `Content-Crs`;
//! only the input properties are kept (the joins, counts and shares are computed by the server). Every write
//! goes through the store engine, which validates with the loader's rules and commits before the answer.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::features::{feature_etag, feature_out};
use super::{JSON, QueryParams, State, base_url, link};
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiResult};
use crate::geom::crs::Crs;
use crate::store::db::{Op, Stored};
use crate::store::engine::{LayerExpect, STORED, WriteError, store_key, upsert};
use crate::store::{Catalog, Feature};

/// `Allow` of an editable collection's items and of one item.
pub const ALLOW_ITEMS: &str = "GET, HEAD, POST, OPTIONS";
/// `Allow` of one editable item.
pub const ALLOW_ITEM: &str = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";
/// `Allow` of a read-only collection's items.
pub const ALLOW_READ: &str = "GET, HEAD, OPTIONS";

fn editable(state: &State, cid: &str, method: &str) -> ApiResult<()> {
    if state.model().catalog.collection(cid).is_none() {
        return Err(ApiError::NotFound(format!("no collection '{cid}'")));
    }
    if !STORED.contains(&cid) || cid == "layers" || state.engine.store().is_none() {
        return Err(ApiError::MethodNotAllowed { method: method.to_owned(), allowed: ALLOW_READ });
    }
    Ok(())
}

/// The store key of feature `id` of `cid`; 404 for an id holding `/`, which no written feature has and which
/// could be another collection's key ([`crate::store::engine::feature_key`]).
fn feature_key(cid: &str, id: &str) -> ApiResult<String> {
    crate::store::engine::feature_key(cid, id)
        .filter(|_| !id.contains('/'))
        .ok_or_else(|| ApiError::NotFound(format!("no feature '{id}' in collection '{cid}'")))
}

/// Whether `If-Match` (if sent) allows changing a feature now at `version`; 412 when not, 428 when it is
/// required and missing.
fn check_if_match(
    req: &HttpRequest,
    state: &State,
    version: Option<i64>,
    required: bool,
) -> Result<(), WriteError> {
    let Some(raw) = req.headers().get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        if state.settings.require_if_match || required {
            return Err(WriteError::Precondition("__428__".into()));
        }
        return Ok(());
    };
    let ok = raw.split(',').map(str::trim).any(|tag| {
        if tag == "*" {
            return version.is_some();
        }
        let bare = tag.trim_start_matches("W/").trim_matches('"');
        version.is_some_and(|v| bare == format!("v{v}") || bare.starts_with(&format!("v{v}-")))
    });
    if ok {
        Ok(())
    } else {
        Err(WriteError::Precondition(format!(
            "If-Match {raw} does not match the current version{}; GET it again and reapply the change",
            version.map_or_else(|| " (the feature does not exist)".to_owned(), |v| format!(" (v{v})"))
        )))
    }
}

fn api_error(e: WriteError, base: &str, cid: &str, id: &str) -> ApiError {
    match e {
        WriteError::ReadOnly => ApiError::MethodNotAllowed { method: "write".into(), allowed: ALLOW_READ },
        WriteError::NotFound(_) => ApiError::NotFound(format!("no feature '{id}' in collection '{cid}'")),
        WriteError::Gone(_) => ApiError::Gone {
            detail: format!("feature '{id}' was deleted; its history is at …/items/{id}/versions"),
            latest: format!("{base}/collections/{cid}/items/{id}/versions"),
        },
        WriteError::Conflict(_) => ApiError::Conflict(format!(
            "a feature '{id}' already exists in '{cid}'; PUT /collections/{cid}/items/{id} with its ETag in \
             If-Match replaces it"
        )),
        WriteError::Precondition(m) if m == "__428__" => ApiError::PreconditionRequired(format!(
            "changing this feature needs If-Match (always for a progress report, everywhere with \
             --require-if-match): GET /collections/{cid}/items/{id} and send its ETag"
        )),
        WriteError::Precondition(m) => ApiError::PreconditionFailed(m),
        WriteError::Invalid(m) => ApiError::Unprocessable(m),
        WriteError::Forbidden(m) => ApiError::Forbidden(m),
        WriteError::Store(e) => ApiError::from(e),
        WriteError::Load(m) => ApiError::Internal(format!("rebuilding the catalog: {m}")),
    }
}

/// The caller of a write, from `Authorization: Bearer`; 401 without a known token, 429 after too many
/// failures from this address. The token itself is never logged.
async fn authenticate(req: &HttpRequest, state: &State) -> ApiResult<Caller> {
    // Counted per client: behind a trusted proxy, the address it forwards, not the proxy's own.
    let addr = crate::ops::client_ip(req);
    if let Some(wait) = addr.and_then(|a| state.failures.blocked(a)) {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many failed token attempts from this address; wait {wait} s (at most {} per {} s)",
                crate::auth::MAX_FAILURES,
                crate::auth::FAILURE_WINDOW.as_secs()
            ),
            retry_after_secs: u32::try_from(wait).unwrap_or(60),
        });
    }
    if state.engine.store().is_none() {
        return Err(ApiError::MethodNotAllowed { method: req.method().to_string(), allowed: ALLOW_READ });
    }
    let raw = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let token = raw
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        tracing::warn!(method = %req.method(), path = req.path(), "write refused: no bearer token");
        return Err(ApiError::Unauthorized(
            "writing needs `Authorization: Bearer <token>`; an administrator makes one with `planatlas token add`"
                .into(),
        ));
    };
    let hash = crate::auth::hash(token);
    let found = super::store_read(state, move |s| s.token_by_hash(&hash)).await?.flatten();
    let Some((name, scope)) = found else {
        if let Some(a) = addr {
            state.failures.record(a);
        }
        tracing::warn!(method = %req.method(), path = req.path(), "write refused: unknown or revoked token");
        return Err(ApiError::Unauthorized("the bearer token is not known or was revoked".into()));
    };
    let model = state.model();
    let scope = Scope::parse(&scope, &model.catalog)
        .map_err(|e| ApiError::Internal(format!("token {name} has a bad scope: {e}")))?;
    Ok(Caller { name, scope })
}

/// The scope check the engine runs on the feature as it is and as it will be.
fn scope_check<'a>(
    caller: &'a Caller,
    catalog: &'a Catalog,
) -> impl Fn(Option<&Feature>, Option<&Feature>) -> Result<(), WriteError> + 'a {
    move |before, after| {
        if !matches!(caller.scope, Scope::Province) {
            // The plan's targets a project carries are the plan's words (its excerpt quotes them): a city or a
            // region cannot lower, add or drop one, nor delete a project holding them.
            // Compared as values, whatever their order and however a number is spelt (4 and 4.0).
            fn targets(f: Option<&Feature>) -> Option<Vec<Value>> {
                fn canonical(v: &Value) -> Value {
                    match v {
                        Value::Number(n) => n.as_f64().map_or(Value::Null, |x| json!(x)),
                        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
                        Value::Object(o) => {
                            Value::Object(o.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
                        }
                        other => other.clone(),
                    }
                }
                let list = f?.properties.get("targets")?.as_array().filter(|a| !a.is_empty())?;
                let mut list: Vec<Value> = list.iter().map(canonical).collect();
                list.sort_by(|a, b| a["id"].to_string().cmp(&b["id"].to_string()));
                Some(list)
            }
            if targets(before) != targets(after) {
                let id = after.or(before).map_or("", |f| f.id.as_str());
                return Err(WriteError::Forbidden(format!(
                    "the token of {} (scope {}) may not {} the plan's targets of '{id}': targets are changed with \
                     a province token",
                    caller.name,
                    caller.scope,
                    if after.is_none() { "delete a project holding" } else { "change" },
                )));
            }
            // A geometry partly outside Liaoning lies in no city's or region's area alone.
            for (when, f) in [("now reaches", before), ("would reach", after)] {
                let Some(f) = f else { continue };
                let outside_km = f.properties.get("outside_liaoning_km").and_then(Value::as_f64);
                if outside_km.is_some_and(|km| km > 0.0) {
                    return Err(WriteError::Forbidden(format!(
                        "the token of {} (scope {}) may not change '{}': it {when} {} km outside Liaoning, \
                         which a province token changes",
                        caller.name,
                        caller.scope,
                        f.id,
                        outside_km.unwrap_or_default()
                    )));
                }
            }
        }
        for (when, f) in [("now lies", before), ("would lie", after)] {
            if let Some(f) = f
                && !caller.scope.covers(f, catalog)
            {
                let mut cities: Vec<&str> = f.str_list("city_names").collect();
                if cities.is_empty() {
                    // A record that names only counties (an indicator value): their cities.
                    for c in f.str_list("county_adcodes") {
                        let city = catalog
                            .counties()
                            .get(c)
                            .and_then(|c| c.str_prop("parent_adcode"))
                            .and_then(|p| catalog.cities().get(p))
                            .and_then(|p| p.str_prop("name_zh"));
                        if let Some(name) = city.filter(|n| !cities.contains(n)) {
                            cities.push(name);
                        }
                    }
                }
                return Err(WriteError::Forbidden(format!(
                    "the token of {} (scope {}) may not change '{}': it {when} in {}",
                    caller.name,
                    caller.scope,
                    f.id,
                    if cities.is_empty() { "no county of Liaoning".to_owned() } else { cities.join("、") }
                )));
            }
        }
        Ok(())
    }
}

/// The CRS of a request body: `Content-Crs: <uri>` (OGC API – Features Part 2), CRS84 when absent.
fn content_crs(req: &HttpRequest) -> ApiResult<Crs> {
    let Some(raw) = req.headers().get("content-crs").and_then(|v| v.to_str().ok()) else {
        return Ok(Crs::Crs84);
    };
    let uri = raw.trim().trim_start_matches('<').trim_end_matches('>');
    Crs::parse(uri).ok_or_else(|| {
        ApiError::param(
            "Content-Crs",
            format!("'{raw}' is not a supported CRS; supported: {}", Crs::supported_list()),
        )
    })
}

/// The record to store for a body, or a 400 naming the member that is wrong. `current` is the stored record
/// the body replaces, if any (a project's geometry written back unchanged in another CRS stays as stored).
fn record_of(
    cid: &str,
    body: &Value,
    id: &str,
    (crs, current): (Crs, Option<&str>),
    actor: &str,
) -> ApiResult<String> {
    let r = if cid == "projects" {
        let geometry = current
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .and_then(|mut r| r.get_mut("geometry").map(Value::take));
        crate::store::records::project_record(body, id, crs, geometry.as_ref())
    } else {
        crate::store::records::plain_record(cid, body, id, actor)
    };
    r.map_err(|e| ApiError::param(e.field, e.detail))
}

/// The id of a new feature: a report's `project@quarter`, a value's `target@period`, or for a project the given
/// id or one made from the English name (lower-case words joined by hyphens), unique in the store (asked off the
/// HTTP workers; a store that cannot answer is a 503).
async fn new_id(cid: &str, body: &Value, state: &State) -> ApiResult<String> {
    if cid != "projects" {
        return crate::store::records::record_id(cid, body).map_err(|e| ApiError::param(e.field, e.detail));
    }
    // GeoJSON allows a number; a project's id is text, and a number is refused rather than replaced.
    if let Some(other) = [body.get("id"), body.pointer("/properties/id")]
        .into_iter()
        .flatten()
        .find(|v| !v.is_string() && !v.is_null())
    {
        return Err(ApiError::Unprocessable(format!(
            "feature '{other}': id: {other} must be a string of lower-case ASCII letters, digits and hyphens"
        )));
    }
    let given = body
        .get("id")
        .and_then(Value::as_str)
        .or_else(|| body.pointer("/properties/id").and_then(Value::as_str));
    if let Some(id) = given {
        // Checked here, as the loader checks it, before the id is made a store key or a Location.
        if !crate::store::projects::is_slug(id) {
            return Err(ApiError::Unprocessable(format!(
                "feature '{id}': id: '{id}' must be lower-case ASCII letters, digits and hyphens"
            )));
        }
        return Ok(id.to_owned());
    }
    let slug = slug_of(body.pointer("/properties/name_en").and_then(Value::as_str).unwrap_or("project"));
    let free = super::store_read(state, {
        let slug = slug.clone();
        move |store| {
            let taken = |id: &str| store.get(id).map(|r| r.is_some());
            if !taken(&slug)? {
                return Ok(Some(slug));
            }
            for n in 2..10_000 {
                let id = format!("{slug}-{n}");
                if !taken(&id)? {
                    return Ok(Some(id));
                }
            }
            Ok(None)
        }
    })
    .await?;
    Ok(free.flatten().unwrap_or(slug))
}

/// Lower-case ASCII words of `name` joined by hyphens, at most about 48 characters (`project` when none).
fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() { "project".to_owned() } else { slug }
}

/// The stored row of `id` as the request found it, and whether `If-Match` (if sent) lets it be changed. A store
/// that cannot answer is its error (503), never "no such feature".
async fn precondition(
    req: &HttpRequest,
    state: &State,
    (base, cid, id): (&str, &str, &str),
) -> ApiResult<Option<Stored>> {
    let key = feature_key(cid, id)?;
    let current = super::store_read(state, move |s| s.get(&key)).await?.flatten();
    let live = current.as_ref().filter(|r| r.record.is_some()).map(|r| r.version);
    // A quarter's report is replaced only by someone who has seen it: If-Match is required on progress.
    check_if_match(req, state, live, cid == "progress" && live.is_some())
        .map_err(|e| api_error(e, base, cid, id))?;
    Ok(current)
}

/// The plan that changes the existing feature `id` into `record` (`None` deletes it) with `op`, provided it is
/// still at the version `seen` the precondition checked (`None`: whatever version is current, for a write
/// that sent no If-Match): another write in between is a 412, a deleted feature 410, an unknown one 404.
fn change_existing(
    key: String,
    seen: Option<i64>,
    op: Op,
    record: Option<String>,
) -> impl FnOnce(Option<&Stored>) -> Result<Vec<crate::store::db::Change>, WriteError> + Send + 'static {
    move |row| match row {
        Some(Stored { record: Some(_), version, .. }) if seen.is_none_or(|s| s == *version) => {
            Ok(vec![crate::store::db::Change { id: key, op, record }])
        }
        Some(Stored { record: Some(_), version, .. }) => Err(WriteError::Precondition(format!(
            "the feature changed while this request was on its way (now v{version}); GET it again and retry"
        ))),
        Some(_) => Err(WriteError::Gone(key)),
        None => Err(WriteError::NotFound(key)),
    }
}

/// Runs a write off the HTTP workers (it waits for the disk), outside any request time budget so a rebuild is
/// never cut short.
async fn run_write(
    state: &State,
    (base, cid): (&str, &str),
    id: String,
    caller: Caller,
    plan: impl FnOnce(Option<&Stored>) -> Result<Vec<crate::store::db::Change>, WriteError> + Send + 'static,
) -> Result<Option<String>, WriteError> {
    let engine = state.engine.clone();
    let (base, cid) = (base.to_owned(), cid.to_owned());
    let result = web::block(move || {
        let model = engine.model();
        let allowed = scope_check(&caller, &model.catalog);
        let written = engine.write(&cid, &id, &caller.name, Box::new(plan), &allowed)?;
        // The row as committed, from the model the write made (not read back: the store may be gone again).
        let key = store_key(&cid, &id);
        let version = written.model.row(&key).and_then(|r| r.record.as_ref().map(|_| r.version));
        // The tag a GET of the feature answers with now (its default representation), so a client may send it
        // back as If-None-Match as well as If-Match.
        let etag = version.and_then(|v| {
            let c = written.model.catalog.collection(&cid)?;
            let body = feature_out(c, c.get(&id)?, &base, Crs::Crs84, None, None).ok()?.to_json();
            Some(feature_etag(Some(v), &body))
        });
        Ok::<_, WriteError>(etag)
    })
    .await;
    match result {
        Ok(r) => r,
        Err(e) => Err(WriteError::Load(format!("the write did not run: {e}"))),
    }
}

fn item_url(base: &str, cid: &str, id: &str) -> String {
    format!("{base}/collections/{cid}/items/{id}")
}

/// The answer to a write: `etag` is the written feature's entity tag (none after a delete).
fn written(
    status: actix_web::http::StatusCode,
    base: &str,
    cid: &str,
    id: &str,
    etag: Option<&str>,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    if let Some(etag) = etag {
        resp.insert_header((header::ETAG, etag));
    }
    if status == actix_web::http::StatusCode::CREATED {
        resp.insert_header((header::LOCATION, item_url(base, cid, id)));
    }
    resp.finish()
}

/// `POST /collections/{projects,progress,indicators}/items`: a new feature from a GeoJSON Feature; 201 with
/// `Location` and `ETag`. A second report for the same project and quarter is a 409 (PUT with `If-Match`
/// replaces it).
pub async fn post_item(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let cid = path.into_inner();
    editable(&state, &cid, "POST")?;
    QueryParams::from_request(&req)?.only(&[])?;
    let caller = authenticate(&req, &state).await?;
    let crs = content_crs(&req)?;
    let body = super::read_json_body(&req, payload, state.settings.max_body_bytes).await?;
    let base = base_url(&req, &state.settings);
    // A report on a project, or a value of a target, outside the caller's area is refused before the body is
    // checked, so the answer tells nothing of that project's or target's records.
    let owner = match cid.as_str() {
        "progress" => Some("project"),
        "indicators" => Some("target"),
        _ => None,
    };
    if let Some(key) = owner
        && let Some(of) = body.pointer(&format!("/properties/{key}")).and_then(Value::as_str)
    {
        let model = state.model();
        let made;
        let holder = if key == "project" {
            model.catalog.projects().get(of)
        } else {
            made = model.catalog.target_value_area(of);
            made.as_ref()
        };
        if let Some(h) = holder {
            scope_check(&caller, &model.catalog)(Some(h), Some(h))
                .map_err(|e| api_error(e, &base, &cid, of))?;
        }
    }
    let id = new_id(&cid, &body, &state).await?;
    let record = record_of(&cid, &body, &id, (crs, None), &caller.name)?;
    let key = feature_key(&cid, &id)?;
    let result = run_write(&state, (&base, &cid), id.clone(), caller, move |row| match row {
        Some(Stored { record: Some(_), .. }) => Err(WriteError::Conflict(key)),
        _ => Ok(vec![upsert(&key, Op::Create, record)]),
    })
    .await;
    let etag = result.map_err(|e| api_error(e, &base, &cid, &id))?;
    tracing::info!(collection = %cid, id = %id, "feature created");
    Ok(written(actix_web::http::StatusCode::CREATED, &base, &cid, &id, etag.as_deref()))
}

/// `PUT /collections/{collectionId}/items/{id}`: replaces a feature; 204 with the new `ETag`.
pub async fn put_item(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (cid, id) = path.into_inner();
    editable(&state, &cid, "PUT")?;
    QueryParams::from_request(&req)?.only(&[])?;
    let caller = authenticate(&req, &state).await?;
    let crs = content_crs(&req)?;
    let body = super::read_json_body(&req, payload, state.settings.max_body_bytes).await?;
    let base = base_url(&req, &state.settings);
    let current = precondition(&req, &state, (&base, &cid, &id)).await?;
    let stored = current.as_ref().and_then(|r| r.record.as_deref());
    let record = record_of(&cid, &body, &id, (crs, stored), &caller.name)?;
    // Without If-Match the replace is of whatever is current when it is written (QGIS and OWSLib send none).
    let seen = current.map(|r| r.version).filter(|_| req.headers().contains_key(header::IF_MATCH));
    let plan = change_existing(store_key(&cid, &id), seen, Op::Replace, Some(record));
    let etag = run_write(&state, (&base, &cid), id.clone(), caller, plan)
        .await
        .map_err(|e| api_error(e, &base, &cid, &id))?;
    Ok(written(actix_web::http::StatusCode::NO_CONTENT, &base, &cid, &id, etag.as_deref()))
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// `PATCH /collections/{collectionId}/items/{id}` with `application/merge-patch+json`: changes some members.
pub async fn patch_item(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (cid, id) = path.into_inner();
    editable(&state, &cid, "PATCH")?;
    QueryParams::from_request(&req)?.only(&[])?;
    let caller = authenticate(&req, &state).await?;
    let crs = content_crs(&req)?;
    let patch = super::read_json_body_as(
        &req,
        payload,
        state.settings.max_body_bytes,
        &["application/merge-patch+json", "application/json"],
    )
    .await?;
    let Some(members) = patch.as_object() else {
        return Err(ApiError::param("body", "a merge patch is a JSON object (RFC 7396)"));
    };
    // A feature keeps its id: a patch renaming it is refused by the rule a PUT's body meets (`null` removes the
    // member, RFC 7396, which keeps the id), before the stored record is read.
    crate::store::records::same_id(members, patch.pointer("/properties/id"), &id)
        .map_err(|e| ApiError::param(e.field, e.detail))?;
    let base = base_url(&req, &state.settings);
    let fail = |e| api_error(e, &base, &cid, &id);
    // Without If-Match, a write that lands first is not a conflict: the patch is applied again to what is then
    // current (a few times at most). With If-Match, it is a 412.
    let conditional = req.headers().contains_key(header::IF_MATCH);
    let mut attempt = 0;
    let etag = loop {
        attempt += 1;
        let current = precondition(&req, &state, (&base, &cid, &id)).await?;
        // The patch applies to the version the precondition saw; the engine refuses if another write came
        // first.
        let Some((seen, stored)) = current.as_ref().and_then(|r| Some((r.version, r.record.as_deref()?)))
        else {
            let missing = if current.is_some() {
                WriteError::Gone(id.clone())
            } else {
                WriteError::NotFound(id.clone())
            };
            return Err(fail(missing));
        };
        let mut doc: Value =
            serde_json::from_str(stored).map_err(|e| ApiError::Internal(format!("stored {id}: {e}")))?;
        let crs = if patch.get("geometry").is_some() { crs } else { Crs::Crs84 };
        // A geometry patched in another CRS is merged into the stored one as written in that CRS: what the
        // patch leaves of it is then in the same CRS as what it sets.
        if crs != Crs::Crs84
            && let Some(g) = doc.get_mut("geometry")
            && let Ok(geometry) = crate::geom::geometry_from_geojson(g, Crs::Crs84)
        {
            *g = crate::geom::geojson_in(&geometry, crs)
                .map_err(|e| ApiError::param("Content-Crs", format!("the stored geometry in {crs}: {e}")))?;
        }
        merge_patch(&mut doc, &patch);
        let record = record_of(&cid, &doc, &id, (crs, Some(stored)), &caller.name)?;
        let plan = change_existing(store_key(&cid, &id), Some(seen), Op::Patch, Some(record));
        match run_write(&state, (&base, &cid), id.clone(), caller.clone(), plan).await {
            Err(WriteError::Precondition(_)) if !conditional && attempt < 5 => {}
            other => break other.map_err(fail)?,
        }
    };
    Ok(written(actix_web::http::StatusCode::NO_CONTENT, &base, &cid, &id, etag.as_deref()))
}

/// `DELETE /collections/{collectionId}/items/{id}`: 204; the feature answers 410 afterwards, its history stays.
pub async fn delete_item(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (cid, id) = path.into_inner();
    editable(&state, &cid, "DELETE")?;
    QueryParams::from_request(&req)?.only(&[])?;
    let caller = authenticate(&req, &state).await?;
    let base = base_url(&req, &state.settings);
    let current = precondition(&req, &state, (&base, &cid, &id)).await?;
    let seen = current.map(|r| r.version).filter(|_| req.headers().contains_key(header::IF_MATCH));
    let plan = change_existing(store_key(&cid, &id), seen, Op::Delete, None);
    run_write(&state, (&base, &cid), id.clone(), caller, plan)
        .await
        .map_err(|e| api_error(e, &base, &cid, &id))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The methods a collection's resources take: `writable` where the store keeps it, reading elsewhere.
fn allow_for(state: &State, cid: &str, writable: &'static str) -> &'static str {
    if STORED.contains(&cid) && cid != "layers" && state.engine.store().is_some() {
        writable
    } else {
        ALLOW_READ
    }
}

/// A method `…/items` does not take: 405 with the methods this collection's `…/items` does (one list for
/// every collection offered PUT and DELETE on the boundaries).
pub async fn not_allowed_items(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let cid = path.into_inner();
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allowed: allow_for(&state, &cid, ALLOW_ITEMS),
    })
}

/// A method `…/items/{featureId}` does not take: 405 with the methods this collection's items take.
pub async fn not_allowed_item(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (cid, _) = path.into_inner();
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allowed: allow_for(&state, &cid, ALLOW_ITEM),
    })
}

/// `OPTIONS /collections/{id}/items`: the methods it takes (QGIS reads `Allow` to decide whether a layer is
/// editable).
pub async fn options_items(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let cid = path.into_inner();
    let model = state.model();
    if model.catalog.collection(&cid).is_none() {
        return Err(ApiError::NotFound(format!("no collection '{cid}'")));
    }
    Ok(super::allow_answer(&req, allow_for(&state, &cid, ALLOW_ITEMS)))
}

/// `OPTIONS /collections/{id}/items/{featureId}`.
pub async fn options_item(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    // The methods of the collection's items, whether or not this one is there: the same request is a CORS
    // preflight, and a browser that is refused one never sees the GET's 404 or 410.
    let (cid, _) = path.into_inner();
    let model = state.model();
    if model.catalog.collection(&cid).is_none() {
        return Err(ApiError::NotFound(format!("no collection '{cid}'")));
    }
    Ok(super::allow_answer(&req, allow_for(&state, &cid, ALLOW_ITEM)))
}

/// `GET /collections/{collectionId}/items/{id}/versions`: every version, oldest first: who, when, what.
pub async fn get_versions(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (cid, id) = path.into_inner();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    if let Some(f) = params.get("f").filter(|f| *f != "json") {
        return Err(ApiError::param(
            "f",
            format!("'{f}': a feature's versions are answered as JSON only (f=json)"),
        ));
    }
    if state.engine.store().is_none() || !STORED.contains(&cid.as_str()) || cid == "layers" {
        return Err(ApiError::NotFound(format!("collection '{cid}' keeps no versions")));
    }
    let base = base_url(&req, &state.settings);
    let key = feature_key(&cid, &id)?;
    let versions = super::store_read(&state, move |s| s.versions(&key)).await?.unwrap_or_default();
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no feature '{id}' in collection '{cid}'")));
    }
    let item = item_url(&base, &cid, &id);
    let list: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "version": v.version,
                "operation": v.operation,
                "at": v.at,
                "actor": v.actor,
                "revision": v.revision,
                "links": [link(format!("{item}?datetime={}", v.at), "version", "application/geo+json", "This version")],
            })
        })
        .collect();
    let doc = json!({
        "id": id,
        "timeAxis": "transaction-time",
        "versions": list,
        "links": [
            link(format!("{item}/versions"), "self", JSON, "The versions of this feature"),
            link(&item, "latest-version", "application/geo+json", "The current version"),
        ],
    });
    Ok(super::respond_json(&req, JSON, &doc))
}

/// The largest layer file `PUT /collections/{id}` takes.
pub const MAX_LAYER_BYTES: usize = 64 << 20;

/// The file extension a layer upload's media type stands for.
fn layer_extension(req: &HttpRequest) -> ApiResult<&'static str> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    Ok(match media.as_str() {
        "application/geo+json" | "application/json" => "geojson",
        "application/geopackage+sqlite3" => "gpkg",
        "application/flatgeobuf" => "fgb",
        "application/zip" | "application/x-zip-compressed" => "shp.zip",
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "a layer is application/geo+json, application/geopackage+sqlite3, application/flatgeobuf or \
                 application/zip (a zipped Shapefile), not '{other}'"
            )));
        }
    })
}

fn province_only(caller: &Caller) -> ApiResult<()> {
    if caller.scope == Scope::Province {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the token of {} (scope {}) may not add or remove collections; that needs a province token",
            caller.name, caller.scope
        )))
    }
}

/// What `If-Match` / `If-None-Match: *` on a layer's PUT or DELETE expect of its stored version (checked under
/// the write lock by the engine). The
/// layer's ETag (`GET /collections/{id}`) is `"v{version}-…"`. Without either header a replace needs one
/// under `--require-if-match` (428).
fn layer_expected(req: &HttpRequest, state: &State, id: &str) -> ApiResult<LayerExpect> {
    let now = state.model().version_of(&store_key("layers", id));
    let header_text = |h| req.headers().get(h).and_then(|v: &header::HeaderValue| v.to_str().ok());
    if header_text(header::IF_NONE_MATCH).is_some_and(|v| v.trim() == "*") {
        return Ok(LayerExpect::Absent);
    }
    let Some(raw) = header_text(header::IF_MATCH) else {
        if state.settings.require_if_match {
            if now.is_some() {
                return Err(ApiError::PreconditionRequired(format!(
                    "replacing or removing layer '{id}' needs If-Match (--require-if-match): GET \
                     /collections/{id} and send its ETag"
                )));
            }
            // Not here as this instance last saw it: the write may only create (checked under the lock, so a
            // layer another instance just made is not replaced unseen).
            return Ok(LayerExpect::Absent);
        }
        return Ok(LayerExpect::Any);
    };
    let fail = || {
        ApiError::PreconditionFailed(format!(
            "If-Match {raw} does not match layer '{id}'{}; GET /collections/{id} again",
            now.map_or_else(|| " (it does not exist)".to_owned(), |v| format!(" (now v{v})"))
        ))
    };
    for tag in raw.split(',').map(str::trim) {
        if tag == "*" {
            return if now.is_some() { Ok(LayerExpect::Exists) } else { Err(fail()) };
        }
        // As for items: the version decides, and a compressed answer's weak form of the tag names the same.
        let version = tag
            .trim_start_matches("W/")
            .strip_prefix("\"v")
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.split('-').next())
            .and_then(|v| v.parse::<i64>().ok());
        if let Some(v) = version.filter(|v| Some(*v) == now) {
            return Ok(LayerExpect::At(v));
        }
    }
    Err(fail())
}

/// `PUT /collections/{id}`: a planner's layer (the file as the body; `?layer=` picks a GeoPackage table) kept
/// in the store as collection `{id}`, replacing an earlier upload of it. Needs a `province` token.
pub async fn put_collection(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let params = QueryParams::from_request(&req)?;
    params.only(&["layer"])?;
    let caller = authenticate(&req, &state).await?;
    province_only(&caller)?;
    // The id and the layer name are checked before anything touches the disk: neither may name a path.
    crate::store::layers::check_id(&id).map_err(|e| {
        if state.model().catalog.collection(&id).is_some() {
            ApiError::Conflict(e)
        } else {
            ApiError::param("collectionId", e)
        }
    })?;
    let layer = params.get("layer").map(str::to_owned);
    if let Some(l) =
        layer.as_deref().filter(|l| l.is_empty() || l.contains(['/', '\\', ':']) || l.len() > 128)
    {
        return Err(ApiError::param("layer", format!("'{l}' is not a table name")));
    }
    let expected = layer_expected(&req, &state, &id)?;
    let ext = layer_extension(&req)?;
    let dir = tempfile::tempdir().map_err(|e| ApiError::Internal(format!("temporary directory: {e}")))?;
    // Named for the collection: a GeoJSON layer's title is its file's name when it gives none ("upload").
    let file = dir.path().join(format!("{id}.{ext}"));
    let mut body = Vec::new();
    // A layer file may be large (up to MAX_LAYER_BYTES): ten times the request time limit to send it.
    let deadline = super::body_deadline(&req, 10);
    while let Some(chunk) = super::next_chunk(&mut payload, deadline).await? {
        if body.len() + chunk.len() > MAX_LAYER_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "a layer file is at most {MAX_LAYER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    std::fs::write(&file, &body).map_err(|e| ApiError::Internal(format!("temporary file: {e}")))?;
    let spec = crate::store::layers::LayerSpec { id: Some(id.clone()), path: file.clone(), layer };
    let engine = state.engine.clone();
    let actor = caller.name.clone();
    // Messages name the upload, not where the server put it.
    let shown = file.display().to_string();
    let result = web::block(move || {
        let clean = |m: String| {
            m.replace(&shown, "the uploaded file").replace(": add :LAYER", ": name one with ?layer=")
        };
        let mut files =
            crate::store::layers::read(&spec).map_err(|e| WriteError::Invalid(clean(e.to_string())))?;
        let Some(file) = files.pop().filter(|_| files.is_empty()) else {
            return Err(WriteError::Invalid("the file has several layers; name one with ?layer=".into()));
        };
        let n = file.features.len();
        let written = engine.put_layer(&actor, &file, expected)?;
        drop(dir);
        Ok::<_, WriteError>((written.revision, n))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the write did not run: {e}")))?;
    let base = base_url(&req, &state.settings);
    let (revision, n) = result.map_err(|e| match e {
        WriteError::Invalid(m) => ApiError::Unprocessable(m),
        WriteError::Conflict(m) => ApiError::Conflict(m),
        other => api_error(other, &base, &id, ""),
    })?;
    let href = format!("{base}/collections/{id}");
    Ok(HttpResponse::Ok()
        .insert_header((header::LOCATION, href.clone()))
        .content_type(JSON)
        .json(json!({"id": id, "features": n, "revision": revision, "links": [link(&href, "self", JSON, "The collection")]})))
}

/// `DELETE /collections/{id}`: removes an uploaded layer. Needs a `province` token.
pub async fn delete_collection(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    QueryParams::from_request(&req)?.only(&[])?;
    let caller = authenticate(&req, &state).await?;
    province_only(&caller)?;
    let expected = layer_expected(&req, &state, &id)?;
    let engine = state.engine.clone();
    let target = id.clone();
    let result = web::block(move || engine.delete_layer(&caller.name, &target, expected))
        .await
        .map_err(|e| ApiError::Internal(format!("the write did not run: {e}")))?;
    result.map_err(|e| match e {
        // A collection the service itself serves (projects, counties) is there but cannot go: a conflict with
        // its state, as PUT over it is, not a missing resource.
        WriteError::NotFound(_) if state.model().catalog.collection(&id).is_some() => {
            ApiError::Conflict(format!(
                "'{id}' is one of the service's own collections, not an uploaded layer: it cannot be deleted"
            ))
        }
        WriteError::NotFound(_) => ApiError::NotFound(format!("no uploaded layer '{id}'")),
        WriteError::Conflict(m) => ApiError::Conflict(m),
        other => api_error(other, "", &id, ""),
    })?;
    Ok(HttpResponse::NoContent().finish())
}
