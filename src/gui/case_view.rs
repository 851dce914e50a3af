//! Case (support): one search box for a phone number, user id, name or
//! `agentBillNo` (typed any way: `+86 138-1234-5678`, lower case, the start
//! of a bill); the verdict first, in plain words with its cause, then one
//! timeline in time order — order, every callback attempt, idempotency
//! record, flows and their balance effect — the findings still open on it,
//! and a report to hand on (copied as text or saved as an HTML page).

use super::{App, Lang, widgets};
use crate::case::{self, AccountStory, BillStory, Case, CaseFinding, EventKind, Verdict};
use crate::money::format_amount;
use egui::{Color32, RichText};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How many recent searches the screen remembers.
const RECENT: usize = 12;

/// The case screen's state.
#[derive(Default)]
pub(crate) struct State {
    /// The search box.
    pub query: String,
    /// The last answer (kept while a new search runs).
    pub result: Option<Case>,
    /// A search is running.
    pub loading: bool,
    /// How long the last search took.
    pub took: Option<Duration>,
    /// Run the query once connected (`--case`).
    pub search_on_connect: bool,
    /// The workspace findings could not be read (shown under the case).
    pub findings_error: Option<String>,
    /// The custodian's balances are being read (after the case is shown).
    pub custodian_loading: bool,
    /// The run with a balances file could not be looked up.
    pub custodian_error: Option<String>,
    /// What the shown case was searched by (for back/forward).
    current: Option<String>,
    /// Earlier cases, most recent last.
    back: Vec<String>,
    /// Cases gone back from, most recent last.
    forward: Vec<String>,
    /// Recent searches, newest first, each once.
    pub recent: Vec<String>,
    /// Where "Save as HTML" writes (empty: a default under the home folder).
    pub report_path: String,
    /// The default path last offered (replaced for the next case unless edited).
    report_default: String,
    ticket: u64,
    /// Ctrl+F asked the search box to take the keyboard (next frame).
    focus_search: bool,
}

/// Searches for what the box holds (a new step in the history).
pub(crate) fn search(app: &mut App) {
    let text = app.case.query.trim().to_owned();
    open(app, text, true);
}

