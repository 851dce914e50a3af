//! Findings: the queue at any size, paged from the workspace (keyset pages
//! in every order), filtered by kind, severity, status and age, sorted by
//! severity, amount, age, kind or key, flat or grouped by bill or user, with
//! the amount at risk of what the filter selects. Findings (or whole groups)
//! are checked and acknowledged, resolved or accepted together with one note;
//! each finding opens its case. Every change is recorded under the operator's
//! name saved in the workspace. The layout never moves under the cursor:
//! every button is always there, disabled when it does not apply.

use super::{App, Lang, Screen, widgets};
use crate::money::format_amount;
use crate::recon::{Kind, Severity};
use crate::workspace::{
    FindingEvent, FindingFilter, FindingGroup, FindingRow, GroupBy, GroupKey, GroupPage,
    LastAction, QueueCursor, QueueKey, QueueOrder, QueueSort, QueueSummary, Selection, Status,
};
use std::collections::{BTreeSet, HashMap};

/// Rows (findings or groups) per page.
pub(crate) const PAGE_ROWS: u32 = 200;

/// Which statuses the queue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StatusChoice {
    /// Open and acknowledged: the work still to do.
    #[default]
    ToDo,
    /// Every status.
    All,
    /// One status.
    One(Status),
}

impl StatusChoice {
    fn statuses(self) -> Vec<Status> {
        match self {
            Self::ToDo => vec![Status::Open, Status::Acknowledged],
            Self::All => Vec::new(),
            Self::One(s) => vec![s],
        }
    }

    fn name(self, l: Lang) -> &'static str {
        match self {
            Self::ToDo => l.t("待办（待处理+处理中）", "to do (open + acknowledged)"),
            Self::All => l.t("全部状态", "all statuses"),
            Self::One(s) => status_name(s, l),
        }
    }
}

/// After one finding of a bill was resolved (or accepted): the others of
/// that bill still to do, offered for the same change and note.
#[derive(Debug, Clone)]
pub(crate) struct Offer {
    pub bill: String,
    pub to: Status,
    pub note: String,
    pub ids: Vec<i64>,
    pub kinds: Vec<Kind>,
}

/// The findings screen's state.
#[derive(Default)]
pub(crate) struct State {
    pub kind: Option<Kind>,
    pub severity: Option<Severity>,
    pub status: StatusChoice,
    pub min_age: String,
    pub order: QueueOrder,
    pub group: Option<GroupBy>,
    /// The filter of the page on screen (as applied).
    pub filter: FindingFilter,
    /// The page of findings on screen (flat queue).
    pub rows: Vec<FindingRow>,
    pub keys: Vec<QueueKey>,
    /// The page of groups on screen (grouped queue).
    pub groups: GroupPage,
    pub has_prev: bool,
    pub has_next: bool,
    /// Position of the page's first row in the whole selection (0-based).
    pub offset: u64,
    pub summary: Option<QueueSummary>,
    /// Groups the filter forms (grouped queue).
    pub group_count: Option<u64>,
    pub ticket: u64,
    pub loading: bool,
    pub page_ms: Option<u128>,
    /// The latest hand action of the page's findings.
    pub actions: HashMap<i64, LastAction>,
    /// Checked findings (flat) and groups (grouped).
    pub checked: BTreeSet<i64>,
    pub checked_groups: Vec<GroupKey>,
    /// The finding shown below the queue.
    pub selected: Option<i64>,
    /// The selected finding itself (kept when it leaves the page).
    pub current: Option<FindingRow>,
    pub history: Vec<FindingEvent>,
    /// The group shown below the queue, and its findings.
    pub selected_group: Option<GroupKey>,
    pub group_rows: Vec<FindingRow>,
    pub note: String,
    pub offer: Option<Offer>,
    pub export_path: String,
    pub bom: bool,
    /// Only this bill, as typed (`agent_bill_no`, exact; empty: every bill).
    pub bill: String,
    /// Only this user, as typed (empty: every user).
    pub user: String,
    /// Ctrl+F asked the bill field to take the keyboard (next frame).
    pub focus_search: bool,
}

/// A status's name.
pub(crate) fn status_name(s: Status, l: Lang) -> &'static str {
    match l {
        Lang::Zh => s.name_zh(),
        Lang::En => s.as_str(),
    }
}

fn action_label(to: Status, l: Lang) -> &'static str {
    match to {
        Status::Acknowledged => l.t("确认（处理中）", "Acknowledge"),
        Status::Resolved => l.t("已解决", "Resolve"),
        Status::Accepted => l.t("接受（不处理）", "Accept"),
        Status::Open => l.t("重新打开", "Reopen"),
    }
}

/// The filter the inputs describe, or the sentence saying which input is wrong.
pub(crate) fn parse_filter(app: &App) -> Result<FindingFilter, String> {
    let l = app.lang;
    let f = &app.findings;
    let min_age = match f.min_age.trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(format!(
                    "{} '{t}' {}",
                    l.t("最小天数", "minimum age"),
                    l.t("不是非负整数", "is not a whole number of days")
                ));
            }
        },
    };
    let user = match f.user.trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(n) => Some(n),
            _ => {
                return Err(format!(
                    "{} '{t}' {}",
                    l.t("用户", "user"),
                    l.t("不是用户编号（整数）", "is not a user id (a whole number)")
                ));
            }
        },
    };
    let bill = Some(f.bill.trim().to_owned()).filter(|b| !b.is_empty());
    Ok(FindingFilter {
        database: app.conn.as_ref().map(|c| c.url.clone()),
        kinds: f.kind.into_iter().collect(),
        severities: f.severity.into_iter().collect(),
        statuses: f.status.statuses(),
        min_age_days: min_age,
        bill,
        user_id: user,
        ..FindingFilter::default()
    })
}

