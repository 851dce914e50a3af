//! Reconcile: business day or range, statement files (through the file
//! dialog) and their format, tolerances; a progress bar, cancel, and the
//! summary. The run is the engine's, recorded in the workspace exactly as
//! `payrecon reconcile` records it.

use super::{App, Lang, Screen, filepick, widgets};
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
    progress: Arc<Mutex<(String, u64)>>,
    started: Instant,
    cancelled: bool,
}

/// What the last run produced, for the summary.
pub(crate) struct LastRun {
    pub run_id: Option<i64>,
    pub status: RunStatus,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub by_kind: Vec<(String, u64, String)>,
    pub files: Vec<crate::recon::FileSummary>,
    pub skipped: Vec<crate::recon::Skipped>,
    pub matching: Option<(u64, u64, u64)>,
    pub unverified: Option<crate::recon::Unverified>,
    pub cleared_by_neighbour: u64,
    pub out_dir: PathBuf,
}

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
    pub out_dir: String,
    pub bom: bool,
    pub running: Option<Running>,
    pub last: Option<LastRun>,
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
            out_dir: String::new(),
            bom: true,
            running: None,
            last: None,
        }
    }
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
    st.out_dir = run_folder(&st.day, &st.to_day);
}

/// The results folder made for a day or a range of days.
fn run_folder(day: &str, to_day: &str) -> String {
    let (day, to_day) = (day.trim(), to_day.trim());
    let name = if to_day.is_empty() || to_day == day {
        day.to_owned()
    } else {
        format!("{day}..{to_day}")
    };
    crate::demo::data_dir()
        .join("runs")
        .join(name)
        .display()
        .to_string()
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
    let out = crate::demo::data_dir().join("runs").join("first-open");
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
                "请填写结果保存的文件夹。",
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
        "out": st.out_dir.trim(),
    });
    Ok((opts, params, PathBuf::from(st.out_dir.trim())))
}

fn start(app: &mut App) {
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
    let progress = Arc::new(Mutex::new((String::from("checks"), 0u64)));
    app.recon.running = Some(Running {
        cancel: Arc::clone(&cancel),
        progress: Arc::clone(&progress),
        started: Instant::now(),
        cancelled: false,
    });
    let waker = app.jobs.waker();
    let bom = app.recon.bom;
    app.jobs.spawn_on_thread(move || async move {
        let mut report = |stage: &str, n: u64| {
            if let Ok(mut p) = progress.lock() {
                *p = (stage.to_owned(), n);
            }
            waker.wake();
        };
        let r = crate::ops::reconcile_and_record(
            &c.db,
            &ws,
            &opts,
            params,
            &out,
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
                    let mut by_kind: Vec<(String, u64, String)> = o
                        .by_kind
                        .iter()
                        .map(|(k, n)| {
                            (
                                (*k).to_owned(),
                                *n,
                                o.amount_by_kind.get(k).cloned().unwrap_or_default(),
                            )
                        })
                        .collect();
                    by_kind.sort_by_key(|(k, _, _)| crate::recon::Kind::parse(k));
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
                            out.display()
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
                        status: o.status,
                        error: o.error.clone(),
                        duration_ms: o.duration_ms,
                        by_kind,
                        files: o.files.clone(),
                        skipped: o.skipped.clone(),
                        matching: o.matching,
                        unverified: o.unverified.clone(),
                        cleared_by_neighbour: o.cleared_by_neighbour,
                        out_dir: out,
                    });
                    super::overview::load(app);
                    super::findings_view::load(app);
                }
                Err(e) => app.error(format!(
                    "{}{e}",
                    l.t("对账无法完成：", "The reconciliation could not finish: ")
                )),
            }
        }) as super::jobs::Apply
    });
}

/// Where the engine is, as a fraction for the bar (the stages are known, their sizes are not).
fn stage_fraction(stage: &str) -> f32 {
    match stage {
        "checks" => 0.15,
        "statement" => 0.5,
        "flows" => 0.8,
        _ => 0.95,
    }
}

fn stage_name(stage: &str, l: Lang) -> &'static str {
    match stage {
        "checks" => l.t("数据库检查", "database checks"),
        "statement" => l.t("读取对账单", "reading the statement"),
        "flows" => l.t("读取流水并匹配", "reading flows and matching"),
        _ => l.t("处理中", "working"),
    }
}

