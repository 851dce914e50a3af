//! Exporting a view of the payment database to CSV, as fast as the backend
//! allows, or to an Excel workbook (each row formatted as for CSV, then
//! typed by column: see [`super::xlsx`]).
//!
//! Three ways, one output: the generic path formats each sqlx row with
//! [`views::format_row`]; on SQLite a synchronous reader formats borrowed
//! values straight into the CSV writer (no channel hop, no `String` per cell);
//! on MySQL an unfiltered export reads the server's text protocol the same
//! way; on PostgreSQL an unfiltered `flows` export lets the server write raw CSV
//! with `COPY … TO STDOUT (FORMAT csv)`, rewritten in the stream into exactly
//! what payrecon writes. Tests compare the fast paths byte for byte with the
//! generic one.

use super::{CsvFile, OutFile, XlsxFile};
use crate::db::mysql_read::TextRow;
use crate::db::sqlite_read::{self, SqliteReader};
use crate::db::{Arg, Backend, Db, DbError};
use crate::model::{OrderStatus, TransType};
use crate::views::{self, Filter, View};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed, or a value could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The file could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Streams `view` with `filter` into `file` (its header already written;
/// a [`CsvFile`], an [`XlsxFile`] or either as an [`OutFile`]), finishes the
/// file and returns the rows written. The format is the file's.
pub async fn write_view(
    db: &Db,
    view: View,
    filter: &Filter,
    file: impl Into<OutFile>,
) -> Result<u64, ExportError> {
    let file = match file.into() {
        OutFile::Csv(f) => *f,
        OutFile::Xlsx(f) => return write_xlsx(db, view, filter, *f).await,
    };
    let (sql, args) = views::select(db, view, filter)?;
    if let Some(r) = fast_path(db, view, &sql, &args, file).await {
        return r;
    }
    Err(ExportError::Db(DbError::State(
        "not an SQLite database".into(),
    )))
}

/// The engine's fast paths (see the module's doc), else the generic one;
/// `None` only when an SQLite database had no SQLite reader.
async fn fast_path<F: RowSink>(
    db: &Db,
    view: View,
    sql: &str,
    args: &[Arg],
    file: F,
) -> Option<Result<u64, ExportError>> {
    let (sql, args) = (sql.to_owned(), args.to_vec());
    if let Some(cells) = sqlite_cells(view)
        && db.backend() == Backend::Sqlite
    {
        let table = view.table();
        let work = move |r: &SqliteReader| sqlite_export(r, &sql, &args, cells, table, file);
        return db.with_sqlite_reader(work).await;
    }
    if let Some(cells) = sqlite_cells(view)
        && args.is_empty()
        && db.backend() == Backend::MySql
    {
        return Some(mysql_export(db, &sql, cells, view.table(), file).await);
    }
    let file = if view == View::Flows && args.is_empty() && db.backend() == Backend::Postgres {
        match file.into_csv() {
            Ok(mut csv) => {
                return Some(match postgres_copy_flows(db, &mut csv).await {
                    Ok(true) => csv.finish().map_err(ExportError::from),
                    Ok(false) => generic(db, view, &sql, &args, csv).await,
                    Err(e) => {
                        // Nothing half-written is left behind.
                        csv.abandon();
                        Err(e)
                    }
                });
            }
            Err(other) => other,
        }
    } else {
        file
    };
    Some(generic(db, view, &sql, &args, file).await)
}

/// Where [`write_cells`] and the generic path put rows: a CSV file or a
/// workbook (whose cells are typed by column name).
trait RowSink: Send + 'static {
    /// The next cell of the current row.
    fn field(&mut self, cell: &str) -> std::io::Result<()>;
    /// Ends the row.
    fn end_row(&mut self) -> std::io::Result<()>;
    /// One whole row.
    fn row(&mut self, cells: Vec<String>) -> std::io::Result<()>;
    /// Completes the file; the rows written.
    fn finish(self) -> std::io::Result<u64>;
    /// Gives up: nothing under the real name.
    fn abandon(self);
    /// The CSV file itself, for PostgreSQL's `COPY` (CSV only), else itself back.
    fn into_csv(self) -> Result<CsvFile, Self>
    where
        Self: Sized;
}

