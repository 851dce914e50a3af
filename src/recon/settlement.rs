//! Settlement (SPEC §4 `settlement_*`): did the money of the day's trades
//! really land in the merchant account? The fund-flow bill (WeChat 资金账单)
//! or account log (Alipay 账务明细) lists every movement of that account;
//! each successful payment must be credited (less its fee, where the channel
//! deducts it per order), each refund debited, every movement explained by
//! a trade, a refund or a fee, and the day's movements must add up to the
//! change of the account's balance.
//!
//! The movements are read first and indexed by every reference number they
//! carry; the trade bill then streams past them ([`Settlement::trade`]), so
//! only the movements and the trades without one are kept in memory. A
//! trade and its movements meet on any shared number: the merchant order
//! number, the gateway's order id, or a refund's numbers. All of one order's
//! movements are summed and compared with what its trades should bring.

use super::fees::to_cent;
use super::finding::{Finding, Kind};
use crate::money::format_amount;
use crate::statement::hfb::GatewayStatus;
use crate::statement::{Entry, EntryKind, Movement};
use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;

/// Past this many trades without any movement and not one with a movement,
/// the files are surely unrelated: the rest are only counted.
const MISSES_KEPT_UNRELATED: usize = 100_000;

/// What a movement is, from its business type (业务类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A payment's money (交易, 在线支付, …).
    Trade,
    /// A refund's money (退款).
    Refund,
    /// A fee deducted or returned (手续费, 服务费, 收费).
    Fee,
    /// The merchant's own transfers: withdrawals to the bank, top-ups.
    Transfer,
}

fn class_of(m: &Movement) -> Class {
    let text = if m.business_type.is_empty() {
        m.business_name.as_str()
    } else {
        m.business_type.as_str()
    };
    if ["手续费", "服务费", "收费"]
        .iter()
        .any(|w| text.contains(w))
    {
        Class::Fee
    } else if text.contains("退款") {
        Class::Refund
    } else if ["提现", "转账", "充值", "转入", "转出"]
        .iter()
        .any(|w| m.business_type.contains(w))
    {
        Class::Transfer
    } else {
        Class::Trade
    }
}

/// The fast hasher of reference numbers (multiply-rotate; a collision costs a
/// comparison, never a wrong match: every hit is checked against the text).
type Fast = std::hash::BuildHasherDefault<crate::statement::balances::CodeHasher>;

/// No order / end of a chain.
const NONE: u32 = u32::MAX;

/// Separates a movement's reference numbers in [`Mov::ids`] (never in a field).
const SEP: char = '\u{1f}';

fn hash_of(id: &str) -> u64 {
    use std::hash::BuildHasher;
    Fast::default().hash_one(id)
}

/// One movement, kept compactly until the trades are read: its reference
/// numbers in one string, its business type as a number in `types`.
#[derive(Debug)]
struct Mov {
    file: u32,
    line: u64,
    at: Option<NaiveDateTime>,
    ids: Box<str>,
    business_type: u16,
    class: Class,
    amount: Decimal,
    balance: Option<Decimal>,
    order: u32,
}

impl Mov {
    fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.split(SEP).filter(|s| !s.is_empty())
    }

    fn has_id(&self, id: &str) -> bool {
        self.ids().any(|i| i == id)
    }
}

/// What one order's trades say should arrive.
#[derive(Debug, Default)]
struct Order {
    bill: String,
    gateway_id: Option<String>,
    gross: Decimal,
    fee: Decimal,
    refunds: Decimal,
    fee_returned: Decimal,
    payments: u32,
    line: u64,
    more_lines: Vec<u64>,
    trade_file: usize,
    first: Option<NaiveDateTime>,
    /// The rows counted: (refund?, amount, hash of gateway id and refund number).
    row: Option<(bool, Decimal, u64)>,
    more_rows: Vec<(bool, Decimal, u64)>,
}

impl Order {
    fn expected(&self, deducted: bool) -> Decimal {
        if deducted {
            self.gross - self.fee - self.refunds + self.fee_returned
        } else {
            self.gross - self.refunds
        }
    }

    fn lines(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::once(self.line).chain(self.more_lines.iter().copied())
    }

    /// Counts a row once: false when the order already has it.
    fn first_time(&mut self, row: (bool, Decimal, u64)) -> bool {
        match self.row {
            None => {
                self.row = Some(row);
                true
            }
            Some(r) if r == row || self.more_rows.contains(&row) => false,
            Some(_) => {
                self.more_rows.push(row);
                true
            }
        }
    }
}

/// A trade no movement answers.
#[derive(Debug)]
struct Miss {
    bill: String,
    gateway_id: Option<String>,
    refund_id: Option<String>,
    kind: EntryKind,
    amount: Decimal,
    fee: Decimal,
    line: u64,
    file: usize,
    at: Option<NaiveDateTime>,
}

