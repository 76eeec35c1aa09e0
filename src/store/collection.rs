//! A feature collection held in memory with its indexes: by id, and an R-tree over bounding boxes.
//!
//! Every spatial query starts from the R-tree (a conservative longitude/latitude box around the query) and
//! refines the candidates with exact geodesic distances or exact geometric predicates, so no request scans
//! every feature.

use std::collections::HashMap;

use geo::{Coord, Geometry, Intersects, Rect};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
use serde_json::{Map, Value};

use crate::geom::{self, geodesic};

/// One feature: an id, an optional geometry in CRS84 and its properties.
#[derive(Debug, Clone)]
pub struct Feature {
    /// The feature id used in `/items/{featureId}`.
    pub id: String,
    /// The geometry in CRS84 (longitude, latitude); `None` for a non-spatial record.
    pub geometry: Option<Geometry<f64>>,
    /// The properties, in the order they are served.
    pub properties: Map<String, Value>,
    /// The geometry's bounding box, cached.
    pub bbox: Option<Rect<f64>>,
}

impl Feature {
    /// A feature, computing its bounding box.
    pub fn new(
        id: impl Into<String>,
        geometry: Option<Geometry<f64>>,
        properties: Map<String, Value>,
    ) -> Self {
        let bbox = geometry.as_ref().and_then(geom::bounding_rect);
        Self { id: id.into(), geometry, properties, bbox }
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
}

impl PropertyType {
    /// The JSON Schema type name.
    pub fn json_type(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::StringArray => "array",
        }
    }
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

/// A collection of features with its indexes.
#[derive(Debug)]
pub struct Collection {
    /// Id, title, queryables.
    pub meta: CollectionMeta,
    features: Vec<Feature>,
    by_id: HashMap<String, usize>,
    rtree: RTree<IndexEntry>,
    extent: Option<Rect<f64>>,
    /// The extent's approximate area in m², for the first guess of a nearest-neighbour search radius.
    extent_area_m2: f64,
}

fn aabb(rect: &Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y])
}

