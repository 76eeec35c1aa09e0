//! A feature collection held in memory with its indexes: by id, and an R-tree over bounding boxes.
//!
//! Every spatial query starts from the R-tree (a conservative longitude/latitude box around the query) and
//! refines the candidates with exact geodesic distances or exact geometric predicates, so no request scans
//! every feature.

use std::borrow::Cow;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use geo::{Coord, Geometry, Intersects, Rect};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
use serde_json::Value;
use serde_json::value::RawValue;

use super::Properties;
use crate::geom::{self, geodesic};

/// One feature: an id, an optional geometry in CRS84 and its properties.
#[derive(Debug, Clone)]
pub struct Feature {
    /// The feature id used in `/items/{featureId}`.
    pub id: String,
    /// The geometry in CRS84 (longitude, latitude); `None` for a non-spatial record.
    pub geometry: Option<Geometry<f64>>,
    /// The properties, in the order they are served.
    pub properties: Properties,
    /// The geometry's bounding box, cached.
    pub bbox: Option<Rect<f64>>,
    /// The CRS84 geometry and the properties as JSON text, made on first use: most answers are GeoJSON in
    /// CRS84, and the data does not change while the server runs, so each feature is serialised once.
    json: JsonCache,
}

/// Serialised parts of a feature (see [`Feature::geometry_json`], [`Feature::properties_json`]).
#[derive(Debug, Clone, Default)]
struct JsonCache {
    geometry: OnceLock<Option<Box<RawValue>>>,
    properties: OnceLock<Box<RawValue>>,
}

/// JSON text of a value that serialises (no maps with non-string keys, no non-finite numbers).
fn raw(value: &impl serde::Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

impl Feature {
    /// A feature, computing its bounding box.
    pub fn new(
        id: impl Into<String>,
        geometry: Option<Geometry<f64>>,
        properties: impl Into<Properties>,
    ) -> Self {
        let bbox = geometry.as_ref().and_then(geom::bounding_rect);
        Self { id: id.into(), geometry, properties: properties.into(), bbox, json: JsonCache::default() }
    }

    /// The geometry as CRS84 GeoJSON text (rounded as [`geom::geojson_in`] rounds): serialised once and kept,
    /// except for a layer's features (rows of shared names, possibly a million), whose text is made when asked.
    pub fn geometry_json(&self) -> Option<Cow<'_, RawValue>> {
        let make = || {
            let g = self.geometry.as_ref()?;
            geom::geojson_in(g, geom::crs::Crs::Crs84).ok().map(|v| raw(&v))
        };
        if self.properties.is_row() {
            return make().map(Cow::Owned);
        }
        self.json.geometry.get_or_init(make).as_deref().map(Cow::Borrowed)
    }

    /// The properties as JSON text: serialised once and kept, except for a layer's features (see
    /// [`Feature::geometry_json`]).
    pub fn properties_json(&self) -> Cow<'_, RawValue> {
        if self.properties.is_row() {
            return Cow::Owned(raw(&self.properties));
        }
        Cow::Borrowed(self.json.properties.get_or_init(|| raw(&self.properties)))
    }

    /// The length of the properties' JSON text when it has been made and kept (see
    /// [`Feature::properties_json`]), for sizing an answer before writing it.
    pub fn kept_properties_json_len(&self) -> Option<usize> {
        self.json.properties.get().map(|r| r.get().len())
    }

    /// The strings of an array property (none when it is absent or not an array).
    pub fn str_list<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.properties.get(name).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    }

    /// A property as a string slice, if it is a string.
    pub fn str_prop(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(Value::as_str)
    }
}

/// The JSON type of a queryable property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    /// A string.
    String,
    /// A number.
    Number,
    /// A whole number.
    Integer,
    /// `true` / `false`.
    Boolean,
    /// An array of strings (multi-valued, e.g. `region_ids`).
    StringArray,
    /// A calendar day, `YYYY-MM-DD` (a layer's date field).
    Date,
    /// An instant, RFC 3339 (a layer's date-time field).
    Timestamp,
    /// The feature's geometry under the name its file gives it (`geom`); spatial functions only.
    Geometry,
}

impl PropertyType {
    /// The JSON Schema type name.
    pub fn json_type(self) -> &'static str {
        match self {
            Self::String | Self::Date | Self::Timestamp => "string",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::StringArray => "array",
            Self::Geometry => "object",
        }
    }

    /// The JSON Schema `format` of a string that holds a time.
    pub fn format(self) -> Option<&'static str> {
        match self {
            Self::Date => Some("date"),
            Self::Timestamp => Some("date-time"),
            _ => None,
        }
    }
}

