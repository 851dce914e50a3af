//! The browsable views of the payment database (SPEC §6 tables, §7 export):
//! one SQL builder per view, filters as bound parameters, rows formatted
//! exactly (amounts to the cent, times in the business zone).
//!
//! Export streams a view; the console pages it. Neither ever loads a table whole.

use crate::db::{Arg, Backend, Db, DbError, Row};
use crate::model::{OrderStatus, TransType};
use crate::money::format_amount;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;

/// A view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// `trans_flow`.
    Flows,
    /// `recharge_order`.
    Orders,
    /// `notify_log`: callback attempts.
    Notify,
    /// `idempotency_record`.
    Idempotency,
    /// `user_account` with stored, expected and difference.
    Accounts,
}

impl View {
    /// Every database view.
    pub const ALL: [View; 5] = [
        Self::Flows,
        Self::Orders,
        Self::Notify,
        Self::Idempotency,
        Self::Accounts,
    ];

    /// The table it reads.
    pub fn table(self) -> &'static str {
        match self {
            Self::Flows => "trans_flow",
            Self::Orders => "recharge_order",
            Self::Notify => "notify_log",
            Self::Idempotency => "idempotency_record",
            Self::Accounts => "user_account",
        }
    }

    /// CSV / table header.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            Self::Flows => &[
                "id",
                "user_id",
                "user_name",
                "trans_no",
                "trans_type",
                "trans_type_name",
                "trans_amount",
                "memo",
                "create_time",
                "is_deleted",
            ],
            Self::Orders => &[
                "id",
                "agent_bill_no",
                "user_id",
                "bind_code",
                "charge_amt",
                "fee_amt",
                "status",
                "status_name",
                "version",
                "create_time",
                "update_time",
            ],
            Self::Notify => &[
                "id",
                "agent_bill_no",
                "bind_code",
                "charge_amt",
                "result_code",
                "sign_ok",
                "outcome",
                "response_body",
                "received_at",
                "handled_ms",
            ],
            Self::Idempotency => &[
                "id",
                "source",
                "seq",
                "request_hash",
                "status",
                "response_body",
                "locked_at",
                "created_at",
                "completed_at",
                "expires_at",
            ],
            Self::Accounts => &[
                "user_id",
                "amount",
                "expected_amount",
                "amount_difference",
                "freeze_amount",
                "expected_freeze",
                "freeze_difference",
                "flows",
                "version",
                "update_time",
            ],
        }
    }

    /// The column filters on time apply to.
    pub(crate) fn time_col(self) -> &'static str {
        match self {
            Self::Flows | Self::Orders => "t.create_time",
            Self::Notify => "t.received_at",
            Self::Idempotency => "t.created_at",
            Self::Accounts => "t.update_time",
        }
    }

    pub(crate) fn amount_col(self) -> Option<&'static str> {
        match self {
            Self::Flows => Some("t.trans_amount"),
            Self::Orders | Self::Notify => Some("t.charge_amt"),
            Self::Accounts => Some("t.amount"),
            Self::Idempotency => None,
        }
    }

    /// The column rows are ordered and paged by (unique).
    pub(crate) fn id_col(self) -> &'static str {
        match self {
            Self::Accounts => "t.user_id",
            _ => "t.id",
        }
    }

    fn key_col(self) -> &'static str {
        match self {
            Self::Flows => "t.trans_no",
            Self::Orders | Self::Notify => "t.agent_bill_no",
            Self::Idempotency => "t.seq",
            Self::Accounts => "t.user_id",
        }
    }
}

/// Reads a filter time as a user types it: `YYYY-MM-DD` (midnight),
/// `YYYY-MM-DD HH:MM[:SS]` or with a `T`.
pub fn parse_time(v: &str) -> Option<NaiveDateTime> {
    let v = v.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some(d.and_time(chrono::NaiveTime::MIN));
    }
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
}

