//! Overview: totals, the callbacks per minute of the latest business day
//! (or of a day the operator picks) with repeated deliveries marked, open
//! findings by kind and severity, amount at risk and the last reconciliation
//! run. Every number is a link to the list behind it: a table filtered to
//! what the number counts, or the findings queue filtered the same way.

use super::{App, Lang, Screen, widgets};
use crate::browse::Cursor;
use crate::money::format_amount;
use crate::recon::{Kind, Severity};
use crate::stats::{DayCount, Overview};
use crate::views::View;
use crate::workspace::{QueueOrder, QueueSort};
use chrono::NaiveDate;
use egui_plot::{Bar, BarChart, Legend, Plot};

/// The overview's state.
#[derive(Default)]
pub(crate) struct State {
    /// The last loaded overview (kept on screen while a reload runs).
    pub data: Option<Overview>,
    /// A load is running.
    pub loading: bool,
    /// The day the operator chose for the callbacks chart (`None`: the
    /// latest business day, see [`crate::stats::business_day`]).
    pub day: Option<NaiveDate>,
    /// Only the callbacks chart is reloading (a day was chosen).
    pub loading_day: bool,
    /// Counts the loads, so that an older answer never replaces a newer one.
    ticket: u64,
}

/// What a click on a number of the overview opens: the list behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Drill {
    /// A table, unfiltered but for what the number counts.
    Table {
        view: View,
        trans_type: Option<i64>,
        day: Option<NaiveDate>,
        mismatched: bool,
    },
    /// The findings queue (to do) of one kind and/or severity.
    Findings {
        kind: Option<Kind>,
        severity: Option<Severity>,
        by_amount: bool,
    },
}

/// Loads (or reloads) the overview.
pub(crate) fn load(app: &mut App) {
    let (Some(c), Some(ws)) = (app.conn.clone(), app.ws.clone()) else {
        return;
    };
    app.overview.loading = true;
    app.overview.ticket += 1;
    let ticket = app.overview.ticket;
    let day = app.overview.day;
    app.jobs.spawn(async move {
        let r = crate::stats::overview_on(&c.db, &ws, day).await;
        Box::new(move |app: &mut App| {
            if app.overview.ticket != ticket {
                return; // a newer load replaced this one
            }
            app.overview.loading = false;
            app.overview.loading_day = false;
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

/// Shows the callbacks of `day` (`None`: the latest business day again):
/// only the chart is reloaded, the totals stay.
pub(crate) fn choose_day(app: &mut App, day: Option<NaiveDate>) {
    app.overview.day = day;
    let Some(c) = app.conn.clone() else { return };
    if app.overview.data.is_none() {
        load(app);
        return;
    }
    app.overview.loading_day = true;
    app.overview.ticket += 1;
    let ticket = app.overview.ticket;
    app.jobs.spawn(async move {
        let r = crate::stats::callback_day(&c.db, day).await;
        Box::new(move |app: &mut App| {
            if app.overview.ticket != ticket {
                return;
            }
            app.overview.loading_day = false;
            match r {
                Ok(cb) => {
                    if let Some(o) = &mut app.overview.data {
                        o.callbacks = cb;
                    }
                }
                Err(e) => {
                    let l = app.lang;
                    app.error(format!(
                        "{}{e}",
                        l.t("回调记录加载失败：", "The callbacks could not be loaded: ")
                    ));
                }
            }
        }) as super::jobs::Apply
    });
}

/// A number that opens the list behind it: link style, with a hover text
/// saying what opens.
fn number(ui: &mut egui::Ui, text: egui::RichText, opens: &str) -> bool {
    ui.link(text).on_hover_text(opens).clicked()
}

/// The overview screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    ui.horizontal(|ui| {
        ui.heading(l.t("总览", "Overview"));
        if ui
            .button(l.t("刷新", "Refresh"))
            .on_hover_text(l.t("重新加载总览（F5）", "reload the overview (F5)"))
            .clicked()
        {
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
    let mut drill: Option<Drill> = None;
    let mut day_choice: Option<Option<NaiveDate>> = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            for t in &o.totals {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.vertical(|ui| {
                        ui.weak(l.t(t.zh, t.en));
                        match &t.value {
                            Some(v) => {
                                let opens = format!(
                                    "{}{}",
                                    l.t("打开：", "opens "),
                                    total_opens(t.view, t.trans_type, l)
                                );
                                // Strong text takes the strong colour:
                                // give it the link's own.
                                let link = ui.visuals().hyperlink_color;
                                let text = egui::RichText::new(v).size(20.0).strong().color(link);
                                if number(ui, text, &opens) {
                                    drill = Some(Drill::Table {
                                        view: t.view,
                                        trans_type: t.trans_type,
                                        day: None,
                                        mismatched: false,
                                    });
                                }
                            }
                            None => {
                                ui.label(egui::RichText::new("—").size(20.0).strong())
                                    .on_hover_text(
                                        l.t("此库没有这张表", "this database has no such table"),
                                    );
                            }
                        }
                    });
                });
            }
            at_risk_card(ui, &o, l, &mut drill);
        });
        ui.add_space(8.0);
        last_run(app, ui, &o, &mut drill);
        ui.add_space(8.0);
        let loading_day = app.overview.loading_day;
        ui.columns(2, |cols| {
            callbacks_chart(
                &mut cols[0],
                &o,
                l,
                loading_day,
                &mut drill,
                &mut day_choice,
            );
            findings_chart(&mut cols[1], &o, l, &mut drill);
        });
        ui.add_space(8.0);
        findings_table(ui, &o, l, &mut drill);
    });
    if let Some(d) = day_choice {
        choose_day(app, d);
    }
    if let Some(d) = drill {
        open(app, d);
    }
}

