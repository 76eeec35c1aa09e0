//! Planners' own layers (`serve --layer FILE[:LAYER]`): a GeoPackage table, a GeoJSON file, a FlatGeobuf file
//! or a (zipped) Shapefile served as a collection like the plan's own, with queryables from the file's schema,
//! geometries transformed from the file's CRS to CRS84 with PROJ, and each feature inside Liaoning joined to its
//! counties, cities and regions (with shares) as projects are.
//!
//! Reading is in two steps: a reader per format turns the file into rows (geometry in the file's CRS,
//! properties as JSON, the schema), then one step shared by every format checks and transforms them, so every
//! format gives the same collection for the same layer. A bad file stops start-up naming the file, the layer,
//! the feature and the reason.

use std::collections::{BTreeSet, HashMap};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use geo::Geometry;
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use super::admin::{self, Admin};
use super::collection::{
    Collection, CollectionMeta, Feature, ParamKind, ParamSpec, PropertyType, Queryable, intern,
};
use super::projects;
use super::props::{Columns, ColumnsBuilder, Deferred, MakeJoined, Properties};
use super::source::LoadError;

/// One `--layer` argument: `[ID=]FILE[:LAYER]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSpec {
    /// The collection id asked for (default: the layer's name).
    pub id: Option<String>,
    /// The file.
    pub path: PathBuf,
    /// The layer (GeoPackage table, or the Shapefile inside a zip); every feature table when `None`.
    pub layer: Option<String>,
}

impl std::str::FromStr for LayerSpec {
    type Err = String;

    /// `zones.gpkg`, `zones.gpkg:kfq`, `zones=kfq.shp.zip`: a `:` after the file name picks a layer, unless the
    /// whole argument names an existing file.
    fn from_str(raw: &str) -> Result<Self, String> {
        let (id, rest) = match raw.split_once('=') {
            Some((id, rest)) if !id.contains(['/', '\\', '.']) => (Some(id.to_owned()), rest),
            _ => (None, raw),
        };
        if rest.is_empty() {
            return Err(format!("'{raw}': expected [ID=]FILE[:LAYER]"));
        }
        let (path, layer) = match rest.rsplit_once(':') {
            Some((file, layer)) if !Path::new(rest).exists() && !file.is_empty() && !layer.contains('/') => {
                (PathBuf::from(file), Some(layer.to_owned()))
            }
            _ => (PathBuf::from(rest), None),
        };
        if let Some(id) = &id {
            check_id(id)?;
        }
        Ok(Self { id, path, layer })
    }
}

/// Collection ids the service defines itself: a layer cannot take them.
const RESERVED: &[&str] = &[
    "regions",
    "cities",
    "counties",
    "projects",
    "targets",
    "sections",
    "progress",
    "indicators",
    "projects-points",
    "projects-lines",
    "labels",
    // `/exports/planatlas.gpkg` is the whole plan.
    "planatlas",
    // The store keeps uploaded layers under `layers/{id}`: a layer called `layers` would take writes meant
    // for its records.
    "layers",
];

/// Checks a layer's collection id: 1–64 of `a-z`, `0-9`, `_`, `-`, and not one of the plan's.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        return Err(format!("'{id}' is not a collection id: use 1–64 of a-z, 0-9, '_' and '-'"));
    }
    if RESERVED.contains(&id) {
        return Err(format!("'{id}' is a collection of the plan; give the layer another id (ID=FILE)"));
    }
    Ok(())
}

/// A collection id made from a layer or file name: lower case, other characters as `_`.
/// A name with no ASCII letters or digits (a Chinese table name) gets `layer-` and a hash of it.
fn id_from(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let id: String = s.trim_matches('_').chars().take(64).collect();
    if id.chars().any(|c| c.is_ascii_alphanumeric()) {
        id
    } else {
        format!("layer-{:08x}", xxhash_rust::xxh3::xxh3_64(name.as_bytes()) as u32)
    }
}

/// The most a declared count in a geometry may claim is what the bytes left can hold; deeper than this,
/// collections of collections are refused.
const MAX_WKB_DEPTH: usize = 32;

/// Checks a GeoPackage geometry blob before it is decoded: every count it declares (points, rings, parts)
/// must fit in the bytes that follow, so a small file cannot make the decoder allocate gigabytes. Returns
/// whether its positions have a height (Z) or a measure (M) besides x and y.
fn check_gpkg_wkb(blob: &[u8]) -> Result<bool, String> {
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err("not a GeoPackage geometry blob".into());
    }
    let envelope = match (blob[3] >> 1) & 0x07 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => return Err(format!("envelope code {other} is not defined")),
    };
    let wkb = blob.get(8 + envelope..).ok_or("the blob is shorter than its header")?;
    if blob[3] & 0x10 != 0 {
        return Ok(false);
    }
    let mut at = 0;
    check_wkb(wkb, &mut at, 0)
}

/// [`check_gpkg_wkb`] of one WKB geometry from `at`: whether it, or any part, has more than x and y.
fn check_wkb(b: &[u8], at: &mut usize, depth: usize) -> Result<bool, String> {
    if depth > MAX_WKB_DEPTH {
        return Err(format!("geometry nested more than {MAX_WKB_DEPTH} levels deep"));
    }
    let short = || "the geometry's bytes end early".to_owned();
    let order = *b.get(*at).ok_or_else(short)?;
    let u32_at = |i: usize| -> Result<u32, String> {
        let w: [u8; 4] = b.get(i..i + 4).ok_or_else(short)?.try_into().map_err(|_| short())?;
        Ok(if order == 0 { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) })
    };
    let raw_type = u32_at(*at + 1)?;
    *at += 5;
    // ISO WKB: 1000s for Z, 2000s M, 3000s ZM. PostGIS's EWKB flags are not GeoPackage's (the decoder read
    // them as "geometry format", which said nothing).
    if raw_type & 0xE000_0000 != 0 {
        return Err(format!(
            "type 0x{raw_type:08X} carries EWKB flags (PostGIS's extended WKB); GeoPackage geometries are ISO \
             WKB (Z as 1000 + type): write the file with GDAL (ogr2ogr)"
        ));
    }
    let base = raw_type;
    let dims = 2
        + usize::from((1000..2000).contains(&base) || base >= 3000)
        + usize::from((2000..4000).contains(&base));
    let point = 8 * dims;
    // A declared count at `at`, checked against the bytes after it (each item at least `unit` bytes).
    let count = |at: &mut usize, unit: usize| -> Result<usize, String> {
        let n = u32_at(*at)? as usize;
        *at += 4;
        let need = n.checked_mul(unit).ok_or_else(short)?;
        if need > b.len().saturating_sub(*at) {
            return Err(format!("the geometry claims {n} parts or points, more than its bytes hold"));
        }
        Ok(n)
    };
    let mut more = dims > 2;
    match base % 1000 {
        1 => *at += point,
        2 => *at += count(at, point)? * point,
        3 => {
            for _ in 0..count(at, 4)? {
                *at += count(at, point)? * point;
            }
        }
        4..=7 => {
            for _ in 0..count(at, 5)? {
                more |= check_wkb(b, at, depth + 1)?;
            }
        }
        other => return Err(format!("geometry type {other} is not supported")),
    }
    if *at > b.len() { Err(short()) } else { Ok(more) }
}

/// Checks the records of a `.shp` before it is decoded: each declared part and point count must fit in its
/// record, so a small file cannot make the decoder allocate gigabytes. Returns how many records it holds, and
/// whether any has heights (Z) or measures (M) besides x and y.
fn check_shp(shp: &[u8]) -> Result<(usize, bool), String> {
    let mut count = 0;
    let mut more = false;
    let mut at = 100;
    while at + 8 <= shp.len() {
        let words = u32::from_be_bytes([shp[at + 4], shp[at + 5], shp[at + 6], shp[at + 7]]) as usize;
        let len = words * 2;
        let record = shp.get(at + 8..at + 8 + len).ok_or("a record runs past the end of the .shp")?;
        let i32_at =
            |i: usize| record.get(i..i + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize);
        // PointZ, PolyLineZ, PolygonZ, MultiPointZ, the M variants and MultiPatch.
        let kind = i32_at(0);
        more |= kind.is_some_and(|t| matches!(t, 11 | 13 | 15 | 18 | 21 | 23 | 25 | 28 | 31));
        let fits = match kind {
            // Polylines, polygons (with Z/M variants) and multipatches: box, parts, (a multipatch's part
            // types), points.
            Some(3 | 5 | 13 | 15 | 23 | 25 | 31) => match (i32_at(36), i32_at(40)) {
                (Some(parts), Some(points)) => {
                    let per_part = if kind == Some(31) { 8 } else { 4 };
                    let sized = parts
                        .checked_mul(per_part)
                        .zip(points.checked_mul(16))
                        .is_some_and(|(a, b)| 44 + a + b <= len);
                    // Each part starts at or after the one before, within the points: the decoder sizes a
                    // part as the next start minus its own, and a start out of order panicked it.
                    let mut previous = 0;
                    let ordered = sized
                        && (0..parts).all(|k| {
                            let start = i32_at(44 + 4 * k).unwrap_or(usize::MAX);
                            let ok = start >= previous && start <= points;
                            previous = start;
                            ok
                        });
                    if sized && !ordered {
                        return Err(format!(
                            "shape {} at byte {at}: its parts' first points are out of order or past its {points} \
                             points",
                            count + 1
                        ));
                    }
                    sized
                }
                _ => false,
            },
            // Multipoints: box, points.
            Some(8 | 18 | 28) => i32_at(36).and_then(|n| n.checked_mul(16)).is_some_and(|b| 40 + b <= len),
            _ => true,
        };
        if !fits {
            return Err(format!("a record at byte {at} claims more parts or points than it holds"));
        }
        at += 8 + len;
        count += 1;
    }
    Ok((count, more))
}

/// The most a zipped Shapefile's parts may unpack to, all together: a few times the largest upload, so a
/// small zip of zeros cannot make the server hold gigabytes.
const MAX_UNZIPPED: u64 = 512 << 20;
/// The most a zipped `.prj` or `.cpg` may unpack to (a line of text).
const MAX_UNZIPPED_TEXT: u64 = 1 << 20;

/// The CRS a file gives for its coordinates (east, north order as GIS files store them).
#[derive(Debug, Clone, PartialEq)]
enum SourceCrs {
    /// Longitude, latitude on WGS84: no transform.
    Crs84,
    /// A definition PROJ reads: `EPSG:4549`, or WKT.
    Def(String),
    /// GCJ-02 or BD-09 longitude, latitude, as planatlas's own exports label them: the shift is undone.
    Chinese(crate::geom::crs::Crs),
}

impl SourceCrs {
    fn epsg(code: i64) -> Self {
        if code == 4326 { Self::Crs84 } else { Self::Def(format!("EPSG:{code}")) }
    }

    fn describe(&self) -> String {
        match self {
            Self::Crs84 => "OGC:CRS84".into(),
            Self::Def(d) if d.len() <= 40 => d.clone(),
            Self::Def(d) => {
                d.split('"').nth(1).map_or_else(|| "WKT".into(), |name| format!("WKT \"{name}\""))
            }
            Self::Chinese(c) => c.short().to_owned(),
        }
    }
}

/// One feature as a reader found it.
struct Raw {
    id: Option<String>,
    geometry: Option<Geometry<f64>>,
    properties: RawProps,
}

/// A feature's values as a reader found them: by name, or (FlatGeobuf) already placed in the layer's columns
/// ([`RawLayer::coded`]).
enum RawProps {
    Named(Map<String, Value>),
    Coded(Box<[u32]>),
}

impl From<Map<String, Value>> for RawProps {
    fn from(map: Map<String, Value>) -> Self {
        Self::Named(map)
    }
}

impl RawProps {
    /// The value named `name`, when read by name.
    fn named(&self, name: &str) -> Option<&Value> {
        match self {
            Self::Named(m) => m.get(name),
            Self::Coded(_) => None,
        }
    }
}

/// A layer as a reader found it: rows in the file's CRS and the fields with their types.
struct RawLayer {
    name: String,
    /// The geometry column's name, where the format names it (GeoPackage).
    geometry_name: Option<String>,
    crs: SourceCrs,
    fields: Vec<(String, PropertyType)>,
    rows: Vec<Raw>,
    /// The columns the rows' values were placed in as they were read, if they were.
    coded: Option<ColumnsBuilder>,
    /// Whether the rows' ids are only positions (a GeoPackage's fid, FlatGeobuf's and a Shapefile's row
    /// numbers), which an `id` field may replace; a GeoJSON file's own ids are kept.
    numbered: bool,
    /// Whether the file's positions have heights (Z) or measures (M), which the rows' 2-D geometries left out.
    flattened: bool,
}

