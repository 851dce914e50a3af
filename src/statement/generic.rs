//! Any CSV statement, read through the user's [`GenericMapping`] (SPEC §5).
//!
//! The encoding is the mapping's, or detected: a UTF-8 BOM, else the first
//! line with non-ASCII bytes decides (valid UTF-8, else GBK). Fields are
//! trimmed (and a WeChat-style leading backtick dropped); lines starting
//! with `#` are skipped, so an Alipay bill saved as UTF-8 reads too. A
//! negative amount is a refund (kind [`EntryKind::Refund`], positive
//! amount). There is no footer, so `declared` is `None`.

use super::hfb::GatewayStatus;
use super::read::{
    self, Collector, Comments, Decode, Entry, EntryKind, GenericMapping, ImportReport,
    StatementError, Table,
};
use std::path::Path;

const THIS: (&str, &str) = ("generic", "the generic statement the mapping describes");

/// The status words the generic reader understands.
pub fn status_from_word(word: &str) -> Option<GatewayStatus> {
    match word.trim().to_ascii_uppercase().as_str() {
        "SUCCESS" | "TRADE_SUCCESS" | "成功" | "支付成功" => Some(GatewayStatus::Success),
        "REFUND" | "退款" | "已退款" => Some(GatewayStatus::Refund),
        "REVOKED" | "CLOSED" | "撤销" | "已撤销" => Some(GatewayStatus::Revoked),
        _ => None,
    }
}

struct Columns {
    key: usize,
    amount: usize,
    status: Option<usize>,
    time: Option<usize>,
    width: usize,
}

/// Reads a generic CSV (see [`read_statement`](super::read_statement)).
pub(crate) fn read(
    path: &Path,
    m: &GenericMapping,
    on_entry: &mut dyn FnMut(Entry),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    let mut t = Table::open(
        path,
        Decode::from_encoding(m.encoding),
        Comments::Skip,
        on_bytes,
    )?;
    let Some(header_line) = t.next()? else {
        return Err(t.no_header());
    };
    t.take_header();
    let mut wanted: Vec<&str> = vec![m.key.trim(), m.amount.trim()];
    wanted.extend(m.status.as_deref().map(str::trim));
    wanted.extend(m.time.as_deref().map(str::trim));
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|n| t.column(n).is_none())
        .collect();
    if !missing.is_empty() {
        let quoted: Vec<String> = missing.iter().map(|n| format!("'{n}'")).collect();
        let quoted: Vec<&str> = quoted.iter().map(String::as_str).collect();
        return Err(t.header_error(header_line, THIS, &quoted));
    }
    let find = |n: &str| t.column(n.trim());
    let (Some(key), Some(amount)) = (find(&m.key), find(&m.amount)) else {
        return Err(t.header_error(header_line, THIS, &[m.key.as_str(), m.amount.as_str()]));
    };
    let cols = Columns {
        key,
        amount,
        status: m.status.as_deref().and_then(find),
        time: m.time.as_deref().and_then(find),
        width: t.header.len(),
    };
    let names = (
        m.key.trim(),
        m.amount.trim(),
        m.status.as_deref(),
        m.time.as_deref(),
    );
    let mut c = Collector::new(path, "generic", on_entry);
    while let Some(line) = t.next()? {
        match row(&t, &cols, names, line) {
            Ok(e) => {
                let totals = &mut c.report.computed;
                totals.count += 1;
                match e.kind {
                    EntryKind::Payment => totals.amount += e.amount,
                    EntryKind::Refund => totals.refund_amount += e.amount,
                }
                c.entry(e);
            }
            Err(reason) => c.error(line, reason),
        }
    }
    Ok(c.finish(t.encoding()))
}

