//! File downloads: `items?f=csv|kml|fgb|gpkg|shp|geojsonseq` (with every items filter) and `/exports/{file}`
//! (a whole collection, or `planatlas.gpkg`: the whole plan in one GeoPackage).
//!
//! The file is written on a blocking thread and streamed to the client as it is produced, so a large export
//! does not sit in memory; binary formats that need to seek go through a temporary file first.

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

/// Checks an export can be made, then streams it.
pub fn stream(
    state: &State,
    model: &crate::store::engine::ReadModel,
    what: What,
    format: ExportFormat,
    options: ExportOptions,
    filename: &str,
) -> ApiResult<HttpResponse> {
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
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"));
    resp.insert_header((header::HeaderName::from_static("content-crs"), format!("<{}>", crs.uri())));
    Ok(resp.streaming(body))
}

/// `GET /exports/{file}`: `planatlas.gpkg` (the whole plan: every collection as a layer), or
/// `{collection}.{ext}` for one whole collection in any export format (`counties.shp.zip`, `projects.csv`…).
pub async fn get_export(req: HttpRequest, state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["crs", "bom"])?;
    let crs = super::features::crs_param(&params, "crs")?;
    let bom = super::selection::bom_param(&params)?;
    let file = path.into_inner();
    let options = ExportOptions { crs, bom, properties: None };
    if file == "planatlas.gpkg" {
        return stream(&state, &model, What::Plan, ExportFormat::GeoPackage, options, &file);
    }
    let (format, id) = ExportFormat::ALL
        .iter()
        .find_map(|f| file.strip_suffix(&format!(".{}", f.extension())).map(|id| (*f, id)))
        .ok_or_else(|| {
            let exts: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.extension()).collect();
            ApiError::NotFound(format!(
                "no export '{file}': ask for planatlas.gpkg or {{collection}}.{{ext}} with ext one of {}",
                exts.join(", ")
            ))
        })?;
    let c = super::features::find(&model, id)?;
    let features = c.features().iter().map(|f| f.id.clone()).collect();
    stream(&state, &model, What::Collection { id: id.to_owned(), features }, format, options, &file)
}
