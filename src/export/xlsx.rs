//! Excel output (`.xlsx`) beside the CSV one: the same rows, typed cells.
//!
//! A cell is typed by its column's NAME ([`column_kind`]), so that a column
//! a view gains later is written safely without touching this file:
//!
//! | kind | columns | written as |
//! |------|---------|-----------|
//! | money | `trans_amount`, `charge_amt`, `fee_amt`, `amount`, `expected_amount`, `amount_difference`, `freeze_amount`, `expected_freeze`, `freeze_difference`, `amount_internal`, `amount_external`, `difference`, `at_risk`, `at_risk_file_level` | a number, format `0.00`, exactly the cents written (from the decimal, never through our own float arithmetic) |
//! | time | `create_time`, `update_time`, `received_at`, `locked_at`, `created_at`, `completed_at`, `expires_at`, `status_at`, `first_seen`, `last_seen`, `first_detected`, `noted_at` | an Excel date-time, `yyyy-mm-dd hh:mm:ss` (`.000` when the value has milliseconds) |
//! | integer | `id`, `user_id`, `trans_type`, `status`, `sign_ok`, `is_deleted`, `handled_ms`, `version`, `flows`, `attempts`, `age_days`, `absent_since_run` | a number (row ids, user ids, codes and counts) |
//! | text | everything else — `trans_no`, `agent_bill_no`, `bind_code`, `mobile`, `seq`, `key`, order ids, hashes, names, notes, and any column not listed | a text cell (format `@`): Excel cannot turn `4009340000000000000000000000` into `4.00934E+27` or `13886200000` into `1.38862E+10` |
//!
//! A value that does not fit its column's kind — a status word in a
//! `status` column, an integer of 16 digits or more (beyond what Excel's
//! numbers hold exactly), a leading zero, an amount with more than two
//! decimals or 16 digits — is written as text, exactly as the CSV has it:
//! nothing is ever rounded or mangled.
//!
//! A sheet holds at most 1,048,576 rows (Excel's limit, header included):
//! a bigger export continues on a second sheet, a third…, each with the
//! header repeated (`trans_flow`, `trans_flow (2)`, …). Every sheet has its
//! header row frozen, an autofilter over its rows and column widths from
//! the header and the contents (capped).
//!
//! Rows are streamed ("constant memory" sheets, temporary files in the
//! target's folder); the workbook is written under `NAME.partial` and moved
//! into place when complete, so a failed or cancelled export leaves nothing
//! under the real name.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook, Worksheet, XlsxError};
use std::path::{Path, PathBuf};

/// Excel's rows per sheet, the header row included.
pub const SHEET_ROWS: u32 = 1_048_576;

/// The widest a column is made, in characters.
const MAX_WIDTH: usize = 60;

/// How a column's cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    /// Text, always: ids, bill numbers, order ids, mobiles, bind codes, words.
    Text,
    /// A whole number (row ids, user ids, codes, counts).
    Int,
    /// An amount: a number with two decimals.
    Money,
    /// A date-time.
    Time,
}

/// The kind of a column, by its name (see the module's table); text for any
/// name not listed.
pub fn column_kind(name: &str) -> ColKind {
    match name {
        "trans_amount" | "charge_amt" | "fee_amt" | "amount" | "expected_amount"
        | "amount_difference" | "freeze_amount" | "expected_freeze" | "freeze_difference"
        | "amount_internal" | "amount_external" | "difference" | "at_risk"
        | "at_risk_file_level" => ColKind::Money,
        "create_time" | "update_time" | "received_at" | "locked_at" | "created_at"
        | "completed_at" | "expires_at" | "status_at" | "first_seen" | "last_seen"
        | "first_detected" | "noted_at" => ColKind::Time,
        // Row and user ids are text (below): Excel shows a 12-digit number as
        // 1.23457E+11, and an id is never added up.
        "trans_type" | "status" | "sign_ok" | "is_deleted" | "handled_ms" | "version" | "flows"
        | "attempts" | "age_days" | "absent_since_run" => ColKind::Int,
        _ => ColKind::Text,
    }
}