/// A trade of the file being read, applied once the file is judged usable.
#[derive(Debug)]
enum Staged {
    Hit {
        bill: String,
        gateway_id: Option<String>,
        row: (bool, Decimal, u64),
        kind: EntryKind,
        amount: Decimal,
        fee: Decimal,
        line: u64,
        at: Option<NaiveDateTime>,
        /// Its movements: `hits[start..start + len]`.
        movs: (u32, u32),
    },
    Miss(Miss),
}

/// One fund-flow bill or account log, as the summary shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MovementFile {
    /// The file's name.
    pub file: String,
    /// Its format.
    pub format: &'static str,
    /// Movements read.
    pub movements: u64,
    /// Money in (exact decimal text).
    pub income: String,
    /// Money out, positive (exact decimal text).
    pub expense: String,
    /// The balance before its first movement, when the file has balances.
    pub opening: Option<String>,
    /// The balance after its last movement.
    pub closing: Option<String>,
    /// Whether income − expense equals closing − opening (`None`: no balances).
    pub balance_ok: Option<bool>,
}

/// What the settlement check found (`summary.json` `settlement`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SettlementSummary {
    /// The fund-flow bills and account logs used.
    pub files: Vec<MovementFile>,
    /// Orders of the trade bills with money to settle (payments or refunds).
    pub orders: u64,
    /// Orders whose movements add up to what their trades should bring.
    pub settled: u64,
    /// What the trades should bring, net (exact decimal text).
    pub expected: String,
    /// What their movements brought (exact decimal text).
    pub arrived: String,
    /// `settlement_missing` findings.
    pub missing: u64,
    /// `settlement_amount_mismatch` findings.
    pub mismatched: u64,
    /// `settlement_unexplained` findings.
    pub unexplained: u64,
    /// Trades or movements within the window of the day's boundary whose
    /// other half belongs to the neighbouring day: not breaks.
    pub pending: u64,
    /// Whether the channel deducts fees per order in these files (`None`
    /// when no order had a fee).
    pub fees_deducted: Option<bool>,
    /// Fee movements not tied to an order (monthly fees…): count, amount.
    pub other_fees: (u64, String),
    /// Withdrawals, top-ups and transfers of the merchant's own: count, amount.
    pub transfers: (u64, String),
    /// Why the check did not run, when it did not (English, Chinese).
    pub not_checked: Option<(String, String)>,
}

/// The settlement check of one run: fed the movement files first, then the
/// trade bills, then [`finish`](Settlement::finish)ed.
///
/// Memory is about 100 bytes per movement and per order; reference numbers
/// are indexed by a 64-bit hash chained through `links`, not copied.
#[derive(Debug, Default)]
pub struct Settlement {
    movs: Vec<Mov>,
    /// Movements of the file being read, until it is judged usable.
    pending: Vec<Mov>,
    types: Vec<String>,
    /// Reference number's hash → first link.
    heads: HashMap<u64, u32, Fast>,
    /// (movement, next link).
    links: Vec<(u32, u32)>,
    files: Vec<MovementFile>,
    trade_files: Vec<String>,
    staged: Vec<Staged>,
    hits_arena: Vec<u32>,
    orders: Vec<Order>,
    misses: Vec<Miss>,
    /// The misses' rows (bill, refund?, amount, refund number): a row listed twice counts once.
    missed: std::collections::HashSet<(String, bool, Decimal, Option<String>), Fast>,
    misses_dropped: u64,
    hits: u64,
    current: usize,
}

impl Settlement {
    /// An empty check.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any movement file was added.
    pub fn has_movements(&self) -> bool {
        !self.files.is_empty()
    }

    /// One movement of the file being read (kept apart until
    /// [`commit_movements`](Self::commit_movements)).
    pub fn movement(&mut self, m: Movement) {
        let class = class_of(&m);
        let business_type = match self.types.iter().position(|t| *t == m.business_type) {
            Some(i) => i,
            None => {
                self.types.push(m.business_type);
                self.types.len() - 1
            }
        };
        let mut ids = String::with_capacity(m.ids.iter().map(|i| i.len() + 1).sum());
        for id in m.ids.iter().filter(|i| !i.contains(SEP)) {
            if !ids.is_empty() {
                ids.push(SEP);
            }
            ids.push_str(id);
        }
        self.pending.push(Mov {
            file: u32::try_from(self.files.len()).unwrap_or(u32::MAX),
            line: m.line,
            at: m.at,
            ids: ids.into_boxed_str(),
            business_type: u16::try_from(business_type).unwrap_or(u16::MAX),
            class,
            amount: m.amount,
            balance: m.balance,
            order: NONE,
        });
    }

    /// The file whose movements were given is usable: they count.
    pub fn commit_movements(&mut self, file: &str, format: &'static str) {
        let (mut income, mut expense) = (Decimal::ZERO, Decimal::ZERO);
        let n = self.pending.len() as u64;
        // About three reference numbers a movement: no rehashing on the way.
        self.heads.reserve(self.pending.len() * 3);
        self.links.reserve(self.pending.len() * 3);
        self.movs.reserve(self.pending.len());
        for m in std::mem::take(&mut self.pending) {
            if m.amount.is_sign_negative() {
                expense -= m.amount;
            } else {
                income += m.amount;
            }
            let i = u32::try_from(self.movs.len()).unwrap_or(NONE);
            for id in m.ids() {
                let link = u32::try_from(self.links.len()).unwrap_or(NONE);
                let head = self.heads.entry(hash_of(id)).or_insert(NONE);
                self.links.push((i, *head));
                *head = link;
            }
            self.movs.push(m);
        }
        self.files.push(MovementFile {
            file: file.to_owned(),
            format,
            movements: n,
            income: format_amount(income),
            expense: format_amount(expense),
            ..MovementFile::default()
        });
    }

