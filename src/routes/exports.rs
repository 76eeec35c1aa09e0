//! File downloads: `items?f=csv|kml|fgb|gpkg|shp|geojsonseq` (with every items filter) and `/exports/{file}`
//! (a whole collection, or `planatlas.gpkg`: the whole plan in one GeoPackage).
//!
//! An items download is written on a blocking thread and streamed to the client as it is produced, so a large
//! one does not sit in memory. `/exports/{file}` is made once per data revision into a file kept for the
//! server's life and served from it, with its length, an entity tag and byte ranges.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use tokio::sync::mpsc;

use super::{QueryParams, State};
use crate::error::{ApiError, ApiResult};
use crate::export::{self, ExportFormat, ExportOptions, What, write_export};
use crate::geom::crs::Crs;
use crate::store::Catalog;

/// Sends what is written to the HTTP response body, 64 KiB at a time.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Checks an export can be made, then streams it. Its ETag is weak (the bytes are made as they go): the data
/// revision and what was asked (the request's path and query, the format, CRS and BOM chosen), so
/// `If-None-Match` answers 304 until the data changes.
pub fn stream(
    req: &actix_web::HttpRequest,
    state: &State,
    model: &crate::store::engine::ReadModel,
    what: What,
    format: ExportFormat,
    options: ExportOptions,
    filename: &str,
) -> ApiResult<HttpResponse> {
    let asked = format!("{}|{}|{}|{}", req.uri(), format.name(), options.crs.uri(), options.bom);
    let etag = format!(
        "W/\"{}-{:016x}\"",
        crate::export::files::data_stamp(model),
        xxhash_rust::xxh3::xxh3_64(asked.as_bytes())
    );
    if crate::answers::if_none_match_holds(req.headers().get(header::IF_NONE_MATCH), &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
            .insert_header((header::VARY, "Accept, Accept-Encoding"))
            .finish());
    }
    if let What::Collection { id, features } = &what {
        let c = model
            .catalog
            .collection(id)
            .ok_or_else(|| ApiError::NotFound(format!("no collection '{id}'")))?;
        export::check(format, c, features).map_err(|e| ApiError::param("f", e.to_string()))?;
        if format == ExportFormat::Kml && !matches!(options.crs, Crs::Crs84 | Crs::Epsg4326) {
            return Err(ApiError::param(
                "crs",
                "KML coordinates are always WGS84 longitude, latitude; omit crs",
            ));
        }
    }
    let slot = crate::ops::take_slot(state)?;
    let catalog: Arc<Catalog> = model.catalog.clone();
    let crs = options.crs;
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(16);
    std::thread::spawn(move || {
        let mut out = BufWriter::with_capacity(64 * 1024, ChannelWriter { tx: tx.clone() });
        let result = write_export(&catalog, &what, format, &options, &mut out, &|| {})
            .and_then(|()| out.flush().map_err(Into::into));
        if let Err(e) = result {
            tracing::error!(error = %e, format = format.name(), "export failed while streaming");
            let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
        }
        drop(slot);
    });
    let body =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, format.media_type()))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        // `items` chooses the format by `Accept` as well as `f`: a cache must keep them apart.
        .insert_header((header::VARY, "Accept, Accept-Encoding"))
        .insert_header((header::ETAG, etag));
    let named = crs.of_east_first_file();
    resp.insert_header((header::HeaderName::from_static("content-crs"), format!("<{}>", named.uri())));
    Ok(resp.streaming(body))
}

/// A file name that names its variant, as [`variant_name`] writes it (`projects-EPSG4549-bom.csv`), read as the
/// plain file (`projects.csv`) and its CRS and byte-order mark, so a download's name is also its address and
/// GDAL, opening it by URL, finds the `.csvt` and `.prj` beside it (it asks for no sidecar of a URL with a
/// query). A name that is a collection's as it stands is that collection (a layer may be called `x-bom`).
fn file_variant(model: &crate::store::engine::ReadModel, file: &str) -> (String, Option<(Crs, bool)>) {
    let plain = (file.to_owned(), None);
    let Some((stem, ext)) = file.split_once('.') else { return plain };
    let known = |id: &str| id == "planatlas" || model.catalog.collection(id).is_some();
    if known(stem) {
        return plain;
    }
    let (stem, bom) = stem.strip_suffix("-bom").map_or((stem, false), |s| (s, true));
    let (stem, crs) = Crs::ALL
        .into_iter()
        .filter(|c| *c != Crs::Crs84)
        .find_map(|c| stem.strip_suffix(&format!("-{}", crs_tag(c))).map(|s| (s, c)))
        .unwrap_or((stem, Crs::Crs84));
    if (bom || crs != Crs::Crs84) && known(stem) {
        (format!("{stem}.{ext}"), Some((crs, bom)))
    } else {
        plain
    }
}

