//! The SQLite scanner of the checks' fast path (`super`): the balance check and the two bill-keyed order/flow
//! checks (`order_paid_without_flow`, `flow_without_paid_order`).
//!
//! On SQLite these were a GROUP BY evaluating `CAST(ROUND(…))` per flow and
//! two joins probing a unique index once per row — three passes, most of the
//! checks' time (docs/BENCHMARKS.md). Here one sequential scan of `trans_flow`
//! aggregates every user's balance effect in integer cents and collects the
//! recharge flows' bills; one scan of `recharge_order` collects the orders'
//! bills; both are sorted and merged. Only the few offending rows are then
//! read in full, by rowid. Semantics are those of the SQL it replaces
//! (`checks::balances`, `checks::order_flow_pairs` with `uk_trans_no`):
//! NULLs never join, times compare as SQLite compares them (TEXT after
//! numbers), amounts are exact (TEXT, INTEGER, or a REAL that is an exact cent
//! amount — stricter than the SQL's ROUND, which let a bad value pass).

use super::{
    Flow, IN_PERIOD, IN_RANGE, IN_WINDOW, MatchJob, Matched, NEAR_EDGE, NO_BILL, Order, Paid,
    PerUser, Wanted, effect_signs, match_flows, pair_merge,
};
use crate::db::sqlite_read::{self as sr, SqliteReader};
use crate::db::{DbError, DbResult, DecodeError};
use crate::recon::checks::{self, Scope};
use crate::recon::finding::Finding;
use crate::recon::matching::{
    self, Detail, Key, Keys, MatchError, MatchOutput, Parsed, ReadStatements,
};
use rusqlite::types::ValueRef;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};

fn dec(table: &str) -> impl Fn(DecodeError) -> DbError + '_ {
    move |e| DbError::Decode {
        table: table.to_owned(),
        source: e,
    }
}

fn money(c: Option<i64>) -> Option<Decimal> {
    c.map(|c| Decimal::new(c, crate::money::SCALE))
}

/// How SQLite orders a column value against a TEXT bound: NULL is unknown,
/// numbers sort before text, BLOBs after, text by bytes (BINARY collation).
fn cmp_text(v: ValueRef<'_>, bound: &str) -> Option<Ordering> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(_) | ValueRef::Real(_) => Some(Ordering::Less),
        ValueRef::Text(b) => Some(b.cmp(bound.as_bytes())),
        ValueRef::Blob(_) => Some(Ordering::Greater),
    }
}

/// The period's bounds as the TEXT the generic path binds.
struct Bounds {
    from: Option<String>,
    to: Option<String>,
}

impl Bounds {
    fn new(scope: &Scope) -> Self {
        let text = |t| {
            let mut s = String::new();
            sr::push_time(&mut s, t, true);
            s
        };
        Self {
            from: scope.from.map(text),
            to: scope.to.map(text),
        }
    }

    /// `col >= from AND col < to`, as SQLite evaluates it.
    fn contains(&self, v: ValueRef<'_>) -> bool {
        let ge = self
            .from
            .as_ref()
            .is_none_or(|f| matches!(cmp_text(v, f), Some(Ordering::Greater | Ordering::Equal)));
        let lt = self
            .to
            .as_ref()
            .is_none_or(|t| cmp_text(v, t) == Some(Ordering::Less));
        ge && lt
    }
}

/// A bill as a compact key; `None` for NULL (it joins nothing).
fn bill_key(keys: &Keys, v: ValueRef<'_>, col: &str) -> Result<Option<Key>, DecodeError> {
    Ok(sr::opt_text(v, col)?.map(|s| keys.key(&s)))
}
/// Shared with the async side: cancellation in, progress out.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Set to stop (the run's cancel flag is copied in; an error on one thread sets it for the other).
    pub cancel: AtomicBool,
    /// `trans_flow` rows scanned.
    pub rows: AtomicU64,
    /// Statement lines read.
    pub lines: AtomicU64,
}

impl Control {
    fn stopped(&self) -> bool {
        self.cancel.load(AtomicOrdering::Relaxed)
    }
}

