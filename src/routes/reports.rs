//! `GET /reports/consistency`: where the data and the plan disagree, with the explanation the data gives;
//! `GET /reports/data-quality`: how precisely and on what the positions rest.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::html::{Cell, Page, Span, Style};
use super::{
    Caching, Format, HTML, JSON, QueryParams, State, base_url, link, negotiate, respond, respond_json,
};
use crate::error::ApiResult;
use crate::store::admin::BOUNDARY_ATTRIBUTION;

/// The checks the consistency report runs (`check=`).
const CHECKS: &[&str] = &["region", "named_place", "near_duplicate"];

/// `GET /reports/consistency`.
pub async fn get_consistency(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f", "check"])?;
    let format = negotiate(&req, &params)?;
    let base = base_url(&req, &state.settings);
    let check = params.get("check");
    if let Some(c) = check.filter(|c| !CHECKS.contains(c)) {
        return Err(crate::error::ApiError::param(
            "check",
            format!("'{c}' is not one of {}", CHECKS.join(", ")),
        ));
    }
    let entries: Vec<_> =
        model.catalog.consistency().entries.iter().filter(|e| check.is_none_or(|c| e.check == c)).collect();
    let mut by_check: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &entries {
        *by_check.entry(e.check).or_default() += 1;
    }
    let unexplained = entries.iter().filter(|e| e.explanation.is_none()).count();
    let doc = json!({
        "title": "Consistency of the project catalogue with the plan",
        "checks": {
            "region": "named in part 三/四/五/六 but not located in that part's region",
            "named_place": "the place the plan names is a county or city the geometry does not lie in",
            "near_duplicate": "within 100 m of a similarly named project",
            "county": "a point outside the county it names: refused at load, so never listed here",
        },
        "counts": by_check,
        "total": entries.len(),
        "unexplained": unexplained,
        "entries": entries.iter().map(|e| json!({
            "check": e.check,
            "project_id": e.project_id,
            "name_zh": e.name_zh,
            "detail": e.detail,
            "explanation": e.explanation,
            "href": format!("{base}/collections/projects/items/{}", e.project_id),
        })).collect::<Vec<_>>(),
        "links": [link(format!("{base}/reports/consistency"), "self", JSON, "This report")],
    });
    match format {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let rows = entries
                .iter()
                .map(|e| {
                    vec![
                        Cell::text(e.check),
                        Span::link(
                            e.name_zh.clone(),
                            format!("{base}/collections/projects/items/{}?f=html", e.project_id),
                        )
                        .into(),
                        Cell::text(e.detail.clone()),
                        match &e.explanation {
                            Some(x) => Cell::text(x.clone()),
                            None => Span::text("none").styled(Style::Strong).into(),
                        },
                    ]
                })
                .collect();
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Consistency report", format!("{base}/reports/consistency?f=html")),
            ];
            let page = Page::new("Consistency report", &crumbs, BOUNDARY_ATTRIBUTION)
                .depth(2)
                .text(format!(
                    "{} entries ({unexplained} without an explanation in the data).",
                    entries.len()
                ))
                .table(&["Check", "Project", "What disagrees", "Explanation in the data"], rows);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// The data-quality figures of the project catalogue: how precisely each project is placed, where, which
/// points are shared and by what, and which positions rest on a cited source.
fn data_quality(catalog: &crate::store::Catalog) -> serde_json::Value {
    use crate::domain::project::PRECISIONS;
    let projects = catalog.projects().features();
    let precision = |f: &crate::store::Feature| f.str_prop("location_precision").unwrap_or("").to_owned();
    let count_by = |fs: &mut dyn Iterator<Item = &crate::store::Feature>| {
        let mut m: BTreeMap<String, usize> = PRECISIONS.iter().map(|(p, _)| ((*p).to_owned(), 0)).collect();
        for f in fs {
            *m.entry(precision(f)).or_default() += 1;
        }
        m
    };
    let by_city: Vec<_> = catalog
        .cities()
        .features()
        .iter()
        .map(|c| {
            let in_city: Vec<_> = projects.iter().filter(|p| p.str_list("city_adcodes").any(|x| x == c.id)).collect();
            json!({
                "adcode": c.id,
                "name_zh": c.str_prop("name_zh"),
                "projects": in_city.len(),
                "city_wide": in_city.iter().filter(|p| p.properties.get("city_wide") == Some(&json!(true))).count(),
                "by_precision": count_by(&mut in_city.iter().copied()),
            })
        })
        .collect();
    let by_county: Vec<_> = catalog
        .counties()
        .features()
        .iter()
        .map(|c| {
            let known: Vec<_> =
                projects.iter().filter(|p| p.str_list("county_adcodes").any(|x| x == c.id)).collect();
            json!({
                "adcode": c.id,
                "name_zh": c.str_prop("name_zh"),
                "city_adcode": c.str_prop("parent_adcode"),
                "projects": known.len(),
                "by_precision": count_by(&mut known.iter().copied()),
            })
        })
        .collect();
    let mut shared: BTreeMap<(i64, i64), Vec<&crate::store::Feature>> = BTreeMap::new();
    for p in projects {
        if let Some(geo::Geometry::Point(pt)) = &p.geometry {
            let key = crate::store::projects::point_key(*pt);
            shared.entry(key).or_default().push(p);
        }
    }
    let shared: Vec<_> = shared
        .into_iter()
        .filter(|(_, fs)| fs.len() > 1)
        .map(|((x, y), fs)| {
            // The loader's own place key: `place:<place_id>`, `seat:<adcode>` or `project:<id>`.
            let place = crate::store::projects::place_key(&fs[0].properties, &fs[0].id, &precision(fs[0]));
            #[expect(clippy::cast_precision_loss, reason = "micro-degrees back to degrees")]
            let (lon, lat) = (x as f64 / 1e6, y as f64 / 1e6);
            json!({"lon": lon, "lat": lat, "place": place, "count": fs.len(), "projects": fs.iter().map(|f| f.id.clone()).collect::<Vec<_>>()})
        })
        .collect();
    let cited =
        |f: &&crate::store::Feature| f.str_prop("location_cite").is_some_and(|s| !s.trim().is_empty());
    let without: Vec<_> = projects
        .iter()
        .filter(|f| !cited(f) && precision(f) != "schematic")
        .map(|f| json!({"id": f.id, "name_zh": f.str_prop("name_zh"), "location_precision": precision(f), "location_source": f.str_prop("location_source")}))
        .collect();
    json!({
        "title": "Data quality of the project catalogue",
        "rule": "site: a cited source gives the position (location_cite); district: the named town, district or zone centre; county/city: the seat in seats.json, known only to be in that county or city; schematic: a corridor through the seats it links or a thing spanning several places",
        "projects": projects.len(),
        "by_precision": count_by(&mut projects.iter()),
        "with_cited_position": projects.iter().filter(cited).count(),
        "by_city": by_city,
        "by_county": by_county,
        "shared_points": shared,
        "without_cited_position": without,
    })
}

/// `GET /reports/data-quality`: counts by precision, by city and county (city-wide items count in their city
/// only), shared points and what they are, and the positions that rest on no cited source.
pub async fn get_data_quality(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let format = negotiate(&req, &params)?;
    let base = base_url(&req, &state.settings);
    let mut doc = data_quality(&model.catalog);
    doc["links"] = json!([link(format!("{base}/reports/data-quality"), "self", JSON, "This report")]);
    match format {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let n = |v: &serde_json::Value| Cell::text(v.as_u64().unwrap_or_default().to_string());
            let precisions: Vec<&str> = crate::domain::project::PRECISIONS.iter().map(|(p, _)| *p).collect();
            let row_of = |e: &serde_json::Value, city_wide: bool| {
                let mut row = vec![Cell::text(e["name_zh"].as_str().unwrap_or_default()), n(&e["projects"])];
                if city_wide {
                    row.push(n(&e["city_wide"]));
                }
                row.extend(precisions.iter().map(|p| n(&e["by_precision"][*p])));
                row
            };
            let mut city_head = vec!["城市 city", "项目 projects", "全市 city-wide"];
            city_head.extend(&precisions);
            let mut county_head = vec!["区县 county", "项目 projects (known in the county)"];
            county_head.extend(&precisions);
            let list = |k: &str| doc[k].as_array().cloned().unwrap_or_default();
            let shared_rows = list("shared_points")
                .iter()
                .map(|s| {
                    vec![
                        Cell::text(format!("{}, {}", s["lon"], s["lat"])),
                        Cell::text(s["place"].as_str().unwrap_or_default()),
                        n(&s["count"]),
                        Cell::value(s["projects"].clone()),
                    ]
                })
                .collect();
            let without_rows = list("without_cited_position")
                .iter()
                .map(|s| {
                    let id = s["id"].as_str().unwrap_or_default();
                    vec![
                        Span::link(
                            s["name_zh"].as_str().unwrap_or(id),
                            format!("{base}/collections/projects/items/{id}?f=html"),
                        )
                        .into(),
                        Cell::text(s["location_precision"].as_str().unwrap_or_default()),
                        Cell::text(s["location_source"].as_str().unwrap_or_default()),
                    ]
                })
                .collect();
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("数据质量 Data quality", format!("{base}/reports/data-quality?f=html")),
            ];
            let page = Page::new("数据质量 · Data quality", &crumbs, BOUNDARY_ATTRIBUTION)
                .depth(2)
                .text(doc["rule"].as_str().unwrap_or_default())
                .heading("按精度 By precision")
                .value(&doc["by_precision"])
                .heading("按城市 By city")
                .table(&city_head, list("by_city").iter().map(|e| row_of(e, true)).collect())
                .heading("按区县 By county")
                .table(&county_head, list("by_county").iter().map(|e| row_of(e, false)).collect())
                .heading("共用坐标 Shared points")
                .table(&["坐标 point", "地点 place", "数量 count", "项目 projects"], shared_rows)
                .heading("无引用来源的位置 Positions without a cited source")
                .table(&["项目 project", "精度 precision", "位置依据 location_source"], without_rows);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}
