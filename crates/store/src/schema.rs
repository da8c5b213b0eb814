//! Versioned schema migrations. Each migration is applied once, in order, inside a transaction,
//! and recorded in `schema_migrations`.
//!
//! Every patient-data table carries `patient_key`, and every patient query filters by it, so the
//! tables can be distributed by `patient_key` on Citus (docs/scale-out.md).

use crate::driver::{Conn, DbError, Dialect};

/// (version, DDL). The DDL is written once with placeholders that each dialect fills
/// ([`ddl`]): `{KEY}` an auto-numbered primary key, `{INT}` a 64-bit integer, `{BLOB}` bytes,
/// `{CLUSTERED}` after a table whose primary key should hold the rows (SQLite's WITHOUT ROWID).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, V1),
    (2, V2),
    (3, V3),
    (4, V4),
    (5, V5),
    (6, V6),
    (7, V7),
    (8, V8),
    (9, V9),
    (10, V10),
    (11, V11),
    (12, V12),
];

const V1: &str = "
CREATE TABLE patients (
  patient_key {KEY},
  member_id   TEXT NOT NULL UNIQUE,
  insurer     TEXT NOT NULL,
  resource    {BLOB} NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE TABLE units (
  unit_key      {KEY},
  patient_key   {INT} NOT NULL,
  institution   TEXT NOT NULL,
  bundle_id     TEXT NOT NULL,
  kind          TEXT NOT NULL,
  version       {INT} NOT NULL,
  status        TEXT NOT NULL,
  content_hash  TEXT NOT NULL,
  registered_at TEXT NOT NULL,
  doc_id        TEXT,
  doc_type      TEXT,
  destination   TEXT,
  doc_date      TEXT,
  retrieved_at  TEXT,
  prev_status   TEXT,
  insurer       TEXT NOT NULL,
  bundle        {BLOB},
  UNIQUE (institution, bundle_id)
);
CREATE INDEX units_patient ON units (patient_key, kind);
CREATE INDEX units_insurer ON units (insurer, kind);
CREATE INDEX units_destination ON units (destination) WHERE destination IS NOT NULL;
CREATE UNIQUE INDEX units_doc ON units (doc_id) WHERE doc_id IS NOT NULL;
CREATE TABLE resources (
  patient_key   {INT} NOT NULL,
  res_type      TEXT NOT NULL,
  res_id        TEXT NOT NULL,
  version       {INT} NOT NULL,
  unit_key      {INT} NOT NULL,
  institution   TEXT NOT NULL,
  item          TEXT NOT NULL,
  code_key      TEXT NOT NULL,
  effective     TEXT NOT NULL,
  flags         {INT} NOT NULL,
  registered_at TEXT NOT NULL,
  current       {INT} NOT NULL,
  deleted       {INT} NOT NULL,
  body          {BLOB} NOT NULL,
  PRIMARY KEY (res_type, res_id, version)
);
CREATE INDEX resources_patient ON resources (patient_key, current, res_type, registered_at);
CREATE INDEX resources_unit ON resources (unit_key, current);
CREATE TABLE search_token (
  patient_key {INT} NOT NULL,
  unit_key    {INT} NOT NULL,
  res_type    TEXT NOT NULL,
  res_id      TEXT NOT NULL,
  param       TEXT NOT NULL,
  system      TEXT NOT NULL,
  code        TEXT NOT NULL
);
CREATE INDEX search_token_lookup ON search_token (res_id, param, code);
CREATE TABLE search_date (
  patient_key {INT} NOT NULL,
  unit_key    {INT} NOT NULL,
  res_type    TEXT NOT NULL,
  res_id      TEXT NOT NULL,
  param       TEXT NOT NULL,
  lo          TEXT NOT NULL,
  hi          TEXT NOT NULL
);
CREATE INDEX search_date_lookup ON search_date (res_id, param);
";

/// Leaner index tables, for write throughput (docs/benchmarks.md, "$submit"): one B-tree per
/// index table instead of a table plus an index (the rows live in the primary key, which
/// starts with the distribution key), without the columns no query reads (unit, type), and
/// without `resources_unit` (a unit's resources are found through `resources_patient`: every
/// query that looks for them names the patient too).
const V2: &str = "
CREATE TABLE search_token_v2 (
  patient_key {INT} NOT NULL,
  res_id      TEXT NOT NULL,
  param       TEXT NOT NULL,
  code        TEXT NOT NULL,
  system      TEXT NOT NULL,
  PRIMARY KEY (patient_key, res_id, param, code, system)
){CLUSTERED};
INSERT INTO search_token_v2 (patient_key, res_id, param, code, system)
  SELECT DISTINCT patient_key, res_id, param, code, system FROM search_token;
DROP TABLE search_token;
ALTER TABLE search_token_v2 RENAME TO search_token;
CREATE TABLE search_date_v2 (
  patient_key {INT} NOT NULL,
  res_id      TEXT NOT NULL,
  param       TEXT NOT NULL,
  lo          TEXT NOT NULL,
  hi          TEXT NOT NULL,
  PRIMARY KEY (patient_key, res_id, param, lo, hi)
){CLUSTERED};
INSERT INTO search_date_v2 (patient_key, res_id, param, lo, hi)
  SELECT DISTINCT patient_key, res_id, param, lo, hi FROM search_date;
DROP TABLE search_date;
ALTER TABLE search_date_v2 RENAME TO search_date;
DROP INDEX resources_unit;
";

/// Attachments: a referral names the documents it carries (a 退院時サマリー, by its Bundle-ID,
/// from the same institution); an attached document is shown to whom the referral is.
/// Organizations: each institution's latest Organization resource (directory data, not
/// patient data: a reference table on Citus).
const V3: &str = "
CREATE TABLE organizations (
  org_id     TEXT NOT NULL PRIMARY KEY,
  body       {BLOB} NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE doc_links (
  patient_key {INT} NOT NULL,
  institution TEXT NOT NULL,
  attached    TEXT NOT NULL,
  unit_key    {INT} NOT NULL,
  PRIMARY KEY (patient_key, institution, attached, unit_key)
){CLUSTERED};
";

/// Index rows in write order: the key is (patient_key, unit_key, res_id, …), so the rows of a
/// new unit go together at the end of its patient's range (one or two pages per table) instead
/// of at random places inside it; a unit's rows are also found without a look at `resources`.
/// (docs/benchmarks.md, "$submit": a patient with many units made every unit dirty ~20 pages.)
/// The insurer index holds documents only (健診結果報告書 are found by insurer; 6情報 units never
/// are), so a 6情報 unit no longer changes a page of it.
const V4: &str = "
DROP INDEX units_insurer;
CREATE INDEX units_insurer ON units (insurer, kind) WHERE doc_id IS NOT NULL;
CREATE TABLE search_token_v4 (
  patient_key {INT} NOT NULL,
  unit_key    {INT} NOT NULL,
  res_id      TEXT NOT NULL,
  param       TEXT NOT NULL,
  code        TEXT NOT NULL,
  system      TEXT NOT NULL,
  PRIMARY KEY (patient_key, unit_key, res_id, param, code, system)
){CLUSTERED};
INSERT INTO search_token_v4 (patient_key, unit_key, res_id, param, code, system)
  SELECT DISTINCT t.patient_key, r.unit_key, t.res_id, t.param, t.code, t.system
  FROM search_token t JOIN resources r
    ON r.patient_key = t.patient_key AND r.res_id = t.res_id AND r.current = 1 AND r.deleted = 0;
DROP TABLE search_token;
ALTER TABLE search_token_v4 RENAME TO search_token;
CREATE TABLE search_date_v4 (
  patient_key {INT} NOT NULL,
  unit_key    {INT} NOT NULL,
  res_id      TEXT NOT NULL,
  param       TEXT NOT NULL,
  lo          TEXT NOT NULL,
  hi          TEXT NOT NULL,
  PRIMARY KEY (patient_key, unit_key, res_id, param, lo, hi)
){CLUSTERED};
INSERT INTO search_date_v4 (patient_key, unit_key, res_id, param, lo, hi)
  SELECT DISTINCT d.patient_key, r.unit_key, d.res_id, d.param, d.lo, d.hi
  FROM search_date d JOIN resources r
    ON r.patient_key = d.patient_key AND r.res_id = d.res_id AND r.current = 1 AND r.deleted = 0;
DROP TABLE search_date;
ALTER TABLE search_date_v4 RENAME TO search_date;
";

/// Who may do what: the institution registry, viewing consents (per patient, by the
/// normalised member id: a consent may come before any data), disaster declarations, and the
/// record of emergency and disaster accesses (kept for the patient to see), and the 4 情報 of
/// each patient for identification (`patient_demographics`, distributed by `patient_key`; its
/// lookup by name is a global index on Citus). None of these is
/// patient data keyed by `patient_key`; on Citus `institutions` and `disasters` are reference
/// tables and `consents` and `access_records` are distributed by `member_id`.
const V5: &str = "
CREATE TABLE institutions (
  number     TEXT NOT NULL PRIMARY KEY,
  kind       TEXT NOT NULL,
  name       TEXT NOT NULL,
  prefecture {INT} NOT NULL,
  enabled    {INT} NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE consents (
  consent_id   TEXT NOT NULL PRIMARY KEY,
  member_id    TEXT NOT NULL,
  institution  TEXT NOT NULL,
  granted_by   TEXT NOT NULL,
  period_start TEXT NOT NULL,
  period_end   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  revoked_at   TEXT
);
CREATE INDEX consents_member ON consents (member_id, institution);
CREATE TABLE disasters (
  disaster_id  TEXT NOT NULL PRIMARY KEY,
  period_start TEXT NOT NULL,
  period_end   TEXT NOT NULL,
  prefectures  TEXT NOT NULL,
  institutions TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  ended_at     TEXT
);
CREATE TABLE access_records (
  record_key   {KEY},
  at           TEXT NOT NULL,
  member_id    TEXT NOT NULL,
  institution  TEXT NOT NULL,
  practitioner TEXT NOT NULL,
  basis        TEXT NOT NULL,
  request      TEXT NOT NULL
);
CREATE INDEX access_records_member ON access_records (member_id, at);
CREATE TABLE patient_demographics (
  patient_key {INT} NOT NULL,
  name_key    TEXT NOT NULL,
  birth_date  TEXT NOT NULL,
  gender      TEXT NOT NULL,
  address     TEXT NOT NULL,
  PRIMARY KEY (patient_key, name_key, address)
);
CREATE INDEX patient_demographics_lookup ON patient_demographics (name_key, birth_date, gender);
CREATE TABLE settings (
  name  TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL
);
";

/// Sign-in: 利用申請 (applications), the clients an approval creates and their public keys,
/// and the client-assertion ids already used (`jti`, kept until the assertion expires; the
/// primary key makes a replay fail in every process at once). Directory data, not patient
/// data: reference tables on Citus (`used_jtis` distributed by `client_id`).
const V6: &str = "
CREATE TABLE applications (
  app_id     TEXT NOT NULL PRIMARY KEY,
  number     TEXT NOT NULL,
  kind       TEXT NOT NULL,
  name       TEXT NOT NULL,
  prefecture {INT} NOT NULL,
  address    TEXT NOT NULL,
  jwks       TEXT NOT NULL,
  jwks_url   TEXT NOT NULL,
  status     TEXT NOT NULL,
  reason     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  decided_at TEXT
);
CREATE INDEX applications_status ON applications (status, created_at);
CREATE TABLE clients (
  client_id   TEXT NOT NULL PRIMARY KEY,
  institution TEXT NOT NULL,
  enabled     {INT} NOT NULL,
  created_at  TEXT NOT NULL
);
CREATE TABLE client_keys (
  client_id TEXT NOT NULL,
  kid       TEXT NOT NULL,
  jwk       TEXT NOT NULL,
  added_at  TEXT NOT NULL,
  PRIMARY KEY (client_id, kid)
);
CREATE TABLE used_jtis (
  client_id  TEXT NOT NULL,
  jti        TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX used_jtis_expiry ON used_jtis (expires_at);
";

/// Sign-in of people: staff of institutions and patients (`kind`), their argon2id password,
/// TOTP secret and last accepted TOTP step, failures and lock, a one-time activation code
/// (stored as its SHA-256), and their sessions (the cookie's SHA-256; idle and absolute
/// expiry). Directory data, not patient data (a patient account names its member id only).
const V7: &str = "
CREATE TABLE accounts (
  account_id    TEXT NOT NULL PRIMARY KEY,
  kind          TEXT NOT NULL,
  institution   TEXT NOT NULL,
  login         TEXT NOT NULL,
  name          TEXT NOT NULL,
  qualification TEXT NOT NULL,
  emergency     {INT} NOT NULL,
  admin         {INT} NOT NULL,
  password      TEXT NOT NULL,
  totp_secret   TEXT NOT NULL,
  totp_step     {INT} NOT NULL,
  failures      {INT} NOT NULL,
  locked_until  TEXT NOT NULL,
  activation    TEXT NOT NULL,
  activation_until TEXT NOT NULL,
  enabled       {INT} NOT NULL,
  created_at    TEXT NOT NULL,
  UNIQUE (kind, institution, login)
);
CREATE TABLE sessions (
  session_hash TEXT NOT NULL PRIMARY KEY,
  account_id   TEXT NOT NULL,
  csrf         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  idle_until   TEXT NOT NULL,
  revoked      {INT} NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
";

/// The audit trail: one hash chain (`seq`, each record holding its predecessor's hash) of
/// records of every request that touched patient data or credentials, and the signed
/// checkpoints of the chain's head. The database refuses UPDATE, DELETE and TRUNCATE on both
/// (triggers on SQLite and PostgreSQL, `audit_guard`). Never purged (DECISIONS.md).
const V8: &str = "
CREATE TABLE audit_log (
  seq          {INT} NOT NULL PRIMARY KEY,
  at           TEXT NOT NULL,
  action       TEXT NOT NULL,
  outcome      TEXT NOT NULL,
  status       {INT} NOT NULL,
  member_id    TEXT NOT NULL,
  institution  TEXT NOT NULL,
  practitioner TEXT NOT NULL,
  client       TEXT NOT NULL,
  role         TEXT NOT NULL,
  purpose      TEXT NOT NULL,
  basis        TEXT NOT NULL,
  items        TEXT NOT NULL,
  request      TEXT NOT NULL,
  detail       TEXT NOT NULL,
  prev         TEXT NOT NULL,
  hash         TEXT NOT NULL
);
CREATE INDEX audit_member ON audit_log (member_id, at);
CREATE INDEX audit_institution ON audit_log (institution, at);
CREATE TABLE audit_checkpoints (
  seq       {INT} NOT NULL PRIMARY KEY,
  head      TEXT NOT NULL,
  at        TEXT NOT NULL,
  kid       TEXT NOT NULL,
  signature TEXT NOT NULL
);
{AUDIT_GUARD}
";

/// Emergency access in a web session: when it started (empty: not in effect), the reason the
/// person gave, and the patient it is for.
const V9: &str = "
ALTER TABLE sessions ADD COLUMN emergency_since TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN emergency_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN emergency_member TEXT NOT NULL DEFAULT '';
";

/// A patient's documents, newest first, without reading the patient's 6情報 units or sorting
/// (the viewer's patient page lists them with the summary).
const V10: &str = "
CREATE INDEX units_patient_docs ON units (patient_key, registered_at) WHERE doc_id IS NOT NULL;
";

/// The purge runs among the audit records of the data database (the console lists them).
const V11: &str = "
CREATE INDEX audit_log_purges ON audit_log (at) WHERE action = 'purge';
";

/// A person's visits: the start of the account's latest session, and in each session the start
/// of the one before it (the portal's "new since your last visit").
const V12: &str = "
ALTER TABLE accounts ADD COLUMN last_visit TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN previous_visit TEXT NOT NULL DEFAULT '';
";

/// The audit tables with their guards, created if missing: the embedded store keeps them in a
/// database file of their own (`audit.sqlite`).
pub fn audit_tables(dialect: Dialect) -> String {
    ddl(V8, dialect)
        .replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ")
        .replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ")
        .replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ")
}

/// The statements that make the audit tables append-only, per dialect.
fn audit_guard(dialect: Dialect) -> String {
    let tables = ["audit_log", "audit_checkpoints"];
    match dialect {
        Dialect::Sqlite => tables
            .iter()
            .map(|t| {
                format!(
                    "CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;\n\
                     CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;\n"
                )
            })
            .collect(),
        Dialect::Postgres => {
            let mut s = String::from(
                "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $f$;\n",
            );
            for t in tables {
                s.push_str(&format!(
                    "CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION audit_append_only();\n\
                     CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();\n"
                ));
            }
            s
        }
    }
}

/// The DDL of a migration for one dialect.
fn ddl(template: &str, dialect: Dialect) -> String {
    let (key, int, blob, clustered) = match dialect {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER", "BLOB", " WITHOUT ROWID"),
        Dialect::Postgres => (
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            "BIGINT",
            "BYTEA",
            "",
        ),
    };
    template
        .replace("{KEY}", key)
        .replace("{INT}", int)
        .replace("{BLOB}", blob)
        .replace("{CLUSTERED}", clustered)
        .replace("{AUDIT_GUARD}", &audit_guard(dialect))
}

/// Applies the migrations this binary knows and the database does not have yet. Refuses a
/// database that is newer than the binary.
pub fn migrate(c: &mut dyn Conn) -> Result<i64, DbError> {
    migrate_to(c, i64::MAX)
}

/// [`migrate`] up to version `upto` (tests of a migration start from the one before it).
fn migrate_to(c: &mut dyn Conn, upto: i64) -> Result<i64, DbError> {
    c.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)")?;
    if c.dialect() == Dialect::Postgres {
        // Two servers starting at once must not both migrate.
        c.batch("BEGIN; LOCK TABLE schema_migrations IN EXCLUSIVE MODE;")?;
    } else {
        c.batch("BEGIN IMMEDIATE")?;
    }
    let r = apply(c, upto);
    match r {
        Ok(v) => {
            c.batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.batch("ROLLBACK");
            Err(e)
        }
    }
}

fn apply(c: &mut dyn Conn, upto: i64) -> Result<i64, DbError> {
    let have = c
        .query(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .first()
        .and_then(|r| r.first())
        .map_or(0, |v| v.int());
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if have > latest {
        return Err(DbError::Other(format!(
            "the database schema is version {have}, newer than this clins-hub (knows up to {latest}); upgrade clins-hub"
        )));
    }
    for (v, template) in MIGRATIONS {
        if *v <= have || *v > upto {
            continue;
        }
        c.batch(&ddl(template, c.dialect()))?;
        c.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            &[(*v).into(), crate::now_utc().into()],
        )?;
    }
    Ok(latest.min(upto))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::SqliteConn;

    fn count(c: &mut dyn Conn, sql: &str) -> i64 {
        c.query(sql, &[]).unwrap()[0][0].int()
    }

    #[test]
    fn v2_keeps_index_rows_and_drops_duplicates() {
        let dir = tempfile_dir("v2");
        let mut c = SqliteConn::open(&dir.join("db")).unwrap();
        assert_eq!(migrate_to(&mut c, 1).unwrap(), 1);
        c.batch(
            "INSERT INTO search_token VALUES (1, 1, 'Condition', '1-a', 'code', 'urn:s', 'X1');
             INSERT INTO search_token VALUES (1, 1, 'Condition', '1-a', 'code', 'urn:s', 'X1');
             INSERT INTO search_token VALUES (2, 3, 'Condition', '2-b', 'category', 'urn:c', 'encounter-diagnosis');
             INSERT INTO search_date VALUES (2, 3, 'Condition', '2-b', 'date', '2026-01-01', '2026-01-02');",
        )
        .unwrap();
        assert_eq!(migrate_to(&mut c, 2).unwrap(), 2);
        assert_eq!(count(&mut c, "SELECT COUNT(*) FROM search_token"), 2);
        assert_eq!(
            count(&mut c, "SELECT COUNT(*) FROM search_token WHERE patient_key = 2 AND res_id = '2-b' AND param = 'category' AND code = 'encounter-diagnosis' AND system = 'urn:c'"),
            1
        );
        assert_eq!(
            count(&mut c, "SELECT COUNT(*) FROM search_date WHERE patient_key = 2 AND lo = '2026-01-01' AND hi = '2026-01-02'"),
            1
        );
        assert_eq!(
            count(
                &mut c,
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'resources_unit'"
            ),
            0
        );
        // Applied once: a second run changes nothing and keeps the version.
        assert_eq!(migrate_to(&mut c, 2).unwrap(), 2);
        assert_eq!(count(&mut c, "SELECT COUNT(*) FROM schema_migrations"), 2);
        assert_eq!(migrate_to(&mut c, 3).unwrap(), 3);
        assert_eq!(count(&mut c, "SELECT COUNT(*) FROM doc_links"), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn v4_puts_the_unit_into_index_keys() {
        let dir = tempfile_dir("v4");
        let mut c = SqliteConn::open(&dir.join("db")).unwrap();
        assert_eq!(migrate_to(&mut c, 3).unwrap(), 3);
        // Patient 1: resource 1-a current in unit 7 (an older version of it in unit 7 too);
        // patient 2: resource 2-b current in unit 9. An index row of no current resource
        // (left by nothing the hub does) is not carried over.
        c.batch(
            "INSERT INTO resources VALUES (1, 'Condition', '1-a', 1, 7, 'i', 'condition', 'k', '', 0, 't1', 0, 0, x'');
             INSERT INTO resources VALUES (1, 'Condition', '1-a', 2, 7, 'i', 'condition', 'k', '', 0, 't2', 1, 0, x'');
             INSERT INTO resources VALUES (2, 'Observation', '2-b', 1, 9, 'i', 'lab', 'k', '', 0, 't1', 1, 0, x'');
             INSERT INTO search_token VALUES (1, '1-a', 'code', 'X1', 'urn:s');
             INSERT INTO search_token VALUES (2, '2-b', 'code', 'Y', 'urn:l');
             INSERT INTO search_token VALUES (2, '2-z', 'code', 'Z', 'urn:l');
             INSERT INTO search_date VALUES (2, '2-b', 'date', '2026-01-01', '2026-01-02');",
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap(), 12);
        assert_eq!(count(&mut c, "SELECT COUNT(*) FROM search_token"), 2);
        assert_eq!(
            count(
                &mut c,
                "SELECT unit_key FROM search_token WHERE res_id = '1-a' AND code = 'X1'"
            ),
            7
        );
        assert_eq!(
            count(
                &mut c,
                "SELECT unit_key FROM search_token WHERE res_id = '2-b' AND system = 'urn:l'"
            ),
            9
        );
        assert_eq!(
            count(&mut c, "SELECT unit_key FROM search_date WHERE patient_key = 2 AND res_id = '2-b' AND lo = '2026-01-01'"),
            9
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("clins-schema-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
