//! `payrecon demo`: the embedded SQLite demo database, filled by really
//! running the flawed and the fixed handlers over three business days.
//!
//! The database has a legacy layout (no `uk_trans_no`), as many real srb
//! deployments did: day 1 runs the `naive` handler (the seeds' 存在的问题),
//! day 2 srb's original `check-then-act`, day 3 the `locked` handler with every
//! gateway fault turned on. Each day's hfb statement is written beside it.
//!
//! For the last day (the one a finance operator reconciles) the demo also
//! writes the money files ([`MoneyFiles`]): the day's complete WeChat trade
//! bill with fees, its fund-flow bill, and the custodian's balances — made by
//! the simulated gateway's fee and settlement model and hfb's custodian
//! ledger (see [`crate::simulate::money`]).

use crate::db::{ConnectOptions, Db, DbError, schema};
use crate::payment::HandlerKind;
use crate::simulate::{self, Faults, SimConfig, SimError, Truth, money};
use chrono::{Duration, NaiveDate};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use crate::simulate::money::{MoneyBreak, MoneyFiles};

/// What `demo` made.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The database file.
    pub db_path: PathBuf,
    /// Statement files, one per day.
    pub statements: Vec<PathBuf>,
    /// The last day's WeChat trade bill with fees, fund-flow bill and
    /// custodian balances (apart from `statements`, which stay trade files
    /// of our gateway and the truncated WeChat bill).
    pub money: Option<MoneyFiles>,
    /// The truth file.
    pub truth_path: PathBuf,
    /// What the run produced.
    pub truth: Truth,
}

/// Where payrecon keeps its files: the user's data directory.
pub fn data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "payrecon")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".payrecon"))
}

/// The default demo database path.
pub fn default_demo_path() -> PathBuf {
    data_dir().join("demo.db")
}

/// Today's business date.
pub fn business_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&crate::db::default_business_tz())
        .date_naive()
}

/// The three days, ending yesterday (the day a finance operator reconciles).
fn demo_days(last: NaiveDate) -> [(NaiveDate, HandlerKind); 3] {
    [
        (last - Duration::days(2), HandlerKind::Naive),
        (last - Duration::days(1), HandlerKind::CheckThenAct),
        (last, HandlerKind::Locked),
    ]
}

fn faults_for(h: HandlerKind) -> Faults {
    let mut f = Faults {
        duplicate_rate: 0.12,
        lost_response_rate: 0.08,
        timeout_rate: 0.04,
        error_rate: 0.02,
        exhaust_rate: 0.03,
        abandon_rate: 0.03,
        decline_rate: 0.02,
        stray_rate: 0.25,
        refund_rate: 0.02,
        amount_drift_rate: 0.02,
        statement_duplicate_rate: 0.02,
        ..Faults::default()
    };
    match h {
        HandlerKind::Naive => f.crash_rate = 0.01,
        HandlerKind::CheckThenAct => {}
        HandlerKind::Locked => {
            f.conflict_rate = 0.03;
            f.crash_rate = 0.15;
        }
    }
    f
}

/// Builds the demo at `path` (SQLite). The database is built in a temporary
/// file and moved into place only when complete, so a failed run never leaves
/// a half-filled demo behind; an existing demo at `path` is replaced.
pub async fn build_sqlite(
    path: &Path,
    last_day: NaiveDate,
    seed: u64,
) -> Result<DemoReport, SimError> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|source| SimError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let tmp = path.with_extension("building");
    for p in [tmp.clone(), wal(&tmp, "-wal"), wal(&tmp, "-shm")] {
        let _ = std::fs::remove_file(p);
    }
    let url = format!("sqlite://{}", tmp.display());
    let db = Db::connect(&url, &ConnectOptions::read_write()).await?;
    let mut result = fill_all(&db, &dir, last_day, seed).await;
    db.close().await;
    if result.is_ok() {
        // One self-contained file: readers need no -wal/-shm beside it. The
        // journal mode can only change on the database's sole connection.
        if let Err(e) = rollback_journal(&url).await {
            result = Err(e.into());
        }
    }
    let DemoFill {
        statements,
        money,
        truth,
    } = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(wal(path, suffix));
    }
    std::fs::rename(&tmp, path).map_err(|source| SimError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let truth_path = dir.join("demo-truth.json");
    simulate::write_truth(&truth_path, &truth)?;
    Ok(DemoReport {
        db_path: path.to_path_buf(),
        statements,
        money,
        truth_path,
        truth,
    })
}

