//! Workspace tests on real SQLite files in temporary folders.

use super::*;
use crate::recon::{Finding, Kind, Period, RunStatus, Severity};
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::Row;

const DB: &str = "postgres://alice:***@db.example:5432/pay";

fn t(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, day)
        .and_then(|d| d.and_hms_opt(hour, 0, 0))
        .unwrap()
}

fn day(d: u32) -> Period {
    Period::day(NaiveDate::from_ymd_opt(2024, 5, d).unwrap())
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fn run(started: NaiveDateTime, period: Option<Period>, status: RunStatus) -> RunRecord {
    RunRecord {
        operator: "alice".into(),
        started_at: started,
        finished_at: started + Duration::seconds(3),
        database: DB.into(),
        period,
        params: json!({"statements": ["hfb-20240501.csv"], "cross_day_window_s": 600}),
        status,
        reason: match status {
            RunStatus::Ok => None,
            RunStatus::Failed => Some("statement row 7: not an amount".into()),
            RunStatus::Cancelled => Some("cancelled by the user".into()),
        },
        not_checked: Vec::new(),
    }
}

fn mismatch(bill: &str, ours: i64, theirs: i64) -> Finding {
    Finding::new(Kind::AmountMismatch, bill)
        .bill(bill)
        .user(Some(7))
        .amounts(Some(money(ours)), Some(money(theirs)))
        .explain("金额不符", "amounts differ")
}

fn credit(bill: &str) -> Finding {
    Finding::new(Kind::DuplicateCredit, bill)
        .bill(bill)
        .amounts(Some(money(20000)), Some(money(10000)))
        .explain("重复入账", "credited twice")
}

async fn open_tmp() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open(&dir.path().join("sub").join("workspace.db"))
        .await
        .unwrap();
    (dir, ws)
}

async fn by_key(ws: &Workspace, key: &str) -> FindingRow {
    let all = ws.list_findings(&FindingFilter::default()).await.unwrap();
    all.into_iter().find(|f| f.key == key).unwrap()
}

async fn count(ws: &Workspace, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&ws.pool).await.unwrap()
}