/// Opens the case for `text`; `step` records it in the back/forward history.
fn open(app: &mut App, text: String, step: bool) {
    let l = app.lang;
    if text.is_empty() {
        app.error(l.t(
            "请输入手机号、用户编号、姓名或商户订单号（agentBillNo）。",
            "Type a phone number, user id, name or agentBillNo.",
        ));
        return;
    }
    let Some(c) = app.conn.clone() else { return };
    if step {
        if let Some(cur) = app.case.current.take()
            && cur != text
        {
            app.case.back.push(cur);
        }
        app.case.forward.clear();
    }
    app.case.current = Some(text.clone());
    app.case.query = text.clone();
    app.case.recent.retain(|r| *r != text);
    app.case.recent.insert(0, text.clone());
    app.case.recent.truncate(RECENT);
    app.case.ticket += 1;
    let ticket = app.case.ticket;
    app.case.loading = true;
    let ws = app.ws.clone();
    app.jobs.spawn(async move {
        let started = Instant::now();
        let r = case::search_in(&c.db, &c.schema, &text).await;
        // The findings still open on this bill or user, from the workspace.
        let mut findings_error = None;
        let r = match r {
            Ok(mut found) => {
                if let Some(ws) = ws
                    && found.found()
                {
                    match ws
                        .case_findings(&c.url, &found.bills(), &found.user_ids())
                        .await
                    {
                        Ok(f) => found.attach_findings(&f),
                        Err(e) => findings_error = Some(e.to_string()),
                    }
                }
                Ok(found)
            }
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        Box::new(move |app: &mut App| {
            if app.case.ticket != ticket {
                return;
            }
            app.case.loading = false;
            match r {
                Ok(c) => {
                    let users: Vec<i64> = c.users.iter().map(|u| u.user_id).collect();
                    app.case.result = Some(c);
                    app.case.took = Some(took);
                    app.case.findings_error = findings_error;
                    load_custodian(app, ticket, users);
                    // A successful search clears an earlier search error.
                    if app.banner.as_ref().is_some_and(|b| b.error) {
                        app.banner = None;
                    }
                }
                Err(e) => {
                    let l = app.lang;
                    app.error(format!("{}{e}", l.t("查询失败：", "The search failed: ")));
                }
            }
        }) as super::jobs::Apply
    });
}

/// Reads the users' balances at the custodian (from the balances file of
/// the latest complete run that had one) after the case is on screen: the
/// file may be large, and the case must not wait for it.
fn load_custodian(app: &mut App, ticket: u64, users: Vec<i64>) {
    app.case.custodian_loading = false;
    app.case.custodian_error = None;
    let (Some(c), Some(ws)) = (app.conn.clone(), app.ws.clone()) else {
        return;
    };
    if users.is_empty() {
        return;
    }
    app.case.custodian_loading = true;
    // On a thread of its own: the balances file is read by a future that
    // does not move between threads.
    app.jobs.spawn_on_thread(move || async move {
        let r = match case::latest_balances(&ws, &c.url).await {
            Ok(Some(src)) => {
                let mut found = Vec::new();
                for u in users {
                    found.push((u, case::custodian_for(&c.db, &src, u).await));
                }
                Ok(found)
            }
            Ok(None) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        };
        Box::new(move |app: &mut App| {
            if app.case.ticket != ticket {
                return;
            }
            app.case.custodian_loading = false;
            match r {
                Ok(found) => {
                    if let Some(case) = &mut app.case.result {
                        for (uid, cust) in found {
                            if let Some(u) = case.users.iter_mut().find(|u| u.user_id == uid) {
                                u.custodian = Some(cust);
                            }
                        }
                    }
                }
                Err(e) => app.case.custodian_error = Some(e),
            }
        }) as super::jobs::Apply
    });
}

/// Goes back to the previous case.
fn back(app: &mut App) {
    if let Some(prev) = app.case.back.pop() {
        if let Some(cur) = app.case.current.take() {
            app.case.forward.push(cur);
        }
        open(app, prev, false);
    }
}

/// Goes forward again.
fn forward(app: &mut App) {
    if let Some(next) = app.case.forward.pop() {
        if let Some(cur) = app.case.current.take() {
            app.case.back.push(cur);
        }
        open(app, next, false);
    }
}

/// The verdict's colour.
pub(crate) fn verdict_color(v: Verdict) -> Color32 {
    match v {
        Verdict::ChargedOnce => Color32::from_rgb(0x1b, 0x7f, 0x3b),
        Verdict::AwaitingGateway => Color32::from_rgb(0xd3, 0x6b, 0x00),
        v if v.is_problem() => Color32::from_rgb(0xb4, 0x23, 0x18),
        _ => Color32::from_rgb(0x60, 0x60, 0x60),
    }
}

const ORANGE: Color32 = Color32::from_rgb(0xd3, 0x6b, 0x00);
const RED: Color32 = Color32::from_rgb(0xb4, 0x23, 0x18);

/// The default report file for a case.
fn default_report_path(c: &Case) -> PathBuf {
    let dir = directories::UserDirs::new()
        .and_then(|u| u.document_dir().map(Path::to_path_buf))
        .or_else(|| directories::UserDirs::new().map(|u| u.home_dir().to_path_buf()))
        .unwrap_or_else(crate::demo::data_dir);
    let value: String = c
        .query
        .value()
        .chars()
        .map(|ch| if ch.is_alphanumeric() { ch } else { '_' })
        .collect();
    dir.join(format!("case-{value}.html"))
}

/// Writes the shown case as an HTML report to `path`, in the screen's
/// language (the save button, and the file picker once it offers reports).
pub(crate) fn picked_report(app: &mut App, path: PathBuf) {
    let l = app.lang;
    app.case.report_path = path.display().to_string();
    let Some(c) = app.case.result.clone() else {
        return;
    };
    // Business time, like every other time on screen.
    let now = app
        .conn
        .as_ref()
        .map_or_else(|| chrono::Local::now().naive_local(), |k| k.db.now());
    // The file is written beside the window, never on its thread.
    app.jobs.spawn(async move {
        let r = case::save_report_html(&path, &c, l, now);
        Box::new(move |app: &mut App| match r {
            Ok(()) => app.info(format!(
                "{} {}",
                l.t("报告已保存：", "Report saved:"),
                path.display()
            )),
            Err(e) => app.error(format!(
                "{} {}: {e}",
                l.t("报告无法保存到", "The report could not be saved to"),
                path.display()
            )),
        }) as super::jobs::Apply
    });
}

/// The case screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    ui.heading(l.t("客诉查询", "Case"));
    let mut go = false;
    let mut nav: Option<bool> = None;
    let mut pick_recent: Option<String> = None;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                !app.case.back.is_empty(),
                egui::Button::new(l.t("◀ 后退", "◀ Back")),
            )
            .clicked()
        {
            nav = Some(false);
        }
        if ui
            .add_enabled(
                !app.case.forward.is_empty(),
                egui::Button::new(l.t("前进 ▶", "Forward ▶")),
            )
            .clicked()
        {
            nav = Some(true);
        }
        let lab = ui.label(l.t("手机号/用户/姓名/订单号", "Phone, user, name or bill"));
        let r = ui
            .add(
                egui::TextEdit::singleline(&mut app.case.query)
                    .hint_text(l.t(
                        "如 +86 138-1234-5678 / 用户编号 / 姓名 / CHARGE…",
                        "e.g. +86 138-1234-5678 / user id / name / CHARGE…",
                    ))
                    .desired_width(320.0),
            )
            .labelled_by(lab.id);
        if std::mem::take(&mut app.case.focus_search) {
            r.request_focus();
        }
        if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            go = true;
        }
        if ui.button(l.t("查询", "Search")).clicked() {
            go = true;
        }
        if !app.case.recent.is_empty() {
            ui.menu_button(l.t("最近查询", "Recent searches"), |ui| {
                for r in &app.case.recent {
                    if ui.button(r).clicked() {
                        pick_recent = Some(r.clone());
                        ui.close();
                    }
                }
            });
        }
        if app.case.loading {
            ui.spinner();
        }
        if let Some(t) = app.case.took {
            ui.weak(format!("{} {}", l.t("用时", "took"), widgets::elapsed(t)));
        }
    });
    if go {
        search(app);
    }
    match nav {
        Some(false) => back(app),
        Some(true) => forward(app),
        None => {}
    }
    if let Some(r) = pick_recent {
        open(app, r, true);
    }
    ui.add_space(6.0);
    let Some(c) = &app.case.result else {
        ui.label(l.t(
            "客户说“扣了两次钱”或“付了钱没到账”？输入他的手机号或订单号（可带 +86、空格、横线，或只输入订单号开头）。",
            "A customer says \"charged twice\" or \"paid, nothing arrived\"? Type their phone number or bill number (+86, spaces and dashes are fine, so is the start of a bill).",
        ));
        return;
    };
    let mut goto: Option<String> = None;
    let mut copy = false;
    let mut save = false;
    ui.horizontal(|ui| {
        let (zh, en) = c.query.by();
        ui.weak(format!(
            "{}{} {}",
            l.t("按", "by "),
            l.t(zh, en),
            c.query.value()
        ));
        if let Some(t) = &c.typed {
            ui.weak(match l {
                Lang::Zh => format!("（输入为“{t}”）"),
                Lang::En => format!("(typed \"{t}\")"),
            });
        }
        ui.separator();
        if ui
            .button(l.t("复制报告文本", "Copy report as text"))
            .clicked()
        {
            copy = true;
        }
        let lab = ui.label(l.t("报告保存到", "Save report to"));
        // The default file follows the case until the agent types another.
        if app.case.report_path.is_empty() || app.case.report_path == app.case.report_default {
            let d = default_report_path(c).display().to_string();
            app.case.report_path.clone_from(&d);
            app.case.report_default = d;
        }
        ui.add(egui::TextEdit::singleline(&mut app.case.report_path).desired_width(260.0))
            .labelled_by(lab.id);
        if ui.button(l.t("保存为 HTML", "Save as HTML")).clicked() {
            save = true;
        }
        if ui
            .button(l.t("选择位置…", "Choose where…"))
            .on_hover_text(l.t("在文件对话框中选择保存位置", "choose the file in a dialog"))
            .clicked()
        {
            let p = PathBuf::from(app.case.report_path.trim());
            let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "case.html".into());
            app.picker = Some(super::filepick::Picker::save_as(
                super::filepick::Purpose::SaveReport,
                dir,
                name,
                "html",
            ));
        }
    });
    if let Some(e) = &app.case.findings_error {
        ui.colored_label(
            widgets::ink(ui, ORANGE),
            format!(
                "{} {e}",
                l.t("差错记录无法读取：", "Findings could not be read:")
            ),
        );
    }
    // One scroll position per case: a newly opened case starts at its top.
    let scroll_id = format!("case-{:?}", c.query);
    egui::ScrollArea::vertical().id_salt(scroll_id).show(ui, |ui| {
        if !c.missing.is_empty() {
            // Each entry starts with the table's name; the sentences of what
            // that hides are in `unknowable`, in both languages.
            let tables: Vec<&str> = c
                .missing
                .iter()
                .filter_map(|m| m.split_whitespace().next())
                .collect();
            ui.colored_label(widgets::ink(ui, ORANGE),
                format!(
                    "{} {}",
                    l.t("此库缺少这些表，故事不完整：", "This database lacks these tables; the story is incomplete:"),
                    tables.join(", ")
                ),
            );
        }
        if let Some(b) = &c.bill {
            verdict_banner(ui, b.verdict, l);
            if let Some(uid) = b.user_id
                && let Some(u) = c.users.iter().find(|u| u.user_id == uid)
                && ui
                    .button(format!(
                        "{} {} · {} · {} {}",
                        l.t("回到用户", "Back to the user"),
                        u.user_id,
                        u.name,
                        u.recharge_count,
                        l.t("笔充值", "recharges")
                    ))
                    .clicked()
            {
                goto = Some(u.user_id.to_string());
            }
            bill_story(ui, b, Known::of(c), l);
        }
        if !c.found() {
            verdict_banner(ui, Verdict::NotFound, l);
            if c.suggestions.is_empty() {
                ui.label(l.t(
                    "没有相近的记录。手机号请输入 11 位；订单号可以只输入开头，如 CHARGE20261120。",
                    "Nothing close either. A phone number has 11 digits; a bill may be given by its start, such as CHARGE20261120.",
                ));
            } else {
                ui.strong(l.t("您是不是要找：", "Did you mean:"));
                for s in &c.suggestions {
                    ui.horizontal(|ui| {
                        if ui.link(RichText::new(s.query.value()).monospace()).clicked() {
                            goto = Some(s.query.value());
                        }
                        ui.weak(&s.hint);
                    });
                }
            }
        }
        for u in &c.users {
            let custodian = Custodian {
                loading: app.case.custodian_loading,
                error: app.case.custodian_error.as_deref(),
            };
            if let Some(b) = account_story(
                ui,
                u,
                c.bill.is_none(),
                Known::of(c).callbacks,
                &custodian,
                l,
            ) {
                goto = Some(b);
            }
        }
        if !c.unknowable.is_empty() && c.found() {
            ui.add_space(6.0);
            ui.strong(l.t("无法得知", "What cannot be known here"));
            for (zh, en) in &c.unknowable {
                ui.colored_label(widgets::ink(ui, ORANGE), format!("• {}", l.t(zh, en)));
            }
        }
    });
    if copy {
        let text = case::report_text(c, l);
        ui.ctx().copy_text(text);
        app.info(l.t("报告已复制为文本。", "The report was copied as text."));
    }
    if save {
        let p = PathBuf::from(app.case.report_path.trim());
        picked_report(app, p);
    }
    if let Some(b) = goto {
        app.case.query = b;
        search(app);
    }
}

