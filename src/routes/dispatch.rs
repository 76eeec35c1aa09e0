//! `GET /reports/dispatch` (季调度, the quarterly dispatch table) and `GET /reports/summary` (半年小结 and
//! 年终总结): JSON, HTML with `ECharts` charts (vendored, served from the binary), CSV and XLSX with Chinese
//! headings, all from the same computed table.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::{JSON, QueryParams, State, base_url, html, link, respond, respond_json};
use crate::error::{ApiError, ApiResult};
use crate::store::dispatch::{self, DEFINITIONS, Dispatch, GroupBy};
use crate::store::progress::{PLAN_FIRST_YEAR, Period};

/// Which report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dispatch,
    Summary,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Self::Dispatch => "dispatch",
            Self::Summary => "summary",
        }
    }
}

/// `GET /reports/dispatch?period=2024Q2&by=region|city|category&f=json|html|csv|xlsx`.
pub async fn get_dispatch(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    answer(&req, &state, Kind::Dispatch)
}

/// `GET /reports/summary?period=2024H1|2024&by=…&f=…`: the half-year or year-end summary.
pub async fn get_summary(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    answer(&req, &state, Kind::Summary)
}

fn period_param(params: &QueryParams, kind: Kind, today: chrono::NaiveDate) -> ApiResult<Period> {
    let current = Period::quarter_of(today);
    let p = match params.get("period") {
        None if kind == Kind::Dispatch => current,
        None => return Err(ApiError::param("period", "is required: a half year (2024H1) or a year (2024)")),
        Some(raw) => Period::parse(raw).map_err(|e| ApiError::param("period", e))?,
    };
    match kind {
        Kind::Dispatch if !p.is_quarter() => {
            return Err(ApiError::param(
                "period",
                format!("'{p}' is not a quarter (2024Q2); /reports/summary takes half years and years"),
            ));
        }
        Kind::Summary if p.is_quarter() => {
            return Err(ApiError::param(
                "period",
                format!(
                    "'{p}' is a quarter; a summary is for a half year (2024H1) or a year (2024); /reports/dispatch takes quarters"
                ),
            ));
        }
        _ => {}
    }
    if p.year < PLAN_FIRST_YEAR || p.start() > today {
        return Err(ApiError::param(
            "period",
            format!(
                "'{p}' is outside {PLAN_FIRST_YEAR}Q1 … {current}: reports cover the plan's years up to now"
            ),
        ));
    }
    Ok(p)
}

fn answer(req: &HttpRequest, state: &State, kind: Kind) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(req)?;
    params.only(&["f", "period", "by"])?;
    let model = state.model();
    let today = crate::store::progress::today();
    let period = period_param(&params, kind, today)?;
    let by = match params.get("by") {
        None => GroupBy::Region,
        Some(b) => GroupBy::parse(b)
            .ok_or_else(|| ApiError::param("by", format!("'{b}' is not region, city or category")))?,
    };
    let f = params
        .get("f")
        .map(str::to_ascii_lowercase)
        .or_else(|| super::accept_prefers(req, &[("text/csv", "csv"), (XLSX, "xlsx")]).map(str::to_owned));
    let report = dispatch::dispatch(&model.catalog, period, by, today);
    let base = base_url(req, &state.settings);
    let name = format!("planatlas-{}-{}-{}", kind.path(), report.span, by_name(by));
    match f.as_deref() {
        Some("csv") => {
            let body = csv(&report).map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
            Ok(attachment(respond(req, "text/csv; charset=utf-8", body, super::Caching::Data), &name, "csv"))
        }
        Some("xlsx") => {
            let body = xlsx(&report, kind).map_err(|e| ApiError::Internal(format!("xlsx: {e}")))?;
            Ok(attachment(respond(req, XLSX, body, super::Caching::Data), &name, "xlsx"))
        }
        Some("json" | "html") | None => match super::negotiate(req, &params)? {
            super::Format::Json => Ok(respond_json(req, JSON, &document(&report, kind, &base))),
            super::Format::Html => page(req, &report, kind, &base),
        },
        Some(other) => Err(ApiError::param("f", format!("'{other}' is not json, html, csv or xlsx"))),
    }
}

/// The spreadsheet's media type.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn by_name(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Region => "region",
        GroupBy::City => "city",
        GroupBy::Category => "category",
    }
}

