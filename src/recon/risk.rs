//! The amount at risk: how much money the open findings put in doubt,
//! counting each bill once and each account once.
//!
//! One bill often carries several findings (`missing_internal`,
//! `notify_exhausted` and `order_stuck` for the same unpaid recharge); adding
//! their differences would count the same money three times. So findings are
//! grouped — by `agentBillNo` where they have one, else by user, else by
//! their key — and each group counts the largest |difference| among its
//! findings. File-level findings (a statement's footer total, a refused file,
//! unverified flows) describe whole files, overlap the per-bill ones, and are
//! summed apart.

use super::Kind;
use crate::money::format_amount;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;

/// What one finding's money belongs to when the amount at risk is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RiskGroup {
    /// One recharge (`agentBillNo`).
    Bill(String),
    /// One account (a user's balance).
    Account(i64),
    /// Anything else with an amount, by its key (`token:…`).
    Other(String),
    /// A whole statement file or day: counted apart.
    File(String),
}

impl RiskGroup {
    /// The group of a finding.
    pub fn of(kind: Kind, key: &str, bill: Option<&str>, user: Option<i64>) -> Self {
        match kind {
            Kind::StatementTotalMismatch | Kind::StatementRefused | Kind::FlowsUnverified => {
                Self::File(key.to_owned())
            }
            _ => match (bill, user) {
                (Some(b), _) if !b.is_empty() => Self::Bill(b.to_owned()),
                (_, Some(u)) => Self::Account(u),
                _ => Self::Other(key.to_owned()),
            },
        }
    }
}

/// The amount at risk of a set of findings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AtRisk {
    /// Bills, accounts and other keys, each counted once.
    pub total: Decimal,
    /// The part from bills.
    pub bills: Decimal,
    /// The part from accounts.
    pub accounts: Decimal,
    /// File-level totals (not in `total`).
    pub file_level: Decimal,
    /// How many bills carry money.
    pub bill_count: u64,
    /// How many accounts carry money.
    pub account_count: u64,
}

impl Serialize for AtRisk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("AtRisk", 6)?;
        st.serialize_field("total", &format_amount(self.total))?;
        st.serialize_field("bills", &format_amount(self.bills))?;
        st.serialize_field("accounts", &format_amount(self.accounts))?;
        st.serialize_field("file_level", &format_amount(self.file_level))?;
        st.serialize_field("bill_count", &self.bill_count)?;
        st.serialize_field("account_count", &self.account_count)?;
        st.end()
    }
}

/// Counts findings one at a time; [`RiskCounter::finish`] gives the amount
/// at risk and what each finding contributed to it.
#[derive(Debug, Default)]
pub struct RiskCounter {
    /// Per group: the largest |difference| and the index of the finding holding it.
    groups: HashMap<RiskGroup, (Decimal, usize)>,
    seen: usize,
}

impl RiskCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next finding (findings are numbered 0, 1, … in the order added).
    pub fn add(
        &mut self,
        kind: Kind,
        key: &str,
        bill: Option<&str>,
        user: Option<i64>,
        difference: Option<Decimal>,
    ) {
        let i = self.seen;
        self.seen += 1;
        let d = difference.unwrap_or_default().abs();
        let g = RiskGroup::of(kind, key, bill, user);
        match self.groups.get_mut(&g) {
            // The first finding of a group keeps the amount on a tie, so the
            // contribution lands on the earliest (most severe, when sorted) row.
            Some(e) if d > e.0 => *e = (d, i),
            Some(_) => {}
            None => {
                self.groups.insert(g, (d, i));
            }
        }
    }

    /// The amount at risk, and per finding (in the order added) the amount it
    /// contributes: a group's largest difference on one of its findings, zero
    /// on the others, so that the contributions add up to the total (and the
    /// file-level findings' to `file_level`).
    pub fn finish(self) -> (AtRisk, Vec<Decimal>) {
        let mut r = AtRisk::default();
        let mut each = vec![Decimal::ZERO; self.seen];
        for (g, (d, i)) in self.groups {
            if let Some(c) = each.get_mut(i) {
                *c = d;
            }
            match g {
                RiskGroup::Bill(_) => {
                    r.bills += d;
                    r.total += d;
                    if !d.is_zero() {
                        r.bill_count += 1;
                    }
                }
                RiskGroup::Account(_) => {
                    r.accounts += d;
                    r.total += d;
                    if !d.is_zero() {
                        r.account_count += 1;
                    }
                }
                RiskGroup::Other(_) => r.total += d,
                RiskGroup::File(_) => r.file_level += d,
            }
        }
        (r, each)
    }
}

/// The amount at risk of findings.
pub fn at_risk<'a>(findings: impl IntoIterator<Item = &'a super::Finding>) -> AtRisk {
    let mut c = RiskCounter::new();
    for f in findings {
        c.add(
            f.kind,
            &f.key,
            f.agent_bill_no.as_deref(),
            f.user_id,
            f.difference,
        );
    }
    c.finish().0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recon::Finding;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn a_bill_with_three_findings_counts_once_and_files_apart() {
        let bill = |k: Kind, amt: &str| {
            Finding::new(k, "CHARGE1")
                .bill("CHARGE1")
                .user(Some(7))
                .amounts(None, Some(d(amt)))
        };
        let fs = vec![
            bill(Kind::MissingInternal, "100.00"),
            bill(Kind::NotifyExhausted, "100.00"),
            bill(Kind::OrderStuck, "100.00"),
            // Another bill: credited twice, 50.00 too much.
            Finding::new(Kind::DuplicateCredit, "CHARGE2")
                .bill("CHARGE2")
                .user(Some(8))
                .amounts(Some(d("100.00")), Some(d("50.00"))),
            // An account whose balance is 0.30 short, and the same account's freeze 12.00 over.
            Finding::new(Kind::BalanceMismatch, "user:8")
                .user(Some(8))
                .amounts(Some(d("1.00")), Some(d("1.30"))),
            Finding::new(Kind::BalanceMismatch, "user:8")
                .user(Some(8))
                .amounts(Some(d("12.00")), None),
            Finding::new(Kind::StatementTotalMismatch, "wechat.csv")
                .amounts(Some(d("900.00")), Some(d("1000.00"))),
            Finding::new(Kind::SchemaRisk, "trans_flow"),
        ];
        let mut c = RiskCounter::new();
        for f in &fs {
            c.add(
                f.kind,
                &f.key,
                f.agent_bill_no.as_deref(),
                f.user_id,
                f.difference,
            );
        }
        let (r, each) = c.finish();
        assert_eq!(r.bills, d("150.00"));
        assert_eq!(r.accounts, d("12.00"));
        assert_eq!(r.total, d("162.00"));
        assert_eq!(r.file_level, d("100.00"));
        assert_eq!((r.bill_count, r.account_count), (2, 1));
        assert_eq!(
            each,
            vec![
                d("100.00"),
                d("0"),
                d("0"),
                d("50.00"),
                d("0"),
                d("12.00"),
                d("100.00"),
                d("0")
            ]
        );
        assert_eq!(at_risk(&fs), r);
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["total"], "162.00");
        assert_eq!(json["file_level"], "100.00");
    }
}
