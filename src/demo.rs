//! `payrecon demo`: the embedded SQLite demo database, filled by really
//! running the flawed and the fixed handlers over three business days.
//!
//! The database has a legacy layout (no `uk_trans_no`), as many real srb
//! deployments did: day 1 runs the `naive` handler (the seeds' 存在的问题),
//! day 2 srb's original `check-then-act`, day 3 the `locked` handler with every
//! gateway fault turned on. Each day's hfb statement is written beside it.

use crate::db::{ConnectOptions, Db, DbError, schema};
use crate::payment::HandlerKind;
use crate::simulate::{self, Faults, SimConfig, SimError, Truth};
use chrono::{Duration, NaiveDate};
use std::path::{Path, PathBuf};

/// What `demo` made.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The database file.
    pub db_path: PathBuf,
    /// Statement files, one per day.
    pub statements: Vec<PathBuf>,
    /// The truth file.
    pub truth_path: PathBuf,
    /// What the run produced.
    pub truth: Truth,
}

/// Where payrecon keeps its files: the user's data directory.
pub fn data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "payrecon")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".payrecon"))
}

/// The default demo database path.
pub fn default_demo_path() -> PathBuf {
    data_dir().join("demo.db")
}

/// Today's business date.
pub fn business_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&crate::db::default_business_tz())
        .date_naive()
}

/// The three days, ending yesterday (the day a finance operator reconciles).
fn demo_days(last: NaiveDate) -> [(NaiveDate, HandlerKind); 3] {
    [
        (last - Duration::days(2), HandlerKind::Naive),
        (last - Duration::days(1), HandlerKind::CheckThenAct),
        (last, HandlerKind::Locked),
    ]
}

fn faults_for(h: HandlerKind) -> Faults {
    let mut f = Faults {
        duplicate_rate: 0.12,
        lost_response_rate: 0.08,
        timeout_rate: 0.04,
        error_rate: 0.02,
        exhaust_rate: 0.03,
        abandon_rate: 0.03,
        decline_rate: 0.02,
        stray_rate: 0.25,
        refund_rate: 0.02,
        amount_drift_rate: 0.02,
        statement_duplicate_rate: 0.02,
        ..Faults::default()
    };
    match h {
        HandlerKind::Naive => f.crash_rate = 0.01,
        HandlerKind::CheckThenAct => {}
        HandlerKind::Locked => {
            f.conflict_rate = 0.03;
            f.crash_rate = 0.15;
        }
    }
    f
}

/// Builds the demo at `path` (SQLite). The database is built in a temporary
/// file and moved into place only when complete, so a failed run never leaves
/// a half-filled demo behind; an existing demo at `path` is replaced.
pub async fn build_sqlite(
    path: &Path,
    last_day: NaiveDate,
    seed: u64,
) -> Result<DemoReport, SimError> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|source| SimError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let tmp = path.with_extension("building");
    for p in [tmp.clone(), wal(&tmp, "-wal"), wal(&tmp, "-shm")] {
        let _ = std::fs::remove_file(p);
    }
    let url = format!("sqlite://{}", tmp.display());
    let db = Db::connect(&url, &ConnectOptions::read_write()).await?;
    let mut result = fill(&db, &dir, last_day, seed).await;
    db.close().await;
    if result.is_ok() {
        // One self-contained file: readers need no -wal/-shm beside it. The
        // journal mode can only change on the database's sole connection.
        if let Err(e) = rollback_journal(&url).await {
            result = Err(e.into());
        }
    }
    let (statements, truth) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(wal(path, suffix));
    }
    std::fs::rename(&tmp, path).map_err(|source| SimError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let truth_path = dir.join("demo-truth.json");
    simulate::write_truth(&truth_path, &truth)?;
    Ok(DemoReport {
        db_path: path.to_path_buf(),
        statements,
        truth_path,
        truth,
    })
}

async fn rollback_journal(url: &str) -> Result<(), DbError> {
    let mut o = ConnectOptions::read_write();
    o.max_connections = 1;
    let db = Db::connect(url, &o).await?;
    let r = db.execute("PRAGMA journal_mode = DELETE", &[]).await;
    db.close().await;
    r.map(|_| ())
}

fn wal(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Fills an empty database (any backend) with the three demo days and writes
/// the statements into `dir`.
pub async fn fill(
    db: &Db,
    dir: &Path,
    last_day: NaiveDate,
    seed: u64,
) -> Result<(Vec<PathBuf>, Truth), SimError> {
    let s = schema::discover(db).await?;
    if !s.tables.is_empty() {
        return Err(SimError::Db(DbError::Schema(format!(
            "{} already has payment tables ({}); the demo fills only an empty database",
            db.redacted_url(),
            s.tables.keys().cloned().collect::<Vec<_>>().join(", ")
        ))));
    }
    schema::create_legacy_trans_flow(db).await?;
    crate::db::migrate(db).await?;
    let mut truth = Truth::default();
    let mut users = Vec::new();
    let mut carry = Vec::new();
    let mut files = Vec::new();
    for (k, (day, handler)) in demo_days(last_day).into_iter().enumerate() {
        let mut cfg = SimConfig::new(handler, day);
        cfg.users = 40;
        cfg.recharges = 150;
        cfg.concurrency = 3;
        cfg.seed = seed.wrapping_add(k as u64);
        cfg.faults = faults_for(handler);
        let report = simulate::run_with_users(db, &cfg, std::mem::take(&mut users)).await?;
        let mut lines = std::mem::take(&mut carry);
        lines.extend(report.statement);
        lines.sort_by_key(|l| l.paid_at);
        let file = dir.join(format!("hfb-{day}.csv"));
        simulate::write_statement(&file, &lines)?;
        files.push(file);
        if k == 2 && lines.len() > 3 {
            // The same day as a WeChat bill whose download was cut short: its
            // footer still counts every payment, its rows do not.
            let wx = dir.join(format!("wechat-{day}-truncated.csv"));
            crate::statement::wechat::write_file(&wx, &lines, Some(lines.len() - 3)).map_err(
                |source| SimError::Io {
                    path: wx.display().to_string(),
                    source,
                },
            )?;
            truth
                .anomalies
                .entry("statement_total_mismatch")
                .or_default()
                .insert(
                    wx.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
            files.push(wx);
        }
        carry = report.next_day_statement;
        users = report.users;
        truth.merge(report.truth);
    }
    truth.config = None;
    Ok((files, truth))
}
