//! Connect: a SQLite file, PostgreSQL or MySQL URL; recent connections
//! (never with a password); the read-only badge; the schema report.

use super::{App, Conn, Lang, Screen, filepick};
use crate::db::{ConnectOptions, Db, DbUrl, schema};
use crate::workspace::{RecentConnection, Workspace};
use std::path::PathBuf;
use std::sync::Arc;

/// The connect screen's state.
#[derive(Default)]
pub(crate) struct State {
    /// The URL being typed.
    pub url: String,
    /// The password, kept apart so that it is never shown or remembered.
    pub password: String,
    /// Recent connections from the workspace.
    pub recent: Vec<RecentConnection>,
    /// A connection attempt is running.
    pub connecting: bool,
    /// Ctrl+F asked for the URL field to take the keyboard (next frame).
    pub focus_url: bool,
}

impl State {
    pub(crate) fn new(url: Option<String>) -> Self {
        Self {
            url: url
                .map(|u| DbUrl::parse(&u).map(|d| d.redacted()).unwrap_or(u))
                .unwrap_or_default(),
            ..Self::default()
        }
    }
}

/// What to connect to.
enum Target {
    /// payrecon's demo database (built on first use).
    Demo,
    /// A URL as typed (may hold a password).
    Url(String),
}

/// Opens the workspace and connects, at start.
pub(crate) fn start(app: &mut App, db: Option<String>) {
    let target = match db {
        Some(u) => Target::Url(u),
        None => Target::Demo,
    };
    connect(app, target);
}

/// Connects to the typed URL (with the password field, if any).
fn connect_typed(app: &mut App) {
    let l = app.lang;
    let typed = app.connect.url.trim().to_owned();
    if typed.is_empty() {
        app.error(l.t(
            "请先填写数据库地址，例如 sqlite:///data/pay.db 或 mysql://user@host/srb_core。",
            "Type a database URL first, e.g. sqlite:///data/pay.db or mysql://user@host/srb_core.",
        ));
        return;
    }
    let url = with_password(&typed, &app.connect.password);
    connect(app, Target::Url(url));
}

/// Puts the password field into a server URL (never into what is shown or stored).
fn with_password(url: &str, password: &str) -> String {
    if password.is_empty() {
        return url.to_owned();
    }
    match url::Url::parse(url) {
        Ok(mut u) if u.has_host() => {
            if u.set_password(Some(password)).is_ok() {
                u.to_string()
            } else {
                url.to_owned()
            }
        }
        _ => url.to_owned(),
    }
}

fn connect(app: &mut App, target: Target) {
    app.connect.connecting = true;
    let ws_path = app.workspace_path.clone();
    let ws = app.ws.clone();
    let l = app.lang;
    app.jobs.spawn(async move {
        let ws_result = match ws {
            Some(ws) => Ok(ws),
            None => Workspace::open(&ws_path)
                .await
                .map(Arc::new)
                .map_err(|e| e.to_string()),
        };
        let demo = matches!(target, Target::Demo);
        let conn = open(target, l).await;
        let mut first_checks = false;
        let operator = match &ws_result {
            Ok(ws) => ws.operator().await.ok().flatten(),
            Err(_) => None,
        };
        if let (Ok(ws), Ok(c)) = (&ws_result, &conn) {
            // Remembered without the password (the workspace strips it too).
            let _ = ws.remember_connection(&c.url, c.db.backend().name()).await;
            if demo {
                first_checks = ws
                    .list_runs(Some(&c.url), 1)
                    .await
                    .map(|r| r.is_empty())
                    .unwrap_or(false);
            }
        }
        Box::new(move |app: &mut App| {
            app.connect.connecting = false;
            if operator.is_some() {
                app.operator = operator;
            }
            match ws_result {
                Ok(ws) => app.ws = Some(ws),
                Err(e) => app.error(format!(
                    "{}{e}",
                    app.lang.t(
                        "无法打开工作区（对账记录、差错、审计）：",
                        "cannot open the workspace (runs, findings, audit): "
                    )
                )),
            }
            match conn {
                Ok(c) => {
                    let c = Arc::new(c);
                    if !c.demo {
                        app.connect.url = c.url.clone();
                    }
                    app.connect.password.clear();
                    app.conn = Some(Arc::clone(&c));
                    app.tables = super::table::Tables::default();
                    app.case.result = None;
                    app.findings.rows.clear();
                    app.overview.data = None;
                    super::reconcile_view::prefill(app);
                    if app.banner.as_ref().is_some_and(|b| !b.error) {
                        app.banner = None;
                    }
                    app.after_connect();
                    if first_checks {
                        super::reconcile_view::first_demo_checks(app);
                    }
                }
                Err(e) => {
                    app.error(e);
                    if app.screen != Screen::Connect {
                        app.go(Screen::Connect);
                    } else {
                        load_recent(app);
                    }
                }
            }
        }) as super::jobs::Apply
    });
}

