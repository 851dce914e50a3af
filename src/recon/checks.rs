//! The database checks of SPEC §4: everything that can be found from the
//! payment database alone. Aggregation runs in the database (exact DECIMAL
//! sums) and only offending keys come back — except for the two passes over
//! every flow (balances, bill-keyed order/flow checks), which each backend's
//! scanner streams into this process (`scan`: SQLite's reader, PostgreSQL's
//! COPY, MySQL's text result sets) to be summed in integer cents and merged
//! by one engine, much faster than their SQL; the SQL stays for the tables
//! a scanner does not take (no unique `trans_no`, unread column types).

use super::finding::{Finding, Kind};
use super::matching::MatchError;
use super::scan::sqlite::Control;
use super::scan::{MatchJob, Matched};
use crate::args;
use crate::db::{Arg, Backend, Db, DbError, SchemaReport};
use crate::model::TransType;
use crate::money::format_amount;
use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

/// What the checks look at.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Period start (inclusive), business time; `None` = from the beginning.
    pub from: Option<NaiveDateTime>,
    /// Period end (exclusive); `None` = up to now.
    pub to: Option<NaiveDateTime>,
    /// "Now" for ageing: orders paying since before `as_of − stuck_after` are stuck.
    pub as_of: NaiveDateTime,
    /// How long an order may stay paying (default 30 min).
    pub stuck_after: Duration,
    /// Idempotency lock TTL (default 90 s).
    pub lock_ttl: Duration,
}

/// A check that could not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The kinds it would have produced.
    pub kinds: Vec<&'static str>,
    /// Why (English).
    pub reason_en: String,
    /// Why (Chinese).
    pub reason_zh: String,
}

/// Results of the database checks.
#[derive(Debug, Clone, Default)]
pub struct CheckOutput {
    /// Findings.
    pub findings: Vec<Finding>,
    /// Checks skipped for lack of tables.
    pub skipped: Vec<Skipped>,
}

/// `AND col >= ? AND col < ?` for the period, widened by a day on each side:
/// bounds the scan; [`first_in`] then attributes each key to its first day.
fn bounded(col: &str, scope: &Scope, args: &mut Vec<Arg>) -> String {
    range(col, scope, Duration::days(1), args)
}

/// `AND MIN(col) >= ? AND MIN(col) < ?`: a key belongs to the period in which it first appeared.
fn first_in(col: &str, scope: &Scope, args: &mut Vec<Arg>) -> String {
    range(&format!("MIN({col})"), scope, Duration::zero(), args)
}

fn range(col: &str, scope: &Scope, widen: Duration, args: &mut Vec<Arg>) -> String {
    let mut sql = String::new();
    if let Some(f) = scope.from {
        sql.push_str(&format!(" AND {col} >= ?"));
        args.push((f - widen).into());
    }
    if let Some(t) = scope.to {
        sql.push_str(&format!(" AND {col} < ?"));
        args.push((t + widen).into());
    }
    sql
}

fn dec(db: &Db, t: &str) -> impl Fn(crate::db::DecodeError) -> DbError {
    let (db, t) = (db.clone(), t.to_owned());
    move |e| db.decode(&t, e)
}

fn yuan(d: Decimal) -> String {
    format_amount(d)
}

/// Runs every database check the schema allows.
pub async fn run_checks(
    db: &Db,
    schema: &SchemaReport,
    scope: &Scope,
) -> Result<CheckOutput, DbError> {
    let never = std::sync::atomic::AtomicBool::new(false);
    match run_checks_matching(db, schema, scope, None, &never, &mut |_, _| {}).await {
        Ok((out, _)) => Ok(out),
        Err(MatchError::Db(e)) => Err(e),
        Err(e) => Err(DbError::State(e.to_string())),
    }
}

