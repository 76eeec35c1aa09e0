//! The catalog: every collection, loaded once at start-up, and the look-ups that span collections.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use geo::{Coord, Intersects};
use serde_json::{Map, Value, json};

use super::admin;
use super::collection::{Collection, CollectionMeta, Feature, ParamKind, ParamSpec, PropertyType, Queryable};
use super::progress;
use super::projects::{self, PlanItem};
use super::props::Properties;
use super::report::{self, Report};
use super::source::{DataSource, LoadError};
use crate::domain::RegionDef;
use crate::domain::project::{CATEGORIES, region_of_part};
use chrono::NaiveDate;

/// Where a point lies: its county, city and every region containing it.
#[derive(Debug, Clone)]
pub struct Location<'a> {
    /// The county.
    pub county: &'a Feature,
    /// Its city.
    pub city: &'a Feature,
    /// The regions containing it, in region order.
    pub regions: Vec<&'a Feature>,
}

/// A named area a query can be confined to: a region, a city or a county.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    /// A plan region, by id.
    Region(String),
    /// A city, by adcode.
    City(String),
    /// A county, by adcode, with its city's adcode.
    County {
        /// The county's adcode.
        adcode: String,
        /// Its city's adcode.
        city: String,
        /// Also the city-wide items of its city (precision `city`: in the city, county not known).
        city_wide: bool,
    },
    /// One feature of a collection with geometries (`zones:kfq-01`, a planner's layer): features whose
    /// geometry meets it.
    Feature {
        /// The collection.
        collection: String,
        /// The feature.
        id: String,
    },
}

/// Timings of the start-up steps, in milliseconds, for the log and the landing page.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Reading, validating and dissolving the boundaries and regions.
    pub admin_ms: f64,
    /// Reading, validating and joining the projects and targets.
    pub projects_ms: f64,
    /// Everything.
    pub total_ms: f64,
}

/// Every collection the service serves, with the indexes queries need.
pub struct Catalog {
    collections: Vec<Arc<Collection>>,
    county_index: std::sync::Arc<admin::CountyIndex>,
    region_defs: Vec<RegionDef>,
    report: Report,
    source: DataSource,
    timings: LoadReport,
    reports: Vec<progress::Report>,
    indicators: Vec<progress::Indicator>,
    day: NaiveDate,
}

/// Position of each collection in [`Catalog::collections`].
const REGIONS: usize = 0;
const CITIES: usize = 1;
const COUNTIES: usize = 2;
const PROJECTS: usize = 3;
const TARGETS: usize = 4;
/// How many collections the plan itself has; planners' layers follow.
const PLAN_COLLECTIONS: usize = 10;

/// The Chinese name of each plan collection, for pages people read.
pub fn title_zh(id: &str) -> Option<&'static str> {
    Some(match id {
        "regions" => "区域",
        "cities" => "城市",
        "counties" => "区县",
        "projects" => "项目",
        "targets" => "目标",
        "sections" => "章节",
        "progress" => "进度报告",
        "indicators" => "指标",
        "projects-points" => "点状项目",
        "projects-lines" => "线状项目",
        _ => return None,
    })
}

/// The county containing `p`, from the R-tree and each county's interval tree. A point exactly on a shared
/// border goes to the first county (by adcode order) whose boundary touches it.
pub(super) fn county_at(counties: &Collection, index: &admin::CountyIndex, p: Coord<f64>) -> Option<usize> {
    index.locate(&counties.bbox_candidates(&geo::Rect::new(p, p)), p)
}

impl Catalog {
    /// Loads and validates every file, dissolves the regions, joins the projects and builds the indexes.
    pub fn load(source: DataSource) -> Result<Self, LoadError> {
        Self::load_with_layers(source, &[])
    }

    /// [`Catalog::load`] with planners' layers (`--layer`) served beside the plan's collections.
    pub fn load_with_layers(
        source: DataSource,
        layers: &[super::layers::LayerSpec],
    ) -> Result<Self, LoadError> {
        let start = Instant::now();
        let mut admin = admin::load(&source)?;
        admin.layers = super::layers::load(layers, &admin)?;
        let admin_ms = start.elapsed().as_secs_f64() * 1e3;
        let mut catalog = Self::assemble(admin, source)?;
        catalog.timings.admin_ms = admin_ms;
        catalog.timings.total_ms = start.elapsed().as_secs_f64() * 1e3;
        Ok(catalog)
    }

    /// The boundaries and regions as loaded from `source`, for [`Catalog::assemble`].
    pub fn load_admin(source: &DataSource) -> Result<admin::Admin, LoadError> {
        admin::load(source)
    }

    /// Reads, validates and joins the projects and targets of `source` onto already loaded boundaries, and
    /// builds the derived collections (counts, region targets, sections, the consistency report). The one
    /// step that makes every derived value: it reruns after each write.
    pub fn assemble(admin: admin::Admin, source: DataSource) -> Result<Self, LoadError> {
        Self::assemble_on(admin, source, progress::today())
    }

