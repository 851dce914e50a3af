//! Statement matching (SPEC §4, §5): recharge flows against the gateway's
//! statement lines, by merchant order number, comparing amount and status,
//! with a window around the business-day boundary for cross-day items.

use super::finding::{Finding, Kind};
use crate::db::{Arg, Db, DbError};
use crate::money::format_amount;
use crate::statement::hfb::GatewayStatus;
use crate::statement::{EntryKind, Format, ImportReport, StatementError};
use chrono::{Duration, NaiveDate, NaiveDateTime};
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
    /// Whether its rows were reconciled (`role` is `reconciled`).
    pub reconciled: bool,
    /// What the run did with the file.
    pub role: FileRole,
    /// Why the file was refused, in one sentence (`role` is `refused`).
    pub refused: Option<String>,
    /// The same in Chinese.
    pub refused_zh: Option<String>,
    /// The business days the file is for (first, last), from its own period
    /// lines or its rows; `None` when it cannot tell.
    pub business_period: Option<(NaiveDate, NaiveDate)>,
    /// What kind of bill it is, in words, when the reader can tell.
    pub layout: Option<String>,
    /// The total paid on its rows, as exact decimal text (`None`: unreadable).
    pub amount: Option<String>,
    /// The total refunded on its rows (positive), as exact decimal text.
    pub refund_amount: Option<String>,
}

impl FileSummary {
    /// The file's name without its folder.
    pub fn file_name(&self) -> String {
        std::path::Path::new(&self.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// What a run did with one statement file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    /// Its rows were matched against the period's flows; the days it is
    /// for count as covered.
    Reconciled,
    /// The bill of the day before or after the period: its rows only clear
    /// `pending_cross_day` items and are otherwise not breaks of this period.
    Neighbour,
    /// Not used at all (totals disagree, unreadable, no rows, another
    /// period, no bill in common with the ledger): nothing was matched
    /// against it.
    Refused,
    /// Read and footer-checked only (fund-flow bill, account log).
    ReadOnly,
}

/// Which business days of the period a usable statement covers: a flow of
/// a day no statement covers is *unverified*, never missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Every day of the period is covered.
    pub all: bool,
    /// The covered days, sorted (when not `all`).
    pub days: Vec<NaiveDate>,
}

impl Coverage {
    /// Whether `day` is covered.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.all || self.days.binary_search(&day).is_ok()
    }

    /// Whether no day is covered.
    pub fn is_empty(&self) -> bool {
        !self.all && self.days.is_empty()
    }
}

/// A refund in a statement whose recharge has no flow near the period: its
/// flow is looked up by bill, whatever its day ([`resolve_refunds`]).
#[derive(Debug, Clone)]
pub struct RefundLookup {
    /// The bill.
    pub bill: String,
    /// The amount refunded.
    pub refunded: Decimal,
    /// When the refund succeeded, if the file says.
    pub refunded_at: Option<NaiveDateTime>,
    /// `Refund` or `Revoked`.
    pub status: GatewayStatus,
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
    /// Orders found on both sides (a neighbouring day's lines that only
    /// clear one of our flows are not counted).
    pub matched: u64,
    /// The period's statement orders that have a payment line (not only refunds).
    pub payment_orders: u64,
    /// Flows of the period that only a neighbouring day's bill lists.
    pub cleared_by_neighbour: u64,
    /// Set when the period's bills share not one bill with its flows while
    /// both sides have a few: (their paid orders, the period's flows). The
    /// bills were then matched as if absent ([`refuse_if_unrelated`]).
    pub unrelated: Option<(u64, u64)>,
    /// Their total amount, ours.
    pub flows_in_period_amount: Decimal,
    /// The days a usable statement covers.
    pub coverage: Coverage,
    /// Recharge flows of the period that no usable statement covers.
    pub unverified_flows: u64,
    /// Their amount.
    pub unverified_amount: Decimal,
    /// Refunds whose recharge is looked up after the merge.
    pub refund_lookups: Vec<RefundLookup>,
    /// The fee check of each reconciled trade bill (with `--fee-rate`).
    pub fees: Vec<super::fees::FileFees>,
    /// The settlement check (with a fund-flow bill or account log).
    pub settlement: Option<super::settlement::SettlementSummary>,
}

/// A business key in 24 bytes: up to 23 bytes of text inline (srb's bills
/// are 23 ASCII bytes) with its length in the last byte, or, for a longer
/// key, its number in [`Keys`]' side table (last byte 0xFF). Equal texts
/// give equal keys; the order is a total order shared by every side of a
/// merge (bytes compared as three big-endian words), not the text's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key([u8; 24]);

const LONG: u8 = 0xFF;

impl Key {
    fn words(&self) -> (u64, u64, u64) {
        let w = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.0[i..i + 8]);
            u64::from_be_bytes(b)
        };
        (w(0), w(8), w(16))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.words().cmp(&other.words())
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Keys too long to be inline, numbered; shared by the threads of a run.
#[derive(Default)]
pub(super) struct Keys {
    long: std::sync::Mutex<(Vec<String>, HashMap<String, u32>)>,
}

/// The inline form of a key of at most 23 bytes.
pub(super) fn inline_key(s: &str) -> Option<Key> {
    let b = s.as_bytes();
    if b.len() > 23 {
        return None;
    }
    let mut bytes = [0u8; 24];
    bytes[..b.len()].copy_from_slice(b);
    bytes[23] = b.len() as u8;
    Some(Key(bytes))
}

/// A key read on the SQLite reader's thread: inline, or text still to intern.
enum RawKey {
    Inline(Key),
    Long(String),
}

impl Keys {
    pub(super) fn key(&self, s: &str) -> Key {
        if let Some(k) = inline_key(s) {
            return k;
        }
        let mut g = self
            .long
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (list, index) = &mut *g;
        let i = match index.get(s) {
            Some(i) => *i,
            None => {
                let i = u32::try_from(list.len()).unwrap_or(u32::MAX);
                list.push(s.to_owned());
                index.insert(s.to_owned(), i);
                i
            }
        };
        let mut bytes = [0u8; 24];
        bytes[..4].copy_from_slice(&i.to_be_bytes());
        bytes[23] = LONG;
        Key(bytes)
    }