/// Loads the queue's first page with the filter as typed, and its totals.
pub(crate) fn load(app: &mut App) {
    match parse_filter(app) {
        Ok(f) => {
            app.findings.filter = f;
            app.findings.checked.clear();
            app.findings.checked_groups.clear();
            fetch(app, QueueCursor::First, true);
        }
        Err(e) => app.error(e),
    }
}

/// Fetches a page at `cursor`; `recount` also reloads the totals.
fn fetch(app: &mut App, cursor: QueueCursor, recount: bool) {
    let (Some(_), Some(ws)) = (app.conn.clone(), app.ws.clone()) else {
        return;
    };
    let st = &mut app.findings;
    st.ticket += 1;
    st.loading = true;
    let ticket = st.ticket;
    let filter = st.filter.clone();
    let order = st.order;
    let group = st.group;
    if recount {
        st.summary = None;
        st.group_count = None;
        let ws2 = ws.clone();
        let f2 = filter.clone();
        app.jobs.spawn(async move {
            let s = ws2.summarize_findings(&f2).await;
            let g = match group {
                Some(by) => ws2.count_groups(&f2, by).await.map(Some),
                None => Ok(None),
            };
            Box::new(move |app: &mut App| {
                let st = &mut app.findings;
                if st.ticket < ticket {
                    return;
                }
                match (s, g) {
                    (Ok(s), Ok(g)) => {
                        st.summary = Some(s);
                        st.group_count = g;
                        // The last page's position is known once the total is.
                        if st.offset == u64::MAX {
                            let n = if st.group.is_some() {
                                g.unwrap_or(0)
                            } else {
                                s.count
                            };
                            let len = page_len(st);
                            st.offset = n.saturating_sub(len);
                        }
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        let l = app.lang;
                        app.error(format!(
                            "{}{e}",
                            l.t("差错统计失败：", "The findings could not be counted: ")
                        ));
                    }
                }
            }) as super::jobs::Apply
        });
    }
    let prev_offset = app.findings.offset;
    let prev_len = page_len(&app.findings);
    app.jobs.spawn(async move {
        let started = std::time::Instant::now();
        let r = match group {
            None => ws
                .page_findings(&filter, order, &cursor, PAGE_ROWS)
                .await
                .map(|p| (Some(p), None)),
            Some(by) => ws
                .page_groups(&filter, by, order, &cursor, PAGE_ROWS)
                .await
                .map(|p| (None, Some(p))),
        };
        let took = started.elapsed().as_millis();
        let actions = match &r {
            Ok((Some(p), _)) => ws
                .latest_actions(&p.rows.iter().map(|r| r.id).collect::<Vec<_>>())
                .await
                .unwrap_or_default(),
            _ => HashMap::new(),
        };
        Box::new(move |app: &mut App| {
            let total = app.findings.summary.map(|s| s.count);
            let groups_total = app.findings.group_count;
            let st = &mut app.findings;
            if st.ticket != ticket {
                return; // a newer request replaced this one
            }
            st.loading = false;
            match r {
                Ok((flat, grouped)) => {
                    st.page_ms = Some(took);
                    let (has_prev, has_next) = match (&flat, &grouped) {
                        (Some(p), _) => (p.has_prev, p.has_next),
                        (_, Some(p)) => (p.has_prev, p.has_next),
                        _ => (false, false),
                    };
                    st.has_prev = has_prev;
                    st.has_next = has_next;
                    let (rows, keys) = flat.map(|p| (p.rows, p.keys)).unwrap_or_default();
                    st.rows = rows;
                    st.keys = keys;
                    st.groups = grouped.unwrap_or_default();
                    st.actions = actions;
                    let len = page_len(st);
                    let n = if st.group.is_some() {
                        groups_total
                    } else {
                        total
                    };
                    st.offset = match cursor {
                        QueueCursor::First => 0,
                        QueueCursor::After(_) => prev_offset.saturating_add(prev_len),
                        QueueCursor::Before(_) => prev_offset.saturating_sub(len),
                        QueueCursor::Last => n.map_or(u64::MAX, |n| n.saturating_sub(len)),
                    };
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

fn page_len(st: &State) -> u64 {
    let n = if st.group.is_some() {
        st.groups.rows.len()
    } else {
        st.rows.len()
    };
    u64::try_from(n).unwrap_or(0)
}

/// Shows one finding below the queue, with its history.
fn select(app: &mut App, row: FindingRow) {
    let id = row.id;
    app.findings.selected = Some(id);
    app.findings.current = Some(row);
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

/// Shows one group below the queue, with its findings (of the filter).
fn select_group(app: &mut App, key: GroupKey) {
    app.findings.selected_group = Some(key.clone());
    app.findings.selected = None;
    app.findings.current = None;
    app.findings.group_rows.clear();
    let Some(ws) = app.ws.clone() else { return };
    let mut f = app.findings.filter.clone();
    f.group = Some(key.clone());
    f.limit = Some(1000);
    app.jobs.spawn(async move {
        let r = ws.list_findings(&f).await;
        Box::new(move |app: &mut App| {
            if app.findings.selected_group.as_ref() == Some(&key)
                && let Ok(rows) = r
            {
                app.findings.group_rows = rows;
            }
        }) as super::jobs::Apply
    });
}

/// The note, or a notice that one is needed for `to`.
fn note_for(app: &mut App, to: Status) -> Option<String> {
    let l = app.lang;
    let note = app.findings.note.trim().to_owned();
    if Status::note_required(to) && note.is_empty() {
        app.error(l.t(
            "解决、接受或重新打开差错需要填写说明（为什么）。",
            "Resolving, accepting or reopening a finding needs a note saying why.",
        ));
        return None;
    }
    Some(note)
}

/// Changes the selection's status (findings or groups) with the note, in one
/// workspace transaction. The rows stay on screen with their new status
/// until the queue is reloaded.
fn apply(app: &mut App, selection: Selection, to: Status, single: Option<FindingRow>) {
    let l = app.lang;
    let Some(note) = note_for(app, to) else {
        return;
    };
    // The operator's name from the workspace; asked once when none is saved.
    let Some(operator) = app.operator_for_action() else {
        return;
    };
    let Some(ws) = app.ws.clone() else { return };
    let filter = app.findings.filter.clone();
    // In a grouped queue, the groups whose statuses may change on screen.
    let shown_groups: Vec<GroupKey> = match &selection {
        Selection::Groups { keys, .. } => keys.clone(),
        Selection::Ids(_) if app.findings.group.is_some() => {
            app.findings.selected_group.iter().cloned().collect()
        }
        Selection::Ids(_) => Vec::new(),
    };
    app.jobs.spawn(async move {
        let r = ws.set_status_many(&selection, to, &note, &operator).await;
        // Which findings changed, to show their new status in place.
        let changed: Vec<i64> = match (&r, &selection) {
            (Ok(_), Selection::Ids(ids)) => ids.clone(),
            (Ok(_), Selection::Groups { filter, keys }) => {
                let mut ids = Vec::new();
                for k in keys {
                    let mut f = FindingFilter::clone(filter);
                    f.group = Some(k.clone());
                    f.statuses.clear();
                    if let Ok(rows) = ws.list_findings(&f).await {
                        ids.extend(rows.into_iter().filter(|r| r.status == to).map(|r| r.id));
                    }
                }
                ids
            }
            _ => Vec::new(),
        };
        // Resolving one finding of a bill: the others of that bill still to do.
        let mut offer = None;
        if let (Ok(_), Some(row)) = (&r, &single)
            && matches!(to, Status::Resolved | Status::Accepted)
            && let Some(bill) = row.agent_bill_no.clone().filter(|b| !b.is_empty())
        {
            let others = ws
                .list_findings(&FindingFilter {
                    database: filter.database.clone(),
                    bill: Some(bill.clone()),
                    statuses: vec![Status::Open, Status::Acknowledged],
                    ..FindingFilter::default()
                })
                .await
                .unwrap_or_default();
            if !others.is_empty() {
                offer = Some(Offer {
                    bill,
                    to,
                    note: note.clone(),
                    ids: others.iter().map(|o| o.id).collect(),
                    kinds: others.iter().map(|o| o.kind).collect(),
                });
            }
        }
        let groups = if r.is_ok() && !shown_groups.is_empty() {
            // Every status, so each group shows what it has become.
            let mut f = filter.clone();
            f.statuses.clear();
            ws.group_summaries(&f, &shown_groups).await.ok()
        } else {
            None
        };
        let actions = ws.latest_actions(&changed).await.unwrap_or_default();
        Box::new(move |app: &mut App| {
            let l = app.lang;
            match r {
                Ok(out) => {
                    let now = app.ws.as_ref().map(|w| w.now());
                    let st = &mut app.findings;
                    for r in st
                        .rows
                        .iter_mut()
                        .chain(st.group_rows.iter_mut())
                        .chain(st.current.iter_mut())
                        // Only those whose status allowed the change (the
                        // others were skipped by the workspace too).
                        .filter(|r| changed.contains(&r.id) && r.status.allowed_next().contains(&to))
                    {
                        r.status = to;
                        if let Some(t) = now {
                            r.status_at = t;
                        }
                    }
                    if let Some(gs) = groups {
                        for g in gs {
                            if let Some(row) = st.groups.rows.iter_mut().find(|x| x.key == g.key)
                            {
                                row.statuses = g.statuses;
                            }
                        }
                    }
                    st.actions.extend(actions);
                    st.checked.clear();
                    st.checked_groups.clear();
                    st.note.clear();
                    st.offer = offer;
                    let mut msg = format!(
                        "{} {} {} → {}",
                        out.changed,
                        if out.changed == 1 {
                            l.t("条差错", "finding")
                        } else {
                            l.t("条差错", "findings")
                        },
                        l.t("已改为", "changed:"),
                        status_name(to, l)
                    );
                    if out.skipped > 0 {
                        msg.push_str(&format!(
                            " · {} {}",
                            out.skipped,
                            l.t(
                                "条不能这样改（状态不允许），未改动",
                                "could not take this change (their status does not allow it) and were left as they were"
                            )
                        ));
                    }
                    app.info(msg);
                    refresh_totals(app);
                    if let Some(id) = app.findings.selected {
                        refresh_history(app, id);
                    }
                }
                Err(e) => app.error(format!(
                    "{}{e}",
                    l.t("无法更改状态：", "The status could not be changed: ")
                )),
            }
        }) as super::jobs::Apply
    });
    let _ = l;
}

/// Reloads the totals (count, amount at risk) without moving the page.
fn refresh_totals(app: &mut App) {
    let Some(ws) = app.ws.clone() else { return };
    let filter = app.findings.filter.clone();
    let ticket = app.findings.ticket;
    app.jobs.spawn(async move {
        let s = ws.summarize_findings(&filter).await;
        Box::new(move |app: &mut App| {
            if app.findings.ticket == ticket
                && let Ok(s) = s
            {
                app.findings.summary = Some(s);
            }
        }) as super::jobs::Apply
    });
}

fn refresh_history(app: &mut App, id: i64) {
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

/// Exports what the queue's filter selects, in its order and grouping.
fn export(app: &mut App) {
    let l = app.lang;
    let path = app.findings.export_path.trim().to_owned();
    if path.is_empty() {
        app.error(l.t(
            "请先填写导出文件的位置。",
            "Type where to save the export first.",
        ));
        return;
    }
    let Some(operator) = app.operator_for_action() else {
        return;
    };
    let Some(ws) = app.ws.clone() else { return };
    let filter = app.findings.filter.clone();
    let (order, group, bom) = (app.findings.order, app.findings.group, app.findings.bom);
    app.jobs.spawn(async move {
        let out = std::path::PathBuf::from(&path);
        let r =
            crate::export::findings::write_queue(&ws, &filter, order, group, &out, bom, &operator)
                .await;
        Box::new(move |app: &mut App| {
            let l = app.lang;
            match r {
                Ok(done) => app.info(format!(
                    "{} {} {} {path} · {} {}",
                    l.t("已导出", "Exported"),
                    done.rows,
                    l.t("条差错到", "findings to"),
                    l.t("风险金额", "amount at risk"),
                    format_amount(done.at_risk.total)
                )),
                Err(e) => app.error(format!("{}{e}", l.t("导出失败：", "The export failed: "))),
            }
        }) as super::jobs::Apply
    });
}

/// "x–y of N".
fn range_text(st: &State, l: Lang) -> String {
    let len = page_len(st);
    let total = if st.group.is_some() {
        st.group_count
    } else {
        st.summary.map(|s| s.count)
    };
    let unit = if st.group.is_some() {
        l.t("组", "groups")
    } else {
        l.t("条", "findings")
    };
    let n = total.map_or_else(|| l.t("…", "…").to_owned(), |n| n.to_string());
    if len == 0 {
        return format!("0 {} {n} {unit}", l.t("/ 共", "of"));
    }
    if st.offset == u64::MAX {
        return format!("{len} {} {n} {unit}", l.t("/ 共", "of"));
    }
    format!(
        "{}–{} {} {n} {unit}",
        st.offset + 1,
        st.offset + len,
        l.t("/ 共", "of")
    )
}

/// The findings screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    header(app, ui);
    let reload = filters(app, ui);
    if reload {
        load(app);
    }
    let nav = paging(app, ui);
    if let Some(c) = nav {
        fetch(app, c, false);
    }
    bulk_bar(app, ui);
    ui.separator();
    let avail = ui.available_height();
    let table_h = (avail * 0.55).max(180.0);
    if app.findings.group.is_some() {
        groups_table(app, ui, table_h);
    } else {
        findings_table(app, ui, table_h);
    }
    ui.separator();
    if app.findings.selected.is_some() {
        detail(app, ui);
    } else if app.findings.selected_group.is_some() {
        group_detail(app, ui);
    } else {
        ui.weak(l.t(
            "选中一条差错（或一组）查看详情并处理；勾选多条可一起处理。",
            "Select a finding (or a group) to see it and act on it; check several to act on them together.",
        ));
    }
}

fn header(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    let st = &app.findings;
    ui.horizontal(|ui| {
        ui.heading(l.t("差错队列", "Findings"));
        ui.label(egui::RichText::new(range_text(st, l)).strong());
        if let Some(s) = &st.summary {
            ui.separator();
            ui.label(
                egui::RichText::new(format!(
                    "{} {}",
                    l.t("风险金额", "amount at risk"),
                    format_amount(s.at_risk.total)
                ))
                .strong()
                .color(widgets::severity_ink(ui, Severity::Critical)),
            )
            .on_hover_text(l.t(
                "只计未处理和处理中、且最近一次对账仍然存在的差错；每个订单、每个账户只计一次（取其最大差额）；对账单文件级合计另列，不计入。",
                "Counts only open and acknowledged findings that the latest run still produced; each bill and each account once (its largest difference); file-level statement totals are shown apart, not added.",
            ));
            ui.weak(format!(
                "{} {} · {} {} · {} {}",
                l.t("订单", "bills"),
                format_amount(s.at_risk.bills),
                l.t("账户", "accounts"),
                format_amount(s.at_risk.accounts),
                l.t("文件级另计", "file-level apart"),
                format_amount(s.at_risk.file_level),
            ));
        }
        if let Some(ms) = st.page_ms {
            ui.weak(format!("{} {ms} ms", l.t("本页", "page")));
        }
        // Read-only: every change is recorded under the name saved in the
        // workspace (asked once, changed from the top bar).
        ui.separator();
        ui.weak(format!(
            "{}{}",
            l.t("操作人：", "operator: "),
            app.operator.as_deref().unwrap_or(l.t(
                "未填写（第一次处理时会询问）",
                "not set (asked at the first change)"
            ))
        ));
        if st.loading {
            ui.spinner();
        }
    });
    ui.weak(l.t(
        "风险金额：每个订单、每个账户只计一次，只计未处理/处理中且仍存在的差错。",
        "Amount at risk: each bill and each account counted once; only open or acknowledged findings still seen count.",
    ));
}

/// The filter row; true when the queue should reload.
fn filters(app: &mut App, ui: &mut egui::Ui) -> bool {
    let l = app.lang;
    let mut reload = false;
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
            f.status.name(l),
            |ui| {
                let mut choices = vec![StatusChoice::ToDo, StatusChoice::All];
                choices.extend(Status::ALL.iter().map(|s| StatusChoice::One(*s)));
                for c in choices {
                    reload |= ui.selectable_value(&mut f.status, c, c.name(l)).changed();
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
        // The queue's search: one bill or one user (Ctrl+F lands here).
        let r = widgets::field(ui, l.t("订单号", "bill"), &mut f.bill, 120.0);
        if std::mem::take(&mut f.focus_search) {
            r.request_focus();
        }
        if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            reload = true;
        }
        let r = widgets::field(ui, l.t("用户", "user"), &mut f.user, 60.0);
        if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            reload = true;
        }
        widgets::combo(
            ui,
            "f-group",
            l.t("分组", "group"),
            group_name(f.group, l),
            |ui| {
                for g in [None, Some(GroupBy::Bill), Some(GroupBy::User)] {
                    reload |= ui
                        .selectable_value(&mut f.group, g, group_name(g, l))
                        .changed();
                }
            },
        );
        widgets::combo(
            ui,
            "f-sort",
            l.t("排序", "sort"),
            sort_name(f.order.by, l),
            |ui| {
                for s in QueueSort::ALL {
                    reload |= ui
                        .selectable_value(&mut f.order.by, *s, sort_name(*s, l))
                        .changed();
                }
            },
        );
        reload |= ui
            .checkbox(&mut f.order.reverse, l.t("倒序", "reverse"))
            .changed();
        if ui.button(l.t("刷新", "Refresh")).clicked() {
            reload = true;
        }
    });
    reload
}

fn group_name(g: Option<GroupBy>, l: Lang) -> &'static str {
    match g {
        None => l.t("不分组", "none"),
        Some(GroupBy::Bill) => l.t("按订单", "by bill"),
        Some(GroupBy::User) => l.t("按用户", "by user"),
    }
}

fn sort_name(s: QueueSort, l: Lang) -> &'static str {
    match s {
        QueueSort::Severity => l.t("严重度（最严重先）", "severity (worst first)"),
        QueueSort::Amount => l.t("金额（最大先）", "amount (largest first)"),
        QueueSort::Age => l.t("天数（最久先）", "age (oldest first)"),
        QueueSort::Kind => l.t("类型", "kind"),
        QueueSort::Key => l.t("业务键（数字按大小）", "key (numbers in order)"),
    }
}

/// The paging buttons (always there, disabled at the ends) and the export.
fn paging(app: &mut App, ui: &mut egui::Ui) -> Option<QueueCursor> {
    let l = app.lang;
    let mut nav = None;
    let mut do_export = false;
    ui.horizontal(|ui| {
        let st = &mut app.findings;
        let (first_key, last_key) = page_keys(st);
        if ui
            .add_enabled(st.has_prev, egui::Button::new(l.t("|◀ 首页", "|◀ First")))
            .clicked()
        {
            nav = Some(QueueCursor::First);
        }
        if ui
            .add_enabled(
                st.has_prev,
                egui::Button::new(l.t("◀ 上一页", "◀ Previous")),
            )
            .clicked()
        {
            nav = first_key.map(QueueCursor::Before);
        }
        if ui
            .add_enabled(st.has_next, egui::Button::new(l.t("下一页 ▶", "Next ▶")))
            .clicked()
        {
            nav = last_key.map(QueueCursor::After);
        }
        if ui
            .add_enabled(st.has_next, egui::Button::new(l.t("末页 ▶|", "Last ▶|")))
            .clicked()
        {
            nav = Some(QueueCursor::Last);
        }
        ui.separator();
        widgets::field(
            ui,
            l.t("导出到", "Export to"),
            &mut st.export_path,
            260.0,
        );
        ui.checkbox(&mut st.bom, l.t("BOM（Excel）", "BOM (Excel)"));
        if ui
            .button(l.t("导出队列（CSV）", "Export the queue (CSV)"))
            .on_hover_text(l.t(
                "导出当前筛选选中的全部差错（不只本页），含状态、最新说明、操作人、天数与风险金额分摊。",
                "Exports every finding the filter selects (not only this page), with status, latest note, operator, age and each one's part of the amount at risk.",
            ))
            .clicked()
        {
            do_export = true;
        }
    });
    if do_export {
        export(app);
    }
    nav
}

/// The keys of the page's first and last rows (or groups): where the
/// previous and the next page start.
fn page_keys(st: &State) -> (Option<QueueKey>, Option<QueueKey>) {
    match st.group {
        None => (st.keys.first().cloned(), st.keys.last().cloned()),
        Some(_) => (
            st.groups.keys.first().cloned(),
            st.groups.keys.last().cloned(),
        ),
    }
}

/// The bulk action bar: always the same buttons in the same places.
fn bulk_bar(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    let grouped = app.findings.group.is_some();
    let n = if grouped {
        app.findings.checked_groups.len()
    } else {
        app.findings.checked.len()
    };
    let mut act = None;
    let mut select_page = false;
    let mut clear = false;
    ui.horizontal(|ui| {
        // Fixed width so the buttons after it never move as the count changes.
        ui.add_sized(
            [130.0, 20.0],
            egui::Label::new(format!(
                "{n} {}",
                if grouped {
                    l.t("组已勾选", "groups checked")
                } else {
                    l.t("条已勾选", "checked")
                }
            )),
        );
        if ui.button(l.t("勾选本页", "Check this page")).clicked() {
            select_page = true;
        }
        if ui
            .add_enabled(n > 0, egui::Button::new(l.t("取消勾选", "Uncheck all")))
            .clicked()
        {
            clear = true;
        }
        ui.separator();
        let lab = ui.label(l.t("说明", "Note"));
        ui.add(
            egui::TextEdit::singleline(&mut app.findings.note)
                .hint_text(l.t(
                    "为什么（解决/接受时必填）",
                    "why (required to resolve or accept)",
                ))
                .desired_width(260.0),
        )
        .labelled_by(lab.id);
        for to in [Status::Acknowledged, Status::Resolved, Status::Accepted] {
            let label = match to {
                Status::Acknowledged => l.t("确认所勾选", "Acknowledge checked"),
                Status::Resolved => l.t("解决所勾选", "Resolve checked"),
                _ => l.t("接受所勾选", "Accept checked"),
            };
            if ui.add_enabled(n > 0, egui::Button::new(label)).clicked() {
                act = Some(to);
            }
        }
    });
    let st = &mut app.findings;
    if select_page {
        if grouped {
            for g in &st.groups.rows {
                if !st.checked_groups.contains(&g.key) {
                    st.checked_groups.push(g.key.clone());
                }
            }
        } else {
            st.checked.extend(st.rows.iter().map(|r| r.id));
        }
    }
    if clear {
        st.checked.clear();
        st.checked_groups.clear();
    }
    if let Some(to) = act {
        let sel = if grouped {
            Selection::Groups {
                filter: Box::new(st.filter.clone()),
                keys: st.checked_groups.clone(),
            }
        } else {
            Selection::Ids(st.checked.iter().copied().collect())
        };
        apply(app, sel, to, None);
    }
}

fn findings_table(app: &mut App, ui: &mut egui::Ui, height: f32) {
    let l = app.lang;
    let mut clicked = None;
    let mut toggles: Vec<i64> = Vec::new();
    {
        let st = &app.findings;
        let rows = &st.rows;
        // The header stays when nothing matches: the columns say what would be here.
        let empty = rows.is_empty() && !st.loading;
        use egui_extras::{Column, TableBuilder};
        TableBuilder::new(ui)
            .id_salt("findings")
            .striped(true)
            .auto_shrink([false, true])
            .max_scroll_height(height)
            .min_scrolled_height(height)
            .sense(egui::Sense::click())
            .column(Column::exact(24.0))
            .column(Column::auto().at_least(48.0))
            .column(Column::auto().at_least(70.0))
            .column(Column::auto().at_least(130.0))
            .column(Column::auto().at_least(56.0))
            .column(Column::auto().at_least(190.0).clip(true))
            .column(Column::auto().at_least(86.0))
            .column(Column::auto().at_least(44.0))
            .column(Column::auto().at_least(140.0).clip(true))
            .column(Column::remainder().clip(true))
            .header(22.0, |mut h| {
                for t in [
                    "",
                    "#",
                    l.t("状态", "status"),
                    l.t("类型", "kind"),
                    l.t("严重度", "severity"),
                    l.t("业务键", "key"),
                    l.t("差额", "difference"),
                    l.t("天数", "age"),
                    l.t("最新说明", "latest note"),
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
                    row.set_selected(st.selected == Some(f.id));
                    row.col(|ui| {
                        let mut on = st.checked.contains(&f.id);
                        let r = ui.checkbox(&mut on, "");
                        // A name for screen readers (and kittest's check).
                        let name = format!("{} #{}", l.t("勾选", "check"), f.id);
                        r.widget_info(|| {
                            egui::WidgetInfo::selected(egui::Role::CheckBox, true, on, &name)
                        });
                        if r.changed() {
                            toggles.push(f.id);
                        }
                    });
                    row.col(|ui| {
                        ui.label(f.id.to_string());
                    });
                    row.col(|ui| {
                        let t = egui::RichText::new(status_name(f.status, l));
                        ui.label(if matches!(f.status, Status::Resolved | Status::Accepted) {
                            t.color(widgets::ink(ui, egui::Color32::from_rgb(0x1b, 0x7f, 0x3b)))
                        } else {
                            t
                        });
                    });
                    row.col(|ui| {
                        ui.label(widgets::kind_name(f.kind, l));
                    });
                    row.col(|ui| {
                        ui.colored_label(
                            widgets::severity_ink(ui, f.severity),
                            widgets::severity_name(f.severity, l),
                        );
                    });
                    row.col(|ui| {
                        let r = ui.add(
                            egui::Label::new(egui::RichText::new(key_words(&f.key, l)).monospace())
                                .truncate()
                                .sense(egui::Sense::click()),
                        );
                        if r.clicked() {
                            clicked = Some(f.clone());
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
                        let a = st.actions.get(&f.id);
                        ui.add(
                            egui::Label::new(
                                a.map(|a| format!("{} · {}", a.operator, a.note))
                                    .unwrap_or_default(),
                            )
                            .truncate(),
                        );
                    });
                    row.col(|ui| {
                        ui.add(egui::Label::new(l.t(&f.detail_zh, &f.detail_en)).truncate());
                    });
                    if row.response().clicked() {
                        clicked = Some(f.clone());
                    }
                });
            });
        if empty {
            ui.label(l.t("没有符合条件的差错。", "No findings match."));
        }
    }
    let st = &mut app.findings;
    for id in toggles {
        if !st.checked.remove(&id) {
            st.checked.insert(id);
        }
    }
    if let Some(f) = clicked {
        app.findings.selected_group = None;
        select(app, f);
    }
}

fn groups_table(app: &mut App, ui: &mut egui::Ui, height: f32) {
    let l = app.lang;
    let mut clicked = None;
    let mut toggles: Vec<GroupKey> = Vec::new();
    {
        let st = &app.findings;
        let rows: &[FindingGroup] = &st.groups.rows;
        // The header stays when nothing matches: the columns say what would be here.
        let empty = rows.is_empty() && !st.loading;
        use egui_extras::{Column, TableBuilder};
        TableBuilder::new(ui)
            .id_salt("finding-groups")
            .striped(true)
            .auto_shrink([false, true])
            .max_scroll_height(height)
            .min_scrolled_height(height)
            .sense(egui::Sense::click())
            .column(Column::exact(24.0))
            .column(Column::auto().at_least(190.0).clip(true))
            .column(Column::auto().at_least(40.0))
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(44.0))
            .column(Column::auto().at_least(130.0).clip(true))
            .column(Column::remainder().clip(true))
            .header(22.0, |mut h| {
                for t in [
                    "",
                    if st.group == Some(GroupBy::User) {
                        l.t("用户", "user")
                    } else {
                        l.t("订单", "bill")
                    },
                    l.t("条数", "count"),
                    l.t("严重度", "severity"),
                    l.t("最大差额", "largest"),
                    l.t("天数", "age"),
                    l.t("状态", "statuses"),
                    l.t("类型", "kinds"),
                ] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            .body(|body| {
                body.rows(20.0, rows.len(), |mut row| {
                    let i = row.index();
                    let Some(g) = rows.get(i) else { return };
                    row.set_selected(st.selected_group.as_ref() == Some(&g.key));
                    row.col(|ui| {
                        let mut on = st.checked_groups.contains(&g.key);
                        let r = ui.checkbox(&mut on, "");
                        let name = format!("{} {}", l.t("勾选组", "check group"), g.key.key);
                        r.widget_info(|| {
                            egui::WidgetInfo::selected(egui::Role::CheckBox, true, on, &name)
                        });
                        if r.changed() {
                            toggles.push(g.key.clone());
                        }
                    });
                    row.col(|ui| {
                        let r = ui.add(
                            egui::Label::new(
                                egui::RichText::new(key_words(&g.key.key, l)).monospace(),
                            )
                            .truncate()
                            .sense(egui::Sense::click()),
                        );
                        if r.clicked() {
                            clicked = Some(g.key.clone());
                        }
                    });
                    row.col(|ui| {
                        ui.label(g.count.to_string());
                    });
                    row.col(|ui| {
                        ui.colored_label(
                            widgets::severity_ink(ui, g.severity),
                            widgets::severity_name(g.severity, l),
                        );
                    });
                    row.col(|ui| {
                        ui.label(egui::RichText::new(format_amount(g.largest)).monospace());
                    });
                    row.col(|ui| {
                        ui.label(format!("{}{}", g.age_days, l.t(" 天", "d")));
                    });
                    row.col(|ui| {
                        ui.label(
                            g.statuses
                                .iter()
                                .map(|s| status_name(*s, l))
                                .collect::<Vec<_>>()
                                .join(" · "),
                        );
                    });
                    row.col(|ui| {
                        ui.add(
                            egui::Label::new(
                                g.kinds
                                    .iter()
                                    .map(|k| widgets::kind_name(*k, l))
                                    .collect::<Vec<_>>()
                                    .join(" · "),
                            )
                            .truncate(),
                        );
                    });
                    if row.response().clicked() {
                        clicked = Some(g.key.clone());
                    }
                });
            });
        if empty {
            ui.label(l.t("没有符合条件的差错。", "No findings match."));
        }
    }
    let st = &mut app.findings;
    for k in toggles {
        if let Some(i) = st.checked_groups.iter().position(|x| *x == k) {
            st.checked_groups.remove(i);
        } else {
            st.checked_groups.push(k);
        }
    }
    if let Some(k) = clicked {
        select_group(app, k);
    }
}

/// The offer after resolving one finding of a bill: the others of that bill.
fn offer_ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    let Some(o) = app.findings.offer.clone() else {
        return;
    };
    let mut take = false;
    let mut dismiss = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "{} {} {} {} {}: {}",
                l.t("订单", "Bill"),
                o.bill,
                l.t("还有", "has"),
                o.ids.len(),
                l.t("条待办差错", "other findings still to do"),
                o.kinds
                    .iter()
                    .map(|k| widgets::kind_name(*k, l))
                    .collect::<Vec<_>>()
                    .join(" · ")
            ));
            if ui
                .button(format!(
                    "{} {}",
                    l.t("同样处理（同一说明）：", "The same for them (same note):"),
                    status_name(o.to, l)
                ))
                .clicked()
            {
                take = true;
            }
            if ui.button(l.t("不用了", "No, leave them")).clicked() {
                dismiss = true;
            }
        });
    });
    if take {
        app.findings.offer = None;
        app.findings.note = o.note.clone();
        apply(app, Selection::Ids(o.ids), o.to, None);
    } else if dismiss {
        app.findings.offer = None;
    }
}

