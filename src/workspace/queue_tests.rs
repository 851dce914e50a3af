//! The findings queue at any size: keyset pages in every order, groups,
//! totals and the amount at risk, bulk changes with their history and audit.

use super::*;
use crate::recon::{Finding, Kind, Period, RunStatus};
use crate::workspace::{RunRecord, Workspace};
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use sqlx::Row;
use std::collections::HashSet;
use std::time::Instant;

const DB: &str = "sqlite:///pay.db";

fn t(day: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, day)
        .and_then(|d| d.and_hms_opt(9, 0, 0))
        .unwrap()
}

fn run(at: NaiveDateTime, period: Option<Period>) -> RunRecord {
    RunRecord {
        operator: "alice".into(),
        started_at: at,
        finished_at: at,
        database: DB.into(),
        period,
        params: serde_json::json!({}),
        status: RunStatus::Ok,
        reason: None,
        not_checked: Vec::new(),
    }
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

/// 30,000 findings: 8,000 bills with three findings each (the same unpaid
/// recharge seen three ways) and 6,000 accounts whose balance is off.
fn many() -> Vec<Finding> {
    let mut v = Vec::with_capacity(30_000);
    for i in 0..30_000i64 {
        let amount = cents((i * 7919) % 100_000 + 1);
        let f = if i < 24_000 {
            let b = i / 3;
            let kind = [
                Kind::MissingInternal,
                Kind::NotifyExhausted,
                Kind::OrderStuck,
            ][usize::try_from(i % 3).unwrap()];
            let bill = format!("CHARGE{b}");
            Finding::new(kind, bill.clone())
                .bill(&bill)
                .user(Some(b % 5000))
                .amounts(None, Some(amount))
        } else {
            let u = i - 24_000;
            Finding::new(Kind::BalanceMismatch, format!("user:{u}"))
                .user(Some(u))
                .amounts(Some(amount), Some(cents(0)))
        };
        v.push(f.explain("测试", "test"));
    }
    v
}

async fn queue() -> (tempfile::TempDir, Workspace, Vec<Finding>) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(&dir.path().join("ws.db")).await.unwrap();
    let fs = many();
    // Two runs of the whole database: half the findings are two days older.
    ws.record_run(&run(t(1), None), &fs[..15_000])
        .await
        .unwrap();
    ws.record_run(&run(t(3), None), &fs).await.unwrap();
    (dir, ws, fs)
}

fn filter() -> FindingFilter {
    FindingFilter {
        database: Some(DB.into()),
        as_of: Some(t(10)),
        ..FindingFilter::default()
    }
}