    /// The key's text (borrowed when inline).
    pub(super) fn text<'a>(&self, k: &'a Key) -> std::borrow::Cow<'a, str> {
        let len = k.0[23];
        if len != LONG {
            return String::from_utf8_lossy(&k.0[..usize::from(len).min(23)]);
        }
        let mut b = [0u8; 4];
        b.copy_from_slice(&k.0[..4]);
        let i = u32::from_be_bytes(b) as usize;
        let g = self
            .long
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::borrow::Cow::Owned(g.0.get(i).cloned().unwrap_or_default())
    }
}

/// One statement line, compact (46 bytes): the amount in cents, or — for an
/// amount beyond `i64` cents — its index in [`ReadStatements::big`].
#[derive(Debug, Clone, Copy)]
#[repr(C, packed)]
pub(super) struct StmtRec {
    key: Key,
    amount: i64,
    paid_at: Option<NaiveDateTime>,
    status: GatewayStatus,
    flags: u8,
}

const REFUND: u8 = 1;
const BIG: u8 = 2;
/// A line of a neighbouring day's bill (or outside the period's window): it
/// may clear one of our flows, but is never a break itself.
const CLEAR_ONLY: u8 = 4;

impl StmtRec {
    pub(super) fn key(&self) -> Key {
        self.key
    }

    /// The amount in cents of a line that is a plain successful payment.
    pub(super) fn plain_success_cents(&self) -> Option<i64> {
        let plain = self.flags == 0 && self.status == GatewayStatus::Success;
        plain.then_some(self.amount)
    }

