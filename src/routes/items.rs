//! `/collections/{id}/items`, `/search` and `/items/{featureId}` (with `datetime` for versioned projects).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::features::{PageOut, feature_etag, feature_out, find, output_crs, urlencode, with_content_crs};
use super::html::{Cell, Page as HtmlPage, Span};
use super::selection::{check_datetime, parse_selection};
use super::{
    Caching, Format, GEO_JSON, HTML, JSON, QueryParams, Representation, State, base_url, link, negotiate,
    respond,
};
use crate::domain::Page;
use crate::error::{ApiError, ApiResult};
use crate::geom::crs::Crs;
use crate::store::Feature;
use crate::store::admin::BOUNDARY_ATTRIBUTION;
use crate::store::engine::{ReadModel, STORED, store_key};

/// The instant a `projects` items request asks for with `datetime`, normalised to the store's form, when the
/// server keeps versions. Intervals (and other collections, which never change) select the current state.
/// A date (`2024-06-30`) means the end of that day (UTC): every report of the quarter it falls in counts.
fn as_of_instant(state: &State, id: &str, params: &QueryParams) -> ApiResult<Option<String>> {
    let Some(raw) = params.get("datetime") else { return Ok(None) };
    if id != "projects" || state.engine.store().is_none() {
        return Ok(None);
    }
    instant_of(raw).map(|t| store_instant(raw, t)).transpose()
}

/// An instant in the store's form (`2024-06-30T15:59:59.999Z`). RFC 3339 writes years 0000–9999 only: an
/// instant outside them cannot be asked of the store.
fn store_instant(raw: &str, t: chrono::DateTime<chrono::Utc>) -> ApiResult<String> {
    if !(0..=9999).contains(&chrono::Datelike::year(&t)) {
        return Err(ApiError::param(
            "datetime",
            format!("'{raw}' is outside the years 0000–9999 an RFC 3339 instant can name"),
        ));
    }
    Ok(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The instant a `datetime` value asks the catalogue at, if it names one.
fn instant_of(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    // An interval asks for the catalogue as it stood at its end; one open at the end asks for today's.
    let raw = match raw.split_once('/') {
        Some((_, end)) if end.is_empty() || end == ".." => return None,
        Some((_, end)) => end,
        None => raw,
    };
    let t = match chrono::DateTime::parse_from_rfc3339(raw) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        // A date (RFC 3339's full-date, 2024-06-30) is the whole of that day in Liaoning.
        Err(_) => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|_| crate::export::columns::is_day(raw))?
            .and_hms_milli_opt(23, 59, 59, 999)?
            .and_local_timezone(crate::store::progress::china())
            .single()?
            .with_timezone(&chrono::Utc),
    };
    Some(t)
}

/// `GET /collections/{collectionId}/items`.
pub async fn get_items(req: HttpRequest, state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let mut params = QueryParams::from_request(&req)?;
    // The HTML page's filter form sends every field; an empty one means "any".
    if params.get("f") == Some("html") {
        params = QueryParams::from_pairs(
            params
                .pairs()
                .iter()
                .filter(|(k, v)| !(v.is_empty() && FORM_FIELDS.contains(&k.as_str())))
                .cloned()
                .collect(),
        );
    }
    items_response(&req, &state, &path, &params, false).await
}

/// A search body's `filter` member as its text.
#[derive(serde::Deserialize)]
struct WrittenFilter<'a> {
    #[serde(borrow)]
    filter: Option<&'a serde_json::value::RawValue>,
}

