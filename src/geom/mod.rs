//! Pure geometry on `geo-types` in CRS84 (longitude, latitude in degrees, WGS84).
//!
//! Nothing here knows a region, a project or HTTP: these are the measuring tools the store and the routes
//! call. Distances are geodesic on the WGS84 ellipsoid (Karney's algorithm, the same one PROJ's `geod` uses),
//! always in metres, always to the nearest point of a geometry rather than to its centre.

pub mod chinese;
pub mod crs;
pub mod geodesic;
pub mod tiles;
pub mod topo;

use geo::{BoundingRect, Coord, Geometry, Rect};

/// The bounding box of a geometry, `None` for an empty one.
pub fn bounding_rect(geometry: &Geometry<f64>) -> Option<Rect<f64>> {
    geometry.bounding_rect()
}

/// Grows `acc` to cover `rect`.
pub fn union_rect(acc: Option<Rect<f64>>, rect: Rect<f64>) -> Rect<f64> {
    match acc {
        None => rect,
        Some(a) => Rect::new(
            Coord { x: a.min().x.min(rect.min().x), y: a.min().y.min(rect.min().y) },
            Coord { x: a.max().x.max(rect.max().x), y: a.max().y.max(rect.max().y) },
        ),
    }
}

/// A geometry as a GeoJSON geometry object, coordinates passed through `map` (e.g. a CRS transform) and
/// rounded to `decimals` places so output never claims more precision than the data has.
pub fn to_geojson_value(
    geometry: &Geometry<f64>,
    decimals: i32,
    map: &dyn Fn(Coord<f64>) -> Coord<f64>,
) -> serde_json::Value {
    use serde_json::{Value, json};
    let scale = 10f64.powi(decimals);
    let r = |v: f64| (v * scale).round() / scale;
    let pos = |c: Coord<f64>| {
        let c = map(c);
        json!([r(c.x), r(c.y)])
    };
    let line = |ls: &geo::LineString<f64>| Value::Array(ls.0.iter().map(|&c| pos(c)).collect());
    let poly = |p: &geo::Polygon<f64>| {
        Value::Array(std::iter::once(p.exterior()).chain(p.interiors()).map(line).collect())
    };
    match geometry {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": pos(p.0)}),
        Geometry::MultiPoint(mp) => {
            json!({"type": "MultiPoint", "coordinates": mp.iter().map(|p| pos(p.0)).collect::<Vec<_>>()})
        }
        Geometry::Line(l) => json!({"type": "LineString", "coordinates": [pos(l.start), pos(l.end)]}),
        Geometry::LineString(ls) => json!({"type": "LineString", "coordinates": line(ls)}),
        Geometry::MultiLineString(mls) => {
            json!({"type": "MultiLineString", "coordinates": mls.iter().map(line).collect::<Vec<_>>()})
        }
        Geometry::Polygon(p) => json!({"type": "Polygon", "coordinates": poly(p)}),
        Geometry::MultiPolygon(mp) => {
            json!({"type": "MultiPolygon", "coordinates": mp.iter().map(poly).collect::<Vec<_>>()})
        }
        Geometry::Rect(rect) => json!({"type": "Polygon", "coordinates": poly(&rect.to_polygon())}),
        Geometry::Triangle(t) => json!({"type": "Polygon", "coordinates": poly(&t.to_polygon())}),
        Geometry::GeometryCollection(gc) => json!({
            "type": "GeometryCollection",
            "geometries": gc.iter().map(|g| to_geojson_value(g, decimals, map)).collect::<Vec<_>>()
        }),
    }
}

/// One segment of a ring, remembering its position for the self-intersection check.
#[derive(Debug, Clone, Copy)]
struct RingSegment {
    line: geo::Line<f64>,
    index: usize,
}

impl geo::algorithm::sweep::Cross for RingSegment {
    type Scalar = f64;

    fn line(&self) -> geo::Line<f64> {
        self.line
    }
}

/// Feeds every position to `hasher`, as the bits of x then y.
pub fn hash_positions(hasher: &mut xxhash_rust::xxh3::Xxh3, positions: impl Iterator<Item = Coord<f64>>) {
    for c in positions {
        hasher.update(&c.x.to_bits().to_le_bytes());
        hasher.update(&c.y.to_bits().to_le_bytes());
    }
}