fn attachment(mut resp: HttpResponse, name: &str, ext: &str) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

fn title(report: &Dispatch, kind: Kind) -> String {
    match kind {
        Kind::Dispatch => format!("{} 季调度 quarterly dispatch", report.span),
        Kind::Summary if report.span.ends_with("H1") => format!("{} 半年小结 half-year summary", report.span),
        Kind::Summary if report.span.ends_with("H2") => {
            format!("{} 下半年小结 second-half summary", report.span)
        }
        Kind::Summary => format!("{} 年终总结 year-end summary", report.span),
    }
}

fn self_url(base: &str, report: &Dispatch, kind: Kind, f: &str) -> String {
    format!("{base}/reports/{}?period={}&by={}&f={f}", kind.path(), report.span, by_name(report.by))
}

fn document(report: &Dispatch, kind: Kind, base: &str) -> Value {
    let (head, rows) = dispatch::table(report);
    json!({
        "title": title(report, kind),
        "report": report,
        "table": {"head": head, "rows": rows},
        "definitions": DEFINITIONS.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "links": [
            link(self_url(base, report, kind, "json"), "self", JSON, "This report"),
            link(self_url(base, report, kind, "html"), "alternate", "text/html", "This report as a page with charts"),
            link(self_url(base, report, kind, "csv"), "alternate", "text/csv", "This table as CSV"),
            link(self_url(base, report, kind, "xlsx"), "alternate", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "This report as an Excel workbook"),
            link(format!("{base}/collections/progress/items"), "related", "application/geo+json", "The progress reports"),
        ],
    })
}

fn cell_text(v: &Value) -> String {
    crate::export::columns::spreadsheet_text(Some(v))
}

/// Text cut to what one spreadsheet cell holds (Excel: 32 767 UTF-16 units; a character outside the Basic
/// Multilingual Plane, such as a rare CJK one, takes two), marked with an ellipsis where cut: a long reason or
/// milestone name must not make the whole workbook fail.
fn fit(s: impl AsRef<str>) -> String {
    const CELL: usize = 32_767;
    let s = s.as_ref();
    if s.encode_utf16().count() <= CELL {
        return s.to_owned();
    }
    let mut units = 0;
    let end = s
        .char_indices()
        .find(|(_, c)| {
            units += c.len_utf16();
            units > CELL - 1
        })
        .map_or(s.len(), |(at, _)| at);
    format!("{}…", &s[..end])
}

