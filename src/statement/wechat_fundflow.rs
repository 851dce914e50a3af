//! WeChat Pay fund-flow bill (资金账单, SPEC §5): the merchant account's
//! money in and out, one row per booking, backtick-prefixed fields like the
//! trade bill, a summary header `资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额`
//! and one summary row after the data.
//!
//! Its rows are not trades: the file is read and its summary checked
//! (`trades` is false in the report). [`read_movements`](super::read_movements)
//! hands each row on as a [`Movement`]: 记账时间, the reference numbers
//! (业务凭证号, 微信支付业务单号, 资金流水单号, the empty ones left out),
//! 业务类型, 业务名称, 备注, 收支金额 signed by 收支类型 (收入 +, 支出 −) and
//! 账户结余. [`read_statement`](super::read_statement) runs the same reader and
//! hands each row on as an entry: a [`Payment`](EntryKind::Payment) for 收入
//! and a [`Refund`](EntryKind::Refund) for 支出, keyed by 业务凭证号 (else
//! 微信支付业务单号), with |收支金额| as its amount and 记账时间 as its time. The summary gives the `declared` totals:
//! count 资金流水总笔数, amount 收入金额, refunds 支出金额 and 支出笔数 refund
//! rows; the rows' totals are computed the same way from 收支类型. Columns are
//! found by name; `收支金额(元)` and `账户结余(元)` may have ASCII or
//! full-width parentheses. A row without 业务凭证号 and 微信支付业务单号, with
//! another 收支类型, or with an unreadable amount, time or balance is a bad
//! row on both paths.

use super::read::{
    self, Collector, Comments, Decode, Entry, EntryKind, ImportReport, Movement, MovementRow,
    StatementError, Table, Totals,
};
use rust_decimal::Decimal;
use std::path::Path;

/// The 11-column header (v3 API spelling, ASCII parentheses).
pub const HEADER: [&str; 11] = [
    "记账时间",
    "微信支付业务单号",
    "资金流水单号",
    "业务名称",
    "业务类型",
    "收支类型",
    "收支金额(元)",
    "账户结余(元)",
    "资金变更提交申请人",
    "备注",
    "业务凭证号",
];

/// The summary header.
pub const SUMMARY_HEADER: [&str; 5] = [
    "资金流水总笔数",
    "收入笔数",
    "收入金额",
    "支出笔数",
    "支出金额",
];

const THIS: (&str, &str) = ("wechat-fundflow", "a WeChat fund-flow bill (资金账单)");

/// Where the columns the reader uses are.
struct Columns {
    direction: usize,
    amount: usize,
    balance: Option<usize>,
    voucher: Option<usize>,
    business_no: Option<usize>,
    flow_no: Option<usize>,
    business_name: Option<usize>,
    business_type: Option<usize>,
    note: Option<usize>,
    time: Option<usize>,
}

/// A header name with ASCII or full-width parentheses.
fn col(t: &Table, name: &str) -> Option<usize> {
    t.column(name)
        .or_else(|| t.column(&name.replace('(', "（").replace(')', "）")))
}

/// Reads a WeChat fund-flow bill as entries (see
/// [`read_statement`](super::read_statement)).
pub(crate) fn read(
    path: &Path,
    on_entry: &mut dyn FnMut(Entry),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    read_rows(path, on_bytes, &mut |r| on_entry(r.to_entry()))
}

/// Reads a WeChat fund-flow bill as movements (see
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
    super::wechat::check_gateway_reply(path)?;
    let mut t = Table::open(path, Decode::Auto, Comments::Keep, on_bytes)?;
    let Some(header_line) = t.next()? else {
        return Err(t.no_header());
    };
    t.take_header();
    let [direction] = t.require(header_line, ["收支类型"], THIS)?;
    let Some(amount) = col(&t, "收支金额(元)") else {
        return Err(t.header_error(header_line, THIS, &["收支金额(元)"]));
    };
    let cols = Columns {
        direction,
        amount,
        balance: col(&t, "账户结余(元)"),
        voucher: t.column("业务凭证号"),
        business_no: t.column("微信支付业务单号"),
        flow_no: t.column("资金流水单号"),
        business_name: t.column("业务名称"),
        business_type: t.column("业务类型"),
        note: t.column("备注"),
        time: t.column("记账时间"),
    };
    if cols.voucher.is_none() && cols.business_no.is_none() {
        return Err(t.header_error(header_line, THIS, &["业务凭证号 (or 微信支付业务单号)"]));
    }
    // Rows are counted here and handed to `on_row`, not to an entry callback.
    let mut no_entries = |_: Entry| {};
    let mut c = Collector::new(path, "wechat-fundflow", &mut no_entries);
    c.report.layout = Some(format!(
        "WeChat fund-flow bill (资金账单), {} columns",
        t.header.len()
    ));
    c.report.computed.refund_count = Some(0);
    while let Some(line) = t.next()? {
        if t.get(0) == Some("资金流水总笔数") {
            summary(&mut t, line, &mut c)?;
            break;
        }
        match row(&t, &cols, line) {
            Ok(r) => {
                add(&mut c.report.computed, r.kind, r.amount);
                c.count(r.at, r.at);
                on_row(&r);
            }
            Err(reason) => c.error(line, reason),
        }
    }
    while let Some(line) = t.next()? {
        c.error(line, "a row after the summary row".to_owned());
    }
    Ok(c.finish(t.encoding()))
}

