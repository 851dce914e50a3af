//! Statement matching (SPEC §4, §5): recharge flows against the gateway's
//! statement lines, by merchant order number, comparing amount and status,
//! with a window around the business-day boundary for cross-day items.

use super::finding::{Finding, Kind};
use crate::db::{Arg, Db, DbError};
use crate::money::format_amount;
use crate::statement::hfb::GatewayStatus;
use crate::statement::{EntryKind, Format, ImportReport, StatementError, read_statement};
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

/// A business key stored inline (srb's keys are 23 bytes), or in a side
/// table when longer: 26 bytes instead of a heap `String` per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Key {
    Inline { len: u8, bytes: [u8; 24] },
    Long(u32),
}

#[derive(Default)]
pub(super) struct Keys {
    long: Vec<String>,
    long_index: HashMap<String, u32>,
}

/// The inline form of a key of at most 24 bytes.
pub(super) fn inline_key(s: &str) -> Option<Key> {
    let b = s.as_bytes();
    if b.len() > 24 {
        return None;
    }
    let mut bytes = [0u8; 24];
    bytes[..b.len()].copy_from_slice(b);
    Some(Key::Inline {
        len: b.len() as u8,
        bytes,
    })
}

/// A key read on the SQLite reader's thread: inline, or text still to intern.
enum RawKey {
    Inline(Key),
    Long(String),
}

impl Keys {
    pub(super) fn key(&mut self, s: &str) -> Key {
        if let Some(k) = inline_key(s) {
            return k;
        }
        if let Some(i) = self.long_index.get(s) {
            return Key::Long(*i);
        }
        let i = u32::try_from(self.long.len()).unwrap_or(u32::MAX);
        self.long.push(s.to_owned());
        self.long_index.insert(s.to_owned(), i);
        Key::Long(i)
    }

    fn text(&self, k: &Key) -> String {
        match k {
            Key::Inline { len, bytes } => {
                String::from_utf8_lossy(&bytes[..usize::from(*len)]).into_owned()
            }
            Key::Long(i) => self.long.get(*i as usize).cloned().unwrap_or_default(),
        }
    }
}

/// One statement line, compact.
#[derive(Debug, Clone, Copy)]
struct StmtRec {
    key: Key,
    refund: bool,
    status: GatewayStatus,
    amount: Decimal,
    paid_at: Option<NaiveDateTime>,
}

/// One recharge flow, compact.
#[derive(Debug, Clone, Copy)]
struct FlowRec {
    key: Key,
    amount: Decimal,
    user_id: i64,
    at: NaiveDateTime,
}

/// A statement order: its lines folded together.
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

impl StmtAgg {
    fn fold(recs: &[StmtRec]) -> Self {
        let mut a = StmtAgg {
            payments: 0,
            refunds: 0,
            amount: Decimal::ZERO,
            status: GatewayStatus::Success,
            refunded: Decimal::ZERO,
            paid_at: None,
        };
        for e in recs {
            if e.refund {
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
            } else {
                a.payments += 1;
                if a.payments == 1 {
                    a.amount = e.amount;
                }
                if e.status != GatewayStatus::Success {
                    a.status = e.status;
                }
                a.paid_at = a.paid_at.or(e.paid_at);
            }
        }
        a
    }

    fn present(&self) -> bool {
        self.payments > 0 || self.refunded > Decimal::ZERO
    }
}

/// A bill's recharge flows folded together.
#[derive(Debug, Clone)]
struct FlowAgg {
    count: u32,
    amount: Decimal,
    user_id: i64,
    first: NaiveDateTime,
    last: NaiveDateTime,
}

impl FlowAgg {
    fn fold(recs: &[FlowRec]) -> Option<Self> {
        let f = recs.first()?;
        let mut a = FlowAgg {
            count: 0,
            amount: Decimal::ZERO,
            user_id: f.user_id,
            first: f.at,
            last: f.at,
        };
        for r in recs {
            a.count += 1;
            a.amount += r.amount;
            a.first = a.first.min(r.at);
            a.last = a.last.max(r.at);
        }
        Some(a)
    }
}

