//! MySQL/MariaDB in srb's own layout (SPEC §3): `payrecon migrate` lays its tables out in the
//! character set and collation of srb's; every query that compares bills across tables is
//! served by an index whatever the tables' collations (proved with `EXPLAIN`); and srb's
//! times — `trans_flow.create_time` TIMESTAMP, `recharge_order` DATETIME — land on the right
//! business day in the checks, the matching, the case and the export, whatever the server's
//! time zone. All on the real MariaDB the test setup starts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use payrecon::db::{ConnectOptions, Db, schema};
use payrecon::recon::Scope;
use payrecon::recon::checks::bill_join_queries;
use serde_json::Value;
use sqlx::ConnectOptions as _;
use std::str::FromStr as _;

const BIN: &str = env!("CARGO_BIN_EXE_payrecon");

fn at(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// For each bill-joining query: the table (by alias) looked up per row, and its index.
const LOOKUPS: [(&str, &str, &str); 4] = [
    ("order_paid_without_flow", "f", "uk_trans_no"),
    ("flow_without_paid_order", "o", "uk_agent_bill_no"),
    ("notify_conflict", "o", "uk_agent_bill_no"),
    ("idempotency_conflict", "i", "uk_source_seq"),
];

/// Fills enough rows that a full scan is never the cheaper plan, so a plan
/// without the index can only mean the index cannot serve the comparison.
async fn fill(db: &Db) {
    let mut flows = Vec::new();
    let mut orders = Vec::new();
    let mut notes = Vec::new();
    let mut idem = Vec::new();
    for i in 0..400 {
        let t = format!("'2026-11-20 {:02}:{:02}:00'", i / 60 % 24, i % 60);
        flows.push(format!(
            "({}, 'u', 'B{i:05}', 1, '充值', 10.00, NULL, {t}, {t}, 0)",
            i % 20 + 1
        ));
        orders.push(format!(
            "('B{i:05}', {}, 'BIND', 10.00, 0, 2, 0, {t}, {t})",
            i % 20 + 1
        ));
        notes.push(format!(
            "('B{i:05}', 'BIND', 10.00, '0001', 1, 'credited', 'success', {t}, 1)"
        ));
        idem.push(format!(
            "('hfb_notify', 'B{i:05}', '{}', 'done', 'success', NULL, {t}, {t}, NULL)",
            "0".repeat(64)
        ));
    }
    for sql in [
        format!(
            "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, \
             trans_amount, memo, create_time, update_time, is_deleted) VALUES {}",
            flows.join(",")
        ),
        format!(
            "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, \
             status, version, create_time, update_time) VALUES {}",
            orders.join(",")
        ),
        format!(
            "INSERT INTO notify_log (agent_bill_no, bind_code, charge_amt, result_code, sign_ok, \
             outcome, response_body, received_at, handled_ms) VALUES {}",
            notes.join(",")
        ),
        format!(
            "INSERT INTO idempotency_record (source, seq, request_hash, status, response_body, \
             locked_at, created_at, completed_at, expires_at) VALUES {}",
            idem.join(",")
        ),
    ] {
        db.execute(&sql, &[]).await.unwrap();
    }
    for t in [
        "trans_flow",
        "recharge_order",
        "notify_log",
        "idempotency_record",
    ] {
        db.fetch_all(&format!("ANALYZE TABLE {t}"), &[])
            .await
            .unwrap();
    }
}

/// `EXPLAIN`s every bill-joining query of the checks and asserts that the
/// table looked up per row can be read through its unique index and is
/// never scanned once per row.
async fn assert_index_lookups(url: &str, what: &str) {
    let db = Db::connect(url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let schema = schema::discover(&db).await.unwrap();
    let scope = Scope {
        from: Some(at("2026-11-20 00:00:00")),
        to: Some(at("2026-11-21 00:00:00")),
        as_of: at("2026-11-21 02:00:00"),
        stuck_after: chrono::Duration::minutes(30),
        lock_ttl: chrono::Duration::minutes(5),
    };
    let queries = bill_join_queries(&db, &schema, &scope);
    assert_eq!(queries.len(), LOOKUPS.len());
    for (name, sql, args) in queries {
        let (_, alias, index) = LOOKUPS.iter().find(|l| l.0 == name).unwrap();
        let plan = db
            .fetch_all(&format!("EXPLAIN {sql}"), &args)
            .await
            .unwrap_or_else(|e| panic!("{what}: EXPLAIN {name}: {e}\n{sql}"));
        let lines: Vec<Vec<String>> = plan
            .iter()
            .map(|r| {
                (0..10)
                    .map(|i| r.opt_text(i).ok().flatten().unwrap_or_default())
                    .collect()
            })
            .collect();
        let row = lines
            .iter()
            .find(|l| l[2] == *alias)
            .unwrap_or_else(|| panic!("{what}: {name}: no plan row for {alias}: {lines:?}"));
        // The index can serve the comparison (a collation mismatch leaves
        // `possible_keys` empty), and the table is never scanned per row: it
        // is read through the index, or scanned once into a materialized
        // (hashed) subquery.
        assert!(
            row[4].split(',').any(|k| k == *index) && (row[3] != "ALL" || row[1] == "MATERIALIZED"),
            "{what}: {name} scans {alias} instead of looking it up by {index}: {lines:?}\n{sql}"
        );
    }
    db.close().await;
}

/// `table.column`'s (character set, collation).
async fn collation(db: &Db, table: &str, column: &str) -> (String, String) {
    let r = db
        .fetch_optional(
            "SELECT CAST(character_set_name AS CHAR), CAST(collation_name AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE() \
               AND table_name = ? AND column_name = ?",
            &[table.into(), column.into()],
        )
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no column {table}.{column}"));
    (r.text(0).unwrap(), r.text(1).unwrap())
}

/// `payrecon migrate` (the real binary) completing the real srb dump: its
/// tables in srb's collation, every bill lookup an index lookup.
#[tokio::test]
async fn migrate_on_the_srb_dump_lays_tables_out_in_srb_collation() {
    let Some(t) = support::srb_dump_db().await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = support::payrecon_cli(BIN, &["migrate", "--db", &t.url], home.path());
    assert_eq!(code, 0, "{out}{err}");
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    let srb = collation(&db, "trans_flow", "trans_no").await;
    assert!(
        srb.0.starts_with("utf8") && srb.0 != "utf8mb4",
        "srb's dump is utf8 (utf8mb3): {srb:?}"
    );
    for (table, column) in [
        ("recharge_order", "agent_bill_no"),
        ("notify_log", "agent_bill_no"),
        ("idempotency_record", "seq"),
    ] {
        assert_eq!(
            collation(&db, table, column).await,
            srb,
            "{table}.{column} must be laid out like srb's trans_flow.trans_no"
        );
    }
    fill(&db).await;
    db.close().await;
    assert_index_lookups(&t.url, "payrecon's migration on the srb dump").await;
}

/// Tables whose collations differ on purpose (someone else's migration):
/// the lookups stay index lookups, and the checks find exactly what they
/// should, by the scan and by the SQL.
#[tokio::test]
async fn mismatched_collations_keep_index_lookups_and_right_findings() {
    let t = support::fresh_db(support::Backend::MySql).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    for sql in [
        "ALTER TABLE trans_flow CONVERT TO CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci",
        "ALTER TABLE recharge_order CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        "ALTER TABLE notify_log CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
        "ALTER TABLE idempotency_record CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    ] {
        db.execute(sql, &[]).await.unwrap();
    }
    assert_ne!(
        collation(&db, "trans_flow", "trans_no").await,
        collation(&db, "recharge_order", "agent_bill_no").await
    );
    fill(&db).await;
    // A paid order without its flow, a flow without its order.
    db.execute(
        "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, \
         status, version, create_time, update_time) \
         VALUES ('PAID-NO-FLOW', 1, 'BIND', 5.00, 0, 2, 0, '2026-11-20 09:00:00', '2026-11-20 09:00:05')",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, \
         trans_amount, memo, create_time, update_time, is_deleted) \
         VALUES (2, 'u', 'FLOW-NO-ORDER', 1, '充值', 7.00, NULL, '2026-11-20 10:00:00', '2026-11-20 10:00:00', 0)",
        &[],
    )
    .await
    .unwrap();
    db.close().await;
    assert_index_lookups(&t.url, "mismatched collations").await;

    let kinds_of = |url: String| async move {
        let db = Db::connect(&url, &ConnectOptions::read_only())
            .await
            .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let opts = payrecon::recon::RunOptions::new(
            Some(payrecon::recon::Period::day(day)),
            Vec::new(),
            at("2026-11-21 02:00:00"),
        );
        let out = payrecon::recon::reconcile(
            &db,
            &opts,
            &std::sync::atomic::AtomicBool::new(false),
            &mut |_, _| {},
        )
        .await;
        assert!(out.error.is_none(), "{:?}", out.error);
        db.close().await;
        let mut found: Vec<(String, String)> = out
            .findings
            .iter()
            .filter(|f| !["balance_mismatch", "schema_risk"].contains(&f.kind.as_str()))
            .map(|f| (f.kind.as_str().to_owned(), f.key.clone()))
            .collect();
        found.sort();
        found
    };
    let want = vec![
        (
            "flow_without_paid_order".to_owned(),
            "FLOW-NO-ORDER".to_owned(),
        ),
        (
            "order_paid_without_flow".to_owned(),
            "PAID-NO-FLOW".to_owned(),
        ),
    ];
    assert_eq!(kinds_of(t.url.clone()).await, want, "the scan");
    // Without uk_trans_no the bill-keyed checks are the SQL's.
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    db.execute("ALTER TABLE trans_flow DROP INDEX uk_trans_no", &[])
        .await
        .unwrap();
    db.close().await;
    assert_eq!(kinds_of(t.url.clone()).await, want, "the SQL");
}

/// A recharge at 00:00:30 business time (+08:00) on 2026-11-20, written by an
/// application whose session has the server's time zone — TIMESTAMP flow,
/// DATETIME order — and one at 23:59:30 the day before: on a server running
/// at +08:00 and on one at UTC, the first is the 20th's in the checks, the
/// matching, the case and the export, and the second is not.
#[tokio::test]
async fn srb_times_land_on_the_business_day_whatever_the_server_zone() {
    let Some(shared) = support::shared_or_skip("fixtures/srb_core.sql, the srb MySQL dump") else {
        return;
    };
    let admin = support::mysql_admin_url();
    for (zone, flow_a, flow_b) in [
        ("+08:00", "2026-11-20 00:00:30", "2026-11-19 23:59:30"),
        ("+00:00", "2026-11-19 16:00:30", "2026-11-19 15:59:30"),
    ] {
        // The server's zone: what every session without its own setting gets.
        let mut root = sqlx::mysql::MySqlConnectOptions::from_str(&admin)
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::Executor::execute(
            &mut root,
            sqlx::AssertSqlSafe(format!("SET GLOBAL time_zone = '{zone}'")),
        )
        .await
        .unwrap();
        let t = support::mysql_dump_db(&shared.join("fixtures/srb_core.sql")).await;
        let home = tempfile::tempdir().unwrap();
        let (code, out, err) =
            support::payrecon_cli(BIN, &["migrate", "--db", &t.url], home.path());
        assert_eq!(code, 0, "{out}{err}");
        // The application's session: the server's zone (no zone of its own).
        let mut app = sqlx::mysql::MySqlConnectOptions::from_str(&t.url)
            .unwrap()
            .timezone(None)
            .connect()
            .await
            .unwrap();
        for sql in [
            format!(
                "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, \
                 trans_amount, memo, create_time, update_time, is_deleted) VALUES \
                 (1, 'u', 'TZ-A', 1, '充值', 100.00, NULL, '{flow_a}', '{flow_a}', 0), \
                 (1, 'u', 'TZ-B', 1, '充值', 50.00, NULL, '{flow_b}', '{flow_b}', 0)"
            ),
            // Orders are DATETIME: the application writes business wall-clock time.
            "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, \
             status, version, create_time, update_time) VALUES \
             ('TZ-A', 1, 'BIND', 100.00, 0, 2, 0, '2026-11-20 00:00:20', '2026-11-20 00:00:30'), \
             ('TZ-B', 1, 'BIND', 50.00, 0, 2, 0, '2026-11-19 23:59:20', '2026-11-19 23:59:30')"
                .to_owned(),
            "INSERT INTO user_account (user_id, amount, freeze_amount, version) VALUES (1, 150.00, 0, 0)"
                .to_owned(),
        ] {
            sqlx::Executor::execute(&mut app, sqlx::AssertSqlSafe(sql))
                .await
                .unwrap();
        }
        drop(app);

        let dir = home.path();
        let stmt = dir.join("hfb-2026-11-20.csv");
        std::fs::write(
            &stmt,
            "agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\n\
             TZ-A,BIND,100.00,0.00,SUCCESS,2026-11-20 00:00:29\n",
        )
        .unwrap();
        let out_dir = dir.join("run");
        let (code, out, err) = support::payrecon_cli(
            BIN,
            &[
                "reconcile",
                "--db",
                &t.url,
                "--day",
                "2026-11-20",
                "--statement",
                stmt.to_str().unwrap(),
                "--format",
                "hfb",
                "--out",
                out_dir.to_str().unwrap(),
            ],
            dir,
        );
        assert_eq!(code, 0, "server at {zone}: {out}{err}");
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["matching"][2], 1, "server at {zone}: {summary}");
        let findings = std::fs::read_to_string(out_dir.join("findings.csv")).unwrap();
        assert_eq!(
            findings.lines().count(),
            1,
            "server at {zone}: nothing to find:\n{findings}"
        );

        // The day before holds TZ-B and not TZ-A: its checks see B's order and flow.
        let (code, out, err) = support::payrecon_cli(
            BIN,
            &["case", "--db", &t.url, "--bill", "TZ-A", "--json"],
            dir,
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("2026-11-20T00:00:30"),
            "server at {zone}: the case shows the flow at business time: {out}"
        );
        let csv = dir.join("flows.csv");
        let (code, out, err) = support::payrecon_cli(
            BIN,
            &[
                "export",
                "--db",
                &t.url,
                "--view",
                "flows",
                "--from",
                "2026-11-20",
                "--to",
                "2026-11-21",
                "--out",
                csv.to_str().unwrap(),
            ],
            dir,
        );
        assert_eq!(code, 0, "{out}{err}");
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(
            text.contains("TZ-A") && text.contains("2026-11-20 00:00:30"),
            "server at {zone}: {text}"
        );
        assert!(!text.contains("TZ-B"), "server at {zone}: {text}");
    }
    let mut root = sqlx::mysql::MySqlConnectOptions::from_str(&admin)
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::Executor::execute(&mut root, "SET GLOBAL time_zone = 'SYSTEM'")
        .await
        .unwrap();
}