fn detail(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    let Some(f) = app.findings.current.clone() else {
        return;
    };
    let id = f.id;
    let mut action = None;
    let mut open_case = None;
    let mut back = false;
    egui::ScrollArea::vertical()
        .id_salt("fdetail")
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if app.findings.selected_group.is_some()
                    && ui
                        .button(l.t("← 返回该组", "← Back to the group"))
                        .clicked()
                {
                    back = true;
                }
                widgets::badge(
                    ui,
                    widgets::severity_name(f.severity, l),
                    widgets::severity_color(f.severity),
                );
                ui.label(
                    egui::RichText::new(format!("#{} {}", f.id, widgets::kind_name(f.kind, l)))
                        .strong(),
                );
                ui.label(egui::RichText::new(key_words(&f.key, l)).monospace())
                    .on_hover_text(&f.key);
                ui.label(egui::RichText::new(status_name(f.status, l)).strong());
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
                "{} {} · {} {} · {} {} · {} {}{}{}",
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
                l.t(" 天", "d"),
                if f.is_absent() {
                    l.t(" · 最近一次对账已不再出现", " · not seen by the latest run")
                } else {
                    ""
                }
            ));
            // Every action, always in the same place; those the status does
            // not allow are disabled, never hidden.
            ui.horizontal(|ui| {
                for to in [
                    Status::Acknowledged,
                    Status::Resolved,
                    Status::Accepted,
                    Status::Open,
                ] {
                    let allowed = f.status.allowed_next().contains(&to);
                    if ui
                        .add_enabled(allowed, egui::Button::new(action_label(to, l)))
                        .clicked()
                    {
                        action = Some(to);
                    }
                }
                ui.weak(l.t(
                    "（说明填在上方“说明”栏）",
                    "(the note is the Note field above)",
                ));
            });
            // Below the actions, so that they stay where the cursor is.
            if app.findings.offer.is_some() {
                offer_ui(app, ui);
            }
            ui.strong(l.t("历史", "History"));
            egui::Grid::new("fhist").striped(true).show(ui, |ui| {
                for e in &app.findings.history {
                    ui.label(e.at.format("%Y-%m-%d %H:%M:%S").to_string());
                    ui.label(action_name(&e.action, l));
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
        apply(app, Selection::Ids(vec![id]), to, Some(f));
    }
    if back {
        app.findings.selected = None;
        app.findings.current = None;
    }
    if let Some(k) = open_case {
        app.case.query = k;
        app.go(Screen::Case);
        super::case_view::search(app);
    }
}

fn group_detail(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    let Some(key) = app.findings.selected_group.clone() else {
        return;
    };
    let mut action = None;
    let mut open = None;
    let mut open_case = None;
    egui::ScrollArea::vertical()
        .id_salt("gdetail")
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(
                    egui::RichText::new(format!(
                        "{} {}",
                        match key.by {
                            GroupBy::Bill => l.t("订单", "Bill"),
                            GroupBy::User => l.t("用户", "User"),
                        },
                        key_words(&key.key, l)
                    ))
                    .strong()
                    .monospace(),
                );
                ui.label(format!(
                    "{} {}",
                    app.findings.group_rows.len(),
                    l.t("条差错（当前筛选）", "findings (in the filter)")
                ));
                let case_key = match key.by {
                    GroupBy::Bill => app
                        .findings
                        .group_rows
                        .iter()
                        .find_map(|r| r.agent_bill_no.clone()),
                    GroupBy::User => app
                        .findings
                        .group_rows
                        .iter()
                        .find_map(|r| r.user_id.map(|u| u.to_string())),
                };
                if let Some(k) = case_key
                    && ui.button(l.t("打开客诉视图", "Open its case")).clicked()
                {
                    open_case = Some(k);
                }
            });
            ui.horizontal(|ui| {
                for to in [Status::Acknowledged, Status::Resolved, Status::Accepted] {
                    let label = match to {
                        Status::Acknowledged => l.t("确认整组", "Acknowledge this group"),
                        Status::Resolved => l.t("解决整组", "Resolve this group"),
                        _ => l.t("接受整组", "Accept this group"),
                    };
                    if ui.button(label).clicked() {
                        action = Some(to);
                    }
                }
                ui.weak(l.t(
                    "（同一说明，填在上方“说明”栏）",
                    "(one note: the Note field above)",
                ));
            });
            egui::Grid::new("gfindings").striped(true).show(ui, |ui| {
                for r in &app.findings.group_rows {
                    if ui
                        .link(format!("#{} {}", r.id, widgets::kind_name(r.kind, l)))
                        .clicked()
                    {
                        open = Some(r.clone());
                    }
                    ui.label(status_name(r.status, l));
                    ui.label(
                        egui::RichText::new(r.difference.map(format_amount).unwrap_or_default())
                            .monospace(),
                    );
                    ui.label(l.t(&r.detail_zh, &r.detail_en));
                    ui.end_row();
                }
            });
        });
    if let Some(to) = action {
        let sel = Selection::Groups {
            filter: Box::new(app.findings.filter.clone()),
            keys: vec![key],
        };
        apply(app, sel, to, None);
    }
    if let Some(r) = open {
        select(app, r);
    }
    if let Some(k) = open_case {
        app.case.query = k;
        app.go(Screen::Case);
        super::case_view::search(app);
    }
}