    /// [`Catalog::assemble`] with each project's progress state as it stood on `day` (valid time): the latest
    /// report whose quarter had begun by then.
    pub fn assemble_on(admin: admin::Admin, source: DataSource, day: NaiveDate) -> Result<Self, LoadError> {
        let start = Instant::now();
        let admin::Admin { mut regions, mut cities, mut counties, region_defs, county_index, layers } = admin;

        let t = Instant::now();
        let lap = std::cell::Cell::new(Instant::now());
        let step = |what: &str| {
            tracing::debug!(ms = lap.get().elapsed().as_secs_f64() * 1e3, "{what}");
            lap.set(Instant::now());
        };
        let items = projects::read_plan_items(&source)?;
        let locate = |p: Coord<f64>| county_at(&counties, &county_index, p);
        let records = projects::read_projects(&source, &counties, &locate, &items)?;
        step("projects read and validated");
        // Joins made on these boundaries before (the last rebuild's) are taken as they are: a write changes one
        // project, and the others' joins were a third of a rebuild.
        let keys: Vec<(u64, u64)> =
            records.iter().map(|r| (county_index.key(), geometry_key(&r.geometry))).collect();
        let mut joins: Vec<Option<projects::Join>> = {
            let kept = KEPT_JOINS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            records
                .iter()
                .zip(&keys)
                .map(|(r, key)| match kept.get(key) {
                    Some((g, j)) if *g == r.geometry => Some(j.clone()),
                    _ => None,
                })
                .collect()
        };
        let mut made = Vec::new();
        if joins.iter().any(Option::is_none) {
            let shapes = projects::county_shapes(&counties);
            for ((r, key), slot) in records.iter().zip(&keys).zip(&mut joins).filter(|(_, j)| j.is_none()) {
                let j = projects::join(&r.geometry, &counties, &shapes, &county_index, &locate);
                made.push((*key, (r.geometry.clone(), j.clone())));
                *slot = Some(j);
            }
        }
        if !made.is_empty() {
            let mut kept = KEPT_JOINS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if kept.len() + made.len() > MAX_KEPT_JOINS {
                kept.clear();
            }
            kept.extend(made);
        }
        let joins: Vec<projects::Join> = joins.into_iter().map(Option::unwrap_or_default).collect();
        step("projects joined");
        let mut project_features = projects::project_features(records, &joins, &counties, &cities, &regions);
        let today = progress::today();
        let reports = read_progress(&source, &project_features, today)?;
        let grouped = progress::by_project(&reports);
        for f in &mut project_features {
            let state = grouped.get(f.id.as_str()).and_then(|r| progress::state_on(r, day));
            f.properties.extend(progress::state_properties(state.as_ref(), day));
        }
        let progress_features = progress_features(&reports, &project_features);
        drop(grouped);
        let mut targets = projects::read_targets(&source)?;
        for f in &project_features {
            for t in f.properties.get("targets").and_then(Value::as_array).into_iter().flatten() {
                let mut m = t.as_object().cloned().unwrap_or_default();
                m.insert("scope".into(), json!("project"));
                m.insert("subject_id".into(), json!(f.id));
                m.insert("subject_zh".into(), json!(f.str_prop("name_zh")));
                targets.push(m);
            }
        }
        let mut target_features = target_features(targets, &source)?;
        let indicators = read_indicators(&source, &target_features, today)?;
        add_target_status(&mut target_features, &indicators, day);
        let indicator_features =
            indicator_features(&indicators, &target_features, &counties, &project_features);
        add_counts(&mut regions, &mut cities, &mut counties, &project_features);
        add_region_targets(&mut regions, &target_features, &project_features);
        // The projects again, one geometry type each: GIS clients (QGIS, GDAL) give a layer one type, and a
        // Shapefile holds one.
        let typed = |lines: bool| {
            let features: Vec<Feature> = project_features
                .iter()
                .filter(|f| {
                    matches!(
                        f.geometry,
                        Some(geo::Geometry::LineString(_) | geo::Geometry::MultiLineString(_))
                    ) == lines
                })
                .cloned()
                .collect();
            declared(typed_projects_meta(lines, features.len()), features)
        };
        let (project_points, project_lines) = (typed(false), typed(true));
        let projects = declared(projects_meta(), project_features);
        step("targets and counts");
        let report = report::build(&projects, &counties, &cities);
        step("consistency report");
        let sections = Collection::new(sections_meta(), section_features(&items, &projects));
        let targets = declared(targets_meta(), target_features);
        let projects_ms = t.elapsed().as_secs_f64() * 1e3;

        let progress = declared(progress_meta(), progress_features);
        let indicator_collection = declared(indicators_meta(), indicator_features);
        let mut collections: Vec<Arc<Collection>> = [
            regions,
            cities,
            counties,
            projects,
            targets,
            sections,
            progress,
            indicator_collection,
            project_points,
            project_lines,
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        collections.extend(layers);
        let timings =
            LoadReport { admin_ms: 0.0, projects_ms, total_ms: start.elapsed().as_secs_f64() * 1e3 };
        Ok(Self { collections, county_index, region_defs, report, source, timings, reports, indicators, day })
    }

    /// Every collection, in the order they are listed.
    pub fn collections(&self) -> &[Arc<Collection>] {
        &self.collections
    }

    /// Planners' own layers (`--layer`), after the plan's collections.
    pub fn layers(&self) -> &[Arc<Collection>] {
        &self.collections[PLAN_COLLECTIONS.min(self.collections.len())..]
    }

    /// The collection with this id.
    pub fn collection(&self, id: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.id() == id).map(|c| &**c)
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

    /// The projects collection.
    pub fn projects(&self) -> &Collection {
        &self.collections[PROJECTS]
    }

    /// The targets collection.
    pub fn targets(&self) -> &Collection {
        &self.collections[TARGETS]
    }

    /// Every progress report, validated.
    pub fn progress_reports(&self) -> &[progress::Report] {
        &self.reports
    }

    /// A value of target `id` as the scope check sees it (the counties of the target's area), before it is
    /// written: `None` when there is no such target.
    pub fn target_value_area(&self, id: &str) -> Option<Feature> {
        let t = self.targets().get(id)?;
        let area = target_area(Some(t), self.counties(), self.projects().features());
        let mut m = serde_json::Map::new();
        m.insert("county_adcodes".into(), json!(area));
        Some(Feature::new(id.to_owned(), None, m))
    }

    /// Every indicator value, validated.
    pub fn indicator_values(&self) -> &[progress::Indicator] {
        &self.indicators
    }

    /// The day the projects' progress state is given for.
    pub fn state_day(&self) -> NaiveDate {
        self.day
    }

    /// The region definitions as read from `regions.toml`.
    pub fn region_defs(&self) -> &[RegionDef] {
        &self.region_defs
    }

    /// The consistency report computed at load.
    pub fn consistency(&self) -> &Report {
        &self.report
    }

    /// Where the data came from.
    pub fn source(&self) -> &DataSource {
        &self.source
    }

    /// How long loading took.
    pub fn report(&self) -> &LoadReport {
        &self.timings
    }

    /// Whether a feature of `collection` lies in (or crosses) `area`, as a test to run over many features: by
    /// the memberships and spatial join computed at load, or, for an area that is a feature's geometry, by
    /// that geometry indexed once (an R-tree of its edges) and each feature's box checked first, so a region's
    /// thousands of vertices are not compared with every edge of every county.
    pub fn area_test<'a>(
        &'a self,
        collection: &'a Collection,
        area: &'a Area,
    ) -> impl Fn(&Feature) -> bool + 'a {
        use geo::{BoundingRect, Relate};
        let prepared = match area {
            Area::Feature { collection: c, id } => Some(
                self.collection(c)
                    .and_then(|c| c.get(id))
                    .and_then(|a| a.geometry.as_ref())
                    .map(|g| (g.bounding_rect(), geo::PreparedGeometry::from(g))),
            ),
            _ => None,
        };
        let keys = JoinKeys::of(collection);
        move |f| match &prepared {
            None => self.in_area(collection, f, area, &keys),
            Some(None) => false,
            Some(Some((rect, g))) => f.geometry.as_ref().is_some_and(|fg| {
                let meets = match (rect, fg.bounding_rect()) {
                    (Some(a), Some(b)) => a.intersects(&b),
                    _ => false,
                };
                meets && g.relate(fg).is_intersects()
            }),
        }
    }

    /// The county containing `p` (CRS84).
    pub fn county_at(&self, p: Coord<f64>) -> Option<usize> {
        county_at(self.counties(), &self.county_index, p)
    }

    /// When `key` is a county name more than one county bears (铁西区 is Shenyang's and Anshan's) and nothing
    /// else: what to say instead of picking one (each with its adcode and city, to ask for by adcode).
    pub fn ambiguous_name(&self, key: &str) -> Option<String> {
        let named = |f: &Feature| named(f, key);
        if key.contains(':')
            || self.regions().get(key).is_some()
            || self.cities().index_of(key).is_some()
            || self.cities().features().iter().any(named)
            || self.counties().index_of(key).is_some()
        {
            return None;
        }
        let same: Vec<String> = self
            .counties()
            .features()
            .iter()
            .filter(|f| named(f))
            .map(|f| {
                let city = f.str_prop("parent_adcode").and_then(|c| self.cities().get(c));
                let city = city.and_then(|c| c.str_prop("name_zh")).unwrap_or("?");
                format!("{} ({city})", f.id)
            })
            .collect();
        (same.len() > 1).then(|| {
            format!(
                "'{key}' names {} counties: {}; give the adcode of the one meant",
                same.len(),
                same.join(", ")
            )
        })
    }

    /// Resolves a region id, a city/county adcode (or Chinese name) or `collection:featureId` (a feature of a
    /// planner's layer, or of any collection with geometries) to an area and its geometry.
    pub fn area(&self, key: &str) -> Option<(Area, &geo::Geometry<f64>)> {
        if let Some((collection, id)) = key.split_once(':') {
            let f = self.collection(collection)?.get(id)?;
            let area = Area::Feature { collection: collection.to_owned(), id: id.to_owned() };
            return Some((area, f.geometry.as_ref()?));
        }
        let by_name = |c: &Collection| c.features().iter().position(|f| named(f, key));
        if let Some(f) = self.regions().get(key) {
            return Some((Area::Region(f.id.clone()), f.geometry.as_ref()?));
        }
        if let Some(i) = self.cities().index_of(key).or_else(|| by_name(self.cities())) {
            let f = self.cities().feature(i);
            return Some((Area::City(f.id.clone()), f.geometry.as_ref()?));
        }
        let i = self.counties().index_of(key).or_else(|| by_name(self.counties()))?;
        let f = self.counties().feature(i);
        let city = f.str_prop("parent_adcode")?.to_owned();
        Some((Area::County { adcode: f.id.clone(), city, city_wide: false }, f.geometry.as_ref()?))
    }

    /// Whether a feature of `collection` lies in (or crosses) `area`, from the memberships and the spatial join
    /// computed at load (so a county that only touches a region's border is not in it).
    fn in_area(&self, collection: &Collection, f: &Feature, area: &Area, keys: &JoinKeys) -> bool {
        let has = |k: &str, v: &str| f.str_list(keys.name(k)).any(|x| x == v);
        match (collection.id(), area) {
            (_, Area::Feature { collection: c, id }) => {
                let Some(g) = self.collection(c).and_then(|c| c.get(id)).and_then(|a| a.geometry.as_ref())
                else {
                    return false;
                };
                f.geometry.as_ref().is_some_and(|fg| g.intersects(fg))
            }
            ("regions", Area::Region(r)) => f.id == *r,
            ("cities", Area::City(c) | Area::County { city: c, .. }) => f.id == *c,
            ("counties", Area::City(c)) => f.str_prop("parent_adcode") == Some(c.as_str()),
            ("counties", Area::County { adcode, .. }) => f.id == *adcode,
            // Projects, regions and planners' layers: from their spatial join.
            (_, Area::City(c)) => has("city_adcodes", c),
            (_, Area::County { adcode, city, city_wide }) => {
                has("county_adcodes", adcode)
                    || (*city_wide
                        && f.properties.get("city_wide") == Some(&Value::Bool(true))
                        && has("city_adcodes", city))
            }
            (_, Area::Region(r)) => has("region_ids", r),
        }
    }

    /// The county, city and regions containing `p`; `None` outside Liaoning.
    pub fn locate(&self, p: Coord<f64>) -> Option<Location<'_>> {
        let county_feature = self.counties().feature(self.county_at(p)?);
        let parent = county_feature.str_prop("parent_adcode")?;
        let city = self.cities().get(parent)?;
        let regions = county_feature
            .properties
            .get("region_ids")
            .and_then(|v| v.as_array())
            .map(|ids| {
                ids.iter().filter_map(|id| id.as_str().and_then(|id| self.regions().get(id))).collect()
            })
            .unwrap_or_default();
        Some(Location { county: county_feature, city, regions })
    }
}

