//! The audit trail's rows: one hash chain in `audit_log` (sequence numbers without gaps, each
//! row holding its predecessor's hash) and signed checkpoints of its head. The store appends
//! and reads; how a row is hashed and what is recorded is the application's
//! (`app::audit`). Appends are serialized — by the single writer on SQLite, by a table lock
//! on PostgreSQL — so that the chain has one order whatever the number of hub processes.

use crate::driver::{Conn, Dialect, Param, Row};
use std::sync::Arc;

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
    /// The chain the record is in (see [`Store::audit_chains`]); not part of its hash.
    pub chain: String,
}

impl AuditRow {
    /// The record's content in column order, from `seq` to `detail` (everything but `prev`
    /// and `hash`), with `seq` and `status` as the caller wrote them in decimal.
    pub fn content<'a>(&'a self, seq: &'a str, status: &'a str) -> [&'a str; 15] {
        [
            seq,
            &self.at,
            &self.action,
            &self.outcome,
            status,
            &self.member_id,
            &self.institution,
            &self.practitioner,
            &self.client,
            &self.role,
            &self.purpose,
            &self.basis,
            &self.items,
            &self.request,
            &self.detail,
        ]
    }
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
        chain: String::new(),
    }
}

/// The hash of a row given its predecessor's, as the application computes it.
pub type AuditHasher = fn(prev: &str, row: &AuditRow) -> String;

/// The chain's head: its last sequence number and hash (0 and empty when it is empty).
pub(crate) fn head(c: &mut dyn Conn) -> Result<(i64, String), crate::DbError> {
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
    let (seq, prev) = head(c)?;
    let mut chained = rows.to_vec();
    chain(&mut chained, seq, prev, hasher);
    append_rows(c, chained)
}

/// Links `rows` after the chain's head (`seq`, `prev`): each gets the next sequence number,
/// its predecessor's hash and its own. Returns the new head.
pub(crate) fn chain(
    rows: &mut [AuditRow],
    mut seq: i64,
    mut prev: String,
    hasher: AuditHasher,
) -> (i64, String) {
    for row in rows {
        seq += 1;
        row.seq = seq;
        row.hash = hasher(&prev, row);
        row.prev = std::mem::replace(&mut prev, row.hash.clone());
    }
    (seq, prev)
}

/// Inserts chained records as they are (a record already there is left as it is: the
/// journal's copy may run in two processes).
pub(crate) fn append_rows(
    c: &mut dyn Conn,
    rows: impl IntoIterator<Item = AuditRow>,
) -> Result<(), crate::DbError> {
    let sql = format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) ON CONFLICT (seq) DO NOTHING");
    for row in rows {
        // The row's strings move into the statement's parameters (no copy).
        c.execute(
            &sql,
            &[
                row.seq.into(),
                row.at.into(),
                row.action.into(),
                row.outcome.into(),
                row.status.into(),
                row.member_id.into(),
                row.institution.into(),
                row.practitioner.into(),
                row.client.into(),
                row.role.into(),
                row.purpose.into(),
                row.basis.into(),
                row.items.into(),
                row.request.into(),
                row.detail.into(),
                row.prev.into(),
                row.hash.into(),
            ],
        )?;
    }
    Ok(())
}

/// Where a chain's rows are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The data database (PostgreSQL: the only one; the embedded store: `clins.sqlite`).
    Data,
    /// The embedded store's `audit.sqlite`, fed by the journal.
    Trail,
}

/// The chain of the records that are not written with a write of patient data.
pub const TRAIL: &str = "trail";
/// The embedded store's chain of the records committed with writes of patient data.
pub const WRITES: &str = "writes";

