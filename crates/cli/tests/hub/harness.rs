//! A real `clins-hub serve` process on a fresh store (SQLite folder or PostgreSQL database) and a
//! minimal HTTP/1.1 client, for the behavioural suite.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fhir::json::Value;

pub const MEMBER_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";

/// Where a test's data lives.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty backend of the given kind. `None` when PostgreSQL is unreachable and not
/// required (the test prints that it is skipped).
pub fn fresh(kind: &str) -> Option<Backend> {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let name = format!("clins_t_{}_{n}", std::process::id());
    match kind {
        "sqlite" => {
            let d = std::env::temp_dir().join(name);
            let _ = std::fs::remove_dir_all(&d);
            Some(Backend::Sqlite(d))
        }
        _ => {
            let admin = std::env::var("CLINS_TEST_PG").unwrap_or_else(|_| {
                "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into()
            });
            match postgres::Client::connect(&admin, postgres::NoTls) {
                Ok(mut c) => {
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                        .expect("drop an old test database");
                    c.batch_execute(&format!("CREATE DATABASE {name}"))
                        .expect("create the test database");
                    Some(Backend::Postgres(format!(
                        "postgres://postgres@127.0.0.1:5432/{name}"
                    )))
                }
                Err(e) => {
                    if std::env::var("CLINS_REQUIRE_SHARED").as_deref() == Ok("1") {
                        panic!("PostgreSQL at 127.0.0.1:5432 is required (CLINS_REQUIRE_SHARED=1): {e}");
                    }
                    println!("skipped: PostgreSQL not reachable at 127.0.0.1:5432 ({e})");
                    None
                }
            }
        }
    }
}

