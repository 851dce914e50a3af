#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `.xlsx` exports read back cell by cell (unzip + the sheet's XML):
//! a view, the findings queue and a reconciliation's workbook from the demo
//! database. Ids, bill numbers, order ids and mobiles are text cells with
//! their exact digits; amounts are numbers with the `0.00` style and exactly
//! the cents of the CSV; times are date serials with a date style; the header
//! row is frozen and the autofilter covers the rows. A failed or cancelled
//! export leaves no file.

mod support;

use payrecon::db::{ConnectOptions, Db};
use payrecon::export::xlsx::XlsxFile;
use payrecon::export::{ExportFormat, OutFile};
use payrecon::ops::{ExportControl, Outputs, reconcile_and_record};
use payrecon::recon::{Period, RunOptions, RunStatus, StatementInput};
use payrecon::views::{Filter, View};
use payrecon::workspace::{FindingFilter, QueueOrder, Workspace};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// A WeChat-style 28-digit order id (a real sandbox bill shows it as 4.00934E+27).
const WECHAT_ID: &str = "4009340000000000000000000000";
/// An 11-digit mobile (Excel would show 1.38862E+10).
const MOBILE: &str = "13886200000";
/// An Alipay-style trade number with a leading zero-free 28 digits, as a bill number.
const ALIPAY_BILL: &str = "2026112022001400001234567890";

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// A demo database with a few rows carrying the ids Excel mangles.
async fn demo(dir: &Path) -> (Db, PathBuf, Vec<PathBuf>) {
    let path = dir.join("shop.db");
    let r = payrecon::demo::build_sqlite(&path, day(), 2026)
        .await
        .unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, \
         trans_amount, memo, create_time, update_time, is_deleted) \
         VALUES (1, '王伟', ?1, 1, '充值', '12345678.91', ?2, '2026-11-20 08:00:01.250', \
         '2026-11-20 08:00:01.250', 0)",
        rusqlite::params![WECHAT_ID, MOBILE],
    )
    .unwrap();
    c.execute(
        "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, \
         status, version, create_time, update_time) \
         VALUES (?1, 1, '00123456789', '0.10', '0.00', 0, 0, '2026-11-19 09:00:00', \
         '2026-11-19 09:00:00')",
        rusqlite::params![ALIPAY_BILL],
    )
    .unwrap();
    drop(c);
    let db = Db::connect(
        &format!("sqlite://{}", path.display()),
        &ConnectOptions::read_only(),
    )
    .await
    .unwrap();
    (db, path, r.statements)
}

// ---------------------------------------------------------------- reading back

/// One cell as the sheet's XML has it.
#[derive(Debug, Clone, PartialEq)]
struct Cell {
    /// `t`: `s` (shared string), `inlineStr`, or empty for a number.
    t: String,
    /// The style index.
    s: usize,
    /// The value: the text for strings, the number's text for numbers.
    v: String,
}

/// A workbook read back: sheets by name (in order), the styles' number formats.
struct Book {
    sheets: Vec<(String, String)>,
    shared: Vec<String>,
    /// Style index → number format code.
    formats: Vec<String>,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The attribute `name` of the tag starting at `tag`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let end = tag.find('>').unwrap_or(tag.len());
    let head = &tag[..end];
    let key = format!(" {name}=\"");
    let i = head.find(&key)? + key.len();
    let j = head[i..].find('"')? + i;
    Some(unescape(&head[i..j]))
}

/// The texts of every `<t …>…</t>` in `xml`, concatenated.
fn texts(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<t") {
        let after = &rest[i + 2..];
        if !(after.starts_with('>') || after.starts_with(' ')) {
            rest = after;
            continue;
        }
        let open = after.find('>').unwrap() + 1;
        let close = after.find("</t>").unwrap();
        out.push_str(&unescape(&after[open..close]));
        rest = &after[close + 4..];
    }
    out
}

