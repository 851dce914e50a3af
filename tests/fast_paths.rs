//! The fast export paths (SQLite's synchronous reader, PostgreSQL's COPY) write
//! exactly the bytes of the generic path: same header, exact decimals, times,
//! NULLs, quoting and spreadsheet-formula neutralisation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use payrecon::args;
use payrecon::db::{ConnectOptions, Db};
use payrecon::export::{CsvFile, write_view};
use payrecon::views::{self, Filter, View};
use rust_decimal::Decimal;
use support::{Backend, fresh_db};

fn at(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

/// A run that must succeed, and its findings as sorted `findings.csv` rows.
async fn run_rows(
    db: &Db,
    opts: &payrecon::recon::RunOptions,
) -> (payrecon::recon::RunOutput, Vec<Vec<String>>) {
    use payrecon::recon::{self, RunStatus};
    let out = recon::reconcile(
        db,
        opts,
        &std::sync::atomic::AtomicBool::new(false),
        &mut |_, _| {},
    )
    .await;
    assert_eq!(
        out.status,
        RunStatus::Ok,
        "{}: {:?}",
        db.redacted_url(),
        out.error
    );
    let mut rows: Vec<Vec<String>> = out.findings.iter().map(recon::run::finding_cells).collect();
    rows.sort();
    (out, rows)
}

#[allow(clippy::type_complexity)]
async fn fill(db: &Db) {
    let flows: [(
        i64,
        Option<&str>,
        &str,
        i64,
        Option<&str>,
        Decimal,
        Option<&str>,
        &str,
        i64,
    ); 7] = [
        (
            1,
            Some("王伟"),
            "CHARGE1",
            1,
            None,
            Decimal::new(10050, 2),
            Some("=1+2"),
            "2026-11-20 00:00:00.000",
            0,
        ),
        (
            2,
            Some("-cmd|' /C calc'!A0"),
            "B,2",
            2,
            Some("提现"),
            Decimal::new(-1250, 2),
            Some("say \"hi\"\nnext"),
            "2026-11-20 12:34:56.789",
            0,
        ),
        (
            3,
            Some(""),
            "+86 138",
            9,
            None,
            Decimal::ZERO,
            None,
            "2026-11-20 23:59:59.999",
            1,
        ),
        (
            4,
            None,
            "@x",
            1,
            Some(""),
            Decimal::new(5, 0),
            Some("\tTab"),
            "2026-11-21 01:02:03.000",
            0,
        ),
        (
            -5,
            Some("-12.50"),
            "x\r",
            3,
            Some("-"),
            Decimal::new(1, 2),
            Some("+3"),
            "2026-11-19 09:00:00.100",
            0,
        ),
        (
            6,
            Some("-"),
            "-1.",
            1,
            None,
            Decimal::new(99999999, 2),
            Some("'quoted'"),
            "2026-11-20 08:00:00.000",
            0,
        ),
        (
            7,
            Some("\\."),
            "CHARGE7",
            1,
            None,
            Decimal::new(1, 0),
            Some(","),
            "2026-11-20 08:00:01.000",
            0,
        ),
    ];
    for (uid, name, no, tt, tn, amt, memo, ts, del) in flows {
        db.execute(
            "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &args![uid, name.map(str::to_owned), no, tt, tn.map(str::to_owned), amt, memo.map(str::to_owned), at(ts), at(ts), del],
        )
        .await
        .unwrap();
    }
}

/// Orders, callbacks and an idempotency record with what a CSV export must
/// keep apart: a formula-like bill, a comma, NULLs, a negative amount, a
/// padded hash, sub-second times (amounts as text, which every backend takes).
async fn export_rows(db: &Db) {
    db.execute(
        "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time) \
         VALUES ('=A', 1, 'b,c', '10.5', '0', 2, 1, '2026-11-20 00:00:00.123', '2026-11-20 00:00:01.000'), \
                ('B', 2, 'x', '1.00', '0.01', 7, 0, '2026-11-20 00:00:00.000', '2026-11-20 00:00:00.000')",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO notify_log (agent_bill_no, bind_code, charge_amt, result_code, sign_ok, outcome, response_body, received_at, handled_ms) \
         VALUES ('A', NULL, NULL, '0001', 1, 'credited', 'success', '2026-11-20 00:00:00.5', 12), \
                ('-B', 'x', '-3', NULL, 0, 'failed', '@fail', '2026-11-20 00:00:00.000', 0)",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO idempotency_record (source, seq, request_hash, status, response_body, locked_at, created_at, completed_at, expires_at) \
         VALUES ('hfb-notify', 'A', '  abc  ', 'processing', NULL, '2026-11-20 00:00:00.000', '2026-11-20 00:00:00.000', NULL, NULL)",
        &[],
    )
    .await
    .unwrap();
}

async fn both(db: &Db, view: View, filter: &Filter, dir: &std::path::Path) -> (String, String) {
    let fast = dir.join(format!("{view:?}-fast.csv"));
    let slow = dir.join(format!("{view:?}-slow.csv"));
    let f = CsvFile::create(&fast, view.header(), false).unwrap();
    let n = write_view(db, view, filter, f).await.unwrap();
    let mut f = CsvFile::create(&slow, view.header(), false).unwrap();
    let (sql, a) = views::select(db, view, filter).unwrap();
    db.for_each_row(&sql, &a, |row| -> Result<bool, payrecon::db::DbError> {
        f.row(views::format_row(db, view, &row)?).unwrap();
        Ok(true)
    })
    .await
    .unwrap();
    let m = f.finish().unwrap();
    assert_eq!(n, m, "{view:?}: row counts");
    (
        std::fs::read_to_string(fast).unwrap(),
        std::fs::read_to_string(slow).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reader_export_is_byte_identical() {
    let t = fresh_db(Backend::Sqlite).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    fill(&db).await;
    // Amounts stored as INTEGER and as an exact REAL, a time in another SQLite layout.
    db.execute(
        "INSERT INTO trans_flow (user_id, trans_no, trans_type, trans_amount, create_time, update_time, is_deleted) \
         VALUES (8, 'INT', 1, 7, '2026-11-20T10:00', '2026-11-20T10:00', 0), \
                (9, 'REAL', 1, 0.1, '2026-11-20 10:00:00+08:00', '2026-11-20 10:00:00', 0)",
        &[],
    )
    .await
    .unwrap();
    export_rows(&db).await;
    let ro = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for view in View::ALL {
        let (fast, slow) = both(&ro, view, &Filter::default(), dir.path()).await;
        assert_eq!(fast, slow, "{view:?}");
    }
    // Bound filters reach the reader too.
    let filter = Filter {
        from: Some(at("2026-11-20 00:00:00")),
        to: Some(at("2026-11-21 00:00:00")),
        min_amount: Some(Decimal::new(1, 2)),
        ..Filter::default()
    };
    let (fast, slow) = both(&ro, View::Flows, &filter, dir.path()).await;
    assert_eq!(fast, slow);
    assert_eq!(fast.lines().count(), 1 + 5, "{fast}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_copy_export_is_byte_identical() {
    let t = fresh_db(Backend::Postgres).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    fill(&db).await;
    let ro = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (fast, slow) = both(&ro, View::Flows, &Filter::default(), dir.path()).await;
    // The one byte-level difference COPY cannot avoid: it quotes a cell that is
    // exactly `\.` (the same value to any CSV reader).
    assert_eq!(fast.replace("\"\\.\"", "\\."), slow);
    assert_eq!(fast.lines().count(), 1 + 7 + 1, "one memo holds a newline");
}

/// MySQL's unfiltered exports read the text protocol (`db::mysql_read`): every
/// view byte for byte what the generic path writes, srb's TIMESTAMP flows and
/// DATETIME(3) orders included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_text_export_is_byte_identical() {
    let t = fresh_db(Backend::MySql).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    fill(&db).await;
    export_rows(&db).await;
    let ro = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for view in View::ALL {
        let (fast, slow) = both(&ro, view, &Filter::default(), dir.path()).await;
        assert_eq!(fast, slow, "{view:?}");
        if view != View::Accounts {
            assert!(fast.lines().count() > 1, "{view:?}: {fast}");
        }
    }
}

/// A user with a password full of URL characters that may read `db`, and the
/// URL that connects as it to the database of `url`.
async fn password_user(url: &str, db: &str) -> String {
    let admin = Db::connect(url, &ConnectOptions::read_write())
        .await
        .unwrap();
    let user = format!("w{}", db.len() + db.bytes().map(usize::from).sum::<usize>());
    for sql in [
        format!("CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY 'p@ss:w/rd%é'"),
        format!("GRANT SELECT ON `{db}`.* TO '{user}'@'%'"),
    ] {
        admin.execute(&sql, &[]).await.unwrap();
    }
    admin.close().await;
    url.replacen("root@", &format!("{user}:p%40ss%3Aw%2Frd%25%C3%A9@"), 1)
}

/// payrecon's own MySQL row reader (`db::mysql_wire`) gives each field as
/// sqlx's does: NULL apart from the empty text, lengths past one and two
/// bytes, multi-byte text; its session is read-only in the business zone;
/// a server error is one sentence; and every export is the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_wire_reader_reads_what_sqlx_reads() {
    let t = fresh_db(Backend::MySql).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    fill(&db).await;
    export_rows(&db).await;
    let wire_url = password_user(&t.url, &t.name).await;
    let sqlx_url = format!("{}?statement-cache-capacity=10", t.url);
    let wire = Db::connect(&wire_url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let via_sqlx = Db::connect(&sqlx_url, &ConnectOptions::read_only())
        .await
        .unwrap();
    assert_eq!(wire.mysql_fast_reader().await, Ok(()));
    assert!(via_sqlx.mysql_fast_reader().await.is_err());
    let sql = "SELECT NULL AS n, '' AS e, REPEAT('x', 300) AS a, REPEAT('对', 30000) AS b, \
               @@session.tx_read_only AS ro, @@session.time_zone AS tz \
               UNION ALL SELECT 1, 2, 3, 4, 5, 6";
    let read = |db: Db| async move {
        let mut rows: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
        db.mysql_text_rows(sql, |r| -> Result<(), payrecon::db::DbError> {
            let row = (0..6)
                .map(|i| r.raw(i, "").unwrap().map(<[u8]>::to_vec))
                .collect();
            assert_eq!(r.name(3), "b");
            rows.push(row);
            Ok(())
        })
        .await
        .unwrap();
        rows
    };
    let w = read(wire.clone()).await;
    assert_eq!(w, read(via_sqlx.clone()).await);
    assert_eq!(w[0][0], None);
    assert_eq!(w[0][1].as_deref(), Some(&b""[..]));
    assert_eq!(w[0][3].as_ref().map(Vec::len), Some(90_000));
    assert_eq!(w[0][4].as_deref(), Some(&b"1"[..]), "read-only session");
    assert_eq!(w[0][5].as_deref(), Some(&b"+08:00"[..]), "business zone");
    assert_eq!(w[1][5].as_deref(), Some(&b"6"[..]));
    let e = wire
        .mysql_text_rows("SELECT nope FROM trans_flow", |_| {
            Ok::<(), payrecon::db::DbError>(())
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("Unknown column 'nope'"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    for view in View::ALL {
        let (fast, slow) = both(&wire, view, &Filter::default(), dir.path()).await;
        assert_eq!(fast, slow, "{view:?}");
    }
}

/// The same rows in SQLite (one-scan checks in Rust), PostgreSQL (COPY scans
/// merged in Rust) and MariaDB (the separate SQL queries): the same findings,
/// to the cent and to the word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checks_agree_with_the_sql_checks() {
    use payrecon::recon::{Period, RunOptions};
    let mut results = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        let t = fresh_db(backend).await;
        let db = Db::connect(&t.url, &ConnectOptions::read_write())
            .await
            .unwrap();
        payrecon::db::migrate(&db).await.unwrap();
        // (user, amount, freeze): 1 right, 2 amount off, 3 freeze off, 4 no flows
        // but money, 5 no flows and nothing, 6 right with every type code.
        for (u, a, f) in [
            (1, 10000, 0),
            (2, 5000, 0),
            (3, 2000, 700),
            (4, 1000, 0),
            (5, 0, 0),
            (6, 1500, 500),
            (5_000_000_000, 100, 0),
        ] {
            db.execute(
                "INSERT INTO user_account (user_id, amount, freeze_amount, create_time, update_time, is_deleted, version) \
                 VALUES (?, ?, ?, ?, ?, 0, 0)",
                &args![u, Decimal::new(a, 2), Decimal::new(f, 2), at("2026-11-01 00:00:00"), at("2026-11-01 00:00:00")],
            )
            .await
            .unwrap();
        }
        // (user, bill, type, cents, time, deleted)
        let flows: [(i64, &str, i64, i64, &str, i64); 15] = [
            (
                5_000_000_000,
                "BIG-ID",
                1,
                200,
                "2026-11-20 14:00:00.000",
                0,
            ),
            (1, "CHARGE-A", 1, 10000, "2026-11-20 10:00:00.000", 0),
            (1, "DEL-1", 1, 99900, "2026-11-20 10:00:00.000", 1),
            (2, "CHARGE-B", 1, 6000, "2026-11-20 11:00:00.000", 0),
            (3, "CHARGE-C", 1, 2000, "2026-11-20 00:00:00.000", 0),
            (3, "LOCK-C", 2, 500, "2026-11-20 12:00:00.000", 0),
            (3, "BACK-C", 7, 500, "2026-11-20 12:30:00.000", 0),
            (6, "CHARGE-OLD", 1, 2000, "2026-11-18 09:00:00.000", 0),
            (6, "LOCK-6", 2, 800, "2026-11-20 13:00:00.000", 0),
            (6, "UNLOCK-6", 3, 200, "2026-11-20 13:10:00.000", 0),
            (6, "CANCEL-6", 4, 100, "2026-11-20 13:20:00.000", 0),
            (6, "BORROW-6", 5, 300, "2026-11-20 13:30:00.000", 0),
            (6, "REPAY-6", 6, 400, "2026-11-20 13:40:00.000", 0),
            (6, "WD-6", 8, 100, "2026-11-20 13:50:00.000", 0),
            (6, "CHARGE-NEXT", 1, 0, "2026-11-21 00:00:00.000", 0),
        ];
        for (u, bill, tt, c, ts, del) in flows {
            db.execute(
                "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
                 VALUES (?, 'x', ?, ?, NULL, ?, NULL, ?, ?, ?)",
                &args![u, bill, tt, Decimal::new(c, 2), at(ts), at(ts), del],
            )
            .await
            .unwrap();
        }
        // (bill, user, cents, status, created)
        let orders: [(&str, i64, i64, i64, &str); 6] = [
            ("CHARGE-A", 1, 10000, 2, "2026-11-20 09:59:00.000"),
            ("CHARGE-B", 2, 6000, 1, "2026-11-20 10:59:00.000"),
            ("PAID-NOFLOW", 4, 1000, 2, "2026-11-20 15:00:00.000"),
            ("PAID-NOFLOW-OLD", 4, 1000, 2, "2026-11-19 15:00:00.000"),
            ("FAILED", 5, 300, 3, "2026-11-20 16:00:00.000"),
            ("CHARGE-OLD", 6, 2000, 3, "2026-11-18 08:59:00.000"),
        ];
        for (bill, u, c, st, ts) in orders {
            db.execute(
                "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time) \
                 VALUES (?, ?, 'b', ?, ?, ?, 0, ?, ?)",
                &args![bill, u, Decimal::new(c, 2), Decimal::ZERO, st, at(ts), at(ts)],
            )
            .await
            .unwrap();
        }
        let ro = Db::connect(&t.url, &ConnectOptions::read_only())
            .await
            .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        for period in [Some(Period::day(day)), None] {
            let opts = RunOptions::new(period, Vec::new(), at("2026-11-21 02:00:00"));
            let (_, rows) = run_rows(&ro, &opts).await;
            results.push((backend, period.is_some(), rows));
        }
    }
    let per = |b: Backend| results.iter().filter(move |r| r.0 == b).collect::<Vec<_>>();
    let (sqlite, pg, my) = (
        per(Backend::Sqlite),
        per(Backend::Postgres),
        per(Backend::MySql),
    );
    for ((s, p), m) in sqlite.iter().zip(&pg).zip(&my) {
        assert_eq!(m.2, p.2, "MariaDB vs PostgreSQL, period: {}", s.1);
        assert_eq!(s.2, m.2, "SQLite vs MariaDB, period: {}", s.1);
    }
    let kinds: Vec<&str> = sqlite[0].2.iter().map(|r| r[0].as_str()).collect();
    for k in [
        "balance_mismatch",
        "order_paid_without_flow",
        "flow_without_paid_order",
        "order_stuck",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
}

/// Statement matching from the shared scans of `trans_flow` (SQLite's reader,
/// PostgreSQL's COPY: flows read once with the checks, statements parsed by
/// the fast hfb reader or, for a file it hands over, the general one) against
/// the general matching on MariaDB: the same findings, counts and row errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_shared_scan_matching_agrees_with_the_servers() {
    use payrecon::recon::{Period, RunOptions, StatementInput};
    use payrecon::statement::Format;
    let dir = tempfile::tempdir().unwrap();
    // Fast reader: blank lines, CRLF, spaces, a bad row, a duplicate, a long key.
    let simple = dir.path().join("simple.csv");
    std::fs::write(
        &simple,
        "agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\n\
         B-OK,b,100.00,0.00,SUCCESS,\"2026-11-20 10:00:01\"\r\n\
         \n\
         B-AMT,b,50.01,0.00,SUCCESS,2026-11-20 11:00:01\n\
         B-REF, b ,20,0.10,REFUND,2026-11-20 12:00:01\n\
         B-PREV,b,5.00,0.00,SUCCESS,2026-11-19 23:58:30\n\
         B-DEL,b,7.00,0.00,SUCCESS,2026-11-20 09:00:00\n\
         B-WD,b,8.00,0.00,SUCCESS,2026-11-20 09:00:00\n\
         B-DUP,b,9.00,0.00,SUCCESS,2026-11-20 09:10:00\n\
         B-DUP,b,9.00,0.00,SUCCESS,2026-11-20 09:10:05\n\
         B-MISSINT,b,11.00,0.00,SUCCESS,2026-11-20 14:00:00\n\
         LONGBILL-0123456789-01234,b,10.00,0.00,SUCCESS,2026-11-20 15:00:00\n\
         LONGBILL-ONLY-IN-STMT-0000,b,12.00,0.00,SUCCESS,2026-11-20 15:00:00\n\
         B-BAD,b,1.234,0.00,SUCCESS,2026-11-20 15:00:00\n\
         B-SHORT,b,1.00\n\
         B-REV,b,13.00,0.00,REVOKED,2026-11-20 16:00:00\n\
         B-NOFLOW-REF,b,14.00,0.00,REFUND,2026-11-20 16:00:00\n",
    )
    .unwrap();
    // An escaped quote: the fast reader hands this one to the general reader.
    let quoted = dir.path().join("quoted.csv");
    std::fs::write(
        &quoted,
        "agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\n\
         \"B-Q\",\"b,c\",15.00,0.00,SUCCESS,\"2026-11-20 17:00:00\"\n\
         \"B-Q\"\"2\",b,16.00,0.00,SUCCESS,2026-11-20 17:00:00\n",
    )
    .unwrap();
    let mut results = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        let t = fresh_db(backend).await;
        let db = Db::connect(&t.url, &ConnectOptions::read_write())
            .await
            .unwrap();
        payrecon::db::migrate(&db).await.unwrap();
        for (u, a) in [(1, 37000), (2, 1500)] {
            db.execute(
                "INSERT INTO user_account (user_id, amount, freeze_amount, create_time, update_time, is_deleted, version) \
                 VALUES (?, ?, 0, ?, ?, 0, 0)",
                &args![u, Decimal::new(a, 2), at("2026-11-01 00:00:00"), at("2026-11-01 00:00:00")],
            )
            .await
            .unwrap();
        }
        // (user, bill, type, cents, time, deleted)
        let flows: [(i64, &str, i64, i64, &str, i64); 14] = [
            (1, "B-OK", 1, 10000, "2026-11-20 10:00:00.000", 0),
            (1, "B-AMT", 1, 5000, "2026-11-20 11:00:00.000", 0),
            (1, "B-REF", 1, 2000, "2026-11-20 12:00:00.000", 0),
            (1, "B-MISSEXT", 1, 3000, "2026-11-20 13:00:00.500", 0),
            (1, "B-EDGE", 1, 4000, "2026-11-20 23:55:00.000", 0),
            (1, "B-EDGE-EARLY", 1, 4100, "2026-11-20 00:03:00.000", 0),
            (1, "B-PREV", 1, 500, "2026-11-19 23:58:00.000", 0),
            (1, "B-NEXTDAY", 1, 600, "2026-11-21 00:05:00.000", 0),
            (1, "B-OLD", 1, 700, "2026-11-10 08:00:00.000", 0),
            (1, "B-DEL", 1, 700, "2026-11-20 09:00:00.000", 1),
            (2, "B-WD", 8, 800, "2026-11-20 09:00:00.000", 0),
            (2, "B-DUP", 1, 900, "2026-11-20 09:10:00.000", 0),
            (
                2,
                "LONGBILL-0123456789-01234",
                1,
                1000,
                "2026-11-20 15:00:00.000",
                0,
            ),
            (
                2,
                "LONGBILL-ONLY-IN-FLOWS-000",
                1,
                1100,
                "2026-11-20 15:00:00.000",
                0,
            ),
        ];
        for (u, bill, tt, c, ts, del) in flows {
            db.execute(
                "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
                 VALUES (?, 'x', ?, ?, NULL, ?, NULL, ?, ?, ?)",
                &args![u, bill, tt, Decimal::new(c, 2), at(ts), at(ts), del],
            )
            .await
            .unwrap();
        }
        for (bill, st) in [("B-OK", 2), ("B-AMT", 2), ("B-REF", 1), ("B-GONE", 2)] {
            db.execute(
                "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time) \
                 VALUES (?, 1, 'b', ?, ?, ?, 0, ?, ?)",
                &args![bill, Decimal::new(100, 2), Decimal::ZERO, st, at("2026-11-20 08:00:00"), at("2026-11-20 08:00:00")],
            )
            .await
            .unwrap();
        }
        let ro = Db::connect(&t.url, &ConnectOptions::read_only())
            .await
            .unwrap();
        let opts = RunOptions::new(
            Some(Period::day(
                chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            )),
            [&simple, &quoted]
                .into_iter()
                .map(|p| StatementInput {
                    path: p.clone(),
                    format: Format::Hfb,
                })
                .collect(),
            at("2026-11-21 02:00:00"),
        );
        let (out, rows) = run_rows(&ro, &opts).await;
        let files: Vec<(u64, Vec<(u64, String)>)> = out
            .files
            .iter()
            .map(|f| (f.entries, f.row_errors.clone()))
            .collect();
        results.push((backend, rows, out.matching, files));
    }
    let kinds: Vec<&str> = results[0].1.iter().map(|r| r[0].as_str()).collect();
    for k in [
        "amount_mismatch",
        "status_mismatch",
        "missing_external",
        "missing_internal",
        "pending_cross_day",
        "duplicate_in_statement",
        "flow_without_paid_order",
        "order_paid_without_flow",
        "balance_mismatch",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
    assert_eq!(results[0].3[0].1.len(), 2, "{:?}", results[0].3);
    for r in &results[1..] {
        assert_eq!(results[0].1, r.1, "SQLite vs {:?}: findings", r.0);
        assert_eq!(results[0].2, r.2, "SQLite vs {:?}: counts", r.0);
        assert_eq!(results[0].3, r.3, "SQLite vs {:?}: files", r.0);
    }
}

/// A server's scan checks (`recon::scan`: PostgreSQL's COPY, MySQL's text
/// result sets) against its SQL checks on the same rows, with the NULLs a
/// database not made by payrecon may hold (bills, statuses, users, amounts):
/// the same findings. The SQL runs once the amount column has four decimals,
/// which the scans do not take. On PostgreSQL the COPY's period tests run in
/// payrecon on a plain timestamp, in the server on a `timestamptz`; on MySQL
/// the times are read as TIMESTAMP and as DATETIME.
#[tokio::test]
async fn postgres_copy_checks_agree_with_its_sql_checks() {
    scan_checks_agree_with_sql_checks(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_scan_checks_agree_with_its_sql_checks() {
    scan_checks_agree_with_sql_checks(Backend::MySql).await;
}

#[allow(clippy::type_complexity)]
async fn scan_checks_agree_with_sql_checks(backend: Backend) {
    use payrecon::recon::{Period, RunOptions};
    let t = fresh_db(backend).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&db).await.unwrap();
    let nullable = if backend == Backend::Postgres {
        [
            "ALTER TABLE trans_flow ALTER COLUMN trans_no DROP NOT NULL",
            "ALTER TABLE trans_flow ALTER COLUMN user_id DROP NOT NULL",
            "ALTER TABLE recharge_order ALTER COLUMN agent_bill_no DROP NOT NULL",
            "ALTER TABLE recharge_order ALTER COLUMN status DROP NOT NULL",
            "ALTER TABLE user_account ALTER COLUMN amount DROP NOT NULL",
        ]
    } else {
        [
            "ALTER TABLE trans_flow MODIFY trans_no varchar(30) NULL",
            "ALTER TABLE trans_flow MODIFY user_id bigint NULL",
            "ALTER TABLE recharge_order MODIFY agent_bill_no varchar(30) NULL",
            "ALTER TABLE recharge_order MODIFY status tinyint NULL",
            "ALTER TABLE user_account MODIFY amount decimal(10,2) NULL",
        ]
    };
    for sql in nullable {
        db.execute(sql, &[]).await.unwrap();
    }
    // (user, amount, freeze): 1 right, 2 off, 3 NULL amount (never off), 4 freeze off.
    for (u, a, f) in [
        (1, Some(1000), 0),
        (2, Some(1), 0),
        (3, None, 0),
        (4, Some(0), 5),
    ] {
        db.execute(
            "INSERT INTO user_account (user_id, amount, freeze_amount, create_time, update_time, is_deleted, version) \
             VALUES (?, ?, ?, ?, ?, 0, 0)",
            &args![u, a.map(|a| Decimal::new(a, 2)), Decimal::new(f, 2), at("2026-11-01 00:00:00"), at("2026-11-01 00:00:00")],
        )
        .await
        .unwrap();
    }
    // (user, bill, type, cents, time)
    let flows: [(Option<i64>, Option<&str>, i64, Option<i64>, &str); 10] = [
        (Some(1), Some("A"), 1, Some(1000), "2026-11-20 10:00:00"),
        (Some(2), None, 1, Some(300), "2026-11-20 11:00:00"),
        (Some(2), Some("B"), 1, Some(200), "2026-11-19 23:59:59.999"),
        (Some(2), Some("C"), 1, Some(100), "2026-11-20 12:00:00"),
        (Some(2), Some("D"), 1, Some(100), "2026-11-20 13:00:00"),
        (Some(3), Some("E"), 1, None, "2026-11-20 14:00:00"),
        // Outside the day's matching window: the matching refuses a flow without a user.
        (None, Some("NOUSER"), 1, Some(700), "2026-11-19 15:00:00"),
        (Some(4), Some("LOCK-4"), 2, Some(500), "2026-11-20 16:00:00"),
        (Some(2), Some("NEXT"), 1, Some(100), "2026-11-21 00:00:00"),
        // Near the day's end and on no statement line: pending, not missing.
        (Some(2), Some("EDGE"), 1, Some(100), "2026-11-20 23:55:00"),
    ];
    for (u, bill, tt, c, ts) in flows {
        db.execute(
            "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
             VALUES (?, 'x', ?, ?, NULL, ?, NULL, ?, ?, 0)",
            &args![u, bill.map(str::to_owned), tt, c.map(|c| Decimal::new(c, 2)), at(ts), at(ts)],
        )
        .await
        .unwrap();
    }
    // (bill, status, created)
    let orders: [(Option<&str>, Option<i64>, &str); 8] = [
        (Some("A"), Some(2), "2026-11-20 09:59:00"),
        (None, Some(2), "2026-11-20 10:00:00"),
        (Some("B"), Some(2), "2026-11-20 00:00:00"),
        (Some("C"), None, "2026-11-20 11:59:00"),
        (Some("D"), Some(1), "2026-11-20 12:59:00"),
        (Some("E"), Some(2), "2026-11-20 13:59:00"),
        (Some("F"), Some(2), "2026-11-20 17:00:00"),
        (Some("G"), Some(2), "2026-11-18 17:00:00"),
    ];
    for (bill, st, ts) in orders {
        db.execute(
            "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time) \
             VALUES (?, 2, 'b', ?, ?, ?, 0, ?, ?)",
            &args![bill.map(str::to_owned), Decimal::new(100, 2), Decimal::ZERO, st, at(ts), at(ts)],
        )
        .await
        .unwrap();
    }
    // A statement for the day: matched, a different amount, a long bill, one
    // line without a flow; the NULL-bill flow is matched as the empty bill.
    let dir = tempfile::tempdir().unwrap();
    let stmt = dir.path().join("hfb.csv");
    std::fs::write(
        &stmt,
        "agent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\n\
         A,b,10.00,0.00,SUCCESS,2026-11-20 10:00:01\n\
         C,b,1.01,0.00,SUCCESS,2026-11-20 12:00:01\n\
         NEXT,b,1.00,0.00,SUCCESS,2026-11-20 23:59:59\n\
         LONGBILL-0123456789-01234,b,3.00,0.00,SUCCESS,2026-11-20 15:00:00\n\
         X,b,9.00,0.00,SUCCESS,2026-11-20 14:00:00\n",
    )
    .unwrap();
    db.execute(
        "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
         VALUES (2, 'x', 'LONGBILL-0123456789-01234', 1, NULL, 3.00, NULL, ?, ?, 0)",
        &args![at("2026-11-20 14:59:00"), at("2026-11-20 14:59:00")],
    )
    .await
    .unwrap();
    let run_at = |url: String| {
        let stmt = stmt.clone();
        async move {
            let ro = Db::connect(&url, &ConnectOptions::read_only())
                .await
                .unwrap();
            let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
            let mut all = Vec::new();
            let files = vec![payrecon::recon::StatementInput {
                path: stmt.clone(),
                format: payrecon::statement::Format::Hfb,
            }];
            for (period, files) in [
                (Some(Period::day(day)), Vec::new()),
                (None, Vec::new()),
                (Some(Period::day(day)), files),
            ] {
                let opts = RunOptions::new(period, files, at("2026-11-21 02:00:00"));
                all.push(run_rows(&ro, &opts).await.1);
            }
            ro.close().await;
            all
        }
    };
    let run = || run_at(t.url.clone());
    let copy = run().await;
    if backend == Backend::MySql {
        // payrecon's own row reader (a password user), and sqlx's (a URL
        // option only sqlx's connection takes): the same findings.
        let wire = password_user(&t.url, &t.name).await;
        let ro = Db::connect(&wire, &ConnectOptions::read_only())
            .await
            .unwrap();
        assert_eq!(ro.mysql_fast_reader().await, Ok(()));
        assert_eq!(copy, run_at(wire).await, "payrecon's MySQL reader");
        let via_sqlx = format!("{}?statement-cache-capacity=10", t.url);
        let ro = Db::connect(&via_sqlx, &ConnectOptions::read_only())
            .await
            .unwrap();
        assert!(ro.mysql_fast_reader().await.is_err());
        assert_eq!(copy, run_at(via_sqlx).await, "sqlx's MySQL reader");
    }
    if backend == Backend::Postgres {
        // With a time zone on the create_times the server evaluates the period tests
        // (payrecon does on a plain timestamp): the same findings. The session's
        // zone is the business zone, so the wall-clock times stay as they are.
        for ty in ["timestamptz(3)", "timestamp(3)"] {
            for table in ["trans_flow", "recharge_order"] {
                db.execute(
                    &format!("ALTER TABLE {table} ALTER COLUMN create_time TYPE {ty}"),
                    &[],
                )
                .await
                .unwrap();
            }
            if ty == "timestamptz(3)" {
                assert_eq!(copy, run().await, "the server's period tests");
            }
        }
        db.execute(
            "ALTER TABLE trans_flow ALTER COLUMN trans_amount TYPE numeric(20,4)",
            &[],
        )
        .await
        .unwrap();
    } else {
        // srb's flows are TIMESTAMP, the orders DATETIME: each the other way
        // round, read in the business zone of the session (the wall-clock
        // times stay as they are), gives the same findings.
        for (flows, orders) in [
            ("datetime(3)", "timestamp(3)"),
            ("timestamp", "datetime(3)"),
        ] {
            for (table, ty) in [("trans_flow", flows), ("recharge_order", orders)] {
                db.execute(
                    &format!("ALTER TABLE {table} MODIFY create_time {ty} NOT NULL"),
                    &[],
                )
                .await
                .unwrap();
            }
            if flows == "datetime(3)" {
                assert_eq!(copy, run().await, "DATETIME flows, TIMESTAMP orders");
            }
        }
        db.execute(
            "ALTER TABLE trans_flow MODIFY trans_amount decimal(20,4) NULL",
            &[],
        )
        .await
        .unwrap();
    }
    let sql = run().await;
    assert_eq!(copy, sql);
    let day: Vec<(&str, &str, &str)> = copy[0]
        .iter()
        .map(|r| (r[0].as_str(), r[2].as_str(), r[3].as_str()))
        .collect();
    for want in [
        ("balance_mismatch", "", "2"),
        ("balance_mismatch", "", "4"),
        ("order_paid_without_flow", "", "2"),
        ("order_paid_without_flow", "F", "2"),
        ("flow_without_paid_order", "", "2"),
        ("flow_without_paid_order", "D", "2"),
    ] {
        assert!(day.contains(&want), "{want:?} missing: {day:?}");
    }
    assert!(
        copy[1]
            .iter()
            .any(|r| r[0] == "flow_without_paid_order" && r[2] == "NOUSER" && r[3].is_empty()),
        "NOUSER missing: {:?}",
        copy[1]
    );
    let matching_kinds = [
        "amount_mismatch",
        "missing_internal",
        "missing_external",
        "pending_cross_day",
        "status_mismatch",
    ];
    let matched: Vec<(&str, &str)> = copy[2]
        .iter()
        .filter(|r| matching_kinds.contains(&r[0].as_str()))
        .map(|r| (r[0].as_str(), r[2].as_str()))
        .collect();
    for want in [
        ("amount_mismatch", "C"),
        ("missing_internal", "X"),
        ("missing_external", "D"),
        ("missing_external", ""),
        ("pending_cross_day", "EDGE"),
    ] {
        assert!(matched.contains(&want), "{want:?} missing: {matched:?}");
    }
    for bill in ["A", "LONGBILL-0123456789-01234"] {
        assert!(
            !matched.iter().any(|r| r.1 == bill),
            "{bill} is matched: {matched:?}"
        );
    }
    for bill in ["A", "B", "C", "E", "G"] {
        assert!(
            !day.iter()
                .any(|r| r.1 == bill && r.0 != "balance_mismatch" && r.0 != "schema_risk"),
            "{bill} must find nothing: {day:?}"
        );
    }
}
