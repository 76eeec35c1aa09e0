//! The project catalogue: extraction coverage, locations, filters, the spatial join, targets, the report.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{app, catalog};

fn all_projects() -> Vec<Value> {
    let doc = app().get_json("/collections/projects/items?limit=1000");
    assert_eq!(doc["numberMatched"].as_u64().unwrap() as usize, doc["features"].as_array().unwrap().len());
    doc["features"].as_array().unwrap().clone()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

#[test]
fn the_catalogue_has_at_least_190_projects_from_every_part_two_to_six() {
    let projects = all_projects();
    assert!(projects.len() >= 190, "{} projects", projects.len());
    let parts: BTreeSet<String> = projects
        .iter()
        .flat_map(|p| {
            strings(&p["properties"]["sections"])
                .into_iter()
                .map(|s| s.split('.').next().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    for part in ["二", "三", "四", "五", "六"] {
        assert!(parts.contains(part), "part {part} is represented: {parts:?}");
    }
}

/// The plan's own text, read independently of `plan-items.json`: each numbered item and the units of the first
/// 责任单位 bracket inside it.
fn brackets_in_plan_text() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/geodata/plan/plan.txt")).unwrap();
    let joined: String = text.lines().map(str::trim).collect::<Vec<_>>().join("").replace(' ', "");
    let mut out = Vec::new();
    let mut rest = joined.as_str();
    while let Some(i) = rest.find("（责任单位：") {
        let after = &rest[i + "（责任单位：".len()..];
        let end = after.find('）').unwrap();
        let units = &after[..end];
        let lead = units.split(['，', '、']).next().unwrap().to_owned();
        out.push((units.to_owned(), lead));
        rest = &after[end..];
    }
    out
}

#[test]
fn every_project_from_an_item_with_a_responsibility_bracket_has_its_lead_unit() {
    let brackets = brackets_in_plan_text();
    assert!(brackets.len() >= 70, "the plan has about 78 brackets, found {}", brackets.len());
    let leads: BTreeSet<&str> = brackets.iter().map(|(_, lead)| lead.as_str()).collect();
    let c = catalog();
    let sections = c.collection("sections").unwrap();
    for p in all_projects() {
        let props = &p["properties"];
        let first = strings(&props["sections"])[0];
        let item = sections.get(first).unwrap_or_else(|| panic!("{first} is a plan item"));
        if item.properties["lead_unit"].is_string() {
            let lead = props["lead_unit"].as_str().unwrap_or_else(|| panic!("{} has no lead unit", p["id"]));
            let in_text = brackets.iter().any(|(units, _)| units.contains(lead));
            assert!(in_text, "{}: lead unit {lead} appears in a bracket of the plan", p["id"]);
            let _ = &leads;
        }
    }
}

/// A line measured outside Liaoning says where it goes: the in-province schematic lines run through the seats on
/// land (three cut across Liaodong Bay and Dalian's bays, 24 km "outside" with no province named).
#[test]
fn a_line_outside_liaoning_says_where_it_goes() {
    let mut lines = 0;
    for p in all_projects() {
        let props = &p["properties"];
        let Some(outside) = props["outside_liaoning_km"].as_f64() else { continue };
        lines += 1;
        if outside > 0.05 {
            assert!(props["outside_province"].is_string(), "{}: {outside} km outside Liaoning", p["id"]);
        }
    }
    assert!(lines >= 30, "the corridors are measured: {lines}");
}

/// Every 责任单位 bracket of the plan is on the sections it belongs to, not only the first of an item's: 四.(一).2
/// has three paragraphs, the third (太平湾) led by 大连市政府.
#[test]
fn the_sections_carry_every_responsibility_bracket_of_the_plan() {
    let doc = app().get_json("/collections/sections/items?limit=1000");
    let sections = doc["features"].as_array().unwrap();
    let leads: Vec<&str> = sections
        .iter()
        .flat_map(|s| s["properties"]["responsibilities"].as_array().unwrap().iter())
        .filter_map(|r| r["lead_unit"].as_str())
        .collect();
    let brackets = brackets_in_plan_text();
    assert_eq!(leads.len(), brackets.len(), "one responsibility per bracket of the plan");
    for (units, lead) in &brackets {
        // "省商务厅等，相关市政府": the lead is 省商务厅 (and others like it).
        let lead = lead.trim_end_matches('等');
        assert!(leads.contains(&lead), "the bracket led by {lead} ({units}) is on a section");
    }
    let item = app().get_json(&format!("/collections/sections/items/{}", urlencode("四.(一).2")));
    let p = &item["properties"];
    assert_eq!(p["lead_unit"], "省商务厅", "{p}");
    assert_eq!(p["responsibilities"].as_array().unwrap().len(), 3, "{p}");
    assert_eq!(p["responsibilities"][2]["lead_unit"], "大连市政府", "{p}");
    assert!(strings(&p["units"]).contains(&"大连市政府"), "{p}");
    let led = app().get_json(&format!("/collections/sections/items?units={}", urlencode("大连市政府")));
    let ids: Vec<&str> =
        led["features"].as_array().unwrap().iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"四.(一).2"), "{ids:?}");
    assert!(ids.iter().all(|id| {
        sections.iter().any(|s| s["id"] == *id && strings(&s["properties"]["units"]).contains(&"大连市政府"))
    }));
}

/// Reference positions from the sources cited in each project's `location_source`.
const SITES: &[(&str, &str, f64, f64)] = &[
    // OurAirports CN-0398 (39.119913 N, 121.60158 E); zh-Wikipedia 39°06′32″N 121°36′56″E.
    ("大连金州湾国际机场", "dalian-jinzhouwan-airport", 121.6156, 39.1089),
    // en-Wikipedia Xudabao Nuclear Power Plant 40°21′5″N 120°32′45″E.
    ("徐大堡核电", "xudabao-nuclear-power-plant", 120.5458, 40.3514),
    // Nelson & Stencel 1997 / Baidu Baike: 41°19′–41°20′N 119°30′E.
    ("牛河梁", "niuheliang-hongshan-site", 119.5, 41.33),
];

#[test]
fn key_sites_are_at_site_precision_within_5_km_of_their_real_positions() {
    let c = catalog();
    let projects = c.projects();
    for (name, hint, lon, lat) in SITES {
        let f = projects
            .features()
            .iter()
            .find(|f| f.id == *hint || f.str_prop("name_zh").is_some_and(|n| n.contains(name)))
            .unwrap_or_else(|| panic!("{name} is in the catalogue"));
        assert_eq!(f.str_prop("location_precision"), Some("site"), "{name}");
        assert!(
            f.str_prop("location_source").is_some_and(|s| s.len() > 20),
            "{name} says what its position is based on"
        );
        let geo::Geometry::Point(p) = f.geometry.as_ref().unwrap() else { panic!("{name} is a point") };
        let d = planatlas::geom::geodesic::distance_m(p.0, geo::Coord { x: *lon, y: *lat });
        assert!(d < 5_000.0, "{name} is {d:.0} m from its reference position");
    }
}

#[test]
fn every_location_says_how_precise_it_is_and_where_it_came_from() {
    for p in all_projects() {
        let props = &p["properties"];
        assert!(
            ["site", "district", "county", "city", "schematic"]
                .contains(&props["location_precision"].as_str().unwrap())
        );
        assert!(props["location_source"].as_str().is_some_and(|s| !s.is_empty()), "{}", p["id"]);
    }
}

#[test]
fn region_and_category_filters_return_the_energy_projects_of_the_liaoxi_zone() {
    let all = all_projects();
    let expected: BTreeSet<&str> = all
        .iter()
        .filter(|p| {
            p["properties"]["category"] == "energy"
                && strings(&p["properties"]["region_ids"]).contains(&"liaoxi-zone")
        })
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(expected.len() >= 3, "the Liaoxi zone has several energy projects: {expected:?}");
    let doc = app().get_json("/collections/projects/items?region=liaoxi-zone&category=energy&limit=100");
    let got: BTreeSet<&str> =
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(got, expected);
    assert!(got.iter().any(|id| id.contains("xudabao")), "徐大堡核电 is in the zone (兴城, 葫芦岛)");
}

#[test]
fn section_prefix_selects_the_items_of_a_section() {
    let all = all_projects();
    let expected: BTreeSet<&str> = all
        .iter()
        .filter(|p| {
            strings(&p["properties"]["sections"]).iter().any(|s| s.starts_with("四.(四).") || *s == "四.(四)")
        })
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(!expected.is_empty());
    let doc =
        app().get_json(&format!("/collections/projects/items?section={}&limit=100", urlencode("四.(四)")));
    let got: BTreeSet<&str> =
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(got, expected);
    // A prefix only matches whole segments.
    let doc = app().get_json(&format!("/collections/projects/items?section={}&limit=1", urlencode("四.(")));
    assert_eq!(doc["numberMatched"], 0);
}

#[test]
fn q_finds_every_airport_project() {
    let all = all_projects();
    let expected: BTreeSet<&str> = all
        .iter()
        .filter(|p| p["properties"]["name_zh"].as_str().unwrap().contains("机场"))
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(expected.len() >= 5);
    let doc = app().get_json(&format!("/collections/projects/items?q={}&limit=100", urlencode("机场")));
    let got: BTreeSet<&str> =
        doc["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(got, expected);
    let doc = app().get_json("/collections/projects/items?q=AIRPORT&limit=100");
    assert!(doc["numberMatched"].as_u64().unwrap() >= 5, "English names match case-insensitively");
}

#[test]
fn county_and_city_filters_take_names_or_adcodes() {
    let by_name =
        app().get_json(&format!("/collections/projects/items?county={}&limit=100", urlencode("桓仁")));
    let by_code = app().get_json("/collections/projects/items?county=210522&limit=100");
    assert_eq!(by_name["numberMatched"], by_code["numberMatched"]);
    assert!(by_code["numberMatched"].as_u64().unwrap() >= 3);
    for f in by_code["features"].as_array().unwrap() {
        assert!(strings(&f["properties"]["county_adcodes"]).contains(&"210522"));
    }
    let dalian = app().get_json(&format!("/collections/projects/items?city={}&limit=1", urlencode("大连市")));
    let dalian_short =
        app().get_json(&format!("/collections/projects/items?city={}&limit=1", urlencode("大连")));
    assert_eq!(dalian["numberMatched"], dalian_short["numberMatched"]);
    // Filters combine and page like any items request.
    let combined = app().get_json("/collections/projects/items?city=210200&category=airport&limit=1");
    assert!(combined["numberMatched"].as_u64().unwrap() >= 1);
}

#[test]
fn the_join_for_the_shenyang_baihe_railway_lists_cities_and_length_per_region() {
    let doc =
        app().get_json(&format!("/collections/projects/items?q={}&category=railway", urlencode("沈白")));
    assert_eq!(doc["numberMatched"], 1);
    let p = &doc["features"][0]["properties"];
    assert_eq!(doc["features"][0]["geometry"]["type"], "LineString");
    let cities: Vec<&str> =
        p["join"]["cities"].as_array().unwrap().iter().map(|c| c["name_zh"].as_str().unwrap()).collect();
    assert!(cities.contains(&"沈阳市") && cities.contains(&"抚顺市"), "{cities:?}");
    let total = p["length_km"].as_f64().unwrap();
    assert!(total > 300.0, "Shenyang to Baihe is over 400 km: {total}");
    assert!(p["outside_liaoning_km"].as_f64().unwrap() > 100.0, "most of the line is in Jilin");
    assert!(p["outside_province"].as_str().unwrap().contains("Jilin"));
    let regions = p["join"]["regions"].as_array().unwrap();
    let circle = regions.iter().find(|r| r["id"] == "shenyang-circle").unwrap();
    assert!(circle["length_km"].as_f64().unwrap() > 50.0);
    for r in regions {
        let share = r["share"].as_f64().unwrap();
        assert!((r["length_km"].as_f64().unwrap() / total - share).abs() < 0.01);
    }
    let in_cities: f64 =
        p["join"]["cities"].as_array().unwrap().iter().map(|c| c["length_km"].as_f64().unwrap()).sum();
    assert!((in_cities + p["outside_liaoning_km"].as_f64().unwrap() - total).abs() < 0.1, "lengths add up");
}

#[test]
fn a_point_project_is_joined_to_the_county_containing_it() {
    let c = catalog();
    for f in c.projects().features() {
        if let Some(geo::Geometry::Point(p)) = &f.geometry {
            let county = c.county_at(p.0).map(|i| c.counties().feature(i));
            if f.str_prop("location_precision") == Some("city") {
                // City-wide: in the city of the seat it is placed on, county not known.
                assert!(strings(&f.properties["county_adcodes"]).is_empty(), "{}", f.id);
                let city = county.and_then(|k| k.str_prop("parent_adcode")).unwrap();
                assert_eq!(strings(&f.properties["city_adcodes"]), [city], "{}", f.id);
                continue;
            }
            assert_eq!(
                strings(&f.properties["county_adcodes"]),
                county.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
                "{}",
                f.id
            );
        }
    }
}

#[test]
fn targets_are_a_collection_and_each_region_lists_its_own() {
    let doc = app().get_json("/collections/targets/items?scope=region&limit=100");
    assert!(doc["numberMatched"].as_u64().unwrap() >= 12);
    for t in doc["features"].as_array().unwrap() {
        assert!(t["geometry"].is_null());
        let p = &t["properties"];
        assert!(p["indicator_zh"].is_string() && p["section"].is_string() && p["comparator"].is_string());
    }
    let liaoxi = app().get_json("/collections/regions/items/liaoxi-zone");
    let targets = liaoxi["properties"]["targets"].as_array().unwrap();
    assert!(
        targets.iter().any(|t| t["unit"] == "%" && t["value"] == 50),
        "clean-energy share ≥ 50 %: {targets:?}"
    );
    let port = app().get_json(&format!("/collections/targets/items?q={}&limit=10", urlencode("吞吐量")));
    assert!(
        port["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["properties"]["scope"] == "project" && t["properties"]["value"].as_f64() == Some(4.0))
    );
}

#[test]
fn every_entry_of_the_consistency_report_carries_an_explanation() {
    let doc = app().get_json("/reports/consistency");
    assert_eq!(doc["unexplained"], 0, "{}", doc["entries"]);
    for e in doc["entries"].as_array().unwrap() {
        assert!(e["explanation"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
    }
    let html = app().get("/reports/consistency?f=html");
    assert!(html.text().unwrap().contains("Consistency report"));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Every project matching `query`, all on one page.
fn projects_where(query: &str) -> Vec<serde_json::Value> {
    let doc = app().get_json(&format!("/collections/projects/items?limit=1000{query}"));
    doc["features"].as_array().unwrap().clone()
}

#[test]
fn a_county_holds_what_is_known_to_be_in_it_and_city_wide_items_only_when_asked() {
    let all = projects_where("");
    let ids = |fs: &[serde_json::Value]| {
        let mut v: Vec<String> = fs.iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
        v.sort();
        v
    };
    let has = |f: &serde_json::Value, k: &str, v: &str| {
        f["properties"][k].as_array().unwrap().iter().any(|x| x == v)
    };
    // 沈河区, seat of Shenyang: no city-precision item is counted in it.
    let in_county = projects_where("&within=210103");
    assert!(
        in_county.iter().all(|f| f["properties"]["location_precision"] != "city"),
        "no city-wide item in 沈河区"
    );
    let known: Vec<_> = all.iter().filter(|f| has(f, "county_adcodes", "210103")).cloned().collect();
    assert_eq!(ids(&in_county), ids(&known), "exactly what the join puts in the county");
    // With the option: plus Shenyang's city-wide items, each saying so.
    let with_city = projects_where("&within=210103&city_wide=true");
    let city_wide: Vec<_> = all
        .iter()
        .filter(|f| f["properties"]["location_precision"] == "city" && has(f, "city_adcodes", "210100"))
        .cloned()
        .collect();
    assert!(!city_wide.is_empty());
    let mut expected = ids(&known);
    expected.extend(ids(&city_wide));
    expected.sort();
    assert_eq!(ids(&with_city), expected);
    for f in &city_wide {
        let p = &f["properties"];
        assert_eq!(p["city_wide"], true);
        assert_eq!(p["county_adcodes"], serde_json::json!([]), "county not known: {}", f["id"]);
        assert!(p["join"]["method"].as_str().unwrap().starts_with("city-wide"));
    }
    // The county's count says the same; the city's counts its city-wide items.
    let county = app().get_json("/collections/counties/items/210103");
    if let Some(n) = county["properties"]["project_count"].as_u64() {
        assert_eq!(n as usize, known.len(), "沈河区's project_count");
    }
    let quality = app().get_json("/reports/data-quality");
    let shenyang = quality["by_city"].as_array().unwrap().iter().find(|c| c["adcode"] == "210100").unwrap();
    assert_eq!(shenyang["city_wide"].as_u64().unwrap() as usize, city_wide.len());
    let shenhe = quality["by_county"].as_array().unwrap().iter().find(|c| c["adcode"] == "210103").unwrap();
    assert_eq!(shenhe["projects"].as_u64().unwrap() as usize, known.len());
    // The option needs a county.
    let bad = app().get_problem("/collections/projects/items?within=210100&city_wide=true", 400);
    assert!(bad["detail"].as_str().unwrap().contains("city_wide"), "{bad}");
}

#[test]
fn no_two_projects_share_a_point_unless_they_are_one_place() {
    let mut by_point: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
        std::collections::BTreeMap::new();
    for f in projects_where("") {
        if f["geometry"]["type"] == "Point" {
            let c = &f["geometry"]["coordinates"];
            by_point
                .entry(format!("{:.6},{:.6}", c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
                .or_default()
                .push(f);
        }
    }
    let place = |f: &serde_json::Value| {
        let p = &f["properties"];
        match (p["place_id"].as_str(), p["location_precision"].as_str()) {
            (Some(id), _) => format!("place {id}"),
            (None, Some("city")) => format!("city seat {}", p["city_adcode"]),
            (None, Some("county")) => format!("county seat {}", p["county_adcode"]),
            _ => format!("itself {}", f["id"]),
        }
    };
    let mut shared = 0;
    for (at, fs) in &by_point {
        let places: std::collections::BTreeSet<String> = fs.iter().map(place).collect();
        assert_eq!(places.len(), 1, "{at} is shared by different places: {places:?}");
        if fs.len() > 1 {
            shared += 1;
        }
    }
    // The report lists the same shared points.
    let quality = app().get_json("/reports/data-quality");
    assert_eq!(quality["shared_points"].as_array().unwrap().len(), shared);
    let by_precision = &quality["by_precision"];
    let total: u64 = ["site", "district", "county", "city", "schematic"]
        .iter()
        .map(|p| by_precision[*p].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, projects_where("").len());
    // geodata/README.md's table of precisions counts what the server serves (it once said 88 where 96 were).
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/geodata/README.md")).unwrap();
    for precision in ["site", "district", "county", "city", "schematic"] {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{precision}` |")))
            .unwrap_or_else(|| panic!("geodata/README.md has a row for {precision}"));
        let documented: u64 = row.trim_end_matches('|').rsplit('|').next().unwrap().trim().parse().unwrap();
        assert_eq!(
            documented,
            by_precision[precision].as_u64().unwrap(),
            "geodata/README.md's {precision} count"
        );
    }
    let html = app().get("/reports/data-quality?f=html").text().unwrap();
    assert!(html.contains("共用坐标 Shared points") && html.contains("按区县 By county"), "the HTML report");
}

#[test]
fn the_two_unsourced_positions_stay_at_county_precision_with_the_reason() {
    for (id_part, name) in [("huanren", "桓仁古城机场"), ("qingyuan", "清原抽水蓄能电站")] {
        let f = projects_where("")
            .into_iter()
            .find(|f| f["properties"]["name_zh"].as_str().is_some_and(|n| n.contains(name)))
            .unwrap_or_else(|| panic!("{name} ({id_part}) is catalogued"));
        let p = &f["properties"];
        match p["location_precision"].as_str().unwrap() {
            "site" => {
                assert!(
                    p["location_cite"].as_str().is_some_and(|c| !c.is_empty()),
                    "{name}: a site is cited"
                );
            }
            "county" => assert!(
                p["location_source"].as_str().unwrap().contains("no source")
                    || p["location_source"].as_str().unwrap().contains("not found"),
                "{name}: says why it is at the county seat: {}",
                p["location_source"]
            ),
            other => panic!("{name} at {other} precision"),
        }
    }
}

#[test]
fn the_plan_coverage_script_passes_and_fails_on_an_item_neither_catalogued_nor_excluded() {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!("{root}/scripts/coverage.py");
    let (ok, out) = crate::helpers::run("python3", &[&script, "--quiet"]);
    assert!(ok, "every named item is catalogued or excluded: {out}");
    assert!(out.contains("missing 0"), "{out}");
    // Drop one exclusion: the item it covered is reported missing, by name, and the script fails.
    let decisions = std::fs::read_to_string(format!("{root}/geodata/coverage.toml")).unwrap();
    let doc: toml::Table = decisions.parse().unwrap();
    let first = &doc["exclude"].as_array().unwrap()[0]["items"].as_array().unwrap()[0];
    let (section, text) = (first[0].as_str().unwrap(), first[1].as_str().unwrap());
    let line = format!("  [\"{section}\", \"{text}\"],\n");
    assert!(decisions.contains(&line), "{line}");
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("coverage.toml");
    std::fs::write(&edited, decisions.replacen(&line, "", 1)).unwrap();
    let (ok, out) =
        crate::helpers::run("python3", &[&script, "--quiet", "--decisions", edited.to_str().unwrap()]);
    assert!(!ok, "a named item neither catalogued nor excluded fails the script: {out}");
    assert!(out.contains("MISSING") && out.contains(text), "it names {text}: {out}");
}

/// A county name two counties bear (铁西区: Shenyang's 210106 and Anshan's 210303) is not settled by picking
/// the first: `within=` says which there are, by adcode, and each adcode answers its own.
#[test]
fn a_county_name_two_counties_bear_is_asked_for_by_adcode() {
    let app = app();
    for path in [
        "/collections/projects/items?within=%E9%93%81%E8%A5%BF%E5%8C%BA",
        "/collections/projects/nearest?lon=123.3&lat=41.8&k=3&within=%E9%93%81%E8%A5%BF%E5%8C%BA",
    ] {
        let r = app.get(path);
        assert_eq!(r.status(), 400, "{path}");
        let problem: Value = r.json().expect("problem");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert_eq!(problem["parameter"], "within", "{problem}");
        assert!(
            detail.contains("210106") && detail.contains("210303") && detail.contains("鞍山市"),
            "{detail}"
        );
    }
    let shenyang = app.get_json("/collections/projects/items?within=210106&limit=1000");
    let anshan = app.get_json("/collections/projects/items?within=210303&limit=1000");
    let both = app.get_json("/collections/projects/items?county=%E9%93%81%E8%A5%BF%E5%8C%BA&limit=1000");
    let n = |d: &Value| d["numberMatched"].as_u64().expect("numberMatched");
    assert!(n(&anshan) > 0 && n(&shenyang) > 0);
    assert!(n(&both) >= n(&anshan).max(n(&shenyang)));
    // An unambiguous name still works as before.
    assert_eq!(app.get("/collections/projects/items?within=%E5%92%8C%E5%B9%B3%E5%8C%BA").status(), 200);
}

/// `properties=` keeps only the named properties in a GeoJSON text sequence too, as in every other format.
#[test]
fn geojson_sequences_keep_only_the_properties_asked_for() {
    let text = app()
        .get("/collections/projects-points/items?properties=name_en&f=geojsonseq&limit=5")
        .text()
        .expect("text");
    let features: Vec<Value> = text
        .split('\u{1e}')
        .filter(|t| !t.trim().is_empty())
        .map(|t| serde_json::from_str(t).expect("json"))
        .collect();
    assert_eq!(features.len(), 5);
    for f in features {
        let keys: Vec<&String> = f["properties"].as_object().expect("object").keys().collect();
        assert_eq!(keys, ["name_en"], "{f}");
    }
}

#[test]
fn a_join_of_a_schematic_geometry_says_it_is_the_drawings() {
    let all = projects_where("");
    let mut schematic = 0;
    for f in &all {
        let p = &f["properties"];
        let method = p["join"]["method"].as_str().unwrap_or_else(|| panic!("{}: a join method", f["id"]));
        let says = method.contains("schematic");
        if p["location_precision"] == "schematic" {
            schematic += 1;
            assert!(says, "{}: {method}", f["id"]);
        } else {
            assert!(!says, "{} is {}: {method}", f["id"], p["location_precision"]);
        }
    }
    // The corridors and the anchors of things spanning several places (geodata/README.md counts 57).
    assert!(schematic > 50, "{schematic} schematic projects");
    let corridor = app().get_json("/collections/projects/items/dalian-shenyang-horgos-europe-corridor");
    let method = corridor["properties"]["join"]["method"].as_str().unwrap();
    assert!(
        method.starts_with("line clipped to county polygons") && method.contains("not a surveyed"),
        "{method}"
    );
}
