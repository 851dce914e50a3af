//! Alipay business detail bill (业务明细, SPEC §5): GBK as downloaded (UTF-8,
//! with or without a BOM, once re-saved by Excel or WPS; the encoding is
//! detected and reported), `#` lines above and below the table, id fields
//! with a trailing tab, `交易` and `退款` rows (refunds negative).
//!
//! The reader locates its columns by header name: key 商户订单号, kind
//! 业务类型, amount 订单金额（元） for `交易` rows and −商家实收（元） for `退款`
//! rows (what actually went back), fee |服务费（元）|, time 完成时间 (else
//! 创建时间; a `退款` row's time is also its `refunded_at`), gateway id
//! 支付宝交易号 and, on `退款` rows, refund id 退款批次号/请求号. A `退款` row
//! whose 备注 says 撤销 is a revocation.
//!
//! The footer lines become the `declared` totals: `#交易合计：N笔，商家实收共X元…`
//! (or the older `#交易合计：N笔，交易金额共X元，优惠金额共…`, which totals
//! 订单金额 instead of 商家实收) and `#退款合计：M笔，商家实收退款共-Y元…` (or
//! the older `商家实收共-Y元`) give count N+M, amount X, refunds Y and M
//! refund rows; the rows' totals are computed the same way, over the column
//! the footer names. `#起始日期：[…]   终止日期：[…]` gives the
//! `declared_period` (an end at 00:00:00 is exclusive).

use super::hfb::{GatewayStatus, Line};
use super::read::{
    self, Collector, Comments, Decode, Entry, EntryKind, ImportReport, StatementError, Table,
    Totals,
};
use crate::money::format_amount;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;
use std::io::{self, Write};
use std::path::Path;

/// The 25-column header.
pub const HEADER: [&str; 25] = [
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
];

const THIS: (&str, &str) = ("alipay", "an Alipay business detail bill");

// ---------------------------------------------------------------------------
// Writing.

/// Encodes UTF-8 written to it as GBK; text GBK cannot hold is an error.
struct GbkWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> GbkWriter<W> {
    fn line(&mut self, text: &str) -> io::Result<()> {
        self.write_all(text.as_bytes())?;
        self.write_all(b"\r\n")
    }
}

impl<W: Write> Write for GbkWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            // A character cut at the end of this write: keep it for the next.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")),
        };
        let text = std::str::from_utf8(&self.pending[..valid])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        if unmappable {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("'{text}' cannot be written in GBK"),
            ));
        }
        self.inner.write_all(&bytes)?;
        self.pending.drain(..valid);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "text ends inside a character",
            ));
        }
        self.inner.flush()
    }
}

/// One table row of the bill.
struct Row<'a> {
    line: &'a Line,
    seq: usize,
    refund: bool,
}

impl Row<'_> {
    fn fields(&self) -> [String; 25] {
        let l = self.line;
        let time = l.paid_at.format("%Y-%m-%d %H:%M:%S").to_string();
        let zero = || "0.00".to_owned();
        let amt = format_amount(l.charge_amt);
        let received = if self.refund {
            format_amount(-l.charge_amt)
        } else {
            amt.clone()
        };
        let fee = if self.refund || l.fee_amt.is_zero() {
            zero()
        } else {
            format_amount(-l.fee_amt)
        };
        let note = if self.refund && l.status == GatewayStatus::Revoked {
            "撤销"
        } else {
            ""
        };
        [
            format!("{}22001400{:012}\t", l.paid_at.format("%Y%m%d"), self.seq),
            format!("{}\t", l.agent_bill_no),
            if self.refund { "退款" } else { "交易" }.to_owned(),
            "账户充值".to_owned(),
            time.clone(),
            time,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "138****0000".to_owned(),
            amt,
            received,
            zero(),
            zero(),
            zero(),
            zero(),
            zero(),
            String::new(),
            zero(),
            zero(),
            if self.refund {
                format!("R{}\t", l.agent_bill_no)
            } else {
                String::new()
            },
            fee,
            zero(),
            note.to_owned(),
        ]
    }
}

