//! Geodesic measures on the WGS84 ellipsoid, in metres.
//!
//! Point-to-point distances are Karney's exact solution of the inverse problem (geographiclib), the algorithm
//! behind PROJ's `geod -I`, so the two agree to well under a millimetre. Distances to lines and polygons are to
//! the nearest point of the geometry: the foot of the perpendicular on the nearest segment is found in an
//! azimuthal-equidistant frame around the query point (exact distances and azimuths from it); when the
//! segment is short enough that its geodesic and the frame's chord differ by less than a millimetre, the chord's
//! foot is the answer, otherwise the foot is moved onto the segment's own geodesic and measured exactly. A point
//! inside a polygon is at distance 0.

use std::sync::LazyLock;

use geo::{Coord, Geometry, Intersects, LineString, Polygon, Rect};
use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};

static WGS84: LazyLock<Geodesic> = LazyLock::new(Geodesic::wgs84);

/// WGS84 semi-major axis in metres.
const WGS84_A: f64 = 6_378_137.0;
/// WGS84 first eccentricity squared.
const WGS84_E2: f64 = 0.006_694_379_990_141_317;
/// The shortest length of one degree of latitude anywhere on the ellipsoid (at the equator), in metres.
const MIN_METRES_PER_DEGREE_LAT: f64 = 110_574.0;

/// Geodesic distance in metres between two CRS84 coordinates (x = longitude, y = latitude).
pub fn distance_m(a: Coord<f64>, b: Coord<f64>) -> f64 {
    WGS84.inverse(a.y, a.x, b.y, b.x)
}

/// Geodesic distance (metres) and forward azimuth at `a` (degrees clockwise from north) from `a` to `b`.
fn distance_azimuth(a: Coord<f64>, b: Coord<f64>) -> (f64, f64) {
    let (s12, azi1, _azi2, _a12): (f64, f64, f64, f64) = WGS84.inverse(a.y, a.x, b.y, b.x);
    (s12, azi1)
}

/// Geodesic length of a line string in metres.
pub fn length_m(line: &LineString<f64>) -> f64 {
    line.0.windows(2).map(|w| distance_m(w[0], w[1])).sum()
}

/// The radius of the parallel circle at `lat_deg`, in metres: how long one radian of longitude is there.
fn parallel_radius_m(lat_deg: f64) -> f64 {
    let phi = lat_deg.to_radians();
    WGS84_A * phi.cos() / (1.0 - WGS84_E2 * phi.sin().powi(2)).sqrt()
}

/// A longitude/latitude box that contains every point within `radius_m` metres (geodesic) of `rect`.
///
/// Conservative by construction: latitude moves at most `r / 110 574 m` degrees, and longitude at most
/// `r / R_parallel(φ_max)` radians, where `φ_max` is the highest latitude the point can reach, because any path
/// between two points must cross their difference in longitude at a latitude no higher than that.
pub fn expand_rect_m(rect: Rect<f64>, radius_m: f64) -> Rect<f64> {
    let radius_m = radius_m.max(0.0);
    let dlat = radius_m / MIN_METRES_PER_DEGREE_LAT * 1.000_01;
    let lat_max = rect.min().y.abs().max(rect.max().y.abs()) + dlat;
    let dlon = if lat_max >= 89.9 {
        360.0
    } else {
        let per_rad = parallel_radius_m(lat_max);
        (radius_m / per_rad).to_degrees() * 1.000_01
    };
    if dlon >= 180.0 {
        return Rect::new(
            Coord { x: -180.0, y: (rect.min().y - dlat).max(-90.0) },
            Coord { x: 180.0, y: (rect.max().y + dlat).min(90.0) },
        );
    }
    Rect::new(
        Coord { x: rect.min().x - dlon, y: (rect.min().y - dlat).max(-90.0) },
        Coord { x: rect.max().x + dlon, y: (rect.max().y + dlat).min(90.0) },
    )
}

/// A lower bound, in metres, of the geodesic distance from `p` to any point of `rect`, cheap enough to rank
/// thousands of candidates before measuring the few that matter exactly.
///
/// Degrees of separation are scaled by the smallest length a degree has in the band concerned (110 574 m for
/// latitude; the parallel radius at the highest latitude involved for longitude), which makes the planar
/// distance a lower bound of any path confined to the band; the 0.1 % and 1 m margins cover the slight
/// poleward bow of long east–west geodesics.
pub fn lower_bound_m(p: Coord<f64>, rect: &Rect<f64>) -> f64 {
    let dx = (rect.min().x - p.x).max(p.x - rect.max().x).max(0.0);
    let dy = (rect.min().y - p.y).max(p.y - rect.max().y).max(0.0);
    if dx == 0.0 && dy == 0.0 {
        return 0.0;
    }
    let lat_hi = p.y.abs().max(rect.min().y.abs()).max(rect.max().y.abs()).min(89.9);
    let kx = parallel_radius_m(lat_hi).to_radians();
    (0.999 * (dx * kx).hypot(dy * MIN_METRES_PER_DEGREE_LAT) - 1.0).max(0.0)
}

/// Lower bounds of geodesic distances from one query point, with the metric's scales worked out once for a
/// latitude band (see [`lower_bound_m`]); geometries reaching beyond the band get their own scale.
pub struct LowerBounds {
    p: Coord<f64>,
    lat_hi: f64,
    kx: f64,
    /// How far a path from `p` must run to leave the band (latitude moves at most a degree per 110 574 m). The
    /// planar bounds hold only for paths inside it, so they are bounds only up to this: a geodesic to a point
    /// beyond it may arc far poleward of the band (from North America to Liaoning it crosses the Arctic).
    exit_m: f64,
    /// `p`'s geocentric and reduced latitudes, for the bounds beyond 50 km.
    geocentric_p: f64,
    reduced_p: f64,
}

impl LowerBounds {
    /// Bounds from `p` for geometries reaching up to `reach_deg` degrees of latitude away from it.
    pub fn new(p: Coord<f64>, reach_deg: f64) -> Self {
        let lat_hi = (p.y.abs() + reach_deg.max(0.0)).min(89.9);
        Self {
            p,
            lat_hi,
            kx: parallel_radius_m(lat_hi).to_radians(),
            exit_m: (lat_hi - p.y.abs()).max(0.0) * MIN_METRES_PER_DEGREE_LAT,
            geocentric_p: geocentric(p.y),
            reduced_p: reduced(p.y),
        }
    }

    fn kx(&self, bbox: &Rect<f64>) -> f64 {
        let hi = bbox.min().y.abs().max(bbox.max().y.abs());
        if hi <= self.lat_hi { self.kx } else { parallel_radius_m(hi.min(89.9)).to_radians() }
    }

    /// A lower bound of the distance to a geometry: for lines the smallest distance to any segment in the
    /// conservative metric (less a margin for the geodesic's bow away from the straight lon/lat segment, about
    /// 150 m per square degree of longitude spanned); for a point over 50 km away, the lower end of
    /// [`long_bracket_m`] where it is tighter; for anything else the bound to its bounding box.
    pub fn geometry(&self, geometry: &Geometry<f64>, bbox: &Rect<f64>) -> f64 {
        let p = self.p;
        let kx = self.kx(bbox);
        match geometry {
            Geometry::Point(q) => {
                let planar = self.planar(bbox);
                if planar <= Self::PLANAR_REACH_M {
                    planar
                } else if let Some((low, _)) = long_bracket_m(p, q.0) {
                    low.max(planar)
                } else {
                    self.rect(bbox)
                }
            }
            Geometry::LineString(ls) if ls.0.len() >= 2 => {
                let hi = bbox.min().y.abs().max(bbox.max().y.abs());
                let planar = if hi > SEGMENT_BOUND_MAX_LAT {
                    0.0
                } else {
                    let tan_hi = hi.to_radians().tan();
                    ls.0.windows(2)
                        .map(|w| planar_segment_bound(p, kx, tan_hi, w[0], w[1]))
                        .fold(f64::INFINITY, f64::min)
                };
                // Beyond the band's reach the planar bound is none; the box's is.
                if planar < self.exit_m { planar } else { self.exit_m.max(self.rect(bbox)) }
            }
            _ => self.rect(bbox),
        }
    }

    /// The planar lower bound of the distance to anything inside `bbox`, in the band's conservative metric, no
    /// more than the band's reach (see `exit_m`). Longitudes are apart the short way round.
    fn planar(&self, bbox: &Rect<f64>) -> f64 {
        let p = self.p;
        let dx = (bbox.min().x - p.x).max(p.x - bbox.max().x).max(0.0);
        let dx = dx.min(360.0 - dx - bbox.width());
        let dy = (bbox.min().y - p.y).max(p.y - bbox.max().y).max(0.0);
        if dx == 0.0 && dy == 0.0 {
            return 0.0;
        }
        let (x, y) = (dx * self.kx(bbox), dy * MIN_METRES_PER_DEGREE_LAT);
        (0.999 * (x * x + y * y).sqrt() - 1.0).max(0.0).min(self.exit_m)
    }

    /// The planar lower bound of the distance to anything inside `bbox`, and whether it is already as tight as
    /// [`LowerBounds::rect`] (within 50 km, where that is the planar bound itself).
    pub fn quick(&self, bbox: &Rect<f64>) -> (f64, bool) {
        let planar = self.planar(bbox);
        (planar, planar <= Self::PLANAR_REACH_M)
    }

