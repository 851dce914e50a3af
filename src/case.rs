//! A support case (SPEC §6 Case, §7 `case`): the whole story of one recharge
//! or one user — order, every callback attempt, idempotency record, flows,
//! balance — told as one timeline in time order, with a plain verdict that
//! names its cause.
//!
//! The story is built from whatever tables the database has: on srb's own
//! tables alone (no `recharge_order`, `notify_log`, `idempotency_record`) a
//! recharge is its flows by `trans_no`, and the case says plainly what cannot
//! be known without the missing tables. Every query is served by an index
//! (SPEC §9: under 50 ms on 10M flows): input is normalised first and then
//! looked up by exact value or by an index range, never by a function of a
//! column.

use crate::args;
use crate::db::{Db, DbError, SchemaReport, schema};
use crate::gui::Lang;
use crate::model::{OrderStatus, TransType};
use crate::money::format_amount;
use crate::recon::{Kind, Severity};
use crate::workspace::Status;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the support agent typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum Query {
    /// An `agentBillNo` (or srb's `trans_no`).
    Bill(String),
    /// A `user_info.id`.
    User(i64),
    /// A mobile number.
    Mobile(String),
    /// A name (exact).
    Name(String),
}

impl Query {
    /// What is searched by, in Chinese and English (`手机号` / `phone`).
    pub fn by(&self) -> (&'static str, &'static str) {
        match self {
            Self::Bill(_) => ("订单号", "agentBillNo"),
            Self::User(_) => ("用户编号", "user id"),
            Self::Mobile(_) => ("手机号", "phone"),
            Self::Name(_) => ("姓名", "name"),
        }
    }

    /// The searched value.
    pub fn value(&self) -> String {
        match self {
            Self::Bill(v) | Self::Mobile(v) | Self::Name(v) => v.clone(),
            Self::User(id) => id.to_string(),
        }
    }

    /// Guesses what one search box entry means, after [`normalise`]: a phone
    /// number (`+86 138-1234-5678` too) is a mobile, `CHARGE…`/`WITHDRAW…`
    /// (any case) or a long number is a bill, other digits a user id,
    /// anything else a name. [`search`] tries the other readings too.
    pub fn guess(text: &str) -> Self {
        let t = normalise(text);
        if let Some(m) = mobile_of(&t) {
            return Self::Mobile(m);
        }
        let b = bill_of(&t);
        if b.starts_with("CHARGE") || b.starts_with("WITHDRAW") {
            return Self::Bill(b);
        }
        if let Ok(id) = t.parse::<i64>()
            && t.len() <= 10
        {
            return Self::User(id);
        }
        if is_bill_like(&b) {
            Self::Bill(b)
        } else {
            Self::Name(t)
        }
    }
}

/// Normalises what was typed: full-width characters (`１３８`, `＋８６`) to
/// ASCII, the ideographic space to a space, dashes to `-`, surrounding
/// spaces trimmed.
pub fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            _ => c,
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A mainland mobile number in its stored form (`13812345678`), from
/// `+86 138-1234-5678`, `0086 13812345678`, ` 138 1234 5678 `, `(138) 1234.5678`;
/// `None` when the text is not one.
pub fn mobile_of(text: &str) -> Option<String> {
    let t = normalise(text);
    let mut d: String = t
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\t'))
        .collect();
    for p in ["+86", "0086", "86"] {
        if let Some(rest) = d.strip_prefix(p)
            && rest.len() == 11
        {
            d = rest.to_owned();
            break;
        }
    }
    (d.len() == 11 && d.starts_with('1') && d.bytes().all(|b| b.is_ascii_digit())).then_some(d)
}

/// A bill number in its stored form: no spaces, upper case.
pub fn bill_of(text: &str) -> String {
    normalise(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Whether a (normalised) text can be a bill number or a prefix of one:
/// ASCII letters and digits, at least 4 of them, with a digit.
fn is_bill_like(b: &str) -> bool {
    b.len() >= 4
        && b.len() <= 64
        && b.bytes().all(|c| c.is_ascii_alphanumeric())
        && b.bytes().any(|c| c.is_ascii_digit())
}

/// The smallest string above every string starting with `p`, within
/// `0-9A-Z` so that every collation orders it the same way (`CHARGE2029` →
/// `CHARGE202A`); `None` when there is none (`ZZZ`).
fn prefix_upper(p: &str) -> Option<String> {
    let mut b = p.as_bytes().to_vec();
    while let Some(last) = b.pop() {
        let next = match last {
            b'0'..=b'8' | b'A'..=b'Y' | b'a'..=b'y' => last + 1,
            b'9' => b'A',
            _ => continue,
        };
        b.push(next);
        return String::from_utf8(b).ok();
    }
    None
}

/// The plain answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Charged once, credited once.
    ChargedOnce,
    /// Credited exactly twice.
    CreditedTwice,
    /// Credited three times or more.
    CreditedManyTimes,
    /// The gateway says paid (callbacks arrived) but no credit.
    PaidNotCredited,
    /// Order paid, no flow.
    MarkedPaidNotCredited,
    /// Still paying, no valid callback: the customer may or may not have paid.
    AwaitingGateway,
    /// The gateway declined the payment (a failure result code, or the order closed as failed).
    PaymentFailed,
    /// Credited without a paid order.
    CreditedWithoutOrder,
    /// Credited, though every callback the gateway sent reported a failure.
    CreditedDespiteFailure,
    /// The gateway refunded or revoked the payment (statement), still credited here.
    RefundedStillCredited,
    /// Credited once; with srb's tables alone whether the gateway charged cannot be checked.
    CreditedOnceUnchecked,
    /// Flows of another kind (a withdrawal, an investment), no recharge.
    NotARecharge,
    /// Nothing found.
    NotFound,
}

impl Verdict {
    /// Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            Self::ChargedOnce => "扣款一次，入账一次：正常",
            Self::CreditedTwice => "重复入账：同一笔充值入账了不止一次",
            Self::CreditedManyTimes => "多次入账：同一笔充值入账了三次或更多",
            Self::PaidNotCredited => "已付款未到账：网关回调了，我方没有入账",
            Self::MarkedPaidNotCredited => "订单显示已支付，但没有入账流水",
            Self::AwaitingGateway => "等待网关：还没有收到有效回调，客户可能已付款，请向网关查单",
            Self::PaymentFailed => "支付失败：网关未扣款",
            Self::CreditedWithoutOrder => "有入账流水，但没有已支付的订单",
            Self::CreditedDespiteFailure => "网关报告支付失败，我方却入账了",
            Self::RefundedStillCredited => "网关已退款，我方仍为已入账",
            Self::CreditedOnceUnchecked => "入账一次（此库无法核对网关是否扣款）",
            Self::NotARecharge => "不是充值：只有其他类型的流水",
            Self::NotFound => "没有找到",
        }
    }

    /// English.
    pub fn en(self) -> &'static str {
        match self {
            Self::ChargedOnce => "charged once, credited once: all fine",
            Self::CreditedTwice => "credited twice: one recharge was credited more than once",
            Self::CreditedManyTimes => {
                "credited many times: one recharge was credited three times or more"
            }
            Self::PaidNotCredited => {
                "paid but not credited: the gateway called back, we never credited"
            }
            Self::MarkedPaidNotCredited => "the order says paid but no flow credits it",
            Self::AwaitingGateway => {
                "waiting for the gateway: no valid callback yet — the customer may have paid; query the gateway"
            }
            Self::PaymentFailed => "payment failed: the gateway did not charge",
            Self::CreditedWithoutOrder => "credited without a paid order",
            Self::CreditedDespiteFailure => {
                "credited although the gateway reported the payment failed"
            }
            Self::RefundedStillCredited => "refunded at the gateway, still credited here",
            Self::CreditedOnceUnchecked => {
                "credited once (whether the gateway charged cannot be checked here)"
            }
            Self::NotARecharge => "not a recharge: only flows of another kind",
            Self::NotFound => "not found",
        }
    }

    /// The text in `l`.
    pub fn text(self, l: Lang) -> &'static str {
        l.t(self.zh(), self.en())
    }

    /// Whether money is wrong or at risk (shown in red).
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Self::CreditedTwice
                | Self::CreditedManyTimes
                | Self::PaidNotCredited
                | Self::MarkedPaidNotCredited
                | Self::CreditedWithoutOrder
                | Self::CreditedDespiteFailure
                | Self::RefundedStillCredited
        )
    }
}

/// One callback attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// When it arrived.
    pub received_at: Option<NaiveDateTime>,
    /// The gateway's `resultCode` (`0001` paid; anything else a failure).
    pub result_code: Option<String>,
    /// Outcome.
    pub outcome: String,
    /// What srb answered.
    pub response: String,
    /// Amount it carried.
    pub charge_amt: Option<Decimal>,
    /// Sign verified?
    pub sign_ok: bool,
}

impl Attempt {
    /// Whether the gateway reported the payment as done (a good sign and
    /// `resultCode` 0001; an unknown code counts as paid unless the handler
    /// ignored the attempt).
    pub fn says_paid(&self) -> bool {
        self.sign_ok
            && match self.result_code.as_deref() {
                Some(c) if !c.is_empty() => c == crate::payment::RESULT_OK,
                _ => self.outcome != "ignored",
            }
    }

    /// The failure code the gateway reported, when it reported one (good sign).
    pub fn failure_code(&self) -> Option<String> {
        if !self.sign_ok {
            return None;
        }
        match self.result_code.as_deref() {
            Some(c) if !c.is_empty() && c != crate::payment::RESULT_OK => Some(c.to_owned()),
            None | Some("") if self.outcome == "ignored" => Some("?".into()),
            _ => None,
        }
    }
}

/// The outcome of a callback attempt in words.
pub fn outcome_words(outcome: &str) -> (&'static str, &'static str) {
    match outcome {
        "credited" => ("已入账", "credited"),
        "idempotent" => (
            "重复回调，已处理过，未再入账",
            "already done, not credited again",
        ),
        "rejected_sign" => ("签名错误，已拒绝", "bad sign, refused"),
        "rejected_conflict" => (
            "内容与首次不同，已拒绝",
            "differs from the first one, refused",
        ),
        "failed" => ("我方处理出错", "our handler failed"),
        "ignored" => (
            "网关报告未成功，已忽略",
            "gateway reported no success, ignored",
        ),
        _ => ("未知结果", "unknown outcome"),
    }
}

/// What srb answered a callback, in words: `success` / `fail` translated,
/// anything else (a handler's own text) is data and shown as it is.
pub fn response_words(response: &str) -> (String, String) {
    match response {
        "" => ("（无应答）".into(), "(no answer)".into()),
        crate::payment::SUCCESS => ("成功".into(), "success".into()),
        crate::payment::FAIL => ("失败".into(), "fail".into()),
        other => (format!("“{other}”"), format!("\"{other}\"")),
    }
}

