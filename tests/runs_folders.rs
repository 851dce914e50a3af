#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Runs never overwrite or lose each other (a results folder per run, or the
//! user's own folder with an earlier run's results set aside), and a run's
//! progress moves: stages in order, the bytes of each statement file read
//! up to its size.

use payrecon::db::{ConnectOptions, Db};
use payrecon::ops::{Outputs, Recorded, reconcile_and_record};
use payrecon::recon::run::{Progress, Stage, Unit, reconcile_with_progress};
use payrecon::recon::{Period, RunOptions, RunStatus, StatementInput};
use payrecon::statement::Format;
use payrecon::workspace::Workspace;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

const DAY: (i32, u32, u32) = (2026, 11, 20);

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(DAY.0, DAY.1, DAY.2).unwrap()
}

/// A demo database and its statement of `DAY`.
async fn demo(dir: &Path) -> (Db, PathBuf) {
    let path = dir.join("shop.db");
    let r = payrecon::demo::build_sqlite(&path, day(), 2026)
        .await
        .unwrap();
    let statement = r
        .statements
        .iter()
        .find(|p| p.display().to_string().contains("hfb-2026-11-20"))
        .unwrap()
        .clone();
    let db = Db::connect(
        &format!("sqlite://{}", path.display()),
        &ConnectOptions::read_only(),
    )
    .await
    .unwrap();
    (db, statement)
}

fn options(db: &Db, files: &[PathBuf]) -> RunOptions {
    RunOptions::new(
        Some(Period::day(day())),
        files
            .iter()
            .map(|p| StatementInput {
                path: p.clone(),
                format: Format::Hfb,
            })
            .collect(),
        db.now(),
    )
}

/// The statement repeated `times` over, under another name.
fn repeated(statement: &Path, dir: &Path, times: usize) -> PathBuf {
    let text = std::fs::read_to_string(statement).unwrap();
    let mut lines = text.lines();
    let mut s = String::from(lines.next().unwrap());
    s.push('\n');
    let body: Vec<&str> = lines.collect();
    for _ in 0..times {
        for l in &body {
            s.push_str(l);
            s.push('\n');
        }
    }
    let p = dir.join(format!("hfb-x{times}.csv"));
    std::fs::write(&p, s).unwrap();
    p
}

#[tokio::test]
async fn progress_moves_through_the_stages_and_reads_each_file_to_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let (db, statement) = demo(dir.path()).await;
    let second = repeated(&statement, dir.path(), 3);
    let files = vec![statement.clone(), second.clone()];
    let mut seen: Vec<Progress> = Vec::new();
    let out = reconcile_with_progress(
        &db,
        &options(&db, &files),
        &AtomicBool::new(false),
        &mut |p: &Progress| seen.push(p.clone()),
    )
    .await;
    assert_eq!(out.status, RunStatus::Ok, "{:?}", out.error);

    // Stages in order, never going back.
    let mut stages: Vec<Stage> = seen.iter().map(|p| p.stage).collect();
    assert!(stages.windows(2).all(|w| w[0] <= w[1]), "{stages:?}");
    stages.dedup();
    assert_eq!(stages.first(), Some(&Stage::Start));
    assert_eq!(stages.last(), Some(&Stage::Summary));
    assert!(stages.contains(&Stage::Checks), "{stages:?}");
    assert!(stages.contains(&Stage::Statement), "{stages:?}");

    // Each file's bytes reach its size, with the size as the total.
    for (i, f) in files.iter().enumerate() {
        let size = std::fs::metadata(f).unwrap().len();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mine: Vec<&Progress> = seen
            .iter()
            .filter(|p| p.stage == Stage::Statement && p.file == Some((i + 1, 2)))
            .collect();
        assert!(!mine.is_empty(), "no progress for {name}: {seen:?}");
        for p in &mine {
            assert_eq!(p.unit, Unit::Bytes);
            assert_eq!(p.total, Some(size));
            assert_eq!(p.item, name);
            assert!(p.done <= size);
        }
        let last = mine.last().unwrap();
        assert_eq!(last.done, size, "{name} read to its end");
        assert_eq!(last.percent(), Some(100));
    }
    // The checks count rows of trans_flow, against SQLite's estimate.
    let checks = seen.iter().find(|p| p.stage == Stage::Checks).unwrap();
    assert_eq!(checks.unit, Unit::Rows);
    assert_eq!(checks.item, "trans_flow");
    assert!(checks.total.is_some() && checks.total_estimated);
}

#[test]
fn a_statement_reader_reports_its_bytes_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_db, statement) = rt.block_on(demo(dir.path()));
    let big = repeated(&statement, dir.path(), 200);
    let size = std::fs::metadata(&big).unwrap().len();
    assert!(size > 1 << 20, "a file of several reports: {size}");
    for format in [
        Format::Hfb,
        Format::Generic(payrecon::statement::GenericMapping {
            key: "agent_bill_no".into(),
            amount: "charge_amt".into(),
            status: None,
            time: None,
            encoding: None,
        }),
    ] {
        let mut reports = Vec::new();
        let r = payrecon::statement::read::read_statement_with_progress(
            &big,
            &format,
            |_| {},
            &mut |b| reports.push(b),
        )
        .unwrap();
        assert!(r.entries > 0);
        assert!(reports.len() > 2, "{format:?}: {reports:?}");
        assert!(reports.windows(2).all(|w| w[0] < w[1]), "{reports:?}");
        assert_eq!(reports.last(), Some(&size), "{format:?}");
    }
}