impl Store {
    /// The audit chains: on the embedded store `writes` (in the data file, each record
    /// committed in the transaction of its write) and `trail` (every other record, through
    /// the journal); on PostgreSQL one chain, `trail`, holding both.
    pub fn audit_chains(&self) -> &'static [&'static str] {
        if self.journal.is_some() {
            &[WRITES, TRAIL]
        } else {
            &[TRAIL]
        }
    }

    fn place(&self, chain: &str) -> Result<Place, StoreError> {
        match (chain, &self.journal) {
            (TRAIL, Some(_)) => Ok(Place::Trail),
            (WRITES, Some(_)) | (TRAIL, None) => Ok(Place::Data),
            _ => Err(StoreError::Db(crate::DbError::Other(format!(
                "no audit chain `{chain}` in this store"
            )))),
        }
    }

    /// Makes this process the appender of the embedded store's audit journal (the serving
    /// hub; one per data folder). Other processes append their records to the `writes`
    /// chain. Nothing to do on PostgreSQL.
    pub fn start_audit_journal(&self, durability: crate::Durability) -> Result<(), StoreError> {
        match &self.journal {
            Some(j) => Ok(j.start_appending(durability, Arc::downgrade(&self._alive))?),
            None => Ok(()),
        }
    }

    /// Syncs the audit journal now (a clean shutdown).
    pub fn flush_audit(&self) {
        if let Some(j) = &self.journal {
            j.flush();
        }
    }

    /// A write to a chain's tables in its own transaction.
    fn audit_write<T: Send + 'static>(
        &self,
        place: Place,
        mut f: impl FnMut(&mut dyn Conn) -> Result<T, crate::DbError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match (place, &self.journal) {
            (Place::Trail, Some(j)) => {
                let mut c = j.db.lock().map_err(|_| {
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
            _ => self.write(move |c| Ok(f(c)?)),
        }
    }

    /// A read of a chain's tables, the journal copied into them first.
    fn audit_read<T>(
        &self,
        place: Place,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, crate::DbError>,
    ) -> Result<T, StoreError> {
        match (place, &self.journal) {
            (Place::Trail, Some(j)) => {
                j.catch_up()?;
                let mut c = j.db.lock().map_err(|_| {
                    StoreError::Db(crate::DbError::Other("audit store poisoned".into()))
                })?;
                Ok(f(&mut *c)?)
            }
            _ => self.read(f),
        }
    }

    /// Appends records to the `trail` chain, durable when this returns (the journal's
    /// durability on the embedded store; the commit on PostgreSQL). A process of the embedded
    /// store that does not append to the journal (a command beside a running hub) appends to
    /// the `writes` chain instead.
    pub fn append_audit(&self, rows: Vec<AuditRow>, hasher: AuditHasher) -> Result<(), StoreError> {
        match &self.journal {
            Some(j) if j.appending() => Ok(j.append(rows, hasher)?),
            _ => self.audit_write(Place::Data, move |c| append_in(c, &rows, hasher)),
        }
    }

    /// Whether [`Store::append_audit`] of one record costs no more than a `write` to the
    /// operating system (the embedded store's journal without a sync per append): a caller
    /// then appends its own record rather than joining a group commit.
    pub fn audit_append_is_quick(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| j.quick())
    }

    /// This store, with `row` appended to the audit trail in the transaction of its next write
    /// (the `writes` chain of the embedded store; PostgreSQL's one chain): the write and its
    /// record commit together or not at all. For the store methods that write once.
    pub fn with_audit(&self, row: AuditRow, hasher: AuditHasher) -> Store {
        let mut s = self.clone();
        s.audit_in_write = Some(Arc::new((row, hasher)));
        s
    }

    /// A chain's head: its last sequence number and hash (0 and empty when empty).
    pub fn audit_head(&self, chain: &str) -> Result<(i64, String), StoreError> {
        let place = self.place(chain)?;
        if let (Place::Trail, Some(h)) = (place, self.journal.as_ref().and_then(|j| j.head())) {
            return Ok(h);
        }
        self.audit_read(place, head)
    }

    /// Up to `limit` records of a chain after `after_seq`, in chain order (verification
    /// reads a whole chain in such pages).
    pub fn audit_page(
        &self,
        chain: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let name = chain.to_string();
        self.audit_read(self.place(chain)?, |c| {
            Ok(c.query(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                ),
                &[after_seq.into(), limit.into()],
            )?
            .into_iter()
            .map(|r| AuditRow {
                chain: name.clone(),
                ..audit(r)
            })
            .collect())
        })
    }

    /// The records of every chain matching `filter` (a condition on `audit_log` with `?1`…),
    /// newest first, at most `limit`.
    fn audit_matching(
        &self,
        filter: &str,
        params: &[Param],
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let mut all = Vec::new();
        // Written into the statement, not bound (see `Store::documents`).
        let limit = limit.max(0);
        for chain in self.audit_chains() {
            let sql = format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {filter} ORDER BY at DESC, seq DESC LIMIT {limit}"
            );
            let rows = self.audit_read(self.place(chain)?, |c| c.query(&sql, params))?;
            all.extend(rows.into_iter().map(|r| AuditRow {
                chain: chain.to_string(),
                ..audit(r)
            }));
        }
        all.sort_by(|a, b| b.at.cmp(&a.at).then(b.seq.cmp(&a.seq)));
        all.truncate(limit.max(0) as usize);
        Ok(all)
    }

    /// The records about one patient, newest first.
    pub fn audit_of_patient(
        &self,
        member_id: &str,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_matching("member_id = ?1", &[member_id.into()], limit)
    }

    /// The records of one institution's callers from `from` to `to` (instants), newest first.
    pub fn audit_of_institution(
        &self,
        institution: &str,
        from: &str,
        to: &str,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_matching(
            "institution = ?1 AND at >= ?2 AND at < ?3",
            &[institution.into(), from.into(), to.into()],
            limit,
        )
    }

    /// The records of the purge runs (`action = 'purge'`, appended with the purge's write),
    /// newest first, at most `limit`.
    pub fn audit_purges(&self, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE action = 'purge' ORDER BY at DESC, seq DESC LIMIT {}",
            limit.max(0)
        );
        let chain = self.audit_chains()[0];
        let rows = self.audit_read(Place::Data, |c| c.query(&sql, &[]))?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRow {
                chain: chain.to_string(),
                ..audit(r)
            })
            .collect())
    }

    /// Records a checkpoint of a chain.
    pub fn add_checkpoint(&self, chain: &str, cp: &Checkpoint) -> Result<(), StoreError> {
        let p: Vec<Param> = vec![
            cp.seq.into(),
            cp.head.clone().into(),
            cp.at.clone().into(),
            cp.kid.clone().into(),
            cp.signature.clone().into(),
        ];
        self.audit_write(self.place(chain)?, move |c| {
            c.execute(
                "INSERT INTO audit_checkpoints (seq, head, at, kid, signature) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (seq) DO NOTHING",
                &p,
            )?;
            Ok(())
        })
    }

    /// Every checkpoint of a chain, by sequence number.
    pub fn checkpoints(&self, chain: &str) -> Result<Vec<Checkpoint>, StoreError> {
        self.audit_read(self.place(chain)?, |c| {
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
