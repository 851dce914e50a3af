//! A synchronous, read-only SQLite reader for bulk work (export, matching, checks).
//!
//! sqlx runs SQLite on a worker thread and sends every row over a channel to
//! the async task, allocating a `String` per cell: on 2 cores that hop was most
//! of the time of a million-row scan (docs/BENCHMARKS.md). This reader runs the
//! statement on the calling thread (callers use `spawn_blocking`) and hands out
//! borrowed values. It opens the file with `SQLITE_OPEN_READ_ONLY`, so it can
//! never write the payment database, and reads values with the same rules as
//! [`super::Row`]: exact money (TEXT, INTEGER, or a REAL that is an exact cent
//! amount), times as naive business time.

use super::query::{Arg, DecodeError};
use super::{DbError, DbResult};
use crate::money;
use chrono::{Datelike as _, NaiveDate, NaiveDateTime, NaiveTime, Timelike as _};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A read-only connection to one SQLite file.
pub struct SqliteReader {
    conn: Connection,
    path: PathBuf,
}

fn derr(column: &str, reason: impl std::fmt::Display) -> DecodeError {
    DecodeError {
        column: column.to_owned(),
        reason: reason.to_string(),
    }
}

impl SqliteReader {
    /// Opens `path` read-only (the file must exist).
    pub fn open(path: &Path) -> DbResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| DbError::Connect {
            backend: "SQLite",
            target: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let r = Self {
            conn,
            path: path.to_path_buf(),
        };
        r.conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(|e| r.err(e))?;
        // Bulk reads scan tables in rowid order: a modest page cache is enough,
        // and its pages count against the memory budget (§9).
        r.conn
            .execute_batch("PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;")
            .map_err(|e| r.err(e))?;
        Ok(r)
    }

    /// Wraps a driver error with the file it happened on.
    pub fn err(&self, source: rusqlite::Error) -> DbError {
        DbError::SqliteRead {
            target: self.path.display().to_string(),
            source,
        }
    }

    /// Runs `sql` with `?` placeholders bound to `args` and hands each row to
    /// `each` (borrowed, no copy); `each` stops early with `Ok(false)`.
    pub fn for_each<E>(
        &self,
        sql: &str,
        args: &[Arg],
        mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<bool, E>,
    ) -> Result<(), E>
    where
        E: From<DbError>,
    {
        let mut stmt = self.conn.prepare(sql).map_err(|e| E::from(self.err(e)))?;
        let params: Vec<Value> = args.iter().map(bind_value).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(|e| E::from(self.err(e)))?;
        while let Some(row) = rows.next().map_err(|e| E::from(self.err(e)))? {
            if !each(row)? {
                break;
            }
        }
        Ok(())
    }
}

/// The same TEXT sqlx binds for each argument (see `query::bind_sqlite`).
fn bind_value(a: &Arg) -> Value {
    match a {
        Arg::Int(v) => v.map_or(Value::Null, Value::Integer),
        Arg::Text(v) => v.clone().map_or(Value::Null, Value::Text),
        Arg::Money(v) => v.map_or(Value::Null, |d| Value::Text(money::format_amount(d))),
        Arg::Time(v) => v.map_or(Value::Null, |t| {
            let mut s = String::with_capacity(23);
            push_time(&mut s, t, true);
            Value::Text(s)
        }),
    }
}

/// A column's value from a row (`Null` for a bad index is never silently
/// used: the error names the column).
pub fn value<'a>(
    row: &'a rusqlite::Row<'_>,
    i: usize,
    col: &str,
) -> Result<ValueRef<'a>, DecodeError> {
    row.get_ref(i).map_err(|e| derr(col, e))
}

/// An integer; NULL → `None`.
pub fn opt_i64(v: ValueRef<'_>, col: &str) -> Result<Option<i64>, DecodeError> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        other => Err(derr(
            col,
            format!("expected an integer, found {}", other.data_type()),
        )),
    }
}

/// Text, borrowed; NULL → `None`. An INTEGER is given as its decimal text.
pub fn opt_text<'a>(
    v: ValueRef<'a>,
    col: &str,
) -> Result<Option<std::borrow::Cow<'a, str>>, DecodeError> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(b) => std::str::from_utf8(b)
            .map(|s| Some(std::borrow::Cow::Borrowed(s)))
            .map_err(|e| derr(col, e)),
        ValueRef::Integer(i) => Ok(Some(std::borrow::Cow::Owned(i.to_string()))),
        other => Err(derr(
            col,
            format!("expected text, found {}", other.data_type()),
        )),
    }
}

