//! PostgreSQL fast path of the balance check and the two bill-keyed order/flow
//! checks (`order_paid_without_flow`, `flow_without_paid_order`).
//!
//! In SQL these are a GROUP BY over every flow and a FULL JOIN of two
//! 10M-row tables: on the benchmark's 2 cores about 7 and 10 s of server CPU,
//! run side by side (docs/BENCHMARKS.md). Here the server only scans: one
//! `COPY` of `trans_flow` and one of `recharge_order`, on two connections at
//! once, in the binary format (`db::pg_copy::CopyBinary`: cheaper for the
//! server to write and for payrecon to read than text). The balances are summed in
//! integer cents as the rows arrive; the bills are compared by the same sort
//! and merge as SQLite's fast path (`sqlite_checks::pair_merge`). Only the
//! few offending rows are then read in full, by `id`. The period tests
//! (`create_time` in range, in the matching's window) and `status = 2` give
//! what the SQL this replaces gives, NULLs included: on a plain `timestamp`
//! payrecon evaluates them on the microseconds the server sends ([`TimeTests`];
//! asking the server for the booleans cost it 35% more CPU), on any other
//! time type the server evaluates them.
//!
//! It runs only when the columns have types whose wire form it reads
//! (integers, text, NUMERIC with at most two decimals) and `id` is the primary
//! key of both tables; otherwise the SQL runs.

use super::checks::{self, Scope};
use super::finding::Finding;
use super::matching::{self, Detail, Keys, MatchError, Parsed, ReadStatements};
use super::sqlite_checks::{
    self as sc, Flow, IN_PERIOD, IN_RANGE, IN_WINDOW, MatchJob, Matched, NEAR_EDGE, NO_BILL, Order,
    Paid, PerUser, Wanted, effect_signs, pair_merge,
};
use crate::db::pg_copy::{self, ColumnType, CopyBinary};
use crate::db::{Db, DbError, Row};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Rows per `id IN (…)` when offending rows are read again.
const BATCH: usize = 1000;

/// What [`fits`] learnt of the tables' time columns.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fit {
    /// `trans_flow.create_time` is a plain `timestamp` (see [`TimeTests`]).
    flows_plain_time: bool,
    /// The same of `recharge_order.create_time` (`false` without the order checks).
    orders_plain_time: bool,
}

