//! Both languages on every screen: the English console shows no Chinese, the
//! Chinese console no raw English identifier (a column name, an enum code, a
//! status word). The whole accessibility tree of each screen is read: every
//! node's label and value.
//!
//! Data is not the console's language: customers' names, memos and type
//! names stored in the payment database are shown as they are stored. They
//! are read from the demo database itself and taken out of each text before
//! it is checked; so are paths and URLs.
//!
//! [`KNOWN`] lists what is still to be fixed in files other than this
//! test's owner's (each entry: the screen, the text, the file); the lead
//! shrinks it as the fixes land. An entry that no longer matches anything is
//! reported too, so that the list cannot go stale.

use super::{Console, console, demo};
use egui_kittest::kittest::NodeT;
use payrecon::gui::{Lang, Screen};
use std::collections::BTreeSet;

/// Known hits not fixed yet: (language, screen, substring of the text, where
/// the fix belongs). Remove an entry once its file is fixed.
const KNOWN: &[(Lang, Screen, &str, &str)] = &[];

/// Texts allowed in the English screen although they hold Chinese.
const EN_ALLOWED: &[&str] = &["payrecon · 支付对账台", "中文"];

/// ASCII words allowed in the Chinese screen: proper names, units, formats.
const ZH_ALLOWED_WORDS: &[&str] = &[
    "payrecon",
    "English",
    "WeChat",
    "Alipay",
    "SQLite",
    "MySQL",
    "PostgreSQL",
    "Postgres",
    "CSV",
    "Excel",
    "WPS",
    "HTML",
    "UTF",
    "GBK",
    "BOM",
    "ms",
    "hfb",
    "srb",
    "URL",
    "ID",
    "id",
    "Ctrl",
    "Alt",
    "Shift",
    "Enter",
    "Esc",
    "Tab",
    "PgUp",
    "PgDn",
    "F1",
    "F5",
    "xlsx",
    "csv",
    "html",
    "json",
    "db",
    "sqlite",
    "mysql",
    "postgres",
    "CHARGE",
];

/// Whether `c` is Chinese (CJK ideographs, CJK and full-width punctuation).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

/// The ASCII words of `text` that read as untranslated English in a Chinese
/// screen: `snake_case` and `camelCase` identifiers, lower-case English words
/// (status and outcome codes such as `credited`, `paying`) and title-case
/// English words, except the allowed ones. Paths and URLs are skipped.
fn english_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || is_cjk(c)) {
        // A path or URL is data, wherever it appears.
        if token.contains('/') || token.contains('\\') || token.contains("://") {
            continue;
        }
        for w in token.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let w = w.trim_matches('_');
            if w.len() < 2 || ZH_ALLOWED_WORDS.contains(&w) {
                continue;
            }
            let letters = w.chars().filter(|c| c.is_ascii_alphabetic()).count();
            let lower = w.chars().any(|c| c.is_ascii_lowercase());
            let first_lower = w.chars().next().is_some_and(|c| c.is_ascii_lowercase());
            let upper_inside = w.chars().skip(1).any(|c| c.is_ascii_uppercase());
            let snake = w.contains('_') && lower;
            let camel = first_lower && upper_inside;
            // A word of letters (a number, a code like CHARGE2026… or 0x1f is not).
            let word = letters == w.len() && letters >= 3;
            let lower_word = word && w.chars().all(|c| c.is_ascii_lowercase());
            let title_word = word && !first_lower && !upper_inside;
            if snake || camel || lower_word || title_word {
                out.push(w.to_owned());
            }
        }
    }
    out
}

/// Values stored in the payment database that the screens show as data:
/// every distinct text of the demo's tables that holds Chinese or an
/// English-looking word — except the columns holding codes, which the
/// console must translate (outcome, status, response body).
fn data_values() -> Vec<String> {
    let (db, _) = demo();
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // `source` (hfb-notify, token) names a caller: data, not a code.
    let codes = ["outcome", "status", "response_body"];
    let mut values = BTreeSet::new();
    for t in &tables {
        let cols: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for c in cols.iter().filter(|c| !codes.contains(&c.as_str())) {
            let mut st = conn
                .prepare(&format!(
                    "SELECT DISTINCT \"{c}\" FROM \"{t}\" WHERE typeof(\"{c}\") = 'text'"
                ))
                .unwrap();
            let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
            for v in rows.map(Result::unwrap) {
                if v.chars().any(is_cjk) || !english_words(&v).is_empty() {
                    values.insert(v);
                }
            }
        }
    }
    // Longest first, so that a value is taken out before a part of it.
    let mut v: Vec<String> = values.into_iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
    v
}

/// Every label and value of the accessibility tree (hidden nodes too: they
/// are on screen as far as a screen reader is concerned).
pub(crate) fn screen_texts(c: &Console) -> Vec<String> {
    let mut out = Vec::new();
    let root = c.h.root();
    for n in std::iter::once(root).chain(root.children_recursive()) {
        let a = n.accesskit_node();
        for t in [a.label(), a.value()].into_iter().flatten() {
            let t = t.to_string();
            if !t.trim().is_empty() {
                out.push(t);
            }
        }
    }
    out
}