/// Filters; every value reaches SQL as a bound parameter.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Filter {
    /// Business key (`agentBillNo`, `trans_no`, idempotency `seq`).
    pub key: Option<String>,
    /// User id.
    pub user_id: Option<i64>,
    /// `trans_type` (flows).
    pub trans_type: Option<i64>,
    /// Status: order status code, notify outcome or idempotency status.
    pub status: Option<String>,
    /// From (inclusive), business time.
    pub from: Option<NaiveDateTime>,
    /// To (exclusive).
    pub to: Option<NaiveDateTime>,
    /// Minimum amount.
    pub min_amount: Option<Decimal>,
    /// Maximum amount.
    pub max_amount: Option<Decimal>,
    /// Accounts: only those whose stored balance differs from their flows.
    pub mismatched_only: bool,
}

/// Builds `SELECT … WHERE <filters> ORDER BY id` for a view.
pub fn select(db: &Db, view: View, f: &Filter) -> Result<(String, Vec<Arg>), DbError> {
    let p = parts(db, view, f)?;
    Ok((
        format!("{}{} ORDER BY {}", p.head, p.filter, view.id_col()),
        p.args,
    ))
}

/// A view's query in pieces, so that the console can add paging to it.
pub(crate) struct Parts {
    /// `SELECT <columns> FROM <table> t …` (no WHERE).
    pub head: String,
    /// ` WHERE …` with `?` placeholders.
    pub filter: String,
    /// The bound values of `filter`, in order.
    pub args: Vec<Arg>,
}

