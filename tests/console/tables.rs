//! Console tests: the five tables (driven through egui_kittest; see the
//! harness in ../console.rs). An operator sorts by clicking headers, selects
//! rows by click and by ↑/↓, opens a row's case with Enter or the button,
//! pages with "rows x–y of N", filters a day with an inclusive "to", reads
//! the database's totals, and finds the columns they hid still hidden after
//! a restart. Every expectation is read from the demo database itself.

// Screen coordinates of cells and headers (layout points, never money).
#![allow(clippy::float_arithmetic)]

use super::*;
use egui::accesskit::Role;
use egui_kittest::kittest::NodeT as _;
use payrecon::browse::{self, Cursor, Page, Sort, SortCol, Totals};
use payrecon::db::{ConnectOptions, Db};
use payrecon::views::{Filter, View};

/// Runs `f` on a read-only connection to the demo.
fn on_demo<T>(f: impl AsyncFnOnce(&Db) -> T) -> T {
    let (path, _) = demo();
    workspace_rt(async {
        let db = Db::connect(
            &format!("sqlite://{}", path.display()),
            &ConnectOptions::interactive(),
        )
        .await
        .unwrap();
        let out = f(&db).await;
        db.close().await;
        out
    })
}

fn first_page(view: View, sort: Sort, filter: &Filter) -> Page {
    on_demo(async |db| {
        browse::page(db, view, filter, sort, &Cursor::First, 200)
            .await
            .unwrap()
    })
}

fn count(view: View, filter: &Filter) -> u64 {
    on_demo(async |db| browse::count(db, view, filter).await.unwrap())
}

fn totals(view: View, filter: &Filter) -> Totals {
    on_demo(async |db| browse::totals(db, view, filter).await.unwrap())
}

/// The text of an accesskit node (a label keeps it in its value).
fn text(n: &egui_kittest::Node<'_>) -> String {
    let a = n.accesskit_node();
    a.value().or_else(|| a.label()).unwrap_or_default()
}

/// The x range of a column: from its header to the next header.
fn column_span(c: &Console, header: &str) -> (f32, f32, f32) {
    let h = c.h.get_by_role_and_label(Role::Button, header).rect();
    let next =
        c.h.query_all_by_role(Role::Button)
            .map(|n| n.rect())
            .filter(|r| (r.top() - h.top()).abs() < 2.0 && r.left() > h.left() + 1.0)
            .map(|r| r.left())
            .fold(f32::INFINITY, f32::min);
    (h.left() - 2.0, next - 2.0, h.bottom())
}

/// The cells laid out under a column's header, top to bottom.
fn column_nodes<'a>(c: &'a Console, header: &str) -> Vec<egui_kittest::Node<'a>> {
    let (left, right, top) = column_span(c, header);
    let mut cells: Vec<_> =
        c.h.query_all_by_role(Role::Label)
            .filter(|n| {
                let r = n.rect();
                r.center().x > left && r.center().x < right && r.top() > top
            })
            .collect();
    cells.sort_by(|a, b| a.rect().top().total_cmp(&b.rect().top()));
    cells
}

fn column_cells(c: &Console, header: &str) -> Vec<String> {
    column_nodes(c, header).iter().map(text).collect()
}

/// Clicks the `row`-th cell laid out under a column's header (on its text),
/// as a mouse does: move, press and release in frames of their own.
fn click_cell(c: &mut Console, header: &str, row: usize) {
    let at = column_nodes(c, header)[row].rect().center();
    c.h.event(egui::Event::PointerMoved(at));
    c.h.step();
    for pressed in [true, false] {
        c.h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        c.h.step();
    }
    c.settle();
}

fn ids(p: &Page) -> Vec<String> {
    p.keys.iter().map(|k| k.id.to_string()).collect()
}

fn press(c: &mut Console, key: egui::Key) {
    c.h.key_press(key);
    c.h.step();
    c.settle();
}

/// The case search field's text on the Case screen.
fn case_query_shown(c: &Console, q: &str) -> bool {
    c.h.query_all_by_value(q).next().is_some()
}

fn open_case_enabled(c: &Console) -> bool {
    !c.h.get_by_role_and_label(Role::Button, "Open case")
        .accesskit_node()
        .is_disabled()
}

