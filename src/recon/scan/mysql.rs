//! The MySQL/MariaDB scanner of the checks' fast path (`super::server`).
//!
//! `trans_flow` and `recharge_order` are each read once, in one query without
//! parameters: MySQL then answers in the text protocol and streams the rows
//! as it reads them (`db::mysql_read`), and payrecon parses only the fields
//! it needs. The period tests run in payrecon on the time the server prints
//! (TIMESTAMP in the session's business time zone, DATETIME as stored), as
//! the SQL's comparisons with the period's bounds would run in that session.
//!
//! Bills are compared byte for byte, as the gateway writes them; the SQL
//! this replaces compared them under the columns' collation (srb's
//! `utf8_general_ci`: `'abc' = 'ABC '`). The two differ only for bills that
//! differ in letter case or trailing spaces, which `uk_trans_no` under such a
//! collation already keeps out of `trans_flow`.
//!
//! It runs only when every column it reads has a type whose text it parses
//! (integers, DECIMAL with at most two decimals, text, DATETIME/TIMESTAMP)
//! and `id` is the primary key of both tables; otherwise the SQL runs.

use super::server::{
    FlowFields, FlowsScan, OrdersScan, PeriodTests, decode_err, flow_err, micros, null_of,
    reservation,
};
use super::{MatchJob, Paid, Wanted};
use crate::db::mysql_read::TextRow;
use crate::db::{Db, DbError, DecodeError};
use crate::recon::checks::Scope;
use crate::recon::matching::MatchError;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// What [`fits`] learnt.
#[derive(Debug, Clone, Copy)]
pub(in crate::recon) struct Fit {
    /// The order checks run (the flows' range test is wanted).
    orders: bool,
    /// `trans_flow.create_time` is a TIMESTAMP (read as `UNIX_TIMESTAMP`).
    flow_epoch: bool,
    /// `recharge_order.create_time` is a TIMESTAMP.
    order_epoch: bool,
}

/// How a scan reads `create_time`.
#[derive(Debug, Clone, Copy)]
enum TimeRead {
    /// A DATETIME as the server prints it.
    Text,
    /// A TIMESTAMP as `UNIX_TIMESTAMP(create_time)`: the stored instant,
    /// which the server reads without converting it to the session's zone
    /// (printing a TIMESTAMP converts and formats each one: a tenth of the
    /// server's time on the flows); then shifted by the business zone's
    /// offset, which is the session's zone, into its wall-clock time.
    Epoch {
        /// The business zone's offset from UTC, in microseconds.
        offset_us: i64,
    },
}

/// Microseconds from 1970-01-01 to 2000-01-01 (the period tests' origin).
const EPOCH_2000_US: i64 = 946_684_800_000_000;

impl TimeRead {
    fn new(epoch: bool, db: &Db) -> Self {
        if epoch {
            TimeRead::Epoch {
                offset_us: i64::from(db.business_tz().local_minus_utc()) * 1_000_000,
            }
        } else {
            TimeRead::Text
        }
    }

    /// The select-list expression of `col`.
    fn select(self, col: &str) -> String {
        match self {
            TimeRead::Text => col.to_owned(),
            TimeRead::Epoch { .. } => format!("UNIX_TIMESTAMP({col})"),
        }
    }

    /// The period tests of field `i` of `row`.
    fn flags(
        self,
        row: &TextRow<'_>,
        i: usize,
        tests: &PeriodTests,
        table: &str,
    ) -> Result<[bool; 4], MatchError> {
        let d = |e| decode_err(table, e);
        match self {
            TimeRead::Text => time_flags(tests, row.opt_time(i, "create_time").map_err(d)?, table),
            TimeRead::Epoch { offset_us } => {
                let us = match row.raw(i, "create_time").map_err(d)? {
                    Some(f) => Some(
                        crate::db::text_field::epoch_micros(f, "create_time")
                            .map_err(d)?
                            .saturating_add(offset_us)
                            .saturating_sub(EPOCH_2000_US),
                    ),
                    None => None,
                };
                Ok(tests.flags(us))
            }
        }
    }
}

/// A column's type as `information_schema.columns` says it.
struct ColumnType {
    data_type: String,
    scale: Option<i64>,
}