fn strings<'a>(p: &'a Properties, k: &str) -> impl Iterator<Item = &'a str> {
    p.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// Adds `project_count` to every region, city and county (a county counts what is known to be in it), and
/// `city_wide_count` to every city.
fn add_counts(
    regions: &mut Collection,
    cities: &mut Collection,
    counties: &mut Collection,
    projects: &[Feature],
) {
    for (collection, key) in [(regions, "region_ids"), (cities, "city_adcodes"), (counties, "county_adcodes")]
    {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for p in projects {
            for id in strings(&p.properties, key) {
                *counts.entry(id).or_default() += 1;
            }
        }
        // City-wide items (county not known) count in their city, and cities say how many of theirs are.
        let mut city_wide: BTreeMap<&str, usize> = BTreeMap::new();
        if key == "city_adcodes" {
            for p in projects.iter().filter(|p| p.properties.get("city_wide") == Some(&Value::Bool(true))) {
                for id in strings(&p.properties, key) {
                    *city_wide.entry(id).or_default() += 1;
                }
            }
        }
        for i in 0..collection.features().len() {
            let id = collection.feature(i).id.clone();
            let n = counts.get(id.as_str()).copied().unwrap_or(0);
            collection.properties_mut(i).insert("project_count".into(), json!(n));
            if key == "city_adcodes" {
                let w = city_wide.get(id.as_str()).copied().unwrap_or(0);
                collection.properties_mut(i).insert("city_wide_count".into(), json!(w));
            }
        }
    }
}

