//! Console tests: reconcile (driven through egui_kittest; see the harness in
//! ../console.rs) — a results folder per run that a later cancelled run
//! leaves untouched, the past runs with their status and operator, and the
//! summary with its headers, kind names and the red "NOT reconciled" notice.

use super::*;
use payrecon::recon::RunStatus;
use payrecon::workspace::{RunRow, Workspace};

/// A console on the demo whose workspace already knows the operator.
fn console_as(lang: Lang, operator: &str) -> Console {
    super::console_as(lang, Some(Screen::Reconcile), Some(operator))
}

fn runs(c: &Console) -> Vec<RunRow> {
    workspace_rt(async {
        let ws = Workspace::open(&c.workspace).await.unwrap();
        ws.list_runs(None, 10).await.unwrap()
    })
}

/// The demo's statement of 2026-11-20.
fn statement() -> PathBuf {
    demo()
        .1
        .iter()
        .find(|p| p.display().to_string().contains("hfb-2026-11-20"))
        .unwrap()
        .clone()
}

/// The statement repeated `times` over: a run long enough to cancel.
fn big_statement(dir: &Path, times: usize) -> PathBuf {
    let big = dir.join("hfb-big.csv");
    let text = std::fs::read_to_string(statement()).unwrap();
    let mut lines = text.lines();
    let mut s = String::from(lines.next().unwrap());
    s.push('\n');
    let body: Vec<&str> = lines.collect();
    for _ in 0..times {
        for l in &body {
            s.push_str(l);
            s.push('\n');
        }
    }
    std::fs::write(&big, s).unwrap();
    big
}

/// Clicks Run, then Cancel as soon as the run shows its progress.
fn run_and_cancel(c: &mut Console, run: &str, cancel: &str) {
    c.h.get_by_label(run).click();
    c.h.step();
    c.h.step();
    c.h.get_by_label(cancel).click();
    c.settle();
}

#[test]
fn a_cancelled_run_leaves_the_completed_one_untouched_and_both_are_listed() {
    let mut c = console_as(Lang::En, "Li Na");
    let root = c._dir.path().join("results");
    c.type_into("Business day", "2026-11-20");
    c.type_into("Results folder", &root.display().to_string());
    clear_statements(&mut c);
    add_statement(&mut c, &statement());
    c.click("Run reconciliation");
    assert!(
        c.banner().contains("Reconciliation complete"),
        "{}",
        c.banner()
    );
    let first = runs(&c);
    assert_eq!(first.len(), 1);
    let first_dir = PathBuf::from(first[0].out_dir.clone().expect("the run's folder"));
    // <root>/<database>/<day>-run<id>
    assert_eq!(
        first_dir,
        root.join("demo")
            .join(format!("2026-11-20-run{}", first[0].id))
    );
    let findings = std::fs::read(first_dir.join("findings.csv")).unwrap();
    let summary = std::fs::read(first_dir.join("summary.json")).unwrap();
    assert!(c.has("Statement against ledger"));
    assert!(!c.has("NOT reconciled"));

    // The same day again, with a big statement, cancelled.
    let big = big_statement(c._dir.path(), 400);
    add_statement(&mut c, &big);
    run_and_cancel(&mut c, "Run reconciliation", "Cancel");
    assert!(c.banner().contains("cancelled"), "{}", c.banner());

    let all = runs(&c);
    assert_eq!(all.len(), 2);
    let (second, first) = (&all[0], &all[1]);
    assert_eq!(second.status, RunStatus::Cancelled);
    assert_eq!(first.status, RunStatus::Ok);
    for r in &all {
        assert_eq!(
            r.operator, "Li Na",
            "run #{} recorded by the saved operator",
            r.id
        );
    }
    let second_dir = PathBuf::from(second.out_dir.clone().expect("its own folder"));
    assert_ne!(second_dir, first_dir);
    assert!(second_dir.ends_with(format!("2026-11-20-run{}-cancelled", second.id)));
    let s2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(second_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s2["status"], "cancelled");
    assert!(!second_dir.join("findings.csv").exists());
    // The completed run's results, byte for byte.
    assert_eq!(
        std::fs::read(first_dir.join("findings.csv")).unwrap(),
        findings
    );
    assert_eq!(
        std::fs::read(first_dir.join("summary.json")).unwrap(),
        summary
    );

    // The summary on screen says so, in red, with the reason.
    assert!(c.has("NOT reconciled"));
    assert!(c.has("the run was cancelled"));
    // Both runs are listed, newest first, with their status and operator.
    assert!(c.has("Past runs"));
    assert!(c.has(&format!("Show summary #{}", first.id)));
    assert!(c.has(&format!("Show summary #{}", second.id)));
    assert!(c.h.query_all_by_label("cancelled").next().is_some());
    assert!(c.h.query_all_by_label("complete").next().is_some());
    assert!(c.h.query_all_by_label("Li Na").next().is_some());
    // The completed run's summary comes back from its own folder.
    c.click(&format!("Show summary #{}", first.id));
    assert!(!c.has("NOT reconciled"));
    assert!(c.has("Statement against ledger"));
    assert!(
        c.has("balance differs from flows"),
        "the kind's English name"
    );
}

#[test]
fn the_summary_has_headers_and_kind_names_in_chinese_and_the_red_notice() {
    let mut c = console_as(Lang::Zh, "王芳");
    let root = c._dir.path().join("results");
    c.type_into("对账日", "2026-11-20");
    c.type_into("结果保存到", &root.display().to_string());
    while c.h.query_by_label("×").is_some() {
        c.click("×");
    }
    c.click("添加对账单文件…");
    c.type_into("文件", &statement().display().to_string());
    c.click("打开");
    c.click("开始对账");
    for text in [
        "对账单与账本",
        "对账单行（已对账的文件）",
        "本期充值流水（账本）",
        "类型",
        "严重度",
        "条数",
        "差额合计",
        "余额与流水不符",
        "涉险金额",
        "过去的对账",
    ] {
        assert!(c.has(text), "{text}");
    }
    assert!(!c.has("balance_mismatch"), "no raw kind code as a name");
    assert!(!c.has("未对账"));

    let big = big_statement(c._dir.path(), 400);
    c.click("添加对账单文件…");
    c.type_into("文件", &big.display().to_string());
    c.click("打开");
    run_and_cancel(&mut c, "开始对账", "取消");
    assert!(c.has("未对账"));
    assert!(c.has("对账被取消"));
    assert_eq!(runs(&c)[0].operator, "王芳");
}
