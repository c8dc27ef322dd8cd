//! The store's two engines behind one connection type: SQLite for one technician, and
//! PostgreSQL for a team. The store's SQL is written once, in the dialect the two share
//! (`?N` placeholders, `ON CONFLICT`, `RETURNING`); PostgreSQL gets each `?N` renumbered
//! `$N`, and the few statements that cannot be shared ask [`Connection::engine`].
//!
//! Rows come back as owned [`Value`]s, so a statement's rows are read the same way from
//! either engine. Written here rather than taken from a crate because the store's
//! ~280 statements are written against rusqlite's calls (`execute`, `query_row`,
//! `prepare(..).query_map`, `transaction`), and this keeps those calls as they are; the
//! general-purpose layers (sqlx, diesel) would mean writing every statement again.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// One value in a row or a parameter, as both engines hold it. Booleans are integers
/// (0 or 1), as SQLite stores them; times are RFC 3339 text ([`super::ts`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (BIGINT on PostgreSQL).
    Integer(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes (BYTEA on PostgreSQL).
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Integer(_) => "an integer",
            Value::Real(_) => "a real number",
            Value::Text(_) => "text",
            Value::Blob(_) => "bytes",
        }
    }
}

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded file.
    Sqlite,
    /// A team's server.
    Postgres,
}

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A statement that must return a row returned none.
    #[error("the query returned no rows")]
    NoRows,
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed, or could not be reached.
    #[error("PostgreSQL: {message}")]
    Postgres {
        /// The server's (or the client's) words; never the password, which neither repeats.
        message: String,
        /// The SQLSTATE, when the server answered with one.
        code: Option<String>,
    },
    /// A column held another kind of value than the store reads from it.
    #[error("column {column} holds {found}, not {wanted}")]
    Conversion {
        /// The column's index.
        column: usize,
        /// What it held.
        found: &'static str,
        /// What was asked for.
        wanted: &'static str,
    },
    /// A stored value could not be read as what it names (an unknown status, say).
    #[error("column {column} holds '{value}', which this version of Rulewatch cannot read")]
    Unreadable {
        /// The column's index.
        column: usize,
        /// The value.
        value: String,
    },
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Error {
        match e.as_db_error() {
            Some(db) => Error::Postgres {
                message: match db.detail() {
                    Some(detail) => format!("{} ({detail})", db.message()),
                    None => db.message().to_string(),
                },
                code: Some(db.code().code().to_string()),
            },
            None => Error::Postgres {
                message: match std::error::Error::source(&e) {
                    Some(source) => format!("{e}: {source}"),
                    None => e.to_string(),
                },
                code: None,
            },
        }
    }
}

/// Results of this layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A value a statement can be given.
pub trait ToValue {
    /// The value.
    fn to_value(&self) -> Value;
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Integer(i64::from(*self))
            }
        }
    )*};
}
integers!(i64, i32, u32, u16, u8, bool);

impl ToValue for usize {
    fn to_value(&self) -> Value {
        // Counts and limits: none comes near 2^63.
        Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// A statement's parameters.
pub trait Params {
    /// Them, in order.
    fn values(self) -> Vec<Value>;
}

impl Params for &[&dyn ToValue] {
    fn values(self) -> Vec<Value> {
        self.iter().map(|p| p.to_value()).collect()
    }
}

impl Params for [&dyn ToValue; 0] {
    fn values(self) -> Vec<Value> {
        Vec::new()
    }
}

macro_rules! arrays {
    ($($n:literal),*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn values(self) -> Vec<Value> {
                self.iter().map(ToValue::to_value).collect()
            }
        }
    )*};
}
arrays!(1, 2, 3, 4, 5, 6, 7, 8);

/// Parameters from an iterator, for statements whose conditions are built at run time.
pub struct ParamsFromIter(Vec<Value>);

/// Parameters from an iterator.
pub fn params_from_iter<I>(iter: I) -> ParamsFromIter
where
    I: IntoIterator,
    I::Item: ToValue,
{
    ParamsFromIter(iter.into_iter().map(|v| v.to_value()).collect())
}

impl Params for ParamsFromIter {
    fn values(self) -> Vec<Value> {
        self.0
    }
}

/// Parameters as a list, rusqlite's `params!`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::db::ToValue]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue]
    };
}
pub(crate) use params;

/// A value a row's column can be read as.
pub trait FromValue: Sized {
    /// What it is called in an error.
    const WANTED: &'static str;
    /// The value, or `None` when the column holds another kind.
    fn from_value(v: &Value) -> Option<Self>;
}

