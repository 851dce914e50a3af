//! WeChat Pay trade bill (交易账单, SPEC §5): backtick-prefixed fields, a
//! summary header and one summary row after the data.
//!
//! The reader finds its columns by header name, so the SUCCESS bill (no
//! refund columns) and older merchants' shorter headers read too: the key
//! is 商户订单号, the status 交易状态, the amount 应结订单金额 (else 订单金额,
//! else 总金额), the refund 退款金额 (else 申请退款金额), the fee 手续费 (kept
//! exact, five decimals), the time 交易时间. The summary row becomes the
//! report's `declared` totals (总交易单数, 应结订单总金额, 退款总金额).

use super::hfb::{GatewayStatus, Line};
use super::read::{
    self, Collector, Comments, Decode, Entry, EntryKind, ImportReport, StatementError, Table,
    Totals,
};
use crate::money::format_amount;
use rust_decimal::Decimal;
use std::io::Write;
use std::path::Path;

/// The 27-column header of the ALL bill.
pub const HEADER: [&str; 27] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
];

/// The summary header.
pub const SUMMARY_HEADER: [&str; 7] = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

/// The merchant's fee rate, 0.60 %.
fn fee(amount: Decimal) -> Decimal {
    (amount * Decimal::new(6, 3)).round_dp(5)
}

fn tick(s: &str) -> String {
    format!("`{s}")
}

/// Writes a WeChat ALL bill for `lines`. With `keep_rows`, only the first
/// rows are written while the summary still counts all of them — what a
/// truncated download looks like.
pub fn write_file(
    path: &std::path::Path,
    lines: &[Line],
    keep_rows: Option<usize>,
) -> std::io::Result<()> {
    let tmp = path.with_extension("csv.partial");
    {
        let f = std::fs::File::create(&tmp)?;
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(std::io::BufWriter::new(f));
        w.write_record(HEADER)?;
        let (mut total, mut refunds, mut fees) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for (i, l) in lines.iter().enumerate() {
            let refund = l.status == GatewayStatus::Refund;
            let amt = format_amount(l.charge_amt);
            let fee_amt = fee(l.charge_amt);
            total += l.charge_amt;
            fees += fee_amt;
            if refund {
                refunds += l.charge_amt;
            }
            if keep_rows.is_some_and(|k| i >= k) {
                continue;
            }
            let rec = [
                l.paid_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                "wx2421b1c4370ec43b".into(),
                "10000100".into(),
                "0".into(),
                String::new(),
                format!("42000{:015}", i + 1),
                l.agent_bill_no.clone(),
                format!("oUpF8u{}", l.bind_code.chars().take(22).collect::<String>()),
                "NATIVE".into(),
                l.status.as_str().into(),
                "CMB_DEBIT".into(),
                "CNY".into(),
                amt.clone(),
                "0.00".into(),
                if refund {
                    format!("50000{:015}", i + 1)
                } else {
                    "0".into()
                },
                if refund {
                    format!("R{}", l.agent_bill_no)
                } else {
                    "0".into()
                },
                if refund { amt.clone() } else { "0.00".into() },
                "0.00".into(),
                if refund {
                    "ORIGINAL".into()
                } else {
                    String::new()
                },
                if refund {
                    "SUCCESS".into()
                } else {
                    String::new()
                },
                "账户充值".into(),
                String::new(),
                fee_amt.to_string(),
                "0.60%".into(),
                amt.clone(),
                if refund { amt } else { "0.00".into() },
                String::new(),
            ];
            w.write_record(rec.iter().map(|s| tick(s)))?;
        }
        w.write_record(SUMMARY_HEADER)?;
        let summary = [
            lines.len().to_string(),
            format_amount(total),
            format_amount(refunds),
            "0.00".into(),
            fees.round_dp(2).to_string(),
            format_amount(total),
            format_amount(refunds),
        ];
        w.write_record(summary.iter().map(|s| tick(s)))?;
        let mut inner = w.into_inner().map_err(|e| e.into_error())?;
        inner.flush()?;
    }
    std::fs::rename(&tmp, path)
}

const THIS: (&str, &str) = ("wechat", "a WeChat Pay bill");

/// Amount columns, best first, each with the summary column that totals it.
const AMOUNT_COLUMNS: [(&str, &str); 3] = [
    ("应结订单金额", "应结订单总金额"),
    ("订单金额", "订单总金额"),
    ("总金额", "总交易额"),
];

/// Where the columns the reader uses are.
struct Columns {
    key: usize,
    status: usize,
    amount: usize,
    refund: Option<usize>,
    fee: Option<usize>,
    time: Option<usize>,
    /// The summary column that totals `amount`.
    amount_total: &'static str,
}