/// [`run_checks`], and on SQLite with `job` the statement matching from the
/// same scan of `trans_flow` (see `scan`). `cancel` and `progress`
/// as for [`super::reconcile`].
pub(super) async fn run_checks_matching(
    db: &Db,
    schema: &SchemaReport,
    scope: &Scope,
    job: Option<MatchJob>,
    cancel: &std::sync::atomic::AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<(CheckOutput, Option<Matched>), MatchError> {
    let mut matched = None;
    let mut out = CheckOutput::default();
    schema_risk(schema, &mut out);
    let has = |t: &str| schema.has_table(t);
    let skip = |out: &mut CheckOutput, kinds: &[Kind], tables: &[&str]| {
        let missing: Vec<&str> = tables.iter().copied().filter(|t| !has(t)).collect();
        if missing.is_empty() {
            return false;
        }
        out.skipped.push(Skipped {
            kinds: kinds.iter().map(|k| k.as_str()).collect(),
            reason_en: match missing.as_slice() {
                [one] => format!("table {one} is missing"),
                many => format!("tables {} are missing", many.join(", ")),
            },
            reason_zh: format!("缺少表 {}", missing.join("、")),
        });
        true
    };
    if !skip(
        &mut out,
        &[
            Kind::DuplicateNotify,
            Kind::NotifyExhausted,
            Kind::NotifyConflict,
        ],
        &["notify_log"],
    ) {
        timed("notify_checks", notify_checks(db, scope, &mut out)).await?;
    }
    // With uk_trans_no the database itself refuses a second flow per bill:
    // the full pass over trans_flow would only confirm it.
    if !skip(&mut out, &[Kind::DuplicateCredit], &["trans_flow"]) && !schema.trans_no_unique {
        timed("duplicate_flows", duplicate_flows(db, scope, &mut out)).await?;
    }
    if !skip(
        &mut out,
        &[Kind::NotifyConflict],
        &["notify_log", "recharge_order"],
    ) {
        timed(
            "conflicts_with_order",
            conflicts_with_order(db, schema, scope, &mut out),
        )
        .await?;
    }
    let want_balances = !skip(
        &mut out,
        &[Kind::BalanceMismatch],
        &["user_account", "trans_flow"],
    );
    let want_orders = !skip(
        &mut out,
        &[
            Kind::OrderPaidWithoutFlow,
            Kind::FlowWithoutPaidOrder,
            Kind::OrderStuck,
        ],
        &["recharge_order", "trans_flow"],
    );
    // One scan per table into the merge engine (`scan`) instead of SQL passes.
    let fast = super::scan::Wanted {
        balances: want_balances,
        orders: want_orders && schema.trans_no_unique,
    };
    // The servers: the server streams, payrecon sums and merges (`scan::server`).
    let server_found = match super::scan::server::Source::for_db(db, fast).await? {
        Some(source) => {
            let t = std::time::Instant::now();
            let r =
                super::scan::server::run(db, source, scope, fast, job.as_ref(), cancel, progress)
                    .await?;
            report_time("server scan (balances, orders)", t);
            Some(r)
        }
        None => None,
    };
    let sqlite = db.sqlite_path().map(std::path::Path::to_path_buf);
    let scanned = if let Some(path) = sqlite
        && (fast.balances || fast.orders || job.is_some())
    {
        let s = scope.clone();
        let t = std::time::Instant::now();
        let ctl = std::sync::Arc::new(Control::default());
        let c = std::sync::Arc::clone(&ctl);
        let mut h = tokio::task::spawn_blocking(move || {
            super::scan::sqlite::run(&path, &s, fast, job.as_ref(), &c)
        });
        // Relay the run's cancel flag in and the progress out while the threads work.
        let r = loop {
            tokio::select! {
                r = &mut h => break r,
                () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                        ctl.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    let lines = ctl.lines.load(std::sync::atomic::Ordering::Relaxed);
                    let rows = ctl.rows.load(std::sync::atomic::Ordering::Relaxed);
                    if lines > 0 {
                        progress("statement", lines);
                    } else {
                        progress("checks", rows);
                    }
                }
            }
        };
        let found = r.map_err(|e| DbError::State(format!("the SQLite reader stopped: {e}")))??;
        report_time("sqlite_scan (balances, orders)", t);
        Some(found)
    } else {
        server_found
    };
    if let Some((found, m)) = scanned {
        // The fast scans did balances and (with a unique trans_no) the bill-keyed pair.
        matched = m;
        out.findings.extend(found);
        orders_after_scan(
            db,
            scope,
            schema,
            want_orders && !fast.orders,
            want_orders,
            &mut out,
        )
        .await?;
    } else {
        // Two independent passes over the big tables: on the servers they run
        // at the same time on two pooled connections (the server does the work).
        let (mut ob, mut oo) = (CheckOutput::default(), CheckOutput::default());
        let (rb, ro) = tokio::join!(
            async {
                if want_balances {
                    timed("balances", balances(db, &mut ob)).await
                } else {
                    Ok(())
                }
            },
            async {
                if want_orders {
                    timed("orders", orders(db, scope, schema, &mut oo)).await
                } else {
                    Ok(())
                }
            },
        );
        rb?;
        ro?;
        out.findings.extend(ob.findings);
        out.findings.extend(oo.findings);
    }
    if !skip(
        &mut out,
        &[Kind::IdempotencyStuck, Kind::IdempotencyConflict],
        &["idempotency_record"],
    ) {
        timed(
            "idempotency",
            idempotency(db, schema, scope, has("notify_log"), &mut out),
        )
        .await?;
    }
    merge_duplicate_credit(&mut out.findings);
    Ok((out, matched))
}

/// After a fast scan (SQLite's, PostgreSQL's COPY): the order checks it did
/// not do — the bill-keyed pair in SQL when `pairs` (no unique `trans_no`),
/// and the stuck orders when `stuck`.
async fn orders_after_scan(
    db: &Db,
    scope: &Scope,
    schema: &SchemaReport,
    pairs: bool,
    stuck: bool,
    out: &mut CheckOutput,
) -> Result<(), DbError> {
    if pairs {
        timed("order_flow_pairs", order_flow_pairs(db, scope, schema, out)).await?;
    }
    if stuck {
        timed("stuck_orders", stuck_orders(db, scope, out)).await?;
    }
    Ok(())
}

/// Runs one check; with `PAYRECON_TIMINGS` set, says on stderr how long it took.
async fn timed<F: std::future::Future<Output = Result<(), DbError>>>(
    name: &str,
    f: F,
) -> Result<(), DbError> {
    let t = std::time::Instant::now();
    let r = f.await;
    report_time(name, t);
    r
}

