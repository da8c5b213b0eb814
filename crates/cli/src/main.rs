//! `clins-hub`: the command line of the JP-CLINS information sharing hub.
#![forbid(unsafe_code)]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod auth_cmd;
mod backup_cmd;
mod fhirpath_cmd;
mod progress;
mod validate;

use clins_hub::hub::{self, StoreArgs};

#[derive(Parser)]
#[command(
    name = "clins-hub",
    version,
    about = "JP-CLINS (電子カルテ情報共有サービス) hub: validate, store and share 3文書6情報"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Validate FHIR JSON files or folders against R4, the loaded IG packages and the JP-CLINS
    /// service rules.
    Validate {
        /// IG package folder (repeatable); also read from CLINS_IG_PATH (colon-separated).
        #[arg(long = "ig", value_name = "DIR")]
        ig: Vec<PathBuf>,
        /// Report format: a readable text report, or one OperationOutcome per file (NDJSON-like
        /// JSON array).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Show information-level issues in the text report too.
        #[arg(long)]
        verbose: bool,
        /// Instead of a report per file: issues counted per rule code (and severity) across
        /// all files, most frequent first.
        #[arg(long)]
        summary: bool,
        /// The exit code is 1 when any file has an issue of this severity or worse (default:
        /// error); 0 otherwise; 2 for a usage or I/O error.
        #[arg(long, value_enum, default_value_t = validate::FailOn::Error, value_name = "LEVEL")]
        fail_on: validate::FailOn,
        /// Worker threads (default: all cores).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Files or folders (folders are searched recursively for *.json).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Evaluate a FHIRPath expression against a resource (stdin without FILE); prints the
    /// result collection as JSON.
    Fhirpath {
        /// The expression.
        expression: String,
        /// A FHIR resource in JSON (default: stdin).
        file: Option<PathBuf>,
    },
    /// Write synthetic JP-CLINS submissions (6情報 units for now) to OUT_DIR/submissions/, with
    /// OUT_DIR/manifest.json. The same seed gives the same bytes.
    Gen {
        /// Number of patients.
        #[arg(long, value_name = "N")]
        patients: u64,
        /// Number of institutions (default: one per 50 patients, at least 3).
        #[arg(long, value_name = "M")]
        institutions: Option<u32>,
        /// Random seed.
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
        /// Write one NDJSON stream (OUT_DIR/submissions.ndjson) instead of one file per
        /// submission.
        #[arg(long)]
        ndjson: bool,
        /// Output folder.
        out_dir: PathBuf,
    },
    /// Run the hub: FHIR R4 over HTTP on the embedded store (default ./clins-data) or
    /// PostgreSQL.
    Serve {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data")]
        data: PathBuf,
        /// PostgreSQL URL (postgres://user@host/db) instead of the embedded store.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// Most PostgreSQL connections open at a time (requests beyond wait for one).
        #[arg(long, value_name = "N", default_value_t = store::DEFAULT_PG_CONNECTIONS)]
        db_connections: usize,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// IG package folder (repeatable); also read from CLINS_IG_PATH.
        #[arg(long = "ig", value_name = "DIR")]
        ig: Vec<PathBuf>,
        /// Development authentication: trust the header X-Clins-Dev-Institution. Refused on
        /// non-loopback addresses.
        #[arg(long)]
        insecure_dev_auth: bool,
        /// Public base URL of the FHIR endpoint (default http://LISTEN/fhir).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Fixed clock (UTC instant, e.g. 2026-11-20T03:00:00.000Z) for tests and demos.
        #[arg(long, value_name = "INSTANT", hide = true)]
        now: Option<String>,
        /// How long a viewing consent lasts, in hours (1–168).
        #[arg(long, value_name = "HOURS", default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..=168))]
        consent_hours: i64,
        /// Requests per second per caller (client, institution, patient), bursts of twice as
        /// many; beyond it 429 with Retry-After. 0: no limit.
        #[arg(long, value_name = "N", default_value_t = app::limits::DEFAULT_CALLER_RATE)]
        rate_limit: u32,
        /// Requests per second per client address on POST /auth/token and POST
        /// /admin/applications. 0: no limit.
        #[arg(long, value_name = "N", default_value_t = app::limits::DEFAULT_ANONYMOUS_RATE)]
        sign_in_rate_limit: u32,
        /// TLS: the certificate chain (PEM). With --tls-key, the hub speaks TLS 1.3 / 1.2 only.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS: the private key (PEM: PKCS#8, PKCS#1 or SEC1).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// TLS: require client certificates issued by this CA (PEM): mutual TLS.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_client_ca: Option<PathBuf>,
        /// Allow plain HTTP on a non-loopback address: a proxy in front of the hub terminates
        /// TLS.
        #[arg(long)]
        behind_tls_proxy: bool,
        /// After SIGTERM, go on serving this many seconds with /health/ready answering 503
        /// DRAINING (a load balancer takes the node out), then stop accepting and drain.
        #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
        drain_delay: f64,
        /// Start without SQLite's quick_check of the embedded store (every page read once; a
        /// damaged store is refused at start with what to do).
        #[arg(long)]
        skip_integrity_check: bool,
        /// Requests this node works on at once; beyond, a request is answered 503 OVERLOADED
        /// with Retry-After at once (health probes and /metrics are not counted).
        #[arg(long, default_value_t = server::conn::DEFAULT_MAX_IN_FLIGHT, value_name = "N")]
        max_in_flight: usize,
        /// A file outside the database where each signed checkpoint of the audit trail is
        /// appended too (makes a rollback of the database visible to `audit verify`).
        /// Default: audit-anchor.tsv in --data on the embedded store; none on PostgreSQL.
        #[arg(long, value_name = "FILE")]
        audit_anchor: Option<PathBuf>,
        /// Embedded store: sync the audit journal before each answer leaves (one fdatasync per
        /// group of requests; survives a power cut). Default: each record is written to the
        /// operating system before the answer (survives a crash of the hub) and synced within
        /// 10 ms. Records of writes always commit with the write.
        #[arg(long)]
        audit_sync: bool,
    },
    /// The audit trail: verify its chains and checkpoints, sign its head now.
    Audit {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data", global = true)]
        data: PathBuf,
        /// PostgreSQL URL instead of the embedded store.
        #[arg(long, value_name = "URL", global = true)]
        database: Option<String>,
        /// The anchor file of checkpoints (default: audit-anchor.tsv in --data, if present).
        #[arg(long, value_name = "FILE", global = true)]
        anchor: Option<PathBuf>,
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Run the hub on a fresh embedded store preloaded with synthetic patients; prints the URL
    /// and example requests. Development authentication is on (loopback only).
    Demo {
        /// Number of synthetic patients.
        #[arg(long, value_name = "N", default_value_t = 200)]
        patients: u64,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// IG package folder (repeatable); also read from CLINS_IG_PATH.
        #[arg(long = "ig", value_name = "DIR")]
        ig: Vec<PathBuf>,
    },
    /// Submit bundles (.json files, folders, .ndjson streams) through the same validation and
    /// storage path as $submit.
    Import {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data")]
        data: PathBuf,
        /// PostgreSQL URL instead of the embedded store.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// Most PostgreSQL connections open at a time (requests beyond wait for one).
        #[arg(long, value_name = "N", default_value_t = store::DEFAULT_PG_CONNECTIONS)]
        db_connections: usize,
        /// IG package folder (repeatable); also read from CLINS_IG_PATH.
        #[arg(long = "ig", value_name = "DIR")]
        ig: Vec<PathBuf>,
        /// Worker threads (default: eight per core).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Files or folders.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Apply the retention rules: delete expired resources and expired documents.
    Purge {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data")]
        data: PathBuf,
        /// PostgreSQL URL instead of the embedded store.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// Purge as of this date or instant (default: now), e.g. 2031-12-01.
        #[arg(long, value_name = "DATE")]
        now: Option<String>,
    },
    /// Writes a new backup key (32 random bytes, owner-only); never overwrites a file.
    BackupKey {
        /// The key file to create.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// An encrypted, checksummed, consistent backup of the embedded store, taken while the hub
    /// serves, as a new generation in --to; the oldest generations beyond --keep are removed.
    Backup {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data")]
        data: PathBuf,
        /// The backup folder (generations `clins-backup-<time>` inside it).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// The backup key (`clins-hub backup-key --out FILE`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Generations kept.
        #[arg(long, value_name = "N", default_value_t = 7)]
        keep: usize,
    },
    /// Checks a backup generation and restores it into an empty folder (or only checks it).
    Restore {
        /// The generation folder (`…/clins-backup-<time>`).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The backup key it was made with.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The folder to restore into (missing or empty); point `serve --data` at it after.
        #[arg(long, value_name = "DIR", required_unless_present = "verify_only")]
        data: Option<PathBuf>,
        /// Only check every file against the manifest; write nothing.
        #[arg(long, conflicts_with = "data")]
        verify_only: bool,
    },
    /// The institution registry (operator): who may call the hub, and as what.
    Institutions {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data", global = true)]
        data: PathBuf,
        /// PostgreSQL URL instead of the embedded store.
        #[arg(long, value_name = "URL", global = true)]
        database: Option<String>,
        #[command(subcommand)]
        action: InstitutionsAction,
    },
    /// Clients of institutions (their EMR systems) and their public keys (operator).
    Clients {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data", global = true)]
        data: PathBuf,
        /// PostgreSQL URL instead of the embedded store.
        #[arg(long, value_name = "URL", global = true)]
        database: Option<String>,
        #[command(subcommand)]
        action: auth_cmd::ClientsAction,
    },
    /// Staff accounts of institutions (operator): activation codes, reset, disable.
    Staff {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data", global = true)]
        data: PathBuf,
        /// PostgreSQL URL instead of the embedded store.
        #[arg(long, value_name = "URL", global = true)]
        database: Option<String>,
        #[command(subcommand)]
        action: auth_cmd::StaffAction,
    },
    /// Patients' sign-in (operator): `patients activation MEMBER` prints a one-time code.
    Patients {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data", global = true)]
        data: PathBuf,
        /// PostgreSQL URL instead of the embedded store.
        #[arg(long, value_name = "URL", global = true)]
        database: Option<String>,
        #[command(subcommand)]
        action: PatientsAction,
    },
    /// Make a key pair for a client: writes the private key (PKCS#8 PEM, owner-only) and prints
    /// the public JWKS to apply with.
    Keygen {
        #[arg(long, value_name = "KEY.pem")]
        out: PathBuf,
    },
    /// Sign a client assertion with a client's key, ask the hub for an access token and print
    /// it (for curl: `-H "Authorization: Bearer $(clins-hub token …)"`).
    Token {
        /// The client id (the institution's number).
        #[arg(long, value_name = "N")]
        client: String,
        /// The client's private key (PKCS#8 PEM: ES256 P-256 or RS256 RSA).
        #[arg(long, value_name = "KEY.pem")]
        key: PathBuf,
        /// The key's id as registered (default: the key's JWK thumbprint, as keygen names it).
        #[arg(long, value_name = "KID")]
        kid: Option<String>,
        /// The SMART v2 scopes to ask for (the access decision still applies).
        #[arg(long, value_name = "SCOPES", default_value = "system/*.cruds")]
        scope: String,
        /// The hub's address.
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Act as this practitioner of the institution (a user assertion is signed too).
        #[arg(long, value_name = "ID")]
        practitioner: Option<String>,
        /// The practitioner's licence: doctor, dentist, pharmacist or other.
        #[arg(long, value_name = "Q", default_value = "doctor")]
        qualification: String,
        /// The practitioner holds the emergency-access privilege.
        #[arg(long)]
        emergency: bool,
        /// How the practitioner signed in to the EMR (RFC 8176 values, comma-separated).
        #[arg(long, value_name = "AMR", default_value = "pwd,otp")]
        amr: String,
    },
    /// Disaster declarations (operator): covered institutions view 6情報 and 健診 without card
    /// consent during the period.
    Disaster {
        /// Folder of the embedded SQLite store.
        #[arg(long, value_name = "DIR", default_value = "clins-data", global = true)]
        data: PathBuf,
        /// PostgreSQL URL instead of the embedded store.
        #[arg(long, value_name = "URL", global = true)]
        database: Option<String>,
        #[command(subcommand)]
        action: DisasterAction,
    },
    /// Run an official FHIRPath test-suite file; prints each failure, then
    /// `N passed, N failed, N skipped`.
    FhirpathTests {
        /// The suite (e.g. tests-fhir-r4.xml).
        suite: PathBuf,
        /// Folder with the input resources (JSON; `x.xml` inputs are read from `x.json`).
        #[arg(long, value_name = "DIR")]
        inputs: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum InstitutionsAction {
    /// Register an institution or insurer (or update and re-enable it).
    Add {
        /// 10-digit 医療機関番号 (8-digit 保険者番号 for an insurer).
        #[arg(long, value_name = "N")]
        number: String,
        /// hospital, clinic, dental, pharmacy, checkup or insurer.
        #[arg(long, value_name = "KIND")]
        kind: String,
        #[arg(long, value_name = "NAME")]
        name: String,
        /// 都道府県番号 (1–47; default: from the number).
        #[arg(long, value_name = "NN")]
        prefecture: Option<u8>,
    },
    /// Register every row of a CSV file: number,kind,name[,prefecture] (a header line
    /// starting with `number` is skipped).
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List the registry.
    List,
    /// Refuse an institution everywhere (403) until it is enabled again.
    Disable {
        #[arg(value_name = "N")]
        number: String,
    },
    /// Enable a disabled institution.
    Enable {
        #[arg(value_name = "N")]
        number: String,
    },
    /// 利用申請: file an institution's application with the public keys of its system.
    Apply {
        #[arg(long, value_name = "N")]
        number: String,
        #[arg(long, value_name = "KIND")]
        kind: String,
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long, value_name = "NN")]
        prefecture: Option<u8>,
        #[arg(long, value_name = "ADDRESS")]
        address: String,
        /// The public keys (a JWKS file; `clins-hub keygen` prints one).
        #[arg(long, value_name = "FILE")]
        jwks: Option<PathBuf>,
        /// Where the keys will be published instead (https://).
        #[arg(long, value_name = "URL")]
        jwks_url: Option<String>,
    },
    /// List applications (pending, approved or rejected; all without --status).
    Applications {
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
    },
    /// Approve an application: registers the institution and creates its client.
    Approve {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Reject an application, with the reason the applicant is told.
    Reject {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check every record's hash and link and every checkpoint's signature; names the first
    /// broken record. Exit 0 intact, 1 broken.
    Verify,
    /// Sign every chain's head now (the server does so every minute).
    Checkpoint,
    /// Per-institution usage of a month: submissions by kind, views (emergency, disaster),
    /// consents received, refused requests.
    Report {
        /// The month, YYYY-MM (UTC).
        #[arg(long, value_name = "YYYY-MM")]
        month: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum PatientsAction {
    /// A one-time activation code for the patient's sign-in (the card reader's stand-in).
    Activation {
        /// The insurance member id (被保険者個人識別子).
        #[arg(value_name = "MEMBER")]
        member: String,
    },
}

#[derive(Subcommand)]
enum DisasterAction {
    /// Declare a disaster period and what it covers.
    Declare {
        /// Start (date or date and time; no zone = Japan time).
        #[arg(long, value_name = "T")]
        from: String,
        /// End (exclusive).
        #[arg(long, value_name = "T")]
        to: String,
        /// A covered prefecture (1–47; repeatable).
        #[arg(long = "prefecture", value_name = "NN")]
        prefectures: Vec<u8>,
        /// A covered institution (10-digit number; repeatable).
        #[arg(long = "institution", value_name = "N")]
        institutions: Vec<String>,
    },
    /// List the declarations.
    List,
    /// End a declaration now.
    End {
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// Runs an operator's command and records it in the audit trail (its arguments without the
/// database URL, which may hold a password; its outcome by exit code), as the HTTP forms of
/// these commands are recorded.
fn audited(
    data: PathBuf,
    database: Option<String>,
    action: &str,
    run: impl FnOnce(PathBuf, Option<String>) -> ExitCode,
) -> ExitCode {
    let code = run(data.clone(), database.clone());
    let mut words = Vec::new();
    let mut skip = false;
    for a in std::env::args().skip(1) {
        if skip {
            skip = false;
            continue;
        }
        if a == "--database" || a == "--data" {
            skip = true;
            continue;
        }
        if a.starts_with("--database=") || a.starts_with("--data=") {
            continue;
        }
        words.push(a);
    }
    let ok = code == ExitCode::SUCCESS;
    let row = store::AuditRow {
        at: store::now_utc(),
        action: action.to_string(),
        outcome: if ok { "0" } else { "4" }.into(),
        status: 0,
        role: "operator".into(),
        purpose: "HOPERAT".into(),
        request: format!("CLI clins-hub {}", words.first().map_or("", String::as_str)),
        detail: words.join(" "),
        ..Default::default()
    };
    let recorded =
        operator_store(data, database).and_then(|s| app::audit::record(&s, row).map_err(show));
    if let Err(e) = recorded {
        eprintln!("clins-hub: the command was not recorded in the audit trail: {e}");
        return ExitCode::from(1);
    }
    code
}

/// The hub's signing key, as the server keeps it in the database.
fn hub_key(store: &store::Store) -> Result<app::auth::Authority, String> {
    app::auth::Authority::load(store, "", std::time::Duration::from_secs(1))
}

/// `clins-hub audit verify`.
fn audit_verify(store: &store::Store, anchor: Option<&std::path::Path>) -> ExitCode {
    let run = || -> Result<app::audit::Verified, String> {
        let auth = hub_key(store)?;
        let anchored = match anchor {
            Some(p) => app::audit::read_anchor(p)?,
            None => Vec::new(),
        };
        let total = app::audit::total(store).map_err(|e| e.to_string())?;
        let bar = progress::Progress::new(total.max(0) as usize, "verifying the audit trail");
        let mut shown = 0i64;
        let v = app::audit::verify(store, &auth.signing_key().public_key(), &anchored, |n| {
            while shown < n {
                bar.inc();
                shown += 1;
            }
        })
        .map_err(show)?;
        bar.finish();
        Ok(v)
    };
    match run() {
        Ok(v) => match v.broken {
            None => {
                println!(
                    "audit trail intact: {} records in {} chains ({}), {} checkpoints{}",
                    v.records,
                    v.chains.len(),
                    v.chains.join(", "),
                    v.checkpoints,
                    if anchor.is_some() {
                        " (with the anchor file)"
                    } else {
                        ""
                    }
                );
                ExitCode::SUCCESS
            }
            Some((chain, seq, why)) => {
                println!("audit chain `{chain}` BROKEN at record {seq}: {why}");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("clins-hub audit verify: {e}");
            ExitCode::from(2)
        }
    }
}

/// `clins-hub audit report`: CSV (text) or JSON.
fn audit_report(store: &store::Store, month: &str, format: Format) -> Result<(), String> {
    let rows = app::audit::usage(store, month).map_err(show)?;
    let name = |n: &str| {
        store
            .institution(n)
            .ok()
            .flatten()
            .map(|i| i.name)
            .unwrap_or_default()
    };
    let kinds = |u: &app::audit::Usage| {
        u.submissions
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    };
    match format {
        Format::Text => {
            println!("institution,name,submissions,submissions_by_kind,views,emergency,disaster,consents,refused");
            for u in &rows {
                let csv = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
                println!(
                    "{},{},{},{},{},{},{},{},{}",
                    u.institution,
                    csv(&name(&u.institution)),
                    u.submissions.values().sum::<i64>(),
                    csv(&kinds(u)),
                    u.views,
                    u.emergency,
                    u.disaster,
                    u.consents,
                    u.refused
                );
            }
        }
        Format::Json => {
            use fhir::json::{Object, Value};
            let num = |n: i64| Value::Number(n.to_string().into());
            let list: Vec<Value> = rows
                .iter()
                .map(|u| {
                    let mut o = Object::new();
                    o.insert("institution", Value::string(u.institution.as_str()));
                    o.insert("name", Value::string(name(&u.institution)));
                    let mut k = Object::new();
                    for (kind, n) in &u.submissions {
                        k.insert(kind.as_str(), num(*n));
                    }
                    o.insert("submissions", Value::Object(k));
                    o.insert("views", num(u.views));
                    o.insert("emergency", num(u.emergency));
                    o.insert("disaster", num(u.disaster));
                    o.insert("consents", num(u.consents));
                    o.insert("refused", num(u.refused));
                    Value::Object(o)
                })
                .collect();
            let mut o = Object::new();
            o.insert("month", Value::string(month));
            o.insert("institutions", Value::Array(list));
            println!("{}", fhir::json::to_string_pretty(&Value::Object(o)));
        }
    }
    Ok(())
}

/// `clins-hub audit checkpoint`.
fn audit_checkpoint(store: &store::Store, anchor: Option<&std::path::Path>) -> Result<(), String> {
    let auth = hub_key(store)?;
    let made = app::audit::checkpoint(store, auth.signing_key(), &store::now_utc(), anchor)
        .map_err(show)?;
    if made.is_empty() {
        println!("nothing new since the last checkpoints");
    }
    for (chain, c) in made {
        println!("chain {chain}: checkpoint at record {}: {}", c.seq, c.head);
    }
    Ok(())
}

/// The exit of a command: its error on stderr, exit code 1.
fn exit(command: &str, r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clins-hub {command}: {e}");
            ExitCode::from(1)
        }
    }
}

/// A refusal as one line for the terminal (English, then Japanese).
fn show(e: app::Refusal) -> String {
    e.issues
        .iter()
        .map(|i| format!("{} ({})", i.en, i.ja))
        .collect::<Vec<_>>()
        .join("; ")
}

fn operator_store(data: PathBuf, database: Option<String>) -> Result<store::Store, String> {
    hub::open_store(&StoreArgs {
        data,
        database,
        connections: 2,
    })
}

fn institutions(data: PathBuf, database: Option<String>, action: InstitutionsAction) -> ExitCode {
    let run = || -> Result<(), String> {
        let store = operator_store(data, database)?;
        let op = clins::policy::Principal::Operator;
        let now = store::now_utc();
        match action {
            InstitutionsAction::Add {
                number,
                kind,
                name,
                prefecture,
            } => {
                let new = app::registry::NewInstitution {
                    number,
                    kind,
                    name,
                    prefecture,
                };
                let r = app::registry::add(&store, &op, &new, &now).map_err(show)?;
                println!(
                    "registered {} ({}, prefecture {}): {}",
                    r.number, r.kind, r.prefecture, r.name
                );
            }
            InstitutionsAction::Import { file } => {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                let (mut ok, mut bad) = (0, 0);
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || (n == 0 && line.starts_with("number")) {
                        continue;
                    }
                    let f: Vec<&str> = line.split(',').map(str::trim).collect();
                    let new = app::registry::NewInstitution {
                        number: f.first().copied().unwrap_or_default().to_string(),
                        kind: f.get(1).copied().unwrap_or_default().to_string(),
                        name: f.get(2).copied().unwrap_or_default().to_string(),
                        prefecture: f.get(3).and_then(|p| p.parse().ok()),
                    };
                    match app::registry::add(&store, &op, &new, &now) {
                        Ok(_) => ok += 1,
                        Err(e) => {
                            bad += 1;
                            eprintln!("{}:{}: {}", file.display(), n + 1, show(e));
                        }
                    }
                }
                println!("registered {ok}, refused {bad}");
                if bad > 0 {
                    return Err(format!("{bad} rows refused"));
                }
            }
            InstitutionsAction::List => {
                for r in app::registry::list(&store, &op).map_err(show)? {
                    println!(
                        "{}\t{}\t{:02}\t{}\t{}",
                        r.number,
                        r.kind,
                        r.prefecture,
                        if r.enabled { "enabled" } else { "disabled" },
                        r.name
                    );
                }
            }
            InstitutionsAction::Disable { number } => {
                app::registry::set_enabled(&store, &op, &number, false, &now).map_err(show)?;
                println!("disabled {number}");
            }
            InstitutionsAction::Enable { number } => {
                app::registry::set_enabled(&store, &op, &number, true, &now).map_err(show)?;
                println!("enabled {number}");
            }
            InstitutionsAction::Apply {
                number,
                kind,
                name,
                prefecture,
                address,
                jwks,
                jwks_url,
            } => auth_cmd::apply(
                &store,
                auth_cmd::Apply {
                    institution: app::registry::NewInstitution {
                        number,
                        kind,
                        name,
                        prefecture,
                    },
                    address,
                    jwks,
                    jwks_url,
                },
            )?,
            InstitutionsAction::Applications { status } => {
                auth_cmd::applications(&store, status.as_deref())?
            }
            InstitutionsAction::Approve { id } => auth_cmd::approve(&store, &id)?,
            InstitutionsAction::Reject { id, reason } => auth_cmd::reject(&store, &id, &reason)?,
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clins-hub institutions: {e}");
            ExitCode::from(1)
        }
    }
}

fn disaster(data: PathBuf, database: Option<String>, action: DisasterAction) -> ExitCode {
    let run = || -> Result<(), String> {
        let store = operator_store(data, database)?;
        let op = app::Caller::new(clins::policy::Principal::Operator);
        let now = store::now_utc();
        match action {
            DisasterAction::Declare {
                from,
                to,
                prefectures,
                institutions,
            } => {
                let d = app::disaster::Declaration {
                    from,
                    to,
                    prefectures,
                    institutions,
                };
                let r = app::disaster::declare(&store, &op, &d, &now).map_err(show)?;
                println!("declared {} from {} to {}", r.disaster_id, r.start, r.end);
            }
            DisasterAction::List => {
                for d in app::disaster::list(&store, &op).map_err(show)? {
                    let prefs: Vec<String> =
                        d.prefectures.iter().map(|p| format!("{p:02}")).collect();
                    println!(
                        "{}\t{}\t{}\t{}\tprefectures {}\tinstitutions {}",
                        d.disaster_id,
                        d.start,
                        d.end,
                        d.ended_at
                            .as_deref()
                            .map_or("ongoing".to_string(), |e| format!("ended {e}")),
                        if prefs.is_empty() {
                            "-".into()
                        } else {
                            prefs.join(",")
                        },
                        if d.institutions.is_empty() {
                            "-".into()
                        } else {
                            d.institutions.join(",")
                        },
                    );
                }
            }
            DisasterAction::End { id } => {
                app::disaster::end(&store, &op, &id, &now).map_err(show)?;
                println!("ended {id}");
            }
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clins-hub disaster: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Validate {
            ig,
            format,
            verbose,
            summary,
            fail_on,
            jobs,
            paths,
        } => validate::run(validate::Args {
            summary,
            fail_on,
            ig,
            format,
            verbose,
            jobs,
            paths,
        }),
        Command::Gen {
            patients,
            institutions,
            seed,
            ndjson,
            out_dir,
        } => {
            if institutions == Some(0) {
                eprintln!("clins-hub gen: --institutions must be at least 1");
                return ExitCode::from(2);
            }
            let cfg = synth::Config {
                patients,
                institutions,
                seed,
            };
            let bar = progress::Progress::new(patients as usize, "patients");
            match clins_hub::gen::write(&cfg, &out_dir, ndjson, &|| bar.inc()) {
                Ok(m) => {
                    bar.finish();
                    println!(
                        "wrote {} submissions ({} resources) for {} patients at {} institutions to {}",
                        m.submissions,
                        m.resources,
                        m.patients,
                        m.institutions,
                        out_dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    bar.finish();
                    eprintln!("clins-hub gen: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Serve {
            data,
            database,
            db_connections,
            listen,
            ig,
            insecure_dev_auth,
            base_url,
            now,
            consent_hours,
            rate_limit,
            sign_in_rate_limit,
            tls_cert,
            tls_key,
            tls_client_ca,
            behind_tls_proxy,
            max_in_flight,
            drain_delay,
            skip_integrity_check,
            audit_anchor,
            audit_sync,
        } => {
            let audit_anchor =
                audit_anchor.or_else(|| database.is_none().then(|| data.join("audit-anchor.tsv")));
            let clock = match now {
                Some(t) => server::Clock::Fixed(t),
                None => server::Clock::System,
            };
            // Port 0: the port is chosen now, so that the base URL (and the token endpoint that
            // client assertions name) carries the port the hub will listen on; the socket is
            // kept and served, so no other process can take the port meanwhile.
            let chosen = (listen.port() == 0)
                .then(|| std::net::TcpListener::bind(listen).ok())
                .flatten();
            let (listen, bound) = match chosen {
                Some(l) => (
                    l.local_addr().unwrap_or(listen),
                    Some(std::sync::Arc::new(l)),
                ),
                None => (listen, None),
            };
            let scheme = if tls_cert.is_some() { "https" } else { "http" };
            let base = base_url.unwrap_or_else(|| format!("{scheme}://{listen}/fhir"));
            hub::init_logging(tracing_subscriber::filter::LevelFilter::INFO);
            let run = || -> Result<(), String> {
                let embedded = database.is_none();
                let store = hub::open_store(&StoreArgs {
                    data,
                    database,
                    connections: db_connections,
                })
                .map_err(|e| damaged_hint(&e))?;
                // A damaged page is found now, with what to do, not by a request later.
                if embedded && !skip_integrity_check {
                    store.quick_check()?;
                }
                let mut h = hub::build_hub(store, &ig, clock, insecure_dev_auth, base)?;
                if let Some(hub) = std::sync::Arc::get_mut(&mut h) {
                    hub.consent_hours = consent_hours;
                    hub.audit_anchor = audit_anchor;
                    hub.limits = app::limits::Limits {
                        caller: app::limits::RateLimiter::new(rate_limit),
                        anonymous: app::limits::RateLimiter::new(sign_in_rate_limit),
                    };
                }
                let tls = match (tls_cert, tls_key) {
                    (Some(cert), Some(key)) => {
                        Some(server::tls::server_config(&server::tls::TlsFiles {
                            cert,
                            key,
                            client_ca: tls_client_ca,
                        })?)
                    }
                    _ => None,
                };
                let how = server::Listen {
                    addr: listen,
                    tls,
                    behind_tls_proxy,
                    bound,
                    max_in_flight,
                    drain_delay: std::time::Duration::try_from_secs_f64(drain_delay).map_err(
                        |_| format!("--drain-delay {drain_delay}: give seconds, 0 or more"),
                    )?,
                };
                let durability = if audit_sync {
                    store::Durability::Sync
                } else {
                    store::Durability::Flush
                };
                hub::serve(h, how, durability, |addr| {
                    // Always printed, whatever the log level: with `--listen 127.0.0.1:0` this
                    // line is how a supervisor (or the test suite) learns the port.
                    eprintln!("clins-hub listening addr={addr}");
                })
            };
            match run() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("clins-hub serve: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Demo {
            patients,
            listen,
            ig,
        } => {
            hub::init_logging(tracing_subscriber::filter::LevelFilter::INFO);
            match demo(patients, listen, &ig) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("clins-hub demo: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Import {
            data,
            database,
            db_connections,
            ig,
            jobs,
            paths,
        } => {
            // Refusals are listed in the import's own report; traces only for warnings.
            hub::init_logging(tracing_subscriber::filter::LevelFilter::WARN);
            let files = match hub::collect(&paths) {
                Ok(f) if !f.is_empty() => f,
                Ok(_) => {
                    eprintln!("clins-hub import: no .json or .ndjson files found");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("clins-hub import: {e}");
                    return ExitCode::from(2);
                }
            };
            let h = match hub::open_store(&StoreArgs {
                data,
                database,
                connections: db_connections,
            })
            .and_then(|s| {
                hub::build_hub(
                    s,
                    &ig,
                    server::Clock::System,
                    false,
                    "urn:clins-hub:import".into(),
                )
            }) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("clins-hub import: {e}");
                    return ExitCode::from(2);
                }
            };
            // Several workers per core: validation uses the cores while others wait for the
            // group commit.
            let jobs = jobs
                .unwrap_or_else(|| 8 * std::thread::available_parallelism().map_or(1, |n| n.get()));
            let bar = progress::Progress::new(files.len(), "files");
            let report = hub::import(&h, &files, jobs, &|| bar.inc());
            bar.finish();
            for (origin, why) in &report.rejected {
                eprintln!("REJECTED {origin}: {why}");
            }
            println!(
                "imported {} submissions, rejected {}",
                report.accepted,
                report.rejected.len()
            );
            if report.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::BackupKey { out } => done("backup-key", backup_cmd::key(&out)),
        Command::Backup {
            data,
            to,
            key,
            keep,
        } => done("backup", backup_cmd::run(&data, &to, &key, keep)),
        Command::Restore {
            from,
            key,
            data,
            verify_only: _,
        } => done("restore", backup_cmd::restore(&from, &key, data.as_deref())),
        Command::Purge {
            data,
            database,
            now,
        } => {
            let now = match now {
                Some(t) => {
                    match server::dates::utc_range(&t) {
                        Some((lo, _)) => lo,
                        None => {
                            eprintln!("clins-hub purge: --now `{t}` is not a date (YYYY-MM-DD or an instant)");
                            return ExitCode::from(2);
                        }
                    }
                }
                None => store::now_utc(),
            };
            match hub::open_store(&StoreArgs {
                data,
                database,
                connections: store::DEFAULT_PG_CONNECTIONS,
            })
            .and_then(|s| {
                server::purge_store(&s, &now, &store::now_utc(), "operator", "clins-hub purge")
                    .map_err(|e| e.to_string())
            }) {
                Ok(r) if r.skipped => {
                    println!("skipped: another process is purging this database now");
                    ExitCode::SUCCESS
                }
                Ok(r) => {
                    println!(
                        "purged {} resource versions and {} documents (as of {now})",
                        r.resource_versions, r.documents
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("clins-hub purge: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Institutions {
            data,
            database,
            action,
        } => audited(data, database, "registry", |d, db| {
            institutions(d, db, action)
        }),
        Command::Disaster {
            data,
            database,
            action,
        } => audited(data, database, "disaster", |d, db| disaster(d, db, action)),
        Command::Clients {
            data,
            database,
            action,
        } => audited(data, database, "registry", |d, db| {
            exit(
                "clients",
                operator_store(d, db).and_then(|s| auth_cmd::clients(&s, action)),
            )
        }),
        Command::Keygen { out } => exit("keygen", auth_cmd::keygen(&out)),
        Command::Audit {
            data,
            database,
            anchor,
            action,
        } => {
            // The embedded store's anchor file: read when it exists, written by checkpoints.
            let default = database.is_none().then(|| data.join("audit-anchor.tsv"));
            match operator_store(data, database) {
                Err(e) => exit("audit", Err(e)),
                Ok(store) => match action {
                    AuditAction::Verify => {
                        let a = anchor.or(default.filter(|p| p.exists()));
                        audit_verify(&store, a.as_deref())
                    }
                    AuditAction::Checkpoint => exit(
                        "audit",
                        audit_checkpoint(&store, anchor.or(default).as_deref()),
                    ),
                    AuditAction::Report { month, format } => {
                        exit("audit", audit_report(&store, &month, format))
                    }
                },
            }
        }
        Command::Staff {
            data,
            database,
            action,
        } => audited(data, database, "registry", |d, db| {
            exit(
                "staff",
                operator_store(d, db).and_then(|s| auth_cmd::staff(&s, action)),
            )
        }),
        Command::Patients {
            data,
            database,
            action: PatientsAction::Activation { member },
        } => exit(
            "patients",
            operator_store(data, database).and_then(|s| auth_cmd::patient_activation(&s, &member)),
        ),
        Command::Token {
            client,
            key,
            kid,
            scope,
            url,
            practitioner,
            qualification,
            emergency,
            amr,
        } => {
            let user = match practitioner {
                None => Ok(None),
                Some(id) => clins::policy::Qualification::from_code(&qualification)
                    .ok_or_else(|| {
                        format!("--qualification {qualification}: use doctor, dentist, pharmacist or other")
                    })
                    .map(|q| {
                        Some(app::auth::UserClaims {
                            id,
                            qualification: q,
                            emergency,
                            amr: amr
                                .split(',')
                                .map(str::trim)
                                .filter(|a| !a.is_empty())
                                .map(str::to_string)
                                .collect(),
                        })
                    }),
            };
            exit(
                "token",
                user.and_then(|practitioner| {
                    auth_cmd::token(auth_cmd::TokenArgs {
                        client,
                        key,
                        kid,
                        scope,
                        url,
                        practitioner,
                    })
                }),
            )
        }
        Command::Fhirpath { expression, file } => fhirpath_cmd::eval(&expression, file.as_deref()),
        Command::FhirpathTests { suite, inputs } => fhirpath_cmd::suite(&suite, inputs.as_deref()),
    }
}

/// Gives the demo's example institution a client with a new key written to `key_path`, and
/// returns a token for it (issued as the token endpoint would).
fn demo_client(h: &server::Hub, inst: &str, key_path: &std::path::Path) -> Result<String, String> {
    let der = app::auth::jose::SigningKey::generate()?;
    auth_cmd::write_private(key_path, &app::auth::jose::pem("PRIVATE KEY", &der))?;
    let key = app::auth::jose::ClientKey::from_pkcs8(&der)?;
    let jwks = fhir::json::to_string(&auth_cmd::jwks_of(&key));
    let now = store::now_utc();
    app::auth::applications::register_client(
        &h.store,
        &clins::policy::Principal::Operator,
        inst,
        &jwks,
        &now,
    )
    .map_err(show)?;
    let kid = key
        .public_jwk(None)
        .get("kid")
        .and_then(fhir::json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    let assertion = app::auth::client_assertion(
        &key,
        &kid,
        inst,
        &h.auth.token_url,
        app::auth::now_seconds(),
    )?;
    let req = app::auth::TokenRequest {
        grant_type: "client_credentials".into(),
        client_assertion_type: app::auth::JWT_BEARER.into(),
        client_assertion: assertion,
        scope: "system/*.cruds".into(),
        ..Default::default()
    };
    h.auth
        .issue(&h.store, &h.directory, &req, &now)
        .map(|t| t.access_token)
        .map_err(|e| e.description)
}

/// The demo's people: a doctor (with the emergency privilege) and an administrator of the
/// example institution, and the example patient, each activated with a generated password.
/// Returns a line per person for the banner.
fn demo_people(h: &server::Hub, inst: &str, member: &str) -> Result<Vec<String>, String> {
    use app::auth::people::{self, Person};
    let op = app::Caller::new(clins::policy::Principal::Operator);
    let now = store::now_utc();
    let mut lines = Vec::new();
    let password = || app::auth::secrets::random_token()[..16].to_string();
    for (login, name, admin) in [
        ("doctor", "救急 医師", false),
        ("admin", "施設 管理者", true),
    ] {
        let new = people::NewStaff {
            institution: inst.to_string(),
            login: login.to_string(),
            name: name.to_string(),
            qualification: "doctor".into(),
            emergency: !admin,
            admin,
        };
        let (_, code) = people::add_staff(&h.store, &op, &new, &now).map_err(show)?;
        let pw = password();
        let who = Person::Staff {
            institution: inst.to_string(),
            login: login.to_string(),
        };
        let e = people::activate(&h.store, &who, &code, &pw, &now).map_err(show)?;
        lines.push(format!(
            "staff {login} of {inst}{}: password {pw}, TOTP secret {}",
            if admin {
                " (administrator)"
            } else {
                " (doctor, emergency privilege)"
            },
            e.totp_secret
        ));
    }
    let code = people::patient_activation(
        &h.store,
        &app::Caller::new(clins::policy::Principal::QualificationService),
        member,
        &now,
    )
    .map_err(show)?;
    let pw = password();
    let m = clins::InsuranceMemberId::parse(member)
        .map_err(|e| e.en)?
        .normalized();
    let e = people::activate(
        &h.store,
        &Person::Patient { member_id: m },
        &code,
        &pw,
        &now,
    )
    .map_err(show)?;
    lines.push(format!(
        "patient (login: the member id {member}): password {pw}, TOTP secret {}",
        e.totp_secret
    ));
    Ok(lines)
}

/// The demo's pharmacist (of `pharmacy`) and the operator's console account.
fn demo_more_people(h: &server::Hub, pharmacy: &str) -> Result<Vec<String>, String> {
    use app::auth::people::{self, Person};
    let op = app::Caller::new(clins::policy::Principal::Operator);
    let now = store::now_utc();
    let mut lines = Vec::new();
    if !pharmacy.is_empty() {
        let new = people::NewStaff {
            institution: pharmacy.to_string(),
            login: "pharmacist".into(),
            name: "薬局 薬剤師".into(),
            qualification: "pharmacist".into(),
            emergency: false,
            admin: false,
        };
        let (_, code) = people::add_staff(&h.store, &op, &new, &now).map_err(show)?;
        let pw = app::auth::secrets::random_token()[..16].to_string();
        let who = Person::Staff {
            institution: pharmacy.to_string(),
            login: "pharmacist".into(),
        };
        let e = people::activate(&h.store, &who, &code, &pw, &now).map_err(show)?;
        lines.push(format!(
            "staff pharmacist of {pharmacy} (pharmacist): password {pw}, TOTP secret {}",
            e.totp_secret
        ));
    }
    let (_, code) =
        people::add_operator(&h.store, &op, "operator", "運用 担当者", &now).map_err(show)?;
    let pw = app::auth::secrets::random_token()[..16].to_string();
    let who = Person::Operator {
        login: "operator".into(),
    };
    let e = people::activate(&h.store, &who, &code, &pw, &now).map_err(show)?;
    lines.push(format!(
        "operator (console, login operator): password {pw}, TOTP secret {}",
        e.totp_secret
    ));
    Ok(lines)
}

/// `clins-hub demo`: a fresh store in a temporary folder, a generated population submitted
/// through the normal path, then the server.
fn demo(patients: u64, listen: std::net::SocketAddr, ig: &[PathBuf]) -> Result<(), String> {
    if !listen.ip().is_loopback() {
        return Err("the demo uses development authentication and listens on loopback only".into());
    }
    let dir = std::env::temp_dir().join(format!("clins-hub-demo-{}", std::process::id()));
    let store = hub::open_store(&StoreArgs {
        data: dir.clone(),
        database: None,
        connections: store::DEFAULT_PG_CONNECTIONS,
    })?;
    let base = format!("http://{listen}/fhir");
    let h = hub::build_hub(store, ig, server::Clock::System, true, base.clone())?;
    let cfg = synth::Config {
        patients,
        institutions: None,
        seed: 1,
    };
    let world = synth::World::new(&cfg);
    let registered = hub::register_world(&h.store, &world, &store::now_utc())?;
    let bar = progress::Progress::new(patients as usize, "loading patients");
    let (mut ok, mut rejected) = (0usize, 0usize);
    let mut example: Option<(String, String)> = None;
    for n in 0..patients {
        // The example patient (the first) also has a referral waiting for consent in the portal.
        let extra = synth::Extra {
            held_referral: n == 0,
        };
        synth::patient_submissions_with(&cfg, &world, n, extra, &mut |sub| {
            let bytes = fhir::json::to_string(&sub.bundle).into_bytes();
            match app::submit::submit(&h, None, &bytes, None) {
                Ok(_) => ok += 1,
                Err(e) => {
                    rejected += 1;
                    if rejected <= 3 {
                        eprintln!(
                            "demo: {} rejected: {:?}",
                            sub.file_name,
                            e.issues.first().map(|i| &i.en)
                        );
                    }
                }
            }
            if example.is_none() {
                let member = sub
                    .bundle
                    .pointer("entry")
                    .map(fhir::json::Value::items)
                    .and_then(|e| e.first())
                    .and_then(|e| e.pointer("resource.identifier"))
                    .map(fhir::json::Value::items)
                    .and_then(|ids| {
                        ids.iter().find_map(|i| {
                            i.get("value")
                                .and_then(fhir::json::Value::as_str)
                                .filter(|v| v.contains(':'))
                        })
                    })
                    .map(str::to_string);
                let inst = sub
                    .bundle
                    .pointer("identifier.value")
                    .and_then(fhir::json::Value::as_str)
                    .and_then(|b| b.split('^').next())
                    .map(str::to_string);
                if let (Some(m), Some(i)) = (member, inst) {
                    example = Some((m, i));
                }
            }
        });
        bar.inc();
    }
    bar.finish();
    let (member, inst) = example.unwrap_or_default();
    let enc = server::percent_encode(&member);
    // The example institution's EMR client: a key pair in the demo's folder, registered.
    let key_path = dir.join(format!("{inst}.pem"));
    let token = demo_client(&h, &inst, &key_path)?;
    let mut people = demo_people(&h, &inst, &member)?;
    let pharmacy = world
        .institutions
        .iter()
        .find(|i| i.kind == synth::tables::InstitutionKind::Pharmacy)
        .map(|i| hub::registry_entry(i).0)
        .unwrap_or_default();
    people.extend(demo_more_people(&h, &pharmacy)?);
    let normalized = clins::InsuranceMemberId::parse(&member)
        .map(|m| m.normalized())
        .unwrap_or_default();
    let _ = h.demo.set(app::Demo {
        hospital: inst.clone(),
        pharmacy,
        patient: normalized,
        operator: "operator".into(),
    });
    println!("clins-hub demo: {ok} submissions loaded ({rejected} rejected) for {patients} synthetic patients");
    println!(
        "store: {} (temporary: removed when the demo stops)",
        dir.display()
    );
    println!("FHIR base: {base}");
    println!("Start page (one-click demo sign-ins): http://{listen}/");
    println!();
    println!("{registered} institutions and insurers registered (clins-hub institutions list).");
    println!();
    println!("Try (development authentication: a header names the caller, see docs/access.md):");
    println!("  curl {base}/metadata");
    println!("  # the qualification service records the patient's viewing consent for the institution (24 h):");
    println!("  curl -X POST -H 'Content-Type: application/fhir+json' -H 'X-Clins-Dev-Role: qualification-service' {base}/Consent \\");
    println!("    -d '{{\"resourceType\":\"Consent\",\"status\":\"active\",\"patient\":{{\"identifier\":{{\"value\":\"{member}\"}}}},\"provision\":{{\"actor\":[{{\"reference\":{{\"identifier\":{{\"value\":\"{inst}\"}}}}}}]}}}}'");
    println!("  curl -H 'X-Clins-Dev-Institution: {inst}' '{base}/Patient/$summary?identifier=http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID|{enc}'");
    println!("  curl -H 'X-Clins-Dev-Institution: {inst}' '{base}/Condition?patient.identifier=http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID|{enc}'");
    println!("  # the patient's own view (portal):");
    println!("  curl -H 'X-Clins-Dev-Patient: {enc}' '{base}/Patient/$summary'");
    println!("  curl -X POST -H 'Content-Type: application/fhir+json' -H 'X-Clins-Dev-Institution: {inst}' --data-binary @bundle.json {base}/Bundle/\\$submit");
    println!();
    println!(
        "With a real access token (SMART Backend Services; the institution's key is {}):",
        key_path.display()
    );
    println!("  TOKEN={token}");
    println!("  # valid 5 minutes; a fresh one: TOKEN=$(clins-hub token --client {inst} --key {} --url http://{listen})", key_path.display());
    println!("  curl -H \"Authorization: Bearer $TOKEN\" '{base}/Patient/$summary?identifier=http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID|{enc}'");
    println!();
    println!("Sign-ins of people (password + TOTP: add the secret to an authenticator app, or compute codes with `oathtool --totp -b SECRET`):");
    for p in &people {
        println!("  {p}");
    }
    println!("  curl -c jar -H 'Content-Type: application/json' -d '{{\"kind\":\"staff\",\"institution\":\"{inst}\",\"login\":\"doctor\",\"password\":\"…\",\"totp\":\"123456\"}}' http://{listen}/auth/login");
    println!("Stop with Ctrl-C.");
    let r = hub::serve(
        h,
        server::Listen::plain(listen),
        store::Durability::Flush,
        |_| {},
    );
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// The exit of a command that either worked (0) or says why not (1).
fn done(name: &str, r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clins-hub {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An error opening the embedded store, with what to do when SQLite found it damaged.
fn damaged_hint(e: &str) -> String {
    if e.contains("malformed") || e.contains("not a database") {
        format!("{e}: the store is damaged; restore the latest backup into a new folder (clins-hub restore, docs/operations.md) and serve from it")
    } else {
        e.to_string()
    }
}
