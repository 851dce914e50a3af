//! The payment domain: trans types and their balance effects (SPEC §2), the
//! recharge order state machine, callback outcomes and idempotency states (§3).

mod order;
mod trans;

pub use order::{IllegalTransition, OrderStatus};
pub use trans::{BalanceEffect, TransType};

/// What happened to one inbound callback attempt (`notify_log.outcome`, SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOutcome {
    /// The attempt credited the account.
    Credited,
    /// Already done; answered `success` without crediting.
    Idempotent,
    /// The sign did not verify; answered `fail`.
    RejectedSign,
    /// The payload differs from the first one for this `agentBillNo`; answered `fail`.
    RejectedConflict,
    /// An error (database, unknown bill, …); answered `fail`.
    Failed,
    /// `resultCode` was not `0001`: the payment did not succeed.
    Ignored,
}

impl NotifyOutcome {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credited => "credited",
            Self::Idempotent => "idempotent",
            Self::RejectedSign => "rejected_sign",
            Self::RejectedConflict => "rejected_conflict",
            Self::Failed => "failed",
            Self::Ignored => "ignored",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "credited" => Self::Credited,
            "idempotent" => Self::Idempotent,
            "rejected_sign" => Self::RejectedSign,
            "rejected_conflict" => Self::RejectedConflict,
            "failed" => Self::Failed,
            "ignored" => Self::Ignored,
            _ => return None,
        })
    }
}

/// State of an idempotency record (`idempotency_record.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyStatus {
    /// Claimed, work under way (or the worker died: see `locked_at`).
    Processing,
    /// Done; `response_body` is replayed to repeats.
    Succeeded,
    /// Done and failed; a repeat may try again.
    Failed,
}

impl IdempotencyStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "processing" => Self::Processing,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// `idempotency_record.source` of the recharge notify (SPEC §3).
pub const SOURCE_HFB_NOTIFY: &str = "hfb-notify";
/// `idempotency_record.source` of one-time tokens (令牌, SPEC §2).
pub const SOURCE_TOKEN: &str = "token";
