//! Gateway statement files (对账单, SPEC §5): writers for the demo and the
//! tests, and streaming readers for every format ([`read_statement`]).

pub mod alipay;
pub mod alipay_accountlog;
pub mod generic;
pub mod hfb;
pub mod read;
pub mod wechat;
pub mod wechat_fundflow;

pub use read::{
    DAY_TAIL, DaySpan, Days, Encoding, Entry, EntryKind, Format, FormatParseError, GenericMapping,
    ImportReport, RowError, StatementError, Totals, read_statement,
};
