//! GCJ-02 and BD-09, the shifted coordinate systems of Chinese web maps.
//!
//! GCJ-02 (AMap/高德, Tencent, DataV) is WGS84 shifted by the published obfuscation formula (Krasovsky
//! ellipsoid constants, the usual `transform_lat`/`transform_lon` series around 105°E 35°N); BD-09 (Baidu)
//! shifts GCJ-02 again. There is no EPSG code for either. Outside China's bounding box the published algorithm
//! leaves coordinates unchanged, and so do we. The inverses are exact to 1e-9° by fixed-point iteration
//! (`w ← w − (forward(w) − g)`), not the one-step approximation many libraries use (which is off by metres).

use std::f64::consts::PI;

use geo::Coord;

/// Krasovsky 1940 semi-major axis, as the published GCJ-02 formula uses it.
const A: f64 = 6_378_245.0;
/// Krasovsky 1940 first eccentricity squared.
const EE: f64 = 0.006_693_421_622_965_943;
/// The BD-09 constant (π · 3000 / 180).
const X_PI: f64 = PI * 3000.0 / 180.0;
/// Iteration stops when both components move less than this (degrees).
const TOLERANCE_DEG: f64 = 1e-9;

/// Whether the published algorithm treats the point as outside China (and leaves it unchanged).
pub fn out_of_china(c: Coord<f64>) -> bool {
    !(72.004..=137.8347).contains(&c.x) || !(0.8293..=55.8271).contains(&c.y)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// WGS84 → GCJ-02 (longitude, latitude in degrees).
pub fn wgs84_to_gcj02(c: Coord<f64>) -> Coord<f64> {
    if out_of_china(c) {
        return c;
    }
    let dlat = transform_lat(c.x - 105.0, c.y - 35.0);
    let dlon = transform_lon(c.x - 105.0, c.y - 35.0);
    let radlat = c.y / 180.0 * PI;
    let magic = 1.0 - EE * radlat.sin() * radlat.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * radlat.cos() * PI);
    Coord { x: c.x + dlon, y: c.y + dlat }
}

/// Solves `forward(w) = g` for `w` by fixed-point iteration from `w = g`.
fn invert(g: Coord<f64>, forward: impl Fn(Coord<f64>) -> Coord<f64>) -> Coord<f64> {
    let mut w = g;
    for _ in 0..50 {
        let f = forward(w);
        let (dx, dy) = (f.x - g.x, f.y - g.y);
        w = Coord { x: w.x - dx, y: w.y - dy };
        if dx.abs() < TOLERANCE_DEG && dy.abs() < TOLERANCE_DEG {
            break;
        }
    }
    w
}

/// GCJ-02 → WGS84, the exact inverse (to 1e-9°) of [`wgs84_to_gcj02`].
pub fn gcj02_to_wgs84(g: Coord<f64>) -> Coord<f64> {
    if out_of_china(g) {
        return g;
    }
    invert(g, wgs84_to_gcj02)
}

/// GCJ-02 → BD-09 (Baidu's published formula).
pub fn gcj02_to_bd09(c: Coord<f64>) -> Coord<f64> {
    if out_of_china(c) {
        return c;
    }
    let z = (c.x * c.x + c.y * c.y).sqrt() + 0.000_02 * (c.y * X_PI).sin();
    let theta = c.y.atan2(c.x) + 0.000_003 * (c.x * X_PI).cos();
    Coord { x: z * theta.cos() + 0.0065, y: z * theta.sin() + 0.006 }
}

/// BD-09 → GCJ-02, the exact inverse (to 1e-9°) of [`gcj02_to_bd09`].
pub fn bd09_to_gcj02(b: Coord<f64>) -> Coord<f64> {
    if out_of_china(b) {
        return b;
    }
    invert(b, gcj02_to_bd09)
}

/// WGS84 → BD-09.
pub fn wgs84_to_bd09(c: Coord<f64>) -> Coord<f64> {
    gcj02_to_bd09(wgs84_to_gcj02(c))
}

/// BD-09 → WGS84.
pub fn bd09_to_wgs84(b: Coord<f64>) -> Coord<f64> {
    gcj02_to_wgs84(bd09_to_gcj02(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::geodesic::distance_m;

    #[test]
    fn the_shift_over_dalian_is_hundreds_of_metres() {
        let w = Coord { x: 121.6, y: 38.9 };
        let d = distance_m(w, wgs84_to_gcj02(w));
        assert!(d > 300.0 && d < 700.0, "{d}");
        let b = distance_m(w, wgs84_to_bd09(w));
        assert!(b > 700.0, "BD-09 is shifted further: {b}");
    }

    #[test]
    fn inverses_round_trip_to_well_under_a_centimetre() {
        for (x, y) in [(121.6, 38.9), (123.4, 41.8), (125.36, 41.27), (119.5, 41.33)] {
            let w = Coord { x, y };
            assert!(distance_m(w, gcj02_to_wgs84(wgs84_to_gcj02(w))) < 0.01);
            assert!(distance_m(w, bd09_to_wgs84(wgs84_to_bd09(w))) < 0.01);
        }
    }

    #[test]
    fn outside_china_nothing_moves() {
        let paris = Coord { x: 2.35, y: 48.85 };
        assert_eq!(wgs84_to_gcj02(paris), paris);
        assert_eq!(bd09_to_wgs84(paris), paris);
    }
}