/// Writes an Alipay business detail bill for `lines`, in GBK with CRLF line
/// ends. Each line is a `交易` row; a `REFUND` or `REVOKED` line is followed
/// by a negative `退款` row (备注 `撤销` for `REVOKED`). With `truncate`, only
/// the first that many table rows are written while the `#` footer still
/// totals all of them — what a cut-short download looks like. Text GBK
/// cannot hold is an `InvalidData` error. The file is written to a
/// temporary name and renamed, so a failed write leaves nothing behind.
pub fn write_file(path: &Path, lines: &[Line], truncate: Option<usize>) -> io::Result<()> {
    let tmp = path.with_extension("csv.partial");
    let result = write_to(&tmp, lines, truncate);
    if result.is_err() {
        // Best effort: the error that matters is the write's.
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    std::fs::rename(&tmp, path)
}

fn write_to(tmp: &Path, lines: &[Line], truncate: Option<usize>) -> io::Result<()> {
    let f = std::fs::File::create(tmp)?;
    let mut out = GbkWriter {
        inner: io::BufWriter::new(f),
        pending: Vec::new(),
    };
    let day = |t: Option<chrono::NaiveDateTime>| {
        t.map(|t| format!("[{}]", t.format("%Y年%m月%d日 00:00:00")))
            .unwrap_or_else(|| "[]".to_owned())
    };
    let first = lines.iter().map(|l| l.paid_at).min();
    let last = lines.iter().map(|l| l.paid_at).max();
    let end = last.map(|t| t + chrono::Duration::days(1));
    out.line("#支付宝业务明细查询")?;
    out.line("#账号：[20881234567890120156]")?;
    out.line(&format!(
        "#起始日期：{}   终止日期：{}",
        day(first),
        day(end)
    ))?;
    out.line("#-----------------------------------------业务明细列表----------------------------------------")?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(HEADER)?;
    let (mut trades, mut refunds) = (0u64, 0u64);
    let (mut received, mut refunded, mut fees) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut written = 0usize;
    for (i, l) in lines.iter().enumerate() {
        let refund = matches!(l.status, GatewayStatus::Refund | GatewayStatus::Revoked);
        trades += 1;
        received += l.charge_amt;
        fees += l.fee_amt;
        if refund {
            refunds += 1;
            refunded += l.charge_amt;
        }
        let rows = [
            Some(Row {
                line: l,
                seq: i + 1,
                refund: false,
            }),
            refund.then_some(Row {
                line: l,
                seq: i + 1,
                refund: true,
            }),
        ];
        for row in rows.iter().flatten() {
            if truncate.is_none_or(|k| written < k) {
                w.write_record(row.fields())?;
            }
            written += 1;
        }
    }
    let mut out = w.into_inner().map_err(|e| e.into_error())?;
    out.line("#-----------------------------------------业务明细列表结束------------------------------------")?;
    out.line(&format!(
        "#交易合计：{trades}笔，商家实收共{}元，商家优惠共0.00元，服务费共{}元",
        format_amount(received),
        negated(fees)
    ))?;
    out.line(&format!(
        "#退款合计：{refunds}笔，商家实收共{}元，商家优惠共0.00元",
        negated(refunded)
    ))?;
    out.line(&format!(
        "#导出时间：{}",
        end.map(|t| format!("[{}]", t.format("%Y年%m月%d日 09:00:00")))
            .unwrap_or_else(|| "[]".to_owned())
    ))?;
    out.flush()
}

/// `-x` formatted, without a negative zero.
fn negated(x: Decimal) -> String {
    if x.is_zero() {
        format_amount(Decimal::ZERO)
    } else {
        format_amount(-x)
    }
}

// ---------------------------------------------------------------------------
// Reading.

/// Where the columns the reader uses are.
struct Columns {
    key: usize,
    kind: usize,
    order: Option<usize>,
    received: usize,
    fee: Option<usize>,
    finished: Option<usize>,
    created: Option<usize>,
    note: Option<usize>,
    /// 支付宝交易号.
    gateway_id: Option<usize>,
    /// 退款批次号/请求号.
    refund_id: Option<usize>,
}

/// A header name with either full-width or ASCII parentheses.
fn col(t: &Table, name: &str) -> Option<usize> {
    t.column(name)
        .or_else(|| t.column(&name.replace('（', "(").replace('）', ")")))
        .or_else(|| t.column(name.trim_end_matches("（元）")))
}

/// Reads an Alipay bill (see [`read_statement`](super::read_statement)).
pub(crate) fn read(
    path: &Path,
    on_entry: &mut dyn FnMut(Entry),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    let mut t = Table::open(path, Decode::Auto, Comments::Capture, on_bytes)?;
    let Some(header_line) = t.next()? else {
        return Err(t.no_header());
    };
    t.take_header();
    let [key, kind] = t.require(header_line, ["商户订单号", "业务类型"], THIS)?;
    let Some(received) = col(&t, "商家实收（元）") else {
        return Err(t.header_error(header_line, THIS, &["商家实收（元）"]));
    };
    let cols = Columns {
        key,
        kind,
        order: col(&t, "订单金额（元）"),
        received,
        fee: col(&t, "服务费（元）"),
        finished: t.column("完成时间"),
        created: t.column("创建时间"),
        note: t.column("备注"),
        gateway_id: t.column("支付宝交易号"),
        refund_id: t.column("退款批次号/请求号"),
    };
    let mut c = Collector::new(path, "alipay", on_entry);
    let mut sums = RowSums::default();
    while let Some(line) = t.next()? {
        match row(&t, &cols, line) {
            Ok((e, received)) => {
                let totals = &mut c.report.computed;
                totals.count += 1;
                match e.kind {
                    EntryKind::Payment => {
                        totals.amount += received;
                        sums.ordered += e.amount;
                    }
                    EntryKind::Refund => {
                        totals.refund_amount -= received;
                        sums.refunds += 1;
                    }
                }
                c.entry(e);
            }
            Err(reason) => c.error(line, reason),
        }
    }
    let (above, footer): (Vec<_>, Vec<_>) = t
        .take_comments()
        .into_iter()
        .partition(|(line, _)| *line < header_line);
    c.report.declared_period = declared_period(&above);
    footer_totals(&footer, &sums, &mut c);
    let encoding = t.encoding();
    c.report.layout = Some(format!("Alipay business detail bill ({encoding})"));
    Ok(c.finish(encoding))
}

/// What the rows add up to besides [`Totals`]: the footer may total
/// 订单金额 instead of 商家实收, and counts the refund rows apart.
#[derive(Default)]
struct RowSums {
    /// 订单金额 of the `交易` rows.
    ordered: Decimal,
    /// `退款` rows.
    refunds: u64,
}

/// The business days a `#起始日期：[…]   终止日期：[…]` line declares, first
/// and last inclusive: an end at 00:00:00 is exclusive (the bill of
/// 2024-03-05 runs to 2024-03-06 00:00:00), any other end includes its day.
pub(crate) fn declared_period(comments: &[(u64, String)]) -> Option<(NaiveDate, NaiveDate)> {
    let text = comments
        .iter()
        .map(|(_, t)| t.as_str())
        .find(|t| t.contains("起始日期"))?;
    let start = bracketed_time(text.split_once("起始日期")?.1)?;
    let end = bracketed_time(text.split_once("终止日期")?.1)?;
    let last = if end.time() == NaiveTime::MIN {
        end.date().pred_opt()?
    } else {
        end.date()
    };
    Some((start.date(), last.max(start.date())))
}

/// The time in the first `[…]` of `text` (`2024年03月05日 00:00:00`,
/// `2024-03-05 00:00:00` or a bare date, read as its day's start).
fn bracketed_time(text: &str) -> Option<NaiveDateTime> {
    let inner = text.split_once('[')?.1.split_once(']')?.0.trim();
    let inner = inner.replace('：', ":");
    const TIMES: [&str; 3] = [
        "%Y年%m月%d日 %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
    ];
    const DAYS: [&str; 3] = ["%Y年%m月%d日", "%Y-%m-%d", "%Y/%m/%d"];
    TIMES
        .iter()
        .find_map(|l| NaiveDateTime::parse_from_str(&inner, l).ok())
        .or_else(|| {
            DAYS.iter()
                .find_map(|l| NaiveDate::parse_from_str(&inner, l).ok())
                .map(|d| d.and_time(NaiveTime::MIN))
        })
}

/// One row: the entry and its signed 商家实收.
fn row(t: &Table, cols: &Columns, line: u64) -> Result<(Entry, Decimal), String> {
    t.check_width()?;
    let agent_bill_no = t.field(cols.key)?;
    if agent_bill_no.is_empty() {
        return Err("商户订单号 is empty".to_owned());
    }
    let received = read::amount("商家实收（元）", t.field(cols.received)?)?;
    let kind_text = t.field(cols.kind)?;
    let (kind, status, amount) = match kind_text {
        "交易" => {
            if received.is_sign_negative() && !received.is_zero() {
                return Err(format!("a 交易 row with a negative 商家实收 {received}"));
            }
            let amount = match cols.order {
                Some(i) => read::non_negative("订单金额（元）", t.field(i)?)?,
                None => received,
            };
            (EntryKind::Payment, GatewayStatus::Success, amount)
        }
        "退款" => {
            if received.is_sign_positive() && !received.is_zero() {
                return Err(format!("a 退款 row with a positive 商家实收 {received}"));
            }
            let revoked = cols
                .note
                .and_then(|i| t.get(i))
                .is_some_and(|n| n.contains("撤销"));
            let status = if revoked {
                GatewayStatus::Revoked
            } else {
                GatewayStatus::Refund
            };
            (EntryKind::Refund, status, -received)
        }
        other => return Err(format!("业务类型 '{other}' is neither 交易 nor 退款")),
    };
    let fee = match cols.fee.map(|i| t.field(i)).transpose()? {
        Some(f) if !f.is_empty() => Some(read::exact("服务费（元）", f)?.abs()),
        _ => None,
    };
    let time_text = [cols.finished, cols.created]
        .into_iter()
        .flatten()
        .filter_map(|i| t.get(i))
        .find(|s| !s.is_empty());
    let paid_at = time_text.map(|s| read::time("完成时间", s)).transpose()?;
    let entry = Entry {
        line,
        agent_bill_no: agent_bill_no.to_owned(),
        kind,
        status,
        amount,
        fee,
        bind_code: None,
        paid_at,
        refunded_at: paid_at.filter(|_| kind == EntryKind::Refund),
        gateway_id: nonempty(cols.gateway_id.and_then(|i| t.get(i))),
        refund_id: nonempty(
            cols.refund_id
                .filter(|_| kind == EntryKind::Refund)
                .and_then(|i| t.get(i)),
        ),
        gateway_refund_id: None,
        rate: None,
    };
    Ok((entry, received))
}

/// An id field, owned, `None` when absent or empty.
fn nonempty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Reads `N笔` from a footer line after `label`; returns it and the rest.
pub(crate) fn footer_count<'a>(text: &'a str, label: &str) -> Result<(u64, &'a str), String> {
    let rest = text
        .split_once(label)
        .map(|(_, r)| r.trim_start_matches(['：', ':', ' ']))
        .unwrap_or_default();
    rest.split_once('笔')
        .and_then(|(n, r)| Some((n.trim().parse::<u64>().ok()?, r)))
        .ok_or_else(|| format!("cannot read the count (N笔) in '{text}'"))
}

