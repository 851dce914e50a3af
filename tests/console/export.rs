//! Console tests: the Export screen. CSV or Excel (the file name's
//! extension follows the choice), Ctrl+E preselecting the screen's own table
//! or the findings, an export to .xlsx that is a real workbook, and a run's
//! workbook shown beside its CSV on the Reconcile screen.

use super::*;
use egui::{Key, Modifiers};
use std::io::Read as _;

fn press(c: &mut Console, modifiers: Modifiers, key: Key) {
    c.h.key_press_modifiers(modifiers, key);
    c.h.step();
    c.settle();
}

/// The text of the "Save to" field.
fn save_to(c: &Console, label: &str) -> String {
    c.h.get_by_role_and_label(egui::accesskit::Role::TextInput, label)
        .value()
        .unwrap_or_default()
}

/// The first sheet's XML of a workbook.
fn sheet1(path: &Path) -> String {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut s = String::new();
    z.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    s
}

#[test]
fn ctrl_e_preselects_the_screens_view_and_an_excel_export_is_a_workbook() {
    // From the findings queue, Ctrl+E exports the findings.
    let mut c = console(Lang::En, Some(Screen::Findings));
    press(&mut c, Modifiers::CTRL, Key::E);
    assert_eq!(c.h.state().screen(), Screen::Export);
    let path = save_to(&c, "Save to");
    assert!(
        path.contains("findings-") && path.ends_with(".csv"),
        "{path}"
    );
    // Excel: the name's extension follows; the BOM is a CSV matter.
    c.click("Excel workbook (.xlsx)");
    let path = save_to(&c, "Save to");
    assert!(
        path.contains("findings-") && path.ends_with(".xlsx"),
        "{path}"
    );
    assert!(!c.has("BOM (Excel)"));
    let out = c._dir.path().join("queue.xlsx");
    c.type_into("Save to", &out.display().to_string());
    c.h.step();
    c.click("Export");
    assert!(c.banner().contains("Exported"), "{}", c.banner());
    let xml = sheet1(&out);
    assert!(xml.contains("<t>agent_bill_no</t>") && xml.contains("state=\"frozen\""));
    assert!(xml.contains("<autoFilter ref=\"A1:X"), "{xml}");
    // Back to CSV: the extension follows again.
    c.click("CSV");
    assert!(save_to(&c, "Save to").ends_with("queue.csv"));
    assert!(c.has("BOM (Excel)"));
    // From a screen without a table, the choice is kept.
    c.nav("Reconcile");
    press(&mut c, Modifiers::CTRL, Key::E);
    assert!(save_to(&c, "Save to").ends_with("queue.csv"));
    // From a table, its view (and its own default name), exported as a workbook.
    c.nav("Recharge orders");
    press(&mut c, Modifiers::CTRL, Key::E);
    assert_eq!(c.h.state().screen(), Screen::Export);
    let path = save_to(&c, "Save to");
    assert!(
        path.contains("recharge_order-") && path.ends_with(".csv"),
        "{path}"
    );
    c.click("Excel workbook (.xlsx)");
    let out = c._dir.path().join("orders.xlsx");
    c.type_into("Save to", &out.display().to_string());
    c.h.step();
    c.click("Export");
    assert!(c.banner().contains("Exported"), "{}", c.banner());
    let xml = sheet1(&out);
    assert!(xml.contains("<t>bind_code</t>") && xml.contains("<autoFilter ref=\"A1:K"));
}

#[test]
fn the_chinese_export_screen_offers_an_excel_workbook() {
    let mut c = console(Lang::Zh, Some(Screen::Export));
    assert!(c.has("格式"));
    c.click("Excel 工作簿 (.xlsx)");
    assert!(save_to(&c, "保存到").ends_with(".xlsx"));
    assert!(c.has("订单号、手机号、绑定码为文本"));
}

#[test]
fn a_run_shows_its_workbook_beside_its_csv() {
    let mut c = console(Lang::En, Some(Screen::Reconcile));
    let out = c._dir.path().join("run").display().to_string();
    c.type_into("Results folder", &out);
    c.type_into("Business day", "2026-11-20");
    clear_statements(&mut c);
    c.click("Run reconciliation");
    assert!(c.banner().contains("complete"), "{}", c.banner());
    assert!(c.has("Findings CSV"));
    assert!(c.has("Excel workbook (summary + breaks)"));
    let node =
        c.h.query_all_by_label_contains("findings.xlsx")
            .next()
            .expect("the workbook's path on screen");
    let book = node.value().unwrap_or_default();
    assert!(Path::new(&book).is_file(), "{book}: {node:?}");
}