/// With `PAYRECON_TIMINGS` set, says on stderr how long a check took.
fn report_time(name: &str, t: std::time::Instant) {
    stage_time(&format!("check {name}"), t);
}

/// With `PAYRECON_TIMINGS` set, says on stderr how long a stage of a run took.
pub(crate) fn stage_time(name: &str, t: std::time::Instant) {
    if std::env::var_os("PAYRECON_TIMINGS").is_some() {
        eprintln!("{name}: {} ms", t.elapsed().as_millis());
    }
}

fn schema_risk(schema: &SchemaReport, out: &mut CheckOutput) {
    if schema.has_table("trans_flow") && !schema.trans_no_unique {
        out.findings.push(
            Finding::new(Kind::SchemaRisk, "trans_flow.trans_no").explain(
                "交易流水的流水号没有唯一索引：并发回调时同一笔充值可能入账两次（先查后改挡不住并发）",
                "trans_flow.trans_no has no unique index: concurrent callbacks can credit the same recharge twice (check-then-act does not stop a race)",
            ),
        );
    }
    for t in schema.missing_tables() {
        out.findings.push(Finding::new(Kind::SchemaRisk, t).explain(
            format!("缺少契约表 {t}：依赖它的检查已跳过"),
            format!("contract table {t} is missing: the checks that need it were skipped"),
        ));
    }
}

async fn notify_checks(db: &Db, scope: &Scope, out: &mut CheckOutput) -> Result<(), DbError> {
    let mut a = Vec::new();
    let r = bounded("received_at", scope, &mut a);
    let h = first_in("received_at", scope, &mut a);
    let amt = db.money_cmp("charge_amt");
    let sql = format!(
        "SELECT agent_bill_no, COUNT(*), \
         SUM(CASE WHEN outcome = 'credited' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN response_body = 'success' THEN 1 ELSE 0 END), \
         MIN(received_at), MAX(received_at), \
         COUNT(DISTINCT CASE WHEN sign_ok = 1 AND result_code = '0001' THEN {amt} END), \
         COUNT(DISTINCT CASE WHEN sign_ok = 1 AND result_code = '0001' THEN bind_code END), \
         MAX(CASE WHEN sign_ok = 1 THEN {amt} END), MIN(CASE WHEN sign_ok = 1 THEN {amt} END), \
         SUM(CASE WHEN outcome IN ('failed', 'rejected_conflict', 'rejected_sign') THEN 1 ELSE 0 END) \
         FROM notify_log WHERE 1 = 1{r} GROUP BY agent_bill_no \
         HAVING (COUNT(*) > 1 OR SUM(CASE WHEN outcome = 'credited' THEN 1 ELSE 0 END) > 1 \
            OR SUM(CASE WHEN response_body = 'success' THEN 1 ELSE 0 END) = 0){h}"
    );
    let d = dec(db, "notify_log");
    // Streamed: on a busy day most bills are retried, and only these rows come back.
    db.for_each_row(&sql, &a, |row| -> Result<bool, DbError> {
        let bill = row.text(0).map_err(&d)?;
        let attempts = row.i64(1).map_err(&d)?;
        let credited = row.opt_i64(2).map_err(&d)?.unwrap_or(0);
        let ok = row.opt_i64(3).map_err(&d)?.unwrap_or(0);
        let (first, last) = (row.opt_time(4).map_err(&d)?, row.opt_time(5).map_err(&d)?);
        let amounts = row.i64(6).map_err(&d)?;
        let binds = row.i64(7).map_err(&d)?;
        let hi = row.opt_money_agg(8).map_err(&d)?;
        let lo = row.opt_money_agg(9).map_err(&d)?;
        let refused = row.opt_i64(10).map_err(&d)?.unwrap_or(0);
        let span = match (first, last) {
            (Some(f), Some(l)) => (l - f).num_milliseconds(),
            _ => 0,
        };
        let secs = format!("{}.{}", span / 1000, (span % 1000) / 100);
        if credited == 1 && attempts > 1 {
            let (why_zh, why_en) = if refused > 0 {
                (
                    format!("其中 {refused} 次我方应答失败，网关因此重试"),
                    format!("{refused} answered fail, so the gateway retried"),
                )
            } else {
                (
                    "每次都应答成功：应答丢失、超时或网关并发重复推送".to_owned(),
                    "every one answered success: lost responses, timeouts or concurrent duplicate senders".to_owned(),
                )
            };
            out.findings.push(
                Finding::new(Kind::DuplicateNotify, &bill)
                    .bill(&bill)
                    .attempts(attempts)
                    .seen(first, last)
                    .explain(
                        format!("同一笔充值收到 {attempts} 次回调（历时 {secs} 秒），只入账一次，无资金影响；{why_zh}"),
                        format!("{attempts} callbacks over {secs} s for one recharge, credited once — no money effect; {why_en}"),
                    ),
            );
        }
        if credited > 1 {
            out.findings.push(
                Finding::new(Kind::DuplicateCredit, &bill)
                    .bill(&bill)
                    .attempts(attempts)
                    .seen(first, last)
                    .explain(
                        format!("{credited} 次回调都入账了：客户被多记了 {} 次", credited - 1),
                        format!("{credited} callbacks each credited the account: the customer was credited {} extra time(s)", credited - 1),
                    ),
            );
        }
        if ok == 0 && credited == 0 && attempts >= crate::simulate::MAX_ATTEMPTS as i64 {
            out.findings.push(
                Finding::new(Kind::NotifyExhausted, &bill)
                    .bill(&bill)
                    .attempts(attempts)
                    .amounts(None, hi)
                    .seen(first, last)
                    .explain(
                        format!("网关回调 {attempts} 次均失败后停止重试：客户很可能已付款，但我方从未入账"),
                        format!("all {attempts} callbacks failed and the gateway stopped retrying: the customer has probably paid and was never credited"),
                    ),
            );
        }
        if amounts > 1 || binds > 1 {
            let mut f = Finding::new(Kind::NotifyConflict, &bill)
                .bill(&bill)
                .attempts(attempts)
                .seen(first, last);
            if amounts > 1 {
                f = f.amounts(hi, lo).explain(
                    format!("同一商户订单号的回调金额不一致：最高 {}，最低 {}", opt_yuan(hi), opt_yuan(lo)),
                    format!("callbacks for one agentBillNo disagree on chargeAmt: highest {}, lowest {}", opt_yuan(hi), opt_yuan(lo)),
                );
            } else {
                f = f.explain(
                    "同一商户订单号的回调绑定码不一致：可能记到别人账上",
                    "callbacks for one agentBillNo disagree on bindCode: money may go to the wrong account",
                );
            }
            out.findings.push(f);
        }
        Ok(true)
    })
    .await?;
    Ok(())
}