impl RowSink for CsvFile {
    fn field(&mut self, cell: &str) -> std::io::Result<()> {
        CsvFile::field(self, cell)
    }
    fn end_row(&mut self) -> std::io::Result<()> {
        CsvFile::end_row(self)
    }
    fn row(&mut self, cells: Vec<String>) -> std::io::Result<()> {
        CsvFile::row(self, cells)
    }
    fn finish(self) -> std::io::Result<u64> {
        CsvFile::finish(self)
    }
    fn abandon(self) {
        CsvFile::abandon(self);
    }
    fn into_csv(self) -> Result<CsvFile, Self> {
        Ok(self)
    }
}

impl RowSink for XlsxFile {
    fn field(&mut self, cell: &str) -> std::io::Result<()> {
        XlsxFile::field(self, cell)
    }
    fn end_row(&mut self) -> std::io::Result<()> {
        XlsxFile::end_row(self)
    }
    fn row(&mut self, cells: Vec<String>) -> std::io::Result<()> {
        XlsxFile::row(self, cells)
    }
    fn finish(self) -> std::io::Result<u64> {
        XlsxFile::finish(self)
    }
    fn abandon(self) {
        XlsxFile::abandon(self);
    }
    fn into_csv(self) -> Result<CsvFile, Self> {
        Err(self)
    }
}

/// A view into a workbook: the rows as the CSV has them (the same fast
/// paths), typed by the workbook; on any error nothing is left under the
/// file's name.
async fn write_xlsx(
    db: &Db,
    view: View,
    filter: &Filter,
    file: XlsxFile,
) -> Result<u64, ExportError> {
    let (sql, args) = views::select(db, view, filter)?;
    match fast_path(db, view, &sql, &args, file).await {
        Some(r) => r,
        None => Err(ExportError::Db(DbError::State(
            "not an SQLite database".into(),
        ))),
    }
}

/// Each row formatted by [`views::format_row`]; on an error the file is abandoned.
async fn generic<F: RowSink>(
    db: &Db,
    view: View,
    sql: &str,
    args: &[Arg],
    mut file: F,
) -> Result<u64, ExportError> {
    let r = db
        .for_each_row(sql, args, |row| -> Result<bool, ExportError> {
            let cells = views::format_row(db, view, &row)?;
            file.row(cells)?;
            Ok(true)
        })
        .await;
    match r {
        Ok(()) => Ok(file.finish()?),
        Err(e) => {
            file.abandon();
            Err(e)
        }
    }
}

/// How one output cell is made from the row of [`views::select`].
#[derive(Debug, Clone, Copy)]
enum Cell {
    Int(usize),
    Text(usize),
    /// Text without surrounding spaces (a `CHAR(64)` hash).
    Trim(usize),
    Money(usize),
    /// A time, with milliseconds or not.
    Time(usize, bool),
    /// The stored type name, else the name of the type code in the other column.
    TypeName(usize, usize),
    /// The Chinese name of the order status in the column (`?` if unknown).
    StatusName(usize),
}

/// The cells of each view as [`views::format_row`] makes them (SQLite's
/// reader, MySQL's text rows); `None` where the generic path is used
/// (accounts: computed differences).
fn sqlite_cells(view: View) -> Option<&'static [Cell]> {
    use Cell::*;
    Some(match view {
        View::Flows => &[
            Int(0),
            Int(1),
            Text(2),
            Text(3),
            Int(4),
            TypeName(5, 4),
            Money(6),
            Text(7),
            Time(8, true),
            Int(9),
        ],
        View::Orders => &[
            Int(0),
            Text(1),
            Int(2),
            Text(3),
            Money(4),
            Money(5),
            Int(6),
            StatusName(6),
            Int(7),
            Time(8, true),
            Time(9, true),
        ],
        View::Notify => &[
            Int(0),
            Text(1),
            Text(2),
            Money(3),
            Text(4),
            Int(5),
            Text(6),
            Text(7),
            Time(8, true),
            Int(9),
        ],
        View::Idempotency => &[
            Int(0),
            Text(1),
            Text(2),
            Trim(3),
            Text(4),
            Text(5),
            Time(6, true),
            Time(7, true),
            Time(8, true),
            Time(9, true),
        ],
        View::Accounts => return None,
    })
}

