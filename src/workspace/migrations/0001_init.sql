-- payrecon workspace, schema version 1 (PRAGMA user_version = 1).
-- payrecon's own state; never the payment database. Times are business-local
-- TEXT 'YYYY-MM-DD HH:MM:SS.fff', amounts canonical decimal TEXT ('100.00'),
-- JSON as TEXT. Nothing here ever holds a password.

-- Every reconciliation run, whatever its outcome.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    operator    TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    database    TEXT NOT NULL,
    period_from TEXT,
    period_to   TEXT,
    params      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'cancelled')),
    reason      TEXT,
    findings    INTEGER NOT NULL,
    counts      TEXT NOT NULL
);
CREATE INDEX runs_by_database ON runs (database, id);

-- One row per finding identity (database, kind, key) across runs.
CREATE TABLE findings (
    id                INTEGER PRIMARY KEY,
    fingerprint       TEXT NOT NULL UNIQUE,
    database          TEXT NOT NULL,
    kind              TEXT NOT NULL,
    key               TEXT NOT NULL,
    severity          TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('open', 'acknowledged', 'resolved', 'accepted')),
    status_at         TEXT NOT NULL,
    agent_bill_no     TEXT,
    user_id           INTEGER,
    amount_internal   TEXT,
    amount_external   TEXT,
    difference        TEXT,
    attempts          INTEGER,
    event_first       TEXT,
    event_last        TEXT,
    detail_zh         TEXT NOT NULL,
    detail_en         TEXT NOT NULL,
    first_seen_run    INTEGER NOT NULL REFERENCES runs (id),
    first_seen_at     TEXT NOT NULL,
    last_seen_run     INTEGER NOT NULL REFERENCES runs (id),
    last_seen_at      TEXT NOT NULL,
    times_seen        INTEGER NOT NULL,
    absent_since_run  INTEGER REFERENCES runs (id),
    last_absent_run   INTEGER REFERENCES runs (id),
    last_absent_at    TEXT
);
CREATE INDEX findings_by_status ON findings (database, status, first_seen_at);
CREATE INDEX findings_by_last_seen ON findings (database, last_seen_run);
CREATE INDEX findings_by_age ON findings (first_seen_at);
CREATE INDEX findings_by_first_run ON findings (first_seen_run);

-- Every status change of a finding (detection included), never updated.
CREATE TABLE finding_events (
    id          INTEGER PRIMARY KEY,
    finding_id  INTEGER NOT NULL REFERENCES findings (id),
    run_id      INTEGER REFERENCES runs (id),
    at          TEXT NOT NULL,
    operator    TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    note        TEXT NOT NULL
);
CREATE INDEX finding_events_by_finding ON finding_events (finding_id, id);

-- The most recent connections, password-free.
CREATE TABLE recent_connections (
    url       TEXT PRIMARY KEY,
    backend   TEXT NOT NULL,
    last_used TEXT NOT NULL,
    uses      INTEGER NOT NULL,
    used_seq  INTEGER NOT NULL
);

-- The hash-chained audit log (SPEC §8).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    operator  TEXT NOT NULL,
    action    TEXT NOT NULL,
    params    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- The chain's running head, updated with every append, so that removing the
-- last entries is detected.
CREATE TABLE audit_head (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    entries INTEGER NOT NULL,
    hash    TEXT NOT NULL
);
INSERT INTO audit_head (id, entries, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