/// The filter of a view as SQL with bound parameters.
pub(crate) fn parts(db: &Db, view: View, f: &Filter) -> Result<Parts, DbError> {
    let mut args = Vec::new();
    let mut w = String::from(" WHERE 1 = 1");
    if let Some(k) = &f.key {
        if view == View::Accounts {
            return Err(DbError::State(
                "accounts have no business key: filter by --user".into(),
            ));
        }
        w.push_str(&format!(" AND {} = ?", view.key_col()));
        args.push(Arg::from(k.clone()));
    }
    if let Some(u) = f.user_id {
        match view {
            View::Flows | View::Orders | View::Accounts => {
                w.push_str(" AND t.user_id = ?");
                args.push(Arg::from(u));
            }
            View::Notify => {
                w.push_str(" AND t.bind_code IN (SELECT bind_code FROM user_info WHERE id = ?)");
                args.push(Arg::from(u));
            }
            View::Idempotency => {
                w.push_str(
                    " AND t.seq IN (SELECT agent_bill_no FROM recharge_order WHERE user_id = ?)",
                );
                args.push(Arg::from(u));
            }
        }
    }
    if let Some(tt) = f.trans_type {
        if view != View::Flows {
            return Err(DbError::State("--type filters flows only".into()));
        }
        w.push_str(" AND t.trans_type = ?");
        args.push(Arg::from(tt));
    }
    if let Some(s) = &f.status {
        match view {
            View::Orders => {
                let code = s
                    .parse::<i64>()
                    .ok()
                    .or_else(|| {
                        OrderStatus::ALL
                            .iter()
                            .find(|o| o.name_zh() == s)
                            .map(|o| o.code())
                    })
                    .ok_or_else(|| {
                        DbError::State(format!(
                            "order status '{s}' is not 0, 1, 2, 3 or its Chinese name"
                        ))
                    })?;
                w.push_str(" AND t.status = ?");
                args.push(Arg::from(code));
            }
            View::Notify => {
                w.push_str(" AND t.outcome = ?");
                args.push(Arg::from(s.clone()));
            }
            View::Idempotency => {
                w.push_str(" AND t.status = ?");
                args.push(Arg::from(s.clone()));
            }
            View::Flows | View::Accounts => {
                return Err(DbError::State(format!(
                    "{} have no status to filter by",
                    view.table()
                )));
            }
        }
    }
    let tc = view.time_col();
    if let Some(t) = f.from {
        w.push_str(&format!(" AND {tc} >= ?"));
        args.push(time_bound(db, t));
    }
    if let Some(t) = f.to {
        w.push_str(&format!(" AND {tc} < ?"));
        args.push(time_bound(db, t));
    }
    if f.min_amount.is_some() || f.max_amount.is_some() {
        let col = view.amount_col().ok_or_else(|| {
            DbError::State(format!("{} have no amount to filter by", view.table()))
        })?;
        let c = db.money_cmp(col);
        for (bound, op) in [(f.min_amount, ">="), (f.max_amount, "<=")] {
            if let Some(b) = bound {
                w.push_str(&format!(" AND {c} {op} ?"));
                args.push(money_arg(db, b)?);
            }
        }
    }
    let head = match view {
        View::Flows => "SELECT t.id, t.user_id, t.user_name, t.trans_no, t.trans_type, t.trans_type_name, t.trans_amount, t.memo, t.create_time, t.is_deleted FROM trans_flow t".to_owned(),
        View::Orders => "SELECT t.id, t.agent_bill_no, t.user_id, t.bind_code, t.charge_amt, t.fee_amt, t.status, t.version, t.create_time, t.update_time FROM recharge_order t".to_owned(),
        View::Notify => "SELECT t.id, t.agent_bill_no, t.bind_code, t.charge_amt, t.result_code, t.sign_ok, t.outcome, t.response_body, t.received_at, t.handled_ms FROM notify_log t".to_owned(),
        View::Idempotency => "SELECT t.id, t.source, t.seq, t.request_hash, t.status, t.response_body, t.locked_at, t.created_at, t.completed_at, t.expires_at FROM idempotency_record t".to_owned(),
        View::Accounts => {
            let da = crate::recon::checks::effect_sum(db, false);
            let df = crate::recon::checks::effect_sum(db, true);
            let (a, fz) = (db.money_cmp("t.amount"), db.money_cmp("t.freeze_amount"));
            let scan = db.full_scan("trans_flow");
            if f.mismatched_only {
                w.push_str(&format!(
                    " AND ({a} <> COALESCE(e.da, 0) OR {fz} <> COALESCE(e.df, 0))"
                ));
            }
            format!(
                "SELECT t.user_id, {a}, e.da, {fz}, e.df, e.n, t.version, t.update_time FROM user_account t \
                 LEFT JOIN (SELECT user_id, {da} AS da, {df} AS df, COUNT(*) AS n FROM {scan} WHERE is_deleted = 0 GROUP BY user_id) e \
                 ON e.user_id = t.user_id"
            )
        }
    };
    Ok(Parts {
        head,
        filter: w,
        args,
    })
}

/// An amount bound for comparison with [`Db::money_cmp`]: cents on SQLite.
pub(crate) fn money_arg(db: &Db, d: Decimal) -> Result<Arg, DbError> {
    if db.backend() == Backend::Sqlite {
        crate::money::to_cents(d)
            .map(Arg::from)
            .ok_or_else(|| DbError::State(format!("amount {d} is out of range")))
    } else {
        Ok(Arg::from(d))
    }
}

