//! What the console remembers between runs, in eframe's storage (a small file
//! in the user's data folder): the theme, the language and, per table, which
//! columns are shown, in which order and how wide.
//!
//! Kept as one JSON value under one key, so that a preference added later
//! reads old files (missing fields take their defaults) and an unreadable
//! value is ignored rather than stopping the console.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The storage key of [`Prefs`].
pub const KEY: &str = "payrecon.prefs";

/// The theme the operator chose (also `payrecon gui --theme system|light|dark`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Follow the system (light or dark).
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    /// egui's preference for this theme.
    pub fn egui(self) -> egui::ThemePreference {
        match self {
            Self::System => egui::ThemePreference::System,
            Self::Light => egui::ThemePreference::Light,
            Self::Dark => egui::ThemePreference::Dark,
        }
    }
}

/// One table's columns as the operator arranged them. Columns are named by
/// their database names (`View::header`), so that a column added in a later
/// version simply shows up at the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableCols {
    /// Column names in the order shown (columns not listed follow, in the
    /// view's own order).
    pub order: Vec<String>,
    /// Hidden columns.
    pub hidden: Vec<String>,
    /// Widths the operator dragged, in points.
    pub widths: BTreeMap<String, f32>,
}

/// Everything the console remembers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    /// Light, dark or the system's.
    pub theme: Theme,
    /// `zh` or `en`, once switched in the window (the command line's
    /// `--lang` wins over it).
    pub lang: Option<String>,
    /// Per table (keyed by the table's name, e.g. `trans_flow`).
    pub tables: BTreeMap<String, TableCols>,
}

impl Prefs {
    /// Reads the preferences from eframe's storage; missing or unreadable
    /// values give the defaults.
    pub fn load(storage: &dyn eframe::Storage) -> Self {
        storage
            .get_string(KEY)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }

    /// Writes the preferences to eframe's storage.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        if let Ok(s) = serde_json::to_string(self) {
            storage.set_string(KEY, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(HashMap<String, String>);
    impl eframe::Storage for Mem {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    #[test]
    fn round_trip_and_bad_values() {
        let mut m = Mem::default();
        assert_eq!(Prefs::load(&m), Prefs::default());
        let mut p = Prefs {
            theme: Theme::Light,
            lang: Some("en".into()),
            ..Prefs::default()
        };
        p.tables.insert(
            "trans_flow".into(),
            TableCols {
                order: vec!["trans_no".into(), "id".into()],
                hidden: vec!["memo".into()],
                widths: BTreeMap::from([("trans_no".into(), 220.0)]),
            },
        );
        p.save(&mut m);
        assert_eq!(Prefs::load(&m), p);
        m.0.insert(KEY.into(), "{not json".into());
        assert_eq!(Prefs::load(&m), Prefs::default());
        m.0.insert(KEY.into(), r#"{"theme":"dark"}"#.into());
        assert_eq!(Prefs::load(&m).theme, Theme::Dark);
    }
}
