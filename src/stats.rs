//! The console's overview (SPEC §6): totals, the callbacks of the latest
//! business day (or a day the operator chose) per minute with the repeated
//! deliveries marked, open findings by kind and severity with the amount at
//! risk, and the last reconciliation run.
//!
//! The latest business day is not simply the day of the newest callback: a
//! gateway retries after midnight, so a day's last orders leave a handful of
//! spill-over callbacks on the next day. See [`business_day`] for the rule.

use crate::db::{Db, DbError, schema};
use crate::money::format_amount;
use crate::recon::{Kind, Severity};
use crate::views::View;
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
    /// The table the value counts (the console opens it on a click).
    pub view: crate::views::View,
    /// Only flows of this `trans_type` (the recharged sum).
    pub trans_type: Option<i64>,
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
    /// The callbacks chart: its day, per minute, and the days around it.
    pub callbacks: CallbackDay,
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

/// Attempts on one calendar day (business time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    /// The day.
    pub day: NaiveDate,
    /// Callback attempts received that day.
    pub attempts: u64,
}

/// The callbacks of one day, per minute, and how that day was chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackDay {
    /// The day shown (`None`: `notify_log` is empty or missing).
    pub day: Option<NaiveDate>,
    /// The operator chose `day` (otherwise it is [`CallbackDay::business_day`]).
    pub chosen: bool,
    /// The latest business day by [`business_day`]'s rule.
    pub business_day: Option<NaiveDate>,
    /// The day of the newest callback (may be a spill-over day).
    pub latest_day: Option<NaiveDate>,
    /// Attempts per day over the [`LOOKBACK_DAYS`] days ending on
    /// `latest_day`, oldest first, days without attempts included.
    pub recent: Vec<DayCount>,
    /// Per minute of `day`, only minutes with attempts.
    pub minutes: Vec<Minute>,
    /// Attempts that day.
    pub attempts: u64,
    /// Bills delivered that day.
    pub bills: u64,
}

/// How many days (ending on the newest callback's day) the business-day
/// rule looks at.
pub const LOOKBACK_DAYS: i64 = 7;

/// A day whose attempts are below this share (percent) of the busiest day
/// of the lookback is spill-over (retries after midnight), not a business day.
pub const SPILL_OVER_PERCENT: u64 = 10;

/// The latest business day with callbacks: the latest day in `days` whose
/// attempts reach [`SPILL_OVER_PERCENT`] % of the busiest day among `days`.
/// A day with a few retries delivered after midnight (1 attempt beside the
/// previous day's 222) is spill-over and skipped; a quiet day with a real
/// share of the traffic is not. `None` when no day has an attempt.
pub fn business_day(days: &[DayCount]) -> Option<NaiveDate> {
    let busiest = days.iter().map(|d| d.attempts).max().filter(|n| *n > 0)?;
    days.iter()
        .rev()
        .find(|d| {
            d.attempts > 0
                && d.attempts.saturating_mul(100) >= busiest.saturating_mul(SPILL_OVER_PERCENT)
        })
        .map(|d| d.day)
}

/// Loads the overview of `db`; findings and runs come from `ws`. The
/// callbacks chart shows the latest business day ([`business_day`]).
pub async fn overview(db: &Db, ws: &Workspace) -> Result<Overview, StatsError> {
    overview_on(db, ws, None).await
}

/// Loads the overview of `db` with the callbacks chart on `day` (`None`:
/// the latest business day).
pub async fn overview_on(
    db: &Db,
    ws: &Workspace,
    day: Option<NaiveDate>,
) -> Result<Overview, StatsError> {
    let s = schema::discover(db).await?;
    let mut totals = Vec::new();
    for (zh, en, table, view) in [
        ("用户", "users", "user_info", View::Accounts),
        (
            "充值订单",
            "recharge orders",
            "recharge_order",
            View::Orders,
        ),
        ("回调记录", "callback attempts", "notify_log", View::Notify),
        (
            "幂等记录",
            "idempotency records",
            "idempotency_record",
            View::Idempotency,
        ),
        ("交易流水", "trans flows", "trans_flow", View::Flows),
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
        totals.push(Total {
            zh,
            en,
            value,
            view,
            trans_type: None,
        });
    }
    let recharge = crate::model::TransType::Recharge.code();
    let recharged = if s.has_table("trans_flow") {
        let sql = format!(
            "SELECT {} FROM trans_flow WHERE is_deleted = 0 AND trans_type = {recharge}",
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
        view: View::Flows,
        trans_type: Some(recharge),
    });

    let callbacks = if s.has_table("notify_log") {
        callback_day(db, day).await?
    } else {
        CallbackDay::default()
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
        callbacks,
        by_kind,
        by_severity,
        amount_at_risk: at_risk.total,
        at_risk,
        last_run,
    })
}