#[tokio::test]
async fn opens_creates_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("ws.db");
    let ws = Workspace::open(&path).await.unwrap();
    assert!(path.exists());
    assert_eq!(ws.schema_version().await.unwrap(), SCHEMA_VERSION);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&ws.pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    ws.append_audit("alice", "export", &json!({"file": "x.csv"}))
        .await
        .unwrap();
    ws.close().await;
    // Reopening keeps the data and does not migrate twice.
    let ws = Workspace::open(&path).await.unwrap();
    assert_eq!(ws.verify_audit().await.unwrap().entries, 1);
    // A newer payrecon's file is refused with a clear message.
    sqlx::query("PRAGMA user_version = 99")
        .execute(&ws.pool)
        .await
        .unwrap();
    ws.close().await;
    let e = Workspace::open(&path).await.unwrap_err();
    assert!(matches!(e, WorkspaceError::TooNew { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("newer payrecon"));
    assert!(
        Workspace::default_path().ends_with("workspace.db"),
        "{:?}",
        Workspace::default_path()
    );
    assert!(!current_operator().is_empty());
}

#[tokio::test]
async fn lifecycle_across_runs() {
    let (_d, ws) = open_tmp().await;
    let p = Some(day(1));

    // Run 1: two new findings.
    let r1 = ws
        .record_run(
            &run(t(2, 9), p, RunStatus::Ok),
            &[mismatch("B1", 10000, 9000), credit("B2")],
        )
        .await
        .unwrap();
    let a = by_key(&ws, "B1").await;
    assert_eq!(a.status, Status::Open);
    assert_eq!(
        (a.first_seen_run, a.last_seen_run, a.times_seen),
        (r1, r1, 1)
    );
    assert_eq!(a.first_seen_at, t(2, 9));
    assert_eq!(a.amount_internal, Some(money(10000)));
    assert_eq!(a.difference, Some(money(1000)));
    assert_eq!(a.fingerprint, fingerprint(DB, Kind::AmountMismatch, "B1"));
    let stored: String =
        sqlx::query_scalar("SELECT amount_internal FROM findings WHERE key = 'B1'")
            .fetch_one(&ws.pool)
            .await
            .unwrap();
    assert_eq!(stored, "100.00");

    ws.set_status(a.id, Status::Acknowledged, "", "bob")
        .await
        .unwrap();
    let b = by_key(&ws, "B2").await;
    ws.set_status(b.id, Status::Resolved, "reversed the second credit", "bob")
        .await
        .unwrap();

    // Run 2 (next day, same period): B1 again with new amounts; B2 gone.
    let r2 = ws
        .record_run(
            &run(t(3, 9), p, RunStatus::Ok),
            &[mismatch("B1", 10000, 9500)],
        )
        .await
        .unwrap();
    let a2 = by_key(&ws, "B1").await;
    assert_eq!(a2.id, a.id);
    assert_eq!(a2.status, Status::Acknowledged, "status kept");
    assert_eq!(
        (a2.first_seen_run, a2.last_seen_run, a2.times_seen),
        (r1, r2, 2)
    );
    assert_eq!(a2.first_seen_at, t(2, 9), "age kept");
    assert_eq!(a2.amount_external, Some(money(9500)));
    assert_eq!(a2.difference, Some(money(500)));
    assert!(!a2.is_absent());
    let b2 = by_key(&ws, "B2").await;
    assert_eq!(b2.status, Status::Resolved);
    assert_eq!(b2.last_absent_run, Some(r2));
    assert_eq!(b2.absent_since_run, Some(r2));
    assert_eq!(b2.last_absent_at, Some(t(3, 9)));
    assert_eq!(b2.times_seen, 1);

    // Run 3: still absent: last_absent_run moves, absent_since stays.
    let r3 = ws
        .record_run(
            &run(t(4, 9), p, RunStatus::Ok),
            &[mismatch("B1", 10000, 9500)],
        )
        .await
        .unwrap();
    let b3 = by_key(&ws, "B2").await;
    assert_eq!(
        (b3.absent_since_run, b3.last_absent_run),
        (Some(r2), Some(r3))
    );

    // Run 4: B2 reappears after it was resolved: reopened, age and history kept.
    let r4 = ws
        .record_run(
            &run(t(5, 9), p, RunStatus::Ok),
            &[mismatch("B1", 10000, 9500), credit("B2")],
        )
        .await
        .unwrap();
    let b4 = by_key(&ws, "B2").await;
    assert_eq!(b4.id, b.id);
    assert_eq!(b4.status, Status::Open);
    assert_eq!(b4.first_seen_run, r1);
    assert_eq!(b4.last_seen_run, r4);
    assert_eq!(b4.times_seen, 2);
    assert!(!b4.is_absent());
    assert_eq!(b4.last_absent_run, Some(r3), "kept as a record");
    assert_eq!(b4.age_days, (ws.now() - t(2, 9)).num_days());
    let h = ws.history(b.id).await.unwrap();
    let steps: Vec<(&str, Option<Status>, Status)> = h
        .iter()
        .map(|e| (e.action.as_str(), e.from, e.to))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("detected", None, Status::Open),
            ("resolve", Some(Status::Open), Status::Resolved),
            ("reappeared", Some(Status::Resolved), Status::Open),
        ]
    );
    assert_eq!(h[1].note, "reversed the second credit");
    assert_eq!(h[1].operator, "bob");
    assert_eq!(h[2].run_id, Some(r4));
    assert!(h[2].note.contains("again"));

    // Accepted stays accepted when seen again.
    let a4 = by_key(&ws, "B1").await;
    ws.set_status(
        a4.id,
        Status::Accepted,
        "gateway fee, agreed with finance",
        "bob",
    )
    .await
    .unwrap();
    ws.record_run(
        &run(t(6, 9), p, RunStatus::Ok),
        &[mismatch("B1", 10000, 9500), credit("B2")],
    )
    .await
    .unwrap();
    assert_eq!(by_key(&ws, "B1").await.status, Status::Accepted);
    assert_eq!(by_key(&ws, "B1").await.times_seen, 5);

    // Nothing is ever deleted; each run and change is audited.
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM findings").await, 2);
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM runs").await, 5);
    let rep = ws.verify_audit().await.unwrap();
    assert!(rep.ok, "{rep:?}");
    assert_eq!(rep.entries, 5 + 3);
    let entries = ws.audit_entries(0, 100).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "reconcile",
            "acknowledge",
            "resolve",
            "reconcile",
            "reconcile",
            "reconcile",
            "accept",
            "reconcile"
        ]
    );
    let p0: serde_json::Value = serde_json::from_str(&entries[0].params).unwrap();
    assert_eq!(p0["run_id"], json!(r1));
    assert_eq!(p0["lifecycle"]["new"], json!(2));
    assert_eq!(p0["counts"]["by_kind"]["amount_mismatch"], json!(1));
}

