//! `reconcile`, `case` and `export` as a finance operator and a support agent
//! run them, including bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payrecon::db::{ConnectOptions, Db};
use payrecon::payment::HandlerKind;
use payrecon::simulate::{self, Faults, SimConfig};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn payrecon(args: &[&str], home: &Path) -> (i32, String, String) {
    support::payrecon_cli(env!("CARGO_BIN_EXE_payrecon"), args, home)
}

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// A simulated faulty day on SQLite and its statement in all three gateway formats.
fn setup(dir: &Path) -> (String, [PathBuf; 3], simulate::Truth) {
    let db_path = dir.join("pay.db");
    let url = format!("sqlite://{}", db_path.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(async {
        let db = Db::connect(&url, &ConnectOptions::read_write())
            .await
            .unwrap();
        payrecon::db::migrate(&db).await.unwrap();
        let mut cfg = SimConfig::new(HandlerKind::Locked, day());
        cfg.recharges = 200;
        cfg.users = 20;
        cfg.faults = Faults {
            exhaust_rate: 0.05,
            abandon_rate: 0.05,
            stray_rate: 0.5,
            refund_rate: 0.05,
            amount_drift_rate: 0.05,
            statement_duplicate_rate: 0.05,
            conflict_rate: 0.05,
            ..Faults::default()
        };
        let r = simulate::run(&db, &cfg).await.unwrap();
        db.close().await;
        r
    });
    let hfb = dir.join("hfb.csv");
    let wx = dir.join("wechat.csv");
    let ali = dir.join("alipay.csv");
    payrecon::statement::hfb::write_file(&hfb, &report.statement).unwrap();
    payrecon::statement::wechat::write_file(&wx, &report.statement, None).unwrap();
    payrecon::statement::alipay::write_file(&ali, &report.statement, None).unwrap();
    (url, [hfb, wx, ali], report.truth)
}

fn findings(dir: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(dir.join("findings.csv")).unwrap();
    r.records()
        .map(|x| x.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

const STATEMENT_KINDS: [&str; 6] = [
    "missing_internal",
    "missing_external",
    "amount_mismatch",
    "status_mismatch",
    "duplicate_in_statement",
    "pending_cross_day",
];

#[test]
fn the_same_breaks_from_hfb_wechat_and_alipay_bills() {
    let home = tempfile::tempdir().unwrap();
    let (url, files, truth) = setup(home.path());
    let mut per_format = Vec::new();
    for (file, format) in files.iter().zip(["hfb", "wechat", "alipay"]) {
        let out = home.path().join(format!("out-{format}"));
        let (code, stdout, stderr) = payrecon(
            &[
                "reconcile",
                "--db",
                &url,
                "--statement",
                file.to_str().unwrap(),
                "--format",
                format,
                "--from",
                "2026-11-19",
                "--to",
                "2026-11-20",
                "--out",
                out.to_str().unwrap(),
            ],
            home.path(),
        );
        assert_eq!(
            code, 1,
            "critical breaks exist, so exit 1: {stdout}{stderr}"
        );
        let rows = findings(&out);
        let got: BTreeSet<(String, String)> = rows
            .iter()
            .filter(|r| STATEMENT_KINDS.contains(&r[0].as_str()))
            .map(|r| (r[0].clone(), r[2].clone()))
            .collect();
        let want: BTreeSet<(String, String)> = STATEMENT_KINDS
            .iter()
            .flat_map(|k| truth.keys(k).into_iter().map(move |b| ((*k).to_owned(), b)))
            .collect();
        assert_eq!(
            got, want,
            "{format}: statement breaks differ from the truth"
        );
        // Direction is stated in words, in both languages.
        for r in rows.iter().filter(|r| r[0] == "missing_internal") {
            assert!(
                r[10].contains("网关有、我方无") && r[10].contains("gateway has it, we don't"),
                "{r:?}"
            );
        }
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["status"], "ok");
        assert_eq!(
            summary["files"][0]["totals_ok"],
            if format == "hfb" {
                serde_json::Value::Null
            } else {
                true.into()
            }
        );
        per_format.push(got);
    }
    assert!(!per_format[0].is_empty());
}

#[test]
fn a_truncated_wechat_bill_is_not_reconciled() {
    let home = tempfile::tempdir().unwrap();
    let (url, _, _) = setup(home.path());
    // Rebuild the WeChat bill with its last 5 rows cut off but its footer intact.
    let mut lines = Vec::new();
    payrecon::statement::read_statement(
        &home.path().join("hfb.csv"),
        &payrecon::statement::Format::Hfb,
        |e| {
            lines.push(payrecon::statement::hfb::Line {
                agent_bill_no: e.agent_bill_no,
                bind_code: e.bind_code.unwrap_or_default(),
                charge_amt: e.amount,
                fee_amt: e.fee.unwrap_or_default(),
                status: e.status,
                paid_at: e.paid_at.unwrap(),
            })
        },
    )
    .unwrap();
    let wx = home.path().join("cut.csv");
    payrecon::statement::wechat::write_file(&wx, &lines, Some(lines.len() - 5)).unwrap();
    let out = home.path().join("out");
    let (code, stdout, _) = payrecon(
        &[
            "reconcile",
            "--db",
            &url,
            "--statement",
            wx.to_str().unwrap(),
            "--format",
            "wechat",
            "--day",
            "2026-11-20",
            "--out",
            out.to_str().unwrap(),
            "--bom",
        ],
        home.path(),
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("NOT reconciled"), "{stdout}");
    let raw = std::fs::read(out.join("findings.csv")).unwrap();
    assert!(raw.starts_with(b"\xEF\xBB\xBFkind,severity,agent_bill_no,user_id,amount_internal,amount_external,difference,first_seen,last_seen,attempts,detail"));
    let rows = findings(&out);
    assert!(
        rows.iter()
            .any(|r| r[0] == "statement_total_mismatch" && r[1] == "critical")
    );
    // Its rows were not used: nothing is "missing_internal" because of it.
    assert!(
        !rows.iter().any(|r| r[0] == "missing_internal"),
        "a truncated file must not be reconciled"
    );
}

#[test]
fn bad_statement_input_is_one_sentence_and_recorded_as_failed() {
    let home = tempfile::tempdir().unwrap();
    let (url, files, _) = setup(home.path());
    let empty = home.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let broken = home.path().join("broken.csv");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_owned).collect();
    cells[2] = "12.3.4".into();
    lines[3] = cells.join(",");
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();

    let run = |args: &[&str]| {
        let out = home.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        let mut a = vec!["reconcile", "--db", &url, "--out", out.to_str().unwrap()];
        a.extend_from_slice(args);
        let r = payrecon(&a, home.path());
        (r, out)
    };
    let one = |stderr: &str| {
        let l: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(l.len(), 1, "{stderr}");
        l[0].to_owned()
    };
    // Wrong format word.
    let ((code, _, err), _) = run(&[
        "--statement",
        files[0].to_str().unwrap(),
        "--format",
        "csv",
        "--day",
        "2026-11-20",
    ]);
    assert_eq!(code, 2);
    assert!(
        one(&err).contains("--format csv: unknown statement format 'csv'"),
        "{err}"
    );
    // A file that cannot be used is refused, once, with its reason: the run
    // completes, nothing is matched against it, and the day's flows are
    // unverified — never missing.
    let refused = |args: &[&str], reason: &str, flows_that_day: bool| {
        let ((code, stdout, err), out) = run(args);
        assert_eq!(code, 1, "{err}");
        assert!(
            stdout.contains("NOT reconciled") && stdout.contains(reason),
            "{stdout}"
        );
        assert_eq!(stdout.contains("UNVERIFIED"), flows_that_day, "{stdout}");
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(s["status"], "ok");
        assert_eq!(s["files"][0]["role"], "refused");
        assert!(
            s["files"][0]["refused"].as_str().unwrap().contains(reason),
            "{s}"
        );
        assert_eq!(s["by_kind"]["statement_refused"], 1, "{s}");
        assert_eq!(
            s["unverified"]["flows"].as_u64().unwrap() > 0,
            flows_that_day,
            "{s}"
        );
        let rows = findings(&out);
        assert!(
            !rows.iter().any(|r| r[0].starts_with("missing_")),
            "a refused file makes no missing_* finding"
        );
        assert_eq!(
            rows.iter().any(|r| r[0] == "flows_unverified"),
            flows_that_day
        );
    };
    // A GBK file read as UTF-8.
    refused(
        &[
            "--statement",
            files[2].to_str().unwrap(),
            "--format",
            "hfb",
            "--day",
            "2026-11-20",
        ],
        "is not UTF-8",
        true,
    );
    // An empty file.
    refused(
        &[
            "--statement",
            empty.to_str().unwrap(),
            "--format",
            "hfb",
            "--day",
            "2026-11-20",
        ],
        "empty",
        true,
    );
    // A statement for another day.
    refused(
        &[
            "--statement",
            files[0].to_str().unwrap(),
            "--format",
            "hfb",
            "--day",
            "2026-10-01",
        ],
        "wrong file or wrong day",
        false,
    );
    // A broken amount: reported with its line, the rest reconciled.
    let ((code, stdout, err), out) = run(&[
        "--statement",
        broken.to_str().unwrap(),
        "--format",
        "hfb",
        "--day",
        "2026-11-20",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        stdout.contains("1 bad rows") && stdout.contains("line 4"),
        "{stdout}"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["files"][0]["row_errors"][0][0], 4);
}

#[test]
fn support_agent_reads_the_story_and_exports_it() {
    let home = tempfile::tempdir().unwrap();
    let (url, _, truth) = setup(home.path());
    let exhausted = truth.keys("notify_exhausted");
    let bill = exhausted.first().expect("the setup exhausts some bills");
    let (code, out, err) = payrecon(&["case", "--db", &url, "--bill", bill], home.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("已付款未到账") && out.contains("paid but not credited"),
        "{out}"
    );
    assert!(out.contains("网关已停止重试"), "{out}");
    let (code, json, _) = payrecon(
        &["case", "--db", &url, "--bill", bill, "--json"],
        home.path(),
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["bill"]["verdict"], "paid_not_credited");
    assert!(v["bill"]["attempts"].as_array().unwrap().len() >= 5);
    let uid = v["bill"]["user_id"].as_i64().unwrap();
    // By mobile: the same user, the same bill, with its verdict.
    let mobile = v["users"][0]["mobile"].as_str().unwrap().to_owned();
    let (code, out, _) = payrecon(&["case", "--db", &url, "--mobile", &mobile], home.path());
    assert_eq!(code, 0);
    assert!(
        out.contains(bill.as_str()) && out.contains(&format!("User {uid}")),
        "{out}"
    );
    let (code, _, _) = payrecon(
        &["case", "--db", &url, "--bill", "CHARGE00000000000000000"],
        home.path(),
    );
    assert_eq!(code, 1, "nothing found exits 1");

    // Export that user's notify attempts, filtered, and read them back.
    let csv_path = home.path().join("notify.csv");
    let (code, out, err) = payrecon(
        &[
            "export",
            "--db",
            &url,
            "--view",
            "notify",
            "--key",
            bill,
            "--status",
            "failed",
            "--out",
            csv_path.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(rows.len() >= 5);
    assert!(
        rows.iter()
            .all(|x| &x[1] == bill.as_str() && &x[6] == "failed")
    );
    // Amounts exact, times with milliseconds in the business zone.
    assert!(rows[0][3].ends_with(|c: char| c.is_ascii_digit()) && rows[0][3].contains('.'));
    assert_eq!(rows[0][8].len(), "2026-11-20 00:00:00.000".len());
    // A filter that makes no sense for the view is one sentence.
    let (code, _, err) = payrecon(
        &[
            "export",
            "--db",
            &url,
            "--view",
            "flows",
            "--status",
            "2",
            "--out",
            csv_path.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("have no status"), "{err}");
}

mod support;

/// The database connection dies mid-run (the server kills it): the run is
/// recorded as failed with the reason, exit 2, and no findings.csv pretends
/// to be a result. The kill is made deterministic by first blocking the run
/// behind a table lock held from an admin session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_killed_mid_run_is_a_failed_run() {
    use sqlx::{Connection as _, Executor as _};
    for backend in [support::Backend::Postgres, support::Backend::MySql] {
        let home = tempfile::tempdir().unwrap();
        let t = support::fresh_db(backend).await;
        {
            let db = Db::connect(&t.url, &ConnectOptions::read_write())
                .await
                .unwrap();
            payrecon::db::migrate(&db).await.unwrap();
            db.close().await;
        }
        let out = home.path().join("out");
        let mut child = Command::new(env!("CARGO_BIN_EXE_payrecon"));
        child
            .args(["reconcile", "--db", &t.url, "--out", out.to_str().unwrap()])
            .env("HOME", home.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        match backend {
            support::Backend::Postgres => {
                let mut admin = sqlx::PgConnection::connect(&t.url).await.unwrap();
                admin.execute("BEGIN").await.unwrap();
                admin
                    .execute("LOCK TABLE notify_log, trans_flow, user_account, recharge_order, idempotency_record IN ACCESS EXCLUSIVE MODE")
                    .await
                    .unwrap();
                let proc = child.spawn().unwrap();
                assert!(
                    pg_waiting_run(&t.url, |_| true, true).await,
                    "the run never blocked on the lock"
                );
                admin.execute("ROLLBACK").await.unwrap();
                let o = tokio::task::spawn_blocking(move || proc.wait_with_output())
                    .await
                    .unwrap()
                    .unwrap();
                check_failed(&o, &out);
            }
            support::Backend::MySql => {
                let mut admin = sqlx::MySqlConnection::connect(&t.url).await.unwrap();
                admin
                    .execute("LOCK TABLES notify_log WRITE, trans_flow WRITE, user_account WRITE, recharge_order WRITE, idempotency_record WRITE")
                    .await
                    .unwrap();
                let proc = child.spawn().unwrap();
                assert!(
                    kill_mysql_waiting_on_lock(&t.url, "%").await,
                    "the run never blocked on the lock"
                );
                admin.execute("UNLOCK TABLES").await.unwrap();
                let o = tokio::task::spawn_blocking(move || proc.wait_with_output())
                    .await
                    .unwrap()
                    .unwrap();
                check_failed(&o, &out);
            }
            support::Backend::Sqlite => {}
        }
    }
}

/// A fresh database on `backend` with payrecon's tables.
async fn migrated(backend: support::Backend) -> support::TestDb {
    let t = support::fresh_db(backend).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    db.close().await;
    t
}

/// Kills, from a session of its own, every connection to `url`'s database
/// that waits on a table lock with a statement `LIKE info` (polled for up to
/// 10 s); whether one was killed.
async fn kill_mysql_waiting_on_lock(url: &str, info: &str) -> bool {
    use sqlx::{Connection as _, Executor as _, Row as _};
    let mut probe = sqlx::MySqlConnection::connect(url).await.unwrap();
    for _ in 0..400 {
        let ids: Vec<i64> = sqlx::query(
            "SELECT id FROM information_schema.processlist WHERE db = DATABASE() \
             AND state LIKE '%lock%' AND info LIKE ? AND id <> CONNECTION_ID()",
        )
        .bind(info)
        .fetch_all(&mut probe)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
        for id in &ids {
            probe
                .execute(sqlx::AssertSqlSafe(format!("KILL {id}")))
                .await
                .unwrap();
        }
        if !ids.is_empty() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    false
}

/// MySQL: the connection of payrecon's own row reader dies while it streams
/// the flows (the server kills it): a failed run that says the server closed
/// the connection. The scan is made to wait first behind a lock on
/// `trans_flow` alone, so the kill hits it and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_scan_killed_mid_run_is_a_failed_run() {
    use sqlx::{Connection as _, Executor as _};
    let home = tempfile::tempdir().unwrap();
    let t = migrated(support::Backend::MySql).await;
    let out = home.path().join("out");
    let mut admin = sqlx::MySqlConnection::connect(&t.url).await.unwrap();
    admin.execute("LOCK TABLES trans_flow WRITE").await.unwrap();
    let proc = Command::new(env!("CARGO_BIN_EXE_payrecon"))
        .args(["reconcile", "--db", &t.url, "--out", out.to_str().unwrap()])
        .env("HOME", home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let killed =
        kill_mysql_waiting_on_lock(&t.url, "SELECT user_id, trans_type, trans_amount%").await;
    admin.execute("UNLOCK TABLES").await.unwrap();
    assert!(killed, "the flows' scan never waited on the lock");
    let o = tokio::task::spawn_blocking(move || proc.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    check_failed(&o, &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the server closed the connection"), "{err}");
}

/// PostgreSQL: the connection of the flows' COPY scan dies while the order
/// scan runs beside it. Made deterministic with two locks: the run first
/// waits on `notify_log` (after reading the schema); meanwhile `trans_flow`
/// is locked from a second session and `notify_log` freed, so the run goes
/// on to its COPY of `trans_flow`, which waits — and is killed there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_copy_scan_killed_mid_run_is_a_failed_run() {
    use sqlx::{Connection as _, Executor as _};
    let home = tempfile::tempdir().unwrap();
    let t = migrated(support::Backend::Postgres).await;
    let out = home.path().join("out");
    let mut first = sqlx::PgConnection::connect(&t.url).await.unwrap();
    first.execute("BEGIN").await.unwrap();
    first
        .execute("LOCK TABLE notify_log IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let mut second = sqlx::PgConnection::connect(&t.url).await.unwrap();
    let proc = Command::new(env!("CARGO_BIN_EXE_payrecon"))
        .args(["reconcile", "--db", &t.url, "--out", out.to_str().unwrap()])
        .env("HOME", home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        pg_waiting_run(&t.url, |q| q.contains("notify_log"), false).await,
        "the run never waited on notify_log"
    );
    second.execute("BEGIN").await.unwrap();
    second
        .execute("LOCK TABLE trans_flow IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    first.execute("ROLLBACK").await.unwrap();
    assert!(
        pg_waiting_run(&t.url, |q| q.starts_with("COPY (SELECT user_id"), true).await,
        "the run's COPY of trans_flow never waited on the lock"
    );
    second.execute("ROLLBACK").await.unwrap();
    let o = tokio::task::spawn_blocking(move || proc.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    check_failed(&o, &out);
}

/// Waits (up to 5 s) until a query of payrecon's in this test's database
/// waits on a lock and its text passes `pick`; with `kill`, terminates its
/// connection. Whether one was found. (Other tests run at the same time on
/// the same server: only this database is looked at.)
async fn pg_waiting_run(url: &str, pick: impl Fn(&str) -> bool, kill: bool) -> bool {
    use sqlx::{Connection as _, Executor as _, Row as _};
    let mut probe = sqlx::PgConnection::connect(url).await.unwrap();
    for _ in 0..200 {
        let waiting: Vec<(i32, String)> = probe
            .fetch_all(sqlx::query(
                "SELECT pid, query FROM pg_stat_activity \
                 WHERE application_name = 'payrecon' AND wait_event_type = 'Lock' \
                 AND datname = current_database()",
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<i32, _>(0), r.get::<String, _>(1)))
            .collect();
        let mut found = false;
        for (pid, _) in waiting.iter().filter(|w| pick(&w.1)) {
            found = true;
            if kill {
                probe
                    .execute(sqlx::query("SELECT pg_terminate_backend($1)").bind(*pid))
                    .await
                    .unwrap();
            }
        }
        if found {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    false
}

fn check_failed(o: &std::process::Output, out: &Path) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("reconciliation failed"), "{err}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "failed");
    assert!(s["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(!out.join("findings.csv").exists());
}

/// The workspace keeps runs (failed ones too), findings with their
/// lifecycle, resolutions with notes, and an audit chain that detects edits.
#[test]
fn workspace_runs_resolutions_and_the_audit_chain() {
    let home = tempfile::tempdir().unwrap();
    let (url, files, _) = setup(home.path());
    let ws = home.path().join("ws.db");
    let ws_s = ws.to_str().unwrap();
    let out = home.path().join("out");
    let args = |day: &str| {
        vec![
            "reconcile".to_owned(),
            "--db".into(),
            url.clone(),
            "--statement".into(),
            files[0].display().to_string(),
            "--format".into(),
            "hfb".into(),
            "--day".into(),
            day.into(),
            "--out".into(),
            out.display().to_string(),
            "--workspace".into(),
            ws_s.into(),
        ]
    };
    let run = |a: Vec<String>| {
        let v: Vec<&str> = a.iter().map(String::as_str).collect();
        payrecon(&v, home.path())
    };
    assert_eq!(run(args("2026-11-20")).0, 1);
    assert_eq!(run(args("2026-11-20")).0, 1);
    // A failed run (a database without the payment tables) is recorded as failed.
    let blank = home.path().join("blank.db");
    std::fs::write(&blank, "").unwrap();
    let mut failing = args("2026-11-20");
    failing[2] = format!("sqlite://{}", blank.display());
    let (code, _, err) = run(failing);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("neither trans_flow nor notify_log"), "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (runs, open) = rt.block_on(async {
        let w = payrecon::workspace::Workspace::open(&ws).await.unwrap();
        let runs = w.list_runs(None, 10).await.unwrap();
        let open = w
            .list_findings(&payrecon::workspace::FindingFilter::default())
            .await
            .unwrap();
        (runs, open)
    });
    assert_eq!(runs.len(), 3);
    let statuses: Vec<String> = runs
        .iter()
        .map(|r| format!("{:?}", r.status).to_lowercase())
        .collect();
    assert!(statuses.contains(&"failed".to_owned()), "{statuses:?}");
    let f = open
        .iter()
        .find(|f| f.kind.as_str() == "missing_internal")
        .expect("a missing_internal finding");
    assert_eq!(
        f.times_seen, 2,
        "seen in both ok runs, not counted by the failed one"
    );
    let id = f.id.to_string();
    // Resolving needs a note; with one it is recorded with the operator.
    let (code, _, err) = payrecon(
        &[
            "findings",
            "set",
            &id,
            "--status",
            "resolved",
            "--workspace",
            ws_s,
        ],
        home.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("note is required"), "{err}");
    let (code, _, err) = payrecon(
        &[
            "findings",
            "set",
            &id,
            "--status",
            "resolved",
            "--note",
            "补单：已人工入账 credited by hand",
            "--workspace",
            ws_s,
        ],
        home.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, show, _) = payrecon(&["findings", "show", &id, "--workspace", ws_s], home.path());
    assert_eq!(code, 0);
    assert!(
        show.contains("resolved") && show.contains("补单：已人工入账"),
        "{show}"
    );
    // Export is audited too; the chain verifies.
    let csv_path = home.path().join("o.csv");
    assert_eq!(
        payrecon(
            &[
                "export",
                "--db",
                &url,
                "--view",
                "orders",
                "--out",
                csv_path.to_str().unwrap(),
                "--workspace",
                ws_s
            ],
            home.path()
        )
        .0,
        0
    );
    // The findings view exports what the operator resolved, with its status.
    let fcsv = home.path().join("resolved.csv");
    let (code, _, err) = payrecon(
        &[
            "export",
            "--db",
            &url,
            "--view",
            "findings",
            "--status",
            "resolved",
            "--out",
            fcsv.to_str().unwrap(),
            "--workspace",
            ws_s,
        ],
        home.path(),
    );
    assert_eq!(code, 0, "{err}");
    let mut r = csv::Reader::from_path(&fcsv).unwrap();
    let header = r.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][col("kind")], "missing_internal");
    assert_eq!(&rows[0][col("id")], id.as_str());
    assert_eq!(&rows[0][col("status")], "resolved");
    // The resolution's note and operator travel with it.
    assert!(!rows[0][col("note")].is_empty(), "{:?}", rows[0]);
    assert!(!rows[0][col("operator")].is_empty(), "{:?}", rows[0]);
    let (code, text, _) = payrecon(&["audit", "verify", "--workspace", ws_s], home.path());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("intact"), "{text}");
    let (_, log, _) = payrecon(&["audit", "show", "--workspace", ws_s], home.path());
    for action in ["reconcile", "resolve", "export"] {
        assert!(log.contains(action), "{action} not audited:\n{log}");
    }
    // Someone edits an audit entry behind payrecon's back: verify says so.
    rt.block_on(async {
        use sqlx::Executor as _;
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ws.display())).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%audit%' AND name NOT LIKE '%head%'")
            .fetch_all(&pool)
            .await
            .unwrap();
        let t = &tables[0];
        pool.execute(sqlx::AssertSqlSafe(format!("UPDATE {t} SET operator = 'mallory' WHERE seq = 2"))).await.unwrap();
        pool.close().await;
    });
    let (code, text, _) = payrecon(&["audit", "verify", "--workspace", ws_s], home.path());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("BROKEN") && text.contains("entry 2"),
        "{text}"
    );
}

/// An Alipay business detail bill with a full and a partial refund, in the
/// real footer wording (`#退款合计：N笔，商家实收退款共-X元…`), as Alipay writes
/// it (GBK) and re-saved as UTF-8 with a BOM: its footer is verified, it is
/// reconciled, and each refund of a recharge we credited is a
/// `status_mismatch` carrying the part refunded.
#[test]
fn an_alipay_bill_with_refunds_reconciles_in_gbk_and_utf8() {
    use rust_decimal::Decimal;
    let home = tempfile::tempdir().unwrap();
    let (url, files, truth) = setup(home.path());
    let mut paid = Vec::new();
    payrecon::statement::read_statement(&files[0], &payrecon::statement::Format::Hfb, |e| {
        if e.status == payrecon::statement::hfb::GatewayStatus::Success {
            paid.push(e);
        }
    })
    .unwrap();
    let troubled: BTreeSet<String> = STATEMENT_KINDS.iter().flat_map(|k| truth.keys(k)).collect();
    let clean: Vec<_> = paid
        .iter()
        .filter(|e| !troubled.contains(&e.agent_bill_no))
        .collect();
    let (full, part) = (clean[3], clean[7]);
    let half = (part.amount / Decimal::from(2)).round_dp(2);
    let mut lines = vec![
        "#支付宝业务明细查询".to_owned(),
        "#账号：[20881234567890120156]".to_owned(),
        "#起始日期：[2026年11月20日 00:00:00]   终止日期：[2026年11月21日 00:00:00]".to_owned(),
        "#-----------------------------------------业务明细列表----------------------------------------".to_owned(),
        payrecon::statement::alipay::HEADER.join(","),
    ];
    let row = |seq: usize, bill: &str, kind: &str, time: &str, order: Decimal, got: String| {
        format!(
            "2026112022001400{seq:012}\t,{bill}\t,{kind},账户充值,{time},{time},,,,,138****0000,{order},{got},0.00,0.00,0.00,0.00,0.00,,0.00,0.00,{},0.00,0.00,",
            if kind == "退款" {
                format!("R{seq}\t")
            } else {
                String::new()
            }
        )
    };
    let mut total = Decimal::ZERO;
    for (i, e) in paid.iter().enumerate() {
        let t = e.paid_at.unwrap().format("%Y-%m-%d %H:%M:%S").to_string();
        lines.push(row(
            i,
            &e.agent_bill_no,
            "交易",
            &t,
            e.amount,
            e.amount.to_string(),
        ));
        total += e.amount;
    }
    lines.push(row(
        9001,
        &full.agent_bill_no,
        "退款",
        "2026-11-20 18:00:05",
        full.amount,
        format!("-{}", full.amount),
    ));
    lines.push(row(
        9002,
        &part.agent_bill_no,
        "退款",
        "2026-11-20 19:00:05",
        part.amount,
        format!("-{half}"),
    ));
    lines.push("#-----------------------------------------业务明细列表结束------------------------------------".to_owned());
    lines.push(format!(
        "#交易合计：{}笔，商家实收共{total}元，商家优惠共0.00元",
        paid.len()
    ));
    lines.push(format!(
        "#退款合计：2笔，商家实收退款共-{}元，商家优惠退款共0.00元",
        full.amount + half
    ));
    lines.push("#导出时间：[2026年11月21日 09:00:00]".to_owned());
    let text = lines.join("\r\n") + "\r\n";
    let gbk = home.path().join("alipay-refunds-gbk.csv");
    std::fs::write(&gbk, encoding_rs::GBK.encode(&text).0).unwrap();
    let utf8 = home.path().join("alipay-refunds-utf8.csv");
    std::fs::write(&utf8, [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat()).unwrap();
    for (file, encoding) in [(&gbk, "GBK"), (&utf8, "UTF-8 with BOM")] {
        let out = home.path().join(format!("out-{encoding}"));
        let (code, stdout, err) = payrecon(
            &[
                "reconcile",
                "--db",
                &url,
                "--statement",
                file.to_str().unwrap(),
                "--format",
                "alipay",
                "--day",
                "2026-11-20",
                "--out",
                out.to_str().unwrap(),
            ],
            home.path(),
        );
        assert_eq!(code, 1, "{err}");
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        let f = &s["files"][0];
        assert_eq!(f["encoding"], encoding, "{stdout}");
        assert_eq!(f["totals_ok"], true, "{stdout}");
        assert_eq!(f["role"], "reconciled", "{stdout}");
        assert_eq!(f["entries"], paid.len() as u64 + 2);
        assert!(
            s["by_kind"].get("statement_total_mismatch").is_none(),
            "{s}"
        );
        assert!(s["by_kind"].get("statement_refused").is_none(), "{s}");
        let rows = findings(&out);
        let of = |bill: &str| {
            rows.iter()
                .find(|r| r[0] == "status_mismatch" && r[2] == bill)
                .unwrap_or_else(|| panic!("{encoding}: no status_mismatch for {bill}"))
                .clone()
        };
        let r = of(&full.agent_bill_no);
        assert_eq!(r[6], full.amount.to_string(), "{r:?}");
        assert!(
            r[10].contains("refunded at the gateway") && r[10].contains("2026-11-20 18:00:05"),
            "{r:?}"
        );
        let r = of(&part.agent_bill_no);
        assert_eq!(r[6], half.to_string(), "{r:?}");
        assert!(
            r[10].contains(&format!(
                "partly refunded at the gateway ({half} of {}",
                part.amount
            )),
            "{r:?}"
        );
        for bill in [&full.agent_bill_no, &part.agent_bill_no] {
            assert!(
                !rows
                    .iter()
                    .any(|r| r[2] == *bill && r[0] != "status_mismatch"),
                "{encoding}: {bill} is reported once"
            );
        }
    }
}