    fn amount(&self, big: &[Decimal]) -> Decimal {
        let a = self.amount;
        if self.flags & BIG != 0 {
            usize::try_from(a)
                .ok()
                .and_then(|i| big.get(i))
                .copied()
                .unwrap_or_default()
        } else {
            Decimal::new(a, crate::money::SCALE)
        }
    }
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
pub(super) struct StmtAgg {
    payments: u32,
    /// Refund lines; a bill listed only by refund lines (WeChat) counts those.
    refunds: u32,
    amount: Decimal,
    status: GatewayStatus,
    refunded: Decimal,
    paid_at: Option<NaiveDateTime>,
    /// When the last refund succeeded.
    refunded_at: Option<NaiveDateTime>,
    /// From a bill of the period (else only from neighbouring days' bills,
    /// which clear our flows and are otherwise silent).
    own: bool,
    /// Refund lines repeating an earlier one exactly.
    repeated_refunds: u32,
}

impl StmtAgg {
    pub(super) fn fold(recs: &[StmtRec], big: &[Decimal]) -> Self {
        // The period's own lines decide; a neighbour's only when there are none.
        let own = recs.iter().any(|r| r.flags & CLEAR_ONLY == 0);
        let mut a = StmtAgg {
            payments: 0,
            refunds: 0,
            amount: Decimal::ZERO,
            status: GatewayStatus::Success,
            refunded: Decimal::ZERO,
            paid_at: None,
            refunded_at: None,
            own,
            repeated_refunds: 0,
        };
        // Refund lines seen: a line identical to an earlier one (amount and
        // time) is the same refund listed twice; others are partial refunds.
        let mut seen: Vec<(Decimal, Option<NaiveDateTime>)> = Vec::new();
        for e in recs.iter().filter(|r| !own || r.flags & CLEAR_ONLY == 0) {
            let (amount, status, paid_at) = (e.amount(big), e.status, e.paid_at);
            if e.flags & REFUND != 0 {
                if seen.contains(&(amount, paid_at)) {
                    a.repeated_refunds += 1;
                    continue;
                }
                seen.push((amount, paid_at));
                a.refunded_at = a.refunded_at.max(paid_at);
                // A bill may list only the refund row (WeChat's REFUND line): the
                // payment it refunds is implied.
                if a.payments == 0 && a.refunded == Decimal::ZERO {
                    a.amount = amount;
                    a.paid_at = a.paid_at.or(paid_at);
                }
                a.refunds += 1;
                a.refunded += amount;
                a.status = if status == GatewayStatus::Success {
                    GatewayStatus::Refund
                } else {
                    status
                };
            } else {
                a.payments += 1;
                if a.payments == 1 {
                    a.amount = amount;
                }
                if status != GatewayStatus::Success {
                    a.status = status;
                    if a.refunded.is_zero() {
                        // An hfb line carries the final state: the whole payment went back.
                        a.refunded = amount;
                    }
                }
                a.paid_at = a.paid_at.or(paid_at);
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
/// memory is a few dozen bytes per row whatever the key type. Each file is
/// judged once read ([`read_parsed`]): only the period's own, usable bills
/// make breaks, and only for the days they cover — a flow of a day no usable
/// bill covers is unverified, not missing. Flows within `window` of either
/// boundary that the statements lack are `pending_cross_day` (the
/// neighbouring day's file will have them), not `missing_external`. `cancel`
/// is polled between files and every 64k rows.
pub async fn match_statements(
    db: &Db,
    files: &[StatementInput],
    from: NaiveDateTime,
    to: NaiveDateTime,
    window: Duration,
    cancel: &std::sync::atomic::AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<MatchOutput, MatchError> {
    let read = read_statements(
        files,
        (from, to, window),
        &super::fees::FeeRates::default(),
        Some(cancel),
        progress,
    )?;
    match_read(db, read, from, to, window, cancel, progress).await
}

/// Statement files read, checked and sorted, waiting for the flows
/// ([`read_statements`], then [`match_read`]).
pub struct ReadStatements {
    keys: Keys,
    parsed: Parsed,
}

/// The statements' records, sorted by key, and what the files said.
pub(super) struct Parsed {
    pub(super) out: MatchOutput,
    pub(super) stmt: Vec<StmtRec>,
    /// Amounts beyond `i64` cents, by index.
    pub(super) big: Vec<Decimal>,
}

impl ReadStatements {
    pub(super) fn new(keys: Keys, parsed: Parsed) -> Self {
        Self { keys, parsed }
    }

    /// Lines read per file, for progress.
    pub fn entries(&self) -> impl Iterator<Item = u64> + '_ {
        self.parsed.out.files.iter().map(|f| f.entries)
    }
}

/// The statement half of [`match_statements`]: synchronous (file reading and
/// parsing), so it can run on a blocking thread while the database works.
pub fn read_statements(
    files: &[StatementInput],
    (from, to, window): (NaiveDateTime, NaiveDateTime, Duration),
    fees: &super::fees::FeeRates,
    cancel: Option<&std::sync::atomic::AtomicBool>,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<ReadStatements, MatchError> {
    let keys = Keys::default();
    let parsed = read_parsed(files, (from, to, window), cancel, progress, &keys, fees)?;
    Ok(ReadStatements { keys, parsed })
}

fn push_rec(
    stmt: &mut Vec<StmtRec>,
    big: &mut Vec<Decimal>,
    key: Key,
    refund: bool,
    status: GatewayStatus,
    amount: Decimal,
    paid_at: Option<NaiveDateTime>,
) {
    let mut flags = if refund { REFUND } else { 0 };
    let cents = match crate::money::to_cents(amount) {
        Some(c) if Decimal::new(c, crate::money::SCALE) == amount => c,
        _ => {
            flags |= BIG;
            big.push(amount);
            i64::try_from(big.len() - 1).unwrap_or(i64::MAX)
        }
    };
    stmt.push(StmtRec {
        key,
        amount: cents,
        paid_at,
        status,
        flags,
    });
}

/// [`read_statements`] with the keys of a run shared with other threads.
///
/// Each file is read once and then judged as a whole (SPEC §4): a file whose
/// own totals disagree with its rows, that cannot be read, has no rows, or is
/// another period's bill is refused — its lines are dropped and one finding
/// says why; a neighbouring day's bill only clears our flows; the others are
/// the period's bills, and the days they are for are the run's coverage.
pub(super) fn read_parsed(
    files: &[StatementInput],
    (from, to, window): (NaiveDateTime, NaiveDateTime, Duration),
    cancel: Option<&std::sync::atomic::AtomicBool>,
    progress: &mut dyn FnMut(&str, u64),
    keys: &Keys,
    fees: &super::fees::FeeRates,
) -> Result<Parsed, MatchError> {
    use std::sync::atomic::Ordering;
    let mut out = MatchOutput::default();
    let mut stmt: Vec<StmtRec> = Vec::new();
    let mut big: Vec<Decimal> = Vec::new();
    let period = (from.date(), (to - Duration::seconds(1)).date());
    let mut covered: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let t0 = std::time::Instant::now();
    // Progress: the bytes read, counted across the files in the order given
    // (each file's size as found now; the run splits the count per file).
    let mut spans = Vec::with_capacity(files.len());
    let mut offset = 0u64;
    for input in files {
        let size = std::fs::metadata(&input.path).map_or(0, |m| m.len());
        spans.push((offset, size));
        offset = offset.saturating_add(size);
    }
    // The fund-flow bills and account logs are read first: the trade bills
    // then stream past their movements (the settlement check).
    let mut settle = files
        .iter()
        .any(|f| !f.format.has_trades())
        .then(super::settlement::Settlement::new);
    let order: Vec<usize> = (0..files.len())
        .filter(|&i| !files[i].format.has_trades())
        .chain((0..files.len()).filter(|&i| files[i].format.has_trades()))
        .collect();
    let mut summaries: Vec<Option<FileSummary>> = vec![None; files.len()];
    for i in order {
        let input = &files[i];
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(MatchError::Cancelled);
        }
        let (start, size) = spans[i];
        let end = start.saturating_add(size);
        progress("statement", start);
        let name = input
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let on_bytes = &mut |b: u64| progress("statement", start + b.min(size));
        if !input.format.has_trades() {
            let summary = read_movement_file(
                input,
                &name,
                period,
                on_bytes,
                settle.as_mut(),
                &mut out.findings,
            );
            progress("statement", end);
            summaries[i] = Some(summary);
            continue;
        }
        let before = (stmt.len(), big.len());
        let mut fee = fees
            .for_format(input.format.name())
            .map(|r| super::fees::FeeCheck::new(&name, input.format.name(), r));
        if let Some(s) = settle.as_mut() {
            s.begin_trades(&name);
        }
        // A bill's rows just across the boundary (a payment after the
        // gateway's cut-off, carried into the next day's bill) are its own.
        let mut money = FileMoney {
            fee: fee.as_mut(),
            settle: settle.as_mut(),
            from: from - window,
            to: to + window,
        };
        let read = read_file(
            input, keys, &mut stmt, &mut big, cancel, on_bytes, &mut money,
        );
        let report = match read {
            Ok(r) => r,
            Err(MatchError::Statement(e)) => {
                progress("statement", end);
                stmt.truncate(before.0);
                big.truncate(before.1);
                if let Some(s) = settle.as_mut() {
                    s.abort_trades();
                }
                let (zh, why) = (unreadable_zh(&e), e.to_string());
                out.findings.push(refused_finding(&name, &zh, &why));
                summaries[i] = Some(unreadable_summary(input, why, zh));
                continue;
            }
            Err(e) => return Err(e),
        };
        progress("statement", end);
        let bill_period = report.business_period();
        let verdict = judge(&report, bill_period, period);
        match &verdict {
            Verdict::Own(days) => {
                covered.push(*days);
                // Lines outside the window around the period (a bill that
                // spans several days) only clear flows there.
                let (lo, hi) = (from - window, to + window);
                // A refund on the period's bill is the period's, whatever
                // time it shows (its recharge is looked up by bill).
                for r in &mut stmt[before.0..] {
                    if r.flags & REFUND == 0 && r.paid_at.is_some_and(|t| t < lo || t >= hi) {
                        r.flags |= CLEAR_ONLY;
                    }
                }
                // The fee and settlement checks count the period's own bills only.
                if let Some(mut f) = fee {
                    out.fees.push(f.summary());
                    out.findings.append(&mut f.findings);
                }
                if let Some(s) = settle.as_mut() {
                    s.commit_trades();
                }
            }
            Verdict::Neighbour => {
                for r in &mut stmt[before.0..] {
                    r.flags |= CLEAR_ONLY;
                }
            }
            Verdict::ReadOnly | Verdict::Totals(..) | Verdict::Refused(..) => {
                stmt.truncate(before.0);
                big.truncate(before.1);
            }
        }
        if !matches!(verdict, Verdict::Own(_))
            && let Some(s) = settle.as_mut()
        {
            s.abort_trades();
        }
        match &verdict {
            Verdict::Totals(zh, why) => out.findings.push(totals_finding(&name, &report, zh, why)),
            Verdict::Refused(zh, why) => out.findings.push(refused_finding(&name, zh, why)),
            _ => {}
        }
        let (role, refused) = match verdict {
            Verdict::Own(_) => (FileRole::Reconciled, None),
            Verdict::Neighbour => (FileRole::Neighbour, None),
            Verdict::ReadOnly => (FileRole::ReadOnly, None),
            Verdict::Totals(zh, why) | Verdict::Refused(zh, why) => {
                (FileRole::Refused, Some((zh, why)))
            }
        };
        summaries[i] = Some(file_summary(input, &report, role, refused, bill_period));
    }
    out.files = summaries.into_iter().flatten().collect();
    match settle {
        Some(s) if s.has_movements() => settle_up(s, (from, to, window), &mut out),
        Some(_) => {
            out.settlement = Some(super::settlement::SettlementSummary {
                not_checked: Some((
                    "no usable fund-flow bill or account log of the period (see the files)".into(),
                    "本期没有可用的资金账单或账务明细（见文件列表）".into(),
                )),
                ..Default::default()
            });
        }
        None => {}
    }
    out.coverage = coverage(period, &covered);
    super::checks::stage_time("statement parse", t0);
    let t0 = std::time::Instant::now();
    stmt.sort_unstable_by_key(|r| r.key);
    super::checks::stage_time("statement sort", t0);
    Ok(Parsed { out, stmt, big })
}

/// The money checks fed while one trade bill is read: its fee check and the
/// run's settlement check, for the rows booked in the period.
pub(super) struct FileMoney<'a> {
    fee: Option<&'a mut super::fees::FeeCheck>,
    settle: Option<&'a mut super::settlement::Settlement>,
    from: NaiveDateTime,
    to: NaiveDateTime,
}

impl FileMoney<'_> {
    fn active(&self) -> bool {
        self.fee.is_some() || self.settle.is_some()
    }

    fn entry(&mut self, e: &crate::statement::Entry) {
        if e.booked_at().is_some_and(|t| t < self.from || t >= self.to) {
            return;
        }
        if let Some(f) = self.fee.as_deref_mut() {
            f.entry(e);
        }
        if let Some(s) = self.settle.as_deref_mut() {
            s.trade(e);
        }
    }
}

/// The settlement check's end: the findings and summary, or, when the
/// movements and the trades share no reference number, the movement files
/// refused as another merchant's or day's.
fn settle_up(
    s: super::settlement::Settlement,
    (from, to, window): (NaiveDateTime, NaiveDateTime, Duration),
    out: &mut MatchOutput,
) {
    if s.unrelated() {
        let why = "its movements share no reference number with the period's trade bills (another merchant's or day's file, or an account credited in one sum per day): no order could be settled against it";
        let why_zh = "它的资金流水与本期交易账单没有一个相同的单号（其他商户或其他日期的文件，或按日汇总入账的账户）：无法逐笔核对到账";
        for f in out
            .files
            .iter_mut()
            .filter(|f| f.role == FileRole::ReadOnly)
        {
            out.findings
                .push(refused_finding(&f.file_name(), why_zh, why));
            f.role = FileRole::Refused;
            f.refused = Some(why.to_owned());
            f.refused_zh = Some(why_zh.to_owned());
        }
        out.settlement = Some(super::settlement::SettlementSummary {
            not_checked: Some((why.to_owned(), why_zh.to_owned())),
            ..Default::default()
        });
        return;
    }
    let (mut findings, summary) = s.finish(from, to, window);
    out.findings.append(&mut findings);
    out.settlement = Some(summary);
}

/// Reads a fund-flow bill or account log for the settlement check. It is
/// used only when whole and of the period: a file whose own totals disagree
/// with its rows, that cannot be read, or that is another day's is refused
/// in one finding, and none of its rows count.
fn read_movement_file(
    input: &StatementInput,
    name: &str,
    (first, last): (NaiveDate, NaiveDate),
    on_bytes: &mut dyn FnMut(u64),
    settle: Option<&mut super::settlement::Settlement>,
    findings: &mut Vec<Finding>,
) -> FileSummary {
    // The movements go straight into the check, kept apart until the file
    // is judged whole and of the period.
    let mut settle = settle;
    let report = match crate::statement::read_movements(
        &input.path,
        &input.format,
        &mut |m| {
            if let Some(s) = settle.as_deref_mut() {
                s.movement(m);
            }
        },
        on_bytes,
    ) {
        Ok(r) => r,
        Err(e) => {
            if let Some(s) = settle.as_deref_mut() {
                s.abort_movements();
            }
            let (zh, why) = (unreadable_zh(&e), e.to_string());
            findings.push(refused_finding(name, &zh, &why));
            return unreadable_summary(input, why, zh);
        }
    };
    let bill_period = report.business_period();
    let refused = if let Some(why) = report.totals_mismatch_reason() {
        let zh = totals_zh(&report);
        findings.push(totals_finding(name, &report, &zh, &why));
        Some((zh, why))
    } else {
        match bill_period {
            Some((a, b)) if a < first || b > last => {
                let (zh, why) = (
                    format!(
                        "这是 {} 的资金账单，不是本次对账日 {} 的：文件或对账日选错了",
                        day_range((a, b)),
                        day_range((first, last))
                    ),
                    format!(
                        "it is the fund-flow bill of {}, not of the reconciled {}: wrong file or wrong day (--day)",
                        day_range((a, b)),
                        day_range((first, last))
                    ),
                );
                findings.push(refused_finding(name, &zh, &why));
                Some((zh, why))
            }
            _ => None,
        }
    };
    let role = if refused.is_some() {
        if let Some(s) = settle {
            s.abort_movements();
        }
        FileRole::Refused
    } else {
        if let Some(s) = settle {
            s.commit_movements(name, report.format);
        }
        FileRole::ReadOnly
    };
    file_summary(input, &report, role, refused, bill_period)
}

/// The `statement_total_mismatch` finding of a file whose footer disagrees with its rows.
fn totals_finding(name: &str, report: &ImportReport, zh: &str, why: &str) -> Finding {
    Finding::new(Kind::StatementTotalMismatch, name)
        .amounts(Some(report.computed.amount), report.declared.as_ref().map(|d| d.amount))
        .explain(
            format!("对账单 {name} 自身合计与明细不符（{zh}）：文件可能下载不完整，本文件未参与对账，它应覆盖的流水记为未核对，请重新下载"),
            format!("statement {name}: its own totals disagree with its rows ({why}); it may be a truncated download and was NOT reconciled — the flows it would have covered count as unverified; download it again"),
        )
}

/// The summary of a file that could not be read at all.
fn unreadable_summary(input: &StatementInput, why: String, zh: String) -> FileSummary {
    FileSummary {
        path: input.path.display().to_string(),
        format: input.format.name(),
        encoding: String::new(),
        entries: 0,
        row_errors: Vec::new(),
        totals_ok: None,
        reconciled: false,
        role: FileRole::Refused,
        refused: Some(why),
        refused_zh: Some(zh),
        business_period: None,
        layout: None,
        amount: None,
        refund_amount: None,
    }
}

/// The summary of a file that was read.
fn file_summary(
    input: &StatementInput,
    report: &ImportReport,
    role: FileRole,
    refused: Option<(String, String)>,
    bill_period: Option<(NaiveDate, NaiveDate)>,
) -> FileSummary {
    let (refused_zh, refused) = refused.unzip();
    FileSummary {
        path: input.path.display().to_string(),
        format: report.format,
        encoding: report.encoding.to_string(),
        entries: report.entries,
        row_errors: report
            .errors
            .iter()
            .map(|e| (e.line, e.reason.clone()))
            .collect(),
        totals_ok: report.totals_match(),
        reconciled: role == FileRole::Reconciled,
        role,
        refused,
        refused_zh,
        business_period: bill_period,
        layout: report.layout.clone(),
        amount: Some(format_amount(report.computed.amount)),
        refund_amount: Some(format_amount(report.computed.refund_amount)),
    }
}

/// Reads one file into `stmt`/`big` (hfb through its fast reader when the
/// file is simple). On error the caller drops what was added.
fn read_file(
    input: &StatementInput,
    keys: &Keys,
    stmt: &mut Vec<StmtRec>,
    big: &mut Vec<Decimal>,
    cancel: Option<&std::sync::atomic::AtomicBool>,
    on_bytes: &mut dyn FnMut(u64),
    money: &mut FileMoney<'_>,
) -> Result<ImportReport, MatchError> {
    use crate::statement::read::read_statement_with_progress;
    let before = (stmt.len(), big.len());
    // The fast hfb reader has no fees nor ids: the money checks take the general one.
    if input.format == Format::Hfb && !money.active() {
        let fast = crate::statement::hfb::read_fast(
            &input.path,
            &mut |e| {
                let key = keys.key(e.agent_bill_no);
                push_rec(stmt, big, key, false, e.status, e.amount, Some(e.paid_at));
            },
            cancel,
            on_bytes,
        )?;
        if let Some(r) = fast {
            return Ok(r);
        }
        // Not simple (or cancelled): the general reader.
        stmt.truncate(before.0);
        big.truncate(before.1);
        if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
            return Err(MatchError::Cancelled);
        }
    }
    Ok(read_statement_with_progress(
        &input.path,
        &input.format,
        |e| {
            if money.active() {
                money.entry(&e);
            }
            let key = keys.key(&e.agent_bill_no);
            let refund = e.kind == EntryKind::Refund;
            // A refund line is placed by its refund time: the day it belongs to.
            let at = if refund { e.booked_at() } else { e.paid_at };
            push_rec(stmt, big, key, refund, e.status, e.amount, at);
        },
        on_bytes,
    )?)
}

/// What a run does with one file.
enum Verdict {
    /// The period's bill, for these days of it.
    Own((NaiveDate, NaiveDate)),
    /// The bill of the day before or after the period.
    Neighbour,
    /// Not trades: read and footer-checked only.
    ReadOnly,
    /// Its totals disagree with its rows (why, in Chinese and English).
    Totals(String, String),
    /// Not usable (why, in Chinese and English).
    Refused(String, String),
}

/// Why a file could not be read, in Chinese (the English is the error's text).
fn unreadable_zh(e: &StatementError) -> String {
    match e {
        StatementError::Io { source, .. } => format!("无法读取文件：{source}"),
        StatementError::Encoding {
            line,
            found,
            expected,
            ..
        } => format!(
            "文件编码不是 {expected}（第 {line} 行像是 {found}）：格式或编码选错了，或文件已损坏"
        ),
        StatementError::Header { line, reason, .. } => {
            format!("第 {line} 行的表头不是所选格式的（{reason}）：请选择正确的格式")
        }
        StatementError::GatewayReply { message, .. } => {
            format!("微信返回的是错误信息而不是账单：{message}")
        }
        StatementError::Empty { .. } => "文件是空的：没有表头也没有明细".to_owned(),
        StatementError::Packed { what, .. } => {
            let what = if what.starts_with("gzip") {
                "gzip 压缩文件"
            } else {
                "zip 压缩包或 Excel 工作簿"
            };
            format!("这是{what}，不是文本对账单：请先解压（或另存为 CSV）再选择其中的 .csv")
        }
    }
}

/// Why a file's totals disagree, in Chinese.
fn totals_zh(r: &ImportReport) -> String {
    let c = &r.computed;
    let unread = if r.errors.is_empty() {
        String::new()
    } else {
        format!("，另有 {} 行无法读取", r.errors.len())
    };
    match &r.declared {
        Some(d) => format!(
            "页脚合计 {} 笔共 {}，明细只有 {} 笔共 {}{unread}",
            d.count,
            format_amount(d.amount),
            c.count,
            format_amount(c.amount)
        ),
        None => format!(
            "页脚合计缺失或无法读取，明细 {} 笔共 {}{unread}",
            c.count,
            format_amount(c.amount)
        ),
    }
}

/// `2026-11-20`, or `2026-11-20..2026-11-22` for several days.
pub(super) fn day_range((a, b): (NaiveDate, NaiveDate)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}..{b}")
    }
}