macro_rules! from_integers {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const WANTED: &'static str = "an integer";
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    Value::Integer(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
from_integers!(i64, i32, u32, u16, u8, u64, usize);

impl FromValue for bool {
    const WANTED: &'static str = "a boolean";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Integer(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    const WANTED: &'static str = "a real number";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            // Both engines hand an integral result of real arithmetic back as an integer.
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    const WANTED: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const WANTED: &'static str = "bytes";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl FromValue for Value {
    const WANTED: &'static str = "a value";
    fn from_value(v: &Value) -> Option<Self> {
        Some(v.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const WANTED: &'static str = T::WANTED;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result.
pub struct Row<'a> {
    values: &'a [Value],
}

/// A column's index: its position. (A trait, as rusqlite's `RowIndex`, so that
/// `get::<_, T>(i)` reads as it does there.)
pub trait RowIndex {
    /// The position.
    fn position(self) -> usize;
}

impl RowIndex for usize {
    fn position(self) -> usize {
        self
    }
}

impl Row<'_> {
    /// Column `i`, read as `T`.
    pub fn get<I: RowIndex, T: FromValue>(&self, i: I) -> Result<T> {
        let i = i.position();
        let v = self.values.get(i).unwrap_or(&Value::Null);
        T::from_value(v).ok_or(Error::Conversion {
            column: i,
            found: v.kind(),
            wanted: T::WANTED,
        })
    }
}

/// `query_row`'s "no row" as `None`, as rusqlite's extension of the same name does.
pub trait OptionalExtension<T> {
    /// `Ok(None)` for no row; other errors stay errors.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What an engine does; the store talks to it through [`Connection`].
pub trait Db: Send {
    /// Which engine this is.
    fn engine(&self) -> Engine;
    /// Runs one statement; the number of rows it changed.
    fn run(&self, sql: &str, params: Vec<Value>) -> Result<usize>;
    /// Runs one statement; every row it returned.
    fn fetch(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>>;
    /// Runs statements without parameters, one after another.
    fn batch(&self, sql: &str) -> Result<()>;
    /// A number that moves when another connection commits a change, and only then.
    fn version(&self) -> Result<i64>;
}

/// A connection to either engine.
pub type Connection = dyn Db;

/// The advisory lock [`TransactionBehavior::Immediate`] takes on PostgreSQL ("RWWRITER"
/// in ASCII); held until the transaction ends.
pub const WRITER_LOCK: i64 = 0x5257_5752_4954_4552;

/// How a transaction starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBehavior {
    /// Locks are taken as statements need them.
    Deferred,
    /// One such transaction at a time: SQLite takes its write lock at once, and
    /// PostgreSQL a lock every connection to the database shares ([`WRITER_LOCK`]), so
    /// what it reads cannot change under it before it writes, on either engine.
    Immediate,
}

impl dyn Db {
    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.run(sql, params.values())
    }

    /// The first row's `f`, or [`Error::NoRows`].
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let rows = self.fetch(sql, params.values())?;
        let first = rows.first().ok_or(Error::NoRows)?;
        f(&Row { values: first })
    }

    /// A statement to run with [`Statement::query_map`] or [`Statement::execute`].
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_string(),
        })
    }

    /// Runs statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.batch(sql)
    }

    /// Begins a transaction that rolls back unless committed.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.transaction_with_behavior(TransactionBehavior::Deferred)
    }

    /// Begins a transaction that starts as `behavior` says.
    pub fn transaction_with_behavior(
        &mut self,
        behavior: TransactionBehavior,
    ) -> Result<Transaction<'_>> {
        match (self.engine(), behavior) {
            (Engine::Sqlite, TransactionBehavior::Immediate) => self.batch("BEGIN IMMEDIATE")?,
            (Engine::Postgres, TransactionBehavior::Immediate) => self.batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK})"
            ))?,
            (_, TransactionBehavior::Deferred) => self.batch("BEGIN")?,
        }
        Ok(Transaction {
            conn: self,
            open: true,
        })
    }
}

/// A statement, with its text.
pub struct Statement<'c> {
    conn: &'c Connection,
    sql: String,
}

impl Statement<'_> {
    /// `f` of every row, in order.
    pub fn query_map<T, P, F>(
        &mut self,
        params: P,
        mut f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        let rows = self.conn.fetch(&self.sql, params.values())?;
        Ok(rows
            .iter()
            .map(|values| f(&Row { values }))
            .collect::<Vec<_>>()
            .into_iter())
    }

    /// Runs it; the number of rows changed.
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        self.conn.run(&self.sql, params.values())
    }
}

/// A transaction: statements run through it (it dereferences to the connection, so a
/// function taking a connection is given `&*tx`), and it rolls back when dropped
/// uncommitted.
pub struct Transaction<'c> {
    conn: &'c mut Connection,
    open: bool,
}

