//! Reading PostgreSQL's `COPY … TO STDOUT` text format, for the bulk reads of
//! a run: the server only scans and prints, and payrecon parses the rows on
//! its own core, without a typed decode per cell (docs/BENCHMARKS.md).
//!
//! The text format: one row per line, fields separated by a tab, `\N` for
//! NULL, and a backslash before the characters that would break the layout
//! (`\\`, `\t`, `\n`, `\r`, `\b`, `\f`, `\v`; octal and `\x` hex on input).

use super::{Db, DbError, DecodeError};

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::HashMap;

use super::text_field::{self, derr};

/// Splits COPY text output into rows, whatever the message boundaries
/// (PostgreSQL sends one row per message, but nothing here relies on it).
#[derive(Debug, Default)]
pub struct CopyText {
    /// The start of a row whose end has not arrived yet.
    pending: Vec<u8>,
    /// Field bounds of the current row.
    bounds: Vec<(usize, usize)>,
}

impl CopyText {
    /// A reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk of COPY output; calls `row` for each complete row.
    pub fn feed<E>(
        &mut self,
        chunk: &[u8],
        mut row: impl FnMut(&CopyRow<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            if self.pending.is_empty() {
                self.row(&chunk[start..nl], &mut row)?;
            } else {
                let mut line = std::mem::take(&mut self.pending);
                line.extend_from_slice(&chunk[start..nl]);
                let r = self.row(&line, &mut row);
                line.clear();
                self.pending = line;
                r?;
            }
            start = nl + 1;
        }
        self.pending.extend_from_slice(&chunk[start..]);
        Ok(())
    }

    /// Whether a row was left without its end (the stream stopped mid-row).
    pub fn has_partial_row(&self) -> bool {
        !self.pending.is_empty()
    }

    fn row<E>(
        &mut self,
        line: &[u8],
        each: &mut impl FnMut(&CopyRow<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.bounds.clear();
        let mut s = 0;
        for t in memchr::memchr_iter(b'\t', line) {
            self.bounds.push((s, t));
            s = t + 1;
        }
        self.bounds.push((s, line.len()));
        each(&CopyRow {
            line,
            bounds: &self.bounds,
        })
    }
}

/// One row of COPY text output.
#[derive(Debug)]
pub struct CopyRow<'a> {
    line: &'a [u8],
    bounds: &'a [(usize, usize)],
}

impl<'a> CopyRow<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    /// Whether the row has no fields (never: an empty line is one empty field).
    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// Field `i` as printed (escapes kept); `None` for NULL.
    fn raw(&self, i: usize, col: &str) -> Result<Option<&'a [u8]>, DecodeError> {
        let &(s, e) = self
            .bounds
            .get(i)
            .ok_or_else(|| derr(col, format!("COPY row has {} fields", self.len())))?;
        let f = &self.line[s..e];
        Ok(if f == b"\\N" { None } else { Some(f) })
    }

    /// A text field, unescaped; `None` for NULL.
    pub fn opt_text(&self, i: usize, col: &str) -> Result<Option<Cow<'a, str>>, DecodeError> {
        let Some(f) = self.raw(i, col)? else {
            return Ok(None);
        };
        let bytes = if memchr::memchr(b'\\', f).is_some() {
            Cow::Owned(unescape(f).ok_or_else(|| derr(col, "bad escape in COPY output"))?)
        } else {
            Cow::Borrowed(f)
        };
        match bytes {
            Cow::Borrowed(b) => std::str::from_utf8(b)
                .map(|s| Some(Cow::Borrowed(s)))
                .map_err(|e| derr(col, e)),
            Cow::Owned(v) => String::from_utf8(v)
                .map(|s| Some(Cow::Owned(s)))
                .map_err(|e| derr(col, e)),
        }
    }

    /// An integer field; `None` for NULL.
    pub fn opt_i64(&self, i: usize, col: &str) -> Result<Option<i64>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::int(f, col))
            .transpose()
    }

    /// A boolean field (`t`/`f`); `None` for NULL.
    pub fn opt_bool(&self, i: usize, col: &str) -> Result<Option<bool>, DecodeError> {
        match self.raw(i, col)? {
            None => Ok(None),
            Some(b"t") => Ok(Some(true)),
            Some(b"f") => Ok(Some(false)),
            Some(f) => Err(derr(
                col,
                format!("not a boolean: {}", String::from_utf8_lossy(f)),
            )),
        }
    }

    /// A NUMERIC field as an exact decimal; `None` for NULL.
    pub fn opt_decimal(&self, i: usize, col: &str) -> Result<Option<Decimal>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::decimal(f, col))
            .transpose()
    }

    /// An amount of at most two decimals (NUMERIC with scale ≤ 2, or an
    /// integer) in cents; `None` for NULL.
    pub fn opt_cents(&self, i: usize, col: &str) -> Result<Option<i64>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::cents(f, col))
            .transpose()
    }

    /// A `timestamp without time zone` field (ISO DateStyle); `None` for NULL.
    pub fn opt_time(&self, i: usize, col: &str) -> Result<Option<NaiveDateTime>, DecodeError> {
        self.raw(i, col)?
            .map(|f| text_field::time(f, col))
            .transpose()
    }
}