#[test]
fn a_header_click_sorts_and_a_second_click_reverses() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let by_id = first_page(View::Flows, Sort::default(), &Filter::default());
    assert_eq!(column_cells(&c, "ID ▲")[..3], ids(&by_id)[..3]);
    let asc = first_page(
        View::Flows,
        Sort {
            col: SortCol::Amount,
            desc: false,
        },
        &Filter::default(),
    );
    let desc = first_page(
        View::Flows,
        Sort {
            col: SortCol::Amount,
            desc: true,
        },
        &Filter::default(),
    );
    c.click("Amount");
    assert!(c.has("sorted by Amount ▲"));
    assert_eq!(column_cells(&c, "ID")[..5], ids(&asc)[..5]);
    // Amounts right-aligned and ascending on screen.
    let amounts = column_cells(&c, "Amount ▲");
    assert_eq!(amounts[0], asc.rows[0][6]);
    c.click("Amount ▲");
    assert!(c.has("Amount ▼"));
    assert_eq!(column_cells(&c, "ID")[..5], ids(&desc)[..5]);
    assert_ne!(ids(&asc)[0], ids(&desc)[0]);
    // A column without an index: sorted too, with the note saying what it costs.
    c.click("Memo");
    assert!(c.has("This column has no index"));
    assert!(c.has("Memo ▲"));
    let memo = first_page(
        View::Flows,
        Sort {
            col: SortCol::Column("memo"),
            desc: false,
        },
        &Filter::default(),
    );
    assert_eq!(column_cells(&c, "ID")[..5], ids(&memo)[..5]);
    assert!(c.banner().is_empty(), "{}", c.banner());
}

#[test]
fn a_click_anywhere_on_a_row_selects_it_and_open_case_opens_its_bill() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let page = first_page(View::Flows, Sort::default(), &Filter::default());
    assert!(!open_case_enabled(&c), "nothing selected yet");
    // On the text of the flow number (a label that does not take the click).
    click_cell(&mut c, "Flow no. (trans_no)", 2);
    assert!(open_case_enabled(&c));
    // ↓ after a click moves on from the clicked row.
    press(&mut c, egui::Key::ArrowDown);
    let bill = page.rows[3][3].clone();
    assert_eq!(page.rows[3][4], "1", "the demo's first flows are recharges");
    c.click("Open case");
    assert_eq!(c.h.state().screen(), Screen::Case);
    assert!(case_query_shown(&c, &bill), "{bill}");
}

#[test]
fn arrow_keys_select_rows_and_enter_opens_the_case() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let page = first_page(View::Flows, Sort::default(), &Filter::default());
    press(&mut c, egui::Key::ArrowDown);
    press(&mut c, egui::Key::ArrowDown);
    press(&mut c, egui::Key::ArrowDown);
    press(&mut c, egui::Key::ArrowUp);
    assert!(open_case_enabled(&c));
    press(&mut c, egui::Key::Enter);
    assert_eq!(c.h.state().screen(), Screen::Case);
    let bill = &page.rows[1][3];
    assert!(case_query_shown(&c, bill), "{bill}");
}

#[test]
fn open_case_on_a_non_recharge_flow_opens_its_user() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    // The first flow type other than a recharge that the demo has.
    let (code, page) = (2..=8)
        .map(|t| {
            let f = Filter {
                trans_type: Some(t),
                ..Filter::default()
            };
            (t, first_page(View::Flows, Sort::default(), &f))
        })
        .find(|(_, p)| !p.rows.is_empty())
        .expect("the demo has invest, loan or withdraw flows");
    c.type_into("type", &code.to_string());
    c.click("Filter");
    click_cell(&mut c, "Type name", 0);
    c.click("Open case");
    assert_eq!(c.h.state().screen(), Screen::Case);
    let q = format!("user:{}", page.rows[0][1]);
    assert!(case_query_shown(&c, &q), "{q}");
}

