//! The dispatch reports of part 八: the quarterly dispatch table (季调度) and the half-year and year-end
//! summaries (半年小结, 年终总结), computed from the validated progress reports of one read model.
//!
//! Definitions (also served with every report):
//! - a report stands at the quarter's last day, or at today (Liaoning's date, UTC+8) while the quarter is
//!   under way;
//! - a project's state in a quarter is its latest report for that quarter or an earlier one (已报告 counts both;
//!   本期报告 only reports for a quarter of the span); a 新开工 reported in an earlier quarter counts as 在建
//!   (新开工 is the quarter work starts), except that a half year's or a year's summary counts a project that
//!   started within it and is under construction at its end as 新开工;
//! - started (开工) means a report of 新开工, 在建, 竣工 or 投产运营 by then (a later pause does not undo it);
//!   the start rate (开工率) is started / reported, so a project no report speaks of is never counted as not
//!   started;
//! - investment planned for the year is the latest `investment_planned_year` reported in that year, investment
//!   completed is the sum over the year's quarters of each one's `investment_period`, else the rise of the
//!   cumulative figure over it (a report's `investment_to_date`, else the quarter before's plus its
//!   `investment_period`; 0 before a report that says nothing was invested before it); a run of quarters whose
//!   amounts are not known so takes the rise of the cumulative figure over it; both stand at the quarter the
//!   figures stand at (below); a project whose completed investment is unknown is left out of both sums and of
//!   the investment rule;
//! - time progress (时间进度) is the share of the year elapsed at the end of the last quarter over by the day
//!   the report stands at (Q1 25 % … Q4 100 %): while a quarter is under way the investment figures stand at
//!   the end of the quarter before, for every project alike;
//! - a project is behind schedule when it is suspended (暂停), when its investment completed this year is below
//!   time progress times its plan for the year, or when a milestone (as its latest report stating it says) was
//!   due by the day the report stands at and has no actual date by then;
//! - a project in several regions or cities counts in each; the totals count it once. It counts where it lies
//!   now, with all its reports: a change of its place is a correction of where it is, not a move.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::Catalog;
use super::progress::{self, NOT_REPORTED, Period, Report, STAGES, STARTED};

/// The definitions above, for the report documents.
pub const DEFINITIONS: &[(&str, &str)] = &[
    (
        "as_of",
        "the day a report stands at: the quarter's last day, or today (Liaoning's date, UTC+8) while the quarter is under way",
    ),
    (
        "state",
        "a project's state in a quarter is its latest report for that quarter or an earlier one (已报告(含往期) counts both, 本期报告 only reports for a quarter of the span; stage_period in the behind list says which quarter a stage comes from); a 新开工 reported in an earlier quarter counts as 在建, except that a half year's or a year's summary counts a project that started (新开工) within it and is under construction at its end as 新开工",
    ),
    (
        "start_rate",
        "开工率 = started (a report of 新开工, 在建, 竣工 or 投产运营 by then; a later pause does not undo it) / projects reported; unreported projects are not counted as not started",
    ),
    (
        "planned_year",
        "年度计划投资: the latest investment_planned_year reported in the year up to the quarter the figures stand at (see 时间进度), 亿元",
    ),
    (
        "investment_known",
        "计入投资项目数: the projects whose year plan and completed investment (below) are both known; 年度计划投资 and 完成投资 sum only them, and are empty where there are none (not 0: nothing is known)",
    ),
    (
        "completed_year",
        "完成投资: over the year's quarters to the one the figures stand at (see 时间进度), each quarter's investment_period, 亿元, else the rise of the cumulative figure over the quarter; the cumulative figure at a quarter's end is its report's investment_to_date, else the quarter before's plus its investment_period, and 0 before a report whose investment_to_date is its own quarter's amount or 0; a run of quarters whose amounts are not known so takes the rise of the cumulative figure over it; a project whose completed investment is unknown is left out of both sums and of the investment rule",
    ),
    (
        "time_progress",
        "时间进度: the share of the year elapsed at the end of the last quarter over by the as_of day (Q1 25% … Q4 100%): while a quarter is under way the investment figures stand at the end of the quarter before, for every project alike, and its own reports count once it ends",
    ),
    (
        "behind",
        "滞后: suspended (暂停), or investment completed this year below time progress × the year's plan, or a milestone (as its latest report states it) due by the as_of day without an actual date by then",
    ),
    (
        "groups",
        "a project in several regions or cities counts in each; the totals count it once; it counts where it lies now, with all its reports (a change of its place corrects where it is, so earlier periods' tables follow it)",
    ),
    (
        "completed_in_span",
        "期内完成投资: what the reports say was invested over the span's quarters to the one the figures stand at (see 时间进度), by the same rule as 完成投资 (what cannot be bridged is left out, the rest still counted), whether or not the project reported a year plan; the table's 完成投资 counts only projects with a year plan and every quarter of the year known, so it can be less; empty (not 0) when no report says what any quarter of the span saw invested",
    ),
];

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// By plan region.
    Region,
    /// By city.
    City,
    /// By project category.
    Category,
}

