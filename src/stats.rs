//! The console's overview (SPEC §6): totals, the callbacks of the latest day
//! per minute with the repeated deliveries marked, open findings by kind and
//! severity with the amount at risk, and the last reconciliation run.

use crate::db::{Db, DbError, schema};
use crate::money::format_amount;
use crate::recon::{Kind, Severity};
use crate::workspace::{FindingFilter, RunRow, Status, Workspace, WorkspaceError};
use chrono::{NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};

/// Why the overview could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The payment database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// payrecon's workspace.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
}

/// One total: label in Chinese and English, value as text (exact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Total {
    /// Chinese label.
    pub zh: &'static str,
    /// English label.
    pub en: &'static str,
    /// The value (a count or an exact amount); `None` when the table is missing.
    pub value: Option<String>,
}

/// Callback attempts in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    /// Minute of the day (0–1439).
    pub minute: u32,
    /// Attempts that were a bill's first delivery that day.
    pub first: u64,
    /// Attempts for a bill that had already been delivered (retries and
    /// concurrent duplicates): the deliveries an idempotent handler must absorb.
    pub repeated: u64,
}

/// Open findings of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCount {
    /// The kind.
    pub kind: Kind,
    /// How many are open or acknowledged.
    pub count: u64,
    /// Σ |difference| of this kind (exact). A bill with findings of several
    /// kinds is in each kind's sum: these do not add up to the amount at
    /// risk, which counts each bill once.
    pub amount: Decimal,
}

/// Everything the overview shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Row counts and the recharged sum.
    pub totals: Vec<Total>,
    /// The day the callback chart shows (the latest day with callbacks).
    pub callback_day: Option<NaiveDate>,
    /// Per minute, only minutes with attempts.
    pub minutes: Vec<Minute>,
    /// Attempts that day.
    pub attempts: u64,
    /// Bills delivered that day.
    pub bills: u64,
    /// Open findings per kind, SPEC order.
    pub by_kind: Vec<KindCount>,
    /// Open findings per severity.
    pub by_severity: BTreeMap<Severity, u64>,
    /// The amount at risk: the open and acknowledged findings that the
    /// latest run still produced, each bill and each account counted once
    /// (its largest difference), file-level totals apart — `at_risk.total`,
    /// the same figure as `summary.json` and the findings queue.
    pub amount_at_risk: Decimal,
    /// Its breakdown: bills, accounts, file-level totals (not in the total).
    pub at_risk: crate::recon::AtRisk,
    /// The latest run on this database.
    pub last_run: Option<RunRow>,
}

/// Loads the overview of `db`; findings and runs come from `ws`.
pub async fn overview(db: &Db, ws: &Workspace) -> Result<Overview, StatsError> {
    let s = schema::discover(db).await?;
    let mut totals = Vec::new();
    for (zh, en, table) in [
        ("用户", "users", "user_info"),
        ("充值订单", "recharge orders", "recharge_order"),
        ("回调记录", "callback attempts", "notify_log"),
        ("幂等记录", "idempotency records", "idempotency_record"),
        ("交易流水", "trans flows", "trans_flow"),
    ] {
        let value = if s.has_table(table) {
            let row = db
                .fetch_optional(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .await?;
            let n = row
                .map(|r| r.opt_i64(0))
                .transpose()
                .map_err(|e| db.decode(table, e))?
                .flatten()
                .unwrap_or(0);
            Some(n.to_string())
        } else {
            None
        };
        totals.push(Total { zh, en, value });
    }
    let recharged = if s.has_table("trans_flow") {
        let sql = format!(
            "SELECT {} FROM trans_flow WHERE is_deleted = 0 AND trans_type = 1",
            db.money_sum("trans_amount")
        );
        let row = db.fetch_optional(&sql, &[]).await?;
        let sum = row
            .map(|r| r.opt_money_agg(0))
            .transpose()
            .map_err(|e| db.decode("trans_flow", e))?
            .flatten()
            .unwrap_or_default();
        Some(format_amount(sum))
    } else {
        None
    };
    totals.push(Total {
        zh: "充值入账合计",
        en: "recharged (flows)",
        value: recharged,
    });

    let (callback_day, minutes, attempts, bills) = if s.has_table("notify_log") {
        callbacks(db).await?
    } else {
        (None, Vec::new(), 0, 0)
    };

    let database = db.redacted_url();
    let open = ws
        .list_findings(&FindingFilter {
            database: Some(database.clone()),
            statuses: vec![Status::Open, Status::Acknowledged],
            ..FindingFilter::default()
        })
        .await?;
    let mut per_kind: BTreeMap<Kind, (u64, Decimal)> = BTreeMap::new();
    let mut by_severity = BTreeMap::new();
    for f in open.iter().filter(|f| !f.is_absent()) {
        let e = per_kind.entry(f.kind).or_default();
        e.0 += 1;
        e.1 += f.difference.unwrap_or_default().abs();
        *by_severity.entry(f.severity).or_insert(0) += 1;
    }
    // Each bill and account once, by the same counter as summary.json.
    let at_risk = ws.at_risk(&database).await?;
    let by_kind = Kind::ALL
        .iter()
        .filter_map(|k| {
            per_kind.get(k).map(|(count, amount)| KindCount {
                kind: *k,
                count: *count,
                amount: *amount,
            })
        })
        .collect();
    let last_run = ws.list_runs(Some(&database), 1).await?.into_iter().next();
    Ok(Overview {
        totals,
        callback_day,
        minutes,
        attempts,
        bills,
        by_kind,
        by_severity,
        amount_at_risk: at_risk.total,
        at_risk,
        last_run,
    })
}

type Callbacks = (Option<NaiveDate>, Vec<Minute>, u64, u64);

/// The latest day's callbacks per minute, streamed in arrival order.
async fn callbacks(db: &Db) -> Result<Callbacks, DbError> {
    let latest = db
        .fetch_optional("SELECT MAX(received_at) FROM notify_log", &[])
        .await?
        .map(|r| r.opt_time(0))
        .transpose()
        .map_err(|e| db.decode("notify_log", e))?
        .flatten();
    let Some(latest) = latest else {
        return Ok((None, Vec::new(), 0, 0));
    };
    let day = latest.date();
    let from: NaiveDateTime = day.and_time(chrono::NaiveTime::MIN);
    let to = from + chrono::Duration::days(1);
    let mut seen: HashSet<String> = HashSet::new();
    let mut per: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut attempts = 0u64;
    db.for_each_row(
        "SELECT agent_bill_no, received_at FROM notify_log WHERE received_at >= ? AND received_at < ? ORDER BY received_at, id",
        &[from.into(), to.into()],
        |r| -> Result<bool, DbError> {
            let d = |e| db.decode("notify_log", e);
            let bill = r.text(0).map_err(d)?;
            let Some(t) = r.opt_time(1).map_err(d)? else {
                return Ok(true);
            };
            let m = t.hour() * 60 + t.minute();
            let e = per.entry(m).or_default();
            if seen.insert(bill) {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
            attempts += 1;
            Ok(true)
        },
    )
    .await?;
    let minutes = per
        .into_iter()
        .map(|(minute, (first, repeated))| Minute {
            minute,
            first,
            repeated,
        })
        .collect();
    Ok((Some(day), minutes, attempts, seen.len() as u64))
}
