//! The one way a store query reaches either database, so that each is written once.
//!
//! A query is SQL both databases read, with SQLite's numbered placeholders (`?1`),
//! which become PostgreSQL's (`$1`) on the way there; its parameters and columns are
//! `Value`s, the five kinds of value SQLite stores, converted to and from the types
//! PostgreSQL declares for them. The few places the dialects differ are fragments this
//! module gives (`json_texts`, `no_limit`). Connections come from r2d2 pools (`open`):
//! on SQLite one writer and a few readers (WAL lets them read while it writes); on
//! PostgreSQL one pool, whose write transactions take one advisory lock, so that a write
//! transaction sees what SQLite's single writer sees: no other write between its reads
//! and its writes.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;

use super::StoreError;

/// A parameter or a column: what SQLite stores (`INTEGER`, `REAL`, `TEXT`, `BLOB` or
/// `NULL`); PostgreSQL's booleans read as integers, 0 or 1.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// What a query's parameter may be.
pub(crate) trait Param {
    fn value(&self) -> Value;
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value {
        (**self).value()
    }
}

impl Param for str {
    fn value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl Param for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl Param for f64 {
    fn value(&self) -> Value {
        Value::Real(*self)
    }
}

impl Param for bool {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl Param for Value {
    fn value(&self) -> Value {
        self.clone()
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

macro_rules! int_params {
    ($($t:ty),*) => {$(
        impl Param for $t {
            fn value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
        }
    )*};
}
int_params!(i64, i32, u32, u16, u8);

/// A query's parameters, as rusqlite's `params!` writes them.
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::db::Param] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::db::Param),+] as &[&dyn $crate::store::db::Param] };
}
pub(crate) use params;

/// What a column may be read as.
pub(crate) trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, String>;
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(text) => Ok(text.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Blob(bytes) => Ok(bytes.clone()),
            Value::Text(text) => Ok(text.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Real(x) => Ok(*x),
            Value::Int(n) => Ok(*n as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int(n) => Ok(*n != 0),
            other => Err(format!("expected a boolean, found {other:?}")),
        }
    }
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(value.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

macro_rules! int_columns {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, String> {
                match value {
                    Value::Int(n) => <$t>::try_from(*n)
                        .map_err(|_| format!("{n} is out of range for {}", stringify!($t))),
                    other => Err(format!("expected an integer, found {other:?}")),
                }
            }
        }
    )*};
}
int_columns!(i64, i32, u32, u16, u8);

/// One row of a query's answer.
pub(crate) struct Row {
    values: Vec<Value>,
}

impl Row {
    /// Column `index` (from 0) as a `T`.
    pub(crate) fn get<T: FromValue>(&self, index: usize) -> Result<T, StoreError> {
        let value = self.values.get(index).ok_or_else(|| StoreError::Column {
            index,
            problem: format!("the row has {} columns", self.values.len()),
        })?;
        T::from_value(value).map_err(|problem| StoreError::Column { index, problem })
    }
}

/// Which database a connection is to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// One connection, SQLite's or PostgreSQL's.
pub(crate) struct Conn {
    inner: Inner,
    /// Whether the closure using it may write (`Store::call`), not only read
    /// (`Store::read`): its transactions take the write lock at their start.
    writes: Cell<bool>,
    /// Whether a `Tx` is open on it.
    in_transaction: Cell<bool>,
    /// A rollback failed: the connection may be in a transaction and is not reused.
    broken: Cell<bool>,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    // The synchronous client needs `&mut`; a `Conn` is used by one closure at a time,
    // and no query runs while another's rows are read (they are read whole).
    Postgres(RefCell<PgClient>),
}

/// A PostgreSQL client that is closed off the async executor: the synchronous client
/// blocks on its own runtime when dropped, which panics on a tokio worker (where a
/// `Store`, and so its pool, may be dropped).
struct PgClient(Option<postgres::Client>);

impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl PgClient {
    fn client(&mut self) -> &mut postgres::Client {
        self.0.as_mut().expect("a client until dropped")
    }
}

/// The key of the advisory lock a PostgreSQL write transaction holds to its end
/// ("DISCO" in ASCII).
const WRITE_LOCK: i64 = 0x0044_4953_434f;

impl Conn {
    pub(crate) fn sqlite(conn: rusqlite::Connection) -> Conn {
        Conn::new(Inner::Sqlite(conn))
    }

    fn postgres(client: postgres::Client) -> Conn {
        Conn::new(Inner::Postgres(RefCell::new(PgClient(Some(client)))))
    }

