//! WeChat Pay trade bill (交易账单, SPEC §5): backtick-prefixed fields, a
//! summary header and one summary row after the data.

use super::hfb::{GatewayStatus, Line};
use crate::money::format_amount;
use rust_decimal::Decimal;
use std::io::Write;

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
                format!("oUpF8u{}", &l.bind_code[..l.bind_code.len().min(22)]),
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
