//! Keyboard shortcuts: the main jobs without the mouse.
//!
//! `mod.rs` reads the keys once per frame, before the screen is drawn, and
//! hands a [`Shortcut`] to the screen it concerns (each screen's
//! `shortcut(app, …) -> bool` says whether it used it).

use super::Lang;
use egui::{Event, Key, Modifiers};

/// A shortcut the console understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shortcut {
    /// Ctrl+F: focus the screen's search or key field.
    FocusSearch,
    /// PgDn: the next page.
    NextPage,
    /// PgUp: the previous page.
    PrevPage,
    /// Alt+←: back (the previous screen, or the previous case).
    Back,
    /// F5: run the screen's query again.
    Refresh,
    /// Ctrl+E: export what the screen shows.
    Export,
    /// Ctrl+1…9: the n-th screen of the navigation (0-based).
    Screen(usize),
    /// F1 or `?`: the shortcut sheet.
    Help,
}

/// What the keyboard reader needs to know about the widget that has the
/// keyboard, so that it never takes a key the widget means to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Focus {
    /// A text field has the keyboard: `?` is typed, not a shortcut.
    pub typing: bool,
    /// …and it has several lines: PgUp/PgDn move its cursor.
    pub multiline: bool,
}

/// The shortcut a key press means, if any.
pub(crate) fn shortcut_of(key: Key, m: Modifiers, focus: Focus) -> Option<Shortcut> {
    let ctrl = m.ctrl || m.command;
    if ctrl && !m.alt && !m.shift {
        return match key {
            Key::F => Some(Shortcut::FocusSearch),
            Key::E => Some(Shortcut::Export),
            Key::Num1 => Some(Shortcut::Screen(0)),
            Key::Num2 => Some(Shortcut::Screen(1)),
            Key::Num3 => Some(Shortcut::Screen(2)),
            Key::Num4 => Some(Shortcut::Screen(3)),
            Key::Num5 => Some(Shortcut::Screen(4)),
            Key::Num6 => Some(Shortcut::Screen(5)),
            Key::Num7 => Some(Shortcut::Screen(6)),
            Key::Num8 => Some(Shortcut::Screen(7)),
            Key::Num9 => Some(Shortcut::Screen(8)),
            // The tenth entry (there are more screens than digits 1–9).
            Key::Num0 => Some(Shortcut::Screen(9)),
            _ => None,
        };
    }
    if ctrl {
        return None;
    }
    if m.alt {
        return (key == Key::ArrowLeft && !m.shift).then_some(Shortcut::Back);
    }
    match key {
        Key::BrowserBack => Some(Shortcut::Back),
        Key::PageDown if !m.shift && !focus.multiline => Some(Shortcut::NextPage),
        Key::PageUp if !m.shift && !focus.multiline => Some(Shortcut::PrevPage),
        Key::F5 => Some(Shortcut::Refresh),
        Key::F1 => Some(Shortcut::Help),
        // `?` is Shift+/ on most layouts; some report the unshifted key.
        Key::Questionmark if !focus.typing => Some(Shortcut::Help),
        Key::Slash if m.shift && !focus.typing => Some(Shortcut::Help),
        _ => None,
    }
}

/// Takes the frame's shortcut presses out of `events`, so that no widget
/// acts on them too, and returns them in the order pressed.
pub(crate) fn take(events: &mut Vec<Event>, focus: Focus) -> Vec<Shortcut> {
    let mut found = Vec::new();
    let mut help_typed = false;
    events.retain(|e| match e {
        Event::Key {
            key,
            pressed,
            modifiers,
            ..
        } => match shortcut_of(*key, *modifiers, focus) {
            Some(s) => {
                if *pressed {
                    found.push(s);
                    help_typed |= matches!(key, Key::Questionmark | Key::Slash);
                }
                false
            }
            None => true,
        },
        _ => true,
    });
    // The `?` that opened the sheet is not text for anything else either.
    if help_typed {
        events.retain(|e| !matches!(e, Event::Text(t) if t == "?"));
    }
    found
}