async fn rollback_journal(url: &str) -> Result<(), DbError> {
    let mut o = ConnectOptions::read_write();
    o.max_connections = 1;
    let db = Db::connect(url, &o).await?;
    let r = db.execute("PRAGMA journal_mode = DELETE", &[]).await;
    db.close().await;
    r.map(|_| ())
}

fn wal(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// What [`fill_all`] made.
#[derive(Debug, Clone)]
pub struct DemoFill {
    /// Statement files, one per day (and the truncated WeChat bill).
    pub statements: Vec<PathBuf>,
    /// The last day's money files.
    pub money: Option<MoneyFiles>,
    /// What the run produced, the money files' breaks included.
    pub truth: Truth,
}

/// Fills an empty database (any backend) with the three demo days and writes
/// the statements and the money files into `dir` (see [`fill_all`]); returns
/// the statements and the truth.
pub async fn fill(
    db: &Db,
    dir: &Path,
    last_day: NaiveDate,
    seed: u64,
) -> Result<(Vec<PathBuf>, Truth), SimError> {
    let f = fill_all(db, dir, last_day, seed).await?;
    Ok((f.statements, f.truth))
}

/// Fills an empty database (any backend) with the three demo days and writes
/// the statements into `dir`, then the last day's money files: its WeChat
/// trade bill with fees, fund-flow bill and the custodian's balances.
pub async fn fill_all(
    db: &Db,
    dir: &Path,
    last_day: NaiveDate,
    seed: u64,
) -> Result<DemoFill, SimError> {
    let s = schema::discover(db).await?;
    if !s.tables.is_empty() {
        return Err(SimError::Db(DbError::Schema(format!(
            "{} already has payment tables ({}); the demo fills only an empty database",
            db.redacted_url(),
            s.tables.keys().cloned().collect::<Vec<_>>().join(", ")
        ))));
    }
    schema::create_legacy_trans_flow(db).await?;
    crate::db::migrate(db).await?;
    let mut truth = Truth::default();
    let mut users = Vec::new();
    let mut carry = Vec::new();
    let mut files = Vec::new();
    let mut facts = money::MoneyFacts::default();
    let mut last_lines = Vec::new();
    for (k, (day, handler)) in demo_days(last_day).into_iter().enumerate() {
        let mut cfg = SimConfig::new(handler, day);
        cfg.users = 40;
        cfg.recharges = 150;
        cfg.concurrency = 3;
        cfg.seed = seed.wrapping_add(k as u64);
        cfg.faults = faults_for(handler);
        let report = simulate::run_with_users(db, &cfg, std::mem::take(&mut users)).await?;
        let mut lines = std::mem::take(&mut carry);
        lines.extend(report.statement);
        lines.sort_by_key(|l| l.paid_at);
        let file = dir.join(format!("hfb-{day}.csv"));
        simulate::write_statement(&file, &lines)?;
        files.push(file);
        facts.merge(report.money);
        if k == 2 && lines.len() > 3 {
            // The same day as a WeChat bill whose download was cut short: its
            // footer still counts every payment, its rows do not.
            let wx = dir.join(format!("wechat-{day}-truncated.csv"));
            crate::statement::wechat::write_file(&wx, &lines, Some(lines.len() - 3)).map_err(
                |source| SimError::Io {
                    path: wx.display().to_string(),
                    source,
                },
            )?;
            truth
                .anomalies
                .entry("statement_total_mismatch")
                .or_default()
                .insert(
                    wx.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
            files.push(wx);
        }
        carry = report.next_day_statement;
        users = report.users;
        truth.merge(report.truth);
        if k == 2 {
            last_lines = lines;
        }
    }
    truth.config = None;
    // The money files of the reconciled day. Their faults meet only bills
    // with no other break, so each break has one cause.
    let avoid: BTreeSet<String> = truth.anomalies.values().flatten().cloned().collect();
    let money = money::write_demo_files(dir, last_day, &last_lines, &users, &facts, &avoid, seed)?;
    for b in &money.breaks {
        truth
            .anomalies
            .entry(b.kind)
            .or_default()
            .insert(b.key.clone());
    }
    Ok(DemoFill {
        statements: files,
        money: Some(money),
        truth,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::recon::{self, RunOptions, RunStatus, StatementInput};
    use crate::statement::Format;
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicBool;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    /// Finding keys by kind, for the kinds given.
    fn by_kind(out: &recon::RunOutput, kinds: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in out
            .findings
            .iter()
            .filter(|f| kinds.contains(&f.kind.as_str()))
        {
            m.entry(f.kind.as_str().to_owned())
                .or_default()
                .insert(f.key.clone());
        }
        m
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_reconciled_day_has_money_files_whose_breaks_are_the_simulations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.db");
        let r = build_sqlite(&path, day(), 2026).await.unwrap();
        let m = r.money.clone().unwrap();
        for p in [&m.wechat_bill, &m.fundflow, &m.balances] {
            assert!(p.exists(), "{}", p.display());
            assert!(
                !r.statements.contains(p),
                "money files stay apart from the statements"
            );
        }
        for kind in [
            "fee_mismatch",
            "settlement_missing",
            "settlement_amount_mismatch",
            "settlement_unexplained",
            "custody_balance_mismatch",
            "custody_unknown_account",
        ] {
            assert!(!r.truth.keys(kind).is_empty(), "no {kind}: {:?}", m.breaks);
        }
        assert_eq!(r.truth.keys("fee_mismatch").len(), 3, "{:?}", m.breaks);
        for kind in [
            "settlement_missing",
            "settlement_amount_mismatch",
            "settlement_unexplained",
            "custody_unknown_account",
        ] {
            assert_eq!(r.truth.keys(kind).len(), 1, "{kind}: {:?}", m.breaks);
        }
        // The same seed makes the same money files.
        let dir2 = tempfile::tempdir().unwrap();
        let r2 = build_sqlite(&dir2.path().join("demo.db"), day(), 2026)
            .await
            .unwrap();
        let m2 = r2.money.unwrap();
        for (a, b) in [
            (&m.wechat_bill, &m2.wechat_bill),
            (&m.fundflow, &m2.fundflow),
        ] {
            assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        }
        for s in &r.statements {
            let other = dir2.path().join(s.file_name().unwrap());
            assert_eq!(std::fs::read(s).unwrap(), std::fs::read(other).unwrap());
        }

        let db = Db::connect(
            &format!("sqlite://{}", path.display()),
            &ConnectOptions::read_only(),
        )
        .await
        .unwrap();
        // The custodian agrees with the ledger exactly where the truth says
        // it does, and where it does not, the break's amounts are both sides.
        let ledger: BTreeMap<String, (i64, rust_decimal::Decimal)> = db
            .fetch_all(
                "SELECT i.bind_code, i.id, a.amount, a.freeze_amount FROM user_info i JOIN user_account a ON a.user_id = i.id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row.text(0).unwrap(),
                    (row.i64(1).unwrap(), row.money(2).unwrap() + row.money(3).unwrap()),
                )
            })
            .collect();
        let mut file = BTreeMap::new();
        crate::statement::balances::read_balances(
            &m.balances,
            &mut |b| {
                file.insert(
                    b.user_code.clone(),
                    b.amount + b.freeze_amount.unwrap_or_default(),
                );
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(file.len(), ledger.len() + 1);
        let mismatched: BTreeSet<String> = r
            .truth
            .keys("custody_balance_mismatch")
            .into_iter()
            .collect();
        for (code, (id, ours)) in &ledger {
            let key = format!("user:{id}");
            let theirs = file[code];
            if mismatched.contains(&key) {
                let b = m.breaks.iter().find(|b| b.key == key).unwrap();
                assert_eq!(
                    (b.internal, b.external),
                    (Some(*ours), Some(theirs)),
                    "{key}"
                );
                assert_ne!(*ours, theirs);
            } else {
                assert_eq!(*ours, theirs, "{key}");
            }
        }
        let unknown = r.truth.keys("custody_unknown_account");
        let code = unknown[0].strip_prefix("custody:").unwrap();
        assert!(file.contains_key(code) && !ledger.contains_key(code));

        // The complete WeChat bill gives the statement breaks the hfb file of
        // the same day gives.
        let statement_kinds = [
            "missing_internal",
            "missing_external",
            "amount_mismatch",
            "status_mismatch",
            "duplicate_in_statement",
            "pending_cross_day",
        ];
        let hfb = r
            .statements
            .iter()
            .find(|p| p.ends_with(format!("hfb-{}.csv", day())))
            .unwrap();
        let mut got = Vec::new();
        for (p, format) in [(hfb, Format::Hfb), (&m.wechat_bill, Format::Wechat)] {
            let opts = RunOptions::new(
                Some(recon::Period::day(day())),
                vec![StatementInput {
                    path: p.clone(),
                    format,
                }],
                db.now(),
            );
            let out = recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await;
            assert_eq!(out.status, RunStatus::Ok, "{:?}", out.error);
            got.push(by_kind(&out, &statement_kinds));
        }
        assert!(!got[0].is_empty());
        assert_eq!(got[0], got[1], "hfb vs WeChat bill");

        // One run with the day's trade bill, its fund-flow bill, the
        // contracted rate and the custodian's balances finds the money breaks.
        let mut opts = RunOptions::new(
            Some(recon::Period::day(day())),
            vec![
                StatementInput {
                    path: m.wechat_bill.clone(),
                    format: Format::Wechat,
                },
                StatementInput {
                    path: m.fundflow.clone(),
                    format: Format::WechatFundflow,
                },
            ],
            db.now(),
        );
        opts.fees = recon::fees::FeeRates::parse_args(&["0.6%"]).unwrap();
        opts.balances = Some(m.balances.clone());
        let out = recon::reconcile(&db, &opts, &AtomicBool::new(false), &mut |_, _| {}).await;
        assert_eq!(out.status, RunStatus::Ok, "{:?}", out.error);
        let money_kinds = [
            "fee_mismatch",
            "settlement_missing",
            "settlement_amount_mismatch",
            "settlement_unexplained",
            "custody_balance_mismatch",
            "custody_unknown_account",
        ];
        let found = by_kind(&out, &money_kinds);
        let mut listed: BTreeMap<String, usize> = BTreeMap::new();
        crate::statement::read_statement(&m.wechat_bill, &Format::Wechat, |e| {
            if e.kind == crate::statement::EntryKind::Payment {
                *listed.entry(e.agent_bill_no).or_default() += 1;
            }
        })
        .unwrap();
        for kind in money_kinds {
            let want: BTreeSet<String> = r.truth.keys(kind).into_iter().collect();
            let got = found.get(kind).cloned().unwrap_or_default();
            if kind == "settlement_amount_mismatch" {
                // A bill the trade bill lists twice (duplicate_in_statement)
                // settles once; a check that expects it twice says so too.
                assert!(got.is_superset(&want), "{kind}: {got:?} vs {want:?}");
                for extra in got.difference(&want) {
                    assert_eq!(listed.get(extra), Some(&2), "{kind}: {extra}");
                }
            } else {
                assert_eq!(got, want, "{kind}");
            }
        }
        db.close().await;
    }
}