#[tokio::test]
async fn absence_only_within_comparable_runs() {
    let (_d, ws) = open_tmp().await;
    ws.record_run(
        &run(t(2, 9), Some(day(1)), RunStatus::Ok),
        &[mismatch("B1", 100, 90), credit("B2")],
    )
    .await
    .unwrap();
    // Another day's run does not make day 1's findings absent.
    ws.record_run(&run(t(3, 9), Some(day(2)), RunStatus::Ok), &[])
        .await
        .unwrap();
    // Nor does a run on another database.
    let mut other = run(t(3, 10), Some(day(1)), RunStatus::Ok);
    other.database = "sqlite:///tmp/other.db".into();
    ws.record_run(&other, &[]).await.unwrap();
    assert!(!by_key(&ws, "B1").await.is_absent());
    assert!(!by_key(&ws, "B2").await.is_absent());
    // A same-period run without statements: statement kinds are not checked.
    let mut no_statement = run(t(3, 11), Some(day(1)), RunStatus::Ok);
    no_statement.not_checked = STATEMENT_KINDS.to_vec();
    let r = ws.record_run(&no_statement, &[]).await.unwrap();
    assert!(!by_key(&ws, "B1").await.is_absent());
    assert_eq!(by_key(&ws, "B2").await.last_absent_run, Some(r));
    // The same identity twice in one run counts once.
    let r2 = ws
        .record_run(
            &run(t(4, 9), Some(day(1)), RunStatus::Ok),
            &[credit("B2"), credit("B2")],
        )
        .await
        .unwrap();
    let b = by_key(&ws, "B2").await;
    assert_eq!((b.times_seen, b.last_seen_run), (2, r2));
}

#[tokio::test]
async fn failed_and_cancelled_runs_leave_findings_untouched() {
    let (_d, ws) = open_tmp().await;
    let p = Some(day(1));
    let r1 = ws
        .record_run(&run(t(2, 9), p, RunStatus::Ok), &[credit("B2")])
        .await
        .unwrap();
    let b = by_key(&ws, "B2").await;
    ws.set_status(b.id, Status::Resolved, "fixed", "bob")
        .await
        .unwrap();
    let before = by_key(&ws, "B2").await;
    let events_before = ws.history(b.id).await.unwrap().len();

    for status in [RunStatus::Failed, RunStatus::Cancelled] {
        let id = ws
            .record_run(
                &run(t(3, 9), p, status),
                &[credit("B2"), mismatch("B9", 100, 1)],
            )
            .await
            .unwrap();
        let row = ws.get_run(id).await.unwrap();
        assert_eq!(row.status, status);
        assert!(row.reason.is_some());
        assert_eq!(row.findings, 2);
        assert_eq!(row.counts["by_severity"]["critical"], json!(2));
    }
    // B2 is neither reopened nor seen again; B9 was never inserted; nothing is absent.
    let after = by_key(&ws, "B2").await;
    assert_eq!(after, before);
    assert_eq!(after.last_seen_run, r1);
    assert_eq!(ws.history(b.id).await.unwrap().len(), events_before);
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM findings").await, 1);
    let runs = ws.list_runs(Some(DB), 10).await.unwrap();
    let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [RunStatus::Cancelled, RunStatus::Failed, RunStatus::Ok]
    );
    assert_eq!(runs[2].period, p);
    assert_eq!(runs[2].params["cross_day_window_s"], json!(600));
    assert!(ws.list_runs(Some("nope"), 10).await.unwrap().is_empty());
    assert_eq!(ws.list_runs(None, 2).await.unwrap().len(), 2);
    // Each of the three runs is in the audit log with its status.
    let entries = ws.audit_entries(0, 100).await.unwrap();
    let reconciles: Vec<String> = entries
        .iter()
        .filter(|e| e.action == "reconcile")
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.params).unwrap();
            v["status"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(reconciles, ["ok", "failed", "cancelled"]);
    assert!(matches!(
        ws.get_run(999).await,
        Err(WorkspaceError::NoSuchRun(999))
    ));
}

