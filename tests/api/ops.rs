//! Operations: the limits (414, 413, 429, 503), `/metrics`, `/ready`, the request id, and graceful shutdown of
//! the real binary on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use planatlas::config::Settings;
use serde_json::Value;

use crate::helpers::{app, assert_problem, spawn_with};

/// A valid line for `POST /collections/projects/along`: Shenyang to Dalian.
const LINE: &str = r#"{"type": "LineString", "coordinates": [[123.43, 41.80], [121.61, 38.91]]}"#;

/// A POST whose body is only partly sent: the handler has started and waits for the rest.
struct PartialPost {
    stream: TcpStream,
    rest: &'static str,
}

impl PartialPost {
    /// Sends the head and the first half of `LINE` to `host` (`127.0.0.1:port`).
    fn start(host: &str, path: &str) -> Self {
        let mut stream = TcpStream::connect(host).unwrap();
        stream.set_read_timeout(Some(Duration::from_mins(1))).unwrap();
        let (first, rest) = LINE.split_at(LINE.len() / 2);
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/geo+json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
            LINE.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.flush().unwrap();
        Self { stream, rest }
    }

    /// Sends the rest of the body (if `finish`) and reads the whole response: status, lower-cased head, body.
    fn response(mut self, finish: bool) -> (u16, String, String) {
        if finish {
            self.stream.write_all(self.rest.as_bytes()).unwrap();
        }
        let mut raw = Vec::new();
        self.stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, head.to_lowercase(), body.to_owned())
    }
}

/// An export whose client asks and then does not read: with a receive buffer of a few kilobytes the server's
/// writer fills its queue and waits, holding its slot for expensive requests, until the client reads.
struct StalledExport {
    stream: TcpStream,
}

/// An export much larger than the writer's queue (16 × 64 KiB) and any socket buffer (the kernel's may grow
/// to 4 MiB): a planner's layer of [`BIG_ROWS`] points with a kilobyte of text each, as CSV (about 20 MB).
const BIG_EXPORT: &str = "/collections/big/items?f=csv";
const BIG_ROWS: usize = 20_000;

/// Writes the big layer (GeoJSON points in Shenyang) into `dir`; its `--layer` spec.
fn big_layer(dir: &std::path::Path) -> String {
    let note = "规划说明 planning note ".repeat(40);
    let features: Vec<Value> = (0..BIG_ROWS)
        .map(|i| {
            let (x, y) = (123.2 + (i % 200) as f64 * 0.002, 41.7 + (i / 200) as f64 * 0.002);
            serde_json::json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {"name": format!("point {i}"), "note": note}})
        })
        .collect();
    let path = dir.join("big.geojson");
    std::fs::write(&path, serde_json::json!({"type": "FeatureCollection", "features": features}).to_string())
        .unwrap();
    format!("big={}", path.display())
}

/// A server holding at most one expensive request at once, with the big layer.
fn one_slot_with_big_layer() -> (crate::helpers::TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let spec = big_layer(dir.path()).parse().unwrap();
    let engine = planatlas::store::engine::Engine::open_at(
        planatlas::store::DataSource::Embedded,
        &planatlas::store::engine::Location::Dir(dir.path().join("store")),
        &[spec],
    )
    .unwrap();
    let mut settings = Settings::local();
    settings.max_concurrent_expensive = 1;
    (crate::helpers::spawn_engine(settings, std::sync::Arc::new(engine)), dir)
}

impl StalledExport {
    fn start(host: &str) -> Self {
        use socket2::{Domain, Socket, Type};
        let address: std::net::SocketAddr = host.parse().unwrap();
        let socket = Socket::new(Domain::for_address(address), Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&address.into()).unwrap();
        let mut stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(Duration::from_mins(1))).unwrap();
        // HTTP/1.0: the body comes as it is, not in chunks, and ends when the connection closes.
        stream.write_all(format!("GET {BIG_EXPORT} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).unwrap();
        Self { stream }
    }

    /// Reads the whole response: status, lower-cased head, body (de-chunked).
    fn response(mut self) -> (u16, String, String) {
        let mut raw = Vec::new();
        self.stream.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
        let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
        let mut body = raw[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            let (mut out, mut rest) = (Vec::new(), &body[..]);
            loop {
                let line = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
                let size =
                    usize::from_str_radix(std::str::from_utf8(&rest[..line]).unwrap().trim(), 16).unwrap();
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&rest[line + 2..line + 2 + size]);
                rest = &rest[line + 2 + size + 2..];
            }
            body = out;
        }
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, head, String::from_utf8(body).unwrap())
    }
}

