//! The five tables: one page of rows at a time from the database (keyset
//! paging in [`crate::browse`]), sortable by any column header and
//! filterable through bound parameters, only the visible rows laid out.
//!
//! The operator's column arrangement (shown, order, widths) is kept per table
//! in [`super::Prefs`], so that it survives a restart.

use super::keys::Shortcut;
use super::{App, Lang, widgets};
use crate::browse::{self, Cursor, Page, Sort, Totals};
use crate::views::{Filter, View};
use chrono::NaiveDateTime;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Rows per page.
pub(crate) const PAGE_ROWS: u32 = 200;

/// Filter fields as typed (parsed when applied).
#[derive(Debug, Clone, Default)]
pub(crate) struct FilterInputs {
    /// Business key (flow number, bill number, idempotency key).
    pub key: String,
    /// User id.
    pub user: String,
    /// Flow type code.
    pub trans_type: String,
    /// Status code or the word the table shows.
    pub status: String,
    /// From (inclusive): a date or a time.
    pub from: String,
    /// To (inclusive): a date includes its whole day.
    pub to: String,
    /// Minimum amount.
    pub min: String,
    /// Maximum amount.
    pub max: String,
    /// Accounts: only those whose balance differs from their flows.
    pub mismatched: bool,
}

/// The exclusive end of an inclusive "to" as typed: a date alone includes
/// the whole day (`2026-11-28` → before `2026-11-29 00:00`), a time includes
/// the whole minute or second it names.
fn inclusive_end(typed: &str) -> Option<NaiveDateTime> {
    let t = typed.trim();
    let start = crate::views::parse_time(t)?;
    let step = if chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok() {
        chrono::TimeDelta::days(1)
    } else if t.matches(':').count() >= 2 {
        chrono::TimeDelta::seconds(1)
    } else {
        chrono::TimeDelta::minutes(1)
    };
    start.checked_add_signed(step)
}

impl FilterInputs {
    /// Parses the fields; the error names the field and the value. The "to"
    /// time is inclusive ([`inclusive_end`]); [`Filter::to`] is the exclusive
    /// bound it gives.
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
        let bad_time = |name: &str, t: &str| {
            format!(
                "{name}: '{t}' {}",
                l.t(
                    "不是时间，请写成 2026-11-20 或 2026-11-20 08:30:00",
                    "is not a time: write 2026-11-20 or 2026-11-20 08:30:00"
                )
            )
        };
        let from = opt(&self.from)
            .map(|t| crate::views::parse_time(&t).ok_or_else(|| bad_time(l.t("起", "from"), &t)))
            .transpose()?;
        let to = opt(&self.to)
            .map(|t| inclusive_end(&t).ok_or_else(|| bad_time(l.t("止", "to"), &t)))
            .transpose()?;
        let money = |name: &str, s: &str| -> Result<_, String> {
            opt(s)
                .map(|t| crate::money::parse_amount(&t).map_err(|e| format!("{name}: {e}")))
                .transpose()
        };
        Ok(Filter {
            key: opt(&self.key),
            user_id: int(l.t("用户", "user"), &self.user)?,
            trans_type: int(l.t("类型", "type"), &self.trans_type)?,
            status: opt(&self.status).map(|s| status_code(&s)),
            from,
            to,
            min_amount: money(l.t("最小金额", "min amount"), &self.min)?,
            max_amount: money(l.t("最大金额", "max amount"), &self.max)?,
            mismatched_only: self.mismatched,
        })
    }
}

/// A status typed as the table shows it (a callback outcome or an
/// idempotency status in Chinese) as the code the database holds; codes and
/// order statuses (which the view's filter reads itself) pass unchanged.
fn status_code(typed: &str) -> String {
    match typed.trim() {
        "已入账" => "credited",
        "重复回调" | "重复回调（未再入账）" => "idempotent",
        "签名错误" => "rejected_sign",
        "内容冲突" => "rejected_conflict",
        "处理出错" | "失败" => "failed",
        "已忽略" | "已忽略（未成功）" => "ignored",
        "处理中" => "processing",
        "成功" => "succeeded",
        other => other,
    }
    .to_owned()
}

/// Where the page on screen stands in the filtered rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// Its first row is the n-th (0-based) from the start.
    Start(u64),
    /// Its first row is the n-th from the end (1 = the last row): known
    /// after "Last" before the count arrives.
    End(u64),
}

/// How the page being fetched moves from the one on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    First,
    Next,
    Prev,
    Last,
    /// The same page again (refresh).
    Same,
}

/// One table's state.
pub(crate) struct TState {
    /// The filter fields as typed.
    pub inputs: FilterInputs,
    /// The filter applied (what the page, count and totals use).
    pub filter: Filter,
    /// The order (a header click).
    pub sort: Sort,
    /// The page asked for last.
    pub cursor: Cursor,
    /// The last good page (stays on screen while the next one loads).
    pub page: Option<Page>,
    /// A page is being fetched.
    pub loading: bool,
    /// The page request's number: a page that arrives for an older one is dropped.
    pub ticket: u64,
    /// The filter's number, for the count and totals: an answer for an
    /// older filter (or a cancelled one) is dropped.
    pub generation: u64,
    /// Matching rows, once counted.
    pub count: Option<u64>,
    /// The count is running.
    pub counting: bool,
    /// Count and Σ amount of the matching rows, once computed.
    pub totals: Option<Totals>,
    /// The totals are running.
    pub totalling: bool,
    /// How long the page on screen took.
    pub fetch_time: Option<Duration>,
    /// The selected row of the page (click, ↑/↓).
    pub selected: Option<usize>,
    pos: Pos,
    pending: Move,
    /// A row to scroll to in the next frame (the first of a new page, the
    /// row selected with the keyboard).
    scroll_to: Option<(usize, Option<egui::Align>)>,
    /// Whether a row had the keyboard focus in the last frame.
    pub row_focused: bool,
    /// Focus the key field in the next frame (Ctrl+F).
    focus_key: bool,
    /// Bumped when the operator rearranges the columns: the grid starts
    /// again from the remembered widths.
    layout: u64,
    /// The visible columns' widths as last drawn (a change while the mouse
    /// is down is the operator dragging one).
    drawn: Vec<f32>,
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
            generation: 0,
            count: None,
            counting: false,
            totals: None,
            totalling: false,
            fetch_time: None,
            selected: None,
            pos: Pos::Start(0),
            pending: Move::First,
            scroll_to: None,
            row_focused: false,
            focus_key: false,
            layout: 0,
            drawn: Vec::new(),
        }
    }
}

