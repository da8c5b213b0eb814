//! The audit trail: the patient's access history (the facility, never the individual; nobody
//! else's), the database refusing to change the log, `clins-hub audit verify` on an intact
//! trail and on copies tampered with in every way (edit, delete, reorder, insert with the chain
//! recomputed, truncation, rollback to an earlier checkpoint, a forged checkpoint).

use std::process::Command;

use fhir::json::{self, Value};

use crate::harness::*;

const NOW: &str = "2026-11-20T03:00:00.000Z";

fn cli(backend: &Backend, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(args)
        .args(backend_args(backend))
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs SQL on the backend with the audit triggers out of the way (as someone with full access
/// to the database would), or with them in place when `guarded`.
fn sql(backend: &Backend, statements: &[String], guarded: bool) -> Result<(), String> {
    match backend {
        Backend::Sqlite(dir) => {
            let c =
                rusqlite::Connection::open(dir.join("audit.sqlite")).map_err(|e| e.to_string())?;
            if !guarded {
                for t in ["audit_log", "audit_checkpoints"] {
                    c.execute_batch(&format!(
                        "DROP TRIGGER IF EXISTS {t}_no_update; DROP TRIGGER IF EXISTS {t}_no_delete;"
                    ))
                    .map_err(|e| e.to_string())?;
                }
            }
            for s in statements {
                c.execute_batch(s).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Backend::Postgres(url) => {
            let mut c =
                postgres::Client::connect(url, postgres::NoTls).map_err(|e| e.to_string())?;
            if !guarded {
                c.batch_execute("SET session_replication_role = replica")
                    .map_err(|e| e.to_string())?;
            }
            for s in statements {
                c.batch_execute(s).map_err(|e| {
                    format!(
                        "{e}: {}",
                        e.as_db_error()
                            .map_or(String::new(), |d| d.message().to_string())
                    )
                })?;
            }
            Ok(())
        }
    }
}

/// The audit rows (seq, every field) of a backend, for recomputing a forged chain.
fn rows(backend: &Backend) -> Vec<store::AuditRow> {
    let store = match backend {
        Backend::Sqlite(dir) => store::Store::open_sqlite(dir).unwrap(),
        Backend::Postgres(url) => store::Store::open_postgres(url, 1).unwrap(),
    };
    store.audit_page(store::TRAIL, 0, 1_000_000).unwrap()
}

fn copy(backend: &Backend, name: &str) -> Backend {
    match backend {
        Backend::Sqlite(dir) => {
            let to = dir.with_file_name(format!(
                "{}-{name}",
                dir.file_name().unwrap().to_string_lossy()
            ));
            let _ = std::fs::remove_dir_all(&to);
            std::fs::create_dir_all(&to).unwrap();
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                match std::fs::copy(e.path(), to.join(e.file_name())) {
                    Ok(_) => {}
                    // A database's `-wal`/`-shm` file removed as its last connection closed,
                    // between the listing and the copy: nothing of it is needed.
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => panic!("copying {}: {err}", e.path().display()),
                }
            }
            Backend::Sqlite(to)
        }
        Backend::Postgres(url) => {
            let db = url.rsplit('/').next().unwrap();
            let copy = format!("{db}_{name}");
            let mut admin = postgres::Client::connect(
                "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                postgres::NoTls,
            )
            .unwrap();
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {copy}"))
                .unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {copy} TEMPLATE {db}"))
                .unwrap();
            Backend::Postgres(url.replace(db, &copy))
        }
    }
}

fn secret_of_suite(list: &[&str]) {
    for s in list {
        secret(s);
    }
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn audit_trail(kind: &str, ig: &[std::path::PathBuf]) {
    let Some(backend) = fresh(kind) else { return };
    let anchor = temp(&format!("anchor-{}.tsv", store::random_id()));
    let anchor_arg = anchor.to_string_lossy().into_owned();
    let mut hub = Hub::start_with(&backend, ig, Some(NOW), &["--audit-anchor", &anchor_arg]);
    let port = hub.port;
    let subs = crate::population(1, 7);
    for s in &subs {
        assert_eq!(submit_to(port, &crate::bytes(&s.bundle)).status, 200);
    }
    let member = member_of(&subs[0].bundle);
    for (n, k) in [
        ("1312000001", "hospital"),
        ("1312000002", "hospital"),
        ("1312000003", "hospital"),
    ] {
        register_as(port, n, k);
    }
    hub.grant(&member, "1312000001");
    let path = summary_path(&member);
    let r = request(
        port,
        "GET",
        &path,
        &[("X-Clins-Dev-Institution", "1312000001")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let er = [
        ("X-Clins-Dev-Institution", "1312000002"),
        ("X-Clins-Dev-Practitioner", "er-doctor-7;emergency;2fa"),
        ("X-Clins-Purpose-Of-Use", "ETREAT"),
    ];
    let r = request(port, "GET", &path, &er, b"");
    assert_eq!(r.status, 200, "emergency: {}", r.body);
    let r = request(
        port,
        "GET",
        &path,
        &[("X-Clins-Dev-Institution", "1312000003")],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);

    // The patient's history: the facilities and times, the emergency one marked, never the
    // doctor; not the refused request.
    let me = [("X-Clins-Dev-Patient", enc(&member))];
    let me: Vec<(&str, &str)> = me.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = request(port, "GET", "/fhir/AuditEvent", &me, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let events: Vec<Value> = r
        .entries()
        .iter()
        .filter_map(|e| e.get("resource").cloned())
        .collect();
    let text = r.body.clone();
    assert!(
        text.contains("テスト機関 1312000001"),
        "the facility's name: {text}"
    );
    assert!(text.contains("テスト機関 1312000002"));
    assert!(
        !text.contains("1312000003"),
        "a refused request is not an access"
    );
    assert!(!text.contains("er-doctor-7"), "never the individual");
    assert!(text.contains("ETREAT"), "the emergency access stands out");
    assert!(
        text.contains(r#""code":"emergency""#) && text.contains("access-method"),
        "marked as emergency access: {text}"
    );
    assert!(
        text.contains(r#""valueString":"consent""#),
        "the method: consent"
    );
    let summaries = events
        .iter()
        .filter(|e| json::to_string(e).contains("1312000001"))
        .count();
    assert_eq!(summaries, 1, "one record of the consented read");
    for e in &events {
        assert_eq!(
            e.get("resourceType").and_then(Value::as_str),
            Some("AuditEvent")
        );
        assert!(e.get("recorded").is_some() && e.get("agent").is_some());
    }
    // Nobody else's history: another patient (404, as for what does not exist), an
    // institution (403); the operator sees the individual.
    let other = [("X-Clins-Dev-Patient", enc("06139999:1:99999:"))];
    let other: Vec<(&str, &str)> = other.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let asked = format!("/fhir/AuditEvent?patient={}", enc(&member));
    assert_eq!(request(port, "GET", &asked, &other, b"").status, 404);
    assert_eq!(
        request(
            port,
            "GET",
            &asked,
            &[("X-Clins-Dev-Institution", "1312000001")],
            b""
        )
        .status,
        403
    );
    let r = request(
        port,
        "GET",
        &asked,
        &[("X-Clins-Dev-Role", "operator")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("er-doctor-7"),
        "the operator sees who: {}",
        r.body
    );

    // The operator's queries: per institution, and what to review.
    let op = [("X-Clins-Dev-Role", "operator")];
    let r = request(port, "GET", "/admin/audit?institution=1312000002", &op, b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("er-doctor-7") && r.body.contains("ETREAT"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("1312000001"),
        "only that institution: {}",
        r.body
    );
    let r = request(
        port,
        "GET",
        "/admin/audit/unusual?emergency=0&patients=5",
        &op,
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let findings = json::parse(&r.body).unwrap();
    assert!(
        findings
            .items()
            .iter()
            .any(
                |f| f.get("rule").and_then(Value::as_str) == Some("emergency-use")
                    && f.get("practitioner").and_then(Value::as_str) == Some("er-doctor-7")
            ),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("many-patients"),
        "one patient is not many: {}",
        r.body
    );
    assert_eq!(
        request(
            port,
            "GET",
            "/admin/audit",
            &[("X-Clins-Dev-Institution", "1312000002")],
            b""
        )
        .status,
        403,
        "an institution without a staff administrator's session"
    );
    // A staff administrator of 1312000002 reads its own staff's accesses, not others'.
    let r = request(
        port,
        "POST",
        "/auth/staff",
        &[
            ("X-Clins-Dev-Role", "operator"),
            ("Content-Type", "application/json"),
        ],
        br#"{"institution":"1312000002","login":"adm","name":"adm","admin":true}"#,
    );
    let code = r
        .json()
        .get("activation_code")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let r = request(
        port,
        "POST",
        "/auth/activate",
        &[("Content-Type", "application/json")],
        format!(r#"{{"kind":"staff","institution":"1312000002","login":"adm","code":"{code}","password":"an administrator's passphrase"}}"#).as_bytes(),
    );
    let secret = r
        .json()
        .get("totp_secret")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let step = app::auth::secrets::totp_step(app::dates::instant_millis(NOW).unwrap() / 1000);
    let totp = app::auth::secrets::totp_code(&secret, step, 6).unwrap();
    let r = request(
        port,
        "POST",
        "/auth/login",
        &[("Content-Type", "application/json")],
        format!(r#"{{"kind":"staff","institution":"1312000002","login":"adm","password":"an administrator's passphrase","totp":"{totp}"}}"#).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    secret_of_suite(&[&code, &secret, cookie.split('=').nth(1).unwrap()]);
    let r = request(port, "GET", "/admin/audit", &[("Cookie", &cookie)], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("er-doctor-7"), "its own staff: {}", r.body);
    let r = request(
        port,
        "GET",
        "/admin/audit?institution=1312000001",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(r.status, 403, "another institution's: {}", r.body);

    // The operator's commands are recorded too (without the database URL).
    let (ok, out) = cli(&backend, &["institutions", "disable", "1312000003"]);
    assert!(ok, "{out}");
    let r = request(port, "GET", "/admin/audit?_count=5", &op, b"");
    assert!(
        r.body.contains("institutions disable 1312000003") && !r.body.contains("postgres://"),
        "{}",
        r.body
    );

    // Checkpoints: one now, more records, and the last at shutdown.
    let (ok, out) = cli(&backend, &["audit", "checkpoint", "--anchor", &anchor_arg]);
    assert!(ok, "{out}");
    let first_checkpoint: i64 = out
        .split("chain trail: checkpoint at record ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    for _ in 0..5 {
        request(
            port,
            "GET",
            &path,
            &[("X-Clins-Dev-Institution", "1312000001")],
            b"",
        );
    }
    hub.terminate();
    let total = rows(&backend).len() as i64;
    assert!(total > first_checkpoint + 4, "{total} records");

    // The database refuses to change the log.
    for s in [
        "UPDATE audit_log SET items = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_checkpoints",
    ] {
        let e = sql(&backend, &[s.to_string()], true).expect_err(s);
        assert!(e.contains("append-only"), "{s}: {e}");
    }
    if let Backend::Postgres(_) = &backend {
        let e = sql(&backend, &["TRUNCATE audit_log".to_string()], true).unwrap_err();
        assert!(e.contains("append-only"), "{e}");
    }
    // The month's usage per institution.
    let (ok, out) = cli(
        &backend,
        &["audit", "report", "--month", "2026-11", "--format", "json"],
    );
    assert!(ok, "{out}");
    let report = json::parse(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let of = |n: &str| {
        report
            .get("institutions")
            .map(Value::items)
            .unwrap_or_default()
            .iter()
            .find(|u| u.get("institution").and_then(Value::as_str) == Some(n))
            .cloned()
            .unwrap_or_else(|| panic!("{n} in {out}"))
    };
    let int = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_number)
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    let a = of("1312000001");
    assert_eq!(int(&a, "views"), 6, "one summary, then five: {a:?}");
    assert_eq!(int(&a, "consents"), 1);
    assert_eq!(
        a.get("name").and_then(Value::as_str),
        Some("テスト機関 1312000001")
    );
    let b = of("1312000002");
    assert_eq!((int(&b, "views"), int(&b, "emergency")), (1, 1));
    assert_eq!(int(&of("1312000003"), "refused"), 1);
    let submitter = institution_of(&crate::bytes(&subs[0].bundle));
    let s = of(&submitter);
    assert!(json::to_string(&s).contains("submissions"), "{s:?}");
    let (ok, csv) = cli(&backend, &["audit", "report", "--month", "2026-11"]);
    assert!(
        ok && csv.starts_with("institution,name,submissions"),
        "{csv}"
    );
    assert!(
        csv.contains("1312000002,\"テスト機関 1312000002\",0,\"\",1,1,0,0,2"),
        "{csv}"
    );

    // Intact.
    let (ok, out) = cli(&backend, &["audit", "verify", "--anchor", &anchor_arg]);
    assert!(ok && out.contains("intact"), "{out}");

    // Tampered copies.
    let last = total;
    let before_last_cp = first_checkpoint;
    let mut cases: Vec<(&str, Vec<String>, i64)> = vec![
        (
            "edit",
            vec!["UPDATE audit_log SET items = 'forged' WHERE seq = 3".into()],
            3,
        ),
        (
            "delete",
            vec!["DELETE FROM audit_log WHERE seq = 3".into()],
            3,
        ),
        (
            "reorder",
            vec![
                "UPDATE audit_log SET seq = -3 WHERE seq = 3".into(),
                "UPDATE audit_log SET seq = 3 WHERE seq = 4".into(),
                "UPDATE audit_log SET seq = 4 WHERE seq = -3".into(),
            ],
            3,
        ),
        (
            "truncate",
            vec![format!("DELETE FROM audit_log WHERE seq > {}", last - 2)],
            last - 1,
        ),
        (
            "rollback",
            vec![
                format!("DELETE FROM audit_log WHERE seq > {before_last_cp}"),
                format!("DELETE FROM audit_checkpoints WHERE seq > {before_last_cp}"),
            ],
            before_last_cp + 1,
        ),
        (
            "forged checkpoint",
            vec![format!(
                "UPDATE audit_checkpoints SET signature = 'AAAA' WHERE seq = {before_last_cp}"
            )],
            before_last_cp,
        ),
    ];
    // Insertion with the whole chain recomputed after it (no key is needed for that): only the
    // signed checkpoints can show it, at the first checkpoint after the insertion.
    let mut forged = rows(&backend);
    let mut inserted = forged[1].clone();
    inserted.institution = "1312000099".into();
    forged.insert(2, inserted);
    let mut prev = forged[1].hash.clone();
    let mut rewrite = vec!["DELETE FROM audit_log WHERE seq >= 3".to_string()];
    for (i, r) in forged.iter_mut().enumerate().skip(2) {
        r.seq = i as i64 + 1;
        r.prev = prev.clone();
        r.hash = app::audit::hash(&r.prev, r);
        prev = r.hash.clone();
        rewrite.push(format!(
            "INSERT INTO audit_log (seq, at, action, outcome, status, member_id, institution, practitioner, client, role, purpose, basis, items, request, detail, prev, hash) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            r.seq, q(&r.at), q(&r.action), q(&r.outcome), r.status, q(&r.member_id), q(&r.institution),
            q(&r.practitioner), q(&r.client), q(&r.role), q(&r.purpose), q(&r.basis), q(&r.items),
            q(&r.request), q(&r.detail), q(&r.prev), q(&r.hash)
        ));
    }
    cases.push(("insert, chain recomputed", rewrite, first_checkpoint));
    for (name, statements, at) in cases {
        let c = copy(&backend, &name.replace([' ', ','], "_"));
        sql(&c, &statements, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (ok, out) = cli(&c, &["audit", "verify", "--anchor", &anchor_arg]);
        assert!(!ok, "{name}: detected: {out}");
        assert!(
            out.contains(&format!("`trail` BROKEN at record {at}:")),
            "{name}: names record {at}: {out}"
        );
        drop_backend(&c);
    }
    let _ = std::fs::remove_file(&anchor);
    drop_backend(&backend);
}

/// SIGKILL during a mixed load of submissions and reads: after a restart, every request that
/// was answered (2xx or 4xx) has its record, and the chain verifies.
pub fn audit_survives_sigkill(kind: &str, ig: &[std::path::PathBuf]) {
    let Some(backend) = fresh(kind) else { return };
    let mut hub = Hub::start(&backend, ig, Some(NOW));
    let port = hub.port;
    let subs = crate::population(80, 45);
    let member = member_of(&subs[0].bundle);
    register_as(port, "1312000001", "hospital");
    hub.grant(&member, "1312000001");
    let base = hub.audit_records();
    let answered = std::sync::atomic::AtomicI64::new(0);
    let path = summary_path(&member);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for sub in &subs {
                let body = crate::bytes(&sub.bundle);
                match std::panic::catch_unwind(|| submit_to(port, &body)) {
                    Ok(r) if r.status > 0 && r.status < 500 => {
                        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    _ => return,
                }
            }
        });
        let readers: Vec<_> = (0..3)
            .map(|i| {
                let (answered, path) = (&answered, &path);
                s.spawn(move || {
                    // Consented reads, and refused ones (an institution without consent).
                    let inst = if i == 2 { "1312000009" } else { "1312000001" };
                    loop {
                        let r = std::panic::catch_unwind(|| {
                            request(port, "GET", path, &[("X-Clins-Dev-Institution", inst)], b"")
                        });
                        match r {
                            Ok(r) if r.status > 0 && r.status < 500 => {
                                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            _ => return,
                        }
                    }
                })
            })
            .collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while answered.load(std::sync::atomic::Ordering::SeqCst) < 150
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        hub.kill();
        let _ = writer.join();
        for r in readers {
            let _ = r.join();
        }
    });
    let answered = answered.into_inner();
    assert!(answered >= 150, "the load ran: {answered}");
    let hub = Hub::start(&backend, ig, Some(NOW));
    let recorded = hub.audit_records() - base;
    assert!(
        recorded >= answered,
        "every answered request has its record: {recorded} records for {answered} answers"
    );
    drop(hub);
    let (ok, out) = cli(&backend, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    drop_backend(&backend);
}