/// A GeoPackage text value, which the format requires to be UTF-8: other bytes are refused rather than read
/// as replacement characters.
fn utf8(bytes: &[u8]) -> Result<String, String> {
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
        format!(
            "the text is not UTF-8 (byte {} of {:?}…), as GeoPackage requires; write the file again as UTF-8",
            e.valid_up_to(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(24)])
        )
    })
}

/// Where a message points: the file and the layer.
fn place(path: &Path, layer: &str) -> String {
    format!("{} (layer {layer})", path.display())
}

fn file_error(path: &Path, reason: impl Into<String>) -> LoadError {
    LoadError::File { file: path.display().to_string(), reason: reason.into() }
}

/// A layer's feature as read: id, geometry (CRS84) and the positions of its values in the layer's columns.
pub type LayerFeature = (String, Option<Geometry<f64>>, Box<[u32]>);

/// A layer read and checked, in CRS84, not yet joined.
pub struct LayerFile {
    /// The collection id.
    pub id: String,
    /// The layer's name in its file.
    pub layer: String,
    /// The file.
    pub path: PathBuf,
    /// The file's CRS, as read.
    pub crs: String,
    /// The fields and their types.
    pub fields: Vec<(String, PropertyType)>,
    /// The geometry column's name in the file, when it has one (`geom`): filters may use it.
    pub geometry_name: Option<String>,
    /// The features' values, column by column (one column per field, in order).
    pub columns: Arc<Columns>,
    /// The features.
    pub features: Vec<LayerFeature>,
    /// Whether the file's positions had heights (Z) or measures (M): they are not kept, and the collection's
    /// description says so.
    pub flattened: bool,
}

/// Whether the file's name ends with one of `suffixes`, ignoring case.
fn ends_with(path: &Path, suffixes: &[&str]) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    suffixes.iter().any(|s| name.strip_suffix(s).is_some_and(|stem| !stem.is_empty()))
}

/// Reads every layer `spec` names (a GeoPackage without `:LAYER` gives all its feature tables).
pub fn read(spec: &LayerSpec) -> Result<Vec<LayerFile>, LoadError> {
    let t = std::time::Instant::now();
    let path = &spec.path;
    let raws = if ends_with(path, &[".gpkg"]) {
        read_gpkg(path, spec.layer.as_deref())?
    } else if ends_with(path, &[".geojson", ".json"]) {
        vec![read_geojson(path)?]
    } else if ends_with(path, &[".fgb"]) {
        vec![read_fgb(path)?]
    } else if ends_with(path, &[".zip", ".shp"]) {
        vec![read_shapefile(path, spec.layer.as_deref())?]
    } else {
        return Err(file_error(
            path,
            "unsupported layer format: give a GeoPackage (.gpkg), GeoJSON (.geojson, .json), FlatGeobuf (.fgb) \
             or Shapefile (.shp, or .zip holding one)",
        ));
    };
    if spec.id.is_some() && raws.len() > 1 {
        return Err(file_error(path, "an ID= names one layer, but the file has several: add :LAYER"));
    }
    let read_ms = t.elapsed().as_secs_f64() * 1e3;
    let files = raws.into_iter().map(|raw| finish(spec, raw)).collect::<Result<Vec<_>, _>>()?;
    tracing::debug!(file = %path.display(), read_ms, checked_ms = t.elapsed().as_secs_f64() * 1e3 - read_ms, "layer file read");
    Ok(files)
}

/// The step every format shares: ids, nulls for absent fields, supported geometry types, the CRS transform and
/// coordinate checks.
fn finish(spec: &LayerSpec, raw: RawLayer) -> Result<LayerFile, LoadError> {
    let path = &spec.path;
    let at = place(path, &raw.name);
    let id = match &spec.id {
        Some(id) => id.clone(),
        None => {
            let id = id_from(&raw.name);
            check_id(&id).map_err(|e| file_error(path, format!("layer {}: {e}", raw.name)))?;
            id
        }
    };
    // A field name no format can write back (empty, or holding a control character such as NUL: SQLite
    // stops the name there, and a GeoPackage export failed half-way, as a truncated 200) is refused now.
    if let Some((bad, _)) =
        raw.fields.iter().find(|(n, _)| n.trim().is_empty() || n.chars().any(char::is_control))
    {
        return Err(LoadError::File {
            file: at,
            reason: format!("field name {bad:?} is empty or holds a control character; rename the field"),
        });
    }
    let RawLayer { name, geometry_name, crs, fields, rows, coded, numbered, flattened } = raw;
    // The values in columns, in file order (readers that read by name are placed now).
    let mut columns =
        coded.unwrap_or_else(|| ColumnsBuilder::new(fields.iter().map(|(n, _)| intern(n)).collect()));
    let rows: Vec<Raw> = rows
        .into_iter()
        .map(|r| match r.properties {
            RawProps::Coded(_) => r,
            RawProps::Named(mut m) => {
                let codes = columns.push(fields.iter().map(|(n, _)| m.remove(n).unwrap_or(Value::Null)));
                Raw { properties: RawProps::Coded(codes), ..r }
            }
        })
        .collect();
    let rows = if numbered { ids_from_field(rows, &fields, &columns) } else { rows };
    let columns = columns.finish();
    // A definition planatlas wrote for GCJ-02 or BD-09 is that shift, not a CRS for PROJ.
    let crs = match crs {
        SourceCrs::Def(d) => {
            crate::geom::crs::chinese_of_definition(&d).map_or(SourceCrs::Def(d), SourceCrs::Chinese)
        }
        other => other,
    };
    let def = match &crs {
        SourceCrs::Crs84 | SourceCrs::Chinese(_) => None,
        SourceCrs::Def(def) => Some(def.as_str()),
    };
    let transform = || {
        def.map(|d| proj::Proj::new_known_crs(d, "OGC:CRS84", None))
            .transpose()
            .map_err(|e| format!("unsupported CRS {}: {e}", crs.describe()))
    };
    if let Err(reason) = transform() {
        return Err(LoadError::File { file: at, reason });
    }
    // Each feature on its own, in parallel (a PROJ transform per thread: they are not shared), so a million of
    // them are read in seconds; the first broken one in file order is the one named.
    let results: Vec<Result<LayerFeature, LoadError>> = rows
        .into_par_iter()
        .enumerate()
        .map_init(transform, |transform, (n, Raw { id, geometry, properties })| {
            let RawProps::Coded(codes) = properties else { unreachable!("every row was coded above") };
            let fid = id.unwrap_or_else(|| (n + 1).to_string());
            let geometry = match (geometry, transform) {
                (None, _) => None,
                (Some(g), Ok(transform)) => checked_geometry(g, transform.as_ref(), &crs)
                    .map_err(|reason| LoadError::feature(&at, fid.clone(), reason))?,
                // A thread whose transform could not be made (the first one could): the feature says so.
                (Some(_), Err(reason)) => return Err(LoadError::feature(&at, fid, reason.clone())),
            };
            Ok((fid, geometry, codes))
        })
        .collect();
    let features = results.into_iter().collect::<Result<Vec<LayerFeature>, LoadError>>()?;
    let mut seen = std::collections::HashSet::with_capacity(features.len());
    for (fid, _, _) in &features {
        if !seen.insert(fid.as_str()) {
            return Err(LoadError::feature(&at, fid.clone(), "duplicate feature id"));
        }
    }
    drop(seen);
    Ok(LayerFile {
        id,
        layer: name,
        path: path.clone(),
        crs: crs.describe(),
        fields,
        geometry_name: geometry_name.filter(|g| g != "geometry"),
        columns,
        features,
        flattened,
    })
}

/// Rows whose ids are only positions (FlatGeobuf, Shapefile, a GeoPackage's fid) take the ids an
/// `id` field holds, when every row has one and no two are the same: the ids planatlas's own exports write
/// there, so a layer keeps its feature ids through an export and an import (FlatGeobuf's are in spatial
/// order, so numbering the rows shuffled them).
fn ids_from_field(rows: Vec<Raw>, fields: &[(String, PropertyType)], columns: &ColumnsBuilder) -> Vec<Raw> {
    let Some(i) = fields.iter().position(|(n, _)| n == "id") else { return rows };
    let values = columns.distinct(i);
    let ids: Option<Vec<String>> = rows
        .iter()
        .map(|r| {
            let RawProps::Coded(codes) = &r.properties else { return None };
            match values.get(*codes.get(i)? as usize)? {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                // A whole number read as a real (a Shapefile's numeric field) is that whole number: 1, not 1.0.
                Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Some(i.to_string()),
                    (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(format!("{f:.0}")),
                    _ => Some(n.to_string()),
                },
                _ => None,
            }
        })
        .collect();
    let Some(ids) = ids else { return rows };
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    if !ids.iter().all(|id| seen.insert(id.as_str())) {
        return rows;
    }
    drop(seen);
    rows.into_iter().zip(ids).map(|(r, id)| Raw { id: Some(id), ..r }).collect()
}

/// A feature's geometry as served: of a type layers take, in CRS84 (through `transform` from `crs`), with
/// lon/lat in range and no degenerate part; `None` when it is empty.
fn checked_geometry(
    g: Geometry<f64>,
    transform: Option<&proj::Proj>,
    crs: &SourceCrs,
) -> Result<Option<Geometry<f64>>, String> {
    use geo::MapCoords;
    let kind = admin::geometry_type(&g);
    if matches!(g, Geometry::GeometryCollection(_)) {
        return Err(format!(
            "unsupported geometry type {kind}: layers take Point, LineString, Polygon and their Multi forms"
        ));
    }
    let g = match (transform, crs) {
        (None, SourceCrs::Chinese(c)) => {
            let back = if *c == crate::geom::crs::Crs::Bd09 {
                crate::geom::chinese::bd09_to_wgs84
            } else {
                crate::geom::chinese::gcj02_to_wgs84
            };
            g.map_coords(back)
        }
        (None, _) => g,
        (Some(p), _) => g
            .try_map_coords(|c| p.convert((c.x, c.y)).map(|(x, y)| geo::Coord { x, y }))
            .map_err(|e| format!("cannot transform from {}: {e}", crs.describe()))?,
    };
    // Rounding noise at the edges of the world (Natural Earth has 180.00000000000006) is snapped.
    let snap = |v: f64, edge: f64| if v.abs() > edge && v.abs() - edge < 1e-6 { edge.copysign(v) } else { v };
    let g = g.map_coords(|c| geo::Coord { x: snap(c.x, 180.0), y: snap(c.y, 90.0) });
    admin::check_lon_lat(&g)
        .map_err(|e| format!("{e} (after reading it in {}; is the CRS right?)", crs.describe()))?;
    checked_shape(g)
}

/// The parts `keep` finds non-empty, or its error for a degenerate one.
fn non_empty<T>(parts: Vec<T>, keep: impl Fn(&T) -> Result<bool, String>) -> Result<Vec<T>, String> {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        if keep(&p)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// A geometry as served: `None` when it is empty (`LINESTRING EMPTY`, as GDAL writes), an error when it is
/// degenerate (a line of one position, a ring of fewer than four), the same rule the GeoJSON reader applies, or
/// a polygon whose edges cross ([`crate::geom::polygon_crossing`]).
fn checked_shape(g: Geometry<f64>) -> Result<Option<Geometry<f64>>, String> {
    use geo::orient::{Direction, Orient};
    use geo::{LineString, MultiLineString, MultiPoint, MultiPolygon, Polygon};
    let line = |l: &LineString<f64>| match l.0.len() {
        0 => Ok(false),
        1 => Err("a line needs at least two positions; this one has one".to_owned()),
        _ => Ok(true),
    };
    let polygon = |p: &Polygon<f64>| -> Result<bool, String> {
        if p.exterior().0.is_empty() {
            return Ok(false);
        }
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            if ring.0.len() < 4 {
                return Err(format!(
                    "a polygon ring needs at least four positions; this one has {}",
                    ring.0.len()
                ));
            }
        }
        Ok(true)
    };
    let shaped = match g {
        Geometry::LineString(l) => line(&l)?.then_some(Geometry::LineString(l)),
        Geometry::MultiLineString(MultiLineString(ls)) => {
            let kept = non_empty(ls, line)?;
            (!kept.is_empty()).then_some(Geometry::MultiLineString(MultiLineString(kept)))
        }
        // Rings wound the usual way (exterior anticlockwise, holes clockwise), whatever the file did: a
        // Shapefile's exteriors are clockwise, and a clockwise exterior measures as the rest of the Earth.
        Geometry::Polygon(p) => polygon(&p)?.then(|| Geometry::Polygon(p.orient(Direction::Default))),
        Geometry::MultiPolygon(MultiPolygon(ps)) => {
            let kept = non_empty(ps, polygon)?;
            (!kept.is_empty()).then(|| Geometry::MultiPolygon(MultiPolygon(kept).orient(Direction::Default)))
        }
        Geometry::MultiPoint(MultiPoint(ps)) => {
            (!ps.is_empty()).then_some(Geometry::MultiPoint(MultiPoint(ps)))
        }
        other => Some(other),
    };
    // Checked as read, not as served: rounding to the 6 decimals served can make edges a micrometre apart
    // touch or cross (Natural Earth's Alaska border does), which no GIS tool refuses.
    if let Some(g) = &shaped {
        crate::geom::polygon_crossing(g)?;
    }
    Ok(shaped)
}

