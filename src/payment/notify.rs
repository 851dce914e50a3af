//! srb's recharge notify handler (SPEC §2.5) in three variants.
//!
//! * [`HandlerKind::Locked`] — "一锁二判三更新": lock the order row, check the
//!   idempotency record, the payload and the order state, then claim the
//!   record, move the order 1→2, insert the flow and credit the account, all in
//!   one transaction.
//! * [`HandlerKind::CheckThenAct`] — srb's original: count flows with this
//!   `trans_no`, then act, in one transaction. Only `uk_trans_no` stops two
//!   concurrent deliveries from both crediting.
//! * [`HandlerKind::Naive`] — no check and no transaction: the seeds'
//!   "存在的问题" (金额和流水会重复增加).
//!
//! Every attempt is logged in `notify_log` in its own transaction, after the
//! business work, so the log survives a rolled-back credit.

use super::{FAIL, RESULT_OK, SUCCESS, get_sign, ledger, verify_sign};
use crate::args;
use crate::db::{Db, DbError, DbResult, Session};
use crate::model::{IdempotencyStatus, NotifyOutcome, OrderStatus, SOURCE_HFB_NOTIFY, TransType};
use crate::money;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::time::Instant;

/// Which handler implementation answers the notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum HandlerKind {
    /// 一锁二判三更新 with an idempotency record and the order state machine.
    Locked,
    /// srb's original: count, then act (one transaction).
    CheckThenAct,
    /// No check, no transaction.
    Naive,
}

impl HandlerKind {
    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::CheckThenAct => "check-then-act",
            Self::Naive => "naive",
        }
    }
}

/// A failure injected into one attempt by the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyFault {
    /// None.
    #[default]
    None,
    /// Downstream code throws after the credit, before commit (e.g. an SMS
    /// call inside `@Transactional`): the transaction rolls back, `fail` is answered.
    ErrorBeforeCommit,
    /// The worker process dies after the first write, before anything else:
    /// no answer, no log row, and whatever was already committed stays.
    CrashAfterFirstWrite,
}

/// Which business writes an attempt left committed in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Committed {
    /// The order was set to paid.
    pub order_paid: bool,
    /// The account was credited.
    pub credited: bool,
    /// A recharge flow was inserted.
    pub flow: bool,
}

impl Committed {
    const ALL: Self = Self {
        order_paid: true,
        credited: true,
        flow: true,
    };
}

/// What the handler did with one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// Response body; `None` when the worker died and answered nothing.
    pub body: Option<String>,
    /// The logged outcome (`None` when the worker died before logging).
    pub outcome: Option<NotifyOutcome>,
    /// Why, in words, for failures and rejections.
    pub detail: Option<String>,
    /// The writes that stayed (all or nothing inside a transaction; piecemeal without one).
    pub committed: Committed,
}

impl Handled {
    fn answer(outcome: NotifyOutcome, body: &str, detail: Option<String>) -> Self {
        Self {
            body: Some(body.to_owned()),
            outcome: Some(outcome),
            detail,
            committed: Committed::default(),
        }
    }

    fn with(mut self, committed: Committed) -> Self {
        self.committed = committed;
        self
    }

    /// True when hfb would stop retrying.
    pub fn is_success(&self) -> bool {
        self.body.as_deref() == Some(SUCCESS)
    }
}

/// The notify form hfb posts for a successful charge, signed.
pub fn notify_params(
    agent_bill_no: &str,
    bind_code: &str,
    charge_amt: Decimal,
    timestamp_ms: i64,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    for (k, v) in [
        ("resultCode", RESULT_OK.to_owned()),
        ("resultMsg", "充值成功".to_owned()),
        ("agentBillNo", agent_bill_no.to_owned()),
        ("bindCode", bind_code.to_owned()),
        ("chargeAmt", money::format_amount(charge_amt)),
        ("mchFee", "0".to_owned()),
        ("hyFee", "0".to_owned()),
        ("timestamp", timestamp_ms.to_string()),
    ] {
        p.insert(k.to_owned(), v);
    }
    let sign = get_sign(&p);
    p.insert("sign".into(), sign);
    p
}