#[tokio::test]
async fn resolving_accepting_and_reopening_need_a_note() {
    let (_d, ws) = open_tmp().await;
    ws.record_run(&run(t(2, 9), None, RunStatus::Ok), &[credit("B2")])
        .await
        .unwrap();
    let id = by_key(&ws, "B2").await.id;
    for to in [Status::Resolved, Status::Accepted] {
        for note in ["", "   \n"] {
            let e = ws.set_status(id, to, note, "bob").await.unwrap_err();
            assert!(matches!(e, WorkspaceError::NoteRequired { to: x } if x == to));
            assert_eq!(
                e.to_string(),
                format!("a note is required to mark a finding {to}: say why")
            );
        }
    }
    // Refusals change nothing and audit nothing.
    assert_eq!(by_key(&ws, "B2").await.status, Status::Open);
    assert_eq!(ws.verify_audit().await.unwrap().entries, 1);
    ws.set_status(id, Status::Acknowledged, "", "bob")
        .await
        .unwrap();
    ws.set_status(id, Status::Accepted, "  known fee  ", "bob")
        .await
        .unwrap();
    let e = ws
        .set_status(id, Status::Open, "", "bob")
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        WorkspaceError::NoteRequired { to: Status::Open }
    ));
    ws.set_status(id, Status::Open, "fee was refunded after all", "carol")
        .await
        .unwrap();
    let h = ws.history(id).await.unwrap();
    assert_eq!(h.len(), 4);
    assert_eq!(h[2].note, "known fee");
    assert_eq!(
        (h[3].action.as_str(), h[3].operator.as_str()),
        ("reopen", "carol")
    );
}

#[tokio::test]
async fn illegal_transitions_are_refused() {
    let (_d, ws) = open_tmp().await;
    ws.record_run(
        &run(t(2, 9), None, RunStatus::Ok),
        &[credit("A"), credit("B"), credit("C")],
    )
    .await
    .unwrap();
    let (a, b, c) = (
        by_key(&ws, "A").await.id,
        by_key(&ws, "B").await.id,
        by_key(&ws, "C").await.id,
    );
    let refused = |r: Result<()>| match r {
        Err(WorkspaceError::IllegalTransition { .. }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    };
    refused(ws.set_status(a, Status::Open, "why", "bob").await);
    ws.set_status(a, Status::Acknowledged, "", "bob")
        .await
        .unwrap();
    refused(ws.set_status(a, Status::Acknowledged, "x", "bob").await);
    refused(ws.set_status(a, Status::Open, "x", "bob").await);
    ws.set_status(b, Status::Resolved, "fixed", "bob")
        .await
        .unwrap();
    refused(ws.set_status(b, Status::Accepted, "x", "bob").await);
    refused(ws.set_status(b, Status::Acknowledged, "x", "bob").await);
    refused(ws.set_status(b, Status::Resolved, "x", "bob").await);
    ws.set_status(c, Status::Accepted, "fine", "bob")
        .await
        .unwrap();
    let e = ws
        .set_status(c, Status::Resolved, "x", "bob")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "a finding that is accepted cannot become resolved (allowed: open)"
    );
    assert!(matches!(
        ws.set_status(4242, Status::Resolved, "x", "bob").await,
        Err(WorkspaceError::NoSuchFinding(4242))
    ));
    assert!(matches!(
        ws.get_finding(4242).await,
        Err(WorkspaceError::NoSuchFinding(4242))
    ));
    assert!(matches!(
        ws.history(4242).await,
        Err(WorkspaceError::NoSuchFinding(4242))
    ));
    assert_eq!(ws.get_finding(c).await.unwrap().status, Status::Accepted);
}

