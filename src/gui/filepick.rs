//! A file dialog drawn by egui itself: it works the same on every desktop,
//! under Xvfb and in tests, with no portal or GTK needed. Folders first, then
//! the files with the extensions asked for; a path can also be typed.

use super::App;
use std::path::{Path, PathBuf};

/// What the chosen file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A SQLite payment database to connect to.
    SqliteFile,
    /// A statement file for the reconciliation.
    Statement,
    /// Where to write an export.
    SaveCsv,
    /// Where to save a case report (HTML).
    SaveReport,
}

impl Purpose {
    /// Whether the dialog chooses a file to write (it need not exist).
    fn saves(self) -> bool {
        matches!(self, Self::SaveCsv | Self::SaveReport)
    }
}

/// The open dialog.
pub(crate) struct Picker {
    purpose: Purpose,
    dir: PathBuf,
    exts: Vec<String>,
    /// The file name (save) or the typed path (open).
    name: String,
    entries: Vec<(String, bool)>,
    error: Option<String>,
}

impl Picker {
    /// A dialog to open a file with one of `exts`, starting in `dir`.
    pub(crate) fn open(purpose: Purpose, dir: PathBuf, exts: &[&str]) -> Self {
        let mut p = Self {
            purpose,
            dir: PathBuf::new(),
            exts: exts.iter().map(|e| (*e).to_owned()).collect(),
            name: String::new(),
            entries: Vec::new(),
            error: None,
        };
        p.enter(existing_dir(dir));
        p
    }

    /// A dialog to choose where to save a CSV.
    pub(crate) fn save(dir: PathBuf, name: String) -> Self {
        Self::save_as(Purpose::SaveCsv, dir, name, "csv")
    }

    /// A dialog to choose where to save a file of extension `ext`.
    pub(crate) fn save_as(purpose: Purpose, dir: PathBuf, name: String, ext: &str) -> Self {
        let mut p = Self::open(purpose, dir, &[ext]);
        p.name = name;
        p
    }

    fn enter(&mut self, dir: PathBuf) {
        match std::fs::read_dir(&dir) {
            Ok(rd) => {
                let mut entries: Vec<(String, bool)> = rd
                    .filter_map(Result::ok)
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if name.starts_with('.') {
                            return None;
                        }
                        let is_dir = e.file_type().ok()?.is_dir();
                        let ext_ok = Path::new(&name)
                            .extension()
                            .map(|x| x.to_string_lossy().to_lowercase())
                            .is_some_and(|x| self.exts.contains(&x));
                        (is_dir || ext_ok).then_some((name, is_dir))
                    })
                    .collect();
                entries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                self.entries = entries;
                self.dir = dir;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{}: {e}", dir.display())),
        }
    }
}

fn existing_dir(mut d: PathBuf) -> PathBuf {
    while !d.is_dir() {
        match d.parent() {
            Some(p) => d = p.to_path_buf(),
            None => return PathBuf::from("/"),
        }
    }
    d
}

/// Draws the dialog, if one is open, and hands the choice to its screen.
pub(crate) fn show(app: &mut App, ctx: &egui::Context) {
    let Some(p) = &mut app.picker else { return };
    let l = app.lang;
    let title = match p.purpose {
        Purpose::SqliteFile => l.t("选择 SQLite 数据库文件", "Choose a SQLite database file"),
        Purpose::Statement => l.t("选择对账单文件", "Choose a statement file"),
        Purpose::SaveCsv => l.t("保存导出文件到…", "Save the export as…"),
        Purpose::SaveReport => l.t("保存客诉报告到…", "Save the case report as…"),
    };
    let mut chosen: Option<PathBuf> = None;
    let mut cancel = false;
    let mut enter: Option<PathBuf> = None;
    egui::Modal::new(egui::Id::unique("payrecon-file-picker")).show(ctx, |ui| {
        ui.set_width(640.0);
        ui.heading(title);
        ui.horizontal(|ui| {
            if ui.button("↑").on_hover_text(l.t("上一级", "up")).clicked()
                && let Some(parent) = p.dir.parent()
            {
                enter = Some(parent.to_path_buf());
            }
            ui.label(egui::RichText::new(p.dir.display().to_string()).monospace());
        });
        if let Some(e) = &p.error {
            ui.colored_label(
                super::widgets::severity_ink(ui, crate::recon::Severity::Critical),
                e,
            );
        }
        egui::ScrollArea::vertical()
            .max_height(320.0)
            .show(ui, |ui| {
                for (name, is_dir) in &p.entries {
                    let label = if *is_dir {
                        format!("▶ {name}")
                    } else {
                        name.clone()
                    };
                    let r = ui.selectable_label(!*is_dir && p.name == *name, label);
                    if r.clicked() {
                        if *is_dir {
                            enter = Some(p.dir.join(name));
                        } else {
                            p.name = name.clone();
                        }
                    }
                    if r.double_clicked() && !*is_dir {
                        chosen = Some(p.dir.join(name));
                    }
                }
                if p.entries.is_empty() {
                    ui.weak(l.t("（这里没有合适的文件）", "(no matching files here)"));
                }
            });
        ui.horizontal(|ui| {
            let lab = ui.label(l.t("文件", "File"));
            ui.add(egui::TextEdit::singleline(&mut p.name).desired_width(420.0))
                .labelled_by(lab.id);
        });
        ui.horizontal(|ui| {
            let ok = match p.purpose {
                Purpose::SaveCsv | Purpose::SaveReport => l.t("保存", "Save"),
                _ => l.t("打开", "Open"),
            };
            if ui.button(ok).clicked() && !p.name.trim().is_empty() {
                let typed = PathBuf::from(p.name.trim());
                chosen = Some(if typed.is_absolute() {
                    typed
                } else {
                    p.dir.join(typed)
                });
            }
            if ui.button(l.t("取消", "Cancel")).clicked() {
                cancel = true;
            }
        });
    });
    if let Some(d) = enter {
        p.enter(d);
    }
    let purpose = p.purpose;
    if let Some(path) = chosen {
        if !purpose.saves() && !path.is_file() {
            p.error = Some(format!(
                "{} {}",
                path.display(),
                l.t("不是一个文件。", "is not a file.")
            ));
            return;
        }
        app.picker = None;
        match purpose {
            Purpose::SqliteFile => super::connect::picked_file(app, path),
            Purpose::Statement => super::reconcile_view::picked_file(app, path),
            Purpose::SaveCsv => super::export_view::picked_file(app, path),
            Purpose::SaveReport => super::case_view::picked_report(app, path),
        }
    } else if cancel {
        app.picker = None;
        app.info(match purpose {
            Purpose::SqliteFile => l.t(
                "没有选择文件，连接未改变。",
                "No file chosen; the connection is unchanged.",
            ),
            Purpose::Statement => l.t(
                "没有选择文件，对账单列表未改变。",
                "No file chosen; the statement list is unchanged.",
            ),
            Purpose::SaveCsv | Purpose::SaveReport => l.t(
                "没有选择文件，保存位置未改变。",
                "No file chosen; the target file is unchanged.",
            ),
        });
    }
}
