//! Connecting to a payment database and running statements on any backend.
//!
//! [`Db`] wraps one pool of SQLite, PostgreSQL or MySQL/MariaDB connections.
//! Connections opened with [`Access::ReadOnly`] are read-only at the database
//! level (SPEC §8): SQLite `mode=ro`, PostgreSQL
//! `default_transaction_read_only=on`, MySQL `SET SESSION TRANSACTION READ ONLY`.

mod migrate;
pub mod mysql_read;
mod mysql_wire;
pub mod pg_copy;
mod query;
pub mod schema;
pub mod sqlite_read;
pub(crate) mod text_field;
mod url;

pub use migrate::{MigrateReport, migrate};
pub use query::{Arg, DecodeError, Row, SQLITE_TIME_FORMAT, to_postgres_placeholders};
pub use schema::SchemaReport;
pub use url::{Backend, BadUrl, DbUrl, redact};

use chrono::{FixedOffset, NaiveDateTime};
use query::{bind_mysql, bind_postgres, bind_sqlite};
use sqlx::{AssertSqlSafe, Executor as _};
use std::str::FromStr;
use std::time::Duration;

/// Whether payrecon may write through a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The database itself refuses writes (console, reconciliation, export, case).
    ReadOnly,
    /// `demo`, `migrate` and `simulate` only, when asked.
    ReadWrite,
}

/// Everything that can go wrong talking to a payment database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL could not be understood.
    #[error(transparent)]
    BadUrl(#[from] BadUrl),
    /// The server or file could not be reached or opened.
    #[error("cannot connect to {backend} at {target}: {reason}")]
    Connect {
        /// Backend name.
        backend: &'static str,
        /// `host:port` or file.
        target: String,
        /// Why, in the driver's words (never with the password).
        reason: String,
    },
    /// A statement failed.
    #[error("{backend} at {target}: {source}")]
    Sql {
        /// Backend name.
        backend: &'static str,
        /// `host:port` or file.
        target: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// A statement of the synchronous SQLite reader failed.
    #[error("SQLite at {target}: {source}")]
    SqliteRead {
        /// The file.
        target: String,
        /// The driver error.
        #[source]
        source: rusqlite::Error,
    },
    /// A query of the MySQL wire reader failed.
    #[error("MySQL at {target}: {reason}")]
    MySqlRead {
        /// `host:port`.
        target: String,
        /// The server's error, or what went wrong on the connection.
        reason: String,
    },
    /// A value could not be read as the engine needs it.
    #[error("{table}: {source}")]
    Decode {
        /// Where the value came from.
        table: String,
        /// What was wrong.
        #[source]
        source: DecodeError,
    },
    /// Migrations failed.
    #[error("migrating {target} failed: {reason}")]
    Migrate {
        /// `host:port` or file.
        target: String,
        /// Why.
        reason: String,
    },
    /// The database lacks tables that this work needs.
    #[error("{0}")]
    Schema(String),
    /// The data is not in the state this work needs (changed concurrently, missing row, …).
    #[error("{0}")]
    State(String),
}

impl DbError {
    /// The underlying driver error, when a statement failed.
    pub fn sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Sql { source, .. } => Some(source),
            _ => None,
        }
    }

    /// True when a unique index refused an insert.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self.sqlx(), Some(sqlx::Error::Database(d)) if d.is_unique_violation())
    }
}

/// Result alias for this module.
pub type DbResult<T> = Result<T, DbError>;

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Read-only or read-write.
    pub access: Access,
    /// Pool size.
    pub max_connections: u32,
    /// Create the SQLite file if it is missing (write access only).
    pub create_sqlite: bool,
    /// The business time zone (SPEC §3): srb stores naive local time in it.
    pub business_tz: FixedOffset,
    /// How long the first contact may take before payrecon gives up.
    pub connect_timeout: Duration,
    /// How long work may wait for a free pooled connection under load.
    pub acquire_timeout: Duration,
    /// SQLite page cache per connection, in MiB (SQLite fills it on demand).
    pub sqlite_cache_mib: u32,
    /// PostgreSQL `work_mem` of payrecon's sessions, in MiB; `None` keeps the
    /// server's. For the checks' SQL path (tables the COPY path does not take):
    /// its GROUP BY over every flow and its join of orders and flows spill to
    /// disk at 4–64 MB (10M flows, EXPLAIN ANALYZE: the GROUP BY 15.9 s with
    /// spilling, 8.9 s without).
    pub pg_work_mem_mib: Option<u32>,
}

