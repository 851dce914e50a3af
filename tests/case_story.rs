//! The case engine (SPEC §6 Case): one story per recharge, in time order,
//! with a verdict that is true for every combination of outcomes and names
//! its cause; input typed any way is found; nothing found offers near
//! matches; and on srb's own tables alone (a real srb dump in MariaDB) a
//! user's recharge flows are the story, with what cannot be known said.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::NaiveDateTime;
use payrecon::args;
use payrecon::case::{self, Case, EventKind, Query, Verdict};
use payrecon::db::{Arg, ConnectOptions, Db, schema};
use payrecon::gui::Lang;
use rust_decimal::Decimal;
use std::str::FromStr;
use support::{Backend, fresh_db};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

const ONCE: &str = "CHARGE20261120080000111";
const TWICE: &str = "CHARGE20261120081500222";
const THRICE: &str = "CHARGE20261120083000333";
const PAID_NOT: &str = "CHARGE20261120084500444";
const DECLINED: &str = "CHARGE20261120090000555";
const WAITING: &str = "CHARGE20261120091500666";
const PAID_NO_FLOW: &str = "CHARGE20261120093000777";
const NO_ORDER: &str = "CHARGE20261120094500888";
const REFUNDED: &str = "CHARGE20261120100000999";
const PAID_CRASHED: &str = "CHARGE20261120101500000";
const DECLINED_CREDITED: &str = "CHARGE20261120103000121";
const ODD_STATUS: &str = "CHARGE20261120104500131";

/// A payment database in the legacy layout (no `uk_trans_no`, so a recharge
/// can be credited several times), with the contract tables.
async fn legacy_db() -> (support::TestDb, Db) {
    let t = fresh_db(Backend::Sqlite).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    schema::create_legacy_trans_flow(&db).await.unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    (t, db)
}

async fn user(db: &Db, id: i64, name: &str, mobile: &str, balance: &str) {
    db.execute(
        "INSERT INTO user_info (id, mobile, name, bind_code) VALUES (?, ?, ?, ?)",
        &args![id, mobile, name, format!("BIND{id}")],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO user_account (user_id, amount, freeze_amount) VALUES (?, ?, ?)",
        &args![id, d(balance), d("0.00")],
    )
    .await
    .unwrap();
}

/// status: 0 submitted, 1 paying, 2 paid, 3 failed.
async fn order(db: &Db, bill: &str, uid: i64, amount: &str, status: i64, t: &str) {
    db.execute(
        "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, status, create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &args![bill, uid, format!("BIND{uid}"), d(amount), status, at(t), at(t)],
    )
    .await
    .unwrap();
}

#[allow(clippy::too_many_arguments)] // one per column
async fn notify(
    db: &Db,
    bill: &str,
    code: &str,
    outcome: &str,
    response: &str,
    amount: &str,
    sign_ok: bool,
    t: &str,
) {
    db.execute(
        "INSERT INTO notify_log (agent_bill_no, bind_code, charge_amt, result_code, sign_ok, outcome, response_body, received_at, handled_ms) VALUES (?, 'BIND1', ?, ?, ?, ?, ?, ?, 3)",
        &args![bill, d(amount), code, i64::from(sign_ok), outcome, response, at(t)],
    )
    .await
    .unwrap();
}

async fn idem(db: &Db, bill: &str, status: &str, locked: &str, done: Option<&str>) {
    db.execute(
        "INSERT INTO idempotency_record (source, seq, request_hash, status, response_body, locked_at, created_at, completed_at) VALUES ('hfb-notify', ?, ?, ?, 'success', ?, ?, ?)",
        &args![
            bill,
            "0".repeat(64),
            status,
            at(locked),
            at(locked),
            Arg::Time(done.map(at))
        ],
    )
    .await
    .unwrap();
}

async fn flow(db: &Db, uid: i64, no: &str, ty: i64, amount: &str, t: &str) {
    db.execute(
        "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) VALUES (?, 'u', ?, ?, '', ?, NULL, ?, ?, 0)",
        &args![uid, no, ty, d(amount), at(t), at(t)],
    )
    .await
    .unwrap();
}

