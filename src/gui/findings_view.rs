//! Findings: the queue filtered by kind, severity, status and age; each one
//! opens its case; acknowledge, resolve or accept with a note, recorded with
//! the operator's name in the workspace and its audit log.

use super::{App, Lang, Screen, widgets};
use crate::money::format_amount;
use crate::recon::{Kind, Severity};
use crate::workspace::{FindingEvent, FindingFilter, FindingRow, Status, current_operator};

/// The findings screen's state.
pub(crate) struct State {
    pub kind: Option<Kind>,
    pub severity: Option<Severity>,
    /// `None` = open and acknowledged (the work queue).
    pub status: Option<Status>,
    pub min_age: String,
    pub rows: Vec<FindingRow>,
    pub selected: Option<i64>,
    pub history: Vec<FindingEvent>,
    pub note: String,
    pub operator: String,
    pub loading: bool,
}

impl Default for State {
    fn default() -> Self {
        Self {
            kind: None,
            severity: None,
            status: None,
            min_age: String::new(),
            rows: Vec::new(),
            selected: None,
            history: Vec::new(),
            note: String::new(),
            operator: current_operator(),
            loading: false,
        }
    }
}

/// A status's name.
pub(crate) fn status_name(s: Status, l: Lang) -> &'static str {
    match l {
        Lang::Zh => s.name_zh(),
        Lang::En => s.as_str(),
    }
}

/// Loads the queue.
pub(crate) fn load(app: &mut App) {
    let (Some(c), Some(ws)) = (app.conn.clone(), app.ws.clone()) else {
        return;
    };
    let l = app.lang;
    let min_age = match app.findings.min_age.trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                app.error(format!(
                    "{} '{t}' {}",
                    l.t("最小天数", "minimum age"),
                    l.t("不是非负整数", "is not a whole number of days")
                ));
                return;
            }
        },
    };
    let filter = FindingFilter {
        database: Some(c.url.clone()),
        kinds: app.findings.kind.into_iter().collect(),
        severities: app.findings.severity.into_iter().collect(),
        statuses: match app.findings.status {
            Some(s) => vec![s],
            None => vec![Status::Open, Status::Acknowledged],
        },
        min_age_days: min_age,
        limit: Some(1000),
        ..FindingFilter::default()
    };
    app.findings.loading = true;
    let selected = app.findings.selected;
    app.jobs.spawn(async move {
        let rows = ws.list_findings(&filter).await;
        let history = match selected {
            Some(id) => ws.history(id).await.unwrap_or_default(),
            None => Vec::new(),
        };
        Box::new(move |app: &mut App| {
            app.findings.loading = false;
            match rows {
                Ok(r) => {
                    app.findings.rows = r;
                    app.findings.history = history;
                }
                Err(e) => {
                    let l = app.lang;
                    app.error(format!(
                        "{}{e}",
                        l.t("差错加载失败：", "The findings could not be loaded: ")
                    ));
                }
            }
        }) as super::jobs::Apply
    });
}

fn select(app: &mut App, id: i64) {
    app.findings.selected = Some(id);
    app.findings.history.clear();
    let Some(ws) = app.ws.clone() else { return };
    app.jobs.spawn(async move {
        let h = ws.history(id).await;
        Box::new(move |app: &mut App| {
            if app.findings.selected == Some(id)
                && let Ok(h) = h
            {
                app.findings.history = h;
            }
        }) as super::jobs::Apply
    });
}

/// Changes a finding's status with the note; reloads the queue after.
fn set_status(app: &mut App, id: i64, to: Status) {
    let l = app.lang;
    let note = app.findings.note.trim().to_owned();
    if Status::note_required(to) && note.is_empty() {
        app.error(l.t(
            "解决、接受或重新打开差错需要填写说明（为什么）。",
            "Resolving, accepting or reopening a finding needs a note saying why.",
        ));
        return;
    }
    let operator = app.findings.operator.trim().to_owned();
    if operator.is_empty() {
        app.error(l.t("请填写操作人。", "Type the operator's name."));
        return;
    }
    let Some(ws) = app.ws.clone() else { return };
    app.jobs.spawn(async move {
        let r = ws.set_status(id, to, &note, &operator).await;
        Box::new(move |app: &mut App| {
            let l = app.lang;
            match r {
                Ok(()) => {
                    app.findings.note.clear();
                    app.info(format!(
                        "{} #{id} → {}",
                        l.t("差错", "Finding"),
                        status_name(to, l)
                    ));
                    load(app);
                    super::overview::load(app);
                }
                Err(e) => app.error(format!(
                    "{}{e}",
                    l.t("无法更改状态：", "The status could not be changed: ")
                )),
            }
        }) as super::jobs::Apply
    });
}