/// SHA-256 (hex) of the canonical params: every param but `sign` and
/// `timestamp`, as `key=value` sorted by key and joined by `&` (SPEC §3).
pub fn request_hash(params: &BTreeMap<String, String>) -> String {
    let canon: Vec<String> = params
        .iter()
        .filter(|(k, _)| *k != "sign" && *k != "timestamp")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    hex::encode(Sha256::digest(canon.join("&").as_bytes()))
}

struct Parsed {
    bill: String,
    bind_code: String,
    amount_text: String,
    amount: Option<Decimal>,
    result_code: String,
}

fn parse(params: &BTreeMap<String, String>) -> Parsed {
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let amount_text = get("chargeAmt");
    Parsed {
        bill: get("agentBillNo"),
        bind_code: get("bindCode"),
        amount: money::parse_amount(&amount_text)
            .ok()
            .and_then(|a| money::require_positive(a).ok()),
        amount_text,
        result_code: get("resultCode"),
    }
}

/// Handles one delivery of the recharge notify, as srb's endpoint would, and
/// logs it. `received_at` is the (possibly simulated) arrival time.
pub async fn handle_notify(
    db: &Db,
    kind: HandlerKind,
    params: &BTreeMap<String, String>,
    received_at: NaiveDateTime,
    fault: NotifyFault,
) -> Handled {
    let started = Instant::now();
    let p = parse(params);
    let sign_ok = verify_sign(params);
    let handled = if !sign_ok {
        Handled::answer(
            NotifyOutcome::RejectedSign,
            FAIL,
            Some("sign does not verify".into()),
        )
    } else if p.result_code != RESULT_OK {
        // srb answers success so hfb stops; the charge failed at the gateway.
        // The locked handler also closes the order (1→3); if that write fails
        // it answers fail so that hfb tries again.
        let closed = if kind == HandlerKind::Locked {
            fail_order(db, &p.bill, received_at).await
        } else {
            Ok(())
        };
        match closed {
            Ok(()) => Handled::answer(
                NotifyOutcome::Ignored,
                SUCCESS,
                Some(format!("resultCode {}", p.result_code)),
            ),
            Err(e) => Handled::answer(NotifyOutcome::Failed, FAIL, Some(e.to_string())),
        }
    } else if p.amount.is_none() {
        Handled::answer(
            NotifyOutcome::Failed,
            FAIL,
            Some(format!(
                "chargeAmt '{}' is not a positive amount",
                p.amount_text
            )),
        )
    } else {
        let r = match kind {
            HandlerKind::Locked => locked(db, params, &p, received_at, fault).await,
            HandlerKind::CheckThenAct => check_then_act(db, &p, received_at, fault).await,
            HandlerKind::Naive => naive(db, &p, received_at, fault).await,
        };
        match r {
            Ok(h) => h,
            Err(e) => Handled::answer(NotifyOutcome::Failed, FAIL, Some(e.to_string())),
        }
    };
    if let Some(outcome) = handled.outcome {
        let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        // Its own autocommit statement: survives the business rollback.
        let logged = db
            .execute(
                "INSERT INTO notify_log (agent_bill_no, bind_code, charge_amt, result_code, sign_ok, outcome, response_body, received_at, handled_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &args![
                    p.bill.clone(),
                    p.bind_code.clone(),
                    crate::db::Arg::Money(p.amount),
                    p.result_code.clone(),
                    i64::from(sign_ok),
                    outcome.as_str(),
                    handled.body.clone(),
                    received_at,
                    ms
                ],
            )
            .await;
        if let Err(e) = logged {
            // The answer stands (the business work is done or undone); the
            // missing log row is reported to the caller.
            return Handled {
                detail: Some(format!("notify_log not written: {e}")),
                ..handled
            };
        }
    }
    handled
}

async fn fail_order(db: &Db, bill: &str, at: NaiveDateTime) -> DbResult<()> {
    db.execute(
        "UPDATE recharge_order SET status = ?, version = version + 1, update_time = ? \
         WHERE agent_bill_no = ? AND status IN (?, ?)",
        &args![
            OrderStatus::Failed.code(),
            at,
            bill,
            OrderStatus::Submitted.code(),
            OrderStatus::Paying.code()
        ],
    )
    .await?;
    Ok(())
}