fn opt_yuan(d: Option<Decimal>) -> String {
    d.map(yuan).unwrap_or_else(|| "?".into())
}

async fn duplicate_flows(db: &Db, scope: &Scope, out: &mut CheckOutput) -> Result<(), DbError> {
    let mut a = Vec::new();
    let r = bounded("create_time", scope, &mut a);
    let h = first_in("create_time", scope, &mut a);
    let sql = format!(
        "SELECT trans_no, COUNT(*), MIN(user_id), {}, MIN(create_time), MAX(create_time), MIN({}) \
         FROM trans_flow WHERE trans_type = 1 AND is_deleted = 0{r} \
         GROUP BY trans_no HAVING COUNT(*) > 1{h}",
        db.money_sum("trans_amount"),
        db.money_cmp("trans_amount"),
    );
    let d = dec(db, "trans_flow");
    for row in db.fetch_all(&sql, &a).await? {
        let bill = row.text(0).map_err(&d)?;
        let n = row.i64(1).map_err(&d)?;
        let total = row.opt_money_agg(3).map_err(&d)?;
        let one = row.opt_money_agg(6).map_err(&d)?;
        out.findings.push(
            Finding::new(Kind::DuplicateCredit, &bill)
                .bill(&bill)
                .user(row.opt_i64(2).map_err(&d)?)
                .amounts(total, one)
                .seen(row.opt_time(4).map_err(&d)?, row.opt_time(5).map_err(&d)?)
                .explain(
                    format!("同一笔充值有 {n} 条入账流水，共 {}：客户多入账了 {}", opt_yuan(total), opt_yuan(total.zip(one).map(|(t, o)| t - o))),
                    format!("{n} recharge flows for one recharge, {} in all: the customer was credited {} too much", opt_yuan(total), opt_yuan(total.zip(one).map(|(t, o)| t - o))),
                ),
        );
    }
    Ok(())
}

/// A bill found both in the log and in the flows is one finding; the flows' amounts win.
fn merge_duplicate_credit(findings: &mut Vec<Finding>) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut keep = vec![true; findings.len()];
    for i in 0..findings.len() {
        if findings[i].kind != Kind::DuplicateCredit {
            continue;
        }
        match seen.get(&findings[i].key) {
            None => {
                seen.insert(findings[i].key.clone(), i);
            }
            Some(&j) => {
                // Keep the one with amounts (from trans_flow), add the attempts of the other.
                let (winner, loser) = if findings[i].amount_internal.is_some() {
                    (i, j)
                } else {
                    (j, i)
                };
                let attempts = findings[loser].attempts.or(findings[winner].attempts);
                findings[winner].attempts = attempts;
                keep[loser] = false;
                seen.insert(findings[i].key.clone(), winner);
            }
        }
    }
    let mut k = keep.into_iter();
    findings.retain(|_| k.next().unwrap_or(true));
}

/// The SQL of `notify_conflict` against the order.
fn conflicts_sql(db: &Db, schema: &SchemaReport, scope: &Scope) -> (String, Vec<Arg>) {
    let mut a = Vec::new();
    let r = bounded("n.received_at", scope, &mut a);
    let h = first_in("n.received_at", scope, &mut a);
    let on = schema.bill_eq(
        ("recharge_order", "agent_bill_no", "o.agent_bill_no"),
        ("notify_log", "agent_bill_no", "n.agent_bill_no"),
    );
    let bind_differs = schema.text_cmp(
        ("recharge_order", "bind_code", "o.bind_code"),
        "<>",
        ("notify_log", "bind_code", "n.bind_code"),
    );
    let sql = format!(
        "SELECT n.agent_bill_no, MIN(o.user_id), MAX({}), MIN({}), COUNT(*), MIN(n.received_at), MAX(n.received_at) \
         FROM notify_log n JOIN recharge_order o ON {on} \
         WHERE n.sign_ok = 1 AND n.result_code = '0001' \
           AND ({} <> {} OR {bind_differs}){r} \
         GROUP BY n.agent_bill_no HAVING 1 = 1{h}",
        db.money_cmp("n.charge_amt"),
        db.money_cmp("o.charge_amt"),
        db.money_cmp("n.charge_amt"),
        db.money_cmp("o.charge_amt"),
    );
    (sql, a)
}

