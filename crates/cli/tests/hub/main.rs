//! The hub's behavioural suite, over HTTP against a real `clins-hub serve` process, run on the
//! embedded SQLite store and on PostgreSQL (a fresh database per test). Each scenario is one
//! function taking the backend kind; the `both!` macro makes one test per backend.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;
mod access;
mod audit;
mod harness;
mod signin;
mod tls;
mod tokens;
mod web;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use fhir::json::{Object, Value};
use harness::*;

macro_rules! both {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn sqlite() {
                super::$scenario("sqlite");
            }
            #[test]
            fn postgres() {
                super::$scenario("postgres");
            }
        }
    };
}

both!(population_is_accepted_and_counted);
both!(invalid_input_is_refused_and_stores_nothing);
both!(replace_delete_withdraw_and_idempotency);
both!(new_and_known_patients);
both!(concurrent_replacements_end_as_one_of_them);
both!(summary_across_institutions_flags_and_retention);
both!(search_parameters_and_paging);
both!(referral_lifecycle);
both!(discharge_summary_travels_with_its_referral);
both!(acknowledged_submissions_survive_sigkill);
both!(official_fixtures);
both!(graceful_shutdown);
both!(authorization_matrix);
both!(patient_and_insurer_views);
both!(identification_by_four_items);
both!(consent_validity_is_a_setting);
both!(token_matrix);
both!(authorization_matrix_with_tokens);
both!(rate_limits);
both!(tls_listener_and_database);
both!(people_sign_in);
both!(pages_follow_the_access_decision);
both!(audit_trail);
both!(audit_survives_sigkill);

fn consent_validity_is_a_setting(kind: &str) {
    access::consent_validity_is_a_setting(kind);
}

fn identification_by_four_items(kind: &str) {
    access::identification_by_four_items(kind);
}

fn token_matrix(kind: &str) {
    tokens::token_matrix(kind, &[]);
}

fn audit_survives_sigkill(kind: &str) {
    audit::audit_survives_sigkill(kind, &ig());
}

fn audit_trail(kind: &str) {
    audit::audit_trail(kind, &ig());
}

fn people_sign_in(kind: &str) {
    signin::people_sign_in(kind, &ig());
}

fn pages_follow_the_access_decision(kind: &str) {
    web::pages_follow_the_access_decision(kind, &ig());
}

fn tls_listener_and_database(kind: &str) {
    tls::tls(kind);
}

fn rate_limits(kind: &str) {
    tokens::rate_limits(kind);
}

fn authorization_matrix_with_tokens(kind: &str) {
    access::authorization_matrix_with_tokens(kind);
}

fn authorization_matrix(kind: &str) {
    access::authorization_matrix(kind);
}

fn patient_and_insurer_views(kind: &str) {
    access::patient_and_insurer_views(kind);
}

/// The JP packages when the shared folder is there (R4 and the service rules only otherwise).
fn ig() -> Vec<PathBuf> {
    common::shared()
        .map(|s| common::ig_dirs(&s))
        .unwrap_or_default()
}

fn population(patients: u64, seed: u64) -> Vec<synth::Submission> {
    let cfg = synth::Config {
        patients,
        institutions: None,
        seed,
    };
    let world = synth::World::new(&cfg);
    let mut out = Vec::new();
    for n in 0..patients {
        synth::patient_submissions(&cfg, &world, n, &mut |s| out.push(s));
    }
    out
}

fn bytes(v: &Value) -> Vec<u8> {
    fhir::json::to_string(v).into_bytes()
}

fn bundle_key(v: &Value) -> (String, String) {
    let bid = v
        .pointer("identifier.value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    (bid.split('^').next().unwrap_or_default().to_string(), bid)
}

/// How many resources the hub indexes from a submission: the entries of a 6情報 unit, the
/// MedicationRequests of referrals and discharge summaries; `None` = a delete.
fn indexed(v: &Value) -> Option<i64> {
    let entries = v.get("entry").map(Value::items).unwrap_or_default();
    let types: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.pointer("resource.resourceType").and_then(Value::as_str))
        .collect();
    if v.get("type").and_then(Value::as_str) == Some("collection") {
        return (types.len() > 1).then(|| types.len() as i64 - 1);
    }
    let comp = types.first().copied();
    let code = entries
        .first()
        .and_then(|e| e.pointer("resource.type.coding"))
        .map(Value::items)
        .unwrap_or_default()
        .first()
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if comp == Some("Composition") && matches!(code, "57133-1" | "18842-5") {
        Some(types.iter().filter(|t| **t == "MedicationRequest").count() as i64)
    } else {
        Some(0)
    }
}

/// The ids the hub reports for a submission (`SUBMIT-RESOURCE` issues).
fn stored_ids(r: &Resp) -> BTreeSet<String> {
    stored_ids_in_order(r).into_iter().collect()
}

/// The ids in the order the hub reports them (the order of the Bundle's entries).
fn stored_ids_in_order(r: &Resp) -> Vec<String> {
    r.json()
        .get("issue")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .filter(|i| {
            i.pointer("details.coding")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .any(|c| c.get("code").and_then(Value::as_str) == Some("SUBMIT-RESOURCE"))
        })
        .filter_map(|i| i.get("diagnostics").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

fn entry_ids(r: &Resp) -> BTreeSet<String> {
    r.entries()
        .iter()
        .filter_map(|e| e.get("fullUrl").and_then(Value::as_str))
        .filter_map(|u| u.split("/fhir/").nth(1))
        .map(str::to_string)
        .collect()
}

fn set(v: &mut Value, key: &str, new: Value) {
    if let Value::Object(o) = v {
        o.insert(key, new);
    }
}

fn entries_mut(v: &mut Value) -> &mut Vec<Value> {
    match v {
        Value::Object(o) => match o.get_mut("entry") {
            Some(Value::Array(a)) => a,
            _ => panic!("no entries"),
        },
        _ => panic!("not an object"),
    }
}

fn resource_mut(entry: &mut Value) -> &mut Object {
    match entry {
        Value::Object(o) => match o.get_mut("resource") {
            Some(Value::Object(r)) => r,
            _ => panic!("no resource"),
        },
        _ => panic!("not an object"),
    }
}

fn add_tag(r: &mut Object, code: &str) {
    let tag = fhir::json::parse(&format!(
        "{{\"system\":\"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication\",\"code\":\"{code}\"}}"
    ))
    .unwrap();
    if let Some(Value::Object(m)) = r.get_mut("meta") {
        match m.get_mut("tag") {
            Some(Value::Array(a)) => a.push(tag),
            _ => {
                m.insert("tag", Value::Array(vec![tag]));
            }
        }
    }
}

fn with_bundle_id(v: &Value, suffix: &str) -> Value {
    let mut v = v.clone();
    let bid = bundle_key(&v).1;
    let new = format!("{bid}{suffix}");
    if let Value::Object(o) = &mut v {
        if let Some(Value::Object(id)) = o.get_mut("identifier") {
            id.insert("value", Value::string(new));
        }
    }
    v
}

// ------------------------------------------------------------------------------- scenarios

fn population_is_accepted_and_counted(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), None);
    assert_eq!(hub.get("/health/live", "").status, 200);
    assert_eq!(hub.get("/health/ready", "").status, 200);
    let meta = hub.get("/fhir/metadata", "");
    assert_eq!(meta.status, 200);
    assert_eq!(
        meta.json().get("resourceType").and_then(Value::as_str),
        Some("CapabilityStatement")
    );
    let subs = population(60, 4);
    let mut model: HashMap<(String, String), i64> = HashMap::new();
    let mut kinds: BTreeSet<&str> = BTreeSet::new();
    for s in &subs {
        let r = hub.submit(&bytes(&s.bundle));
        assert!(
            r.status == 200 || r.status == 201,
            "{} → {}: {}",
            s.file_name,
            r.status,
            r.body
        );
        kinds.insert(s.file_name.rsplit('-').next().unwrap_or_default());
        model.insert(bundle_key(&s.bundle), indexed(&s.bundle).unwrap_or(0));
    }
    assert!(kinds.len() >= 5, "{kinds:?}");
    let (units, current, _) = hub.counts();
    assert_eq!(
        units,
        model.len() as i64,
        "one unit row per (institution, Bundle-ID)"
    );
    assert_eq!(current, model.values().sum::<i64>(), "current resources");
    // PostgreSQL: new units of new and known patients go in one statement; a statement that
    // fails every time (and falls back to the full write) is a bug the answers do not show.
    if kind == "postgres" {
        let m = request(hub.port, "GET", "/metrics", &[], b"").body;
        let metric = |name: &str| -> i64 {
            m.lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1)
        };
        let (one, fallbacks) = (
            metric("clins_store_one_statement_writes_total"),
            metric("clins_store_one_statement_fallbacks_total"),
        );
        // Every new patient's first unit at least (a unit of a known patient from another
        // institution falls back: its Patient, which names the institution, changed).
        assert!(
            one >= 30,
            "one-statement writes {one}, fallbacks {fallbacks}"
        );
        // A new unit of a known patient whose stored Patient it repeats: one statement too.
        let last = (0..subs.len())
            .rev()
            .find(|&i| {
                let s = &subs[i];
                let member = member_of(&s.bundle);
                s.kind == "Condition"
                    && s.action == synth::Action::Submit
                    && subs[i + 1..].iter().all(|t| member_of(&t.bundle) != member)
            })
            .expect("a 傷病名 unit that is its patient's last submission");
        let r = hub.submit(&bytes(&with_bundle_id(&subs[last].bundle, "-known")));
        assert_eq!(r.status, 200, "{}", r.body);
        let m = request(hub.port, "GET", "/metrics", &[], b"").body;
        let after = |name: &str| -> i64 {
            m.lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1)
        };
        assert_eq!(
            (
                after("clins_store_one_statement_writes_total"),
                after("clins_store_one_statement_fallbacks_total")
            ),
            (one + 1, fallbacks),
            "a known patient's new unit is one statement"
        );
    }
    drop(hub);
    drop_backend(&backend);
}

