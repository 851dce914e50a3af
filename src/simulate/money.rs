//! The money side of the simulated gateway (issue 14): the WeChat channel's
//! fee model, its settlement of the day into the merchant account (the
//! fund-flow bill, 资金账单) and hfb's custodian ledger (hfb is srb's 资金存管)
//! with its per-user balances file.
//!
//! Breaks here are behaviours of the simulated gateway and custodian — an
//! old tariff still applied to one merchant terminal, a card whose fee is
//! rounded up, a payment the gateway never settles, a custodian that credits
//! what it charged rather than what srb's handlers did — never rows that
//! merely claim to be anomalies. The truth is then found by comparing what
//! they did with the contract and with srb's own facts, not by listing the
//! planted rows, so a break nobody planted would be in it too.

use super::{SimError, names};
use crate::model::TransType;
use crate::money::{format_amount, from_cents};
use crate::payment::UserRef;
use crate::recon::finding::Kind;
use crate::statement::hfb::{self, GatewayStatus};
use crate::statement::wechat;
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The contracted WeChat fee rate: 0.60 %.
pub const CONTRACT_RATE: Decimal = Decimal::from_parts(6, 0, 0, false, 3);
/// The gateway's old tariff, 1.00 %, which it still applies to one terminal.
pub const LEGACY_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// The merchant terminal (设备号) the gateway still prices at its old tariff.
pub const LEGACY_TERMINAL: &str = "POS-0017";
/// The card (付款银行) whose fee the gateway rounds up instead of half-up.
pub const ROUND_UP_BANK: &str = "SPDB_CREDIT";
/// The merchant number the simulated WeChat bills are for.
pub const MERCHANT_ID: &str = "10000100";
/// What salts the demo's money stream: its randomness is its own, so the
/// existing days (and their files) do not change.
pub const MONEY_SALT: u64 = 0x006d_6f6e_6579;

/// Banks of the ordinary payments (none of them the round-up card).
const BANKS: [&str; 5] = [
    "CMB_DEBIT",
    "ICBC_DEBIT",
    "CCB_DEBIT",
    "ABC_DEBIT",
    "OTHERS",
];
/// The merchant's own terminals, priced at the contract rate.
const TERMINALS: [&str; 3] = ["", "APP-01", "WEB-01"];

/// Rounds to the cent, half-up (a half cent goes up), as the contract says.
pub fn to_cent_half_up(d: Decimal) -> Decimal {
    crate::recon::fees::to_cent(d)
}

/// The fee for `amount` at `rate`: amount × rate, half-up to the cent.
pub fn contract_fee(amount: Decimal, rate: Decimal) -> Decimal {
    to_cent_half_up(amount * rate)
}

/// The fee for `amount` at `rate` rounded up to the next cent (the gateway's fault).
pub fn fee_rounded_up(amount: Decimal, rate: Decimal) -> Decimal {
    (amount * rate).round_dp_with_strategy(2, RoundingStrategy::AwayFromZero)
}

/// The fee a refund of `refund` returns on a payment of `amount` that was
/// charged `fee`: the proportional part, half-up to the cent (all of it for a
/// full refund).
pub fn refund_fee(amount: Decimal, fee: Decimal, refund: Decimal) -> Decimal {
    if amount.is_zero() {
        return Decimal::ZERO;
    }
    if refund == amount {
        return fee;
    }
    to_cent_half_up(fee * refund / amount)
}

/// A fee with WeChat's five decimals (`0.01000`, `-0.60000`).
pub fn fee_text(fee: Decimal) -> String {
    let mut f = fee;
    f.rescale(5);
    f.to_string()
}

/// A rate as WeChat writes it: `0.60%`, `1.00%`.
pub fn rate_text(rate: Decimal) -> String {
    let mut p = rate * Decimal::ONE_HUNDRED;
    p.rescale(2);
    format!("{p}%")
}

/// How the simulated WeChat gateway prices a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeModel {
    /// The rate it applies normally (the contract's).
    pub rate: Decimal,
    /// The old tariff it still applies to `legacy_terminal`.
    pub legacy_rate: Decimal,
    /// The terminal priced at the old tariff.
    pub legacy_terminal: String,
    /// The card whose fee it rounds up.
    pub round_up_bank: String,
}

impl FeeModel {
    /// The demo's WeChat channel: 0.60 %, with the two faults above.
    pub fn wechat() -> Self {
        Self {
            rate: CONTRACT_RATE,
            legacy_rate: LEGACY_RATE,
            legacy_terminal: LEGACY_TERMINAL.to_owned(),
            round_up_bank: ROUND_UP_BANK.to_owned(),
        }
    }

    /// The fee the gateway charges and the rate it states for a payment of
    /// `amount` from `terminal`, paid with `bank`.
    pub fn price(&self, amount: Decimal, terminal: &str, bank: &str) -> (Decimal, Decimal) {
        let rate = if terminal == self.legacy_terminal {
            self.legacy_rate
        } else {
            self.rate
        };
        let fee = if bank == self.round_up_bank {
            fee_rounded_up(amount, rate)
        } else {
            contract_fee(amount, rate)
        };
        (fee, rate)
    }
}

/// The refund part of a refund row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRef {
    /// 微信退款单号.
    pub wechat_refund_id: String,
    /// 商户退款单号.
    pub refund_no: String,
    /// 退款金额 (positive).
    pub amount: Decimal,
}

/// One row of the simulated WeChat trade bill (交易账单, ALL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRow {
    /// 交易时间: the payment's time, or the refund's on a refund row.
    pub at: NaiveDateTime,
    /// 设备号.
    pub terminal: String,
    /// 微信订单号.
    pub wechat_order_id: String,
    /// 商户订单号 (`agentBillNo`).
    pub agent_bill_no: String,
    /// 用户标识.
    pub openid: String,
    /// 交易状态.
    pub status: GatewayStatus,
    /// 付款银行.
    pub bank: String,
    /// The order's amount (应结订单金额 and 订单金额 on payment rows).
    pub amount: Decimal,
    /// Set on refund rows.
    pub refund: Option<RefundRef>,
    /// 手续费, signed: a refund row's is negative (fee returned).
    pub fee: Decimal,
    /// 费率 as stated.
    pub rate: Decimal,
}

impl TradeRow {
    /// Whether the row is a successful payment (what the fee and settlement checks look at).
    pub fn is_paid(&self) -> bool {
        self.refund.is_none() && self.status == GatewayStatus::Success
    }
}

/// One booking of the merchant account (a fund-flow bill row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundRow {
    /// 记账时间.
    pub at: NaiveDateTime,
    /// 微信支付业务单号.
    pub business_no: String,
    /// 资金流水单号.
    pub flow_no: String,
    /// 业务名称.
    pub name: String,
    /// 业务类型.
    pub business_type: String,
    /// 收入 (true) or 支出.
    pub income: bool,
    /// 收支金额, positive.
    pub amount: Decimal,
    /// 账户结余 after this row.
    pub balance: Decimal,
    /// 资金变更提交申请人.
    pub applicant: String,
    /// 备注.
    pub note: String,
    /// 业务凭证号.
    pub voucher: String,
}