async fn conflicts_with_order(
    db: &Db,
    schema: &SchemaReport,
    scope: &Scope,
    out: &mut CheckOutput,
) -> Result<(), DbError> {
    let (sql, a) = conflicts_sql(db, schema, scope);
    let d = dec(db, "notify_log");
    for row in db.fetch_all(&sql, &a).await? {
        let bill = row.text(0).map_err(&d)?;
        if out
            .findings
            .iter()
            .any(|f| f.kind == Kind::NotifyConflict && f.key == bill)
        {
            continue;
        }
        let said = row.opt_money_agg(2).map_err(&d)?;
        let order = row.opt_money_agg(3).map_err(&d)?;
        out.findings.push(
            Finding::new(Kind::NotifyConflict, &bill)
                .bill(&bill)
                .user(row.opt_i64(1).map_err(&d)?)
                .amounts(said, order)
                .attempts(row.i64(4).map_err(&d)?)
                .seen(row.opt_time(5).map_err(&d)?, row.opt_time(6).map_err(&d)?)
                .explain(
                    format!("回调内容与充值订单不一致（回调金额 {}，订单金额 {}）", opt_yuan(said), opt_yuan(order)),
                    format!("a callback disagrees with its recharge order (callback says {}, order says {})", opt_yuan(said), opt_yuan(order)),
                ),
        );
    }
    Ok(())
}

/// `SUM(CASE trans_type …)` for Δamount or Δfreeze, generated from [`TransType::effect`].
pub(crate) fn effect_sum(db: &Db, freeze: bool) -> String {
    let mut plus = Vec::new();
    let mut minus = Vec::new();
    for t in TransType::ALL {
        let e = t.effect(Decimal::ONE);
        let v = if freeze { e.freeze } else { e.amount };
        if v > Decimal::ZERO {
            plus.push(t.code().to_string());
        } else if v < Decimal::ZERO {
            minus.push(t.code().to_string());
        }
    }
    let expr = format!(
        "CASE WHEN trans_type IN ({}) THEN trans_amount WHEN trans_type IN ({}) THEN -trans_amount ELSE 0 END",
        plus.join(","),
        minus.join(",")
    );
    db.money_sum(&expr)
}

async fn balances(db: &Db, out: &mut CheckOutput) -> Result<(), DbError> {
    let da = effect_sum(db, false);
    let df = effect_sum(db, true);
    let sql = format!(
        "SELECT a.user_id, {}, {}, e.da, e.df, e.n, e.last_time \
         FROM user_account a LEFT JOIN ( \
           SELECT user_id, {da} AS da, {df} AS df, COUNT(*) AS n, MAX(create_time) AS last_time \
           FROM {} WHERE is_deleted = 0 GROUP BY user_id) e ON e.user_id = a.user_id \
         WHERE a.is_deleted = 0 AND ({} <> COALESCE(e.da, 0) OR {} <> COALESCE(e.df, 0))",
        db.money_cmp("a.amount"),
        db.money_cmp("a.freeze_amount"),
        db.full_scan("trans_flow"),
        db.money_cmp("a.amount"),
        db.money_cmp("a.freeze_amount"),
    );
    let d = dec(db, "user_account");
    for row in db.fetch_all(&sql, &[]).await? {
        let uid = row.i64(0).map_err(&d)?;
        let stored = row.opt_money_agg(1).map_err(&d)?.unwrap_or_default();
        let stored_f = row.opt_money_agg(2).map_err(&d)?.unwrap_or_default();
        let exp = row.opt_money_agg(3).map_err(&d)?.unwrap_or_default();
        let exp_f = row.opt_money_agg(4).map_err(&d)?.unwrap_or_default();
        let n = row.opt_i64(5).map_err(&d)?.unwrap_or(0);
        let last = row.opt_time(6).map_err(&d)?;
        out.findings.push(balance_finding(
            uid,
            (stored, stored_f),
            (exp, exp_f),
            n,
            last,
        ));
    }
    Ok(())
}

/// A `balance_mismatch`: stored (amount, freeze) against the flows' (amount, freeze).
pub(super) fn balance_finding(
    uid: i64,
    (stored, stored_f): (Decimal, Decimal),
    (exp, exp_f): (Decimal, Decimal),
    n: i64,
    last: Option<NaiveDateTime>,
) -> Finding {
    let (what_zh, what_en, s, e) = if stored != exp {
        ("可用余额", "available balance", stored, exp)
    } else {
        ("冻结金额", "frozen amount", stored_f, exp_f)
    };
    let diff = s - e;
    let (dir_zh, dir_en) = if diff > Decimal::ZERO {
        (
            format!("账户比流水多 {}（钱多记了，没有流水能解释）", yuan(diff)),
            format!(
                "the account holds {} more than its flows explain",
                yuan(diff)
            ),
        )
    } else {
        (
            format!("账户比流水少 {}（流水记了，钱没到账）", yuan(-diff)),
            format!("the account holds {} less than its flows say", yuan(-diff)),
        )
    };
    Finding::new(Kind::BalanceMismatch, format!("user:{uid}"))
        .user(Some(uid))
        .amounts(Some(s), Some(e))
        .seen(last, last)
        .explain(
            format!(
                "{what_zh}：账上 {}，按 {n} 条流水应为 {}；{dir_zh}",
                yuan(s),
                yuan(e)
            ),
            format!(
                "{what_en}: stored {}, its {n} flows give {}; {dir_en}",
                yuan(s),
                yuan(e)
            ),
        )
}

