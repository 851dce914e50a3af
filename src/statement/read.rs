//! Reading gateway statement files (SPEC §5): the types every importer
//! shares, [`read_statement`] (the dispatch to each format's reader) and the
//! streaming line decoder under them.
//!
//! Every reader streams: a file is decoded one physical line at a time
//! (UTF-8 is validated, GBK is decoded with `encoding_rs`) and handed to one
//! `csv::Reader`, so memory does not grow with the file. Each good row
//! becomes an [`Entry`] given to the caller's callback; each bad row becomes
//! a [`RowError`] with the file's physical 1-based line number, and reading
//! goes on. What stops a read is a file that cannot be the format asked for
//! ([`StatementError`]): unreadable, empty, in the wrong encoding or with
//! another format's header.

use super::hfb::GatewayStatus;
use crate::money::{format_amount, parse_amount};
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Which kind of statement a file is (SPEC §5), as the user names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// payrecon's own hfb statement: UTF-8 CSV, no footer.
    Hfb,
    /// WeChat Pay trade bill: UTF-8, backticked fields, summary footer.
    Wechat,
    /// Alipay business detail bill: GBK, `#` lines above and below the table.
    Alipay,
    /// Any CSV, read through the user's column mapping.
    Generic(GenericMapping),
    /// WeChat Pay fund-flow bill (资金账单): footer-checked, its rows are not
    /// trades but account movements ([`read_movements`]).
    WechatFundflow,
    /// Alipay account log (账务明细): footer-checked, its rows are not trades
    /// but account movements ([`read_movements`]).
    AlipayAccountlog,
}

impl Format {
    /// The words the command line accepts, in order.
    pub const WORDS: [&'static str; 6] = [
        "hfb",
        "wechat",
        "alipay",
        "generic",
        "wechat-fundflow",
        "alipay-accountlog",
    ];

    /// Reads a command-line word (`hfb|wechat|alipay|generic|wechat-fundflow|alipay-accountlog`,
    /// any case, `_` for `-` allowed). `generic` needs `mapping`; the other
    /// formats ignore it.
    pub fn parse(word: &str, mapping: Option<GenericMapping>) -> Result<Self, FormatParseError> {
        match word.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "hfb" => Ok(Self::Hfb),
            "wechat" => Ok(Self::Wechat),
            "alipay" => Ok(Self::Alipay),
            "wechat-fundflow" => Ok(Self::WechatFundflow),
            "alipay-accountlog" => Ok(Self::AlipayAccountlog),
            "generic" => mapping
                .map(Self::Generic)
                .ok_or(FormatParseError::MappingRequired),
            _ => Err(FormatParseError::UnknownFormat(word.to_owned())),
        }
    }

    /// The format's word, as used in reports (`"hfb"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hfb => "hfb",
            Self::Wechat => "wechat",
            Self::Alipay => "alipay",
            Self::Generic(_) => "generic",
            Self::WechatFundflow => "wechat-fundflow",
            Self::AlipayAccountlog => "alipay-accountlog",
        }
    }

    /// Whether files of this format carry their own totals (a footer).
    pub fn has_footer(&self) -> bool {
        format_has_footer(self.name())
    }

    /// Whether the rows of this format are trades to reconcile (`false` for
    /// the fund-flow bill and the account log, which are read and
    /// footer-checked only).
    pub fn has_trades(&self) -> bool {
        format_has_trades(self.name())
    }
}

/// Every word of [`Format::WORDS`] but `generic`, which needs a mapping and is refused
/// here with [`FormatParseError::MappingRequired`] (use [`Format::parse`]).
impl FromStr for Format {
    type Err = FormatParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, None)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn format_has_footer(name: &str) -> bool {
    matches!(
        name,
        "wechat" | "alipay" | "wechat-fundflow" | "alipay-accountlog"
    )
}

fn format_has_trades(name: &str) -> bool {
    !matches!(name, "wechat-fundflow" | "alipay-accountlog")
}

/// A format or encoding name that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatParseError {
    /// Not one of [`Format::WORDS`].
    #[error(
        "unknown statement format '{0}' (expected hfb, wechat, alipay, generic, wechat-fundflow or alipay-accountlog)"
    )]
    UnknownFormat(String),
    /// `generic` without a column mapping.
    #[error("the generic format needs a column mapping: at least the key and the amount column")]
    MappingRequired,
    /// Not one of the encodings payrecon reads.
    #[error("unknown encoding '{0}' (expected utf8, utf8-bom or gbk)")]
    UnknownEncoding(String),
}

/// How to read a generic CSV: the header names of its columns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GenericMapping {
    /// The merchant order number column (matched against `agentBillNo`).
    pub key: String,
    /// The amount column; a negative amount is read as a refund.
    pub amount: String,
    /// The status column, if any (`SUCCESS`/`成功`/`支付成功`/`TRADE_SUCCESS`,
    /// `REFUND`/`退款`/`已退款`, `REVOKED`/`CLOSED`/`撤销`/`已撤销`); without
    /// one every row is a success (or a refund when its amount is negative).
    pub status: Option<String>,
    /// The time column, if any (`YYYY-MM-DD HH:MM:SS`, `YYYY/MM/DD HH:MM:SS`
    /// or `YYYY-MM-DDTHH:MM:SS`, optionally with fractional seconds).
    pub time: Option<String>,
    /// The file's encoding; detected when `None`.
    pub encoding: Option<Encoding>,
}

impl GenericMapping {
    /// A mapping with only the two columns every statement needs.
    pub fn new(key: impl Into<String>, amount: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            amount: amount.into(),
            status: None,
            time: None,
            encoding: None,
        }
    }
}

/// A statement file's text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Encoding {
    /// UTF-8 without a byte order mark.
    Utf8,
    /// UTF-8 starting with a byte order mark (as Excel writes it).
    Utf8Bom,
    /// GBK (Windows code page 936), as Alipay writes its bills.
    Gbk,
}

impl Encoding {
    /// The encoding's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Utf8Bom => "UTF-8 with BOM",
            Self::Gbk => "GBK",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `utf8` (or `utf-8`), `utf8-bom`, `gbk` (also `gb2312`, `gb18030`, `cp936`), any case.
impl FromStr for Encoding {
    type Err = FormatParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf8" | "utf-8" => Ok(Self::Utf8),
            "utf8-bom" | "utf-8-bom" | "utf8bom" | "utf-8-sig" => Ok(Self::Utf8Bom),
            "gbk" | "gb2312" | "gb18030" | "cp936" => Ok(Self::Gbk),
            _ => Err(FormatParseError::UnknownEncoding(s.to_owned())),
        }
    }
}

/// What a statement row records.
///
/// An `hfb` line is always a [`Payment`](EntryKind::Payment), carrying the
/// payment's final state in [`Entry::status`] (a refunded charge is a
/// payment with status `Refund`). WeChat `REFUND` rows, Alipay `退款` rows and
/// negative generic amounts are [`Refund`](EntryKind::Refund)s: records of
/// money going back, whose own amount is the refund. A refunded order can
/// therefore appear as a payment plus a refund under the same key; only two
/// *payments* under one key are a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum EntryKind {
    /// Money the gateway took from the payer.
    Payment,
    /// Money the gateway gave back.
    Refund,
}

