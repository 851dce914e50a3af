//! The fee check (SPEC §4 `fee_mismatch`): every successful payment of a
//! trade bill should cost amount × the contracted rate, rounded half-up to
//! the cent per order, and a refund should return the same share of it.
//!
//! The check runs on each row as the bill is read ([`FeeCheck::entry`]), so
//! it adds one multiplication per row to a run and keeps nothing but the
//! rows that break.

use super::finding::{Finding, Kind};
use crate::money::format_amount;
use crate::statement::hfb::GatewayStatus;
use crate::statement::{Entry, EntryKind};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use std::collections::BTreeMap;

/// A `--fee-rate` value that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeRateError {
    /// Not a number or a percentage.
    #[error(
        "--fee-rate '{0}' is not a rate: write it as a percentage like 0.6% (or a fraction like 0.006)"
    )]
    NotARate(String),
    /// A bare number so large it is surely a percentage without its sign.
    #[error(
        "--fee-rate '{0}' would be {1}%: write {0}% if that is the percentage meant, or the fraction (0.006 for 0.6%)"
    )]
    Ambiguous(String, String),
    /// Below zero or above 100 %.
    #[error("--fee-rate '{0}' is out of range: a fee rate is between 0% and 100%")]
    OutOfRange(String),
    /// A channel name that is not a statement format with fees.
    #[error(
        "--fee-rate '{0}': '{1}' is not a trade bill format (expected wechat, alipay, hfb or generic)"
    )]
    UnknownFormat(String, String),
    /// The same channel twice with different rates.
    #[error("--fee-rate is given twice for {0}")]
    Twice(String),
}

/// Reads a fee rate: `0.6%`, `0.38%`, `1%` or the fraction `0.006`.
pub fn parse_rate(text: &str) -> Result<Decimal, FeeRateError> {
    let t = text.trim();
    let not = || FeeRateError::NotARate(t.to_owned());
    let (number, percent) = match t.strip_suffix(['%', '％']) {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let n: Decimal = number.parse().map_err(|_| not())?;
    let rate = if percent {
        n / Decimal::ONE_HUNDRED
    } else if n >= Decimal::new(1, 1) {
        // 0.6 without a sign is a 60 % tariff no gateway charges: surely 0.6 %.
        return Err(FeeRateError::Ambiguous(
            t.to_owned(),
            (n * Decimal::ONE_HUNDRED).normalize().to_string(),
        ));
    } else {
        n
    };
    if rate.is_sign_negative() || rate > Decimal::ONE {
        return Err(FeeRateError::OutOfRange(t.to_owned()));
    }
    Ok(rate.normalize())
}

/// A rate as a percentage with at least two decimals: `0.60%`, `0.375%`.
pub fn rate_text(rate: Decimal) -> String {
    let mut p = (rate * Decimal::ONE_HUNDRED).normalize();
    if p.scale() < 2 {
        p.rescale(2);
    }
    format!("{p}%")
}

/// The contracted fee rates of a run: one for every trade bill, or one per
/// format (`--fee-rate wechat=0.6% --fee-rate alipay=0.38%`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeeRates {
    /// For every format not named in `per_format`.
    pub default: Option<Decimal>,
    /// Per format word (`wechat`, `alipay`, `hfb`, `generic`).
    pub per_format: BTreeMap<String, Decimal>,
}

impl FeeRates {
    /// The formats a rate may name.
    pub const FORMATS: [&'static str; 4] = ["wechat", "alipay", "hfb", "generic"];

    /// Reads the `--fee-rate` values in order: `RATE` or `FORMAT=RATE`.
    pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Self, FeeRateError> {
        let mut r = Self::default();
        for a in args {
            let a = a.as_ref();
            match a.split_once('=') {
                Some((fmt, rate)) => {
                    let f = fmt.trim().to_ascii_lowercase();
                    if !Self::FORMATS.contains(&f.as_str()) {
                        return Err(FeeRateError::UnknownFormat(a.to_owned(), fmt.to_owned()));
                    }
                    let rate = parse_rate(rate)?;
                    if r.per_format
                        .insert(f.clone(), rate)
                        .is_some_and(|old| old != rate)
                    {
                        return Err(FeeRateError::Twice(f));
                    }
                }
                None => {
                    let rate = parse_rate(a)?;
                    if r.default.replace(rate).is_some_and(|old| old != rate) {
                        return Err(FeeRateError::Twice("every format".into()));
                    }
                }
            }
        }
        Ok(r)
    }

    /// Whether no rate was given (no fee check).
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.per_format.is_empty()
    }

