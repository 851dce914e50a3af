//! The five tables: one page of rows at a time from the database (keyset
//! paging in [`crate::browse`]), sortable and filterable through bound
//! parameters, only the visible rows laid out.

use super::{App, Lang, widgets};
use crate::browse::{self, Cursor, Page, Sort, SortCol};
use crate::views::{Filter, View};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Rows per page.
pub(crate) const PAGE_ROWS: u32 = 200;

/// Filter fields as typed (parsed when applied).
#[derive(Debug, Clone, Default)]
pub(crate) struct FilterInputs {
    pub key: String,
    pub user: String,
    pub trans_type: String,
    pub status: String,
    pub from: String,
    pub to: String,
    pub min: String,
    pub max: String,
    pub mismatched: bool,
}

impl FilterInputs {
    /// Parses the fields; the error names the field and the value.
    pub(crate) fn parse(&self, l: Lang) -> Result<Filter, String> {
        let opt = |s: &str| {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        let int = |name: &str, s: &str| -> Result<Option<i64>, String> {
            opt(s)
                .map(|t| {
                    t.parse::<i64>().map_err(|_| {
                        format!("{name}: '{t}' {}", l.t("不是整数", "is not a whole number"))
                    })
                })
                .transpose()
        };
        let time = |name: &str, s: &str| -> Result<_, String> {
            opt(s)
                .map(|t| {
                    crate::views::parse_time(&t).ok_or_else(|| {
                        format!(
                            "{name}: '{t}' {}",
                            l.t(
                                "不是时间，请写成 2026-11-20 或 2026-11-20 08:30:00",
                                "is not a time: write 2026-11-20 or 2026-11-20 08:30:00"
                            )
                        )
                    })
                })
                .transpose()
        };
        let money = |name: &str, s: &str| -> Result<_, String> {
            opt(s)
                .map(|t| crate::money::parse_amount(&t).map_err(|e| format!("{name}: {e}")))
                .transpose()
        };
        Ok(Filter {
            key: opt(&self.key),
            user_id: int(l.t("用户", "user"), &self.user)?,
            trans_type: int(l.t("类型", "type"), &self.trans_type)?,
            status: opt(&self.status),
            from: time(l.t("起", "from"), &self.from)?,
            to: time(l.t("止", "to"), &self.to)?,
            min_amount: money(l.t("最小金额", "min amount"), &self.min)?,
            max_amount: money(l.t("最大金额", "max amount"), &self.max)?,
            mismatched_only: self.mismatched,
        })
    }
}

/// One table's state.
pub(crate) struct TState {
    pub inputs: FilterInputs,
    pub filter: Filter,
    pub sort: Sort,
    pub cursor: Cursor,
    /// The last good page (stays on screen while the next one loads).
    pub page: Option<Page>,
    pub loading: bool,
    pub ticket: u64,
    pub count: Option<u64>,
    pub counting: bool,
    pub fetch_time: Option<Duration>,
    pub selected: Option<usize>,
    /// Initial column widths of the page on screen.
    pub widths: Vec<f32>,
}

impl Default for TState {
    fn default() -> Self {
        Self {
            inputs: FilterInputs::default(),
            filter: Filter::default(),
            sort: Sort::default(),
            cursor: Cursor::First,
            page: None,
            loading: false,
            ticket: 0,
            count: None,
            counting: false,
            fetch_time: None,
            selected: None,
            widths: Vec::new(),
        }
    }
}

/// Every table's state.
#[derive(Default)]
pub(crate) struct Tables {
    pub map: HashMap<View, TState>,
}

/// Opens a table: the first page, unless one is already on screen.
pub(crate) fn open(app: &mut App, view: View) {
    let st = app.tables.map.entry(view).or_default();
    if st.page.is_none() && !st.loading {
        fetch(app, view, Cursor::First, true);
    }
}

/// Fetches a page; `recount` also counts the matching rows.
pub(crate) fn fetch(app: &mut App, view: View, cursor: Cursor, recount: bool) {
    let Some(c) = app.conn.clone() else { return };
    if !c.schema.has_table(view.table()) {
        return; // the screen says so in place of the rows
    }
    let st = app.tables.map.entry(view).or_default();
    st.ticket += 1;
    st.loading = true;
    let ticket = st.ticket;
    let filter = st.filter.clone();
    let sort = st.sort;
    st.cursor = cursor.clone();
    if recount {
        st.count = None;
        st.counting = true;
        let c2 = c.clone();
        let f2 = filter.clone();
        app.jobs.spawn(async move {
            let r = browse::count(&c2.db, view, &f2).await;
            Box::new(move |app: &mut App| {
                let st = app.tables.map.entry(view).or_default();
                if st.ticket < ticket {
                    return;
                }
                st.counting = false;
                if let Ok(n) = r {
                    st.count = Some(n);
                }
            }) as super::jobs::Apply
        });
    }
    app.jobs.spawn(async move {
        let started = Instant::now();
        let r = browse::page(&c.db, view, &filter, sort, &cursor, PAGE_ROWS).await;
        let took = started.elapsed();
        Box::new(move |app: &mut App| {
            let st = app.tables.map.entry(view).or_default();
            if st.ticket != ticket {
                return; // a newer request replaced this one
            }
            st.loading = false;
            match r {
                Ok(p) => {
                    st.widths = column_widths(view, &p);
                    st.page = Some(p);
                    st.fetch_time = Some(took);
                    st.selected = None;
                }
                Err(e) => {
                    let l = app.lang;
                    app.error(format!("{}{e}", l.t("查询失败：", "The query failed: ")));
                }
            }
        }) as super::jobs::Apply
    });
}

/// The table screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui, view: View) {
    let l = app.lang;
    let screen_title = app.screen.title(l);
    if app
        .conn
        .as_ref()
        .is_some_and(|c| !c.schema.has_table(view.table()))
    {
        ui.horizontal(|ui| {
            ui.heading(screen_title);
            ui.label(egui::RichText::new(view.table()).monospace().weak());
        });
        ui.add_space(12.0);
        egui::Frame::group(ui.style())
            .inner_margin(12.0)
            .show(ui, |ui| {
                ui.add(
                    egui::Label::new(format!(
                        "{} {}",
                        view.table(),
                        l.t(
                            "这张表在此数据库中不存在：这里没有可以显示的行。srb 自己的数据库没有 payrecon 的 recharge_order、notify_log、idempotency_record 三张表，这是正常的。",
                            "does not exist in this database: there are no rows to show. srb's own database has no recharge_order, notify_log or idempotency_record (payrecon's contract tables); that is normal."
                        )
                    ))
                    .wrap(),
                );
            });
        return;
    }
    let mut apply = false;
    let mut nav: Option<Cursor> = None;
    let mut open_case: Option<String> = None;
    {
        let st = app.tables.map.entry(view).or_default();
        ui.horizontal(|ui| {
            ui.heading(screen_title);
            ui.label(egui::RichText::new(view.table()).monospace().weak());
            match (st.count, st.counting) {
                (Some(n), _) => {
                    ui.label(format!("{n} {}", l.t("行", "rows")));
                }
                (None, true) => {
                    ui.weak(l.t("计数中…", "counting…"));
                }
                _ => {}
            }
            if let Some(t) = st.fetch_time {
                ui.weak(format!(
                    "{} {}",
                    l.t("本页查询", "page query"),
                    widgets::elapsed(t)
                ));
            }
            if st.loading {
                ui.spinner();
            }
        });
        apply |= filter_bar(ui, view, &mut st.inputs, l);
        ui.horizontal(|ui| {
            let before = st.sort;
            widgets::combo(
                ui,
                ("sort", view),
                l.t("排序", "sort"),
                sort_name(st.sort.col, view, l),
                |ui| {
                    for c in SortCol::for_view(view) {
                        ui.selectable_value(&mut st.sort.col, *c, sort_name(*c, view, l));
                    }
                },
            );
            ui.checkbox(&mut st.sort.desc, l.t("倒序", "descending"));
            if st.sort != before {
                apply = true;
            }
            if st.sort.col == SortCol::Amount {
                ui.weak(l.t(
                    "（金额没有索引：大表排序需要扫描）",
                    "(amount is not indexed: sorting a large table scans it)",
                ));
            }
            ui.separator();
            let (has_prev, has_next, first, last) = match &st.page {
                Some(p) => (
                    p.has_prev,
                    p.has_next,
                    p.keys.first().cloned(),
                    p.keys.last().cloned(),
                ),
                None => (false, false, None, None),
            };
            if ui
                .add_enabled(has_prev, egui::Button::new(l.t("|◀ 首页", "|◀ First")))
                .clicked()
            {
                nav = Some(Cursor::First);
            }
            if ui
                .add_enabled(has_prev, egui::Button::new(l.t("◀ 上一页", "◀ Previous")))
                .clicked()
            {
                nav = first.map(Cursor::Before);
            }
            if ui
                .add_enabled(has_next, egui::Button::new(l.t("下一页 ▶", "Next ▶")))
                .clicked()
            {
                nav = last.map(Cursor::After);
            }
            if ui
                .add_enabled(has_next, egui::Button::new(l.t("末页 ▶|", "Last ▶|")))
                .clicked()
            {
                nav = Some(Cursor::Last);
            }
            if let Some(i) = st.selected
                && let Some(key) = st
                    .page
                    .as_ref()
                    .and_then(|p| case_key(view, p.rows.get(i)?))
            {
                ui.separator();
                if ui
                    .button(format!("{} {key}", l.t("查看客诉：", "Open case:")))
                    .clicked()
                {
                    open_case = Some(key);
                }
            }
        });
    }
    if apply {
        let l = app.lang;
        let parsed = app.tables.map.entry(view).or_default().inputs.parse(l);
        match parsed {
            Ok(f) => {
                app.tables.map.entry(view).or_default().filter = f;
                fetch(app, view, Cursor::First, true);
            }
            Err(e) => app.error(e),
        }
    } else if let Some(c) = nav {
        fetch(app, view, c, false);
    }
    if let Some(k) = open_case {
        app.case.query = k;
        app.go(super::Screen::Case);
        super::case_view::search(app);
        return;
    }
    let st = app.tables.map.entry(view).or_default();
    match &st.page {
        None => {
            ui.label(l.t("正在加载…", "loading…"));
        }
        Some(p) if p.rows.is_empty() => {
            ui.label(l.t("没有符合条件的行。", "No rows match."));
        }
        Some(p) => {
            let clicked = rows_table(ui, view, p, &st.widths, st.selected, l);
            if let Some(i) = clicked {
                st.selected = Some(i);
            }
        }
    }
}

