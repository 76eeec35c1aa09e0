//! Following the plan (part 八: 季调度, 半年小结, 年终总结, 区域统计): quarterly progress reports per project,
//! each project's state at a date, measured indicator values and where each target stands.
//!
//! Records are typed here once and validated once, for the loader (the shipped `progress.json` and
//! `indicators.json`), the store's records and the writes alike; the catalog then derives every project's
//! state and every target's status from them in one step that reruns after each write.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, FixedOffset, NaiveDate};
use serde_json::{Map, Value, json};

/// The first year a progress report may be for: the plan runs 2022–2024 (and its follow-up years after).
pub const PLAN_FIRST_YEAR: i32 = 2022;

/// Liaoning's clock: China Standard Time, UTC+8 all year. The plan's days and quarters are its days, so a
/// report made at 02:00 on 1 January in Shenyang is in the new year although it is still 31 December in UTC.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Today in Liaoning.
pub fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&china()).date_naive()
}

/// The day in Liaoning of one end of a `datetime` parameter: an RFC 3339 instant (any offset) on China's
/// clock, a date as written.
pub fn day_of(s: &str) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&china()).date_naive())
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}
/// The first year an indicator value may be for: 2021 is the plan's baseline year.
pub const BASELINE_YEAR: i32 = 2021;

/// A project's stage: (Chinese as written in reports, English, order along the life of a project).
/// `暂停` has no place in the order: it may follow any stage before completion and be followed by one.
pub const STAGES: &[(&str, &str, u8)] = &[
    ("前期", "preparatory", 0),
    ("新开工", "started", 1),
    ("在建", "under construction", 2),
    ("竣工", "completed", 3),
    ("投产运营", "in operation", 4),
    ("暂停", "suspended", 9),
];

/// The longest milestone name a report may give, in characters.
pub const MILESTONE_NAME_MAX: usize = 200;

/// The stage shown for a project no report speaks of.
pub const NOT_REPORTED: (&str, &str) = ("未报告", "not reported");

/// The stages counted as started (开工) in the start rate (开工率).
pub const STARTED: &[&str] = &["新开工", "在建", "竣工", "投产运营"];

/// The English name of a stage (or of "not reported").
pub fn stage_en(zh: &str) -> &'static str {
    STAGES.iter().find(|s| s.0 == zh).map_or(NOT_REPORTED.1, |s| s.1)
}

/// A reporting period: a quarter (`2024Q2`), a half year (`2024H1`) or a year (`2024`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// The year.
    pub year: i32,
    /// First and last month (1–12).
    pub months: (u32, u32),
}

impl Period {
    /// Reads `2024Q2`, `2024H1` or `2024`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad =
            || format!("'{raw}' is not a period: a quarter (2024Q2), a half year (2024H1) or a year (2024)");
        let s = raw.trim();
        let year: i32 = s
            .get(..4)
            .filter(|y| y.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        let months = match &s[4..] {
            "" => (1, 12),
            "Q1" | "q1" => (1, 3),
            "Q2" | "q2" => (4, 6),
            "Q3" | "q3" => (7, 9),
            "Q4" | "q4" => (10, 12),
            "H1" | "h1" => (1, 6),
            "H2" | "h2" => (7, 12),
            _ => return Err(bad()),
        };
        Ok(Self { year, months })
    }

    /// The quarter containing a date.
    pub fn quarter_of(d: NaiveDate) -> Self {
        let q = (d.month() - 1) / 3;
        Self { year: d.year(), months: (q * 3 + 1, q * 3 + 3) }
    }

    /// Whether it is a quarter.
    pub fn is_quarter(self) -> bool {
        self.months.1 - self.months.0 == 2
    }

    /// Whether it is a whole year.
    pub fn is_year(self) -> bool {
        self.months == (1, 12)
    }

    /// Its first day.
    pub fn start(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.months.0, 1).unwrap_or(NaiveDate::MIN)
    }

    /// Its last day.
    pub fn end(self) -> NaiveDate {
        let (y, m) = if self.months.1 == 12 { (self.year + 1, 1) } else { (self.year, self.months.1 + 1) };
        NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MAX)
    }

    /// The quarters it spans, in order.
    pub fn quarters(self) -> Vec<Period> {
        (self.months.0..=self.months.1)
            .step_by(3)
            .map(|m| Self { year: self.year, months: (m, m + 2) })
            .collect()
    }

    /// The share of its year elapsed at its end (时间进度): Q1 0.25, H1 0.5, a year 1.
    pub fn year_elapsed(self) -> f64 {
        f64::from(self.months.1) / 12.0
    }

    /// The time, in fractional years, at its end (the end of 2023 is 2024.0).
    pub fn end_years(self) -> f64 {
        f64::from(self.year) + self.year_elapsed()
    }

    /// The ISO 8601 interval of its days, `2024-04-01/2024-06-30`.
    pub fn interval(self) -> String {
        format!("{}/{}", self.start(), self.end())
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.months {
            (1, 12) => write!(f, "{}", self.year),
            (1, 6) => write!(f, "{}H1", self.year),
            (7, 12) => write!(f, "{}H2", self.year),
            (m, _) => write!(f, "{}Q{}", self.year, (m - 1) / 3 + 1),
        }
    }
}

/// One milestone (时间节点) of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    /// What it is (开工, 主体完工, 通车…).
    pub name: String,
    /// When it was planned.
    pub planned: Option<NaiveDate>,
    /// When it happened, if it has.
    pub actual: Option<NaiveDate>,
}

