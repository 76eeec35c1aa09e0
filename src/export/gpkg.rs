//! GeoPackage 1.3 through SQLite (`rusqlite`): the core tables (`gpkg_spatial_ref_sys` with the CRS used,
//! `gpkg_contents`, `gpkg_geometry_columns`), one table per layer (features, or attributes for non-spatial
//! records), geometries as GeoPackage binary (header + WKB, written by `geozero`), each features table with the
//! R-tree spatial index extension, and the map's styles in QGIS's `layer_styles` table. Rows are inserted one by one
//! inside a transaction, so memory stays flat; SQLite writes to a file.

use std::borrow::Borrow;
use std::fmt::Write as _;
use std::path::Path;

use geo::BoundingRect;
use geozero::{CoordDimensions, ToWkb};
use rusqlite::{Connection, params_from_iter, types::Value as Sql};
use serde_json::Value;

use super::columns::{ColumnType, as_json};
use super::style::LayerStyle;
use super::{ExportError, ExportOptions, Layer, east_north, rounded};
use crate::geom::crs::{Crs, wkt};
use crate::store::Feature;

fn db(e: rusqlite::Error) -> ExportError {
    ExportError::Library { format: "GeoPackage", detail: e.to_string() }
}

/// The `srs_id` used for a CRS: its EPSG code (4326 for CRS84, longitude first as GeoPackage stores it), and
/// ids of our own for GCJ-02 and BD-09.
pub fn srs_id(crs: Crs) -> i32 {
    match crs {
        Crs::Crs84 => 4326,
        Crs::Gcj02 => 990_002,
        Crs::Bd09 => 990_009,
        other => other.epsg().map_or(4326, |c| c as i32),
    }
}

