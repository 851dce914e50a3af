//! The seeds' payment side (SPEC §2): hfb's sign, commitCharge, the recharge
//! notify handler in three variants, and the other flow types.

pub mod charge;
pub mod ledger;
pub mod notify;
pub mod sign;
pub mod token;

pub use charge::{ChargeForm, commit_charge, new_agent_bill_no};
pub use ledger::{FlowRequest, LedgerError, UserRef, apply_flow, create_user};
pub use notify::{
    Committed, Handled, HandlerKind, NotifyFault, handle_notify, notify_params, request_hash,
};
pub use sign::{SIGN_KEY, get_sign, sign_source, verify_sign};

/// hfb's merchant id for srb.
pub const AGENT_ID: &str = "999888";
/// The only response body that stops hfb's retries.
pub const SUCCESS: &str = "success";
/// The body srb answers on a bad sign or an error.
pub const FAIL: &str = "fail";
/// `resultCode` of a successful charge.
pub const RESULT_OK: &str = "0001";
