//! The merge engine of the checks' fast paths: one scanner per backend
//! (`sqlite`, `postgres`, `mysql`) reads `trans_flow`, `recharge_order` and
//! `user_account` once each, sequentially, into the compact rows of this
//! module; the balance sums, the bill-keyed order/flow merge and the
//! statement matching merge are then the same code for every backend. The
//! SQL checks (`checks`) remain for the layouts a scan cannot serve (no
//! unique `trans_no`, column types a scanner does not read).
//!
//! `server` drives the two server scanners (PostgreSQL's binary COPY,
//! MySQL's streamed result sets): two connections at once, the statements
//! parsed meanwhile, only the offending rows read again by `id`.

pub(super) mod mysql;
pub(super) mod postgres;
pub(super) mod server;
pub(super) mod sqlite;

use super::matching::{
    self, Detail, FlowSide, Key, Keys, MatchError, MatchOutput, Parsed, ReadStatements,
    StatementInput, StmtAgg,
};
use crate::db::{DbError, DbResult};
use crate::model::TransType;
use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Which checks to run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wanted {
    /// `balance_mismatch`.
    pub balances: bool,
    /// The bill-keyed order/flow checks (only with `uk_trans_no`).
    pub orders: bool,
}

/// Per-user sums `[Δamount, Δfreeze, flows]` in cents. User ids are usually
/// small dense integers: a vector indexed by id costs one memory access per
/// flow where a hash map cost two cache misses (the hot spot at 10M flows);
/// ids outside `0..DENSE_MAX` go to a map.
#[derive(Default)]
pub(super) struct PerUser {
    dense: Vec<[i64; 3]>,
    sparse: HashMap<i64, [i64; 3]>,
}

/// 4M ids: at most 96 MB of dense sums.
const DENSE_MAX: i64 = 1 << 22;

impl PerUser {
    fn entry(&mut self, uid: i64) -> &mut [i64; 3] {
        match usize::try_from(uid) {
            Ok(i) if uid < DENSE_MAX => {
                if i >= self.dense.len() {
                    let want = (i + 1).max(self.dense.len() * 2).min(DENSE_MAX as usize);
                    self.dense.resize(want, [0; 3]);
                }
                &mut self.dense[i]
            }
            _ => self.sparse.entry(uid).or_insert([0; 3]),
        }
    }

    /// Adds one flow of `uid`: `cents` times its signs on (amount, freeze).
    pub(super) fn add(&mut self, uid: i64, (sa, sf): (i64, i64), cents: i64) -> DbResult<()> {
        let agg = self.entry(uid);
        let over = || {
            DbError::State(format!(
                "the flows of user {uid} overflow a 64-bit sum of cents"
            ))
        };
        agg[0] = agg[0].checked_add(sa * cents).ok_or_else(over)?;
        agg[1] = agg[1].checked_add(sf * cents).ok_or_else(over)?;
        agg[2] += 1;
        Ok(())
    }

    pub(super) fn get(&self, uid: i64) -> [i64; 3] {
        let d = usize::try_from(uid).ok().and_then(|i| self.dense.get(i));
        d.or_else(|| self.sparse.get(&uid))
            .copied()
            .unwrap_or([0; 3])
    }
}

/// The balance effect of each type code: (code, ±1 or 0 on the amount, on
/// the freeze), from `TransType::effect` (the SQL's `effect_sum`).
pub(super) fn effect_signs() -> Vec<(i64, i64, i64)> {
    let sign = |d: Decimal| -> i64 {
        match d.cmp(&Decimal::ZERO) {
            Ordering::Greater => 1,
            Ordering::Less => -1,
            Ordering::Equal => 0,
        }
    };
    TransType::ALL
        .iter()
        .map(|t| {
            let e = t.effect(Decimal::ONE);
            (t.code(), sign(e.amount), sign(e.freeze))
        })
        .collect()
}

/// The statement matching of a run, done from the checks' scan of
/// `trans_flow` (with a unique `trans_no`), so the flows are read once.
#[derive(Debug, Clone)]
pub(super) struct MatchJob {
    /// Statement files.
    pub files: Vec<StatementInput>,
    /// Period start.
    pub from: NaiveDateTime,
    /// Period end (exclusive).
    pub to: NaiveDateTime,
    /// Cross-day window.
    pub window: Duration,
    /// The contracted fee rates (the fee check runs as the bills are read).
    pub fees: super::fees::FeeRates,
}