impl FundRow {
    /// The amount signed: income positive, expense negative.
    pub fn signed(&self) -> Decimal {
        if self.income {
            self.amount
        } else {
            -self.amount
        }
    }
}

/// What the gateway does wrong when it settles a day (its behaviour, planted).
#[derive(Debug, Clone, Default)]
pub struct SettlementFaults {
    /// Payments it never books.
    pub unbooked: BTreeSet<String>,
    /// Payments it books short, by how much.
    pub short: BTreeMap<String, Decimal>,
    /// Debits no trade of ours explains: (业务凭证号, 微信支付业务单号, amount, when).
    pub foreign_debits: Vec<(String, String, Decimal, NaiveDateTime)>,
}

/// A withdrawal of the merchant account to its bank.
#[derive(Debug, Clone)]
pub struct Withdrawal {
    /// When.
    pub at: NaiveDateTime,
    /// How much.
    pub amount: Decimal,
    /// Its reference (业务凭证号).
    pub reference: String,
}

/// Books the day's trade bill into the merchant account, as WeChat does:
/// each successful payment credits its gross (交易, 收入) and debits its fee
/// (扣除交易手续费, 支出), both with the order number as 业务凭证号; each
/// refund debits what it cost the merchant (the refund less the fee WeChat
/// returns), with the 商户退款单号 as 业务凭证号. A bill listed twice is
/// settled once; a revoked payment never settles. `faults` are applied, and
/// 账户结余 runs from `opening` over the rows actually written.
pub fn settle(
    day: NaiveDate,
    trade: &[TradeRow],
    opening: Decimal,
    withdrawal: Option<&Withdrawal>,
    faults: &SettlementFaults,
) -> Vec<FundRow> {
    let (first, last) = day_bounds(day);
    let book = |at: NaiveDateTime| (at + Duration::seconds(2)).clamp(first, last);
    let ymd = day.format("%Y%m%d").to_string();
    // (time, order of creation, row without its balance and flow number)
    let mut rows: Vec<(NaiveDateTime, usize, FundRow)> = Vec::new();
    let mut push = |at: NaiveDateTime, r: FundRow| {
        let n = rows.len();
        rows.push((at, n, r));
    };
    let row = |at,
               business_no: &str,
               name: &str,
               income,
               amount,
               applicant: &str,
               note: String,
               voucher: &str| FundRow {
        at,
        business_no: business_no.to_owned(),
        flow_no: String::new(),
        name: name.to_owned(),
        business_type: name.to_owned(),
        income,
        amount,
        balance: Decimal::ZERO,
        applicant: applicant.to_owned(),
        note,
        voucher: voucher.to_owned(),
    };
    if let Some(w) = withdrawal {
        push(
            w.at,
            row(
                w.at,
                &format!("1200{ymd}{:016}", 1),
                "提现",
                false,
                w.amount,
                MERCHANT_ID,
                "提现至银行卡(尾号6688)".to_owned(),
                &w.reference,
            ),
        );
    }
    let mut settled = BTreeSet::new();
    for t in trade {
        if let Some(r) = &t.refund {
            if !settled.insert(r.refund_no.clone()) {
                continue;
            }
            let returned = -t.fee;
            let at = book(t.at);
            push(
                at,
                row(
                    at,
                    &r.wechat_refund_id,
                    "退款",
                    false,
                    r.amount - returned,
                    &format!("{MERCHANT_ID}API"),
                    format!(
                        "退款总金额{}元;含手续费{}元",
                        format_amount(r.amount),
                        format_amount(returned)
                    ),
                    &r.refund_no,
                ),
            );
            continue;
        }
        if !t.is_paid()
            || !settled.insert(t.agent_bill_no.clone())
            || faults.unbooked.contains(&t.agent_bill_no)
        {
            continue;
        }
        let at = book(t.at);
        let short = faults
            .short
            .get(&t.agent_bill_no)
            .copied()
            .unwrap_or_default();
        push(
            at,
            row(
                at,
                &t.wechat_order_id,
                "交易",
                true,
                t.amount - short,
                "system",
                String::new(),
                &t.agent_bill_no,
            ),
        );
        if t.fee > Decimal::ZERO {
            push(
                at,
                row(
                    at,
                    &t.wechat_order_id,
                    "扣除交易手续费",
                    false,
                    t.fee,
                    "system",
                    String::new(),
                    &t.agent_bill_no,
                ),
            );
        }
    }
    for (voucher, business_no, amount, at) in &faults.foreign_debits {
        push(
            *at,
            row(
                *at,
                business_no,
                "交易",
                false,
                *amount,
                "system",
                String::new(),
                voucher,
            ),
        );
    }
    rows.sort_by_key(|(at, n, _)| (*at, *n));
    let mut balance = opening;
    rows.into_iter()
        .enumerate()
        .map(|(i, (_, _, mut r))| {
            balance += r.signed();
            r.balance = balance;
            r.flow_no = format!("1900{ymd}{:016}", i + 1);
            r
        })
        .collect()
}

/// The first and last second of `day`.
fn day_bounds(day: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let first = day.and_time(NaiveTime::MIN);
    (first, first + Duration::seconds(86_399))
}

/// A break the money files hold, with its amounts as a finding states them:
/// `internal` is ours (or the contract's), `external` the gateway's or the custodian's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MoneyBreak {
    /// The finding kind (SPEC §4).
    pub kind: &'static str,
    /// Its key.
    pub key: String,
    /// Ours: the contract's fee, what the payment should bring net of its fee
    /// (a refund's: what it should cost, negative), srb's balance (amount + freeze).
    pub internal: Option<Decimal>,
    /// Theirs: the fee charged, what the account's movements for it come to
    /// (`None` when there are none), the custodian's balance (amount + freeze).
    pub external: Option<Decimal>,
}

/// Every fee the trade bill charges differently from the contract (or at a
/// stated rate other than the contract's): one `fee_mismatch` per payment or
/// refund row, keyed by its bill (a refund as `BILL#refund:REFUNDNO`).
pub fn fee_breaks(trade: &[TradeRow], rate: Decimal) -> Vec<MoneyBreak> {
    let mut out = Vec::new();
    for t in trade {
        if let Some(r) = &t.refund {
            let expected = contract_fee(r.amount, rate);
            if -t.fee != expected {
                out.push(MoneyBreak {
                    kind: Kind::FeeMismatch.as_str(),
                    key: format!("{}#refund:{}", t.agent_bill_no, r.refund_no),
                    internal: Some(expected),
                    external: Some(-t.fee),
                });
            }
        } else if t.is_paid() {
            let expected = contract_fee(t.amount, rate);
            if t.fee != expected || t.rate != rate {
                out.push(MoneyBreak {
                    kind: Kind::FeeMismatch.as_str(),
                    key: t.agent_bill_no.clone(),
                    internal: Some(expected),
                    external: Some(t.fee),
                });
            }
        }
    }
    out
}