/// An idempotency record's status in words (`processing`, `succeeded`,
/// `failed`; an unknown stored word is shown as it is, quoted).
pub fn idempotency_words(status: &str) -> (String, String) {
    use crate::model::IdempotencyStatus as S;
    match S::parse(status) {
        Some(S::Processing) => ("处理中".into(), "processing".into()),
        Some(S::Succeeded) => ("已成功".into(), "succeeded".into()),
        Some(S::Failed) => ("已失败".into(), "failed".into()),
        None => (
            format!("未知状态“{status}”"),
            format!("unknown status \"{status}\""),
        ),
    }
}

/// One flow.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    /// Row id.
    pub id: i64,
    /// Type code.
    pub trans_type: i64,
    /// Type name (Chinese).
    pub type_name: String,
    /// Type name (English).
    pub type_name_en: String,
    /// Amount.
    pub amount: Option<Decimal>,
    /// Δ available balance.
    pub effect: Option<Decimal>,
    /// Available balance after this flow (flows of the user in time order), in a user's story.
    pub balance_after: Option<Decimal>,
    /// When.
    pub at: Option<NaiveDateTime>,
    /// Business number.
    pub trans_no: String,
}

/// What a timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The order was created.
    Order,
    /// A callback attempt arrived.
    Callback,
    /// The idempotency record was locked or completed.
    Idempotency,
    /// A flow was written.
    Flow,
}

/// One entry of a recharge's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// When (`None` sorts last).
    pub at: Option<NaiveDateTime>,
    /// What.
    pub kind: EventKind,
    /// In Chinese.
    pub zh: String,
    /// In English.
    pub en: String,
    /// The amount involved.
    pub amount: Option<Decimal>,
    /// Δ available balance (flows).
    pub effect: Option<Decimal>,
    /// Something is wrong with this entry (shown marked).
    pub flagged: bool,
}

/// A workspace finding shown with a case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseFinding {
    /// Workspace id.
    pub id: i64,
    /// Kind.
    pub kind: Kind,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: Status,
    /// Business key.
    pub key: String,
    /// Bill, where there is one.
    pub agent_bill_no: Option<String>,
    /// User, where known.
    pub user_id: Option<i64>,
    /// Internal − external.
    pub difference: Option<Decimal>,
    /// Explanation (Chinese).
    pub detail_zh: String,
    /// Explanation (English).
    pub detail_en: String,
    /// When first seen.
    pub first_seen_at: NaiveDateTime,
}

/// The story of one recharge.
#[derive(Debug, Clone, Serialize)]
pub struct BillStory {
    /// `agentBillNo`.
    pub agent_bill_no: String,
    /// Order status name, if the order exists.
    pub order_status: Option<String>,
    /// Order status name in English.
    pub order_status_en: Option<String>,
    /// Order amount.
    pub order_amount: Option<Decimal>,
    /// Order created.
    pub order_created: Option<NaiveDateTime>,
    /// Order user.
    pub user_id: Option<i64>,
    /// Callback attempts, in order.
    pub attempts: Vec<Attempt>,
    /// Idempotency record: status and when locked/completed.
    pub idempotency: Option<(String, Option<NaiveDateTime>, Option<NaiveDateTime>)>,
    /// Flows with this `trans_no`, in time order.
    pub flows: Vec<Flow>,
    /// How many times the recharge was credited.
    pub credits: usize,
    /// Money credited too much: (credits − 1) × amount.
    pub excess: Option<Decimal>,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict's cause, in words (Chinese, English).
    pub cause: (String, String),
    /// Everything in time order.
    pub timeline: Vec<Event>,
    /// What else the story shows, as (Chinese, English).
    pub notes: Vec<(String, String)>,
    /// Open findings on this bill (from the workspace).
    pub findings: Vec<CaseFinding>,
}

/// A user's account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountStory {
    /// User id.
    pub user_id: i64,
    /// Name.
    pub name: String,
    /// Mobile.
    pub mobile: String,
    /// Stored available balance.
    pub stored: Option<Decimal>,
    /// Balance the flows give.
    pub expected: Decimal,
    /// stored − expected.
    pub difference: Option<Decimal>,
    /// Stored frozen amount.
    pub stored_freeze: Option<Decimal>,
    /// Frozen amount the flows give.
    pub expected_freeze: Decimal,
    /// Flows, newest first, each with the balance after it.
    pub flows: Vec<Flow>,
    /// How many recharges the user has (orders and recharge flows by bill).
    pub recharge_count: usize,
    /// Recharges, newest first, each with its story (at most [`RECHARGES_SHOWN`]).
    pub recharges: Vec<BillStory>,
    /// Open findings on this user (from the workspace).
    pub findings: Vec<CaseFinding>,
    /// The custodian's balance for this user, from the balances file of the
    /// latest complete run that had one ([`Case::attach_custodian`]).
    pub custodian: Option<Custodian>,
}

/// The custodian's (hfb's) balance for one user, beside ours: read from the
/// balances file that the latest complete run given one compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Custodian {
    /// The balances file, as the run recorded it.
    pub file: String,
    /// The workspace run that compared it.
    pub run_id: i64,
    /// When that run started (business time, `YYYY-MM-DD HH:MM:SS`).
    pub as_of: String,
    /// Whether the file lists this user's code usably.
    pub found: bool,
    /// The user's code at the custodian (`user_info.bind_code`), when found.
    pub user_code: Option<String>,
    /// The custodian's available balance, when found.
    pub amount: Option<Decimal>,
    /// The custodian's frozen amount, when found and the file has the column.
    pub freeze_amount: Option<Decimal>,
    /// Why the file could not be read (gone, unreadable), in Chinese and
    /// English; the other fields then say nothing.
    pub unreadable: Option<(String, String)>,
}

impl Custodian {
    /// Ours − the custodian's available balance (`None` unless both are known).
    pub fn difference(&self, stored: Option<Decimal>) -> Option<Decimal> {
        Some(stored? - self.amount?)
    }

    /// Ours − the custodian's frozen amount (`None` unless both are known).
    pub fn freeze_difference(&self, stored_freeze: Option<Decimal>) -> Option<Decimal> {
        Some(stored_freeze? - self.freeze_amount?)
    }

    /// The custodian's balance against ours, in one line of words: "the
    /// custodian (hfb) holds 120.00 · our ledger holds 20.00 more than the
    /// custodian", or why it is not known.
    pub fn words(
        &self,
        stored: Option<Decimal>,
        stored_freeze: Option<Decimal>,
        l: Lang,
    ) -> String {
        if let Some((zh, en)) = &self.unreadable {
            return l.t(zh, en).to_owned();
        }
        let (Some(amount), true) = (self.amount, self.found) else {
            return match l {
                Lang::Zh => format!(
                    "存管方（汇付宝）的余额文件 {} 里没有这个用户的可用记录（没有绑定协议号，或该行无法读取）",
                    file_name(&self.file)
                ),
                Lang::En => format!(
                    "the custodian's (hfb's) balances file {} lists no usable account for this user (no bind code, or a bad row)",
                    file_name(&self.file)
                ),
            };
        };
        let mut o = match l {
            Lang::Zh => format!("存管方（汇付宝）余额 {}", format_amount(amount)),
            Lang::En => format!("the custodian (hfb) holds {}", format_amount(amount)),
        };
        if let Some(f) = self.freeze_amount {
            o.push_str(&match l {
                Lang::Zh => format!("，冻结 {}", format_amount(f)),
                Lang::En => format!(", frozen {}", format_amount(f)),
            });
        }
        o.push_str(l.t("：", ": "));
        o.push_str(&self.comparison(stored, stored_freeze, l));
        o
    }

    /// Ours against the custodian's, in words: "our ledger holds 20.00
    /// more than the custodian", "agrees with our ledger" (the frozen amount
    /// too when it differs). Empty when the custodian's balance is unknown.
    pub fn comparison(
        &self,
        stored: Option<Decimal>,
        stored_freeze: Option<Decimal>,
        l: Lang,
    ) -> String {
        if self.amount.is_none() {
            return String::new();
        }
        let mut o = direction_words(self.difference(stored), false, l);
        if let Some(d) = self
            .freeze_difference(stored_freeze)
            .filter(|d| !d.is_zero())
        {
            o.push_str(l.t("；", "; "));
            o.push_str(&direction_words(Some(d), true, l));
        }
        o
    }
}

/// Ours − the custodian's, in words.
fn direction_words(diff: Option<Decimal>, frozen: bool, l: Lang) -> String {
    let Some(d) = diff else {
        return l
            .t(
                "我方没有这个用户的账户",
                "our ledger has no account for this user",
            )
            .to_owned();
    };
    let what_zh = if frozen { "冻结金额" } else { "" };
    let what_en = if frozen { " frozen" } else { "" };
    if d.is_zero() {
        l.t("与我方账上一致", "agrees with our ledger").to_owned()
    } else if d.is_sign_positive() {
        match l {
            Lang::Zh => format!("我方账上{what_zh}比存管方多 {}", format_amount(d)),
            Lang::En => format!(
                "our ledger holds {}{what_en} more than the custodian",
                format_amount(d)
            ),
        }
    } else {
        match l {
            Lang::Zh => format!("存管方{what_zh}比我方账上多 {}", format_amount(-d)),
            Lang::En => format!(
                "the custodian holds {}{what_en} more than our ledger",
                format_amount(-d)
            ),
        }
    }
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The balances file a case reads the custodian's balances from: the one
/// of the latest complete run of this database that was given one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancesSource {
    /// The workspace run.
    pub run_id: i64,
    /// Its `balances` parameter.
    pub file: std::path::PathBuf,
    /// When it started.
    pub as_of: NaiveDateTime,
}

/// Runs looked at for a balances file, newest first, before giving up.
const BALANCES_RUNS_LOOKED_AT: u32 = 500;

/// The latest complete run of `database` (password-free URL, as runs are
/// recorded) that was given a custodian's balances file (`params.balances`);
/// `None` when no run of the last [`BALANCES_RUNS_LOOKED_AT`] was.
pub async fn latest_balances(
    ws: &crate::workspace::Workspace,
    database: &str,
) -> crate::workspace::Result<Option<BalancesSource>> {
    const PAGE: u32 = 50;
    let mut before = None;
    let mut seen = 0;
    while seen < BALANCES_RUNS_LOOKED_AT {
        let rows = ws.list_runs_before(Some(database), before, PAGE).await?;
        for r in &rows {
            let file = r.params.get("balances").and_then(|b| b.as_str());
            if r.status == crate::recon::RunStatus::Ok
                && let Some(f) = file.filter(|f| !f.trim().is_empty())
            {
                return Ok(Some(BalancesSource {
                    run_id: r.id,
                    file: std::path::PathBuf::from(f),
                    as_of: r.started_at,
                }));
            }
        }
        seen += PAGE;
        match rows.last() {
            Some(last) if rows.len() == PAGE as usize => before = Some(last.id),
            _ => break,
        }
    }
    Ok(None)
}