/// Appends cents as `123.45` / `-0.50`: [`crate::money::format_amount`]'s text.
pub(crate) fn push_cents(out: &mut String, c: i64) {
    // By hand: `write!` cost a tenth of a 10M-row export.
    let a = c.unsigned_abs();
    if c < 0 {
        out.push('-');
    }
    let digit = |d: u64| char::from(b'0' + u8::try_from(d % 10).unwrap_or(0));
    let mut buf = ['0'; 20];
    let mut i = buf.len();
    let mut v = a / 100;
    loop {
        i -= 1;
        buf[i] = digit(v);
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(&buf[i..]);
    out.push('.');
    out.push(digit(a % 100 / 10));
    out.push(digit(a % 10));
}

/// Whether `f` is an amount as [`crate::money::format_amount`] writes it
/// (`-?(0|[1-9][0-9]*)\.[0-9]{2}`, no `-0.00`), as MySQL prints a
/// `DECIMAL(…,2)`: then it is copied.
fn canonical_cents(f: &[u8]) -> bool {
    let neg = f.first() == Some(&b'-');
    let body = if neg { &f[1..] } else { f };
    let [int @ .., b'.', d1, d2] = body else {
        return false;
    };
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    !int.is_empty()
        && int.len() <= 16
        && digits(int)
        && digits(&[*d1, *d2])
        && (int[0] != b'0' || int.len() == 1)
        && !(neg && int == b"0" && *d1 == b'0' && *d2 == b'0')
}

/// Appends bytes already checked to be ASCII.
fn push_ascii(out: &mut String, f: &[u8]) {
    if let Ok(t) = std::str::from_utf8(f) {
        out.push_str(t);
    }
}

/// A row's fields as the cells read them: SQLite's borrowed values, MySQL's
/// text-protocol bytes. The cells themselves are written by [`write_cells`],
/// the same for both, so both write what [`views::format_row`] writes.
trait CellSource {
    /// An integer; `None` for NULL.
    fn int(&self, i: usize) -> Result<Option<i64>, DbError>;
    /// A text; `None` for NULL.
    fn text(&self, i: usize) -> Result<Option<std::borrow::Cow<'_, str>>, DbError>;
    /// An amount appended as [`crate::money::format_amount`] writes it; nothing for NULL.
    fn money(&self, i: usize, out: &mut String) -> Result<(), DbError>;
    /// A time; `None` for NULL.
    fn time(&self, i: usize) -> Result<Option<chrono::NaiveDateTime>, DbError>;

    /// An integer appended as decimal digits; nothing for NULL.
    fn int_into(&self, i: usize, out: &mut String) -> Result<(), DbError> {
        use std::fmt::Write as _;
        if let Some(v) = self.int(i)? {
            let _ = write!(out, "{v}");
        }
        Ok(())
    }

    /// A time appended `YYYY-MM-DD HH:MM:SS[.mmm]`; nothing for NULL.
    fn time_into(&self, i: usize, ms: bool, out: &mut String) -> Result<(), DbError> {
        if let Some(t) = self.time(i)? {
            sqlite_read::push_time(out, t, ms);
        }
        Ok(())
    }
}

/// Writes one row's `cells` from `src` (`s` is scratch).
fn write_cells(
    src: &impl CellSource,
    cells: &[Cell],
    s: &mut String,
    file: &mut impl RowSink,
) -> Result<(), ExportError> {
    for cell in cells {
        s.clear();
        match *cell {
            Cell::Int(i) => src.int_into(i, s)?,
            Cell::Text(i) => {
                if let Some(t) = src.text(i)? {
                    s.push_str(&t);
                }
            }
            Cell::Trim(i) => {
                if let Some(t) = src.text(i)? {
                    s.push_str(t.trim());
                }
            }
            Cell::Money(i) => src.money(i, s)?,
            Cell::Time(i, ms) => src.time_into(i, ms, s)?,
            Cell::TypeName(i, code) => match src.text(i)? {
                Some(t) => s.push_str(&t),
                None => {
                    if let Some(t) = src.int(code)?.and_then(TransType::from_code) {
                        s.push_str(t.name_zh());
                    }
                }
            },
            Cell::StatusName(i) => {
                s.push_str(
                    src.int(i)?
                        .and_then(OrderStatus::from_code)
                        .map(|o| o.name_zh())
                        .unwrap_or("?"),
                );
            }
        }
        file.field(s)?;
    }
    file.end_row()?;
    Ok(())
}

/// An SQLite row of a view's query.
struct SqliteCells<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    table: &'static str,
}

