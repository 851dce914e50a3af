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
mod keys;
mod overview;
pub mod prefs;
mod reconcile_view;
mod table;
mod widgets;

pub use i18n::Lang;
pub use prefs::{Prefs, Theme};

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
    /// Export a view to CSV or Excel.
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
    /// The theme for this run (`--theme`), over the remembered one; `None`
    /// uses the remembered theme (the system's at first).
    pub theme: Option<Theme>,
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

impl Conn {
    /// Whether the database has any of the payment tables (`user_info`,
    /// `user_account`, `trans_flow`); without one there is nothing to show.
    pub fn is_payment_database(&self) -> bool {
        ["user_info", "user_account", "trans_flow"]
            .iter()
            .any(|t| self.schema.has_table(t))
    }
}

/// A notice over the bottom of the window: an error or information. It
/// floats above the screen, so showing or closing it never moves a control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Banner {
    /// An error (red) or information (blue).
    pub error: bool,
    /// What happened and how to fix it.
    pub text: String,
    /// The frame it appeared in: a job the user started after it that
    /// succeeds clears an error.
    pub frame: u64,
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
    /// Frames drawn so far (a banner remembers its frame).
    pub(crate) frame: u64,
    /// Counts banners shown, so that a job knows whether it showed one.
    pub(crate) banner_seq: u64,
    /// Set by a notice's button; acted on after the frame's screen is drawn.
    go_connect: bool,
    system_fonts: bool,
    fonts_installed: bool,
    first_screen: Option<Screen>,
    /// What the console remembers between runs (theme, language, columns).
    pub(crate) prefs: Prefs,
    /// The theme last given to egui (applied again when `prefs.theme` changes).
    applied_theme: Option<Theme>,
    /// Whether the language came from the command line (it then wins over
    /// the remembered one).
    lang_given: bool,
    /// The command line's theme: wins over the remembered one until the
    /// operator picks one in the window (then that one is remembered).
    theme_given: Option<Theme>,
    /// The screens visited before this one, for Alt+← (most recent last).
    history: Vec<Screen>,
    /// Whether the shortcut sheet (F1) is open.
    pub(crate) help_open: bool,
}