/// Matches `files` against the recharge flows created in `[from, to)`.
///
/// Both sides are read into compact records, sorted by key and merged, so
/// memory is a few dozen bytes per row whatever the key type. A file whose
/// format has footer totals is first read once for its totals alone; only if
/// they agree are its rows used. Flows within `window` of either boundary that
/// the statements lack are `pending_cross_day` (the neighbouring day's file
/// will have them), not `missing_external`. `cancel` is polled between files
/// and every 64k rows.
pub async fn match_statements(
    db: &Db,
    files: &[StatementInput],
    from: NaiveDateTime,
    to: NaiveDateTime,
    window: Duration,
    cancel: &std::sync::atomic::AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<MatchOutput, MatchError> {
    let read = read_statements(files, from, to, Some(cancel), progress)?;
    match_read(db, read, from, to, window, cancel, progress).await
}

/// Statement files read, checked and sorted, waiting for the flows
/// ([`read_statements`], then [`match_read`]).
pub struct ReadStatements {
    out: MatchOutput,
    keys: Keys,
    stmt: Vec<StmtRec>,
}

impl ReadStatements {
    /// Lines read per file, for progress.
    pub fn entries(&self) -> impl Iterator<Item = u64> + '_ {
        self.out.files.iter().map(|f| f.entries)
    }
}

