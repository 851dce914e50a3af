//! Console tests: notices (errors and information) that never move the page,
//! close with × or Esc and clear when a later action succeeds; a database
//! that is not a payment database, and a missing table, said in place; the
//! operator's name asked once and kept in the workspace.

use super::*;
use payrecon::workspace::Workspace;

/// A console on an SQLite database made by `sql` (not the demo).
fn console_on(sql: &[&str], lang: Lang) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    workspace_rt(async {
        let url = format!("sqlite://{}?mode=rwc", db.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        for s in sql {
            sqlx::raw_sql(sqlx::AssertSqlSafe(s.to_string()))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    });
    let workspace = dir.path().join("workspace.db");
    let app = app(
        format!("sqlite://{}", db.display()),
        workspace.clone(),
        lang,
        None,
    );
    let mut c = Console::new(app, workspace, dir);
    c.settle();
    assert!(c.h.state().connected(), "{:?}", c.h.state().banner_text());
    c
}

#[test]
fn an_error_notice_moves_nothing_closes_with_esc_and_clears_on_success() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    let before = c.h.get_by_label("Filter").rect();
    c.type_into("amount ≥", "twelve yuan");
    c.click("Filter");
    let b = c.banner();
    assert!(b.contains("min amount"), "{b}");
    // The notice floats: the controls stay where the cursor expects them.
    assert_eq!(c.h.get_by_label("Filter").rect(), before);
    // Its close button is on screen, inside the window.
    let close = c.h.get_by_label("×").rect();
    assert!(close.max.x <= 1360.0 && close.max.y <= 860.0, "{close:?}");

    // Esc closes it.
    c.h.key_press(egui::Key::Escape);
    c.h.step();
    assert_eq!(c.h.state().banner_text(), None);

    // Again; then the same action done right clears it.
    c.click("Filter");
    assert!(c.banner().contains("min amount"), "{}", c.banner());
    c.type_into("amount ≥", "100.00");
    c.click("Filter");
    assert_eq!(c.h.state().banner_text(), None);
    assert!(c.has("rows"), "the filtered page is shown");
}

#[test]
fn a_long_error_wraps_inside_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(40);
    let app = app(
        format!("postgres://payrecon@127.0.0.1:1/{long}_{long}_{long}_{long}"),
        dir.path().join("ws.db"),
        Lang::En,
        None,
    );
    let ws = dir.path().join("ws.db");
    let mut c = Console::new(app, ws, dir);
    c.settle();
    let b = c.banner();
    assert!(b.contains("Connection failed"), "{b}");
    let text = c.h.get_by_label_contains("Connection failed").rect();
    assert!(text.max.x <= 1360.0, "the notice is cut off: {text:?}");
    assert!(text.height() > 20.0, "a long notice wraps: {text:?}");
    let close = c.h.get_by_label("×").rect();
    assert!(close.max.x <= 1360.0, "{close:?}");
}

#[test]
fn a_database_without_payment_tables_says_so_instead_of_dashes() {
    for (lang, says) in [
        (Lang::En, "This is not a payment database"),
        (Lang::Zh, "这不是支付数据库"),
    ] {
        let mut c = console_on(
            &["CREATE TABLE foo (a INTEGER)", "INSERT INTO foo VALUES (1)"],
            lang,
        );
        assert!(c.has(says), "overview");
        assert!(c.has("user_info"), "it names the tables it looked for");
        let flows = Screen::Flows.title(lang);
        c.nav(flows);
        assert!(c.has(says), "flows");
        assert!(!c.has("loading…") && !c.has("正在加载…"));
        assert_eq!(c.h.state().banner_text(), None);
        c.click(match lang {
            Lang::En => "Connect to another database",
            Lang::Zh => "连接另一个数据库",
        });
        assert_eq!(c.h.state().screen(), Screen::Connect);
    }
}

#[test]
fn a_missing_table_is_said_in_place_not_loading_forever() {
    let mut c = console_on(
        &[
            "CREATE TABLE user_info (id INTEGER PRIMARY KEY, name TEXT, mobile TEXT, bind_code TEXT)",
            "INSERT INTO user_info VALUES (1, '张三', '13812345678', 'B1')",
        ],
        Lang::En,
    );
    assert!(!c.has("This is not a payment database"));
    c.nav("Recharge orders");
    assert!(c.has("does not exist in this database"));
    assert!(!c.has("loading…"));
    assert_eq!(
        c.h.state().banner_text(),
        None,
        "said in place, not as an error"
    );
}

#[test]
fn the_operator_is_asked_once_and_kept_in_the_workspace() {
    let mut c = console_as(Lang::En, None, None);
    c.click("operator: not set");
    assert!(c.has("Who is working?"));
    c.type_into("Name", "王芳");
    c.click("Save");
    c.settle();
    assert!(c.has("operator: 王芳"));
    let ws = c.workspace.clone();
    let saved = workspace_rt(async {
        let w = Workspace::open(&ws).await.unwrap();
        w.operator().await.unwrap()
    });
    assert_eq!(saved.as_deref(), Some("王芳"));

    // A new window on the same workspace knows the name without asking.
    let (db, _) = demo();
    let app = app(
        format!("sqlite://{}", db.display()),
        ws.clone(),
        Lang::En,
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let mut again = Console::new(app, ws, dir);
    again.settle();
    assert!(again.has("operator: 王芳"));
}
