//! Export: any table or the findings, with its filters, to CSV through the
//! engine (exact decimals, Chinese intact, optional BOM, formula cells
//! neutralised), streamed, cancellable, audited.

use super::table::FilterInputs;
use super::{App, Lang, filepick, widgets};
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
            bom: true,
            running: None,
            last: None,
        }
    }
}

fn default_path(t: Target) -> PathBuf {
    let dir = directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(|p| p.to_path_buf()))
        .unwrap_or_else(crate::demo::data_dir);
    dir.join(format!(
        "{}-{}.csv",
        t.file_stem(),
        chrono::Local::now().format("%Y%m%d-%H%M%S")
    ))
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
                crate::ops::export_view(&c.db, &ws, v, &filter, &path, bom, Some(&control)).await
            }
            Target::Findings => crate::export::findings::write_queue(
                &ws, &queue, order, group, &path, bom, &operator,
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
    ui.heading(l.t("导出 CSV", "Export to CSV"));
    ui.label(l.t(
        "精确到分的金额、完整的中文；勾选 BOM 后 Excel 直接打开不乱码；以 = + - @ 开头的单元格会被转义。",
        "Exact amounts, Chinese intact; with the BOM Excel opens it correctly; cells starting with = + - @ are neutralised.",
    ));
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
                st.path = default_path(st.target).display().to_string();
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
            ui.checkbox(&mut st.bom, l.t("带 BOM（Excel）", "BOM (Excel)"));
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
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export.csv".into());
        app.picker = Some(filepick::Picker::save(dir, name));
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

/// A file chosen in the save dialog.
pub(crate) fn picked_file(app: &mut App, path: PathBuf) {
    app.export.path = path.display().to_string();
}
