//! `payrecon migrate`: the contract tables of SPEC §3 as sqlx migrations.

use super::{Db, DbError, DbResult, Pool, schema};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static MYSQL: sqlx::migrate::Migrator = sqlx::migrate!("migrations/mysql");

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Contract tables that did not exist before and were created.
    pub created: Vec<&'static str>,
    /// Contract tables that already existed and were left as they were.
    pub kept: Vec<&'static str>,
}

/// Creates every missing contract table; existing tables are never altered.
pub async fn migrate(db: &Db) -> DbResult<MigrateReport> {
    let before = schema::discover(db).await?;
    let r = match &db.pool {
        Pool::Sqlite(p) => SQLITE.run(p).await,
        Pool::Postgres(p) => POSTGRES.run(p).await,
        Pool::MySql(p) => {
            mysql_in_srb_collation(db).await?;
            MYSQL.run(p).await
        }
    };
    r.map_err(|e| DbError::Migrate {
        target: db.url.target(),
        reason: super::redact(&e.to_string()),
    })?;
    let (kept, created) = schema::CONTRACT_TABLES
        .iter()
        .partition(|t| before.has_table(t));
    Ok(MigrateReport { created, kept })
}

/// The MySQL migration's text (the file `MYSQL` embeds).
const MYSQL_SQL: &str = include_str!("../../migrations/mysql/0001_contract.sql");

/// MySQL: creates the missing contract tables the way the migration does,
/// except that payrecon's own tables take the character set and collation
/// of the database's `trans_flow.trans_no` — discovered, not assumed (srb's
/// dump says `utf8`, another database may say anything). Otherwise MySQL
/// compares `agent_bill_no` with `trans_no` by converting the indexed side
/// and scans `trans_flow` once per order. The migrator then runs over
/// tables that all exist, and records itself as ever.
async fn mysql_in_srb_collation(db: &Db) -> DbResult<()> {
    let statements: Vec<&str> = MYSQL_SQL
        .split(";\n")
        .map(str::trim)
        .filter(|s| s.contains("CREATE TABLE"))
        .collect();
    let is_srb = |stmt: &str| {
        schema::SRB_TABLES
            .iter()
            .any(|t| stmt.contains(&format!("CREATE TABLE IF NOT EXISTS `{t}`")))
    };
    for stmt in statements.iter().filter(|s| is_srb(s)) {
        db.execute(stmt, &[]).await?;
    }
    let row = db
        .fetch_optional(
            "SELECT CAST(character_set_name AS CHAR), CAST(collation_name AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE() \
               AND table_name = 'trans_flow' AND column_name = 'trans_no'",
            &[],
        )
        .await?;
    let d = |e| db.decode("information_schema", e);
    let named =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let charset = match row {
        Some(r) => {
            let (cs, coll) = (r.opt_text(0).map_err(d)?, r.opt_text(1).map_err(d)?);
            match (cs, coll) {
                (Some(cs), Some(coll)) if named(&cs) && named(&coll) => {
                    format!("CHARACTER SET = {cs} COLLATE = {coll}")
                }
                _ => return Err(DbError::Schema(
                    "trans_flow.trans_no is not a text column with a collation: payrecon's tables cannot be laid out beside it".into(),
                )),
            }
        }
        None => {
            return Err(DbError::Schema(
                "trans_flow has no trans_no column: it is not srb's trans_flow (SPEC §3)".into(),
            ));
        }
    };
    for stmt in statements.iter().filter(|s| !is_srb(s)) {
        let laid_out = stmt.replace("CHARACTER SET = utf8mb4", &charset);
        db.execute(&laid_out, &[]).await?;
    }
    Ok(())
}