fn cmp_key(a: &QueueKey, b: &QueueKey) -> std::cmp::Ordering {
    for (x, y) in a.0.iter().zip(&b.0) {
        let o = match (x, y) {
            (KeyPart::Int(x), KeyPart::Int(y)) => x.cmp(y),
            (KeyPart::Text(x), KeyPart::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            _ => panic!("mixed key parts {x:?} {y:?}"),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

const PAGE: u32 = 200;

/// Walks every page forwards (or backwards from the last) and returns the
/// ids in screen order, checking the keys are strictly in order.
async fn walk(ws: &Workspace, f: &FindingFilter, order: QueueOrder, back: bool) -> Vec<i64> {
    let mut cursor = if back {
        QueueCursor::Last
    } else {
        QueueCursor::First
    };
    let mut pages: Vec<(Vec<i64>, Vec<QueueKey>)> = Vec::new();
    loop {
        let p = ws.page_findings(f, order, &cursor, PAGE).await.unwrap();
        assert!(p.rows.len() <= PAGE as usize);
        let ids = p.rows.iter().map(|r| r.id).collect();
        let (more, next) = if back {
            (p.has_prev, p.keys.first().cloned().map(QueueCursor::Before))
        } else {
            (p.has_next, p.keys.last().cloned().map(QueueCursor::After))
        };
        pages.push((ids, p.keys));
        if !more {
            break;
        }
        cursor = next.unwrap();
    }
    if back {
        pages.reverse();
    }
    let want = if order.by == QueueSort::Amount {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Less
    };
    let want = if order.reverse { want.reverse() } else { want };
    let keys: Vec<QueueKey> = pages.iter().flat_map(|p| p.1.clone()).collect();
    for w in keys.windows(2) {
        assert_eq!(
            cmp_key(&w[0], &w[1]),
            want,
            "{order:?}: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    pages.into_iter().flat_map(|p| p.0).collect()
}

#[tokio::test]
async fn thirty_thousand_findings_page_to_the_end_once_each_in_every_order() {
    let (_d, ws, _) = queue().await;
    let f = filter();
    assert_eq!(ws.count_findings(&f).await.unwrap(), 30_000);
    for by in QueueSort::ALL {
        for reverse in [false, true] {
            let order = QueueOrder { by: *by, reverse };
            let fwd = walk(&ws, &f, order, false).await;
            assert_eq!(fwd.len(), 30_000, "{order:?}");
            assert_eq!(
                fwd.iter().collect::<HashSet<_>>().len(),
                30_000,
                "{order:?}"
            );
            let back = walk(&ws, &f, order, true).await;
            assert_eq!(
                back, fwd,
                "{order:?}: backwards from the end gives the same rows"
            );
        }
    }
    // Keys in natural order: user:2 before user:10 before user:100.
    let keys: Vec<String> = {
        let mut f = filter();
        f.kinds = vec![Kind::BalanceMismatch];
        let p = ws
            .page_findings(
                &f,
                QueueOrder {
                    by: QueueSort::Key,
                    reverse: false,
                },
                &QueueCursor::First,
                120,
            )
            .await
            .unwrap();
        p.rows.into_iter().map(|r| r.key).collect()
    };
    assert_eq!(&keys[..3], ["user:0", "user:1", "user:2"]);
    assert_eq!(keys[10], "user:10");
    assert_eq!(keys[100], "user:100");
    // Largest amount first, exact.
    let p = ws
        .page_findings(
            &f,
            QueueOrder {
                by: QueueSort::Amount,
                reverse: false,
            },
            &QueueCursor::First,
            5,
        )
        .await
        .unwrap();
    let largest = many()
        .iter()
        .filter_map(|f| f.difference)
        .map(|d| d.abs())
        .max();
    assert_eq!(p.rows[0].difference.map(|d| d.abs()), largest);
    // Oldest first by age: the first run's half.
    let p = ws
        .page_findings(
            &f,
            QueueOrder {
                by: QueueSort::Age,
                reverse: false,
            },
            &QueueCursor::First,
            3,
        )
        .await
        .unwrap();
    assert!(
        p.rows
            .iter()
            .all(|r| r.first_seen_at == t(1) && r.age_days == 9)
    );
}

#[tokio::test]
async fn groups_page_once_each_with_their_kinds_and_largest_amount() {
    let (_d, ws, fs) = queue().await;
    let f = filter();
    assert_eq!(
        ws.count_groups(&f, GroupBy::Bill).await.unwrap(),
        8000 + 6000
    );
    assert_eq!(ws.count_groups(&f, GroupBy::User).await.unwrap(), 6000);
    for by in QueueSort::ALL {
        for reverse in [false, true] {
            let order = QueueOrder { by: *by, reverse };
            let mut seen = HashSet::new();
            let mut fwd = Vec::new();
            let mut cursor = QueueCursor::First;
            loop {
                let p = ws
                    .page_groups(&f, GroupBy::Bill, order, &cursor, 1000)
                    .await
                    .unwrap();
                for g in &p.rows {
                    assert!(
                        seen.insert(g.key.key.clone()),
                        "{order:?}: {} twice",
                        g.key.key
                    );
                    fwd.push(g.key.key.clone());
                }
                if !p.has_next {
                    break;
                }
                cursor = QueueCursor::After(p.keys.last().unwrap().clone());
            }
            // Backwards from the last page: the same groups in the same order.
            let mut back: Vec<Vec<String>> = Vec::new();
            let mut cursor = QueueCursor::Last;
            loop {
                let p = ws
                    .page_groups(&f, GroupBy::Bill, order, &cursor, 1000)
                    .await
                    .unwrap();
                back.push(p.rows.iter().map(|g| g.key.key.clone()).collect());
                if !p.has_prev {
                    break;
                }
                cursor = QueueCursor::Before(p.keys.first().unwrap().clone());
            }
            back.reverse();
            assert_eq!(back.concat(), fwd, "{order:?}");
            // The export's grouped order is the screen's.
            if !reverse {
                let rows = ws.list_queue(&f, order, Some(GroupBy::Bill)).await.unwrap();
                let mut groups: Vec<String> = Vec::new();
                for r in &rows {
                    let g = r.agent_bill_no.clone().unwrap_or_else(|| r.key.clone());
                    if groups.last() != Some(&g) {
                        groups.push(g);
                    }
                }
                assert_eq!(groups, fwd, "{order:?}: export order");
            }
            assert_eq!(seen.len(), 14_000, "{order:?}");
        }
    }
    // CHARGE5: three kinds, its largest amount, the user it belongs to.
    let mut one = filter();
    one.group = Some(GroupKey {
        by: GroupBy::Bill,
        key: "CHARGE5".into(),
    });
    let p = ws
        .page_groups(
            &one,
            GroupBy::Bill,
            QueueOrder::default(),
            &QueueCursor::First,
            10,
        )
        .await
        .unwrap();
    assert_eq!(p.rows.len(), 1);
    let g = &p.rows[0];
    assert_eq!(g.count, 3);
    assert_eq!(
        g.kinds,
        vec![
            Kind::NotifyExhausted,
            Kind::OrderStuck,
            Kind::MissingInternal
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    let largest = fs[15..18]
        .iter()
        .map(|f| f.difference.unwrap().abs())
        .max()
        .unwrap();
    assert_eq!(g.largest, largest);
    assert_eq!(g.agent_bill_no.as_deref(), Some("CHARGE5"));
    assert_eq!(g.statuses, vec![Status::Open]);
}

#[tokio::test]
async fn counts_and_amount_at_risk_as_computed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(&dir.path().join("ws.db")).await.unwrap();
    let bill = |k: Kind, b: &str, c: i64| {
        Finding::new(k, b)
            .bill(b)
            .user(Some(7))
            .amounts(None, Some(cents(c)))
    };
    let fs = vec![
        // One unpaid recharge seen three ways: 100.00 once, not 300.00.
        bill(Kind::MissingInternal, "CHARGE1", 10_000),
        bill(Kind::NotifyExhausted, "CHARGE1", 10_000),
        bill(Kind::OrderStuck, "CHARGE1", 10_000),
        // Another bill, resolved below: not at risk.
        bill(Kind::DuplicateCredit, "CHARGE2", 5_000),
        // One account off twice: its largest, 12.00.
        Finding::new(Kind::BalanceMismatch, "user:8")
            .user(Some(8))
            .amounts(Some(cents(100)), Some(cents(130))),
        Finding::new(Kind::BalanceMismatch, "user:8")
            .user(Some(8))
            .amounts(Some(cents(1200)), None),
        // A truncated file: shown apart, never added to the total.
        Finding::new(Kind::StatementTotalMismatch, "wechat.csv")
            .amounts(Some(cents(90_000)), Some(cents(100_000))),
        Finding::new(Kind::SchemaRisk, "trans_flow"),
    ];
    ws.record_run(&run(t(1), None), &fs).await.unwrap();
    let all = ws.list_findings(&filter()).await.unwrap();
    let charge2 = all.iter().find(|r| r.key == "CHARGE2").unwrap().id;
    ws.set_status(charge2, Status::Resolved, "reversed", "bob")
        .await
        .unwrap();

    let mut f = filter();
    f.statuses = vec![Status::Open, Status::Acknowledged];
    let s = ws.summarize_findings(&f).await.unwrap();
    // Findings of the same identity in one run count once: user:8 twice is one.
    assert_eq!(s.count, 6);
    assert_eq!(s.at_risk.bills, cents(10_000));
    assert_eq!(s.at_risk.accounts, cents(1200).max(cents(30)));
    assert_eq!(s.at_risk.total, s.at_risk.bills + s.at_risk.accounts);
    assert_eq!(s.at_risk.file_level, cents(10_000));
    assert_eq!((s.at_risk.bill_count, s.at_risk.account_count), (1, 1));
    assert_eq!(ws.at_risk(DB).await.unwrap(), s.at_risk);
    // All statuses: the resolved one is counted, but never at risk.
    let s_all = ws.summarize_findings(&filter()).await.unwrap();
    assert_eq!(s_all.count, 7);
    assert_eq!(s_all.at_risk, s.at_risk);
    // A later run of the same scope without CHARGE1: it is absent, no longer at risk.
    ws.record_run(&run(t(2), None), &fs[4..]).await.unwrap();
    let later = ws.at_risk(DB).await.unwrap();
    assert_eq!(later.bills, Decimal::ZERO);
    assert_eq!(later.total, s.at_risk.accounts);
}

#[tokio::test]
async fn a_group_resolved_at_once_with_events_audit_and_speed() {
    let (_d, ws, _) = queue().await;
    let audit_before = ws.verify_audit().await.unwrap().entries;
    let mut f = filter();
    f.statuses = vec![Status::Open, Status::Acknowledged];
    // One bill's three findings with one note.
    let sel = Selection::Groups {
        filter: Box::new(f.clone()),
        keys: vec![GroupKey {
            by: GroupBy::Bill,
            key: "CHARGE5".into(),
        }],
    };
    let e = ws
        .set_status_many(&sel, Status::Resolved, "", "carol")
        .await
        .unwrap_err();
    assert!(matches!(e, WorkspaceError::NoteRequired { .. }), "{e}");
    let out = ws
        .set_status_many(&sel, Status::Resolved, "refunded, ticket 88", "carol")
        .await
        .unwrap();
    assert_eq!(
        out,
        BulkOutcome {
            changed: 3,
            skipped: 0
        }
    );
    let mut g = filter();
    g.bill = Some("CHARGE5".into());
    let rows = ws.list_findings(&g).await.unwrap();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r.status, Status::Resolved);
        let h = ws.history(r.id).await.unwrap();
        let last = h.last().unwrap();
        assert_eq!(
            (
                last.action.as_str(),
                last.operator.as_str(),
                last.note.as_str(),
                last.from
            ),
            (
                "resolve",
                "carol",
                "refunded, ticket 88",
                Some(Status::Open)
            )
        );
        assert_eq!(h.iter().filter(|e| e.action == "resolve").count(), 1);
    }
    let acts = ws
        .latest_actions(&rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(
        acts.values()
            .all(|a| a.note == "refunded, ticket 88" && a.operator == "carol")
    );
    let rep = ws.verify_audit().await.unwrap();
    assert!(rep.ok, "{:?}", rep.problem);
    assert_eq!(rep.entries, audit_before + 3);
    let entries = ws.audit_entries(audit_before, 10).await.unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.action == "resolve" && e.params.contains("ticket 88"))
    );
    // Written as set_status writes its entries: canonical, password-free JSON.
    for e in &entries {
        let v: serde_json::Value = serde_json::from_str(&e.params).unwrap();
        assert_eq!(
            super::audit::canonical_json(&crate::workspace::redact_json(&v)),
            e.params
        );
        assert_eq!(v["bulk"], 3);
    }

    // Again, by id: already resolved, nothing changes.
    let ids3 = rows.iter().map(|r| r.id).collect();
    let again = ws
        .set_status_many(&Selection::Ids(ids3), Status::Resolved, "x", "carol")
        .await
        .unwrap();
    assert_eq!(
        again,
        BulkOutcome {
            changed: 0,
            skipped: 3
        }
    );

    // Everything else at once, by id: fast, one event and one entry each.
    let all = ws.list_findings(&f).await.unwrap();
    assert_eq!(all.len(), 29_997);
    let ids: Vec<i64> = all.iter().map(|r| r.id).collect();
    let events_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM finding_events")
        .fetch_one(&ws.pool)
        .await
        .unwrap();
    let started = Instant::now();
    let out = ws
        .set_status_many(
            &Selection::Ids(ids),
            Status::Accepted,
            "written off",
            "carol",
        )
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!("bulk accept of 29,997 findings: {took:?}");
    assert_eq!(out.changed, 29_997);
    let events_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM finding_events")
        .fetch_one(&ws.pool)
        .await
        .unwrap();
    assert_eq!(events_after - events_before, 29_997);
    let rep = ws.verify_audit().await.unwrap();
    assert!(rep.ok, "{:?}", rep.problem);
    assert_eq!(rep.entries, audit_before + 3 + 29_997);
    // About 0.6–0.9 s optimised (release, on a loaded machine); this
    // unoptimised test build is slower. Generous bounds: a regression to
    // one round trip per finding costs tens of seconds, not these.
    let bound = if cfg!(debug_assertions) { 20.0 } else { 2.0 };
    assert!(took.as_secs_f32() < bound, "bulk took {took:?}");
    assert_eq!(ws.at_risk(DB).await.unwrap().total, Decimal::ZERO);

    // Page timings on the 30,000 (first, a middle one, the last).
    let f = filter();
    for by in QueueSort::ALL {
        let order = QueueOrder {
            by: *by,
            reverse: false,
        };
        let started = Instant::now();
        let p = ws
            .page_findings(&f, order, &QueueCursor::First, PAGE)
            .await
            .unwrap();
        let first = started.elapsed();
        let k = p.keys.last().unwrap().clone();
        let started = Instant::now();
        ws.page_findings(&f, order, &QueueCursor::After(k), PAGE)
            .await
            .unwrap();
        let next = started.elapsed();
        let started = Instant::now();
        ws.page_findings(&f, order, &QueueCursor::Last, PAGE)
            .await
            .unwrap();
        let last = started.elapsed();
        let started = Instant::now();
        ws.page_groups(&f, GroupBy::Bill, order, &QueueCursor::First, PAGE)
            .await
            .unwrap();
        let groups = started.elapsed();
        eprintln!(
            "{by:?}: first {first:?}, next {next:?}, last {last:?}, groups by bill {groups:?}"
        );
    }
    let started = Instant::now();
    ws.summarize_findings(&f).await.unwrap();
    eprintln!(
        "summary (count + at risk) of 30,000: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn every_order_reads_its_index_without_sorting() {
    // The queries spell the sort keys as schema version 3's indexes do; a
    // difference in spelling would sort the whole queue for every page.
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(&dir.path().join("ws.db")).await.unwrap();
    let mut cols: Vec<(&[&str], &str)> = QueueSort::ALL
        .iter()
        .map(|s| (s.finding_cols(), "findings_page_"))
        .collect();
    cols.push((
        QueueSort::Key.group_cols(GroupBy::Bill),
        "findings_page_bill_group",
    ));
    cols.push((
        QueueSort::Key.group_cols(GroupBy::User),
        "findings_page_user_group",
    ));
    for (c, index) in cols {
        for dir in [" ASC", " DESC"] {
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT id FROM findings WHERE database = 'x' \
                 AND status IN ('open', 'acknowledged') ORDER BY {} LIMIT 201",
                key_list(c, "", dir)
            );
            let plan = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&ws.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect::<Vec<_>>()
                .join(" / ");
            assert!(plan.contains(index), "{c:?}{dir}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{c:?}{dir}: {plan}");
        }
    }
    for by in [GroupBy::Bill, GroupBy::User] {
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT id FROM findings WHERE database = 'x' AND {} = 'k'",
            x(by.column(), "")
        );
        let plan = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&ws.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join(" / ");
        assert!(
            plan.contains(&format!("findings_by_{}_group", by.as_str())),
            "{plan}"
        );
    }
}
