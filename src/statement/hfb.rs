//! The `hfb` statement: UTF-8 CSV,
//! `agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at`, no footer.
//! [`write_file`] writes it; [`read_statement`](super::read_statement) with
//! [`Format::Hfb`](super::Format::Hfb) reads it back.

use super::read::{
    self, Collector, Comments, Decode, Entry, EntryKind, ImportReport, StatementError, Table,
};
use crate::money::{format_amount, require_positive};
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use std::io::Write;
use std::path::Path;

/// The header line.
pub const HEADER: [&str; 6] = [
    "agent_bill_no",
    "bind_code",
    "charge_amt",
    "fee_amt",
    "status",
    "paid_at",
];

/// Gateway-side status of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum GatewayStatus {
    /// Paid and settled.
    Success,
    /// Refunded to the payer after paying.
    Refund,
    /// Revoked (reversed) by the gateway.
    Revoked,
}

impl GatewayStatus {
    /// The file's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Refund => "REFUND",
            Self::Revoked => "REVOKED",
        }
    }
}

/// One statement line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Merchant order number (`agentBillNo`).
    pub agent_bill_no: String,
    /// `bindCode`.
    pub bind_code: String,
    /// Amount charged.
    pub charge_amt: Decimal,
    /// Gateway fee.
    pub fee_amt: Decimal,
    /// Status.
    pub status: GatewayStatus,
    /// When the gateway took the money (business time).
    pub paid_at: NaiveDateTime,
}

/// Writes a whole statement. The file is written to a temporary name and
/// renamed, so a failed write never leaves a half file behind.
pub fn write_file(path: &std::path::Path, lines: &[Line]) -> std::io::Result<()> {
    let tmp = path.with_extension("csv.partial");
    {
        let f = std::fs::File::create(&tmp)?;
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(f));
        w.write_record(HEADER)?;
        for l in lines {
            w.write_record([
                l.agent_bill_no.as_str(),
                l.bind_code.as_str(),
                &format_amount(l.charge_amt),
                &format_amount(l.fee_amt),
                l.status.as_str(),
                &l.paid_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ])?;
        }
        let mut inner = w.into_inner().map_err(|e| e.into_error())?;
        inner.flush()?;
    }
    std::fs::rename(&tmp, path)
}

impl GatewayStatus {
    /// Reads the file's spelling (`SUCCESS`, `REFUND`, `REVOKED`).
    pub fn from_file(s: &str) -> Option<Self> {
        match s {
            "SUCCESS" => Some(Self::Success),
            "REFUND" => Some(Self::Refund),
            "REVOKED" => Some(Self::Revoked),
            _ => None,
        }
    }
}

const THIS: (&str, &str) = ("hfb", "an hfb statement");

/// Reads an hfb statement (see [`read_statement`](super::read_statement)).
pub(crate) fn read(
    path: &Path,
    on_entry: &mut dyn FnMut(Entry),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    let mut t = Table::open(path, Decode::Utf8, Comments::Keep, on_bytes)?;
    let Some(header_line) = t.next()? else {
        return Err(t.no_header());
    };
    t.take_header();
    let cols = t.require(header_line, HEADER, THIS)?;
    let mut c = Collector::new(path, "hfb", on_entry);
    while let Some(line) = t.next()? {
        let r = row(t.record.len(), t.header.len(), |i| t.field(i), &cols, line);
        match r {
            Ok(e) => {
                add_totals(&mut c.report, &e);
                c.entry(e.to_entry());
            }
            Err(reason) => c.error(line, reason),
        }
    }
    Ok(c.finish(t.encoding()))
}

fn add_totals(r: &mut ImportReport, e: &EntryRef<'_>) {
    let totals = &mut r.computed;
    totals.count += 1;
    totals.amount += e.amount;
    if e.status == GatewayStatus::Refund {
        totals.refund_amount += e.amount;
    }
}

