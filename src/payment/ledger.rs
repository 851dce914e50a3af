//! Users, accounts and flows of every trans type (SPEC §2 table).

use crate::args;
use crate::db::{Backend, Db, DbError, DbResult, Session};
use crate::model::TransType;
use crate::money::format_amount;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;

/// The user fields the payment side needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// `user_info.id`.
    pub id: i64,
    /// `user_info.name`.
    pub name: String,
    /// `user_info.mobile`.
    pub mobile: String,
    /// hfb's `bindCode` for this user.
    pub bind_code: String,
}

/// Why a flow was not applied.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Not enough available (or frozen) money for a debit.
    #[error("user {user_id}: {what} balance {have} is less than {need}")]
    Insufficient {
        /// User.
        user_id: i64,
        /// "available" or "frozen".
        what: &'static str,
        /// Balance.
        have: String,
        /// Amount asked for.
        need: String,
    },
    /// The user has no `user_account` row.
    #[error("user {0} has no user_account row")]
    NoAccount(i64),
    /// Database error.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Creates a bound user (`bind_status = 1`) and their empty account.
pub async fn create_user(
    db: &Db,
    mobile: &str,
    name: &str,
    bind_code: &str,
    user_type: i64,
    at: NaiveDateTime,
) -> DbResult<UserRef> {
    let mut s = Session::begin(db, true).await?;
    let id = s
        .insert(
            "INSERT INTO user_info (user_type, mobile, password, nick_name, name, bind_status, bind_code, status, create_time, update_time, is_deleted) \
             VALUES (?, ?, '', ?, ?, 1, ?, 1, ?, ?, 0)",
            &args![user_type, mobile, name, name, bind_code, at, at],
        )
        .await?;
    s.execute(
        "INSERT INTO user_account (user_id, amount, freeze_amount, create_time, update_time, is_deleted, version) \
         VALUES (?, ?, ?, ?, ?, 0, 0)",
        &args![id, Decimal::ZERO, Decimal::ZERO, at, at],
    )
    .await?;
    s.commit().await?;
    Ok(UserRef {
        id,
        name: name.to_owned(),
        mobile: mobile.to_owned(),
        bind_code: bind_code.to_owned(),
    })
}

/// Reads `(amount, freeze_amount)` of a user's account.
pub async fn read_account(
    s: &mut Session<'_>,
    user_id: i64,
) -> Result<(Decimal, Decimal), LedgerError> {
    let db = s.db();
    let row = s
        .fetch_optional(
            "SELECT amount, freeze_amount FROM user_account WHERE user_id = ?",
            &args![user_id],
        )
        .await?
        .ok_or(LedgerError::NoAccount(user_id))?;
    let a = row.money(0).map_err(|e| db.decode("user_account", e))?;
    let f = row.money(1).map_err(|e| db.decode("user_account", e))?;
    Ok((a, f))
}

/// Adds `(Δamount, Δfreeze)` to a user's account, in SQL, as srb does
/// (`amount = amount + ?`): one atomic statement, no read-modify-write.
///
/// PostgreSQL and MySQL add exact DECIMALs. SQLite keeps amounts as TEXT and
/// has no decimal arithmetic, so the statement adds integer cents and writes
/// the canonical text back (see [`sqlite_cents_add`]).
pub async fn add_to_account(
    s: &mut Session<'_>,
    user_id: i64,
    d_amount: Decimal,
    d_freeze: Decimal,
    at: NaiveDateTime,
) -> Result<(), LedgerError> {
    let rows = if s.db().backend() == Backend::Sqlite {
        let sql = format!(
            "UPDATE user_account SET amount = {}, freeze_amount = {}, version = version + 1, update_time = ?3 WHERE user_id = ?4",
            sqlite_cents_add("amount", 1),
            sqlite_cents_add("freeze_amount", 2),
        );
        s.execute(
            &sql,
            &args![cents(d_amount)?, cents(d_freeze)?, at, user_id],
        )
        .await?
        .rows
    } else {
        s.execute(
            "UPDATE user_account SET amount = amount + ?, freeze_amount = freeze_amount + ?, version = version + 1, update_time = ? WHERE user_id = ?",
            &args![d_amount, d_freeze, at, user_id],
        )
        .await?
        .rows
    };
    if rows == 1 {
        Ok(())
    } else {
        Err(LedgerError::NoAccount(user_id))
    }
}