/// Drops a PostgreSQL test database (best effort).
pub fn drop_backend(b: &Backend) {
    match b {
        Backend::Sqlite(d) => {
            let _ = std::fs::remove_dir_all(d);
        }
        Backend::Postgres(url) => {
            let name = url.rsplit('/').next().unwrap_or_default();
            if let Ok(mut c) = postgres::Client::connect(
                "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                postgres::NoTls,
            ) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub fn backend_args(b: &Backend) -> Vec<String> {
    match b {
        Backend::Sqlite(d) => vec!["--data".into(), d.display().to_string()],
        Backend::Postgres(u) => vec!["--database".into(), u.clone()],
    }
}

/// A running server.
pub struct Hub {
    child: Child,
    pub port: u16,
    pub backend: Backend,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Hub {
    /// Starts `clins-hub serve` with development authentication on a free loopback port, with
    /// the JP packages when `ig` names them and a fixed clock when `now` is given.
    pub fn start(backend: &Backend, ig: &[PathBuf], now: Option<&str>) -> Hub {
        Hub::start_with(backend, ig, now, &[])
    }

    /// [`Hub::start`] with more `serve` arguments.
    pub fn start_with(backend: &Backend, ig: &[PathBuf], now: Option<&str>, extra: &[&str]) -> Hub {
        Hub::spawn(backend, ig, now, extra, false)
    }

    /// [`Hub::start_with`] logging at the most verbose level (`CLINS_LOG=trace`), for the
    /// tests that look for secrets in the log ([`Hub::log`]).
    pub fn start_verbose(
        backend: &Backend,
        ig: &[PathBuf],
        now: Option<&str>,
        extra: &[&str],
    ) -> Hub {
        Hub::spawn(backend, ig, now, extra, true)
    }

    fn spawn(
        backend: &Backend,
        ig: &[PathBuf],
        now: Option<&str>,
        extra: &[&str],
        verbose: bool,
    ) -> Hub {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clins-hub"));
        cmd.arg("serve")
            .args(backend_args(backend))
            .arg("--insecure-dev-auth")
            .env_remove("CLINS_IG_PATH")
            .env("CLINS_QUIET", "1")
            // The tests that look for secrets in the log run it at the most verbose level.
            .env("CLINS_LOG", if verbose { "trace" } else { "" })
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for d in ig {
            cmd.arg("--ig").arg(d);
        }
        if !extra.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(extra);
        if let Some(n) = now {
            cmd.args(["--now", n]);
        }
        let mut child = cmd.spawn().expect("start clins-hub serve");
        let stderr = child.stderr.take().expect("stderr");
        // A reader thread passes stderr lines on, then keeps draining it so the server never
        // blocks on a full pipe; the wait for the banner is bounded.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let keep = log.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if let Ok(mut l) = keep.lock() {
                    l.push_str(&line);
                }
                let _ = tx.send(std::mem::take(&mut line));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut port = 0;
        let mut seen = String::new();
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            seen.push_str(&line);
            if let Some(addr) = line.split("addr=").nth(1) {
                port = addr
                    .trim()
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                break;
            }
        }
        if port == 0 {
            let _ = child.kill();
            panic!("the server did not print its address within 60 s:\n{seen}");
        }
        // A new server on a port an earlier one used: nothing is registered with it yet.
        REGISTERED.lock().unwrap().retain(|(p, _)| *p != port);
        Hub {
            child,
            port,
            backend: backend.clone(),
            log,
        }
    }

    /// SIGTERM, then waits for the exit (graceful shutdown).
    /// SIGTERM, then waits for the exit (graceful shutdown); a server still running after 30 s
    /// is killed and the test fails.
    /// Sends SIGTERM and returns at once.
    pub fn signal_term(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("the server did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server wrote to stderr so far (its log).
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A GET as `institution` (registered first when it is a well-formed number).
    pub fn get(&self, path: &str, institution: &str) -> Resp {
        register(self.port, institution);
        request(
            self.port,
            "GET",
            path,
            &[("X-Clins-Dev-Institution", institution)],
            b"",
        )
    }

    /// A GET with the given headers only.
    pub fn get_as(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        request(self.port, "GET", path, headers, b"")
    }

    /// The qualification service records `member`'s viewing consent for `institution` (registered
    /// first); returns the response (201 with the Consent).
    pub fn grant(&self, member: &str, institution: &str) -> Resp {
        register(self.port, institution);
        let body = format!(
            r#"{{"resourceType":"Consent","status":"active","patient":{{"identifier":{{"system":"{MEMBER_SYSTEM}","value":"{member}"}}}},"provision":{{"actor":[{{"reference":{{"identifier":{{"value":"{institution}"}}}}}}]}}}}"#
        );
        let r = request(
            self.port,
            "POST",
            "/fhir/Consent",
            &[
                ("X-Clins-Dev-Role", "qualification-service"),
                ("Content-Type", "application/fhir+json"),
            ],
            body.as_bytes(),
        );
        assert_eq!(r.status, 201, "consent for {institution}: {}", r.body);
        r
    }

    pub fn submit(&self, bundle: &[u8]) -> Resp {
        submit_to(self.port, bundle)
    }

    pub fn post(&self, path: &str, institution: &str, body: &[u8]) -> Resp {
        register(self.port, institution);
        request(
            self.port,
            "POST",
            path,
            &[
                ("X-Clins-Dev-Institution", institution),
                ("Content-Type", "application/fhir+json"),
            ],
            body,
        )
    }

    /// The number of records in the audit trail (from /metrics).
    pub fn audit_records(&self) -> i64 {
        let m = request(self.port, "GET", "/metrics?store=true", &[], b"");
        m.body
            .lines()
            .find_map(|l| l.strip_prefix("clins_audit_records "))
            .and_then(|v| v.trim().parse().ok())
            .expect("clins_audit_records in /metrics")
    }

    /// The store's row counts from /metrics: (units, current resources, resource versions).
    pub fn counts(&self) -> (i64, i64, i64) {
        let m = request(self.port, "GET", "/metrics?store=true", &[], b"");
        let get = |name: &str| {
            m.body
                .lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1)
        };
        (
            get("clins_store_units"),
            get("clins_store_resources"),
            get("clins_store_resource_versions"),
        )
    }
}

/// Every secret a test of the suite used (tokens, assertions, passwords, codes, cookies).
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Registers a secret: every hub of the suite, when it stops, looks for all secrets registered
/// so far in its log, whichever test used them (`Drop for Hub`).
pub fn secret(s: &str) {
    if s.len() >= 8 {
        SECRETS.lock().unwrap().push(s.to_string());
    }
}

/// The registered secrets that `log` contains.
pub fn secrets_in(log: &str) -> Vec<String> {
    SECRETS
        .lock()
        .map(|all| {
            all.iter()
                .filter(|s| log.contains(s.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
        // No secret of any test in any hub's log (checked when the test is not already
        // failing, so that a failure is not hidden behind a panic in a panic).
        if !std::thread::panicking() {
            // The reader thread may still be copying the last lines.
            std::thread::sleep(Duration::from_millis(50));
            let found = secrets_in(&self.log());
            assert!(found.is_empty(), "secrets in a hub's log: {found:?}");
        }
    }
}

/// The institution number of a bundle's Bundle-ID.
pub fn institution_of(bundle: &[u8]) -> String {
    let v = fhir::json::parse_bytes(bundle).expect("bundle JSON");
    v.pointer("identifier.value")
        .and_then(Value::as_str)
        .and_then(|b| b.split('^').next())
        .unwrap_or_default()
        .to_string()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        fhir::json::parse(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    /// The detail codes of an OperationOutcome.
    pub fn details(&self) -> Vec<String> {
        self.json()
            .get("issue")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i.pointer("details.coding"))
            .flat_map(|c| c.items().iter())
            .filter_map(|c| c.get("code").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn entries(&self) -> Vec<Value> {
        self.json()
            .get("entry")
            .map(Value::items)
            .unwrap_or_default()
            .to_vec()
    }
}

/// One HTTP/1.1 request with `Connection: close`.
/// `$submit` of `bundle` on the server at `port`, as the institution its Bundle-ID names (for
/// threads that hold only the port).
pub fn submit_to(port: u16, bundle: &[u8]) -> Resp {
    let inst = institution_of(bundle);
    register(port, &inst);
    request(
        port,
        "POST",
        "/fhir/Bundle/$submit",
        &[
            ("X-Clins-Dev-Institution", &inst),
            ("Content-Type", "application/fhir+json"),
        ],
        bundle,
    )
}

/// Registers an institution with the hub at `port` once (as the operator, over HTTP), with the
/// kind its fee table code suggests (1 hospital, 2 checkup, 3 dental, 4 pharmacy; 8 digits an
/// insurer). Numbers that are not well formed are left alone (the hub refuses them).
static REGISTERED: std::sync::Mutex<Vec<(u16, String)>> = std::sync::Mutex::new(Vec::new());

pub fn register(port: u16, number: &str) {
    let registered = &REGISTERED;
    let kind = match (number.len(), number.get(2..3)) {
        (8, _) => "insurer",
        (10, Some("1")) => "hospital",
        (10, Some("2")) => "checkup",
        (10, Some("3")) => "dental",
        (10, Some("4")) => "pharmacy",
        _ => return,
    };
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let key = (port, number.to_string());
    if registered.lock().unwrap().contains(&key) {
        return;
    }
    register_as(port, number, kind);
    registered.lock().unwrap().push(key);
}

/// Registers (or re-registers) `number` as `kind`.
pub fn register_as(port: u16, number: &str, kind: &str) {
    let body = format!(r#"{{"number":"{number}","kind":"{kind}","name":"テスト機関 {number}"}}"#);
    let r = request(
        port,
        "POST",
        "/admin/institutions",
        &[
            ("X-Clins-Dev-Role", "operator"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "register {number} as {kind}: {}", r.body);
}

pub fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("connect: {e}"),
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    // A server may answer (413) before reading the whole body; ignore a broken pipe then.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut payload = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        payload = dechunk(&payload);
    }
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&payload).into_owned(),
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..p]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[p + 2..(p + 2 + size).min(b.len())]);
        b = &b[(p + 4 + size).min(b.len())..];
    }
    out
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `identifier=<system>|<member id>` for a summary request.
pub fn summary_path(member: &str) -> String {
    format!(
        "/fhir/Patient/$summary?identifier={}",
        enc(&format!("{MEMBER_SYSTEM}|{member}"))
    )
}

/// The member id of a bundle's Patient.
pub fn member_of(bundle: &Value) -> String {
    bundle
        .get("entry")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
        .and_then(|p| p.get("identifier"))
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(MEMBER_SYSTEM))
        .and_then(|i| i.get("value"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("clins-hub-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