fn verdict_banner(ui: &mut egui::Ui, v: Verdict, l: Lang) {
    let color = verdict_color(v);
    egui::Frame::new()
        .fill(color)
        .corner_radius(4.0)
        .inner_margin(10.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(
                RichText::new(v.text(l))
                    .size(20.0)
                    .strong()
                    .color(Color32::WHITE),
            );
        });
    ui.add_space(6.0);
}

fn amount(d: Option<rust_decimal::Decimal>) -> String {
    d.map(format_amount).unwrap_or_else(|| "—".into())
}

fn signed(d: Option<rust_decimal::Decimal>) -> String {
    d.map(|e| {
        if e.is_sign_negative() {
            format_amount(e)
        } else {
            format!("+{}", format_amount(e))
        }
    })
    .unwrap_or_default()
}

fn time(t: Option<chrono::NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| "—".into())
}

fn findings_list(ui: &mut egui::Ui, findings: &[CaseFinding], l: Lang) {
    if findings.is_empty() {
        return;
    }
    ui.strong(format!(
        "{} ({})",
        l.t("未关闭的差错", "Open findings"),
        findings.len()
    ));
    for f in findings {
        ui.horizontal_wrapped(|ui| {
            widgets::badge(
                ui,
                l.t(f.kind.name_zh(), f.kind.name_en()),
                if f.severity >= crate::recon::Severity::High {
                    RED
                } else {
                    ORANGE
                },
            );
            ui.weak(l.t(f.status.name_zh(), f.status.as_str()));
            ui.label(l.t(&f.detail_zh, &f.detail_en));
        });
    }
    ui.add_space(4.0);
}

