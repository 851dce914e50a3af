//! Overview: totals, the latest day's callbacks per minute with repeated
//! deliveries marked, open findings by kind and severity, amount at risk and
//! the last reconciliation run.

use super::{App, Screen, widgets};
use crate::money::format_amount;
use crate::stats::Overview;
use egui_plot::{Bar, BarChart, Legend, Plot};

/// The overview's state.
#[derive(Default)]
pub(crate) struct State {
    /// The last loaded overview (kept on screen while a reload runs).
    pub data: Option<Overview>,
    /// A load is running.
    pub loading: bool,
}

/// Loads (or reloads) the overview.
pub(crate) fn load(app: &mut App) {
    let (Some(c), Some(ws)) = (app.conn.clone(), app.ws.clone()) else {
        return;
    };
    app.overview.loading = true;
    app.jobs.spawn(async move {
        let r = crate::stats::overview(&c.db, &ws).await;
        Box::new(move |app: &mut App| {
            app.overview.loading = false;
            match r {
                Ok(o) => app.overview.data = Some(o),
                Err(e) => {
                    let l = app.lang;
                    app.error(format!(
                        "{}{e}",
                        l.t("总览加载失败：", "The overview could not be loaded: ")
                    ));
                }
            }
        }) as super::jobs::Apply
    });
}

/// The overview screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    ui.horizontal(|ui| {
        ui.heading(l.t("总览", "Overview"));
        if ui.button(l.t("刷新", "Refresh")).clicked() {
            load(app);
        }
        if app.overview.loading {
            ui.spinner();
        }
    });
    let Some(o) = app.overview.data.clone() else {
        ui.label(l.t("正在加载…", "loading…"));
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            for t in &o.totals {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.vertical(|ui| {
                        ui.weak(l.t(t.zh, t.en));
                        ui.label(
                            egui::RichText::new(t.value.as_deref().unwrap_or("—"))
                                .size(20.0)
                                .strong(),
                        );
                    });
                });
            }
            at_risk_card(ui, &o, l);
        });
        ui.add_space(8.0);
        last_run(app, ui, &o);
        ui.add_space(8.0);
        ui.columns(2, |cols| {
            callbacks_chart(&mut cols[0], &o, l);
            findings_chart(&mut cols[1], &o, l);
        });
        ui.add_space(8.0);
        findings_table(app, ui, &o);
    });
}

/// The amount at risk: each bill and each account counted once (its
/// largest open difference); file-level totals apart, never added in.
fn at_risk_card(ui: &mut egui::Ui, o: &Overview, l: super::Lang) {
    let r = &o.at_risk;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.vertical(|ui| {
            ui.weak(l.t("风险金额（未结差错）", "amount at risk (open findings)"))
                .on_hover_text(l.t(
                    "每笔订单、每个账户只计一次（取其未结差错中最大的差额）；对账单整体的合计差异单列，不计入",
                    "each bill and each account counted once (the largest difference among its open findings); statement-level totals are shown apart, not added in",
                ));
            ui.label(
                egui::RichText::new(format_amount(o.amount_at_risk))
                    .size(20.0)
                    .strong()
                    .color(widgets::severity_color(crate::recon::Severity::Critical)),
            );
            ui.weak(format!(
                "{} {} {} · {} {} {}",
                r.bill_count,
                l.t("笔订单", "bills"),
                format_amount(r.bills),
                r.account_count,
                l.t("个账户", "accounts"),
                format_amount(r.accounts),
            ));
            if !r.file_level.is_zero() {
                ui.weak(format!(
                    "{}{}",
                    l.t("另：对账单整体差异 ", "plus statement-level totals: "),
                    format_amount(r.file_level)
                ));
            }
        });
    });
}

fn last_run(app: &mut App, ui: &mut egui::Ui, o: &Overview) {
    let l = app.lang;
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(l.t("最近一次对账：", "Last reconciliation: ")).strong());
        match &o.last_run {
            Some(r) => {
                let period = r
                    .period
                    .map(|p| {
                        if p.from == p.to {
                            p.from.to_string()
                        } else {
                            format!("{} – {}", p.from, p.to)
                        }
                    })
                    .unwrap_or_else(|| l.t("全库检查", "whole database").to_owned());
                ui.label(format!(
                    "#{} · {} · {} · {} · {} {}",
                    r.id,
                    r.started_at.format("%Y-%m-%d %H:%M:%S"),
                    period,
                    super::reconcile_view::status_name(r.status, l),
                    r.findings,
                    l.t("条差错", "findings"),
                ));
            }
            None => {
                ui.label(l.t(
                    "还没有对账过这个数据库",
                    "this database has not been reconciled yet",
                ));
                if ui.button(l.t("去对账", "Reconcile")).clicked() {
                    app.go(Screen::Reconcile);
                }
            }
        }
    });
}