/// Compares the fund-flow rows with what the trade bill says should have
/// moved: every successful payment credited its gross and debited its fee,
/// every refund debited (less the fee returned), every other movement a
/// withdrawal. What differs is a `settlement_missing` or
/// `settlement_amount_mismatch` (keyed by the bill, a refund by
/// `BILL#refund:REFUNDNO`) or a `settlement_unexplained` (keyed
/// `movement:` and the movement's 业务凭证号).
pub fn settlement_breaks(trade: &[TradeRow], fundflow: &[FundRow]) -> Vec<MoneyBreak> {
    // voucher → (expected gross in, expected fee out) for payments; refunds: expected out.
    let mut paid: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    let mut refunds: BTreeMap<&str, (&str, Decimal)> = BTreeMap::new();
    for t in trade {
        // A row listed twice is one payment (or refund): settled once.
        match &t.refund {
            Some(r) => {
                refunds
                    .entry(r.refund_no.as_str())
                    .or_insert((t.agent_bill_no.as_str(), r.amount + t.fee));
            }
            None if t.is_paid() => {
                paid.entry(t.agent_bill_no.as_str())
                    .or_insert((t.amount, t.fee));
            }
            None => {}
        }
    }
    let mut booked_in: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut booked_fee: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut booked_refund: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut out = Vec::new();
    for r in fundflow {
        let v = r.voucher.as_str();
        match (r.business_type.as_str(), r.income) {
            ("交易", true) if paid.contains_key(v) => {
                *booked_in.entry(v).or_default() += r.amount
            }
            ("扣除交易手续费", false) if paid.contains_key(v) => {
                *booked_fee.entry(v).or_default() += r.amount
            }
            ("退款", false) if refunds.contains_key(v) => {
                *booked_refund.entry(v).or_default() += r.amount
            }
            ("提现", false) => {}
            _ => out.push(MoneyBreak {
                kind: Kind::SettlementUnexplained.as_str(),
                key: format!("movement:{}", r.voucher),
                internal: None,
                external: Some(r.signed()),
            }),
        }
    }
    for (bill, (gross, fee)) in &paid {
        let (got_in, got_fee) = (booked_in.get(bill), booked_fee.get(bill));
        if got_in.is_none() && got_fee.is_none() {
            out.push(MoneyBreak {
                kind: Kind::SettlementMissing.as_str(),
                key: (*bill).to_owned(),
                internal: Some(*gross - *fee),
                external: None,
            });
        } else if got_in.copied().unwrap_or_default() != *gross
            || got_fee.copied().unwrap_or_default() != *fee
        {
            out.push(MoneyBreak {
                kind: Kind::SettlementAmountMismatch.as_str(),
                key: (*bill).to_owned(),
                internal: Some(*gross - *fee),
                external: Some(
                    got_in.copied().unwrap_or_default() - got_fee.copied().unwrap_or_default(),
                ),
            });
        }
    }
    for (no, (bill, want)) in &refunds {
        match booked_refund.get(no) {
            None => out.push(MoneyBreak {
                kind: Kind::SettlementMissing.as_str(),
                key: format!("{bill}#refund:{no}"),
                internal: Some(-*want),
                external: None,
            }),
            Some(got) if got != want => out.push(MoneyBreak {
                kind: Kind::SettlementAmountMismatch.as_str(),
                key: format!("{bill}#refund:{no}"),
                internal: Some(-*want),
                external: Some(-*got),
            }),
            Some(_) => {}
        }
    }
    out
}

/// Writes the WeChat ALL trade bill of `rows` (SPEC §5): the 27-column
/// header, backticked fields, then the summary header and its row, whose
/// totals are the rows' (应结订单总金额 over every row — refund rows carry
/// 0.00 there, as WeChat writes them — 退款总金额 over the refunds, 手续费总金额
/// signed, with five decimals). Written to `.partial`, then renamed.
pub fn write_trade_bill(path: &Path, rows: &[TradeRow]) -> std::io::Result<()> {
    write_atomically(path, |w| {
        w.write_record(wechat::HEADER)?;
        let (mut settled, mut refunded, mut fees) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for t in rows {
            let zero = format_amount(Decimal::ZERO);
            let (amount, refund_amount) = match &t.refund {
                Some(r) => (Decimal::ZERO, r.amount),
                None => (t.amount, Decimal::ZERO),
            };
            settled += amount;
            refunded += refund_amount;
            fees += t.fee;
            let refund_field = |f: fn(&RefundRef) -> String, none: &str| {
                t.refund.as_ref().map_or_else(|| none.to_owned(), f)
            };
            let rec = [
                t.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                "wx2421b1c4370ec43b".to_owned(),
                MERCHANT_ID.to_owned(),
                "0".to_owned(),
                t.terminal.clone(),
                t.wechat_order_id.clone(),
                t.agent_bill_no.clone(),
                t.openid.clone(),
                "NATIVE".to_owned(),
                t.status.as_str().to_owned(),
                t.bank.clone(),
                "CNY".to_owned(),
                format_amount(amount),
                zero.clone(),
                refund_field(|r| r.wechat_refund_id.clone(), "0"),
                refund_field(|r| r.refund_no.clone(), "0"),
                format_amount(refund_amount),
                zero.clone(),
                refund_field(|_| "ORIGINAL".to_owned(), ""),
                refund_field(|_| "SUCCESS".to_owned(), ""),
                "账户充值".to_owned(),
                String::new(),
                fee_text(t.fee),
                rate_text(t.rate),
                format_amount(amount),
                format_amount(refund_amount),
                String::new(),
            ];
            w.write_record(rec.iter().map(|s| tick(s)))?;
        }
        w.write_record(wechat::SUMMARY_HEADER)?;
        let summary = [
            rows.len().to_string(),
            format_amount(settled),
            format_amount(refunded),
            format_amount(Decimal::ZERO),
            fee_text(fees),
            format_amount(settled),
            format_amount(refunded),
        ];
        w.write_record(summary.iter().map(|s| tick(s)))
    })
}

/// The fund-flow header and summary header: the reader's (SPEC §5 `wechat-fundflow`).
pub use crate::statement::wechat_fundflow::{
    HEADER as FUNDFLOW_HEADER, SUMMARY_HEADER as FUNDFLOW_SUMMARY_HEADER,
};

/// Writes a WeChat fund-flow bill (资金账单) of `rows`: backticked fields,
/// then the summary header and its row. Written to `.partial`, then renamed.
pub fn write_fundflow(path: &Path, rows: &[FundRow]) -> std::io::Result<()> {
    write_atomically(path, |w| {
        w.write_record(FUNDFLOW_HEADER)?;
        let (mut n_in, mut n_out, mut sum_in, mut sum_out) =
            (0u64, 0u64, Decimal::ZERO, Decimal::ZERO);
        for r in rows {
            if r.income {
                n_in += 1;
                sum_in += r.amount;
            } else {
                n_out += 1;
                sum_out += r.amount;
            }
            let rec = [
                r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.business_no.clone(),
                r.flow_no.clone(),
                r.name.clone(),
                r.business_type.clone(),
                if r.income { "收入" } else { "支出" }.to_owned(),
                format_amount(r.amount),
                format_amount(r.balance),
                r.applicant.clone(),
                r.note.clone(),
                r.voucher.clone(),
            ];
            w.write_record(rec.iter().map(|s| tick(s)))?;
        }
        w.write_record(FUNDFLOW_SUMMARY_HEADER)?;
        let summary = [
            rows.len().to_string(),
            n_in.to_string(),
            format_amount(sum_in),
            n_out.to_string(),
            format_amount(sum_out),
        ];
        w.write_record(summary.iter().map(|s| tick(s)))
    })
}

