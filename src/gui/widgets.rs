//! Small widgets the views share.

use egui::{Color32, RichText, Ui};

/// A coloured label with a frame: READ-ONLY, severities, statuses. White
/// bold text on the colour's own fill reads the same in both themes (every
/// fill used is dark enough for white text).
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

/// The ring drawn around the widget that has the keyboard: a strong blue
/// that stands out on both the dark and the light background.
pub(crate) fn focus_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0x5c, 0xb8, 0xff)
    } else {
        Color32::from_rgb(0x00, 0x5a, 0xc8)
    }
}

/// WCAG relative luminance of an sRGB colour (0 black … 1 white).
fn luminance(c: Color32) -> f32 {
    let l = egui::Rgba::from(c);
    0.2126 * l.r() + 0.7152 * l.g() + 0.0722 * l.b()
}

/// WCAG contrast ratio of two colours (1 … 21).
pub(crate) fn contrast(a: Color32, b: Color32) -> f32 {
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// `c` as the colour of text on `bg`: mixed towards white (on a dark
/// background) or black (on a light one) just enough to reach a 4.5:1
/// contrast, so that one status colour (a severity's red, "found" green)
/// reads in both themes while keeping its hue.
pub(crate) fn ink_on(c: Color32, bg: Color32) -> Color32 {
    let toward = if luminance(bg) < 0.18 {
        Color32::WHITE
    } else {
        Color32::BLACK
    };
    let mut out = c;
    for step in 1..=20u8 {
        if contrast(out, bg) >= 4.5 {
            break;
        }
        out = c.lerp_to_gamma(toward, f32::from(step) / 20.0);
    }
    out
}

/// `c` as the colour of text on this `ui`'s panel (see [`ink_on`]).
pub(crate) fn ink(ui: &Ui, c: Color32) -> Color32 {
    ink_on(c, ui.visuals().panel_fill)
}

/// A severity's colour for text (not a badge's fill) on this `ui`.
pub(crate) fn severity_ink(ui: &Ui, s: crate::recon::Severity) -> Color32 {
    ink(ui, severity_color(s))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_colours_read_on_both_backgrounds() {
        let dark = egui::Visuals::dark().panel_fill;
        let light = egui::Visuals::light().panel_fill;
        use crate::recon::Severity;
        for s in [
            Severity::Critical,
            Severity::High,
            Severity::Warning,
            Severity::Info,
        ] {
            let c = severity_color(s);
            assert!(contrast(ink_on(c, dark), dark) >= 4.5, "{s:?} on dark");
            assert!(contrast(ink_on(c, light), light) >= 4.5, "{s:?} on light");
            // As a badge's fill, white text on it stays readable.
            assert!(contrast(Color32::WHITE, c) >= 3.0, "{s:?} badge");
        }
        // A colour that already reads is left as it is.
        let red = severity_color(Severity::Critical);
        assert_eq!(ink_on(red, light), red);
        assert!(contrast(focus_color(true), dark) >= 3.0);
        assert!(contrast(focus_color(false), light) >= 3.0);
    }
}