fn csv(report: &Dispatch) -> Result<Vec<u8>, csv::Error> {
    let (head, rows) = dispatch::table(report);
    // A byte-order mark so Excel and WPS read the Chinese headings as UTF-8.
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(&head)?;
    for r in &rows {
        w.write_record(r.iter().map(cell_text))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn xlsx(report: &Dispatch, kind: Kind) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let (head, rows) = dispatch::table(report);
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0%");
    let money = Format::new().set_num_format("0.00");
    let percent_cols: Vec<usize> = head
        .iter()
        .enumerate()
        .filter(|(_, h)| h.ends_with('率') || *h == "时间进度")
        .map(|(i, _)| i)
        .collect();
    let money_cols: Vec<usize> =
        head.iter().enumerate().filter(|(_, h)| h.contains("亿元")).map(|(i, _)| i).collect();
    {
        let ws = wb.add_worksheet();
        ws.set_name(if kind == Kind::Dispatch { "季调度" } else { "总结" })?;
        ws.write_string_with_format(0, 0, title(report, kind), &bold)?;
        ws.write_string(1, 0, format!("截至 {} (as of)", report.as_of))?;
        // What the span itself saw: the table's investment is the year's to date, not the span's.
        ws.write_string(
            2,
            0,
            match report.completed_in_span {
                Some(invested) => format!(
                    "本期报告 {} 份，期内完成投资 {invested} 亿元（全部报告，含无年度计划的项目）({} reports made and \
                     {invested} 亿元 invested in {}, by every report, projects without a year plan included)",
                    report.reports_in_span, report.reports_in_span, report.span
                ),
                None => format!(
                    "本期报告 {} 份，期内完成投资未知：没有报告给出金额 ({} reports made in {}; none says what was \
                     invested)",
                    report.reports_in_span, report.reports_in_span, report.span
                ),
            },
        )?;
        for (c, h) in head.iter().enumerate() {
            ws.write_string_with_format(3, c as u16, h, &bold)?;
        }
        for (r, row) in rows.iter().enumerate() {
            let rr = 4 + r as u32;
            for (c, v) in row.iter().enumerate() {
                let col = c as u16;
                match v {
                    Value::Number(n) => {
                        let x = n.as_f64().unwrap_or_default();
                        if percent_cols.contains(&c) {
                            ws.write_number_with_format(rr, col, x, &percent)?;
                        } else if money_cols.contains(&c) {
                            ws.write_number_with_format(rr, col, x, &money)?;
                        } else {
                            ws.write_number(rr, col, x)?;
                        }
                    }
                    Value::Null => {}
                    other if r + 1 == rows.len() => {
                        ws.write_string_with_format(rr, col, fit(cell_text(other)), &bold)?;
                    }
                    other => {
                        ws.write_string(rr, col, fit(cell_text(other)))?;
                    }
                }
            }
        }
        ws.set_column_width(0, 16)?;
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("滞后项目")?;
        for (c, h) in ["项目编号", "项目名称", "城市", "阶段", "阶段所据季度", "滞后原因"].iter().enumerate()
        {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (r, b) in report.behind.iter().enumerate() {
            let rr = 1 + r as u32;
            ws.write_string(rr, 0, fit(&b.project))?;
            ws.write_string(rr, 1, fit(&b.name_zh))?;
            ws.write_string(rr, 2, fit(b.city_names.join("、")))?;
            ws.write_string(rr, 3, fit(&b.stage))?;
            ws.write_string(rr, 4, fit(b.stage_period.as_deref().unwrap_or_default()))?;
            ws.write_string(rr, 5, fit(b.reasons.join("；")))?;
        }
        ws.set_column_width(1, 40)?;
        ws.set_column_width(5, 60)?;
    }
    if kind == Kind::Summary {
        let ws = wb.add_worksheet();
        ws.set_name("阶段变化")?;
        for (c, h) in ["项目编号", "项目名称", "期初阶段", "期末阶段"].iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (r, ch) in report.changes.iter().enumerate() {
            let rr = 1 + r as u32;
            ws.write_string(rr, 0, fit(&ch.project))?;
            ws.write_string(rr, 1, fit(&ch.name_zh))?;
            ws.write_string(rr, 2, &ch.from)?;
            ws.write_string(rr, 3, &ch.to)?;
        }
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("口径说明")?;
        for (r, (k, v)) in DEFINITIONS.iter().enumerate() {
            ws.write_string(r as u32, 0, *k)?;
            ws.write_string(r as u32, 1, *v)?;
        }
        ws.set_column_width(1, 100)?;
    }
    wb.save_to_buffer()
}

/// The stages in the order of a project's life, then "not reported".
fn stage_order() -> Vec<&'static str> {
    use crate::store::progress::{NOT_REPORTED, STAGES};
    STAGES.iter().map(|s| s.0).chain([NOT_REPORTED.0]).collect()
}

fn page(req: &HttpRequest, report: &Dispatch, kind: Kind, base: &str) -> ApiResult<HttpResponse> {
    let (head, rows) = dispatch::table(report);
    let context = json!({
        "title": title(report, kind),
        "kind": kind.path(),
        "report": report,
        "head": head,
        "rows": rows.iter().map(|r| r.iter().map(cell_text).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "definitions": DEFINITIONS,
        "links": {
            "json": self_url(base, report, kind, "json"),
            "csv": self_url(base, report, kind, "csv"),
            "xlsx": self_url(base, report, kind, "xlsx"),
            "home": format!("{base}/?f=html"),
            "map": format!("{base}/map"),
        },
        "by_options": [["region", "区域 region"], ["city", "城市 city"], ["category", "类别 category"]],
        "chart": {
            "groups": report.rows.iter().map(|r| r.name_zh.clone()).collect::<Vec<_>>(),
            "stages": stage_order(),
            "counts": stage_order().iter().map(|s| report.rows.iter().map(|r| r.stages.get(*s).copied().unwrap_or(0)).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "completion": report.rows.iter().map(|r| r.completion_rate).collect::<Vec<_>>(),
            "time_progress": report.total.time_progress,
        },
    });
    let body = html::render("report.html", &context)?;
    Ok(respond(req, super::HTML, body, super::Caching::Data))
}
