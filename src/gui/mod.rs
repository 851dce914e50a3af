//! The desktop console (SPEC §6): connect, overview, the five tables, case,
//! findings, reconcile and export, in Chinese and English.
//!
//! The window never waits for the database: every query runs as a job on a
//! tokio runtime beside the UI (`jobs`); its result comes back as a closure
//! applied to [`App`] on the UI thread. The views read engine types
//! ([`crate::browse`], [`crate::case`], [`crate::stats`], the workspace) and
//! never build SQL.

// Layout is measured in floating-point points; no amount is ever a float here
// (amounts arrive as exact text from the engine).
#![allow(clippy::float_arithmetic)]

mod case_view;
mod connect;
mod export_view;
mod filepick;
mod findings_view;
mod fonts;
pub mod i18n;
mod jobs;
mod overview;
mod reconcile_view;
mod table;
mod widgets;

pub use i18n::Lang;

use crate::db::{Db, schema::SchemaReport};
use crate::views::View;
use crate::workspace::Workspace;
use jobs::Jobs;
use std::path::PathBuf;
use std::sync::Arc;

/// A screen of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Screen {
    /// Connect to a database.
    Connect,
    /// Totals, callbacks per minute, findings.
    Overview,
    /// `trans_flow`.
    Flows,
    /// `recharge_order`.
    Orders,
    /// `notify_log`.
    Notify,
    /// `idempotency_record`.
    Idempotency,
    /// `user_account` with stored, expected and difference.
    Accounts,
    /// One customer's or one recharge's story.
    Case,
    /// The findings queue.
    Findings,
    /// Run a reconciliation.
    Reconcile,
    /// Export a view to CSV.
    Export,
}

impl Screen {
    /// Every screen, in the order of the navigation.
    pub const ALL: [Screen; 11] = [
        Screen::Connect,
        Screen::Overview,
        Screen::Case,
        Screen::Findings,
        Screen::Reconcile,
        Screen::Flows,
        Screen::Orders,
        Screen::Notify,
        Screen::Idempotency,
        Screen::Accounts,
        Screen::Export,
    ];

    /// The database view a table screen shows.
    pub fn view(self) -> Option<View> {
        match self {
            Screen::Flows => Some(View::Flows),
            Screen::Orders => Some(View::Orders),
            Screen::Notify => Some(View::Notify),
            Screen::Idempotency => Some(View::Idempotency),
            Screen::Accounts => Some(View::Accounts),
            _ => None,
        }
    }

    /// The screen's name in the navigation.
    pub fn title(self, l: Lang) -> &'static str {
        match self {
            Screen::Connect => l.t("连接", "Connect"),
            Screen::Overview => l.t("总览", "Overview"),
            Screen::Flows => l.t("交易流水", "Trans flows"),
            Screen::Orders => l.t("充值订单", "Recharge orders"),
            Screen::Notify => l.t("回调记录", "Callback attempts"),
            Screen::Idempotency => l.t("幂等记录", "Idempotency records"),
            Screen::Accounts => l.t("账户余额", "Accounts"),
            Screen::Case => l.t("客诉查询", "Case"),
            Screen::Findings => l.t("差错队列", "Findings"),
            Screen::Reconcile => l.t("对账", "Reconcile"),
            Screen::Export => l.t("导出", "Export"),
        }
    }
}

/// How the console starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// The payment database; `None` opens the embedded demo (built on first run).
    pub db: Option<String>,
    /// payrecon's workspace database.
    pub workspace: PathBuf,
    /// The first screen (default: the overview once connected).
    pub screen: Option<Screen>,
    /// The language (default: the system locale's).
    pub lang: Option<Lang>,
    /// A case search to run at start (`--case`), for the case screen.
    pub case_query: Option<String>,
    /// Add the system CJK font as a fallback (off in tests, for reproducible pictures).
    pub system_fonts: bool,
}

/// The connected payment database.
pub(crate) struct Conn {
    /// The pool (read-only).
    pub db: Db,
    /// What the database has.
    pub schema: SchemaReport,
    /// Password-free URL.
    pub url: String,
    /// Whether this is payrecon's demo database.
    pub demo: bool,
}

/// A message across the top of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Banner {
    /// An error (red) or information (blue).
    pub error: bool,
    /// What happened and how to fix it.
    pub text: String,
}