/// What became of the matching.
pub(super) enum Matched {
    /// Done, from the shared scan.
    Done(MatchOutput),
    /// A bill has several recharge flows in the window (a `trans_no` stored
    /// as text and as a number): the statements are read, the caller matches
    /// them the general way.
    Again(ReadStatements),
}

/// One recharge flow (41 bytes): what the order checks and the matching need;
/// the rest is read again by rowid for the few flows that make a finding.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed)]
pub(super) struct Flow {
    pub key: Key,
    pub cents: i64,
    pub rowid: i64,
    pub flags: u8,
}

/// `create_time` in the checks' period (as SQLite compares text).
pub(super) const IN_RANGE: u8 = 1;
/// Matched: `create_time` in the period widened by the window (as SQLite compares text).
pub(super) const IN_WINDOW: u8 = 2;
/// Matched: the time in the period.
pub(super) const IN_PERIOD: u8 = 4;
/// Matched: the time within the window of a boundary.
pub(super) const NEAR_EDGE: u8 = 8;
/// `trans_no` is NULL: joins no order (and is matched as the empty bill, as the SQL read it).
pub(super) const NO_BILL: u8 = 16;

/// One order (33 bytes).
#[derive(Debug, Clone, Copy)]
#[repr(C, packed)]
pub(super) struct Order {
    pub key: Key,
    pub rowid: i64,
    pub paid: Paid,
    pub in_range: bool,
}

/// The flows of the window (their rows) whose bill will not be settled by the
/// merge's quick path (one paid line, one flow, same cents): those for
/// which [`match_flows`] may ask the detail. Rows are read in bulk before.
pub(super) fn detail_candidates(parsed: &Parsed, flows: &[Flow]) -> Vec<i64> {
    let stmt = &parsed.stmt;
    let mut out = Vec::new();
    // No statement covers the period: nothing is matched, no detail is asked.
    if parsed.out.coverage.is_empty() {
        return out;
    }
    let mut i = 0;
    for f in flows.iter().filter(|f| f.flags & IN_WINDOW != 0) {
        while i < stmt.len() && stmt[i].key() < f.key {
            i += 1;
        }
        let si = i;
        let mut e = i;
        while e < stmt.len() && stmt[e].key() == f.key {
            e += 1;
        }
        let quick = matches!(&stmt[si..e], [one] if one.plain_success_cents() == Some(f.cents));
        if !quick {
            out.push(f.rowid);
        }
    }
    out
}

/// The matching merge: the statements (already through
/// [`set_aside_unrelated`]) against the flows in the window (sorted by key). `detail` gives a flow's (user, time, time) by its row, for a
/// finding; `stopped` says when to give up. `Err(parsed)` hands the
/// statements back when a bill has several flows.
pub(super) fn match_flows(
    keys: &Keys,
    parsed: Parsed,
    flows: &[Flow],
    stopped: &dyn Fn() -> bool,
    detail_of: &mut dyn FnMut(i64) -> Result<Detail, MatchError>,
) -> Result<Result<MatchOutput, Parsed>, MatchError> {
    let in_window = |f: &&Flow| f.flags & IN_WINDOW != 0;
    let mut last: Option<Key> = None;
    for f in flows.iter().filter(in_window) {
        if last == Some(f.key) {
            return Ok(Err(parsed));
        }
        last = Some(f.key);
    }
    let Parsed { mut out, stmt, big } = parsed;
    // The in-period flows' sum of the common keys, added to the output once
    // at the end (a Decimal addition per flow cost a fifth of the merge).
    let mut period_cents: i128 = 0;
    // The flows in the window, in key order, without a copy.
    let mut win = flows.iter().filter(in_window).peekable();
    let (mut i, mut k) = (0, 0usize);
    loop {
        let key = match (stmt.get(i), win.peek()) {
            (Some(s), Some(f)) => s.key().min(f.key),
            (Some(s), None) => s.key(),
            (None, Some(f)) => f.key,
            (None, None) => break,
        };
        let si = i;
        while i < stmt.len() && stmt[i].key() == key {
            i += 1;
        }
        let f = win.next_if(|f| f.key == key).copied();
        if f.is_some() {
            k += 1;
        }
        // The common key — one paid statement line, one flow, same amount —
        // counts and finds nothing: no fold, no text.
        if let (Some(f), [one]) = (f, &stmt[si..i])
            && one.plain_success_cents() == Some(f.cents)
        {
            out.statement_orders += 1;
            out.payment_orders += 1;
            if f.flags & IN_PERIOD != 0 {
                out.flows_in_period += 1;
                period_cents += i128::from(f.cents);
            }
            out.matched += 1;
            continue;
        }
        let s = (i > si).then(|| StmtAgg::fold(&stmt[si..i], &big));
        let side = f.map(|f| FlowSide {
            count: 1,
            amount: Decimal::new(f.cents, crate::money::SCALE),
            in_period: f.flags & IN_PERIOD != 0,
            near_edge: f.flags & NEAR_EDGE != 0,
        });
        let mut detail = || detail_of(f.map(|f| f.rowid).unwrap_or_default());
        let bill = keys.text(&key);
        matching::compare(&bill, s.as_ref(), side.as_ref(), &mut detail, &mut out)?;
        if (i + k).is_multiple_of(65_536) && stopped() {
            return Err(MatchError::Cancelled);
        }
    }
    let sum = Decimal::try_from_i128_with_scale(period_cents, crate::money::SCALE)
        .map_err(|_| DbError::State("the period's flows overflow a decimal sum".into()))?;
    out.flows_in_period_amount += sum;
    Ok(Ok(out))
}

