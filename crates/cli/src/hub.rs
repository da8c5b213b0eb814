//! `clins-hub serve`, `clins-hub demo` and `clins-hub import`: the hub over the embedded store
//! or PostgreSQL, and bulk submission through the same validation and storage path as
//! `$submit`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use conformance::{Definitions, SearchIndexer};
use server::{Clock, Hub};
use store::Store;

use crate::pipeline::{ig_dirs, validator_for};

/// Where the data lives: `--database postgres://…` or the embedded store in `--data DIR`.
pub struct StoreArgs {
    pub data: PathBuf,
    pub database: Option<String>,
    /// Most PostgreSQL connections open at a time.
    pub connections: usize,
}

pub fn open_store(a: &StoreArgs) -> Result<Store, String> {
    match &a.database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Store::open_postgres(url, a.connections).map_err(|e| format!("cannot open {}: {e}", redact(url)))
        }
        Some(other) => Err(format!(
            "--database must be a postgres:// URL (got `{}`); without it the embedded store in --data is used",
            redact(other)
        )),
        None => Store::open_sqlite(&a.data)
            .map_err(|e| format!("cannot open the store in {}: {e}", a.data.display())),
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// How long a registry entry is cached by a running hub: a change made with the command line
/// (another process) takes effect within this time.
pub const REGISTRY_CACHE: std::time::Duration = std::time::Duration::from_secs(30);

/// The registry entry of a synthetic institution or insurer: (number, kind). 国保 numbers
/// are 6 digits; a 被保険者個人識別子 (and so the registry) writes them padded to 8 with `00`.
pub fn registry_entry(inst: &synth::Institution) -> (String, &'static str) {
    use synth::tables::InstitutionKind as K;
    let kind = match inst.kind {
        K::Hospital => "hospital",
        K::Clinic => "clinic",
        K::Dental => "dental",
        K::Pharmacy => "pharmacy",
        K::CheckupCentre => "checkup",
        K::Insurer => "insurer",
    };
    let number = if inst.kind == K::Insurer && inst.number.len() == 6 {
        format!("00{}", inst.number)
    } else {
        inst.number.clone()
    };
    (number, kind)
}

/// Most threads of the blocking pool (more than the store's connections: some wait on locks
/// or on the network).
const BLOCKING_THREADS: usize = 64;

