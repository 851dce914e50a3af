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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "queue_tests.rs"]
mod queue_tests;

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

    /// Whether its money counts in the amount at risk: open or acknowledged,
    /// and still produced by the latest comparable run (the same rule as
    /// [`Workspace::summarize_findings`]' SQL).
    pub fn counts_at_risk(&self) -> bool {
        matches!(self.status, Status::Open | Status::Acknowledged) && !self.is_absent()
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
    /// Only this bill (`agent_bill_no`, exact).
    pub bill: Option<String>,
    /// Only this user.
    pub user_id: Option<i64>,
    /// Only the findings of one group of the queue (see [`GroupBy`]).
    pub group: Option<GroupKey>,
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

    /// The single count a `SELECT COUNT(…)` with `binds` returns.
    async fn count_of(&self, sql: String, binds: &[Bind]) -> Result<u64> {
        let row = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
    }

    /// How many findings match `filter` (ignoring its limit and offset).
    pub async fn count_findings(&self, filter: &FindingFilter) -> Result<u64> {
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, binds) = filter_sql(filter, as_of);
        let sql = format!("SELECT COUNT(*) FROM findings{where_sql}");
        self.count_of(sql, &binds).await
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
    if let Some(b) = &filter.bill {
        conds.push("agent_bill_no = ?".into());
        binds.push(Bind::Text(b.clone()));
    }
    if let Some(u) = filter.user_id {
        conds.push("user_id = ?".into());
        binds.push(Bind::Int(u));
    }
    if let Some(g) = &filter.group {
        conds.push(format!("{} = ?", x(g.by.column(), "")));
        binds.push(Bind::Text(g.key.clone()));
    }
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

// ---------------------------------------------------------------------------
// The queue at any size: keyset pages, groups, totals, bulk changes.
// ---------------------------------------------------------------------------

/// What the queue is sorted by. Each order has its natural direction (most
/// severe, largest, oldest first; kinds and keys A→Z with numbers in
/// numeric order: `user:2` before `user:10`); [`QueueOrder::reverse`] flips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum QueueSort {
    /// Most severe first, then oldest first.
    #[default]
    Severity,
    /// Largest |difference| first.
    Amount,
    /// Oldest (first seen earliest) first.
    Age,
    /// By kind, then by key.
    Kind,
    /// By business key, numbers in numeric order.
    Key,
}

impl QueueSort {
    /// Every order, as the console offers them.
    pub const ALL: &'static [QueueSort] = &[
        QueueSort::Severity,
        QueueSort::Amount,
        QueueSort::Age,
        QueueSort::Kind,
        QueueSort::Key,
    ];

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Severity => "severity",
            Self::Amount => "amount",
            Self::Age => "age",
            Self::Kind => "kind",
            Self::Key => "key",
        }
    }

    /// Whether the natural direction is descending (largest amount first).
    fn natural_desc(self) -> bool {
        matches!(self, Self::Amount)
    }

    /// The sort columns of single findings (the id follows as the tiebreak).
    fn finding_cols(self) -> &'static [&'static str] {
        match self {
            Self::Severity => &["sev_rank", "first_seen_at"],
            Self::Amount => &["amount_key"],
            Self::Age => &["first_seen_at"],
            Self::Kind => &["kind", "key_sort"],
            Self::Key => &["key_sort"],
        }
    }

    /// The sort columns of a grouped queue: a group stands where its first
    /// finding in this order stands (its most severe, its largest, its
    /// oldest); sorted by key, groups go by their own key.
    fn group_cols(self, by: GroupBy) -> &'static [&'static str] {
        match (self, by) {
            (Self::Key, GroupBy::Bill) => &["bill_group_sort"],
            (Self::Key, GroupBy::User) => &["user_group_sort"],
            _ => self.finding_cols(),
        }
    }
}

/// A sort order of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueueOrder {
    /// What to sort by.
    pub by: QueueSort,
    /// Against the natural direction.
    pub reverse: bool,
}

impl QueueOrder {
    fn desc(self) -> bool {
        self.by.natural_desc() != self.reverse
    }
}

/// How the queue groups findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One row per bill (`agent_bill_no`); a finding without one is its own group.
    Bill,
    /// One row per user; a finding without one is its own group.
    User,
}

impl GroupBy {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bill => "bill",
            Self::User => "user",
        }
    }

    /// The name of the group key (see [`x`] for its SQL).
    fn column(self) -> &'static str {
        match self {
            Self::Bill => "bill_group",
            Self::User => "user_group",
        }
    }
}