/// The join properties a layer's features carry, as queryables.
fn join_queryables() -> [Queryable; 3] {
    [
        Queryable {
            name: "county_adcodes",
            kind: PropertyType::StringArray,
            description: "Liaoning counties the feature lies in or crosses (spatial join; empty outside Liaoning)",
        },
        Queryable {
            name: "city_adcodes",
            kind: PropertyType::StringArray,
            description: "cities the feature lies in or crosses",
        },
        Queryable {
            name: "region_ids",
            kind: PropertyType::StringArray,
            description: "plan regions the feature lies in or crosses",
        },
    ]
}

/// A join value's name in a layer: its own unless the file uses it (its own `area_km2`, say), then
/// `join_<name>` (or `join_join_<name>`...).
#[derive(Debug)]
struct JoinNames {
    taken: std::collections::HashSet<String>,
}

impl JoinNames {
    fn name(&self, k: &str) -> String {
        let mut key = k.to_owned();
        while self.taken.contains(&key) {
            key = format!("join_{key}");
        }
        key
    }
}

/// A layer's joined values for features of one geometry type, made from what the join found: the values
/// [`projects::join_values`] gives, under the layer's names for them.
#[derive(Debug)]
struct LayerJoin {
    kind: &'static str,
    places: Arc<projects::Places>,
    names: Arc<JoinNames>,
    /// [`projects::measured_keys`] of the kind, under the layer's names.
    measured: Vec<&'static str>,
}

impl LayerJoin {
    fn values(&self, join: &projects::Join) -> Map<String, Value> {
        projects::join_values(self.kind, false, join, &self.places)
            .into_iter()
            .map(|(k, v)| (self.names.name(&k), v))
            .collect()
    }
}

impl MakeJoined for LayerJoin {
    fn make(&self, places: &[(u32, f64)], total: f64) -> Map<String, Value> {
        let counties = places.iter().map(|&(c, m)| (c as usize, m)).collect();
        self.values(&projects::Join { counties, total: Some(total) })
    }

    fn measured(&self) -> &[&'static str] {
        &self.measured
    }
}

/// One set of joined values, shared.
type Joined = Arc<Map<String, Value>>;

/// See [`projects::one_county_key`].
type OneCountyKey = (&'static str, usize, [u64; 4]);

/// Gives a layer's features their joined values, made once for every feature joined alike:
/// - the points of one county share one set;
/// - lines and polygons in one county share one set by what they say ([`projects::one_county_key`]): most short
///   lines lie in one county, and their measures are rounded to 10 m, so a million synthetic lines 2-6 km long
///   come to a few tens of thousands of sets;
/// - the others (across a county border) keep the numbers their join found and share the values that depend
///   only on the places with every feature joined to the same ones; the measured values are made when read
///   ([`Deferred`]).
struct Joiner {
    makers: HashMap<&'static str, Arc<LayerJoin>>,
    by_county: Vec<std::sync::OnceLock<Joined>>,
    one_county: std::sync::Mutex<HashMap<OneCountyKey, Joined>>,
    common: std::sync::Mutex<Commons>,
}

/// The values that depend only on the places, by geometry type and the places' numbers.
type Commons = HashMap<&'static str, HashMap<Box<[u32]>, Joined>>;

impl Joiner {
    fn new(admin: &Admin, names: &Arc<JoinNames>) -> Self {
        let places = Arc::new(projects::Places::new(&admin.counties, &admin.cities, &admin.regions));
        let makers = ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
            .into_iter()
            .map(|kind| {
                let measured = projects::measured_keys(kind).iter().map(|k| intern(&names.name(k))).collect();
                (kind, Arc::new(LayerJoin { kind, places: places.clone(), names: names.clone(), measured }))
            })
            .collect();
        Self {
            makers,
            by_county: (0..admin.counties.features().len()).map(|_| std::sync::OnceLock::new()).collect(),
            one_county: std::sync::Mutex::default(),
            common: std::sync::Mutex::default(),
        }
    }

    /// `own` with the values of `join` (of a feature with geometry `g`) after them.
    fn joined(&self, own: Properties, g: &Geometry<f64>, join: &projects::Join) -> Properties {
        fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
            m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
        }
        let kind = admin::geometry_type(g);
        let Some(maker) = self.makers.get(kind) else { return own };
        if kind == "Point" {
            let county = join.counties.keys().next().copied().unwrap_or_default();
            return match self.by_county.get(county) {
                Some(slot) => own.with_joined(slot.get_or_init(|| Arc::new(maker.values(join))).clone()),
                None => own.with_joined(Arc::new(maker.values(join))),
            };
        }
        if let Some(key) = projects::one_county_key(g, join) {
            if let Some(made) = lock(&self.one_county).get(&key) {
                return own.with_joined(made.clone());
            }
            // Made outside the lock; if another thread made them meanwhile, theirs are kept.
            let values = Arc::new(maker.values(join));
            return own.with_joined(lock(&self.one_county).entry(key).or_insert(values).clone());
        }
        #[expect(clippy::cast_possible_truncation, reason = "a county's number")]
        let places: Vec<(u32, f64)> = join.counties.iter().map(|(&c, &m)| (c as u32, m)).collect();
        let numbers: Box<[u32]> = places.iter().map(|&(c, _)| c).collect();
        let found = lock(&self.common).get(kind).and_then(|by| by.get(&numbers)).cloned();
        let common = found.unwrap_or_else(|| {
            let mut values = maker.values(join);
            values.retain(|k, _| !maker.measured.contains(&k.as_str()));
            lock(&self.common)
                .entry(kind)
                .or_default()
                .entry(numbers)
                .or_insert_with(|| Arc::new(values))
                .clone()
        });
        let deferred: Arc<dyn MakeJoined> = maker.clone();
        own.with_deferred(Deferred::new(deferred, common, places, join.total.unwrap_or_default()))
    }
}

/// Builds the collection of a layer: each feature inside Liaoning joined to the counties, cities and regions of
/// `admin` (with shares, as projects are); features outside are served with no join.
///
/// Each feature keeps its own values in the order of the layer's fields (one list of names for the layer), and
/// the values the join adds after them, shared with every feature joined alike or made when read (see
/// `Joiner`). The features are joined in parallel.
pub fn collection(file: LayerFile, admin: &Admin) -> Collection {
    let counties = &admin.counties;
    let locate = |p: geo::Coord<f64>| super::catalog::county_at(counties, &admin.county_index, p);
    let shapes = projects::county_shapes(counties);
    // The file's own values stay as they are; a join value whose name the file already uses goes under
    // `join_<name>`.
    let names = Arc::new(JoinNames {
        taken: file.fields.iter().map(|(n, _)| n.clone()).chain(file.geometry_name.clone()).collect(),
    });
    let columns = file.columns.clone();
    let province = counties.extent();
    let joiner = Joiner::new(admin, &names);
    let features: Vec<Feature> = file
        .features
        .into_par_iter()
        .map(|(id, geometry, codes)| {
            let in_province = |g: &Geometry<f64>| {
                use geo::Intersects;
                matches!((crate::geom::bounding_rect(g), province), (Some(b), Some(p)) if b.intersects(&p))
            };
            let join = geometry
                .as_ref()
                .filter(|g| in_province(g))
                .map(|g| projects::join(g, counties, &shapes, &admin.county_index, &locate))
                .filter(|j| !j.counties.is_empty());
            let own = Properties::row(columns.clone(), codes);
            let props = match (join, &geometry) {
                (Some(join), Some(g)) => joiner.joined(own, g, &join),
                // Outside Liaoning (or with no geometry): the file's properties only.
                _ => own,
            };
            Feature::new(id, geometry, props)
        })
        .collect();
    let mut queryables: Vec<Queryable> = file
        .fields
        .iter()
        .map(|(name, kind)| Queryable {
            name: intern(name),
            kind: *kind,
            description: intern(&format!("field '{name}' of the layer")),
        })
        .collect();
    if let Some(g) = &file.geometry_name {
        queryables.push(Queryable {
            name: intern(g),
            kind: PropertyType::Geometry,
            description: "the feature's geometry, under the name the file gives it (also 'geometry')",
        });
    }
    queryables
        .extend(join_queryables().into_iter().map(|q| Queryable { name: intern(&names.name(q.name)), ..q }));
    let kinds: BTreeSet<&str> =
        features.iter().filter_map(|f| f.geometry.as_ref()).map(admin::geometry_type).collect();
    // `datetime` selects on the layer's first date field, when it has one.
    let day_field = file.fields.iter().find(|(_, k)| *k == PropertyType::Date).map(|(n, _)| intern(n));
    let params: Vec<ParamSpec> = day_field
        .map(|f| ParamSpec {
            name: "datetime",
            kind: ParamKind::Interval(f, f),
            description: intern(&format!("features whose '{f}' falls in the interval")),
        })
        .into_iter()
        .collect();
    let flat_note = if file.flattened {
        " The file's positions have heights (Z) or measures (M); they are not kept: positions are served as \
         longitude and latitude only."
    } else {
        ""
    };
    let time_note = day_field.map_or_else(
        || " It has no date field, so `datetime` selects every feature.".to_owned(),
        |f| format!(" `datetime` selects on its date field '{f}'."),
    );
    let meta = CollectionMeta {
        id: intern(&file.id),
        title: intern(&file.layer),
        description: format!(
            "Layer '{}' of {} ({} features, {}; read in {} and served in CRS84). Features inside Liaoning carry \
             their county, city and region join with shares.{time_note}{flat_note}",
            file.layer,
            file.path.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
            features.len(),
            kinds.into_iter().collect::<Vec<_>>().join(", "),
            file.crs,
        ),
        item_type: "feature",
        queryables,
        params,
    };
    Collection::new(meta, features)
}

/// A string that is a calendar day (`YYYY-MM-DD`).
fn is_date(s: &str) -> bool {
    s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// A string that is an RFC 3339 instant (or one without its offset, as GDAL writes local times).
fn is_timestamp(s: &str) -> bool {
    utc_of(s).is_some()
}

/// The instant a timestamp text names: RFC 3339 (a space for the `T` too), or without its offset, read as UTC.
fn utc_of(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&chrono::Utc)).ok().or_else(|| {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
            .map(|t| t.and_utc())
    })
}

