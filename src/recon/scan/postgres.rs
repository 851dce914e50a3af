//! The PostgreSQL scanner of the checks' fast path (`super::server`).
//!
//! One `COPY` of `trans_flow` and one of `recharge_order`, on two connections
//! at once, in the binary format (`db::pg_copy::CopyBinary`: cheaper for the
//! server to write and for payrecon to read than text). The period tests
//! (`create_time` in range, in the matching's window) and `status = 2` give
//! what the SQL they replace gives, NULLs included: on a plain `timestamp`
//! payrecon evaluates them on the microseconds the server sends ([`PeriodTests`];
//! asking the server for the booleans cost it 35% more CPU), on any other
//! time type the server evaluates them.
//!
//! It runs only when the columns have types whose wire form it reads
//! (integers, text, NUMERIC with at most two decimals) and `id` is the primary
//! key of both tables; otherwise the SQL runs.

use super::server::{
    FlowFields, FlowsScan, OrdersScan, PeriodTests, flow_err, null_of, reservation,
};
use super::{MatchJob, Paid, Wanted};
use crate::db::pg_copy::{self, BinRow, ColumnType, CopyBinary};
use crate::db::{Db, DbError};
use crate::recon::checks::Scope;
use crate::recon::matching::MatchError;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// What [`fits`] learnt of the tables' time columns.
#[derive(Debug, Clone, Copy)]
pub(in crate::recon) struct Fit {
    /// The order checks run (the flows' range test is wanted).
    orders: bool,
    /// `trans_flow.create_time` is a plain `timestamp` (see [`PeriodTests`]).
    flows_plain_time: bool,
    /// The same of `recharge_order.create_time` (`false` without the order checks).
    orders_plain_time: bool,
}

/// Whether every column the fast path reads has a type its reader knows, and
/// `id` is the primary key where rows are read again: `Some` when so.
pub(in crate::recon) async fn fits(db: &Db, want: Wanted) -> Result<Option<Fit>, DbError> {
    let cents = |t: &ColumnType| {
        t.is_integer() || (t.data_type == "numeric" && t.scale.is_some_and(|s| s <= 2))
    };
    let has = |types: &HashMap<String, ColumnType>, c: &str, ok: &dyn Fn(&ColumnType) -> bool| {
        types.get(c).is_some_and(ok)
    };
    let flow = pg_copy::column_types(db, "trans_flow").await?;
    let int = |t: &ColumnType| t.is_integer();
    let text = |t: &ColumnType| t.is_text();
    let any = |_: &ColumnType| true;
    let plain = |t: &ColumnType| t.data_type == "timestamp without time zone";
    let mut fit = Fit {
        orders: want.orders,
        flows_plain_time: has(&flow, "create_time", &plain),
        orders_plain_time: false,
    };
    let mut ok = has(&flow, "user_id", &int)
        && has(&flow, "trans_type", &int)
        && has(&flow, "trans_amount", &cents)
        && has(&flow, "is_deleted", &int)
        && has(&flow, "create_time", &any);
    if want.balances {
        let acc = pg_copy::column_types(db, "user_account").await?;
        ok &= has(&acc, "user_id", &int)
            && has(&acc, "amount", &cents)
            && has(&acc, "freeze_amount", &cents)
            && has(&acc, "is_deleted", &int);
    }
    if want.orders {
        let ord = pg_copy::column_types(db, "recharge_order").await?;
        ok &= has(&flow, "trans_no", &text)
            && has(&ord, "agent_bill_no", &text)
            && has(&ord, "status", &int)
            && has(&ord, "create_time", &any)
            && primary_id(db, "trans_flow").await?
            && primary_id(db, "recharge_order").await?;
        fit.orders_plain_time = has(&ord, "create_time", &plain);
    }
    Ok(ok.then_some(fit))
}