/// Every table's state.
#[derive(Default)]
pub(crate) struct Tables {
    /// Per view, created when first shown.
    pub map: HashMap<View, TState>,
}

/// Opens a table: the first page, unless one is already on screen.
pub(crate) fn open(app: &mut App, view: View) {
    let st = app.tables.map.entry(view).or_default();
    if st.page.is_none() && !st.loading {
        fetch(app, view, Cursor::First, true);
    }
}

/// Fetches a page; `recount` also counts and totals the matching rows
/// (separate queries, each dropped when a newer request replaces it).
pub(crate) fn fetch(app: &mut App, view: View, cursor: Cursor, recount: bool) {
    let mv = match &cursor {
        Cursor::First => Move::First,
        Cursor::Last => Move::Last,
        Cursor::After(_) => Move::Next,
        Cursor::Before(_) => Move::Prev,
    };
    fetch_as(app, view, cursor, mv, recount);
}

/// [`fetch`], saying how the page moves (for "rows x–y").
fn fetch_as(app: &mut App, view: View, cursor: Cursor, mv: Move, recount: bool) {
    let Some(c) = app.conn.clone() else { return };
    if !c.schema.has_table(view.table()) {
        return; // the screen says so in place of the rows
    }
    let st = app.tables.map.entry(view).or_default();
    st.ticket += 1;
    st.loading = true;
    st.pending = mv;
    let ticket = st.ticket;
    let filter = st.filter.clone();
    let sort = st.sort;
    st.cursor = cursor.clone();
    if recount {
        st.generation += 1;
        let generation = st.generation;
        st.count = None;
        st.counting = true;
        st.totals = None;
        st.totalling = true;
        let (c2, f2) = (c.clone(), filter.clone());
        app.jobs.spawn(async move {
            let r = browse::count(&c2.db, view, &f2).await;
            Box::new(move |app: &mut App| {
                let st = app.tables.map.entry(view).or_default();
                if st.generation != generation {
                    return; // another filter, or cancelled
                }
                st.counting = false;
                if let Ok(n) = r {
                    st.count = Some(n);
                }
            }) as super::jobs::Apply
        });
        let (c3, f3) = (c.clone(), filter.clone());
        app.jobs.spawn(async move {
            let r = browse::totals(&c3.db, view, &f3).await;
            Box::new(move |app: &mut App| {
                let st = app.tables.map.entry(view).or_default();
                if st.generation != generation {
                    return;
                }
                st.totalling = false;
                match r {
                    Ok(t) => {
                        st.count.get_or_insert(t.count);
                        st.totals = Some(t);
                    }
                    Err(e) => {
                        let l = app.lang;
                        app.error(format!(
                            "{}{e}",
                            l.t("合计查询失败：", "The totals query failed: ")
                        ));
                    }
                }
            }) as super::jobs::Apply
        });
    }
    app.jobs.spawn(async move {
        let started = Instant::now();
        let mut r = browse::page(&c.db, view, &filter, sort, &cursor, PAGE_ROWS).await;
        if let Ok(p) = &mut r
            && let Err(e) = browse::with_user_names(&c.db, &c.schema, view, p).await
        {
            r = Err(e);
        }
        let took = started.elapsed();
        Box::new(move |app: &mut App| {
            let st = app.tables.map.entry(view).or_default();
            if st.ticket != ticket {
                return; // a newer request replaced this one
            }
            st.loading = false;
            match r {
                Ok(p) => {
                    let old_len = st.page.as_ref().map_or(0, |p| p.rows.len() as u64);
                    let n = p.rows.len() as u64;
                    st.pos = match (st.pending, st.pos) {
                        (Move::First, _) => Pos::Start(0),
                        (Move::Last, _) => Pos::End(n),
                        (Move::Next, Pos::Start(o)) => Pos::Start(o + old_len),
                        (Move::Next, Pos::End(e)) => Pos::End(e.saturating_sub(old_len).max(n)),
                        (Move::Prev, Pos::Start(o)) => Pos::Start(o.saturating_sub(n)),
                        (Move::Prev, Pos::End(e)) => Pos::End(e + n),
                        (Move::Same, p) => p,
                    };
                    if !p.has_prev {
                        st.pos = Pos::Start(0);
                    }
                    if st.pending != Move::Same {
                        st.selected = None;
                        // Every new page shows its first row.
                        st.scroll_to = Some((0, Some(egui::Align::TOP)));
                    }
                    st.page = Some(p);
                    st.fetch_time = Some(took);
                }
                Err(e) => {
                    let l = app.lang;
                    app.error(format!("{}{e}", l.t("查询失败：", "The query failed: ")));
                }
            }
        }) as super::jobs::Apply
    });
}

/// Runs the page, count and totals again (F5, after a header click the
/// count stays).
fn refresh(app: &mut App, view: View) {
    let cursor = app.tables.map.entry(view).or_default().cursor.clone();
    fetch_as(app, view, cursor, Move::Same, true);
}

/// Stops waiting for the table's running queries: their answers, when they
/// come, are dropped (the database finishes them on its own).
fn cancel(st: &mut TState) {
    st.ticket += 1;
    st.generation += 1;
    st.loading = false;
    st.counting = false;
    st.totalling = false;
}

/// The rows the page on screen holds, 1-based and inclusive, when known.
fn row_range(st: &TState) -> Option<(u64, u64)> {
    let n = st.page.as_ref().map_or(0, |p| p.rows.len() as u64);
    if n == 0 {
        return None;
    }
    let first = match (st.pos, st.count) {
        (Pos::Start(o), _) => o + 1,
        (Pos::End(e), Some(total)) => (total + 1).saturating_sub(e).max(1),
        (Pos::End(_), None) => return None,
    };
    Some((first, first + n - 1))
}

