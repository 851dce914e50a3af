//! Issue 14's fee and settlement checks through the real `payrecon reconcile`:
//! hand-written WeChat trade and fund-flow bills whose every number is
//! computed by hand below, and the real 2015 WeChat bill of `../shared/realworld/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_payrecon");

struct Run {
    code: i32,
    log: String,
    summary: Value,
    findings: Vec<BTreeMap<String, String>>,
}

impl Run {
    fn of(&self, kind: &str) -> Vec<&BTreeMap<String, String>> {
        self.findings.iter().filter(|r| r["kind"] == kind).collect()
    }

    fn keys(&self, kind: &str) -> Vec<String> {
        let mut k: Vec<String> = self
            .of(kind)
            .iter()
            .map(|r| r["agent_bill_no"].clone())
            .collect();
        k.sort();
        k
    }
}

/// A migrated, empty SQLite ledger in `home`.
fn ledger(home: &Path) -> String {
    let url = format!("sqlite://{}", home.join("ledger.db").display());
    let (code, out, err) = support::payrecon_cli(BIN, &["migrate", "--db", &url], home);
    assert_eq!(code, 0, "{out}{err}");
    url
}

fn reconcile(home: &Path, args: &[&str]) -> Run {
    let url = ledger(home);
    let out = home.join("out");
    let ws = home.join("ws.db");
    let mut all: Vec<&str> = vec![
        "--workspace",
        ws.to_str().unwrap(),
        "reconcile",
        "--db",
        &url,
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = support::payrecon_cli(BIN, &all, home);
    let log = format!("$ payrecon {}\n{stdout}{stderr}", all.join(" "));
    let text = std::fs::read_to_string(out.join("summary.json"))
        .unwrap_or_else(|e| panic!("no summary.json ({e}):\n{log}"));
    let summary: Value = serde_json::from_str(&text).unwrap();
    let mut findings = Vec::new();
    if out.join("findings.csv").exists() {
        let mut r = csv::Reader::from_path(out.join("findings.csv")).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        for rec in r.records() {
            let rec = rec.unwrap();
            findings.push(
                header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_owned))
                    .collect(),
            );
        }
    }
    Run {
        code,
        log,
        summary,
        findings,
    }
}

const WECHAT_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