fn row(
    t: &Table,
    cols: &Columns,
    (key_name, amount_name, status_name, time_name): (&str, &str, Option<&str>, Option<&str>),
    line: u64,
) -> Result<Entry, String> {
    let needed = [Some(cols.key), Some(cols.amount), cols.status, cols.time]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
    if t.record.len() <= needed {
        return Err(format!(
            "{} fields, the header has {}",
            t.record.len(),
            cols.width
        ));
    }
    let key = t.field(cols.key)?;
    if key.is_empty() {
        return Err(format!("{key_name} is empty"));
    }
    let signed = read::amount(amount_name, t.field(cols.amount)?)?;
    let refund = signed.is_sign_negative() && !signed.is_zero();
    let status = match cols.status {
        Some(i) => {
            let word = t.field(i)?;
            let name = status_name.unwrap_or("status");
            status_from_word(word).ok_or_else(|| {
                if word.is_empty() {
                    format!("{name} is empty")
                } else {
                    format!(
                        "{name} '{word}' is not a known status (SUCCESS/成功/支付成功/TRADE_SUCCESS, REFUND/退款/已退款, REVOKED/CLOSED/撤销/已撤销)"
                    )
                }
            })?
        }
        None if refund => GatewayStatus::Refund,
        None => GatewayStatus::Success,
    };
    let paid_at = t.opt_time(cols.time, time_name.unwrap_or("time"))?;
    Ok(Entry {
        line,
        agent_bill_no: key.to_owned(),
        kind: if refund {
            EntryKind::Refund
        } else {
            EntryKind::Payment
        },
        status,
        amount: signed.abs(),
        fee: None,
        bind_code: None,
        paid_at,
        refunded_at: None,
        gateway_id: None,
        refund_id: None,
        gateway_refund_id: None,
        rate: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::read::{Encoding, Format, read_statement};
    use rust_decimal::Decimal;
    use std::path::PathBuf;

    fn mapping() -> GenericMapping {
        GenericMapping {
            key: "订单号".into(),
            amount: "金额".into(),
            status: Some("状态".into()),
            time: Some("时间".into()),
            encoding: None,
        }
    }

    const TEXT: &str = "订单号,金额,状态,时间,备注\n\
        A001,100.00,支付成功,2024-03-05 10:00:00,第一笔\n\
        A002,-20.5,已退款,2024/03/05 11:00:00,退款\n\
        A003,3,TRADE_SUCCESS,2024-03-05T12:00:00,\n\
        A004,0.10,closed,,\n";

    fn read_all(
        path: &Path,
        m: GenericMapping,
    ) -> Result<(ImportReport, Vec<Entry>), StatementError> {
        let mut got = Vec::new();
        let r = read_statement(path, &Format::Generic(m), |e| got.push(e))?;
        Ok((r, got))
    }

    fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn check(r: &ImportReport, got: &[Entry]) {
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].agent_bill_no, "A001");
        assert_eq!(got[0].amount, Decimal::new(10000, 2));
        assert_eq!(got[0].status, GatewayStatus::Success);
        assert_eq!(got[1].kind, EntryKind::Refund);
        assert_eq!(got[1].amount, Decimal::new(2050, 2));
        assert_eq!(got[1].status, GatewayStatus::Refund);
        assert_eq!(got[2].amount, Decimal::new(300, 2));
        assert_eq!(got[3].status, GatewayStatus::Revoked);
        assert_eq!(got[3].paid_at, None);
        assert_eq!(got.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert_eq!(r.computed.count, 4);
        assert_eq!(r.computed.amount, Decimal::new(10310, 2));
        assert_eq!(r.computed.refund_amount, Decimal::new(2050, 2));
        assert_eq!(r.declared, None);
        assert_eq!(r.totals_match(), None);
        assert_eq!(r.first_paid_at.unwrap().to_string(), "2024-03-05 10:00:00");
        assert_eq!(r.last_paid_at.unwrap().to_string(), "2024-03-05 12:00:00");
    }

    #[test]
    fn utf8_bom_and_gbk_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let utf8 = file(&dir, "u.csv", TEXT.as_bytes());
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(TEXT.as_bytes());
        let bom = file(&dir, "b.csv", &bom);
        let gbk = file(&dir, "g.csv", &encoding_rs::GBK.encode(TEXT).0);
        for (p, enc) in [
            (utf8, Encoding::Utf8),
            (bom, Encoding::Utf8Bom),
            (gbk, Encoding::Gbk),
        ] {
            let (r, got) = read_all(&p, mapping()).unwrap();
            assert_eq!(r.encoding, enc);
            check(&r, &got);
        }
    }

    #[test]
    fn given_encoding_is_used_and_a_wrong_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gbk = file(&dir, "g.csv", &encoding_rs::GBK.encode(TEXT).0);
        let mut m = mapping();
        m.encoding = Some(Encoding::Gbk);
        let (r, got) = read_all(&gbk, m.clone()).unwrap();
        check(&r, &got);
        m.encoding = Some(Encoding::Utf8);
        let e = read_all(&gbk, m.clone()).unwrap_err();
        assert!(
            matches!(
                e,
                StatementError::Encoding {
                    line: 1,
                    found: "GBK",
                    ..
                }
            ),
            "{e}"
        );
        let utf8 = file(&dir, "u.csv", TEXT.as_bytes());
        m.encoding = Some(Encoding::Gbk);
        let e = read_all(&utf8, m).unwrap_err();
        assert!(
            matches!(
                e,
                StatementError::Encoding {
                    line: 1,
                    found: "UTF-8",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_rows_are_reported_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let text = "订单号,金额,状态,时间\n\
            A1,12.3.4,成功,2024-03-05 10:00:00\n\
            A2,abc,成功,\n\
            A3,1.005,成功,\n\
            A4,1.00,不知道,\n\
            A5,1.00,成功,yesterday\n\
            ,1.00,成功,\n\
            A7,1.00\n\
            A8,2.00,成功,2024-03-05 10:00:00\n";
        let p = file(&dir, "bad.csv", text.as_bytes());
        let (r, got) = read_all(&p, mapping()).unwrap();
        let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8], "{:?}", r.errors);
        assert!(
            r.errors[0]
                .reason
                .contains("金额: '12.3.4' is not an amount"),
            "{}",
            r.errors[0]
        );
        assert!(r.errors[2].reason.contains("more than two decimal places"));
        assert!(
            r.errors[3]
                .reason
                .contains("'不知道' is not a known status")
        );
        assert!(r.errors[4].reason.contains("'yesterday' is not a time"));
        assert!(r.errors[5].reason.contains("订单号 is empty"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].agent_bill_no, "A8");
    }

    #[test]
    fn missing_columns_name_what_the_header_has() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(&dir, "x.csv", "id,amt\n1,2.00\n".as_bytes());
        let e = read_all(&p, mapping()).unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, StatementError::Header { line: 1, .. }));
        assert!(
            s.contains("'订单号'") && s.contains("it has: id, amt"),
            "{s}"
        );
        let wx = dir.path().join("wx.csv");
        crate::statement::wechat::write_file(&wx, &[], None).unwrap();
        let e = read_all(&wx, mapping()).unwrap_err();
        assert!(e.to_string().contains("give --format wechat"), "{e}");
    }

    #[test]
    fn mapping_without_status_or_time() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(
            &dir,
            "x.csv",
            "#导出\nkey,amount\n`K1\t,5.00\n\"K,2\",-1.00\n".as_bytes(),
        );
        let (r, got) = read_all(&p, GenericMapping::new("key", "amount")).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(got[0].agent_bill_no, "K1");
        assert_eq!(got[0].line, 3);
        assert_eq!(got[1].agent_bill_no, "K,2");
        assert_eq!(
            (got[1].kind, got[1].status),
            (EntryKind::Refund, GatewayStatus::Refund)
        );
    }
}
