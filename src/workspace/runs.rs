//! Reconciliation runs: every run is recorded with its outcome; only an ok
//! run moves the findings' lifecycle.

use super::findings::{RunScope, apply_run};
use super::redact::{redact_json, strip_passwords};
use super::{Result, Workspace, WorkspaceError, audit, fmt_date, fmt_time, parse_date, parse_time};
use crate::recon::{Finding, Kind, Period, RunStatus};
use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use std::collections::BTreeMap;

/// The kinds only statement matching produces: a run given no statement did
/// not check them, so list them in [`RunRecord::not_checked`].
pub const STATEMENT_KINDS: &[Kind] = &[
    Kind::MissingInternal,
    Kind::MissingExternal,
    Kind::AmountMismatch,
    Kind::StatusMismatch,
    Kind::DuplicateInStatement,
    Kind::PendingCrossDay,
    Kind::StatementTotalMismatch,
    Kind::StatementRefused,
    Kind::FlowsUnverified,
];

/// A run to record, as the engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Who ran it (see [`super::current_operator`]).
    pub operator: String,
    /// When it started (business-local).
    pub started_at: NaiveDateTime,
    /// When it ended (business-local).
    pub finished_at: NaiveDateTime,
    /// The payment database, password-free (e.g. `Db::redacted_url`).
    pub database: String,
    /// The business period; `None` for the whole database.
    pub period: Option<Period>,
    /// Inputs and parameters (statement files, windows, thresholds, …).
    pub params: Value,
    /// How it ended.
    pub status: RunStatus,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// Kinds this run did not check (skipped checks; the statement kinds when
    /// no statement was given): their earlier findings are not marked absent.
    pub not_checked: Vec<Kind>,
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// Workspace id.
    pub id: i64,
    /// Who ran it.
    pub operator: String,
    /// When it started.
    pub started_at: NaiveDateTime,
    /// When it ended.
    pub finished_at: NaiveDateTime,
    /// The payment database (password-free).
    pub database: String,
    /// The business period.
    pub period: Option<Period>,
    /// Inputs and parameters.
    pub params: Value,
    /// How it ended.
    pub status: RunStatus,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// How many findings it produced.
    pub findings: u64,
    /// `{"total", "by_kind": {kind: n}, "by_severity": {severity: n}}`.
    pub counts: Value,
    /// The folder its `findings.csv` and `summary.json` were written to;
    /// `None` for runs recorded before payrecon kept it, or whose outputs
    /// could not be written.
    pub out_dir: Option<String>,
}

/// The stored word for a run status.
pub(super) fn status_str(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Ok => "ok",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
    }
}

fn parse_status(s: &str) -> Result<RunStatus> {
    match s {
        "ok" => Ok(RunStatus::Ok),
        "failed" => Ok(RunStatus::Failed),
        "cancelled" => Ok(RunStatus::Cancelled),
        _ => Err(WorkspaceError::Corrupt(format!(
            "'{s}' is not a run status"
        ))),
    }
}

fn counts(findings: &[Finding]) -> Value {
    let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_severity: BTreeMap<&str, u64> = BTreeMap::new();
    for f in findings {
        *by_kind.entry(f.kind.as_str()).or_default() += 1;
        *by_severity.entry(f.severity.as_str()).or_default() += 1;
    }
    json!({ "total": findings.len(), "by_kind": by_kind, "by_severity": by_severity })
}

fn parse_json(s: &str) -> Result<Value> {
    serde_json::from_str(s).map_err(|e| WorkspaceError::Corrupt(format!("stored JSON: {e}")))
}

fn row_to_run(r: &SqliteRow) -> Result<RunRow> {
    let from: Option<String> = r.try_get("period_from")?;
    let to: Option<String> = r.try_get("period_to")?;
    let period = match (from, to) {
        (Some(f), Some(t)) => Some(Period {
            from: parse_date(&f)?,
            to: parse_date(&t)?,
        }),
        _ => None,
    };
    Ok(RunRow {
        id: r.try_get("id")?,
        operator: r.try_get("operator")?,
        started_at: parse_time(&r.try_get::<String, _>("started_at")?)?,
        finished_at: parse_time(&r.try_get::<String, _>("finished_at")?)?,
        database: r.try_get("database")?,
        period,
        params: parse_json(&r.try_get::<String, _>("params")?)?,
        status: parse_status(&r.try_get::<String, _>("status")?)?,
        reason: r.try_get("reason")?,
        findings: u64::try_from(r.try_get::<i64, _>("findings")?).unwrap_or(0),
        counts: parse_json(&r.try_get::<String, _>("counts")?)?,
        out_dir: r.try_get("out_dir")?,
    })
}