#[tokio::test]
async fn listing_filters_pages_and_ages() {
    let (_d, ws) = open_tmp().await;
    ws.record_run(
        &run(t(1, 9), None, RunStatus::Ok),
        &[credit("OLD"), Finding::new(Kind::DuplicateNotify, "N1")],
    )
    .await
    .unwrap();
    ws.record_run(
        &run(t(20, 9), None, RunStatus::Ok),
        &[
            credit("OLD"),
            Finding::new(Kind::DuplicateNotify, "N1"),
            Finding::new(Kind::OrderStuck, "S1"),
            mismatch("M1", 100, 50),
        ],
    )
    .await
    .unwrap();
    let as_of = Some(t(25, 12));
    let all = ws
        .list_findings(&FindingFilter {
            as_of,
            ..Default::default()
        })
        .await
        .unwrap();
    let keys: Vec<&str> = all.iter().map(|f| f.key.as_str()).collect();
    // Most severe first, then oldest first.
    assert_eq!(keys, ["OLD", "M1", "S1", "N1"]);
    assert_eq!(all[0].age_days, 24);
    assert_eq!(all[0].age_bucket(), AgeBucket::Days8To30);
    assert_eq!(all[1].age_days, 5);
    assert_eq!(all[1].age_bucket().label(), "2-7");
    assert_eq!(all[1].finding(), mismatch("M1", 100, 50));

    let f = |filter: FindingFilter| {
        let ws = ws.clone();
        async move {
            let rows = ws
                .list_findings(&FindingFilter {
                    as_of,
                    ..filter.clone()
                })
                .await
                .unwrap();
            let n = ws
                .count_findings(&FindingFilter { as_of, ..filter })
                .await
                .unwrap();
            assert!(n >= rows.len() as u64);
            (rows.into_iter().map(|r| r.key).collect::<Vec<_>>(), n)
        }
    };
    let old = f(FindingFilter {
        min_age_days: Some(20),
        ..Default::default()
    })
    .await;
    assert_eq!(old, (vec!["OLD".to_owned(), "N1".to_owned()], 2));
    let crit = f(FindingFilter {
        severities: vec![Severity::Critical],
        ..Default::default()
    })
    .await;
    assert_eq!(crit.1, 2);
    let kinds = f(FindingFilter {
        kinds: vec![Kind::OrderStuck, Kind::DuplicateNotify],
        database: Some(DB.into()),
        ..Default::default()
    })
    .await;
    assert_eq!(kinds.0, ["S1", "N1"]);
    let none = f(FindingFilter {
        database: Some("other".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(none, (vec![], 0));
    let page = f(FindingFilter {
        limit: Some(2),
        offset: 1,
        ..Default::default()
    })
    .await;
    assert_eq!(page, (vec!["M1".to_owned(), "S1".to_owned()], 4));

    let id = all[3].id;
    ws.set_status(id, Status::Accepted, "benign retry", "bob")
        .await
        .unwrap();
    let open = f(FindingFilter {
        statuses: vec![Status::Open, Status::Acknowledged],
        ..Default::default()
    })
    .await;
    assert_eq!(open.0, ["OLD", "M1", "S1"]);

    let buckets: Vec<&str> = [0, 1, 2, 7, 8, 30, 31, -3]
        .into_iter()
        .map(|d| AgeBucket::of(d).label())
        .collect();
    assert_eq!(
        buckets,
        ["0-1", "0-1", "2-7", "2-7", "8-30", "8-30", ">30", "0-1"]
    );
}

/// A workspace with ten audit entries.
async fn chain() -> (tempfile::TempDir, Workspace) {
    let (d, ws) = open_tmp().await;
    for i in 1..=10 {
        ws.append_audit(
            "alice",
            "export",
            &json!({"file": format!("f{i}.csv"), "rows": i}),
        )
        .await
        .unwrap();
    }
    let rep = ws.verify_audit().await.unwrap();
    assert!(rep.ok, "{rep:?}");
    assert_eq!(rep.entries, 10);
    assert_eq!(rep.problem, None);
    (d, ws)
}

async fn tamper(ws: &Workspace, sql: &'static str) -> AuditReport {
    sqlx::raw_sql(sql).execute(&ws.pool).await.unwrap();
    let rep = ws.verify_audit().await.unwrap();
    assert!(!rep.ok);
    rep
}

#[tokio::test]
async fn audit_chain_is_canonical_and_linked() {
    let (_d, ws) = chain().await;
    let e = ws.audit_entries(0, 100).await.unwrap();
    assert_eq!(e.len(), 10);
    assert_eq!(e[0].prev_hash, GENESIS_HASH);
    for (i, w) in e.windows(2).enumerate() {
        assert_eq!(w[1].prev_hash, w[0].hash);
        assert_eq!(w[1].seq, i as u64 + 2);
    }
    assert_eq!(e[0].params, r#"{"file":"f1.csv","rows":1}"#);
    let again = audit_hash(
        e[0].seq,
        &fmt_time(e[0].at),
        &e[0].operator,
        &e[0].action,
        &e[0].params,
        &e[0].prev_hash,
    );
    assert_eq!(again, e[0].hash);
    assert_eq!(ws.verify_audit().await.unwrap().head_hash, e[9].hash);
    // Key order in the caller's JSON does not matter.
    assert_eq!(
        audit::canonical_json(&json!({"b": [1, {"z": 1, "a": "x"}], "a": null})),
        r#"{"a":null,"b":[1,{"a":"x","z":1}]}"#
    );
    // Fields cannot slide into each other.
    assert_ne!(
        audit_hash(1, "t", "ab", "c", "{}", GENESIS_HASH),
        audit_hash(1, "t", "a", "bc", "{}", GENESIS_HASH)
    );
    assert_eq!(ws.audit_entries(8, 100).await.unwrap().len(), 2);
}

#[tokio::test]
async fn audit_detects_an_edited_params_field() {
    let (_d, ws) = chain().await;
    let rep = tamper(
        &ws,
        r#"UPDATE audit_log SET params = '{"file":"f7.csv","rows":70}' WHERE seq = 7"#,
    )
    .await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("entry 7 was edited: its hash does not match its content")
    );
}

#[tokio::test]
async fn audit_detects_an_edited_hash() {
    let (_d, ws) = chain().await;
    let rep = tamper(
        &ws,
        "UPDATE audit_log SET hash = 'aa' || substr(hash, 3) WHERE seq = 7",
    )
    .await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("entry 7 was edited: its hash does not match its content")
    );
    // Editing the hash and the next entry's prev_hash still breaks entry 7.
    let (_d, ws) = chain().await;
    let rep = tamper(
        &ws,
        "UPDATE audit_log SET hash = 'bb' || substr(hash, 3) WHERE seq = 7; \
         UPDATE audit_log SET prev_hash = 'bb' || substr(prev_hash, 3) WHERE seq = 8;",
    )
    .await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("entry 7 was edited: its hash does not match its content")
    );
}

#[tokio::test]
async fn audit_detects_a_deleted_middle_entry() {
    let (_d, ws) = chain().await;
    let rep = tamper(&ws, "DELETE FROM audit_log WHERE seq = 5").await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("entry 5 is missing (seq jumps from 4 to 6)")
    );
    assert_eq!(rep.entries, 9);
    // Renumbering the rest to close the gap breaks the link instead.
    let (_d, ws) = chain().await;
    let rep = tamper(
        &ws,
        "DELETE FROM audit_log WHERE seq = 5; \
         UPDATE audit_log SET seq = -(seq - 1) WHERE seq > 5; \
         UPDATE audit_log SET seq = -seq WHERE seq < 0;",
    )
    .await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("entry 5 does not follow entry 4 (prev_hash differs)")
    );
    let (_d, ws) = chain().await;
    let rep = tamper(&ws, "DELETE FROM audit_log WHERE seq = 1").await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("entry 1 is missing (the log starts at entry 2)")
    );
}

