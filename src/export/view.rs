//! Exporting a view of the payment database to CSV, as fast as the backend allows.
//!
//! Three ways, one output: the generic path formats each sqlx row with
//! [`views::format_row`]; on SQLite a synchronous reader formats borrowed
//! values straight into the CSV writer (no channel hop, no `String` per cell);
//! on PostgreSQL an unfiltered `flows` export lets the server write the CSV
//! with `COPY … TO STDOUT (FORMAT csv)`, formatted in SQL exactly as payrecon
//! writes it. Tests compare the fast paths byte for byte with the generic one.

use super::CsvFile;
use crate::db::sqlite_read::{self, SqliteReader};
use crate::db::{Arg, Backend, Db, DbError};
use crate::model::{OrderStatus, TransType};
use crate::views::{self, Filter, View};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed, or a value could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The file could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Streams `view` with `filter` into `file` (its header already written),
/// finishes the file and returns the rows written.
pub async fn write_view(
    db: &Db,
    view: View,
    filter: &Filter,
    file: CsvFile,
) -> Result<u64, ExportError> {
    let (sql, args) = views::select(db, view, filter)?;
    if let Some(cells) = sqlite_cells(view)
        && db.backend() == Backend::Sqlite
    {
        let table = view.table();
        let work = move |r: &SqliteReader| sqlite_export(r, &sql, &args, cells, table, file);
        if let Some(r) = db.with_sqlite_reader(work).await {
            return r;
        }
        return Err(ExportError::Db(DbError::State(
            "not an SQLite database".into(),
        )));
    }
    if view == View::Flows && args.is_empty() && db.backend() == Backend::Postgres {
        let mut file = file;
        if postgres_copy_flows(db, &mut file).await?.is_some() {
            return Ok(file.finish()?);
        }
        return generic(db, view, &sql, &args, file).await;
    }
    generic(db, view, &sql, &args, file).await
}

async fn generic(
    db: &Db,
    view: View,
    sql: &str,
    args: &[Arg],
    mut file: CsvFile,
) -> Result<u64, ExportError> {
    db.for_each_row(sql, args, |row| -> Result<bool, ExportError> {
        let cells = views::format_row(db, view, &row)?;
        file.row(cells)?;
        Ok(true)
    })
    .await?;
    Ok(file.finish()?)
}

/// How one output cell is made from the row of [`views::select`].
#[derive(Debug, Clone, Copy)]
enum Cell {
    Int(usize),
    Text(usize),
    /// Text without surrounding spaces (a `CHAR(64)` hash).
    Trim(usize),
    Money(usize),
    /// A time, with milliseconds or not.
    Time(usize, bool),
    /// The stored type name, else the name of the type code in the other column.
    TypeName(usize, usize),
    /// The Chinese name of the order status in the column (`?` if unknown).
    StatusName(usize),
}

/// The cells of each view as [`views::format_row`] makes them; `None` where
/// the generic path is used (accounts: computed differences).
fn sqlite_cells(view: View) -> Option<&'static [Cell]> {
    use Cell::*;
    Some(match view {
        View::Flows => &[
            Int(0),
            Int(1),
            Text(2),
            Text(3),
            Int(4),
            TypeName(5, 4),
            Money(6),
            Text(7),
            Time(8, false),
            Int(9),
        ],
        View::Orders => &[
            Int(0),
            Text(1),
            Int(2),
            Text(3),
            Money(4),
            Money(5),
            Int(6),
            StatusName(6),
            Int(7),
            Time(8, true),
            Time(9, true),
        ],
        View::Notify => &[
            Int(0),
            Text(1),
            Text(2),
            Money(3),
            Text(4),
            Int(5),
            Text(6),
            Text(7),
            Time(8, true),
            Int(9),
        ],
        View::Idempotency => &[
            Int(0),
            Text(1),
            Text(2),
            Trim(3),
            Text(4),
            Text(5),
            Time(6, true),
            Time(7, true),
            Time(8, true),
            Time(9, true),
        ],
        View::Accounts => return None,
    })
}

/// Appends cents as `123.45` / `-0.50`: [`crate::money::format_amount`]'s text.
pub(crate) fn push_cents(out: &mut String, c: i64) {
    use std::fmt::Write as _;
    let a = c.unsigned_abs();
    let sign = if c < 0 { "-" } else { "" };
    let _ = write!(out, "{sign}{}.{:02}", a / 100, a % 100);
}

