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
        Pool::MySql(p) => MYSQL.run(p).await,
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