#[tokio::test]
async fn audit_detects_a_deleted_last_entry_through_the_head() {
    let (_d, ws) = chain().await;
    let rep = tamper(&ws, "DELETE FROM audit_log WHERE seq = 10").await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("the log ends at entry 9 but its head records 10 entries: the last 1 were removed")
    );
    let (_d, ws) = chain().await;
    let rep = tamper(&ws, "DELETE FROM audit_log WHERE seq >= 8").await;
    assert!(rep.problem.unwrap().contains("the last 3 were removed"));
    // Deleting the head too is reported, and appending refuses.
    let (_d, ws) = chain().await;
    let rep = tamper(&ws, "DELETE FROM audit_head").await;
    assert!(rep.problem.unwrap().contains("head row is missing"));
    let e = ws
        .append_audit("alice", "export", &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(e, WorkspaceError::AuditHeadMissing));
    // Replacing the head's hash is reported.
    let (_d, ws) = chain().await;
    let rep = tamper(&ws, "UPDATE audit_head SET hash = 'cc' || substr(hash, 3)").await;
    assert!(
        rep.problem
            .unwrap()
            .contains("does not match the hash its head records")
    );
}

#[tokio::test]
async fn audit_detects_a_reordered_pair() {
    let (_d, ws) = chain().await;
    let rep = tamper(
        &ws,
        "UPDATE audit_log SET seq = -3 WHERE seq = 3; \
         UPDATE audit_log SET seq = 3 WHERE seq = 4; \
         UPDATE audit_log SET seq = 4 WHERE seq = -3;",
    )
    .await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("entry 3 does not follow entry 2 (prev_hash differs)")
    );
    // Swapping the contents but keeping seq and links breaks the hashes.
    let (_d, ws) = chain().await;
    let rep = tamper(
        &ws,
        "UPDATE audit_log SET params = CASE seq WHEN 3 THEN \
         (SELECT params FROM audit_log WHERE seq = 4) ELSE \
         (SELECT params FROM audit_log WHERE seq = 3) END WHERE seq IN (3, 4)",
    )
    .await;
    assert_eq!(
        rep.problem.as_deref(),
        Some("entry 3 was edited: its hash does not match its content")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_keep_a_gap_free_chain() {
    let (d, ws) = open_tmp().await;
    // A second pool on the same file stands in for a second process.
    let ws2 = Workspace::open(&d.path().join("sub").join("workspace.db"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let w = if task % 2 == 0 {
            ws.clone()
        } else {
            ws2.clone()
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                w.append_audit(
                    &format!("op{task}"),
                    "export",
                    &json!({"task": task, "i": i}),
                )
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rep = ws.verify_audit().await.unwrap();
    assert!(rep.ok, "{rep:?}");
    assert_eq!(rep.entries, 200);
    let seqs: Vec<u64> = ws
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
}

#[tokio::test]
async fn recent_connections_are_capped_and_password_free() {
    let (_d, ws) = open_tmp().await;
    for i in 0..25 {
        ws.remember_connection(&format!("postgres://u{i}:hunter2@db{i}/pay"), "postgres")
            .await
            .unwrap();
    }
    ws.remember_connection(
        "mysql://root:hunter2@127.0.0.1:3306/srb?password=hunter2",
        "mysql",
    )
    .await
    .unwrap();
    ws.remember_connection("  ", "sqlite").await.unwrap();
    // Using one again moves it to the top and counts it.
    ws.remember_connection("postgres://u10:***@db10/pay", "postgres")
        .await
        .unwrap();
    let list = ws.recent_connections().await.unwrap();
    assert_eq!(list.len(), 20);
    assert_eq!(list[0].url, "postgres://u10:***@db10/pay");
    assert_eq!(list[0].uses, 2);
    assert_eq!(
        list[1].url,
        "mysql://root:***@127.0.0.1:3306/srb?password=***"
    );
    assert_eq!(list[2].url, "postgres://u24:***@db24/pay");
    assert!(list.iter().all(|c| !c.url.contains("hunter2")));
    assert!(
        !list.iter().any(|c| c.url.contains("db5/")),
        "oldest dropped"
    );
    assert_eq!(
        count(&ws, "SELECT COUNT(*) FROM recent_connections").await,
        20
    );
    ws.forget_connection("postgres://u10:***@db10/pay")
        .await
        .unwrap();
    assert_eq!(ws.recent_connections().await.unwrap().len(), 19);
}

#[tokio::test]
async fn passwords_are_never_stored() {
    const SECRET: &str = "Pl4nted-S3cret";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("workspace.db");
    let ws = Workspace::open(&path).await.unwrap();
    let raw = format!("postgres://alice:{SECRET}@db.example:5432/pay");

    // A realistic session, with the password planted wherever a careless
    // caller might pass it.
    ws.remember_connection(&raw, "postgres").await.unwrap();
    ws.remember_connection(&format!("host=db user=alice password={SECRET}"), "postgres")
        .await
        .unwrap();
    let mut r = run(t(2, 9), Some(day(1)), RunStatus::Ok);
    r.database = raw.clone();
    r.operator = format!("alice:{SECRET}@host");
    r.params = json!({
        "url": raw,
        "password": SECRET,
        "statements": [format!("/data/{}", "hfb.csv")],
        "options": {"dsn": format!("Server=db;Pwd={SECRET};")},
    });
    let f = credit("B1").explain(
        format!("连接 {raw} 时发现重复入账"),
        format!("seen via {raw}"),
    );
    let r1 = ws
        .record_run(&r, &[f, mismatch("B2", 100, 90)])
        .await
        .unwrap();
    let mut failed = run(t(3, 9), Some(day(1)), RunStatus::Failed);
    failed.reason = Some(format!(
        "could not connect to {raw}: password authentication failed"
    ));
    failed.database = raw.clone();
    ws.record_run(&failed, &[]).await.unwrap();
    let b1 = by_key(&ws, "B1").await;
    ws.set_status(
        b1.id,
        Status::Resolved,
        &format!("reset pwd={SECRET} and fixed"),
        "bob",
    )
    .await
    .unwrap();
    ws.append_audit("bob", "export", &json!({"target": raw, "secret": SECRET}))
        .await
        .unwrap();
    ws.record_run(&r, &[]).await.unwrap();
    assert!(ws.verify_audit().await.unwrap().ok);
    assert_eq!(ws.get_run(r1).await.unwrap().database, DB);

    // Every text value of every table.
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&ws.pool)
            .await
            .unwrap();
    assert_eq!(tables.len(), 7, "{tables:?}");
    let mut cells = 0;
    for table in &tables {
        let cols = sqlx::query("SELECT name FROM pragma_table_info(?)")
            .bind(table)
            .fetch_all(&ws.pool)
            .await
            .unwrap();
        for c in cols {
            let col: String = c.get("name");
            let sql = format!("SELECT CAST(\"{col}\" AS TEXT) FROM \"{table}\"");
            let values: Vec<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&ws.pool)
                .await
                .unwrap();
            for v in values.into_iter().flatten() {
                cells += 1;
                assert!(!v.contains(SECRET), "{table}.{col} holds the password: {v}");
            }
        }
    }
    assert!(cells > 100, "scanned {cells} cells");
    // And the raw bytes of the file and its WAL.
    ws.close().await;
    for p in [path.clone(), path.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&p) {
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{p:?} holds the password"
            );
        }
    }
}