/// One statement row, normalised. Amounts are positive; a refund is kind
/// [`EntryKind::Refund`] with a positive amount.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The file's physical 1-based line the row starts on.
    pub line: u64,
    /// Merchant order number (`agentBillNo`).
    pub agent_bill_no: String,
    /// Payment or refund.
    pub kind: EntryKind,
    /// The gateway's status for the order.
    pub status: GatewayStatus,
    /// The amount, in yuan, exact, always ≥ 0.
    pub amount: Decimal,
    /// The gateway's fee when the file has one, exact as written (WeChat
    /// writes five decimals).
    pub fee: Option<Decimal>,
    /// `bindCode`, where the format carries it (hfb only).
    pub bind_code: Option<String>,
    /// When the gateway completed it (business time), if the file says. In a
    /// WeChat REFUND bill this is the original payment's time.
    pub paid_at: Option<NaiveDateTime>,
    /// When a refund succeeded (WeChat 退款成功时间), if the file says; the
    /// refund belongs to that day's bill.
    pub refunded_at: Option<NaiveDateTime>,
    /// The gateway's own number for the trade: WeChat 微信订单号, Alipay
    /// 支付宝交易号; `None` where the format has none or the field is empty.
    pub gateway_id: Option<String>,
    /// A refund row's merchant refund number: WeChat 商户退款单号, Alipay
    /// 退款批次号/请求号; `None` on payment rows and where the format lacks it.
    pub refund_id: Option<String>,
    /// A refund row's gateway refund number (WeChat 微信退款单号); `None`
    /// on payment rows and in every other format.
    pub gateway_refund_id: Option<String>,
    /// The fee rate the row states, as a fraction (WeChat 费率 `0.60%` is
    /// `0.006`); `None` where the format or the row has none.
    pub rate: Option<Decimal>,
}

impl Entry {
    /// The time that puts the row in its bill's day: the refund time of a
    /// refund row that has one, else the payment time.
    pub fn booked_at(&self) -> Option<NaiveDateTime> {
        self.refunded_at.or(self.paid_at)
    }
}

/// One row of a WeChat fund-flow bill (资金账单) or an Alipay account log
/// (账务明细): money into or out of the merchant account, as
/// [`read_movements`] hands it on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Movement {
    /// The file's physical 1-based line the row starts on.
    pub line: u64,
    /// When it was booked: WeChat 记账时间, Alipay 发生时间.
    pub at: Option<NaiveDateTime>,
    /// Every non-empty reference number on the row, in this order — WeChat:
    /// 业务凭证号, 微信支付业务单号, 资金流水单号; Alipay: 商户订单号,
    /// 业务流水号, 账务流水号. Never empty: a WeChat row without either of
    /// its first two, or an Alipay row without any, is a [`RowError`].
    pub ids: Vec<String>,
    /// 业务类型, `""` if the file has no such column.
    pub business_type: String,
    /// WeChat 业务名称 / Alipay 商品名称, `""` if absent.
    pub business_name: String,
    /// 备注, `""` if absent.
    pub note: String,
    /// The amount, signed: income (收入) positive, expense (支出) negative,
    /// whatever sign the file wrote it with.
    pub amount: Decimal,
    /// The account's balance after this row (WeChat 账户结余(元), Alipay
    /// 账户余额（元）), if the file has it.
    pub balance: Option<Decimal>,
}

/// A movement row as read, borrowing its text from the current record: each
/// movement reader makes one and maps it to an [`Entry`] (for
/// [`read_statement`]) or a [`Movement`] (for [`read_movements`]), so a
/// format has one reader and either path allocates only what it hands on.
pub(crate) struct MovementRow<'a> {
    pub(crate) line: u64,
    /// `Payment` for income, `Refund` for expense.
    pub(crate) kind: EntryKind,
    /// The amount, ≥ 0.
    pub(crate) amount: Decimal,
    pub(crate) at: Option<NaiveDateTime>,
    /// The reference numbers in [`Movement::ids`] order, `""` where absent;
    /// the first non-empty one is the entry's key.
    pub(crate) ids: [&'a str; 3],
    pub(crate) business_type: &'a str,
    pub(crate) business_name: &'a str,
    pub(crate) note: &'a str,
    pub(crate) balance: Option<Decimal>,
}

impl MovementRow<'_> {
    /// Money in as a payment, money out as a refund booked at its own time,
    /// keyed by the first reference number.
    pub(crate) fn to_entry(&self) -> Entry {
        let key = self.ids.iter().find(|s| !s.is_empty()).map_or("", |s| s);
        let status = match self.kind {
            EntryKind::Payment => GatewayStatus::Success,
            EntryKind::Refund => GatewayStatus::Refund,
        };
        Entry {
            line: self.line,
            agent_bill_no: key.to_owned(),
            kind: self.kind,
            status,
            amount: self.amount,
            fee: None,
            bind_code: None,
            paid_at: self.at,
            refunded_at: self.at.filter(|_| self.kind == EntryKind::Refund),
            gateway_id: None,
            refund_id: None,
            gateway_refund_id: None,
            rate: None,
        }
    }

    /// The owned [`Movement`].
    pub(crate) fn to_movement(&self) -> Movement {
        // (A zero expense stays 0, not -0.)
        let amount = if self.kind == EntryKind::Refund && !self.amount.is_zero() {
            -self.amount
        } else {
            self.amount
        };
        Movement {
            line: self.line,
            at: self.at,
            ids: self
                .ids
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| (*s).to_owned())
                .collect(),
            business_type: self.business_type.to_owned(),
            business_name: self.business_name.to_owned(),
            note: self.note.to_owned(),
            amount,
            balance: self.balance,
        }
    }
}

/// A row that could not be read; the other rows still are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// The file's physical 1-based line number.
    pub line: u64,
    /// What is wrong with it, e.g. `charge_amt: '12.3.4' is not an amount …`.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Totals of a statement: what its footer declares or what its rows add up to.
///
/// `count` is the number of data rows; `amount` the total of the payments
/// (WeChat: 应结订单金额 over every row, as 应结订单总金额 adds it up; Alipay:
/// 商家实收 of the `交易` rows) and `refund_amount` the total refunded, positive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Number of rows.
    pub count: u64,
    /// Total paid.
    pub amount: Decimal,
    /// Total refunded (positive).
    pub refund_amount: Decimal,
    /// How many of the rows are refunds (expenses), where the footer counts
    /// them apart (Alipay's `#退款合计：N笔`, the fund-flow bill's 支出笔数,
    /// the account log's `#支出合计：N笔`); `None` otherwise, in both the
    /// declared and the computed totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_count: Option<u64>,
}

/// What reading one statement file found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// The file.
    pub path: PathBuf,
    /// The format's word (one of [`Format::WORDS`]).
    pub format: &'static str,
    /// The file's encoding as found.
    pub encoding: Encoding,
    /// Good rows handed to the callback.
    pub entries: u64,
    /// Bad rows, in file order.
    pub errors: Vec<RowError>,
    /// The file's own footer totals; `None` when it has none.
    pub declared: Option<Totals>,
    /// Totals over the good rows, computed as the footer computes them.
    pub computed: Totals,
    /// Earliest `paid_at` among the entries.
    pub first_paid_at: Option<NaiveDateTime>,
    /// Latest `paid_at` among the entries.
    pub last_paid_at: Option<NaiveDateTime>,
    /// The rows per business day of their [`Entry::booked_at`] time.
    pub days: Days,
    /// The business days the file itself says it covers (first, last), e.g.
    /// Alipay's `#起始日期/终止日期` lines.
    pub declared_period: Option<(NaiveDate, NaiveDate)>,
    /// What kind of bill the file is, in words (e.g. "WeChat REFUND bill, 29
    /// columns"), when the reader can tell.
    pub layout: Option<String>,
}

/// The rows of one business day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DaySpan {
    /// The day.
    pub day: NaiveDate,
    /// Rows booked on it.
    pub rows: u64,
    /// Earliest time.
    pub first: NaiveDateTime,
    /// Latest time.
    pub last: NaiveDateTime,
}

impl DaySpan {
    fn add(&mut self, t: NaiveDateTime) {
        self.rows += 1;
        self.first = self.first.min(t);
        self.last = self.last.max(t);
    }
}

/// Rows per business day, in day order (a statement touches few days, so a
/// short list with the last-used slot checked first is cheap per row).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Days {
    spans: Vec<DaySpan>,
    #[serde(skip)]
    last: usize,
}