/// Sets the statements aside as another merchant's when they share no bill
/// with the flows in the window ([`matching::refuse_if_unrelated`]); before
/// [`match_flows`] and before any flow's detail is read for them.
pub(super) fn set_aside_unrelated(parsed: &mut Parsed, flows: &[Flow]) {
    matching::refuse_if_unrelated(
        &mut parsed.out,
        &mut parsed.stmt,
        flows
            .iter()
            .filter(|f| f.flags & IN_WINDOW != 0)
            .map(|f| (f.key, f.flags & IN_PERIOD != 0)),
    );
}

/// Status of an order as `status = 2` / `status <> 2` evaluate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Paid {
    Yes,
    No,
    /// NULL: neither `= 2` nor `<> 2`.
    Unknown,
}

/// The bill-keyed checks' merge of the sorted flows and orders: the paid
/// orders in the period without a flow (added to `paid_without_flow`), and
/// each flow in the period without a paid order as (flow row, the unpaid
/// order's row when there is one). Rows are SQLite rowids or the servers' ids.
pub(super) fn pair_merge(
    flows: &[Flow],
    orders: &[Order],
    mut paid_without_flow: Vec<i64>,
    null_bill_flows: Vec<i64>,
) -> (Vec<i64>, Vec<(i64, Option<i64>)>) {
    // (flow rowid, Some(order rowid) when the order exists but is not paid)
    let mut unpaid: Vec<(i64, Option<i64>)> =
        null_bill_flows.into_iter().map(|f| (f, None)).collect();
    let (mut i, mut j) = (0, 0);
    while i < flows.len() || j < orders.len() {
        let key = match (flows.get(i), orders.get(j)) {
            (Some(f), Some(o)) => f.key.min(o.key),
            (Some(f), None) => f.key,
            (None, Some(o)) => o.key,
            (None, None) => break,
        };
        let fi = i;
        while i < flows.len() && flows[i].key == key {
            i += 1;
        }
        let oj = j;
        while j < orders.len() && orders[j].key == key {
            j += 1;
        }
        let (fs, os) = (&flows[fi..i], &orders[oj..j]);
        // A NULL bill (matched as the empty one) joins no order.
        if fs.iter().all(|f| f.flags & NO_BILL != 0) {
            paid_without_flow.extend(
                os.iter()
                    .filter(|o| o.paid == Paid::Yes && o.in_range)
                    .map(|o| o.rowid),
            );
        }
        for f in fs.iter().filter(|f| f.flags & IN_RANGE != 0) {
            if os.is_empty() {
                unpaid.push((f.rowid, None));
            }
            unpaid.extend(
                os.iter()
                    .filter(|o| o.paid == Paid::No)
                    .map(|o| (f.rowid, Some(o.rowid))),
            );
        }
    }
    (paid_without_flow, unpaid)
}
