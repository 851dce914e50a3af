//! One reconciliation run: checks + matching, findings sorted, summary, outputs.

use super::checks::{self, Scope, Skipped};
use super::finding::{Finding, Severity};
use super::matching::{self, FileRole, FileSummary, MatchError, StatementInput};
use crate::db::{Db, DbError, schema};
use crate::export::CsvFile;
use crate::money::format_amount;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The business period reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
}

impl Period {
    /// One day.
    pub fn day(d: NaiveDate) -> Self {
        Self { from: d, to: d }
    }

    /// Start, inclusive.
    pub fn start(&self) -> NaiveDateTime {
        self.from.and_time(chrono::NaiveTime::MIN)
    }

    /// End, exclusive.
    pub fn end(&self) -> NaiveDateTime {
        (self.to + Duration::days(1)).and_time(chrono::NaiveTime::MIN)
    }
}

/// What to reconcile and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Period; `None` checks the whole database and matches no statement.
    pub period: Option<Period>,
    /// Statement files.
    pub statements: Vec<StatementInput>,
    /// Cross-day window around the business-day boundary.
    pub cross_day_window: Duration,
    /// An order paying longer than this is stuck.
    pub stuck_after: Duration,
    /// Idempotency lock TTL.
    pub lock_ttl: Duration,
    /// "Now" for ageing.
    pub as_of: NaiveDateTime,
}

impl RunOptions {
    /// Default cross-day window, in minutes: an unmatched item this close to the
    /// business-day boundary is `pending_cross_day`, not missing (§4).
    pub const DEFAULT_WINDOW_MINUTES: i64 = 10;
    /// Default age, in minutes, after which an order still paying is stuck (§4).
    pub const DEFAULT_STUCK_MINUTES: i64 = 30;
    /// Default idempotency lock TTL, in seconds (§4).
    pub const DEFAULT_LOCK_TTL_SECONDS: i64 = 90;

