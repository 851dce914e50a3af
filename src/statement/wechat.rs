//! WeChat Pay trade bill (交易账单, SPEC §5): backtick-prefixed fields, a
//! summary header and one summary row after the data.
//!
//! The reader finds its columns by header name, so every layout WeChat has
//! used reads: the current 27-column ALL bill, the 20-column SUCCESS bill (no
//! refund columns), the 26/29-column REFUND bill (with 退款申请时间 and
//! 退款成功时间; its 交易时间 is the original payment's time) and the
//! pre-2017 24-column layout (子商户号, 总金额, 企业红包金额; summary
//! 总交易单数,总交易额,总退款金额,…). The key is 商户订单号, the status
//! 交易状态, the amount 应结订单金额 (else 订单金额, else 总金额), the refund
//! 退款金额 (else 申请退款金额), the fee 手续费 (kept exact, five decimals, with
//! its sign: a refund row's fee is negative, the fee given back), the rate
//! 费率 (`0.60%` read as the fraction `0.006`; an unreadable rate makes the
//! row bad), the gateway's order number 微信订单号, the time 交易时间 and, for
//! a refund, 退款成功时间, 商户退款单号 and 微信退款单号. The summary row
//! becomes the report's `declared` totals (总交易单数, 应结订单总金额, 退款总金额).
//!
//! A file that holds WeChat's error answer instead of a bill (the XML
//! `<return_msg>` or the v3 JSON `{"code":…,"message":…}`) is a
//! [`StatementError::GatewayReply`].

use super::hfb::{GatewayStatus, Line};
use super::read::{
    self, Collector, Comments, Decode, Entry, EntryKind, ImportReport, StatementError, Table,
    Totals,
};
use crate::money::format_amount;
use rust_decimal::Decimal;
use std::io::{Read, Write};
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
    /// 退款成功时间 (REFUND bills).
    refund_time: Option<usize>,
    /// 微信订单号.
    gateway_id: Option<usize>,
    /// 商户退款单号.
    refund_id: Option<usize>,
    /// 微信退款单号.
    gateway_refund_id: Option<usize>,
    /// 费率.
    rate: Option<usize>,
    /// The summary column that totals `amount`.
    amount_total: &'static str,
}

/// Reads a WeChat bill (see [`read_statement`](super::read_statement)).
pub(crate) fn read(
    path: &Path,
    on_entry: &mut dyn FnMut(Entry),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    check_gateway_reply(path)?;
    let mut t = Table::open(path, Decode::Utf8, Comments::Keep, on_bytes)?;
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
        refund_time: t.column("退款成功时间"),
        gateway_id: t.column("微信订单号"),
        refund_id: t.column("商户退款单号"),
        gateway_refund_id: t.column("微信退款单号"),
        rate: t.column("费率"),
        amount_total,
    };
    let mut c = Collector::new(path, "wechat", on_entry);
    c.report.layout = Some(layout(&t));
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

/// What bill the header is, in words.
fn layout(t: &Table) -> String {
    let n = t.header.len();
    let has = |name: &str| t.column(name).is_some();
    if has("退款成功时间") || has("退款申请时间") {
        format!("WeChat REFUND bill, {n} columns")
    } else if has("总金额") || has("子商户号") || has("企业红包金额") {
        format!("WeChat bill, {n} columns (pre-2017 layout)")
    } else if !has("退款金额") && !has("申请退款金额") && !has("微信退款单号") {
        format!("WeChat SUCCESS bill, {n} columns")
    } else {
        format!("WeChat ALL bill, {n} columns")
    }
}

/// How much of a file's start is looked at for an error answer.
const REPLY_PEEK: u64 = 64 * 1024;

/// Fails with [`StatementError::GatewayReply`] when the file is WeChat's
/// error answer (XML or JSON) saved in place of a bill.
pub(crate) fn check_gateway_reply(path: &Path) -> Result<(), StatementError> {
    let io_error = |source| StatementError::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(REPLY_PEEK).read_to_end(&mut head))
        .map_err(io_error)?;
    let text = String::from_utf8_lossy(&head);
    match gateway_message(&text) {
        Some(message) => Err(StatementError::GatewayReply {
            path: path.to_owned(),
            message,
        }),
        None => Ok(()),
    }
}

