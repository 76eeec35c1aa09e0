//! Every 4xx the foundation promises: status, problem+json, and a detail naming the parameter.

use crate::helpers::{app, assert_problem};

fn bad_param(path: &str, parameter: &str) {
    let p = app().get_problem(path, 400);
    assert_eq!(p["parameter"], parameter, "{path}: {p}");
    assert!(p["detail"].as_str().unwrap().contains(parameter), "{path}: detail names {parameter}: {p}");
}

#[test]
fn bbox_with_three_numbers_is_rejected_with_400() {
    bad_param("/collections/counties/items?bbox=123,41,124", "bbox");
}

#[test]
fn bbox_with_min_greater_than_max_is_rejected_with_400() {
    // Latitudes reversed, in CRS84 and in EPSG:4326 (latitude first); longitudes reversed are a box across the
    // antimeridian in either, but eastings reversed in a projected CRS are an error.
    bad_param("/collections/counties/items?bbox=123,42,124,41", "bbox");
    bad_param(
        "/collections/counties/items?bbox=42,124,41,123&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326",
        "bbox",
    );
    bad_param(
        "/collections/counties/items?bbox=13800000,5000000,13700000,5100000&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857",
        "bbox",
    );
}

#[test]
fn bbox_with_its_heights_reversed_is_rejected_with_400() {
    bad_param("/collections/counties/items?bbox=121,38,100,124,41,0", "bbox");
    bad_param(
        "/collections/counties/items?bbox=38,121,100,41,124,0&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326",
        "bbox",
    );
}

#[test]
fn bbox_out_of_range_is_rejected_with_400() {
    bad_param("/collections/counties/items?bbox=100,41,200,42", "bbox");
    bad_param("/collections/counties/items?bbox=123,-95,124,42", "bbox");
}

#[test]
fn bbox_with_words_is_rejected_with_400() {
    bad_param("/collections/counties/items?bbox=a,b,c,d", "bbox");
    bad_param("/collections/counties/items?bbox=", "bbox");
    bad_param("/collections/counties/items?bbox=NaN,41,124,42", "bbox");
}

#[test]
fn non_numeric_limit_and_offset_are_rejected_with_400() {
    bad_param("/collections/counties/items?limit=ten", "limit");
    bad_param("/collections/counties/items?limit=0", "limit");
    bad_param("/collections/counties/items?limit=-3", "limit");
    bad_param("/collections/counties/items?offset=x", "offset");
    bad_param("/collections/counties/items?offset=-1", "offset");
}

#[test]
fn unknown_f_is_rejected_with_400() {
    bad_param("/collections?f=xml", "f");
    bad_param("/collections/counties/items?f=pdf", "f");
    bad_param("/?f=yaml", "f");
}

#[test]
fn unknown_query_parameters_are_rejected_not_ignored() {
    bad_param("/collections/counties/items?parent=210500", "parent");
    bad_param("/collections?limit=3", "limit");
}

#[test]
fn a_repeated_parameter_is_rejected() {
    bad_param("/collections/counties/items?limit=3&limit=4", "limit");
}

#[test]
fn bad_datetime_is_rejected_and_a_good_one_accepted() {
    bad_param("/collections/counties/items?datetime=yesterday", "datetime");
    // An interval that ends before it begins, in dates or instants.
    bad_param("/collections/progress/items?datetime=2024-06-30/2024-01-01", "datetime");
    bad_param("/collections/indicators/items?datetime=2024-01-01T00:00:00Z/2023-12-31T23:59:59Z", "datetime");
    let doc = app().get_json("/collections/counties/items?datetime=2022-01-01T00:00:00Z/..&limit=1");
    assert_eq!(doc["numberMatched"], 100);
    let doc = app().get_json("/collections/progress/items?datetime=2024-01-01/2024-01-01T00:00:00Z&limit=1");
    assert_eq!(doc["type"], "FeatureCollection", "a day that begins and ends at once is an interval");
}

#[test]
fn a_projected_query_point_far_outside_its_crs_is_a_400() {
    bad_param("/locate?lon=1e308&lat=1e308&coord-crs=http://www.opengis.net/def/crs/EPSG/0/3857", "lon");
    bad_param(
        "/collections/projects/nearest?lon=1e300&lat=5&coord-crs=http://www.opengis.net/def/crs/EPSG/0/3857",
        "lon",
    );
    // Inside it, the same CRS is read.
    let doc = app()
        .get_json("/locate?lon=13737000&lat=5128000&coord-crs=http://www.opengis.net/def/crs/EPSG/0/3857");
    assert_eq!(doc["inLiaoning"], true, "{doc}");
}

