//! Case (support): one search box for a phone number, user id, name or
//! `agentBillNo`; the verdict first, in plain words, then the story — order,
//! every callback attempt, idempotency record, flows and balance effect.

use super::{App, Lang, widgets};
use crate::case::{self, AccountStory, BillStory, Case, Query, Verdict};
use crate::money::format_amount;
use egui::{Color32, RichText};
use std::time::{Duration, Instant};

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
    ticket: u64,
}

/// Searches for what the box holds.
pub(crate) fn search(app: &mut App) {
    let l = app.lang;
    let text = app.case.query.trim().to_owned();
    if text.is_empty() {
        app.error(l.t(
            "请输入手机号、用户编号、姓名或商户订单号（agentBillNo）。",
            "Type a phone number, user id, name or agentBillNo.",
        ));
        return;
    }
    let Some(c) = app.conn.clone() else { return };
    app.case.ticket += 1;
    let ticket = app.case.ticket;
    app.case.loading = true;
    app.jobs.spawn(async move {
        let started = Instant::now();
        let r = case::lookup(&c.db, &Query::guess(&text)).await;
        let took = started.elapsed();
        Box::new(move |app: &mut App| {
            if app.case.ticket != ticket {
                return;
            }
            app.case.loading = false;
            match r {
                Ok(c) => {
                    app.case.result = Some(c);
                    app.case.took = Some(took);
                }
                Err(e) => {
                    let l = app.lang;
                    app.error(format!("{}{e}", l.t("查询失败：", "The search failed: ")));
                }
            }
        }) as super::jobs::Apply
    });
}

/// The verdict's colour.
pub(crate) fn verdict_color(v: Verdict) -> Color32 {
    match v {
        Verdict::ChargedOnce => Color32::from_rgb(0x1b, 0x7f, 0x3b),
        Verdict::AwaitingGateway => Color32::from_rgb(0xd3, 0x6b, 0x00),
        Verdict::PaymentFailed | Verdict::NotFound => Color32::from_rgb(0x60, 0x60, 0x60),
        Verdict::CreditedTwice
        | Verdict::PaidNotCredited
        | Verdict::MarkedPaidNotCredited
        | Verdict::CreditedWithoutOrder => Color32::from_rgb(0xb4, 0x23, 0x18),
    }
}

fn verdict_text(v: Verdict, l: Lang) -> &'static str {
    match l {
        Lang::Zh => v.zh(),
        Lang::En => v.en(),
    }
}

