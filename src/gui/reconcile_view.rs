//! Reconcile: business day or range, statement files (through the file
//! dialog) and their format, tolerances; a progress bar, cancel, and the
//! summary. The run is the engine's, recorded in the workspace exactly as
//! `payrecon reconcile` records it.

use super::{App, Lang, Screen, filepick, widgets};
use crate::recon::run::Progress;
use crate::recon::{Period, RunOptions, RunStatus, StatementInput};
use crate::statement::{Format, GenericMapping};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A statement format as chosen in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormatChoice {
    Hfb,
    Wechat,
    Alipay,
    Generic,
    WechatFundflow,
    AlipayAccountlog,
}

impl FormatChoice {
    const ALL: [FormatChoice; 6] = [
        Self::Hfb,
        Self::Wechat,
        Self::Alipay,
        Self::Generic,
        Self::WechatFundflow,
        Self::AlipayAccountlog,
    ];

    fn name(self, l: Lang) -> &'static str {
        match self {
            Self::Hfb => l.t("汇付宝 hfb", "hfb (our gateway)"),
            Self::Wechat => l.t("微信支付", "WeChat Pay"),
            Self::Alipay => l.t("支付宝业务明细", "Alipay business detail"),
            Self::Generic => l.t("通用 CSV", "generic CSV"),
            Self::WechatFundflow => {
                l.t("微信资金账单（核对到账）", "WeChat fund flow (settlement)")
            }
            Self::AlipayAccountlog => l.t(
                "支付宝账务明细（核对到账）",
                "Alipay account log (settlement)",
            ),
        }
    }

    /// The format's word, as `payrecon reconcile --format` takes it (and
    /// as the run's parameters record it).
    fn word(self) -> &'static str {
        match self {
            Self::Hfb => "hfb",
            Self::Wechat => "wechat",
            Self::Alipay => "alipay",
            Self::Generic => "generic",
            Self::WechatFundflow => "wechat-fundflow",
            Self::AlipayAccountlog => "alipay-accountlog",
        }
    }

    /// Guesses from a file name (the user can change it).
    fn guess(path: &std::path::Path) -> Self {
        let n = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let fund = n.contains("fundflow") || n.contains("fund-flow") || n.contains("资金");
        let log = n.contains("accountlog") || n.contains("account-log") || n.contains("账务");
        if n.contains("wechat") || n.contains("微信") || n.contains("wx") {
            if fund {
                Self::WechatFundflow
            } else {
                Self::Wechat
            }
        } else if n.contains("alipay") || n.contains("支付宝") {
            if log {
                Self::AlipayAccountlog
            } else {
                Self::Alipay
            }
        } else if n.contains("hfb") {
            Self::Hfb
        } else {
            Self::Generic
        }
    }
}

/// A run in progress.
pub(crate) struct Running {
    cancel: Arc<AtomicBool>,
    progress: Arc<Mutex<Option<Progress>>>,
    started: Instant,
    cancelled: bool,
}

/// A run's summary, as `summary.json` has it (the run just finished, or a
/// past run's file): read back through this mirror, so that the screen
/// shows a past run exactly as the run wrote it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Summary {
    pub status: String,
    pub error: Option<String>,
    pub database: String,
    pub period: Option<SummaryPeriod>,
    pub started_at: String,
    pub duration_ms: u64,
    pub skipped: Vec<SummarySkipped>,
    pub files: Vec<SummaryFile>,
    pub by_kind: std::collections::BTreeMap<String, u64>,
    pub by_severity: std::collections::BTreeMap<String, u64>,
    pub amount_by_kind: std::collections::BTreeMap<String, String>,
    pub amount_at_risk: Option<SummaryRisk>,
    pub matching: Option<(u64, u64, u64)>,
    pub flows_amount: Option<String>,
    pub unverified: Option<SummaryUnverified>,
    pub cleared_by_neighbour: u64,
    pub fee_rates: Option<String>,
    pub fees: Vec<SummaryFees>,
    pub settlement: Option<SummarySettlement>,
    pub custody: Option<SummaryCustody>,
}

/// `summary.json`'s fee check of one trade bill.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummaryFees {
    pub file: String,
    pub format: String,
    pub rate: String,
    pub payments_checked: u64,
    pub refunds_checked: u64,
    pub without_fee: u64,
    pub expected: String,
    pub charged: String,
    pub difference: String,
    pub mismatches: u64,
}

/// `summary.json`'s settlement check.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummarySettlement {
    pub files: Vec<SummaryMovementFile>,
    pub orders: u64,
    pub settled: u64,
    pub expected: String,
    pub arrived: String,
    pub missing: u64,
    pub mismatched: u64,
    pub unexplained: u64,
    pub pending: u64,
    pub fees_deducted: Option<bool>,
    pub other_fees: (u64, String),
    pub transfers: (u64, String),
    /// (English, Chinese).
    pub not_checked: Option<(String, String)>,
}

/// `summary.json`'s fund-flow bill or account log.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummaryMovementFile {
    pub file: String,
    pub format: String,
    pub movements: u64,
    pub income: String,
    pub expense: String,
    pub opening: Option<String>,
    pub closing: Option<String>,
    pub balance_ok: Option<bool>,
}

/// `summary.json`'s custodian balances check.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummaryCustody {
    pub file: String,
    pub encoding: String,
    pub code_column: String,
    pub rows: u64,
    pub row_errors: Vec<(u64, String)>,
    pub compared: u64,
    pub agree: u64,
    pub mismatched: u64,
    pub unknown: u64,
    pub unknown_amount: String,
    pub ledger_only: u64,
    pub ledger_only_nonzero: u64,
    pub custodian_total: String,
    pub ledger_total: String,
    pub refused: Option<String>,
    pub refused_zh: Option<String>,
}

/// `summary.json`'s period.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummaryPeriod {
    pub from: String,
    pub to: String,
}

/// `summary.json`'s skipped checks.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummarySkipped {
    pub kinds: Vec<String>,
    pub reason_en: String,
    pub reason_zh: String,
}

/// `summary.json`'s statement files.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummaryFile {
    pub path: String,
    pub format: String,
    pub encoding: String,
    pub entries: u64,
    pub row_errors: Vec<(u64, String)>,
    pub totals_ok: Option<bool>,
    pub role: String,
    pub refused: Option<String>,
    pub refused_zh: Option<String>,
    pub business_period: Option<(String, String)>,
    pub layout: Option<String>,
    pub amount: Option<String>,
    pub refund_amount: Option<String>,
}

/// `summary.json`'s amount at risk.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummaryRisk {
    pub total: String,
    pub file_level: String,
    pub bill_count: u64,
    pub account_count: u64,
}

/// `summary.json`'s unverified flows.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SummaryUnverified {
    pub flows: u64,
    pub amount: String,
}

impl Summary {
    fn from_output(o: &crate::recon::RunOutput) -> Self {
        serde_json::to_value(o)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    fn status(&self) -> Option<RunStatus> {
        match self.status.as_str() {
            "ok" => Some(RunStatus::Ok),
            "failed" => Some(RunStatus::Failed),
            "cancelled" => Some(RunStatus::Cancelled),
            _ => None,
        }
    }

    /// Why this run's result is NOT a reconciliation, if it is not: the run
    /// failed or was cancelled, or a statement was refused (truncated,
    /// unreadable, another period's). `None` for a complete run.
    fn not_reconciled(&self, l: Lang) -> Option<String> {
        match self.status() {
            Some(RunStatus::Ok) => {}
            Some(RunStatus::Cancelled) => {
                return Some(
                    l.t(
                        "对账被取消，结果不完整",
                        "the run was cancelled: its results are incomplete",
                    )
                    .to_owned(),
                );
            }
            _ => {
                return Some(format!(
                    "{}{}",
                    l.t("对账失败：", "the run failed: "),
                    self.error.as_deref().unwrap_or("?")
                ));
            }
        }
        let refused: Vec<String> = self
            .files
            .iter()
            .filter(|f| f.role == "refused" || f.totals_ok == Some(false))
            .map(|f| {
                let name = std::path::Path::new(&f.path)
                    .file_name()
                    .map_or_else(|| f.path.clone(), |n| n.to_string_lossy().into_owned());
                format!(
                    "{name}: {}",
                    l.t(
                        f.refused_zh.as_deref().unwrap_or("合计与明细不符"),
                        f.refused
                            .as_deref()
                            .unwrap_or("its totals disagree with its rows")
                    )
                )
            })
            .collect();
        if refused.is_empty() {
            None
        } else {
            Some(format!(
                "{}{}",
                l.t("对账单未采用 — ", "a statement was refused — "),
                refused.join(l.t("；", "; "))
            ))
        }
    }
}

/// What the last run produced (or the past run chosen), for the summary.
pub(crate) struct LastRun {
    pub run_id: Option<i64>,
    pub summary: Summary,
    pub out_dir: PathBuf,
}

/// The past runs of the connected database, newest first.
#[derive(Default)]
pub(crate) struct History {
    /// The database they are of (password-free); `None`: to be loaded.
    pub database: Option<String>,
    pub rows: Vec<crate::workspace::RunRow>,
    pub loading: bool,
    /// How many to show; "more" adds a page.
    pub limit: u32,
    /// Whether the workspace has more than `rows`.
    pub more: bool,
}

/// Past runs shown at first and added by "more".
const HISTORY_PAGE: u32 = 10;

/// The reconcile screen's state.
pub(crate) struct State {
    pub day: String,
    pub to_day: String,
    pub files: Vec<(PathBuf, FormatChoice)>,
    pub map_key: String,
    pub map_amount: String,
    pub window: String,
    pub stuck: String,
    pub lock_ttl: String,
    /// The results root: each run gets a folder of its own inside.
    pub out_dir: String,
    pub bom: bool,
    /// The contracted fee rate(s) as typed (empty: no fee check).
    pub fee_rate: String,
    /// The custodian's per-user balance file (`None`: not compared).
    pub balances: Option<PathBuf>,
    /// The open file dialog chooses the balances file, not a statement.
    pub picking_balances: bool,
    /// On the demo: the day's money files, offered instead of its hfb statement.
    pub demo_money: Option<DemoMoney>,
    pub running: Option<Running>,
    pub last: Option<LastRun>,
    pub history: History,
}

impl Default for State {
    fn default() -> Self {
        Self {
            day: String::new(),
            to_day: String::new(),
            files: Vec::new(),
            map_key: String::new(),
            map_amount: String::new(),
            window: RunOptions::DEFAULT_WINDOW_MINUTES.to_string(),
            stuck: RunOptions::DEFAULT_STUCK_MINUTES.to_string(),
            lock_ttl: RunOptions::DEFAULT_LOCK_TTL_SECONDS.to_string(),
            out_dir: results_root().display().to_string(),
            bom: true,
            fee_rate: String::new(),
            balances: None,
            picking_balances: false,
            demo_money: None,
            running: None,
            last: None,
            history: History {
                limit: HISTORY_PAGE,
                ..History::default()
            },
        }
    }
}

/// Where the console's runs keep their results unless the user says otherwise.
fn results_root() -> PathBuf {
    crate::demo::data_dir().join("runs")
}

/// The run status in words.
pub(crate) fn status_name(s: RunStatus, l: Lang) -> &'static str {
    match s {
        RunStatus::Ok => l.t("完成", "complete"),
        RunStatus::Failed => l.t("失败", "failed"),
        RunStatus::Cancelled => l.t("已取消", "cancelled"),
    }
}

