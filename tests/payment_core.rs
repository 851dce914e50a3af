//! The payment core on real SQLite, PostgreSQL and MariaDB servers started by
//! `support` (no mocks).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use payrecon::args;
use payrecon::db::{ConnectOptions, Db, schema};
use payrecon::model::{NotifyOutcome, OrderStatus};
use payrecon::money::{format_amount, from_cents};
use payrecon::payment::{self, HandlerKind, NotifyFault, charge};
use payrecon::simulate::{self, Faults, SimConfig};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use support::{ALL, Backend, fresh_db};

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

async fn connect(url: &str) -> Db {
    let mut o = ConnectOptions::read_write();
    o.max_connections = 24;
    o.acquire_timeout = std::time::Duration::from_secs(120);
    Db::connect(url, &o).await.unwrap()
}

/// A database with the contract tables; `legacy` leaves out `uk_trans_no`.
async fn payment_db(backend: Backend, legacy: bool) -> (support::TestDb, Db) {
    let t = fresh_db(backend).await;
    let db = connect(&t.url).await;
    if legacy {
        schema::create_legacy_trans_flow(&db).await.unwrap();
    }
    payrecon::db::migrate(&db).await.unwrap();
    (t, db)
}

/// Every account's stored balance against the sum of its flows (SPEC §2),
/// computed here from raw rows, independently of the engine.
async fn balances_consistent(db: &Db) -> Vec<(i64, Decimal, Decimal)> {
    let mut expected: BTreeMap<i64, (Decimal, Decimal)> = BTreeMap::new();
    for r in db
        .fetch_all(
            "SELECT user_id, trans_type, trans_amount FROM trans_flow WHERE is_deleted = 0",
            &[],
        )
        .await
        .unwrap()
    {
        let t = payrecon::model::TransType::from_code(r.i64(1).unwrap()).unwrap();
        let e = t.effect(r.money(2).unwrap());
        let x = expected.entry(r.i64(0).unwrap()).or_default();
        x.0 += e.amount;
        x.1 += e.freeze;
    }
    let mut bad = Vec::new();
    for r in db
        .fetch_all(
            "SELECT user_id, amount, freeze_amount FROM user_account",
            &[],
        )
        .await
        .unwrap()
    {
        let uid = r.i64(0).unwrap();
        let (ea, ef) = expected.get(&uid).copied().unwrap_or_default();
        let (a, f) = (r.money(1).unwrap(), r.money(2).unwrap());
        if a != ea || f != ef {
            bad.push((uid, a, ea));
        }
    }
    bad
}

fn load_config(handler: HandlerKind) -> SimConfig {
    let mut cfg = SimConfig::new(handler, day());
    cfg.users = 100;
    cfg.recharges = 1_000;
    cfg.concurrency = 64;
    cfg.workers = 8;
    cfg.faults = Faults {
        duplicate_rate: 1.0,
        ..Faults::none()
    };
    cfg.other_flows = false;
    cfg
}

async fn flows_per_bill(db: &Db) -> BTreeMap<String, i64> {
    db.fetch_all(
        "SELECT o.agent_bill_no, COUNT(f.id) FROM recharge_order o \
         LEFT JOIN trans_flow f ON f.trans_no = o.agent_bill_no GROUP BY o.agent_bill_no",
        &[],
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.text(0).unwrap(), r.i64(1).unwrap()))
    .collect()
}

async fn count(db: &Db, sql: &str) -> i64 {
    db.fetch_optional(sql, &[])
        .await
        .unwrap()
        .unwrap()
        .i64(0)
        .unwrap()
}

async fn locked_credits_exactly_once(backend: Backend) {
    let (_t, db) = payment_db(backend, false).await;
    let report = simulate::run(&db, &load_config(HandlerKind::Locked))
        .await
        .unwrap();
    let flows = flows_per_bill(&db).await;
    assert_eq!(flows.len(), 1_000, "{backend:?}: one order per bill");
    let wrong: Vec<_> = flows.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "{backend:?}: bills not credited exactly once: {wrong:?}"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM notify_log").await,
        64_000,
        "{backend:?}: one notify_log row per delivery"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM notify_log WHERE outcome = 'credited'"
        )
        .await,
        1_000
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM recharge_order WHERE status = 2").await,
        1_000,
        "{backend:?}: every order paid"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM idempotency_record WHERE source = 'hfb-notify' AND status = 'succeeded'").await,
        1_000
    );
    assert_eq!(
        balances_consistent(&db).await,
        vec![],
        "{backend:?}: balances"
    );
    assert!(report.truth.keys("duplicate_credit").is_empty());
    assert_eq!(report.truth.keys("duplicate_notify").len(), 1_000);
}