    /// The file whose movements were given is not usable: they are dropped.
    pub fn abort_movements(&mut self) {
        self.pending.clear();
    }

    /// Adds a usable movement file's rows at once.
    pub fn add_movement_file(&mut self, file: &str, format: &'static str, rows: Vec<Movement>) {
        for m in rows {
            self.movement(m);
        }
        self.commit_movements(file, format);
    }

    /// The movements carrying `id`, appended to `out` once each.
    fn find(&self, id: &str, out: &mut Vec<u32>, from: usize) {
        let Some(&head) = self.heads.get(&hash_of(id)) else {
            return;
        };
        let mut link = head;
        while link != NONE {
            let (m, next) = self.links[link as usize];
            if self.movs[m as usize].has_id(id) && !out[from..].contains(&m) {
                out.push(m);
            }
            link = next;
        }
    }

    /// Starts a trade bill: its rows are staged until [`commit_trades`](Self::commit_trades).
    pub fn begin_trades(&mut self, file: &str) {
        self.staged.clear();
        self.hits_arena.clear();
        self.current = self.trade_files.len();
        self.trade_files.push(file.to_owned());
    }

    /// One row of the trade bill being read.
    pub fn trade(&mut self, e: &Entry) {
        if e.kind == EntryKind::Payment && e.status == GatewayStatus::Revoked {
            return;
        }
        let fee = e.fee.map(|f| to_cent(f.abs())).unwrap_or_default();
        let start = self.hits_arena.len();
        let mut arena = std::mem::take(&mut self.hits_arena);
        let ids = [
            Some(e.agent_bill_no.as_str()),
            e.gateway_id.as_deref(),
            e.refund_id.as_deref(),
            e.gateway_refund_id.as_deref(),
        ];
        for id in ids.into_iter().flatten().filter(|s| !s.is_empty()) {
            self.find(id, &mut arena, start);
        }
        let found = arena.len() - start;
        self.hits_arena = arena;
        if found == 0 {
            if self.hits == 0 && self.misses.len() >= MISSES_KEPT_UNRELATED {
                self.misses_dropped += 1;
                return;
            }
            self.staged.push(Staged::Miss(Miss {
                bill: e.agent_bill_no.clone(),
                gateway_id: e.gateway_id.clone(),
                refund_id: e.refund_id.clone(),
                kind: e.kind,
                amount: e.amount,
                fee,
                line: e.line,
                file: self.current,
                at: e.booked_at(),
            }));
        } else {
            let row_ids = {
                use std::hash::BuildHasher;
                Fast::default().hash_one((e.gateway_id.as_deref(), e.refund_id.as_deref()))
            };
            self.staged.push(Staged::Hit {
                bill: e.agent_bill_no.clone(),
                gateway_id: e.gateway_id.clone(),
                row: (e.kind == EntryKind::Refund, e.amount, row_ids),
                kind: e.kind,
                amount: e.amount,
                fee,
                line: e.line,
                at: e.booked_at(),
                movs: (
                    u32::try_from(start).unwrap_or(NONE),
                    u32::try_from(found).unwrap_or(0),
                ),
            });
        }
    }

    /// The trade bill read is usable: its rows count. A row that repeats
    /// another of the same order exactly (a bill listed twice:
    /// `duplicate_in_statement`) is money the gateway settles once, so it
    /// counts once.
    pub fn commit_trades(&mut self) {
        let arena = std::mem::take(&mut self.hits_arena);
        for s in std::mem::take(&mut self.staged) {
            match s {
                Staged::Miss(m) => {
                    let row = (
                        m.bill.clone(),
                        m.kind == EntryKind::Refund,
                        m.amount,
                        m.refund_id.clone(),
                    );
                    if self.missed.insert(row) {
                        self.misses.push(m);
                    }
                }
                Staged::Hit {
                    bill,
                    gateway_id,
                    row,
                    kind,
                    amount,
                    fee,
                    line,
                    at,
                    movs,
                } => {
                    self.hits += 1;
                    let (start, len) = (movs.0 as usize, movs.1 as usize);
                    let hit = arena.get(start..start + len).unwrap_or_default();
                    // An order's rows share its movements (its payment's are
                    // found by the merchant order number every row carries):
                    // the order is the one a movement already belongs to.
                    let known = hit
                        .iter()
                        .map(|&m| self.movs[m as usize].order)
                        .find(|&o| o != NONE);
                    let o = match known {
                        Some(o) => o as usize,
                        None => {
                            self.orders.push(Order {
                                bill,
                                trade_file: self.current,
                                line,
                                ..Order::default()
                            });
                            self.orders.len() - 1
                        }
                    };
                    let order = &mut self.orders[o];
                    if order.row.is_some() && order.line != line {
                        order.more_lines.push(line);
                    }
                    if !order.first_time(row) {
                        continue;
                    }
                    if order.gateway_id.is_none() {
                        order.gateway_id = gateway_id;
                    }
                    match kind {
                        EntryKind::Payment => {
                            order.gross += amount;
                            order.fee += fee;
                            order.payments += 1;
                        }
                        EntryKind::Refund => {
                            order.refunds += amount;
                            order.fee_returned += fee;
                        }
                    }
                    order.first = match (order.first, at) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    for &m in hit {
                        let mov = &mut self.movs[m as usize];
                        if mov.order == NONE {
                            mov.order = u32::try_from(o).unwrap_or(NONE);
                        }
                    }
                }
            }
        }
        self.hits_arena = arena;
        self.hits_arena.clear();
    }

