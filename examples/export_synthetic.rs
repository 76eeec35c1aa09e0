//! Writes N synthetic point projects in one export format, generating each feature on the fly, to measure
//! export throughput and memory (see `scripts/bench-exports`, which records peak RSS with GNU time):
//!
//! `cargo run --release --example export_synthetic -- FORMAT N OUT`

use std::io::BufWriter;
use std::time::Instant;

use geo::{Coord, Geometry, Point};
use planatlas::export::{self, ExportFormat, ExportOptions, Layer, columns_of};
use planatlas::store::Feature;
use serde_json::{Map, json};

const CATEGORIES: [&str; 6] = ["energy", "railway", "airport", "science", "water", "industrial_park"];

/// The i-th synthetic project: a point spread over Liaoning's bounding box by a Weyl sequence, with properties
/// shaped like the real catalogue's.
fn project(i: usize) -> Feature {
    let fi = i as f64;
    let x = 118.85 + 6.93 * ((fi * 0.618_033_988_75) % 1.0);
    let y = 38.72 + 4.77 * ((fi * 0.414_213_562_37) % 1.0);
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
    Feature::new(format!("synthetic-{i}"), Some(Geometry::Point(Point(Coord { x, y }))), p)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, format, n, out] = args.as_slice() else {
        return Err("usage: export_synthetic FORMAT N OUT".into());
    };
    let format = ExportFormat::parse(format).ok_or("unknown format")?;
    let n: usize = n.parse()?;
    let sample = project(0);
    let columns = columns_of(std::iter::once(&sample));
    let kinds = std::collections::BTreeSet::from(["Point"]);
    let options = ExportOptions::default();
    let layer = Layer { name: "projects", columns: &columns, spatial: true, features: (0..n).map(project) };
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
