//! Console tests: issue 14's money checks on the Reconcile screen and in the
//! case (driven through egui_kittest; see the harness in ../console.rs). The
//! demo database is the ledger; the day's WeChat trade bill and fund-flow bill
//! are written by hand below (the same day as tests/money.rs, every number
//! computed by hand), and the custodian's balances file is the demo's own
//! `user_account` with one user off by 5.00 and one code the ledger does not
//! know.

// Widget positions on screen are floating-point points; no amount is a float.
#![allow(clippy::float_arithmetic)]

use super::*;
use egui_kittest::kittest::NodeT;
use payrecon::workspace::Workspace;

#[path = "../support/money_bills.rs"]
mod money_bills;

/// The reconciled day: no flow of the demo (2026-11-18..20) is on it, so
/// the hand-written bills stand alone against the ledger.
const DAY: &str = "2026-11-28";

/// The hand-written trade bill of [`DAY`] (see tests/support/money_bills.rs).
fn trade_bill(dir: &Path) -> PathBuf {
    money_bills::trade_bill(dir)
}

/// Its fund-flow bill: 1000.00 → 156.47; C never arrives, D arrives 9.90 of
/// 9.94, a 5.00 debit (X9) is no trade's, a withdrawal is the merchant's own.
fn fundflow(dir: &Path) -> PathBuf {
    money_bills::fundflow(dir, DAY)
}

/// A user's ledger balance as the custody check reads it.
struct Ledger {
    user_id: i64,
    code: String,
    amount: rust_decimal::Decimal,
    freeze: rust_decimal::Decimal,
}