/// One typed value of a summary sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Nothing.
    Blank,
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// An amount (exact cents).
    Money(Decimal),
    /// A date-time.
    Time(NaiveDateTime),
}

/// One row of a summary sheet: its cells from column A; a heading row is bold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// The cells.
    pub cells: Vec<Value>,
    /// Whether the row is a heading.
    pub heading: bool,
}

/// A summary sheet written before the data sheets (small, kept in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummarySheet {
    /// Its name.
    pub name: String,
    /// Its rows.
    pub rows: Vec<SummaryRow>,
}

/// The cell formats of a workbook.
struct Formats {
    header: Format,
    text: Format,
    money: Format,
    time: Format,
    time_ms: Format,
    bold: Format,
}

impl Formats {
    fn new() -> Self {
        Self {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0x00DD_E6F0))
                .set_border_bottom(FormatBorder::Thin),
            // `@`: the cell stays text even when someone edits it in Excel.
            text: Format::new().set_num_format("@"),
            money: Format::new().set_num_format("0.00"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            time_ms: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss.000"),
            bold: Format::new().set_bold(),
        }
    }
}

/// An `.xlsx` file being written: a header, then rows typed by column name.
/// Written to a temporary name and moved into place on [`XlsxFile::finish`].
pub struct XlsxFile {
    book: Workbook,
    tmp: PathBuf,
    path: PathBuf,
    header: Vec<String>,
    kinds: Vec<ColKind>,
    /// The data sheets' name (the first; the next ones get ` (2)`, …).
    name: String,
    /// The workbook index of the data sheet being written.
    sheet: usize,
    /// Data sheets so far.
    sheets: u32,
    /// The next row of the current sheet.
    row: u32,
    /// The next column of the current row.
    col: usize,
    /// The widest cell of each column on the current sheet, in characters.
    widths: Vec<usize>,
    rows: u64,
    /// Rows per sheet, header included ([`SHEET_ROWS`]; smaller in tests).
    max_rows: u32,
    f: Formats,
}

fn xerr(e: XlsxError) -> std::io::Error {
    match e {
        XlsxError::IoError(e) | XlsxError::TempFileError(_, e) => e,
        e => std::io::Error::other(e.to_string()),
    }
}

/// A sheet name Excel accepts: no `[]:*?/\`, at most 31 characters.
fn sheet_name(name: &str, suffix: &str) -> String {
    let keep = 31 - suffix.chars().count().min(31);
    let mut s: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(keep)
        .collect();
    let trimmed = s.trim_matches('\'').to_owned();
    s = if trimmed.is_empty() {
        "Sheet".to_owned()
    } else {
        trimmed
    };
    s.push_str(suffix);
    s
}

/// How wide a text shows, in characters: a CJK or other wide character counts two.
fn text_width(s: &str) -> usize {
    s.chars()
        .map(|c| if u32::from(c) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// Whether an integer's text can be an Excel number without change: canonical
/// digits (no `+`, no leading zero) and at most 15 of them.
fn int_value(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = !digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if canonical { s.parse().ok() } else { None }
}

/// An amount Excel holds exactly and shows as written with `0.00`: at most
/// two decimals and 15 significant digits (a double keeps 15 decimal digits).
fn money_value(s: &str) -> Option<Decimal> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return None;
    }
    let d: Decimal = s.parse().ok()?;
    let exact = d.scale() <= 2 && d.mantissa().unsigned_abs() < 1_000_000_000_000_000;
    exact.then_some(d)
}

/// A time as payrecon writes it, `YYYY-MM-DD HH:MM:SS[.fff]`, and whether it
/// has a fraction.
fn time_value(s: &str) -> Option<(NaiveDateTime, bool)> {
    if s.len() < 19 {
        return None;
    }
    // The reader's own fast parser first (a 10M-row export has 10M times).
    let t = crate::db::sqlite_read::fast_time(s.as_bytes())
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok())?;
    Some((t, s.len() > 19))
}

