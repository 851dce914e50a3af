//! Console tests: the keyboard. Screens by Ctrl+digit and back with Alt+←,
//! the shortcut sheet (F1, `?`, the top bar's button) closed with Esc or F1,
//! the findings queue paged with PgDn/PgUp, searched with Ctrl+F and
//! reloaded with F5, Ctrl+E to the export, Tab reaching the controls, and no
//! key taken from a dialog or from a field being typed in.

use super::*;
use egui::{Key, Modifiers};
use payrecon::recon::{Finding, Kind, RunStatus};
use payrecon::workspace::{RunRecord, Workspace};

/// Presses `key` with `modifiers` and lets the console act on it.
fn press(c: &mut Console, modifiers: Modifiers, key: Key) {
    c.h.key_press_modifiers(modifiers, key);
    c.h.step();
    c.settle();
}

fn sheet_open(c: &Console) -> bool {
    c.has("Keyboard shortcuts")
}

#[test]
fn ctrl_digits_switch_screens_and_alt_left_goes_back() {
    let mut c = console(Lang::En, None);
    assert_eq!(c.h.state().screen(), Screen::Overview);
    // The n-th entry of the navigation.
    let n = |s: Screen| Screen::ALL.iter().position(|x| *x == s).unwrap();
    let digit = |i: usize| {
        [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
            Key::Num0,
        ][i]
    };
    // Each navigation entry names its shortcut on hover.
    c.h.get_all_by_label("Findings").next().unwrap().hover();
    for _ in 0..90 {
        c.h.step();
    }
    assert!(c.has("Ctrl+4"), "the tooltip names the shortcut");
    press(&mut c, Modifiers::CTRL, digit(n(Screen::Findings)));
    assert_eq!(c.h.state().screen(), Screen::Findings);
    press(&mut c, Modifiers::CTRL, digit(n(Screen::Flows)));
    assert_eq!(c.h.state().screen(), Screen::Flows);
    assert!(c.has("trans_no"), "the table loaded");
    press(&mut c, Modifiers::CTRL, digit(n(Screen::Accounts)));
    assert_eq!(c.h.state().screen(), Screen::Accounts);
    // Back, back, back: the way it came.
    press(&mut c, Modifiers::ALT, Key::ArrowLeft);
    assert_eq!(c.h.state().screen(), Screen::Flows);
    press(&mut c, Modifiers::ALT, Key::ArrowLeft);
    assert_eq!(c.h.state().screen(), Screen::Findings);
    press(&mut c, Modifiers::ALT, Key::ArrowLeft);
    assert_eq!(c.h.state().screen(), Screen::Overview);
    // Nothing before the first screen: Alt+← stays.
    press(&mut c, Modifiers::ALT, Key::ArrowLeft);
    assert_eq!(c.h.state().screen(), Screen::Overview);
    // A mouse click is remembered as well.
    c.nav("Reconcile");
    press(&mut c, Modifiers::ALT, Key::ArrowLeft);
    assert_eq!(c.h.state().screen(), Screen::Overview);
    // Ctrl+E: the export of what the screen showed.
    press(&mut c, Modifiers::CTRL, digit(n(Screen::Orders)));
    press(&mut c, Modifiers::CTRL, Key::E);
    assert_eq!(c.h.state().screen(), Screen::Export);
    assert!(c.has("Save to"));
    press(&mut c, Modifiers::ALT, Key::ArrowLeft);
    assert_eq!(c.h.state().screen(), Screen::Orders);
}

#[test]
fn f1_and_question_mark_open_the_sheet_esc_and_f1_close_it() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    assert!(!sheet_open(&c));
    press(&mut c, Modifiers::NONE, Key::F1);
    assert!(sheet_open(&c));
    for line in [
        "Ctrl+F",
        "PgDn",
        "Alt+←",
        "F5",
        "Ctrl+E",
        "Focus the screen's search field",
    ] {
        assert!(c.has(line), "the sheet lists {line}");
    }
    // The sheet is modal: a screen shortcut does nothing under it.
    press(&mut c, Modifiers::CTRL, Key::Num2);
    assert_eq!(c.h.state().screen(), Screen::Flows);
    press(&mut c, Modifiers::NONE, Key::Escape);
    assert!(!sheet_open(&c));
    // `?` (Shift+/) opens it, F1 closes it.
    press(&mut c, Modifiers::SHIFT, Key::Questionmark);
    assert!(sheet_open(&c));
    press(&mut c, Modifiers::NONE, Key::F1);
    assert!(!sheet_open(&c));
    // The top bar's button, in Chinese too.
    c.click("Shortcuts (F1)");
    assert!(sheet_open(&c));
    c.click("Close (Esc)");
    assert!(!sheet_open(&c));
    c.click("中文");
    c.click("快捷键（F1）");
    assert!(c.has("键盘快捷键"));
    assert!(c.has("聚焦本页的搜索框"));
    assert!(!c.has("Focus the screen's search field"));
    press(&mut c, Modifiers::NONE, Key::Escape);
    assert!(!c.has("键盘快捷键"));
}