impl SqliteCells<'_, '_> {
    fn value(&self, i: usize) -> Result<rusqlite::types::ValueRef<'_>, DbError> {
        sqlite_read::value(self.row, i, column_name(self.row, i)).map_err(|e| self.dec(e))
    }

    fn dec(&self, e: crate::db::DecodeError) -> DbError {
        DbError::Decode {
            table: self.table.to_owned(),
            source: e,
        }
    }
}

impl CellSource for SqliteCells<'_, '_> {
    fn int(&self, i: usize) -> Result<Option<i64>, DbError> {
        sqlite_read::opt_i64(self.value(i)?, column_name(self.row, i)).map_err(|e| self.dec(e))
    }
    fn text(&self, i: usize) -> Result<Option<std::borrow::Cow<'_, str>>, DbError> {
        sqlite_read::opt_text(self.value(i)?, column_name(self.row, i)).map_err(|e| self.dec(e))
    }
    fn money(&self, i: usize, out: &mut String) -> Result<(), DbError> {
        let c = sqlite_read::opt_cents(self.value(i)?, column_name(self.row, i))
            .map_err(|e| self.dec(e))?;
        if let Some(c) = c {
            push_cents(out, c);
        }
        Ok(())
    }
    fn time(&self, i: usize) -> Result<Option<chrono::NaiveDateTime>, DbError> {
        sqlite_read::opt_time(self.value(i)?, column_name(self.row, i)).map_err(|e| self.dec(e))
    }
}

fn sqlite_export<F: RowSink>(
    r: &SqliteReader,
    sql: &str,
    args: &[Arg],
    cells: &'static [Cell],
    table: &'static str,
    mut file: F,
) -> Result<u64, ExportError> {
    let mut s = String::with_capacity(256);
    let read = r.for_each(sql, args, |row| -> Result<bool, ExportError> {
        write_cells(&SqliteCells { row, table }, cells, &mut s, &mut file)?;
        Ok(true)
    });
    match read {
        Ok(()) => Ok(file.finish()?),
        Err(e) => {
            file.abandon();
            Err(e)
        }
    }
}

/// A MySQL text-protocol row of a view's query. The server's text is copied
/// as it is where it already is payrecon's (integers, `DECIMAL(…,2)`,
/// `DATETIME(3)`), after checking that it is.
struct MysqlCells<'r, 'a> {
    row: &'r TextRow<'a>,
    table: &'static str,
}

impl MysqlCells<'_, '_> {
    /// The error of column `i`, named only now (naming costs an allocation).
    fn dec(&self, i: usize) -> impl Fn(crate::db::DecodeError) -> DbError + '_ {
        move |mut e| {
            e.column = self.row.name(i);
            DbError::Decode {
                table: self.table.to_owned(),
                source: e,
            }
        }
    }

    fn raw(&self, i: usize) -> Result<Option<&[u8]>, DbError> {
        self.row.raw(i, "").map_err(self.dec(i))
    }
}

impl CellSource for MysqlCells<'_, '_> {
    fn int(&self, i: usize) -> Result<Option<i64>, DbError> {
        self.row.opt_i64(i, "").map_err(self.dec(i))
    }
    fn text(&self, i: usize) -> Result<Option<std::borrow::Cow<'_, str>>, DbError> {
        Ok(self
            .row
            .opt_text(i, "")
            .map_err(self.dec(i))?
            .map(std::borrow::Cow::Borrowed))
    }
    fn money(&self, i: usize, out: &mut String) -> Result<(), DbError> {
        let Some(f) = self.raw(i)? else {
            return Ok(());
        };
        if canonical_cents(f) {
            push_ascii(out, f);
            return Ok(());
        }
        match crate::money::fast_cents(f) {
            Some(c) => push_cents(out, c),
            None => {
                let d = crate::db::text_field::decimal(f, "").map_err(self.dec(i))?;
                out.push_str(&crate::money::format_amount(d));
            }
        }
        Ok(())
    }
    fn time(&self, i: usize) -> Result<Option<chrono::NaiveDateTime>, DbError> {
        self.row.opt_time(i, "").map_err(self.dec(i))
    }
    fn int_into(&self, i: usize, out: &mut String) -> Result<(), DbError> {
        let Some(f) = self.raw(i)? else {
            return Ok(());
        };
        // Canonical digits (no sign of +, no leading zero) are copied as they are.
        let canonical = match f {
            [b'-', d, ..] | [d, ..] => *d != b'0' || f.len() == 1,
            [] => false,
        };
        match crate::db::text_field::parse_i64(f) {
            Some(_) if canonical => push_ascii(out, f),
            _ => {
                use std::fmt::Write as _;
                let v = self.int(i)?;
                if let Some(v) = v {
                    let _ = write!(out, "{v}");
                }
            }
        }
        Ok(())
    }
    fn time_into(&self, i: usize, ms: bool, out: &mut String) -> Result<(), DbError> {
        let Some(f) = self.raw(i)? else {
            return Ok(());
        };
        // `…:SS` (TIMESTAMP(0)) or `…:SS.mmm` (DATETIME(3)), valid: copied.
        let plain = sqlite_read::fast_time(f).is_some() && f.is_ascii();
        match f.len() {
            19 if plain => {
                push_ascii(out, f);
                if ms {
                    out.push_str(".000");
                }
            }
            23 if plain && ms => push_ascii(out, f),
            _ => {
                if let Some(t) = self.time(i)? {
                    sqlite_read::push_time(out, t, ms);
                }
            }
        }
        Ok(())
    }
}

