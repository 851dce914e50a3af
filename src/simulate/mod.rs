//! `payrecon simulate` (SPEC §7): hfb's `NotifyThread` against the reference
//! payment core, seeded and reproducible.
//!
//! The *plan* — users, recharges, amounts, which attempt loses its response,
//! which notify is duplicated — comes from the seed alone. The *outcome* comes
//! from really running the chosen handler against the database, concurrently:
//! a race in a flawed handler is a real race. Time is simulated (attempts are
//! 1 s apart in `received_at`, not in wall-clock time), so a day runs fast.

pub mod money;
mod names;

use crate::db::{Db, DbError, schema};
use crate::model::{NotifyOutcome, TransType};
use crate::money::from_cents;
use crate::payment::{
    self, FlowRequest, HandlerKind, NotifyFault, UserRef, charge, ledger, notify_params, token,
};
use crate::statement::hfb::{self, GatewayStatus};
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// hfb tries a notify at most this many times in total.
pub const MAX_ATTEMPTS: usize = 5;
/// Payments the gateway completes at or after this time of day go into the next day's statement.
pub fn gateway_cutoff() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 30).unwrap_or(NaiveTime::MIN)
}

/// Probabilities of the faults the simulator injects (each 0..=1).
#[derive(Debug, Clone, Serialize)]
pub struct Faults {
    /// A notify is delivered by `concurrency` senders at the same moment.
    pub duplicate_rate: f64,
    /// The handler answered but the gateway never got the answer.
    pub lost_response_rate: f64,
    /// The gateway stops waiting; the handler goes on while the retry arrives.
    pub timeout_rate: f64,
    /// The handler fails on one attempt (downstream error / database error).
    pub error_rate: f64,
    /// The worker dies right after its first write.
    pub crash_rate: f64,
    /// Every attempt of a bill fails: the gateway gives up after 5.
    pub exhaust_rate: f64,
    /// The user leaves the payment page: the order stays paying.
    pub abandon_rate: f64,
    /// The gateway declines the charge (`resultCode` ≠ 0001).
    pub decline_rate: f64,
    /// After success the gateway sends the same bill again with another amount.
    pub conflict_rate: f64,
    /// A staging gateway sends a validly signed notify for a payment that never happened.
    pub stray_rate: f64,
    /// The gateway refunds or revokes a paid charge (statement status differs).
    pub refund_rate: f64,
    /// The statement settles another amount than the one notified.
    pub amount_drift_rate: f64,
    /// The statement lists a payment twice.
    pub statement_duplicate_rate: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            duplicate_rate: 0.05,
            lost_response_rate: 0.05,
            timeout_rate: 0.02,
            error_rate: 0.0,
            crash_rate: 0.0,
            exhaust_rate: 0.0,
            abandon_rate: 0.0,
            decline_rate: 0.0,
            conflict_rate: 0.0,
            stray_rate: 0.0,
            refund_rate: 0.0,
            amount_drift_rate: 0.0,
            statement_duplicate_rate: 0.0,
        }
    }
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Self {
            duplicate_rate: 0.0,
            lost_response_rate: 0.0,
            timeout_rate: 0.0,
            ..Self::default()
        }
    }

    fn check(&self) -> Result<(), SimError> {
        let all = [
            ("duplicate-rate", self.duplicate_rate),
            ("lost-response-rate", self.lost_response_rate),
            ("timeout-rate", self.timeout_rate),
            ("error-rate", self.error_rate),
            ("crash-rate", self.crash_rate),
            ("exhaust-rate", self.exhaust_rate),
            ("abandon-rate", self.abandon_rate),
            ("decline-rate", self.decline_rate),
            ("conflict-rate", self.conflict_rate),
            ("stray-rate", self.stray_rate),
            ("refund-rate", self.refund_rate),
            ("amount-drift-rate", self.amount_drift_rate),
            ("statement-duplicate-rate", self.statement_duplicate_rate),
        ];
        for (name, v) in all {
            if !(0.0..=1.0).contains(&v) {
                return Err(SimError::Config(format!(
                    "--{name} must be between 0 and 1, got {v}"
                )));
            }
        }
        Ok(())
    }
}