/// The findings screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    let mut reload = false;
    ui.horizontal(|ui| {
        ui.heading(l.t("差错队列", "Findings"));
        ui.weak(format!(
            "{} {}",
            app.findings.rows.len(),
            l.t("条", "shown")
        ));
        if app.findings.loading {
            ui.spinner();
        }
    });
    ui.horizontal_wrapped(|ui| {
        let f = &mut app.findings;
        widgets::combo(
            ui,
            "f-kind",
            l.t("类型", "kind"),
            f.kind
                .map_or(l.t("全部", "all"), |k| widgets::kind_name(k, l)),
            |ui| {
                reload |= ui
                    .selectable_value(&mut f.kind, None, l.t("全部", "all"))
                    .changed();
                for k in Kind::ALL {
                    reload |= ui
                        .selectable_value(&mut f.kind, Some(*k), widgets::kind_name(*k, l))
                        .changed();
                }
            },
        );
        widgets::combo(
            ui,
            "f-sev",
            l.t("严重度", "severity"),
            f.severity
                .map_or(l.t("全部", "all"), |s| widgets::severity_name(s, l)),
            |ui| {
                reload |= ui
                    .selectable_value(&mut f.severity, None, l.t("全部", "all"))
                    .changed();
                for s in [
                    Severity::Critical,
                    Severity::High,
                    Severity::Warning,
                    Severity::Info,
                ] {
                    reload |= ui
                        .selectable_value(&mut f.severity, Some(s), widgets::severity_name(s, l))
                        .changed();
                }
            },
        );
        widgets::combo(
            ui,
            "f-status",
            l.t("状态", "status"),
            f.status.map_or(
                l.t("待处理（未结+已确认）", "to do (open + acknowledged)"),
                |s| status_name(s, l),
            ),
            |ui| {
                reload |= ui
                    .selectable_value(
                        &mut f.status,
                        None,
                        l.t("待处理（未结+已确认）", "to do (open + acknowledged)"),
                    )
                    .changed();
                for s in Status::ALL {
                    reload |= ui
                        .selectable_value(&mut f.status, Some(*s), status_name(*s, l))
                        .changed();
                }
            },
        );
        let r = widgets::field(
            ui,
            l.t("至少几天", "at least days old"),
            &mut f.min_age,
            40.0,
        );
        if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            reload = true;
        }
        if ui.button(l.t("刷新", "Refresh")).clicked() {
            reload = true;
        }
    });
    if reload {
        load(app);
    }
    ui.separator();
    let mut clicked = None;
    let avail = ui.available_height();
    let rows = &app.findings.rows;
    let selected = app.findings.selected;
    {
        use egui_extras::{Column, TableBuilder};
        TableBuilder::new(ui)
            .id_salt("findings")
            .striped(true)
            .auto_shrink([false, true])
            .max_scroll_height((avail * 0.5).max(160.0))
            .sense(egui::Sense::click())
            .column(Column::auto().at_least(40.0))
            .column(Column::auto().at_least(70.0))
            .column(Column::auto().at_least(130.0))
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(200.0).clip(true))
            .column(Column::auto().at_least(80.0))
            .column(Column::auto().at_least(50.0))
            .column(Column::remainder().clip(true))
            .header(22.0, |mut h| {
                for t in [
                    "#",
                    l.t("状态", "status"),
                    l.t("类型", "kind"),
                    l.t("严重度", "severity"),
                    l.t("业务键", "key"),
                    l.t("差额", "difference"),
                    l.t("天数", "age"),
                    l.t("说明", "explanation"),
                ] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            .body(|body| {
                body.rows(20.0, rows.len(), |mut row| {
                    let i = row.index();
                    let Some(f) = rows.get(i) else { return };
                    row.set_selected(selected == Some(f.id));
                    row.col(|ui| {
                        ui.label(f.id.to_string());
                    });
                    row.col(|ui| {
                        ui.label(status_name(f.status, l));
                    });
                    row.col(|ui| {
                        ui.label(widgets::kind_name(f.kind, l));
                    });
                    row.col(|ui| {
                        ui.colored_label(
                            widgets::severity_color(f.severity),
                            widgets::severity_name(f.severity, l),
                        );
                    });
                    row.col(|ui| {
                        let r = ui.add(
                            egui::Label::new(egui::RichText::new(&f.key).monospace())
                                .truncate()
                                .sense(egui::Sense::click()),
                        );
                        if r.clicked() {
                            clicked = Some(f.id);
                        }
                    });
                    row.col(|ui| {
                        ui.label(
                            egui::RichText::new(
                                f.difference.map(format_amount).unwrap_or_default(),
                            )
                            .monospace(),
                        );
                    });
                    row.col(|ui| {
                        ui.label(format!("{}{}", f.age_days, l.t(" 天", "d")));
                    });
                    row.col(|ui| {
                        ui.add(egui::Label::new(l.t(&f.detail_zh, &f.detail_en)).truncate());
                    });
                    if row.response().clicked() {
                        clicked = Some(f.id);
                    }
                });
            });
    }
    if let Some(id) = clicked {
        select(app, id);
    }
    ui.separator();
    detail(app, ui);
}