/// Yesterday (the day a finance operator reconciles) — on the demo, the newest
/// day it wrote a statement for — with that statement, and an output folder.
pub(crate) fn prefill(app: &mut App) {
    let dir = crate::demo::data_dir();
    let yesterday = crate::demo::business_today() - chrono::Duration::days(1);
    // The demo's statements are for the days it was built with, which need
    // not be yesterday any more: the newest one is the day to reconcile.
    let demo_file = if app.conn.as_ref().is_some_and(|c| c.demo) {
        newest_demo_statement(&dir)
    } else {
        None
    };
    let day = demo_file.as_ref().map_or(yesterday, |(d, _)| *d);
    let st = &mut app.recon;
    st.day = day.to_string();
    st.to_day.clear();
    st.files.clear();
    // A fee contract and a custodian's file belong to one database.
    st.fee_rate.clear();
    st.balances = None;
    st.picking_balances = false;
    st.demo_money = None;
    if let Some((_, f)) = demo_file {
        st.demo_money = DemoMoney::of_day(&dir, day, &f);
        st.files.push((f, FormatChoice::Hfb));
    }
    if st.out_dir.trim().is_empty() {
        st.out_dir = results_root().display().to_string();
    }
    st.history = History {
        limit: HISTORY_PAGE,
        ..History::default()
    };
    st.last = None;
}

/// The money files the demo writes for its last day (beside that day's hfb
/// statement): the WeChat trade bill with fees, its fund-flow bill and the
/// custodian's balances.
///
/// The demo run stays the hfb statement alone unless the operator takes
/// these: the WeChat bill lists the same payments as the hfb statement, so
/// one run takes one of the two (both would list every payment twice); the
/// fund-flow bill settles the WeChat bill's trades, so it comes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoMoney {
    hfb: PathBuf,
    wechat: PathBuf,
    fundflow: PathBuf,
    balances: PathBuf,
}

impl DemoMoney {
    /// The money files of `day` in `dir`, when the demo wrote all three.
    fn of_day(
        dir: &std::path::Path,
        day: chrono::NaiveDate,
        hfb: &std::path::Path,
    ) -> Option<Self> {
        let m = Self {
            hfb: hfb.to_path_buf(),
            wechat: dir.join(format!("wechat-{day}.csv")),
            fundflow: dir.join(format!("wechat-fundflow-{day}.csv")),
            balances: dir.join(format!("hfb-balances-{day}.csv")),
        };
        (m.wechat.is_file() && m.fundflow.is_file() && m.balances.is_file()).then_some(m)
    }

    /// The statements of the money run.
    fn files(&self) -> Vec<(PathBuf, FormatChoice)> {
        vec![
            (self.wechat.clone(), FormatChoice::Wechat),
            (self.fundflow.clone(), FormatChoice::WechatFundflow),
        ]
    }
}

/// Switches the demo's run between its hfb statement (`money` false) and the
/// WeChat bill with its fund flow, the contract's fee rate and the
/// custodian's balances.
fn use_demo_money(st: &mut State, money: bool) {
    let Some(m) = st.demo_money.clone() else {
        return;
    };
    if money {
        st.files = m.files();
        st.fee_rate = crate::recon::fees::rate_text(crate::simulate::money::CONTRACT_RATE);
        st.balances = Some(m.balances);
    } else {
        st.files = vec![(m.hfb, FormatChoice::Hfb)];
        st.fee_rate.clear();
        st.balances = None;
    }
}

/// The newest `hfb-YYYY-MM-DD.csv` the demo wrote into `dir`, with its day.
fn newest_demo_statement(dir: &std::path::Path) -> Option<(chrono::NaiveDate, PathBuf)> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let day = name.to_str()?.strip_prefix("hfb-")?.strip_suffix(".csv")?;
            let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
            Some((day, e.path()))
        })
        .max_by_key(|(d, _)| *d)
}

/// The demo's first open: check the whole database once, so that the
/// overview and the findings queue have something to show.
pub(crate) fn first_demo_checks(app: &mut App) {
    let Some(c) = app.conn.clone() else { return };
    let opts = RunOptions::new(None, Vec::new(), c.db.now());
    let out = results_root();
    start_run(
        app,
        opts,
        serde_json::json!({"source": "console, first open of the demo"}),
        out,
    );
}

/// The fee-rate field as `--fee-rate` values: `0.6%`, or per channel
/// `wechat=0.6%, alipay=0.38%` (the channels may be named in Chinese:
/// `微信=0.6%，支付宝=0.38%`). Spaces do not matter.
fn fee_args(text: &str) -> Vec<String> {
    text.split([',', '，', ';', '；', '、'])
        .map(|part| {
            let part: String = part
                .chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| if c == '＝' { '=' } else { c })
                .collect();
            match part.split_once('=') {
                Some((channel, rate)) => {
                    let channel = match channel {
                        "微信" | "微信支付" => "wechat",
                        "支付宝" => "alipay",
                        "汇付宝" => "hfb",
                        "通用" => "generic",
                        other => other,
                    };
                    format!("{channel}={rate}")
                }
                None => part,
            }
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Reads the fee-rate field (empty: no fee check).
pub(crate) fn parse_fee_field(
    text: &str,
) -> Result<crate::recon::fees::FeeRates, crate::recon::fees::FeeRateError> {
    crate::recon::fees::FeeRates::parse_args(&fee_args(text))
}

/// A channel's name in Chinese, as the fee-rate field takes it.
fn channel_zh(format: &str) -> &str {
    match format {
        "wechat" => "微信",
        "alipay" => "支付宝",
        "hfb" => "汇付宝",
        "generic" => "通用",
        "every format" => "所有渠道",
        other => other,
    }
}

/// A bad fee rate in one sentence, in the console's language (the engine's
/// sentence in English, with the field's name for the flag).
pub(crate) fn fee_error_text(e: &crate::recon::fees::FeeRateError, l: Lang) -> String {
    use crate::recon::fees::FeeRateError as E;
    match l {
        Lang::En => {
            let s = e.to_string();
            match s.strip_prefix("--fee-rate") {
                Some(rest) => format!("The fee rate{rest}"),
                None => s,
            }
        }
        Lang::Zh => match e {
            E::NotARate(t) => {
                format!("手续费合同费率“{t}”不是费率：请写成百分数，如 0.6%（或小数 0.006）")
            }
            E::Ambiguous(t, p) => format!(
                "手续费合同费率“{t}”会是 {p}%：如果指的是百分数，请写成 {t}%；否则写成小数（0.6% 即 0.006）"
            ),
            E::OutOfRange(t) => {
                format!("手续费合同费率“{t}”超出范围：费率在 0% 到 100% 之间")
            }
            E::UnknownFormat(_, f) => format!(
                "手续费合同费率里的“{f}”不是交易账单的渠道：可写 微信、支付宝、汇付宝 或 通用"
            ),
            E::Twice(f) => format!("手续费合同费率给{}填了两个不同的费率", channel_zh(f)),
        },
    }
}

fn parse_inputs(app: &App) -> Result<(RunOptions, serde_json::Value, PathBuf), String> {
    let l = app.lang;
    let st = &app.recon;
    let c = app
        .conn
        .as_ref()
        .ok_or_else(|| l.t("未连接数据库。", "Not connected.").to_owned())?;
    let date = |name: &str, s: &str| {
        chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
            format!(
                "{name} '{}' {}",
                s.trim(),
                l.t(
                    "不是日期，请写成 2026-11-20",
                    "is not a date: write 2026-11-20"
                )
            )
        })
    };
    let from = date(l.t("对账日", "business day"), &st.day)?;
    let to = if st.to_day.trim().is_empty() {
        from
    } else {
        date(l.t("截止日", "last day"), &st.to_day)?
    };
    if to < from {
        return Err(format!(
            "{from} > {to}: {}",
            l.t("截止日早于对账日", "the last day is before the first")
        ));
    }
    let num = |name: &str, s: &str| -> Result<i64, String> {
        s.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                format!(
                    "{name} '{}' {}",
                    s.trim(),
                    l.t("不是非负整数", "is not a whole number ≥ 0")
                )
            })
    };
    let window = num(
        l.t("跨日窗口（分钟）", "cross-day window (minutes)"),
        &st.window,
    )?;
    let stuck = num(
        l.t("支付中超时（分钟）", "stuck after (minutes)"),
        &st.stuck,
    )?;
    let ttl = num(l.t("幂等锁超时（秒）", "lock TTL (seconds)"), &st.lock_ttl)?;
    let mut statements = Vec::new();
    for (p, f) in &st.files {
        if !p.is_file() {
            return Err(format!(
                "{} {}",
                p.display(),
                l.t("不存在。", "does not exist.")
            ));
        }
        let format = match f {
            FormatChoice::Hfb => Format::Hfb,
            FormatChoice::Wechat => Format::Wechat,
            FormatChoice::Alipay => Format::Alipay,
            FormatChoice::WechatFundflow => Format::WechatFundflow,
            FormatChoice::AlipayAccountlog => Format::AlipayAccountlog,
            FormatChoice::Generic => {
                if st.map_key.trim().is_empty() || st.map_amount.trim().is_empty() {
                    return Err(l
                        .t(
                            "通用 CSV 需要填写订单号列和金额列的列名。",
                            "A generic CSV needs the names of its order-number and amount columns.",
                        )
                        .to_owned());
                }
                Format::Generic(GenericMapping {
                    key: st.map_key.trim().to_owned(),
                    amount: st.map_amount.trim().to_owned(),
                    status: None,
                    time: None,
                    encoding: None,
                })
            }
        };
        statements.push(StatementInput {
            path: p.clone(),
            format,
        });
    }
    let fees = parse_fee_field(&st.fee_rate).map_err(|e| fee_error_text(&e, l))?;
    if let Some(b) = &st.balances
        && !b.is_file()
    {
        return Err(format!(
            "{} {} {}",
            l.t("存管余额文件", "The custodian balances file"),
            b.display(),
            l.t("不存在。", "does not exist.")
        ));
    }
    if st.out_dir.trim().is_empty() {
        return Err(l
            .t(
                "请填写保存结果的文件夹。",
                "Choose a folder for the results.",
            )
            .to_owned());
    }
    let opts = RunOptions {
        period: Some(Period { from, to }),
        statements,
        cross_day_window: chrono::Duration::minutes(window),
        stuck_after: chrono::Duration::minutes(stuck),
        lock_ttl: chrono::Duration::seconds(ttl),
        as_of: c.db.now(),
        fees,
        balances: st.balances.clone(),
    };
    let params = serde_json::json!({
        "source": "console",
        "statements": st.files.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>(),
        "formats": st.files.iter().map(|(_, f)| f.word()).collect::<Vec<_>>(),
        "window_minutes": window,
        "stuck_minutes": stuck,
        "lock_ttl_seconds": ttl,
        "fee_rates": fee_args(&st.fee_rate),
        "balances": st.balances.as_ref().map(|p| p.display().to_string()),
        "as_of": opts.as_of.to_string(),
        "results_root": st.out_dir.trim(),
    });
    Ok((opts, params, PathBuf::from(st.out_dir.trim())))
}