/// The big layer's CSV export is whole: a header and a row per point.
fn assert_whole_big_csv(body: &str) {
    assert!(body.starts_with("id,"), "{}", &body[..body.len().min(200)]);
    assert_eq!(body.lines().count(), BIG_ROWS + 1, "a header and every point");
}

fn host(base: &str) -> &str {
    base.trim_start_matches("http://")
}

/// Polls `/metrics` until one expensive request holds a slot.
fn wait_until_in_flight(client: &reqwest::blocking::Client, base: &str) {
    for _ in 0..300 {
        let text = client.get(format!("{base}/metrics")).send().unwrap().text().unwrap();
        if text.lines().any(|l| l == "planatlas_expensive_requests_in_flight 1") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no request took a slot");
}

#[test]
fn a_query_string_over_the_limit_is_answered_414() {
    let mut settings = Settings::local();
    settings.max_query_bytes = 200;
    let small = spawn_with(settings);
    let filter = format!("name_zh IN ({})", vec!["'沈阳市'"; 40].join(","));
    let url = format!("/collections/cities/items?filter={}", crate::helpers::urlencode(&filter));
    assert!(url.len() > 200);
    let p = small.get_problem(&url, 414);
    assert!(p["detail"].as_str().unwrap().contains("limit is 200"), "{p}");
    // Under the limit the same server answers.
    assert_eq!(small.get("/collections/cities/items?limit=2").status(), 200);
}

#[test]
fn an_export_over_the_feature_cap_is_answered_413() {
    let mut settings = Settings::local();
    settings.max_export_features = 10;
    let small = spawn_with(settings);
    let p = small.get_problem("/collections/counties/items?f=csv", 413);
    assert!(p["detail"].as_str().unwrap().contains("100 features match"), "{p}");
    // Paging the export under the cap works.
    let r = small.get("/collections/counties/items?f=csv&limit=10");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap().lines().count(), 11, "header and 10 rows");
}

#[test]
fn expensive_requests_over_the_concurrency_cap_are_answered_429_then_served_again() {
    let (small, _dir) = one_slot_with_big_layer();
    let url = small.url("/collections/projects/along?distance=20000");
    let held = StalledExport::start(host(&small.base));
    wait_until_in_flight(&small.client, &small.base);
    let r = small.client.post(&url).header("Content-Type", "application/geo+json").body(LINE).send().unwrap();
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("2"));
    let p = assert_problem(r, 429);
    assert!(p["detail"].as_str().unwrap().contains("slots"), "{p}");
    // Exports share the pool.
    small.get_problem("/exports/counties.csv", 429);
    // The held export completes whole once read, and frees its slot.
    let (status, _, body) = held.response();
    assert_eq!(status, 200, "{body}");
    assert_whole_big_csv(&body);
    let r = small.client.post(&url).header("Content-Type", "application/geo+json").body(LINE).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(small.get("/exports/counties.csv").status(), 200);
}