async fn naive_double_credits_without_unique_index(backend: Backend) {
    let (_t, db) = payment_db(backend, true).await;
    let s = schema::discover(&db).await.unwrap();
    assert!(
        !s.trans_no_unique,
        "{backend:?}: legacy layout has no uk_trans_no"
    );
    let report = simulate::run(&db, &load_config(HandlerKind::Naive))
        .await
        .unwrap();
    let flows = flows_per_bill(&db).await;
    let doubled = flows.values().filter(|n| **n > 1).count();
    assert!(
        doubled > 0,
        "{backend:?}: the race must be real: no bill was credited twice"
    );
    assert_eq!(report.truth.keys("duplicate_credit").len(), doubled);
    let total: i64 = flows.values().sum();
    assert!(total > 1_000, "{backend:?}: {total} flows for 1000 bills");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn locked_64_concurrent_deliveries_sqlite() {
    locked_credits_exactly_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn locked_64_concurrent_deliveries_postgres() {
    locked_credits_exactly_once(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn locked_64_concurrent_deliveries_mariadb() {
    locked_credits_exactly_once(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn naive_double_credits_sqlite() {
    naive_double_credits_without_unique_index(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn naive_double_credits_postgres() {
    naive_double_credits_without_unique_index(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn naive_double_credits_mariadb() {
    naive_double_credits_without_unique_index(Backend::MySql).await;
}

/// One user and one paying order, for handler-level tests.
async fn one_order(db: &Db) -> (payment::UserRef, charge::ChargeForm) {
    let at = day().and_hms_opt(10, 0, 0).unwrap();
    let u = payment::create_user(db, "13800000000", "王小红", "bind-001", 1, at)
        .await
        .unwrap();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
    let form = payment::commit_charge(db, &u, from_cents(10_000), at, &mut rng)
        .await
        .unwrap();
    (u, form)
}

#[tokio::test]
async fn locked_replay_conflict_bad_sign_and_decline_on_every_backend() {
    for backend in ALL {
        let (_t, db) = payment_db(backend, false).await;
        let (u, form) = one_order(&db).await;
        assert_eq!(
            form.agent_bill_no.len(),
            23,
            "CHARGE + 14 digits + 3 digits"
        );
        let at = day().and_hms_opt(10, 0, 5).unwrap();
        let p = payment::notify_params(&form.agent_bill_no, &u.bind_code, from_cents(10_000), 1);
        let h = |p| {
            let db = db.clone();
            async move {
                payment::handle_notify(&db, HandlerKind::Locked, &p, at, NotifyFault::None).await
            }
        };
        let first = h(p.clone()).await;
        assert_eq!(first.outcome, Some(NotifyOutcome::Credited), "{backend:?}");
        assert_eq!(first.body.as_deref(), Some("success"));
        // A replay with another timestamp (and so another sign) is the same request.
        let mut replay =
            payment::notify_params(&form.agent_bill_no, &u.bind_code, from_cents(10_000), 2);
        replay.insert("timestamp".into(), "2".into());
        let second = h(replay).await;
        assert_eq!(
            second.outcome,
            Some(NotifyOutcome::Idempotent),
            "{backend:?}"
        );
        assert_eq!(second.body.as_deref(), Some("success"));
        // Same bill, other amount: refused and logged as a conflict.
        let other =
            payment::notify_params(&form.agent_bill_no, &u.bind_code, from_cents(20_000), 3);
        let third = h(other).await;
        assert_eq!(
            third.outcome,
            Some(NotifyOutcome::RejectedConflict),
            "{backend:?}"
        );
        assert_eq!(third.body.as_deref(), Some("fail"));
        // Same bill, other bindCode: refused too.
        let other = payment::notify_params(&form.agent_bill_no, "bind-999", from_cents(10_000), 4);
        assert_eq!(
            h(other).await.outcome,
            Some(NotifyOutcome::RejectedConflict)
        );
        // A wrong sign never credits.
        let mut forged = p.clone();
        forged.insert("sign".into(), "0".repeat(32));
        let fourth = h(forged).await;
        assert_eq!(fourth.outcome, Some(NotifyOutcome::RejectedSign));
        assert_eq!(fourth.body.as_deref(), Some("fail"));

        let (a, _) = payrecon::payment::ledger::read_account(
            &mut payrecon::db::Session::autocommit(&db),
            u.id,
        )
        .await
        .unwrap();
        assert_eq!(
            format_amount(a),
            "100.00",
            "{backend:?}: credited exactly once"
        );
        let outcomes: Vec<String> = db
            .fetch_all("SELECT outcome FROM notify_log ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.text(0).unwrap())
            .collect();
        assert_eq!(
            outcomes,
            [
                "credited",
                "idempotent",
                "rejected_conflict",
                "rejected_conflict",
                "rejected_sign"
            ],
            "{backend:?}: one log row per attempt"
        );
        // The rejected conflicts kept the stored request hash of the first delivery.
        let stored = db
            .fetch_optional(
                "SELECT request_hash FROM idempotency_record WHERE source = 'hfb-notify' AND seq = ?",
                &args![form.agent_bill_no.clone()],
            )
            .await
            .unwrap()
            .unwrap()
            .text(0)
            .unwrap();
        assert_eq!(stored.trim(), payment::request_hash(&p));

        // A declined charge: ignored, answered success, order failed.
        let (u2, form2) = {
            let at = day().and_hms_opt(11, 0, 0).unwrap();
            let u2 = payment::create_user(&db, "13900000000", "李伟", "bind-002", 1, at)
                .await
                .unwrap();
            let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(2);
            let f = payment::commit_charge(&db, &u2, from_cents(500), at, &mut rng)
                .await
                .unwrap();
            (u2, f)
        };
        let mut declined =
            payment::notify_params(&form2.agent_bill_no, &u2.bind_code, from_cents(500), 5);
        declined.insert("resultCode".into(), "0002".into());
        let s = payment::get_sign(&declined);
        declined.insert("sign".into(), s);
        let d = h(declined).await;
        assert_eq!(d.outcome, Some(NotifyOutcome::Ignored));
        assert_eq!(d.body.as_deref(), Some("success"));
        let st = db
            .fetch_optional(
                "SELECT status FROM recharge_order WHERE agent_bill_no = ?",
                &args![form2.agent_bill_no.clone()],
            )
            .await
            .unwrap()
            .unwrap()
            .i64(0)
            .unwrap();
        assert_eq!(st, OrderStatus::Failed.code(), "{backend:?}");
    }
}

#[tokio::test]
async fn a_rolled_back_credit_still_leaves_its_log_row() {
    for backend in ALL {
        let (_t, db) = payment_db(backend, false).await;
        let (u, form) = one_order(&db).await;
        let at = day().and_hms_opt(10, 0, 5).unwrap();
        let p = payment::notify_params(&form.agent_bill_no, &u.bind_code, from_cents(10_000), 1);
        let h = payment::handle_notify(
            &db,
            HandlerKind::Locked,
            &p,
            at,
            NotifyFault::ErrorBeforeCommit,
        )
        .await;
        assert_eq!(h.outcome, Some(NotifyOutcome::Failed));
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM trans_flow").await,
            0,
            "{backend:?}: rolled back"
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM idempotency_record").await,
            0,
            "{backend:?}: claim rolled back"
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM notify_log WHERE outcome = 'failed'"
            )
            .await,
            1,
            "{backend:?}"
        );
        assert_eq!(
            count(&db, "SELECT status FROM recharge_order").await,
            OrderStatus::Paying.code()
        );
        // The gateway's retry then credits.
        let h = payment::handle_notify(&db, HandlerKind::Locked, &p, at, NotifyFault::None).await;
        assert_eq!(h.outcome, Some(NotifyOutcome::Credited), "{backend:?}");
        assert_eq!(balances_consistent(&db).await, vec![]);
    }
}

#[tokio::test]
async fn order_state_machine_and_optimistic_version() {
    for backend in ALL {
        let (_t, db) = payment_db(backend, false).await;
        let (_u, form) = one_order(&db).await;
        let at = day().and_hms_opt(12, 0, 0).unwrap();
        // commitCharge left it paying with version 1 (0→1).
        let illegal = charge::move_order(
            &db,
            form.order_id,
            OrderStatus::Paying,
            OrderStatus::Submitted,
            1,
            at,
        )
        .await;
        assert!(
            matches!(illegal, Err(charge::MoveError::Illegal(_))),
            "{backend:?}: 1→0 refused"
        );
        let stale = charge::move_order(
            &db,
            form.order_id,
            OrderStatus::Paying,
            OrderStatus::Paid,
            0,
            at,
        )
        .await;
        assert!(
            matches!(stale, Err(charge::MoveError::Stale(_))),
            "{backend:?}: old version refused"
        );
        charge::move_order(
            &db,
            form.order_id,
            OrderStatus::Paying,
            OrderStatus::Paid,
            1,
            at,
        )
        .await
        .unwrap();
        let again = charge::move_order(
            &db,
            form.order_id,
            OrderStatus::Paying,
            OrderStatus::Paid,
            2,
            at,
        )
        .await;
        assert!(
            matches!(again, Err(charge::MoveError::Stale(_))),
            "{backend:?}: already paid"
        );
        for (from, to) in [
            (OrderStatus::Paid, OrderStatus::Paying),
            (OrderStatus::Paid, OrderStatus::Failed),
            (OrderStatus::Failed, OrderStatus::Paid),
            (OrderStatus::Submitted, OrderStatus::Paid),
        ] {
            let r = charge::move_order(&db, form.order_id, from, to, 2, at).await;
            assert!(
                matches!(r, Err(charge::MoveError::Illegal(_))),
                "{from:?}→{to:?}"
            );
        }
        assert_eq!(count(&db, "SELECT version FROM recharge_order").await, 2);
    }
}

#[tokio::test]
async fn schema_discovery_sees_the_legacy_layout() {
    for backend in ALL {
        let (_t, db) = payment_db(backend, true).await;
        let s = schema::discover(&db).await.unwrap();
        assert!(!s.trans_no_unique, "{backend:?}");
        assert!(
            s.missing_tables().is_empty(),
            "{backend:?}: {:?}",
            s.missing_tables()
        );
        let (_t2, db2) = payment_db(backend, false).await;
        assert!(
            schema::discover(&db2).await.unwrap().trans_no_unique,
            "{backend:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_works_on_an_unmodified_srb_dump() {
    let Some(t) = support::srb_dump_db().await else {
        return;
    };
    let db = connect(&t.url).await;
    let before = schema::discover(&db).await.unwrap();
    assert!(before.has_srb_tables() && before.trans_no_unique);
    assert_eq!(
        before.missing_tables(),
        ["recharge_order", "notify_log", "idempotency_record"]
    );
    let mut cfg = SimConfig::new(HandlerKind::CheckThenAct, day());
    cfg.users = 20;
    cfg.recharges = 100;
    cfg.faults.duplicate_rate = 0.3;
    let r = simulate::run(&db, &cfg).await.unwrap();
    assert_eq!(
        r.truth.created_tables,
        ["recharge_order", "notify_log", "idempotency_record"]
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM user_info").await, 20);
    // srb's unique index turns the check-then-act race into a failed, retried attempt.
    let flows = flows_per_bill(&db).await;
    assert!(
        flows.values().all(|n| *n <= 1),
        "uk_trans_no must prevent double credits"
    );
    assert_eq!(balances_consistent(&db).await, vec![]);
}

#[tokio::test]
async fn the_plan_is_reproducible() {
    let mut bills = Vec::new();
    for _ in 0..2 {
        let (_t, db) = payment_db(Backend::Sqlite, false).await;
        let mut cfg = SimConfig::new(HandlerKind::Locked, day());
        cfg.recharges = 50;
        cfg.users = 5;
        let r = simulate::run(&db, &cfg).await.unwrap();
        let rows: Vec<(String, String)> = db
            .fetch_all(
                "SELECT agent_bill_no, charge_amt FROM recharge_order ORDER BY agent_bill_no",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.text(0).unwrap(), format_amount(r.money(1).unwrap())))
            .collect();
        bills.push((rows, r.statement));
    }
    assert_eq!(bills[0], bills[1]);
}

#[tokio::test]
async fn sqlite_amounts_stored_as_integer_real_or_text_are_read_exactly() {
    let t = fresh_db(Backend::Sqlite).await;
    let db = connect(&t.url).await;
    db.execute("CREATE TABLE m (v)", &[]).await.unwrap();
    db.execute(
        "INSERT INTO m VALUES ('100.50'), (7), (0.1), (0.30000000000000004)",
        &[],
    )
    .await
    .unwrap();
    let rows = db
        .fetch_all("SELECT v FROM m ORDER BY rowid", &[])
        .await
        .unwrap();
    assert_eq!(format_amount(rows[0].money(0).unwrap()), "100.50");
    assert_eq!(format_amount(rows[1].money(0).unwrap()), "7.00");
    assert_eq!(format_amount(rows[2].money(0).unwrap()), "0.10");
    let e = rows[3].money(0).unwrap_err();
    assert!(e.to_string().contains("not exactly representable"), "{e}");
}
