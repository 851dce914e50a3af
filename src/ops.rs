//! Operations the command line and the console share, so that a run started
//! from the window is recorded, exported and audited exactly like one started
//! from a terminal.

use crate::db::{Db, DbError, schema};
use crate::export::{ExportFormat, OutFile};
use crate::recon::run::Progress;
use crate::recon::{self, Kind, Period, RunOptions, RunOutput, RunStatus};
use crate::views::{self, Filter, View};
use crate::workspace::{self, RunRecord, Workspace, WorkspaceError};
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
    /// An export of the findings queue failed.
    #[error(transparent)]
    Findings(#[from] crate::export::findings::FindingsExportError),
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
    /// The folder its `findings.csv` (complete runs only) and
    /// `summary.json` were written to.
    pub out_dir: PathBuf,
}

/// Where a run writes its `findings.csv`, `findings.xlsx` and `summary.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outputs {
    /// Exactly this folder (the command line's `--out DIR`, SPEC §7). A run
    /// that failed or was cancelled writes its `summary.json` saying so and
    /// no `findings.csv`; the results of an earlier run found there are
    /// kept, renamed `findings.before-run<id>.csv`,
    /// `findings.before-run<id>.xlsx` and `summary.before-run<id>.json`, so
    /// that they are neither lost nor taken for this run's.
    Folder(PathBuf),
    /// A new folder for each run under this root (the console):
    /// `<root>/<database>/<period>-run<id>[-failed|-cancelled]/`, so that no
    /// run ever overwrites or removes another's results.
    PerRun(PathBuf),
}

/// Runs a reconciliation, records it in the workspace (whatever its outcome:
/// a failed or cancelled run is on record as such, under the operator saved
/// in the workspace), remembers the connection, writes `findings.csv` and
/// `summary.json` where `outputs` says and stores that folder with the run.
///
/// `params` are the inputs as the caller wants them on record (statement
/// files, formats, thresholds); `progress` is told where the run is
/// ([`recon::run::reconcile_with_progress`]).
#[allow(clippy::too_many_arguments)]
pub async fn reconcile_and_record(
    db: &Db,
    ws: &Workspace,
    opts: &RunOptions,
    params: serde_json::Value,
    outputs: &Outputs,
    bom: bool,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Recorded, OpsError> {
    let output = recon::run::reconcile_with_progress(db, opts, cancel, progress).await;
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
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OpsError::Write { path, source }
    };
    let out_dir = match outputs {
        Outputs::Folder(dir) => {
            if output.status != RunStatus::Ok {
                set_aside(dir, run_id).map_err(write_err(dir))?;
            }
            dir.clone()
        }
        Outputs::PerRun(root) => {
            let name = run_folder_name(output.period, run_id, output.status);
            let parent = root.join(database_folder_name(db));
            claim_folder(&parent, &name).map_err(write_err(&parent))?
        }
    };
    recon::write_outputs(&out_dir, &output, bom).map_err(write_err(&out_dir))?;
    ws.set_run_out_dir(run_id, &out_dir).await?;
    recon::checks::stage_time("write outputs", t0);
    Ok(Recorded {
        run_id,
        output,
        out_dir,
    })
}

/// A folder name for a database: a SQLite file's name without its
/// extension; a server's host and database (never a user or password).
pub fn database_folder_name(db: &Db) -> String {
    let raw = match db.sqlite_path() {
        Some(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        None => {
            let url = db.redacted_url();
            let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            rest.split('?').next().unwrap_or_default().to_owned()
        }
    };
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let name = name.trim_matches(|c| c == '.' || c == '_').to_owned();
    if name.is_empty() {
        "database".to_owned()
    } else {
        name
    }
}

/// `<period>-run<id>`, with `-failed` or `-cancelled` when it did not complete.
pub fn run_folder_name(period: Option<Period>, run_id: i64, status: RunStatus) -> String {
    let period = match period {
        None => "all".to_owned(),
        Some(p) if p.from == p.to => p.from.to_string(),
        Some(p) => format!("{}..{}", p.from, p.to),
    };
    let end = match status {
        RunStatus::Ok => "",
        RunStatus::Failed => "-failed",
        RunStatus::Cancelled => "-cancelled",
    };
    format!("{period}-run{run_id}{end}")
}

/// Creates `parent/name` as a new folder — `name-2`, `name-3`, … when a
/// folder of that name is already there (another workspace's run of the
/// same id): an existing folder is never written into.
fn claim_folder(parent: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    for i in 1..=1000 {
        let dir = if i == 1 {
            parent.join(name)
        } else {
            parent.join(format!("{name}-{i}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{}: 1000 folders named {name} already", parent.display()),
    ))
}

/// Renames an earlier run's results in `dir` out of the way of a failed or
/// cancelled run's summary (see [`Outputs::Folder`]).
fn set_aside(dir: &Path, run_id: i64) -> std::io::Result<()> {
    for (file, kept) in [
        ("findings.csv", format!("findings.before-run{run_id}.csv")),
        ("summary.json", format!("summary.before-run{run_id}.json")),
        ("findings.xlsx", format!("findings.before-run{run_id}.xlsx")),
    ] {
        let from = dir.join(file);
        if from.is_file() {
            std::fs::rename(&from, dir.join(kept))?;
        }
    }
    Ok(())
}

/// Stops an export from another thread and reports its progress.
#[derive(Debug, Default)]
pub struct ExportControl {
    /// Set to stop; the partial file is removed.
    pub cancel: AtomicBool,
    /// Rows written so far.
    pub rows: AtomicU64,
}

/// Exports a database view with its filter to CSV or an Excel workbook
/// (`format`; streamed, written under a temporary name and moved into place
/// only when complete), and records the export in the audit log. Returns
/// the rows written.
///
/// Without `control` the export takes the engine's fastest path
/// ([`crate::export::write_view`]); with it (the console) rows are counted
/// and the export can be cancelled between rows, leaving no file behind.
#[allow(clippy::too_many_arguments)]
pub async fn export_view(
    db: &Db,
    ws: &Workspace,
    view: View,
    filter: &Filter,
    out: &Path,
    bom: bool,
    format: ExportFormat,
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
    let file = OutFile::create(out, view.header(), format, bom, view.table()).map_err(write_err)?;
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
            let read = db
                .for_each_row(&sql, &args, |row| -> Result<bool, DbError> {
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
                .await;
            if let Err(e) = read {
                // A database error half-way: no partial file either.
                file.abandon();
                return Err(e.into());
            }
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
            "format": format,
            "rows": rows,
        }),
    )
    .await?;
    Ok(rows)
}
