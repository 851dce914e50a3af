//! Findings with a lifecycle and an age across runs (SPEC §4), and their
//! resolutions.
//!
//! A finding's identity is `(database, kind, key)`, hashed into a stable
//! [`fingerprint`]. The first run that produces it inserts it `open`; later
//! runs update what it looks like now (amounts, detail, severity) and keep
//! its status, history and first sighting — its age. A `resolved` finding
//! that shows up again is reopened; an `accepted` one stays accepted.

use super::redact::strip_passwords;
use super::{
    Bind, Result, Workspace, WorkspaceError, audit, bind_all, fmt_time, parse_opt_time, parse_time,
    placeholders,
};
use crate::recon::{Finding, Kind, Severity};
use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use std::fmt;
use std::str::FromStr;

/// Where a finding is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// New or reopened: nobody has looked at it yet.
    Open,
    /// Someone is looking at it.
    Acknowledged,
    /// Fixed (with a note); reopened if it shows up again.
    Resolved,
    /// Accepted as it is (with a note); stays accepted when seen again.
    Accepted,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: &'static [Status] = &[
        Status::Open,
        Status::Acknowledged,
        Status::Resolved,
        Status::Accepted,
    ];

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
            Self::Accepted => "accepted",
        }
    }

    /// The status for a stored word.
    pub fn parse(s: &str) -> Option<Status> {
        Self::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Open => "待处理",
            Self::Acknowledged => "处理中",
            Self::Resolved => "已解决",
            Self::Accepted => "已接受",
        }
    }

    /// What this status may become by hand.
    pub fn allowed_next(self) -> &'static [Status] {
        match self {
            Self::Open => &[Status::Acknowledged, Status::Resolved, Status::Accepted],
            Self::Acknowledged => &[Status::Resolved, Status::Accepted],
            Self::Resolved | Self::Accepted => &[Status::Open],
        }
    }

    /// Whether changing to `to` needs a note: resolving, accepting and reopening do.
    pub fn note_required(to: Status) -> bool {
        matches!(to, Status::Resolved | Status::Accepted | Status::Open)
    }

    /// The audit action for a change to this status.
    fn action(self) -> &'static str {
        match self {
            Self::Open => "reopen",
            Self::Acknowledged => "acknowledge",
            Self::Resolved => "resolve",
            Self::Accepted => "accept",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ageing buckets as Formance uses them: 0–1, 2–7, 8–30 and more than 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeBucket {
    /// 0–1 days.
    Days0To1,
    /// 2–7 days.
    Days2To7,
    /// 8–30 days.
    Days8To30,
    /// More than 30 days.
    Over30,
}

impl AgeBucket {
    /// Every bucket, youngest first.
    pub const ALL: &'static [AgeBucket] = &[
        AgeBucket::Days0To1,
        AgeBucket::Days2To7,
        AgeBucket::Days8To30,
        AgeBucket::Over30,
    ];

    /// The bucket for an age in whole days (negative ages count as 0).
    pub fn of(age_days: i64) -> AgeBucket {
        match age_days {
            ..=1 => AgeBucket::Days0To1,
            2..=7 => AgeBucket::Days2To7,
            8..=30 => AgeBucket::Days8To30,
            _ => AgeBucket::Over30,
        }
    }

    /// The label: `0-1`, `2-7`, `8-30`, `>30` (days).
    pub fn label(self) -> &'static str {
        match self {
            AgeBucket::Days0To1 => "0-1",
            AgeBucket::Days2To7 => "2-7",
            AgeBucket::Days8To30 => "8-30",
            AgeBucket::Over30 => ">30",
        }
    }
}

