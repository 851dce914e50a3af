//! A support case (SPEC §6 Case, §7 `case`): the whole story of one recharge
//! or one user — order, every callback attempt, idempotency record, flows,
//! balance — and a plain verdict.

use crate::args;
use crate::db::{Db, DbError, SchemaReport, schema};
use crate::model::{OrderStatus, TransType};
use crate::money::format_amount;
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::Serialize;

/// What the support agent typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum Query {
    /// An `agentBillNo`.
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

    /// The searched value as typed.
    pub fn value(&self) -> String {
        match self {
            Self::Bill(v) | Self::Mobile(v) | Self::Name(v) => v.clone(),
            Self::User(id) => id.to_string(),
        }
    }
    /// Guesses what one search box entry means: `CHARGE…`/`WITHDRAW…` is a bill,
    /// 11 digits a mobile, other digits a user id, anything else a name.
    pub fn guess(text: &str) -> Self {
        let t = text.trim();
        let upper = t.to_ascii_uppercase();
        if upper.starts_with("CHARGE") || upper.starts_with("WITHDRAW") {
            Self::Bill(t.to_owned())
        } else if t.len() == 11 && t.bytes().all(|b| b.is_ascii_digit()) {
            Self::Mobile(t.to_owned())
        } else if let Ok(id) = t.parse::<i64>() {
            Self::User(id)
        } else {
            Self::Name(t.to_owned())
        }
    }
}

/// The plain answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Charged once, credited once.
    ChargedOnce,
    /// Credited more than once.
    CreditedTwice,
    /// The gateway says paid (callbacks arrived) but no credit.
    PaidNotCredited,
    /// Order paid, no flow.
    MarkedPaidNotCredited,
    /// Still paying, no callback: the customer may or may not have paid.
    AwaitingGateway,
    /// The gateway declined the payment: nothing was charged.
    PaymentFailed,
    /// Credited without a paid order.
    CreditedWithoutOrder,
    /// Nothing found.
    NotFound,
}

impl Verdict {
    /// Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            Self::ChargedOnce => "扣款一次，入账一次：正常",
            Self::CreditedTwice => "重复入账：同一笔充值入账了不止一次",
            Self::PaidNotCredited => "已付款未到账：网关回调了，我方没有入账",
            Self::MarkedPaidNotCredited => "订单显示已支付，但没有入账流水",
            Self::AwaitingGateway => "等待网关：还没有收到回调，客户可能已付款，请向网关查单",
            Self::PaymentFailed => "支付失败：网关未扣款",
            Self::CreditedWithoutOrder => "有入账流水，但没有已支付的订单",
            Self::NotFound => "没有找到",
        }
    }

    /// English.
    pub fn en(self) -> &'static str {
        match self {
            Self::ChargedOnce => "charged once, credited once: all fine",
            Self::CreditedTwice => "credited twice: one recharge was credited more than once",
            Self::PaidNotCredited => {
                "paid but not credited: the gateway called back, we never credited"
            }
            Self::MarkedPaidNotCredited => "the order says paid but no flow credits it",
            Self::AwaitingGateway => {
                "waiting for the gateway: no callback yet — the customer may have paid; query the gateway"
            }
            Self::PaymentFailed => "payment failed: the gateway did not charge",
            Self::CreditedWithoutOrder => "credited without a paid order",
            Self::NotFound => "not found",
        }
    }
}

/// One callback attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// When it arrived.
    pub received_at: Option<NaiveDateTime>,
    /// Outcome.
    pub outcome: String,
    /// What srb answered.
    pub response: String,
    /// Amount it carried.
    pub charge_amt: Option<Decimal>,
    /// Sign verified?
    pub sign_ok: bool,
}

/// One flow.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    /// Row id.
    pub id: i64,
    /// Type code.
    pub trans_type: i64,
    /// Type name.
    pub type_name: String,
    /// Amount.
    pub amount: Option<Decimal>,
    /// Δ available balance.
    pub effect: Option<Decimal>,
    /// When.
    pub at: Option<NaiveDateTime>,
    /// Business number.
    pub trans_no: String,
}

/// The story of one recharge.
#[derive(Debug, Clone, Serialize)]
pub struct BillStory {
    /// `agentBillNo`.
    pub agent_bill_no: String,
    /// Order status name, if the order exists.
    pub order_status: Option<String>,
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
    /// Recharge flows with this `trans_no`.
    pub flows: Vec<Flow>,
    /// The verdict.
    pub verdict: Verdict,
    /// What else the story shows, as (Chinese, English).
    pub notes: Vec<(String, String)>,
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
    /// Recent flows, newest first.
    pub flows: Vec<Flow>,
    /// Recharges, newest first, each with its story.
    pub recharges: Vec<BillStory>,
}