#[test]
fn paging_says_which_rows_and_each_page_starts_at_its_first_row() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let n = count(View::Flows, &Filter::default());
    assert!(n > 600, "{n}");
    assert!(c.has(&format!("rows 1–200 of {n}")));
    // Scroll to the bottom of the page (↑ with nothing selected picks the last row).
    press(&mut c, egui::Key::ArrowUp);
    c.click("Next ▶");
    assert!(c.has(&format!("rows 201–400 of {n}")));
    assert_eq!(
        column_cells(&c, "ID ▲")[0],
        "201",
        "the new page shows its first row"
    );
    c.click("Last ▶|");
    assert!(c.has(&format!("rows {}–{n} of {n}", n - 199)));
    c.click("◀ Previous");
    assert!(c.has(&format!("rows {}–{} of {n}", n - 399, n - 200)));
    c.click("|◀ First");
    assert!(c.has(&format!("rows 1–200 of {n}")));
    // PgDn / PgUp and F5 (the keyboard reaches the table's shortcut hook).
    press(&mut c, egui::Key::PageDown);
    assert!(c.has(&format!("rows 201–400 of {n}")));
    press(&mut c, egui::Key::F5);
    assert!(c.has(&format!("rows 201–400 of {n}")));
    press(&mut c, egui::Key::PageUp);
    assert!(c.has(&format!("rows 1–200 of {n}")));
}

#[test]
fn from_and_to_the_same_day_find_that_days_rows() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let page = first_page(View::Flows, Sort::default(), &Filter::default());
    let day = page.rows[0][8][..10].to_owned();
    let d = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap();
    let want = count(
        View::Flows,
        &Filter {
            from: Some(d.and_time(chrono::NaiveTime::MIN)),
            to: Some(d.succ_opt().unwrap().and_time(chrono::NaiveTime::MIN)),
            ..Filter::default()
        },
    );
    assert!(want > 0);
    c.type_into("from", &day);
    c.type_into("to (inclusive)", &day);
    c.click("Filter");
    assert!(c.banner().is_empty(), "{}", c.banner());
    assert!(
        c.has(&format!("of {want}")),
        "{day}: {want} rows expected on screen"
    );
    assert!(c.has(&format!("Totals of the filtered rows: {want} rows")));
}

#[test]
fn the_totals_line_shows_the_databases_sum() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let t = totals(View::Flows, &Filter::default());
    let sum = payrecon::money::format_amount(t.amount.unwrap());
    assert!(
        c.has(&format!(
            "Totals of the filtered rows: {} rows, Σ amount {sum}",
            t.count
        )),
        "{t:?}"
    );
    // Filtered: the totals follow the filter.
    let user = Filter {
        user_id: Some(9),
        ..Filter::default()
    };
    let t = totals(View::Flows, &user);
    c.type_into("user", "9");
    c.click("Filter");
    let sum = payrecon::money::format_amount(t.amount.unwrap());
    assert!(c.has(&format!("{} rows, Σ amount {sum}", t.count)), "{t:?}");
    // In Chinese.
    c.click("中文");
    assert!(c.has(&format!("筛选结果合计：{} 行，金额合计 {sum}", t.count)));
}

use super::Mem;

/// The console started again with the preferences in `mem` (eframe hands
/// them over before the first frame).
fn restarted(mem: &Mem) -> Console {
    let (db, _) = demo();
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("workspace.db");
    let mut a = app(
        format!("sqlite://{}", db.display()),
        ws.clone(),
        Lang::En,
        Some(Screen::Flows),
    );
    a.load_prefs(mem);
    let mut c = Console::new(a, ws, dir);
    c.settle();
    c
}

fn header_x(c: &Console, title: &str) -> f32 {
    c.h.get_by_role_and_label(Role::Button, title).rect().left()
}

