//! The catalog: every collection, loaded once at start-up, and the look-ups that span collections.

use std::time::Instant;

use geo::indexed::IntervalTreeMultiPolygon;
use geo::{Contains, Coord, Intersects, Point};

use super::admin;
use super::collection::Collection;
use super::source::{DataSource, LoadError};
use crate::domain::RegionDef;

/// Where a point lies: its county, city and every region containing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Index into the counties collection.
    pub county: usize,
    /// Index into the cities collection.
    pub city: usize,
    /// Indexes into the regions collection, in region order.
    pub regions: Vec<usize>,
}

/// Timings of the start-up steps, in milliseconds, for the log and the landing page.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Reading, validating and dissolving the boundaries and regions.
    pub admin_ms: f64,
    /// Everything.
    pub total_ms: f64,
}

/// Every collection the service serves, with the indexes queries need.
pub struct Catalog {
    collections: Vec<Collection>,
    county_index: Vec<IntervalTreeMultiPolygon<f64>>,
    region_defs: Vec<RegionDef>,
    source: DataSource,
    report: LoadReport,
}

/// Position of each collection in [`Catalog::collections`].
const REGIONS: usize = 0;
const CITIES: usize = 1;
const COUNTIES: usize = 2;

impl Catalog {
    /// Loads and validates every file, dissolves the regions and builds the indexes.
    pub fn load(source: DataSource) -> Result<Self, LoadError> {
        let start = Instant::now();
        let admin = admin::load(&source)?;
        let admin_ms = start.elapsed().as_secs_f64() * 1e3;
        let collections = vec![admin.regions, admin.cities, admin.counties];
        let report = LoadReport { admin_ms, total_ms: start.elapsed().as_secs_f64() * 1e3 };
        Ok(Self {
            collections,
            county_index: admin.county_index,
            region_defs: admin.region_defs,
            source,
            report,
        })
    }

    /// Every collection, in the order they are listed.
    pub fn collections(&self) -> &[Collection] {
        &self.collections
    }

    /// The collection with this id.
    pub fn collection(&self, id: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.id() == id)
    }

    /// The regions collection.
    pub fn regions(&self) -> &Collection {
        &self.collections[REGIONS]
    }

    /// The cities collection.
    pub fn cities(&self) -> &Collection {
        &self.collections[CITIES]
    }

    /// The counties collection.
    pub fn counties(&self) -> &Collection {
        &self.collections[COUNTIES]
    }

    /// The region definitions as read from `regions.toml`.
    pub fn region_defs(&self) -> &[RegionDef] {
        &self.region_defs
    }

    /// Where the data came from.
    pub fn source(&self) -> &DataSource {
        &self.source
    }

    /// How long loading took.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// The county containing `p` (CRS84), from the R-tree and each county's interval tree. A point exactly on
    /// a shared border goes to the first county (by adcode order) whose boundary touches it.
    pub fn county_at(&self, p: Coord<f64>) -> Option<usize> {
        let counties = self.counties();
        let rect = geo::Rect::new(p, p);
        let candidates = counties.bbox_candidates(&rect);
        candidates.iter().copied().find(|&i| self.county_index[i].contains(&Point(p))).or_else(|| {
            candidates
                .into_iter()
                .find(|&i| counties.feature(i).geometry.as_ref().is_some_and(|g| g.intersects(&Point(p))))
        })
    }

    /// The county, city and regions containing `p`; `None` outside Liaoning.
    pub fn locate(&self, p: Coord<f64>) -> Option<Location> {
        let county = self.county_at(p)?;
        let county_feature = self.counties().feature(county);
        let parent = county_feature.str_prop("parent_adcode")?;
        let city = self.cities().index_of(parent)?;
        let regions = county_feature
            .properties
            .get("region_ids")
            .and_then(|v| v.as_array())
            .map(|ids| {
                ids.iter().filter_map(|id| id.as_str().and_then(|id| self.regions().index_of(id))).collect()
            })
            .unwrap_or_default();
        Some(Location { county, city, regions })
    }
}