#[tokio::test]
async fn many_findings_across_batches() {
    let (_d, ws) = open_tmp().await;
    let mut fs: Vec<Finding> = (0..1203)
        .map(|i| mismatch(&format!("B{i}"), 100 + i, 90))
        .collect();
    // The same identity again in a later batch: counted once, the later one wins.
    fs.push(mismatch("B3", 777, 90));
    let r1 = ws
        .record_run(&run(t(2, 9), None, RunStatus::Ok), &fs)
        .await
        .unwrap();
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM findings").await, 1203);
    assert_eq!(by_key(&ws, "B3").await.amount_internal, Some(money(777)));
    let b0 = by_key(&ws, "B0").await;
    ws.set_status(b0.id, Status::Resolved, "fixed", "bob")
        .await
        .unwrap();
    let r2 = ws
        .record_run(&run(t(3, 9), None, RunStatus::Ok), &fs[..1000])
        .await
        .unwrap();
    let e = ws.audit_entries(0, 10).await.unwrap();
    let lifecycle = |i: usize| {
        let v: serde_json::Value = serde_json::from_str(&e[i].params).unwrap();
        v["lifecycle"].clone()
    };
    assert_eq!(
        lifecycle(0),
        json!({"new": 1203, "seen_again": 0, "reopened": 0, "absent": 0})
    );
    assert_eq!(
        lifecycle(2),
        json!({"new": 0, "seen_again": 1000, "reopened": 1, "absent": 203})
    );
    assert_eq!(by_key(&ws, "B0").await.status, Status::Open);
    assert_eq!(by_key(&ws, "B3").await.times_seen, 2);
    assert_eq!(by_key(&ws, "B1100").await.last_absent_run, Some(r2));
    assert_eq!(by_key(&ws, "B1100").await.last_seen_run, r1);
    assert_eq!(
        count(
            &ws,
            "SELECT COUNT(*) FROM finding_events WHERE action = 'detected'"
        )
        .await,
        1203
    );
}

