//! The `payrecon` binary as a user runs it: bad input gets one clear sentence,
//! exit code 2, and nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use support::{Backend, fresh_db};

fn payrecon(args: &[&str], home: &Path) -> (i32, String, String) {
    support::payrecon_cli(env!("CARGO_BIN_EXE_payrecon"), args, home)
}

fn one_sentence(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0]
}

#[test]
fn malformed_url_is_named_without_its_password() {
    let home = tempfile::tempdir().unwrap();
    for bad in [
        "postgres://bob:hunter2@/pay",
        "mysql://bob:hunter2@db",
        "oracle://x/y",
    ] {
        let (code, _, err) = payrecon(&["schema", "--db", bad], home.path());
        assert_eq!(code, 2, "{bad}: {err}");
        let line = one_sentence(&err);
        assert!(line.contains("not a usable database URL"), "{line}");
        assert!(!line.contains("hunter2"), "password leaked: {line}");
    }
}

#[test]
fn unreachable_server_is_one_sentence_and_exit_2() {
    let home = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    for url in [
        "postgres://bob:hunter2@127.0.0.1:1/pay",
        "mysql://bob:hunter2@127.0.0.1:1/pay",
    ] {
        let (code, _, err) = payrecon(&["simulate", "--db", url, "--recharges", "1"], home.path());
        assert_eq!(code, 2, "{err}");
        let line = one_sentence(&err);
        assert!(
            line.contains("cannot connect") && line.contains("127.0.0.1:1"),
            "{line}"
        );
        assert!(!line.contains("hunter2"), "{line}");
    }
}

#[test]
fn missing_sqlite_file_is_not_created_by_simulate() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("nope.db");
    let url = format!("sqlite://{}", path.display());
    let (code, _, err) = payrecon(&["simulate", "--db", &url], home.path());
    assert_eq!(code, 2);
    assert!(one_sentence(&err).contains("does not exist"), "{err}");
    assert!(!path.exists(), "simulate must not create a database");
}

#[tokio::test]
async fn database_without_contract_tables_is_refused_and_left_untouched() {
    let home = tempfile::tempdir().unwrap();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        let t = fresh_db(backend).await;
        {
            let db = payrecon::db::Db::connect(&t.url, &payrecon::db::ConnectOptions::read_write())
                .await
                .unwrap();
            db.execute("CREATE TABLE unrelated (id INTEGER)", &[])
                .await
                .unwrap();
            db.close().await;
        }
        let (code, _, err) = payrecon(&["simulate", "--db", &t.url], home.path());
        assert_eq!(code, 2, "{backend:?}: {err}");
        let line = one_sentence(&err);
        assert!(
            line.contains("user_info") && line.contains("payrecon migrate"),
            "{line}"
        );
        let db = payrecon::db::Db::connect(&t.url, &payrecon::db::ConnectOptions::read_only())
            .await
            .unwrap();
        let s = payrecon::db::schema::discover(&db).await.unwrap();
        assert!(
            s.tables.is_empty(),
            "{backend:?}: nothing may be written, found {:?}",
            s.tables.keys()
        );
    }
}

#[test]
fn bad_rate_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("p.db");
    let url = format!("sqlite://{}", db.display());
    let (code, _, _) = payrecon(&["migrate", "--db", &url], home.path());
    assert_eq!(code, 0);
    let (code, _, err) = payrecon(
        &["simulate", "--db", &url, "--duplicate-rate", "1.5"],
        home.path(),
    );
    assert_eq!(code, 2);
    assert!(
        one_sentence(&err).contains("--duplicate-rate must be between 0 and 1"),
        "{err}"
    );
}