impl ColumnType {
    fn integer(&self) -> bool {
        matches!(
            self.data_type.as_str(),
            "tinyint" | "smallint" | "mediumint" | "int" | "bigint"
        )
    }

    fn cents(&self) -> bool {
        self.integer() || (self.data_type == "decimal" && self.scale.is_some_and(|s| s <= 2))
    }

    fn text(&self) -> bool {
        matches!(
            self.data_type.as_str(),
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
        )
    }

    fn time(&self) -> bool {
        matches!(self.data_type.as_str(), "datetime" | "timestamp")
    }
}

/// The columns of `table` with their types, and whether `id` alone is its primary key.
async fn columns(db: &Db, table: &str) -> Result<(HashMap<String, ColumnType>, bool), DbError> {
    let d = |e| db.decode("information_schema", e);
    let mut out = HashMap::new();
    for r in db
        .fetch_all(
            "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR), numeric_scale \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?",
            &[table.into()],
        )
        .await?
    {
        out.insert(
            r.text(0).map_err(d)?.to_lowercase(),
            ColumnType {
                data_type: r.text(1).map_err(d)?.to_lowercase(),
                scale: r.opt_i64(2).map_err(d)?,
            },
        );
    }
    let key: Vec<String> = db
        .fetch_all(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = ? AND index_name = 'PRIMARY'",
            &[table.into()],
        )
        .await?
        .iter()
        .map(|r| r.text(0).map(|c| c.to_lowercase()))
        .collect::<Result<_, _>>()
        .map_err(d)?;
    let id_key = key == ["id"] && out.get("id").is_some_and(ColumnType::integer);
    Ok((out, id_key))
}

/// Whether every column the scan reads has a type it parses, and `id` is the
/// primary key where rows are read again: `Some` when so.
pub(in crate::recon) async fn fits(db: &Db, want: Wanted) -> Result<Option<Fit>, DbError> {
    let is = |t: &HashMap<String, ColumnType>, c: &str, ok: fn(&ColumnType) -> bool| {
        t.get(c).is_some_and(ok)
    };
    let (flow, flow_id) = columns(db, "trans_flow").await?;
    let mut ok = is(&flow, "user_id", ColumnType::integer)
        && is(&flow, "trans_type", ColumnType::integer)
        && is(&flow, "trans_amount", ColumnType::cents)
        && is(&flow, "is_deleted", ColumnType::integer)
        && is(&flow, "create_time", ColumnType::time);
    if want.balances {
        let (acc, _) = columns(db, "user_account").await?;
        ok &= is(&acc, "user_id", ColumnType::integer)
            && is(&acc, "amount", ColumnType::cents)
            && is(&acc, "freeze_amount", ColumnType::cents)
            && is(&acc, "is_deleted", ColumnType::integer);
    }
    let ts = |t: &HashMap<String, ColumnType>| {
        t.get("create_time")
            .is_some_and(|c| c.data_type == "timestamp")
    };
    let mut order_epoch = false;
    if want.orders {
        let (ord, order_id) = columns(db, "recharge_order").await?;
        order_epoch = ts(&ord);
        ok &= is(&flow, "trans_no", ColumnType::text)
            && is(&ord, "agent_bill_no", ColumnType::text)
            && is(&ord, "status", ColumnType::integer)
            && is(&ord, "create_time", ColumnType::time)
            && flow_id
            && order_id;
    }
    Ok(ok.then_some(Fit {
        orders: want.orders,
        flow_epoch: ts(&flow),
        order_epoch,
    }))
}

/// InnoDB's row estimate of `table` (0 when unknown), as [`reservation`] takes it.
async fn estimated_rows(db: &Db, table: &str) -> Result<usize, DbError> {
    let rows = db
        .fetch_all(
            "SELECT CAST(COALESCE(table_rows, 0) AS SIGNED) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = ?",
            &[table.into()],
        )
        .await?;
    let n = match rows.first() {
        Some(r) => r.i64(0).map_err(|e| db.decode("information_schema", e))?,
        None => 0,
    };
    Ok(reservation(n))
}