/// One good hfb row, borrowing its text from the line it was read from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    /// Physical 1-based line.
    pub line: u64,
    /// `agent_bill_no`, cleaned.
    pub agent_bill_no: &'a str,
    /// `bind_code`, cleaned (may be empty).
    pub bind_code: &'a str,
    /// `charge_amt`, positive.
    pub amount: Decimal,
    /// `fee_amt`, not negative.
    pub fee: Decimal,
    /// `status`.
    pub status: GatewayStatus,
    /// `paid_at`.
    pub paid_at: NaiveDateTime,
}

impl EntryRef<'_> {
    fn to_entry(self) -> Entry {
        Entry {
            line: self.line,
            agent_bill_no: self.agent_bill_no.to_owned(),
            kind: EntryKind::Payment,
            status: self.status,
            amount: self.amount,
            fee: Some(self.fee),
            bind_code: (!self.bind_code.is_empty()).then(|| self.bind_code.to_owned()),
            paid_at: Some(self.paid_at),
            refunded_at: None,
            gateway_id: None,
            refund_id: None,
            gateway_refund_id: None,
            rate: None,
        }
    }
}

/// One data row: `fields` of the record against `header` columns, `field(i)`
/// the cleaned field `i` (or why it is missing).
fn row<'a>(
    fields: usize,
    header: usize,
    field: impl Fn(usize) -> Result<&'a str, String>,
    cols: &[usize; 6],
    line: u64,
) -> Result<EntryRef<'a>, String> {
    if fields != header {
        return Err(format!("{fields} fields, the header has {header}"));
    }
    let [key, bind, charge, fee, status, paid] = *cols;
    let agent_bill_no = field(key)?;
    if agent_bill_no.is_empty() {
        return Err("agent_bill_no is empty".to_owned());
    }
    let amount = read::amount("charge_amt", field(charge)?)?;
    let amount = require_positive(amount).map_err(|e| format!("charge_amt: {e}"))?;
    let fee = read::non_negative("fee_amt", field(fee)?)?;
    let status_text = field(status)?;
    let status = GatewayStatus::from_file(status_text)
        .ok_or_else(|| format!("status '{status_text}' is not SUCCESS, REFUND or REVOKED"))?;
    let paid_at = read::time("paid_at", field(paid)?)?;
    let bind_code = field(bind)?;
    Ok(EntryRef {
        line,
        agent_bill_no,
        bind_code,
        amount,
        fee,
        status,
        paid_at,
    })
}

/// Splits a CSV line into `parts` (the first ones; the count is returned)
/// as the CSV reader would, for the simple lines only: a field is either
/// free of quotes, or wholly quoted without quotes inside (`"2026-11-20
/// 10:00:00"`, as `sqlite3 -csv` writes it). `None` for anything else.
fn split_simple<'a>(text: &'a str, parts: &mut [&'a str]) -> Option<usize> {
    let b = text.as_bytes();
    let mut n = 0;
    let mut i = 0;
    loop {
        let field = if b.get(i) == Some(&b'"') {
            let close = i + 1 + b[i + 1..].iter().position(|&c| c == b'"')?;
            let f = text.get(i + 1..close)?;
            i = close + 1;
            match b.get(i) {
                None | Some(b',') => {}
                Some(_) => return None,
            }
            f
        } else {
            let end = b[i..]
                .iter()
                .position(|&c| c == b',')
                .map_or(b.len(), |p| i + p);
            let f = text.get(i..end)?;
            if f.contains('"') {
                return None;
            }
            i = end;
            f
        };
        if let Some(slot) = parts.get_mut(n) {
            *slot = field;
        }
        n += 1;
        if i >= b.len() {
            return Some(n);
        }
        // At a comma: the next field starts after it.
        i += 1;
        if i == b.len() {
            if let Some(slot) = parts.get_mut(n) {
                *slot = "";
            }
            return Some(n + 1);
        }
    }
}