/// The reconcile screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    ui.heading(l.t("对账", "Reconcile"));
    let running = app.recon.running.is_some();
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
                // The results folder follows the days while it is the one
                // made for them, so one day's run never overwrites another's.
                let auto = run_folder(&st.day, &st.to_day);
                let mut changed = false;
                ui.horizontal(|ui| {
                    changed |= ui
                        .add(egui::TextEdit::singleline(&mut st.day).desired_width(100.0))
                        .labelled_by(lab.id)
                        .changed();
                    ui.label(l.t("至（可选）", "to (optional)"));
                    changed |= ui
                        .add(
                            egui::TextEdit::singleline(&mut st.to_day)
                                .desired_width(100.0)
                                .hint_text("YYYY-MM-DD"),
                        )
                        .changed();
                });
                if changed && st.out_dir == auto {
                    st.out_dir = run_folder(&st.day, &st.to_day);
                }
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
                ui.horizontal(|ui| {
                    ui.add(egui::TextEdit::singleline(&mut st.out_dir).desired_width(420.0))
                        .labelled_by(lab.id);
                    ui.checkbox(
                        &mut st.bom,
                        l.t("CSV 带 BOM（Excel）", "CSV with BOM (Excel)"),
                    );
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
        let (stage, n) = r.progress.lock().map(|p| p.clone()).unwrap_or_default();
        ui.add(
            egui::ProgressBar::new(stage_fraction(&stage))
                .animate(true)
                .text(format!(
                    "{} · {n} {} · {}",
                    stage_name(&stage, l),
                    l.t("行", "rows"),
                    widgets::elapsed(r.started.elapsed())
                )),
        );
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
    if let Some(last) = &app.recon.last {
        ui.add_space(8.0);
        summary(ui, last, l);
        if last.run_id.is_some() && last.status == RunStatus::Ok && !last.by_kind.is_empty() {
            ui.horizontal(|ui| {
                if ui
                    .button(l.t("打开差错队列", "Open the findings queue"))
                    .clicked()
                {
                    app.findings.kind = None;
                    app.go(Screen::Findings);
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
}

/// A file chosen in the dialog.
pub(crate) fn picked_file(app: &mut App, path: PathBuf) {
    let f = FormatChoice::guess(&path);
    app.recon.files.push((path, f));
}

fn summary(ui: &mut egui::Ui, r: &LastRun, l: Lang) {
    ui.strong(format!(
        "{} #{} · {} · {} ms",
        l.t("上次对账", "Last run"),
        r.run_id.map(|i| i.to_string()).unwrap_or_default(),
        status_name(r.status, l),
        r.duration_ms
    ));
    if let Some(e) = &r.error {
        ui.colored_label(widgets::severity_color(crate::recon::Severity::Critical), e);
    }
    if let Some((stmt, flows, matched)) = r.matching {
        ui.label(format!(
            "{} {stmt} · {} {flows} · {} {matched}",
            l.t("对账单订单", "statement orders"),
            l.t("期间流水", "flows in period"),
            l.t("匹配", "matched")
        ));
    }
    if r.cleared_by_neighbour > 0 {
        ui.label(format!(
            "{} {}",
            l.t(
                "在相邻日对账单上（在那一天核对）的流水",
                "flows on a neighbouring day's bill (checked on that day)"
            ),
            r.cleared_by_neighbour
        ));
    }
    if let Some(u) = r.unverified.as_ref().filter(|u| u.flows > 0) {
        ui.colored_label(
            widgets::severity_color(crate::recon::Severity::High),
            format!(
                "{} {} · {} {}",
                l.t(
                    "未核对流水（当日没有可用的对账单：既未确认，也未判为缺失）",
                    "Unverified flows (no usable statement of their day: neither confirmed nor missing)"
                ),
                u.flows,
                l.t("合计", "totalling"),
                u.amount
            ),
        );
    }
    for f in &r.files {
        use crate::recon::FileRole;
        let day = match f.business_period {
            Some((a, b)) if a == b => format!(" · {a}"),
            Some((a, b)) => format!(" · {a}..{b}"),
            None => String::new(),
        };
        let state = match f.role {
            FileRole::Reconciled => l.t("已对账", "reconciled").to_owned(),
            FileRole::Neighbour => l
                .t(
                    "相邻日的对账单：只用于核销日切待核项",
                    "neighbouring day's bill: only clears day-boundary items",
                )
                .to_owned(),
            FileRole::ReadOnly => l
                .t("只读取并核对合计", "read and footer-checked only")
                .to_owned(),
            FileRole::Refused => format!(
                "{}{}",
                l.t("未采用：", "NOT used: "),
                l.t(
                    f.refused_zh.as_deref().unwrap_or(""),
                    f.refused.as_deref().unwrap_or("")
                )
            ),
        };
        let text = format!(
            "{} · {} · {} · {} {} · {} {}{day} · {state}",
            f.path,
            f.layout.as_deref().unwrap_or(f.format),
            f.encoding,
            f.entries,
            l.t("行", "rows"),
            f.row_errors.len(),
            l.t("行有错", "bad rows")
        );
        if f.role == FileRole::Refused {
            ui.colored_label(
                widgets::severity_color(crate::recon::Severity::Critical),
                text,
            );
        } else {
            ui.label(text);
        }
        for (line, why) in f.row_errors.iter().take(5) {
            ui.weak(format!("  {} {line}: {why}", l.t("第", "line")));
        }
    }
    for s in &r.skipped {
        ui.colored_label(
            egui::Color32::from_rgb(0xd3, 0x6b, 0x00),
            format!(
                "{} {}: {}",
                l.t("跳过", "skipped"),
                s.kinds.join(", "),
                l.t(&s.reason_zh, &s.reason_en)
            ),
        );
    }
    egui::Grid::new("run-kinds").striped(true).show(ui, |ui| {
        for (k, n, amt) in &r.by_kind {
            let kind = crate::recon::Kind::parse(k);
            ui.label(kind.map_or(k.as_str(), |k| widgets::kind_name(k, l)));
            ui.label(n.to_string());
            ui.label(egui::RichText::new(amt).monospace());
            ui.end_row();
        }
    });
    ui.weak(format!(
        "{} {}",
        l.t("结果文件：", "results:"),
        r.out_dir.display()
    ));
}
