//! Schema discovery: which contract tables, columns and indexes a database has.
//!
//! payrecon attaches to databases it did not create (an unmodified srb dump, a
//! legacy layout without `uk_trans_no`), so it looks instead of assuming.

use super::{Backend, Db, DbResult};
use std::collections::{BTreeMap, BTreeSet};

/// srb's own tables that payrecon reads.
pub const SRB_TABLES: [&str; 3] = ["user_info", "user_account", "trans_flow"];
/// Tables the seeds describe and srb lacks.
pub const PAYRECON_TABLES: [&str; 3] = ["recharge_order", "notify_log", "idempotency_record"];
/// All contract tables of SPEC §3.
pub const CONTRACT_TABLES: [&str; 6] = [
    "user_info",
    "user_account",
    "trans_flow",
    "recharge_order",
    "notify_log",
    "idempotency_record",
];

/// One index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexInfo {
    /// Index name.
    pub name: String,
    /// Unique?
    pub unique: bool,
    /// Columns in order.
    pub columns: Vec<String>,
}

/// What a database has.
#[derive(Debug, Clone, Default)]
pub struct SchemaReport {
    /// Contract tables found, with their columns (lower-case).
    pub tables: BTreeMap<String, BTreeSet<String>>,
    /// Whether `trans_flow.trans_no` has a unique index (`uk_trans_no` or any other name).
    pub trans_no_unique: bool,
    /// Indexes of `trans_flow`.
    pub trans_flow_indexes: Vec<IndexInfo>,
    /// MySQL: the character set and collation of the text columns that the
    /// checks compare across tables (the bills `trans_flow.trans_no`,
    /// `recharge_order.agent_bill_no`, `notify_log.agent_bill_no`,
    /// `idempotency_record.seq`, and the orders' and callbacks' `bind_code`),
    /// keyed `table.column`.
    pub text_collations: BTreeMap<String, Collation>,
}

/// A text column's character set and collation (MySQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collation {
    /// e.g. `utf8mb3`.
    pub charset: String,
    /// e.g. `utf8mb3_general_ci`.
    pub collation: String,
}

/// The text columns whose collations [`SchemaReport::text_cmp`] reconciles.
const COMPARED_TEXT: [(&str, &str); 6] = [
    ("trans_flow", "trans_no"),
    ("recharge_order", "agent_bill_no"),
    ("notify_log", "agent_bill_no"),
    ("idempotency_record", "seq"),
    ("recharge_order", "bind_code"),
    ("notify_log", "bind_code"),
];

/// A charset or collation name as it may be spliced into SQL.
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl SchemaReport {
    /// Whether a table exists.
    pub fn has_table(&self, t: &str) -> bool {
        self.tables.contains_key(t)
    }

    /// Whether a table has a column.
    pub fn has_column(&self, t: &str, c: &str) -> bool {
        self.tables.get(t).is_some_and(|cols| cols.contains(c))
    }

    /// `indexed = other` for two bill columns given as (table, column, SQL
    /// expression), written so that the index on `indexed` serves the
    /// comparison ([`Self::text_cmp`]).
    pub fn bill_eq(&self, indexed: (&str, &str, &str), other: (&str, &str, &str)) -> String {
        self.text_cmp(indexed, "=", other)
    }

    /// `first op other` for two text columns given as (table, column, SQL
    /// expression). On MySQL, when the columns' collations differ, `other`
    /// is converted into `first`'s character set and collation: otherwise
    /// MySQL either converts the `first` side (srb's `utf8` beside a
    /// `utf8mb4` table: its index cannot serve, and the table is scanned
    /// once per row) or refuses the comparison outright (two collations of
    /// one character set: "Illegal mix of collations"). Bills and bind codes
    /// are ASCII, so the conversion loses nothing.
    pub fn text_cmp(
        &self,
        first: (&str, &str, &str),
        op: &str,
        other: (&str, &str, &str),
    ) -> String {
        let key = |t: &str, c: &str| format!("{t}.{c}");
        let (ft, fc, fe) = first;
        let (ot, oc, oe) = other;
        match (
            self.text_collations.get(&key(ft, fc)),
            self.text_collations.get(&key(ot, oc)),
        ) {
            (Some(f), Some(o)) if f != o => {
                format!(
                    "{fe} {op} CONVERT({oe} USING {}) COLLATE {}",
                    f.charset, f.collation
                )
            }
            _ => format!("{fe} {op} {oe}"),
        }
    }

    /// Contract tables that are missing.
    pub fn missing_tables(&self) -> Vec<&'static str> {
        CONTRACT_TABLES
            .iter()
            .copied()
            .filter(|t| !self.has_table(t))
            .collect()
    }

    /// Whether srb's own tables are all there.
    pub fn has_srb_tables(&self) -> bool {
        SRB_TABLES.iter().all(|t| self.has_table(t))
    }

    /// One line per fact, for the CLI and the Connect screen.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in CONTRACT_TABLES {
            match self.tables.get(t) {
                Some(cols) => out.push(format!("{t}: present ({} columns)", cols.len())),
                None => out.push(format!("{t}: MISSING")),
            }
        }
        if self.has_table("trans_flow") {
            out.push(if self.trans_no_unique {
                "trans_flow.trans_no: unique index present (duplicate credits are refused)".into()
            } else {
                "trans_flow.trans_no: NO unique index — concurrent callbacks can credit twice"
                    .into()
            });
        }
        out
    }
}

