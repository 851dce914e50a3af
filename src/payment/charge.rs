//! srb's `commitCharge`: a recharge order with a unique `agentBillNo` and the
//! signed form that goes to hfb.

use super::{AGENT_ID, ledger::UserRef, sign::get_sign};
use crate::args;
use crate::db::{Db, DbError, DbResult, Session};
use crate::model::OrderStatus;
use crate::money::format_amount;
use chrono::NaiveDateTime;
use rand::Rng;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The form srb posts to hfb.
#[derive(Debug, Clone)]
pub struct ChargeForm {
    /// The order's id in `recharge_order`.
    pub order_id: i64,
    /// `agentBillNo`.
    pub agent_bill_no: String,
    /// The form's parameters, signed.
    pub params: BTreeMap<String, String>,
}

/// `prefix + yyyyMMddHHmmss + 3 random digits` (`CHARGE…` is 23 characters).
pub fn new_agent_bill_no(prefix: &str, at: NaiveDateTime, rng: &mut impl Rng) -> String {
    format!(
        "{prefix}{}{:03}",
        at.format("%Y%m%d%H%M%S"),
        rng.random_range(0..1000)
    )
}

/// Creates the order (status 0), moves it to paying (0→1, the form went to the
/// gateway) and returns the signed form. A clash of the random suffix is
/// retried with a new number, as the unique index demands.
pub async fn commit_charge(
    db: &Db,
    user: &UserRef,
    amount: Decimal,
    at: NaiveDateTime,
    rng: &mut impl Rng,
) -> DbResult<ChargeForm> {
    let mut last_err = None;
    for _ in 0..20 {
        let bill = new_agent_bill_no("CHARGE", at, rng);
        let r = db
            .insert(
                "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time) \
                 VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                &args![
                    bill.clone(),
                    user.id,
                    user.bind_code.clone(),
                    amount,
                    Decimal::ZERO,
                    OrderStatus::Submitted.code(),
                    at,
                    at
                ],
            )
            .await;
        match r {
            Ok(order_id) => {
                move_order(
                    db,
                    order_id,
                    OrderStatus::Submitted,
                    OrderStatus::Paying,
                    0,
                    at,
                )
                .await?;
                let mut params = BTreeMap::new();
                for (k, v) in [
                    ("agentId", AGENT_ID.to_owned()),
                    ("agentBillNo", bill.clone()),
                    ("bindCode", user.bind_code.clone()),
                    ("chargeAmt", format_amount(amount)),
                    ("feeAmt", "0".to_owned()),
                    (
                        "notifyUrl",
                        "http://localhost/api/core/userAccount/notify".to_owned(),
                    ),
                    ("returnUrl", "http://localhost:3000/user".to_owned()),
                    ("timestamp", at.and_utc().timestamp_millis().to_string()),
                ] {
                    params.insert(k.to_owned(), v);
                }
                let sign = get_sign(&params);
                params.insert("sign".into(), sign);
                return Ok(ChargeForm {
                    order_id,
                    agent_bill_no: bill,
                    params,
                });
            }
            Err(e) if e.is_unique_violation() => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| DbError::State("could not allocate an agentBillNo".into())))
}

/// Why an order could not move.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// The state machine forbids the move.
    #[error(transparent)]
    Illegal(#[from] crate::model::IllegalTransition),
    /// Another writer changed the order first (status or `version` differ).
    #[error("order {0} was changed concurrently (optimistic lock: status or version differs)")]
    Stale(i64),
    /// Database error.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Moves an order `from → to`, guarded by the state machine and by the
/// optimistic `version` (`WHERE status = from AND version = v`).
pub async fn move_order(
    db: &Db,
    order_id: i64,
    from: OrderStatus,
    to: OrderStatus,
    version: i64,
    at: NaiveDateTime,
) -> Result<(), MoveError> {
    move_order_in(
        &mut Session::autocommit(db),
        order_id,
        from,
        to,
        version,
        at,
    )
    .await
}

/// [`move_order`] inside a session (the notify handler's transaction).
pub async fn move_order_in(
    s: &mut Session<'_>,
    order_id: i64,
    from: OrderStatus,
    to: OrderStatus,
    version: i64,
    at: NaiveDateTime,
) -> Result<(), MoveError> {
    from.transition(to)?;
    let r = s
        .execute(
            "UPDATE recharge_order SET status = ?, version = version + 1, update_time = ? \
             WHERE id = ? AND status = ? AND version = ?",
            &args![to.code(), at, order_id, from.code(), version],
        )
        .await?;
    if r.rows == 1 {
        Ok(())
    } else {
        Err(MoveError::Stale(order_id))
    }
}

impl From<MoveError> for DbError {
    fn from(e: MoveError) -> Self {
        match e {
            MoveError::Db(d) => d,
            other => DbError::State(other.to_string()),
        }
    }
}