/// User `user_id`'s balance at the custodian, from `src`'s balances file
/// (streamed; only the user's row is kept). A file that is gone or cannot be
/// read is said in one line instead: never an error.
pub async fn custodian_for(db: &Db, src: &BalancesSource, user_id: i64) -> Custodian {
    let shown = src.file.display().to_string();
    let mut c = Custodian {
        file: shown.clone(),
        run_id: src.run_id,
        as_of: src.as_of.format("%Y-%m-%d %H:%M:%S").to_string(),
        found: false,
        user_code: None,
        amount: None,
        freeze_amount: None,
        unreadable: None,
    };
    if !src.file.is_file() {
        c.unreadable = Some((
            format!(
                "存管余额文件 {shown}（对账 #{} 用过）已不在原处，无法显示存管方余额",
                src.run_id
            ),
            format!(
                "the custodian's balances file {shown} (of run #{}) is gone: the custodian's balance cannot be shown",
                src.run_id
            ),
        ));
        return c;
    }
    match crate::recon::custody::custody_pair(db, &src.file, user_id).await {
        Ok(Some(p)) => {
            c.found = true;
            c.user_code = Some(p.user_code);
            c.amount = Some(p.custodian_amount);
            c.freeze_amount = p.custodian_freeze;
        }
        Ok(None) => {}
        Err(e) => {
            c.unreadable = Some((
                format!("存管余额文件 {shown} 无法读取，无法显示存管方余额"),
                format!("the custodian's balances file {shown} cannot be read: {e}"),
            ));
        }
    }
    c
}

/// Something close to what was typed, when nothing matched.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// The query that finds it.
    pub query: Query,
    /// A short description (amount, user, name).
    pub hint: String,
}

/// The answer to a query.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// What was looked up.
    pub query: Query,
    /// What was typed, when it differs from the looked-up value.
    pub typed: Option<String>,
    /// For a bill query.
    pub bill: Option<BillStory>,
    /// For a user query (several users may share a mobile); for a bill, its user.
    pub users: Vec<AccountStory>,
    /// Parts that could not be shown (missing tables).
    pub missing: Vec<String>,
    /// What cannot be known with this database's tables, in words (Chinese, English).
    pub unknowable: Vec<(String, String)>,
    /// Near matches when nothing was found ("did you mean …").
    pub suggestions: Vec<Suggestion>,
}

impl Case {
    /// Whether anything was found.
    pub fn found(&self) -> bool {
        !self.users.is_empty()
            || self
                .bill
                .as_ref()
                .is_some_and(|b| b.verdict != Verdict::NotFound)
    }

    /// Every bill the case shows (for its findings).
    pub fn bills(&self) -> Vec<String> {
        let mut v: Vec<String> = self.bill.iter().map(|b| b.agent_bill_no.clone()).collect();
        for u in &self.users {
            v.extend(u.recharges.iter().map(|r| r.agent_bill_no.clone()));
        }
        v.sort();
        v.dedup();
        v
    }