/// How many screens Alt+← can go back.
const HISTORY: usize = 32;

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
            frame: 0,
            banner_seq: 0,
            go_connect: false,
            system_fonts: opts.system_fonts,
            fonts_installed: false,
            first_screen: opts.screen,
            prefs: Prefs::default(),
            applied_theme: None,
            lang_given: opts.lang.is_some(),
            theme_given: opts.theme,
            history: Vec::new(),
            help_open: false,
        };
        if let Some(q) = &opts.case_query {
            app.case.query = q.clone();
            app.case.search_on_connect = true;
        }
        connect::start(&mut app, opts.db);
        Ok(app)
    }

    /// Takes the remembered preferences (eframe's storage at start, or a
    /// test's): theme, columns, and the language unless `--lang` gave one.
    pub fn load_prefs(&mut self, storage: &dyn eframe::Storage) {
        self.prefs = Prefs::load(storage);
        if !self.lang_given
            && let Some(l) = self.prefs.lang.as_deref().and_then(Lang::parse)
        {
            self.lang = l;
        }
        self.applied_theme = None;
    }

    /// Writes the preferences to eframe's storage (on exit and every few
    /// seconds, as eframe calls it).
    pub fn save_prefs(&self, storage: &mut dyn eframe::Storage) {
        self.prefs.save(storage);
    }

    /// The preferences as they stand.
    pub fn prefs(&self) -> &Prefs {
        &self.prefs
    }

    /// Draws the whole console into `ui` (the window's root, or a test harness).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.jobs.set_ctx(ui.ctx());
        let theme = self.theme();
        if self.applied_theme != Some(theme) {
            ui.ctx().set_theme(theme.egui());
            self.applied_theme = Some(theme);
        }
        if !self.fonts_installed {
            fonts::install(ui.ctx(), self.system_fonts);
            legible_light_theme(ui.ctx());
            self.fonts_installed = true;
        }
        self.frame += 1;
        self.jobs.set_frame(self.frame);
        for apply in self.jobs.take() {
            apply(self);
        }
        if self.banner.is_some()
            && self.picker.is_none()
            && self.operator_prompt.is_none()
            && !self.help_open
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
        {
            self.banner = None;
        }
        self.keyboard(ui.ctx());
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::left("nav")
            .resizable(false)
            .default_size(150.0)
            .show(ui, |ui| self.nav(ui));
        let central = egui::CentralPanel::default().show(ui, |ui| {
            if self.screen != Screen::Connect
                && let Some(c) = &self.conn
                && !c.is_payment_database()
            {
                not_payment_ui(ui, c, self.lang, &mut self.go_connect);
                return;
            }
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
        if std::mem::take(&mut self.go_connect) {
            self.go(Screen::Connect);
        }
        self.banner_ui(ui.ctx(), central.response.rect);
        self.operator_ui(ui.ctx());
        filepick::show(self, ui.ctx());
        self.help_ui(ui.ctx());
        focus_ring(ui.ctx());
    }

    /// The theme in use: the command line's, else the remembered one.
    pub(crate) fn theme(&self) -> Theme {
        self.theme_given.unwrap_or(self.prefs.theme)
    }

    /// Reads the frame's shortcuts (before any widget sees the keys) and
    /// acts on them. A modal window keeps the keyboard to itself.
    fn keyboard(&mut self, ctx: &egui::Context) {
        if self.help_open {
            // The sheet closes with F1 as it opened (Esc: see `help_ui`).
            if ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::F1)) {
                self.help_open = false;
            }
            return;
        }
        if self.picker.is_some()
            || self.operator_prompt.is_some()
            || ctx.memory(|m| m.top_modal_layer()).is_some()
        {
            return;
        }
        let focus = match ctx.memory(|m| m.focused()) {
            Some(id) if ctx.text_edit_focused() => keys::Focus {
                typing: true,
                // A field taller than two rows is a multi-line one.
                multiline: ctx.read_response(id).is_some_and(|r| {
                    r.rect.height() > 2.0 * ctx.global_style().spacing.interact_size.y
                }),
            },
            _ => keys::Focus::default(),
        };
        for s in ctx.input_mut(|i| keys::take(&mut i.events, focus)) {
            self.shortcut(s);
        }
    }

    /// Acts on one shortcut: the screen's own hook first, then the
    /// console's (screens, back, reload, export, the sheet).
    pub(crate) fn shortcut(&mut self, s: keys::Shortcut) {
        use keys::Shortcut;
        match s {
            Shortcut::Help => self.help_open = true,
            Shortcut::Screen(n) => {
                if let Some(&to) = Screen::ALL.get(n)
                    && (to == Screen::Connect || self.connected())
                    && to != self.screen
                {
                    self.go(to);
                }
            }
            Shortcut::Export => {
                if self.connected() {
                    let from = self.screen;
                    export_view::open_for(self, from);
                }
            }
            s => {
                if self.screen != Screen::Connect && !self.connected() {
                    return;
                }
                if self.screen_shortcut(s) {
                    return;
                }
                match s {
                    Shortcut::Back => self.back(),
                    // A screen without its own refresh loads again.
                    Shortcut::Refresh => self.go(self.screen),
                    _ => {}
                }
            }
        }
    }

    /// Hands a shortcut to the screen shown; true when it used it.
    fn screen_shortcut(&mut self, s: keys::Shortcut) -> bool {
        match self.screen {
            Screen::Connect => connect::shortcut(self, s),
            Screen::Overview => overview::shortcut(self, s),
            Screen::Case => case_view::shortcut(self, s),
            Screen::Findings => findings_view::shortcut(self, s),
            Screen::Reconcile | Screen::Export => false,
            sc => match sc.view() {
                Some(v) => table::shortcut(self, v, s),
                None => false,
            },
        }
    }

    /// Alt+←: the screen before this one (skipping screens that need a
    /// connection while there is none).
    fn back(&mut self) {
        while let Some(prev) = self.history.pop() {
            if prev != self.screen && (prev == Screen::Connect || self.connected()) {
                self.open(prev);
                return;
            }
        }
    }

    /// The shortcut sheet (F1 or `?`): every shortcut and what it does.
    fn help_ui(&mut self, ctx: &egui::Context) {
        if !self.help_open {
            return;
        }
        let l = self.lang;
        let mut close = false;
        let r = egui::Modal::new(egui::Id::unique("payrecon-shortcuts")).show(ctx, |ui| {
            ui.set_width(560.0);
            ui.heading(l.t("键盘快捷键", "Keyboard shortcuts"));
            ui.add_space(6.0);
            egui::Grid::new("shortcut-sheet")
                .num_columns(2)
                .striped(true)
                .spacing([24.0, 6.0])
                .show(ui, |ui| {
                    for (keys, what) in keys::sheet(l) {
                        ui.label(egui::RichText::new(keys).monospace().strong());
                        ui.label(what);
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.weak(l.t(
                "左侧导航的每一项，鼠标悬停可看到它的快捷键。",
                "Hover a navigation entry to see its shortcut.",
            ));
            ui.add_space(6.0);
            if ui.button(l.t("关闭（Esc）", "Close (Esc)")).clicked() {
                close = true;
            }
        });
        if close || r.should_close() {
            self.help_open = false;
        }
    }

    /// After a job's result was applied: a job the user started after an
    /// error appeared, that succeeded (showed no notice of its own), clears
    /// the error — it no longer describes the window.
    pub(crate) fn job_done(&mut self, born: u64, seq_before: u64) {
        if self.banner_seq == seq_before
            && self
                .banner
                .as_ref()
                .is_some_and(|b| b.error && born > b.frame)
        {
            self.banner = None;
        }
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

    /// Shows an error notice.
    pub(crate) fn error(&mut self, text: impl Into<String>) {
        self.notice(true, text.into());
    }

    /// Shows an information notice.
    pub(crate) fn info(&mut self, text: impl Into<String>) {
        self.notice(false, text.into());
    }

    fn notice(&mut self, error: bool, text: String) {
        self.banner_seq += 1;
        self.banner = Some(Banner {
            error,
            text: console_words(&text),
            frame: self.frame,
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

    /// Switches screens, loading what the new one shows; the screen left is
    /// remembered for Alt+←.
    pub(crate) fn go(&mut self, screen: Screen) {
        self.enter(screen);
        self.open(screen);
    }

    /// Shows `screen` (remembered for Alt+←) without loading it: for a
    /// caller that starts the screen's own query with its filter.
    pub(crate) fn enter(&mut self, screen: Screen) {
        if screen != self.screen {
            self.history.push(self.screen);
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        self.screen = screen;
    }

    /// Shows `screen` and loads what it shows (without touching the history).
    fn open(&mut self, screen: Screen) {
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
        // A new connection starts a new history (Alt+← does not lead back
        // to the connect form nor to the other database's screens).
        self.history.clear();
        self.open(s);
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
                    self.prefs.lang = Some(
                        match self.lang {
                            Lang::Zh => "zh",
                            Lang::En => "en",
                        }
                        .to_owned(),
                    );
                }
                self.theme_menu(ui);
                if ui
                    .button(l.t("快捷键（F1）", "Shortcuts (F1)"))
                    .on_hover_text(l.t("键盘快捷键一览", "every keyboard shortcut"))
                    .clicked()
                {
                    self.help_open = true;
                }
                let who = match &self.operator {
                    Some(o) => format!("{}{o}", l.t("操作人：", "operator: ")),
                    None => l.t("操作人：未填写", "operator: not set").to_owned(),
                };
                if ui
                    .button(who)
                    .on_hover_text(l.t(
                        "记在每次对账、处理和导出上的名字；点击修改",
                        "the name recorded with every run, status change and export; click to change",
                    ))
                    .clicked()
                {
                    self.operator_prompt = Some(self.operator.clone().unwrap_or_default());
                }
                if self.jobs.busy() {
                    ui.spinner();
                }
            });
        });
    }

    /// The theme selector of the top bar: system, light or dark, remembered.
    fn theme_menu(&mut self, ui: &mut egui::Ui) {
        let l = self.lang;
        let name = |t: Theme| match t {
            Theme::System => l.t("◐ 跟随系统", "◐ System"),
            Theme::Light => l.t("☀ 浅色", "☀ Light"),
            Theme::Dark => l.t("● 深色", "● Dark"),
        };
        let current = self.theme();
        let mut chosen = current;
        let r = egui::ComboBox::from_id_salt("payrecon-theme")
            .selected_text(name(current))
            .width(110.0)
            .show_ui(ui, |ui| {
                for t in [Theme::System, Theme::Light, Theme::Dark] {
                    ui.selectable_value(&mut chosen, t, name(t));
                }
            });
        r.response.on_hover_text(l.t(
            "界面主题：跟随系统、浅色或深色",
            "theme: the system's, light or dark",
        ));
        if chosen != current {
            // The operator's choice wins over `--theme` and is remembered.
            self.theme_given = None;
            self.prefs.theme = chosen;
        }
    }

    fn nav(&mut self, ui: &mut egui::Ui) {
        let l = self.lang;
        ui.add_space(4.0);
        for (i, s) in Screen::ALL.into_iter().enumerate() {
            if matches!(s, Screen::Flows) {
                ui.separator();
                ui.weak(l.t("数据表", "Tables"));
            }
            if matches!(s, Screen::Export) {
                ui.separator();
            }
            let enabled = s == Screen::Connect || self.conn.is_some();
            let key = match (s, i) {
                (Screen::Export, _) => "Ctrl+E".to_owned(),
                (_, 0..=8) => format!("Ctrl+{}", i + 1),
                (_, 9) => "Ctrl+0".to_owned(),
                _ => String::new(),
            };
            let r = ui
                .add_enabled(
                    enabled,
                    egui::Button::selectable(self.screen == s, s.title(l)),
                )
                .on_hover_text(&key)
                .on_disabled_hover_text(format!(
                    "{key} · {}",
                    l.t("连接数据库后可用", "available once connected")
                ));
            if r.clicked() && self.screen != s {
                self.go(s);
            }
        }
    }

    /// The notice, floating over the bottom of the screen area: wrapped to
    /// its width, closed with × or Esc.
    fn banner_ui(&mut self, ctx: &egui::Context, area: egui::Rect) {
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
        let l = self.lang;
        let text = b.text.clone();
        let width = (area.width() - 24.0).max(200.0);
        let mut close = false;
        egui::Area::new(egui::Id::unique("payrecon-notice"))
            .order(egui::Order::Foreground)
            .pivot(egui::Align2::CENTER_BOTTOM)
            .fixed_pos(egui::pos2(area.center().x, area.bottom() - 10.0))
            .show(ctx, |ui| {
                egui::Frame::new()
                    .fill(fill)
                    .stroke(egui::Stroke::new(1.0, stroke))
                    .inner_margin(10.0)
                    .corner_radius(4.0)
                    .shadow(ui.style().visuals.popup_shadow)
                    .show(ui, |ui| {
                        ui.set_width(width - 20.0);
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Min), |ui| {
                            if ui
                                .button(egui::RichText::new("×").color(stroke).strong())
                                .on_hover_text(l.t("关闭（Esc）", "close (Esc)"))
                                .clicked()
                            {
                                close = true;
                            }
                            ui.with_layout(egui::Layout::left_to_right(egui::Align::Min), |ui| {
                                ui.add(
                                    egui::Label::new(egui::RichText::new(text).color(stroke))
                                        .wrap(),
                                );
                            });
                        });
                    });
            });
        if close {
            self.banner = None;
        }
    }

    /// Asks for the operator's name once; it is saved in the workspace and
    /// recorded with every run, status change and export from then on.
    fn operator_ui(&mut self, ctx: &egui::Context) {
        let Some(name) = &mut self.operator_prompt else {
            return;
        };
        let l = self.lang;
        let mut save = false;
        let mut cancel = false;
        let r = egui::Modal::new(egui::Id::unique("payrecon-operator")).show(ctx, |ui| {
            ui.set_width(420.0);
            ui.heading(l.t("操作人", "Who is working?"));
            ui.label(l.t(
                "每次对账、处理差错和导出都会记下操作人的名字。只需填写一次，保存在工作区中。",
                "Every run, status change and export is recorded with the operator's name. \
                 It is asked once and kept in the workspace.",
            ));
            let label = ui.label(l.t("姓名", "Name"));
            let field = ui
                .add(egui::TextEdit::singleline(name).desired_width(f32::INFINITY))
                .labelled_by(label.id);
            field.request_focus();
            if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                save = true;
            }
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                let ok = !name.trim().is_empty();
                if ui
                    .add_enabled(ok, egui::Button::new(l.t("保存", "Save")))
                    .clicked()
                {
                    save = true;
                }
                if ui.button(l.t("取消", "Cancel")).clicked() {
                    cancel = true;
                }
            });
        });
        if r.should_close() {
            cancel = true;
        }
        let name = name.trim().to_owned();
        if save && !name.is_empty() {
            self.operator_prompt = None;
            self.save_operator(name);
        } else if cancel {
            self.operator_prompt = None;
        }
    }

    /// Saves the operator's name in the workspace (and uses it at once).
    pub(crate) fn save_operator(&mut self, name: String) {
        self.operator = Some(name.clone());
        let Some(ws) = self.ws.clone() else { return };
        let l = self.lang;
        self.jobs.spawn(async move {
            let r = ws.set_operator(&name).await;
            Box::new(move |app: &mut App| {
                if let Err(e) = r {
                    app.error(format!(
                        "{}{e}",
                        l.t(
                            "无法保存操作人：",
                            "The operator's name could not be saved: "
                        )
                    ));
                }
            }) as jobs::Apply
        });
    }
}

