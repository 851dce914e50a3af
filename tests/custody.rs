//! The custodian balances check (`--balances`, SPEC §4 `custody_*`) on real
//! databases: the weisyw srb + hfb dumps in MariaDB (hfb's `user_account`
//! exported to the balance file), and a small ledger with planted breaks on
//! SQLite and PostgreSQL, read from UTF-8 and GBK files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use payrecon::args;
use payrecon::db::{ConnectOptions, Db, schema};
use payrecon::recon::custody::{CustodyPair, CustodySummary, check_custody, custody_pair};
use payrecon::recon::{Finding, Kind};
use payrecon::statement::Encoding;
use payrecon::statement::balances::{read_balances, write_balances};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr as _;
use std::sync::atomic::AtomicBool;
use support::{Backend, fresh_db};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn check(db: &Db, file: &Path) -> (Vec<Finding>, CustodySummary) {
    let schema = schema::discover(db).await.unwrap();
    check_custody(db, &schema, file, &AtomicBool::new(false))
        .await
        .unwrap()
}

fn by_key(findings: &[Finding]) -> BTreeMap<String, &Finding> {
    findings.iter().map(|f| (f.key.clone(), f)).collect()
}

// ---------------------------------------------------------------------------------------------
// weisyw/Financial: srb_core + hfb dumps in MariaDB
// ---------------------------------------------------------------------------------------------

