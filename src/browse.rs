//! Paging a view for the console (SPEC §6 tables, §9): keyset pages of a few
//! hundred rows, never an OFFSET and never the whole table, so that the first
//! page, the last page and a filtered page of a 10-million-row table each cost
//! one index range read.
//!
//! Sorting and filtering reach SQL as bound parameters through
//! [`crate::views`]' filter builder; a page is formatted with the same
//! [`crate::views::format_row`] the CSV export uses.

use crate::db::{Arg, Db, DbError, Row};
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

/// The column index of the sort value in a view's query.
fn value_index(view: View, col: SortCol) -> usize {
    match (view, col) {
        (_, SortCol::Id) => 0,
        (View::Flows | View::Orders | View::Notify, SortCol::Time) => 8,
        (View::Idempotency, SortCol::Time) => 7,
        (View::Accounts, SortCol::Time) => 7,
        (View::Flows, SortCol::Amount) => 6,
        (View::Orders, SortCol::Amount) => 4,
        (View::Notify, SortCol::Amount) => 3,
        (View::Accounts | View::Idempotency, SortCol::Amount) => 1,
    }
}

/// The SQL expression a sort compares.
fn sort_expr(db: &Db, view: View, col: SortCol) -> Result<String, DbError> {
    Ok(match col {
        SortCol::Id => view.id_col().to_owned(),
        SortCol::Time => view.time_col().to_owned(),
        SortCol::Amount => db.money_cmp(view.amount_col().ok_or_else(|| {
            DbError::State(format!("{} have no amount to sort by", view.table()))
        })?),
    })
}

fn value_arg(db: &Db, v: &SortValue) -> Result<Arg, DbError> {
    Ok(match v {
        SortValue::None => Arg::Int(None),
        SortValue::Time(t) => Arg::from(*t),
        SortValue::Amount(None) => Arg::Money(None),
        SortValue::Amount(Some(d)) => views::money_arg(db, *d)?,
    })
}

fn read_key(db: &Db, view: View, col: SortCol, r: &Row) -> Result<RowKey, DbError> {
    let d = |e| db.decode(view.table(), e);
    let id = r.i64(0).map_err(d)?;
    let i = value_index(view, col);
    let value = match col {
        SortCol::Id => SortValue::None,
        SortCol::Time => SortValue::Time(r.opt_time(i).map_err(d)?),
        SortCol::Amount => SortValue::Amount(r.opt_money(i).map_err(d)?),
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
                let is_null = matches!(v, SortValue::Time(None) | SortValue::Amount(None));
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
