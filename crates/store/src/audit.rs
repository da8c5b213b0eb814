//! The audit trail's rows: one hash chain in `audit_log` (sequence numbers without gaps, each
//! row holding its predecessor's hash) and signed checkpoints of its head. The store appends
//! and reads; how a row is hashed and what is recorded is the application's
//! (`app::audit`). Appends are serialized — by the single writer on SQLite, by a table lock
//! on PostgreSQL — so that the chain has one order whatever the number of hub processes.

use crate::driver::{Conn, Dialect, Param, Row};
use crate::{Store, StoreError};

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    /// What was asked: `summary`, `search`, `read`, `submit`, `withdraw`, `consent`, …
    pub action: String,
    /// FHIR AuditEvent outcome: `0` success, `4` minor failure (refused), `8` serious
    /// failure, `12` major failure.
    pub outcome: String,
    /// The HTTP status answered.
    pub status: i64,
    /// The patient (normalised member id); empty when none.
    pub member_id: String,
    /// The caller's institution or insurer number.
    pub institution: String,
    pub practitioner: String,
    /// The OAuth client, when a token was used.
    pub client: String,
    /// The caller's role (`hospital`, `patient`, `operator`, …).
    pub role: String,
    /// Purpose of use: `TREAT`, `ETREAT`, `PATRQT`, `HOPERAT`, …
    pub purpose: String,
    /// Why it was allowed: `consent`, `emergency`, `disaster`, `own`, `submitter`, … (empty
    /// when refused).
    pub basis: String,
    /// The items shown or written (6情報 item codes, document kinds), comma-separated.
    pub items: String,
    /// Method and path, without query values.
    pub request: String,
    /// More: the refusal's detail code, the resource ids, …
    pub detail: String,
    pub prev: String,
    pub hash: String,
}

/// A signed checkpoint of the chain: its head (`seq`, `head` hash) signed with the hub's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub head: String,
    pub at: String,
    pub kid: String,
    pub signature: String,
}

const AUDIT_COLUMNS: &str = "seq, at, action, outcome, status, member_id, institution, practitioner, client, role, purpose, basis, items, request, detail, prev, hash";

fn audit(row: Row) -> AuditRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    AuditRow {
        seq: next().int(),
        at: next().into_text(),
        action: next().into_text(),
        outcome: next().into_text(),
        status: next().int(),
        member_id: next().into_text(),
        institution: next().into_text(),
        practitioner: next().into_text(),
        client: next().into_text(),
        role: next().into_text(),
        purpose: next().into_text(),
        basis: next().into_text(),
        items: next().into_text(),
        request: next().into_text(),
        detail: next().into_text(),
        prev: next().into_text(),
        hash: next().into_text(),
    }
}

/// The hash of a row given its predecessor's, as the application computes it.
pub type AuditHasher = fn(prev: &str, row: &AuditRow) -> String;

/// The chain's head: its last sequence number and hash (0 and empty when it is empty).
fn head(c: &mut dyn Conn) -> Result<(i64, String), crate::DbError> {
    Ok(c.query(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        &[],
    )?
    .into_iter()
    .next()
    .map(|r| {
        let mut it = r.into_iter();
        (
            it.next().map_or(0, |v| v.int()),
            it.next().map(Param::into_text).unwrap_or_default(),
        )
    })
    .unwrap_or((0, String::new())))
}

/// Appends `rows` to the chain inside the caller's transaction: each gets the next sequence
/// number, its predecessor's hash and its own (`hasher`).
pub(crate) fn append_in(
    c: &mut dyn Conn,
    rows: &[AuditRow],
    hasher: AuditHasher,
) -> Result<(), crate::DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    if c.dialect() == Dialect::Postgres {
        // One appender at a time across every process: the chain has one order. Readers
        // are not blocked.
        c.batch("LOCK TABLE audit_log IN EXCLUSIVE MODE")?;
    }
    let (mut seq, mut prev) = head(c)?;
    for r in rows {
        seq += 1;
        let mut row = r.clone();
        row.seq = seq;
        row.prev = prev.clone();
        row.hash = hasher(&prev, &row);
        c.execute(
            &format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
            &[
                row.seq.into(),
                row.at.clone().into(),
                row.action.clone().into(),
                row.outcome.clone().into(),
                row.status.into(),
                row.member_id.clone().into(),
                row.institution.clone().into(),
                row.practitioner.clone().into(),
                row.client.clone().into(),
                row.role.clone().into(),
                row.purpose.clone().into(),
                row.basis.clone().into(),
                row.items.clone().into(),
                row.request.clone().into(),
                row.detail.clone().into(),
                row.prev.clone().into(),
                row.hash.clone().into(),
            ],
        )?;
        prev = row.hash;
    }
    Ok(())
}