/// A row of the flows' query, decoded as [`FlowFields`] asks.
struct TextFlow<'r, 'a> {
    row: &'r TextRow<'a>,
    tests: &'r PeriodTests,
    time: TimeRead,
}

impl FlowFields for TextFlow<'_, '_> {
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
        Ok(self
            .row
            .opt_text(3, "trans_no")
            .map_err(flow_err)?
            .map(Cow::Borrowed))
    }
    fn id(&self) -> Result<Option<i64>, MatchError> {
        self.row.opt_i64(4, "id").map_err(flow_err)
    }
    fn tests(&self) -> Result<[bool; 4], MatchError> {
        self.time.flags(self.row, 5, self.tests, "trans_flow")
    }
}

/// The period tests of a parsed time (a time beyond the micros' range is an error).
fn time_flags(
    tests: &PeriodTests,
    t: Option<chrono::NaiveDateTime>,
    table: &str,
) -> Result<[bool; 4], MatchError> {
    let us = match t {
        Some(t) => Some(micros(t).ok_or_else(|| {
            decode_err(
                table,
                DecodeError {
                    column: "create_time".into(),
                    reason: format!("{t} is out of range"),
                },
            )
        })?),
        None => None,
    };
    Ok(tests.flags(us))
}

/// The period tests, or the error of a period payrecon cannot test.
fn period_tests(
    scope: &Scope,
    orders: bool,
    job: Option<&MatchJob>,
) -> Result<PeriodTests, MatchError> {
    PeriodTests::new(scope, orders, job)
        .ok_or_else(|| DbError::State("the period is out of the range of times".into()).into())
}

/// The flows, streamed into `scan`.
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
    let tests = period_tests(scope, fit.orders, job)?;
    let time = TimeRead::new(fit.flow_epoch, db);
    let bills = scan.wants_bills();
    let sql = format!(
        "SELECT user_id, trans_type, trans_amount, {} FROM trans_flow WHERE is_deleted = 0{}",
        if bills {
            format!("trans_no, id, {}", time.select("create_time"))
        } else {
            "NULL, NULL, NULL".to_owned()
        },
        if scan.recharges_only() {
            " AND trans_type = 1"
        } else {
            ""
        },
    );
    if bills {
        scan.reserve(estimated_rows(db, "trans_flow").await?);
    }
    db.mysql_text_rows(&sql, |row| -> Result<(), MatchError> {
        if scan.rows.is_multiple_of(65_536) {
            progress("checks", scan.rows);
            if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                return Err(MatchError::Cancelled);
            }
        }
        scan.push(&TextFlow {
            row,
            tests: &tests,
            time,
        })
    })
    .await?;
    progress("checks", scan.rows);
    Ok(())
}

/// The orders, streamed into `scan`: each bill with its `status = 2` and period test.
pub(super) async fn scan_orders(
    db: &Db,
    fit: Fit,
    scope: &Scope,
    scan: &mut OrdersScan<'_>,
    stop: &AtomicBool,
) -> Result<(), MatchError> {
    let tests = period_tests(scope, true, None)?;
    let time = TimeRead::new(fit.order_epoch, db);
    let d = |e| MatchError::Db(db.decode("recharge_order", e));
    scan.reserve(estimated_rows(db, "recharge_order").await?);
    let sql = format!(
        "SELECT agent_bill_no, id, status, {} FROM recharge_order",
        time.select("create_time")
    );
    db.mysql_text_rows(&sql, |row| -> Result<(), MatchError> {
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
        let in_range = time.flags(row, 3, &tests, "recharge_order")?[0];
        scan.push(
            row.opt_text(0, "agent_bill_no").map_err(d)?,
            id,
            paid,
            in_range,
        );
        Ok(())
    })
    .await
}

/// The accounts: (user, amount, freeze) in cents.
pub(super) async fn scan_accounts(
    db: &Db,
    each: &mut (dyn FnMut(i64, Option<i64>, Option<i64>) + Send),
) -> Result<(), MatchError> {
    let d = |e| MatchError::Db(db.decode("user_account", e));
    db.mysql_text_rows(
        "SELECT user_id, amount, freeze_amount FROM user_account WHERE is_deleted = 0",
        |row| -> Result<(), MatchError> {
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
        },
    )
    .await
}
