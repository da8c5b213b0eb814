//! clins-hub storage. One SQL logic ([`Store`]) over two drivers: embedded SQLite (default, a
//! file under the data folder, WAL, one writer and a pool of readers) and PostgreSQL.
//!
//! Architecture invariants:
//! - nothing here knows FHIR or HTTP: callers hand in prepared rows and rendered bytes;
//! - every patient-data row carries `patient_key` and every patient query filters by it;
//! - a submission is stored or replaced in one transaction, or not at all.

#![deny(unsafe_code)]

mod access;
mod audit;
mod auth;
pub mod backup;
pub mod driver;
mod group;
mod journal;
pub use journal::{Durability, FLUSH_EVERY};
mod pgtls;
pub use pgtls::ring_provider;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex};

pub use access::{
    random_id, AccessRecord, ConsentRow, DemographicsRow, DisasterRow, InstitutionRow,
    PatientFacts, PatientSel,
};
pub use audit::{AuditHasher, AuditRow, Checkpoint, TRAIL, WRITES};
pub use auth::{AccountRow, ApplicationRow, ClientKeyRow, ClientRow, SessionRow};
use driver::{Conn, PgConn, Pool, SqliteConn};
pub use driver::{DbError, Dialect, Param, Row};
pub use group::commit_stats;

/// Lowers the calling thread's CPU priority by `steps` nice levels (Linux; elsewhere nothing).
///
/// The embedded store has one writer thread, through which every submission passes: when it
/// waits for a core behind validation work, every client waits. So the threads that validate
/// and render (the server's runtime) run a few steps below it, and so does the checkpoint
/// thread (lower still, it could hold the writer back during a RESTART while starved).
pub fn lower_thread_priority(steps: i32) {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: plain system calls on the calling thread: gettid has no preconditions, and
    // setpriority with PRIO_PROCESS and a thread id changes only that thread's nice value
    // (raising it needs no privilege); a failure is ignored (the priority stays as it was).
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + steps).min(19));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = steps;
}

static ONE_STATEMENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static ONE_STATEMENT_FALLBACKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// PostgreSQL: (units written in one statement, attempts that fell back to the full write)
/// since the process started (`/metrics`).
pub fn one_statement_stats() -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (
        ONE_STATEMENT.load(Relaxed),
        ONE_STATEMENT_FALLBACKS.load(Relaxed),
    )
}

/// Default most PostgreSQL connections open at a time (`--db-connections`).
pub const DEFAULT_PG_CONNECTIONS: usize = 16;
/// Most SQLite reader connections open at a time (reads beyond wait for one). Every one opened
/// is kept: a connection closed and opened again under load prepares its statements again.
const SQLITE_READERS: usize = 32;

/// A reader connection reads the database file through a shared memory map (no copy of each
/// page into a cache of its own: the operating system's page cache serves every connection),
/// and keeps a small cache for the pages of the write-ahead log.
const READER_PRAGMAS: &str = "PRAGMA mmap_size=2147418112; PRAGMA cache_size=-4096;";

/// Size of the write-ahead log at which the checkpoint thread has the writer start it over.
const WAL_RESTART_BYTES: i64 = 64 << 20;

/// How often the checkpoint thread copies the write-ahead log into the database (at 1,000
/// submissions/s the log grows by about 75 MB a second).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The stored form of a body: LZ4 block (marker byte 1, then the size-prefixed block) when that
/// is smaller, the bytes as they are otherwise (JSON starts with `{`, never with byte 1).
///
/// Each thread keeps its compression table and a scratch buffer: a submission packs a dozen
/// bodies, and allocating (and zeroing) a fresh table and a worst-case output for each cost more
/// than compressing them.
pub fn pack(body: &[u8]) -> Vec<u8> {
    use lz4_flex::block::CompressTable;
    thread_local! {
        static SCRATCH: std::cell::RefCell<(CompressTable, Vec<u8>)> =
            std::cell::RefCell::new((CompressTable::default(), Vec::new()));
    }
    SCRATCH.with(|cell| {
        let Ok(mut guard) = cell.try_borrow_mut() else {
            return pack_into(body, &mut CompressTable::default(), &mut Vec::new());
        };
        let (table, out) = &mut *guard;
        let packed = pack_into(body, table, out);
        // A rare body over 1 MB should not pin its output buffer to the thread; the table goes
        // too (a body over 64 KB has grown it to 32-bit entries).
        if out.len() > 1 << 20 {
            *out = Vec::new();
            *table = CompressTable::default();
        }
        packed
    })
}

/// [`pack`] with the given compression table and scratch output buffer.
fn pack_into(
    body: &[u8],
    table: &mut lz4_flex::block::CompressTable,
    out: &mut Vec<u8>,
) -> Vec<u8> {
    use lz4_flex::block::{compress_into_with_table, get_maximum_output_size};
    let need = get_maximum_output_size(body.len());
    if out.len() < need {
        out.resize(need, 0);
    }
    match compress_into_with_table(body, out, table) {
        Ok(n) if n + 5 < body.len() => {
            let mut packed = Vec::with_capacity(n + 5);
            packed.push(1);
            packed.extend_from_slice(&(body.len() as u32).to_le_bytes());
            packed.extend_from_slice(&out[..n]);
            packed
        }
        _ => body.to_vec(),
    }
}

/// The body of a stored form (see [`pack`]). A corrupt block gives an empty body.
pub fn unpack(stored: Vec<u8>) -> Vec<u8> {
    match stored.first() {
        Some(1) => lz4_flex::block::decompress_size_prepended(&stored[1..]).unwrap_or_default(),
        _ => stored,
    }
}

/// The current time in UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn now_utc() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_utc_millis(d.as_millis() as i64)
}

