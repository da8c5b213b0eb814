//! The embedded store's audit journal: the `trail` chain's records are appended to a flat file
//! (`audit.journal`, one line per record) — a write and, per [`Durability`], an fdatasync per
//! group of records — and copied from there into the `audit_log` table of `audit.sqlite` in
//! large batches, off the request path. The journal is the durable copy; the table, with its
//! indexes, is what queries and verification read, brought up to date with the journal first
//! ([`Journal::catch_up`]). Only one process appends (it holds an exclusive lock on the file);
//! any process may copy. Once everything is copied and the table is on disk, the appender
//! starts the journal over.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::audit::{append_rows, chain, head, AuditHasher, AuditRow};
use crate::driver::{Conn, DbError, SqliteConn};

/// When a record appended to the journal is on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Before the append returns: one fdatasync per group of records (survives a power cut).
    Sync,
    /// The append returns once the records are written to the operating system (they survive
    /// a crash of the hub); the file is synced within [`FLUSH_EVERY`] by a background thread
    /// (a power cut may lose the records of that last interval).
    #[default]
    Flush,
}

/// How often the [`Durability::Flush`] journal is synced.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(10);
/// How often the journal is copied into the table: seldom enough that a copy brings several
/// records to each index page it writes (a patient's records are spread over the index).
/// (Copies of 8 MB or 10 s were tried: cheaper per record in isolation, no gain measured in
/// the hub; docs/benchmarks.md, audit, Session 5.)
const COPY_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// A copy reads the journal this many bytes at a time.
const COPY_READ_BYTES: usize = 256 << 10;
/// A copy commits after this many records.
const COPY_COMMIT_ROWS: usize = 10_000;
/// The journal is started over once it is copied and longer than this.
const RESTART_BYTES: u64 = 32 << 20;

struct Appender {
    file: File,
    seq: i64,
    head: String,
    durability: Durability,
}

pub(crate) struct Journal {
    path: PathBuf,
    /// `audit.sqlite`.
    pub(crate) db: Arc<Mutex<SqliteConn>>,
    /// Set in the process that appends.
    appender: Mutex<Option<Appender>>,
    /// Bytes of the journal written by this process's appender (complete lines only).
    written: AtomicU64,
    /// Bytes of the journal copied into the table, and the sequence number of the journal's
    /// first record then (the journal was started over when it changes).
    copied: Mutex<(u64, i64)>,
    dirty: Arc<AtomicBool>,
    /// Set once this process appends (the appender is set).
    is_appender: AtomicBool,
    /// Set once this process appends with [`Durability::Flush`]: an append is then a `write`
    /// to the operating system, quicker than waiting for another thread's group.
    quick: AtomicBool,
}

fn err(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Other(format!("audit journal: {what}: {e}"))
}

fn escape(v: &str, out: &mut String) {
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(v: &str) -> Option<String> {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match it.next()? {
            '\\' => '\\',
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(out)
}

/// One record as a journal line (tab-separated, escaped, ending in a newline).
fn encode(r: &AuditRow, out: &mut String) {
    let (seq, status) = (r.seq.to_string(), r.status.to_string());
    let content = r.content(&seq, &status);
    let fields = content.iter().copied().chain([r.prev.as_str(), &r.hash]);
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push('\t');
        }
        escape(f, out);
    }
    out.push('\n');
}

/// A journal line (without its newline) as a record.
fn decode(line: &str) -> Option<AuditRow> {
    let f: Vec<String> = line.split('\t').map(unescape).collect::<Option<Vec<_>>>()?;
    if f.len() != 17 {
        return None;
    }
    let mut it = f.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Some(AuditRow {
        seq: next().parse().ok()?,
        at: next(),
        action: next(),
        outcome: next(),
        status: next().parse().ok()?,
        member_id: next(),
        institution: next(),
        practitioner: next(),
        client: next(),
        role: next(),
        purpose: next(),
        basis: next(),
        items: next(),
        request: next(),
        detail: next(),
        prev: next(),
        hash: next(),
        chain: String::new(),
    })
}