/// Connects read-only and reads the schema; errors come back as one
/// sentence with what to do about it.
async fn open(target: Target, l: Lang) -> Result<Conn, String> {
    let (url, demo) = match target {
        Target::Demo => {
            let path = crate::demo::default_demo_path();
            if !path.exists() {
                crate::demo::build_sqlite(
                    &path,
                    crate::demo::business_today() - chrono::Duration::days(1),
                    2026,
                )
                .await
                .map_err(|e| {
                    format!(
                        "{}{e}",
                        l.t("无法创建演示数据库：", "cannot build the demo database: ")
                    )
                })?;
            }
            (format!("sqlite://{}", path.display()), true)
        }
        Target::Url(u) => (u, false),
    };
    let db = Db::connect(&url, &ConnectOptions::interactive())
        .await
        .map_err(|e| explain(&e.to_string(), l))?;
    let schema = schema::discover(&db)
        .await
        .map_err(|e| explain(&e.to_string(), l))?;
    Ok(Conn {
        url: db.redacted_url(),
        db,
        schema,
        demo,
    })
}

/// Adds how to fix a connection error to its message.
fn explain(msg: &str, l: Lang) -> String {
    let m = msg.to_ascii_lowercase();
    let hint = if m.contains("password")
        || m.contains("access denied")
        || m.contains("authentication")
    {
        l.t(
            "请检查用户名和密码（密码填在“密码”框里，不会被保存）。",
            "Check the user name and password (type the password in the Password box; it is never stored).",
        )
    } else if m.contains("refused")
        || m.contains("timed out")
        || m.contains("timeout")
        || m.contains("no route")
        || m.contains("resolve")
        || m.contains("lookup")
    {
        l.t(
            "数据库服务器没有应答：请检查主机名、端口，以及服务器是否在运行。",
            "The database server did not answer: check the host, the port and that the server is running.",
        )
    } else if m.contains("unable to open")
        || m.contains("no such file")
        || m.contains("does not exist")
    {
        l.t(
            "找不到这个文件或数据库：请检查路径或库名。",
            "No such file or database: check the path or the database name.",
        )
    } else if m.contains("scheme") || m.contains("url") {
        l.t(
            "地址格式：sqlite:///路径/文件.db、postgres://用户@主机/库 或 mysql://用户@主机/库。",
            "URL forms: sqlite:///path/file.db, postgres://user@host/db or mysql://user@host/db.",
        )
    } else {
        ""
    };
    let lead = l.t("连接失败：", "Connection failed: ");
    if hint.is_empty() {
        format!("{lead}{msg}")
    } else {
        format!("{lead}{msg} — {hint}")
    }
}

/// Loads the recent connections.
pub(crate) fn load_recent(app: &mut App) {
    let Some(ws) = app.ws.clone() else { return };
    app.jobs.spawn(async move {
        let r = ws.recent_connections().await;
        Box::new(move |app: &mut App| {
            if let Ok(r) = r {
                app.connect.recent = r;
            }
        }) as super::jobs::Apply
    });
}