fn sqlite_export(
    r: &SqliteReader,
    sql: &str,
    args: &[Arg],
    cells: &'static [Cell],
    table: &'static str,
    mut file: CsvFile,
) -> Result<u64, ExportError> {
    use std::fmt::Write as _;
    let dec = |e| {
        ExportError::Db(DbError::Decode {
            table: table.to_owned(),
            source: e,
        })
    };
    let mut s = String::with_capacity(256);
    r.for_each(sql, args, |row| -> Result<bool, ExportError> {
        for cell in cells {
            s.clear();
            let col = |i: usize| -> Result<rusqlite::types::ValueRef<'_>, ExportError> {
                sqlite_read::value(row, i, column_name(row, i)).map_err(dec)
            };
            let name = |i: usize| column_name(row, i);
            match *cell {
                Cell::Int(i) => {
                    if let Some(v) = sqlite_read::opt_i64(col(i)?, name(i)).map_err(dec)? {
                        let _ = write!(s, "{v}");
                    }
                }
                Cell::Text(i) => {
                    if let Some(t) = sqlite_read::opt_text(col(i)?, name(i)).map_err(dec)? {
                        s.push_str(&t);
                    }
                }
                Cell::Trim(i) => {
                    if let Some(t) = sqlite_read::opt_text(col(i)?, name(i)).map_err(dec)? {
                        s.push_str(t.trim());
                    }
                }
                Cell::Money(i) => {
                    if let Some(c) = sqlite_read::opt_cents(col(i)?, name(i)).map_err(dec)? {
                        push_cents(&mut s, c);
                    }
                }
                Cell::Time(i, ms) => {
                    if let Some(t) = sqlite_read::opt_time(col(i)?, name(i)).map_err(dec)? {
                        sqlite_read::push_time(&mut s, t, ms);
                    }
                }
                Cell::TypeName(i, code) => {
                    match sqlite_read::opt_text(col(i)?, name(i)).map_err(dec)? {
                        Some(t) => s.push_str(&t),
                        None => {
                            let tt = sqlite_read::opt_i64(col(code)?, name(code)).map_err(dec)?;
                            if let Some(t) = tt.and_then(TransType::from_code) {
                                s.push_str(t.name_zh());
                            }
                        }
                    }
                }
                Cell::StatusName(i) => {
                    let st = sqlite_read::opt_i64(col(i)?, name(i)).map_err(dec)?;
                    s.push_str(
                        st.and_then(OrderStatus::from_code)
                            .map(|o| o.name_zh())
                            .unwrap_or("?"),
                    );
                }
            }
            file.field(&s)?;
        }
        file.end_row()?;
        Ok(true)
    })?;
    Ok(file.finish()?)
}

fn column_name<'a>(row: &'a rusqlite::Row<'_>, i: usize) -> &'a str {
    row.as_ref().column_name(i).unwrap_or("?")
}

/// `x`, neutralised for a spreadsheet exactly as [`super::neutralize`] does
/// (a leading `= + - @ TAB CR` gets a `'` unless the cell is a plain number),
/// and an empty text as NULL: COPY would quote an empty string, payrecon does not.
/// `ascii()` (code of the first character: `= + - @ TAB CR`) is an integer
/// test; `left(x, 1) IN (…)` built a text per cell and cost the server ~25% more.
fn pg_neutral(x: &str) -> String {
    format!(
        "NULLIF(CASE WHEN ascii({x}) IN (61, 43, 45, 64, 9, 13) \
         AND {x} !~ '^[-+]?[0-9]+([.][0-9]+)?$' THEN '''' || {x} ELSE {x} END, '')"
    )
}

/// The unfiltered flows export through `COPY`, when the table's column types
/// let SQL format every cell as payrecon does (amounts NUMERIC with scale 2,
/// integer codes, timestamps); `None` when they do not, for the generic path.
async fn postgres_copy_flows(db: &Db, file: &mut CsvFile) -> Result<Option<u64>, ExportError> {
    let types = db
        .fetch_all(
            "SELECT column_name::text, data_type::text, COALESCE(numeric_scale, -1)::bigint \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'trans_flow'",
            &[],
        )
        .await?;
    let mut ok = 0;
    for r in &types {
        let d = |e| db.decode("information_schema.columns", e);
        let (col, ty, scale) = (
            r.text(0).map_err(d)?,
            r.text(1).map_err(d)?,
            r.i64(2).map_err(d)?,
        );
        let fits = match col.as_str() {
            "id" | "user_id" | "trans_type" | "is_deleted" => {
                matches!(ty.as_str(), "smallint" | "integer" | "bigint")
            }
            "user_name" | "trans_no" | "trans_type_name" | "memo" => {
                matches!(ty.as_str(), "character varying" | "text" | "character")
            }
            "trans_amount" => ty == "numeric" && scale == 2,
            "create_time" => ty.starts_with("timestamp"),
            _ => continue,
        };
        if !fits {
            return Ok(None);
        }
        ok += 1;
    }
    if ok != 10 {
        return Ok(None);
    }
    let mut names = String::from("CASE t.trans_type");
    for t in TransType::ALL {
        names.push_str(&format!(
            " WHEN {} THEN '{}'",
            t.code(),
            t.name_zh().replace('\'', "''")
        ));
    }
    names.push_str(" END");
    let sql = format!(
        "COPY (SELECT t.id, t.user_id, {}, {}, t.trans_type, {}, t.trans_amount, {}, \
         to_char(t.create_time, 'YYYY-MM-DD HH24:MI:SS'), t.is_deleted \
         FROM trans_flow t ORDER BY t.id) TO STDOUT (FORMAT csv)",
        pg_neutral("t.user_name"),
        pg_neutral("t.trans_no"),
        pg_neutral(&format!("COALESCE(t.trans_type_name, {names})")),
        pg_neutral("t.memo"),
    );
    db.copy_out(&sql, |chunk, rows| -> Result<(), ExportError> {
        Ok(file.raw(chunk, rows)?)
    })
    .await
    .map(Some)
}
