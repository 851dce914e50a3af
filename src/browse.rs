//! Paging a view for the console (SPEC §6 tables, §9): keyset pages of a few
//! hundred rows, never an OFFSET and never the whole table, so that the first
//! page, the last page and a filtered page of a 10-million-row table each cost
//! one index range read.
//!
//! Sorting and filtering reach SQL as bound parameters through
//! [`crate::views`]' filter builder; a page is formatted with the same
//! [`crate::views::format_row`] the CSV export uses.
//!
//! Any column of a view can be the order ([`SortCol::Column`]): keyset paging
//! on `(value, id)` holds for every column, but only the id and the time
//! column are indexed ([`indexed`]); other orders sort the whole filtered
//! table on every page, which the console says. [`totals`] counts and sums
//! the filtered rows in the database; [`with_user_names`] adds the accounts'
//! names and mobiles from `user_info` when the database has it.

use crate::db::{Arg, Db, DbError, Row, SchemaReport};
use crate::views::{self, Filter, View};
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// What a page is ordered by. Every order ends with the row's id, so that
/// keys are unique and pages never skip or repeat a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortCol {
    /// The row id (`user_id` for accounts): the table's own order.
    Id,
    /// The view's time column (`create_time`, `received_at`, …).
    Time,
    /// The amount (not indexed in the contract: a sort by amount scans).
    Amount,
    /// Any other column of the view, by its name in [`View::header`] (see
    /// [`sortable`]). Keyset paging on `(value, id)` still holds, but without
    /// an index on the column every page sorts the whole filtered table.
    Column(&'static str),
}

impl SortCol {
    /// The orders a view offers.
    pub fn for_view(view: View) -> &'static [SortCol] {
        match view {
            View::Idempotency => &[SortCol::Id, SortCol::Time],
            _ => &[SortCol::Id, SortCol::Time, SortCol::Amount],
        }
    }
}

/// Whether pages in this order are read from an index of the contract
/// (SPEC §3: the id, and the indexed columns below) rather than by sorting
/// the whole filtered table on every page.
pub fn indexed(view: View, col: SortCol) -> bool {
    let name = match col {
        SortCol::Id => return true,
        SortCol::Time => bare(view.time_col()),
        SortCol::Amount => return false,
        SortCol::Column(n) => n,
    };
    if name == bare(view.id_col()) {
        return true;
    }
    let contract: &[&str] = match view {
        View::Flows => &["create_time", "user_id", "trans_no"],
        View::Orders => &["agent_bill_no", "user_id"],
        View::Notify => &["agent_bill_no", "received_at"],
        View::Idempotency => &["source"],
        View::Accounts => &["user_id"],
    };
    contract.contains(&name)
}

/// The order a click on a column's header asks for (`name` as in
/// [`columns`]); `None` for a column that cannot be sorted in SQL (computed
/// cells: an account's expected balance, its name).
pub fn sortable(view: View, name: &str) -> Option<SortCol> {
    if name == bare(view.id_col()) {
        return Some(SortCol::Id);
    }
    if name == bare(view.time_col()) {
        return Some(SortCol::Time);
    }
    if view.amount_col().map(bare) == Some(name) {
        return Some(SortCol::Amount);
    }
    specs(view)
        .iter()
        .find(|s| s.name == name)
        .map(|s| SortCol::Column(s.name))
}

/// The column a sort order is on, as named in [`columns`].
pub fn sort_column(view: View, col: SortCol) -> Option<&'static str> {
    match col {
        SortCol::Id => Some(bare(view.id_col())),
        SortCol::Time => Some(bare(view.time_col())),
        SortCol::Amount => view.amount_col().map(bare),
        SortCol::Column(n) => Some(n),
    }
}

/// `t.create_time` → `create_time`.
fn bare(col: &'static str) -> &'static str {
    col.strip_prefix("t.").unwrap_or(col)
}

/// The type of a sortable column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Money,
    Time,
}

/// A sortable column: its console name, its SQL column (alias `t`), and
/// its position in the view's query.
struct Spec {
    name: &'static str,
    sql: &'static str,
    index: usize,
    kind: Kind,
}

const fn spec(name: &'static str, sql: &'static str, index: usize, kind: Kind) -> Spec {
    Spec {
        name,
        sql,
        index,
        kind,
    }
}