/// One quarterly progress report of one project, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `{project}@{period}`.
    pub id: String,
    /// The project's id.
    pub project: String,
    /// The quarter.
    pub period: Period,
    /// Its stage (Chinese, one of [`STAGES`]).
    pub stage: &'static str,
    /// Total investment, 亿元.
    pub investment_total: Option<f64>,
    /// Investment planned for the report's year, 亿元.
    pub investment_planned_year: Option<f64>,
    /// Investment completed in the quarter, 亿元.
    pub investment_period: Option<f64>,
    /// Investment completed to date (cumulative), 亿元.
    pub investment_to_date: Option<f64>,
    /// Milestones with their planned and actual dates.
    pub milestones: Vec<Milestone>,
    /// Where the figures come from.
    pub source: String,
    /// The record as written (input properties).
    pub record: Map<String, Value>,
}

/// The properties a progress report is written with; the rest is derived.
pub const PROGRESS_INPUT: &[&str] = &[
    "id",
    "project",
    "period",
    "stage",
    "investment_total",
    "investment_planned_year",
    "investment_period",
    "investment_to_date",
    "milestones",
    "note",
    "source",
    "source_title",
    "quote",
    "reported_by",
];

/// The properties an indicator value is written with.
pub const INDICATOR_INPUT: &[&str] =
    &["id", "target", "period", "value", "unit", "source", "source_title", "quote", "note", "reported_by"];

/// The id of a project's report for a period.
pub fn report_id(project: &str, period: &str) -> String {
    format!("{project}@{period}")
}

/// The most investment one report may state, in 亿元 (10 万亿元, several times Liaoning's yearly GDP): more is
/// a slip of the unit, and sums of such numbers would overflow the reports' totals.
pub const MAX_INVESTMENT: f64 = 100_000.0;

fn number(m: &Map<String, Value>, k: &str) -> Result<Option<f64>, String> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if (0.0..=MAX_INVESTMENT).contains(&x) => Ok(Some(x)),
            Some(x) if x.is_finite() && x >= 0.0 => Err(format!(
                "{k}: {n} 亿元 is more than {MAX_INVESTMENT} 亿元 (10 万亿元) for one project; amounts are in 亿元"
            )),
            _ => Err(format!("{k}: {n} is not a non-negative number (亿元)")),
        },
        Some(other) => Err(format!("{k}: {other} is not a number (亿元) or null")),
    }
}

fn date(v: Option<&Value>, what: &str) -> Result<Option<NaiveDate>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{what}: '{s}' is not a date (YYYY-MM-DD)")),
        Some(other) => Err(format!("{what}: {other} is not a date (YYYY-MM-DD) or null")),
    }
}

fn text<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, String> {
    match m.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_) | Value::Null) | None => Err(format!("{k} is required")),
        Some(other) => Err(format!("{k}: {other} is not a string")),
    }
}

/// A period a record may be for: inside the plan's range or later, and begun by `today`.
fn check_period(raw: &str, first_year: i32, today: NaiveDate, quarter_only: bool) -> Result<Period, String> {
    let p = Period::parse(raw).map_err(|e| format!("period: {e}"))?;
    if quarter_only && !p.is_quarter() {
        return Err(format!("period: '{raw}' is not a quarter; reports are quarterly (季调度): 2024Q2"));
    }
    if p.year < first_year {
        return Err(format!(
            "period: {p} is before {first_year}, outside the plan's range (2022–2024 and after)"
        ));
    }
    if p.start() > today {
        return Err(format!("period: {p} has not begun yet ({} is after today, {today})", p.start()));
    }
    Ok(p)
}

/// Reads one progress report (its input properties) and checks it on its own. `today` bounds the period.
pub fn read_report(m: &Map<String, Value>, today: NaiveDate) -> Result<Report, String> {
    let project = text(m, "project")?.to_owned();
    let period_raw = text(m, "period")?;
    let period = check_period(period_raw, PLAN_FIRST_YEAR, today, true)?;
    let stage_raw = text(m, "stage")?;
    let stage =
        STAGES.iter().find(|s| s.0 == stage_raw || s.1 == stage_raw).map(|s| s.0).ok_or_else(|| {
            format!(
                "stage: '{stage_raw}' is not one of {}",
                STAGES.iter().map(|s| format!("{} ({})", s.0, s.1)).collect::<Vec<_>>().join(", ")
            )
        })?;
    let id = report_id(&project, &period.to_string());
    if let Some(given) = m.get("id").and_then(Value::as_str)
        && given != id
    {
        return Err(format!("id: '{given}' is not '{id}' (a report's id is project@period)"));
    }
    let (investment_total, investment_planned_year, investment_period, investment_to_date) = (
        number(m, "investment_total")?,
        number(m, "investment_planned_year")?,
        number(m, "investment_period")?,
        number(m, "investment_to_date")?,
    );
    if let (Some(q), Some(d)) = (investment_period, investment_to_date)
        && q > d + 1e-9
    {
        return Err(format!(
            "investment_period: {q} 亿元 completed in the quarter exceeds investment_to_date {d} 亿元"
        ));
    }
    if let (Some(d), Some(t)) = (investment_to_date, investment_total)
        && d > t + 1e-9
    {
        return Err(format!(
            "investment_to_date: {d} 亿元 completed exceeds investment_total {t} 亿元; if the project's total has \
             grown, report the new investment_total"
        ));
    }
    let milestones = match m.get("milestones") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let o = v.as_object().ok_or_else(|| format!("milestones[{i}] is not an object"))?;
                let name = o
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| format!("milestones[{i}].name is required"))?;
                if name.chars().count() > MILESTONE_NAME_MAX {
                    return Err(format!(
                        "milestones[{i}].name: {} characters; a milestone's name is at most {MILESTONE_NAME_MAX} (put the \
                         detail in note)",
                        name.chars().count()
                    ));
                }
                let planned = date(o.get("planned"), &format!("milestones[{i}].planned"))?;
                let actual = date(o.get("actual"), &format!("milestones[{i}].actual"))?;
                if actual.is_some_and(|a| a > today) {
                    return Err(format!("milestones[{i}].actual is in the future: nothing has happened yet"));
                }
                if let Some(a) = actual.filter(|a| *a > period.end()) {
                    return Err(format!(
                        "milestones[{i}].actual: {a} is after the end of {period} ({}), the quarter this report \
                         describes; report it in the quarter it happened",
                        period.end()
                    ));
                }
                Ok(Milestone { name: name.to_owned(), planned, actual })
            })
            .collect::<Result<_, String>>()?,
        Some(_) => return Err("milestones must be an array of {name, planned, actual}".into()),
    };
    let source = text(m, "source")?.to_owned();
    let mut record: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| PROGRESS_INPUT.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    record.insert("id".into(), json!(id));
    record.insert("period".into(), json!(period.to_string()));
    record.insert("stage".into(), json!(stage));
    Ok(Report {
        id,
        project,
        period,
        stage,
        investment_total,
        investment_planned_year,
        investment_period,
        investment_to_date,
        milestones,
        source,
        record,
    })
}

