//! The recharge order state machine (SPEC §3): 0→1, 1→2, 1→3, 0→3.

/// `recharge_order.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum OrderStatus {
    /// 0 已提交: created by commitCharge.
    Submitted,
    /// 1 支付中: the form went to the gateway.
    Paying,
    /// 2 已支付: credited.
    Paid,
    /// 3 支付失败.
    Failed,
}

/// A move the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order status cannot move from {from:?} to {to:?}")]
pub struct IllegalTransition {
    /// Current state.
    pub from: OrderStatus,
    /// Requested state.
    pub to: OrderStatus,
}

impl OrderStatus {
    /// Every state.
    pub const ALL: [OrderStatus; 4] = [Self::Submitted, Self::Paying, Self::Paid, Self::Failed];

    /// The stored code.
    pub fn code(self) -> i64 {
        match self {
            Self::Submitted => 0,
            Self::Paying => 1,
            Self::Paid => 2,
            Self::Failed => 3,
        }
    }

    /// The state for a stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Chinese label.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Submitted => "已提交",
            Self::Paying => "支付中",
            Self::Paid => "已支付",
            Self::Failed => "支付失败",
        }
    }

    /// Whether `self → to` is a legal move.
    pub fn can_move_to(self, to: OrderStatus) -> bool {
        matches!(
            (self, to),
            (Self::Submitted, Self::Paying)
                | (Self::Paying, Self::Paid)
                | (Self::Paying, Self::Failed)
                | (Self::Submitted, Self::Failed)
        )
    }

    /// Checks a move, naming it when illegal.
    pub fn transition(self, to: OrderStatus) -> Result<OrderStatus, IllegalTransition> {
        if self.can_move_to(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_four_legal_moves() {
        let mut legal = Vec::new();
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                if from.transition(to).is_ok() {
                    legal.push((from.code(), to.code()));
                } else {
                    assert_eq!(from.transition(to), Err(IllegalTransition { from, to }));
                }
            }
        }
        assert_eq!(legal, vec![(0, 1), (0, 3), (1, 2), (1, 3)]);
    }
}