    /// How far the planar bound serves alone: beyond it, its margins grow loose.
    const PLANAR_REACH_M: f64 = 50_000.0;

    /// A lower bound of the distance to anything inside `bbox`: the planar one, and beyond 50 km, where its
    /// margins grow loose, the tightest of it, [`sphere_rect_bound`] and [`lambert_rect_bound`].
    pub fn rect(&self, bbox: &Rect<f64>) -> f64 {
        let p = self.p;
        let planar = self.planar(bbox);
        if planar <= Self::PLANAR_REACH_M {
            return planar;
        }
        // Lambert's bound is the tighter for boxes under a quarter of a degree (leaves and the nodes above
        // them); bigger ones get the sphere's too.
        let lambert = lambert_rect_bound_from(p, self.reduced_p, bbox);
        if lambert > 0.0 && bbox.width() + bbox.height() < 0.25 {
            planar.max(lambert)
        } else {
            planar.max(lambert).max(sphere_rect_bound_from(p, self.geocentric_p, bbox))
        }
    }
}

/// WGS84's semi-minor axis (m) and flattening.
const WGS84_B: f64 = 6_356_752.314_245;
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// The geocentric latitude (radians) of a geodetic latitude (degrees).
fn geocentric(lat_deg: f64) -> f64 {
    ((1.0 - WGS84_F).powi(2) * lat_deg.clamp(-90.0, 90.0).to_radians().tan()).atan()
}

/// sin² of half the central angle (the haversine) from `p` to the point of a box nearest it on a sphere, given
/// latitudes already mapped to the sphere (`lat_p`, and the box's `lo`–`hi`, radians). That point is on the
/// box's meridian edge nearest in longitude (the short way round), at the latitude where that meridian comes
/// closest, clamped to the box. Beyond 90° of longitude that meridian comes closest at the pole on `p`'s side
/// and farthest at the antipode's latitude, so over the box the nearest point is one of its corners.
fn sphere_nearest(p: Coord<f64>, lat_p: f64, (lo, hi): (f64, f64), bbox: &Rect<f64>) -> f64 {
    let gap = (bbox.min().x - p.x).max(p.x - bbox.max().x).max(0.0);
    let dlon = gap.min(360.0 - gap - bbox.width()).max(0.0).to_radians();
    let hav =
        |lat: f64| ((lat - lat_p) / 2.0).sin().powi(2) + lat_p.cos() * lat.cos() * (dlon / 2.0).sin().powi(2);
    let h = if dlon < std::f64::consts::FRAC_PI_2 {
        hav((lat_p.tan() / dlon.cos()).atan().clamp(lo, hi))
    } else {
        hav(lo).min(hav(hi))
    };
    h.clamp(0.0, 1.0)
}

/// A lower bound of the geodesic distance from `p` to anything in `bbox`, valid at any range: a path on the
/// ellipsoid, projected radially onto the sphere of the semi-minor axis (inside it), gets no longer, so it is
/// at least `b` times the central angle between the geocentric directions; that angle is smallest at the
/// box's point nearest `p` on the sphere.
pub fn sphere_rect_bound(p: Coord<f64>, bbox: &Rect<f64>) -> f64 {
    sphere_rect_bound_from(p, geocentric(p.y), bbox)
}

/// [`sphere_rect_bound`] with `p`'s geocentric latitude worked out.
fn sphere_rect_bound_from(p: Coord<f64>, geocentric_p: f64, bbox: &Rect<f64>) -> f64 {
    let bounds = (geocentric(bbox.min().y), geocentric(bbox.max().y));
    let h = sphere_nearest(p, geocentric_p, bounds, bbox);
    (WGS84_B * 2.0 * h.sqrt().asin() * (1.0 - 1e-9) - 0.01).max(0.0)
}

/// sin and cos of the reduced latitude β of a geodetic latitude (degrees), tan β = (1 − f) tan φ, without tan.
fn reduced_sin_cos(lat_deg: f64) -> (f64, f64) {
    let (sin, cos) = lat_deg.clamp(-90.0, 90.0).to_radians().sin_cos();
    let s = (1.0 - WGS84_F) * sin;
    let n = (cos * cos + s * s).sqrt();
    (s / n, cos / n)
}

/// The reduced latitude (radians) of a geodetic latitude (degrees).
fn reduced(lat_deg: f64) -> f64 {
    let (sin, cos) = reduced_sin_cos(lat_deg);
    sin.atan2(cos)
}

/// A lower bound of the geodesic distance from `p` to anything in `bbox`, for boxes 50 km to about 3 000 km
/// away, within 0.01 % or so of the nearest point where the box is small seen from `p` (0 where it does not
/// apply). It bounds [`long_bracket_m`] over the box. On the auxiliary sphere (reduced latitudes β), Lambert's
/// distance to a point x is a·σ·(1 − f/2·(X + Y)/σ), where σ is the central angle, X/σ ≤ (σ²/6)/cos²(σ/2)
/// and Y/σ ≤ 2·cos²P·sin²Q / sin²(σ/2), with P and Q half the sum and half the difference of the two β.
/// Over the box, σ is at least σ* (its nearest point on the sphere) and at most σ* plus the box's sides; cos²P
/// is largest at the box's lowest |β| (both in one hemisphere); sin²Q is largest at its farthest β. The
/// geodesic is then at least that bound on Lambert's distance, less Lambert's margin.
pub fn lambert_rect_bound(p: Coord<f64>, bbox: &Rect<f64>) -> f64 {
    lambert_rect_bound_from(p, reduced(p.y), bbox)
}

/// [`lambert_rect_bound`] with `p`'s reduced latitude worked out.
fn lambert_rect_bound_from(p: Coord<f64>, beta_p: f64, bbox: &Rect<f64>) -> f64 {
    if p.y.abs() > 80.0 || bbox.min().y < -80.0 || bbox.max().y > 80.0 {
        return 0.0;
    }
    let (lo, hi) = (reduced(bbox.min().y), reduced(bbox.max().y));
    let h = sphere_nearest(p, beta_p, (lo, hi), bbox);
    let sigma = 2.0 * h.sqrt().asin();
    let sides = (hi - lo) + (bbox.max().x - bbox.min().x).to_radians();
    let sigma_max = sigma + sides;
    if !(50_000.0 / WGS84_A..=0.5).contains(&sigma) || sigma_max > 0.8 {
        return 0.0;
    }
    let x = sigma_max * sigma_max / 6.0 / (sigma_max / 2.0).cos().powi(2);
    let same_side = (lo >= 0.0 && beta_p >= 0.0) || (hi <= 0.0 && beta_p <= 0.0);
    let cos2p = if same_side {
        let nearest_equator = if beta_p >= 0.0 { lo } else { -hi };
        f64::midpoint(beta_p.abs(), nearest_equator).cos().powi(2)
    } else {
        1.0
    };
    let sin2q = (((hi - beta_p).abs().max((lo - beta_p).abs())) / 2.0).sin().powi(2);
    let y = 2.0 * cos2p * sin2q / h;
    let lambert = WGS84_A * sigma * (1.0 - WGS84_F / 2.0 * (x + y));
    // Lambert's distance is within 0.001 % and 1 m of the geodesic s (see `long_bracket_m`):
    // s ≥ L − 0.000 01·s − 1.
    ((lambert - 1.0) / 1.000_01).max(0.0)
}

/// Bounds (low, high), in metres, of the geodesic distance between two points far apart, from Lambert's formula
/// for long geodesics (first order in the flattening, on the reduced latitudes): the formula less and plus
/// 0.001 % and 1 m. About a tenth of Karney's cost: a nearest search from far away can set aside most candidates
/// with it, where the sphere's bound (up to 0.3 % short) lets many through. `None` for points under 10 km or over
/// 10 000 km apart or beyond 80° of latitude, where it is not used. The formula is within 0.0003 % and 1 cm of the
/// geodesic for such pairs (0.00014 % at worst in 400 000 random pairs;
/// `tests::lamberts_bracket_holds_the_geodesic_with_room_to_spare`), so the margins are over three times what is
/// needed.
pub fn long_bracket_m(p: Coord<f64>, q: Coord<f64>) -> Option<(f64, f64)> {
    if p.y.abs() > 80.0 || q.y.abs() > 80.0 {
        return None;
    }
    let ((s1, c1), (s2, c2)) = (reduced_sin_cos(p.y), reduced_sin_cos(q.y));
    let half_dlon = ((q.x - p.x) / 2.0).to_radians().sin();
    // haversine of the central angle σ on the auxiliary sphere: sin²(σ/2).
    let h = ((1.0 - c1 * c2 - s1 * s2) / 2.0 + c1 * c2 * half_dlon * half_dlon).clamp(0.0, 1.0);
    let sigma = 2.0 * h.sqrt().asin();
    let sphere = WGS84_A * sigma;
    if !(10_000.0..=10_000_000.0).contains(&sphere) {
        return None;
    }
    let sin_sigma = 2.0 * (h * (1.0 - h)).sqrt();
    // sin P cos Q and cos P sin Q, with P = (β1 + β2) / 2 and Q = (β2 − β1) / 2.
    let (sp_cq, cp_sq) = (f64::midpoint(s1, s2), (s2 - s1) / 2.0);
    let x = (sigma - sin_sigma) * sp_cq * sp_cq / (1.0 - h);
    let y = (sigma + sin_sigma) * cp_sq * cp_sq / h;
    let d = WGS84_A * (sigma - WGS84_F / 2.0 * (x + y));
    let margin = 0.000_01 * d + 1.0;
    Some(((d - margin).max(0.0), d + margin))
}