impl Transaction<'_> {
    /// Commits it.
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        self.conn.batch("COMMIT")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to tell: a failed rollback leaves the transaction to end with the
            // connection, which rolls it back as well.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Db for rusqlite::Connection {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn run(&self, sql: &str, params: Vec<Value>) -> Result<usize> {
        Ok(self
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?)
    }

    fn fetch(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(f) => Value::Real(f),
                    ValueRef::Text(t) => {
                        Value::Text(String::from_utf8(t.to_vec()).map_err(|_| {
                            Error::Conversion {
                                column: i,
                                found: "text that is not UTF-8",
                                wanted: "text",
                            }
                        })?)
                    }
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.execute_batch(sql)?)
    }

    fn version(&self) -> Result<i64> {
        Ok(self.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }
}

/// `sql` with each `?N` written `$N` (and each bare `?` numbered in turn), outside
/// quoted text and comments, for PostgreSQL.
pub fn numbered(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut next = 0u32;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                out.push('$');
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    next += 1;
                    out.push_str(&next.to_string());
                } else {
                    next = next.max(digits.parse().unwrap_or(0));
                    out.push_str(&digits);
                }
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// One call, run on the connection's thread: given the open connection, or why there
/// is none; it sends its own answer back.
type Job = Box<dyn FnOnce(Result<&mut Link>) + Send>;

/// The connection's thread's own: the client, its server process (whose announcements
/// are its own changes), and the statements it prepared.
struct Link {
    client: postgres::Client,
    own: i32,
    prepared: HashMap<String, postgres::Statement>,
}

/// A PostgreSQL connection. The synchronous client runs its own small async runtime,
/// which cannot start on a thread that is already inside the application's; so the
/// client lives on a thread of its own, and each call is handed to it and waited for.
pub struct Postgres {
    jobs: mpsc::Sender<Job>,
    changes: Arc<AtomicI64>,
}

/// The channel every change to the shared store is announced on (postgres.sql's
/// triggers); LISTEN/NOTIFY delivers it to every other connection when the change commits.
const CHANGED: &str = "rulewatch_changed";

/// How often an idle connection looks for other connections' announcements: the panel
/// asks for the version every second, so a change shows within about 1.2 s.
const LISTEN_TICK: Duration = Duration::from_millis(200);

/// The least time between two attempts to open a lost connection again.
const RECONNECT_PAUSE: Duration = Duration::from_secs(2);

/// At most this many statements are kept prepared per connection; past it the cache
/// starts again (the store has about 300 distinct statements, and filters built at run
/// time add a few more).
const PREPARED_KEPT: usize = 512;

