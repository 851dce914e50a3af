//! `TransTypeEnum` of srb and the effect of each flow on `user_account` (SPEC §2).

use rust_decimal::Decimal;

/// A flow's type, as srb's `TransTypeEnum` codes it (the column comment disagrees; the code is right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum TransType {
    /// 1 充值: money arrives from the gateway.
    Recharge,
    /// 2 投标锁定: available money is frozen for a bid.
    InvestLock,
    /// 3 放款解锁: the frozen bid money leaves when the loan is made.
    InvestUnlock,
    /// 4 撤标: a bid is cancelled, frozen money becomes available again.
    CancelLend,
    /// 5 放款到账: the borrower receives the loan.
    BorrowBack,
    /// 6 还款扣减: the borrower repays.
    ReturnDown,
    /// 7 出借回款: the lender is repaid.
    InvestBack,
    /// 8 提现: money leaves to the bank card.
    Withdraw,
}

/// Change of `(amount, freeze_amount)` that one flow of amount `x` causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceEffect {
    /// Δ `user_account.amount`.
    pub amount: Decimal,
    /// Δ `user_account.freeze_amount`.
    pub freeze: Decimal,
}

impl TransType {
    /// Every type, in code order.
    pub const ALL: [TransType; 8] = [
        Self::Recharge,
        Self::InvestLock,
        Self::InvestUnlock,
        Self::CancelLend,
        Self::BorrowBack,
        Self::ReturnDown,
        Self::InvestBack,
        Self::Withdraw,
    ];

    /// The `trans_type` code.
    pub fn code(self) -> i64 {
        match self {
            Self::Recharge => 1,
            Self::InvestLock => 2,
            Self::InvestUnlock => 3,
            Self::CancelLend => 4,
            Self::BorrowBack => 5,
            Self::ReturnDown => 6,
            Self::InvestBack => 7,
            Self::Withdraw => 8,
        }
    }

    /// The type for a `trans_type` code.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// srb's `trans_type_name` (Chinese).
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Recharge => "充值",
            Self::InvestLock => "投标锁定",
            Self::InvestUnlock => "放款解锁",
            Self::CancelLend => "撤标",
            Self::BorrowBack => "放款到账",
            Self::ReturnDown => "还款扣减",
            Self::InvestBack => "出借回款",
            Self::Withdraw => "提现",
        }
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            Self::Recharge => "recharge",
            Self::InvestLock => "invest lock",
            Self::InvestUnlock => "invest unlock",
            Self::CancelLend => "cancel bid",
            Self::BorrowBack => "loan received",
            Self::ReturnDown => "repayment",
            Self::InvestBack => "investment returned",
            Self::Withdraw => "withdrawal",
        }
    }

    /// The balance effect of a flow of (positive) amount `x`.
    pub fn effect(self, x: Decimal) -> BalanceEffect {
        let z = Decimal::ZERO;
        let (amount, freeze) = match self {
            Self::Recharge | Self::BorrowBack | Self::InvestBack => (x, z),
            Self::InvestLock => (-x, x),
            Self::InvestUnlock => (z, -x),
            Self::CancelLend => (x, -x),
            Self::ReturnDown | Self::Withdraw => (-x, z),
        };
        BalanceEffect { amount, freeze }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::from_cents;

    #[test]
    fn codes_round_trip() {
        for t in TransType::ALL {
            assert_eq!(TransType::from_code(t.code()), Some(t));
        }
        assert_eq!(TransType::from_code(0), None);
        assert_eq!(TransType::from_code(9), None);
    }

    #[test]
    fn effects_match_spec_table() {
        let x = from_cents(10_000);
        let e = |t: TransType| {
            let e = t.effect(x);
            (e.amount, e.freeze)
        };
        let z = Decimal::ZERO;
        assert_eq!(e(TransType::Recharge), (x, z));
        assert_eq!(e(TransType::InvestLock), (-x, x));
        assert_eq!(e(TransType::InvestUnlock), (z, -x));
        assert_eq!(e(TransType::CancelLend), (x, -x));
        assert_eq!(e(TransType::BorrowBack), (x, z));
        assert_eq!(e(TransType::ReturnDown), (-x, z));
        assert_eq!(e(TransType::InvestBack), (x, z));
        assert_eq!(e(TransType::Withdraw), (-x, z));
    }
}
