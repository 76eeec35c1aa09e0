//! Prints the size of every tile covering Liaoning at zooms 0–8 (all four layers, uncached), and the time to
//! build each zoom's simplification: the figures in BENCHMARKS.md.
//!
//! `cargo run --release --example tile_sizes`

#![allow(clippy::print_stdout, reason = "the table is the output")]

use std::time::Instant;

use planatlas::geom::crs::Crs;
use planatlas::geom::tiles::TileId;
use planatlas::store::tiles::{TileSource, combined};
use planatlas::store::{Catalog, DataSource};

fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (x, y)
}

fn main() {
    let catalog = Catalog::load(DataSource::Embedded).expect("shipped data loads");
    let source = TileSource::new();
    let keep = |_: &str, _: &planatlas::store::Feature| true;
    println!(
        "| zoom | tiles with data | largest (KiB) | mean (KiB) | total (KiB) | first tile incl. simplification (ms) |"
    );
    println!("|---|---|---|---|---|---|");
    for z in 0..=8u8 {
        let (x0, y0) = tile_of(118.8, 43.5, z);
        let (x1, y1) = tile_of(125.8, 38.7, z);
        let mut sizes = Vec::new();
        let mut first_ms = None;
        for x in x0..=x1 {
            for y in y0..=y1 {
                let id = TileId::new(z, x, y).expect("a tile");
                let t = Instant::now();
                let tile = source.tile(&catalog, &combined(&catalog), id, Crs::Crs84, &keep, None);
                first_ms.get_or_insert(t.elapsed().as_secs_f64() * 1e3);
                if let Some(bytes) = tile {
                    sizes.push(bytes.len());
                }
            }
        }
        let total: usize = sizes.iter().sum();
        let max = sizes.iter().max().copied().unwrap_or(0);
        println!(
            "| {z} | {} | {:.1} | {:.1} | {:.1} | {:.0} |",
            sizes.len(),
            max as f64 / 1024.0,
            total as f64 / 1024.0 / sizes.len().max(1) as f64,
            total as f64 / 1024.0,
            first_ms.unwrap_or(0.0)
        );
    }
}