fn order(stage: &str) -> u8 {
    STAGES.iter().find(|s| s.0 == stage).map_or(0, |s| s.2)
}

/// Whether a project may go from stage `a` (an earlier period) to stage `b` (a later one).
pub fn stage_follows(a: &str, b: &str) -> bool {
    match (a, b) {
        (_, "暂停") => ["前期", "新开工", "在建", "暂停"].contains(&a),
        // Work resumes where it stood before the pause (checked by `check_sequence`), and may be finished by the
        // next report.
        ("暂停", _) => true,
        // 新开工 is the quarter work starts: it starts once, and the next quarter is 在建, or later.
        ("新开工", "新开工") => false,
        _ => order(b) >= order(a),
    }
}

/// Checks one project's reports together (sorted by period): stages that make sense, cumulative investment
/// that never falls. Returns the id of the first report that breaks a rule, and why.
pub fn check_sequence(reports: &[&Report]) -> Result<(), (String, String)> {
    // The last stage before a pause: work resumes from there, never from an earlier one.
    let mut active: Option<&Report> = None;
    for w in reports.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.stage != "暂停" {
            active = Some(a);
        }
        let resumed_behind = a.stage == "暂停"
            && b.stage != "暂停"
            && active.is_some_and(|s| !stage_follows(s.stage, b.stage));
        if resumed_behind {
            let s = active.map_or(a, |s| s);
            return Err((
                b.id.clone(),
                format!(
                    "stage: {} ({}) in {} cannot follow {} ({}) in {}, before the pause in {}: a pause resumes \
                     where the project was",
                    b.stage,
                    stage_en(b.stage),
                    b.period,
                    s.stage,
                    stage_en(s.stage),
                    s.period,
                    a.period
                ),
            ));
        }
        if !stage_follows(a.stage, b.stage) {
            return Err((
                b.id.clone(),
                format!(
                    "stage: {} ({}) in {} cannot follow {} ({}) in {}",
                    b.stage,
                    stage_en(b.stage),
                    b.period,
                    a.stage,
                    stage_en(a.stage),
                    a.period
                ),
            ));
        }
    }
    // A year's plan is part of the project's total: never more than all of it, whichever is reported first.
    let mut plan_of_year: Option<(f64, &Report)> = None;
    let mut last: Option<&Report> = None;
    let mut total: Option<(f64, &Report)> = None;
    // The quarters' own amounts reported since `last` (or since the first report) with no cumulative figure:
    // the next cumulative figure has to have risen by at least their sum.
    let mut uncounted: Vec<&Report> = Vec::new();
    for r in reports {
        if let Some(t) = r.investment_total {
            total = Some((t, r));
        }
        if plan_of_year.is_some_and(|(_, at)| at.period.year != r.period.year) {
            plan_of_year = None;
        }
        if let Some(p) = r.investment_planned_year
            && plan_of_year.is_none_or(|(q, _)| p > q)
        {
            plan_of_year = Some((p, r));
        }
        if let (Some((p, planned)), Some((t, at))) = (plan_of_year, total)
            && p > t + 1e-9
        {
            return Err((
                r.id.clone(),
                format!(
                    "investment_planned_year: {p} 亿元 planned for {} (in {}) exceeds the project's investment_total \
                     {t} 亿元 (reported in {}); if the total has grown, report the new investment_total",
                    r.period.year, planned.period, at.period
                ),
            ));
        }
        if let Some(t) = r.investment_total {
            // `last` is the last report with a cumulative figure: a later total may not fall below it either.
            if let Some(at) = last
                && let Some(d) = at.investment_to_date
                && r.investment_to_date.is_none()
                && d > t + 1e-9
            {
                return Err((
                    r.id.clone(),
                    format!(
                        "investment_total: {t} 亿元 in {} is less than the investment_to_date {d} 亿元 reported in \
                         {}: what has been invested cannot exceed the total",
                        r.period, at.period
                    ),
                ));
            }
        }
        let Some(d) = r.investment_to_date else {
            if r.investment_period.is_some() {
                uncounted.push(r);
            }
            continue;
        };
        if let Some((t, at)) = total
            && d > t + 1e-9
        {
            return Err((
                r.id.clone(),
                format!(
                    "investment_to_date: {d} 亿元 in {} exceeds the investment_total {t} 亿元 reported in {}; if \
                     the project's total has grown, report the new investment_total",
                    r.period, at.period
                ),
            ));
        }
        let p = last.and_then(|prev| prev.investment_to_date).unwrap_or(0.0);
        let amounts: f64 = uncounted.iter().chain([r]).filter_map(|u| u.investment_period).sum();
        if uncounted.iter().any(|u| u.investment_period.is_some_and(|q| q > 0.0)) && amounts > d - p + 1e-9 {
            let since = last.map_or_else(|| "the first report".to_owned(), |prev| prev.period.to_string());
            let periods: Vec<String> = uncounted.iter().chain([r]).map(|u| u.period.to_string()).collect();
            return Err((
                r.id.clone(),
                format!(
                    "investment_period: the quarters' amounts since {since} ({}) add up to {amounts} 亿元, more than \
                     the rise of investment_to_date ({p} → {d} 亿元): part of them was not invested",
                    periods.join(", ")
                ),
            ));
        }
        uncounted.clear();
        if let Some(prev) = last
            && let Some(p) = prev.investment_to_date
        {
            if d + 1e-9 < p {
                return Err((
                    r.id.clone(),
                    format!(
                        "investment_to_date: {d} 亿元 in {} is less than {p} 亿元 in {}: cumulative investment never falls",
                        r.period, prev.period
                    ),
                ));
            }
            // The quarter's amount is part of what the cumulative figure rose by since the last report.
            if let Some(q) = r.investment_period
                && q > d - p + 1e-9
            {
                return Err((
                    r.id.clone(),
                    format!(
                        "investment_period: {q} 亿元 in {} exceeds the rise of investment_to_date since {} ({p} → {d} \
                         亿元)",
                        r.period, prev.period
                    ),
                ));
            }
        }
        last = Some(r);
    }
    Ok(())
}

