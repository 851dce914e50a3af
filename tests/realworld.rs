//! The real-world inputs of `../shared/realworld/` (statement files and srb database dumps
//! that other people published; see its README.md), run through the real `payrecon` binary:
//! one test per row of the README's statement table, asserting what that table says a
//! correct payrecon does with the file (the acceptance script
//! `../shared/tools/realworld-check` checks the same, more loosely), plus the srb dumps
//! loaded unmodified into a real MariaDB.
//!
//! Without `../shared` beside the checkout every test here prints one "skipped" line and
//! passes (`CI=true` makes that a failure; see `support::require_shared!`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_payrecon");

/// One `payrecon reconcile` run: its exit code, output, summary.json and findings.csv.
struct Run {
    code: i32,
    log: String,
    summary: Value,
    /// findings.csv as records keyed by its header (empty when the file was not written).
    findings: Vec<std::collections::BTreeMap<String, String>>,
    _home: tempfile::TempDir,
}

impl Run {
    fn kind(&self, kind: &str) -> u64 {
        self.summary["by_kind"][kind].as_u64().unwrap_or(0)
    }

    fn kinds(&self) -> BTreeSet<String> {
        self.summary["by_kind"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The only statement file of the run.
    fn file(&self) -> &Value {
        let files = self.summary["files"].as_array().unwrap_or_else(|| {
            panic!(
                "summary.json has no files[]: {}\n{}",
                self.summary, self.log
            )
        });
        assert_eq!(files.len(), 1, "one statement file: {}", self.summary);
        &files[0]
    }

    fn rows_of(&self, kind: &str) -> Vec<&std::collections::BTreeMap<String, String>> {
        self.findings.iter().filter(|r| r["kind"] == kind).collect()
    }

    /// Everything the run said, for assertion messages.
    fn said(&self) -> String {
        format!(
            "exit {}\n{}\nsummary.json: {}",
            self.code,
            self.log,
            serde_json::to_string_pretty(&self.summary).unwrap_or_default()
        )
    }
}

/// `payrecon reconcile ARGS --out <home>/out`, then reads what it wrote.
fn reconcile(args: &[&str], home: tempfile::TempDir) -> Run {
    let out = home.path().join("out");
    let mut all: Vec<&str> = vec!["reconcile"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let (code, stdout, stderr) = support::payrecon_cli(BIN, &all, home.path());
    let log = format!("$ payrecon {}\n{stdout}{stderr}", all.join(" "));
    let text = std::fs::read_to_string(out.join("summary.json"))
        .unwrap_or_else(|e| panic!("no summary.json ({e}):\n{log}"));
    let summary: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("summary.json: {e}\n{text}"));
    let findings = read_findings(&out.join("findings.csv"));
    Run {
        code,
        log,
        summary,
        findings,
        _home: home,
    }
}

fn read_findings(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    if !path.exists() {
        return Vec::new();
    }
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "kind",
            "severity",
            "agent_bill_no",
            "user_id",
            "amount_internal",
            "amount_external",
            "difference",
            "first_seen",
            "last_seen",
            "attempts",
            "detail"
        ],
        "findings.csv columns (SPEC §7)"
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// A new SQLite ledger made by `payrecon migrate` in a fresh temporary home:
/// (home, `sqlite://<home>/empty.db`).
fn migrated_sqlite() -> (tempfile::TempDir, String) {
    let home = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", home.path().join("empty.db").display());
    let (code, out, err) = support::payrecon_cli(BIN, &["migrate", "--db", &url], home.path());
    assert_eq!(code, 0, "payrecon migrate --db {url}:\n{out}{err}");
    (home, url)
}

/// `payrecon reconcile --db <url> --workspace <home>/ws.db --statement <file> --format <fmt>
/// --day <day> --out <home>/out`, on the ledger `url` that lives in `home`.
fn reconcile_file(home: tempfile::TempDir, url: &str, file: &Path, format: &str, day: &str) -> Run {
    let ws = home.path().join("ws.db");
    let ws = ws.to_str().unwrap().to_owned();
    reconcile(
        &[
            "--db",
            url,
            "--workspace",
            &ws,
            "--statement",
            file.to_str().unwrap(),
            "--format",
            format,
            "--day",
            day,
        ],
        home,
    )
}

/// The README's statement-table row for `name`: that file reconciled against an empty
/// ledger made by `payrecon migrate`.
fn run_on_empty_ledger(shared: &Path, name: &str, format: &str, day: &str) -> Run {
    let (home, url) = migrated_sqlite();
    reconcile_file(home, &url, &realworld(shared, name), format, day)
}

fn realworld(shared: &Path, name: &str) -> PathBuf {
    let p = shared.join("realworld").join(name);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// What every run on a readable file shares: the run itself went through.
fn assert_ran(run: &Run) {
    assert_eq!(run.summary["status"], "ok", "{}", run.said());
    assert!(run.summary["error"].is_null(), "{}", run.said());
    assert!(
        run.code == 0 || run.code == 1,
        "exit 0 or 1 (findings), not 2 (error): {}",
        run.said()
    );
}

/// A file that was read whole, its footer verified, and matched against the ledger for
/// `day` (SPEC §4, §5), with `entries` rows and no bad row.
fn assert_reconciled_file(run: &Run, format: &str, entries: u64, day: &str) {
    assert_ran(run);
    let f = run.file();
    assert_eq!(f["format"], format, "{}", run.said());
    assert_eq!(f["entries"], entries, "{}", run.said());
    // row_errors lists each bad row (line and reason); an older summary gave a count.
    let bad = f["row_errors"]
        .as_array()
        .map(|a| a.len() as u64)
        .or_else(|| f["row_errors"].as_u64());
    assert_eq!(bad, Some(0), "no bad row: {}", run.said());
    assert_eq!(f["totals_ok"], true, "footer verified: {}", run.said());
    assert_eq!(f["reconciled"], true, "{}", run.said());
    // Fields of the engine's file roles (SPEC §4: a run reconciles only what a usable
    // statement covers).
    assert_eq!(f["role"], "reconciled", "{}", run.said());
    assert!(f["refused"].is_null(), "{}", run.said());
    assert_eq!(
        f["business_period"],
        serde_json::json!([day, day]),
        "the bill of {day}: {}",
        run.said()
    );
    assert_eq!(
        run.summary["unverified"],
        serde_json::json!({"flows": 0, "amount": "0.00"}),
        "an empty ledger leaves no flow unverified: {}",
        run.said()
    );
}

/// Against an empty ledger every successful payment of the bill is a `missing_internal`
/// (gateway has it, we don't), and nothing else is found.
fn assert_all_missing_internal(run: &Run, n: u64, amount: &str) {
    assert_eq!(run.kind("missing_internal"), n, "{}", run.said());
    assert_eq!(
        run.summary["amount_by_kind"]["missing_internal"],
        amount,
        "{}",
        run.said()
    );
    assert_eq!(
        run.kinds(),
        BTreeSet::from(["missing_internal".to_owned()]),
        "nothing but missing_internal against an empty ledger: {}",
        run.said()
    );
    let rows = run.rows_of("missing_internal");
    assert_eq!(rows.len() as u64, n, "findings.csv: {}", run.said());
    assert!(rows.iter().all(|r| r["severity"] == "critical"));
    assert_eq!(run.code, 1, "critical findings exit 1: {}", run.said());
}

/// A file refused whole (SPEC §4 `statement_total_mismatch`: its footer disagrees with its
/// rows): one finding, nothing matched against it, no flow called missing.
fn assert_refused_as_truncated(run: &Run, format: &str) {
    assert_ran(run);
    let f = run.file();
    assert_eq!(f["format"], format, "{}", run.said());
    assert_eq!(f["totals_ok"], false, "{}", run.said());
    assert_eq!(f["reconciled"], false, "{}", run.said());
    assert_eq!(run.kind("statement_total_mismatch"), 1, "{}", run.said());
    let missing: Vec<String> = run
        .kinds()
        .into_iter()
        .filter(|k| k.starts_with("missing"))
        .collect();
    assert!(
        missing.is_empty(),
        "nothing is called missing because of a refused file: {missing:?}\n{}",
        run.said()
    );
    assert_eq!(
        run.kinds(),
        BTreeSet::from(["statement_total_mismatch".to_owned()]),
        "nothing else is reported from a refused file: {}",
        run.said()
    );
    // Fields of the engine's file roles.
    assert_eq!(f["role"], "refused", "{}", run.said());
    assert!(
        f["refused"].as_str().is_some_and(|s| !s.is_empty()),
        "a refused file says why: {}",
        run.said()
    );
    assert_eq!(
        run.summary["unverified"],
        serde_json::json!({"flows": 0, "amount": "0.00"}),
        "{}",
        run.said()
    );
}

// ---------------------------------------------------------------------------------------------
// Statement files: one test per row of the README's table
// ---------------------------------------------------------------------------------------------

/// WeChat's pre-2017 24-column ALL bill (UTF-8 with BOM, fees with 5 decimals): 6 rows,
/// footer (6 orders, 1.73, fees 0.01000) verified; against an empty ledger 6 ×
/// missing_internal, 1.73 in all.
#[test]
fn wechat_2015_layout_apo_soft() {
    let shared = require_shared!("realworld/wechat-apo-soft-payment-parent-1.csv");
    let run = run_on_empty_ledger(
        &shared,
        "wechat-apo-soft-payment-parent-1.csv",
        "wechat",
        "2015-10-28",
    );
    assert_reconciled_file(&run, "wechat", 6, "2015-10-28");
    assert_all_missing_internal(&run, 6, "1.73");
    let mut amounts: Vec<&str> = run
        .rows_of("missing_internal")
        .iter()
        .map(|r| r["amount_external"].as_str())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, ["0.17", "0.17", "0.17", "0.17", "0.17", "0.88"]);
}

/// The current 27-column ALL bill, rows not in time order, trailing empty 费率备注:
/// 3 rows, footer verified (3 × missing_internal, 0.03, against an empty ledger).
#[test]
fn wechat_all_bill_gunsluo() {
    let shared = require_shared!("realworld/wechat-gunsluo-wechatpay-go-all.csv");
    let run = run_on_empty_ledger(
        &shared,
        "wechat-gunsluo-wechatpay-go-all.csv",
        "wechat",
        "2021-01-28",
    );
    assert_reconciled_file(&run, "wechat", 3, "2021-01-28");
    assert_all_missing_internal(&run, 3, "0.03");
    let bills: BTreeSet<&str> = run
        .rows_of("missing_internal")
        .iter()
        .map(|r| r["agent_bill_no"].as_str())
        .collect();
    assert_eq!(
        bills,
        BTreeSet::from([
            "S20210128153505214586",
            "S20210128165824499930",
            "S20210128170702357723"
        ]),
        "the key is 商户订单号, without its backtick"
    );
}

/// The 20-column SUCCESS bill (no refund columns): 1 row, footer verified.
#[test]
fn wechat_success_bill_gunsluo() {
    let shared = require_shared!("realworld/wechat-gunsluo-wechatpay-go-success.csv");
    let run = run_on_empty_ledger(
        &shared,
        "wechat-gunsluo-wechatpay-go-success.csv",
        "wechat",
        "2021-02-01",
    );
    assert_reconciled_file(&run, "wechat", 1, "2021-02-01");
    assert_all_missing_internal(&run, 1, "0.01");
    assert_eq!(
        run.rows_of("missing_internal")[0]["agent_bill_no"],
        "S20210201143829466741"
    );
}

/// The 29-column REFUND bill of 2021-02-01, whose 交易时间 are the original payments'
/// (2021-01-19 and 2021-01-24): accepted as that day's refund bill, never refused as "a
/// file for another period".
#[test]
fn wechat_refund_bill_is_the_refund_days_bill() {
    let shared = require_shared!("realworld/wechat-gunsluo-wechatpay-go-refund.csv");
    let run = run_on_empty_ledger(
        &shared,
        "wechat-gunsluo-wechatpay-go-refund.csv",
        "wechat",
        "2021-02-01",
    );
    assert_reconciled_file(&run, "wechat", 2, "2021-02-01");
    assert_eq!(run.kind("statement_total_mismatch"), 0, "{}", run.said());
    assert_eq!(run.kind("statement_refused"), 0, "{}", run.said());
    let everything = format!(
        "{}\n{:?}",
        run.summary,
        run.findings
            .iter()
            .map(|r| &r["detail"])
            .collect::<Vec<_>>()
    )
    .to_lowercase();
    // The engine's words for a bill of another period ("it is the bill of …, not of the
    // reconciled …: wrong file or wrong day", "这是 … 的对账单，不是本次对账日 … 的"), and
    // the contract's.
    for said in [
        "another period",
        "not of the reconciled",
        "wrong file or wrong day",
        "不是本次对账日",
        "文件或对账日选错了",
    ] {
        assert!(
            !everything.contains(said),
            "the refund bill was called a file for another period ({said:?}): {}",
            run.said()
        );
    }
    // Refunds of payments the ledger never credited are not payments the ledger misses.
    assert_eq!(run.kind("missing_internal"), 0, "{}", run.said());
    assert_eq!(run.kind("missing_external"), 0, "{}", run.said());
}

/// The refund bill against a ledger that credited both refunded payments on their own
/// days (2021-01-24 and 2021-01-19, a week and more before the bill's day): each refund is
/// matched to its recharge across days and is a `status_mismatch` carrying the refunded
/// 0.01 (SPEC §4); nothing is missing on either side.
#[tokio::test]
async fn wechat_refund_bill_matches_recharges_of_earlier_days() {
    use sqlx::Connection as _;
    let shared = require_shared!("realworld/wechat-gunsluo-wechatpay-go-refund.csv");
    let (home, url) = migrated_sqlite();
    {
        let mut conn = sqlx::SqliteConnection::connect(&format!("{url}?mode=rw"))
            .await
            .unwrap();
        sqlx::raw_sql(
            "INSERT INTO user_info (id, mobile, name, bind_code, bind_status, create_time, update_time)
               VALUES (1, '13800000001', '王伟', 'ofyak5qR_1wYsC99CsWA6R9MJazA', 1,
                       '2021-01-19 08:00:00.000', '2021-01-19 08:00:00.000');
             INSERT INTO user_account (user_id, amount, freeze_amount, create_time, update_time)
               VALUES (1, '0.02', '0.00', '2021-01-19 08:00:00.000', '2021-01-24 16:16:25.000');
             INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name,
                                     trans_amount, memo, create_time, update_time)
               VALUES (1, '王伟', 'S20210124161554311546', 1, '充值', '0.01', '充值',
                       '2021-01-24 16:16:25.000', '2021-01-24 16:16:25.000'),
                      (1, '王伟', 'S20210119083100844726118382', 1, '充值', '0.01', '充值',
                       '2021-01-19 16:31:18.000', '2021-01-19 16:31:18.000');",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let file = realworld(&shared, "wechat-gunsluo-wechatpay-go-refund.csv");
    let run = reconcile_file(home, &url, &file, "wechat", "2021-02-01");
    assert_reconciled_file(&run, "wechat", 2, "2021-02-01");
    assert_eq!(run.kind("status_mismatch"), 2, "{}", run.said());
    let missing: Vec<String> = run
        .kinds()
        .into_iter()
        .filter(|k| k.starts_with("missing"))
        .collect();
    assert!(missing.is_empty(), "{missing:?}: {}", run.said());
    assert_eq!(run.kind("balance_mismatch"), 0, "{}", run.said());
    let rows = run.rows_of("status_mismatch");
    let bills: BTreeSet<&str> = rows.iter().map(|r| r["agent_bill_no"].as_str()).collect();
    assert_eq!(
        bills,
        BTreeSet::from(["S20210119083100844726118382", "S20210124161554311546"]),
        "{}",
        run.said()
    );
    for r in &rows {
        assert_eq!(r["user_id"], "1", "{r:?}");
        assert_eq!(r["amount_internal"], "0.01", "credited here: {r:?}");
        // credited − what the gateway keeps: the refunded 0.01 (its sign is not the point).
        let diff = r["difference"].trim_start_matches('-');
        assert_eq!(diff, "0.01", "the refunded amount: {r:?}");
        let detail = r["detail"].to_lowercase();
        assert!(
            detail.contains("refund") || detail.contains("退款"),
            "the detail says it was refunded: {r:?}"
        );
    }
    assert_eq!(run.code, 1, "status_mismatch is high: {}", run.said());
}

/// An ALL bill with CRLF line ends, 20 rows sorted by WeChat order id: 20 rows, footer
/// verified.
#[test]
fn wechat_crlf_bill_huhangying() {
    let shared = require_shared!("realworld/wechat-huhangying-eyaoweb2-all.csv");
    let run = run_on_empty_ledger(
        &shared,
        "wechat-huhangying-eyaoweb2-all.csv",
        "wechat",
        "2020-11-29",
    );
    assert_reconciled_file(&run, "wechat", 20, "2020-11-29");
    assert_all_missing_internal(&run, 20, "0.20");
    assert!(
        run.findings
            .iter()
            .all(|r| !r["agent_bill_no"].contains('\r') && !r["detail"].contains('\r')),
        "no CR leaks into keys or details"
    );
}

/// A real REFUND bill cut short by its contributor (1 row; the summary says 4 refunds,
/// 2.02, fees −0.02000): refused as truncated, nothing else reported from it, no flow
/// called missing because of it.
#[test]
fn wechat_truncated_refund_excerpt_is_refused() {
    let shared = require_shared!("realworld/wechat-wxjava-refund-masked-excerpt.csv");
    let run = run_on_empty_ledger(
        &shared,
        "wechat-wxjava-refund-masked-excerpt.csv",
        "wechat",
        "2019-07-23",
    );
    assert_refused_as_truncated(&run, "wechat");
    let rows = run.rows_of("statement_total_mismatch");
    assert_eq!(rows.len(), 1, "{}", run.said());
    assert_eq!(rows[0]["severity"], "critical");
}

/// The WeChat fund-flow bill (资金账单, `收支金额(元)` with ASCII parentheses) whose summary
/// counts 3 records but holds only the 2 expenses: read as a fund-flow bill (not "not a
/// WeChat bill"), refused as truncated.
#[test]
fn wechat_fundflow_truncated_is_refused() {
    let shared = require_shared!("realworld/wechat-fundflow-gunsluo-wechatpay-go.csv");
    let run = run_on_empty_ledger(
        &shared,
        "wechat-fundflow-gunsluo-wechatpay-go.csv",
        "wechat-fundflow",
        "2021-02-01",
    );
    assert!(
        !run.said().to_lowercase().contains("not a wechat"),
        "{}",
        run.said()
    );
    assert_refused_as_truncated(&run, "wechat-fundflow");
    assert_eq!(run.file()["entries"], 2, "the 2 expenses: {}", run.said());
}

// ---------------------------------------------------------------------------------------------
// srb database dumps, loaded unmodified into MariaDB
// ---------------------------------------------------------------------------------------------

/// `payrecon reconcile --db <url> --out <dir>` with no statement, on the srb_core dump.
async fn reconcile_srb_dump(shared: &Path, dump: &str) -> Run {
    let path = shared.join("realworld/srb").join(dump);
    let t = support::mysql_dump_db(&path).await;
    let home = tempfile::tempdir().unwrap();
    let url = t.url.clone();
    tokio::task::spawn_blocking(move || reconcile(&["--db", &url], home))
        .await
        .unwrap()
}

/// weisyw/Financial: 33 flows of 6 types on 5 accounts, every balance equal to its flows:
/// no balance_mismatch; the three tables srb lacks are reported as skipped checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srb_dump_weisyw_balances_agree() {
    let shared = require_shared!("realworld/srb/srb-weisyw-Financial-srb_core.sql");
    let run = reconcile_srb_dump(&shared, "srb-weisyw-Financial-srb_core.sql").await;
    assert_ran(&run);
    assert_eq!(run.kind("balance_mismatch"), 0, "{}", run.said());
    assert!(run.rows_of("balance_mismatch").is_empty());
    let skipped = run.summary["skipped"].to_string();
    for table in ["recharge_order", "notify_log", "idempotency_record"] {
        assert!(
            skipped.contains(table),
            "the skipped checks name {table}: {}",
            run.said()
        );
    }
}

/// Dorixs/srb: exactly one balance_mismatch — user 3's frozen amount is 0.00 while its
/// flows (an invest lock of 100,000.00 and no unlock) give 100,000.00.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srb_dump_dorixs_frozen_amount_mismatch() {
    let shared = require_shared!("realworld/srb/srb-Dorixs-srb-srb_core.sql");
    let run = reconcile_srb_dump(&shared, "srb-Dorixs-srb-srb_core.sql").await;
    assert_ran(&run);
    assert_eq!(run.kind("balance_mismatch"), 1, "{}", run.said());
    let rows = run.rows_of("balance_mismatch");
    assert_eq!(rows.len(), 1, "{}", run.said());
    let r = rows[0];
    assert_eq!(r["severity"], "critical", "{r:?}");
    assert_eq!(r["user_id"], "3", "{r:?}");
    assert_eq!(r["amount_internal"], "0.00", "stored: {r:?}");
    assert_eq!(r["amount_external"], "100000.00", "expected: {r:?}");
    assert_eq!(r["difference"], "-100000.00", "stored − expected: {r:?}");
    assert!(
        r["detail"].contains("frozen amount") || r["detail"].contains("冻结金额"),
        "on the frozen amount: {r:?}"
    );
    let skipped = run.summary["skipped"].to_string();
    for table in ["recharge_order", "notify_log", "idempotency_record"] {
        assert!(skipped.contains(table), "{table}: {}", run.said());
    }
}