/// An open GeoPackage being written.
pub struct GpkgWriter {
    conn: Connection,
    crs: Crs,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl GpkgWriter {
    /// Creates the file with the GeoPackage core tables and the spatial reference systems.
    pub fn create(path: &Path, crs: Crs) -> Result<Self, ExportError> {
        let _ = std::fs::remove_file(path);
        let conn = Connection::open(path).map_err(db)?;
        conn.execute_batch(
            "PRAGMA application_id = 1196444487;
             PRAGMA user_version = 10300;
             PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             CREATE TABLE gpkg_spatial_ref_sys (
               srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
               organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
             CREATE TABLE gpkg_contents (
               table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
               description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
               min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
               CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
             CREATE TABLE gpkg_geometry_columns (
               table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
               srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
               CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
               CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
               CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
             CREATE TABLE gpkg_extensions (
               table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
               scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
             INSERT INTO gpkg_spatial_ref_sys VALUES
               ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
               ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');",
        )
        .map_err(db)?;
        let wgs84 =
            wkt(Crs::Crs84, false).map_err(|detail| ExportError::Library { format: "GeoPackage", detail })?;
        conn.execute(
            "INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?1, 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')",
            [&wgs84],
        )
        .map_err(db)?;
        let id = srs_id(crs);
        if id != 4326 {
            let definition =
                wkt(crs, false).map_err(|detail| ExportError::Library { format: "GeoPackage", detail })?;
            let (org, code, description) = match crs.epsg() {
                Some(code) => ("EPSG", i64::from(code), crs.uri().to_owned()),
                None => (
                    "planatlas",
                    i64::from(id),
                    format!(
                        "{}: WGS 84 shifted by the published Chinese web-map formula ({})",
                        crs.short(),
                        crs.uri()
                    ),
                ),
            };
            conn.execute(
                "INSERT INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![crs.short(), id, org, code, definition, description],
            )
            .map_err(db)?;
        }
        Ok(Self { conn, crs })
    }

    /// Adds one layer: a features table (or an attributes table when the collection has no geometries).
    pub fn add_layer(
        &mut self,
        layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
        kinds: &std::collections::BTreeSet<&str>,
        description: &str,
    ) -> Result<(), ExportError> {
        let crs = self.crs;
        let id = srs_id(crs);
        let geometry_type_name = match kinds.iter().copied().collect::<Vec<_>>().as_slice() {
            ["Point"] => "POINT",
            ["LineString"] => "LINESTRING",
            ["Polygon"] => "POLYGON",
            ["MultiPolygon"] => "MULTIPOLYGON",
            ["MultiLineString"] => "MULTILINESTRING",
            ["MultiPoint"] => "MULTIPOINT",
            _ => "GEOMETRY",
        };
        let table = quote(layer.name);
        let mut ddl = format!("CREATE TABLE {table} (fid INTEGER PRIMARY KEY AUTOINCREMENT");
        if layer.spatial {
            let _ = write!(ddl, ", geom {geometry_type_name}");
        }
        ddl.push_str(", id TEXT NOT NULL");
        // SQLite's column names ignore case: a layer's own `Id` (ArcGIS's default field), `FID` or `geom` would
        // clash with the table's own columns, or two of its fields with each other. Such a column is written
        // as `Id_1` (the next free suffix); the values are the same.
        let taken: &[&str] = if layer.spatial { &["fid", "id", "geom"] } else { &["fid", "id"] };
        let column_names = super::columns::labels(layer.columns, taken);
        for (c, name) in layer.columns.iter().zip(&column_names) {
            let t = match c.kind {
                ColumnType::Integer => "INTEGER",
                ColumnType::Real => "REAL",
                ColumnType::Boolean => "BOOLEAN",
                ColumnType::Text | ColumnType::Json => "TEXT",
                ColumnType::Date => "DATE",
                ColumnType::DateTime => "DATETIME",
            };
            let _ = write!(ddl, ", {} {t}", quote(name));
        }
        ddl.push(')');
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(&ddl, []).map_err(db)?;
        let n = layer.columns.len() + 1 + usize::from(layer.spatial);
        let placeholders = (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let names: Vec<String> = (layer.spatial.then(|| "geom".to_owned()).into_iter())
            .chain(std::iter::once("id".to_owned()))
            .chain(column_names.iter().map(|c| quote(c)))
            .collect();
        let insert = format!("INSERT INTO {table} ({}) VALUES ({placeholders})", names.join(", "));
        let mut extent: Option<geo::Rect<f64>> = None;
        // (fid, min x, max x, min y, max y) of each non-empty geometry, for the R-tree.
        let mut envelopes: Vec<[f64; 4]> = Vec::new();
        let mut fids: Vec<i64> = Vec::new();
        {
            let mut stmt = tx.prepare(&insert).map_err(db)?;
            for f in layer.features {
                let f: &Feature = f.borrow();
                let mut row: Vec<Sql> = Vec::with_capacity(n);
                if layer.spatial {
                    match &f.geometry {
                        Some(g) => {
                            let g = rounded(east_north(g, crs)?, crs);
                            let envelope = g.bounding_rect().map_or_else(Vec::new, |r| {
                                extent = Some(crate::geom::union_rect(extent, r));
                                vec![r.min().x, r.max().x, r.min().y, r.max().y]
                            });
                            if let [a, b, c, d] = envelope[..] {
                                envelopes.push([a, b, c, d]);
                            }
                            let blob =
                                g.to_gpkg_wkb(CoordDimensions::xy(), Some(id), envelope).map_err(|e| {
                                    ExportError::Library { format: "GeoPackage", detail: e.to_string() }
                                })?;
                            row.push(Sql::Blob(blob));
                        }
                        None => row.push(Sql::Null),
                    }
                }
                row.push(Sql::Text(f.id.clone()));
                let values = f.properties.values_of(layer.columns.iter().map(|c| c.name.as_str()));
                for (c, v) in layer.columns.iter().zip(values) {
                    let v = v.as_deref();
                    row.push(match (c.kind, v) {
                        (_, None | Some(Value::Null)) => Sql::Null,
                        (ColumnType::Integer, Some(Value::Number(x))) => {
                            Sql::Integer(x.as_i64().unwrap_or_default())
                        }
                        (ColumnType::Real, Some(Value::Number(x))) => {
                            Sql::Real(x.as_f64().unwrap_or_default())
                        }
                        (ColumnType::Boolean, Some(Value::Bool(b))) => Sql::Integer(i64::from(*b)),
                        (_, v) => as_json(v).map_or(Sql::Null, Sql::Text),
                    });
                }
                let has_envelope = envelopes.len() > fids.len();
                stmt.execute(params_from_iter(row)).map_err(db)?;
                if has_envelope {
                    fids.push(tx.last_insert_rowid());
                }
            }
        }
        let (min_x, min_y, max_x, max_y) = extent.map_or((None, None, None, None), |e| {
            (Some(e.min().x), Some(e.min().y), Some(e.max().x), Some(e.max().y))
        });
        tx.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
             VALUES (?1, ?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                layer.name,
                if layer.spatial { "features" } else { "attributes" },
                description,
                min_x,
                min_y,
                max_x,
                max_y,
                layer.spatial.then_some(id)
            ],
        )
        .map_err(db)?;
        if layer.spatial {
            tx.execute(
                "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, ?3, 0, 0)",
                rusqlite::params![layer.name, geometry_type_name, id],
            )
            .map_err(db)?;
            spatial_index(&tx, layer.name, &fids, &envelopes)?;
        }
        tx.commit().map_err(db)
    }

    /// Adds a layer's style to the `layer_styles` table (QGIS's convention, made on first use) as its default:
    /// QML for QGIS and SLD for other clients.
    pub fn add_style(&mut self, style: &LayerStyle) -> Result<(), ExportError> {
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS layer_styles (
               id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
               f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
               styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
               update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));",
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName,
               styleQML, styleSLD, useAsDefault, description, owner)
             VALUES ('', '', ?1, 'geom', ?2, ?3, ?4, 1, ?5, 'planatlas')",
            rusqlite::params![
                style.layer,
                style.name,
                super::style::qml(style),
                super::style::sld(style),
                "the planatlas map's style: colours by category or region, labels in Chinese"
            ],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    /// Registers the styles table (last, so it lists after the layers), then closes the file.
    pub fn finish(self) -> Result<(), ExportError> {
        self.conn
            .execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
                 SELECT 'layer_styles', 'attributes', 'layer_styles', 'QGIS styles of the layers: the map page''s colours and Chinese labels'
                 WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'layer_styles')",
                [],
            )
            .map_err(db)?;
        self.conn.close().map_err(|(_, e)| db(e))
    }
}

/// Adds the GeoPackage R-tree spatial index extension to a features table: the virtual table filled with each
/// geometry's envelope, the triggers that keep it in step when a client edits the file (they use the `ST_*`
/// functions GDAL and QGIS provide, so they are made after our own inserts), and its `gpkg_extensions` row.
fn spatial_index(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    fids: &[i64],
    envelopes: &[[f64; 4]],
) -> Result<(), ExportError> {
    let rtree_name = format!("rtree_{table}_geom");
    let (t, r) = (quote(table), quote(&rtree_name));
    tx.execute(&format!("CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy)"), [])
        .map_err(db)?;
    {
        let mut stmt = tx.prepare(&format!("INSERT INTO {r} VALUES (?1, ?2, ?3, ?4, ?5)")).map_err(db)?;
        for (fid, [minx, maxx, miny, maxy]) in fids.iter().zip(envelopes) {
            stmt.execute(rusqlite::params![fid, minx, maxx, miny, maxy]).map_err(db)?;
        }
    }
    let trigger = |suffix: &str| quote(&format!("{rtree_name}_{suffix}"));
    let envelope = "NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)";
    tx.execute_batch(&format!(
        "CREATE TRIGGER {insert} AFTER INSERT ON {t} WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
         BEGIN INSERT OR REPLACE INTO {r} VALUES ({envelope}); END;
         CREATE TRIGGER {update1} AFTER UPDATE OF geom ON {t}
           WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
         BEGIN INSERT OR REPLACE INTO {r} VALUES ({envelope}); END;
         CREATE TRIGGER {update2} AFTER UPDATE OF geom ON {t}
           WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;
         CREATE TRIGGER {update3} AFTER UPDATE ON {t}
           WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; INSERT OR REPLACE INTO {r} VALUES ({envelope}); END;
         CREATE TRIGGER {update4} AFTER UPDATE ON {t}
           WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
         BEGIN DELETE FROM {r} WHERE id IN (OLD.fid, NEW.fid); END;
         CREATE TRIGGER {delete} AFTER DELETE ON {t} WHEN old.geom NOT NULL
         BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;",
        insert = trigger("insert"),
        update1 = trigger("update1"),
        update2 = trigger("update2"),
        update3 = trigger("update3"),
        update4 = trigger("update4"),
        delete = trigger("delete"),
    ))
    .map_err(db)?;
    tx.execute(
        "INSERT INTO gpkg_extensions VALUES (?1, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        [table],
    )
    .map_err(db)?;
    Ok(())
}

/// Writes one layer to a new GeoPackage at `path`.
pub fn write_file(
    path: &Path,
    layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
    kinds: &std::collections::BTreeSet<&str>,
    description: &str,
    style: Option<&LayerStyle>,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    let mut w = GpkgWriter::create(path, options.crs)?;
    let spatial = layer.spatial;
    w.add_layer(layer, kinds, description)?;
    if spatial && let Some(style) = style {
        w.add_style(style)?;
    }
    w.finish()
}