/// The callbacks chart's data: the per-day counts of the lookback, the
/// business day, and the per-minute attempts of `day` (or of the business
/// day when `day` is `None`). `notify_log.received_at` has no index in the
/// contract, so each step is one streamed range scan, never a query per day.
pub async fn callback_day(db: &Db, day: Option<NaiveDate>) -> Result<CallbackDay, DbError> {
    let latest = db
        .fetch_optional("SELECT MAX(received_at) FROM notify_log", &[])
        .await?
        .map(|r| r.opt_time(0))
        .transpose()
        .map_err(|e| db.decode("notify_log", e))?
        .flatten();
    let Some(latest) = latest else {
        return Ok(CallbackDay {
            day,
            chosen: day.is_some(),
            ..CallbackDay::default()
        });
    };
    let latest_day = latest.date();
    let first = latest_day - chrono::Duration::days(LOOKBACK_DAYS - 1);
    let mut per_day: BTreeMap<NaiveDate, u64> = (0..LOOKBACK_DAYS)
        .map(|i| (first + chrono::Duration::days(i), 0))
        .collect();
    db.for_each_row(
        "SELECT received_at FROM notify_log WHERE received_at >= ?",
        &[first.and_time(chrono::NaiveTime::MIN).into()],
        |r| -> Result<bool, DbError> {
            if let Some(t) = r.opt_time(0).map_err(|e| db.decode("notify_log", e))? {
                *per_day.entry(t.date()).or_default() += 1;
            }
            Ok(true)
        },
    )
    .await?;
    let recent: Vec<DayCount> = per_day
        .into_iter()
        .map(|(day, attempts)| DayCount { day, attempts })
        .collect();
    let business = business_day(&recent);
    let shown = day.or(business).unwrap_or(latest_day);
    let (minutes, attempts, bills) = minutes_of(db, shown).await?;
    Ok(CallbackDay {
        day: Some(shown),
        chosen: day.is_some(),
        business_day: business,
        latest_day: Some(latest_day),
        recent,
        minutes,
        attempts,
        bills,
    })
}

/// One day's callbacks per minute, streamed in arrival order: (minutes,
/// attempts, bills).
async fn minutes_of(db: &Db, day: NaiveDate) -> Result<(Vec<Minute>, u64, u64), DbError> {
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
    Ok((minutes, attempts, seen.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(counts: &[u64]) -> Vec<DayCount> {
        let first = NaiveDate::from_ymd_opt(2026, 11, 14).unwrap_or_default();
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| DayCount {
                day: first + chrono::Duration::days(i as i64),
                attempts: *n,
            })
            .collect()
    }

    fn day(d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 11, d)
    }

    #[test]
    fn one_spill_over_callback_after_midnight_is_not_the_business_day() {
        // 11-20 had 222 attempts, 11-21 one retry after midnight.
        assert_eq!(business_day(&days(&[0, 0, 0, 0, 0, 0, 222, 1])), day(20));
        // A few retries are still spill-over.
        assert_eq!(
            business_day(&days(&[0, 0, 0, 0, 180, 210, 222, 21])),
            day(20)
        );
    }

    #[test]
    fn a_quiet_but_real_day_is_a_business_day() {
        // 10 % of the busiest day is enough: a Sunday with 30 beside 222.
        assert_eq!(business_day(&days(&[0, 0, 0, 0, 0, 0, 222, 30])), day(21));
        assert_eq!(business_day(&days(&[200, 0, 0, 0, 0, 0, 0, 20])), day(21));
        assert_eq!(business_day(&days(&[200, 0, 0, 0, 0, 0, 0, 19])), day(14));
    }

    #[test]
    fn the_latest_of_several_business_days_and_none_without_callbacks() {
        assert_eq!(business_day(&days(&[0, 0, 0, 0, 150, 222, 190])), day(20));
        assert_eq!(business_day(&days(&[0, 0, 0])), None);
        assert_eq!(business_day(&[]), None);
        // A single callback ever: that day is the business day.
        assert_eq!(business_day(&days(&[0, 1])), day(15));
    }
}
