//! Simplification that opens no gaps between neighbours.
//!
//! Polygons that share borders (counties, and the cities made of them) are cut into *arcs*: stretches of
//! boundary between junctions, a junction being a vertex where the set of polygons on either side changes. Each
//! distinct arc is simplified once (Douglas–Peucker with its end points fixed) and every ring is rebuilt from
//! the simplified arcs, so two neighbours always draw exactly the same border. Shared vertices must be
//! bit-identical in the input, as they are in the shipped boundaries.

use std::collections::HashMap;

use geo::{Area, Coord, LineString, MultiPolygon, Polygon};

type Key = (u64, u64);

fn key(c: Coord<f64>) -> Key {
    (c.x.to_bits(), c.y.to_bits())
}

fn edge_key(a: Coord<f64>, b: Coord<f64>) -> (Key, Key) {
    let (ka, kb) = (key(a), key(b));
    if ka <= kb { (ka, kb) } else { (kb, ka) }
}

/// An arc used by a ring, possibly backwards.
#[derive(Debug, Clone, Copy)]
struct ArcUse {
    arc: usize,
    reversed: bool,
}

/// A set of polygons cut into shared arcs, ready to be simplified at any tolerance.
#[derive(Debug, Clone)]
pub struct Topology {
    arcs: Vec<Vec<Coord<f64>>>,
    /// For each input multipolygon, each polygon, each ring (exterior first): the arcs that make it.
    shapes: Vec<Vec<Vec<Vec<ArcUse>>>>,
}

impl Topology {
    /// Builds the arcs of these multipolygons.
    pub fn new(shapes: &[MultiPolygon<f64>]) -> Self {
        // Which rings use each edge.
        let mut edge_rings: HashMap<(Key, Key), Vec<usize>> = HashMap::new();
        let rings: Vec<Vec<Vec<&LineString<f64>>>> = shapes
            .iter()
            .map(|mp| {
                mp.iter().map(|p| std::iter::once(p.exterior()).chain(p.interiors()).collect()).collect()
            })
            .collect();
        for (ring_id, ring) in rings.iter().flatten().flatten().enumerate() {
            for w in ring.0.windows(2) {
                let e = edge_rings.entry(edge_key(w[0], w[1])).or_default();
                if e.last() != Some(&ring_id) {
                    e.push(ring_id);
                }
            }
        }
        let mut arcs: Vec<Vec<Coord<f64>>> = Vec::new();
        let mut arc_index: HashMap<Vec<Key>, usize> = HashMap::new();
        let mut out_shapes = Vec::with_capacity(shapes.len());
        for shape in &rings {
            let mut polys = Vec::with_capacity(shape.len());
            for poly in shape {
                let mut ring_uses = Vec::with_capacity(poly.len());
                for ring in poly {
                    let mut pts: Vec<Coord<f64>> = ring.0.clone();
                    if pts.len() > 1 && pts.first() == pts.last() {
                        pts.pop();
                    }
                    let n = pts.len();
                    if n < 3 {
                        ring_uses.push(Vec::new());
                        continue;
                    }
                    let users = |i: usize, j: usize| edge_rings.get(&edge_key(pts[i % n], pts[j % n]));
                    let nodes: Vec<usize> =
                        (0..n).filter(|&i| users((i + n - 1) % n, i) != users(i, i + 1)).collect();
                    // A ring with no junction (an island, or a ring shared whole with one neighbour) starts at its
                    // smallest vertex, so every ring sharing it cuts it the same way.
                    let starts = if nodes.is_empty() {
                        vec![(0..n).min_by_key(|&i| key(pts[i])).unwrap_or(0)]
                    } else {
                        nodes
                    };
                    let mut uses = Vec::with_capacity(starts.len());
                    for (k, &s) in starts.iter().enumerate() {
                        let e = if k + 1 < starts.len() { starts[k + 1] } else { starts[0] + n };
                        let arc: Vec<Coord<f64>> = (s..=e).map(|i| pts[i % n]).collect();
                        let forward: Vec<Key> = arc.iter().map(|c| key(*c)).collect();
                        let mut backward = forward.clone();
                        backward.reverse();
                        let (canon, reversed) =
                            if forward <= backward { (forward, false) } else { (backward, true) };
                        let id = *arc_index.entry(canon).or_insert_with(|| {
                            let mut a = arc.clone();
                            if reversed {
                                a.reverse();
                            }
                            arcs.push(a);
                            arcs.len() - 1
                        });
                        uses.push(ArcUse { arc: id, reversed });
                    }
                    ring_uses.push(uses);
                }
                polys.push(ring_uses);
            }
            out_shapes.push(polys);
        }
        Self { arcs, shapes: out_shapes }
    }

    /// Number of distinct arcs.
    pub fn arc_count(&self) -> usize {
        self.arcs.len()
    }