/// The name a client saves an export under: the collection, then the CRS and the BOM when they are not the
/// defaults, so two variants never overwrite each other (`projects-EPSG4549.shp.zip`).
fn variant_name(file: &str, ext: &str, crs: Crs, bom: bool) -> String {
    let mut name = file.strip_suffix(&format!(".{ext}")).unwrap_or(file).to_owned();
    if crs != Crs::Crs84 {
        name.push('-');
        name.push_str(&crs_tag(crs));
    }
    if bom {
        name.push_str("-bom");
    }
    format!("{name}.{ext}")
}

/// A CRS as a file name carries it (`EPSG4549`, `GCJ02`).
fn crs_tag(crs: Crs) -> String {
    crs.short().replace([':', '-'], "")
}

/// `GET /exports/{collection}.prj`: the CRS of `{collection}.csv` (and of the variant the name gives) as one
/// line of ESRI WKT, which GDAL (and so QGIS) fetches beside the CSV it opens by URL.
fn csv_crs(
    req: &HttpRequest,
    model: &crate::store::engine::ReadModel,
    id: &str,
    crs: Crs,
) -> ApiResult<HttpResponse> {
    if !super::features::find(model, id)?.is_spatial() {
        return Err(ApiError::NotFound(format!("collection '{id}' has no geometries, so no .prj")));
    }
    let wkt = crate::geom::crs::wkt(crs, true).map_err(ApiError::Internal)?;
    // On one line: GDAL's CSV driver reads only the first line of a `.prj` beside the file.
    let line: String = wkt.lines().map(str::trim).collect();
    Ok(super::respond(req, "text/plain; charset=utf-8", line + "\n", super::Caching::Data))
}

