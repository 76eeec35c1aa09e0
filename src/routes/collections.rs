//! `/collections`, `/collections/{id}` and `/queryables`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::features::{CRS84, find};
use super::html::{Cell, Page as HtmlPage, Span, Style};
use super::{
    Caching, Format, GEO_JSON, HTML, JSON, QueryParams, State, base_url, link, negotiate, respond,
    respond_json,
};
use crate::error::ApiResult;
use crate::geom::crs::Crs;
use crate::store::Collection;
use crate::store::admin::BOUNDARY_ATTRIBUTION;
use crate::store::engine::ReadModel;

/// A collection's metadata document; `revision` (number, time) for the editable, versioned one.
fn collection_json(c: &Collection, base: &str, revision: Option<(i64, Option<&str>)>, tiled: bool) -> Value {
    let href = format!("{base}/collections/{}", c.id());
    let mut doc = json!({
        "id": c.id(),
        "title": c.meta.title,
        "description": c.meta.description,
        "itemType": c.meta.item_type,
        "links": [
            link(&href, "self", JSON, "This collection"),
            link(format!("{href}?f=html"), "alternate", "text/html", "This collection as HTML"),
            link(format!("{href}/items"), "items", GEO_JSON, "The items as GeoJSON"),
            link(format!("{href}/items?f=html"), "items", "text/html", "The items as HTML"),
            link(format!("{href}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "Properties that can be filtered on"),
            link(format!("{href}/schema"), "http://www.opengis.net/def/rel/ogc/1.0/schema", "application/schema+json", "The features' schema, with the geometry type"),
            // Spelt as GDAL's OAPIF driver looks for it (link relations are case-insensitive).
            link(format!("{href}/feature-schema"), "describedBy", "application/schema+json", "One GeoJSON feature as a schema, its properties typed (GDAL makes its fields from it)"),
        ],
    });
    if let Some((n, updated)) = revision {
        // OGC "Versioned Features": every write keeps a version, stamped by the server (transaction time).
        doc["versioning"] = json!({"timeAxis": "transaction-time", "mutationTime": "server"});
        doc["revision"] = json!(n);
        doc["updated"] = json!(updated);
    }
    if c.is_spatial() {
        // A tiled collection links its tilesets (OGC API – Tiles /req/geodata-tilesets/desc-links); the
        // projects' points and lines alone are drawn in the projects' tiles.
        if let Some(links) = doc["links"].as_array_mut().filter(|_| tiled) {
            links.push(link(
                format!("{href}/tiles"),
                "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                JSON,
                "Vector tile sets of this collection",
            ));
        }
        doc["crs"] = json!(Crs::ALL.iter().map(|c| c.uri()).collect::<Vec<_>>());
        doc["storageCrs"] = json!(CRS84);
        if let Some(e) = c.extent() {
            doc["extent"] = json!({
                "spatial": {
                    "bbox": [[e.min().x, e.min().y, e.max().x, e.max().y]],
                    "crs": CRS84,
                }
            });
        }
    }
    doc
}

/// The revision a collection declares: the store's, for the editable projects.
fn revision_of<'a>(state: &State, model: &'a ReadModel, c: &Collection) -> Option<(i64, Option<&'a str>)> {
    (crate::store::engine::STORED.contains(&c.id()) && state.engine.store().is_some())
        .then_some((model.revision, model.updated.as_deref()))
}

/// `GET /collections`.
pub async fn get_collections(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let format = negotiate(&req, &params)?;
    let base = base_url(&req, &state.settings);
    let tiled = crate::store::tiles::tiled(&model.catalog);
    let collections: Vec<Value> = model
        .catalog
        .collections()
        .iter()
        .map(|c| collection_json(c, &base, revision_of(&state, &model, c), tiled.contains(&c.id())))
        .collect();
    let doc = json!({
        "links": [
            link(format!("{base}/collections"), if format == Format::Json { "self" } else { "alternate" }, JSON, "The collections"),
            link(format!("{base}/collections?f=html"), if format == Format::Html { "self" } else { "alternate" }, "text/html", "The collections as HTML"),
        ],
        "collections": collections,
    });
    match format {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let rows = model
                .catalog
                .collections()
                .iter()
                .map(|c| {
                    let id = c.id();
                    vec![
                        Cell::spans(vec![
                            Span::link(c.meta.title, format!("{base}/collections/{id}?f=html"))
                                .styled(Style::Break),
                            Span::text(id).styled(Style::Code),
                        ]),
                        Span::link(
                            c.features().len().to_string(),
                            format!("{base}/collections/{id}/items?f=html"),
                        )
                        .into(),
                        Cell::text(c.meta.description.clone()),
                    ]
                })
                .collect();
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Collections", format!("{base}/collections?f=html")),
            ];
            let page = HtmlPage::new("Collections", &crumbs, BOUNDARY_ATTRIBUTION)
                .table(&["Collection", "Features", "Description"], rows);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// `GET /collections/{collectionId}`.
pub async fn get_collection(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let c = find(&model, &path)?;
    let base = base_url(&req, &state.settings);
    let tiled = crate::store::tiles::tiled(&model.catalog).contains(&c.id());
    let doc = collection_json(c, &base, revision_of(&state, &model, c), tiled);
    match negotiate(&req, &params)? {
        Format::Json => {
            let links = doc["links"].as_array().cloned().unwrap_or_default();
            // An uploaded layer's tag starts with its stored version, so If-Match on its PUT or DELETE
            // can name the version it replaces.
            let response = match model.version_of(&crate::store::engine::store_key("layers", c.id())) {
                Some(v) => {
                    let body = super::to_json_text(&doc);
                    let hash = super::etag_of(body.as_bytes());
                    let etag = format!("\"v{v}-{}\"", &hash[1..17]);
                    super::respond_tagged(&req, JSON, body, &etag, super::Caching::Data)
                }
                None => respond_json(&req, JSON, &doc),
            };
            Ok(super::with_link_header(response, &links, super::HEADER_RELS))
        }
        Format::Html => {
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Collections", format!("{base}/collections?f=html")),
                (c.meta.title, format!("{base}/collections/{}?f=html", c.id())),
            ];
            let mut page = HtmlPage::new(c.meta.title, &crumbs, BOUNDARY_ATTRIBUTION)
                .depth(2)
                .text(c.meta.description.clone())
                .paragraph(vec![Span::link(
                    format!("Browse the {} items", c.features().len()),
                    format!("{base}/collections/{}/items?f=html", c.id()),
                )]);
            if let Some(e) = c.extent() {
                page = page.text(format!(
                    "Extent (CRS84): {:.4}, {:.4} – {:.4}, {:.4}",
                    e.min().x,
                    e.min().y,
                    e.max().x,
                    e.max().y
                ));
            }
            let rows = c
                .meta
                .queryables
                .iter()
                .map(|q| {
                    vec![
                        Span::text(q.name).styled(Style::Code).into(),
                        Cell::text(q.kind.json_type()),
                        Cell::text(q.description),
                    ]
                })
                .collect();
            let page = page
                .heading("Queryable properties")
                .table(&["Name", "Type", "Meaning"], rows)
                .heading("Links")
                .links(doc["links"].as_array().map_or(&[][..], Vec::as_slice));
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// The JSON Schema of a (non-geometry) queryable property, as `/queryables` and `/schema` give it.
fn property_schema(q: &crate::store::Queryable) -> Value {
    let mut schema = json!({ "type": q.kind.json_type(), "description": q.description });
    if q.kind == crate::store::PropertyType::StringArray {
        schema["items"] = json!({ "type": "string" });
    }
    if let Some(format) = q.kind.format() {
        schema["format"] = json!(format);
    }
    schema
}

/// The JSON Schema type of a value.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The Part 5 `format` of a collection's geometries: one type, or `geometry-any` when they mix.
fn geometry_format(c: &crate::store::Collection) -> &'static str {
    let kinds: std::collections::BTreeSet<&str> = c
        .features()
        .iter()
        .filter_map(|f| f.geometry.as_ref())
        .map(crate::store::admin::geometry_type)
        .collect();
    match kinds.iter().copied().collect::<Vec<_>>().as_slice() {
        ["Point"] => "geometry-point",
        ["MultiPoint"] => "geometry-multipoint",
        ["LineString"] => "geometry-linestring",
        ["MultiLineString"] => "geometry-multilinestring",
        ["Polygon"] => "geometry-polygon",
        ["MultiPolygon"] => "geometry-multipolygon",
        _ => "geometry-any",
    }
}

/// What the values of one property are: their JSON types, whether some feature has none, whether the arrays
/// hold strings only (`None` while no array has held anything), and every string is a day (`YYYY-MM-DD`).
struct Seen {
    kinds: std::collections::BTreeSet<&'static str>,
    nullable: bool,
    string_items: Option<bool>,
    days: bool,
}

/// The properties of a collection's features as JSON Schemas: the queryables' declared types, then every
/// property the features carry with the JSON types their values have, and null where some feature has none
/// (the schema a client builds its fields from must hold every feature it will read). Without `id` and the
/// geometry. With the names of the properties holding a whole number past 32 bits.
fn property_schemas(c: &crate::store::Collection) -> (Map<String, Value>, std::collections::HashSet<String>) {
    let mut props = Map::new();
    for q in c.meta.queryables.iter().filter(|q| q.kind != crate::store::PropertyType::Geometry) {
        if q.name != "id" {
            props.entry(q.name.to_owned()).or_insert_with(|| property_schema(q));
        }
    }
    let names = c.property_names();
    let mut seen: std::collections::HashMap<&str, Seen> = names
        .iter()
        .map(|n| {
            let fresh = Seen {
                kinds: std::collections::BTreeSet::new(),
                nullable: false,
                string_items: None,
                days: true,
            };
            (n.as_str(), fresh)
        })
        .collect();
    let mut wide = std::collections::HashSet::new();
    for f in c.features() {
        for (name, s) in &mut seen {
            match f.properties.get(name) {
                None | Some(Value::Null) => s.nullable = true,
                Some(v) => {
                    // A whole number is an integer until a fraction turns up (`project_count`).
                    s.kinds.insert(if v.is_i64() || v.is_u64() { "integer" } else { json_type(v) });
                    if !crate::export::columns::fits_i32(v) {
                        wide.insert((*name).to_owned());
                    }
                    match v {
                        // Lists that are all empty say nothing of what they hold (the lines' `targets`).
                        Value::Array(a) if !a.is_empty() => {
                            s.string_items =
                                Some(s.string_items.unwrap_or(true) && a.iter().all(Value::is_string));
                        }
                        Value::String(t) => s.days &= crate::export::columns::is_day(t),
                        _ => {}
                    }
                }
            }
        }
    }
    for name in names {
        let Some(Seen { kinds, nullable, string_items, days }) = seen.get(name.as_str()) else {
            continue;
        };
        let string_items = &(*string_items == Some(true));
        if name == "id" {
            continue;
        }
        let mut kinds = kinds.clone();
        if kinds.contains("number") {
            kinds.remove("integer");
        }
        let entry =
            props.entry(name.clone()).or_insert_with(
                || match kinds.iter().copied().collect::<Vec<_>>()[..] {
                    ["array"] if *string_items => json!({"type": "array", "items": {"type": "string"}}),
                    ["string"] if *days => json!({"type": "string", "format": "date"}),
                    [one] => json!({"type": one}),
                    _ => json!({"type": kinds.iter().copied().collect::<Vec<_>>()}),
                },
            );
        // A declared type the values do not all have (a layer's field of mixed values, inferred as text): the
        // types they have.
        let misfit = entry.get("type").and_then(Value::as_str).is_some_and(|t| {
            kinds.iter().any(|k| *k != t && !matches!((*k, t), ("number", "integer") | ("integer", "number")))
        });
        if misfit {
            entry["type"] = json!(kinds.iter().copied().collect::<Vec<_>>());
            if let Some(o) = entry.as_object_mut() {
                o.remove("format");
                o.remove("items");
            }
        }
        // A declared list (a layer's join names) says what it holds, a declared text of days that it is a date.
        if entry["type"] == "array" && entry.get("items").is_none() && *string_items {
            entry["items"] = json!({"type": "string"});
        }
        if entry["type"] == "string" && entry.get("format").is_none() && *days && kinds.contains("string") {
            entry["format"] = json!("date");
        }
        if *nullable {
            let with_null = match entry.get("type") {
                Some(Value::String(t)) if t != "null" => json!([t, "null"]),
                Some(Value::Array(ts)) if !ts.iter().any(|t| t == "null") => {
                    let mut ts = ts.clone();
                    ts.push(json!("null"));
                    Value::Array(ts)
                }
                Some(other) => other.clone(),
                None => json!("null"),
            };
            entry["type"] = with_null;
        }
    }
    (props, wide)
}

/// Refuses an `f` other than JSON on a schema resource.
fn schema_params(req: &HttpRequest) -> ApiResult<()> {
    let params = QueryParams::from_request(req)?;
    params.only(&["f"])?;
    if let Some(f) =
        params.get("f").filter(|f| !["json", "schema+json", "application/schema+json"].contains(f))
    {
        return Err(crate::error::ApiError::param(
            "f",
            format!("'{f}' is not offered here; the schema is JSON (f=json)"),
        ));
    }
    Ok(())
}

/// `GET /collections/{collectionId}/schema` (OGC API – Features Part 5): the features as a JSON Schema, with
/// the geometry's role and type (`geometry-point`, `geometry-linestring`, … or `geometry-any` when they mix),
/// so a client knows what layer to make before reading a feature.
pub async fn get_schema(req: HttpRequest, state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let model = state.model();
    schema_params(&req)?;
    let c = find(&model, &path)?;
    let base = base_url(&req, &state.settings);
    let mut props = Map::new();
    props.insert("id".into(), json!({"x-ogc-role": "id", "type": "string", "description": "feature id"}));
    if c.is_spatial() {
        props.insert(
            "geometry".into(),
            json!({"x-ogc-role": "primary-geometry", "format": geometry_format(c), "description": "CRS84"}),
        );
    }
    props.extend(property_schemas(c).0);
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{base}/collections/{}/schema", c.id()),
        "type": "object",
        "title": c.meta.title,
        "properties": props,
    });
    Ok(respond_json(&req, "application/schema+json", &doc))
}

/// `GET /collections/{collectionId}/feature-schema`: one GeoJSON Feature of the collection as a schema, its
/// properties typed, which GDAL's OAPIF driver (and so QGIS through GDAL) reads from the collection's
/// `describedBy` link to make its fields: without it GDAL types fields from the first page, and a number
/// column null on that page became a text field. Written in the OpenAPI 3.0 Schema Object dialect that
/// GDAL reads: one `type` per property, `nullable: true` where a feature has null.
pub async fn get_feature_schema(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    schema_params(&req)?;
    let c = find(&model, &path)?;
    let base = base_url(&req, &state.settings);
    let (mut props, wide) = property_schemas(c);
    for (name, schema) in &mut props {
        // One `type` at most (OpenAPI 3.0): null is `nullable`, a property no feature has a value of is text
        // (GDAL's default field), and one of mixed types has no `type` (any value).
        let (types, nullable): (Vec<Value>, bool) = match schema.get("type") {
            Some(Value::Array(ts)) => {
                (ts.iter().filter(|t| *t != "null").cloned().collect(), ts.iter().any(|t| t == "null"))
            }
            Some(Value::String(t)) if t == "null" => (Vec::new(), true),
            Some(t) => (vec![t.clone()], false),
            None => (Vec::new(), false),
        };
        match types.as_slice() {
            [] => schema["type"] = json!("string"),
            [one] => schema["type"] = one.clone(),
            _ => {
                if let Some(o) = schema.as_object_mut() {
                    o.remove("type");
                }
            }
        }
        if nullable {
            schema["nullable"] = json!(true);
        }
        // GDAL's integer field is 32 bits (it clamps 3 000 000 000 to 2 147 483 647): a column holding a larger
        // whole number is a number, which a double holds exactly up to 2^53.
        if schema["type"] == "integer" && wide.contains(name) {
            schema["type"] = json!("number");
        }
    }
    let geometry = if c.is_spatial() {
        json!({"type": "object", "nullable": true, "description": format!("GeoJSON, CRS84 ({})", geometry_format(c))})
    } else {
        json!({"type": "object", "nullable": true, "enum": [null], "description": "always null: no geometries"})
    };
    let doc = json!({
        "$id": format!("{base}/collections/{}/feature-schema", c.id()),
        "title": format!("{}: one feature", c.meta.title),
        "description": "A GeoJSON Feature of this collection (an OpenAPI 3.0 Schema Object: nullable properties say `nullable: true`). The OGC API – Features Part 5 schema is /schema.",
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": geometry,
            "properties": {"type": "object", "properties": props},
        },
    });
    Ok(respond_json(&req, "application/schema+json", &doc))
}