impl XlsxFile {
    /// Creates the workbook with one data sheet named `sheet` (a table's
    /// name) and its header. Nothing appears under `path` before
    /// [`XlsxFile::finish`].
    pub fn create(path: &Path, header: &[&str], sheet: &str) -> std::io::Result<Self> {
        Self::create_with_summary(path, None, header, sheet)
    }

    /// [`XlsxFile::create`], with a summary sheet first.
    pub fn create_with_summary(
        path: &Path,
        summary: Option<&SummarySheet>,
        header: &[&str],
        sheet: &str,
    ) -> std::io::Result<Self> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let mut book = Workbook::new();
        // Deflate level 6 (the default) spent a third of a 1.1M-row export
        // compressing; level 3 writes it in 15 s instead of 20, 8% larger.
        book.set_zip_compression_level(3);
        // The rows' temporary files go beside the target, not to a /tmp that
        // may be memory: a 10M-row export is a few GB before compression.
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        book.set_tempdir(&dir).map_err(xerr)?;
        let f = Formats::new();
        if let Some(s) = summary {
            write_summary(&mut book, s, &f).map_err(xerr)?;
        }
        let mut me = Self {
            sheet: 0,
            book,
            tmp: PathBuf::from(tmp),
            path: path.to_path_buf(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            kinds: header.iter().map(|h| column_kind(h)).collect(),
            name: sheet.to_owned(),
            sheets: 0,
            row: 0,
            col: 0,
            widths: Vec::new(),
            rows: 0,
            max_rows: SHEET_ROWS,
            f,
        };
        me.new_sheet().map_err(xerr)?;
        Ok(me)
    }

    /// Rows per sheet, header included (tests check the sheet break with a few rows).
    #[doc(hidden)]
    pub fn with_sheet_rows(mut self, rows: u32) -> Self {
        self.max_rows = rows.clamp(2, SHEET_ROWS);
        self
    }

    fn current(&mut self) -> Result<&mut Worksheet, XlsxError> {
        self.book.worksheet_from_index(self.sheet)
    }

    /// Starts a data sheet: name, header, frozen header row.
    fn new_sheet(&mut self) -> Result<(), XlsxError> {
        self.sheets += 1;
        let suffix = if self.sheets == 1 {
            String::new()
        } else {
            format!(" ({})", self.sheets)
        };
        let name = sheet_name(&self.name, &suffix);
        let ws = self.book.add_worksheet_with_constant_memory()?;
        ws.set_name(name)?;
        ws.set_freeze_panes(1, 0)?;
        for (c, h) in self.header.iter().enumerate() {
            ws.write_string_with_format(0, col(c)?, h, &self.f.header)?;
        }
        self.sheet = self.book.worksheets().len() - 1;
        // The filter's button takes about two characters beside the name.
        self.widths = self.header.iter().map(|h| text_width(h) + 3).collect();
        self.row = 1;
        Ok(())
    }

    /// Ends the current data sheet: its autofilter and column widths.
    fn end_sheet(&mut self) -> Result<(), XlsxError> {
        let last_row = self.row.saturating_sub(1);
        let last_col = col(self.header.len().saturating_sub(1))?;
        let widths = std::mem::take(&mut self.widths);
        let ws = self.current()?;
        ws.autofilter(0, 0, last_row, last_col)?;
        for (c, w) in widths.into_iter().enumerate() {
            let w = u32::try_from(w.clamp(6, MAX_WIDTH)).unwrap_or(10);
            ws.set_column_width(col(c)?, w)?;
        }
        Ok(())
    }

    /// Writes one row: each cell typed by its column (see the module's table).
    pub fn row<I, S>(&mut self, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for cell in cells {
            self.field(cell.as_ref())?;
        }
        self.end_row()
    }

    /// Writes the next cell of the current row, typed by its column;
    /// [`XlsxFile::end_row`] ends the row.
    pub fn field(&mut self, cell: &str) -> std::io::Result<()> {
        self.write_field(cell).map_err(xerr)
    }

    /// Ends the row begun with [`XlsxFile::field`].
    pub fn end_row(&mut self) -> std::io::Result<()> {
        if self.col == 0 {
            // An empty row still takes its place (and may start a sheet).
            self.sheet_room().map_err(xerr)?;
        }
        self.col = 0;
        self.row += 1;
        self.rows += 1;
        Ok(())
    }