/// "rows 1–200 of 1234" in the console's language.
fn position_text(st: &TState, l: Lang) -> String {
    let n = st.page.as_ref().map_or(0, |p| p.rows.len());
    match (row_range(st), st.count) {
        (Some((a, b)), Some(total)) => match l {
            Lang::Zh => format!("第 {a}–{b} 行，共 {total} 行"),
            Lang::En => format!("rows {a}–{b} of {total}"),
        },
        (Some((a, b)), None) => match l {
            Lang::Zh => format!("第 {a}–{b} 行"),
            Lang::En => format!("rows {a}–{b}"),
        },
        (None, Some(0)) => l.t("0 行", "0 rows").to_owned(),
        (None, _) if n > 0 => match l {
            Lang::Zh => format!("最后 {n} 行"),
            Lang::En => format!("the last {n} rows"),
        },
        (None, _) => String::new(),
    }
}

/// The columns of a table in the operator's order (indices into
/// [`browse::columns`]), hidden ones included.
fn column_order(app: &App, view: View) -> Vec<usize> {
    let cols = browse::columns(view);
    let mut order = Vec::with_capacity(cols.len());
    if let Some(p) = app.prefs.tables.get(view.table()) {
        for n in &p.order {
            if let Some(i) = cols.iter().position(|c| c == n)
                && !order.contains(&i)
            {
                order.push(i);
            }
        }
    }
    for i in 0..cols.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order
}

/// The columns shown, in order (never none: hiding every column shows all).
fn visible_columns(app: &App, view: View) -> Vec<usize> {
    let cols = browse::columns(view);
    let order = column_order(app, view);
    let hidden = app.prefs.tables.get(view.table()).map(|p| &p.hidden);
    let shown: Vec<usize> = order
        .iter()
        .copied()
        .filter(|i| hidden.is_none_or(|h| !h.iter().any(|n| cols.get(*i) == Some(&n.as_str()))))
        .collect();
    if shown.is_empty() { order } else { shown }
}