/// Lists on each region the targets set for it (一.(四) and later items) and the targets of the projects named
/// in its part of the plan.
fn add_region_targets(regions: &mut Collection, targets: &[Feature], projects: &[Feature]) {
    for i in 0..regions.features().len() {
        let rid = regions.feature(i).id.clone();
        let own: Vec<Value> = targets
            .iter()
            .filter(|t| {
                t.str_prop("scope") == Some("region") && t.str_prop("subject_id") == Some(rid.as_str())
            })
            .map(target_summary)
            .collect();
        let of_projects: Vec<Value> = targets
            .iter()
            .filter(|t| t.str_prop("scope") == Some("project"))
            .filter(|t| {
                let pid = t.str_prop("subject_id").unwrap_or_default();
                projects.iter().find(|p| p.id == pid).is_some_and(|p| {
                    strings(&p.properties, "sections")
                        .any(|s| region_of_part(crate::domain::project::part_of(s)) == Some(rid.as_str()))
                })
            })
            .map(target_summary)
            .collect();
        let props = regions.properties_mut(i);
        props.insert("targets".into(), Value::Array(own));
        props.insert("project_targets".into(), Value::Array(of_projects));
    }
}

fn target_summary(t: &Feature) -> Value {
    let p = &t.properties;
    json!({
        "id": t.id,
        "subject_zh": p.get("subject_zh"),
        "indicator_zh": p.get("indicator_zh"),
        "indicator_en": p.get("indicator_en"),
        "comparator": p.get("comparator"),
        "value": p.get("value"),
        "unit": p.get("unit"),
        "section": p.get("section"),
        "progress": p.get("progress"),
    })
}

fn target_features(targets: Vec<Map<String, Value>>, source: &DataSource) -> Result<Vec<Feature>, LoadError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(targets.len());
    for mut t in targets {
        let id = t.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        if !seen.insert(id.clone()) {
            let file = match source {
                DataSource::Embedded => "geodata/targets.json (embedded) or projects.geojson".to_owned(),
                DataSource::Dir(d) => d.join("targets.json").display().to_string(),
                DataSource::Stored { db, .. } => format!("targets.json or the projects in {db}"),
            };
            return Err(LoadError::feature(
                &file,
                id,
                "duplicate target id (across targets.json and project targets)",
            ));
        }
        // The plan states targets; progress is recorded only where a source for it is given.
        if !t.contains_key("progress") {
            t.insert("progress".into(), Value::Null);
        }
        out.push(Feature::new(id, None, t));
    }
    Ok(out)
}

/// The progress reports of `progress.json` (or the store), each checked on its own, against the projects, and
/// with the other reports of its project (one per quarter, stages that follow, cumulative investment that never
/// falls).
fn read_progress(
    source: &DataSource,
    projects: &[Feature],
    today: NaiveDate,
) -> Result<Vec<progress::Report>, LoadError> {
    let Some((file, rows)) = read_records(source, "progress.json")? else { return Ok(Vec::new()) };
    let known: std::collections::HashSet<&str> = projects.iter().map(|f| f.id.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let name = row.get("id").and_then(Value::as_str).map_or_else(|| format!("#{}", n + 1), str::to_owned);
        let r = progress::read_report(row, today).map_err(|e| LoadError::feature(&file, name.clone(), e))?;
        if !known.contains(r.project.as_str()) {
            return Err(LoadError::feature(
                &file,
                r.id,
                format!(
                    "project: there is no project '{}' (a report needs its project; a project with reports is \
                     deleted after them)",
                    r.project
                ),
            ));
        }
        if !seen.insert(r.id.clone()) {
            return Err(LoadError::feature(&file, r.id, "a second report for the same project and period"));
        }
        out.push(r);
    }
    for list in progress::by_project(&out).values() {
        progress::check_sequence(list).map_err(|(id, why)| LoadError::feature(&file, id, why))?;
    }
    Ok(out)
}