/// One user (13812345678) with a recharge for every verdict, flows written
/// out of time order on purpose.
async fn every_verdict() -> (support::TestDb, Db) {
    let (t, db) = legacy_db().await;
    user(&db, 1, "王伟", "13812345678", "0.00").await;
    user(&db, 2, "李娜", "13900001111", "0.00").await;
    // Charged once: order, callback, idempotency, flow.
    order(&db, ONCE, 1, "100.00", 2, "2026-11-20 08:00:00.000").await;
    notify(
        &db,
        ONCE,
        "0001",
        "credited",
        "success",
        "100.00",
        true,
        "2026-11-20 08:00:03.000",
    )
    .await;
    idem(
        &db,
        ONCE,
        "succeeded",
        "2026-11-20 08:00:03.001",
        Some("2026-11-20 08:00:03.020"),
    )
    .await;
    // Credited twice (the second flow written first: ids out of time order).
    order(&db, TWICE, 1, "50.00", 2, "2026-11-20 08:15:00.000").await;
    flow(&db, 1, TWICE, 1, "50.00", "2026-11-20 08:15:04.100").await;
    notify(
        &db,
        TWICE,
        "0001",
        "credited",
        "success",
        "50.00",
        true,
        "2026-11-20 08:15:04.000",
    )
    .await;
    notify(
        &db,
        TWICE,
        "0001",
        "credited",
        "success",
        "50.00",
        true,
        "2026-11-20 08:15:04.001",
    )
    .await;
    flow(&db, 1, TWICE, 1, "50.00", "2026-11-20 08:15:04.050").await;
    // Credited three times.
    order(&db, THRICE, 1, "100.00", 2, "2026-11-20 08:30:00.000").await;
    for ms in ["100", "101", "102"] {
        notify(
            &db,
            THRICE,
            "0001",
            "credited",
            "success",
            "100.00",
            true,
            &format!("2026-11-20 08:30:05.{ms}"),
        )
        .await;
        flow(
            &db,
            1,
            THRICE,
            1,
            "100.00",
            &format!("2026-11-20 08:30:05.{ms}"),
        )
        .await;
    }
    // Paid at the gateway, never credited: five failed deliveries.
    order(&db, PAID_NOT, 1, "300.00", 1, "2026-11-20 08:45:00.000").await;
    for s in 1..=5 {
        notify(
            &db,
            PAID_NOT,
            "0001",
            "failed",
            "fail",
            "300.00",
            true,
            &format!("2026-11-20 08:45:0{s}.000"),
        )
        .await;
    }
    // The case: the only callback has resultCode 0002, ignored, answered success.
    order(&db, DECLINED, 1, "80.00", 1, "2026-11-20 09:00:00.000").await;
    notify(
        &db,
        DECLINED,
        "0002",
        "ignored",
        "success",
        "80.00",
        true,
        "2026-11-20 09:00:04.000",
    )
    .await;
    // Awaiting the gateway: no callback at all.
    order(&db, WAITING, 1, "60.00", 1, "2026-11-20 09:15:00.000").await;
    // Order paid, no flow.
    order(&db, PAID_NO_FLOW, 1, "70.00", 2, "2026-11-20 09:30:00.000").await;
    notify(
        &db,
        PAID_NO_FLOW,
        "0001",
        "credited",
        "success",
        "70.00",
        true,
        "2026-11-20 09:30:03.000",
    )
    .await;
    // Order paid by a worker that died before its flow and its log.
    order(&db, PAID_CRASHED, 1, "65.00", 2, "2026-11-20 10:15:00.000").await;
    // Credited without an order.
    flow(&db, 1, NO_ORDER, 1, "40.00", "2026-11-20 09:45:03.000").await;
    // Credited once, refunded at the gateway (the statement says so: a finding).
    order(&db, REFUNDED, 1, "90.00", 2, "2026-11-20 10:00:00.000").await;
    notify(
        &db,
        REFUNDED,
        "0001",
        "credited",
        "success",
        "90.00",
        true,
        "2026-11-20 10:00:03.000",
    )
    .await;
    flow(&db, 1, REFUNDED, 1, "90.00", "2026-11-20 10:00:03.010").await;
    // Paid order credited once, though its only callback said 0002.
    order(
        &db,
        DECLINED_CREDITED,
        2,
        "70.00",
        2,
        "2026-11-20 10:30:00.000",
    )
    .await;
    notify(
        &db,
        DECLINED_CREDITED,
        "0002",
        "ignored",
        "success",
        "70.00",
        true,
        "2026-11-20 10:30:03.000",
    )
    .await;
    flow(
        &db,
        2,
        DECLINED_CREDITED,
        1,
        "70.00",
        "2026-11-20 10:30:03.010",
    )
    .await;
    // An order in a status payrecon does not know, credited once.
    order(&db, ODD_STATUS, 2, "30.00", 5, "2026-11-20 10:45:00.000").await;
    flow(&db, 2, ODD_STATUS, 1, "30.00", "2026-11-20 10:45:03.010").await;
    // A later flow of another kind, written before the recharges above.
    flow(&db, 1, ONCE, 1, "100.00", "2026-11-20 08:00:03.010").await;
    (t, db)
}