    /// The rate for a format's bills, if any. A rate given for every format
    /// applies to the channels that bill fees (WeChat, Alipay); payrecon's own
    /// hfb statement carries `fee_amt = 0` by the gateway's contract, so it is
    /// checked only against a rate named for it (`hfb=0%`).
    pub fn for_format(&self, format: &str) -> Option<Decimal> {
        self.per_format.get(format).copied().or(self
            .default
            .filter(|_| matches!(format, "wechat" | "alipay")))
    }

    /// The rates as the user wrote them, for the summary: `wechat=0.60%`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .per_format
            .iter()
            .map(|(f, r)| format!("{f}={}", rate_text(*r)))
            .collect();
        if let Some(r) = self.default {
            parts.insert(0, rate_text(r));
        }
        parts.join(", ")
    }
}

/// Rounds to the cent, half away from zero (half-up for the positive
/// amounts fees are).
pub fn to_cent(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The fee the contract sets for `amount`: amount × rate, half-up to the cent.
pub fn expected_fee(amount: Decimal, rate: Decimal) -> Decimal {
    to_cent(amount * rate)
}

/// What the fee check found in one trade bill (`summary.json` `fees`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileFees {
    /// The bill's file name.
    pub file: String,
    /// Its format.
    pub format: &'static str,
    /// The contracted rate, as a percentage (`0.60%`).
    pub rate: String,
    /// Successful payments whose fee was checked.
    pub payments_checked: u64,
    /// Refunds whose returned fee was checked.
    pub refunds_checked: u64,
    /// Rows without a fee column or value: not checked.
    pub without_fee: u64,
    /// Fees the contract sets for the payments, less the fees it returns on
    /// the refunds (exact decimal text).
    pub expected: String,
    /// What the bill charged, less what it returned (exact decimal text).
    pub charged: String,
    /// charged − expected: positive when the gateway took more.
    pub difference: String,
    /// `fee_mismatch` findings.
    pub mismatches: u64,
}

/// The fee check of one trade bill, fed row by row.
#[derive(Debug)]
pub struct FeeCheck {
    file: String,
    format: &'static str,
    rate: Decimal,
    /// Whether the channel returns the fee's share on a refund (WeChat does;
    /// for Alipay a returned fee of zero is accepted).
    returns_fee_on_refund: bool,
    expected: Decimal,
    charged: Decimal,
    payments: u64,
    refunds: u64,
    without_fee: u64,
    /// The breaks found.
    pub findings: Vec<Finding>,
    /// Their keys: a row the bill lists twice is one break.
    keys: std::collections::HashSet<String>,
}

impl FeeCheck {
    /// A check of the bill `file` in `format` at the contracted `rate`.
    pub fn new(file: &str, format: &'static str, rate: Decimal) -> Self {
        Self {
            file: file.to_owned(),
            format,
            rate,
            returns_fee_on_refund: format != "alipay",
            expected: Decimal::ZERO,
            charged: Decimal::ZERO,
            payments: 0,
            refunds: 0,
            without_fee: 0,
            findings: Vec::new(),
            keys: std::collections::HashSet::new(),
        }
    }

    /// Checks one row of the bill.
    pub fn entry(&mut self, e: &Entry) {
        let Some(fee) = e.fee else {
            self.without_fee += 1;
            return;
        };
        match e.kind {
            EntryKind::Payment if e.status != GatewayStatus::Revoked => self.payment(e, fee),
            EntryKind::Refund => self.refund(e, fee.abs()),
            EntryKind::Payment => {}
        }
    }

