//! Alipay account log (账务明细, SPEC §5): the Alipay account's money in and
//! out, GBK as downloaded (UTF-8, with or without a BOM, once re-saved; the
//! encoding is detected), `#` lines above and below the table.
//!
//! Its rows are not trades: the file is read and its footer checked
//! (`trades` is false in the report). [`read_movements`](super::read_movements)
//! hands each row on as a [`Movement`]: 发生时间, the reference numbers
//! (商户订单号, 业务流水号, 账务流水号, the empty ones left out), 业务类型,
//! 商品名称, 备注, the amount — positive from 收入金额（+元）, negative from
//! 支出金额（-元） whichever sign the file wrote it with — and 账户余额（元）.
//! [`read_statement`](super::read_statement) runs the same reader and hands
//! each row on as an entry: a [`Payment`](EntryKind::Payment) when 收入金额 is
//! filled and a [`Refund`](EntryKind::Refund) when 支出金额 is, keyed by
//! 商户订单号 (else 业务流水号, else 账务流水号), with 发生时间 as its time.
//! Amount columns may be written with `(`/`)` or without their unit, and with
//! thousands separators. The footer
//! lines `#收入合计：N笔，共X元` and `#支出合计：M笔，共-Y元` give the `declared`
//! totals: count N+M, amount X, refunds |Y| and M refund rows; the rows'
//! totals are computed the same way. `#起始日期：[…]   终止日期：[…]` gives the
//! `declared_period`.

use super::alipay::{declared_period, footer_amount, footer_count};
use super::read::{
    self, Collector, Comments, Decode, Entry, EntryKind, ImportReport, Movement, MovementRow,
    StatementError, Table, Totals,
};
use rust_decimal::Decimal;
use std::path::Path;

/// The 12-column header.
pub const HEADER: [&str; 12] = [
    "账务流水号",
    "业务流水号",
    "商户订单号",
    "商品名称",
    "发生时间",
    "对方账号",
    "收入金额（+元）",
    "支出金额（-元）",
    "账户余额（元）",
    "交易渠道",
    "业务类型",
    "备注",
];

const THIS: (&str, &str) = ("alipay-accountlog", "an Alipay account log (账务明细)");

/// Where the columns the reader uses are.
struct Columns {
    /// 商户订单号, 业务流水号, 账务流水号 (the [`Movement::ids`] order).
    ids: [Option<usize>; 3],
    income: usize,
    expense: usize,
    balance: Option<usize>,
    business_name: Option<usize>,
    business_type: Option<usize>,
    note: Option<usize>,
    time: Option<usize>,
}

/// A header name with full-width or ASCII parentheses, or without its unit.
fn col(t: &Table, name: &str) -> Option<usize> {
    t.column(name)
        .or_else(|| t.column(&name.replace('（', "(").replace('）', ")")))
        .or_else(|| name.split_once('（').and_then(|(bare, _)| t.column(bare)))
}

/// Reads an Alipay account log as entries (see
/// [`read_statement`](super::read_statement)).
pub(crate) fn read(
    path: &Path,
    on_entry: &mut dyn FnMut(Entry),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    read_rows(path, on_bytes, &mut |r| on_entry(r.to_entry()))
}

/// Reads an Alipay account log as movements (see
/// [`read_movements`](super::read_movements)).
pub(crate) fn movements(
    path: &Path,
    on_movement: &mut dyn FnMut(Movement),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    read_rows(path, on_bytes, &mut |r| on_movement(r.to_movement()))
}