/// The one copy of `s` kept for the life of the process. Collection and property names of planners' layers
/// are read from their files, while collections describe themselves with `&'static str`; each distinct name
/// is stored once, however often the catalog is rebuilt.
pub fn intern(s: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names =
        NAMES.get_or_init(Mutex::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&known) = names.get(s) {
        return known;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// A property clients may filter and sort on.
#[derive(Debug, Clone)]
pub struct Queryable {
    /// The property name.
    pub name: &'static str,
    /// Its type.
    pub kind: PropertyType,
    /// What it means.
    pub description: &'static str,
}

/// How a collection-specific query parameter filters (e.g. `region`, `section`, `q` on projects).
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// Equality on a property (any element of an array property).
    Eq(&'static str),
    /// A place by adcode or Chinese name: (adcodes property, names property).
    Place(&'static str, &'static str),
    /// A section-number prefix on a property: `四.(四)` matches `四.(四).1`.
    SegmentPrefix(&'static str),
    /// A case-insensitive substring of any of the properties.
    Substring(&'static [&'static str]),
    /// `datetime`: the feature's interval, from a first-day and a last-day property (`YYYY-MM-DD`).
    Interval(&'static str, &'static str),
}

/// A query parameter specific to one collection.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// The parameter name on the wire.
    pub name: &'static str,
    /// How it filters.
    pub kind: ParamKind,
    /// What it means, for the API document and HTML pages.
    pub description: &'static str,
}

/// Static description of a collection.
#[derive(Debug, Clone)]
pub struct CollectionMeta {
    /// The collection id (`counties`).
    pub id: &'static str,
    /// A human title.
    pub title: &'static str,
    /// What is in it and where it comes from.
    pub description: String,
    /// `feature` for spatial collections, `record` for non-spatial ones.
    pub item_type: &'static str,
    /// The properties clients may filter and sort on.
    pub queryables: Vec<Queryable>,
    /// Query parameters specific to this collection, beyond equality on queryables.
    pub params: Vec<ParamSpec>,
}

type IndexEntry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// R-tree node sizes.
#[derive(Debug, Clone, Copy)]
struct IndexParams;

impl rstar::RTreeParams for IndexParams {
    const MIN_SIZE: usize = 4;
    const MAX_SIZE: usize = 12;
    const REINSERTION_COUNT: usize = 3;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

/// What a search found in one collection, in answer order, with each feature's distance where it has one: what
/// a compute job hands back to the handler that writes the answer from the same read model.
/// [`Collection::found`] gives the features back without looking each id up again; read against any other
/// collection it gives nothing.
#[derive(Debug, Default)]
pub struct Found {
    serial: u64,
    rows: Vec<(u32, Option<f64>)>,
}

impl Found {
    /// How many features were found.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Those from `offset` on, at most `limit` of them.
    #[must_use]
    pub fn page(mut self, offset: usize, limit: usize) -> Self {
        self.rows.drain(..offset.min(self.rows.len()));
        self.rows.truncate(limit);
        self
    }
}

/// A collection of features with its indexes.
#[derive(Debug)]
pub struct Collection {
    /// Id, title, queryables.
    pub meta: CollectionMeta,
    features: Vec<Feature>,
    /// Feature positions sorted by feature id (4 bytes a feature, no copy of the ids).
    by_id: Vec<u32>,
    rtree: RTree<IndexEntry, IndexParams>,
    extent: Option<Rect<f64>>,
    /// Every property name any feature carries, in first-seen order; made on first use.
    property_names: OnceLock<Vec<String>>,
    /// The features with no geometry (no box), in load order: a `bbox` matches them too (OGC API –
    /// Features Part 1, `/req/core/fc-bbox-response` C).
    unlocated: Vec<usize>,
    /// This collection's number among every collection built in the process.
    serial: u64,
    /// See [`Collection::fingerprint`]; made on first use.
    fingerprint: OnceLock<u128>,
}

/// Collections with more features than this are fingerprinted by identity, not content.
const CONTENT_FINGERPRINT_MAX: usize = 20_000;

/// A number for each collection built in the process (see [`Collection::fingerprint`]).
fn next_serial() -> u64 {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Clone for Collection {
    /// A copy is another collection: its own serial, its fingerprint made again on first use.
    fn clone(&self) -> Self {
        Self {
            meta: self.meta.clone(),
            features: self.features.clone(),
            by_id: self.by_id.clone(),
            rtree: self.rtree.clone(),
            extent: self.extent,
            property_names: self.property_names.clone(),
            unlocated: self.unlocated.clone(),
            serial: next_serial(),
            fingerprint: OnceLock::new(),
        }
    }
}

fn aabb(rect: &Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y])
}

impl Collection {
    /// Builds the collection and its indexes. Feature ids must be unique (the loaders check it).
    /// The id index (a sort) and the R-tree are built at the same time, on two threads.
    pub fn new(meta: CollectionMeta, features: Vec<Feature>) -> Self {
        let by_id = || {
            use rayon::slice::ParallelSliceMut;
            let mut by_id: Vec<u32> = (0..features.len() as u32).collect();
            by_id.par_sort_unstable_by(|&a, &b| features[a as usize].id.cmp(&features[b as usize].id));
            by_id
        };
        let rtree = || {
            let entries: Vec<IndexEntry> = features
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    // Each box holds the geometry's geodesic edges, not only its vertices.
                    let r = geodesic::reach_rect(f.geometry.as_ref()?, f.bbox?);
                    Some(GeomWithData::new(Rectangle::from_corners(aabb(&r).lower(), aabb(&r).upper()), i))
                })
                .collect();
            RTree::bulk_load_with_params(entries)
        };
        let (by_id, rtree) = rayon::join(by_id, rtree);
        let unlocated =
            features.iter().enumerate().filter(|(_, f)| f.bbox.is_none()).map(|(i, _)| i).collect();
        let extent =
            features.iter().filter_map(|f| f.bbox).fold(None, |acc, r| Some(geom::union_rect(acc, r)));
        Self {
            meta,
            features,
            by_id,
            rtree,
            extent,
            property_names: OnceLock::new(),
            unlocated,
            serial: next_serial(),
            fingerprint: OnceLock::new(),
        }
    }

    /// A 128-bit hash of what the collection's answers show: its title and description, and each feature's
    /// id, properties and coordinates. Two builds of the same data have the same fingerprint, so a rebuild
    /// after a write that did not touch this collection leaves its cached answers valid. A collection of more
    /// than 20 000 features (a planner's large layer, built once and shared from model to model) is known by
    /// its identity instead: hashing it would cost every write a pass over it.
    pub fn fingerprint(&self) -> u128 {
        *self.fingerprint.get_or_init(|| {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            let mut part = |bytes: &[u8]| {
                h.update(&(bytes.len() as u64).to_le_bytes());
                h.update(bytes);
            };
            part(self.meta.id.as_bytes());
            if self.features.len() > CONTENT_FINGERPRINT_MAX {
                part(b"identity");
                part(&self.serial.to_le_bytes());
                return h.digest128();
            }
            part(self.meta.title.as_bytes());
            part(self.meta.description.as_bytes());
            part(self.meta.item_type.as_bytes());
            for q in &self.meta.queryables {
                part(q.name.as_bytes());
                part(format!("{:?}", q.kind).as_bytes());
                part(q.description.as_bytes());
            }
            for spec in &self.meta.params {
                part(spec.name.as_bytes());
                part(format!("{:?}", spec.kind).as_bytes());
            }
            for f in &self.features {
                part(f.id.as_bytes());
                part(f.properties_json().get().as_bytes());
                // WKB: the geometry's kind, structure and coordinates' bits.
                let shape = f.geometry.as_ref().and_then(|g| {
                    use geozero::ToWkb as _;
                    g.to_wkb(geozero::CoordDimensions::xy()).ok()
                });
                part(shape.as_deref().unwrap_or_default());
            }
            h.digest128()
        })
    }

    /// Indexes of the features with no geometry, in load order.
    pub fn unlocated(&self) -> &[usize] {
        &self.unlocated
    }

    /// The collection id.
    pub fn id(&self) -> &'static str {
        self.meta.id
    }

    /// Every feature, in load order.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The feature at `index`.
    pub fn feature(&self, index: usize) -> &Feature {
        &self.features[index]
    }

    /// The properties of the feature at `index`, to add what is learnt after loading (joins, counts).
    /// Indexes do not depend on properties, so they stay valid; what is derived from properties (their JSON
    /// text, the collection's property names) is made again on next use.
    pub fn properties_mut(&mut self, index: usize) -> &mut Properties {
        self.property_names = OnceLock::new();
        self.fingerprint = OnceLock::new();
        let feature = &mut self.features[index];
        feature.json.properties = OnceLock::new();
        &mut feature.properties
    }

    /// Every property name any feature of the collection carries, in first-seen order. A layer's features
    /// that share their columns and joined set share their names, which are read once.
    pub fn property_names(&self) -> &[String] {
        self.property_names.get_or_init(|| {
            let mut seen = std::collections::HashSet::new();
            let mut shapes = std::collections::HashSet::new();
            let mut names: Vec<String> = Vec::new();
            for f in &self.features {
                if f.properties.names_key().is_some_and(|key| !shapes.insert(key)) {
                    continue;
                }
                for k in f.properties.keys() {
                    if seen.insert(k) {
                        names.push(k.to_owned());
                    }
                }
            }
            names
        })
    }

    /// The feature with this id.
    pub fn get(&self, id: &str) -> Option<&Feature> {
        self.index_of(id).map(|i| &self.features[i])
    }

    /// The index of the feature with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        let at = self.by_id.binary_search_by(|&i| self.features[i as usize].id.as_str().cmp(id)).ok()?;
        Some(self.by_id[at] as usize)
    }

    /// The box around every geometry, `None` if the collection has none.
    pub fn extent(&self) -> Option<Rect<f64>> {
        self.extent
    }

    /// Whether features have geometries.
    pub fn is_spatial(&self) -> bool {
        self.meta.item_type == "feature"
    }

    /// The queryable named `name`.
    pub fn queryable(&self, name: &str) -> Option<&Queryable> {
        self.meta.queryables.iter().find(|q| q.name == name)
    }

    /// The features matching `query` and `keep`, in load order: what the routes get (features, not
    /// positions).
    pub fn features_matching(
        &self,
        query: &super::ItemsQuery,
        keep: impl Fn(&Feature) -> bool,
    ) -> Vec<&Feature> {
        self.select(query, |i| keep(&self.features[i])).into_iter().map(|i| &self.features[i]).collect()
    }

    /// The features of `found`, with their distances, in its order.
    pub fn found<'a>(&'a self, found: &'a Found) -> impl Iterator<Item = (&'a Feature, Option<f64>)> + 'a {
        let mine = found.serial == self.serial;
        if !mine {
            tracing::error!(
                collection = self.id(),
                "features found in another collection were asked of this one"
            );
        }
        found
            .rows
            .iter()
            .filter(move |_| mine)
            .filter_map(|&(i, d)| Some((self.features.get(i as usize)?, d)))
    }

    /// What [`Collection::found`] reads back: positions in this collection.
    fn found_of(&self, rows: impl IntoIterator<Item = (usize, Option<f64>)>) -> Found {
        Found { serial: self.serial, rows: rows.into_iter().map(|(i, d)| (i as u32, d)).collect() }
    }

    /// The features intersecting `geometry` and kept by `keep`, in load order.
    pub fn features_intersecting(&self, geometry: &Geometry<f64>, keep: impl Fn(&Feature) -> bool) -> Found {
        self.found_of(self.intersecting(geometry, |i| keep(&self.features[i])).into_iter().map(|i| (i, None)))
    }

    /// The `first` features within `radius_m` of `geometry` with their distances, nearest first, and how many
    /// there are (see [`Collection::within_distance_first`]).
    pub fn features_within_first(
        &self,
        geometry: &Geometry<f64>,
        radius_m: f64,
        keep: impl Fn(&Feature) -> bool,
        first: usize,
    ) -> (Found, usize) {
        let (rows, matched) =
            self.within_distance_first(geometry, radius_m, |i| keep(&self.features[i]), first);
        (self.found_of(rows.into_iter().map(|(i, d)| (i, Some(d)))), matched)
    }

    /// The features within `radius_m` of a corridor with their distances, nearest first.
    pub fn features_along(
        &self,
        line: &Geometry<f64>,
        radius_m: f64,
        keep: impl Fn(&Feature) -> bool,
    ) -> Found {
        self.found_of(
            self.along(line, radius_m, |i| keep(&self.features[i])).into_iter().map(|(i, d)| (i, Some(d))),
        )
    }

    /// The `k` features nearest to `p` with their distances.
    pub fn nearest_features(
        &self,
        p: Coord<f64>,
        k: usize,
        max_distance_m: Option<f64>,
        keep: impl Fn(&Feature) -> bool,
    ) -> Found {
        self.found_of(
            self.nearest(p, k, max_distance_m, |i| keep(&self.features[i]))
                .into_iter()
                .map(|(i, d)| (i, Some(d))),
        )
    }

    /// Indexes of features whose bounding box intersects `rect`, in load order. A box reaching past ±180° (one
    /// grown around a point near the antimeridian) covers the other side's longitudes too, stored 360° away.
    pub fn bbox_candidates(&self, rect: &Rect<f64>) -> Vec<usize> {
        self.located(rect, |e| e.data, |i| *i)
    }

    /// [`Collection::bbox_candidates`] with each one's box in the index: its reach
    /// ([`geodesic::reach_rect`]), which holds its geodesic edges.
    pub fn reach_candidates(&self, rect: &Rect<f64>) -> Vec<(usize, Rect<f64>)> {
        let entry = |e: &IndexEntry| {
            (e.data, Rect::new(Coord::from(e.geom().lower()), Coord::from(e.geom().upper())))
        };
        self.located(rect, entry, |e| e.0)
    }

    /// What `each` makes of the index entries meeting `rect` (and its twins a turn east and west), one per
    /// feature, in load order.
    fn located<T>(
        &self,
        rect: &Rect<f64>,
        each: impl Fn(&IndexEntry) -> T + Copy,
        index: impl Fn(&T) -> usize + Copy,
    ) -> Vec<T> {
        let mut out: Vec<T> = self.rtree.locate_in_envelope_intersecting(&aabb(rect)).map(each).collect();
        for shift in [-360.0, 360.0] {
            let (lo, hi) = (rect.min().x + shift, rect.max().x + shift);
            if hi >= -180.0 && lo <= 180.0 {
                let shifted = Rect::new(Coord { x: lo, y: rect.min().y }, Coord { x: hi, y: rect.max().y });
                out.extend(self.rtree.locate_in_envelope_intersecting(&aabb(&shifted)).map(each));
            }
        }
        out.sort_unstable_by_key(index);
        out.dedup_by_key(|e| index(e));
        out
    }

    /// Indexes of features whose geometry intersects `rect`, in load order.
    pub fn intersecting_bbox(&self, rect: &Rect<f64>) -> Vec<usize> {
        let poly = rect.to_polygon();
        self.bbox_candidates(rect)
            .into_iter()
            .filter(|&i| self.features[i].geometry.as_ref().is_some_and(|g| g.intersects(&poly)))
            .collect()
    }

    /// Indexes of features whose geometry intersects `geometry`, in load order.
    pub fn intersecting(&self, geometry: &Geometry<f64>, keep: impl Fn(usize) -> bool) -> Vec<usize> {
        let Some(rect) = geom::bounding_rect(geometry) else { return Vec::new() };
        self.bbox_candidates(&rect)
            .into_iter()
            .take_while(|_| !crate::compute::spent())
            .filter(|&i| {
                keep(i) && self.features[i].geometry.as_ref().is_some_and(|g| g.intersects(geometry))
            })
            .collect()
    }

    /// Every feature within `radius_m` metres (geodesic, to the nearest point) of `geometry`, with its distance,
    /// nearest first (ties by load order).
    pub fn within_distance(
        &self,
        geometry: &Geometry<f64>,
        radius_m: f64,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(usize, f64)> {
        let Some(rect) = geodesic::reach_of(geometry) else { return Vec::new() };
        let search = geodesic::expand_rect_m(rect, radius_m);
        let point = match geometry {
            Geometry::Point(p) => Some(p.0),
            _ => None,
        };
        let bounds = point.map(|p| geodesic::LowerBounds::new(p, search.height() / 2.0 + 0.1));
        let mut from = point.map(geodesic::DistancesFrom::new);
        let from_geometry = geodesic::GeometryDistances::new(geometry);
        let mut out: Vec<(usize, f64)> = self
            .reach_candidates(&search)
            .into_iter()
            .take_while(|_| !crate::compute::spent())
            .filter(|(i, reach)| {
                // Skip the search box's corners: the lower bound already puts them beyond the radius.
                bounds.as_ref().is_none_or(|lb| {
                    self.features[*i].geometry.as_ref().is_some_and(|g| lb.geometry(g, reach) <= radius_m)
                })
            })
            .map(|(i, _)| i)
            .filter(|&i| keep(i))
            .filter_map(|i| {
                let g = self.features[i].geometry.as_ref()?;
                let d = match from.as_mut() {
                    Some(from) => from.to(g),
                    None => from_geometry.to(g),
                };
                (d <= radius_m).then_some((i, d))
            })
            .collect();
        sort_by_distance(&mut out);
        out
    }

    /// [`Collection::within_distance`] when only the `first` nearest are wanted (with their distances, nearest
    /// first, ties by load order), and how many there are in all. A point feature's flat bracket
    /// ([`geodesic::flat_bracket_m`]) settles most candidates of a point query without Karney's measure: wholly
    /// inside the radius or wholly outside it, and, inside, too far to be among the first. Only the others are
    /// measured exactly, so counting hundreds of points within a few kilometres costs little more than the page.
    pub fn within_distance_first(
        &self,
        geometry: &Geometry<f64>,
        radius_m: f64,
        keep: impl Fn(usize) -> bool,
        first: usize,
    ) -> (Vec<(usize, f64)>, usize) {
        let Geometry::Point(p) = geometry else {
            let all = self.within_distance(geometry, radius_m, keep);
            let matched = all.len();
            return (all.into_iter().take(first).collect(), matched);
        };
        let p = p.0;
        let search = geodesic::search_rect(p, radius_m);
        let bounds = geodesic::LowerBounds::new(p, search.height() / 2.0 + 0.1);
        let mut from = geodesic::DistancesFrom::new(p);
        // Measured and inside; inside by their bracket alone (index, low bound).
        let mut measured: Vec<(usize, f64)> = Vec::new();
        let mut settled: Vec<(usize, f64)> = Vec::new();
        for (i, reach) in self.reach_candidates(&search) {
            if crate::compute::spent() {
                break;
            }
            let Some(g) = &self.features[i].geometry else { continue };
            if bounds.geometry(g, &reach) > radius_m || !keep(i) {
                continue;
            }
            if let Geometry::Point(q) = g
                && let Some((lo, hi)) = geodesic::flat_bracket_m(p, q.0)
            {
                if lo > radius_m {
                    continue;
                }
                if hi <= radius_m {
                    settled.push((i, lo));
                    continue;
                }
            }
            let d = from.to(g);
            if d <= radius_m {
                measured.push((i, d));
            }
        }
        let matched = measured.len() + settled.len();
        if first == 0 {
            return (Vec::new(), matched);
        }
        sort_by_distance(&mut measured);
        measured.truncate(first);
        // The settled ones in order of their low bound: measure each until the next cannot reach the page.
        sort_by_distance(&mut settled);
        for (i, lo) in settled {
            if measured.len() >= first && lo > measured[first - 1].1 {
                break;
            }
            let Some(g) = &self.features[i].geometry else { continue };
            let d = from.to(g);
            let at = measured.partition_point(|m| m.1.total_cmp(&d).then(m.0.cmp(&i)).is_lt());
            measured.insert(at, (i, d));
            measured.truncate(first);
        }
        (measured, matched)
    }

    /// Every feature within `radius_m` metres of any part of `line` (a corridor, or any geometry), with its
    /// distance to it, nearest first. Candidates come from one R-tree search per segment of a line (each
    /// segment's reach grown by the radius), so a long diagonal corridor does not pull in its whole bounding
    /// box; per point for points, and per polygon's whole box for polygons, whose inside is at distance 0.
    pub fn along(
        &self,
        line: &Geometry<f64>,
        radius_m: f64,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(usize, f64)> {
        let mut candidates: Vec<usize> = Vec::new();
        for b in geodesic::reach_boxes(line) {
            let search = geodesic::expand_rect_m(b, radius_m);
            // Through the index's twins a turn east and west, for a corridor by the antimeridian.
            candidates.extend(self.bbox_candidates(&search));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let from = geodesic::GeometryDistances::new(line);
        let mut out: Vec<(usize, f64)> = candidates
            .into_iter()
            .take_while(|_| !crate::compute::spent())
            .filter(|&i| keep(i))
            .filter_map(|i| {
                let g = self.features[i].geometry.as_ref()?;
                let d = from.to(g);
                (d <= radius_m).then_some((i, d))
            })
            .collect();
        sort_by_distance(&mut out);
        out
    }

    /// The `k` features nearest to `p` (geodesic distance to the nearest point of each geometry), no farther
    /// than `max_distance_m`, nearest first (ties by load order).
    ///
    /// A best-first walk of the R-tree: nodes, boxes and geometries wait in one queue ordered by a lower bound
    /// of their geodesic distance, and the walk stops when the next bound exceeds the k-th distance found. Nodes
    /// enter the queue with the quick planar bound and get the tight one (Lambert's, beyond 50 km) only if they
    /// reach its front, so the many nodes far from an inland query cost no trigonometry. Its cost follows the
    /// number of nodes near the answer, not the distance to it, so a query point far from the data (offshore,
    /// outside the province) costs about what an inland one does.
    pub fn nearest(
        &self,
        p: Coord<f64>,
        k: usize,
        max_distance_m: Option<f64>,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(usize, f64)> {
        if k == 0 || self.rtree.size() == 0 {
            return Vec::new();
        }
        let limit = max_distance_m.unwrap_or(f64::INFINITY);
        // The planar bounds take the parallel 2° poleward of the query: they hold for anything within 2° of
        // latitude's travel (221 km), and beyond it give way to the sphere's and Lambert's (see `LowerBounds`).
        let bounds = geodesic::LowerBounds::new(p, 2.0);
        let mut from = geodesic::DistancesFrom::new(p);
        let envelope_rect = |e: &AABB<[f64; 2]>| Rect::new(Coord::from(e.lower()), Coord::from(e.upper()));
        let mut queue: BinaryHeap<Queued<'_>> = BinaryHeap::new();
        let root = self.rtree.root();
        let (bound, tight) = bounds.quick(&envelope_rect(&root.envelope()));
        queue.push(Queued { bound, item: Item::Node(root, tight) });
        // The best `k` measured so far, nearest first.
        let mut best: Vec<(usize, f64)> = Vec::with_capacity(k + 1);
        let mut steps = 0u32;
        while let Some(next) = queue.pop() {
            // The clock is read every eighth step, not every step: a step measures one geometry at most, so the
            // deadline is overshot by seven of them at most.
            steps = steps.wrapping_add(1);
            if steps % 8 == 1 && crate::compute::spent() {
                break;
            }
            let kth = if best.len() == k { best[k - 1].1 } else { f64::INFINITY };
            if next.bound > kth.min(limit) {
                break;
            }
            match next.item {
                // Known by its quick bound only: work out the tight one now that it has reached the front.
                Item::Node(node, false) => {
                    let bound = bounds.rect(&envelope_rect(&node.envelope()));
                    if bound <= kth.min(limit) {
                        queue.push(Queued { bound, item: Item::Node(node, true) });
                    }
                }
                Item::Node(node, true) => {
                    for child in node.children() {
                        let (bound, item) = match child {
                            rstar::RTreeNode::Parent(n) => {
                                let (bound, tight) = bounds.quick(&envelope_rect(&n.envelope()));
                                (bound, Item::Node(n, tight))
                            }
                            // A feature waits with its box's quick bound; its geometry's own bound is worked
                            // out when it reaches the front.
                            rstar::RTreeNode::Leaf(e) => {
                                let bbox =
                                    Rect::new(Coord::from(e.geom().lower()), Coord::from(e.geom().upper()));
                                (bounds.quick(&bbox).0, Item::Boxed(e.data, bbox))
                            }
                        };
                        if bound <= kth.min(limit) {
                            queue.push(Queued { bound, item });
                        }
                    }
                }
                // From the box alone; measure the geometry's tighter bound only when it is kept.
                Item::Boxed(i, bbox) => {
                    let feature = &self.features[i];
                    if let Some(g) = feature.geometry.as_ref()
                        && keep(i)
                    {
                        queue.push(Queued { bound: bounds.geometry(g, &bbox), item: Item::Refined(i) });
                    }
                }
                Item::Refined(i) => {
                    let Some(g) = self.features[i].geometry.as_ref() else { continue };
                    let d = from.to(g);
                    if d <= limit {
                        let at = best.partition_point(|b| b.1.total_cmp(&d).then(b.0.cmp(&i)).is_lt());
                        best.insert(at, (i, d));
                        best.truncate(k);
                    }
                }
            }
        }
        best
    }
}

/// What waits in the nearest-neighbour queue: an R-tree node, a feature known by its box, or a feature known
/// by its geometry's bound.
enum Item<'a> {
    /// A node, and whether its bound is the tight one ([`geodesic::LowerBounds::rect`]) or only the quick one.
    Node(&'a rstar::ParentNode<IndexEntry>, bool),
    /// A feature and its box in the index (its reach, see [`geodesic::reach_rect`]).
    Boxed(usize, Rect<f64>),
    Refined(usize),
}

/// A queue entry: a lower bound of its distance, and what it is.
struct Queued<'a> {
    bound: f64,
    item: Item<'a>,
}

impl Queued<'_> {
    /// Ties: features before nodes, then by load order, so equal distances resolve to the first feature.
    fn tie(&self) -> (u8, usize) {
        match self.item {
            Item::Refined(i) => (0, i),
            Item::Boxed(i, _) => (1, i),
            Item::Node(..) => (2, 0),
        }
    }
}

impl PartialEq for Queued<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Queued<'_> {}

impl PartialOrd for Queued<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued<'_> {
    /// Reversed, so that `BinaryHeap` pops the smallest bound first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.bound.total_cmp(&self.bound).then_with(|| other.tie().cmp(&self.tie()))
    }
}