/// A GeoPackage instant as RFC 3339 in UTC: `2021-04-16T10:15:59` (no offset: UTC, as the format says),
/// `2021-04-16 10:15:59Z` and `2021-04-16T18:15:59+08:00` are `2021-04-16T10:15:59Z` (a fraction is kept).
fn utc_instant(text: &str) -> String {
    utc_of(text).map_or_else(|| text.to_owned(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// The type every non-null value of a field fits, for formats that do not declare one (GeoJSON), or to split
/// FlatGeobuf's one date-time type into dates and instants.
fn infer(values: impl Iterator<Item = Value>) -> Option<PropertyType> {
    let mut kind: Option<PropertyType> = None;
    for v in values {
        let k = match &v {
            Value::Null => continue,
            Value::Bool(_) => PropertyType::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => PropertyType::Integer,
            Value::Number(_) => PropertyType::Number,
            Value::String(s) if is_date(s) => PropertyType::Date,
            Value::String(s) if is_timestamp(s) => PropertyType::Timestamp,
            Value::String(_) => PropertyType::String,
            Value::Array(items) if items.iter().all(Value::is_string) => PropertyType::StringArray,
            // Objects and mixed arrays are served, but not queryable.
            Value::Array(_) | Value::Object(_) => return None,
        };
        kind = Some(match (kind, k) {
            (None, k) => k,
            (Some(a), b) if a == b => a,
            (
                Some(PropertyType::Integer | PropertyType::Number),
                PropertyType::Integer | PropertyType::Number,
            ) => PropertyType::Number,
            (
                Some(PropertyType::Date | PropertyType::Timestamp),
                PropertyType::Date | PropertyType::Timestamp,
            ) => PropertyType::Timestamp,
            _ => PropertyType::String,
        });
    }
    kind
}

fn read_geojson(path: &Path) -> Result<RawLayer, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::Io { file: path.display().to_string(), source: e })?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("layer").to_owned();
    let syntax = |detail: String| LoadError::Syntax {
        file: path.display().to_string(),
        format: "GeoJSON FeatureCollection",
        detail,
    };
    // A byte-order mark (Windows editors write one) is not part of the JSON.
    let doc: Value = serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(&text))
        .map_err(|e| syntax(e.to_string()))?;
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(syntax("the top level is not a FeatureCollection".into()));
    }
    // RFC 7946 is CRS84; the 2008 format's `crs` member may name another.
    let crs = match doc.pointer("/crs/properties/name").and_then(Value::as_str) {
        None => SourceCrs::Crs84,
        Some(n) => match crate::geom::crs::Crs::parse(n) {
            Some(crate::geom::crs::Crs::Crs84 | crate::geom::crs::Crs::Epsg4326) => SourceCrs::Crs84,
            // planatlas's own GCJ-02 / BD-09 files: the shift is undone.
            Some(c) if crate::geom::crs::chinese_name(c).is_some() => SourceCrs::Chinese(c),
            _ => {
                let code = n.rsplit([':', '/']).next().unwrap_or(n);
                match code.parse::<i64>() {
                    Ok(c) => SourceCrs::epsg(c),
                    Err(_) => SourceCrs::Def(n.to_owned()),
                }
            }
        },
    };
    let features = doc.get("features").and_then(Value::as_array).cloned().unwrap_or_default();
    let at = place(path, &name);
    let mut rows = Vec::with_capacity(features.len());
    let mut names: Vec<String> = Vec::new();
    let mut flattened = false;
    for (n, f) in features.into_iter().enumerate() {
        let id = match f.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(v)) => Some(v.to_string()),
            _ => None,
        };
        let shown = id.clone().unwrap_or_else(|| (n + 1).to_string());
        if id.as_deref() == Some("") {
            // An empty id cannot be asked for (`/items/` is the collection): say so rather than serve it.
            return Err(LoadError::feature(
                &at,
                (n + 1).to_string(),
                "an empty id: give the feature an id, or give none (features without one are numbered)",
            ));
        }
        let geometry = match f.get("geometry") {
            None | Some(Value::Null) => None,
            Some(g) => {
                flattened |= crate::geom::has_height(g);
                let gj: geojson::Geometry = serde_json::from_value(g.clone())
                    .map_err(|e| LoadError::feature(&at, shown.clone(), format!("geometry: {e}")))?;
                Some(
                    crate::geom::geo_from_geojson(gj)
                        .map_err(|e| LoadError::feature(&at, shown.clone(), format!("geometry: {e}")))?,
                )
            }
        };
        let properties = match f.get("properties") {
            Some(Value::Object(m)) => m.clone(),
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err(LoadError::feature(&at, shown, "properties is not an object")),
        };
        for k in properties.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        rows.push(Raw { id, geometry, properties: properties.into() });
    }
    let fields = names
        .into_iter()
        .map(|n| {
            let kind = infer(rows.iter().map(|r| r.properties.named(&n).cloned().unwrap_or(Value::Null)))
                .unwrap_or(PropertyType::String);
            (n, kind)
        })
        .collect();
    Ok(RawLayer { name, geometry_name: None, crs, fields, rows, coded: None, numbered: false, flattened })
}

/// A GeoPackage column's declared type as a property type (`None`: not served as a property).
fn gpkg_type(declared: &str) -> Option<PropertyType> {
    let t = declared.to_ascii_uppercase();
    let base = t.split('(').next().unwrap_or_default().trim();
    Some(match base {
        "BOOLEAN" => PropertyType::Boolean,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "INTEGER" => PropertyType::Integer,
        "FLOAT" | "DOUBLE" | "REAL" => PropertyType::Number,
        "DATE" => PropertyType::Date,
        "DATETIME" => PropertyType::Timestamp,
        "BLOB" => return None,
        _ => PropertyType::String,
    })
}

/// A GeoPackage feature table: name, geometry column, SRS id, organisation, its code, its definition.
type TableRow = (String, String, i64, Option<String>, Option<i64>, Option<String>);

fn read_gpkg(path: &Path, only: Option<&str>) -> Result<Vec<RawLayer>, LoadError> {
    use geozero::ToGeo;
    if !path.is_file() {
        return Err(file_error(path, "no such file"));
    }
    let sql = |e: rusqlite::Error| file_error(path, format!("not a readable GeoPackage: {e}"));
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sql)?;
    let mut q = conn
        .prepare(
            "SELECT c.table_name, g.column_name, g.srs_id, s.organization, s.organization_coordsys_id, s.definition
             FROM gpkg_contents c JOIN gpkg_geometry_columns g ON g.table_name = c.table_name
             LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id
             WHERE c.data_type = 'features' ORDER BY c.table_name",
        )
        .map_err(sql)?;
    let tables: Vec<TableRow> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let names: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    if tables.is_empty() {
        return Err(file_error(path, "the GeoPackage has no feature table"));
    }
    if let Some(want) = only
        && !names.contains(&want)
    {
        return Err(file_error(path, format!("no feature table '{want}'; it has {}", names.join(", "))));
    }
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = Vec::new();
    for (table, column, srs_id, org, code, definition) in
        tables.iter().filter(|t| only.is_none_or(|w| w == t.0))
    {
        let at = place(path, table);
        let crs = match (org.as_deref().map(str::to_ascii_uppercase).as_deref(), code, definition) {
            (Some("EPSG"), Some(c), _) => SourceCrs::epsg(*c),
            // 0: undefined geographic, taken as WGS84 longitude/latitude, as GDAL does.
            _ if *srs_id == 0 => SourceCrs::Crs84,
            (_, _, Some(d)) if d != "undefined" && !d.is_empty() => SourceCrs::Def(d.clone()),
            (None, _, None) if *srs_id != -1 => {
                return Err(LoadError::File {
                    file: at,
                    reason: format!("srs_id {srs_id} is not in gpkg_spatial_ref_sys"),
                });
            }
            _ => {
                return Err(LoadError::File {
                    file: at,
                    reason: format!("srs_id {srs_id} has no usable definition (undefined Cartesian CRS)"),
                });
            }
        };
        let mut info = conn.prepare(&format!("PRAGMA table_info({})", quoted(table))).map_err(sql)?;
        // (name, declared type, primary key)
        let columns: Vec<(String, String, bool)> = info
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get::<_, i64>(5)? > 0)))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let fid = columns.iter().find(|c| c.2).map(|c| c.0.clone());
        let fields: Vec<(String, PropertyType)> = columns
            .iter()
            .filter(|c| !c.2 && c.0 != *column)
            .filter_map(|c| gpkg_type(&c.1).map(|t| (c.0.clone(), t)))
            .collect();
        let mut select = conn.prepare(&format!("SELECT * FROM {}", quoted(table))).map_err(sql)?;
        let names: Vec<String> = select.column_names().iter().map(|s| (*s).to_owned()).collect();
        let mut rows_q = select.query([]).map_err(sql)?;
        let mut rows = Vec::new();
        let mut flattened = false;
        while let Some(row) = rows_q.next().map_err(sql)? {
            let mut raw = Raw { id: None, geometry: None, properties: RawProps::Named(Map::new()) };
            for (i, name) in names.iter().enumerate() {
                use rusqlite::types::ValueRef;
                let v = row.get_ref(i).map_err(sql)?;
                if Some(name) == fid.as_ref() {
                    raw.id = match v {
                        ValueRef::Integer(n) => Some(n.to_string()),
                        ValueRef::Text(t) => Some(utf8(t).map_err(|e| {
                            LoadError::feature(&at, (rows.len() + 1).to_string(), format!("{name}: {e}"))
                        })?),
                        _ => None,
                    };
                } else if name == column {
                    let other = match v {
                        ValueRef::Integer(_) => Some("an integer"),
                        ValueRef::Real(_) => Some("a number"),
                        ValueRef::Text(_) => Some("text"),
                        ValueRef::Null | ValueRef::Blob(_) => None,
                    };
                    if let Some(other) = other {
                        let shown = raw.id.clone().unwrap_or_else(|| (rows.len() + 1).to_string());
                        return Err(LoadError::feature(
                            &at,
                            shown,
                            format!(
                                "geometry: the column {column} holds {other}, not a GeoPackage geometry blob"
                            ),
                        ));
                    }
                    if let ValueRef::Blob(b) = v {
                        let shown = raw.id.clone().unwrap_or_else(|| (rows.len() + 1).to_string());
                        flattened |= check_gpkg_wkb(b)
                            .map_err(|e| LoadError::feature(&at, shown.clone(), format!("geometry: {e}")))?;
                        // The header's empty flag (bit 4 of its flags byte): an empty geometry, as GDAL
                        // writes POINT EMPTY, is no geometry (the WKB reader refuses an empty point, and one
                        // such feature refused the whole file).
                        if b.get(3).is_some_and(|flags| flags & 0x10 != 0) {
                            raw.geometry = None;
                            continue;
                        }
                        let g = geozero::wkb::GpkgWkb(b.to_vec())
                            .to_geo()
                            .map_err(|e| LoadError::feature(&at, shown, format!("geometry: {e}")))?;
                        raw.geometry = Some(g);
                    }
                } else if let Some((_, kind)) = fields.iter().find(|f| f.0 == *name) {
                    let value = match (v, kind) {
                        (ValueRef::Null | ValueRef::Blob(_), _) => Value::Null,
                        (ValueRef::Integer(n), PropertyType::Boolean) => json!(n != 0),
                        (ValueRef::Integer(n), _) => json!(n),
                        (ValueRef::Real(f), _) => json!(f),
                        (ValueRef::Text(t), kind) => {
                            let text = utf8(t).map_err(|e| {
                                let shown = raw.id.clone().unwrap_or_else(|| (rows.len() + 1).to_string());
                                LoadError::feature(&at, shown, format!("{name}: {e}"))
                            })?;
                            // SQLite keeps any text in any column: a value its declared type cannot hold would
                            // be served against the schema the layer publishes (and 'garbage' in a DATE column
                            // matched datetime filters).
                            let fits = match kind {
                                PropertyType::Date => is_date(&text),
                                PropertyType::Timestamp => is_timestamp(&text),
                                PropertyType::Integer | PropertyType::Number | PropertyType::Boolean => false,
                                _ => true,
                            };
                            if !fits {
                                let shown = raw.id.clone().unwrap_or_else(|| (rows.len() + 1).to_string());
                                return Err(LoadError::feature(
                                    &at,
                                    shown,
                                    format!(
                                        "{name}: '{}' is not a {} value, as the column's declared type says",
                                        text.chars().take(40).collect::<String>(),
                                        type_name(*kind)
                                    ),
                                ));
                            }
                            // A GeoPackage's DATETIME is UTC (its specification, 1.1.1.1.1): each is served as an
                            // RFC 3339 instant in UTC, whether written without its `Z` (as the OGC test data is),
                            // with a space or with another offset (which a client reading the clock would miss).
                            if *kind == PropertyType::Timestamp {
                                Value::String(utc_instant(&text))
                            } else {
                                Value::String(text)
                            }
                        }
                    };
                    if let RawProps::Named(m) = &mut raw.properties {
                        m.insert(name.clone(), value);
                    }
                }
            }
            rows.push(raw);
        }
        out.push(RawLayer {
            name: table.clone(),
            geometry_name: Some(column.clone()),
            crs,
            fields,
            rows,
            coded: None,
            numbered: true,
            flattened,
        });
    }
    Ok(out)
}

/// Places a FlatGeobuf feature's values in the layer's columns as they are read (`slots[i]`: the column of
/// the file's column `i`, `None` for one not served): a string or JSON text already seen is not copied again.
/// `codes` is reused from feature to feature; a column the feature has no value for stays `u32::MAX`.
struct FgbRow<'a> {
    slots: &'a [Option<usize>],
    columns: &'a mut ColumnsBuilder,
    codes: &'a mut [u32],
}