/// The stable identity of a finding: SHA-256 (hex) over the database, the
/// kind and the key, each length-prefixed so the encoding is unambiguous.
pub fn fingerprint(database: &str, kind: Kind, key: &str) -> String {
    let mut h = Sha256::new();
    for field in [
        b"payrecon-finding-v1".as_slice(),
        database.as_bytes(),
        kind.as_str().as_bytes(),
        key.as_bytes(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    hex::encode(h.finalize())
}

/// One finding as the workspace knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    /// Workspace id.
    pub id: i64,
    /// See [`fingerprint`].
    pub fingerprint: String,
    /// The database (password-free).
    pub database: String,
    /// The kind.
    pub kind: Kind,
    /// The latest severity.
    pub severity: Severity,
    /// The business key.
    pub key: String,
    /// Lifecycle status.
    pub status: Status,
    /// When the status last changed.
    pub status_at: NaiveDateTime,
    /// The `agentBillNo`, where there is one.
    pub agent_bill_no: Option<String>,
    /// The user, where known.
    pub user_id: Option<i64>,
    /// Latest internal amount.
    pub amount_internal: Option<Decimal>,
    /// Latest external amount.
    pub amount_external: Option<Decimal>,
    /// Latest difference.
    pub difference: Option<Decimal>,
    /// Latest attempt count.
    pub attempts: Option<i64>,
    /// Earliest payment-side time involved (from the latest sighting).
    pub event_first: Option<NaiveDateTime>,
    /// Latest payment-side time involved (from the latest sighting).
    pub event_last: Option<NaiveDateTime>,
    /// Latest explanation in Chinese.
    pub detail_zh: String,
    /// Latest explanation in English.
    pub detail_en: String,
    /// The run that first produced it.
    pub first_seen_run: i64,
    /// When that run started: the start of its age.
    pub first_seen_at: NaiveDateTime,
    /// The latest run that produced it.
    pub last_seen_run: i64,
    /// When that run started.
    pub last_seen_at: NaiveDateTime,
    /// How many runs produced it.
    pub times_seen: i64,
    /// The first run of its current absence, if the latest comparable run did not produce it.
    pub absent_since_run: Option<i64>,
    /// The latest comparable run (same database and period) that did not produce it.
    pub last_absent_run: Option<i64>,
    /// When that run started.
    pub last_absent_at: Option<NaiveDateTime>,
    /// Whole days from `first_seen_at` to the listing's "now".
    pub age_days: i64,
}

impl FindingRow {
    /// The ageing bucket of [`FindingRow::age_days`].
    pub fn age_bucket(&self) -> AgeBucket {
        AgeBucket::of(self.age_days)
    }

    /// Whether the latest comparable run no longer produced it.
    pub fn is_absent(&self) -> bool {
        self.absent_since_run.is_some()
    }

    /// The finding as its latest run reported it.
    pub fn finding(&self) -> Finding {
        Finding {
            kind: self.kind,
            severity: self.severity,
            key: self.key.clone(),
            agent_bill_no: self.agent_bill_no.clone(),
            user_id: self.user_id,
            amount_internal: self.amount_internal,
            amount_external: self.amount_external,
            difference: self.difference,
            first_seen: self.event_first,
            last_seen: self.event_last,
            attempts: self.attempts,
            detail_zh: self.detail_zh.clone(),
            detail_en: self.detail_en.clone(),
        }
    }
}

/// One change in a finding's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingEvent {
    /// Event id (increasing).
    pub id: i64,
    /// The finding.
    pub finding_id: i64,
    /// The run that caused it, for `detected` and `reappeared`.
    pub run_id: Option<i64>,
    /// When.
    pub at: NaiveDateTime,
    /// Who.
    pub operator: String,
    /// `detected`, `reappeared`, `settled` (an input finding a later run no
    /// longer has), `acknowledge`, `resolve`, `accept` or `reopen`.
    pub action: String,
    /// Status before (`None` when detected).
    pub from: Option<Status>,
    /// Status after.
    pub to: Status,
    /// Why.
    pub note: String,
}