/// Sorts (index, distance) pairs nearest first, ties by index so results are stable.
pub fn sort_by_distance(pairs: &mut [(usize, f64)]) {
    pairs.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
}

#[cfg(test)]
mod tests {
    use geo::{LineString, Point, Polygon};
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;
    use serde_json::Map;

    use super::*;

    fn meta() -> CollectionMeta {
        CollectionMeta {
            id: "t",
            title: "t",
            description: String::new(),
            item_type: "feature",
            queryables: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Points, short lines and small triangles over Liaoning, from a seed.
    fn geometry() -> impl Strategy<Value = Geometry<f64>> {
        let coord = (119.0..125.5f64, 38.8..43.4f64).prop_map(|(x, y)| Coord { x, y });
        let step = (-0.05..0.05f64, -0.05..0.05f64);
        prop_oneof![
            coord.clone().prop_map(|c| Geometry::Point(Point(c))),
            (coord.clone(), prop::collection::vec(step.clone(), 1..4)).prop_map(|(c, steps)| {
                let mut coords = vec![c];
                for (dx, dy) in steps {
                    let last = coords[coords.len() - 1];
                    coords.push(Coord { x: last.x + dx, y: last.y + dy });
                }
                Geometry::LineString(LineString(coords))
            }),
            (coord, step.clone(), step).prop_map(|(c, (ax, ay), (bx, by))| {
                let ring = vec![c, Coord { x: c.x + ax, y: c.y + ay }, Coord { x: c.x + bx, y: c.y + by }, c];
                Geometry::Polygon(Polygon::new(LineString(ring), Vec::new()))
            }),
        ]
    }

    /// The geometries followed by copies of some of them: features that share a location, as the plan's
    /// projects placed at their county's seat do.
    fn with_copies(mut geometries: Vec<Geometry<f64>>, copies: &[prop::sample::Index]) -> Vec<Geometry<f64>> {
        let picked: Vec<Geometry<f64>> =
            copies.iter().map(|c| geometries[c.index(geometries.len())].clone()).collect();
        geometries.extend(picked);
        geometries
    }

    /// Features with these geometries, numbered from 0.
    fn numbered(geometries: Vec<Geometry<f64>>) -> Vec<Feature> {
        geometries
            .into_iter()
            .enumerate()
            .map(|(i, g)| Feature::new(i.to_string(), Some(g), Map::new()))
            .collect()
    }

    /// The `k` nearest kept features within `limit`, by measuring every one.
    fn full_scan(
        features: &[Feature],
        p: Coord<f64>,
        k: usize,
        limit: Option<f64>,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(usize, f64)> {
        let mut all: Vec<(usize, f64)> = features
            .iter()
            .enumerate()
            .filter(|&(i, _)| keep(i))
            .filter_map(|(i, f)| f.geometry.as_ref().map(|g| (i, geodesic::point_geometry_distance_m(p, g))))
            .filter(|&(_, d)| limit.is_none_or(|l| d <= l))
            .collect();
        sort_by_distance(&mut all);
        all.truncate(k);
        all
    }

    #[test]
    fn properties_changed_after_loading_show_in_their_json_and_names() {
        let point = Geometry::Point(Point(Coord { x: 122.0, y: 41.0 }));
        let mut c = Collection::new(meta(), vec![Feature::new("a", Some(point), Map::new())]);
        assert_eq!(c.feature(0).properties_json().get(), "{}");
        assert_eq!(
            c.feature(0).geometry_json().unwrap().get(),
            r#"{"type":"Point","coordinates":[122.0,41.0]}"#
        );
        assert!(c.property_names().is_empty());
        c.properties_mut(0).insert("project_count".into(), 3.into());
        assert_eq!(c.feature(0).properties_json().get(), r#"{"project_count":3}"#);
        assert_eq!(c.property_names(), ["project_count"]);
    }

    proptest! {
        // Failing seeds go to `collection.proptest-regressions` beside this file, replayed on every run.
        #![proptest_config(ProptestConfig {
            cases: 64,
            failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
            ..ProptestConfig::default()
        })]

        /// The index search returns what a full geodesic scan returns: same distances, same order, same ids
        /// (ties by index), with a filter, a distance limit and features sharing a location.
        #[test]
        fn nearest_equals_a_full_scan(
            geometries in prop::collection::vec(geometry(), 1..400),
            copies in prop::collection::vec(any::<prop::sample::Index>(), 0..100),
            p in (118.5..126.0f64, 38.5..43.7f64),
            k in 1usize..12,
            limit in prop::option::of(1_000.0..200_000.0f64),
            skip_every in 2usize..7,
        ) {
            let features = numbered(with_copies(geometries, &copies));
            let p = Coord { x: p.0, y: p.1 };
            let keep = |i: usize| !i.is_multiple_of(skip_every);
            let expected = full_scan(&features, p, k, limit, keep);
            let collection = Collection::new(meta(), features);
            prop_assert_eq!(collection.nearest(p, k, limit, keep), expected);
        }

        /// From far away (over China and the seas, up to 2 500 km off), where points are set aside on Lambert's
        /// bracket, the search still returns what the full scan returns.
        #[test]
        fn nearest_from_far_away_equals_a_full_scan(
            geometries in prop::collection::vec(geometry(), 1..400),
            p in (95.0..140.0f64, 18.0..55.0f64),
            k in 1usize..12,
        ) {
            let features = numbered(geometries);
            let p = Coord { x: p.0, y: p.1 };
            let expected = full_scan(&features, p, k, None, |_| true);
            let collection = Collection::new(meta(), features);
            prop_assert_eq!(collection.nearest(p, k, None, |_| true), expected);
        }

        /// The first page of a within-distance query and its count are those of the full, all-measured answer.
        #[test]
        fn the_first_within_a_distance_are_those_of_the_full_answer(
            geometries in prop::collection::vec(geometry(), 1..400),
            copies in prop::collection::vec(any::<prop::sample::Index>(), 0..100),
            p in (118.5..126.0f64, 38.5..43.7f64),
            radius in 100.0..150_000.0f64,
            first in 1usize..30,
            skip_every in 2usize..7,
        ) {
            let features = numbered(with_copies(geometries, &copies));
            let collection = Collection::new(meta(), features);
            let point = Geometry::Point(Point(Coord { x: p.0, y: p.1 }));
            let keep = |i: usize| !i.is_multiple_of(skip_every);
            let all = collection.within_distance(&point, radius, keep);
            let (page, matched) = collection.within_distance_first(&point, radius, keep, first);
            prop_assert_eq!(matched, all.len());
            prop_assert_eq!(page, all.into_iter().take(first).collect::<Vec<_>>());
        }
    }
}
