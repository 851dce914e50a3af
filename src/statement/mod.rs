//! Gateway statement files (对账单, SPEC §5): writers for the demo and the
//! tests, and streaming readers for every format ([`read_statement`]; the
//! account movements of fund-flow bills and account logs: [`read_movements`]).

pub mod alipay;
pub mod alipay_accountlog;
pub mod balances;
pub mod generic;
pub mod hfb;
pub mod read;
pub mod wechat;
pub mod wechat_fundflow;

pub use read::{
    DAY_TAIL, DaySpan, Days, Encoding, Entry, EntryKind, Format, FormatParseError, GenericMapping,
    ImportReport, Movement, RowError, StatementError, Totals, read_movements, read_statement,
};