fn start(app: &mut App) {
    // A run is recorded under the operator's name: asked once, then kept.
    if app.operator_for_action().is_none() {
        return;
    }
    match parse_inputs(app) {
        Ok((opts, params, out)) => start_run(app, opts, params, out),
        Err(e) => app.error(e),
    }
}

fn start_run(app: &mut App, opts: RunOptions, params: serde_json::Value, out: PathBuf) {
    let l = app.lang;
    let (Some(c), Some(ws)) = (app.conn.clone(), app.ws.clone()) else {
        app.error(l.t(
            "工作区未打开，无法记录对账。",
            "The workspace is not open: the run could not be recorded.",
        ));
        return;
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Mutex::new(None));
    app.recon.running = Some(Running {
        cancel: Arc::clone(&cancel),
        progress: Arc::clone(&progress),
        started: Instant::now(),
        cancelled: false,
    });
    let waker = app.jobs.waker();
    let bom = app.recon.bom;
    app.jobs.spawn_on_thread(move || async move {
        let mut report = |p: &Progress| {
            if let Ok(mut slot) = progress.lock() {
                *slot = Some(p.clone());
            }
            waker.wake();
        };
        let outputs = crate::ops::Outputs::PerRun(out);
        let r = crate::ops::reconcile_and_record(
            &c.db,
            &ws,
            &opts,
            params,
            &outputs,
            bom,
            &cancel,
            &mut report,
        )
        .await;
        Box::new(move |app: &mut App| {
            app.recon.running = None;
            let l = app.lang;
            match r {
                Ok(rec) => {
                    let o = &rec.output;
                    match o.status {
                        RunStatus::Ok => app.info(format!(
                            "{} #{} · {} {} · {}",
                            l.t(
                                "对账完成，记录为",
                                "Reconciliation complete, recorded as run"
                            ),
                            rec.run_id,
                            o.findings.len(),
                            l.t("条差错", "findings"),
                            rec.out_dir.display()
                        )),
                        RunStatus::Cancelled => app.info(format!(
                            "{} #{}",
                            l.t(
                                "对账已取消，已记录为取消：",
                                "Reconciliation cancelled and recorded as such: run"
                            ),
                            rec.run_id
                        )),
                        RunStatus::Failed => app.error(format!(
                            "{}{} (#{})",
                            l.t("对账失败：", "Reconciliation failed: "),
                            o.error.as_deref().unwrap_or("?"),
                            rec.run_id
                        )),
                    }
                    app.recon.last = Some(LastRun {
                        run_id: Some(rec.run_id),
                        summary: Summary::from_output(o),
                        out_dir: rec.out_dir.clone(),
                    });
                    app.recon.history.database = None;
                    super::overview::load(app);
                    super::findings_view::load(app);
                }
                Err(e) => {
                    app.recon.history.database = None;
                    app.error(format!(
                        "{}{e}",
                        l.t("对账无法完成：", "The reconciliation could not finish: ")
                    ));
                }
            }
        }) as super::jobs::Apply
    });
}

/// Bytes as "12.3 MB" (integer arithmetic: one decimal).
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut unit = 0;
    let mut tenths = n.saturating_mul(10);
    while tenths >= 10_240 && unit + 1 < UNITS.len() {
        tenths /= 1024;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
    }
}

/// The stage, what it reads and how far: "读取对账单 1/2 hfb.csv · 3.1 MB / 12.0 MB · 25%".
pub(crate) fn progress_text(p: &Progress, l: Lang) -> String {
    use crate::recon::run::Unit;
    let mut t = l.t(p.stage.name_zh(), p.stage.name_en()).to_owned();
    if let Some((i, n)) = p.file {
        t.push_str(&format!(" {i}/{n}"));
    }
    if !p.item.is_empty() {
        t.push_str(&format!(" {}", p.item));
    }
    let done = match p.unit {
        Unit::Bytes => bytes(p.done),
        Unit::Rows => format!("{} {}", p.done, l.t("行", "rows")),
    };
    let total = match (p.total, p.unit) {
        (Some(t), Unit::Bytes) => format!(" / {}", bytes(t)),
        (Some(t), Unit::Rows) if p.total_estimated => format!(" / ≈{t}"),
        (Some(t), Unit::Rows) => format!(" / {t}"),
        (None, _) => String::new(),
    };
    if p.stage != crate::recon::run::Stage::Start && p.stage != crate::recon::run::Stage::Summary {
        t.push_str(&format!(" · {done}{total}"));
    }
    if let Some(pc) = p.percent() {
        t.push_str(&format!(" · {pc}%"));
    }
    t
}

/// The bar: the stage's own percent where its size is known, else an
/// animated bar with the rows read.
fn progress_bar(ui: &mut egui::Ui, p: Option<&Progress>, elapsed: std::time::Duration, l: Lang) {
    let text = p.map_or_else(
        || l.t("准备", "preparing").to_owned(),
        |p| progress_text(p, l),
    );
    let fraction = p
        .and_then(Progress::percent)
        .map_or(0.0, |pc| u16::try_from(pc).map_or(1.0, f32::from) / 100.0);
    let known = p.and_then(Progress::percent).is_some();
    ui.add(
        egui::ProgressBar::new(fraction)
            .animate(!known)
            .text(format!("{text} · {}", widgets::elapsed(elapsed))),
    );
}

/// The reconcile screen (scrolls: the summary and the past runs can be long).
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    egui::ScrollArea::vertical()
        .id_salt("reconcile-screen")
        .auto_shrink([false, false])
        .show(ui, |ui| body(app, ui));
}