/// What to simulate.
#[derive(Debug, Clone, Serialize)]
pub struct SimConfig {
    /// Which notify handler srb runs.
    pub handler: HandlerKind,
    /// Users to create.
    pub users: usize,
    /// Recharges in the day.
    pub recharges: usize,
    /// How many senders deliver a duplicated notify at once.
    pub concurrency: usize,
    /// Bills delivered in parallel.
    pub workers: usize,
    /// The business day simulated.
    pub day: NaiveDate,
    /// RNG seed: the same seed and day give the same plan.
    pub seed: u64,
    /// Fault rates.
    pub faults: Faults,
    /// Also run the other flow types (invest, loans, withdrawals).
    pub other_flows: bool,
}

impl SimConfig {
    /// Defaults for `day`.
    pub fn new(handler: HandlerKind, day: NaiveDate) -> Self {
        Self {
            handler,
            users: 50,
            recharges: 200,
            concurrency: 4,
            workers: 16,
            day,
            seed: 42,
            faults: Faults::default(),
            other_flows: true,
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Bad parameters.
    #[error("{0}")]
    Config(String),
    /// Database trouble.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Anomalies the run produced, by finding kind (SPEC §4), each with its business keys.
/// Computed from what the handlers answered and what the gateway did — not by
/// querying the database — so it can serve as an oracle for the checks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truth {
    /// The configuration that produced it.
    pub config: Option<SimConfig>,
    /// Whether `trans_flow.trans_no` had a unique index.
    pub trans_no_unique: bool,
    /// Tables the run had to create first.
    pub created_tables: Vec<String>,
    /// kind → keys (`agentBillNo`, `user:ID`, `token:…` or a table name).
    pub anomalies: BTreeMap<&'static str, BTreeSet<String>>,
    /// Counters: attempts, credits, outcomes, …
    pub counts: BTreeMap<String, u64>,
}

impl Truth {
    fn add(&mut self, kind: &'static str, key: impl Into<String>) {
        self.anomalies.entry(kind).or_default().insert(key.into());
    }

    fn count(&mut self, what: &str, n: u64) {
        *self.counts.entry(what.to_owned()).or_default() += n;
    }

    /// Keys of one kind.
    pub fn keys(&self, kind: &str) -> Vec<String> {
        self.anomalies
            .get(kind)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Merges another day's truth into this one.
    pub fn merge(&mut self, other: Truth) {
        for (k, v) in other.anomalies {
            self.anomalies.entry(k).or_default().extend(v);
        }
        for (k, v) in other.counts {
            *self.counts.entry(k).or_default() += v;
        }
        self.trans_no_unique = other.trans_no_unique;
        self.created_tables.extend(other.created_tables);
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// What happened.
    pub truth: Truth,
    /// The gateway statement for the simulated day (hfb format).
    pub statement: Vec<hfb::Line>,
    /// Payments after the gateway cutoff, which belong to the next day's file.
    pub next_day_statement: Vec<hfb::Line>,
    /// Users created.
    pub users: Vec<UserRef>,
    /// What moved money: srb's credits, the gateway's charges, the other flows.
    pub money: money::MoneyFacts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BillKind {
    Paid,
    Abandoned,
    Declined,
}

#[derive(Debug, Clone)]
struct BillPlan {
    user: usize,
    amount: Decimal,
    created_at: NaiveDateTime,
    paid_at: NaiveDateTime,
    kind: BillKind,
    senders: usize,
    exhausted: bool,
    conflict: bool,
    refund: Option<GatewayStatus>,
    drift: Option<Decimal>,
    statement_dup: bool,
    seed: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct AttemptDraw {
    lost: bool,
    timeout: bool,
    error: bool,
    crash: bool,
    jitter_ms: i64,
}

/// Per-bill tally of what the handler did.
#[derive(Debug, Default, Clone)]
struct Tally {
    attempts: u64,
    outcomes: BTreeMap<NotifyOutcome, u64>,
    crashed: u64,
    gateway_ok: bool,
    /// Account credits that stayed committed.
    credits: u64,
    /// Recharge flows that stayed committed.
    flows: u64,
    /// Some attempt left the order paid.
    order_paid: bool,
    /// When the first flow was written.
    first_flow_at: Option<NaiveDateTime>,
    /// The total the committed account credits added (each credits its notify's amount).
    credited_amount: Decimal,
}

impl Tally {
    fn absorb(&mut self, t: Tally) {
        self.attempts += t.attempts;
        self.crashed += t.crashed;
        self.gateway_ok |= t.gateway_ok;
        self.credits += t.credits;
        self.flows += t.flows;
        self.order_paid |= t.order_paid;
        self.credited_amount += t.credited_amount;
        self.first_flow_at = match (self.first_flow_at, t.first_flow_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (o, n) in t.outcomes {
            *self.outcomes.entry(o).or_default() += n;
        }
    }
}

fn amount_for(rng: &mut impl Rng) -> Decimal {
    // Mostly round amounts, as people recharge; sometimes odd cents.
    const ROUND: [i64; 8] = [100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000];
    if rng.random_bool(0.8) {
        from_cents(ROUND[rng.random_range(0..ROUND.len())] * 100)
    } else {
        from_cents(rng.random_range(100..5_000_000))
    }
}

fn day_start(day: NaiveDate) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN)
}

fn plan_bills(cfg: &SimConfig, users_len: usize, rng: &mut ChaCha8Rng) -> Vec<BillPlan> {
    let f = &cfg.faults;
    let start = day_start(cfg.day);
    let mut bills = Vec::with_capacity(cfg.recharges);
    for i in 0..cfg.recharges {
        // Spread over the day; the first bill belongs to the previous evening
        // (it is in today's statement), the last two to the minute before
        // midnight (they go to tomorrow's statement): cross-day items.
        let created_at = if cfg.recharges >= 5 && i == 0 {
            start - Duration::seconds(rng.random_range(10..25))
        } else if cfg.recharges >= 5 && i + 2 >= cfg.recharges {
            start + Duration::seconds(86_400 - rng.random_range(8..25))
        } else {
            start + Duration::milliseconds(rng.random_range(0..86_340_000))
        };
        let paid_at = created_at + Duration::milliseconds(rng.random_range(2_000..6_000));
        let kind = if rng.random_bool(f.abandon_rate) {
            BillKind::Abandoned
        } else if rng.random_bool(f.decline_rate) {
            BillKind::Declined
        } else {
            BillKind::Paid
        };
        let paid = kind == BillKind::Paid;
        let amount = amount_for(rng);
        let drift = (paid && rng.random_bool(f.amount_drift_rate))
            .then(|| amount - from_cents(rng.random_range(1..=100)))
            .filter(|d| *d > Decimal::ZERO);
        bills.push(BillPlan {
            user: rng.random_range(0..users_len.max(1)),
            amount,
            created_at,
            paid_at,
            kind,
            senders: if rng.random_bool(f.duplicate_rate) {
                cfg.concurrency.max(2)
            } else {
                1
            },
            exhausted: paid && rng.random_bool(f.exhaust_rate),
            conflict: paid && rng.random_bool(f.conflict_rate),
            refund: (paid && rng.random_bool(f.refund_rate)).then(|| {
                if rng.random_bool(0.5) {
                    GatewayStatus::Refund
                } else {
                    GatewayStatus::Revoked
                }
            }),
            drift,
            statement_dup: paid && rng.random_bool(f.statement_duplicate_rate),
            seed: rng.random(),
        });
    }
    bills.sort_by_key(|b| b.created_at);
    bills
}

fn draws(f: &Faults, rng: &mut ChaCha8Rng) -> [AttemptDraw; MAX_ATTEMPTS] {
    std::array::from_fn(|_| AttemptDraw {
        lost: rng.random_bool(f.lost_response_rate),
        timeout: rng.random_bool(f.timeout_rate),
        error: rng.random_bool(f.error_rate),
        crash: rng.random_bool(f.crash_rate),
        jitter_ms: rng.random_range(5..400),
    })
}

/// Counts one handled attempt of a notify for `amount`.
fn record(t: &mut Tally, h: &payment::Handled, at: NaiveDateTime, amount: Decimal) {
    match h.outcome {
        Some(o) => {
            t.attempts += 1;
            *t.outcomes.entry(o).or_default() += 1;
        }
        None => t.crashed += 1,
    }
    let c = h.committed;
    t.credits += u64::from(c.credited);
    if c.credited {
        t.credited_amount += amount;
    }
    t.flows += u64::from(c.flow);
    t.order_paid |= c.order_paid;
    if c.flow {
        t.first_flow_at = Some(t.first_flow_at.map_or(at, |f| f.min(at)));
    }
}

/// One of hfb's `NotifyThread`s: up to 5 tries, 1 s apart, until it reads `success`.
async fn run_sender(
    db: Db,
    handler: HandlerKind,
    params: Arc<BTreeMap<String, String>>,
    first_at: NaiveDateTime,
    d: [AttemptDraw; MAX_ATTEMPTS],
    exhausted: bool,
    amount: Decimal,
) -> Tally {
    let mut t = Tally::default();
    let mut background = tokio::task::JoinSet::new();
    for (k, draw) in d.iter().enumerate() {
        let at = crate::db::truncate_ms(
            first_at + Duration::seconds(k as i64) + Duration::milliseconds(draw.jitter_ms),
        );
        let fault = if exhausted || draw.error {
            NotifyFault::ErrorBeforeCommit
        } else if draw.crash {
            NotifyFault::CrashAfterFirstWrite
        } else {
            NotifyFault::None
        };
        if draw.timeout && !exhausted {
            // The gateway gives up waiting; the request keeps running on srb's side
            // while the retry arrives.
            let (db2, p2) = (db.clone(), Arc::clone(&params));
            background.spawn(async move {
                let h = payment::handle_notify(&db2, handler, &p2, at, fault).await;
                (h, at)
            });
            continue;
        }
        let h = payment::handle_notify(&db, handler, &params, at, fault).await;
        record(&mut t, &h, at, amount);
        if h.is_success() && !draw.lost {
            t.gateway_ok = true;
            break;
        }
    }
    while let Some(r) = background.join_next().await {
        if let Ok((h, at)) = r {
            record(&mut t, &h, at, amount);
        }
    }
    t
}

/// One notify delivered once, with no fault (conflicting re-sends, stray notifies).
async fn send_once(
    db: &Db,
    handler: HandlerKind,
    bill: &str,
    bind_code: &str,
    amount: Decimal,
    at: NaiveDateTime,
) -> payment::Handled {
    let at = crate::db::truncate_ms(at);
    let p = notify_params(bill, bind_code, amount, at.and_utc().timestamp_millis());
    payment::handle_notify(db, handler, &p, at, NotifyFault::None).await
}

/// A ledger result as the simulator counts it: applied, refused for lack of funds, or an error.
fn applied(r: Result<(), ledger::LedgerError>) -> Result<bool, SimError> {
    match r {
        Ok(()) => Ok(true),
        Err(ledger::LedgerError::Insufficient { .. }) => Ok(false),
        Err(ledger::LedgerError::Db(e)) => Err(e.into()),
        Err(other) => Err(SimError::Config(other.to_string())),
    }
}

/// Runs a simulated day against `db` (opened read-write).
pub async fn run(db: &Db, cfg: &SimConfig) -> Result<SimReport, SimError> {
    run_with_users(db, cfg, Vec::new()).await
}

/// Like [`run`], but recharging `existing` users (created earlier) instead of creating new ones.
pub async fn run_with_users(
    db: &Db,
    cfg: &SimConfig,
    existing: Vec<UserRef>,
) -> Result<SimReport, SimError> {
    cfg.faults.check()?;
    if cfg.users == 0 && existing.is_empty() {
        return Err(SimError::Config("--users must be at least 1".into()));
    }
    let before = schema::discover(db).await?;
    if !before.has_srb_tables() {
        let missing: Vec<_> = schema::SRB_TABLES
            .iter()
            .filter(|t| !before.has_table(t))
            .copied()
            .collect();
        return Err(SimError::Config(format!(
            "{} lacks srb's tables {} — it is not a payment database yet; run `payrecon migrate --db URL` first",
            db.redacted_url(),
            missing.join(", ")
        )));
    }
    let mig = crate::db::migrate(db).await?;
    let after = schema::discover(db).await?;
    let mut truth = Truth {
        config: Some(cfg.clone()),
        trans_no_unique: after.trans_no_unique,
        created_tables: mig.created.iter().map(|s| (*s).to_owned()).collect(),
        ..Truth::default()
    };
    if !after.trans_no_unique {
        truth.add("schema_risk", "trans_flow.trans_no");
    }

    let mut rng =
        ChaCha8Rng::seed_from_u64(cfg.seed ^ u64::from(cfg.day.to_epoch_days().unsigned_abs()));
    let start = day_start(cfg.day);

    // Users.
    let reuse = !existing.is_empty();
    let mut users = existing;
    for i in 0..if reuse { 0 } else { cfg.users } {
        let name = names::name(&mut rng);
        let mobile = names::mobile(&mut rng);
        let bind = names::bind_code(&mut rng);
        let user_type = if i % 5 == 4 { 2 } else { 1 };
        let at = start - Duration::days(1) + Duration::seconds(i as i64);
        users.push(ledger::create_user(db, &mobile, &name, &bind, user_type, at).await?);
    }

    // Orders (commitCharge), in time order.
    let bills = plan_bills(cfg, users.len(), &mut rng);
    let mut forms = Vec::with_capacity(bills.len());
    for b in &bills {
        let mut brng = ChaCha8Rng::seed_from_u64(b.seed);
        let form =
            charge::commit_charge(db, &users[b.user], b.amount, b.created_at, &mut brng).await?;
        forms.push(form);
    }

    // Deliveries: bills in parallel (bounded), each bill's senders at once.
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.workers.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, (b, form)) in bills.iter().zip(&forms).enumerate() {
        if b.kind == BillKind::Abandoned {
            continue;
        }
        let user = &users[b.user];
        let ts = b.paid_at.and_utc().timestamp_millis();
        let mut params = notify_params(&form.agent_bill_no, &user.bind_code, b.amount, ts);
        if b.kind == BillKind::Declined {
            params.insert("resultCode".into(), "0002".into());
            params.insert("resultMsg".into(), "充值失败".into());
            let sign = payment::get_sign(&params);
            params.insert("sign".into(), sign);
        }
        let params = Arc::new(params);
        let mut brng = ChaCha8Rng::seed_from_u64(b.seed.wrapping_add(1));
        let sender_draws: Vec<_> = (0..b.senders)
            .map(|_| draws(&cfg.faults, &mut brng))
            .collect();
        let (db2, sem2, handler, exhausted, amount) = (
            db.clone(),
            Arc::clone(&sem),
            cfg.handler,
            b.exhausted,
            b.amount,
        );
        let first_at = b.paid_at + Duration::milliseconds(300);
        set.spawn(async move {
            let _permit = sem2.acquire_owned().await;
            let mut senders = tokio::task::JoinSet::new();
            for d in sender_draws {
                senders.spawn(run_sender(
                    db2.clone(),
                    handler,
                    Arc::clone(&params),
                    first_at,
                    d,
                    exhausted,
                    amount,
                ));
            }
            let mut total = Tally::default();
            while let Some(r) = senders.join_next().await {
                if let Ok(t) = r {
                    total.absorb(t);
                }
            }
            (i, total)
        });
    }
    let mut tallies: BTreeMap<usize, Tally> = BTreeMap::new();
    while let Some(r) = set.join_next().await {
        if let Ok((i, t)) = r {
            tallies.insert(i, t);
        }
    }

    // Conflicting re-sends and stray notifies, after the day's deliveries.
    let mut conflict_bills = BTreeSet::new();
    let mut stray_credited: Vec<(String, Option<usize>)> = Vec::new();
    let mut stray_rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(7));
    for (i, (b, form)) in bills.iter().zip(&forms).enumerate() {
        let user = &users[b.user];
        if b.conflict {
            let other = b.amount + from_cents(100 * stray_rng.random_range(1..10));
            let at = b.paid_at + Duration::minutes(stray_rng.random_range(5..30));
            let h = send_once(
                db,
                cfg.handler,
                &form.agent_bill_no,
                &user.bind_code,
                other,
                at,
            )
            .await;
            record(tallies.entry(i).or_default(), &h, at, other);
            conflict_bills.insert(i);
        }
        let interior = b.created_at >= start + Duration::hours(1)
            && b.created_at < start + Duration::hours(23);
        if b.kind == BillKind::Abandoned && interior && stray_rng.random_bool(cfg.faults.stray_rate)
        {
            // A staging gateway notifies a payment that never happened, for a real order.
            let at = b.paid_at + Duration::seconds(stray_rng.random_range(30..600));
            let h = send_once(
                db,
                cfg.handler,
                &form.agent_bill_no,
                &user.bind_code,
                b.amount,
                at,
            )
            .await;
            record(tallies.entry(i).or_default(), &h, at, b.amount);
            if h.outcome == Some(NotifyOutcome::Credited) {
                stray_credited.push((form.agent_bill_no.clone(), Some(i)));
            }
        }
    }
    let mut facts = money::MoneyFacts::default();
    // Stray notifies for bill numbers srb never issued.
    let strays = (0..cfg.recharges)
        .filter(|_| stray_rng.random_bool(cfg.faults.stray_rate) && stray_rng.random_bool(0.1))
        .count();
    for _ in 0..strays {
        let user = &users[stray_rng.random_range(0..users.len())];
        let at = start + Duration::seconds(stray_rng.random_range(3_600..80_000));
        let bill = payment::new_agent_bill_no("CHARGE", at, &mut stray_rng);
        let amount = amount_for(&mut stray_rng);
        let p = notify_params(
            &bill,
            &user.bind_code,
            amount,
            at.and_utc().timestamp_millis(),
        );
        let h = payment::handle_notify(db, cfg.handler, &p, at, NotifyFault::None).await;
        truth.count("attempts", u64::from(h.outcome.is_some()));
        if h.committed.credited {
            facts.credits.push((user.id, amount));
        }
        if h.outcome == Some(NotifyOutcome::Credited) {
            stray_credited.push((bill, None));
        }
    }

    // Truth for the recharge side, from what each attempt answered and committed.
    let day_end = start + Duration::days(1);
    for (i, (b, form)) in bills.iter().zip(&forms).enumerate() {
        let bill = form.agent_bill_no.clone();
        let t = tallies.get(&i).cloned().unwrap_or_default();
        if t.credited_amount != Decimal::ZERO {
            facts.credits.push((users[b.user].id, t.credited_amount));
        }
        if b.kind == BillKind::Paid {
            // The gateway (hfb, also the custodian) took the money, whatever srb did.
            facts.charges.push(money::Charge {
                user_id: users[b.user].id,
                agent_bill_no: bill.clone(),
                amount: b.drift.unwrap_or(b.amount),
                status: b.refund.unwrap_or(GatewayStatus::Success),
                paid_at: crate::db::truncate_ms(b.paid_at),
            });
        }
        let credited = t
            .outcomes
            .get(&NotifyOutcome::Credited)
            .copied()
            .unwrap_or(0);
        truth.count("attempts", t.attempts);
        truth.count("credited", credited);
        truth.count("worker_crashes", t.crashed);
        for (o, n) in &t.outcomes {
            truth.count(&format!("outcome_{}", o.as_str()), *n);
        }
        if credited > 1 || t.flows > 1 {
            truth.add("duplicate_credit", bill.clone());
        } else if credited == 1 && t.attempts > 1 {
            truth.add("duplicate_notify", bill.clone());
        }
        if conflict_bills.contains(&i) {
            truth.add("notify_conflict", bill.clone());
            if cfg.handler == HandlerKind::Locked && credited >= 1 {
                truth.add("idempotency_conflict", bill.clone());
            }
        }
        if t.credits > t.flows {
            truth.add("balance_mismatch", format!("user:{}", users[b.user].id));
        }
        if t.order_paid && t.flows == 0 {
            truth.add("order_paid_without_flow", bill.clone());
        }
        if b.kind == BillKind::Paid
            && !t.gateway_ok
            && credited == 0
            && t.attempts >= MAX_ATTEMPTS as u64
        {
            truth.add("notify_exhausted", bill.clone());
        }
        let closed_as_failed = b.kind == BillKind::Declined && cfg.handler == HandlerKind::Locked;
        if !t.order_paid && !closed_as_failed {
            truth.add("order_stuck", bill.clone());
        }
    }
    for (bill, order) in &stray_credited {
        truth.add("missing_external", bill.clone());
        if order.is_none() {
            truth.add("flow_without_paid_order", bill.clone());
        }
    }

    // The gateway's statement for the day.
    let cutoff = cfg.day.and_time(gateway_cutoff());
    let prev_cutoff = cutoff - Duration::days(1);
    let mut statement = Vec::new();
    let mut next_day = Vec::new();
    for (i, (b, form)) in bills.iter().zip(&forms).enumerate() {
        if b.kind != BillKind::Paid {
            continue;
        }
        let user = &users[b.user];
        let line = hfb::Line {
            agent_bill_no: form.agent_bill_no.clone(),
            bind_code: user.bind_code.clone(),
            charge_amt: b.drift.unwrap_or(b.amount),
            fee_amt: Decimal::ZERO,
            status: b.refund.unwrap_or(GatewayStatus::Success),
            paid_at: crate::db::truncate_ms(b.paid_at),
        };
        let t = tallies.get(&i).cloned().unwrap_or_default();
        if b.paid_at >= cutoff {
            if t.first_flow_at.is_some_and(|f| f < day_end) {
                truth.add("pending_cross_day", form.agent_bill_no.clone());
            }
            next_day.push(line);
            continue;
        }
        if b.paid_at < prev_cutoff {
            continue;
        }
        if t.flows == 0 && line.status == GatewayStatus::Success {
            truth.add("missing_internal", form.agent_bill_no.clone());
        }
        if t.flows > 0 && b.refund.is_some() {
            truth.add("status_mismatch", form.agent_bill_no.clone());
        } else if t.flows == 1 && b.drift.is_some() {
            truth.add("amount_mismatch", form.agent_bill_no.clone());
        }
        if b.statement_dup {
            truth.add("duplicate_in_statement", form.agent_bill_no.clone());
            statement.push(line.clone());
        }
        statement.push(line);
    }
    statement.sort_by_key(|l| l.paid_at);
    truth.count("statement_lines", statement.len() as u64);
    truth.count("recharges", bills.len() as u64);
    truth.count("users", users.len() as u64);

    if cfg.other_flows {
        other_flows(db, cfg, &users, &mut rng, &mut truth, &mut facts.flows).await?;
    }
    Ok(SimReport {
        truth,
        statement,
        next_day_statement: next_day,
        users,
        money: facts,
    })
}

/// Investments, loans, repayments and withdrawals, so that balances look real.
async fn other_flows(
    db: &Db,
    cfg: &SimConfig,
    users: &[UserRef],
    rng: &mut ChaCha8Rng,
    truth: &mut Truth,
    applied_flows: &mut Vec<(i64, TransType, Decimal)>,
) -> Result<(), SimError> {
    let start = day_start(cfg.day);
    let mut seq = 0u32;
    let mut no = |prefix: &str, at: NaiveDateTime| {
        seq += 1;
        format!(
            "{prefix}{}{:03}{seq:05}",
            at.format("%Y%m%d%H%M%S"),
            cfg.seed % 1000
        )
    };
    for u in users {
        let s = &mut crate::db::Session::autocommit(db);
        let (avail, _) = match ledger::read_account(s, u.id).await {
            Ok(b) => b,
            Err(ledger::LedgerError::NoAccount(_)) => continue,
            Err(ledger::LedgerError::Db(e)) => return Err(e.into()),
            Err(other) => return Err(SimError::Config(other.to_string())),
        };
        if avail <= Decimal::ZERO {
            continue;
        }
        let at = start + Duration::seconds(rng.random_range(72_000..79_000));
        let mut ops: Vec<(TransType, Decimal, &str)> = Vec::new();
        let part = |pct: i64| (avail * Decimal::new(pct, 2)).round_dp(2);
        if rng.random_bool(0.6) {
            let bid = part(30);
            ops.push((TransType::InvestLock, bid, "INVEST"));
            if rng.random_bool(0.7) {
                ops.push((TransType::InvestUnlock, bid, "LEND"));
                ops.push((
                    TransType::InvestBack,
                    (bid * Decimal::new(101, 2)).round_dp(2),
                    "RETURN",
                ));
            } else {
                ops.push((TransType::CancelLend, bid, "CANCEL"));
            }
        }
        if rng.random_bool(0.3) {
            let loan = from_cents(rng.random_range(100_000..2_000_000));
            ops.push((TransType::BorrowBack, loan, "BORROW"));
            ops.push((
                TransType::ReturnDown,
                (loan * Decimal::new(10, 2)).round_dp(2),
                "REPAY",
            ));
        }
        for (k, (t, amount, prefix)) in ops.into_iter().enumerate() {
            if amount <= Decimal::ZERO {
                continue;
            }
            let at = at + Duration::seconds(k as i64 * 60);
            let req = FlowRequest {
                user: u.clone(),
                trans_type: t,
                amount,
                trans_no: no(prefix, at),
                at,
            };
            if applied(payment::apply_flow(db, &req).await)? {
                applied_flows.push((u.id, t, amount));
                truth.count("other_flows", 1);
            } else {
                truth.count("refused_insufficient", 1);
            }
        }
        // A withdrawal, guarded by a one-time token.
        if rng.random_bool(0.4) {
            let s = &mut crate::db::Session::autocommit(db);
            let (avail, _) = ledger::read_account(s, u.id)
                .await
                .map_err(|e| SimError::Config(e.to_string()))?;
            let amount = (avail * Decimal::new(20, 2)).round_dp(2);
            if amount <= Decimal::ZERO {
                continue;
            }
            let at = at + Duration::minutes(30);
            let trans_no = no("WITHDRAW", at);
            let tok = format!("wd-{}-{}", u.id, trans_no);
            let Some(claim) = token::claim(db, &tok, &trans_no, at).await? else {
                continue;
            };
            if rng.random_bool(cfg.faults.crash_rate) {
                // The worker died after consuming the token: the record stays processing.
                truth.add("idempotency_stuck", format!("token:{tok}"));
                continue;
            }
            let req = FlowRequest {
                user: u.clone(),
                trans_type: TransType::Withdraw,
                amount,
                trans_no,
                at,
            };
            let ok = applied(payment::apply_flow(db, &req).await)?;
            if ok {
                applied_flows.push((u.id, TransType::Withdraw, amount));
            }
            token::complete(
                db,
                claim,
                ok,
                if ok { "success" } else { "insufficient" },
                at,
            )
            .await?;
            truth.count("withdrawals", u64::from(ok));
        }
    }
    Ok(())
}

/// Writes the statement lines to `path` in the hfb format.
pub fn write_statement(path: &std::path::Path, lines: &[hfb::Line]) -> Result<(), SimError> {
    hfb::write_file(path, lines).map_err(|source| SimError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the truth as pretty JSON.
pub fn write_truth(path: &std::path::Path, truth: &Truth) -> Result<(), SimError> {
    let io = |source| SimError::Io {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_string_pretty(truth).map_err(|e| io(std::io::Error::other(e)))?;
    std::fs::write(path, text).map_err(io)
}