    /// The trade bill read is not usable: its rows are dropped.
    pub fn abort_trades(&mut self) {
        self.staged.clear();
        self.hits_arena.clear();
        self.trade_files.pop();
    }

    /// Whether any usable trade bill was read.
    pub fn has_trades(&self) -> bool {
        !self.trade_files.is_empty()
    }

    /// Whether the trades and the movements share not one reference number
    /// while both have some: another merchant's or day's file.
    pub fn unrelated(&self) -> bool {
        self.hits == 0
            && !self.movs.is_empty()
            && (!self.misses.is_empty() || self.misses_dropped > 0)
    }

    /// Compares, for the period `[from, to)` with the cross-day `window`:
    /// the findings and the summary.
    pub fn finish(
        mut self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        window: Duration,
    ) -> (Vec<Finding>, SettlementSummary) {
        let mut findings = Vec::new();
        let mut s = SettlementSummary::default();
        self.balance_checks(&mut findings, &mut s);
        if !self.has_trades() {
            s.not_checked = Some((
                "no usable trade bill of the day: the movements were not matched to trades".into(),
                "没有可用的当日交易账单：资金流水未与交易逐笔核对".into(),
            ));
            s.files = self.files;
            return (findings, s);
        }
        // What arrived per order: one pass over the movements.
        let mut arrived = vec![Decimal::ZERO; self.orders.len()];
        let mut fee_rows = false;
        for m in self.movs.iter().filter(|m| m.order != NONE) {
            if let Some(a) = arrived.get_mut(m.order as usize) {
                *a += m.amount;
            }
            fee_rows |= m.class == Class::Fee;
        }
        // Fees per order or apart: per order when a fee movement belongs to an
        // order or an order's movements come to its amount less its fee.
        let with_fee: Vec<usize> = (0..self.orders.len())
            .filter(|&o| !self.orders[o].fee.is_zero() || !self.orders[o].fee_returned.is_zero())
            .collect();
        let deducted = if with_fee.is_empty() {
            None
        } else if fee_rows
            || with_fee
                .iter()
                .any(|&o| arrived[o] == self.orders[o].expected(true))
        {
            Some(true)
        } else if with_fee
            .iter()
            .all(|&o| arrived[o] == self.orders[o].expected(false))
        {
            Some(false)
        } else {
            Some(true)
        };
        s.fees_deducted = deducted;
        let per_order = deducted.unwrap_or(true);
        let (mut expected_total, mut arrived_total) = (Decimal::ZERO, Decimal::ZERO);
        let mut wrong: Vec<(usize, Decimal)> = Vec::new();
        for (o, order) in self.orders.iter().enumerate() {
            let expected = order.expected(per_order);
            expected_total += expected;
            arrived_total += arrived[o];
            s.orders += 1;
            if arrived[o] == expected {
                s.settled += 1;
            } else {
                wrong.push((o, expected));
            }
        }
        // The movements of the orders that differ, for their explanations.
        let mut of_wrong: HashMap<u32, Vec<usize>, Fast> = HashMap::default();
        for &(o, _) in &wrong {
            of_wrong.insert(u32::try_from(o).unwrap_or(NONE), Vec::new());
        }
        if !of_wrong.is_empty() {
            for (i, m) in self.movs.iter().enumerate() {
                if let Some(v) = of_wrong.get_mut(&m.order) {
                    v.push(i);
                }
            }
        }
        for (o, expected) in wrong {
            s.mismatched += 1;
            let movs = of_wrong
                .get(&u32::try_from(o).unwrap_or(NONE))
                .map(Vec::as_slice)
                .unwrap_or_default();
            findings.push(self.mismatch(&self.orders[o], movs, expected, arrived[o], per_order));
        }
        for m in std::mem::take(&mut self.misses) {
            let near_end = m.at.is_some_and(|t| t >= to - window);
            if near_end {
                s.pending += 1;
                continue;
            }
            let net = m.amount - if per_order { m.fee } else { Decimal::ZERO };
            let expected = match m.kind {
                EntryKind::Payment => net,
                EntryKind::Refund => -net,
            };
            s.orders += 1;
            expected_total += expected;
            s.missing += 1;
            findings.push(self.missing(&m, expected));
        }
        let (mut fees_n, mut fees_amt, mut tr_n, mut tr_amt) =
            (0u64, Decimal::ZERO, 0u64, Decimal::ZERO);
        let mut groups: Vec<(String, Vec<&Mov>)> = Vec::new();
        let mut group_of: HashMap<String, usize, Fast> = HashMap::default();
        for m in self.movs.iter().filter(|m| m.order == NONE) {
            match m.class {
                Class::Fee => {
                    fees_n += 1;
                    fees_amt += m.amount;
                }
                Class::Transfer => {
                    tr_n += 1;
                    tr_amt += m.amount;
                }
                Class::Trade | Class::Refund => {
                    if m.at.is_some_and(|t| t < from + window) {
                        s.pending += 1;
                        continue;
                    }
                    let key = self.unexplained_key(m);
                    match group_of.get(&key) {
                        Some(&g) => groups[g].1.push(m),
                        None => {
                            group_of.insert(key.clone(), groups.len());
                            groups.push((key, vec![m]));
                        }
                    }
                }
            }
        }
        // One finding per reference: an unknown order's income and fee rows together.
        for (key, movs) in &groups {
            s.unexplained += 1;
            findings.push(self.unexplained(key, movs));
        }
        s.other_fees = (fees_n, format_amount(fees_amt));
        s.transfers = (tr_n, format_amount(tr_amt));
        s.expected = format_amount(expected_total);
        s.arrived = format_amount(arrived_total);
        s.files = std::mem::take(&mut self.files);
        (findings, s)
    }