/// A change to the column arrangement asked for in the "Columns" menu.
enum ColEdit {
    Toggle(&'static str),
    Swap(usize, usize),
    Reset,
}

fn apply_col_edit(app: &mut App, view: View, e: ColEdit) {
    let cols = browse::columns(view);
    let order = column_order(app, view);
    let p = app.prefs.tables.entry(view.table().to_owned()).or_default();
    match e {
        ColEdit::Toggle(name) => {
            if let Some(at) = p.hidden.iter().position(|h| h == name) {
                p.hidden.remove(at);
            } else {
                p.hidden.push(name.to_owned());
            }
        }
        ColEdit::Swap(a, b) => {
            let mut names: Vec<String> = order
                .iter()
                .filter_map(|i| cols.get(*i).map(|c| (*c).to_owned()))
                .collect();
            if a < names.len() && b < names.len() {
                names.swap(a, b);
            }
            p.order = names;
        }
        ColEdit::Reset => {
            p.order.clear();
            p.hidden.clear();
            p.widths.clear();
        }
    }
}

/// The table screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui, view: View) {
    let l = app.lang;
    // A field being typed in at the start of the frame keeps its keys, even
    // if Enter makes it give up the focus while it is drawn.
    let typing = ui.ctx().text_edit_focused();
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
    let cols = browse::columns(view);
    let order = column_order(app, view);
    let visible = visible_columns(app, view);
    let hidden: Vec<String> = app
        .prefs
        .tables
        .get(view.table())
        .map(|p| p.hidden.clone())
        .unwrap_or_default();
    let mut apply = false;
    let mut nav: Option<(Cursor, Move)> = None;
    let mut open_case: Option<String> = None;
    let mut col_edit: Option<ColEdit> = None;
    {
        let st = app.tables.map.entry(view).or_default();
        ui.horizontal(|ui| {
            let h = ui.heading(screen_title);
            // The database's own table name helps in English; the Chinese
            // screen keeps it to the hover (no raw identifiers on it).
            match l {
                Lang::En => {
                    ui.label(egui::RichText::new(view.table()).monospace().weak());
                }
                Lang::Zh => {
                    h.on_hover_text(format!("数据库表 {}", view.table()));
                }
            }
            let pos = position_text(st, l);
            if !pos.is_empty() {
                ui.label(pos);
            }
            if st.counting && st.count.is_none() {
                ui.weak(l.t("计数中…", "counting…"));
            }
            if let Some(t) = st.fetch_time {
                ui.weak(format!(
                    "{} {}",
                    l.t("本页查询", "page query"),
                    widgets::elapsed(t)
                ));
            }
            if st.loading || st.counting || st.totalling {
                ui.spinner();
                if ui
                    .button(l.t("取消查询", "Cancel query"))
                    .on_hover_text(l.t(
                        "不再等待这些查询：结果到达时被丢弃（数据库会自行把查询做完）。",
                        "Stop waiting for these queries: their results are dropped when they arrive (the database finishes them on its own).",
                    ))
                    .clicked()
                {
                    cancel(st);
                }
            }
        });
        let focus = std::mem::take(&mut st.focus_key);
        apply |= filter_bar(ui, view, &mut st.inputs, focus, l);
        ui.horizontal(|ui| {
            // "Open case" first, so that it never moves; disabled until a row is chosen.
            let key = st
                .selected
                .and_then(|i| st.page.as_ref()?.rows.get(i))
                .and_then(|r| case_key(view, r));
            let b = ui
                .add_enabled(key.is_some(), egui::Button::new(l.t("查看客诉", "Open case")))
                .on_hover_text(l.t(
                    "打开所选行的客诉（Enter）：充值看订单，其他流水和账户看用户",
                    "Open the selected row's case (Enter): a recharge by its bill, other flows and accounts by their user",
                ))
                .on_disabled_hover_text(l.t("先点选一行（或用 ↑/↓）", "Select a row first (click, or ↑/↓)"));
            if b.clicked() {
                open_case.clone_from(&key);
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
            // While a page loads (a new sort or filter among them), the page
            // on screen is not where the next one starts from.
            let (has_prev, has_next) = (has_prev && !st.loading, has_next && !st.loading);
            if ui
                .add_enabled(has_prev, egui::Button::new(l.t("|◀ 首页", "|◀ First")))
                .clicked()
            {
                nav = Some((Cursor::First, Move::First));
            }
            if ui
                .add_enabled(has_prev, egui::Button::new(l.t("◀ 上一页", "◀ Previous")))
                .clicked()
            {
                nav = first.map(|k| (Cursor::Before(k), Move::Prev));
            }
            if ui
                .add_enabled(has_next, egui::Button::new(l.t("下一页 ▶", "Next ▶")))
                .clicked()
            {
                nav = last.map(|k| (Cursor::After(k), Move::Next));
            }
            if ui
                .add_enabled(has_next, egui::Button::new(l.t("末页 ▶|", "Last ▶|")))
                .clicked()
            {
                nav = Some((Cursor::Last, Move::Last));
            }
            ui.separator();
            // Stays open while columns are ticked and moved (a menu closes on any click).
            egui::containers::menu::MenuButton::new(l.t("列…", "Columns…"))
                .config(
                    egui::containers::menu::MenuConfig::new()
                        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside),
                )
                .ui(ui, |ui| {
                ui.weak(l.t(
                    "勾选要显示的列；↑/↓ 调整顺序；拖动表头边线调整宽度。下次启动仍然有效。",
                    "Tick the columns to show; ↑/↓ move them; drag a header's edge to resize. Kept for next time.",
                ));
                for (at, &ci) in order.iter().enumerate() {
                    let Some(&name) = cols.get(ci) else { continue };
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(at > 0, egui::Button::new("↑").small())
                            .clicked()
                        {
                            col_edit = Some(ColEdit::Swap(at, at - 1));
                        }
                        if ui
                            .add_enabled(at + 1 < order.len(), egui::Button::new("↓").small())
                            .clicked()
                        {
                            col_edit = Some(ColEdit::Swap(at, at + 1));
                        }
                        let mut shown = !hidden.iter().any(|h| h == name);
                        if ui.checkbox(&mut shown, column_title(name, l)).changed() {
                            col_edit = Some(ColEdit::Toggle(name));
                        }
                    });
                }
                if ui.button(l.t("恢复默认列", "Default columns")).clicked() {
                    col_edit = Some(ColEdit::Reset);
                }
                });
            ui.separator();
            if let Some(name) = browse::sort_column(view, st.sort.col) {
                let arrow = if st.sort.desc { "▼" } else { "▲" };
                ui.weak(format!(
                    "{} {} {arrow}",
                    l.t("排序：", "sorted by"),
                    column_title(name, l)
                ));
            }
        });
        ui.horizontal_wrapped(|ui| {
            totals_line(ui, view, st, l);
            if !browse::indexed(view, st.sort.col) {
                ui.separator();
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    l.t(
                        "此列没有索引：每翻一页数据库都要把整张（筛选后的）表排序一次，大表会很慢。可以点“取消查询”，或直接点别的表头/翻页：旧查询的结果会被丢弃。",
                        "This column has no index: every page sorts the whole (filtered) table, which is slow on a large table. Press \"Cancel query\" or just click another header or page: the old query's result is dropped.",
                    ),
                );
            }
        });
    }
    if let Some(e) = col_edit {
        apply_col_edit(app, view, e);
        let st = app.tables.map.entry(view).or_default();
        st.layout += 1;
        st.drawn.clear();
    }
    // Row selection from the keyboard, while no text field has the keys.
    // (A clicked row has egui's focus too: only a text field keeps the arrows.)
    if !typing
        && !ui.ctx().text_edit_focused()
        && app.picker.is_none()
        && !app.help_open
        && app.operator_prompt.is_none()
    {
        let st = app.tables.map.entry(view).or_default();
        let n = st.page.as_ref().map_or(0, |p| p.rows.len());
        if n > 0 {
            // Enter on a focused header or button presses it; Enter opens
            // the case when nothing else has the keys or a row has them.
            let enter_is_ours = st.row_focused || ui.memory(|m| m.focused().is_none());
            let (down, up, enter) = ui.input_mut(|i| {
                (
                    i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowDown),
                    i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowUp),
                    enter_is_ours && i.consume_key(egui::Modifiers::NONE, egui::Key::Enter),
                )
            });
            if down || up {
                let next = match (st.selected, down) {
                    (None, true) => 0,
                    (None, false) => n - 1,
                    (Some(i), true) => (i + 1).min(n - 1),
                    (Some(i), false) => i.saturating_sub(1),
                };
                st.selected = Some(next);
                st.scroll_to = Some((next, None));
                // The arrows moved to the rows: a header or button keeps the
                // focus no longer, so that Enter opens the selected row.
                if let Some(id) = ui.memory(|m| m.focused()) {
                    ui.memory_mut(|m| m.surrender_focus(id));
                }
            }
            if enter
                && let Some(k) = st
                    .selected
                    .and_then(|i| st.page.as_ref()?.rows.get(i))
                    .and_then(|r| case_key(view, r))
            {
                open_case = Some(k);
            }
        }
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
    } else if let Some((c, mv)) = nav {
        fetch_as(app, view, c, mv, false);
    }
    if let Some(k) = open_case {
        app.case.query = k;
        app.go(super::Screen::Case);
        super::case_view::search(app);
        return;
    }
    let saved: HashMap<String, f32> = app
        .prefs
        .tables
        .get(view.table())
        .map(|p| p.widths.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default();
    let widths: Vec<f32> = visible
        .iter()
        .map(|&ci| {
            let name = cols.get(ci).copied().unwrap_or("");
            saved
                .get(name)
                .copied()
                .unwrap_or_else(|| column_width(name, l))
        })
        .collect();
    let st = app.tables.map.entry(view).or_default();
    let mut header_click = None;
    let mut used_widths = Vec::new();
    match &st.page {
        None => {
            ui.label(l.t("正在加载…", "loading…"));
        }
        Some(p) if p.rows.is_empty() => {
            ui.label(l.t("没有符合条件的行。", "No rows match."));
        }
        Some(p) => {
            let out = rows_table(
                ui,
                Grid {
                    view,
                    page: p,
                    visible: &visible,
                    widths: &widths,
                    selected: st.selected,
                    sort: st.sort,
                    scroll_to: st.scroll_to.take(),
                    layout: st.layout,
                },
                l,
            );
            if let Some(i) = out.clicked {
                st.selected = Some(i);
            }
            header_click = out.header;
            used_widths = out.widths;
            st.row_focused = out.row_focused;
        }
    }
    // Widths the operator dragged are remembered (egui keeps them while
    // the window is open; the preferences keep them for the next start).
    // Only a change while the mouse is down counts: a restored or recomputed
    // width is not the operator's choice.
    let dragging = ui.input(|i| i.pointer.any_down() || i.pointer.any_released());
    let before = std::mem::replace(&mut st.drawn, used_widths.clone());
    let mut dragged = Vec::new();
    if dragging && before.len() == used_widths.len() {
        for ((&ci, &w0), &w) in visible.iter().zip(&before).zip(&used_widths) {
            if (w - w0).abs() > 0.5
                && let Some(name) = cols.get(ci)
            {
                dragged.push(((*name).to_owned(), w));
            }
        }
    }
    if !dragged.is_empty() {
        let p = app.prefs.tables.entry(view.table().to_owned()).or_default();
        for (n, w) in dragged {
            p.widths.insert(n, w);
        }
    }
    if let Some(name) = header_click
        && let Some(col) = browse::sortable(view, name)
    {
        let st = app.tables.map.entry(view).or_default();
        st.sort = if st.sort.col == col {
            Sort {
                col,
                desc: !st.sort.desc,
            }
        } else {
            Sort { col, desc: false }
        };
        fetch(app, view, Cursor::First, false);
    }
}