/// The demo's bound users with their `user_account` balances.
fn ledger() -> Vec<Ledger> {
    let (db, _) = demo();
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare(
            "SELECT ui.id, ui.bind_code, CAST(ua.amount AS TEXT), CAST(ua.freeze_amount AS TEXT) \
             FROM user_info ui JOIN user_account ua ON ua.user_id = ui.id AND ua.is_deleted = 0 \
             WHERE ui.bind_code IS NOT NULL AND ui.bind_code <> '' ORDER BY ui.id",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok(Ledger {
            user_id: r.get(0)?,
            code: r.get(1)?,
            amount: r.get::<_, String>(2)?.parse().unwrap(),
            freeze: r.get::<_, String>(3)?.parse().unwrap(),
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The user whose custodian balance is 5.00 above the ledger's, and one who agrees.
const OFF: usize = 1;
const AGREES: usize = 0;

/// The custodian's balances: every bound user as the ledger has it, but the
/// second one 5.00 higher, and a code the ledger does not know (12.34).
fn balances(dir: &Path, users: &[Ledger]) -> PathBuf {
    let mut text = String::from("user_code,amount,freeze_amount\n");
    for (i, u) in users.iter().enumerate() {
        let amount = if i == OFF {
            u.amount + rust_decimal::Decimal::new(500, 2)
        } else {
            u.amount
        };
        text.push_str(&format!("{},{amount},{}\n", u.code, u.freeze));
    }
    text.push_str("00000000000000000000000000unknown,12.34,0.00\n");
    let p = dir.join(format!("hfb-balances-{DAY}.csv"));
    std::fs::write(&p, text).unwrap();
    p
}

/// A widget's text (a button's label, a text's value).
fn node_text<'t>(n: &impl NodeT<'t>) -> Option<String> {
    let a = n.accesskit_node();
    a.label().or_else(|| a.value()).map(|t| t.to_string())
}

/// The text of the widget right of the first widget labelled `label` on
/// the same line (a grid's value cell beside its row label).
fn beside(c: &Console, label: &str) -> String {
    let row =
        c.h.get_all_by_label(label)
            .next()
            .unwrap_or_else(|| panic!("no '{label}' on screen"))
            .rect();
    let root = c.h.root();
    let mut best: Option<(f32, String)> = None;
    for n in root.children_recursive() {
        let Some(text) = node_text(&n) else {
            continue;
        };
        let r = n.rect();
        if text.trim().is_empty() || (r.center().y - row.center().y).abs() > 4.0 {
            continue;
        }
        let dx = r.left() - row.right();
        if dx > 0.0 && best.as_ref().is_none_or(|(d, _)| dx < *d) {
            best = Some((dx, text));
        }
    }
    best.map(|(_, t)| t).unwrap_or_else(|| {
        let near: Vec<(String, egui::Rect)> = root
            .children_recursive()
            .filter_map(|n| Some((node_text(&n)?, n.rect())))
            .filter(|(_, r)| (r.center().y - row.center().y).abs() < 30.0)
            .collect();
        panic!("nothing beside '{label}' {row:?}: {near:?}")
    })
}

/// Picks `path` in the file dialog the last click opened.
fn choose(c: &mut Console, path: &Path, field: &str, open: &str) {
    c.type_into(field, &path.display().to_string());
    c.click(open);
}

/// The money run set up on the Reconcile screen (English): the trade bill,
/// its fund flow, the rate and the balances file; returns the ledger.
fn set_up_money_run(c: &mut Console) -> Vec<Ledger> {
    let dir = c._dir.path().to_path_buf();
    let bill = trade_bill(&dir);
    let ff = fundflow(&dir);
    let users = ledger();
    let bal = balances(&dir, &users);
    c.type_into("Business day", DAY);
    c.type_into("Results folder", &dir.join("results").display().to_string());
    clear_statements(c);
    add_statement(c, &bill);
    add_statement(c, &ff);
    assert!(
        c.h.query_by_value("WeChat fund flow (settlement)")
            .is_some(),
        "the fund flow is guessed"
    );
    c.type_into("Contract fee rate", "0.6%");
    c.click("Choose a balances file…");
    choose(c, &bal, "File", "Open");
    assert!(
        c.has(&bal.display().to_string()),
        "the balances file is chosen"
    );
    users
}

#[test]
fn the_fee_field_refuses_a_bare_number_in_a_sentence_and_takes_a_percentage() {
    let mut c = console(Lang::En, Some(Screen::Reconcile));
    c.type_into("Business day", "2026-11-20");
    c.type_into("Contract fee rate", "0.6");
    let sentence = "The fee rate '0.6' would be 60%: write 0.6% if that is the percentage meant, or the fraction (0.006 for 0.6%)";
    assert!(
        c.has(sentence),
        "the sentence beside the field: {:?}",
        super::language::screen_texts(&c)
    );
    // Start is blocked: a click does nothing and no run is recorded.
    c.click("Run reconciliation");
    let runs = workspace_rt(async {
        let ws = Workspace::open(&c.workspace).await.unwrap();
        ws.list_runs(None, 10).await.unwrap()
    });
    assert!(runs.is_empty(), "a bad rate starts no run: {runs:?}");
    // The same in Chinese, in a Chinese sentence.
    c.click("中文");
    assert!(
        c.has("手续费合同费率“0.6”会是 60%：如果指的是百分数，请写成 0.6%；否则写成小数（0.6% 即 0.006）"),
        "the Chinese sentence"
    );
    assert!(!c.has(sentence));
    // Per channel, named in Chinese, is taken.
    c.type_into("手续费合同费率", "微信=0.6%，支付宝=0.38%");
    assert!(c.has("逐笔核对手续费：支付宝 0.38%、微信 0.60%"));
    c.click("English");
    c.type_into("Contract fee rate", "0.6%");
    assert!(!c.has(sentence));
    assert!(c.has("each payment's fee checked at 0.60%"));
    c.click("Run reconciliation");
    assert!(c.banner().contains("complete"), "{}", c.banner());
    let runs = workspace_rt(async {
        let ws = Workspace::open(&c.workspace).await.unwrap();
        ws.list_runs(None, 10).await.unwrap()
    });
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].params["fee_rates"], serde_json::json!(["0.6%"]));
    assert_eq!(runs[0].params["balances"], serde_json::Value::Null);
}

#[test]
fn one_run_shows_fees_settlement_and_custody_in_both_languages() {
    let mut c = console(Lang::En, Some(Screen::Reconcile));
    let users = set_up_money_run(&mut c);
    c.click("Run reconciliation");
    assert!(c.banner().contains("complete"), "{}", c.banner());
    let runs = workspace_rt(async {
        let ws = Workspace::open(&c.workspace).await.unwrap();
        ws.list_runs(None, 10).await.unwrap()
    });
    let params = &runs[0].params;
    assert_eq!(params["fee_rates"], serde_json::json!(["0.6%"]));
    assert_eq!(
        params["formats"],
        serde_json::json!(["wechat", "wechat-fundflow"]),
        "the words the command line takes"
    );
    assert!(
        params["balances"]
            .as_str()
            .is_some_and(|b| b.ends_with(&format!("hfb-balances-{DAY}.csv"))),
        "{params}"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(runs[0].out_dir.clone().unwrap()).join("summary.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let st = &summary["settlement"];
    let n = users.len();

    // Fees: expected 1.10, charged 1.11, in words; one fee wrong.
    assert!(c.has("Fees · contract rate 0.60%"));
    assert!(c.has("the gateway charged 0.01 more"));
    assert!(c.has("1.10") && c.has("1.11"));
    assert_eq!(beside(&c, "the gateway charged 0.01 more"), "1");
    // Settlement: 4 of 6 orders; one of each break; the balance moves as the day.
    assert_eq!(beside(&c, "Orders settled"), "4 / 6");
    assert_eq!(
        beside(&c, "Expected to arrive (net of fees and refunds)"),
        st["expected"].as_str().unwrap()
    );
    assert_eq!(beside(&c, "Arrived"), st["arrived"].as_str().unwrap());
    assert_eq!(beside(&c, "Paid, money never arrived"), "1");
    assert_eq!(beside(&c, "Settled amount differs"), "1");
    assert_eq!(beside(&c, "Movement no trade explains"), "1");
    assert!(c.has(&format!(
        "wechat-fundflow-{DAY}.csv: 11 movements, in 192.10, out 1035.63; balance 1000.00 → 156.47, equal to the day's movements"
    )));
    // Custody: every bound user compared, one off, one code unknown (12.34).
    assert_eq!(beside(&c, "Accounts compared by bind code"), n.to_string());
    assert_eq!(beside(&c, "Agree"), (n - 1).to_string());
    assert_eq!(beside(&c, "Custodian balance differs"), "1");
    assert_eq!(beside(&c, "Custodian account we don't know"), "1");
    assert!(c.has("12.34"));
    // The fund flow is used for settlement, not merely read.
    assert!(c.has("money movements: settlement (below)"));

    // A count opens the queue on its kind.
    let link =
        c.h.get_all_by_label("Paid, money never arrived")
            .next()
            .unwrap();
    link.scroll_to_me();
    for _ in 0..30 {
        c.h.step();
    }
    let row =
        c.h.get_all_by_label("Paid, money never arrived")
            .next()
            .unwrap()
            .rect();
    let count =
        c.h.root()
            .children_recursive()
            .filter(|n| node_text(n).is_some_and(|t| t == "1"))
            .find(|n| (n.rect().center().y - row.center().y).abs() <= 4.0)
            .unwrap();
    count.click();
    c.h.step();
    c.settle();
    assert_eq!(c.h.state().screen(), Screen::Findings);
    assert!(c.has("1–1 of 1 findings"), "one finding of the kind");
    assert!(
        c.has("paid, money never arrived"),
        "the queue shows its kind"
    );
    c.nav("Reconcile");

    // In Chinese: the same numbers, the same sections, no English words.
    c.h.key_press(egui::Key::Escape);
    c.settle();
    c.click("中文");
    assert!(c.has("手续费 · 合同费率 0.60%"));
    assert!(c.has("网关多收 0.01"));
    assert_eq!(beside(&c, "网关多收 0.01"), "1");
    assert_eq!(beside(&c, "已到账的订单"), "4 / 6");
    assert_eq!(beside(&c, "款项未到账"), "1");
    assert_eq!(beside(&c, "到账金额不符"), "1");
    assert_eq!(beside(&c, "资金变动无从解释"), "1");
    assert!(c.has(&format!(
        "wechat-fundflow-{DAY}.csv：11 笔资金变动，收入 192.10，支出 1035.63；余额 1000.00 → 156.47，与当天的收支相符"
    )));
    assert_eq!(beside(&c, "按绑定协议号比对的账户"), n.to_string());
    assert_eq!(beside(&c, "一致"), (n - 1).to_string());
    assert_eq!(beside(&c, "存管余额不符"), "1");
    assert_eq!(beside(&c, "存管有、我方无的账户"), "1");
    // The files' names and the operator are data; nothing else is English.
    let mut data: Vec<String> = std::fs::read_dir(c._dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    data.push("测试员 tester".into());
    let texts = super::language::screen_texts(&c);
    let bad = super::language::other_language(Lang::Zh, &texts, &data, &[]);
    assert!(bad.is_empty(), "English on the Chinese screen: {bad:?}");
    c.click("English");
    let texts = super::language::screen_texts(&c);
    let bad = super::language::other_language(Lang::En, &texts, &data, &[]);
    assert!(bad.is_empty(), "Chinese on the English screen: {bad:?}");
}

#[test]
fn a_users_case_shows_the_custodians_balance_beside_ours() {
    use payrecon::money::format_amount;
    let mut c = console(Lang::En, Some(Screen::Reconcile));
    let users = set_up_money_run(&mut c);
    c.click("Run reconciliation");
    assert!(c.banner().contains("complete"), "{}", c.banner());
    let off = &users[OFF];
    let same = &users[AGREES];

    c.nav("Case");
    c.type_into(
        "Phone, user, name or bill",
        &format!("user:{}", off.user_id),
    );
    c.click("Search");
    assert_eq!(
        beside(&c, "custodian balance"),
        format_amount(off.amount + rust_decimal::Decimal::new(500, 2))
    );
    assert_eq!(
        beside(&c, "against the custodian"),
        "the custodian holds 5.00 more than our ledger"
    );
    assert!(c.has(&format!("from hfb-balances-{DAY}.csv (run #1, ")));
    // The custody finding is open on the user.
    assert!(c.has("custodian balance differs"));

    c.type_into(
        "Phone, user, name or bill",
        &format!("user:{}", same.user_id),
    );
    c.click("Search");
    assert_eq!(beside(&c, "custodian balance"), format_amount(same.amount));
    assert_eq!(
        beside(&c, "against the custodian"),
        "agrees with our ledger"
    );
    c.click("中文");
    assert_eq!(beside(&c, "与存管方相比"), "与我方账上一致");

    // The file gone: one line says so instead.
    std::fs::remove_file(c._dir.path().join(format!("hfb-balances-{DAY}.csv"))).unwrap();
    c.click("English");
    c.type_into(
        "Phone, user, name or bill",
        &format!("user:{}", off.user_id),
    );
    c.click("Search");
    let line = beside(&c, "custodian balance");
    assert!(
        line.starts_with("the custodian's balances file ")
            && line.ends_with(" (of run #1) is gone: the custodian's balance cannot be shown"),
        "{line}"
    );
}