/// The console's state.
pub struct App {
    pub(crate) lang: Lang,
    pub(crate) jobs: Jobs,
    pub(crate) ws: Option<Arc<Workspace>>,
    pub(crate) workspace_path: PathBuf,
    pub(crate) conn: Option<Arc<Conn>>,
    pub(crate) screen: Screen,
    pub(crate) banner: Option<Banner>,
    pub(crate) connect: connect::State,
    pub(crate) overview: overview::State,
    pub(crate) tables: table::Tables,
    pub(crate) case: case_view::State,
    pub(crate) findings: findings_view::State,
    pub(crate) recon: reconcile_view::State,
    pub(crate) export: export_view::State,
    pub(crate) picker: Option<filepick::Picker>,
    /// The operator's name saved in the workspace (`None` until given).
    pub(crate) operator: Option<String>,
    /// The operator prompt, while it is open: the name being typed.
    pub(crate) operator_prompt: Option<String>,
    system_fonts: bool,
    fonts_installed: bool,
    first_screen: Option<Screen>,
}

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    /// The background runtime.
    #[error("cannot start the background runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The window system.
    #[error("cannot open the window: {0}")]
    Window(String),
    /// The screenshot.
    #[error("screenshot: {0}")]
    Screenshot(String),
}

impl App {
    /// The console, connecting (in the background) to `opts.db` or the demo.
    pub fn new(opts: Options) -> Result<Self, GuiError> {
        let lang = opts.lang.unwrap_or_else(Lang::from_env);
        let jobs = Jobs::new()?;
        let mut app = Self {
            lang,
            jobs,
            ws: None,
            workspace_path: opts.workspace.clone(),
            conn: None,
            screen: Screen::Connect,
            banner: None,
            connect: connect::State::new(opts.db.clone()),
            overview: overview::State::default(),
            tables: table::Tables::default(),
            case: case_view::State::default(),
            findings: findings_view::State::default(),
            recon: reconcile_view::State::default(),
            export: export_view::State::default(),
            picker: None,
            operator: None,
            operator_prompt: None,
            system_fonts: opts.system_fonts,
            fonts_installed: false,
            first_screen: opts.screen,
        };
        if let Some(q) = &opts.case_query {
            app.case.query = q.clone();
            app.case.search_on_connect = true;
        }
        connect::start(&mut app, opts.db);
        Ok(app)
    }