impl Book {
    fn open(path: &Path) -> Book {
        let f = std::fs::File::open(path).unwrap();
        let mut z = zip::ZipArchive::new(f).unwrap();
        let mut read = |name: &str| -> Option<String> {
            let mut s = String::new();
            z.by_name(name).ok()?.read_to_string(&mut s).unwrap();
            Some(s)
        };
        let workbook = read("xl/workbook.xml").unwrap();
        let rels = read("xl/_rels/workbook.xml.rels").unwrap();
        let mut sheets = Vec::new();
        for tag in workbook.split("<sheet ").skip(1) {
            let name = attr(&format!(" {tag}"), "name").unwrap();
            let rid = attr(&format!(" {tag}"), "r:id").unwrap();
            let rel = rels
                .split("<Relationship ")
                .find(|r| attr(&format!(" {r}"), "Id").as_deref() == Some(rid.as_str()))
                .unwrap();
            let target = attr(&format!(" {rel}"), "Target").unwrap();
            let xml = read(&format!("xl/{target}")).unwrap();
            sheets.push((name, xml));
        }
        let shared = read("xl/sharedStrings.xml")
            .map(|x| x.split("<si>").skip(1).map(texts).collect())
            .unwrap_or_default();
        let styles = read("xl/styles.xml").unwrap();
        let mut codes: BTreeMap<String, String> = BTreeMap::new();
        for tag in styles.split("<numFmt ").skip(1) {
            let tag = format!(" {tag}");
            codes.insert(
                attr(&tag, "numFmtId").unwrap(),
                attr(&tag, "formatCode").unwrap(),
            );
        }
        let xfs = styles
            .split("<cellXfs")
            .nth(1)
            .unwrap()
            .split("</cellXfs>")
            .next()
            .unwrap();
        let formats = xfs
            .split("<xf ")
            .skip(1)
            .map(|x| {
                let id = attr(&format!(" {x}"), "numFmtId").unwrap_or_default();
                // Built-in formats have no numFmt element: 0 General, 2 `0.00`, 49 `@` (text).
                match id.as_str() {
                    "0" => "General".to_owned(),
                    "2" => "0.00".to_owned(),
                    "49" => "@".to_owned(),
                    _ => codes.get(&id).cloned().unwrap_or(id),
                }
            })
            .collect();
        Book {
            sheets,
            shared,
            formats,
        }
    }