/// Registers the institutions and insurers of a synthetic world (`demo`, benchmarks).
pub fn register_world(store: &Store, world: &synth::World, now: &str) -> Result<usize, String> {
    let operator = clins::policy::Principal::Operator;
    let mut n = 0;
    for inst in world.institutions.iter().chain(world.insurers.iter()) {
        let (number, kind) = registry_entry(inst);
        let new = app::registry::NewInstitution {
            number,
            kind: kind.to_string(),
            name: inst.name.clone(),
            prefecture: Some(inst.prefecture),
        };
        app::registry::add(store, &operator, &new, now).map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}

pub fn build_hub(
    store: Store,
    ig: &[PathBuf],
    clock: Clock,
    dev_auth: bool,
    base: String,
) -> Result<Arc<Hub>, String> {
    let defs = Arc::new(
        Definitions::load(&ig_dirs(ig)).map_err(|e| format!("cannot load IG packages: {e}"))?,
    );
    let indexer = Arc::new(SearchIndexer::new(defs.clone()));
    server::ingest::set_id_key(
        &store
            .secret("id-key")
            .map_err(|e| format!("cannot read the installation's id key: {e}"))?,
    );
    let registry_ttl = std::env::var("CLINS_REGISTRY_CACHE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(REGISTRY_CACHE, std::time::Duration::from_secs);
    let auth = app::auth::Authority::load(&store, &base, registry_ttl)?;
    Ok(Arc::new(Hub {
        directory: app::identity::Directory::new(store.clone(), registry_ttl),
        auth,
        limits: app::limits::Limits::default(),
        audit_anchor: None,
        audit: app::audit::Recorder::new(store.clone()),
        demo: Default::default(),
        store,
        validator: Arc::new(validator_for(defs)),
        indexer,
        clock,
        dev_auth,
        consent_hours: app::consent::DEFAULT_HOURS,
        base,
    }))
}

/// Runs the server until Ctrl-C or SIGTERM; in-flight requests are drained. `audit`: when a
/// request's audit record is on disk (the embedded store's journal; PostgreSQL commits).
pub fn serve(
    hub: Arc<Hub>,
    how: server::Listen,
    audit: store::Durability,
    banner: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let listen = how.addr;
    hub.store
        .start_audit_journal(audit)
        .map_err(|e| format!("cannot open the audit journal: {e}"))?;
    // On the embedded store, validation and rendering yield the CPU to its one writer thread
    // (see the function). Not on PostgreSQL: its servers are processes of their own, and
    // measured, the hub's threads then gain nothing from yielding to them.
    let yield_to_writer = hub.store.dialect() == store::Dialect::Sqlite;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work (store reads, validation, rendering) queues beyond this many threads
        // rather than starting one per waiting request: a few hot threads keep their caches.
        .max_blocking_threads(BLOCKING_THREADS)
        .on_thread_start(move || {
            if yield_to_writer {
                store::lower_thread_priority(4);
            }
        })
        .build()
        .map_err(|e| e.to_string())?;
    // The last reference to the hub is dropped here, after the runtime: the PostgreSQL client
    // closes its connections with a runtime of its own, which must not run inside ours.
    let keep = hub.clone();
    let r = rt.block_on(async move {
        server::serve(hub, how, shutdown_signal(), banner)
            .await
            .map_err(|e| format!("cannot serve on {listen}: {e}"))
    });
    drop(rt);
    // A last checkpoint of the audit trail, so that what this process recorded is signed.
    if let Err(e) = app::audit::checkpoint(
        &keep.store,
        keep.auth.signing_key(),
        &keep.clock.now(),
        keep.audit_anchor.as_deref(),
    ) {
        eprintln!(
            "clins-hub: the last audit checkpoint failed: {}",
            e.issues.first().map_or("", |i| i.en.as_str())
        );
    }
    keep.store.checkpoint();
    drop(keep);
    r
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

/// Sends the traces of the hub to stderr, one line per event with its span's fields (the
/// request id, method and path of requests). The level comes from `CLINS_LOG` (error, warn,
/// info, debug or trace; default `default`); `CLINS_QUIET` means warn.
pub fn init_logging(default: tracing_subscriber::filter::LevelFilter) {
    use tracing_subscriber::filter::LevelFilter;
    let level = match std::env::var("CLINS_LOG").ok().as_deref().map(str::trim) {
        Some("error") => LevelFilter::ERROR,
        Some("warn") => LevelFilter::WARN,
        Some("debug") => LevelFilter::DEBUG,
        Some("trace") => LevelFilter::TRACE,
        Some("off") => LevelFilter::OFF,
        _ if std::env::var_os("CLINS_QUIET").is_some() => LevelFilter::WARN,
        Some("info") => LevelFilter::INFO,
        _ => default,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .try_init();
}

/// The result of an import.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub accepted: usize,
    pub rejected: Vec<(String, String)>,
}

/// One submission to import: where it came from (file, or file:line) and its bytes.
pub struct Item {
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// Lists the submissions in `paths`: `.json` files (folders recursively, in name order) and the
/// lines of `.ndjson` files.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                walk(&e, out)?;
            }
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("json" | "ndjson")
        ) && p.file_name().and_then(|n| n.to_str()) != Some("manifest.json")
        {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(format!("{}: no such file or folder", p.display()));
        }
        walk(p, &mut out).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(out)
}

/// The key that orders submissions: the Bundle-ID's text (found without parsing; the whole
/// line when absent). Submissions with the same key go to the same worker, in order, so a
/// re-send or delete is applied after the submission it replaces.
fn order_key(bytes: &[u8]) -> u64 {
    // `"…/bundle-identifier"`, then the next `"value"`, `:`, and the string after it; any
    // whitespace between (pretty-printed files).
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let key = find(bytes, b"bundle-identifier\"")
        .map(|p| &bytes[p..])
        .and_then(|rest| find(rest, b"\"value\"").map(|v| &rest[v + 7..]))
        .and_then(|rest| {
            let start = rest.iter().position(|b| *b == b'"')? + 1;
            let end = rest[start..].iter().position(|b| *b == b'"')?;
            Some(&rest[start..start + end])
        })
        .unwrap_or(bytes);
    // FNV-1a
    key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Submits every bundle of `files` (each `.json` file, each line of `.ndjson` files) through
/// [`app::submit::submit`] with `jobs` workers. Submissions of the same unit keep their order.
/// `tick` is called after each file has been read.
pub fn import(hub: &Hub, files: &[PathBuf], jobs: usize, tick: &(dyn Fn() + Sync)) -> ImportReport {
    let report = Mutex::new(ImportReport::default());
    let jobs = jobs.max(1);
    std::thread::scope(|s| {
        let mut queues = Vec::with_capacity(jobs);
        for _ in 0..jobs {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Item>(64);
            queues.push(tx);
            let report = &report;
            s.spawn(move || {
                for item in rx {
                    let r = app::submit::submit(hub, None, &item.bytes, None);
                    let Ok(mut rep) = report.lock() else { return };
                    match r {
                        Ok(_) => rep.accepted += 1,
                        Err(e) => {
                            let msg = e
                                .issues
                                .iter()
                                .filter(|i| i.severity.is_error())
                                .take(3)
                                .map(|i| format!("{} [{}] {}", i.expression, i.detail, i.en))
                                .collect::<Vec<_>>()
                                .join("; ");
                            rep.rejected
                                .push((item.origin, format!("{}: {msg}", e.why.label())));
                        }
                    }
                }
            });
        }
        let send = |item: Item| {
            let q = (order_key(&item.bytes) % jobs as u64) as usize;
            let _ = queues[q].send(item);
        };
        for f in files {
            let origin = f.display().to_string();
            let ndjson = f.extension().and_then(|e| e.to_str()) == Some("ndjson");
            let read = if ndjson {
                // Streamed line by line: an NDJSON stream may be larger than memory.
                std::fs::File::open(f).map(|file| {
                    use std::io::BufRead;
                    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
                    let mut n = 0;
                    loop {
                        let mut line = Vec::new();
                        match reader.read_until(b'\n', &mut line) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e) => {
                                if let Ok(mut rep) = report.lock() {
                                    rep.rejected.push((
                                        format!("{origin}:{}", n + 1),
                                        format!("cannot read: {e}"),
                                    ));
                                }
                                break;
                            }
                        }
                        n += 1;
                        if line.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        send(Item {
                            origin: format!("{origin}:{n}"),
                            bytes: line,
                        });
                    }
                })
            } else {
                std::fs::read(f).map(|bytes| {
                    send(Item {
                        origin: origin.clone(),
                        bytes,
                    })
                })
            };
            match read {
                Ok(()) => {}
                Err(e) => {
                    if let Ok(mut rep) = report.lock() {
                        rep.rejected.push((origin, format!("cannot read: {e}")));
                    }
                }
            }
            tick();
        }
        drop(queues);
    });
    hub.store.checkpoint();
    report.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::order_key;

    #[test]
    fn order_key_reads_the_bundle_id_compact_or_pretty() {
        let compact = br#"{"identifier":{"system":"http://jpfhir.jp/fhir/clins/bundle-identifier","value":"1311234567^2026^A1"},"x":1}"#;
        let pretty = b"{\n  \"identifier\": {\n    \"system\": \"http://jpfhir.jp/fhir/clins/bundle-identifier\",\n    \"value\" : \"1311234567^2026^A1\"\n  }\n}";
        let other = br#"{"identifier":{"system":"http://jpfhir.jp/fhir/clins/bundle-identifier","value":"1311234567^2026^A2"}}"#;
        assert_eq!(order_key(compact), order_key(pretty));
        assert_ne!(order_key(compact), order_key(other));
    }
}
