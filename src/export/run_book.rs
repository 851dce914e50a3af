//! A reconciliation's results as one Excel workbook (`findings.xlsx`,
//! beside `findings.csv` and `summary.json`): a summary sheet saying in
//! words, Chinese and English, what `summary.json` has — period, database,
//! statement files, counts per kind and severity, amount at risk,
//! unverified flows — and a sheet of breaks, one row per finding, the
//! columns of `findings.csv`, typed.

use super::xlsx::{SummaryRow, SummarySheet, Value, XlsxFile};
use crate::recon::run::{FINDINGS_HEADER, finding_cells};
use crate::recon::{Kind, RunOutput, RunStatus, Severity};
use rust_decimal::Decimal;
use std::path::Path;

/// The workbook's file name in a run's folder.
pub const RUN_WORKBOOK: &str = "findings.xlsx";

/// The summary sheet's name.
pub const SUMMARY_SHEET: &str = "摘要 Summary";

/// The breaks sheet's name.
pub const BREAKS_SHEET: &str = "差异 Breaks";

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn int(n: u64) -> Value {
    i64::try_from(n).map_or_else(|_| Value::Text(n.to_string()), Value::Int)
}

/// An amount from exact decimal text (as `summary.json` keeps them).
fn money_text(s: &str) -> Value {
    s.parse::<Decimal>()
        .map_or_else(|_| Value::Text(s.to_owned()), Value::Money)
}

fn line(label: &str, v: Value) -> SummaryRow {
    SummaryRow {
        cells: vec![text(label), v],
        heading: false,
    }
}

fn heading(cells: &[&str]) -> SummaryRow {
    SummaryRow {
        cells: cells.iter().map(|c| text(*c)).collect(),
        heading: true,
    }
}

fn blank() -> SummaryRow {
    SummaryRow {
        cells: Vec::new(),
        heading: false,
    }
}

fn severity_words(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "严重 critical",
        Severity::High => "高 high",
        Severity::Warning => "警告 warning",
        Severity::Info => "提示 info",
    }
}

/// The fee, settlement and custody checks' totals (issue of SPEC §4's
/// `fee_mismatch`, `settlement_*`, `custody_*`), when the run had them.
fn money_rows(out: &RunOutput, rows: &mut Vec<SummaryRow>) {
    if let Some(rates) = &out.fee_rates {
        rows.push(blank());
        rows.push(heading(&[
            "手续费 Fees",
            "合同费率 Contract rate",
            "支付笔数 Payments",
            "退款笔数 Refunds",
            "应收 Expected",
            "实收 Charged",
            "差额（多收为正）Difference (+ = overcharged)",
            "不符 Wrong",
        ]));
        if out.fees.is_empty() {
            rows.push(line(
                &format!(
                    "未核对：没有采用的交易账单 Not checked: no reconciled trade bill ({rates})"
                ),
                Value::Blank,
            ));
        }
        for f in &out.fees {
            rows.push(SummaryRow {
                cells: vec![
                    text(f.file.clone()),
                    text(f.rate.clone()),
                    int(f.payments_checked),
                    int(f.refunds_checked),
                    money_text(&f.expected),
                    money_text(&f.charged),
                    money_text(&f.difference),
                    int(f.mismatches),
                ],
                heading: false,
            });
        }
    }
    if let Some(s) = &out.settlement {
        rows.push(blank());
        rows.push(heading(&["结算到账 Settlement"]));
        if let Some((en, zh)) = &s.not_checked {
            rows.push(line("未核对 Not checked", text(format!("{zh} / {en}"))));
        } else {
            rows.push(line("应到账订单 Orders to settle", int(s.orders)));
            rows.push(line("已到账且金额相符 Settled right", int(s.settled)));
            rows.push(line(
                "应到账金额 Expected to arrive",
                money_text(&s.expected),
            ));
            rows.push(line("实际到账 Arrived", money_text(&s.arrived)));
            rows.push(line("未到账 Never arrived", int(s.missing)));
            rows.push(line("金额不符 Amount differs", int(s.mismatched)));
            rows.push(line(
                "无从解释的变动 Unexplained movements",
                int(s.unexplained),
            ));
            rows.push(line("跨日待核 Pending at the day boundary", int(s.pending)));
        }
        for f in &s.files {
            let ok = match f.balance_ok {
                Some(true) => "相符 agrees",
                Some(false) => "不符 DIFFERS",
                None => "—",
            };
            rows.push(SummaryRow {
                cells: vec![
                    text(f.file.clone()),
                    text(format!(
                        "期初 opening {}",
                        f.opening.as_deref().unwrap_or("—")
                    )),
                    text(format!(
                        "期末 closing {}",
                        f.closing.as_deref().unwrap_or("—")
                    )),
                    text(format!("收入 in {}", f.income)),
                    text(format!("支出 out {}", f.expense)),
                    text(format!("余额变动与明细 balance vs rows: {ok}")),
                ],
                heading: false,
            });
        }
    }
    if let Some(c) = &out.custody {
        rows.push(blank());
        rows.push(heading(&["存管余额 Custodian balances"]));
        rows.push(line("文件 File", text(c.file.clone())));
        if let Some(why) = &c.refused {
            let zh = c.refused_zh.clone().unwrap_or_default();
            rows.push(line("未核对 Not compared", text(format!("{zh} / {why}"))));
        } else {
            rows.push(line("已比对账户 Accounts compared", int(c.compared)));
            rows.push(line("相符 Agree", int(c.agree)));
            rows.push(line("余额不符 Differ", int(c.mismatched)));
            rows.push(line(
                "我方未知的存管账户 Accounts we don't know",
                int(c.unknown),
            ));
            rows.push(line(
                "其余额合计 Their balance",
                money_text(&c.unknown_amount),
            ));
            rows.push(line(
                "存管合计 Custodian total",
                money_text(&c.custodian_total),
            ));
            rows.push(line("账本合计 Ledger total", money_text(&c.ledger_total)));
        }
    }
}