    fn names(&self) -> Vec<&str> {
        self.sheets.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn xml(&self, sheet: &str) -> &str {
        &self
            .sheets
            .iter()
            .find(|(n, _)| n == sheet)
            .unwrap_or_else(|| panic!("no sheet {sheet} in {:?}", self.names()))
            .1
    }

    /// The cells of a sheet by (row, column), both from 0.
    fn cells(&self, sheet: &str) -> BTreeMap<(u32, u32), Cell> {
        let xml = self.xml(sheet);
        let mut out = BTreeMap::new();
        for c in xml.split("<c ").skip(1) {
            let tag = format!(" {c}");
            let r = attr(&tag, "r").unwrap();
            let t = attr(&tag, "t").unwrap_or_default();
            let s = attr(&tag, "s").map_or(0, |s| s.parse().unwrap());
            let body_end = c.find("</c>").unwrap_or(0);
            let self_closing = c.find("/>").is_some_and(|i| i < c.find('>').unwrap());
            let body = if self_closing { "" } else { &c[..body_end] };
            let v = match t.as_str() {
                "inlineStr" => texts(body),
                "s" => {
                    let i: usize = texts_v(body).parse().unwrap();
                    self.shared[i].clone()
                }
                _ => texts_v(body),
            };
            out.insert(cell_ref(&r), Cell { t, s, v });
        }
        out
    }
}

/// The `<v>…</v>` of a cell.
fn texts_v(body: &str) -> String {
    match (body.find("<v>"), body.find("</v>")) {
        (Some(i), Some(j)) => unescape(&body[i + 3..j]),
        _ => String::new(),
    }
}

/// `B12` → (11, 1).
fn cell_ref(r: &str) -> (u32, u32) {
    let letters: String = r.chars().take_while(char::is_ascii_alphabetic).collect();
    let row: u32 = r[letters.len()..].parse().unwrap();
    let col = letters
        .bytes()
        .fold(0u32, |acc, b| acc * 26 + u32::from(b - b'A' + 1));
    (row - 1, col - 1)
}

/// `A1:J12`'s last row and column letters, from the sheet's autofilter.
fn autofilter(xml: &str) -> String {
    let i = xml.find("<autoFilter ").expect("an autofilter");
    attr(&xml[i..], "ref").unwrap()
}

fn is_text(c: &Cell) -> bool {
    c.t == "inlineStr" || c.t == "s"
}

/// The rows of a sheet as cell texts (row 0 is the header).
fn rows(book: &Book, sheet: &str) -> Vec<BTreeMap<u32, Cell>> {
    let mut out: Vec<BTreeMap<u32, Cell>> = Vec::new();
    for ((r, c), cell) in book.cells(sheet) {
        let r = r as usize;
        if out.len() <= r {
            out.resize(r + 1, BTreeMap::new());
        }
        out[r].insert(c, cell);
    }
    out
}

/// The Excel serial of a time, as exact decimal (days since 1899-12-30).
fn serial_of(t: chrono::NaiveDateTime) -> (i64, i64) {
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
    let days = (t.date() - base).num_days();
    let ms = i64::from(chrono::Timelike::num_seconds_from_midnight(&t.time())) * 1000
        + i64::from(t.and_utc().timestamp_subsec_millis());
    (days, ms)
}

/// Checks one workbook cell against the CSV cell of the same column, by the
/// column's kind: text exact, numbers exact, amounts exact with `0.00`,
/// times the same instant to the millisecond with a date style.
fn same_cell(book: &Book, header: &str, csv: &str, cell: Option<&Cell>, at: &str) {
    use payrecon::export::xlsx::{ColKind, column_kind};
    if csv.is_empty() {
        assert!(
            cell.is_none_or(|c| c.v.is_empty()),
            "{at}: {cell:?} for an empty cell"
        );
        return;
    }
    let c = cell.unwrap_or_else(|| panic!("{at} ({header}): no cell for {csv:?}"));
    // The CSV neutralises a formula-looking text with a leading '; the workbook keeps the text.
    let csv_text = csv
        .strip_prefix('\'')
        .filter(|t| t.starts_with(['=', '+', '-', '@', '\t', '\r']));
    match column_kind(header) {
        ColKind::Text => {
            assert!(
                is_text(c),
                "{at} ({header}): {csv:?} must be text, is {c:?}"
            );
            assert_eq!(c.v, csv_text.unwrap_or(csv), "{at} ({header})");
        }
        ColKind::Int if is_text(c) => {
            // Not a safe number (a word in a status column): the text, exact.
            assert!(
                csv.parse::<i64>().is_err() || csv.len() > 15 || csv.starts_with('0'),
                "{at}: {csv}"
            );
            assert_eq!(c.v, csv, "{at} ({header})");
        }
        ColKind::Int => assert_eq!(c.v, csv, "{at} ({header})"),
        ColKind::Money => {
            assert!(
                !is_text(c),
                "{at} ({header}): {csv} must be a number, is {c:?}"
            );
            assert_eq!(
                c.v.parse::<Decimal>().unwrap(),
                csv.parse::<Decimal>().unwrap(),
                "{at} ({header}): exact cents"
            );
            assert_eq!(book.formats[c.s], "0.00", "{at} ({header}): the 0.00 style");
        }
        ColKind::Time => {
            assert!(
                !is_text(c),
                "{at} ({header}): {csv} must be a date serial, is {c:?}"
            );
            let t = chrono::NaiveDateTime::parse_from_str(csv, "%Y-%m-%d %H:%M:%S%.f").unwrap();
            let (days, ms) = serial_of(t);
            let v: Decimal = c.v.parse().unwrap();
            assert_eq!(
                v.trunc(),
                Decimal::from(days),
                "{at} ({header}): the day of {csv}"
            );
            let got_ms = (v.fract() * Decimal::from(86_400_000)).round();
            assert_eq!(
                got_ms,
                Decimal::from(ms),
                "{at} ({header}): the time of {csv}"
            );
            let f = &book.formats[c.s];
            assert!(
                f.starts_with("yyyy-mm-dd hh:mm:ss"),
                "{at} ({header}): style {f}"
            );
        }
    }
}

/// Checks a sheet against the CSV of the same rows, cell by cell; returns the rows.
fn same_as_csv(book: &Book, sheet: &str, csv: &Path) -> Vec<BTreeMap<u32, Cell>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(csv)
        .unwrap();
    let want: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let got = rows(book, sheet);
    assert_eq!(got.len(), want.len(), "{sheet}: rows (header included)");
    let header: Vec<String> = want[0]
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    for (i, h) in header.iter().enumerate() {
        let c = &got[0][&(i as u32)];
        assert!(is_text(c) && &c.v == h, "header {i}: {c:?}");
    }
    for (ri, row) in want.iter().enumerate().skip(1) {
        for (ci, csv_cell) in row.iter().enumerate() {
            same_cell(
                book,
                &header[ci],
                csv_cell,
                got[ri].get(&(ci as u32)),
                &format!("{sheet} row {} col {}", ri + 1, ci + 1),
            );
        }
    }
    got
}