impl Store {
    /// A write to the audit tables: in the embedded store's audit file (one transaction on its
    /// own connection), or a transaction on PostgreSQL.
    fn audit_write<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Conn) -> Result<T, crate::DbError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.audit_db {
            Some(db) => {
                let mut c = db.lock().map_err(|_| {
                    StoreError::Db(crate::DbError::Other("audit store poisoned".into()))
                })?;
                c.batch("BEGIN IMMEDIATE")?;
                match f(&mut *c) {
                    Ok(v) => {
                        c.batch("COMMIT")?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = c.batch("ROLLBACK");
                        Err(StoreError::Db(e))
                    }
                }
            }
            None => self.write(move |c| Ok(f(c)?)),
        }
    }

    fn audit_read<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, crate::DbError>,
    ) -> Result<T, StoreError> {
        match &self.audit_db {
            Some(db) => {
                let mut c = db.lock().map_err(|_| {
                    StoreError::Db(crate::DbError::Other("audit store poisoned".into()))
                })?;
                Ok(f(&mut *c)?)
            }
            None => self.read(f),
        }
    }

    /// Appends records to the audit chain (committed before this returns).
    pub fn append_audit(&self, rows: Vec<AuditRow>, hasher: AuditHasher) -> Result<(), StoreError> {
        self.audit_write(move |c| append_in(c, &rows, hasher))
    }

    /// The chain's head: its last sequence number and hash (0 and empty when empty).
    pub fn audit_head(&self) -> Result<(i64, String), StoreError> {
        self.audit_read(head)
    }

    /// Up to `limit` records after `after_seq`, in chain order (verification reads the whole
    /// chain in such pages).
    pub fn audit_page(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_read(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                ),
                &[after_seq.into(), limit.into()],
            )?
            .into_iter()
            .map(audit)
            .collect())
        })
    }

    /// The records about one patient, newest first.
    pub fn audit_of_patient(
        &self,
        member_id: &str,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_read(|c| {
            Ok(c.query(
                &format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE member_id = ?1 ORDER BY at DESC, seq DESC LIMIT ?2"),
                &[member_id.into(), limit.into()],
            )?
            .into_iter()
            .map(audit)
            .collect())
        })
    }

    /// The records of one institution's callers from `from` to `to` (instants), newest first.
    pub fn audit_of_institution(
        &self,
        institution: &str,
        from: &str,
        to: &str,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_read(|c| {
            Ok(c.query(
                &format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE institution = ?1 AND at >= ?2 AND at < ?3 ORDER BY at DESC, seq DESC LIMIT ?4"),
                &[institution.into(), from.into(), to.into(), limit.into()],
            )?
            .into_iter()
            .map(audit)
            .collect())
        })
    }

    /// Records a checkpoint.
    pub fn add_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let p: Vec<Param> = vec![
            cp.seq.into(),
            cp.head.clone().into(),
            cp.at.clone().into(),
            cp.kid.clone().into(),
            cp.signature.clone().into(),
        ];
        self.audit_write(move |c| {
            c.execute(
                "INSERT INTO audit_checkpoints (seq, head, at, kid, signature) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (seq) DO NOTHING",
                &p,
            )?;
            Ok(())
        })
    }

    /// Every checkpoint, by sequence number.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.audit_read(|c| {
            Ok(c.query(
                "SELECT seq, head, at, kid, signature FROM audit_checkpoints ORDER BY seq",
                &[],
            )?
            .into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                let mut next = || it.next().unwrap_or(Param::Null);
                Checkpoint {
                    seq: next().int(),
                    head: next().text(),
                    at: next().text(),
                    kid: next().text(),
                    signature: next().text(),
                }
            })
            .collect())
        })
    }
}