struct OrderRow {
    id: i64,
    user_id: i64,
    bind_code: String,
    charge_amt: Decimal,
    status: i64,
    version: i64,
}

async fn user_for_bind_code(
    s: &mut Session<'_>,
    bind_code: &str,
) -> DbResult<Option<ledger::UserRef>> {
    let db = s.db();
    let row = s
        .fetch_optional(
            "SELECT id, name, mobile FROM user_info WHERE bind_code = ?",
            &args![bind_code],
        )
        .await?;
    row.map(|r| {
        Ok(ledger::UserRef {
            id: r.i64(0).map_err(|e| db.decode("user_info", e))?,
            name: r.text(1).map_err(|e| db.decode("user_info", e))?,
            mobile: r.text(2).map_err(|e| db.decode("user_info", e))?,
            bind_code: bind_code.to_owned(),
        })
    })
    .transpose()
}

fn ledger_err(e: ledger::LedgerError) -> DbError {
    match e {
        ledger::LedgerError::Db(d) => d,
        other => DbError::State(other.to_string()),
    }
}

async fn locked(
    db: &Db,
    params: &BTreeMap<String, String>,
    p: &Parsed,
    at: NaiveDateTime,
    fault: NotifyFault,
) -> DbResult<Handled> {
    let amount = p.amount.unwrap_or_default();
    let hash = request_hash(params);
    let mut s = Session::begin(db, true).await?;
    // 一锁: the order row, by its unique key.
    let sql = format!(
        "SELECT id, user_id, bind_code, charge_amt, status, version FROM recharge_order WHERE agent_bill_no = ?{}",
        db.for_update()
    );
    let Some(row) = s.fetch_optional(&sql, &args![p.bill.clone()]).await? else {
        s.rollback().await?;
        return Ok(Handled::answer(
            NotifyOutcome::Failed,
            FAIL,
            Some(format!("no recharge_order for agentBillNo {}", p.bill)),
        ));
    };
    let d = |e| db.decode("recharge_order", e);
    let order = OrderRow {
        id: row.i64(0).map_err(d)?,
        user_id: row.i64(1).map_err(d)?,
        bind_code: row.text(2).map_err(d)?,
        charge_amt: row.money(3).map_err(d)?,
        status: row.i64(4).map_err(d)?,
        version: row.i64(5).map_err(d)?,
    };
    // 二判 (a): the idempotency record. Same-bill deliveries are serialised by
    // the order lock, so a plain read sees every committed claim.
    let rec = s
        .fetch_optional(
            "SELECT id, request_hash, status, response_body FROM idempotency_record WHERE source = ? AND seq = ?",
            &args![SOURCE_HFB_NOTIFY, p.bill.clone()],
        )
        .await?;
    let mut existing_id = None;
    if let Some(r) = rec {
        let d = |e| db.decode("idempotency_record", e);
        let id = r.i64(0).map_err(d)?;
        let stored_hash = r.text(1).map_err(d)?;
        let status = r.text(2).map_err(d)?;
        let body = r.opt_text(3).map_err(d)?;
        if stored_hash.trim() != hash {
            s.rollback().await?;
            return Ok(Handled::answer(
                NotifyOutcome::RejectedConflict,
                FAIL,
                Some(format!(
                    "request differs from the first one for {} (hash {} ≠ stored {})",
                    p.bill,
                    &hash[..12],
                    &stored_hash.trim()[..stored_hash.trim().len().min(12)]
                )),
            ));
        }
        if IdempotencyStatus::parse(&status) == Some(IdempotencyStatus::Succeeded) {
            s.rollback().await?;
            return Ok(Handled::answer(
                NotifyOutcome::Idempotent,
                body.as_deref().unwrap_or(SUCCESS),
                None,
            ));
        }
        // processing (a claim whose worker died) or failed: we hold the lock, take it over.
        existing_id = Some(id);
    }
    // 二判 (b): the payload against the order.
    if order.charge_amt != amount || order.bind_code != p.bind_code {
        s.rollback().await?;
        return Ok(Handled::answer(
            NotifyOutcome::RejectedConflict,
            FAIL,
            Some(format!(
                "notify says {} / {}, order {} says {} / {}",
                money::format_amount(amount),
                p.bind_code,
                p.bill,
                money::format_amount(order.charge_amt),
                order.bind_code
            )),
        ));
    }
    // 二判 (c): the order state.
    let status = OrderStatus::from_code(order.status);
    let mut version = order.version;
    match status {
        Some(OrderStatus::Paid) => {
            s.rollback().await?;
            return Ok(Handled::answer(NotifyOutcome::Idempotent, SUCCESS, None));
        }
        Some(OrderStatus::Paying) => {}
        Some(OrderStatus::Submitted) => {
            super::charge::move_order_in(
                &mut s,
                order.id,
                OrderStatus::Submitted,
                OrderStatus::Paying,
                version,
                at,
            )
            .await?;
            version += 1;
        }
        Some(OrderStatus::Failed) | None => {
            s.rollback().await?;
            return Ok(Handled::answer(
                NotifyOutcome::Failed,
                FAIL,
                Some(format!(
                    "order {} has status {} and cannot be paid",
                    p.bill, order.status
                )),
            ));
        }
    }
    let Some(mut user) = user_for_bind_code(&mut s, &p.bind_code).await? else {
        s.rollback().await?;
        return Ok(Handled::answer(
            NotifyOutcome::Failed,
            FAIL,
            Some(format!("no user has bindCode {}", p.bind_code)),
        ));
    };
    user.id = order.user_id;
    // The claim: processing now, succeeded at the end of this same transaction.
    let claim_id = match existing_id {
        Some(id) => {
            s.execute(
                "UPDATE idempotency_record SET status = ?, locked_at = ? WHERE id = ?",
                &args![IdempotencyStatus::Processing.as_str(), at, id],
            )
            .await?;
            id
        }
        None => {
            s.insert(
                "INSERT INTO idempotency_record (source, seq, request_hash, status, locked_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                &args![
                    SOURCE_HFB_NOTIFY,
                    p.bill.clone(),
                    hash,
                    IdempotencyStatus::Processing.as_str(),
                    at,
                    at
                ],
            )
            .await?
        }
    };
    // 三更新.
    super::charge::move_order_in(
        &mut s,
        order.id,
        OrderStatus::Paying,
        OrderStatus::Paid,
        version,
        at,
    )
    .await?;
    ledger::insert_flow(
        &mut s,
        &user,
        TransType::Recharge,
        amount,
        &p.bill,
        "充值",
        at,
    )
    .await?;
    ledger::add_to_account(&mut s, user.id, amount, Decimal::ZERO, at)
        .await
        .map_err(ledger_err)?;
    s.execute(
        "UPDATE idempotency_record SET status = ?, response_body = ?, completed_at = ?, expires_at = ? WHERE id = ?",
        &args![
            IdempotencyStatus::Succeeded.as_str(),
            SUCCESS,
            at,
            at + chrono::Duration::days(30),
            claim_id
        ],
    )
    .await?;
    finish(s, fault).await
}

