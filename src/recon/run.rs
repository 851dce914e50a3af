//! One reconciliation run: checks + matching, findings sorted, summary, outputs.

use super::checks::{self, Scope, Skipped};
use super::finding::{Finding, Kind, Severity};
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
    /// The contracted fee rates (`--fee-rate`): the fee check of the trade
    /// bills runs when there is one.
    pub fees: super::fees::FeeRates,
    /// The custodian's per-user balance file (`--balances`).
    pub balances: Option<std::path::PathBuf>,
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
            fees: super::fees::FeeRates::default(),
            balances: None,
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
    /// The recharge flows of the period: their total, as exact decimal text
    /// (the ledger's side of `matching`); `None` when no statement was matched.
    pub flows_amount: Option<String>,
    /// Recharge flows of the period that no usable statement covered (a
    /// refused file's, a day without a statement): not checked, not missing.
    /// `None` when no statement was given.
    pub unverified: Option<Unverified>,
    /// Flows of the period that only a neighbouring day's bill lists (they
    /// are accounted for there, neither matched nor unverified here).
    pub cleared_by_neighbour: u64,
    /// The contracted fee rates the fee check used (`0.60%`,
    /// `wechat=0.60%, alipay=0.38%`); `None` without `--fee-rate`.
    pub fee_rates: Option<String>,
    /// The fee check per reconciled trade bill: fees expected and charged.
    pub fees: Vec<super::fees::FileFees>,
    /// The settlement check (with a fund-flow bill or account log).
    pub settlement: Option<super::settlement::SettlementSummary>,
    /// The custodian balances check (with `--balances`).
    pub custody: Option<super::custody::CustodySummary>,
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

/// A stage of a run, in the order a run goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reading the database's schema and sizing the work.
    Start,
    /// The database checks (one scan of `trans_flow`, counted in rows).
    Checks,
    /// Reading a statement file (counted in bytes of the file).
    Statement,
    /// Reading the period's recharge flows for the matching (rows).
    Flows,
    /// Sorting and summing the findings.
    Summary,
}

impl Stage {
    /// The stage in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Start => "准备",
            Self::Checks => "数据库检查",
            Self::Statement => "读取对账单",
            Self::Flows => "读取本期流水并匹配",
            Self::Summary => "汇总差错",
        }
    }

    /// The stage in English.
    pub fn name_en(self) -> &'static str {
        match self {
            Self::Start => "preparing",
            Self::Checks => "database checks",
            Self::Statement => "reading the statement",
            Self::Flows => "reading the period's flows and matching",
            Self::Summary => "summing up the findings",
        }
    }

    /// The legacy word of the `&str` progress callback ([`reconcile`]).
    pub fn word(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Checks => "checks",
            Self::Statement => "statement",
            Self::Flows => "flows",
            Self::Summary => "summary",
        }
    }
}

/// What [`Progress::done`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Table rows.
    Rows,
    /// Bytes of a file.
    Bytes,
}

/// Where a run is: reported by [`reconcile_with_progress`] as it moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// What is being read: a statement file's name or a table's.
    pub item: String,
    /// For a statement file: its place among the run's files (1-based) and
    /// their number.
    pub file: Option<(usize, usize)>,
    /// How much of `item` was read.
    pub done: u64,
    /// How much there is, when known (a file's size; a table's row count
    /// only when the database can estimate it — then `total_estimated`).
    pub total: Option<u64>,
    /// Whether `total` is the database's estimate rather than a count.
    pub total_estimated: bool,
    /// What `done` and `total` count.
    pub unit: Unit,
}

impl Progress {
    /// Percent done (0–100), when the total is known; an estimate never
    /// shows more than 99 before the stage ends.
    pub fn percent(&self) -> Option<u64> {
        let total = self.total.filter(|t| *t > 0)?;
        let p = self.done.min(total).saturating_mul(100) / total;
        Some(if self.total_estimated { p.min(99) } else { p })
    }
}

/// Turns the engine's internal `(word, count)` reports into [`Progress`]:
/// statement bytes arrive counted across the run's files in order
/// ([`matching::read_statements`]) and are split per file here; a stage
/// never goes back to an earlier one (the checks may still report while
/// the statements are read).
struct Tracker<'a> {
    sink: &'a mut dyn FnMut(&Progress),
    /// Each statement file's name and size.
    files: Vec<(String, u64)>,
    /// `trans_flow`'s row count as the database estimates it.
    rows_estimate: Option<u64>,
    stage: Stage,
}