/// "Totals: 1234 rows, Σ amount 5678.90", computed by the database.
fn totals_line(ui: &mut egui::Ui, view: View, st: &TState, l: Lang) {
    match (&st.totals, st.totalling) {
        (Some(t), _) => {
            let text = match (t.amount, l) {
                (Some(a), Lang::Zh) => format!(
                    "筛选结果合计：{} 行，金额合计 {}",
                    t.count,
                    crate::money::format_amount(a)
                ),
                (Some(a), Lang::En) => format!(
                    "Totals of the filtered rows: {} rows, Σ amount {}",
                    t.count,
                    crate::money::format_amount(a)
                ),
                (None, Lang::Zh) => format!("筛选结果合计：{} 行", t.count),
                (None, Lang::En) => format!("Totals of the filtered rows: {} rows", t.count),
            };
            ui.label(egui::RichText::new(text).monospace());
        }
        (None, true) => {
            ui.weak(l.t("合计计算中…", "Totals: computing…"));
        }
        (None, false) => {
            let _ = view;
        }
    }
}

/// A calendar beside a date field: picking a day writes it into the field
/// (`YYYY-MM-DD`). Drawn here rather than with egui_extras' picker, whose
/// month and day names are English only.
pub(crate) fn date_picker(ui: &mut egui::Ui, id: &str, field: &mut String, l: Lang) -> bool {
    use chrono::{Datelike as _, NaiveDate};
    let today = chrono::Local::now().date_naive();
    let typed = field
        .trim()
        .get(..10)
        .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok());
    let month_id = ui.make_persistent_id(("calendar-month", id));
    let mut picked = None;
    let r = ui.menu_button(l.t("日历", "Calendar"), |ui| {
        let shown = ui
            .data(|d| d.get_temp::<NaiveDate>(month_id))
            .or(typed)
            .unwrap_or(today)
            .with_day(1)
            .unwrap_or(today);
        let mut month = shown;
        ui.horizontal(|ui| {
            if ui
                .button("◀")
                .on_hover_text(l.t("上个月", "previous month"))
                .clicked()
            {
                month = month
                    .checked_sub_months(chrono::Months::new(1))
                    .unwrap_or(month);
            }
            ui.label(egui::RichText::new(month.format("%Y-%m").to_string()).strong());
            if ui
                .button("▶")
                .on_hover_text(l.t("下个月", "next month"))
                .clicked()
            {
                month = month
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(month);
            }
            if ui.button(l.t("今天", "Today")).clicked() {
                picked = Some(today);
            }
        });
        egui::Grid::new(("calendar", id)).show(ui, |ui| {
            let names = match l {
                Lang::Zh => ["一", "二", "三", "四", "五", "六", "日"],
                Lang::En => ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"],
            };
            for n in names {
                ui.weak(n);
            }
            ui.end_row();
            let lead = month.weekday().num_days_from_monday();
            for _ in 0..lead {
                ui.label("");
            }
            let mut col = lead;
            let mut d = month;
            while d.month() == month.month() {
                let text = egui::RichText::new(format!("{:>2}", d.day())).monospace();
                if ui.selectable_label(Some(d) == typed, text).clicked() {
                    picked = Some(d);
                }
                col += 1;
                if col % 7 == 0 {
                    ui.end_row();
                }
                match d.succ_opt() {
                    Some(n) => d = n,
                    None => break,
                }
            }
        });
        if picked.is_some() {
            ui.close();
        }
        if month != shown {
            ui.data_mut(|dm| dm.insert_temp(month_id, month));
        }
    });
    r.response
        .on_hover_text(l.t("从日历选一天", "Pick a day from a calendar"));
    match picked {
        Some(d) => {
            *field = d.format("%Y-%m-%d").to_string();
            ui.data_mut(|dm| dm.remove::<NaiveDate>(month_id));
            true
        }
        None => false,
    }
}