    /// The day's movements against the change of the account's balance, per file.
    fn balance_checks(&mut self, findings: &mut Vec<Finding>, s: &mut SettlementSummary) {
        for f in 0..self.files.len() {
            let mut rows: Vec<&Mov> = self.movs.iter().filter(|m| m.file as usize == f).collect();
            if rows.is_empty() || rows.iter().any(|m| m.balance.is_none()) {
                continue;
            }
            let chains = |rows: &[&Mov]| {
                rows.windows(2).all(|w| match (w[0].balance, w[1].balance) {
                    (Some(a), Some(b)) => a + w[1].amount == b,
                    _ => false,
                })
            };
            // File order, else time order (rows of one second may come in any order).
            if !chains(&rows) {
                rows.sort_by_key(|m| (m.at, m.line));
            }
            let (first, last) = (rows[0], rows[rows.len() - 1]);
            let (Some(fb), Some(lb)) = (first.balance, last.balance) else {
                continue;
            };
            let opening = fb - first.amount;
            let net: Decimal = rows.iter().map(|m| m.amount).sum();
            let ok = opening + net == lb;
            let file = &mut self.files[f];
            file.opening = Some(format_amount(opening));
            file.closing = Some(format_amount(lb));
            file.balance_ok = Some(ok);
            if !ok {
                s.unexplained += 1;
                let gap = lb - opening - net;
                let name = file.file.clone();
                let (o, c, n, g) = (
                    format_amount(opening),
                    format_amount(lb),
                    format_amount(net),
                    format_amount(gap.abs()),
                );
                let (more_zh, more_en) = if gap.is_sign_positive() {
                    ("多", "more")
                } else {
                    ("少", "less")
                };
                findings.push(
                    Finding::new(Kind::SettlementUnexplained, format!("balance:{name}"))
                        .amounts(Some(net), Some(lb - opening))
                        .seen(first.at, last.at)
                        .explain(
                            format!("{name}：账户余额从 {o} 变为 {c}，变动 {}，而逐笔收支合计 {n}：余额比明细{more_zh}变动 {g}，有明细之外的资金变动或缺行", format_amount(lb - opening)),
                            format!("{name}: the account balance went from {o} to {c} (a change of {}), but its movements add up to {n}: the balance moved {g} {more_en} than the rows explain — a movement outside the rows, or missing rows", format_amount(lb - opening)),
                        ),
                );
            }
        }
    }

    fn type_of(&self, m: &Mov) -> &str {
        self.types
            .get(usize::from(m.business_type))
            .map_or("", String::as_str)
    }

    fn file_of(&self, m: &Mov) -> &str {
        self.files
            .get(m.file as usize)
            .map_or("", |f| f.file.as_str())
    }

    fn mov_refs(&self, movs: &[usize]) -> (String, String) {
        let mut zh = Vec::new();
        let mut en = Vec::new();
        for &m in movs {
            let m = &self.movs[m];
            let (file, bt) = (self.file_of(m), self.type_of(m));
            let ids = m.ids().collect::<Vec<_>>().join("/");
            zh.push(format!(
                "{file} 第 {} 行 {bt} {}（{ids}）",
                m.line,
                format_amount(m.amount)
            ));
            en.push(format!(
                "{file} line {} {bt} {} ({ids})",
                m.line,
                format_amount(m.amount)
            ));
        }
        (zh.join("；"), en.join("; "))
    }