fn body(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    ui.heading(l.t("对账", "Reconcile"));
    let running = app.recon.running.is_some();
    let db_folder = app
        .conn
        .as_ref()
        .map(|c| crate::ops::database_folder_name(&c.db))
        .unwrap_or_default();
    let mut pick = false;
    let mut pick_balances = false;
    let mut remove = None;
    let mut as_balances = None;
    let mut demo_choice = None;
    let mut go = false;
    ui.add_enabled_ui(!running, |ui| {
        let st = &mut app.recon;
        egui::Grid::new("recon-form")
            .num_columns(2)
            .spacing([10.0, 6.0])
            .show(ui, |ui| {
                let lab = ui.label(l.t("对账日", "Business day"));
                ui.horizontal(|ui| {
                    ui.add(egui::TextEdit::singleline(&mut st.day).desired_width(100.0))
                        .labelled_by(lab.id);
                    ui.label(l.t("至（可选）", "to (optional)"));
                    ui.add(
                        egui::TextEdit::singleline(&mut st.to_day)
                            .desired_width(100.0)
                            .hint_text("YYYY-MM-DD"),
                    );
                });
                ui.end_row();
                ui.label(l.t("对账单", "Statement files"));
                ui.vertical(|ui| {
                    if st.files.is_empty() {
                        ui.weak(l.t("（没有：只做数据库检查）", "(none: database checks only)"));
                    }
                    for (i, (p, f)) in st.files.iter_mut().enumerate() {
                        ui.horizontal(|ui| {
                            ui.label(egui::RichText::new(p.display().to_string()).monospace());
                            widgets::combo(
                                ui,
                                ("fmt", i),
                                l.t("格式", "format"),
                                f.name(l),
                                |ui| {
                                    for c in FormatChoice::ALL {
                                        ui.selectable_value(f, c, c.name(l));
                                    }
                                },
                            );
                            if ui
                                .small_button("×")
                                .on_hover_text(l.t("移除", "remove"))
                                .clicked()
                            {
                                remove = Some(i);
                            }
                            if looks_like_balances(p)
                                && ui
                                    .small_button(l.t(
                                        "改作存管余额文件",
                                        "Use as the custodian balances file",
                                    ))
                                    .on_hover_text(l.t(
                                        "文件名像是存管方的用户余额文件，不是对账单",
                                        "its name says it is the custodian's per-user balances, not a statement",
                                    ))
                                    .clicked()
                            {
                                as_balances = Some(i);
                            }
                        });
                    }
                    if ui
                        .button(l.t("添加对账单文件…", "Add a statement file…"))
                        .clicked()
                    {
                        pick = true;
                    }
                    if let Some(m) = &st.demo_money {
                        demo_offer(ui, m, &st.files, l, &mut demo_choice);
                    }
                    if st.files.iter().any(|(_, f)| *f == FormatChoice::Generic) {
                        ui.horizontal(|ui| {
                            widgets::field(
                                ui,
                                l.t("订单号列", "order-number column"),
                                &mut st.map_key,
                                120.0,
                            );
                            widgets::field(
                                ui,
                                l.t("金额列", "amount column"),
                                &mut st.map_amount,
                                120.0,
                            );
                        });
                    }
                });
                ui.end_row();
                let lab = ui.label(l.t("手续费合同费率", "Contract fee rate"));
                ui.vertical(|ui| {
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::TextEdit::singleline(&mut st.fee_rate)
                                .desired_width(220.0)
                                .hint_text(l.t("如 0.6%", "e.g. 0.6%")),
                        )
                        .labelled_by(lab.id);
                        // Read as typed: a bad rate is said beside the field
                        // (and blocks Start below).
                        match parse_fee_field(&st.fee_rate) {
                            Err(e) => {
                                ui.colored_label(
                                    widgets::severity_ink(ui, crate::recon::Severity::Critical),
                                    fee_error_text(&e, l),
                                );
                            }
                            Ok(r) if r.is_empty() => {
                                ui.weak(l.t("（空：不核对手续费）", "(empty: fees not checked)"));
                            }
                            Ok(r) => {
                                ui.weak(format!(
                                    "{}{}",
                                    l.t("逐笔核对手续费：", "each payment's fee checked at "),
                                    rates_text(&r, l)
                                ));
                            }
                        }
                    });
                    ui.weak(l.t(
                        "微信和支付宝账单一个费率，或按渠道：微信=0.6%，支付宝=0.38%",
                        "one rate for the WeChat and Alipay bills, or per channel: wechat=0.6%, alipay=0.38%",
                    ));
                });
                ui.end_row();
                ui.label(l.t("存管余额文件", "Custodian balances file"));
                ui.horizontal(|ui| {
                    match &st.balances {
                        Some(p) => {
                            ui.label(egui::RichText::new(p.display().to_string()).monospace());
                        }
                        None => {
                            ui.weak(l.t(
                                "（没有：不核对存管余额）",
                                "(none: custodian balances not compared)",
                            ));
                        }
                    }
                    if ui
                        .button(l.t("选择存管余额文件…", "Choose a balances file…"))
                        .on_hover_text(l.t(
                            "存管方（汇付宝）导出的用户余额 CSV：用户编码（或绑定协议号）、可用余额、冻结金额",
                            "the custodian's (hfb's) per-user balances as CSV: user_code or bind_code, amount, freeze_amount",
                        ))
                        .clicked()
                    {
                        pick_balances = true;
                    }
                    if st.balances.is_some()
                        && ui
                            .small_button("×")
                            .on_hover_text(l.t("不用存管余额文件", "clear the balances file"))
                            .clicked()
                    {
                        st.balances = None;
                    }
                });
                ui.end_row();
                ui.label(l.t("容差", "Tolerances"));
                ui.horizontal(|ui| {
                    widgets::field(
                        ui,
                        l.t("跨日窗口（分钟）", "cross-day window (min)"),
                        &mut st.window,
                        40.0,
                    );
                    widgets::field(
                        ui,
                        l.t("支付中超时（分钟）", "stuck after (min)"),
                        &mut st.stuck,
                        40.0,
                    );
                    widgets::field(
                        ui,
                        l.t("幂等锁超时（秒）", "lock TTL (s)"),
                        &mut st.lock_ttl,
                        40.0,
                    );
                });
                ui.end_row();
                let lab = ui.label(l.t("结果保存到", "Results folder"));
                ui.vertical(|ui| {
                    ui.horizontal(|ui| {
                        ui.add(egui::TextEdit::singleline(&mut st.out_dir).desired_width(420.0))
                            .labelled_by(lab.id);
                        ui.checkbox(
                            &mut st.bom,
                            l.t("CSV 带 BOM（Excel）", "CSV with BOM (Excel)"),
                        );
                    });
                    let sep = std::path::MAIN_SEPARATOR;
                    let day = st.day.trim();
                    ui.weak(format!(
                        "{} …{sep}{db_folder}{sep}{day}-run<N>{sep}",
                        l.t(
                            "每次对账在其中新建自己的文件夹，互不覆盖：",
                            "each run gets a new folder of its own inside, never overwritten:"
                        ),
                    ));
                });
                ui.end_row();
            });
        let fee_ok = parse_fee_field(&st.fee_rate).is_ok();
        let start = ui
            .add_enabled(
                fee_ok,
                egui::Button::new(
                    egui::RichText::new(l.t("开始对账", "Run reconciliation")).strong(),
                ),
            )
            .on_disabled_hover_text(l.t(
                "先改正手续费合同费率",
                "correct the contract fee rate first",
            ));
        if start.clicked() {
            go = true;
        }
    });
    if let Some(i) = remove {
        app.recon.files.remove(i);
    }
    if let Some(i) = as_balances
        && i < app.recon.files.len()
    {
        let (p, _) = app.recon.files.remove(i);
        app.recon.balances = Some(p);
    }
    if let Some(money) = demo_choice {
        use_demo_money(&mut app.recon, money);
    }
    if pick_balances {
        let start = app
            .recon
            .balances
            .as_ref()
            .or_else(|| app.recon.files.last().map(|(p, _)| p))
            .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
            .unwrap_or_else(crate::demo::data_dir);
        // The dialog is the statements' one; the answer goes to the balances.
        app.recon.picking_balances = true;
        app.picker = Some(filepick::Picker::open(
            filepick::Purpose::Statement,
            start,
            &["csv", "txt"],
        ));
    }
    if pick {
        app.recon.picking_balances = false;
        let start = app
            .recon
            .files
            .last()
            .and_then(|(p, _)| p.parent().map(|d| d.to_path_buf()))
            .unwrap_or_else(crate::demo::data_dir);
        app.picker = Some(filepick::Picker::open(
            filepick::Purpose::Statement,
            start,
            &["csv", "txt"],
        ));
    }
    if go {
        start(app);
    }
    if let Some(r) = &mut app.recon.running {
        ui.add_space(8.0);
        let p = r.progress.lock().ok().and_then(|p| p.clone());
        progress_bar(ui, p.as_ref(), r.started.elapsed(), l);
        if r.cancelled {
            ui.label(l.t(
                "正在取消（当前步骤结束后停止）…",
                "cancelling (stops after the current step)…",
            ));
        } else if ui.button(l.t("取消", "Cancel")).clicked() {
            r.cancel.store(true, Ordering::Relaxed);
            r.cancelled = true;
        }
    }
    let mut open_queue = false;
    let mut open_kind = None;
    if let Some(last) = &app.recon.last {
        ui.add_space(8.0);
        open_kind = summary(ui, last, l);
        if last.run_id.is_some()
            && last.summary.status() == Some(RunStatus::Ok)
            && !last.summary.by_kind.is_empty()
        {
            ui.horizontal(|ui| {
                if ui
                    .button(l.t("打开差错队列", "Open the findings queue"))
                    .clicked()
                {
                    open_queue = true;
                }
                if ui
                    .button(l.t("导出差错…", "Export the findings…"))
                    .clicked()
                {
                    app.export.target = super::export_view::Target::Findings;
                    app.go(Screen::Export);
                }
            });
        }
    }
    if open_queue {
        app.findings.kind = None;
        app.go(Screen::Findings);
    }
    if let Some(kind) = open_kind {
        open_findings_of(app, kind);
    }
    ui.add_space(12.0);
    history(app, ui);
}

/// Loads the connected database's past runs (one more than shown, to know
/// whether there are more).
fn load_history(app: &mut App) {
    let (Some(c), Some(ws)) = (app.conn.clone(), app.ws.clone()) else {
        return;
    };
    let database = c.db.redacted_url();
    let limit = app.recon.history.limit;
    app.recon.history.loading = true;
    app.recon.history.database = Some(database.clone());
    app.jobs.spawn(async move {
        let r = ws.list_runs(Some(&database), limit.saturating_add(1)).await;
        // The newest run's summary, shown until a run of this session: the
        // screen opens on where the last reconciliation left things.
        let newest = r.as_ref().ok().and_then(|rows| {
            let run = rows.first()?;
            let dir = PathBuf::from(run.out_dir.as_deref()?);
            let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
            let summary = serde_json::from_str::<Summary>(&text).ok()?;
            Some(LastRun {
                run_id: Some(run.id),
                summary,
                out_dir: dir,
            })
        });
        Box::new(move |app: &mut App| {
            if app.recon.last.is_none() && app.recon.running.is_none() {
                app.recon.last = newest;
            }
            let h = &mut app.recon.history;
            h.loading = false;
            match r {
                Ok(mut rows) => {
                    h.more = rows.len() > limit as usize;
                    rows.truncate(limit as usize);
                    h.rows = rows;
                }
                Err(e) => {
                    let l = app.lang;
                    app.error(format!(
                        "{}{e}",
                        l.t("无法读取过去的对账：", "The past runs could not be read: ")
                    ));
                }
            }
        }) as super::jobs::Apply
    });
}

fn status_color(s: RunStatus) -> egui::Color32 {
    match s {
        RunStatus::Ok => egui::Color32::from_rgb(0x2e, 0x7d, 0x32),
        RunStatus::Failed => widgets::severity_color(crate::recon::Severity::Critical),
        RunStatus::Cancelled => widgets::severity_color(crate::recon::Severity::High),
    }
}

