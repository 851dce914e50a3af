//! Console tests: case (driven through egui_kittest; see the harness in ../console.rs).
//! A support agent types a demo user's phone as `+86 138-1234-5678`, reads a
//! true verdict, opens a bill's timeline, goes back to the user and back
//! again, hands the case on as text and as an HTML page in either language,
//! and gets "did you mean" when a bill number is mistyped.

use super::*;

/// A bill of the demo that was credited more than once, its user's id and
/// mobile (read from the demo database itself).
fn duplicate_bill() -> (String, i64, String) {
    let (db, _) = demo();
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(db.parent().unwrap().join("demo-truth.json")).unwrap(),
    )
    .unwrap();
    let bills: Vec<String> = truth["anomalies"]["duplicate_credit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let url = format!("sqlite://{}", db.display());
    workspace_rt(async move {
        let pay = payrecon::db::Db::connect(&url, &payrecon::db::ConnectOptions::read_only())
            .await
            .unwrap();
        for bill in bills {
            let row = pay
                .fetch_optional(
                    "SELECT o.user_id, u.mobile FROM recharge_order o JOIN user_info u ON u.id = o.user_id WHERE o.agent_bill_no = ?",
                    &payrecon::args![bill.as_str()],
                )
                .await
                .unwrap();
            if let Some(r) = row {
                return (bill, r.i64(0).unwrap(), r.text(1).unwrap());
            }
        }
        panic!("the demo has no credited-twice bill with an order");
    })
}

/// `13812345678` → `+86 138-1234-5678`.
fn as_typed(mobile: &str) -> String {
    format!("+86 {}-{}-{}", &mobile[..3], &mobile[3..7], &mobile[7..])
}

/// Clicks the first widget with this label (a bill's link in a user's
/// recharges, above the flows that carry the same number) after scrolling it
/// into view.
fn click_scrolled(c: &mut Console, label: &str) {
    c.h.get_all_by_label(label).next().unwrap().scroll_to_me();
    // Let the scroll animation end before clicking where the link now is.
    for _ in 0..30 {
        c.h.step();
    }
    c.nav(label);
}

fn credited_more_than_once(c: &Console) -> bool {
    c.has("credited twice: one recharge was credited more than once")
        || c.has("credited many times: one recharge was credited three times or more")
}

#[test]
fn a_phone_typed_with_plus86_reads_the_story_and_goes_back_and_forth() {
    let mut c = console(Lang::En, Some(Screen::Case));
    let (bill, user, mobile) = duplicate_bill();
    c.type_into("Phone, user, name or bill", &as_typed(&mobile));
    c.click("Search");
    assert!(c.banner().is_empty(), "{}", c.banner());
    assert!(c.has(&format!("user {user}")), "the user is found by +86 …");
    assert!(c.has(&mobile));
    assert!(!c.has("Recharges (0)"), "the user's recharges are counted");
    assert!(credited_more_than_once(&c), "the duplicate is named");
    // Open the bill from the user's recharges: one timeline with the cause.
    click_scrolled(&mut c, &bill);
    assert!(c.has("Timeline (in time order)"), "{bill}");
    assert!(credited_more_than_once(&c));
    assert!(c.has("too much"), "the excess is named");
    assert!(
        c.has("result code 0001"),
        "each callback shows its result code"
    );
    assert!(
        !c.has("Recharges (0)"),
        "the bill's user keeps their recharges"
    );
    // Back to the user from the bill.
    c.h.get_by_label_contains("Back to the user").click();
    c.h.step();
    c.settle();
    assert!(c.has(&format!("user {user}")));
    assert!(
        !c.has("Timeline (in time order)"),
        "the user's case, not the bill's"
    );
    // History: back to the bill, forward to the user again.
    c.click("◀ Back");
    assert!(c.has("Timeline (in time order)"));
    c.click("Forward ▶");
    assert!(!c.has("Timeline (in time order)"));
    // The recent searches remember the phone as it was typed.
    c.click("Recent searches");
    assert!(c.has(&as_typed(&mobile)));
}

#[test]
fn the_report_is_copied_and_saved_in_the_chosen_language() {
    let mut c = console(Lang::En, Some(Screen::Case));
    let (bill, _, _) = duplicate_bill();
    c.type_into("Phone, user, name or bill", &bill.to_lowercase());
    c.click("Search");
    assert!(credited_more_than_once(&c));
    // Copy as text: the clipboard gets the verdict and the timeline.
    c.h.get_by_label("Copy report as text").click();
    c.h.step();
    let copied: Vec<String> =
        c.h.output()
            .platform_output
            .commands
            .iter()
            .filter_map(|cmd| match cmd {
                egui::OutputCommand::CopyText(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
    assert_eq!(copied.len(), 1, "one copy");
    assert!(copied[0].contains(&bill));
    assert!(
        copied[0].contains("credited twice") || copied[0].contains("credited many times"),
        "{}",
        copied[0]
    );
    assert!(copied[0].contains("Timeline (in time order)"));
    c.settle();
    // Save as HTML, in English, then in Chinese.
    let en = c._dir.path().join("case-en.html");
    c.type_into("Save report to", &en.display().to_string());
    c.click("Save as HTML");
    assert!(c.banner().contains("Report saved"), "{}", c.banner());
    let html = std::fs::read_to_string(&en).unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("one recharge was credited"), "{html}");
    assert!(html.contains(&bill));
    c.click("中文");
    let zh = c._dir.path().join("case-zh.html");
    c.type_into("报告保存到", &zh.display().to_string());
    c.click("保存为 HTML");
    assert!(c.banner().contains("报告已保存"), "{}", c.banner());
    let html = std::fs::read_to_string(&zh).unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(
        html.contains("重复入账：同一笔充值入账了不止一次")
            || html.contains("多次入账：同一笔充值入账了三次或更多"),
        "{html}"
    );
    assert!(html.contains("经过（按时间）"));
    // Through the file dialog: the path typed there is where the report goes.
    let picked = c._dir.path().join("picked.html");
    c.click("选择位置…");
    assert!(c.has("保存客诉报告到…"));
    c.type_into("文件", &picked.display().to_string());
    c.click("保存");
    assert!(c.banner().contains("报告已保存"), "{}", c.banner());
    assert!(std::fs::read_to_string(&picked).unwrap().contains(&bill));
}

#[test]
fn a_mistyped_bill_offers_the_near_ones() {
    let mut c = console(Lang::En, Some(Screen::Case));
    let (bill, _, _) = duplicate_bill();
    // The last digit wrong: nothing matches, the real bill is offered.
    let mut typo = bill.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == '9' { '0' } else { '9' });
    c.type_into("Phone, user, name or bill", &typo);
    c.click("Search");
    assert!(c.has("not found"));
    assert!(c.has("Did you mean:"));
    assert!(c.h.query_by_label(&bill).is_some(), "{bill} is offered");
    c.click(&bill);
    assert!(credited_more_than_once(&c));
    // Nonsense: not found, with a hint of what to type.
    c.type_into("Phone, user, name or bill", "zzqq");
    c.click("Search");
    assert!(c.has("not found"));
    assert!(c.has("A phone number has 11 digits"));
}