    fn mismatch(
        &self,
        o: &Order,
        movs: &[usize],
        expected: Decimal,
        arrived: Decimal,
        per_order: bool,
    ) -> Finding {
        let (refs_zh, refs_en) = self.mov_refs(movs);
        let trade_file =
            &self.trade_files[o.trade_file.min(self.trade_files.len().saturating_sub(1))];
        let lines = o
            .lines()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let gw = o
            .gateway_id
            .as_deref()
            .map(|g| format!(", {g}"))
            .unwrap_or_default();
        let (exp, arr, gap) = (
            format_amount(expected),
            format_amount(arrived),
            format_amount((expected - arrived).abs()),
        );
        let fee_zh = if per_order && !o.fee.is_zero() {
            format!("（已扣手续费 {}）", format_amount(o.fee - o.fee_returned))
        } else {
            String::new()
        };
        let fee_en = if per_order && !o.fee.is_zero() {
            format!(
                " (after a fee of {})",
                format_amount(o.fee - o.fee_returned)
            )
        } else {
            String::new()
        };
        let (dir_zh, dir_en) = if arrived < expected {
            (
                format!("少到账 {gap}"),
                format!("{gap} less arrived than the trades bring"),
            )
        } else {
            (
                format!("多到账 {gap}"),
                format!("{gap} more arrived than the trades bring"),
            )
        };
        Finding::new(Kind::SettlementAmountMismatch, o.bill.as_str())
            .bill(&o.bill)
            .amounts(Some(expected), Some(arrived))
            .seen(o.first, None)
            .explain(
                format!("订单 {bill} 按交易账单应到账 {exp}{fee_zh}，商户账户实际变动 {arr}：{dir_zh}（交易账单 {trade_file} 第 {lines} 行{gw}；资金流水 {refs_zh}）", bill = o.bill),
                format!("order {bill}: the trade bill says {exp} should reach the merchant account{fee_en}, its movements come to {arr} — {dir_en} (trade bill {trade_file} line {lines}{gw}; fund flow {refs_en})", bill = o.bill),
            )
    }

