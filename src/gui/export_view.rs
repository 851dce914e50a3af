//! Export: any table or the findings, with its filters, to CSV (exact
//! decimals, Chinese intact, optional BOM, formula cells neutralised) or to
//! an Excel workbook (typed cells: amounts as numbers, times as date-times,
//! ids and mobiles as text) through the engine, streamed, cancellable, audited.

use super::table::FilterInputs;
use super::{App, Lang, filepick, widgets};
use crate::export::ExportFormat;
use crate::views::View;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A database view.
    View(View),
    /// The workspace's findings for this database.
    Findings,
}

impl Target {
    fn name(self, l: Lang) -> &'static str {
        match self {
            Target::View(View::Flows) => l.t("交易流水", "trans flows"),
            Target::View(View::Orders) => l.t("充值订单", "recharge orders"),
            Target::View(View::Notify) => l.t("回调记录", "callback attempts"),
            Target::View(View::Idempotency) => l.t("幂等记录", "idempotency records"),
            Target::View(View::Accounts) => l.t("账户余额", "accounts"),
            Target::Findings => l.t("差错", "findings"),
        }
    }

    fn file_stem(self) -> &'static str {
        match self {
            Target::View(v) => v.table(),
            Target::Findings => "findings",
        }
    }
}

/// An export in progress.
pub(crate) struct Running {
    control: Arc<crate::ops::ExportControl>,
    started: Instant,
}

/// The export screen's state.
pub(crate) struct State {
    pub target: Target,
    pub inputs: FilterInputs,
    pub path: String,
    /// CSV or Excel; the file name's extension follows it.
    pub format: ExportFormat,
    pub bom: bool,
    pub running: Option<Running>,
    /// The last finished export: file and rows.
    pub last: Option<(PathBuf, u64)>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            target: Target::View(View::Flows),
            inputs: FilterInputs::default(),
            path: String::new(),
            format: ExportFormat::Csv,
            bom: true,
            running: None,
            last: None,
        }
    }
}

fn default_path(t: Target, format: ExportFormat) -> PathBuf {
    let dir = directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(|p| p.to_path_buf()))
        .unwrap_or_else(crate::demo::data_dir);
    dir.join(format!(
        "{}-{}.{}",
        t.file_stem(),
        chrono::Local::now().format("%Y%m%d-%H%M%S"),
        format.extension()
    ))
}

/// `path` with the extension of `format` when it has the other format's
/// (or none); any other name is left as the operator typed it.
fn with_extension(path: &str, format: ExportFormat) -> String {
    let p = PathBuf::from(path.trim());
    let swap = match p.extension() {
        None => !path.trim().is_empty(),
        Some(e) => e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("xlsx"),
    };
    if swap {
        p.with_extension(format.extension()).display().to_string()
    } else {
        path.to_owned()
    }
}

fn start(app: &mut App) {
    let l = app.lang;
    let (Some(c), Some(ws)) = (app.conn.clone(), app.ws.clone()) else {
        app.error(l.t(
            "未连接数据库或工作区未打开。",
            "Not connected, or the workspace is not open.",
        ));
        return;
    };
    let path = PathBuf::from(app.export.path.trim());
    if app.export.path.trim().is_empty() {
        app.error(l.t("请选择保存的文件。", "Choose the file to write."));
        return;
    }
    if path
        .parent()
        .is_some_and(|d| !d.as_os_str().is_empty() && !d.is_dir())
    {
        app.error(format!(
            "{} {}",
            path.display(),
            l.t(
                "所在的文件夹不存在。",
                "is in a folder that does not exist."
            )
        ));
        return;
    }
    let bom = app.export.bom;
    let format = app.export.format;
    let target = app.export.target;
    let filter = match app.export.inputs.parse(l) {
        Ok(f) => f,
        Err(e) => {
            app.error(e);
            return;
        }
    };
    // The findings go out as the queue shows them: its filter, order and
    // grouping (the key filter here narrows it to one bill), under the operator.
    let mut queue = match super::findings_view::parse_filter(app) {
        Ok(f) => f,
        Err(e) => {
            app.error(e);
            return;
        }
    };
    queue.database = Some(c.url.clone());
    if let Some(k) = &filter.key {
        queue.bill = Some(k.clone());
    }
    let (order, group) = (app.findings.order, app.findings.group);
    let operator = match target {
        Target::Findings => match app.operator_for_action() {
            Some(o) => o,
            None => return,
        },
        Target::View(_) => String::new(),
    };
    let control = Arc::new(crate::ops::ExportControl::default());
    app.export.running = Some(Running {
        control: Arc::clone(&control),
        started: Instant::now(),
    });
    app.jobs.spawn(async move {
        let r = match target {
            Target::View(v) => {
                crate::ops::export_view(&c.db, &ws, v, &filter, &path, bom, format, Some(&control))
                    .await
            }
            Target::Findings => crate::export::findings::write_queue_as(
                &ws, &queue, order, group, &path, bom, format, &operator,
            )
            .await
            .map(|e| e.rows)
            .map_err(crate::ops::OpsError::from),
        };
        Box::new(move |app: &mut App| {
            app.export.running = None;
            let l = app.lang;
            match r {
                Ok(n) => {
                    app.info(format!(
                        "{} {n} {} → {}",
                        l.t("已导出", "Exported"),
                        l.t("行", "rows"),
                        path.display()
                    ));
                    app.export.last = Some((path, n));
                }
                Err(crate::ops::OpsError::Cancelled) => {
                    app.info(l.t(
                        "导出已取消，没有写入文件。",
                        "Export cancelled; no file was written.",
                    ));
                }
                Err(e) => app.error(format!("{}{e}", l.t("导出失败：", "The export failed: "))),
            }
        }) as super::jobs::Apply
    });
}

