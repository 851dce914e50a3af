//! Backend-neutral statements: `?` placeholders, typed arguments, typed row access.
//!
//! SQL in payrecon is written once with `?` placeholders (rewritten to `$n` for
//! PostgreSQL) and arguments are bound with the type each backend needs for
//! exact money: `NUMERIC`/`DECIMAL` get a [`Decimal`], SQLite gets canonical
//! TEXT. User input only ever reaches SQL as a bound argument.

use crate::money;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use sqlx::{Column, Row as _, TypeInfo, ValueRef};

/// One bound argument. `None` binds a typed NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// An integer (ids, codes, flags).
    Int(Option<i64>),
    /// Text.
    Text(Option<String>),
    /// An exact amount.
    Money(Option<Decimal>),
    /// A naive business-local time (millisecond precision is kept).
    Time(Option<NaiveDateTime>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Self::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Self::Text(v)
    }
}
impl From<Decimal> for Arg {
    fn from(v: Decimal) -> Self {
        Self::Money(Some(v))
    }
}
impl From<NaiveDateTime> for Arg {
    fn from(v: NaiveDateTime) -> Self {
        Self::Time(Some(v))
    }
}
impl From<Option<Decimal>> for Arg {
    fn from(v: Option<Decimal>) -> Self {
        Self::Money(v)
    }
}
impl From<Option<NaiveDateTime>> for Arg {
    fn from(v: Option<NaiveDateTime>) -> Self {
        Self::Time(v)
    }
}

/// Builds an argument list: `args![id, "x", amount]`.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => { [$($crate::db::Arg::from($a)),*] };
}

/// Time format of TEXT times on SQLite (sorts like the time itself).
pub const SQLITE_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// A value that could not be read as the type the engine needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column '{column}': {reason}")]
pub struct DecodeError {
    /// Column name.
    pub column: String,
    /// What is wrong.
    pub reason: String,
}

/// A result row from any backend.
pub enum Row {
    /// SQLite.
    Sqlite(sqlx::sqlite::SqliteRow),
    /// PostgreSQL.
    Postgres(sqlx::postgres::PgRow),
    /// MySQL/MariaDB.
    MySql(sqlx::mysql::MySqlRow),
}

/// A decimal that must be a whole number fitting in `i64`.
fn whole(column: &str, d: Decimal) -> Result<i64, DecodeError> {
    use rust_decimal::prelude::ToPrimitive as _;
    if d.fract().is_zero() {
        d.to_i64()
            .ok_or_else(|| derr(column, format!("{d} does not fit in a 64-bit integer")))
    } else {
        Err(derr(column, format!("{d} is not a whole number")))
    }
}

fn derr(column: &str, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError {
        column: column.to_owned(),
        reason: reason.to_string(),
    }
}

impl Row {
    fn column_name(&self, i: usize) -> String {
        match self {
            Self::Sqlite(r) => r.columns().get(i).map(|c| c.name().to_owned()),
            Self::Postgres(r) => r.columns().get(i).map(|c| c.name().to_owned()),
            Self::MySql(r) => r.columns().get(i).map(|c| c.name().to_owned()),
        }
        .unwrap_or_else(|| format!("#{i}"))
    }

    /// The type name the server reported for column `i`, and whether the value is NULL.
    fn raw_type(&self, i: usize) -> Result<(String, bool), DecodeError> {
        let e = |x: sqlx::Error| derr(&self.column_name(i), x);
        Ok(match self {
            Self::Sqlite(r) => {
                let v = r.try_get_raw(i).map_err(e)?;
                (v.type_info().name().to_owned(), v.is_null())
            }
            Self::Postgres(r) => {
                let v = r.try_get_raw(i).map_err(e)?;
                (v.type_info().name().to_owned(), v.is_null())
            }
            Self::MySql(r) => {
                let v = r.try_get_raw(i).map_err(e)?;
                (v.type_info().name().to_owned(), v.is_null())
            }
        })
    }

