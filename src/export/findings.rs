//! The findings queue to CSV or Excel: exactly the findings the queue's filter
//! selects (kind, severity, status, age, one bill or user), in its order,
//! with status, the latest note and operator, age, and each finding's part
//! of the amount at risk — so that the `at_risk` column adds up to the figure
//! the console shows, and `at_risk_file_level` to the file-level totals
//! shown apart.

use super::{ExportFormat, OutFile};
use crate::money::format_amount;
use crate::recon::{AtRisk, RiskCounter};
use crate::workspace::{
    FindingFilter, GroupBy, QueueOrder, Workspace, WorkspaceError, strip_passwords,
};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

/// Why the queue could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum FindingsExportError {
    /// payrecon's workspace.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// The file could not be written; nothing was left under its name.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The columns of the queue export.
pub const QUEUE_HEADER: [&str; 24] = [
    "id",
    "kind",
    "severity",
    "key",
    "agent_bill_no",
    "user_id",
    "group",
    "status",
    "status_at",
    "amount_internal",
    "amount_external",
    "difference",
    "at_risk",
    "at_risk_file_level",
    "first_detected",
    "age_days",
    "absent_since_run",
    "note",
    "operator",
    "noted_at",
    "first_seen",
    "last_seen",
    "attempts",
    "detail",
];

/// What [`write_queue`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueExported {
    /// Findings written.
    pub rows: u64,
    /// The amount at risk of those rows (the `at_risk` column's sum is
    /// `total`, the `at_risk_file_level` column's is `file_level`).
    pub at_risk: AtRisk,
}

fn time(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Writes the findings `filter` selects, in `order` (grouped by bill or
/// user when `group` is given), to `out` (an Excel workbook when its name
/// ends in `.xlsx`, else CSV with an optional BOM; written under a temporary
/// name and moved into place when complete), and records the export in the
/// audit log under `operator`.
pub async fn write_queue(
    ws: &Workspace,
    filter: &FindingFilter,
    order: QueueOrder,
    group: Option<GroupBy>,
    out: &Path,
    bom: bool,
    operator: &str,
) -> Result<QueueExported, FindingsExportError> {
    let format = ExportFormat::from_path(out);
    write_queue_as(ws, filter, order, group, out, bom, format, operator).await
}

/// [`write_queue`] in the `format` given, whatever the file's name.
#[allow(clippy::too_many_arguments)]
pub async fn write_queue_as(
    ws: &Workspace,
    filter: &FindingFilter,
    order: QueueOrder,
    group: Option<GroupBy>,
    out: &Path,
    bom: bool,
    format: ExportFormat,
    operator: &str,
) -> Result<QueueExported, FindingsExportError> {
    let rows = ws.list_queue(filter, order, group).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let actions = ws.latest_actions(&ids).await?;
    // Only open and acknowledged findings still produced are at risk; the
    // counter numbers the ones added, so keep which row each one is.
    let mut counter = RiskCounter::new();
    let mut counted = Vec::with_capacity(rows.len());
    for r in &rows {
        let at_risk = r.counts_at_risk();
        if at_risk {
            counter.add(
                r.kind,
                &r.key,
                r.agent_bill_no.as_deref(),
                r.user_id,
                r.difference,
            );
        }
        counted.push(at_risk);
    }
    let (at_risk, parts) = counter.finish();
    let mut parts = parts.into_iter();
    let write_err = |source| FindingsExportError::Write {
        path: out.to_path_buf(),
        source,
    };
    let mut file =
        OutFile::create(out, &QUEUE_HEADER, format, bom, "findings").map_err(write_err)?;
    for (r, counted) in rows.iter().zip(counted) {
        let part = if counted {
            parts.next().unwrap_or_default()
        } else {
            Decimal::ZERO
        };
        let file_level = matches!(
            crate::recon::RiskGroup::of(r.kind, &r.key, r.agent_bill_no.as_deref(), r.user_id),
            crate::recon::RiskGroup::File(_)
        );
        let (risk, risk_file) = if file_level {
            (Decimal::ZERO, part)
        } else {
            (part, Decimal::ZERO)
        };
        let group_key = match group {
            Some(GroupBy::Bill) => r
                .agent_bill_no
                .clone()
                .filter(|b| !b.is_empty())
                .unwrap_or_else(|| r.key.clone()),
            Some(GroupBy::User) => r
                .user_id
                .map(|u| format!("user:{u}"))
                .unwrap_or_else(|| r.key.clone()),
            None => String::new(),
        };
        let a = actions.get(&r.id);
        let f = r.finding();
        let cells = [
            r.id.to_string(),
            r.kind.as_str().to_owned(),
            r.severity.as_str().to_owned(),
            r.key.clone(),
            r.agent_bill_no.clone().unwrap_or_default(),
            r.user_id.map(|u| u.to_string()).unwrap_or_default(),
            group_key,
            r.status.as_str().to_owned(),
            time(r.status_at),
            r.amount_internal.map(format_amount).unwrap_or_default(),
            r.amount_external.map(format_amount).unwrap_or_default(),
            r.difference.map(format_amount).unwrap_or_default(),
            format_amount(risk),
            format_amount(risk_file),
            time(r.first_seen_at),
            r.age_days.to_string(),
            r.absent_since_run
                .map(|x| x.to_string())
                .unwrap_or_default(),
            a.map(|a| a.note.clone()).unwrap_or_default(),
            a.map(|a| a.operator.clone()).unwrap_or_default(),
            a.map(|a| time(a.at)).unwrap_or_default(),
            r.event_first.map(time).unwrap_or_default(),
            r.event_last.map(time).unwrap_or_default(),
            r.attempts.map(|x| x.to_string()).unwrap_or_default(),
            f.detail(),
        ];
        if let Err(e) = file.row(cells) {
            file.abandon();
            return Err(write_err(e));
        }
    }
    let n = file.finish().map_err(write_err)?;
    ws.append_audit(
        &strip_passwords(operator),
        "export",
        &serde_json::json!({
            "view": "findings",
            "database": filter.database,
            "kind": filter.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "severity": filter.severities.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "status": filter.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "min_age_days": filter.min_age_days,
            "bill": filter.bill,
            "user": filter.user_id,
            "group": filter.group.as_ref().map(|g| format!("{}:{}", g.by.as_str(), g.key)),
            "group_by": group.map(GroupBy::as_str),
            "sort": order.by.as_str(),
            "reverse": order.reverse,
            "out": out.display().to_string(),
            "format": format,
            "rows": n,
            "at_risk": format_amount(at_risk.total),
        }),
    )
    .await?;
    Ok(QueueExported { rows: n, at_risk })
}