/// Judges a file read in full, against the period's days (first, last).
fn judge(
    r: &ImportReport,
    bill: Option<(NaiveDate, NaiveDate)>,
    (first, last): (NaiveDate, NaiveDate),
) -> Verdict {
    if let Some(why) = r.totals_mismatch_reason() {
        return Verdict::Totals(totals_zh(r), why);
    }
    if !r.trades() {
        return Verdict::ReadOnly;
    }
    if r.entries == 0 && r.declared_period.is_none() {
        return Verdict::Refused(
            match r.errors.len() {
                0 => "没有任何明细，无法判断是哪一天的对账单".to_owned(),
                n => format!(
                    "明细全部无法读取（{n} 行有错，第一处：第 {} 行）",
                    r.errors[0].line
                ),
            },
            match r.errors.len() {
                0 => "it has no rows, so it cannot say which day it is for".to_owned(),
                n => format!(
                    "none of its rows could be read ({n} bad rows, the first: {})",
                    r.errors[0]
                ),
            },
        );
    }
    // Without times (a generic file with no time column) the user's word is all there is.
    let Some((a, b)) = bill else {
        return Verdict::Own((first, last));
    };
    let (before, after) = (
        first.pred_opt().unwrap_or(first),
        last.succ_opt().unwrap_or(last),
    );
    if b < first || a > last {
        if b >= before && a <= after {
            return Verdict::Neighbour;
        }
        return Verdict::Refused(
            format!(
                "这是 {} 的对账单，不是本次对账日 {} 的：文件或对账日选错了",
                day_range((a, b)),
                day_range((first, last))
            ),
            format!(
                "it is the bill of {}, not of the reconciled {}: wrong file or wrong day (--day)",
                day_range((a, b)),
                day_range((first, last))
            ),
        );
    }
    Verdict::Own((a.max(first), b.min(last)))
}