#[test]
fn simulate_cli_reproduces_the_double_credit_with_naive_only() {
    let home = tempfile::tempdir().unwrap();
    for (handler, legacy) in [("naive", true), ("locked", true), ("locked", false)] {
        let db = home.path().join(format!("{handler}-{legacy}.db"));
        let url = format!("sqlite://{}", db.display());
        if legacy {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let d =
                    payrecon::db::Db::connect(&url, &payrecon::db::ConnectOptions::read_write())
                        .await
                        .unwrap();
                payrecon::db::schema::create_legacy_trans_flow(&d)
                    .await
                    .unwrap();
                d.close().await;
            });
        }
        assert_eq!(payrecon(&["migrate", "--db", &url], home.path()).0, 0);
        let truth = home.path().join(format!("{handler}-{legacy}.json"));
        let stmt = home.path().join(format!("{handler}-{legacy}.csv"));
        let (code, out, err) = payrecon(
            &[
                "simulate",
                "--db",
                &url,
                "--handler",
                handler,
                "--recharges",
                "100",
                "--users",
                "10",
                "--duplicate-rate",
                "0.5",
                "--concurrency",
                "8",
                "--seed",
                "7",
                "--day",
                "2026-11-20",
                "--truth-out",
                truth.to_str().unwrap(),
                "--statement-out",
                stmt.to_str().unwrap(),
            ],
            home.path(),
        );
        assert_eq!(code, 0, "{out}{err}");
        let t: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
        let doubles = t["anomalies"]["duplicate_credit"]
            .as_array()
            .map_or(0, Vec::len);
        if handler == "naive" {
            assert!(doubles > 0, "naive must double-credit: {out}");
        } else {
            assert_eq!(
                doubles, 0,
                "locked must never double-credit ({legacy}): {out}"
            );
        }
        let csv = std::fs::read_to_string(&stmt).unwrap();
        assert!(csv.starts_with("agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\n"));
        // The previous evening's last payment belongs to this day's file.
        assert!(
            csv.contains(",2026-11-19 23:59:"),
            "carry-in line missing:\n{csv}"
        );
        assert!(
            !csv.contains(",2026-11-20 23:59:5"),
            "after-cutoff payments belong to tomorrow's file"
        );
    }
}

#[test]
fn demo_has_an_example_of_every_finding_kind() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("demo.db");
    let url = format!("sqlite://{}", path.display());
    let (code, out, err) = payrecon(&["demo", "--db", &url], home.path());
    assert_eq!(code, 0, "{out}{err}");
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join("demo-truth.json")).unwrap(),
    )
    .unwrap();
    for kind in [
        "duplicate_notify",
        "duplicate_credit",
        "notify_conflict",
        "balance_mismatch",
        "order_paid_without_flow",
        "flow_without_paid_order",
        "order_stuck",
        "notify_exhausted",
        "idempotency_stuck",
        "idempotency_conflict",
        "schema_risk",
        "missing_internal",
        "missing_external",
        "amount_mismatch",
        "status_mismatch",
        "duplicate_in_statement",
        "pending_cross_day",
        "statement_total_mismatch",
        "fee_mismatch",
        "settlement_missing",
        "settlement_amount_mismatch",
        "settlement_unexplained",
        "custody_balance_mismatch",
        "custody_unknown_account",
    ] {
        let n = truth["anomalies"][kind].as_array().map_or(0, Vec::len);
        assert!(n > 0, "demo has no {kind}: {out}");
    }
    // The database agrees with the truth: every double credit is really there.
    let doubled: Vec<String> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = payrecon::db::Db::connect(&url, &payrecon::db::ConnectOptions::read_only())
            .await
            .unwrap();
        db.fetch_all(
            "SELECT trans_no FROM trans_flow WHERE trans_type = 1 GROUP BY trans_no HAVING COUNT(*) > 1 ORDER BY trans_no",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect()
    });
    let truth_doubled: Vec<String> = truth["anomalies"]["duplicate_credit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(doubled, truth_doubled);
    assert!(
        !home.path().join("demo.db-wal").exists(),
        "the demo is one self-contained file"
    );
    // A second demo into the same file is refused, and the first is intact.
    let (code, _, err) = payrecon(&["demo", "--db", &url], home.path());
    assert_eq!(code, 2);
    assert!(one_sentence(&err).contains("already exists"));
}