/// Whether every column the fast path reads has a type its reader knows, and
/// `id` is the primary key where rows are read again: `Some` when so.
pub(super) async fn fits(db: &Db, want: Wanted) -> Result<Option<Fit>, DbError> {
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

/// The planner's row estimate of `table` plus a tenth (0 when never
/// analysed): the scans reserve that much up front. Reserved memory is not
/// touched until used; growing by doubling would copy each vector and
/// touch its pages twice.
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
    // At most 100M rows: a wild estimate must not ask for absurd memory.
    Ok(usize::try_from(n.clamp(0, 100_000_000)).unwrap_or(0) / 10 * 11)
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

/// What the `trans_flow` scan gathered.
#[derive(Default)]
struct FlowsScan {
    per_user: PerUser,
    /// The recharge flows (the order checks' and the matching's).
    flows: Vec<Flow>,
    /// Recharge flows in the period whose bill is NULL (they join no order).
    null_bill: Vec<i64>,
    /// The first flow the matching could not read (reported after the checks').
    match_err: Option<MatchError>,
}

/// What the `recharge_order` scan gathered: the orders sorted by bill, and
/// the paid ones in the period whose bill is NULL.
type OrdersScan = (Vec<Order>, Vec<i64>);

/// Runs the wanted checks and, with `job`, the statement matching from the
/// same scan of `trans_flow` (the statements are parsed meanwhile, on a
/// blocking thread); `Ok(None)` when the tables do not fit the fast path
/// (the caller runs the SQL). Findings come in the SQL path's order:
/// balances, paid orders without a flow, flows without a paid order. Errors
/// come in the order the SQL path meets them: the checks', the statements',
/// then a flow the matching cannot read.
pub(super) async fn run(
    db: &Db,
    scope: &Scope,
    want: Wanted,
    job: Option<&MatchJob>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Option<(Vec<Finding>, Option<Matched>)>, MatchError> {
    if !(want.balances || want.orders) {
        return Ok(None);
    }
    let Some(fit) = fits(db, want).await? else {
        return Ok(None);
    };
    let flow_times = fit
        .flows_plain_time
        .then(|| TimeTests::new(scope, want.orders, job))
        .flatten();
    let order_times = fit
        .orders_plain_time
        .then(|| TimeTests::new(scope, true, None))
        .flatten();
    let keys = Arc::new(Keys::default());
    let stop = Arc::new(AtomicBool::new(false));
    let statements = job.map(|j| {
        let (j, keys, stop) = (j.clone(), Arc::clone(&keys), Arc::clone(&stop));
        tokio::task::spawn_blocking(move || {
            let t0 = std::time::Instant::now();
            let r = matching::read_parsed(
                &j.files,
                (j.from, j.to, j.window),
                Some(&*stop),
                &mut |_, _| {},
                &keys,
            );
            checks::stage_time("  statements", t0);
            r
        })
    });
    // The orders on a second connection and runtime thread, while this task reads the flows.
    let orders = want.orders.then(|| {
        let (db, scope, keys, stop) = (
            db.clone(),
            scope.clone(),
            Arc::clone(&keys),
            Arc::clone(&stop),
        );
        tokio::spawn(async move {
            let r = scan_orders(&db, &scope, order_times, &keys, &stop).await;
            if r.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            r
        })
    });
    let t0 = std::time::Instant::now();
    let flows = scan_flows(
        db, scope, want, job, flow_times, &keys, cancel, &stop, progress,
    )
    .await;
    checks::stage_time("  trans_flow COPY", t0);
    if flows.is_err() {
        stop.store(true, Ordering::Relaxed);
    }
    let orders = match orders {
        Some(h) => Some(
            h.await
                .map_err(|e| DbError::State(format!("the order scan stopped: {e}")))?,
        ),
        None => None,
    };
    let parsed = match statements {
        Some(h) => Some(
            h.await
                .map_err(|e| DbError::State(format!("reading the statements stopped: {e}")))?,
        ),
        None => None,
    };
    // A scan stopped because the other failed: the other's error is the run's.
    let flows = match flows {
        Err(MatchError::Cancelled) if !cancel.load(Ordering::Relaxed) => match orders {
            Some(Err(e)) => return Err(e),
            _ => Err(MatchError::Cancelled),
        },
        other => other,
    };
    let FlowsScan {
        per_user,
        mut flows,
        null_bill,
        match_err,
    } = flows?;
    let mut findings = Vec::new();
    if want.balances {
        let t0 = std::time::Instant::now();
        balances(db, &per_user, &mut findings).await?;
        checks::stage_time("  balances", t0);
    }
    drop(per_user);
    flows.sort_unstable_by_key(|f| f.key);
    if let Some(o) = orders {
        let (orders, paid_null) = o?;
        let t0 = std::time::Instant::now();
        let (paid_without_flow, unpaid) = pair_merge(&flows, &orders, paid_null, null_bill);
        drop(orders);
        checks::stage_time("  order/flow merge", t0);
        order_findings(db, &paid_without_flow, &unpaid, &mut findings).await?;
    }
    let Some(parsed) = parsed else {
        return Ok(Some((findings, None)));
    };
    let parsed = parsed?;
    if let Some(e) = match_err {
        return Err(e);
    }
    let t0 = std::time::Instant::now();
    let matched = match_shared(db, &keys, parsed, &flows, cancel).await?;
    drop(flows);
    checks::stage_time("  matching merge", t0);
    let matched = match matched {
        Ok(out) => Matched::Done(out),
        Err(parsed) => {
            let keys = Arc::try_unwrap(keys)
                .map_err(|_| DbError::State("the bill keys are still shared".into()))?;
            Matched::Again(ReadStatements::new(keys, parsed))
        }
    };
    Ok(Some((findings, Some(matched))))
}

/// The matching merge over the checks' flows. The flows it may report are
/// read first, in bulk by `id` (user and time, as the matching's SQL reads
/// them: NULL is an error).
async fn match_shared(
    db: &Db,
    keys: &Keys,
    parsed: Parsed,
    flows: &[Flow],
    cancel: &AtomicBool,
) -> Result<Result<matching::MatchOutput, Parsed>, MatchError> {
    // Bills that share no bill with the flows are set aside first, so that
    // no flow's detail is read for them.
    let mut parsed = parsed;
    matching::refuse_if_unrelated(
        &mut parsed.out,
        &mut parsed.stmt,
        flows
            .iter()
            .filter(|f| f.flags & IN_WINDOW != 0)
            .map(|f| (f.key, f.flags & IN_PERIOD != 0)),
    );
    let ids = sc::detail_candidates(&parsed, flows);
    let d = |e| MatchError::Db(db.decode("trans_flow", e));
    let mut details: HashMap<i64, Detail> = HashMap::with_capacity(ids.len());
    for list in id_lists(&ids) {
        let sql = format!("SELECT id, user_id, create_time FROM trans_flow WHERE id IN ({list})");
        for r in db.fetch_all(&sql, &[]).await? {
            let user = r
                .opt_i64(1)
                .map_err(d)?
                .ok_or_else(|| d(matching::null("user_id")))?;
            let at = r
                .opt_time(2)
                .map_err(d)?
                .ok_or_else(|| d(matching::null("create_time")))?;
            details.insert(r.i64(0).map_err(d)?, (user, at, at));
        }
    }
    sc::match_flows(
        keys,
        parsed,
        flows,
        &|| cancel.load(Ordering::Relaxed),
        &mut |id| {
            details.get(&id).copied().ok_or_else(|| {
                MatchError::Db(DbError::State(format!(
                    "flow {id} of trans_flow disappeared during the run"
                )))
            })
        },
    )
}

/// The scans' period tests, evaluated by payrecon on a `timestamp
/// without time zone` exactly as the server evaluates the SQL's (microseconds
/// since 2000, as the binary COPY sends them; a NULL time passes no test
/// but an open scope's, which is `true` in the SQL too).
#[derive(Debug, Clone, Copy)]
struct TimeTests {
    /// The order checks' scope (`from`, `to`); `None` when they do not run.
    range: Option<(Option<i64>, Option<i64>)>,
    /// The matching's window, period and near-edge bounds, when it runs.
    job: Option<[i64; 6]>,
}

impl TimeTests {
    /// `None` for a bound beyond PostgreSQL's range (the server then tests).
    fn new(scope: &Scope, orders: bool, job: Option<&MatchJob>) -> Option<Self> {
        let us = |t: Option<chrono::NaiveDateTime>| match t {
            Some(t) => pg_copy::pg_micros(t).map(Some),
            None => Some(None),
        };
        let range = if orders {
            Some((us(scope.from)?, us(scope.to)?))
        } else {
            None
        };
        let job = match job {
            Some(j) => {
                let b = pg_copy::pg_micros;
                // The SQL's: window, period, and the edges' `< e0 OR >= e1`.
                Some([
                    b(j.from - j.window)?,
                    b(j.to + j.window)?,
                    b(j.from)?,
                    b(j.to)?,
                    b(j.from + j.window)?,
                    b(j.to - j.window)?,
                ])
            }
            None => None,
        };
        Some(TimeTests { range, job })
    }

    /// `[in range, in window, in period, near an edge]` for a flow at `t`.
    fn flags(&self, t: Option<i64>) -> [bool; 4] {
        let in_range = match self.range {
            None => false,
            Some((None, None)) => true,
            Some((from, to)) => {
                t.is_some_and(|t| from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e))
            }
        };
        let (Some([w0, w1, p0, p1, e0, e1]), Some(t)) = (self.job, t) else {
            return [in_range, false, false, false];
        };
        [
            in_range,
            t >= w0 && t < w1,
            t >= p0 && t < p1,
            t < e0 || t >= e1,
        ]
    }
}

/// The flows scan's four period-test columns as SQL, for the server to
/// evaluate: in the order checks' range, in the matching's window, in its
/// period, near the day's edge (what [`TimeTests::flags`] gives).
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

/// One `COPY` of the flows: per-user balance effects, and the recharge flows'
/// bills (with, for the matching, their cents and where they fall: window,
/// period, near a boundary — tested as the matching's SQL tests them: by
/// `times` when given, by the server otherwise).
#[allow(clippy::too_many_arguments)]
async fn scan_flows(
    db: &Db,
    scope: &Scope,
    want: Wanted,
    job: Option<&MatchJob>,
    times: Option<TimeTests>,
    keys: &Keys,
    cancel: &AtomicBool,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<FlowsScan, MatchError> {
    let effects = effect_signs();
    let bills = want.orders || job.is_some();
    // The period tests: payrecon's on a plain timestamp (the server then only
    // sends it, ~35% less of its CPU at 10M rows), the server's otherwise.
    let tests = match times {
        Some(_) => "create_time".to_owned(),
        None => server_tests(scope, want.orders, job),
    };
    let sql = format!(
        "COPY (SELECT user_id, trans_type, trans_amount::numeric, {}, {}, {tests} \
         FROM trans_flow WHERE is_deleted = 0{}) TO STDOUT (FORMAT binary)",
        if bills { "trans_no" } else { "NULL" },
        if bills { "id" } else { "NULL" },
        if want.balances {
            ""
        } else {
            " AND trans_type = 1"
        },
    );
    let d = |e| MatchError::Db(db.decode("trans_flow", e));
    let mut scan = FlowsScan::default();
    if bills {
        // Best effort: without the reservation the vector grows as it goes.
        let _ = scan
            .flows
            .try_reserve(estimated_rows(db, "trans_flow").await?);
    }
    let mut reader = CopyBinary::new();
    let mut n: u64 = 0;
    db.copy_out(&sql, |chunk| -> Result<(), MatchError> {
        reader.feed(chunk, |row| -> Result<(), MatchError> {
            n += 1;
            if n.is_multiple_of(65_536) {
                progress("checks", n);
                if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                    return Err(MatchError::Cancelled);
                }
            }
            let tt = row.opt_i64(1, "trans_type").map_err(d)?;
            let uid = row.opt_i64(0, "user_id").map_err(d)?;
            // trans_amount once decoded for the balances (the matching reads it the same way).
            let mut known_cents = None;
            if want.balances
                && let Some(uid) = uid
            {
                let (sa, sf) = tt
                    .and_then(|c| effects.iter().find(|e| e.0 == c))
                    .map_or((0, 0), |e| (e.1, e.2));
                let cents = if sa != 0 || sf != 0 {
                    let c = row.opt_cents(2, "trans_amount").map_err(d)?.unwrap_or(0);
                    known_cents = Some(c);
                    c
                } else {
                    0
                };
                scan.per_user.add(uid, (sa, sf), cents)?;
            }
            if !bills || tt != Some(1) {
                return Ok(());
            }
            let [in_range, in_window, in_period, near_edge] = match &times {
                Some(t) => t.flags(row.opt_timestamp(5, "create_time").map_err(d)?),
                None => {
                    let b = |i| -> Result<bool, MatchError> {
                        Ok(row.opt_bool(i, "create_time").map_err(d)? == Some(true))
                    };
                    [b(5)?, b(6)?, b(7)?, b(8)?]
                }
            };
            if !want.orders && !in_window {
                return Ok(());
            }
            let id = row
                .opt_i64(4, "id")
                .map_err(d)?
                .ok_or_else(|| d(matching::null("id")))?;
            let mut flags = if in_range { IN_RANGE } else { 0 };
            let mut cents = 0;
            if in_window && scan.match_err.is_none() {
                if uid.is_none() {
                    scan.match_err = Some(d(matching::null("user_id")));
                }
                cents = match known_cents {
                    Some(c) => c,
                    None => row.opt_cents(2, "trans_amount").map_err(d)?.unwrap_or(0),
                };
                flags |= IN_WINDOW;
                if in_period {
                    flags |= IN_PERIOD;
                }
                if near_edge {
                    flags |= NEAR_EDGE;
                }
            }
            match row.opt_text(3, "trans_no").map_err(d)? {
                Some(bill) => scan.flows.push(Flow {
                    key: keys.key(&bill),
                    cents,
                    rowid: id,
                    flags,
                }),
                None => {
                    if in_range {
                        scan.null_bill.push(id);
                    }
                    // The matching reads a NULL bill as the empty one; it joins no order.
                    if flags & IN_WINDOW != 0 {
                        scan.flows.push(Flow {
                            key: keys.key(""),
                            cents,
                            rowid: id,
                            flags: (flags & !IN_RANGE) | NO_BILL,
                        });
                    }
                }
            }
            Ok(())
        })
    })
    .await?;
    if reader.is_incomplete() {
        return Err(DbError::State("the COPY of trans_flow stopped before its end".into()).into());
    }
    progress("checks", n);
    Ok(scan)
}

/// One `COPY` of the orders: each bill with its `status = 2` and period test
/// (by `times` when given, by the server otherwise).
async fn scan_orders(
    db: &Db,
    scope: &Scope,
    times: Option<TimeTests>,
    keys: &Keys,
    stop: &AtomicBool,
) -> Result<OrdersScan, MatchError> {
    let t0 = std::time::Instant::now();
    // `status = 2` and the period test as the flows' scan does them.
    let sql = format!(
        "COPY (SELECT agent_bill_no, id, status, {} FROM recharge_order) \
         TO STDOUT (FORMAT binary)",
        match times {
            Some(_) => "create_time".to_owned(),
            None => in_range("create_time", scope),
        }
    );
    let d = |e| MatchError::Db(db.decode("recharge_order", e));
    let mut orders = Vec::new();
    // Best effort: without the reservation the vector grows as it goes.
    let _ = orders.try_reserve(estimated_rows(db, "recharge_order").await?);
    let mut paid_null = Vec::new();
    let mut reader = CopyBinary::new();
    db.copy_out(&sql, |chunk| -> Result<(), MatchError> {
        reader.feed(chunk, |row| -> Result<(), MatchError> {
            if orders.len().is_multiple_of(65_536) && stop.load(Ordering::Relaxed) {
                return Err(MatchError::Cancelled);
            }
            let id = row
                .opt_i64(1, "id")
                .map_err(d)?
                .ok_or_else(|| d(matching::null("id")))?;
            let paid = match row.opt_i64(2, "status").map_err(d)? {
                Some(2) => Paid::Yes,
                Some(_) => Paid::No,
                None => Paid::Unknown,
            };
            let in_range = match &times {
                Some(t) => t.flags(row.opt_timestamp(3, "create_time").map_err(d)?)[0],
                None => row.opt_bool(3, "create_time").map_err(d)? == Some(true),
            };
            match row.opt_text(0, "agent_bill_no").map_err(d)? {
                Some(bill) => orders.push(Order {
                    key: keys.key(&bill),
                    rowid: id,
                    paid,
                    in_range,
                }),
                // A NULL bill has no flow: the anti-join holds.
                None if paid == Paid::Yes && in_range => paid_null.push(id),
                None => {}
            }
            Ok(())
        })
    })
    .await?;
    if reader.is_incomplete() {
        return Err(
            DbError::State("the COPY of recharge_order stopped before its end".into()).into(),
        );
    }
    checks::stage_time("  recharge_order COPY", t0);
    let t0 = std::time::Instant::now();
    orders.sort_unstable_by_key(|o| o.key);
    checks::stage_time("  orders sort", t0);
    Ok((orders, paid_null))
}

/// `id IN (…)` lists of at most [`BATCH`] ids.
fn id_lists(ids: &[i64]) -> impl Iterator<Item = String> + '_ {
    ids.chunks(BATCH)
        .map(|c| c.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

/// The accounts against the summed flows; the latest flow of each account
/// that is off, read by `user_id`.
async fn balances(
    db: &Db,
    per_user: &PerUser,
    findings: &mut Vec<Finding>,
) -> Result<(), MatchError> {
    let d = |e| MatchError::Db(db.decode("user_account", e));
    let mut off: Vec<(i64, (i64, i64), [i64; 3])> = Vec::new();
    let mut reader = CopyBinary::new();
    db.copy_out(
        "COPY (SELECT user_id, amount::numeric, freeze_amount::numeric FROM user_account \
         WHERE is_deleted = 0) TO STDOUT (FORMAT binary)",
        |chunk| -> Result<(), MatchError> {
            reader.feed(chunk, |row| -> Result<(), MatchError> {
                let uid = row
                    .opt_i64(0, "user_id")
                    .map_err(d)?
                    .ok_or_else(|| d(matching::null("user_id")))?;
                let a = row.opt_cents(1, "amount").map_err(d)?;
                let f = row.opt_cents(2, "freeze_amount").map_err(d)?;
                let e = per_user.get(uid);
                // A NULL stored amount compares as unknown, as `<>` does in SQL.
                if a.is_some_and(|a| a != e[0]) || f.is_some_and(|f| f != e[1]) {
                    off.push((uid, (a.unwrap_or(0), f.unwrap_or(0)), e));
                }
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
    let with_flows: Vec<i64> = off.iter().filter(|o| o.2[2] > 0).map(|o| o.0).collect();
    let mut last = HashMap::new();
    let df = |e| MatchError::Db(db.decode("trans_flow", e));
    for list in id_lists(&with_flows) {
        let sql = format!(
            "SELECT user_id, MAX(create_time) FROM trans_flow \
             WHERE is_deleted = 0 AND user_id IN ({list}) GROUP BY user_id"
        );
        for r in db.fetch_all(&sql, &[]).await? {
            last.insert(r.i64(0).map_err(df)?, r.opt_time(1).map_err(df)?);
        }
    }
    let c = |c| Decimal::new(c, crate::money::SCALE);
    for (uid, (a, f), e) in off {
        findings.push(checks::balance_finding(
            uid,
            (c(a), c(f)),
            (c(e[0]), c(e[1])),
            e[2],
            last.get(&uid).copied().flatten(),
        ));
    }
    Ok(())
}

/// `SELECT id, {cols} FROM {table} WHERE id IN (…)` for `ids`, in batches of
/// [`BATCH`], keyed by `id` (column 0; `cols` are 1…).
async fn rows_by_id(
    db: &Db,
    table: &str,
    cols: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Row>, MatchError> {
    let d = |e| MatchError::Db(db.decode(table, e));
    let mut out = HashMap::with_capacity(ids.len());
    for list in id_lists(ids) {
        let sql = format!("SELECT id, {cols} FROM {table} WHERE id IN ({list})");
        for r in db.fetch_all(&sql, &[]).await? {
            out.insert(r.i64(0).map_err(d)?, r);
        }
    }
    Ok(out)
}

/// The findings of the merge, from the offending rows read in full by `id`.
async fn order_findings(
    db: &Db,
    paid_without_flow: &[i64],
    unpaid: &[(i64, Option<i64>)],
    findings: &mut Vec<Finding>,
) -> Result<(), MatchError> {
    let dorder = |e| MatchError::Db(db.decode("recharge_order", e));
    let dflow = |e| MatchError::Db(db.decode("trans_flow", e));
    let gone = |t: &str, id: i64| {
        MatchError::Db(DbError::State(format!(
            "row {id} of {t} disappeared during the run"
        )))
    };
    let orders = rows_by_id(
        db,
        "recharge_order",
        "agent_bill_no, user_id, charge_amt, create_time, update_time",
        paid_without_flow,
    )
    .await?;
    for id in paid_without_flow {
        let r = orders.get(id).ok_or_else(|| gone("recharge_order", *id))?;
        findings.push(checks::paid_without_flow_finding(
            &r.text(1).map_err(dorder)?,
            r.opt_i64(2).map_err(dorder)?,
            r.opt_money_agg(3).map_err(dorder)?,
            r.opt_time(4).map_err(dorder)?,
            r.opt_time(5).map_err(dorder)?,
        ));
    }
    let flow_ids: Vec<i64> = unpaid.iter().map(|u| u.0).collect();
    let order_ids: Vec<i64> = unpaid.iter().filter_map(|u| u.1).collect();
    let flows = rows_by_id(
        db,
        "trans_flow",
        "trans_no, user_id, trans_amount, create_time",
        &flow_ids,
    )
    .await?;
    let status = rows_by_id(db, "recharge_order", "status", &order_ids).await?;
    for (flow, order) in unpaid {
        let r = flows.get(flow).ok_or_else(|| gone("trans_flow", *flow))?;
        let st = match order {
            Some(o) => status
                .get(o)
                .ok_or_else(|| gone("recharge_order", *o))?
                .opt_i64(1)
                .map_err(dorder)?,
            None => None,
        };
        let at = r.opt_time(4).map_err(dflow)?;
        findings.push(checks::flow_without_paid_order_finding(
            &r.text(1).map_err(dflow)?,
            r.opt_i64(2).map_err(dflow)?,
            r.opt_money_agg(3).map_err(dflow)?,
            (at, at),
            order.is_some(),
            st,
        ));
    }
    Ok(())
}
