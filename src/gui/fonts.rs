//! Fonts: egui's own Latin fonts first, then a subset of Noto Sans CJK SC
//! bundled in the binary (GB 2312 and every character of the console's own
//! text — `assets/fonts/OFL.txt`), then the system's CJK font if there is one,
//! for the rare characters the subset lacks (a customer's unusual name).
//!
//! The bundled subset makes Chinese render the same on every machine, in
//! tests and in screenshots, with or without a CJK system font.

use egui::{FontData, FontDefinitions, FontFamily};
use std::sync::Arc;

/// The bundled subset (SIL Open Font License 1.1).
const BUNDLED_CJK: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-payrecon-subset.otf");

/// System CJK fonts tried in order (Debian/Ubuntu, Fedora, Arch, macOS, Windows).
const SYSTEM_CJK: &[(&str, u32)] = &[
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    (
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        2,
    ),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    (
        "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
        0,
    ),
    ("/System/Library/Fonts/PingFang.ttc", 0),
    ("C:\\Windows\\Fonts\\msyh.ttc", 0),
];

/// Installs the fonts. `system` adds the system CJK font as a last fallback.
pub fn install(ctx: &egui::Context, system: bool) {
    let mut fonts = FontDefinitions::default();
    fonts.font_data.insert(
        "cjk-bundled".to_owned(),
        Arc::new(FontData::from_static(BUNDLED_CJK)),
    );
    let mut names = vec!["cjk-bundled".to_owned()];
    if system {
        for (path, index) in SYSTEM_CJK {
            if let Ok(bytes) = std::fs::read(path) {
                let mut data = FontData::from_owned(bytes);
                data.index = *index;
                fonts
                    .font_data
                    .insert("cjk-system".to_owned(), Arc::new(data));
                names.push("cjk-system".to_owned());
                break;
            }
        }
    }
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        let list = fonts.families.entry(family).or_default();
        list.extend(names.iter().cloned());
    }
    ctx.set_fonts(fonts);
}
