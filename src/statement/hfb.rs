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
) -> Result<ImportReport, StatementError> {
    let mut t = Table::open(path, Decode::Utf8, Comments::Keep)?;
    let Some(header_line) = t.next()? else {
        return Err(t.no_header());
    };
    t.take_header();
    let cols = t.require(header_line, HEADER, THIS)?;
    let mut c = Collector::new(path, "hfb", on_entry);
    while let Some(line) = t.next()? {
        match row(&t, &cols, line) {
            Ok(e) => {
                let totals = &mut c.report.computed;
                totals.count += 1;
                totals.amount += e.amount;
                if e.status == GatewayStatus::Refund {
                    totals.refund_amount += e.amount;
                }
                c.entry(e);
            }
            Err(reason) => c.error(line, reason),
        }
    }
    Ok(c.finish(t.encoding()))
}

fn row(t: &Table, cols: &[usize; 6], line: u64) -> Result<Entry, String> {
    if t.record.len() != t.header.len() {
        return Err(format!(
            "{} fields, the header has {}",
            t.record.len(),
            t.header.len()
        ));
    }
    let [key, bind, charge, fee, status, paid] = *cols;
    let agent_bill_no = t.field(key)?;
    if agent_bill_no.is_empty() {
        return Err("agent_bill_no is empty".to_owned());
    }
    let amount = read::amount("charge_amt", t.field(charge)?)?;
    let amount = require_positive(amount).map_err(|e| format!("charge_amt: {e}"))?;
    let fee = read::non_negative("fee_amt", t.field(fee)?)?;
    let status_text = t.field(status)?;
    let status = GatewayStatus::from_file(status_text)
        .ok_or_else(|| format!("status '{status_text}' is not SUCCESS, REFUND or REVOKED"))?;
    let paid_at = read::time("paid_at", t.field(paid)?)?;
    let bind_code = t.field(bind)?;
    Ok(Entry {
        line,
        agent_bill_no: agent_bill_no.to_owned(),
        kind: EntryKind::Payment,
        status,
        amount,
        fee: Some(fee),
        bind_code: (!bind_code.is_empty()).then(|| bind_code.to_owned()),
        paid_at: Some(paid_at),
    })
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
}