/// A history event's action in words (the workspace stores stable words).
fn action_name(action: &str, l: Lang) -> &str {
    match action {
        "detected" => l.t("发现", "detected"),
        "reappeared" => l.t("再次出现，重新打开", "appeared again, reopened"),
        "settled" => l.t("后续对账不再出现，自动解决", "gone in a later run, settled"),
        "acknowledge" => l.t("确认", "acknowledged"),
        "resolve" => l.t("解决", "resolved"),
        "accept" => l.t("接受", "accepted"),
        "reopen" => l.t("重新打开", "reopened"),
        other => other,
    }
}

/// A keyboard shortcut on the findings screen; true when it was used.
pub(crate) fn shortcut(app: &mut App, s: super::keys::Shortcut) -> bool {
    use super::keys::Shortcut;
    match s {
        Shortcut::FocusSearch => {
            app.findings.focus_search = true;
            true
        }
        Shortcut::NextPage | Shortcut::PrevPage => {
            let st = &app.findings;
            let (first, last) = page_keys(st);
            let cursor = if s == Shortcut::NextPage {
                last.filter(|_| st.has_next).map(QueueCursor::After)
            } else {
                first.filter(|_| st.has_prev).map(QueueCursor::Before)
            };
            // At either end the key does nothing, as the disabled button.
            if let Some(c) = cursor {
                fetch(app, c, false);
            }
            true
        }
        Shortcut::Refresh => {
            load(app);
            true
        }
        _ => false,
    }
}

/// A finding's key as the console shows it: the stored key (`user:15`,
/// `trans_flow.trans_no`) in the console's language; bills and flow numbers
/// are data and stay as they are.
fn key_words(key: &str, l: Lang) -> String {
    if l == Lang::En {
        return key.to_owned();
    }
    if let Some(n) = key.strip_prefix("user:") {
        return format!("用户 {n}");
    }
    // The keys of issue 14's findings: a custodian account, a fund-flow
    // movement, a fund-flow file's balance, a refund of an order.
    for (prefix, zh) in [
        ("custody:", "存管账户 "),
        ("movement:", "资金流水 "),
        ("balance:", "账户余额 "),
    ] {
        if let Some(rest) = key.strip_prefix(prefix) {
            return format!("{zh}{rest}");
        }
    }
    if let Some((bill, refund)) = key.split_once("#refund") {
        let refund = refund.trim_start_matches(':');
        return if refund.is_empty() {
            format!("{bill} 退款")
        } else {
            format!("{bill} 退款 {refund}")
        };
    }
    match key {
        "trans_flow.trans_no" => "交易流水.流水号".to_owned(),
        other => other.to_owned(),
    }
}
