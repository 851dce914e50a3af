//! The fast path on the two server backends: the server only scans, payrecon
//! sums and merges.
//!
//! In SQL the balance check and the two bill-keyed order/flow checks are a
//! GROUP BY over every flow and a join of two 10M-row tables, where the
//! server's plan (MySQL's dependent subquery, PostgreSQL's hash join) decides
//! the cost. Here `trans_flow` and `recharge_order` are each streamed once,
//! only the columns needed, on two connections at once (the orders on a
//! second runtime task), while the statements are parsed on a blocking
//! thread; `user_account` follows. How the rows come off the wire is the
//! backend's scanner ([`Source`]: PostgreSQL's binary COPY, MySQL's streamed
//! text result set); what is done with them is this module's and the
//! engine's (`super`), the same for both. Only the few offending rows are
//! then read in full, in batches by `id`.
//!
//! Findings come in the SQL path's order: balances, paid orders without a
//! flow, flows without a paid order. Errors come in the order the SQL path
//! meets them: the checks', the statements', then a flow the matching cannot
//! read.

use super::{
    Flow, IN_PERIOD, IN_RANGE, IN_WINDOW, MatchJob, Matched, NEAR_EDGE, NO_BILL, Order, Paid,
    PerUser, Wanted, detail_candidates, effect_signs, match_flows, mysql, pair_merge, postgres,
};
use crate::db::{Backend, Db, DbError, Row};
use crate::recon::checks::{self, Scope};
use crate::recon::finding::Finding;
use crate::recon::matching::{self, Detail, Keys, MatchError, Parsed, ReadStatements};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Rows per `id IN (…)` when offending rows are read again.
const BATCH: usize = 1000;

/// The backend's scanner, with what it learnt of the tables' columns.
#[derive(Debug, Clone, Copy)]
pub(in crate::recon) enum Source {
    /// Binary `COPY … TO STDOUT`.
    Postgres(postgres::Fit),
    /// A streamed text-protocol result set per table.
    MySql(mysql::Fit),
}

impl Source {
    /// The scanner that can read `db`'s tables for `want`; `None` when the
    /// columns' types or keys do not fit a scan (the SQL checks then run).
    pub(in crate::recon) async fn for_db(db: &Db, want: Wanted) -> Result<Option<Self>, DbError> {
        if !(want.balances || want.orders) {
            return Ok(None);
        }
        Ok(match db.backend() {
            Backend::Postgres => postgres::fits(db, want).await?.map(Self::Postgres),
            Backend::MySql => mysql::fits(db, want).await?.map(Self::MySql),
            Backend::Sqlite => None,
        })
    }

    /// `trans_flow`, every row not deleted, into `scan`.
    #[allow(clippy::too_many_arguments)]
    async fn flows(
        self,
        db: &Db,
        scope: &Scope,
        job: Option<&MatchJob>,
        scan: &mut FlowsScan<'_>,
        cancel: &AtomicBool,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<(), MatchError> {
        match self {
            Self::Postgres(fit) => {
                postgres::scan_flows(db, fit, scope, job, scan, cancel, stop, progress).await
            }
            Self::MySql(fit) => {
                mysql::scan_flows(db, fit, scope, job, scan, cancel, stop, progress).await
            }
        }
    }

    /// `recharge_order`, every row, into `scan`.
    async fn orders(
        self,
        db: &Db,
        scope: &Scope,
        scan: &mut OrdersScan<'_>,
        stop: &AtomicBool,
    ) -> Result<(), MatchError> {
        match self {
            Self::Postgres(fit) => postgres::scan_orders(db, fit, scope, scan, stop).await,
            Self::MySql(fit) => mysql::scan_orders(db, fit, scope, scan, stop).await,
        }
    }

    /// `user_account`, every row not deleted, as (user, amount, freeze) in cents.
    async fn accounts(
        self,
        db: &Db,
        each: &mut (dyn FnMut(i64, Option<i64>, Option<i64>) + Send),
    ) -> Result<(), MatchError> {
        match self {
            Self::Postgres(_) => postgres::scan_accounts(db, each).await,
            Self::MySql(_) => mysql::scan_accounts(db, each).await,
        }
    }
}

/// One `trans_flow` row as a scanner hands it over: each field decoded only
/// when asked (most flows need three of them). Errors are already the run's
/// (`MatchError::Db` naming the table and column).
pub(super) trait FlowFields {
    /// `user_id`.
    fn user(&self) -> Result<Option<i64>, MatchError>;
    /// `trans_type`.
    fn trans_type(&self) -> Result<Option<i64>, MatchError>;
    /// `trans_amount` in cents.
    fn cents(&self) -> Result<Option<i64>, MatchError>;
    /// `trans_no`.
    fn bill(&self) -> Result<Option<Cow<'_, str>>, MatchError>;
    /// `id`.
    fn id(&self) -> Result<Option<i64>, MatchError>;
    /// `create_time` tested as the SQL tests it: `[in the checks' range, in
    /// the matching's window, in its period, near the period's edge]`.
    fn tests(&self) -> Result<[bool; 4], MatchError>;
}

/// What the `trans_flow` scan gathers.
pub(super) struct FlowsScan<'k> {
    want: Wanted,
    /// Recharge bills are collected (for the order checks or the matching).
    bills: bool,
    effects: Vec<(i64, i64, i64)>,
    keys: &'k Keys,
    per_user: PerUser,
    /// The recharge flows (the order checks' and the matching's).
    flows: Vec<Flow>,
    /// Recharge flows in the period whose bill is NULL (they join no order).
    null_bill: Vec<i64>,
    /// The first flow the matching could not read (reported after the checks').
    match_err: Option<MatchError>,
    /// Rows seen.
    pub rows: u64,
}