fn invalid_input_is_refused_and_stores_nothing(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), None);
    let subs = population(20, 9);
    let unit = subs
        .iter()
        .find(|s| s.kind == "Condition" && s.resources >= 2)
        .expect("a condition unit");
    let good = bytes(&unit.bundle);
    let inst = institution_of(&good);
    assert!(hub.submit(&good).status < 300);
    let before = hub.counts();

    // Content the validator refuses: 422 with an OperationOutcome that points at the element.
    let mut no_member = unit.bundle.clone();
    if let Some(Value::Array(ids)) =
        resource_mut(&mut entries_mut(&mut no_member)[0]).get_mut("identifier")
    {
        ids.retain(|i| i.get("system").and_then(Value::as_str) != Some(MEMBER_SYSTEM));
    }
    let mut bad_code = unit.bundle.clone();
    resource_mut(&mut entries_mut(&mut bad_code)[1]).remove("code");
    let mut bad_id = unit.bundle.clone();
    if let Value::Object(o) = &mut bad_id {
        if let Some(Value::Object(id)) = o.get_mut("identifier") {
            id.insert("value", Value::string("1311234567-2024-0001"));
        }
    }
    let mut wrong_type = unit.bundle.clone();
    resource_mut(&mut entries_mut(&mut wrong_type)[1])
        .insert("resourceType", Value::string("AllergyIntolerance"));
    // A suspected diagnosis whose status coding has a misspelt system, or text only: refused
    // (it would otherwise be shown to others as if confirmed).
    let status = |json: &str| {
        let mut v = unit.bundle.clone();
        resource_mut(&mut entries_mut(&mut v)[1])
            .insert("verificationStatus", fhir::json::parse(json).unwrap());
        v
    };
    let misspelt = status(
        r#"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-statu","code":"provisional"}]}"#,
    );
    let text_only = status(r#"{"text":"疑い"}"#);
    // One person stays one patient: a member id that only looks like the stored one (an
    // invisible character in it) is refused, not taken for a new patient.
    let mut lookalike = unit.bundle.clone();
    if let Some(Value::Array(ids)) =
        resource_mut(&mut entries_mut(&mut lookalike)[0]).get_mut("identifier")
    {
        for i in ids.iter_mut() {
            if i.get("system").and_then(Value::as_str) == Some(MEMBER_SYSTEM) {
                let v = i.get("value").and_then(Value::as_str).unwrap().to_string();
                let (head, tail) = v.rsplit_once(':').unwrap();
                set(i, "value", Value::string(format!("{head}\u{200B}:{tail}")));
            }
        }
    }
    let unknown_code = status(
        r#"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"suspected"}]}"#,
    );
    for (name, v) in [
        ("no member id", no_member),
        ("no code", bad_code),
        ("old Bundle-ID form", bad_id),
        ("wrong resource type", wrong_type),
        ("status system misspelt", misspelt),
        ("status as text only", text_only),
        ("status code unknown", unknown_code),
        ("member id with an invisible character", lookalike),
    ] {
        let r = hub.post("/fhir/Bundle/$submit", &inst, &bytes(&v));
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        if name.starts_with("status") {
            assert!(
                r.details().contains(&"CLINS-STATUS-CODING".to_string()),
                "{name}: {}",
                r.body
            );
        }
        let oo = r.json();
        assert_eq!(
            oo.get("resourceType").and_then(Value::as_str),
            Some("OperationOutcome"),
            "{name}"
        );
        let issues = oo.get("issue").map(Value::items).unwrap_or_default();
        assert!(
            issues.iter().any(
                |i| i.get("severity").and_then(Value::as_str) == Some("error")
                    && i.get("expression").is_some()
                    && i.pointer("details.text").is_some()
                    && i.get("diagnostics").is_some()
            ),
            "{name}: an error with location, Japanese and English: {}",
            r.body
        );
    }
    // Another institution's unit: 403.
    let r = hub.post("/fhir/Bundle/$submit", "1311234567", &good);
    assert_eq!(r.status, 403, "{}", r.body);
    // Malformed requests.
    let r = hub.post(
        "/fhir/Bundle/$submit",
        &inst,
        b"{\"resourceType\": \"Bundle\", ",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.details().contains(&"JSON-SYNTAX".to_string()));
    for empty in [&b""[..], b" \n\t "] {
        let r = hub.post("/fhir/Bundle/$submit", &inst, empty);
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.details().contains(&"JSON-EMPTY".to_string()),
            "{}",
            r.body
        );
    }
    // Nested deeper than 256 levels: refused as JSON, not followed.
    let deep = format!(
        "{{\"resourceType\":\"Bundle\",\"x\":{}{}}}",
        "[".repeat(300),
        "]".repeat(300)
    );
    let r = hub.post("/fhir/Bundle/$submit", &inst, deep.as_bytes());
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("nested too deeply"), "{}", r.body);
    let r = request(
        hub.port,
        "POST",
        "/fhir/Bundle/$submit",
        &[
            ("X-Clins-Dev-Institution", &inst),
            ("Content-Type", "text/plain"),
        ],
        &good,
    );
    assert_eq!(r.status, 415, "{}", r.body);
    let mut big = b"{\"resourceType\":\"Bundle\",\"x\":\"".to_vec();
    big.resize(11 * 1024 * 1024, b'a');
    big.extend_from_slice(b"\"}");
    let r = hub.post("/fhir/Bundle/$submit", &inst, &big);
    assert_eq!(r.status, 413, "{}", &r.body[..r.body.len().min(300)]);
    assert!(r.details().contains(&"SIZE-LIMIT".to_string()));
    // A compressed body, two Content-Types, no Host: refused, each with its code.
    for (extra, status, code) in [
        ("Content-Encoding: gzip\r\n", 415, "CONTENT-ENCODING"),
        ("Content-Type: text/plain\r\n", 400, "CONTENT-TYPE-REPEATED"),
    ] {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
        write!(
            s,
            "POST /fhir/Bundle/$submit HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Clins-Dev-Institution: {inst}\r\nContent-Type: application/fhir+json\r\n{extra}Content-Length: 2\r\n\r\n{{}}"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with(&format!("HTTP/1.1 {status}")), "{out}");
        assert!(out.contains(code), "{out}");
    }
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
        s.write_all(b"GET /fhir/metadata HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 400"), "{out}");
        assert!(out.contains("HOST-MISSING"), "{out}");
    }
    // Requests hyper cannot read: its own answers carry an OperationOutcome too.
    for (head, status, code) in [
        // Over the hub's 64 KB (hyper reads it), and over hyper's own buffer (either refuses).
        (
            format!(
                "GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
                "a".repeat(70_000)
            ),
            431,
            "HEADERS-TOO-LARGE",
        ),
        (
            format!(
                "GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
                "a".repeat(500_000)
            ),
            431,
            "HEADERS-TOO-LARGE",
        ),
        (
            format!(
                "GET /fhir/Condition?code={} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "9".repeat(70_000)
            ),
            414,
            "URI-TOO-LONG",
        ),
        (
            "GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n".to_string(),
            400,
            "HTTP-MALFORMED",
        ),
    ] {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
        let _ = s.write_all(head.as_bytes());
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status}")),
            "{code}: {}",
            &out[..out.len().min(300)]
        );
        let (h, body) = out.split_once("\r\n\r\n").unwrap_or_default();
        assert!(h.contains("application/fhir+json"), "{h}");
        assert!(
            h.contains(&format!("content-length: {}", body.len())),
            "{h}"
        );
        let v = fhir::json::parse(body).expect("an OperationOutcome");
        assert_eq!(
            v.get("resourceType").and_then(fhir::json::Value::as_str),
            Some("OperationOutcome")
        );
        assert!(body.contains(code), "{body}");
    }
    assert_eq!(hub.get("/fhir/metadata", &inst).status, 200);
    // Half a request head, then nothing: the connection is closed after the head deadline
    // (10 s), and the hub serves on.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        s.write_all(b"GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            .unwrap();
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        let waited = started.elapsed();
        assert!(
            waited >= std::time::Duration::from_secs(8)
                && waited < std::time::Duration::from_secs(20),
            "closed after {waited:?}"
        );
        assert_eq!(hub.get("/fhir/metadata", &inst).status, 200);
    }
    // Declared too large and then stalled: refused at once, before any of the body.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        write!(
            s,
            "POST /fhir/Bundle/$submit HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Clins-Dev-Institution: {inst}\r\nContent-Type: application/fhir+json\r\nContent-Length: 12000000\r\n\r\n{{"
        )
        .unwrap();
        let started = std::time::Instant::now();
        let mut head = [0u8; 1024];
        let n = s.read(&mut head).expect("an answer before the body");
        let head = String::from_utf8_lossy(&head[..n]);
        assert!(head.starts_with("HTTP/1.1 413"), "{head}");
        assert!(
            head.contains("SIZE-LIMIT") || head.contains("fhir+json"),
            "{head}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
    let r = request(
        hub.port,
        "POST",
        "/fhir/Bundle/$submit",
        &[("Content-Type", "application/fhir+json")],
        &good,
    );
    assert_eq!(r.status, 401);
    // Reads with bad parameters: 4xx with an OperationOutcome, never a 500.
    for path in [
        "/fhir/Condition?patient=p1&unknown=1",
        "/fhir/Condition?code=x",
        "/fhir/Condition?patient=p1&_count=0",
        "/fhir/Condition?patient=p1&_count=5000",
        "/fhir/Condition?patient=p1&date=notadate",
        "/fhir/Condition?patient=p1&_sort=code",
        "/fhir/Condition?patient=%27%20OR%201%3D1%20--",
        "/fhir/Patient/$summary?identifier=%27%3BDROP%20TABLE%20patients%3B--",
        "/fhir/Patient/$summary",
        "/fhir/Basic?patient=p1",
        "/fhir/Condition?patient=p1&_cursor=broken",
        "/fhir/Condition/%FF",
    ] {
        let r = hub.get(path, &inst);
        assert!(
            (400..500).contains(&r.status),
            "{path} → {}: {}",
            r.status,
            r.body
        );
        assert_eq!(
            r.json().get("resourceType").and_then(Value::as_str),
            Some("OperationOutcome"),
            "{path}"
        );
    }
    let r = request(
        hub.port,
        "DELETE",
        "/fhir/Bundle/$submit",
        &[("X-Clins-Dev-Institution", &inst)],
        b"",
    );
    assert_eq!(r.status, 405);
    assert!(
        r.details().contains(&"METHOD-NOT-ALLOWED".to_string()),
        "{}",
        r.body
    );
    // Injection-shaped token values are values: they match nothing.
    hub.grant(&member_of(&unit.bundle), &inst);
    let r = hub.get(
        &format!(
            "/fhir/Condition?patient.identifier={}&code=%27%20OR%20%271%27%3D%271",
            enc(&format!("{MEMBER_SYSTEM}|{}", member_of(&unit.bundle)))
        ),
        &inst,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.entries().is_empty());
    assert_eq!(
        hub.counts(),
        before,
        "nothing stored by any refused request"
    );
    drop(hub);
    drop_backend(&backend);
}