/// A project's state at a date, from its reports.
#[derive(Debug, Clone, PartialEq)]
pub struct State<'a> {
    /// The latest report whose quarter has begun by the date.
    pub latest: &'a Report,
    /// The latest cumulative investment reported by then.
    pub to_date: Option<f64>,
    /// The latest total investment reported by then.
    pub total: Option<f64>,
}

/// The state of a project on `day` from its reports sorted by period; `None` when none has begun by then.
pub fn state_on<'a>(reports: &[&'a Report], day: NaiveDate) -> Option<State<'a>> {
    let known: Vec<&Report> = reports.iter().copied().filter(|r| r.period.start() <= day).collect();
    let latest = *known.last()?;
    Some(State {
        latest,
        to_date: known.iter().rev().find_map(|r| r.investment_to_date),
        total: known.iter().rev().find_map(|r| r.investment_total),
    })
}

/// The stage a project's latest report (up to quarter `q`) puts it in during `q`: 新开工 is the quarter work starts,
/// so a 新开工 reported in an earlier quarter is 在建 now. The dispatch tables, the projects' `stage` and the tiles
/// all go by this.
pub fn stage_in(latest: &Report, q: Period) -> &'static str {
    if latest.stage == "新开工" && latest.period < q { "在建" } else { latest.stage }
}

/// The derived progress properties of a project on `day` (stage, share of investment, last period).
pub fn state_properties(state: Option<&State<'_>>, day: NaiveDate) -> Map<String, Value> {
    let mut m = Map::new();
    let share = state.and_then(|s| match (s.to_date, s.total) {
        (Some(d), Some(t)) if t > 0.0 => Some((d / t * 1000.0).round() / 1000.0),
        _ => None,
    });
    let stage = state.map_or(NOT_REPORTED.0, |s| stage_in(s.latest, Period::quarter_of(day)));
    m.insert("stage".into(), json!(stage));
    m.insert("stage_en".into(), json!(stage_en(stage)));
    m.insert("progress_period".into(), json!(state.map(|s| s.latest.period.to_string())));
    m.insert("investment_total".into(), json!(state.and_then(|s| s.total)));
    m.insert("investment_to_date".into(), json!(state.and_then(|s| s.to_date)));
    m.insert("investment_share".into(), json!(share));
    m.insert("progress_source".into(), json!(state.map(|s| s.latest.source.clone())));
    m.insert("progress_as_of".into(), json!(day.to_string()));
    m
}

/// One measured value of a target, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// `{target}@{period}`.
    pub id: String,
    /// The target's id.
    pub target: String,
    /// The period measured.
    pub period: Period,
    /// The value, in the target's unit.
    pub value: f64,
    /// The record as written.
    pub record: Map<String, Value>,
}