    /// Every shape simplified with `tolerance` (in the input's units). Rings reduced below a triangle, or to
    /// almost no area (under tolerance²), are dropped; a polygon whose exterior goes drops with its holes.
    pub fn simplified(&self, tolerance: f64) -> Vec<MultiPolygon<f64>> {
        let arcs: Vec<Vec<Coord<f64>>> = self.arcs.iter().map(|a| simplify_arc(a, tolerance)).collect();
        let min_area = tolerance * tolerance;
        self.shapes
            .iter()
            .map(|polys| {
                MultiPolygon(
                    polys
                        .iter()
                        .filter_map(|rings| {
                            let keep = |r: &LineString<f64>| {
                                r.0.len() >= 4 && Polygon::new(r.clone(), vec![]).unsigned_area() > min_area
                            };
                            let exterior = rings.first().map(|uses| ring_from(&arcs, uses)).filter(keep)?;
                            let holes =
                                rings[1..].iter().map(|uses| ring_from(&arcs, uses)).filter(keep).collect();
                            Some(Polygon::new(exterior, holes))
                        })
                        .collect(),
                )
            })
            .collect()
    }
}

fn ring_from(arcs: &[Vec<Coord<f64>>], uses: &[ArcUse]) -> LineString<f64> {
    let mut out: Vec<Coord<f64>> = Vec::new();
    for u in uses {
        let arc = &arcs[u.arc];
        let it: Box<dyn Iterator<Item = &Coord<f64>>> =
            if u.reversed { Box::new(arc.iter().rev()) } else { Box::new(arc.iter()) };
        for &c in it {
            if out.last() != Some(&c) {
                out.push(c);
            }
        }
    }
    if out.len() > 1 && out.first() != out.last() {
        out.push(out[0]);
    }
    LineString(out)
}

/// Douglas–Peucker with both ends fixed; a closed arc is split at its farthest point first.
fn simplify_arc(arc: &[Coord<f64>], tolerance: f64) -> Vec<Coord<f64>> {
    if arc.len() <= 2 || tolerance <= 0.0 {
        return arc.to_vec();
    }
    if arc.first() == arc.last() {
        let start = arc[0];
        let far = (1..arc.len() - 1)
            .max_by(|&a, &b| dist2(arc[a], start).total_cmp(&dist2(arc[b], start)))
            .unwrap_or(arc.len() / 2);
        let mut first = douglas_peucker(&arc[..=far], tolerance);
        let second = douglas_peucker(&arc[far..], tolerance);
        first.pop();
        first.extend(second);
        return first;
    }
    douglas_peucker(arc, tolerance)
}

fn dist2(a: Coord<f64>, b: Coord<f64>) -> f64 {
    (a.x - b.x).powi(2) + (a.y - b.y).powi(2)
}

fn segment_dist2(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return dist2(p, a);
    }
    let t = (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0);
    dist2(p, Coord { x: a.x + t * dx, y: a.y + t * dy })
}

fn douglas_peucker(pts: &[Coord<f64>], tolerance: f64) -> Vec<Coord<f64>> {
    let n = pts.len();
    if n <= 2 {
        return pts.to_vec();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    let tol2 = tolerance * tolerance;
    let mut stack = vec![(0usize, n - 1)];
    while let Some((s, e)) = stack.pop() {
        let (mut best, mut best_d) = (0usize, -1.0f64);
        for i in s + 1..e {
            let d = segment_dist2(pts[i], pts[s], pts[e]);
            if d > best_d {
                best = i;
                best_d = d;
            }
        }
        if best_d > tol2 {
            keep[best] = true;
            stack.push((s, best));
            stack.push((best, e));
        }
    }
    pts.iter().zip(keep).filter(|(_, k)| *k).map(|(c, _)| *c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn neighbours_keep_one_border_after_simplification() {
        // Two squares sharing a wiggly border.
        let left: MultiPolygon<f64> = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.2, y: 2.5), (x: 9.9, y: 5.0), (x: 10.1, y: 7.5), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)
        ]]);
        let right: MultiPolygon<f64> = MultiPolygon(vec![polygon![
            (x: 10.0, y: 0.0), (x: 20.0, y: 0.0), (x: 20.0, y: 10.0), (x: 10.0, y: 10.0), (x: 10.1, y: 7.5), (x: 9.9, y: 5.0), (x: 10.2, y: 2.5)
        ]]);
        let topo = Topology::new(&[left, right]);
        let out = topo.simplified(0.5);
        // The shared border became the straight line x = 10 in both.
        for mp in &out {
            assert!(mp.0[0].exterior().0.iter().all(|c| c.x != 10.2 && c.x != 9.9 && c.x != 10.1));
        }
        let area: f64 = out.iter().map(geo::Area::unsigned_area).sum();
        assert!((area - 200.0).abs() < 1e-9, "no gap, no overlap: {area}");
    }
}