fn replace_delete_withdraw_and_idempotency(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), None);
    let subs = population(40, 21);
    let unit = subs
        .iter()
        .find(|s| s.kind == "Condition" && s.resources >= 3 && s.action == synth::Action::Submit)
        .expect("a unit with two conditions or more");
    let inst = institution_of(&bytes(&unit.bundle));
    let first = hub.submit(&bytes(&unit.bundle));
    assert_eq!(first.status, 200, "{}", first.body);
    let ids = stored_ids(&first);
    assert_eq!(ids.len() as i64, unit.resources as i64 - 1);
    // Idempotent: the same bytes again change nothing.
    let again = hub.submit(&bytes(&unit.bundle));
    assert_eq!(again.status, 200);
    assert!(
        again.details().contains(&"SUBMIT-UNCHANGED".to_string()),
        "{}",
        again.body
    );
    assert_eq!(stored_ids(&again), ids);
    let counts = hub.counts();
    // Replacement with one condition fewer.
    let mut smaller = unit.bundle.clone();
    entries_mut(&mut smaller).pop();
    let r = hub.submit(&bytes(&smaller));
    assert!(
        r.details().contains(&"SUBMIT-REPLACED".to_string()),
        "{}",
        r.body
    );
    let kept = stored_ids(&r);
    assert_eq!(kept.len(), ids.len() - 1);
    assert!(kept.is_subset(&ids), "re-sent resources keep their ids");
    let dropped = ids.difference(&kept).next().unwrap().clone();
    assert_eq!(hub.get(&format!("/fhir/{dropped}"), &inst).status, 410);
    let hist = hub.get(&format!("/fhir/{dropped}/_history"), &inst);
    assert_eq!(hist.status, 200);
    assert_eq!(hist.entries().len(), 2, "{}", hist.body);
    for id in &kept {
        let r = hub.get(&format!("/fhir/{id}"), &inst);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json().pointer("meta.versionId").and_then(Value::as_str),
            Some("2")
        );
        assert_eq!(
            hub.get(&format!("/fhir/{id}/_history/1"), &inst).status,
            200
        );
        assert_eq!(
            hub.get(&format!("/fhir/{id}/_history/9"), &inst).status,
            404
        );
    }
    assert_eq!(hub.counts().1, counts.1 - 1);
    // Patient-only bundle: the unit is deleted.
    let mut only_patient = unit.bundle.clone();
    entries_mut(&mut only_patient).truncate(1);
    let r = hub.submit(&bytes(&only_patient));
    assert!(
        r.details().contains(&"SUBMIT-DELETED".to_string()),
        "{}",
        r.body
    );
    for id in &kept {
        assert_eq!(hub.get(&format!("/fhir/{id}"), &inst).status, 410);
    }
    assert_eq!(hub.counts().1, counts.1 - ids.len() as i64);
    let r = hub.submit(&bytes(&only_patient));
    assert!(
        r.details()
            .contains(&"SUBMIT-NOTHING-TO-DELETE".to_string()),
        "{}",
        r.body
    );
    // Re-registering after the delete brings it back under the same ids.
    let r = hub.submit(&bytes(&unit.bundle));
    assert_eq!(stored_ids(&r), ids, "{}", r.body);
    // $withdraw: by the owner only; twice is harmless; unknown ids are 404.
    let bid = bundle_key(&unit.bundle).1;
    let params = |id: &str| {
        format!("{{\"resourceType\":\"Parameters\",\"parameter\":[{{\"name\":\"identifier\",\"valueString\":\"{id}\"}}]}}")
    };
    let r = hub.post(
        "/fhir/Bundle/$withdraw",
        "1311234567",
        params(&bid).as_bytes(),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // `patient` names who the unit is for: another patient's id withdraws nothing (409).
    let with_patient = |id: &str, member: &str| {
        format!("{{\"resourceType\":\"Parameters\",\"parameter\":[{{\"name\":\"identifier\",\"valueString\":\"{id}\"}},{{\"name\":\"patient\",\"valueIdentifier\":{{\"system\":\"{MEMBER_SYSTEM}\",\"value\":\"{member}\"}}}}]}}")
    };
    let other_member = subs
        .iter()
        .map(|s| member_of(&s.bundle))
        .find(|m| *m != member_of(&unit.bundle))
        .expect("another patient");
    let r = hub.post(
        "/fhir/Bundle/$withdraw",
        &inst,
        with_patient(&bid, &other_member).as_bytes(),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.details().contains(&"WITHDRAW-OTHER-PATIENT".to_string()));
    for id in &ids {
        assert_eq!(
            hub.get(&format!("/fhir/{id}"), &inst).status,
            200,
            "untouched"
        );
    }
    let r = hub.post(
        "/fhir/Bundle/$withdraw",
        &inst,
        with_patient(&bid, "not a member id").as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = hub.post(
        "/fhir/Bundle/$withdraw",
        &inst,
        with_patient(&bid, &member_of(&unit.bundle)).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.details().contains(&"WITHDRAWN".to_string()));
    for id in &ids {
        assert_eq!(hub.get(&format!("/fhir/{id}"), &inst).status, 410);
    }
    let r = hub.post("/fhir/Bundle/$withdraw", &inst, params(&bid).as_bytes());
    assert!(
        r.details().contains(&"ALREADY-WITHDRAWN".to_string()),
        "{}",
        r.body
    );
    let r = hub.post(
        "/fhir/Bundle/$withdraw",
        &inst,
        params(&format!("{inst}^2026^NOPE")).as_bytes(),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    drop(hub);
    drop_backend(&backend);
}

/// Sends the Patient-only form of `unit` (a delete) for a unit that is not stored.
fn delete_nothing(hub: &Hub, unit: &synth::Submission) {
    let mut only_patient = unit.bundle.clone();
    entries_mut(&mut only_patient).truncate(1);
    let r = hub.submit(&bytes(&only_patient));
    assert_eq!(r.status, 200, "{}", r.body);
    let done = r.details();
    assert!(
        done.contains(&"SUBMIT-NOTHING-TO-DELETE".to_string()),
        "{}",
        r.body
    );
}

/// The ways a unit reaches a patient, each of which PostgreSQL writes differently (a new
/// patient, a known one, a known one with a changed Patient resource, a patient the server
/// process has not seen since it started), and a Bundle-ID already used for another patient,
/// which must not leave the new patient behind.
fn new_and_known_patients(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let mut hub = Hub::start(&backend, &ig(), None);
    let subs = population(30, 33);
    let units: Vec<&synth::Submission> = subs
        .iter()
        .filter(|s| s.kind == "Condition" && s.action == synth::Action::Submit)
        .collect();
    let a = units[0];
    let b = units
        .iter()
        .find(|s| member_of(&s.bundle) != member_of(&a.bundle))
        .expect("a unit of another patient");
    let inst = institution_of(&bytes(&a.bundle));
    let (member_a, member_b) = (member_of(&a.bundle), member_of(&b.bundle));
    // Viewing consent is per patient and institution, and may come before any data.
    hub.grant(&member_a, &inst);
    hub.grant(&member_b, &inst);
    let patient_id = |hub: &Hub| {
        let r = hub.get(&summary_path(&member_a), &inst);
        assert_eq!(r.status, 200, "{}", r.body);
        r.entries()[0].clone()
    };
    // A delete for a unit nobody stored, of a patient nobody stored: nothing happens, and
    // nothing of it is remembered (the answer's patient key 0 once made the next unit's
    // patient `p0` on PostgreSQL).
    delete_nothing(&hub, a);
    // A new patient.
    let r = hub.submit(&bytes(&a.bundle));
    assert_eq!(r.status, 200, "{}", r.body);
    let first = patient_id(&hub);
    let pid = first
        .pointer("resource.id")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    // Patient B's Patient under A's Bundle-ID: refused, and B is not created. (B's Patient
    // takes the place of A's: same fullUrl, and A's institution in its extension.)
    let mut stolen = a.bundle.clone();
    let mut b_patient = b.bundle.get("entry").map(Value::items).unwrap()[0].clone();
    let a_patient = &a.bundle.get("entry").map(Value::items).unwrap()[0];
    set(
        &mut b_patient,
        "fullUrl",
        a_patient.get("fullUrl").unwrap().clone(),
    );
    let a_extension = a_patient.pointer("resource.extension").unwrap().clone();
    resource_mut(&mut b_patient).insert("extension", a_extension);
    entries_mut(&mut stolen)[0] = b_patient;
    let r = hub.submit(&bytes(&stolen));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.details().contains(&"SUBMIT-OTHER-PATIENT".to_string()),
        "{}",
        r.body
    );
    assert_eq!(
        hub.get(&summary_path(&member_b), &inst).status,
        404,
        "B was not created"
    );
    // A known patient: a second unit joins the first.
    let counts = hub.counts();
    let second = with_bundle_id(&a.bundle, "-2");
    let r = hub.submit(&bytes(&second));
    assert_eq!(r.status, 200, "{}", r.body);
    let second_ids = stored_ids(&r);
    assert!(
        second_ids
            .iter()
            .all(|id| id.starts_with(&format!("Condition/{}-", &pid[1..]))),
        "{second_ids:?} of {pid}"
    );
    assert_eq!(hub.counts().0, counts.0 + 1);
    assert_eq!(patient_id(&hub), first, "the Patient is unchanged");
    // A known patient whose Patient resource changed: the stored Patient follows.
    let mut third = with_bundle_id(&a.bundle, "-3");
    resource_mut(&mut entries_mut(&mut third)[0]).insert("birthDate", Value::string("1950-01-02"));
    let r = hub.submit(&bytes(&third));
    assert_eq!(r.status, 200, "{}", r.body);
    let now = patient_id(&hub);
    assert_eq!(
        now.pointer("resource.id").and_then(Value::as_str),
        Some(pid.as_str())
    );
    assert_eq!(
        now.pointer("resource.birthDate").and_then(Value::as_str),
        Some("1950-01-02")
    );
    // The same for a patient whose first stored submission is a document (always the full
    // write, which renders for the key the store expected).
    let (c_unit, c_doc) = units
        .iter()
        .filter(|u| ![&member_a, &member_b].contains(&&member_of(&u.bundle)))
        .find_map(|u| {
            subs.iter()
                .find(|d| {
                    d.kind.starts_with('e')
                        && d.action == synth::Action::Submit
                        && member_of(&d.bundle) == member_of(&u.bundle)
                })
                .map(|d| (u, d))
        })
        .expect("a patient with a 6情報 unit and a document");
    delete_nothing(&hub, c_unit);
    let r = hub.submit(&bytes(&c_doc.bundle));
    assert_eq!(r.status, 200, "{}", r.body);
    // Read by a hospital with consent (the document's sender may be a checkup centre, which
    // reads no summaries).
    hub.grant(&member_of(&c_doc.bundle), &inst);
    let r = hub.get(&summary_path(&member_of(&c_doc.bundle)), &inst);
    assert_eq!(r.status, 200, "{}", r.body);
    let c_pid = r.entries()[0]
        .pointer("resource.id")
        .and_then(Value::as_str)
        .map(str::to_string);
    assert!(c_pid.as_deref().is_some_and(|p| p != "p0"), "{c_pid:?}");
    // A restarted server has not seen the patient: the unit still goes to the same patient.
    hub.terminate();
    let hub = Hub::start(&backend, &ig(), None);
    let fourth = with_bundle_id(&a.bundle, "-4");
    let r = hub.submit(&bytes(&fourth));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        stored_ids(&r)
            .iter()
            .all(|id| id.starts_with(&format!("Condition/{}-", &pid[1..]))),
        "{}",
        r.body
    );
    let r = hub.get(&format!("/fhir/Condition?patient={pid}&_count=1000"), &inst);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(entry_ids(&r).len(), 4 * (a.resources - 1), "{}", r.body);
    drop(hub);
    drop_backend(&backend);
}