/// The filter fields a view has; true when the user asked to apply them.
fn filter_bar(ui: &mut egui::Ui, view: View, f: &mut FilterInputs, l: Lang) -> bool {
    let mut apply = false;
    ui.horizontal_wrapped(|ui| {
        let mut edit = |ui: &mut egui::Ui, label: &str, v: &mut String, w: f32| {
            let r = widgets::field(ui, label, v, w);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                apply = true;
            }
        };
        if view != View::Accounts {
            let key = match view {
                View::Flows => l.t("流水号", "trans_no"),
                View::Idempotency => l.t("幂等键", "key (seq)"),
                _ => "agentBillNo",
            };
            edit(ui, key, &mut f.key, 190.0);
        }
        edit(ui, l.t("用户", "user"), &mut f.user, 70.0);
        if view == View::Flows {
            edit(ui, l.t("类型", "type"), &mut f.trans_type, 30.0);
        }
        if matches!(view, View::Orders | View::Notify | View::Idempotency) {
            edit(ui, l.t("状态", "status"), &mut f.status, 80.0);
        }
        edit(ui, l.t("起", "from"), &mut f.from, 130.0);
        edit(ui, l.t("止", "to"), &mut f.to, 130.0);
        if view != View::Idempotency {
            edit(ui, l.t("金额≥", "amount ≥"), &mut f.min, 70.0);
            edit(ui, l.t("≤", "≤"), &mut f.max, 70.0);
        }
        if view == View::Accounts {
            ui.checkbox(
                &mut f.mismatched,
                l.t(
                    "只看余额不符（扫描全部流水）",
                    "mismatched only (scans all flows)",
                ),
            );
        }
        if ui.button(l.t("筛选", "Filter")).clicked() {
            apply = true;
        }
        if ui.button(l.t("清除", "Clear")).clicked() {
            *f = FilterInputs::default();
            apply = true;
        }
    });
    apply
}