/// Adds a row (income as a payment, expense as a refund, `amount` ≥ 0) to
/// totals kept as the summary keeps them.
pub(crate) fn add(totals: &mut Totals, kind: EntryKind, amount: Decimal) {
    totals.count += 1;
    match kind {
        EntryKind::Payment => totals.amount += amount,
        EntryKind::Refund => {
            totals.refund_amount += amount;
            totals.refund_count = Some(totals.refund_count.unwrap_or(0) + 1);
        }
    }
}

/// One data row.
fn row<'t>(t: &'t Table, cols: &Columns, line: u64) -> Result<MovementRow<'t>, String> {
    t.check_width()?;
    let text = |col: Option<usize>| col.and_then(|i| t.get(i)).unwrap_or("");
    let ids = [
        text(cols.voucher),
        text(cols.business_no),
        text(cols.flow_no),
    ];
    if ids[0].is_empty() && ids[1].is_empty() {
        return Err("业务凭证号 and 微信支付业务单号 are empty".to_owned());
    }
    let direction = t.field(cols.direction)?;
    let kind = match direction {
        "收入" => EntryKind::Payment,
        "支出" => EntryKind::Refund,
        other => return Err(format!("收支类型 '{other}' is neither 收入 nor 支出")),
    };
    let amount_name = t.header.get(cols.amount).map_or("收支金额", String::as_str);
    let amount = read::amount(amount_name, t.field(cols.amount)?)?.abs();
    let balance = match cols.balance {
        Some(i) => match t.field(i)? {
            "" => None,
            s => Some(read::amount(
                t.header.get(i).map_or("账户结余(元)", String::as_str),
                s,
            )?),
        },
        None => None,
    };
    let at = t.opt_time(cols.time, "记账时间")?;
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

