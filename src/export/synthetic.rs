//! Synthetic projects for load tests and benchmarks: N point or line features shaped like the real catalogue's
//! (ten properties each), made one at a time and written in any export format, so a million of them never sit in
//! memory. `examples/export_synthetic` writes them from the command line; the criterion benches and
//! `scripts/bench-layer` and `scripts/bench-postgis` serve them as a `--layer`.

use std::io::BufWriter;
use std::path::Path;

use geo::{Coord, Geometry, LineString, Point};
use serde_json::{Map, json};

use super::{ExportError, ExportFormat, ExportOptions, Layer, columns_of};
use crate::store::{Catalog, DataSource, Feature};

const CATEGORIES: [&str; 6] = ["energy", "railway", "airport", "science", "water", "industrial_park"];

/// The 14 city seats (lon, lat), where clustered points gather.
pub const SEATS: [(f64, f64); 14] = [
    (123.43, 41.81),
    (121.61, 38.91),
    (122.99, 41.11),
    (123.96, 41.88),
    (123.77, 41.29),
    (124.38, 40.12),
    (121.13, 41.10),
    (122.24, 40.67),
    (121.67, 42.02),
    (123.17, 41.27),
    (122.07, 41.12),
    (123.84, 42.29),
    (120.45, 41.57),
    (120.84, 40.71),
];

/// Where the points go.
pub enum Spread {
    /// Spread evenly over Liaoning's bounding box (a Weyl sequence), sea and neighbours included.
    Box,
    /// The same sequence, keeping only points inside one of the province's counties (on the shipped
    /// boundaries), so each lands in a county a layer's join names.
    Land(Box<Catalog>),
    /// Around the 14 city seats (about ±0.2°), as real projects cluster.
    Clustered,
}

impl Spread {
    /// `box`, `land` (loads the shipped boundaries) or `clustered`.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "box" => Ok(Self::Box),
            "land" => {
                Ok(Self::Land(Box::new(Catalog::load(DataSource::Embedded).map_err(|e| e.to_string())?)))
            }
            "clustered" => Ok(Self::Clustered),
            other => Err(format!("unknown spread '{other}': box, land or clustered")),
        }
    }
}

/// The j-th point of a Weyl sequence over Liaoning's bounding box.
fn weyl(j: usize) -> Coord<f64> {
    let fj = j as f64;
    Coord {
        x: 118.85 + 6.93 * ((fj * 0.618_033_988_75) % 1.0),
        y: 38.72 + 4.77 * ((fj * 0.414_213_562_37) % 1.0),
    }
}

/// The points of a spread, one after another.
struct Points {
    spread: Spread,
    /// The next index of the underlying sequence.
    j: usize,
}

impl Iterator for Points {
    type Item = Coord<f64>;

    fn next(&mut self) -> Option<Coord<f64>> {
        loop {
            let j = self.j;
            self.j += 1;
            match &self.spread {
                Spread::Box => return Some(weyl(j)),
                Spread::Land(catalog) => {
                    let p = weyl(j);
                    if catalog.county_at(p).is_some() {
                        return Some(p);
                    }
                }
                Spread::Clustered => {
                    let (x, y) = SEATS[j % SEATS.len()];
                    // Three Weyl fractions summed: roughly normal, about ±0.2°.
                    let u = |a: f64| (j as f64 * a) % 1.0;
                    let jitter = |a: f64, b: f64, c: f64| (u(a) + u(b) + u(c) - 1.5) * 0.15;
                    return Some(Coord {
                        x: x + jitter(0.618_033_988_75, 0.754_877_666_2, 0.569_840_290_998),
                        y: y + jitter(0.414_213_562_37, 0.324_717_957_2, 0.236_067_977_5),
                    });
                }
            }
        }
    }
}

/// The i-th synthetic project at `at`, with properties shaped like the real catalogue's.
pub fn project(i: usize, at: Coord<f64>) -> Feature {
    project_as(i, Geometry::Point(Point(at)))
}