/// The sortable columns of a view ([`crate::views::parts`]' SELECT lists).
fn specs(view: View) -> &'static [Spec] {
    use Kind::*;
    const FLOWS: &[Spec] = &[
        spec("id", "id", 0, Int),
        spec("user_id", "user_id", 1, Int),
        spec("user_name", "user_name", 2, Text),
        spec("trans_no", "trans_no", 3, Text),
        spec("trans_type", "trans_type", 4, Int),
        spec("trans_type_name", "trans_type_name", 5, Text),
        spec("trans_amount", "trans_amount", 6, Money),
        spec("memo", "memo", 7, Text),
        spec("create_time", "create_time", 8, Time),
        spec("is_deleted", "is_deleted", 9, Int),
    ];
    const ORDERS: &[Spec] = &[
        spec("id", "id", 0, Int),
        spec("agent_bill_no", "agent_bill_no", 1, Text),
        spec("user_id", "user_id", 2, Int),
        spec("bind_code", "bind_code", 3, Text),
        spec("charge_amt", "charge_amt", 4, Money),
        spec("fee_amt", "fee_amt", 5, Money),
        spec("status", "status", 6, Int),
        // The status name sorts as its code.
        spec("status_name", "status", 6, Int),
        spec("version", "version", 7, Int),
        spec("create_time", "create_time", 8, Time),
        spec("update_time", "update_time", 9, Time),
    ];
    const NOTIFY: &[Spec] = &[
        spec("id", "id", 0, Int),
        spec("agent_bill_no", "agent_bill_no", 1, Text),
        spec("bind_code", "bind_code", 2, Text),
        spec("charge_amt", "charge_amt", 3, Money),
        spec("result_code", "result_code", 4, Text),
        spec("sign_ok", "sign_ok", 5, Int),
        spec("outcome", "outcome", 6, Text),
        spec("response_body", "response_body", 7, Text),
        spec("received_at", "received_at", 8, Time),
        spec("handled_ms", "handled_ms", 9, Int),
    ];
    const IDEMPOTENCY: &[Spec] = &[
        spec("id", "id", 0, Int),
        spec("source", "source", 1, Text),
        spec("seq", "seq", 2, Text),
        spec("request_hash", "request_hash", 3, Text),
        spec("status", "status", 4, Text),
        spec("response_body", "response_body", 5, Text),
        spec("locked_at", "locked_at", 6, Time),
        spec("created_at", "created_at", 7, Time),
        spec("completed_at", "completed_at", 8, Time),
        spec("expires_at", "expires_at", 9, Time),
    ];
    // Expected balances, differences and flow counts are computed per page
    // (not in the paged query): they cannot be sorted by.
    const ACCOUNTS: &[Spec] = &[
        spec("user_id", "user_id", 0, Int),
        spec("amount", "amount", 1, Money),
        spec("freeze_amount", "freeze_amount", 3, Money),
        spec("version", "version", 6, Int),
        spec("update_time", "update_time", 7, Time),
    ];
    match view {
        View::Flows => FLOWS,
        View::Orders => ORDERS,
        View::Notify => NOTIFY,
        View::Idempotency => IDEMPOTENCY,
        View::Accounts => ACCOUNTS,
    }
}

/// The spec a (non-id) sort order reads.
fn spec_of(view: View, col: SortCol) -> Result<&'static Spec, DbError> {
    let name = sort_column(view, col)
        .ok_or_else(|| DbError::State(format!("{} have no amount to sort by", view.table())))?;
    specs(view)
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| DbError::State(format!("{} cannot be sorted by {name}", view.table())))
}

/// The console's columns of a view: [`View::header`], and for accounts the
/// user's name and mobile after the user id (see [`with_user_names`]).
pub fn columns(view: View) -> &'static [&'static str] {
    match view {
        View::Accounts => &[
            "user_id",
            "name",
            "mobile",
            "amount",
            "expected_amount",
            "amount_difference",
            "freeze_amount",
            "expected_freeze",
            "freeze_difference",
            "flows",
            "version",
            "update_time",
        ],
        v => v.header(),
    }
}

/// A sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    /// The column.
    pub col: SortCol,
    /// Descending.
    pub desc: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            col: SortCol::Id,
            desc: false,
        }
    }
}

/// The sort value of a row, for the next page's `WHERE (value, id) > (…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    /// Sorted by id: nothing more than the id.
    None,
    /// A time; `None` for NULL.
    Time(Option<NaiveDateTime>),
    /// An amount (integer cents on SQLite, as [`Db::money_cmp`] compares).
    Amount(Option<Decimal>),
    /// An integer column; `None` for NULL.
    Int(Option<i64>),
    /// A text column; `None` for NULL.
    Text(Option<String>),
}

impl SortValue {
    fn is_null(&self) -> bool {
        matches!(
            self,
            Self::Time(None) | Self::Amount(None) | Self::Int(None) | Self::Text(None)
        )
    }
}