/// Runs the wanted checks and, with `job`, the statement matching: one
/// thread scans `trans_flow` (balances, the order checks' and the matching's
/// flows), another `recharge_order` and then the statements; both sides are
/// sorted and merged. Check findings come in the order of the generic path.
/// Errors are reported in the order the generic path meets them: the checks'
/// scans, then the statements, then a flow the matching cannot read.
pub(crate) fn run(
    path: &Path,
    scope: &Scope,
    want: Wanted,
    job: Option<&MatchJob>,
    ctl: &Control,
) -> Result<(Vec<Finding>, Option<Matched>), MatchError> {
    let keys = Keys::default();
    let bounds = Bounds::new(scope);
    let (findings, m) = shared_scan(path, &bounds, want, job, &keys, ctl)?;
    let m = m.map(|m| match m {
        Ok(out) => Matched::Done(out),
        Err(parsed) => Matched::Again(ReadStatements::new(keys, parsed)),
    });
    Ok((findings, m))
}

type Scanned = (Vec<Finding>, Option<Result<MatchOutput, Parsed>>);

fn shared_scan(
    path: &Path,
    bounds: &Bounds,
    want: Wanted,
    job: Option<&MatchJob>,
    keys: &Keys,
    ctl: &Control,
) -> Result<Scanned, MatchError> {
    std::thread::scope(|s| {
        let other = s.spawn(move || {
            let orders = want.orders.then(|| scan_orders(path, bounds, keys, ctl));
            if matches!(orders, Some(Err(_))) {
                ctl.cancel.store(true, AtomicOrdering::Relaxed);
                return (orders, None);
            }
            let parsed = job.map(|j| {
                let t0 = std::time::Instant::now();
                let r = matching::read_parsed(
                    &j.files,
                    (j.from, j.to, j.window),
                    Some(&ctl.cancel),
                    &mut |_, n| ctl.lines.store(n, AtomicOrdering::Relaxed),
                    keys,
                    &j.fees,
                );
                checks::stage_time("  statements", t0);
                r
            });
            (orders, parsed)
        });
        let here = flows_side(path, bounds, want, job, keys, ctl);
        if here.is_err() {
            ctl.cancel.store(true, AtomicOrdering::Relaxed);
        }
        let (orders, parsed) = other
            .join()
            .map_err(|_| DbError::State("the SQLite order scan stopped".into()))?;
        // The flow scan stopped because the order scan failed: that failure is the run's.
        let here = match (here, orders) {
            (Err(MatchError::Cancelled), Some(Err(e))) => return Err(e),
            (here, orders) => (here?, orders),
        };
        let ((r, mut findings, flows, null_bill_flows, match_err), orders) = here;
        if let Some(o) = orders {
            let (orders, paid_null) = o?;
            let t0 = std::time::Instant::now();
            order_flow_pairs(
                &r,
                &flows,
                orders,
                paid_null,
                null_bill_flows,
                &mut findings,
            )?;
            checks::stage_time("  order/flow merge", t0);
        }
        if job.is_none() {
            return Ok((findings, None));
        }
        let mut parsed =
            parsed.ok_or_else(|| DbError::State("the statements were not read".into()))??;
        if let Some(e) = match_err {
            return Err(e);
        }
        let t0 = std::time::Instant::now();
        super::set_aside_unrelated(&mut parsed, &flows);
        let flow_dec = dec("trans_flow");
        let mut detail = |rowid: i64| -> Result<Detail, MatchError> {
            let mut d = None;
            r.for_each(
                "SELECT user_id, create_time FROM trans_flow WHERE rowid = ?",
                &[rowid.into()],
                |row| -> Result<bool, MatchError> {
                    let v = |i, c| sr::value(row, i, c).map_err(&flow_dec);
                    let user = sr::opt_i64(v(0, "user_id")?, "user_id")
                        .map_err(&flow_dec)?
                        .ok_or_else(|| flow_dec(matching::null("user_id")))?;
                    let at = sr::opt_time(v(1, "create_time")?, "create_time")
                        .map_err(&flow_dec)?
                        .ok_or_else(|| flow_dec(matching::null("create_time")))?;
                    d = Some((user, at, at));
                    Ok(false)
                },
            )?;
            d.ok_or_else(|| {
                MatchError::Db(DbError::State(format!(
                    "flow {rowid} of trans_flow disappeared during the run"
                )))
            })
        };
        let m = match_flows(keys, parsed, &flows, &|| ctl.stopped(), &mut detail)?;
        checks::stage_time("  matching merge", t0);
        Ok((findings, Some(m)))
    })
}

type FlowsSide = (
    SqliteReader,
    Vec<Finding>,
    Vec<Flow>,
    Vec<i64>,
    Option<MatchError>,
);