/// Which parts of a story this database can tell.
#[derive(Clone, Copy)]
struct Known {
    /// `recharge_order` exists.
    orders: bool,
    /// `notify_log` exists.
    callbacks: bool,
}

impl Known {
    fn of(c: &Case) -> Self {
        let lacks = |t: &str| c.missing.iter().any(|m| m.starts_with(t));
        Self {
            orders: !lacks("recharge_order"),
            callbacks: !lacks("notify_log"),
        }
    }
}

fn bill_story(ui: &mut egui::Ui, b: &BillStory, known: Known, l: Lang) {
    if !b.cause.0.is_empty() {
        let cause = RichText::new(l.t(&b.cause.0, &b.cause.1))
            .strong()
            .size(15.0);
        // Grey (a neutral verdict) would be unreadable as text: keep the normal colour.
        ui.label(match b.verdict {
            Verdict::ChargedOnce | Verdict::AwaitingGateway => {
                cause.color(widgets::ink(ui, verdict_color(b.verdict)))
            }
            v if v.is_problem() => cause.color(widgets::ink(ui, RED)),
            _ => cause,
        });
    }
    for (zh, en) in &b.notes {
        ui.label(format!("• {}", l.t(zh, en)));
    }
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "{} {}",
                l.t("商户订单号", "agentBillNo"),
                b.agent_bill_no
            ))
            .monospace()
            .strong(),
        );
        if known.orders {
            ui.separator();
            ui.label(format!(
                "{} {}",
                l.t("订单", "order"),
                match (&b.order_status, &b.order_status_en) {
                    (Some(zh), Some(en)) => l.t(zh, en).to_owned(),
                    _ => l.t("没有订单", "no order").to_owned(),
                }
            ));
            if b.order_amount.is_some() {
                ui.label(RichText::new(amount(b.order_amount)).monospace());
            }
        }
        ui.separator();
        ui.label(format!(
            "{} {} · {} {}",
            l.t("回调", "callbacks"),
            if known.callbacks {
                b.attempts.len().to_string()
            } else {
                "—".to_owned()
            },
            l.t("入账", "credits"),
            b.credits,
        ));
        if let Some(x) = b.excess {
            ui.label(
                RichText::new(format!("{} {}", l.t("多入账", "excess"), format_amount(x)))
                    .color(widgets::ink(ui, RED))
                    .strong(),
            );
        }
    });
    findings_list(ui, &b.findings, l);
    ui.strong(l.t("经过（按时间）", "Timeline (in time order)"));
    if b.timeline.is_empty() {
        ui.weak(l.t("（没有任何记录）", "(nothing recorded)"));
    }
    egui::Grid::new(("timeline", &b.agent_bill_no))
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            ui.weak(l.t("时间", "time"));
            ui.weak(l.t("环节", "step"));
            ui.weak(l.t("发生了什么", "what happened"));
            ui.weak(l.t("金额", "amount"));
            ui.weak(l.t("余额影响", "balance effect"));
            ui.end_row();
            for e in &b.timeline {
                ui.label(RichText::new(time(e.at)).monospace());
                ui.label(match e.kind {
                    EventKind::Order => l.t("订单", "order"),
                    EventKind::Callback => l.t("回调", "callback"),
                    EventKind::Idempotency => l.t("幂等", "idempotency"),
                    EventKind::Flow => l.t("流水", "flow"),
                });
                let text = RichText::new(l.t(&e.zh, &e.en));
                ui.label(if e.flagged {
                    text.color(widgets::ink(ui, RED))
                } else {
                    text
                });
                ui.label(RichText::new(amount(e.amount)).monospace());
                ui.label(RichText::new(signed(e.effect)).monospace());
                ui.end_row();
            }
        });
    if b.idempotency.is_none() && !b.attempts.is_empty() {
        ui.weak(l.t(
            "没有幂等记录（处理器未记录幂等键）",
            "no idempotency record (the handler kept no idempotency key)",
        ));
    }
    ui.add_space(8.0);
}

