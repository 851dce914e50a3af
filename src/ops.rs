//! Operations the command line and the console share, so that a run started
//! from the window is recorded, exported and audited exactly like one started
//! from a terminal.

use crate::db::{Db, DbError, schema};
use crate::export::CsvFile;
use crate::recon::{self, Kind, RunOptions, RunOutput};
use crate::views::{self, Filter, View};
use crate::workspace::{self, FindingFilter, RunRecord, Status, Workspace, WorkspaceError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Why an operation failed; each variant says what and where.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The payment database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// payrecon's workspace.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database has no such table.
    #[error("{database} has no table {table}: nothing to export")]
    NoTable {
        /// The database (password-free).
        database: String,
        /// The table.
        table: &'static str,
    },
    /// Stopped by the user; nothing was left under the target name.
    #[error("cancelled; no file was written")]
    Cancelled,
}

/// A reconciliation that ran and was recorded in the workspace.
#[derive(Debug)]
pub struct Recorded {
    /// The workspace run id.
    pub run_id: i64,
    /// What the run produced.
    pub output: RunOutput,
}

/// Runs a reconciliation, records it in the workspace (whatever its outcome:
/// a failed or cancelled run is on record as such), remembers the connection
/// and writes `findings.csv` and `summary.json` into `out_dir`.
///
/// `params` are the inputs as the caller wants them on record (statement
/// files, formats, thresholds).
#[allow(clippy::too_many_arguments)]
pub async fn reconcile_and_record(
    db: &Db,
    ws: &Workspace,
    opts: &RunOptions,
    params: serde_json::Value,
    out_dir: &Path,
    bom: bool,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Recorded, OpsError> {
    let output = recon::reconcile(db, opts, cancel, progress).await;
    let mut not_checked: Vec<Kind> = output
        .skipped
        .iter()
        .flat_map(|s| s.kinds.iter().filter_map(|k| Kind::parse(k)))
        .collect();
    if output.matching.is_none() {
        not_checked.extend_from_slice(workspace::STATEMENT_KINDS);
    }
    let rec = RunRecord {
        operator: ws.operator_or_env().await?,
        started_at: output.started_at,
        finished_at: output.started_at
            + chrono::Duration::milliseconds(i64::try_from(output.duration_ms).unwrap_or(i64::MAX)),
        database: output.database.clone(),
        period: output.period,
        params,
        status: output.status,
        reason: output.error.clone(),
        not_checked,
    };
    let t0 = std::time::Instant::now();
    let run_id = ws.record_run(&rec, &output.findings).await?;
    ws.remember_connection(&db.redacted_url(), db.backend().name())
        .await?;
    recon::checks::stage_time("workspace record", t0);
    let t0 = std::time::Instant::now();
    recon::write_outputs(out_dir, &output, bom).map_err(|source| OpsError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    recon::checks::stage_time("write outputs", t0);
    Ok(Recorded { run_id, output })
}

/// Stops an export from another thread and reports its progress.
#[derive(Debug, Default)]
pub struct ExportControl {
    /// Set to stop; the partial file is removed.
    pub cancel: AtomicBool,
    /// Rows written so far.
    pub rows: AtomicU64,
}

/// Exports a database view with its filter to CSV (streamed, written under a
/// temporary name and moved into place only when complete), and records the
/// export in the audit log. Returns the rows written.
///
/// Without `control` the export takes the engine's fastest path
/// ([`crate::export::write_view`]); with it (the console) rows are counted
/// and the export can be cancelled between rows, leaving no file behind.
pub async fn export_view(
    db: &Db,
    ws: &Workspace,
    view: View,
    filter: &Filter,
    out: &Path,
    bom: bool,
    control: Option<&ExportControl>,
) -> Result<u64, OpsError> {
    let s = schema::discover(db).await?;
    if !s.has_table(view.table()) {
        return Err(OpsError::NoTable {
            database: db.redacted_url(),
            table: view.table(),
        });
    }
    // A filter the view cannot take is refused before any file is created.
    let (sql, args) = views::select(db, view, filter)?;
    let write_err = |source| OpsError::Write {
        path: out.to_path_buf(),
        source,
    };
    let file = CsvFile::create(out, view.header(), bom).map_err(write_err)?;
    let rows = match control {
        None => match crate::export::write_view(db, view, filter, file).await {
            Ok(n) => n,
            Err(crate::export::ExportError::Io(e)) => return Err(write_err(e)),
            Err(crate::export::ExportError::Db(e)) => return Err(e.into()),
        },
        Some(c) => {
            let mut file = file;
            let mut io_err = None;
            let mut cancelled = false;
            db.for_each_row(&sql, &args, |row| -> Result<bool, DbError> {
                if c.cancel.load(Ordering::Relaxed) {
                    cancelled = true;
                    return Ok(false);
                }
                let cells = views::format_row(db, view, &row)?;
                if let Err(e) = file.row(cells) {
                    io_err = Some(e);
                    return Ok(false);
                }
                c.rows.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            })
            .await?;
            if let Some(e) = io_err {
                file.abandon();
                return Err(write_err(e));
            }
            if cancelled {
                file.abandon();
                return Err(OpsError::Cancelled);
            }
            file.finish().map_err(write_err)?
        }
    };
    ws.append_audit(
        &ws.operator_or_env().await?,
        "export",
        &serde_json::json!({
            "database": db.redacted_url(),
            "view": view,
            "filter": filter,
            "out": out.display().to_string(),
            "rows": rows,
        }),
    )
    .await?;
    Ok(rows)
}

/// Exports the workspace's findings for one database (password-free URL) to
/// CSV: the `findings.csv` columns plus id, status, first detection and age;
/// `statuses` empty means all; `key` keeps one business key. Audited.
pub async fn export_findings(
    ws: &Workspace,
    database: &str,
    statuses: Vec<Status>,
    key: Option<&str>,
    out: &Path,
    bom: bool,
) -> Result<u64, OpsError> {
    let rows = ws
        .list_findings(&FindingFilter {
            database: Some(database.to_owned()),
            statuses: statuses.clone(),
            ..FindingFilter::default()
        })
        .await?;
    let mut header: Vec<&str> = recon::run::FINDINGS_HEADER.to_vec();
    header.extend(["id", "status", "first_detected", "age_days"]);
    let write_err = |source| OpsError::Write {
        path: out.to_path_buf(),
        source,
    };
    let mut file = CsvFile::create(out, &header, bom).map_err(write_err)?;
    for r in rows.iter().filter(|r| key.is_none_or(|k| r.key == k)) {
        let mut cells = recon::run::finding_cells(&r.finding());
        cells.extend([
            r.id.to_string(),
            r.status.as_str().to_owned(),
            r.first_seen_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.age_days.to_string(),
        ]);
        if let Err(e) = file.row(cells) {
            file.abandon();
            return Err(write_err(e));
        }
    }
    let n = file.finish().map_err(write_err)?;
    ws.append_audit(
        &ws.operator_or_env().await?,
        "export",
        &serde_json::json!({
            "database": database,
            "view": "findings",
            "status": statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "key": key,
            "out": out.display().to_string(),
            "rows": n,
        }),
    )
    .await?;
    Ok(n)
}