/// WeChat's message when `text` is an error answer instead of a bill.
fn gateway_message(text: &str) -> Option<String> {
    let t = text.trim_start_matches(|c: char| {
        c == '\u{feff}' || c == '?' || c == '\u{fffd}' || c.is_whitespace()
    });
    if t.starts_with('<') {
        ["return_msg", "err_code_des", "err_code", "return_code"]
            .into_iter()
            .find_map(|name| xml_tag(t, name).filter(|m| !m.is_empty()))
            .map(str::to_owned)
    } else if t.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(t.trim_end()).ok()?;
        let text_of = |k: &str| v.get(k).and_then(|m| m.as_str()).filter(|m| !m.is_empty());
        match (text_of("message"), text_of("code")) {
            (Some(m), Some(c)) => Some(format!("{m} ({c})")),
            (Some(m), None) | (None, Some(m)) => Some(m.to_owned()),
            (None, None) => None,
        }
    } else {
        None
    }
}

/// The text of the first `<name>` element, without a CDATA wrapper.
fn xml_tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml.get(start..)?.find(&close)?;
    let inner = xml.get(start..start + len)?.trim();
    let inner = inner
        .strip_prefix("<![CDATA[")
        .and_then(|s| s.strip_suffix("]]>"))
        .unwrap_or(inner);
    Some(inner.trim())
}

/// One data row: the entry, its 应结订单金额 and its refund amount.
fn row(t: &Table, cols: &Columns, line: u64) -> Result<(Entry, Decimal, Decimal), String> {
    t.check_width()?;
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
    let paid_at = t.opt_time(cols.time, "交易时间")?;
    let refunded_at = match cols.refund_time.filter(|_| kind == EntryKind::Refund) {
        Some(i) => match t.field(i)? {
            "" => None,
            s => Some(read::time("退款成功时间", s)?),
        },
        None => None,
    };
    let rate = match cols.rate.map(|i| t.field(i)).transpose()? {
        Some(r) if !r.is_empty() => Some(read::rate("费率", r)?),
        _ => None,
    };
    // The refund numbers only on refund rows; payment rows carry `0` there.
    let refund_col = |col: Option<usize>| match col.filter(|_| kind == EntryKind::Refund) {
        Some(i) => t.field(i).map(|s| id(s, true)),
        None => Ok(None),
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
        refunded_at,
        gateway_id: match cols.gateway_id {
            Some(i) => id(t.field(i)?, false),
            None => None,
        },
        refund_id: refund_col(cols.refund_id)?,
        gateway_refund_id: refund_col(cols.gateway_refund_id)?,
        rate,
    };
    Ok((entry, settled, refunded))
}