/// Rows of a neighbouring day this close to the day boundary are the
/// day-boundary tail of a bill (a payment at 23:59:50 booked on the next
/// day's bill), not a sign of another day's bill.
pub const DAY_TAIL: chrono::Duration = chrono::Duration::minutes(30);

impl Days {
    /// Counts a row booked at `t`.
    pub fn note(&mut self, t: NaiveDateTime) {
        let day = t.date();
        if let Some(s) = self.spans.get_mut(self.last)
            && s.day == day
        {
            s.add(t);
            return;
        }
        match self.spans.binary_search_by_key(&day, |s| s.day) {
            Ok(i) => {
                self.last = i;
                self.spans[i].add(t);
            }
            Err(i) => {
                self.spans.insert(
                    i,
                    DaySpan {
                        day,
                        rows: 1,
                        first: t,
                        last: t,
                    },
                );
                self.last = i;
            }
        }
    }

    /// The days, in order.
    pub fn spans(&self) -> &[DaySpan] {
        &self.spans
    }

    /// The business days the rows are for, first and last: the day holding
    /// the most rows, widened over the calendar days next to it that hold a
    /// real share of them (at least 1/20 of that day's) — a bill exported
    /// for several days — less a first or last day whose rows all lie within
    /// [`DAY_TAIL`] of its boundary with the rest: the day-boundary tail of a
    /// daily bill. Scattered rows of other days (refunds listed with their
    /// original payment's time) do not move a bill's day. `None` without
    /// timed rows.
    pub fn period(&self) -> Option<(NaiveDate, NaiveDate)> {
        let s = &self.spans;
        let bulk = (0..s.len()).max_by_key(|&i| (s[i].rows, std::cmp::Reverse(i)))?;
        let real = |i: usize| s[i].rows.saturating_mul(20) >= s[bulk].rows;
        let (mut lo, mut hi) = (bulk, bulk);
        while lo > 0 && s[lo - 1].day.succ_opt() == Some(s[lo].day) && real(lo - 1) {
            lo -= 1;
        }
        while hi + 1 < s.len() && s[hi].day.succ_opt() == Some(s[hi + 1].day) && real(hi + 1) {
            hi += 1;
        }
        // A first or last day of rows only right at the boundary: the tail.
        if hi > lo {
            let edge = s[lo + 1].day.and_time(chrono::NaiveTime::MIN);
            if s[lo].last < edge && s[lo].first >= edge - DAY_TAIL {
                lo += 1;
            }
        }
        if hi > lo {
            let edge = s[hi].day.and_time(chrono::NaiveTime::MIN);
            if s[hi].last < edge + DAY_TAIL {
                hi -= 1;
            }
        }
        Some((s[lo].day, s[hi].day))
    }
}

const FOOTER: &str = "footer: ";

impl ImportReport {
    /// Whether its rows are trades to match against the recharge flows
    /// (`false` for fund-flow bills and account logs: read and
    /// footer-checked only).
    pub fn trades(&self) -> bool {
        format_has_trades(self.format)
    }

    /// The business days the file is for (first, last): what it declares,
    /// else what its rows say ([`Days::period`]).
    pub fn business_period(&self) -> Option<(NaiveDate, NaiveDate)> {
        self.declared_period.or_else(|| self.days.period())
    }

    /// Whether the file's own totals agree with its rows (SPEC §4
    /// `statement_total_mismatch`): `None` for formats without a footer
    /// (hfb, generic); `Some(false)` when they differ or when a format that
    /// has a footer lacks it (a truncated download).
    pub fn totals_match(&self) -> Option<bool> {
        if !format_has_footer(self.format) {
            return None;
        }
        Some(self.declared.as_ref() == Some(&self.computed))
    }

    /// One sentence saying how the totals disagree, or `None` when they agree
    /// (or the format has no footer).
    pub fn totals_mismatch_reason(&self) -> Option<String> {
        if self.totals_match() != Some(false) {
            return None;
        }
        let c = &self.computed;
        let unread = match self.errors.len() {
            0 => String::new(),
            1 => " (1 row could not be read)".to_owned(),
            n => format!(" ({n} rows could not be read)"),
        };
        let Some(d) = &self.declared else {
            let why = match self.errors.iter().find(|e| e.reason.starts_with(FOOTER)) {
                Some(e) => format!(
                    "the footer totals could not be read (line {}: {})",
                    e.line, e.reason
                ),
                None => "the footer totals are missing, so the download is probably truncated"
                    .to_owned(),
            };
            let rows = if self.trades() {
                format!("{} trades totalling {}", c.count, format_amount(c.amount))
            } else {
                records(c)
            };
            return Some(format!("{why}; rows give {rows}{unread}"));
        };
        if !self.trades() {
            return Some(format!(
                "footer says {}, rows give {}{unread}",
                records(d),
                records(c)
            ));
        }
        let mut s = format!(
            "footer says {} trades totalling {}, rows give {} totalling {}",
            d.count,
            format_amount(d.amount),
            c.count,
            format_amount(c.amount)
        );
        if d.refund_amount != c.refund_amount {
            s.push_str(&format!(
                "; refunds: footer {}, rows {}",
                format_amount(d.refund_amount),
                format_amount(c.refund_amount)
            ));
        }
        if let (Some(dn), Some(cn)) = (d.refund_count, c.refund_count)
            && dn != cn
        {
            s.push_str(&format!("; refund rows: footer {dn}, rows {cn}"));
        }
        s.push_str(&unread);
        Some(s)
    }
}

/// Totals of a fund-flow bill or account log in words: "3 records (1 income
/// totalling 0.01, 2 expenses totalling 0.02)".
fn records(t: &Totals) -> String {
    match t.refund_count {
        Some(out) => format!(
            "{} records ({} income totalling {}, {} expense{} totalling {})",
            t.count,
            t.count.saturating_sub(out),
            format_amount(t.amount),
            out,
            if out == 1 { "" } else { "s" },
            format_amount(t.refund_amount)
        ),
        None => format!(
            "{} records (income totalling {}, expenses totalling {})",
            t.count,
            format_amount(t.amount),
            format_amount(t.refund_amount)
        ),
    }
}

/// Why a statement file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file is not in the encoding its format uses.
    #[error(
        "{} is not {expected} (line {line} looks like {found}): {}",
        .path.display(),
        encoding_hint(.expected, .found)
    )]
    Encoding {
        /// The file.
        path: PathBuf,
        /// The first physical line (1-based) that is not in `expected`.
        line: u64,
        /// What that line looks like: `"GBK"`, `"UTF-8"` or `"neither UTF-8 nor GBK"`.
        found: &'static str,
        /// The encoding the format uses: `"UTF-8"`, `"GBK"` or `"UTF-8 or GBK"`.
        expected: &'static str,
    },
    /// The header is not this format's (or there is none).
    #[error("{}, line {line}: {reason}", .path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// The header's physical 1-based line.
        line: u64,
        /// What is wrong, naming the format it looks like when recognisable.
        reason: String,
    },
    /// WeChat answered the bill download with an error (XML `return_msg`,
    /// or the v3 API's JSON `message`) and that answer was saved as the file.
    #[error("{}: WeChat returned an error instead of a bill: {message}", .path.display())]
    GatewayReply {
        /// The file.
        path: PathBuf,
        /// WeChat's message, e.g. `No Bill Exist`.
        message: String,
    },
    /// The file is a compressed archive or a workbook, not a text statement.
    #[error(
        "{} is a {what}, not a text statement: {hint}",
        .path.display()
    )]
    Packed {
        /// The file.
        path: PathBuf,
        /// What it is: "gzip-compressed file", "zip archive or Excel workbook".
        what: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The file has nothing in it (or only blank lines).
    #[error("{} is empty: no header and no rows", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

const NEITHER: &str = "neither UTF-8 nor GBK";

fn encoding_hint(expected: &str, found: &str) -> &'static str {
    match (expected, found) {
        ("UTF-8", "GBK") => "give --format alipay or --encoding gbk",
        ("GBK", "UTF-8") => {
            "Alipay bills are GBK; for a UTF-8 file give the format it really is, or --format generic (the encoding is detected)"
        }
        _ => "the file is damaged or not a text statement",
    }
}

