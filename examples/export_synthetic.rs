//! Writes N synthetic point (or line) projects in one export format, generating each feature on the fly
//! ([`planatlas::export::synthetic`]): data to measure export throughput and memory (`scripts/bench-exports`,
//! which records peak RSS with GNU time), and a large layer to serve with `--layer` (`scripts/bench-layer`,
//! `scripts/bench-postgis`).
//!
//! `cargo run --release --example export_synthetic -- FORMAT N OUT [SPREAD] [SHAPE]`
//!
//! SPREAD is where the points are: `box` (default; evenly over Liaoning's bounding box, sea included), `land`
//! (only points inside one of the 100 counties) or `clustered` (around the 14 city seats). SHAPE is `points`
//! (default) or `lines`: three-vertex lines 2-6 km long starting at those points.

use std::time::Instant;

use planatlas::export::ExportFormat;
use planatlas::export::synthetic::{self, Shape, Spread};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (format, n, out, spread, shape) = match args.as_slice() {
        [_, format, n, out] => (format, n, out, "box", "points"),
        [_, format, n, out, spread] => (format, n, out, spread.as_str(), "points"),
        [_, format, n, out, spread, shape] => (format, n, out, spread.as_str(), shape.as_str()),
        _ => return Err("usage: export_synthetic FORMAT N OUT [box|land|clustered] [points|lines]".into()),
    };
    let format = ExportFormat::parse(format).ok_or("unknown format")?;
    let n: usize = n.parse()?;
    let spread = Spread::parse(spread)?;
    let shape = Shape::parse(shape)?;
    let start = Instant::now();
    synthetic::write(format, n, spread, shape, out.as_ref())?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!("{} {n} features in {secs:.2} s: {:.0} features/s", format.name(), n as f64 / secs);
    Ok(())
}