/// hfb holds four accounts of an older generation of bindings (10,745.00, 247,012.00,
/// 1,110.00 and 192.50, each with freeze_amount 0.00, so amount alone and amount + freeze
/// are the same) that srb does not know, and agrees with srb on the four bound users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weisyw_hfb_accounts_against_srb() {
    let shared = require_shared!("realworld/srb/srb-weisyw-Financial-hfb.sql");
    let dir = shared.join("realworld/srb");
    let core = support::mysql_dump_db(&dir.join("srb-weisyw-Financial-srb_core.sql")).await;
    let hfb = support::mysql_dump_db(&dir.join("srb-weisyw-Financial-hfb.sql")).await;

    // hfb's user_account, exported as the custodian's balance file.
    let hfb_db = Db::connect(&hfb.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let mut rows = Vec::new();
    for r in hfb_db
        .fetch_all(
            "SELECT user_code, amount, freeze_amount FROM user_account ORDER BY id",
            &[],
        )
        .await
        .unwrap()
    {
        rows.push((r.text(0).unwrap(), r.money(1).unwrap(), r.money(2).unwrap()));
    }
    hfb_db.close().await;
    assert_eq!(rows.len(), 8, "hfb's user_account: {rows:?}");
    assert!(
        rows.iter().all(|r| r.2.is_zero()),
        "every hfb account has freeze_amount 0.00: {rows:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("hfb-balances.csv");
    write_balances(&file, &rows).unwrap();

    let db = Db::connect(&core.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let (findings, s) = check(&db, &file).await;
    let said = format!("{s:#?}\n{findings:#?}");
    assert_eq!(s.refused, None, "{said}");
    assert_eq!((s.rows, s.row_errors.len()), (8, 0), "{said}");
    assert_eq!(s.code_column, "user_code", "{said}");
    assert_eq!((s.compared, s.agree, s.mismatched), (4, 4, 0), "{said}");
    assert_eq!((s.ledger_only, s.ledger_only_nonzero), (0, 0), "{said}");
    assert_eq!(s.unknown, 4, "{said}");
    assert_eq!(s.unknown_amount, "259059.50", "{said}");
    assert_eq!(
        s.ledger_total, "319830.50",
        "220606 + 0 + 83 + 99141.50: {said}"
    );
    assert_eq!(s.custodian_total, "578890.00", "{said}");
    assert!(
        findings
            .iter()
            .all(|f| f.kind == Kind::CustodyUnknownAccount),
        "no custody_balance_mismatch, nothing else: {said}"
    );
    let got: Vec<(String, Option<Decimal>)> = findings
        .iter()
        .map(|f| (f.key.clone(), f.amount_external))
        .collect();
    assert_eq!(
        got,
        [
            (
                "custody:5f036e4202634070b560e0db16e68887".to_owned(),
                Some(d("10745.00"))
            ),
            (
                "custody:378520cec4c2483292a29fc72cb4889d".to_owned(),
                Some(d("247012.00"))
            ),
            (
                "custody:4cd16d6d6e584c3e97b579286435923e".to_owned(),
                Some(d("1110.00"))
            ),
            (
                "custody:8fe7653b92bf4b37ad0b621006bead30".to_owned(),
                Some(d("192.50"))
            ),
        ],
        "{said}"
    );
    for f in &findings {
        assert_eq!(f.severity.as_str(), "high");
        assert_eq!(f.amount_internal, None);
        assert_eq!(f.user_id, None);
        assert!(
            f.detail_en.contains("frozen 0.00"),
            "names the frozen amount: {}",
            f.detail_en
        );
        assert!(f.detail_zh.contains("冻结 0.00"), "{}", f.detail_zh);
    }
    // The case view of user 10: the same balance on both sides.
    let pair = custody_pair(&db, &file, 10).await.unwrap();
    assert_eq!(
        pair,
        Some(CustodyPair {
            user_code: "c06f3329fdd94afe883462daf10845ff".to_owned(),
            ledger_amount: Some(d("99141.50")),
            ledger_freeze: Some(d("0.00")),
            custodian_amount: d("99141.50"),
            custodian_freeze: Some(d("0.00")),
        })
    );
    // User 11 is not bound (bind_code NULL).
    assert_eq!(custody_pair(&db, &file, 11).await.unwrap(), None);
    db.close().await;
}

// ---------------------------------------------------------------------------------------------
// Planted breaks on SQLite and PostgreSQL
// ---------------------------------------------------------------------------------------------

/// The ledger: (user id, bind code, account (amount, freeze) or none).
type LedgerRow = (
    i64,
    Option<&'static str>,
    Option<(&'static str, &'static str)>,
);

const LEDGER: [LedgerRow; 11] = [
    (1, Some("B1"), Some(("100.00", "0.00"))),  // agrees
    (2, Some("B2"), Some(("250.00", "10.00"))), // custodian 150.00: ours 100.00 more
    (3, Some("B3"), Some(("50.00", "20.00"))),  // custodian frozen 5.00
    (4, Some(" B4 "), Some(("30.00", "0.00"))), // agrees, code trimmed
    (5, Some("B5"), Some(("70.00", "0.00"))),   // not in the file, money: mismatch
    (6, Some("B6"), Some(("0.00", "0.00"))),    // not in the file, zero: counted
    (7, None, Some(("500.00", "0.00"))),        // unbound: not compared
    (8, Some(""), Some(("1.00", "0.00"))),      // unbound: not compared
    (9, Some("B9"), Some(("12.00", "0.00"))),   // bad row in the file
    (10, Some("B10"), Some(("40.00", "0.00"))), // listed twice in the file
    (11, Some("B11"), None),                    // no account row; custodian 5.00
];

/// The custodian's file (header, then rows), with a bad row and a repeated code.
const FILE: &str = "user_code,amount,freeze_amount,name\n\
B1,100.00,0.00,张三\n\
B2,150.00,10.00,李四\n\
B3,50.00,5.00,王五\n\
B4,30,0,赵六\n\
B9,12.3.4,0.00,田七\n\
B10,40.00,0.00,周八\n\
X99,123.45,1.00,吴九\n\
B10,41.00,0.00,周八\n\
B11,5.00,0.00,郑十\n";

async fn planted_ledger(backend: Backend) -> (support::TestDb, Db) {
    let t = fresh_db(backend).await;
    let rw = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&rw).await.unwrap();
    for (id, code, account) in LEDGER {
        rw.execute(
            "INSERT INTO user_info (id, mobile, name, bind_code) VALUES (?, ?, ?, ?)",
            &args![
                id,
                format!("138{id:08}"),
                format!("u{id}"),
                code.map(str::to_owned)
            ],
        )
        .await
        .unwrap();
        if let Some((a, f)) = account {
            rw.execute(
                "INSERT INTO user_account (user_id, amount, freeze_amount) VALUES (?, ?, ?)",
                &args![id, d(a), d(f)],
            )
            .await
            .unwrap();
        }
    }
    rw.close().await;
    let db = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    (t, db)
}

/// Everything the planted file must give, whatever its encoding.
fn assert_planted(findings: &[Finding], s: &CustodySummary, backend: Backend) {
    let said = format!("{backend:?}\n{s:#?}\n{findings:#?}");
    assert_eq!(s.refused, None, "{said}");
    assert_eq!(
        s.rows, 7,
        "B10's first row is read, then dropped with the second: {said}"
    );
    let bad: Vec<u64> = s.row_errors.iter().map(|e| e.0).collect();
    assert_eq!(bad, [6, 9], "the bad amount and the repeated code: {said}");
    assert!(s.row_errors[0].1.contains("12.3.4"), "{said}");
    assert!(
        s.row_errors[1].1.contains("listed again") && s.row_errors[1].1.contains("line 7"),
        "{said}"
    );
    assert_eq!((s.compared, s.agree, s.mismatched), (5, 2, 4), "{said}");
    assert_eq!((s.ledger_only, s.ledger_only_nonzero), (2, 1), "{said}");
    assert_eq!(
        (s.unknown, s.unknown_amount.as_str()),
        (1, "124.45"),
        "{said}"
    );
    assert_eq!(s.custodian_total, "474.45", "{said}");
    assert_eq!(s.ledger_total, "460.00", "{said}");

    let f = by_key(findings);
    let keys: Vec<&str> = f.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["custody:X99", "user:11", "user:2", "user:3", "user:5"],
        "nothing for the unbound users, the bad row or the repeated code: {said}"
    );
    assert_eq!(findings.len(), 5, "{said}");
    let m = |k: &str| -> (
        Kind,
        Option<i64>,
        Option<Decimal>,
        Option<Decimal>,
        Option<Decimal>,
    ) {
        let x = f[k];
        (
            x.kind,
            x.user_id,
            x.amount_internal,
            x.amount_external,
            x.difference,
        )
    };
    let mm = Kind::CustodyBalanceMismatch;
    assert_eq!(
        m("user:2"),
        (mm, Some(2), Some(d("250")), Some(d("150")), Some(d("100"))),
        "{said}"
    );
    assert_eq!(
        m("user:3"),
        (mm, Some(3), Some(d("20")), Some(d("5")), Some(d("15"))),
        "only the frozen amount differs: {said}"
    );
    assert_eq!(
        m("user:5"),
        (mm, Some(5), Some(d("70")), Some(d("0")), Some(d("70"))),
        "{said}"
    );
    assert_eq!(
        m("user:11"),
        (mm, Some(11), Some(d("0")), Some(d("5")), Some(d("-5"))),
        "{said}"
    );
    assert_eq!(
        m("custody:X99"),
        (
            Kind::CustodyUnknownAccount,
            None,
            None,
            Some(d("124.45")),
            Some(d("-124.45"))
        ),
        "{said}"
    );
    let en = |k: &str| f[k].detail_en.as_str();
    let zh = |k: &str| f[k].detail_zh.as_str();
    assert!(
        en("user:2").contains(
            "our ledger holds 100.00 more than the custodian (hfb) for user 2, bind code B2"
        ),
        "{}",
        en("user:2")
    );
    assert!(
        en("user:2").contains("balance 250.00, frozen 10.00"),
        "{}",
        en("user:2")
    );
    assert!(
        en("user:2").contains("balance 150.00, frozen 10.00"),
        "{}",
        en("user:2")
    );
    assert!(
        zh("user:2").contains("我方账上比存管方（汇付宝）多 100.00"),
        "{}",
        zh("user:2")
    );
    assert!(
        en("user:3").contains("our ledger holds 15.00 more frozen than the custodian (hfb)"),
        "{}",
        en("user:3")
    );
    assert!(zh("user:3").contains("冻结金额"), "{}", zh("user:3"));
    assert!(
        en("user:5").contains("lists no account for bind code B5"),
        "{}",
        en("user:5")
    );
    assert!(
        zh("user:5").contains("没有这个绑定协议号的账户"),
        "{}",
        zh("user:5")
    );
    assert!(
        en("user:11").contains("no account row")
            && en("user:11").contains("the custodian (hfb) holds 5.00 more than our ledger"),
        "{}",
        en("user:11")
    );
    assert!(
        en("custody:X99").contains("balance 123.45, frozen 1.00 (total 124.45)"),
        "{}",
        en("custody:X99")
    );
    assert!(
        zh("custody:X99").contains("冻结 1.00"),
        "{}",
        zh("custody:X99")
    );
    for x in findings {
        assert!(
            !x.detail_zh.contains("bind")
                && !x.detail_zh.contains("user")
                && !x.detail_zh.contains("hfb"),
            "no English identifiers in Chinese: {}",
            x.detail_zh
        );
    }
}