#[test]
fn keys_are_not_taken_from_a_field_being_typed_in_or_a_dialog() {
    let mut c = console(Lang::En, Some(Screen::Case));
    // `?` typed in the search field is a character, not the sheet.
    c.type_into("Phone, user, name or bill", "who");
    c.h.key_press_modifiers(Modifiers::SHIFT, Key::Questionmark);
    c.h.event(egui::Event::Text("?".into()));
    c.h.step();
    c.settle();
    assert!(!sheet_open(&c));
    let field = c.h.get_by_role_and_label(
        egui::accesskit::Role::TextInput,
        "Phone, user, name or bill",
    );
    assert_eq!(field.value().as_deref(), Some("who?"));
    // F1 still opens the sheet from a field (it types nothing).
    press(&mut c, Modifiers::NONE, Key::F1);
    assert!(sheet_open(&c));
    press(&mut c, Modifiers::NONE, Key::Escape);
    // The operator prompt keeps the keyboard: Ctrl+digits do not switch.
    c.click("operator: 测试员 tester");
    assert!(c.has("Who is working?"));
    press(&mut c, Modifiers::CTRL, Key::Num2);
    press(&mut c, Modifiers::NONE, Key::F1);
    assert_eq!(c.h.state().screen(), Screen::Case);
    assert!(!sheet_open(&c));
    c.click("Cancel");
    press(&mut c, Modifiers::CTRL, Key::Num2);
    assert_eq!(c.h.state().screen(), Screen::Overview);
}

#[test]
fn tab_moves_the_keyboard_through_the_controls() {
    let mut c = console(Lang::En, Some(Screen::Connect));
    let focused = |c: &Console| c.h.ctx.memory(|m| m.focused());
    assert_eq!(focused(&c), None);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..6 {
        press(&mut c, Modifiers::NONE, Key::Tab);
        let f = focused(&c).expect("Tab gives a control the keyboard");
        seen.insert(f);
    }
    assert!(seen.len() >= 5, "Tab moves on: {seen:?}");
    // Ctrl+F on the connect screen: the URL field.
    press(&mut c, Modifiers::CTRL, Key::F);
    c.h.step();
    assert!(
        c.h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Database URL")
            .is_focused()
    );
}

/// The demo with `n` findings in a fresh workspace, on the findings screen.
fn console_with_findings(n: i64) -> Console {
    let (db, _) = demo();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace.db");
    let url = format!("sqlite://{}", db.display());
    let database = payrecon::db::DbUrl::parse(&url).unwrap().redacted();
    let findings: Vec<Finding> = (0..n)
        .map(|i| {
            let bill = format!("CHARGE{i}");
            Finding::new(Kind::MissingInternal, bill.clone())
                .bill(&bill)
                .user(Some(i % 7))
                .amounts(None, Some(rust_decimal::Decimal::new(i + 1, 2)))
                .explain("测试", "test")
        })
        .collect();
    workspace_rt(async {
        let ws = Workspace::open(&workspace).await.unwrap();
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        ws.record_run(
            &RunRecord {
                operator: "测试员".into(),
                started_at: at,
                finished_at: at,
                database,
                period: None,
                params: serde_json::json!({}),
                status: RunStatus::Ok,
                reason: None,
                not_checked: Vec::new(),
            },
            &findings,
        )
        .await
        .unwrap();
        ws.set_operator("测试员").await.unwrap();
        ws.close().await;
    });
    let app = app(url, workspace.clone(), Lang::En, Some(Screen::Findings));
    let mut c = Console::new(app, workspace, dir);
    c.settle();
    assert!(c.h.state().connected(), "{:?}", c.h.state().banner_text());
    c
}

#[test]
fn findings_page_with_pgdn_pgup_search_with_ctrl_f_and_reload_with_f5() {
    let mut c = console_with_findings(450);
    assert!(c.has("1–200 of 450 findings"));
    press(&mut c, Modifiers::NONE, Key::PageDown);
    assert!(c.has("201–400 of 450 findings"));
    press(&mut c, Modifiers::NONE, Key::PageDown);
    assert!(c.has("401–450 of 450 findings"));
    // At the end PgDn does nothing (as the disabled Next button).
    press(&mut c, Modifiers::NONE, Key::PageDown);
    assert!(c.has("401–450 of 450 findings"));
    press(&mut c, Modifiers::NONE, Key::PageUp);
    assert!(c.has("201–400 of 450 findings"));
    // F5 runs the queue again from its first page.
    press(&mut c, Modifiers::NONE, Key::F5);
    assert!(c.has("1–200 of 450 findings"));
    // Ctrl+F: the cursor in the bill field; typing and Enter search.
    press(&mut c, Modifiers::CTRL, Key::F);
    c.h.step();
    let bill =
        c.h.get_by_role_and_label(egui::accesskit::Role::TextInput, "bill");
    assert!(bill.is_focused());
    bill.type_text("CHARGE17");
    c.h.step();
    press(&mut c, Modifiers::NONE, Key::Enter);
    assert!(c.has("1–1 of 1 findings"), "one bill found");
    // A user instead: user 3 has every seventh finding.
    c.type_into("bill", "");
    press(&mut c, Modifiers::NONE, Key::Backspace);
    c.type_into("user", "3");
    press(&mut c, Modifiers::NONE, Key::Enter);
    assert!(c.has("1–64 of 64 findings"));
    // Ctrl+E from the queue opens the export.
    press(&mut c, Modifiers::CTRL, Key::E);
    assert_eq!(c.h.state().screen(), Screen::Export);
}