/// The sequence number of the journal's first record (0 when it is empty).
fn first_seq(file: &File) -> i64 {
    let mut b = [0u8; 24];
    let n = file.read_at(&mut b, 0).unwrap_or(0);
    let digits = b[..n].iter().take_while(|c| c.is_ascii_digit()).count();
    std::str::from_utf8(&b[..digits])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl Journal {
    pub(crate) fn open(dir: &Path, db: SqliteConn) -> Journal {
        Journal {
            path: dir.join("audit.journal"),
            db: Arc::new(Mutex::new(db)),
            appender: Mutex::new(None),
            written: AtomicU64::new(0),
            copied: Mutex::new((0, 0)),
            dirty: Arc::new(AtomicBool::new(false)),
            is_appender: AtomicBool::new(false),
            quick: AtomicBool::new(false),
        }
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, SqliteConn>, DbError> {
        self.db
            .lock()
            .map_err(|_| DbError::Other("audit store poisoned".into()))
    }

    /// Makes this process the appender: locks the journal, copies what it holds, cuts a torn
    /// last line (a write the crash interrupted, never acknowledged), and starts the threads
    /// that sync and copy it. `alive` stops them when the store is dropped.
    pub(crate) fn start_appending(
        self: &Arc<Self>,
        durability: Durability,
        alive: std::sync::Weak<()>,
    ) -> Result<(), DbError> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| err(&self.path.display().to_string(), e))?;
        file.try_lock().map_err(|_| {
            DbError::Other(format!(
                "{} is in use by another hub process: one process serves a data folder",
                self.path.display()
            ))
        })?;
        let len = file.metadata().map_err(|e| err("size", e))?.len();
        let complete = self.copy_upto(&file, len)?;
        if complete < len {
            file.set_len(complete)
                .map_err(|e| err("cutting a torn last record", e))?;
        }
        let (seq, head) = head(&mut *self.db()?)?;
        self.written.store(complete, Ordering::SeqCst);
        *self.appender.lock().map_err(|_| err("lock", "poisoned"))? = Some(Appender {
            file,
            seq,
            head,
            durability,
        });
        self.is_appender.store(true, Ordering::SeqCst);
        self.restart_if_copied(0)?;
        self.quick
            .store(durability == Durability::Flush, Ordering::SeqCst);
        if durability == Durability::Flush {
            let me = Arc::downgrade(self);
            let alive = alive.clone();
            std::thread::Builder::new()
                .name("clins-audit-flush".into())
                .spawn(move || {
                    while alive.upgrade().is_some() {
                        std::thread::sleep(FLUSH_EVERY);
                        let Some(j) = me.upgrade() else { return };
                        j.flush();
                    }
                })
                .map_err(|e| err("flush thread", e))?;
        }
        let me = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("clins-audit-copy".into())
            .spawn(move || {
                // Behind the requests: under a burst the journal grows and is copied when the
                // load drops (a query copies what is left first).
                crate::lower_thread_priority(10);
                while alive.upgrade().is_some() {
                    std::thread::sleep(COPY_EVERY);
                    let Some(j) = me.upgrade() else { return };
                    if let Err(e) = j
                        .catch_up()
                        .and_then(|_| j.restart_if_copied(RESTART_BYTES))
                    {
                        tracing::warn!(error = %e, "copying the audit journal failed; retrying");
                    }
                }
            })
            .map_err(|e| err("copy thread", e))?;
        Ok(())
    }

    /// Syncs the journal if records were appended since the last sync.
    pub(crate) fn flush(&self) {
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return;
        }
        let file = match self.appender.lock() {
            Ok(a) => a.as_ref().and_then(|a| a.file.try_clone().ok()),
            Err(_) => None,
        };
        if let Some(f) = file {
            if let Err(e) = f.sync_data() {
                self.dirty.store(true, Ordering::SeqCst);
                tracing::error!(error = %e, "syncing the audit journal failed");
            }
        }
    }

    /// Whether this process appends and an append waits for no device (see `quick`).
    pub(crate) fn quick(&self) -> bool {
        self.quick.load(Ordering::Relaxed)
    }

    /// Whether this process appends.
    pub(crate) fn appending(&self) -> bool {
        self.is_appender.load(Ordering::Relaxed)
    }

    /// The chain's head (last sequence number and hash), as the appender knows it.
    pub(crate) fn head(&self) -> Option<(i64, String)> {
        self.appender
            .lock()
            .ok()?
            .as_ref()
            .map(|a| (a.seq, a.head.clone()))
    }

    /// Appends records to the chain: each gets the next sequence number, its predecessor's
    /// hash and its own; durable per the journal's [`Durability`] when this returns. On an
    /// error nothing of them stays in the journal.
    pub(crate) fn append(&self, rows: Vec<AuditRow>, hasher: AuditHasher) -> Result<(), DbError> {
        let mut guard = self.appender.lock().map_err(|_| err("lock", "poisoned"))?;
        let a = guard.as_mut().ok_or_else(|| {
            DbError::Other("this process does not append to the audit journal".into())
        })?;
        let mut rows = rows;
        let (seq, head) = chain(&mut rows, a.seq, a.head.clone(), hasher);
        let mut buf = String::with_capacity(rows.len() * 400);
        for row in &rows {
            encode(row, &mut buf);
        }
        let start = self.written.load(Ordering::SeqCst);
        let done = a.file.write_all(buf.as_bytes()).and_then(|_| {
            if a.durability == Durability::Sync {
                a.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = done {
            // Nothing half-written stays: the next append starts where this one did.
            let _ = a.file.set_len(start);
            return Err(err("append", e));
        }
        if a.durability == Durability::Flush {
            self.dirty.store(true, Ordering::SeqCst);
        }
        a.seq = seq;
        a.head = head;
        self.written
            .store(start + buf.len() as u64, Ordering::SeqCst);
        Ok(())
    }

    /// Copies into the table every complete record of the journal not copied yet.
    pub(crate) fn catch_up(&self) -> Result<(), DbError> {
        let end = if self.appending() {
            self.written.load(Ordering::SeqCst)
        } else {
            match std::fs::metadata(&self.path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(err("size", e)),
            }
        };
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(err("open", e)),
        };
        self.copy_upto(&file, end).map(|_| ())
    }

    /// Copies complete records up to byte `end`; returns where the complete records end.
    /// Reads and inserts a piece at a time (one buffer, reused), committing every
    /// [`COPY_COMMIT_ROWS`] records: a large copy touches no more memory than a small one.
    /// A damaged record stops the copy there, after what precedes it is copied.
    fn copy_upto(&self, file: &File, end: u64) -> Result<u64, DbError> {
        let mut guard = self.copied.lock().map_err(|_| err("lock", "poisoned"))?;
        let first = first_seq(file);
        if end < guard.0 || first != guard.1 {
            // Started over by the appender (another process): read it from its beginning.
            *guard = (0, first);
        }
        let copied = &mut guard.0;
        if end == *copied {
            return Ok(end);
        }
        let mut db = self.db()?;
        // Bytes read but not yet inserted start at `*copied`; `pending` holds them.
        let mut pending: Vec<u8> = Vec::with_capacity(COPY_READ_BYTES * 2);
        let mut read_to = *copied;
        let mut rows: Vec<AuditRow> = Vec::with_capacity(512);
        let mut in_tx = 0usize;
        let mut tx_bytes = 0u64;
        let commit = |db: &mut SqliteConn, rows: &mut Vec<AuditRow>| -> Result<(), DbError> {
            append_rows(db, rows.drain(..))
        };
        let result: Result<(), DbError> = (|| {
            while read_to < end {
                let n = (end - read_to).min(COPY_READ_BYTES as u64) as usize;
                let at = pending.len();
                pending.resize(at + n, 0);
                file.read_exact_at(&mut pending[at..], read_to)
                    .map_err(|e| err("read", e))?;
                read_to += n as u64;
                let Some(last) = pending.iter().rposition(|b| *b == b'\n') else {
                    continue;
                };
                for raw in pending[..last].split(|b| *b == b'\n') {
                    // A line that is not UTF-8 is damaged like one that does not decode.
                    let Some(row) = std::str::from_utf8(raw).ok().and_then(decode) else {
                        // What precedes it is whole: kept.
                        if in_tx > 0 {
                            commit(&mut db, &mut rows)?;
                            db.batch("COMMIT")?;
                            *copied += tx_bytes;
                            (in_tx, tx_bytes) = (0, 0);
                        }
                        return Err(DbError::Other(format!(
                            "audit journal {}: the record at byte {} is damaged; the trail is not copied past it",
                            self.path.display(),
                            *copied
                        )));
                    };
                    if in_tx == 0 {
                        db.batch("BEGIN IMMEDIATE")?;
                    }
                    rows.push(row);
                    in_tx += 1;
                    tx_bytes += raw.len() as u64 + 1;
                    if rows.len() >= 512 {
                        commit(&mut db, &mut rows)?;
                    }
                    if in_tx >= COPY_COMMIT_ROWS {
                        commit(&mut db, &mut rows)?;
                        db.batch("COMMIT")?;
                        *copied += tx_bytes;
                        (in_tx, tx_bytes) = (0, 0);
                    }
                }
                pending.drain(..=last);
            }
            if in_tx > 0 {
                commit(&mut db, &mut rows)?;
                db.batch("COMMIT")?;
                *copied += tx_bytes;
                (in_tx, tx_bytes) = (0, 0);
            }
            Ok(())
        })();
        if let Err(e) = result {
            if in_tx > 0 {
                let _ = db.batch("ROLLBACK");
            }
            return Err(e);
        }
        Ok(*copied)
    }

    /// Starts the journal over once it is copied, the table is on disk and the journal is
    /// longer than `min` bytes.
    pub(crate) fn restart_if_copied(&self, min: u64) -> Result<(), DbError> {
        let mut copied = self.copied.lock().map_err(|_| err("lock", "poisoned"))?;
        let mut guard = self.appender.lock().map_err(|_| err("lock", "poisoned"))?;
        let Some(a) = guard.as_mut() else {
            return Ok(());
        };
        let written = self.written.load(Ordering::SeqCst);
        if written == 0 || written <= min || copied.0 != written {
            return Ok(());
        }
        // The table's log copied into its file and synced: the journal is no longer needed.
        self.db()?.query("PRAGMA wal_checkpoint(TRUNCATE)", &[])?;
        a.file.sync_data().map_err(|e| err("sync", e))?;
        a.file.set_len(0).map_err(|e| err("restart", e))?;
        a.file.sync_all().map_err(|e| err("sync", e))?;
        self.written.store(0, Ordering::SeqCst);
        *copied = (0, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, TRAIL, WRITES};

    fn folder(name: &str) -> PathBuf {
        crate::test_folder(&format!("journal-{name}"))
    }

    /// A stand-in for the application's hash: enough to see the links.
    fn h(prev: &str, r: &AuditRow) -> String {
        format!("{}:{}:{}", prev.len(), r.seq, r.action)
    }

    fn row(action: &str) -> AuditRow {
        AuditRow {
            at: "2026-12-07T00:00:00.000Z".into(),
            action: action.into(),
            outcome: "0".into(),
            status: 200,
            ..AuditRow::default()
        }
    }

    fn seqs(rows: &[AuditRow]) -> Vec<i64> {
        rows.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn the_journal_is_copied_recovered_and_has_one_appender() {
        let d = folder("recover");
        {
            let hub = Store::open_sqlite(&d).unwrap();
            hub.start_audit_journal(Durability::Sync).unwrap();
            let beside = Store::open_sqlite(&d).unwrap();
            let e = beside
                .start_audit_journal(Durability::Flush)
                .unwrap_err()
                .to_string();
            assert!(e.contains("another hub process"), "{e}");
            hub.append_audit(vec![row("a"), row("b")], h).unwrap();
            // Another process reads the records: it copies the journal first.
            let page = beside.audit_page(TRAIL, 0, 10).unwrap();
            assert_eq!(seqs(&page), [1, 2]);
            assert_eq!(page[1].prev, page[0].hash);
            assert_eq!(page[0].chain, TRAIL);
            // Its own records go to the other chain.
            beside.append_audit(vec![row("cli")], h).unwrap();
            assert_eq!(beside.audit_head(WRITES).unwrap().0, 1);
            hub.append_audit(vec![row("c")], h).unwrap();
            assert_eq!(hub.audit_head(TRAIL).unwrap().0, 3);
            // Dropped without a clean shutdown: the journal still holds the records.
        }
        // A crash in the middle of a write: a torn last line, never acknowledged.
        let journal = d.join("audit.journal");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .unwrap()
            .write_all(b"4\t2026-12")
            .unwrap();
        let hub = Store::open_sqlite(&d).unwrap();
        hub.start_audit_journal(Durability::Flush).unwrap();
        assert_eq!(hub.audit_head(TRAIL).unwrap().0, 3);
        hub.append_audit(vec![row("d")], h).unwrap();
        let all = hub.audit_page(TRAIL, 0, 10).unwrap();
        assert_eq!(seqs(&all), [1, 2, 3, 4]);
        assert_eq!(all[3].prev, all[2].hash);
        assert_eq!(all[3].action, "d");
        // A clean shutdown: copied, on disk, started over.
        hub.checkpoint();
        assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0);
        hub.append_audit(vec![row("e")], h).unwrap();
        assert_eq!(seqs(&hub.audit_page(TRAIL, 3, 10).unwrap()), [4, 5]);
        drop(hub);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_damaged_record_stops_the_copy_with_its_place() {
        let d = folder("damaged");
        let hub = Store::open_sqlite(&d).unwrap();
        std::fs::write(d.join("audit.journal"), "1\tnot a record\n").unwrap();
        let e = hub
            .start_audit_journal(Durability::Flush)
            .unwrap_err()
            .to_string();
        assert!(e.contains("byte 0 is damaged"), "{e}");
        drop(hub);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_long_journal_is_copied_in_pieces_up_to_a_damaged_record() {
        let d = folder("pieces");
        {
            let hub = Store::open_sqlite(&d).unwrap();
            hub.start_audit_journal(Durability::Flush).unwrap();
            // About 2 MB: several reads, with records across the reads' edges, and long
            // (multi-byte) details that end anywhere in a read.
            let rows: Vec<AuditRow> = (0..12_000)
                .map(|i| AuditRow {
                    detail: "監査".repeat(i % 50),
                    ..row("a")
                })
                .collect();
            hub.append_audit(rows, h).unwrap();
        }
        let journal = d.join("audit.journal");
        let len = std::fs::metadata(&journal).unwrap().len();
        assert!(len > 4 * COPY_READ_BYTES as u64, "{len}");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .unwrap();
        f.write_all(b"12001\tdam\xffaged\n").unwrap();
        let hub = Store::open_sqlite(&d).unwrap();
        // The dropped store's copy thread may still hold the journal for a moment.
        let mut e = String::new();
        for _ in 0..100 {
            e = hub
                .start_audit_journal(Durability::Flush)
                .unwrap_err()
                .to_string();
            if !e.contains("in use") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(e.contains(&format!("byte {len} is damaged")), "{e}");
        // Reading the trail copies first, and stops at the same place.
        assert!(hub.audit_head(TRAIL).is_err());
        drop(hub);
        // Everything before it is copied, whole and in order.
        let db = rusqlite::Connection::open(d.join("audit.sqlite")).unwrap();
        let (n, max): (i64, i64) = db
            .query_row("SELECT count(*), max(seq) FROM audit_log", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((n, max), (12_000, 12_000));
        let (last, prev_ok): (String, bool) = db
            .query_row(
                "SELECT b.detail, b.prev = a.hash FROM audit_log a JOIN audit_log b ON b.seq = a.seq + 1 WHERE b.seq = 12000",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(last, "監査".repeat(11_999 % 50));
        assert!(prev_ok);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_write_and_its_record_commit_together() {
        let d = folder("atomic");
        let store = Store::open_sqlite(&d).unwrap();
        let consent = crate::test_consent;
        store
            .with_audit(row("consent"), h)
            .add_consent(&consent("c1"))
            .unwrap();
        assert_eq!(store.audit_head(WRITES).unwrap().0, 1);
        // The record cannot be written: the consent is not stored either.
        rusqlite::Connection::open(d.join("clins.sqlite"))
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'no record'); END;",
            )
            .unwrap();
        assert!(store
            .with_audit(row("consent"), h)
            .add_consent(&consent("c2"))
            .is_err());
        assert!(store.consent("c2").unwrap().is_none());
        // Without a record to write, the same write goes through.
        store.add_consent(&consent("c3")).unwrap();
        assert!(store.consent("c3").unwrap().is_some());
        assert_eq!(store.audit_head(WRITES).unwrap().0, 1);
        drop(store);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn lines_round_trip_with_tabs_and_newlines() {
        let r = AuditRow {
            seq: 7,
            at: "2026-12-07T00:00:00.000Z".into(),
            action: "summary".into(),
            status: 200,
            detail: "a\tb\nc\\d\re".into(),
            items: "日本語".into(),
            hash: "ab".into(),
            ..AuditRow::default()
        };
        let mut s = String::new();
        encode(&r, &mut s);
        assert!(s.ends_with('\n'));
        assert_eq!(s.matches('\n').count(), 1);
        assert_eq!(decode(s.trim_end_matches('\n')), Some(r));
        assert_eq!(decode("1\t2"), None);
        assert_eq!(decode(&s.replace("\\t", "\\x")), None);
    }
}