    /// Every user the case shows.
    pub fn user_ids(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.users.iter().map(|u| u.user_id).collect();
        if let Some(u) = self.bill.as_ref().and_then(|b| b.user_id) {
            v.push(u);
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Reads each user's balance at the custodian from `src`'s balances file
    /// ([`custodian_for`]).
    pub async fn attach_custodian(&mut self, db: &Db, src: &BalancesSource) {
        for u in &mut self.users {
            u.custodian = Some(custodian_for(db, src, u.user_id).await);
        }
    }

    /// Shows the workspace's open findings with the bills and users they are
    /// on. A refund at the gateway (`status_mismatch`) of a credited recharge
    /// changes its verdict: the payment database alone cannot see refunds.
    pub fn attach_findings(&mut self, findings: &[CaseFinding]) {
        let on_bill = |b: &mut BillStory| {
            b.findings = findings
                .iter()
                .filter(|f| f.agent_bill_no.as_deref() == Some(b.agent_bill_no.as_str()))
                .cloned()
                .collect();
            apply_refund(b);
        };
        if let Some(b) = &mut self.bill {
            on_bill(b);
        }
        for u in &mut self.users {
            for r in &mut u.recharges {
                on_bill(r);
            }
            u.findings = findings
                .iter()
                .filter(|f| f.user_id == Some(u.user_id) && f.agent_bill_no.is_none())
                .cloned()
                .collect();
        }
    }
}

/// A credited recharge with an open refund finding is "refunded, still credited".
fn apply_refund(b: &mut BillStory) {
    if b.credits == 0
        || matches!(
            b.verdict,
            Verdict::CreditedTwice | Verdict::CreditedManyTimes
        )
    {
        return;
    }
    if let Some(f) = b.findings.iter().find(|f| {
        f.kind == Kind::StatusMismatch && matches!(f.status, Status::Open | Status::Acknowledged)
    }) {
        b.verdict = Verdict::RefundedStillCredited;
        b.cause = (f.detail_zh.clone(), f.detail_en.clone());
    }
}

/// How many recharges a user case tells in full.
pub const RECHARGES_SHOWN: usize = 20;

/// How many suggestions a "not found" offers at most.
pub const SUGGESTIONS: usize = 6;

fn empty_case(q: &Query, s: &SchemaReport) -> Case {
    let missing = [
        "recharge_order",
        "notify_log",
        "idempotency_record",
        "trans_flow",
        "user_account",
    ]
    .into_iter()
    .filter(|t| !s.has_table(t))
    .map(|t| format!("{t} is missing: that part of the story cannot be shown"))
    .collect();
    Case {
        query: q.clone(),
        typed: None,
        bill: None,
        users: Vec::new(),
        missing,
        unknowable: unknowable(s),
        suggestions: Vec::new(),
    }
}

/// What cannot be known without the tables srb lacks.
fn unknowable(s: &SchemaReport) -> Vec<(String, String)> {
    let mut v = Vec::new();
    if !s.has_table("recharge_order") {
        v.push((
            "没有 recharge_order 表：不知道有没有下单、订单金额和状态；没有入账的充值在这里看不到".into(),
            "no recharge_order table: whether an order was placed, its amount and status are unknown; a recharge that was never credited cannot be seen here".into(),
        ));
    }
    if !s.has_table("notify_log") {
        v.push((
            "没有 notify_log 表：不知道网关回调了几次、结果码和我方应答；网关是否扣款只能从网关对账单核对".into(),
            "no notify_log table: how often the gateway called back, its result codes and our answers are unknown; whether the gateway charged can only be checked against its statement".into(),
        ));
    }
    if !s.has_table("idempotency_record") {
        v.push((
            "没有 idempotency_record 表：看不到幂等记录".into(),
            "no idempotency_record table: no idempotency record to show".into(),
        ));
    }
    v
}

// The lookups, one place each, so that a test can EXPLAIN every one of
// them ([`lookup_queries`]): each must be served by an index (SPEC §9).
const SQL_ORDER: &str =
    "SELECT status, charge_amt, create_time, user_id FROM recharge_order WHERE agent_bill_no = ?";
const SQL_IDEM: &str =
    "SELECT status, locked_at, completed_at FROM idempotency_record WHERE source = ? AND seq = ?";
const SQL_FLOWS_BY_USER_BILL: &str = "SELECT id, trans_type, trans_no, trans_amount, create_time, user_id FROM trans_flow WHERE user_id = ? AND trans_no = ? AND is_deleted = 0 ORDER BY create_time, id";
const SQL_FLOWS_BY_BILL: &str = "SELECT id, trans_type, trans_no, trans_amount, create_time, user_id FROM trans_flow WHERE trans_no = ? AND is_deleted = 0 ORDER BY create_time, id";
const SQL_USER_BY_ID: &str = "SELECT id FROM user_info WHERE id = ?";
const SQL_USER_NAME_MOBILE: &str = "SELECT name, mobile FROM user_info WHERE id = ?";
const SQL_ACCOUNT: &str = "SELECT amount, freeze_amount FROM user_account WHERE user_id = ?";
const SQL_USER_FLOWS: &str = "SELECT id, trans_type, trans_no, trans_amount, create_time FROM trans_flow WHERE user_id = ? AND is_deleted = 0 ORDER BY create_time, id";
const SQL_USER_ORDERS: &str =
    "SELECT agent_bill_no, create_time FROM recharge_order WHERE user_id = ?";

fn sql_notify(code: &str) -> String {
    format!(
        "SELECT received_at, outcome, response_body, charge_amt, sign_ok, {code} FROM notify_log WHERE agent_bill_no = ? ORDER BY received_at, id"
    )
}

fn sql_prefix(
    table: &str,
    col: &str,
    amount: &str,
    user: &str,
    bounded: bool,
    limit: usize,
) -> String {
    let range = if bounded {
        format!("{col} >= ? AND {col} < ?")
    } else {
        format!("{col} >= ?")
    };
    format!(
        "SELECT {col}, {amount}, {user} FROM {table} WHERE {range} ORDER BY {col} LIMIT {limit}"
    )
}

fn sql_near(table: &str, col: &str, op: &str, order: &str) -> String {
    format!("SELECT {col} FROM {table} WHERE {col} {op} ? ORDER BY {col} {order} LIMIT 3")
}

fn sql_mobile_prefix() -> String {
    format!(
        "SELECT mobile, name, id FROM user_info WHERE mobile >= ? AND mobile < ? ORDER BY mobile LIMIT {SUGGESTIONS}"
    )
}

fn sql_mobile_near(op: &str, order: &str) -> String {
    format!(
        "SELECT mobile, name, id FROM user_info WHERE mobile {op} ? ORDER BY mobile {order} LIMIT 3"
    )
}

fn sql_users_by(col: &str) -> String {
    format!("SELECT id FROM user_info WHERE {col} = ? ORDER BY id LIMIT 20")
}

/// Every lookup a case makes by bill, user or phone, as (name, SQL, sample
/// arguments), for the tables `s` has — so that a test can `EXPLAIN` each and
/// prove it is served by an index (SPEC §9: under 50 ms on 10M flows).
/// Searching by name (`user_info.name`, not indexed in srb) is left out.
pub fn lookup_queries(s: &SchemaReport) -> Vec<(&'static str, String, Vec<crate::db::Arg>)> {
    let bill = "CHARGE20261120080000111";
    let mut q: Vec<(&'static str, String, Vec<crate::db::Arg>)> = Vec::new();
    if s.has_table("user_info") {
        q.push(("user_by_id", SQL_USER_BY_ID.into(), args![1_i64].to_vec()));
        q.push((
            "user_name_mobile",
            SQL_USER_NAME_MOBILE.into(),
            args![1_i64].to_vec(),
        ));
        q.push((
            "users_by_mobile",
            sql_users_by("mobile"),
            args!["13812345678"].to_vec(),
        ));
        q.push((
            "mobile_prefix",
            sql_mobile_prefix(),
            args!["138", "139"].to_vec(),
        ));
        q.push((
            "mobile_after",
            sql_mobile_near(">=", "ASC"),
            args!["13812345678"].to_vec(),
        ));
        q.push((
            "mobile_before",
            sql_mobile_near("<", "DESC"),
            args!["13812345678"].to_vec(),
        ));
    }
    if s.has_table("user_account") {
        q.push(("account", SQL_ACCOUNT.into(), args![1_i64].to_vec()));
    }
    if s.has_table("trans_flow") {
        q.push(("user_flows", SQL_USER_FLOWS.into(), args![1_i64].to_vec()));
        q.push((
            "flows_by_bill",
            SQL_FLOWS_BY_BILL.into(),
            args![bill].to_vec(),
        ));
        q.push((
            "flows_by_user_bill",
            SQL_FLOWS_BY_USER_BILL.into(),
            args![1_i64, bill].to_vec(),
        ));
        q.push((
            "flow_prefix",
            sql_prefix(
                "trans_flow",
                "trans_no",
                "trans_amount",
                "user_id",
                true,
                SUGGESTIONS + 1,
            ),
            args!["CHARGE2026", "CHARGE2027"].to_vec(),
        ));
        q.push((
            "flow_after",
            sql_near("trans_flow", "trans_no", ">=", "ASC"),
            args![bill].to_vec(),
        ));
        q.push((
            "flow_before",
            sql_near("trans_flow", "trans_no", "<", "DESC"),
            args![bill].to_vec(),
        ));
    }
    if s.has_table("recharge_order") {
        q.push(("order", SQL_ORDER.into(), args![bill].to_vec()));
        q.push(("user_orders", SQL_USER_ORDERS.into(), args![1_i64].to_vec()));
        q.push((
            "order_prefix",
            sql_prefix(
                "recharge_order",
                "agent_bill_no",
                "charge_amt",
                "user_id",
                true,
                SUGGESTIONS + 1,
            ),
            args!["CHARGE2026", "CHARGE2027"].to_vec(),
        ));
        q.push((
            "order_after",
            sql_near("recharge_order", "agent_bill_no", ">=", "ASC"),
            args![bill].to_vec(),
        ));
        q.push((
            "order_before",
            sql_near("recharge_order", "agent_bill_no", "<", "DESC"),
            args![bill].to_vec(),
        ));
    }
    if s.has_table("notify_log") {
        let code = if s.has_column("notify_log", "result_code") {
            "result_code"
        } else {
            "NULL"
        };
        q.push(("callbacks", sql_notify(code), args![bill].to_vec()));
    }
    if s.has_table("idempotency_record") {
        q.push((
            "idempotency",
            SQL_IDEM.into(),
            args![crate::model::SOURCE_HFB_NOTIFY, bill].to_vec(),
        ));
    }
    q
}

/// Looks a case up (read-only) for an exact query; bills and mobiles are
/// normalised first (`+86 138-1234-5678`, lower case).
pub async fn lookup(db: &Db, q: &Query) -> Result<Case, DbError> {
    let s = schema::discover(db).await?;
    lookup_in(db, &s, q).await
}

async fn lookup_in(db: &Db, s: &SchemaReport, q: &Query) -> Result<Case, DbError> {
    let q = match q {
        Query::Bill(b) => Query::Bill(bill_of(b)),
        Query::Mobile(m) => Query::Mobile(mobile_of(m).unwrap_or_else(|| normalise(m))),
        Query::Name(n) => Query::Name(normalise(n)),
        Query::User(u) => Query::User(*u),
    };
    let mut case = empty_case(&q, s);
    match &q {
        Query::Bill(b) => {
            let story = bill_story(db, s, b).await?;
            if let Some(uid) = story.user_id
                && user_exists(db, s, uid).await?
            {
                case.users.push(account_story(db, s, uid).await?);
            }
            case.bill = Some(story);
        }
        Query::User(id) => {
            if user_exists(db, s, *id).await? {
                case.users.push(account_story(db, s, *id).await?);
            }
        }
        Query::Mobile(m) => {
            for id in user_ids(db, s, "mobile", m).await? {
                case.users.push(account_story(db, s, id).await?);
            }
        }
        Query::Name(n) => {
            for id in user_ids(db, s, "name", n).await? {
                case.users.push(account_story(db, s, id).await?);
            }
        }
    }
    Ok(case)
}

/// Searches for what was typed into the one search box: normalises it, tries
/// each reading (phone, bill, user id, name, a prefix of a bill or phone)
/// with exact or index-range lookups, and when nothing matches offers near
/// matches ("did you mean …").
pub async fn search(db: &Db, text: &str) -> Result<Case, DbError> {
    let s = schema::discover(db).await?;
    search_in(db, &s, text).await
}

/// [`search`] with the database's schema already discovered (the console
/// keeps it from connecting: one round trip less per search).
pub async fn search_in(db: &Db, s: &SchemaReport, text: &str) -> Result<Case, DbError> {
    let s = s.clone();
    let t = normalise(text);
    let typed = (t != text).then(|| text.to_owned());
    let mut tries: Vec<Query> = Vec::new();
    let b = bill_of(&t);
    if let Some(m) = mobile_of(&t) {
        tries.push(Query::Mobile(m));
    }
    if b.starts_with("CHARGE") || b.starts_with("WITHDRAW") {
        tries.push(Query::Bill(b.clone()));
    }
    if t.len() <= 10
        && let Ok(id) = t.parse::<i64>()
    {
        tries.push(Query::User(id));
    }
    // A finding's key for an account (`user:42`).
    if let Some(id) = t
        .to_ascii_lowercase()
        .strip_prefix("user:")
        .and_then(|r| r.trim().parse::<i64>().ok())
    {
        tries.push(Query::User(id));
    }
    if is_bill_like(&b) && !tries.contains(&Query::Bill(b.clone())) {
        tries.push(Query::Bill(b.clone()));
    }
    if !t.is_empty() && !t.bytes().all(|c| c.is_ascii_digit()) && !is_bill_like(&b) {
        tries.push(Query::Name(t.clone()));
    }
    for q in &tries {
        let mut c = lookup_in(db, &s, q).await?;
        if c.found() {
            c.typed = typed
                .clone()
                .or_else(|| (q.value() != t).then(|| t.clone()));
            return Ok(c);
        }
    }
    // A prefix of a bill: one match opens it, several are offered.
    let mut suggestions = Vec::new();
    if is_bill_like(&b) {
        let found = bill_prefix(db, &s, &b, SUGGESTIONS).await?;
        if found.len() == 1 {
            let mut c = lookup_in(db, &s, &Query::Bill(found[0].0.clone())).await?;
            c.typed = Some(text.to_owned());
            return Ok(c);
        }
        suggestions.extend(found.into_iter().map(|(bill, hint)| Suggestion {
            query: Query::Bill(bill),
            hint,
        }));
    }
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    if suggestions.is_empty() && digits.len() >= 3 && digits.len() <= 11 {
        suggestions.extend(mobile_near(db, &s, &digits).await?);
    }
    if suggestions.is_empty() && is_bill_like(&b) {
        suggestions.extend(bill_near(db, &s, &b).await?);
    }
    suggestions.truncate(SUGGESTIONS);
    let q = tries.into_iter().next().unwrap_or(Query::Name(t));
    let mut c = empty_case(&q, &s);
    c.typed = typed;
    c.suggestions = suggestions;
    Ok(c)
}

/// Bills starting with `p` (orders, then flows), by an index range.
async fn bill_prefix(
    db: &Db,
    s: &SchemaReport,
    p: &str,
    limit: usize,
) -> Result<Vec<(String, String)>, DbError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let upper = prefix_upper(p);
    for (table, col, amount, user) in [
        ("recharge_order", "agent_bill_no", "charge_amt", "user_id"),
        ("trans_flow", "trans_no", "trans_amount", "user_id"),
    ] {
        if !s.has_table(table) || out.len() >= limit {
            continue;
        }
        let sql = sql_prefix(table, col, amount, user, upper.is_some(), limit + 1);
        let rows = match &upper {
            Some(u) => db.fetch_all(&sql, &args![p, u.as_str()]).await?,
            None => db.fetch_all(&sql, &args![p]).await?,
        };
        for r in &rows {
            let d = |e| db.decode(table, e);
            let bill = r.text(0).map_err(d)?;
            if !bill.to_ascii_uppercase().starts_with(p) || out.iter().any(|(b, _)| *b == bill) {
                continue;
            }
            let hint = format!(
                "{} · #{}",
                a(r.opt_money(1).map_err(d)?),
                r.opt_i64(2)
                    .map_err(d)?
                    .map(|u| u.to_string())
                    .unwrap_or_default()
            );
            out.push((bill, hint));
        }
    }
    out.truncate(limit);
    Ok(out)
}

/// The bills next to `b` in index order that share most of its beginning.
async fn bill_near(db: &Db, s: &SchemaReport, b: &str) -> Result<Vec<Suggestion>, DbError> {
    let mut out: Vec<Suggestion> = Vec::new();
    let (table, col) = if s.has_table("recharge_order") {
        ("recharge_order", "agent_bill_no")
    } else if s.has_table("trans_flow") {
        ("trans_flow", "trans_no")
    } else {
        return Ok(out);
    };
    for (op, order) in [(">=", "ASC"), ("<", "DESC")] {
        let sql = sql_near(table, col, op, order);
        for r in db.fetch_all(&sql, &args![b]).await? {
            let v = r.text(0).map_err(|e| db.decode(table, e))?;
            if close_enough(b, &v) && !out.iter().any(|x| x.query.value() == v) {
                out.push(Suggestion {
                    query: Query::Bill(v),
                    hint: String::new(),
                });
            }
        }
    }
    Ok(out)
}

/// Phones starting with `digits` (by an index range), or, for a whole
/// number that matched nothing, the numbers next to it sharing most digits.
async fn mobile_near(db: &Db, s: &SchemaReport, digits: &str) -> Result<Vec<Suggestion>, DbError> {
    let mut out: Vec<Suggestion> = Vec::new();
    if !s.has_table("user_info") {
        return Ok(out);
    }
    let mut push = |m: String, name: String, id: i64| {
        if !out.iter().any(|x| x.query.value() == m) {
            out.push(Suggestion {
                query: Query::Mobile(m),
                hint: format!("{name} · #{id}"),
            });
        }
    };
    let mut rows = Vec::new();
    if digits.len() < 11
        && let Some(u) = prefix_upper(digits)
    {
        rows.extend(
            db.fetch_all(&sql_mobile_prefix(), &args![digits, u])
                .await?,
        );
    } else {
        for (op, order) in [(">=", "ASC"), ("<", "DESC")] {
            rows.extend(
                db.fetch_all(&sql_mobile_near(op, order), &args![digits])
                    .await?,
            );
        }
    }
    for r in rows {
        let d = |e| db.decode("user_info", e);
        let m = r.text(0).map_err(d)?;
        let name = r.opt_text(1).map_err(d)?.unwrap_or_default();
        let id = r.i64(2).map_err(d)?;
        if m.starts_with(digits) || (digits.len() == 11 && close_enough(digits, &m)) {
            push(m, name, id);
        }
    }
    Ok(out)
}

/// Whether `cand` shares at least ~70 % of `typed`'s beginning.
fn close_enough(typed: &str, cand: &str) -> bool {
    let common = typed
        .bytes()
        .zip(cand.to_ascii_uppercase().bytes())
        .take_while(|(x, y)| x == y)
        .count();
    common * 10 >= typed.len() * 7 && common >= 4
}

async fn user_exists(db: &Db, s: &SchemaReport, id: i64) -> Result<bool, DbError> {
    if !s.has_table("user_info") {
        return Ok(false);
    }
    Ok(db
        .fetch_optional(SQL_USER_BY_ID, &args![id])
        .await?
        .is_some())
}

async fn user_ids(db: &Db, s: &SchemaReport, col: &str, v: &str) -> Result<Vec<i64>, DbError> {
    if !s.has_table("user_info") || v.is_empty() {
        return Ok(Vec::new());
    }
    let sql = sql_users_by(col);
    db.fetch_all(&sql, &args![v])
        .await?
        .iter()
        .map(|r| r.i64(0).map_err(|e| db.decode("user_info", e)))
        .collect()
}

fn flow_from(db: &Db, r: &crate::db::Row) -> Result<Flow, DbError> {
    let d = |e| db.decode("trans_flow", e);
    let tt = r.i64(1).map_err(d)?;
    let amount = r.opt_money(3).map_err(d)?;
    let t = TransType::from_code(tt);
    Ok(Flow {
        id: r.i64(0).map_err(d)?,
        trans_type: tt,
        type_name: t
            .map(|t| t.name_zh().to_owned())
            .unwrap_or_else(|| format!("类型 {tt}")),
        type_name_en: t
            .map(|t| t.name_en().to_owned())
            .unwrap_or_else(|| format!("type {tt}")),
        amount,
        effect: t.zip(amount).map(|(t, a)| t.effect(a).amount),
        balance_after: None,
        at: r.opt_time(4).map_err(d)?,
        trans_no: r.text(2).map_err(d)?,
    })
}

fn status_en(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Submitted => "submitted",
        OrderStatus::Paying => "paying",
        OrderStatus::Paid => "paid",
        OrderStatus::Failed => "failed",
    }
}

async fn bill_story(db: &Db, s: &SchemaReport, bill: &str) -> Result<BillStory, DbError> {
    let mut story = BillStory {
        agent_bill_no: bill.to_owned(),
        order_status: None,
        order_status_en: None,
        order_amount: None,
        order_created: None,
        user_id: None,
        attempts: Vec::new(),
        idempotency: None,
        flows: Vec::new(),
        credits: 0,
        excess: None,
        verdict: Verdict::NotFound,
        cause: (String::new(), String::new()),
        timeline: Vec::new(),
        notes: Vec::new(),
        findings: Vec::new(),
    };
    let mut status = None;
    if s.has_table("recharge_order")
        && let Some(r) = db.fetch_optional(SQL_ORDER, &args![bill]).await?
    {
        let d = |e| db.decode("recharge_order", e);
        let code = r.opt_i64(0).map_err(d)?;
        status = code.and_then(OrderStatus::from_code);
        // An order whose status payrecon does not know is still an order.
        story.order_status = Some(match (status, code) {
            (Some(s), _) => s.name_zh().to_owned(),
            (None, Some(c)) => format!("未知状态 {c}"),
            (None, None) => "状态为空".to_owned(),
        });
        story.order_status_en = Some(match (status, code) {
            (Some(s), _) => status_en(s).to_owned(),
            (None, Some(c)) => format!("unknown status {c}"),
            (None, None) => "no status".to_owned(),
        });
        story.order_amount = r.opt_money(1).map_err(d)?;
        story.order_created = r.opt_time(2).map_err(d)?;
        story.user_id = r.opt_i64(3).map_err(d)?;
    }
    if s.has_table("notify_log") {
        let code = if s.has_column("notify_log", "result_code") {
            "result_code"
        } else {
            "NULL"
        };
        for r in db.fetch_all(&sql_notify(code), &args![bill]).await? {
            let d = |e| db.decode("notify_log", e);
            story.attempts.push(Attempt {
                received_at: r.opt_time(0).map_err(d)?,
                outcome: r.text(1).map_err(d)?,
                response: r.opt_text(2).map_err(d)?.unwrap_or_default(),
                charge_amt: r.opt_money(3).map_err(d)?,
                sign_ok: r.opt_i64(4).map_err(d)?.unwrap_or(0) == 1,
                result_code: r.opt_text(5).map_err(d)?,
            });
        }
    }
    if s.has_table("idempotency_record")
        && let Some(r) = db
            .fetch_optional(SQL_IDEM, &args![crate::model::SOURCE_HFB_NOTIFY, bill])
            .await?
    {
        let d = |e| db.decode("idempotency_record", e);
        story.idempotency = Some((
            r.text(0).map_err(d)?,
            r.opt_time(1).map_err(d)?,
            r.opt_time(2).map_err(d)?,
        ));
    }
    if s.has_table("trans_flow") {
        // trans_no is uniquely indexed in srb; by user too where the order names
        // one, so that a legacy table without the unique index is still served
        // by idx_user_id.
        let rows = match story.user_id {
            Some(uid) => {
                db.fetch_all(SQL_FLOWS_BY_USER_BILL, &args![uid, bill])
                    .await?
            }
            None => db.fetch_all(SQL_FLOWS_BY_BILL, &args![bill]).await?,
        };
        for r in &rows {
            story.flows.push(flow_from(db, r)?);
            if story.user_id.is_none() {
                story.user_id = r.opt_i64(5).map_err(|e| db.decode("trans_flow", e))?;
            }
        }
    }
    judge(&mut story, status, s);
    Ok(story)
}

/// The verdict, its cause, the notes and the timeline.
fn judge(b: &mut BillStory, status: Option<OrderStatus>, s: &SchemaReport) {
    let has_orders = s.has_table("recharge_order");
    let has_notify = s.has_table("notify_log");
    let recharge = TransType::Recharge.code();
    let credit_flows: Vec<&Flow> = b
        .flows
        .iter()
        .filter(|f| f.trans_type == recharge)
        .collect();
    let credited_attempts = b
        .attempts
        .iter()
        .filter(|a| a.outcome == "credited")
        .count();
    let n = credit_flows.len().max(credited_attempts);
    b.credits = n;
    let base = b
        .order_amount
        .or_else(|| credit_flows.first().and_then(|f| f.amount))
        .or_else(|| {
            b.attempts
                .iter()
                .find(|a| a.outcome == "credited")
                .and_then(|a| a.charge_amt)
        });
    if n >= 2 {
        b.excess = if credit_flows.len() == n && credit_flows.iter().all(|f| f.amount.is_some()) {
            let sum: Decimal = credit_flows.iter().filter_map(|f| f.amount).sum();
            base.map(|x| sum - x)
        } else {
            base.map(|x| x * Decimal::from(n - 1))
        };
    }
    let codes: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for c in b.attempts.iter().filter_map(Attempt::failure_code) {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v
    };
    let paid_calls = b.attempts.iter().filter(|a| a.says_paid()).count();
    let st_zh = |st: Option<OrderStatus>| st.map(|s| s.name_zh()).unwrap_or("无订单");
    let st_en = |st: Option<OrderStatus>| st.map(status_en).unwrap_or("no order");
    let (verdict, zh, en): (Verdict, String, String) = if n >= 2 {
        let ex = a(b.excess);
        let each = a(base);
        (
            if n == 2 {
                Verdict::CreditedTwice
            } else {
                Verdict::CreditedManyTimes
            },
            format!("入账 {n} 次：多入账 {} × {each} = {ex}", n - 1),
            format!("credited {n} times: {} × {each} = {ex} too much", n - 1),
        )
    } else if n == 1 && credit_flows.is_empty() {
        // The callback log says credited, yet no flow records it: the balance
        // may have moved without its flow (or the flow was deleted).
        (
            if status == Some(OrderStatus::Paid) {
                Verdict::MarkedPaidNotCredited
            } else {
                Verdict::PaidNotCredited
            },
            "回调记录显示已入账，但没有入账流水：请核对余额".into(),
            "the callback log says credited, but no flow records it: check the balance".into(),
        )
    } else if n == 1 {
        if !has_orders {
            (
                Verdict::CreditedOnceUnchecked,
                "入账一次；此库没有订单和回调记录，网关是否扣款需用网关对账单核对".into(),
                "credited once; this database keeps no orders or callbacks, so whether the gateway charged must be checked against its statement".into(),
            )
        } else if has_notify && paid_calls == 0 && !codes.is_empty() {
            let c = codes.join(", ");
            (
                Verdict::CreditedDespiteFailure,
                format!(
                    "网关报告支付失败（结果码 {c}），没有一次回调报告成功，我方却入账了 {}",
                    a(base)
                ),
                format!(
                    "the gateway reported failure (code {c}) and never success, yet we credited {}",
                    a(base)
                ),
            )
        } else if status == Some(OrderStatus::Paid) {
            (
                Verdict::ChargedOnce,
                format!("订单已支付，入账一次 {}", a(base)),
                format!("the order is paid and was credited once, {}", a(base)),
            )
        } else if status.is_none() && b.order_status.is_some() {
            (
                Verdict::CreditedWithoutOrder,
                format!(
                    "有入账流水，但订单是{}",
                    b.order_status.as_deref().unwrap_or_default()
                ),
                format!(
                    "a flow credits it, but the order has {}",
                    b.order_status_en.as_deref().unwrap_or_default()
                ),
            )
        } else if status.is_none() {
            (
                Verdict::CreditedWithoutOrder,
                "有入账流水，但没有这个订单号的订单".into(),
                "a flow credits it, but there is no order with this number".into(),
            )
        } else {
            (
                Verdict::CreditedWithoutOrder,
                format!("有入账流水，但订单状态是“{}”", st_zh(status)),
                format!("a flow credits it, but the order is {}", st_en(status)),
            )
        }
    } else if status == Some(OrderStatus::Paid) {
        (
            Verdict::MarkedPaidNotCredited,
            format!("订单是已支付，但没有入账流水：客户少了 {}", a(base)),
            format!(
                "the order is paid but no flow credits it: the customer is short of {}",
                a(base)
            ),
        )
    } else if paid_calls > 0 {
        (
            Verdict::PaidNotCredited,
            format!("网关报告支付成功（结果码 0001）{paid_calls} 次，我方一次也没有入账"),
            format!(
                "the gateway reported success (result code 0001) {paid_calls} times; we never credited"
            ),
        )
    } else if !codes.is_empty() {
        let c = codes.join(", ");
        (
            Verdict::PaymentFailed,
            format!("网关报告支付失败，结果码 {c}：没有扣款，也不应入账"),
            format!(
                "the gateway reported failure with code {c}: nothing was charged and nothing is due"
            ),
        )
    } else if status == Some(OrderStatus::Failed) {
        (
            Verdict::PaymentFailed,
            "订单已关闭为支付失败".into(),
            "the order was closed as failed".into(),
        )
    } else if matches!(status, Some(OrderStatus::Paying | OrderStatus::Submitted)) {
        if b.attempts.is_empty() {
            (
                Verdict::AwaitingGateway,
                format!("订单“{}”，网关还没有回调", st_zh(status)),
                format!(
                    "the order is {} and the gateway has not called back",
                    st_en(status)
                ),
            )
        } else {
            (
                Verdict::AwaitingGateway,
                format!(
                    "订单“{}”，{} 次回调都无效（签名错误）",
                    st_zh(status),
                    b.attempts.len()
                ),
                format!(
                    "the order is {}; all {} callbacks were invalid (bad sign)",
                    st_en(status),
                    b.attempts.len()
                ),
            )
        }
    } else if !b.flows.is_empty() {
        (
            Verdict::NotARecharge,
            "这个单号只有非充值流水".into(),
            "this number has only flows that are not recharges".into(),
        )
    } else if status.is_none() && b.order_status.is_some() {
        (
            Verdict::AwaitingGateway,
            format!(
                "订单是{}，没有入账流水：请向网关查单",
                b.order_status.as_deref().unwrap_or_default()
            ),
            format!(
                "the order has {} and no flow credits it: query the gateway",
                b.order_status_en.as_deref().unwrap_or_default()
            ),
        )
    } else if !b.attempts.is_empty() {
        (
            Verdict::AwaitingGateway,
            "只有无效回调（签名错误），没有订单也没有流水".into(),
            "only invalid callbacks (bad sign), no order and no flow".into(),
        )
    } else {
        (
            Verdict::NotFound,
            "订单、回调和流水里都没有这个单号".into(),
            "no order, callback or flow has this number".into(),
        )
    };
    b.verdict = verdict;
    b.cause = (zh, en);
    b.notes = notes(b, status, has_notify);
    b.timeline = timeline(b);
}

fn notes(b: &BillStory, status: Option<OrderStatus>, has_notify: bool) -> Vec<(String, String)> {
    let mut n = Vec::new();
    let count = |o: &str| b.attempts.iter().filter(|a| a.outcome == o).count();
    let total = b.attempts.len();
    let failed = count("failed");
    if total > 1 {
        n.push((
            format!("网关共回调 {total} 次（其中 {failed} 次我方应答失败）"),
            format!("the gateway called back {total} times ({failed} answered fail)"),
        ));
    }
    if total >= crate::simulate::MAX_ATTEMPTS
        && b.attempts
            .iter()
            .all(|a| a.response != crate::payment::SUCCESS)
    {
        n.push((
            "每次回调都失败，网关已停止重试：客户很可能已经付款".into(),
            "every callback failed and the gateway stopped retrying: the customer has most likely paid".into(),
        ));
    }
    for a in b
        .attempts
        .iter()
        .filter(|a| a.outcome == "rejected_conflict")
    {
        n.push((
            format!(
                "有一次回调金额为 {}，与首次不同，已拒绝",
                self::a(a.charge_amt)
            ),
            format!(
                "a callback carrying {} differed from the first one and was refused",
                self::a(a.charge_amt)
            ),
        ));
    }
    let bad = count("rejected_sign");
    if bad > 0 {
        n.push((
            format!("{bad} 次回调签名错误，已拒绝"),
            format!("{bad} callbacks had a bad sign and were refused"),
        ));
    }
    if b.verdict == Verdict::PaymentFailed
        && matches!(status, Some(OrderStatus::Paying | OrderStatus::Submitted))
    {
        n.push((
            format!(
                "订单仍是“{}”：处理器收到失败回调后没有关闭订单",
                status.map(|s| s.name_zh()).unwrap_or_default()
            ),
            format!(
                "the order is still {}: the handler did not close it on the failure callback",
                status.map(status_en).unwrap_or_default()
            ),
        ));
    }
    if let Some((st, _, _)) = &b.idempotency
        && st == "processing"
    {
        n.push((
            "幂等记录仍是处理中：处理它的进程可能已崩溃".into(),
            "the idempotency record is still processing: its worker may have died".into(),
        ));
    }
    if !has_notify && b.credits > 0 {
        n.push((
            "没有回调记录：网关回调了几次、是否重复回调，这里无法得知".into(),
            "no callback records: how many times the gateway called back cannot be known here"
                .into(),
        ));
    }
    n
}

fn timeline(b: &BillStory) -> Vec<Event> {
    let mut ev = Vec::new();
    if b.order_status.is_some() {
        ev.push(Event {
            at: b.order_created,
            kind: EventKind::Order,
            zh: format!(
                "下单，现在状态“{}”",
                b.order_status.as_deref().unwrap_or("-")
            ),
            en: format!(
                "order placed, now {}",
                b.order_status_en.as_deref().unwrap_or("-")
            ),
            amount: b.order_amount,
            effect: None,
            flagged: false,
        });
    }
    for (i, at) in b.attempts.iter().enumerate() {
        let (ozh, oen) = outcome_words(&at.outcome);
        let code = at
            .result_code
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "-".into());
        let (resp_zh, resp_en) = response_words(&at.response);
        let sign_zh = if at.sign_ok {
            "验签通过"
        } else {
            "验签失败"
        };
        let sign_en = if at.sign_ok { "sign ok" } else { "bad sign" };
        ev.push(Event {
            at: at.received_at,
            kind: EventKind::Callback,
            zh: format!(
                "回调 #{}：结果码 {code}，{ozh}，应答{resp_zh}，{sign_zh}",
                i + 1
            ),
            en: format!(
                "callback #{}: result code {code}, {oen}, answered {resp_en}, {sign_en}",
                i + 1
            ),
            amount: at.charge_amt,
            effect: None,
            flagged: !at.sign_ok
                || matches!(at.outcome.as_str(), "failed" | "rejected_conflict")
                || at.failure_code().is_some(),
        });
    }
    if let Some((st, locked, done)) = &b.idempotency {
        let (st_zh, st_en) = idempotency_words(st);
        ev.push(Event {
            at: *locked,
            kind: EventKind::Idempotency,
            zh: format!("幂等记录加锁（现在状态：{st_zh}）"),
            en: format!("idempotency record locked (now {st_en})"),
            amount: None,
            effect: None,
            flagged: st == "processing",
        });
        if done.is_some() {
            ev.push(Event {
                at: *done,
                kind: EventKind::Idempotency,
                zh: format!("幂等记录完成：{st_zh}"),
                en: format!("idempotency record completed: {st_en}"),
                amount: None,
                effect: None,
                flagged: false,
            });
        }
    }
    let recharge = TransType::Recharge.code();
    let mut k = 0;
    for f in &b.flows {
        let is_credit = f.trans_type == recharge;
        if is_credit {
            k += 1;
        }
        ev.push(Event {
            at: f.at,
            kind: EventKind::Flow,
            zh: if is_credit {
                format!("第 {k} 次入账：流水 {}（{}）", f.id, f.type_name)
            } else {
                format!("流水 {}（{}）", f.id, f.type_name)
            },
            en: if is_credit {
                format!("credit #{k}: flow {} ({})", f.id, f.type_name_en)
            } else {
                format!("flow {} ({})", f.id, f.type_name_en)
            },
            amount: f.amount,
            effect: f.effect,
            flagged: is_credit && k > 1,
        });
    }
    // In time order; an unknown time last; at one instant order, callback,
    // idempotency, flow (cause before effect).
    let rank = |k: EventKind| match k {
        EventKind::Order => 0,
        EventKind::Callback => 1,
        EventKind::Idempotency => 2,
        EventKind::Flow => 3,
    };
    ev.sort_by(|x, y| {
        (x.at.is_none(), x.at, rank(x.kind)).cmp(&(y.at.is_none(), y.at, rank(y.kind)))
    });
    ev
}