fn tick(s: &str) -> String {
    format!("`{s}")
}

/// Writes a CSV through `body` into `path.partial`, then renames it into place.
fn write_atomically(
    path: &Path,
    body: impl FnOnce(&mut csv::Writer<std::io::BufWriter<std::fs::File>>) -> csv::Result<()>,
) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let f = std::fs::File::create(&tmp)?;
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(std::io::BufWriter::new(f));
        body(&mut w)?;
        let mut inner = w.into_inner().map_err(|e| e.into_error())?;
        inner.flush()
    };
    match write() {
        Ok(()) => std::fs::rename(&tmp, path),
        Err(e) => {
            // Best effort: the error that matters is the write's.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A payment the gateway (hfb — also the custodian) completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The payer (`user_info.id`).
    pub user_id: i64,
    /// The merchant order number.
    pub agent_bill_no: String,
    /// What it charged (the statement's amount, which may differ from the notify's).
    pub amount: Decimal,
    /// Its final state: refunded or revoked charges went back to the payer.
    pub status: GatewayStatus,
    /// When.
    pub paid_at: NaiveDateTime,
}

/// What moved money in a simulated run, as the simulation did it (never read
/// back from the database): the custodian model's input.
#[derive(Debug, Clone, Default)]
pub struct MoneyFacts {
    /// Recharge credits srb's handlers committed: user id and amount (one
    /// entry per bill, the total of its credits; strays one each).
    pub credits: Vec<(i64, Decimal)>,
    /// Every charge the gateway completed, whatever srb did with its notify.
    pub charges: Vec<Charge>,
    /// Every other flow srb applied (invest, loans, withdrawals): user id, type, amount.
    pub flows: Vec<(i64, TransType, Decimal)>,
}

impl MoneyFacts {
    /// Appends another day's facts.
    pub fn merge(&mut self, other: MoneyFacts) {
        self.credits.extend(other.credits);
        self.charges.extend(other.charges);
        self.flows.extend(other.flows);
    }

    /// srb's balance (amount, freeze) per user id, as its handlers and flows left it.
    pub fn ledger(&self) -> BTreeMap<i64, (Decimal, Decimal)> {
        let mut out: BTreeMap<i64, (Decimal, Decimal)> = BTreeMap::new();
        for (user, amount) in &self.credits {
            out.entry(*user).or_default().0 += *amount;
        }
        self.apply_flows(&mut out);
        out
    }

    /// The custodian's balance (amount, freeze) per user id: it credits each
    /// charge it took, debits each it refunded or revoked, and carries out
    /// every instruction srb sent it (the other flows) — independent of what
    /// srb's notify handlers did.
    pub fn custodian(&self) -> BTreeMap<i64, (Decimal, Decimal)> {
        let mut out: BTreeMap<i64, (Decimal, Decimal)> = BTreeMap::new();
        for c in &self.charges {
            let a = &mut out.entry(c.user_id).or_default().0;
            *a += c.amount;
            if c.status != GatewayStatus::Success {
                *a -= c.amount;
            }
        }
        self.apply_flows(&mut out);
        out
    }

    fn apply_flows(&self, out: &mut BTreeMap<i64, (Decimal, Decimal)>) {
        for (user, t, amount) in &self.flows {
            let e = t.effect(*amount);
            let b = out.entry(*user).or_default();
            b.0 += e.amount;
            b.1 += e.freeze;
        }
    }
}

/// A custodian account (hfb's `user_account`), by user code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyAccount {
    /// hfb's user code (srb's `bind_code`).
    pub user_code: String,
    /// Available.
    pub amount: Decimal,
    /// Frozen.
    pub freeze: Decimal,
}

/// The custodian's accounts: one per bound srb user, plus `extra` (bindings
/// the custodian made whose callback srb never recorded), sorted by code.
pub fn custody_accounts(
    users: &[UserRef],
    facts: &MoneyFacts,
    extra: &[CustodyAccount],
) -> Vec<CustodyAccount> {
    let held = facts.custodian();
    let mut out: Vec<CustodyAccount> = users
        .iter()
        .map(|u| {
            let (amount, freeze) = held.get(&u.id).copied().unwrap_or_default();
            CustodyAccount {
                user_code: u.bind_code.clone(),
                amount,
                freeze,
            }
        })
        .chain(extra.iter().cloned())
        .collect();
    out.sort_by(|a, b| a.user_code.cmp(&b.user_code));
    out
}

/// The custody breaks: each srb user whose ledger balance (from `facts`)
/// differs from the custodian's account (`custody_balance_mismatch`, key
/// `user:ID`, amount + freeze on each side), and each account for a code srb
/// does not know (`custody_unknown_account`, key `custody:CODE`).
pub fn custody_breaks(
    users: &[UserRef],
    facts: &MoneyFacts,
    accounts: &[CustodyAccount],
) -> Vec<MoneyBreak> {
    let ours = facts.ledger();
    let by_code: BTreeMap<&str, &CustodyAccount> =
        accounts.iter().map(|a| (a.user_code.as_str(), a)).collect();
    let mut out = Vec::new();
    for u in users {
        let (amount, freeze) = ours.get(&u.id).copied().unwrap_or_default();
        let theirs = by_code.get(u.bind_code.as_str());
        let (t_amount, t_freeze) =
            theirs.map_or((Decimal::ZERO, Decimal::ZERO), |a| (a.amount, a.freeze));
        if (amount, freeze) != (t_amount, t_freeze) {
            out.push(MoneyBreak {
                kind: Kind::CustodyBalanceMismatch.as_str(),
                key: format!("user:{}", u.id),
                internal: Some(amount + freeze),
                external: Some(t_amount + t_freeze),
            });
        }
    }
    let known: BTreeSet<&str> = users.iter().map(|u| u.bind_code.as_str()).collect();
    for a in accounts
        .iter()
        .filter(|a| !known.contains(a.user_code.as_str()))
    {
        out.push(MoneyBreak {
            kind: Kind::CustodyUnknownAccount.as_str(),
            key: format!("custody:{}", a.user_code),
            internal: None,
            external: Some(a.amount + a.freeze),
        });
    }
    out
}

/// The money files of the demo's reconciled day.
#[derive(Debug, Clone)]
pub struct MoneyFiles {
    /// The day's complete WeChat trade bill with fees (`wechat-{day}.csv`, `--format wechat`).
    pub wechat_bill: PathBuf,
    /// Its fund-flow bill (`wechat-fundflow-{day}.csv`, `--format wechat-fundflow`).
    pub fundflow: PathBuf,
    /// The custodian's balances (`hfb-balances-{day}.csv`, `--balances`).
    pub balances: PathBuf,
    /// The contracted fee rate of the WeChat bill (`--fee-rate 0.6%`).
    pub fee_rate: Decimal,
    /// Every fee, settlement and custody break the files hold, with amounts.
    pub breaks: Vec<MoneyBreak>,
}