impl Collection {
    /// Builds the collection and its indexes. Feature ids must be unique (the loaders check it).
    pub fn new(meta: CollectionMeta, features: Vec<Feature>) -> Self {
        let by_id = features.iter().enumerate().map(|(i, f)| (f.id.clone(), i)).collect();
        let entries: Vec<IndexEntry> = features
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.bbox.map(|r| {
                    GeomWithData::new(Rectangle::from_corners(aabb(&r).lower(), aabb(&r).upper()), i)
                })
            })
            .collect();
        let extent =
            features.iter().filter_map(|f| f.bbox).fold(None, |acc, r| Some(geom::union_rect(acc, r)));
        let extent_area_m2 = extent.map_or(1.0, |e| {
            let mid =
                Coord { x: f64::midpoint(e.min().x, e.max().x), y: f64::midpoint(e.min().y, e.max().y) };
            let w = geodesic::distance_m(Coord { x: e.min().x, y: mid.y }, Coord { x: e.max().x, y: mid.y });
            let h = geodesic::distance_m(Coord { x: mid.x, y: e.min().y }, Coord { x: mid.x, y: e.max().y });
            (w * h).max(1.0)
        });
        Self { meta, features, by_id, rtree: RTree::bulk_load(entries), extent, extent_area_m2 }
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
    /// Indexes do not depend on properties, so they stay valid.
    pub fn properties_mut(&mut self, index: usize) -> &mut Map<String, Value> {
        &mut self.features[index].properties
    }

    /// The feature with this id.
    pub fn get(&self, id: &str) -> Option<&Feature> {
        self.by_id.get(id).map(|&i| &self.features[i])
    }

    /// The index of the feature with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
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

    /// Indexes of features whose bounding box intersects `rect`, in load order.
    pub fn bbox_candidates(&self, rect: &Rect<f64>) -> Vec<usize> {
        let mut out: Vec<usize> =
            self.rtree.locate_in_envelope_intersecting(&aabb(rect)).map(|e| e.data).collect();
        out.sort_unstable();
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
        let Some(rect) = geom::bounding_rect(geometry) else { return Vec::new() };
        let search = geodesic::expand_rect_m(rect, radius_m);
        let point = match geometry {
            Geometry::Point(p) => Some(p.0),
            _ => None,
        };
        let bounds = point.map(|p| geodesic::LowerBounds::new(p, search.height() / 2.0 + 0.1));
        let mut out: Vec<(usize, f64)> = self
            .bbox_candidates(&search)
            .into_iter()
            .filter(|&i| {
                // Skip the search box's corners: the lower bound already puts them beyond the radius.
                bounds.as_ref().is_none_or(|lb| {
                    let f = &self.features[i];
                    matches!((&f.geometry, &f.bbox), (Some(g), Some(b)) if lb.geometry(g, b) <= radius_m)
                })
            })
            .filter(|&i| keep(i))
            .filter_map(|i| {
                let g = self.features[i].geometry.as_ref()?;
                let d = match point {
                    Some(p) => geodesic::point_geometry_distance_m(p, g),
                    None => geodesic::geometry_distance_m(geometry, g),
                };
                (d <= radius_m).then_some((i, d))
            })
            .collect();
        sort_by_distance(&mut out);
        out
    }

    /// Every feature within `radius_m` metres of any part of `line` (a corridor), with its distance to the line,
    /// nearest first. Candidates come from one R-tree search per segment of the line (each segment's box grown
    /// by the radius), so a long diagonal corridor does not pull in its whole bounding box.
    pub fn along(
        &self,
        line: &Geometry<f64>,
        radius_m: f64,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(usize, f64)> {
        let mut candidates: Vec<usize> = Vec::new();
        let mut boxes: Vec<Rect<f64>> =
            geom::segments(line).into_iter().map(|l| Rect::new(l.start, l.end)).collect();
        if boxes.is_empty() {
            boxes.extend(geom::bounding_rect(line));
        }
        for b in boxes {
            let search = geodesic::expand_rect_m(b, radius_m);
            candidates.extend(self.rtree.locate_in_envelope_intersecting(&aabb(&search)).map(|e| e.data));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut out: Vec<(usize, f64)> = candidates
            .into_iter()
            .filter(|&i| keep(i))
            .filter_map(|i| {
                let g = self.features[i].geometry.as_ref()?;
                let d = geodesic::geometry_distance_m(line, g);
                (d <= radius_m).then_some((i, d))
            })
            .collect();
        sort_by_distance(&mut out);
        out
    }

    /// The `k` features nearest to `p` (geodesic distance to the nearest point of each geometry), no farther
    /// than `max_distance_m`, nearest first.
    ///
    /// Searches a growing box: every feature within `r` metres has its bounding box inside the conservative
    /// box of radius `r`, so once `k` candidates lie within `r` they are the `k` nearest.
    pub fn nearest(
        &self,
        p: Coord<f64>,
        k: usize,
        max_distance_m: Option<f64>,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(usize, f64)> {
        let Some(extent) = self.extent else { return Vec::new() };
        if k == 0 {
            return Vec::new();
        }
        let limit = max_distance_m.unwrap_or(f64::INFINITY);
        let mut radius = self.initial_radius(k).min(limit);
        // Candidates not yet measured, with a cheap lower bound of their distance.
        let mut pending: Vec<(usize, f64)> = Vec::new();
        // The best `k` measured so far, nearest first.
        let mut best: Vec<(usize, f64)> = Vec::with_capacity(k + 1);
        loop {
            // Each round starts afresh with a doubled radius: rounds are rare and the last one dominates, so
            // this costs less than remembering what earlier rounds saw.
            pending.clear();
            best.clear();
            let search = geodesic::search_rect(p, radius);
            let bounds = geodesic::LowerBounds::new(p, search.height() / 2.0 + 0.1);
            for e in self.rtree.locate_in_envelope_intersecting(&aabb(&search)) {
                let i = e.data;
                if let (Some(bbox), Some(g)) = (self.features[i].bbox, self.features[i].geometry.as_ref()) {
                    pending.push((i, bounds.geometry(g, &bbox)));
                }
            }
            // Measure exactly, in order of the lower bound, only what could still enter the best k.
            pending.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
            while let Some(&(i, lb)) = pending.last() {
                let kth = if best.len() == k { best[k - 1].1 } else { f64::INFINITY };
                if lb > kth.min(limit) {
                    break;
                }
                pending.pop();
                if !keep(i) {
                    continue;
                }
                let Some(g) = self.features[i].geometry.as_ref() else { continue };
                let d = geodesic::point_geometry_distance_m(p, g);
                if d <= limit {
                    let at = best.partition_point(|b| b.1.total_cmp(&d).then(b.0.cmp(&i)).is_lt());
                    best.insert(at, (i, d));
                    best.truncate(k);
                }
            }
            // Every feature within `radius` is a candidate, so once the k-th best is within it, it is final.
            let settled = best.len() == k && best[k - 1].1 <= radius;
            let covers_all = search.min().x <= extent.min().x
                && search.min().y <= extent.min().y
                && search.max().x >= extent.max().x
                && search.max().y >= extent.max().y;
            if settled || radius >= limit || covers_all {
                return best;
            }
            radius = (radius * 2.0).min(limit);
        }
    }

    /// A first search radius that holds about `k` features if they were spread evenly over the extent.
    fn initial_radius(&self, k: usize) -> f64 {
        let n = self.rtree.size().max(1) as f64;
        (1.5 * (k as f64 * self.extent_area_m2 / (std::f64::consts::PI * n)).sqrt()).max(200.0)
    }
}

/// Sorts (index, distance) pairs nearest first, ties by index so results are stable.
pub fn sort_by_distance(pairs: &mut [(usize, f64)]) {
    pairs.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
}