const RUN_COLUMNS: &str = "id, operator, started_at, finished_at, database, period_from, \
     period_to, params, status, reason, findings, counts, out_dir";

impl Workspace {
    /// Records a run and returns its id, in one transaction: the run row;
    /// for an ok run each finding (new → `open`; seen before → latest
    /// amounts and detail, status, history and first sighting kept; a
    /// `resolved` one reopened) and `last_absent_run` on the comparable
    /// earlier findings (same database and period, a kind this run checked)
    /// it no longer produced; and the `reconcile` audit entry. A failed or
    /// cancelled run is recorded with its reason and leaves every finding as
    /// it was.
    pub async fn record_run(&self, run: &RunRecord, findings: &[Finding]) -> Result<i64> {
        let operator = strip_passwords(&run.operator);
        let database = strip_passwords(&run.database);
        let reason = run.reason.as_deref().map(strip_passwords);
        let params = super::audit::canonical_json(&redact_json(&run.params));
        let counts = counts(findings);
        let counts_text = super::audit::canonical_json(&counts);
        let started = fmt_time(run.started_at);
        let period_from = run.period.map(|p| fmt_date(p.from));
        let period_to = run.period.map(|p| fmt_date(p.to));
        let total = i64::try_from(findings.len()).unwrap_or(i64::MAX);

        let (_guard, mut tx) = self.begin_write().await?;
        let run_id = sqlx::query(
            "INSERT INTO runs (operator, started_at, finished_at, database, period_from, \
             period_to, params, status, reason, findings, counts) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&operator)
        .bind(&started)
        .bind(fmt_time(run.finished_at))
        .bind(&database)
        .bind(&period_from)
        .bind(&period_to)
        .bind(&params)
        .bind(status_str(run.status))
        .bind(&reason)
        .bind(total)
        .bind(&counts_text)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();

        let mut lifecycle = Value::Null;
        if run.status == RunStatus::Ok {
            let scope = RunScope {
                run_id,
                at: &started,
                operator: &operator,
                database: &database,
                period_from: period_from.clone(),
                period_to: period_to.clone(),
                not_checked: &run.not_checked,
            };
            let a = apply_run(&mut tx, &scope, findings).await?;
            lifecycle = json!({
                "new": a.new,
                "seen_again": a.seen_again,
                "reopened": a.reopened,
                "absent": a.absent,
            });
        }
        let audit_params = json!({
            "run_id": run_id,
            "database": database,
            "period_from": period_from,
            "period_to": period_to,
            "status": status_str(run.status),
            "reason": reason,
            "started_at": started,
            "finished_at": fmt_time(run.finished_at),
            "params": run.params,
            "counts": counts,
            "lifecycle": lifecycle,
        });
        audit::append_in(&mut tx, self.now(), &operator, "reconcile", &audit_params).await?;
        tx.commit().await?;
        Ok(run_id)
    }

    /// Stores where a run's outputs were written (once they are: a run is
    /// recorded first, since its results folder is named after its id).
    pub async fn set_run_out_dir(&self, run_id: i64, out_dir: &std::path::Path) -> Result<()> {
        let dir = strip_passwords(&out_dir.display().to_string());
        let (_guard, mut tx) = self.begin_write().await?;
        let n = sqlx::query("UPDATE runs SET out_dir = ? WHERE id = ?")
            .bind(&dir)
            .bind(run_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(WorkspaceError::NoSuchRun(run_id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// One run.
    pub async fn get_run(&self, run_id: i64) -> Result<RunRow> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(WorkspaceError::NoSuchRun(run_id))?;
        row_to_run(&row)
    }

    /// The latest runs, newest first, optionally of one database only.
    pub async fn list_runs(&self, database: Option<&str>, limit: u32) -> Result<Vec<RunRow>> {
        self.list_runs_before(database, None, limit).await
    }

    /// [`Self::list_runs`] from before run `before_id` (exclusive), for
    /// paging: pass the last id of the previous page.
    pub async fn list_runs_before(
        &self,
        database: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (? IS NULL OR database = ?) \
             AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(database)
            .bind(database)
            .bind(before_id)
            .bind(before_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_run).collect()
    }
}
