//! Mapbox Vector Tiles of the regions, cities, counties and projects.
//!
//! Geometry is projected to Web Mercator once per coordinate variant (plain WGS84, or shifted to GCJ-02 /
//! BD-09 so layers line up on Chinese base maps), simplified once per zoom level (borders shared by counties and
//! cities through one [`Topology`], so neighbours never part), and then, per tile, moved to tile units, clipped
//! to the tile plus a buffer, snapped, oriented as MVT 2.1 requires and encoded with `geozero`. Unfiltered
//! tiles are kept in a bounded cache.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use geo::{Geometry, MapCoords, MultiLineString, MultiPolygon, Simplify};
use geozero::mvt::{Message, TagsBuilder, Tile, TileValue, tile};
use serde_json::Value;

use super::catalog::Catalog;
use super::collection::{Collection, Feature};
use crate::geom::crs::Crs;
use crate::geom::tiles::{self as t, TileId};
use crate::geom::topo::Topology;

/// The tiled collections, drawn bottom to top.
pub const LAYERS: [&str; 4] = ["regions", "cities", "counties", "projects"];

/// A layer of points, one per region, city and county, to hang each name on once: a polygon cut into tiles
/// (and Dalian's islands) would otherwise get a label per piece.
pub const LABELS: &str = "labels";

/// The tiled collections of `catalog`: the plan's, then planners' layers (`--layer`), bottom to top.
pub fn tiled(catalog: &Catalog) -> Vec<&'static str> {
    LAYERS.iter().copied().chain(catalog.layers().iter().filter(|c| c.is_spatial()).map(|c| c.id())).collect()
}

/// The layers of the combined tile endpoint: the tiled collections, then the label points.
pub fn combined(catalog: &Catalog) -> Vec<&'static str> {
    let mut out = tiled(catalog);
    out.push(LABELS);
    out
}

/// The highest zoom served.
pub const MAX_ZOOM: u8 = 16;
/// Zooms from which geometry is no longer simplified (a tile unit is under 2.5 m there).
const RAW_FROM_ZOOM: u8 = 14;

/// Geometry of every feature of the tiled layers, in Web Mercator metres, for one coordinate variant.
struct Projected {
    /// Per layer (in [`tiled`] order), per feature.
    layers: Vec<Vec<Option<Geometry<f64>>>>,
    /// Counties and cities as one topology (they share borders), then regions.
    admin: Topology,
    regions: Topology,
    /// Label points (Web Mercator) of the polygon layers: (layer, feature, point).
    labels: Vec<(usize, usize, geo::Coord<f64>)>,
}

/// A point well inside the largest part of a (multi)polygon, where its name goes.
fn label_point(g: &Geometry<f64>) -> Option<geo::Coord<f64>> {
    use geo::{Area, InteriorPoint};
    let mp = multipolygon(g);
    let largest = mp.0.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))?;
    largest.interior_point().map(|p| p.0)
}

/// Simplified geometry for one zoom, per layer, per feature.
type Level = Vec<Vec<Option<Geometry<f64>>>>;

/// The coordinate variants tiles come in: plain WGS84, or shifted for AMap / Baidu base maps.
fn variant_index(crs: Crs) -> usize {
    match crs {
        Crs::Gcj02 => 1,
        Crs::Bd09 => 2,
        _ => 0,
    }
}

/// A cached tile's key: coordinate variant, layers and filter, address.
type CacheKey = (usize, String, TileId);

/// Encoded tiles by key, the order they arrived in (the oldest leaves first) and the bytes held.
#[derive(Default)]
struct TileCache {
    tiles: HashMap<CacheKey, Arc<Vec<u8>>>,
    order: VecDeque<CacheKey>,
    bytes: usize,
}

impl TileCache {
    /// What one entry costs: the tile, its key text and bookkeeping.
    fn cost(key: &CacheKey, tile: &[u8]) -> usize {
        tile.len() + 2 * key.1.len() + 64
    }