/// One group of the queue: a bill's or a user's findings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct GroupKey {
    /// How the queue is grouped.
    pub by: GroupBy,
    /// The bill number, `user:ID`, or the key of a finding that is its own group.
    pub key: String,
}

/// One value of a sort key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyPart {
    /// An integer column.
    Int(i64),
    /// A text column.
    Text(String),
}

/// Where a row (finding or group) stands in its order: its sort values and
/// its unique tiebreak (the finding id, the group key), for the next page's
/// `WHERE (sort…, tiebreak) > (…)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueKey(pub Vec<KeyPart>);

/// Which page of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum QueueCursor {
    /// The first page.
    #[default]
    First,
    /// The last page.
    Last,
    /// The page after this row.
    After(QueueKey),
    /// The page before this row.
    Before(QueueKey),
}

/// One page of findings.
#[derive(Debug, Clone, Default)]
pub struct FindingPage {
    /// The findings, in order.
    pub rows: Vec<FindingRow>,
    /// Each row's key (same order).
    pub keys: Vec<QueueKey>,
    /// Whether rows exist before the first one.
    pub has_prev: bool,
    /// Whether rows exist after the last one.
    pub has_next: bool,
}

/// One row of a grouped queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingGroup {
    /// Which group.
    pub key: GroupKey,
    /// The bill, when the group's findings name one.
    pub agent_bill_no: Option<String>,
    /// The user, when the group's findings name one.
    pub user_id: Option<i64>,
    /// How many findings (of the filter) it holds.
    pub count: u64,
    /// Their kinds, in SPEC order.
    pub kinds: Vec<Kind>,
    /// Their statuses, in lifecycle order.
    pub statuses: Vec<Status>,
    /// The most severe.
    pub severity: Severity,
    /// The largest |difference| among them.
    pub largest: Decimal,
    /// When the oldest was first seen.
    pub first_seen_at: NaiveDateTime,
    /// Whole days since then.
    pub age_days: i64,
}

/// One page of groups.
#[derive(Debug, Clone, Default)]
pub struct GroupPage {
    /// The groups, in order.
    pub rows: Vec<FindingGroup>,
    /// Each group's key in the order.
    pub keys: Vec<QueueKey>,
    /// Whether groups exist before the first one.
    pub has_prev: bool,
    /// Whether groups exist after the last one.
    pub has_next: bool,
}

/// What a filter selects, in numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSummary {
    /// Findings the filter selects.
    pub count: u64,
    /// The amount at risk among them: only `open` and `acknowledged`
    /// findings that the latest comparable run still produced count, each
    /// bill and account once (see [`crate::recon::RiskCounter`]).
    pub at_risk: crate::recon::AtRisk,
    /// How many of the selected findings are at risk in that sense.
    pub at_risk_findings: u64,
}

/// The latest hand action on a finding (acknowledge, resolve, accept, reopen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastAction {
    /// When.
    pub at: NaiveDateTime,
    /// Who.
    pub operator: String,
    /// The word (`resolve`, …).
    pub action: String,
    /// Why.
    pub note: String,
}

/// Which findings a bulk change applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These findings.
    Ids(Vec<i64>),
    /// Every finding the filter selects in these groups.
    Groups {
        /// The queue's filter.
        filter: Box<FindingFilter>,
        /// The groups (all of one [`GroupBy`]).
        keys: Vec<GroupKey>,
    },
}

/// What a bulk change did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Findings changed (each with its history row and audit entry).
    pub changed: u64,
    /// Findings selected that could not take the change (already resolved, …).
    pub skipped: u64,
}

// The queue's sort keys, spelled exactly as the indexes of schema version 3
// spell them (that is how SQLite uses those indexes); `{t}` is where a table
// alias goes. Expressions, not stored columns: an UPDATE of a status touches
// none of them.
const SEV_RANK: &str =
    "(CASE {t}severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END)";