/// Reads a WeChat bill (see [`read_statement`](super::read_statement)).
pub(crate) fn read(
    path: &Path,
    on_entry: &mut dyn FnMut(Entry),
) -> Result<ImportReport, StatementError> {
    let mut t = Table::open(path, Decode::Utf8, Comments::Keep)?;
    let Some(header_line) = t.next()? else {
        return Err(t.no_header());
    };
    t.take_header();
    let [key, status] = t.require(header_line, ["商户订单号", "交易状态"], THIS)?;
    let Some((amount, amount_total)) = AMOUNT_COLUMNS
        .iter()
        .find_map(|&(col, total)| t.column(col).map(|i| (i, total)))
    else {
        return Err(t.header_error(header_line, THIS, &["应结订单金额 (or 订单金额, 总金额)"]));
    };
    let cols = Columns {
        key,
        status,
        amount,
        refund: t.column_of(&["退款金额", "申请退款金额"]),
        fee: t.column("手续费"),
        time: t.column("交易时间"),
        amount_total,
    };
    let mut c = Collector::new(path, "wechat", on_entry);
    while let Some(line) = t.next()? {
        if t.get(0) == Some("总交易单数") {
            summary(&mut t, &cols, line, &mut c)?;
            break;
        }
        match row(&t, &cols, line) {
            Ok((e, settled, refunded)) => {
                let totals = &mut c.report.computed;
                totals.count += 1;
                totals.amount += settled;
                totals.refund_amount += refunded;
                c.entry(e);
            }
            Err(reason) => c.error(line, reason),
        }
    }
    while let Some(line) = t.next()? {
        c.error(line, "a row after the summary row".to_owned());
    }
    Ok(c.finish(t.encoding()))
}

/// One data row: the entry, its 应结订单金额 and its refund amount.
fn row(t: &Table, cols: &Columns, line: u64) -> Result<(Entry, Decimal, Decimal), String> {
    if t.record.len() != t.header.len() {
        return Err(format!(
            "{} fields, the header has {}",
            t.record.len(),
            t.header.len()
        ));
    }
    let agent_bill_no = t.field(cols.key)?;
    if agent_bill_no.is_empty() {
        return Err("商户订单号 is empty".to_owned());
    }
    let status_text = t.field(cols.status)?;
    let status = GatewayStatus::from_file(status_text)
        .ok_or_else(|| format!("交易状态 '{status_text}' is not SUCCESS, REFUND or REVOKED"))?;
    let amount_name = t
        .header
        .get(cols.amount)
        .map_or("应结订单金额", String::as_str);
    let settled = read::non_negative(amount_name, t.field(cols.amount)?)?;
    let mut refunded = Decimal::ZERO;
    let (kind, amount) = if status == GatewayStatus::Refund {
        if let Some(i) = cols.refund {
            let name = t.header.get(i).map_or("退款金额", String::as_str);
            refunded = read::non_negative(name, t.field(i)?)?;
        }
        if refunded.is_zero() {
            refunded = settled;
        }
        (EntryKind::Refund, refunded)
    } else {
        (EntryKind::Payment, settled)
    };
    let fee = match cols.fee.map(|i| t.field(i)).transpose()? {
        Some(f) if !f.is_empty() => Some(read::exact("手续费", f)?),
        _ => None,
    };
    let paid_at = match cols.time.map(|i| t.field(i)).transpose()? {
        Some(s) if !s.is_empty() => Some(read::time("交易时间", s)?),
        _ => None,
    };
    let entry = Entry {
        line,
        agent_bill_no: agent_bill_no.to_owned(),
        kind,
        status,
        amount,
        fee,
        bind_code: None,
        paid_at,
    };
    Ok((entry, settled, refunded))
}

