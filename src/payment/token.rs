//! One-time tokens (令牌, SPEC §2): issued before a request, consumed once.
//!
//! The withdrawal path claims its token in its own committed step (as a Redis
//! `DEL` would), then does the work, then marks the record done — the
//! rocket-rides pattern. A worker that dies in between leaves the record
//! `processing` with an old `locked_at`: an `idempotency_stuck` finding.

use crate::args;
use crate::db::{Db, DbResult};
use crate::model::{IdempotencyStatus, SOURCE_TOKEN};
use chrono::NaiveDateTime;
use sha2::{Digest as _, Sha256};

/// Claims `token` for a request; `Ok(None)` when it was already used.
pub async fn claim(
    db: &Db,
    token: &str,
    request: &str,
    at: NaiveDateTime,
) -> DbResult<Option<i64>> {
    let hash = hex::encode(Sha256::digest(request.as_bytes()));
    let r = db
        .insert(
            "INSERT INTO idempotency_record (source, seq, request_hash, status, locked_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            &args![SOURCE_TOKEN, token, hash, IdempotencyStatus::Processing.as_str(), at, at],
        )
        .await;
    match r {
        Ok(id) => Ok(Some(id)),
        Err(e) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Marks a claimed token done.
pub async fn complete(db: &Db, id: i64, ok: bool, body: &str, at: NaiveDateTime) -> DbResult<()> {
    let status = if ok {
        IdempotencyStatus::Succeeded
    } else {
        IdempotencyStatus::Failed
    };
    db.execute(
        "UPDATE idempotency_record SET status = ?, response_body = ?, completed_at = ? WHERE id = ?",
        &args![status.as_str(), body, at, id],
    )
    .await?;
    Ok(())
}