/// The amount written between the first of `keys` found in `rest` and the
/// next `元` (thousands separators allowed); the key found with it.
pub(crate) fn footer_amount(
    text: &str,
    rest: &str,
    keys: &[&'static str],
) -> Result<(&'static str, Decimal), String> {
    let Some((key, after)) = keys
        .iter()
        .find_map(|k| rest.split_once(k).map(|(_, a)| (*k, a)))
    else {
        return Err(format!(
            "cannot read {}…元 in '{text}'",
            keys.join("…元 or ")
        ));
    };
    let amount_text = after
        .split_once('元')
        .map(|(a, _)| a.trim().replace(',', ""))
        .ok_or_else(|| format!("cannot read {key}…元 in '{text}'"))?;
    Ok((key, read::amount(key, &amount_text)?))
}

const TRADE_KEYS: [&str; 2] = ["商家实收共", "交易金额共"];
const REFUND_KEYS: [&str; 3] = ["商家实收退款共", "商家实收共", "退款金额共"];

fn footer_totals(footer: &[(u64, String)], sums: &RowSums, c: &mut Collector<'_>) {
    let mut trades = None;
    let mut refunds = None;
    for (line, text) in footer {
        let parsed = if text.contains("交易合计") {
            footer_count(text, "交易合计")
                .and_then(|(n, rest)| Ok((n, footer_amount(text, rest, &TRADE_KEYS)?)))
                .map(|t| trades = Some(t))
        } else if text.contains("退款合计") {
            footer_count(text, "退款合计")
                .and_then(|(n, rest)| Ok((n, footer_amount(text, rest, &REFUND_KEYS)?.1)))
                .map(|r| refunds = Some(r))
        } else {
            Ok(())
        };
        if let Err(reason) = parsed {
            c.footer_error(*line, reason);
            return;
        }
    }
    let Some((count, (key, amount))) = trades else {
        return;
    };
    if key == "交易金额共" {
        // The older footer totals what the orders were, not what was received.
        c.report.computed.amount = sums.ordered;
    }
    let (refund_count, refund_amount) = match refunds {
        Some((n, a)) => {
            c.report.computed.refund_count = Some(sums.refunds);
            (Some(n), a.abs())
        }
        None => (None, Decimal::ZERO),
    };
    c.report.declared = Some(Totals {
        count: count + refund_count.unwrap_or(0),
        amount,
        refund_amount,
        refund_count,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::read::{Format, RowError, read_statement};
    use chrono::NaiveDate;
    use std::path::PathBuf;

    fn line(bill: &str, cents: i64, status: GatewayStatus, minute: u32) -> Line {
        Line {
            agent_bill_no: bill.to_owned(),
            bind_code: format!("BIND{minute}"),
            charge_amt: Decimal::new(cents, 2),
            fee_amt: Decimal::ZERO,
            status,
            paid_at: NaiveDate::from_ymd_opt(2024, 3, 5)
                .unwrap()
                .and_hms_opt(10, minute, 7)
                .unwrap(),
        }
    }

    fn sample() -> Vec<Line> {
        vec![
            line("CHARGE20240305100000001", 10000, GatewayStatus::Success, 0),
            line("CHARGE20240305100100002", 1234567, GatewayStatus::Refund, 1),
            line("充值单号-测试-003", 1, GatewayStatus::Success, 2),
            line("CHARGE20240305100300004", 99999, GatewayStatus::Revoked, 3),
            line("CHARGE20240305100400005", 5050, GatewayStatus::Success, 4),
        ]
    }

    fn read_all(path: &Path) -> Result<(ImportReport, Vec<Entry>), StatementError> {
        let mut got = Vec::new();
        let r = read_statement(path, &Format::Alipay, |e| got.push(e))?;
        Ok((r, got))
    }

    fn write(
        dir: &tempfile::TempDir,
        name: &str,
        lines: &[Line],
        truncate: Option<usize>,
    ) -> PathBuf {
        let p = dir.path().join(name);
        write_file(&p, lines, truncate).unwrap();
        p
    }

    #[test]
    fn round_trip_in_gbk() {
        let dir = tempfile::tempdir().unwrap();
        let lines = sample();
        let p = write(&dir, "alipay.csv", &lines, None);
        let bytes = std::fs::read(&p).unwrap();
        assert!(std::str::from_utf8(&bytes).is_err(), "the file must be GBK");
        assert!(!p.with_extension("csv.partial").exists());
        let (r, got) = read_all(&p).unwrap();
        assert_eq!(r.encoding, read::Encoding::Gbk);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        // One 交易 row per line, one 退款 row more per refunded/revoked line.
        assert_eq!(got.len(), 7);
        assert_eq!(r.entries, 7);
        let payments: Vec<&Entry> = got
            .iter()
            .filter(|e| e.kind == EntryKind::Payment)
            .collect();
        assert_eq!(payments.len(), lines.len());
        for (l, e) in lines.iter().zip(&payments) {
            assert_eq!(e.agent_bill_no, l.agent_bill_no);
            assert_eq!(e.amount, l.charge_amt);
            assert_eq!(e.status, GatewayStatus::Success);
            assert_eq!(e.paid_at, Some(l.paid_at));
        }
        let refunds: Vec<&Entry> = got.iter().filter(|e| e.kind == EntryKind::Refund).collect();
        assert_eq!(refunds.len(), 2);
        assert_eq!(refunds[0].agent_bill_no, lines[1].agent_bill_no);
        assert_eq!(refunds[0].amount, Decimal::new(1234567, 2));
        assert_eq!(refunds[0].status, GatewayStatus::Refund);
        assert_eq!(refunds[1].status, GatewayStatus::Revoked);
        // Chinese survives GBK both ways.
        assert_eq!(got[3].agent_bill_no, "充值单号-测试-003");
        // Physical lines: 4 # lines, the header on line 5, the first row on 6.
        assert_eq!(
            got.iter().map(|e| e.line).collect::<Vec<_>>(),
            [6, 7, 8, 9, 10, 11, 12]
        );
        assert_eq!(r.totals_match(), Some(true));
        assert_eq!(r.totals_mismatch_reason(), None);
        let d = r.declared.unwrap();
        assert_eq!(d.count, 7);
        assert_eq!(
            d.amount,
            Decimal::new(10000 + 1234567 + 1 + 99999 + 5050, 2)
        );
        assert_eq!(d.refund_amount, Decimal::new(1234567 + 99999, 2));
        assert_eq!(r.first_paid_at, Some(lines[0].paid_at));
        assert_eq!(r.last_paid_at, Some(lines[4].paid_at));
    }

    #[test]
    fn truncated_rows_with_the_footer_intact_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "cut.csv", &sample(), Some(4));
        let (r, got) = read_all(&p).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(r.totals_match(), Some(false));
        let why = r.totals_mismatch_reason().unwrap();
        assert!(
            why.starts_with("footer says 7 trades totalling 13496.17, rows give 4 totalling"),
            "{why}"
        );
        assert!(why.contains("refunds"), "{why}");
    }

    #[test]
    fn footer_cut_off_is_a_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "nofooter.csv", &sample(), None);
        let bytes = std::fs::read(&p).unwrap();
        // Keep the # lines above and the table; drop the 4 # lines below it.
        let text = encoding_rs::GBK.decode(&bytes).0.into_owned();
        let kept: Vec<&str> = text.split_inclusive("\r\n").collect();
        let cut: String = kept[..kept.len() - 4].concat();
        std::fs::write(&p, encoding_rs::GBK.encode(&cut).0).unwrap();
        let (r, got) = read_all(&p).unwrap();
        assert_eq!(got.len(), 7);
        assert_eq!(r.declared, None);
        assert_eq!(r.totals_match(), Some(false));
        let why = r.totals_mismatch_reason().unwrap();
        assert!(why.contains("footer totals are missing"), "{why}");
    }

    #[test]
    fn bad_rows_are_reported_with_their_physical_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "bad.csv", &sample(), None);
        let text = encoding_rs::GBK
            .decode(&std::fs::read(&p).unwrap())
            .0
            .into_owned();
        let text = text
            .replace(",100.00,100.00,", ",12.3.4,12.3.4,")
            .replace(",0.01,0.01,", ",abc,abc,")
            .replace(",50.50,50.50,", ",1.005,1.005,")
            .replace("退款,账户充值", "其他,账户充值");
        std::fs::write(&p, encoding_rs::GBK.encode(&text).0).unwrap();
        let (r, got) = read_all(&p).unwrap();
        let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [6, 8, 9, 11, 12], "{:?}", r.errors);
        assert!(
            r.errors[0].reason.contains("'12.3.4' is not an amount"),
            "{:?}",
            r.errors[0]
        );
        assert!(r.errors[2].reason.contains("abc"));
        assert!(r.errors[1].reason.contains("业务类型 '其他'"));
        assert!(r.errors[4].reason.contains("more than two decimal places"));
        assert_eq!(got.len(), 2);
        assert_eq!(r.totals_match(), Some(false));
        assert!(
            r.totals_mismatch_reason()
                .unwrap()
                .contains("5 rows could not be read")
        );
    }

    #[test]
    fn utf8_file_of_another_format_is_named_not_called_misencoded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wx.csv");
        crate::statement::wechat::write_file(&p, &sample(), None).unwrap();
        let e = read_all(&p).unwrap_err();
        assert!(matches!(e, StatementError::Header { line: 1, .. }), "{e}");
        assert!(e.to_string().contains("give --format wechat"), "{e}");
    }

    /// A bill as Alipay writes it today, as text.
    const BILL: &str = "#支付宝业务明细查询\r\n\
        #账号：[20881234567890120156]\r\n\
        #起始日期：[2024年03月05日 00:00:00]   终止日期：[2024年03月06日 00:00:00]\r\n\
        #-----------------------------------------业务明细列表----------------------------------------\r\n\
        支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r\n\
        2024030522001400000001\t,CHARGE001\t,交易,账户充值,2024-03-05 10:00:07,2024-03-05 10:00:09,,,,,138****0000,0.05,0.04,0.01,0.00,0.00,0.00,0.00,,0.00,0.00,,0.00,0.00,\r\n\
        2024030522001400000002\t,CHARGE002\t,交易,账户充值,2024-03-05 11:00:07,2024-03-05 11:00:09,,,,,138****0001,0.03,0.03,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,0.00,0.00,\r\n\
        2024030522001400000002\t,CHARGE002\t,退款,账户充值,2024-03-05 11:00:07,2024-03-05 15:30:00,,,,,138****0001,0.03,-0.03,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,R1\t,0.00,0.00,\r\n\
        #-----------------------------------------业务明细列表结束------------------------------------\r\n\
        #交易合计：2笔，商家实收共0.07元，商家优惠共0.00元\r\n\
        #退款合计：1笔，商家实收退款共-0.03元，商家优惠退款共0.00元\r\n\
        #导出时间：[2024年03月06日 09:00:00]\r\n";

    fn read_bytes(bytes: &[u8]) -> (ImportReport, Vec<Entry>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bill.csv");
        std::fs::write(&p, bytes).unwrap();
        read_all(&p).unwrap()
    }

    #[test]
    fn encoding_is_detected_and_named() {
        let gbk = encoding_rs::GBK.encode(BILL).0.into_owned();
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(BILL.as_bytes());
        for (bytes, encoding, layout) in [
            (
                gbk,
                read::Encoding::Gbk,
                "Alipay business detail bill (GBK)",
            ),
            (
                BILL.as_bytes().to_vec(),
                read::Encoding::Utf8,
                "Alipay business detail bill (UTF-8)",
            ),
            (
                bom,
                read::Encoding::Utf8Bom,
                "Alipay business detail bill (UTF-8 with BOM)",
            ),
        ] {
            let (r, got) = read_bytes(&bytes);
            assert!(r.errors.is_empty(), "{layout}: {:?}", r.errors);
            assert_eq!(r.encoding, encoding);
            assert_eq!(r.layout.as_deref(), Some(layout));
            assert_eq!(got.len(), 3, "{layout}");
            // Trailing tabs dropped from the ids.
            assert_eq!(got[0].agent_bill_no, "CHARGE001");
            assert_eq!(got[0].gateway_id.as_deref(), Some("2024030522001400000001"));
            assert_eq!((&got[0].refund_id, got[0].rate), (&None, None));
            assert_eq!(got[2].refund_id.as_deref(), Some("R1"));
            assert_eq!(got[2].gateway_id.as_deref(), Some("2024030522001400000002"));
            assert_eq!(got[2].gateway_refund_id, None);
            assert_eq!(
                r.totals_match(),
                Some(true),
                "{layout}: {:?}",
                r.totals_mismatch_reason()
            );
            let d = r.declared.unwrap();
            assert_eq!(
                (d.count, d.amount, d.refund_amount, d.refund_count),
                (3, Decimal::new(7, 2), Decimal::new(3, 2), Some(1))
            );
        }
    }

    #[test]
    fn declared_period_end_at_midnight_is_exclusive() {
        let (r, got) = read_bytes(BILL.as_bytes());
        let day = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        assert_eq!(r.declared_period, Some((day, day)));
        assert_eq!(r.business_period(), Some((day, day)));
        // A refund row's own time is its refund time.
        let refund = &got[2];
        assert_eq!(refund.kind, EntryKind::Refund);
        assert_eq!(
            refund.refunded_at,
            Some(day.and_hms_opt(15, 30, 0).unwrap())
        );
        assert_eq!(got[0].refunded_at, None);
        let inclusive = BILL.replace(
            "终止日期：[2024年03月06日 00:00:00]",
            "终止日期：[2024年03月07日 23:59:59]",
        );
        let (r, _) = read_bytes(inclusive.as_bytes());
        let last = NaiveDate::from_ymd_opt(2024, 3, 7).unwrap();
        assert_eq!(r.declared_period, Some((day, last)));
        let missing = BILL.replace("#起始日期", "#日期");
        let (r, _) = read_bytes(missing.as_bytes());
        assert_eq!(r.declared_period, None);
        assert_eq!(r.business_period(), Some((day, day)), "from the rows");
    }

    #[test]
    fn older_footer_wordings() {
        // 交易金额 totals 订单金额 (0.05 + 0.03), not 商家实收 (0.04 + 0.03).
        let older = BILL
            .replace(
                "#交易合计：2笔，商家实收共0.07元，商家优惠共0.00元",
                "#交易合计：2笔，交易金额共0.08元，优惠金额共0.00元",
            )
            .replace(
                "商家实收退款共-0.03元，商家优惠退款共0.00元",
                "商家实收共-0.03元，商家优惠共0.00元",
            );
        let (r, _) = read_bytes(older.as_bytes());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.computed.amount, Decimal::new(8, 2));
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
        // The same wording with the received total instead is caught.
        let wrong = older.replace("交易金额共0.08元", "交易金额共0.07元");
        let (r, _) = read_bytes(wrong.as_bytes());
        assert_eq!(
            r.totals_mismatch_reason().as_deref(),
            Some("footer says 3 trades totalling 0.07, rows give 3 totalling 0.08")
        );
        // A refund row missing from the table is named by count.
        let cut: String = BILL
            .split_inclusive("\r\n")
            .filter(|l| !l.contains(",退款,"))
            .collect();
        let (r, _) = read_bytes(cut.as_bytes());
        let why = r.totals_mismatch_reason().unwrap();
        assert!(why.ends_with("refund rows: footer 1, rows 0"), "{why}");
    }

    #[test]
    fn gbk_table_of_another_format_is_a_header_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.csv");
        let text = "#支付宝\r\nagent_bill_no,bind_code,charge_amt,fee_amt,status,paid_at\r\n";
        std::fs::write(&p, encoding_rs::GBK.encode(text).0).unwrap();
        let e = read_all(&p).unwrap_err();
        assert!(matches!(e, StatementError::Header { line: 2, .. }), "{e}");
        assert!(e.to_string().contains("give --format hfb"), "{e}");
        std::fs::write(
            &p,
            encoding_rs::GBK
                .encode("#支付宝业务明细查询\r\n#账号：[1]\r\n")
                .0,
        )
        .unwrap();
        let e = read_all(&p).unwrap_err();
        assert!(e.to_string().contains("only # lines"), "{e}");
    }

    #[test]
    fn unreadable_footer_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "f.csv", &sample(), None);
        let text = encoding_rs::GBK
            .decode(&std::fs::read(&p).unwrap())
            .0
            .into_owned();
        let text = text.replace("#交易合计：5笔", "#交易合计：五笔");
        std::fs::write(&p, encoding_rs::GBK.encode(&text).0).unwrap();
        let (r, _) = read_all(&p).unwrap();
        assert_eq!(r.declared, None);
        assert_eq!(r.errors.len(), 1);
        let RowError { line, reason } = &r.errors[0];
        assert_eq!(*line, 14);
        assert!(
            reason.starts_with("footer: cannot read the count"),
            "{reason}"
        );
        let why = r.totals_mismatch_reason().unwrap();
        assert!(why.contains("could not be read (line 14"), "{why}");
    }

    #[test]
    fn text_outside_gbk_is_refused_by_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        let lines = [line("CHARGE🙂", 100, GatewayStatus::Success, 0)];
        let e = write_file(&p, &lines, None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(!p.exists());
        assert!(!p.with_extension("csv.partial").exists());
    }
}