    fn payment(&mut self, e: &Entry, charged: Decimal) {
        self.payments += 1;
        let expected = expected_fee(e.amount, self.rate);
        self.expected += expected;
        self.charged += charged;
        let wrong_rate = e.rate.filter(|r| *r != self.rate);
        if charged == expected && wrong_rate.is_none() {
            return;
        }
        if !self.keys.insert(e.agent_bill_no.clone()) {
            return;
        }
        let (amount, contract) = (format_amount(e.amount), rate_text(self.rate));
        let (exp, chg) = (format_amount(expected), fee_text(charged));
        let (dir_zh, dir_en) = direction(charged - expected);
        let (stated_zh, stated_en) = match wrong_rate {
            Some(r) => (
                format!(
                    "；账单所列费率为 {}，与合同费率 {contract} 不同",
                    rate_text(r)
                ),
                format!(
                    "; the bill states a rate of {}, not the contract's {contract}",
                    rate_text(r)
                ),
            ),
            None => (String::new(), String::new()),
        };
        self.findings.push(
            Finding::new(Kind::FeeMismatch, e.agent_bill_no.as_str())
                .bill(&e.agent_bill_no)
                .amounts(Some(expected), Some(charged))
                .seen(e.paid_at, None)
                .explain(
                    format!(
                        "订单 {bill} 支付 {amount}，按合同费率 {contract} 应收手续费 {exp}，渠道实收 {chg}：{dir_zh}{stated_zh}（{file} 第 {line} 行）",
                        bill = e.agent_bill_no, file = self.file, line = e.line
                    ),
                    format!(
                        "payment {bill} of {amount}: at the contract rate {contract} the fee is {exp}, the gateway charged {chg} — {dir_en}{stated_en} ({file}, line {line})",
                        bill = e.agent_bill_no, file = self.file, line = e.line
                    ),
                ),
        );
    }

    fn refund(&mut self, e: &Entry, returned: Decimal) {
        self.refunds += 1;
        let expected = expected_fee(e.amount, self.rate);
        // A channel that keeps its fee on refunds returns nothing: not a break.
        if returned.is_zero() && !self.returns_fee_on_refund {
            return;
        }
        self.expected -= expected;
        self.charged -= returned;
        if returned == expected {
            return;
        }
        let (amount, contract) = (format_amount(e.amount), rate_text(self.rate));
        let (exp, ret) = (format_amount(expected), fee_text(returned));
        let key = refund_key(&e.agent_bill_no, e.refund_id.as_deref());
        if !self.keys.insert(key.clone()) {
            return;
        }
        let (dir_zh, dir_en) = if returned < expected {
            (
                format!("少退手续费 {}", format_amount(expected - returned)),
                format!(
                    "the gateway returned {} less fee than the contract",
                    format_amount(expected - returned)
                ),
            )
        } else {
            (
                format!("多退手续费 {}", format_amount(returned - expected)),
                format!(
                    "the gateway returned {} more fee than the contract",
                    format_amount(returned - expected)
                ),
            )
        };
        self.findings.push(
            Finding::new(Kind::FeeMismatch, key)
                .bill(&e.agent_bill_no)
                .amounts(Some(expected), Some(returned))
                .seen(e.booked_at(), None)
                .explain(
                    format!(
                        "订单 {bill} 退款 {amount}，按合同费率 {contract} 应退回手续费 {exp}，渠道退回 {ret}：{dir_zh}（{file} 第 {line} 行）",
                        bill = e.agent_bill_no, file = self.file, line = e.line
                    ),
                    format!(
                        "refund of {amount} on {bill}: at the contract rate {contract} the fee returned should be {exp}, the gateway returned {ret} — {dir_en} ({file}, line {line})",
                        bill = e.agent_bill_no, file = self.file, line = e.line
                    ),
                ),
        );
    }