/// Milliseconds since 1970 as `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn format_utc_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    // Written digit by digit: this runs for every indexed date (core::fmt padding is slow).
    fn digits(out: &mut String, n: i64, width: u32) {
        for k in (0..width).rev() {
            let digit = (n / 10_i64.pow(k)).rem_euclid(10) as u8;
            out.push(char::from(b'0' + digit));
        }
    }
    let mut out = String::with_capacity(24);
    if (0..=9999).contains(&y) {
        digits(&mut out, y, 4);
    } else {
        return format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3_600_000,
            rem / 60_000 % 60,
            rem / 1000 % 60,
            rem % 1000
        );
    }
    for (sep, n, width) in [
        ('-', i64::from(m), 2),
        ('-', i64::from(d), 2),
        ('T', rem / 3_600_000, 2),
        (':', rem / 60_000 % 60, 2),
        (':', rem / 1000 % 60, 2),
        ('.', rem % 1000, 3),
    ] {
        out.push(sep);
        digits(&mut out, n, width);
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A resource of a submission, rendered for storage (with its server id and version).
#[derive(Clone, Debug)]
pub struct NewResource {
    pub res_type: String,
    pub res_id: String,
    /// The 6情報 item (`condition`, `allergy`, `drug-allergy`, `lab`, `infection`,
    /// `prescription`) or `other`.
    pub item: String,
    /// `system|code` of the resource's main code (groups lab results per test item).
    pub code_key: String,
    /// The clinical date (onset, effective, authored), UTC, or empty.
    pub effective: String,
    /// Bit set of flags (see `clins::policy`).
    pub flags: i64,
    pub body: Vec<u8>,
    /// (param, system, code).
    pub tokens: Vec<(String, String, String)>,
    /// (param, low, high), UTC.
    pub dates: Vec<(String, String, String)>,
}

/// What a submission stores besides its resources.
#[derive(Clone, Debug)]
pub struct NewSubmission {
    /// Normalised 被保険者個人識別子: the master-patient-index key.
    pub member_id: String,
    pub insurer: String,
    pub institution: String,
    pub bundle_id: String,
    /// `Condition`, `AllergyIntolerance`, `Observation` (6情報 units) or a document kind
    /// (`eReferral`, `eDischargeSummary`, `ePCS`, `eCheckup`).
    pub kind: String,
    pub content_hash: String,
    /// A 6情報 bundle that holds only the Patient: deletes the unit (JP-CLINS 4.2).
    pub delete_only: bool,
    pub document: Option<NewDocument>,
    /// The submitting institution's Organization, stored as its latest.
    pub organization: Option<NewOrganization>,
    /// The patient's 4 情報 rows, written with the Patient when it changes.
    pub demographics: Vec<DemographicsRow>,
    /// Statuses in which the stored unit or document with this Bundle-ID may no longer be
    /// replaced (the caller's policy; a replacement answers `StoreError::State`).
    pub locked: Vec<String>,
    /// Registration time (UTC).
    pub now: String,
}

#[derive(Clone, Debug)]
pub struct NewOrganization {
    /// `o<医療機関番号>`.
    pub org_id: String,
    /// The resource in its stored form ([`pack`]).
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct NewDocument {
    pub doc_id: String,
    pub doc_type: String,
    pub destination: Option<String>,
    pub doc_date: String,
    /// Initial status (`current`, or `held` for a referral without consent).
    pub status: String,
    /// Bundle-IDs of the documents of the same institution this one carries as attachments
    /// (a referral's 退院時サマリー).
    pub attachments: Vec<String>,
    /// The Bundle exactly as submitted, in its stored form ([`pack`]).
    pub bundle: Vec<u8>,
}

/// What the caller renders once the patient key and version are known. Bodies are in their
/// stored form already ([`pack`]): packing is the caller's work, outside the writer.
pub struct Rendered {
    pub patient: Vec<u8>,
    pub resources: Vec<NewResource>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitAction {
    Created,
    Replaced,
    /// Same content as the stored unit: nothing changed.
    Unchanged,
    Deleted,
    /// A delete for a unit that does not exist (or is already deleted).
    NothingToDelete,
}

#[derive(Clone, Debug)]
pub struct SubmitResult {
    pub action: SubmitAction,
    pub patient_key: i64,
    pub unit_key: i64,
    pub version: i64,
    /// (type, id) of the stored resources.
    pub resources: Vec<(String, String)>,
}

#[derive(Debug)]
pub enum StoreError {
    /// The Bundle-ID is already used by this institution for another patient.
    OtherPatient,
    /// Document withdraw or change refused in the current state (e.g. retrieved referral).
    State(String),
    NotFound,
    Db(DbError),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::OtherPatient => f.write_str("the Bundle-ID belongs to another patient"),
            StoreError::State(s) => f.write_str(s),
            StoreError::NotFound => f.write_str("not found"),
            StoreError::Db(e) => write!(f, "database: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        StoreError::Db(e)
    }
}

/// A stored resource version.
#[derive(Clone, Debug)]
pub struct StoredResource {
    pub patient_key: i64,
    pub res_type: String,
    pub res_id: String,
    pub version: i64,
    pub institution: String,
    pub item: String,
    pub code_key: String,
    pub effective: String,
    pub flags: i64,
    pub registered_at: String,
    pub deleted: bool,
    pub body: Vec<u8>,
    /// Status of the unit or document the resource came with (`current`, `held`, …).
    pub unit_status: String,
    /// Kind of that unit or document (`Condition`, …, `eReferral`, `eDischargeSummary`, …).
    pub unit_kind: String,
    /// Its Bundle-ID (a 退院時サマリー is found by it in the referrals that carry it).
    pub unit_bundle_id: String,
}

/// The last columns are facts of the unit the resource came with: its status, kind and
/// Bundle-ID (what they mean for who may see the resource is decided elsewhere).
const RESOURCE_COLUMNS: &str = "r.patient_key, r.res_type, r.res_id, r.version, r.institution, r.item, r.code_key, r.effective, r.flags, r.registered_at, r.deleted, r.body, \
  u.status, u.kind, u.bundle_id";

/// The join that gives [`RESOURCE_COLUMNS`] its unit.
const RESOURCE_UNIT: &str =
    "JOIN units u ON u.patient_key = r.patient_key AND u.unit_key = r.unit_key";

fn stored(row: Row) -> StoredResource {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    StoredResource {
        patient_key: next().int(),
        res_type: next().text(),
        res_id: next().text(),
        version: next().int(),
        institution: next().text(),
        item: next().text(),
        code_key: next().text(),
        effective: next().text(),
        flags: next().int(),
        registered_at: next().text(),
        deleted: next().int() != 0,
        body: unpack(next().blob()),
        unit_status: next().text(),
        unit_kind: next().text(),
        unit_bundle_id: next().text(),
    }
}

/// A stored document (index row; the Bundle is read separately).
#[derive(Clone, Debug)]
pub struct StoredDocument {
    pub doc_id: String,
    pub patient_key: i64,
    pub institution: String,
    pub bundle_id: String,
    pub kind: String,
    pub doc_type: String,
    pub status: String,
    pub destination: Option<String>,
    pub doc_date: String,
    pub registered_at: String,
    pub retrieved_at: Option<String>,
    pub version: i64,
    pub member_id: String,
    /// The status before a cancel (取消), restored by an undo.
    pub prev_status: Option<String>,
    /// 保険者番号 of the patient when the document was registered (健診 go to this insurer).
    pub insurer: String,
}

const DOC_COLUMNS: &str = "u.doc_id, u.patient_key, u.institution, u.bundle_id, u.kind, u.doc_type, u.status, u.destination, u.doc_date, u.registered_at, u.retrieved_at, u.version, p.member_id, u.prev_status, u.insurer";

fn document(row: Row) -> StoredDocument {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    StoredDocument {
        doc_id: next().text(),
        patient_key: next().int(),
        institution: next().text(),
        bundle_id: next().text(),
        kind: next().text(),
        doc_type: next().text(),
        status: next().text(),
        destination: next().opt_text(),
        doc_date: next().text(),
        registered_at: next().text(),
        retrieved_at: next().opt_text(),
        version: next().int(),
        member_id: next().text(),
        prev_status: next().opt_text(),
        insurer: next().text(),
    }
}

/// Filters of a document listing (each `None` = any).
#[derive(Clone, Debug, Default)]
pub struct DocumentFilter {
    pub patient_key: Option<i64>,
    pub destination: Option<String>,
    pub doc_type: Option<String>,
    pub status: Option<String>,
    pub insurer: Option<String>,
    pub kind: Option<String>,
    pub limit: i64,
}

/// What expired: resources of an item registered before a cutoff (LTS ones spared where the
/// item allows LTS), and documents of a kind registered before a cutoff.
#[derive(Clone, Debug, Default)]
pub struct PurgePlan {
    /// (item, cutoff, flag bits that spare a resource: one with any of them is kept).
    pub resources: Vec<(String, String, i64)>,
    /// (document kind, cutoff on registration).
    pub documents: Vec<(String, String)>,
    /// Retrieved referrals whose retrieval is before this cutoff.
    pub retrieved_before: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub resource_versions: u64,
    pub documents: u64,
    /// PostgreSQL: another process was purging (it holds [`PURGE_LOCK`]); this run did
    /// nothing and wrote no audit record.
    pub skipped: bool,
}

/// The PostgreSQL advisory lock (transaction-scoped) that one purge holds at a time, so that
/// several hub nodes on one database never purge together.
pub const PURGE_LOCK: i64 = 0x636c_696e_7370; // "clinsp"

/// A token condition: any of the (system, code) pairs; an empty system matches any system.
#[derive(Clone, Debug)]
pub struct TokenFilter {
    pub param: String,
    pub any_of: Vec<(Option<String>, String)>,
}

/// A date condition on the indexed range `[lo, hi]`, against the search value's range
/// `[from, to]`, by FHIR prefix.
#[derive(Clone, Debug)]
pub struct DateFilter {
    pub param: String,
    pub prefix: String,
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Default)]
pub struct Query {
    pub patient_key: i64,
    pub res_type: String,
    pub tokens: Vec<TokenFilter>,
    pub dates: Vec<DateFilter>,
    /// `_lastUpdated` on the registration time.
    pub registered: Vec<DateFilter>,
    /// Newest first (default) or oldest first.
    pub ascending: bool,
    /// Keyset cursor: (registered_at, res_id) of the last row of the previous page.
    pub after: Option<(String, String)>,
    pub limit: i64,
}

#[derive(Clone)]
pub struct Store {
    /// PostgreSQL: a pool of writers, each write its own transaction.
    writer: Arc<Pool>,
    /// SQLite: the one writer thread with group commit.
    group: Option<Arc<group::GroupWriter>>,
    reader: Arc<Pool>,
    dialect: Dialect,
    /// Background threads stop when the last clone of the store is dropped.
    _alive: Arc<()>,
    /// Organizations this process wrote, by id (see [`Store::submit`]).
    orgs_written: Arc<Mutex<std::collections::HashMap<String, OrgWrites>>>,
    /// PostgreSQL: patient keys of member ids this process has seen stored (a member id's key
    /// never changes), so a new unit of a known patient can be written in one statement
    /// ([`Store::guess`]). Bounded: emptied when it reaches [`PATIENT_KEY_CACHE`] entries.
    patient_keys: Arc<Mutex<std::collections::HashMap<String, i64>>>,
    /// PostgreSQL: patient keys taken from the sequence for patients not stored yet, so that
    /// a new patient's first unit can be rendered before the write and stored in one statement.
    spare_keys: Arc<Mutex<Vec<i64>>>,
    /// SQLite: the last patient key handed out for a patient not stored yet (see
    /// [`Store::guess`]); the writer uses it only if no patient has it.
    last_spare_key: Arc<std::sync::atomic::AtomicI64>,
    /// SQLite: the `trail` audit chain, through its journal into a database file of its own
    /// (`audit.sqlite`), so that its appends, one per request, cost a write to a flat file and
    /// do not make every reader of the patient data start over with an empty page cache
    /// (SQLite resets a connection's cache when the database changed).
    journal: Option<Arc<journal::Journal>>,
    /// A record to append to the audit trail in the next write's transaction
    /// ([`Store::with_audit`]).
    audit_in_write: Option<Arc<(AuditRow, AuditHasher)>>,
}

/// Entries of the patient-key cache of a PostgreSQL store (about 100 bytes each).
const PATIENT_KEY_CACHE: usize = 200_000;

impl Store {
    /// Opens (and migrates) the embedded store in `dir` (created if missing).
    pub fn open_sqlite(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError::Other(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("clins.sqlite");
        let mut first = SqliteConn::open(&path)?;
        schema::migrate(&mut first)?;
        let max_key = first
            .query("SELECT COALESCE(MAX(patient_key), 0) FROM patients", &[])?
            .first()
            .and_then(|r| r.first())
            .map_or(0, Param::int);
        // Checkpoints run beside the writer, not in its commits (PASSIVE: never blocks it).
        // The writer keeps a small page cache: every commit walks it (SQLite truncates the
        // cache at the end of a write transaction), and the hot pages of its appends fit in
        // 8 MB; the readers keep the large one.
        // The log is started over in place (see the checkpoint thread), and cut back to
        // WAL_RESTART_BYTES when it grew beyond.
        first.batch(&format!(
            "PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-8192; PRAGMA journal_size_limit={WAL_RESTART_BYTES}"
        ))?;
        let group = Some(Arc::new(group::GroupWriter::start(Box::new(first))));
        let alive = Arc::new(());
        let watch = Arc::downgrade(&alive);
        let cp_path = path.clone();
        std::thread::Builder::new()
            .name("clins-store-checkpoint".into())
            .spawn(move || {
                let Ok(mut c) = SqliteConn::open(&cp_path) else {
                    return;
                };
                // Below the writer, level with the request threads: a RESTART holds the
                // writer back while it runs, so it must not starve behind them.
                lower_thread_priority(4);
                let page = c
                    .query("PRAGMA page_size", &[])
                    .ok()
                    .and_then(|r| r.first().and_then(|r| r.first()).map(Param::int))
                    .unwrap_or(4096);
                let _ = c.batch(&format!("PRAGMA journal_size_limit={WAL_RESTART_BYTES}"));
                while watch.upgrade().is_some() {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    // PASSIVE copies what it can without blocking the writer. Once the log is long,
                    // RESTART makes the writer start it over from its beginning (a short wait:
                    // most frames are copied already); the file keeps its size, and commits
                    // overwrite it in place.
                    let log_frames = c
                        .query("PRAGMA wal_checkpoint(PASSIVE)", &[])
                        .ok()
                        .and_then(|r| r.first().and_then(|r| r.get(1)).map(Param::int))
                        .unwrap_or(0);
                    if log_frames * page > WAL_RESTART_BYTES {
                        let _ = c.query("PRAGMA wal_checkpoint(RESTART)", &[]);
                    }
                }
            })
            .map_err(|e| DbError::Other(format!("cannot start the checkpoint thread: {e}")))?;
        let writer = Pool::new(
            Box::new(|| {
                Err(DbError::Other(
                    "SQLite writes go through the writer thread".into(),
                ))
            }),
            0,
            1,
        );
        let reader = Pool::new(
            Box::new(move || {
                let mut c = SqliteConn::open(&path)?;
                c.batch(READER_PRAGMAS)?;
                Ok(Box::new(c) as Box<dyn Conn>)
            }),
            SQLITE_READERS,
            SQLITE_READERS,
        );
        let mut audit_db = SqliteConn::open(&dir.join("audit.sqlite"))?;
        audit_db.batch(&schema::audit_tables(Dialect::Sqlite))?;
        // A copy of the journal: on disk when the journal is started over (a checkpoint).
        audit_db.batch("PRAGMA synchronous=NORMAL")?;
        Ok(Store {
            journal: Some(Arc::new(journal::Journal::open(dir, audit_db))),
            audit_in_write: None,
            writer,
            group,
            reader,
            dialect: Dialect::Sqlite,
            _alive: alive,
            orgs_written: Arc::default(),
            patient_keys: Arc::default(),
            spare_keys: Arc::default(),
            last_spare_key: Arc::new(std::sync::atomic::AtomicI64::new(max_key)),
        })
    }

    /// Connects to (and migrates) PostgreSQL, with at most `connections` connections open.
    pub fn open_postgres(url: &str, connections: usize) -> Result<Store, StoreError> {
        let mut first = PgConn::connect(url)?;
        schema::migrate(&mut first)?;
        let u = url.to_string();
        let connections = connections.max(1);
        let pool = Pool::new(
            Box::new(move || Ok(Box::new(PgConn::connect(&u)?) as Box<dyn Conn>)),
            connections,
            connections,
        );
        Ok(Store {
            journal: None,
            audit_in_write: None,
            writer: pool.clone(),
            group: None,
            reader: pool,
            dialect: Dialect::Postgres,
            _alive: Arc::new(()),
            orgs_written: Arc::default(),
            patient_keys: Arc::default(),
            spare_keys: Arc::default(),
            last_spare_key: Arc::default(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Embedded store: copies the write-ahead log into the database and empties it (the end of an
    /// import, a server's shutdown), so that the folder holds no more than the data. Best
    /// effort: a busy database keeps its log for the next checkpoint.
    pub fn checkpoint(&self) {
        if let Some(j) = &self.journal {
            // The audit journal synced, copied into its table and started over.
            j.flush();
            if let Err(e) = j.catch_up().and_then(|_| j.restart_if_copied(0)) {
                tracing::warn!(error = %e, "the audit journal could not be copied; it is kept");
            }
        }
        if self.dialect == Dialect::Sqlite {
            let _ = self.read(|c| c.query("PRAGMA wal_checkpoint(TRUNCATE)", &[]));
        }
    }

    /// The (patient key, version) `sub` will most likely be stored under, for a rendering made
    /// before the write ([`Store::submit`] re-renders when it was wrong); `None` when nothing
    /// is known. The embedded store asks the database (its one writer should not spend its time
    /// rendering), and gives a patient it does not have the next key of its own. PostgreSQL answers without a round trip from the patients this process has
    /// stored, or with a spare key for a patient it has not seen: a new unit, which
    /// [`Store::submit`] then writes in one statement.
    pub fn guess(&self, sub: &NewSubmission) -> Result<Option<(i64, i64)>, StoreError> {
        if sub.delete_only {
            return Ok(None);
        }
        match self.dialect {
            Dialect::Sqlite => Ok(Some(
                match self.next_version(&sub.member_id, &sub.institution, &sub.bundle_id)? {
                    Some(known) => known,
                    None => (
                        self.last_spare_key
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                            + 1,
                        1,
                    ),
                },
            )),
            Dialect::Postgres => {
                let known = self
                    .patient_keys
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&sub.member_id).copied());
                match known {
                    Some(k) => Ok(Some((k, 1))),
                    // Documents take the full write: no spare key for them. Without a spare key
                    // (the sequence could not be read) the full write creates the patient.
                    None if sub.document.is_some() => Ok(None),
                    None => Ok(self.spare_key().ok().flatten().map(|k| (k, 1))),
                }
            }
        }
    }

    /// A patient key from the sequence (taken 32 at a time); `None` if the lock is poisoned.
    fn spare_key(&self) -> Result<Option<i64>, StoreError> {
        let Ok(mut spare) = self.spare_keys.lock() else {
            return Ok(None);
        };
        if spare.is_empty() {
            let keys = self.reader.with(|c| {
                c.query(
                    "SELECT nextval(pg_get_serial_sequence('patients', 'patient_key')) FROM generate_series(1, 32)",
                    &[],
                )
            })?;
            spare.extend(keys.iter().rev().filter_map(|r| r.first()).map(Param::int));
        }
        Ok(spare.pop())
    }

    /// Runs `f` in a write transaction, retrying it when a concurrent transaction won.
    /// With [`Store::with_audit`], the audit record is appended last in the transaction (on
    /// PostgreSQL the chain's lock is taken after every row lock of the write, so no deadlock).
    fn write<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.audit_in_write.clone() {
            Some(audit) => self.write_tx(move |c| {
                let v = f(c)?;
                audit::append_in(c, std::slice::from_ref(&audit.0), audit.1)?;
                Ok(v)
            }),
            None => self.write_tx(f),
        }
    }

    fn write_tx<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if let Some(g) = &self.group {
            return g.write(f);
        }
        let begin = match self.dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED",
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = self.writer.with(|c| {
                c.batch(begin)?;
                match f(c) {
                    Ok(v) => {
                        c.batch("COMMIT")?;
                        Ok(Ok(v))
                    }
                    Err(e) => {
                        let _ = c.batch("ROLLBACK");
                        match e {
                            StoreError::Db(d) => Err(d),
                            other => Ok(Err(other)),
                        }
                    }
                }
            });
            match r {
                Ok(v) => return v,
                Err(DbError::Conflict(_)) if attempt < 8 => {
                    std::thread::sleep(std::time::Duration::from_millis(2 * attempt));
                }
                Err(e) => return Err(StoreError::Db(e)),
            }
        }
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, DbError>,
    ) -> Result<T, StoreError> {
        Ok(self.reader.with(f)?)
    }

    /// A read done at once on the calling thread, when that costs no more than a short call:
    /// on the embedded store with a reader connection idle now. `None` otherwise (PostgreSQL,
    /// whose reads wait on the network, or every reader busy): then read from a blocking task.
    fn read_now<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, DbError>,
    ) -> Option<Result<T, StoreError>> {
        if self.dialect() != Dialect::Sqlite {
            return None;
        }
        self.reader.try_with(f).map(|r| r.map_err(StoreError::from))
    }

    /// Stores a submission atomically: resolves the patient, replaces the unit with the same
    /// (institution, Bundle-ID), or deletes it for a Patient-only bundle. `render` is called
    /// with the patient key and the new version, inside the transaction.
    /// `guess` is a rendering made before the write for (patient key, version) as
    /// [`Store::next_version`] saw them; it is used when they are still right.
    pub fn submit(
        &self,
        mut sub: NewSubmission,
        guess: Option<(i64, i64, Rendered)>,
        render: Box<dyn Fn(i64, i64) -> Rendered + Send>,
    ) -> Result<SubmitResult, StoreError> {
        // An institution's Organization is written unless this process knows the row holds
        // this very body (most submissions repeat it; the row would be a hot spot). It knows
        // that only from a committed write of its own that no other write of the same
        // Organization overlapped, so the order of concurrent commits cannot fool it.
        let org = sub.organization.take().map(|o| {
            let h = org_hash(&o.body);
            (o, h)
        });
        let mut ticket = None;
        if let (Some((o, h)), Ok(mut m)) = (&org, self.orgs_written.lock()) {
            let e = m.entry(o.org_id.clone()).or_default();
            if e.body != Some(*h) || e.writing > 0 {
                let alone = e.writing == 0;
                e.writing += 1;
                e.started += 1;
                ticket = Some((e.started, alone));
                sub.organization = Some(o.clone());
            }
        }
        let mut guess = guess;
        let fast = self.dialect == Dialect::Postgres
            && !sub.delete_only
            && sub.document.is_none()
            && sub.organization.is_none()
            && matches!(guess, Some((_, 1, _)));
        if fast {
            if let Some((k, _, rendered)) = guess.take() {
                // One statement, no transaction around it; a unit that exists already, a
                // changed Patient, a patient stored under another key or a lost race fall
                // through to the full write (re-rendered).
                let known = self
                    .patient_keys
                    .lock()
                    .is_ok_and(|m| m.get(&sub.member_id) == Some(&k));
                // With an audit record, the statement and the record commit together.
                let audit = self.audit_in_write.clone();
                let r = self.writer.with(|c| {
                    if audit.is_some() {
                        c.batch("BEGIN")?;
                    }
                    let r = submit_new_unit(c, &sub, k, known, rendered);
                    if let Some(a) = &audit {
                        let done = match &r {
                            Ok(Some(_)) => audit::append_in(c, std::slice::from_ref(&a.0), a.1)
                                .and_then(|_| c.batch("COMMIT")),
                            _ => Err(DbError::Other("not stored in one statement".into())),
                        };
                        if let Err(e) = done {
                            let _ = c.batch("ROLLBACK");
                            return Err(e);
                        }
                    }
                    r
                });
                if let Ok(Some(r)) = r {
                    if !known {
                        self.remember_patient(&sub.member_id, k);
                    }
                    ONE_STATEMENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(r);
                }
                ONE_STATEMENT_FALLBACKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let member = (self.dialect == Dialect::Postgres).then(|| sub.member_id.clone());
        let r = self.write(move |c| submit_tx(c, &sub, &mut guess, &*render));
        match (member, &r) {
            (Some(m), Ok(done)) if done.action != SubmitAction::NothingToDelete => {
                self.remember_patient(&m, done.patient_key);
            }
            // SQLite: keys made without a spare one (a write re-run on its own) move the
            // counter past them, so that later spare keys are free.
            (None, Ok(done)) if self.dialect == Dialect::Sqlite => {
                self.last_spare_key
                    .fetch_max(done.patient_key, std::sync::atomic::Ordering::Relaxed);
            }
            _ => {}
        }
        if let (Some((o, h)), Some((t, alone)), Ok(mut m)) = (org, ticket, self.orgs_written.lock())
        {
            let e = m.entry(o.org_id).or_default();
            e.writing = e.writing.saturating_sub(1);
            let written = r
                .as_ref()
                .is_ok_and(|r| matches!(r.action, SubmitAction::Created | SubmitAction::Replaced));
            // Known only after a write that overlapped no other: none in flight when it
            // started, none started since.
            e.body = (written && alone && e.writing == 0 && e.started == t).then_some(h);
        }
        r
    }

    /// Remembers the key of a stored patient (PostgreSQL); a key that is not one (0, the answer
    /// for a patient that does not exist) is not remembered.
    fn remember_patient(&self, member_id: &str, patient_key: i64) {
        if patient_key <= 0 {
            return;
        }
        if let Ok(mut keys) = self.patient_keys.lock() {
            if keys.len() >= PATIENT_KEY_CACHE {
                keys.clear();
            }
            keys.insert(member_id.to_string(), patient_key);
        }
    }

    /// The patient key of a member id and the version the unit (institution, Bundle-ID) would
    /// get if stored now; `None` for a new patient.
    pub fn next_version(
        &self,
        member_id: &str,
        institution: &str,
        bundle_id: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        self.read(|c| {
            let rows = c.query(
                "SELECT p.patient_key, COALESCE((SELECT u.version FROM units u WHERE u.institution = ?2 AND u.bundle_id = ?3), 0) FROM patients p WHERE p.member_id = ?1",
                &[member_id.into(), institution.into(), bundle_id.into()],
            )?;
            Ok(rows.first().map(|r| (r[0].int(), r[1].int() + 1)))
        })
    }

    /// Withdraws a unit (delete) or cancels a document (取消) of `institution`.
    /// `locked`: statuses in which the unit or document may no longer be withdrawn (the
    /// caller's policy); withdrawing one answers `StoreError::State`.
    pub fn withdraw(
        &self,
        institution: &str,
        bundle_id: &str,
        now: &str,
        locked: &[String],
    ) -> Result<SubmitResult, StoreError> {
        let (i, b, n, l) = (
            institution.to_string(),
            bundle_id.to_string(),
            now.to_string(),
            locked.to_vec(),
        );
        self.write(move |c| withdraw_tx(c, &i, &b, &n, &l))
    }

    /// Sets a document's status (`current`, `held`, `retrieved`, `cancelled`), optionally only
    /// from one of `from`.
    pub fn set_document_status(
        &self,
        doc_id: &str,
        from: &[&str],
        to: &str,
        now: &str,
    ) -> Result<StoredDocument, StoreError> {
        let (doc_id, to, now) = (doc_id.to_string(), to.to_string(), now.to_string());
        let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
        self.write(move |c| {
            let (doc_id, to, now) = (doc_id.as_str(), to.as_str(), now.as_str());
            let rows = c.query(
                &format!("SELECT {DOC_COLUMNS} FROM units u JOIN patients p ON p.patient_key = u.patient_key WHERE u.doc_id = ?1"),
                &[doc_id.into()],
            )?;
            let Some(doc) = rows.into_iter().next().map(document) else {
                return Err(StoreError::NotFound);
            };
            if !from.is_empty() && !from.contains(&doc.status) {
                return Err(StoreError::State(doc.status));
            }
            let retrieved = if to == "retrieved" { Some(now.to_string()) } else { doc.retrieved_at.clone() };
            c.execute(
                "UPDATE units SET status = ?1, retrieved_at = ?2 WHERE doc_id = ?3",
                &[to.into(), retrieved.clone().into(), doc_id.into()],
            )?;
            Ok(StoredDocument { status: to.to_string(), retrieved_at: retrieved, ..doc })
        })
    }

    /// The patient key and current Patient resource of a normalised member id.
    pub fn patient_by_member(&self, member_id: &str) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        self.read(|c| {
            let rows = c.query(
                "SELECT patient_key, resource FROM patients WHERE member_id = ?1",
                &[member_id.into()],
            )?;
            Ok(rows.into_iter().next().map(|r| {
                let mut it = r.into_iter();
                let k = it.next().map_or(0, |v| v.int());
                (k, unpack(it.next().map(Param::blob).unwrap_or_default()))
            }))
        })
    }

    /// The current Patient resource and member id of a patient key.
    pub fn patient(&self, patient_key: i64) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.read(|c| {
            let rows = c.query(
                "SELECT member_id, resource FROM patients WHERE patient_key = ?1",
                &[patient_key.into()],
            )?;
            Ok(rows.into_iter().next().map(|r| {
                let mut it = r.into_iter();
                let m = it.next().map(|v| v.text()).unwrap_or_default();
                (m, unpack(it.next().map(Param::blob).unwrap_or_default()))
            }))
        })
    }

    /// Every current resource of a patient (the summary's input), newest registration first.
    pub fn current_resources(&self, patient_key: i64) -> Result<Vec<StoredResource>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {RESOURCE_COLUMNS} FROM resources r {RESOURCE_UNIT} WHERE r.patient_key = ?1 AND r.current = 1 AND r.deleted = 0 ORDER BY r.registered_at DESC, r.res_id"),
                &[patient_key.into()],
            )?
            .into_iter()
            .map(stored)
            .collect())
        })
    }

    /// Current resources of one type of a patient matching `q`, one page.
    pub fn search(&self, q: &Query) -> Result<Vec<StoredResource>, StoreError> {
        let mut sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r {RESOURCE_UNIT} WHERE r.patient_key = ?1 AND r.res_type = ?2 AND r.current = 1 AND r.deleted = 0"
        );
        let mut params: Vec<Param> = vec![q.patient_key.into(), q.res_type.clone().into()];
        let bind = |params: &mut Vec<Param>, p: Param| {
            params.push(p);
            format!("?{}", params.len())
        };
        for t in &q.tokens {
            let mut alts = Vec::new();
            for (system, code) in &t.any_of {
                let c = bind(&mut params, code.clone().into());
                match system {
                    Some(s) => {
                        let s = bind(&mut params, s.clone().into());
                        alts.push(format!("(t.code = {c} AND t.system = {s})"));
                    }
                    None => alts.push(format!("t.code = {c}")),
                }
            }
            let p = bind(&mut params, t.param.clone().into());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM search_token t WHERE t.patient_key = r.patient_key AND t.unit_key = r.unit_key AND t.res_id = r.res_id AND t.param = {p} AND ({}))",
                alts.join(" OR ")
            ));
        }
        for d in &q.dates {
            let p = bind(&mut params, d.param.clone().into());
            let cond = date_condition(&d.prefix, "d.lo", "d.hi", &mut params, &d.from, &d.to);
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM search_date d WHERE d.patient_key = r.patient_key AND d.unit_key = r.unit_key AND d.res_id = r.res_id AND d.param = {p} AND {cond})"
            ));
        }
        for d in &q.registered {
            let cond = date_condition(
                &d.prefix,
                "r.registered_at",
                "r.registered_at",
                &mut params,
                &d.from,
                &d.to,
            );
            sql.push_str(&format!(" AND {cond}"));
        }
        let (cmp, order) = if q.ascending {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if let Some((at, id)) = &q.after {
            let a = bind(&mut params, at.clone().into());
            let i = bind(&mut params, id.clone().into());
            sql.push_str(&format!(
                " AND (r.registered_at {cmp} {a} OR (r.registered_at = {a} AND r.res_id {cmp} {i}))"
            ));
        }
        let l = bind(&mut params, q.limit.into());
        sql.push_str(&format!(
            " ORDER BY r.registered_at {order}, r.res_id {order} LIMIT {l}"
        ));
        self.read(|c| Ok(c.query(&sql, &params)?.into_iter().map(stored).collect()))
    }

    /// Every version of a resource, newest first.
    pub fn history(&self, res_type: &str, res_id: &str) -> Result<Vec<StoredResource>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {RESOURCE_COLUMNS} FROM resources r {RESOURCE_UNIT} WHERE r.res_type = ?1 AND r.res_id = ?2 ORDER BY r.version DESC"),
                &[res_type.into(), res_id.into()],
            )?
            .into_iter()
            .map(stored)
            .collect())
        })
    }

    /// The normalised member id of the patient of the unit (institution, Bundle-ID), if stored.
    pub fn unit_member(
        &self,
        institution: &str,
        bundle_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT p.member_id FROM units u JOIN patients p ON p.patient_key = u.patient_key WHERE u.institution = ?1 AND u.bundle_id = ?2",
                &[institution.into(), bundle_id.into()],
            )?
            .pop()
            .and_then(|mut r| r.pop())
            .map(|v| v.text()))
        })
    }

    /// Stored Organizations by id (those that exist), as JSON.
    pub fn organizations(&self, ids: &[String]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.read(|c| {
            let mut out = Vec::new();
            for id in ids {
                if let Some(mut r) = c
                    .query(
                        "SELECT body FROM organizations WHERE org_id = ?1",
                        &[id.clone().into()],
                    )?
                    .pop()
                {
                    out.push((
                        id.clone(),
                        unpack(r.pop().map(Param::blob).unwrap_or_default()),
                    ));
                }
            }
            Ok(out)
        })
    }

    /// The documents (referrals) that carry the document `bundle_id` of `institution` as an
    /// attachment.
    pub fn carriers(
        &self,
        patient_key: i64,
        institution: &str,
        bundle_id: &str,
    ) -> Result<Vec<StoredDocument>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {DOC_COLUMNS} FROM doc_links l JOIN units u ON u.patient_key = l.patient_key AND u.unit_key = l.unit_key JOIN patients p ON p.patient_key = u.patient_key WHERE l.patient_key = ?1 AND l.institution = ?2 AND l.attached = ?3 ORDER BY u.registered_at DESC"),
                &[patient_key.into(), institution.into(), bundle_id.into()],
            )?
            .into_iter()
            .map(document)
            .collect())
        })
    }

    /// Documents matching the filters (each `None` = any).
    pub fn documents(&self, f: &DocumentFilter) -> Result<Vec<StoredDocument>, StoreError> {
        let mut sql = format!("SELECT {DOC_COLUMNS} FROM units u JOIN patients p ON p.patient_key = u.patient_key WHERE u.doc_id IS NOT NULL");
        let mut params: Vec<Param> = Vec::new();
        let (patient_key, limit) = (f.patient_key, f.limit);
        for (col, v) in [
            ("u.destination", f.destination.clone()),
            ("u.doc_type", f.doc_type.clone()),
            ("u.status", f.status.clone()),
            ("u.insurer", f.insurer.clone()),
            ("u.kind", f.kind.clone()),
        ] {
            if let Some(v) = v {
                params.push(v.into());
                sql.push_str(&format!(" AND {col} = ?{}", params.len()));
            }
        }
        if let Some(k) = patient_key {
            params.push(k.into());
            sql.push_str(&format!(" AND u.patient_key = ?{}", params.len()));
        }
        // The limit is written into the statement (an integer of the caller's, not input):
        // SQLite re-prepares, on every execution, a statement whose LIMIT is a bound parameter
        // (docs/benchmarks.md, "Web pages").
        sql.push_str(&format!(
            " ORDER BY u.registered_at DESC, u.doc_id LIMIT {}",
            limit.max(0)
        ));
        self.read(|c| Ok(c.query(&sql, &params)?.into_iter().map(document).collect()))
    }

    /// A document's index row and its Bundle as submitted.
    pub fn document(&self, doc_id: &str) -> Result<Option<(StoredDocument, Vec<u8>)>, StoreError> {
        self.read(|c| {
            let rows = c.query(
                &format!("SELECT {DOC_COLUMNS}, u.bundle FROM units u JOIN patients p ON p.patient_key = u.patient_key WHERE u.doc_id = ?1"),
                &[doc_id.into()],
            )?;
            Ok(rows.into_iter().next().map(|mut r| {
                let bundle = unpack(r.pop().map(Param::blob).unwrap_or_default());
                (document(r), bundle)
            }))
        })
    }

    /// Deletes what `plan` says has expired: resource versions with their index rows, and the
    /// stored Bundles of expired documents (their index row stays, with status `expired`).
    ///
    /// With [`Store::with_audit`], the record is appended in the purge's transaction with what
    /// was deleted added to its `detail` (`resource-versions=N documents=M`).
    pub fn purge(&self, plan: &PurgePlan) -> Result<PurgeReport, StoreError> {
        let plan = plan.clone();
        let audit = self.audit_in_write.clone();
        self.write_tx(move |c| {
            let mut report = PurgeReport::default();
            if c.dialect() == Dialect::Postgres {
                let got = c
                    .query(
                        &format!("SELECT CASE WHEN pg_try_advisory_xact_lock({PURGE_LOCK}) THEN 1 ELSE 0 END"),
                        &[],
                    )?
                    .first()
                    .and_then(|r| r.first())
                    .map_or(0, |v| v.int());
                if got != 1 {
                    report.skipped = true;
                    return Ok(report);
                }
            }
            for (item, cutoff, spared) in &plan.resources {
                let which = "item = ?1 AND registered_at < ?2 AND (flags & ?3) = 0";
                let p = [item.clone().into(), cutoff.clone().into(), (*spared).into()];
                for table in ["search_token", "search_date"] {
                    c.execute(
                        &format!("DELETE FROM {table} WHERE (patient_key, unit_key, res_id) IN (SELECT patient_key, unit_key, res_id FROM resources WHERE current = 1 AND {which})"),
                        &p,
                    )?;
                }
                report.resource_versions += c.execute(&format!("DELETE FROM resources WHERE {which}"), &p)?;
            }
            for (kind, cutoff) in &plan.documents {
                report.documents += c.execute(
                    "UPDATE units SET status = 'expired', bundle = NULL WHERE kind = ?1 AND doc_id IS NOT NULL AND status <> 'expired' AND registered_at < ?2",
                    &[kind.clone().into(), cutoff.clone().into()],
                )?;
            }
            if let Some(cutoff) = &plan.retrieved_before {
                report.documents += c.execute(
                    "UPDATE units SET status = 'expired', bundle = NULL WHERE status = 'retrieved' AND retrieved_at < ?1",
                    &[cutoff.clone().into()],
                )?;
            }
            if let Some(a) = &audit {
                let mut row = a.0.clone();
                let counts = format!(
                    "resource-versions={} documents={}",
                    report.resource_versions, report.documents
                );
                row.detail = if row.detail.is_empty() {
                    counts
                } else {
                    format!("{} {counts}", row.detail)
                };
                audit::append_in(c, &[row], a.1)?;
            }
            Ok(report)
        })
    }

    /// Row counts (units, current resources, all resource versions), for tests and metrics.
    pub fn counts(&self) -> Result<(i64, i64, i64), StoreError> {
        self.read(|c| {
            let n = |c: &mut dyn Conn, sql: &str| -> Result<i64, DbError> {
                Ok(c.query(sql, &[])?
                    .first()
                    .and_then(|r| r.first())
                    .map_or(0, |v| v.int()))
            };
            Ok((
                n(c, "SELECT COUNT(*) FROM units")?,
                n(
                    c,
                    "SELECT COUNT(*) FROM resources WHERE current = 1 AND deleted = 0",
                )?,
                n(c, "SELECT COUNT(*) FROM resources")?,
            ))
        })
    }

    /// Checks that the database answers (readiness).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query("SELECT 1", &[]).map(|_| ()))
    }
}