/// Reads one indicator value and checks it against its target (same unit; a numeric target).
pub fn read_indicator(
    m: &Map<String, Value>,
    targets: &HashMap<String, &super::Properties, impl std::hash::BuildHasher>,
    today: NaiveDate,
) -> Result<Indicator, String> {
    let target = text(m, "target")?.to_owned();
    let t = targets.get(&target).ok_or_else(|| format!("target: there is no target '{target}'"))?;
    let period = check_period(text(m, "period")?, BASELINE_YEAR, today, false)?;
    let id = format!("{target}@{period}");
    if let Some(given) = m.get("id").and_then(Value::as_str)
        && given != id
    {
        return Err(format!("id: '{given}' is not '{id}' (an indicator value's id is target@period)"));
    }
    let value = match m.get("value") {
        Some(Value::Number(n)) => n.as_f64().filter(|x| x.is_finite()).ok_or("value: not a finite number")?,
        _ => return Err("value is required: a number".into()),
    };
    // What the target measures bounds its values: a share lies in 0–100 %, a growth rate may fall (but not
    // below −100 %), and a count, an amount or a duration is never negative.
    let comparator = t.get("comparator").and_then(Value::as_str).unwrap_or_default();
    let unit_of_target = t.get("unit").and_then(Value::as_str).unwrap_or_default();
    if comparator.starts_with("growth") {
        if !(-100.0..=1000.0).contains(&value) {
            return Err(format!("value: {value} % is not a growth rate (−100 % to 1000 %)"));
        }
    } else if unit_of_target == "%" {
        if !(0.0..=100.0).contains(&value) {
            return Err(format!("value: {value} % is not a share (0–100 %)"));
        }
    } else if value < 0.0 {
        return Err(format!("value: {value} {unit_of_target} is negative; '{target}' counts or sums"));
    }
    let unit = text(m, "unit")?;
    let want = t.get("unit").and_then(Value::as_str).unwrap_or_default();
    if t.get("comparator").and_then(Value::as_str) == Some("qualitative")
        || t.get("value").is_none_or(Value::is_null)
    {
        return Err(format!("target: '{target}' is qualitative ({want}); it takes no measured value"));
    }
    if unit != want {
        return Err(format!("unit: '{unit}' is not the target's unit '{want}' (convert before reporting)"));
    }
    let measure = Measure::of(t.get("measure").and_then(Value::as_str));
    if measure != Measure::Level && !period.is_year() {
        return Err(format!(
            "period: '{target}' is {} (measure {}): report a whole year (such as {}), not {period}",
            measure.describe(),
            measure.name(),
            period.year
        ));
    }
    if measure != Measure::Level && period.end() >= today {
        return Err(format!(
            "period: {period} has not ended (Liaoning's date is {today}): '{target}' is {}, reported once the \
             year is over",
            measure.describe()
        ));
    }
    text(m, "source")?;
    let mut record: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| INDICATOR_INPUT.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    record.insert("id".into(), json!(id));
    record.insert("period".into(), json!(period.to_string()));
    Ok(Indicator { id, target, period, value, record })
}

/// What a target's value measures, as the plan words it (`measure` in the data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// A level at a moment (a share, a count, a capacity, a rank): any period's value shows where it stands.
    Level,
    /// A year's total (GDP, an industry's output, throughput): only a whole year's value compares with it.
    YearTotal,
    /// A year's total that every year of the plan must reach (每年新增 10户).
    EachYear,
}

impl Measure {
    /// Every measure, in the order they are listed.
    pub const ALL: [Self; 3] = [Self::Level, Self::YearTotal, Self::EachYear];

    /// The measure named `raw` in the data, if it is one.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == raw)
    }

    /// Reads `measure` (absent: a level).
    pub fn of(raw: Option<&str>) -> Self {
        raw.and_then(Self::parse).unwrap_or(Self::Level)
    }

    /// Its name in the data.
    pub fn name(self) -> &'static str {
        match self {
            Self::Level => "level",
            Self::YearTotal => "year_total",
            Self::EachYear => "each_year",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Level => "a level",
            Self::YearTotal => "a year's total",
            Self::EachYear => "a total every year must reach",
        }
    }
}

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The latest value meets the target.
    Met,
    /// Not met yet, but at or ahead of the straight path from the baseline to the target by its year.
    OnTrack,
    /// Below that path, or the target year has passed without the target met.
    Behind,
    /// Nothing to judge by.
    NoData,
    /// Not met by the latest value, and the plan sets no year to judge the pace by.
    NotMet,
}

impl Status {
    /// Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Met => "已完成",
            Self::OnTrack => "进度正常",
            Self::Behind => "滞后",
            Self::NoData => "无数据",
            Self::NotMet => "未达到（无时限）",
        }
    }
}

/// The rule [`target_status`] follows, as served with every target.
pub const STATUS_RULE: &str = "Latest value v (the period ending last) against the target x due at the end of \
     target_year (rank<=: a rank, smaller is better). Met: the last value measured by the end of target_year meets \
     x by the comparator (= counts as reaching x); a value of a later period that meets it does not make it met \
     in time (the reason says 'met later'). Otherwise behind if the target year has ended; else on track if v \
     is at or beyond the straight path from the baseline (the earliest value, ideally 2021) to x at the end of \
     target_year, evaluated at the end of v's period; behind if not. growth>= \
     targets: the mean of the yearly growth values from 2022 up to target_year (later years are at most 'met \
     later'); met when it meets x and the target year is reported, on track when it meets x while the target year \
     is under way, behind when below or when the target year has ended without its value. growth-cumulative>= \
     targets (growth over the plan period, each value the growth so far) are judged like a level. A year's total \
     (measure year_total: GDP, output, throughput) takes whole years' values only; where a year and a part of it end \
     on the same day, the year's value decides. measure each_year (每年…): met when every year from 2022 to \
     target_year has a value meeting x; behind when a year's value does not, or when target_year has ended \
     without every year's value; on track while every year reported meets it. No target_year (the plan sets \
     none): met when the latest value meets x, else not_met (no pace or deadline is judged). No data: no value, \
     only one value of a level target (no baseline to draw the path from), or a qualitative target.";

/// A target's status from its values, with the figures that decided it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Standing {
    /// The status.
    pub status: Status,
    /// Why, in a sentence.
    pub reason: String,
    /// The latest value and its period.
    pub latest: Option<(f64, String)>,
    /// The value the straight path expects at the latest period's end.
    pub expected: Option<f64>,
}