    fn new(inner: Inner) -> Conn {
        Conn {
            inner,
            writes: Cell::new(false),
            in_transaction: Cell::new(false),
            broken: Cell::new(false),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite connection, for rusqlite_migration.
    pub(super) fn as_sqlite(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.inner {
            Inner::Sqlite(conn) => Some(conn),
            Inner::Postgres(_) => None,
        }
    }

    pub(super) fn set_writes(&self, writes: bool) {
        self.writes.set(writes);
    }

    /// The rows of `SELECT … FROM` a JSON array of texts in parameter `n` (for `IN`).
    pub(crate) fn json_texts(&self, n: usize) -> String {
        match self.backend() {
            Backend::Sqlite => format!("SELECT value FROM json_each(?{n})"),
            Backend::Postgres => format!("SELECT json_array_elements_text(CAST(?{n} AS JSON))"),
        }
    }

    /// A `LIMIT` that limits nothing, for an `OFFSET` alone.
    pub(crate) fn no_limit(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => "LIMIT -1",
            Backend::Postgres => "LIMIT ALL",
        }
    }

    /// Runs a statement; how many rows it changed. On PostgreSQL a write outside a
    /// transaction takes the write lock too (in a transaction of its own), as it waits
    /// for SQLite's one writer: it never falls between another write transaction's
    /// reads and its writes.
    pub(crate) fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        if self.backend() == Backend::Postgres && self.writes.get() && !self.in_transaction.get() {
            let tx = self.transaction()?;
            let changed = tx.execute(sql, params)?;
            tx.commit()?;
            return Ok(changed);
        }
        let values: Vec<Value> = params.iter().map(|p| p.value()).collect();
        match &self.inner {
            Inner::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))?)
            }
            Inner::Postgres(client) => {
                let sql = numbered_placeholders(sql);
                let refs = pg_params(&values);
                let changed = client.borrow_mut().client().execute(sql.as_str(), &refs)?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Every row of a query, each read by `read`.
    pub(crate) fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut read: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.rows(sql, params)?.iter().map(&mut read).collect()
    }

    /// The first row of a query read by `read`, if it has one.
    pub(crate) fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.rows(sql, params)?.first().map(read).transpose()
    }

    /// The first row of a query that always has one (`SELECT EXISTS`, `COUNT`).
    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, read)?
            .ok_or_else(|| StoreError::NoRow(sql.to_string()))
    }

    /// Every row of a query.
    pub(crate) fn rows(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>, StoreError> {
        let values: Vec<Value> = params.iter().map(|p| p.value()).collect();
        match &self.inner {
            Inner::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let columns = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                let mut read = Vec::new();
                while let Some(row) = rows.next()? {
                    let values = (0..columns)
                        .map(|i| row.get_ref(i).map(sqlite_value))
                        .collect::<Result<_, _>>()?;
                    read.push(Row { values });
                }
                Ok(read)
            }
            Inner::Postgres(client) => {
                let sql = numbered_placeholders(sql);
                let refs = pg_params(&values);
                let rows = client.borrow_mut().client().query(sql.as_str(), &refs)?;
                rows.iter()
                    .map(|row| {
                        let values = (0..row.len())
                            .map(|i| row.try_get::<_, Value>(i))
                            .collect::<Result<_, _>>()?;
                        Ok(Row { values })
                    })
                    .collect()
            }
        }
    }

    /// Runs statements without parameters, separated by `;` (a migration).
    pub(crate) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Inner::Postgres(client) => Ok(client.borrow_mut().client().batch_execute(sql)?),
        }
    }

    /// Begins a transaction, committed by `Tx::commit` and rolled back if dropped
    /// uncommitted. A writing connection's takes the write lock first: SQLite's
    /// `IMMEDIATE`, PostgreSQL's advisory lock; a reading one's reads one snapshot.
    pub(crate) fn transaction(&self) -> Result<Tx<'_>, StoreError> {
        let begin = match (self.backend(), self.writes.get()) {
            (Backend::Sqlite, true) => "BEGIN IMMEDIATE",
            (Backend::Sqlite, false) => "BEGIN",
            (Backend::Postgres, true) => "BEGIN",
            (Backend::Postgres, false) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        self.batch(begin)?;
        self.in_transaction.set(true);
        // From here a failure rolls back (the Tx's drop): a lock wait that fails would
        // otherwise leave the session in an aborted transaction, back in the pool.
        let tx = Tx {
            conn: self,
            done: false,
        };
        if self.backend() == Backend::Postgres && self.writes.get() {
            tx.batch(&format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})"))?;
        }
        Ok(tx)
    }

    /// Not to be used again: a rollback failed, the server went, or the connection is
    /// inside a transaction no `Tx` owns (a failed COMMIT that could not be undone),
    /// where later writes would join it and never be committed.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.get()
            || match &self.inner {
                Inner::Sqlite(conn) => !self.in_transaction.get() && !conn.is_autocommit(),
                Inner::Postgres(client) => client.borrow_mut().client().is_closed(),
            }
    }
}