impl geozero::PropertyProcessor for FgbRow<'_> {
    fn property(
        &mut self,
        i: usize,
        _name: &str,
        v: &geozero::ColumnValue<'_>,
    ) -> geozero::error::Result<bool> {
        use geozero::ColumnValue as C;
        let Some(&Some(slot)) = self.slots.get(i) else { return Ok(false) };
        let columns = &mut *self.columns;
        let code = match *v {
            C::String(s) | C::DateTime(s) => columns.code_str(slot, s),
            C::Json(s) => columns.code_json(slot, s),
            C::Byte(n) => columns.code(slot, json!(n)),
            C::UByte(n) => columns.code(slot, json!(n)),
            C::Bool(b) => columns.code(slot, json!(b)),
            C::Short(n) => columns.code(slot, json!(n)),
            C::UShort(n) => columns.code(slot, json!(n)),
            C::Int(n) => columns.code(slot, json!(n)),
            C::UInt(n) => columns.code(slot, json!(n)),
            C::Long(n) => columns.code(slot, json!(n)),
            C::ULong(n) => columns.code(slot, json!(n)),
            C::Float(f) => columns.code(slot, json!(f64::from(f))),
            C::Double(f) => columns.code(slot, json!(f)),
            C::Binary(_) => columns.code(slot, Value::Null),
        };
        if let Some(place) = self.codes.get_mut(slot) {
            *place = code;
        }
        Ok(false)
    }
}

/// FlatGeobuf features read per batch, and decoded per part of a batch on each thread.
const FGB_BATCH: usize = 65_536;
const FGB_PART: usize = 4_096;

/// A part of a batch of FlatGeobuf features, decoded: each feature's geometry and the positions of its values
/// in the part's own columns.
struct FgbPart {
    rows: Vec<FgbRowRead>,
    columns: ColumnsBuilder,
}

/// A FlatGeobuf feature as decoded: its geometry and the positions of its values in its part's columns.
type FgbRowRead = (Option<Geometry<f64>>, Box<[u32]>);

/// Decodes the features at `spans` of `arena` (each a feature's flatbuffer with its size prefix). An error
/// names the feature by its place in the part.
fn decode_fgb_part(
    arena: &[u8],
    spans: &[std::ops::Range<usize>],
    geometry_type: flatgeobuf::GeometryType,
    types: &[flatgeobuf::ColumnType],
    slots: &[Option<usize>],
    names: Vec<&'static str>,
) -> Result<FgbPart, (usize, String)> {
    let served = names.len();
    let mut columns = ColumnsBuilder::new(names);
    let mut rows = Vec::with_capacity(spans.len());
    let mut codes = vec![u32::MAX; served];
    for (i, span) in spans.iter().enumerate() {
        let fail = |reason: String| (i, reason);
        let feature = flatgeobuf::size_prefixed_root_as_feature(&arena[span.clone()])
            .map_err(|e| fail(format!("not a readable feature: {e}")))?;
        // The crate's geometry reader indexes what the file says: a malformed one must not take the process.
        let geometry = match feature.geometry() {
            None => None,
            Some(g) => {
                let mut writer = geozero::geo_types::GeoWriter::new();
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    flatgeobuf::read_geometry(&mut writer, &g, geometry_type)
                }))
                .map_err(|_| fail("geometry: malformed".into()))?
                .map_err(|e| fail(format!("geometry: {e}")))?;
                Some(writer.take_geometry().ok_or_else(|| fail("geometry: Missing Geometry".into()))?)
            }
        };
        let mut row = FgbRow { slots, columns: &mut columns, codes: &mut codes };
        if let Some(values) = feature.properties() {
            fgb_properties(values.bytes(), types, &mut row).map_err(|e| fail(format!("properties: {e}")))?;
        }
        for (j, code) in codes.iter_mut().enumerate() {
            if *code == u32::MAX {
                *code = columns.code(j, Value::Null);
            }
        }
        rows.push((geometry, codes.as_slice().into()));
        codes.fill(u32::MAX);
    }
    Ok(FgbPart { rows, columns })
}

/// Reads a FlatGeobuf feature's property bytes (a column index, then its value as the column's type says),
/// every length checked against what is there.
fn fgb_properties(
    bytes: &[u8],
    types: &[flatgeobuf::ColumnType],
    row: &mut impl geozero::PropertyProcessor,
) -> Result<(), String> {
    use flatgeobuf::ColumnType as T;
    use geozero::ColumnValue as C;
    let mut at = 0;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let b = bytes.get(*at..*at + n).ok_or_else(|| format!("cut short at byte {}", *at))?;
        *at += n;
        Ok(b)
    };
    // `n` bytes, little-endian, as the low bytes of a u64 (each type below keeps its own width).
    let le = |at: &mut usize, n: usize| -> Result<u64, String> {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(take(at, n)?);
        Ok(u64::from_le_bytes(a))
    };
    // A trailing byte after the last value is tolerated, as the reference reader does (GDAL writes one after
    // a binary column).
    while at + 1 < bytes.len() {
        let i = le(&mut at, 2)? as usize;
        let kind = *types.get(i).ok_or_else(|| format!("column {i} is not in the header"))?;
        let text = |at: &mut usize| -> Result<&str, String> {
            let len = le(at, 4)? as usize;
            std::str::from_utf8(take(at, len)?).map_err(|_| "a string is not UTF-8".to_owned())
        };
        let value = match kind {
            T::Byte => C::Byte(le(&mut at, 1)? as u8 as i8),
            T::UByte => C::UByte(le(&mut at, 1)? as u8),
            T::Bool => C::Bool(le(&mut at, 1)? != 0),
            T::Short => C::Short(le(&mut at, 2)? as u16 as i16),
            T::UShort => C::UShort(le(&mut at, 2)? as u16),
            T::Int => C::Int(le(&mut at, 4)? as u32 as i32),
            T::UInt => C::UInt(le(&mut at, 4)? as u32),
            T::Long => C::Long(le(&mut at, 8)? as i64),
            T::ULong => C::ULong(le(&mut at, 8)?),
            T::Float => C::Float(f32::from_bits(le(&mut at, 4)? as u32)),
            T::Double => C::Double(f64::from_bits(le(&mut at, 8)?)),
            T::String => C::String(text(&mut at)?),
            T::Json => C::Json(text(&mut at)?),
            T::DateTime => C::DateTime(text(&mut at)?),
            T::Binary => {
                let len = le(&mut at, 4)? as usize;
                C::Binary(take(&mut at, len)?)
            }
            other => return Err(format!("column {i} has a type this reader does not know ({other:?})")),
        };
        row.property(i, "", &value).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The day of a value GDAL wrote for a date (`2021-10-12`, or `2021-10-12T00:00:00` with no offset).
fn gdal_date(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let day = s.strip_suffix("T00:00:00").unwrap_or(s);
    is_date(day).then(|| day.to_owned())
}

fn read_fgb(path: &Path) -> Result<RawLayer, LoadError> {
    use flatgeobuf::{ColumnType, FallibleStreamingIterator, FgbReader};
    let file = std::fs::File::open(path)
        .map_err(|e| LoadError::Io { file: path.display().to_string(), source: e })?;
    let mut input = std::io::BufReader::new(file);
    let bad = |e: flatgeobuf::Error| file_error(path, format!("not a readable FlatGeobuf file: {e}"));
    let reader = FgbReader::open(&mut input).map_err(bad)?;
    let header = reader.header();
    let flattened = header.has_z() || header.has_m();
    let name = header.name().filter(|n| !n.is_empty()).map_or_else(
        || path.file_stem().and_then(|s| s.to_str()).unwrap_or("layer").to_owned(),
        str::to_owned,
    );
    let crs = match header.crs() {
        None => SourceCrs::Crs84,
        Some(c) if c.code() == 4326 || c.code() == 0 && c.wkt().is_none() => SourceCrs::Crs84,
        Some(c) if c.code() > 0 => SourceCrs::epsg(i64::from(c.code())),
        Some(c) => match c.wkt() {
            Some(w) => SourceCrs::Def(w.to_owned()),
            None => SourceCrs::Crs84,
        },
    };
    let columns: Vec<(String, ColumnType)> = header
        .columns()
        .map(|cs| cs.iter().map(|c| (c.name().to_owned(), c.type_())).collect())
        .unwrap_or_default();
    let at = place(path, &name);
    // Where each column's value goes in a row: the served columns (all but binary ones), in order.
    let mut served = 0;
    let slots: Vec<Option<usize>> = columns
        .iter()
        .map(|(_, t)| {
            (*t != ColumnType::Binary).then(|| {
                served += 1;
                served - 1
            })
        })
        .collect();
    let geometry_type = header.geometry_type();
    let types: Vec<ColumnType> = columns.iter().map(|(_, t)| *t).collect();
    let mut features = reader.select_all_seq().map_err(bad)?;
    // The header's count is the file's word: room for at most one feature per 16 bytes of file.
    let file_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut rows =
        Vec::with_capacity(features.size_hint().0.min(usize::try_from(file_bytes / 16).unwrap_or(0)));
    let served_columns: Vec<(String, ColumnType)> =
        columns.into_iter().filter(|(_, t)| *t != ColumnType::Binary).collect();
    let names: Vec<&'static str> = served_columns.iter().map(|(n, _)| intern(n)).collect();
    let mut coded = ColumnsBuilder::new(names.clone());
    // In batches: one thread copies the features' bytes out of the file, then every thread decodes a part
    // of the batch (geometry, and values into columns of its own), and the parts' columns are merged in file
    // order, so the layer is what a single pass would have made.
    let mut arena: Vec<u8> = Vec::new();
    let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
    loop {
        arena.clear();
        spans.clear();
        while spans.len() < FGB_BATCH {
            let Some(f) = features.next().map_err(bad)? else { break };
            let bytes = f.fbs_feature()._tab.buf();
            spans.push(arena.len()..arena.len() + bytes.len());
            arena.extend_from_slice(bytes);
        }
        let first = rows.len();
        let parts: Vec<Result<FgbPart, LoadError>> = spans
            .par_chunks(FGB_PART)
            .enumerate()
            .map(|(n, part)| {
                let start = first + n * FGB_PART;
                decode_fgb_part(&arena, part, geometry_type, &types, &slots, names.clone())
                    .map_err(|(i, reason)| LoadError::feature(&at, (start + i + 1).to_string(), reason))
            })
            .collect();
        let parts: Vec<FgbPart> = parts.into_iter().collect::<Result<_, _>>()?;
        let (columns, part_rows): (Vec<ColumnsBuilder>, Vec<Vec<FgbRowRead>>) =
            parts.into_iter().map(|p| (p.columns, p.rows)).unzip();
        let remaps = coded.merge(columns);
        for (p, part) in part_rows.into_iter().enumerate() {
            let remaps = &remaps;
            rows.par_extend(part.into_par_iter().map(move |(geometry, mut codes)| {
                for (j, c) in codes.iter_mut().enumerate() {
                    *c = remaps[j][p][*c as usize];
                }
                Raw { id: None, geometry, properties: RawProps::Coded(codes) }
            }));
        }
        if spans.len() < FGB_BATCH {
            break;
        }
    }
    // A DateTime column's values are text in the file: one no date or instant reads as would be served against
    // the schema the layer publishes (and match datetime filters), so it stops loading, naming the feature,
    // as a GeoPackage's does.
    for (i, (n, t)) in served_columns.iter().enumerate() {
        if *t != ColumnType::DateTime {
            continue;
        }
        let values = coded.distinct(i);
        let bad = values.iter().position(|v| {
            v.as_str().is_some_and(|s| !is_timestamp(s) && !is_date(s) && gdal_date(v).is_none())
        });
        if let Some(code) = bad {
            let row = rows.iter().position(|r| {
                matches!(&r.properties, RawProps::Coded(c) if c.get(i).is_some_and(|&c| c as usize == code))
            });
            return Err(LoadError::feature(
                &at,
                row.map_or_else(|| "?".to_owned(), |r| (r + 1).to_string()),
                format!(
                    "{n}: '{}' is not a date-time value, as the column's declared type says",
                    values[code].as_str().unwrap_or_default().chars().take(40).collect::<String>()
                ),
            ));
        }
    }
    let fields: Vec<(String, PropertyType)> = served_columns
        .into_iter()
        .enumerate()
        .map(|(i, (n, t))| {
            let kind = match t {
                ColumnType::Bool => PropertyType::Boolean,
                ColumnType::Float | ColumnType::Double => PropertyType::Number,
                ColumnType::String | ColumnType::Json => PropertyType::String,
                // FlatGeobuf has one date-time type: GDAL writes a date field into it as the day at 00:00:00
                // with no offset. A column holding only such values is read back as the dates it was.
                ColumnType::DateTime
                    if coded.distinct(i).iter().all(|v| v.is_null() || gdal_date(v).is_some()) =>
                {
                    coded.map_column(i, |v| {
                        if let Some(day) = gdal_date(v) {
                            *v = Value::String(day);
                        }
                    });
                    PropertyType::Date
                }
                ColumnType::DateTime => PropertyType::Timestamp,
                _ => PropertyType::Integer,
            };
            (n, kind)
        })
        .collect();
    Ok(RawLayer {
        name,
        geometry_name: None,
        crs,
        fields,
        rows,
        coded: Some(coded),
        numbered: true,
        flattened,
    })
}

/// The parts of a Shapefile: `.shp`, `.dbf`, and the optional `.prj` and `.cpg`.
struct ShapeParts {
    name: String,
    shp: Vec<u8>,
    dbf: Vec<u8>,
    prj: Option<String>,
    cpg: Option<String>,
}

fn shape_parts(path: &Path, only: Option<&str>) -> Result<ShapeParts, LoadError> {
    let io = |e: std::io::Error| LoadError::Io { file: path.display().to_string(), source: e };
    if ends_with(path, &[".shp"]) {
        // Sidecars in either case (`POINT.SHP` with `POINT.DBF`).
        let side = |ext: &str| {
            std::fs::read(path.with_extension(ext))
                .or_else(|_| std::fs::read(path.with_extension(ext.to_ascii_uppercase())))
        };
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("layer").to_owned();
        return Ok(ShapeParts {
            name,
            shp: std::fs::read(path).map_err(io)?,
            dbf: side("dbf").map_err(|e| file_error(path, format!("no .dbf beside it: {e}")))?,
            prj: side("prj").ok().map(|b| String::from_utf8_lossy(&b).into_owned()),
            cpg: side("cpg").ok().map(|b| String::from_utf8_lossy(&b).into_owned()),
        });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| file_error(path, format!("not a readable zip: {e}")))?;
    let entries: Vec<String> = zip.file_names().map(str::to_owned).collect();
    let stems: Vec<String> = entries
        .iter()
        .filter(|n| n.to_ascii_lowercase().ends_with(".shp"))
        .map(|n| n[..n.len() - 4].to_owned())
        .collect();
    let stem = match (only, stems.as_slice()) {
        (None, [one]) => one.clone(),
        (None, []) => return Err(file_error(path, "the zip holds no .shp file")),
        (None, many) => {
            return Err(file_error(
                path,
                format!("the zip holds several Shapefiles ({}): add :LAYER", many.join(", ")),
            ));
        }
        (Some(want), _) => {
            stems.iter().find(|s| s.rsplit('/').next() == Some(want)).cloned().ok_or_else(|| {
                file_error(path, format!("no Shapefile '{want}' in the zip; it has {}", stems.join(", ")))
            })?
        }
    };
    let mut left = MAX_UNZIPPED;
    let mut part = |ext: &str, cap: u64| -> Result<Option<Vec<u8>>, LoadError> {
        let Some(name) = entries.iter().find(|e| e.eq_ignore_ascii_case(&format!("{stem}.{ext}"))) else {
            return Ok(None);
        };
        let Ok(mut f) = zip.by_name(name) else { return Ok(None) };
        let cap = cap.min(left);
        let too_big = || {
            file_error(
                path,
                format!(
                    "{name} unpacks to more than {cap} bytes (a zipped Shapefile's parts unpack to at most \
                     {MAX_UNZIPPED} bytes together)"
                ),
            )
        };
        // The declared size can lie: read no more than the cap either way.
        if f.size() > cap {
            return Err(too_big());
        }
        let mut buf = Vec::new();
        if ext == "shp" {
            // The header first: a file that is no Shapefile (file code 9994) is refused before the rest is
            // unpacked.
            let mut header = [0u8; 4];
            if f.read_exact(&mut header).is_err() || u32::from_be_bytes(header) != 9994 {
                return Err(file_error(
                    path,
                    format!("{name} is not a Shapefile (its file code is not 9994)"),
                ));
            }
            buf.extend_from_slice(&header);
        }
        if f.take(cap + 1 - buf.len() as u64).read_to_end(&mut buf).is_err() {
            return Ok(None);
        }
        if buf.len() as u64 > cap {
            return Err(too_big());
        }
        left -= buf.len() as u64;
        Ok(Some(buf))
    };
    let shp = part("shp", MAX_UNZIPPED)?;
    let dbf_part = part("dbf", MAX_UNZIPPED)?;
    let prj = part("prj", MAX_UNZIPPED_TEXT)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let cpg = part("cpg", MAX_UNZIPPED_TEXT)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let shp = shp.ok_or_else(|| file_error(path, format!("cannot read {stem}.shp in the zip")))?;
    let dbf =
        dbf_part.ok_or_else(|| file_error(path, format!("the zip has no {stem}.dbf beside {stem}.shp")))?;
    let name = stem.rsplit('/').next().unwrap_or(&stem).to_owned();
    Ok(ShapeParts { name, shp, dbf, prj, cpg })
}

/// A Shapefile polygon from its rings, as GDAL reads it: the rings wound clockwise are exteriors, and each
/// one wound anticlockwise is a hole of the smallest exterior holding it, or else a polygon of its own. (The
/// decoder made each anticlockwise ring a hole of the exterior before it, wherever it lay, and dropped one with
/// no exterior before it: a lone anticlockwise ring lost the feature's geometry.)
fn rings_by_containment<P>(
    rings: &[shapefile::PolygonRing<P>],
    xy: impl Fn(&P) -> (f64, f64),
) -> Geometry<f64> {
    use geo::{Area, Intersects, LineString, MultiPolygon, Polygon};
    let line = |points: &[P]| LineString::from(points.iter().map(&xy).collect::<Vec<(f64, f64)>>());
    let mut polygons: Vec<Polygon<f64>> = rings
        .iter()
        .filter_map(|r| match r {
            shapefile::PolygonRing::Outer(points) if !points.is_empty() => {
                Some(Polygon::new(line(points), vec![]))
            }
            _ => None,
        })
        .collect();
    let exteriors = polygons.len();
    let areas: Vec<f64> = polygons.iter().map(Area::unsigned_area).collect();
    for r in rings {
        let shapefile::PolygonRing::Inner(points) = r else { continue };
        let Some(first) = points.first() else { continue };
        let (x, y) = xy(first);
        let at = geo::Coord { x, y };
        let holder = (0..exteriors)
            .filter(|&i| Polygon::new(polygons[i].exterior().clone(), vec![]).intersects(&at))
            .min_by(|&a, &b| areas[a].total_cmp(&areas[b]));
        match holder {
            Some(i) => polygons[i].interiors_push(line(points)),
            None => polygons.push(Polygon::new(line(points), vec![])),
        }
    }
    Geometry::MultiPolygon(MultiPolygon(polygons))
}

/// One field of a dBase header, as the file declares it (the `dbase` crate keeps the decimal count private).
struct DbfField {
    /// The name's bytes, in the file's encoding.
    raw_name: Vec<u8>,
    /// The type letter (`C` text, `N` number…).
    kind: u8,
    /// Where its bytes start in a record (after the deletion flag) and how many there are.
    offset: usize,
    len: usize,
    /// Decimal places: whole numbers are `N` fields with none.
    decimals: u8,
}

/// The fields of a dBase header, in record order.
fn dbf_fields(dbf: &[u8]) -> Vec<DbfField> {
    let header_len = dbf_word(dbf, 8..10);
    let mut out = Vec::new();
    let mut at = 32;
    let mut offset = 1;
    while at + 32 <= header_len.min(dbf.len()) && dbf[at] != 0x0D {
        let raw = &dbf[at..at + 11];
        let len = usize::from(dbf[at + 16]);
        out.push(DbfField {
            raw_name: raw.split(|&b| b == 0).next().unwrap_or_default().to_vec(),
            kind: dbf[at + 11],
            offset,
            len,
            decimals: dbf[at + 17],
        });
        offset += len;
        at += 32;
    }
    out
}

/// The encoding a dBase header's language driver byte names, as ArcGIS and GDAL write it (GDAL's default
/// 0x57 is ISO-8859-1, which windows-1252 extends), when `encoding_rs` has it. The DOS code pages (437, 850…)
/// it lacks are `None`, as is 0 (no driver).
fn ldid_encoding(ldid: u8) -> Option<&'static encoding_rs::Encoding> {
    Some(match ldid {
        0x03 | 0x57 | 0x58 | 0x59 => encoding_rs::WINDOWS_1252,
        0x4D | 0x7A => encoding_rs::GBK,
        0x4F | 0x78 => encoding_rs::BIG5,
        0x4E | 0x79 => encoding_rs::EUC_KR,
        0x13 | 0x7B => encoding_rs::SHIFT_JIS,
        0x50 | 0x7C => encoding_rs::WINDOWS_874,
        0x7D => encoding_rs::WINDOWS_1255,
        0x7E => encoding_rs::WINDOWS_1256,
        0xC8 => encoding_rs::WINDOWS_1250,
        0xC9 => encoding_rs::WINDOWS_1251,
        0xCA => encoding_rs::WINDOWS_1254,
        0xCB => encoding_rs::WINDOWS_1253,
        0x26 | 0x65 => encoding_rs::IBM866,
        _ => return None,
    })
}