    /// Draws the whole console into `ui` (the window's root, or a test harness).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.jobs.set_ctx(ui.ctx());
        if !self.fonts_installed {
            fonts::install(ui.ctx(), self.system_fonts);
            self.fonts_installed = true;
        }
        for apply in self.jobs.take() {
            apply(self);
        }
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::left("nav")
            .resizable(false)
            .default_size(150.0)
            .show(ui, |ui| self.nav(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.banner_ui(ui);
            match self.screen {
                Screen::Connect => connect::ui(self, ui),
                Screen::Overview => overview::ui(self, ui),
                Screen::Case => case_view::ui(self, ui),
                Screen::Findings => findings_view::ui(self, ui),
                Screen::Reconcile => reconcile_view::ui(self, ui),
                Screen::Export => export_view::ui(self, ui),
                s => {
                    if let Some(v) = s.view() {
                        table::ui(self, ui, v);
                    }
                }
            }
        });
        filepick::show(self, ui.ctx());
    }

    /// Whether background work is still running (tests and screenshots wait for it).
    pub fn busy(&self) -> bool {
        self.jobs.busy()
    }

    /// The banner's text, if one is shown.
    pub fn banner_text(&self) -> Option<&str> {
        self.banner.as_ref().map(|b| b.text.as_str())
    }

    /// The screen shown.
    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// Whether a database is connected.
    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Shows an error banner.
    pub(crate) fn error(&mut self, text: impl Into<String>) {
        self.banner = Some(Banner {
            error: true,
            text: text.into(),
        });
    }

    /// Shows an information banner.
    pub(crate) fn info(&mut self, text: impl Into<String>) {
        self.banner = Some(Banner {
            error: false,
            text: text.into(),
        });
    }

    /// The operator's name for an action that records it (a run, a status
    /// change, an export). When none is saved yet, opens the prompt that asks
    /// for it once and returns `None`: the caller does nothing this time.
    pub(crate) fn operator_for_action(&mut self) -> Option<String> {
        if let Some(o) = &self.operator {
            return Some(o.clone());
        }
        if self.operator_prompt.is_none() {
            let env = crate::workspace::current_operator();
            self.operator_prompt = Some(if env == "unknown" { String::new() } else { env });
        }
        None
    }

    /// Switches screens, loading what the new one shows.
    pub(crate) fn go(&mut self, screen: Screen) {
        self.screen = screen;
        match screen {
            Screen::Overview => overview::load(self),
            Screen::Findings => findings_view::load(self),
            Screen::Connect => connect::load_recent(self),
            s => {
                if let Some(v) = s.view() {
                    table::open(self, v);
                }
            }
        }
    }

    /// The first screen after connecting.
    pub(crate) fn after_connect(&mut self) {
        let s = self.first_screen.take().unwrap_or(Screen::Overview);
        self.go(s);
        if self.case.search_on_connect {
            self.case.search_on_connect = false;
            case_view::search(self);
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        let l = self.lang;
        ui.horizontal(|ui| {
            ui.heading("payrecon · 支付对账台");
            ui.separator();
            match &self.conn {
                Some(c) => {
                    widgets::badge(
                        ui,
                        l.t("只读", "READ-ONLY"),
                        egui::Color32::from_rgb(0x1b, 0x7f, 0x3b),
                    )
                    .on_hover_text(l.t(
                        "数据库本身拒绝 payrecon 连接上的任何写入",
                        "the database itself refuses any write on payrecon's connection",
                    ));
                    ui.label(egui::RichText::new(&c.url).monospace());
                    if c.demo {
                        widgets::badge(
                            ui,
                            l.t("演示库", "demo"),
                            egui::Color32::from_rgb(0x6a, 0x4c, 0x93),
                        );
                    }
                }
                None => {
                    ui.label(l.t("未连接", "not connected"));
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button(l.switch_label())
                    .on_hover_text(l.t("切换语言", "switch language"))
                    .clicked()
                {
                    self.lang = l.other();
                }
                if self.jobs.busy() {
                    ui.spinner();
                }
            });
        });
    }

    fn nav(&mut self, ui: &mut egui::Ui) {
        let l = self.lang;
        ui.add_space(4.0);
        for s in Screen::ALL {
            if matches!(s, Screen::Flows) {
                ui.separator();
                ui.weak(l.t("数据表", "Tables"));
            }
            if matches!(s, Screen::Export) {
                ui.separator();
            }
            let enabled = s == Screen::Connect || self.conn.is_some();
            let r = ui.add_enabled(
                enabled,
                egui::Button::selectable(self.screen == s, s.title(l)),
            );
            if r.clicked() && self.screen != s {
                self.go(s);
            }
        }
    }

    fn banner_ui(&mut self, ui: &mut egui::Ui) {
        let Some(b) = &self.banner else { return };
        let (fill, stroke) = if b.error {
            (
                egui::Color32::from_rgb(0xfd, 0xec, 0xea),
                egui::Color32::from_rgb(0xb4, 0x23, 0x18),
            )
        } else {
            (
                egui::Color32::from_rgb(0xe8, 0xf1, 0xfb),
                egui::Color32::from_rgb(0x1f, 0x5f, 0xa8),
            )
        };
        let text = b.text.clone();
        let mut close = false;
        egui::Frame::new()
            .fill(fill)
            .stroke(egui::Stroke::new(1.0, stroke))
            .inner_margin(8.0)
            .corner_radius(4.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(text).color(stroke));
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        if ui.small_button("×").clicked() {
                            close = true;
                        }
                    });
                });
            });
        if close {
            self.banner = None;
        }
        ui.add_space(6.0);
    }
}

/// Runs the console in a window until it is closed.
pub fn run(opts: Options, screenshot: Option<PathBuf>) -> Result<(), GuiError> {
    let app = App::new(opts)?;
    let result = Arc::new(std::sync::Mutex::new(None));
    let shell = Shell {
        app,
        screenshot: screenshot.map(|path| shot::Shot::new(path, Arc::clone(&result))),
    };
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("payrecon · 支付对账台")
            .with_inner_size([1360.0, 860.0])
            .with_min_inner_size([900.0, 560.0]),
        ..Default::default()
    };
    eframe::run_native("payrecon", native, Box::new(move |_cc| Ok(Box::new(shell))))
        .map_err(|e| GuiError::Window(e.to_string()))?;
    let outcome = result.lock().map(|mut r| r.take()).unwrap_or(None);
    match outcome {
        Some(Err(e)) => Err(GuiError::Screenshot(e)),
        _ => Ok(()),
    }
}

/// The eframe application: the console, and the screenshot mode around it.
struct Shell {
    app: App,
    screenshot: Option<shot::Shot>,
}

impl eframe::App for Shell {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
        if let Some(s) = &mut self.screenshot {
            s.step(ui.ctx(), &self.app);
        }
    }
}

mod shot;