/// The connect screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    ui.heading(l.t("连接支付数据库", "Connect to a payment database"));
    ui.label(l.t(
        "payrecon 以只读方式连接：数据库本身会拒绝这个连接上的任何写入。",
        "payrecon connects read-only: the database itself refuses any write on this connection.",
    ));
    ui.add_space(6.0);
    let mut go = false;
    egui::Grid::new("connect-form")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let lab = ui.label(l.t("数据库地址", "Database URL"));
            let r = ui.add(
                egui::TextEdit::singleline(&mut app.connect.url)
                    .hint_text("sqlite:///data/pay.db · postgres://user@host/db · mysql://user@host/srb_core")
                    .desired_width(560.0),
            ).labelled_by(lab.id);
            if std::mem::take(&mut app.connect.focus_url) {
                r.request_focus();
            }
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                go = true;
            }
            ui.end_row();
            let lab = ui.label(l.t("密码", "Password"));
            let r = ui.add(
                egui::TextEdit::singleline(&mut app.connect.password)
                    .password(true)
                    .hint_text(l.t("（可选，不会保存）", "(optional, never stored)"))
                    .desired_width(240.0),
            ).labelled_by(lab.id);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                go = true;
            }
            ui.end_row();
        });
    ui.horizontal(|ui| {
        let busy = app.connect.connecting;
        if ui
            .add_enabled(!busy, egui::Button::new(l.t("连接", "Connect")))
            .clicked()
        {
            go = true;
        }
        if ui
            .add_enabled(
                !busy,
                egui::Button::new(l.t("选择 SQLite 文件…", "Choose a SQLite file…")),
            )
            .clicked()
        {
            app.picker = Some(filepick::Picker::open(
                filepick::Purpose::SqliteFile,
                crate::demo::data_dir(),
                &["db", "sqlite", "sqlite3"],
            ));
        }
        if ui
            .add_enabled(
                !busy,
                egui::Button::new(l.t("打开演示库", "Open the demo database")),
            )
            .clicked()
        {
            connect(app, Target::Demo);
        }
        if busy {
            ui.spinner();
            ui.label(l.t("正在连接…", "connecting…"));
        }
    });
    if go {
        connect_typed(app);
    }

    ui.add_space(10.0);
    if let Some(c) = app.conn.clone() {
        schema_report(ui, &c, l);
        ui.add_space(10.0);
    }

    ui.heading(l.t("最近的连接", "Recent connections"));
    if app.connect.recent.is_empty() {
        ui.weak(l.t("（还没有）", "(none yet)"));
    }
    let mut chosen = None;
    egui::Grid::new("recent").striped(true).show(ui, |ui| {
        for r in &app.connect.recent {
            if ui.link(egui::RichText::new(&r.url).monospace()).clicked() {
                chosen = Some(r.url.clone());
            }
            ui.label(&r.backend);
            ui.label(r.last_used.format("%Y-%m-%d %H:%M").to_string());
            ui.label(format!("{}×", r.uses));
            ui.end_row();
        }
    });
    if let Some(u) = chosen {
        // A stored URL never has its password: fill it in, ask for it.
        let clean = u.replace(":***@", "@");
        let is_file = clean.starts_with("sqlite:");
        app.connect.url = clean;
        if is_file {
            connect_typed(app);
        } else {
            app.info(l.t(
                "已填入地址；如需密码请填写后点“连接”。",
                "URL filled in; type the password if it needs one, then Connect.",
            ));
        }
    }
}

/// A chosen SQLite file from the picker.
pub(crate) fn picked_file(app: &mut App, path: PathBuf) {
    app.connect.url = format!("sqlite://{}", path.display());
    connect_typed(app);
}

/// "Found" / "present": a green that reads on both themes through `ink`.
const GREEN: egui::Color32 = egui::Color32::from_rgb(0x1b, 0x7f, 0x3b);

fn schema_report(ui: &mut egui::Ui, c: &Conn, l: Lang) {
    ui.heading(l.t("数据库结构", "Schema report"));
    ui.label(format!("{} · {}", c.db.backend().name(), c.url));
    egui::Grid::new("schema").striped(true).show(ui, |ui| {
        for t in schema::CONTRACT_TABLES {
            let found = c.schema.has_table(t);
            ui.label(egui::RichText::new(t).monospace());
            if found {
                ui.colored_label(super::widgets::ink(ui, GREEN), l.t("✓ 有", "✓ found"));
            } else {
                ui.colored_label(
                    super::widgets::severity_ink(ui, crate::recon::Severity::Critical),
                    l.t(
                        "× 缺少：依赖它的检查会被跳过并注明原因",
                        "× missing: the checks that need it are skipped, with the reason",
                    ),
                );
            }
            ui.end_row();
        }
        ui.label(l.t("流水号唯一索引", "unique index on trans_no"))
            .on_hover_text("trans_flow.trans_no");
        if c.schema.trans_no_unique {
            ui.colored_label(
                super::widgets::ink(ui, GREEN),
                l.t(
                    "✓ 有：数据库会拒绝重复入账的第二条流水",
                    "✓ present: the database refuses a second flow for one bill",
                ),
            );
        } else {
            ui.colored_label(
                super::widgets::severity_ink(ui, crate::recon::Severity::High),
                l.t(
                    "× 没有：并发回调可能重复入账，对账会检查",
                    "× absent: concurrent callbacks can credit twice; reconciliation checks for it",
                ),
            );
        }
        ui.end_row();
    });
}

/// The connect screen's shortcuts: Ctrl+F puts the cursor in the URL field.
pub(crate) fn shortcut(app: &mut App, s: super::keys::Shortcut) -> bool {
    match s {
        super::keys::Shortcut::FocusSearch => {
            app.connect.focus_url = true;
            true
        }
        _ => false,
    }
}