/// The export screen.
pub(crate) fn ui(app: &mut App, ui: &mut egui::Ui) {
    let l = app.lang;
    ui.heading(l.t("导出", "Export"));
    ui.label(match app.export.format {
        ExportFormat::Csv => l.t(
            "CSV：精确到分的金额、完整的中文；勾选 BOM 后 Excel 直接打开不乱码；以 = + - @ 开头的单元格会被转义。",
            "CSV: exact amounts, Chinese intact; with the BOM Excel opens it correctly; cells starting with = + - @ are neutralised.",
        ),
        ExportFormat::Xlsx => l.t(
            "Excel 工作簿：金额为两位小数的数字，时间为日期时间，订单号、手机号、绑定码为文本（不会变成 4.00934E+27）；表头冻结、可筛选；超过 1048576 行接着写在下一个工作表。",
            "Excel workbook: amounts are numbers with two decimals, times are date-times, order ids, mobiles and bind codes are text (never 4.00934E+27); frozen header, filters; beyond 1,048,576 rows it continues on the next sheet.",
        ),
    });
    let running = app.export.running.is_some();
    let mut pick = false;
    let mut go = false;
    ui.add_enabled_ui(!running, |ui| {
        let st = &mut app.export;
        ui.horizontal(|ui| {
            let before = st.target;
            widgets::combo(
                ui,
                "export-target",
                l.t("内容", "What"),
                st.target.name(l),
                |ui| {
                    for v in View::ALL {
                        ui.selectable_value(
                            &mut st.target,
                            Target::View(v),
                            Target::View(v).name(l),
                        );
                    }
                    ui.selectable_value(&mut st.target, Target::Findings, Target::Findings.name(l));
                },
            );
            if st.target != before || st.path.is_empty() {
                st.path = default_path(st.target, st.format).display().to_string();
            }
        });
        ui.horizontal(|ui| {
            let before = st.format;
            ui.label(l.t("格式", "Format"));
            ui.radio_value(&mut st.format, ExportFormat::Csv, "CSV");
            ui.radio_value(
                &mut st.format,
                ExportFormat::Xlsx,
                l.t("Excel 工作簿 (.xlsx)", "Excel workbook (.xlsx)"),
            );
            if st.format != before {
                st.path = with_extension(&st.path, st.format);
            }
        });
        ui.horizontal_wrapped(|ui| {
            let f = &mut st.inputs;
            match st.target {
                Target::Findings => {
                    widgets::field(ui, l.t("业务键", "key"), &mut f.key, 200.0);
                    ui.weak(l.t(
                        "按差错队列当前的筛选（类型、严重度、状态、天数）、排序和分组导出",
                        "exported with the findings queue's filter (kind, severity, status, age), order and grouping",
                    ));
                }
                Target::View(v) => {
                    if v != View::Accounts {
                        widgets::field(ui, l.t("业务键", "key"), &mut f.key, 190.0);
                    }
                    widgets::field(ui, l.t("用户", "user"), &mut f.user, 70.0);
                    if v == View::Flows {
                        widgets::field(ui, l.t("类型", "type"), &mut f.trans_type, 30.0);
                    }
                    if matches!(v, View::Orders | View::Notify | View::Idempotency) {
                        widgets::field(ui, l.t("状态", "status"), &mut f.status, 80.0);
                    }
                    widgets::field(ui, l.t("起", "from"), &mut f.from, 130.0);
                    widgets::field(ui, l.t("止", "to"), &mut f.to, 130.0);
                    if v != View::Idempotency {
                        widgets::field(ui, l.t("金额≥", "amount ≥"), &mut f.min, 70.0);
                        widgets::field(ui, "≤", &mut f.max, 70.0);
                    }
                    if v == View::Accounts {
                        ui.checkbox(&mut f.mismatched, l.t("只导出余额不符", "mismatched only"));
                    }
                }
            }
            if let Target::View(v) = st.target
                && ui
                    .button(l.t("用表格里的筛选", "Use the table's filter"))
                    .clicked()
                && let Some(t) = app.tables.map.get(&v)
            {
                st.inputs = t.inputs.clone();
            }
        });
        ui.horizontal(|ui| {
            let lab = ui.label(l.t("保存到", "Save to"));
            ui.add(egui::TextEdit::singleline(&mut st.path).desired_width(480.0))
                .labelled_by(lab.id);
            if ui.button(l.t("选择…", "Choose…")).clicked() {
                pick = true;
            }
            if st.format == ExportFormat::Csv {
                ui.checkbox(&mut st.bom, l.t("带 BOM（Excel）", "BOM (Excel)"));
            }
        });
        if ui
            .add(egui::Button::new(
                egui::RichText::new(l.t("导出", "Export")).strong(),
            ))
            .clicked()
        {
            go = true;
        }
    });
    if pick {
        let p = PathBuf::from(app.export.path.trim());
        let dir = p
            .parent()
            .filter(|d| d.is_dir())
            .map(|d| d.to_path_buf())
            .unwrap_or_else(crate::demo::data_dir);
        let ext = app.export.format.extension();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("export.{ext}"));
        app.picker = Some(match app.export.format {
            ExportFormat::Csv => filepick::Picker::save(dir, name),
            ExportFormat::Xlsx => {
                filepick::Picker::save_as(filepick::Purpose::SaveCsv, dir, name, ext)
            }
        });
    }
    if go {
        start(app);
    }
    if let Some(r) = &app.export.running {
        ui.add(egui::ProgressBar::new(0.5).animate(true).text(format!(
            "{} {} · {}",
            r.control.rows.load(Ordering::Relaxed),
            l.t("行", "rows"),
            widgets::elapsed(r.started.elapsed())
        )));
        if ui.button(l.t("取消", "Cancel")).clicked() {
            r.control.cancel.store(true, Ordering::Relaxed);
        }
    }
    if let Some((p, n)) = &app.export.last {
        ui.label(format!(
            "{} {n} {} → {}",
            l.t("上次导出", "Last export:"),
            l.t("行", "rows"),
            p.display()
        ));
    }
}

/// A file chosen in the save dialog: a `.xlsx` or `.csv` name sets the format.
pub(crate) fn picked_file(app: &mut App, path: PathBuf) {
    let named = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("xlsx"));
    if named {
        app.export.format = ExportFormat::from_path(&path);
    }
    app.export.path = path.display().to_string();
}

/// Ctrl+E: the Export screen, set to what `from` shows — a table's view
/// with the table's filter, or the findings (exported with the queue's
/// filter); from any other screen the current choice is kept.
pub(crate) fn open_for(app: &mut App, from: super::Screen) {
    let target = match from {
        super::Screen::Findings => Some(Target::Findings),
        s => s.view().map(Target::View),
    };
    if let Some(t) = target
        && app.export.running.is_none()
    {
        let st = &mut app.export;
        if st.target != t || st.path.trim().is_empty() {
            st.path = default_path(t, st.format).display().to_string();
        }
        st.target = t;
        if let Target::View(v) = t
            && let Some(table) = app.tables.map.get(&v)
        {
            app.export.inputs = table.inputs.clone();
        }
    }
    app.go(super::Screen::Export);
}
