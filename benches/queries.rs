//! Criterion benchmarks of the spatial queries on deterministic synthetic data.
//!
//! 10 000, 100 000 and 1 000 000 point projects, and as many short line projects (2–4 vertices, up to ~5 km),
//! spread uniformly over Liaoning's bounding box by a seeded generator. Measured: index build, k-nearest
//! (k = 10), everything within 10 km of a point, and point-in-region on the real boundaries.
//!
//! Run: `cargo bench --bench queries` (`-- knn` to pick a group). Results go to `BENCHMARKS.md`.

#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use geo::{Coord, Geometry, LineString, Point};
use planatlas::export::synthetic;
use planatlas::store::{Catalog, Collection, CollectionMeta, DataSource, Feature};
use serde_json::Map;

/// Liaoning's bounding box.
const MIN_LON: f64 = 118.85;
const MAX_LON: f64 = 125.78;
const MIN_LAT: f64 = 38.72;
const MAX_LAT: f64 = 43.49;

/// `SplitMix64`: deterministic, fast, good enough for spreading points.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn coord(&mut self) -> Coord<f64> {
        Coord {
            x: MIN_LON + (MAX_LON - MIN_LON) * self.next_f64(),
            y: MIN_LAT + (MAX_LAT - MIN_LAT) * self.next_f64(),
        }
    }
}

fn meta() -> CollectionMeta {
    CollectionMeta {
        id: "synthetic",
        title: "synthetic",
        description: String::new(),
        item_type: "feature",
        queryables: Vec::new(),
        params: Vec::new(),
    }
}

/// `n` features, points or short lines.
fn features(n: usize, lines: bool, seed: u64) -> Vec<Feature> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let start = rng.coord();
            let geometry = if lines {
                let vertices = 2 + (rng.next_f64() * 3.0) as usize;
                let mut coords = vec![start];
                for _ in 1..vertices {
                    let last = coords[coords.len() - 1];
                    coords.push(Coord {
                        x: last.x + (rng.next_f64() - 0.5) * 0.03,
                        y: last.y + (rng.next_f64() - 0.5) * 0.02,
                    });
                }
                Geometry::LineString(LineString(coords))
            } else {
                Geometry::Point(Point(start))
            };
            Feature::new(i.to_string(), Some(geometry), Map::new())
        })
        .collect()
}

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