fn period_text(p: Option<Period>, l: Lang) -> String {
    match p {
        None => l.t("全库", "whole database").to_owned(),
        Some(p) if p.from == p.to => p.from.to_string(),
        Some(p) => format!("{}..{}", p.from, p.to),
    }
}

/// The summary a past run wrote, shown as the last run's.
fn show_past_summary(app: &mut App, run_id: i64, dir: &std::path::Path) {
    let l = app.lang;
    let file = dir.join("summary.json");
    let parsed = std::fs::read_to_string(&file)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<Summary>(&t).map_err(|e| e.to_string()));
    match parsed {
        Ok(summary) => {
            app.recon.last = Some(LastRun {
                run_id: Some(run_id),
                summary,
                out_dir: dir.to_path_buf(),
            });
        }
        Err(e) => app.error(format!(
            "{} {}: {e}",
            l.t("无法读取摘要", "Cannot read the summary"),
            file.display()
        )),
    }
}

/// Past runs of this database from the workspace, newest first.
fn history(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    let current = app.conn.as_ref().map(|c| c.db.redacted_url());
    if current.is_some() && app.recon.history.database != current && !app.recon.history.loading {
        load_history(app);
    }
    ui.horizontal(|ui| {
        ui.heading(l.t("过去的对账", "Past runs"));
        ui.weak(l.t("（本数据库，最新在前）", "(this database, newest first)"));
    });
    let h = &app.recon.history;
    if h.rows.is_empty() {
        ui.weak(if h.loading {
            l.t("加载中…", "loading…")
        } else {
            l.t("还没有对账记录。", "No run yet.")
        });
        return;
    }
    let mut show: Option<(i64, PathBuf)> = None;
    let mut more = false;
    egui::Grid::new("past-runs")
        .striped(true)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            for head in [
                l.t("编号", "Run"),
                l.t("状态", "Status"),
                l.t("期间", "Period"),
                l.t("开始时间", "Started"),
                l.t("操作员", "Operator"),
                l.t("差错", "Findings"),
                l.t("用时", "Duration"),
                l.t("结果文件夹", "Results folder"),
                "",
            ] {
                ui.strong(head);
            }
            ui.end_row();
            for r in &h.rows {
                ui.label(format!("#{}", r.id));
                let st = egui::RichText::new(status_name(r.status, l))
                    .color(widgets::ink(ui, status_color(r.status)))
                    .strong();
                let st = ui.label(st);
                if let Some(why) = &r.reason {
                    st.on_hover_text(super::console_words(why));
                }
                ui.label(period_text(r.period, l));
                ui.label(r.started_at.format("%Y-%m-%d %H:%M:%S").to_string());
                ui.label(&r.operator);
                ui.label(if r.status == RunStatus::Ok {
                    r.findings.to_string()
                } else {
                    "—".to_owned()
                });
                let ms = (r.finished_at - r.started_at).num_milliseconds();
                ui.label(widgets::elapsed(std::time::Duration::from_millis(
                    u64::try_from(ms).unwrap_or(0),
                )));
                match &r.out_dir {
                    Some(dir) => {
                        ui.label(egui::RichText::new(dir).monospace().small());
                        ui.horizontal(|ui| {
                            if ui
                                .small_button(l.t("复制路径", "Copy path"))
                                .on_hover_text(dir)
                                .clicked()
                            {
                                ui.ctx().copy_text(dir.clone());
                            }
                            if ui
                                .small_button(format!(
                                    "{} #{}",
                                    l.t("查看摘要", "Show summary"),
                                    r.id
                                ))
                                .clicked()
                            {
                                show = Some((r.id, PathBuf::from(dir)));
                            }
                        });
                    }
                    None => {
                        ui.weak("—").on_hover_text(l.t(
                            "这次对账没有记录结果文件夹（较早的版本）。",
                            "No results folder was recorded for this run (an older version).",
                        ));
                        ui.label("");
                    }
                }
                ui.end_row();
            }
        });
    if h.more && ui.button(l.t("更多…", "More…")).clicked() {
        more = true;
    }
    if more {
        app.recon.history.limit = app.recon.history.limit.saturating_add(HISTORY_PAGE);
        load_history(app);
    }
    if let Some((id, dir)) = show {
        show_past_summary(app, id, &dir);
    }
}

/// A file chosen in the dialog: the balances file when the dialog was
/// opened for it, else one more statement.
pub(crate) fn picked_file(app: &mut App, path: PathBuf) {
    if std::mem::take(&mut app.recon.picking_balances) {
        app.recon.balances = Some(path);
        return;
    }
    let f = FormatChoice::guess(&path);
    app.recon.files.push((path, f));
}

/// Whether a file's name says it is a custodian's balances file
/// (`hfb-balances-2026-11-20.csv`, `存管余额.csv`).
fn looks_like_balances(path: &std::path::Path) -> bool {
    let n = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    n.contains("balances") || n.contains("余额")
}

/// The rates in the console's words: `0.60%`, `微信 0.60%、支付宝 0.38%`.
fn rates_text(r: &crate::recon::fees::FeeRates, l: Lang) -> String {
    use crate::recon::fees::rate_text;
    let mut parts: Vec<String> = Vec::new();
    if let Some(d) = r.default {
        parts.push(rate_text(d));
    }
    for (f, d) in &r.per_format {
        let name = match l {
            Lang::Zh => channel_zh(f).to_owned(),
            Lang::En => f.clone(),
        };
        parts.push(format!("{name} {}", rate_text(*d)));
    }
    parts.join(l.t("、", ", "))
}

/// On the demo: the offer of its WeChat money files instead of the hfb
/// statement (or the way back to it).
fn demo_offer(
    ui: &mut egui::Ui,
    m: &DemoMoney,
    files: &[(PathBuf, FormatChoice)],
    l: Lang,
    choice: &mut Option<bool>,
) {
    let same = l.t(
        "汇付宝对账单和微信账单是同一批支付：一次对账只用其中一个，否则每笔都会出现两次",
        "the hfb statement and the WeChat bill list the same payments: one run takes one of them, or every payment would be there twice",
    );
    ui.horizontal_wrapped(|ui| {
        if files == m.files().as_slice() {
            ui.weak(l.t(
                "演示：微信交易账单 + 资金账单，手续费合同费率与存管余额已填好。",
                "Demo: the WeChat trade bill + its fund flow, with the contract fee rate and the custodian's balances.",
            ));
            if ui
                .small_button(l.t("改回汇付宝对账单", "Back to the hfb statement"))
                .on_hover_text(same)
                .clicked()
            {
                *choice = Some(false);
            }
        } else {
            ui.weak(l.t(
                "演示库还为这一天写了微信交易账单（含手续费）、资金账单和存管余额文件。",
                "The demo also wrote this day's WeChat trade bill (with fees), its fund-flow bill and the custodian's balances.",
            ));
            if ui
                .small_button(l.t(
                    "改用微信账单、资金账单和存管余额",
                    "Use the WeChat bill, fund flow and balances",
                ))
                .on_hover_text(same)
                .clicked()
            {
                *choice = Some(true);
            }
        }
    });
}

/// A kind's name in the chosen language (English: its words made readable).
fn kind_label(code: &str, l: Lang) -> String {
    match (crate::recon::Kind::parse(code), l) {
        (Some(k), _) => widgets::kind_name(k, l).to_owned(),
        (None, _) => {
            let words = code.replace('_', " ");
            let mut c = words.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// The big red notice of a run whose result is not a reconciliation.
fn not_reconciled_notice(ui: &mut egui::Ui, why: &str, l: Lang) {
    let red = widgets::severity_color(crate::recon::Severity::Critical);
    egui::Frame::new()
        .fill(red)
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(12, 8))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(
                egui::RichText::new(l.t("未对账", "NOT reconciled"))
                    .color(egui::Color32::WHITE)
                    .strong()
                    .size(20.0),
            );
            ui.add(
                egui::Label::new(
                    egui::RichText::new(super::console_words(why))
                        .color(egui::Color32::WHITE)
                        .size(15.0),
                )
                .wrap(),
            );
        });
}

/// Sums exact decimal texts (amounts as summary.json writes them).
fn sum_amounts<'a>(it: impl Iterator<Item = &'a str>) -> Option<rust_decimal::Decimal> {
    let mut total = rust_decimal::Decimal::ZERO;
    let mut any = false;
    for a in it {
        total += a.parse::<rust_decimal::Decimal>().ok()?;
        any = true;
    }
    any.then_some(total)
}