/// UTC+08:00, Asia/Shanghai's offset (no DST), the default business zone.
pub fn default_business_tz() -> FixedOffset {
    // 8 h is inside ±24 h, so `east_opt` cannot fail; UTC is the unreachable fallback.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Utc.fix())
}

use chrono::Offset as _;

impl ConnectOptions {
    /// Read-only defaults.
    pub fn read_only() -> Self {
        Self {
            access: Access::ReadOnly,
            max_connections: 8,
            create_sqlite: false,
            business_tz: default_business_tz(),
            connect_timeout: Duration::from_secs(8),
            acquire_timeout: Duration::from_secs(30),
            sqlite_cache_mib: 128,
            pg_work_mem_mib: Some(512),
        }
    }

    /// Read-only, for the console: a page of rows at a time, so a small SQLite
    /// page cache — paging through a 10M-row table must not grow the window's
    /// memory (SPEC §9); batch work keeps the large cache of [`Self::read_only`].
    pub fn interactive() -> Self {
        Self {
            max_connections: 4,
            sqlite_cache_mib: 8,
            pg_work_mem_mib: None,
            ..Self::read_only()
        }
    }

    /// Read-write defaults (for `demo`, `migrate`, `simulate`).
    pub fn read_write() -> Self {
        Self {
            access: Access::ReadWrite,
            create_sqlite: true,
            ..Self::read_only()
        }
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

/// A pool of connections to one payment database.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    url: DbUrl,
    access: Access,
    tz: FixedOffset,
    connect_timeout: Duration,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("url", &self.url)
            .field("access", &self.access)
            .finish()
    }
}

/// The outcome of a statement that changes rows.
#[derive(Debug, Clone, Copy)]
pub struct Exec {
    /// Rows changed.
    pub rows: u64,
    /// Id of the inserted row, where the backend reports it.
    pub last_id: Option<i64>,
}