/// Farthest apart two points may be for [`flat_bracket_m`] to bound their distance.
const FLAT_MAX_M: f64 = 200_000.0;

/// Bounds (low, high), in metres, of the geodesic distance between two points, from the ellipsoid taken flat
/// around their mean latitude (its meridional and prime-vertical radii of curvature there): the flat distance
/// less and plus 0.1 % and 1 m. Nanoseconds, where Karney's exact solution takes about a microsecond: a search
/// can settle most candidates with it and measure exactly only those whose bounds straddle what it decides
/// (the radius, the last place of a page). `None` for points over 200 km apart or beyond 60° of latitude,
/// where it is not used. The flat distance is within 0.03 % and 10 cm of the geodesic for such pairs (0.01 % at
/// Liaoning's latitudes; `tests::the_flat_bracket_holds_the_geodesic_with_room_to_spare`), so the margins are
/// over three times what is needed.
pub fn flat_bracket_m(p: Coord<f64>, q: Coord<f64>) -> Option<(f64, f64)> {
    let phi = f64::midpoint(p.y, q.y).to_radians();
    if phi.abs() > 60f64.to_radians() {
        return None;
    }
    let (sin, cos) = phi.sin_cos();
    let w2 = 1.0 - WGS84_E2 * sin * sin;
    let prime_vertical = WGS84_A / w2.sqrt();
    let meridional = WGS84_A * (1.0 - WGS84_E2) / (w2 * w2.sqrt());
    let mut dlon = q.x - p.x;
    if dlon > 180.0 {
        dlon -= 360.0;
    } else if dlon < -180.0 {
        dlon += 360.0;
    }
    let x = prime_vertical * cos * dlon.to_radians();
    let y = meridional * (q.y - p.y).to_radians();
    let d = (x * x + y * y).sqrt();
    if d > FLAT_MAX_M {
        return None;
    }
    let margin = 0.001 * d + 1.0;
    Some(((d - margin).max(0.0), d + margin))
}

/// A longitude/latitude box containing every point within `radius_m` metres of `p`.
pub fn search_rect(p: Coord<f64>, radius_m: f64) -> Rect<f64> {
    expand_rect_m(Rect::new(p, p), radius_m)
}

/// The widest a segment may span (degrees of longitude, the short way round) for [`bow_deg`]'s margin to hold.
const BOW_MAX_DLON: f64 = 20.0;

/// Degrees of latitude by which the geodesic between two points `dlon` degrees of longitude apart may stray
/// beyond the latitudes of its ends: its poleward bow, about 120·sin 2φ m per square degree of longitude (160 m
/// taken; `tests::geodesics_stay_within_their_reach`), and up to the pole beyond 20°.
fn bow_deg(dlon: f64) -> f64 {
    let dlon = dlon.abs().min(360.0 - dlon.abs());
    if dlon > BOW_MAX_DLON { 180.0 } else { 160.0 * dlon * dlon / MIN_METRES_PER_DEGREE_LAT }
}

/// `rect` grown by `dlat` degrees of latitude on both sides, within ±90°.
fn grow_lat(rect: Rect<f64>, dlat: f64) -> Rect<f64> {
    if dlat <= 0.0 {
        return rect;
    }
    Rect::new(
        Coord { x: rect.min().x, y: (rect.min().y - dlat).max(-90.0) },
        Coord { x: rect.max().x, y: (rect.max().y + dlat).min(90.0) },
    )
}

/// Calls `f` with the ends of every segment of a chain of positions.
fn chain_segments(coords: &[Coord<f64>], f: &mut impl FnMut(Coord<f64>, Coord<f64>)) {
    for w in coords.windows(2) {
        f(w[0], w[1]);
    }
}

/// Calls `f` with the ends of every segment of a polygon's rings.
fn polygon_segments(polygon: &Polygon<f64>, f: &mut impl FnMut(Coord<f64>, Coord<f64>)) {
    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        chain_segments(&ring.0, f);
    }
}

/// Calls `f` with the ends of every segment of a geometry's lines and rings.
fn for_each_segment(geometry: &Geometry<f64>, f: &mut impl FnMut(Coord<f64>, Coord<f64>)) {
    match geometry {
        Geometry::Point(_) | Geometry::MultiPoint(_) => {}
        Geometry::Line(l) => f(l.start, l.end),
        Geometry::LineString(ls) => chain_segments(&ls.0, f),
        Geometry::MultiLineString(m) => m.iter().for_each(|ls| chain_segments(&ls.0, f)),
        Geometry::Polygon(p) => polygon_segments(p, f),
        Geometry::MultiPolygon(mp) => mp.iter().for_each(|p| polygon_segments(p, f)),
        Geometry::Rect(r) => polygon_segments(&r.to_polygon(), f),
        Geometry::Triangle(t) => polygon_segments(&t.to_polygon(), f),
        Geometry::GeometryCollection(gc) => gc.iter().for_each(|g| for_each_segment(g, f)),
    }
}

/// The widest of the segments `visit` calls its argument with, in degrees of longitude the short way round.
fn widest(visit: impl FnOnce(&mut dyn FnMut(Coord<f64>, Coord<f64>))) -> (f64, bool) {
    let (mut widest, mut wraps) = (0.0_f64, false);
    visit(&mut |a, b| {
        let d = (b.x - a.x).abs();
        widest = widest.max(d.min(360.0 - d));
        wraps |= d > 180.0;
    });
    (widest, wraps)
}

/// A box of vertices grown to hold the geodesic edges: in latitude by the widest segment's bow, and to every
/// longitude when a segment crosses the antimeridian (its box of vertices then spans the wrong way round).
fn grown((widest, wraps): (f64, bool), bbox: Rect<f64>) -> Rect<f64> {
    let r = grow_lat(bbox, bow_deg(widest));
    if wraps { Rect::new(Coord { x: -180.0, y: r.min().y }, Coord { x: 180.0, y: r.max().y }) } else { r }
}

/// The longitude/latitude box holding every point of a geometry's geodesic edges: the box of its vertices
/// (`bbox`) grown in latitude by the bow of its widest segment (and to every longitude if a segment crosses
/// the antimeridian). A long east–west edge's geodesic runs poleward of both its ends, outside their box, so an
/// index of vertex boxes would lose a feature searched for near the middle of such an edge; the indexes keep
/// these boxes. A point's box is its own.
pub fn reach_rect(geometry: &Geometry<f64>, bbox: Rect<f64>) -> Rect<f64> {
    if matches!(geometry, Geometry::Point(_) | Geometry::MultiPoint(_)) {
        return bbox;
    }
    grown(widest(|mut f| for_each_segment(geometry, &mut f)), bbox)
}

/// A geometry's [`reach_rect`], `None` when it has no position.
pub fn reach_of(geometry: &Geometry<f64>) -> Option<Rect<f64>> {
    crate::geom::bounding_rect(geometry).map(|b| reach_rect(geometry, b))
}

/// Boxes that together hold every point of a geometry, for index searches around it: each segment's reach for
/// lines (so a long diagonal corridor does not pull in its whole box), each point's position, and each
/// polygon's whole reach (what lies inside it is at distance 0).
pub fn reach_boxes(geometry: &Geometry<f64>) -> Vec<Rect<f64>> {
    use geo::BoundingRect;
    let mut out = Vec::new();
    match geometry {
        Geometry::Point(p) => out.push(Rect::new(p.0, p.0)),
        Geometry::MultiPoint(mp) => out.extend(mp.iter().map(|p| Rect::new(p.0, p.0))),
        Geometry::Line(_) | Geometry::LineString(_) | Geometry::MultiLineString(_) => {
            for_each_segment(geometry, &mut |a, b| {
                let bow = bow_deg(b.x - a.x);
                if (b.x - a.x).abs() > 180.0 {
                    // Across the antimeridian: from the eastern end to 180° and from −180° to the western one.
                    let (west, east) = if a.x > b.x { (a, b) } else { (b, a) };
                    let (lo, hi) = (a.y.min(b.y), a.y.max(b.y));
                    out.push(grow_lat(Rect::new(Coord { x: west.x, y: lo }, Coord { x: 180.0, y: hi }), bow));
                    out.push(grow_lat(
                        Rect::new(Coord { x: -180.0, y: lo }, Coord { x: east.x, y: hi }),
                        bow,
                    ));
                } else {
                    out.push(grow_lat(Rect::new(a, b), bow));
                }
            });
        }
        Geometry::MultiPolygon(mp) => {
            for p in mp {
                let widest = widest(|mut f| polygon_segments(p, &mut f));
                out.extend(p.bounding_rect().map(|r| grown(widest, r)));
            }
        }
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => out.extend(reach_of(geometry)),
        Geometry::GeometryCollection(gc) => gc.iter().for_each(|g| out.extend(reach_boxes(g))),
    }
    out
}

/// How far, in metres, the chords of a densified edge may stray from its geodesic.
const DENSE_TOLERANCE_M: f64 = 0.01;
/// The most positions densifying one geometry may add: a hostile literal of long edges stays cheap (and so do
/// the intersection tests with it), its chords then a little farther from its geodesics (about a metre for
/// seventeen edges of 20°).
const DENSE_MAX_ADDED: u32 = 4_096;