async fn orders(
    db: &Db,
    scope: &Scope,
    schema: &SchemaReport,
    out: &mut CheckOutput,
) -> Result<(), DbError> {
    order_flow_pairs(db, scope, schema, out).await?;
    stuck_orders(db, scope, out).await
}

/// The SQL of `order_paid_without_flow`: paid orders without a recharge flow.
fn paid_without_flow_sql(db: &Db, schema: &SchemaReport, scope: &Scope) -> (String, Vec<Arg>) {
    let mut a = Vec::new();
    let r = range("o.create_time", scope, Duration::zero(), &mut a);
    let on = schema.bill_eq(
        ("trans_flow", "trans_no", "f.trans_no"),
        ("recharge_order", "agent_bill_no", "o.agent_bill_no"),
    );
    let sql = format!(
        "SELECT o.agent_bill_no, o.user_id, {}, o.create_time, o.update_time FROM recharge_order o \
         WHERE o.status = 2{r} AND NOT EXISTS (SELECT 1 FROM trans_flow f \
           WHERE {on} AND f.trans_type = 1 AND f.is_deleted = 0)",
        db.money_cmp("o.charge_amt")
    );
    (sql, a)
}

/// The SQL of `flow_without_paid_order`: recharge flows whose order is
/// missing or not paid. With uk_trans_no every bill has one flow: no
/// grouping needed (and none of its cost).
fn flow_without_order_sql(db: &Db, schema: &SchemaReport, scope: &Scope) -> (String, Vec<Arg>) {
    let mut a = Vec::new();
    let on = schema.bill_eq(
        ("recharge_order", "agent_bill_no", "o.agent_bill_no"),
        ("trans_flow", "trans_no", "f.trans_no"),
    );
    let sql = if schema.trans_no_unique {
        let r = range("f.create_time", scope, Duration::zero(), &mut a);
        format!(
            "SELECT f.trans_no, f.user_id, {}, f.create_time, f.create_time, o.status, CASE WHEN o.id IS NULL THEN 0 ELSE 1 END \
             FROM trans_flow f LEFT JOIN recharge_order o ON {on} \
             WHERE f.trans_type = 1 AND f.is_deleted = 0{r} AND (o.id IS NULL OR o.status <> 2)",
            db.money_cmp("f.trans_amount")
        )
    } else {
        let r = bounded("f.create_time", scope, &mut a);
        let h = first_in("f.create_time", scope, &mut a);
        format!(
            "SELECT f.trans_no, MIN(f.user_id), {}, MIN(f.create_time), MAX(f.create_time), MIN(o.status), COUNT(o.id) \
             FROM trans_flow f LEFT JOIN recharge_order o ON {on} \
             WHERE f.trans_type = 1 AND f.is_deleted = 0{r} AND (o.id IS NULL OR o.status <> 2) \
             GROUP BY f.trans_no HAVING 1 = 1{h}",
            db.money_sum("f.trans_amount")
        )
    };
    (sql, a)
}

/// The SQL statements of the checks that compare bills across tables, with
/// their arguments, as the checks run them on `db`: for inspecting their
/// plans (`EXPLAIN`), e.g. that every bill lookup is served by an index
/// whatever the tables' collations.
pub fn bill_join_queries(
    db: &Db,
    schema: &SchemaReport,
    scope: &Scope,
) -> Vec<(&'static str, String, Vec<Arg>)> {
    let named = |name, (sql, args): (String, Vec<Arg>)| (name, sql, args);
    vec![
        named(
            "order_paid_without_flow",
            paid_without_flow_sql(db, schema, scope),
        ),
        named(
            "flow_without_paid_order",
            flow_without_order_sql(db, schema, scope),
        ),
        named("notify_conflict", conflicts_sql(db, schema, scope)),
        named(
            "idempotency_conflict",
            idempotency_conflict_sql(schema, scope),
        ),
    ]
}