/// MySQL without bound parameters: the view's query in the text protocol,
/// each field parsed from the server's text (see `db::mysql_read`).
async fn mysql_export<F: RowSink>(
    db: &Db,
    sql: &str,
    cells: &'static [Cell],
    table: &'static str,
    mut file: F,
) -> Result<u64, ExportError> {
    let mut s = String::with_capacity(256);
    let read = db
        .mysql_text_rows(sql, |row| -> Result<(), ExportError> {
            write_cells(&MysqlCells { row, table }, cells, &mut s, &mut file)
        })
        .await;
    match read {
        Ok(()) => Ok(file.finish()?),
        Err(e) => {
            file.abandon();
            Err(e)
        }
    }
}

fn column_name<'a>(row: &'a rusqlite::Row<'_>, i: usize) -> &'a str {
    row.as_ref().column_name(i).unwrap_or("?")
}

/// How [`CopyNeutralizer`] treats a column of COPY's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyCell {
    /// Written as COPY wrote it (integers, NUMERIC amounts).
    Raw,
    /// Text: spreadsheet formulas neutralised, an empty text written empty.
    Text,
    /// A timestamp in ISO style (sqlx sets `DateStyle=ISO`), to the millisecond.
    Time,
}

/// Rewrites PostgreSQL's `COPY … (FORMAT csv)` output of raw columns into
/// payrecon's CSV as the rows stream past: in text cells a spreadsheet
/// formula gets a `'` exactly as [`super::neutralize`] does and an empty text
/// (`""` in COPY's output, to tell it from NULL) is written empty; times are
/// written `YYYY-MM-DD HH:MM:SS.mmm`. Done here rather than in SQL, the server's
/// work is COPY's raw cost — `psql \copy`'s — and this runs on another core.
struct CopyNeutralizer {
    cols: Vec<CopyCell>,
    /// The current row's bytes, when a row spans two messages.
    row: Vec<u8>,
    in_quotes: bool,
}

impl CopyNeutralizer {
    fn new(cols: Vec<CopyCell>) -> Self {
        Self {
            cols,
            row: Vec::new(),
            in_quotes: false,
        }
    }

    /// Takes the next bytes of COPY output; whole rows go to `out`
    /// rewritten, a partial row waits for the next call. Returns whole rows,
    /// or the offending cell of a time that is not ISO style.
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<u64, String> {
        let mut rows = 0;
        let mut start = 0;
        for i in memchr::memchr2_iter(b'"', b'\n', bytes) {
            if bytes[i] == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes {
                if self.row.is_empty() {
                    // The usual case: COPY sends one row per message.
                    self.rewrite_row(&bytes[start..=i], out)?;
                } else {
                    self.row.extend_from_slice(&bytes[start..=i]);
                    let row = std::mem::take(&mut self.row);
                    self.rewrite_row(&row, out)?;
                    self.row = row;
                    self.row.clear();
                }
                start = i + 1;
                rows += 1;
            }
        }
        self.row.extend_from_slice(&bytes[start..]);
        Ok(rows)
    }