/// The indicator values of `indicators.json` (or the store), checked against their targets.
fn read_indicators(
    source: &DataSource,
    targets: &[Feature],
    today: NaiveDate,
) -> Result<Vec<progress::Indicator>, LoadError> {
    let Some((file, rows)) = read_records(source, "indicators.json")? else { return Ok(Vec::new()) };
    let by_id: std::collections::HashMap<String, &Properties> =
        targets.iter().map(|t| (t.id.clone(), &t.properties)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let name = row.get("id").and_then(Value::as_str).map_or_else(|| format!("#{}", n + 1), str::to_owned);
        let i = progress::read_indicator(row, &by_id, today)
            .map_err(|e| LoadError::feature(&file, name.clone(), e))?;
        if !seen.insert(i.id.clone()) {
            return Err(LoadError::feature(&file, i.id, "a second value for the same target and period"));
        }
        out.push(i);
    }
    Ok(out)
}

/// A file name for messages and its record objects.
type Records = (String, Vec<Map<String, Value>>);

/// A JSON array of record objects, or `None` when the source has no such file (it is optional).
fn read_records(source: &DataSource, name: &str) -> Result<Option<Records>, LoadError> {
    let (file, text) = match source.read(name) {
        Ok(x) => x,
        Err(LoadError::Io { source: e, .. }) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(LoadError::File { reason, .. }) if reason == "not embedded" => return Ok(None),
        Err(e) => return Err(e),
    };
    let raw: Vec<Value> = serde_json::from_str(&text).map_err(|e| LoadError::Syntax {
        file: file.clone(),
        format: "JSON array of objects",
        detail: e.to_string(),
    })?;
    let mut rows = Vec::with_capacity(raw.len());
    for (n, v) in raw.into_iter().enumerate() {
        match v {
            Value::Object(m) => rows.push(m),
            _ => return Err(LoadError::feature(&file, format!("#{}", n + 1), "not a JSON object")),
        }
    }
    Ok(Some((file, rows)))
}

/// The project-derived members every progress report carries: its name, category and places (so the reports
/// filter by region or city, and a city token's scope covers them as it covers the project).
const FROM_PROJECT: &[&str] =
    &["name_zh", "category", "county_adcodes", "city_adcodes", "city_names", "region_ids"];

fn progress_features(reports: &[progress::Report], projects: &[Feature]) -> Vec<Feature> {
    let by_id: std::collections::HashMap<&str, &Feature> =
        projects.iter().map(|f| (f.id.as_str(), f)).collect();
    reports
        .iter()
        .map(|r| {
            let mut m = r.record.clone();
            m.insert("stage_en".into(), json!(progress::stage_en(r.stage)));
            m.insert("period_start".into(), json!(r.period.start().to_string()));
            m.insert("period_end".into(), json!(r.period.end().to_string()));
            m.insert("period_interval".into(), json!(r.period.interval()));
            if let Some(p) = by_id.get(r.project.as_str()) {
                for k in FROM_PROJECT {
                    let key = if *k == "name_zh" { "project_name_zh" } else { k };
                    m.insert(key.into(), p.properties.get(k).cloned().unwrap_or(Value::Null));
                }
            }
            Feature::new(r.id.clone(), None, m)
        })
        .collect()
}

/// The collection, with the whole numbers of the properties it declares as numbers written as such (`1.0`,
/// not `1`), and every declared property present (null where a record has none): GDAL and QGIS make a layer's
/// fields from the first features they read, so a target of 1 before one of 7.7 made the field an integer and
/// lost the fraction, and a report field absent from the first page was no field at all.
fn declared(meta: CollectionMeta, mut features: Vec<Feature>) -> Collection {
    let numbers: Vec<&str> =
        meta.queryables.iter().filter(|q| matches!(q.kind, PropertyType::Number)).map(|q| q.name).collect();
    for f in &mut features {
        for q in &meta.queryables {
            if q.name != "id" && !f.properties.contains_key(q.name) {
                f.properties.insert(q.name.to_owned(), Value::Null);
            }
        }
        for name in &numbers {
            if let Some(Value::Number(n)) = f.properties.get(name)
                && !n.is_f64()
                && let Some(x) = n.as_f64().and_then(serde_json::Number::from_f64)
                && let Some(v) = f.properties.get_mut(name)
            {
                *v = Value::Number(x);
            }
        }
    }
    Collection::new(meta, features)
}

/// Each target's status from its indicator values (the rule is [`progress::STATUS_RULE`]).
fn add_target_status(targets: &mut [Feature], values: &[progress::Indicator], day: NaiveDate) {
    for t in targets {
        let mine: Vec<&progress::Indicator> = values.iter().filter(|i| i.target == t.id).collect();
        let p = &t.properties;
        let year = p.get("target_year").and_then(Value::as_i64).and_then(|y| i32::try_from(y).ok());
        let standing = progress::target_status(
            p.get("comparator").and_then(Value::as_str).unwrap_or("qualitative"),
            p.get("value").and_then(Value::as_f64),
            year,
            progress::Measure::of(p.get("measure").and_then(Value::as_str)),
            &mine,
            day,
        );
        let progress = json!({
            "status": standing.status,
            "status_zh": standing.status.zh(),
            "reason": standing.reason,
            "latest_value": standing.latest.as_ref().map(|l| l.0),
            "latest_period": standing.latest.as_ref().map(|l| l.1.clone()),
            "expected_value": standing.expected,
            "values": mine.len(),
            "as_of": day.to_string(),
        });
        t.properties.insert("status".into(), json!(standing.status));
        t.properties.insert("status_zh".into(), json!(standing.status.zh()));
        t.properties.insert("progress".into(), progress);
    }
}

