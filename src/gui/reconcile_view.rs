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
            Self::WechatFundflow => l.t(
                "微信资金账单（只核对合计）",
                "WeChat fund flow (totals only)",
            ),
            Self::AlipayAccountlog => l.t(
                "支付宝账务明细（只核对合计）",
                "Alipay account log (totals only)",
            ),
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
    if let Some((_, f)) = demo_file {
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
    };
    let params = serde_json::json!({
        "source": "console",
        "statements": st.files.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>(),
        "formats": st.files.iter().map(|(_, f)| format!("{f:?}").to_lowercase()).collect::<Vec<_>>(),
        "window_minutes": window,
        "stuck_minutes": stuck,
        "lock_ttl_seconds": ttl,
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
    let mut remove = None;
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
                        });
                    }
                    if ui
                        .button(l.t("添加对账单文件…", "Add a statement file…"))
                        .clicked()
                    {
                        pick = true;
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
        if ui
            .add(egui::Button::new(
                egui::RichText::new(l.t("开始对账", "Run reconciliation")).strong(),
            ))
            .clicked()
        {
            go = true;
        }
    });
    if let Some(i) = remove {
        app.recon.files.remove(i);
    }
    if pick {
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
    if let Some(last) = &app.recon.last {
        ui.add_space(8.0);
        summary(ui, last, l);
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
        Box::new(move |app: &mut App| {
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

/// A file chosen in the dialog.
pub(crate) fn picked_file(app: &mut App, path: PathBuf) {
    let f = FormatChoice::guess(&path);
    app.recon.files.push((path, f));
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

fn summary(ui: &mut egui::Ui, r: &LastRun, l: Lang) {
    use crate::money::format_amount;
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
                    ui.label(format!("{}{enc}", f.layout.as_deref().unwrap_or(&f.format)));
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
                        "read_only" => l
                            .t("只读取并核对合计", "read and footer-checked only")
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
                    ui.label(n.to_string());
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