fn detail(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    let Some(id) = app.findings.selected else {
        ui.weak(l.t(
            "选中一条差错查看详情并处理。",
            "Select a finding to see it and act on it.",
        ));
        return;
    };
    let Some(f) = app.findings.rows.iter().find(|r| r.id == id).cloned() else {
        ui.weak(l.t(
            "这条差错不在当前筛选结果中。",
            "This finding is not in the current filter.",
        ));
        return;
    };
    let mut action = None;
    let mut open_case = None;
    egui::ScrollArea::vertical()
        .id_salt("fdetail")
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                widgets::badge(
                    ui,
                    widgets::severity_name(f.severity, l),
                    widgets::severity_color(f.severity),
                );
                ui.label(
                    egui::RichText::new(format!("#{} {}", f.id, widgets::kind_name(f.kind, l)))
                        .strong(),
                );
                ui.label(egui::RichText::new(&f.key).monospace());
                ui.label(status_name(f.status, l));
                let case_key = f
                    .agent_bill_no
                    .clone()
                    .or_else(|| f.user_id.map(|u| u.to_string()));
                if let Some(k) = case_key
                    && ui.button(l.t("打开客诉视图", "Open its case")).clicked()
                {
                    open_case = Some(k);
                }
            });
            ui.label(l.t(&f.detail_zh, &f.detail_en));
            ui.label(format!(
                "{} {} · {} {} · {} {} · {} {}{}",
                l.t("内部", "internal"),
                f.amount_internal
                    .map(format_amount)
                    .unwrap_or_else(|| "—".into()),
                l.t("外部", "external"),
                f.amount_external
                    .map(format_amount)
                    .unwrap_or_else(|| "—".into()),
                l.t("首次发现", "first seen"),
                f.first_seen_at.format("%Y-%m-%d %H:%M"),
                l.t("已存在", "age"),
                f.age_days,
                l.t(" 天", "d")
            ));
            ui.horizontal(|ui| {
                let lab = ui.label(l.t("操作人", "Operator"));
                ui.add(egui::TextEdit::singleline(&mut app.findings.operator).desired_width(120.0))
                    .labelled_by(lab.id);
                let lab = ui.label(l.t("说明", "Note"));
                ui.add(
                    egui::TextEdit::singleline(&mut app.findings.note)
                        .hint_text(l.t(
                            "为什么（解决/接受时必填）",
                            "why (required to resolve or accept)",
                        ))
                        .desired_width(360.0),
                )
                .labelled_by(lab.id);
            });
            ui.horizontal(|ui| {
                for to in f.status.allowed_next() {
                    let label = match to {
                        Status::Acknowledged => l.t("确认（处理中）", "Acknowledge"),
                        Status::Resolved => l.t("已解决", "Resolve"),
                        Status::Accepted => l.t("接受（不处理）", "Accept"),
                        Status::Open => l.t("重新打开", "Reopen"),
                    };
                    if ui.button(label).clicked() {
                        action = Some(*to);
                    }
                }
            });
            ui.strong(l.t("历史", "History"));
            egui::Grid::new("fhist").striped(true).show(ui, |ui| {
                for e in &app.findings.history {
                    ui.label(e.at.format("%Y-%m-%d %H:%M:%S").to_string());
                    ui.label(&e.action);
                    ui.label(format!(
                        "{} → {}",
                        e.from.map(|s| status_name(s, l)).unwrap_or("—"),
                        status_name(e.to, l)
                    ));
                    ui.label(&e.operator);
                    ui.label(&e.note);
                    ui.end_row();
                }
            });
        });
    if let Some(to) = action {
        set_status(app, id, to);
    }
    if let Some(k) = open_case {
        app.case.query = k;
        app.go(Screen::Case);
        super::case_view::search(app);
    }
}