/// Splits PostgreSQL's binary COPY output (`FORMAT binary`) into rows: the
/// server sends integers, booleans and NUMERIC in their wire form, which is
/// cheaper for it to write and for payrecon to read than their text.
#[derive(Debug, Default)]
pub struct CopyBinary {
    /// Bytes not yet parsed (a row split across messages, or the header).
    pending: Vec<u8>,
    /// Whether the file header has been read.
    header_done: bool,
    /// Whether the trailer (field count -1) has been read.
    done: bool,
    /// Field bounds of the current row (`None` for NULL).
    fields: Vec<Option<(usize, usize)>>,
}

/// The binary COPY signature.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

impl CopyBinary {
    /// A reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk of COPY output; calls `row` for each complete row.
    pub fn feed<E: From<DbError>>(
        &mut self,
        chunk: &[u8],
        mut row: impl FnMut(&BinRow<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.pending.is_empty() {
            let used = self.parse(chunk, &mut row)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(chunk);
            let used = self.parse(&buf, &mut row);
            let rest = used.as_ref().map_or(0, |u| *u);
            buf.drain(..rest);
            self.pending = buf;
            used?;
        }
        Ok(())
    }

    /// Whether the stream ended without its trailer (cut off mid-way).
    pub fn is_incomplete(&self) -> bool {
        !self.done
    }

    /// Parses the complete rows at the start of `b`; returns how many bytes it used.
    fn parse<E: From<DbError>>(
        &mut self,
        b: &[u8],
        row: &mut impl FnMut(&BinRow<'_>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let bad = |what: &str| E::from(DbError::State(format!("binary COPY output: {what}")));
        let mut at = 0;
        if !self.header_done {
            if b.len() < 19 {
                return Ok(0);
            }
            if &b[..11] != SIGNATURE {
                return Err(bad("no PGCOPY signature"));
            }
            let ext = u32::from_be_bytes([b[15], b[16], b[17], b[18]]) as usize;
            if b.len() < 19 + ext {
                return Ok(0);
            }
            at = 19 + ext;
            self.header_done = true;
        }
        while !self.done && b.len() >= at + 2 {
            let n = i16::from_be_bytes([b[at], b[at + 1]]);
            if n == -1 {
                self.done = true;
                at += 2;
                break;
            }
            let n = usize::try_from(n).map_err(|_| bad("negative field count"))?;
            let mut p = at + 2;
            self.fields.clear();
            let mut complete = true;
            for _ in 0..n {
                if b.len() < p + 4 {
                    complete = false;
                    break;
                }
                let len = i32::from_be_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]);
                p += 4;
                if len < 0 {
                    self.fields.push(None);
                    continue;
                }
                let len = len as usize;
                if b.len() < p + len {
                    complete = false;
                    break;
                }
                self.fields.push(Some((p, p + len)));
                p += len;
            }
            if !complete {
                break;
            }
            row(&BinRow {
                buf: b,
                fields: &self.fields,
            })?;
            at = p;
        }
        Ok(at)
    }
}