/// Which findings [`Workspace::list_findings`] returns. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    /// Only this database (as stored: password-free).
    pub database: Option<String>,
    /// Only these kinds.
    pub kinds: Vec<Kind>,
    /// Only these severities.
    pub severities: Vec<Severity>,
    /// Only these statuses.
    pub statuses: Vec<Status>,
    /// Only findings at least this many days old.
    pub min_age_days: Option<i64>,
    /// At most this many rows.
    pub limit: Option<u32>,
    /// Skip this many rows.
    pub offset: u32,
    /// "Now" for ages; `None` is the current business time.
    pub as_of: Option<NaiveDateTime>,
}

/// Canonical decimal text: at least two fraction digits, never rounded.
fn amount_text(d: Decimal) -> String {
    let mut n = d;
    if n.scale() < 2 {
        n.rescale(2);
    }
    n.to_string()
}

fn parse_amount(s: Option<String>) -> Result<Option<Decimal>> {
    s.map(|t| {
        Decimal::from_str(&t)
            .map_err(|_| WorkspaceError::Corrupt(format!("'{t}' is not an amount")))
    })
    .transpose()
}

pub(super) fn parse_severity(s: &str) -> Result<Severity> {
    [
        Severity::Info,
        Severity::Warning,
        Severity::High,
        Severity::Critical,
    ]
    .into_iter()
    .find(|x| x.as_str() == s)
    .ok_or_else(|| WorkspaceError::Corrupt(format!("'{s}' is not a severity")))
}

fn parse_kind(s: &str) -> Result<Kind> {
    Kind::parse(s).ok_or_else(|| {
        WorkspaceError::Corrupt(format!("'{s}' is not a finding kind this payrecon knows"))
    })
}

fn parse_status(s: &str) -> Result<Status> {
    Status::parse(s).ok_or_else(|| WorkspaceError::Corrupt(format!("'{s}' is not a status")))
}

const FINDING_COLUMNS: &str = "id, fingerprint, database, kind, key, severity, status, status_at, \
     agent_bill_no, user_id, amount_internal, amount_external, difference, attempts, \
     event_first, event_last, detail_zh, detail_en, first_seen_run, first_seen_at, \
     last_seen_run, last_seen_at, times_seen, absent_since_run, last_absent_run, last_absent_at";

fn row_to_finding(r: &SqliteRow, as_of: NaiveDateTime) -> Result<FindingRow> {
    let first_seen_at = parse_time(&r.try_get::<String, _>("first_seen_at")?)?;
    let age_days = (as_of - first_seen_at).num_days().max(0);
    Ok(FindingRow {
        id: r.try_get("id")?,
        fingerprint: r.try_get("fingerprint")?,
        database: r.try_get("database")?,
        kind: parse_kind(&r.try_get::<String, _>("kind")?)?,
        severity: parse_severity(&r.try_get::<String, _>("severity")?)?,
        key: r.try_get("key")?,
        status: parse_status(&r.try_get::<String, _>("status")?)?,
        status_at: parse_time(&r.try_get::<String, _>("status_at")?)?,
        agent_bill_no: r.try_get("agent_bill_no")?,
        user_id: r.try_get("user_id")?,
        amount_internal: parse_amount(r.try_get("amount_internal")?)?,
        amount_external: parse_amount(r.try_get("amount_external")?)?,
        difference: parse_amount(r.try_get("difference")?)?,
        attempts: r.try_get("attempts")?,
        event_first: parse_opt_time(r.try_get("event_first")?)?,
        event_last: parse_opt_time(r.try_get("event_last")?)?,
        detail_zh: r.try_get("detail_zh")?,
        detail_en: r.try_get("detail_en")?,
        first_seen_run: r.try_get("first_seen_run")?,
        first_seen_at,
        last_seen_run: r.try_get("last_seen_run")?,
        last_seen_at: parse_time(&r.try_get::<String, _>("last_seen_at")?)?,
        times_seen: r.try_get("times_seen")?,
        absent_since_run: r.try_get("absent_since_run")?,
        last_absent_run: r.try_get("last_absent_run")?,
        last_absent_at: parse_opt_time(r.try_get("last_absent_at")?)?,
        age_days,
    })
}