/// Where a row stands in its sort order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKey {
    /// The row id.
    pub id: i64,
    /// The sort value.
    pub value: SortValue,
}

/// Which page to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The first page.
    First,
    /// The last page ("end of table").
    Last,
    /// The page after this row.
    After(RowKey),
    /// The page before this row.
    Before(RowKey),
}

/// One page of a view.
#[derive(Debug, Clone)]
pub struct Page {
    /// Cells, formatted as in the CSV export.
    pub rows: Vec<Vec<String>>,
    /// Each row's key (same order as `rows`).
    pub keys: Vec<RowKey>,
    /// Whether rows exist before the first one.
    pub has_prev: bool,
    /// Whether rows exist after the last one.
    pub has_next: bool,
}

/// The SQL expression a sort compares.
fn sort_expr(db: &Db, view: View, col: SortCol) -> Result<String, DbError> {
    if col == SortCol::Id {
        return Ok(view.id_col().to_owned());
    }
    let s = spec_of(view, col)?;
    let c = format!("t.{}", s.sql);
    Ok(if s.kind == Kind::Money {
        db.money_cmp(&c)
    } else {
        c
    })
}

fn value_arg(db: &Db, v: &SortValue) -> Result<Arg, DbError> {
    Ok(match v {
        SortValue::None => Arg::Int(None),
        SortValue::Time(t) => Arg::from(*t),
        SortValue::Amount(None) => Arg::Money(None),
        SortValue::Amount(Some(d)) => views::money_arg(db, *d)?,
        SortValue::Int(i) => Arg::from(*i),
        SortValue::Text(t) => Arg::from(t.clone()),
    })
}

fn read_key(db: &Db, view: View, col: SortCol, r: &Row) -> Result<RowKey, DbError> {
    let d = |e| db.decode(view.table(), e);
    let id = r.i64(0).map_err(d)?;
    if col == SortCol::Id {
        return Ok(RowKey {
            id,
            value: SortValue::None,
        });
    }
    let s = spec_of(view, col)?;
    let i = s.index;
    let value = match s.kind {
        Kind::Int => SortValue::Int(r.opt_i64(i).map_err(d)?),
        Kind::Text => SortValue::Text(r.opt_text(i).map_err(d)?),
        // SQLite compares the text it stores (`…:05` or `…:05.000`): the key
        // keeps that text, so that the next page starts exactly after it
        // whatever the precision (a re-formatted time would skip ties).
        Kind::Time if db.backend() == crate::db::Backend::Sqlite => match r.opt_text(i) {
            Ok(t) => SortValue::Text(t),
            Err(_) => SortValue::Time(r.opt_time(i).map_err(d)?),
        },
        Kind::Time => SortValue::Time(r.opt_time(i).map_err(d)?),
        // Accounts select their amounts as `money_cmp` (cents on SQLite).
        Kind::Money if view == View::Accounts => SortValue::Amount(r.opt_money_agg(i).map_err(d)?),
        Kind::Money => SortValue::Amount(r.opt_money(i).map_err(d)?),
    };
    Ok(RowKey { id, value })
}

/// Whether the backend sorts NULL below every value (SQLite, MySQL) rather
/// than above (PostgreSQL).
fn nulls_low(db: &Db) -> bool {
    db.backend() != crate::db::Backend::Postgres
}

