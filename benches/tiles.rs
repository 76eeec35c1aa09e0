//! Criterion benchmarks of vector-tile encoding on the real data, per zoom, uncached: the counties layer and
//! the projects layer of the tile over central Shenyang at zooms 0–8. The per-zoom simplification is done once
//! before measuring (the server does it on the first request of a zoom and keeps it).
//!
//! Run: `cargo bench --bench tiles`. Tile sizes are printed by `cargo run --release --example tile_sizes`.

#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use planatlas::geom::crs::Crs;
use planatlas::geom::tiles::TileId;
use planatlas::store::tiles::TileSource;
use planatlas::store::{Catalog, DataSource};

/// The tile containing central Shenyang (123.40 E, 41.79 N) at zoom `z`.
fn shenyang(z: u8) -> TileId {
    let n = f64::from(1u32 << z);
    let x = ((123.40 + 180.0) / 360.0 * n).floor() as u32;
    let r = 41.79f64.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    TileId::new(z, x, y).expect("a tile")
}

fn bench_tiles(c: &mut Criterion) {
    let catalog = Catalog::load(DataSource::Embedded).expect("shipped data loads");
    let source = TileSource::new();
    let keep = |_: &str, _: &planatlas::store::Feature| true;
    for layer in ["counties", "projects"] {
        let mut group = c.benchmark_group(format!("tile_encode/{layer}"));
        for z in 0..=8u8 {
            let id = shenyang(z);
            // Warm the zoom's simplification; measure only the encoding (no tile cache: cache_key None).
            let _ = source.tile(&catalog, &[layer], id, Crs::Crs84, &keep, None);
            group.bench_with_input(BenchmarkId::from_parameter(z), &id, |b, id| {
                b.iter(|| black_box(source.tile(&catalog, &[layer], *id, Crs::Crs84, &keep, None)));
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench_tiles
}
criterion_main!(benches);