#[test]
fn hidden_and_moved_columns_survive_a_restart() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    assert!(header_x(&c, "User name") < header_x(&c, "Flow no. (trans_no)"));
    c.click("Columns…");
    c.h.get_by_role_and_label(Role::CheckBox, "Memo").click();
    c.h.step();
    c.settle();
    // The fourth column (the flow number) one place up, before the user name.
    c.h.get_all_by_label("↑").nth(3).unwrap().click();
    c.h.step();
    c.settle();
    press(&mut c, egui::Key::Escape);
    assert!(c.h.query_by_role_and_label(Role::Button, "Memo").is_none());
    assert!(header_x(&c, "Flow no. (trans_no)") < header_x(&c, "User name"));
    let mut mem = Mem::default();
    c.h.state().save_prefs(&mut mem);
    let p = &c.h.state().prefs().tables["trans_flow"];
    assert_eq!(p.hidden, ["memo"]);
    assert!(p.widths.is_empty(), "no width was dragged: {:?}", p.widths);
    assert_eq!(p.order[..4], ["id", "user_id", "trans_no", "user_name"]);

    // A new console (the next start) with the stored preferences.
    let mut c = restarted(&mem);
    assert!(c.h.query_by_role_and_label(Role::Button, "Memo").is_none());
    assert!(
        c.h.query_by_role_and_label(Role::Button, "Amount")
            .is_some()
    );
    assert!(header_x(&c, "Flow no. (trans_no)") < header_x(&c, "User name"));
    // Back to the default arrangement.
    c.click("Columns…");
    c.click("Default columns");
    press(&mut c, egui::Key::Escape);
    assert!(c.h.query_by_role_and_label(Role::Button, "Memo").is_some());
}

#[test]
fn accounts_show_name_and_mobile_and_headers_are_in_each_language() {
    let mut c = console(Lang::Zh, Some(Screen::Accounts));
    for t in ["用户", "姓名", "手机号", "账面余额", "流水应有余额", "差额"] {
        assert!(c.h.query_by_label(t).is_some() || c.has(t), "{t}");
    }
    // The first account's name, from user_info.
    let name: String = on_demo(async |db| {
        let r = db
            .fetch_optional(
                "SELECT i.name FROM user_account a JOIN user_info i ON i.id = a.user_id ORDER BY a.user_id LIMIT 1",
                &[],
            )
            .await
            .unwrap()
            .unwrap();
        r.opt_text(0).unwrap().unwrap_or_default()
    });
    assert!(!name.is_empty());
    assert!(c.has(&name), "{name}");
    assert!(!c.has("user_id") && !c.has("amount_difference"));
    c.click("English");
    for t in [
        "User ▲",
        "Name",
        "Mobile",
        "Balance",
        "Balance from flows",
        "Difference",
    ] {
        assert!(c.h.query_by_label(t).is_some(), "{t}");
    }
    c.nav("Recharge orders");
    assert!(c.has("Bill no. (agentBillNo)"));
    assert!(c.has("to (inclusive)"));
}

#[test]
fn codes_are_named_in_the_consoles_language() {
    let mut c = console(Lang::Zh, Some(Screen::Notify));
    assert!(c.has("已入账"));
    assert!(
        c.h.query_by_label("credited").is_none(),
        "no raw outcome code in Chinese"
    );
    assert!(
        c.h.query_by_label("success").is_none(),
        "srb's answer in words"
    );
    assert!(c.h.query_all_by_label("成功").next().is_some());
    // Filtering by the word the table shows.
    c.type_into("状态", "已入账");
    c.click("筛选");
    assert!(c.banner().is_empty(), "{}", c.banner());
    let n = count(
        View::Notify,
        &Filter {
            status: Some("credited".into()),
            ..Filter::default()
        },
    );
    assert!(n > 0);
    assert!(c.has(&format!("共 {n} 行")), "{n}");
    c.nav("充值订单");
    assert!(c.has("已支付"));
    c.click("English");
    assert!(c.h.query_all_by_label("paid").next().is_some());
    assert!(!c.has("已支付"));
}