/// SQL for a FHIR date prefix on a stored range `[lo, hi]` against the value range `[from, to]`.
fn date_condition(
    prefix: &str,
    lo: &str,
    hi: &str,
    params: &mut Vec<Param>,
    from: &str,
    to: &str,
) -> String {
    // Only the bounds a prefix uses are bound: PostgreSQL refuses parameters it cannot type.
    let mut bind = |v: &str| {
        params.push(v.into());
        format!("?{}", params.len())
    };
    match prefix {
        "ne" => {
            let (f, t) = (bind(from), bind(to));
            format!("({hi} < {f} OR {lo} > {t})")
        }
        "gt" | "sa" => format!("{hi} > {}", bind(to)),
        "lt" | "eb" => format!("{lo} < {}", bind(from)),
        "ge" => format!("{hi} >= {}", bind(from)),
        "le" => format!("{lo} <= {}", bind(to)),
        // eq: the stored range lies within the value's range.
        _ => {
            let (f, t) = (bind(from), bind(to));
            format!("({lo} >= {f} AND {hi} <= {t})")
        }
    }
}

fn submit_tx(
    c: &mut dyn Conn,
    sub: &NewSubmission,
    guess: &mut Option<(i64, i64, Rendered)>,
    render: &dyn Fn(i64, i64) -> Rendered,
) -> Result<SubmitResult, StoreError> {
    let lock = if c.dialect() == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let existing = c
        .query(
            &format!("SELECT unit_key, patient_key, version, content_hash, status FROM units WHERE institution = ?1 AND bundle_id = ?2{lock}"),
            &[sub.institution.clone().into(), sub.bundle_id.clone().into()],
        )?
        .into_iter()
        .next();
    // The patient: an existing key for the member id, or a new one (created below, after the
    // checks: a refused write must not have written anything, see group.rs).
    let (found, stored_patient) = match c
        .query(
            "SELECT patient_key, resource FROM patients WHERE member_id = ?1",
            &[sub.member_id.clone().into()],
        )?
        .pop()
    {
        Some(mut r) if r.len() == 2 => {
            let body = r.pop().map(Param::blob);
            (Some(r[0].int()), body)
        }
        _ => (None, None),
    };
    let patient_key = found.unwrap_or(0);
    let (unit_key, old_version) = match &existing {
        Some(row) => {
            let (uk, pk, v, hash, status) = (
                row[0].int(),
                row[1].int(),
                row[2].int(),
                row[3].text(),
                row[4].text(),
            );
            if found != Some(pk) {
                return Err(StoreError::OtherPatient);
            }
            if sub.locked.contains(&status) {
                // The caller's policy: a unit or document in this status may no longer change.
                return Err(StoreError::State(status));
            }
            let live = status != "deleted" && status != "cancelled" && status != "expired";
            if hash == sub.content_hash && live {
                let ids = c
                    .query(
                        "SELECT res_type, res_id FROM resources WHERE patient_key = ?2 AND unit_key = ?1 AND current = 1",
                        &[uk.into(), pk.into()],
                    )?
                    .into_iter()
                    .map(|r| (r[0].text(), r[1].text()))
                    .collect();
                return Ok(SubmitResult {
                    action: SubmitAction::Unchanged,
                    patient_key,
                    unit_key: uk,
                    version: v,
                    resources: ids,
                });
            }
            if sub.delete_only && !live {
                return Ok(SubmitResult {
                    action: SubmitAction::NothingToDelete,
                    patient_key,
                    unit_key: uk,
                    version: v,
                    resources: Vec::new(),
                });
            }
            (Some(uk), v)
        }
        None => (None, 0),
    };
    if sub.delete_only && unit_key.is_none() {
        return Ok(SubmitResult {
            action: SubmitAction::NothingToDelete,
            patient_key,
            unit_key: 0,
            version: 0,
            resources: Vec::new(),
        });
    }
    // A new patient gets the key the rendering was made for, unless another has it by now.
    let spare = match (found, guess.as_ref()) {
        (None, Some((k, _, _))) if *k > 0 => insert_patient(c, sub, Some(*k))?,
        _ => None,
    };
    let patient_key = match found.or(spare) {
        Some(k) => k,
        None => insert_patient(c, sub, None)?.unwrap_or(0),
    };
    let version = old_version + 1;
    let rendered = match guess.take() {
        Some((k, v, r)) if (k, v) == (patient_key, version) => r,
        _ => render(patient_key, version),
    };
    // The patient's latest Patient resource (most submissions repeat the stored one).
    if stored_patient.as_ref() != Some(&rendered.patient) {
        c.execute(
            "UPDATE patients SET resource = ?1, updated_at = ?2 WHERE patient_key = ?3",
            &[
                rendered.patient.into(),
                sub.now.clone().into(),
                patient_key.into(),
            ],
        )?;
        access::replace_demographics(c, patient_key, &sub.demographics, stored_patient.is_none())?;
    }
    let doc = sub.document.as_ref();
    let status = if sub.delete_only {
        "deleted".to_string()
    } else {
        doc.map_or("current".to_string(), |d| d.status.clone())
    };
    let unit_key = match unit_key {
        Some(uk) => {
            retire(c, patient_key, uk, version, &sub.now)?;
            c.execute(
                "UPDATE units SET version = ?1, status = ?2, content_hash = ?3, registered_at = ?4, doc_type = ?5, destination = ?6, doc_date = ?7, retrieved_at = NULL, bundle = ?8, insurer = ?10, prev_status = NULL WHERE unit_key = ?9",
                &[
                    version.into(),
                    status.into(),
                    sub.content_hash.clone().into(),
                    sub.now.clone().into(),
                    doc.map(|d| d.doc_type.clone()).into(),
                    doc.and_then(|d| d.destination.clone()).into(),
                    doc.map(|d| d.doc_date.clone()).into(),
                    doc.map_or(Param::Null, |d| Param::Blob(d.bundle.clone())),
                    uk.into(),
                    sub.insurer.clone().into(),
                ],
            )?;
            uk
        }
        None => c
            .query(
                "INSERT INTO units (patient_key, institution, bundle_id, kind, version, status, content_hash, registered_at, doc_id, doc_type, destination, doc_date, bundle, insurer) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING unit_key",
                &[
                    patient_key.into(),
                    sub.institution.clone().into(),
                    sub.bundle_id.clone().into(),
                    sub.kind.clone().into(),
                    version.into(),
                    status.into(),
                    sub.content_hash.clone().into(),
                    sub.now.clone().into(),
                    doc.map(|d| d.doc_id.clone()).into(),
                    doc.map(|d| d.doc_type.clone()).into(),
                    doc.and_then(|d| d.destination.clone()).into(),
                    doc.map(|d| d.doc_date.clone()).into(),
                    doc.map_or(Param::Null, |d| Param::Blob(d.bundle.clone())),
                    sub.insurer.clone().into(),
                ],
            )?
            .first()
            .and_then(|r| r.first())
            .map_or(0, |v| v.int()),
    };
    if let Some(o) = &sub.organization {
        c.execute(
            "INSERT INTO organizations (org_id, body, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (org_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            &[o.org_id.clone().into(), o.body.clone().into(), sub.now.clone().into()],
        )?;
    }
    if let Some(d) = doc {
        if old_version > 0 {
            c.execute(
                "DELETE FROM doc_links WHERE patient_key = ?1 AND unit_key = ?2",
                &[patient_key.into(), unit_key.into()],
            )?;
        }
        let mut attached: Vec<&String> = d.attachments.iter().collect();
        attached.sort();
        attached.dedup();
        for a in attached {
            c.execute(
                "INSERT INTO doc_links (patient_key, institution, attached, unit_key) VALUES (?1, ?2, ?3, ?4)",
                &[
                    patient_key.into(),
                    sub.institution.clone().into(),
                    a.clone().into(),
                    unit_key.into(),
                ],
            )?;
        }
    }
    if sub.delete_only {
        return Ok(SubmitResult {
            action: SubmitAction::Deleted,
            patient_key,
            unit_key,
            version,
            resources: Vec::new(),
        });
    }
    let ids = rendered
        .resources
        .iter()
        .map(|r| (r.res_type.clone(), r.res_id.clone()))
        .collect();
    let unit = UnitVersion {
        patient_key,
        unit_key,
        version,
        institution: &sub.institution,
        now: &sub.now,
        replacing: old_version > 0,
    };
    insert_resources(c, &unit, rendered.resources)?;
    Ok(SubmitResult {
        action: if old_version == 0 {
            SubmitAction::Created
        } else {
            SubmitAction::Replaced
        },
        patient_key,
        unit_key,
        version,
        resources: ids,
    })
}