/// Reads the statement at `path` as `format`, calling `on_entry` for each
/// good row in file order. The file is streamed, never held in memory.
///
/// Bad rows do not stop the read: they are listed in
/// [`ImportReport::errors`]. On `Err` the file is not a statement of this
/// format; entries already handed to `on_entry` must then be discarded.
pub fn read_statement(
    path: &Path,
    format: &Format,
    on_entry: impl FnMut(Entry),
) -> Result<ImportReport, StatementError> {
    read_statement_with_progress(path, format, on_entry, &mut |_| {})
}

/// [`read_statement`], telling `on_bytes` how many bytes of the file were
/// read as it goes (every 256 KiB and at the end), for a progress bar.
pub fn read_statement_with_progress(
    path: &Path,
    format: &Format,
    mut on_entry: impl FnMut(Entry),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    let e = &mut on_entry;
    match format {
        Format::Hfb => super::hfb::read(path, e, on_bytes),
        Format::Wechat => super::wechat::read(path, e, on_bytes),
        Format::Alipay => super::alipay::read(path, e, on_bytes),
        Format::Generic(m) => super::generic::read(path, m, e, on_bytes),
        Format::WechatFundflow => super::wechat_fundflow::read(path, e, on_bytes),
        Format::AlipayAccountlog => super::alipay_accountlog::read(path, e, on_bytes),
    }
}

/// Reads a WeChat fund-flow bill or an Alipay account log at `path`,
/// calling `on_movement` for each good row in file order and `on_bytes` with
/// the bytes read so far (every 256 KiB and at the end). The file is
/// streamed, never held in memory.
///
/// The report is the one [`read_statement`] gives for the same file (both
/// run the same reader): the same totals, footer check, days, layout and row
/// errors. Any other `format` is refused with a [`StatementError::Io`] of
/// kind `InvalidInput` before the file is opened. On `Err` the movements
/// already handed on must be discarded.
pub fn read_movements(
    path: &Path,
    format: &Format,
    on_movement: &mut dyn FnMut(Movement),
    on_bytes: &mut dyn FnMut(u64),
) -> Result<ImportReport, StatementError> {
    match format {
        Format::WechatFundflow => super::wechat_fundflow::movements(path, on_movement, on_bytes),
        Format::AlipayAccountlog => {
            super::alipay_accountlog::movements(path, on_movement, on_bytes)
        }
        other => Err(StatementError::Io {
            path: path.to_owned(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {other} file holds no account movements (only wechat-fundflow and alipay-accountlog files do)"
                ),
            ),
        }),
    }
}

// ---------------------------------------------------------------------------
// Shared by the readers.

/// How the bytes of a file are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decode {
    /// Strict UTF-8 (a BOM is allowed and dropped).
    Utf8,
    /// GBK; a file that is UTF-8 instead is refused.
    Gbk,
    /// Decided by the file: BOM, then the first non-ASCII line (UTF-8 if valid, else GBK).
    Auto,
}

impl Decode {
    pub(crate) fn from_encoding(e: Option<Encoding>) -> Self {
        match e {
            None => Self::Auto,
            Some(Encoding::Utf8 | Encoding::Utf8Bom) => Self::Utf8,
            Some(Encoding::Gbk) => Self::Gbk,
        }
    }
}

/// What happens to lines starting with `#` outside quoted fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comments {
    /// They are rows like any other.
    Keep,
    /// They are dropped.
    Skip,
    /// They are dropped and kept aside with their line numbers (Alipay's footer).
    Capture,
}

/// The first line that could not be decoded.
#[derive(Debug, Clone, Copy)]
struct Problem {
    line: u64,
    found: &'static str,
    expected: &'static str,
}

/// Decoder state, apart from the line buffer it decodes.
struct DecodeState {
    mode: Decode,
    encoding: Encoding,
    gbk_checked: bool,
}

fn gbk(bytes: &[u8]) -> Option<Cow<'_, str>> {
    encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(bytes)
}

impl DecodeState {
    fn decode<'a>(
        &mut self,
        bytes: &'a [u8],
        bom: bool,
        line: u64,
    ) -> Result<Cow<'a, str>, Problem> {
        if bom {
            if self.mode != Decode::Gbk {
                self.mode = Decode::Utf8;
                self.encoding = Encoding::Utf8Bom;
            } else if !bytes.iter().all(u8::is_ascii_whitespace) {
                // (A file of nothing but a BOM is empty, not misencoded.)
                return Err(Problem {
                    line,
                    found: "UTF-8",
                    expected: "GBK",
                });
            }
        }
        match self.mode {
            Decode::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => Ok(Cow::Borrowed(s)),
                Err(_) => Err(Problem {
                    line,
                    found: if gbk(bytes).is_some() { "GBK" } else { NEITHER },
                    expected: "UTF-8",
                }),
            },
            Decode::Gbk => {
                if !self.gbk_checked && !bytes.is_ascii() {
                    // The first line with Chinese in it tells: GBK text is
                    // practically never valid UTF-8, UTF-8 text always is.
                    self.gbk_checked = true;
                    if std::str::from_utf8(bytes).is_ok() {
                        return Err(Problem {
                            line,
                            found: "UTF-8",
                            expected: "GBK",
                        });
                    }
                }
                gbk(bytes).ok_or(Problem {
                    line,
                    found: if std::str::from_utf8(bytes).is_ok() {
                        "UTF-8"
                    } else {
                        NEITHER
                    },
                    expected: "GBK",
                })
            }
            Decode::Auto => {
                if let Ok(s) = std::str::from_utf8(bytes) {
                    if !bytes.is_ascii() {
                        self.mode = Decode::Utf8;
                    }
                    Ok(Cow::Borrowed(s))
                } else if let Some(s) = gbk(bytes) {
                    self.mode = Decode::Gbk;
                    self.encoding = Encoding::Gbk;
                    self.gbk_checked = true;
                    Ok(s)
                } else {
                    Err(Problem {
                        line,
                        found: NEITHER,
                        expected: "UTF-8 or GBK",
                    })
                }
            }
        }
    }
}

/// A `Read` that serves a file decoded to UTF-8, one physical line at a
/// time, with `\n` line ends, without blank lines (and, if asked, without
/// `#` lines), remembering where in its output each physical line starts so
/// that a CSV record's byte position maps back to the file's line number.
pub(crate) struct LineSource<R> {
    inner: R,
    state: DecodeState,
    comments: Comments,
    captured: Vec<(u64, String)>,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    out_start: u64,
    physical: u64,
    starts: VecDeque<(u64, u64)>,
    last_line: u64,
    in_quotes: bool,
    content_lines: u64,
    problem: Option<Problem>,
    /// Bytes of the file consumed so far (for progress).
    consumed: u64,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// No statement has lines this long; a file that does is not one (and is
/// not read into memory whole while looking for a line end).
const MAX_LINE: u64 = 16 << 20;

/// Whether a quoted field is still open at the end of `line`, given whether
/// one was open at its start — by the CSV reader's rules: a quote opens a
/// field only at the field's start, `""` inside it is a quote, a lone `"`
/// closes it, and any other quote is a literal character.
fn ends_in_quotes(line: &[u8], mut in_quotes: bool) -> bool {
    let mut field_start = !in_quotes;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if in_quotes {
            if b == b'"' {
                if line.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                in_quotes = false;
            }
            field_start = false;
        } else if b == b',' {
            field_start = true;
        } else {
            in_quotes = b == b'"' && field_start;
            field_start = false;
        }
        i += 1;
    }
    in_quotes
}