/// The gateway's day: its trade bill, what it settled, and the faults it had.
#[derive(Debug, Clone)]
pub struct GatewayDay {
    /// The trade bill's rows, in time order.
    pub trade: Vec<TradeRow>,
    /// The fund-flow rows, in booking order, with running balances.
    pub fundflow: Vec<FundRow>,
    /// The account's balance before the day.
    pub opening: Decimal,
}

/// Turns the day's statement `lines` (hfb's view of the same payments) into
/// the WeChat gateway's day. The money stream `rng` decides terminals,
/// cards, ids, refund times and which payments meet the gateway's faults;
/// those are chosen among plain payments only: successful, listed once, of
/// 10.00 or more, paid between 01:00 and 23:00, and not in `avoid` (bills
/// that already carry a break).
pub fn gateway_day(
    day: NaiveDate,
    lines: &[hfb::Line],
    avoid: &BTreeSet<String>,
    rng: &mut ChaCha8Rng,
) -> GatewayDay {
    let model = FeeModel::wechat();
    let ymd = day.format("%Y%m%d").to_string();
    let (first, last) = day_bounds(day);
    let mut listed: BTreeMap<&str, usize> = BTreeMap::new();
    for l in lines {
        *listed.entry(l.agent_bill_no.as_str()).or_default() += 1;
    }
    // Payments the gateway's faults may meet: plain, once-listed, untroubled.
    let mut clean: Vec<&hfb::Line> = lines
        .iter()
        .filter(|l| {
            l.status == GatewayStatus::Success
                && listed.get(l.agent_bill_no.as_str()) == Some(&1)
                && !avoid.contains(&l.agent_bill_no)
                && l.charge_amt >= from_cents(1_000)
                // Well inside the day: no cross-day window excuses its break.
                && l.paid_at >= first + Duration::hours(1)
                && l.paid_at < first + Duration::hours(23)
        })
        .collect();
    clean.shuffle(rng);
    let mut take = |pred: &dyn Fn(&hfb::Line) -> bool| -> Option<String> {
        let i = clean.iter().position(|l| pred(l))?;
        Some(clean.remove(i).agent_bill_no.clone())
    };
    let legacy: BTreeSet<String> = (0..2).filter_map(|_| take(&|_| true)).collect();
    // A card whose fee rounds up differently from half-up: the fault shows.
    let round_up = take(&|l| {
        fee_rounded_up(l.charge_amt, CONTRACT_RATE) != contract_fee(l.charge_amt, CONTRACT_RATE)
    });
    let unbooked = take(&|_| true);
    let short = take(&|_| true);

    // The trade bill.
    let mut trade = Vec::new();
    let mut seen: BTreeMap<&str, TradeRow> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let bill = l.agent_bill_no.as_str();
        // A bill listed twice is one order: the same ids, terminal and card.
        let payment = match seen.get(bill) {
            Some(p) => p.clone(),
            None => {
                let terminal = if legacy.contains(bill) {
                    LEGACY_TERMINAL.to_owned()
                } else {
                    TERMINALS[rng.random_range(0..TERMINALS.len())].to_owned()
                };
                let bank = if round_up.as_deref() == Some(bill) {
                    ROUND_UP_BANK.to_owned()
                } else {
                    BANKS[rng.random_range(0..BANKS.len())].to_owned()
                };
                let (fee, rate) = if l.status == GatewayStatus::Revoked {
                    // A revoked payment is charged nothing.
                    (Decimal::ZERO, model.rate)
                } else {
                    model.price(l.charge_amt, &terminal, &bank)
                };
                let p = TradeRow {
                    at: l.paid_at,
                    terminal,
                    wechat_order_id: format!(
                        "4200000{:03}{ymd}{:06}{:04}",
                        rng.random_range(800..1000),
                        i + 1,
                        rng.random_range(0..10_000)
                    ),
                    agent_bill_no: l.agent_bill_no.clone(),
                    openid: format!("oUpF8u{}", l.bind_code.chars().take(22).collect::<String>()),
                    status: if l.status == GatewayStatus::Revoked {
                        GatewayStatus::Revoked
                    } else {
                        GatewayStatus::Success
                    },
                    bank,
                    amount: l.charge_amt,
                    refund: None,
                    fee,
                    rate,
                };
                seen.insert(bill, p.clone());
                p
            }
        };
        trade.push(payment.clone());
        if l.status == GatewayStatus::Refund {
            // The gateway refunded it later the same day, returning the fee.
            let at = (l.paid_at + Duration::minutes(rng.random_range(10..240)))
                .min(day.and_time(super::gateway_cutoff()) - Duration::seconds(1))
                .max(l.paid_at + Duration::seconds(1));
            trade.push(TradeRow {
                at,
                status: GatewayStatus::Refund,
                refund: Some(RefundRef {
                    wechat_refund_id: format!(
                        "5030{:05}{ymd}{:06}{:04}",
                        rng.random_range(10_000..100_000),
                        i + 1,
                        rng.random_range(0..10_000)
                    ),
                    refund_no: format!("RF{}", l.agent_bill_no),
                    amount: l.charge_amt,
                }),
                fee: -refund_fee(payment.amount, payment.fee, l.charge_amt),
                ..payment
            });
        }
    }
    trade.sort_by_key(|t| t.at);

    // The settlement.
    let opening = from_cents(rng.random_range(20_000_000..50_000_000));
    let withdrawal = Withdrawal {
        at: first + Duration::hours(10),
        amount: (opening * Decimal::new(8, 1)).trunc(),
        reference: format!("WD{ymd}{:08}", rng.random_range(0..100_000_000)),
    };
    let mut faults = SettlementFaults {
        unbooked: unbooked.into_iter().collect(),
        ..SettlementFaults::default()
    };
    if let Some(bill) = short {
        faults
            .short
            .insert(bill, from_cents(rng.random_range(1..100)));
    }
    // A debit for a trade of another merchant, booked to ours.
    let foreign_at = first + Duration::seconds(rng.random_range(39_600..64_800));
    faults.foreign_debits.push((
        format!("SH{ymd}{:06}", rng.random_range(0..1_000_000)),
        format!(
            "4200000{:03}{ymd}{:010}",
            rng.random_range(800..1000),
            rng.random_range(0..10_000_000_000u64)
        ),
        from_cents(rng.random_range(5_000..80_000)),
        foreign_at.min(last),
    ));
    let fundflow = settle(day, &trade, opening, Some(&withdrawal), &faults);
    GatewayDay {
        trade,
        fundflow,
        opening,
    }
}