#[test]
fn unknown_collection_and_feature_answer_404() {
    let p = app().get_problem("/collections/provinces", 404);
    assert!(p["detail"].as_str().unwrap().contains("provinces"));
    app().get_problem("/collections/provinces/items", 404);
    let p = app().get_problem("/collections/counties/items/999999", 404);
    assert!(p["detail"].as_str().unwrap().contains("999999"));
    app().get_problem("/no/such/path", 404);
}

#[test]
fn wrong_method_answers_405_with_allow() {
    for path in ["/collections", "/collections/counties/items", "/locate?lon=1&lat=1", "/"] {
        let r = app().client.delete(app().url(path)).send().unwrap();
        let allow = r.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        let p = assert_problem(r, 405);
        assert!(allow.unwrap().contains("GET"), "{path}: {p}");
    }
}

#[test]
fn unsatisfiable_accept_answers_406() {
    let r = app()
        .client
        .get(app().url("/collections/counties/items"))
        .header("Accept", "image/png")
        .send()
        .unwrap();
    assert_problem(r, 406);
}

#[test]
fn locate_rejects_bad_coordinates() {
    bad_param("/locate?lon=190&lat=41", "lon");
    bad_param("/locate?lon=123&lat=91", "lat");
    bad_param("/locate?lon=east&lat=41", "lon");
    bad_param("/locate?lon=123", "lat");
    bad_param("/locate?lon=inf&lat=41", "lon");
}

#[test]
fn head_requests_are_answered_like_get_without_a_body() {
    let r = app().client.head(app().url("/collections")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("etag").is_some());
}

/// Percent-escapes that decode to no UTF-8 text were searched for as U+FFFD; a number queryable given text
/// matched nothing in silence: both are 400s naming the parameter. A limit past 64 bits is clamped like any
/// other large limit.
#[test]
fn undecodable_text_and_text_for_a_number_are_400s_and_a_huge_limit_is_clamped() {
    bad_param("/collections/projects/items?q=%FF%FE", "q");
    bad_param("/collections/projects/items?length_km=abc", "length_km");
    let doc = app().get_json("/collections/counties/items?limit=99999999999999999999");
    assert_eq!(doc["numberReturned"], 100, "{}", doc["numberMatched"]);
    let doc = app().get_json("/collections/counties/items?limit=0000000000000000000000005");
    assert_eq!(doc["numberReturned"], 5, "leading zeros are not a huge number");
    // A number queryable given a number still filters.
    assert_eq!(app().get("/collections/projects/items?length_km=12.5").status(), 200);
}

/// A 405's `Allow` is the methods this collection's resource takes, the same list `OPTIONS` gives (a read-only
/// collection's items were offered PUT, PATCH and DELETE).
#[test]
fn a_405_allows_what_options_allows_for_that_collection() {
    let app = app();
    for (method, path) in [
        ("POST", "/collections/counties/items/210102"),
        ("PUT", "/collections/counties/items"),
        ("POST", "/collections/projects/items/xudabao-nuclear-power-plant"),
        ("DELETE", "/collections/projects/items"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = app.client.request(m, app.url(path)).body("{}").send().expect("answers");
        assert_eq!(r.status(), 405, "{method} {path}");
        let allow = r.headers()["allow"].to_str().expect("allow").to_owned();
        let options = app.client.request(reqwest::Method::OPTIONS, app.url(path)).send().expect("answers");
        let want = options.headers()["allow"].to_str().expect("allow").to_owned();
        assert_eq!(allow, want, "{method} {path}");
        if path.contains("counties") {
            assert_eq!(allow, "GET, HEAD, OPTIONS", "{method} {path}");
        }
    }
}

/// A feature's versions are JSON only: another `f` is a 400 (it was answered as JSON anyway).
#[test]
fn versions_in_another_format_are_a_400() {
    let s = crate::helpers::spawn_store(planatlas::config::Settings::local());
    let p = s.app.get_problem("/collections/projects/items/xudabao-nuclear-power-plant/versions?f=html", 400);
    assert_eq!(p["parameter"], "f", "{p}");
    assert_eq!(
        s.app.get("/collections/projects/items/xudabao-nuclear-power-plant/versions?f=json").status(),
        200
    );
}