/// One history row, inside the caller's transaction.
#[allow(clippy::too_many_arguments)] // one per column
async fn insert_event(
    conn: &mut SqliteConnection,
    finding_id: i64,
    run_id: Option<i64>,
    at: &str,
    operator: &str,
    action: &str,
    from: Option<Status>,
    to: Status,
    note: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO finding_events \
         (finding_id, run_id, at, operator, action, from_status, to_status, note) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(finding_id)
    .bind(run_id)
    .bind(at)
    .bind(operator)
    .bind(action)
    .bind(from.map(Status::as_str))
    .bind(to.as_str())
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What one ok run means for the findings' lifecycle, inside the caller's
/// transaction. `database`, `operator` are already password-free.
pub(super) struct RunScope<'a> {
    pub run_id: i64,
    pub at: &'a str,
    pub operator: &'a str,
    pub database: &'a str,
    pub period_from: Option<String>,
    pub period_to: Option<String>,
    pub not_checked: &'a [Kind],
}

/// Counts of what [`apply_run`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Applied {
    pub new: u64,
    pub seen_again: u64,
    pub reopened: u64,
    pub absent: u64,
    /// Statement-file and coverage findings settled by this run.
    pub settled: u64,
}

/// Kinds that describe a run's inputs rather than money: a statement file
/// refused or short of its totals, flows left unverified. A later run of the
/// same period that no longer has one was given a usable statement, so the
/// finding is resolved then, with a history row saying so.
const INPUT_KINDS: [Kind; 3] = [
    Kind::StatementTotalMismatch,
    Kind::StatementRefused,
    Kind::FlowsUnverified,
];

/// Rows per multi-row insert into the run's input table (14 values each,
/// well under SQLite's limit of 32766 bound values).
const INPUT_BATCH: usize = 500;