    /// An integer column (any integer width or a boolean); NULL → `None`.
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, DecodeError> {
        let (ty, null) = self.raw_type(i)?;
        if null {
            return Ok(None);
        }
        let e = |x: sqlx::Error| derr(&self.column_name(i), x);
        let v = match self {
            Self::Sqlite(r) => r.try_get::<i64, _>(i).map_err(e)?,
            Self::Postgres(r) => match ty.as_str() {
                "INT2" => i64::from(r.try_get::<i16, _>(i).map_err(e)?),
                "INT4" => i64::from(r.try_get::<i32, _>(i).map_err(e)?),
                "BOOL" => i64::from(r.try_get::<bool, _>(i).map_err(e)?),
                // SUM(bigint) is NUMERIC.
                "NUMERIC" => whole(&self.column_name(i), r.try_get::<Decimal, _>(i).map_err(e)?)?,
                _ => r.try_get::<i64, _>(i).map_err(e)?,
            },
            Self::MySql(r) => {
                if ty == "DECIMAL" {
                    // SUM() of integers is DECIMAL in MySQL.
                    whole(&self.column_name(i), r.try_get::<Decimal, _>(i).map_err(e)?)?
                } else if ty.contains("UNSIGNED") {
                    let u = r.try_get::<u64, _>(i).map_err(e)?;
                    i64::try_from(u).map_err(|x| derr(&self.column_name(i), x))?
                } else if ty == "BOOLEAN" {
                    i64::from(r.try_get::<bool, _>(i).map_err(e)?)
                } else {
                    r.try_get::<i64, _>(i).map_err(e)?
                }
            }
        };
        Ok(Some(v))
    }

    /// A non-NULL integer column.
    pub fn i64(&self, i: usize) -> Result<i64, DecodeError> {
        self.opt_i64(i)?
            .ok_or_else(|| derr(&self.column_name(i), "is NULL"))
    }