/// The `trans_flow` thread: the scan, then the balances, then the sort.
fn flows_side(
    path: &Path,
    bounds: &Bounds,
    want: Wanted,
    job: Option<&MatchJob>,
    keys: &Keys,
    ctl: &Control,
) -> Result<FlowsSide, MatchError> {
    let r = SqliteReader::open(path)?;
    let effects = effect_signs();
    // `trans_type = 1`, as the generic SQL has it.
    let recharge = 1;
    let flow_dec = dec("trans_flow");
    // The matching's SQL bounds, `create_time >= from - window AND < to + window`.
    let window = job.map(|j| {
        let text = |t| {
            let mut s = String::new();
            sr::push_time(&mut s, t, true);
            Some(s)
        };
        Bounds {
            from: text(j.from - j.window),
            to: text(j.to + j.window),
        }
    });

    // One pass over trans_flow.
    let t0 = std::time::Instant::now();
    let mut per_user = PerUser::default();
    let mut flows: Vec<Flow> = Vec::new();
    let mut null_bill_flows: Vec<i64> = Vec::new();
    let mut match_err: Option<MatchError> = None;
    let mut n: u64 = 0;
    r.for_each(
        "SELECT user_id, trans_type, trans_amount, trans_no, create_time, rowid \
         FROM trans_flow NOT INDEXED WHERE is_deleted = 0",
        &[],
        |row| -> Result<bool, MatchError> {
            n += 1;
            if n.is_multiple_of(65_536) {
                ctl.rows.store(n, AtomicOrdering::Relaxed);
                if ctl.stopped() {
                    return Err(MatchError::Cancelled);
                }
            }
            // trans_amount once decoded for the balances (the matching reads it the same way).
            let mut known_cents = None;
            let tt = match sr::value(row, 1, "trans_type").map_err(&flow_dec)? {
                ValueRef::Integer(i) => Some(i),
                _ => None,
            };
            if want.balances
                && let ValueRef::Integer(uid) = sr::value(row, 0, "user_id").map_err(&flow_dec)?
            {
                let (sa, sf) = tt
                    .and_then(|c| effects.iter().find(|e| e.0 == c))
                    .map_or((0, 0), |e| (e.1, e.2));
                let cents = if sa != 0 || sf != 0 {
                    let v = sr::value(row, 2, "trans_amount").map_err(&flow_dec)?;
                    let c = sr::opt_cents(v, "trans_amount").map_err(&flow_dec)?;
                    known_cents = Some(c);
                    c.unwrap_or(0)
                } else {
                    0
                };
                per_user.add(uid, (sa, sf), cents)?;
            }
            if tt != Some(recharge) {
                return Ok(true);
            }
            let time = sr::value(row, 4, "create_time").map_err(&flow_dec)?;
            let in_range = want.orders && bounds.contains(time);
            let in_window = window.as_ref().is_some_and(|w| w.contains(time));
            if !want.orders && !in_window {
                return Ok(true);
            }
            let rowid = sr::opt_i64(sr::value(row, 5, "rowid").map_err(&flow_dec)?, "rowid")
                .map_err(&flow_dec)?
                .unwrap_or_default();
            let v = sr::value(row, 3, "trans_no").map_err(&flow_dec)?;
            let key = match bill_key(keys, v, "trans_no") {
                Ok(k) => k,
                // The order checks read the bill too: theirs is the error.
                Err(e) if want.orders => return Err(flow_dec(e).into()),
                Err(e) => {
                    match_err.get_or_insert(flow_dec(e).into());
                    return Ok(true);
                }
            };
            let mut flags = if in_range { IN_RANGE } else { 0 };
            let mut cents = 0;
            if in_window && match_err.is_none() {
                let j = job.ok_or_else(|| DbError::State("no matching job".into()))?;
                match matched_flow(row, j, known_cents) {
                    Ok((c, f)) => {
                        cents = c;
                        flags |= IN_WINDOW | f;
                    }
                    Err(e) => match_err = Some(flow_dec(e).into()),
                }
            }
            match key {
                Some(key) => flows.push(Flow {
                    key,
                    cents,
                    rowid,
                    flags,
                }),
                None => {
                    if in_range {
                        null_bill_flows.push(rowid);
                    }
                    if flags & IN_WINDOW != 0 {
                        flows.push(Flow {
                            key: keys.key(""),
                            cents,
                            rowid,
                            flags: (flags & !IN_RANGE) | NO_BILL,
                        });
                    }
                }
            }
            Ok(true)
        },
    )?;
    ctl.rows.store(n, AtomicOrdering::Relaxed);
    checks::stage_time("  trans_flow scan", t0);

    let t0 = std::time::Instant::now();
    let mut findings = Vec::new();
    if want.balances {
        balances(&r, &per_user, &mut findings)?;
    }
    drop(per_user);
    checks::stage_time("  balances", t0);
    let t0 = std::time::Instant::now();
    flows.sort_unstable_by_key(|f| f.key);
    checks::stage_time("  flows sort", t0);
    Ok((r, findings, flows, null_bill_flows, match_err))
}