/// What a total opens, in words (its hover text).
fn total_opens(view: View, trans_type: Option<i64>, l: Lang) -> &'static str {
    match (view, trans_type) {
        (View::Flows, Some(_)) => l.t(
            "交易流水表，只看充值流水（类型 1）",
            "the Trans flows table, recharge flows only (type 1)",
        ),
        (View::Flows, None) => l.t("交易流水表", "the Trans flows table"),
        (View::Orders, _) => l.t("充值订单表", "the Recharge orders table"),
        (View::Notify, _) => l.t("回调记录表", "the Callback attempts table"),
        (View::Idempotency, _) => l.t("幂等记录表", "the Idempotency records table"),
        (View::Accounts, _) => l.t(
            "账户余额表（每个用户一个账户）",
            "the Accounts table (one account per user)",
        ),
    }
}

/// Opens the list behind a number.
fn open(app: &mut App, d: Drill) {
    match d {
        Drill::Table {
            view,
            trans_type,
            day,
            mismatched,
        } => open_table(app, view, trans_type, day, mismatched),
        Drill::Findings {
            kind,
            severity,
            by_amount,
        } => {
            let f = &mut app.findings;
            f.kind = kind;
            f.severity = severity;
            f.status = super::findings_view::StatusChoice::ToDo;
            f.min_age.clear();
            f.bill.clear();
            f.user.clear();
            f.group = None;
            f.order = QueueOrder {
                by: if by_amount {
                    QueueSort::Amount
                } else {
                    QueueSort::default()
                },
                reverse: false,
            };
            app.go(Screen::Findings);
        }
    }
}