fn concurrent_replacements_end_as_one_of_them(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), None);
    let subs = population(60, 33);
    let unit = subs
        .iter()
        .filter(|s| s.kind == "Condition" && s.action == synth::Action::Submit)
        .max_by_key(|s| s.resources)
        .expect("a unit");
    let n = unit.resources - 1;
    assert!(n >= 3, "{n}");
    // Variants of the same unit with 1..=n conditions.
    let variants: Vec<Vec<u8>> = (1..=n)
        .map(|k| {
            let mut v = unit.bundle.clone();
            entries_mut(&mut v).truncate(k + 1);
            bytes(&v)
        })
        .collect();
    let mut expected: Vec<BTreeSet<String>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = variants
            .iter()
            .map(|v| {
                let port = hub.port;
                s.spawn(move || {
                    let mut ids = BTreeSet::new();
                    for _ in 0..4 {
                        let r = submit_to(port, v);
                        assert!(r.status < 300, "{}", r.body);
                        ids = stored_ids(&r);
                    }
                    ids
                })
            })
            .collect();
        for h in handles {
            expected.push(h.join().expect("client thread"));
        }
    });
    let member = member_of(&unit.bundle);
    let inst = institution_of(&variants[0]);
    hub.grant(&member, &inst);
    let r = hub.get(
        &format!(
            "/fhir/Condition?patient.identifier={}&_count=1000",
            enc(&format!("{MEMBER_SYSTEM}|{member}"))
        ),
        &inst,
    );
    let all: BTreeSet<String> = expected.iter().flatten().cloned().collect();
    let now: BTreeSet<String> = entry_ids(&r).intersection(&all).cloned().collect();
    assert!(
        expected.contains(&now),
        "the unit holds exactly one variant's conditions: {now:?}"
    );
    let (_, current, _) = hub.counts();
    assert_eq!(current, now.len() as i64, "no stray current rows");
    drop(hub);
    drop_backend(&backend);
}

const FIXED_NOW: &str = "2026-11-20T03:00:00.000Z";