/// An amount as integer cents.
fn cents(d: Decimal) -> Result<i64, LedgerError> {
    crate::money::to_cents(d)
        .ok_or_else(|| LedgerError::Db(DbError::State(format!("amount {d} is out of range"))))
}

/// SQLite: `col` plus the cents bound as parameter `?{param}`, as canonical TEXT.
///
/// `ROUND(col * 100)` goes through SQLite's REAL, which is exact for every
/// two-decimal amount below 10^13 (the binary error stays under 0.002 cents);
/// the sum is integer arithmetic and the text is built from integers.
pub fn sqlite_cents_add(col: &str, param: u8) -> String {
    let c = format!("(CAST(ROUND({col} * 100) AS INTEGER) + ?{param})");
    format!(
        "(CASE WHEN {c} < 0 THEN '-' ELSE '' END || (ABS({c}) / 100) || '.' || SUBSTR('0' || (ABS({c}) % 100), -2))"
    )
}

/// Inserts one `trans_flow` row.
pub async fn insert_flow(
    s: &mut Session<'_>,
    user: &UserRef,
    t: TransType,
    amount: Decimal,
    trans_no: &str,
    memo: &str,
    at: NaiveDateTime,
) -> DbResult<i64> {
    s.insert(
        "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        &args![user.id, user.name.clone(), trans_no, t.code(), t.name_zh(), amount, memo, at, at],
    )
    .await
}

/// One non-recharge money movement.
#[derive(Debug, Clone)]
pub struct FlowRequest {
    /// Whose account.
    pub user: UserRef,
    /// Which type.
    pub trans_type: TransType,
    /// Positive amount.
    pub amount: Decimal,
    /// Unique business number (`trans_no`).
    pub trans_no: String,
    /// When.
    pub at: NaiveDateTime,
}

/// Applies a flow and its balance effect in one immediate transaction,
/// refusing debits the account cannot cover.
pub async fn apply_flow(db: &Db, req: &FlowRequest) -> Result<(), LedgerError> {
    let eff = req.trans_type.effect(req.amount);
    let mut s = Session::begin(db, true).await?;
    // Lock the account row where the backend has row locks; SQLite's immediate
    // transaction already holds the write lock.
    let sql = format!(
        "SELECT amount, freeze_amount FROM user_account WHERE user_id = ?{}",
        db.for_update()
    );
    let row = s
        .fetch_optional(&sql, &args![req.user.id])
        .await?
        .ok_or(LedgerError::NoAccount(req.user.id))?;
    let a = row.money(0).map_err(|e| db.decode("user_account", e))?;
    let f = row.money(1).map_err(|e| db.decode("user_account", e))?;
    if a + eff.amount < Decimal::ZERO {
        return Err(LedgerError::Insufficient {
            user_id: req.user.id,
            what: "available",
            have: format_amount(a),
            need: format_amount(-eff.amount),
        });
    }
    if f + eff.freeze < Decimal::ZERO {
        return Err(LedgerError::Insufficient {
            user_id: req.user.id,
            what: "frozen",
            have: format_amount(f),
            need: format_amount(-eff.freeze),
        });
    }
    add_to_account(&mut s, req.user.id, eff.amount, eff.freeze, req.at).await?;
    insert_flow(
        &mut s,
        &req.user,
        req.trans_type,
        req.amount,
        &req.trans_no,
        req.trans_type.name_zh(),
        req.at,
    )
    .await?;
    s.commit().await?;
    Ok(())
}