impl<'k> FlowsScan<'k> {
    fn new(want: Wanted, matching: bool, keys: &'k Keys) -> Self {
        Self {
            want,
            bills: want.orders || matching,
            effects: effect_signs(),
            keys,
            per_user: PerUser::default(),
            flows: Vec::new(),
            null_bill: Vec::new(),
            match_err: None,
            rows: 0,
        }
    }

    /// Whether the scan needs the recharge flows' bills (else the scanner
    /// may leave `trans_no` and `id` out of its query).
    pub(super) fn wants_bills(&self) -> bool {
        self.bills
    }

    /// Whether only recharge flows are wanted (no balances): the scanner may filter.
    pub(super) fn recharges_only(&self) -> bool {
        !self.want.balances
    }

    /// Reserves room for about `rows` recharge flows (best effort: the
    /// vector otherwise grows as it goes, copying itself).
    pub(super) fn reserve(&mut self, rows: usize) {
        if self.bills {
            let _ = self.flows.try_reserve(rows);
        }
    }

    /// Takes one row: its balance effect, and a recharge flow's bill with,
    /// for the matching, its cents and where it falls.
    pub(super) fn push(&mut self, row: &impl FlowFields) -> Result<(), MatchError> {
        self.rows += 1;
        let tt = row.trans_type()?;
        let uid = row.user()?;
        // trans_amount once decoded for the balances (the matching reads it the same way).
        let mut known_cents = None;
        if self.want.balances
            && let Some(uid) = uid
        {
            let (sa, sf) = tt
                .and_then(|c| self.effects.iter().find(|e| e.0 == c))
                .map_or((0, 0), |e| (e.1, e.2));
            let cents = if sa != 0 || sf != 0 {
                let c = row.cents()?.unwrap_or(0);
                known_cents = Some(c);
                c
            } else {
                0
            };
            self.per_user.add(uid, (sa, sf), cents)?;
        }
        if !self.bills || tt != Some(1) {
            return Ok(());
        }
        let [in_range, in_window, in_period, near_edge] = row.tests()?;
        if !self.want.orders && !in_window {
            return Ok(());
        }
        let id = row.id()?.ok_or_else(|| null_of("trans_flow", "id"))?;
        let mut flags = if in_range { IN_RANGE } else { 0 };
        let mut cents = 0;
        if in_window && self.match_err.is_none() {
            if uid.is_none() {
                self.match_err = Some(null_of("trans_flow", "user_id"));
            }
            cents = match known_cents {
                Some(c) => c,
                None => row.cents()?.unwrap_or(0),
            };
            flags |= IN_WINDOW;
            if in_period {
                flags |= IN_PERIOD;
            }
            if near_edge {
                flags |= NEAR_EDGE;
            }
        }
        match row.bill()? {
            Some(bill) => self.flows.push(Flow {
                key: self.keys.key(&bill),
                cents,
                rowid: id,
                flags,
            }),
            None => {
                if in_range {
                    self.null_bill.push(id);
                }
                // The matching reads a NULL bill as the empty one; it joins no order.
                if flags & IN_WINDOW != 0 {
                    self.flows.push(Flow {
                        key: self.keys.key(""),
                        cents,
                        rowid: id,
                        flags: (flags & !IN_RANGE) | NO_BILL,
                    });
                }
            }
        }
        Ok(())
    }
}

/// What the `recharge_order` scan gathers: the orders by bill, and the paid
/// ones in the period whose bill is NULL.
pub(super) struct OrdersScan<'k> {
    keys: &'k Keys,
    orders: Vec<Order>,
    paid_null: Vec<i64>,
}

