//! Console tests: the findings queue at any size (driven through
//! egui_kittest; see the harness in ../console.rs). 30,000 findings paged to
//! their end, grouped by bill, a group resolved with one note, and the
//! filtered queue exported and read back — in English and in Chinese.

use super::*;
use payrecon::recon::{Finding, Kind, RunStatus};
use payrecon::workspace::{FindingFilter, GroupBy, GroupKey, RunRecord, Status, Workspace};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The words of one language the test clicks and reads.
struct Words {
    lang: Lang,
    range_first: &'static str,
    range_last: &'static str,
    last: &'static str,
    next: &'static str,
    group_none: &'static str,
    by_bill: &'static str,
    groups_total: &'static str,
    sort_default: &'static str,
    sort_key: &'static str,
    note: &'static str,
    resolve_group: &'static str,
    changed: &'static str,
    resolved: &'static str,
    kind_all: &'static str,
    notify_exhausted: &'static str,
    export_to: &'static str,
    export: &'static str,
    exported: &'static str,
}

const EN: Words = Words {
    lang: Lang::En,
    range_first: "1–200 of 30000 findings",
    range_last: "29801–30000 of 30000 findings",
    last: "Last ▶|",
    next: "Next ▶",
    group_none: "none",
    by_bill: "by bill",
    groups_total: "of 14000 groups",
    sort_default: "severity (worst first)",
    sort_key: "key (numbers in order)",
    note: "Note",
    resolve_group: "Resolve this group",
    changed: "3 findings changed: → resolved",
    resolved: "resolved",
    kind_all: "all",
    notify_exhausted: "callback retries exhausted",
    export_to: "Export to",
    export: "Export the queue (CSV)",
    exported: "Exported 7999 findings",
};

const ZH: Words = Words {
    lang: Lang::Zh,
    range_first: "1–200 / 共 30000 条",
    range_last: "29801–30000 / 共 30000 条",
    last: "末页 ▶|",
    next: "下一页 ▶",
    group_none: "不分组",
    by_bill: "按订单",
    groups_total: "/ 共 14000 组",
    sort_default: "严重度（最严重先）",
    sort_key: "业务键（数字按大小）",
    note: "说明",
    resolve_group: "解决整组",
    changed: "3 条差错 已改为 → 已解决",
    resolved: "已解决",
    kind_all: "全部",
    notify_exhausted: "回调重试耗尽",
    export_to: "导出到",
    export: "导出队列（CSV）",
    exported: "已导出 7999 条差错",
};

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

/// 30,000 findings: 8,000 bills with three findings each (one unpaid
/// recharge seen three ways) and 6,000 accounts off.
fn many() -> Vec<Finding> {
    (0..30_000i64)
        .map(|i| {
            let amount = cents((i * 7919) % 100_000 + 1);
            if i < 24_000 {
                let b = i / 3;
                let kind = [
                    Kind::MissingInternal,
                    Kind::NotifyExhausted,
                    Kind::OrderStuck,
                ][usize::try_from(i % 3).unwrap()];
                let bill = format!("CHARGE{b}");
                Finding::new(kind, bill.clone())
                    .bill(&bill)
                    .user(Some(b % 5000))
                    .amounts(None, Some(amount))
                    .explain("测试", "test")
            } else {
                let u = i - 24_000;
                Finding::new(Kind::BalanceMismatch, format!("user:{u}"))
                    .user(Some(u))
                    .amounts(Some(amount), Some(cents(0)))
                    .explain("测试", "test")
            }
        })
        .collect()
}

/// A console on the demo whose workspace already holds 30,000 findings of
/// it and an operator's name, showing the findings queue.
fn console_with_queue(lang: Lang) -> (Console, String) {
    let (db, _) = demo();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace.db");
    let url = format!("sqlite://{}", db.display());
    let database = payrecon::db::DbUrl::parse(&url).unwrap().redacted();
    workspace_rt(async {
        let ws = Workspace::open(&workspace).await.unwrap();
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        ws.record_run(
            &RunRecord {
                operator: "李会计".into(),
                started_at: at,
                finished_at: at,
                database: database.clone(),
                period: None,
                params: serde_json::json!({}),
                status: RunStatus::Ok,
                reason: None,
                not_checked: Vec::new(),
            },
            &many(),
        )
        .await
        .unwrap();
        ws.set_operator("李会计").await.unwrap();
        ws.close().await;
    });
    let app = app(url, workspace.clone(), lang, Some(Screen::Findings));
    let mut c = Console::new(app, workspace, dir);
    c.settle();
    assert!(c.h.state().connected(), "{:?}", c.h.state().banner_text());
    (c, database)
}