/// `GET /collections/{collectionId}/queryables`: the filterable properties as a JSON Schema.
pub async fn get_queryables(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let c = find(&model, &path)?;
    let base = base_url(&req, &state.settings);
    let mut props = Map::new();
    for q in &c.meta.queryables {
        if q.kind == crate::store::PropertyType::Geometry {
            props
                .insert(q.name.to_owned(), json!({ "format": "geometry-any", "description": q.description }));
            continue;
        }
        props.insert(q.name.to_owned(), property_schema(q));
    }
    if c.is_spatial() {
        props.insert(
            "geometry".into(),
            json!({ "format": "geometry-any", "description": "the feature's geometry (CRS84)" }),
        );
    }
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{base}/collections/{}/queryables", c.id()),
        "type": "object",
        "title": c.meta.title,
        "properties": props,
        "additionalProperties": false,
    });
    match negotiate(&req, &params)? {
        Format::Json => Ok(respond_json(&req, "application/schema+json", &doc)),
        Format::Html => {
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                (c.meta.title, format!("{base}/collections/{}?f=html", c.id())),
                ("Queryables", format!("{base}/collections/{}/queryables?f=html", c.id())),
            ];
            let page =
                HtmlPage::new("Queryables", &crumbs, BOUNDARY_ATTRIBUTION).depth(3).value(&doc["properties"]);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}
