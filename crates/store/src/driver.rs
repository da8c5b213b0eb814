//! The two SQL drivers behind one small synchronous interface, so that the storage logic in
//! [`crate::logic`] is written once. SQL is written with `?N` placeholders (SQLite's form);
//! the PostgreSQL driver rewrites them to `$N`.

use std::sync::{Arc, Condvar, Mutex};

/// A bound parameter or a column value.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
    /// Arrays, for PostgreSQL's `UNNEST` bulk inserts only.
    Ints(Vec<i64>),
    Texts(Vec<String>),
    Blobs(Vec<Vec<u8>>),
}

impl Param {
    pub fn int(&self) -> i64 {
        match self {
            Param::Int(i) => *i,
            Param::Text(t) => t.parse().unwrap_or(0),
            _ => 0,
        }
    }
    pub fn text(&self) -> String {
        match self {
            Param::Text(t) => t.clone(),
            Param::Int(i) => i.to_string(),
            Param::Blob(b) => String::from_utf8_lossy(b).into_owned(),
            Param::Null | Param::Ints(_) | Param::Texts(_) | Param::Blobs(_) => String::new(),
        }
    }
    /// The text of an owned value, without a copy.
    pub fn into_text(self) -> String {
        match self {
            Param::Text(t) => t,
            other => other.text(),
        }
    }
    pub fn opt_text(&self) -> Option<String> {
        match self {
            Param::Null => None,
            other => Some(other.text()),
        }
    }
    pub fn blob(self) -> Vec<u8> {
        match self {
            Param::Blob(b) => b,
            Param::Text(t) => t.into_bytes(),
            _ => Vec::new(),
        }
    }
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_string())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(v.clone())
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        v.map_or(Param::Null, Param::Text)
    }
}
impl From<Vec<u8>> for Param {
    fn from(v: Vec<u8>) -> Self {
        Param::Blob(v)
    }
}

pub type Row = Vec<Param>;

/// Why a statement failed.
#[derive(Debug)]
pub enum DbError {
    /// A concurrent transaction won (unique violation, serialization failure, deadlock, busy):
    /// the whole transaction may be retried.
    Conflict(String),
    Other(String),
}

impl DbError {
    /// Whether the storage is full: SQLite's `SQLITE_FULL`, the journal's `ENOSPC`, or
    /// PostgreSQL's `disk_full` (53100), all of which say so in their messages.
    pub fn is_full(&self) -> bool {
        let m = match self {
            DbError::Conflict(m) | DbError::Other(m) => m,
        };
        m.contains("database or disk is full")
            || m.contains("No space left on device")
            || m.contains("os error 28")
            || m.contains("53100")
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Conflict(m) => write!(f, "conflict: {m}"),
            DbError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DbError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One connection. Transactions are `BEGIN` / `COMMIT` / `ROLLBACK` statements.
pub trait Conn: Send {
    fn dialect(&self) -> Dialect;
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, DbError>;
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>, DbError>;
    /// Runs several statements without parameters (schema migrations).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
}

// ----------------------------------------------------------------------------------- SQLite

pub struct SqliteConn(rusqlite::Connection);

impl SqliteConn {
    pub fn open(path: &std::path::Path) -> Result<Self, DbError> {
        let c = rusqlite::Connection::open(path).map_err(sqlite_err)?;
        // WAL: readers never block the writer; synchronous=FULL makes every commit durable
        // before it is acknowledged (an acknowledged submission survives a power cut).
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
        )
        .map_err(sqlite_err)?;
        Ok(SqliteConn(c))
    }
}

fn sqlite_err(e: rusqlite::Error) -> DbError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::ConstraintViolation,
        ) => DbError::Conflict(e.to_string()),
        _ => DbError::Other(e.to_string()),
    }
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V, ValueRef};
        Ok(match self {
            Param::Null => ToSqlOutput::Owned(V::Null),
            Param::Int(i) => ToSqlOutput::Owned(V::Integer(*i)),
            Param::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Param::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Param::Ints(_) | Param::Texts(_) | Param::Blobs(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "array parameters are for PostgreSQL only".into(),
                ))
            }
        })
    }
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
        let mut st = self.0.prepare_cached(sql).map_err(sqlite_err)?;
        let n = st
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(sqlite_err)?;
        Ok(n as u64)
    }
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>, DbError> {
        let mut st = self.0.prepare_cached(sql).map_err(sqlite_err)?;
        let cols = st.column_count();
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(sqlite_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sqlite_err)? {
            let mut row = Vec::with_capacity(cols);
            for i in 0..cols {
                use rusqlite::types::ValueRef as V;
                row.push(match r.get_ref(i).map_err(sqlite_err)? {
                    V::Null => Param::Null,
                    V::Integer(i) => Param::Int(i),
                    V::Real(f) => Param::Text(f.to_string()),
                    V::Text(t) => Param::Text(String::from_utf8_lossy(t).into_owned()),
                    V::Blob(b) => Param::Blob(b.to_vec()),
                });
            }
            out.push(row);
        }
        Ok(out)
    }
    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.execute_batch(sql).map_err(sqlite_err)
    }
}

