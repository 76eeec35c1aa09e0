//! Writes N synthetic point projects in one export format, generating each feature on the fly: data to measure
//! export throughput and memory (`scripts/bench-exports`, which records peak RSS with GNU time), and a large
//! layer to serve with `--layer` (`scripts/bench-layer`, `scripts/bench-postgis`).
//!
//! `cargo run --release --example export_synthetic -- FORMAT N OUT [SPREAD]`
//!
//! SPREAD is where the points are:
//! - `box` (default): spread evenly over Liaoning's bounding box (a Weyl sequence), sea and neighbours included;
//! - `land`: the same sequence, keeping only points inside one of Liaoning's 100 counties (on the shipped
//!   boundaries), so each lands in a county the layer's join names;
//! - `clustered`: around the 14 city seats (about ±0.2°), as real projects cluster.

use std::io::BufWriter;
use std::time::Instant;

use geo::{Coord, Geometry, Point};
use planatlas::export::{self, ExportFormat, ExportOptions, Layer, columns_of};
use planatlas::store::{Catalog, DataSource, Feature};
use serde_json::{Map, json};

const CATEGORIES: [&str; 6] = ["energy", "railway", "airport", "science", "water", "industrial_park"];

/// The 14 city seats (lon, lat).
const SEATS: [(f64, f64); 14] = [
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

/// The j-th point of a Weyl sequence over Liaoning's bounding box.
fn weyl(j: usize) -> Coord<f64> {
    let fj = j as f64;
    Coord {
        x: 118.85 + 6.93 * ((fj * 0.618_033_988_75) % 1.0),
        y: 38.72 + 4.77 * ((fj * 0.414_213_562_37) % 1.0),
    }
}

/// Where the points go.
enum Spread {
    Box,
    /// Only points in a county of this catalog.
    Land(Box<Catalog>),
    Clustered,
}

/// Points of a spread, one after another.
struct Points {
    spread: Spread,
    /// The next index of the underlying sequence.
    j: usize,
}

impl Points {
    fn next_point(&mut self) -> Coord<f64> {
        loop {
            let j = self.j;
            self.j += 1;
            match &self.spread {
                Spread::Box => return weyl(j),
                Spread::Land(catalog) => {
                    let p = weyl(j);
                    if catalog.county_at(p).is_some() {
                        return p;
                    }
                }
                Spread::Clustered => {
                    let (x, y) = SEATS[j % SEATS.len()];
                    // Three Weyl fractions summed: roughly normal, about ±0.2°.
                    let u = |a: f64| (j as f64 * a) % 1.0;
                    let jitter = |a: f64, b: f64, c: f64| (u(a) + u(b) + u(c) - 1.5) * 0.15;
                    return Coord {
                        x: x + jitter(0.618_033_988_75, 0.754_877_666_2, 0.569_840_290_998),
                        y: y + jitter(0.414_213_562_37, 0.324_717_957_2, 0.236_067_977_5),
                    };
                }
            }
        }
    }
}

/// The i-th synthetic project at `at`, with properties shaped like the real catalogue's.
fn project(i: usize, at: Coord<f64>) -> Feature {
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
    Feature::new(format!("synthetic-{i}"), Some(Geometry::Point(Point(at))), p)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (format, n, out, spread) = match args.as_slice() {
        [_, format, n, out] => (format, n, out, "box"),
        [_, format, n, out, spread] => (format, n, out, spread.as_str()),
        _ => return Err("usage: export_synthetic FORMAT N OUT [box|land|clustered]".into()),
    };
    let format = ExportFormat::parse(format).ok_or("unknown format")?;
    let n: usize = n.parse()?;
    let spread = match spread {
        "box" => Spread::Box,
        "land" => Spread::Land(Box::new(Catalog::load(DataSource::Embedded)?)),
        "clustered" => Spread::Clustered,
        other => return Err(format!("unknown spread '{other}': box, land or clustered").into()),
    };
    let mut points = Points { spread, j: 0 };
    let sample = project(0, Coord { x: 122.0, y: 41.0 });
    let columns = columns_of(std::iter::once(&sample));
    let kinds = std::collections::BTreeSet::from(["Point"]);
    let options = ExportOptions::default();
    let features = (0..n).map(|i| project(i, points.next_point()));
    let layer = Layer { name: "projects", columns: &columns, spatial: true, features };
    let start = Instant::now();
    match format {
        ExportFormat::GeoPackage => {
            export::gpkg::write_file(out.as_ref(), layer, &kinds, "synthetic", None, &options)?;
        }
        ExportFormat::FlatGeobuf => {
            export::fgb::write(BufWriter::new(std::fs::File::create(out)?), layer, &kinds, &options)?;
        }
        ExportFormat::Shapefile => {
            let dir = tempfile::tempdir()?;
            export::shp::write_zip(std::fs::File::create(out)?, dir.path(), layer, &options)?;
        }
        text => export::write_text(text, BufWriter::new(std::fs::File::create(out)?), layer, &options)?,
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!("{} {n} features in {secs:.2} s: {:.0} features/s", format.name(), n as f64 / secs);
    Ok(())
}