fn flows_grid(ui: &mut egui::Ui, flows: &[case::Flow], salt: &str, l: Lang) {
    egui::Grid::new(("flows", salt))
        .striped(true)
        .num_columns(6)
        .show(ui, |ui| {
            ui.weak(l.t("时间", "time"));
            ui.weak(l.t("类型", "type"));
            ui.weak(l.t("金额", "amount"));
            ui.weak(l.t("余额影响", "balance effect"));
            ui.weak(l.t("之后余额", "balance after"));
            ui.weak(l.t("流水号", "trans_no"));
            ui.end_row();
            for f in flows {
                ui.label(RichText::new(time(f.at)).monospace());
                ui.label(l.t(&f.type_name, &f.type_name_en));
                ui.label(RichText::new(amount(f.amount)).monospace());
                ui.label(RichText::new(signed(f.effect)).monospace());
                ui.label(RichText::new(amount(f.balance_after)).monospace());
                ui.label(RichText::new(&f.trans_no).monospace());
                ui.end_row();
            }
        });
}

/// How far the custodian's balances are (they come after the case).
struct Custodian<'a> {
    loading: bool,
    error: Option<&'a str>,
}

/// The custodian's balance beside ours (rows of the account grid).
fn custodian_rows(ui: &mut egui::Ui, u: &AccountStory, state: &Custodian<'_>, l: Lang) {
    let Some(c) = &u.custodian else {
        if state.loading {
            ui.label(l.t("存管方余额", "custodian balance"));
            ui.horizontal(|ui| {
                ui.spinner();
                ui.weak(l.t(
                    "正在读取存管余额文件…",
                    "reading the custodian's balances file…",
                ));
            });
            ui.end_row();
        } else if let Some(e) = state.error {
            ui.label(l.t("存管方余额", "custodian balance"));
            ui.colored_label(
                widgets::ink(ui, ORANGE),
                format!(
                    "{}{e}",
                    l.t(
                        "无法查到用过存管余额文件的对账：",
                        "the runs with a balances file could not be read: "
                    )
                ),
            );
            ui.end_row();
        }
        return;
    };
    ui.label(l.t("存管方余额", "custodian balance"));
    if c.unreadable.is_some() || !c.found {
        ui.colored_label(
            widgets::ink(ui, ORANGE),
            c.words(u.stored, u.stored_freeze, l),
        );
        ui.end_row();
        return;
    }
    ui.label(RichText::new(amount(c.amount)).monospace());
    ui.end_row();
    if let Some(f) = c.freeze_amount {
        ui.label(l.t("存管方冻结", "custodian frozen"));
        ui.label(RichText::new(format_amount(f)).monospace());
        ui.end_row();
    }
    ui.label(l.t("与存管方相比", "against the custodian"));
    let differs = c.difference(u.stored).is_none_or(|d| !d.is_zero())
        || c.freeze_difference(u.stored_freeze)
            .is_some_and(|d| !d.is_zero());
    let words = RichText::new(c.comparison(u.stored, u.stored_freeze, l));
    let shown = if differs {
        ui.label(words.color(widgets::ink(ui, RED)).strong())
    } else {
        ui.label(words.color(widgets::ink(ui, verdict_color(Verdict::ChargedOnce))))
    };
    shown.on_hover_text(case::custodian_line(c, u, l));
    ui.end_row();
    ui.label("");
    ui.weak(match l {
        Lang::Zh => format!(
            "来自 {}（对账 #{}，{}）",
            Path::new(&c.file)
                .file_name()
                .map_or_else(|| c.file.clone(), |n| n.to_string_lossy().into_owned()),
            c.run_id,
            c.as_of
        ),
        Lang::En => format!(
            "from {} (run #{}, {})",
            Path::new(&c.file)
                .file_name()
                .map_or_else(|| c.file.clone(), |n| n.to_string_lossy().into_owned()),
            c.run_id,
            c.as_of
        ),
    });
    ui.end_row();
}