#[tokio::test]
async fn per_run_folders_keep_every_run_and_a_cancelled_one_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (db, statement) = demo(dir.path()).await;
    let ws = Workspace::open(&dir.path().join("ws.db")).await.unwrap();
    ws.set_operator("Zhao Lei").await.unwrap();
    let root = dir.path().join("results");
    let outputs = Outputs::PerRun(root.clone());
    let opts = options(&db, std::slice::from_ref(&statement));
    let never = AtomicBool::new(false);
    let one = record(&db, &ws, &opts, &outputs, &never).await;
    assert_eq!(one.output.status, RunStatus::Ok);
    assert_eq!(
        one.out_dir,
        root.join("shop")
            .join(format!("2026-11-20-run{}", one.run_id))
    );
    let csv = std::fs::read(one.out_dir.join("findings.csv")).unwrap();
    let json = std::fs::read(one.out_dir.join("summary.json")).unwrap();

    // The same day again, ok: a new folder, the first untouched.
    let two = record(&db, &ws, &opts, &outputs, &never).await;
    assert_ne!(two.out_dir, one.out_dir);
    // Cancelled before it starts.
    let stop = AtomicBool::new(true);
    let three = record(&db, &ws, &opts, &outputs, &stop).await;
    assert_eq!(three.output.status, RunStatus::Cancelled);
    assert!(
        three
            .out_dir
            .ends_with(format!("2026-11-20-run{}-cancelled", three.run_id))
    );
    assert!(!three.out_dir.join("findings.csv").exists());
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(three.out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["status"], "cancelled");
    assert_eq!(
        std::fs::read(one.out_dir.join("findings.csv")).unwrap(),
        csv
    );
    assert_eq!(
        std::fs::read(one.out_dir.join("summary.json")).unwrap(),
        json
    );

    // The workspace lists them newest first with their folders and operator.
    let runs = ws.list_runs(Some(&db.redacted_url()), 10).await.unwrap();
    let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![three.run_id, two.run_id, one.run_id]);
    for (r, rec) in runs.iter().zip([&three, &two, &one]) {
        assert_eq!(r.out_dir.as_deref(), Some(rec.out_dir.to_str().unwrap()));
        assert_eq!(r.operator, "Zhao Lei");
    }
    let page = ws
        .list_runs_before(Some(&db.redacted_url()), Some(two.run_id), 10)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![one.run_id]
    );

    // A folder already there (another workspace's run of that id) is never written into.
    let ws2 = Workspace::open(&dir.path().join("ws2.db")).await.unwrap();
    let other = record(&db, &ws2, &opts, &outputs, &never).await;
    assert_eq!(other.run_id, one.run_id);
    assert_eq!(
        other.out_dir,
        root.join("shop")
            .join(format!("2026-11-20-run{}-2", one.run_id))
    );
    assert_eq!(
        std::fs::read(one.out_dir.join("findings.csv")).unwrap(),
        csv
    );
}

#[tokio::test]
async fn the_users_own_folder_keeps_an_earlier_result_apart_from_a_cancelled_run() {
    let dir = tempfile::tempdir().unwrap();
    let (db, statement) = demo(dir.path()).await;
    let ws = Workspace::open(&dir.path().join("ws.db")).await.unwrap();
    let out = dir.path().join("out");
    let outputs = Outputs::Folder(out.clone());
    let opts = options(&db, std::slice::from_ref(&statement));
    let one = record(&db, &ws, &opts, &outputs, &AtomicBool::new(false)).await;
    assert_eq!(one.out_dir, out);
    let csv = std::fs::read(out.join("findings.csv")).unwrap();
    let json = std::fs::read(out.join("summary.json")).unwrap();
    let two = record(&db, &ws, &opts, &outputs, &AtomicBool::new(true)).await;
    assert_eq!(two.output.status, RunStatus::Cancelled);
    // No findings.csv that could pass for this run's result …
    assert!(!out.join("findings.csv").exists());
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "cancelled");
    // … and the earlier run's results kept, named for what they are.
    let kept = |name: String| std::fs::read(out.join(name)).unwrap();
    assert_eq!(kept(format!("findings.before-run{}.csv", two.run_id)), csv);
    assert_eq!(kept(format!("summary.before-run{}.json", two.run_id)), json);
    let runs = ws.list_runs(None, 10).await.unwrap();
    assert_eq!(runs[0].out_dir.as_deref(), Some(out.to_str().unwrap()));
}

/// One recorded run of `opts` with the test's parameters, no BOM and no progress.
async fn record(
    db: &Db,
    ws: &Workspace,
    opts: &RunOptions,
    outputs: &Outputs,
    cancel: &AtomicBool,
) -> Recorded {
    let params = serde_json::json!({"source": "test"});
    reconcile_and_record(db, ws, opts, params, outputs, false, cancel, &mut |_| {})
        .await
        .unwrap()
}