/// `GET /exports/{collection}.csvt`: the column types of `{collection}.csv`, which GDAL (and so QGIS) fetches
/// beside the CSV it opens by URL. A line of a few hundred bytes; the collection's values are scanned (for
/// whole numbers past 32 bits) off the HTTP workers.
async fn csv_types(
    req: &HttpRequest,
    model: &crate::store::engine::ReadModel,
    id: &str,
) -> ApiResult<HttpResponse> {
    super::features::find(model, id)?;
    let (catalog, id) = (model.catalog.clone(), id.to_owned());
    let text = web::block(move || {
        catalog.collection(&id).map(|c| {
            let columns = crate::export::columns::of_collection(c);
            crate::export::csv::csvt(&columns, c.features().iter(), c.is_spatial())
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the column types were not made: {e}")))?
    .ok_or_else(|| ApiError::Internal("the collection went away".into()))?;
    Ok(super::respond(req, "text/plain; charset=utf-8", text, super::Caching::Data))
}

/// `GET /exports/planatlas.qgz`: the QGIS project reading this server's layers over OGC API – Features. It
/// names the server's address, so it is made per request (a few kilobytes).
fn qgis_project(
    req: &HttpRequest,
    state: &State,
    model: &crate::store::engine::ReadModel,
    params: &QueryParams,
    variant: bool,
) -> ApiResult<HttpResponse> {
    if variant || params.get("crs").is_some() || params.get("bom").is_some() {
        return Err(ApiError::param(
            "crs",
            "the QGIS project takes no crs or bom: it reads the layers in CRS84",
        ));
    }
    let base = super::base_url(req, &state.settings);
    let bytes = crate::export::qgis::write_qgz(&model.catalog, &base)
        .map_err(|e| ApiError::Internal(format!("the QGIS project could not be made: {e}")))?;
    let etag = super::etag_of(&bytes);
    let mut resp = super::respond_tagged(
        req,
        "application/x-qgis-project-container",
        bytes,
        &etag,
        super::Caching::Data,
    );
    resp.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_static("attachment; filename=\"planatlas.qgz\""),
    );
    Ok(resp)
}

/// `GET /exports/{file}`: `planatlas.qgz` (a QGIS project of the plan), `planatlas.gpkg` (the whole plan:
/// every collection as a layer, styled), or
/// `{collection}.{ext}` for one whole collection in any export format (`counties.shp.zip`, `projects.csv`…).
/// Made once per data revision (and variant) into a file, then served from it with `Content-Length`, `ETag`,
/// `Last-Modified` and `Range`, so GDAL's `/vsicurl/` and QGIS open it by URL.
pub async fn get_export(req: HttpRequest, state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["crs", "bom"])?;
    let (file, named) = file_variant(&model, &path.into_inner());
    let crs = super::features::crs_param(&params, "crs")?;
    let bom = super::selection::bom_param(&params)?;
    let (crs, bom) = match named {
        None => (crs, bom),
        Some(_) if params.get("crs").is_some() || params.get("bom").is_some() => {
            return Err(ApiError::param(
                if params.get("crs").is_some() { "crs" } else { "bom" },
                "the file name already says the variant (as in projects-EPSG4549-bom.csv); give it once",
            ));
        }
        Some(v) => v,
    };
    if file == "planatlas.qgz" {
        return qgis_project(&req, &state, &model, &params, named.is_some());
    }
    if let Some(id) = file.strip_suffix(".csvt") {
        return csv_types(&req, &model, id).await;
    }
    if let Some(id) = file.strip_suffix(".prj") {
        return csv_crs(&req, &model, id, crs);
    }
    let options = ExportOptions { crs, bom, properties: None };
    let (format, what) = if file == "planatlas.gpkg" {
        (ExportFormat::GeoPackage, What::Plan)
    } else {
        let (format, id) = ExportFormat::ALL
            .iter()
            .find_map(|f| file.strip_suffix(&format!(".{}", f.extension())).map(|id| (*f, id)))
            .ok_or_else(|| {
                let exts: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.extension()).collect();
                ApiError::NotFound(format!(
                    "no export '{file}': ask for planatlas.gpkg, planatlas.qgz or {{collection}}.{{ext}} with ext one \
                     of {} (a CSV's column types are {{collection}}.csvt, its CRS {{collection}}.prj)",
                    exts.join(", ")
                ))
            })?;
        let c = super::features::find(&model, id)?;
        let features: Vec<String> = c.features().iter().map(|f| f.id.clone()).collect();
        export::check(format, c, &features).map_err(|e| ApiError::param("f", e.to_string()))?;
        if format == ExportFormat::Kml && !matches!(crs, Crs::Crs84 | Crs::Epsg4326) {
            return Err(ApiError::param(
                "crs",
                "KML coordinates are always WGS84 longitude, latitude; omit crs",
            ));
        }
        (format, What::Collection { id: id.to_owned(), features })
    };
    let name = variant_name(&file, format.extension(), crs, bom);
    let stamp = crate::export::files::data_stamp(&model);
    let target = state.exports.path(&stamp, &name);
    if !target.is_file() {
        let lock = state.exports.lock(&target);
        let _making = lock.lock().await;
        if !target.is_file() {
            let slot = crate::ops::take_slot(&state)?;
            let catalog: Arc<Catalog> = model.catalog.clone();
            let made = target.clone();
            let result = web::block(move || -> Result<(), String> {
                let part = std::path::PathBuf::from(format!("{}.part", made.display()));
                let io = |e: io::Error| format!("{}: {e}", part.display());
                let mut out = BufWriter::new(std::fs::File::create(&part).map_err(io)?);
                write_export(&catalog, &what, format, &options, &mut out, &|| {})
                    .map_err(|e| e.to_string())?;
                out.into_inner().map_err(|e| io(e.into_error()))?.sync_all().map_err(io)?;
                std::fs::rename(&part, &made).map_err(io)?;
                drop(slot);
                Ok(())
            })
            .await
            .map_err(|e| ApiError::Internal(format!("the export did not run: {e}")))?;
            result.map_err(|e| {
                tracing::error!(error = %e, format = format.name(), "export failed");
                ApiError::Internal(format!("the export could not be made: {e}"))
            })?;
            state.exports.prune(&crate::export::files::data_stamp(&state.model()));
        }
    }
    // A strong tag from the file's bytes (kept beside it), so it is the same after a restart and on every
    // instance for the same bytes; actix-files' own (inode, size, time) changed with each.
    let etag = export_etag(&target).await?;
    let header_text = |h| req.headers().get(h).and_then(|v: &header::HeaderValue| v.to_str().ok());
    if crate::answers::if_none_match_holds(req.headers().get(header::IF_NONE_MATCH), &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
            .finish());
    }
    if let Some(m) = header_text(header::IF_MATCH)
        && !m.split(',').any(|t| t.trim() == "*" || t.trim() == etag)
    {
        return Err(ApiError::PreconditionFailed(format!("If-Match {m} does not match this file ({etag})")));
    }
    // If-Range (RFC 9110 §13.1.5): a range only of the file the client has (same strong tag); otherwise the
    // whole file, so a resumed download never splices two revisions' bytes.
    // Also every request with If-Match (it matched, above): actix-files judges If-Match against its own tag,
    // which is switched off, and would answer 412.
    let whole = (req.headers().contains_key(header::RANGE)
        && header_text(header::IF_RANGE).is_some_and(|r| r.trim() != etag))
        || req.headers().contains_key(header::IF_MATCH);
    let named = actix_files::NamedFile::open_async(&target)
        .await
        .map_err(|e| ApiError::Internal(format!("export file: {e}")))?
        .use_etag(false)
        .set_content_encoding(header::ContentEncoding::Identity)
        .set_content_disposition(header::ContentDisposition {
            disposition: header::DispositionType::Attachment,
            parameters: vec![header::DispositionParam::Filename(name)],
        });
    let mut resp = if whole {
        // Streamed in 64 KiB reads off the workers, never held whole in memory.
        let file =
            std::fs::File::open(&target).map_err(|e| ApiError::Internal(format!("export file: {e}")))?;
        let len = file.metadata().map_err(|e| ApiError::Internal(format!("export file: {e}")))?.len();
        let chunks = futures_util::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let read = web::block(move || {
                let mut buf = vec![0u8; 1 << 16];
                let n = io::Read::read(&mut file, &mut buf)?;
                buf.truncate(n);
                Ok::<_, io::Error>((buf, file))
            })
            .await;
            match read {
                Ok(Ok((buf, _))) if buf.is_empty() => None,
                Ok(Ok((buf, file))) => Some((Ok::<_, io::Error>(Bytes::from(buf)), Some(file))),
                Ok(Err(e)) => Some((Err(e), None)),
                Err(e) => Some((Err(io::Error::other(e.to_string())), None)),
            }
        });
        let disposition = named.content_disposition().clone();
        HttpResponse::Ok()
            .insert_header(disposition)
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .insert_header((header::CONTENT_ENCODING, "identity"))
            .no_chunking(len)
            .streaming(chunks)
    } else {
        named.into_response(&req)
    };
    let h = resp.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(format.media_type()));
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("public, max-age=60"));
    if let Ok(v) = header::HeaderValue::from_str(&format!("<{}>", crs.of_east_first_file().uri())) {
        h.insert(header::HeaderName::from_static("content-crs"), v);
    }
    Ok(resp)
}

/// The strong ETag of an export file: its bytes' hash, worked out once and kept beside it (`….etag`).
async fn export_etag(target: &std::path::Path) -> ApiResult<String> {
    let target = target.to_owned();
    web::block(move || -> io::Result<String> {
        let side = std::path::PathBuf::from(format!("{}.etag", target.display()));
        if let Ok(tag) = std::fs::read_to_string(&side)
            && tag.starts_with('"')
        {
            return Ok(tag);
        }
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut file = std::fs::File::open(&target)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = io::Read::read(&mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let tag = format!("\"{:032x}\"", hasher.digest128());
        // A temporary name of this thread's own: two first requests at once each write and rename theirs
        // (the same tag), instead of one renaming the other's half-written file away.
        let part =
            std::path::PathBuf::from(format!("{}.{:?}.part", side.display(), std::thread::current().id()));
        std::fs::write(&part, &tag)?;
        if std::fs::rename(&part, &side).is_err() {
            let _ = std::fs::remove_file(&part);
        }
        Ok(tag)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("export file: {e}")))?
    .map_err(|e| ApiError::Internal(format!("export file: {e}")))
}
