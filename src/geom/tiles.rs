//! Web Mercator tile maths: projection, tile bounds, and clipping to a tile in tile coordinates.
//!
//! Tile coordinates follow the Mapbox Vector Tile spec: `extent` units across (4096), origin at the tile's top
//! left, y growing downwards.

use geo::{Coord, LineString, MultiLineString, MultiPolygon, Polygon, Rect};

/// Half the Web Mercator world width in metres (π · 6 378 137).
pub const HALF_WORLD_M: f64 = std::f64::consts::PI * 6_378_137.0;
/// The latitude beyond which Web Mercator is cut off.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;
/// Tile extent in MVT units.
pub const EXTENT: u32 = 4096;
/// Clip buffer around a tile, in MVT units (so strokes and labels at the edge draw whole).
pub const BUFFER: f64 = 64.0;

/// Longitude/latitude (degrees) to Web Mercator metres (EPSG:3857).
pub fn to_mercator(c: Coord<f64>) -> Coord<f64> {
    let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
    Coord {
        x: c.x.to_radians() * 6_378_137.0,
        y: (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln() * 6_378_137.0,
    }
}

/// Web Mercator metres to longitude/latitude.
pub fn from_mercator(c: Coord<f64>) -> Coord<f64> {
    Coord {
        x: (c.x / 6_378_137.0).to_degrees(),
        y: (2.0 * (c.y / 6_378_137.0).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees(),
    }
}

/// A tile address in the `WebMercatorQuad` tile matrix set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    /// Zoom (tile matrix).
    pub z: u8,
    /// Column.
    pub x: u32,
    /// Row, from the top (north).
    pub y: u32,
}

impl TileId {
    /// A tile, if `x` and `y` exist at `z` (z ≤ 24).
    pub fn new(z: u8, x: u32, y: u32) -> Option<Self> {
        (z <= 24 && u64::from(x) < (1u64 << z) && u64::from(y) < (1u64 << z)).then_some(Self { z, x, y })
    }

    /// Parses a tile address from its path segments, saying what is wrong (for a 404) when it does not exist
    /// at a zoom up to `max_zoom`.
    pub fn parse(z: &str, x: &str, y: &str, max_zoom: u8) -> Result<Self, String> {
        let num =
            |name: &str, v: &str| v.parse::<u32>().map_err(|_| format!("{name} '{v}' is not a whole number"));
        let (z, x, y) = (num("zoom", z)?, num("column", x)?, num("row", y)?);
        if z > u32::from(max_zoom) {
            return Err(format!("zoom {z}: zooms 0–{max_zoom} are served"));
        }
        let z8 = u8::try_from(z).unwrap_or(u8::MAX);
        Self::new(z8, x, y).ok_or_else(|| {
            format!("tile {z}/{x}/{y}: at zoom {z} columns and rows run 0–{}", (1u64 << z) - 1)
        })
    }

    /// The tile's bounds in Web Mercator metres.
    pub fn bounds(self) -> Rect<f64> {
        let size = 2.0 * HALF_WORLD_M / f64::from(1u32 << self.z);
        let left = -HALF_WORLD_M + f64::from(self.x) * size;
        let top = HALF_WORLD_M - f64::from(self.y) * size;
        Rect::new(Coord { x: left, y: top - size }, Coord { x: left + size, y: top })
    }

    /// The tile's bounds in longitude/latitude, grown by `margin` (a fraction of the tile's size).
    pub fn lon_lat_bounds(self, margin: f64) -> Rect<f64> {
        let b = self.bounds();
        let m = b.width() * margin;
        let min = from_mercator(Coord { x: b.min().x - m, y: b.min().y - m });
        let max = from_mercator(Coord { x: b.max().x + m, y: b.max().y + m });
        Rect::new(min, max)
    }

    /// Metres per MVT unit at this zoom.
    pub fn unit_m(self) -> f64 {
        2.0 * HALF_WORLD_M / f64::from(1u32 << self.z) / f64::from(EXTENT)
    }

    /// Web Mercator metres to this tile's coordinates (y down), unrounded.
    pub fn to_tile(self, c: Coord<f64>) -> Coord<f64> {
        let b = self.bounds();
        let k = f64::from(EXTENT) / b.width();
        Coord { x: (c.x - b.min().x) * k, y: (b.max().y - c.y) * k }
    }
}

/// Metres per MVT unit at zoom `z`.
pub fn unit_m_at(z: u8) -> f64 {
    2.0 * HALF_WORLD_M / f64::from(1u32 << z) / f64::from(EXTENT)
}

fn inside(c: Coord<f64>, edge: usize, lo: f64, hi: f64) -> bool {
    match edge {
        0 => c.x >= lo,
        1 => c.x <= hi,
        2 => c.y >= lo,
        _ => c.y <= hi,
    }
}

fn cross(a: Coord<f64>, b: Coord<f64>, edge: usize, lo: f64, hi: f64) -> Coord<f64> {
    let v = if edge.is_multiple_of(2) { lo } else { hi };
    if edge < 2 {
        let t = (v - a.x) / (b.x - a.x);
        Coord { x: v, y: a.y + t * (b.y - a.y) }
    } else {
        let t = (v - a.y) / (b.y - a.y);
        Coord { x: a.x + t * (b.x - a.x), y: v }
    }
}

/// Clips a closed ring to the square [lo, hi]² (Sutherland–Hodgman). The result is closed, or empty when
/// nothing is left. Concave rings may gain edges along the square's sides, which render invisibly.
pub fn clip_ring(ring: &[Coord<f64>], lo: f64, hi: f64) -> Vec<Coord<f64>> {
    let mut pts: Vec<Coord<f64>> = ring.to_vec();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    for edge in 0..4 {
        if pts.is_empty() {
            break;
        }
        let mut out = Vec::with_capacity(pts.len() + 4);
        let mut prev = pts[pts.len() - 1];
        for &cur in &pts {
            let (pi, ci) = (inside(prev, edge, lo, hi), inside(cur, edge, lo, hi));
            if ci {
                if !pi {
                    out.push(cross(prev, cur, edge, lo, hi));
                }
                out.push(cur);
            } else if pi {
                out.push(cross(prev, cur, edge, lo, hi));
            }
            prev = cur;
        }
        pts = out;
    }
    if pts.len() >= 3 {
        pts.push(pts[0]);
        pts
    } else {
        Vec::new()
    }
}

/// Clips a line to the square [lo, hi]² (Liang–Barsky per segment), returning the pieces inside.
pub fn clip_line(line: &[Coord<f64>], lo: f64, hi: f64) -> Vec<Vec<Coord<f64>>> {
    let mut pieces: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut current: Vec<Coord<f64>> = Vec::new();
    for w in line.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (p, q) in [(-dx, a.x - lo), (dx, hi - a.x), (-dy, a.y - lo), (dy, hi - a.y)] {
            if p == 0.0 {
                if q < 0.0 {
                    visible = false;
                    break;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !visible || t0 > t1 {
            if current.len() >= 2 {
                pieces.push(std::mem::take(&mut current));
            }
            current.clear();
            continue;
        }
        let start = Coord { x: a.x + t0 * dx, y: a.y + t0 * dy };
        let end = Coord { x: a.x + t1 * dx, y: a.y + t1 * dy };
        if current.last() != Some(&start) {
            if current.len() >= 2 {
                pieces.push(std::mem::take(&mut current));
            }
            current = vec![start];
        }
        current.push(end);
        if t1 < 1.0 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if current.len() >= 2 {
        pieces.push(current);
    }
    pieces
}

/// Rounds to integer tile units and drops consecutive repeats.
fn snap(coords: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(coords.len());
    for c in coords {
        let r = Coord { x: c.x.round(), y: c.y.round() };
        if out.last() != Some(&r) {
            out.push(r);
        }
    }
    out
}

/// A polygon (in tile units) clipped to the tile plus buffer, snapped to integers, degenerate rings dropped,
/// and oriented as MVT 2.1 requires: exterior rings with positive area by the surveyor's formula in tile
/// coordinates (clockwise on screen, y down), holes negative.
pub fn tile_polygon(p: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    use geo::Area;
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let mut polys = Vec::new();
    for poly in p {
        let ext = snap(&clip_ring(&poly.exterior().0, lo, hi));
        if ext.len() < 4 {
            continue;
        }
        let exterior = LineString(ext);
        if Polygon::new(exterior.clone(), vec![]).unsigned_area() < 1.0 {
            continue;
        }
        let holes: Vec<LineString<f64>> = poly
            .interiors()
            .iter()
            .map(|h| snap(&clip_ring(&h.0, lo, hi)))
            .filter(|h| h.len() >= 4)
            .map(LineString)
            .filter(|h| Polygon::new(h.clone(), vec![]).unsigned_area() >= 1.0)
            .collect();
        polys.push(Polygon::new(exterior, holes));
    }
    // Oriented by each ring's signed area: a clipped ring can run along the buffer edge and touch itself, where
    // a winding test at one vertex (geo's `orient`) can judge it the wrong way round.
    let oriented = |ring: LineString<f64>, positive: bool| {
        let area = Polygon::new(ring.clone(), vec![]).signed_area();
        if (area > 0.0) == positive { ring } else { LineString(ring.0.into_iter().rev().collect()) }
    };
    let polys: Vec<Polygon<f64>> = polys
        .into_iter()
        .map(|p| {
            let (exterior, holes) = p.into_inner();
            Polygon::new(oriented(exterior, true), holes.into_iter().map(|h| oriented(h, false)).collect())
        })
        .collect();
    (!polys.is_empty()).then_some(MultiPolygon(polys))
}

/// A line (in tile units) clipped to the tile plus buffer and snapped to integers.
pub fn tile_lines(lines: &MultiLineString<f64>) -> Option<MultiLineString<f64>> {
    let (lo, hi) = (-BUFFER, f64::from(EXTENT) + BUFFER);
    let pieces: Vec<LineString<f64>> = lines
        .iter()
        .flat_map(|l| clip_line(&l.0, lo, hi))
        .map(|p| snap(&p))
        .filter(|p| p.len() >= 2)
        .map(LineString)
        .collect();
    (!pieces.is_empty()).then_some(MultiLineString(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mercator_round_trips() {
        let c = Coord { x: 123.4, y: 41.8 };
        let back = from_mercator(to_mercator(c));
        assert!((back.x - c.x).abs() < 1e-9 && (back.y - c.y).abs() < 1e-9);
    }

    #[test]
    fn tile_bounds_cover_the_world_at_zoom_zero() {
        let b = TileId::new(0, 0, 0).unwrap().bounds();
        assert!((b.width() - 2.0 * HALF_WORLD_M).abs() < 1e-6);
        assert!(TileId::new(3, 8, 0).is_none());
    }

    #[test]
    fn a_square_is_clipped_to_the_tile() {
        let sq = vec![
            Coord { x: -100.0, y: -100.0 },
            Coord { x: 5000.0, y: -100.0 },
            Coord { x: 5000.0, y: 5000.0 },
            Coord { x: -100.0, y: 5000.0 },
            Coord { x: -100.0, y: -100.0 },
        ];
        let clipped = clip_ring(&sq, -64.0, 4160.0);
        assert_eq!(clipped.len(), 5);
        assert!(clipped.iter().all(|c| c.x >= -64.0 && c.x <= 4160.0 && c.y >= -64.0 && c.y <= 4160.0));
    }

    #[test]
    fn exterior_rings_get_positive_area_in_tile_space() {
        use geo::Area;
        let ring = LineString(vec![
            Coord { x: 10.0, y: 10.0 },
            Coord { x: 10.0, y: 100.0 },
            Coord { x: 100.0, y: 100.0 },
            Coord { x: 100.0, y: 10.0 },
            Coord { x: 10.0, y: 10.0 },
        ]);
        let mp = tile_polygon(&MultiPolygon(vec![Polygon::new(ring, vec![])])).unwrap();
        assert!(mp.0[0].signed_area() > 0.0);
    }

    #[test]
    fn a_line_crossing_the_tile_is_cut_at_its_edges() {
        let pieces =
            clip_line(&[Coord { x: -1000.0, y: 100.0 }, Coord { x: 5000.0, y: 100.0 }], -64.0, 4160.0);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0][0].x, -64.0);
        assert_eq!(pieces[0][1].x, 4160.0);
    }
}