/// One row of binary COPY output.
#[derive(Debug)]
pub struct BinRow<'a> {
    buf: &'a [u8],
    fields: &'a [Option<(usize, usize)>],
}

impl<'a> BinRow<'a> {
    /// Field `i`'s bytes; `None` for NULL.
    fn raw(&self, i: usize, col: &str) -> Result<Option<&'a [u8]>, DecodeError> {
        let f = self
            .fields
            .get(i)
            .ok_or_else(|| derr(col, format!("COPY row has {} fields", self.fields.len())))?;
        Ok(f.map(|(s, e)| &self.buf[s..e]))
    }

    /// A text field (the wire form of text is its UTF-8 bytes); `None` for NULL.
    pub fn opt_text(&self, i: usize, col: &str) -> Result<Option<Cow<'a, str>>, DecodeError> {
        match self.raw(i, col)? {
            None => Ok(None),
            Some(f) => std::str::from_utf8(f)
                .map(|s| Some(Cow::Borrowed(s)))
                .map_err(|e| derr(col, e)),
        }
    }

    /// A `smallint`, `integer` or `bigint` field; `None` for NULL.
    pub fn opt_i64(&self, i: usize, col: &str) -> Result<Option<i64>, DecodeError> {
        let Some(f) = self.raw(i, col)? else {
            return Ok(None);
        };
        Ok(Some(match *f {
            [a, b] => i64::from(i16::from_be_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_be_bytes([a, b, c, d])),
            [a, b, c, d, e, f2, g, h] => i64::from_be_bytes([a, b, c, d, e, f2, g, h]),
            _ => return Err(derr(col, format!("an integer of {} bytes", f.len()))),
        }))
    }

    /// A boolean field; `None` for NULL.
    pub fn opt_bool(&self, i: usize, col: &str) -> Result<Option<bool>, DecodeError> {
        match self.raw(i, col)? {
            None => Ok(None),
            Some([0]) => Ok(Some(false)),
            Some([1]) => Ok(Some(true)),
            Some(f) => Err(derr(col, format!("a boolean of {} bytes", f.len()))),
        }
    }

    /// A `timestamp` field as PostgreSQL sends it: microseconds since
    /// 2000-01-01 00:00 (`infinity` is `i64::MAX`, `-infinity` `i64::MIN`, so
    /// comparisons with [`pg_micros`] go as the server's do); `None` for NULL.
    pub fn opt_timestamp(&self, i: usize, col: &str) -> Result<Option<i64>, DecodeError> {
        match self.raw(i, col)? {
            None => Ok(None),
            Some(&[a, b, c, d, e, f, g, h]) => {
                Ok(Some(i64::from_be_bytes([a, b, c, d, e, f, g, h])))
            }
            Some(f) => Err(derr(col, format!("a timestamp of {} bytes", f.len()))),
        }
    }

    /// A NUMERIC field of at most two decimals, in cents; `None` for NULL.
    pub fn opt_cents(&self, i: usize, col: &str) -> Result<Option<i64>, DecodeError> {
        match self.raw(i, col)? {
            None => Ok(None),
            Some(f) => numeric_cents(f).map(Some).map_err(|e| derr(col, e)),
        }
    }
}