/// The summary sheet's rows: label (中文 English), value typed.
pub fn summary_rows(out: &RunOutput) -> Vec<SummaryRow> {
    let mut rows = vec![heading(&["对账结果 Reconciliation"])];
    let status = match out.status {
        RunStatus::Ok => "完成 complete",
        RunStatus::Failed => "失败 failed",
        RunStatus::Cancelled => "已取消 cancelled",
    };
    rows.push(line("状态 Status", text(status)));
    if let Some(e) = &out.error {
        rows.push(line("原因 Reason", text(e.clone())));
    }
    let period = match out.period {
        None => "全库 whole database".to_owned(),
        Some(p) if p.from == p.to => p.from.to_string(),
        Some(p) => format!("{} .. {}", p.from, p.to),
    };
    rows.push(line("对账期间 Period", text(period)));
    rows.push(line("数据库 Database", text(out.database.clone())));
    rows.push(line("开始时间 Started", Value::Time(out.started_at)));
    rows.push(line("用时（毫秒）Duration (ms)", int(out.duration_ms)));

    rows.push(blank());
    rows.push(heading(&[
        "对账单 Statement files",
        "格式 Format",
        "条数 Rows",
        "金额 Amount",
        "退款 Refunds",
        "用途 Role",
        "合计相符 Totals agree",
        "未采用原因 Why not used",
    ]));
    if out.files.is_empty() {
        rows.push(line("（无）(none)", Value::Blank));
    }
    for f in &out.files {
        let role = serde_json::to_value(f.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let role = match role.as_str() {
            "reconciled" => "已对账 reconciled".to_owned(),
            "refused" => "未采用 refused".to_owned(),
            other => other.replace('_', " "),
        };
        let totals = match f.totals_ok {
            Some(true) => "是 yes",
            Some(false) => "否 NO",
            None => "—",
        };
        let why = match (&f.refused_zh, &f.refused) {
            (Some(zh), Some(en)) => format!("{zh} / {en}"),
            (None, Some(en)) => en.clone(),
            (Some(zh), None) => zh.clone(),
            (None, None) => String::new(),
        };
        rows.push(SummaryRow {
            cells: vec![
                text(f.path.clone()),
                text(f.format),
                int(f.entries),
                f.amount.as_deref().map_or(Value::Blank, money_text),
                f.refund_amount.as_deref().map_or(Value::Blank, money_text),
                text(role),
                text(totals),
                if why.is_empty() {
                    Value::Blank
                } else {
                    text(why)
                },
            ],
            heading: false,
        });
    }

    rows.push(blank());
    rows.push(heading(&["核对 Matching"]));
    if let Some((orders, flows, matched)) = out.matching {
        rows.push(line("对账单订单 Statement orders", int(orders)));
        rows.push(line("期间充值流水 Recharge flows in period", int(flows)));
        rows.push(line("已匹配 Matched", int(matched)));
    } else {
        rows.push(line(
            "未与对账单核对 Not checked against a statement",
            Value::Blank,
        ));
    }
    if let Some(a) = &out.flows_amount {
        rows.push(line(
            "期间充值流水金额 Recharge flows amount",
            money_text(a),
        ));
    }
    if let Some(u) = &out.unverified {
        rows.push(line("未核对流水 Unverified flows", int(u.flows)));
        rows.push(line("未核对金额 Unverified amount", money_text(&u.amount)));
    }
    if out.cleared_by_neighbour > 0 {
        rows.push(line(
            "由相邻日账单核销 Cleared by a neighbouring day's bill",
            int(out.cleared_by_neighbour),
        ));
    }

    money_rows(out, &mut rows);

    if out.status == RunStatus::Ok {
        let r = &out.amount_at_risk;
        rows.push(blank());
        rows.push(heading(&[
            "涉险金额（每笔账单、每个账户各计一次）Amount at risk (each bill and account counted once)",
        ]));
        rows.push(line("涉险金额 Amount at risk", Value::Money(r.total)));
        rows.push(line("涉及账单 Bills", int(r.bill_count)));
        rows.push(line("涉及账户 Accounts", int(r.account_count)));
        rows.push(line(
            "文件级合计差额（不计入上面）File-level differences (not in the above)",
            Value::Money(r.file_level),
        ));

        rows.push(blank());
        rows.push(heading(&["严重度 Severity", "条数 Count"]));
        for s in [
            Severity::Critical,
            Severity::High,
            Severity::Warning,
            Severity::Info,
        ] {
            if let Some(n) = out.by_severity.get(s.as_str()) {
                rows.push(line(severity_words(s), int(*n)));
            }
        }
        rows.push(line(
            "差错合计 Findings in all",
            int(out.by_kind.values().sum()),
        ));

        rows.push(blank());
        rows.push(heading(&[
            "类型 Kind",
            "条数 Count",
            "差额合计 Total difference",
            "严重度 Severity",
            "代码 Code",
        ]));
        let mut kinds: Vec<(&&str, &u64)> = out.by_kind.iter().collect();
        kinds.sort_by_key(|(k, _)| {
            let kind = Kind::parse(k);
            (std::cmp::Reverse(kind.map(Kind::severity)), kind)
        });
        for (k, n) in kinds {
            let (name, sev) = match Kind::parse(k) {
                Some(kind) => (
                    format!("{} {}", kind.name_zh(), kind.name_en()),
                    severity_words(kind.severity()),
                ),
                None => ((*k).replace('_', " "), ""),
            };
            rows.push(SummaryRow {
                cells: vec![
                    text(name),
                    int(*n),
                    out.amount_by_kind
                        .get(*k)
                        .map_or(Value::Blank, |a| money_text(a)),
                    text(sev),
                    text(*k),
                ],
                heading: false,
            });
        }
    } else {
        rows.push(blank());
        rows.push(line(
            "未对账：没有结果 NOT reconciled: no result",
            Value::Blank,
        ));
    }

    if !out.skipped.is_empty() {
        rows.push(blank());
        rows.push(heading(&["跳过的检查 Skipped checks", "原因 Reason"]));
        for s in &out.skipped {
            rows.push(SummaryRow {
                cells: vec![
                    text(s.kinds.join(", ")),
                    text(format!("{} / {}", s.reason_zh, s.reason_en)),
                ],
                heading: false,
            });
        }
    }
    rows
}

/// Writes the run's workbook to `path` (a summary sheet, then the breaks);
/// returns the breaks written. Nothing appears under `path` unless complete.
pub fn write_run_workbook(path: &Path, out: &RunOutput) -> std::io::Result<u64> {
    let summary = SummarySheet {
        name: SUMMARY_SHEET.to_owned(),
        rows: summary_rows(out),
    };
    let mut book =
        XlsxFile::create_with_summary(path, Some(&summary), &FINDINGS_HEADER, BREAKS_SHEET)?;
    for f in &out.findings {
        if let Err(e) = book.row(finding_cells(f)) {
            book.abandon();
            return Err(e);
        }
    }
    book.finish()
}
