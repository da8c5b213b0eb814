//! How fast `clins-hub audit verify` checks a chain, and how many bytes a record takes
//! (docs/benchmarks.md, "Audit trail"). Builds a chain of N typical records in a fresh store
//! (embedded SQLite in a temporary folder, or `--database URL`), signs a checkpoint, then times
//! the verification.
//!
//! ```text
//! cargo run --release -p clins-hub --example audit_verify -- [N] [--database URL]
//! ```

use std::time::Instant;

// The allocator of the clins-hub binary, so that this measures what `audit verify` does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: i64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let database = args
        .iter()
        .position(|a| a == "--database")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let dir = std::env::temp_dir().join(format!("clins-audit-bench-{}", std::process::id()));
    let store = match &database {
        Some(url) => store::Store::open_postgres(url, 2).expect("open PostgreSQL"),
        None => store::Store::open_sqlite(&dir).expect("open the store"),
    };
    // As the serving hub: records go through the journal into audit.sqlite.
    store
        .start_audit_journal(store::Durability::Flush)
        .expect("the audit journal");
    let auth = app::auth::Authority::load(&store, "", std::time::Duration::from_secs(1))
        .expect("the hub's key");
    let t = Instant::now();
    let mut seq = 0i64;
    while seq < n {
        let batch: Vec<store::AuditRow> = (0..10_000.min(n - seq))
            .map(|i| {
                let k = seq + i;
                store::AuditRow {
                    at: store::format_utc_millis(1_795_000_000_000 + k * 37),
                    action: "summary".into(),
                    outcome: "0".into(),
                    status: 200,
                    member_id: format!("0613{:04}:1:{}:", k % 9973, k % 100_003),
                    institution: format!("13{:08}", 10_000_000 + k % 4999),
                    practitioner: if k % 7 == 0 {
                        format!("dr-{}", k % 311)
                    } else {
                        String::new()
                    },
                    role: "hospital".into(),
                    purpose: "TREAT".into(),
                    basis: "consent".into(),
                    items: "allergy,condition,lab,prescription".into(),
                    request: "GET /fhir/Patient/$summary".into(),
                    ..Default::default()
                }
            })
            .collect();
        seq += batch.len() as i64;
        store.append_audit(batch, app::audit::hash).expect("append");
    }
    let built = t.elapsed().as_secs_f64();
    app::audit::checkpoint(&store, auth.signing_key(), &store::now_utc(), None)
        .expect("checkpoint");
    store.checkpoint();
    let t = Instant::now();
    let v =
        app::audit::verify(&store, &auth.signing_key().public_key(), &[], |_| {}).expect("verify");
    let secs = t.elapsed().as_secs_f64();
    assert!(v.broken.is_none(), "{:?}", v.broken);
    assert_eq!(v.records, n);
    // The audit database file itself (its write-ahead log is transient): the table and its
    // two indexes (by patient and by institution).
    let bytes = std::fs::metadata(dir.join("audit.sqlite")).map_or(0, |m| m.len());
    println!(
        "{n} records appended in {built:.1} s; verified in {secs:.2} s: {:.0} records/s{}",
        n as f64 / secs,
        if database.is_none() {
            format!(
                "; database file {:.1} MB, {:.0} bytes per record",
                bytes as f64 / 1e6,
                bytes as f64 / n as f64
            )
        } else {
            String::new()
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
}