/// The counties of a target's area, so a token's scope covers a value of it as it covers a project there: a
/// city's, a region's, a pseudo-region's named members' (沈抚同城化: 沈阳 and 抚顺), a project's (where the
/// project is; a city-wide project: its cities' counties), else the whole province.
fn target_area<'a>(t: Option<&Feature>, counties: &'a Collection, projects: &[Feature]) -> Vec<&'a str> {
    let get = |k: &str| t.and_then(|t| t.properties.get(k)).cloned().unwrap_or(Value::Null);
    let (scope, subject) = (get("scope"), get("subject_id"));
    let project = match (scope.as_str(), subject.as_str()) {
        (Some("project"), Some(id)) => projects.iter().find(|p| p.id == id),
        _ => None,
    };
    let project_counties: Vec<&str> =
        project.map(|p| p.str_list("county_adcodes").collect()).unwrap_or_default();
    let project_cities: Vec<&str> = project.map(|p| p.str_list("city_adcodes").collect()).unwrap_or_default();
    let members: Vec<String> =
        t.map(|t| strings(&t.properties, "member_ids").map(str::to_owned).collect()).unwrap_or_default();
    counties
        .features()
        .iter()
        .filter(|c| match (scope.as_str(), subject.as_str()) {
            _ if !members.is_empty() => {
                members.iter().any(|m| c.id == *m || c.str_prop("parent_adcode") == Some(m.as_str()))
            }
            (Some("city"), Some(code)) => c.str_prop("parent_adcode") == Some(code),
            (Some("region"), Some(r)) => c.str_list("region_ids").any(|x| x == r),
            (Some("project"), Some(_)) if !project_counties.is_empty() => {
                project_counties.contains(&c.id.as_str())
            }
            (Some("project"), Some(_)) if !project_cities.is_empty() => {
                c.str_prop("parent_adcode").is_some_and(|p| project_cities.contains(&p))
            }
            _ => true,
        })
        .map(|c| c.id.as_str())
        .collect()
}

/// A project geometry's join to the counties, kept by (boundaries, geometry) across rebuilds, with the geometry
/// (a key's hash is checked against it). Emptied when it would hold more than [`MAX_KEPT_JOINS`].
type KeptJoins = std::collections::HashMap<(u64, u64), (geo::Geometry<f64>, projects::Join)>;
static KEPT_JOINS: std::sync::LazyLock<std::sync::Mutex<KeptJoins>> =
    std::sync::LazyLock::new(Default::default);
const MAX_KEPT_JOINS: usize = 20_000;

/// A hash of a geometry: its type and every position.
fn geometry_key(g: &geo::Geometry<f64>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(admin::geometry_type(g).as_bytes());
    crate::geom::hash_positions(&mut h, geo::CoordsIter::coords_iter(g));
    h.digest()
}

fn indicator_features(
    values: &[progress::Indicator],
    targets: &[Feature],
    counties: &Collection,
    projects: &[Feature],
) -> Vec<Feature> {
    values
        .iter()
        .map(|i| {
            let mut m = i.record.clone();
            let t = targets.iter().find(|t| t.id == i.target);
            let get = |k: &str| t.and_then(|t| t.properties.get(k)).cloned().unwrap_or(Value::Null);
            let (scope, subject) = (get("scope"), get("subject_id"));
            let area = target_area(t, counties, projects);
            m.insert("scope".into(), scope);
            m.insert("area".into(), subject);
            m.insert("subject_zh".into(), get("subject_zh"));
            m.insert("indicator_zh".into(), get("indicator_zh"));
            m.insert("period_start".into(), json!(i.period.start().to_string()));
            m.insert("period_end".into(), json!(i.period.end().to_string()));
            m.insert("period_interval".into(), json!(i.period.interval()));
            m.insert("county_adcodes".into(), json!(area));
            Feature::new(i.id.clone(), None, m)
        })
        .collect()
}

fn section_features(items: &[PlanItem], projects: &Collection) -> Vec<Feature> {
    items
        .iter()
        .map(|i| {
            let ids: Vec<&str> = projects
                .features()
                .iter()
                .filter(|p| {
                    strings(&p.properties, "sections")
                        .any(|s| s == i.section || s.starts_with(&format!("{}.", i.section)))
                })
                .map(|p| p.id.as_str())
                .collect();
            let mut m = Map::new();
            m.insert("section".into(), json!(i.section));
            m.insert("level".into(), json!(i.level));
            m.insert("title".into(), json!(i.title));
            m.insert("lead_unit".into(), json!(i.lead_unit));
            m.insert("co_units".into(), json!(i.co_units));
            m.insert("units".into(), json!(i.all_units));
            m.insert("responsibilities".into(), json!(i.responsibilities));
            m.insert("project_count".into(), json!(ids.len()));
            m.insert("project_ids".into(), json!(ids));
            Feature::new(i.section.clone(), None, m)
        })
        .collect()
}

fn q(name: &'static str, kind: PropertyType, description: &'static str) -> Queryable {
    Queryable { name, kind, description }
}

/// Whether a collection's features are the plan's projects: `projects` or one of its typed views.
pub fn holds_projects(collection: &str) -> bool {
    matches!(collection, "projects" | "projects-points" | "projects-lines")
}

/// The projects of one geometry type (`projects-points`, `projects-lines`): read-only views of `projects`.
fn typed_projects_meta(lines: bool, n: usize) -> CollectionMeta {
    let (id, title, kind) = if lines {
        ("projects-lines", "Projects: lines (线状项目: railways, corridors, pipelines)", "LineString")
    } else {
        ("projects-points", "Projects: points (点状项目)", "Point")
    };
    CollectionMeta {
        id,
        title,
        description: format!(
            "The {n} projects whose geometry is a {kind}, with every property of `projects`: one geometry type, \
             as QGIS and GDAL layers and Shapefiles need. Read-only; edit them in `projects`."
        ),
        ..projects_meta()
    }
}