#[test]
fn a_body_still_being_sent_holds_no_slot() {
    let mut settings = Settings::local();
    settings.max_concurrent_expensive = 1;
    let small = spawn_with(settings);
    let path = "/collections/projects/along?distance=20000";
    let slow = PartialPost::start(host(&small.base), path);
    // Another client's query is served while the first is still sending its body.
    let r = small
        .client
        .post(small.url(path))
        .header("Content-Type", "application/geo+json")
        .body(LINE)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let metrics = small.client.get(small.url("/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.lines().any(|l| l == "planatlas_expensive_requests_in_flight 0"), "{metrics}");
    let (status, _, body) = slow.response(true);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_request_over_the_time_limit_is_answered_503_and_a_stalled_body_408() {
    let mut settings = Settings::local();
    settings.request_timeout_secs = 0.02;
    let small = spawn_with(settings);
    // Every county in a Gauss-Kruger zone: 170 000 positions through PROJ, far more than 20 ms of work.
    let r = small
        .client
        .get(
            small.url("/collections/counties/items?limit=100&crs=http://www.opengis.net/def/crs/EPSG/0/4549"),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let p = assert_problem(r, 503);
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("longer than") || detail.contains("time budget"), "{p}");
    // A body that stalls is the client's delay: 408, a moment before the 503 would have come.
    let (status, head, body) =
        PartialPost::start(host(&small.base), "/collections/projects/along?distance=1000").response(false);
    assert_eq!(status, 408, "{head}\n{body}");
    assert!(head.contains("content-type: application/problem+json"), "{head}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert!(p["detail"].as_str().unwrap().contains("did not arrive"), "{p}");
    // Quick requests on the same server are unaffected.
    assert_eq!(small.get("/health").status(), 200);
}

/// The value of the first `/metrics` line starting with `prefix`.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric line starting {prefix}:\n{text}"))
}

#[test]
fn metrics_count_requests_by_route_and_status_and_report_the_tile_cache() {
    let a = app();
    assert_eq!(a.get("/collections/cities/items?limit=1").status(), 200);
    assert_eq!(a.get("/collections/nowhere/items").status(), 404);
    // Two variants of one tile: the second is made from the tile cache (the answer cache keys by encoding).
    // The answer cache keeps an answer asked for a second time: the third request repeats the first and is
    // kept, the fourth comes from the answer cache, with the same bytes and tag.
    let tile = |encoding: &str| {
        let r = a
            .client
            .get(a.url("/collections/counties/tiles/WebMercatorQuad/5/11/26"))
            .header("accept-encoding", encoding)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        (r.headers().get("etag").cloned(), r.bytes().unwrap())
    };
    // (The client decodes gzip: the bytes compared are the tile's.)
    let first = tile("gzip");
    let _ = tile("identity");
    let kept = tile("gzip");
    assert_eq!(kept, first, "the same tile and tag");
    assert_eq!(tile("gzip"), kept, "the cached answer is the same answer");
    let r = a.get("/metrics");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().unwrap();
    let value = |prefix: &str| metric(&text, prefix);
    let items = r#"planatlas_http_requests_total{method="GET",route="/collections/{collection_id}/items",status="200"}"#;
    assert!(value(items) >= 1.0);
    let missing = r#"planatlas_http_requests_total{method="GET",route="/collections/{collection_id}/items",status="404"}"#;
    assert!(value(missing) >= 1.0);
    assert!(
        value(r#"planatlas_http_request_duration_seconds_count{route="/collections/{collection_id}/items"}"#)
            >= 2.0
    );
    assert!(value("planatlas_tile_cache_hits_total") >= 1.0, "the second tile request is a cache hit");
    assert!(value("planatlas_tile_cache_misses_total") >= 1.0);
    assert!(value("planatlas_tile_cache_bytes") > 0.0);
    assert!(value("planatlas_answer_cache_hits_total") >= 1.0, "the repeated tile is an answer-cache hit");
    assert!(value("planatlas_answer_cache_misses_total") >= 2.0);
    assert!(value("planatlas_answer_cache_bytes") > 0.0);
}

#[test]
fn ready_reports_its_checks_and_every_response_carries_a_request_id() {
    let a = app();
    let ready = a.get_json("/ready");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["checks"]["catalog"], true);
    assert_eq!(ready["checks"]["proj"], true);
    let ids: Vec<String> = ["/health", "/health", "/collections/nowhere"]
        .iter()
        .map(|p| {
            let r = a.get(p);
            r.headers().get("x-request-id").expect("x-request-id header").to_str().unwrap().to_owned()
        })
        .collect();
    assert!(ids.iter().all(|i| i.len() >= 32), "{ids:?}");
    assert_ne!(ids[0], ids[1], "each request has its own id");
    assert_ne!(ids[1], ids[2]);
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_then_the_process_exits_cleanly() {
    let store = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_planatlas"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--max-concurrent-expensive", "1"])
        .arg("--data-dir")
        .arg(store.path().join("store"))
        .args(["--layer", &big_layer(store.path())])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut address = None;
    let mut line = String::new();
    while address.is_none() && log.read_line(&mut line).unwrap() > 0 {
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        address = v["fields"]["address"].as_str().map(str::to_owned);
        line.clear();
    }
    let address = address.expect("the server logs the address it listens on");
    let held = StalledExport::start(&address);
    let client = reqwest::blocking::Client::builder().no_proxy().build().unwrap();
    wait_until_in_flight(&client, &format!("http://{address}"));

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let (status, head, body) = held.response();
    assert_eq!(status, 200, "the request in flight finishes: {head}");
    assert_whole_big_csv(&body);
    let request_id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("x-request-id on the finished request")
        .trim()
        .to_owned();

    let exit = child.wait().unwrap();
    assert!(exit.success(), "exits with status 0 after SIGTERM: {exit}");
    let mut rest = String::new();
    log.read_to_string(&mut rest).unwrap();
    assert!(
        rest.lines().any(|l| l.contains(&request_id) && l.contains("\"http.status_code\":200")),
        "the JSON log names the request id of the finished request:\n{rest}"
    );
}

#[test]
fn repeated_answers_come_compressed_from_the_cache_and_a_write_replaces_them() {
    let s = crate::helpers::spawn_store(planatlas::config::Settings::local());
    let raw = reqwest::blocking::Client::builder().no_gzip().no_brotli().build().unwrap();
    let get = |encoding: &str| {
        let r = raw
            .get(s.app.url("/collections/projects/items?limit=50"))
            .header("accept-encoding", encoding)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let coding = r.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_owned());
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        (coding, etag, r.bytes().unwrap().to_vec())
    };
    let (plain_coding, plain_tag, plain) = get("identity");
    assert!(plain_coding.is_none_or(|c| c == "identity"));
    let (coding, tag, br) = get("br");
    assert_eq!(coding.as_deref(), Some("br"));
    assert!(tag.starts_with("W/"), "a compressed answer's tag is weak: {tag}");
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(&mut brotli::Decompressor::new(&br[..], 4096), &mut decoded).unwrap();
    let page = |b: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
        v.as_object_mut().unwrap().remove("timeStamp");
        v
    };
    assert_eq!(page(&decoded), page(&plain), "the same page, compressed");
    // Asked again, the answer is kept (it was asked for before); then the same bytes come from the cache, and
    // a 304 for its tag.
    let (_, kept_tag, kept) = get("br");
    assert_eq!(kept_tag, tag);
    assert_eq!(get("br").2, kept);
    let r = raw
        .get(s.app.url("/collections/projects/items?limit=50"))
        .header("accept-encoding", "br")
        .header("if-none-match", &tag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 304);
    // A write makes a new revision: the next answer is made afresh and shows it.
    let token = crate::helpers::add_token(&s.store, "省发展改革委", "province");
    let first = &page(&plain)["features"][0];
    let id = first["id"].as_str().unwrap();
    let r = raw
        .patch(s.app.url(&format!("/collections/projects/items/{id}")))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"properties": {"name_en": "Renamed by the cache test"}}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204, "{:?}", r.text());
    let (_, new_tag, after) = get("identity");
    assert_ne!(new_tag, plain_tag);
    assert_eq!(page(&after)["features"][0]["properties"]["name_en"], "Renamed by the cache test");
}