/// A little-endian number of a dBase header (0 where the file is too short): the record count at 4..8, the
/// header's length at 8..10, a record's at 10..12.
fn dbf_word(dbf: &[u8], at: std::ops::Range<usize>) -> usize {
    dbf.get(at).map_or(0, |b| b.iter().rev().fold(0, |a, &x| a << 8 | usize::from(x)))
}

/// Where the first text value of a `.dbf` read as UTF-8 is not UTF-8: (record, field index), checking only
/// text (`C`) fields (binary fields hold any bytes).
fn dbf_text_not_utf8(dbf: &[u8], fields: &[DbfField]) -> Option<(usize, usize)> {
    let word = |r| dbf_word(dbf, r);
    let (header_len, count, record_len) = (word(8..10), word(4..8), word(10..12));
    (0..count).find_map(|r| {
        let record = dbf.get(header_len + r * record_len..header_len + (r + 1) * record_len)?;
        // A deleted record is not read.
        if record.first() == Some(&b'*') {
            return None;
        }
        fields.iter().enumerate().find_map(|(i, f)| {
            let bytes = record.get(f.offset..f.offset + f.len)?;
            (f.kind == b'C' && std::str::from_utf8(bytes).is_err()).then_some((r, i))
        })
    })
}

/// A dBase record's values in field order (the `dbase` crate's own record is a map keyed by names it may
/// have decoded wrongly).
struct InOrder(Vec<shapefile::dbase::FieldValue>);