    /// Options with the default window, stuck age and lock TTL.
    pub fn new(
        period: Option<Period>,
        statements: Vec<StatementInput>,
        as_of: NaiveDateTime,
    ) -> Self {
        Self {
            period,
            statements,
            cross_day_window: Duration::minutes(Self::DEFAULT_WINDOW_MINUTES),
            stuck_after: Duration::minutes(Self::DEFAULT_STUCK_MINUTES),
            lock_ttl: Duration::seconds(Self::DEFAULT_LOCK_TTL_SECONDS),
            as_of,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Complete.
    Ok,
    /// Stopped by an error; its findings are not a result.
    Failed,
    /// Stopped by the user.
    Cancelled,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutput {
    /// How it ended.
    pub status: RunStatus,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// The database (password removed).
    pub database: String,
    /// The period.
    pub period: Option<Period>,
    /// When it started (business time).
    pub started_at: NaiveDateTime,
    /// How long it took.
    pub duration_ms: u64,
    /// Findings, most severe first.
    #[serde(skip)]
    pub findings: Vec<Finding>,
    /// Checks skipped and why.
    pub skipped: Vec<Skipped>,
    /// Statement files.
    pub files: Vec<FileSummary>,
    /// Findings per kind.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Findings per severity.
    pub by_severity: BTreeMap<&'static str, u64>,
    /// Sum of |difference| per kind, as exact decimal text (a bill with
    /// several findings is in several kinds: see `amount_at_risk`).
    pub amount_by_kind: BTreeMap<&'static str, String>,
    /// The money the findings put in doubt, each bill and account counted
    /// once, file-level totals apart ([`super::risk`]).
    pub amount_at_risk: super::AtRisk,
    /// Statement orders, flows in period, matched.
    pub matching: Option<(u64, u64, u64)>,
    /// Recharge flows of the period that no usable statement covered (a
    /// refused file's, a day without a statement): not checked, not missing.
    /// `None` when no statement was given.
    pub unverified: Option<Unverified>,
    /// Flows of the period that only a neighbouring day's bill lists (they
    /// are accounted for there, neither matched nor unverified here).
    pub cleared_by_neighbour: u64,
}

/// Flows a run could not check against any statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unverified {
    /// How many.
    pub flows: u64,
    /// Their total, as exact decimal text.
    pub amount: String,
}

impl RunOutput {
    /// The highest severity found.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Runs the checks and, with statements, the matching.
pub async fn reconcile(
    db: &Db,
    opts: &RunOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> RunOutput {
    let started = std::time::Instant::now();
    let mut out = RunOutput {
        status: RunStatus::Ok,
        error: None,
        database: db.redacted_url(),
        period: opts.period,
        started_at: db.now(),
        duration_ms: 0,
        findings: Vec::new(),
        skipped: Vec::new(),
        files: Vec::new(),
        by_kind: BTreeMap::new(),
        by_severity: BTreeMap::new(),
        amount_by_kind: BTreeMap::new(),
        amount_at_risk: super::AtRisk::default(),
        matching: None,
        unverified: None,
        cleared_by_neighbour: 0,
    };
    let r = run_inner(db, opts, cancel, progress, &mut out).await;
    if let Err(e) = r {
        out.status = if matches!(e, MatchError::Cancelled) {
            RunStatus::Cancelled
        } else {
            RunStatus::Failed
        };
        out.error = Some(e.to_string());
    }
    let t0 = std::time::Instant::now();
    out.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.kind.cmp(&b.kind))
            .then(a.key.cmp(&b.key))
    });
    for f in &out.findings {
        *out.by_kind.entry(f.kind.as_str()).or_default() += 1;
        *out.by_severity.entry(f.severity.as_str()).or_default() += 1;
    }
    let mut amounts: BTreeMap<&'static str, Decimal> = BTreeMap::new();
    for f in &out.findings {
        if let Some(d) = f.difference {
            *amounts.entry(f.kind.as_str()).or_default() += d.abs();
        }
    }
    out.amount_by_kind = amounts
        .into_iter()
        .map(|(k, v)| (k, format_amount(v)))
        .collect();
    out.amount_at_risk = super::risk::at_risk(&out.findings);
    checks::stage_time("findings sort/summary", t0);
    out.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    out
}

async fn run_inner(
    db: &Db,
    opts: &RunOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
    out: &mut RunOutput,
) -> Result<(), MatchError> {
    let schema = schema::discover(db).await?;
    if !schema.has_table("trans_flow") && !schema.has_table("notify_log") {
        return Err(MatchError::Db(DbError::Schema(format!(
            "{} has neither trans_flow nor notify_log: it is not a payment database of SPEC §3",
            db.redacted_url()
        ))));
    }
    let scope = Scope {
        from: opts.period.map(|p| p.start()),
        to: opts.period.map(|p| p.end()),
        as_of: opts.as_of,
        stuck_after: opts.stuck_after,
        lock_ttl: opts.lock_ttl,
    };
    // SQLite with a unique trans_no, and the servers whose tables a scanner
    // can read: the matching reads its flows from the checks' scan of
    // trans_flow, and the statements are parsed meanwhile (`job`, below).
    let server_shared = db.backend() != crate::db::Backend::Sqlite
        && opts.period.is_some()
        && !opts.statements.is_empty()
        && schema.has_table("trans_flow")
        && schema.has_table("recharge_order")
        && schema.trans_no_unique
        && super::scan::server::Source::for_db(
            db,
            super::scan::Wanted {
                balances: schema.has_table("user_account"),
                orders: true,
            },
        )
        .await?
        .is_some();
    if let Some(p) = opts.period
        && !opts.statements.is_empty()
        && db.backend() != crate::db::Backend::Sqlite
        && schema.has_table("trans_flow")
        && !server_shared
    {
        // Otherwise on the servers the checks are the server's work: meanwhile
        // the client reads the statements (on a blocking thread) and then the
        // period's flows, and merges them (2 cores: it would otherwise wait).
        return server_checks_and_matching(db, &schema, &scope, opts, p, cancel, progress, out)
            .await;
    }
    let job = match opts.period {
        Some(p)
            if server_shared
                || (!opts.statements.is_empty()
                    && db.backend() == crate::db::Backend::Sqlite
                    && schema.has_table("trans_flow")
                    && schema.trans_no_unique) =>
        {
            Some(super::scan::MatchJob {
                files: opts.statements.clone(),
                from: p.start(),
                to: p.end(),
                window: opts.cross_day_window,
            })
        }
        _ => None,
    };
    progress("checks", 0);
    let t0 = std::time::Instant::now();
    let (c, matched) =
        checks::run_checks_matching(db, &schema, &scope, job, cancel, progress).await?;
    checks::stage_time("all checks", t0);
    out.findings.extend(c.findings);
    out.skipped.extend(c.skipped);
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(MatchError::Cancelled);
    }
    if !opts.statements.is_empty() {
        let Some(period) = opts.period else {
            return Err(MatchError::WrongPeriod(
                "statements need a period: give --day or --from/--to".into(),
            ));
        };
        if !schema.has_table("trans_flow") {
            out.skipped.push(Skipped {
                kinds: vec![
                    "missing_internal",
                    "missing_external",
                    "amount_mismatch",
                    "status_mismatch",
                ],
                reason_en: "table trans_flow is missing".into(),
                reason_zh: "缺少表 trans_flow".into(),
            });
            return Ok(());
        }
        let early = match matched {
            Some(super::scan::Matched::Done(m)) => {
                for f in &m.files {
                    progress("statement", f.entries);
                }
                progress("flows", m.flows_in_period);
                return take_matching(db, period, out, m).await;
            }
            Some(super::scan::Matched::Again(read)) => Some(read),
            None => None,
        };
        let read = match early {
            Some(r) => {
                for n in r.entries() {
                    progress("statement", n);
                }
                r
            }
            None => matching::read_statements(
                &opts.statements,
                (period.start(), period.end(), opts.cross_day_window),
                Some(cancel),
                progress,
            )?,
        };
        let m = matching::match_read(
            db,
            read,
            period.start(),
            period.end(),
            opts.cross_day_window,
            cancel,
            progress,
        )
        .await?;
        take_matching(db, period, out, m).await?;
    }
    Ok(())
}