/// Checks that no two edges of a (multi)polygon's rings cross; the error names the first crossing found (two
/// edges' interiors meeting at one point that is an end of neither), or says the edges are too tangled to
/// search. Other geometries pass.
///
/// A polygon whose edges cross has no one inside, and clipping it to the counties (the
/// join) splits it at every crossing: a 1 600-position star has a million crossings and took minutes, holding
/// the write lock. Refused instead, before the join. Touching at a vertex (a ring pinched to a point, as
/// Shapefiles draw holes) and edges running along each other are left to the clipping, which takes them in
/// its stride, and so (not found here) are crossings exactly at a vertex, which are as many as the vertices at
/// most. The search is an R-tree of the edges' boxes; it tests at most 64 pairs of edges whose boxes meet per
/// edge, or 4 million in all if that is more (a few hundred milliseconds), so hundreds of long diagonal
/// strips side by side pass, and a geometry needing more is refused as too tangled to check.
pub fn polygon_crossing(geometry: &Geometry<f64>) -> Result<(), String> {
    let polygons = match geometry {
        Geometry::Polygon(p) => std::slice::from_ref(p),
        Geometry::MultiPolygon(mp) => mp.0.as_slice(),
        _ => return Ok(()),
    };
    let mut rings: Vec<(String, &geo::LineString<f64>)> = Vec::new();
    for (n, p) in polygons.iter().enumerate() {
        let of = if polygons.len() == 1 { String::new() } else { format!("polygon {}'s ", n + 1) };
        rings.push((format!("{of}exterior"), p.exterior()));
        rings.extend(p.interiors().iter().enumerate().map(|(h, r)| (format!("{of}hole {}", h + 1), r)));
    }
    rings_crossing(&rings)
}

/// [`polygon_crossing`] for rings named by their labels.
fn rings_crossing(rings: &[(String, &geo::LineString<f64>)]) -> Result<(), String> {
    use geo::{LineIntersection, line_intersection::line_intersection};
    use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
    // Each edge with its ring. Neighbours in a ring meet at their shared end, which is no proper crossing.
    let edges: Vec<(geo::Line<f64>, usize)> = rings
        .iter()
        .enumerate()
        .flat_map(|(r, (_, ring))| ring.lines().filter(|l| l.start != l.end).map(move |l| (l, r)))
        .collect();
    let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = edges
        .iter()
        .enumerate()
        .map(|(k, (l, _))| {
            GeomWithData::new(Rectangle::from_corners([l.start.x, l.start.y], [l.end.x, l.end.y]), k)
        })
        .collect();
    let tree = RTree::bulk_load(boxes);
    let budget = (64 * edges.len()).max(4_000_000);
    let mut looked = 0usize;
    for (k, (line, ring)) in edges.iter().enumerate() {
        let env = AABB::from_corners([line.start.x, line.start.y], [line.end.x, line.end.y]);
        for other in tree.locate_in_envelope_intersecting(&env) {
            let j = other.data;
            if j <= k {
                continue;
            }
            looked += 1;
            if looked > budget {
                return Err(format!(
                    "its {} edges are too tangled to check for crossings (more than {budget} pairs of edges \
                     overlap in extent); simplify it or split it into several features",
                    edges.len()
                ));
            }
            let (other_line, other_ring) = edges[j];
            if let Some(LineIntersection::SinglePoint { intersection: c, is_proper: true }) =
                line_intersection(*line, other_line)
            {
                let (a, b) = (&rings[*ring].0, &rings[other_ring].0);
                let whose = if a.starts_with("polygon ") { "the multipolygon's" } else { "the polygon's" };
                return Err(if *ring == other_ring {
                    format!("{whose} {a} crosses itself at ({:.6}, {:.6})", c.x, c.y)
                } else {
                    format!("{whose} {a} crosses its {b} at ({:.6}, {:.6})", c.x, c.y)
                });
            }
        }
    }
    Ok(())
}