// ------------------------------------------------------------------------------- PostgreSQL

pub struct PgConn {
    client: postgres::Client,
    /// Prepared statements by their SQL: each is parsed once per connection.
    statements: std::collections::HashMap<String, postgres::Statement>,
}

impl PgConn {
    pub fn connect(url: &str) -> Result<Self, DbError> {
        let (url, tls) = crate::pgtls::parse(url).map_err(DbError::Other)?;
        let client = match tls {
            Some(config) => postgres::Client::connect(
                &url,
                tokio_postgres_rustls::MakeRustlsConnect::new((*config).clone()),
            ),
            None => postgres::Client::connect(&url, postgres::NoTls),
        }
        .map_err(pg_err)?;
        Ok(PgConn {
            client,
            statements: std::collections::HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(&pg_sql(sql)).map_err(pg_err)?;
        if self.statements.len() > 512 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

fn pg_err(e: postgres::Error) -> DbError {
    let conflict = e
        .code()
        .is_some_and(|c| matches!(c.code(), "23505" | "40001" | "40P01" | "55P03"));
    // Show the server's message, not only "db error".
    let msg = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            // With its causes: "error performing TLS handshake: invalid peer certificate: …".
            let mut m = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                m.push_str(": ");
                m.push_str(&c.to_string());
                cause = c.source();
            }
            m
        }
    };
    if conflict {
        DbError::Conflict(msg)
    } else {
        DbError::Other(msg)
    }
}

/// `?1` → `$1` outside string literals.
fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            c => out.push(c),
        }
    }
    out
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
        let st = self.statement(sql)?;
        self.client.execute(&st, &pg_params(params)).map_err(pg_err)
    }
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>, DbError> {
        use postgres::types::Type;
        let st = self.statement(sql)?;
        let rows = self.client.query(&st, &pg_params(params)).map_err(pg_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, col) in r.columns().iter().enumerate() {
                let t = col.type_();
                let v = if *t == Type::INT8 {
                    r.try_get::<_, Option<i64>>(i).map(|v| v.map(Param::Int))
                } else if *t == Type::INT4 {
                    r.try_get::<_, Option<i32>>(i)
                        .map(|v| v.map(|x| Param::Int(i64::from(x))))
                } else if *t == Type::BYTEA {
                    r.try_get::<_, Option<Vec<u8>>>(i)
                        .map(|v| v.map(Param::Blob))
                } else if *t == Type::BOOL {
                    r.try_get::<_, Option<bool>>(i)
                        .map(|v| v.map(|b| Param::Int(i64::from(b))))
                } else {
                    r.try_get::<_, Option<String>>(i)
                        .map(|v| v.map(Param::Text))
                };
                row.push(v.map_err(pg_err)?.unwrap_or(Param::Null));
            }
            out.push(row);
        }
        Ok(out)
    }
    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(pg_err)
    }
}

/// SQL NULL of whatever type the statement expects.
#[derive(Debug)]
struct AnyNull;

impl postgres::types::ToSql for AnyNull {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        _: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(postgres::types::IsNull::Yes)
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

fn pg_params(params: &[Param]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn postgres::types::ToSql + Sync) {
            match p {
                Param::Null => &AnyNull,
                Param::Int(i) => i,
                Param::Text(t) => t,
                Param::Blob(b) => b,
                Param::Ints(v) => v,
                Param::Texts(v) => v,
                Param::Blobs(v) => v,
            }
        })
        .collect()
}

// ------------------------------------------------------------------------------------- Pool

type Factory = Box<dyn Fn() -> Result<Box<dyn Conn>, DbError> + Send + Sync>;

/// Connections opened on demand and reused, at most `max_open` at a time: a caller waits for
/// a free one rather than opening more (a database serves a few busy connections better than
/// many).
pub struct Pool {
    state: Mutex<PoolState>,
    freed: Condvar,
    factory: Factory,
    max_idle: usize,
    max_open: usize,
}

/// A checked-out slot of the pool: dropping it returns the connection (or frees the slot).
struct Slot<'a> {
    pool: &'a Pool,
    conn: Option<Box<dyn Conn>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let conn = self.conn.take();
        self.pool.release(conn);
    }
}

struct PoolState {
    idle: Vec<Box<dyn Conn>>,
    /// Connections open now: idle ones and those in use.
    open: usize,
}