    /// A text column; NULL → `None`.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DecodeError> {
        let e = |x: sqlx::Error| derr(&self.column_name(i), x);
        match self {
            Self::Sqlite(r) => r.try_get(i).map_err(e),
            Self::Postgres(r) => r.try_get(i).map_err(e),
            Self::MySql(r) => r.try_get(i).map_err(e),
        }
    }

    /// A text column, NULL read as empty.
    pub fn text(&self, i: usize) -> Result<String, DecodeError> {
        Ok(self.opt_text(i)?.unwrap_or_default())
    }

    /// An exact amount; NULL → `None`.
    ///
    /// SQLite may hold TEXT, INTEGER or REAL (SPEC §3); a REAL that is not an
    /// exact cent amount is an error naming the value. Float columns on the
    /// servers are refused: their amounts cannot be trusted to the cent.
    pub fn opt_money(&self, i: usize) -> Result<Option<Decimal>, DecodeError> {
        let (ty, null) = self.raw_type(i)?;
        if null {
            return Ok(None);
        }
        let col = self.column_name(i);
        let e = |x: sqlx::Error| derr(&col, x);
        let d = match self {
            Self::Sqlite(r) => match ty.as_str() {
                "INTEGER" => Decimal::from(r.try_get::<i64, _>(i).map_err(e)?),
                "REAL" => {
                    // Only the storage class is a float: its shortest round-trip
                    // text is parsed as a decimal, never computed with.
                    let f: f64 = r.try_get(i).map_err(e)?;
                    money::parse_real_text(&f.to_string()).map_err(|x| derr(&col, x))?
                }
                _ => {
                    let s: String = r.try_get(i).map_err(e)?;
                    money::parse_amount(&s).map_err(|x| derr(&col, x))?
                }
            },
            Self::Postgres(r) => match ty.as_str() {
                "NUMERIC" => r.try_get::<Decimal, _>(i).map_err(e)?,
                "INT2" | "INT4" | "INT8" => Decimal::from(self.i64(i)?),
                other => {
                    return Err(derr(
                        &col,
                        format!("has type {other}; amounts must be NUMERIC"),
                    ));
                }
            },
            Self::MySql(r) => match ty.as_str() {
                "DECIMAL" => r.try_get::<Decimal, _>(i).map_err(e)?,
                t if t.contains("INT") => Decimal::from(self.i64(i)?),
                other => {
                    return Err(derr(
                        &col,
                        format!("has type {other}; amounts must be DECIMAL"),
                    ));
                }
            },
        };
        money::normalize(d)
            .map(Some)
            .ok_or_else(|| derr(&col, format!("{d} has more than two decimal places")))
    }

    /// A non-NULL amount.
    pub fn money(&self, i: usize) -> Result<Decimal, DecodeError> {
        self.opt_money(i)?
            .ok_or_else(|| derr(&self.column_name(i), "is NULL"))
    }

    /// An aggregate amount produced by [`super::Db::money_sum`] or
    /// [`super::Db::money_cmp`]: DECIMAL on the servers, integer cents on SQLite.
    pub fn opt_money_agg(&self, i: usize) -> Result<Option<Decimal>, DecodeError> {
        match self {
            Self::Sqlite(_) => Ok(self.opt_i64(i)?.map(|c| Decimal::new(c, money::SCALE))),
            _ => self.opt_money(i),
        }
    }

    /// A time as naive business-local time; NULL → `None`.
    pub fn opt_time(&self, i: usize) -> Result<Option<NaiveDateTime>, DecodeError> {
        let (ty, null) = self.raw_type(i)?;
        if null {
            return Ok(None);
        }
        let e = |x: sqlx::Error| derr(&self.column_name(i), x);
        let t = match self {
            Self::Sqlite(r) => r.try_get::<NaiveDateTime, _>(i).map_err(e)?,
            Self::Postgres(r) => {
                if ty == "TIMESTAMPTZ" {
                    // Session TimeZone is the business zone; show wall-clock time there.
                    let t: chrono::DateTime<chrono::FixedOffset> = r.try_get(i).map_err(e)?;
                    t.naive_local()
                } else {
                    r.try_get::<NaiveDateTime, _>(i).map_err(e)?
                }
            }
            // The session time_zone is the business zone, so TIMESTAMP values arrive as
            // business wall-clock time; DateTime<Utc> is the decoder that accepts both
            // DATETIME and TIMESTAMP columns, and its naive part is that wall-clock time.
            Self::MySql(r) => r
                .try_get::<chrono::DateTime<chrono::Utc>, _>(i)
                .map_err(e)?
                .naive_utc(),
        };
        Ok(Some(t))
    }

    /// A non-NULL time.
    pub fn time(&self, i: usize) -> Result<NaiveDateTime, DecodeError> {
        self.opt_time(i)?
            .ok_or_else(|| derr(&self.column_name(i), "is NULL"))
    }
}

/// Rewrites `?` placeholders to PostgreSQL's `$1, $2, …` (outside quotes).
pub fn to_postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (Some(q), _) if c == q => {
                quote = None;
                out.push(c);
            }
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

pub(crate) fn bind_sqlite<'q>(
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    a: &Arg,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    match a {
        Arg::Int(v) => q.bind(*v),
        Arg::Text(v) => q.bind(v.clone()),
        Arg::Money(v) => q.bind(v.map(money::format_amount)),
        Arg::Time(v) => q.bind(v.map(|t| t.format(SQLITE_TIME_FORMAT).to_string())),
    }
}

pub(crate) fn bind_postgres<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    a: &Arg,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match a {
        Arg::Int(v) => q.bind(*v),
        Arg::Text(v) => q.bind(v.clone()),
        Arg::Money(v) => q.bind(*v),
        Arg::Time(v) => q.bind(*v),
    }
}

pub(crate) fn bind_mysql<'q>(
    q: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    a: &Arg,
) -> sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    match a {
        Arg::Int(v) => q.bind(*v),
        Arg::Text(v) => q.bind(v.clone()),
        Arg::Money(v) => q.bind(*v),
        Arg::Time(v) => q.bind(*v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_skip_quotes() {
        assert_eq!(
            to_postgres_placeholders("select '?' , a from t where a=? and b = ?"),
            "select '?' , a from t where a=$1 and b = $2"
        );
    }
}