    /// One complete row (ending in `\n`): fields split at commas outside quotes.
    fn rewrite_row(&self, row: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let row = &row[..row.len() - 1];
        let (mut col, mut start, mut quoted) = (0, 0, false);
        for i in 0..=row.len() {
            let end = i == row.len();
            if !end {
                match row[i] {
                    b'"' => {
                        quoted = !quoted;
                        continue;
                    }
                    b',' if !quoted => {}
                    _ => continue,
                }
            }
            if col > 0 {
                out.push(b',');
            }
            let cell = &row[start..i];
            match self.cols.get(col).copied().unwrap_or(CopyCell::Raw) {
                CopyCell::Raw => out.extend_from_slice(cell),
                CopyCell::Text => neutral_cell(cell, out),
                CopyCell::Time => time_cell(cell, out)?,
            }
            col += 1;
            start = i + 1;
        }
        out.push(b'\n');
        Ok(())
    }
}

/// An ISO timestamp (`2026-11-20 08:00:01.5`, `…+08` for `timestamptz` in the
/// session's business zone) to the millisecond, as payrecon writes times
/// (`.500`; microseconds cut, as chrono's `%.3f` does); NULL stays empty.
fn time_cell(cell: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let iso = cell.len() >= 19
        && cell[..19].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        })
        && matches!(cell.get(19), None | Some(b'.' | b'+' | b'-'))
        && !cell.ends_with(b" BC");
    if cell.is_empty() {
        Ok(())
    } else if iso {
        out.extend_from_slice(&cell[..19]);
        out.push(b'.');
        // PostgreSQL prints no fraction for whole seconds and drops trailing zeros.
        let frac = match cell.get(19) {
            Some(b'.') => &cell[20..],
            _ => &[],
        };
        let mut ms = [b'0'; 3];
        for (d, b) in ms
            .iter_mut()
            .zip(frac.iter().take_while(|b| b.is_ascii_digit()))
        {
            *d = *b;
        }
        out.extend_from_slice(&ms);
        Ok(())
    } else {
        Err(String::from_utf8_lossy(cell).into_owned())
    }
}

