//! Following the plan through the real server over a real store: quarterly progress reports written with city
//! and province tokens (one through `OWSLib`), the dispatch report checked against an independent computation
//! from the records, projects as they stood at a date, the tile carrying the stage, the XLSX read by
//! `openpyxl`, every rule refused with problem+json and nothing changed, and target status from indicators.

use std::collections::{BTreeMap, BTreeSet};

use geozero::mvt::{Message, Tile};
use planatlas::config::Settings;
use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::helpers::{
    StoreApp, add_token, assert_problem, python, run, spawn_store, tag, tile_of, urlencode,
};

fn post(s: &StoreApp, token: &str, collection: &str, props: Value) -> Response {
    s.app
        .client
        .post(s.app.url(&format!("/collections/{collection}/items")))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/geo+json")
        .body(json!({"type": "Feature", "geometry": null, "properties": props}).to_string())
        .send()
        .unwrap()
}

fn put(s: &StoreApp, token: &str, id: &str, props: Value, if_match: Option<&str>) -> Response {
    let mut r = s
        .app
        .client
        .put(s.app.url(&format!("/collections/progress/items/{id}")))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/geo+json");
    if let Some(tag) = if_match {
        r = r.header("if-match", tag);
    }
    r.body(json!({"type": "Feature", "geometry": null, "properties": props}).to_string()).send().unwrap()
}

/// Every feature of a collection, following `next` links.
fn all(s: &StoreApp, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = s.app.url(path);
    loop {
        let doc: Value = s.app.client.get(&url).send().unwrap().json().unwrap();
        out.extend(doc["features"].as_array().unwrap().iter().cloned());
        match doc["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next") {
            Some(l) => l["href"].as_str().unwrap().clone_into(&mut url),
            None => return out,
        }
    }
}

/// Point projects only in Shenyang that no report speaks of yet, by id.
fn unreported_shenyang_points(s: &StoreApp, n: usize) -> Vec<Value> {
    let mut found: Vec<Value> = all(s, "/collections/projects/items?city=210100&limit=1000")
        .into_iter()
        .filter(|f| {
            f["properties"]["city_adcodes"] == json!(["210100"])
                && f["properties"]["stage"] == "未报告"
                && f["geometry"]["type"] == "Point"
        })
        .collect();
    found.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert!(found.len() >= n, "need {n} unreported Shenyang point projects, have {}", found.len());
    found.truncate(n);
    found
}

fn id_of(f: &Value) -> String {
    f["id"].as_str().unwrap().to_owned()
}

/// The shipped reports (geodata/progress.json), read from the file, not through the server.
fn shipped_reports() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/geodata/progress.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Liaoning's year and quarter (1–4) today.
fn quarter_now() -> (i32, u32) {
    let today =
        chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).date_naive();
    (chrono::Datelike::year(&today), (chrono::Datelike::month(&today) - 1) / 3 + 1)
}

/// Posts, through `report`, a project's reports for every quarter of `year` before `q`: a year plan of 4 亿元
/// and 1 亿元 a quarter, on plan at each quarter's end.
fn on_plan_before(report: &impl Fn(Value) -> Value, id: &str, year: i32, q: u32) {
    for k in 1..q {
        report(json!({"project": id, "period": format!("{year}Q{k}"), "stage": "在建",
                      "investment_planned_year": 4.0, "investment_period": 1.0,
                      "investment_to_date": f64::from(k), "source": "测试"}));
    }
}