impl Tracker<'_> {
    fn emit(&mut self, p: &Progress) {
        if p.stage < self.stage {
            return;
        }
        self.stage = p.stage;
        (self.sink)(p);
    }

    fn stage(&mut self, stage: Stage) {
        self.emit(&Progress {
            stage,
            item: String::new(),
            file: None,
            done: 0,
            total: None,
            total_estimated: false,
            unit: Unit::Rows,
        });
    }

    fn rows(&mut self, stage: Stage, done: u64, total: Option<u64>) {
        self.emit(&Progress {
            stage,
            item: "trans_flow".into(),
            file: None,
            done,
            total: total.map(|t| t.max(done)),
            total_estimated: total.is_some(),
            unit: Unit::Rows,
        });
    }

    /// `bytes` read so far across all the statement files, in order.
    fn statement_bytes(&mut self, bytes: u64) {
        let n = self.files.len();
        let mut offset = 0u64;
        for (i, (name, size)) in self.files.iter().enumerate() {
            // A file's end is its own (the next one starts after it).
            if bytes <= offset.saturating_add(*size) || i + 1 == n {
                let p = Progress {
                    stage: Stage::Statement,
                    item: name.clone(),
                    file: Some((i + 1, n)),
                    done: bytes.saturating_sub(offset).min(*size),
                    total: Some(*size),
                    total_estimated: false,
                    unit: Unit::Bytes,
                };
                self.emit(&p);
                return;
            }
            offset = offset.saturating_add(*size);
        }
    }

    /// Every statement file read to its end (each one told, in order: the
    /// reports relayed from another thread may have missed a file's end).
    fn statements_done(&mut self) {
        let mut end = 0u64;
        for i in 0..self.files.len() {
            end = end.saturating_add(self.files[i].1);
            self.statement_bytes(end);
        }
    }

    fn legacy(&mut self, word: &str, n: u64) {
        match word {
            "checks" => self.rows(Stage::Checks, n, self.rows_estimate),
            "statement" => self.statement_bytes(n),
            "flows" => self.rows(Stage::Flows, n, None),
            _ => {}
        }
    }
}

/// `trans_flow`'s size as the database estimates it without counting
/// (SQLite: the largest rowid; PostgreSQL: the planner's statistics;
/// MySQL: `information_schema`), for the checks' percent; `None` when it
/// cannot tell.
async fn estimate_rows(db: &Db) -> Option<u64> {
    let sql = match db.backend() {
        crate::db::Backend::Sqlite => "SELECT max(rowid) FROM trans_flow",
        crate::db::Backend::Postgres => {
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass('trans_flow')"
        }
        crate::db::Backend::MySql => {
            "SELECT CAST(table_rows AS SIGNED) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'trans_flow'"
        }
    };
    let row = db.fetch_optional(sql, &[]).await.ok()??;
    row.opt_i64(0)
        .ok()?
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
}

/// The file's name and size, for progress.
fn file_size(input: &StatementInput) -> (String, u64) {
    let name = input
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let size = std::fs::metadata(&input.path).map_or(0, |m| m.len());
    (name, size)
}

/// Runs the checks and, with statements, the matching; `progress` gets each
/// stage's name and count (the older form of [`reconcile_with_progress`]).
pub async fn reconcile(
    db: &Db,
    opts: &RunOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&str, u64),
) -> RunOutput {
    reconcile_with_progress(db, opts, cancel, &mut |p: &Progress| {
        progress(p.stage.word(), p.done);
    })
    .await
}

/// Runs the checks and, with statements, the matching, reporting where it
/// is as it moves: the stages in order, the rows of each table scan and
/// the bytes of each statement file read (with their size).
pub async fn reconcile_with_progress(
    db: &Db,
    opts: &RunOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> RunOutput {
    let mut tracker = Tracker {
        sink: progress,
        files: opts.statements.iter().map(file_size).collect(),
        rows_estimate: None,
        stage: Stage::Start,
    };
    tracker.stage(Stage::Start);
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
        flows_amount: None,
        unverified: None,
        cleared_by_neighbour: 0,
        fee_rates: (!opts.fees.is_empty()).then(|| opts.fees.describe()),
        fees: Vec::new(),
        settlement: None,
        custody: None,
    };
    let mut r = run_inner(db, opts, cancel, &mut tracker, &mut out).await;
    if r.is_ok()
        && let Some(path) = &opts.balances
    {
        r = custody(db, path, cancel, &mut out).await;
    }
    tracker.stage(Stage::Summary);
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

/// The custodian's balances against the ledger (`--balances`).
async fn custody(
    db: &Db,
    path: &Path,
    cancel: &AtomicBool,
    out: &mut RunOutput,
) -> Result<(), MatchError> {
    let schema = schema::discover(db).await?;
    let (findings, summary) = super::custody::check_custody(db, &schema, path, cancel).await?;
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(MatchError::Cancelled);
    }
    out.findings.extend(findings);
    out.custody = Some(summary);
    Ok(())
}