impl GroupBy {
    /// Reads `region`, `city` or `category`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "region" => Some(Self::Region),
            "city" => Some(Self::City),
            "category" => Some(Self::Category),
            _ => None,
        }
    }

    /// Chinese heading of the group column.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Region => "区域",
            Self::City => "城市",
            Self::Category => "类别",
        }
    }
}

/// One row of the dispatch table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    /// Region id, city adcode or category.
    pub key: String,
    /// Its Chinese name.
    pub name_zh: String,
    /// Projects in the group.
    pub projects: usize,
    /// Of them, with a report by the quarter (that quarter's or an earlier one: a stage stands until a later
    /// report changes it).
    pub reported: usize,
    /// Of them, with a report for a quarter of the span: the rest stand on an earlier report (`reported`) or none.
    pub reported_in_span: usize,
    /// Projects by stage (every stage and 未报告).
    pub stages: BTreeMap<String, usize>,
    /// Started (新开工, 在建, 竣工, 投产运营).
    pub started: usize,
    /// started / reported.
    pub start_rate: Option<f64>,
    /// Projects whose year figures are known (a year plan, and the completed investment of every quarter of
    /// the year to the one the figures stand at): the ones the two sums count.
    pub investment_known: usize,
    /// Investment planned for the year, 亿元; `None` when no project's figures are known.
    pub planned_year: Option<f64>,
    /// Investment completed in the year to the quarter's end, 亿元; `None` when no project's figures are known.
    pub completed_year: Option<f64>,
    /// completed / planned.
    pub completion_rate: Option<f64>,
    /// Share of the year elapsed.
    pub time_progress: f64,
    /// Projects behind schedule.
    pub behind: usize,
}

/// A project behind schedule.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Behind {
    /// Project id.
    pub project: String,
    /// Chinese name.
    pub name_zh: String,
    /// Its cities.
    pub city_names: Vec<String>,
    /// Stage in the quarter.
    pub stage: String,
    /// The quarter of the report the stage comes from (it may be before the span: a stage stands until a later
    /// report changes it).
    pub stage_period: Option<String>,
    /// Why it is behind.
    pub reasons: Vec<String>,
}

/// A stage change over a summary's span.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StageChange {
    /// Project id.
    pub project: String,
    /// Chinese name.
    pub name_zh: String,
    /// Stage before the span (未报告 when none).
    pub from: String,
    /// Stage at its end.
    pub to: String,
}

/// A dispatch report (or a summary: then `span` is a half year or a year and `changes` is filled).
#[derive(Debug, Clone, Serialize)]
pub struct Dispatch {
    /// The period asked for (2024Q2, 2024H1, 2024).
    pub span: String,
    /// The quarter the table stands at (the span's last).
    pub quarter: String,
    /// The day it stands at: the quarter's last day, or today (Liaoning's date) while the quarter is under way.
    pub as_of: String,
    /// How rows are grouped.
    pub by: GroupBy,
    /// One row per group, then.
    pub rows: Vec<Row>,
    /// Every project once.
    pub total: Row,
    /// Projects behind schedule.
    pub behind: Vec<Behind>,
    /// Reports made in the span.
    pub reports_in_span: usize,
    /// Investment completed in the span, 亿元; `None` when no report says what any quarter of it saw.
    pub completed_in_span: Option<f64>,
    /// Stage changes over the span (summaries).
    pub changes: Vec<StageChange>,
}

