//! Gateway statement files (对账单, SPEC §5).

pub mod hfb;
pub mod wechat;
