#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The console driven through its accessibility tree with egui_kittest: the
//! real app, connected to a real demo database (SQLite), every click a click.
//! Background jobs run on the app's own runtime; `settle` waits for them.

// One test binary for every console test (one link of eframe); each area's
// tests live in their own file and use the harness below.
#[path = "console/case.rs"]
mod case;
#[path = "console/export.rs"]
mod export;
#[path = "console/findings.rs"]
mod findings;
#[path = "console/keyboard.rs"]
mod keyboard;
#[path = "console/language.rs"]
mod language;
#[path = "console/money.rs"]
mod money;
#[path = "console/notices.rs"]
mod notices;
#[path = "console/overview.rs"]
mod overview;
#[path = "console/reconcile.rs"]
mod reconcile;
#[path = "console/tables.rs"]
mod tables;
#[path = "console/theme.rs"]
mod theme;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use payrecon::gui::{App, Lang, Options, Screen};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A demo database built once per test binary.
pub(crate) fn demo() -> &'static (PathBuf, Vec<PathBuf>) {
    static DEMO: std::sync::OnceLock<(tempfile::TempDir, PathBuf, Vec<PathBuf>)> =
        std::sync::OnceLock::new();
    let d = DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.db");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let r = rt
            .block_on(payrecon::demo::build_sqlite(&path, day, 2026))
            .unwrap();
        (dir, path, r.statements)
    });
    // A reference to the path and files; the TempDir lives as long as the process.
    static VIEW: std::sync::OnceLock<(PathBuf, Vec<PathBuf>)> = std::sync::OnceLock::new();
    VIEW.get_or_init(|| (d.1.clone(), d.2.clone()))
}

pub(crate) struct Console {
    pub(crate) h: Harness<'static, App>,
    pub(crate) workspace: PathBuf,
    _dir: tempfile::TempDir,
}

/// The console on the demo, with the operator "测试员 tester" saved in its
/// new workspace (actions that record a name do not stop to ask for it).
pub(crate) fn console(lang: Lang, screen: Option<Screen>) -> Console {
    console_as(lang, screen, Some("测试员 tester"))
}

/// The console on the demo with `operator` saved in its new workspace (`None`:
/// a workspace that has never been given a name).
pub(crate) fn console_as(lang: Lang, screen: Option<Screen>, operator: Option<&str>) -> Console {
    let (db, _) = demo();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace.db");
    if let Some(name) = operator {
        workspace_rt(async {
            let ws = payrecon::workspace::Workspace::open(&workspace)
                .await
                .unwrap();
            ws.set_operator(name).await.unwrap();
        });
    }
    let app = app(
        format!("sqlite://{}", db.display()),
        workspace.clone(),
        lang,
        screen,
    );
    let mut c = Console::new(app, workspace, dir);
    c.settle();
    assert!(c.h.state().connected(), "{:?}", c.h.state().banner_text());
    c
}

/// The real console on `db` (a URL), with `workspace`, before any frame.
pub(crate) fn app(db: String, workspace: PathBuf, lang: Lang, screen: Option<Screen>) -> App {
    App::new(Options {
        db: Some(db),
        workspace,
        screen,
        lang: Some(lang),
        case_query: None,
        system_fonts: false,
        theme: None,
    })
    .unwrap()
}

impl Console {
    pub(crate) fn new(app: App, workspace: PathBuf, dir: tempfile::TempDir) -> Self {
        let h = Harness::builder()
            .with_size(egui::vec2(1360.0, 860.0))
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        Console {
            h,
            workspace,
            _dir: dir,
        }
    }

    /// Steps frames until no background job is running (at most 120 s).
    pub(crate) fn settle(&mut self) {
        let start = Instant::now();
        let mut idle = 0;
        while idle < 3 {
            self.h.step();
            if self.h.state().busy() {
                idle = 0;
                std::thread::sleep(Duration::from_millis(10));
            } else {
                idle += 1;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the console did not settle"
            );
        }
    }

    /// Clicks the last widget with this label (a screen's own button comes
    /// after the navigation's entry of the same name).
    pub(crate) fn click(&mut self, label: &str) {
        self.h
            .get_all_by_label(label)
            .last()
            .expect("a widget with this label")
            .click();
        self.h.step();
        self.settle();
    }

    /// Clicks a navigation entry (the first widget with this label).
    pub(crate) fn nav(&mut self, label: &str) {
        self.h.get_all_by_label(label).next().unwrap().click();
        self.h.step();
        self.settle();
    }

    pub(crate) fn type_into(&mut self, field: &str, text: &str) {
        let n = self
            .h
            .get_by_role_and_label(egui::accesskit::Role::TextInput, field);
        n.focus();
        self.h.step();
        // Select what is there, so that typing replaces it.
        self.h
            .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        self.h.step();
        let n = self
            .h
            .get_by_role_and_label(egui::accesskit::Role::TextInput, field);
        n.type_text(text);
        self.h.step();
    }