/// The texts of `texts` that belong to the other language than `lang`, each
/// with the offending part: (text, offending part). Data values (`data`),
/// the allowed texts and words, and the `known` substrings are left out.
pub(crate) fn other_language(
    lang: Lang,
    texts: &[String],
    data: &[String],
    known: &[&str],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in texts {
        if known.iter().any(|k| t.contains(k)) {
            continue;
        }
        let mut rest = t.clone();
        for v in data {
            if rest.contains(v.as_str()) {
                rest = rest.replace(v.as_str(), " ");
            }
        }
        match lang {
            Lang::En => {
                for a in EN_ALLOWED {
                    rest = rest.replace(a, " ");
                }
                let cjk: String = rest.chars().filter(|c| is_cjk(*c)).collect();
                if !cjk.is_empty() {
                    out.push((t.clone(), cjk));
                }
            }
            Lang::Zh => {
                let w = english_words(&rest);
                if !w.is_empty() {
                    out.push((t.clone(), w.join(" ")));
                }
            }
        }
    }
    out
}

#[test]
fn the_checker_finds_the_other_language_and_spares_data() {
    let data = vec!["张三".to_owned(), "memo_text".to_owned()];
    let en = other_language(
        Lang::En,
        &[
            "payrecon · 支付对账台".into(),
            "user 张三 · 138".into(),
            "status 已支付".into(),
            "中文".into(),
        ],
        &data,
        &[],
    );
    assert_eq!(en, vec![("status 已支付".to_owned(), "已支付".to_owned())]);
    let zh = other_language(
        Lang::Zh,
        &[
            "订单 已支付".into(),
            "回调 credited".into(),
            "类型 missing_internal".into(),
            "商户订单号 agentBillNo".into(),
            "备注 memo_text".into(),
            "English".into(),
            "sqlite:///tmp/a_b/demo.db".into(),
            "用时 12 ms".into(),
            "CHARGE20261120000001 0001".into(),
            "查询 Search".into(),
        ],
        &data,
        &[],
    );
    let hits: Vec<&str> = zh.iter().map(|(_, w)| w.as_str()).collect();
    assert_eq!(
        hits,
        ["credited", "missing_internal", "agentBillNo", "Search"]
    );
}

/// A bill the demo's naive day credited twice (the truth file names it).
fn credited_twice() -> String {
    let (db, _) = demo();
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(db.parent().unwrap().join("demo-truth.json")).unwrap(),
    )
    .unwrap();
    truth["anomalies"]["duplicate_credit"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Shows `screen` in `lang` with something on it: the case of a bill
/// credited twice, the findings of the run, every table's first page.
fn show(c: &mut Console, lang: Lang, screen: Screen, bill: &str) {
    c.nav(screen.title(lang));
    if screen == Screen::Case {
        c.type_into(
            lang.t("手机号/用户/姓名/订单号", "Phone, user, name or bill"),
            bill,
        );
        c.click(lang.t("查询", "Search"));
    }
    c.settle();
}

#[test]
fn every_screen_speaks_one_language() {
    let mut c = console(Lang::En, Some(Screen::Reconcile));
    // A run first, so that the overview, the findings queue and the
    // reconcile screen have findings of many kinds to name.
    let out = c._dir.path().join("run").display().to_string();
    c.type_into("Results folder", &out);
    c.type_into("Business day", "2026-11-20");
    c.click("Run reconciliation");
    assert!(c.banner().contains("complete"), "{}", c.banner());
    // The run's notice was said in English; it is closed before Chinese.
    c.h.key_press(egui::Key::Escape);
    c.settle();
    // The operator's name (saved by the harness) is data too.
    let mut data = data_values();
    data.insert(0, "测试员 tester".to_owned());
    let bill = credited_twice();
    let mut report = Vec::new();
    let mut used = BTreeSet::new();
    for lang in [Lang::En, Lang::Zh] {
        if lang == Lang::Zh {
            // The switch names the other language in itself.
            c.click(Lang::En.switch_label());
        }
        for screen in Screen::ALL {
            show(&mut c, lang, screen, &bill);
            let texts = screen_texts(&c);
            assert!(texts.len() > 10, "{screen:?} shows almost nothing");
            let known: Vec<&str> = KNOWN
                .iter()
                .filter(|(l, s, _, _)| *l == lang && *s == screen)
                .map(|(_, _, k, _)| *k)
                .collect();
            for k in &known {
                if texts.iter().any(|t| t.contains(k)) {
                    used.insert((format!("{lang:?}"), format!("{screen:?}"), (*k).to_owned()));
                }
            }
            for (text, bad) in other_language(lang, &texts, &data, &known) {
                report.push(format!("{lang:?} {screen:?}: {bad:?} in {text:?}"));
            }
            if screen == Screen::Connect {
                // The file dialog, open over the connect screen.
                c.click(lang.t("选择 SQLite 文件…", "Choose a SQLite file…"));
                let texts = screen_texts(&c);
                // The names of files and folders it lists are data.
                let mut data = data.clone();
                for dir in [c._dir.path(), demo().0.parent().unwrap()] {
                    for e in std::fs::read_dir(dir).unwrap() {
                        data.push(e.unwrap().file_name().to_string_lossy().into_owned());
                    }
                }
                for (text, bad) in other_language(lang, &texts, &data, &known) {
                    report.push(format!("{lang:?} file dialog: {bad:?} in {text:?}"));
                }
                c.click(lang.t("取消", "Cancel"));
                // Cancelling says so in a notice; it is closed.
                c.h.key_press(egui::Key::Escape);
                c.settle();
            }
        }
    }
    let stale: Vec<String> = KNOWN
        .iter()
        .filter(|(l, s, k, _)| {
            !used.contains(&(format!("{l:?}"), format!("{s:?}"), (*k).to_owned()))
        })
        .map(|(l, s, k, f)| format!("{l:?} {s:?} {k:?} ({f}) no longer appears: remove it"))
        .collect();
    report.sort();
    report.dedup();
    assert!(
        report.is_empty() && stale.is_empty(),
        "{} texts of the other language:\n{}\n{}",
        report.len(),
        report.join("\n"),
        stale.join("\n")
    );
}