/// The summary header is the current record: reads the summary row after it.
fn summary(
    t: &mut Table,
    cols: &Columns,
    header_line: u64,
    c: &mut Collector<'_>,
) -> Result<(), StatementError> {
    let names: Vec<String> = t.record.iter().map(|f| read::clean(f).to_owned()).collect();
    let find = |n: &str| names.iter().position(|h| h == n);
    let count_col = find("总交易单数");
    let amount_col = find(cols.amount_total)
        .or_else(|| AMOUNT_COLUMNS.iter().find_map(|(_, total)| find(total)));
    let refund_col = find("退款总金额").or_else(|| find("总退款金额"));
    let Some(line) = t.next()? else {
        c.footer_error(
            header_line,
            "the summary header has no summary row after it",
        );
        return Ok(());
    };
    let declared = (|| -> Result<Totals, String> {
        let get = |col: Option<usize>, name: &str| -> Result<&str, String> {
            col.and_then(|i| t.get(i))
                .ok_or_else(|| format!("the summary has no {name}"))
        };
        let count_text = get(count_col, "总交易单数")?;
        let count = count_text
            .parse::<u64>()
            .map_err(|_| format!("总交易单数 '{count_text}' is not a count"))?;
        let amount = read::amount("应结订单总金额", get(amount_col, "应结订单总金额")?)?;
        let refund_amount = match refund_col {
            Some(_) => read::amount("退款总金额", get(refund_col, "退款总金额")?)?,
            None => Decimal::ZERO,
        };
        Ok(Totals {
            count,
            amount,
            refund_amount,
        })
    })();
    match declared {
        Ok(d) => c.report.declared = Some(d),
        Err(reason) => c.footer_error(line, reason),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::read::{Encoding, Format, StatementError, read_statement};
    use chrono::NaiveDate;
    use std::path::PathBuf;

    fn line(bill: &str, cents: i64, status: GatewayStatus, minute: u32) -> Line {
        Line {
            agent_bill_no: bill.to_owned(),
            bind_code: format!("BIND{minute:04}"),
            charge_amt: Decimal::new(cents, 2),
            fee_amt: Decimal::ZERO,
            status,
            paid_at: NaiveDate::from_ymd_opt(2024, 3, 5)
                .unwrap()
                .and_hms_opt(9, minute, 30)
                .unwrap(),
        }
    }

    fn sample() -> Vec<Line> {
        vec![
            line("CHARGE20240305090000001", 10000, GatewayStatus::Success, 0),
            line("CHARGE20240305090100002", 333, GatewayStatus::Refund, 1),
            line("充值-中文单号-3", 140635049, GatewayStatus::Success, 2),
            line("CHARGE20240305090300004", 77, GatewayStatus::Revoked, 3),
            line("CHARGE20240305090400005", 12345, GatewayStatus::Success, 4),
        ]
    }

    fn read_all(path: &Path) -> Result<(ImportReport, Vec<Entry>), StatementError> {
        let mut got = Vec::new();
        let r = read_statement(path, &Format::Wechat, |e| got.push(e))?;
        Ok((r, got))
    }

    fn write(dir: &tempfile::TempDir, lines: &[Line], keep: Option<usize>) -> PathBuf {
        let p = dir.path().join("wechat.csv");
        write_file(&p, lines, keep).unwrap();
        p
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let lines = sample();
        let p = write(&dir, &lines, None);
        let (r, got) = read_all(&p).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!((r.format, r.encoding), ("wechat", Encoding::Utf8));
        assert_eq!(got.len(), lines.len());
        for (i, (l, e)) in lines.iter().zip(&got).enumerate() {
            assert_eq!(e.line, i as u64 + 2);
            assert_eq!(e.agent_bill_no, l.agent_bill_no);
            assert_eq!(e.amount, l.charge_amt);
            assert_eq!(e.status, l.status);
            let kind = if l.status == GatewayStatus::Refund {
                EntryKind::Refund
            } else {
                EntryKind::Payment
            };
            assert_eq!(e.kind, kind);
            assert_eq!(e.paid_at, Some(l.paid_at));
            // The fee is kept exact, five decimals, not rounded to the cent.
            assert_eq!(e.fee, Some(fee(l.charge_amt)));
        }
        assert_eq!(got[1].fee.unwrap().to_string(), "0.01998");
        assert_eq!(got[2].agent_bill_no, "充值-中文单号-3");
        assert_eq!(r.totals_match(), Some(true));
        assert_eq!(r.totals_mismatch_reason(), None);
        let d = r.declared.unwrap();
        assert_eq!(d.count, 5);
        assert_eq!(
            d.amount,
            Decimal::new(10000 + 333 + 140635049 + 77 + 12345, 2)
        );
        assert_eq!(d.refund_amount, Decimal::new(333, 2));
    }

    #[test]
    fn same_totals_as_the_hfb_statement_of_the_same_lines() {
        let dir = tempfile::tempdir().unwrap();
        let lines = sample();
        let wx = write(&dir, &lines, None);
        let hfb = dir.path().join("hfb.csv");
        crate::statement::hfb::write_file(&hfb, &lines).unwrap();
        let (a, _) = read_all(&wx).unwrap();
        let b = read_statement(&hfb, &Format::Hfb, |_| {}).unwrap();
        assert_eq!(a.computed, b.computed);
    }

    #[test]
    fn truncated_download_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, &sample(), Some(2));
        let (r, got) = read_all(&p).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(r.totals_match(), Some(false));
        assert_eq!(
            r.totals_mismatch_reason().unwrap(),
            "footer says 5 trades totalling 1406578.04, rows give 2 totalling 103.33"
        );
    }

    #[test]
    fn footer_cut_off_is_a_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, &sample(), None);
        let text = std::fs::read_to_string(&p).unwrap();
        let cut = text.split_once("总交易单数").unwrap().0;
        std::fs::write(&p, cut).unwrap();
        let (r, got) = read_all(&p).unwrap();
        assert_eq!(got.len(), 5);
        assert_eq!(r.declared, None);
        assert_eq!(r.totals_match(), Some(false));
        let why = r.totals_mismatch_reason().unwrap();
        assert!(why.starts_with("the footer totals are missing"), "{why}");
        // Only the summary row cut: the footer cannot be read.
        let p = write(&dir, &sample(), None);
        let text = std::fs::read_to_string(&p).unwrap();
        let cut = &text[..text.rfind("`5,").unwrap()];
        std::fs::write(&p, cut).unwrap();
        let (r, _) = read_all(&p).unwrap();
        assert_eq!(r.totals_match(), Some(false));
        let why = r.totals_mismatch_reason().unwrap();
        assert!(why.contains("could not be read (line 7"), "{why}");
    }

    #[test]
    fn bad_amounts_are_row_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, &sample(), None);
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replacen("`100.00,", "`12.3.4,", 1)
            .replacen("`123.45,", "`1.005,", 1)
            .replacen("`3.33,", "`abc,", 1);
        std::fs::write(&p, text).unwrap();
        let (r, got) = read_all(&p).unwrap();
        let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 6], "{:?}", r.errors);
        assert_eq!(
            r.errors[0].reason,
            "应结订单金额: '12.3.4' is not an amount (expected a decimal like 100.00)"
        );
        assert!(r.errors[1].reason.contains("'abc' is not an amount"));
        assert!(
            r.errors[2]
                .reason
                .contains("'1.005' has more than two decimal places")
        );
        assert_eq!(got.len(), 2);
        assert_eq!(r.totals_match(), Some(false));
        let why = r.totals_mismatch_reason().unwrap();
        assert!(why.ends_with("(3 rows could not be read)"), "{why}");
    }

    #[test]
    fn older_variant_header_is_read_by_column_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.csv");
        let text = "\u{feff}交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,企业红包金额,微信退款单号,商户退款单号,退款金额,企业红包退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率\r\n\
            `2016-05-04 12:09:51,`wx2421b1c4370ec43b,`10000100,`0,`1000,`1001690740201605041420823000,`OLD0001,`oUpF8uN95-Ptaags6E_roPHg7AG0,`NATIVE,`SUCCESS,`CMB_DEBIT,`CNY,`0.01,`0.00,`0,`0,`0,`0,`,`,`被扫支付测试,`订单额外描述,`0.00000,`0.60%\r\n\
            `2016-05-04 12:10:51,`wx2421b1c4370ec43b,`10000100,`0,`1000,`1001690740201605041420823001,`OLD0002,`oUpF8uN95-Ptaags6E_roPHg7AG0,`NATIVE,`REFUND,`CMB_DEBIT,`CNY,`0.02,`0.00,`2000,`R2,`0.02,`0.00,`ORIGINAL,`SUCCESS,`被扫支付测试,`订单额外描述,`0.00000,`0.60%\r\n\
            总交易单数,总交易额,总退款金额,总企业红包退款金额,手续费总金额\r\n\
            `2,`0.03,`0.02,`0.00,`0.00000\r\n";
        std::fs::write(&p, text).unwrap();
        let (r, got) = read_all(&p).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.encoding, Encoding::Utf8Bom);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].amount, Decimal::new(1, 2));
        assert_eq!(got[1].kind, EntryKind::Refund);
        assert_eq!(got[1].amount, Decimal::new(2, 2));
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
    }

    #[test]
    fn wrong_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        // An hfb statement.
        crate::statement::hfb::write_file(&p, &sample()).unwrap();
        let e = read_all(&p).unwrap_err();
        assert!(matches!(e, StatementError::Header { line: 1, .. }), "{e}");
        assert!(e.to_string().contains("looks like an hfb statement"), "{e}");
        // An Alipay bill (GBK).
        crate::statement::alipay::write_file(&p, &sample(), None).unwrap();
        let e = read_all(&p).unwrap_err();
        assert!(
            matches!(
                e,
                StatementError::Encoding {
                    line: 1,
                    found: "GBK",
                    ..
                }
            ),
            "{e}"
        );
        // Empty.
        std::fs::write(&p, "").unwrap();
        assert!(matches!(
            read_all(&p).unwrap_err(),
            StatementError::Empty { .. }
        ));
    }
}
