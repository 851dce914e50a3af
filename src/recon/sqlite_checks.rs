//! SQLite fast path of the balance check and the two bill-keyed order/flow
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

use super::checks::{self, Scope};
use super::finding::Finding;
use super::matching::{Key, Keys};
use crate::db::sqlite_read::{self as sr, SqliteReader};
use crate::db::{DbError, DbResult, DecodeError};
use crate::model::TransType;
use rusqlite::types::ValueRef;
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

/// Per-user sums `[Δamount, Δfreeze, flows]` in cents. User ids are usually
/// small dense integers: a vector indexed by id costs one memory access per
/// flow where a hash map cost two cache misses (the hot spot at 10M flows);
/// ids outside `0..DENSE_MAX` go to a map.
#[derive(Default)]
struct PerUser {
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

    fn get(&self, uid: i64) -> [i64; 3] {
        let d = usize::try_from(uid).ok().and_then(|i| self.dense.get(i));
        d.or_else(|| self.sparse.get(&uid))
            .copied()
            .unwrap_or([0; 3])
    }
}

/// A bill as a compact key; `None` for NULL (it joins nothing).
fn bill_key(keys: &mut Keys, v: ValueRef<'_>, col: &str) -> Result<Option<Key>, DecodeError> {
    Ok(sr::opt_text(v, col)?.map(|s| keys.key(&s)))
}

/// Runs the wanted checks on `r`; the findings come in the order of the generic path.
pub(super) fn run(r: &SqliteReader, scope: &Scope, want: Wanted) -> DbResult<Vec<Finding>> {
    // Balance effect of each type code: +1, -1 or 0 on (amount, freeze), from TransType::effect.
    let sign = |d: Decimal| -> i64 {
        match d.cmp(&Decimal::ZERO) {
            Ordering::Greater => 1,
            Ordering::Less => -1,
            Ordering::Equal => 0,
        }
    };
    let effects: Vec<(i64, i64, i64)> = TransType::ALL
        .iter()
        .map(|t| {
            let e = t.effect(Decimal::ONE);
            (t.code(), sign(e.amount), sign(e.freeze))
        })
        .collect();
    // `trans_type = 1`, as the generic SQL has it.
    let recharge = 1;
    let bounds = Bounds::new(scope);
    let flow_dec = dec("trans_flow");

    // One pass over trans_flow.
    let mut per_user = PerUser::default();
    let mut flows: Vec<(Key, bool, i64)> = Vec::new();
    let mut null_bill_flows: Vec<i64> = Vec::new();
    let mut keys = Keys::default();
    r.for_each(
        "SELECT user_id, trans_type, trans_amount, trans_no, create_time, rowid \
         FROM trans_flow NOT INDEXED WHERE is_deleted = 0",
        &[],
        |row| -> DbResult<bool> {
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
                    sr::opt_cents(v, "trans_amount")
                        .map_err(&flow_dec)?
                        .unwrap_or(0)
                } else {
                    0
                };
                let agg = per_user.entry(uid);
                let over = || {
                    DbError::State(format!(
                        "the flows of user {uid} overflow a 64-bit sum of cents"
                    ))
                };
                agg[0] = agg[0].checked_add(sa * cents).ok_or_else(over)?;
                agg[1] = agg[1].checked_add(sf * cents).ok_or_else(over)?;
                agg[2] += 1;
            }
            if want.orders && tt == Some(recharge) {
                let in_range =
                    bounds.contains(sr::value(row, 4, "create_time").map_err(&flow_dec)?);
                let rowid = sr::opt_i64(sr::value(row, 5, "rowid").map_err(&flow_dec)?, "rowid")
                    .map_err(&flow_dec)?
                    .unwrap_or_default();
                let v = sr::value(row, 3, "trans_no").map_err(&flow_dec)?;
                match bill_key(&mut keys, v, "trans_no").map_err(&flow_dec)? {
                    Some(k) => flows.push((k, in_range, rowid)),
                    None if in_range => null_bill_flows.push(rowid),
                    None => {}
                }
            }
            Ok(true)
        },
    )?;

    let mut findings = Vec::new();
    if want.balances {
        balances(r, &per_user, &mut findings)?;
    }
    drop(per_user);
    if want.orders {
        order_flow_pairs(r, &bounds, &mut keys, flows, null_bill_flows, &mut findings)?;
    }
    Ok(findings)
}

/// Status of an order as `status = 2` / `status <> 2` evaluate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paid {
    Yes,
    No,
    /// NULL: neither `= 2` nor `<> 2`.
    Unknown,
}

fn order_flow_pairs(
    r: &SqliteReader,
    bounds: &Bounds,
    keys: &mut Keys,
    mut flows: Vec<(Key, bool, i64)>,
    null_bill_flows: Vec<i64>,
    findings: &mut Vec<Finding>,
) -> DbResult<()> {
    let order_dec = dec("recharge_order");
    let flow_dec = dec("trans_flow");
    let mut orders: Vec<(Key, Paid, bool, i64)> = Vec::new();
    let mut paid_without_flow: Vec<i64> = Vec::new();
    r.for_each(
        "SELECT agent_bill_no, status, create_time, rowid FROM recharge_order NOT INDEXED",
        &[],
        |row| -> DbResult<bool> {
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
                Some(k) => orders.push((k, paid, in_range, rowid)),
                // A NULL bill has no flow: NOT EXISTS holds.
                None if paid == Paid::Yes && in_range => paid_without_flow.push(rowid),
                None => {}
            }
            Ok(true)
        },
    )?;
    flows.sort_unstable_by_key(|f| f.0);
    orders.sort_unstable_by_key(|o| o.0);

    // (flow rowid, Some(order rowid) when the order exists but is not paid)
    let mut unpaid: Vec<(i64, Option<i64>)> =
        null_bill_flows.into_iter().map(|f| (f, None)).collect();
    let (mut i, mut j) = (0, 0);
    while i < flows.len() || j < orders.len() {
        let key = match (flows.get(i), orders.get(j)) {
            (Some(f), Some(o)) => f.0.min(o.0),
            (Some(f), None) => f.0,
            (None, Some(o)) => o.0,
            (None, None) => break,
        };
        let fi = i;
        while i < flows.len() && flows[i].0 == key {
            i += 1;
        }
        let oj = j;
        while j < orders.len() && orders[j].0 == key {
            j += 1;
        }
        let (fs, os) = (&flows[fi..i], &orders[oj..j]);
        if fs.is_empty() {
            paid_without_flow.extend(os.iter().filter(|o| o.1 == Paid::Yes && o.2).map(|o| o.3));
        }
        for f in fs.iter().filter(|f| f.1) {
            if os.is_empty() {
                unpaid.push((f.2, None));
            }
            unpaid.extend(
                os.iter()
                    .filter(|o| o.1 == Paid::No)
                    .map(|o| (f.2, Some(o.3))),
            );
        }
    }
    drop(flows);
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