/// The checks on PostgreSQL/MySQL with the statement matching running at the
/// same time: the server computes the checks while this process reads the
/// statements and the period's flows. Findings keep their order (checks
/// first); a failed check is the run's error even if the matching failed too.
#[allow(clippy::too_many_arguments)]
async fn server_checks_and_matching(
    db: &Db,
    schema: &schema::SchemaReport,
    scope: &Scope,
    opts: &RunOptions,
    period: Period,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
    out: &mut RunOutput,
) -> Result<(), MatchError> {
    // Both halves report progress; they are polled on this one task, so the
    // calls never overlap.
    let progress = std::cell::RefCell::new(progress);
    let mut check_progress = |s: &str, n: u64| (*progress.borrow_mut())(s, n);
    let mut match_progress = |s: &str, n: u64| (*progress.borrow_mut())(s, n);
    let files = opts.statements.clone();
    let (from, to, window) = (period.start(), period.end(), opts.cross_day_window);
    let matching = async {
        let read = tokio::task::spawn_blocking(move || {
            matching::read_statements(&files, (from, to, window), None, &mut |_, _| {})
        })
        .await
        .map_err(|e| {
            MatchError::Db(DbError::State(format!(
                "reading the statements stopped: {e}"
            )))
        })??;
        for n in read.entries() {
            match_progress("statement", n);
        }
        matching::match_read(
            db,
            read,
            from,
            to,
            opts.cross_day_window,
            cancel,
            &mut match_progress,
        )
        .await
    };
    check_progress("checks", 0);
    let t0 = std::time::Instant::now();
    let checks = async {
        let r =
            checks::run_checks_matching(db, schema, scope, None, cancel, &mut check_progress).await;
        checks::stage_time("all checks", t0);
        r
    };
    let (c, m) = tokio::join!(checks, matching);
    let (c, _) = c?;
    out.findings.extend(c.findings);
    out.skipped.extend(c.skipped);
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(MatchError::Cancelled);
    }
    take_matching(db, period, out, m?).await
}