/// The answer to a query.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// What was asked.
    pub query: Query,
    /// For a bill query.
    pub bill: Option<BillStory>,
    /// For a user query (several users may share a mobile).
    pub users: Vec<AccountStory>,
    /// Parts that could not be shown (missing tables).
    pub missing: Vec<String>,
}

/// How many recharges a user case tells in full.
pub const RECHARGES_SHOWN: i64 = 20;

/// Looks a case up (read-only).
pub async fn lookup(db: &Db, q: &Query) -> Result<Case, DbError> {
    let s = schema::discover(db).await?;
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
    let mut case = Case {
        query: q.clone(),
        bill: None,
        users: Vec::new(),
        missing,
    };
    match q {
        Query::Bill(b) => {
            let story = bill_story(db, &s, b).await?;
            if let Some(uid) = story.user_id {
                case.users.push(account_story(db, &s, uid, false).await?);
            }
            case.bill = Some(story);
        }
        Query::User(id) => {
            if user_exists(db, *id).await? {
                case.users.push(account_story(db, &s, *id, true).await?);
            }
        }
        Query::Mobile(m) => {
            for id in user_ids(db, "mobile", m).await? {
                case.users.push(account_story(db, &s, id, true).await?);
            }
        }
        Query::Name(n) => {
            for id in user_ids(db, "name", n).await? {
                case.users.push(account_story(db, &s, id, true).await?);
            }
        }
    }
    Ok(case)
}

async fn user_exists(db: &Db, id: i64) -> Result<bool, DbError> {
    Ok(db
        .fetch_optional("SELECT id FROM user_info WHERE id = ?", &args![id])
        .await?
        .is_some())
}

async fn user_ids(db: &Db, col: &str, v: &str) -> Result<Vec<i64>, DbError> {
    let sql = format!("SELECT id FROM user_info WHERE {col} = ? ORDER BY id LIMIT 20");
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
        amount,
        effect: t.zip(amount).map(|(t, a)| t.effect(a).amount),
        at: r.opt_time(4).map_err(d)?,
        trans_no: r.text(2).map_err(d)?,
    })
}

async fn bill_story(db: &Db, s: &SchemaReport, bill: &str) -> Result<BillStory, DbError> {
    let mut story = BillStory {
        agent_bill_no: bill.to_owned(),
        order_status: None,
        order_amount: None,
        order_created: None,
        user_id: None,
        attempts: Vec::new(),
        idempotency: None,
        flows: Vec::new(),
        verdict: Verdict::NotFound,
        notes: Vec::new(),
    };
    let mut status = None;
    if s.has_table("recharge_order")
        && let Some(r) = db
            .fetch_optional(
                "SELECT status, charge_amt, create_time, user_id FROM recharge_order WHERE agent_bill_no = ?",
                &args![bill],
            )
            .await?
        {
            let d = |e| db.decode("recharge_order", e);
            status = r.opt_i64(0).map_err(d)?.and_then(OrderStatus::from_code);
            story.order_status = status.map(|s| s.name_zh().to_owned());
            story.order_amount = r.opt_money(1).map_err(d)?;
            story.order_created = r.opt_time(2).map_err(d)?;
            story.user_id = r.opt_i64(3).map_err(d)?;
        }
    if s.has_table("notify_log") {
        for r in db
            .fetch_all(
                "SELECT received_at, outcome, response_body, charge_amt, sign_ok FROM notify_log WHERE agent_bill_no = ? ORDER BY received_at, id",
                &args![bill],
            )
            .await?
        {
            let d = |e| db.decode("notify_log", e);
            story.attempts.push(Attempt {
                received_at: r.opt_time(0).map_err(d)?,
                outcome: r.text(1).map_err(d)?,
                response: r.text(2).map_err(d)?,
                charge_amt: r.opt_money(3).map_err(d)?,
                sign_ok: r.opt_i64(4).map_err(d)?.unwrap_or(0) == 1,
            });
        }
    }
    if s.has_table("idempotency_record")
        && let Some(r) = db
            .fetch_optional(
                "SELECT status, locked_at, completed_at FROM idempotency_record WHERE source = ? AND seq = ?",
                &args![crate::model::SOURCE_HFB_NOTIFY, bill],
            )
            .await?
        {
            let d = |e| db.decode("idempotency_record", e);
            story.idempotency = Some((r.text(0).map_err(d)?, r.opt_time(1).map_err(d)?, r.opt_time(2).map_err(d)?));
        }
    if s.has_table("trans_flow") {
        // By user first (indexed everywhere), by trans_no when the order is unknown.
        let rows = match story.user_id {
            Some(uid) => {
                db.fetch_all(
                    "SELECT id, trans_type, trans_no, trans_amount, create_time FROM trans_flow WHERE user_id = ? AND trans_no = ? AND is_deleted = 0 ORDER BY id",
                    &args![uid, bill],
                )
                .await?
            }
            None => {
                db.fetch_all(
                    "SELECT id, trans_type, trans_no, trans_amount, create_time, user_id FROM trans_flow WHERE trans_no = ? AND is_deleted = 0 ORDER BY id",
                    &args![bill],
                )
                .await?
            }
        };
        for r in &rows {
            story.flows.push(flow_from(db, r)?);
            if story.user_id.is_none() {
                story.user_id = r.opt_i64(5).map_err(|e| db.decode("trans_flow", e))?;
            }
        }
    }
    story.verdict = verdict(&story, status, s.has_table("recharge_order"));
    story.notes = notes(&story);
    Ok(story)
}