/// Looks at the database.
pub async fn discover(db: &Db) -> DbResult<SchemaReport> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table'"
        }
        Backend::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema()"
        }
        Backend::MySql => {
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE()"
        }
    };
    let mut report = SchemaReport::default();
    for row in db.fetch_all(sql, &[]).await? {
        let t = row
            .text(0)
            .map_err(|e| db.decode("schema", e))?
            .to_lowercase();
        let c = row
            .text(1)
            .map_err(|e| db.decode("schema", e))?
            .to_lowercase();
        if CONTRACT_TABLES.contains(&t.as_str()) {
            report.tables.entry(t).or_default().insert(c);
        }
    }
    if db.backend() == Backend::MySql {
        report.text_collations = text_collations(db).await?;
    }
    if report.has_table("trans_flow") {
        report.trans_flow_indexes = indexes(db, "trans_flow").await?;
        report.trans_no_unique = report
            .trans_flow_indexes
            .iter()
            .any(|i| i.unique && i.columns == ["trans_no"]);
    }
    Ok(report)
}

/// MySQL: the compared text columns' character sets and collations.
async fn text_collations(db: &Db) -> DbResult<BTreeMap<String, Collation>> {
    let mut out = BTreeMap::new();
    let rows = db
        .fetch_all(
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), \
                    CAST(character_set_name AS CHAR), CAST(collation_name AS CHAR) \
             FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND collation_name IS NOT NULL",
            &[],
        )
        .await?;
    for r in rows {
        let d = |e| db.decode("schema", e);
        let (t, c) = (
            r.text(0).map_err(d)?.to_lowercase(),
            r.text(1).map_err(d)?.to_lowercase(),
        );
        if !COMPARED_TEXT.contains(&(t.as_str(), c.as_str())) {
            continue;
        }
        let (charset, collation) = (r.text(2).map_err(d)?, r.text(3).map_err(d)?);
        if is_name(&charset) && is_name(&collation) {
            out.insert(format!("{t}.{c}"), Collation { charset, collation });
        }
    }
    Ok(out)
}

