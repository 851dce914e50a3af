//! Small widgets the views share.

use egui::{Color32, RichText, Ui};

/// A coloured label with a frame: READ-ONLY, severities, statuses.
pub(crate) fn badge(ui: &mut Ui, text: &str, color: Color32) -> egui::Response {
    egui::Frame::new()
        .fill(color)
        .corner_radius(3.0)
        .inner_margin(egui::Margin::symmetric(6, 2))
        .show(ui, |ui| {
            ui.label(RichText::new(text).color(Color32::WHITE).strong());
        })
        .response
}

/// The colour of a severity.
pub(crate) fn severity_color(s: crate::recon::Severity) -> Color32 {
    use crate::recon::Severity;
    match s {
        Severity::Critical => Color32::from_rgb(0xb4, 0x23, 0x18),
        Severity::High => Color32::from_rgb(0xd3, 0x6b, 0x00),
        Severity::Warning => Color32::from_rgb(0xa6, 0x8a, 0x00),
        Severity::Info => Color32::from_rgb(0x4a, 0x6f, 0x8a),
    }
}

/// A severity's name.
pub(crate) fn severity_name(s: crate::recon::Severity, l: super::Lang) -> &'static str {
    use crate::recon::Severity;
    match s {
        Severity::Critical => l.t("严重", "critical"),
        Severity::High => l.t("高", "high"),
        Severity::Warning => l.t("警告", "warning"),
        Severity::Info => l.t("提示", "info"),
    }
}

/// A finding kind's name in the language.
pub(crate) fn kind_name(k: crate::recon::Kind, l: super::Lang) -> &'static str {
    match l {
        super::Lang::Zh => k.name_zh(),
        super::Lang::En => k.name_en(),
    }
}

/// A labelled single-line text field.
pub(crate) fn field(ui: &mut Ui, label: &str, value: &mut String, width: f32) -> egui::Response {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(width))
        .labelled_by(l.id)
}

/// A drop-down with its label on the left, like [`field`]'s (egui puts a
/// `ComboBox`'s own label on the right, where it reads as the next control's);
/// the label also names the drop-down for screen readers.
pub(crate) fn combo<R>(
    ui: &mut Ui,
    id_salt: impl egui::AsIdSalt,
    label: &str,
    selected: impl Into<egui::WidgetText>,
    add_contents: impl FnOnce(&mut Ui) -> R,
) -> egui::InnerResponse<Option<R>> {
    let l = ui.label(label);
    let r = egui::ComboBox::from_id_salt(id_salt)
        .selected_text(selected)
        .show_ui(ui, add_contents);
    let response = r.response.labelled_by(l.id);
    egui::InnerResponse::new(r.inner, response)
}

/// "1,234 ms"-style elapsed time for status lines.
pub(crate) fn elapsed(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 {
        format!("{ms} ms")
    } else {
        format!("{} s", d.as_secs())
    }
}