impl shapefile::dbase::ReadableRecord for InOrder {
    fn read_using<Source, MemoSource>(
        fields: &mut shapefile::dbase::FieldIterator<Source, MemoSource>,
    ) -> Result<Self, shapefile::dbase::FieldIOError>
    where
        Source: std::io::Read + std::io::Seek,
        MemoSource: std::io::Read + std::io::Seek,
    {
        let mut values = Vec::new();
        loop {
            match fields.read_next_field_impl() {
                Ok((_, v)) => values.push(v),
                Err(e) if matches!(e.kind(), shapefile::dbase::ErrorKind::EndOfRecord) => {
                    return Ok(Self(values));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn read_shapefile(path: &Path, only: Option<&str>) -> Result<RawLayer, LoadError> {
    use shapefile::dbase::{self, FieldType, FieldValue};
    let parts = shape_parts(path, only)?;
    let at = place(path, &parts.name);
    let (shape_count, flattened) =
        check_shp(&parts.shp).map_err(|e| LoadError::File { file: at.clone(), reason: e })?;
    let bad = |e: &dyn std::fmt::Display| LoadError::File {
        file: at.clone(),
        reason: format!("not a readable Shapefile: {e}"),
    };
    let shapes = shapefile::ShapeReader::new(Cursor::new(&parts.shp)).map_err(|e| bad(&e))?;
    // The text encoding: the .cpg's label (UTF-8, GBK, 936…), else the dBase header's code page, else UTF-8.
    let cpg = match parts.cpg.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(label) => {
            // Labels are case-insensitive: GDAL writes CP936, others cp936 or 936.
            let label = if label.bytes().all(|b| b.is_ascii_digit()) {
                format!("cp{label}")
            } else {
                label.to_ascii_lowercase()
            };
            let encoding = encoding_rs::Encoding::for_label(label.as_bytes())
                .or_else(|| (label == "cp65001").then_some(encoding_rs::UTF_8))
                .or_else(|| (label == "cp936").then_some(encoding_rs::GBK))
                .ok_or_else(|| LoadError::File {
                    file: at.clone(),
                    reason: format!(
                        "the .cpg names an encoding planatlas does not read ('{label}'): name another (UTF-8, \
                         GBK, windows-1252…), or write the file again as UTF-8 (ogr2ogr -lco ENCODING=UTF-8)"
                    ),
                })?;
            Some(encoding)
        }
    };
    // Without a .cpg, the dBase header's language driver byte (GBK as ArcGIS writes it, ISO-8859-1 as GDAL
    // does by default).
    let from_cpg = cpg.is_some();
    let ldid = parts.dbf.get(29).copied().unwrap_or(0);
    let cpg = cpg.or_else(|| ldid_encoding(ldid));
    let dbf_fields = dbf_fields(&parts.dbf);
    // Text read as UTF-8 (said so, or nothing said) must be UTF-8: other bytes (a GBK file whose .cpg was lost,
    // or says UTF-8) were read as replacement characters, the names and labels destroyed without a word.
    let read_as_utf8 = cpg.is_none_or(|e| e == encoding_rs::UTF_8);
    // Why the text is read as UTF-8, and what to do about it.
    let advice = || {
        if from_cpg {
            "the .cpg says UTF-8: give the .cpg the file's encoding (GBK for most Chinese files)".to_owned()
        } else if ldid == 0 {
            "neither a .cpg nor the header's language driver names its encoding: give the .cpg the file's \
             encoding (GBK for most Chinese files)"
                .to_owned()
        } else {
            format!(
                "the header's language driver 0x{ldid:02X} names a code page planatlas does not read (a DOS one): \
                 write the file again as UTF-8 (ogr2ogr -lco ENCODING=UTF-8)"
            )
        }
    };
    if read_as_utf8 && let Some(f) = dbf_fields.iter().position(|f| std::str::from_utf8(&f.raw_name).is_err())
    {
        return Err(LoadError::File {
            file: at.clone(),
            reason: format!("field {}: its name is not UTF-8, and {}", f + 1, advice()),
        });
    }
    if read_as_utf8 && let Some((record, field)) = dbf_text_not_utf8(&parts.dbf, &dbf_fields) {
        let name = String::from_utf8_lossy(&dbf_fields[field].raw_name).into_owned();
        return Err(LoadError::File {
            file: at.clone(),
            reason: format!(
                "record {}, field {} ({name}): the text is not UTF-8, and {}",
                record + 1,
                field + 1,
                advice()
            ),
        });
    }
    let mut records = match cpg {
        Some(e) => {
            dbase::Reader::new_with_encoding(Cursor::new(&parts.dbf), dbase::encoding::EncodingRs::from(e))
        }
        None => dbase::Reader::new(Cursor::new(&parts.dbf)).or_else(|_| {
            dbase::Reader::new_with_encoding(Cursor::new(&parts.dbf), dbase::encoding::UnicodeLossy)
        }),
    }
    .map_err(|e| bad(&e))?;
    // dBase pads text on the right: only that padding goes (leading spaces are the value's, as GDAL keeps them).
    records.set_options(dbase::ReadingOptions::default().character_trim(dbase::TrimOption::End));
    // The records must all be there: the `dbase` crate panics on a record cut short.
    let word = |r| dbf_word(&parts.dbf, r);
    let needed = word(8..10) + word(4..8) * word(10..12);
    if parts.dbf.len() < needed {
        return Err(bad(&format!(
            "the .dbf is cut short: its header promises {needed} bytes, it has {}",
            parts.dbf.len()
        )));
    }
    // Field names are decoded by the `dbase` crate before an encoding can be set (lossily: two Chinese names
    // became the same `����`): decode them again from the header, in the file's encoding (the .cpg's, else
    // the header's code page). Values are read in field order, never looked up by the crate's names.
    let mut taken: Vec<String> = Vec::new();
    let field_names: Vec<String> = dbf_fields
        .iter()
        .map(|DbfField { raw_name: raw, .. }| {
            let (decoded, _, _) = cpg.unwrap_or(encoding_rs::UTF_8).decode(raw);
            let base = decoded.trim().to_owned();
            let mut name = base.clone();
            let mut n = 1;
            while taken.contains(&name) {
                n += 1;
                name = format!("{base}_{n}");
            }
            taken.push(name.clone());
            name
        })
        .collect();
    if field_names.len() != records.fields().len() {
        return Err(bad(&"the .dbf header's field list cannot be read"));
    }
    let fields: Vec<(String, PropertyType)> = records
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let kind = match f.field_type() {
                FieldType::Numeric => {
                    let whole = dbf_fields.get(i).is_some_and(|f| f.decimals == 0);
                    if whole { PropertyType::Integer } else { PropertyType::Number }
                }
                FieldType::Integer => PropertyType::Integer,
                FieldType::Float | FieldType::Double | FieldType::Currency => PropertyType::Number,
                FieldType::Logical => PropertyType::Boolean,
                FieldType::Date => PropertyType::Date,
                FieldType::DateTime => PropertyType::Timestamp,
                FieldType::Character | FieldType::Memo => PropertyType::String,
            };
            (field_names[i].clone(), kind)
        })
        .collect();
    let crs = match &parts.prj {
        None => SourceCrs::Crs84,
        Some(wkt) if wkt.contains("PROJCS") || wkt.contains("PROJCRS") => {
            SourceCrs::Def(wkt.trim().to_owned())
        }
        // planatlas's own GCJ-02 / BD-09 label (its spheroid is WGS 84's, its positions are not).
        Some(wkt) if crate::geom::crs::chinese_of_definition(wkt).is_some() => {
            SourceCrs::Def(wkt.trim().to_owned())
        }
        // A geographic CRS on WGS84 or CGCS2000 (within a metre): longitude, latitude as stored.
        Some(wkt)
            if wkt.contains("WGS_1984")
                || wkt.contains("WGS 84")
                || wkt.contains("China_2000")
                || wkt.contains("China 2000") =>
        {
            SourceCrs::Crs84
        }
        Some(wkt) => SourceCrs::Def(wkt.trim().to_owned()),
    };
    // A shape without its record (or a record without its shape) would be dropped without a word.
    let record_count = records.header().num_records as usize;
    if record_count != shape_count {
        return Err(LoadError::File {
            file: at.clone(),
            reason: format!(
                "the .shp holds {shape_count} shapes but the .dbf {record_count} records: each shape needs its \
                 record (were they copied from different files?)"
            ),
        });
    }
    // Where each record starts in the .dbf, and whether it is flagged deleted: the decoder skips deleted records
    // but not their shapes, and paired the next record with the deleted one's shape (values moved onto the
    // wrong places). A deleted record's shape is skipped too, as GDAL does.
    let starts: Vec<(usize, bool)> = (0..record_count)
        .map(|r| word(8..10) + r * word(10..12))
        .map(|at| (at, parts.dbf.get(at) == Some(&b'*')))
        .collect();
    let (mut shapes, mut records) = (shapes, records);
    let mut record_iter = records.iter_records_as::<InOrder>();
    let mut rows = Vec::new();
    for (n, shape) in shapes.iter_shapes_as::<shapefile::Shape>().enumerate() {
        let Some(&(record_at, deleted)) = starts.get(n) else { break };
        if deleted {
            continue;
        }
        let shown = (rows.len() + 1).to_string();
        let shape = shape.map_err(|e| LoadError::feature(&at, shown.clone(), e.to_string()))?;
        let record = record_iter
            .next()
            .ok_or_else(|| LoadError::feature(&at, shown.clone(), "its .dbf record cannot be read"))?
            .map_err(|e| LoadError::feature(&at, shown.clone(), e.to_string()))?;
        let geometry = match shape {
            shapefile::Shape::NullShape => None,
            shapefile::Shape::Polygon(p) => Some(rings_by_containment(p.rings(), |c| (c.x, c.y))),
            shapefile::Shape::PolygonM(p) => Some(rings_by_containment(p.rings(), |c| (c.x, c.y))),
            shapefile::Shape::PolygonZ(p) => Some(rings_by_containment(p.rings(), |c| (c.x, c.y))),
            other => Some(
                Geometry::<f64>::try_from(other)
                    .map_err(|e| LoadError::feature(&at, shown.clone(), format!("geometry: {e}")))?,
            ),
        };
        let mut properties = Map::new();
        for (i, ((name, kind), value)) in fields.iter().zip(record.0).enumerate() {
            let (name, kind) = (name.clone(), Some(*kind));
            // A whole number's digits as written: the decoder's double rounds one beyond 2^53.
            let exact = || {
                let f = dbf_fields.get(i)?;
                let raw = parts.dbf.get(record_at + f.offset..record_at + f.offset + f.len)?;
                std::str::from_utf8(raw).ok()?.trim().parse::<i64>().ok()
            };
            let v = match value {
                FieldValue::Character(s) => {
                    s.map(|s| s.trim_end().to_owned()).filter(|s| !s.is_empty()).map(Value::String)
                }
                FieldValue::Memo(s) => Some(Value::String(s)),
                FieldValue::Numeric(n) => n.map(|n| {
                    if kind == Some(PropertyType::Integer)
                        && let Some(whole) = exact()
                    {
                        json!(whole)
                    } else if kind == Some(PropertyType::Integer) && n.fract() == 0.0 && n.abs() < 9.0e15 {
                        #[expect(clippy::cast_possible_truncation, reason = "a whole number under 2^53")]
                        let whole = n as i64;
                        json!(whole)
                    } else {
                        json!(n)
                    }
                }),
                FieldValue::Float(f) => f.map(|f| json!(f64::from(f))),
                FieldValue::Double(f) => Some(json!(f)),
                // An 8-byte integer of ten-thousandths, which the decoder reads as a double's bits.
                FieldValue::Currency(_) => dbf_fields
                    .get(i)
                    .filter(|f| f.len == 8)
                    .and_then(|f| parts.dbf.get(record_at + f.offset..record_at + f.offset + 8))
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(|b| json!(i64::from_le_bytes(b) as f64 / 10_000.0)),
                FieldValue::Integer(n) => Some(json!(n)),
                FieldValue::Logical(b) => b.map(Value::Bool),
                // A blank dBase date (written as zeros or spaces) is no date, not 0000-00-00.
                FieldValue::Date(d) => d
                    .filter(|d| d.year() > 0 && (1..=12).contains(&d.month()) && d.day() > 0)
                    .map(|d| json!(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))),
                FieldValue::DateTime(t) => {
                    let (d, tm) = (t.date(), t.time());
                    Some(json!(format!(
                        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                        d.year(),
                        d.month(),
                        d.day(),
                        tm.hours(),
                        tm.minutes(),
                        tm.seconds()
                    )))
                }
            };
            properties.insert(name, v.unwrap_or(Value::Null));
        }
        rows.push(Raw { id: None, geometry, properties: properties.into() });
    }
    Ok(RawLayer {
        name: parts.name,
        geometry_name: None,
        crs,
        fields,
        rows,
        coded: None,
        numbered: true,
        flattened,
    })
}

/// Reads, checks and joins every layer of `specs` onto `admin`'s boundaries. Ids must be unique.
pub fn load(specs: &[LayerSpec], admin: &Admin) -> Result<Vec<Arc<Collection>>, LoadError> {
    Ok(join_all(read_all(specs)?, admin))
}

/// Reads and checks every layer of `specs` (the part of [`load`] that needs no boundaries, so it can run while
/// they load). Collection ids must be unique.
pub fn read_all(specs: &[LayerSpec]) -> Result<Vec<LayerFile>, LoadError> {
    let mut out: Vec<LayerFile> = Vec::new();
    for spec in specs {
        let t = std::time::Instant::now();
        for file in read(spec)? {
            tracing::info!(
                collection = %file.id,
                features = file.features.len(),
                ms = t.elapsed().as_secs_f64() * 1e3,
                "layer read"
            );
            if file.flattened {
                tracing::warn!(
                    collection = %file.id,
                    file = %spec.path.display(),
                    "the layer's positions have heights (Z) or measures (M), which are not kept: it is served in 2-D"
                );
            }
            if out.iter().any(|f| f.id == file.id) {
                return Err(file_error(
                    &spec.path,
                    format!(
                        "layer '{}': collection id '{}' is taken by another --layer; name it with ID=FILE",
                        file.layer, file.id
                    ),
                ));
            }
            out.push(file);
        }
    }
    Ok(out)
}

/// Joins layers read by [`read_all`] onto `admin`'s boundaries.
pub fn join_all(files: Vec<LayerFile>, admin: &Admin) -> Vec<Arc<Collection>> {
    files
        .into_iter()
        .map(|file| {
            let t = std::time::Instant::now();
            let c = collection(file, admin);
            tracing::info!(
                collection = c.id(),
                features = c.features().len(),
                ms = t.elapsed().as_secs_f64() * 1e3,
                "layer loaded"
            );
            Arc::new(c)
        })
        .collect()
}

fn type_name(kind: PropertyType) -> &'static str {
    match kind {
        PropertyType::String => "string",
        PropertyType::Number => "number",
        PropertyType::Integer => "integer",
        PropertyType::Boolean => "boolean",
        PropertyType::StringArray => "array",
        PropertyType::Date => "date",
        PropertyType::Timestamp => "timestamp",
        PropertyType::Geometry => "geometry",
    }
}