/// Whether `table`'s primary key is its integer column `id` alone.
async fn primary_id(db: &Db, table: &str) -> Result<bool, DbError> {
    let rows = db
        .fetch_all(
            "SELECT 1 FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             JOIN information_schema.columns c ON c.table_schema = current_schema() \
               AND c.table_name = ? AND c.column_name = 'id' \
               AND c.data_type IN ('smallint', 'integer', 'bigint') \
             WHERE i.indrelid = to_regclass(?) AND i.indisprimary AND i.indnatts = 1 \
               AND a.attname = 'id'",
            &[table.into(), table.into()],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// The planner's row estimate of `table` (0 when never analysed), as
/// [`reservation`] takes it.
async fn estimated_rows(db: &Db, table: &str) -> Result<usize, DbError> {
    let rows = db
        .fetch_all(
            "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(?)",
            &[table.into()],
        )
        .await?;
    let n = match rows.first() {
        Some(r) => r.i64(0).map_err(|e| db.decode("pg_class", e))?,
        None => 0,
    };
    Ok(reservation(n))
}

/// `(col >= from AND col < to)` for the scope, as a COPY query can say it
/// (no parameters); `true` for an open scope.
fn in_range(col: &str, scope: &Scope) -> String {
    let mut parts = Vec::new();
    if let Some(f) = scope.from {
        parts.push(format!("{col} >= {}", pg_copy::timestamp_literal(f)));
    }
    if let Some(t) = scope.to {
        parts.push(format!("{col} < {}", pg_copy::timestamp_literal(t)));
    }
    if parts.is_empty() {
        "true".to_owned()
    } else {
        format!("({})", parts.join(" AND "))
    }
}

/// The flows scan's four period-test columns as SQL, for the server to
/// evaluate: in the order checks' range, in the matching's window, in its
/// period, near the day's edge (what [`PeriodTests::flags`] gives).
fn server_tests(scope: &Scope, orders: bool, job: Option<&MatchJob>) -> String {
    let range = if orders {
        in_range("create_time", scope)
    } else {
        "false".to_owned()
    };
    let window = match job {
        Some(j) => {
            let lit = pg_copy::timestamp_literal;
            let (w0, w1) = (lit(j.from - j.window), lit(j.to + j.window));
            let (p0, p1) = (lit(j.from), lit(j.to));
            let (e0, e1) = (lit(j.from + j.window), lit(j.to - j.window));
            format!(
                "(create_time >= {w0} AND create_time < {w1}), \
                 (create_time >= {p0} AND create_time < {p1}), \
                 (create_time < {e0} OR create_time >= {e1})"
            )
        }
        None => "NULL, NULL, NULL".to_owned(),
    };
    format!("{range}, {window}")
}

/// A binary COPY row of the flows' query, decoded as [`FlowFields`] asks.
struct CopyFlow<'r, 'a> {
    row: &'r BinRow<'a>,
    times: Option<&'r PeriodTests>,
}

impl FlowFields for CopyFlow<'_, '_> {
    fn user(&self) -> Result<Option<i64>, MatchError> {
        self.row.opt_i64(0, "user_id").map_err(flow_err)
    }
    fn trans_type(&self) -> Result<Option<i64>, MatchError> {
        self.row.opt_i64(1, "trans_type").map_err(flow_err)
    }
    fn cents(&self) -> Result<Option<i64>, MatchError> {
        self.row.opt_cents(2, "trans_amount").map_err(flow_err)
    }
    fn bill(&self) -> Result<Option<Cow<'_, str>>, MatchError> {
        self.row.opt_text(3, "trans_no").map_err(flow_err)
    }
    fn id(&self) -> Result<Option<i64>, MatchError> {
        self.row.opt_i64(4, "id").map_err(flow_err)
    }
    fn tests(&self) -> Result<[bool; 4], MatchError> {
        match self.times {
            Some(t) => Ok(t.flags(self.row.opt_timestamp(5, "create_time").map_err(flow_err)?)),
            None => {
                let b = |i| -> Result<bool, MatchError> {
                    Ok(self.row.opt_bool(i, "create_time").map_err(flow_err)? == Some(true))
                };
                Ok([b(5)?, b(6)?, b(7)?, b(8)?])
            }
        }
    }
}

/// One `COPY` of the flows into `scan`: per-user balance effects, and the
/// recharge flows' bills with where they fall (tested by payrecon on a plain
/// `timestamp`, by the server otherwise).
#[allow(clippy::too_many_arguments)]
pub(super) async fn scan_flows(
    db: &Db,
    fit: Fit,
    scope: &Scope,
    job: Option<&MatchJob>,
    scan: &mut FlowsScan<'_>,
    cancel: &AtomicBool,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<(), MatchError> {
    let bills = scan.wants_bills();
    let orders = fit.orders;
    let times = fit
        .flows_plain_time
        .then(|| PeriodTests::new(scope, orders, job))
        .flatten();
    // The period tests: payrecon's on a plain timestamp (the server then only
    // sends it, ~35% less of its CPU at 10M rows), the server's otherwise.
    let tests = match times {
        Some(_) => "create_time".to_owned(),
        None => server_tests(scope, orders, job),
    };
    let sql = format!(
        "COPY (SELECT user_id, trans_type, trans_amount::numeric, {}, {}, {tests} \
         FROM trans_flow WHERE is_deleted = 0{}) TO STDOUT (FORMAT binary)",
        if bills { "trans_no" } else { "NULL" },
        if bills { "id" } else { "NULL" },
        if scan.recharges_only() {
            " AND trans_type = 1"
        } else {
            ""
        },
    );
    if bills {
        scan.reserve(estimated_rows(db, "trans_flow").await?);
    }
    let mut reader = CopyBinary::new();
    db.copy_out(&sql, |chunk| -> Result<(), MatchError> {
        reader.feed(chunk, |row| -> Result<(), MatchError> {
            if scan.rows.is_multiple_of(65_536) {
                progress("checks", scan.rows);
                if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                    return Err(MatchError::Cancelled);
                }
            }
            scan.push(&CopyFlow {
                row,
                times: times.as_ref(),
            })
        })
    })
    .await?;
    if reader.is_incomplete() {
        return Err(DbError::State("the COPY of trans_flow stopped before its end".into()).into());
    }
    progress("checks", scan.rows);
    Ok(())
}

/// One `COPY` of the orders into `scan`: each bill with its `status = 2` and
/// period test (by payrecon on a plain `timestamp`, by the server otherwise).
pub(super) async fn scan_orders(
    db: &Db,
    fit: Fit,
    scope: &Scope,
    scan: &mut OrdersScan<'_>,
    stop: &AtomicBool,
) -> Result<(), MatchError> {
    let times = fit
        .orders_plain_time
        .then(|| PeriodTests::new(scope, true, None))
        .flatten();
    let sql = format!(
        "COPY (SELECT agent_bill_no, id, status, {} FROM recharge_order) \
         TO STDOUT (FORMAT binary)",
        match times {
            Some(_) => "create_time".to_owned(),
            None => in_range("create_time", scope),
        }
    );
    let d = |e| MatchError::Db(db.decode("recharge_order", e));
    scan.reserve(estimated_rows(db, "recharge_order").await?);
    let mut reader = CopyBinary::new();
    db.copy_out(&sql, |chunk| -> Result<(), MatchError> {
        reader.feed(chunk, |row| -> Result<(), MatchError> {
            if scan.len().is_multiple_of(65_536) && stop.load(Ordering::Relaxed) {
                return Err(MatchError::Cancelled);
            }
            let id = row
                .opt_i64(1, "id")
                .map_err(d)?
                .ok_or_else(|| null_of("recharge_order", "id"))?;
            let paid = match row.opt_i64(2, "status").map_err(d)? {
                Some(2) => Paid::Yes,
                Some(_) => Paid::No,
                None => Paid::Unknown,
            };
            let in_range = match &times {
                Some(t) => t.flags(row.opt_timestamp(3, "create_time").map_err(d)?)[0],
                None => row.opt_bool(3, "create_time").map_err(d)? == Some(true),
            };
            let bill = row.opt_text(0, "agent_bill_no").map_err(d)?;
            scan.push(bill.as_deref(), id, paid, in_range);
            Ok(())
        })
    })
    .await?;
    if reader.is_incomplete() {
        return Err(
            DbError::State("the COPY of recharge_order stopped before its end".into()).into(),
        );
    }
    Ok(())
}

/// One `COPY` of the accounts: (user, amount, freeze) in cents.
pub(super) async fn scan_accounts(
    db: &Db,
    each: &mut (dyn FnMut(i64, Option<i64>, Option<i64>) + Send),
) -> Result<(), MatchError> {
    let d = |e| MatchError::Db(db.decode("user_account", e));
    let mut reader = CopyBinary::new();
    db.copy_out(
        "COPY (SELECT user_id, amount::numeric, freeze_amount::numeric FROM user_account \
         WHERE is_deleted = 0) TO STDOUT (FORMAT binary)",
        |chunk| -> Result<(), MatchError> {
            reader.feed(chunk, |row| -> Result<(), MatchError> {
                let uid = row
                    .opt_i64(0, "user_id")
                    .map_err(d)?
                    .ok_or_else(|| null_of("user_account", "user_id"))?;
                each(
                    uid,
                    row.opt_cents(1, "amount").map_err(d)?,
                    row.opt_cents(2, "freeze_amount").map_err(d)?,
                );
                Ok(())
            })
        },
    )
    .await?;
    if reader.is_incomplete() {
        return Err(
            DbError::State("the COPY of user_account stopped before its end".into()).into(),
        );
    }
    Ok(())
}