/// The filter fields a view has; true when the user asked to apply them.
fn filter_bar(ui: &mut egui::Ui, view: View, f: &mut FilterInputs, focus: bool, l: Lang) -> bool {
    let mut apply = false;
    ui.horizontal_wrapped(|ui| {
        let submitted = std::cell::Cell::new(false);
        let edit = |ui: &mut egui::Ui, label: &str, v: &mut String, w: f32, focus: bool| {
            let r = widgets::field(ui, label, v, w);
            if focus {
                r.request_focus();
            }
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                submitted.set(true);
            }
            r
        };
        if view != View::Accounts {
            let key = match view {
                View::Flows => l.t("流水号", "Flow no."),
                View::Idempotency => l.t("幂等键", "Key (seq)"),
                _ => l.t("商户订单号", "Bill no."),
            };
            edit(ui, key, &mut f.key, 150.0, focus)
                .on_hover_text(match view {
                    View::Flows => l.t("trans_flow 的流水号（充值为商户订单号）", "The flow's number (a recharge's is its bill no., agentBillNo)"),
                    View::Idempotency => l.t("幂等记录的键（充值为商户订单号）", "The record's key (a recharge's bill no.)"),
                    _ => l.t("商户订单号，例如 CHARGE2026…", "The merchant bill number (agentBillNo), e.g. CHARGE2026…"),
                });
        }
        edit(ui, l.t("用户", "user"), &mut f.user, 70.0, focus && view == View::Accounts);
        if view == View::Flows {
            edit(ui, l.t("类型", "type"), &mut f.trans_type, 30.0, false)
                .on_hover_text(l.t("流水类型代码：1 充值，2 投资冻结，8 提现…", "Flow type code: 1 recharge, 2 invest lock, 8 withdraw…"));
        }
        if matches!(view, View::Orders | View::Notify | View::Idempotency) {
            edit(ui, l.t("状态", "status"), &mut f.status, 80.0, false).on_hover_text(match view {
                View::Orders => l.t(
                    "订单状态：0 已提交，1 支付中，2 已支付，3 支付失败（写代码或名称）",
                    "Order status: 0 submitted, 1 paying, 2 paid, 3 failed (the code)",
                ),
                View::Notify => l.t(
                    "处理结果：已入账、重复回调、签名错误、内容冲突、处理出错、已忽略",
                    "Outcome: credited, idempotent, rejected_sign, rejected_conflict, failed, ignored",
                ),
                _ => l.t("状态：处理中、成功、失败", "Status: processing, succeeded, failed"),
            });
        }
        edit(ui, l.t("起", "from"), &mut f.from, 115.0, false)
            .on_hover_text(l.t("含这一刻；只写日期即从当天 0 点起", "Included; a date alone starts at midnight"));
        if date_picker(ui, "from-date", &mut f.from, l) {
            apply = true;
        }
        edit(ui, l.t("止（含）", "to (inclusive)"), &mut f.to, 115.0, false).on_hover_text(l.t(
            "包含这一天：只写日期即含当天全天（到次日 0 点前）；写了时间则含到这一秒/分钟",
            "Inclusive: a date alone includes the whole day (up to midnight after it); a time is included as typed",
        ));
        if date_picker(ui, "to-date", &mut f.to, l) {
            apply = true;
        }
        if view != View::Idempotency {
            edit(ui, l.t("金额≥", "amount ≥"), &mut f.min, 55.0, false);
            edit(ui, l.t("≤", "≤"), &mut f.max, 55.0, false);
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
        apply |= submitted.get();
    });
    apply
}

/// The case search a row opens: a recharge's bill, the user of any other
/// flow (`user:N`: an invest, loan or withdraw flow's number is not a bill
/// the case search knows), an account's user. `row` follows [`browse::columns`].
fn case_key(view: View, row: &[String]) -> Option<String> {
    let cols = browse::columns(view);
    let get = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .and_then(|i| row.get(i))
            .filter(|s| !s.is_empty())
            .cloned()
    };
    let user = || get("user_id").map(|u| format!("user:{u}"));
    match view {
        View::Flows => {
            let no = get("trans_no");
            let recharge = get("trans_type").as_deref()
                == Some(&crate::model::TransType::Recharge.code().to_string())
                || no.as_deref().is_some_and(|n| n.starts_with("CHARGE"));
            if recharge {
                no.or_else(user)
            } else {
                user().or(no)
            }
        }
        View::Orders | View::Notify => get("agent_bill_no"),
        View::Idempotency => get("seq"),
        View::Accounts => user(),
    }
}

/// A column's title in the console's language (`col` as in [`browse::columns`]).
pub(crate) fn column_title(col: &str, l: Lang) -> &'static str {
    let (zh, en) = match col {
        "id" => ("编号", "ID"),
        "user_id" => ("用户", "User"),
        "user_name" => ("用户名", "User name"),
        "name" => ("姓名", "Name"),
        "mobile" => ("手机号", "Mobile"),
        "trans_no" => ("流水号", "Flow no. (trans_no)"),
        "trans_type" => ("类型", "Type"),
        "trans_type_name" => ("类型名", "Type name"),
        "trans_amount" => ("金额", "Amount"),
        "memo" => ("备注", "Memo"),
        "create_time" => ("创建时间", "Created"),
        "update_time" => ("更新时间", "Updated"),
        "is_deleted" => ("已删除", "Deleted"),
        "agent_bill_no" => ("商户订单号", "Bill no. (agentBillNo)"),
        "bind_code" => ("绑定码", "Bind code"),
        "charge_amt" => ("充值金额", "Amount"),
        "fee_amt" => ("手续费", "Fee"),
        "status" => ("状态", "Status"),
        "status_name" => ("状态名", "Status name"),
        "version" => ("版本", "Version"),
        "result_code" => ("结果码", "Result code"),
        "sign_ok" => ("验签", "Signature OK"),
        "outcome" => ("处理结果", "Outcome"),
        "response_body" => ("应答", "Response"),
        "received_at" => ("收到时间", "Received"),
        "handled_ms" => ("耗时ms", "Took (ms)"),
        "source" => ("来源", "Source"),
        "seq" => ("幂等键", "Key (seq)"),
        "request_hash" => ("请求摘要", "Request hash"),
        "locked_at" => ("加锁时间", "Locked"),
        "created_at" => ("创建时间", "Created"),
        "completed_at" => ("完成时间", "Completed"),
        "expires_at" => ("过期时间", "Expires"),
        "amount" => ("账面余额", "Balance"),
        "expected_amount" => ("流水应有余额", "Balance from flows"),
        "amount_difference" => ("差额", "Difference"),
        "freeze_amount" => ("冻结", "Frozen"),
        "expected_freeze" => ("应有冻结", "Frozen from flows"),
        "freeze_difference" => ("冻结差额", "Frozen difference"),
        "flows" => ("流水数", "Flows"),
        _ => ("其他", "Other"),
    };
    l.t(zh, en)
}

