//! Statement matching (SPEC §4, §5): recharge flows against the gateway's
//! statement lines, by merchant order number, comparing amount and status,
//! with a window around the business-day boundary for cross-day items.

use super::finding::{Finding, Kind};
use crate::db::{Arg, Db, DbError};
use crate::money::format_amount;
use crate::statement::hfb::GatewayStatus;
use crate::statement::{Entry, EntryKind, Format, ImportReport, StatementError, read_statement};
use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// One statement file to import.
#[derive(Debug, Clone)]
pub struct StatementInput {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
}

/// Why matching could not run.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// A statement could not be read at all.
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A statement is for another period than the one reconciled.
    #[error("{0}")]
    WrongPeriod(String),
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// What one file contributed.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    /// The file.
    pub path: String,
    /// Format name.
    pub format: &'static str,
    /// Encoding found.
    pub encoding: String,
    /// Good rows.
    pub entries: u64,
    /// Bad rows, each with its line number and reason.
    pub row_errors: Vec<(u64, String)>,
    /// Whether the file's own totals matched its rows (`None`: the format has none).
    pub totals_ok: Option<bool>,
    /// Whether its rows were reconciled (a file whose totals disagree is not).
    pub reconciled: bool,
}

/// The result of matching.
#[derive(Debug, Clone, Default)]
pub struct MatchOutput {
    /// Findings.
    pub findings: Vec<Finding>,
    /// Per file.
    pub files: Vec<FileSummary>,
    /// Statement orders considered.
    pub statement_orders: u64,
    /// Recharge flows in the period.
    pub flows_in_period: u64,
    /// Orders found on both sides.
    pub matched: u64,
}