/// The README's main command opens the console on the demo, built on first
/// run; `--screenshot` renders a view of the real window (under Xvfb here) and
/// exits. CI installs xvfb; without it this test fails, it never skips.
#[test]
fn console_opens_on_the_demo_and_screenshots_its_views() {
    let home = tempfile::tempdir().unwrap();
    let xvfb = std::process::Command::new("xvfb-run")
        .arg("--help")
        .output();
    assert!(
        xvfb.is_ok(),
        "xvfb-run is needed for the window test (apt-get install xvfb)"
    );
    for (view, extra) in [
        ("overview", None),
        ("case", Some("--case=13800000000")),
        ("flows", None),
    ] {
        let png = home.path().join(format!("{view}.png"));
        let png_arg = format!("--screenshot={}", png.display());
        let mut args = vec![
            "-a",
            "-s",
            "-screen 0 1400x900x24",
            env!("CARGO_BIN_EXE_payrecon"),
            "gui",
            "--lang=zh",
            "--view",
            view,
            png_arg.as_str(),
        ];
        args.extend(extra);
        let (code, out, err) = support::payrecon_cli("xvfb-run", &args, home.path());
        assert_eq!(code, 0, "{view}: {out}{err}");
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{view}: not a PNG");
        assert!(
            bytes.len() > 20_000,
            "{view}: an empty picture ({} bytes)",
            bytes.len()
        );
    }
    // The demo was built once, by the first start, in the data directory.
    assert!(home.path().join("data/payrecon/demo.db").is_file());
}

/// `export --out x.xlsx` writes an Excel workbook (by the name, or
/// `--format xlsx`); a `--format` that contradicts the name is one sentence,
/// exit 2, and no file.
#[test]
fn export_to_xlsx_writes_a_workbook_and_a_contradicting_format_is_refused() {
    use std::io::Read as _;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("demo.db");
    let url = format!("sqlite://{}", path.display());
    let (code, out, err) = payrecon(&["demo", "--db", &url], home.path());
    assert_eq!(code, 0, "{out}{err}");
    let ws = home.path().join("ws.db");
    let ws = ws.to_str().unwrap();
    let x = home.path().join("x.xlsx");
    let (code, out, err) = payrecon(
        &[
            "--workspace",
            ws,
            "export",
            "--db",
            &url,
            "--view",
            "flows",
            "--out",
            x.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let sheet = |p: &Path| -> String {
        let mut z = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
        let mut s = String::new();
        z.by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let xml = sheet(&x);
    // The header as inline text, frozen, filtered; amounts styled numbers.
    assert!(
        xml.contains("<t>trans_no</t>") && xml.contains("<t>trans_amount</t>"),
        "{}",
        &xml[..2000.min(xml.len())]
    );
    assert!(xml.contains("state=\"frozen\"") && xml.contains("<autoFilter ref=\"A1:J"));
    assert!(!xml.contains("E+"), "no number in scientific notation");
    // The findings queue too, and --format xlsx on a name without extension.
    let q = home.path().join("queue");
    let (code, out, err) = payrecon(
        &[
            "--workspace",
            ws,
            "export",
            "--db",
            &url,
            "--view",
            "findings",
            "--format",
            "xlsx",
            "--out",
            q.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(sheet(&q).contains("<t>agent_bill_no</t>"));
    // A contradiction: refused before anything is written.
    let bad = home.path().join("y.xlsx");
    let (code, _, err) = payrecon(
        &[
            "--workspace",
            ws,
            "export",
            "--db",
            &url,
            "--view",
            "orders",
            "--format",
            "csv",
            "--out",
            bad.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        one_sentence(&err).contains("--format csv contradicts --out"),
        "{err}"
    );
    assert!(!bad.exists());
}