    fn missing(&self, m: &Miss, expected: Decimal) -> Finding {
        let trade_file = &self.trade_files[m.file.min(self.trade_files.len().saturating_sub(1))];
        let movement_files = self
            .files
            .iter()
            .map(|f| f.file.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let gw = m
            .gateway_id
            .as_deref()
            .map(|g| format!(", {g}"))
            .unwrap_or_default();
        let exp = format_amount(expected.abs());
        let amount = format_amount(m.amount);
        let key = match (m.kind, m.refund_id.as_deref()) {
            (EntryKind::Refund, r) => super::fees::refund_key(&m.bill, r),
            (EntryKind::Payment, _) => m.bill.clone(),
        };
        let (zh, en) = match m.kind {
            EntryKind::Payment => (
                format!(
                    "订单 {bill} 已支付 {amount}，应到账 {exp}，但资金流水 {movement_files} 中没有这笔入账：钱没有到商户账户（交易账单 {trade_file} 第 {line} 行{gw}）",
                    bill = m.bill,
                    line = m.line
                ),
                format!(
                    "order {bill} was paid {amount} and {exp} should have reached the merchant account, but {movement_files} has no movement for it: the money never arrived (trade bill {trade_file} line {line}{gw})",
                    bill = m.bill,
                    line = m.line
                ),
            ),
            EntryKind::Refund => (
                format!(
                    "订单 {bill} 退款 {amount}，商户账户应扣 {exp}，但资金流水 {movement_files} 中没有这笔支出：退款的钱没有从账户付出（交易账单 {trade_file} 第 {line} 行{gw}）",
                    bill = m.bill,
                    line = m.line
                ),
                format!(
                    "refund of {amount} on order {bill}: {exp} should have left the merchant account, but {movement_files} has no movement for it (trade bill {trade_file} line {line}{gw})",
                    bill = m.bill,
                    line = m.line
                ),
            ),
        };
        Finding::new(Kind::SettlementMissing, key)
            .bill(&m.bill)
            .amounts(Some(expected), Some(Decimal::ZERO))
            .seen(m.at, None)
            .explain(zh, en)
    }

    fn unexplained_key(&self, m: &Mov) -> String {
        match m.ids().next() {
            Some(id) => format!("movement:{id}"),
            None => format!("movement:{}:{}", self.file_of(m), m.line),
        }
    }

    fn unexplained(&self, key: &str, movs: &[&Mov]) -> Finding {
        let amount: Decimal = movs.iter().map(|m| m.amount).sum();
        let first = movs.iter().filter_map(|m| m.at).min();
        let last = movs.iter().filter_map(|m| m.at).max();
        let trade_files = self.trade_files.join(", ");
        let mut zh = Vec::new();
        let mut en = Vec::new();
        for m in movs {
            let (file, bt) = (self.file_of(m), self.type_of(m));
            let ids = m.ids().collect::<Vec<_>>().join("/");
            let a = format_amount(m.amount.abs());
            if m.amount.is_sign_negative() {
                zh.push(format!("{file} 第 {} 行：{bt} 支出 {a}（{ids}）", m.line));
                en.push(format!(
                    "{file} line {}: {a} left the merchant account as '{bt}' ({ids})",
                    m.line
                ));
            } else {
                zh.push(format!("{file} 第 {} 行：{bt} 收入 {a}（{ids}）", m.line));
                en.push(format!(
                    "{file} line {}: {a} came into the merchant account as '{bt}' ({ids})",
                    m.line
                ));
            }
        }
        Finding::new(Kind::SettlementUnexplained, key)
            .amounts(None, Some(amount))
            .seen(first, last)
            .explain(
                format!(
                    "{}；交易账单 {trade_files} 中没有任何交易、退款或手续费能解释它",
                    zh.join("；")
                ),
                format!(
                    "{}; no trade, refund or fee in {trade_files} explains it",
                    en.join("; ")
                ),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn t(h: u32, m: u32) -> Option<NaiveDateTime> {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 29).and_then(|d| d.and_hms_opt(h, m, 0))
    }

    fn mov(line: u64, at: u32, ids: &[&str], bt: &str, amount: &str, balance: &str) -> Movement {
        Movement {
            line,
            at: t(at, 0),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            business_type: bt.into(),
            business_name: String::new(),
            note: String::new(),
            amount: d(amount),
            balance: Some(d(balance)),
        }
    }

    fn pay(line: u64, bill: &str, wx: &str, amount: &str, fee: &str, at: u32) -> Entry {
        Entry {
            line,
            agent_bill_no: bill.into(),
            kind: EntryKind::Payment,
            status: GatewayStatus::Success,
            amount: d(amount),
            fee: Some(d(fee)),
            bind_code: None,
            paid_at: t(at, 0),
            refunded_at: None,
            gateway_id: Some(wx.into()),
            refund_id: None,
            gateway_refund_id: None,
            rate: Some(d("0.006")),
        }
    }

    fn refund(
        line: u64,
        bill: &str,
        wx: &str,
        rid: &str,
        amount: &str,
        fee: &str,
        at: u32,
    ) -> Entry {
        Entry {
            kind: EntryKind::Refund,
            status: GatewayStatus::Refund,
            refund_id: Some(rid.into()),
            gateway_refund_id: Some(format!("W{rid}")),
            refunded_at: t(at, 0),
            ..pay(line, bill, wx, amount, fee, at - 1)
        }
    }

    fn day() -> (NaiveDateTime, NaiveDateTime) {
        (t(0, 0).unwrap(), t(0, 0).unwrap() + Duration::days(1))
    }

    /// A day with every kind of break, and the rows that settle right:
    /// A pays 100.00 (fee 0.60): +100.00 and −0.60 arrive.
    /// B pays 50.00 (fee 0.30), settled as one net row of 49.70.
    /// C pays 20.00 (fee 0.12): nothing arrives → settlement_missing 19.88.
    /// D pays 10.00 (fee 0.06): 9.90 arrives → settlement_amount_mismatch 0.04.
    /// E refunds 30.00 (fee 0.18 returned): −29.82 leaves, found by its refund number.
    /// X: a debit of 5.00 no trade explains → settlement_unexplained.
    /// A withdrawal of 1000.00 is the merchant's own: not a break.
    #[test]
    fn a_settlement_day_with_each_break_kind() {
        let mut s = Settlement::new();
        s.add_movement_file(
            "ff.csv",
            "wechat-fundflow",
            vec![
                mov(2, 1, &["A", "wxA"], "交易", "100.00", "1100.00"),
                mov(3, 1, &["A", "wxA"], "扣除交易手续费", "-0.60", "1099.40"),
                mov(4, 2, &["B", "wxB"], "交易", "49.70", "1149.10"),
                mov(5, 3, &["D", "wxD"], "交易", "9.90", "1159.00"),
                mov(6, 4, &["RE", "wrRE", "wxE"], "退款", "-29.82", "1129.18"),
                mov(7, 5, &["X9"], "交易", "-5.00", "1124.18"),
                mov(8, 10, &["T1"], "提现", "-1000.00", "124.18"),
            ],
        );
        s.begin_trades("wx.csv");
        s.trade(&pay(2, "A", "wxA", "100.00", "0.60000", 1));
        s.trade(&pay(3, "B", "wxB", "50.00", "0.30000", 2));
        s.trade(&pay(4, "C", "wxC", "20.00", "0.12000", 3));
        s.trade(&pay(5, "D", "wxD", "10.00", "0.06000", 3));
        s.trade(&refund(6, "E", "wxE", "RE", "30.00", "-0.18000", 4));
        s.commit_trades();
        let (from, to) = day();
        let (f, sum) = s.finish(from, to, Duration::minutes(10));
        let kinds: Vec<(Kind, String, Option<Decimal>)> = f
            .iter()
            .map(|f| (f.kind, f.key.clone(), f.difference))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::SettlementAmountMismatch, "D".into(), Some(d("0.04"))),
                (Kind::SettlementMissing, "C".into(), Some(d("19.88"))),
                (
                    Kind::SettlementUnexplained,
                    "movement:X9".into(),
                    Some(d("5.00"))
                ),
            ],
            "{f:#?}"
        );
        assert!(
            f[0].detail_en.contains("0.04 less arrived"),
            "{}",
            f[0].detail_en
        );
        assert!(
            f[1].detail_en.contains("never arrived"),
            "{}",
            f[1].detail_en
        );
        assert_eq!(sum.fees_deducted, Some(true));
        assert_eq!(
            (
                sum.orders,
                sum.settled,
                sum.missing,
                sum.mismatched,
                sum.unexplained
            ),
            (5, 3, 1, 1, 1)
        );
        assert_eq!(sum.transfers, (1, "-1000.00".into()));
        assert_eq!(sum.files[0].balance_ok, Some(true));
        assert_eq!(sum.files[0].opening.as_deref(), Some("1000.00"));
    }

    #[test]
    fn a_balance_that_moves_more_than_the_rows_is_unexplained() {
        let mut s = Settlement::new();
        s.add_movement_file(
            "ff.csv",
            "wechat-fundflow",
            vec![
                mov(2, 1, &["A"], "交易", "100.00", "1100.00"),
                mov(3, 2, &["B"], "交易", "50.00", "1170.00"),
            ],
        );
        s.begin_trades("wx.csv");
        s.trade(&pay(2, "A", "wxA", "100.00", "0", 1));
        s.trade(&pay(3, "B", "wxB", "50.00", "0", 2));
        s.commit_trades();
        let (from, to) = day();
        let (f, sum) = s.finish(from, to, Duration::minutes(10));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, Kind::SettlementUnexplained);
        assert_eq!(f[0].key, "balance:ff.csv");
        assert!(
            f[0].detail_en
                .contains("moved 20.00 more than the rows explain"),
            "{}",
            f[0].detail_en
        );
        assert_eq!(sum.files[0].balance_ok, Some(false));
    }

    #[test]
    fn fees_billed_apart_are_not_breaks_and_a_refused_bill_counts_nothing() {
        let mut s = Settlement::new();
        s.add_movement_file(
            "ff.csv",
            "alipay-accountlog",
            vec![mov(2, 1, &["A"], "在线支付", "100.00", "100.00")],
        );
        s.begin_trades("bad.csv");
        s.trade(&pay(2, "Z", "wxZ", "1.00", "0", 1));
        s.abort_trades();
        s.begin_trades("ali.csv");
        s.trade(&pay(2, "A", "2088A", "100.00", "0.38", 1));
        s.commit_trades();
        let (from, to) = day();
        let (f, sum) = s.finish(from, to, Duration::minutes(10));
        assert!(f.is_empty(), "{f:#?}");
        assert_eq!(sum.fees_deducted, Some(false));
        assert_eq!(sum.settled, 1);
    }

    /// A bill the trade bill lists twice (`duplicate_in_statement`) is
    /// money settled once: neither a mismatch nor two missing findings.
    #[test]
    fn a_bill_listed_twice_settles_once() {
        let mut s = Settlement::new();
        s.add_movement_file(
            "ff.csv",
            "wechat-fundflow",
            vec![mov(2, 1, &["A", "wxA"], "交易", "10.00", "10.00")],
        );
        s.begin_trades("wx.csv");
        s.trade(&pay(2, "A", "wxA", "10.00", "0", 1));
        s.trade(&pay(3, "A", "wxA", "10.00", "0", 1));
        s.trade(&pay(4, "C", "wxC", "5.00", "0", 2));
        s.trade(&pay(5, "C", "wxC", "5.00", "0", 2));
        s.commit_trades();
        let (from, to) = day();
        let (f, sum) = s.finish(from, to, Duration::minutes(10));
        let kinds: Vec<(Kind, String)> = f.iter().map(|f| (f.kind, f.key.clone())).collect();
        assert_eq!(kinds, vec![(Kind::SettlementMissing, "C".to_owned())]);
        assert_eq!((sum.orders, sum.settled), (2, 1));
    }

    #[test]
    fn near_the_boundary_a_trade_without_money_is_pending_not_missing() {
        let mut s = Settlement::new();
        s.add_movement_file(
            "ff.csv",
            "wechat-fundflow",
            vec![
                mov(2, 0, &["Y"], "交易", "3.00", "3.00"),
                mov(3, 12, &["A"], "交易", "1.00", "4.00"),
            ],
        );
        s.begin_trades("wx.csv");
        s.trade(&pay(2, "A", "wxA", "1.00", "0", 12));
        let mut late = pay(3, "L", "wxL", "2.00", "0", 23);
        late.paid_at = t(23, 55);
        s.trade(&late);
        s.commit_trades();
        let (from, to) = day();
        let (f, sum) = s.finish(from, to, Duration::minutes(10));
        assert!(f.is_empty(), "{f:#?}");
        assert_eq!(sum.pending, 2);
    }
}