fn callbacks_chart(ui: &mut egui::Ui, o: &Overview, l: super::Lang) {
    let title = match o.callback_day {
        Some(d) => format!(
            "{} {d} · {} {} · {} {}",
            l.t("每分钟回调", "Callbacks per minute,"),
            o.attempts,
            l.t("次回调", "attempts"),
            o.bills,
            l.t("笔订单", "bills"),
        ),
        None => l.t("没有回调记录", "No callback attempts").to_owned(),
    };
    ui.label(egui::RichText::new(title).strong());
    // Counts, not money: plotting them as floats is exact below 2^53.
    let first: Vec<Bar> = o
        .minutes
        .iter()
        .map(|m| Bar::new(f64::from(m.minute) / 60.0, m.first as f64).width(1.0 / 60.0))
        .collect();
    let repeated: Vec<Bar> = o
        .minutes
        .iter()
        .map(|m| Bar::new(f64::from(m.minute) / 60.0, m.repeated as f64).width(1.0 / 60.0))
        .collect();
    let first = BarChart::new(l.t("首次送达", "first delivery"), first)
        .color(egui::Color32::from_rgb(0x3b, 0x6e, 0xa8));
    let repeated = BarChart::new(
        l.t(
            "重复送达（重试/并发）",
            "repeated delivery (retry/concurrent)",
        ),
        repeated,
    )
    .color(egui::Color32::from_rgb(0xd3, 0x6b, 0x00))
    .stack_on(&[&first]);
    Plot::new("callbacks")
        .height(220.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .include_x(0.0)
        .include_x(24.0)
        .include_y(0.0)
        .x_axis_label(l.t("时", "hour"))
        .show(ui, |p| {
            p.bar_chart(first);
            p.bar_chart(repeated);
        });
}

fn findings_chart(ui: &mut egui::Ui, o: &Overview, l: super::Lang) {
    let mut sev = String::new();
    for (s, n) in o.by_severity.iter().rev() {
        sev.push_str(&format!("{} {n}  ", widgets::severity_name(*s, l)));
    }
    ui.label(
        egui::RichText::new(format!(
            "{}  {sev}",
            l.t("未结差错（按类型）", "Open findings by kind")
        ))
        .strong(),
    );
    let kinds: Vec<crate::recon::Kind> = o.by_kind.iter().map(|k| k.kind).collect();
    let bars: Vec<Bar> = o
        .by_kind
        .iter()
        .enumerate()
        .map(|(i, k)| {
            Bar::new(i as f64, k.count as f64)
                .width(0.7)
                .fill(widgets::severity_color(k.kind.severity()))
                .name(widgets::kind_name(k.kind, l))
        })
        .collect();
    let chart = BarChart::new(l.t("差错", "findings"), bars).horizontal();
    // Each bar is labelled at its end: kind and count (axis labels would be
    // dropped by the plot when the rows are close together).
    let labels: Vec<egui_plot::Text> = o
        .by_kind
        .iter()
        .enumerate()
        .map(|(i, k)| {
            egui_plot::Text::new(
                k.kind.as_str(),
                egui_plot::PlotPoint::new(k.count as f64, i as f64),
                format!("  {} {}", widgets::kind_name(k.kind, l), k.count),
            )
            .anchor(egui::Align2::LEFT_CENTER)
            .color(ui.visuals().text_color())
        })
        .collect();
    let max = o.by_kind.iter().map(|k| k.count).max().unwrap_or(1) as f64;
    let n = kinds.len();
    Plot::new("findings-by-kind")
        .height(220.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .show_axes([true, false])
        .show_grid([true, false])
        .include_x(0.0)
        .include_x(max * 1.6)
        .include_y(-0.6)
        .include_y(n as f64 - 0.4)
        .show(ui, |p| {
            p.bar_chart(chart);
            for t in labels {
                p.text(t);
            }
        });
}

fn findings_table(app: &mut App, ui: &mut egui::Ui, o: &Overview) {
    let l = app.lang;
    if o.by_kind.is_empty() {
        ui.label(l.t("没有未结差错。", "No open findings."));
        return;
    }
    let mut open_kind = None;
    egui::Grid::new("by-kind")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            ui.strong(l.t("类型", "kind"));
            ui.strong(l.t("严重度", "severity"));
            ui.strong(l.t("条数", "count"));
            ui.strong(l.t("金额", "amount"));
            ui.end_row();
            for k in &o.by_kind {
                if ui.link(widgets::kind_name(k.kind, l)).clicked() {
                    open_kind = Some(k.kind);
                }
                widgets::badge(
                    ui,
                    widgets::severity_name(k.kind.severity(), l),
                    widgets::severity_color(k.kind.severity()),
                );
                ui.label(k.count.to_string());
                ui.label(egui::RichText::new(format_amount(k.amount)).monospace());
                ui.end_row();
            }
        });
    if let Some(k) = open_kind {
        app.findings.kind = Some(k);
        app.go(Screen::Findings);
    }
}