/// How far, in metres, the geodesic from `a` to `b` may stray from their straight longitude/latitude chord: by
/// its poleward bow (under 160 m per square degree of longitude) and the bend of a slanting segment (under
/// 560·tan φ m per degree of latitude times the lesser of its degrees of latitude and longitude; see
/// [`planar_segment_bound`]). Longitudes are apart the short way round.
fn stray_m(a: Coord<f64>, b: Coord<f64>, tan_hi: f64) -> f64 {
    let dlon = wrap_dlon(b.x - a.x).abs();
    let dlat = (b.y - a.y).abs();
    160.0 * dlon * dlon + 560.0 * tan_hi * dlat * dlat.min(dlon)
}

/// Into how many pieces to cut the segment `a`–`b` for each piece's chord to stay within
/// [`DENSE_TOLERANCE_M`] of its geodesic: what the geodesic strays ([`stray_m`]) shrinks with the square of
/// a piece's length.
fn pieces(a: Coord<f64>, b: Coord<f64>, tan_hi: f64) -> u32 {
    let stray = stray_m(a, b, tan_hi);
    if stray <= DENSE_TOLERANCE_M {
        1
    } else {
        // At most 2^16 pieces (the cast saturates); the geometry's budget cuts further.
        (stray / DENSE_TOLERANCE_M).sqrt().ceil().min(65_536.0) as u32
    }
}

/// The positions along the geodesic from `a` to `b` that cut it into `n` pieces, `b` included and `a` not, in
/// longitudes continuing from `x0` (`a`'s own, possibly beyond ±180°: a chain across the antimeridian is
/// unwrapped, so that no chord runs the long way round the globe).
fn geodesic_steps(a: Coord<f64>, b: Coord<f64>, n: u32, x0: f64) -> impl Iterator<Item = Coord<f64>> {
    let (s, azimuth) = if n > 1 { distance_azimuth(a, b) } else { (0.0, 0.0) };
    let mut x = x0;
    (1..=n).map(move |k| {
        let (lat, lon) = if k == n {
            (b.y, b.x)
        } else {
            WGS84.direct(a.y, a.x, azimuth, s * f64::from(k) / f64::from(n))
        };
        x += wrap_dlon(lon - x);
        Coord { x, y: lat }
    })
}

/// `coords` with each segment cut into `pieces(a, b)` (capped at `cap`) along its geodesic, longitudes
/// unwrapped across the antimeridian.
fn densify_chain(coords: &[Coord<f64>], tan_hi: f64, cap: u32) -> LineString<f64> {
    let mut out = Vec::with_capacity(coords.len());
    out.extend(coords.first());
    for w in coords.windows(2) {
        let x0 = out.last().map_or(w[0].x, |c: &Coord<f64>| c.x);
        let n = pieces(w[0], w[1], tan_hi).min(cap);
        out.extend(geodesic_steps(w[0], w[1], n, x0));
    }
    LineString(out)
}

fn densify_polygon(p: &Polygon<f64>, tan_hi: f64, cap: u32) -> Polygon<f64> {
    Polygon::new(
        densify_chain(&p.exterior().0, tan_hi, cap),
        p.interiors().iter().map(|r| densify_chain(&r.0, tan_hi, cap)).collect(),
    )
}

fn densify_geometry(g: &Geometry<f64>, tan_hi: f64, cap: u32) -> Geometry<f64> {
    match g {
        Geometry::Point(_) | Geometry::MultiPoint(_) => g.clone(),
        Geometry::Line(l) => Geometry::LineString(densify_chain(&[l.start, l.end], tan_hi, cap)),
        Geometry::LineString(ls) => Geometry::LineString(densify_chain(&ls.0, tan_hi, cap)),
        Geometry::MultiLineString(m) => Geometry::MultiLineString(geo::MultiLineString(
            m.iter().map(|ls| densify_chain(&ls.0, tan_hi, cap)).collect(),
        )),
        Geometry::Polygon(p) => Geometry::Polygon(densify_polygon(p, tan_hi, cap)),
        Geometry::MultiPolygon(mp) => Geometry::MultiPolygon(geo::MultiPolygon(
            mp.iter().map(|p| densify_polygon(p, tan_hi, cap)).collect(),
        )),
        Geometry::Rect(r) => Geometry::Polygon(parallels_box(r)),
        Geometry::Triangle(t) => Geometry::Polygon(densify_polygon(&t.to_polygon(), tan_hi, cap)),
        Geometry::GeometryCollection(gc) => Geometry::GeometryCollection(geo::GeometryCollection(
            gc.iter().map(|g| densify_geometry(g, tan_hi, cap)).collect(),
        )),
    }
}

/// A longitude/latitude box (a CQL2 `BBOX`) as a polygon whose edges are its parallels and meridians: the
/// parallels are cut, in longitude, into pieces short enough that the geodesic between two neighbours runs
/// within a centimetre of the parallel (a few centimetres on boxes over 10° wide, at 1 024 pieces an edge),
/// so measuring to its edges as geodesics measures to the box. A box's parallel is not a geodesic: 20° of it
/// at 40° N runs 60 km south of the geodesic between its ends.
fn parallels_box(r: &Rect<f64>) -> Polygon<f64> {
    let tan_hi = r.min().y.abs().max(r.max().y.abs()).min(89.0).to_radians().tan();
    let corners =
        [r.min(), Coord { x: r.max().x, y: r.min().y }, r.max(), Coord { x: r.min().x, y: r.max().y }];
    let mut ring = Vec::new();
    for k in 0..4 {
        let (a, b) = (corners[k], corners[(k + 1) % 4]);
        let n = pieces(a, b, tan_hi).min(1_024);
        ring.extend((0..n).map(|i| {
            let t = f64::from(i) / f64::from(n);
            Coord { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t }
        }));
    }
    ring.push(r.min());
    Polygon::new(LineString(ring), vec![])
}

/// A geometry with its boxes (`Rect`s, from a CQL2 `BBOX`) as [`parallels_box`] polygons.
fn boxes_as_parallels(g: &Geometry<f64>) -> std::borrow::Cow<'_, Geometry<f64>> {
    match g {
        Geometry::Rect(r) => std::borrow::Cow::Owned(Geometry::Polygon(parallels_box(r))),
        Geometry::GeometryCollection(gc) if gc.iter().any(|g| matches!(g, Geometry::Rect(_))) => {
            std::borrow::Cow::Owned(Geometry::GeometryCollection(geo::GeometryCollection(
                gc.iter().map(|g| boxes_as_parallels(g).into_owned()).collect(),
            )))
        }
        _ => std::borrow::Cow::Borrowed(g),
    }
}

/// The tangent of the highest |latitude| of a geometry's positions (within 89°).
fn tan_highest(geometry: &Geometry<f64>) -> f64 {
    use geo::CoordsIter;
    geometry.coords_iter().map(|c| c.y.abs()).fold(0.0, f64::max).min(89.0).to_radians().tan()
}

/// A geometry with its long edges cut into pieces along their geodesics and its chains unwrapped across the
/// antimeridian, so that a planar test of it in longitude/latitude (intersection) answers for its geodesic
/// edges within a centimetre (tried a turn east and west too where a chain reaches past ±180°); the geometry
/// itself when no edge needs it. Within 4 096 added positions every segment gets its pieces; beyond, each cut
/// segment an equal share.
pub fn densified(geometry: &Geometry<f64>) -> std::borrow::Cow<'_, Geometry<f64>> {
    let tan_hi = tan_highest(geometry);
    let (mut added, mut cut, mut wraps) = (0u32, 0u32, false);
    for_each_segment(geometry, &mut |a, b| {
        let n = pieces(a, b, tan_hi);
        if n > 1 {
            added = added.saturating_add(n - 1);
            cut = cut.saturating_add(1);
        }
        wraps |= (b.x - a.x).abs() > 180.0;
    });
    if added == 0 && !wraps {
        return std::borrow::Cow::Borrowed(geometry);
    }
    let cap = if added <= DENSE_MAX_ADDED { u32::MAX } else { DENSE_MAX_ADDED / cut.max(1) + 1 };
    std::borrow::Cow::Owned(densify_geometry(geometry, tan_hi, cap))
}

/// Whether two [`densified`] geometries meet: as drawn, or once one is moved a turn east or west (a chain
/// unwrapped across the antimeridian reaches past ±180°).
fn meets(a: &Geometry<f64>, b: &Geometry<f64>) -> bool {
    use geo::Translate;
    if a.intersects(b) {
        return true;
    }
    let (Some(ra), Some(rb)) = (crate::geom::bounding_rect(a), crate::geom::bounding_rect(b)) else {
        return false;
    };
    let beyond = |r: &Rect<f64>| r.min().x < -180.0 || r.max().x > 180.0;
    (beyond(&ra) || beyond(&rb))
        && [-360.0, 360.0].into_iter().any(|shift| {
            rb.max().x + shift >= ra.min().x
                && rb.min().x + shift <= ra.max().x
                && a.intersects(&b.translate(shift, 0.0))
        })
}