    /// A new sheet when the current one is full, before a row's first cell.
    fn sheet_room(&mut self) -> Result<(), XlsxError> {
        if self.row >= self.max_rows {
            self.end_sheet()?;
            self.new_sheet()?;
        }
        Ok(())
    }

    fn write_field(&mut self, s: &str) -> Result<(), XlsxError> {
        if self.col == 0 {
            self.sheet_room()?;
        }
        let c = self.col;
        self.col += 1;
        if s.is_empty() {
            return Ok(());
        }
        let r = self.row;
        let sheet = self.sheet;
        let Self {
            book,
            kinds,
            widths,
            f,
            ..
        } = self;
        let ws = book.worksheet_from_index(sheet)?;
        let kind = kinds.get(c).copied().unwrap_or(ColKind::Text);
        let cn = col(c)?;
        let shown = match kind {
            ColKind::Int => match int_value(s) {
                Some(v) => {
                    // Exact: at most 15 digits (checked above).
                    ws.write(r, cn, v)?;
                    s.len()
                }
                None => write_text(ws, r, cn, s, &f.text)?,
            },
            ColKind::Money => match money_value(s) {
                Some(d) => {
                    ws.write_with_format(r, cn, d, &f.money)?;
                    s.len()
                }
                None => write_text(ws, r, cn, s, &f.text)?,
            },
            ColKind::Time => match time_value(s) {
                Some((t, ms)) => {
                    let fmt = if ms { &f.time_ms } else { &f.time };
                    ws.write_datetime_with_format(r, cn, t, fmt)?;
                    if ms { 23 } else { 19 }
                }
                None => write_text(ws, r, cn, s, &f.text)?,
            },
            ColKind::Text => write_text(ws, r, cn, s, &f.text)?,
        };
        if let Some(w) = widths.get_mut(c) {
            *w = (*w).max(shown + 1);
        }
        Ok(())
    }

    /// Rows written so far (headers not counted).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Gives up: nothing appears under the real name (the rows' temporary
    /// files are removed with the workbook).
    pub fn abandon(self) {
        let tmp = self.tmp.clone();
        drop(self);
        // Best effort: only there if saving failed half-way.
        let _ = std::fs::remove_file(tmp);
    }

    /// Writes the workbook and moves it into place; returns the rows written.
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.end_sheet().map_err(xerr)?;
        let t0 = std::time::Instant::now();
        if let Err(e) = self.book.save(&self.tmp) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(xerr(e));
        }
        let synced = std::fs::File::open(&self.tmp).and_then(|f| f.sync_all());
        if let Err(e) = synced.and_then(|()| std::fs::rename(&self.tmp, &self.path)) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        crate::recon::checks::stage_time("xlsx save", t0);
        Ok(self.rows)
    }
}

/// A column index as the crate counts them.
fn col(c: usize) -> Result<u16, XlsxError> {
    u16::try_from(c).map_err(|_| XlsxError::RowColumnLimitError)
}

/// A text cell; returns its width.
fn write_text(
    ws: &mut Worksheet,
    r: u32,
    c: u16,
    s: &str,
    text: &Format,
) -> Result<usize, XlsxError> {
    // Excel holds at most 32,767 UTF-16 units in a cell: a longer text (a
    // huge response body) is cut there with a mark, rather than failing the
    // whole workbook; the CSV keeps it whole.
    const MAX: usize = 32_767;
    const MARK: &str = " …[cut: Excel's cell limit; the CSV has it whole]";
    if s.encode_utf16().count() > MAX {
        let room = MAX - MARK.encode_utf16().count();
        let mut used = 0;
        let cut: String = s
            .chars()
            .take_while(|ch| {
                used += ch.len_utf16();
                used <= room
            })
            .collect();
        let cell = format!("{cut}{MARK}");
        ws.write_string_with_format(r, c, &cell, text)?;
        return Ok(text_width(&cell));
    }
    ws.write_string_with_format(r, c, s, text)?;
    Ok(text_width(s))
}