/// The i-th synthetic project with this geometry.
fn project_as(i: usize, geometry: Geometry<f64>) -> Feature {
    let mut p = Map::new();
    p.insert("name_zh".into(), json!(format!("合成项目{i}")));
    p.insert("name_en".into(), json!(format!("Synthetic project {i}")));
    p.insert("category".into(), json!(CATEGORIES[i % CATEGORIES.len()]));
    p.insert("sections".into(), json!(["四.(四).2", "五.(一).2"]));
    p.insert("lead_unit".into(), json!("省发展改革委"));
    p.insert("co_units".into(), json!(["省交通运输厅", "相关市政府"]));
    p.insert("location_precision".into(), json!("city"));
    p.insert("location_source".into(), json!("synthetic"));
    p.insert("region_ids".into(), json!(["coastal-belt"]));
    p.insert("project_count".into(), json!(i % 17));
    Feature::new(format!("synthetic-{i}"), Some(geometry), p)
}

/// What each synthetic project is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A point.
    Points,
    /// A line of three vertices starting at the point, 2-6 km long, its legs heading in many directions: short
    /// roads, pipelines and river works, some of which cross a county border.
    Lines,
}

impl Shape {
    /// `points` or `lines`.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "points" => Ok(Self::Points),
            "lines" => Ok(Self::Lines),
            other => Err(format!("unknown shape '{other}': points or lines")),
        }
    }

    /// The geometry type name the shape's features have.
    pub fn geometry_type(self) -> &'static str {
        match self {
            Self::Points => "Point",
            Self::Lines => "LineString",
        }
    }
}

/// The i-th synthetic project's line from `at` (see [`Shape::Lines`]).
fn line_from(i: usize, at: Coord<f64>) -> LineString<f64> {
    let turn = |a: f64| ((i as f64 * a) % 1.0) * std::f64::consts::TAU;
    let (h1, h2) = (turn(0.618_033_988_75), turn(0.754_877_666_2));
    // 0.01-0.03 degrees a leg: 1-3 km.
    let leg = |a: f64| 0.01 + 0.02 * ((i as f64 * a) % 1.0);
    let (l1, l2) = (leg(0.414_213_562_37), leg(0.324_717_957_2));
    let b = Coord { x: at.x + l1 * h1.cos(), y: at.y + l1 * h1.sin() };
    let c = Coord { x: b.x + l2 * h2.cos(), y: b.y + l2 * h2.sin() };
    LineString(vec![at, b, c])
}

/// `n` synthetic projects of `shape` spread as `spread` says, one at a time.
pub fn features(n: usize, spread: Spread, shape: Shape) -> impl Iterator<Item = Feature> {
    points(spread).take(n).enumerate().map(move |(i, at)| match shape {
        Shape::Points => project(i, at),
        Shape::Lines => project_as(i, Geometry::LineString(line_from(i, at))),
    })
}

/// The points of `spread`, one after another, without end.
pub fn points(spread: Spread) -> impl Iterator<Item = Coord<f64>> {
    Points { spread, j: 0 }
}

/// Writes `n` synthetic projects of `shape` to `out` in `format`.
pub fn write(
    format: ExportFormat,
    n: usize,
    spread: Spread,
    shape: Shape,
    out: &Path,
) -> Result<(), ExportError> {
    let sample = project(0, Coord { x: 122.0, y: 41.0 });
    let columns = columns_of(std::iter::once(&sample));
    let kinds = std::collections::BTreeSet::from([shape.geometry_type()]);
    let options = ExportOptions::default();
    let layer =
        Layer { name: "projects", columns: &columns, spatial: true, features: features(n, spread, shape) };
    let create = || std::fs::File::create(out).map_err(ExportError::from);
    match format {
        ExportFormat::GeoPackage => super::gpkg::write_file(out, layer, &kinds, "synthetic", None, &options),
        ExportFormat::FlatGeobuf => super::fgb::write(BufWriter::new(create()?), layer, &kinds, &options),
        ExportFormat::Shapefile => {
            let dir = tempfile::tempdir()?;
            super::shp::write_zip(create()?, dir.path(), layer, &options)
        }
        text => super::write_text(text, BufWriter::new(create()?), layer, &options),
    }
}