/// Whether `p` is inside a polygon whose edges are geodesics (on its edge it may say either; the distance
/// to the edge is 0 all the same): the even–odd rule along the meridian
/// north of `p`, with longitudes taken relative to `p` (so a ring across the antimeridian is read right). An
/// edge is its straight chord unless `p` is within what its geodesic strays from the chord ([`stray_m`]);
/// then it is walked along its geodesic in pieces. Only the few edges near `p` cost more than arithmetic.
fn polygon_meets(polygon: &Polygon<f64>, p: Coord<f64>) -> bool {
    let hi = polygon.exterior().0.iter().map(|c| c.y.abs()).fold(p.y.abs(), f64::max).min(89.0);
    let tan_hi = hi.to_radians().tan();
    // Metres per degree no larger than anywhere in the band: distances below are lower bounds.
    let kx = 0.999 * parallel_radius_m(hi).to_radians();
    let ky = 0.999 * MIN_METRES_PER_DEGREE_LAT;
    // Whether the piece (x1, y1)–(x2, y2), longitudes relative to p's, crosses the meridian north of p.
    let crosses = |(x1, y1): (f64, f64), (x2, y2): (f64, f64)| {
        (x1 > 0.0) != (x2 > 0.0) && y1 + (0.0 - x1) * (y2 - y1) / (x2 - x1) > p.y
    };
    let mut inside = false;
    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        for w in ring.0.windows(2) {
            let (a, b) = (w[0], w[1]);
            let ax = wrap_dlon(a.x - p.x);
            let bx = ax + wrap_dlon(b.x - a.x);
            let stray = stray_m(a, b, tan_hi);
            let near = stray > DENSE_TOLERANCE_M
                && planar_origin_segment_distance(ax * kx, (a.y - p.y) * ky, bx * kx, (b.y - p.y) * ky).0
                    <= stray + 1.0;
            if near {
                let n = pieces(a, b, tan_hi).min(DENSE_MAX_ADDED);
                let mut from = (ax, a.y);
                for c in geodesic_steps(a, b, n, a.x) {
                    let to = (ax + (c.x - a.x), c.y);
                    inside ^= crosses(from, to);
                    from = to;
                }
            } else {
                inside ^= crosses((ax, a.y), (bx, b.y));
            }
        }
    }
    inside
}

/// A cheap local planar frame around a point, used only to choose which segments deserve an exact measure.
struct LocalFrame {
    origin: Coord<f64>,
    kx: f64,
    ky: f64,
}

impl LocalFrame {
    fn new(origin: Coord<f64>) -> Self {
        let kx = parallel_radius_m(origin.y).to_radians();
        Self { origin, kx, ky: 111_132.0 }
    }

    fn xy(&self, c: Coord<f64>) -> (f64, f64) {
        let mut dx = c.x - self.origin.x;
        if dx > 180.0 {
            dx -= 360.0;
        } else if dx < -180.0 {
            dx += 360.0;
        }
        (dx * self.kx, (c.y - self.origin.y) * self.ky)
    }

    /// Approximate distance in metres from the origin to the segment `a`–`b`.
    fn segment_distance(&self, a: Coord<f64>, b: Coord<f64>) -> f64 {
        let (ax, ay) = self.xy(a);
        let (bx, by) = self.xy(b);
        planar_origin_segment_distance(ax, ay, bx, by).0
    }
}

/// Distance from the origin to the segment (a, b) in a plane, and the parameter of the foot (0..=1).
fn planar_origin_segment_distance(ax: f64, ay: f64, bx: f64, by: f64) -> (f64, f64) {
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0) };
    let (fx, fy) = (ax + t * dx, ay + t * dy);
    // Plain sqrt rather than hypot: these are metres, far from overflow, and hypot is several times slower.
    ((fx * fx + fy * fy).sqrt(), t)
}

/// Beyond this latitude (degrees) [`planar_segment_bound`]'s margins are not vouched for.
const SEGMENT_BOUND_MAX_LAT: f64 = 75.0;
/// Mean Earth radius (m), for stepping along a segment towards its foot.
const MEAN_RADIUS_M: f64 = 6_371_008.8;

/// `d` degrees of longitude brought within [−180, 180].
fn wrap_dlon(d: f64) -> f64 {
    if d > 180.0 {
        d - 360.0
    } else if d < -180.0 {
        d + 360.0
    } else {
        d
    }
}

/// A lower bound of the distance from `p` to the geodesic `a`–`b`, valid when the path to it stays in the band
/// whose parallel scale is `kx` (metres per degree of longitude): the distance in that conservative metric to
/// the straight lon/lat chord, less how far the geodesic's image strays from the chord. It strays by the
/// poleward bow of east–west geodesics (about 120·sin 2φ m per square degree of longitude) and, for a segment
/// that changes latitude, by the bend a shortening degree of longitude gives it (about 490·tan φ m per square
/// degree of latitude, times the chord's east–west share); the margins, 160 and 550, are some 10 % over the
/// worst of 12 000 random segments up to 25° long at latitudes up to 75° (`tan_hi` is tan of the highest
/// |latitude| of the segment or its geometry; callers give no bound beyond [`SEGMENT_BOUND_MAX_LAT`]). 0 for
/// segments over 20° of longitude.
fn planar_segment_bound(p: Coord<f64>, kx: f64, tan_hi: f64, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let dlon = (b.x - a.x).abs();
    let dlon = dlon.min(360.0 - dlon);
    if dlon > 20.0 {
        return 0.0;
    }
    let xy = |c: Coord<f64>| (wrap_dlon(c.x - p.x) * kx, (c.y - p.y) * MIN_METRES_PER_DEGREE_LAT);
    let ((ax, ay), (bx, by)) = (xy(a), xy(b));
    let planar = planar_origin_segment_distance(ax, ay, bx, by).0;
    let (dx, dlat) = (bx - ax, b.y - a.y);
    let len = (dx * dx + (by - ay) * (by - ay)).sqrt();
    let slant = if len > 0.0 { 550.0 * tan_hi * dlat * dlat * dx.abs() / len } else { 0.0 };
    (0.999 * planar - 1.0 - 160.0 * dlon * dlon - slant).max(0.0)
}

/// True lower bounds of the distance from one point to the segments of one chain, to check the local frame's
/// choice in [`point_chain_distance_m`]: the planar one within the band's reach (no trigonometry per segment),
/// beyond it the sphere's bound to the segment's box grown by its bow.
struct SegmentBounds {
    p: Coord<f64>,
    kx: f64,
    tan_hi: Option<f64>,
    exit_m: f64,
}

impl SegmentBounds {
    fn new(p: Coord<f64>, coords: &[Coord<f64>]) -> Self {
        let hi = coords.iter().map(|c| c.y.abs()).fold(0.0, f64::max);
        let band = (p.y.abs() + 2.0).max(hi).min(89.9);
        Self {
            p,
            kx: parallel_radius_m(band).to_radians(),
            tan_hi: (hi <= SEGMENT_BOUND_MAX_LAT).then(|| hi.to_radians().tan()),
            exit_m: (band - p.y.abs()).max(0.0) * MIN_METRES_PER_DEGREE_LAT,
        }
    }

    fn segment(&self, a: Coord<f64>, b: Coord<f64>) -> f64 {
        let planar = self.tan_hi.map_or(0.0, |t| planar_segment_bound(self.p, self.kx, t, a, b));
        if planar < self.exit_m {
            return planar;
        }
        // A geodesic stays within its ends' longitudes and bows at most ~145 m per square degree of longitude
        // beyond their latitudes.
        let dlon = (b.x - a.x).abs();
        let bow = 160.0 * dlon * dlon / MIN_METRES_PER_DEGREE_LAT;
        let grown = Rect::new(
            Coord { x: a.x.min(b.x), y: (a.y.min(b.y) - bow).max(-90.0) },
            Coord { x: a.x.max(b.x), y: (a.y.max(b.y) + bow).min(90.0) },
        );
        self.exit_m.max(sphere_rect_bound(self.p, &grown))
    }
}

/// Exact geodesic distance in metres from `p` to the nearest point of the geodesic segment `a`–`b`.
pub fn point_segment_distance_m(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    segment_distance_from(p, a, b, distance_azimuth(p, a), distance_azimuth(p, b))
}

/// [`point_segment_distance_m`] with the distance and azimuth from `p` to each end already measured.
fn segment_distance_from(
    p: Coord<f64>,
    a: Coord<f64>,
    b: Coord<f64>,
    (sa, aza): (f64, f64),
    (sb, azb): (f64, f64),
) -> f64 {
    let best_vertex = sa.min(sb);
    if a == b {
        return best_vertex;
    }
    // Azimuthal-equidistant coordinates around p: distances and azimuths from p are exact there.
    let (ax, ay) = (sa * aza.to_radians().sin(), sa * aza.to_radians().cos());
    let (bx, by) = (sb * azb.to_radians().sin(), sb * azb.to_radians().cos());
    let (foot, t) = planar_origin_segment_distance(ax, ay, bx, by);
    if t <= 0.0 || t >= 1.0 {
        return best_vertex;
    }
    // In this frame the segment's geodesic bows away from the straight chord by about L²·ρ / (8 R²)
    // (L its length, ρ its distance from p). Under a millimetre the chord's foot is the answer; beyond, move
    // the foot onto the geodesic itself and measure it exactly.
    let chord2 = (bx - ax).powi(2) + (by - ay).powi(2);
    if chord2 * sa.max(sb) / (8.0 * WGS84_A * WGS84_A) < 1e-3 {
        return foot.min(best_vertex);
    }
    // Move the foot onto the segment's own geodesic and measure it exactly. Far from p the chord's foot can be
    // tens of kilometres along from the geodesic's (and the distance there tens of metres more): while the
    // geodesic is not square to the line from p where it is measured, step to where a sphere through that point
    // puts the foot and measure again. Near p the first measure is square within a millimetre of distance and
    // nothing more is solved.
    let (s_ab, azi_ab) = distance_azimuth(a, b);
    let mut s = t * s_ab;
    let mut best = best_vertex;
    for _ in 0..4 {
        let (lat, lon, azi_seg): (f64, f64, f64) = WGS84.direct(a.y, a.x, azi_ab, s);
        let (d, _azi1, azi_away, _a12): (f64, f64, f64, f64) = WGS84.inverse(p.y, p.x, lat, lon);
        best = best.min(d);
        // How fast the distance grows along the segment there, and the step to the foot on the sphere.
        let rate = (azi_seg - azi_away).to_radians().cos();
        let sigma = d / MEAN_RADIUS_M;
        let next = (s - MEAN_RADIUS_M * (sigma.sin() * rate).atan2(sigma.cos())).clamp(0.0, s_ab);
        // Going on could gain at most `rate` per metre.
        if ((next - s) * rate).abs() < 1e-3 {
            break;
        }
        s = next;
    }
    best
}

