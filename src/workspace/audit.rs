//! The hash-chained audit log (SPEC §8).
//!
//! Entry `n` stores `seq = n` (1, 2, 3, … without gaps), the time, operator,
//! action, parameters as canonical JSON, the previous entry's hash
//! (`prev_hash`, [`GENESIS_HASH`] for entry 1) and its own [`audit_hash`].
//! The `audit_head` row holds the entry count and the last hash, updated in
//! the same transaction as every append, so that removing the last entries
//! is detected too. Removing the last entries *and* rewriting the head to
//! match cannot be detected from inside the file: keep the head hash that
//! [`Workspace::verify_audit`] reports somewhere else to catch that.

use super::redact::redact_json;
use super::{Result, Workspace, WorkspaceError, fmt_time, parse_time};
use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Row, SqliteConnection};

/// `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation for the hash; a new encoding would get a new tag.
const HASH_TAG: &[u8] = b"payrecon-audit-v1";

/// Entries read per page by [`Workspace::verify_audit`].
const PAGE: i64 = 1000;

/// One audit log entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When (business-local, to the millisecond).
    pub at: NaiveDateTime,
    /// Who.
    pub operator: String,
    /// What: `reconcile`, `export`, `resolve`, `accept`, `acknowledge`, `reopen`, …
    pub action: String,
    /// The parameters as canonical JSON text (keys sorted, no spaces).
    pub params: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash (see [`audit_hash`]).
    pub hash: String,
}

/// The outcome of [`Workspace::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Entries in the log.
    pub entries: u64,
    /// Whether the chain and its head are intact.
    pub ok: bool,
    /// The first problem found, in words.
    pub problem: Option<String>,
    /// The hash the head records (note it elsewhere to detect a rewritten tail).
    pub head_hash: String,
}