#[test]
fn a_dragged_column_width_is_remembered() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let h = c.h.get_by_role_and_label(Role::Button, "User name").rect();
    let (left, right, _) = column_span(&c, "User name");
    let before = right - left;
    // Drag the column's right edge (the resize handle between the headers) 80 points right.
    let grab = egui::pos2(right - 2.0, h.center().y);
    let to = grab + egui::vec2(80.0, 0.0);
    c.h.event(egui::Event::PointerMoved(grab));
    c.h.step();
    c.h.event(egui::Event::PointerButton {
        pos: grab,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    c.h.step();
    for i in 1..=8 {
        c.h.event(egui::Event::PointerMoved(
            grab + egui::vec2(10.0 * i as f32, 0.0),
        ));
        c.h.step();
    }
    c.h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    c.settle();
    let (left, right, _) = column_span(&c, "User name");
    assert!(
        right - left > before + 40.0,
        "{before} → {} (grabbed at {grab:?}, header {h:?})",
        right - left
    );
    let w = c.h.state().prefs().tables["trans_flow"].widths["user_name"];
    assert!(w > before + 40.0, "remembered {w}");
    // The next start uses it.
    let mut mem = Mem::default();
    c.h.state().save_prefs(&mut mem);
    let c = restarted(&mem);
    let (left, right, _) = column_span(&c, "User name");
    assert!((right - left - w).abs() < 12.0, "{w} vs {}", right - left);
}

#[test]
fn ctrl_f_focuses_the_key_field_and_enter_there_filters() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let page = first_page(View::Flows, Sort::default(), &Filter::default());
    let bill = page.rows[0][3].clone();
    c.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    c.h.step();
    c.h.step();
    let field = c.h.get_by_role_and_label(Role::TextInput, "Flow no.");
    assert!(
        field.accesskit_node().is_focused(),
        "Ctrl+F focuses the key field"
    );
    field.type_text(&bill);
    c.h.step();
    // ↓ while typing moves nothing: the field has the keys.
    press(&mut c, egui::Key::ArrowDown);
    assert!(!open_case_enabled(&c));
    press(&mut c, egui::Key::Enter);
    let n = count(
        View::Flows,
        &Filter {
            key: Some(bill.clone()),
            ..Filter::default()
        },
    );
    assert!(c.has(&format!("rows 1–{n} of {n}")), "{bill}: {n}");
}

#[test]
fn a_newer_request_drops_the_older_ones_answer() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let desc = first_page(
        View::Flows,
        Sort {
            col: SortCol::Id,
            desc: true,
        },
        &Filter::default(),
    );
    // Sort by amount, and before its page arrives, by id descending: the
    // amount page (if it comes later) must not replace the newer one.
    let asc = first_page(View::Flows, Sort::default(), &Filter::default());
    c.h.get_by_role_and_label(Role::Button, "Amount").click();
    c.h.step();
    c.h.step();
    c.h.get_by_role_and_label(Role::Button, "ID").click();
    c.h.step();
    c.settle();
    assert!(c.has("sorted by ID ▲"));
    assert_eq!(column_cells(&c, "ID ▲")[..5], ids(&asc)[..5]);
    c.click("ID ▲");
    assert!(c.has("sorted by ID ▼"));
    assert_eq!(column_cells(&c, "ID ▼")[..5], ids(&desc)[..5]);
}

/// The "hands on the keyboard" path: a header focused with the
/// keyboard sorts on Enter (the rows' Enter does not take it), then the
/// arrows select a row and Enter opens its case.
#[test]
fn a_focused_header_sorts_on_enter_then_arrows_and_enter_open_the_case() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let by_time = first_page(
        View::Flows,
        Sort {
            col: SortCol::Time,
            desc: false,
        },
        &Filter::default(),
    );
    c.h.get_by_role_and_label(Role::Button, "Created").focus();
    c.h.step();
    press(&mut c, egui::Key::Enter);
    assert!(c.has("sorted by Created ▲"), "Enter on the header sorts");
    assert_eq!(c.h.state().screen(), Screen::Flows);
    assert_eq!(column_cells(&c, "ID")[..5], ids(&by_time)[..5]);
    press(&mut c, egui::Key::ArrowDown);
    press(&mut c, egui::Key::Enter);
    assert_eq!(c.h.state().screen(), Screen::Case);
    assert!(case_query_shown(&c, &by_time.rows[0][3]));
}

/// Enter in a filter field applies the filter, and only that: a row that
/// was selected before does not also open its case.
#[test]
fn enter_in_a_filter_field_with_a_row_selected_only_filters() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let page = first_page(View::Flows, Sort::default(), &Filter::default());
    press(&mut c, egui::Key::ArrowDown);
    assert!(open_case_enabled(&c), "a row is selected");
    c.h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    c.h.step();
    c.h.step();
    let field = c.h.get_by_role_and_label(Role::TextInput, "Flow no.");
    field.type_text(&page.rows[0][3]);
    c.h.step();
    press(&mut c, egui::Key::Enter);
    assert_eq!(c.h.state().screen(), Screen::Flows, "Enter only filtered");
}