/// A cell as the console shows it: the codes payrecon names itself (an
/// order's status name, a callback's outcome, an idempotency status) in the
/// console's language; the database's own text (names, memos, stored type
/// names, responses) as it is.
fn display_cell(view: View, col: &str, cells: &[String], l: Lang) -> String {
    let cols = browse::columns(view);
    let at = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .and_then(|i| cells.get(i))
            .map_or("", String::as_str)
    };
    let cell = at(col);
    let words = match (view, col) {
        (View::Orders, "status_name") => match at("status") {
            "0" => Some(("已提交", "submitted")),
            "1" => Some(("支付中", "paying")),
            "2" => Some(("已支付", "paid")),
            "3" => Some(("支付失败", "failed")),
            _ => None,
        },
        (View::Notify, "outcome") => match cell {
            "credited" => Some(("已入账", "credited")),
            "idempotent" => Some(("重复回调（未再入账）", "idempotent (not credited again)")),
            "rejected_sign" => Some(("签名错误", "bad sign, refused")),
            "rejected_conflict" => Some(("内容冲突", "conflicting payload, refused")),
            "failed" => Some(("处理出错", "handler failed")),
            "ignored" => Some(("已忽略（未成功）", "ignored (no success)")),
            _ => None,
        },
        (View::Idempotency, "status") => match cell {
            "processing" => Some(("处理中", "processing")),
            "succeeded" => Some(("成功", "succeeded")),
            "failed" => Some(("失败", "failed")),
            _ => None,
        },
        // What srb answered: its two protocol words; any other text is data.
        (View::Notify | View::Idempotency, "response_body") => match cell {
            crate::payment::SUCCESS => Some(("成功", "success")),
            crate::payment::FAIL => Some(("失败", "fail")),
            _ => None,
        },
        (View::Notify, "sign_ok") => match cell {
            "1" => Some(("是", "yes")),
            "0" => Some(("否", "no")),
            _ => None,
        },
        _ => None,
    };
    match words {
        Some((zh, en)) => l.t(zh, en).to_owned(),
        None => cell.to_owned(),
    }
}

/// Amount columns: right-aligned in a monospace face.
fn is_amount(col: &str) -> bool {
    matches!(
        col,
        "trans_amount"
            | "charge_amt"
            | "fee_amt"
            | "amount"
            | "expected_amount"
            | "amount_difference"
            | "freeze_amount"
            | "expected_freeze"
            | "freeze_difference"
    )
}

/// A column's initial width from what it holds (not from a page's text, so
/// that paging never cuts a longer value), at least its title's.
fn column_width(col: &str, l: Lang) -> f32 {
    let chars: usize = match col {
        // Bills and flow numbers: up to 32 characters.
        "trans_no" | "agent_bill_no" | "seq" => 32,
        "request_hash" | "response_body" => 24,
        "memo" => 18,
        "create_time" | "update_time" | "received_at" | "created_at" | "locked_at"
        | "completed_at" | "expires_at" => 23,
        c if is_amount(c) => 12,
        "bind_code" => 32,
        "mobile" => 11,
        "user_name" | "name" | "trans_type_name" | "status_name" => 10,
        "outcome" => 16,
        "id" | "user_id" => 9,
        _ => 6,
    };
    let title = column_title(col, l);
    // Chinese characters are about twice as wide as a digit; the sort arrow adds two.
    let title_w: usize = title
        .chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum::<usize>()
        + 3;
    let n = u16::try_from(chars.max(title_w)).unwrap_or(40);
    (f32::from(n) * 7.2 + 14.0).clamp(44.0, 400.0)
}

/// What the grid draws.
struct Grid<'a> {
    view: View,
    page: &'a Page,
    /// Indices into [`browse::columns`], in order.
    visible: &'a [usize],
    /// Initial widths of the visible columns.
    widths: &'a [f32],
    selected: Option<usize>,
    sort: Sort,
    scroll_to: Option<(usize, Option<egui::Align>)>,
    /// The arrangement's generation ([`TState`]'s `layout`).
    layout: u64,
}

/// What happened in the grid.
struct GridOut {
    /// A row clicked (anywhere on it).
    clicked: Option<usize>,
    /// A sortable header clicked (its column name).
    header: Option<&'static str>,
    /// The columns' widths as drawn.
    widths: Vec<f32>,
    /// Whether a row has the keyboard focus (Enter then opens its case;
    /// on a focused header or button, Enter presses that instead).
    row_focused: bool,
}