/// Creates the patient of `sub` (its Patient resource is written after): under `key` if no
/// patient has it (`None` back if one has), or under a new key.
fn insert_patient(
    c: &mut dyn Conn,
    sub: &NewSubmission,
    key: Option<i64>,
) -> Result<Option<i64>, DbError> {
    let mut params = vec![
        sub.member_id.clone().into(),
        sub.insurer.clone().into(),
        Vec::<u8>::new().into(),
        sub.now.clone().into(),
    ];
    let sql = match key {
        Some(k) => {
            params.push(k.into());
            "INSERT INTO patients (patient_key, member_id, insurer, resource, updated_at) SELECT ?5, ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM patients WHERE patient_key = ?5) RETURNING patient_key"
        }
        None => "INSERT INTO patients (member_id, insurer, resource, updated_at) VALUES (?1, ?2, ?3, ?4) RETURNING patient_key",
    };
    Ok(c.query(sql, &params)?
        .first()
        .and_then(|r| r.first())
        .map(Param::int))
}

/// What a process knows of an Organization row.
#[derive(Default)]
struct OrgWrites {
    /// Hash of the body the row holds, when known for sure.
    body: Option<u64>,
    /// Writes of it in flight.
    writing: u32,
    /// Writes of it started so far (tells whether another one overlapped).
    started: u64,
}