/// The period's days covered by the period's bills.
fn coverage((first, last): (NaiveDate, NaiveDate), bills: &[(NaiveDate, NaiveDate)]) -> Coverage {
    let mut days: Vec<NaiveDate> = Vec::new();
    for &(a, b) in bills {
        let mut d = a.max(first);
        while d <= b.min(last) {
            days.push(d);
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
    }
    days.sort_unstable();
    days.dedup();
    let all = (last - first).num_days() + 1 == days.len() as i64;
    if all {
        days.clear();
    }
    Coverage { all, days }
}

/// The finding for a file that was not used, with the reason.
pub(super) fn refused_finding(name: &str, why_zh: &str, why: &str) -> Finding {
    Finding::new(Kind::StatementRefused, name).explain(
        format!("对账单 {name} 未采用（{why_zh}）：没有用它对账，它应覆盖的流水记为未核对"),
        format!("statement {name} was not used ({why}): nothing was matched against it, and the flows it would have covered count as unverified"),
    )
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
        keys,
        parsed: Parsed {
            mut out,
            mut stmt,
            big,
        },
    } = read;

    // Recharge flows around the period, streamed into compact records.
    let t0 = std::time::Instant::now();
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
    } else if !pg_copy_flows(
        db,
        (from - window, to + window),
        &keys,
        &mut flows,
        cancel,
        progress,
    )
    .await?
    {
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
    super::checks::stage_time("matching flows read", t0);
    let t0 = std::time::Instant::now();
    flows.sort_unstable_by_key(|r| r.key);
    super::checks::stage_time("matching flows sort", t0);
    let t0 = std::time::Instant::now();
    refuse_if_unrelated(
        &mut out,
        &mut stmt,
        flows.iter().map(|f| (f.key, f.at >= from && f.at < to)),
    );

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
        let s = (i > si).then(|| StmtAgg::fold(&stmt[si..i], &big));
        let f = FlowAgg::fold(&flows[fj..j]);
        let side = f.as_ref().map(|a| FlowSide::of(a, from, to, window));
        let bill = keys.text(&key);
        let mut detail = || {
            f.as_ref()
                .map(|a| (a.user_id, a.first, a.last))
                .ok_or_else(|| MatchError::Db(DbError::State("no flow for a finding".into())))
        };
        compare(&bill, s.as_ref(), side.as_ref(), &mut detail, &mut out)?;
        if cancel.load(Ordering::Relaxed) && (i + j).is_multiple_of(65_536) {
            return Err(MatchError::Cancelled);
        }
    }
    super::checks::stage_time("matching merge", t0);
    Ok(out)
}