    pub(crate) fn has(&self, text: &str) -> bool {
        self.h.query_all_by_label_contains(text).next().is_some()
    }

    pub(crate) fn banner(&self) -> String {
        self.h.state().banner_text().unwrap_or_default().to_owned()
    }
}

pub(crate) fn workspace_rt<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

#[test]
fn every_view_opens_in_english_and_chinese() {
    let mut c = console(Lang::En, None);
    assert_eq!(c.h.state().screen(), Screen::Overview);
    assert!(c.has("READ-ONLY"));
    assert!(c.has("Callbacks per minute"));
    for (nav, expect) in [
        ("Trans flows", "trans_no"),
        ("Recharge orders", "Bill no. (agentBillNo)"),
        ("Callback attempts", "Response"),
        ("Idempotency records", "Request hash"),
        ("Accounts", "Difference"),
        ("Findings", "explanation"),
        ("Reconcile", "Run reconciliation"),
        ("Export", "Save to"),
        ("Case", "Search"),
        ("Connect", "Schema report"),
    ] {
        c.nav(nav);
        assert!(c.has(expect), "{nav}: no '{expect}' on screen");
        assert!(c.banner().is_empty(), "{nav}: {}", c.banner());
    }
    // Switch the language in the window.
    c.click("中文");
    c.nav("交易流水");
    assert!(c.has("流水号"));
    assert!(c.has("只读"));
    c.nav("账户余额");
    assert!(c.has("流水应有余额"));
}

#[test]
fn table_pages_from_the_database_and_filters() {
    let mut c = console(Lang::En, Some(Screen::Flows));
    assert!(c.has("rows"));
    let first_page = c.h.state().screen();
    assert_eq!(first_page, Screen::Flows);
    c.click("Last ▶|");
    assert!(c.h.query_by_label("Next ▶").is_some());
    // A filter on user 1: only that user's rows.
    c.type_into("user", "1");
    c.click("Filter");
    assert!(c.banner().is_empty(), "{}", c.banner());
    // A bad filter value: one sentence naming the field, the window still usable.
    c.type_into("from", "yesterday");
    c.click("Filter");
    assert!(c.banner().contains("from"), "{}", c.banner());
    assert!(c.banner().contains("yesterday"), "{}", c.banner());
    c.click("Clear");
}

#[test]
fn case_search_by_agent_bill_no_reads_the_verdict() {
    let mut c = console(Lang::En, Some(Screen::Case));
    // A bill the demo's naive day credited twice (the truth file names it).
    let (db, _) = demo();
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(db.parent().unwrap().join("demo-truth.json")).unwrap(),
    )
    .unwrap();
    let bill = truth["anomalies"]["duplicate_credit"][0]
        .as_str()
        .unwrap()
        .to_owned();
    c.type_into("Phone, user, name or bill", &bill);
    c.click("Search");
    // The naive day credits some bills twice and some three times or more.
    assert!(
        c.has("credited twice: one recharge was credited more than once")
            || c.has("credited many times: one recharge was credited three times or more"),
        "no verdict for {bill}"
    );
    assert!(c.has("too much"), "the excess is named");
    // In Chinese too.
    c.click("中文");
    assert!(
        c.has("重复入账：同一笔充值入账了不止一次")
            || c.has("多次入账：同一笔充值入账了三次或更多")
    );
    // Something that does not exist.
    c.type_into("手机号/用户/姓名/订单号", "CHARGE00000000000000000000");
    c.click("查询");
    assert!(c.has("没有找到"));
}

fn clear_statements(c: &mut Console) {
    while c.h.query_by_label("×").is_some() {
        c.click("×");
    }
}

fn add_statement(c: &mut Console, path: &Path) {
    c.click("Add a statement file…");
    c.type_into("File", &path.display().to_string());
    c.click("Open");
    assert!(c.has(&path.display().to_string()));
}