/// One text cell as COPY wrote it, as payrecon writes it (see [`super::neutralize`]).
fn neutral_cell(cell: &[u8], out: &mut Vec<u8>) {
    let risky = |b: u8| matches!(b, b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r');
    match cell {
        // An empty text: payrecon writes it empty, like NULL.
        b"\"\"" => {}
        // Quoted (it holds a comma, quote, CR or LF): never a plain number.
        [b'"', first, ..] if risky(*first) => {
            out.extend_from_slice(b"\"'");
            out.extend_from_slice(&cell[1..]);
        }
        [first, ..] if *first != b'"' && risky(*first) && !super::is_plain_number(cell) => {
            out.push(b'\'');
            out.extend_from_slice(cell);
        }
        _ => out.extend_from_slice(cell),
    }
}

/// The unfiltered flows export through `COPY`, when the table's column types
/// print as payrecon writes them once [`CopyNeutralizer`] has passed (amounts
/// NUMERIC with scale 2, integer codes, text, timestamps); `false` when they
/// do not, for the generic path.
async fn postgres_copy_flows(db: &Db, file: &mut CsvFile) -> Result<bool, ExportError> {
    let types = crate::db::pg_copy::column_types(db, "trans_flow").await?;
    let mut ok = 0;
    for (col, ty) in &types {
        let fits = match col.as_str() {
            "id" | "user_id" | "trans_type" | "is_deleted" => ty.is_integer(),
            "user_name" | "trans_no" | "trans_type_name" | "memo" => ty.is_text(),
            "trans_amount" => ty.data_type == "numeric" && ty.scale == Some(2),
            "create_time" => ty.data_type.starts_with("timestamp"),
            _ => continue,
        };
        if !fits {
            return Ok(false);
        }
        ok += 1;
    }
    if ok != 10 {
        return Ok(false);
    }
    let mut names = String::from("CASE t.trans_type");
    for t in TransType::ALL {
        names.push_str(&format!(
            " WHEN {} THEN '{}'",
            t.code(),
            t.name_zh().replace('\'', "''")
        ));
    }
    names.push_str(" END");
    let sql = format!(
        "COPY (SELECT t.id, t.user_id, t.user_name, t.trans_no, t.trans_type, \
         COALESCE(t.trans_type_name, {names}), t.trans_amount, t.memo, \
         t.create_time, t.is_deleted \
         FROM trans_flow t ORDER BY t.id) TO STDOUT (FORMAT csv)"
    );
    use CopyCell::{Raw, Text, Time};
    let mut neutral =
        CopyNeutralizer::new(vec![Raw, Raw, Text, Text, Raw, Text, Raw, Text, Time, Raw]);
    let mut out = Vec::with_capacity((1 << 20) + 64 * 1024);
    let mut rows = 0;
    db.copy_out(&sql, |chunk| -> Result<(), ExportError> {
        rows += neutral.feed(chunk, &mut out).map_err(|bad| {
            db.decode(
                "trans_flow",
                crate::db::DecodeError {
                    column: "create_time".into(),
                    reason: format!("'{bad}' is not a time payrecon can write"),
                },
            )
        })?;
        if out.len() >= 1 << 20 {
            file.raw(&out, std::mem::take(&mut rows))?;
            out.clear();
        }
        Ok(())
    })
    .await?;
    if !neutral.row.is_empty() {
        return Err(ExportError::Io(std::io::Error::other(
            "PostgreSQL's COPY output ended inside a row",
        )));
    }
    file.raw(&out, rows)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{CopyCell, CopyNeutralizer};

    #[test]
    fn copy_output_is_neutralised_row_by_row_across_chunk_boundaries() {
        // Columns 1 and 2 are text. COPY quotes empty text (`""`) and cells with
        // a comma, quote or newline; NULL is empty and unquoted.
        let copy = b"1,=1+2,\"a,\"\"b\"\"\"\n2,\"\",-12.50\n3,,\"-x\ny\"\n4,@x,\"\"\n";
        let want = "1,'=1+2,\"a,\"\"b\"\"\"\n2,,-12.50\n3,,\"'-x\ny\"\n4,'@x,\n";
        let cols = vec![CopyCell::Raw, CopyCell::Text, CopyCell::Text];
        let mut whole = Vec::new();
        let mut n = CopyNeutralizer::new(cols.clone());
        assert_eq!(n.feed(copy, &mut whole), Ok(4));
        assert_eq!(String::from_utf8(whole).unwrap(), want);
        // One byte at a time: rows and quotes split anywhere.
        let mut bytewise = Vec::new();
        let mut n = CopyNeutralizer::new(cols);
        let rows: u64 = copy
            .iter()
            .map(|b| n.feed(std::slice::from_ref(b), &mut bytewise).unwrap())
            .sum();
        assert_eq!(rows, 4);
        assert!(n.row.is_empty());
        assert_eq!(String::from_utf8(bytewise).unwrap(), want);
    }

    #[test]
    fn copy_times_are_written_to_the_millisecond_and_odd_ones_refused() {
        let mut n = CopyNeutralizer::new(vec![CopyCell::Raw, CopyCell::Time]);
        let mut out = Vec::new();
        let copy =
            b"1,2026-11-20 08:00:01.5\n2,2026-11-20 08:00:02\n3,\n4,2026-11-20 08:00:03.123+08\n\
              5,2026-11-20 08:00:04.987654\n";
        assert_eq!(n.feed(copy, &mut out), Ok(5));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1,2026-11-20 08:00:01.500\n2,2026-11-20 08:00:02.000\n3,\n\
             4,2026-11-20 08:00:03.123\n5,2026-11-20 08:00:04.987\n"
        );
        for bad in ["infinity", "2026-11-20 08:00:01 BC", "12026-11-20 08:00:01"] {
            let mut n = CopyNeutralizer::new(vec![CopyCell::Raw, CopyCell::Time]);
            let row = format!("1,{bad}\n");
            assert_eq!(n.feed(row.as_bytes(), &mut Vec::new()), Err(bad.to_owned()));
        }
    }

    #[test]
    fn push_cents_writes_what_format_amount_writes() {
        for c in [
            0,
            1,
            -1,
            9,
            10,
            99,
            100,
            -100,
            12_345,
            -12_305,
            i64::MAX,
            i64::MIN,
        ] {
            let mut s = String::new();
            super::push_cents(&mut s, c);
            let want = crate::money::format_amount(rust_decimal::Decimal::new(c, 2));
            assert_eq!(s, want, "{c}");
        }
    }

    #[test]
    fn canonical_cents_is_exactly_format_amounts_text() {
        for ok in ["0.00", "1.50", "-3.00", "123456.78", "-0.01"] {
            assert!(super::canonical_cents(ok.as_bytes()), "{ok}");
        }
        for no in [
            "-0.00", "01.00", "1.5", "1.500", ".50", "1", "1e2.00", "+1.00", "",
        ] {
            assert!(!super::canonical_cents(no.as_bytes()), "{no}");
        }
    }
}