impl<'k> OrdersScan<'k> {
    /// Rows seen so far.
    pub(super) fn len(&self) -> usize {
        self.orders.len() + self.paid_null.len()
    }

    /// Reserves room for about `rows` orders (best effort).
    pub(super) fn reserve(&mut self, rows: usize) {
        let _ = self.orders.try_reserve(rows);
    }

    /// Takes one order: its bill, `id`, `status = 2` and period test.
    pub(super) fn push(&mut self, bill: Option<&str>, id: i64, paid: Paid, in_range: bool) {
        match bill {
            Some(bill) => self.orders.push(Order {
                key: self.keys.key(bill),
                rowid: id,
                paid,
                in_range,
            }),
            // A NULL bill has no flow: the anti-join holds.
            None if paid == Paid::Yes && in_range => self.paid_null.push(id),
            None => {}
        }
    }
}

/// A value of `table` the scan could not read, as the run's error.
pub(super) fn decode_err(table: &str, source: crate::db::DecodeError) -> MatchError {
    MatchError::Db(DbError::Decode {
        table: table.to_owned(),
        source,
    })
}

/// A `trans_flow` value the scan could not read (the scanners' [`FlowFields`]).
pub(super) fn flow_err(e: crate::db::DecodeError) -> MatchError {
    decode_err("trans_flow", e)
}

/// `column` of `table` is NULL where the fast path needs a value.
pub(super) fn null_of(table: &str, column: &str) -> MatchError {
    decode_err(table, matching::null(column))
}

/// The planner's / statistics' row estimate plus a tenth, at most 100M rows
/// (a wild estimate must not ask for absurd memory): the scans reserve that
/// much up front. Reserved memory is not touched until used; growing by
/// doubling would copy each vector and touch its pages twice.
pub(super) fn reservation(estimate: i64) -> usize {
    usize::try_from(estimate.clamp(0, 100_000_000)).unwrap_or(0) / 10 * 11
}

/// The scans' period tests, evaluated by payrecon on a time without zone
/// exactly as the server evaluates the SQL's, on microseconds since 2000
/// (as PostgreSQL's binary COPY sends a `timestamp`; [`micros`] for a parsed
/// time). A NULL time passes no test but an open scope's, which is `true`
/// in the SQL too.
#[derive(Debug, Clone, Copy)]
pub(super) struct PeriodTests {
    /// The order checks' scope (`from`, `to`); `None` when they do not run.
    range: Option<(Option<i64>, Option<i64>)>,
    /// The matching's window, period and near-edge bounds, when it runs.
    job: Option<[i64; 6]>,
}

