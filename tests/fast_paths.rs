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