struct ProjectState<'a> {
    id: &'a str,
    name_zh: String,
    city_names: Vec<String>,
    groups: Vec<String>,
    stage: &'static str,
    /// The quarter of the latest report by then.
    stage_period: Option<Period>,
    /// Whether it reported for a quarter of the span.
    reported_in_span: bool,
    /// Started by then (a later pause does not undo a start).
    started: bool,
    /// The year's plan and what was completed of it, when what was completed is known.
    investment: Option<(f64, f64)>,
    behind: Vec<String>,
}

/// Rounded to 4 decimals; `+ 0.0` turns the `-0.0` an empty float sum gives into `0`.
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0 + 0.0
}

/// The point the investment rule stands at for `q` on `as_of`: the quarter whose end it is judged at (the last
/// quarter of `q`'s year that has ended by then: `q` itself once over, the quarter before while `q` is under
/// way, none in a first quarter under way) and the share of the year elapsed at its end (时间进度). Every project
/// is judged at the same point, so reporting in a quarter under way neither helps nor harms.
fn standing_point(q: Period, as_of: chrono::NaiveDate) -> (Option<Period>, f64) {
    if as_of >= q.end() {
        return (Some(q), q.year_elapsed());
    }
    let before = q.start().pred_opt().map(Period::quarter_of).filter(|b| b.year == q.year);
    (before, before.map_or(0.0, Period::year_elapsed))
}

/// The cumulative investment a project's reports (sorted) say it had reached at the end of a quarter: a
/// report's `investment_to_date`; else the quarter before's figure plus the report's `investment_period`; and
/// 0 before a report that says nothing was invested before its quarter (its cumulative figure is its own
/// quarter's amount, or 0). `None` where nothing says (a quarter with no report is never taken as nothing).
struct Cumulative {
    known: BTreeMap<Period, f64>,
    /// Before this quarter, nothing was invested.
    zero_before: Option<Period>,
}

impl Cumulative {
    fn of(reports: &[&Report]) -> Self {
        let mut known = BTreeMap::new();
        let mut zero_before: Option<Period> = None;
        let mut carried: Option<(Period, f64)> = None;
        for r in reports {
            let before = r.period.start().pred_opt().map(Period::quarter_of);
            let from_before = carried.filter(|(q, _)| Some(*q) == before).map(|(_, c)| c);
            let here = r.investment_to_date.or_else(|| Some(from_before? + r.investment_period?));
            if let Some(c) = here {
                known.insert(r.period, c);
            }
            carried = here.map(|c| (r.period, c));
            let nothing_before = match (r.investment_to_date, r.investment_period) {
                (Some(d), Some(p)) => (d - p).abs() < 1e-9,
                (Some(d), None) => d.abs() < 1e-9,
                _ => false,
            };
            if nothing_before {
                zero_before = Some(r.period);
            }
        }
        Self { known, zero_before }
    }

    /// The cumulative figure at the end of `q`.
    fn at(&self, q: Period) -> Option<f64> {
        self.known.get(&q).copied().or_else(|| self.zero_before.filter(|z| q < *z).map(|_| 0.0))
    }
}

/// What a project's reports (sorted, none after the last of `quarters`) say was invested over `quarters`
/// (consecutive): the sum of what is known, whether all of it is, and whether any of it is. A quarter's amount is its report's
/// `investment_period`, else the rise of the cumulative figure ([`Cumulative`]) over it; a run of quarters whose
/// amounts are not known that way is bridged by the rise of the cumulative figure from the quarter before the
/// run to the first quarter after whose figure is known. What cannot be bridged is left out, never counted as
/// nothing invested, and the quarters after it are still counted.
fn invested_over(reports: &[&Report], quarters: &[Period]) -> (f64, bool, bool) {
    let cumulative = Cumulative::of(reports);
    let before = |q: Period| q.start().pred_opt().map(Period::quarter_of).and_then(|b| cumulative.at(b));
    let amount = |q: Period| {
        reports
            .iter()
            .find(|r| r.period == q)
            .and_then(|r| r.investment_period)
            .or_else(|| Some(cumulative.at(q)? - before(q)?))
    };
    let (mut sum, mut known, mut any) = (0.0, true, false);
    let mut k = 0;
    while k < quarters.len() {
        if let Some(a) = amount(quarters[k]) {
            sum += a;
            any = true;
            k += 1;
            continue;
        }
        let end = (k..quarters.len()).find(|&j| cumulative.at(quarters[j]).is_some());
        match (end, before(quarters[k])) {
            (Some(e), Some(b)) => {
                sum += cumulative.at(quarters[e]).unwrap_or(b) - b;
                any = true;
                k = e + 1;
            }
            _ => {
                known = false;
                k += 1;
            }
        }
    }
    (sum, known, any)
}