async fn planted(backend: Backend) {
    let (_t, db) = planted_ledger(backend).await;
    let tmp = tempfile::tempdir().unwrap();

    // UTF-8.
    let utf8 = tmp.path().join("balances.csv");
    std::fs::write(&utf8, FILE).unwrap();
    let (findings, s) = check(&db, &utf8).await;
    assert_eq!(s.encoding, "UTF-8");
    assert_eq!(s.code_column, "user_code");
    assert_planted(&findings, &s, backend);

    // GBK, camelCase header: detected, the same result.
    let camel = FILE.replacen(
        "user_code,amount,freeze_amount",
        "userCode,Amount,freezeAmount",
        1,
    );
    let (bytes, _, bad) = encoding_rs::GBK.encode(&camel);
    assert!(!bad);
    let gbk = tmp.path().join("balances-gbk.csv");
    std::fs::write(&gbk, &bytes).unwrap();
    let (findings, s) = check(&db, &gbk).await;
    assert_eq!(s.encoding, "GBK", "{s:?}");
    assert_eq!(s.code_column, "userCode");
    assert_planted(&findings, &s, backend);

    // Without a user-code column: one sentence, one finding, nothing else.
    let nocode = tmp.path().join("no-code.csv");
    std::fs::write(&nocode, "\nname,amount,freeze_amount\nB1,100.00,0.00\n").unwrap();
    let (findings, s) = check(&db, &nocode).await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(
        (f.kind, f.key.as_str()),
        (Kind::StatementRefused, "no-code.csv")
    );
    let why = s.refused.clone().unwrap();
    assert!(
        why.contains("no-code.csv, line 2:") && why.contains("user_code (or bind_code)"),
        "{why}"
    );
    assert!(
        !why.trim_end_matches(')').contains(". "),
        "one sentence: {why}"
    );
    assert!(f.detail_en.contains(&why), "{}", f.detail_en);
    assert!(
        s.refused_zh.as_deref().unwrap().contains("第 2 行"),
        "{s:?}"
    );
    assert_eq!(
        (
            s.rows,
            s.compared,
            s.agree,
            s.mismatched,
            s.unknown,
            s.ledger_only
        ),
        (0, 0, 0, 0, 0, 0),
        "{s:?}"
    );

    // Without freeze_amount: only the available balance is compared (user 3 agrees).
    let nofreeze = tmp.path().join("no-freeze.csv");
    std::fs::write(
        &nofreeze,
        "bind_code,amount\nB1,100.00\nB2,250.00\nB3,50.00\n",
    )
    .unwrap();
    let (findings, s) = check(&db, &nofreeze).await;
    assert_eq!(s.code_column, "bind_code");
    assert_eq!((s.compared, s.agree), (3, 3), "{s:?} {findings:#?}");
    let keys: Vec<&str> = findings.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(
        keys,
        ["user:4", "user:5", "user:9", "user:10"],
        "the bound users with money the file lacks: {findings:#?}"
    );

    // The case view.
    assert_eq!(
        custody_pair(&db, &utf8, 2).await.unwrap(),
        Some(CustodyPair {
            user_code: "B2".into(),
            ledger_amount: Some(d("250.00")),
            ledger_freeze: Some(d("10.00")),
            custodian_amount: d("150.00"),
            custodian_freeze: Some(d("10.00")),
        })
    );
    let p11 = custody_pair(&db, &utf8, 11).await.unwrap().unwrap();
    assert_eq!((p11.ledger_amount, p11.custodian_amount), (None, d("5.00")));
    assert_eq!(
        custody_pair(&db, &utf8, 4)
            .await
            .unwrap()
            .map(|p| p.user_code),
        Some("B4".to_owned()),
        "trimmed"
    );
    for (uid, why) in [
        (7, "unbound"),
        (5, "not in the file"),
        (9, "bad row"),
        (10, "repeated"),
        (99, "no such user"),
    ] {
        assert_eq!(custody_pair(&db, &utf8, uid).await.unwrap(), None, "{why}");
    }
    assert!(custody_pair(&db, &nocode, 2).await.is_err());
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_breaks_on_sqlite() {
    planted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_breaks_on_postgres() {
    planted(Backend::Postgres).await;
}

/// A ledger without `user_info.bind_code`: refused in one sentence, no finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_without_bind_codes_is_refused() {
    let t = fresh_db(Backend::Sqlite).await;
    let db = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("b.csv");
    write_balances(&file, &[("A".into(), d("1"), d("0"))]).unwrap();
    let (findings, s) = check(&db, &file).await;
    assert!(findings.is_empty(), "{findings:#?}");
    assert!(
        s.refused.as_deref().unwrap().contains("user_info.id"),
        "{s:?}"
    );
    assert!(s.refused_zh.is_some());
}

/// The balance file reader on its own: the report, GBK detection, streaming order.
#[test]
fn reading_a_balance_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, _, _) = encoding_rs::GBK.encode(FILE);
    let p = tmp.path().join("gbk.csv");
    std::fs::write(&p, &bytes).unwrap();
    let mut lines = Vec::new();
    let r = read_balances(&p, &mut |b| lines.push(b.line), &mut |_| {}).unwrap();
    assert_eq!(r.encoding, Encoding::Gbk);
    assert_eq!(
        lines,
        [2, 3, 4, 5, 7, 8, 10],
        "B10's first row is handed on"
    );
    assert_eq!(r.rows, 7);
    assert!(r.has_freeze);
}