/// An open transaction; derefs to its connection.
pub(crate) struct Tx<'a> {
    conn: &'a Conn,
    done: bool,
}

impl Tx<'_> {
    /// Commits; a COMMIT that fails is rolled back (by the drop), and the connection
    /// is given up if even that fails, so that nothing later runs in what is left.
    pub(crate) fn commit(mut self) -> Result<(), StoreError> {
        self.conn.batch("COMMIT")?;
        self.done = true;
        self.conn.in_transaction.set(false);
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.conn.in_transaction.set(false);
            if self.conn.batch("ROLLBACK").is_err() {
                self.conn.broken.set(true);
            }
        }
    }
}

fn sqlite_value(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Real(x) => Value::Real(x),
        ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(*n),
            Value::Real(x) => ValueRef::Real(*x),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
            Value::Blob(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

type PgResult<T> = Result<T, Box<dyn std::error::Error + Sync + Send>>;

/// A value sent as the type PostgreSQL inferred for its parameter.
impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> PgResult<postgres::types::IsNull> {
        use postgres::types::{IsNull, Type};
        let mismatch = || -> PgResult<IsNull> {
            Err(format!("a {self:?} cannot be sent as a {ty} parameter").into())
        };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => n.to_string().to_sql(ty, out),
                _ => mismatch(),
            },
            Value::Real(x) => match *ty {
                Type::FLOAT8 => x.to_sql(ty, out),
                Type::FLOAT4 => (*x as f32).to_sql(ty, out),
                _ => mismatch(),
            },
            Value::Text(text) => match *ty {
                // JSON's binary form is its text.
                Type::JSON => {
                    out.extend_from_slice(text.as_bytes());
                    Ok(IsNull::No)
                }
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    text.as_str().to_sql(ty, out)
                }
                _ => mismatch(),
            },
            Value::Blob(bytes) => match *ty {
                Type::BYTEA => bytes.as_slice().to_sql(ty, out),
                _ => mismatch(),
            },
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A column read as the `Value` SQLite would have given.
impl<'a> postgres::types::FromSql<'a> for Value {
    fn from_sql(ty: &postgres::types::Type, raw: &'a [u8]) -> PgResult<Value> {
        use postgres::types::Type;
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::UNKNOWN => {
                Value::Text(String::from_sql(ty, raw)?)
            }
            _ => return Err(format!("a column of type {ty} (cast it in the query)").into()),
        })
    }

    fn from_sql_null(_: &postgres::types::Type) -> PgResult<Value> {
        Ok(Value::Null)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

fn pg_params(values: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// SQLite's placeholders (`?1`, or `?` numbered in order) as PostgreSQL's (`$1`),
/// leaving quoted text and identifiers alone.
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut next = 0usize;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    next += 1;
                    digits = next.to_string();
                }
                out.push('$');
                out.push_str(&digits);
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// How the pools make connections.
pub(crate) enum Manager {
    /// The SQLite file.
    Sqlite {
        path: PathBuf,
    },
    Postgres(Box<postgres::Config>),
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = StoreError;

    fn connect(&self) -> Result<Conn, StoreError> {
        match self {
            Manager::Sqlite { path } => {
                let conn = rusqlite::Connection::open(path)?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "FULL")?;
                conn.pragma_update(None, "foreign_keys", "ON")?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(Conn::sqlite(conn))
            }
            Manager::Postgres(config) => Ok(Conn::postgres(config.connect(postgres::NoTls)?)),
        }
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), StoreError> {
        match &conn.inner {
            Inner::Sqlite(_) => Ok(()),
            Inner::Postgres(client) => Ok(client.borrow_mut().client().batch_execute("")?),
        }
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::numbered_placeholders;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_quotes() {
        assert_eq!(
            numbered_placeholders("SELECT ?1, ?12, '?3', \"a?\" WHERE x = ? AND y = ?"),
            "SELECT $1, $12, '?3', \"a?\" WHERE x = $1 AND y = $2"
        );
    }
}