/// The one reader of the format: each good row goes to `on_row`.
fn read_rows(
    path: &Path,
    on_bytes: &mut dyn FnMut(u64),
    on_row: &mut dyn FnMut(&MovementRow<'_>),
) -> Result<ImportReport, StatementError> {
    let mut t = Table::open(path, Decode::Auto, Comments::Capture, on_bytes)?;
    let Some(header_line) = t.next()? else {
        return Err(t.no_header());
    };
    t.take_header();
    let (Some(income), Some(expense)) = (col(&t, "收入金额（+元）"), col(&t, "支出金额（-元）"))
    else {
        return Err(t.header_error(header_line, THIS, &["收入金额（+元）", "支出金额（-元）"]));
    };
    let ids = ["商户订单号", "业务流水号", "账务流水号"].map(|n| t.column(n));
    if ids.iter().all(Option::is_none) {
        return Err(t.header_error(
            header_line,
            THIS,
            &["商户订单号 (or 业务流水号, 账务流水号)"],
        ));
    }
    let cols = Columns {
        ids,
        income,
        expense,
        balance: col(&t, "账户余额（元）"),
        business_name: t.column("商品名称"),
        business_type: t.column("业务类型"),
        note: t.column("备注"),
        time: t.column("发生时间"),
    };
    // Rows are counted here and handed to `on_row`, not to an entry callback.
    let mut no_entries = |_: Entry| {};
    let mut c = Collector::new(path, "alipay-accountlog", &mut no_entries);
    c.report.computed.refund_count = Some(0);
    while let Some(line) = t.next()? {
        match row(&t, &cols, line) {
            Ok(r) => {
                super::wechat_fundflow::add(&mut c.report.computed, r.kind, r.amount);
                c.count(r.at, r.at);
                on_row(&r);
            }
            Err(reason) => c.error(line, reason),
        }
    }
    let (above, footer): (Vec<_>, Vec<_>) = t
        .take_comments()
        .into_iter()
        .partition(|(line, _)| *line < header_line);
    c.report.declared_period = declared_period(&above);
    footer_totals(&footer, &mut c);
    let encoding = t.encoding();
    c.report.layout = Some(format!("Alipay account log (账务明细, {encoding})"));
    Ok(c.finish(encoding))
}

/// An amount column that may be empty (`None`) or carry a `+`; thousands
/// separators are allowed.
fn optional_amount(name: &str, text: &str) -> Result<Option<Decimal>, String> {
    let text = text.strip_prefix('+').unwrap_or(text).trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.contains(',') {
        return read::amount(name, &text.replace(',', "")).map(Some);
    }
    read::amount(name, text).map(Some)
}

/// One data row.
fn row<'t>(t: &'t Table, cols: &Columns, line: u64) -> Result<MovementRow<'t>, String> {
    t.check_width()?;
    let text = |col: Option<usize>| col.and_then(|i| t.get(i)).unwrap_or("");
    let ids = cols.ids.map(text);
    if ids.iter().all(|s| s.is_empty()) {
        return Err("商户订单号, 业务流水号 and 账务流水号 are empty".to_owned());
    }
    let income = optional_amount("收入金额（+元）", t.field(cols.income)?)?;
    // An expense may be written negative or not: its column gives the sign.
    let expense = optional_amount("支出金额（-元）", t.field(cols.expense)?)?.map(|d| d.abs());
    if income.is_some_and(|d| d.is_sign_negative() && !d.is_zero()) {
        return Err(format!(
            "收入金额（+元） is negative: {}",
            t.field(cols.income)?
        ));
    }
    let nonzero = |d: &Decimal| !d.is_zero();
    let (kind, amount) = match (income.filter(nonzero), expense.filter(nonzero)) {
        (Some(a), None) => (EntryKind::Payment, a),
        (None, Some(a)) => (EntryKind::Refund, a),
        (Some(_), Some(_)) => {
            return Err("both 收入金额（+元） and 支出金额（-元） are filled".to_owned());
        }
        (None, None) => match (income, expense) {
            (Some(z), _) => (EntryKind::Payment, z),
            (None, Some(z)) => (EntryKind::Refund, z),
            (None, None) => {
                return Err("neither 收入金额（+元） nor 支出金额（-元） is filled".to_owned());
            }
        },
    };
    let balance = match cols.balance {
        Some(i) => optional_amount("账户余额（元）", t.field(i)?)?,
        None => None,
    };
    let at = t.opt_time(cols.time, "发生时间")?;
    Ok(MovementRow {
        line,
        kind,
        amount,
        at,
        ids,
        business_type: text(cols.business_type),
        business_name: text(cols.business_name),
        note: text(cols.note),
        balance,
    })
}