async fn run_inner(
    db: &Db,
    opts: &RunOptions,
    cancel: &AtomicBool,
    tracker: &mut Tracker<'_>,
    out: &mut RunOutput,
) -> Result<(), MatchError> {
    let schema = schema::discover(db).await?;
    if schema.has_table("trans_flow") {
        tracker.rows_estimate = estimate_rows(db).await;
    }
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
        return server_checks_and_matching(db, &schema, &scope, opts, p, cancel, tracker, out)
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
                fees: opts.fees.clone(),
            })
        }
        _ => None,
    };
    tracker.legacy("checks", 0);
    let t0 = std::time::Instant::now();
    let (c, matched) =
        checks::run_checks_matching(db, &schema, &scope, job, cancel, &mut |w, n| {
            tracker.legacy(w, n);
        })
        .await?;
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
                tracker.statements_done();
                tracker.legacy("flows", m.flows_in_period);
                return take_matching(db, period, out, m).await;
            }
            Some(super::scan::Matched::Again(read)) => Some(read),
            None => None,
        };
        let read = match early {
            Some(r) => {
                tracker.statements_done();
                r
            }
            None => {
                let r = matching::read_statements(
                    &opts.statements,
                    (period.start(), period.end(), opts.cross_day_window),
                    &opts.fees,
                    Some(cancel),
                    &mut |w, n| tracker.legacy(w, n),
                )?;
                tracker.statements_done();
                r
            }
        };
        let m = matching::match_read(
            db,
            read,
            period.start(),
            period.end(),
            opts.cross_day_window,
            cancel,
            &mut |w, n| tracker.legacy(w, n),
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
    tracker: &mut Tracker<'_>,
    out: &mut RunOutput,
) -> Result<(), MatchError> {
    // Both halves report progress; they are polled on this one task, so the
    // calls never overlap.
    let progress = std::cell::RefCell::new(tracker);
    let mut check_progress = |s: &str, n: u64| progress.borrow_mut().legacy(s, n);
    let mut match_progress = |s: &str, n: u64| progress.borrow_mut().legacy(s, n);
    let files = opts.statements.clone();
    let fees = opts.fees.clone();
    let (from, to, window) = (period.start(), period.end(), opts.cross_day_window);
    let matching = async {
        // The file is read on a blocking thread: its bytes are relayed from
        // there every 100 ms.
        let bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let b = std::sync::Arc::clone(&bytes);
        let mut h = tokio::task::spawn_blocking(move || {
            matching::read_statements(&files, (from, to, window), &fees, None, &mut |_, n| {
                b.store(n, std::sync::atomic::Ordering::Relaxed);
            })
        });
        let read = loop {
            tokio::select! {
                r = &mut h => break r,
                () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                    match_progress("statement", bytes.load(std::sync::atomic::Ordering::Relaxed));
                }
            }
        };
        let read = read.map_err(|e| {
            MatchError::Db(DbError::State(format!(
                "reading the statements stopped: {e}"
            )))
        })??;
        // Every file read to its end.
        match_progress("statement", u64::MAX);
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
    if m.unrelated.is_some() {
        // Another merchant's or day's trade bill: its fees and settlement are
        // not this ledger's business either.
        m.findings.retain(|f| {
            !matches!(
                f.kind,
                Kind::FeeMismatch
                    | Kind::SettlementMissing
                    | Kind::SettlementAmountMismatch
                    | Kind::SettlementUnexplained
            )
        });
        m.fees.clear();
        if let Some(s) = m.settlement.as_mut() {
            *s = super::settlement::SettlementSummary {
                not_checked: Some((
                    "the trade bill was refused: it shares no order with the ledger".into(),
                    "交易账单未采用：与账本没有一个相同的订单".into(),
                )),
                ..Default::default()
            };
        }
    }
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
    out.fees = std::mem::take(&mut m.fees);
    out.settlement = m.settlement.take();
    out.matching = Some((m.statement_orders, m.flows_in_period, m.matched));
    out.flows_amount = Some(format_amount(m.flows_in_period_amount));
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

/// Writes `DIR/findings.csv` and `DIR/findings.xlsx` (the same findings
/// as a workbook with a summary sheet; see [`crate::export::run_book`]) —
/// only for a complete run — and `DIR/summary.json`. A failed or cancelled
/// run writes its summary with that status and no findings files, so it can
/// never pass for a clean result.
pub fn write_outputs(dir: &Path, out: &RunOutput, bom: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let csv_path = dir.join("findings.csv");
    let xlsx_path = dir.join(crate::export::run_book::RUN_WORKBOOK);
    if out.status == RunStatus::Ok {
        let mut w = CsvFile::create(&csv_path, &FINDINGS_HEADER, bom)?;
        for f in &out.findings {
            w.row(finding_cells(f))?;
        }
        w.finish()?;
    } else {
        for p in [&csv_path, &xlsx_path] {
            if p.exists() {
                std::fs::remove_file(p)?;
            }
        }
    }
    let json = serde_json::to_string_pretty(out).map_err(std::io::Error::other)?;
    let tmp = dir.join("summary.json.partial");
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, dir.join("summary.json"))?;
    // The workbook last: should it fail (a full disk), the CSV and the
    // summary of this run are already whole.
    if out.status == RunStatus::Ok {
        crate::export::run_book::write_run_workbook(&xlsx_path, out)?;
    }
    Ok(())
}