fn sort_name(c: SortCol, view: View, l: Lang) -> &'static str {
    match c {
        SortCol::Id if view == View::Accounts => l.t("用户编号", "user id"),
        SortCol::Id => l.t("编号", "id"),
        SortCol::Time => l.t("时间", "time"),
        SortCol::Amount => l.t("金额", "amount"),
    }
}

/// The case search a row opens: its bill, or its user for accounts.
fn case_key(view: View, row: &[String]) -> Option<String> {
    let i = match view {
        View::Flows => 3,
        View::Orders | View::Notify => 1,
        View::Idempotency => 2,
        View::Accounts => 0,
    };
    row.get(i).filter(|s| !s.is_empty()).cloned()
}

/// A column's title in the console's language.
pub(crate) fn column_title(col: &'static str, l: Lang) -> &'static str {
    if l == Lang::En {
        return col;
    }
    match col {
        "id" => "编号",
        "user_id" => "用户",
        "user_name" => "用户名",
        "trans_no" => "流水号",
        "trans_type" => "类型",
        "trans_type_name" => "类型名",
        "trans_amount" => "金额",
        "memo" => "备注",
        "create_time" => "创建时间",
        "update_time" => "更新时间",
        "is_deleted" => "已删除",
        "agent_bill_no" => "商户订单号",
        "bind_code" => "绑定码",
        "charge_amt" => "充值金额",
        "fee_amt" => "手续费",
        "status" => "状态",
        "status_name" => "状态名",
        "version" => "版本",
        "result_code" => "结果码",
        "sign_ok" => "验签",
        "outcome" => "处理结果",
        "response_body" => "应答",
        "received_at" => "收到时间",
        "handled_ms" => "耗时ms",
        "source" => "来源",
        "seq" => "幂等键",
        "request_hash" => "请求摘要",
        "locked_at" => "加锁时间",
        "created_at" => "创建时间",
        "completed_at" => "完成时间",
        "expires_at" => "过期时间",
        "amount" => "账面余额",
        "expected_amount" => "流水应有余额",
        "amount_difference" => "差额",
        "freeze_amount" => "冻结",
        "expected_freeze" => "应有冻结",
        "freeze_difference" => "冻结差额",
        "flows" => "流水数",
        other => other,
    }
}

/// Initial column widths from a page's own text (then resizable by the
/// user): computed once when the page arrives, not every frame.
fn column_widths(view: View, p: &Page) -> Vec<f32> {
    view.header()
        .iter()
        .enumerate()
        .map(|(ci, h)| {
            let chars = p
                .rows
                .iter()
                .take(50)
                .map(|r| r.get(ci).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
                .max(column_title(h, Lang::Zh).chars().count() * 2)
                .max(h.len().min(12));
            (chars as f32 * 7.5 + 16.0).clamp(44.0, 340.0)
        })
        .collect()
}

/// Lays out only the visible rows; returns a clicked row.
fn rows_table(
    ui: &mut egui::Ui,
    view: View,
    p: &Page,
    widths: &[f32],
    selected: Option<usize>,
    l: Lang,
) -> Option<usize> {
    use egui_extras::{Column, TableBuilder};
    let header = view.header();
    let diff_cols: &[usize] = if view == View::Accounts { &[3, 6] } else { &[] };
    let mut clicked = None;
    let row_h = 20.0;
    let mut tb = TableBuilder::new(ui);
    for w in widths {
        tb = tb.column(Column::initial(*w).at_least(36.0).clip(true));
    }
    tb.id_salt(("rows", view))
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .min_scrolled_height(200.0)
        .header(row_h + 2.0, |mut h| {
            for c in header {
                h.col(|ui| {
                    ui.strong(column_title(c, l));
                });
            }
        })
        .body(|body| {
            body.rows(row_h, p.rows.len(), |mut row| {
                let i = row.index();
                row.set_selected(selected == Some(i));
                if let Some(cells) = p.rows.get(i) {
                    for (ci, cell) in cells.iter().enumerate() {
                        row.col(|ui| {
                            let mut t = egui::RichText::new(cell.as_str());
                            if diff_cols.contains(&ci) && cell != "0.00" && !cell.is_empty() {
                                t = t
                                    .color(widgets::severity_color(
                                        crate::recon::Severity::Critical,
                                    ))
                                    .strong();
                            }
                            ui.add(egui::Label::new(t).truncate());
                        });
                    }
                }
                if row.response().clicked() {
                    clicked = Some(i);
                }
            });
        });
    clicked
}