const AMOUNT_KEY: &str = "(substr('00000000000000000000' || substr(ltrim(COALESCE({t}difference, '0.00'), '-'), 1, instr(ltrim(COALESCE({t}difference, '0.00'), '-'), '.') - 1), -20) || substr(ltrim(COALESCE({t}difference, '0.00'), '-'), instr(ltrim(COALESCE({t}difference, '0.00'), '-'), '.')))";
const KEY_SORT: &str = "(rtrim({t}key, '0123456789') || char(1) || substr('0000' || length(ltrim(substr({t}key, length(rtrim({t}key, '0123456789')) + 1), '0')), -4) || ltrim(substr({t}key, length(rtrim({t}key, '0123456789')) + 1), '0'))";
const BILL_GROUP: &str = "(COALESCE(NULLIF({t}agent_bill_no, ''), {t}key))";
const USER_GROUP: &str =
    "(CASE WHEN {t}user_id IS NULL THEN {t}key ELSE 'user:' || {t}user_id END)";
const BILL_GROUP_SORT: &str = "(rtrim((COALESCE(NULLIF({t}agent_bill_no, ''), {t}key)), '0123456789') || char(1) || substr('0000' || length(ltrim(substr((COALESCE(NULLIF({t}agent_bill_no, ''), {t}key)), length(rtrim((COALESCE(NULLIF({t}agent_bill_no, ''), {t}key)), '0123456789')) + 1), '0')), -4) || ltrim(substr((COALESCE(NULLIF({t}agent_bill_no, ''), {t}key)), length(rtrim((COALESCE(NULLIF({t}agent_bill_no, ''), {t}key)), '0123456789')) + 1), '0'))";
const USER_GROUP_SORT: &str = "(CASE WHEN {t}user_id IS NULL THEN (rtrim({t}key, '0123456789') || char(1) || substr('0000' || length(ltrim(substr({t}key, length(rtrim({t}key, '0123456789')) + 1), '0')), -4) || ltrim(substr({t}key, length(rtrim({t}key, '0123456789')) + 1), '0')) ELSE 'user:' || char(1) || substr('0000' || length({t}user_id), -4) || {t}user_id END)";

/// The SQL of a sort key or column `name`, its columns prefixed with `t`
/// (`""` or `"f."`).
fn x(name: &str, t: &str) -> String {
    let e = match name {
        "sev_rank" => SEV_RANK,
        "amount_key" => AMOUNT_KEY,
        "key_sort" => KEY_SORT,
        "bill_group" => BILL_GROUP,
        "user_group" => USER_GROUP,
        "bill_group_sort" => BILL_GROUP_SORT,
        "user_group_sort" => USER_GROUP_SORT,
        col => return format!("{t}{col}"),
    };
    e.replace("{t}", t)
}