fn bench_build(c: &mut Criterion) {
    let mut group = c.benchmark_group("index_build");
    group.sample_size(10);
    for kind in ["points", "lines"] {
        for n in SIZES {
            let fs = features(n, kind == "lines", 1);
            group.bench_with_input(BenchmarkId::new(kind, n), &fs, |b, fs| {
                b.iter_batched(
                    || fs.clone(),
                    |fs| black_box(Collection::new(meta(), fs)),
                    criterion::BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
}

fn bench_queries(c: &mut Criterion) {
    let queries: Vec<Coord<f64>> = {
        let mut rng = Rng(7);
        (0..1024).map(|_| rng.coord()).collect()
    };
    for kind in ["points", "lines"] {
        for n in SIZES {
            let collection = Collection::new(meta(), features(n, kind == "lines", 1));
            let mut q = 0usize;
            c.benchmark_group("knn_k10").bench_function(BenchmarkId::new(kind, n), |b| {
                b.iter(|| {
                    q = (q + 1) % queries.len();
                    black_box(collection.nearest(queries[q], 10, None, |_| true))
                });
            });
            c.benchmark_group("within_10km").bench_function(BenchmarkId::new(kind, n), |b| {
                b.iter(|| {
                    q = (q + 1) % queries.len();
                    black_box(collection.within_distance(
                        &Geometry::Point(Point(queries[q])),
                        10_000.0,
                        |_| true,
                    ))
                });
            });
        }
    }
}

/// `n` points clustered around the 14 city seats (`synthetic::Spread::Clustered`: about ±0.2°), as real projects
/// are.
fn clustered(n: usize) -> Vec<Feature> {
    synthetic::points(synthetic::Spread::Clustered)
        .take(n)
        .enumerate()
        .map(|(i, p)| Feature::new(i.to_string(), Some(Geometry::Point(Point(p))), Map::new()))
        .collect()
}

/// Nearest k=10 from query points inland (among the data), offshore (the Yellow Sea and Bohai, 50–300 km from
/// the coast) and far outside (central China), over clustered points: the cost should not jump with distance.
fn bench_knn_where(c: &mut Criterion) {
    let mut rng = Rng(11);
    let mut points = |lon: (f64, f64), lat: (f64, f64)| -> Vec<Coord<f64>> {
        (0..512)
            .map(|_| Coord {
                x: lon.0 + (lon.1 - lon.0) * rng.next_f64(),
                y: lat.0 + (lat.1 - lat.0) * rng.next_f64(),
            })
            .collect()
    };
    let sets = [
        ("inland", points((121.0, 124.5), (40.5, 42.5))),
        ("offshore", points((121.5, 124.0), (36.5, 38.3))),
        ("outside", points((105.0, 112.0), (28.0, 34.0))),
    ];
    for n in [100_000, 1_000_000] {
        let collection = Collection::new(meta(), clustered(n));
        let mut group = c.benchmark_group(format!("knn_k10_clustered_{n}"));
        for (name, qs) in &sets {
            let mut q = 0usize;
            group.bench_function(*name, |b| {
                b.iter(|| {
                    q = (q + 1) % qs.len();
                    black_box(collection.nearest(qs[q], 10, None, |_| true))
                });
            });
        }
        group.finish();
    }
}

fn bench_locate(c: &mut Criterion) {
    let catalog = Catalog::load(DataSource::Embedded).expect("shipped data loads");
    let queries: Vec<Coord<f64>> = {
        let mut rng = Rng(11);
        (0..1024).map(|_| rng.coord()).collect()
    };
    let mut q = 0usize;
    c.bench_function("point_in_region/real_boundaries", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            black_box(catalog.locate(queries[q]))
        });
    });
    c.bench_function("catalog_load/embedded", |b| b.iter(|| black_box(Catalog::load(DataSource::Embedded))));
    // The plan's own projects (207 points, 38 lines): what `/collections/projects/nearest` and
    // `/within-distance` search.
    let projects = catalog.projects();
    c.bench_function("real_projects/knn_k10", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            black_box(projects.nearest(queries[q], 10, None, |_| true))
        });
    });
    c.bench_function("real_projects/within_50km_first_10", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            let p = Geometry::Point(Point(queries[q]));
            black_box(projects.within_distance_first(&p, 50_000.0, |_| true, 10))
        });
    });
}

/// Reading and joining a layer of synthetic points on land (`planatlas::export::synthetic`, the FlatGeobuf path
/// of `--layer`): what a large layer costs at start-up, at 100 000 features (1M in
/// `scripts/bench-layer`).
fn bench_layer_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("synthetic.fgb");
    // `cargo test` runs each bench once, unoptimised, to see that it works: a small layer does for that.
    let n = if std::env::args().any(|a| a == "--bench") { 100_000 } else { 2_000 };
    let land = synthetic::Spread::parse("land").expect("shipped data loads");
    synthetic::write(planatlas::export::ExportFormat::FlatGeobuf, n, land, synthetic::Shape::Points, &file)
        .expect("the layer is written");
    let admin = Catalog::load_admin(&DataSource::Embedded).expect("shipped data loads");
    let spec: planatlas::store::layers::LayerSpec =
        format!("synthetic={}", file.display()).parse().expect("a layer spec");
    let mut group = c.benchmark_group("layer_load");
    group.sample_size(10);
    group.bench_function(format!("read_fgb_{}k", n / 1000), |b| {
        b.iter(|| black_box(planatlas::store::layers::read_all(std::slice::from_ref(&spec))));
    });
    group.bench_function(format!("join_{}k", n / 1000), |b| {
        b.iter_batched(
            || planatlas::store::layers::read_all(std::slice::from_ref(&spec)).expect("the layer reads"),
            |files| black_box(planatlas::store::layers::join_all(files, &admin)),
            criterion::BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_queries, bench_knn_where, bench_locate, bench_build, bench_layer_load
}
criterion_main!(benches);