async fn bill_case(db: &Db, bill: &str) -> Case {
    case::lookup(db, &Query::Bill(bill.into())).await.unwrap()
}

#[tokio::test]
async fn a_case_for_every_verdict() {
    let (_t, db) = every_verdict().await;

    let c = bill_case(&db, ONCE).await;
    let b = c.bill.as_ref().unwrap();
    assert_eq!(b.verdict, Verdict::ChargedOnce, "{:?}", b.cause);
    assert_eq!(b.credits, 1);
    let kinds: Vec<EventKind> = b.timeline.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Order,
            EventKind::Callback,
            EventKind::Idempotency,
            EventKind::Flow,
            EventKind::Idempotency
        ],
        "one story in time order"
    );
    assert!(
        b.timeline[1].en.contains("result code 0001"),
        "{}",
        b.timeline[1].en
    );
    assert!(
        b.timeline[1].zh.contains("结果码 0001"),
        "{}",
        b.timeline[1].zh
    );
    assert_eq!(b.timeline[3].effect, Some(d("100.00")));
    // The bill's user comes with all their recharges (the issue saw "Recharges (0)").
    assert_eq!(c.users.len(), 1);
    assert_eq!(c.users[0].recharge_count, 10);
    assert_eq!(c.users[0].recharges.len(), 10);

    let b = bill_case(&db, TWICE).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::CreditedTwice);
    assert_eq!((b.credits, b.excess), (2, Some(d("50.00"))));
    assert!(
        b.cause
            .1
            .contains("credited 2 times: 1 × 50.00 = 50.00 too much"),
        "{}",
        b.cause.1
    );
    let times: Vec<_> = b.timeline.iter().map(|e| e.at).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "flows in time order, not id order");
    assert!(
        b.timeline
            .iter()
            .filter(|e| e.kind == EventKind::Flow)
            .nth(1)
            .unwrap()
            .flagged
    );

    let b = bill_case(&db, THRICE).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::CreditedManyTimes, "3× is not 'twice'");
    assert_eq!((b.credits, b.excess), (3, Some(d("200.00"))));
    assert!(
        b.cause
            .1
            .contains("credited 3 times: 2 × 100.00 = 200.00 too much"),
        "{}",
        b.cause.1
    );
    assert!(b.cause.0.contains("入账 3 次"), "{}", b.cause.0);

    // Credited although the gateway said the payment failed: never "all fine".
    let b = bill_case(&db, DECLINED_CREDITED).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::CreditedDespiteFailure, "{:?}", b.cause);
    assert!(b.cause.1.contains("code 0002"), "{}", b.cause.1);
    // An order with a status payrecon does not know is still an order.
    let b = bill_case(&db, ODD_STATUS).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::CreditedWithoutOrder, "{:?}", b.cause);
    assert!(b.cause.1.contains("unknown status 5"), "{}", b.cause.1);
    assert!(!b.cause.1.contains("no order"), "{}", b.cause.1);

    let b = bill_case(&db, PAID_NOT).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::PaidNotCredited);
    assert!(b.cause.1.contains("5 times"), "{}", b.cause.1);
    assert!(
        b.notes.iter().any(|n| n.1.contains("stopped retrying")),
        "{:?}",
        b.notes
    );

    let c = bill_case(&db, DECLINED).await;
    let b = c.bill.as_ref().unwrap();
    assert_eq!(
        b.verdict,
        Verdict::PaymentFailed,
        "not 'awaiting the gateway'"
    );
    assert!(
        b.cause.1.contains("failure with code 0002"),
        "{}",
        b.cause.1
    );
    assert!(b.cause.0.contains("结果码 0002"), "{}", b.cause.0);
    assert!(
        b.notes.iter().any(|n| n.1.contains("still paying")),
        "{:?}",
        b.notes
    );
    assert_eq!(b.attempts[0].result_code.as_deref(), Some("0002"));
    assert!(b.timeline.iter().any(|e| e.en.contains("result code 0002")));
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["bill"]["verdict"], "payment_failed");
    assert_eq!(json["bill"]["attempts"][0]["result_code"], "0002");

    let b = bill_case(&db, WAITING).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::AwaitingGateway);
    assert!(b.cause.1.contains("has not called back"), "{}", b.cause.1);

    let b = bill_case(&db, PAID_NO_FLOW).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::MarkedPaidNotCredited);
    assert!(b.cause.1.contains("no flow records it"), "{}", b.cause.1);

    let b = bill_case(&db, PAID_CRASHED).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::MarkedPaidNotCredited);
    assert!(b.cause.1.contains("short of 65.00"), "{}", b.cause.1);

    let b = bill_case(&db, NO_ORDER).await.bill.unwrap();
    assert_eq!(b.verdict, Verdict::CreditedWithoutOrder);
    assert_eq!(b.user_id, Some(1));

    // Refunds live in statements, not in the payment database: the verdict
    // comes from the workspace's open status_mismatch finding on the bill.
    let mut c = bill_case(&db, REFUNDED).await;
    assert_eq!(c.bill.as_ref().unwrap().verdict, Verdict::ChargedOnce);
    let ws_dir = tempfile::tempdir().unwrap();
    let ws = payrecon::workspace::Workspace::open(&ws_dir.path().join("ws.db"))
        .await
        .unwrap();
    let finding = payrecon::recon::Finding::new(payrecon::recon::Kind::StatusMismatch, REFUNDED)
        .bill(REFUNDED)
        .user(Some(1))
        .amounts(Some(d("90.00")), Some(d("0.00")))
        .explain(
            "网关已退款 90.00，我方仍记为已入账",
            "refunded at the gateway (90.00), still credited here",
        );
    let other_db = payrecon::recon::Finding::new(payrecon::recon::Kind::DuplicateCredit, REFUNDED)
        .bill(REFUNDED)
        .explain("另一个库", "another database");
    let run = |database: &str| payrecon::workspace::RunRecord {
        operator: "test".into(),
        started_at: at("2026-11-21 01:00:00"),
        finished_at: at("2026-11-21 01:00:01"),
        database: database.into(),
        period: None,
        params: serde_json::json!({}),
        status: payrecon::recon::RunStatus::Ok,
        reason: None,
        not_checked: vec![],
    };
    ws.record_run(&run("sqlite:///pay.db"), &[finding])
        .await
        .unwrap();
    ws.record_run(&run("sqlite:///other.db"), &[other_db])
        .await
        .unwrap();
    let found = ws
        .case_findings("sqlite:///pay.db", &c.bills(), &c.user_ids())
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "only this database's findings: {found:?}");
    c.attach_findings(&found);
    let b = c.bill.as_ref().unwrap();
    assert_eq!(b.verdict, Verdict::RefundedStillCredited);
    assert!(
        b.cause.1.contains("refunded at the gateway"),
        "{}",
        b.cause.1
    );
    assert_eq!(b.findings.len(), 1);

    // Nothing at all.
    let c = bill_case(&db, "CHARGE20261120235959000").await;
    assert_eq!(c.bill.unwrap().verdict, Verdict::NotFound);
}

