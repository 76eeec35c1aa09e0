//! Criterion benchmarks (filled in by the proximity work).

fn main() {}