/// Lays out only the visible rows.
fn rows_table(ui: &mut egui::Ui, g: Grid<'_>, l: Lang) -> GridOut {
    use egui_extras::{Column, TableBuilder};
    let cols = browse::columns(g.view);
    let sorted = browse::sort_column(g.view, g.sort.col);
    let mut out = GridOut {
        clicked: None,
        header: None,
        widths: Vec::new(),
        row_focused: false,
    };
    let row_h = 20.0;
    let mut tb = TableBuilder::new(ui);
    for w in g.widths {
        tb = tb.column(
            Column::initial(*w)
                .at_least(36.0)
                .clip(true)
                .resizable(true),
        );
    }
    if let Some((row, align)) = g.scroll_to {
        tb = tb.scroll_to_row(row, align);
    }
    // The arrangement is part of the id: a new arrangement starts from the
    // remembered widths rather than the old columns' state.
    tb.id_salt(("rows", g.view, g.visible.to_vec(), g.layout))
        .striped(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .min_scrolled_height(200.0)
        .header(row_h + 4.0, |mut h| {
            for &ci in g.visible {
                let Some(&name) = cols.get(ci) else { continue };
                h.col(|ui| {
                    let mut title = column_title(name, l).to_owned();
                    if sorted == Some(name) {
                        title.push_str(if g.sort.desc { " ▼" } else { " ▲" });
                    }
                    let text = egui::RichText::new(title).strong();
                    if browse::sortable(g.view, name).is_some() {
                        let r = ui
                            .add(egui::Button::new(text).frame(false))
                            .on_hover_text(l.t(
                                "点击排序；再点一次倒序",
                                "Click to sort; click again to reverse",
                            ));
                        if r.clicked() {
                            out.header = Some(name);
                        }
                    } else {
                        ui.add(egui::Label::new(text).selectable(false))
                            .on_hover_text(l.t(
                                "逐页计算的列，不能排序",
                                "Computed for each page: cannot be sorted",
                            ));
                    }
                });
            }
        })
        .body(|body| {
            out.widths = body.widths().to_vec();
            body.rows(row_h, g.page.rows.len(), |mut row| {
                let i = row.index();
                row.set_selected(g.selected == Some(i));
                if let Some(cells) = g.page.rows.get(i) {
                    for &ci in g.visible {
                        let name = cols.get(ci).copied().unwrap_or("");
                        let cell = display_cell(g.view, name, cells, l);
                        let cell = cell.as_str();
                        row.col(|ui| {
                            // Labels that take no clicks: a click anywhere selects the row.
                            if is_amount(name) {
                                let mut t = egui::RichText::new(cell).monospace();
                                if name.ends_with("_difference")
                                    && cell != "0.00"
                                    && !cell.is_empty()
                                {
                                    t = t
                                        .color(widgets::severity_ink(
                                            ui,
                                            crate::recon::Severity::Critical,
                                        ))
                                        .strong();
                                }
                                ui.with_layout(
                                    egui::Layout::right_to_left(egui::Align::Center),
                                    |ui| ui.add(egui::Label::new(t).selectable(false)),
                                );
                            } else {
                                ui.add(egui::Label::new(cell).selectable(false).truncate());
                            }
                        });
                    }
                }
                let r = row.response();
                if r.clicked() {
                    out.clicked = Some(i);
                }
                out.row_focused |= r.has_focus();
            });
        });
    out
}

/// A keyboard shortcut on a table screen; true when it was used.
pub(crate) fn shortcut(app: &mut App, view: View, s: Shortcut) -> bool {
    let st = app.tables.map.entry(view).or_default();
    match s {
        Shortcut::FocusSearch => {
            st.focus_key = true;
            true
        }
        Shortcut::NextPage => {
            let Some(k) = st
                .page
                .as_ref()
                .filter(|p| p.has_next && !st.loading)
                .and_then(|p| p.keys.last().cloned())
            else {
                return false;
            };
            fetch(app, view, Cursor::After(k), false);
            true
        }
        Shortcut::PrevPage => {
            let Some(k) = st
                .page
                .as_ref()
                .filter(|p| p.has_prev && !st.loading)
                .and_then(|p| p.keys.first().cloned())
            else {
                return false;
            };
            fetch(app, view, Cursor::Before(k), false);
            true
        }
        Shortcut::Refresh => {
            refresh(app, view);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        crate::views::parse_time(s).unwrap()
    }

    #[test]
    fn to_includes_what_it_names() {
        // A date: the whole day.
        assert_eq!(inclusive_end("2026-11-28"), Some(t("2026-11-29")));
        // A time to the second: that whole second; to the minute: that minute.
        assert_eq!(
            inclusive_end("2026-11-28 08:30:00"),
            Some(t("2026-11-28 08:30:01"))
        );
        assert_eq!(
            inclusive_end("2026-11-28 08:30"),
            Some(t("2026-11-28 08:31:00"))
        );
        assert_eq!(inclusive_end("yesterday"), None);
        let f = FilterInputs {
            from: "2026-11-28".into(),
            to: "2026-11-28".into(),
            ..FilterInputs::default()
        }
        .parse(Lang::En)
        .unwrap();
        assert_eq!(
            (f.from, f.to),
            (Some(t("2026-11-28")), Some(t("2026-11-29")))
        );
    }

    #[test]
    fn statuses_typed_as_shown_become_codes() {
        assert_eq!(status_code("已入账"), "credited");
        assert_eq!(status_code("处理中"), "processing");
        assert_eq!(status_code(" credited "), "credited");
        assert_eq!(status_code("2"), "2");
    }

    #[test]
    fn a_rows_case_is_its_bill_or_its_user() {
        let flow = |no: &str, ty: &str| -> Vec<String> {
            ["7", "42", "u", no, ty, "", "1.00", "", "", "0"]
                .map(String::from)
                .to_vec()
        };
        let bill = "CHARGE20261128000000001";
        assert_eq!(
            case_key(View::Flows, &flow(bill, "1")).as_deref(),
            Some(bill)
        );
        // Invest, loan, withdraw: their numbers are not bills the case knows.
        assert_eq!(
            case_key(View::Flows, &flow("INVEST123", "2")).as_deref(),
            Some("user:42")
        );
        assert_eq!(
            case_key(View::Flows, &flow("WD1", "8")).as_deref(),
            Some("user:42")
        );
        let acc: Vec<String> = browse::columns(View::Accounts)
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "5".into() } else { String::new() })
            .collect();
        assert_eq!(case_key(View::Accounts, &acc).as_deref(), Some("user:5"));
    }

    #[test]
    fn the_position_follows_the_pages() {
        let page = |n: usize, has_prev: bool| Page {
            rows: vec![Vec::new(); n],
            keys: Vec::new(),
            has_prev,
            has_next: true,
        };
        let mut st = TState {
            page: Some(page(200, true)),
            pos: Pos::Start(200),
            ..TState::default()
        };
        assert_eq!(row_range(&st), Some((201, 400)));
        assert_eq!(position_text(&st, Lang::En), "rows 201–400");
        st.count = Some(746);
        assert_eq!(position_text(&st, Lang::En), "rows 201–400 of 746");
        assert_eq!(position_text(&st, Lang::Zh), "第 201–400 行，共 746 行");
        // The last page, counted from the end.
        st.pos = Pos::End(200);
        assert_eq!(row_range(&st), Some((547, 746)));
        st.count = None;
        assert_eq!(position_text(&st, Lang::En), "the last 200 rows");
        // Column titles exist in both languages for every column.
        for v in View::ALL {
            for c in browse::columns(v) {
                assert_ne!(column_title(c, Lang::En), "Other", "{c}");
                assert!(!column_title(c, Lang::Zh).contains('_'), "{c}");
            }
        }
    }
}