#[test]
fn a_write_leaves_the_cached_answers_of_collections_it_did_not_change() {
    let s = crate::helpers::spawn_store(planatlas::config::Settings::local());
    let raw = reqwest::blocking::Client::builder().no_gzip().no_brotli().build().unwrap();
    let get = |path: &str| {
        let r = raw.get(s.app.url(path)).header("accept-encoding", "gzip").send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.bytes().unwrap().to_vec()
    };
    let (counties, projects) = ("/collections/counties/items?limit=3", "/collections/projects/items?limit=5");
    // Asked twice, each answer is kept (with the time stamp of its making).
    let _ = (get(counties), get(projects));
    let (kept_counties, kept_projects) = (get(counties), get(projects));
    std::thread::sleep(Duration::from_millis(1100));
    let token = crate::helpers::add_token(&s.store, "省发展改革委", "province");
    let gunzip = |b: &[u8]| -> Value {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(b), &mut text).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let id = gunzip(&kept_projects)["features"][0]["id"].as_str().unwrap().to_owned();
    let r = raw
        .patch(s.app.url(&format!("/collections/projects/items/{id}")))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"properties": {"name_en": "Renamed: the counties are unchanged"}}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204, "{:?}", r.text());
    // The counties did not change: the same bytes, time stamp included, come from the cache.
    assert_eq!(get(counties), kept_counties, "the counties page is still served from the cache");
    // The projects did: made afresh, with the new name.
    let after = gunzip(&get(projects));
    assert_ne!(after["timeStamp"], gunzip(&kept_projects)["timeStamp"]);
    assert_eq!(after["features"][0]["properties"]["name_en"], "Renamed: the counties are unchanged");
}