impl PeriodTests {
    /// `None` for a bound beyond PostgreSQL's range (the server then tests).
    pub(super) fn new(scope: &Scope, orders: bool, job: Option<&MatchJob>) -> Option<Self> {
        let us = |t: Option<chrono::NaiveDateTime>| match t {
            Some(t) => micros(t).map(Some),
            None => Some(None),
        };
        let range = if orders {
            Some((us(scope.from)?, us(scope.to)?))
        } else {
            None
        };
        let job = match job {
            Some(j) => {
                let b = micros;
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
        Some(PeriodTests { range, job })
    }

    /// `[in range, in window, in period, near an edge]` for a flow at `t`.
    pub(super) fn flags(&self, t: Option<i64>) -> [bool; 4] {
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

/// Microseconds since 2000-01-01 00:00 (`None` beyond i64).
pub(super) fn micros(t: chrono::NaiveDateTime) -> Option<i64> {
    crate::db::pg_copy::pg_micros(t)
}

/// Runs the wanted checks and, with `job`, the statement matching from the
/// same scan of `trans_flow` (the statements are parsed meanwhile, on a
/// blocking thread).
pub(in crate::recon) async fn run(
    db: &Db,
    source: Source,
    scope: &Scope,
    want: Wanted,
    job: Option<&MatchJob>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<(Vec<Finding>, Option<Matched>), MatchError> {
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
                &j.fees,
            );
            checks::stage_time("  statements", t0);
            r
        })
    });
    // The orders, then the accounts, on a second connection and runtime
    // thread while this task reads the flows: only their comparison with
    // the flows' sums waits for the flows.
    let side = (want.orders || want.balances).then(|| {
        let (db, scope, keys, stop) = (
            db.clone(),
            scope.clone(),
            Arc::clone(&keys),
            Arc::clone(&stop),
        );
        tokio::spawn(async move {
            let r = side_scans(&db, source, &scope, want, &keys, &stop).await;
            if r.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            r
        })
    });
    let t0 = std::time::Instant::now();
    let mut scan = FlowsScan::new(want, job.is_some(), &keys);
    let flows = source
        .flows(db, scope, job, &mut scan, cancel, &stop, progress)
        .await;
    checks::stage_time("  trans_flow scan", t0);
    if flows.is_err() {
        stop.store(true, Ordering::Relaxed);
    }
    let side = match side {
        Some(h) => Some(
            h.await
                .map_err(|e| DbError::State(format!("the order and account scans stopped: {e}")))?,
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
    match flows {
        Err(MatchError::Cancelled) if !cancel.load(Ordering::Relaxed) => {
            return Err(match side {
                Some(Err(e)) => e,
                _ => MatchError::Cancelled,
            });
        }
        other => other?,
    }
    let (orders, accounts) = match side {
        Some(r) => r?,
        None => (None, None),
    };
    let FlowsScan {
        per_user,
        mut flows,
        null_bill,
        match_err,
        ..
    } = scan;
    let mut findings = Vec::new();
    if let Some(accounts) = accounts {
        let t0 = std::time::Instant::now();
        balances(db, &accounts, &per_user, &mut findings).await?;
        checks::stage_time("  balances", t0);
    }
    drop(per_user);
    flows.sort_unstable_by_key(|f| f.key);
    if let Some((orders, paid_null)) = orders {
        let t0 = std::time::Instant::now();
        let (paid_without_flow, unpaid) = pair_merge(&flows, &orders, paid_null, null_bill);
        drop(orders);
        checks::stage_time("  order/flow merge", t0);
        order_findings(db, &paid_without_flow, &unpaid, &mut findings).await?;
    }
    let Some(parsed) = parsed else {
        return Ok((findings, None));
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
    Ok((findings, Some(matched)))
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
    super::set_aside_unrelated(&mut parsed, flows);
    let ids = detail_candidates(&parsed, flows);
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
    match_flows(
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

/// `id IN (…)` lists of at most [`BATCH`] ids.
fn id_lists(ids: &[i64]) -> impl Iterator<Item = String> + '_ {
    ids.chunks(BATCH)
        .map(|c| c.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

/// The accounts as read: (user, amount, freeze) in cents.
type Accounts = Vec<(i64, Option<i64>, Option<i64>)>;

/// The orders scanned and sorted by bill, with the paid ones of the period
/// whose bill is NULL.
type OrdersRead = (Vec<Order>, Vec<i64>);

/// What the second connection reads while the first reads the flows: the
/// orders (when the order checks run), then the accounts (for the balances).
async fn side_scans(
    db: &Db,
    source: Source,
    scope: &Scope,
    want: Wanted,
    keys: &Keys,
    stop: &AtomicBool,
) -> Result<(Option<OrdersRead>, Option<Accounts>), MatchError> {
    let mut orders = None;
    if want.orders {
        let t0 = std::time::Instant::now();
        let mut scan = OrdersScan {
            keys,
            orders: Vec::new(),
            paid_null: Vec::new(),
        };
        let r = source.orders(db, scope, &mut scan, stop).await;
        checks::stage_time("  recharge_order scan", t0);
        r?;
        let t0 = std::time::Instant::now();
        let OrdersScan {
            orders: mut read,
            paid_null,
            ..
        } = scan;
        read.sort_unstable_by_key(|o| o.key);
        checks::stage_time("  orders sort", t0);
        orders = Some((read, paid_null));
    }
    let mut accounts = None;
    if want.balances && !stop.load(Ordering::Relaxed) {
        let t0 = std::time::Instant::now();
        let mut read = Vec::new();
        source
            .accounts(db, &mut |uid, a, f| read.push((uid, a, f)))
            .await?;
        checks::stage_time("  user_account scan", t0);
        accounts = Some(read);
    }
    Ok((orders, accounts))
}

/// The accounts against the summed flows; the latest flow of each account
/// that is off, read by `user_id`.
async fn balances(
    db: &Db,
    accounts: &Accounts,
    per_user: &PerUser,
    findings: &mut Vec<Finding>,
) -> Result<(), MatchError> {
    let mut off: Vec<(i64, (i64, i64), [i64; 3])> = Vec::new();
    for &(uid, a, f) in accounts {
        let e = per_user.get(uid);
        // A NULL stored amount compares as unknown, as `<>` does in SQL.
        if a.is_some_and(|a| a != e[0]) || f.is_some_and(|f| f != e[1]) {
            off.push((uid, (a.unwrap_or(0), f.unwrap_or(0)), e));
        }
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