/// The summary header is the current record: reads the summary row after it.
fn summary(t: &mut Table, header_line: u64, c: &mut Collector<'_>) -> Result<(), StatementError> {
    let names: Vec<String> = t.record.iter().map(|f| read::clean(f).to_owned()).collect();
    let Some(line) = t.next()? else {
        c.footer_error(
            header_line,
            "the summary header has no summary row after it",
        );
        return Ok(());
    };
    let declared = (|| -> Result<Totals, String> {
        let get = |name: &str| -> Result<&str, String> {
            names
                .iter()
                .position(|h| h == name)
                .and_then(|i| t.get(i))
                .ok_or_else(|| format!("the summary has no {name}"))
        };
        let count = |name: &str| -> Result<u64, String> {
            let text = get(name)?;
            text.parse::<u64>()
                .map_err(|_| format!("{name} '{text}' is not a count"))
        };
        let (total, income, expenses) = (
            count("资金流水总笔数")?,
            count("收入笔数")?,
            count("支出笔数")?,
        );
        if income + expenses != total {
            return Err(format!(
                "收入笔数 {income} and 支出笔数 {expenses} do not add up to 资金流水总笔数 {total}"
            ));
        }
        Ok(Totals {
            count: total,
            amount: read::amount("收入金额", get("收入金额")?)?,
            refund_amount: read::amount("支出金额", get("支出金额")?)?.abs(),
            refund_count: Some(expenses),
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
    use crate::statement::hfb::GatewayStatus;
    use crate::statement::read::{Encoding, Format, read_statement};
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use std::path::PathBuf;

    const BILL: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号\n\
        `2021-02-01 13:54:01,`50300806962021020105978994968,`4200000920202101197964319284,`退款,`退款,`支出,`0.01,`0.22,`1601959334API,`退款总金额0.01元;含手续费0.00元,`S20210201135356381941\n\
        `2021-02-01 14:00:45,`50300907032021020105978998710,`4200000846202101197461830397,`退款,`退款,`支出,`0.01,`0.21,`1601959334API,`退款总金额0.01元;含手续费0.00元,`S20210201140044552846\n\
        资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\n\
        `3,`1,`0.01,`2,`0.02\n";

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let p = dir.path().join("fundflow.csv");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn read_all(p: &Path, f: &Format) -> Result<(ImportReport, Vec<Entry>), StatementError> {
        let mut got = Vec::new();
        let r = read_statement(p, f, |e| got.push(e))?;
        Ok((r, got))
    }

    #[test]
    fn summary_that_counts_a_missing_income_row_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, BILL);
        let (r, got) = read_all(&p, &Format::WechatFundflow).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            (r.format, r.encoding, r.trades()),
            ("wechat-fundflow", Encoding::Utf8, false)
        );
        assert_eq!(
            r.layout.as_deref(),
            Some("WeChat fund-flow bill (资金账单), 11 columns")
        );
        assert_eq!(got.len(), 2);
        assert_eq!(r.entries, 2);
        assert!(got.iter().all(|e| e.kind == EntryKind::Refund));
        assert_eq!(got[0].agent_bill_no, "S20210201135356381941");
        assert_eq!(got[0].amount, Decimal::new(1, 2));
        assert_eq!(got[0].line, 2);
        let day = NaiveDate::from_ymd_opt(2021, 2, 1).unwrap();
        assert_eq!(got[1].booked_at().map(|t| t.date()), Some(day));
        assert_eq!(r.days.period(), Some((day, day)));
        let d = r.declared.unwrap();
        assert_eq!(
            (d.count, d.amount, d.refund_amount, d.refund_count),
            (3, Decimal::new(1, 2), Decimal::new(2, 2), Some(2))
        );
        let c = r.computed;
        assert_eq!(
            (c.count, c.amount, c.refund_amount, c.refund_count),
            (2, Decimal::ZERO, Decimal::new(2, 2), Some(2))
        );
        assert_eq!(r.totals_match(), Some(false));
        assert_eq!(
            r.totals_mismatch_reason().unwrap(),
            "footer says 3 records (1 income totalling 0.01, 2 expenses totalling 0.02), \
             rows give 2 records (0 income totalling 0.00, 2 expenses totalling 0.02)"
        );
    }

    fn movements_of(p: &Path) -> Result<(ImportReport, Vec<Movement>), StatementError> {
        let mut got = Vec::new();
        let r = read::read_movements(
            p,
            &Format::WechatFundflow,
            &mut |m| got.push(m),
            &mut |_| {},
        )?;
        Ok((r, got))
    }

    #[test]
    fn movements_carry_ids_sign_and_balance_and_the_same_report() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, BILL);
        let (r, got) = movements_of(&p).unwrap();
        let (same, _) = read_all(&p, &Format::WechatFundflow).unwrap();
        assert_eq!(r, same);
        assert_eq!(got.len(), 2);
        let m = &got[0];
        assert_eq!(m.line, 2);
        assert_eq!(
            m.at,
            NaiveDate::from_ymd_opt(2021, 2, 1)
                .unwrap()
                .and_hms_opt(13, 54, 1)
        );
        assert_eq!(
            m.ids,
            [
                "S20210201135356381941",
                "50300806962021020105978994968",
                "4200000920202101197964319284"
            ]
        );
        assert_eq!(
            (m.business_type.as_str(), m.business_name.as_str()),
            ("退款", "退款")
        );
        assert_eq!(m.note, "退款总金额0.01元;含手续费0.00元");
        assert_eq!(m.amount, Decimal::new(-1, 2));
        assert_eq!(m.balance, Some(Decimal::new(22, 2)));
        assert_eq!(got[1].balance, Some(Decimal::new(21, 2)));
    }

    #[test]
    fn income_is_positive_empty_ids_are_skipped_and_full_width_balance_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let income = "`2021-02-01 10:00:00,`4200000920202102010000000001,`,`交易,`交易,`收入,`1.50,`1.73,`1601959334API,`,`\n";
        let text = BILL.replace("(元)", "（元）").replacen(
            "\n`2021-02-01 13:54",
            &format!("\n{income}`2021-02-01 13:54"),
            1,
        );
        let p = write(&dir, &text);
        let (r, got) = movements_of(&p).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].ids, ["4200000920202102010000000001"]);
        assert_eq!(got[0].amount, Decimal::new(150, 2));
        assert_eq!(got[0].balance, Some(Decimal::new(173, 2)));
        assert_eq!(
            (got[0].note.as_str(), got[0].business_name.as_str()),
            ("", "交易")
        );
        assert_eq!(got[1].amount, Decimal::new(-1, 2));
        assert_eq!(got[1].balance, Some(Decimal::new(22, 2)));
        // Without a balance column there is no balance, and no error.
        let lean = "记账时间,微信支付业务单号,收支类型,收支金额(元)\n\
            `2021-02-01 10:00:00,`4200000920202102010000000001,`收入,`1.50\n";
        let p = write(&dir, lean);
        let (r, got) = movements_of(&p).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(got[0].balance, None);
        assert_eq!(
            (got[0].business_type.as_str(), got[0].note.as_str()),
            ("", "")
        );
        // A bad balance is a bad row on both paths, naming the column.
        let bad = BILL.replacen("`0.22,", "`0.2x,", 1);
        let p = write(&dir, &bad);
        let (r, got) = movements_of(&p).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 2);
        assert!(
            r.errors[0].reason.starts_with("账户结余(元): '0.2x'"),
            "{:?}",
            r.errors
        );
        let (same, entries) = read_all(&p, &Format::WechatFundflow).unwrap();
        assert_eq!((same, entries.len()), (r, 1));
    }

    #[test]
    fn complete_bill_with_full_width_parentheses_and_crlf_matches() {
        let dir = tempfile::tempdir().unwrap();
        let income = "`2021-02-01 10:00:00,`4200000920202102010000000001,`1000,`交易,`交易,`收入,`0.01,`0.23,`1601959334API,`,`S2021020110000001\n";
        let text = BILL
            .replace("(元)", "（元）")
            .replacen(
                "\n`2021-02-01 13:54",
                &format!("\n{income}`2021-02-01 13:54"),
                1,
            )
            .replace('\n', "\r\n");
        let p = write(&dir, &format!("\u{feff}{}", text.trim_end()));
        let (r, got) = read_all(&p, &Format::WechatFundflow).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.encoding, Encoding::Utf8Bom);
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].kind, got[0].status),
            (EntryKind::Payment, GatewayStatus::Success)
        );
        assert_eq!(got[0].refunded_at, None);
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
    }

    #[test]
    fn bad_rows_and_inconsistent_summary_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = BILL
            .replacen("`支出,`0.01", "`转入,`0.01", 1)
            .replace("`3,`1,", "`4,`1,");
        let p = write(&dir, &text);
        let (r, got) = read_all(&p, &Format::WechatFundflow).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
        assert_eq!(r.errors[0].line, 2);
        assert!(
            r.errors[0].reason.contains("收支类型 '转入'"),
            "{:?}",
            r.errors
        );
        assert_eq!(r.errors[1].line, 5);
        assert!(
            r.errors[1]
                .reason
                .contains("do not add up to 资金流水总笔数 4"),
            "{:?}",
            r.errors
        );
        assert_eq!(r.declared, None);
        let why = r.totals_mismatch_reason().unwrap();
        assert!(
            why.starts_with("the footer totals could not be read (line 5"),
            "{why}"
        );
    }

    #[test]
    fn cut_before_the_summary_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, BILL.split_once("资金流水总笔数").unwrap().0);
        let (r, got) = read_all(&p, &Format::WechatFundflow).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(r.totals_match(), Some(false));
        let why = r.totals_mismatch_reason().unwrap();
        assert!(why.contains("footer totals are missing"), "{why}");
        assert!(why.contains("rows give 2 records"), "{why}");
    }

    #[test]
    fn given_as_a_trade_bill_it_is_named_and_the_other_way_round() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, BILL);
        let e = read_all(&p, &Format::Wechat).unwrap_err();
        assert!(matches!(e, StatementError::Header { line: 1, .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("WeChat fund-flow bill (资金账单"), "{msg}");
        assert!(msg.contains("give --format wechat-fundflow"), "{msg}");
        let trade = dir.path().join("trade.csv");
        crate::statement::wechat::write_file(&trade, &[], None).unwrap();
        let e = read_all(&trade, &Format::WechatFundflow).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("looks like a WeChat Pay bill"), "{msg}");
        assert!(msg.ends_with("give --format wechat"), "{msg}");
    }

    #[test]
    fn error_reply_is_a_gateway_reply() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            r#"{"code":"NO_STATEMENT_EXIST","message":"要查询的资金账单不存在"}"#,
        );
        let e = read_all(&p, &Format::WechatFundflow).unwrap_err();
        assert!(matches!(e, StatementError::GatewayReply { .. }), "{e}");
        assert!(e.to_string().ends_with(
            "WeChat returned an error instead of a bill: 要查询的资金账单不存在 (NO_STATEMENT_EXIST)"
        ), "{e}");
    }
}