    fn insert(&mut self, key: CacheKey, tile: Arc<Vec<u8>>) {
        let cost = Self::cost(&key, &tile);
        if cost > CACHE_BYTES || self.tiles.contains_key(&key) {
            return;
        }
        while self.bytes + cost > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(t) = self.tiles.remove(&old) {
                self.bytes -= Self::cost(&old, &t);
            }
        }
        self.bytes += cost;
        self.order.push_back(key.clone());
        self.tiles.insert(key, tile);
    }
}

/// Encoded tiles and the work behind them.
pub struct TileSource {
    projected: [OnceLock<Projected>; 3],
    levels: [[OnceLock<Arc<Level>>; (MAX_ZOOM as usize) + 1]; 3],
    cache: Mutex<TileCache>,
    /// Tiles answered from the cache.
    pub hits: AtomicU64,
    /// Tiles encoded.
    pub misses: AtomicU64,
}

/// How many bytes of encoded tiles (with their keys) the cache keeps; the oldest leave first.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

impl Default for TileSource {
    fn default() -> Self {
        Self::new()
    }
}

fn multipolygon(g: &Geometry<f64>) -> MultiPolygon<f64> {
    match g {
        Geometry::MultiPolygon(mp) => mp.clone(),
        Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
        _ => MultiPolygon(vec![]),
    }
}