fn type_of(name: &str) -> Option<PropertyType> {
    Some(match name {
        "string" => PropertyType::String,
        "number" => PropertyType::Number,
        "integer" => PropertyType::Integer,
        "boolean" => PropertyType::Boolean,
        "array" => PropertyType::StringArray,
        "date" => PropertyType::Date,
        "timestamp" => PropertyType::Timestamp,
        "geometry" => PropertyType::Geometry,
        _ => return None,
    })
}

/// A layer as one stored record (`planatlas import FILE --new-collection ID`, `PUT /collections/{id}`): its
/// schema, where it came from, and its features in CRS84 as GeoJSON.
pub fn to_record(file: &LayerFile) -> String {
    let features: Vec<Value> = file
        .features
        .iter()
        .map(|(id, g, values)| {
            // Every digit kept: the store holds the layer as read, as a --layer file is served (rounded to
            // the output's 6 decimals it moved a projected layer's positions by centimetres).
            let geometry = g
                .as_ref()
                .and_then(|g| serde_json::to_value(geojson::Geometry::new(geojson::Value::from(g))).ok())
                .unwrap_or(Value::Null);
            let props = file.columns.map_of(values);
            json!({"type": "Feature", "id": id, "geometry": geometry, "properties": props})
        })
        .collect();
    json!({
        "type": "Layer",
        "id": file.id,
        "layer": file.layer,
        "file": file.path.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
        "crs": file.crs,
        "geometry_name": file.geometry_name,
        "flattened": file.flattened,
        "fields": file.fields.iter().map(|(n, k)| json!([n, type_name(*k)])).collect::<Vec<_>>(),
        "features": features,
    })
    .to_string()
}

/// Reads a stored layer record back.
pub fn from_record(record: &str) -> Result<LayerFile, String> {
    let v: Value = serde_json::from_str(record).map_err(|e| e.to_string())?;
    let text =
        |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("no '{k}'"));
    let fields = v
        .get("fields")
        .and_then(Value::as_array)
        .ok_or("no 'fields'")?
        .iter()
        .map(|f| {
            match (f.get(0).and_then(Value::as_str), f.get(1).and_then(Value::as_str).and_then(type_of)) {
                (Some(n), Some(k)) => Ok((n.to_owned(), k)),
                _ => Err(format!("field {f} is not [name, type]")),
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut features = Vec::new();
    let mut columns = ColumnsBuilder::new(fields.iter().map(|(n, _)| intern(n)).collect());
    for f in v.get("features").and_then(Value::as_array).ok_or("no 'features'")? {
        let id = f.get("id").and_then(Value::as_str).ok_or("a feature has no id")?.to_owned();
        let geometry = match f.get("geometry") {
            None | Some(Value::Null) => None,
            Some(g) => {
                let gj: geojson::Geometry =
                    serde_json::from_value(g.clone()).map_err(|e| format!("{id}: {e}"))?;
                Some(crate::geom::geo_from_geojson(gj).map_err(|e| format!("{id}: {e}"))?)
            }
        };
        let props = f.get("properties").and_then(Value::as_object);
        let values = fields.iter().map(|(n, _)| props.and_then(|p| p.get(n)).cloned().unwrap_or(Value::Null));
        features.push((id, geometry, columns.push(values)));
    }
    Ok(LayerFile {
        id: text("id")?,
        layer: text("layer")?,
        path: PathBuf::from(text("file")?),
        crs: text("crs")?,
        fields,
        geometry_name: v.get("geometry_name").and_then(Value::as_str).map(str::to_owned),
        columns: columns.finish(),
        features,
        flattened: v.get("flattened").and_then(Value::as_bool).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use flatgeobuf::ColumnType;

    use super::*;

    #[test]
    fn a_geopackage_instant_is_served_in_utc() {
        assert_eq!(utc_instant("2021-04-16T10:15:59"), "2021-04-16T10:15:59Z");
        assert_eq!(utc_instant("2021-04-16 10:15:59"), "2021-04-16T10:15:59Z");
        assert_eq!(utc_instant("2021-04-16 10:15:59.25Z"), "2021-04-16T10:15:59.250Z");
        assert_eq!(utc_instant("2021-04-16T18:15:59+08:00"), "2021-04-16T10:15:59Z");
        assert_eq!(utc_instant("2021-04-16T10:15:59Z"), "2021-04-16T10:15:59Z");
    }

    /// Collects what the property reader finds.
    #[derive(Default)]
    struct Seen(Vec<(usize, String)>);

    impl geozero::PropertyProcessor for Seen {
        fn property(
            &mut self,
            i: usize,
            _: &str,
            v: &geozero::ColumnValue<'_>,
        ) -> geozero::error::Result<bool> {
            self.0.push((i, v.to_string()));
            Ok(false)
        }
    }

    /// Lines and polygons share joined values with others that join alike (by the one-county key), or share
    /// those that depend only on the places and make the rest when read: every feature still carries exactly
    /// the values its own join makes, in order, whether read in order, one by one, or again after that.
    #[test]
    fn shared_joins_are_each_features_own() {
        use crate::export::synthetic::{self, Shape, Spread};
        let catalog = crate::store::Catalog::load(crate::store::DataSource::Embedded).expect("shipped data");
        let admin =
            crate::store::Catalog::load_admin(&crate::store::DataSource::Embedded).expect("boundaries");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("lines.geojson");
        // 400 short lines on land, some crossing a county border, each with a copy; a line across four
        // counties; a polygon; and a line half outside Liaoning (a share under one).
        let mut features: Vec<Value> = synthetic::features(400, Spread::Land(Box::new(catalog)), Shape::Lines)
            .flat_map(|f| {
                let Some(geo::Geometry::LineString(line)) = &f.geometry else { panic!("a line") };
                // Each line twice, the copy 10 m east: the same county and length, so one key for both.
                [0.0, 0.000_12].map(|dx| {
                    let coordinates: Vec<[f64; 2]> = line.0.iter().map(|c| [c.x + dx, c.y]).collect();
                    json!({"type": "Feature", "properties": {"n": f.id}, "geometry": {"type": "LineString", "coordinates": coordinates}})
                })
            })
            .collect();
        features.push(json!({"type": "Feature", "properties": {"n": "long"}, "geometry": {"type": "LineString", "coordinates": [[121.6, 38.9], [123.4, 41.8]]}}));
        features.push(json!({"type": "Feature", "properties": {"n": "area"}, "geometry": {"type": "Polygon", "coordinates": [[[123.3, 41.7], [123.5, 41.7], [123.5, 41.9], [123.3, 41.7]]]}}));
        features.push(json!({"type": "Feature", "properties": {"n": "border"}, "geometry": {"type": "LineString", "coordinates": [[119.0, 41.0], [119.5, 41.0]]}}));
        std::fs::write(&path, json!({"type": "FeatureCollection", "features": features}).to_string())
            .expect("write");
        let spec = LayerSpec { id: Some("lines".into()), path, layer: None };
        let file = read(&spec).expect("layer reads").into_iter().next().expect("one layer");
        let c = collection(file, &admin);
        let counties = &admin.counties;
        let shapes = projects::county_shapes(counties);
        let locate = |p: geo::Coord<f64>| crate::store::catalog::county_at(counties, &admin.county_index, p);
        let places = projects::Places::new(counties, &admin.cities, &admin.regions);
        let (mut one_county, mut deferreds) = (0, 0);
        for f in c.features() {
            let g = f.geometry.as_ref().expect("geometry");
            let join = projects::join(g, counties, &shapes, &admin.county_index, &locate);
            one_county += usize::from(projects::one_county_key(g, &join).is_some());
            let mut own = Map::new();
            own.insert("n".into(), f.properties["n"].clone());
            own.extend(projects::join_values(admin::geometry_type(g), false, &join, &places));
            // In order, as served, and each value read alone.
            let served: Vec<(&str, Value)> = f.properties.iter().map(|(k, v)| (k, v.into_owned())).collect();
            let made: Vec<(&str, Value)> = own.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            assert_eq!(served, made, "{}", f.id);
            // A row of every value, as an export writes it: the same values, and none kept by the feature.
            let row: Vec<Option<Value>> = f
                .properties
                .values_of(own.keys().map(String::as_str))
                .into_iter()
                .map(|v| v.map(std::borrow::Cow::into_owned))
                .collect();
            assert_eq!(row, own.values().cloned().map(Some).collect::<Vec<_>>(), "{}", f.id);
            assert!(!f.properties.keeps_made(), "{}: reading in order keeps nothing", f.id);
            assert!(f.properties.keys().eq(own.keys().map(String::as_str)), "{}", f.id);
            for (k, v) in &own {
                assert_eq!(f.properties.get(k), Some(v), "{} {k}", f.id);
            }
            let deferred =
                !matches!(g, geo::Geometry::Point(_)) && projects::one_county_key(g, &join).is_none();
            assert_eq!(f.properties.keeps_made(), deferred, "{}: get() keeps what it made", f.id);
            deferreds += usize::from(deferred);
            let again: Vec<(&str, Value)> = f.properties.iter().map(|(k, v)| (k, v.into_owned())).collect();
            assert_eq!(again, made, "{}", f.id);
            // Changing a value of one feature leaves the rest of its values, and every other feature, alone.
            if let Some(length) = own.get("length_km") {
                let mut changed = f.properties.clone();
                *changed.get_mut("length_km").expect("a line's length") = json!(-1);
                assert_eq!(changed.get("length_km"), Some(&json!(-1)));
                assert_eq!(changed.get("join"), own.get("join"), "{}", f.id);
                assert_eq!(changed.len(), own.len(), "{}", f.id);
                assert_eq!(f.properties.get("length_km"), Some(length), "{}", f.id);
            }
            let some: Vec<&str> =
                f.properties.select(|k| k == "n" || k == "length_km").map(|(k, _)| k).collect();
            assert_eq!(
                some,
                ["n", "length_km"][..2 - usize::from(!own.contains_key("length_km"))],
                "{}",
                f.id
            );
        }
        assert!(deferreds > 10, "lines across a border make their values when read: {deferreds}");
        assert!(one_county > 600, "most short lines lie in one county: {one_county}");
        assert!(one_county < c.features().len(), "some cross a border");
    }

    #[test]
    fn flatgeobuf_values_are_read_by_their_column_types_and_a_cut_value_is_an_error_not_a_panic() {
        let types = [ColumnType::String, ColumnType::Int, ColumnType::Double, ColumnType::Bool];
        let mut bytes = Vec::new();
        bytes.extend(0u16.to_le_bytes());
        bytes.extend(6u32.to_le_bytes());
        bytes.extend("沈阳".as_bytes());
        bytes.extend(1u16.to_le_bytes());
        bytes.extend((-7i32).to_le_bytes());
        bytes.extend(2u16.to_le_bytes());
        bytes.extend(41.5f64.to_le_bytes());
        bytes.extend(3u16.to_le_bytes());
        bytes.push(1);
        let mut seen = Seen::default();
        fgb_properties(&bytes, &types, &mut seen).unwrap();
        let want = [(0, "沈阳"), (1, "-7"), (2, "41.5"), (3, "true")];
        assert_eq!(seen.0, want.map(|(i, v)| (i, v.to_owned())));
        // Every cut of the bytes, a string claiming more than is there, and an unknown column: errors.
        for n in 1..bytes.len() {
            let _ = fgb_properties(&bytes[..n], &types, &mut Seen::default());
        }
        let mut long = bytes.clone();
        long[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(fgb_properties(&long, &types, &mut Seen::default()).unwrap_err().contains("cut short"));
        let mut unknown = bytes;
        unknown[0] = 9;
        assert!(fgb_properties(&unknown, &types, &mut Seen::default()).unwrap_err().contains("column 9"));
    }

    proptest::proptest! {
        /// Whatever bytes a file holds where a feature's values go, reading them answers, never panics.
        #[test]
        fn any_property_bytes_are_read_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let types = [
                ColumnType::String,
                ColumnType::Int,
                ColumnType::Double,
                ColumnType::Bool,
                ColumnType::Binary,
                ColumnType::Json,
                ColumnType::Long,
                ColumnType::Byte,
            ];
            let _ = fgb_properties(&bytes, &types, &mut Seen::default());
        }
    }
}