fn summary_across_institutions_flags_and_retention(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let mut hub = Hub::start(&backend, &ig(), Some(FIXED_NOW));
    let subs = population(300, 5);
    // A patient with 傷病名 units from three institutions.
    let mut by_member: HashMap<String, BTreeSet<String>> = HashMap::new();
    for s in subs.iter().filter(|s| s.kind == "Condition") {
        by_member
            .entry(member_of(&s.bundle))
            .or_default()
            .insert(bundle_key(&s.bundle).0);
    }
    let (member, insts) = by_member
        .iter()
        .filter(|(_, i)| i.len() >= 3)
        .min_by_key(|(m, _)| (*m).clone())
        .expect("a patient seen at three institutions");
    let outsider = subs
        .iter()
        .map(|s| bundle_key(&s.bundle).0)
        .find(|i| !insts.contains(i))
        .expect("another institution");
    for s in subs
        .iter()
        .filter(|s| member_of(&s.bundle) == *member && s.kind == "Condition")
    {
        assert!(hub.submit(&bytes(&s.bundle)).status < 300);
    }
    // Without viewing consent: refused; with it, the patient's data from every institution.
    let r = hub.get(&summary_path(member), &outsider);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.details().contains(&"CONSENT-REQUIRED".to_string()),
        "{}",
        r.body
    );
    hub.grant(member, &outsider);
    let r = hub.get(&summary_path(member), &outsider);
    assert_eq!(r.status, 200, "{}", r.body);
    let entries = r.entries();
    assert_eq!(
        entries[0]
            .pointer("resource.resourceType")
            .and_then(Value::as_str),
        Some("Patient")
    );
    let sources: BTreeSet<String> = entries[1..]
        .iter()
        .filter_map(|e| e.get("extension"))
        .flat_map(|x| x.items().iter())
        .filter_map(|x| x.pointer("valueIdentifier.value").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    assert!(
        sources.len() >= 3,
        "entries from three institutions: {sources:?}"
    );
    for e in &entries[1..] {
        let ext = e.get("extension").map(Value::items).unwrap_or_default();
        assert!(
            ext.iter().any(|x| x.get("valueInstant").is_some()),
            "registration time"
        );
    }

    // Flags: a unit with three conditions or more, tagged LTS / UNDELIVERED / UNINFORMED.
    let unit = subs
        .iter()
        .find(|s| {
            s.kind == "Condition"
                && s.resources >= 4
                && s.action == synth::Action::Submit
                && member_of(&s.bundle) != *member
        })
        .expect("a unit with three conditions");
    let mut flagged = unit.bundle.clone();
    // Only the flags set here (the generator sets some of its own).
    for e in entries_mut(&mut flagged).iter_mut().skip(1) {
        if let Some(Value::Object(m)) = resource_mut(e).get_mut("meta") {
            m.remove("tag");
        }
    }
    for (i, code) in [(1, "LTS"), (2, "UNDELIVERED"), (3, "UNINFORMED")] {
        add_tag(resource_mut(&mut entries_mut(&mut flagged)[i]), code);
    }
    let r = hub.submit(&bytes(&flagged));
    assert!(r.status < 300, "{}", r.body);
    let ids: Vec<String> = stored_ids_in_order(&r);
    let suspected: Vec<bool> = entries_mut(&mut flagged)[1..]
        .iter()
        .map(|e| {
            e.pointer("resource.verificationStatus.coding")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .any(|c| c.get("code").and_then(Value::as_str) == Some("provisional"))
        })
        .collect();
    let owner = institution_of(&bytes(&flagged));
    let other_member = member_of(&flagged);
    hub.grant(&other_member, &owner);
    hub.grant(&other_member, &outsider);
    let seen_by = |who: &str| -> (BTreeSet<String>, BTreeSet<String>) {
        let r = hub.get(&summary_path(&other_member), who);
        assert_eq!(r.status, 200);
        let mut uninformed = BTreeSet::new();
        for e in r.entries() {
            let marked = e
                .get("extension")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .any(|x| x.get("valueBoolean").and_then(Value::as_bool) == Some(true));
            if marked {
                uninformed.insert(
                    e.get("fullUrl")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .split("/fhir/")
                        .nth(1)
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
        (entry_ids(&r), uninformed)
    };
    let (mine, _) = seen_by(&owner);
    assert!(
        ids.iter().all(|i| mine.contains(i)),
        "the submitter sees everything it sent"
    );
    let (theirs, marked) = seen_by(&outsider);
    assert!(
        !theirs.contains(&ids[1]),
        "UNDELIVERED is hidden from others"
    );
    assert!(
        theirs.contains(&ids[2]) && marked.contains(&ids[2]),
        "UNINFORMED is shown with its mark"
    );
    assert_eq!(
        theirs.contains(&ids[0]),
        !suspected[0],
        "LTS shown unless suspected"
    );
    for (i, s) in suspected.iter().enumerate() {
        if *s {
            assert!(
                !theirs.contains(&ids[i]),
                "suspected diagnoses are hidden from others"
            );
        }
    }

    // 検査: five results of the same items, only the last year or the last three are viewable.
    let lab = subs
        .iter()
        .find(|s| {
            s.file_name.ends_with("observation.json")
                && member_of(&s.bundle) != *member
                && member_of(&s.bundle) != other_member
        })
        .expect("a lab unit");
    let lab_member = member_of(&lab.bundle);
    let dates = [
        "2026-10-01",
        "2026-06-01",
        "2025-06-01",
        "2024-06-01",
        "2023-06-01",
    ];
    for (k, d) in dates.iter().enumerate() {
        let mut v = with_bundle_id(&lab.bundle, &format!("X{k}"));
        for e in entries_mut(&mut v).iter_mut().skip(1) {
            let r = resource_mut(e);
            for key in ["effectiveDateTime", "issued"] {
                r.insert(key, Value::string(format!("{d}T10:00:00+09:00")));
            }
        }
        let r = hub.submit(&bytes(&v));
        assert!(r.status < 300, "{}", r.body);
    }
    for s in subs
        .iter()
        .filter(|s| member_of(&s.bundle) == lab_member && s.file_name.ends_with("observation.json"))
    {
        // Its own other lab units are not sent: only the five dated copies count.
        let _ = s;
    }
    let hba1c = lab
        .bundle
        .get("entry")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.pointer("resource.code.coding"))
        .map(|c| c.items().to_vec())
        .next()
        .expect("coded result");
    let code = hba1c
        .iter()
        .rev()
        .find_map(|c| {
            Some(format!(
                "{}|{}",
                c.get("system")?.as_str()?,
                c.get("code")?.as_str()?
            ))
        })
        .unwrap();
    let path = format!(
        "/fhir/Observation?patient.identifier={}&code={}",
        enc(&format!("{MEMBER_SYSTEM}|{lab_member}")),
        enc(&code)
    );
    hub.grant(&lab_member, &outsider);
    let r = hub.get(&path, &outsider);
    assert_eq!(r.status, 200, "{}", r.body);
    let effective: BTreeSet<String> = r
        .entries()
        .iter()
        .filter_map(|e| {
            e.pointer("resource.effectiveDateTime")
                .and_then(Value::as_str)
                .map(|d| d[..10].to_string())
        })
        .collect();
    assert_eq!(
        effective,
        ["2025-06-01", "2026-06-01", "2026-10-01"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        "last year or last three"
    );

    // Six years later: 傷病名 without LTS have expired, the LTS one stays until deleted.
    hub.kill();
    let hub = Hub::start(&backend, &ig(), Some("2032-12-01T00:00:00.000Z"));
    // The consent of 2026 has long expired.
    assert_eq!(hub.get(&summary_path(&other_member), &outsider).status, 403);
    hub.grant(&other_member, &outsider);
    let (later, _) = {
        let r = hub.get(&summary_path(&other_member), &outsider);
        assert_eq!(r.status, 200);
        (entry_ids(&r), ())
    };
    let conditions: Vec<&String> = later
        .iter()
        .filter(|i| i.starts_with("Condition/"))
        .collect();
    assert_eq!(
        conditions.len(),
        usize::from(!suspected[0]),
        "only the LTS condition is left: {conditions:?}"
    );
    drop(hub);
    // `clins-hub purge` deletes what expired.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .arg("purge")
        .args(backend_args(&backend))
        .args(["--now", "2032-12-01"])
        .output()
        .expect("purge");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let purged: i64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(purged > 0, "{text}");
    // The purge is audited in its own transaction, with what it deleted; the chains still
    // verify.
    {
        let store = match &backend {
            Backend::Sqlite(dir) => store::Store::open_sqlite(dir).unwrap(),
            Backend::Postgres(url) => store::Store::open_postgres(url, 1).unwrap(),
        };
        let runs = store.audit_purges(10).unwrap();
        assert_eq!(runs.len(), 1, "one purge run recorded: {runs:?}");
        assert_eq!(
            (
                runs[0].action.as_str(),
                runs[0].role.as_str(),
                runs[0].purpose.as_str()
            ),
            ("purge", "operator", "RECORDMGT")
        );
        // Recorded when it ran, as of the instant it was asked to apply the rules.
        assert!(runs[0].at.as_str() < "2032", "{}", runs[0].at);
        assert!(
            runs[0].detail.starts_with("as-of=2032-11-30T15:00"),
            "{}",
            runs[0].detail
        );
        assert!(
            runs[0]
                .detail
                .contains(&format!("resource-versions={purged} ")),
            "{:?} against {text}",
            runs[0].detail
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(["audit", "verify"])
        .args(backend_args(&backend))
        .output()
        .expect("verify");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop_backend(&backend);
}

fn search_parameters_and_paging(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), None);
    let subs = population(80, 17);
    for s in &subs {
        assert!(hub.submit(&bytes(&s.bundle)).status < 300);
    }
    // The patient with the most conditions.
    let mut per_member: HashMap<String, i64> = HashMap::new();
    for s in subs.iter().filter(|s| s.kind == "Condition") {
        *per_member.entry(member_of(&s.bundle)).or_default() += 1;
    }
    let member = per_member
        .iter()
        .max_by_key(|(m, n)| (**n, (*m).clone()))
        .unwrap()
        .0
        .clone();
    let inst = subs
        .iter()
        .find(|s| member_of(&s.bundle) == member)
        .map(|s| bundle_key(&s.bundle).0)
        .unwrap();
    hub.grant(&member, &inst);
    let pid = {
        let r = hub.get(&summary_path(&member), &inst);
        r.entries()[0]
            .pointer("resource.id")
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    };
    let q = |rest: &str| hub.get(&format!("/fhir/Condition?patient={pid}{rest}"), &inst);
    let all = q("&_count=1000");
    assert_eq!(all.status, 200);
    // Limits (docs/api.md): beyond them the client's error, 400, never the store's 503.
    let codes = |n: usize| {
        (0..n)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(
        q(&format!("&code={}", codes(100))).status,
        200,
        "100 values"
    );
    for (rest, code) in [
        (format!("&code={}", codes(101)), "SEARCH-TOO-COMPLEX"),
        (format!("&code={}", codes(500)), "SEARCH-TOO-COMPLEX"),
        ("&code=x".repeat(21), "SEARCH-TOO-COMPLEX"),
        ("&code=x".repeat(1000), "SEARCH-TOO-COMPLEX"),
        ("&_format=json".repeat(40), "SEARCH-TOO-COMPLEX"),
        ("&_count=%2B5".to_string(), "SEARCH-COUNT"),
        ("&_count=05000".to_string(), "SEARCH-COUNT"),
        (
            "&date=ge2026-01-01T00:00:00%2B99:99".to_string(),
            "SEARCH-DATE",
        ),
        ("&_lastUpdated=0000".to_string(), "SEARCH-DATE"),
    ] {
        let r = q(&rest);
        assert_eq!(
            r.status,
            400,
            "{}…: {}",
            &rest[..rest.len().min(40)],
            r.body
        );
        assert!(r.body.contains(code), "{}", r.body);
    }
    assert_eq!(q(&"&code=x".repeat(20)).status, 200, "20 conditions");
    let all_ids = entry_ids(&all);
    assert!(all_ids.len() >= 2, "{}", all.body);
    // The same through patient.identifier and Patient/<id>.
    let by_ident = hub.get(
        &format!(
            "/fhir/Condition?patient.identifier={}&_count=1000",
            enc(&format!("{MEMBER_SYSTEM}|{member}"))
        ),
        &inst,
    );
    assert_eq!(entry_ids(&by_ident), all_ids);
    assert_eq!(
        entry_ids(&hub.get(
            &format!("/fhir/Condition?patient=Patient/{pid}&_count=1000"),
            &inst
        )),
        all_ids
    );
    // Paging: one per page, following `next` until it ends, gives every result once.
    let mut seen = Vec::new();
    let mut path = format!("/fhir/Condition?patient={pid}&_count=1");
    for _ in 0..100 {
        let r = hub.get(&path, &inst);
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(entry_ids(&r));
        let next = r
            .json()
            .get("link")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
            .and_then(|l| l.get("url"))
            .and_then(Value::as_str)
            .map(str::to_string);
        match next {
            Some(u) => path = format!("/fhir{}", u.split("/fhir").nth(1).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), all_ids.len(), "no duplicates across pages");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), all_ids);
    // _include of the patient: one Patient entry in include mode after the matches.
    let inc = q("&_include=Condition:patient&_count=1000");
    let modes: Vec<String> = inc
        .entries()
        .iter()
        .filter_map(|e| {
            e.pointer("search.mode")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "include").count(),
        1,
        "{}",
        inc.body
    );
    assert!(entry_ids(&inc).contains(&format!("Patient/{pid}")));
    assert_eq!(q("&_include=Condition:asserter").status, 400);
    // Organizations: an institution's is known from the documents it sent (6情報 units carry
    // none), readable by id, and `_include=…:source-institution` adds exactly the known ones
    // among the matches' source institutions.
    let doc_sender = subs
        .iter()
        .find(|s| s.file_name.ends_with("-referral.json"))
        .map(|s| institution_of(&bytes(&s.bundle)))
        .expect("a referral in the population");
    let org = hub.get(&format!("/fhir/Organization/o{doc_sender}"), &inst);
    assert_eq!(org.status, 200, "{}", org.body);
    assert!(
        org.body.contains(&format!("\"value\":\"{doc_sender}\"")),
        "{}",
        org.body
    );
    assert_eq!(hub.get("/fhir/Organization/o0000000000", &inst).status, 404);
    let inc = q("&_include=Condition:source-institution&_count=1000");
    assert_eq!(inc.status, 200, "{}", inc.body);
    let sources: BTreeSet<String> = inc
        .entries()
        .iter()
        .filter(|e| e.pointer("search.mode").and_then(Value::as_str) == Some("match"))
        .filter_map(|e| {
            e.get("extension")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .find(|x| {
                    x.get("url")
                        .and_then(Value::as_str)
                        .is_some_and(|u| u.ends_with("/source-institution"))
                })
                .and_then(|x| x.pointer("valueIdentifier.value"))
                .and_then(Value::as_str)
                .map(|n| format!("Organization/o{n}"))
        })
        .collect();
    assert!(!sources.is_empty());
    let known: BTreeSet<String> = sources
        .iter()
        .filter(|o| hub.get(&format!("/fhir/{o}"), &inst).status == 200)
        .cloned()
        .collect();
    let included: BTreeSet<String> = entry_ids(&inc)
        .into_iter()
        .filter(|i| i.starts_with("Organization/"))
        .collect();
    assert_eq!(included, known, "{}", inc.body);
    // And for a patient with Conditions from the document sender, its Organization is in.
    let with_sender = subs
        .iter()
        .find(|s| s.kind == "Condition" && institution_of(&bytes(&s.bundle)) == doc_sender)
        .map(|s| member_of(&s.bundle))
        .expect("Conditions from the referral's sender");
    hub.grant(&with_sender, &inst);
    let sender_inc = hub.get(
        &format!(
            "/fhir/Condition?patient.identifier={}&_include=Condition:source-institution&_count=1000",
            enc(&format!("{MEMBER_SYSTEM}|{with_sender}"))
        ),
        &inst,
    );
    assert!(
        entry_ids(&sender_inc).contains(&format!("Organization/o{doc_sender}")),
        "{}",
        sender_inc.body
    );
    let both = q("&_include=*&_count=1000");
    assert_eq!(
        entry_ids(&both),
        entry_ids(&inc)
            .union(&BTreeSet::from([format!("Patient/{pid}")]))
            .cloned()
            .collect()
    );
    let asc = entry_ids(&q("&_sort=_lastUpdated&_count=1000"));
    assert_eq!(asc, all_ids);
    // Token: system|code, code alone, several codes, unknown code.
    let first = all.entries()[0].get("resource").cloned().unwrap();
    let coding = first.pointer("code.coding").map(Value::items).unwrap()[0].clone();
    let (sys, code) = (
        coding.get("system").and_then(Value::as_str).unwrap(),
        coding.get("code").and_then(Value::as_str).unwrap(),
    );
    let with_code = entry_ids(&q(&format!("&code={}", enc(&format!("{sys}|{code}")))));
    assert!(with_code.contains(&format!(
        "Condition/{}",
        first.get("id").and_then(Value::as_str).unwrap()
    )));
    for id in &with_code {
        let r = hub.get(&format!("/fhir/{id}"), &inst).json();
        assert!(r
            .pointer("code.coding")
            .map(Value::items)
            .unwrap()
            .iter()
            .any(|c| c.get("code").and_then(Value::as_str) == Some(code)));
    }
    assert_eq!(entry_ids(&q(&format!("&code={code}"))), with_code);
    assert!(entry_ids(&q(&format!("&code={code},00000000"))).is_superset(&with_code));
    assert!(entry_ids(&q("&code=00000000")).is_empty());
    assert_eq!(
        entry_ids(&q("&category=encounter-diagnosis&_count=1000")),
        all_ids
    );
    let active = entry_ids(&q("&clinical-status=active&_count=1000"));
    let resolved = entry_ids(&q(
        "&clinical-status=resolved,remission,inactive&_count=1000",
    ));
    assert_eq!(active.len() + resolved.len(), all_ids.len());
    // Dates with prefixes (onset), and _lastUpdated on the registration time.
    assert_eq!(entry_ids(&q("&date=ge1900-01-01&_count=1000")), all_ids);
    assert!(entry_ids(&q("&date=lt1900-01-01")).is_empty());
    let onset = first.get("onsetDateTime").and_then(Value::as_str).unwrap();
    assert!(
        entry_ids(&q(&format!("&date={onset}&_count=1000"))).contains(&format!(
            "Condition/{}",
            first.get("id").and_then(Value::as_str).unwrap()
        ))
    );
    assert!(
        entry_ids(&q(&format!("&date=gt{onset}&_count=1000"))).len() < all_ids.len()
            || all_ids.len() == 1
    );
    assert_eq!(
        entry_ids(&q("&_lastUpdated=ge2000-01-01&_count=1000")),
        all_ids
    );
    assert!(entry_ids(&q("&_lastUpdated=lt2000-01-01")).is_empty());
    // The other types.
    let any_type = |t: &str, rest: &str| hub.get(&format!("/fhir/{t}?patient={pid}{rest}"), &inst);
    for t in ["AllergyIntolerance", "Observation", "MedicationRequest"] {
        let r = any_type(t, "&_count=1000");
        assert_eq!(r.status, 200, "{t}: {}", r.body);
    }
    // Some patient with labs: category=laboratory finds them.
    let lab_member = subs
        .iter()
        .find(|s| s.file_name.ends_with("observation.json"))
        .map(|s| member_of(&s.bundle))
        .unwrap();
    let lab_inst = subs
        .iter()
        .find(|s| s.file_name.ends_with("observation.json"))
        .map(|s| bundle_key(&s.bundle).0)
        .unwrap();
    hub.grant(&lab_member, &lab_inst);
    let r = hub.get(&format!("/fhir/Observation?patient.identifier={}&category=laboratory&date=ge2020-01-01&_count=1000", enc(&format!("{MEMBER_SYSTEM}|{lab_member}"))), &lab_inst);
    assert!(!r.entries().is_empty(), "{}", r.body);
    // Documents of a patient. Another institution reads neither the checkup report nor the
    // 患者サマリー without the patient's viewing consent (this test once asserted that it read
    // both); with consent it reads the checkup report, and never the 患者サマリー.
    let reader = "1311000777";
    for (suffix, with_consent) in [("checkup.json", true), ("pcs.json", false)] {
        let doc = subs
            .iter()
            .find(|s| s.file_name.ends_with(suffix))
            .unwrap_or_else(|| panic!("a {suffix} in the population"));
        let m = member_of(&doc.bundle);
        let sender = institution_of(&bytes(&doc.bundle));
        let path = format!(
            "/fhir/DocumentReference?patient.identifier={}",
            enc(&format!("{MEMBER_SYSTEM}|{m}"))
        );
        let by_sender = hub.get(&path, &sender);
        assert_eq!(by_sender.status, 200, "{}", by_sender.body);
        let kind = if with_consent { "eCheckup" } else { "ePCS" };
        let bundle_id = bundle_key(&doc.bundle).1;
        let id = by_sender
            .entries()
            .iter()
            .filter_map(|e| e.get("resource"))
            .find(|d| {
                d.pointer("masterIdentifier.value").and_then(Value::as_str)
                    == Some(bundle_id.as_str())
            })
            .and_then(|d| d.get("id").and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("the sender lists its {kind}: {}", by_sender.body));
        let listed = |who: &str| entry_ids(&hub.get(&path, who));
        let bundle = |who: &str| hub.get(&format!("/fhir/Bundle/{id}"), who).status;
        let dref = format!("DocumentReference/{id}");
        assert!(!listed(reader).contains(&dref), "{kind} without consent");
        assert_eq!(bundle(reader), 404, "{kind} without consent");
        hub.grant(&m, reader);
        assert_eq!(
            listed(reader).contains(&dref),
            with_consent,
            "{kind} with consent"
        );
        assert_eq!(
            bundle(reader),
            if with_consent { 200 } else { 404 },
            "{kind} with consent"
        );
        if with_consent {
            let b = hub.get(&format!("/fhir/Bundle/{id}"), reader);
            assert_eq!(
                b.json().get("type").and_then(Value::as_str),
                Some("document")
            );
        }
    }
    drop(hub);
    drop_backend(&backend);
}

fn referral_lifecycle(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), None);
    let subs = population(400, 2);
    let referral = subs
        .iter()
        .find(|s| s.file_name.ends_with("referral.json") && indexed(&s.bundle).unwrap_or(0) > 0)
        .expect("a referral with prescriptions in the population");
    // A held referral: registered without consent in the Bundle.
    let mut doc = referral.bundle.clone();
    entries_mut(&mut doc)
        .retain(|e| e.pointer("resource.resourceType").and_then(Value::as_str) != Some("Consent"));
    let body = bytes(&doc);
    let sender = institution_of(&body);
    let dest = referral_destination(&doc);
    assert_ne!(sender, dest);
    let r = hub.submit(&body);
    assert_eq!(r.status, 200, "{}", r.body);
    let doc_id = document_of(&r);
    let listed = hub.get(
        &format!("/fhir/DocumentReference?destination={dest}"),
        &dest,
    );
    assert_eq!(listed.status, 200);
    assert!(
        entry_ids(&listed).contains(&format!("DocumentReference/{doc_id}")),
        "{}",
        listed.body
    );
    assert_eq!(
        hub.get(
            &format!("/fhir/DocumentReference?destination={dest}"),
            &sender
        )
        .status,
        403
    );
    let third = "1311234567";
    assert_eq!(
        hub.get(&format!("/fhir/Bundle/{doc_id}"), third).status,
        404,
        "only sender and addressee"
    );
    // Its prescriptions are not shared while it is held.
    let prescriptions = stored_ids(&r);
    assert!(!prescriptions.is_empty());
    for who in [third, sender.as_str(), dest.as_str()] {
        if who.as_bytes()[2] != b'2' {
            hub.grant(&member_of(&doc), who);
        }
    }
    let meds = |who: &str| {
        entry_ids(&hub.get(
            &format!(
                "/fhir/MedicationRequest?patient.identifier={}&_count=1000",
                enc(&format!("{MEMBER_SYSTEM}|{}", member_of(&doc)))
            ),
            who,
        ))
    };
    assert!(
        meds(third).is_disjoint(&prescriptions),
        "held: hidden from others"
    );
    assert!(
        meds(&sender).is_superset(&prescriptions),
        "the sender sees its own"
    );
    let held = hub.get(&format!("/fhir/Bundle/{doc_id}"), &dest);
    assert_eq!(held.status, 403, "{}", held.body);
    assert!(held.details().contains(&"REFERRAL-HELD".to_string()));
    // The patient consents; the addressee retrieves the Bundle exactly as submitted.
    let member = member_of(&doc);
    let consent = format!("{{\"resourceType\":\"Consent\",\"status\":\"active\",\"provision\":{{\"data\":[{{\"meaning\":\"instance\",\"reference\":{{\"reference\":\"DocumentReference/{doc_id}\"}}}}]}}}}");
    let r = request(
        hub.port,
        "POST",
        "/fhir/Consent",
        &[
            ("X-Clins-Dev-Patient", &enc(&member)),
            ("Content-Type", "application/fhir+json"),
        ],
        consent.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(meds(third).is_superset(&prescriptions), "released: shared");
    let got = hub.get(&format!("/fhir/Bundle/{doc_id}"), &dest);
    assert_eq!(got.status, 200);
    assert_eq!(got.body.as_bytes(), &body[..], "exactly as submitted");
    let dr = hub
        .get(&format!("/fhir/DocumentReference/{doc_id}"), &dest)
        .json();
    let status = dr.get("extension").map(Value::items).unwrap()[0]
        .get("valueCode")
        .and_then(Value::as_str)
        .map(str::to_string);
    assert_eq!(status.as_deref(), Some("retrieved"));
    // Retrieved: no more cancel or change.
    let params = |id: &str, undo: bool| {
        format!("{{\"resourceType\":\"Parameters\",\"parameter\":[{{\"name\":\"identifier\",\"valueString\":\"{id}\"}}{}]}}", if undo { ",{\"name\":\"undo\",\"valueBoolean\":true}" } else { "" })
    };
    let bid = bundle_key(&doc).1;
    assert_eq!(
        hub.post(
            "/fhir/Bundle/$withdraw",
            &sender,
            params(&bid, false).as_bytes()
        )
        .status,
        409
    );
    let mut changed = doc.clone();
    set(
        &mut changed,
        "timestamp",
        Value::string("2026-11-21T09:00:00+09:00"),
    );
    assert_eq!(hub.submit(&bytes(&changed)).status, 409);

    // A second referral: cancel (取消), undo (取消UNDO), change (取消 + 再登録).
    let doc2 = with_bundle_id(&doc, "B");
    let r = hub.submit(&bytes(&doc2));
    assert_eq!(r.status, 200, "{}", r.body);
    let bid2 = bundle_key(&doc2).1;
    let id2 = document_of(&r);
    let r = hub.post(
        "/fhir/Bundle/$withdraw",
        &sender,
        params(&bid2, false).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(hub.get(&format!("/fhir/Bundle/{id2}"), &dest).status, 410);
    let r = hub.post(
        "/fhir/Bundle/$withdraw",
        &sender,
        params(&bid2, true).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let held = hub.get(&format!("/fhir/Bundle/{id2}"), &dest);
    assert_eq!(held.status, 403, "restored as held: {}", held.body);
    let mut doc2b = doc2.clone();
    set(
        &mut doc2b,
        "timestamp",
        Value::string("2026-11-22T09:00:00+09:00"),
    );
    let r = hub.submit(&bytes(&doc2b));
    assert!(
        r.details().contains(&"SUBMIT-REPLACED".to_string()),
        "{}",
        r.body
    );
    let dr = hub
        .get(&format!("/fhir/DocumentReference/{id2}"), &sender)
        .json();
    assert_eq!(
        dr.pointer("meta.versionId").and_then(Value::as_str),
        Some("4")
    );
    drop(hub);
    drop_backend(&backend);
}

/// The document id a `$submit` answer names (`Bundle/<id> DocumentReference/<id>`).
fn document_of(r: &Resp) -> String {
    r.json()
        .get("issue")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find_map(|i| {
            i.get("diagnostics")
                .and_then(Value::as_str)
                .and_then(|d| d.strip_prefix("Bundle/"))
                .map(|d| d.split(' ').next().unwrap_or_default().to_string())
        })
        .unwrap_or_else(|| panic!("no document id in {}", r.body))
}

/// A 退院時サマリー exists only for its author and the addressee of a referral that carries it,
/// and goes as that referral goes: held, released, cancelled.
fn discharge_summary_travels_with_its_referral(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), None);
    let subs = population(400, 2);
    let at = (0..subs.len() - 1)
        .find(|&i| {
            subs[i].file_name.ends_with("-referral.json")
                && subs[i + 1].file_name.ends_with("-discharge.json")
                && subs[i].file_name[..8] == subs[i + 1].file_name[..8]
                && indexed(&subs[i + 1].bundle).unwrap_or(0) > 0
        })
        .expect("a referral carrying a discharge summary with prescriptions");
    // The referral without its recorded consent: held.
    let mut referral = subs[at].bundle.clone();
    entries_mut(&mut referral)
        .retain(|e| e.pointer("resource.resourceType").and_then(Value::as_str) != Some("Consent"));
    let summary = subs[at + 1].bundle.clone();
    let sender = institution_of(&bytes(&referral));
    let dest = referral_destination(&referral);
    let third_owned = subs
        .iter()
        .map(|s| institution_of(&bytes(&s.bundle)))
        .find(|i| *i != sender && *i != dest && i.as_bytes()[2] != b'2')
        .expect("a third institution (not a checkup centre)");
    let third = third_owned.as_str();
    let r = hub.submit(&bytes(&referral));
    assert_eq!(r.status, 200, "{}", r.body);
    let referral_id = document_of(&r);
    let summary_bytes = bytes(&summary);
    let r = hub.submit(&summary_bytes);
    assert_eq!(r.status, 200, "{}", r.body);
    let summary_id = document_of(&r);
    let summary_meds = stored_ids(&r);
    assert!(!summary_meds.is_empty(), "the summary has prescriptions");
    // A second summary that no referral carries.
    let alone = with_bundle_id(&summary, "ALONE");
    let r = hub.submit(&bytes(&alone));
    assert_eq!(r.status, 200, "{}", r.body);
    let alone_id = document_of(&r);

    let listed = |who: &str| {
        entry_ids(&hub.get(
            &format!(
                "/fhir/DocumentReference?patient.identifier={}",
                enc(&format!("{MEMBER_SYSTEM}|{}", member_of(&summary)))
            ),
            who,
        ))
    };
    let summary_ref = format!("DocumentReference/{summary_id}");
    let alone_ref = format!("DocumentReference/{alone_id}");
    assert!(listed(&sender).contains(&summary_ref) && listed(&sender).contains(&alone_ref));
    let for_dest = listed(&dest);
    assert!(for_dest.contains(&summary_ref), "the addressee lists it");
    assert!(!for_dest.contains(&alone_ref), "not carried: not listed");
    let for_third = listed(third);
    assert!(!for_third.contains(&summary_ref) && !for_third.contains(&alone_ref));
    let dr = hub.get(
        &summary_ref.replace("DocumentReference", "/fhir/DocumentReference"),
        &dest,
    );
    assert_eq!(dr.status, 200, "{}", dr.body);
    assert_eq!(
        dr.json()
            .pointer("relatesTo")
            .map(Value::items)
            .unwrap_or_default()[0]
            .pointer("target.reference")
            .and_then(Value::as_str),
        Some(format!("DocumentReference/{referral_id}").as_str()),
        "{}",
        dr.body
    );
    for (who, id, want) in [
        (sender.as_str(), &summary_id, 200),
        (sender.as_str(), &alone_id, 200),
        (third, &summary_id, 404),
        (dest.as_str(), &alone_id, 404),
    ] {
        assert_eq!(
            hub.get(&format!("/fhir/Bundle/{id}"), who).status,
            want,
            "{who} {id}"
        );
    }
    let held = hub.get(&format!("/fhir/Bundle/{summary_id}"), &dest);
    assert_eq!(held.status, 403, "{}", held.body);
    assert!(held.details().contains(&"REFERRAL-HELD".to_string()));
    // Its prescriptions are held with it: only the sender sees them.
    // (Viewing consent goes to institutions that care for patients, not to checkup centres.)
    for who in [third, sender.as_str(), dest.as_str()] {
        if who.as_bytes()[2] != b'2' {
            hub.grant(&member_of(&summary), who);
        }
    }
    let meds = |who: &str| {
        entry_ids(&hub.get(
            &format!(
                "/fhir/MedicationRequest?patient.identifier={}&_count=1000",
                enc(&format!("{MEMBER_SYSTEM}|{}", member_of(&summary)))
            ),
            who,
        ))
    };
    assert!(meds(&sender).is_superset(&summary_meds));
    assert!(
        meds(third).is_disjoint(&summary_meds),
        "held with the referral"
    );
    assert!(
        meds(&dest).is_disjoint(&summary_meds),
        "held with the referral"
    );

    // The patient consents to the referral: the addressee gets the summary as submitted.
    let consent = format!("{{\"resourceType\":\"Consent\",\"status\":\"active\",\"provision\":{{\"data\":[{{\"meaning\":\"instance\",\"reference\":{{\"reference\":\"DocumentReference/{referral_id}\"}}}}]}}}}");
    let r = request(
        hub.port,
        "POST",
        "/fhir/Consent",
        &[
            ("X-Clins-Dev-Patient", &enc(&member_of(&referral))),
            ("Content-Type", "application/fhir+json"),
        ],
        consent.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let got = hub.get(&format!("/fhir/Bundle/{summary_id}"), &dest);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        got.body.as_bytes(),
        &summary_bytes[..],
        "exactly as submitted"
    );
    assert_eq!(
        hub.get(&format!("/fhir/Bundle/{summary_id}"), third).status,
        404
    );
    // Released with the referral, its prescriptions are shared like the referral's.
    assert!(meds(third).is_superset(&summary_meds), "released: shared");

    // The sender cancels the referral: the summary goes with it.
    let withdraw = format!(
        "{{\"resourceType\":\"Parameters\",\"parameter\":[{{\"name\":\"identifier\",\"valueString\":\"{}\"}}]}}",
        bundle_key(&referral).1
    );
    let r = hub.post("/fhir/Bundle/$withdraw", &sender, withdraw.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        hub.get(&format!("/fhir/Bundle/{summary_id}"), &dest).status,
        410
    );
    assert_eq!(
        hub.get(&format!("/fhir/Bundle/{summary_id}"), &sender)
            .status,
        200
    );
    drop(hub);
    drop_backend(&backend);
}

/// The addressee of a referral: the Organization of section 910.
fn referral_destination(doc: &Value) -> String {
    let entries = doc.get("entry").map(Value::items).unwrap_or_default();
    let comp = entries[0].get("resource").unwrap();
    let section = comp
        .get("section")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find(|s| {
            s.pointer("code.coding")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .any(|c| c.get("code").and_then(Value::as_str) == Some("910"))
        })
        .expect("section 910")
        .clone();
    let target = section
        .get("entry")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("reference").and_then(Value::as_str))
        .find_map(|r| {
            entries
                .iter()
                .find(|e| e.get("fullUrl").and_then(Value::as_str) == Some(r))
                .and_then(|e| e.get("resource"))
                .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Organization"))
                .cloned()
        })
        .expect("addressee organization");
    target
        .get("identifier")
        .map(Value::items)
        .unwrap_or_default()
        .iter()
        .find_map(|i| i.get("value").and_then(Value::as_str))
        .unwrap()
        .to_string()
}

fn acknowledged_submissions_survive_sigkill(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let mut hub = Hub::start(&backend, &ig(), None);
    let subs = population(150, 44);
    let port = hub.port;
    let acked = std::sync::Mutex::new(Vec::<usize>::new());
    let mut inflight: Option<usize> = None;
    std::thread::scope(|s| {
        let sender = s.spawn(|| {
            for (i, sub) in subs.iter().enumerate() {
                let body = bytes(&sub.bundle);
                let r = std::panic::catch_unwind(|| submit_to(port, &body));
                match r {
                    Ok(r) if r.status < 300 => acked.lock().unwrap().push(i),
                    _ => return Some(i),
                }
            }
            None
        });
        // Kill after 120 acknowledgements (or when the sender stopped on its own, which the
        // assertions below then report); never wait more than a minute.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while acked.lock().unwrap().len() < 120
            && !sender.is_finished()
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        hub.kill();
        inflight = sender.join().unwrap();
    });
    let acked = acked.into_inner().unwrap();
    assert!(inflight.is_some(), "the kill interrupted the stream");
    let hub = Hub::start(&backend, &ig(), None);
    let mut model: HashMap<(String, String), i64> = HashMap::new();
    for &i in &acked {
        model.insert(
            bundle_key(&subs[i].bundle),
            indexed(&subs[i].bundle).unwrap_or(0),
        );
    }
    let (units, current, _) = hub.counts();
    let expected = model.values().sum::<i64>();
    let f = inflight.unwrap();
    let key = bundle_key(&subs[f].bundle);
    let mut with = model.clone();
    with.insert(key.clone(), indexed(&subs[f].bundle).unwrap_or(0));
    let expected_with = with.values().sum::<i64>();
    assert!(
        (units, current) == (model.len() as i64, expected) || (units, current) == (with.len() as i64, expected_with),
        "every acknowledged unit complete, the interrupted one all or nothing: ({units}, {current}) vs ({}, {expected}) or ({}, {expected_with})",
        model.len(),
        with.len()
    );
    // The last acknowledged version of every unit is stored exactly.
    let mut last: HashMap<(String, String), usize> = HashMap::new();
    for &i in &acked {
        last.insert(bundle_key(&subs[i].bundle), i);
    }
    for (k, i) in last {
        if k == key {
            continue;
        }
        let r = hub.submit(&bytes(&subs[i].bundle));
        let d = r.details();
        assert!(
            d.contains(&"SUBMIT-UNCHANGED".to_string())
                || d.contains(&"SUBMIT-NOTHING-TO-DELETE".to_string()),
            "{} was acknowledged but is not stored as sent: {}",
            subs[i].file_name,
            r.body
        );
    }
    drop(hub);
    drop_backend(&backend);
}

fn official_fixtures(kind: &str) {
    let shared = shared_or_skip!();
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &common::ig_dirs(&shared), None);
    let v = common::jp_validator(&shared);
    let mut accepted = 0;
    for dir in [
        "fixtures/jp-clins/clinical-core",
        "fixtures/jp-clins/eCheckupReport",
        "fixtures/jp-clins/eReferral",
    ] {
        for f in common::json_files(&shared.join(dir)) {
            let body = common::read(&f);
            let Ok(value) = fhir::json::parse_bytes(&body) else {
                continue;
            };
            if value.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                continue;
            }
            let submission = clins::kind::detect(&value).is_clins_submission();
            let valid = common::errors(&v.validate(&value)).is_empty();
            let before = hub.counts();
            let r = hub.submit(&body);
            if submission && valid {
                assert!(
                    r.status < 300,
                    "{} should be accepted: {}",
                    f.display(),
                    r.body
                );
                accepted += 1;
            } else {
                assert!(
                    r.status >= 400 && r.status < 500,
                    "{} should be refused: {}",
                    f.display(),
                    r.body
                );
                assert_eq!(hub.counts(), before, "{}", f.display());
            }
        }
    }
    assert!(accepted >= 2, "{accepted}");
    drop(hub);
    drop_backend(&backend);
}