/// The header frozen (a pane below row 1) and an autofilter over `rows` rows.
fn frozen_and_filtered(book: &Book, sheet: &str, rows: usize, cols: usize) {
    let xml = book.xml(sheet);
    let view = &xml[xml.find("<sheetView").unwrap()..xml.find("</sheetView>").unwrap()];
    assert!(
        view.contains(
            "<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>"
        ),
        "{sheet}: {view}"
    );
    let last_col = char::from(b'A' + u8::try_from(cols - 1).unwrap());
    assert_eq!(autofilter(xml), format!("A1:{last_col}{rows}"), "{sheet}");
    assert!(xml.contains("<cols>"), "{sheet}: column widths");
}

async fn workspace(dir: &Path) -> Workspace {
    Workspace::open(&dir.join("ws.db")).await.unwrap()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn a_view_exported_to_xlsx_is_the_csv_typed_cell_by_cell() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = demo(dir.path()).await;
    let ws = workspace(dir.path()).await;
    for view in [
        View::Flows,
        View::Orders,
        View::Notify,
        View::Idempotency,
        View::Accounts,
    ] {
        let csv = dir.path().join(format!("{}.csv", view.table()));
        let xlsx = dir.path().join(format!("{}.xlsx", view.table()));
        let filter = Filter::default();
        let n_csv = payrecon::ops::export_view(
            &db,
            &ws,
            view,
            &filter,
            &csv,
            false,
            ExportFormat::Csv,
            None,
        )
        .await
        .unwrap();
        let n = payrecon::ops::export_view(
            &db,
            &ws,
            view,
            &filter,
            &xlsx,
            false,
            ExportFormat::Xlsx,
            None,
        )
        .await
        .unwrap();
        assert_eq!(n, n_csv, "{view:?}");
        let book = Book::open(&xlsx);
        assert_eq!(book.names(), vec![view.table()]);
        let got = same_as_csv(&book, view.table(), &csv);
        frozen_and_filtered(&book, view.table(), got.len(), view.header().len());
        // The accounts view may carry a mobile column: text, 11 digits kept.
        if let Some(m) = view.header().iter().position(|h| *h == "mobile") {
            let cell = got.iter().skip(1).find_map(|r| r.get(&(m as u32))).unwrap();
            assert!(is_text(cell) && cell.v.len() == 11, "{cell:?}");
        }
        // The console's path (counted, cancellable) writes the same cells.
        let slow = dir.path().join(format!("{}-console.xlsx", view.table()));
        let control = ExportControl::default();
        payrecon::ops::export_view(
            &db,
            &ws,
            view,
            &filter,
            &slow,
            false,
            ExportFormat::Xlsx,
            Some(&control),
        )
        .await
        .unwrap();
        assert_eq!(
            rows(&Book::open(&slow), view.table()),
            got,
            "{view:?}: console path"
        );
        if view == View::Flows {
            // The 28-digit id and the mobile: text cells, every digit.
            let row = got
                .iter()
                .find(|r| r.get(&3).is_some_and(|c| c.v == WECHAT_ID))
                .expect("the WeChat-style id as text");
            assert_eq!(row[&3].t, "inlineStr");
            assert_eq!(row[&7].v, MOBILE);
            assert_eq!(row[&7].t, "inlineStr");
            // The amount: a number with exactly its cents, styled 0.00.
            assert_eq!(row[&6].t, "");
            assert_eq!(row[&6].v, "12345678.91");
            assert_eq!(book.formats[row[&6].s], "0.00");
            // The time: a date serial with milliseconds, styled as a date-time.
            let (days, _) = serial_of(day().and_hms_opt(8, 0, 1).unwrap());
            assert!(row[&8].v.starts_with(&format!("{days}.")), "{:?}", row[&8]);
            assert_eq!(book.formats[row[&8].s], "yyyy-mm-dd hh:mm:ss.000");
            // Row ids and user ids are text: Excel would show a 12-digit
            // id as 1.23457E+11.
            assert_eq!(row[&0].t, "inlineStr");
            assert_eq!(row[&1].t, "inlineStr");
            assert_eq!(row[&1].v, "1");
        }
        if view == View::Orders {
            let row = got
                .iter()
                .find(|r| r.get(&1).is_some_and(|c| c.v == ALIPAY_BILL))
                .expect("the 28-digit bill number as text");
            assert!(is_text(&row[&1]));
            // A bind code of digits with a leading zero stays text, zero kept.
            assert!(
                is_text(&row[&3]) && row[&3].v == "00123456789",
                "{:?}",
                row[&3]
            );
            assert_eq!(row[&4].v, "0.1");
            assert_eq!(book.formats[row[&4].s], "0.00");
        }
    }
}