/// PostgreSQL: the recharge flows in `[from, to)` through `COPY`, read as the
/// typed query reads them (a NULL bill is the empty one, a NULL amount zero,
/// a NULL user or time an error). `false`, having read nothing, when a
/// column's type is not one whose text this reader knows (or not PostgreSQL).
async fn pg_copy_flows(
    db: &Db,
    (from, to): (NaiveDateTime, NaiveDateTime),
    keys: &Keys,
    flows: &mut Vec<FlowRec>,
    cancel: &std::sync::atomic::AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<bool, MatchError> {
    use crate::db::pg_copy::{self, CopyText};
    if db.backend() != crate::db::Backend::Postgres {
        return Ok(false);
    }
    let types = pg_copy::column_types(db, "trans_flow").await?;
    let fits = |c: &str, ok: &dyn Fn(&pg_copy::ColumnType) -> bool| types.get(c).is_some_and(ok);
    if !(fits("trans_no", &|t| t.is_text())
        && fits("user_id", &|t| t.is_integer())
        && fits("trans_type", &|t| t.is_integer())
        && fits("is_deleted", &|t| t.is_integer())
        && fits("trans_amount", &|t| {
            t.is_integer() || t.data_type == "numeric"
        })
        && fits("create_time", &|t| {
            t.data_type == "timestamp without time zone"
        }))
    {
        return Ok(false);
    }
    let sql = format!(
        "COPY (SELECT trans_no, user_id, trans_amount, create_time FROM trans_flow \
         WHERE trans_type = 1 AND is_deleted = 0 AND create_time >= {} AND create_time < {}) \
         TO STDOUT",
        pg_copy::timestamp_literal(from),
        pg_copy::timestamp_literal(to)
    );
    let mut reader = CopyText::new();
    let d = |e| MatchError::Db(db.decode("trans_flow", e));
    db.copy_out(&sql, |chunk| -> Result<(), MatchError> {
        reader.feed(chunk, |row| -> Result<(), MatchError> {
            let bill = row.opt_text(0, "trans_no").map_err(d)?.unwrap_or_default();
            flows.push(FlowRec {
                key: keys.key(&bill),
                user_id: row
                    .opt_i64(1, "user_id")
                    .map_err(d)?
                    .ok_or_else(|| d(null("user_id")))?,
                amount: row
                    .opt_decimal(2, "trans_amount")
                    .map_err(d)?
                    .unwrap_or_default(),
                at: row
                    .opt_time(3, "create_time")
                    .map_err(d)?
                    .ok_or_else(|| d(null("create_time")))?,
            });
            if flows.len().is_multiple_of(65_536) {
                progress("flows", flows.len() as u64);
                if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(MatchError::Cancelled);
                }
            }
            Ok(())
        })
    })
    .await?;
    if reader.has_partial_row() {
        return Err(MatchError::Db(DbError::State(
            "the COPY of trans_flow ended in the middle of a row".into(),
        )));
    }
    Ok(true)
}