/// The case screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    ui.heading(l.t("客诉查询", "Case"));
    let mut go = false;
    ui.horizontal(|ui| {
        let lab = ui.label(l.t("手机号/用户/姓名/订单号", "Phone, user, name or bill"));
        let r = ui
            .add(
                egui::TextEdit::singleline(&mut app.case.query)
                    .hint_text(l.t(
                        "手机号 / 用户编号 / 姓名 / 商户订单号 agentBillNo",
                        "phone / user id / name / agentBillNo",
                    ))
                    .desired_width(360.0),
            )
            .labelled_by(lab.id);
        if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            go = true;
        }
        if ui.button(l.t("查询", "Search")).clicked() {
            go = true;
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
    ui.add_space(6.0);
    let Some(c) = &app.case.result else {
        ui.label(l.t(
            "客户说“扣了两次钱”或“付了钱没到账”？输入他的手机号或订单号。",
            "A customer says \"charged twice\" or \"paid, nothing arrived\"? Type their phone number or bill number.",
        ));
        return;
    };
    let mut open_bill = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        let (zh, en) = c.query.by();
        ui.weak(format!(
            "{}{} {}",
            l.t("按", "by "),
            l.t(zh, en),
            c.query.value()
        ));
        for m in &c.missing {
            ui.colored_label(
                Color32::from_rgb(0xd3, 0x6b, 0x00),
                format!(
                    "{} {m}",
                    l.t("无法显示（缺少表）：", "not shown (table missing):")
                ),
            );
        }
        if let Some(b) = &c.bill {
            verdict_banner(ui, b.verdict, l);
            bill_story(ui, b, l);
        }
        if c.bill.is_none() && c.users.is_empty() {
            verdict_banner(ui, Verdict::NotFound, l);
        }
        for u in &c.users {
            if let Some(b) = account_story(ui, u, l) {
                open_bill = Some(b);
            }
        }
    });
    if let Some(b) = open_bill {
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
            ui.label(
                RichText::new(verdict_text(v, l))
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

fn time(t: Option<chrono::NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| "—".into())
}

fn bill_story(ui: &mut egui::Ui, b: &BillStory, l: Lang) {
    ui.label(
        RichText::new(format!("agentBillNo {}", b.agent_bill_no))
            .monospace()
            .strong(),
    );
    egui::Grid::new(("order", &b.agent_bill_no))
        .num_columns(2)
        .show(ui, |ui| {
            ui.label(l.t("订单状态", "order status"));
            ui.label(
                b.order_status
                    .as_deref()
                    .unwrap_or(l.t("没有订单", "no order")),
            );
            ui.end_row();
            ui.label(l.t("订单金额", "order amount"));
            ui.label(RichText::new(amount(b.order_amount)).monospace());
            ui.end_row();
            ui.label(l.t("下单时间", "ordered at"));
            ui.label(time(b.order_created));
            ui.end_row();
            ui.label(l.t("用户", "user"));
            ui.label(
                b.user_id
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "—".into()),
            );
            ui.end_row();
        });
    ui.add_space(4.0);
    ui.strong(format!(
        "{} ({})",
        l.t("回调记录", "Callback attempts"),
        b.attempts.len()
    ));
    egui::Grid::new(("attempts", &b.agent_bill_no))
        .striped(true)
        .num_columns(6)
        .show(ui, |ui| {
            ui.weak("#");
            ui.weak(l.t("收到时间", "received"));
            ui.weak(l.t("处理结果", "outcome"));
            ui.weak(l.t("应答", "response"));
            ui.weak(l.t("金额", "amount"));
            ui.weak(l.t("验签", "sign"));
            ui.end_row();
            for (i, a) in b.attempts.iter().enumerate() {
                ui.label((i + 1).to_string());
                ui.label(time(a.received_at));
                ui.label(&a.outcome);
                ui.label(RichText::new(&a.response).monospace());
                ui.label(RichText::new(amount(a.charge_amt)).monospace());
                ui.label(if a.sign_ok { "✓" } else { "×" });
                ui.end_row();
            }
        });
    ui.add_space(4.0);
    ui.strong(l.t("幂等记录", "Idempotency record"));
    match &b.idempotency {
        Some((status, locked, completed)) => {
            ui.label(format!(
                "{status} · {} {} · {} {}",
                l.t("加锁", "locked"),
                time(*locked),
                l.t("完成", "completed"),
                time(*completed)
            ));
        }
        None => {
            ui.weak(l.t(
                "没有（处理器未记录幂等键）",
                "none (the handler kept no idempotency key)",
            ));
        }
    }
    ui.add_space(4.0);
    ui.strong(format!(
        "{} ({})",
        l.t("入账流水", "Credit flows"),
        b.flows.len()
    ));
    flows_grid(ui, &b.flows, &b.agent_bill_no, l);
    for (zh, en) in &b.notes {
        ui.label(format!("• {}", l.t(zh, en)));
    }
    ui.add_space(8.0);
}

fn flows_grid(ui: &mut egui::Ui, flows: &[case::Flow], salt: &str, l: Lang) {
    egui::Grid::new(("flows", salt))
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            ui.weak(l.t("时间", "time"));
            ui.weak(l.t("类型", "type"));
            ui.weak(l.t("金额", "amount"));
            ui.weak(l.t("余额影响", "balance effect"));
            ui.weak(l.t("流水号", "trans_no"));
            ui.end_row();
            for f in flows {
                ui.label(time(f.at));
                ui.label(&f.type_name);
                ui.label(RichText::new(amount(f.amount)).monospace());
                ui.label(
                    RichText::new(f.effect.map(|e| format!("{e:+}")).unwrap_or_default())
                        .monospace(),
                );
                ui.label(RichText::new(&f.trans_no).monospace());
                ui.end_row();
            }
        });
}

/// One user's story; returns a bill the user clicked to open.
fn account_story(ui: &mut egui::Ui, u: &AccountStory, l: Lang) -> Option<String> {
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
                RichText::new(verdict_text(*v, l))
                    .color(verdict_color(*v))
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
                t.color(verdict_color(Verdict::CreditedTwice)).strong()
            });
            ui.end_row();
        });
    ui.add_space(4.0);
    ui.strong(format!(
        "{} ({})",
        l.t("充值", "Recharges"),
        u.recharges.len()
    ));
    egui::Grid::new(("recharges", u.user_id))
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            ui.weak("agentBillNo");
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
                ui.label(RichText::new(amount(r.order_amount)).monospace());
                ui.label(r.attempts.len().to_string());
                ui.label(r.flows.len().to_string());
                ui.label(RichText::new(verdict_text(r.verdict, l)).color(verdict_color(r.verdict)));
                ui.end_row();
            }
        });
    ui.add_space(4.0);
    egui::CollapsingHeader::new(format!(
        "{} ({})",
        l.t("最近流水", "Recent flows"),
        u.flows.len()
    ))
    .id_salt(("uflows", u.user_id))
    .show(ui, |ui| flows_grid(ui, &u.flows, &u.user_id.to_string(), l));
    open
}