async fn account_story(db: &Db, s: &SchemaReport, uid: i64) -> Result<AccountStory, DbError> {
    let d = |e| db.decode("user_info", e);
    let (name, mobile) = match db.fetch_optional(SQL_USER_NAME_MOBILE, &args![uid]).await? {
        Some(r) => (
            r.opt_text(0).map_err(d)?.unwrap_or_default(),
            r.opt_text(1).map_err(d)?.unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    let (mut stored, mut stored_freeze) = (None, None);
    if s.has_table("user_account")
        && let Some(r) = db.fetch_optional(SQL_ACCOUNT, &args![uid]).await?
    {
        let d = |e| db.decode("user_account", e);
        stored = r.opt_money(0).map_err(d)?;
        stored_freeze = r.opt_money(1).map_err(d)?;
    }
    let (mut expected, mut expected_freeze) = (Decimal::ZERO, Decimal::ZERO);
    let mut flows = Vec::new();
    if s.has_table("trans_flow") {
        for r in db.fetch_all(SQL_USER_FLOWS, &args![uid]).await? {
            let mut f = flow_from(db, &r)?;
            if let (Some(t), Some(a)) = (TransType::from_code(f.trans_type), f.amount) {
                let e = t.effect(a);
                expected += e.amount;
                expected_freeze += e.freeze;
            }
            f.balance_after = Some(expected);
            flows.push(f);
        }
        flows.reverse();
    }
    // Every recharge of the user: orders, and recharge flows by trans_no
    // (srb's own tables have only these), newest first.
    let mut bills: BTreeMap<String, Option<NaiveDateTime>> = BTreeMap::new();
    if s.has_table("recharge_order") {
        for r in db.fetch_all(SQL_USER_ORDERS, &args![uid]).await? {
            let d = |e| db.decode("recharge_order", e);
            bills.insert(r.text(0).map_err(d)?, r.opt_time(1).map_err(d)?);
        }
    }
    for f in flows
        .iter()
        .filter(|f| f.trans_type == TransType::Recharge.code())
    {
        bills.entry(f.trans_no.clone()).or_insert(f.at);
    }
    let mut order: Vec<(String, Option<NaiveDateTime>)> = bills.into_iter().collect();
    order.sort_by(|x, y| y.1.cmp(&x.1).then(y.0.cmp(&x.0)));
    let recharge_count = order.len();
    let mut recharges = Vec::new();
    for (b, _) in order.into_iter().take(RECHARGES_SHOWN) {
        recharges.push(bill_story(db, s, &b).await?);
    }
    Ok(AccountStory {
        user_id: uid,
        name,
        mobile,
        stored,
        expected,
        difference: stored.map(|s| s - expected),
        stored_freeze,
        expected_freeze,
        flows,
        recharge_count,
        recharges,
        findings: Vec::new(),
        custodian: None,
    })
}

fn t(v: Option<NaiveDateTime>) -> String {
    v.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| "-".into())
}

fn a(v: Option<Decimal>) -> String {
    v.map(format_amount).unwrap_or_else(|| "-".into())
}

fn signed(v: Option<Decimal>) -> String {
    v.map(|d| {
        if d.is_sign_negative() {
            format_amount(d)
        } else {
            format!("+{}", format_amount(d))
        }
    })
    .unwrap_or_default()
}

/// Renders a case as text for the terminal, in both languages.
pub fn render(case: &Case) -> String {
    let mut o = report_text(case, Lang::Zh);
    o.push('\n');
    o.push_str(&report_text(case, Lang::En));
    for m in &case.missing {
        o.push_str(&format!("note: {m}\n"));
    }
    o
}

/// The case as plain text in one language: what the agent copies and hands on.
pub fn report_text(case: &Case, l: Lang) -> String {
    let mut o = String::new();
    let (zh, en) = case.query.by();
    o.push_str(&format!(
        "{} {} {}\n",
        l.t("客诉查询：按", "Case: by"),
        l.t(zh, en),
        case.query.value()
    ));
    if let Some(b) = &case.bill {
        bill_text(&mut o, b, l);
    }
    for u in &case.users {
        o.push_str(&format!(
            "\n{} {} · {} · {}\n",
            l.t("用户", "User"),
            u.user_id,
            u.name,
            u.mobile
        ));
        o.push_str(&format!(
            "  {}: {} {} · {} {} · {} {}\n",
            l.t("余额", "Balance"),
            l.t("账面", "stored"),
            a(u.stored),
            l.t("流水应有", "flows give"),
            format_amount(u.expected),
            l.t("差额", "difference"),
            a(u.difference)
        ));
        if u.difference.is_some_and(|d| !d.is_zero()) {
            o.push_str(&format!(
                "  ⚠ {}\n",
                l.t("余额与流水不符", "the balance does not match its flows")
            ));
        }
        if let Some(c) = &u.custodian {
            o.push_str(&format!(
                "  {}: {}\n",
                l.t("存管方", "Custodian"),
                custodian_line(c, u, l)
            ));
        }
        o.push_str(&format!(
            "  {} ({}):\n",
            l.t("充值", "Recharges"),
            u.recharge_count
        ));
        for b in &u.recharges {
            o.push_str(&format!(
                "    {} {:>12} · {}\n",
                b.agent_bill_no,
                a(b.order_amount
                    .or_else(|| b.flows.first().and_then(|f| f.amount))),
                b.verdict.text(l)
            ));
        }
        for f in &u.findings {
            o.push_str(&format!(
                "  ! {} [{}] {}\n",
                l.t(f.kind.name_zh(), f.kind.name_en()),
                l.t(f.status.name_zh(), f.status.as_str()),
                l.t(&f.detail_zh, &f.detail_en)
            ));
        }
        if case.bill.is_none() {
            o.push_str(&format!(
                "  {}:\n",
                l.t("最近流水（新的在前）", "Recent flows (newest first)")
            ));
            for f in u.flows.iter().take(20) {
                o.push_str(&format!(
                    "    {} {} {:>12} {:>12} → {} {}\n",
                    t(f.at),
                    l.t(&f.type_name, &f.type_name_en),
                    a(f.amount),
                    signed(f.effect),
                    a(f.balance_after),
                    f.trans_no
                ));
            }
        }
    }
    if !case.found() {
        o.push_str(&format!("{}\n", Verdict::NotFound.text(l)));
        if !case.suggestions.is_empty() {
            o.push_str(&format!("{}\n", l.t("您是不是要找：", "Did you mean:")));
            for s in &case.suggestions {
                o.push_str(&format!("  {} {}\n", s.query.value(), s.hint));
            }
        }
    }
    for (zh, en) in &case.unknowable {
        o.push_str(&format!("· {}\n", l.t(zh, en)));
    }
    o
}

/// The custodian's balance beside ours, with the file and run it is from.
pub fn custodian_line(c: &Custodian, u: &AccountStory, l: Lang) -> String {
    let words = c.words(u.stored, u.stored_freeze, l);
    if c.unreadable.is_some() {
        return words;
    }
    match l {
        Lang::Zh => format!(
            "{words}（{}，对账 #{}，{}）",
            file_name(&c.file),
            c.run_id,
            c.as_of
        ),
        Lang::En => format!(
            "{words} ({}, run #{} of {})",
            file_name(&c.file),
            c.run_id,
            c.as_of
        ),
    }
}

fn bill_text(o: &mut String, b: &BillStory, l: Lang) {
    o.push_str(&format!(
        "\n{} {}\n",
        l.t("充值", "Recharge"),
        b.agent_bill_no
    ));
    o.push_str(&format!(
        "  {}: {}\n",
        l.t("结论", "Verdict"),
        b.verdict.text(l)
    ));
    if !b.cause.0.is_empty() {
        o.push_str(&format!(
            "  {}: {}\n",
            l.t("原因", "Cause"),
            l.t(&b.cause.0, &b.cause.1)
        ));
    }
    for (zh, en) in &b.notes {
        o.push_str(&format!("    · {}\n", l.t(zh, en)));
    }
    o.push_str(&format!(
        "  {}:\n",
        l.t("经过（按时间）", "Timeline (in time order)")
    ));
    for e in &b.timeline {
        let line = format!(
            "    {}{} {} {} {}",
            if e.flagged { "! " } else { "  " },
            t(e.at),
            l.t(&e.zh, &e.en),
            e.amount.map(format_amount).unwrap_or_default(),
            e.effect
                .map(|x| format!("{} {}", l.t("余额", "balance"), signed(Some(x))))
                .unwrap_or_default()
        );
        o.push_str(line.trim_end());
        o.push('\n');
    }
    if b.timeline.is_empty() {
        o.push_str(&format!(
            "    {}\n",
            l.t("（没有记录）", "(nothing recorded)")
        ));
    }
    for f in &b.findings {
        o.push_str(&format!(
            "  ! {} [{}] {}\n",
            l.t(f.kind.name_zh(), f.kind.name_en()),
            l.t(f.status.name_zh(), f.status.as_str()),
            l.t(&f.detail_zh, &f.detail_en)
        ));
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// The case as a self-contained, printable HTML page (UTF-8, no external
/// resources) in one language, with the verdict and the timeline.
pub fn report_html(case: &Case, l: Lang, generated: NaiveDateTime) -> String {
    let mut h = String::new();
    let title = format!("{} {}", l.t("客诉查询", "Case"), case.query.value());
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:.5em 0}}\
td,th{{border:1px solid #bbb;padding:3px 8px;text-align:left;vertical-align:top}}th{{background:#eee}}\
.num{{text-align:right;font-family:monospace}}.v{{padding:.6em 1em;color:#fff;font-size:1.3em;font-weight:bold;border-radius:4px}}\
.bad{{background:#b42318}}.ok{{background:#1b7f3b}}.wait{{background:#d36b00}}.grey{{background:#606060}}.flag{{color:#b42318;font-weight:bold}}\
@media print{{body{{margin:0}}.v{{-webkit-print-color-adjust:exact;print-color-adjust:exact}}}}\
</style></head><body>\n",
        l.t("zh-CN", "en"),
        esc(&title)
    ));
    h.push_str(&format!("<h1>{}</h1>\n", esc(&title)));
    let (zh, en) = case.query.by();
    h.push_str(&format!(
        "<p>{} {} <code>{}</code> · {} {}</p>\n",
        l.t("按", "By"),
        esc(l.t(zh, en)),
        esc(&case.query.value()),
        l.t("生成于", "generated"),
        generated.format("%Y-%m-%d %H:%M:%S")
    ));
    let class = |v: Verdict| {
        if v.is_problem() {
            "bad"
        } else if v == Verdict::ChargedOnce {
            "ok"
        } else if v == Verdict::AwaitingGateway {
            "wait"
        } else {
            "grey"
        }
    };
    if let Some(b) = &case.bill {
        h.push_str(&format!(
            "<h2>{} <code>{}</code></h2>\n<div class=\"v {}\">{}</div>\n",
            l.t("充值", "Recharge"),
            esc(&b.agent_bill_no),
            class(b.verdict),
            esc(b.verdict.text(l))
        ));
        if !b.cause.0.is_empty() {
            h.push_str(&format!(
                "<p><b>{}</b></p>\n",
                esc(l.t(&b.cause.0, &b.cause.1))
            ));
        }
        if !b.notes.is_empty() {
            h.push_str("<ul>");
            for (zh, en) in &b.notes {
                h.push_str(&format!("<li>{}</li>", esc(l.t(zh, en))));
            }
            h.push_str("</ul>\n");
        }
        h.push_str(&format!(
            "<h3>{}</h3>\n<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
            l.t("经过（按时间）", "Timeline (in time order)"),
            l.t("时间", "Time"),
            l.t("事件", "Event"),
            l.t("金额", "Amount"),
            l.t("余额影响", "Balance effect")
        ));
        for e in &b.timeline {
            h.push_str(&format!(
                "<tr{}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                if e.flagged { " class=\"flag\"" } else { "" },
                t(e.at),
                esc(l.t(&e.zh, &e.en)),
                e.amount.map(format_amount).unwrap_or_default(),
                signed(e.effect)
            ));
        }
        h.push_str("</table>\n");
        findings_html(&mut h, &b.findings, l);
    }
    for u in &case.users {
        h.push_str(&format!(
            "<h2>{} {} · {} · {}</h2>\n<table><tr><th>{}</th><td class=\"num\">{}</td></tr><tr><th>{}</th><td class=\"num\">{}</td></tr><tr><th>{}</th><td class=\"num\">{}</td></tr></table>\n",
            l.t("用户", "User"),
            u.user_id,
            esc(&u.name),
            esc(&u.mobile),
            l.t("账面余额", "Stored balance"),
            a(u.stored),
            l.t("流水应有余额", "Balance from flows"),
            format_amount(u.expected),
            l.t("差额", "Difference"),
            a(u.difference)
        ));
        if let Some(c) = &u.custodian {
            h.push_str(&format!(
                "<p{}><b>{}</b> {}</p>\n",
                if c.difference(u.stored).is_some_and(|d| !d.is_zero()) || !c.found {
                    " class=\"flag\""
                } else {
                    ""
                },
                l.t("存管方：", "Custodian:"),
                esc(&custodian_line(c, u, l))
            ));
        }
        h.push_str(&format!(
            "<h3>{} ({})</h3>\n<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>\n",
            l.t("充值", "Recharges"),
            u.recharge_count,
            l.t("商户订单号", "agentBillNo"),
            l.t("金额", "Amount"),
            l.t("结论", "Verdict")
        ));
        for r in &u.recharges {
            h.push_str(&format!(
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                esc(&r.agent_bill_no),
                a(r.order_amount
                    .or_else(|| r.flows.first().and_then(|f| f.amount))),
                esc(r.verdict.text(l))
            ));
        }
        h.push_str("</table>\n");
        findings_html(&mut h, &u.findings, l);
    }
    if !case.found() {
        h.push_str(&format!(
            "<div class=\"v grey\">{}</div>\n",
            esc(Verdict::NotFound.text(l))
        ));
    }
    if !case.unknowable.is_empty() {
        h.push_str(&format!(
            "<h3>{}</h3><ul>",
            l.t("无法得知", "What cannot be known")
        ));
        for (zh, en) in &case.unknowable {
            h.push_str(&format!("<li>{}</li>", esc(l.t(zh, en))));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<p style=\"color:#888\">payrecon · 支付对账台</p>\n</body></html>\n");
    h
}

/// Writes [`report_html`] to `path` (created or replaced; the file is
/// written whole, then renamed, so that a failed save leaves no half page).
pub fn save_report_html(
    path: &std::path::Path,
    case: &Case,
    l: Lang,
    generated: NaiveDateTime,
) -> std::io::Result<()> {
    let html = report_html(case, l, generated);
    let tmp = path.with_extension("html.part");
    std::fs::write(&tmp, html.as_bytes())?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn findings_html(h: &mut String, findings: &[CaseFinding], l: Lang) {
    if findings.is_empty() {
        return;
    }
    h.push_str(&format!(
        "<h3>{}</h3>\n<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        l.t("未关闭的差错", "Open findings"),
        l.t("类型", "Kind"),
        l.t("状态", "Status"),
        l.t("说明", "Explanation")
    ));
    for f in findings {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(l.t(f.kind.name_zh(), f.kind.name_en())),
            esc(l.t(f.status.name_zh(), f.status.as_str())),
            esc(l.t(&f.detail_zh, &f.detail_en))
        ));
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lower-case English words of `text` (status and outcome codes such as
    /// `credited`, `paying`, `processing`), paths and URLs aside.
    fn english_words(text: &str) -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.len() >= 3 && w.chars().any(|c| c.is_ascii_lowercase()))
            .map(str::to_owned)
            .collect()
    }

    /// A bill paid, called back three times (one handler failure, one
    /// repeat), credited twice, its idempotency record failed.
    fn credited_twice_story() -> BillStory {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok();
        let attempt = |t: &str, outcome: &str, response: &str| Attempt {
            received_at: at(t),
            result_code: Some("0001".into()),
            outcome: outcome.into(),
            response: response.into(),
            charge_amt: Some(Decimal::new(10000, 2)),
            sign_ok: true,
        };
        let flow = |id: i64, t: &str| Flow {
            id,
            trans_type: TransType::Recharge.code(),
            type_name: "充值".into(),
            type_name_en: "recharge".into(),
            amount: Some(Decimal::new(10000, 2)),
            effect: Some(Decimal::new(10000, 2)),
            balance_after: None,
            at: at(t),
            trans_no: "CHARGE20261120000001".into(),
        };
        let mut b = BillStory {
            agent_bill_no: "CHARGE20261120000001".into(),
            order_status: Some(OrderStatus::Paid.name_zh().into()),
            order_status_en: Some(status_en(OrderStatus::Paid).into()),
            order_amount: Some(Decimal::new(10000, 2)),
            order_created: at("2026-11-20 10:00:00"),
            user_id: Some(7),
            attempts: vec![
                attempt("2026-11-20 10:00:05", "failed", "fail"),
                attempt("2026-11-20 10:00:06", "credited", "success"),
                attempt("2026-11-20 10:00:06", "credited", "success"),
                attempt("2026-11-20 10:01:00", "idempotent", "success"),
            ],
            idempotency: Some((
                "failed".into(),
                at("2026-11-20 10:00:05"),
                at("2026-11-20 10:00:07"),
            )),
            flows: vec![
                flow(1, "2026-11-20 10:00:06"),
                flow(2, "2026-11-20 10:00:06"),
            ],
            credits: 0,
            excess: None,
            verdict: Verdict::NotFound,
            cause: (String::new(), String::new()),
            timeline: Vec::new(),
            notes: Vec::new(),
            findings: Vec::new(),
        };
        let mut s = SchemaReport::default();
        for t in [
            "recharge_order",
            "notify_log",
            "idempotency_record",
            "trans_flow",
        ] {
            s.tables.insert(t.into(), Default::default());
        }
        judge(&mut b, Some(OrderStatus::Paid), &s);
        b
    }

    #[test]
    fn the_chinese_report_names_no_english_status_and_the_english_no_chinese() {
        let b = credited_twice_story();
        assert_eq!(b.verdict, Verdict::CreditedTwice);
        let mut zh = String::new();
        bill_text(&mut zh, &b, Lang::Zh);
        // Only the bill number and the result code are ASCII here.
        assert_eq!(english_words(&zh), Vec::<String>::new(), "{zh}");
        assert!(
            zh.contains("已入账") && zh.contains("已支付") && zh.contains("已失败"),
            "{zh}"
        );
        let mut en = String::new();
        bill_text(&mut en, &b, Lang::En);
        assert!(
            !en.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{en}"
        );
        assert!(en.contains("paid") && en.contains("credited"), "{en}");
    }

    #[test]
    fn the_custodians_balance_is_said_beside_ours_with_the_direction() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let c = Custodian {
            file: "/x/hfb-balances-2026-11-20.csv".into(),
            run_id: 4,
            as_of: "2026-11-21 09:00:00".into(),
            found: true,
            user_code: Some("C3".into()),
            amount: Some(d("95.00")),
            freeze_amount: Some(d("5.00")),
            unreadable: None,
        };
        let ours = (Some(d("100.00")), Some(d("5.00")));
        assert_eq!(
            c.words(ours.0, ours.1, Lang::En),
            "the custodian (hfb) holds 95.00, frozen 5.00: our ledger holds 5.00 more than the custodian"
        );
        assert_eq!(
            c.words(ours.0, ours.1, Lang::Zh),
            "存管方（汇付宝）余额 95.00，冻结 5.00：我方账上比存管方多 5.00"
        );
        assert_eq!(
            c.comparison(Some(d("90.00")), Some(d("7.00")), Lang::En),
            "the custodian holds 5.00 more than our ledger; our ledger holds 2.00 frozen more than the custodian"
        );
        assert_eq!(
            c.comparison(Some(d("95.00")), Some(d("5.00")), Lang::Zh),
            "与我方账上一致"
        );
        let gone = Custodian {
            found: false,
            amount: None,
            freeze_amount: None,
            unreadable: Some(("文件不在".into(), "the file is gone".into())),
            ..c.clone()
        };
        assert_eq!(gone.words(ours.0, ours.1, Lang::En), "the file is gone");
        assert_eq!(gone.comparison(ours.0, ours.1, Lang::En), "");
        let absent = Custodian {
            unreadable: None,
            ..gone
        };
        let zh = absent.words(ours.0, ours.1, Lang::Zh);
        assert_eq!(english_words(&zh), ["hfb", "balances", "csv"], "{zh}");
    }

    #[test]
    fn the_case_reports_carry_the_custodians_balance() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let user = AccountStory {
            user_id: 3,
            name: "郭华".into(),
            mobile: "13811275112".into(),
            stored: Some(d("100.00")),
            expected: d("100.00"),
            difference: Some(d("0.00")),
            stored_freeze: Some(d("0.00")),
            expected_freeze: d("0.00"),
            flows: Vec::new(),
            recharge_count: 0,
            recharges: Vec::new(),
            findings: Vec::new(),
            custodian: Some(Custodian {
                file: "/x/hfb-balances.csv".into(),
                run_id: 2,
                as_of: "2026-11-21 09:00:00".into(),
                found: true,
                user_code: Some("C3".into()),
                amount: Some(d("120.00")),
                freeze_amount: None,
                unreadable: None,
            }),
        };
        let case = Case {
            query: Query::User(3),
            typed: None,
            bill: None,
            users: vec![user],
            missing: Vec::new(),
            unknowable: Vec::new(),
            suggestions: Vec::new(),
        };
        let en = report_text(&case, Lang::En);
        assert!(
            en.contains("  Custodian: the custodian (hfb) holds 120.00: the custodian holds 20.00 more than our ledger (hfb-balances.csv, run #2 of 2026-11-21 09:00:00)"),
            "{en}"
        );
        let zh = report_text(&case, Lang::Zh);
        assert!(
            zh.contains("存管方: 存管方（汇付宝）余额 120.00：存管方比我方账上多 20.00（hfb-balances.csv，对账 #2，2026-11-21 09:00:00）"),
            "{zh}"
        );
        let at = NaiveDateTime::parse_from_str("2026-11-21 10:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let html = report_html(&case, Lang::En, at);
        assert!(
            html.contains("<p class=\"flag\"><b>Custodian:</b> the custodian (hfb) holds 120.00"),
            "{html}"
        );
    }

    #[test]
    fn input_is_normalised() {
        assert_eq!(
            mobile_of("+86 138-1234-5678").as_deref(),
            Some("13812345678")
        );
        assert_eq!(mobile_of(" 138 1234 5678 ").as_deref(), Some("13812345678"));
        assert_eq!(
            mobile_of("１３８１２３４５６７８").as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            mobile_of("0086 13812345678").as_deref(),
            Some("13812345678")
        );
        assert_eq!(mobile_of("1381234567"), None);
        assert_eq!(bill_of(" charge2026 1120 "), "CHARGE20261120");
        assert_eq!(
            Query::guess("charge20261120"),
            Query::Bill("CHARGE20261120".into())
        );
        assert_eq!(
            Query::guess("+86 138-1234-5678"),
            Query::Mobile("13812345678".into())
        );
        assert_eq!(Query::guess("42"), Query::User(42));
        assert_eq!(Query::guess("张三"), Query::Name("张三".into()));
        assert_eq!(prefix_upper("CHARGE2029").as_deref(), Some("CHARGE202A"));
        assert_eq!(prefix_upper("AB9").as_deref(), Some("ABA"));
        assert_eq!(prefix_upper("138").as_deref(), Some("139"));
        assert_eq!(prefix_upper("ZZ"), None);
    }
}