#[test]
fn a_corridor_answer_follows_its_project_after_a_write_though_the_points_searched_did_not_change() {
    let s = crate::helpers::spawn_store(planatlas::config::Settings::local());
    // The point projects along the 鞍山–台安 expressway (a line project, so not one of the points).
    let path = "/collections/projects-points/along?project=anshan-taian-expressway&distance=30000&limit=100";
    let cities = || -> Vec<String> {
        let page = s.app.get_json(path);
        let features = page["features"].as_array().unwrap();
        features.iter().map(|f| f["properties"]["city_adcode"].as_str().unwrap().to_owned()).collect()
    };
    // The same request spelled with a percent-escape in the path (`/alon%67` is `/along` to the router).
    let escaped = path.replace("/along", "/alon%67");
    let escaped_cities = || -> Vec<String> {
        let page = s.app.get_json(&escaped);
        let features = page["features"].as_array().unwrap();
        features.iter().map(|f| f["properties"]["city_adcode"].as_str().unwrap().to_owned()).collect()
    };
    // Asked twice: kept in the answer cache.
    let before = cities();
    assert_eq!(cities(), before);
    assert_eq!(escaped_cities(), before);
    assert_eq!(escaped_cities(), before);
    assert!(!before.is_empty() && !before.iter().any(|c| c == "210200"), "around 鞍山: {before:?}");
    // The expressway is drawn again in 大连: the points along it are others, though the points themselves
    // (and so their collection's own revision) did not change.
    let token = crate::helpers::add_token(&s.store, "省发展改革委", "province");
    let r = s
        .app
        .client
        .patch(s.app.url("/collections/projects/items/anshan-taian-expressway"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"geometry": {"type": "LineString", "coordinates": [[121.6, 38.95], [121.65, 39.0]]}}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204, "{:?}", r.text());
    let after = cities();
    assert!(!after.is_empty() && after.iter().all(|c| c == "210200"), "大连's points: {after:?}");
    assert_eq!(escaped_cities(), after, "the escaped spelling follows the line too");
}

/// A layer zone's answer on another collection (`within=zones:1` on the counties) follows the zone when the
/// parameter's name is percent-escaped (`%77ithin`), as the handler reads it: the answer cache keyed it by the
/// counties' own revision, which the zone's upload does not move, and served the old count on.
#[test]
fn an_escaped_within_follows_the_layer_it_names() {
    let s = crate::helpers::spawn_store(planatlas::config::Settings::local());
    let token = crate::helpers::add_token(&s.store, "省发展改革委", "province");
    let zone = |east: f64| {
        let body = serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature", "id": 1,
            "properties": {"code": "z1"}, "geometry": {"type": "Polygon", "coordinates":
            [[[123.2, 41.6], [east, 41.6], [east, 42.0], [123.2, 42.0], [123.2, 41.6]]]}}]});
        let r = s
            .app
            .client
            .put(s.app.url("/collections/zones"))
            .bearer_auth(&token)
            .header("content-type", "application/geo+json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{:?}", r.text());
    };
    let matched = |path: &str| s.app.get_json(path)["numberMatched"].as_u64().unwrap();
    let escaped = "/collections/counties/items?%77ithin=zones:1&properties=name_zh";
    let plain = "/collections/counties/items?within=zones:1&properties=name_zh";
    zone(123.6);
    let small = matched(plain);
    assert_eq!(matched(escaped), small);
    assert_eq!(matched(escaped), small, "asked twice: kept");
    zone(124.4);
    let large = matched(plain);
    assert!(large > small, "a larger zone holds more counties: {small} then {large}");
    assert_eq!(matched(escaped), large, "the escaped spelling is not served the old count");
}