/// Adds the matching's result to the run. When the merge found the period's
/// bills sharing not one order number with its flows
/// ([`matching::refuse_if_unrelated`]: another merchant's, environment's or
/// day's files), those files are refused — one finding each — and every flow
/// of the period is unverified, instead of every line and flow being a break.
/// Refunds whose recharge lies on an earlier day are then looked up; flows
/// that no usable statement covers make one `flows_unverified` finding.
async fn take_matching(
    db: &Db,
    period: Period,
    out: &mut RunOutput,
    mut m: matching::MatchOutput,
) -> Result<(), MatchError> {
    if let Some((orders, flows)) = m.unrelated {
        let why = format!(
            "its {orders} paid orders share no order number with the period's {flows} recharge flows: \
             wrong merchant, environment or day?"
        );
        let why_zh = format!(
            "它的 {orders} 笔已付订单与本期 {flows} 笔充值流水没有一个相同的订单号：是否选错了商户、环境或日期？"
        );
        for f in m
            .files
            .iter_mut()
            .filter(|f| f.role == FileRole::Reconciled)
        {
            m.findings
                .push(matching::refused_finding(&f.file_name(), &why_zh, &why));
            f.role = FileRole::Refused;
            f.reconciled = false;
            f.refused = Some(why.clone());
            f.refused_zh = Some(why_zh.clone());
        }
    }
    matching::resolve_refunds(db, &mut m).await?;
    let unverified = Unverified {
        flows: m.unverified_flows,
        amount: format_amount(m.unverified_amount),
    };
    if m.unverified_flows > 0 {
        let days = matching::day_range((period.from, period.to));
        let (n, amt) = (m.unverified_flows, &unverified.amount);
        let refused: Vec<String> = m
            .files
            .iter()
            .filter(|f| f.role == FileRole::Refused)
            .map(FileSummary::file_name)
            .collect();
        let because_zh = if refused.is_empty() {
            "没有哪份可用的对账单覆盖它们的日期".to_owned()
        } else {
            format!("对账单 {} 未采用", refused.join("、"))
        };
        let because_en = if refused.is_empty() {
            "no usable statement covers their days".to_owned()
        } else {
            format!("statement {} was not used", refused.join(", "))
        };
        out.findings.push(
            Finding::new(super::finding::Kind::FlowsUnverified, format!("unverified:{days}"))
                .amounts(Some(m.unverified_amount), None)
                .explain(
                    format!("{days} 有 {n} 笔充值流水共 {amt} 未与网关核对（{because_zh}）：它们既未确认也未判为缺失，请取得这些日期完整、正确的对账单后重新对账"),
                    format!("{n} recharge flows totalling {amt} on {days} were NOT checked against the gateway ({because_en}): neither confirmed nor reported missing — get the complete, right statement of their days and run again"),
                ),
        );
    }
    out.unverified = Some(unverified);
    out.cleared_by_neighbour = m.cleared_by_neighbour;
    out.matching = Some((m.statement_orders, m.flows_in_period, m.matched));
    out.findings.extend(m.findings);
    out.files = m.files;
    Ok(())
}

/// `findings.csv` columns (SPEC §7).
pub const FINDINGS_HEADER: [&str; 11] = [
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
    "detail",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn time(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// One finding as the cells of [`FINDINGS_HEADER`].
pub fn finding_cells(f: &Finding) -> Vec<String> {
    vec![
        f.kind.as_str().to_owned(),
        f.severity.as_str().to_owned(),
        f.agent_bill_no.clone().unwrap_or_default(),
        opt(f.user_id),
        opt(f.amount_internal.map(format_amount)),
        opt(f.amount_external.map(format_amount)),
        opt(f.difference.map(format_amount)),
        time(f.first_seen),
        time(f.last_seen),
        opt(f.attempts),
        f.detail(),
    ]
}

/// Writes `DIR/findings.csv` (only for a complete run) and `DIR/summary.json`.
/// A failed or cancelled run writes its summary with that status and no
/// findings file, so it can never pass for a clean result.
pub fn write_outputs(dir: &Path, out: &RunOutput, bom: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let csv_path = dir.join("findings.csv");
    if out.status == RunStatus::Ok {
        let mut w = CsvFile::create(&csv_path, &FINDINGS_HEADER, bom)?;
        for f in &out.findings {
            w.row(finding_cells(f))?;
        }
        w.finish()?;
    } else if csv_path.exists() {
        std::fs::remove_file(&csv_path)?;
    }
    let json = serde_json::to_string_pretty(out).map_err(std::io::Error::other)?;
    let tmp = dir.join("summary.json.partial");
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, dir.join("summary.json"))
}