fn org_hash(body: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// Retires the current resources of a unit: they stop being current, their index rows go, and
/// each gets a deleted version `version` in its history (unless the new version re-inserts it,
/// which replaces the tombstone below).
fn retire(
    c: &mut dyn Conn,
    patient_key: i64,
    unit_key: i64,
    version: i64,
    now: &str,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO resources (patient_key, res_type, res_id, version, unit_key, institution, item, code_key, effective, flags, registered_at, current, deleted, body) SELECT patient_key, res_type, res_id, ?1, unit_key, institution, item, code_key, effective, flags, ?2, 0, 1, ?3 FROM resources WHERE patient_key = ?5 AND unit_key = ?4 AND current = 1",
        &[version.into(), now.into(), Vec::<u8>::new().into(), unit_key.into(), patient_key.into()],
    )?;
    for table in ["search_token", "search_date"] {
        c.execute(
            &format!("DELETE FROM {table} WHERE patient_key = ?2 AND unit_key = ?1"),
            &[unit_key.into(), patient_key.into()],
        )?;
    }
    c.execute(
        "UPDATE resources SET current = 0 WHERE patient_key = ?2 AND unit_key = ?1 AND current = 1",
        &[unit_key.into(), patient_key.into()],
    )?;
    Ok(())
}

/// The version of a unit being written: where its resources go.
struct UnitVersion<'a> {
    patient_key: i64,
    unit_key: i64,
    version: i64,
    institution: &'a str,
    /// Registration time.
    now: &'a str,
    /// An earlier version exists (its tombstones of this version are replaced).
    replacing: bool,
}