/// One direct connection attempt, so that a refused connection, an unknown
/// host or a wrong password fails at once instead of after the pool's retries.
async fn probe<O>(o: &O, timeout: Duration) -> Result<(), String>
where
    O: sqlx::ConnectOptions,
    O::Connection: Sized,
{
    use sqlx::Connection as _;
    match tokio::time::timeout(timeout, o.connect()).await {
        Ok(Ok(c)) => {
            let _ = c.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

fn tz_text(tz: FixedOffset) -> String {
    let secs = tz.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

impl Db {
    /// Connects to `url` (see [`DbUrl::parse`]).
    pub async fn connect(url: &str, opts: &ConnectOptions) -> DbResult<Self> {
        let parsed = DbUrl::parse(url)?;
        Self::connect_url(parsed, opts).await
    }

    /// Connects to an already parsed URL.
    pub async fn connect_url(url: DbUrl, opts: &ConnectOptions) -> DbResult<Self> {
        let connect_err = |reason: String| DbError::Connect {
            backend: url.backend().name(),
            target: url.target(),
            reason: redact(&reason),
        };
        fn pool_opts<DB: sqlx::Database>(o: &ConnectOptions) -> sqlx::pool::PoolOptions<DB> {
            sqlx::pool::PoolOptions::new()
                .max_connections(o.max_connections)
                .acquire_timeout(o.acquire_timeout)
        }
        let read_only = opts.access == Access::ReadOnly;
        let pool = match &url {
            DbUrl::Sqlite(path) => {
                let create = opts.create_sqlite && !read_only;
                if !create && !path.exists() {
                    return Err(connect_err("the file does not exist".into()));
                }
                let mut o = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(read_only)
                    .create_if_missing(create)
                    .busy_timeout(Duration::from_secs(30));
                if !read_only {
                    o = o
                        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
                }
                // Checks walk indexes (flows by user, by trans_no) and fetch rows
                // in index order: with SQLite's default 2 MB page cache the same
                // pages are read again and again. 128 MB of cache per connection
                // (the batch default) keeps the working set in memory (2.2× faster
                // checks at 1M flows, docs/BENCHMARKS.md); mmap would be faster
                // still but its pages count against the memory budget.
                o = o
                    .pragma(
                        "cache_size",
                        format!("-{}", u64::from(opts.sqlite_cache_mib) * 1024),
                    )
                    .pragma("temp_store", "MEMORY");
                let p = pool_opts(opts)
                    .connect_with(o)
                    .await
                    .map_err(|e| connect_err(e.to_string()))?;
                Pool::Sqlite(p)
            }
            DbUrl::Postgres(u) => {
                let mut o = sqlx::postgres::PgConnectOptions::from_str(u)
                    .map_err(|e| connect_err(e.to_string()))?
                    .application_name("payrecon");
                let tz = tz_text(opts.business_tz);
                let mut settings = vec![("TimeZone", tz)];
                if read_only {
                    settings.push(("default_transaction_read_only", "on".into()));
                }
                if let Some(m) = opts.pg_work_mem_mib {
                    settings.push(("work_mem", format!("{m}MB")));
                }
                o = o.options(settings);
                probe(&o, opts.connect_timeout).await.map_err(connect_err)?;
                let p = pool_opts(opts)
                    .connect_with(o)
                    .await
                    .map_err(|e| connect_err(e.to_string()))?;
                Pool::Postgres(p)
            }
            DbUrl::MySql(u) => {
                let o = sqlx::mysql::MySqlConnectOptions::from_str(u)
                    .map_err(|e| connect_err(e.to_string()))?
                    .charset("utf8mb4")
                    .timezone(Some(tz_text(opts.business_tz)));
                probe(&o, opts.connect_timeout).await.map_err(connect_err)?;
                let p = pool_opts::<sqlx::MySql>(opts)
                    .after_connect(move |conn: &mut sqlx::MySqlConnection, _meta| {
                        Box::pin(async move {
                            if read_only {
                                conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(o)
                    .await
                    .map_err(|e| connect_err(e.to_string()))?;
                Pool::MySql(p)
            }
        };
        Ok(Self {
            pool,
            url,
            access: opts.access,
            tz: opts.business_tz,
            connect_timeout: opts.connect_timeout,
        })
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// The URL without the password.
    pub fn redacted_url(&self) -> String {
        self.url.redacted()
    }

    /// Read-only or read-write.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The SQLite file, for the bulk reader ([`sqlite_read::SqliteReader`]).
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &self.url {
            DbUrl::Sqlite(p) => Some(p),
            DbUrl::Postgres(_) | DbUrl::MySql(_) => None,
        }
    }

    /// Runs `work` on a blocking thread with a read-only [`sqlite_read::SqliteReader`]
    /// on this database's file; `None` when the database is not SQLite.
    pub async fn with_sqlite_reader<T, E, F>(&self, work: F) -> Option<Result<T, E>>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&sqlite_read::SqliteReader) -> Result<T, E> + Send + 'static,
    {
        let path = self.sqlite_path()?.to_path_buf();
        let r = tokio::task::spawn_blocking(move || {
            let reader = sqlite_read::SqliteReader::open(&path).map_err(E::from)?;
            work(&reader)
        })
        .await;
        Some(match r {
            Ok(v) => v,
            Err(e) => Err(E::from(DbError::State(format!(
                "the SQLite reader stopped: {e}"
            )))),
        })
    }

    /// SQLite only: runs `sql` through the synchronous reader on a blocking
    /// thread and sends the rows, mapped by `map`, in batches of `batch`: one
    /// channel message per batch instead of one per row. Dropping the receiver
    /// stops the reader. `None` when the database is not SQLite.
    pub fn sqlite_batches<T, F>(
        &self,
        sql: String,
        args: Vec<Arg>,
        batch: usize,
        mut map: F,
    ) -> Option<tokio::sync::mpsc::Receiver<DbResult<Vec<T>>>>
    where
        T: Send + 'static,
        F: FnMut(&rusqlite::Row<'_>) -> DbResult<T> + Send + 'static,
    {
        let path = self.sqlite_path()?.to_path_buf();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut stopped = false;
            let mut run = || -> DbResult<()> {
                let r = sqlite_read::SqliteReader::open(&path)?;
                let mut buf = Vec::with_capacity(batch);
                r.for_each(&sql, &args, |row| -> DbResult<bool> {
                    buf.push(map(row)?);
                    if buf.len() >= batch {
                        let full = std::mem::replace(&mut buf, Vec::with_capacity(batch));
                        if tx.blocking_send(Ok(full)).is_err() {
                            stopped = true;
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })?;
                if !stopped && !buf.is_empty() {
                    let _ = tx.blocking_send(Ok(buf));
                }
                Ok(())
            };
            if let Err(e) = run() {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Some(rx)
    }

    /// The business time zone.
    pub fn business_tz(&self) -> FixedOffset {
        self.tz
    }

    /// Wraps a driver error with where it happened.
    pub fn err(&self, source: sqlx::Error) -> DbError {
        DbError::Sql {
            backend: self.backend().name(),
            target: self.url.target(),
            source,
        }
    }

    /// Runs a statement.
    pub async fn execute(&self, sql: &str, args: &[Arg]) -> DbResult<Exec> {
        let r = match &self.pool {
            Pool::Sqlite(p) => exec_sqlite(p, sql, args).await,
            Pool::Postgres(p) => exec_postgres(p, sql, args).await,
            Pool::MySql(p) => exec_mysql(p, sql, args).await,
        };
        r.map_err(|e| self.err(e))
    }

    /// Runs a query and returns every row.
    pub async fn fetch_all(&self, sql: &str, args: &[Arg]) -> DbResult<Vec<Row>> {
        let r = match &self.pool {
            Pool::Sqlite(p) => fetch_sqlite(p, sql, args).await,
            Pool::Postgres(p) => fetch_postgres(p, sql, args).await,
            Pool::MySql(p) => fetch_mysql(p, sql, args).await,
        };
        r.map_err(|e| self.err(e))
    }

    /// Streams a query's rows into `each`, one at a time, never holding the
    /// result set: for tables of millions of rows. `each` may stop early by
    /// returning `Ok(false)`; its error ends the stream and is returned.
    pub async fn for_each_row<E>(
        &self,
        sql: &str,
        args: &[Arg],
        mut each: impl FnMut(Row) -> Result<bool, E>,
    ) -> Result<(), E>
    where
        E: From<DbError>,
    {
        use futures_util::StreamExt as _;
        macro_rules! drive {
            ($pool:expr, $bind:ident, $wrap:ident, $text:expr) => {{
                let mut q = sqlx::query(AssertSqlSafe($text));
                for a in args {
                    q = $bind(q, a);
                }
                let mut stream = q.fetch($pool);
                while let Some(r) = stream.next().await {
                    let row = r.map_err(|e| E::from(self.err(e)))?;
                    if !each(Row::$wrap(row))? {
                        break;
                    }
                }
            }};
        }
        match &self.pool {
            Pool::Sqlite(p) => drive!(p, bind_sqlite, Sqlite, sql.to_owned()),
            Pool::Postgres(p) => drive!(p, bind_postgres, Postgres, to_postgres_placeholders(sql)),
            Pool::MySql(p) => drive!(p, bind_mysql, MySql, sql.to_owned()),
        }
        Ok(())
    }

    /// PostgreSQL only: runs `COPY (…) TO STDOUT` and hands the server's
    /// output to `each` as it arrives (for COPY TO, one message per row).
    pub async fn copy_out<E>(
        &self,
        sql: &str,
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<DbError>,
    {
        use futures_util::StreamExt as _;
        let Pool::Postgres(p) = &self.pool else {
            return Err(E::from(DbError::State(
                "COPY is for PostgreSQL only".into(),
            )));
        };
        let mut conn = p.acquire().await.map_err(|e| E::from(self.err(e)))?;
        let mut stream = conn
            .copy_out_raw(sql)
            .await
            .map_err(|e| E::from(self.err(e)))?;
        while let Some(chunk) = stream.next().await {
            each(&chunk.map_err(|e| E::from(self.err(e)))?)?;
        }
        Ok(())
    }

    /// MySQL only: runs `sql` (no parameters) in the text protocol and hands
    /// each row to `each` as it arrives (see [`mysql_read`]).
    pub async fn mysql_text_rows<E>(
        &self,
        sql: &str,
        mut each: impl FnMut(&mysql_read::TextRow<'_>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<DbError>,
    {
        use futures_util::StreamExt as _;
        let Pool::MySql(p) = &self.pool else {
            return Err(E::from(DbError::State(
                "the text-protocol scan is for MySQL only".into(),
            )));
        };
        if let Some(wire) = self.mysql_wire().await {
            match wire {
                Ok(mut conn) => {
                    let r = conn
                        .query(sql, |data, spans, names| {
                            each(&mysql_read::TextRow {
                                src: mysql_read::Source::Wire { data, spans, names },
                            })
                        })
                        .await;
                    return match r {
                        Ok(_) => {
                            conn.quit().await;
                            Ok(())
                        }
                        // Dropping the connection mid-result ends the query
                        // on the server instead of reading the rest.
                        Err(mysql_wire::QueryError::Each(e)) => Err(e),
                        Err(mysql_wire::QueryError::Wire(reason)) => {
                            Err(E::from(DbError::MySqlRead {
                                target: self.url.target(),
                                reason,
                            }))
                        }
                    };
                }
                // This client does not connect the way this server wants:
                // sqlx's does (or says what is wrong).
                Err(why) => {
                    if std::env::var_os("PAYRECON_TIMINGS").is_some() {
                        eprintln!("mysql wire reader: {why}; reading through sqlx");
                    }
                }
            }
        }
        let mut conn = p.acquire().await.map_err(|e| E::from(self.err(e)))?;
        let r = async {
            let mut stream = sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).fetch(&mut *conn);
            while let Some(row) = stream.next().await {
                let row = row.map_err(|e| E::from(self.err(e)))?;
                each(&mysql_read::TextRow {
                    src: mysql_read::Source::Sqlx(&row),
                })?;
            }
            Ok(())
        }
        .await;
        if r.is_err() {
            // Stopped mid-result (cancelled, or a bad row): the rest of the
            // rows would have to be read before the connection could serve
            // again; dropping it ends the query on the server instead.
            drop(conn.detach());
        }
        r
    }

    /// A connection of payrecon's own MySQL row reader (`mysql_wire`):
    /// `None` for a URL it does not take, `Err` with the reason when it
    /// cannot connect as this server wants.
    async fn mysql_wire(&self) -> Option<Result<mysql_wire::Conn, String>> {
        let DbUrl::MySql(u) = &self.url else {
            return None;
        };
        let target = mysql_wire::Target::from_url(u)?;
        let ro = self.access == Access::ReadOnly;
        Some(mysql_wire::Conn::connect(&target, &tz_text(self.tz), ro, self.connect_timeout).await)
    }

    /// Whether the bulk scans and exports of this MySQL database read their
    /// rows with payrecon's own reader (`Ok`), or else through sqlx, and why.
    pub async fn mysql_fast_reader(&self) -> Result<(), String> {
        match self.mysql_wire().await {
            Some(Ok(conn)) => {
                conn.quit().await;
                Ok(())
            }
            Some(Err(why)) => Err(why),
            None => Err("the URL asks for a connection only sqlx makes".into()),
        }
    }

    /// Runs a query and returns its first row, if any.
    pub async fn fetch_optional(&self, sql: &str, args: &[Arg]) -> DbResult<Option<Row>> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    /// Inserts one row and returns its `id`.
    pub async fn insert(&self, sql: &str, args: &[Arg]) -> DbResult<i64> {
        if self.backend() == Backend::Postgres {
            let rows = self.fetch_all(&format!("{sql} RETURNING id"), args).await?;
            return first_id(&rows).map_err(|e| self.decode("insert", e));
        }
        let r = self.execute(sql, args).await?;
        Ok(r.last_id.unwrap_or_default())
    }

    /// Starts a transaction. On SQLite `immediate` takes the write lock at once
    /// (`BEGIN IMMEDIATE`), which is how SQLite serialises "lock, check, update".
    pub async fn begin(&self, immediate: bool) -> DbResult<Tx> {
        let r = match &self.pool {
            Pool::Sqlite(p) => {
                if immediate {
                    p.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite)
                } else {
                    p.begin().await.map(Tx::Sqlite)
                }
            }
            Pool::Postgres(p) => p.begin().await.map(Tx::Postgres),
            Pool::MySql(p) => p.begin().await.map(Tx::MySql),
        };
        r.map_err(|e| self.err(e))
    }

    /// Wraps a decode error with the table it came from.
    pub fn decode(&self, table: &str, source: DecodeError) -> DbError {
        DbError::Decode {
            table: table.to_owned(),
            source,
        }
    }

    /// `FOR UPDATE` where the backend has row locks (SQLite serialises writers instead).
    pub fn for_update(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres | Backend::MySql => " FOR UPDATE",
        }
    }

    /// An exact, comparable form of an amount column, for `=`/`<>` in SQL:
    /// the column itself on the servers (DECIMAL), integer cents on SQLite.
    ///
    /// SQLite keeps amounts as TEXT and its arithmetic is binary floating point;
    /// `ROUND(x * 100)` is still exact for every two-decimal amount below 10^13
    /// (the float's error is under 0.002 cents), and integer sums are exact.
    pub fn money_cmp(&self, col: &str) -> String {
        match self.backend() {
            Backend::Sqlite => format!("CAST(ROUND(({col}) * 100) AS INTEGER)"),
            Backend::Postgres | Backend::MySql => col.to_owned(),
        }
    }

    /// An exact `SUM` of an amount expression (see [`Db::money_cmp`]); read it
    /// with [`Row::opt_money_agg`].
    pub fn money_sum(&self, expr: &str) -> String {
        format!("SUM({})", self.money_cmp(expr))
    }

    /// `table` for a query that aggregates all of it: on SQLite `NOT INDEXED`,
    /// because its planner would walk an index and fetch every row in random
    /// order (3× slower on 1M flows than a scan and a sort, docs/BENCHMARKS.md).
    pub fn full_scan(&self, table: &str) -> String {
        match self.backend() {
            Backend::Sqlite => format!("{table} NOT INDEXED"),
            Backend::Postgres | Backend::MySql => table.to_owned(),
        }
    }

    /// The current business-local time, to the millisecond.
    pub fn now(&self) -> NaiveDateTime {
        let t = chrono::Utc::now().with_timezone(&self.tz).naive_local();
        truncate_ms(t)
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
            Pool::MySql(p) => p.close().await,
        }
    }
}

/// Cuts a time to whole milliseconds (the precision every backend keeps).
pub fn truncate_ms(t: NaiveDateTime) -> NaiveDateTime {
    use chrono::Timelike as _;
    let ns = t.nanosecond() / 1_000_000 * 1_000_000;
    t.with_nanosecond(ns).unwrap_or(t)
}

fn first_id(rows: &[Row]) -> Result<i64, DecodeError> {
    match rows.first() {
        Some(r) => r.i64(0),
        None => Err(DecodeError {
            column: "id".into(),
            reason: "insert returned no row".into(),
        }),
    }
}

/// An open transaction on any backend. Dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    /// SQLite.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    /// MySQL/MariaDB.
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl Tx {
    /// Runs a statement inside the transaction.
    pub async fn execute(&mut self, db: &Db, sql: &str, args: &[Arg]) -> DbResult<Exec> {
        let r = match self {
            Self::Sqlite(t) => exec_sqlite(&mut **t, sql, args).await,
            Self::Postgres(t) => exec_postgres(&mut **t, sql, args).await,
            Self::MySql(t) => exec_mysql(&mut **t, sql, args).await,
        };
        r.map_err(|e| db.err(e))
    }

    /// Runs a query inside the transaction.
    pub async fn fetch_all(&mut self, db: &Db, sql: &str, args: &[Arg]) -> DbResult<Vec<Row>> {
        let r = match self {
            Self::Sqlite(t) => fetch_sqlite(&mut **t, sql, args).await,
            Self::Postgres(t) => fetch_postgres(&mut **t, sql, args).await,
            Self::MySql(t) => fetch_mysql(&mut **t, sql, args).await,
        };
        r.map_err(|e| db.err(e))
    }

    /// First row of a query inside the transaction.
    pub async fn fetch_optional(
        &mut self,
        db: &Db,
        sql: &str,
        args: &[Arg],
    ) -> DbResult<Option<Row>> {
        Ok(self.fetch_all(db, sql, args).await?.into_iter().next())
    }

    /// Inserts one row and returns its `id`.
    pub async fn insert(&mut self, db: &Db, sql: &str, args: &[Arg]) -> DbResult<i64> {
        if db.backend() == Backend::Postgres {
            let rows = self
                .fetch_all(db, &format!("{sql} RETURNING id"), args)
                .await?;
            return first_id(&rows).map_err(|e| db.decode("insert", e));
        }
        Ok(self
            .execute(db, sql, args)
            .await?
            .last_id
            .unwrap_or_default())
    }

    /// Commits.
    pub async fn commit(self, db: &Db) -> DbResult<()> {
        let r = match self {
            Self::Sqlite(t) => t.commit().await,
            Self::Postgres(t) => t.commit().await,
            Self::MySql(t) => t.commit().await,
        };
        r.map_err(|e| db.err(e))
    }

    /// Rolls back.
    pub async fn rollback(self, db: &Db) -> DbResult<()> {
        let r = match self {
            Self::Sqlite(t) => t.rollback().await,
            Self::Postgres(t) => t.rollback().await,
            Self::MySql(t) => t.rollback().await,
        };
        r.map_err(|e| db.err(e))
    }
}

macro_rules! backend_fns {
    ($exec:ident, $fetch:ident, $db:ty, $bind:ident, $row:ident, $sql:expr, $last:expr) => {
        async fn $exec<'c, E>(ex: E, sql: &str, args: &[Arg]) -> Result<Exec, sqlx::Error>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let text: String = $sql(sql);
            let mut q = sqlx::query(AssertSqlSafe(text));
            for a in args {
                q = $bind(q, a);
            }
            let r = q.execute(ex).await?;
            Ok(Exec {
                rows: r.rows_affected(),
                last_id: $last(&r),
            })
        }

        async fn $fetch<'c, E>(ex: E, sql: &str, args: &[Arg]) -> Result<Vec<Row>, sqlx::Error>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let text: String = $sql(sql);
            let mut q = sqlx::query(AssertSqlSafe(text));
            for a in args {
                q = $bind(q, a);
            }
            Ok(q.fetch_all(ex).await?.into_iter().map(Row::$row).collect())
        }
    };
}

backend_fns!(
    exec_sqlite,
    fetch_sqlite,
    sqlx::Sqlite,
    bind_sqlite,
    Sqlite,
    |s: &str| s.to_owned(),
    |r: &sqlx::sqlite::SqliteQueryResult| Some(r.last_insert_rowid())
);
backend_fns!(
    exec_postgres,
    fetch_postgres,
    sqlx::Postgres,
    bind_postgres,
    Postgres,
    to_postgres_placeholders,
    |_r: &sqlx::postgres::PgQueryResult| None
);
backend_fns!(
    exec_mysql,
    fetch_mysql,
    sqlx::MySql,
    bind_mysql,
    MySql,
    |s: &str| s.to_owned(),
    |r: &sqlx::mysql::MySqlQueryResult| i64::try_from(r.last_insert_id()).ok()
);

/// Statements either inside one transaction or each committed on its own.
///
/// The flawed handlers of the simulator really do run without a transaction;
/// this lets the same code path do either.
pub struct Session<'a> {
    db: &'a Db,
    tx: Option<Tx>,
}

impl<'a> Session<'a> {
    /// A transaction (see [`Db::begin`]).
    pub async fn begin(db: &'a Db, immediate: bool) -> DbResult<Self> {
        Ok(Self {
            db,
            tx: Some(db.begin(immediate).await?),
        })
    }

    /// No transaction: every statement commits by itself.
    pub fn autocommit(db: &'a Db) -> Self {
        Self { db, tx: None }
    }

    /// The database.
    pub fn db(&self) -> &'a Db {
        self.db
    }

    /// Runs a statement.
    pub async fn execute(&mut self, sql: &str, args: &[Arg]) -> DbResult<Exec> {
        match &mut self.tx {
            Some(tx) => tx.execute(self.db, sql, args).await,
            None => self.db.execute(sql, args).await,
        }
    }

    /// Runs a query.
    pub async fn fetch_all(&mut self, sql: &str, args: &[Arg]) -> DbResult<Vec<Row>> {
        match &mut self.tx {
            Some(tx) => tx.fetch_all(self.db, sql, args).await,
            None => self.db.fetch_all(sql, args).await,
        }
    }

    /// First row of a query.
    pub async fn fetch_optional(&mut self, sql: &str, args: &[Arg]) -> DbResult<Option<Row>> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    /// Inserts a row, returning its id.
    pub async fn insert(&mut self, sql: &str, args: &[Arg]) -> DbResult<i64> {
        match &mut self.tx {
            Some(tx) => tx.insert(self.db, sql, args).await,
            None => self.db.insert(sql, args).await,
        }
    }

    /// Commits (nothing to do without a transaction).
    pub async fn commit(self) -> DbResult<()> {
        match self.tx {
            Some(tx) => tx.commit(self.db).await,
            None => Ok(()),
        }
    }

    /// Rolls back (nothing to undo without a transaction — that is the point).
    pub async fn rollback(self) -> DbResult<()> {
        match self.tx {
            Some(tx) => tx.rollback(self.db).await,
            None => Ok(()),
        }
    }
}