/// Where a target (`comparator`, value `x`, due at the end of `target_year` when the plan sets one, measuring
/// `measure`) stands on `today` given its values.
pub fn target_status(
    comparator: &str,
    x: Option<f64>,
    target_year: Option<i32>,
    measure: Measure,
    values: &[&Indicator],
    today: NaiveDate,
) -> Standing {
    let none = |reason: &str| Standing {
        status: Status::NoData,
        reason: reason.to_owned(),
        latest: None,
        expected: None,
    };
    let Some(x) = x.filter(|_| comparator != "qualitative") else {
        return none("qualitative target: no measured value to compare");
    };
    let mut vals: Vec<&Indicator> =
        values.iter().copied().filter(|i| measure == Measure::Level || i.period.is_year()).collect();
    // By end, and of two ending the same day the longer last: a year's value decides over its last quarter's.
    vals.sort_by(|a, b| a.period.end().cmp(&b.period.end()).then(b.period.start().cmp(&a.period.start())));
    let Some(last) = vals.last().copied() else { return none("no measured value yet") };
    let latest = Some((last.value, last.period.to_string()));
    // A rank is better the smaller it is: rank<= 5 is met by 3 and not by 20.
    let meets = |v: f64, goal: f64| match comparator {
        "<=" | "rank<=" => v <= goal + 1e-9,
        "<" => v < goal,
        ">" => v > goal,
        _ => v + 1e-9 >= goal,
    };
    let Some(target_year) = target_year else {
        // No deadline in the plan: met or not by the latest value, with no pace to judge.
        let met = meets(last.value, x);
        return Standing {
            status: if met { Status::Met } else { Status::NotMet },
            reason: format!(
                "{} in {} {} {comparator} {x}; the plan sets no year to judge the pace by",
                last.value,
                last.period,
                if met { "meets" } else { "does not yet meet" }
            ),
            latest,
            expected: None,
        };
    };
    let due = f64::from(target_year + 1);
    let year_over = today > NaiveDate::from_ymd_opt(target_year, 12, 31).unwrap_or(NaiveDate::MAX);
    if comparator == "growth>=" {
        // The years of the plan up to the target year: a later year's growth does not make it met in time.
        let all_years: Vec<&Indicator> =
            vals.iter().copied().filter(|i| i.period.is_year() && i.period.year >= PLAN_FIRST_YEAR).collect();
        let yearly: Vec<&Indicator> =
            all_years.iter().copied().filter(|i| i.period.year <= target_year).collect();
        let mean_of = |v: &[&Indicator]| v.iter().map(|i| i.value).sum::<f64>() / v.len() as f64;
        let later = if all_years.len() > yearly.len() && mean_of(&all_years) + 1e-9 >= x {
            format!(
                " (met later: mean {:.2}% over {} year(s) to {})",
                mean_of(&all_years),
                all_years.len(),
                all_years.last().map_or(0, |i| i.period.year)
            )
        } else {
            String::new()
        };
        if yearly.is_empty() {
            if year_over {
                return Standing {
                    status: Status::Behind,
                    reason: format!(
                        "no yearly growth value for 2022-{target_year}, and {target_year} has ended{later}"
                    ),
                    latest,
                    expected: Some(x),
                };
            }
            return Standing { latest, ..none("no yearly growth value from 2022 on") };
        }
        let mean = mean_of(&yearly);
        let complete = yearly.iter().any(|i| i.period.year == target_year);
        let status = match (mean + 1e-9 >= x, complete) {
            (true, true) => Status::Met,
            (true, false) if !year_over => Status::OnTrack,
            _ => Status::Behind,
        };
        let missing = if complete || !year_over {
            String::new()
        } else {
            format!(", no value for {target_year}, and it has ended")
        };
        return Standing {
            status,
            reason: format!(
                "mean yearly growth {mean:.2}% over {} year(s) to {} against {x}%{missing}{}",
                yearly.len(),
                yearly.last().map_or(target_year, |i| i.period.year),
                if status == Status::Met { "" } else { &later }
            ),
            latest,
            expected: Some(x),
        };
    }
    if measure == Measure::EachYear {
        return each_year(&vals, comparator, x, target_year, year_over, &meets);
    }
    // The value the target is judged by once its year is over: the last one measured by the year's end. A value
    // of a later period does not make it met in time.
    let by_due = vals.iter().rev().copied().find(|i| i.period.end_years() <= due + 1e-9);
    if let Some(v) = by_due.filter(|v| meets(v.value, x)) {
        return Standing {
            status: Status::Met,
            reason: format!("{} in {} meets {comparator} {x}", v.value, v.period),
            latest,
            expected: None,
        };
    }
    if year_over || last.period.end_years() >= due {
        let judged = by_due.map_or_else(
            || format!("no value by the end of {target_year}"),
            |v| format!("{} in {} does not meet {comparator} {x}", v.value, v.period),
        );
        let later = if meets(last.value, x) {
            format!(" (met later: {} in {})", last.value, last.period)
        } else {
            String::new()
        };
        return Standing {
            status: Status::Behind,
            reason: format!("{judged}, and {target_year} has ended{later}"),
            latest,
            expected: Some(x),
        };
    }
    let base = vals[0];
    if base.period.end_years() >= last.period.end_years() {
        return Standing {
            latest,
            ..none("one value and no baseline: the path to the target cannot be drawn")
        };
    }
    let (t0, t1) = (base.period.end_years(), last.period.end_years());
    let expected = base.value + (x - base.value) * (t1 - t0) / (due - t0);
    let expected = (expected * 1000.0).round() / 1000.0;
    let on_track = meets(last.value, expected);
    Standing {
        status: if on_track { Status::OnTrack } else { Status::Behind },
        reason: format!(
            "{} in {} against {expected} expected on the straight path from {} in {} to {x} at the end of {target_year}",
            last.value, last.period, base.value, base.period
        ),
        latest,
        expected: Some(expected),
    }
}

