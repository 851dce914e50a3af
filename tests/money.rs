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

#[path = "support/money_bills.rs"]
mod money_bills;

use money_bills::{fundflow, trade_bill};

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
