//! Recent connections, most recent first, never with a password.

use super::redact::strip_passwords;
use super::{Result, Workspace, fmt_time, parse_time};
use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::Row;

/// How many connections are remembered.
pub const MAX_RECENT_CONNECTIONS: i64 = 20;

/// A remembered connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentConnection {
    /// The URL as shown (password-free).
    pub url: String,
    /// `sqlite`, `postgres` or `mysql`.
    pub backend: String,
    /// When it was last used.
    pub last_used: NaiveDateTime,
    /// How often it was used.
    pub uses: i64,
}

impl Workspace {
    /// Remembers a connection as the most recent one, keeping the
    /// [`MAX_RECENT_CONNECTIONS`] most recent. Anything password-like in
    /// `url_display` is masked first (`user:secret@` → `user:***@`), though
    /// callers should pass redacted URLs anyway. Empty text is ignored.
    pub async fn remember_connection(&self, url_display: &str, backend: &str) -> Result<()> {
        let url = strip_passwords(url_display.trim());
        if url.is_empty() {
            return Ok(());
        }
        let backend = strip_passwords(backend.trim());
        let at = fmt_time(self.now());
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO recent_connections (url, backend, last_used, uses, used_seq) \
             VALUES (?, ?, ?, 1, (SELECT COALESCE(MAX(used_seq), 0) + 1 FROM recent_connections)) \
             ON CONFLICT (url) DO UPDATE SET backend = excluded.backend, \
             last_used = excluded.last_used, uses = uses + 1, used_seq = excluded.used_seq",
        )
        .bind(&url)
        .bind(&backend)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM recent_connections WHERE url NOT IN \
             (SELECT url FROM recent_connections ORDER BY used_seq DESC LIMIT ?)",
        )
        .bind(MAX_RECENT_CONNECTIONS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets one remembered connection (as listed).
    pub async fn forget_connection(&self, url: &str) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query("DELETE FROM recent_connections WHERE url = ?")
            .bind(url)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The remembered connections, most recent first.
    pub async fn recent_connections(&self) -> Result<Vec<RecentConnection>> {
        let rows = sqlx::query(
            "SELECT url, backend, last_used, uses FROM recent_connections \
             ORDER BY used_seq DESC LIMIT ?",
        )
        .bind(MAX_RECENT_CONNECTIONS)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RecentConnection {
                    // Masked again in case an older file holds one.
                    url: strip_passwords(&r.try_get::<String, _>("url")?),
                    backend: r.try_get("backend")?,
                    last_used: parse_time(&r.try_get::<String, _>("last_used")?)?,
                    uses: r.try_get("uses")?,
                })
            })
            .collect()
    }
}
