//! Reconciliation against the simulator's truth, on real SQLite, PostgreSQL
//! and MariaDB: every break the run produced is found, and nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use payrecon::db::{ConnectOptions, Db, schema};
use payrecon::payment::HandlerKind;
use payrecon::recon::{self, Kind, Period, RunOptions, RunStatus, StatementInput};
use payrecon::simulate::{self, Faults, SimConfig};
use payrecon::statement::Format;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use support::{ALL, Backend, fresh_db};

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn faults(handler: HandlerKind) -> Faults {
    Faults {
        duplicate_rate: 0.15,
        lost_response_rate: 0.08,
        timeout_rate: 0.04,
        error_rate: 0.03,
        crash_rate: if handler == HandlerKind::Naive {
            0.02
        } else {
            0.05
        },
        exhaust_rate: 0.04,
        abandon_rate: 0.04,
        decline_rate: 0.03,
        conflict_rate: 0.04,
        stray_rate: 0.3,
        refund_rate: 0.03,
        amount_drift_rate: 0.03,
        statement_duplicate_rate: 0.03,
    }
}

async fn writer(url: &str) -> Db {
    let mut o = ConnectOptions::read_write();
    o.max_connections = 16;
    o.acquire_timeout = std::time::Duration::from_secs(120);
    Db::connect(url, &o).await.unwrap()
}