#[test]
fn a_finding_is_resolved_with_a_note_and_audited() {
    let mut c = console(Lang::En, Some(Screen::Reconcile));
    let out = c._dir.path().join("run").display().to_string();
    c.type_into("Results folder", &out);
    c.type_into("Business day", "2026-11-20");
    clear_statements(&mut c);
    c.click("Run reconciliation");
    assert!(c.banner().contains("complete"), "{}", c.banner());
    c.click("Open the findings queue");
    // The first critical finding of the queue, as the workspace lists it.
    let ws_path = c.workspace.clone();
    let key = workspace_rt(async move {
        let ws = payrecon::workspace::Workspace::open(&ws_path)
            .await
            .unwrap();
        let rows = ws
            .list_findings(&payrecon::workspace::FindingFilter {
                kinds: vec![payrecon::recon::Kind::BalanceMismatch],
                ..Default::default()
            })
            .await
            .unwrap();
        rows.first().unwrap().key.clone()
    });
    c.click(&key);
    // Resolving needs a note: without one, a banner says so.
    c.click("Resolve");
    assert!(c.banner().contains("note"), "{}", c.banner());
    c.type_into("Note", "refunded by hand, ticket 4711");
    c.click("Resolve");
    assert!(c.banner().contains("resolved"), "{}", c.banner());
    let entries = workspace_rt(async {
        let ws = payrecon::workspace::Workspace::open(&c.workspace)
            .await
            .unwrap();
        assert!(ws.verify_audit().await.unwrap().ok);
        ws.audit_entries(0, 1000).await.unwrap()
    });
    assert!(
        entries
            .iter()
            .any(|e| e.action == "resolve" && e.params.to_string().contains("ticket 4711")),
        "{entries:?}"
    );
}

#[test]
fn export_a_filtered_view_and_read_it_back() {
    let mut c = console(Lang::En, Some(Screen::Export));
    let out = c._dir.path().join("flows-user-1.csv");
    c.type_into("user", "1");
    c.type_into("Save to", &out.display().to_string());
    c.click("Export");
    assert!(c.banner().contains("Exported"), "{}", c.banner());
    let mut r = csv::Reader::from_path(&out).unwrap();
    let header = r.headers().unwrap().clone();
    assert_eq!(&header[1], "user_id");
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| &r[1] == "1"), "only user 1");
    // Exact amounts: two decimals, never a float.
    assert!(rows.iter().all(|r| {
        let a = &r[6];
        a.split_once('.').is_some_and(|(_, f)| f.len() == 2)
    }));
}

#[test]
fn bad_input_gets_a_banner_and_the_window_stays_usable() {
    // Nothing listens on this port.
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        "postgres://payrecon@127.0.0.1:1/nothing".into(),
        dir.path().join("ws.db"),
        Lang::En,
        None,
    );
    let ws = dir.path().join("ws.db");
    let mut c = Console::new(app, ws, dir);
    c.settle();
    assert!(!c.h.state().connected());
    let b = c.banner();
    assert!(b.contains("Connection failed"), "{b}");
    assert!(b.contains("server did not answer"), "{b}");
    // A missing SQLite file.
    c.type_into("Database URL", "sqlite:///nonexistent/dir/pay.db");
    c.click("Connect");
    assert!(c.banner().contains("Connection failed"), "{}", c.banner());
    // A cancelled file dialog.
    c.click("Choose a SQLite file…");
    c.click("Cancel");
    assert!(c.banner().contains("No file chosen"), "{}", c.banner());
    // Still usable: the demo opens from the same window.
    let (db, _) = demo();
    c.type_into("Database URL", &format!("sqlite://{}", db.display()));
    c.click("Connect");
    assert!(c.h.state().connected(), "{}", c.banner());

    // A statement of the wrong format: it is refused with the reason, the
    // day's flows are unverified, and nothing is called missing.
    c.nav("Reconcile");
    let (_, statements) = demo();
    let wechat = statements
        .iter()
        .find(|p| p.display().to_string().contains("hfb"))
        .unwrap()
        .clone();
    clear_statements(&mut c);
    c.type_into("Business day", "2026-11-20");
    c.type_into(
        "Results folder",
        &c._dir.path().join("bad").display().to_string(),
    );
    add_statement(&mut c, &wechat);
    // Say it is an Alipay bill (it is not).
    c.h.get_by_value("hfb (our gateway)").click();
    c.h.step();
    c.settle();
    c.click("Alipay business detail");
    // The first run in this workspace asks who is working, once.
    c.click("Run reconciliation");
    assert!(c.has("Who is working?"));
    c.type_into("Name", "值班员 on duty");
    c.click("Save");
    c.click("Run reconciliation");
    assert!(c.banner().contains("complete"), "{}", c.banner());
    assert!(c.has("NOT used: "), "the refused file is named");
    assert!(
        c.has("choose the statement format hfb"),
        "with the reason, in the window's words"
    );
    assert!(!c.has("--format"), "no command-line flag in the window");
    assert!(c.has("Unverified flows"), "and the flows it left unchecked");
    assert!(!c.has("missing_external") && !c.has("missing_internal"));
    c.nav("Overview");
    assert!(c.has("Callbacks per minute"));
}

/// eframe's storage in memory (the real one is a file in the data folder):
/// the preferences a console saves, handed to the next one.
#[derive(Default)]
pub(crate) struct Mem(pub(crate) std::collections::HashMap<String, String>);

impl eframe::Storage for Mem {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}