/// A column that is NULL where a value is needed.
pub(super) fn null(column: &str) -> crate::db::DecodeError {
    crate::db::DecodeError {
        column: column.to_owned(),
        reason: "is NULL".to_owned(),
    }
}

/// Our side of one key, as [`compare`] needs it.
#[derive(Debug, Clone, Copy)]
pub(super) struct FlowSide {
    /// Flows under the key.
    pub count: u32,
    /// Their sum.
    pub amount: Decimal,
    /// The first flow lies in the period.
    pub in_period: bool,
    /// ... within the cross-day window of one of its boundaries.
    pub near_edge: bool,
}

/// Who and when — (user, first flow, last flow) — read only for a finding.
pub(super) type Detail = (i64, NaiveDateTime, NaiveDateTime);

impl FlowSide {
    fn of(a: &FlowAgg, from: NaiveDateTime, to: NaiveDateTime, window: Duration) -> Self {
        Self {
            count: a.count,
            amount: a.amount,
            in_period: a.first >= from && a.first < to,
            near_edge: a.first < from + window || a.first >= to - window,
        }
    }
}

/// From this many paid orders on the period's bills and recharge flows in
/// the period, sharing not one bill is another merchant's, environment's or
/// day's file: a real day has some payments on both sides. Below it,
/// sharing none is believable (one payment not credited, one stray credit),
/// so those stay breaks; a day on which nothing was credited at all (no
/// flows) reports its lines.
pub(super) const UNRELATED_MIN: u64 = 3;

/// Before the merge: when the period's bills share not one bill with the
/// flows (`flows`: key and whether in the period, sorted by key) while both
/// sides have [`UNRELATED_MIN`] or more, the bills are another merchant's,
/// environment's or day's files. Their lines are then set to clear nothing
/// and break nothing, and no day counts as covered, so the merge makes no
/// finding and asks no flow's detail: every flow of the period comes out
/// unverified, and [`MatchOutput::unrelated`] tells the run to refuse the
/// files. Refunds do not count: a refund bill's refunds of earlier days
/// share no bill with the day's flows by nature.
pub(super) fn refuse_if_unrelated(
    out: &mut MatchOutput,
    stmt: &mut [StmtRec],
    flows: impl Iterator<Item = (Key, bool)>,
) {
    let own_paid = |r: &StmtRec| r.flags & (CLEAR_ONLY | REFUND) == 0;
    let (mut orders, mut in_period, mut shared) = (0u64, 0u64, false);
    let mut last: Option<Key> = None;
    for r in stmt.iter().filter(|r| own_paid(r)) {
        if last != Some(r.key) {
            orders += 1;
            last = Some(r.key);
        }
    }
    let mut i = 0;
    for (key, period) in flows {
        in_period += u64::from(period);
        while i < stmt.len() && stmt[i].key < key {
            i += 1;
        }
        let mut j = i;
        while !shared && j < stmt.len() && stmt[j].key == key {
            shared = stmt[j].flags & CLEAR_ONLY == 0;
            j += 1;
        }
    }
    if shared || orders < UNRELATED_MIN || in_period < UNRELATED_MIN {
        return;
    }
    for r in stmt.iter_mut() {
        r.flags |= CLEAR_ONLY;
    }
    out.coverage = Coverage::default();
    out.unrelated = Some((orders, in_period));
}