/// Investment completed in `through`'s year from its first quarter to `through` ([`invested_over`]), when all
/// of it is known.
fn completed_through(reports: &[&Report], through: Period) -> Option<f64> {
    let year: Vec<Period> = Period { year: through.year, months: (1, 12) }
        .quarters()
        .into_iter()
        .filter(|k| *k <= through)
        .collect();
    let (sum, known, _) = invested_over(reports, &year);
    known.then_some(sum)
}

/// The stage a summary or dispatch over the quarters `first..=q` counts a project in, by its reports up to `q`
/// (sorted): its latest report's stage in `q` ([`progress::stage_in`]), except that a project whose work
/// started (新开工) within the span and is under construction at its end counts as 新开工, so a half year's or a
/// year's summary counts every start in it, not only those of its last quarter.
fn stage_over(upto: &[&Report], first: Period, q: Period) -> &'static str {
    let Some(latest) = upto.last() else { return NOT_REPORTED.0 };
    let stage = progress::stage_in(latest, q);
    if stage == "在建" && upto.iter().any(|r| r.stage == "新开工" && r.period >= first) {
        "新开工"
    } else {
        stage
    }
}

/// What a report is made over and stands at: the span's first and last quarters, the day it stands at, and
/// the point its investment figures stand at ([`standing_point`]).
#[derive(Clone, Copy)]
struct Span {
    first: Period,
    q: Period,
    as_of: chrono::NaiveDate,
    through: Option<Period>,
    elapsed: f64,
}

fn project_state<'a>(
    f: &'a super::Feature,
    reports: &[&Report],
    span: Span,
    by: GroupBy,
) -> ProjectState<'a> {
    let Span { first, q, as_of, through, elapsed } = span;
    let upto: Vec<&Report> = reports.iter().copied().filter(|r| r.period <= q).collect();
    let latest = upto.last().copied();
    let stage = stage_over(&upto, first, q);
    let started = upto.iter().any(|r| STARTED.contains(&r.stage));
    // The year's plan as it stood at that point too: a plan filed in the quarter under way counts once it ends.
    let planned_year = through.and_then(|t| {
        upto.iter()
            .rev()
            .filter(|r| r.period.year == q.year && r.period <= t)
            .find_map(|r| r.investment_planned_year)
    });
    let investment = planned_year.and_then(|plan| {
        let completed = match through {
            Some(t) => completed_through(&upto, t)?,
            None => 0.0,
        };
        Some((plan, completed))
    });
    let mut behind = Vec::new();
    if stage == "暂停" {
        behind.push("暂停 suspended".to_owned());
    }
    if let Some((plan, completed)) = investment.filter(|(p, _)| *p > 0.0)
        && completed / plan + 1e-9 < elapsed
    {
        behind.push(format!(
            "投资完成 {:.1}% < 时间进度 {:.1}% (investment {} of {plan} 亿元)",
            completed / plan * 100.0 + 0.0,
            elapsed * 100.0,
            round(completed)
        ));
    }
    // Each milestone as its latest mention states it: a report that leaves it out does not make it met.
    let mut milestones: Vec<&progress::Milestone> = Vec::new();
    for r in &upto {
        for m in &r.milestones {
            match milestones.iter_mut().find(|k| k.name == m.name) {
                Some(k) => *k = m,
                None => milestones.push(m),
            }
        }
    }
    for m in milestones {
        if let Some(p) = m.planned
            && p <= as_of
            && m.actual.is_none_or(|a| a > as_of)
        {
            behind.push(format!("时间节点 {} 计划 {p} 未完成 (milestone due, not reached)", m.name));
        }
    }
    let groups = match by {
        GroupBy::Region => f.str_list("region_ids").map(str::to_owned).collect(),
        GroupBy::City => f.str_list("city_adcodes").map(str::to_owned).collect(),
        GroupBy::Category => f.str_prop("category").map(str::to_owned).into_iter().collect(),
    };
    ProjectState {
        id: &f.id,
        name_zh: f.str_prop("name_zh").unwrap_or(&f.id).to_owned(),
        city_names: f.str_list("city_names").map(str::to_owned).collect(),
        groups,
        stage,
        stage_period: latest.map(|r| r.period),
        reported_in_span: upto.iter().any(|r| r.period >= first),
        started,
        investment,
        behind,
    }
}