fn graceful_shutdown(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let mut hub = Hub::start(&backend, &[], None);
    let subs = population(5, 3);
    // A request in flight when SIGTERM arrives is still answered.
    let port = hub.port;
    let body = bytes(&subs[0].bundle);
    let inflight = std::thread::spawn(move || submit_to(port, &body).status);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let status = hub.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let answered = inflight.join().unwrap_or(0);
    assert!(
        answered == 200 || answered == 0,
        "either answered or never accepted: {answered}"
    );
    drop_backend(&backend);
}

/// Backpressure: beyond `--max-in-flight` a request is refused at once (503 `OVERLOADED` with
/// `Retry-After`), health probes still answer, and a client that stops sending its body holds
/// its place only until the body's pause limit (408 `BODY-TIMEOUT`); then requests pass again
/// and nothing was stored.
fn overload_is_refused_at_once_and_slow_bodies_end(kind: &str) {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start_with(&backend, &[], None, &["--max-in-flight", "2"]);
    let subs = population(3, 1);
    let body = bytes(&subs[0].bundle);
    let inst = institution_of(&body);
    register(hub.port, &inst);
    // Two submissions whose bodies stop half-way: both places taken.
    let stalled: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
            write!(
                s,
                "POST /fhir/Bundle/$submit HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Clins-Dev-Institution: {inst}\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .unwrap();
            s.write_all(&body[..body.len() / 2]).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let r = hub.get("/fhir/metadata", &inst);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.details().contains(&"OVERLOADED".to_string()),
        "{}",
        r.body
    );
    let r = request(
        hub.port,
        "GET",
        "/fhir/metadata",
        &[("X-Clins-Dev-Institution", &inst)],
        b"",
    );
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("retry-after") && v == "1"),
        "{:?}",
        r.headers
    );
    // Probes and metrics are never refused.
    assert_eq!(hub.get("/health/live", &inst).status, 200);
    let m = hub.get("/metrics", &inst);
    assert_eq!(m.status, 200);
    assert!(
        m.body.contains("clins_http_overloaded_total 2"),
        "{}",
        m.body
    );
    // The stalled bodies end with 408 after the pause limit (10 s), and nothing is stored.
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.starts_with("HTTP/1.1 408"),
            "{}",
            &out[..out.len().min(400)]
        );
        assert!(out.contains("BODY-TIMEOUT"), "{out}");
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    // The places are free again.
    assert_eq!(hub.get("/fhir/metadata", &inst).status, 200);
    let r = hub.post("/fhir/Bundle/$submit", &inst, &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("SUBMIT-CREATED"),
        "stored now, not before: {}",
        r.body
    );
    drop(hub);
    drop_backend(&backend);
}
both!(overload_is_refused_at_once_and_slow_bodies_end);