/// The indexes of one table.
pub async fn indexes(db: &Db, table: &str) -> DbResult<Vec<IndexInfo>> {
    let mut out: Vec<IndexInfo> = Vec::new();
    match db.backend() {
        Backend::Sqlite => {
            let rows = db
                .fetch_all(
                    "SELECT il.name, il.\"unique\", ii.name FROM pragma_index_list(?) il \
                     JOIN pragma_index_info(il.name) ii ORDER BY il.name, ii.seqno",
                    &crate::args![table],
                )
                .await?;
            for r in rows {
                let name = r.text(0).map_err(|e| db.decode("schema", e))?;
                let unique = r.i64(1).map_err(|e| db.decode("schema", e))? != 0;
                let col = r.text(2).map_err(|e| db.decode("schema", e))?;
                push_col(&mut out, name, unique, col);
            }
        }
        Backend::Postgres => {
            let rows = db
                .fetch_all(
                    "SELECT indexname::text, indexdef FROM pg_indexes \
                     WHERE schemaname = current_schema() AND tablename = ?",
                    &crate::args![table],
                )
                .await?;
            for r in rows {
                let name = r.text(0).map_err(|e| db.decode("schema", e))?;
                let def = r.text(1).map_err(|e| db.decode("schema", e))?;
                // e.g. CREATE UNIQUE INDEX uk_trans_no ON public.trans_flow USING btree (trans_no)
                let unique = def.starts_with("CREATE UNIQUE");
                let cols = def
                    .rsplit_once('(')
                    .map(|(_, c)| c.trim_end_matches(')'))
                    .unwrap_or_default();
                let columns = cols
                    .split(',')
                    .map(|c| c.trim().trim_matches('"').to_lowercase())
                    .collect();
                out.push(IndexInfo {
                    name,
                    unique,
                    columns,
                });
            }
        }
        Backend::MySql => {
            let rows = db
                .fetch_all(
                    "SELECT CAST(index_name AS CHAR), non_unique, CAST(column_name AS CHAR) \
                     FROM information_schema.statistics \
                     WHERE table_schema = DATABASE() AND table_name = ? \
                     ORDER BY index_name, seq_in_index",
                    &crate::args![table],
                )
                .await?;
            for r in rows {
                let name = r.text(0).map_err(|e| db.decode("schema", e))?;
                let unique = r.i64(1).map_err(|e| db.decode("schema", e))? == 0;
                let col = r.text(2).map_err(|e| db.decode("schema", e))?;
                push_col(&mut out, name, unique, col);
            }
        }
    }
    Ok(out)
}

fn push_col(out: &mut Vec<IndexInfo>, name: String, unique: bool, col: String) {
    match out.last_mut() {
        Some(last) if last.name == name => last.columns.push(col.to_lowercase()),
        _ => out.push(IndexInfo {
            name,
            unique,
            columns: vec![col.to_lowercase()],
        }),
    }
}

/// Creates srb's `trans_flow` as a legacy database has it: without `uk_trans_no`.
///
/// For the demo and for tests that prove the race is real; a later
/// [`super::migrate`] keeps this table as it is.
pub async fn create_legacy_trans_flow(db: &Db) -> DbResult<()> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "CREATE TABLE trans_flow (id INTEGER PRIMARY KEY AUTOINCREMENT, \
             user_id INTEGER NOT NULL DEFAULT 0, user_name TEXT, trans_no TEXT NOT NULL DEFAULT '', \
             trans_type INTEGER NOT NULL DEFAULT 0, trans_type_name TEXT, trans_amount TEXT, memo TEXT, \
             create_time TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, update_time TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             is_deleted INTEGER NOT NULL DEFAULT 0)"
        }
        Backend::Postgres => {
            "CREATE TABLE trans_flow (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \
             user_id BIGINT NOT NULL DEFAULT 0, user_name VARCHAR(20), trans_no VARCHAR(30) NOT NULL DEFAULT '', \
             trans_type SMALLINT NOT NULL DEFAULT 0, trans_type_name VARCHAR(100), trans_amount NUMERIC(18,2), \
             memo VARCHAR(300), create_time TIMESTAMP(3) NOT NULL DEFAULT LOCALTIMESTAMP, \
             update_time TIMESTAMP(3) NOT NULL DEFAULT LOCALTIMESTAMP, is_deleted SMALLINT NOT NULL DEFAULT 0)"
        }
        Backend::MySql => {
            "CREATE TABLE `trans_flow` (`id` bigint(20) NOT NULL AUTO_INCREMENT, \
             `user_id` bigint(20) NOT NULL DEFAULT 0, `user_name` varchar(20) NULL, \
             `trans_no` varchar(30) NOT NULL DEFAULT '', `trans_type` tinyint(3) NOT NULL DEFAULT 0, \
             `trans_type_name` varchar(100) NULL, `trans_amount` decimal(10, 2) NULL, `memo` varchar(300) NULL, \
             `create_time` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0), \
             `update_time` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0), \
             `is_deleted` tinyint(1) NOT NULL DEFAULT 0, PRIMARY KEY (`id`), INDEX `idx_user_id`(`user_id`)) \
             ENGINE = InnoDB CHARACTER SET = utf8"
        }
    };
    db.execute(sql, &[]).await?;
    Ok(())
}