fn projects_meta() -> CollectionMeta {
    let categories: Vec<&str> = CATEGORIES.iter().map(|(c, _)| *c).collect();
    CollectionMeta {
        id: "projects",
        title: "Projects named in the plan",
        description: format!(
            "Every project, facility, corridor and zone the plan names, with its sections, responsible units, \
             targets, and a located geometry that says how precise it is (location_precision) and what it is \
             based on (location_source). Counties, cities and regions come from a spatial join at start-up \
             (points in polygons; lines and polygons by intersection, with the share in each). Categories: {}.",
            categories.join(", ")
        ),
        item_type: "feature",
        queryables: vec![
            q("id", PropertyType::String, "stable project id"),
            q("name_zh", PropertyType::String, "Chinese name"),
            q("name_en", PropertyType::String, "English name"),
            q("category", PropertyType::String, "category from the fixed vocabulary"),
            q("sections", PropertyType::StringArray, "plan items naming the project, e.g. 四.(四).2"),
            q("lead_unit", PropertyType::String, "lead responsible unit (责任单位, first named)"),
            q("co_units", PropertyType::StringArray, "co-responsible units"),
            q("location_precision", PropertyType::String, "site, district, county, city or schematic"),
            q("geometry_type", PropertyType::String, "Point, LineString, Polygon…"),
            q("county_adcodes", PropertyType::StringArray, "counties the geometry lies in or crosses"),
            q("county_names", PropertyType::StringArray, "their Chinese names"),
            q("city_adcodes", PropertyType::StringArray, "cities the geometry lies in or crosses"),
            q("city_names", PropertyType::StringArray, "their Chinese names"),
            q("region_ids", PropertyType::StringArray, "plan regions the geometry lies in or crosses"),
            q("length_km", PropertyType::Number, "geodesic length of a corridor, km"),
            q(
                "city_wide",
                PropertyType::Boolean,
                "a city-wide item: placed at its city seat, county not known (precision city)",
            ),
            q(
                "stage",
                PropertyType::String,
                "stage from the latest progress report: 前期, 新开工, 在建, 竣工, 投产运营, 暂停 or 未报告",
            ),
            q(
                "stage_en",
                PropertyType::String,
                "the stage in English (not reported when no report speaks of it)",
            ),
            q("progress_period", PropertyType::String, "quarter of the latest progress report, e.g. 2024Q2"),
            q(
                "investment_total",
                PropertyType::Number,
                "total investment, 亿元, as the latest report states it",
            ),
            q("investment_to_date", PropertyType::Number, "investment completed to date, 亿元, as reported"),
            q(
                "investment_share",
                PropertyType::Number,
                "investment completed to date / total investment, as reported",
            ),
            q(
                "progress_as_of",
                PropertyType::Date,
                "the day the stage and the investment figures stand at (today in Liaoning)",
            ),
        ],
        params: vec![
            ParamSpec {
                name: "region",
                kind: ParamKind::Eq("region_ids"),
                description: "region id: projects located in (or crossing) it",
            },
            ParamSpec {
                name: "city",
                kind: ParamKind::Place("city_adcodes", "city_names"),
                description: "city adcode or Chinese name (大连 or 大连市)",
            },
            ParamSpec {
                name: "county",
                kind: ParamKind::Place("county_adcodes", "county_names"),
                description: "county adcode or Chinese name (桓仁 or 桓仁满族自治县)",
            },
            ParamSpec {
                name: "section",
                kind: ParamKind::SegmentPrefix("sections"),
                description: "plan section prefix: 四.(四) matches 四.(四).1 and 四.(四).2",
            },
            ParamSpec {
                name: "q",
                kind: ParamKind::Substring(&["name_zh", "name_en"]),
                description: "substring of the Chinese or English name, case-insensitive",
            },
        ],
    }
}

fn targets_meta() -> CollectionMeta {
    CollectionMeta {
        id: "targets",
        title: "Targets of the plan",
        description: "The plan's quantitative and qualitative targets: the three-year targets of each region \
                      (一.(四)) and the item-level ones, each with its subject (region, city, province or project), \
                      indicator, comparator, value, unit and section. Non-spatial records. `status` (and `progress`, \
                      with the figures behind it) says how each stands against the measured values in \
                      `indicators`: met, on_track, behind, not_met (no deadline in the plan) or no_data."
            .to_owned()
            + " Rule: "
            + progress::STATUS_RULE,
        item_type: "record",
        queryables: vec![
            q("scope", PropertyType::String, "region, city, province or project"),
            q("subject_id", PropertyType::String, "region id, city adcode, liaoning, or project id"),
            q("subject_zh", PropertyType::String, "the subject's Chinese name"),
            q("indicator_zh", PropertyType::String, "indicator (Chinese)"),
            q("indicator_en", PropertyType::String, "indicator (English)"),
            q("comparator", PropertyType::String, ">=, <=, =, >, <, growth>= (mean yearly growth), growth-cumulative>= (growth over the plan period), rank<= or qualitative"),
            q("value", PropertyType::Number, "target value"),
            q("unit", PropertyType::String, "unit as written (亿吨, %, 万亿元…)"),
            q("section", PropertyType::String, "plan section"),
            q("target_year", PropertyType::Integer, "year the target is due (null: the plan sets none)"),
            q(
                "measure",
                PropertyType::String,
                "level (a value at a moment; absent means level), year_total (a year's total: whole years only) or each_year (every year must reach it)",
            ),
            q(
                "status",
                PropertyType::String,
                "met, on_track, behind, not_met (no deadline in the plan) or no_data (the rule is in progress)",
            ),
        ],
        params: vec![ParamSpec {
            name: "q",
            kind: ParamKind::Substring(&["indicator_zh", "indicator_en", "subject_zh"]),
            description: "substring of the indicator or subject",
        }],
    }
}