/// NUMERIC's wire form in cents: `ndigits`, `weight`, `sign`, `dscale` (each
/// 16 bits), then base-10000 digits, the first worth 10000^weight.
fn numeric_cents(f: &[u8]) -> Result<i64, String> {
    let word = |k: usize| -> Result<u16, String> {
        f.get(2 * k..2 * k + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated NUMERIC".to_owned())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    if f.len() != 8 + 2 * ndigits {
        return Err("a malformed NUMERIC".into());
    }
    let negative = match sign {
        0x0000 => false,
        0x4000 => true,
        _ => return Err("NaN or infinity, not an amount".into()),
    };
    let too_big = || "an amount that does not fit in cents".to_owned();
    let mut cents: i128 = 0;
    for k in 0..ndigits {
        let d = i128::from(word(4 + k)?);
        // This digit's power of 10000, relative to a cent (10000^-1 = 1/100 of a cent unit).
        let p = weight - i32::try_from(k).map_err(|_| too_big())?;
        if p >= 0 {
            let scale = 10_000i128
                .checked_pow(u32::try_from(p).map_err(|_| too_big())?)
                .and_then(|s| s.checked_mul(100))
                .ok_or_else(too_big)?;
            cents = d
                .checked_mul(scale)
                .and_then(|v| cents.checked_add(v))
                .ok_or_else(too_big)?;
        } else if p == -1 {
            if d % 100 != 0 {
                return Err("an amount with more than two decimals".into());
            }
            cents += d / 100;
        } else if d != 0 {
            return Err("an amount with more than two decimals".into());
        }
    }
    let cents = if negative { -cents } else { cents };
    i64::try_from(cents).map_err(|_| too_big())
}

/// Undoes COPY's backslash escapes; `None` for a malformed one.
fn unescape(f: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(f.len());
    let mut i = 0;
    while i < f.len() {
        let c = f[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *f.get(i)?;
        i += 1;
        out.push(match e {
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0B,
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match f.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                u8::try_from(v).ok()?
            }
            b'x' => {
                let mut v = 0u8;
                let mut n = 0;
                while n < 2 {
                    let Some(d) = f.get(i).and_then(|d| (*d as char).to_digit(16)) else {
                        break;
                    };
                    v = v * 16 + u8::try_from(d).ok()?;
                    i += 1;
                    n += 1;
                }
                if n == 0 { b'x' } else { v }
            }
            other => other,
        });
    }
    Some(out)
}

/// A column's SQL type as `information_schema` names it, with its numeric scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    /// `data_type`, e.g. `numeric`, `character varying`, `timestamp without time zone`.
    pub data_type: String,
    /// `numeric_scale`, when it has one.
    pub scale: Option<i64>,
}

impl ColumnType {
    /// An integer type.
    pub fn is_integer(&self) -> bool {
        matches!(self.data_type.as_str(), "smallint" | "integer" | "bigint")
    }

    /// A text type.
    pub fn is_text(&self) -> bool {
        matches!(
            self.data_type.as_str(),
            "character varying" | "text" | "character"
        )
    }
}

/// The columns of a table in the current schema and their types (PostgreSQL):
/// the COPY readers check them before trusting the text they will parse.
pub async fn column_types(db: &Db, table: &str) -> Result<HashMap<String, ColumnType>, DbError> {
    let rows = db
        .fetch_all(
            "SELECT column_name::text, data_type::text, numeric_scale::bigint \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ?",
            &[super::Arg::from(table)],
        )
        .await?;
    let mut out = HashMap::new();
    for r in &rows {
        let d = |e| db.decode("information_schema.columns", e);
        out.insert(
            r.text(0).map_err(d)?,
            ColumnType {
                data_type: r.text(1).map_err(d)?,
                scale: r.opt_i64(2).map_err(d)?,
            },
        );
    }
    Ok(out)
}