/// `cols` and then `id`, as SQL with prefix `t`, each followed by `suffix`.
fn key_list(cols: &[&str], t: &str, suffix: &str) -> String {
    cols.iter()
        .chain(std::iter::once(&"id"))
        .map(|c| format!("{}{suffix}", x(c, t)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Hand actions, whose latest note and operator the queue shows.
const HAND_ACTIONS: &str = "'acknowledge', 'resolve', 'accept', 'reopen'";

/// The `(a, b, …) op (?, ?, …)` condition after `key`, and its values.
fn keyset_cond(cols: &[&str], tiebreak: &str, op: &str, key: &QueueKey) -> (String, Vec<Bind>) {
    let mut names: Vec<String> = cols.iter().map(|c| x(c, "")).collect();
    names.push(tiebreak.to_owned());
    let binds = key
        .0
        .iter()
        .map(|p| match p {
            KeyPart::Int(i) => Bind::Int(*i),
            KeyPart::Text(t) => Bind::Text(t.clone()),
        })
        .collect::<Vec<_>>();
    (
        format!(
            "({}) {op} ({})",
            names.join(", "),
            placeholders(binds.len())
        ),
        binds,
    )
}

/// The page direction: SQL order, comparison, and whether rows come backwards.
fn direction(desc: bool, cursor: &QueueCursor) -> (&'static str, &'static str, bool) {
    let backwards = matches!(cursor, QueueCursor::Last | QueueCursor::Before(_));
    if desc != backwards {
        ("DESC", "<", backwards)
    } else {
        ("ASC", ">", backwards)
    }
}

fn page_flags(cursor: &QueueCursor, more: bool) -> (bool, bool) {
    match cursor {
        QueueCursor::First => (false, more),
        QueueCursor::Last => (more, false),
        QueueCursor::After(_) => (true, more),
        QueueCursor::Before(_) => (more, true),
    }
}

impl Workspace {
    /// Runs one keyset page query (it asks for `limit + 1` rows): the rows in
    /// screen order, each row's keyset key (`cols`, then the id), and
    /// whether there are more beyond the page.
    async fn fetch_keyed(
        &self,
        sql: String,
        binds: &[Bind],
        cols: &[&str],
        limit: u32,
        backwards: bool,
    ) -> Result<(Vec<SqliteRow>, Vec<QueueKey>, bool)> {
        let mut raw = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds)
            .fetch_all(&self.pool)
            .await?;
        let more = raw.len() > limit as usize;
        raw.truncate(limit as usize);
        if backwards {
            raw.reverse();
        }
        let mut keys = Vec::with_capacity(raw.len());
        for r in &raw {
            let mut parts = Vec::with_capacity(cols.len() + 1);
            for c in cols {
                parts.push(read_part(r, c)?);
            }
            parts.push(KeyPart::Int(r.try_get("id")?));
            keys.push(QueueKey(parts));
        }
        Ok((raw, keys, more))
    }
}

fn read_part(r: &SqliteRow, col: &str) -> Result<KeyPart> {
    // SQLite's dynamic type decides: integers stay integers, the rest is text.
    if let Ok(i) = r.try_get::<i64, _>(col) {
        return Ok(KeyPart::Int(i));
    }
    Ok(KeyPart::Text(r.try_get::<String, _>(col)?))
}

/// Reads `amount_key` text (zero-padded |difference|) back as an amount.
fn amount_from_key(s: &str) -> Result<Decimal> {
    let t = s.trim_start_matches('0');
    let t = if t.starts_with('.') || t.is_empty() {
        format!("0{t}")
    } else {
        t.to_owned()
    };
    Decimal::from_str(&t).map_err(|_| WorkspaceError::Corrupt(format!("'{s}' is not an amount")))
}

impl Workspace {
    /// One page of the findings `filter` selects, in `order`: keyset paging
    /// over indexed sort keys, so the first, the last and any next page each
    /// cost one index range read whatever the queue's size. `limit` is
    /// clamped to 1–1000; the filter's own limit and offset are ignored.
    pub async fn page_findings(
        &self,
        filter: &FindingFilter,
        order: QueueOrder,
        cursor: &QueueCursor,
        limit: u32,
    ) -> Result<FindingPage> {
        let limit = limit.clamp(1, 1000);
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, mut binds) = filter_sql(filter, as_of);
        let cols = order.by.finding_cols();
        let (dir, op, backwards) = direction(order.desc(), cursor);
        let mut where_sql = where_sql;
        if let QueueCursor::After(k) | QueueCursor::Before(k) = cursor {
            let (cond, b) = keyset_cond(cols, "id", op, k);
            where_sql.push_str(if where_sql.is_empty() {
                " WHERE "
            } else {
                " AND "
            });
            where_sql.push_str(&cond);
            binds.extend(b);
        }
        let order_sql = key_list(cols, "", &format!(" {dir}"));
        let sql = format!(
            "SELECT {FINDING_COLUMNS}, {} FROM findings{where_sql} ORDER BY {order_sql} LIMIT ?",
            cols.iter()
                .map(|c| format!("{} AS {c}", x(c, "")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        binds.push(Bind::Int(i64::from(limit) + 1));
        let (raw, keys, more) = self
            .fetch_keyed(sql, &binds, cols, limit, backwards)
            .await?;
        let rows = raw
            .iter()
            .map(|r| row_to_finding(r, as_of))
            .collect::<Result<Vec<_>>>()?;
        let (has_prev, has_next) = page_flags(cursor, more);
        Ok(FindingPage {
            rows,
            keys,
            has_prev,
            has_next,
        })
    }

    /// One page of the groups (bills or users) of the findings `filter`
    /// selects: one row per group with its kinds, statuses, largest amount
    /// and oldest sighting. A group stands at its first finding in `order`
    /// (see [`QueueSort`]), so a page walks the same indexes as a page of
    /// findings, taking each group's first finding only: the cost is the
    /// page's, not the queue's.
    pub async fn page_groups(
        &self,
        filter: &FindingFilter,
        by: GroupBy,
        order: QueueOrder,
        cursor: &QueueCursor,
        limit: u32,
    ) -> Result<GroupPage> {
        let limit = limit.clamp(1, 1000);
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, fbinds) = filter_sql(filter, as_of);
        let conds = where_sql
            .strip_prefix(" WHERE ")
            .map_or_else(|| "1".to_owned(), str::to_owned);
        let g = by.column();
        let cols = order.by.group_cols(by);
        let (dir, op, backwards) = direction(order.desc(), cursor);
        let mut binds = fbinds.clone();
        let mut sql = format!(
            "SELECT {} AS g, {}, f.id AS id FROM findings f WHERE {conds}",
            x(g, "f."),
            cols.iter()
                .map(|c| format!("{} AS {c}", x(c, "f.")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let QueueCursor::After(k) | QueueCursor::Before(k) = cursor {
            let (cond, b) = keyset_cond(cols, "id", op, k);
            sql.push_str(" AND ");
            sql.push_str(&cond);
            binds.extend(b);
        }
        // The group's first finding: no finding of the group (in the filter)
        // comes before it in the order. The group's own index, named: left
        // to itself the planner takes the sort index's range instead, which
        // makes each check a scan.
        let earlier = if order.desc() { ">" } else { "<" };
        // Inside, unqualified names are the inner row's (f2); f.… the outer's.
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM findings f2 INDEXED BY findings_by_{}_group \
             WHERE {conds} AND f2.database = f.database AND {} = {} \
             AND ({}) {earlier} ({}))",
            by.as_str(),
            x(g, ""),
            x(g, "f."),
            key_list(cols, "", ""),
            key_list(cols, "f.", "")
        ));
        binds.extend(fbinds.iter().cloned());
        let order_sql = key_list(cols, "f.", &format!(" {dir}"));
        sql.push_str(&format!(" ORDER BY {order_sql} LIMIT ?"));
        binds.push(Bind::Int(i64::from(limit) + 1));
        let (raw, keys, more) = self
            .fetch_keyed(sql, &binds, cols, limit, backwards)
            .await?;
        let group_keys = raw
            .iter()
            .map(|r| r.try_get::<String, _>("g"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut summaries: std::collections::HashMap<String, FindingGroup> = self
            .summaries_in(&conds, &fbinds, by, &group_keys, as_of)
            .await?
            .into_iter()
            .map(|g| (g.key.key.clone(), g))
            .collect();
        let mut rows = Vec::with_capacity(group_keys.len());
        for k in &group_keys {
            rows.push(summaries.remove(k).ok_or_else(|| {
                WorkspaceError::Corrupt(format!("group {k} vanished while it was read"))
            })?);
        }
        let (has_prev, has_next) = page_flags(cursor, more);
        Ok(GroupPage {
            rows,
            keys,
            has_prev,
            has_next,
        })
    }

    /// The summaries (count, kinds, statuses, largest amount, oldest) of
    /// these groups, counting the findings `filter` selects.
    pub async fn group_summaries(
        &self,
        filter: &FindingFilter,
        keys: &[GroupKey],
    ) -> Result<Vec<FindingGroup>> {
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, fbinds) = filter_sql(filter, as_of);
        let conds = where_sql
            .strip_prefix(" WHERE ")
            .map_or_else(|| "1".to_owned(), str::to_owned);
        let mut out = Vec::new();
        for by in [GroupBy::Bill, GroupBy::User] {
            let these: Vec<String> = keys
                .iter()
                .filter(|k| k.by == by)
                .map(|k| k.key.clone())
                .collect();
            if !these.is_empty() {
                out.extend(
                    self.summaries_in(&conds, &fbinds, by, &these, as_of)
                        .await?,
                );
            }
        }
        Ok(out)
    }

    async fn summaries_in(
        &self,
        conds: &str,
        fbinds: &[Bind],
        by: GroupBy,
        keys: &[String],
        as_of: NaiveDateTime,
    ) -> Result<Vec<FindingGroup>> {
        let mut out = Vec::new();
        if keys.is_empty() {
            return Ok(out);
        }
        let g = x(by.column(), "");
        let (sev, amount) = (x("sev_rank", ""), x("amount_key", ""));
        let list = serde_json::to_string(keys)
            .map_err(|e| WorkspaceError::Corrupt(format!("group keys: {e}")))?;
        let sql = format!(
            "SELECT {g} AS g, COUNT(*) AS n, MIN({sev}) AS g_sev, \
             MAX({amount}) AS g_amount, MIN(first_seen_at) AS g_first, \
             group_concat(DISTINCT kind) AS kinds, group_concat(DISTINCT status) AS statuses, \
             MAX(agent_bill_no) AS bill, MAX(user_id) AS uid FROM findings \
             WHERE {conds} AND {g} IN (SELECT value FROM json_each(?)) GROUP BY {g}"
        );
        let mut b = fbinds.to_vec();
        b.push(Bind::Text(list));
        for r in bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &b)
            .fetch_all(&self.pool)
            .await?
        {
            let key: String = r.try_get("g")?;
            let mut kinds = r
                .try_get::<String, _>("kinds")?
                .split(',')
                .map(parse_kind)
                .collect::<Result<Vec<_>>>()?;
            kinds.sort();
            let mut statuses = r
                .try_get::<String, _>("statuses")?
                .split(',')
                .map(parse_status)
                .collect::<Result<Vec<_>>>()?;
            statuses.sort();
            let first_seen_at = parse_time(&r.try_get::<String, _>("g_first")?)?;
            let sev: i64 = r.try_get("g_sev")?;
            out.push(FindingGroup {
                key: GroupKey { by, key },
                agent_bill_no: r.try_get("bill")?,
                user_id: r.try_get("uid")?,
                count: u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
                kinds,
                statuses,
                severity: match sev {
                    0 => Severity::Critical,
                    1 => Severity::High,
                    2 => Severity::Warning,
                    _ => Severity::Info,
                },
                largest: amount_from_key(&r.try_get::<String, _>("g_amount")?)?,
                first_seen_at,
                age_days: (as_of - first_seen_at).num_days().max(0),
            });
        }
        Ok(out)
    }

    /// Every finding `filter` selects, in `order`; with `group`, in the
    /// grouped queue's order: groups where their first finding stands (as
    /// [`Workspace::page_groups`] lists them), each group's findings together
    /// in `order`. For exports: the whole selection at once (the console
    /// pages instead).
    pub async fn list_queue(
        &self,
        filter: &FindingFilter,
        order: QueueOrder,
        group: Option<GroupBy>,
    ) -> Result<Vec<FindingRow>> {
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, binds) = filter_sql(filter, as_of);
        let dir = if order.desc() { "DESC" } else { "ASC" };
        let cols = match group {
            Some(by) => order.by.group_cols(by),
            None => order.by.finding_cols(),
        };
        let order_sql = key_list(cols, "", &format!(" {dir}"));
        let sql = match group {
            None => {
                format!("SELECT {FINDING_COLUMNS} FROM findings{where_sql} ORDER BY {order_sql}")
            }
            Some(by) => format!(
                "SELECT * FROM (SELECT *, MIN(pos) OVER (PARTITION BY grp) AS gpos FROM \
                 (SELECT {FINDING_COLUMNS}, {} AS grp, ROW_NUMBER() OVER (ORDER BY {order_sql}) AS pos \
                 FROM findings{where_sql})) ORDER BY gpos, pos",
                x(by.column(), "")
            ),
        };
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| row_to_finding(r, as_of)).collect()
    }

    /// How many groups the findings `filter` selects form.
    pub async fn count_groups(&self, filter: &FindingFilter, by: GroupBy) -> Result<u64> {
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, binds) = filter_sql(filter, as_of);
        let sql = format!(
            "SELECT COUNT(DISTINCT {}) FROM findings{where_sql}",
            x(by.column(), "")
        );
        self.count_of(sql, &binds).await
    }

    /// How many findings `filter` selects and the amount at risk among them
    /// (each bill and account once; only open and acknowledged findings the
    /// latest comparable run still produced).
    pub async fn summarize_findings(&self, filter: &FindingFilter) -> Result<QueueSummary> {
        let count = self.count_findings(filter).await?;
        let as_of = filter.as_of.unwrap_or_else(|| self.now());
        let (where_sql, binds) = filter_sql(filter, as_of);
        let cond = "status IN ('open', 'acknowledged') AND absent_since_run IS NULL";
        let sql = format!(
            "SELECT kind, key, agent_bill_no, user_id, difference FROM findings{} {cond} \
             ORDER BY {}",
            if where_sql.is_empty() {
                " WHERE".to_owned()
            } else {
                format!("{where_sql} AND")
            },
            key_list(QueueSort::Severity.finding_cols(), "", "")
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds)
            .fetch_all(&self.pool)
            .await?;
        let mut c = crate::recon::RiskCounter::new();
        for r in &rows {
            let kind = parse_kind(&r.try_get::<String, _>("kind")?)?;
            let key: String = r.try_get("key")?;
            let bill: Option<String> = r.try_get("agent_bill_no")?;
            c.add(
                kind,
                &key,
                bill.as_deref(),
                r.try_get("user_id")?,
                parse_amount(r.try_get("difference")?)?,
            );
        }
        Ok(QueueSummary {
            count,
            at_risk: c.finish().0,
            at_risk_findings: u64::try_from(rows.len()).unwrap_or(0),
        })
    }

    /// The latest hand action (acknowledge, resolve, accept, reopen) of each
    /// of `ids` that has one.
    pub async fn latest_actions(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, LastAction>> {
        let mut out = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let list = serde_json::to_string(ids)
            .map_err(|e| WorkspaceError::Corrupt(format!("finding ids: {e}")))?;
        let sql = format!(
            "SELECT e.finding_id, e.at, e.operator, e.action, e.note FROM finding_events e \
             WHERE e.id IN (SELECT (SELECT x.id FROM finding_events x WHERE x.finding_id = j.value \
             AND x.action IN ({HAND_ACTIONS}) ORDER BY x.id DESC LIMIT 1) FROM json_each(?) j)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(list)
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            out.insert(
                r.try_get("finding_id")?,
                LastAction {
                    at: parse_time(&r.try_get::<String, _>("at")?)?,
                    operator: r.try_get("operator")?,
                    action: r.try_get("action")?,
                    note: r.try_get("note")?,
                },
            );
        }
        Ok(out)
    }

    /// Changes the status of every selected finding that may take the change
    /// (see [`Workspace::set_status`]'s rules; the others are counted as
    /// skipped), with one note, in one transaction: each changed finding
    /// gets its history row and its audit entry, as if changed one by one.
    /// Set-based: a selection of 30,000 costs a handful of statements.
    pub async fn set_status_many(
        &self,
        selection: &Selection,
        to: Status,
        note: &str,
        operator: &str,
    ) -> Result<BulkOutcome> {
        let note = strip_passwords(note.trim());
        let operator = strip_passwords(operator);
        if Status::note_required(to) && note.is_empty() {
            return Err(WorkspaceError::NoteRequired { to });
        }
        let from: Vec<&'static str> = Status::ALL
            .iter()
            .filter(|s| s.allowed_next().contains(&to))
            .map(|s| s.as_str())
            .collect();
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::raw_sql(
            "CREATE TEMP TABLE IF NOT EXISTS ws_bulk (id INTEGER PRIMARY KEY); \
             DELETE FROM temp.ws_bulk;",
        )
        .execute(&mut *tx)
        .await?;
        match selection {
            Selection::Ids(ids) => {
                let list = serde_json::to_string(ids)
                    .map_err(|e| WorkspaceError::Corrupt(format!("finding ids: {e}")))?;
                sqlx::query(
                    "INSERT OR IGNORE INTO temp.ws_bulk (id) \
                     SELECT f.id FROM json_each(?) j JOIN findings f ON f.id = j.value",
                )
                .bind(list)
                .execute(&mut *tx)
                .await?;
            }
            Selection::Groups { filter, keys } => {
                let as_of = filter.as_of.unwrap_or_else(|| self.now());
                for by in [GroupBy::Bill, GroupBy::User] {
                    let these: Vec<&str> = keys
                        .iter()
                        .filter(|k| k.by == by)
                        .map(|k| k.key.as_str())
                        .collect();
                    if these.is_empty() {
                        continue;
                    }
                    let list = serde_json::to_string(&these)
                        .map_err(|e| WorkspaceError::Corrupt(format!("group keys: {e}")))?;
                    let (where_sql, mut binds) = filter_sql(filter, as_of);
                    let sql = format!(
                        "INSERT OR IGNORE INTO temp.ws_bulk (id) SELECT id FROM findings{} \
                         {} IN (SELECT value FROM json_each(?))",
                        if where_sql.is_empty() {
                            " WHERE".to_owned()
                        } else {
                            format!("{where_sql} AND")
                        },
                        x(by.column(), "")
                    );
                    binds.push(Bind::Text(list));
                    bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        let selected: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM temp.ws_bulk")
            .fetch_one(&mut *tx)
            .await?;
        let which = format!(
            "FROM findings WHERE id IN (SELECT id FROM temp.ws_bulk) AND status IN ({})",
            placeholders(from.len())
        );
        let mut q =
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {which}")));
        for s in &from {
            q = q.bind(*s);
        }
        let n = q.fetch_one(&mut *tx).await?;
        let now = self.now();
        let at = fmt_time(now);
        if n > 0 {
            // Each entry's parameters as set_status writes them (plus the
            // size of the batch) as canonical JSON text — keys in byte order,
            // no spaces — made by SQLite in one pass, before the statuses
            // change. Every stored value is already password-free (keys,
            // databases and notes are stripped when written).
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                "SELECT json_object('bulk', ?, 'database', database, 'finding_id', id, \
                 'fingerprint', fingerprint, 'from', status, 'key', key, 'kind', kind, \
                 'note', ?, 'to', ?) {which} ORDER BY id"
            )))
            .bind(n)
            .bind(&note)
            .bind(to.as_str());
            for s in &from {
                q = q.bind(*s);
            }
            let entries = q.fetch_all(&mut *tx).await?;
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO finding_events \
                 (finding_id, run_id, at, operator, action, from_status, to_status, note) \
                 SELECT id, NULL, ?, ?, ?, status, ?, ? {which} ORDER BY id"
            )))
            .bind(&at)
            .bind(&operator)
            .bind(to.action())
            .bind(to.as_str())
            .bind(&note);
            for s in &from {
                q = q.bind(*s);
            }
            q.execute(&mut *tx).await?;
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE findings SET status = ?, status_at = ? WHERE id IN (SELECT id {which})"
            )))
            .bind(to.as_str())
            .bind(&at);
            for s in &from {
                q = q.bind(*s);
            }
            q.execute(&mut *tx).await?;
            append_audit_many(&mut tx, &at, &operator, to.action(), &entries).await?;
        }
        sqlx::query("DELETE FROM temp.ws_bulk")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let changed = u64::try_from(n).unwrap_or(0);
        Ok(BulkOutcome {
            changed,
            skipped: u64::try_from(selected).unwrap_or(0).saturating_sub(changed),
        })
    }

    /// The amount at risk of one database's queue: its open and acknowledged
    /// findings that the latest comparable run still produced, each bill and
    /// account counted once — the figure `summary.json` gives for a run.
    pub async fn at_risk(&self, database: &str) -> Result<crate::recon::AtRisk> {
        Ok(self
            .summarize_findings(&FindingFilter {
                database: Some(database.to_owned()),
                statuses: vec![Status::Open, Status::Acknowledged],
                ..FindingFilter::default()
            })
            .await?
            .at_risk)
    }
}