/// Opens a table screen with only the filter the number counts: every other
/// field of the table's filter is cleared, so the rows are what was counted.
fn open_table(
    app: &mut App,
    view: View,
    trans_type: Option<i64>,
    day: Option<NaiveDate>,
    mismatched: bool,
) {
    let l = app.lang;
    let st = app.tables.map.entry(view).or_default();
    st.inputs = super::table::FilterInputs::default();
    if let Some(t) = trans_type {
        st.inputs.trans_type = t.to_string();
    }
    if let Some(d) = day {
        // One day, as the date range fields show it ("from D to D").
        st.inputs.from = d.to_string();
        st.inputs.to = d.to_string();
    }
    st.inputs.mismatched = mismatched;
    match st.inputs.parse(l) {
        Ok(mut f) => {
            if let Some(d) = day {
                // The query's range is [D 00:00, D+1 00:00) whatever the
                // date fields' convention: exactly the day the chart counts.
                let from = d.and_time(chrono::NaiveTime::MIN);
                f.from = Some(from);
                f.to = Some(from + chrono::Duration::days(1));
            }
            st.filter = f;
        }
        Err(e) => {
            app.error(e);
            return;
        }
    }
    let screen = Screen::ALL
        .into_iter()
        .find(|s| s.view() == Some(view))
        .unwrap_or(Screen::Flows);
    app.enter(screen);
    super::table::fetch(app, view, Cursor::First, true);
}

/// The amount at risk: each bill and each account counted once (its
/// largest open difference); file-level totals apart, never added in.
fn at_risk_card(ui: &mut egui::Ui, o: &Overview, l: Lang, drill: &mut Option<Drill>) {
    let r = &o.at_risk;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.vertical(|ui| {
            ui.weak(l.t("风险金额（未结差错）", "amount at risk (open findings)"))
                .on_hover_text(l.t(
                    "每笔订单、每个账户只计一次（取其未结差错中最大的差额）；对账单整体的合计差异单列，不计入",
                    "each bill and each account counted once (the largest difference among its open findings); statement-level totals are shown apart, not added in",
                ));
            let ink = widgets::severity_ink(ui, Severity::Critical);
            if number(
                ui,
                egui::RichText::new(format_amount(o.amount_at_risk))
                    .size(20.0)
                    .strong()
                    .color(ink),
                l.t(
                    "打开差错队列（待办），按金额从大到小",
                    "opens the findings queue (to do), largest amount first",
                ),
            ) {
                *drill = Some(Drill::Findings {
                    kind: None,
                    severity: None,
                    by_amount: true,
                });
            }
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = 4.0;
                if number(
                    ui,
                    egui::RichText::new(format!(
                        "{} {} {}",
                        r.bill_count,
                        l.t("笔订单", "bills"),
                        format_amount(r.bills)
                    )),
                    l.t(
                        "打开差错队列（待办），按金额从大到小",
                        "opens the findings queue (to do), largest amount first",
                    ),
                ) {
                    *drill = Some(Drill::Findings {
                        kind: None,
                        severity: None,
                        by_amount: true,
                    });
                }
                ui.weak("·");
                if number(
                    ui,
                    egui::RichText::new(format!(
                        "{} {} {}",
                        r.account_count,
                        l.t("个账户", "accounts"),
                        format_amount(r.accounts)
                    )),
                    l.t(
                        "打开账户余额表，只看余额与流水不符的账户",
                        "opens the Accounts table, mismatched balances only",
                    ),
                ) {
                    *drill = Some(Drill::Table {
                        view: View::Accounts,
                        trans_type: None,
                        day: None,
                        mismatched: true,
                    });
                }
            });
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

fn last_run(app: &mut App, ui: &mut egui::Ui, o: &Overview, drill: &mut Option<Drill>) {
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
                    "#{} · {} · {} · {} ·",
                    r.id,
                    r.started_at.format("%Y-%m-%d %H:%M:%S"),
                    period,
                    super::reconcile_view::status_name(r.status, l),
                ));
                if number(
                    ui,
                    egui::RichText::new(format!("{} {}", r.findings, l.t("条差错", "findings"))),
                    l.t("打开差错队列（待办）", "opens the findings queue (to do)"),
                ) {
                    *drill = Some(Drill::Findings {
                        kind: None,
                        severity: None,
                        by_amount: false,
                    });
                }
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

