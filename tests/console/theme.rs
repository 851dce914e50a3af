//! Console tests: the theme (system, light, dark) switched in the top bar,
//! applied to egui, remembered in the preferences and read back by a new
//! console; `--theme` for one run; the language remembered the same way.

use super::*;
use payrecon::gui::Theme;

fn dark(c: &Console) -> bool {
    c.h.ctx.global_style().visuals.dark_mode
}

/// Picks a theme in the top bar's selector (showing `now`).
fn pick_theme(c: &mut Console, now: &str, to: &str) {
    c.h.get_by_value(now).click();
    c.h.step();
    c.settle();
    c.click(to);
}

/// A console on the demo, in a new workspace, as a restart would open it:
/// no language on the command line, the preferences read from `storage`.
fn restarted(storage: &Mem, theme: Option<Theme>) -> Console {
    let (db, _) = demo();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace.db");
    let mut app = App::new(Options {
        db: Some(format!("sqlite://{}", db.display())),
        workspace: workspace.clone(),
        screen: None,
        lang: None,
        case_query: None,
        system_fonts: false,
        theme,
    })
    .unwrap();
    app.load_prefs(storage);
    let mut c = Console::new(app, workspace, dir);
    c.settle();
    assert!(c.h.state().connected(), "{:?}", c.h.state().banner_text());
    c
}

#[test]
fn the_theme_is_switched_in_the_top_bar_and_remembered() {
    let mut c = console(Lang::En, None);
    assert_eq!(c.h.state().prefs().theme, Theme::System);
    assert!(c.h.query_by_value("◐ System").is_some());
    pick_theme(&mut c, "◐ System", "☀ Light");
    assert!(!dark(&c), "light visuals");
    assert_eq!(c.h.state().prefs().theme, Theme::Light);
    // Every screen draws in it (nothing resets the theme).
    c.nav("Trans flows");
    c.nav("Findings");
    assert!(!dark(&c));
    pick_theme(&mut c, "☀ Light", "● Dark");
    assert!(dark(&c), "dark visuals");
    pick_theme(&mut c, "● Dark", "☀ Light");
    // The language too, switched in the window.
    c.click("中文");
    let mut storage = Mem::default();
    c.h.state().save_prefs(&mut storage);

    // Restart: light and Chinese again, without being told.
    let mut c = restarted(&storage, None);
    assert!(!dark(&c), "the light theme survives a restart");
    assert_eq!(c.h.state().prefs().theme, Theme::Light);
    assert!(c.has("总览"), "the language survives a restart");
    assert!(c.h.query_by_value("☀ 浅色").is_some());
    // Back to the system's.
    pick_theme(&mut c, "☀ 浅色", "◐ 跟随系统");
    assert_eq!(c.h.state().prefs().theme, Theme::System);
}

#[test]
fn theme_on_the_command_line_wins_for_the_run_until_one_is_picked() {
    let mut storage = Mem::default();
    let prefs = payrecon::gui::Prefs {
        theme: Theme::Dark,
        lang: Some("en".into()),
        ..Default::default()
    };
    prefs.save(&mut storage);
    let mut c = restarted(&storage, Some(Theme::Light));
    assert!(!dark(&c), "--theme light over the remembered dark");
    // The remembered theme is untouched by a one-run choice.
    assert_eq!(c.h.state().prefs().theme, Theme::Dark);
    let mut saved = Mem::default();
    c.h.state().save_prefs(&mut saved);
    assert_eq!(payrecon::gui::Prefs::load(&saved).theme, Theme::Dark);
    // Picked in the window: that one wins and is remembered.
    pick_theme(&mut c, "☀ Light", "● Dark");
    assert!(dark(&c));
    pick_theme(&mut c, "● Dark", "☀ Light");
    assert!(!dark(&c));
    assert_eq!(c.h.state().prefs().theme, Theme::Light);
}