/// Links follow the address the request gets, and forwarded headers count only from a trusted proxy: a
/// client reaching the port directly with a proxy's headers gets (and the cache keeps) links to the port, and
/// the proxy's own request with the same headers still gets links to the public address, not the kept answer.
#[test]
fn a_client_sending_a_proxys_headers_does_not_change_what_the_proxy_gets() {
    let mut settings = planatlas::config::Settings::local();
    // The proxy connects from 127.0.0.2 (a loopback address: the traffic stays on this machine).
    settings.trusted_proxies = vec!["127.0.0.2/32".parse().unwrap()];
    let app = crate::helpers::spawn_with(settings);
    let from = |ip: [u8; 4]| {
        reqwest::blocking::Client::builder().local_address(Some(std::net::IpAddr::from(ip))).build().unwrap()
    };
    let (direct, proxy) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let self_link = |client: &reqwest::blocking::Client| -> String {
        let page: Value = client
            .get(app.url("/collections/cities/items?limit=2"))
            .header("x-forwarded-host", "maps.example.org")
            .header("x-forwarded-proto", "https")
            .send()
            .unwrap()
            .json()
            .unwrap();
        let links = page["links"].as_array().unwrap();
        links.iter().find(|l| l["rel"] == "self").unwrap()["href"].as_str().unwrap().to_owned()
    };
    for _ in 0..3 {
        assert!(self_link(&direct).starts_with(&app.base), "a direct client's links are to the port");
    }
    for _ in 0..2 {
        let link = self_link(&proxy);
        assert!(link.starts_with("https://maps.example.org/"), "the proxy's: {link}");
    }
}

/// The cache keeps to its byte bound, headers counted, and says how many answers it pushed out.
#[test]
fn the_answer_cache_keeps_to_its_bound_and_counts_what_it_pushes_out() {
    let mut settings = planatlas::config::Settings::local();
    settings.answer_cache_bytes = 64 * 1024;
    let app = crate::helpers::spawn_with(settings);
    for round in 0..2 {
        for offset in 0..80 {
            let r =
                app.get(&format!("/collections/counties/items?limit=2&offset={offset}&properties=name_zh"));
            assert_eq!(r.status(), 200, "round {round}");
        }
    }
    let text = app.get("/metrics").text().unwrap();
    let value = |name: &str| metric(&text, name);
    assert!(value("planatlas_answer_cache_bytes") <= 64.0 * 1024.0);
    assert!(value("planatlas_answer_cache_entries") >= 1.0);
    assert!(value("planatlas_answer_cache_evictions_total") >= 1.0, "eighty pages do not fit in 64 KiB");
}

/// A coding refused with `Q=0` (the weight's name in capitals) is never sent, made or from the cache; a client
/// weighting identity above gzip gets the bytes as made every time, and a kept answer sent as made carries no
/// `Content-Encoding: identity` (the first, made afresh, carries none either).
#[test]
fn a_coding_refused_in_capitals_is_not_sent() {
    let a = app();
    let raw = reqwest::blocking::Client::builder().no_gzip().no_brotli().build().unwrap();
    for (accept, path, want) in [
        ("gzip, br;Q=0", "/collections/cities/items?limit=3&properties=name_en", Some("gzip")),
        ("gzip;q=0.001, identity", "/collections/cities/items?limit=4&properties=name_en", None),
        ("identity", "/collections/cities/items?limit=5&properties=name_en", None),
    ] {
        for _ in 0..3 {
            let r = raw.get(a.url(path)).header("accept-encoding", accept).send().unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers().get("content-encoding").and_then(|v| v.to_str().ok()), want, "{accept}");
        }
    }
}