/// Fetches one page of `limit` rows (at most 1,000).
///
/// Keyset paging: the page after a row is `WHERE (sort, id) > (its sort, its
/// id) ORDER BY sort, id LIMIT n`, which an index on the sort column answers
/// without reading the rows before it. NULL sort values stand where the
/// backend puts them (first ascending on SQLite and MySQL, last on
/// PostgreSQL), so that a plain index on the column serves every page.
pub async fn page(
    db: &Db,
    view: View,
    filter: &Filter,
    sort: Sort,
    cursor: &Cursor,
    limit: u32,
) -> Result<Page, DbError> {
    let limit = limit.clamp(1, 1000);
    // Accounts without the "mismatched only" filter get their expected
    // balances per page (below), not from a GROUP BY over every flow.
    let light_accounts = view == View::Accounts && !filter.mismatched_only;
    let mut p = views::parts(db, view, filter)?;
    if light_accounts {
        let (a, fz) = (db.money_cmp("t.amount"), db.money_cmp("t.freeze_amount"));
        p.head = format!(
            "SELECT t.user_id, {a}, NULL, {fz}, NULL, NULL, t.version, t.update_time FROM user_account t"
        );
    }
    let expr = sort_expr(db, view, sort.col)?;
    let id = view.id_col();
    // Walking backwards (the last page, the page before) reads in the
    // opposite order and reverses the rows afterwards.
    let backwards = matches!(cursor, Cursor::Last | Cursor::Before(_));
    let desc = sort.desc != backwards;
    let (op, dir) = if desc { ("<", "DESC") } else { (">", "ASC") };
    let mut args = p.args;
    let mut filter_sql = p.filter;
    if let Cursor::After(k) | Cursor::Before(k) = cursor {
        match (&k.value, sort.col) {
            (_, SortCol::Id) | (SortValue::None, _) => {
                filter_sql.push_str(&format!(" AND {id} {op} ?"));
                args.push(Arg::from(k.id));
            }
            (v, _) => {
                let is_null = v.is_null();
                // NULL never compares, so where NULLs stand is spelled out: the
                // backend's own order (lowest on SQLite/MySQL, highest on
                // PostgreSQL), which lets the column's index serve the page.
                let nulls_first = nulls_low(db) != desc;
                let cond = match (is_null, nulls_first) {
                    (true, true) => {
                        format!(" AND (({expr} IS NULL AND {id} {op} ?) OR {expr} IS NOT NULL)")
                    }
                    (true, false) => format!(" AND ({expr} IS NULL AND {id} {op} ?)"),
                    (false, true) => {
                        format!(" AND ({expr} {op} ? OR ({expr} = ? AND {id} {op} ?))")
                    }
                    (false, false) => format!(
                        " AND ({expr} {op} ? OR ({expr} = ? AND {id} {op} ?) OR {expr} IS NULL)"
                    ),
                };
                filter_sql.push_str(&cond);
                if !is_null {
                    let a = value_arg(db, v)?;
                    args.push(a.clone());
                    args.push(a);
                }
                args.push(Arg::from(k.id));
            }
        }
    }
    let order = match sort.col {
        SortCol::Id => format!("{id} {dir}"),
        _ => format!("{expr} {dir}, {id} {dir}"),
    };
    let sql = format!(
        "{}{} ORDER BY {order} LIMIT {}",
        p.head,
        filter_sql,
        limit + 1
    );
    let mut raw = db.fetch_all(&sql, &args).await?;
    let more = raw.len() > limit as usize;
    raw.truncate(limit as usize);
    if backwards {
        raw.reverse();
    }
    let mut keys = Vec::with_capacity(raw.len());
    for r in &raw {
        keys.push(read_key(db, view, sort.col, r)?);
    }
    let rows = if light_accounts {
        account_rows(db, &raw).await?
    } else {
        raw.iter()
            .map(|r| views::format_row(db, view, r))
            .collect::<Result<Vec<_>, _>>()?
    };
    let (has_prev, has_next) = match cursor {
        Cursor::First => (false, more),
        Cursor::Last => (more, false),
        Cursor::After(_) => (true, more),
        Cursor::Before(_) => (more, true),
    };
    Ok(Page {
        rows,
        keys,
        has_prev,
        has_next,
    })
}

/// Accounts of one page with their expected balances: one aggregate over
/// just these users' flows (the user_id index), not over the whole table.
async fn account_rows(db: &Db, raw: &[Row]) -> Result<Vec<Vec<String>>, DbError> {
    let d = |e| db.decode("user_account", e);
    let mut ids = Vec::with_capacity(raw.len());
    for r in raw {
        ids.push(r.i64(0).map_err(d)?);
    }
    let mut expected: HashMap<i64, (Decimal, Decimal, i64)> = HashMap::new();
    if !ids.is_empty() {
        let da = crate::recon::checks::effect_sum(db, false);
        let df = crate::recon::checks::effect_sum(db, true);
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT user_id, {da}, {df}, COUNT(*) FROM trans_flow WHERE is_deleted = 0 AND user_id IN ({marks}) GROUP BY user_id"
        );
        let args: Vec<Arg> = ids.iter().map(|i| Arg::from(*i)).collect();
        for r in db.fetch_all(&sql, &args).await? {
            let dt = |e| db.decode("trans_flow", e);
            expected.insert(
                r.i64(0).map_err(dt)?,
                (
                    r.opt_money_agg(1).map_err(dt)?.unwrap_or_default(),
                    r.opt_money_agg(2).map_err(dt)?.unwrap_or_default(),
                    r.opt_i64(3).map_err(dt)?.unwrap_or(0),
                ),
            );
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let uid = r.i64(0).map_err(d)?;
        let a = r.opt_money_agg(1).map_err(d)?.unwrap_or_default();
        let f = r.opt_money_agg(3).map_err(d)?.unwrap_or_default();
        let (ea, ef, n) = expected.get(&uid).copied().unwrap_or_default();
        out.push(views::account_cells(
            Some(uid),
            (a, ea),
            (f, ef),
            n,
            r.opt_i64(6).map_err(d)?,
            r.opt_time(7).map_err(d)?,
        ));
    }
    Ok(out)
}