/// One line of the shortcut sheet: the keys and what they do.
pub(crate) fn sheet(l: Lang) -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "Ctrl+F",
            l.t("聚焦本页的搜索框", "Focus the screen's search field"),
        ),
        ("PgDn", l.t("下一页", "Next page")),
        ("PgUp", l.t("上一页", "Previous page")),
        (
            "↑ / ↓",
            l.t(
                "在表格中选择上一行/下一行",
                "Select the previous / next row of a table",
            ),
        ),
        (
            "Enter",
            l.t("打开选中行的客诉查询", "Open the selected row's case"),
        ),
        (
            "Alt+←",
            l.t(
                "返回上一个页面（或上一个查询）",
                "Back to the previous screen (or case)",
            ),
        ),
        ("F5", l.t("刷新本页", "Refresh the screen")),
        (
            "Ctrl+E",
            l.t("导出本页内容", "Export what the screen shows"),
        ),
        (
            "Ctrl+1 … Ctrl+9, Ctrl+0",
            l.t(
                "切换到左侧导航的第 1…10 项",
                "Go to entry 1…10 of the navigation",
            ),
        ),
        (
            "Tab / Shift+Tab",
            l.t("在按钮和输入框之间移动", "Move between buttons and fields"),
        ),
        (
            "Enter / Space",
            l.t("按下有焦点的按钮", "Press the focused button"),
        ),
        ("Esc", l.t("关闭提示或对话框", "Close a notice or a dialog")),
        (
            "F1 / ?",
            l.t(
                "打开或关闭本快捷键表",
                "Open or close this sheet of shortcuts",
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(key: Key, modifiers: Modifiers) -> Event {
        Event::Key {
            key,
            physical_key: None,
            pressed: true,
            repeat: false,
            modifiers,
        }
    }

    #[test]
    fn keys_map_to_shortcuts() {
        let none = Focus::default();
        let typing = Focus {
            typing: true,
            multiline: false,
        };
        let note = Focus {
            typing: true,
            multiline: true,
        };
        assert_eq!(
            shortcut_of(Key::F, Modifiers::CTRL, none),
            Some(Shortcut::FocusSearch)
        );
        assert_eq!(
            shortcut_of(Key::Num2, Modifiers::COMMAND, none),
            Some(Shortcut::Screen(1))
        );
        assert_eq!(shortcut_of(Key::F, Modifiers::NONE, none), None);
        assert_eq!(
            shortcut_of(Key::ArrowLeft, Modifiers::ALT, typing),
            Some(Shortcut::Back)
        );
        assert_eq!(shortcut_of(Key::ArrowLeft, Modifiers::NONE, none), None);
        assert_eq!(
            shortcut_of(Key::PageDown, Modifiers::NONE, typing),
            Some(Shortcut::NextPage)
        );
        assert_eq!(shortcut_of(Key::PageDown, Modifiers::NONE, note), None);
        assert_eq!(shortcut_of(Key::PageUp, Modifiers::SHIFT, none), None);
        assert_eq!(
            shortcut_of(Key::Questionmark, Modifiers::SHIFT, none),
            Some(Shortcut::Help)
        );
        assert_eq!(
            shortcut_of(Key::Questionmark, Modifiers::SHIFT, typing),
            None
        );
        assert_eq!(
            shortcut_of(Key::F1, Modifiers::NONE, typing),
            Some(Shortcut::Help)
        );
        assert_eq!(
            shortcut_of(Key::F5, Modifiers::NONE, none),
            Some(Shortcut::Refresh)
        );
    }

    #[test]
    fn taken_keys_are_consumed_and_others_kept() {
        let mut events = vec![
            press(Key::A, Modifiers::NONE),
            press(Key::Num3, Modifiers::CTRL),
            Event::Text("x".into()),
            press(Key::Questionmark, Modifiers::SHIFT),
            Event::Text("?".into()),
        ];
        let got = take(&mut events, Focus::default());
        assert_eq!(got, vec![Shortcut::Screen(2), Shortcut::Help]);
        assert_eq!(
            events,
            vec![press(Key::A, Modifiers::NONE), Event::Text("x".into())]
        );
        // While typing, `?` stays text.
        let mut events = vec![
            press(Key::Questionmark, Modifiers::SHIFT),
            Event::Text("?".into()),
        ];
        let got = take(
            &mut events,
            Focus {
                typing: true,
                multiline: false,
            },
        );
        assert!(got.is_empty());
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn the_sheet_is_in_both_languages() {
        let zh = sheet(Lang::Zh);
        let en = sheet(Lang::En);
        assert_eq!(zh.len(), en.len());
        let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        assert!(en.iter().all(|(_, what)| !cjk(what)));
        assert!(zh.iter().all(|(_, what)| cjk(what)));
    }
}