/// egui's light theme draws links (every number on the overview, a
/// finding's key) in a pale blue (about 3:1 on white), and checkboxes and
/// text fields as pale grey on paler grey with no edge; a darker blue and a
/// thin grey edge read as well as the dark theme does.
fn legible_light_theme(ctx: &egui::Context) {
    ctx.style_mut_of(egui::Theme::Light, |s| {
        s.visuals.hyperlink_color = egui::Color32::from_rgb(0x00, 0x5a, 0xb4);
        s.visuals.widgets.inactive.bg_stroke =
            egui::Stroke::new(1.0, egui::Color32::from_gray(0xa0));
    });
}

/// Draws a ring around the widget that has the keyboard, clearly visible in
/// both themes: egui only tints a focused button slightly, too little to
/// follow Tab through a screen.
fn focus_ring(ctx: &egui::Context) {
    let Some(id) = ctx.memory(|m| m.focused()) else {
        return;
    };
    let Some(r) = ctx.read_response(id) else {
        return;
    };
    let color = widgets::focus_color(ctx.global_style().visuals.dark_mode);
    ctx.layer_painter(r.layer_id).rect_stroke(
        r.interact_rect.expand(2.0),
        3.0,
        egui::Stroke::new(2.0, color),
        egui::StrokeKind::Outside,
    );
}