fn progress_meta() -> CollectionMeta {
    CollectionMeta {
        id: "progress",
        title: "Quarterly progress reports (季调度)",
        description: "One report per project per quarter: stage (前期, 新开工, 在建, 竣工, 投产运营, 暂停), \
                      investment (亿元: total, planned for the year, completed in the quarter, completed to date), \
                      milestones (时间节点) with planned and actual dates, a note, the source and who reported it. \
                      Written with the same tokens as projects (a city token reports for its own city's projects); \
                      the id is project@quarter (e.g. shenyang-metro-line-6@2024Q2). Rules: one report per project \
                      and quarter (a second replaces the first with PUT and If-Match), quarters from 2022Q1 up to \
                      the current one, stages that follow one another, cumulative investment that never falls. \
                      `datetime` selects by the quarter's interval. The shipped reports are only those a public \
                      source states, each with its source."
            .to_owned(),
        item_type: "record",
        queryables: vec![
            q("project", PropertyType::String, "the project's id"),
            q("period", PropertyType::String, "the quarter, e.g. 2024Q2"),
            q("stage", PropertyType::String, "前期, 新开工, 在建, 竣工, 投产运营 or 暂停"),
            q("stage_en", PropertyType::String, "the stage in English"),
            q("investment_total", PropertyType::Number, "total investment, 亿元"),
            q("investment_planned_year", PropertyType::Number, "investment planned for the year, 亿元"),
            q("investment_period", PropertyType::Number, "investment completed in the quarter, 亿元"),
            q("investment_to_date", PropertyType::Number, "investment completed to date, 亿元"),
            q("category", PropertyType::String, "the project's category"),
            q("city_adcodes", PropertyType::StringArray, "the project's cities"),
            q("region_ids", PropertyType::StringArray, "the project's plan regions"),
            q("reported_by", PropertyType::String, "who reported it (the token's name)"),
        ],
        params: vec![
            ParamSpec {
                name: "region",
                kind: ParamKind::Eq("region_ids"),
                description: "region id: reports of projects in (or crossing) it",
            },
            ParamSpec {
                name: "city",
                kind: ParamKind::Place("city_adcodes", "city_names"),
                description: "city adcode or Chinese name",
            },
            ParamSpec {
                name: "datetime",
                kind: ParamKind::Interval("period_start", "period_end"),
                description: "reports whose quarter meets this instant or interval",
            },
        ],
    }
}

fn indicators_meta() -> CollectionMeta {
    CollectionMeta {
        id: "indicators",
        title: "Measured values of the plan's targets (区域统计)",
        description: "Measured values of the plan's numeric targets (a city's GDP, urbanisation rate, \
                      clean-energy share…): target id, area, year or period, value in the target's unit, and \
                      the source. Written with a token whose scope covers the target's area. Each target's \
                      `status` in `targets` is computed from these."
            .to_owned(),
        item_type: "record",
        queryables: vec![
            q("target", PropertyType::String, "the target's id"),
            q("area", PropertyType::String, "region id, city adcode or liaoning"),
            q("period", PropertyType::String, "year (2023), half year (2024H1) or quarter (2024Q2)"),
            q("value", PropertyType::Number, "the measured value"),
            q("unit", PropertyType::String, "its unit (the target's)"),
        ],
        params: vec![ParamSpec {
            name: "datetime",
            kind: ParamKind::Interval("period_start", "period_end"),
            description: "values whose period meets this instant or interval",
        }],
    }
}

fn sections_meta() -> CollectionMeta {
    CollectionMeta {
        id: "sections",
        title: "Sections and items of the plan",
        description:
            "Every part, section and numbered item of the plan with its title, its responsible units \
                      (责任单位) and the projects it names. Non-spatial records."
                .to_owned(),
        item_type: "record",
        queryables: vec![
            q("section", PropertyType::String, "section id, e.g. 四.(四).2"),
            q("level", PropertyType::String, "part, section or item"),
            q("title", PropertyType::String, "heading"),
            q("lead_unit", PropertyType::String, "lead unit of its (first) 责任单位 bracket"),
            q("co_units", PropertyType::StringArray, "the other units of its (first) bracket"),
            q("units", PropertyType::StringArray, "every unit named in any of its brackets"),
        ],
        params: vec![],
    }
}

/// The names a collection's features carry their spatial join under: `county_adcodes`, `city_adcodes` and
/// `region_ids`, or `join_<name>` in a planner's layer whose file has fields of those names (as its
/// queryables list them).
struct JoinKeys([String; 3]);

impl JoinKeys {
    const NAMES: [&'static str; 3] = ["county_adcodes", "city_adcodes", "region_ids"];

    fn of(collection: &Collection) -> Self {
        Self(Self::NAMES.map(|k| {
            let mut key = k.to_owned();
            while collection
                .meta
                .queryables
                .iter()
                .any(|q| q.name.strip_prefix("join_") == Some(key.as_str()))
            {
                key = format!("join_{key}");
            }
            key
        }))
    }

    fn name<'a>(&'a self, k: &'a str) -> &'a str {
        Self::NAMES.iter().position(|n| *n == k).map_or(k, |i| self.0[i].as_str())
    }
}

/// Whether a city or county is called `key`: its Chinese name, whole or short (沈阳市 or 沈阳).
fn named(f: &Feature, key: &str) -> bool {
    f.str_prop("name_zh").is_some_and(|n| n == key || crate::domain::short_name(n) == key)
}