fn time_text(t: Option<NaiveDateTime>, ms: bool) -> String {
    t.map(|t| {
        if ms {
            t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
        } else {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
    })
    .unwrap_or_default()
}

/// An accounts row's cells: each stored balance beside the one its flows imply,
/// and the difference. Shared by the accounts view and `browse::account_rows`.
pub(crate) fn account_cells(
    user_id: Option<i64>,
    (amount, expected_amount): (Decimal, Decimal),
    (freeze, expected_freeze): (Decimal, Decimal),
    flows: i64,
    version: Option<i64>,
    updated: Option<NaiveDateTime>,
) -> Vec<String> {
    vec![
        user_id.map(|v| v.to_string()).unwrap_or_default(),
        format_amount(amount),
        format_amount(expected_amount),
        format_amount(amount - expected_amount),
        format_amount(freeze),
        format_amount(expected_freeze),
        format_amount(freeze - expected_freeze),
        flows.to_string(),
        version.map(|v| v.to_string()).unwrap_or_default(),
        time_text(updated, false),
    ]
}

fn amt(d: Option<Decimal>) -> String {
    d.map(format_amount).unwrap_or_default()
}

/// Formats one row of a view's query as display/CSV cells.
pub fn format_row(db: &Db, view: View, r: &Row) -> Result<Vec<String>, DbError> {
    let d = |e| db.decode(view.table(), e);
    let int = |i: usize| -> Result<String, DbError> {
        Ok(r.opt_i64(i)
            .map_err(d)?
            .map(|v| v.to_string())
            .unwrap_or_default())
    };
    let text = |i: usize| -> Result<String, DbError> { r.text(i).map_err(d) };
    let money = |i: usize| -> Result<String, DbError> { Ok(amt(r.opt_money(i).map_err(d)?)) };
    let time = |i: usize, ms: bool| -> Result<String, DbError> {
        Ok(time_text(r.opt_time(i).map_err(d)?, ms))
    };
    Ok(match view {
        View::Flows => {
            let tt = r.opt_i64(4).map_err(d)?;
            let name = r.opt_text(5).map_err(d)?.unwrap_or_else(|| {
                tt.and_then(TransType::from_code)
                    .map(|t| t.name_zh().to_owned())
                    .unwrap_or_default()
            });
            vec![
                int(0)?,
                int(1)?,
                text(2)?,
                text(3)?,
                int(4)?,
                name,
                money(6)?,
                text(7)?,
                time(8, true)?,
                int(9)?,
            ]
        }
        View::Orders => {
            let st = r.opt_i64(6).map_err(d)?;
            let name = st
                .and_then(OrderStatus::from_code)
                .map(|s| s.name_zh())
                .unwrap_or("?")
                .to_owned();
            vec![
                int(0)?,
                text(1)?,
                int(2)?,
                text(3)?,
                money(4)?,
                money(5)?,
                int(6)?,
                name,
                int(7)?,
                time(8, true)?,
                time(9, true)?,
            ]
        }
        View::Notify => vec![
            int(0)?,
            text(1)?,
            text(2)?,
            money(3)?,
            text(4)?,
            int(5)?,
            text(6)?,
            text(7)?,
            time(8, true)?,
            int(9)?,
        ],
        View::Idempotency => vec![
            int(0)?,
            text(1)?,
            text(2)?,
            text(3)?.trim().to_owned(),
            text(4)?,
            text(5)?,
            time(6, true)?,
            time(7, true)?,
            time(8, true)?,
            time(9, true)?,
        ],
        View::Accounts => {
            let money = |i: usize| -> Result<Decimal, DbError> {
                Ok(r.opt_money_agg(i).map_err(d)?.unwrap_or_default())
            };
            account_cells(
                r.opt_i64(0).map_err(d)?,
                (money(1)?, money(2)?),
                (money(3)?, money(4)?),
                r.opt_i64(5).map_err(d)?.unwrap_or(0),
                r.opt_i64(6).map_err(d)?,
                r.opt_time(7).map_err(d)?,
            )
        }
    })
}

/// A time range's bound as bound to the backend. SQLite compares the text it
/// stores, with or without milliseconds (`…00:00:00` or `…00:00:00.000`): a
/// bound on a whole second is written without them, which sorts at or below
/// both spellings of that second, so that `>=` keeps a row stamped exactly on
/// it and `<` leaves it out, whichever spelling the database uses.
pub(crate) fn time_bound(db: &Db, t: chrono::NaiveDateTime) -> Arg {
    use chrono::Timelike as _;
    if db.backend() == crate::db::Backend::Sqlite && t.nanosecond() == 0 {
        Arg::from(t.format("%Y-%m-%d %H:%M:%S").to_string())
    } else {
        Arg::from(t)
    }
}