impl TileSource {
    /// An empty source; work happens on first use of each variant and zoom.
    pub fn new() -> Self {
        Self {
            projected: std::array::from_fn(|_| OnceLock::new()),
            levels: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
            cache: Mutex::new(TileCache::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// An empty source for a new data revision that carries on the hit and miss counts of `previous`, so the
    /// counters in `/metrics` keep counting across writes.
    pub fn continuing(previous: &Self) -> Self {
        let next = Self::new();
        next.hits.store(previous.hits.load(Ordering::Relaxed), Ordering::Relaxed);
        next.misses.store(previous.misses.load(Ordering::Relaxed), Ordering::Relaxed);
        next
    }

    /// Bytes and tiles held in the cache now.
    pub fn cache_size(&self) -> (usize, usize) {
        self.cache.lock().map_or((0, 0), |c| (c.bytes, c.tiles.len()))
    }

    fn projected(&self, catalog: &Catalog, variant: usize) -> &Projected {
        self.projected[variant].get_or_init(|| {
            let crs = [Crs::Crs84, Crs::Gcj02, Crs::Bd09][variant];
            let shift = |c: geo::Coord<f64>| {
                let c = crate::geom::crs::from_crs84(crs, c).unwrap_or(c);
                t::to_mercator(c)
            };
            let layers: Vec<Vec<Option<Geometry<f64>>>> = tiled(catalog)
                .iter()
                .map(|id| {
                    catalog
                        .collection(id)
                        .map(|c| {
                            c.features()
                                .iter()
                                .map(|f| f.geometry.as_ref().map(|g| g.map_coords(shift)))
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect();
            let shapes = |layer: usize| -> Vec<MultiPolygon<f64>> {
                layers[layer]
                    .iter()
                    .map(|g| g.as_ref().map_or_else(|| MultiPolygon(vec![]), multipolygon))
                    .collect()
            };
            let mut admin_shapes = shapes(1);
            admin_shapes.extend(shapes(2));
            let admin = Topology::new(&admin_shapes);
            let regions = Topology::new(&shapes(0));
            let labels = (0..3)
                .flat_map(|li| {
                    layers[li]
                        .iter()
                        .enumerate()
                        .filter_map(move |(i, g)| g.as_ref().and_then(label_point).map(|c| (li, i, c)))
                })
                .collect();
            Projected { layers, admin, regions, labels }
        })
    }

    fn level(&self, catalog: &Catalog, variant: usize, z: u8) -> Arc<Level> {
        let z = z.min(MAX_ZOOM);
        self.levels[variant][z as usize]
            .get_or_init(|| {
                let p = self.projected(catalog, variant);
                if z >= RAW_FROM_ZOOM {
                    return Arc::new(p.layers.clone());
                }
                // One tile unit: below what a screen can show at this zoom.
                let tolerance = t::unit_m_at(z);
                let admin = p.admin.simplified(tolerance);
                let n_cities = p.layers[1].len();
                let poly = |mp: MultiPolygon<f64>| (!mp.0.is_empty()).then_some(Geometry::MultiPolygon(mp));
                let regions: Vec<Option<Geometry<f64>>> =
                    p.regions.simplified(tolerance).into_iter().map(poly).collect();
                let mut admin = admin.into_iter().map(poly);
                let cities: Vec<Option<Geometry<f64>>> = admin.by_ref().take(n_cities).collect();
                let counties: Vec<Option<Geometry<f64>>> = admin.collect();
                let simplify = |g: &Option<Geometry<f64>>| match g {
                    Some(Geometry::LineString(ls)) => Some(Geometry::LineString(ls.simplify(tolerance))),
                    Some(Geometry::MultiLineString(m)) => {
                        Some(Geometry::MultiLineString(m.simplify(tolerance)))
                    }
                    Some(Geometry::Polygon(pg)) => Some(Geometry::Polygon(pg.simplify(tolerance))),
                    Some(Geometry::MultiPolygon(m)) => Some(Geometry::MultiPolygon(m.simplify(tolerance))),
                    other => other.clone(),
                };
                let projects: Vec<Option<Geometry<f64>>> = p.layers[3].iter().map(simplify).collect();
                let mut level = vec![regions, cities, counties, projects];
                // Planners' layers: each feature on its own (their polygons need not share borders).
                level.extend(p.layers[LAYERS.len()..].iter().map(|l| l.iter().map(simplify).collect()));
                Arc::new(level)
            })
            .clone()
    }

    /// Encodes a tile with the given layers (ids from [`tiled`], and [`LABELS`]). `keep` decides, per layer and feature index,
    /// whether a feature is drawn (filters); `cache_key` is `Some` for tiles that may be cached. Returns `None`
    /// when the tile has no features.
    pub fn tile(
        &self,
        catalog: &Catalog,
        layers: &[&str],
        id: TileId,
        crs: Crs,
        keep: &dyn Fn(&str, &Feature) -> bool,
        cache_key: Option<&str>,
    ) -> Option<Arc<Vec<u8>>> {
        let variant = variant_index(crs);
        let key = cache_key.map(|k| (variant, format!("{}|{k}", layers.join(",")), id));
        if let Some(k) = &key
            && let Some(hit) = self.cache.lock().ok().and_then(|c| c.tiles.get(k).cloned())
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return (!hit.is_empty()).then_some(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let level = self.level(catalog, variant, id.z);
        let search = id.lon_lat_bounds(t::BUFFER / f64::from(t::EXTENT) + 0.02);
        // The tile's box in the variant's coordinates is shifted by at most ~1 km from WGS84; widen the search.
        let search =
            if variant == 0 { search } else { crate::geom::geodesic::expand_rect_m(search, 1_500.0) };
        let mut tile = Tile::default();
        let order = tiled(catalog);
        for name in layers {
            if *name == LABELS {
                if let Some(layer) = self.label_layer(catalog, variant, id, keep) {
                    tile.layers.push(layer);
                }
                continue;
            }
            let Some(li) = order.iter().position(|l| l == name) else { continue };
            let Some(collection) = catalog.collection(name) else { continue };
            let mut layer = tile::Layer {
                version: 2,
                name: (*name).to_owned(),
                extent: Some(t::EXTENT),
                ..Default::default()
            };
            let mut tags = TagsBuilder::new();
            for i in collection.bbox_candidates(&search) {
                if crate::compute::spent() {
                    // Out of time: the answer is discarded, and a partial tile must not be cached.
                    return None;
                }
                if !keep(name, collection.feature(i)) {
                    continue;
                }
                let Some(Some(g)) = level[li].get(i) else { continue };
                let Some(mut feature) = encode(id, g) else { continue };
                feature.id = Some(i as u64 + 1);
                for (k, v) in tile_properties(collection, collection.feature(i)) {
                    let (ki, vi) = tags.insert(k.to_owned(), v);
                    feature.tags.extend([ki, vi]);
                }
                layer.features.push(feature);
            }
            if !layer.features.is_empty() {
                let (keys, values) = tags.into_tags();
                layer.keys = keys;
                layer.values = values.into_iter().map(Into::into).collect();
                tile.layers.push(layer);
            }
        }
        let bytes = Arc::new(if tile.layers.is_empty() { Vec::new() } else { tile.encode_to_vec() });
        if let (Some(k), Ok(mut cache)) = (key, self.cache.lock()) {
            cache.insert(k, bytes.clone());
        }
        (!bytes.is_empty()).then_some(bytes)
    }

    /// The label points of tile `id`: `kind` (region, city, county), `id`, `name_zh`, `name_en`; `None` when
    /// the tile has none.
    fn label_layer(
        &self,
        catalog: &Catalog,
        variant: usize,
        id: TileId,
        keep: &dyn Fn(&str, &Feature) -> bool,
    ) -> Option<tile::Layer> {
        const KINDS: [&str; 3] = ["region", "city", "county"];
        let mut layer = tile::Layer {
            version: 2,
            name: LABELS.to_owned(),
            extent: Some(t::EXTENT),
            ..Default::default()
        };
        let mut tags = TagsBuilder::new();
        for &(li, i, at) in &self.projected(catalog, variant).labels {
            let Some(collection) = catalog.collection(LAYERS[li]) else { continue };
            if !keep(LAYERS[li], collection.feature(i)) {
                continue;
            }
            let Some(mut feature) = encode(id, &Geometry::Point(geo::Point(at))) else { continue };
            let f = collection.feature(i);
            feature.id = Some((li as u64) << 32 | (i as u64 + 1));
            let name = |k: &str| f.properties.get(k).and_then(Value::as_str).map(str::to_owned);
            let props = [
                ("kind", Some(KINDS[li].to_owned())),
                ("id", Some(f.id.clone())),
                ("name_zh", name("name_zh")),
                ("name_en", name("name_en")),
            ];
            for (k, v) in props {
                if let Some(v) = v {
                    let (ki, vi) = tags.insert(k.to_owned(), TileValue::Str(v));
                    feature.tags.extend([ki, vi]);
                }
            }
            layer.features.push(feature);
        }
        if layer.features.is_empty() {
            return None;
        }
        let (keys, values) = tags.into_tags();
        layer.keys = keys;
        layer.values = values.into_iter().map(Into::into).collect();
        Some(layer)
    }
}

/// One geometry (Web Mercator) as an MVT feature of tile `id`, or `None` when nothing of it is in the tile.
fn encode(id: TileId, g: &Geometry<f64>) -> Option<tile::Feature> {
    use geozero::ToMvt;
    let in_tile = |c: geo::Coord<f64>| id.to_tile(c);
    let (lo, hi) = (-t::BUFFER, f64::from(t::EXTENT) + t::BUFFER);
    let geometry: Geometry<f64> = match g {
        Geometry::Point(p) => {
            let c = in_tile(p.0);
            if !(0.0..f64::from(t::EXTENT)).contains(&c.x) || !(0.0..f64::from(t::EXTENT)).contains(&c.y) {
                return None;
            }
            Geometry::Point(geo::Point::new(c.x.floor(), c.y.floor()))
        }
        Geometry::MultiPoint(mp) => {
            let pts: Vec<geo::Point<f64>> = mp
                .iter()
                .map(|p| in_tile(p.0))
                .filter(|c| (lo..hi).contains(&c.x) && (lo..hi).contains(&c.y))
                .map(|c| geo::Point::new(c.x.round(), c.y.round()))
                .collect();
            if pts.is_empty() {
                return None;
            }
            Geometry::MultiPoint(geo::MultiPoint(pts))
        }
        Geometry::LineString(ls) => {
            Geometry::MultiLineString(t::tile_lines(&MultiLineString(vec![ls.map_coords(in_tile)]))?)
        }
        Geometry::MultiLineString(m) => Geometry::MultiLineString(t::tile_lines(&m.map_coords(in_tile))?),
        Geometry::Polygon(_) | Geometry::MultiPolygon(_) => {
            Geometry::MultiPolygon(t::tile_polygon(&multipolygon(g).map_coords(in_tile))?)
        }
        _ => return None,
    };
    let geometry = match geometry {
        Geometry::MultiLineString(m) if m.0.len() == 1 => Geometry::LineString(m.0.into_iter().next()?),
        Geometry::MultiPolygon(m) if m.0.len() == 1 => Geometry::Polygon(m.0.into_iter().next()?),
        other => other,
    };
    geometry.to_mvt_unscaled().ok()
}

fn joined(v: Option<&Value>, sep: &str) -> Option<String> {
    match v {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(sep),
        ),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The properties a map needs to style a feature and fill its popup. MVT values are scalars, so lists are
/// joined into strings.
fn tile_properties(c: &Collection, f: &Feature) -> Vec<(&'static str, TileValue)> {
    let p = &f.properties;
    let mut out: Vec<(&'static str, TileValue)> = Vec::new();
    let mut text = |k: &'static str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push((k, TileValue::Str(v)));
        }
    };
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    text("id", Some(f.id.clone()));
    text("name_zh", s("name_zh"));
    text("name_en", s("name_en"));
    match c.id() {
        id if !LAYERS.contains(&id) => {
            // A planner's layer: its own fields as they are, and where the join put it. A field named like a
            // tag already written (`id`, `name_zh`) would give the tile two values for one key, and readers
            // keep the last: the file's own `id` goes as `id_1` (as in the exports), so `id` stays the
            // feature's id.
            let written: Vec<&str> = out.iter().map(|(k, _)| *k).collect();
            for q in &c.meta.queryables {
                let key = match q.name {
                    "id" if p.get("id").and_then(Value::as_str) == Some(f.id.as_str()) => continue,
                    "id" if written.contains(&"id") => "id_1",
                    k if written.contains(&k) => continue,
                    k => k,
                };
                match p.get(q.name) {
                    Some(Value::String(v)) if !v.is_empty() => out.push((key, TileValue::Str(v.clone()))),
                    Some(Value::Bool(b)) => out.push((key, TileValue::Bool(*b))),
                    Some(Value::Number(n)) => {
                        out.push((
                            key,
                            n.as_i64()
                                .map_or_else(|| TileValue::Double(n.as_f64().unwrap_or(0.0)), TileValue::Int),
                        ));
                    }
                    Some(v @ Value::Array(_)) => {
                        if let Some(j) = joined(Some(v), ",").filter(|j| !j.is_empty()) {
                            out.push((key, TileValue::Str(j)));
                        }
                    }
                    _ => {}
                }
            }
        }
        "regions" => {
            text("kind", s("kind"));
            text("membership_basis", s("membership_basis"));
        }
        "cities" | "counties" => {
            text("parent_adcode", s("parent_adcode"));
            text("city_name_zh", s("city_name_zh"));
            text("region_ids", joined(p.get("region_ids"), ","));
        }
        _ => {
            text("category", s("category"));
            text("sections", joined(p.get("sections"), "; "));
            text("lead_unit", s("lead_unit"));
            text("co_units", joined(p.get("co_units"), "、"));
            text("location_precision", s("location_precision"));
            text("location_source", s("location_source"));
            text("region_ids", joined(p.get("region_ids"), ","));
            text("county_names", joined(p.get("county_names"), "、"));
            text("geometry_type", s("geometry_type"));
            text("stage", s("stage"));
            text("stage_en", s("stage_en"));
            text("progress_period", s("progress_period"));
            let targets: Vec<String> = p
                .get("targets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|t| {
                    let g = |k: &str| {
                        t.get(k)
                            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                            .unwrap_or_default()
                    };
                    format!("{} {} {} {}", g("indicator_zh"), g("comparator"), g("value"), g("unit"))
                })
                .collect();
            text("targets", (!targets.is_empty()).then(|| targets.join("; ")));
        }
    }
    if let Some(n) = p.get("project_count").and_then(Value::as_i64) {
        out.push(("project_count", TileValue::Int(n)));
    }
    out
}