#[derive(Debug, Clone)]
struct StmtAgg {
    payments: u32,
    /// Refund lines; a bill listed only by refund lines (WeChat) counts those.
    refunds: u32,
    amount: Decimal,
    status: GatewayStatus,
    refunded: Decimal,
    paid_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
struct FlowAgg {
    count: u32,
    amount: Decimal,
    user_id: i64,
    first: NaiveDateTime,
    last: NaiveDateTime,
}

fn merge_entry(map: &mut HashMap<String, StmtAgg>, e: Entry) {
    let a = map.entry(e.agent_bill_no).or_insert(StmtAgg {
        payments: 0,
        refunds: 0,
        amount: Decimal::ZERO,
        status: GatewayStatus::Success,
        refunded: Decimal::ZERO,
        paid_at: None,
    });
    match e.kind {
        EntryKind::Payment => {
            a.payments += 1;
            if a.payments == 1 {
                a.amount = e.amount;
            }
            if e.status != GatewayStatus::Success {
                a.status = e.status;
            }
            a.paid_at = a.paid_at.or(e.paid_at);
        }
        EntryKind::Refund => {
            // A bill may list only the refund row (WeChat's REFUND line): the
            // payment it refunds is implied.
            if a.payments == 0 && a.refunded == Decimal::ZERO {
                a.amount = e.amount;
                a.paid_at = a.paid_at.or(e.paid_at);
            }
            a.refunds += 1;
            a.refunded += e.amount;
            a.status = if e.status == GatewayStatus::Success {
                GatewayStatus::Refund
            } else {
                e.status
            };
        }
    }
}

/// Matches `files` against the recharge flows created in `[from, to)`.
///
/// Flows within `window` of either boundary that the statements lack are
/// `pending_cross_day` (the neighbouring day's file will have them), not
/// `missing_external`. `cancel` is polled between files and every 64k rows.
pub async fn match_statements(
    db: &Db,
    files: &[StatementInput],
    from: NaiveDateTime,
    to: NaiveDateTime,
    window: Duration,
    cancel: &std::sync::atomic::AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<MatchOutput, MatchError> {
    use std::sync::atomic::Ordering;
    let mut out = MatchOutput::default();
    let mut stmt: HashMap<String, StmtAgg> = HashMap::new();
    for input in files {
        if cancel.load(Ordering::Relaxed) {
            return Err(MatchError::Cancelled);
        }
        let mut entries = Vec::new();
        let report = read_statement(&input.path, &input.format, |e| entries.push(e))?;
        progress("statement", report.entries);
        check_period(&report, from, to)?;
        let totals_ok = report.totals_match();
        let reconciled = totals_ok != Some(false);
        if reconciled {
            for e in entries {
                merge_entry(&mut stmt, e);
            }
        } else {
            let name = input
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let why = report.totals_mismatch_reason().unwrap_or_default();
            out.findings.push(
                Finding::new(Kind::StatementTotalMismatch, name.clone())
                    .amounts(Some(report.computed.amount), report.declared.as_ref().map(|d| d.amount))
                    .explain(
                        format!("对账单 {name} 自身合计与明细不符（{why}）：文件可能下载不完整，本文件未参与对账，请重新下载"),
                        format!("statement {name}: its own totals disagree with its rows ({why}); it may be a truncated download and was NOT reconciled — download it again"),
                    ),
            );
        }
        out.files.push(FileSummary {
            path: input.path.display().to_string(),
            format: report.format,
            encoding: format!("{:?}", report.encoding),
            entries: report.entries,
            row_errors: report
                .errors
                .iter()
                .map(|e| (e.line, e.reason.clone()))
                .collect(),
            totals_ok,
            reconciled,
        });
    }
    out.statement_orders = stmt.len() as u64;

    // Recharge flows around the period, streamed.
    let mut flows: HashMap<String, FlowAgg> = HashMap::new();
    let sql = format!(
        "SELECT trans_no, user_id, {}, create_time FROM trans_flow \
         WHERE trans_type = 1 AND is_deleted = 0 AND create_time >= ? AND create_time < ?",
        db.money_cmp("trans_amount")
    );
    let args = [Arg::from(from - window), Arg::from(to + window)];
    let mut n = 0u64;
    db.for_each_row(&sql, &args, |row| -> Result<bool, MatchError> {
        let d = |e| MatchError::Db(db.decode("trans_flow", e));
        let bill = row.text(0).map_err(d)?;
        let user_id = row.i64(1).map_err(d)?;
        let amount = row.opt_money_agg(2).map_err(d)?.unwrap_or_default();
        let t = row.time(3).map_err(d)?;
        let f = flows.entry(bill).or_insert(FlowAgg {
            count: 0,
            amount: Decimal::ZERO,
            user_id,
            first: t,
            last: t,
        });
        f.count += 1;
        f.amount += amount;
        f.first = f.first.min(t);
        f.last = f.last.max(t);
        n += 1;
        if n.is_multiple_of(65_536) {
            progress("flows", n);
            if cancel.load(Ordering::Relaxed) {
                return Err(MatchError::Cancelled);
            }
        }
        Ok(true)
    })
    .await?;
    progress("flows", n);

    for (bill, s) in &stmt {
        let listed = if s.payments > 0 {
            s.payments
        } else {
            s.refunds
        };
        if listed > 1 {
            out.findings.push(
                Finding::new(Kind::DuplicateInStatement, bill)
                    .bill(bill)
                    .amounts(None, Some(s.amount))
                    .seen(s.paid_at, s.paid_at)
                    .explain(
                        format!("对账单把同一商户订单列了 {listed} 次（每次 {}）：以一笔计，请向网关核实", format_amount(s.amount)),
                        format!("the statement lists this merchant order {listed} times ({} each): counted once — confirm with the gateway", format_amount(s.amount)),
                    ),
            );
        }
        if s.payments == 0 && s.refunded == Decimal::ZERO {
            continue;
        }
        match flows.get(bill) {
            Some(f) => {
                out.matched += 1;
                if s.status != GatewayStatus::Success {
                    let st = s.status.as_str();
                    out.findings.push(
                        Finding::new(Kind::StatusMismatch, bill)
                            .bill(bill)
                            .user(Some(f.user_id))
                            .amounts(Some(f.amount), Some(Decimal::ZERO))
                            .seen(s.paid_at, Some(f.last))
                            .explain(
                                format!("我方已入账 {}，网关对账单状态为 {st}（已退款/撤销）：这笔钱网关不会结算给我们", format_amount(f.amount)),
                                format!("we credited {} but the gateway's statement says {st} (refunded/revoked): the gateway will not settle this money to us", format_amount(f.amount)),
                            ),
                    );
                } else if f.count == 1 && f.amount != s.amount {
                    let diff = f.amount - s.amount;
                    let (zh, en) = if diff > Decimal::ZERO {
                        (
                            format!("我方入账比网关多 {}", format_amount(diff)),
                            format!(
                                "we credited {} more than the gateway took",
                                format_amount(diff)
                            ),
                        )
                    } else {
                        (
                            format!("我方入账比网关少 {}", format_amount(-diff)),
                            format!(
                                "we credited {} less than the gateway took",
                                format_amount(-diff)
                            ),
                        )
                    };
                    out.findings.push(
                        Finding::new(Kind::AmountMismatch, bill)
                            .bill(bill)
                            .user(Some(f.user_id))
                            .amounts(Some(f.amount), Some(s.amount))
                            .seen(s.paid_at, Some(f.last))
                            .explain(
                                format!("双方都有这笔，金额不同：我方 {}，网关 {}；{zh}", format_amount(f.amount), format_amount(s.amount)),
                                format!("both sides have it with different amounts: ours {}, gateway {}; {en}", format_amount(f.amount), format_amount(s.amount)),
                            ),
                    );
                }
            }
            None if s.status == GatewayStatus::Success => {
                out.findings.push(
                    Finding::new(Kind::MissingInternal, bill)
                        .bill(bill)
                        .amounts(None, Some(s.amount))
                        .seen(s.paid_at, s.paid_at)
                        .explain(
                            format!("网关有、我方无：网关已收款 {}，我方没有入账流水——客户付了钱却没到账", format_amount(s.amount)),
                            format!("gateway has it, we don't: the gateway took {} and no flow credits it — the customer paid and was not credited", format_amount(s.amount)),
                        ),
                );
            }
            None => {}
        }
    }
    for (bill, f) in &flows {
        if f.first < from || f.first >= to {
            continue;
        }
        out.flows_in_period += 1;
        if stmt
            .get(bill)
            .is_some_and(|s| s.payments > 0 || s.refunded > Decimal::ZERO)
        {
            continue;
        }
        let near_edge = f.first < from + window || f.first >= to - window;
        if near_edge {
            out.findings.push(
                Finding::new(Kind::PendingCrossDay, bill)
                    .bill(bill)
                    .user(Some(f.user_id))
                    .amounts(Some(f.amount), None)
                    .seen(Some(f.first), Some(f.last))
                    .explain(
                        format!("我方 {} 入账 {}，紧贴日切，不在本期对账单里：应在相邻一天的对账单中，导入后自动复核", f.first.format("%H:%M:%S"), format_amount(f.amount)),
                        format!("credited {} at {}, right at the day boundary, and not in this statement: it should be in the neighbouring day's file and is re-checked when that is imported", format_amount(f.amount), f.first.format("%H:%M:%S")),
                    ),
            );
        } else {
            out.findings.push(
                Finding::new(Kind::MissingExternal, bill)
                    .bill(bill)
                    .user(Some(f.user_id))
                    .amounts(Some(f.amount), None)
                    .seen(Some(f.first), Some(f.last))
                    .explain(
                        format!("我方有、网关无：我方已入账 {}，网关对账单没有这笔——入账的钱网关从未收到", format_amount(f.amount)),
                        format!("we have it, the gateway doesn't: we credited {} and the statement has no such payment — money credited that the gateway never received", format_amount(f.amount)),
                    ),
            );
        }
    }
    Ok(out)
}

/// A statement whose payments lie entirely outside the period (± one day) is
/// the wrong file, not a list of breaks.
fn check_period(
    r: &ImportReport,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<(), MatchError> {
    let (Some(first), Some(last)) = (r.first_paid_at, r.last_paid_at) else {
        return Ok(());
    };
    let slack = Duration::days(1);
    if last < from - slack || first >= to + slack {
        return Err(MatchError::WrongPeriod(format!(
            "statement {} covers {} to {}, not the reconciled period {} to {}: wrong file or wrong --day",
            r.path.display(),
            first.date(),
            last.date(),
            from.date(),
            (to - Duration::seconds(1)).date()
        )));
    }
    Ok(())
}