/// An id field as an owned id: `None` when empty (or `0`, WeChat's "none"
/// in the refund columns, when `zero_is_none`).
fn id(s: &str, zero_is_none: bool) -> Option<String> {
    let none = s.is_empty() || (zero_is_none && s == "0");
    (!none).then(|| s.to_owned())
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
            refund_count: None,
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
    fn ids_and_rates_of_the_all_bill_and_a_bad_rate() {
        let (r, got) = read_text(&all_bill()).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            got[0].gateway_id.as_deref(),
            Some("4200000925202101284997714292")
        );
        assert_eq!(got[0].rate, Some(Decimal::new(1, 2)));
        assert_eq!(got[0].refund_id, None);
        assert_eq!(got[0].gateway_refund_id, None);
        // An empty 微信订单号 or 费率 is None, not an empty string or zero.
        let blank = all_bill()
            .replacen("`4200000925202101284997714292,", "`,", 1)
            .replacen("`1.00%,", "`,", 1);
        let (r, got) = read_text(&blank).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!((&got[0].gateway_id, got[0].rate), (&None, None));
        // An unreadable rate is a bad row naming the column; reading goes on.
        let bad = all_bill().replacen("`1.00%,", "`1.00,", 1);
        let (r, got) = read_text(&bad).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 2);
        assert_eq!(
            r.errors[0].reason,
            "费率: '1.00' is not a rate (expected a percentage like 0.60%)"
        );
        // The demo writer's refund rows carry their refund numbers.
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, &sample(), None);
        let (_, got) = read_all(&p).unwrap();
        assert_eq!(got[1].kind, EntryKind::Refund);
        assert_eq!(
            got[1].refund_id.as_deref(),
            Some("RCHARGE20240305090100002")
        );
        assert_eq!(
            got[1].gateway_refund_id.as_deref(),
            Some("50000000000000000002")
        );
        assert_eq!(got[0].rate, Some(Decimal::new(6, 3)));
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

    const ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
    const SUMMARY: &str = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

    fn read_text(text: &str) -> Result<(ImportReport, Vec<Entry>), StatementError> {
        read_bytes(text.as_bytes())
    }

    fn read_bytes(bytes: &[u8]) -> Result<(ImportReport, Vec<Entry>), StatementError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bill.csv");
        std::fs::write(&p, bytes).unwrap();
        read_all(&p)
    }

    fn all_bill() -> String {
        format!(
            "{ALL_HEADER}\n\
            `2021-01-28 17:07:11,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000925202101284997714292,`S20210128170702357723,`ofyak5qR,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`for testing,`cipher code,`0.00000,`1.00%,`0.01,`0.00,`\n\
            `2021-01-28 15:35:18,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000910202101282955148400,`S20210128153505214586,`ofyak5qR,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.02,`0.00,`0,`0,`0.00,`0.00,`,`,`for testing,`cipher code,`0.00000,`1.00%,`0.02,`0.00,`\n\
            {SUMMARY}\n\
            `2,`0.03,`0.00,`0.00,`0.00000,`0.03,`0.00\n"
        )
    }

    #[test]
    fn current_all_bill_layout_and_times() {
        let (r, got) = read_text(&all_bill()).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.layout.as_deref(), Some("WeChat ALL bill, 27 columns"));
        assert!(r.trades());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].agent_bill_no, "S20210128153505214586");
        assert_eq!(got[1].refunded_at, None);
        let day = NaiveDate::from_ymd_opt(2021, 1, 28).unwrap();
        assert_eq!(r.days.period(), Some((day, day)));
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
    }

    #[test]
    fn boms_crlf_no_final_newline_and_full_width_colons_are_tolerated() {
        let base = all_bill().replace("17:07:11", "17：07：11");
        let crlf = base.replace('\n', "\r\n");
        let cut = crlf.trim_end().to_owned();
        let cases: Vec<(&str, Vec<u8>, Encoding)> = vec![
            ("plain", base.clone().into_bytes(), Encoding::Utf8),
            (
                "bom",
                format!("\u{feff}{base}").into_bytes(),
                Encoding::Utf8Bom,
            ),
            (
                "doubled bom",
                format!("\u{feff}\u{feff}{base}").into_bytes(),
                Encoding::Utf8Bom,
            ),
            ("? for bom", format!("?{cut}").into_bytes(), Encoding::Utf8),
            (
                "crlf, no final newline",
                cut.clone().into_bytes(),
                Encoding::Utf8,
            ),
        ];
        for (name, bytes, encoding) in cases {
            let (r, got) = read_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
            assert_eq!(r.encoding, encoding, "{name}");
            assert_eq!(got.len(), 2, "{name}");
            let t = NaiveDate::from_ymd_opt(2021, 1, 28)
                .unwrap()
                .and_hms_opt(17, 7, 11)
                .unwrap();
            // 交易时间 found by name even behind a BOM or a '?'.
            assert_eq!(got[0].paid_at, Some(t), "{name}");
            assert_eq!(r.totals_match(), Some(true), "{name}");
        }
    }

    #[test]
    fn success_bill_has_no_refund_columns() {
        let text = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注\n\
            `2021-02-01 14:38:45,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000922202102014836880592,`S20210201143829466741,`ofyak5l,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`for testing,`cipher code,`0.00000,`1.00%,`0.01,`\n\
            总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n\
            `1,`0.01,`0.00,`0.00,`0.00000,`0.01,`0.00\n";
        let (r, got) = read_text(text).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.layout.as_deref(), Some("WeChat SUCCESS bill, 20 columns"));
        assert_eq!((got.len(), got[0].kind), (1, EntryKind::Payment));
        assert_eq!(
            got[0].gateway_id.as_deref(),
            Some("4200000922202102014836880592")
        );
        assert_eq!(got[0].rate, Some(Decimal::new(1, 2)));
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
    }

    const REFUND_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

    #[test]
    fn refund_bill_books_refunds_on_their_success_day() {
        let text = format!(
            "{REFUND_HEADER}\n\
            `2021-01-24 16:16:25,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000844202101245866928772,`S20210124161554311546,`ofyak5q,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`2021-02-01 14:33:21,`2021-02-01 14:33:24,`50300807172021020106006664916,`S20210201143320649393,`0.01,`0.00,`ORIGINAL,`SUCCESS,`for testing,`cipher code,`0.00000,`1.00%,`0.00,`0.01,`\n\
            `2021-01-19 16:31:18,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000846202101197461830397,`S20210119083100844726118382,`ofyak5q,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`2021-02-01 14:00:45,`2021-02-01 14:00:50,`50300907032021020105978998710,`S20210201140044552846,`0.01,`0.00,`ORIGINAL,`SUCCESS,`Package Venue,`,`0.00000,`1.00%,`0.00,`0.01,`\n\
            {SUMMARY}\n\
            `2,`0.00,`0.02,`0.00,`0.00000,`0.00,`0.02\n"
        );
        let (r, got) = read_text(&text).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.layout.as_deref(), Some("WeChat REFUND bill, 29 columns"));
        assert_eq!(got.len(), 2);
        let day = NaiveDate::from_ymd_opt(2021, 2, 1).unwrap();
        for e in &got {
            assert_eq!(
                (e.kind, e.status),
                (EntryKind::Refund, GatewayStatus::Refund)
            );
            assert_eq!(e.amount, Decimal::new(1, 2));
            assert_eq!(e.refunded_at.map(|t| t.date()), Some(day));
            // 交易时间 stays the original payment's time.
            assert!(e.paid_at.unwrap().date() < day);
        }
        assert_eq!(
            got[0].refunded_at,
            Some(day.and_hms_opt(14, 33, 24).unwrap())
        );
        // The gateway's numbers of the trade and of the refund.
        assert_eq!(
            got[0].gateway_id.as_deref(),
            Some("4200000844202101245866928772")
        );
        assert_eq!(got[0].refund_id.as_deref(), Some("S20210201143320649393"));
        assert_eq!(
            got[0].gateway_refund_id.as_deref(),
            Some("50300807172021020106006664916")
        );
        assert_eq!(got[0].rate, Some(Decimal::new(1, 2)));
        assert_eq!(got[1].refund_id.as_deref(), Some("S20210201140044552846"));
        assert_eq!(r.days.period(), Some((day, day)));
        assert_eq!(r.business_period(), Some((day, day)));
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
        // A refund with no success time yet keeps refunded_at empty.
        let pending = text.replacen("`2021-02-01 14:33:24,", "`,", 1);
        let (r, got) = read_text(&pending).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(got[0].refunded_at, None);
    }

    #[test]
    fn cut_short_refund_bill_with_a_negative_fee_total_mismatches() {
        let text = format!(
            "{REFUND_HEADER}\n\
            `2019-07-23 20:53:36,`xxx,`xxx,`xxx,`,`xxx,`xxxx,`xxxxx,`JSAPI,`REFUND,`CFT,`CNY,`0.00,`0.00,`2019-07-23 20:53:36,`2019-07-23 20:53:40,`xxxx,`xxx,`0.01,`0.00,`ORIGINAL,`SUCCESS,`xxxx,`xxxx,`0.00000,`0.60%,`0.00,`0.01,`\n\
            {SUMMARY}\n\
            `4,`0.00,`2.02,`0.00,`-0.02000,`0.00,`2.02\n"
        );
        let (r, got) = read_text(&text).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(got.len(), 1);
        assert_eq!(r.totals_match(), Some(false));
        assert_eq!(
            r.totals_mismatch_reason().unwrap(),
            "footer says 4 trades totalling 0.00, rows give 1 totalling 0.00; refunds: footer 2.02, rows 0.01"
        );
    }

    #[test]
    fn pre_2017_layout_is_named() {
        let text = "\u{feff}交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,企业红包金额,微信退款单号,商户退款单号,退款金额,企业红包退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率\n\
            `2015-10-28 13:52:05,`wx2350ab66021a97e5,`1242048202,`0,`,`1005680240201510281363742443,`dicwdkof7s8t,`ouBBou,`NATIVE,`SUCCESS,`CFT,`CNY,`0.88,`0.00,`0,`0,`0,`0,`,`,` 测试商品,`,`0.01000,`0.60%\n\
            `2015-10-28 14:26:35,`wx2350ab66021a97e5,`1242048202,`0,`,`1005680240201510281364158603,`0eitpe3uu8sj,`ouBBou,`NATIVE,`SUCCESS,`CFT,`CNY,`0.17,`0.00,`0,`0,`0,`0,`,`,`LOTTE,`,`0.00000,`0.60%\n\
            总交易单数,总交易额,总退款金额,总企业红包退款金额,手续费总金额\n\
            `2,`1.05,`0.00,`0.00,`0.01000\n";
        let (r, got) = read_text(text).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            r.layout.as_deref(),
            Some("WeChat bill, 24 columns (pre-2017 layout)")
        );
        assert_eq!(got[0].amount, Decimal::new(88, 2));
        assert_eq!(got[0].fee, Some(Decimal::new(1000, 5)));
        assert_eq!(got[0].rate, Some(Decimal::new(6, 3)));
        assert_eq!(
            got[0].gateway_id.as_deref(),
            Some("1005680240201510281363742443")
        );
        // A payment row's refund columns hold `0`: no refund numbers.
        assert_eq!(
            (&got[0].refund_id, &got[0].gateway_refund_id),
            (&None, &None)
        );
        assert_eq!(got[1].fee, Some(Decimal::ZERO));
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
    }

    #[test]
    fn error_replies_are_gateway_replies() {
        let cases = [
            "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[No Bill Exist]]></return_msg></xml>",
            "\u{feff}<xml>\r\n  <return_code>FAIL</return_code>\r\n  <return_msg> No Bill Exist </return_msg>\r\n</xml>",
            "  <xml>\n<return_code>\n<![CDATA[FAIL]]>\n</return_code>\n<return_msg>\n  <![CDATA[No Bill Exist]]>\n</return_msg>\n</xml>\n",
        ];
        for text in cases {
            let e = read_text(text).unwrap_err();
            assert!(
                matches!(e, StatementError::GatewayReply { .. }),
                "{text}: {e}"
            );
            assert!(
                e.to_string().ends_with(
                    "bill.csv: WeChat returned an error instead of a bill: No Bill Exist"
                ),
                "{e}"
            );
        }
        let e = read_text(r#"{"code":"NO_STATEMENT_EXIST","message":"No statement exist"}"#)
            .unwrap_err();
        assert!(matches!(e, StatementError::GatewayReply { .. }), "{e}");
        assert!(
            e.to_string().ends_with(
                "WeChat returned an error instead of a bill: No statement exist (NO_STATEMENT_EXIST)"
            ),
            "{e}"
        );
        assert_eq!(
            gateway_message("{\n  \"message\" : \"账单不存在\"\n}\n").as_deref(),
            Some("账单不存在")
        );
        // A bill is not a reply.
        assert_eq!(gateway_message(&all_bill()), None);
        assert_eq!(gateway_message("<p>hello</p>"), None);
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
