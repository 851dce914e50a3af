//! Gateway statement files (对账单, SPEC §5): writers for the demo and the
//! tests, and streaming readers for every format ([`read_statement`]).

pub mod alipay;
pub mod generic;
pub mod hfb;
pub mod read;
pub mod wechat;

pub use read::{
    Encoding, Entry, EntryKind, Format, FormatParseError, GenericMapping, ImportReport, RowError,
    StatementError, Totals, read_statement,
};