/// Audit entries per insert.
const AUDIT_BATCH: usize = 5000;

/// Appends one audit entry per element of `params` (canonical JSON text,
/// already free of passwords), all at `at` by
/// `operator` doing `action`, inside the caller's transaction: the same
/// chain [`audit::append_in`] extends one entry at a time (same encoding,
/// same hash, head updated once at the end), written in batches.
async fn append_audit_many(
    conn: &mut SqliteConnection,
    at: &str,
    operator: &str,
    action: &str,
    params: &[String],
) -> Result<()> {
    let head = sqlx::query("SELECT entries, hash FROM audit_head WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(WorkspaceError::AuditHeadMissing)?;
    let mut entries: i64 = head.try_get("entries")?;
    let mut prev: String = head.try_get("hash")?;
    let operator = strip_passwords(operator);
    let action = strip_passwords(action);
    for chunk in params.chunks(AUDIT_BATCH) {
        // [seq, params, prev_hash, hash] per entry, in one JSON array: one
        // bound value per batch instead of seven per entry.
        let mut rows: Vec<(i64, &str, String, String)> = Vec::with_capacity(chunk.len());
        for p in chunk {
            let seq = entries + 1;
            let seq_u = u64::try_from(seq).map_err(|_| {
                WorkspaceError::Corrupt(format!(
                    "the audit head's entry count is negative ({entries})"
                ))
            })?;
            let hash = audit::audit_hash(seq_u, at, &operator, &action, p, &prev);
            rows.push((
                seq,
                p.as_str(),
                std::mem::replace(&mut prev, hash.clone()),
                hash,
            ));
            entries = seq;
        }
        let json = serde_json::to_string(&rows)
            .map_err(|e| WorkspaceError::Corrupt(format!("audit entries: {e}")))?;
        sqlx::query(
            "INSERT INTO audit_log (seq, at, operator, action, params, prev_hash, hash) \
             SELECT j.value ->> 0, ?, ?, ?, j.value ->> 1, j.value ->> 2, j.value ->> 3 \
             FROM json_each(?) j ORDER BY j.key",
        )
        .bind(at)
        .bind(&operator)
        .bind(&action)
        .bind(json)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("UPDATE audit_head SET entries = ?, hash = ? WHERE id = 1")
        .bind(entries)
        .bind(&prev)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