#[tokio::test]
async fn the_findings_queue_and_a_runs_workbook_are_typed_and_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, statements) = demo(dir.path()).await;
    let ws = workspace(dir.path()).await;
    let statement = statements
        .iter()
        .find(|p| p.display().to_string().contains("hfb-2026-11-20"))
        .unwrap()
        .clone();
    let opts = RunOptions::new(
        Some(Period::day(day())),
        vec![StatementInput {
            path: statement.clone(),
            format: payrecon::statement::Format::Hfb,
        }],
        db.now(),
    );
    let out = dir.path().join("run");
    let rec = reconcile_and_record(
        &db,
        &ws,
        &opts,
        serde_json::json!({"source": "test"}),
        &Outputs::Folder(out.clone()),
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(rec.output.status, RunStatus::Ok);
    assert!(!rec.output.findings.is_empty());

    // The run's workbook: a summary, then the breaks as findings.csv has them.
    let book = Book::open(&out.join("findings.xlsx"));
    assert_eq!(book.names(), vec!["摘要 Summary", "差异 Breaks"]);
    let breaks = same_as_csv(&book, "差异 Breaks", &out.join("findings.csv"));
    assert_eq!(breaks.len(), rec.output.findings.len() + 1);
    frozen_and_filtered(&book, "差异 Breaks", breaks.len(), 11);
    let summary = rows(&book, "摘要 Summary");
    let value = |label: &str| -> Cell {
        summary
            .iter()
            .find(|r| r.get(&0).is_some_and(|c| c.v == label))
            .and_then(|r| r.get(&1).cloned())
            .unwrap_or_else(|| panic!("no line {label}"))
    };
    assert_eq!(value("对账期间 Period").v, "2026-11-20");
    assert!(value("数据库 Database").v.contains("shop.db"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let risk = value("涉险金额 Amount at risk");
    assert_eq!(risk.t, "");
    assert_eq!(
        risk.v.parse::<Decimal>().unwrap(),
        json["amount_at_risk"]["total"]
            .as_str()
            .unwrap()
            .parse::<Decimal>()
            .unwrap()
    );
    assert_eq!(book.formats[risk.s], "0.00");
    let total: u64 = json["by_kind"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(value("差错合计 Findings in all").v, total.to_string());
    // Every kind found has its line (中文 English) with its count.
    for (kind, n) in json["by_kind"].as_object().unwrap() {
        let k = payrecon::recon::Kind::parse(kind).unwrap();
        assert_eq!(
            value(&format!("{} {}", k.name_zh(), k.name_en())).v,
            n.to_string()
        );
    }
    // The statement file is named on the summary.
    assert!(
        summary.iter().any(|r| r
            .get(&0)
            .is_some_and(|c| c.v == statement.display().to_string())),
        "the statement file on the summary"
    );

    // The findings queue, to .xlsx by its name, the same as its CSV.
    let filter = FindingFilter {
        database: Some(db.redacted_url()),
        ..FindingFilter::default()
    };
    let qcsv = dir.path().join("queue.csv");
    let qxlsx = dir.path().join("queue.xlsx");
    for p in [&qcsv, &qxlsx] {
        payrecon::export::findings::write_queue(
            &ws,
            &filter,
            QueueOrder::default(),
            None,
            p,
            false,
            "tester",
        )
        .await
        .unwrap();
    }
    let book = Book::open(&qxlsx);
    assert_eq!(book.names(), vec!["findings"]);
    let q = same_as_csv(&book, "findings", &qcsv);
    assert!(q.len() > 1);
    frozen_and_filtered(
        &book,
        "findings",
        q.len(),
        payrecon::export::findings::QUEUE_HEADER.len(),
    );
    // A bill number is text, an amount at risk a 0.00 number.
    let bill = q.iter().skip(1).find_map(|r| r.get(&4)).expect("a bill");
    assert!(is_text(bill));
    let at_risk = q.iter().skip(1).find_map(|r| r.get(&12)).unwrap();
    assert_eq!(book.formats[at_risk.s], "0.00");
}

#[tokio::test]
async fn a_failed_or_cancelled_export_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = demo(dir.path()).await;
    let ws = workspace(dir.path()).await;
    let listing = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // Cancelled half-way (the console's path): nothing under any name.
    let control = ExportControl::default();
    control
        .cancel
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let target = out_dir.join("flows.xlsx");
    let r = payrecon::ops::export_view(
        &db,
        &ws,
        View::Flows,
        &Filter::default(),
        &target,
        false,
        ExportFormat::Xlsx,
        Some(&control),
    )
    .await;
    assert!(
        matches!(r, Err(payrecon::ops::OpsError::Cancelled)),
        "{r:?}"
    );
    assert_eq!(listing(&out_dir), Vec::<String>::new());
    // A folder that does not exist: an error, no file.
    let nowhere = dir.path().join("missing").join("flows.xlsx");
    let r = payrecon::ops::export_view(
        &db,
        &ws,
        View::Flows,
        &Filter::default(),
        &nowhere,
        false,
        ExportFormat::Xlsx,
        None,
    )
    .await;
    assert!(r.is_err());
    assert!(!nowhere.exists());
    // Abandoned after some rows: nothing left, not even temporary files.
    let mut f = XlsxFile::create(&target, &["id", "trans_no"], "t").unwrap();
    f.row(["1", WECHAT_ID]).unwrap();
    OutFile::from(f).abandon();
    assert_eq!(listing(&out_dir), Vec::<String>::new());
    // A write that fails at the end (the target is a folder): an error, and
    // neither the target nor its partial file is a workbook.
    std::fs::create_dir(&target).unwrap();
    let mut f = XlsxFile::create(&target, &["id"], "t").unwrap();
    f.row(["1"]).unwrap();
    assert!(f.finish().is_err());
    assert_eq!(listing(&out_dir), vec!["flows.xlsx".to_owned()]);
    assert!(target.is_dir());
}

#[test]
fn beyond_a_sheets_rows_the_export_continues_on_the_next_sheet_with_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xlsx");
    // Three rows a sheet (header + 3 rows) instead of Excel's 1,048,576.
    let mut f = XlsxFile::create(&path, &["id", "trans_no", "trans_amount"], "trans_flow")
        .unwrap()
        .with_sheet_rows(4);
    for i in 1..=7 {
        f.row([i.to_string(), format!("{WECHAT_ID}{i}"), format!("{i}.05")])
            .unwrap();
    }
    assert_eq!(f.finish().unwrap(), 7);
    let book = Book::open(&path);
    assert_eq!(
        book.names(),
        vec!["trans_flow", "trans_flow (2)", "trans_flow (3)"]
    );
    let mut seen = 0;
    for (sheet, n) in [
        ("trans_flow", 3),
        ("trans_flow (2)", 3),
        ("trans_flow (3)", 1),
    ] {
        let r = rows(&book, sheet);
        assert_eq!(r.len(), n + 1, "{sheet}");
        assert_eq!(r[0][&1].v, "trans_no");
        frozen_and_filtered(&book, sheet, n + 1, 3);
        for row in &r[1..] {
            seen += 1;
            assert_eq!(row[&0].v, seen.to_string());
            assert_eq!(row[&1].v, format!("{WECHAT_ID}{seen}"));
            assert!(is_text(&row[&1]));
            assert_eq!(row[&2].v, format!("{seen}.05"));
        }
    }
    assert_eq!(seen, 7);
}

#[test]
fn values_that_do_not_fit_their_column_stay_exact_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.xlsx");
    let mut f = XlsxFile::create(
        &path,
        &[
            "user_id",
            "status",
            "trans_amount",
            "create_time",
            "mobile",
            "something_new",
        ],
        "odd",
    )
    .unwrap();
    f.row([
        "1234567890123456789",
        "done",
        "12345678901234567.89",
        "yesterday",
        MOBILE,
        "00042",
    ])
    .unwrap();
    f.row(["7", "2", "-0.01", "2026-11-20 23:59:59", "", "=1+2"])
        .unwrap();
    f.finish().unwrap();
    let book = Book::open(&path);
    let r = rows(&book, "odd");
    for (c, want) in [
        "1234567890123456789",
        "done",
        "12345678901234567.89",
        "yesterday",
        MOBILE,
        "00042",
    ]
    .iter()
    .enumerate()
    {
        let cell = &r[1][&(c as u32)];
        assert!(is_text(cell) && cell.v == *want, "{c}: {cell:?}");
    }
    assert_eq!(r[2][&0].v, "7");
    assert_eq!(r[2][&1].v, "2");
    assert!(!is_text(&r[2][&1]));
    assert_eq!(r[2][&2].v, "-0.01");
    assert_eq!(book.formats[r[2][&3].s], "yyyy-mm-dd hh:mm:ss");
    assert!(!r[2].contains_key(&4), "an empty cell is no cell");
    // A formula-looking text is a text cell, never a formula.
    assert!(is_text(&r[2][&5]) && r[2][&5].v == "=1+2");
    assert!(!book.xml("odd").contains("<f>"));
}

