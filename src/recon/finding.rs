//! Findings (SPEC §4): a stable kind, a severity, the business key, amounts
//! and a bilingual explanation that states the direction in words.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Benign, for the record.
    Info,
    /// Needs a look.
    Warning,
    /// Money may be wrong.
    High,
    /// Money is wrong.
    Critical,
}

impl Severity {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

macro_rules! kinds {
    ($($v:ident => $s:literal, $sev:ident, $zh:literal, $en:literal;)*) => {
        /// The finding kinds of SPEC §4.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind { $(#[doc = $s] $v,)* }

        impl Kind {
            /// Every kind, in SPEC order.
            pub const ALL: &'static [Kind] = &[$(Kind::$v,)*];
            /// The stable name (`duplicate_credit`, …).
            pub fn as_str(self) -> &'static str { match self { $(Kind::$v => $s,)* } }
            /// The severity SPEC §4 gives the kind.
            pub fn severity(self) -> Severity { match self { $(Kind::$v => Severity::$sev,)* } }
            /// Chinese name.
            pub fn name_zh(self) -> &'static str { match self { $(Kind::$v => $zh,)* } }
            /// English name, in words (the stable name is [`Kind::as_str`]).
            pub fn name_en(self) -> &'static str { match self { $(Kind::$v => $en,)* } }
            /// The kind for a stable name.
            pub fn parse(s: &str) -> Option<Kind> { match s { $($s => Some(Kind::$v),)* _ => None } }
        }
    };
}

kinds! {
    DuplicateNotify => "duplicate_notify", Info, "重复回调", "repeated callback";
    DuplicateCredit => "duplicate_credit", Critical, "重复入账", "credited twice";
    NotifyConflict => "notify_conflict", Critical, "回调内容冲突", "conflicting callbacks";
    BalanceMismatch => "balance_mismatch", Critical, "余额与流水不符", "balance differs from flows";
    OrderPaidWithoutFlow => "order_paid_without_flow", Critical, "订单已支付但无流水", "paid order without flow";
    FlowWithoutPaidOrder => "flow_without_paid_order", High, "有流水但订单未支付", "flow without paid order";
    OrderStuck => "order_stuck", Warning, "订单长时间支付中", "order stuck in paying";
    NotifyExhausted => "notify_exhausted", High, "回调重试耗尽", "callback retries exhausted";
    IdempotencyStuck => "idempotency_stuck", Warning, "幂等记录卡在处理中", "idempotency record stuck";
    IdempotencyConflict => "idempotency_conflict", Critical, "幂等请求内容冲突", "idempotency conflict";
    SchemaRisk => "schema_risk", High, "表结构风险", "schema risk";
    MissingInternal => "missing_internal", Critical, "渠道有、我方无", "gateway has it, we don't";
    MissingExternal => "missing_external", Critical, "我方有、渠道无", "we have it, gateway doesn't";
    AmountMismatch => "amount_mismatch", Critical, "金额不符", "amounts differ";
    StatusMismatch => "status_mismatch", High, "状态不符", "status differs";
    DuplicateInStatement => "duplicate_in_statement", High, "对账单重复", "duplicate in statement";
    PendingCrossDay => "pending_cross_day", Info, "跨日待核", "pending across the day boundary";
    StatementTotalMismatch => "statement_total_mismatch", Critical, "对账单合计不符", "statement total differs";
    StatementRefused => "statement_refused", Critical, "对账单未采用", "statement not used";
    FlowsUnverified => "flows_unverified", High, "流水未核对", "flows not verified";
    FeeMismatch => "fee_mismatch", High, "手续费不符", "fee differs from the contract";
    SettlementMissing => "settlement_missing", Critical, "款项未到账", "paid, money never arrived";
    SettlementAmountMismatch => "settlement_amount_mismatch", Critical, "到账金额不符", "settled amount differs";
    SettlementUnexplained => "settlement_unexplained", Critical, "资金变动无从解释", "movement no trade explains";
    CustodyBalanceMismatch => "custody_balance_mismatch", Critical, "存管余额不符", "custodian balance differs";
    CustodyUnknownAccount => "custody_unknown_account", High, "存管有、我方无的账户", "custodian account we don't know";
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The kind.
    pub kind: Kind,
    /// Its severity.
    pub severity: Severity,
    /// The business key: an `agentBillNo`, `user:ID`, `token:…`, a table or a file.
    pub key: String,
    /// The `agentBillNo`, where there is one.
    pub agent_bill_no: Option<String>,
    /// The user, where known.
    pub user_id: Option<i64>,
    /// What our side (flows, account) says.
    pub amount_internal: Option<Decimal>,
    /// What the other side (gateway, statement, expected) says.
    pub amount_external: Option<Decimal>,
    /// internal − external.
    pub difference: Option<Decimal>,
    /// Earliest time involved.
    pub first_seen: Option<NaiveDateTime>,
    /// Latest time involved.
    pub last_seen: Option<NaiveDateTime>,
    /// Callback attempts, where relevant.
    pub attempts: Option<i64>,
    /// The explanation in Chinese.
    pub detail_zh: String,
    /// The explanation in English.
    pub detail_en: String,
}

impl Finding {
    /// A finding of `kind` for `key`, with the kind's severity and nothing else filled in.
    pub fn new(kind: Kind, key: impl Into<String>) -> Self {
        Self {
            kind,
            severity: kind.severity(),
            key: key.into(),
            agent_bill_no: None,
            user_id: None,
            amount_internal: None,
            amount_external: None,
            difference: None,
            first_seen: None,
            last_seen: None,
            attempts: None,
            detail_zh: String::new(),
            detail_en: String::new(),
        }
    }

    /// Sets the `agentBillNo` (also the key).
    pub fn bill(mut self, bill: &str) -> Self {
        self.agent_bill_no = Some(bill.to_owned());
        self
    }

    /// Sets the user.
    pub fn user(mut self, id: Option<i64>) -> Self {
        self.user_id = id;
        self
    }

    /// Sets internal and external amounts and their difference.
    pub fn amounts(mut self, internal: Option<Decimal>, external: Option<Decimal>) -> Self {
        self.amount_internal = internal;
        self.amount_external = external;
        self.difference = match (internal, external) {
            (Some(i), Some(e)) => Some(i - e),
            (Some(i), None) => Some(i),
            (None, Some(e)) => Some(-e),
            (None, None) => None,
        };
        self
    }

    /// Sets the time span.
    pub fn seen(mut self, first: Option<NaiveDateTime>, last: Option<NaiveDateTime>) -> Self {
        self.first_seen = first;
        self.last_seen = last.or(first);
        self
    }

    /// Sets the attempt count.
    pub fn attempts(mut self, n: i64) -> Self {
        self.attempts = Some(n);
        self
    }

    /// Sets the two explanations.
    pub fn explain(mut self, zh: impl Into<String>, en: impl Into<String>) -> Self {
        self.detail_zh = zh.into();
        self.detail_en = en.into();
        self
    }

    /// Both explanations in one cell: Chinese, then English.
    pub fn detail(&self) -> String {
        format!("{} / {}", self.detail_zh, self.detail_en)
    }
}