/// Opens the drop-down showing `value` and picks `option`.
fn pick(c: &mut Console, value: &str, option: &str) {
    c.h.get_all_by_value(value).next().unwrap().click();
    c.h.step();
    c.settle();
    c.click(option);
}

fn thirty_thousand_paged_grouped_resolved_and_exported(w: &Words) {
    let (mut c, database) = console_with_queue(w.lang);
    // The whole queue, counted: no silent cap.
    assert!(c.has(w.range_first), "{}", w.range_first);
    // Page on, then jump to the end.
    c.click(w.next);
    assert!(c.has("201–400"), "the second page");
    c.click(w.last);
    assert!(c.has(w.range_last), "{}", w.range_last);
    {
        use egui_kittest::kittest::NodeT;
        let next = c.h.get_by_label(w.next);
        assert!(
            next.accesskit_node().is_disabled(),
            "no page after the last"
        );
    }

    // One row per bill, in natural key order: CHARGE5 is on the first page.
    pick(&mut c, w.group_none, w.by_bill);
    assert!(c.has(w.groups_total), "{}", w.groups_total);
    pick(&mut c, w.sort_default, w.sort_key);
    c.click("CHARGE5");
    c.type_into(w.note, "refunded, ticket 77");
    c.click(w.resolve_group);
    assert!(c.banner().contains(w.changed), "{}", c.banner());
    // Still on screen, with its new status (the page was not reloaded).
    assert!(c.has("CHARGE5"));
    assert!(c.has(w.resolved));

    let ws_path = c.workspace.clone();
    let db2 = database.clone();
    workspace_rt(async move {
        let ws = Workspace::open(&ws_path).await.unwrap();
        let rows = ws
            .list_findings(&FindingFilter {
                database: Some(db2),
                group: Some(GroupKey {
                    by: GroupBy::Bill,
                    key: "CHARGE5".into(),
                }),
                ..FindingFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        for r in &rows {
            assert_eq!(r.status, Status::Resolved);
            let h = ws.history(r.id).await.unwrap();
            let e = h.last().unwrap();
            assert_eq!(
                (e.note.as_str(), e.operator.as_str()),
                ("refunded, ticket 77", "李会计")
            );
        }
        let a = ws.verify_audit().await.unwrap();
        assert!(a.ok, "{:?}", a.problem);
    });

    // Filter by kind, export, read back: exactly what the filter selects.
    pick(&mut c, w.kind_all, w.notify_exhausted);
    let out = c.workspace.parent().unwrap().join("queue.csv");
    c.type_into(w.export_to, &out.display().to_string());
    c.click(w.export);
    assert!(c.banner().contains(w.exported), "{}", c.banner());
    let mut r = csv::Reader::from_path(&out).unwrap();
    let header = r.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id_c, kind_c, status_c, risk_c, op_c) = (
        col("id"),
        col("kind"),
        col("status"),
        col("at_risk"),
        col("operator"),
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let ws_path = c.workspace.clone();
    let (want_ids, summary) = workspace_rt(async move {
        let ws = Workspace::open(&ws_path).await.unwrap();
        let f = FindingFilter {
            database: Some(database),
            kinds: vec![Kind::NotifyExhausted],
            statuses: vec![Status::Open, Status::Acknowledged],
            ..FindingFilter::default()
        };
        let ids: std::collections::BTreeSet<i64> = ws
            .list_findings(&f)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        (ids, ws.summarize_findings(&f).await.unwrap())
    });
    let got: std::collections::BTreeSet<i64> =
        rows.iter().map(|r| r[id_c].parse().unwrap()).collect();
    assert_eq!(got.len(), rows.len(), "each finding once");
    assert_eq!(got, want_ids);
    assert_eq!(rows.len(), 7999);
    assert!(rows.iter().all(|r| &r[kind_c] == "notify_exhausted"));
    assert!(rows.iter().all(|r| &r[status_c] == "open"));
    assert!(
        rows.iter().all(|r| r[op_c].is_empty()),
        "no hand action yet"
    );
    // The at_risk column adds up to the figure on screen.
    let sum: Decimal = rows
        .iter()
        .map(|r| Decimal::from_str(&r[risk_c]).unwrap())
        .sum();
    assert_eq!(sum, summary.at_risk.total);
    assert!(c.has(&payrecon::money::format_amount(summary.at_risk.total)));
}

#[test]
fn a_30000_finding_queue_in_english() {
    thirty_thousand_paged_grouped_resolved_and_exported(&EN);
}

#[test]
fn a_30000_finding_queue_in_chinese() {
    thirty_thousand_paged_grouped_resolved_and_exported(&ZH);
}