/// The statement half of [`match_statements`]: synchronous (file reading and
/// parsing), so it can run on a blocking thread while the database works.
pub fn read_statements(
    files: &[StatementInput],
    from: NaiveDateTime,
    to: NaiveDateTime,
    cancel: Option<&std::sync::atomic::AtomicBool>,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<ReadStatements, MatchError> {
    use std::sync::atomic::Ordering;
    let mut out = MatchOutput::default();
    let mut keys = Keys::default();
    let mut stmt: Vec<StmtRec> = Vec::new();
    for input in files {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(MatchError::Cancelled);
        }
        let name = input
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Formats with a footer: check the totals before trusting any row.
        let checked = if input.format.has_footer() {
            let r = read_statement(&input.path, &input.format, |_| {})?;
            check_period(&r, from, to)?;
            Some(r)
        } else {
            None
        };
        let report = match checked {
            Some(r) if r.totals_match() == Some(false) => r,
            _ => {
                let before = stmt.len();
                let r = read_statement(&input.path, &input.format, |e| {
                    stmt.push(StmtRec {
                        key: keys.key(&e.agent_bill_no),
                        refund: e.kind == EntryKind::Refund,
                        status: e.status,
                        amount: e.amount,
                        paid_at: e.paid_at,
                    })
                })?;
                if let Err(e) = check_period(&r, from, to) {
                    stmt.truncate(before);
                    return Err(e);
                }
                r
            }
        };
        progress("statement", report.entries);
        let totals_ok = report.totals_match();
        let reconciled = totals_ok != Some(false);
        if !reconciled {
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
            encoding: report.encoding.to_string(),
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
    stmt.sort_unstable_by_key(|r| r.key);
    Ok(ReadStatements { out, keys, stmt })
}

/// The flow half of [`match_statements`]: reads the recharge flows around the
/// period and merges them with statements read by [`read_statements`].
pub async fn match_read(
    db: &Db,
    read: ReadStatements,
    from: NaiveDateTime,
    to: NaiveDateTime,
    window: Duration,
    cancel: &std::sync::atomic::AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<MatchOutput, MatchError> {
    use std::sync::atomic::Ordering;
    let ReadStatements {
        mut out,
        mut keys,
        stmt,
    } = read;

    // Recharge flows around the period, streamed into compact records.
    let mut flows: Vec<FlowRec> = Vec::new();
    let sql = format!(
        "SELECT trans_no, user_id, {}, create_time FROM trans_flow \
         WHERE trans_type = 1 AND is_deleted = 0 AND create_time >= ? AND create_time < ?",
        db.money_cmp("trans_amount")
    );
    let args = [Arg::from(from - window), Arg::from(to + window)];
    // SQLite: the synchronous reader, rows sent in batches (docs/BENCHMARKS.md).
    let raw_sql = "SELECT trans_no, user_id, trans_amount, create_time FROM trans_flow \
         WHERE trans_type = 1 AND is_deleted = 0 AND create_time >= ? AND create_time < ?";
    let fast = db.sqlite_batches(raw_sql.to_owned(), args.to_vec(), 65_536, |row| {
        use crate::db::sqlite_read as sr;
        let d = |e| DbError::Decode {
            table: "trans_flow".into(),
            source: e,
        };
        let bill = sr::opt_text(sr::value(row, 0, "trans_no").map_err(d)?, "trans_no")
            .map_err(d)?
            .unwrap_or_default();
        let key = match inline_key(&bill) {
            Some(k) => RawKey::Inline(k),
            None => RawKey::Long(bill.into_owned()),
        };
        let user_id = sr::opt_i64(sr::value(row, 1, "user_id").map_err(d)?, "user_id")
            .map_err(d)?
            .ok_or_else(|| d(null("user_id")))?;
        let cents = sr::opt_cents(
            sr::value(row, 2, "trans_amount").map_err(d)?,
            "trans_amount",
        )
        .map_err(d)?
        .unwrap_or_default();
        let at = sr::opt_time(sr::value(row, 3, "create_time").map_err(d)?, "create_time")
            .map_err(d)?
            .ok_or_else(|| d(null("create_time")))?;
        Ok((key, user_id, cents, at))
    });
    if let Some(mut rx) = fast {
        while let Some(batch) = rx.recv().await {
            for (key, user_id, cents, at) in batch? {
                let key = match key {
                    RawKey::Inline(k) => k,
                    RawKey::Long(s) => keys.key(&s),
                };
                flows.push(FlowRec {
                    key,
                    user_id,
                    amount: Decimal::new(cents, crate::money::SCALE),
                    at,
                });
            }
            progress("flows", flows.len() as u64);
            if cancel.load(Ordering::Relaxed) {
                return Err(MatchError::Cancelled);
            }
        }
    } else {
        db.for_each_row(&sql, &args, |row| -> Result<bool, MatchError> {
            let d = |e| MatchError::Db(db.decode("trans_flow", e));
            let bill = row.text(0).map_err(d)?;
            flows.push(FlowRec {
                key: keys.key(&bill),
                user_id: row.i64(1).map_err(d)?,
                amount: row.opt_money_agg(2).map_err(d)?.unwrap_or_default(),
                at: row.time(3).map_err(d)?,
            });
            if flows.len().is_multiple_of(65_536) {
                progress("flows", flows.len() as u64);
                if cancel.load(Ordering::Relaxed) {
                    return Err(MatchError::Cancelled);
                }
            }
            Ok(true)
        })
        .await?;
    }
    progress("flows", flows.len() as u64);
    flows.sort_unstable_by_key(|r| r.key);

    // Merge the two sorted sides, one key at a time.
    let (mut i, mut j) = (0, 0);
    while i < stmt.len() || j < flows.len() {
        let key = match (stmt.get(i), flows.get(j)) {
            (Some(s), Some(f)) => s.key.min(f.key),
            (Some(s), None) => s.key,
            (None, Some(f)) => f.key,
            (None, None) => break,
        };
        let si = i;
        while i < stmt.len() && stmt[i].key == key {
            i += 1;
        }
        let fj = j;
        while j < flows.len() && flows[j].key == key {
            j += 1;
        }
        let s = (i > si).then(|| StmtAgg::fold(&stmt[si..i]));
        let f = FlowAgg::fold(&flows[fj..j]);
        let bill = keys.text(&key);
        compare(&bill, s.as_ref(), f.as_ref(), from, to, window, &mut out);
        if cancel.load(Ordering::Relaxed) && (i + j).is_multiple_of(65_536) {
            return Err(MatchError::Cancelled);
        }
    }
    Ok(out)
}

fn null(column: &str) -> crate::db::DecodeError {
    crate::db::DecodeError {
        column: column.to_owned(),
        reason: "is NULL".to_owned(),
    }
}

/// One key: the statement's view against ours.
fn compare(
    bill: &str,
    s: Option<&StmtAgg>,
    f: Option<&FlowAgg>,
    from: NaiveDateTime,
    to: NaiveDateTime,
    window: Duration,
    out: &mut MatchOutput,
) {
    if let Some(s) = s {
        out.statement_orders += 1;
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
    }
    if let Some(f) = f
        && f.first >= from
        && f.first < to
    {
        out.flows_in_period += 1;
    }
    match (s.filter(|s| s.present()), f) {
        (Some(s), Some(f)) => {
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
        (Some(s), None) if s.status == GatewayStatus::Success && s.payments > 0 => {
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
        (None, Some(f)) if f.first >= from && f.first < to => {
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
        _ => {}
    }
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
