//! The custodian's per-user balance file (SPEC §5, `--balances`): a CSV
//! with a header naming the user code (`user_code` or `bind_code`),
//! `amount` and, optionally, `freeze_amount` — hfb's `user_account`
//! exported as CSV. Header names are matched case-insensitively and in
//! camelCase too (`userCode`, `bindCode`, `freezeAmount`); other columns are
//! ignored. GBK or UTF-8 (with or without BOM) is detected.
//!
//! The file is streamed like every statement: each good row is handed to the
//! caller and forgotten. The one thing kept per row is a 128-bit fingerprint
//! of its user code and its line (24 bytes), because a code listed twice is
//! an error on the second line that names the first.

use super::read::{self, Comments, Decode, Encoding, RowError, StatementError, Table};
use crate::money::format_amount;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// One account of the custodian's balance file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustodianBalance {
    /// The file's physical 1-based line.
    pub line: u64,
    /// The user code (our `user_info.bind_code`), trimmed.
    pub user_code: String,
    /// The available balance, exact.
    pub amount: Decimal,
    /// The frozen amount, when the file has a `freeze_amount` column.
    pub freeze_amount: Option<Decimal>,
}

/// What reading a balance file found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BalancesReport {
    /// The file.
    pub path: PathBuf,
    /// Its encoding as found.
    pub encoding: Encoding,
    /// Good rows handed to the callback.
    pub rows: u64,
    /// Bad rows, in file order (a repeated user code is one, on its second line).
    pub errors: Vec<RowError>,
    /// The header name of the user-code column, as written: `user_code`, `bindCode`, ….
    pub code_column: String,
    /// Whether the file has a `freeze_amount` column.
    pub has_freeze: bool,
}

/// The header [`write_balances`] writes.
pub const HEADER: [&str; 3] = ["user_code", "amount", "freeze_amount"];

const THIS: (&str, &str) = ("balances", "a custodian balances file");