/// The dispatch table computed here from the records and the projects' memberships, by the definitions the
/// report states (independently of the server's code): per group key, (projects, reported, stage counts,
/// started, planned, completed, behind, reported in the quarter) and the set of projects behind.
#[allow(clippy::type_complexity)]
fn expected_dispatch(
    projects: &[Value],
    records: &[Value],
    quarter: &str,
    group: &str,
) -> (
    BTreeMap<String, (usize, usize, BTreeMap<String, usize>, usize, f64, f64, usize, usize, usize)>,
    BTreeSet<String>,
) {
    let year = &quarter[..4];
    let q: u32 = quarter[5..].parse().unwrap();
    let elapsed = f64::from(q) / 4.0;
    let quarter_end = ["03-31", "06-30", "09-30", "12-31"][q as usize - 1];
    let quarter_end = format!("{year}-{quarter_end}");
    let mut rows = BTreeMap::new();
    let mut behind_ids = BTreeSet::new();
    let mut per_project = Vec::new();
    for p in projects {
        let id = id_of(p);
        let mut mine: Vec<&Value> = records
            .iter()
            .filter(|r| r["project"] == id.as_str() && r["period"].as_str().unwrap() <= quarter)
            .collect();
        mine.sort_by(|a, b| a["period"].as_str().cmp(&b["period"].as_str()));
        let latest = mine.last();
        let period = |r: &Value| r["period"].as_str().unwrap().to_owned();
        // A 新开工 of an earlier quarter is 在建 now.
        let stage = latest.map_or("未报告".to_owned(), |r| {
            let st = r["stage"].as_str().unwrap();
            if st == "新开工" && period(r) != quarter { "在建".to_owned() } else { st.to_owned() }
        });
        let started = mine
            .iter()
            .any(|r| ["新开工", "在建", "竣工", "投产运营"].contains(&r["stage"].as_str().unwrap()));
        let planned = mine
            .iter()
            .filter(|r| period(r).starts_with(year))
            .rev()
            .find_map(|r| num(&r["investment_planned_year"]));
        // The year's completed investment to the quarter, by the definition: each quarter's investment_period,
        // else the rise of the cumulative figure over it. The cumulative figure at a quarter's end is its
        // report's investment_to_date, else the quarter before's plus its investment_period; nothing was
        // invested before a report whose investment_to_date is its own quarter's amount (or 0). A run of quarters
        // whose amounts are not known so takes the rise of the cumulative figure over it; unknown (None) when
        // nothing bridges it.
        let quarter_before = |p: &str| {
            let (y, q): (i32, u32) = (p[..4].parse().unwrap(), p[5..].parse().unwrap());
            if q == 1 { format!("{}Q4", y - 1) } else { format!("{y}Q{}", q - 1) }
        };
        let report_of = |p: &str| mine.iter().find(|r| period(r) == p);
        let mut cumulative: BTreeMap<String, f64> = BTreeMap::new();
        let mut zero_before: Option<String> = None;
        for r in &mine {
            let p = period(r);
            let (d, a) = (num(&r["investment_to_date"]), num(&r["investment_period"]));
            if let Some(c) = d.or_else(|| Some(cumulative.get(&quarter_before(&p)).copied()? + a?)) {
                cumulative.insert(p.clone(), c);
            }
            let nothing_before = match (d, a) {
                (Some(d), Some(a)) => (d - a).abs() < 1e-9,
                (Some(d), None) => d.abs() < 1e-9,
                _ => false,
            };
            if nothing_before {
                zero_before = Some(p);
            }
        }
        let at = |p: &str| {
            cumulative.get(p).copied().or_else(|| zero_before.as_deref().filter(|z| p < *z).map(|_| 0.0))
        };
        let amount = |p: &str| {
            report_of(p)
                .and_then(|r| num(&r["investment_period"]))
                .or_else(|| Some(at(p)? - at(&quarter_before(p))?))
        };
        let quarters: Vec<String> = (1..=q).map(|k| format!("{year}Q{k}")).collect();
        let mut completed = Some(0.0);
        let mut k = 0;
        while k < quarters.len() {
            if let Some(a) = amount(&quarters[k]) {
                completed = completed.map(|c| c + a);
                k += 1;
                continue;
            }
            let end = (k..quarters.len()).find(|&j| at(&quarters[j]).is_some());
            match (end, at(&quarter_before(&quarters[k]))) {
                (Some(e), Some(b)) => {
                    completed = completed.map(|c| c + at(&quarters[e]).unwrap() - b);
                    k = e + 1;
                }
                _ => {
                    completed = None;
                    k += 1;
                }
            }
        }
        let investment = planned.zip(completed);
        let mut behind = stage == "暂停";
        if let Some((plan, completed)) = investment.filter(|(p, _)| *p > 0.0) {
            behind |= completed / plan < elapsed - 1e-9;
        }
        // Each milestone as its latest mention states it.
        let mut milestones: BTreeMap<String, Value> = BTreeMap::new();
        for r in &mine {
            for m in r["milestones"].as_array().into_iter().flatten() {
                milestones.insert(m["name"].as_str().unwrap().to_owned(), m.clone());
            }
        }
        for m in milestones.values() {
            if let Some(planned) = m["planned"].as_str()
                && planned <= quarter_end.as_str()
                && m["actual"].as_str().is_none_or(|a| a > quarter_end.as_str())
            {
                behind = true;
            }
        }
        if behind {
            behind_ids.insert(id.clone());
        }
        let keys: Vec<String> = match group {
            "category" => vec![p["properties"]["category"].as_str().unwrap().to_owned()],
            "region" => p["properties"]["region_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            _ => p["properties"]["city_adcodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
        };
        let fresh = latest.is_some_and(|r| period(r) == quarter);
        per_project.push((keys, stage, started, investment, behind, fresh));
    }
    for (keys, stage, started, investment, behind, fresh) in &per_project {
        for k in keys {
            let e = rows.entry(k.clone()).or_insert((0, 0, BTreeMap::new(), 0, 0.0, 0.0, 0, 0, 0));
            e.0 += 1;
            if stage != "未报告" {
                e.1 += 1;
            }
            if *fresh {
                e.7 += 1;
            }
            *e.2.entry(stage.clone()).or_insert(0) += 1;
            if *started {
                e.3 += 1;
            }
            e.8 += usize::from(investment.is_some());
            e.4 += investment.map_or(0.0, |i| i.0);
            e.5 += investment.map_or(0.0, |i| i.1);
            if *behind {
                e.6 += 1;
            }
        }
    }
    (rows, behind_ids)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn check_dispatch(s: &StoreApp, records: &[Value], quarter: &str, group: &str) -> Value {
    let projects = all(s, "/collections/projects/items?limit=1000");
    let (want, want_behind) = expected_dispatch(&projects, records, quarter, group);
    let doc = s.app.get_json(&format!("/reports/dispatch?period={quarter}&by={group}"));
    let rows = doc["report"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "{group}: groups");
    for r in rows {
        let key = r["key"].as_str().unwrap();
        let w = &want[key];
        assert_eq!(r["projects"].as_u64().unwrap() as usize, w.0, "{group} {key} projects");
        assert_eq!(r["reported"].as_u64().unwrap() as usize, w.1, "{group} {key} reported");
        assert_eq!(
            r["reported_in_span"].as_u64().unwrap() as usize,
            w.7,
            "{group} {key} reported in the quarter"
        );
        for (stage, n) in r["stages"].as_object().unwrap() {
            assert_eq!(
                n.as_u64().unwrap() as usize,
                w.2.get(stage).copied().unwrap_or(0),
                "{group} {key} {stage}"
            );
        }
        assert_eq!(r["started"].as_u64().unwrap() as usize, w.3, "{group} {key} started");
        assert_eq!(r["investment_known"].as_u64().unwrap() as usize, w.8, "{group} {key} known {r}");
        if w.8 == 0 {
            // Nothing known is not 0 planned and 0 done.
            assert!(r["planned_year"].is_null() && r["completed_year"].is_null(), "{group} {key} {r}");
        } else {
            assert!(close(r["planned_year"].as_f64().unwrap(), w.4), "{group} {key} planned {r}");
            assert!(close(r["completed_year"].as_f64().unwrap(), w.5), "{group} {key} completed {r}");
        }
        assert_eq!(r["behind"].as_u64().unwrap() as usize, w.6, "{group} {key} behind");
    }
    let got_behind: BTreeSet<String> = doc["report"]["behind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["project"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got_behind, want_behind, "{group}: behind");
    assert_eq!(doc["report"]["total"]["projects"].as_u64().unwrap() as usize, projects.len());
    doc
}

/// The scripted quarter: reports posted with a city token (one by `OWSLib`), then the dispatch report for
/// 2024Q2 by region, category and city equals the computation above; the XLSX holds the same table.
#[test]
fn a_scripted_quarter_and_its_dispatch_report() {
    let s = spawn_store(Settings::local());
    let city = add_token(&s.store, "沈阳市发展改革委", "city:210100");
    let picked = unreported_shenyang_points(&s, 5);
    let ids: Vec<String> = picked.iter().map(id_of).collect();
    let source = "沈阳市重点项目季调度表（测试）";
    let mut posted = vec![
        json!({"project": ids[0], "period": "2024Q1", "stage": "新开工", "investment_total": 50.0, "investment_planned_year": 10.0, "investment_period": 2.0, "investment_to_date": 2.0, "source": source}),
        json!({"project": ids[0], "period": "2024Q2", "stage": "在建", "investment_planned_year": 10.0, "investment_period": 3.0, "investment_to_date": 5.0, "source": source}),
        json!({"project": ids[1], "period": "2024Q1", "stage": "在建", "investment_total": 100.0, "investment_planned_year": 20.0, "investment_period": 2.0, "investment_to_date": 26.0, "source": source}),
        json!({"project": ids[1], "period": "2024Q2", "stage": "在建", "investment_planned_year": 20.0, "investment_period": 4.0, "investment_to_date": 30.0, "source": source}),
        json!({"project": ids[2], "period": "2024Q2", "stage": "前期", "milestones": [{"name": "开工", "planned": "2024-05-31", "actual": null}], "source": source}),
        json!({"project": ids[4], "period": "2024Q1", "stage": "在建", "investment_planned_year": 8.0, "investment_period": 1.0, "investment_to_date": 12.0, "source": source}),
        json!({"project": ids[4], "period": "2024Q2", "stage": "在建", "investment_period": 0.5, "investment_to_date": 12.5, "source": source}),
    ];
    for p in &posted {
        let r = post(&s, &city, "progress", p.clone());
        assert_eq!(r.status(), 201, "{p}: {:?}", r.text());
    }
    // One report through OWSLib, the OGC API – Features client.
    let by_owslib = json!({"project": ids[3], "period": "2024Q2", "stage": "暂停", "note": "资金未到位", "source": source});
    let script = r#"
import json, sys
from owslib.ogcapi.features import Features
url, token, props = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
api = Features(url, headers={"Authorization": "Bearer " + token, "Content-Type": "application/geo+json"})
api.collection_item_create("progress", json.dumps({"type": "Feature", "geometry": None, "properties": props}))
got = api.collection_item("progress", props["project"] + "@2024Q2")
assert got["properties"]["stage"] == "暂停", got
print("ok")
"#;
    let (ok, out) = run(&python(), &["-c", script, &s.app.base, &city, &by_owslib.to_string()]);
    assert!(ok && out.contains("ok"), "{out}");
    posted.push(by_owslib);
    // Who reported it is recorded from the token.
    let f = s.app.get_json(&format!("/collections/progress/items/{}@2024Q2", ids[3]));
    assert_eq!(f["properties"]["reported_by"], "沈阳市发展改革委", "{f}");
    assert_eq!(f["properties"]["period_interval"], "2024-04-01/2024-06-30");

    let mut records = shipped_reports();
    records.extend(posted.iter().cloned());
    let doc = check_dispatch(&s, &records, "2024Q2", "region");
    check_dispatch(&s, &records, "2024Q2", "category");
    check_dispatch(&s, &records, "2024Q2", "city");
    check_dispatch(&s, &records, "2024Q1", "city");
    // The four posted-behind projects are listed, the on-schedule one is not.
    let behind: Vec<&str> =
        doc["report"]["behind"].as_array().unwrap().iter().map(|b| b["project"].as_str().unwrap()).collect();
    for id in &ids[1..] {
        assert!(behind.contains(&id.as_str()), "{id} behind: {behind:?}");
    }
    assert!(!behind.contains(&ids[0].as_str()), "{behind:?}");
    assert_eq!(doc["report"]["total"]["time_progress"], 0.5);

    // The half-year summary lists the stage changes of the span.
    let summary = s.app.get_json("/reports/summary?period=2024H1&by=city");
    let changes: BTreeSet<&str> = summary["report"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["project"].as_str().unwrap())
        .collect();
    for id in &ids {
        assert!(changes.contains(id.as_str()), "{id} changed stage in 2024H1: {summary}");
    }
    assert_problem(s.app.get("/reports/summary?period=2024Q2"), 400);
    assert_problem(s.app.get("/reports/dispatch?period=2024H1"), 400);
    assert_problem(s.app.get("/reports/dispatch?period=2019Q1"), 400);
    assert_problem(s.app.get("/reports/dispatch?by=colour"), 400);

    // The XLSX, read by openpyxl: Chinese headings, the rows and the totals of the JSON table.
    let xlsx = s.app.get("/reports/dispatch?period=2024Q2&by=region&f=xlsx");
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.headers()["content-disposition"].to_str().unwrap().contains(".xlsx"));
    let path = s.dir.path().join("dispatch.xlsx");
    std::fs::write(&path, xlsx.bytes().unwrap()).unwrap();
    let script = r#"
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["季调度"]
rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
behind = [[c.value for c in r] for r in wb["滞后项目"].iter_rows(min_row=2)]
print(json.dumps({"sheets": wb.sheetnames, "head": rows[0], "rows": rows[1:], "behind": [b[0] for b in behind]}, ensure_ascii=False))
"#;
    let (ok, out) = run(&python(), &["-c", script, path.to_str().unwrap()]);
    assert!(ok, "{out}");
    let book: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let table = &doc["table"];
    assert_eq!(book["head"], table["head"], "{book}");
    assert!(book["head"][0] == "区域" && book["head"].as_array().unwrap().contains(&json!("开工率")));
    let want_rows = table["rows"].as_array().unwrap();
    let got_rows = book["rows"].as_array().unwrap();
    assert_eq!(got_rows.len(), want_rows.len());
    for (g, w) in got_rows.iter().zip(want_rows) {
        for (a, b) in g.as_array().unwrap().iter().zip(w.as_array().unwrap()) {
            match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => assert!(close(x, y), "{g} vs {w}"),
                _ => assert_eq!(a, b, "{g} vs {w}"),
            }
        }
    }
    assert_eq!(got_rows.last().unwrap()[0], "合计");
    let behind_sheet: BTreeSet<&str> =
        book["behind"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(behind_sheet, behind.iter().copied().collect());
    // CSV: the same headings, with a BOM for Excel and WPS.
    let csv = s.app.get("/reports/dispatch?period=2024Q2&by=region&f=csv").bytes().unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(text.lines().next().unwrap().starts_with("区域,项目数,已报告(含往期),本期报告,前期"), "{text}");
    assert_eq!(text.lines().count(), want_rows.len() + 1);
    // The HTML page embeds the charts' data and loads ECharts from this server.
    let page = s.app.get("/reports/dispatch?period=2024Q2&f=html").text().unwrap();
    assert!(page.contains("../assets/echarts/echarts.min.js") && page.contains("PLANATLAS_REPORT"));
    assert_eq!(s.app.get("/assets/echarts/echarts.min.js").status(), 200);
}

/// What a review of the dispatch rules found, each through the API: a milestone left out of a later report is
/// still due; a quarter's investment is taken from the rise of the cumulative figure, never counted as 0; a
/// lowered total may not fall below what was invested; a pause does not undo a start; an old 新开工 is 在建 now;
/// a quarter under way stands at today, so what falls due later in it is not late; a rank is better smaller.
#[test]
fn dispatch_rules_a_review_found_wrong() {
    let s = spawn_store(Settings::local());
    let city = add_token(&s.store, "沈阳市发展改革委", "city:210100");
    let picked = unreported_shenyang_points(&s, 5);
    let ids: Vec<String> = picked.iter().map(id_of).collect();
    let src = "测试";
    let posted = vec![
        // A milestone due in May, then a report that does not mention it.
        json!({"project": ids[0], "period": "2024Q1", "stage": "在建", "investment_planned_year": 8.0, "investment_period": 2.0, "investment_to_date": 2.0, "milestones": [{"name": "主体完工", "planned": "2024-05-31", "actual": null}], "source": src}),
        json!({"project": ids[0], "period": "2024Q2", "stage": "在建", "investment_planned_year": 8.0, "investment_period": 2.0, "investment_to_date": 4.0, "source": src}),
        // The second quarter's amount only as the rise of the cumulative figure: 5 + 10 of 20 is on time.
        json!({"project": ids[1], "period": "2024Q1", "stage": "在建", "investment_planned_year": 20.0, "investment_period": 5.0, "investment_to_date": 5.0, "source": src}),
        json!({"project": ids[1], "period": "2024Q2", "stage": "在建", "investment_to_date": 15.0, "source": src}),
        // Started, then paused.
        json!({"project": ids[2], "period": "2024Q1", "stage": "在建", "investment_total": 100.0, "investment_to_date": 42.0, "source": src}),
        json!({"project": ids[2], "period": "2024Q2", "stage": "暂停", "source": src}),
        // A start in 2023, nothing since.
        json!({"project": ids[3], "period": "2023Q3", "stage": "新开工", "source": src}),
    ];
    for p in &posted {
        let r = post(&s, &city, "progress", p.clone());
        assert_eq!(r.status(), 201, "{p}: {:?}", r.text());
    }
    // A total lowered below what was invested is refused.
    let r = post(
        &s,
        &city,
        "progress",
        json!({"project": ids[2], "period": "2024Q3", "stage": "暂停", "investment_total": 30.0, "source": src}),
    );
    let p = assert_problem(r, 422);
    assert!(p["detail"].as_str().unwrap().contains("investment_total: 30"), "{p}");
    let doc = s.app.get_json("/reports/dispatch?period=2024Q2&by=city");
    let behind: BTreeMap<&str, &Value> = doc["report"]["behind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["project"].as_str().unwrap(), &b["reasons"]))
        .collect();
    assert!(behind[ids[0].as_str()].to_string().contains("主体完工"), "{doc}");
    assert!(
        !behind.contains_key(ids[1].as_str()),
        "15 of 20 by mid-year is on time: {:?}",
        behind.get(ids[1].as_str())
    );
    assert!(!doc.to_string().contains(" -0"), "no negative zero in the text");
    let shenyang = doc["report"]["rows"].as_array().unwrap().iter().find(|r| r["key"] == "210100").unwrap();
    assert!(shenyang["completed_year"].as_f64().unwrap() >= 4.0 + 15.0 - 1e-9, "{shenyang}");
    // The paused and the 2023 start both count as started, and the old start counts as 在建, not as new (the
    // independent computation above follows the same definitions).
    for id in [&ids[2], &ids[3]] {
        assert!(!behind.contains_key(id.as_str()) || id == &ids[2], "{id}");
    }
    let mut records = shipped_reports();
    records.extend(posted.iter().cloned());
    check_dispatch(&s, &records, "2024Q2", "city");
    // The span's completed investment follows the year's rule: a report without investment_period counts the
    // rise of investment_to_date from the quarter before (ids[1]'s 10), so the two figures agree.
    let amount = |period: &str, before: &str| -> f64 {
        records
            .iter()
            .filter(|r| r["period"] == period)
            .filter_map(|r| {
                r["investment_period"].as_f64().or_else(|| {
                    let prev =
                        records.iter().find(|p| p["project"] == r["project"] && p["period"] == before)?;
                    Some(r["investment_to_date"].as_f64()? - prev["investment_to_date"].as_f64()?)
                })
            })
            .sum()
    };
    let q2_amount = amount("2024Q2", "2024Q1");
    assert!(q2_amount >= 12.0 - 1e-9, "the posted 2 and 10 at least: {q2_amount}");
    let span = doc["report"]["completed_in_span"].as_f64().expect("completed_in_span");
    assert!((span - q2_amount).abs() < 0.051, "dispatch {span} against {q2_amount}");
    let h1 = s.app.get_json("/reports/summary?period=2024H1&by=city");
    let span = h1["report"]["completed_in_span"].as_f64().expect("completed_in_span");
    let want = amount("2024Q1", "2023Q4") + q2_amount;
    assert!((span - want).abs() < 0.051, "summary {span} against {want}");
    let row = |doc: &Value| {
        doc["report"]["rows"].as_array().unwrap().iter().find(|r| r["key"] == "210100").cloned().unwrap()
    };
    let q1 = row(&s.app.get_json("/reports/dispatch?period=2024Q1&by=city"));
    let q2 = row(&doc);
    assert_eq!(
        q2["started"].as_u64().unwrap(),
        q1["started"].as_u64().unwrap(),
        "a pause undoes no start: {q1} {q2}"
    );
    assert_eq!(
        q2["stages"]["新开工"].as_u64().unwrap(),
        0,
        "no start was reported in 2024Q2 by Shenyang: {q2}"
    );
    // Days are Liaoning's: 23:00 on 31 March at UTC-8 is 1 April in Shenyang, so it selects 2024Q2's report.
    let at = s.app.get_json(&format!(
        "/collections/progress/items?project={}&datetime={}",
        ids[0],
        urlencode("2024-03-31T23:00:00-08:00")
    ));
    let periods: Vec<&str> = at["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["period"].as_str().unwrap())
        .collect();
    assert_eq!(periods, ["2024Q2"], "{at}");
    // Projects asked for an interval answer as they stood at its end.
    let then = |dt: &str| {
        s.app.get_json(&format!(
            "/collections/projects/items?filter={}&datetime={}",
            urlencode(&format!("id='{}'", ids[2])),
            urlencode(dt)
        ))["features"][0]["properties"]["stage"]
            .clone()
    };
    assert_eq!(then("../2024-03-31T12:00:00Z"), "在建");
    assert_eq!(then("2024-01-01/2024-06-30"), "暂停");
    // The quarter under way stands at today: a milestone due at its end is not late yet.
    let today =
        chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).date_naive();
    let q = (chrono::Datelike::month(&today) - 1) / 3 + 1;
    let year = chrono::Datelike::year(&today);
    let quarter_end = chrono::NaiveDate::from_ymd_opt(year, q * 3 % 12 + 1, 1)
        .map(|d| {
            if q == 4 {
                chrono::NaiveDate::from_ymd_opt(year, 12, 31).unwrap()
            } else {
                d.pred_opt().unwrap()
            }
        })
        .unwrap();
    let r = post(
        &s,
        &city,
        "progress",
        json!({"project": ids[4], "period": format!("{year}Q{q}"), "stage": "在建", "milestones": [{"name": "竣工验收", "planned": quarter_end.to_string(), "actual": null}], "source": src}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let now = s.app.get_json("/reports/dispatch");
    assert_eq!(now["report"]["as_of"], today.to_string(), "{}", now["report"]);
    if today < quarter_end {
        let late =
            now["report"]["behind"].as_array().unwrap().iter().any(|b| b["project"] == ids[4].as_str());
        assert!(!late, "due {quarter_end}, today {today}: not late yet");
        assert!(now["report"]["total"]["time_progress"].as_f64().unwrap() < f64::from(q) / 4.0);
    }
    // A project's target is reported by the tokens of the project's city, not another's.
    let dalian = add_token(&s.store, "大连市统计局", "city:210200");
    let port = json!({"target": "dalian-port-cargo-throughput", "period": "2023", "value": 3.2, "unit": "亿吨", "source": "测试"});
    let p = assert_problem(post(&s, &city, "indicators", port.clone()), 403);
    assert!(p["detail"].as_str().unwrap().contains("大连"), "{p}");
    // Refused for its area before the value is checked: a wrong unit is the same 403, not the 422 that would
    // describe another city's target.
    let mut wrong = port.clone();
    wrong["unit"] = json!("公里");
    let p = assert_problem(post(&s, &city, "indicators", wrong.clone()), 403);
    assert!(p["detail"].as_str().unwrap().contains("大连"), "{p}");
    assert_problem(post(&s, &dalian, "indicators", wrong), 422);
    let r = post(&s, &dalian, "indicators", port);
    assert_eq!(r.status(), 201, "{:?}", r.text());
    // A rank target: 20th is not in the top 5.
    let province = add_token(&s.store, "省统计局", "province");
    let r = post(
        &s,
        &province,
        "indicators",
        json!({"target": "shenyang-china-europe-train-rank", "period": "2023", "value": 20, "unit": "名", "source": "测试"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let t = s.app.get_json("/collections/targets/items/shenyang-china-europe-train-rank");
    assert_ne!(t["properties"]["progress"]["status"], "met", "{t}");
    let r = post(
        &s,
        &province,
        "indicators",
        json!({"target": "shenyang-china-europe-train-rank", "period": "2024", "value": 3, "unit": "名", "source": "测试"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let t = s.app.get_json("/collections/targets/items/shenyang-china-europe-train-rank");
    assert_eq!(t["properties"]["progress"]["status"], "met", "{t}");
}

/// `projects?datetime=` answers each project as it stood then: before and after a stage change; the filters
/// work on it; the tile of today carries today's stage.
#[test]
fn projects_as_they_stood_at_a_date_and_the_tile_carries_the_stage() {
    let s = spawn_store(Settings::local());
    let token = add_token(&s.store, "省发展改革委", "province");
    let p = &unreported_shenyang_points(&s, 1)[0];
    let id = id_of(p);
    for (period, stage) in [("2024Q1", "在建"), ("2024Q3", "竣工")] {
        let r = post(
            &s,
            &token,
            "progress",
            json!({"project": id, "period": period, "stage": stage, "source": "测试"}),
        );
        assert_eq!(r.status(), 201, "{:?}", r.text());
    }
    let filter = urlencode(&format!("id='{id}'"));
    let at = |day: &str| {
        let doc = s.app.get_json(&format!("/collections/projects/items?datetime={day}&filter={filter}"));
        assert_eq!(doc["numberMatched"], 1, "{doc}");
        doc["features"][0]["properties"].clone()
    };
    let june = at("2024-06-30");
    assert_eq!(june["stage"], "在建", "{june}");
    assert_eq!(june["progress_period"], "2024Q1");
    assert_eq!(june["progress_as_of"], "2024-06-30");
    assert_eq!(at("2024-08-01")["stage"], "竣工");
    assert_eq!(at("2023-12-31")["stage"], "未报告");
    assert_eq!(s.app.get_json(&format!("/collections/projects/items/{id}"))["properties"]["stage"], "竣工");
    // The same filters work on the state then.
    let building = |day: &str| {
        let ids: Vec<String> = all(
            &s,
            &format!(
                "/collections/projects/items?datetime={day}&region=shenyang-circle&filter={}&limit=1000",
                urlencode("stage='在建'")
            ),
        )
        .iter()
        .map(id_of)
        .collect();
        ids.contains(&id)
    };
    assert!(building("2024-06-30"));
    assert!(!building("2024-08-01"));
    // The progress collection selects by the quarter's interval.
    let in_may: Vec<String> =
        all(&s, "/collections/progress/items?datetime=2024-05-01&limit=1000").iter().map(id_of).collect();
    assert!(
        !in_may.contains(&format!("{id}@2024Q1")) && !in_may.contains(&format!("{id}@2024Q3")),
        "{in_may:?}"
    );
    let q3: Vec<String> = all(&s, "/collections/progress/items?datetime=2024-07-01/2024-09-30&limit=1000")
        .iter()
        .map(id_of)
        .collect();
    assert!(q3.contains(&format!("{id}@2024Q3")), "{q3:?}");

    // The tile containing it carries the stage for today.
    let c = &p["geometry"]["coordinates"];
    let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    let z = 12;
    let (x, y) = tile_of(lon, lat, z);
    let bytes = s.app.get(&format!("/tiles/{z}/{x}/{y}.mvt")).bytes().unwrap();
    let tile = Tile::decode(&bytes[..]).unwrap();
    let layer = tile.layers.iter().find(|l| l.name == "projects").unwrap();
    let f = layer.features.iter().find(|f| tag(layer, f, "id").as_deref() == Some(id.as_str())).unwrap();
    assert_eq!(tag(layer, f, "stage").as_deref(), Some("竣工"));
    assert_eq!(tag(layer, f, "progress_period").as_deref(), Some("2024Q3"));
    // The style rings points by stage and lists the stages.
    let style = s.app.get_json("/styles/default.json");
    assert!(style["metadata"]["planatlas:stages"].as_array().unwrap().iter().any(|s| s["stage"] == "在建"));
}

/// Every rule of a report is refused with problem+json, and the data is unchanged afterwards.
#[test]
fn every_progress_rule_is_refused_and_changes_nothing() {
    let s = spawn_store(Settings::local());
    let city = add_token(&s.store, "沈阳市发展改革委", "city:210100");
    let dalian = add_token(&s.store, "大连市发展改革委", "city:210200");
    let id = id_of(&unreported_shenyang_points(&s, 1)[0]);
    let first = json!({"project": id, "period": "2024Q1", "stage": "在建", "investment_total": 40.0, "investment_to_date": 10.0, "source": "测试"});
    assert_eq!(post(&s, &city, "progress", first.clone()).status(), 201);
    let snapshot = |s: &StoreApp| {
        let list = all(s, "/collections/progress/items?limit=1000");
        let one = s.app.get(&format!("/collections/progress/items/{id}@2024Q1"));
        let tag = one.headers()["etag"].to_str().unwrap().to_owned();
        (
            list,
            tag,
            s.app.get_json(&format!("/collections/projects/items/{id}"))["properties"]["stage"].clone(),
        )
    };
    let before = snapshot(&s);
    let with = |changes: Value| {
        let mut p = json!({"project": id, "period": "2024Q2", "stage": "在建", "source": "测试"});
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                p.as_object_mut().unwrap().remove(k);
            } else {
                p[k] = v.clone();
            }
        }
        p
    };
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        (
            "cumulative investment falls",
            "progress",
            with(json!({"investment_to_date": 5.0})),
            422,
            "never falls",
        ),
        (
            "an earlier quarter above a later one",
            "progress",
            with(json!({"period": "2023Q4", "investment_to_date": 20.0})),
            422,
            "never falls",
        ),
        ("stage goes back", "progress", with(json!({"stage": "前期"})), 422, "cannot follow"),
        ("suspended after completion", "progress", with(json!({"period": "2024Q3", "stage": "竣工"})), 0, ""),
        ("not a stage", "progress", with(json!({"stage": "完成了"})), 422, "stage"),
        ("before the plan", "progress", with(json!({"period": "2021Q4"})), 422, "before 2022"),
        ("not begun", "progress", with(json!({"period": "2031Q1"})), 422, "has not begun"),
        ("not a quarter", "progress", with(json!({"period": "2024H1"})), 422, "not a quarter"),
        ("not a period", "progress", with(json!({"period": "soon"})), 400, "period"),
        ("no source", "progress", with(json!({"source": null})), 422, "source is required"),
        ("unknown project", "progress", with(json!({"project": "no-such-project"})), 422, "no project"),
        ("a second report for the quarter", "progress", first.clone(), 409, "already exists"),
        (
            "more completed than the total",
            "progress",
            with(json!({"investment_total": 40.0, "investment_to_date": 50.0})),
            422,
            "exceeds investment_total",
        ),
        (
            "more completed than the total reported earlier",
            "progress",
            with(json!({"investment_to_date": 45.0})),
            422,
            "exceeds the investment_total 40",
        ),
        (
            "a quarter's amount beyond the cumulative rise",
            "progress",
            with(json!({"investment_to_date": 12.0, "investment_period": 5.0})),
            422,
            "exceeds the rise",
        ),
        (
            "a milestone after the quarter it is reported in",
            "progress",
            with(json!({"milestones": [{"name": "开工", "planned": null, "actual": "2024-08-01"}]})),
            422,
            "after the end of 2024Q2",
        ),
        ("an amount in yuan, not 亿元", "progress", with(json!({"investment_total": 1e308})), 422, "亿元"),
        ("a geometry", "progress-geometry", with(json!({})), 400, "geometry"),
    ];
    for (what, kind, body, status, words) in cases {
        if status == 0 {
            continue;
        }
        let r = if kind == "progress-geometry" {
            s.app
                .client
                .post(s.app.url("/collections/progress/items"))
                .header("authorization", format!("Bearer {city}"))
                .header("content-type", "application/geo+json")
                .body(json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [123.4, 41.8]}, "properties": body}).to_string())
                .send()
                .unwrap()
        } else {
            post(&s, &city, kind, body)
        };
        let problem = assert_problem(r, status);
        assert!(problem["detail"].as_str().unwrap().contains(words), "{what}: {problem}");
        assert_eq!(snapshot(&s), before, "{what} changed the data");
    }
    // A city token reports only for its own city's projects.
    let problem = assert_problem(post(&s, &dalian, "progress", with(json!({}))), 403);
    assert!(problem["detail"].as_str().unwrap().contains("沈阳"), "{problem}");
    assert_eq!(snapshot(&s), before);
    // A second report for the quarter replaces the first only with If-Match.
    let replaced = json!({"project": id, "period": "2024Q1", "stage": "在建", "investment_total": 40.0, "investment_to_date": 11.0, "source": "测试（更正）"});
    assert_problem(put(&s, &city, &format!("{id}@2024Q1"), replaced.clone(), None), 428);
    assert_problem(put(&s, &city, &format!("{id}@2024Q1"), replaced.clone(), Some("\"v9-0\"")), 412);
    assert_eq!(snapshot(&s), before);
    let r = put(&s, &city, &format!("{id}@2024Q1"), replaced, Some(&before.1));
    assert_eq!(r.status(), 204, "{:?}", r.text());
    let f = s.app.get_json(&format!("/collections/progress/items/{id}@2024Q1"));
    assert_eq!(f["properties"]["investment_to_date"], 11.0);
    let history = s.app.get_json(&format!("/collections/progress/items/{id}@2024Q1/versions"));
    assert_eq!(history["versions"].as_array().unwrap().len(), 2, "{history}");
    // A pause resumes where the project was: 在建 → 暂停 → 前期 is refused like 在建 → 前期, 在建 is not.
    assert_eq!(post(&s, &city, "progress", with(json!({"stage": "暂停"}))).status(), 201);
    let back = json!({"project": id, "period": "2024Q3", "stage": "前期", "source": "测试"});
    let problem = assert_problem(post(&s, &city, "progress", back), 422);
    assert!(problem["detail"].as_str().unwrap().contains("resumes where the project was"), "{problem}");
    let resumed = json!({"project": id, "period": "2024Q3", "stage": "在建", "source": "测试"});
    assert_eq!(post(&s, &city, "progress", resumed).status(), 201);
}

/// Target status from indicator values, through the API: met, behind and no data on hand-worked cases (the
/// plan's targets are all due by 2024, so "on track" is checked by the unit tests on the same function).
#[test]
fn target_status_from_indicator_values() {
    let s = spawn_store(Settings::local());
    let province = add_token(&s.store, "省统计局", "province");
    let dalian = add_token(&s.store, "大连市统计局", "city:210200");
    let targets = all(&s, "/collections/targets/items?limit=1000");
    let free: Vec<&Value> = targets
        .iter()
        .filter(|t| {
            let p = &t["properties"];
            p["scope"] == "city"
                && p["subject_id"] == "210100"
                && p["comparator"] == ">="
                && p["progress"]["values"] == 0
        })
        .collect();
    assert!(free.len() >= 3, "three Shenyang ≥ targets without values");
    let (met, behind, none) = (free[0], free[1], free[2]);
    let value = |t: &Value| t["properties"]["value"].as_f64().unwrap();
    let unit = |t: &Value| t["properties"]["unit"].as_str().unwrap().to_owned();
    let put_value = |t: &Value, period: &str, v: f64| {
        post(
            &s,
            &province,
            "indicators",
            json!({"target": id_of(t), "period": period, "value": v, "unit": unit(t), "source": "测试统计公报"}),
        )
    };
    assert_eq!(put_value(met, "2021", value(met) * 0.5).status(), 201);
    assert_eq!(put_value(met, "2024", value(met) * 1.01).status(), 201);
    assert_eq!(put_value(behind, "2021", value(behind) * 0.5).status(), 201);
    assert_eq!(put_value(behind, "2024", value(behind) * 0.9).status(), 201);
    let status =
        |t: &Value| s.app.get_json(&format!("/collections/targets/items/{}", id_of(t)))["properties"].clone();
    assert_eq!(status(met)["status"], "met", "{}", status(met));
    let b = status(behind);
    assert_eq!(b["status"], "behind", "{b}");
    assert_eq!(b["progress"]["latest_period"], "2024");
    assert_eq!(status(none)["status"], "no_data");
    // A wrong unit, a qualitative target and another city's token are refused.
    let r = post(
        &s,
        &province,
        "indicators",
        json!({"target": id_of(none), "period": "2023", "value": 1.0, "unit": "斤", "source": "x"}),
    );
    assert!(assert_problem(r, 422)["detail"].as_str().unwrap().contains("unit"));
    let qualitative = targets.iter().find(|t| t["properties"]["comparator"] == "qualitative").unwrap();
    let r = post(
        &s,
        &province,
        "indicators",
        json!({"target": id_of(qualitative), "period": "2023", "value": 1.0, "unit": unit(qualitative), "source": "x"}),
    );
    assert!(assert_problem(r, 422)["detail"].as_str().unwrap().contains("qualitative"));
    // What a target measures bounds its values: a share over 100 %, a negative count.
    let unit_is = |u: &str| {
        targets
            .iter()
            .find(|t| t["properties"]["unit"] == u && t["properties"]["comparator"] == ">=")
            .unwrap_or_else(|| panic!("a ≥ target in {u}"))
    };
    for (t, v, words) in [(unit_is("%"), 150.0, "not a share"), (unit_is("个"), -5.0, "negative")] {
        let r = post(
            &s,
            &province,
            "indicators",
            json!({"target": id_of(t), "period": "2023", "value": v, "unit": unit(t), "source": "x"}),
        );
        let problem = assert_problem(r, 422);
        assert!(problem["detail"].as_str().unwrap().contains(words), "{problem}");
    }
    assert_problem(
        post(
            &s,
            &dalian,
            "indicators",
            json!({"target": id_of(none), "period": "2023", "value": 1.0, "unit": unit(none), "source": "x"}),
        ),
        403,
    );
    assert_eq!(status(none)["status"], "no_data");
}

/// What a second review found wrong in following the plan, each through the real server: quarters' amounts
/// that add up to more than the cumulative rise, a project started twice, a pause ended by completion, a 新开工
/// of an earlier quarter shown as 新开工 by the projects while the dispatch counted it 在建, a project at an
/// instant before the store began (in the list, 404 alone), growth targets judged with years after the target
/// year and without the target year, a cumulative growth target judged as a yearly mean, the 沈抚 target out of
/// the circle's reach, an over-long milestone text that made every XLSX report a 500, and report formats by
/// `Accept`.
#[test]
fn plan_rules_a_second_review_found_wrong() {
    let s = spawn_store(Settings::local());
    let city = add_token(&s.store, "沈阳市发展改革委", "city:210100");
    let province = add_token(&s.store, "省统计局", "province");
    let circle = add_token(&s.store, "沈阳都市圈推进组", "region:shenyang-circle");
    let liaodong = add_token(&s.store, "辽东推进组", "region:liaodong-zone");
    let ids: Vec<String> = unreported_shenyang_points(&s, 5).iter().map(id_of).collect();
    let src = "测试";
    let ok = |p: Value| {
        let r = post(&s, &city, "progress", p.clone());
        assert_eq!(r.status(), 201, "{p}: {:?}", r.text());
    };
    // 8 and 30 reported as the quarters' amounts, and the cumulative figure rose by 2 over both: refused.
    ok(
        json!({"project": ids[0], "period": "2024Q1", "stage": "在建", "investment_planned_year": 40.0, "investment_period": 8.0, "investment_to_date": 10.0, "source": src}),
    );
    ok(
        json!({"project": ids[0], "period": "2024Q2", "stage": "在建", "investment_period": 30.0, "source": src}),
    );
    let p = assert_problem(
        post(
            &s,
            &city,
            "progress",
            json!({"project": ids[0], "period": "2024Q3", "stage": "在建", "investment_period": 1.0, "investment_to_date": 12.0, "source": src}),
        ),
        422,
    );
    assert!(p["detail"].as_str().unwrap().contains("2024Q2, 2024Q3"), "{p}");
    // Started once: a second 新开工 is refused, after a pause too.
    ok(json!({"project": ids[1], "period": "2024Q1", "stage": "新开工", "source": src}));
    assert_problem(
        post(
            &s,
            &city,
            "progress",
            json!({"project": ids[1], "period": "2024Q3", "stage": "新开工", "source": src}),
        ),
        422,
    );
    ok(json!({"project": ids[1], "period": "2024Q2", "stage": "暂停", "source": src}));
    assert_problem(
        post(
            &s,
            &city,
            "progress",
            json!({"project": ids[1], "period": "2024Q3", "stage": "新开工", "source": src}),
        ),
        422,
    );
    // Paused, then finished: forward, so it is taken.
    ok(json!({"project": ids[2], "period": "2025Q1", "stage": "在建", "source": src}));
    ok(json!({"project": ids[2], "period": "2025Q2", "stage": "暂停", "source": src}));
    ok(
        json!({"project": ids[2], "period": "2025Q4", "stage": "竣工", "milestones": [{"name": "复工", "actual": "2025-07-15"}], "source": src}),
    );
    // A shipped 新开工 of an earlier quarter: the projects say 在建 at 2024-06-30, as the dispatch counts it,
    // in the list and in the single feature at an instant before the store began.
    let mut reports = shipped_reports();
    reports.sort_by(|a, b| a["period"].as_str().cmp(&b["period"].as_str()));
    let mut latest: BTreeMap<String, &Value> = BTreeMap::new();
    for r in reports.iter().filter(|r| r["period"].as_str().unwrap() <= "2024Q2") {
        latest.insert(r["project"].as_str().unwrap().to_owned(), r);
    }
    let (old_start, _) = latest
        .iter()
        .find(|(_, r)| r["stage"] == "新开工" && r["period"].as_str().unwrap() < "2024Q2")
        .expect("a shipped 新开工 before 2024Q2 with nothing after it");
    let listed = s.app.get_json(&format!(
        "/collections/projects/items?datetime=2024-06-30&filter={}",
        urlencode(&format!("id='{old_start}'"))
    ));
    assert_eq!(listed["features"][0]["properties"]["stage"], "在建", "{listed}");
    let one = s.app.get(&format!("/collections/projects/items/{old_start}?datetime=2024-06-30T12:00:00Z"));
    assert_eq!(one.status(), 200);
    let memento = one.headers()["memento-datetime"].clone();
    let one: Value = one.json().unwrap();
    assert_eq!(one["properties"]["stage"], "在建", "{one}");
    assert_eq!(one["properties"]["name_zh"], listed["features"][0]["properties"]["name_zh"]);
    // A day asks the item as the list reads it: its end in Liaoning. An interval asks no one version.
    let day = s.app.get(&format!("/collections/projects/items/{old_start}?datetime=2024-06-30"));
    assert_eq!(day.status(), 200);
    assert_eq!(day.headers()["memento-datetime"], memento);
    let day: Value = day.json().unwrap();
    assert_eq!(day["properties"], listed["features"][0]["properties"], "{day}");
    for loose in ["2024-6-30", "2024-06-30/2024-7-1"] {
        for path in [format!("items/{old_start}"), "items".to_owned()] {
            let r = s.app.get(&format!("/collections/projects/{path}?datetime={loose}"));
            assert_eq!(r.status(), 400, "{path} {loose}: RFC 3339 days have two-digit months and days");
        }
    }
    let span = s.app.get(&format!("/collections/projects/items/{old_start}?datetime=2024-01-01/2024-06-30"));
    assert_eq!(span.status(), 400);
    assert_eq!(span.json::<Value>().unwrap()["parameter"], "datetime");
    let still_new = s.app.get_json(&format!(
        "/collections/projects/items?datetime=2024-06-30&limit=1000&filter={}",
        urlencode("stage='新开工'")
    ));
    let dispatch = s.app.get_json("/reports/dispatch?period=2024Q2");
    assert_eq!(
        still_new["numberMatched"], dispatch["report"]["total"]["stages"]["新开工"],
        "the projects' 新开工 and the dispatch's: {still_new} {}",
        dispatch["report"]["total"]
    );
    // Growth targets: the mean of the plan's years up to the target year, and the target year must be there.
    let target = |id: &str| s.app.get_json(&format!("/collections/targets/items/{id}"))["properties"].clone();
    let fai = "liaoxi-zone-fai-growth";
    assert_eq!(target(fai)["progress"]["values"], 0, "{}", target(fai));
    let value = |token: &str, t: &str, period: &str, v: f64| {
        let r = post(
            &s,
            token,
            "indicators",
            json!({"target": t, "period": period, "value": v, "unit": "%", "source": "测试统计公报"}),
        );
        assert_eq!(r.status(), 201, "{t} {period}: {:?}", r.text());
    };
    value(&province, fai, "2022", 16.0);
    value(&province, fai, "2023", 17.0);
    assert_eq!(target(fai)["status"], "behind", "2024 has ended with no value: {}", target(fai));
    value(&province, fai, "2024", -5.0);
    value(&province, fai, "2025", 40.0);
    let t = target(fai);
    assert_eq!(t["status"], "behind", "{t}");
    assert!(t.to_string().contains("met later"), "{t}");
    // 森林蓄积量增长 7.7% is growth over the plan period: 7.8 by 2024 meets it.
    let forest = "liaodong-zone-forest-stock-growth";
    for (period, v) in [("2022", 2.5), ("2023", 5.1), ("2024", 7.8)] {
        value(&liaodong, forest, period, v);
    }
    assert_eq!(target(forest)["status"], "met", "{}", target(forest));
    // 沈抚同城化 (沈阳 and 抚顺) lies in the Shenyang circle: its group reports it.
    value(&circle, "shenyang-fushun-digital-core-share", "2023", 9.0);
    // A milestone name is bounded; long reasons are cut to a cell, so the workbook still comes.
    let long = "节点".repeat(17_000);
    let p = assert_problem(
        post(
            &s,
            &city,
            "progress",
            json!({"project": ids[3], "period": "2024Q2", "stage": "在建", "milestones": [{"name": long, "planned": "2024-05-01"}], "source": src}),
        ),
        422,
    );
    assert!(p["detail"].as_str().unwrap().contains("milestones[0].name"), "{p}");
    // Characters outside the Basic Multilingual Plane (U+20000) take two UTF-16 units each, and Excel counts
    // units: fewer characters than a cell holds, more units.
    let many: Vec<Value> = (0..150)
        .map(|i| json!({"name": format!("{i:03}{}", "\u{20000}".repeat(150)), "planned": "2024-05-01"}))
        .collect();
    ok(
        json!({"project": ids[3], "period": "2024Q2", "stage": "在建", "investment_planned_year": 10.0, "investment_period": 1.0, "investment_to_date": 1.0, "milestones": many, "source": src}),
    );
    let reasons = s.app.get_json("/reports/dispatch?period=2024Q2");
    let mine =
        reasons["report"]["behind"].as_array().unwrap().iter().find(|b| b["project"] == ids[3].as_str());
    let joined: usize = mine.unwrap()["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().encode_utf16().count() + 1)
        .sum();
    let chars: usize = mine.unwrap()["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().chars().count() + 1)
        .sum();
    assert!(joined > 32_767 && chars < 32_767, "the reasons ({chars} characters, {joined} UTF-16 units)");
    // Investment behind time progress: both percentages to one decimal.
    let why = mine.unwrap()["reasons"].to_string();
    assert!(why.contains("投资完成 10.0% < 时间进度 50.0%"), "{why}");
    let xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    for (path, accept, want) in [
        ("/reports/dispatch?period=2024Q2&f=xlsx", "*/*", xlsx_type),
        ("/reports/summary?period=2024", "*/*", "application/json"),
        ("/reports/dispatch?period=2024Q2", xlsx_type, xlsx_type),
        ("/reports/summary?period=2024", "text/csv", "text/csv"),
        ("/reports/summary?period=2024", "text/csv;q=0.5, application/json", "application/json"),
    ] {
        let r = s.app.client.get(s.app.url(path)).header("accept", accept).send().unwrap();
        assert_eq!(r.status(), 200, "{path} {accept}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(want), "{path} {accept}: {ct}");
    }
    // A start in 2023Q4 is 在建 through 2024H1: the summary's stage changes say so, as its table counts it.
    ok(json!({"project": ids[4], "period": "2023Q4", "stage": "新开工", "source": src}));
    let h1 = s.app.get_json("/reports/summary?period=2024H1");
    let change = h1["report"]["changes"].as_array().unwrap().iter().find(|c| c["project"] == ids[4].as_str());
    let change = change.unwrap_or_else(|| panic!("{} changed stage in 2024H1", ids[4]));
    assert_eq!((change["from"].as_str(), change["to"].as_str()), (Some("新开工"), Some("在建")), "{change}");
    // The summary says what its span's figure counts.
    let summary = s.app.get_json("/reports/summary?period=2024");
    assert!(
        summary["definitions"]["completed_in_span"].as_str().is_some_and(|d| d.contains("year plan")),
        "{}",
        summary["definitions"]
    );
}

/// What a third review of following the plan found wrong, each through the real server: a year's total (GDP)
/// judged by a quarter's value, and a year's value losing to its last quarter's; a yearly target (每年新增) met
/// by one good year; a target with no deadline in the plan given 2024's; a year plan above the project's total;
/// a quarter with no report counted as nothing invested; a half year's summary counting only the starts of its
/// last quarter; old reports counted as this quarter's; and a 422 that did not name its field.
#[test]
fn plan_rules_a_third_review_found_wrong() {
    let s = spawn_store(Settings::local());
    let city = add_token(&s.store, "沈阳市发展改革委", "city:210100");
    let province = add_token(&s.store, "省统计局", "province");
    let value = |target: &str, period: &str, v: f64, unit: &str| {
        post(
            &s,
            &province,
            "indicators",
            json!({"target": target, "period": period, "value": v, "unit": unit, "source": "测试统计公报"}),
        )
    };
    let progress = |target: &str| {
        s.app.get_json(&format!("/collections/targets/items/{target}"))["properties"]["progress"].clone()
    };
    // GDP is a year's total: a quarter's value is refused, naming the field.
    assert_eq!(value("shenyang-gdp", "2024", 1.01, "万亿元").status(), 201);
    let problem = assert_problem(value("shenyang-gdp", "2024Q4", 0.27, "万亿元"), 422);
    assert_eq!(problem["property"], "period", "{problem}");
    assert_eq!(progress("shenyang-gdp")["status"], "met");
    // A level's year value decides over its last quarter's (both end on 31 December).
    let targets = all(&s, "/collections/targets/items?limit=1000");
    let level = targets
        .iter()
        .find(|t| {
            let p = &t["properties"];
            p["unit"] == "%"
                && p["comparator"] == ">="
                && p["measure"].is_null()
                && p["target_year"] == 2024
                && p["progress"]["values"] == 0
        })
        .expect("a ≥ % target without values");
    let (level, x) = (id_of(level), level["properties"]["value"].as_f64().unwrap());
    for (period, v) in [("2021", x * 0.5), ("2024", x), ("2024Q4", x * 0.9)] {
        assert_eq!(value(&level, period, v, "%").status(), 201, "{level} {period}");
    }
    let p = progress(&level);
    assert_eq!(p["status"], "met", "{p}");
    assert_eq!(p["latest_period"], "2024", "{p}");
    // Every year must reach a yearly target: one good year after two short ones is behind.
    for (year, v) in [("2022", 3.0), ("2023", 2.0), ("2024", 12.0)] {
        assert_eq!(value("liaodong-zone-gi-market-entities", year, v, "户/年").status(), 201);
    }
    let p = progress("liaodong-zone-gi-market-entities");
    assert_eq!(p["status"], "behind", "{p}");
    assert!(p["reason"].as_str().unwrap().contains("2022") && p["reason"].as_str().unwrap().contains("2023"));
    // A target with no year in the plan is not met yet, with no deadline stated.
    assert_eq!(value("dalian-port-cargo-throughput", "2023", 3.2, "亿吨").status(), 201);
    let p = progress("dalian-port-cargo-throughput");
    assert_eq!(p["status"], "not_met", "{p}");
    assert!(!p["reason"].as_str().unwrap().contains("ended"), "{p}");
    assert_eq!(value("dalian-port-cargo-throughput", "2024", 4.1, "亿吨").status(), 201);
    assert_eq!(progress("dalian-port-cargo-throughput")["status"], "met");

    // Nor is a year's total for a year not over.
    let this_year = chrono::Datelike::year(
        &chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).date_naive(),
    );
    let problem =
        assert_problem(value("dalian-port-cargo-throughput", &this_year.to_string(), 3.0, "亿吨"), 422);
    assert_eq!(problem["property"], "period", "{problem}");

    let ids: Vec<String> = unreported_shenyang_points(&s, 5).iter().map(id_of).collect();
    let src = "测试";
    let report = |p: Value| {
        let r = post(&s, &city, "progress", p.clone());
        assert_eq!(r.status(), 201, "{p}: {:?}", r.text());
        p
    };
    // A year plan above the project's total is refused, naming the field.
    let problem = assert_problem(
        post(
            &s,
            &city,
            "progress",
            json!({"project": ids[0], "period": "2024Q1", "stage": "新开工", "investment_total": 5.0,
                   "investment_planned_year": 50.0, "investment_period": 1.0, "investment_to_date": 1.0, "source": src}),
        ),
        422,
    );
    assert_eq!(problem["property"], "investment_planned_year", "{problem}");
    // Whichever comes first: a total below the year's plan reported after it is refused too.
    let mut records = shipped_reports();
    records.push(report(json!({"project": ids[4], "period": "2024Q1", "stage": "前期",
                                "investment_planned_year": 50.0, "source": src})));
    let problem = assert_problem(
        post(
            &s,
            &city,
            "progress",
            json!({"project": ids[4], "period": "2024Q2", "stage": "前期", "investment_total": 5.0, "source": src}),
        ),
        422,
    );
    assert_eq!(problem["property"], "investment_planned_year", "{problem}");
    let year_2024 = || {
        // Empty while no report gives a figure (a_summary_with_no_figures_leaves_its_sums_empty): nothing yet.
        s.app.get_json("/reports/summary?period=2024&by=city")["report"]["completed_in_span"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let before = year_2024();
    // No report for 2024Q2: the rise of the cumulative figure from Q1 to Q3 (2 to 5) covers it, so 5 of 6 亿元
    // is done by Q3 (83 % against 75 %), not 3 (the two reports' own amounts).
    records.extend([
        report(
            json!({"project": ids[0], "period": "2024Q1", "stage": "新开工", "investment_planned_year": 6.0,
                      "investment_period": 2.0, "investment_to_date": 2.0, "source": src}),
        ),
        report(json!({"project": ids[0], "period": "2024Q3", "stage": "在建", "investment_period": 1.0,
                      "investment_to_date": 5.0, "source": src})),
    ]);
    // The year's summary counts the bridged quarter in its headline too: 5, not 3.
    let added = year_2024() - before;
    assert!((added - 5.0).abs() < 1e-9, "the year's completed investment rose by {added}");
    // A report without figures (前期 in Q1) is bridged like a missing one: nothing was invested before the
    // 2024Q2 report whose cumulative figure is its own quarter's, so 1 of 50 亿元 is done at mid-year: behind.
    records.push(report(json!({"project": ids[3], "period": "2024Q1", "stage": "前期", "source": src})));
    records.push(report(json!({"project": ids[3], "period": "2024Q2", "stage": "新开工",
                                "investment_planned_year": 50.0, "investment_period": 1.0,
                                "investment_to_date": 1.0, "source": src})));
    // Started in 2024Q1 and under construction by Q2: the half year's summary counts the start.
    records.push(report(json!({"project": ids[1], "period": "2024Q1", "stage": "新开工", "source": src})));
    records.push(report(json!({"project": ids[1], "period": "2024Q2", "stage": "在建", "source": src})));
    let doc = check_dispatch(&s, &records, "2024Q3", "city");
    assert!(
        !doc["report"]["behind"].as_array().unwrap().iter().any(|b| b["project"] == ids[0].as_str()),
        "{}",
        doc["report"]["behind"]
    );
    let shenyang = doc["report"]["rows"].as_array().unwrap().iter().find(|r| r["key"] == "210100").unwrap();
    assert!(shenyang["completed_year"].as_f64().unwrap() >= 5.0 - 1e-9, "{shenyang}");
    let q2 = check_dispatch(&s, &records, "2024Q2", "region");
    let listed =
        q2["report"]["behind"].as_array().unwrap().iter().find(|b| b["project"] == ids[3].as_str()).cloned();
    assert_eq!(listed.as_ref().map(|b| b["stage_period"].clone()), Some(json!("2024Q2")), "{listed:?}");
    // The HTML page says which quarter each behind project's stage comes from.
    let page = s.app.get("/reports/dispatch?period=2024Q2&f=html").text().unwrap();
    assert!(page.contains("阶段所据季度"), "{page}");
    let summary = s.app.get_json("/reports/summary?period=2024H1&by=city");
    let change =
        summary["report"]["changes"].as_array().unwrap().iter().find(|c| c["project"] == ids[1].as_str());
    assert_eq!(
        change.map(|c| (c["from"].clone(), c["to"].clone())),
        Some((json!("未报告"), json!("新开工")))
    );
    let total = &summary["report"]["total"];
    assert!(total["stages"]["新开工"].as_u64().unwrap() >= 2, "both starts of 2024H1: {total}");
    // The quarter after: both still stand on earlier reports, and the table says so.
    let q4 = s.app.get_json("/reports/dispatch?period=2024Q4&by=city");
    let t = &q4["report"]["total"];
    let in_q4: BTreeSet<&str> =
        records.iter().filter(|r| r["period"] == "2024Q4").map(|r| r["project"].as_str().unwrap()).collect();
    assert_eq!(t["reported_in_span"].as_u64().unwrap() as usize, in_q4.len(), "only 2024Q4's reports: {t}");
    assert!(
        t["reported"].as_u64().unwrap() as usize >= in_q4.len() + 2,
        "ours stand on earlier reports: {t}"
    );
    assert_eq!(q4["table"]["head"][3], "本期报告");

    // The quarter under way with no report yet is not counted as nothing invested: the rule stands at the end
    // of the quarter before (only when there is one in the year).
    let (year, q) = quarter_now();
    if q > 1 {
        on_plan_before(&report, &ids[2], year, q);
        // Its report for the quarter under way neither helps nor harms: every project is judged at the end of
        // the quarter before (it made a reporting project behind against the days elapsed).
        report(json!({"project": ids[2], "period": format!("{year}Q{q}"), "stage": "在建",
                      "investment_period": 0.1, "investment_to_date": f64::from(q - 1) + 0.1, "source": src}));
        let now = s.app.get_json(&format!("/reports/dispatch?period={year}Q{q}&by=city"));
        assert_eq!(now["report"]["total"]["time_progress"].as_f64(), Some(f64::from(q - 1) / 4.0));
        let behind = now["report"]["behind"].as_array().unwrap();
        assert!(
            !behind.iter().any(|b| b["project"] == ids[2].as_str()),
            "on plan to its last quarter: {now}"
        );
    }
}

/// What a randomised check of the dispatch against its definitions found, each through the real server: the
/// summary's 期内完成投资 dropped every quarter after one nothing bridged; a quarter stated only by its own amount
/// broke the next quarter's rise; a first report of 0 invested did not say nothing came before; a year plan
/// filed in the quarter under way counted at once; a descending sort put the projects without a value first.
#[test]
fn dispatch_rules_a_randomised_check_found_wrong() {
    let s = spawn_store(Settings::local());
    let city = add_token(&s.store, "沈阳市发展改革委", "city:210100");
    let ids: Vec<String> = unreported_shenyang_points(&s, 5).iter().map(id_of).collect();
    let src = "测试";
    let report = |p: Value| {
        let r = post(&s, &city, "progress", p.clone());
        assert_eq!(r.status(), 201, "{p}: {:?}", r.text());
        p
    };
    let headline = |period: &str| {
        // Empty where no report gives a figure: counted here as nothing yet.
        s.app.get_json(&format!("/reports/summary?period={period}&by=city"))["report"]["completed_in_span"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let (h1, year) = (headline("2024H1"), headline("2024"));
    let mut records = shipped_reports();
    records.extend([
        // Q1 says nothing of money; Q2 its own 5.
        report(json!({"project": ids[0], "period": "2024Q1", "stage": "前期", "source": src})),
        report(json!({"project": ids[0], "period": "2024Q2", "stage": "新开工", "investment_period": 5.0, "source": src})),
        // 3, then 2 more.
        report(json!({"project": ids[1], "period": "2024Q2", "stage": "新开工", "investment_period": 3.0, "source": src})),
        report(json!({"project": ids[1], "period": "2024Q3", "stage": "在建", "investment_period": 2.0,
                      "investment_to_date": 40.0, "source": src})),
    ]);
    assert!((headline("2024H1") - h1 - 8.0).abs() < 1e-9, "the half year gains 5 and 3");
    assert!((headline("2024") - year - 10.0).abs() < 1e-9, "the year gains 5, 3 and 2");
    // 10 by the end of 2023; 3 in 2024Q1 (no cumulative figure), 16 by 2024Q2: 6 of a plan of 20 at mid-year.
    records.extend([
        report(json!({"project": ids[2], "period": "2023Q4", "stage": "在建", "investment_to_date": 10.0, "source": src})),
        report(json!({"project": ids[2], "period": "2024Q1", "stage": "在建", "investment_planned_year": 20.0,
                      "investment_period": 3.0, "source": src})),
        report(json!({"project": ids[2], "period": "2024Q2", "stage": "在建", "investment_to_date": 16.0, "source": src})),
        // A first report of nothing invested, then 2 by Q3 against a plan of 10: behind at Q3.
        report(json!({"project": ids[3], "period": "2024Q1", "stage": "前期", "investment_planned_year": 10.0,
                      "investment_to_date": 0.0, "source": src})),
        report(json!({"project": ids[3], "period": "2024Q3", "stage": "新开工", "investment_to_date": 2.0, "source": src})),
    ]);
    let behind = |doc: &Value, id: &str| {
        doc["report"]["behind"].as_array().unwrap().iter().any(|b| b["project"] == id)
    };
    let q2 = check_dispatch(&s, &records, "2024Q2", "city");
    assert!(behind(&q2, &ids[2]), "6 of 20 at mid-year: {}", q2["report"]["behind"]);
    let q3 = check_dispatch(&s, &records, "2024Q3", "region");
    assert!(behind(&q3, &ids[3]), "2 of 10 at three quarters: {}", q3["report"]["behind"]);

    // A plan filed in the quarter under way counts once it ends: 3 of 4 done by the quarter before is on plan,
    // and a larger plan in this quarter's report does not make it behind yet.
    let (y, q) = quarter_now();
    if q > 1 {
        on_plan_before(&report, &ids[4], y, q);
        report(json!({"project": ids[4], "period": format!("{y}Q{q}"), "stage": "在建",
                      "investment_planned_year": 40.0, "source": src}));
        let now = s.app.get_json(&format!("/reports/dispatch?period={y}Q{q}&by=city"));
        assert!(!behind(&now, &ids[4]), "judged on the plan that stood: {}", now["report"]["behind"]);
    }

    // Projects without a share sort last, descending as ascending.
    let page = s.app.get_json("/collections/projects/items?sortby=-investment_share&limit=3");
    assert!(page["features"][0]["properties"]["investment_share"].is_number(), "{}", page["features"][0]);
}

/// Where nothing is known, a summary says so: no report in 2022H1 gives a figure, so its 期内完成投资 and the
/// table's investment sums are empty, not 0.0 (which reads "nothing planned, nothing done"), in JSON, CSV and
/// the HTML page.
#[test]
fn a_summary_with_no_figures_leaves_its_sums_empty() {
    let s = spawn_store(Settings::local());
    let doc = s.app.get_json("/reports/summary?period=2022H1&by=city");
    let report = &doc["report"];
    assert_eq!(report["reports_in_span"], 0, "{report}");
    assert!(report["completed_in_span"].is_null(), "{report}");
    for r in report["rows"].as_array().unwrap().iter().chain([&report["total"]]) {
        assert_eq!(r["investment_known"], 0, "{r}");
        assert!(r["planned_year"].is_null() && r["completed_year"].is_null(), "{r}");
    }
    let csv = s.app.get("/reports/summary?period=2022H1&by=city&f=csv").text().unwrap();
    let total = csv.lines().last().unwrap();
    assert!(total.starts_with("合计,") && !total.contains("0.0,0.0"), "{total}");
    let html = s.app.get("/reports/summary?period=2022H1&f=html").text().unwrap();
    assert!(html.contains("期内完成投资未知") && !html.contains("期内完成投资 0.0"), "{html}");
}