/// The callbacks chart of one day, with the day's choice above it.
fn callbacks_chart(
    ui: &mut egui::Ui,
    o: &Overview,
    l: Lang,
    loading: bool,
    drill: &mut Option<Drill>,
    day_choice: &mut Option<Option<NaiveDate>>,
) {
    let cb = &o.callbacks;
    let Some(day) = cb.day else {
        ui.label(egui::RichText::new(l.t("没有回调记录", "No callback attempts")).strong());
        return;
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(l.t("每分钟回调", "Callbacks per minute")).strong());
        let latest = cb.latest_day.unwrap_or(day);
        if ui
            .button("◀")
            .on_hover_text(l.t("前一天", "the day before"))
            .clicked()
        {
            *day_choice = Some(Some(day - chrono::Duration::days(1)));
        }
        day_picker(ui, day, l, day_choice);
        if ui
            .add_enabled(day < latest, egui::Button::new("▶"))
            .on_hover_text(l.t("后一天", "the day after"))
            .clicked()
        {
            *day_choice = Some(Some(day + chrono::Duration::days(1)));
        }
        if cb.chosen
            && ui
                .button(l.t("最近营业日", "Latest business day"))
                .on_hover_text(l.t(
                    "回到有回调的最近营业日",
                    "back to the latest business day with callbacks",
                ))
                .clicked()
        {
            *day_choice = Some(None);
        }
        if loading {
            ui.spinner();
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        let why = if cb.chosen {
            l.t("（所选日期）", " (the day chosen)")
        } else {
            l.t(
                "（有回调的最近营业日）",
                " (latest business day with callbacks)",
            )
        };
        ui.label(format!("{}{day}{why}", l.t("显示 ", "showing ")))
            .on_hover_text(rule_text(l));
        ui.label("·");
        if number(
            ui,
            egui::RichText::new(format!(
                "{} {}",
                cb.attempts,
                l.t("次回调", attempts_word(cb.attempts))
            )),
            &format!(
                "{}{day}",
                l.t(
                    "打开回调记录表，只看这一天：",
                    "opens the Callback attempts table for "
                )
            ),
        ) {
            *drill = Some(Drill::Table {
                view: View::Notify,
                trans_type: None,
                day: Some(day),
                mismatched: false,
            });
        }
        ui.label(format!("· {} {}", cb.bills, l.t("笔订单", "bills")));
    });
    // The newer days the rule passed over, said as such (never hidden).
    let skipped: Vec<&DayCount> = cb
        .recent
        .iter()
        .filter(|d| d.day > day && d.attempts > 0)
        .collect();
    if !cb.chosen && !skipped.is_empty() {
        let list: Vec<String> = skipped
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}",
                    d.day,
                    d.attempts,
                    l.t("次", attempts_word(d.attempts))
                )
            })
            .collect();
        ui.weak(format!(
            "{}{}{}",
            l.t(
                "之后只有零星的跨日回调：",
                "after it only spill-over callbacks: "
            ),
            list.join(", "),
            l.t("（用 ▶ 查看）", " (▶ to see them)"),
        ))
        .on_hover_text(rule_text(l));
    }
    // Counts, not money: plotting them as floats is exact below 2^53.
    let first: Vec<Bar> = cb
        .minutes
        .iter()
        .map(|m| Bar::new(f64::from(m.minute) / 60.0, m.first as f64).width(1.0 / 60.0))
        .collect();
    let repeated: Vec<Bar> = cb
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

/// "attempt" or "attempts" after a count.
fn attempts_word(n: u64) -> &'static str {
    if n == 1 { "attempt" } else { "attempts" }
}

/// The rule that picks the latest business day, in words.
fn rule_text(l: Lang) -> String {
    match l {
        Lang::Zh => format!(
            "最近营业日：最近 {} 天里，回调次数达到最忙一天的 {}% 的最后一天。网关在午夜后还会重试前一天的订单，这些零星的跨日回调不算一个营业日。",
            crate::stats::LOOKBACK_DAYS,
            crate::stats::SPILL_OVER_PERCENT
        ),
        Lang::En => format!(
            "Latest business day: the last of the latest {} days whose callbacks reach {}% of the busiest of those days. The gateway keeps retrying the previous day's bills after midnight; those few spill-over callbacks do not make a business day.",
            crate::stats::LOOKBACK_DAYS,
            crate::stats::SPILL_OVER_PERCENT
        ),
    }
}