/// A target every year of the plan must reach (`vals`: whole years' values, sorted).
fn each_year(
    vals: &[&Indicator],
    comparator: &str,
    x: f64,
    target_year: i32,
    year_over: bool,
    meets: &dyn Fn(f64, f64) -> bool,
) -> Standing {
    let years: Vec<&Indicator> =
        vals.iter().copied().filter(|i| (PLAN_FIRST_YEAR..=target_year).contains(&i.period.year)).collect();
    let latest = vals.last().map(|l| (l.value, l.period.to_string()));
    let short: Vec<String> =
        years.iter().filter(|i| !meets(i.value, x)).map(|i| format!("{} in {}", i.value, i.period)).collect();
    let missing: Vec<String> = (PLAN_FIRST_YEAR..=target_year)
        .filter(|y| !years.iter().any(|i| i.period.year == *y))
        .map(|y| y.to_string())
        .collect();
    let (status, reason) = if !short.is_empty() {
        (
            Status::Behind,
            format!(
                "every year must meet {comparator} {x}: {} {}",
                short.join(", "),
                if short.len() == 1 { "does not" } else { "do not" }
            ),
        )
    } else if missing.is_empty() {
        (Status::Met, format!("every year {PLAN_FIRST_YEAR}-{target_year} meets {comparator} {x}"))
    } else if year_over {
        (Status::Behind, format!("no value for {}, and {target_year} has ended", missing.join(", ")))
    } else if years.is_empty() {
        return Standing {
            status: Status::NoData,
            reason: format!("no yearly value from {PLAN_FIRST_YEAR} on"),
            latest,
            expected: None,
        };
    } else {
        (
            Status::OnTrack,
            format!("every year reported meets {comparator} {x}; no value yet for {}", missing.join(", ")),
        )
    };
    Standing { status, reason, latest, expected: Some(x) }
}