/// A flow in the matching's window, read as the matching's SQL read it:
/// (cents, period flags). User and time must be there (they are read again
/// for a finding).
fn matched_flow(
    row: &rusqlite::Row<'_>,
    j: &MatchJob,
    known_cents: Option<Option<i64>>,
) -> Result<(i64, u8), DecodeError> {
    sr::opt_i64(sr::value(row, 0, "user_id")?, "user_id")?
        .ok_or_else(|| matching::null("user_id"))?;
    let cents = match known_cents {
        Some(c) => c,
        None => sr::opt_cents(sr::value(row, 2, "trans_amount")?, "trans_amount")?,
    }
    .unwrap_or(0);
    let at = sr::opt_time(sr::value(row, 4, "create_time")?, "create_time")?
        .ok_or_else(|| matching::null("create_time"))?;
    let mut flags = 0;
    if at >= j.from && at < j.to {
        flags |= IN_PERIOD;
    }
    if at < j.from + j.window || at >= j.to - j.window {
        flags |= NEAR_EDGE;
    }
    Ok((cents, flags))
}

/// The `recharge_order` scan, on its own connection: the orders sorted by
/// bill, and the paid ones in the period whose bill is NULL.
fn scan_orders(
    path: &Path,
    bounds: &Bounds,
    keys: &Keys,
    ctl: &Control,
) -> Result<(Vec<Order>, Vec<i64>), MatchError> {
    let r = SqliteReader::open(path)?;
    let order_dec = dec("recharge_order");
    let mut orders: Vec<Order> = Vec::new();
    let mut paid_without_flow: Vec<i64> = Vec::new();
    let t0 = std::time::Instant::now();
    let mut n: u64 = 0;
    r.for_each(
        "SELECT agent_bill_no, status, create_time, rowid FROM recharge_order NOT INDEXED",
        &[],
        |row| -> Result<bool, MatchError> {
            n += 1;
            if n.is_multiple_of(65_536) && ctl.stopped() {
                return Err(MatchError::Cancelled);
            }
            let paid = match sr::value(row, 1, "status").map_err(&order_dec)? {
                ValueRef::Null => Paid::Unknown,
                ValueRef::Integer(2) => Paid::Yes,
                _ => Paid::No,
            };
            let in_range = bounds.contains(sr::value(row, 2, "create_time").map_err(&order_dec)?);
            let rowid = sr::opt_i64(sr::value(row, 3, "rowid").map_err(&order_dec)?, "rowid")
                .map_err(&order_dec)?
                .unwrap_or_default();
            let v = sr::value(row, 0, "agent_bill_no").map_err(&order_dec)?;
            match bill_key(keys, v, "agent_bill_no").map_err(&order_dec)? {
                Some(key) => orders.push(Order {
                    key,
                    rowid,
                    paid,
                    in_range,
                }),
                // A NULL bill has no flow: NOT EXISTS holds.
                None if paid == Paid::Yes && in_range => paid_without_flow.push(rowid),
                None => {}
            }
            Ok(true)
        },
    )?;
    checks::stage_time("  recharge_order scan", t0);
    let t0 = std::time::Instant::now();
    orders.sort_unstable_by_key(|o| o.key);
    checks::stage_time("  orders sort", t0);
    Ok((orders, paid_without_flow))
}

