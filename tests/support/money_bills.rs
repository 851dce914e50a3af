//! Hand-written WeChat bills of 2026-11-28 for the money tests (tests/money.rs
//! and the console's tests/console/money.rs): a trade bill and its fund-flow
//! bill whose every number is computed by hand in the comments.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// The current 27-column WeChat ALL bill header.
pub const WECHAT_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

/// One row of a current 27-column WeChat ALL bill.
pub fn wx_row(
    time: &str,
    wx: &str,
    bill: &str,
    status: &str,
    settled: &str,
    refund: (&str, &str, &str),
    fee: &str,
) -> String {
    let (wr, mr, ra) = refund;
    let order = if status == "SUCCESS" { settled } else { "0.00" };
    let fields = [
        time,
        "wx81be3101902f7cb2",
        "1601959334",
        "0",
        "",
        wx,
        bill,
        "openid",
        "NATIVE",
        status,
        "OTHERS",
        "CNY",
        settled,
        "0.00",
        wr,
        mr,
        ra,
        "0.00",
        if status == "REFUND" { "ORIGINAL" } else { "" },
        if status == "REFUND" { "SUCCESS" } else { "" },
        "recharge",
        "",
        fee,
        "0.60%",
        order,
        ra,
        "",
    ];
    fields
        .iter()
        .map(|f| format!("`{f}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The trade bill of 2026-11-28, computed by hand (rate 0.60 %):
/// A 100.00 fee 0.60 · B 50.00 fee 0.30 · C 20.00 fee 0.12 · D 10.00 fee 0.06 ·
/// F 2.50 fee charged 0.03 (the contract: 2.50 × 0.6 % = 0.015 → 0.02 half-up) ·
/// E 30.00 fee 0.18, refunded the same day in full with its fee (−0.18).
pub fn trade_bill(dir: &Path) -> PathBuf {
    let d = "2026-11-28";
    let rows = [
        wx_row(
            &format!("{d} 01:00:00"),
            "wxA",
            "A",
            "SUCCESS",
            "100.00",
            ("0", "0", "0.00"),
            "0.60000",
        ),
        wx_row(
            &format!("{d} 02:00:00"),
            "wxB",
            "B",
            "SUCCESS",
            "50.00",
            ("0", "0", "0.00"),
            "0.30000",
        ),
        wx_row(
            &format!("{d} 03:00:00"),
            "wxC",
            "C",
            "SUCCESS",
            "20.00",
            ("0", "0", "0.00"),
            "0.12000",
        ),
        wx_row(
            &format!("{d} 03:00:00"),
            "wxD",
            "D",
            "SUCCESS",
            "10.00",
            ("0", "0", "0.00"),
            "0.06000",
        ),
        wx_row(
            &format!("{d} 04:00:00"),
            "wxF",
            "F",
            "SUCCESS",
            "2.50",
            ("0", "0", "0.00"),
            "0.03000",
        ),
        wx_row(
            &format!("{d} 09:00:00"),
            "wxE",
            "E",
            "SUCCESS",
            "30.00",
            ("0", "0", "0.00"),
            "0.18000",
        ),
        wx_row(
            &format!("{d} 09:00:00"),
            "wxE",
            "E",
            "REFUND",
            "0.00",
            ("WR1", "RE1", "30.00"),
            "-0.18000",
        ),
    ];
    let mut text = format!("{WECHAT_HEADER}\n");
    for r in &rows {
        text.push_str(r);
        text.push('\n');
    }
    // 7 rows; 应结订单总金额 212.50; refunds 30.00; fees 1.11; orders 212.50.
    text.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n");
    text.push_str("`7,`212.50,`30.00,`0.00,`1.11000,`212.50,`30.00\n");
    let p = dir.join("wechat-2026-11-28.csv");
    std::fs::write(&p, text).unwrap();
    p
}

/// The merchant account's fund flow of `day`, opening at 1000.00.
pub fn fundflow(dir: &Path, day: &str) -> PathBuf {
    // time, 微信支付业务单号, 资金流水单号, 业务类型, 收支类型, amount, balance after, 业务凭证号
    let rows: [[&str; 8]; 11] = [
        [
            "01:00:00", "wxA", "F1", "交易", "收入", "100.00", "1100.00", "A",
        ],
        [
            "01:00:00",
            "wxA",
            "F2",
            "扣除交易手续费",
            "支出",
            "0.60",
            "1099.40",
            "A",
        ],
        [
            "02:00:00", "wxB", "F3", "交易", "收入", "49.70", "1149.10", "B",
        ],
        [
            "03:00:00", "wxD", "F4", "交易", "收入", "9.90", "1159.00", "D",
        ],
        [
            "04:00:00", "wxF", "F5", "交易", "收入", "2.50", "1161.50", "F",
        ],
        [
            "04:00:00",
            "wxF",
            "F6",
            "扣除交易手续费",
            "支出",
            "0.03",
            "1161.47",
            "F",
        ],
        [
            "09:00:00", "wxE", "F7", "交易", "收入", "30.00", "1191.47", "E",
        ],
        [
            "09:00:00",
            "wxE",
            "F8",
            "扣除交易手续费",
            "支出",
            "0.18",
            "1191.29",
            "E",
        ],
        [
            "09:30:00", "WR1", "wxE", "退款", "支出", "29.82", "1161.47", "RE1",
        ],
        [
            "12:00:00", "X9WX", "F9", "交易", "支出", "5.00", "1156.47", "X9",
        ],
        [
            "18:00:00", "T1", "F10", "提现", "支出", "1000.00", "156.47", "T1",
        ],
    ];
    let mut text = String::from(
        "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号\n",
    );
    for [t, wx, flow, kind, dir_, amount, balance, voucher] in rows {
        let fields = [
            &format!("{day} {t}"),
            wx,
            flow,
            kind,
            kind,
            dir_,
            amount,
            balance,
            "system",
            "",
            voucher,
        ];
        text.push_str(
            &fields
                .iter()
                .map(|f| format!("`{f}"))
                .collect::<Vec<_>>()
                .join(","),
        );
        text.push('\n');
    }
    // 11 movements: 5 in (192.10), 6 out (0.60+0.03+0.18+29.82+5.00+1000.00 = 1035.63).
    text.push_str(
        "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\n`11,`5,`192.10,`6,`1035.63\n",
    );
    let p = dir.join(format!("wechat-fundflow-{day}.csv"));
    std::fs::write(&p, text).unwrap();
    p
}