/// Ends a crediting transaction: commits, or — when the simulator injects a
/// fault — rolls back as the dying request would.
async fn finish(s: Session<'_>, fault: NotifyFault) -> DbResult<Handled> {
    match fault {
        NotifyFault::ErrorBeforeCommit => {
            s.rollback().await?;
            Ok(Handled::answer(
                NotifyOutcome::Failed,
                FAIL,
                Some("downstream error before commit; rolled back".into()),
            ))
        }
        NotifyFault::CrashAfterFirstWrite => {
            // The transaction dies with the worker: nothing was committed.
            s.rollback().await?;
            Ok(crashed())
        }
        NotifyFault::None => {
            s.commit().await?;
            Ok(Handled::answer(NotifyOutcome::Credited, SUCCESS, None).with(Committed::ALL))
        }
    }
}

fn crashed() -> Handled {
    Handled {
        body: None,
        outcome: None,
        detail: Some("worker died mid-request".into()),
        committed: Committed::default(),
    }
}

/// Marks the order paid the way srb's original does: unconditionally.
async fn mark_paid_unconditionally(
    s: &mut Session<'_>,
    bill: &str,
    at: NaiveDateTime,
) -> DbResult<()> {
    s.execute(
        "UPDATE recharge_order SET status = ?, version = version + 1, update_time = ? WHERE agent_bill_no = ?",
        &args![OrderStatus::Paid.code(), at, bill],
    )
    .await?;
    Ok(())
}

