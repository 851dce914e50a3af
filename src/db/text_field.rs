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

/// Seconds since 1970 as MySQL's `UNIX_TIMESTAMP` prints them
/// (`[-]S[.ffffff]`), in microseconds.
pub(crate) fn epoch_micros(f: &[u8], col: &str) -> Result<i64, DecodeError> {
    let bad = || {
        derr(
            col,
            format!("not seconds since 1970: {}", String::from_utf8_lossy(f)),
        )
    };
    let (secs, frac) = match f.iter().position(|&c| c == b'.') {
        Some(i) if i + 1 < f.len() => (&f[..i], &f[i + 1..]),
        Some(_) => return Err(bad()),
        None => (f, &b""[..]),
    };
    if frac.len() > 6 || !frac.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let s = parse_i64(secs).ok_or_else(bad)?;
    let us = frac
        .iter()
        .chain(std::iter::repeat(&b'0'))
        .take(6)
        .fold(0i64, |a, &c| a * 10 + i64::from(c - b'0'));
    let us = if s < 0 || secs.first() == Some(&b'-') {
        -us
    } else {
        us
    };
    s.checked_mul(1_000_000)
        .and_then(|v| v.checked_add(us))
        .ok_or_else(bad)
}

/// A UTF-8 text field.
pub(crate) fn text<'a>(f: &'a [u8], col: &str) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(f).map_err(|e| derr(col, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_micros_reads_unix_timestamp_text() {
        assert_eq!(
            epoch_micros(b"1763568000", "t").unwrap(),
            1_763_568_000_000_000
        );
        assert_eq!(
            epoch_micros(b"1763568000.5", "t").unwrap(),
            1_763_568_000_500_000
        );
        assert_eq!(epoch_micros(b"0.000001", "t").unwrap(), 1);
        assert_eq!(epoch_micros(b"-1.5", "t").unwrap(), -1_500_000);
        for bad in [&b""[..], b"1.", b"x", b"1.1234567", b"1.2a", b"1e3"] {
            assert!(epoch_micros(bad, "t").is_err(), "{bad:?}");
        }
    }
}