fn order_flow_pairs(
    r: &SqliteReader,
    flows: &[Flow],
    orders: Vec<Order>,
    paid_without_flow: Vec<i64>,
    null_bill_flows: Vec<i64>,
    findings: &mut Vec<Finding>,
) -> DbResult<()> {
    let order_dec = dec("recharge_order");
    let flow_dec = dec("trans_flow");
    let (paid_without_flow, unpaid) =
        pair_merge(flows, &orders, paid_without_flow, null_bill_flows);
    drop(orders);

    for rowid in paid_without_flow {
        r.for_each(
            "SELECT agent_bill_no, user_id, charge_amt, create_time, update_time FROM recharge_order WHERE rowid = ?",
            &[rowid.into()],
            |row| -> DbResult<bool> {
                let v = |i, c| sr::value(row, i, c).map_err(&order_dec);
                let bill = sr::opt_text(v(0, "agent_bill_no")?, "agent_bill_no")
                    .map_err(&order_dec)?
                    .unwrap_or_default();
                findings.push(checks::paid_without_flow_finding(
                    &bill,
                    sr::opt_i64(v(1, "user_id")?, "user_id").map_err(&order_dec)?,
                    money(sr::opt_cents(v(2, "charge_amt")?, "charge_amt").map_err(&order_dec)?),
                    sr::opt_time(v(3, "create_time")?, "create_time").map_err(&order_dec)?,
                    sr::opt_time(v(4, "update_time")?, "update_time").map_err(&order_dec)?,
                ));
                Ok(false)
            },
        )?;
    }
    for (flow, order) in unpaid {
        let mut status = None;
        if let Some(o) = order {
            r.for_each(
                "SELECT status FROM recharge_order WHERE rowid = ?",
                &[o.into()],
                |row| -> DbResult<bool> {
                    status =
                        sr::opt_i64(sr::value(row, 0, "status").map_err(&order_dec)?, "status")
                            .map_err(&order_dec)?;
                    Ok(false)
                },
            )?;
        }
        r.for_each(
            "SELECT trans_no, user_id, trans_amount, create_time FROM trans_flow WHERE rowid = ?",
            &[flow.into()],
            |row| -> DbResult<bool> {
                let v = |i, c| sr::value(row, i, c).map_err(&flow_dec);
                let bill = sr::opt_text(v(0, "trans_no")?, "trans_no")
                    .map_err(&flow_dec)?
                    .unwrap_or_default();
                let at = sr::opt_time(v(3, "create_time")?, "create_time").map_err(&flow_dec)?;
                findings.push(checks::flow_without_paid_order_finding(
                    &bill,
                    sr::opt_i64(v(1, "user_id")?, "user_id").map_err(&flow_dec)?,
                    money(sr::opt_cents(v(2, "trans_amount")?, "trans_amount").map_err(&flow_dec)?),
                    (at, at),
                    order.is_some(),
                    status,
                ));
                Ok(false)
            },
        )?;
    }
    Ok(())
}

fn balances(r: &SqliteReader, per_user: &PerUser, findings: &mut Vec<Finding>) -> DbResult<()> {
    let acc_dec = dec("user_account");
    let mut off: Vec<(i64, (i64, i64), [i64; 3])> = Vec::new();
    r.for_each(
        "SELECT user_id, amount, freeze_amount FROM user_account WHERE is_deleted = 0",
        &[],
        |row| -> DbResult<bool> {
            let uid = sr::opt_i64(sr::value(row, 0, "user_id").map_err(&acc_dec)?, "user_id")
                .map_err(&acc_dec)?
                .ok_or_else(|| {
                    acc_dec(DecodeError {
                        column: "user_id".into(),
                        reason: "is NULL".into(),
                    })
                })?;
            let a = sr::opt_cents(sr::value(row, 1, "amount").map_err(&acc_dec)?, "amount")
                .map_err(&acc_dec)?;
            let f = sr::opt_cents(
                sr::value(row, 2, "freeze_amount").map_err(&acc_dec)?,
                "freeze_amount",
            )
            .map_err(&acc_dec)?;
            let e = per_user.get(uid);
            // A NULL stored amount compares as unknown, as `<>` does in SQL.
            if a.is_some_and(|a| a != e[0]) || f.is_some_and(|f| f != e[1]) {
                off.push((uid, (a.unwrap_or(0), f.unwrap_or(0)), e));
            }
            Ok(true)
        },
    )?;
    let flow_dec = dec("trans_flow");
    for (uid, (a, f), e) in off {
        // The latest flow, only for the accounts that are off (index on user_id).
        let mut last = None;
        if e[2] > 0 {
            r.for_each(
                "SELECT MAX(create_time) FROM trans_flow WHERE user_id = ? AND is_deleted = 0",
                &[uid.into()],
                |row| -> DbResult<bool> {
                    last = sr::opt_time(
                        sr::value(row, 0, "last_time").map_err(&flow_dec)?,
                        "last_time",
                    )
                    .map_err(&flow_dec)?;
                    Ok(false)
                },
            )?;
        }
        let d = |c| Decimal::new(c, crate::money::SCALE);
        findings.push(checks::balance_finding(
            uid,
            (d(a), d(f)),
            (d(e[0]), d(e[1])),
            e[2],
            last,
        ));
    }
    Ok(())
}
