//! Fields as the servers print them in their text wire forms (PostgreSQL's
//! COPY text format, MySQL's text protocol): integers, exact amounts, times
//! and UTF-8 text parsed straight from the bytes, without a typed decode per
//! cell. Shared by `pg_copy` and `mysql_read`.

use super::DecodeError;
use crate::money;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use std::str::FromStr as _;

pub(crate) fn derr(column: &str, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError {
        column: column.to_owned(),
        reason: reason.to_string(),
    }
}

/// An integer as the servers print it (`-?[0-9]+`), without a UTF-8 pass.
pub(crate) fn parse_i64(f: &[u8]) -> Option<i64> {
    let (neg, digits) = match f.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, f),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        // Accumulate negatively so that i64::MIN parses.
        v = v.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
    }
    if neg { Some(v) } else { v.checked_neg() }
}

/// An integer field.
pub(crate) fn int(f: &[u8], col: &str) -> Result<i64, DecodeError> {
    parse_i64(f).ok_or_else(|| {
        derr(
            col,
            format!("not an integer: {}", String::from_utf8_lossy(f)),
        )
    })
}

/// A DECIMAL/NUMERIC field as an exact decimal.
pub(crate) fn decimal(f: &[u8], col: &str) -> Result<Decimal, DecodeError> {
    if let Some(c) = money::fast_cents(f) {
        return Ok(Decimal::new(c, money::SCALE));
    }
    let s = std::str::from_utf8(f).map_err(|e| derr(col, e))?;
    Decimal::from_str(s).map_err(|e| derr(col, format!("{s}: {e}")))
}

/// An amount of at most two decimals (a DECIMAL with scale ≤ 2, or an
/// integer) in cents.
pub(crate) fn cents(f: &[u8], col: &str) -> Result<i64, DecodeError> {
    if let Some(c) = money::fast_cents(f) {
        return Ok(c);
    }
    let s = std::str::from_utf8(f).map_err(|e| derr(col, e))?;
    let d = Decimal::from_str(s).map_err(|e| derr(col, format!("{s}: {e}")))?;
    if d.scale() > money::SCALE && d.round_dp(money::SCALE) != d {
        return Err(derr(col, format!("{s} has more than two decimals")));
    }
    money::to_cents(d).ok_or_else(|| derr(col, format!("{s} does not fit in cents")))
}

/// A `YYYY-MM-DD HH:MM:SS[.f]` time (PostgreSQL's ISO DateStyle, MySQL's
/// DATETIME and TIMESTAMP in the session's time zone).
pub(crate) fn time(f: &[u8], col: &str) -> Result<NaiveDateTime, DecodeError> {
    super::sqlite_read::fast_time(f).ok_or_else(|| {
        derr(
            col,
            format!("invalid datetime: {}", String::from_utf8_lossy(f)),
        )
    })
}

/// A UTF-8 text field.
pub(crate) fn text<'a>(f: &'a [u8], col: &str) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(f).map_err(|e| derr(col, e))
}