// ---------------------------------------------------------------------------------------------
// Speed: a million users (run with --release -- --ignored)
// ---------------------------------------------------------------------------------------------

/// 1M bound users on SQLite and a 1M-line file (every 1000th balance off, every 1000th
/// code unknown): the comparison takes under 5 s in a release build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a million users: run with --release -- --ignored"]
async fn a_million_users_compare_in_under_five_seconds() {
    const N: i64 = 1_000_000;
    let t = fresh_db(Backend::Sqlite).await;
    let rw = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&rw).await.unwrap();
    rw.close().await;
    let path = t.url.trim_start_matches("sqlite://").to_owned();
    {
        let mut c = rusqlite::Connection::open(&path).unwrap();
        let tx = c.transaction().unwrap();
        {
            let mut ui = tx
                .prepare("INSERT INTO user_info (id, mobile, bind_code) VALUES (?1, '', ?2)")
                .unwrap();
            let mut ua = tx
                .prepare("INSERT INTO user_account (user_id, amount, freeze_amount) VALUES (?1, ?2, '0.00')")
                .unwrap();
            for i in 1..=N {
                ui.execute(rusqlite::params![i, format!("{i:032x}")])
                    .unwrap();
                ua.execute(rusqlite::params![
                    i,
                    format!("{}.{:02}", i % 100_000, i % 100)
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("million.csv");
    let rows: Vec<(String, Decimal, Decimal)> = (1..=N)
        .map(|i| {
            let code = if i % 1000 == 7 {
                format!("unknown{i}")
            } else {
                format!("{i:032x}")
            };
            let cents = i64::from(i % 1000 == 3) + (i % 100_000) * 100 + i % 100;
            (code, Decimal::new(cents, 2), Decimal::ZERO)
        })
        .collect();
    write_balances(&file, &rows).unwrap();
    drop(rows);
    let db = Db::connect(&t.url, &ConnectOptions::read_only())
        .await
        .unwrap();
    let schema = schema::discover(&db).await.unwrap();
    let t0 = std::time::Instant::now();
    let (findings, s) = check_custody(&db, &schema, &file, &AtomicBool::new(false))
        .await
        .unwrap();
    let took = t0.elapsed();
    println!("1M users: {took:.2?} ({} findings)", findings.len());
    assert_eq!(s.unknown, 1000);
    assert_eq!(s.compared, 999_000);
    assert_eq!(
        s.mismatched,
        1000 + 1000,
        "1000 off, 1000 ledger-only with money"
    );
    if !cfg!(debug_assertions) {
        assert!(took < std::time::Duration::from_secs(5), "{took:.2?}");
    }
}