/// Inserts the resources of a unit and their index rows, a few statements for the whole unit
/// (SQLite: multi-row INSERTs of up to 64 rows; PostgreSQL: [`insert_resources_unnest`]).
fn insert_resources(
    c: &mut dyn Conn,
    unit: &UnitVersion<'_>,
    resources: Vec<NewResource>,
) -> Result<(), DbError> {
    if c.dialect() == Dialect::Postgres {
        return insert_resources_unnest(c, unit, resources);
    }
    let UnitVersion {
        patient_key,
        unit_key,
        version,
        institution,
        now,
        replacing,
    } = *unit;
    let mut rows = Vec::with_capacity(resources.len());
    let mut tokens = Vec::new();
    let mut dates = Vec::new();
    for r in resources {
        // A tombstone of this version written by `retire` is replaced by the live row.
        if replacing {
            c.execute(
                "DELETE FROM resources WHERE patient_key = ?4 AND res_type = ?1 AND res_id = ?2 AND version = ?3",
                &[r.res_type.clone().into(), r.res_id.clone().into(), version.into(), patient_key.into()],
            )?;
        }
        let (rt, id): (Param, Param) = (r.res_type.into(), r.res_id.into());
        let index_rows = |values: Vec<(String, String, String)>| {
            unique(values).into_iter().map(|(param, a, b)| {
                vec![
                    Param::Int(patient_key),
                    Param::Int(unit_key),
                    id.clone(),
                    param.into(),
                    a.into(),
                    b.into(),
                ]
            })
        };
        // Tokens are stored (param, code, system): the lookup is by code.
        tokens.extend(index_rows(
            r.tokens.into_iter().map(|(p, s, c)| (p, c, s)).collect(),
        ));
        dates.extend(index_rows(r.dates));
        rows.push(vec![
            Param::Int(patient_key),
            rt,
            id,
            Param::Int(version),
            Param::Int(unit_key),
            institution.into(),
            r.item.into(),
            r.code_key.into(),
            r.effective.into(),
            Param::Int(r.flags),
            now.into(),
            Param::Int(1),
            Param::Int(0),
            r.body.into(),
        ]);
    }
    insert_rows(
        c,
        "resources (patient_key, res_type, res_id, version, unit_key, institution, item, code_key, effective, flags, registered_at, current, deleted, body)",
        rows,
    )?;
    insert_rows(
        c,
        "search_token (patient_key, unit_key, res_id, param, code, system)",
        tokens,
    )?;
    insert_rows(
        c,
        "search_date (patient_key, unit_key, res_id, param, lo, hi)",
        dates,
    )
}