fn verdict(s: &BillStory, status: Option<OrderStatus>, has_orders: bool) -> Verdict {
    let credits = s
        .flows
        .iter()
        .filter(|f| f.trans_type == TransType::Recharge.code())
        .count();
    let credited_attempts = s
        .attempts
        .iter()
        .filter(|a| a.outcome == "credited")
        .count();
    if credits > 1 || credited_attempts > 1 {
        return Verdict::CreditedTwice;
    }
    if credits == 1 {
        // Without a recharge_order table (plain srb) a single credit is all there is to know.
        return if status == Some(OrderStatus::Paid) || !has_orders {
            Verdict::ChargedOnce
        } else {
            Verdict::CreditedWithoutOrder
        };
    }
    match status {
        Some(OrderStatus::Failed) => Verdict::PaymentFailed,
        Some(OrderStatus::Paid) => Verdict::MarkedPaidNotCredited,
        _ if s
            .attempts
            .iter()
            .any(|a| a.sign_ok && a.outcome != "ignored") =>
        {
            Verdict::PaidNotCredited
        }
        Some(OrderStatus::Paying | OrderStatus::Submitted) => Verdict::AwaitingGateway,
        None => Verdict::NotFound,
    }
}

fn notes(b: &BillStory) -> Vec<(String, String)> {
    let mut n = Vec::new();
    let count = |o: &str| b.attempts.iter().filter(|a| a.outcome == o).count();
    let total = b.attempts.len();
    let failed = count("failed");
    if total > 1 {
        n.push((
            format!("网关共回调 {total} 次（其中 {failed} 次我方应答 fail）"),
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
    if let Some((st, _, _)) = &b.idempotency
        && st == "processing"
    {
        n.push((
            "幂等记录仍是处理中：处理它的进程可能已崩溃".into(),
            "the idempotency record is still processing: its worker may have died".into(),
        ));
    }
    n
}

async fn account_story(
    db: &Db,
    s: &SchemaReport,
    uid: i64,
    with_recharges: bool,
) -> Result<AccountStory, DbError> {
    let d = |e| db.decode("user_info", e);
    let (name, mobile) = match db
        .fetch_optional(
            "SELECT name, mobile FROM user_info WHERE id = ?",
            &args![uid],
        )
        .await?
    {
        Some(r) => (r.text(0).map_err(d)?, r.text(1).map_err(d)?),
        None => (String::new(), String::new()),
    };
    let (mut stored, mut stored_freeze) = (None, None);
    if s.has_table("user_account")
        && let Some(r) = db
            .fetch_optional(
                "SELECT amount, freeze_amount FROM user_account WHERE user_id = ?",
                &args![uid],
            )
            .await?
    {
        let d = |e| db.decode("user_account", e);
        stored = r.opt_money(0).map_err(d)?;
        stored_freeze = r.opt_money(1).map_err(d)?;
    }
    let (mut expected, mut expected_freeze) = (Decimal::ZERO, Decimal::ZERO);
    let mut flows = Vec::new();
    if s.has_table("trans_flow") {
        for r in db
            .fetch_all(
                "SELECT id, trans_type, trans_no, trans_amount, create_time FROM trans_flow WHERE user_id = ? AND is_deleted = 0 ORDER BY create_time DESC, id DESC",
                &args![uid],
            )
            .await?
        {
            let f = flow_from(db, &r)?;
            if let (Some(t), Some(a)) = (TransType::from_code(f.trans_type), f.amount) {
                let e = t.effect(a);
                expected += e.amount;
                expected_freeze += e.freeze;
            }
            flows.push(f);
        }
    }
    let mut recharges = Vec::new();
    if with_recharges && s.has_table("recharge_order") {
        let bills: Vec<String> = db
            .fetch_all(
                &format!("SELECT agent_bill_no FROM recharge_order WHERE user_id = ? ORDER BY create_time DESC LIMIT {RECHARGES_SHOWN}"),
                &args![uid],
            )
            .await?
            .iter()
            .map(|r| r.text(0).map_err(|e| db.decode("recharge_order", e)))
            .collect::<Result<_, _>>()?;
        for b in bills {
            recharges.push(bill_story(db, s, &b).await?);
        }
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
        recharges,
    })
}

fn t(v: Option<NaiveDateTime>) -> String {
    v.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| "-".into())
}

fn a(v: Option<Decimal>) -> String {
    v.map(format_amount).unwrap_or_else(|| "-".into())
}

/// Renders a case as text for the terminal.
pub fn render(case: &Case) -> String {
    let mut o = String::new();
    if let Some(b) = &case.bill {
        render_bill(&mut o, b, "");
    }
    for u in &case.users {
        o.push_str(&format!(
            "\n用户 user {} {} {}\n  余额 balance: stored {} · flows give {} · difference {}\n  冻结 frozen:  stored {} · flows give {}\n",
            u.user_id,
            u.name,
            u.mobile,
            a(u.stored),
            format_amount(u.expected),
            a(u.difference),
            a(u.stored_freeze),
            format_amount(u.expected_freeze)
        ));
        if u.difference.is_some_and(|d| !d.is_zero()) {
            o.push_str("  ⚠ 余额与流水不符 / the balance does not match its flows\n");
        }
        if !u.recharges.is_empty() {
            o.push_str(&format!(
                "  最近充值 recent recharges ({}):\n",
                u.recharges.len()
            ));
            for b in &u.recharges {
                o.push_str(&format!(
                    "    {} {:>12} {:<6} {}\n",
                    b.agent_bill_no,
                    a(b.order_amount),
                    b.order_status.as_deref().unwrap_or("-"),
                    b.verdict.zh()
                ));
            }
        }
        if case.bill.is_none() {
            o.push_str(&format!(
                "  流水 flows ({}), newest first:\n",
                u.flows.len()
            ));
            for f in u.flows.iter().take(20) {
                o.push_str(&format!(
                    "    {} {:<8} {:>12} {} {}\n",
                    t(f.at),
                    f.type_name,
                    a(f.amount),
                    f.effect
                        .map(|e| format!("Δ{}", format_amount(e)))
                        .unwrap_or_default(),
                    f.trans_no
                ));
            }
        }
    }
    if case.bill.is_none() && case.users.is_empty() {
        o.push_str(&format!(
            "{} / {}: {} {}\n",
            Verdict::NotFound.zh(),
            Verdict::NotFound.en(),
            case.query.by().1,
            case.query.value()
        ));
    }
    for m in &case.missing {
        o.push_str(&format!("note: {m}\n"));
    }
    o
}

fn render_bill(o: &mut String, b: &BillStory, indent: &str) {
    o.push_str(&format!("{indent}充值 recharge {}\n", b.agent_bill_no));
    o.push_str(&format!(
        "{indent}  结论 verdict: {} / {}\n",
        b.verdict.zh(),
        b.verdict.en()
    ));
    for (zh, en) in &b.notes {
        o.push_str(&format!("{indent}    · {zh} / {en}\n"));
    }
    o.push_str(&format!(
        "{indent}  订单 order: {} · amount {} · created {} · user {}\n",
        b.order_status.as_deref().unwrap_or("none"),
        a(b.order_amount),
        t(b.order_created),
        b.user_id
            .map(|u| u.to_string())
            .unwrap_or_else(|| "-".into())
    ));
    o.push_str(&format!(
        "{indent}  回调 callbacks ({}):\n",
        b.attempts.len()
    ));
    for (i, at) in b.attempts.iter().enumerate() {
        o.push_str(&format!(
            "{indent}    #{:<2} {} {:<18} answered {:<8} amount {}{}\n",
            i + 1,
            t(at.received_at),
            at.outcome,
            if at.response.is_empty() {
                "-"
            } else {
                &at.response
            },
            a(at.charge_amt),
            if at.sign_ok { "" } else { " (bad sign)" }
        ));
    }
    match &b.idempotency {
        Some((st, locked, done)) => o.push_str(&format!(
            "{indent}  幂等 idempotency: {st} · locked {} · completed {}\n",
            t(*locked),
            t(*done)
        )),
        None => o.push_str(&format!("{indent}  幂等 idempotency: no record\n")),
    }
    o.push_str(&format!("{indent}  流水 flows ({}):\n", b.flows.len()));
    for f in &b.flows {
        o.push_str(&format!(
            "{indent}    {} {} {} Δ{}\n",
            t(f.at),
            f.type_name,
            a(f.amount),
            a(f.effect)
        ));
    }
}