/// The run's summary; returns the kind whose count was clicked (its
/// findings are to be opened in the queue).
fn summary(ui: &mut egui::Ui, r: &LastRun, l: Lang) -> Option<crate::recon::Kind> {
    use crate::money::format_amount;
    let mut open = None;
    let s = &r.summary;
    let status = s.status();
    ui.horizontal(|ui| {
        ui.heading(format!(
            "{} #{}",
            l.t("对账结果", "Run"),
            r.run_id.map(|i| i.to_string()).unwrap_or_default(),
        ));
        if let Some(st) = status {
            ui.label(
                egui::RichText::new(status_name(st, l))
                    .color(widgets::ink(ui, status_color(st)))
                    .strong(),
            );
        }
        let period = s.period.as_ref().map_or_else(
            || l.t("全库", "whole database").to_owned(),
            |p| {
                if p.from == p.to {
                    p.from.clone()
                } else {
                    format!("{}..{}", p.from, p.to)
                }
            },
        );
        ui.label(format!(
            "{period} · {}",
            widgets::elapsed(std::time::Duration::from_millis(s.duration_ms))
        ));
    });
    if let Some(why) = s.not_reconciled(l) {
        not_reconciled_notice(ui, &why, l);
    }

    // The statement against the ledger.
    if let Some((stmt, flows, matched)) = s.matching {
        ui.add_space(6.0);
        ui.strong(l.t("对账单与账本", "Statement against ledger"));
        let reconciled = || s.files.iter().filter(|f| f.role == "reconciled");
        let stmt_amount = sum_amounts(reconciled().filter_map(|f| f.amount.as_deref()));
        let stmt_rows: u64 = reconciled().map(|f| f.entries).sum();
        egui::Grid::new("run-totals")
            .striped(true)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                ui.strong("");
                ui.strong(l.t("笔数", "Count"));
                ui.strong(l.t("金额", "Amount"));
                ui.end_row();
                ui.label(l.t(
                    "对账单行（已对账的文件）",
                    "Statement rows (reconciled files)",
                ));
                ui.label(stmt_rows.to_string());
                ui.monospace(stmt_amount.map(format_amount).unwrap_or_default());
                ui.end_row();
                ui.label(l.t("其中不同的订单", "Distinct statement orders"));
                ui.label(stmt.to_string());
                ui.label("");
                ui.end_row();
                ui.label(l.t(
                    "本期充值流水（账本）",
                    "Recharge flows of the period (ledger)",
                ));
                ui.label(flows.to_string());
                ui.monospace(s.flows_amount.clone().unwrap_or_default());
                ui.end_row();
                ui.label(l.t("两边都有", "On both sides (matched)"));
                ui.label(matched.to_string());
                ui.label("");
                ui.end_row();
                if s.cleared_by_neighbour > 0 {
                    ui.label(l.t(
                        "在相邻日对账单上（在那一天核对）",
                        "On a neighbouring day's bill (checked on that day)",
                    ));
                    ui.label(s.cleared_by_neighbour.to_string());
                    ui.label("");
                    ui.end_row();
                }
                if let Some(u) = s.unverified.as_ref().filter(|u| u.flows > 0) {
                    let c = widgets::severity_ink(ui, crate::recon::Severity::High);
                    ui.colored_label(
                        c,
                        l.t(
                            "未核对流水（没有可用的对账单：既未确认，也未判为缺失）",
                            "Unverified flows (no usable statement: neither confirmed nor missing)",
                        ),
                    );
                    ui.colored_label(c, u.flows.to_string());
                    ui.colored_label(c, egui::RichText::new(&u.amount).monospace());
                    ui.end_row();
                }
            });
    } else if status == Some(RunStatus::Ok) {
        ui.weak(l.t(
            "只做了数据库检查：没有对账单参与核对。",
            "Database checks only: no statement was matched.",
        ));
    }

    if !s.files.is_empty() {
        ui.add_space(6.0);
        ui.strong(l.t("对账单文件", "Statement files"));
        egui::Grid::new("run-files")
            .striped(true)
            .spacing([12.0, 4.0])
            .show(ui, |ui| {
                for head in [
                    l.t("文件", "File"),
                    l.t("格式", "Format"),
                    l.t("行数", "Rows"),
                    l.t("错行", "Bad rows"),
                    l.t("金额", "Amount"),
                    l.t("处理", "Used as"),
                ] {
                    ui.strong(head);
                }
                ui.end_row();
                for f in &s.files {
                    let day = match &f.business_period {
                        Some((a, b)) if a == b => format!(" · {a}"),
                        Some((a, b)) => format!(" · {a}..{b}"),
                        None => String::new(),
                    };
                    let name = std::path::Path::new(&f.path)
                        .file_name()
                        .map_or_else(|| f.path.clone(), |n| n.to_string_lossy().into_owned());
                    ui.label(name).on_hover_text(&f.path);
                    let enc = if f.encoding.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", f.encoding)
                    };
                    ui.label(format!("{}{enc}", layout_text(f, l)))
                        .on_hover_text(f.layout.as_deref().unwrap_or(&f.format));
                    ui.label(f.entries.to_string());
                    ui.label(f.row_errors.len().to_string());
                    ui.monospace(f.amount.clone().unwrap_or_default());
                    let role = match f.role.as_str() {
                        "reconciled" => format!("{}{day}", l.t("已对账", "reconciled")),
                        "neighbour" => l
                            .t(
                                "相邻日的对账单：只用于核销日切待核项",
                                "neighbouring day's bill: only clears day-boundary items",
                            )
                            .to_owned(),
                        "read_only" if s.settlement.is_some() && is_movements(&f.format) => l
                            .t(
                                "资金流水：核对到账（见下）",
                                "money movements: settlement (below)",
                            )
                            .to_owned(),
                        "read_only" => l
                            .t(
                                "资金流水：已核对合计，用于结算核对",
                                "movements: footer-checked, used for the settlement check",
                            )
                            .to_owned(),
                        _ => format!(
                            "{}{}",
                            l.t("未采用：", "NOT used: "),
                            super::console_words(l.t(
                                f.refused_zh.as_deref().unwrap_or(""),
                                f.refused.as_deref().unwrap_or("")
                            ))
                        ),
                    };
                    if f.role == "refused" {
                        ui.colored_label(
                            widgets::severity_ink(ui, crate::recon::Severity::Critical),
                            role,
                        );
                    } else {
                        ui.label(role);
                    }
                    ui.end_row();
                }
            });
        for f in &s.files {
            for (line, why) in f.row_errors.iter().take(5) {
                ui.weak(format!(
                    "  {} · {} {line}: {}",
                    f.path,
                    l.t("第", "line"),
                    super::console_words(why)
                ));
            }
        }
    }
    for sk in &s.skipped {
        ui.colored_label(
            widgets::severity_ink(ui, crate::recon::Severity::High),
            format!(
                "{} {}: {}",
                l.t("跳过", "skipped"),
                sk.kinds
                    .iter()
                    .map(|k| kind_label(k, l))
                    .collect::<Vec<_>>()
                    .join(l.t("、", ", ")),
                l.t(&sk.reason_zh, &sk.reason_en)
            ),
        );
    }

    if status == Some(RunStatus::Ok) {
        fees_section(ui, s, l, &mut open);
        settlement_section(ui, s, l, &mut open);
        custody_section(ui, s, l, &mut open);
    }

    ui.add_space(6.0);
    if status != Some(RunStatus::Ok) {
        // What a stopped run found so far is not a result: not shown as one.
        ui.strong(l.t("差错", "Findings"));
        ui.weak(l.t(
            "（对账未完成：没有结果，之前的结果不受影响）",
            "(the run did not complete: no result; earlier results are untouched)",
        ));
    } else if s.by_kind.is_empty() {
        ui.strong(l.t("差错", "Findings"));
        ui.weak(l.t("没有差错。", "No findings."));
    } else {
        ui.strong(format!(
            "{} · {}",
            l.t("差错", "Findings"),
            s.by_kind.values().sum::<u64>()
        ));
        let mut kinds: Vec<(&String, &u64)> = s.by_kind.iter().collect();
        kinds.sort_by_key(|(k, _)| {
            let kind = crate::recon::Kind::parse(k);
            (std::cmp::Reverse(kind.map(|k| k.severity())), kind)
        });
        egui::Grid::new("run-kinds")
            .striped(true)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                ui.strong(l.t("类型", "Kind"));
                ui.strong(l.t("严重度", "Severity"));
                ui.strong(l.t("条数", "Count"));
                ui.strong(l.t("差额合计", "Total difference"));
                ui.end_row();
                for (k, n) in kinds {
                    ui.label(kind_label(k, l)).on_hover_text(k.as_str());
                    match crate::recon::Kind::parse(k) {
                        Some(kind) => {
                            let sev = kind.severity();
                            ui.colored_label(
                                widgets::severity_ink(ui, sev),
                                widgets::severity_name(sev, l),
                            );
                        }
                        None => {
                            ui.label("");
                        }
                    }
                    match crate::recon::Kind::parse(k) {
                        Some(kind) => count_cell(ui, *n, kind, l, &mut open),
                        None => {
                            ui.label(n.to_string());
                        }
                    }
                    ui.monospace(s.amount_by_kind.get(k).cloned().unwrap_or_default());
                    ui.end_row();
                }
            });
    }
    if let Some(risk) = &s.amount_at_risk
        && status == Some(RunStatus::Ok)
    {
        ui.horizontal(|ui| {
            ui.strong(l.t("涉险金额", "Amount at risk"));
            ui.label(
                egui::RichText::new(&risk.total)
                    .monospace()
                    .strong()
                    .color(widgets::severity_ink(ui, crate::recon::Severity::Critical)),
            );
            ui.weak(format!(
                "{} {} · {} {}",
                risk.bill_count,
                l.t("笔账单", "bills"),
                risk.account_count,
                l.t("个账户（各计一次）", "accounts (each counted once)"),
            ));
        });
        if risk
            .file_level
            .parse::<rust_decimal::Decimal>()
            .is_ok_and(|d| !d.is_zero())
        {
            ui.horizontal(|ui| {
                ui.label(l.t(
                    "另：文件级合计差额（不计入上面）",
                    "Apart: file-level total differences (not in the above)",
                ));
                ui.monospace(&risk.file_level);
            });
        }
    }
    ui.horizontal(|ui| {
        ui.weak(l.t("结果文件：", "Results:"));
        let dir = r.out_dir.display().to_string();
        ui.label(egui::RichText::new(&dir).monospace());
        if ui.small_button(l.t("复制路径", "Copy path")).clicked() {
            ui.ctx().copy_text(dir);
        }
    });
    // The run's findings as CSV and as an Excel workbook (complete runs only).
    for (name, what) in [
        ("findings.csv", l.t("差错 CSV", "Findings CSV")),
        (
            crate::export::run_book::RUN_WORKBOOK,
            l.t(
                "Excel 工作簿（摘要 + 差异）",
                "Excel workbook (summary + breaks)",
            ),
        ),
    ] {
        let path = r.out_dir.join(name);
        if !path.is_file() {
            continue;
        }
        ui.horizontal(|ui| {
            ui.weak(what);
            let text = path.display().to_string();
            ui.label(egui::RichText::new(&text).monospace());
            if ui
                .small_button(l.t("复制路径", "Copy path"))
                .on_hover_text(&text)
                .clicked()
            {
                ui.ctx().copy_text(text.clone());
            }
            // Why it could not be opened stays beside the button (kept in
            // egui's memory) until the next try.
            let err_id = ui.make_persistent_id(("open-file-error", &text));
            if ui.small_button(l.t("打开文件", "Open file")).clicked() {
                let err = open_file(&path).err().map(|e| e.to_string());
                ui.data_mut(|d| match err {
                    Some(e) => {
                        d.insert_temp(err_id, e);
                    }
                    None => d.remove::<String>(err_id),
                });
            }
            if let Some(e) = ui.data(|d| d.get_temp::<String>(err_id)) {
                ui.colored_label(
                    widgets::severity_ink(ui, crate::recon::Severity::Critical),
                    format!("{}{e}", l.t("无法打开：", "Cannot open it: ")),
                );
            }
        });
    }
    open
}