/// Exact distance from `p` to the nearest point of a chain of segments. The segment a local planar frame puts
/// nearest is measured exactly first; every other one only when a true lower bound of its distance
/// ([`SegmentBounds`], planar near `p`, so without trigonometry) does not put it beyond the best measured so far.
/// A long chain passing close to `p` thus costs one or two exact measures, not one per nearby segment.
fn point_chain_distance_m(p: Coord<f64>, coords: &[Coord<f64>]) -> f64 {
    match coords.len() {
        0 => return f64::INFINITY,
        1 => return distance_m(p, coords[0]),
        _ => {}
    }
    let frame = LocalFrame::new(p);
    let (first, _) = coords
        .windows(2)
        .map(|w| frame.segment_distance(w[0], w[1]))
        .enumerate()
        .fold((0, f64::INFINITY), |best, (i, d)| if d < best.1 { (i, d) } else { best });
    // Each vertex is measured once even when two measured segments share it.
    let mut vertex: Vec<Option<(f64, f64)>> = vec![None; coords.len()];
    let mut measure = |i: usize| {
        let (va, vb) = (
            *vertex[i].get_or_insert_with(|| distance_azimuth(p, coords[i])),
            *vertex[i + 1].get_or_insert_with(|| distance_azimuth(p, coords[i + 1])),
        );
        segment_distance_from(p, coords[i], coords[i + 1], va, vb)
    };
    let mut out = measure(first);
    // The frame only guesses: far from p, or across the meridian opposite it (where a segment from 170° E to
    // 170° W, seen from 0°, runs through its origin), it can misjudge by far more than the gap between two
    // segments. Each other segment is measured unless its true lower bound puts it beyond the best.
    if coords.len() > 2 {
        let bounds = SegmentBounds::new(p, coords);
        for i in (0..coords.len() - 1).filter(|&i| i != first) {
            if bounds.segment(coords[i], coords[i + 1]) < out {
                out = out.min(measure(i));
            }
        }
    }
    out
}

fn point_polygon_distance_m(p: Coord<f64>, polygon: &Polygon<f64>) -> f64 {
    if polygon_meets(polygon, p) { 0.0 } else { point_rings_distance_m(p, polygon) }
}

/// Distance from `p` to the nearest point of a polygon's rings.
fn point_rings_distance_m(p: Coord<f64>, polygon: &Polygon<f64>) -> f64 {
    std::iter::once(polygon.exterior())
        .chain(polygon.interiors())
        .map(|ring| point_chain_distance_m(p, &ring.0))
        .fold(f64::INFINITY, f64::min)
}

/// Geodesic distance in metres from `p` to the nearest point of `geometry` (0 inside a polygon).
pub fn point_geometry_distance_m(p: Coord<f64>, geometry: &Geometry<f64>) -> f64 {
    point_distance_m(p, geometry, true)
}

/// Distance from `p` to `geometry`; with `inside` false, a polygon is taken as its rings (for a point known
/// not to be inside it).
fn point_distance_m(p: Coord<f64>, geometry: &Geometry<f64>, inside: bool) -> f64 {
    let polygon = |poly: &Polygon<f64>| {
        if inside { point_polygon_distance_m(p, poly) } else { point_rings_distance_m(p, poly) }
    };
    match geometry {
        Geometry::Point(q) => distance_m(p, q.0),
        Geometry::MultiPoint(mp) => mp.iter().map(|q| distance_m(p, q.0)).fold(f64::INFINITY, f64::min),
        Geometry::Line(l) => point_segment_distance_m(p, l.start, l.end),
        Geometry::LineString(ls) => point_chain_distance_m(p, &ls.0),
        Geometry::MultiLineString(mls) => {
            mls.iter().map(|ls| point_chain_distance_m(p, &ls.0)).fold(f64::INFINITY, f64::min)
        }
        Geometry::Polygon(poly) => polygon(poly),
        Geometry::MultiPolygon(mp) => {
            if inside && mp.iter().any(|poly| polygon_meets(poly, p)) {
                return 0.0;
            }
            mp.iter().map(|poly| point_rings_distance_m(p, poly)).fold(f64::INFINITY, f64::min)
        }
        Geometry::Rect(r) => polygon(&parallels_box(r)),
        Geometry::Triangle(t) => polygon(&t.to_polygon()),
        Geometry::GeometryCollection(gc) => {
            gc.iter().map(|g| point_distance_m(p, g, inside)).fold(f64::INFINITY, f64::min)
        }
    }
}

/// Exact distances from one query point to geometries, each distinct point location measured once: many
/// features share a location (the plan's 207 projects sit at 80, 34 of them at Shenyang's seat), and a query
/// near such a place would otherwise solve Karney's inverse problem once per feature for the same answer.
pub struct DistancesFrom {
    p: Coord<f64>,
    /// Point locations already measured, with their distances; a few dozen at most, so a linear scan.
    seen: Vec<(Coord<f64>, f64)>,
    /// Whether a location has been found among them yet: once they are full and none has, the points are all
    /// apart (a large layer), and the scan is skipped.
    shared: bool,
}

impl DistancesFrom {
    /// The most locations remembered; beyond it points are measured afresh (still exact, just not shared).
    const REMEMBERED: usize = 64;

    /// Distances from `p`.
    pub fn new(p: Coord<f64>) -> Self {
        Self { p, seen: Vec::new(), shared: false }
    }

    /// [`point_geometry_distance_m`] from the query point to `geometry`.
    pub fn to(&mut self, geometry: &Geometry<f64>) -> f64 {
        let Geometry::Point(q) = geometry else { return point_geometry_distance_m(self.p, geometry) };
        let full = self.seen.len() >= Self::REMEMBERED;
        if full && !self.shared {
            return distance_m(self.p, q.0);
        }
        if let Some(&(_, d)) = self.seen.iter().find(|(c, _)| *c == q.0) {
            self.shared = true;
            return d;
        }
        let d = distance_m(self.p, q.0);
        if !full {
            self.seen.push((q.0, d));
        }
        d
    }
}

/// Every vertex of a geometry, in order.
fn vertices(geometry: &Geometry<f64>) -> Vec<Coord<f64>> {
    use geo::CoordsIter;
    geometry.coords_iter().collect()
}

/// Geodesic distance in metres between two geometries: 0 if they meet (their edges taken as geodesics),
/// otherwise the smallest distance from a vertex of either to the other (the minimum between two non-crossing
/// segments is always reached at an end point of one of them).
pub fn geometry_distance_m(a: &Geometry<f64>, b: &Geometry<f64>) -> f64 {
    GeometryDistances::new(a).to(b)
}

/// Distances from one geometry to others ([`geometry_distance_m`]): its densified edges, reach and vertices
/// worked out once (a filter's literal is measured against every feature).
#[derive(Debug)]
pub struct GeometryDistances {
    from: Geometry<f64>,
    dense: Geometry<f64>,
    reach: Option<Rect<f64>>,
    vertices: Vec<Coord<f64>>,
}

impl PartialEq for GeometryDistances {
    fn eq(&self, other: &Self) -> bool {
        self.from == other.from
    }
}

impl GeometryDistances {
    /// Distances from `from`.
    pub fn new(from: &Geometry<f64>) -> Self {
        let from = boxes_as_parallels(from);
        let from = from.as_ref();
        Self {
            dense: densified(from).into_owned(),
            reach: reach_of(from),
            vertices: vertices(from),
            from: from.clone(),
        }
    }