/// The values of a resource's index rows, each once: (param, value, value).
fn unique(mut values: Vec<(String, String, String)>) -> Vec<(String, String, String)> {
    values.sort_unstable();
    values.dedup();
    values
}

/// [`insert_resources`] on PostgreSQL: one statement for the resources and their index rows,
/// with the values as arrays (`UNNEST`), so the statement text is the same for every unit
/// (prepared once per connection) and a unit costs one round trip.
fn insert_resources_unnest(
    c: &mut dyn Conn,
    unit: &UnitVersion<'_>,
    resources: Vec<NewResource>,
) -> Result<(), DbError> {
    let UnitVersion {
        patient_key,
        unit_key,
        version,
        institution,
        now,
        replacing,
    } = *unit;
    let a = UnnestArrays::new(resources);
    if replacing {
        // Tombstones of this version written by `retire` are replaced by the live rows.
        c.execute(
            "DELETE FROM resources WHERE patient_key = ?1 AND version = ?2 AND (res_type, res_id) IN (SELECT * FROM UNNEST(?3::text[], ?4::text[]))",
            &[
                patient_key.into(),
                version.into(),
                Param::Texts(a.types.clone()),
                Param::Texts(a.ids.clone()),
            ],
        )?;
    }
    let mut params = vec![
        patient_key.into(),
        version.into(),
        unit_key.into(),
        institution.into(),
        now.into(),
    ];
    a.push_params(&mut params);
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let rows = unnest_inserts(
            "?1::bigint",
            "?2::bigint",
            "?3::bigint",
            "?4::text",
            "?5::text",
            "",
            6,
        );
        format!("WITH {rows} SELECT 1")
    });
    c.execute(&SQL, &params)?;
    Ok(())
}

/// The `WITH` parts `r`, `tk` and `d` of a PostgreSQL statement that inserts a unit's resources
/// and index rows from the 15 arrays of [`UnnestArrays::push_params`], bound from placeholder
/// `first` on. `key`, `version`, `unit`, `institution` and `now` are the SQL of those values;
/// `from` is what the rows come from besides the arrays (`u, ` when the same statement inserts
/// the unit).
fn unnest_inserts(
    key: &str,
    version: &str,
    unit: &str,
    institution: &str,
    now: &str,
    from: &str,
    first: usize,
) -> String {
    let a = |k: usize| format!("?{}", first + k);
    format!(
        "r AS (INSERT INTO resources (patient_key, res_type, res_id, version, unit_key, institution, item, code_key, effective, flags, registered_at, current, deleted, body) \
           SELECT {key}, t, i, {version}, {unit}, {institution}, it, ck, ef, fl, {now}, 1, 0, b \
           FROM {from}UNNEST({}::text[], {}::text[], {}::text[], {}::text[], {}::text[], {}::bigint[], {}::bytea[]) AS x(t, i, it, ck, ef, fl, b)), \
         tk AS (INSERT INTO search_token (patient_key, unit_key, res_id, param, code, system) \
           SELECT {key}, {unit}, i, p, c, s FROM {from}UNNEST({}::text[], {}::text[], {}::text[], {}::text[]) AS y(i, p, c, s)), \
         d AS (INSERT INTO search_date (patient_key, unit_key, res_id, param, lo, hi) \
           SELECT {key}, {unit}, i, p, l, h FROM {from}UNNEST({}::text[], {}::text[], {}::text[], {}::text[]) AS z(i, p, l, h))",
        a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14)
    )
}

/// The resources of a unit and their index rows as columns, for PostgreSQL's `UNNEST`.
struct UnnestArrays {
    types: Vec<String>,
    ids: Vec<String>,
    items: Vec<String>,
    codes: Vec<String>,
    effective: Vec<String>,
    flags: Vec<i64>,
    bodies: Vec<Vec<u8>>,
    /// res_id, param, code, system.
    tokens: [Vec<String>; 4],
    /// res_id, param, lo, hi.
    dates: [Vec<String>; 4],
}

impl UnnestArrays {
    fn new(resources: Vec<NewResource>) -> UnnestArrays {
        let n = resources.len();
        let mut a = UnnestArrays {
            types: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
            codes: Vec::with_capacity(n),
            effective: Vec::with_capacity(n),
            flags: Vec::with_capacity(n),
            bodies: Vec::with_capacity(n),
            tokens: Default::default(),
            dates: Default::default(),
        };
        for r in resources {
            // Tokens are stored (param, code, system): the lookup is by code.
            for (p, code, system) in
                unique(r.tokens.into_iter().map(|(p, s, c)| (p, c, s)).collect())
            {
                for (col, v) in a.tokens.iter_mut().zip([r.res_id.clone(), p, code, system]) {
                    col.push(v);
                }
            }
            for (p, lo, hi) in unique(r.dates) {
                for (col, v) in a.dates.iter_mut().zip([r.res_id.clone(), p, lo, hi]) {
                    col.push(v);
                }
            }
            a.types.push(r.res_type);
            a.ids.push(r.res_id);
            a.items.push(r.item);
            a.codes.push(r.code_key);
            a.effective.push(r.effective);
            a.flags.push(r.flags);
            a.bodies.push(r.body);
        }
        a
    }

    /// Appends the 15 arrays: resources (type, id, item, code key, effective, flags, body),
    /// tokens (id, param, code, system), dates (id, param, lo, hi).
    fn push_params(self, params: &mut Vec<Param>) {
        let [t_ids, t_params, t_codes, t_systems] = self.tokens;
        let [d_ids, d_params, d_lo, d_hi] = self.dates;
        params.extend([
            Param::Texts(self.types),
            Param::Texts(self.ids),
            Param::Texts(self.items),
            Param::Texts(self.codes),
            Param::Texts(self.effective),
            Param::Ints(self.flags),
            Param::Blobs(self.bodies),
            Param::Texts(t_ids),
            Param::Texts(t_params),
            Param::Texts(t_codes),
            Param::Texts(t_systems),
            Param::Texts(d_ids),
            Param::Texts(d_params),
            Param::Texts(d_lo),
            Param::Texts(d_hi),
        ]);
    }
}