/// An exact amount in cents; NULL → `None`. TEXT is parsed as a decimal,
/// INTEGER is whole yuan, a REAL must be an exact cent amount (as
/// [`super::Row::opt_money`]); more than two decimal places is an error.
pub fn opt_cents(v: ValueRef<'_>, col: &str) -> Result<Option<i64>, DecodeError> {
    let d = match v {
        ValueRef::Null => return Ok(None),
        ValueRef::Integer(i) => {
            return i
                .checked_mul(100)
                .map(Some)
                .ok_or_else(|| derr(col, format!("{i} does not fit in cents")));
        }
        ValueRef::Text(b) => {
            if let Some(c) = money::fast_cents(b) {
                return Ok(Some(c));
            }
            let s = std::str::from_utf8(b).map_err(|e| derr(col, e))?;
            money::parse_amount(s).map_err(|e| derr(col, e))?
        }
        ValueRef::Real(f) => money::parse_real_text(&f.to_string()).map_err(|e| derr(col, e))?,
        ValueRef::Blob(_) => return Err(derr(col, "is a BLOB, not an amount")),
    };
    money::to_cents(d)
        .map(Some)
        .ok_or_else(|| derr(col, format!("{d} does not fit in cents")))
}

/// A time as naive business-local time; NULL → `None`. Accepts what sqlx
/// accepts: TEXT in SQLite's date formats, INTEGER Unix seconds, REAL Julian day.
pub fn opt_time(v: ValueRef<'_>, col: &str) -> Result<Option<NaiveDateTime>, DecodeError> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(b) => {
            if let Some(t) = fast_time(b) {
                return Ok(Some(t));
            }
            let s = std::str::from_utf8(b).map_err(|e| derr(col, e))?;
            time_from_text(s)
                .map(Some)
                .ok_or_else(|| derr(col, format!("invalid datetime: {s}")))
        }
        ValueRef::Integer(i) => chrono::DateTime::from_timestamp(i, 0)
            .map(|t| Some(t.naive_utc()))
            .ok_or_else(|| derr(col, format!("invalid datetime: {i}"))),
        ValueRef::Real(f) => time_from_julian(f)
            .map(Some)
            .ok_or_else(|| derr(col, format!("invalid datetime: {f}"))),
        ValueRef::Blob(_) => Err(derr(col, "is a BLOB, not a time")),
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// `YYYY-MM-DD HH:MM:SS[.f{1,9}]`, the layout payrecon and srb write, without
/// a format string; `None` sends anything else to the general parser.
pub(crate) fn fast_time(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let y = digits(&b[0..4])?;
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(y).ok()?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    let nano = match &b[19..] {
        [] => 0,
        [b'.', f @ ..] if !f.is_empty() && f.len() <= 9 => {
            digits(f)? * 10u32.pow(9 - u32::try_from(f.len()).ok()?)
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
        nano,
    )?;
    Some(date.and_time(time))
}

/// sqlx's SQLite text-time decoding (RFC 3339, then Diesel's list of SQLite
/// layouts), so that the fast reader reads exactly the values sqlx reads.
fn time_from_text(s: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_local());
    }
    const FORMATS: [&str; 12] = [
        "%F %T%.f",
        "%F %R",
        "%F %RZ",
        "%F %R%:z",
        "%F %T%.fZ",
        "%F %T%.f%:z",
        "%FT%R",
        "%FT%RZ",
        "%FT%R%:z",
        "%FT%T%.f",
        "%FT%T%.fZ",
        "%FT%T%.f%:z",
    ];
    for f in FORMATS {
        if let Ok(t) = chrono::DateTime::parse_from_str(s, f) {
            return Some(t.naive_local());
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    None
}

/// A REAL time is a Julian day number (as sqlx reads it). Times, not money.
#[allow(clippy::float_arithmetic, clippy::cast_possible_truncation)]
fn time_from_julian(v: f64) -> Option<NaiveDateTime> {
    let ts = (v - 2_440_587.5) * 86_400.0;
    if !ts.is_finite() {
        return None;
    }
    let secs = ts.trunc() as i64;
    let nanos = ((ts - ts.trunc()) * 1e9).round() as u32;
    chrono::DateTime::from_timestamp(secs, nanos).map(|t| t.naive_utc())
}

fn push2(out: &mut String, v: u32) {
    out.push(char::from(b'0' + (v / 10 % 10) as u8));
    out.push(char::from(b'0' + (v % 10) as u8));
}

/// Appends `YYYY-MM-DD HH:MM:SS` (with `.mmm` when `ms`) — the same text as
/// chrono's `%Y-%m-%d %H:%M:%S%.3f` without interpreting a format per value.
pub fn push_time(out: &mut String, t: NaiveDateTime, ms: bool) {
    let y = t.year();
    if !(0..=9999).contains(&y) {
        let f = if ms {
            "%Y-%m-%d %H:%M:%S%.3f"
        } else {
            "%Y-%m-%d %H:%M:%S"
        };
        out.push_str(&t.format(f).to_string());
        return;
    }
    let y = y.unsigned_abs();
    push2(out, y / 100);
    push2(out, y % 100);
    out.push('-');
    push2(out, t.month());
    out.push('-');
    push2(out, t.day());
    out.push(' ');
    push2(out, t.hour());
    out.push(':');
    push2(out, t.minute());
    out.push(':');
    // chrono prints a leap second as :60.
    let nano = t.nanosecond();
    let (sec, nano) = if nano >= 1_000_000_000 {
        (t.second() + 1, nano - 1_000_000_000)
    } else {
        (t.second(), nano)
    };
    push2(out, sec);
    if ms {
        let m = nano / 1_000_000;
        out.push('.');
        out.push(char::from(b'0' + (m / 100) as u8));
        push2(out, m % 100);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_cents_agrees_with_parse_amount() {
        for s in [
            "0",
            "1",
            "1.5",
            "1.50",
            "123.45",
            "-12.5",
            "-0.01",
            "999999999999999.99",
            "1.",
            ".5",
            "1.005",
            "1.500",
            " 1.00",
            "1e2",
            "+1.00",
            "-",
            "",
            "12a",
            "1.2.3",
            "0012.30",
        ] {
            // The general decimal parser, without the fast path.
            let slow = <rust_decimal::Decimal as std::str::FromStr>::from_str(s.trim())
                .ok()
                .and_then(money::normalize)
                .and_then(money::to_cents);
            if let Some(c) = money::fast_cents(s.as_bytes()) {
                assert_eq!(Some(c), slow, "{s}");
            }
            let v = opt_cents(ValueRef::Text(s.as_bytes()), "x").ok().flatten();
            assert_eq!(v, slow, "{s}");
        }
        assert_eq!(opt_cents(ValueRef::Integer(7), "x"), Ok(Some(700)));
        assert_eq!(opt_cents(ValueRef::Real(0.1), "x"), Ok(Some(10)));
        assert!(opt_cents(ValueRef::Real(0.30000000000000004), "x").is_err());
        assert_eq!(opt_cents(ValueRef::Null, "x"), Ok(None));
    }

    #[test]
    fn fast_time_agrees_with_sqlx_formats() {
        for s in [
            "2026-11-20 00:00:00",
            "2026-11-20 23:59:59.999",
            "2026-11-20 12:34:56.1",
            "2026-11-20 12:34:56.123456789",
            "2024-02-29 01:02:03.450",
            "2026-11-20T12:34:56",
            "2026-11-20 12:34",
            "2026-11-20 12:34:56+08:00",
            "2026-02-30 00:00:00",
            "2026-11-20 24:00:00",
            "2026-11-20 12:34:56.",
        ] {
            let slow = time_from_text(s);
            if let Some(t) = fast_time(s.as_bytes()) {
                assert_eq!(Some(t), slow, "{s}");
            }
            assert_eq!(
                opt_time(ValueRef::Text(s.as_bytes()), "x").ok().flatten(),
                slow,
                "{s}"
            );
        }
    }

    #[test]
    fn push_time_matches_chrono() {
        for s in [
            "2026-11-20 00:00:00.000",
            "2026-11-20 23:59:59.999",
            "0099-01-02 03:04:05.067",
        ] {
            let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
            for ms in [false, true] {
                let mut out = String::new();
                push_time(&mut out, t, ms);
                let f = if ms {
                    "%Y-%m-%d %H:%M:%S%.3f"
                } else {
                    "%Y-%m-%d %H:%M:%S"
                };
                assert_eq!(out, t.format(f).to_string());
            }
        }
    }
}
