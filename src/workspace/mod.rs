//! payrecon's own state (SPEC §8): a separate SQLite database — never the
//! payment database — holding reconciliation runs, findings with their
//! lifecycle and age across runs (SPEC §4), resolutions, recent connections
//! (password-free) and the hash-chained audit log.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction, serialised inside the
//! process by a lock and across processes by SQLite (WAL, busy timeout), so
//! the GUI and the command line can share one workspace file.
//!
//! Times are business-local [`NaiveDateTime`]s stored as TEXT
//! `YYYY-MM-DD HH:MM:SS.fff`; amounts are canonical decimal TEXT (`"100.00"`);
//! JSON is stored as TEXT. The schema is versioned with `PRAGMA user_version`
//! (see [`SCHEMA_VERSION`]); later versions append migrations.

mod audit;
mod case_findings;
mod connections;
mod findings;
mod redact;
mod runs;
mod settings;

#[cfg(test)]
mod tests;

pub use audit::{AuditEntry, AuditReport, GENESIS_HASH, audit_hash};
pub use connections::{MAX_RECENT_CONNECTIONS, RecentConnection};
pub use findings::{
    AgeBucket, BulkOutcome, FindingEvent, FindingFilter, FindingGroup, FindingPage, FindingRow,
    GroupBy, GroupKey, GroupPage, KeyPart, LastAction, QueueCursor, QueueKey, QueueOrder,
    QueueSort, QueueSummary, Selection, Status, fingerprint,
};
pub use redact::{redact_json, strip_passwords};
pub use runs::{RunRecord, RunRow, STATEMENT_KINDS};

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// The migrations, in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_settings_and_run_outputs.sql"),
    include_str!("migrations/0003_findings_queue.sql"),
];

/// The schema version this payrecon writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The text format of every stored time.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// Why a workspace operation failed. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The folder for the workspace file could not be created.
    #[error("could not create the folder {path} for the workspace: {source}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The workspace file could not be opened or created.
    #[error("could not open the workspace database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: sqlx::Error,
    },
    /// The file was written by a newer payrecon.
    #[error(
        "the workspace has schema version {found} but this payrecon knows only up to {known}: use a newer payrecon"
    )]
    TooNew {
        /// The file's version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A query against the workspace failed.
    #[error("the workspace database failed: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored value could not be read back.
    #[error("the workspace holds a value payrecon cannot read: {0}")]
    Corrupt(String),
    /// No finding has this id.
    #[error("there is no finding {0} in the workspace")]
    NoSuchFinding(i64),
    /// No run has this id.
    #[error("there is no run {0} in the workspace")]
    NoSuchRun(i64),
    /// Resolving, accepting or reopening without saying why.
    #[error("a note is required to mark a finding {to}: say why")]
    NoteRequired {
        /// The status asked for.
        to: Status,
    },
    /// A status change the lifecycle does not allow.
    #[error("a finding that is {from} cannot become {to} (allowed: {allowed})")]
    IllegalTransition {
        /// The current status.
        from: Status,
        /// The status asked for.
        to: Status,
        /// What the current status may become, in words.
        allowed: String,
    },
    /// The audit log's head row is gone.
    #[error(
        "the audit log's head row is missing: the workspace was tampered with; run `payrecon audit verify`"
    )]
    AuditHeadMissing,
}

/// Result alias for this module.
pub type Result<T, E = WorkspaceError> = std::result::Result<T, E>;

/// An open workspace. Cheap to clone; clones share the connection pool and
/// the write lock.
#[derive(Debug, Clone)]
pub struct Workspace {
    pool: SqlitePool,
    path: PathBuf,
    tz: FixedOffset,
    write: Arc<Mutex<()>>,
}

/// The operator's name for runs, resolutions and audit entries: the
/// environment variable `PAYRECON_OPERATOR`, else `USER`, else `USERNAME`,
/// else `"unknown"`.
pub fn current_operator() -> String {
    ["PAYRECON_OPERATOR", "USER", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

impl Workspace {
    /// `<user data dir>/workspace.db`.
    pub fn default_path() -> PathBuf {
        crate::demo::data_dir().join("workspace.db")
    }

    /// Opens the workspace at `path`, creating the file, its folder and its
    /// tables if missing, and migrating an older schema. Times are taken in
    /// the default business time zone (see [`Workspace::with_business_tz`]).
    pub async fn open(path: &Path) -> Result<Workspace> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| WorkspaceError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let open_err = |source| WorkspaceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let pool = sqlx::pool::PoolOptions::<Sqlite>::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await
            .map_err(open_err)?;
        let ws = Workspace {
            pool,
            path: path.to_path_buf(),
            tz: crate::db::default_business_tz(),
            write: Arc::new(Mutex::new(())),
        };
        ws.migrate().await?;
        Ok(ws)
    }

    /// The same workspace, taking "now" in business time zone `tz`.
    pub fn with_business_tz(mut self, tz: FixedOffset) -> Self {
        self.tz = tz;
        self
    }

    /// The workspace file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The current business-local time, to the millisecond.
    pub fn now(&self) -> NaiveDateTime {
        let t = chrono::Utc::now().with_timezone(&self.tz).naive_local();
        // Formatting keeps milliseconds; parsing the text back truncates the rest.
        parse_time(&fmt_time(t)).unwrap_or(t)
    }

    /// The schema version of the open file.
    pub async fn schema_version(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn migrate(&self) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        let found: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?;
        if found > SCHEMA_VERSION {
            return Err(WorkspaceError::TooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        let done = usize::try_from(found).unwrap_or(0);
        for m in MIGRATIONS.iter().skip(done) {
            sqlx::raw_sql(*m).execute(&mut *tx).await?;
        }
        // A constant of this build, not input: safe to format into the pragma.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA user_version = {SCHEMA_VERSION}"
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a write transaction: the in-process lock first, then
    /// `BEGIN IMMEDIATE` so that no other process can write in between.
    /// Drop the transaction before the guard (declare the guard first).
    async fn begin_write(&self) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>)> {
        let guard = self.write.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((guard, tx))
    }
}

/// Formats a time for storage.
fn fmt_time(t: NaiveDateTime) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// Reads a stored time.
fn parse_time(s: &str) -> Result<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .map_err(|_| WorkspaceError::Corrupt(format!("'{s}' is not a time")))
}

/// Reads an optional stored time.
fn parse_opt_time(s: Option<String>) -> Result<Option<NaiveDateTime>> {
    s.as_deref().map(parse_time).transpose()
}

/// Formats a date for storage.
fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Reads a stored date.
fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| WorkspaceError::Corrupt(format!("'{s}' is not a date")))
}

/// A value bound into a query built with a variable number of placeholders.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
    Null,
}

/// `?, ?, ?` for `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Binds `binds` in order.
fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    binds: &[Bind],
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.clone()),
            Bind::Int(i) => q.bind(*i),
            Bind::Null => q.bind(None::<String>),
        };
    }
    q
}
