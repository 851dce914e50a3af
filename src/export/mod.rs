//! CSV output (SPEC §7): UTF-8 (optional BOM for Excel), exact decimals,
//! cells that would start a spreadsheet formula neutralised — real numbers
//! such as `-12.50` stay numbers. The same rows can go to an Excel workbook
//! instead ([`xlsx`]): typed cells, ids and mobiles as text.

pub mod findings;
pub mod run_book;
mod view;
pub mod xlsx;

pub use view::{ExportError, write_view};
pub use xlsx::XlsxFile;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// CSV (SPEC §7).
    #[default]
    Csv,
    /// An Excel workbook (`.xlsx`) with typed cells.
    Xlsx,
}

impl ExportFormat {
    /// The format a file name asks for: `.xlsx` (any case) is Excel, anything else CSV.
    pub fn from_path(path: &Path) -> Self {
        match path.extension() {
            Some(e) if e.eq_ignore_ascii_case("xlsx") => Self::Xlsx,
            _ => Self::Csv,
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// An export file of either format, written under a temporary name and
/// moved into place only when complete.
pub enum OutFile {
    /// CSV.
    Csv(Box<CsvFile>),
    /// Excel.
    Xlsx(Box<XlsxFile>),
}

impl From<CsvFile> for OutFile {
    fn from(f: CsvFile) -> Self {
        Self::Csv(Box::new(f))
    }
}

impl From<XlsxFile> for OutFile {
    fn from(f: XlsxFile) -> Self {
        Self::Xlsx(Box::new(f))
    }
}

impl OutFile {
    /// Creates the file with its header: CSV (`bom` writes a UTF-8 BOM) or a
    /// workbook whose data sheet is named `sheet`.
    pub fn create(
        path: &Path,
        header: &[&str],
        format: ExportFormat,
        bom: bool,
        sheet: &str,
    ) -> std::io::Result<Self> {
        Ok(match format {
            ExportFormat::Csv => Self::Csv(Box::new(CsvFile::create(path, header, bom)?)),
            ExportFormat::Xlsx => Self::Xlsx(Box::new(XlsxFile::create(path, header, sheet)?)),
        })
    }

    /// Writes one row (CSV: neutralised; Excel: typed by column name).
    pub fn row<I, S>(&mut self, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        match self {
            Self::Csv(f) => f.row(cells),
            Self::Xlsx(f) => f.row(cells),
        }
    }

    /// Gives up: nothing appears under the real name.
    pub fn abandon(self) {
        match self {
            Self::Csv(f) => f.abandon(),
            Self::Xlsx(f) => f.abandon(),
        }
    }

    /// Completes the file and moves it into place; returns the rows written.
    pub fn finish(self) -> std::io::Result<u64> {
        match self {
            Self::Csv(f) => f.finish(),
            Self::Xlsx(f) => f.finish(),
        }
    }
}

use std::io::Write;
use std::path::{Path, PathBuf};

/// Makes a cell safe to open in a spreadsheet.
///
/// A cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'`
/// (OWASP's advice) unless the whole cell is a plain number.
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && !is_plain_number(cell.as_bytes()) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// `[-+]?digits(.digits)?` — a number a spreadsheet reads as a number.
pub(crate) fn is_plain_number(s: &[u8]) -> bool {
    let body = s
        .strip_prefix(b"-")
        .or_else(|| s.strip_prefix(b"+"))
        .unwrap_or(s);
    let (int, frac) = match body.iter().position(|&b| b == b'.') {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    !int.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
}

/// A CSV file written to a temporary name and moved into place on
/// [`CsvFile::finish`]: a failed export never leaves a half file under the real name.
pub struct CsvFile {
    writer: csv::Writer<std::io::BufWriter<std::fs::File>>,
    tmp: PathBuf,
    path: PathBuf,
    rows: u64,
}

impl CsvFile {
    /// Creates the file with its header; `bom` writes a UTF-8 BOM first (for Excel).
    pub fn create(path: &Path, header: &[&str], bom: bool) -> std::io::Result<Self> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        // Large buffers: a 10M-row export is ~1 GB, written in 256 KiB calls, not 8 KiB ones.
        let mut f = std::io::BufWriter::with_capacity(1 << 18, std::fs::File::create(&tmp)?);
        if bom {
            f.write_all(b"\xEF\xBB\xBF")?;
        }
        let mut writer = csv::WriterBuilder::new()
            .buffer_capacity(1 << 16)
            .from_writer(f);
        writer.write_record(header)?;
        Ok(Self {
            writer,
            tmp,
            path: path.to_path_buf(),
            rows: 0,
        })
    }

    /// Writes one row, neutralising each cell.
    pub fn row<I, S>(&mut self, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let v: Vec<String> = cells
            .into_iter()
            .map(|c| neutralize(c.as_ref()).into_owned())
            .collect();
        self.writer.write_record(&v)?;
        self.rows += 1;
        Ok(())
    }

    /// Gives up: the partial file is removed, nothing appears under the real name.
    pub fn abandon(self) {
        let tmp = self.tmp.clone();
        drop(self);
        // Best effort: a leftover `.partial` file is harmless and says what it is.
        let _ = std::fs::remove_file(tmp);
    }

    /// Writes one cell of the current row, neutralised (no allocation for a
    /// safe cell); [`CsvFile::end_row`] ends the row.
    pub fn field(&mut self, cell: &str) -> std::io::Result<()> {
        self.writer.write_field(neutralize(cell).as_bytes())?;
        Ok(())
    }

    /// Ends the row begun with [`CsvFile::field`].
    pub fn end_row(&mut self) -> std::io::Result<()> {
        self.writer.write_record(None::<&[u8]>)?;
        self.rows += 1;
        Ok(())
    }

    /// Appends CSV text that is already formatted and neutralised (PostgreSQL's
    /// `COPY … (FORMAT csv)` output) holding `rows` rows.
    pub(crate) fn raw(&mut self, bytes: &[u8], rows: u64) -> std::io::Result<()> {
        // Flush what the csv writer holds, then write to the file itself.
        self.writer.flush()?;
        let mut file: &std::fs::File = self.writer.get_ref().get_ref();
        file.write_all(bytes)?;
        self.rows += rows;
        Ok(())
    }

    /// Flushes and moves the file into place; returns the rows written.
    pub fn finish(self) -> std::io::Result<u64> {
        let mut inner = self.writer.into_inner().map_err(|e| e.into_error())?;
        inner.flush()?;
        inner.get_ref().sync_all()?;
        drop(inner);
        std::fs::rename(&self.tmp, &self.path)?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_neutralised_numbers_kept() {
        assert_eq!(neutralize("=1+2"), "'=1+2");
        assert_eq!(neutralize("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralize("+86 138"), "'+86 138");
        assert_eq!(neutralize("-cmd|' /C calc'!A0"), "'-cmd|' /C calc'!A0");
        assert_eq!(neutralize("\tx"), "'\tx");
        assert_eq!(neutralize("-12.50"), "-12.50");
        assert_eq!(neutralize("+3"), "+3");
        assert_eq!(neutralize("12.50"), "12.50");
        assert_eq!(neutralize("王伟"), "王伟");
        assert_eq!(neutralize("-"), "'-");
        assert_eq!(neutralize("-1."), "'-1.");
    }
}