fn row(key: String, name_zh: String, states: &[&ProjectState<'_>], time_progress: f64) -> Row {
    let mut stages: BTreeMap<String, usize> =
        STAGES.iter().map(|s| (s.0.to_owned(), 0)).chain([(NOT_REPORTED.0.to_owned(), 0)]).collect();
    for s in states {
        *stages.entry(s.stage.to_owned()).or_default() += 1;
    }
    let reported = states.iter().filter(|s| s.stage != NOT_REPORTED.0).count();
    let reported_in_span = states.iter().filter(|s| s.reported_in_span).count();
    let started = states.iter().filter(|s| s.started).count();
    let investment_known = states.iter().filter(|s| s.investment.is_some()).count();
    let planned_year: f64 = states.iter().filter_map(|s| s.investment.map(|i| i.0)).sum();
    let completed_year: f64 = states.iter().filter_map(|s| s.investment.map(|i| i.1)).sum();
    let known = |sum: f64| (investment_known > 0).then(|| round(sum));
    Row {
        key,
        name_zh,
        projects: states.len(),
        reported,
        reported_in_span,
        stages,
        started,
        start_rate: (reported > 0).then(|| round(started as f64 / reported as f64)),
        investment_known,
        planned_year: known(planned_year),
        completed_year: known(completed_year),
        completion_rate: (planned_year > 0.0).then(|| round(completed_year / planned_year)),
        time_progress,
        behind: states.iter().filter(|s| !s.behind.is_empty()).count(),
    }
}

/// The dispatch table for `span` (a quarter, or a half year or a year for a summary), grouped `by`, as it
/// stands on `today` (Liaoning's date): a span still under way stands at today, not at its end.
pub fn dispatch(catalog: &Catalog, span: Period, by: GroupBy, today: chrono::NaiveDate) -> Dispatch {
    let quarters = span.quarters();
    let q = quarters.last().copied().unwrap_or(span);
    let first = quarters.first().copied().unwrap_or(span);
    let as_of = q.end().min(today.max(q.start()));
    let (through, elapsed) = standing_point(q, as_of);
    let at = Span { first, q, as_of, through, elapsed };
    let grouped = progress::by_project(catalog.progress_reports());
    let none: Vec<&Report> = Vec::new();
    let projects = catalog.projects().features();
    let states: Vec<ProjectState<'_>> = projects
        .iter()
        .map(|f| project_state(f, grouped.get(f.id.as_str()).unwrap_or(&none), at, by))
        .collect();
    let name_of = |key: &str| -> String {
        match by {
            GroupBy::Region => {
                catalog.regions().get(key).and_then(|f| f.str_prop("name_zh")).unwrap_or(key).to_owned()
            }
            GroupBy::City => {
                catalog.cities().get(key).and_then(|f| f.str_prop("name_zh")).unwrap_or(key).to_owned()
            }
            GroupBy::Category => crate::domain::project::CATEGORY_ZH
                .iter()
                .find(|c| c.0 == key)
                .map_or(key, |c| c.1)
                .to_owned(),
        }
    };
    // Groups in the order of their collection (regions, cities) or of the category list.
    let order: Vec<String> = match by {
        GroupBy::Region => catalog.regions().features().iter().map(|f| f.id.clone()).collect(),
        GroupBy::City => catalog.cities().features().iter().map(|f| f.id.clone()).collect(),
        GroupBy::Category => crate::domain::project::CATEGORY_ZH.iter().map(|c| c.0.to_owned()).collect(),
    };
    let rows = order
        .into_iter()
        .filter_map(|key| {
            let members: Vec<&ProjectState<'_>> = states.iter().filter(|s| s.groups.contains(&key)).collect();
            (!members.is_empty()).then(|| row(key.clone(), name_of(&key), &members, elapsed))
        })
        .collect();
    let all: Vec<&ProjectState<'_>> = states.iter().collect();
    let total = row("total".into(), "合计".into(), &all, elapsed);
    let behind = states
        .iter()
        .filter(|s| !s.behind.is_empty())
        .map(|s| Behind {
            project: s.id.to_owned(),
            name_zh: s.name_zh.clone(),
            city_names: s.city_names.clone(),
            stage: s.stage.to_owned(),
            stage_period: s.stage_period.map(|p| p.to_string()),
            reasons: s.behind.clone(),
        })
        .collect();
    let in_span: Vec<&Report> =
        catalog.progress_reports().iter().filter(|r| quarters.contains(&r.period)).collect();
    // By the same rule as the year's completed investment ([`invested_over`]), to the same point (a quarter
    // under way counts once it ends); what cannot be known is left out. Unlike the table's, this counts
    // projects with no year plan too (the `completed_in_span` definition says so).
    let counted: Vec<Period> =
        quarters.iter().copied().filter(|k| through.is_some_and(|t| *k <= t)).collect();
    let (sum, any) = grouped.values().fold((0.0, false), |(sum, any), list| {
        let upto: Vec<&Report> = list.iter().copied().filter(|r| r.period <= q).collect();
        let (s, _, a) = invested_over(&upto, &counted);
        (sum + s, any || a)
    });
    // Empty, not 0, when no report says what any quarter of the span saw invested.
    let completed_in_span = any.then(|| round(sum));
    let mut changes = Vec::new();
    if quarters.len() > 1 {
        for f in projects {
            let list = grouped.get(f.id.as_str()).unwrap_or(&none);
            // As the tables count them: a 新开工 of an earlier quarter is 在建.
            let before_q = first.start().pred_opt().map_or(first, Period::quarter_of);
            let before = list
                .iter()
                .rev()
                .find(|r| r.period < first)
                .map_or(NOT_REPORTED.0, |r| progress::stage_in(r, before_q));
            let upto: Vec<&Report> = list.iter().copied().filter(|r| r.period <= q).collect();
            let after = stage_over(&upto, first, q);
            if before != after {
                changes.push(StageChange {
                    project: f.id.clone(),
                    name_zh: f.str_prop("name_zh").unwrap_or(&f.id).to_owned(),
                    from: before.to_owned(),
                    to: after.to_owned(),
                });
            }
        }
    }
    Dispatch {
        span: span.to_string(),
        quarter: q.to_string(),
        as_of: as_of.to_string(),
        by,
        rows,
        total,
        behind,
        reports_in_span: in_span.len(),
        completed_in_span,
        changes,
    }
}

/// The Chinese column headings of the table, in order, and the values of a row under them.
pub fn table(d: &Dispatch) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut head: Vec<String> =
        vec![d.by.zh().to_owned(), "项目数".into(), "已报告(含往期)".into(), "本期报告".into()];
    head.extend(STAGES.iter().map(|s| s.0.to_owned()));
    head.push(NOT_REPORTED.0.to_owned());
    head.extend(
        [
            "开工数",
            "开工率",
            "计入投资项目数",
            "年度计划投资(亿元)",
            "本年累计完成投资(亿元)",
            "投资完成率",
            "时间进度",
            "滞后项目数",
        ]
        .map(str::to_owned),
    );
    let cells = |r: &Row| -> Vec<Value> {
        let mut v: Vec<Value> =
            vec![r.name_zh.clone().into(), r.projects.into(), r.reported.into(), r.reported_in_span.into()];
        v.extend(STAGES.iter().map(|s| r.stages.get(s.0).copied().unwrap_or(0).into()));
        v.push(r.stages.get(NOT_REPORTED.0).copied().unwrap_or(0).into());
        v.push(r.started.into());
        v.push(r.start_rate.map_or(Value::Null, Value::from));
        v.push(r.investment_known.into());
        v.push(r.planned_year.map_or(Value::Null, Value::from));
        v.push(r.completed_year.map_or(Value::Null, Value::from));
        v.push(r.completion_rate.map_or(Value::Null, Value::from));
        v.push(r.time_progress.into());
        v.push(r.behind.into());
        v
    };
    let mut rows: Vec<Vec<Value>> = d.rows.iter().map(cells).collect();
    rows.push(cells(&d.total));
    (head, rows)
}