/// PostgreSQL: a new 6情報 unit written with its resources and index rows in one statement (its
/// own transaction: all or nothing), either of a `known` patient stored under `patient_key`
/// whose stored Patient is `rendered.patient`, or of a new patient, created under the spare key
/// `patient_key`. `None` or an error when that is not the case (the unit exists, the Patient
/// changed, the member id is stored under another key): nothing was written, and the full
/// write must be done.
fn submit_new_unit(
    c: &mut dyn Conn,
    sub: &NewSubmission,
    patient_key: i64,
    known: bool,
    rendered: Rendered,
) -> Result<Option<SubmitResult>, DbError> {
    let ids: Vec<(String, String)> = rendered
        .resources
        .iter()
        .map(|r| (r.res_type.clone(), r.res_id.clone()))
        .collect();
    let mut params = vec![
        sub.member_id.clone().into(),
        patient_key.into(),
        rendered.patient.into(),
        sub.institution.clone().into(),
        sub.bundle_id.clone().into(),
        sub.kind.clone().into(),
        sub.content_hash.clone().into(),
        sub.now.clone().into(),
        sub.insurer.clone().into(),
    ];
    UnnestArrays::new(rendered.resources).push_params(&mut params);
    // ?25–?28, a new patient's only (the statement of a known patient has no such
    // parameters): its 4 情報 rows (name, address pairs; date of birth; sex).
    if !known {
        let (names, addresses): (Vec<String>, Vec<String>) = sub
            .demographics
            .iter()
            .map(|d| (d.name_key.clone(), d.address.clone()))
            .unzip();
        let first = sub.demographics.first();
        params.extend([
            Param::Texts(names),
            Param::Texts(addresses),
            first.map_or(String::new(), |d| d.birth_date.clone()).into(),
            first.map_or(String::new(), |d| d.gender.clone()).into(),
        ]);
    }
    // A new patient's unit is inserted without ON CONFLICT: if the Bundle-ID is taken (by
    // another patient), the statement fails and the new patient is not created either.
    static SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
        let statement = |patient: &str, on_conflict: &str, demographics: &str| {
            let rows = unnest_inserts(
                "?2::bigint",
                "1",
                "u.unit_key",
                "?4::text",
                "?8::text",
                "u, ",
                10,
            );
            format!(
                "WITH p AS ({patient}), {demographics}\
                 u AS (INSERT INTO units (patient_key, institution, bundle_id, kind, version, status, content_hash, registered_at, insurer) \
                   SELECT patient_key, ?4::text, ?5, ?6, 1, 'current', ?7, ?8::text, ?9::text FROM p \
                   {on_conflict} RETURNING unit_key), \
                 {rows} SELECT unit_key FROM u"
            )
        };
        [
            statement(
                "INSERT INTO patients (patient_key, member_id, insurer, resource, updated_at) VALUES (?2::bigint, ?1, ?9::text, ?3::bytea, ?8::text) ON CONFLICT (member_id) DO NOTHING RETURNING patient_key",
                "",
                "dm AS (INSERT INTO patient_demographics (patient_key, name_key, birth_date, gender, address) \
                   SELECT p.patient_key, x.n, ?27::text, ?28::text, x.a FROM p, UNNEST(?25::text[], ?26::text[]) AS x(n, a) \
                   ON CONFLICT DO NOTHING), ",
            ),
            // A known patient whose stored Patient is the same: its 4 情報 are stored already.
            statement(
                "SELECT patient_key FROM patients WHERE member_id = ?1 AND patient_key = ?2::bigint AND resource = ?3::bytea",
                "ON CONFLICT (institution, bundle_id) DO NOTHING",
                "",
            ),
        ]
    });
    let rows = c.query(&SQL[usize::from(known)], &params)?;
    Ok(rows.first().and_then(|r| r.first()).map(|k| SubmitResult {
        action: SubmitAction::Created,
        patient_key,
        unit_key: k.int(),
        version: 1,
        resources: ids,
    }))
}

/// Multi-row INSERT of equally long rows, 64 rows per statement.
fn insert_rows(c: &mut dyn Conn, into: &str, rows: Vec<Vec<Param>>) -> Result<(), DbError> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Param>> = rows.by_ref().take(64).collect();
        let width = chunk[0].len();
        let mut sql = format!("INSERT INTO {into} VALUES ");
        let mut params = Vec::with_capacity(chunk.len() * width);
        for (i, row) in chunk.into_iter().enumerate() {
            sql.push_str(if i > 0 { ", (" } else { "(" });
            for k in 0..width {
                if k > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("?{}", i * width + k + 1));
            }
            sql.push(')');
            params.extend(row);
        }
        c.execute(&sql, &params)?;
    }
    Ok(())
}

fn withdraw_tx(
    c: &mut dyn Conn,
    institution: &str,
    bundle_id: &str,
    now: &str,
    locked: &[String],
) -> Result<SubmitResult, StoreError> {
    let lock = if c.dialect() == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = c
        .query(
            &format!("SELECT unit_key, patient_key, version, status, doc_id FROM units WHERE institution = ?1 AND bundle_id = ?2{lock}"),
            &[institution.into(), bundle_id.into()],
        )?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)?;
    let (uk, pk, v, status, doc) = (
        row[0].int(),
        row[1].int(),
        row[2].int(),
        row[3].text(),
        row[4].opt_text(),
    );
    if status == "deleted" || status == "cancelled" || status == "expired" {
        return Ok(SubmitResult {
            action: SubmitAction::NothingToDelete,
            patient_key: pk,
            unit_key: uk,
            version: v,
            resources: Vec::new(),
        });
    }
    if locked.contains(&status) {
        return Err(StoreError::State(status));
    }
    let version = v + 1;
    retire(c, pk, uk, version, now)?;
    c.execute(
        "UPDATE units SET version = ?1, status = ?2, registered_at = ?3, prev_status = ?5 WHERE unit_key = ?4",
        &[
            version.into(),
            if doc.is_some() {
                "cancelled"
            } else {
                "deleted"
            }
            .into(),
            now.into(),
            uk.into(),
            status.clone().into(),
        ],
    )?;
    Ok(SubmitResult {
        action: SubmitAction::Deleted,
        patient_key: pk,
        unit_key: uk,
        version,
        resources: Vec::new(),
    })
}

/// A day's viewing consent of one patient for one institution, for tests.
#[cfg(test)]
pub(crate) fn test_consent(id: &str) -> ConsentRow {
    ConsentRow {
        consent_id: id.into(),
        member_id: "00012345:1:2:".into(),
        institution: "1312000001".into(),
        granted_by: "patient".into(),
        start: "2026-12-07T00:00:00Z".into(),
        end: "2026-12-08T00:00:00Z".into(),
        created_at: "2026-12-07T00:00:00Z".into(),
        revoked_at: None,
    }
}

/// A fresh, empty folder for a test's store (`name` tells which test).
#[cfg(test)]
pub(crate) fn test_folder(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "clins-store-{name}-{}-{}",
        std::process::id(),
        random_id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_bodies_come_back_unchanged() {
        let json = |n: usize| {
            let mut s = String::from("{\"resourceType\":\"Condition\",\"note\":[");
            for i in 0..n {
                s.push_str(&format!("{{\"text\":\"note {i} of a patient\"}},"));
            }
            s.push_str("{}]}");
            s.into_bytes()
        };
        // Empty, too short to gain, compressible, over 64 KB (the table grows), over 1 MB (the
        // thread's buffers are dropped), then small again with the same thread's buffers.
        let bodies = [
            Vec::new(),
            b"{}".to_vec(),
            json(3),
            json(50),
            json(4_000),
            json(40_000),
            json(2),
            (0..=255u8).cycle().take(3000).collect(),
        ];
        for body in bodies {
            let packed = pack(&body);
            assert!(packed.len() <= body.len(), "never larger: {}", body.len());
            if packed.first() == Some(&1) {
                assert!(packed.len() < body.len());
            } else {
                assert_eq!(packed, body, "stored as it is when LZ4 does not gain");
            }
            assert_eq!(unpack(packed), body);
        }
        assert_eq!(
            pack(&json(50)).first(),
            Some(&1),
            "compressible JSON is packed"
        );
    }

    #[test]
    fn utc_millis_are_formatted_as_core_fmt_would() {
        let reference = |ms: i64| {
            let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
            let (y, m, d) = civil_from_days(days);
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
                rem / 3_600_000,
                rem / 60_000 % 60,
                rem / 1000 % 60,
                rem % 1000
            )
        };
        let mut ms: i64 = -62_167_219_200_000; // 0000-01-01
        while ms < 253_402_300_800_000 {
            // to 9999-12-31, in uneven steps
            assert_eq!(format_utc_millis(ms), reference(ms));
            ms += 86_399_999_937;
        }
        for ms in [
            0,
            -1,
            1_700_000_000_123,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_001,
        ] {
            assert_eq!(format_utc_millis(ms), reference(ms), "{ms}");
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1000, 0, 1, 59, 365, 10_957, 20_000, 20_777] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            format_utc_millis(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