impl<R: BufRead> LineSource<R> {
    fn new(inner: R, mode: Decode, comments: Comments) -> Self {
        Self {
            inner,
            state: DecodeState {
                mode,
                encoding: if mode == Decode::Gbk {
                    Encoding::Gbk
                } else {
                    Encoding::Utf8
                },
                gbk_checked: false,
            },
            comments,
            captured: Vec::new(),
            raw: Vec::new(),
            out: Vec::new(),
            pos: 0,
            out_start: 0,
            physical: 0,
            starts: VecDeque::new(),
            last_line: 0,
            in_quotes: false,
            content_lines: 0,
            problem: None,
            consumed: 0,
        }
    }

    /// Loads the next line to serve; `false` at the end of the file.
    fn fill(&mut self) -> io::Result<bool> {
        loop {
            self.raw.clear();
            let n = (&mut self.inner)
                .take(MAX_LINE)
                .read_until(b'\n', &mut self.raw)?;
            if n == 0 {
                return Ok(false);
            }
            self.consumed += n as u64;
            self.physical += 1;
            if n as u64 == MAX_LINE && self.raw.last() != Some(&b'\n') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "line {} is longer than {} MiB: this is not a statement file",
                        self.physical,
                        MAX_LINE >> 20
                    ),
                ));
            }
            let mut bytes: &[u8] = &self.raw;
            if let Some(b) = bytes.strip_suffix(b"\n") {
                bytes = b;
            }
            if let Some(b) = bytes.strip_suffix(b"\r") {
                bytes = b;
            }
            let mut bom = false;
            if self.physical == 1 {
                // Twice when a tool added one to a file that had one.
                while let Some(b) = bytes.strip_prefix(BOM) {
                    bytes = b;
                    bom = true;
                }
            }
            let text = match self.state.decode(bytes, bom, self.physical) {
                Ok(t) => t,
                Err(p) => {
                    self.problem = Some(p);
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("line {} is not {}", p.line, p.expected),
                    ));
                }
            };
            if !self.in_quotes {
                if text.trim().is_empty() {
                    continue;
                }
                self.content_lines += 1;
                if self.comments != Comments::Keep && text.starts_with('#') {
                    if self.comments == Comments::Capture {
                        self.captured.push((self.physical, text.into_owned()));
                    }
                    continue;
                }
            } else {
                self.content_lines += 1;
            }
            self.in_quotes = ends_in_quotes(text.as_bytes(), self.in_quotes);
            self.out_start += self.out.len() as u64;
            self.out.clear();
            self.out.extend_from_slice(text.as_bytes());
            self.out.push(b'\n');
            self.pos = 0;
            self.starts.push_back((self.out_start, self.physical));
            return Ok(true);
        }
    }

    /// The physical line on which the output byte `offset` lies (offsets
    /// must be asked in increasing order, as a CSV reader reads records).
    fn line_at(&mut self, offset: u64) -> u64 {
        while let Some(&(start, line)) = self.starts.front() {
            if start > offset {
                break;
            }
            self.last_line = line;
            self.starts.pop_front();
        }
        self.last_line
    }
}

impl<R: BufRead> Read for LineSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// How often, in bytes of the file, a [`Table`] reports how far it read.
const REPORT_EVERY: u64 = 256 << 10;

/// A statement's table: CSV records with their physical line numbers.
pub(crate) struct Table<'p> {
    path: PathBuf,
    rdr: csv::Reader<LineSource<BufReader<File>>>,
    /// Told the bytes of the file read so far, every [`REPORT_EVERY`] and at the end.
    on_bytes: &'p mut dyn FnMut(u64),
    reported: u64,
    /// The current record, as read (use [`Table::get`] for cleaned fields).
    pub(crate) record: csv::StringRecord,
    /// The header's names, cleaned, once [`Table::take_header`] was called.
    pub(crate) header: Vec<String>,
}

/// A field without surrounding whitespace (Alipay's trailing tab) and without
/// WeChat's leading backtick.
pub(crate) fn clean(s: &str) -> &str {
    let t = s.trim();
    t.strip_prefix('`').map_or(t, str::trim)
}

impl<'p> Table<'p> {
    /// Opens the file; `on_bytes` is told how many of its bytes were read
    /// as the reading goes (progress).
    pub(crate) fn open(
        path: &Path,
        mode: Decode,
        comments: Comments,
        on_bytes: &'p mut dyn FnMut(u64),
    ) -> Result<Self, StatementError> {
        let io = |source| StatementError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let mut buf = BufReader::with_capacity(64 * 1024, file);
        // Gateways hand out bills gzip-compressed (WeChat's API) or zipped
        // (Alipay's download): say so instead of "not UTF-8 on line 1".
        let packed = match buf.fill_buf().map_err(io)? {
            [0x1f, 0x8b, ..] => Some((
                "gzip-compressed file",
                "unpack it first (gunzip), then give the .csv inside",
            )),
            [b'P', b'K', 3, 4, ..] => Some((
                "zip archive or Excel workbook",
                "unpack the archive (or save the sheet as CSV) and give the .csv",
            )),
            _ => None,
        };
        if let Some((what, hint)) = packed {
            return Err(StatementError::Packed {
                path: path.to_owned(),
                what,
                hint,
            });
        }
        let source = LineSource::new(buf, mode, comments);
        let rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(source);
        Ok(Self {
            path: path.to_owned(),
            rdr,
            on_bytes,
            reported: 0,
            record: csv::StringRecord::new(),
            header: Vec::new(),
        })
    }