/// A calendar beside the day (the tables' own, in the console's language).
fn day_picker(
    ui: &mut egui::Ui,
    day: NaiveDate,
    l: Lang,
    day_choice: &mut Option<Option<NaiveDate>>,
) {
    let mut text = day.format("%Y-%m-%d").to_string();
    if super::table::date_picker(ui, "overview-callback-day", &mut text, l)
        && let Ok(d) = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        && d != day
    {
        *day_choice = Some(Some(d));
    }
}

fn findings_chart(ui: &mut egui::Ui, o: &Overview, l: Lang, drill: &mut Option<Drill>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(l.t("未结差错（按类型）", "Open findings by kind")).strong());
        for (s, n) in o.by_severity.iter().rev() {
            let ink = widgets::severity_ink(ui, *s);
            if number(
                ui,
                egui::RichText::new(format!("{} {n}", widgets::severity_name(*s, l))).color(ink),
                &format!(
                    "{}{}",
                    l.t(
                        "打开差错队列（待办），严重度：",
                        "opens the findings queue (to do), severity "
                    ),
                    widgets::severity_name(*s, l)
                ),
            ) {
                *drill = Some(Drill::Findings {
                    kind: None,
                    severity: Some(*s),
                    by_amount: false,
                });
            }
        }
    });
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

fn findings_table(ui: &mut egui::Ui, o: &Overview, l: Lang, drill: &mut Option<Drill>) {
    if o.by_kind.is_empty() {
        ui.label(l.t("没有未结差错。", "No open findings."));
        return;
    }
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
                let name = widgets::kind_name(k.kind, l);
                let opens = format!(
                    "{}{name}",
                    l.t(
                        "打开差错队列（待办），类型：",
                        "opens the findings queue (to do) of kind "
                    )
                );
                let kind = Drill::Findings {
                    kind: Some(k.kind),
                    severity: None,
                    by_amount: false,
                };
                if number(ui, egui::RichText::new(name), &opens) {
                    *drill = Some(kind.clone());
                }
                let sev = k.kind.severity();
                if widgets::badge(
                    ui,
                    widgets::severity_name(sev, l),
                    widgets::severity_color(sev),
                )
                .interact(egui::Sense::click())
                .on_hover_text(format!(
                    "{}{}",
                    l.t(
                        "打开差错队列（待办），严重度：",
                        "opens the findings queue (to do), severity "
                    ),
                    widgets::severity_name(sev, l)
                ))
                .clicked()
                {
                    *drill = Some(Drill::Findings {
                        kind: None,
                        severity: Some(sev),
                        by_amount: false,
                    });
                }
                if number(ui, egui::RichText::new(k.count.to_string()), &opens) {
                    *drill = Some(kind.clone());
                }
                if number(
                    ui,
                    egui::RichText::new(format_amount(k.amount)).monospace(),
                    &format!(
                        "{}{name}{}",
                        l.t(
                            "打开差错队列（待办），类型：",
                            "opens the findings queue (to do) of kind "
                        ),
                        l.t("，按金额从大到小", ", largest amount first")
                    ),
                ) {
                    *drill = Some(Drill::Findings {
                        kind: Some(k.kind),
                        severity: None,
                        by_amount: true,
                    });
                }
                ui.end_row();
            }
        });
}

/// A keyboard shortcut on the overview; true when it was used. F5 reloads
/// it (the day chosen for the callbacks chart stays chosen).
pub(crate) fn shortcut(app: &mut App, s: super::keys::Shortcut) -> bool {
    match s {
        super::keys::Shortcut::Refresh => {
            load(app);
            true
        }
        _ => false,
    }
}