/// Inserts or updates each finding and marks the comparable ones this run
/// no longer produced. Set-based: the run's findings go into a temporary
/// table in batches, then a handful of statements apply the lifecycle.
pub(super) async fn apply_run(
    conn: &mut SqliteConnection,
    s: &RunScope<'_>,
    findings: &[Finding],
) -> Result<Applied> {
    let mut applied = Applied::default();
    sqlx::raw_sql(
        "CREATE TEMP TABLE IF NOT EXISTS ws_run_input (\
         fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, \
         severity TEXT NOT NULL, agent_bill_no TEXT, user_id INTEGER, amount_internal TEXT, \
         amount_external TEXT, difference TEXT, attempts INTEGER, event_first TEXT, \
         event_last TEXT, detail_zh TEXT NOT NULL, detail_en TEXT NOT NULL); \
         DELETE FROM temp.ws_run_input;",
    )
    .execute(&mut *conn)
    .await?;
    for chunk in findings.chunks(INPUT_BATCH) {
        // The same identity twice in one run: the later one wins, seen once.
        let sql = format!(
            "INSERT OR REPLACE INTO temp.ws_run_input VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for f in chunk {
            let key = strip_passwords(&f.key);
            q = q
                .bind(fingerprint(s.database, f.kind, &key))
                .bind(f.kind.as_str())
                .bind(key)
                .bind(f.severity.as_str())
                .bind(f.agent_bill_no.as_deref().map(strip_passwords))
                .bind(f.user_id)
                .bind(f.amount_internal.map(amount_text))
                .bind(f.amount_external.map(amount_text))
                .bind(f.difference.map(amount_text))
                .bind(f.attempts)
                .bind(f.first_seen.map(fmt_time))
                .bind(f.last_seen.map(fmt_time))
                .bind(strip_passwords(&f.detail_zh))
                .bind(strip_passwords(&f.detail_en));
        }
        q.execute(&mut *conn).await?;
    }

    // Resolved findings produced again: reopened, with an event saying so.
    // Looked up from this database's resolved findings (few, by index), not
    // from each of the run's findings (a fingerprint names its database).
    applied.reopened = sqlx::query(
        "INSERT INTO finding_events \
         (finding_id, run_id, at, operator, action, from_status, to_status, note) \
         SELECT f.id, ?, ?, ?, 'reappeared', 'resolved', 'open', ? \
         FROM findings AS f WHERE f.database = ? AND f.status = 'resolved' \
         AND f.fingerprint IN (SELECT fingerprint FROM temp.ws_run_input) ORDER BY f.id",
    )
    .bind(s.run_id)
    .bind(s.at)
    .bind(s.operator)
    .bind(format!(
        "reopened: run {} produced it again after it was resolved",
        s.run_id
    ))
    .bind(s.database)
    .execute(&mut *conn)
    .await?
    .rows_affected();

    // Seen before: the latest look; status (unless resolved), history and
    // first sighting kept.
    applied.seen_again = sqlx::query(
        "UPDATE findings SET severity = i.severity, \
         status = CASE findings.status WHEN 'resolved' THEN 'open' ELSE findings.status END, \
         status_at = CASE findings.status WHEN 'resolved' THEN ? ELSE findings.status_at END, \
         agent_bill_no = i.agent_bill_no, user_id = i.user_id, \
         amount_internal = i.amount_internal, amount_external = i.amount_external, \
         difference = i.difference, attempts = i.attempts, event_first = i.event_first, \
         event_last = i.event_last, detail_zh = i.detail_zh, detail_en = i.detail_en, \
         last_seen_run = ?, last_seen_at = ?, times_seen = findings.times_seen + 1, \
         absent_since_run = NULL \
         FROM temp.ws_run_input AS i WHERE i.fingerprint = findings.fingerprint",
    )
    .bind(s.at)
    .bind(s.run_id)
    .bind(s.at)
    .execute(&mut *conn)
    .await?
    .rows_affected();

    // New: open, first seen now.
    applied.new = sqlx::query(
        "INSERT INTO findings (fingerprint, database, kind, key, severity, status, status_at, \
         agent_bill_no, user_id, amount_internal, amount_external, difference, attempts, \
         event_first, event_last, detail_zh, detail_en, first_seen_run, first_seen_at, \
         last_seen_run, last_seen_at, times_seen) \
         SELECT i.fingerprint, ?, i.kind, i.key, i.severity, 'open', ?, i.agent_bill_no, \
         i.user_id, i.amount_internal, i.amount_external, i.difference, i.attempts, \
         i.event_first, i.event_last, i.detail_zh, i.detail_en, ?, ?, ?, ?, 1 \
         FROM temp.ws_run_input AS i \
         WHERE NOT EXISTS (SELECT 1 FROM findings AS f WHERE f.fingerprint = i.fingerprint) \
         ORDER BY i.rowid",
    )
    .bind(s.database)
    .bind(s.at)
    .bind(s.run_id)
    .bind(s.at)
    .bind(s.run_id)
    .bind(s.at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "INSERT INTO finding_events \
         (finding_id, run_id, at, operator, action, from_status, to_status, note) \
         SELECT id, ?, ?, ?, 'detected', NULL, 'open', ? FROM findings \
         WHERE first_seen_run = ? ORDER BY id",
    )
    .bind(s.run_id)
    .bind(s.at)
    .bind(s.operator)
    .bind(format!("first produced by run {}", s.run_id))
    .bind(s.run_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM temp.ws_run_input")
        .execute(&mut *conn)
        .await?;

    // Comparable earlier sightings (same database, same period, a kind this
    // run checked) that this run did not produce: absent. Nothing is deleted.
    let mut sql = String::from(
        "UPDATE findings SET absent_since_run = COALESCE(absent_since_run, ?), \
         last_absent_run = ?, last_absent_at = ? \
         WHERE database = ? AND last_seen_run <> ? \
         AND last_seen_run IN (SELECT id FROM runs WHERE database = ? \
         AND period_from IS ? AND period_to IS ?)",
    );
    let mut binds = vec![
        Bind::Int(s.run_id),
        Bind::Int(s.run_id),
        Bind::Text(s.at.to_owned()),
        Bind::Text(s.database.to_owned()),
        Bind::Int(s.run_id),
        Bind::Text(s.database.to_owned()),
        s.period_from.clone().map_or(Bind::Null, Bind::Text),
        s.period_to.clone().map_or(Bind::Null, Bind::Text),
    ];
    if !s.not_checked.is_empty() {
        sql.push_str(&format!(
            " AND kind NOT IN ({})",
            placeholders(s.not_checked.len())
        ));
        binds.extend(
            s.not_checked
                .iter()
                .map(|k| Bind::Text(k.as_str().to_owned())),
        );
    }
    let done = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds)
        .execute(&mut *conn)
        .await?;
    applied.absent = done.rows_affected();

    let kinds = placeholders(INPUT_KINDS.len());
    let which = format!(
        "FROM findings WHERE database = ? AND last_absent_run = ? \
         AND status IN ('open', 'acknowledged') AND kind IN ({kinds})"
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO finding_events \
         (finding_id, run_id, at, operator, action, from_status, to_status, note) \
         SELECT id, ?, ?, ?, 'settled', status, 'resolved', ? {which} ORDER BY id"
    )))
    .bind(s.run_id)
    .bind(s.at)
    .bind(s.operator)
    .bind(format!(
        "resolved by run {}: the same period's run no longer has it (a usable statement was given) / \
         同一期间的对账已不再出现（已提供可用的对账单），自动解决",
        s.run_id
    ))
    .bind(s.database)
    .bind(s.run_id);
    for k in INPUT_KINDS {
        q = q.bind(k.as_str());
    }
    q.execute(&mut *conn).await?;
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE findings SET status = 'resolved', status_at = ? \
         WHERE id IN (SELECT id {which})"
    )))
    .bind(s.at)
    .bind(s.database)
    .bind(s.run_id);
    for k in INPUT_KINDS {
        q = q.bind(k.as_str());
    }
    applied.settled = q.execute(&mut *conn).await?.rows_affected();
    Ok(applied)
}

