//! The overview: the callbacks chart shows the latest business day (a
//! spill-over callback after midnight does not make a day), the operator can
//! choose another day, and every number opens the list behind it.

use super::{Console, app, console, demo, workspace_rt};
use egui_kittest::kittest::Queryable;
use payrecon::gui::{Lang, Screen};

/// A copy of the demo database with one more callback: a retry delivered
/// five seconds after the midnight that follows the newest callback. Returns
/// the temp dir, the copy, the day it spilled over from and the new day.
fn with_spill_over() -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let (db, _) = demo();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("spill.db");
    std::fs::copy(db, &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let latest: String = conn
        .query_row("SELECT MAX(received_at) FROM notify_log", [], |r| r.get(0))
        .unwrap();
    let day = chrono::NaiveDate::parse_from_str(&latest[..10], "%Y-%m-%d").unwrap();
    let next = day.succ_opt().unwrap();
    // The stored form of the newest time, with the next day's date and 00:00:05.
    let at = format!("{next} 00:00:05{}", &latest[19..]);
    conn.execute(
        "INSERT INTO notify_log (agent_bill_no, bind_code, charge_amt, result_code, sign_ok, \
         outcome, response_body, received_at, handled_ms) \
         SELECT agent_bill_no, bind_code, charge_amt, result_code, sign_ok, 'idempotent', \
         'success', ?1, 3 FROM notify_log ORDER BY received_at DESC, id DESC LIMIT 1",
        [&at],
    )
    .unwrap();
    (dir, copy, day.to_string(), next.to_string())
}

fn console_on(db: &std::path::Path, lang: Lang) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws.db");
    workspace_rt(async {
        let w = payrecon::workspace::Workspace::open(&ws).await.unwrap();
        w.set_operator("测试员 tester").await.unwrap();
    });
    let a = app(
        format!("sqlite://{}", db.display()),
        ws.clone(),
        lang,
        Some(Screen::Overview),
    );
    let mut c = Console::new(a, ws, dir);
    c.settle();
    assert!(c.h.state().connected(), "{:?}", c.h.state().banner_text());
    c
}

#[test]
fn the_chart_shows_the_business_day_not_a_spill_over_callback() {
    let (_dir, db, day, next) = with_spill_over();
    let mut c = console_on(&db, Lang::En);
    assert_eq!(c.h.state().screen(), Screen::Overview);
    assert!(
        c.has(&format!(
            "showing {day} (latest business day with callbacks)"
        )),
        "the chart must show {day}, not the spill-over day {next}"
    );
    assert!(
        c.has(&format!(
            "after it only spill-over callbacks: {next} 1 attempt"
        )),
        "the day passed over is said"
    );
    // The operator moves to the next day: its one callback, said as chosen.
    c.click("▶");
    assert!(c.has(&format!("showing {next} (the day chosen)")));
    assert!(c.has("1 attempt"));
    // And back to the business day.
    c.click("Latest business day");
    assert!(c.has(&format!(
        "showing {day} (latest business day with callbacks)"
    )));
    // In Chinese too.
    c.click("中文");
    assert!(c.has(&format!("显示 {day}（有回调的最近营业日）")));
}

#[test]
fn the_callbacks_of_the_day_open_the_callback_table_of_that_day() {
    let (_dir, db, day, _) = with_spill_over();
    let mut c = console_on(&db, Lang::En);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM notify_log WHERE received_at >= ?1 AND received_at < date(?1, '+1 day')",
            [&day],
            |r| r.get(0),
        )
        .unwrap();
    c.click(&format!("{n} attempts"));
    assert_eq!(c.h.state().screen(), Screen::Notify);
    assert!(c.banner().is_empty(), "{}", c.banner());
    // The table counts exactly the chart's attempts of that day.
    assert!(
        c.has(&n.to_string()),
        "the Notify table of {day} should count {n} rows"
    );
}

#[test]
fn every_number_opens_the_list_behind_it() {
    let mut c = console(Lang::En, Some(Screen::Reconcile));
    let out = c._dir.path().join("run").display().to_string();
    c.type_into("Results folder", &out);
    c.type_into("Business day", "2026-11-20");
    c.click("Run reconciliation");
    assert!(c.banner().contains("complete"), "{}", c.banner());
    c.h.key_press(egui::Key::Escape);
    c.settle();
    c.nav("Overview");
    // The count of flows opens the flows table.
    let (db, _) = demo();
    let conn = rusqlite::Connection::open(db).unwrap();
    let flows: i64 = conn
        .query_row("SELECT COUNT(*) FROM trans_flow", [], |r| r.get(0))
        .unwrap();
    c.h.get_by_label(&flows.to_string()).click();
    c.h.step();
    c.settle();
    assert_eq!(c.h.state().screen(), Screen::Flows);

    // A finding kind opens the queue filtered to that kind: the two kinds
    // with the most open findings of the run.
    let ws_path = c.workspace.clone();
    let mut kinds: Vec<(usize, payrecon::recon::Kind)> = workspace_rt(async move {
        let ws = payrecon::workspace::Workspace::open(&ws_path)
            .await
            .unwrap();
        let rows = ws
            .list_findings(&payrecon::workspace::FindingFilter::default())
            .await
            .unwrap();
        payrecon::recon::Kind::ALL
            .iter()
            .map(|k| (rows.iter().filter(|r| r.kind == *k).count(), *k))
            .filter(|(n, _)| *n > 0)
            .collect()
    });
    kinds.sort();
    let (_, kind) = kinds.pop().unwrap();
    let (_, other) = kinds.pop().unwrap();
    c.nav("Overview");
    c.click(kind.name_en());
    assert_eq!(c.h.state().screen(), Screen::Findings);
    assert!(c.banner().is_empty(), "{}", c.banner());
    assert!(c.has(kind.name_en()));
    assert!(
        !c.has(other.name_en()),
        "only findings of the kind clicked ({}), none of {}",
        kind.name_en(),
        other.name_en()
    );

    // The accounts at risk open the accounts whose balance is off.
    c.nav("Overview");
    c.h.query_all_by_label_contains(" accounts ")
        .next()
        .expect("the accounts at risk")
        .click();
    c.h.step();
    c.settle();
    assert_eq!(c.h.state().screen(), Screen::Accounts);
    assert!(c.banner().is_empty(), "{}", c.banner());
}