/// Writes the demo's money files for `day` into `dir` — the WeChat trade
/// bill of `lines` with fees, its fund-flow bill, and the custodian's
/// balances of `users` after everything in `facts` — and returns them with
/// every break they hold. The randomness is the money stream of `seed`.
pub fn write_demo_files(
    dir: &Path,
    day: NaiveDate,
    lines: &[hfb::Line],
    users: &[UserRef],
    facts: &MoneyFacts,
    avoid: &BTreeSet<String>,
    seed: u64,
) -> Result<MoneyFiles, SimError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ MONEY_SALT);
    let g = gateway_day(day, lines, avoid, &mut rng);
    // A binding the custodian made whose callback srb never recorded.
    let known: BTreeSet<&str> = users.iter().map(|u| u.bind_code.as_str()).collect();
    let mut code = names::bind_code(&mut rng);
    while known.contains(code.as_str()) {
        code = names::bind_code(&mut rng);
    }
    let unknown = CustodyAccount {
        user_code: code,
        amount: from_cents(rng.random_range(100_000..5_000_000)),
        freeze: Decimal::ZERO,
    };
    let accounts = custody_accounts(users, facts, std::slice::from_ref(&unknown));

    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SimError::Io { path, source }
    };
    let files = MoneyFiles {
        wechat_bill: dir.join(format!("wechat-{day}.csv")),
        fundflow: dir.join(format!("wechat-fundflow-{day}.csv")),
        balances: dir.join(format!("hfb-balances-{day}.csv")),
        fee_rate: CONTRACT_RATE,
        breaks: fee_breaks(&g.trade, CONTRACT_RATE)
            .into_iter()
            .chain(settlement_breaks(&g.trade, &g.fundflow))
            .chain(custody_breaks(users, facts, &accounts))
            .collect(),
    };
    write_trade_bill(&files.wechat_bill, &g.trade).map_err(io(&files.wechat_bill))?;
    write_fundflow(&files.fundflow, &g.fundflow).map_err(io(&files.fundflow))?;
    let rows: Vec<(String, Decimal, Decimal)> = accounts
        .iter()
        .map(|a| (a.user_code.clone(), a.amount, a.freeze))
        .collect();
    crate::statement::balances::write_balances(&files.balances, &rows)
        .map_err(io(&files.balances))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::statement::balances::read_balances;
    use crate::statement::{Entry, EntryKind, Format, Movement, read_movements, read_statement};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    #[test]
    fn fees_round_half_up_to_the_cent() {
        let r = CONTRACT_RATE;
        // The real 2015 bill: 0.88 → 0.00528 → 0.01; 0.17 → 0.00102 → 0.00.
        assert_eq!(contract_fee(d("0.88"), r), d("0.01"));
        assert_eq!(contract_fee(d("0.17"), r), d("0.00"));
        // Half a cent goes up (banker's rounding would give 0.04 here).
        assert_eq!(contract_fee(d("7.50"), r), d("0.05"));
        assert_eq!(contract_fee(d("2.50"), r), d("0.02"));
        assert_eq!(contract_fee(d("100.10"), r), d("0.60"));
        assert_eq!(fee_rounded_up(d("100.10"), r), d("0.61"));
        assert_eq!(fee_rounded_up(d("100.00"), r), d("0.60"));
        assert_eq!(contract_fee(d("100.00"), LEGACY_RATE), d("1.00"));
        assert_eq!(fee_text(d("0.01")), "0.01000");
        assert_eq!(fee_text(d("-0.6")), "-0.60000");
        assert_eq!(fee_text(Decimal::ZERO), "0.00000");
        assert_eq!(rate_text(CONTRACT_RATE), "0.60%");
        assert_eq!(rate_text(LEGACY_RATE), "1.00%");
    }

    #[test]
    fn refunds_return_the_proportional_fee() {
        assert_eq!(refund_fee(d("100.00"), d("0.60"), d("100.00")), d("0.60"));
        assert_eq!(refund_fee(d("100.00"), d("0.60"), d("25.00")), d("0.15"));
        // 0.05 × 3.75 / 7.50 = 0.025: half a cent, returned as 0.03.
        assert_eq!(refund_fee(d("7.50"), d("0.05"), d("3.75")), d("0.03"));
        // A full refund returns what was charged, even at a wrong rate.
        assert_eq!(refund_fee(d("100.10"), d("0.61"), d("100.10")), d("0.61"));
        assert_eq!(
            refund_fee(Decimal::ZERO, d("0.61"), d("1.00")),
            Decimal::ZERO
        );
    }

    #[test]
    fn the_fee_model_prices_its_faults() {
        let m = FeeModel::wechat();
        assert_eq!(
            m.price(d("100.10"), "", "CMB_DEBIT"),
            (d("0.60"), CONTRACT_RATE)
        );
        assert_eq!(
            m.price(d("100.10"), LEGACY_TERMINAL, "CMB_DEBIT"),
            (d("1.00"), LEGACY_RATE)
        );
        assert_eq!(
            m.price(d("100.10"), "APP-01", ROUND_UP_BANK),
            (d("0.61"), CONTRACT_RATE)
        );
        // Rounding up changes nothing when there is nothing to round.
        assert_eq!(
            m.price(d("500.00"), "", ROUND_UP_BANK),
            (d("3.00"), CONTRACT_RATE)
        );
    }

    fn line(n: usize, cents: i64, status: GatewayStatus, secs: i64) -> hfb::Line {
        hfb::Line {
            agent_bill_no: format!("CHARGE20261120{n:08}"),
            bind_code: format!("{n:032x}"),
            charge_amt: from_cents(cents),
            fee_amt: Decimal::ZERO,
            status,
            paid_at: day().and_time(NaiveTime::MIN) + Duration::seconds(secs),
        }
    }

    /// A day of 80 payments: odd cents, three refunds, a revoked one, one
    /// listed twice, one from the evening before (carried over), and a few
    /// that already carry another break.
    fn lines() -> (Vec<hfb::Line>, BTreeSet<String>) {
        let mut v = vec![line(0, 12_345, GatewayStatus::Success, -20)];
        for n in 1..80 {
            let status = match n {
                10 | 30 | 50 => GatewayStatus::Refund,
                20 => GatewayStatus::Revoked,
                _ => GatewayStatus::Success,
            };
            v.push(line(
                n,
                1_000 + 7_919 * n as i64,
                status,
                900 * n as i64 + 3_600,
            ));
        }
        v.push(v[40].clone());
        v.sort_by_key(|l| l.paid_at);
        let avoid = (60..66).map(|n| format!("CHARGE20261120{n:08}")).collect();
        (v, avoid)
    }

    fn keys(breaks: &[MoneyBreak], kind: Kind) -> BTreeSet<String> {
        breaks
            .iter()
            .filter(|b| b.kind == kind.as_str())
            .map(|b| b.key.clone())
            .collect()
    }

    #[test]
    fn the_gateway_day_holds_its_planted_breaks_and_nothing_else() {
        let (lines, avoid) = lines();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let g = gateway_day(day(), &lines, &avoid, &mut rng);
        // Every line is a row; a refund adds its refund row.
        assert_eq!(g.trade.len(), lines.len() + 3);
        assert!(g.trade.windows(2).all(|w| w[0].at <= w[1].at));

        // Fees: two at the old tariff, one rounded up — nothing else.
        let fees = fee_breaks(&g.trade, CONTRACT_RATE);
        let legacy: BTreeSet<String> = g
            .trade
            .iter()
            .filter(|t| t.terminal == LEGACY_TERMINAL)
            .map(|t| t.agent_bill_no.clone())
            .collect();
        let rounded: Vec<&TradeRow> = g.trade.iter().filter(|t| t.bank == ROUND_UP_BANK).collect();
        assert_eq!(legacy.len(), 2);
        assert_eq!(rounded.len(), 1);
        let want: BTreeSet<String> = legacy
            .iter()
            .cloned()
            .chain([rounded[0].agent_bill_no.clone()])
            .collect();
        assert_eq!(keys(&fees, Kind::FeeMismatch), want);
        assert_eq!(fees.len(), 3, "{fees:?}");
        for b in &fees {
            let t = g.trade.iter().find(|t| t.agent_bill_no == b.key).unwrap();
            assert!(!avoid.contains(&b.key));
            assert_eq!(b.internal, Some(contract_fee(t.amount, CONTRACT_RATE)));
            assert_eq!(b.external, Some(t.fee));
            if legacy.contains(&b.key) {
                assert_eq!(
                    (t.rate, t.fee),
                    (LEGACY_RATE, contract_fee(t.amount, LEGACY_RATE))
                );
            } else {
                assert_eq!(t.fee, contract_fee(t.amount, CONTRACT_RATE) + d("0.01"));
            }
        }
        // Refund rows return the payment's fee; the revoked payment is free.
        for t in g.trade.iter().filter(|t| t.refund.is_some()) {
            let r = t.refund.as_ref().unwrap();
            assert_eq!(t.status, GatewayStatus::Refund);
            assert_eq!(r.amount, t.amount);
            assert_eq!(t.fee, -contract_fee(t.amount, CONTRACT_RATE));
            assert!(t.fee < Decimal::ZERO);
        }
        let revoked: Vec<_> = g
            .trade
            .iter()
            .filter(|t| t.status == GatewayStatus::Revoked)
            .collect();
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].fee, Decimal::ZERO);

        // Settlement: one unbooked, one short, one foreign debit — nothing else.
        let s = settlement_breaks(&g.trade, &g.fundflow);
        let missing = keys(&s, Kind::SettlementMissing);
        let short = keys(&s, Kind::SettlementAmountMismatch);
        let foreign = keys(&s, Kind::SettlementUnexplained);
        assert_eq!(
            (missing.len(), short.len(), foreign.len(), s.len()),
            (1, 1, 1, 3),
            "{s:?}"
        );
        let planted: BTreeSet<&String> = missing.iter().chain(&short).chain(&want).collect();
        assert_eq!(planted.len(), 5, "each fault meets its own bill");
        assert!(planted.iter().all(|b| !avoid.contains(*b)));
        let short_by = s
            .iter()
            .find(|b| b.kind == Kind::SettlementAmountMismatch.as_str())
            .map(|b| b.internal.unwrap() - b.external.unwrap())
            .unwrap();
        assert!(
            short_by > Decimal::ZERO && short_by < Decimal::ONE,
            "{short_by}"
        );
        let f = foreign
            .iter()
            .next()
            .unwrap()
            .strip_prefix("movement:")
            .unwrap();
        assert!(g.trade.iter().all(|t| t.agent_bill_no != f));
        let debit = g.fundflow.iter().find(|r| r.voucher == f).unwrap();
        assert_eq!(
            (debit.business_type.as_str(), debit.income),
            ("交易", false)
        );

        // Every other paid bill: exactly its gross in and its fee out.
        let paid: BTreeSet<&str> = g
            .trade
            .iter()
            .filter(|t| t.is_paid())
            .map(|t| t.agent_bill_no.as_str())
            .collect();
        assert_eq!(paid.len(), 79, "80 bills, one of them revoked");
        for bill in paid {
            let t = g.trade.iter().find(|t| t.agent_bill_no == bill).unwrap();
            let rows: Vec<&FundRow> = g.fundflow.iter().filter(|r| r.voucher == bill).collect();
            if missing.contains(bill) {
                assert!(rows.is_empty());
                let b = s.iter().find(|b| b.key == bill).unwrap();
                assert_eq!((b.internal, b.external), (Some(t.amount - t.fee), None));
                continue;
            }
            let gross = if short.contains(bill) {
                t.amount - short_by
            } else {
                t.amount
            };
            assert_eq!(rows.len(), 2, "{bill}: {rows:?}");
            assert_eq!(
                (
                    rows[0].business_type.as_str(),
                    rows[0].income,
                    rows[0].amount
                ),
                ("交易", true, gross)
            );
            assert_eq!(
                (
                    rows[1].business_type.as_str(),
                    rows[1].income,
                    rows[1].amount
                ),
                ("扣除交易手续费", false, t.fee)
            );
            assert!(rows.iter().all(|r| r.business_no == t.wechat_order_id));
        }
        // Refunds: one debit each, of the refund less the fee returned.
        for t in g.trade.iter().filter(|t| t.refund.is_some()) {
            let r = t.refund.as_ref().unwrap();
            let rows: Vec<&FundRow> = g
                .fundflow
                .iter()
                .filter(|f| f.voucher == r.refund_no)
                .collect();
            assert_eq!(rows.len(), 1);
            assert_eq!(
                (rows[0].business_type.as_str(), rows[0].income),
                ("退款", false)
            );
            assert_eq!(rows[0].amount, r.amount + t.fee);
            assert_eq!(rows[0].business_no, r.wechat_refund_id);
        }

        // The balance runs from the opening balance over the rows written.
        let mut balance = g.opening;
        for r in &g.fundflow {
            balance += r.signed();
            assert_eq!(r.balance, balance, "{r:?}");
            assert_eq!(r.at.date(), day());
        }
        assert!(g.fundflow.windows(2).all(|w| w[0].at <= w[1].at));
        let flow_nos: BTreeSet<&str> = g.fundflow.iter().map(|r| r.flow_no.as_str()).collect();
        assert_eq!(flow_nos.len(), g.fundflow.len());
        let withdrawals: Vec<_> = g
            .fundflow
            .iter()
            .filter(|r| r.business_type == "提现")
            .collect();
        assert_eq!(withdrawals.len(), 1);
        assert_eq!(withdrawals[0].at, day().and_hms_opt(10, 0, 0).unwrap());
        // 3 refunds + withdrawal + foreign debit + (78 settled bills × 2).
        assert_eq!(g.fundflow.len(), 3 + 1 + 1 + 78 * 2);
    }

    #[test]
    fn the_same_stream_makes_the_same_day() {
        let (lines, avoid) = lines();
        let a = gateway_day(day(), &lines, &avoid, &mut ChaCha8Rng::seed_from_u64(9));
        let b = gateway_day(day(), &lines, &avoid, &mut ChaCha8Rng::seed_from_u64(9));
        assert_eq!((a.trade, a.fundflow), (b.trade, b.fundflow));
    }

    #[test]
    fn the_files_read_back_through_the_readers() {
        let dir = tempfile::tempdir().unwrap();
        let (lines, avoid) = lines();
        let g = gateway_day(day(), &lines, &avoid, &mut ChaCha8Rng::seed_from_u64(7));

        let bill = dir.path().join("wechat.csv");
        write_trade_bill(&bill, &g.trade).unwrap();
        let mut got: Vec<Entry> = Vec::new();
        let r = read_statement(&bill, &Format::Wechat, |e| got.push(e)).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
        assert_eq!(r.layout.as_deref(), Some("WeChat ALL bill, 27 columns"));
        assert_eq!(got.len(), g.trade.len());
        assert_eq!(r.days.period(), Some((day(), day())));
        let fees: Decimal = got.iter().map(|e| e.fee.unwrap()).sum();
        assert_eq!(fees, g.trade.iter().map(|t| t.fee).sum::<Decimal>());
        let text = std::fs::read_to_string(&bill).unwrap();
        let summary = text.lines().last().unwrap();
        assert!(
            summary.contains(&format!("`{}", fee_text(fees))),
            "{summary}"
        );
        for (e, t) in got.iter().zip(&g.trade) {
            assert_eq!(e.agent_bill_no, t.agent_bill_no);
            assert_eq!(e.fee, Some(t.fee));
            assert_eq!(e.rate, Some(t.rate));
            assert_eq!(e.gateway_id.as_deref(), Some(t.wechat_order_id.as_str()));
            match &t.refund {
                Some(rf) => {
                    assert_eq!((e.kind, e.amount), (EntryKind::Refund, rf.amount));
                    assert_eq!(e.refund_id.as_deref(), Some(rf.refund_no.as_str()));
                    assert_eq!(
                        e.gateway_refund_id.as_deref(),
                        Some(rf.wechat_refund_id.as_str())
                    );
                }
                None => {
                    assert_eq!(
                        (e.kind, e.amount, e.status),
                        (EntryKind::Payment, t.amount, t.status)
                    );
                    assert_eq!(
                        (e.refund_id.as_deref(), e.gateway_refund_id.as_deref()),
                        (None, None)
                    );
                }
            }
        }

        let flow = dir.path().join("fundflow.csv");
        write_fundflow(&flow, &g.fundflow).unwrap();
        let r = read_statement(&flow, &Format::WechatFundflow, |_| {}).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            r.totals_match(),
            Some(true),
            "{:?}",
            r.totals_mismatch_reason()
        );
        assert_eq!(r.entries, g.fundflow.len() as u64);
        assert_eq!(r.days.period(), Some((day(), day())));
        let mut moves: Vec<Movement> = Vec::new();
        read_movements(
            &flow,
            &Format::WechatFundflow,
            &mut |m| moves.push(m),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(moves.len(), g.fundflow.len());
        for (m, f) in moves.iter().zip(&g.fundflow) {
            assert_eq!(
                m.ids,
                vec![f.voucher.clone(), f.business_no.clone(), f.flow_no.clone()]
            );
            assert_eq!((m.amount, m.balance), (f.signed(), Some(f.balance)));
            assert_eq!(
                (m.business_type.as_str(), m.at),
                (f.business_type.as_str(), Some(f.at))
            );
        }
        let net: Decimal = moves.iter().map(|m| m.amount).sum();
        assert_eq!(g.opening + net, moves.last().unwrap().balance.unwrap());
    }

    fn user(id: i64) -> UserRef {
        UserRef {
            id,
            name: format!("用户{id}"),
            mobile: format!("1380000{id:04}"),
            bind_code: format!("{:032x}", 0xabc0 + id),
        }
    }

    fn charge(user_id: i64, bill: &str, amount: &str, status: GatewayStatus) -> Charge {
        Charge {
            user_id,
            agent_bill_no: bill.to_owned(),
            amount: d(amount),
            status,
            paid_at: day().and_hms_opt(9, 0, 0).unwrap(),
        }
    }

    /// User 1 is credited twice for one charge, user 2's charge is never
    /// credited, user 3 is credited what was charged and invests, user 4's
    /// charge is refunded (srb had credited it), user 5 pays a charge that was
    /// revoked before srb heard of it.
    fn facts() -> MoneyFacts {
        MoneyFacts {
            credits: vec![(1, d("200.00")), (3, d("500.00")), (4, d("80.00"))],
            charges: vec![
                charge(1, "B1", "100.00", GatewayStatus::Success),
                charge(2, "B2", "50.00", GatewayStatus::Success),
                charge(3, "B3", "500.00", GatewayStatus::Success),
                charge(4, "B4", "80.00", GatewayStatus::Refund),
                charge(5, "B5", "30.00", GatewayStatus::Revoked),
            ],
            flows: vec![
                (3, TransType::InvestLock, d("150.00")),
                (3, TransType::InvestUnlock, d("150.00")),
                (3, TransType::InvestBack, d("151.50")),
                (3, TransType::InvestLock, d("40.00")),
                (1, TransType::Withdraw, d("20.00")),
            ],
        }
    }

    #[test]
    fn the_custodian_holds_what_it_charged() {
        let users: Vec<UserRef> = (1..=5).map(user).collect();
        let f = facts();
        let ours = f.ledger();
        let theirs = f.custodian();
        assert_eq!(ours[&1], (d("180.00"), Decimal::ZERO));
        assert_eq!(theirs[&1], (d("80.00"), Decimal::ZERO));
        assert_eq!(theirs.get(&2), Some(&(d("50.00"), Decimal::ZERO)));
        assert_eq!(ours.get(&2), None);
        assert_eq!(ours[&3], (d("461.50"), d("40.00")));
        assert_eq!(theirs[&3], ours[&3]);
        assert_eq!(
            (ours[&4], theirs[&4]),
            ((d("80.00"), Decimal::ZERO), (Decimal::ZERO, Decimal::ZERO))
        );
        assert_eq!(theirs[&5], (Decimal::ZERO, Decimal::ZERO));

        let stranger = CustodyAccount {
            user_code: "ffff".to_owned(),
            amount: d("10745.00"),
            freeze: d("5.00"),
        };
        let accounts = custody_accounts(&users, &f, std::slice::from_ref(&stranger));
        assert_eq!(accounts.len(), 6);
        assert!(accounts.windows(2).all(|w| w[0].user_code < w[1].user_code));
        let breaks = custody_breaks(&users, &f, &accounts);
        assert_eq!(
            keys(&breaks, Kind::CustodyBalanceMismatch),
            ["user:1", "user:2", "user:4"].map(String::from).into()
        );
        assert_eq!(
            keys(&breaks, Kind::CustodyUnknownAccount),
            ["custody:ffff".to_owned()].into()
        );
        let b2 = breaks.iter().find(|b| b.key == "user:2").unwrap();
        assert_eq!(
            (b2.internal, b2.external),
            (Some(Decimal::ZERO), Some(d("50.00")))
        );
        let unknown = breaks.iter().find(|b| b.key == "custody:ffff").unwrap();
        assert_eq!(
            (unknown.internal, unknown.external),
            (None, Some(d("10750.00")))
        );

        // The balances file reads back with every account.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hfb-balances.csv");
        let rows: Vec<(String, Decimal, Decimal)> = accounts
            .iter()
            .map(|a| (a.user_code.clone(), a.amount, a.freeze))
            .collect();
        crate::statement::balances::write_balances(&p, &rows).unwrap();
        let mut read = Vec::new();
        let r = read_balances(&p, &mut |b| read.push(b), &mut |_| {}).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            (r.rows, r.code_column.as_str(), r.has_freeze),
            (6, "user_code", true)
        );
        for (b, a) in read.iter().zip(&accounts) {
            assert_eq!(
                (&b.user_code, b.amount, b.freeze_amount),
                (&a.user_code, a.amount, Some(a.freeze))
            );
        }
    }
}