    /// Reads the next record; returns its physical 1-based line.
    pub(crate) fn next(&mut self) -> Result<Option<u64>, StatementError> {
        let consumed = self.rdr.get_ref().consumed;
        if consumed >= self.reported + REPORT_EVERY {
            self.reported = consumed;
            (self.on_bytes)(consumed);
        }
        match self.rdr.read_record(&mut self.record) {
            Ok(false) => {
                let consumed = self.rdr.get_ref().consumed;
                if consumed != self.reported {
                    self.reported = consumed;
                    (self.on_bytes)(consumed);
                }
                Ok(None)
            }
            Ok(true) => {
                let byte = self.record.position().map_or(0, csv::Position::byte);
                Ok(Some(self.rdr.get_mut().line_at(byte)))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, e: csv::Error) -> StatementError {
        if let Some(p) = self.rdr.get_mut().problem.take() {
            return StatementError::Encoding {
                path: self.path.clone(),
                line: p.line,
                found: p.found,
                expected: p.expected,
            };
        }
        let source = match e.into_kind() {
            csv::ErrorKind::Io(io) => io,
            other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
        };
        StatementError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The current record's field `i`, cleaned.
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        self.record.get(i).map(clean)
    }

    /// Field `i` of the current record, or a reason naming the column.
    pub(crate) fn field(&self, i: usize) -> Result<&str, String> {
        self.get(i).ok_or_else(|| {
            let name = self.header.get(i).map_or("?", String::as_str);
            format!("no {name} field: the row has {} fields", self.record.len())
        })
    }

    /// `Err` when the current record has another number of fields than the header.
    pub(crate) fn check_width(&self) -> Result<(), String> {
        if self.record.len() == self.header.len() {
            return Ok(());
        }
        Err(format!(
            "{} fields, the header has {}",
            self.record.len(),
            self.header.len()
        ))
    }

    /// The time in column `col` (named `name` in errors), `None` when the
    /// column is absent or the field empty.
    pub(crate) fn opt_time(
        &self,
        col: Option<usize>,
        name: &str,
    ) -> Result<Option<NaiveDateTime>, String> {
        match col.map(|i| self.field(i)).transpose()? {
            Some(s) if !s.is_empty() => time(name, s).map(Some),
            _ => Ok(None),
        }
    }

    /// Takes the current record as the header. A byte order mark that a
    /// conversion turned into text (`\u{feff}`, or `?`/`\u{fffd}` where a
    /// code page had no such character) before the first name is dropped.
    pub(crate) fn take_header(&mut self) {
        self.header = self.record.iter().map(|f| clean(f).to_owned()).collect();
        if let Some(first) = self.header.first_mut() {
            let t = first.trim_start_matches('\u{feff}');
            let t = match t.strip_prefix(['?', '\u{fffd}']) {
                Some(rest) if rest.chars().next().is_some_and(|c| !c.is_ascii()) => rest,
                _ => t,
            };
            if t.len() != first.len() {
                *first = clean(t).to_owned();
            }
        }
    }

    /// The header column named `name`.
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The first of `names` the header has.
    pub(crate) fn column_of(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.column(n))
    }

    /// Columns that must all be there.
    pub(crate) fn require<const N: usize>(
        &self,
        line: u64,
        names: [&str; N],
        this: (&str, &str),
    ) -> Result<[usize; N], StatementError> {
        let mut out = [0; N];
        let mut missing = Vec::new();
        for (slot, name) in out.iter_mut().zip(names) {
            match self.column(name) {
                Some(c) => *slot = c,
                None => missing.push(name),
            }
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(self.header_error(line, this, &missing))
        }
    }

    /// A wrong-header error; `this` is the format's (word, description).
    pub(crate) fn header_error(
        &self,
        line: u64,
        this: (&str, &str),
        missing: &[&str],
    ) -> StatementError {
        let (word, desc) = this;
        let fields: Vec<&str> = self.header.iter().map(String::as_str).collect();
        let reason = match looks_like(&fields) {
            Some((other, like)) if other != word => {
                format!("this is not {desc}: the header looks like {like}")
            }
            _ => {
                let shown: Vec<&str> = fields.iter().take(10).copied().collect();
                let more = if fields.len() > 10 { ", …" } else { "" };
                format!(
                    "this is not {desc}: the header has no column {} (it has: {}{more})",
                    missing.join(", "),
                    shown.join(", ")
                )
            }
        };
        StatementError::Header {
            path: self.path.clone(),
            line,
            reason,
        }
    }

    /// The error for a file in which no header was found.
    pub(crate) fn no_header(&self) -> StatementError {
        let src = self.rdr.get_ref();
        if src.content_lines == 0 {
            StatementError::Empty {
                path: self.path.clone(),
            }
        } else {
            StatementError::Header {
                path: self.path.clone(),
                line: src.physical,
                reason: "no table header: the file has only # lines".to_owned(),
            }
        }
    }

    /// The encoding found so far.
    pub(crate) fn encoding(&self) -> Encoding {
        self.rdr.get_ref().state.encoding
    }

    /// The `#` lines dropped so far, with their line numbers.
    pub(crate) fn take_comments(&mut self) -> Vec<(u64, String)> {
        std::mem::take(&mut self.rdr.get_mut().captured)
    }
}

/// Which format a header (or first line) looks like: (word, description).
pub(crate) fn looks_like(fields: &[&str]) -> Option<(&'static str, &'static str)> {
    let has = |n: &str| fields.contains(&n);
    if has("agent_bill_no") && has("charge_amt") {
        Some((
            "hfb",
            "an hfb statement (agent_bill_no,bind_code,charge_amt,…): give --format hfb",
        ))
    } else if has("资金流水单号") || has("资金流水总笔数") || (has("记账时间") && has("收支类型"))
    {
        Some((
            "wechat-fundflow",
            "a WeChat fund-flow bill (资金账单: 记账时间,微信支付业务单号,资金流水单号,…,收支类型,…): give --format wechat-fundflow",
        ))
    } else if has("账务流水号") {
        Some((
            "alipay-accountlog",
            "an Alipay account log (账务明细: 账务流水号,业务流水号,商户订单号,…): give --format alipay-accountlog",
        ))
    } else if has("支付宝交易号") || fields.first().is_some_and(|f| f.starts_with('#')) {
        Some((
            "alipay",
            "an Alipay business detail bill (# lines, 支付宝交易号,商户订单号,…): give --format alipay",
        ))
    } else if (has("商户订单号") && has("交易状态")) || has("微信订单号") || has("总交易单数")
    {
        Some((
            "wechat",
            "a WeChat Pay bill (交易时间,公众账号ID,…,商户订单号,…): give --format wechat",
        ))
    } else {
        None
    }
}

/// Gathers the report while the rows are read.
pub(crate) struct Collector<'a> {
    pub(crate) report: ImportReport,
    on_entry: &'a mut dyn FnMut(Entry),
}

impl<'a> Collector<'a> {
    pub(crate) fn new(
        path: &Path,
        format: &'static str,
        on_entry: &'a mut dyn FnMut(Entry),
    ) -> Self {
        Self {
            report: ImportReport {
                path: path.to_owned(),
                format,
                encoding: Encoding::Utf8,
                entries: 0,
                errors: Vec::new(),
                declared: None,
                computed: Totals::default(),
                first_paid_at: None,
                last_paid_at: None,
                days: Days::default(),
                declared_period: None,
                layout: None,
            },
            on_entry,
        }
    }

    /// A good row: counted (not added to the computed amounts, which each
    /// format adds as its footer does) and handed on.
    pub(crate) fn entry(&mut self, e: Entry) {
        self.count(e.paid_at, e.booked_at());
        (self.on_entry)(e);
    }

    /// Counts a good row (paid at `paid_at`, in the day of `booked_at`)
    /// without handing anything on: for readers that hand on something else.
    pub(crate) fn count(
        &mut self,
        paid_at: Option<NaiveDateTime>,
        booked_at: Option<NaiveDateTime>,
    ) {
        let r = &mut self.report;
        r.entries += 1;
        if let Some(t) = paid_at {
            r.first_paid_at = Some(r.first_paid_at.map_or(t, |f| f.min(t)));
            r.last_paid_at = Some(r.last_paid_at.map_or(t, |l| l.max(t)));
        }
        if let Some(t) = booked_at {
            r.days.note(t);
        }
    }

    /// A bad row.
    pub(crate) fn error(&mut self, line: u64, reason: String) {
        self.report.errors.push(RowError { line, reason });
    }

    /// A bad footer line (marked so that the mismatch reason can name it).
    pub(crate) fn footer_error(&mut self, line: u64, reason: impl fmt::Display) {
        self.error(line, format!("{FOOTER}{reason}"));
    }

    pub(crate) fn finish(mut self, encoding: Encoding) -> ImportReport {
        self.report.encoding = encoding;
        self.report
    }
}

/// An amount (2 decimals at most) from column `col`.
pub(crate) fn amount(col: &str, text: &str) -> Result<Decimal, String> {
    if text.is_empty() {
        return Err(format!("{col} is empty"));
    }
    parse_amount(text).map_err(|e| format!("{col}: {e}"))
}

/// An amount that must not be negative.
pub(crate) fn non_negative(col: &str, text: &str) -> Result<Decimal, String> {
    let d = amount(col, text)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(format!("{col}: {text} is negative"));
    }
    Ok(d)
}

/// An exact decimal with any number of decimals (WeChat's 5-decimal fee).
pub(crate) fn exact(col: &str, text: &str) -> Result<Decimal, String> {
    Decimal::from_str(text).map_err(|_| format!("{col}: '{text}' is not a number"))
}