/// Opens a file with the system's program for it (Excel, WPS, LibreOffice…),
/// without waiting for it.
fn open_file(path: &std::path::Path) -> std::io::Result<()> {
    // explorer.exe takes the path as one argument: no shell reads it.
    let mut cmd = if cfg!(target_os = "windows") {
        std::process::Command::new("explorer")
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|mut child| {
            // Reaped in the background, so that no finished opener lingers.
            std::thread::spawn(move || child.wait());
        })
}

/// Whether a statement format is a money-movement file (settlement).
fn is_movements(format: &str) -> bool {
    matches!(format, "wechat-fundflow" | "alipay-accountlog")
}

/// A statement file's layout in the console's language: the reader's words
/// in English (without their Chinese names of the bills), the format's name
/// and its column count in Chinese.
fn layout_text(f: &SummaryFile, l: Lang) -> String {
    let layout = f.layout.as_deref().unwrap_or(&f.format);
    match l {
        Lang::En => {
            let kept: String = layout.chars().filter(|c| !is_cjk(*c)).collect();
            kept.replace("(, ", "(").replace(" ()", "")
        }
        Lang::Zh => {
            let mut t = match f.format.as_str() {
                "hfb" => "汇付宝对账单".to_owned(),
                "wechat" => "微信交易账单".to_owned(),
                "alipay" => "支付宝业务明细".to_owned(),
                "generic" => "通用 CSV".to_owned(),
                "wechat-fundflow" => "微信资金账单".to_owned(),
                "alipay-accountlog" => "支付宝账务明细".to_owned(),
                other => other.to_owned(),
            };
            for (word, zh) in [
                ("ALL", "（全部）"),
                ("SUCCESS", "（成功）"),
                ("REFUND", "（退款）"),
                ("pre-2017", "（2017 年前的格式）"),
            ] {
                if layout.contains(word) {
                    t.push_str(zh);
                }
            }
            let columns = layout
                .find(" columns")
                .and_then(|i| layout[..i].rsplit([' ', ',']).next())
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(n) = columns {
                t.push_str(&format!("，{n} 列"));
            }
            t
        }
    }
}

/// Chinese characters and punctuation.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

/// What a count's link opens, in words (its hover text).
fn opens_text(kind: crate::recon::Kind, l: Lang) -> String {
    format!(
        "{}{}",
        l.t(
            "打开差错队列（待办），类型：",
            "opens the findings queue (to do) of kind "
        ),
        widgets::kind_name(kind, l)
    )
}

/// Opens the findings queue on the findings of `kind` still to do.
fn open_findings_of(app: &mut App, kind: crate::recon::Kind) {
    let f = &mut app.findings;
    f.kind = Some(kind);
    f.severity = None;
    f.status = super::findings_view::StatusChoice::ToDo;
    f.min_age.clear();
    f.bill.clear();
    f.user.clear();
    f.group = None;
    f.order = crate::workspace::QueueOrder::default();
    app.go(Screen::Findings);
}

/// A kind's name as a row's label (English: with a capital).
fn row_name(kind: crate::recon::Kind, l: Lang) -> String {
    let name = widgets::kind_name(kind, l);
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A count; a link to its findings when there are any.
fn count_cell(
    ui: &mut egui::Ui,
    n: u64,
    kind: crate::recon::Kind,
    l: Lang,
    open: &mut Option<crate::recon::Kind>,
) {
    if n == 0 {
        ui.label("0");
        return;
    }
    let text = egui::RichText::new(n.to_string())
        .strong()
        .color(widgets::severity_ink(ui, kind.severity()));
    if ui.link(text).on_hover_text(opens_text(kind, l)).clicked() {
        *open = Some(kind);
    }
}

/// An exact amount of summary.json.
fn dec(text: &str) -> Option<rust_decimal::Decimal> {
    text.parse().ok()
}

/// A file's name out of its path.
fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The fee difference (charged − expected) in words.
pub(crate) fn fee_difference_words(difference: &str, l: Lang) -> String {
    use crate::money::format_amount;
    match dec(difference) {
        Some(d) if d.is_sign_positive() && !d.is_zero() => match l {
            Lang::Zh => format!("网关多收 {}", format_amount(d)),
            Lang::En => format!("the gateway charged {} more", format_amount(d)),
        },
        Some(d) if !d.is_zero() => match l {
            Lang::Zh => format!("网关少收 {}", format_amount(-d)),
            Lang::En => format!("the gateway charged {} less", format_amount(-d)),
        },
        Some(_) => l.t("与合同一致", "as the contract says").to_owned(),
        None => difference.to_owned(),
    }
}

/// What arrived against what should have (arrived − expected), in words.
fn arrival_words(expected: &str, arrived: &str, l: Lang) -> String {
    use crate::money::format_amount;
    match (dec(expected), dec(arrived)) {
        (Some(e), Some(a)) if a < e => match l {
            Lang::Zh => format!("到账比应到少 {}", format_amount(e - a)),
            Lang::En => format!("{} less arrived than expected", format_amount(e - a)),
        },
        (Some(e), Some(a)) if a > e => match l {
            Lang::Zh => format!("到账比应到多 {}", format_amount(a - e)),
            Lang::En => format!("{} more arrived than expected", format_amount(a - e)),
        },
        (Some(_), Some(_)) => l
            .t("全部按应到金额到账", "all arrived as expected")
            .to_owned(),
        _ => String::new(),
    }
}

/// The fee check: per trade bill, the contract's fees against the charged.
fn fees_section(ui: &mut egui::Ui, s: &Summary, l: Lang, open: &mut Option<crate::recon::Kind>) {
    use crate::recon::Kind;
    let Some(rates) = &s.fee_rates else {
        return;
    };
    ui.add_space(6.0);
    ui.strong(format!(
        "{} · {} {rates}",
        l.t("手续费", "Fees"),
        l.t("合同费率", "contract rate"),
    ));
    if s.fees.is_empty() {
        ui.weak(l.t(
            "没有可核对手续费的交易账单。",
            "No trade bill whose fees could be checked.",
        ));
        return;
    }
    egui::Grid::new("run-fees")
        .striped(true)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            for head in [
                l.t("账单", "Bill"),
                l.t("费率", "Rate"),
                l.t("支付笔数", "Payments"),
                l.t("退款笔数", "Refunds"),
                l.t("合同应收", "Expected"),
                l.t("实收", "Charged"),
                l.t("差额", "Difference"),
                l.t("手续费不符", "Wrong fees"),
            ] {
                ui.strong(head);
            }
            ui.end_row();
            for f in &s.fees {
                ui.label(file_name(&f.file)).on_hover_text(&f.file);
                ui.monospace(&f.rate);
                ui.label(f.payments_checked.to_string());
                ui.label(f.refunds_checked.to_string());
                ui.monospace(&f.expected);
                ui.monospace(&f.charged);
                let words = fee_difference_words(&f.difference, l);
                if dec(&f.difference).is_some_and(|d| !d.is_zero()) {
                    ui.colored_label(
                        widgets::severity_ink(ui, Kind::FeeMismatch.severity()),
                        words,
                    );
                } else {
                    ui.label(words);
                }
                count_cell(ui, f.mismatches, Kind::FeeMismatch, l, open);
                ui.end_row();
            }
        });
    for f in s.fees.iter().filter(|f| f.without_fee > 0) {
        ui.weak(format!(
            "{}: {} {}",
            file_name(&f.file),
            f.without_fee,
            l.t(
                "行没有手续费，未核对",
                "rows have no fee and were not checked"
            )
        ));
    }
}