/// `order_paid_without_flow` and `flow_without_paid_order`: the two checks keyed by bill.
async fn order_flow_pairs(
    db: &Db,
    scope: &Scope,
    schema: &SchemaReport,
    out: &mut CheckOutput,
) -> Result<(), DbError> {
    if schema.trans_no_unique && db.backend() == Backend::Postgres {
        return order_flow_pairs_one_pass(db, scope, out).await;
    }
    let (sql, a) = paid_without_flow_sql(db, schema, scope);
    let d = dec(db, "recharge_order");
    for row in db.fetch_all(&sql, &a).await? {
        let bill = row.text(0).map_err(&d)?;
        let amt = row.opt_money_agg(2).map_err(&d)?;
        out.findings.push(paid_without_flow_finding(
            &bill,
            row.opt_i64(1).map_err(&d)?,
            amt,
            row.opt_time(3).map_err(&d)?,
            row.opt_time(4).map_err(&d)?,
        ));
    }
    let (sql, a) = flow_without_order_sql(db, schema, scope);
    let d = dec(db, "trans_flow");
    for row in db.fetch_all(&sql, &a).await? {
        let bill = row.text(0).map_err(&d)?;
        let amt = row.opt_money_agg(2).map_err(&d)?;
        let has_order = row.i64(6).map_err(&d)? > 0;
        let status = row.opt_i64(5).map_err(&d)?;
        out.findings.push(flow_without_paid_order_finding(
            &bill,
            row.opt_i64(1).map_err(&d)?,
            amt,
            (row.opt_time(3).map_err(&d)?, row.opt_time(4).map_err(&d)?),
            has_order,
            status,
        ));
    }
    Ok(())
}

/// PostgreSQL with `uk_trans_no`: both bill-keyed checks in one FULL JOIN —
/// one pass over each table instead of two (an anti-join and a left join).
/// Rows without a flow side are the anti-join's (paid orders without a flow),
/// rows with one are the left join's; each keeps the other query's filters.
/// (MySQL has no FULL JOIN; it keeps the two queries.)
async fn order_flow_pairs_one_pass(
    db: &Db,
    scope: &Scope,
    out: &mut CheckOutput,
) -> Result<(), DbError> {
    let mut a = Vec::new();
    let ro = range("o.create_time", scope, Duration::zero(), &mut a);
    let rf = range("f.create_time", scope, Duration::zero(), &mut a);
    let sql = format!(
        "SELECT f.present, f.trans_no, f.user_id, {}, f.create_time, \
                o.agent_bill_no, o.user_id, {}, o.create_time, o.update_time, o.status, \
                CASE WHEN o.id IS NULL THEN 0 ELSE 1 END \
         FROM (SELECT 1 AS present, trans_no, user_id, trans_amount, create_time FROM trans_flow \
               WHERE trans_type = 1 AND is_deleted = 0) f \
         FULL JOIN recharge_order o ON o.agent_bill_no = f.trans_no \
         WHERE (f.present IS NULL AND o.status = 2{ro}) \
            OR (f.present = 1{rf} AND (o.id IS NULL OR o.status <> 2))",
        db.money_cmp("f.trans_amount"),
        db.money_cmp("o.charge_amt"),
    );
    let (df, dorder) = (dec(db, "trans_flow"), dec(db, "recharge_order"));
    let mut flows = Vec::new();
    for row in db.fetch_all(&sql, &a).await? {
        if row.opt_i64(0).map_err(&df)?.is_none() {
            let bill = row.text(5).map_err(&dorder)?;
            out.findings.push(paid_without_flow_finding(
                &bill,
                row.opt_i64(6).map_err(&dorder)?,
                row.opt_money_agg(7).map_err(&dorder)?,
                row.opt_time(8).map_err(&dorder)?,
                row.opt_time(9).map_err(&dorder)?,
            ));
        } else {
            let bill = row.text(1).map_err(&df)?;
            let at = row.opt_time(4).map_err(&df)?;
            flows.push(flow_without_paid_order_finding(
                &bill,
                row.opt_i64(2).map_err(&df)?,
                row.opt_money_agg(3).map_err(&df)?,
                (at, at),
                row.i64(11).map_err(&df)? > 0,
                row.opt_i64(10).map_err(&dorder)?,
            ));
        }
    }
    // The generic order: paid orders without a flow first.
    out.findings.extend(flows);
    Ok(())
}

/// An `order_paid_without_flow`.
pub(super) fn paid_without_flow_finding(
    bill: &str,
    user: Option<i64>,
    amt: Option<Decimal>,
    created: Option<NaiveDateTime>,
    updated: Option<NaiveDateTime>,
) -> Finding {
    Finding::new(Kind::OrderPaidWithoutFlow, bill)
        .bill(bill)
        .user(user)
        .amounts(None, amt)
        .seen(created, updated)
        .explain(
            format!("订单已标记为已支付（{}），却没有充值流水：钱是否到账说不清", opt_yuan(amt)),
            format!("the order is marked paid ({}) but has no recharge flow: whether the money was credited cannot be told", opt_yuan(amt)),
        )
}

/// A `flow_without_paid_order`: no order (`has_order` false) or one not paid.
pub(super) fn flow_without_paid_order_finding(
    bill: &str,
    user: Option<i64>,
    amt: Option<Decimal>,
    (first, last): (Option<NaiveDateTime>, Option<NaiveDateTime>),
    has_order: bool,
    status: Option<i64>,
) -> Finding {
    let (zh, en) = if has_order {
        (
            format!(
                "已入账 {}，但订单状态是 {}（不是已支付）",
                opt_yuan(amt),
                status.unwrap_or(-1)
            ),
            format!(
                "{} was credited but the order's status is {} (not paid)",
                opt_yuan(amt),
                status.unwrap_or(-1)
            ),
        )
    } else {
        (
            format!(
                "已入账 {}，却找不到这笔充值订单：钱的来历不明",
                opt_yuan(amt)
            ),
            format!(
                "{} was credited but no recharge order has this agentBillNo: where the money came from is unknown",
                opt_yuan(amt)
            ),
        )
    };
    Finding::new(Kind::FlowWithoutPaidOrder, bill)
        .bill(bill)
        .user(user)
        .amounts(amt, None)
        .seen(first, last)
        .explain(zh, en)
}