/// `POST /collections/{collectionId}/search`: the items request with its parameters in a JSON body, so a
/// long cql2-json filter need not fit in a URL. `{"filter": {...cql2-json...}, "limit": 50, "sortby": "-name_zh"}`;
/// every items parameter is accepted as a member (arrays are joined with commas). Paging links are GET items
/// URLs carrying the same parameters.
pub async fn post_search(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    QueryParams::from_request(&req)?.only(&["f"])?;
    let bytes = super::read_body(&req, payload, state.settings.max_body_bytes, super::JSON_MEDIA).await?;
    let body = super::parse_json_body(&bytes)?;
    // The filter as it was written: parsed into a value, its numbers became doubles, and 9007199254740993.0
    // reached the filter's checks as 9007199254740994.
    let written_filter = serde_json::from_slice::<WrittenFilter<'_>>(&bytes)
        .ok()
        .and_then(|w| w.filter)
        .map(|f| f.get().to_owned());
    let Value::Object(members) = body else {
        return Err(ApiError::param(
            "body",
            "must be a JSON object of items parameters, e.g. {\"filter\": {...}}",
        ));
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(f) = QueryParams::from_request(&req)?.get("f") {
        pairs.push(("f".into(), f.to_owned()));
    }
    for (k, v) in members {
        let text = match (&*k, v) {
            ("filter", Value::Object(o)) => {
                if !pairs.iter().any(|(n, _)| n == "filter-lang") {
                    pairs.push(("filter-lang".into(), "cql2-json".into()));
                }
                written_filter.clone().unwrap_or_else(|| Value::Object(o).to_string())
            }
            (_, Value::String(s)) => s,
            (_, Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            (_, Value::Null) => continue,
            (_, other) => other.to_string(),
        };
        pairs.retain(|(n, _)| *n != k);
        pairs.push((k, text));
    }
    let params = QueryParams::from_pairs(pairs);
    items_response(&req, &state, &path, &params, true).await
}

/// The JSON body of a search with these parameters: a cql2-json filter as its object, `limit` and `offset` as
/// numbers, the rest as text (as `POST /search` reads them back).
fn search_body(pairs: Vec<(String, String)>) -> Value {
    let json_filter = pairs.iter().any(|(n, v)| n == "filter-lang" && v == "cql2-json");
    let members = pairs.into_iter().map(|(n, v)| {
        let value = match serde_json::from_str::<Value>(&v) {
            Ok(o @ Value::Object(_)) if n == "filter" && json_filter => o,
            Ok(Value::Number(k)) if (n == "limit" || n == "offset") && k.is_u64() => Value::Number(k),
            _ => Value::String(v),
        };
        (n, value)
    });
    Value::Object(members.collect())
}

/// The items answer for already parsed parameters (from the query string or a search body).
async fn items_response(
    req: &HttpRequest,
    state: &State,
    id: &str,
    params: &QueryParams,
    posted: bool,
) -> ApiResult<HttpResponse> {
    let (req, params) = (req.clone(), params.clone());
    let model = match as_of_instant(state, id, &params)? {
        // The catalogue as it stood then (transaction time), rebuilt from the store's versions.
        Some(at) => {
            let engine = state.engine.clone();
            let key = at.clone();
            let catalog = web::block(move || engine.as_of(&key))
                .await
                .map_err(|e| ApiError::Internal(format!("rebuilding the catalogue as of {at}: {e}")))?
                .map_err(|e| match e {
                    // History comes from the store: while it cannot be reached, a 503 (as for versions).
                    crate::store::engine::WriteError::Store(
                        s @ crate::store::db::StoreError::Unavailable { .. },
                    ) => ApiError::from(s),
                    e => ApiError::NotFound(format!(
                        "no catalogue at {at} (before the store was seeded?): {e}"
                    )),
                })?;
            std::sync::Arc::new(ReadModel::of(std::sync::Arc::new(catalog)))
        }
        None => state.model(),
    };
    let c = find(&model, id)?;
    let state = state.clone();
    let page = Page::parse(params.get("limit"), params.get("offset"), state.settings.limits)?;
    let out_crs = output_crs(&params, c)?;
    let representation = super::negotiate_with(&req, &params, true)?;
    let bom = super::selection::bom_param(&params)?;
    let id = c.id().to_owned();
    // Parsing the filter is work that grows with the input too: it runs on the compute pool with the rest. A
    // page of a small collection with no filter is tried on this worker first (its loops check the budget, and
    // sorting a few thousand features is quick).
    let here_first = c.features().len() <= HERE_FIRST_MAX_FEATURES && params.get("filter").is_none();
    let job_params = params.clone();
    let job = move |m: &ReadModel| {
        let c =
            m.catalog.collection(&id).ok_or_else(|| ApiError::NotFound(format!("no collection '{id}'")))?;
        let selection = parse_selection(&m.catalog, c, &job_params, &[])?;
        let mut selected = {
            let area = selection.area.as_ref().map(|a| m.catalog.area_test(c, a));
            c.features_matching(&selection.query, |f| area.as_ref().is_none_or(|a| a(f)))
        };
        c.sort(&mut selected, &selection.sort);
        // Ids leave the job: the answer is shaped from the same model's features by id.
        let ids: Vec<String> = selected.into_iter().map(|f| f.id.clone()).collect();
        Ok((selection, ids))
    };
    let (selection, selected) = if here_first {
        super::compute_here_first(&state, &model, job).await?
    } else {
        super::compute(&state, &model, job).await?
    };
    let format = match representation {
        Representation::Page(f) => f,
        Representation::File(export) => {
            // A file holds every matching feature unless the request pages explicitly (up to the export cap).
            let cap = state.settings.max_export_features;
            let features: Vec<String> = if params.get("limit").is_some() || params.get("offset").is_some() {
                let limit = params.get("limit").map_or(cap, |_| page.limit);
                selected.into_iter().skip(page.offset).take(limit).collect()
            } else {
                selected
            };
            if features.len() > cap {
                return Err(ApiError::PayloadTooLarge(format!(
                    "{} features match; an export holds at most {cap} (--max-export-features): narrow the \
                     filters or page with limit/offset",
                    features.len()
                )));
            }
            let options =
                crate::export::ExportOptions { crs: out_crs, bom, properties: selection.properties.clone() };
            let filename = format!("{}.{}", c.id(), export.extension());
            return super::exports::stream(
                &req,
                &state,
                &model,
                crate::export::What::Collection { id: c.id().to_owned(), features },
                export,
                options,
                &filename,
            );
        }
    };
    let matched = selected.len();
    let on_page: Vec<&Feature> =
        selected.iter().skip(page.offset).take(page.limit).filter_map(|id| c.get(id)).collect();
    let base = base_url(&req, &state.settings);
    let items_href = format!("{base}/collections/{}/items", c.id());
    let here = |overrides: &[(&str, Option<String>)]| {
        let q = params.with(overrides);
        if q.is_empty() { items_href.clone() } else { format!("{items_href}?{q}") }
    };
    // A page of a posted search whose parameters are too long for a query string (a GET would be a 414):
    // its paging links say to POST the search again, with the body to send (as STAC API's search links do).
    let page_link = |overrides: &[(&str, Option<String>)], rel: &str, media_type: &str, title: &str| {
        let href = here(overrides);
        if !posted || href.len() - items_href.len() <= state.settings.max_query_bytes {
            return link(href, rel, media_type, title);
        }
        let mut l = link(format!("{base}/collections/{}/search", c.id()), rel, media_type, title);
        l["method"] = "POST".into();
        l["body"] = search_body(params.with_pairs(overrides));
        l
    };
    let (self_type, alt_type, alt_f) = match format {
        Format::Json => (GEO_JSON, "text/html", "html"),
        Format::Html => ("text/html", GEO_JSON, "json"),
    };
    let mut links = vec![
        page_link(&[], "self", self_type, "This page"),
        page_link(&[("f", Some(alt_f.to_owned()))], "alternate", alt_type, "This page in another format"),
    ];
    if page.offset + on_page.len() < matched {
        links.push(page_link(
            &[
                ("offset", Some((page.offset + page.limit).to_string())),
                ("limit", Some(page.limit.to_string())),
            ],
            "next",
            self_type,
            "Next page",
        ));
    }
    if page.offset > 0 {
        let prev = page.prev_offset(matched);
        links.push(page_link(
            &[("offset", Some(prev.to_string())), ("limit", Some(page.limit.to_string()))],
            "prev",
            self_type,
            "Previous page",
        ));
    }
    links.push(link(format!("{base}/collections/{}", c.id()), "collection", JSON, c.meta.title));
    links.push(link(
        format!("{base}/collections/{}/queryables", c.id()),
        "http://www.opengis.net/def/rel/ogc/1.0/queryables",
        "application/schema+json",
        "The properties that can be filtered on",
    ));
    let header_links = links.clone();
    let answer = |resp: HttpResponse| super::with_link_header(resp, &header_links, super::HEADER_RELS);

    match format {
        Format::Json => {
            let only = selection.properties.as_deref();
            let features = if out_crs == Crs::Crs84 {
                // The geometries' CRS84 text is made once per feature and kept: the page is written here.
                on_page
                    .iter()
                    .map(|f| feature_out(c, f, &base, out_crs, only, None))
                    .collect::<ApiResult<Vec<_>>>()?
            } else {
                // Reprojecting every vertex of a page (a thousand counties) and writing the coordinates out is CPU
                // work: the compute pool does it, under the request's deadline, not the HTTP worker that also
                // answers /health. The worker splices the finished geometry text into the page.
                let ids: Vec<String> = on_page.iter().map(|f| f.id.clone()).collect();
                let cid = c.id().to_owned();
                let projected = super::compute(&state, &model, move |m| {
                    let c = m
                        .catalog
                        .collection(&cid)
                        .ok_or_else(|| ApiError::NotFound(format!("no collection '{cid}'")))?;
                    ids.iter()
                        .take_while(|_| !crate::compute::spent())
                        .map(|id| {
                            c.get(id)
                                .and_then(|f| f.geometry.as_ref())
                                .map(|g| {
                                    let v = crate::geom::geojson_in(g, out_crs).map_err(|e| e.to_string())?;
                                    serde_json::value::to_raw_value(&v).map_err(|e| e.to_string())
                                })
                                .transpose()
                                .map_err(|e| ApiError::Internal(format!("feature {id}: {e}")))
                        })
                        .collect::<ApiResult<Vec<Option<Box<serde_json::value::RawValue>>>>>()
                })
                .await?;
                on_page
                    .iter()
                    .zip(projected)
                    .map(|(f, g)| super::features::feature_out_in(c, f, &base, out_crs, only, g))
                    .collect()
            };
            let doc = PageOut {
                kind: "FeatureCollection",
                query: None,
                number_matched: matched,
                features,
                links: &links,
            };
            let resp = super::respond_written_stamped(&req, GEO_JSON, doc.size_hint(), |out| doc.write(out));
            Ok(answer(with_content_crs(resp, out_crs)))
        }
        Format::Html => {
            let view = ItemsView { catalog: &model.catalog, c, base: &base, items_href: &items_href };
            let html_page = view.page(&on_page, matched, page.offset, &links, &params);
            Ok(answer(respond(&req, HTML, html_page.render()?, Caching::Data)))
        }
    }
}

/// Collections up to this size get their pages tried on the HTTP worker first (see
/// [`super::compute_here_first`]).
const HERE_FIRST_MAX_FEATURES: usize = 20_000;

/// `GET /collections/{collectionId}/items/{featureId}`.
pub async fn get_item(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f", "crs", "datetime"])?;
    let (cid, fid) = path.into_inner();
    let c = find(&model, &cid)?;
    let out_crs = output_crs(&params, c)?;
    let base = base_url(&req, &state.settings);
    let stored = state.engine.store().is_some() && STORED.contains(&cid.as_str());
    // `layers%2Fparks` under projects is an uploaded layer's key: its history is not this collection's to show.
    let key = match crate::store::engine::feature_key(&cid, &fid) {
        Some(key) => key,
        None if stored => {
            return Err(ApiError::NotFound(format!("no feature '{fid}' in collection '{cid}'")));
        }
        None => store_key(&cid, &fid),
    };
    if let Some(raw) = params.get("datetime") {
        if !stored {
            check_datetime(raw)?;
            return Err(ApiError::param(
                "datetime",
                format!("collection '{cid}' keeps no versions; its features do not change"),
            ));
        }
        return version_at(&req, &state, &base, (&cid, &fid), raw).await;
    }
    let Some(f) = c.get(&fid) else {
        // A deleted project answers 410 with a link to its last version. This is a read: when the store cannot
        // say (it is down), the read model's answer stands, 404.
        let versions = if stored {
            match super::store_read(&state, move |s| s.versions(&key)).await {
                Ok(v) => v.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(feature = %fid, error = %e, "whether a missing feature was deleted is unknown");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        if let Some(last) = versions.iter().rev().find(|v| v.record.is_some())
            && versions.last().is_some_and(|v| v.record.is_none())
        {
            let deleted = versions.last().map(|v| v.at.clone()).unwrap_or_default();
            return Err(ApiError::Gone {
                detail: format!("feature '{fid}' was deleted at {deleted}; its last version is linked"),
                latest: format!("{base}/collections/{cid}/items/{fid}?datetime={}", last.at),
            });
        }
        return Err(ApiError::NotFound(format!("no feature '{fid}' in collection '{cid}'")));
    };
    match negotiate(&req, &params)? {
        Format::Json => {
            let body = feature_out(c, f, &base, out_crs, None, None)?.to_json();
            let etag = feature_etag(model.version_of(&key), &body);
            Ok(with_content_crs(super::respond_tagged(&req, GEO_JSON, body, &etag, Caching::Data), out_crs))
        }
        Format::Html => {
            let items_href = format!("{base}/collections/{}/items", c.id());
            let view = ItemsView { catalog: &model.catalog, c, base: &base, items_href: &items_href };
            let page = view.item_page(f);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// The fields of the items page's filter form.
const FORM_FIELDS: &[&str] = &["category", "region", "city", "county", "q"];

/// The key columns of an items page, when the collection has them: (property, heading).
const KEY_COLUMNS: &[(&str, &str)] = &[
    ("name_zh", "名称"),
    ("name_en", "Name"),
    ("category", "类别 category"),
    ("city_names", "城市 city"),
    ("county_names", "区县 county"),
    ("location_precision", "位置精度 precision"),
    ("stage", "进度 stage"),
    ("project_count", "项目数 projects"),
    ("subject_zh", "对象 subject"),
    ("indicator_zh", "指标 indicator"),
    ("comparator", "比较 comparator"),
    ("value", "目标值 value"),
    ("unit", "单位 unit"),
    ("status", "状态 status"),
    ("section", "章节 section"),
    ("title", "标题 title"),
    ("lead_unit", "牵头单位 lead unit"),
];

/// The HTML pages of one collection's items: Chinese first, English beside.
struct ItemsView<'a> {
    catalog: &'a crate::store::Catalog,
    c: &'a crate::store::Collection,
    base: &'a str,
    items_href: &'a str,
}

impl ItemsView<'_> {
    fn title(&self) -> String {
        match crate::store::catalog::title_zh(self.c.id()) {
            Some(zh) => format!("{zh} · {}", self.c.meta.title),
            None => self.c.meta.title.to_owned(),
        }
    }

    fn crumbs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("planatlas", format!("{}/?f=html", self.base)),
            ("数据集 Collections", format!("{}/collections?f=html", self.base)),
            (self.c.meta.title, format!("{}/collections/{}?f=html", self.base, self.c.id())),
            ("要素 Items", format!("{}?f=html", self.items_href)),
        ]
    }

    fn has(&self, key: &str) -> bool {
        self.c.queryable(key).is_some()
            || self.c.features().first().is_some_and(|f| f.properties.contains_key(key))
    }

    /// A property as table text: a category with its Chinese name, arrays joined.
    fn text(key: &str, v: Option<&Value>) -> String {
        match v {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) if key == "category" => {
                format!("{} {s}", crate::domain::project::category_zh(s))
            }
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("、"),
            Some(other) => other.to_string(),
        }
    }

    /// The map's configuration: the category colours and names.
    fn map_config() -> Value {
        json!({
            "categories": crate::domain::palette::CATEGORY_COLOURS.iter().map(|(id, colour)| {
                json!({"id": id, "colour": colour, "name": crate::domain::project::category_zh(id)})
            }).collect::<Vec<_>>(),
        })
    }

    /// The filter form: the collection's own filters (category, region, city, county, text) that it has.
    fn form(&self, params: &QueryParams) -> Option<super::html::Block> {
        use super::html::{Block, Field};
        let value = |name: &str| params.get(name).unwrap_or_default().to_owned();
        let has_param = |name: &str| self.c.meta.params.iter().any(|p| p.name == name);
        let names = |features: &[Feature], key: &str| -> Vec<(String, String)> {
            features
                .iter()
                .map(|f| {
                    let v = f.str_prop(key).unwrap_or(&f.id).to_owned();
                    (v, f.str_prop("name_zh").unwrap_or(&f.id).to_owned())
                })
                .collect()
        };
        let mut fields = Vec::new();
        if self.c.queryable("category").is_some() {
            let options = crate::domain::project::CATEGORIES
                .iter()
                .map(|(id, _)| {
                    ((*id).to_owned(), format!("{} {id}", crate::domain::project::category_zh(id)))
                })
                .collect();
            fields.push(Field {
                name: "category".into(),
                label: "类别 category".into(),
                value: value("category"),
                options,
            });
        }
        if has_param("region") {
            let options = names(self.catalog.regions().features(), "id");
            fields.push(Field {
                name: "region".into(),
                label: "区域 region".into(),
                value: value("region"),
                options,
            });
        }
        if has_param("city") {
            let options = names(self.catalog.cities().features(), "adcode");
            fields.push(Field {
                name: "city".into(),
                label: "城市 city".into(),
                value: value("city"),
                options,
            });
        }
        if has_param("county") {
            let city_of = |code: Option<&str>| {
                self.catalog
                    .cities()
                    .get(code.unwrap_or_default())
                    .and_then(|c| c.str_prop("name_zh"))
                    .unwrap_or("")
            };
            let options = self
                .catalog
                .counties()
                .features()
                .iter()
                .map(|f| {
                    let code = f.str_prop("adcode").unwrap_or(&f.id).to_owned();
                    let label = format!(
                        "{} {}",
                        city_of(f.str_prop("parent_adcode")),
                        f.str_prop("name_zh").unwrap_or(&f.id)
                    );
                    (code, label)
                })
                .collect();
            fields.push(Field {
                name: "county".into(),
                label: "区县 county".into(),
                value: value("county"),
                options,
            });
        }
        if has_param("q") {
            fields.push(Field {
                name: "q".into(),
                label: "名称包含 name contains".into(),
                value: value("q"),
                options: vec![],
            });
        }
        if fields.is_empty() {
            return None;
        }
        let mut hidden = vec![("f".to_owned(), "html".to_owned())];
        if let Some(limit) = params.get("limit") {
            hidden.push(("limit".into(), limit.to_owned()));
        }
        Some(Block::Form { action: self.items_href.to_owned(), fields, hidden })
    }

    /// The items page: how many matched, the filter form, a map of the page's features, the key columns and
    /// the paging links.
    fn page(
        &self,
        on_page: &[&Feature],
        matched: usize,
        offset: usize,
        links: &[Value],
        params: &QueryParams,
    ) -> HtmlPage {
        // The plan's collections show their key columns; a planner's layer, its own first fields.
        let columns: Vec<(&str, &str)> = if self.c.queryable("name_zh").is_some() {
            KEY_COLUMNS.iter().copied().filter(|(k, _)| self.has(k)).take(7).collect()
        } else {
            self.c
                .meta
                .queryables
                .iter()
                .filter(|q| {
                    !matches!(
                        q.kind,
                        crate::store::PropertyType::Geometry | crate::store::PropertyType::StringArray
                    )
                })
                .map(|q| (q.name, q.name))
                .take(5)
                .collect()
        };
        let rows = on_page
            .iter()
            .map(|f| {
                let mut row: Vec<Cell> = vec![
                    Span::link(f.id.clone(), format!("{}/{}?f=html", self.items_href, urlencode(&f.id)))
                        .into(),
                ];
                row.extend(columns.iter().map(|(k, _)| Cell::text(Self::text(k, f.properties.get(k)))));
                row
            })
            .collect();
        let mut paging = Vec::new();
        // A link to be followed with a POST body cannot be an HTML link: the page shows only the others.
        for l in links.iter().filter(|l| l.get("method").is_none()) {
            let label = match l["rel"].as_str().unwrap_or("") {
                "next" => "下一页 next page",
                "prev" => "上一页 previous page",
                "alternate" => "GeoJSON",
                _ => continue,
            };
            paging.push(Span::link(label, l["href"].as_str().unwrap_or("")));
            paging.push(Span::text(" · "));
        }
        paging.pop();
        let title = self.title();
        let crumbs = self.crumbs();
        let headings: Vec<&str> = std::iter::once("id").chain(columns.iter().map(|(_, h)| *h)).collect();
        let shown = if on_page.is_empty() {
            "0".to_owned()
        } else {
            format!("{}–{}", offset + 1, offset + on_page.len())
        };
        let mut html = HtmlPage::new(title, &crumbs, BOUNDARY_ATTRIBUTION)
            .depth(3)
            .text(format!("共 {matched} 条，显示第 {shown} 条 · {matched} matched, showing {shown}."));
        if let Some(form) = self.form(params) {
            html = html.block(form);
        }
        if self.c.is_spatial() {
            let mut config = Self::map_config();
            // The page's features as GeoJSON: its alternate link, which for a posted search may be a POST with
            // the body to send (the page's own address with f=json would be a GET of the search, 405).
            if let Some(data) = links.iter().find(|l| l["rel"] == "alternate" && l["type"] == GEO_JSON) {
                config["data"] = data.clone();
            }
            html = html.map(config);
        }
        html.table(&headings, rows).paragraph(paging)
    }

    /// One feature's page: its map, every property, and links to what it is part of or names.
    fn item_page(&self, f: &Feature) -> HtmlPage {
        let name = f.str_prop("name_zh").unwrap_or(&f.id).to_owned();
        let mut rows = vec![("id".to_owned(), Cell::text(f.id.clone()))];
        if let Some(g) = &f.geometry {
            rows.push(("geometry".to_owned(), Cell::text(crate::store::admin::geometry_type(g))));
        }
        rows.extend(f.properties.iter().map(|(k, v)| {
            let cell = if k == "category" {
                Cell::text(Self::text(k, Some(&v)))
            } else {
                Cell::value(v.into_owned())
            };
            (k.to_owned(), cell)
        }));
        let mut crumbs: Vec<(&str, String)> = self.crumbs();
        crumbs.push((name.as_str(), format!("{}/{}?f=html", self.items_href, urlencode(&f.id))));
        let base = self.base;
        let mut related = Vec::new();
        for s in f.str_list("sections") {
            related.push(vec![
                Span::text("章节 section "),
                Span::link(s, format!("{base}/collections/sections/items/{}?f=html", urlencode(s))),
            ]);
        }
        for t in f.str_list("targets") {
            related.push(vec![
                Span::text("目标 target "),
                Span::link(t, format!("{base}/collections/targets/items/{}?f=html", urlencode(t))),
            ]);
        }
        let list = |label: &str, href: String| vec![Span::link(label, href)];
        match self.c.id() {
            "projects" | "projects-points" | "projects-lines" => {
                related.push(list(
                    "该项目的目标 targets of this project",
                    format!("{base}/collections/targets/items?f=html&subject_id={}", urlencode(&f.id)),
                ));
                related.push(list(
                    "进度报告 progress reports",
                    format!("{base}/collections/progress/items?f=html&project={}", urlencode(&f.id)),
                ));
            }
            "regions" => related.push(list(
                "区域内的项目 projects in this region",
                format!("{base}/collections/projects/items?f=html&region={}", urlencode(&f.id)),
            )),
            "cities" => related.push(list(
                "本市的项目 projects in this city",
                format!("{base}/collections/projects/items?f=html&city={}", urlencode(&f.id)),
            )),
            "counties" => related.push(list(
                "本区县的项目 projects in this county",
                format!("{base}/collections/projects/items?f=html&county={}", urlencode(&f.id)),
            )),
            "sections" => {
                for p in f.str_list("project_ids") {
                    related.push(vec![
                        Span::text("项目 project "),
                        Span::link(p, format!("{base}/collections/projects/items/{}?f=html", urlencode(p))),
                    ]);
                }
            }
            _ => {}
        }
        related.push(list("GeoJSON", "?f=json".to_owned()));
        let mut page = HtmlPage::new(name.as_str(), &crumbs, BOUNDARY_ATTRIBUTION).depth(4);
        if f.geometry.is_some() {
            page = page.map(Self::map_config());
        }
        page.key_values(rows).heading("相关 Related").block(super::html::Block::List { items: related })
    }
}

/// A stored feature as it was at `raw` (an RFC 3339 instant, or a day: its end in Liaoning): the version valid then (transaction time), with
/// `Memento-Datetime`; a project as the items list at that instant shows it (its joins with the current
/// boundaries, its progress state that day), other records as written.
async fn version_at(
    req: &HttpRequest,
    state: &State,
    base: &str,
    (cid, fid): (&str, &str),
    raw: &str,
) -> ApiResult<HttpResponse> {
    // One instant or a day (its end in Liaoning, as the projects list reads it); a feature has one version then.
    let at = Some(raw).filter(|r| !r.contains('/')).and_then(instant_of).ok_or_else(|| {
        ApiError::param(
            "datetime",
            format!(
                "'{raw}' is not an RFC 3339 instant or a day (e.g. 2026-12-01T08:00:00Z or 2024-06-30): a \
                 feature is asked as it was at one instant"
            ),
        )
    })?;
    let key = store_instant(raw, at)?;
    let feature_key = store_key(cid, fid);
    let versions = super::store_read(state, move |s| s.versions(&feature_key)).await?.unwrap_or_default();
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no feature '{fid}' in collection '{cid}'")));
    }
    // Before the store began, the seeded catalogue stands (as the items list at that instant answers).
    let start = super::store_read(state, |s| s.versions_from_start()).await?.flatten();
    let seeded = versions.first().filter(|v| start.as_deref() == Some(v.at.as_str()) && key < v.at);
    let Some(v) = versions.iter().rev().find(|v| v.at <= key).or(seeded) else {
        return Err(ApiError::NotFound(format!(
            "feature '{fid}' did not exist yet at {key} (first stored {})",
            versions[0].at
        )));
    };
    let Some(record) = &v.record else {
        return Err(ApiError::NotFound(format!("feature '{fid}' had been deleted by {key} (at {})", v.at)));
    };
    // A project as it stood then, as the items list at that instant shows it: that version with its joins and
    // its progress state on that day (stage, progress_period, investment_share). Should the catalogue of then
    // not build, the version as written still answers.
    let then = if cid == "projects" {
        let engine = state.engine.clone();
        let at = key.clone();
        match web::block(move || engine.as_of(&at)).await {
            Ok(Ok(catalog)) => match catalog.projects().get(fid) {
                Some(f) => Some(feature_out(catalog.projects(), f, base, Crs::Crs84, None, None)?.to_json()),
                None => None,
            },
            Ok(Err(e)) => {
                tracing::warn!(feature = %fid, at = %key, error = %e, "the catalogue of then did not build");
                None
            }
            Err(e) => return Err(ApiError::Internal(format!("rebuilding the catalogue as of {key}: {e}"))),
        }
    } else {
        None
    };
    let mut doc: Value = serde_json::from_str(then.as_deref().unwrap_or(record))
        .map_err(|e| ApiError::Internal(format!("stored {fid}: {e}")))?;
    doc["id"] = json!(fid);
    doc["links"] = json!([
        link(
            format!("{base}/collections/{cid}/items/{fid}?datetime={}", v.at),
            "self",
            GEO_JSON,
            "This version"
        ),
        link(
            format!("{base}/collections/{cid}/items/{fid}"),
            "latest-version",
            GEO_JSON,
            "The current version"
        ),
        link(
            format!("{base}/collections/{cid}/items/{fid}/versions"),
            "version-history",
            JSON,
            "Every version"
        ),
    ]);
    let memento = chrono::DateTime::parse_from_rfc3339(&v.at)
        .map(|t| t.with_timezone(&chrono::Utc).format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();
    let body = super::to_json_text(&doc);
    let etag = format!("\"v{}-{:016x}\"", v.version, xxhash_rust::xxh3::xxh3_64(body.as_bytes()));
    let mut resp = super::respond_tagged(req, GEO_JSON, body, &etag, Caching::Data);
    if let Ok(h) = actix_web::http::header::HeaderValue::from_str(&memento) {
        resp.headers_mut().insert(actix_web::http::header::HeaderName::from_static("memento-datetime"), h);
    }
    Ok(resp)
}