/// A time as a PostgreSQL literal, for a COPY query (which takes no parameters).
pub fn timestamp_literal(t: NaiveDateTime) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// `t` as PostgreSQL stores a `timestamp`: microseconds since 2000-01-01
/// 00:00, cut as [`timestamp_literal`] cuts it; `None` beyond `i64`.
pub fn pg_micros(t: NaiveDateTime) -> Option<i64> {
    /// 2000-01-01 00:00 in microseconds since 1970.
    const PG_EPOCH: i64 = 946_684_800_000_000;
    let u = t.and_utc();
    u.timestamp()
        .checked_mul(1_000_000)?
        .checked_add(i64::from(u.timestamp_subsec_micros()))?
        .checked_sub(PG_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::text_field::parse_i64;

    fn rows(chunks: &[&[u8]]) -> Vec<Vec<Option<String>>> {
        let mut r = CopyText::new();
        let mut out = Vec::new();
        for c in chunks {
            r.feed(c, |row| -> Result<(), DecodeError> {
                out.push(
                    (0..row.len())
                        .map(|i| row.opt_text(i, "c").unwrap().map(|s| s.into_owned()))
                        .collect(),
                );
                Ok(())
            })
            .unwrap();
        }
        assert!(!r.has_partial_row());
        out
    }

    #[test]
    fn fields_nulls_and_escapes() {
        let copy: &[u8] = b"a\t\\N\t\n\\\\x\\ty\\nz\\101\\x41\t1\t\n";
        let want = vec![
            vec![Some("a".to_owned()), None, Some(String::new())],
            vec![
                Some("\\x\ty\nzAA".to_owned()),
                Some("1".to_owned()),
                Some(String::new()),
            ],
        ];
        assert_eq!(rows(&[copy]), want);
        // One byte at a time: rows split anywhere give the same rows.
        let bytes: Vec<&[u8]> = copy.chunks(1).collect();
        assert_eq!(rows(&bytes), want);
    }

    #[test]
    fn typed_fields() {
        let mut r = CopyText::new();
        let mut seen = 0;
        r.feed(
            b"-12.5\t2026-11-20 23:59:59.999\tt\t42\t\\N\n1.234\tx\tf\tz\t\\N\n",
            |row| -> Result<(), DecodeError> {
                seen += 1;
                if seen == 1 {
                    assert_eq!(row.opt_decimal(0, "a")?, Some(Decimal::new(-1250, 2)));
                    assert_eq!(row.opt_cents(0, "a")?, Some(-1250));
                    assert_eq!(
                        row.opt_time(1, "t")?.unwrap().to_string(),
                        "2026-11-20 23:59:59.999"
                    );
                    assert_eq!(row.opt_bool(2, "b")?, Some(true));
                    assert_eq!(row.opt_i64(3, "i")?, Some(42));
                    assert_eq!(row.opt_i64(4, "i")?, None);
                } else {
                    assert_eq!(row.opt_decimal(0, "a")?, Some(Decimal::new(1234, 3)));
                    assert!(row.opt_cents(0, "a").is_err());
                    assert!(row.opt_time(1, "t").is_err());
                    assert_eq!(row.opt_bool(2, "b")?, Some(false));
                    let e = row.opt_i64(3, "user_id").unwrap_err();
                    assert_eq!(e.column, "user_id");
                    assert!(row.opt_i64(9, "x").is_err());
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, 2);
    }

    /// NUMERIC on the wire: (ndigits, weight, sign, dscale, base-10000 digits).
    fn numeric(weight: i16, negative: bool, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(digits.len() as u16).to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&(if negative { 0x4000u16 } else { 0 }).to_be_bytes());
        v.extend_from_slice(&2u16.to_be_bytes());
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numeric_wire_form_in_cents() {
        assert_eq!(
            numeric_cents(&numeric(1, false, &[1, 2345, 6700])),
            Ok(1_234_567)
        );
        assert_eq!(numeric_cents(&numeric(-1, true, &[500])), Ok(-5));
        assert_eq!(numeric_cents(&numeric(0, false, &[])), Ok(0));
        assert_eq!(numeric_cents(&numeric(2, false, &[1])), Ok(10_000_000_000));
        assert!(numeric_cents(&numeric(0, false, &[1, 2340])).is_err());
        assert!(numeric_cents(&numeric(-2, false, &[1])).is_err());
        assert!(numeric_cents(&numeric(9, false, &[1])).is_err());
        let mut nan = numeric(0, false, &[]);
        nan[4] = 0xC0;
        assert!(numeric_cents(&nan).is_err());
    }

    #[test]
    fn binary_rows_across_chunk_boundaries() {
        // Header, two rows (int8, bool, text, NULL, int2), trailer.
        let mut copy = SIGNATURE.to_vec();
        copy.extend_from_slice(&0u32.to_be_bytes());
        copy.extend_from_slice(&0u32.to_be_bytes());
        for (id, b, t) in [(7i64, 1u8, "账单-1"), (-3, 0, "")] {
            copy.extend_from_slice(&5i16.to_be_bytes());
            copy.extend_from_slice(&8i32.to_be_bytes());
            copy.extend_from_slice(&id.to_be_bytes());
            copy.extend_from_slice(&1i32.to_be_bytes());
            copy.push(b);
            copy.extend_from_slice(&(t.len() as i32).to_be_bytes());
            copy.extend_from_slice(t.as_bytes());
            copy.extend_from_slice(&(-1i32).to_be_bytes());
            copy.extend_from_slice(&2i32.to_be_bytes());
            copy.extend_from_slice(&9i16.to_be_bytes());
        }
        copy.extend_from_slice(&(-1i16).to_be_bytes());
        for size in [copy.len(), 1, 3, 7] {
            let mut r = CopyBinary::new();
            let mut seen = Vec::new();
            for c in copy.chunks(size) {
                r.feed(c, |row| -> Result<(), DbError> {
                    seen.push((
                        row.opt_i64(0, "id").unwrap(),
                        row.opt_bool(1, "b").unwrap(),
                        row.opt_text(2, "t").unwrap().map(|s| s.into_owned()),
                        row.opt_i64(3, "n").unwrap(),
                        row.opt_i64(4, "s").unwrap(),
                    ));
                    Ok(())
                })
                .unwrap();
            }
            assert!(!r.is_incomplete(), "chunks of {size}");
            assert_eq!(
                seen,
                vec![
                    (
                        Some(7),
                        Some(true),
                        Some("账单-1".to_owned()),
                        None,
                        Some(9)
                    ),
                    (Some(-3), Some(false), Some(String::new()), None, Some(9)),
                ],
                "chunks of {size}"
            );
        }
        // Cut before the trailer: incomplete.
        let mut r = CopyBinary::new();
        r.feed(&copy[..copy.len() - 2], |_| -> Result<(), DbError> {
            Ok(())
        })
        .unwrap();
        assert!(r.is_incomplete());
    }

    #[test]
    fn pg_micros_counts_from_2000_as_the_literal_cuts() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        assert_eq!(pg_micros(t("2000-01-01 00:00:00")), Some(0));
        assert_eq!(pg_micros(t("1999-12-31 23:59:59.5")), Some(-500_000));
        assert_eq!(
            pg_micros(t("2000-01-02 00:00:00.0000019")),
            Some(86_400_000_001)
        );
        let day = t("2026-11-20 00:00:00");
        let micros = (day - t("2000-01-01 00:00:00")).num_microseconds();
        assert_eq!(pg_micros(day), micros);
        assert!(timestamp_literal(t("2000-01-02 00:00:00.0000019")).ends_with("00:00:00.000001'"));
    }

    #[test]
    fn integers_parse_as_str_parse_does() {
        for t in [
            "0",
            "-0",
            "42",
            "-42",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "",
            "-",
            "+1",
            "1.0",
            "12a",
        ] {
            let std = t.parse::<i64>().ok().filter(|_| !t.starts_with('+'));
            assert_eq!(parse_i64(t.as_bytes()), std, "{t}");
        }
    }
}
