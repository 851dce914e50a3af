//! The findings a support case shows: those still open (or acknowledged) on
//! its bills and its users, for one database — read through the indexes
//! `findings_by_bill (database, agent_bill_no)` and
//! `findings_by_user (database, user_id)`.

use super::{Result, Workspace, WorkspaceError, parse_time, placeholders};
use crate::case::CaseFinding;
use crate::recon::{Kind, Severity};
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use std::str::FromStr;

/// At most this many bills or users per query (one `IN` list each).
const CHUNK: usize = 200;

const COLUMNS: &str = "id, kind, severity, status, key, agent_bill_no, user_id, difference, \
     detail_zh, detail_en, first_seen_at";

fn row(r: &SqliteRow) -> Result<CaseFinding> {
    let kind: String = r.try_get("kind")?;
    let severity: String = r.try_get("severity")?;
    let status: String = r.try_get("status")?;
    let difference: Option<String> = r.try_get("difference")?;
    Ok(CaseFinding {
        id: r.try_get("id")?,
        kind: Kind::parse(&kind)
            .ok_or_else(|| WorkspaceError::Corrupt(format!("'{kind}' is not a finding kind")))?,
        severity: [
            Severity::Info,
            Severity::Warning,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|s| s.as_str() == severity)
        .ok_or_else(|| WorkspaceError::Corrupt(format!("'{severity}' is not a severity")))?,
        status: super::Status::parse(&status)
            .ok_or_else(|| WorkspaceError::Corrupt(format!("'{status}' is not a status")))?,
        key: r.try_get("key")?,
        agent_bill_no: r.try_get("agent_bill_no")?,
        user_id: r.try_get("user_id")?,
        difference: difference
            .map(|t| {
                Decimal::from_str(&t)
                    .map_err(|_| WorkspaceError::Corrupt(format!("'{t}' is not an amount")))
            })
            .transpose()?,
        detail_zh: r.try_get("detail_zh")?,
        detail_en: r.try_get("detail_en")?,
        first_seen_at: parse_time(&r.try_get::<String, _>("first_seen_at")?)?,
    })
}

impl Workspace {
    /// The open and acknowledged findings of `database` (password-free, as
    /// stored) on any of `bills` or `users`, most severe first, each once.
    pub async fn case_findings(
        &self,
        database: &str,
        bills: &[String],
        users: &[i64],
    ) -> Result<Vec<CaseFinding>> {
        let mut out: Vec<CaseFinding> = Vec::new();
        for chunk in bills.chunks(CHUNK) {
            let sql = format!(
                "SELECT {COLUMNS} FROM findings WHERE database = ? AND agent_bill_no IN ({}) \
                 AND status IN ('open', 'acknowledged')",
                placeholders(chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(database);
            for b in chunk {
                q = q.bind(b.as_str());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(row(&r)?);
            }
        }
        for chunk in users.chunks(CHUNK) {
            let sql = format!(
                "SELECT {COLUMNS} FROM findings WHERE database = ? AND user_id IN ({}) \
                 AND status IN ('open', 'acknowledged')",
                placeholders(chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(database);
            for u in chunk {
                q = q.bind(*u);
            }
            for r in q.fetch_all(&self.pool).await? {
                let f = row(&r)?;
                if !out.iter().any(|x| x.id == f.id) {
                    out.push(f);
                }
            }
        }
        out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
        Ok(out)
    }
}
