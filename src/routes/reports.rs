//! `GET /reports/consistency`: where the data and the plan disagree, with the explanation the data gives.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::html::{Cell, Page, Span, Style};
use super::{
    Caching, Format, HTML, JSON, QueryParams, State, base_url, link, negotiate, respond, respond_json,
};
use crate::error::ApiResult;
use crate::store::admin::BOUNDARY_ATTRIBUTION;

/// `GET /reports/consistency`.
pub async fn get_consistency(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f", "check"])?;
    let format = negotiate(&req, &params)?;
    let base = base_url(&req, &state.settings);
    let check = params.get("check");
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
                .text(format!(
                    "{} entries ({unexplained} without an explanation in the data).",
                    entries.len()
                ))
                .table(&["Check", "Project", "What disagrees", "Explanation in the data"], rows);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}