/// How many rows match the filter (a separate, cancellable query: on a large
/// table the console shows the page first and the count when it arrives).
pub async fn count(db: &Db, view: View, filter: &Filter) -> Result<u64, DbError> {
    let p = views::parts(db, view, filter)?;
    let from = if view == View::Accounts && !filter.mismatched_only {
        "SELECT COUNT(*) FROM user_account t".to_owned()
    } else {
        // Everything after SELECT's column list.
        match p.head.find(" FROM ") {
            Some(i) => format!("SELECT COUNT(*){}", &p.head[i..]),
            None => return Err(DbError::State("view query without FROM".into())),
        }
    };
    let sql = format!("{from}{}", p.filter);
    let row = db.fetch_optional(&sql, &p.args).await?;
    let n = row
        .map(|r| r.opt_i64(0))
        .transpose()
        .map_err(|e| db.decode(view.table(), e))?
        .flatten()
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The totals of the filtered rows: how many, and the sum of their amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Matching rows.
    pub count: u64,
    /// Σ of the view's amount column (`None` for a view without amounts:
    /// idempotency records). Exact: summed by the database in cents or DECIMAL.
    pub amount: Option<Decimal>,
}

/// The filtered rows' count and Σ amount, computed by the database (a
/// separate query, like [`count`]: on a large table it reads every matching
/// row, so the console runs it beside the page and drops a stale answer).
pub async fn totals(db: &Db, view: View, filter: &Filter) -> Result<Totals, DbError> {
    let p = views::parts(db, view, filter)?;
    let sum = view
        .amount_col()
        .map(|c| format!(", {}", db.money_sum(c)))
        .unwrap_or_default();
    let from = if view == View::Accounts && !filter.mismatched_only {
        " FROM user_account t".to_owned()
    } else {
        match p.head.find(" FROM ") {
            Some(i) => p.head[i..].to_owned(),
            None => return Err(DbError::State("view query without FROM".into())),
        }
    };
    let sql = format!("SELECT COUNT(*){sum}{from}{}", p.filter);
    let row = db.fetch_optional(&sql, &p.args).await?;
    let d = |e| db.decode(view.table(), e);
    let (n, amount) = match row {
        Some(r) => {
            let n = r.opt_i64(0).map_err(d)?.unwrap_or(0);
            let a = if view.amount_col().is_some() {
                Some(r.opt_money_agg(1).map_err(d)?.unwrap_or_default())
            } else {
                None
            };
            (n, a)
        }
        None => (0, view.amount_col().map(|_| Decimal::ZERO)),
    };
    Ok(Totals {
        count: u64::try_from(n).unwrap_or(0),
        amount,
    })
}

/// Accounts: inserts each row's user name and mobile (from `user_info`)
/// after the user id, so that the rows follow [`columns`]. A database
/// without `user_info` (or without those columns) leaves them empty rather
/// than failing. Other views are left as they are.
pub async fn with_user_names(
    db: &Db,
    schema: &SchemaReport,
    view: View,
    page: &mut Page,
) -> Result<(), DbError> {
    if view != View::Accounts {
        return Ok(());
    }
    let mut names: HashMap<i64, (String, String)> = HashMap::new();
    let has = |c| schema.has_column("user_info", c);
    if schema.has_table("user_info") && has("id") && !page.keys.is_empty() {
        let name = if has("name") { "name" } else { "NULL" };
        let mobile = if has("mobile") { "mobile" } else { "NULL" };
        let marks = vec!["?"; page.keys.len()].join(", ");
        let sql = format!("SELECT id, {name}, {mobile} FROM user_info WHERE id IN ({marks})");
        let args: Vec<Arg> = page.keys.iter().map(|k| Arg::from(k.id)).collect();
        for r in db.fetch_all(&sql, &args).await? {
            let d = |e| db.decode("user_info", e);
            names.insert(
                r.i64(0).map_err(d)?,
                (
                    r.opt_text(1).map_err(d)?.unwrap_or_default(),
                    r.opt_text(2).map_err(d)?.unwrap_or_default(),
                ),
            );
        }
    }
    for (row, key) in page.rows.iter_mut().zip(&page.keys) {
        let (n, m) = names.remove(&key.id).unwrap_or_default();
        let at = 1.min(row.len());
        row.insert(at, m);
        row.insert(at, n);
    }
    Ok(())
}