/// `clins-hub backup` while the hub serves submissions, then `restore` into a new folder: a
/// hub on the restored store answers with what was acknowledged before the backup, the trail
/// verifies, and a tampered generation is refused.
#[test]
fn online_backup_and_restore() {
    use std::process::Command;
    let Some(backend) = fresh("sqlite") else {
        return;
    };
    let Backend::Sqlite(data) = &backend else {
        return;
    };
    let hub = Hub::start(&backend, &[], None);
    let subs = population(12, 4);
    let half = subs.len() / 2;
    for s in &subs[..half] {
        let r = hub.submit(&bytes(&s.bundle));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let work = data.with_extension("backups");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let key = work.join("key");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let path = |p: &std::path::Path| p.display().to_string();
    assert!(run(&["backup-key", "--out", &path(&key)]).0);
    // The rest is submitted while the backup runs.
    let port = hub.port;
    let rest: Vec<Vec<u8>> = subs[half..].iter().map(|s| bytes(&s.bundle)).collect();
    let writer = std::thread::spawn(move || {
        rest.iter()
            .map(|b| submit_to(port, b).status)
            .collect::<Vec<_>>()
    });
    let (ok, out) = run(&[
        "backup",
        "--data",
        &path(data),
        "--to",
        &path(&work.join("b")),
        "--key",
        &path(&key),
    ]);
    assert!(ok, "{out}");
    assert!(writer.join().unwrap().iter().all(|s| *s == 200));
    let generation = out
        .lines()
        .find_map(|l| l.strip_prefix("backup written: "))
        .expect("the generation is named")
        .to_string();
    let (ok, out) = run(&[
        "restore",
        "--from",
        &generation,
        "--key",
        &path(&key),
        "--verify-only",
    ]);
    assert!(ok && out.contains("verified"), "{out}");
    let restored = work.join("restored");
    let (ok, out) = run(&[
        "restore",
        "--from",
        &generation,
        "--key",
        &path(&key),
        "--data",
        &path(&restored),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["audit", "verify", "--data", &path(&restored)]);
    assert!(ok && out.contains("intact"), "{out}");
    // A hub on the restored store: everything acknowledged before the backup began is there.
    let back = Backend::Sqlite(restored.clone());
    let hub2 = Hub::start(&back, &[], None);
    for s in &subs[..half] {
        let r = hub2.submit(&bytes(&s.bundle));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body.contains("SUBMIT-UNCHANGED"),
            "already stored: {}",
            r.body
        );
    }
    drop(hub2);
    // Tampered: refused, nothing written.
    let enc = std::path::Path::new(&generation).join("clins.sqlite.enc");
    let _ = Command::new("chmod")
        .args(["-R", "u+w", &generation])
        .status();
    let mut b = std::fs::read(&enc).unwrap();
    let at = b.len() - 100;
    b[at] ^= 1;
    std::fs::write(&enc, b).unwrap();
    let (ok, out) = run(&[
        "restore",
        "--from",
        &generation,
        "--key",
        &path(&key),
        "--verify-only",
    ]);
    assert!(!ok && out.contains("does not decrypt"), "{out}");
    drop(hub);
    let _ = Command::new("chmod")
        .args(["-R", "u+w", &path(&work)])
        .status();
    let _ = std::fs::remove_dir_all(&work);
    drop_backend(&backend);
}

/// A damaged page of the embedded store is found at start: `serve` refuses to start and says
/// which file and what to do (restore a backup); `--skip-integrity-check` is the way around.
#[test]
fn a_damaged_store_is_refused_at_start() {
    use std::io::{Seek, SeekFrom, Write};
    use std::process::Command;
    let Some(backend) = fresh("sqlite") else {
        return;
    };
    let Backend::Sqlite(data) = &backend else {
        return;
    };
    let mut hub = Hub::start(&backend, &[], None);
    for s in &population(20, 5) {
        assert_eq!(hub.submit(&bytes(&s.bundle)).status, 200);
    }
    assert!(hub.terminate().success());
    // A page in the middle of the data file overwritten (a disk that returned garbage).
    let file = data.join("clins.sqlite");
    let pages = std::fs::metadata(&file).unwrap().len() / 4096;
    assert!(pages > 8, "{pages} pages");
    let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.seek(SeekFrom::Start(pages / 2 * 4096)).unwrap();
    f.write_all(&[0xA5; 4096]).unwrap();
    drop(f);
    let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args([
            "serve",
            "--data",
            &data.display().to_string(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("CLINS_QUIET", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("clins.sqlite") && err.contains("damaged"),
        "{err}"
    );
    assert!(err.contains("clins-hub restore"), "{err}");
    assert!(!err.contains("listening"), "{err}");
    eprintln!("refused as expected: {}", err.trim());
    drop_backend(&backend);
}

/// The embedded store's disk fills up (a small tmpfs): submissions are refused with 507
/// `STORE-FULL` and nothing half-stored; once there is space again, the refused ones are
/// accepted, the accepted ones are still there, the trail verifies and the store passes the
/// start's integrity check. Needs `mount` (root); says so when it cannot mount.
#[test]
fn a_full_disk_refuses_cleanly_and_recovers() {
    use std::process::Command;
    let mnt = std::env::temp_dir().join(format!("clins_full_{}", std::process::id()));
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        let _ = std::fs::remove_dir(&mnt);
        println!("skipped: cannot mount a small tmpfs (needs root)");
        eprintln!("skipped: cannot mount a small tmpfs (needs root)");
        return;
    }
    let unmount = |m: &std::path::Path| {
        let _ = Command::new("umount").arg(m).status();
        let _ = std::fs::remove_dir(m);
    };
    let backend = Backend::Sqlite(mnt.join("data"));
    let mut hub = Hub::start(&backend, &[], None);
    let subs = population(400, 6);
    let all: Vec<Vec<u8>> = subs.iter().map(|s| bytes(&s.bundle)).collect();
    // Institutions first: the registry is written before the disk is full.
    for b in &all {
        register(hub.port, &institution_of(b));
    }
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for (i, b) in all.iter().enumerate() {
        let r = submit_to(hub.port, b);
        match r.status {
            200 => accepted.push(i),
            507 => {
                assert!(
                    r.details().contains(&"STORE-FULL".to_string()),
                    "{}",
                    r.body
                );
                refused.push(i);
            }
            other => panic!("submission {i}: {other} {}", r.body),
        }
    }
    assert!(
        !accepted.is_empty() && refused.len() > 10,
        "{} accepted, {} refused",
        accepted.len(),
        refused.len()
    );
    // Reads still work while full.
    assert_eq!(hub.get("/health/live", "").status, 200);
    // Space again.
    assert!(Command::new("mount")
        .args(["-o", "remount,size=256m"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success());
    for &i in &refused {
        let r = submit_to(hub.port, &all[i]);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for &i in accepted.iter().take(50) {
        let r = submit_to(hub.port, &all[i]);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            !r.body.contains("SUBMIT-CREATED"),
            "stored before: {}",
            r.body
        );
    }
    assert!(hub.terminate().success());
    let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(["audit", "verify"])
        .args(backend_args(&backend))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("intact"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Starts again (the integrity check passes).
    let again = Hub::start(&backend, &[], None);
    assert_eq!(again.get("/health/ready", "").status, 200);
    drop(again);
    unmount(&mnt);
}

/// Several hub nodes on one PostgreSQL database purge one at a time: while another session
/// holds the purge lock, `clins-hub purge` does nothing (and records no purge); then it runs.
#[test]
fn purges_run_one_at_a_time_on_postgres() {
    use std::process::Command;
    let Some(backend) = fresh("postgres") else {
        return;
    };
    let Backend::Postgres(url) = &backend else {
        return;
    };
    // The schema exists once a hub has started.
    let mut hub = Hub::start(&backend, &[], None);
    assert!(hub.terminate().success());
    let purge = || {
        let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
            .args(["purge", "--database", url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let mut other = postgres::Client::connect(url, postgres::NoTls).expect("a second session");
    let purges = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM audit_log WHERE action = 'purge'", &[])
            .unwrap()
            .get(0)
    };
    other
        .batch_execute(&format!("SELECT pg_advisory_lock({})", store::PURGE_LOCK))
        .unwrap();
    let out = purge();
    assert!(out.contains("skipped"), "{out}");
    assert_eq!(purges(&mut other), 0);
    other
        .batch_execute(&format!("SELECT pg_advisory_unlock({})", store::PURGE_LOCK))
        .unwrap();
    let out = purge();
    assert!(out.starts_with("purged"), "{out}");
    assert_eq!(purges(&mut other), 1);
    drop(other);
    drop_backend(&backend);
}

/// A rolling restart: after SIGTERM with `--drain-delay`, `/health/ready` answers 503
/// `DRAINING` at once while requests are still served, then the node stops cleanly.
fn a_stopping_node_turns_unready_and_still_serves(kind: &str) {
    use std::time::{Duration, Instant};
    let Some(backend) = fresh(kind) else { return };
    let mut hub = Hub::start_with(&backend, &[], None, &["--drain-delay", "3"]);
    let subs = population(2, 1);
    let body = bytes(&subs[0].bundle);
    assert_eq!(hub.get("/health/ready", "").status, 200);
    let started = Instant::now();
    hub.signal_term();
    std::thread::sleep(Duration::from_millis(300));
    let r = hub.get("/health/ready", "");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.details().contains(&"DRAINING".to_string()), "{}", r.body);
    assert_eq!(hub.get("/health/live", "").status, 200);
    let r = submit_to(hub.port, &body);
    assert_eq!(r.status, 200, "still serving while draining: {}", r.body);
    let status = hub.terminate();
    assert!(status.success(), "{status:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(20),
        "{took:?}"
    );
    // What was accepted while draining is stored.
    let again = Hub::start(&backend, &[], None);
    let r = submit_to(again.port, &body);
    assert!(r.body.contains("SUBMIT-UNCHANGED"), "{}", r.body);
    drop(again);
    drop_backend(&backend);
}
both!(a_stopping_node_turns_unready_and_still_serves);