/// `order_stuck`: orders paying for longer than `scope.stuck_after`.
async fn stuck_orders(db: &Db, scope: &Scope, out: &mut CheckOutput) -> Result<(), DbError> {
    // Orders stuck in paying.
    let cutoff = scope.as_of - scope.stuck_after;
    let mut a = vec![Arg::from(cutoff)];
    let r = range("o.create_time", scope, Duration::zero(), &mut a);
    let sql = format!(
        "SELECT o.agent_bill_no, o.user_id, {}, o.create_time, o.update_time FROM recharge_order o \
         WHERE o.status = 1 AND o.update_time < ?{r}",
        db.money_cmp("o.charge_amt")
    );
    let d = dec(db, "recharge_order");
    for row in db.fetch_all(&sql, &a).await? {
        let bill = row.text(0).map_err(&d)?;
        let since = row.opt_time(4).map_err(&d)?;
        let mins = since.map(|s| (scope.as_of - s).num_minutes()).unwrap_or(0);
        out.findings.push(
            Finding::new(Kind::OrderStuck, &bill)
                .bill(&bill)
                .user(row.opt_i64(1).map_err(&d)?)
                .amounts(None, row.opt_money_agg(2).map_err(&d)?)
                .seen(row.opt_time(3).map_err(&d)?, since)
                .explain(
                    format!("订单已支付中 {mins} 分钟：客户可能已付款，请向网关查单"),
                    format!("the order has been paying for {mins} minutes: the customer may have paid — query the gateway"),
                ),
        );
    }
    Ok(())
}

/// The SQL of `idempotency_conflict`.
fn idempotency_conflict_sql(schema: &SchemaReport, scope: &Scope) -> (String, Vec<Arg>) {
    let mut a = vec![Arg::from(crate::model::SOURCE_HFB_NOTIFY)];
    let r = bounded("n.received_at", scope, &mut a);
    let h = first_in("n.received_at", scope, &mut a);
    let on = schema.bill_eq(
        ("idempotency_record", "seq", "i.seq"),
        ("notify_log", "agent_bill_no", "n.agent_bill_no"),
    );
    let sql = format!(
        "SELECT n.agent_bill_no, COUNT(*), MIN(n.received_at), MAX(n.received_at) \
         FROM notify_log n JOIN idempotency_record i ON i.source = ? AND {on} \
         WHERE n.outcome = 'rejected_conflict'{r} GROUP BY n.agent_bill_no HAVING 1 = 1{h}"
    );
    (sql, a)
}

async fn idempotency(
    db: &Db,
    schema: &SchemaReport,
    scope: &Scope,
    has_log: bool,
    out: &mut CheckOutput,
) -> Result<(), DbError> {
    let cutoff = scope.as_of - scope.lock_ttl;
    let sql = "SELECT source, seq, locked_at, created_at FROM idempotency_record \
               WHERE status = 'processing' AND locked_at < ?";
    let d = dec(db, "idempotency_record");
    for row in db.fetch_all(sql, &args![cutoff]).await? {
        let source = row.text(0).map_err(&d)?;
        let seq = row.text(1).map_err(&d)?;
        let locked = row.opt_time(2).map_err(&d)?;
        let secs = locked.map(|l| (scope.as_of - l).num_seconds()).unwrap_or(0);
        let key = if source == crate::model::SOURCE_TOKEN {
            format!("token:{seq}")
        } else {
            format!("{source}:{seq}")
        };
        let mut f =
            Finding::new(Kind::IdempotencyStuck, key).seen(row.opt_time(3).map_err(&d)?, locked);
        if source == crate::model::SOURCE_HFB_NOTIFY {
            f = f.bill(&seq);
        }
        out.findings.push(f.explain(
            format!("幂等记录 {source}/{seq} 已处理中 {secs} 秒（超过锁时限）：处理它的进程可能已崩溃，请求结果未知"),
            format!("idempotency record {source}/{seq} has been processing for {secs} s (past the lock TTL): its worker probably died; the request's result is unknown"),
        ));
    }
    if has_log {
        let (sql, a) = idempotency_conflict_sql(schema, scope);
        let d = dec(db, "notify_log");
        for row in db.fetch_all(&sql, &a).await? {
            let bill = row.text(0).map_err(&d)?;
            let n = row.i64(1).map_err(&d)?;
            out.findings.push(
                Finding::new(Kind::IdempotencyConflict, &bill)
                    .bill(&bill)
                    .attempts(n)
                    .seen(row.opt_time(2).map_err(&d)?, row.opt_time(3).map_err(&d)?)
                    .explain(
                        format!("{n} 次请求与已记录的首个请求（同一来源和序号）内容不同，已被拒绝：网关或攻击者在改写参数"),
                        format!("{n} request(s) differed from the first one recorded for the same source+seq and were refused: the gateway (or someone) is changing the parameters"),
                    ),
            );
        }
    }
    Ok(())
}