impl Workspace {
    /// Changes a finding's status by hand: open → acknowledged;
    /// open | acknowledged → resolved | accepted; resolved | accepted → open.
    /// Resolving, accepting and reopening need a non-empty `note`. Writes a
    /// history row and an audit entry in the same transaction.
    pub async fn set_status(
        &self,
        finding_id: i64,
        to: Status,
        note: &str,
        operator: &str,
    ) -> Result<()> {
        let note = strip_passwords(note.trim());
        let operator = strip_passwords(operator);
        let (_guard, mut tx) = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT status, fingerprint, database, kind, key FROM findings WHERE id = ?",
        )
        .bind(finding_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(WorkspaceError::NoSuchFinding(finding_id))?;
        let from = parse_status(&row.try_get::<String, _>("status")?)?;
        if !from.allowed_next().contains(&to) {
            let allowed = from
                .allowed_next()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(WorkspaceError::IllegalTransition { from, to, allowed });
        }
        if Status::note_required(to) && note.is_empty() {
            return Err(WorkspaceError::NoteRequired { to });
        }
        let now = self.now();
        let at = fmt_time(now);
        sqlx::query("UPDATE findings SET status = ?, status_at = ? WHERE id = ?")
            .bind(to.as_str())
            .bind(&at)
            .bind(finding_id)
            .execute(&mut *tx)
            .await?;
        insert_event(
            &mut tx,
            finding_id,
            None,
            &at,
            &operator,
            to.action(),
            Some(from),
            to,
            &note,
        )
        .await?;
        let params = serde_json::json!({
            "finding_id": finding_id,
            "fingerprint": row.try_get::<String, _>("fingerprint")?,
            "database": row.try_get::<String, _>("database")?,
            "kind": row.try_get::<String, _>("kind")?,
            "key": row.try_get::<String, _>("key")?,
            "from": from.as_str(),
            "to": to.as_str(),
            "note": note,
        });
        audit::append_in(&mut tx, now, &operator, to.action(), &params).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One finding, with its age as of now.
    pub async fn get_finding(&self, finding_id: i64) -> Result<FindingRow> {
        let sql = format!("SELECT {FINDING_COLUMNS} FROM findings WHERE id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(finding_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(WorkspaceError::NoSuchFinding(finding_id))?;
        row_to_finding(&row, self.now())
    }

    /// A finding's history, oldest first.
    pub async fn history(&self, finding_id: i64) -> Result<Vec<FindingEvent>> {
        let rows = sqlx::query(
            "SELECT id, finding_id, run_id, at, operator, action, from_status, to_status, note \
             FROM finding_events WHERE finding_id = ? ORDER BY id",
        )
        .bind(finding_id)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            // Every finding has at least its `detected` event.
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM findings WHERE id = ?")
                .bind(finding_id)
                .fetch_optional(&self.pool)
                .await?;
            if exists.is_none() {
                return Err(WorkspaceError::NoSuchFinding(finding_id));
            }
        }
        rows.iter()
            .map(|r| {
                Ok(FindingEvent {
                    id: r.try_get("id")?,
                    finding_id: r.try_get("finding_id")?,
                    run_id: r.try_get("run_id")?,
                    at: parse_time(&r.try_get::<String, _>("at")?)?,
                    operator: r.try_get("operator")?,
                    action: r.try_get("action")?,
                    from: r
                        .try_get::<Option<String>, _>("from_status")?
                        .as_deref()
                        .map(parse_status)
                        .transpose()?,
                    to: parse_status(&r.try_get::<String, _>("to_status")?)?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    /// Findings matching `filter`, most severe first, then oldest first.
    pub async fn list_findings(&self, filter: &FindingFilter) -> Result<Vec<FindingRow>> {
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, mut binds) = filter_sql(filter, as_of);
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM findings{where_sql} ORDER BY \
             CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'warning' THEN 2 \
             ELSE 3 END, first_seen_at, id LIMIT ? OFFSET ?"
        );
        binds.push(Bind::Int(filter.limit.map_or(-1, i64::from)));
        binds.push(Bind::Int(i64::from(filter.offset)));
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| row_to_finding(r, as_of)).collect()
    }

    /// How many findings match `filter` (ignoring its limit and offset).
    pub async fn count_findings(&self, filter: &FindingFilter) -> Result<u64> {
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, binds) = filter_sql(filter, as_of);
        let sql = format!("SELECT COUNT(*) FROM findings{where_sql}");
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
                Bind::Null => q.bind(None::<String>),
            };
        }
        let n = q.fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// The WHERE clause (with a leading space, or empty) and its bound values.
fn filter_sql(filter: &FindingFilter, as_of: NaiveDateTime) -> (String, Vec<Bind>) {
    let mut conds: Vec<String> = Vec::new();
    let mut binds = Vec::new();
    if let Some(db) = &filter.database {
        conds.push("database = ?".into());
        binds.push(Bind::Text(db.clone()));
    }
    let mut list = |col: &str, values: Vec<&'static str>| {
        if !values.is_empty() {
            conds.push(format!("{col} IN ({})", placeholders(values.len())));
            binds.extend(values.into_iter().map(|v| Bind::Text(v.to_owned())));
        }
    };
    list("kind", filter.kinds.iter().map(|k| k.as_str()).collect());
    list(
        "severity",
        filter.severities.iter().map(|s| s.as_str()).collect(),
    );
    list(
        "status",
        filter.statuses.iter().map(|s| s.as_str()).collect(),
    );
    if let Some(days) = filter.min_age_days {
        // Age is whole days since first_seen_at; text times compare in order.
        let cutoff = as_of - Duration::days(days.clamp(0, 36_500));
        conds.push("first_seen_at <= ?".into());
        binds.push(Bind::Text(fmt_time(cutoff)));
    }
    let where_sql = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (where_sql, binds)
}