#[tokio::test]
async fn input_findings_settle_when_a_later_run_has_a_usable_statement() {
    let (_d, ws) = open_tmp().await;
    let refused = Finding::new(Kind::StatementRefused, "hfb-20240503.csv")
        .explain("对账单未采用", "statement not used");
    let unverified = Finding::new(Kind::FlowsUnverified, "unverified:2024-05-01")
        .amounts(Some(money(123_400)), None)
        .explain("流水未核对", "flows unverified");
    ws.record_run(
        &run(t(2, 9), Some(day(1)), RunStatus::Ok),
        &[refused, unverified, mismatch("B1", 100, 90)],
    )
    .await
    .unwrap();
    // A run without statements checks neither: nothing settles.
    let mut no_statement = run(t(2, 10), Some(day(1)), RunStatus::Ok);
    no_statement.not_checked = STATEMENT_KINDS.to_vec();
    ws.record_run(&no_statement, &[mismatch("B1", 100, 90)])
        .await
        .unwrap();
    assert_eq!(by_key(&ws, "hfb-20240503.csv").await.status, Status::Open);
    // The right statement: the input findings are resolved with a history
    // row; the money break that is gone is only absent, for a person to close.
    let r = ws
        .record_run(&run(t(2, 11), Some(day(1)), RunStatus::Ok), &[])
        .await
        .unwrap();
    for key in ["hfb-20240503.csv", "unverified:2024-05-01"] {
        let f = by_key(&ws, key).await;
        assert_eq!(f.status, Status::Resolved, "{key}");
        let h = ws.history(f.id).await.unwrap();
        let last = h.last().unwrap();
        assert_eq!(
            (last.action.as_str(), last.run_id, last.to),
            ("settled", Some(r), Status::Resolved),
            "{key}"
        );
        assert!(last.note.contains("usable statement"), "{}", last.note);
    }
    let b1 = by_key(&ws, "B1").await;
    assert_eq!(b1.status, Status::Open);
    assert!(b1.is_absent());
}