/// The settlement check: did the money of the day's trades arrive.
fn settlement_section(
    ui: &mut egui::Ui,
    s: &Summary,
    l: Lang,
    open: &mut Option<crate::recon::Kind>,
) {
    use crate::recon::{Kind, Severity};
    let Some(st) = &s.settlement else {
        return;
    };
    ui.add_space(6.0);
    ui.strong(l.t("到账", "Settlement"));
    if let Some((en, zh)) = &st.not_checked {
        ui.colored_label(
            widgets::severity_ink(ui, Severity::High),
            format!(
                "{}{}",
                l.t("未核对到账：", "Settlement NOT checked: "),
                super::console_words(l.t(zh, en))
            ),
        );
        return;
    }
    egui::Grid::new("run-settlement")
        .striped(true)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.label(l.t("已到账的订单", "Orders settled"));
            ui.label(format!("{} / {}", st.settled, st.orders));
            ui.end_row();
            ui.label(l.t(
                "应到账（扣除手续费和退款后）",
                "Expected to arrive (net of fees and refunds)",
            ));
            ui.monospace(&st.expected);
            ui.end_row();
            ui.label(l.t("实际到账", "Arrived"));
            ui.horizontal(|ui| {
                ui.monospace(&st.arrived);
                let words = arrival_words(&st.expected, &st.arrived, l);
                if st.expected == st.arrived {
                    ui.weak(words);
                } else {
                    ui.colored_label(widgets::severity_ink(ui, Severity::Critical), words);
                }
            });
            ui.end_row();
            for (kind, n) in [
                (Kind::SettlementMissing, st.missing),
                (Kind::SettlementAmountMismatch, st.mismatched),
                (Kind::SettlementUnexplained, st.unexplained),
            ] {
                ui.label(row_name(kind, l));
                count_cell(ui, n, kind, l, open);
                ui.end_row();
            }
            ui.label(l.t(
                "日切待核（另一半在相邻日）",
                "Pending at the day boundary (other half on the next day)",
            ));
            ui.label(st.pending.to_string());
            ui.end_row();
            if st.other_fees.0 > 0 {
                ui.label(l.t(
                    "不属于订单的手续费（月费等）",
                    "Fees not tied to an order (monthly fees…)",
                ));
                ui.monospace(format!("{} · {}", st.other_fees.0, st.other_fees.1));
                ui.end_row();
            }
            if st.transfers.0 > 0 {
                ui.label(l.t(
                    "商户自己的提现、充值和转账",
                    "The merchant's own withdrawals, top-ups and transfers",
                ));
                ui.monospace(format!("{} · {}", st.transfers.0, st.transfers.1));
                ui.end_row();
            }
        });
    match st.fees_deducted {
        Some(true) => {
            ui.weak(l.t(
                "手续费逐笔从到账中扣除。",
                "Fees are deducted order by order.",
            ));
        }
        Some(false) => {
            ui.weak(l.t(
                "手续费不逐笔扣除：订单全额到账。",
                "Fees are not deducted per order: orders arrive in full.",
            ));
        }
        None => {}
    }
    for f in &st.files {
        let balance = match (&f.opening, &f.closing, f.balance_ok) {
            (Some(o), Some(c), Some(true)) => match l {
                Lang::Zh => format!("余额 {o} → {c}，与当天的收支相符"),
                Lang::En => format!("balance {o} → {c}, equal to the day's movements"),
            },
            (Some(o), Some(c), _) => match l {
                Lang::Zh => format!("余额 {o} → {c}，与当天的收支不符"),
                Lang::En => format!("balance {o} → {c}, NOT equal to the day's movements"),
            },
            _ => l
                .t("文件没有余额列", "the file has no balance column")
                .to_owned(),
        };
        let line = match l {
            Lang::Zh => format!(
                "{}：{} 笔资金变动，收入 {}，支出 {}；{balance}",
                file_name(&f.file),
                f.movements,
                f.income,
                f.expense
            ),
            Lang::En => format!(
                "{}: {} movements, in {}, out {}; {balance}",
                file_name(&f.file),
                f.movements,
                f.income,
                f.expense
            ),
        };
        if f.balance_ok == Some(false) {
            ui.colored_label(widgets::severity_ink(ui, Severity::Critical), line);
        } else {
            ui.label(line);
        }
    }
}

/// The custodian's balances against the ledger.
fn custody_section(ui: &mut egui::Ui, s: &Summary, l: Lang, open: &mut Option<crate::recon::Kind>) {
    use crate::recon::{Kind, Severity};
    let Some(c) = &s.custody else {
        return;
    };
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.strong(l.t("存管余额", "Custodian balances"));
        let enc = if c.encoding.is_empty() {
            String::new()
        } else {
            format!(" · {}", c.encoding)
        };
        ui.label(format!("{}{enc}", file_name(&c.file)))
            .on_hover_text(&c.file);
    });
    if c.refused.is_some() || c.refused_zh.is_some() {
        ui.colored_label(
            widgets::severity_ink(ui, Severity::Critical),
            format!(
                "{}{}",
                l.t("存管余额未核对：", "Custodian balances NOT compared: "),
                l.t(
                    c.refused_zh.as_deref().unwrap_or(""),
                    c.refused.as_deref().unwrap_or("")
                )
            ),
        );
        return;
    }
    egui::Grid::new("run-custody")
        .striped(true)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.label(l.t("按绑定协议号比对的账户", "Accounts compared by bind code"));
            ui.label(c.compared.to_string());
            ui.end_row();
            ui.label(l.t("一致", "Agree"));
            ui.label(c.agree.to_string());
            ui.end_row();
            ui.label(row_name(Kind::CustodyBalanceMismatch, l));
            count_cell(ui, c.mismatched, Kind::CustodyBalanceMismatch, l, open);
            ui.end_row();
            ui.label(row_name(Kind::CustodyUnknownAccount, l));
            ui.horizontal(|ui| {
                count_cell(ui, c.unknown, Kind::CustodyUnknownAccount, l, open);
                if c.unknown > 0 {
                    ui.label(l.t("合计", "total"));
                    ui.monospace(&c.unknown_amount);
                }
            });
            ui.end_row();
            if c.ledger_only > 0 {
                ui.label(l.t(
                    "存管文件里没有的已绑定用户",
                    "Bound users the file does not list",
                ));
                ui.label(match l {
                    Lang::Zh => format!(
                        "{}（其中 {} 个账上有钱）",
                        c.ledger_only, c.ledger_only_nonzero
                    ),
                    Lang::En => format!(
                        "{} ({} holding money)",
                        c.ledger_only, c.ledger_only_nonzero
                    ),
                });
                ui.end_row();
            }
            ui.label(l.t("存管文件合计", "Custodian file total"));
            ui.monospace(&c.custodian_total);
            ui.end_row();
            ui.label(l.t("已比对用户的账上合计", "Ledger total of the compared users"));
            ui.monospace(&c.ledger_total);
            ui.end_row();
        });
    if !c.row_errors.is_empty() {
        ui.colored_label(
            widgets::severity_ink(ui, Severity::High),
            match l {
                Lang::Zh => format!(
                    "{} 行无法读取，这些用户编码未比对（第 {} 行…）",
                    c.row_errors.len(),
                    c.row_errors
                        .iter()
                        .take(5)
                        .map(|(n, _)| n.to_string())
                        .collect::<Vec<_>>()
                        .join("、")
                ),
                Lang::En => format!(
                    "{} bad rows: their user codes were not compared ({})",
                    c.row_errors.len(),
                    c.row_errors
                        .iter()
                        .take(5)
                        .map(|(n, why)| format!("line {n}: {why}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_fee_field_takes_rates_per_channel_in_either_language() {
        assert_eq!(fee_args(" 0.6 % "), ["0.6%"]);
        assert_eq!(
            fee_args("wechat = 0.6%, alipay=0.38%"),
            ["wechat=0.6%", "alipay=0.38%"]
        );
        assert_eq!(
            fee_args("微信＝0.6%；支付宝=0.38%，"),
            ["wechat=0.6%", "alipay=0.38%"]
        );
        assert!(parse_fee_field("").unwrap().is_empty());
        let r = parse_fee_field("微信=0.6%，支付宝=0.38%").unwrap();
        assert_eq!(rates_text(&r, Lang::Zh), "支付宝 0.38%、微信 0.60%");
        assert_eq!(rates_text(&r, Lang::En), "alipay 0.38%, wechat 0.60%");
        // Every refusal is one sentence in each language, the Chinese one
        // without the flag or an English word of the engine's.
        for bad in ["0.6", "six", "150%", "paypal=1%", "0.6%, 0.5%"] {
            let e = parse_fee_field(bad).unwrap_err();
            let en = fee_error_text(&e, Lang::En);
            let zh = fee_error_text(&e, Lang::Zh);
            assert!(en.starts_with("The fee rate"), "{en}");
            assert!(!en.contains("--"), "{en}");
            assert!(zh.starts_with("手续费合同费率"), "{zh}");
            for word in ["rate", "fee", "write", "format"] {
                assert!(!zh.contains(word), "{zh}");
            }
        }
    }

    #[test]
    fn the_demo_run_switches_between_its_hfb_statement_and_its_money_files() {
        let dir = tempfile::tempdir().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let hfb = dir.path().join(format!("hfb-{day}.csv"));
        std::fs::write(&hfb, "x").unwrap();
        assert_eq!(
            DemoMoney::of_day(dir.path(), day, &hfb),
            None,
            "no money files"
        );
        for name in [
            format!("wechat-{day}.csv"),
            format!("wechat-fundflow-{day}.csv"),
            format!("hfb-balances-{day}.csv"),
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        // The balances file is not taken for the day's statement.
        assert_eq!(newest_demo_statement(dir.path()), Some((day, hfb.clone())));
        let mut st = State {
            demo_money: DemoMoney::of_day(dir.path(), day, &hfb),
            files: vec![(hfb.clone(), FormatChoice::Hfb)],
            ..State::default()
        };
        use_demo_money(&mut st, true);
        assert_eq!(
            st.files,
            [
                (
                    dir.path().join(format!("wechat-{day}.csv")),
                    FormatChoice::Wechat
                ),
                (
                    dir.path().join(format!("wechat-fundflow-{day}.csv")),
                    FormatChoice::WechatFundflow
                ),
            ]
        );
        assert_eq!(st.fee_rate, "0.60%");
        assert_eq!(
            st.balances,
            Some(dir.path().join(format!("hfb-balances-{day}.csv")))
        );
        assert!(looks_like_balances(st.balances.as_ref().unwrap()));
        use_demo_money(&mut st, false);
        assert_eq!(st.files, [(hfb, FormatChoice::Hfb)]);
        assert!(st.fee_rate.is_empty() && st.balances.is_none());
    }

    #[test]
    fn a_files_layout_is_said_in_the_consoles_language() {
        let f = |format: &str, layout: &str| SummaryFile {
            format: format.into(),
            layout: Some(layout.into()),
            ..SummaryFile::default()
        };
        let ff = f(
            "wechat-fundflow",
            "WeChat fund-flow bill (资金账单), 11 columns",
        );
        assert_eq!(
            layout_text(&ff, Lang::En),
            "WeChat fund-flow bill, 11 columns"
        );
        assert_eq!(layout_text(&ff, Lang::Zh), "微信资金账单，11 列");
        let log = f("alipay-accountlog", "Alipay account log (账务明细, GBK)");
        assert_eq!(layout_text(&log, Lang::En), "Alipay account log (GBK)");
        let all = f("wechat", "WeChat ALL bill, 27 columns");
        assert_eq!(layout_text(&all, Lang::Zh), "微信交易账单（全部），27 列");
        assert_eq!(
            fee_difference_words("0.01", Lang::En),
            "the gateway charged 0.01 more"
        );
        assert_eq!(fee_difference_words("-0.02", Lang::Zh), "网关少收 0.02");
        assert_eq!(
            fee_difference_words("0.00", Lang::En),
            "as the contract says"
        );
    }
}