#[tokio::test]
async fn a_failed_rerun_sets_the_earlier_workbook_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = demo(dir.path()).await;
    let ws = workspace(dir.path()).await;
    let out = dir.path().join("run");
    let opts = RunOptions::new(Some(Period::day(day())), Vec::new(), db.now());
    let run = |cancel: bool| {
        let (db, ws, opts, out) = (&db, &ws, &opts, out.clone());
        async move {
            reconcile_and_record(
                db,
                ws,
                opts,
                serde_json::json!({}),
                &Outputs::Folder(out),
                false,
                &AtomicBool::new(cancel),
                &mut |_| {},
            )
            .await
            .unwrap()
        }
    };
    let first = run(false).await;
    assert_eq!(first.output.status, RunStatus::Ok);
    let book = std::fs::read(out.join("findings.xlsx")).unwrap();
    let second = run(true).await;
    assert_eq!(second.output.status, RunStatus::Cancelled);
    assert!(
        !out.join("findings.xlsx").exists(),
        "no workbook for a cancelled run"
    );
    assert_eq!(
        std::fs::read(out.join(format!("findings.before-run{}.xlsx", second.run_id))).unwrap(),
        book
    );
}

/// Every backend's export path (SQLite's reader, MySQL's text protocol,
/// PostgreSQL through sqlx) gives the same typed cells as its CSV: awkward
/// texts (formula-like, a comma, a quote, a newline), a negative amount,
/// NULLs, sub-second times, a 28-digit id and a mobile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_writes_the_csvs_cells_typed() {
    use payrecon::args;
    use support::{Backend, fresh_db};
    for backend in [Backend::Sqlite, Backend::MySql, Backend::Postgres] {
        let t = fresh_db(backend).await;
        let db = Db::connect(&t.url, &ConnectOptions::read_write())
            .await
            .unwrap();
        payrecon::db::migrate(&db).await.unwrap();
        let at =
            |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        for (uid, name, no, amt, memo, ts) in [
            (
                1,
                Some("王伟"),
                WECHAT_ID,
                Decimal::new(10050, 2),
                Some("=1+2"),
                "2026-11-20 00:00:00.000",
            ),
            (
                2,
                Some("-cmd|' /C calc'!A0"),
                "B,2",
                Decimal::new(-1250, 2),
                Some("say \"hi\"\nnext"),
                "2026-11-20 12:34:56.789",
            ),
            (
                3,
                None,
                "+86 138",
                Decimal::ZERO,
                Some(MOBILE),
                "2026-11-20 23:59:59.999",
            ),
        ] {
            db.execute(
                "INSERT INTO trans_flow (user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &args![uid, name.map(str::to_owned), no, 1i64, None::<String>, amt, memo.map(str::to_owned), at(ts), at(ts), 0i64],
            )
            .await
            .unwrap();
        }
        db.execute(
            "INSERT INTO recharge_order (agent_bill_no, user_id, bind_code, charge_amt, fee_amt, status, version, create_time, update_time) \
             VALUES ('4200001234202611201234567890', 1, '00123456789', '10.5', '0', 2, 1, '2026-11-20 00:00:00.123', '2026-11-20 00:00:01.000')",
            &[],
        )
        .await
        .unwrap();
        let ro = Db::connect(&t.url, &ConnectOptions::read_only())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path()).await;
        for view in [View::Flows, View::Orders, View::Accounts] {
            let csv = dir.path().join("v.csv");
            let xlsx = dir.path().join("v.xlsx");
            let filter = Filter::default();
            for (p, f) in [(&csv, ExportFormat::Csv), (&xlsx, ExportFormat::Xlsx)] {
                payrecon::ops::export_view(&ro, &ws, view, &filter, p, false, f, None)
                    .await
                    .unwrap();
            }
            let book = Book::open(&xlsx);
            let got = same_as_csv(&book, view.table(), &csv);
            if view == View::Flows {
                assert_eq!(got.len(), 4, "{backend:?}");
                assert!(
                    is_text(&got[1][&3]) && got[1][&3].v == WECHAT_ID,
                    "{backend:?}"
                );
                assert!(
                    is_text(&got[3][&7]) && got[3][&7].v == MOBILE,
                    "{backend:?}"
                );
                assert_eq!(got[2][&6].v, "-12.5", "{backend:?}");
            }
        }
    }
}

/// A text longer than Excel's cell limit (32,767 UTF-16 units, e.g. a huge
/// callback response) is cut there with a mark, and the workbook is written.
#[test]
fn a_text_beyond_excels_cell_limit_is_cut_with_a_mark_not_a_failed_export() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.xlsx");
    let mut f = XlsxFile::create(&path, &["id", "response_body"], "notify_log").unwrap();
    let long = "应答".repeat(20_000);
    f.row(["1".to_owned(), long.clone()]).unwrap();
    assert_eq!(f.finish().unwrap(), 1);
    let book = Book::open(&path);
    let r = rows(&book, "notify_log");
    let cell = &r[1][&1].v;
    assert!(cell.encode_utf16().count() <= 32_767, "{}", cell.len());
    assert!(cell.starts_with("应答应答"));
    assert!(
        cell.ends_with("the CSV has it whole]"),
        "{}",
        &cell[cell.len() - 60..]
    );
}