/// One row of a current 27-column WeChat ALL bill.
fn wx_row(
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
fn trade_bill(dir: &Path) -> std::path::PathBuf {
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
fn fundflow(dir: &Path, day: &str) -> std::path::PathBuf {
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

#[test]
fn one_run_finds_each_fee_and_settlement_break_of_a_hand_computed_day() {
    let home = tempfile::tempdir().unwrap();
    let bill = trade_bill(home.path());
    let ff = fundflow(home.path(), "2026-11-28");
    let run = reconcile(
        home.path(),
        &[
            "--statement",
            bill.to_str().unwrap(),
            "--format",
            "wechat",
            "--statement",
            ff.to_str().unwrap(),
            "--format",
            "wechat-fundflow",
            "--day",
            "2026-11-28",
            "--fee-rate",
            "0.6%",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.log);
    // Fees: only F, charged 0.03 where the contract says 0.02.
    assert_eq!(run.keys("fee_mismatch"), ["F"], "{}", run.log);
    let f = run.of("fee_mismatch")[0];
    assert_eq!(
        (
            f["amount_internal"].as_str(),
            f["amount_external"].as_str(),
            f["difference"].as_str()
        ),
        ("0.02", "0.03", "-0.01")
    );
    assert!(
        f["detail"].contains("charged 0.01 more than the contract"),
        "{}",
        f["detail"]
    );
    assert_eq!(f["severity"], "high");
    let fees = &run.summary["fees"][0];
    // Expected 0.60+0.30+0.12+0.06+0.02+0.18−0.18 = 1.10; charged 1.11.
    assert_eq!(
        (
            fees["expected"].as_str(),
            fees["charged"].as_str(),
            fees["difference"].as_str()
        ),
        (Some("1.10"), Some("1.11"), Some("0.01")),
        "{}",
        run.summary
    );
    assert_eq!(fees["payments_checked"], 6);
    assert_eq!(fees["refunds_checked"], 1);
    // Settlement: C never arrived (19.88 = 20.00 − 0.12); D arrived 9.90 of 9.94;
    // the 5.00 debit X9 is no trade's; the withdrawal is the merchant's own.
    assert_eq!(run.keys("settlement_missing"), ["C"], "{}", run.log);
    let c = run.of("settlement_missing")[0];
    assert_eq!(
        (
            c["amount_internal"].as_str(),
            c["difference"].as_str(),
            c["severity"].as_str()
        ),
        ("19.88", "19.88", "critical")
    );
    assert!(c["detail"].contains("never arrived"), "{}", c["detail"]);
    assert_eq!(run.keys("settlement_amount_mismatch"), ["D"]);
    let d = run.of("settlement_amount_mismatch")[0];
    assert_eq!(
        (
            d["amount_internal"].as_str(),
            d["amount_external"].as_str(),
            d["difference"].as_str()
        ),
        ("9.94", "9.90", "0.04")
    );
    assert!(
        d["detail"].contains("wechat-fundflow-2026-11-28.csv line 5"),
        "the reference links both files: {}",
        d["detail"]
    );
    let x = run.of("settlement_unexplained");
    assert_eq!(x.len(), 1, "{}", run.log);
    assert_eq!(x[0]["amount_external"], "-5.00");
    assert!(x[0]["detail"].contains("X9"), "{}", x[0]["detail"]);
    let s = &run.summary["settlement"];
    assert_eq!(
        (
            s["orders"].as_u64(),
            s["settled"].as_u64(),
            s["missing"].as_u64(),
            s["mismatched"].as_u64(),
            s["unexplained"].as_u64()
        ),
        (Some(6), Some(4), Some(1), Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(s["files"][0]["opening"], "1000.00");
    assert_eq!(s["files"][0]["closing"], "156.47");
    assert_eq!(s["files"][0]["balance_ok"], true);
    assert_eq!(s["fees_deducted"], true);
    assert!(
        run.log.contains("settlement: 4 of 6 orders settled"),
        "{}",
        run.log
    );
}

#[test]
fn a_fund_flow_bill_of_another_day_is_refused_in_one_sentence_and_settles_nothing() {
    let home = tempfile::tempdir().unwrap();
    let bill = trade_bill(home.path());
    let ff = fundflow(home.path(), "2026-11-27");
    let run = reconcile(
        home.path(),
        &[
            "--statement",
            bill.to_str().unwrap(),
            "--format",
            "wechat",
            "--statement",
            ff.to_str().unwrap(),
            "--format",
            "wechat-fundflow",
            "--day",
            "2026-11-28",
        ],
    );
    let refused: Vec<_> = run
        .of("statement_refused")
        .into_iter()
        .filter(|r| r["detail"].contains("wechat-fundflow-2026-11-27.csv"))
        .collect();
    assert_eq!(refused.len(), 1, "{}", run.log);
    assert!(
        refused[0]["detail"]
            .contains("it is the fund-flow bill of 2026-11-27, not of the reconciled 2026-11-28"),
        "{}",
        refused[0]["detail"]
    );
    for k in [
        "settlement_missing",
        "settlement_amount_mismatch",
        "settlement_unexplained",
    ] {
        assert!(run.of(k).is_empty(), "{k} from a refused file: {}", run.log);
    }
    assert!(
        run.summary["settlement"]["not_checked"].is_array(),
        "{}",
        run.summary
    );
    let files = run.summary["files"].as_array().unwrap();
    assert_eq!(
        files[1]["role"], "refused",
        "files keep the order given: {}",
        run.summary
    );
}

/// The real 2015 bill charges 0.01 on 0.88 and 0.00 on 0.17 at 0.60 %: both
/// right. At a contract of 1 % every row states the wrong rate.
#[test]
fn the_real_2015_wechat_bill_charges_its_contract_rate() {
    let shared = require_shared!("the real 2015 WeChat bill");
    let bill = shared.join("realworld/wechat-apo-soft-payment-parent-1.csv");
    let home = tempfile::tempdir().unwrap();
    let run = reconcile(
        home.path(),
        &[
            "--statement",
            bill.to_str().unwrap(),
            "--format",
            "wechat",
            "--day",
            "2015-10-28",
            "--fee-rate",
            "0.6%",
        ],
    );
    assert!(run.of("fee_mismatch").is_empty(), "{}", run.log);
    let fees = &run.summary["fees"][0];
    assert_eq!(
        (
            fees["expected"].as_str(),
            fees["charged"].as_str(),
            fees["payments_checked"].as_u64()
        ),
        (Some("0.01"), Some("0.01"), Some(6)),
        "{}",
        run.summary
    );
    assert_eq!(run.summary["fee_rates"], "0.60%");

    let home = tempfile::tempdir().unwrap();
    let run = reconcile(
        home.path(),
        &[
            "--statement",
            bill.to_str().unwrap(),
            "--format",
            "wechat",
            "--day",
            "2015-10-28",
            "--fee-rate",
            "wechat=1%",
        ],
    );
    assert_eq!(run.of("fee_mismatch").len(), 6, "{}", run.log);
    assert!(
        run.of("fee_mismatch")[0]["detail"]
            .contains("the bill states a rate of 0.60%, not the contract's 1.00%")
    );
}

#[test]
fn a_fee_rate_that_is_not_a_rate_is_one_sentence_and_no_run() {
    let home = tempfile::tempdir().unwrap();
    let url = ledger(home.path());
    let out = home.path().join("out");
    let (code, stdout, stderr) = support::payrecon_cli(
        BIN,
        &[
            "reconcile",
            "--db",
            &url,
            "--out",
            out.to_str().unwrap(),
            "--fee-rate",
            "0.6",
        ],
        home.path(),
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("--fee-rate '0.6' would be 60%"), "{stderr}");
    assert!(!out.join("summary.json").exists());
}

/// A fund-flow bill sharing not one reference number with the trade bill
/// (another merchant's, or an account credited in one sum per day) settles
/// nothing: one refusal, no `settlement_*` for any order.
#[test]
fn a_fund_flow_bill_of_another_merchant_is_refused_not_a_flood_of_missing_money() {
    let home = tempfile::tempdir().unwrap();
    let bill = trade_bill(home.path());
    let ff = fundflow(home.path(), "2026-11-28");
    let text = std::fs::read_to_string(&ff)
        .unwrap()
        .replace("`wx", "`zz")
        .replace("`WR1", "`ZR1");
    let other: Vec<String> = text
        .lines()
        .map(|l| match l.rsplit_once(",`") {
            Some((head, voucher)) if !l.starts_with("`11") => format!("{head},`Q{voucher}"),
            _ => l.to_owned(),
        })
        .collect();
    std::fs::write(&ff, other.join("\n") + "\n").unwrap();
    let run = reconcile(
        home.path(),
        &[
            "--statement",
            bill.to_str().unwrap(),
            "--format",
            "wechat",
            "--statement",
            ff.to_str().unwrap(),
            "--format",
            "wechat-fundflow",
            "--day",
            "2026-11-28",
        ],
    );
    for k in [
        "settlement_missing",
        "settlement_amount_mismatch",
        "settlement_unexplained",
    ] {
        assert!(run.of(k).is_empty(), "{k}: {}", run.log);
    }
    let refused: Vec<_> = run
        .of("statement_refused")
        .into_iter()
        .filter(|r| r["detail"].contains("share no reference number"))
        .collect();
    assert_eq!(refused.len(), 1, "{}", run.log);
    assert!(run.summary["settlement"]["not_checked"].is_array());
}
