//! Several instances on one PostgreSQL/PostGIS database, for real: a throwaway cluster (`scripts/pg-throwaway`,
//! `PostgreSQL` 15 and PostGIS 3 from Debian's packages), three `planatlas serve` processes on it, and clients
//! talking HTTP to them. The binary is `PLANATLAS_TEST_BIN` when set (`scripts/test` passes the release build),
//! else the test build. The tests take turns (they load both cores).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

/// The tests take turns: each loads both cores with its cluster and three servers.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn bin() -> String {
    std::env::var("PLANATLAS_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_planatlas").to_owned())
}

fn script(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/pg-throwaway")).args(args).output().expect("pg-throwaway runs");
    assert!(out.status.success(), "pg-throwaway {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// A throwaway cluster in a directory under /tmp (the postgres user must reach it), stopped when dropped.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("planatlas-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = Self { dir };
        script(&["start", c.path()]);
        c
    }
    fn path(&self) -> &str {
        self.dir.to_str().expect("utf-8")
    }
    fn createdb(&self, name: &str) -> String {
        script(&["createdb", self.path(), name])
    }
    fn stop(&self) {
        script(&["stop", self.path()]);
    }
    fn restart(&self) {
        script(&["start", self.path()]);
    }
    fn port(&self) -> String {
        std::fs::read_to_string(self.dir.join("port")).expect("port").trim().to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-throwaway"))
            .args(["kill", self.path()])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A store as the command line names it: `("--store", URL)` or `("--data-dir", DIR)`.
type StoreArg<'a> = (&'a str, &'a str);

/// One `planatlas serve` process, killed when dropped.
struct Instance {
    child: Child,
    base: String,
    port: u16,
    store: String,
}

impl Instance {
    /// `planatlas serve --store URL` on a free port.
    fn start(store: &str) -> Self {
        Self::start_on(store, free_port())
    }
    fn start_on(store: &str, port: u16) -> Self {
        Self::serve(("--store", store), port)
    }
    /// `planatlas serve` over `store` on `port`, once `/health` answers.
    fn serve(store: StoreArg<'_>, port: u16) -> Self {
        let child = Command::new(bin())
            .args(["serve", store.0, store.1, "--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log_file(port))
            .spawn()
            .expect("planatlas serve starts");
        let i = Self { child, base: format!("http://127.0.0.1:{port}"), port, store: store.1.to_owned() };
        let c = client();
        let deadline = Instant::now() + Duration::from_mins(2);
        while c.get(format!("{}/health", i.base)).send().map(|r| r.status().as_u16()).ok() != Some(200) {
            assert!(Instant::now() < deadline, "instance on port {port} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        i
    }
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where an instance's log goes (kept for a failing run to be read): the temporary directory.
fn log_file(port: u16) -> Stdio {
    let path = std::env::temp_dir().join(format!("planatlas-instance-{port}.log"));
    std::fs::File::create(&path).map_or_else(|_| Stdio::null(), Stdio::from)
}

fn client() -> Client {
    Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().expect("client")
}

fn token(store: &str) -> String {
    token_in(("--store", store))
}

/// A province token from `planatlas token add` on `store`.
fn token_in(store: StoreArg<'_>) -> String {
    let out = Command::new(bin())
        .args(["token", "add", "--name", "省发展改革委", "--scope", "province", store.0, store.1])
        .output()
        .expect("token add runs");
    assert!(out.status.success(), "token add: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

fn get_json(c: &Client, url: &str) -> Value {
    let r = c.get(url).send().expect("answers");
    assert_eq!(r.status().as_u16(), 200, "GET {url}");
    r.json().expect("JSON")
}

fn project_ids(c: &Client, base: &str) -> Vec<String> {
    let page = get_json(c, &format!("{base}/collections/projects/items?limit=1000&properties=name_zh"));
    page["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The version in a stored feature's ETag (`"v12-…"`).
fn version_of(etag: &str) -> i64 {
    etag.trim_start_matches("W/")
        .trim_matches('"')
        .trim_start_matches('v')
        .split('-')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("version")
}

/// Sends a PATCH of a project's `name_en`; returns the status, the new version (from the ETag) and `Retry-After`.
fn patch(c: &Client, base: &str, token: &str, id: &str, value: &str) -> (u16, Option<i64>, Option<String>) {
    let r = c
        .patch(format!("{base}/collections/projects/items/{id}"))
        .bearer_auth(token)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"properties": {"name_en": value}}).to_string())
        .send();
    match r {
        Ok(r) => {
            let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
            (r.status().as_u16(), h("etag").map(|e| version_of(&e)), h("retry-after"))
        }
        Err(_) => (0, None, None),
    }
}

/// A test project in 沈阳 (沈河区) named `name_en`, with `id` or none (the server then makes one).
fn shenyang_project(id: Option<&str>, name_en: &str) -> Value {
    let mut f = json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [123.4335, 41.8057]},
        "properties": {
            "name_zh": "测试项目（沈阳）", "name_en": name_en,
            "category": "urban", "sections": ["三.(四).1"], "lead_unit": null, "co_units": [],
            "excerpt": "测试用项目。", "targets": [], "named_place": "沈阳", "place_id": "test-place",
            "county_adcode": "210103", "city_adcode": "210100", "location_precision": "district",
            "location_source": "test fixture", "outside_province": null, "consistency_notes": {}
        }
    });
    if let Some(id) = id {
        f["properties"]["id"] = json!(id);
    }
    f
}

/// `name_en` and version of a project as an instance answers it.
fn state(c: &Client, base: &str, id: &str) -> Option<(String, i64)> {
    // Uncompressed: the ETag of a stored feature is then its version's.
    let r = c
        .get(format!("{base}/collections/projects/items/{id}"))
        .header("accept-encoding", "identity")
        .send()
        .ok()?;
    let v = version_of(r.headers().get("etag")?.to_str().ok()?);
    let f: Value = r.json().ok()?;
    Some((f["properties"]["name_en"].as_str()?.to_owned(), v))
}

fn revision(c: &Client, base: &str) -> i64 {
    get_json(c, &format!("{base}/collections/projects"))["revision"].as_i64().expect("revision")
}

/// Every project as an instance answers it, for comparing instances.
fn same_projects(a: &Value, b: &Value) -> Result<(), String> {
    let (a, b) = (a.as_array().ok_or("features")?, b.as_array().ok_or("features")?);
    if a.len() != b.len() {
        return Err(format!("{} features against {}", a.len(), b.len()));
    }
    match a.iter().zip(b).find(|(x, y)| x != y) {
        Some((x, y)) => {
            let differ = |a: &Value, b: &Value| -> Vec<String> {
                a.as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(k, v)| b.get(k.as_str()) != Some(v))
                            .map(|(k, v)| format!("{k}: {v} against {}", b[k.as_str()]))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut d = differ(x, y);
            d.retain(|k| !k.starts_with("properties:"));
            d.extend(differ(&x["properties"], &y["properties"]));
            Err(format!("{}: {}", x["id"], d.join("; ")))
        }
        None => Ok(()),
    }
}

fn all_projects(c: &Client, base: &str) -> Value {
    // Without the links, which name the instance.
    let mut features =
        get_json(c, &format!("{base}/collections/projects/items?limit=1000"))["features"].take();
    for f in features.as_array_mut().expect("features") {
        f.as_object_mut().expect("feature").remove("links");
    }
    features
}

#[test]
fn three_instances_follow_every_write_within_a_second_and_if_match_holds_across_them() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cluster = Cluster::start("instances");
    let store = cluster.createdb("planatlas");
    // The first seeds the store; the others find it seeded.
    let first = Instance::start(&store);
    let instances = [first, Instance::start(&store), Instance::start(&store)];
    let token = token(&store);
    let c = client();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let start_revision = revision(&c, &bases[0]);
    for b in &bases {
        assert_eq!(revision(&c, b), start_revision, "every instance starts at the store's revision");
    }

    // 1. 1 000 writes from four clients spread over the three instances; after each acknowledgement every
    //    instance must answer the new state within 1 s.
    let ids = project_ids(&c, &bases[0]);
    assert!(ids.len() >= 200, "the seeded projects");
    let (clients, per_client) = (4_usize, 250_usize);
    let lags = Arc::new(Mutex::new(Vec::new()));
    let late = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..clients)
        .map(|k| {
            let (bases, token, lags, late) = (bases.clone(), token.clone(), lags.clone(), late.clone());
            let mine: Vec<String> = ids.iter().skip(k).step_by(clients).take(20).cloned().collect();
            std::thread::spawn(move || {
                let c = client();
                for j in 0..per_client {
                    let id = &mine[j % mine.len()];
                    let value = format!("client {k} write {j}");
                    let (status, version, _) = patch(&c, &bases[(k + j) % bases.len()], &token, id, &value);
                    assert_eq!(
                        status,
                        204,
                        "write {j} of client {k} to {id} through {}",
                        bases[(k + j) % bases.len()]
                    );
                    let version = version.expect("an ETag");
                    let acked = Instant::now();
                    for b in &bases {
                        loop {
                            if state(&c, b, id).is_some_and(|(v, n)| v == value && n == version) {
                                lags.lock().unwrap().push(acked.elapsed());
                                break;
                            }
                            if acked.elapsed() > Duration::from_secs(1) {
                                late.lock()
                                    .unwrap()
                                    .push(format!("{b}: {id} v{version} after {:?}", acked.elapsed()));
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    for h in handles {
        h.join().expect("client thread");
    }
    let took = started.elapsed();
    let late = late.lock().unwrap().clone();
    assert!(
        late.is_empty(),
        "{} of {} checks were late: {:?}",
        late.len(),
        clients * per_client * 3,
        &late[..late.len().min(10)]
    );
    let mut lags = lags.lock().unwrap().clone();
    lags.sort();
    eprintln!(
        "1000 writes over 3 instances in {took:.1?}; visible on every instance after: median {:?}, p99 {:?}, max {:?}",
        lags[lags.len() / 2],
        lags[lags.len() * 99 / 100],
        lags[lags.len() - 1]
    );
    for b in &bases {
        assert_eq!(revision(&c, b), start_revision + 1000, "{b}: one revision per write");
    }
    let reference = all_projects(&c, &bases[0]);
    for b in &bases[1..] {
        let same = same_projects(&all_projects(&c, b), &reference);
        assert!(same.is_ok(), "{b} answers the same projects as {}: {}", bases[0], same.unwrap_err());
    }

    // 2. Concurrent If-Match PUTs of one project through different instances: exactly one wins each round.
    let body = |n: usize, round: usize| shenyang_project(Some("race"), &format!("writer {n} round {round}"));
    let r = c
        .post(format!("{}/collections/projects/items", bases[0]))
        .bearer_auth(&token)
        .header("content-type", "application/geo+json")
        .body(body(0, 0).to_string())
        .send()
        .expect("answers");
    assert_eq!(r.status().as_u16(), 201);
    for round in 1..=5 {
        // Every instance has the new project (and the last round's winner) before the round starts.
        let deadline = Instant::now() + Duration::from_secs(5);
        let tag = loop {
            assert!(Instant::now() < deadline, "every instance has the race project's latest version");
            let tags: Vec<Option<String>> = bases
                .iter()
                .map(|b| {
                    c.get(format!("{b}/collections/projects/items/race"))
                        .header("accept-encoding", "identity")
                        .send()
                        .ok()
                        .and_then(|r| {
                            r.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned)
                        })
                })
                .collect();
            // Every instance's tag names version `round` (the create, then one winner per round); the rest of a
            // tag hashes the representation, whose links name the instance.
            let versions: Vec<Option<i64>> = tags.iter().map(|t| t.as_deref().map(version_of)).collect();
            if versions.iter().all(|v| *v == Some(round as i64)) {
                break tags[0].clone().expect("tag");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let writers = 6;
        let barrier = Arc::new(Barrier::new(writers));
        let handles: Vec<_> = (0..writers)
            .map(|n| {
                let (base, token, tag, barrier) =
                    (bases[n % 3].clone(), token.clone(), tag.clone(), barrier.clone());
                let body = body(n, round).to_string();
                std::thread::spawn(move || {
                    let c = client();
                    barrier.wait();
                    c.put(format!("{base}/collections/projects/items/race"))
                        .bearer_auth(&token)
                        .header("content-type", "application/geo+json")
                        .header("if-match", tag)
                        .body(body)
                        .send()
                        .expect("answers")
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().expect("writer")).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [204, 412, 412, 412, 412, 412], "round {round}: exactly one If-Match PUT wins");
    }
    let versions = get_json(&c, &format!("{}/collections/projects/items/race/versions", bases[2]));
    let versions = versions["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 6, "one create and five winners");
    // The store's revision after the last winner: every instance must reach it (agreeing with each other is not
    // enough, two instances may agree on the revision before it).
    let last = versions.last().and_then(|v| v["revision"].as_i64()).expect("the last version's revision");

    // 3. GDAL reads the PostGIS tables directly: the same projects, counts and values as the API.
    let deadline = Instant::now() + Duration::from_secs(5);
    while bases.iter().any(|b| revision(&c, b) < last) {
        assert!(Instant::now() < deadline, "every instance reaches revision {last}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let api = all_projects(&c, &bases[1]);
    let db = store.rsplit('/').next().expect("db name");
    let pg = format!("PG:host=127.0.0.1 port={} user=postgres dbname={db}", cluster.port());
    let info = Command::new("ogrinfo")
        .args(["-ro", "-so", &pg, "planatlas.projects"])
        .output()
        .expect("ogrinfo runs");
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    let n = api.as_array().expect("features").len();
    assert!(info.contains(&format!("Feature Count: {n}")), "ogrinfo counts {n} projects: {info}");
    assert!(info.contains("EPSG") && info.contains("4326"), "in EPSG:4326: {info}");
    let out = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/", &pg, "planatlas.projects"])
        .output()
        .expect("ogr2ogr runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let gdal: Value = serde_json::from_slice(&out.stdout).expect("GeoJSON");
    let by_id: HashMap<&str, &Value> = gdal["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| (f["properties"]["id"].as_str().expect("id"), f))
        .collect();
    assert_eq!(by_id.len(), n);
    for f in api.as_array().expect("features") {
        let id = f["id"].as_str().expect("id");
        let g = by_id.get(id).unwrap_or_else(|| panic!("{id} is in the PostGIS table"));
        for key in ["name_zh", "name_en", "category", "city_adcode", "location_precision"] {
            assert_eq!(g["properties"][key], f["properties"][key], "{id}: {key}");
        }
        let coords = |v: &Value| -> Vec<f64> {
            let mut out = Vec::new();
            let mut stack = vec![v["geometry"]["coordinates"].clone()];
            while let Some(x) = stack.pop() {
                match x {
                    Value::Array(a) => stack.extend(a),
                    Value::Number(n) => out.push(n.as_f64().expect("number")),
                    _ => {}
                }
            }
            out
        };
        let (a, b) = (coords(f), coords(g));
        assert_eq!(a.len(), b.len(), "{id}: geometry");
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-7), "{id}: geometry {a:?} vs {b:?}");
    }
}

#[test]
fn postgres_stopped_mid_load_reads_go_on_writes_get_503_and_nothing_acknowledged_is_lost() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cluster = Cluster::start("faults");
    let store = cluster.createdb("planatlas");
    let first = Instance::start(&store);
    let mut instances = [first, Instance::start(&store), Instance::start(&store)];
    let token = token(&store);
    let c = client();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let ids = project_ids(&c, &bases[0]);

    let stop = Arc::new(AtomicBool::new(false));
    let read_failures = Arc::new(Mutex::new(Vec::new()));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (bases, stop, failures, reads, id) =
            (bases.clone(), stop.clone(), read_failures.clone(), reads.clone(), ids[0].clone());
        std::thread::spawn(move || {
            let c = client();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let b = &bases[n % bases.len()];
                let path = if n % 2 == 0 {
                    "/collections/projects/items?limit=5".to_owned()
                } else {
                    format!("/collections/projects/items/{id}")
                };
                match c.get(format!("{b}{path}")).send() {
                    Ok(r) if r.status().as_u16() == 200 => {}
                    Ok(r) => failures.lock().unwrap().push(format!("{b}{path}: {}", r.status())),
                    Err(e) => failures.lock().unwrap().push(format!("{b}{path}: {e}")),
                }
                reads.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        })
    };
    // (id, value, version) of every acknowledged write; the statuses of refused ones.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..2)
        .map(|k| {
            let (bases, stop, token, acked, refused) =
                (bases.clone(), stop.clone(), token.clone(), acked.clone(), refused.clone());
            let mine: Vec<String> = ids.iter().skip(10 + k).step_by(2).take(10).cloned().collect();
            std::thread::spawn(move || {
                let c = client();
                let mut j = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = &mine[j % mine.len()];
                    let value = format!("fault writer {k} write {j}");
                    match patch(&c, &bases[j % bases.len()], &token, id, &value) {
                        (204, Some(v), _) => {
                            acked.lock().unwrap().push((id.clone(), value, v, Instant::now()));
                        }
                        (status, _, retry) => refused.lock().unwrap().push((status, retry, Instant::now())),
                    }
                    j += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(3));
    let before = acked.lock().unwrap().len();
    assert!(before > 0, "writes are acknowledged before the stop");
    let down_at = Instant::now();
    cluster.stop();
    // /ready says why writes are refused, while reads go on.
    let mut said = false;
    while down_at.elapsed() < Duration::from_secs(10) && !said {
        let r = get_json(&c, &format!("{}/ready", bases[1]));
        said = r["writable"] == false
            && r["checks"]["store"]["reachable"] == false
            && r["checks"]["store"]["error"].is_string();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(said, "/ready says the store cannot be reached");
    // A new project without an id (its id is chosen against the store) is refused the same way.
    let new_project = shenyang_project(None, "Made while the store was down");
    let r = c
        .post(format!("{}/collections/projects/items", bases[2]))
        .bearer_auth(&token)
        .header("content-type", "application/geo+json")
        .body(new_project.to_string())
        .send()
        .expect("answers");
    assert_eq!(r.status().as_u16(), 503, "a new project while the store is down");
    assert!(r.headers().get("retry-after").is_some(), "with Retry-After");
    // The history lives in the store: asked for while it is down, it is a 503 (not "no such feature"), and a
    // feature the read model lacks is still a plain 404.
    for path in [
        format!("/collections/projects/items/{}/versions", ids[0]),
        format!("/collections/projects/items/{}?datetime=2026-01-01T00:00:00Z", ids[0]),
        // The whole catalogue at an instant, too (it was a 404, "no catalogue").
        "/collections/projects/items?datetime=2026-01-01T00:00:00Z".to_owned(),
    ] {
        let r = c.get(format!("{}{path}", bases[0])).send().expect("answers");
        assert_eq!(r.status().as_u16(), 503, "{path} while the store is down");
        assert!(r.headers().get("retry-after").is_some(), "{path}: with Retry-After");
    }
    let r =
        c.get(format!("{}/collections/projects/items/no-such-project", bases[0])).send().expect("answers");
    assert_eq!(r.status().as_u16(), 404, "a feature the read model lacks, while the store is down");
    std::thread::sleep(Duration::from_secs(2));
    cluster.restart();
    let up_at = Instant::now();
    // Writes succeed again without a restart of any instance.
    let deadline = up_at + Duration::from_secs(30);
    while acked.lock().unwrap().iter().all(|a| a.3 < up_at) {
        assert!(Instant::now() < deadline, "writes are acknowledged again after PostgreSQL returns");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    reader.join().expect("reader");
    for w in writers {
        w.join().expect("writer");
    }
    let failures = read_failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "reads never fail ({} reads): {:?}",
        reads.load(Ordering::Relaxed),
        &failures[..failures.len().min(5)]
    );
    let refused = refused.lock().unwrap().clone();
    assert!(!refused.is_empty(), "writes were refused while PostgreSQL was down");
    for (status, retry, at) in &refused {
        assert_eq!(
            *status,
            503,
            "a write while the store is down is a 503 (at {:?} after the stop)",
            at.duration_since(down_at)
        );
        assert!(retry.is_some(), "with Retry-After");
        assert!(*at >= down_at, "only while it was down");
    }
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "{} reads, {} writes acknowledged ({before} before the stop), {} refused with 503 while PostgreSQL was down",
        reads.load(Ordering::Relaxed),
        acked.len(),
        refused.len()
    );

    // Every acknowledged write is in the store's history with its value.
    let mut history: HashMap<String, Value> = HashMap::new();
    for (id, value, version, _) in &acked {
        let h = history.entry(id.clone()).or_insert_with(|| {
            get_json(&c, &format!("{}/collections/projects/items/{id}/versions", bases[2]))
        });
        let found = h["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .any(|v| v["version"].as_i64() == Some(*version));
        assert!(found, "{id} v{version} ({value}) is in the history");
    }
    // Every instance converges on the store's revision after the last acknowledged write (agreeing with each
    // other is not enough: they may agree on an older one).
    let last = history
        .values()
        .flat_map(|h| {
            h["versions"].as_array().expect("versions").iter().filter_map(|v| v["revision"].as_i64())
        })
        .max()
        .expect("a revision");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let revs: Vec<i64> = bases.iter().map(|b| revision(&c, b)).collect();
        if revs.iter().all(|r| *r == revs[0] && *r >= last)
            && bases[1..]
                .iter()
                .all(|b| same_projects(&all_projects(&c, b), &all_projects(&c, &bases[0])).is_ok())
        {
            break;
        }
        assert!(Instant::now() < deadline, "instances converge after PostgreSQL returns: {revs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for (id, _, _, _) in &acked {
        let last = acked.iter().filter(|a| &a.0 == id).max_by_key(|a| a.2).expect("acked");
        let (value, version) = state(&c, &bases[0], id).expect("state");
        assert!(version >= last.2, "{id}: v{version} is at least the last acknowledged v{}", last.2);
        if version == last.2 {
            assert_eq!(value, last.1, "{id}: the last acknowledged value");
        }
    }

    // An instance killed with SIGKILL right after acknowledging loses nothing: the others and its restart
    // answer every write it acknowledged.
    let mut written = Vec::new();
    for j in 0..20 {
        let id = &ids[40 + j];
        let value = format!("before the kill {j}");
        let (status, version, _) = patch(&c, &bases[1], &token, id, &value);
        assert_eq!(status, 204);
        written.push((id.clone(), value, version.expect("etag")));
    }
    let victim = &mut instances[1];
    victim.kill();
    let (port, store_url) = (victim.port, victim.store.clone());
    for (id, value, version) in &written {
        let want = Some((value.clone(), *version));
        let deadline = Instant::now() + Duration::from_secs(1);
        while state(&c, &bases[0], id) != want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(state(&c, &bases[0], id), want, "{id} on another instance within 1 s");
    }
    instances[1] = Instance::start_on(&store_url, port);
    for (id, value, version) in &written {
        assert_eq!(state(&c, &bases[1], id), Some((value.clone(), *version)), "{id} after the restart");
    }
}

#[test]
fn migrate_copies_an_embedded_store_whole_into_postgres() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cluster = Cluster::start("migrate");
    let store = cluster.createdb("planatlas");
    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().to_str().expect("utf-8");
    // An embedded store with a token and a write of its own.
    let token = token_in(("--data-dir", data_dir));
    let mut embedded = Instance::serve(("--data-dir", data_dir), free_port());
    let c = client();
    let base = embedded.base.clone();
    let id = project_ids(&c, &base).remove(0);
    assert_eq!(patch(&c, &base, &token, &id, "written before the migration").0, 204);
    let before = revision(&c, &base);
    let history = get_json(&c, &format!("{base}/collections/projects/items/{id}/versions"));
    embedded.kill();

    let migrate = |to: &str| {
        Command::new(bin())
            .args(["migrate", "--data-dir", data_dir, "--to", to])
            .output()
            .expect("migrate runs")
    };
    let out = migrate(&store);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains("1 tokens"), "{said}");
    // Into a database that already holds a store: refused, nothing changed.
    let again = migrate(&store);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already holds"));

    let pg = Instance::start(&store);
    assert_eq!(revision(&c, &pg.base), before, "the same revision");
    assert_eq!(state(&c, &pg.base, &id).map(|s| s.0), Some("written before the migration".to_owned()));
    let moved = get_json(&c, &format!("{}/collections/projects/items/{id}/versions", pg.base));
    let strip = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|x| (x["version"].clone(), x["at"].clone(), x["actor"].clone()))
            .collect()
    };
    assert_eq!(strip(&moved), strip(&history), "every version, with its time and actor");
    // The token came along (as its hash): it writes on the new store.
    assert_eq!(patch(&c, &pg.base, &token, &id, "written after the migration").0, 204);
    assert_eq!(revision(&c, &pg.base), before + 1);
}