/// The engine's messages name command-line flags (`give --format wechat`);
/// in the window the same advice is said with the words on screen.
pub(crate) fn console_words(text: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        (
            "give --day or --from/--to",
            "choose a business day or a range of days",
        ),
        (
            "--type filters flows only",
            "the type filter applies to trans flows only",
        ),
        ("--encoding gbk", "the GBK encoding"),
        ("give --format ", "choose the statement format "),
        ("--format ", "the statement format "),
        ("--users must", "the number of users must"),
    ];
    let mut out = text.to_owned();
    for (flag, words) in WORDS {
        if out.contains(flag) {
            out = out.replace(flag, words);
        }
    }
    out
}

/// In place of every screen but Connect when the database has none of the
/// payment tables: what it is, and the way back.
fn not_payment_ui(ui: &mut egui::Ui, c: &Conn, l: Lang, go_connect: &mut bool) {
    let stroke = egui::Color32::from_rgb(0xb4, 0x23, 0x18);
    ui.add_space(24.0);
    egui::Frame::group(ui.style())
        .inner_margin(16.0)
        .show(ui, |ui| {
            ui.set_max_width(720.0);
            ui.label(
                egui::RichText::new(l.t("这不是支付数据库", "This is not a payment database"))
                    .heading()
                    .color(widgets::ink(ui, stroke)),
            );
            ui.add_space(6.0);
            ui.add(
                egui::Label::new(l.t(
                    "它没有 user_info、user_account、trans_flow 中的任何一张表，payrecon 在这里没有可以展示或核对的东西。",
                    "It has none of user_info, user_account, trans_flow: payrecon has nothing to show or check here.",
                ))
                .wrap(),
            );
            ui.add_space(4.0);
            let found: Vec<&str> = c.schema.tables.keys().map(String::as_str).collect();
            ui.label(format!(
                "{} {}",
                egui::RichText::new(&c.url).monospace().text(),
                if found.is_empty() {
                    l.t("· 没有找到约定的表", "· no contract table found").to_owned()
                } else {
                    format!("· {}{}", l.t("找到的表：", "tables found: "), found.join(", "))
                }
            ));
            ui.add_space(8.0);
            if ui
                .button(l.t("连接另一个数据库", "Connect to another database"))
                .clicked()
            {
                *go_connect = true;
            }
        });
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
    eframe::run_native(
        "payrecon",
        native,
        Box::new(move |cc| {
            let mut shell = shell;
            // A screenshot shows the console as it starts for anyone, not
            // as this machine's operator arranged it.
            if shell.screenshot.is_none()
                && let Some(s) = cc.storage
            {
                shell.app.load_prefs(s);
            }
            Ok(Box::new(shell))
        }),
    )
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
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // A screenshot run leaves the operator's preferences as they were.
        if self.screenshot.is_none() {
            self.app.save_prefs(storage);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
        if let Some(s) = &mut self.screenshot {
            s.step(ui.ctx(), &self.app);
        }
    }
}

mod shot;

#[cfg(test)]
mod words_tests {
    #[test]
    fn console_words_name_no_flag() {
        for msg in [
            "is not UTF-8 (line 1 looks like GBK): give --format alipay or --encoding gbk",
            "a WeChat Pay bill (交易时间,…): give --format wechat",
            "statements need a period: give --day or --from/--to",
            "for a UTF-8 file give the format it really is, or --format generic (the encoding is detected)",
        ] {
            let w = super::console_words(msg);
            assert!(!w.contains("--"), "{w}");
        }
        assert_eq!(
            super::console_words("x: give --format wechat-fundflow"),
            "x: choose the statement format wechat-fundflow"
        );
    }
}