/// A header name reduced for matching: ASCII lower case without `_`, `-`
/// and spaces, so `user_code`, `USER_CODE`, `userCode` and `user-code` meet.
fn reduced(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The first header column whose reduced name is one of `names` (in the
/// order of `names`: `user_code` wins over `bind_code`).
fn find(header: &[String], names: &[&str]) -> Option<usize> {
    let reduced: Vec<String> = header.iter().map(|h| reduced(h)).collect();
    names
        .iter()
        .find_map(|n| reduced.iter().position(|h| h == n))
}

/// Where the columns are.
struct Columns {
    code: usize,
    amount: usize,
    freeze: Option<usize>,
}

/// Reads the custodian's balance file at `path`, calling `on_row` for each
/// good row in file order; `on_bytes` is told how far the reading got (for
/// a progress bar). Memory does not grow with the file beyond a 24-byte
/// fingerprint per user code (to name a repeated code's first line).
///
/// A bad row is a [`RowError`] (line, reason) and reading goes on; a user
/// code listed again is a [`RowError`] on the later line naming the first
/// (the first row was already handed on: a caller that must not use a
/// repeated code keeps the codes). A file without a user-code or `amount`
/// column, empty, unreadable or in neither UTF-8 nor GBK is a
/// [`StatementError`].
pub fn read_balances(
    path: &Path,
    on_row: &mut dyn FnMut(CustodianBalance),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<BalancesReport, StatementError> {
    let mut sink = Fingerprinted {
        keys: Fingerprints::new(),
        first_line: HashMap::new(),
        on_row,
    };
    read_with(path, &mut sink, on_bytes)
}

/// Where [`read_with`] puts the rows whose user code it could read.
pub(crate) trait Sink {
    /// The row on `line` for `code`: `Some((amount, freeze))` when it is
    /// good, `None` when it is bad. Returns the line the code was first
    /// seen on if it was seen before: the row is then a repeat, and the
    /// sink must not use the code at all.
    fn row(
        &mut self,
        code: &str,
        line: u64,
        balance: Option<(Decimal, Option<Decimal>)>,
    ) -> Option<u64>;
}

/// [`read_balances`]' sink: a fingerprint per code, good rows handed on.
struct Fingerprinted<'a> {
    keys: Fingerprints,
    first_line: HashMap<u128, u64>,
    on_row: &'a mut dyn FnMut(CustodianBalance),
}

impl Sink for Fingerprinted<'_> {
    fn row(
        &mut self,
        code: &str,
        line: u64,
        balance: Option<(Decimal, Option<Decimal>)>,
    ) -> Option<u64> {
        let first = *self.first_line.entry(self.keys.of(code)).or_insert(line);
        if first != line {
            return Some(first);
        }
        if let Some((amount, freeze_amount)) = balance {
            (self.on_row)(CustodianBalance {
                line,
                user_code: code.to_owned(),
                amount,
                freeze_amount,
            });
        }
        None
    }
}

/// The reader under [`read_balances`]: rows whose code could be read go to
/// `sink`, which says whether the code was seen before.
pub(crate) fn read_with(
    path: &Path,
    sink: &mut dyn Sink,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<BalancesReport, StatementError> {
    let mut t = Table::open(path, Decode::Auto, Comments::Keep, on_bytes)?;
    let Some(header_line) = t.next()? else {
        return Err(t.no_header());
    };
    t.take_header();
    let code = find(&t.header, &["usercode", "bindcode"]);
    let amount = find(&t.header, &["amount"]);
    let (code, amount) = match (code, amount) {
        (Some(c), Some(a)) => (c, a),
        (c, a) => {
            let mut missing = Vec::new();
            if c.is_none() {
                missing.push("user_code (or bind_code)");
            }
            if a.is_none() {
                missing.push("amount");
            }
            return Err(t.header_error(header_line, THIS, &missing));
        }
    };
    let cols = Columns {
        code,
        amount,
        freeze: find(&t.header, &["freezeamount"]),
    };
    let mut report = BalancesReport {
        path: path.to_owned(),
        encoding: Encoding::Utf8,
        rows: 0,
        errors: Vec::new(),
        code_column: t.header[cols.code].clone(),
        has_freeze: cols.freeze.is_some(),
    };
    while let Some(line) = t.next()? {
        let parsed = row(&t, &cols, &report.code_column);
        let code = t.get(cols.code).unwrap_or("");
        let repeat = if code.is_empty() {
            None
        } else {
            sink.row(code, line, parsed.as_ref().ok().copied())
        };
        let reason = match (repeat, parsed) {
            (Some(first), _) => format!(
                "{} '{code}' is listed again: its first row is line {first}; neither row is used",
                report.code_column
            ),
            (None, Ok(_)) => {
                report.rows += 1;
                continue;
            }
            (None, Err(reason)) => reason,
        };
        report.errors.push(RowError { line, reason });
    }
    report.encoding = t.encoding();
    Ok(report)
}

/// One data row's (amount, freeze amount).
fn row(t: &Table, cols: &Columns, code_name: &str) -> Result<(Decimal, Option<Decimal>), String> {
    t.check_width()?;
    if t.field(cols.code)?.is_empty() {
        return Err(format!("{code_name} is empty"));
    }
    let amount = money(t, cols.amount)?;
    let freeze_amount = cols.freeze.map(|i| money(t, i)).transpose()?;
    Ok((amount, freeze_amount))
}

/// The exact amount in column `i`: at most two decimals, no thousands
/// separators (`1,234.00` would be a guess at what the exporter meant).
fn money(t: &Table, i: usize) -> Result<Decimal, String> {
    let name = t.header.get(i).map_or("amount", String::as_str);
    let text = t.field(i)?;
    if text.contains([',', '_', ' ', '，']) {
        return Err(format!(
            "{name}: '{text}' has a thousands separator or a space (write it as 1234.00)"
        ));
    }
    read::amount(name, text)
}

/// 128-bit fingerprints of user codes: two SipHash values under two random
/// keys. Two different codes of one file share a fingerprint with a
/// probability of about n²/2¹²⁹ (10⁻²⁶ for a million codes), so a
/// fingerprint stands for its code where keeping every code would cost
/// tens of bytes per row more.
struct Fingerprints(RandomState, RandomState);

impl Fingerprints {
    fn new() -> Self {
        Self(RandomState::new(), RandomState::new())
    }

    fn of(&self, code: &str) -> u128 {
        (u128::from(self.0.hash_one(code)) << 64) | u128::from(self.1.hash_one(code))
    }
}

/// A fast hasher for user codes (multiply-rotate over 8-byte words, then a
/// 64-bit finaliser): SipHash was a third of a million-user comparison.
/// The maps it serves compare the codes themselves, so a collision costs
/// time, never a wrong answer.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CodeHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl std::hash::Hasher for CodeHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b) ^ rest.len() as u64).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        // fmix64: every bit of the state reaches the low bits the table indexes by.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A map keyed by user code, with [`CodeHasher`].
pub(crate) type CodeMap<V> = HashMap<Box<str>, V, std::hash::BuildHasherDefault<CodeHasher>>;

/// Writes a balance file: header `user_code,amount,freeze_amount`, UTF-8,
/// amounts with two decimals, one row per `(user_code, amount,
/// freeze_amount)`. The file is written under `NAME.partial` and renamed,
/// so a failed write never leaves a half file under the real name.
pub fn write_balances(path: &Path, rows: &[(String, Decimal, Decimal)]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let f = std::fs::File::create(&tmp)?;
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(f));
        w.write_record(HEADER)?;
        for (code, amount, freeze) in rows {
            w.write_record([
                code.as_str(),
                &format_amount(*amount),
                &format_amount(*freeze),
            ])?;
        }
        let mut inner = w.into_inner().map_err(|e| e.into_error())?;
        inner.flush()?;
        inner.get_ref().sync_all()
    };
    match write() {
        Ok(()) => std::fs::rename(&tmp, path),
        Err(e) => {
            // Best effort: the error that matters is the write's.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn read_all(
        path: &Path,
    ) -> (
        Result<BalancesReport, StatementError>,
        Vec<CustodianBalance>,
    ) {
        let mut rows = Vec::new();
        let r = read_balances(path, &mut |b| rows.push(b), &mut |_| {});
        (r, rows)
    }

    fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn code_hasher_spreads_codes() {
        use std::hash::BuildHasher as _;
        let b = std::hash::BuildHasherDefault::<CodeHasher>::default();
        let mut low: std::collections::HashSet<u64> = std::collections::HashSet::new();
        for i in 0..4096u64 {
            low.insert(b.hash_one(format!("{i:032x}")) & 0xfff);
        }
        assert!(low.len() > 2500, "{}", low.len());
        assert_ne!(b.hash_one("ab"), b.hash_one("ab\0"));
    }

    #[test]
    fn writes_and_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.csv");
        let rows = vec![
            ("A1".to_owned(), d("10745.00"), d("0")),
            ("B,2".to_owned(), d("0.5"), d("12.34")),
        ];
        write_balances(&p, &rows).unwrap();
        assert!(!dir.path().join("b.csv.partial").exists());
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "user_code,amount,freeze_amount\nA1,10745.00,0.00\n\"B,2\",0.50,12.34\n"
        );
        let (r, got) = read_all(&p);
        let r = r.unwrap();
        assert_eq!(r.rows, 2);
        assert_eq!(r.code_column, "user_code");
        assert!(r.has_freeze && r.errors.is_empty());
        assert_eq!(r.encoding, Encoding::Utf8);
        assert_eq!(got[1].user_code, "B,2");
        assert_eq!(got[1].line, 3);
        assert_eq!(got[1].amount, d("0.50"));
        assert_eq!(got[1].freeze_amount, Some(d("12.34")));
    }

    #[test]
    fn header_names_in_any_case_and_camel_case() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(
            &dir,
            "c.csv",
            b"\xEF\xBB\xBFid,bindCode,Amount,freezeAmount\n1, X9 ,1.5,0\n",
        );
        let (r, got) = read_all(&p);
        let r = r.unwrap();
        assert_eq!(r.code_column, "bindCode");
        assert_eq!(r.encoding, Encoding::Utf8Bom);
        assert_eq!(got[0].user_code, "X9");
        assert_eq!(got[0].amount, d("1.50"));
        let p = file(&dir, "n.csv", b"USER_CODE,AMOUNT\nq,7\n");
        let (r, got) = read_all(&p);
        let r = r.unwrap();
        assert!(!r.has_freeze);
        assert_eq!(got[0].freeze_amount, None);
    }

    #[test]
    fn bad_rows_and_repeated_codes_are_row_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(
            &dir,
            "e.csv",
            b"user_code,amount,freeze_amount\nA,1.00,0\nB,\"1,234.00\",0\nC,1.005,0\n,5,0\nA,2.00,0\nD,3\nE,1_000,0\nF,abc,0\nG,-3.00,0.00\n",
        );
        // Every row whose code was read reaches the sink, good or bad.
        struct Log(Vec<(String, bool)>);
        impl Sink for Log {
            fn row(
                &mut self,
                code: &str,
                _: u64,
                b: Option<(Decimal, Option<Decimal>)>,
            ) -> Option<u64> {
                let first = self.0.iter().position(|(c, _)| c == code);
                self.0.push((code.to_owned(), b.is_some()));
                first.map(|i| i as u64 + 2)
            }
        }
        let mut log = Log(Vec::new());
        let r = read_with(&p, &mut log, &mut |_| {}).unwrap();
        let mut rows = Vec::new();
        read_balances(&p, &mut |b| rows.push(b), &mut |_| {}).unwrap();
        let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9], "{:?}", r.errors);
        assert!(
            r.errors[0].reason.contains("thousands separator"),
            "{:?}",
            r.errors
        );
        assert!(
            r.errors[1].reason.contains("more than two decimal"),
            "{:?}",
            r.errors
        );
        assert_eq!(r.errors[2].reason, "user_code is empty");
        assert_eq!(
            r.errors[3].reason,
            "user_code 'A' is listed again: its first row is line 2; neither row is used"
        );
        assert!(r.errors[4].reason.contains("fields"), "{:?}", r.errors);
        assert!(
            r.errors[5].reason.contains("thousands separator"),
            "{:?}",
            r.errors
        );
        assert!(r.errors[6].reason.contains("'abc'"), "{:?}", r.errors);
        let codes: Vec<&str> = rows.iter().map(|b| b.user_code.as_str()).collect();
        assert_eq!(
            codes,
            ["A", "G"],
            "a negative balance is data, not an error"
        );
        assert_eq!(r.rows, 2);
        let seen: Vec<(&str, bool)> = log.0.iter().map(|(c, g)| (c.as_str(), *g)).collect();
        assert_eq!(
            seen,
            [
                ("A", true),
                ("B", false),
                ("C", false),
                ("A", true),
                ("D", false),
                ("E", false),
                ("F", false),
                ("G", true)
            ]
        );
    }

    #[test]
    fn a_file_without_the_columns_is_refused_naming_the_header_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(&dir, "x.csv", b"\n\nname,amount\nx,1\n");
        let e = read_all(&p).0.unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, StatementError::Header { line: 3, .. }), "{s}");
        assert!(s.contains("x.csv, line 3: "), "{s}");
        assert!(s.contains("user_code (or bind_code)"), "{s}");
        assert!(
            s.contains("no column user_code (or bind_code) (it has: name, amount)"),
            "{s}"
        );
        let p = file(&dir, "y.csv", b"user_code,balance\nx,1\n");
        let s = read_all(&p).0.unwrap_err().to_string();
        assert!(s.contains("no column amount"), "{s}");
        let p = file(&dir, "z.csv", b"");
        assert!(matches!(
            read_all(&p).0.unwrap_err(),
            StatementError::Empty { .. }
        ));
    }

    #[test]
    fn gbk_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, _, bad) =
            encoding_rs::GBK.encode("user_code,amount,freeze_amount,户名\nA,1.00,2.00,张三\n");
        assert!(!bad);
        let p = file(&dir, "g.csv", &bytes);
        let (r, got) = read_all(&p);
        assert_eq!(r.unwrap().encoding, Encoding::Gbk);
        assert_eq!(got[0].freeze_amount, Some(d("2.00")));
    }
}