/// Writes a summary sheet (first, in memory: it is small).
fn write_summary(book: &mut Workbook, s: &SummarySheet, f: &Formats) -> Result<(), XlsxError> {
    let ws = book.add_worksheet();
    ws.set_name(sheet_name(&s.name, ""))?;
    let mut widths: Vec<usize> = Vec::new();
    for (r, row) in s.rows.iter().enumerate() {
        let r = u32::try_from(r).map_err(|_| XlsxError::RowColumnLimitError)?;
        for (c, v) in row.cells.iter().enumerate() {
            let cn = col(c)?;
            let shown = match v {
                Value::Blank => 0,
                Value::Text(t) => {
                    if row.heading {
                        ws.write_string_with_format(r, cn, t, &f.bold)?;
                    } else {
                        ws.write_string_with_format(r, cn, t, &f.text)?;
                    }
                    text_width(t)
                }
                Value::Int(i) => match int_value(&i.to_string()) {
                    Some(v) => {
                        ws.write(r, cn, v)?;
                        i.to_string().len()
                    }
                    None => write_text(ws, r, cn, &i.to_string(), &f.text)?,
                },
                Value::Money(d) => {
                    let text = crate::money::format_amount(*d);
                    match money_value(&text) {
                        Some(d) => {
                            ws.write_with_format(r, cn, d, &f.money)?;
                            text.len()
                        }
                        None => write_text(ws, r, cn, &text, &f.text)?,
                    }
                }
                Value::Time(t) => {
                    ws.write_datetime_with_format(r, cn, t, &f.time)?;
                    19
                }
            };
            if widths.len() <= c {
                widths.resize(c + 1, 8);
            }
            // Long texts (reasons, paths) are not allowed to widen a column past the cap.
            widths[c] = widths[c].max(shown + 2);
        }
    }
    for (c, w) in widths.into_iter().enumerate() {
        let w = u32::try_from(w.min(MAX_WIDTH * 3 / 2)).unwrap_or(10);
        ws.set_column_width(col(c)?, w)?;
    }
    ws.set_active(true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name_and_unknown_is_text() {
        assert_eq!(column_kind("trans_amount"), ColKind::Money);
        assert_eq!(column_kind("create_time"), ColKind::Time);
        assert_eq!(column_kind("version"), ColKind::Int);
        assert_eq!(column_kind("user_id"), ColKind::Text);
        assert_eq!(column_kind("id"), ColKind::Text);
        for t in [
            "trans_no",
            "agent_bill_no",
            "bind_code",
            "mobile",
            "name",
            "whatever",
        ] {
            assert_eq!(column_kind(t), ColKind::Text, "{t}");
        }
    }

    #[test]
    fn values_that_excel_cannot_keep_stay_text() {
        assert_eq!(int_value("123"), Some(123));
        assert_eq!(int_value("-5"), Some(-5));
        assert_eq!(int_value("0"), Some(0));
        for no in ["007", "+3", "-0", "", "1234567890123456", "done", "1.5"] {
            assert_eq!(int_value(no), None, "{no}");
        }
        assert_eq!(money_value("12.50"), Some(Decimal::new(1250, 2)));
        assert_eq!(money_value("-0.01"), Some(Decimal::new(-1, 2)));
        for no in ["1.005", "12345678901234567.89", "1e3", "abc", ""] {
            assert_eq!(money_value(no), None, "{no}");
        }
        assert!(time_value("2026-11-20 08:00:01").is_some_and(|(_, ms)| !ms));
        assert!(time_value("2026-11-20 08:00:01.250").is_some_and(|(_, ms)| ms));
        assert_eq!(time_value("2026-11-20"), None);
    }

    #[test]
    fn sheet_names_are_legal() {
        assert_eq!(sheet_name("trans_flow", " (2)"), "trans_flow (2)");
        assert_eq!(sheet_name("a/b:c", ""), "abc");
        assert_eq!(sheet_name(&"x".repeat(40), " (12)").chars().count(), 31);
    }
}