/// One user's story; returns a bill the user clicked to open.
fn account_story(
    ui: &mut egui::Ui,
    u: &AccountStory,
    open_flows: bool,
    callbacks_known: bool,
    custodian: &Custodian<'_>,
    l: Lang,
) -> Option<String> {
    let mut open = None;
    ui.separator();
    ui.label(
        RichText::new(format!(
            "{} · {} · {} {}",
            u.name,
            u.mobile,
            l.t("用户", "user"),
            u.user_id
        ))
        .size(16.0)
        .strong(),
    );
    findings_list(ui, &u.findings, l);
    // The plain answer first: how each recharge ended.
    let mut counts: Vec<(Verdict, usize)> = Vec::new();
    for r in &u.recharges {
        match counts.iter_mut().find(|(v, _)| *v == r.verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.verdict, 1)),
        }
    }
    counts.sort_by_key(|(v, _)| *v == Verdict::ChargedOnce);
    for (v, n) in &counts {
        ui.horizontal(|ui| {
            widgets::badge(ui, &format!("{n}×"), verdict_color(*v));
            ui.label(
                RichText::new(v.text(l))
                    .color(widgets::ink(ui, verdict_color(*v)))
                    .strong(),
            );
        });
    }
    egui::Grid::new(("acct", u.user_id))
        .num_columns(2)
        .show(ui, |ui| {
            ui.label(l.t("账面余额", "stored balance"));
            ui.label(RichText::new(amount(u.stored)).monospace());
            ui.end_row();
            ui.label(l.t("流水应有余额", "balance from flows"));
            ui.label(RichText::new(format_amount(u.expected)).monospace());
            ui.end_row();
            ui.label(l.t("差额", "difference"));
            let diff = u.difference.unwrap_or_default();
            let t = RichText::new(amount(u.difference)).monospace();
            ui.label(if diff.is_zero() {
                t
            } else {
                t.color(widgets::ink(ui, RED)).strong()
            });
            ui.end_row();
            custodian_rows(ui, u, custodian, l);
        });
    ui.add_space(4.0);
    ui.strong(format!(
        "{} ({})",
        l.t("充值", "Recharges"),
        u.recharge_count
    ));
    if u.recharge_count > u.recharges.len() {
        ui.weak(format!(
            "{} {}",
            l.t("显示最近", "showing the latest"),
            u.recharges.len()
        ));
    }
    egui::Grid::new(("recharges", u.user_id))
        .striped(true)
        .num_columns(6)
        .show(ui, |ui| {
            ui.weak(l.t("商户订单号", "agentBillNo"));
            ui.weak(l.t("时间", "time"));
            ui.weak(l.t("金额", "amount"));
            ui.weak(l.t("回调次数", "attempts"));
            ui.weak(l.t("入账次数", "credits"));
            ui.weak(l.t("结论", "verdict"));
            ui.end_row();
            for r in &u.recharges {
                if ui
                    .link(RichText::new(&r.agent_bill_no).monospace())
                    .clicked()
                {
                    open = Some(r.agent_bill_no.clone());
                }
                ui.label(
                    RichText::new(time(
                        r.order_created
                            .or_else(|| r.flows.first().and_then(|f| f.at)),
                    ))
                    .monospace(),
                );
                ui.label(
                    RichText::new(amount(
                        r.order_amount
                            .or_else(|| r.flows.first().and_then(|f| f.amount)),
                    ))
                    .monospace(),
                );
                // Without notify_log the number of callbacks is unknown, not 0.
                ui.label(if callbacks_known {
                    r.attempts.len().to_string()
                } else {
                    "—".to_owned()
                });
                ui.label(r.credits.to_string());
                ui.label(
                    RichText::new(r.verdict.text(l))
                        .color(widgets::ink(ui, verdict_color(r.verdict))),
                );
                ui.end_row();
            }
        });
    ui.add_space(4.0);
    egui::CollapsingHeader::new(format!(
        "{} ({})",
        l.t("流水（新的在前）", "Flows (newest first)"),
        u.flows.len()
    ))
    .id_salt(("uflows", u.user_id))
    .default_open(open_flows)
    .show(ui, |ui| flows_grid(ui, &u.flows, &u.user_id.to_string(), l));
    open
}

/// A keyboard shortcut on the case screen; true when it was used: Ctrl+F
/// puts the cursor in the search box, Alt+← goes back to the previous case,
/// F5 searches the shown case again.
pub(crate) fn shortcut(app: &mut App, s: super::keys::Shortcut) -> bool {
    use super::keys::Shortcut;
    match s {
        Shortcut::FocusSearch => {
            app.case.focus_search = true;
            true
        }
        Shortcut::Back if !app.case.back.is_empty() => {
            back(app);
            true
        }
        Shortcut::Refresh => match app.case.current.clone() {
            Some(cur) => {
                open(app, cur, false);
                true
            }
            None => false,
        },
        _ => false,
    }
}