/// The header line exactly as payrecon writes it.
const HEADER_LINE: &[u8] = b"agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at";

/// Lines longer than this leave the file to [`read`].
const FAST_MAX_LINE: usize = 64 * 1024;

/// [`read`] for the common file — no BOM, the header exactly as written by
/// payrecon, no quotes, no carriage return inside a line, valid UTF-8 — at a
/// fraction of its cost: lines split on commas in place, rows handed on
/// borrowed. Every row, error, line number and total is what [`read`] gives
/// for such a file. `Ok(None)` as soon as the file is not that simple: the
/// caller then discards the entries it got and uses [`read`]. `cancel` is
/// polled every 64k lines (`Ok(None)` too, the caller checks it).
pub(crate) fn read_fast(
    path: &Path,
    on_entry: &mut dyn FnMut(&EntryRef<'_>),
    cancel: Option<&std::sync::atomic::AtomicBool>,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Option<ImportReport>, StatementError> {
    use std::io::BufRead as _;
    let io_err = |source| StatementError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut rdr = std::io::BufReader::with_capacity(1 << 20, file);
    let mut report = ImportReport {
        path: path.to_owned(),
        format: "hfb",
        encoding: read::Encoding::Utf8,
        entries: 0,
        errors: Vec::new(),
        declared: None,
        computed: read::Totals::default(),
        first_paid_at: None,
        last_paid_at: None,
        days: read::Days::default(),
        declared_period: None,
        layout: None,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut physical = 0u64;
    let mut header_seen = false;
    let cols = [0, 1, 2, 3, 4, 5];
    // Bytes read, told to `on_bytes` every 256 KiB and at the end.
    let (mut consumed, mut reported) = (0u64, 0u64);
    loop {
        buf.clear();
        let n = rdr.read_until(b'\n', &mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        consumed += n as u64;
        if consumed >= reported + (256 << 10) {
            reported = consumed;
            on_bytes(consumed);
        }
        physical += 1;
        if n > FAST_MAX_LINE {
            return Ok(None);
        }
        if physical.is_multiple_of(65_536)
            && cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Ok(None);
        }
        let mut bytes: &[u8] = &buf;
        if let Some(b) = bytes.strip_suffix(b"\n") {
            bytes = b;
        }
        if let Some(b) = bytes.strip_suffix(b"\r") {
            bytes = b;
        }
        if bytes.contains(&b'\r') {
            return Ok(None);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Ok(None);
        };
        if !header_seen {
            // The first line decides (a BOM, blank lines or another header: the general reader).
            if bytes != HEADER_LINE {
                return Ok(None);
            }
            header_seen = true;
            continue;
        }
        if text.trim().is_empty() {
            continue;
        }
        let mut parts = [""; 7];
        let Some(fields) = split_simple(text, &mut parts) else {
            return Ok(None);
        };
        let field = |i: usize| Ok(read::clean(parts[i]));
        match row(fields, HEADER.len(), field, &cols, physical) {
            Ok(e) => {
                add_totals(&mut report, &e);
                report.entries += 1;
                let t = e.paid_at;
                report.first_paid_at = Some(report.first_paid_at.map_or(t, |f| f.min(t)));
                report.last_paid_at = Some(report.last_paid_at.map_or(t, |l| l.max(t)));
                report.days.note(t);
                on_entry(&e);
            }
            Err(reason) => report.errors.push(read::RowError {
                line: physical,
                reason,
            }),
        }
    }
    if !header_seen {
        return Ok(None);
    }
    if consumed != reported {
        on_bytes(consumed);
    }
    Ok(Some(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::read::{Encoding, Format, StatementError, read_statement};
    use chrono::NaiveDate;
    use std::path::PathBuf;

    pub(crate) fn sample() -> Vec<Line> {
        let at = |h, m| {
            NaiveDate::from_ymd_opt(2024, 3, 5)
                .unwrap()
                .and_hms_opt(h, m, 9)
                .unwrap()
        };
        vec![
            Line {
                agent_bill_no: "CHARGE20240305100000123".into(),
                bind_code: "7F3A9C".into(),
                charge_amt: Decimal::new(10000, 2),
                fee_amt: Decimal::ZERO,
                status: GatewayStatus::Success,
                paid_at: at(10, 0),
            },
            Line {
                agent_bill_no: "CHARGE20240305100100456".into(),
                bind_code: "绑定码-甲".into(),
                charge_amt: Decimal::new(123456789, 2),
                fee_amt: Decimal::new(125, 2),
                status: GatewayStatus::Refund,
                paid_at: at(10, 1),
            },
            Line {
                agent_bill_no: "CHARGE20240305235900789".into(),
                bind_code: "X".into(),
                charge_amt: Decimal::new(1, 2),
                fee_amt: Decimal::ZERO,
                status: GatewayStatus::Revoked,
                paid_at: at(23, 59),
            },
        ]
    }

    fn read_all(
        path: &Path,
        format: &Format,
    ) -> Result<(ImportReport, Vec<Entry>), StatementError> {
        let mut got = Vec::new();
        let r = read_statement(path, format, |e| got.push(e))?;
        Ok((r, got))
    }

    fn written(dir: &tempfile::TempDir) -> PathBuf {
        let p = dir.path().join("hfb.csv");
        write_file(&p, &sample()).unwrap();
        p
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = written(&dir);
        let (r, got) = read_all(&p, &Format::Hfb).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            (r.format, r.encoding, r.entries),
            ("hfb", Encoding::Utf8, 3)
        );
        let lines = sample();
        assert_eq!(got.len(), lines.len());
        for (i, (l, e)) in lines.iter().zip(&got).enumerate() {
            assert_eq!(e.line, i as u64 + 2);
            assert_eq!(e.agent_bill_no, l.agent_bill_no);
            assert_eq!(e.bind_code.as_deref(), Some(l.bind_code.as_str()));
            assert_eq!(e.amount, l.charge_amt);
            assert_eq!(e.fee, Some(l.fee_amt));
            assert_eq!(e.status, l.status);
            assert_eq!(e.kind, EntryKind::Payment);
            assert_eq!(e.paid_at, Some(l.paid_at));
        }
        assert_eq!(r.computed.count, 3);
        assert_eq!(r.computed.amount, Decimal::new(10000 + 123456789 + 1, 2));
        assert_eq!(r.computed.refund_amount, Decimal::new(123456789, 2));
        assert_eq!(r.declared, None);
        assert_eq!(r.totals_match(), None);
        assert_eq!(r.first_paid_at, Some(lines[0].paid_at));
        assert_eq!(r.last_paid_at, Some(lines[2].paid_at));
    }

    #[test]
    fn bad_rows_are_reported_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        let text = "agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\n\
            A1,b,12.3.4,0.00,SUCCESS,2024-03-05 10:00:00\n\
            \n\
            A2,b,abc,0.00,SUCCESS,2024-03-05 10:00:00\n\
            A3,b,1.005,0.00,SUCCESS,2024-03-05 10:00:00\n\
            A4,b,-5.00,0.00,SUCCESS,2024-03-05 10:00:00\n\
            A5,b,5.00,0.00,PAID,2024-03-05 10:00:00\n\
            A6,b,5.00,0.00,SUCCESS,05/03/2024\n\
            A7,b,5.00\n\
            A8,\"b\nc\",5.00,0.00,SUCCESS,2024-03-05 10:00:00\n\
            ,b,5.00,0.00,SUCCESS,2024-03-05 10:00:00\n\
            A9,b,7.50,0.00,SUCCESS,2024-03-05 10:00:00\n";
        std::fs::write(&p, text).unwrap();
        let (r, got) = read_all(&p, &Format::Hfb).unwrap();
        let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 4, 5, 6, 7, 8, 9, 12], "{:?}", r.errors);
        let reasons: Vec<&str> = r.errors.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reasons[0],
            "charge_amt: '12.3.4' is not an amount (expected a decimal like 100.00)"
        );
        assert!(reasons[1].contains("'abc' is not an amount"));
        assert_eq!(
            reasons[2],
            "charge_amt: '1.005' has more than two decimal places"
        );
        assert!(reasons[3].contains("must be greater than zero"));
        assert!(reasons[4].contains("status 'PAID'"));
        assert!(reasons[5].contains("'05/03/2024' is not a time"));
        assert_eq!(reasons[6], "3 fields, the header has 6");
        assert_eq!(reasons[7], "agent_bill_no is empty");
        let keys: Vec<&str> = got.iter().map(|e| e.agent_bill_no.as_str()).collect();
        assert_eq!(keys, ["A8", "A9"]);
        assert_eq!(got[0].bind_code.as_deref(), Some("b\nc"));
        assert_eq!((got[0].line, got[1].line), (10, 13));
        assert_eq!(r.computed.count, 2);
        assert_eq!(r.computed.amount, Decimal::new(1250, 2));
    }

    #[test]
    fn empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.csv");
        std::fs::write(&p, "").unwrap();
        let e = read_all(&p, &Format::Hfb).unwrap_err();
        assert!(matches!(e, StatementError::Empty { .. }), "{e}");
        // A header without rows is a day without payments, not an error.
        std::fs::write(
            &p,
            "agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\r\n",
        )
        .unwrap();
        let (r, got) = read_all(&p, &Format::Hfb).unwrap();
        assert!(got.is_empty() && r.errors.is_empty());
    }

    #[test]
    fn a_wechat_bill_read_as_hfb_is_a_header_error_naming_wechat() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wx.csv");
        crate::statement::wechat::write_file(&p, &sample(), None).unwrap();
        let e = read_all(&p, &Format::Hfb).unwrap_err();
        assert!(matches!(e, StatementError::Header { line: 1, .. }), "{e}");
        let s = e.to_string();
        assert!(
            s.contains("looks like a WeChat Pay bill") && s.contains("--format wechat"),
            "{s}"
        );
        std::fs::write(&p, "order,amount\nA,1.00\n").unwrap();
        let s = read_all(&p, &Format::Hfb).unwrap_err().to_string();
        assert!(
            s.contains("no column agent_bill_no, bind_code, charge_amt"),
            "{s}"
        );
        assert!(s.contains("it has: order, amount"), "{s}");
    }

    #[test]
    fn a_gbk_file_read_as_hfb_is_an_encoding_error_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alipay.csv");
        crate::statement::alipay::write_file(&p, &sample(), None).unwrap();
        let e = read_all(&p, &Format::Hfb).unwrap_err();
        assert!(
            matches!(
                e,
                StatementError::Encoding {
                    line: 1,
                    found: "GBK",
                    expected: "UTF-8",
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().ends_with(
                "is not UTF-8 (line 1 looks like GBK): give --format alipay or --encoding gbk"
            ),
            "{e}"
        );
        // GBK further down: the line is the first one that is not UTF-8.
        let mut bytes = b"agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\nA1,b,1.00,0.00,SUCCESS,2024-03-05 10:00:00\n".to_vec();
        bytes.extend_from_slice(
            &encoding_rs::GBK
                .encode("A2,绑定,1.00,0.00,SUCCESS,2024-03-05 10:00:00\n")
                .0,
        );
        std::fs::write(&p, bytes).unwrap();
        let e = read_all(&p, &Format::Hfb).unwrap_err();
        assert!(
            matches!(
                e,
                StatementError::Encoding {
                    line: 3,
                    found: "GBK",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let p = written(&dir);
        let text = std::fs::read_to_string(&p).unwrap().replace('\n', "\r\n");
        std::fs::write(&p, format!("\u{feff}{text}")).unwrap();
        let (r, got) = read_all(&p, &Format::Hfb).unwrap();
        assert_eq!(r.encoding, Encoding::Utf8Bom);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(got[1].bind_code.as_deref(), Some("绑定码-甲"));
        assert_eq!(got[2].line, 4);
    }

    /// The fast reader gives exactly what the general one gives, or hands the file over.
    #[test]
    fn fast_reader_agrees_with_the_general_reader() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        let h = "agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\n";
        let simple = [
            format!("{h}A,b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\n"),
            format!("{h}A,b,1.00,0.00,SUCCESS,2026-11-20 10:00:00"),
            format!(
                "{h}A,b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\r\n\r\n   \n B , `x ,2,0,REFUND,2026-11-20 10:00:00.5\n"
            ),
            format!(
                "{h}\n,b,1,0,SUCCESS,2026-11-20 10:00:00\nC,b,-1,0,SUCCESS,2026-11-20 10:00:00\n"
            ),
            format!(
                "{h}D,b,1.005,0,SUCCESS,x\nE,b,1,0,PAID,2026-11-20 10:00:00\nF,b\nG,b,1,0,SUCCESS,2026-11-20 10:00:00,\n"
            ),
            format!(
                "{h}H,绑定码,1,-0.01,SUCCESS,2026/11/20 10:00:00\nI,,3,0.5,REVOKED,2026-11-20T10:00:00\n"
            ),
            format!(
                "{h}J,b,0,0,SUCCESS,2026-11-20 10:00:00\n#K,b,1,0,SUCCESS,2026-11-20 10:00:00\n"
            ),
            format!(
                "{h}Q,\"b,c\",1,0,SUCCESS,\"2026-11-20 10:00:00\"\n\"\",b,1,0,SUCCESS,\" 2026-11-20 10:00:00 \"\n"
            ),
            format!("{h}R,b,1,0,SUCCESS,\"\"\nS,b,1,0,SUCCESS,2026-11-20 10:00:00,\"\"\n,,,,,\n"),
            h.to_owned(),
        ];
        for text in &simple {
            std::fs::write(&p, text).unwrap();
            let mut fast = Vec::new();
            let r = read_fast(&p, &mut |e| fast.push(e.to_entry()), None, &mut |_| {})
                .unwrap()
                .unwrap_or_else(|| panic!("not fast: {text:?}"));
            let (slow_r, slow) = read_all(&p, &Format::Hfb).unwrap();
            assert_eq!(fast, slow, "{text:?}");
            assert_eq!(r, slow_r, "{text:?}");
        }
        let handed_over = [
            format!("{h}\"A\"\"\",b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\n"),
            format!("{h}\"A\"x,b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\n"),
            format!("{h}A\",b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\n"),
            format!("{h}\"A,b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\n"),
            format!("\u{feff}{h}A,b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\n"),
            format!("\n{h}A,b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\n"),
            format!(
                "{h}A,b,1.00,0.00,SUCCESS,2026-11-20 10:00:00\rB,b,1,0,SUCCESS,2026-11-20 10:00:00\n"
            ),
            "bind_code,agent_bill_no,charge_amt,fee_amt,status,paid_at\n".to_owned(),
            String::new(),
        ];
        for text in &handed_over {
            std::fs::write(&p, text).unwrap();
            let r = read_fast(&p, &mut |_| {}, None, &mut |_| {}).unwrap();
            assert!(r.is_none(), "{text:?}");
        }
        std::fs::write(
            &p,
            [h.as_bytes(), b"A,\xff,1,0,SUCCESS,2026-11-20 10:00:00\n"].concat(),
        )
        .unwrap();
        assert!(
            read_fast(&p, &mut |_| {}, None, &mut |_| {})
                .unwrap()
                .is_none()
        );
    }
}