/// Simulates a faulty day, reconciles it, and compares finding keys with the truth, kind by kind.
async fn oracle(backend: Backend, handler: HandlerKind, legacy: bool, seed: u64) {
    let t = fresh_db(backend).await;
    let w = writer(&t.url).await;
    if legacy {
        schema::create_legacy_trans_flow(&w).await.unwrap();
    }
    payrecon::db::migrate(&w).await.unwrap();
    let mut cfg = SimConfig::new(handler, day());
    cfg.users = 30;
    cfg.recharges = 300;
    cfg.concurrency = 4;
    cfg.seed = seed;
    cfg.faults = faults(handler);
    let report = simulate::run(&w, &cfg).await.unwrap();
    w.close().await;
    let dir = tempfile::tempdir().unwrap();
    let stmt = dir.path().join("hfb.csv");
    simulate::write_statement(&stmt, &report.statement).unwrap();

    let db = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let opts = RunOptions::new(
        Some(Period {
            from: day() - chrono::Duration::days(1),
            to: day(),
        }),
        vec![StatementInput {
            path: stmt,
            format: Format::Hfb,
        }],
        db.now(),
    );
    let out = recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await;
    assert_eq!(out.status, RunStatus::Ok, "{:?}", out.error);

    let mut found: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in &out.findings {
        found
            .entry(f.kind.as_str())
            .or_default()
            .insert(f.key.clone());
    }
    let mut problems = Vec::new();
    for kind in Kind::ALL {
        if *kind == Kind::StatementTotalMismatch {
            continue;
        }
        let want: BTreeSet<String> = report.truth.keys(kind.as_str()).into_iter().collect();
        let got = found.remove(kind.as_str()).unwrap_or_default();
        if want != got {
            problems.push(format!(
                "{}: missed {:?}, invented {:?}",
                kind.as_str(),
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{backend:?} {handler:?} legacy={legacy}:\n{}\ntruth counts: {:?}",
        problems.join("\n"),
        report
            .truth
            .anomalies
            .iter()
            .map(|(k, v)| (*k, v.len()))
            .collect::<Vec<_>>()
    );
    eprintln!("{backend:?} {handler:?}: {:?}", out.by_kind);
    // The run produced real breaks of many kinds, so the comparison meant something.
    assert!(
        out.by_kind.len() >= 8,
        "{backend:?} {handler:?}: {:?}",
        out.by_kind
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn locked_day_matches_truth_on_every_backend() {
    for backend in ALL {
        oracle(backend, HandlerKind::Locked, false, 11).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn naive_legacy_day_matches_truth_on_every_backend() {
    for backend in ALL {
        oracle(backend, HandlerKind::Naive, true, 12).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_then_act_day_matches_truth_on_every_backend() {
    for backend in ALL {
        oracle(backend, HandlerKind::CheckThenAct, true, 13).await;
    }
}

#[tokio::test]
async fn read_only_connections_are_refused_writes_by_the_database() {
    for backend in ALL {
        let t = fresh_db(backend).await;
        let w = writer(&t.url).await;
        payrecon::db::migrate(&w).await.unwrap();
        w.close().await;
        let db = Db::connect(&t.url, &ConnectOptions::read_only())
            .await
            .unwrap();
        for sql in [
            "INSERT INTO user_info (mobile) VALUES ('13800000000')",
            "UPDATE user_account SET amount = amount",
            "DELETE FROM trans_flow",
            "CREATE TABLE sneaky (id INTEGER)",
        ] {
            let e = db
                .execute(sql, &[])
                .await
                .expect_err(sql)
                .to_string()
                .to_lowercase();
            assert!(
                e.contains("read-only") || e.contains("readonly") || e.contains("read only"),
                "{backend:?}: {sql}: {e}"
            );
        }
        // Every pooled connection, not just the first.
        let mut handles = Vec::new();
        for _ in 0..8 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                db.execute("INSERT INTO notify_log (agent_bill_no, sign_ok, outcome, received_at) VALUES ('x', 1, 'credited', '2026-11-20 00:00:00')", &[])
                    .await
                    .is_err()
            }));
        }
        for h in handles {
            assert!(
                h.await.unwrap(),
                "{backend:?}: a pooled connection accepted a write"
            );
        }
    }
}

/// An unmodified srb database (the real MySQL dump) with rows added by hand:
/// the checks that need tables srb lacks are reported as skipped, with the
/// reason, and the others still find what is wrong.
#[tokio::test]
async fn unmodified_srb_dump_reconciles_with_skipped_checks() {
    use sqlx::Executor as _;
    let Some(t) = support::srb_dump_db().await else {
        return;
    };
    let pool = sqlx::MySqlPool::connect(&t.url).await.unwrap();
    pool.execute(
        "INSERT INTO user_info (id, mobile, name, bind_code, bind_status) VALUES (1, '13800000001', '王伟', 'b1', 1), (2, '13800000002', '李娜', 'b2', 1);
         INSERT INTO user_account (user_id, amount, freeze_amount) VALUES (1, 100.00, 0.00), (2, 250.00, 50.00);
         INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount) VALUES
           (1, '王伟', 'CHARGE20261120100000001', 1, '充值', 100.00),
           (2, '李娜', 'CHARGE20261120100000002', 1, '充值', 300.00),
           (2, '李娜', 'INVEST20261120100000003', 2, '投标锁定', 50.00);",
    )
    .await
    .unwrap();
    pool.close().await;
    let db = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let opts = RunOptions::new(None, Vec::new(), db.now());
    let out = recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await;
    assert_eq!(out.status, RunStatus::Ok, "{:?}", out.error);
    let skipped: Vec<&str> = out
        .skipped
        .iter()
        .flat_map(|s| s.kinds.iter().copied())
        .collect();
    for k in [
        "duplicate_notify",
        "notify_exhausted",
        "order_paid_without_flow",
        "idempotency_stuck",
    ] {
        assert!(skipped.contains(&k), "{k} should be skipped: {skipped:?}");
    }
    let reasons: Vec<&str> = out.skipped.iter().map(|s| s.reason_en.as_str()).collect();
    for want in [
        "table notify_log is missing",
        "tables notify_log, recharge_order are missing",
        "table idempotency_record is missing",
    ] {
        assert!(reasons.contains(&want), "{want}: {reasons:?}");
    }
    let keys: BTreeSet<(String, String)> = out
        .findings
        .iter()
        .map(|f| (f.kind.as_str().to_owned(), f.key.clone()))
        .collect();
    // User 2: 300 recharged − 50 locked = 250 available (right), 50 frozen (right) → no mismatch.
    // User 1: fine. Nothing else is wrong except the missing tables.
    let expected: BTreeSet<(String, String)> =
        ["recharge_order", "notify_log", "idempotency_record"]
            .iter()
            .map(|t| ("schema_risk".to_owned(), (*t).to_owned()))
            .collect();
    assert_eq!(keys, expected);
    // Now break a balance the way a manual fix would, and reconcile again.
    let pool = sqlx::MySqlPool::connect(&t.url).await.unwrap();
    pool.execute("UPDATE user_account SET amount = 350.00 WHERE user_id = 2")
        .await
        .unwrap();
    pool.close().await;
    let out = recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await;
    let f = out
        .findings
        .iter()
        .find(|f| f.kind == Kind::BalanceMismatch)
        .expect("balance_mismatch");
    assert_eq!(f.key, "user:2");
    assert_eq!(
        f.difference.map(payrecon::money::format_amount).as_deref(),
        Some("100.00")
    );
    assert!(
        f.detail_en.contains("more than its flows explain"),
        "{}",
        f.detail_en
    );
}

/// Items credited just before midnight are pending against today's file and
/// clear when tomorrow's file is given too.
#[tokio::test]
async fn pending_cross_day_items_clear_with_the_next_days_file() {
    let t = fresh_db(Backend::Sqlite).await;
    let w = writer(&t.url).await;
    payrecon::db::migrate(&w).await.unwrap();
    let mut cfg = SimConfig::new(HandlerKind::Locked, day());
    cfg.recharges = 60;
    cfg.users = 5;
    cfg.faults = Faults::none();
    let report = simulate::run(&w, &cfg).await.unwrap();
    w.close().await;
    assert!(!report.truth.keys("pending_cross_day").is_empty());
    let dir = tempfile::tempdir().unwrap();
    let today = dir.path().join("today.csv");
    let tomorrow = dir.path().join("tomorrow.csv");
    simulate::write_statement(&today, &report.statement).unwrap();
    // Tomorrow's bill: the tail of today after the gateway's cutoff, and
    // tomorrow's own payments, which are no business of today's run.
    let mut next = report.next_day_statement.clone();
    let next_day = day().succ_opt().unwrap();
    for i in 0..5 {
        next.push(payrecon::statement::hfb::Line {
            agent_bill_no: format!("CHARGE{}1000000{i:02}", next_day.format("%Y%m%d")),
            bind_code: "BIND-NEXT".into(),
            charge_amt: rust_decimal::Decimal::new(10_000 + i, 2),
            fee_amt: rust_decimal::Decimal::ZERO,
            status: payrecon::statement::hfb::GatewayStatus::Success,
            paid_at: next_day.and_hms_opt(10, 0, i as u32).unwrap(),
        });
    }
    simulate::write_statement(&tomorrow, &next).unwrap();
    let db = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let run = |files: Vec<PathBuf>| {
        let db = db.clone();
        async move {
            let opts = RunOptions::new(
                Some(Period::day(day())),
                files
                    .into_iter()
                    .map(|path| StatementInput {
                        path,
                        format: Format::Hfb,
                    })
                    .collect(),
                db.now(),
            );
            recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await
        }
    };
    let only_today = run(vec![today.clone()]).await;
    let pending: BTreeSet<String> = only_today
        .findings
        .iter()
        .filter(|f| f.kind == Kind::PendingCrossDay)
        .map(|f| f.key.clone())
        .collect();
    assert_eq!(
        pending,
        report.truth.keys("pending_cross_day").into_iter().collect()
    );
    let both = run(vec![today, tomorrow]).await;
    assert_eq!(both.status, RunStatus::Ok, "{:?}", both.error);
    let left: Vec<_> = both
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                Kind::PendingCrossDay | Kind::MissingExternal | Kind::MissingInternal
            )
        })
        .map(|f| (f.kind, f.key.clone()))
        .collect();
    assert!(
        left.is_empty(),
        "with tomorrow's file nothing stays pending, and tomorrow's own payments are not today's breaks: {left:?}"
    );
    assert_eq!(
        both.findings.len() + pending.len(),
        only_today.findings.len(),
        "tomorrow's file only clears the pending items"
    );
    assert_eq!(both.files[1].role, recon::FileRole::Neighbour);
    assert_eq!(both.files[1].business_period, Some((next_day, next_day)));
    assert_eq!(both.unverified.as_ref().unwrap().flows, 0);
    assert_eq!(both.cleared_by_neighbour as usize, pending.len());
}

/// A statement that shares no bill with a day of 1,000 recharge flows (another
/// merchant's file): it is refused, saying so, and the day's flows are
/// unverified — not 2,000 breaks; one shared bill makes it an ordinary run
/// again. Every backend (the SQLite and PostgreSQL shared scans, MariaDB's
/// server checks).
#[tokio::test]
async fn a_statement_sharing_no_bill_with_a_busy_day_is_refused() {
    for backend in ALL {
        let t = fresh_db(backend).await;
        let w = writer(&t.url).await;
        payrecon::db::migrate(&w).await.unwrap();
        let rows: Vec<String> = (0..1000)
            .map(|i| {
                format!(
                    "(1, 'u', 'BILL{i:04}', 1, '充值', '1.00', NULL, '2026-11-20 10:00:00', '2026-11-20 10:00:00', 0)"
                )
            })
            .collect();
        w.execute(
            &format!(
                "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, \
                 trans_amount, memo, create_time, update_time, is_deleted) VALUES {}",
                rows.join(", ")
            ),
            &[],
        )
        .await
        .unwrap();
        w.close().await;
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.csv");
        let mut text = String::from("agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\n");
        for i in 0..1000 {
            text.push_str(&format!(
                "OTHER{i:04},b,1.00,0.00,SUCCESS,2026-11-20 10:00:01\n"
            ));
        }
        std::fs::write(&other, &text).unwrap();
        let one_shared = dir.path().join("one-shared.csv");
        text.push_str("BILL0007,b,1.00,0.00,SUCCESS,2026-11-20 10:00:01\n");
        std::fs::write(&one_shared, &text).unwrap();
        let db = Db::connect(&t.url, &ConnectOptions::read_only())
            .await
            .unwrap();
        let run = |path: &PathBuf| {
            let files = vec![StatementInput {
                path: path.clone(),
                format: Format::Hfb,
            }];
            RunOptions::new(Some(Period::day(day())), files, db.now())
        };
        let out =
            recon::reconcile(&db, &run(&other), &AtomicBool::new(false), &mut |_, _| {}).await;
        assert_eq!(out.status, RunStatus::Ok, "{backend:?}: {:?}", out.error);
        let kinds = |k: Kind| out.findings.iter().filter(|f| f.kind == k).count();
        assert_eq!(kinds(Kind::MissingInternal), 0, "{backend:?}");
        assert_eq!(kinds(Kind::MissingExternal), 0, "{backend:?}");
        let refused: Vec<&recon::Finding> = out
            .findings
            .iter()
            .filter(|f| f.kind == Kind::StatementRefused)
            .collect();
        assert_eq!(refused.len(), 1, "{backend:?}");
        assert_eq!(refused[0].key, "other.csv");
        assert!(
            refused[0]
                .detail_en
                .contains("share no order number with the period's 1000 recharge flows"),
            "{backend:?}: {}",
            refused[0].detail_en
        );
        assert_eq!(out.files[0].role, recon::FileRole::Refused, "{backend:?}");
        let u = out.unverified.clone().unwrap();
        assert_eq!(
            (u.flows, u.amount.as_str()),
            (1000, "1000.00"),
            "{backend:?}"
        );
        assert_eq!(kinds(Kind::FlowsUnverified), 1, "{backend:?}");
        let out = recon::reconcile(
            &db,
            &run(&one_shared),
            &AtomicBool::new(false),
            &mut |_, _| {},
        )
        .await;
        assert_eq!(out.status, RunStatus::Ok, "{backend:?}: {:?}", out.error);
        assert_eq!(out.matching, Some((1001, 1000, 1)), "{backend:?}");
        let kinds = |k: Kind| out.findings.iter().filter(|f| f.kind == k).count();
        assert_eq!(kinds(Kind::MissingInternal), 1000, "{backend:?}");
        assert_eq!(kinds(Kind::MissingExternal), 999, "{backend:?}");
        db.close().await;
    }
}

/// A bill cut short, another day's bill and another merchant's bill for the
/// day: on every backend none of them adds a single `missing_*` finding; each
/// is refused with its reason, and the day's flows are counted unverified.
#[tokio::test]
async fn refused_bills_add_no_missing_findings_on_every_backend() {
    for backend in ALL {
        let t = fresh_db(backend).await;
        let w = writer(&t.url).await;
        payrecon::db::migrate(&w).await.unwrap();
        let mut cfg = SimConfig::new(HandlerKind::Locked, day());
        cfg.recharges = 60;
        cfg.users = 8;
        cfg.faults = Faults::none();
        let report = simulate::run(&w, &cfg).await.unwrap();
        w.close().await;
        let lines = report.statement.clone();
        assert!(lines.len() > 20);
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("wechat-cut.csv");
        payrecon::statement::wechat::write_file(&cut, &lines, Some(lines.len() - 7)).unwrap();
        let shift = |days: i64, prefix: &str| -> Vec<payrecon::statement::hfb::Line> {
            lines
                .iter()
                .map(|l| {
                    let mut l = l.clone();
                    l.paid_at += chrono::Duration::days(days);
                    l.agent_bill_no = format!("{prefix}{}", l.agent_bill_no);
                    l
                })
                .collect()
        };
        let old = dir.path().join("hfb-old.csv");
        simulate::write_statement(&old, &shift(-12, "")).unwrap();
        let other = dir.path().join("hfb-other-merchant.csv");
        simulate::write_statement(&other, &shift(0, "M2-")).unwrap();
        let db = Db::connect(&t.url, &ConnectOptions::read_only())
            .await
            .unwrap();
        for (path, format, kind, reason) in [
            (
                &cut,
                Format::Wechat,
                Kind::StatementTotalMismatch,
                "footer says",
            ),
            (
                &old,
                Format::Hfb,
                Kind::StatementRefused,
                "wrong file or wrong day",
            ),
            (
                &other,
                Format::Hfb,
                Kind::StatementRefused,
                "share no order number",
            ),
        ] {
            let opts = RunOptions::new(
                Some(Period::day(day())),
                vec![StatementInput {
                    path: path.clone(),
                    format,
                }],
                db.now(),
            );
            let out = recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await;
            let what = format!("{backend:?} {}", path.display());
            assert_eq!(out.status, RunStatus::Ok, "{what}: {:?}", out.error);
            let n = |k: Kind| out.findings.iter().filter(|f| f.kind == k).count();
            for k in [
                Kind::MissingInternal,
                Kind::MissingExternal,
                Kind::PendingCrossDay,
                Kind::AmountMismatch,
                Kind::StatusMismatch,
            ] {
                assert_eq!(n(k), 0, "{what}: {k:?} {:?}", out.by_kind);
            }
            assert_eq!(n(kind), 1, "{what}");
            let f = out.findings.iter().find(|f| f.kind == kind).unwrap();
            assert!(f.detail_en.contains(reason), "{what}: {}", f.detail_en);
            assert_eq!(out.files[0].role, recon::FileRole::Refused, "{what}");
            let (_, flows, _) = out.matching.unwrap();
            assert!(flows > 20, "{what}");
            let u = out.unverified.clone().unwrap();
            assert_eq!(
                u.flows, flows,
                "{what}: every flow of the day is unverified"
            );
            assert_eq!(n(Kind::FlowsUnverified), 1, "{what}");
            let uf = out
                .findings
                .iter()
                .find(|f| f.kind == Kind::FlowsUnverified)
                .unwrap();
            assert_eq!(
                uf.amount_internal.map(payrecon::money::format_amount),
                Some(u.amount.clone()),
                "{what}"
            );
        }
        db.close().await;
    }
}

/// Two days in the ledger, the bill of only the second: reconciling both
/// days checks the second exactly as alone, and the first day's flows are
/// unverified — none missing — on every backend (the per-flow day test of a
/// partly covered period).
#[tokio::test]
async fn a_day_without_its_bill_is_unverified_in_a_range() {
    for backend in ALL {
        let t = fresh_db(backend).await;
        let w = writer(&t.url).await;
        payrecon::db::migrate(&w).await.unwrap();
        let first = day().pred_opt().unwrap();
        let mut reports = Vec::new();
        for (d, seed) in [(first, 11), (day(), 12)] {
            let mut cfg = SimConfig::new(HandlerKind::Locked, d);
            cfg.recharges = 40;
            cfg.users = 6;
            cfg.seed = seed;
            cfg.faults = Faults {
                stray_rate: 0.3,
                amount_drift_rate: 0.05,
                ..Faults::none()
            };
            reports.push(simulate::run(&w, &cfg).await.unwrap());
        }
        w.close().await;
        let dir = tempfile::tempdir().unwrap();
        let second = dir.path().join("hfb-second.csv");
        let mut lines = reports[0].next_day_statement.clone();
        lines.extend(reports[1].statement.iter().cloned());
        simulate::write_statement(&second, &lines).unwrap();
        let db = Db::connect(&t.url, &ConnectOptions::read_only())
            .await
            .unwrap();
        let run = |period: Period| {
            let opts = RunOptions::new(
                Some(period),
                vec![StatementInput {
                    path: second.clone(),
                    format: Format::Hfb,
                }],
                db.now(),
            );
            let db = db.clone();
            async move { recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await }
        };
        let alone = run(Period::day(day())).await;
        let both = run(Period {
            from: first,
            to: day(),
        })
        .await;
        assert_eq!(both.status, RunStatus::Ok, "{backend:?}: {:?}", both.error);
        let breaks = |o: &recon::RunOutput| -> BTreeSet<(Kind, String)> {
            o.findings
                .iter()
                .filter(|f| {
                    matches!(
                        f.kind,
                        Kind::MissingInternal
                            | Kind::MissingExternal
                            | Kind::AmountMismatch
                            | Kind::StatusMismatch
                    )
                })
                .map(|f| (f.kind, f.key.clone()))
                .collect()
        };
        assert!(
            !breaks(&alone).is_empty(),
            "{backend:?}: the second day has breaks"
        );
        assert_eq!(breaks(&both), breaks(&alone), "{backend:?}");
        assert!(
            !both.findings.iter().any(|f| f.kind == Kind::MissingExternal
                && f.first_seen.is_some_and(|t| t.date() == first)),
            "{backend:?}: no flow of the first day is called missing"
        );
        let u = both.unverified.clone().unwrap();
        let (_, flows_both, _) = both.matching.unwrap();
        let (_, flows_alone, _) = alone.matching.unwrap();
        assert!(u.flows > 20, "{backend:?}: {u:?}");
        assert!(u.flows <= flows_both - flows_alone, "{backend:?}: {u:?}");
        assert_eq!(
            both.findings
                .iter()
                .filter(|f| f.kind == Kind::FlowsUnverified)
                .count(),
            1,
            "{backend:?}"
        );
        db.close().await;
    }
}

/// A bill of refunds only, for recharges paid three days earlier: each refund
/// is matched to its recharge by bill whatever its day and is a
/// `status_mismatch` carrying the part refunded — on every backend.
#[tokio::test]
async fn refunds_of_earlier_days_are_found_by_bill_on_every_backend() {
    use rust_decimal::Decimal;
    for backend in ALL {
        let t = fresh_db(backend).await;
        let w = writer(&t.url).await;
        payrecon::db::migrate(&w).await.unwrap();
        let paid_day = day() - chrono::Duration::days(3);
        let mut cfg = SimConfig::new(HandlerKind::Locked, paid_day);
        cfg.recharges = 20;
        cfg.users = 4;
        cfg.faults = Faults::none();
        let report = simulate::run(&w, &cfg).await.unwrap();
        w.close().await;
        let paid: Vec<_> = report
            .statement
            .iter()
            .filter(|l| l.paid_at.date() == paid_day)
            .take(3)
            .collect();
        assert_eq!(paid.len(), 3);
        let half = (paid[2].charge_amt / Decimal::from(2)).round_dp(2);
        let refunds = [paid[0].charge_amt, paid[1].charge_amt, half];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refunds.csv");
        let mut text = String::from("bill,amount,time\n");
        for (i, (l, r)) in paid.iter().zip(refunds).enumerate() {
            text.push_str(&format!("{},-{r},{} 1{i}:00:00\n", l.agent_bill_no, day()));
        }
        std::fs::write(&file, text).unwrap();
        let mut mapping = payrecon::statement::GenericMapping::new("bill", "amount");
        mapping.time = Some("time".into());
        let db = Db::connect(&t.url, &ConnectOptions::read_only())
            .await
            .unwrap();
        let opts = RunOptions::new(
            Some(Period::day(day())),
            vec![StatementInput {
                path: file,
                format: Format::Generic(mapping),
            }],
            db.now(),
        );
        let out = recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await;
        assert_eq!(out.status, RunStatus::Ok, "{backend:?}: {:?}", out.error);
        assert_eq!(
            out.files[0].role,
            recon::FileRole::Reconciled,
            "{backend:?}"
        );
        let got: BTreeMap<String, (Decimal, String)> = out
            .findings
            .iter()
            .filter(|f| f.kind == Kind::StatusMismatch)
            .map(|f| (f.key.clone(), (f.difference.unwrap(), f.detail_en.clone())))
            .collect();
        assert_eq!(got.len(), 3, "{backend:?}: {got:?}");
        for (l, r) in paid.iter().zip(refunds) {
            let (diff, text) = &got[&l.agent_bill_no];
            assert_eq!(*diff, r, "{backend:?} {}", l.agent_bill_no);
            assert!(
                text.contains("refunded at the gateway"),
                "{backend:?}: {text}"
            );
        }
        assert!(got[&paid[2].agent_bill_no].1.contains("partly refunded"));
        assert!(
            !out.findings.iter().any(|f| matches!(
                f.kind,
                Kind::MissingInternal | Kind::MissingExternal | Kind::FlowsUnverified
            )),
            "{backend:?}: {:?}",
            out.by_kind
        );
        db.close().await;
    }
}