/// Groups every report by project, each list sorted by period.
pub fn by_project(reports: &[Report]) -> BTreeMap<&str, Vec<&Report>> {
    let mut m: BTreeMap<&str, Vec<&Report>> = BTreeMap::new();
    for r in reports {
        m.entry(r.project.as_str()).or_default().push(r);
    }
    for v in m.values_mut() {
        v.sort_by_key(|r| r.period);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn ind(period: &str, value: f64) -> Indicator {
        Indicator {
            id: String::new(),
            target: "t".into(),
            period: Period::parse(period).unwrap(),
            value,
            record: Map::new(),
        }
    }

    fn status(cmp: &str, x: f64, year: i32, vals: &[(&str, f64)], today: &str) -> Status {
        let v: Vec<Indicator> = vals.iter().map(|(p, x)| ind(p, *x)).collect();
        let refs: Vec<&Indicator> = v.iter().collect();
        target_status(cmp, Some(x), Some(year), Measure::Level, &refs, day(today)).status
    }

    #[test]
    fn periods_read_and_print() {
        let q = Period::parse("2024Q2").unwrap();
        assert_eq!((q.start(), q.end()), (day("2024-04-01"), day("2024-06-30")));
        assert_eq!(q.to_string(), "2024Q2");
        assert_eq!(q.interval(), "2024-04-01/2024-06-30");
        assert_eq!(Period::parse("2024H1").unwrap().quarters().len(), 2);
        assert_eq!(Period::parse("2024").unwrap().end(), day("2024-12-31"));
        assert!(Period::parse("2024Q5").is_err() && Period::parse("24Q1").is_err());
        assert_eq!(Period::quarter_of(day("2024-11-05")).to_string(), "2024Q4");
    }

    #[test]
    fn stages_follow_the_life_of_a_project() {
        assert!(
            stage_follows("前期", "在建") && stage_follows("在建", "暂停") && stage_follows("暂停", "在建")
        );
        assert!(!stage_follows("在建", "前期") && !stage_follows("竣工", "暂停"));
        assert!(!stage_follows("在建", "新开工") && !stage_follows("新开工", "新开工"));
        // A pause may end in completion; where it resumes is checked against the stage before it.
        assert!(stage_follows("暂停", "竣工"));
        let report = |period: &str, stage: &'static str| Report {
            id: format!("p@{period}"),
            project: "p".into(),
            period: Period::parse(period).unwrap(),
            stage,
            investment_total: None,
            investment_planned_year: None,
            investment_period: None,
            investment_to_date: None,
            milestones: Vec::new(),
            source: String::new(),
            record: Map::new(),
        };
        let (a, b, c) = (report("2024Q1", "在建"), report("2024Q2", "暂停"), report("2024Q3", "前期"));
        assert!(check_sequence(&[&a, &b, &c]).is_err(), "a pause resumes where the project was");
        let c = report("2024Q3", "竣工");
        assert!(check_sequence(&[&a, &b, &c]).is_ok());
    }

    /// Hand-worked cases (the rule is [`STATUS_RULE`]).
    #[test]
    fn target_status_hand_worked() {
        // GDP ≥ 10 000 by 2024: 2021 7 000, 2023 9 000. Path: 7 000 + 3 000 × (2024−2022)/(2025−2022) = 9 000.
        assert_eq!(
            status(">=", 10_000.0, 2024, &[("2021", 7000.0), ("2023", 9000.0)], "2024-06-01"),
            Status::OnTrack
        );
        // 8 999 is below the path.
        assert_eq!(
            status(">=", 10_000.0, 2024, &[("2021", 7000.0), ("2023", 8999.0)], "2024-06-01"),
            Status::Behind
        );
        // Met once the value reaches it.
        assert_eq!(
            status(">=", 10_000.0, 2024, &[("2021", 7000.0), ("2024", 10_010.0)], "2025-03-01"),
            Status::Met
        );
        // 2024 over, not met: behind whatever the path.
        assert_eq!(
            status(">=", 10_000.0, 2024, &[("2021", 7000.0), ("2023", 9900.0)], "2025-03-01"),
            Status::Behind
        );
        // One value: no baseline.
        assert_eq!(status(">=", 10_000.0, 2024, &[("2023", 9900.0)], "2024-03-01"), Status::NoData);
        assert_eq!(status(">=", 10_000.0, 2024, &[], "2024-03-01"), Status::NoData);
        // A ceiling: ≤ 1 hour from 1.5 in 2021; the path expects 1.5 − 0.5 × 2/3 = 1.167 at the end of 2023, so
        // 1.2 is behind and 1.1 on track.
        assert_eq!(status("<=", 1.0, 2024, &[("2021", 1.5), ("2023", 1.2)], "2024-03-01"), Status::Behind);
        assert_eq!(status("<=", 1.0, 2024, &[("2021", 1.5), ("2023", 1.1)], "2024-03-01"), Status::OnTrack);
        // A rank: lower is better.
        assert_eq!(status("rank<=", 5.0, 2024, &[("2023", 20.0)], "2024-03-01"), Status::NoData);
        assert_eq!(status("rank<=", 5.0, 2024, &[("2023", 20.0), ("2024", 3.0)], "2025-03-01"), Status::Met);
        assert_eq!(
            status("rank<=", 5.0, 2024, &[("2022", 20.0), ("2023", 8.0)], "2024-03-01"),
            Status::OnTrack
        );
        assert_eq!(
            status("rank<=", 5.0, 2024, &[("2022", 20.0), ("2023", 19.0)], "2024-03-01"),
            Status::Behind
        );
        // Met only after its year: behind, and the reason says when it was met.
        assert_eq!(
            status(">", 1.0, 2024, &[("2023", 0.9), ("2024", 0.95), ("2025", 1.0002)], "2026-03-01"),
            Status::Behind
        );
        let late = target_status(
            ">",
            Some(1.0),
            Some(2024),
            Measure::Level,
            &[&ind("2024", 0.95), &ind("2025", 1.0002)],
            day("2026-03-01"),
        );
        assert!(late.reason.contains("met later: 1.0002 in 2025"), "{}", late.reason);
        assert_eq!(
            status(">", 1.0, 2024, &[("2023", 0.9), ("2024", 1.2), ("2025", 0.9)], "2026-03-01"),
            Status::Met
        );
        // Growth ≥ 15% a year: 16 and 15 → on track before 2024 is reported; 16, 15, 14.5 → met (mean 15.17).
        assert_eq!(
            status("growth>=", 15.0, 2024, &[("2022", 16.0), ("2023", 15.0)], "2024-03-01"),
            Status::OnTrack
        );
        assert_eq!(
            status("growth>=", 15.0, 2024, &[("2022", 16.0), ("2023", 15.0), ("2024", 14.5)], "2025-03-01"),
            Status::Met
        );
        assert_eq!(
            status("growth>=", 15.0, 2024, &[("2022", 12.0), ("2023", 15.0)], "2024-03-01"),
            Status::Behind
        );
        let q = target_status("qualitative", None, Some(2024), Measure::Level, &[], day("2024-01-01"));
        assert_eq!(q.status, Status::NoData);
    }

    fn report(project: &str, period: &str, stage: &str, to_date: Option<f64>) -> Report {
        let mut m = Map::new();
        m.insert("project".into(), json!(project));
        m.insert("period".into(), json!(period));
        m.insert("stage".into(), json!(stage));
        m.insert("investment_to_date".into(), json!(to_date));
        m.insert("source".into(), json!("test"));
        read_report(&m, day("2026-12-01")).unwrap()
    }

    #[test]
    fn sequences_and_states() {
        let a = report("p", "2023Q1", "前期", None);
        let b = report("p", "2023Q3", "在建", Some(5.0));
        let c = report("p", "2024Q2", "竣工", Some(4.0));
        assert!(check_sequence(&[&a, &b]).is_ok());
        let (id, why) = check_sequence(&[&a, &b, &c]).unwrap_err();
        assert_eq!(id, "p@2024Q2");
        assert!(why.contains("never falls"), "{why}");
        let back = report("p", "2024Q2", "前期", None);
        assert!(check_sequence(&[&a, &b, &back]).unwrap_err().1.contains("cannot follow"));
        let s = state_on(&[&a, &b], day("2023-06-30")).unwrap();
        assert_eq!(s.latest.stage, "前期");
        assert_eq!(state_on(&[&a, &b], day("2023-07-01")).unwrap().to_date, Some(5.0));
        assert!(state_on(&[&a, &b], day("2022-12-31")).is_none());
        let mut m = Map::new();
        m.insert("project".into(), json!("p"));
        m.insert("period".into(), json!("2027Q1"));
        m.insert("stage".into(), json!("在建"));
        m.insert("source".into(), json!("x"));
        assert!(read_report(&m, day("2026-12-01")).unwrap_err().contains("has not begun"));
        m.insert("period".into(), json!("2021Q4"));
        assert!(read_report(&m, day("2026-12-01")).unwrap_err().contains("before 2022"));
    }
}