/// Checks one ring: at least four positions, closed, finite, and simple (no two segments cross or overlap
/// except neighbours at their shared vertex). Uses a sweep line (Bentley–Ottmann), so a 10 000-vertex ring
/// takes milliseconds rather than the seconds a pairwise check needs.
pub fn validate_ring(ring: &geo::LineString<f64>) -> Result<(), String> {
    use geo::LineIntersection;
    use geo::algorithm::sweep::Intersections;
    let n = ring.0.len();
    if n < 4 {
        return Err(format!("a ring has {n} positions; at least 4 are needed"));
    }
    if ring.0.first() != ring.0.last() {
        return Err("a ring is not closed (first and last positions differ)".into());
    }
    if let Some(c) = ring.0.iter().find(|c| !(c.x.is_finite() && c.y.is_finite())) {
        return Err(format!("a ring has a non-finite position ({}, {})", c.x, c.y));
    }
    let segments: Vec<RingSegment> = ring
        .lines()
        .enumerate()
        .filter(|(_, l)| l.start != l.end)
        .map(|(index, line)| RingSegment { line, index })
        .collect();
    let last = segments.len().saturating_sub(1);
    for (a, b, hit) in segments.iter().copied().collect::<Intersections<_>>() {
        let (i, j) = if a.index < b.index { (a, b) } else { (b, a) };
        match hit {
            LineIntersection::SinglePoint { intersection, .. } => {
                let neighbours = (j.index == i.index + 1 && intersection == i.line.end)
                    || (i.index == segments[0].index
                        && j.index == segments[last].index
                        && intersection == i.line.start);
                if !neighbours {
                    return Err(format!(
                        "the ring crosses itself at ({:.6}, {:.6})",
                        intersection.x, intersection.y
                    ));
                }
            }
            LineIntersection::Collinear { intersection } => {
                return Err(format!(
                    "the ring runs back over itself near ({:.6}, {:.6})",
                    intersection.start.x, intersection.start.y
                ));
            }
        }
    }
    Ok(())
}

/// Checks every ring of a multipolygon with [`validate_ring`].
pub fn validate_multipolygon(mp: &geo::MultiPolygon<f64>) -> Result<(), String> {
    for (p, polygon) in mp.iter().enumerate() {
        for (r, ring) in std::iter::once(polygon.exterior()).chain(polygon.interiors()).enumerate() {
            validate_ring(ring).map_err(|e| {
                let which = if r == 0 { "exterior".to_owned() } else { format!("hole {r}") };
                format!("polygon {p}, {which}: {e}")
            })?;
        }
    }
    Ok(())
}

/// Every coordinate rounded to the CRS's precision (6 decimals for degrees, 3 for metres), as this server
/// writes it.
pub fn rounded(geometry: Geometry<f64>, crs: crs::Crs) -> Geometry<f64> {
    use geo::MapCoords;
    let f = 10f64.powi(crs.decimals());
    geometry.map_coords(|c| Coord { x: (c.x * f).round() / f, y: (c.y * f).round() / f })
}

/// A geometry in CRS84 transformed into `crs` (in the CRS's axis order).
pub fn transform_geometry(
    geometry: &Geometry<f64>,
    crs: crs::Crs,
) -> Result<Geometry<f64>, crs::TransformError> {
    use geo::MapCoords;
    geometry.try_map_coords(|c| crs::from_crs84(crs, c))
}

/// A geometry given in `crs` (its axis order) transformed into CRS84.
pub fn geometry_to_crs84(
    geometry: &Geometry<f64>,
    crs: crs::Crs,
) -> Result<Geometry<f64>, crs::TransformError> {
    use geo::MapCoords;
    if crs == crs::Crs::Crs84 {
        return Ok(geometry.clone());
    }
    geometry.try_map_coords(|c| crs::to_crs84(crs, c))
}

/// A geometry as a GeoJSON value in `crs`, rounded to the CRS's precision (6 decimals for degrees, 3 for
/// metres).
pub fn geojson_in(geometry: &Geometry<f64>, crs: crs::Crs) -> Result<serde_json::Value, crs::TransformError> {
    if crs == crs::Crs::Crs84 {
        return Ok(to_geojson_value(geometry, crs.decimals(), &|c| c));
    }
    Ok(to_geojson_value(&transform_geometry(geometry, crs)?, crs.decimals(), &|c| c))
}