/// A fee rate written as a percentage (`0.60%`, `1.00%`, also with a
/// full-width `％`) from column `col`, as an exact fraction (`0.006`).
pub(crate) fn rate(col: &str, text: &str) -> Result<Decimal, String> {
    let bad = || format!("{col}: '{text}' is not a rate (expected a percentage like 0.60%)");
    let percent = text
        .strip_suffix('%')
        .or_else(|| text.strip_suffix('％'))
        .ok_or_else(bad)?
        .trim_end();
    if percent.is_empty() || !percent.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let mut d = Decimal::from_str(percent).map_err(|_| bad())?;
    // Per cent to a fraction: two more decimal places, exactly.
    d.set_scale(d.scale() + 2).map_err(|_| bad())?;
    Ok(d.normalize())
}

/// A time in one of the layouts statements use; full-width colons
/// (`16：33：45`, as some bills have them) are read as colons.
pub(crate) fn time(col: &str, text: &str) -> Result<NaiveDateTime, String> {
    // The first layout without interpreting a format string per line.
    if let Some(t) = crate::db::sqlite_read::fast_time(text.as_bytes()) {
        return Ok(t);
    }
    if text.contains('：') {
        return time(col, &text.replace('：', ":"))
            .map_err(|_| format!("{col}: '{text}' is not a time (expected YYYY-MM-DD HH:MM:SS)"));
    }
    const LAYOUTS: [&str; 3] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ];
    LAYOUTS
        .iter()
        .find_map(|l| NaiveDateTime::parse_from_str(text, l).ok())
        .ok_or_else(|| format!("{col}: '{text}' is not a time (expected YYYY-MM-DD HH:MM:SS)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn source(bytes: &[u8], mode: Decode, comments: Comments) -> LineSource<&[u8]> {
        LineSource::new(bytes, mode, comments)
    }

    fn lines_of(bytes: &[u8], mode: Decode, comments: Comments) -> Vec<(Vec<String>, u64)> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(source(bytes, mode, comments));
        let mut rec = csv::StringRecord::new();
        let mut out = Vec::new();
        while rdr.read_record(&mut rec).unwrap() {
            let line = rdr.get_mut().line_at(rec.position().unwrap().byte());
            out.push((rec.iter().map(str::to_owned).collect(), line));
        }
        out
    }

    #[test]
    fn physical_line_numbers_survive_blank_lines_comments_crlf_and_quoted_newlines() {
        let data = "#c1\r\n\r\na,b\r\n1,2\r\n\r\n#mid\r\n3,\"x\r\ny\"\r\n4,5\r\n\r\n#end\r\n";
        let got = lines_of(data.as_bytes(), Decode::Utf8, Comments::Capture);
        let lines: Vec<u64> = got.iter().map(|g| g.1).collect();
        assert_eq!(lines, [3, 4, 7, 9]);
        assert_eq!(got[2].0, ["3", "x\ny"]);
        let mut src = source(data.as_bytes(), Decode::Utf8, Comments::Capture);
        std::io::copy(&mut src, &mut std::io::sink()).unwrap();
        assert_eq!(
            src.captured,
            [
                (1, "#c1".to_owned()),
                (6, "#mid".to_owned()),
                (11, "#end".to_owned())
            ]
        );
    }

    #[test]
    fn quote_state_follows_the_csv_rules() {
        assert!(!ends_in_quotes(b"a,b", false));
        assert!(ends_in_quotes(b"a,\"b", false));
        assert!(!ends_in_quotes(b"a,\"b\"\"c\",d", false));
        assert!(ends_in_quotes(b"a,\"b\"\"", false));
        assert!(
            !ends_in_quotes(b"a,b\"c,d", false),
            "a quote inside a field is literal"
        );
        assert!(
            !ends_in_quotes(b"x\",d", true),
            "closes the field opened above"
        );
        assert!(ends_in_quotes(b"x,d", true));
        assert!(!ends_in_quotes(b"", false));
    }

    #[test]
    fn a_stray_quote_does_not_swallow_the_footer() {
        let data = "h1,h2\n1,2\"x\n\n3,4\n#footer\n";
        let got = lines_of(data.as_bytes(), Decode::Utf8, Comments::Capture);
        let lines: Vec<u64> = got.iter().map(|g| g.1).collect();
        assert_eq!(lines, [1, 2, 4]);
        assert_eq!(got[1].0, ["1", "2\"x"]);
    }

    #[test]
    fn endless_line_is_refused() {
        let data = vec![b'a'; (MAX_LINE + 10) as usize];
        let mut src = source(&data, Decode::Utf8, Comments::Keep);
        let e = std::io::copy(&mut src, &mut std::io::sink()).unwrap_err();
        assert!(
            e.to_string().contains("line 1 is longer than 16 MiB"),
            "{e}"
        );
    }

    #[test]
    fn bom_is_dropped_and_reported() {
        let mut data = BOM.to_vec();
        data.extend_from_slice("键,金额\n甲,1.00\n".as_bytes());
        let mut src = source(&data, Decode::Auto, Comments::Keep);
        let mut s = String::new();
        src.read_to_string(&mut s).unwrap();
        assert_eq!(s, "键,金额\n甲,1.00\n");
        assert_eq!(src.state.encoding, Encoding::Utf8Bom);
    }

    #[test]
    fn auto_detects_gbk_after_ascii_lines() {
        let (gbk_bytes, _, bad) = encoding_rs::GBK.encode("key,amount\nA1,1.00\n订单,2.00\n");
        assert!(!bad);
        let mut src = source(&gbk_bytes, Decode::Auto, Comments::Keep);
        let mut s = String::new();
        src.read_to_string(&mut s).unwrap();
        assert_eq!(s, "key,amount\nA1,1.00\n订单,2.00\n");
        assert_eq!(src.state.encoding, Encoding::Gbk);
    }

    #[test]
    fn utf8_mode_names_the_gbk_line() {
        let (gbk_bytes, _, _) = encoding_rs::GBK.encode("a,b\n1,2\n中文,3\n");
        let mut src = source(&gbk_bytes, Decode::Utf8, Comments::Keep);
        let mut s = String::new();
        assert!(src.read_to_string(&mut s).is_err());
        let p = src.problem.unwrap();
        assert_eq!((p.line, p.found, p.expected), (3, "GBK", "UTF-8"));
    }

    #[test]
    fn gbk_mode_refuses_utf8() {
        let mut src = source("#x\n支付宝,1\n".as_bytes(), Decode::Gbk, Comments::Skip);
        let mut s = String::new();
        assert!(src.read_to_string(&mut s).is_err());
        let p = src.problem.unwrap();
        assert_eq!((p.line, p.found, p.expected), (2, "UTF-8", "GBK"));
    }

    #[test]
    fn format_and_encoding_words() {
        assert_eq!("HFB".parse::<Format>(), Ok(Format::Hfb));
        assert_eq!("wechat".parse::<Format>(), Ok(Format::Wechat));
        assert_eq!("alipay".parse::<Format>(), Ok(Format::Alipay));
        assert_eq!(
            "generic".parse::<Format>(),
            Err(FormatParseError::MappingRequired)
        );
        assert!(matches!(
            "csv".parse::<Format>(),
            Err(FormatParseError::UnknownFormat(_))
        ));
        let m = GenericMapping::new("订单号", "金额");
        assert_eq!(
            Format::parse("generic", Some(m.clone())),
            Ok(Format::Generic(m))
        );
        assert_eq!("gbk".parse::<Encoding>(), Ok(Encoding::Gbk));
        assert_eq!("UTF-8".parse::<Encoding>(), Ok(Encoding::Utf8));
        assert_eq!("utf8-bom".parse::<Encoding>(), Ok(Encoding::Utf8Bom));
        assert!("latin1".parse::<Encoding>().is_err());
        assert!(Format::Wechat.has_footer() && !Format::Hfb.has_footer());
        assert_eq!(
            "wechat-fundflow".parse::<Format>(),
            Ok(Format::WechatFundflow)
        );
        assert_eq!(
            "Alipay_AccountLog".parse::<Format>(),
            Ok(Format::AlipayAccountlog)
        );
        for w in Format::WORDS.into_iter().filter(|w| *w != "generic") {
            assert_eq!(w.parse::<Format>().map(|f| f.name()), Ok(w));
        }
        for f in [Format::WechatFundflow, Format::AlipayAccountlog] {
            assert!(f.has_footer() && !f.has_trades(), "{f}");
        }
        assert!(Format::Wechat.has_trades() && Format::Hfb.has_trades());
        let e = "csv".parse::<Format>().unwrap_err().to_string();
        assert!(e.ends_with("wechat-fundflow or alipay-accountlog)"), "{e}");
    }

    #[test]
    fn empty_and_blank_files_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [
            ("zero.csv", &b""[..]),
            ("blank.csv", b"\n\r\n  \n"),
            ("bom.csv", BOM),
        ] {
            let p = dir.path().join(name);
            std::fs::File::create(&p)
                .unwrap()
                .write_all(content)
                .unwrap();
            for f in [
                Format::Hfb,
                Format::Wechat,
                Format::Alipay,
                Format::Generic(GenericMapping::new("k", "a")),
                Format::WechatFundflow,
                Format::AlipayAccountlog,
            ] {
                let e = read_statement(&p, &f, |_| {}).unwrap_err();
                assert!(matches!(e, StatementError::Empty { .. }), "{name} {f}: {e}");
                assert!(e.to_string().contains("is empty"), "{e}");
            }
        }
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let e = read_statement(Path::new("/nonexistent/x.csv"), &Format::Hfb, |_| {}).unwrap_err();
        assert!(matches!(e, StatementError::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/x.csv"), "{e}");
    }

    #[test]
    fn mismatch_reasons() {
        let t = |count, amount: i64, refund: i64| Totals {
            count,
            amount: Decimal::new(amount, 2),
            refund_amount: Decimal::new(refund, 2),
            refund_count: None,
        };
        let mut r = ImportReport {
            path: PathBuf::from("x"),
            format: "wechat",
            encoding: Encoding::Utf8,
            entries: 141,
            errors: Vec::new(),
            declared: Some(t(144, 140635049, 0)),
            computed: t(141, 139700000, 0),
            first_paid_at: None,
            last_paid_at: None,
            days: Days::default(),
            declared_period: None,
            layout: None,
        };
        assert_eq!(r.totals_match(), Some(false));
        assert_eq!(
            r.totals_mismatch_reason().unwrap(),
            "footer says 144 trades totalling 1406350.49, rows give 141 totalling 1397000.00"
        );
        r.declared = Some(r.computed);
        assert_eq!(r.totals_match(), Some(true));
        assert_eq!(r.totals_mismatch_reason(), None);
        r.declared = None;
        assert!(r.totals_mismatch_reason().unwrap().contains("missing"));
        r.format = "hfb";
        assert_eq!(r.totals_match(), None);
        assert_eq!(r.totals_mismatch_reason(), None);
    }

    #[test]
    fn amount_helpers() {
        assert_eq!(amount("x", "12.30"), Ok(Decimal::new(1230, 2)));
        for bad in ["12.3.4", "abc", "1.005", ""] {
            assert!(amount("x", bad).is_err(), "{bad}");
        }
        assert!(non_negative("x", "-1.00").is_err());
        assert_eq!(exact("fee", "0.60000"), Ok(Decimal::new(60000, 5)));
        assert!(time("t", "2024-01-02T03:04:05").is_ok());
        assert!(time("t", "2024/01/02 03:04:05").is_ok());
        assert!(time("t", "02.01.2024").is_err());
        assert_eq!(
            time("t", "2021-02-01 16：33：45"),
            time("t", "2021-02-01 16:33:45")
        );
        let e = time("交易时间", "2021-02-01 16：3x：45").unwrap_err();
        assert_eq!(
            e,
            "交易时间: '2021-02-01 16：3x：45' is not a time (expected YYYY-MM-DD HH:MM:SS)"
        );
    }

    #[test]
    fn rates_are_exact_fractions() {
        let r = |t: &str| rate("费率", t);
        assert_eq!(r("0.60%"), Ok(Decimal::new(6, 3)));
        assert_eq!(r("0.60%").unwrap().to_string(), "0.006");
        assert_eq!(r("1.00%"), Ok(Decimal::new(1, 2)));
        assert_eq!(r("0.38%"), Ok(Decimal::new(38, 4)));
        assert_eq!(r("0.2%"), Ok(Decimal::new(2, 3)));
        assert_eq!(r("0.00%"), Ok(Decimal::ZERO));
        assert_eq!(r("0.60％"), Ok(Decimal::new(6, 3)));
        for bad in ["0.60", "%", "abc%", "-0.60%", "0.6.0%", "1e2%", " %"] {
            let e = r(bad).unwrap_err();
            assert_eq!(
                e,
                format!("费率: '{bad}' is not a rate (expected a percentage like 0.60%)")
            );
        }
    }

    #[test]
    fn movements_of_a_trade_format_are_refused_before_opening() {
        for f in [Format::Hfb, Format::Wechat, Format::Alipay] {
            let e = read_movements(
                Path::new("/nonexistent/bill.csv"),
                &f,
                &mut |_| panic!("no movement"),
                &mut |_| {},
            )
            .unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(&e, StatementError::Io { source, .. } if source.kind() == io::ErrorKind::InvalidInput),
                "{msg}"
            );
            assert!(
                msg.starts_with("cannot read /nonexistent/bill.csv: a "),
                "{msg}"
            );
            assert!(msg.contains("holds no account movements"), "{msg}");
        }
    }

    #[test]
    fn a_bills_day_is_its_bulk_without_the_tail_or_stray_rows() {
        let t = |d: u32, h: u32, m: u32| {
            NaiveDate::from_ymd_opt(2026, 11, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let days = |times: &[NaiveDateTime]| {
            let mut d = Days::default();
            for &x in times {
                d.note(x);
            }
            d.period()
        };
        let mut bill: Vec<NaiveDateTime> = (0..40).map(|i| t(20, 1 + i % 22, i % 60)).collect();
        assert_eq!(days(&bill), Some((day(20), day(20))));
        // The previous evening's payments after the gateway's cutoff: the tail.
        bill.extend([t(19, 23, 59), t(19, 23, 59)]);
        assert_eq!(days(&bill), Some((day(20), day(20))));
        // Refunds listed with their payments' old times do not move the day.
        bill.extend([t(3, 10, 0), t(12, 9, 30)]);
        assert_eq!(days(&bill), Some((day(20), day(20))));
        // A bill exported for three days is for the three.
        let three: Vec<NaiveDateTime> = (0..30).map(|i| t(20 + i % 3, 12, i)).collect();
        assert_eq!(days(&three), Some((day(20), day(22))));
        // A whole day of rows late in the evening is that day, not a tail.
        let late: Vec<NaiveDateTime> = (0..10).map(|i| t(19, 23, 40 + i)).collect();
        assert_eq!(days(&late), Some((day(19), day(19))));
        // The next morning's first minutes on the last day: the tail again.
        let mut morning = bill.clone();
        morning.extend([t(21, 0, 1), t(21, 0, 2), t(21, 0, 3)]);
        assert_eq!(days(&morning), Some((day(20), day(20))));
        assert_eq!(days(&[]), None);
    }

    #[test]
    fn gzip_and_zip_files_are_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes, what) in [
            (
                "bill.csv.gz",
                &b"\x1f\x8b\x08\x00rest"[..],
                "gzip-compressed",
            ),
            ("bill.zip", b"PK\x03\x04rest", "zip archive"),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            for f in [Format::Wechat, Format::Alipay, Format::Hfb] {
                let e = read_statement(&p, &f, |_| {}).unwrap_err();
                assert!(matches!(e, StatementError::Packed { .. }), "{f}: {e}");
                assert!(e.to_string().contains(what), "{e}");
            }
        }
    }
}