/// `#收入合计：N笔，共X元` and `#支出合计：M笔，共-Y元`, both needed.
fn footer_totals(footer: &[(u64, String)], c: &mut Collector<'_>) {
    let mut income = None;
    let mut expense = None;
    let mut last_line = None;
    for (line, text) in footer {
        let (label, slot) = if text.contains("收入合计") {
            ("收入合计", &mut income)
        } else if text.contains("支出合计") {
            ("支出合计", &mut expense)
        } else {
            continue;
        };
        last_line = Some(*line);
        match footer_count(text, label)
            .and_then(|(n, rest)| Ok((n, footer_amount(text, rest, &["共"])?.1)))
        {
            Ok(v) => *slot = Some(v),
            Err(reason) => {
                c.footer_error(*line, reason);
                return;
            }
        }
    }
    match (income, expense) {
        (Some((n_in, x_in)), Some((n_out, x_out))) => {
            c.report.declared = Some(Totals {
                count: n_in + n_out,
                amount: x_in,
                refund_amount: x_out.abs(),
                refund_count: Some(n_out),
            });
        }
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            let missing = if income.is_none() {
                "#收入合计"
            } else {
                "#支出合计"
            };
            c.footer_error(
                last_line.unwrap_or_default(),
                format!("the footer has no {missing} line"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::read::{Encoding, Format, read_statement};
    use chrono::NaiveDate;
    use std::path::PathBuf;

    const LOG: &str = "#支付宝账务明细查询\r\n\
        #账号：[20881234567890120156]\r\n\
        #起始日期：[2024年03月05日 00:00:00]   终止日期：[2024年03月06日 00:00:00]\r\n\
        #-----------------------------------------账务明细列表----------------------------------------\r\n\
        账务流水号,业务流水号,商户订单号,商品名称,发生时间,对方账号,收入金额（+元）,支出金额（-元）,账户余额（元）,交易渠道,业务类型,备注\r\n\
        20240305001\t,2024030522001400000001\t,CHARGE001\t,账户充值,2024-03-05 10:00:07,138****0000,+100.00,,100.00,支付宝,在线支付,\r\n\
        20240305002\t,2024030522001400000002\t,CHARGE002\t,账户充值,2024-03-05 10:01:07,138****0001,12.34,,112.34,支付宝,在线支付,\r\n\
        20240305003\t,2024030522001400000001\t,\t,账户充值,2024-03-05 11:00:00,138****0000,,-100.00,12.34,支付宝,交易退款,\r\n\
        #-----------------------------------------账务明细列表结束------------------------------------\r\n\
        #收入合计：2笔，共112.34元\r\n\
        #支出合计：1笔，共-100.00元\r\n\
        #导出时间：[2024年03月06日 09:00:00]\r\n";

    fn write(dir: &tempfile::TempDir, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join("accountlog.csv");
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn read_all(p: &Path, f: &Format) -> Result<(ImportReport, Vec<Entry>), StatementError> {
        let mut got = Vec::new();
        let r = read_statement(p, f, |e| got.push(e))?;
        Ok((r, got))
    }

    #[test]
    fn gbk_log_reads_and_matches_its_footer() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, &encoding_rs::GBK.encode(LOG).0);
        let (r, got) = read_all(&p, &Format::AlipayAccountlog).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            (r.format, r.encoding, r.trades()),
            ("alipay-accountlog", Encoding::Gbk, false)
        );
        assert_eq!(
            r.layout.as_deref(),
            Some("Alipay account log (账务明细, GBK)")
        );
        assert_eq!(got.len(), 3);
        assert_eq!(got.iter().map(|e| e.line).collect::<Vec<_>>(), [6, 7, 8]);
        assert_eq!(
            (got[0].kind, got[0].amount),
            (EntryKind::Payment, Decimal::new(10000, 2))
        );
        assert_eq!(got[0].agent_bill_no, "CHARGE001");
        // No 商户订单号: the 业务流水号 is the key.
        assert_eq!(got[2].agent_bill_no, "2024030522001400000001");
        assert_eq!(
            (got[2].kind, got[2].amount),
            (EntryKind::Refund, Decimal::new(10000, 2))
        );
        assert!(got[2].refunded_at.is_some());
        let day = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        assert_eq!(r.declared_period, Some((day, day)));
        let d = r.declared.unwrap();
        assert_eq!(
            (d.count, d.amount, d.refund_amount, d.refund_count),
            (3, Decimal::new(11234, 2), Decimal::new(10000, 2), Some(1))
        );
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
    }

    fn movements_of(p: &Path) -> Result<(ImportReport, Vec<Movement>), StatementError> {
        let mut got = Vec::new();
        let r = read::read_movements(
            p,
            &Format::AlipayAccountlog,
            &mut |m| got.push(m),
            &mut |_| {},
        )?;
        Ok((r, got))
    }

    #[test]
    fn gbk_movements_are_signed_by_their_column_with_balances() {
        let dir = tempfile::tempdir().unwrap();
        // A second expense written without its minus sign, with a thousands separator.
        let text = LOG
            .replace(
                "#收入合计：2笔，共112.34元\r\n#支出合计：1笔，共-100.00元",
                "#收入合计：2笔，共112.34元\r\n#支出合计：2笔，共-1,100.00元",
            )
            .replacen(
                "#-----------------------------------------账务明细列表结束",
                "20240305004\t,2024030522001400000009\t,\t,提现,2024-03-05 12:00:00,,,\"1,000.00\",\"-987.66\",支付宝,提现,到银行卡\r\n\
                 #-----------------------------------------账务明细列表结束",
                1,
            );
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
        assert!(!unmappable);
        let p = write(&dir, &bytes);
        let (r, got) = movements_of(&p).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.encoding, Encoding::Gbk);
        let (same, _) = read_all(&p, &Format::AlipayAccountlog).unwrap();
        assert_eq!(r, same);
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
        let amounts: Vec<Decimal> = got.iter().map(|m| m.amount).collect();
        assert_eq!(
            amounts,
            [
                Decimal::new(10000, 2),
                Decimal::new(1234, 2),
                Decimal::new(-10000, 2),
                Decimal::new(-100000, 2)
            ]
        );
        let balances: Vec<Option<Decimal>> = got.iter().map(|m| m.balance).collect();
        assert_eq!(
            balances,
            [
                Some(Decimal::new(10000, 2)),
                Some(Decimal::new(11234, 2)),
                Some(Decimal::new(1234, 2)),
                Some(Decimal::new(-98766, 2))
            ]
        );
        let m = &got[0];
        assert_eq!(m.line, 6);
        assert_eq!(
            m.ids,
            ["CHARGE001", "2024030522001400000001", "20240305001"]
        );
        assert_eq!(
            (
                m.business_type.as_str(),
                m.business_name.as_str(),
                m.note.as_str()
            ),
            ("在线支付", "账户充值", "")
        );
        assert_eq!(
            m.at,
            NaiveDate::from_ymd_opt(2024, 3, 5)
                .unwrap()
                .and_hms_opt(10, 0, 7)
        );
        // No 商户订单号: the other two, in order.
        assert_eq!(got[2].ids, ["2024030522001400000001", "20240305003"]);
        assert_eq!(got[3].note, "到银行卡");
        assert_eq!(got[3].business_type, "提现");
    }

    #[test]
    fn utf8_with_bom_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(LOG.as_bytes());
        let p = write(&dir, &bytes);
        let (r, got) = read_all(&p, &Format::AlipayAccountlog).unwrap();
        assert_eq!(r.encoding, Encoding::Utf8Bom);
        assert_eq!(got.len(), 3);
        assert_eq!(r.totals_match(), Some(true));
        assert_eq!(
            r.layout.as_deref(),
            Some("Alipay account log (账务明细, UTF-8 with BOM)")
        );
    }

    #[test]
    fn a_missing_row_mismatches_by_count_and_direction() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = LOG
            .split_inclusive("\r\n")
            .filter(|l| !l.contains("CHARGE002"))
            .collect();
        let p = write(&dir, &encoding_rs::GBK.encode(&text).0);
        let (r, got) = read_all(&p, &Format::AlipayAccountlog).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(r.totals_match(), Some(false));
        assert_eq!(
            r.totals_mismatch_reason().unwrap(),
            "footer says 3 records (2 income totalling 112.34, 1 expense totalling 100.00), \
             rows give 2 records (1 income totalling 100.00, 1 expense totalling 100.00)"
        );
    }

    #[test]
    fn bad_rows_and_a_half_footer_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = LOG
            .replace("12.34,,112.34", "12.34,-1.00,112.34")
            .replace(",,-100.00,", ",,,")
            .split_inclusive("\r\n")
            .filter(|l| !l.contains("支出合计"))
            .collect();
        let p = write(&dir, text.as_bytes());
        let (r, got) = read_all(&p, &Format::AlipayAccountlog).unwrap();
        assert_eq!(r.encoding, Encoding::Utf8);
        assert_eq!(got.len(), 1);
        let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [7, 8, 10], "{:?}", r.errors);
        assert!(r.errors[0].reason.contains("both"), "{:?}", r.errors);
        assert!(r.errors[1].reason.contains("neither"), "{:?}", r.errors);
        assert!(
            r.errors[2].reason.contains("no #支出合计 line"),
            "{:?}",
            r.errors
        );
        assert_eq!(r.totals_match(), Some(false));
    }

    #[test]
    fn business_detail_bill_given_as_account_log_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, &encoding_rs::GBK.encode(LOG).0);
        let e = read_all(&p, &Format::Alipay).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("give --format alipay-accountlog"), "{msg}");
        let bill = dir.path().join("bill.csv");
        crate::statement::alipay::write_file(&bill, &[], None).unwrap();
        let e = read_all(&bill, &Format::AlipayAccountlog).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("looks like an Alipay business detail bill"),
            "{msg}"
        );
        assert!(msg.ends_with("give --format alipay"), "{msg}");
    }
}