/// Checks what GeoJSON (RFC 7946 §3.1) requires of a geometry's positions before it is used: every position
/// has two or three numbers, a `LineString` at least two positions, and a Polygon's rings are closed (last
/// position equal to the first) with at least four positions. The error says which part is wrong, for a 400.
pub fn check_geojson_shape(value: &geojson::Value) -> Result<(), String> {
    use geojson::Value as V;
    fn position(p: &[f64]) -> Result<(), String> {
        if (2..=3).contains(&p.len()) {
            Ok(())
        } else {
            Err(format!("a position has {} numbers; it needs 2 (x, y) or 3", p.len()))
        }
    }
    fn line(ps: &[Vec<f64>], what: &str) -> Result<(), String> {
        if ps.len() < 2 {
            return Err(format!("{what} has {} position(s); it needs at least two", ps.len()));
        }
        ps.iter().try_for_each(|p| position(p))
    }
    fn polygon(rings: &[Vec<Vec<f64>>], what: &str) -> Result<(), String> {
        if rings.is_empty() {
            return Err(format!("{what} has no rings"));
        }
        for (i, r) in rings.iter().enumerate() {
            let ring = if i == 0 { "the exterior ring".to_owned() } else { format!("interior ring {i}") };
            if r.len() < 4 {
                return Err(format!(
                    "{ring} of {what} has {} position(s); a linear ring needs at least four, the last equal to \
                     the first",
                    r.len()
                ));
            }
            r.iter().try_for_each(|p| position(p))?;
            if r.first() != r.last() {
                return Err(format!(
                    "{ring} of {what} is not closed: its last position must equal its first"
                ));
            }
        }
        Ok(())
    }
    match value {
        V::Point(p) => position(p),
        V::MultiPoint(ps) => ps.iter().try_for_each(|p| position(p)),
        V::LineString(ps) => line(ps, "the LineString"),
        V::MultiLineString(ls) => {
            ls.iter().enumerate().try_for_each(|(i, l)| line(l, &format!("line {i} of the MultiLineString")))
        }
        V::Polygon(rings) => polygon(rings, "the Polygon"),
        V::MultiPolygon(ps) => ps
            .iter()
            .enumerate()
            .try_for_each(|(i, p)| polygon(p, &format!("polygon {i} of the MultiPolygon"))),
        V::GeometryCollection(gs) => gs.iter().try_for_each(|g| check_geojson_shape(&g.value)),
    }
}

/// Whether a GeoJSON geometry has a position with a height (a third number). Geometries here are
/// longitude and latitude only, so a record that is stored must not carry one: it would be lost unsaid.
pub fn has_height(geometry: &serde_json::Value) -> bool {
    fn any(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Array(items) if items.first().is_some_and(serde_json::Value::is_number) => {
                items.len() > 2
            }
            serde_json::Value::Array(items) => items.iter().any(any),
            _ => false,
        }
    }
    geometry.get("coordinates").is_some_and(any)
        || geometry
            .get("geometries")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|gs| gs.iter().any(has_height))
}

/// A GeoJSON geometry as a geo geometry, its positions first checked by [`check_geojson_shape`] (geo would
/// close an unclosed ring silently). Every reader of outside GeoJSON goes through here.
pub fn geo_from_geojson(gj: geojson::Geometry) -> Result<Geometry<f64>, String> {
    check_geojson_shape(&gj.value)?;
    Geometry::try_from(gj).map_err(|e| format!("geometry cannot be read: {e}"))
}

/// A geometry from a GeoJSON value (a geometry, or a Feature's geometry) given in `crs` (GeoJSON order: x
/// east, y north), as CRS84, checked to be non-empty and in longitude/latitude range. The error says what is
/// wrong, for a 400.
pub fn geometry_from_geojson(value: &serde_json::Value, crs: crs::Crs) -> Result<Geometry<f64>, String> {
    use geo::MapCoords;
    let gj = geojson::GeoJson::from_json_value(value.clone()).map_err(|e| format!("is not GeoJSON: {e}"))?;
    let g = match gj {
        geojson::GeoJson::Geometry(g) => g,
        geojson::GeoJson::Feature(f) => f.geometry.ok_or("the Feature has no geometry")?,
        geojson::GeoJson::FeatureCollection(_) => {
            return Err("send one GeoJSON geometry or Feature, not a FeatureCollection".into());
        }
    };
    let g = geo_from_geojson(g)?;
    let g = if crs == crs::Crs::Crs84 {
        g
    } else {
        // GeoJSON is always x = east, y = north; put it in the CRS's axis order for the transform.
        let g = if crs.north_first() { g.map_coords(|c| Coord { x: c.y, y: c.x }) } else { g };
        geometry_to_crs84(&g, crs).map_err(|e| e.to_string())?
    };
    for c in geo::CoordsIter::coords_iter(&g) {
        if !(c.x.is_finite()
            && c.y.is_finite()
            && (-180.0..=180.0).contains(&c.x)
            && (-90.0..=90.0).contains(&c.y))
        {
            return Err(format!("coordinate ({}, {}) is not a longitude/latitude pair", c.x, c.y));
        }
    }
    if bounding_rect(&g).is_none() {
        return Err("the geometry is empty".into());
    }
    Ok(g)
}

/// A seeded xorshift sequence of numbers in [0, 1), the same on every run: points and distances for tests.
#[cfg(test)]
pub(crate) fn uniform(mut seed: u64) -> impl FnMut() -> f64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    }
}