async fn check_then_act(
    db: &Db,
    p: &Parsed,
    at: NaiveDateTime,
    fault: NotifyFault,
) -> DbResult<Handled> {
    let amount = p.amount.unwrap_or_default();
    // SQLite serialises writers database-wide; a deferred transaction that read
    // first would only fail its upgrade, so take the write lock up front there.
    let mut s = Session::begin(db, true).await?;
    let n = s
        .fetch_optional(
            "SELECT COUNT(*) FROM trans_flow WHERE trans_no = ?",
            &args![p.bill.clone()],
        )
        .await?
        .map(|r| r.i64(0))
        .transpose()
        .map_err(|e| db.decode("trans_flow", e))?
        .unwrap_or(0);
    if n > 0 {
        // 幂等性返回
        s.rollback().await?;
        return Ok(Handled::answer(NotifyOutcome::Idempotent, SUCCESS, None));
    }
    let Some(user) = user_for_bind_code(&mut s, &p.bind_code).await? else {
        s.rollback().await?;
        return Ok(Handled::answer(
            NotifyOutcome::Failed,
            FAIL,
            Some(format!("no user has bindCode {}", p.bind_code)),
        ));
    };
    ledger::add_to_account(&mut s, user.id, amount, Decimal::ZERO, at)
        .await
        .map_err(ledger_err)?;
    ledger::insert_flow(
        &mut s,
        &user,
        TransType::Recharge,
        amount,
        &p.bill,
        "充值",
        at,
    )
    .await?;
    mark_paid_unconditionally(&mut s, &p.bill, at).await?;
    finish(s, fault).await
}

async fn naive(db: &Db, p: &Parsed, at: NaiveDateTime, fault: NotifyFault) -> DbResult<Handled> {
    let amount = p.amount.unwrap_or_default();
    let mut s = Session::autocommit(db);
    let Some(user) = user_for_bind_code(&mut s, &p.bind_code).await? else {
        return Ok(Handled::answer(
            NotifyOutcome::Failed,
            FAIL,
            Some(format!("no user has bindCode {}", p.bind_code)),
        ));
    };
    // Each statement commits on its own: order, then account, then flow.
    let mut done = Committed::default();
    mark_paid_unconditionally(&mut s, &p.bill, at).await?;
    done.order_paid = true;
    if fault == NotifyFault::CrashAfterFirstWrite {
        // The order says paid; no credit and no flow follow.
        return Ok(crashed().with(done));
    }
    if let Err(e) = ledger::add_to_account(&mut s, user.id, amount, Decimal::ZERO, at).await {
        return Ok(
            Handled::answer(NotifyOutcome::Failed, FAIL, Some(ledger_err(e).to_string()))
                .with(done),
        );
    }
    done.credited = true;
    if fault == NotifyFault::ErrorBeforeCommit {
        // The flow insert fails (e.g. a lock wait timeout): the credit already
        // committed stays, with no flow to explain it.
        return Ok(Handled::answer(
            NotifyOutcome::Failed,
            FAIL,
            Some("trans_flow insert failed after the account was credited (no transaction to undo it)".into()),
        )
        .with(done));
    }
    if let Err(e) = ledger::insert_flow(
        &mut s,
        &user,
        TransType::Recharge,
        amount,
        &p.bill,
        "充值",
        at,
    )
    .await
    {
        return Ok(Handled::answer(NotifyOutcome::Failed, FAIL, Some(e.to_string())).with(done));
    }
    Ok(Handled::answer(NotifyOutcome::Credited, SUCCESS, None).with(Committed::ALL))
}