#[tokio::test]
async fn the_report_carries_the_verdict_and_the_timeline_in_either_language() {
    let (_t, db) = every_verdict().await;
    let c = bill_case(&db, DECLINED).await;
    let en = case::report_text(&c, Lang::En);
    assert!(
        en.contains("payment failed: the gateway did not charge"),
        "{en}"
    );
    assert!(en.contains("result code 0002"), "{en}");
    let zh = case::report_text(&c, Lang::Zh);
    assert!(zh.contains("支付失败：网关未扣款"), "{zh}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("case.html");
    case::save_report_html(&p, &c, Lang::Zh, at("2026-11-21 09:00:00")).unwrap();
    let html = std::fs::read_to_string(&p).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(html.contains("支付失败：网关未扣款"));
    assert!(html.contains("结果码 0002"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
}

#[tokio::test]
async fn input_typed_any_way_is_found() {
    let (_t, db) = every_verdict().await;
    for typed in [
        "+86 138-1234-5678",
        " 138 1234 5678 ",
        "１３８１２３４５６７８",
        "0086-138-1234-5678",
    ] {
        let c = case::search(&db, typed).await.unwrap();
        assert_eq!(c.query, Query::Mobile("13812345678".into()), "{typed}");
        assert_eq!(c.users.len(), 1, "{typed}");
        assert_eq!(c.users[0].recharge_count, 10);
        assert_eq!(c.typed.as_deref(), Some(typed));
    }
    let c = case::search(&db, &TWICE.to_lowercase()).await.unwrap();
    assert_eq!(c.bill.unwrap().verdict, Verdict::CreditedTwice);
    // A prefix that only one bill has opens it.
    let c = case::search(&db, "charge202611200815").await.unwrap();
    assert_eq!(c.query, Query::Bill(TWICE.into()));
    assert_eq!(c.bill.unwrap().verdict, Verdict::CreditedTwice);
    // A prefix several bills have offers them.
    let c = case::search(&db, "CHARGE2026112008").await.unwrap();
    assert!(!c.found());
    let offered: Vec<String> = c.suggestions.iter().map(|s| s.query.value()).collect();
    assert_eq!(offered, [ONCE, TWICE, THRICE, PAID_NOT], "{offered:?}");
    // A user id.
    let c = case::search(&db, "2").await.unwrap();
    assert_eq!(c.users[0].name, "李娜");
    let c = case::search(&db, "user:2").await.unwrap();
    assert_eq!(c.users[0].name, "李娜", "a finding's key opens its account");
    // A typo in the last digit: not found, with the near bill offered.
    let c = case::search(&db, "CHARGE20261120080000119").await.unwrap();
    assert!(!c.found());
    assert!(
        c.suggestions.iter().any(|s| s.query.value() == ONCE),
        "{:?}",
        c.suggestions
    );
    // A phone number one digit off, and a phone's beginning.
    let c = case::search(&db, "13812345679").await.unwrap();
    assert!(!c.found());
    assert!(
        c.suggestions
            .iter()
            .any(|s| s.query == Query::Mobile("13812345678".into())),
        "{:?}",
        c.suggestions
    );
    let c = case::search(&db, "139 0000").await.unwrap();
    assert!(
        c.suggestions
            .iter()
            .any(|s| s.query == Query::Mobile("13900001111".into())),
        "{:?}",
        c.suggestions
    );
    // Nonsense: not found, nothing offered.
    for typed in ["zzqq", "no such person"] {
        let c = case::search(&db, typed).await.unwrap();
        assert!(!c.found(), "{typed}");
        assert!(c.suggestions.is_empty(), "{typed}: {:?}", c.suggestions);
    }
}

/// The simulator's own outcomes, read back as cases: every bill it credited
/// twice or more, every bill it declined (resultCode 0002), every clean one.
#[tokio::test]
async fn the_simulators_outcomes_read_back_as_true_verdicts() {
    use payrecon::payment::notify::HandlerKind;
    use payrecon::simulate::{self, Faults, SimConfig};
    let (_t, db) = legacy_db().await;
    let mut cfg = SimConfig::new(
        HandlerKind::Naive,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
    );
    cfg.users = 10;
    cfg.recharges = 80;
    cfg.concurrency = 3;
    cfg.other_flows = false;
    cfg.faults = Faults {
        duplicate_rate: 0.4,
        decline_rate: 0.15,
        ..Faults::none()
    };
    let report = simulate::run(&db, &cfg).await.unwrap();
    let dups = report.truth.keys("duplicate_credit");
    assert!(
        !dups.is_empty(),
        "the naive handler credited something twice"
    );
    for bill in &dups {
        let b = bill_case(&db, bill).await.bill.unwrap();
        let n = b.flows.iter().filter(|f| f.trans_type == 1).count();
        assert!(b.credits >= 2, "{bill}");
        assert_eq!(
            b.verdict,
            if b.credits == 2 {
                Verdict::CreditedTwice
            } else {
                Verdict::CreditedManyTimes
            },
            "{bill}"
        );
        if n == b.credits {
            let amount = b.order_amount.unwrap();
            assert_eq!(b.excess, Some(amount * Decimal::from(n - 1)), "{bill}");
        }
    }
    let declined: Vec<String> = texts(
        &db,
        "SELECT DISTINCT agent_bill_no FROM notify_log WHERE result_code = '0002'",
    )
    .await;
    assert!(!declined.is_empty());
    for bill in &declined {
        let b = bill_case(&db, bill).await.bill.unwrap();
        assert_eq!(b.verdict, Verdict::PaymentFailed, "{bill}: {:?}", b.cause);
        assert!(b.cause.1.contains("code 0002"), "{bill}: {}", b.cause.1);
    }
    let clean: Vec<String> = texts(
        &db,
        "SELECT agent_bill_no FROM recharge_order WHERE status = 2 ORDER BY agent_bill_no",
    )
    .await
    .into_iter()
    .filter(|b| !dups.contains(b))
    .collect();
    assert!(!clean.is_empty());
    for bill in &clean {
        let b = bill_case(&db, bill).await.bill.unwrap();
        if b.flows.len() == 1 {
            assert_eq!(b.verdict, Verdict::ChargedOnce, "{bill}: {:?}", b.cause);
        }
    }
}

/// srb's own tables only (a real dump, MariaDB): the user's recharge flows
/// are the story, each by its trans_no, with what cannot be known said.
#[tokio::test]
async fn srb_only_tables_tell_the_recharges_by_their_flows() {
    let shared = require_shared!("realworld/srb/srb-weisyw-Financial-srb_core.sql");
    let t = support::mysql_dump_db(&shared.join("realworld/srb/srb-weisyw-Financial-srb_core.sql"))
        .await;
    let db = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let c = case::search(&db, "+86 139-9999-9999").await.unwrap();
    assert_eq!(c.users.len(), 1);
    let u = &c.users[0];
    assert_eq!((u.user_id, u.name.as_str()), (7, "张三"));
    assert_eq!(u.recharge_count, 2, "not 'Recharges (0)'");
    let r = u
        .recharges
        .iter()
        .find(|r| r.agent_bill_no == "20220811111900088")
        .unwrap();
    assert_eq!(r.verdict, Verdict::CreditedOnceUnchecked);
    assert_eq!(r.credits, 1);
    assert!(
        c.unknowable
            .iter()
            .any(|(_, en)| en.contains("no notify_log table")),
        "{:?}",
        c.unknowable
    );
    // The srb trans_no (a plain number) is a bill too.
    let c = case::search(&db, "20220811111900088").await.unwrap();
    let b = c.bill.as_ref().unwrap();
    assert_eq!(b.verdict, Verdict::CreditedOnceUnchecked);
    assert_eq!(b.timeline.len(), 1);
    assert_eq!(b.timeline[0].effect, Some(d("20000.00")));
    assert!(
        b.cause.1.contains("checked against its statement"),
        "{}",
        b.cause.1
    );
    assert_eq!(c.users[0].user_id, 7);
    assert_eq!(c.users[0].difference, Some(d("0.00")));
}

/// Every lookup of a case is served by an index (SPEC §9: a case in under
/// 50 ms on 10M flows): no full scan of any table, by bill, user or phone.
#[tokio::test]
async fn every_lookup_is_served_by_an_index() {
    let t = fresh_db(Backend::Sqlite).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    let s = schema::discover(&db).await.unwrap();
    let queries = case::lookup_queries(&s);
    assert_eq!(queries.len(), 20, "every table's lookups are listed");
    for (name, sql, args) in queries {
        let plan: Vec<String> = db
            .fetch_all(&format!("EXPLAIN QUERY PLAN {sql}"), &args)
            .await
            .unwrap()
            .iter()
            .map(|r| r.text(3).unwrap())
            .collect();
        assert!(
            plan.iter().any(|l| l.starts_with("SEARCH ")),
            "{name}: {plan:?}\n{sql}"
        );
        assert!(
            !plan.iter().any(|l| l.starts_with("SCAN ")),
            "{name} scans a table: {plan:?}\n{sql}"
        );
    }
}

/// The first column of every row of `sql`, as text.
async fn texts(db: &Db, sql: &str) -> Vec<String> {
    db.fetch_all(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect()
}