    /// The bill's totals.
    pub fn summary(&self) -> FileFees {
        FileFees {
            file: self.file.clone(),
            format: self.format,
            rate: rate_text(self.rate),
            payments_checked: self.payments,
            refunds_checked: self.refunds,
            without_fee: self.without_fee,
            expected: format_amount(self.expected),
            charged: format_amount(self.charged),
            difference: format_amount(self.charged - self.expected),
            mismatches: self.findings.len() as u64,
        }
    }
}

/// The key of a finding on a refund of `bill`: `BILL#refund:REFUNDNO`, or
/// `BILL#refund` when the bill names no refund number (the fee and the
/// settlement checks key refunds alike).
pub fn refund_key(bill: &str, refund: Option<&str>) -> String {
    match refund.filter(|r| !r.is_empty()) {
        Some(r) => format!("{bill}#refund:{r}"),
        None => format!("{bill}#refund"),
    }
}

/// A fee as written when it has sub-cent digits (`0.00528`), else to the cent.
fn fee_text(fee: Decimal) -> String {
    if to_cent(fee) == fee {
        format_amount(fee)
    } else {
        fee.normalize().to_string()
    }
}

/// charged − expected in words.
fn direction(over: Decimal) -> (String, String) {
    if over.is_sign_positive() && !over.is_zero() {
        (
            format!("渠道多收 {}", fee_text(over)),
            format!(
                "the gateway charged {} more than the contract",
                fee_text(over)
            ),
        )
    } else if over.is_zero() {
        (
            "金额相同但费率不符".into(),
            "the same amount, but not the contract's rate".into(),
        )
    } else {
        (
            format!("渠道少收 {}", fee_text(-over)),
            format!(
                "the gateway charged {} less than the contract",
                fee_text(-over)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn rates_are_read_as_percent_or_fraction_and_guessing_is_refused() {
        assert_eq!(parse_rate("0.6%").unwrap(), d("0.006"));
        assert_eq!(parse_rate("0.38%").unwrap(), d("0.0038"));
        assert_eq!(parse_rate(" 1 % ").unwrap(), d("0.01"));
        assert_eq!(parse_rate("0.006").unwrap(), d("0.006"));
        assert!(matches!(
            parse_rate("0.6"),
            Err(FeeRateError::Ambiguous(..))
        ));
        assert!(matches!(parse_rate("abc"), Err(FeeRateError::NotARate(_))));
        assert!(matches!(
            parse_rate("-1%"),
            Err(FeeRateError::OutOfRange(_))
        ));
        assert_eq!(rate_text(d("0.006")), "0.60%");
        assert_eq!(rate_text(d("0.00375")), "0.375%");
        let r = FeeRates::parse_args(&["wechat=0.6%", "alipay=0.38%"]).unwrap();
        assert_eq!(r.for_format("wechat"), Some(d("0.006")));
        assert_eq!(r.for_format("hfb"), None);
        let all = FeeRates::parse_args(&["0.6%"]).unwrap();
        assert_eq!(all.for_format("alipay"), Some(d("0.006")));
        assert_eq!(
            all.for_format("hfb"),
            None,
            "hfb bills no fee: only a rate named for it"
        );
        assert_eq!(r.describe(), "alipay=0.38%, wechat=0.60%");
        assert!(FeeRates::parse_args(&["paypal=1%"]).is_err());
        assert!(FeeRates::parse_args(&["1%", "2%"]).is_err());
    }

    /// Hand-computed: 0.88 × 0.6 % = 0.00528 → 0.01; 0.17 → 0.00102 → 0.00;
    /// 2.50 × 0.6 % = 0.015 exactly half a cent → 0.02 (half-up, not to even);
    /// 0.75 × 0.6 % = 0.0045 → 0.00.
    #[test]
    fn fees_round_half_up_to_the_cent_per_order() {
        let r = d("0.006");
        assert_eq!(expected_fee(d("0.88"), r), d("0.01"));
        assert_eq!(expected_fee(d("0.17"), r), d("0.00"));
        assert_eq!(expected_fee(d("2.50"), r), d("0.02"));
        assert_eq!(expected_fee(d("7.50"), r), d("0.05"));
        assert_eq!(expected_fee(d("0.75"), r), d("0.00"));
        assert_eq!(expected_fee(d("100.00"), d("0.0038")), d("0.38"));
        assert_eq!(expected_fee(d("131.58"), d("0.0038")), d("0.50"));
    }

    fn entry(bill: &str, kind: EntryKind, amount: &str, fee: &str) -> Entry {
        Entry {
            line: 2,
            agent_bill_no: bill.into(),
            kind,
            status: if kind == EntryKind::Refund {
                GatewayStatus::Refund
            } else {
                GatewayStatus::Success
            },
            amount: d(amount),
            fee: Some(d(fee)),
            bind_code: None,
            paid_at: None,
            refunded_at: None,
            gateway_id: None,
            refund_id: Some("R1".into()).filter(|_| kind == EntryKind::Refund),
            gateway_refund_id: None,
            rate: None,
        }
    }

    #[test]
    fn a_fee_charged_over_the_contract_is_one_finding_with_its_direction() {
        let mut c = FeeCheck::new("wx.csv", "wechat", d("0.006"));
        c.entry(&entry("A", EntryKind::Payment, "0.88", "0.01000"));
        c.entry(&entry("B", EntryKind::Payment, "0.17", "0.00000"));
        c.entry(&entry("C", EntryKind::Payment, "2.50", "0.03000"));
        assert_eq!(c.findings.len(), 1);
        let f = &c.findings[0];
        assert_eq!((f.kind, f.key.as_str()), (Kind::FeeMismatch, "C"));
        assert_eq!(f.amount_internal, Some(d("0.02")));
        assert_eq!(f.difference, Some(d("-0.01")));
        assert!(
            f.detail_en.contains("charged 0.01 more than the contract"),
            "{}",
            f.detail_en
        );
        assert!(f.detail_zh.contains("渠道多收 0.01"), "{}", f.detail_zh);
        let s = c.summary();
        assert_eq!(
            (
                s.expected.as_str(),
                s.charged.as_str(),
                s.difference.as_str()
            ),
            ("0.03", "0.04", "0.01")
        );
    }

    #[test]
    fn a_stated_rate_other_than_the_contract_is_a_break_even_when_the_cent_agrees() {
        let mut c = FeeCheck::new("wx.csv", "wechat", d("0.006"));
        let mut e = entry("A", EntryKind::Payment, "0.17", "0.00000");
        e.rate = Some(d("0.01"));
        c.entry(&e);
        assert_eq!(c.findings.len(), 1);
        assert!(c.findings[0].detail_en.contains("states a rate of 1.00%"));
    }

    /// A refund of 50.00 at 0.6 % returns 0.30 of the fee; WeChat writes it
    /// negative. Alipay may keep its fee: zero returned is accepted there.
    #[test]
    fn refunds_return_the_proportional_fee() {
        let mut c = FeeCheck::new("wx.csv", "wechat", d("0.006"));
        c.entry(&entry("A", EntryKind::Refund, "50.00", "-0.30000"));
        assert!(c.findings.is_empty());
        c.entry(&entry("B", EntryKind::Refund, "50.00", "0.00000"));
        assert_eq!(c.findings.len(), 1);
        assert_eq!(c.findings[0].key, "B#refund:R1");
        assert!(
            c.findings[0].detail_en.contains("returned 0.30 less fee"),
            "{}",
            c.findings[0].detail_en
        );
        let mut a = FeeCheck::new("ali.csv", "alipay", d("0.006"));
        a.entry(&entry("B", EntryKind::Refund, "50.00", "0.00"));
        a.entry(&entry("C", EntryKind::Refund, "50.00", "0.30"));
        assert!(a.findings.is_empty());
    }
}