impl Pool {
    pub fn new(factory: Factory, max_idle: usize, max_open: usize) -> Arc<Self> {
        Arc::new(Pool {
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            factory,
            max_idle,
            max_open: max_open.max(1),
        })
    }

    /// Runs `f` on a pooled connection. A connection whose statement failed with something other
    /// than a conflict is dropped rather than reused.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let poisoned = |_| DbError::Other("connection pool poisoned".into());
        let taken = {
            let mut st = self.state.lock().map_err(poisoned)?;
            loop {
                if let Some(c) = st.idle.pop() {
                    break Some(c);
                }
                if st.open < self.max_open {
                    st.open += 1;
                    break None;
                }
                st = self.freed.wait(st).map_err(poisoned)?;
            }
        };
        // The slot is given back however `f` ends, a panic included.
        let mut slot = Slot {
            pool: self,
            conn: None,
        };
        slot.conn = Some(match taken {
            Some(c) => c,
            None => (self.factory)()?,
        });
        let conn = slot.conn.as_mut().map(|c| c.as_mut());
        let r = match conn {
            Some(c) => f(c),
            None => Err(DbError::Other("no connection".into())),
        };
        if matches!(r, Err(DbError::Other(_))) {
            // A connection whose statement failed for another reason than a conflict is closed.
            slot.conn = None;
        }
        r
    }

    /// Runs `f` on an idle connection, if one is idle now; `None` (and `f` not run) otherwise:
    /// nothing waits and no connection is opened.
    pub fn try_with<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, DbError>,
    ) -> Option<Result<T, DbError>> {
        let conn = self.state.lock().ok()?.idle.pop()?;
        let mut slot = Slot {
            pool: self,
            conn: Some(conn),
        };
        let r = match slot.conn.as_mut() {
            Some(c) => f(c.as_mut()),
            None => Err(DbError::Other("no connection".into())),
        };
        if matches!(r, Err(DbError::Other(_))) {
            slot.conn = None;
        }
        Some(r)
    }

    /// Gives a connection back (`None`: it was closed).
    fn release(&self, conn: Option<Box<dyn Conn>>) {
        // Nothing to release after a poisoned lock: the pool is broken anyway.
        if let Ok(mut st) = self.state.lock() {
            match conn {
                Some(c) if st.idle.len() < self.max_idle => st.idle.push(c),
                _ => st.open -= 1,
            }
        }
        self.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Fake;
    impl Conn for Fake {
        fn dialect(&self) -> Dialect {
            Dialect::Sqlite
        }
        fn execute(&mut self, _: &str, _: &[Param]) -> Result<u64, DbError> {
            Ok(0)
        }
        fn query(&mut self, _: &str, _: &[Param]) -> Result<Vec<Row>, DbError> {
            Ok(Vec::new())
        }
        fn batch(&mut self, _: &str) -> Result<(), DbError> {
            Ok(())
        }
    }

    #[test]
    fn pool_never_opens_more_than_its_bound() {
        static OPENED: AtomicUsize = AtomicUsize::new(0);
        static BUSY: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let pool = Pool::new(
            Box::new(|| {
                OPENED.fetch_add(1, Ordering::SeqCst);
                Ok(Box::new(Fake) as Box<dyn Conn>)
            }),
            2,
            3,
        );
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| {
                    for _ in 0..20 {
                        pool.with(|_| {
                            let now = BUSY.fetch_add(1, Ordering::SeqCst) + 1;
                            MOST.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            BUSY.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(
            MOST.load(Ordering::SeqCst),
            3,
            "at most 3 in use, and all 3 used"
        );
        // A failed statement closes its connection; the slot is freed for a new one.
        let before = OPENED.load(Ordering::SeqCst);
        for _ in 0..5 {
            let r: Result<(), DbError> = pool.with(|_| Err(DbError::Other("broken".into())));
            assert!(r.is_err());
        }
        pool.with(|_| Ok(())).unwrap();
        assert!(OPENED.load(Ordering::SeqCst) > before);
        // A panic inside `f` gives its slot back.
        for _ in 0..5 {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _: Result<(), DbError> = pool.with(|_| panic!("render failed"));
            }));
            assert!(r.is_err());
        }
        // Nothing is in use now: every open connection is idle.
        let st = pool.state.lock().unwrap();
        assert_eq!(st.open, st.idle.len(), "no slot lost to the panics");
    }

    #[test]
    fn placeholders_become_dollar_outside_literals() {
        assert_eq!(
            super::pg_sql("SELECT '?' FROM t WHERE a = ?1 AND b = ?2"),
            "SELECT '?' FROM t WHERE a = $1 AND b = $2"
        );
    }
}
