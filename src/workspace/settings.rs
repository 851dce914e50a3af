//! Per-workspace settings: the operator's name.

use super::{Result, Workspace, audit};

/// The settings key of the operator's name.
const OPERATOR: &str = "operator";

impl Workspace {
    /// The operator's name saved in this workspace, if one was given.
    pub async fn operator(&self) -> Result<Option<String>> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(OPERATOR)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
    }

    /// Saves the operator's name (trimmed; passwords stripped like every
    /// stored text) and records the change in the audit log.
    pub async fn set_operator(&self, name: &str) -> Result<()> {
        let name = super::strip_passwords(name.trim());
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(OPERATOR)
        .bind(&name)
        .execute(&mut *tx)
        .await?;
        audit::append_in(
            &mut tx,
            self.now(),
            &name,
            "set_operator",
            &serde_json::json!({ "operator": name }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The name to record an action under: the saved operator, else
    /// [`super::current_operator`] (the environment's user).
    pub async fn operator_or_env(&self) -> Result<String> {
        Ok(self
            .operator()
            .await?
            .unwrap_or_else(super::current_operator))
    }
}
