//! The statement readers on the real-world files of `../shared/realworld/` (see its README.md):
//! the movements of the WeChat fund-flow bill through `read_movements`, and the gateway's ids
//! and fee rates that the WeChat trade bills carry, read through the library (the CLI runs of
//! the same files are in `tests/realworld.rs`).
//!
//! Without `../shared` beside the checkout every test here prints one "skipped" line and
//! passes (`CI=true` makes that a failure; see `support::require_shared!`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::NaiveDate;
use payrecon::statement::{
    Entry, EntryKind, Format, ImportReport, Movement, read_movements, read_statement,
};
use rust_decimal::Decimal;
use std::path::Path;

fn movements(path: &Path) -> (ImportReport, Vec<Movement>) {
    let mut got = Vec::new();
    let mut bytes = 0;
    let r = read_movements(
        path,
        &Format::WechatFundflow,
        &mut |m| got.push(m),
        &mut |b| bytes = b,
    )
    .unwrap();
    assert_eq!(
        bytes,
        std::fs::metadata(path).unwrap().len(),
        "progress ends at the file's size"
    );
    (r, got)
}

fn entries(path: &Path, format: &Format) -> (ImportReport, Vec<Entry>) {
    let mut got = Vec::new();
    let r = read_statement(path, format, |e| got.push(e)).unwrap();
    (r, got)
}

#[test]
fn fundflow_bill_gunsluo_gives_two_movements_and_stays_truncated() {
    let shared = require_shared!("realworld/wechat-fundflow-gunsluo-wechatpay-go.csv");
    let path = shared.join("realworld/wechat-fundflow-gunsluo-wechatpay-go.csv");
    let (r, got) = movements(&path);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
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
    assert_eq!(m.business_type, "退款");
    assert_eq!(m.business_name, "退款");
    assert_eq!(m.amount, Decimal::new(-1, 2));
    assert_eq!(m.amount.to_string(), "-0.01");
    assert_eq!(m.balance, Some(Decimal::new(22, 2)));
    assert_eq!(m.note, "退款总金额0.01元;含手续费0.00元");
    assert_eq!(got[1].line, 3);
    assert_eq!(got[1].ids[0], "S20210201140044552846");
    assert_eq!(got[1].balance, Some(Decimal::new(21, 2)));
    // The summary counts an income row the file does not have: still truncated, in the same
    // words as before, and the report is the very one read_statement gives.
    assert_eq!(r.totals_match(), Some(false));
    assert_eq!(
        r.totals_mismatch_reason().unwrap(),
        "footer says 3 records (1 income totalling 0.01, 2 expenses totalling 0.02), \
         rows give 2 records (0 income totalling 0.00, 2 expenses totalling 0.02)"
    );
    let (same, as_entries) = entries(&path, &Format::WechatFundflow);
    assert_eq!(r, same);
    assert_eq!(as_entries.len(), 2);
    assert_eq!(as_entries[0].agent_bill_no, "S20210201135356381941");
    assert_eq!(as_entries[0].kind, EntryKind::Refund);
    assert_eq!(as_entries[0].amount, Decimal::new(1, 2));
}

#[test]
fn fundflow_reader_refuses_a_trade_bill_and_a_trade_format() {
    let shared = require_shared!("realworld/wechat-gunsluo-wechatpay-go-all.csv");
    let trade = shared.join("realworld/wechat-gunsluo-wechatpay-go-all.csv");
    let e = read_movements(&trade, &Format::WechatFundflow, &mut |_| {}, &mut |_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("looks like a WeChat Pay bill"), "{msg}");
    let e = read_movements(&trade, &Format::Wechat, &mut |_| {}, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("holds no account movements"), "{e}");
}

#[test]
fn wechat_2015_bill_states_its_rate_and_fee() {
    let shared = require_shared!("realworld/wechat-apo-soft-payment-parent-1.csv");
    let (r, got) = entries(
        &shared.join("realworld/wechat-apo-soft-payment-parent-1.csv"),
        &Format::Wechat,
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(got.len(), 6);
    let first = &got[0];
    assert_eq!(first.amount, Decimal::new(88, 2));
    assert_eq!(first.fee, Some(Decimal::new(1000, 5)));
    assert_eq!(first.fee.unwrap().to_string(), "0.01000");
    assert_eq!(first.rate, Some(Decimal::new(6, 3)));
    assert_eq!(
        first.gateway_id.as_deref(),
        Some("1005680240201510281363742443")
    );
    assert_eq!((&first.refund_id, &first.gateway_refund_id), (&None, &None));
    let second = &got[1];
    assert_eq!(
        (second.amount, second.fee, second.rate),
        (
            Decimal::new(17, 2),
            Some(Decimal::ZERO),
            Some(Decimal::new(6, 3))
        )
    );
    assert!(got.iter().all(|e| e.rate == Some(Decimal::new(6, 3))));
    assert_eq!(r.totals_match(), Some(true));
}

#[test]
fn wechat_refund_bill_carries_both_refund_numbers() {
    let shared = require_shared!("realworld/wechat-gunsluo-wechatpay-go-refund.csv");
    let (r, got) = entries(
        &shared.join("realworld/wechat-gunsluo-wechatpay-go-refund.csv"),
        &Format::Wechat,
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(got.len(), 2);
    let e = &got[0];
    assert_eq!(e.kind, EntryKind::Refund);
    assert_eq!(e.agent_bill_no, "S20210124161554311546");
    assert_eq!(e.refund_id.as_deref(), Some("S20210201143320649393"));
    assert_eq!(
        e.gateway_refund_id.as_deref(),
        Some("50300807172021020106006664916")
    );
    assert_eq!(
        e.gateway_id.as_deref(),
        Some("4200000844202101245866928772")
    );
    assert_eq!(e.rate, Some(Decimal::new(1, 2)));
    assert_eq!(e.fee, Some(Decimal::ZERO));
    assert_eq!(got[1].refund_id.as_deref(), Some("S20210201140044552846"));
    assert_eq!(
        got[1].gateway_refund_id.as_deref(),
        Some("50300907032021020105978998710")
    );
}

#[test]
fn every_real_wechat_trade_bill_has_ids_and_rates() {
    let shared = require_shared!("realworld/wechat-*.csv, the real WeChat trade bills");
    for name in [
        "wechat-gunsluo-wechatpay-go-all.csv",
        "wechat-gunsluo-wechatpay-go-success.csv",
        "wechat-huhangying-eyaoweb2-all.csv",
        "wechat-wxjava-refund-masked-excerpt.csv",
    ] {
        let (r, got) = entries(&shared.join("realworld").join(name), &Format::Wechat);
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert!(!got.is_empty(), "{name}");
        for e in &got {
            assert!(
                e.gateway_id.as_deref().is_some_and(|g| !g.is_empty()),
                "{name} line {}",
                e.line
            );
            assert!(
                e.rate
                    .is_some_and(|r| r > Decimal::ZERO && r < Decimal::new(1, 1)),
                "{name} line {}: {:?}",
                e.line,
                e.rate
            );
            if e.kind == EntryKind::Payment {
                assert_eq!(e.refund_id, None, "{name} line {}", e.line);
            } else {
                assert!(e.refund_id.is_some(), "{name} line {}", e.line);
            }
        }
    }
}