/// The SHA-256 (lower-case hex) of one entry: over a tag and the six fields,
/// each prefixed by its length in bytes as a big-endian `u64`, so no two
/// different entries share an encoding. `at` is the stored text
/// (`YYYY-MM-DD HH:MM:SS.fff`), `params` the canonical JSON text.
pub fn audit_hash(
    seq: u64,
    at: &str,
    operator: &str,
    action: &str,
    params: &str,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    let seq = seq.to_string();
    for field in [
        HASH_TAG,
        seq.as_bytes(),
        at.as_bytes(),
        operator.as_bytes(),
        action.as_bytes(),
        params.as_bytes(),
        prev_hash.as_bytes(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    hex::encode(h.finalize())
}

/// JSON text with object keys sorted (by bytes) and no whitespace, whatever
/// order the value's map keeps.
pub(super) fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(x) = o.get(*k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| WorkspaceError::Corrupt(format!("{what} is negative ({v})")))
}

/// Appends one entry inside the caller's transaction. `params` is redacted
/// of anything password-like before it is hashed and stored.
pub(super) async fn append_in(
    conn: &mut SqliteConnection,
    at: NaiveDateTime,
    operator: &str,
    action: &str,
    params: &Value,
) -> Result<AuditEntry> {
    let head = sqlx::query("SELECT entries, hash FROM audit_head WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(WorkspaceError::AuditHeadMissing)?;
    let entries: i64 = head.try_get("entries")?;
    let prev_hash: String = head.try_get("hash")?;
    let seq = to_u64(entries, "the audit head's entry count")? + 1;
    let at_text = fmt_time(at);
    let operator = super::redact::strip_passwords(operator);
    let action = super::redact::strip_passwords(action);
    let params = canonical_json(&redact_json(params));
    let hash = audit_hash(seq, &at_text, &operator, &action, &params, &prev_hash);
    let seq_i = entries + 1;
    sqlx::query(
        "INSERT INTO audit_log (seq, at, operator, action, params, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(seq_i)
    .bind(&at_text)
    .bind(&operator)
    .bind(&action)
    .bind(&params)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET entries = ?, hash = ? WHERE id = 1")
        .bind(seq_i)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(AuditEntry {
        seq,
        at: parse_time(&at_text)?,
        operator,
        action,
        params,
        prev_hash,
        hash,
    })
}

fn entry_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<(i64, String, AuditEntry)> {
    let seq: i64 = r.try_get("seq")?;
    let at: String = r.try_get("at")?;
    let e = AuditEntry {
        seq: u64::try_from(seq).unwrap_or(0),
        at: parse_time(&at).unwrap_or_default(),
        operator: r.try_get("operator")?,
        action: r.try_get("action")?,
        params: r.try_get("params")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    };
    Ok((seq, at, e))
}

impl Workspace {
    /// Appends an audit entry now, in its own transaction, and returns it.
    /// `action` is a word such as `reconcile`, `export` or `resolve`;
    /// `params` is stored as canonical JSON with anything password-like masked.
    pub async fn append_audit(
        &self,
        operator: &str,
        action: &str,
        params: &Value,
    ) -> Result<AuditEntry> {
        let (_guard, mut tx) = self.begin_write().await?;
        let e = append_in(&mut tx, self.now(), operator, action, params).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Up to `limit` entries with `seq > after_seq`, in order.
    pub async fn audit_entries(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT seq, at, operator, action, params, prev_hash, hash FROM audit_log \
             WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| entry_from_row(r).map(|(_, _, e)| e))
            .collect()
    }

    /// Checks the whole chain and its head; reports the first problem found.
    /// Reads one consistent snapshot, a page at a time.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        let mut tx = self.pool.begin().await?;
        let head = sqlx::query("SELECT entries, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&mut *tx)
            .await?;
        let entries_u = u64::try_from(entries).unwrap_or(0);
        let Some(head) = head else {
            return Ok(AuditReport {
                entries: entries_u,
                ok: false,
                problem: Some("the audit head row is missing: it was deleted".into()),
                head_hash: String::new(),
            });
        };
        let head_entries: i64 = head.try_get("entries")?;
        let head_hash: String = head.try_get("hash")?;
        let report = |problem: String| AuditReport {
            entries: entries_u,
            ok: false,
            problem: Some(problem),
            head_hash: head_hash.clone(),
        };

        let mut expected: i64 = 1;
        let mut prev_hash = GENESIS_HASH.to_owned();
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, operator, action, params, prev_hash, hash FROM audit_log \
                 WHERE seq >= ? ORDER BY seq LIMIT ?",
            )
            .bind(expected)
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await?;
            if expected == 1 {
                // Rows below 1 are never written by payrecon.
                let below: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE seq < 1")
                    .fetch_one(&mut *tx)
                    .await?;
                if below > 0 {
                    return Ok(report(format!(
                        "{below} entries have a sequence number below 1: they were inserted or renumbered"
                    )));
                }
            }
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let (seq, at, e) = entry_from_row(r)?;
                if seq != expected {
                    return Ok(report(if expected == 1 {
                        format!("entry 1 is missing (the log starts at entry {seq})")
                    } else if seq == expected + 1 {
                        format!(
                            "entry {expected} is missing (seq jumps from {} to {seq})",
                            expected - 1
                        )
                    } else {
                        format!(
                            "entries {expected} to {} are missing (seq jumps from {} to {seq})",
                            seq - 1,
                            expected - 1
                        )
                    }));
                }
                if e.prev_hash != prev_hash {
                    return Ok(report(if seq == 1 {
                        "entry 1 does not start the chain (its prev_hash is not the genesis hash)"
                            .to_owned()
                    } else {
                        format!(
                            "entry {seq} does not follow entry {} (prev_hash differs)",
                            seq - 1
                        )
                    }));
                }
                let want = audit_hash(e.seq, &at, &e.operator, &e.action, &e.params, &e.prev_hash);
                if want != e.hash {
                    return Ok(report(format!(
                        "entry {seq} was edited: its hash does not match its content"
                    )));
                }
                prev_hash = e.hash;
                expected += 1;
            }
        }
        let chain = expected - 1;
        if chain < head_entries {
            return Ok(report(format!(
                "the log ends at entry {chain} but its head records {head_entries} entries: the last {} were removed",
                head_entries - chain
            )));
        }
        if chain > head_entries {
            return Ok(report(format!(
                "the log has {chain} entries but its head records only {head_entries}: entries were added outside payrecon"
            )));
        }
        if prev_hash != head_hash {
            return Ok(report(format!(
                "the last entry ({chain}) does not match the hash its head records: the head or the last entry was replaced"
            )));
        }
        tx.commit().await?;
        Ok(AuditReport {
            entries: entries_u,
            ok: true,
            problem: None,
            head_hash,
        })
    }
}