/// One key: the statement's view against ours.
pub(super) fn compare(
    bill: &str,
    s: Option<&StmtAgg>,
    f: Option<&FlowSide>,
    detail: &mut dyn FnMut() -> Result<Detail, MatchError>,
    out: &mut MatchOutput,
) -> Result<(), MatchError> {
    if let Some(s) = s.filter(|s| s.own) {
        out.statement_orders += 1;
        if s.payments > 0 {
            out.payment_orders += 1;
        }
        // Several different refunds of one order are partial refunds, not a duplicate.
        let listed = if s.payments > 0 {
            s.payments
        } else {
            s.refunds + s.repeated_refunds
        };
        if s.payments > 1 || s.repeated_refunds > 0 {
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
    if let Some(f) = f.filter(|f| f.in_period) {
        out.flows_in_period += 1;
        out.flows_in_period_amount += f.amount;
    }
    match (s.filter(|s| s.present()), f) {
        (Some(s), Some(f)) => {
            if !s.own {
                // A neighbouring day's line: our flow is accounted for there.
                if f.in_period {
                    out.cleared_by_neighbour += 1;
                }
                return Ok(());
            }
            out.matched += 1;
            if s.status != GatewayStatus::Success {
                let (user_id, _, last) = detail()?;
                out.findings.push(refunded_finding(
                    bill,
                    s.status,
                    s.refunded,
                    s.refunded_at.or(s.paid_at),
                    (user_id, f.amount, last),
                ));
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
                let (user_id, _, last) = detail()?;
                out.findings.push(
                    Finding::new(Kind::AmountMismatch, bill)
                        .bill(bill)
                        .user(Some(user_id))
                        .amounts(Some(f.amount), Some(s.amount))
                        .seen(s.paid_at, Some(last))
                        .explain(
                            format!("双方都有这笔，金额不同：我方 {}，网关 {}；{zh}", format_amount(f.amount), format_amount(s.amount)),
                            format!("both sides have it with different amounts: ours {}, gateway {}; {en}", format_amount(f.amount), format_amount(s.amount)),
                        ),
                );
            }
        }
        (Some(s), None) if !s.own => {}
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
        // Only the refund is on the bill: the recharge was paid on an earlier
        // day; its flow is looked up by bill after the merge.
        (Some(s), None) if s.payments == 0 => out.refund_lookups.push(RefundLookup {
            bill: bill.to_owned(),
            refunded: s.refunded,
            refunded_at: s.refunded_at.or(s.paid_at),
            status: s.status,
        }),
        (None, Some(f)) if f.in_period => {
            let mut known = None;
            let covered = if out.coverage.all {
                true
            } else if out.coverage.is_empty() {
                false
            } else {
                let d = detail()?;
                known = Some(d);
                out.coverage.covers(d.1.date())
            };
            if !covered {
                // No usable statement is for this flow's day: not checked, not missing.
                out.unverified_flows += 1;
                out.unverified_amount += f.amount;
                return Ok(());
            }
            let (user_id, first, last) = match known {
                Some(d) => d,
                None => detail()?,
            };
            if f.near_edge {
                out.findings.push(
                    Finding::new(Kind::PendingCrossDay, bill)
                        .bill(bill)
                        .user(Some(user_id))
                        .amounts(Some(f.amount), None)
                        .seen(Some(first), Some(last))
                        .explain(
                            format!("我方 {} 入账 {}，紧贴日切，不在本期对账单里：应在相邻一天的对账单中，导入后自动复核", first.format("%H:%M:%S"), format_amount(f.amount)),
                            format!("credited {} at {}, right at the day boundary, and not in this statement: it should be in the neighbouring day's file and is re-checked when that is imported", format_amount(f.amount), first.format("%H:%M:%S")),
                        ),
                );
            } else {
                out.findings.push(
                    Finding::new(Kind::MissingExternal, bill)
                        .bill(bill)
                        .user(Some(user_id))
                        .amounts(Some(f.amount), None)
                        .seen(Some(first), Some(last))
                        .explain(
                            format!("我方有、网关无：我方已入账 {}，网关对账单没有这笔——入账的钱网关从未收到", format_amount(f.amount)),
                            format!("we have it, the gateway doesn't: we credited {} and the statement has no such payment — money credited that the gateway never received", format_amount(f.amount)),
                        ),
                );
            }
        }
        _ => {}
    }
    Ok(())
}

/// A recharge we credited that the gateway refunded or revoked: a
/// `status_mismatch` carrying the part that went back. `ours` is (user,
/// amount credited, when).
fn refunded_finding(
    bill: &str,
    status: GatewayStatus,
    refunded: Decimal,
    when: Option<NaiveDateTime>,
    (user_id, credited, at): (i64, Decimal, NaiveDateTime),
) -> Finding {
    // What went back, at most what we credited (a revocation takes it all).
    let back = if refunded.is_zero() || refunded > credited {
        credited
    } else {
        refunded
    };
    let partial = back < credited;
    let t = when
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "time not given".to_owned());
    let (zh, en) = match (status, partial) {
        (GatewayStatus::Revoked, _) => (
            format!(
                "网关已撤销这笔（{t}），我方仍记为已入账 {}",
                format_amount(credited)
            ),
            format!(
                "revoked at the gateway ({t}), still credited here ({})",
                format_amount(credited)
            ),
        ),
        (_, false) => (
            format!(
                "网关已退款 {}（退款时间 {t}），我方仍记为已入账",
                format_amount(back)
            ),
            format!(
                "refunded at the gateway ({}, refunded {t}), still credited here",
                format_amount(back)
            ),
        ),
        (_, true) => (
            format!(
                "网关已部分退款 {}（共 {}，退款时间 {t}），我方仍记为全额入账",
                format_amount(back),
                format_amount(credited)
            ),
            format!(
                "partly refunded at the gateway ({} of {}, refunded {t}), still credited here in full",
                format_amount(back),
                format_amount(credited)
            ),
        ),
    };
    Finding::new(Kind::StatusMismatch, bill)
        .bill(bill)
        .user(Some(user_id))
        .amounts(Some(credited), Some(credited - back))
        .seen(Some(at), when.or(Some(at)))
        .explain(
            format!(
                "{zh}：退回的钱网关不会结算给我们（我方 {} 入账）",
                at.format("%Y-%m-%d %H:%M:%S")
            ),
            format!(
                "{en}: the gateway will not settle the money it gave back (credited here at {})",
                at.format("%Y-%m-%d %H:%M:%S")
            ),
        )
}

/// Looks up, by bill and whatever their day, the recharges of the refunds
/// that had no flow near the period ([`MatchOutput::refund_lookups`]), and
/// adds a `status_mismatch` for each one we credited. A refund of a
/// recharge we never credited adds nothing: there is nothing to take back.
pub async fn resolve_refunds(db: &Db, out: &mut MatchOutput) -> Result<(), MatchError> {
    let lookups = std::mem::take(&mut out.refund_lookups);
    for chunk in lookups.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT trans_no, user_id, {}, create_time FROM trans_flow \
             WHERE trans_type = 1 AND is_deleted = 0 AND trans_no IN ({marks})",
            db.money_cmp("trans_amount")
        );
        let args: Vec<Arg> = chunk.iter().map(|l| Arg::from(l.bill.clone())).collect();
        // bill → (user, amount, first credit)
        let mut found: HashMap<String, (i64, Decimal, NaiveDateTime)> = HashMap::new();
        db.for_each_row(&sql, &args, |row| -> Result<bool, MatchError> {
            let d = |e| MatchError::Db(db.decode("trans_flow", e));
            let bill = row.text(0).map_err(d)?;
            let user = row.i64(1).map_err(d)?;
            let amount = row.opt_money_agg(2).map_err(d)?.unwrap_or_default();
            let at = row.time(3).map_err(d)?;
            let e = found.entry(bill).or_insert((user, Decimal::ZERO, at));
            e.1 += amount;
            e.2 = e.2.min(at);
            Ok(true)
        })
        .await?;
        for l in chunk {
            if let Some(&ours) = found.get(&l.bill) {
                out.findings.push(refunded_finding(
                    &l.bill,
                    l.status,
                    l.refunded,
                    l.refunded_at,
                    ours,
                ));
            }
        }
    }
    Ok(())
}