impl Postgres {
    /// Connects as `config` says, with `tls` for the connection.
    pub fn connect<T>(config: postgres::Config, tls: T) -> Result<Postgres>
    where
        T: postgres::tls::MakeTlsConnect<postgres::Socket> + Clone + Send + 'static,
        T::Stream: Send,
        T::TlsConnect: Send,
        <T::TlsConnect as postgres::tls::TlsConnect<postgres::Socket>>::Future: Send,
    {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::sync_channel(1);
        let changes = Arc::new(AtomicI64::new(0));
        let counted = Arc::clone(&changes);
        std::thread::Builder::new()
            .name("rulewatch-postgres".into())
            .spawn(move || {
                let connect = || {
                    config
                        .connect(tls.clone())
                        .map_err(Error::from)
                        .and_then(|mut client| {
                            client.batch_execute(&format!("LISTEN {CHANGED}"))?;
                            let own: i32 =
                                client.query_one("SELECT pg_backend_pid()", &[])?.get(0);
                            Ok(Link {
                                client,
                                own,
                                prepared: HashMap::new(),
                            })
                        })
                };
                let mut link = match connect() {
                    Ok(link) => {
                        let _ = ready.send(Ok(()));
                        link
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let mut last_try: Option<std::time::Instant> = None;
                loop {
                    match queue.recv_timeout(LISTEN_TICK) {
                        Ok(job) => {
                            // A connection the server closed (a restart, a failover, an
                            // administrator) is opened again for the next statement, at
                            // most every RECONNECT_PAUSE; until then each call says why.
                            if link.client.is_closed()
                                && last_try.is_none_or(|t| t.elapsed() >= RECONNECT_PAUSE)
                            {
                                last_try = Some(std::time::Instant::now());
                                if let Ok(again) = connect() {
                                    tracing::info!("the connection to the team's database is back");
                                    link = again;
                                    // Whatever changed meanwhile was not announced here.
                                    counted.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                            if link.client.is_closed() {
                                job(Err(Error::Postgres {
                                    message: "the connection to the team's database was lost and cannot be opened again yet; \
                                              Rulewatch keeps trying"
                                        .into(),
                                    code: None,
                                }));
                            } else {
                                job(Ok(&mut link));
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                    // A connection's own changes are announced to it as well; the
                    // version moves with the others' only, as SQLite's data_version does.
                    // The wait, however short, is what lets the client's runtime read
                    // the socket; the non-blocking iterator only sees what a query read.
                    let own = link.own;
                    let mut notes = link.client.notifications();
                    let mut theirs = 0i64;
                    let mut pending = notes.timeout_iter(Duration::from_millis(1));
                    use postgres::fallible_iterator::FallibleIterator;
                    while let Ok(Some(note)) = pending.next() {
                        if note.process_id() != own {
                            theirs += 1;
                        }
                    }
                    if theirs > 0 {
                        counted.fetch_add(theirs, Ordering::SeqCst);
                    }
                }
            })
            .map_err(|e| Error::Postgres {
                message: format!("no thread for the connection: {e}"),
                code: None,
            })?;
        connected.recv().map_err(|_| gone())??;
        Ok(Postgres { jobs, changes })
    }

    /// Runs `call` on the connection's thread and waits for its answer.
    fn ask<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Link) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |link| {
            let _ = reply.send(link.and_then(call));
        });
        self.jobs.send(job).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

fn gone() -> Error {
    Error::Postgres {
        message: "the connection's thread has stopped".into(),
        code: None,
    }
}

impl Link {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        if self.prepared.len() >= PREPARED_KEPT {
            self.prepared.clear();
        }
        let s = self.client.prepare(&numbered(sql))?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<usize> {
        let s = self.statement(sql)?;
        let n = self.client.execute(&s, &to_sql(params))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn fetch(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let s = self.statement(sql)?;
        self.client
            .query(&s, &to_sql(params))?
            .iter()
            .map(|row| (0..row.len()).map(|i| cell(row, i)).collect())
            .collect()
    }
}

fn to_sql(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as _).collect()
}

fn cell(row: &postgres::Row, i: usize) -> Result<Value> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_();
    let v = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Value::Integer)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map(|n| Value::Integer(n.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map(|n| Value::Integer(n.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map(|b| Value::Integer(b.into()))
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?.map(Value::Real)
    } else if *ty == Type::FLOAT4 {
        row.try_get::<_, Option<f32>>(i)?
            .map(|f| Value::Real(f.into()))
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
    } else if [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::UNKNOWN,
    ]
    .contains(ty)
    {
        row.try_get::<_, Option<String>>(i)?.map(Value::Text)
    } else {
        return Err(Error::Conversion {
            column: i,
            found: "a PostgreSQL type the store does not read",
            wanted: "BIGINT, DOUBLE PRECISION, TEXT or BYTEA",
        });
    };
    Ok(v.unwrap_or(Value::Null))
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use postgres::types::{IsNull, Type};
        let texty = [
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
        ]
        .contains(ty);
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) if *ty == Type::INT8 => n.to_sql(ty, out),
            Value::Integer(n) if *ty == Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
            Value::Integer(n) if *ty == Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
            Value::Integer(n) if *ty == Type::BOOL => (*n != 0).to_sql(ty, out),
            Value::Integer(n) if *ty == Type::FLOAT8 => (*n as f64).to_sql(ty, out),
            Value::Integer(n) if texty => n.to_string().to_sql(ty, out),
            Value::Real(f) if *ty == Type::FLOAT8 => f.to_sql(ty, out),
            Value::Real(f) if texty => f.to_string().to_sql(ty, out),
            Value::Text(s) if texty => s.as_str().to_sql(ty, out),
            Value::Blob(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            v => Err(format!("{} cannot be sent as a PostgreSQL {ty}", v.kind()).into()),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        // Each value is converted to the type the server asks for, or refused above.
        true
    }

    postgres::types::to_sql_checked!();
}

impl Db for Postgres {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn run(&self, sql: &str, params: Vec<Value>) -> Result<usize> {
        let sql = sql.to_string();
        self.ask(move |link| link.run(&sql, &params))
    }

    fn fetch(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>> {
        let sql = sql.to_string();
        self.ask(move |link| link.fetch(&sql, &params))
    }

    fn batch(&self, sql: &str) -> Result<()> {
        let sql = sql.to_string();
        self.ask(move |link| Ok(link.client.batch_execute(&sql)?))
    }

    fn version(&self) -> Result<i64> {
        Ok(self.changes.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_renumbered_outside_quotes_and_comments_only() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ?2 AND c = '?1' AND \"d?\" = ?1 -- why?\n LIMIT ?"),
            "SELECT a FROM t WHERE b = $2 AND c = '?1' AND \"d?\" = $1 -- why?\n LIMIT $3"
        );
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
    }
}