    /// The distance to `other`, in metres: 0 if they meet (edges as geodesics, [`densified`]), otherwise the
    /// smallest from a vertex of either to the other's edges (neither vertex is then inside the other).
    pub fn to(&self, other: &Geometry<f64>) -> f64 {
        // Geometries whose reaches are apart (across the antimeridian too) cannot meet.
        let apart = match (self.reach, reach_of(other)) {
            (Some(a), Some(b)) => {
                let overlap = |shift: f64| b.max().x + shift >= a.min().x && b.min().x + shift <= a.max().x;
                b.max().y < a.min().y
                    || b.min().y > a.max().y
                    || ![0.0, -360.0, 360.0].into_iter().any(overlap)
            }
            _ => true,
        };
        if !apart && meets(&self.dense, densified(other).as_ref()) {
            return 0.0;
        }
        // Stops early when the request's time budget is spent (the answer is then discarded).
        let from_a = self
            .vertices
            .iter()
            .take_while(|_| !crate::compute::spent())
            .map(|c| point_distance_m(*c, other, false))
            .fold(f64::INFINITY, f64::min);
        let from_b = vertices(other)
            .into_iter()
            .take_while(|_| !crate::compute::spent())
            .map(|c| point_distance_m(c, &self.from, false))
            .fold(f64::INFINITY, f64::min);
        from_a.min(from_b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Point, line_string, polygon};

    /// The nearest of 11 × 11 points spread over `bbox`, from `p`; each is checked to be at least `bound` away.
    fn nearest_at_least(p: Coord<f64>, bbox: &Rect<f64>, bound: f64) -> f64 {
        let mut nearest = f64::INFINITY;
        for i in 0..=10 {
            for j in 0..=10 {
                let q = Coord {
                    x: bbox.min().x + bbox.width() * f64::from(i) / 10.0,
                    y: bbox.min().y + bbox.height() * f64::from(j) / 10.0,
                };
                let d = distance_m(p, q);
                assert!(bound <= d, "bound {bound} > {d} from {p:?} to {q:?} in {bbox:?}");
                nearest = nearest.min(d);
            }
        }
        nearest
    }

    /// A point at any longitude and up to `max_lat`° of latitude, another `from` + `span`·u² metres from it in
    /// any direction (u uniform), and their distance.
    fn pair(
        rnd: &mut impl FnMut() -> f64,
        max_lat: f64,
        from: f64,
        span: f64,
    ) -> (Coord<f64>, Coord<f64>, f64) {
        let p = Coord { x: -180.0 + 360.0 * rnd(), y: -max_lat + 2.0 * max_lat * rnd() };
        let (azimuth, reach) = (360.0 * rnd() - 180.0, from + span * rnd().powi(2));
        let (lat, lon): (f64, f64) = WGS84.direct(p.y, p.x, azimuth, reach);
        let q = Coord { x: lon, y: lat };
        (p, q, distance_m(p, q))
    }

    #[test]
    fn the_sphere_bound_never_exceeds_the_geodesic_and_is_tight_far_away() {
        // Query points over China and the seas, boxes over Liaoning; every point of each box is at least the
        // bound away, and far away the bound is within 1% of the nearest.
        let mut rnd = crate::geom::uniform(0x2545_F491_4F6C_DD1D);
        for _ in 0..300 {
            let p = Coord { x: 95.0 + 40.0 * rnd(), y: 18.0 + 35.0 * rnd() };
            let (x0, y0) = (119.0 + 6.0 * rnd(), 38.5 + 4.5 * rnd());
            let bbox = Rect::new(Coord { x: x0, y: y0 }, Coord { x: x0 + 0.5 * rnd(), y: y0 + 0.5 * rnd() });
            let bound = sphere_rect_bound(p, &bbox);
            let nearest = nearest_at_least(p, &bbox, bound);
            if nearest > 500_000.0 {
                assert!(bound > 0.99 * nearest, "loose: {bound} vs {nearest}");
            }
        }
    }

    #[test]
    fn the_flat_bracket_holds_the_geodesic_with_room_to_spare() {
        // Pairs at every latitude up to 62° (beyond 60° there is no bracket), up to 200 km apart in every
        // direction.
        let mut rnd = crate::geom::uniform(0x9E37_79B9_7F4A_7C15);
        let mut checked = 0;
        for _ in 0..20_000 {
            let (p, q, d) = pair(&mut rnd, 62.0, 0.0, 200_000.0);
            let Some((lo, hi)) = flat_bracket_m(p, q) else { continue };
            checked += 1;
            assert!(lo <= d && d <= hi, "{d} outside [{lo}, {hi}] from {p:?} to {q:?}");
            // The flat distance itself is over three times closer than the margins (ten times in Liaoning).
            let flat = (hi - 1.0) / 1.001;
            let rel = if (35.0..48.0).contains(&p.y) { 0.0001 } else { 0.0003 };
            assert!((flat - d).abs() <= rel * d + 0.1, "flat {flat} vs {d} from {p:?} to {q:?}");
        }
        assert!(checked > 15_000, "{checked}");
    }

    #[test]
    fn lamberts_box_bound_never_exceeds_the_geodesic_and_is_tight_for_small_far_boxes() {
        // Query points over China and the seas, boxes over Liaoning from a point to 3°; every point of each box
        // is at least the bound away, and for boxes under 0.1° over 500 km away the bound is within 0.02 % of
        // the nearest (0.01 % at worst when this was written, where the sphere's bound is 0.25 % short).
        let mut rnd = crate::geom::uniform(0x94D0_49BB_1331_11EB);
        let (mut applied, mut tight) = (0, 0);
        for n in 0..3_000 {
            let p = Coord { x: 95.0 + 40.0 * rnd(), y: 18.0 + 35.0 * rnd() };
            let size = if n % 2 == 0 { 0.1 * rnd() } else { 3.0 * rnd() };
            let (x0, y0) = (119.0 + 6.0 * rnd(), 38.5 + 4.5 * rnd());
            let bbox =
                Rect::new(Coord { x: x0, y: y0 }, Coord { x: x0 + size * rnd(), y: y0 + size * rnd() });
            let bound = lambert_rect_bound(p, &bbox);
            if bound > 0.0 {
                applied += 1;
            }
            let nearest = nearest_at_least(p, &bbox, bound);
            if size < 0.1 && nearest > 500_000.0 && nearest < 3_000_000.0 {
                tight += 1;
                assert!(bound > 0.9998 * nearest, "loose: {bound} vs {nearest} from {p:?} to {bbox:?}");
            }
        }
        assert!(applied > 2_000 && tight > 500, "{applied} applied, {tight} checked for tightness");
    }

    #[test]
    fn lamberts_bracket_holds_the_geodesic_with_room_to_spare() {
        // Pairs at every latitude up to 82° (beyond 80° there is no bracket), 5 km to 12 000 km apart in every
        // direction. Over 400 000 such pairs the worst error was 1.41e-6 of the distance.
        let mut rnd = crate::geom::uniform(0xD1B5_4A32_D192_ED03);
        let (mut checked, mut worst) = (0, 0.0_f64);
        for _ in 0..20_000 {
            let (p, q, d) = pair(&mut rnd, 82.0, 5_000.0, 12_000_000.0);
            let Some((lo, hi)) = long_bracket_m(p, q) else { continue };
            checked += 1;
            assert!(lo <= d && d <= hi, "{d} outside [{lo}, {hi}] from {p:?} to {q:?}");
            // Lambert's distance itself is over three times closer than the margins.
            let lambert = f64::midpoint(lo, hi);
            worst = worst.max(((lambert - d).abs() - 0.01) / d);
            assert!(
                (lambert - d).abs() <= 0.000_003 * d + 0.01,
                "Lambert {lambert} vs {d} from {p:?} to {q:?}"
            );
        }
        assert!(checked > 15_000, "{checked}");
        eprintln!("Lambert's worst relative error: {worst:e}");
    }

    /// Remembered or not (shared places, then more places than it keeps, then a line), every distance is the
    /// exact one.
    #[test]
    fn distances_from_a_point_are_the_exact_ones_remembered_or_not() {
        let p = Coord { x: 123.0, y: 41.5 };
        let place = |i: usize| {
            Geometry::Point(Point(Coord { x: 121.0 + 0.01 * i as f64, y: 40.0 + 0.007 * i as f64 }))
        };
        let line =
            Geometry::LineString(LineString(vec![Coord { x: 122.0, y: 41.0 }, Coord { x: 124.0, y: 42.0 }]));
        let geometries: Vec<Geometry<f64>> = (0..10)
            .chain(0..10)
            .chain(0..200)
            .map(place)
            .chain(std::iter::once(line))
            .chain((150..210).map(place))
            .collect();
        let mut from = DistancesFrom::new(p);
        for g in &geometries {
            assert_eq!(from.to(g).to_bits(), point_geometry_distance_m(p, g).to_bits(), "{g:?}");
        }
        // Far more places than it keeps, none shared: it stops looking.
        let mut apart = DistancesFrom::new(p);
        for g in (0..100).map(place) {
            assert_eq!(apart.to(&g).to_bits(), point_geometry_distance_m(p, &g).to_bits());
        }
        assert!(!apart.shared && apart.seen.len() == DistancesFrom::REMEMBERED);
    }

    #[test]
    fn one_degree_of_latitude_at_41n_is_about_111_km() {
        let d = distance_m(Coord { x: 123.0, y: 41.0 }, Coord { x: 123.0, y: 42.0 });
        assert!((d - 111_061.0).abs() < 100.0, "{d}");
    }

    #[test]
    fn distance_to_a_line_is_to_its_nearest_point_not_its_ends() {
        let line: Geometry<f64> = line_string![(x: 123.0, y: 41.0), (x: 124.0, y: 41.0)].into();
        let p = Coord { x: 123.5, y: 41.01 };
        let d = point_geometry_distance_m(p, &line);
        // 0.01° of latitude is about 1.11 km; the geodesic between the ends bows about 120 m north of the parallel.
        assert!(d > 950.0 && d < 1_050.0, "{d}");
        let to_end = distance_m(p, Coord { x: 123.0, y: 41.0 });
        assert!(d < to_end / 10.0);
    }

    #[test]
    fn a_point_inside_a_polygon_is_at_distance_zero() {
        let poly: Geometry<f64> =
            polygon![(x: 123.0, y: 41.0), (x: 124.0, y: 41.0), (x: 124.0, y: 42.0), (x: 123.0, y: 42.0)]
                .into();
        assert!(point_geometry_distance_m(Coord { x: 123.5, y: 41.5 }, &poly) == 0.0);
        assert!(point_geometry_distance_m(Coord { x: 122.9, y: 41.5 }, &poly) > 8_000.0);
    }

    #[test]
    fn search_rect_contains_every_point_within_the_radius() {
        let p = Coord { x: 122.0, y: 41.0 };
        let r = search_rect(p, 10_000.0);
        for az in (0..360).step_by(5) {
            let (lat, lon): (f64, f64) = WGS84.direct(p.y, p.x, f64::from(az), 10_000.0);
            assert!(lon >= r.min().x && lon <= r.max().x && lat >= r.min().y && lat <= r.max().y, "{az}");
        }
    }

    #[test]
    fn the_lower_bound_never_exceeds_the_true_distance() {
        let p = Coord { x: 122.0, y: 41.0 };
        for (x, y) in
            [(122.0, 41.5), (123.0, 41.0), (121.0, 39.0), (125.5, 43.4), (119.0, 38.8), (122.3, 41.0001)]
        {
            let q = Coord { x, y };
            let lb = lower_bound_m(p, &Rect::new(q, q));
            let d = distance_m(p, q);
            assert!(lb <= d && lb > d * 0.9, "{q:?}: {lb} vs {d}");
        }
    }

    #[test]
    fn the_line_lower_bound_never_exceeds_the_true_distance() {
        let line: Geometry<f64> =
            line_string![(x: 121.0, y: 40.0), (x: 122.5, y: 40.6), (x: 123.0, y: 41.9)].into();
        let bbox = crate::geom::bounding_rect(&line).unwrap();
        for (x, y) in
            [(121.9, 40.5), (122.0, 40.0), (121.8, 40.42), (124.0, 41.0), (120.0, 42.0), (122.6, 40.61)]
        {
            let q = Coord { x, y };
            let lb = LowerBounds::new(q, 0.0).geometry(&line, &bbox);
            let d = point_geometry_distance_m(q, &line);
            assert!(lb <= d, "{q:?}: {lb} > {d}");
        }
    }

    #[test]
    fn segment_foot_is_found_on_the_geodesic() {
        let a = Coord { x: 121.0, y: 40.0 };
        let b = Coord { x: 122.0, y: 41.0 };
        let p = Coord { x: 121.7, y: 40.3 };
        let d = point_segment_distance_m(p, a, b);
        // Brute force along the geodesic.
        let (s_ab, azi) = distance_azimuth(a, b);
        let brute = (0..=20_000)
            .map(|i| {
                let (lat, lon): (f64, f64) = WGS84.direct(a.y, a.x, azi, s_ab * f64::from(i) / 20_000.0);
                distance_m(p, Coord { x: lon, y: lat })
            })
            .fold(f64::INFINITY, f64::min);
        assert!(d <= brute + 1e-6 && brute - d < 0.01, "{d} vs {brute}");
    }

    /// A random segment at latitudes up to `max_lat`, up to `max_dlon` degrees of longitude and 6° of latitude
    /// long, and `n + 1` points evenly along its geodesic.
    fn segment_and_geodesic(
        rnd: &mut impl FnMut() -> f64,
        max_lat: f64,
        max_dlon: f64,
        n: u32,
    ) -> (Coord<f64>, Coord<f64>, Vec<Coord<f64>>) {
        let a = Coord { x: -160.0 + 300.0 * rnd(), y: -max_lat + 2.0 * max_lat * rnd() };
        let b = Coord {
            x: a.x + max_dlon * (2.0 * rnd() - 1.0),
            y: (a.y + 6.0 * (2.0 * rnd() - 1.0)).clamp(-max_lat, max_lat),
        };
        let (s, azimuth) = distance_azimuth(a, b);
        let along = (0..=n)
            .map(|k| {
                let (lat, lon): (f64, f64) = WGS84.direct(a.y, a.x, azimuth, s * f64::from(k) / f64::from(n));
                Coord { x: lon, y: lat }
            })
            .collect();
        (a, b, along)
    }

    #[test]
    fn geodesics_stay_within_their_reach() {
        // Segments up to 20° of longitude at latitudes up to 75°: every point of the geodesic is in the
        // segment's reach, and in the reach of a line and of a polygon it is an edge of.
        let mut rnd = crate::geom::uniform(0x51_7CC1_B727_220A);
        for _ in 0..3_000 {
            let (a, b, along) = segment_and_geodesic(&mut rnd, 75.0, 20.0, 40);
            let line = Geometry::LineString(LineString(vec![a, b]));
            let reach = reach_of(&line).unwrap();
            let boxes = reach_boxes(&line);
            let c = Coord { x: a.x, y: if b.y > a.y { a.y - 1.0 } else { a.y + 1.0 } };
            let triangle = Geometry::Polygon(Polygon::new(LineString(vec![a, b, c, a]), vec![]));
            let of_polygon = reach_boxes(&triangle);
            for q in along {
                let inside = |r: &Rect<f64>| {
                    r.min().y <= q.y && q.y <= r.max().y && r.min().x - 1e-9 <= q.x && q.x <= r.max().x + 1e-9
                };
                assert!(inside(&reach), "{q:?} outside {reach:?} of {a:?}–{b:?}");
                assert!(boxes.iter().any(inside) && of_polygon.iter().any(inside), "{q:?} of {a:?}–{b:?}");
            }
        }
    }

    #[test]
    fn densified_chords_stay_within_a_centimetre_of_the_geodesic() {
        // Segments up to 12° of longitude at latitudes up to 70°: every point of the geodesic is within 1.2 cm of
        // the densified line's straight lon/lat chords (measured in the local metre scale), and short segments
        // are left alone.
        let mut rnd = crate::geom::uniform(0x2F1A_93C4_77D0_8E15);
        let mut cut = 0;
        for n in 0..400 {
            let max_dlon = if n % 4 == 0 { 0.005 } else { 12.0 };
            let (a, b, along) = segment_and_geodesic(&mut rnd, 70.0, max_dlon, 100);
            let line = Geometry::LineString(LineString(vec![a, b]));
            let dense = densified(&line);
            let Geometry::LineString(ls) = dense.as_ref() else { panic!("a line stays a line") };
            if (b.x - a.x).abs() < 0.005 && (b.y - a.y).abs() < 0.005 {
                assert!(matches!(dense, std::borrow::Cow::Borrowed(_)), "{a:?}–{b:?}");
            }
            if ls.0.len() > 2 {
                cut += 1;
            }
            for q in along {
                let kx = parallel_radius_m(q.y).to_radians();
                let xy = |c: Coord<f64>| ((c.x - q.x) * kx, (c.y - q.y) * 111_000.0);
                let off =
                    ls.0.windows(2)
                        .map(|w| {
                            let ((ax, ay), (bx, by)) = (xy(w[0]), xy(w[1]));
                            planar_origin_segment_distance(ax, ay, bx, by).0
                        })
                        .fold(f64::INFINITY, f64::min);
                assert!(off < 0.012, "{off} m from {q:?} on {a:?}–{b:?} ({} points)", ls.0.len());
            }
        }
        assert!(cut > 250, "{cut}");
    }

    #[test]
    fn geometries_meet_as_geodesics_not_as_drawn() {
        // The geodesic from 115° E to 130° E along 45° N bows north past 45.2°: a short north–south line
        // crossing its drawing at 45° is over 10 km from it, and one from 45.05° to 45.6° crosses it.
        let ew = Geometry::LineString(line_string![(x: 115.0, y: 45.0), (x: 130.0, y: 45.0)]);
        let below = Geometry::LineString(line_string![(x: 122.5, y: 44.9), (x: 122.5, y: 45.1)]);
        let across = Geometry::LineString(line_string![(x: 120.0, y: 45.05), (x: 120.0, y: 45.6)]);
        let d = geometry_distance_m(&ew, &below);
        let expected = point_segment_distance_m(
            Coord { x: 122.5, y: 45.1 },
            Coord { x: 115.0, y: 45.0 },
            Coord { x: 130.0, y: 45.0 },
        );
        assert!(d > 10_000.0 && (d - expected).abs() < 1e-6, "{d} vs {expected}");
        assert_eq!(geometry_distance_m(&ew, &across), 0.0);
        // A polygon with that edge as its south side holds a point just north of the drawing only beyond the
        // bow.
        let poly =
            polygon![(x: 115.0, y: 45.0), (x: 130.0, y: 45.0), (x: 130.0, y: 46.0), (x: 115.0, y: 46.0)];
        assert!(
            point_geometry_distance_m(Coord { x: 122.5, y: 45.1 }, &Geometry::Polygon(poly.clone()))
                > 10_000.0
        );
        assert_eq!(point_geometry_distance_m(Coord { x: 122.5, y: 45.3 }, &Geometry::Polygon(poly)), 0.0);
    }
}
