-- payrecon workspace, schema version 2.

-- Small per-workspace settings, such as the operator's name (key 'operator')
-- asked once by the console and used for every run, resolution and export.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Where a run wrote its results (findings.csv, summary.json), so that past
-- runs can be listed with their outputs; NULL for runs recorded before.
ALTER TABLE runs ADD COLUMN out_dir TEXT;

-- A case shows the findings of its bill and of its user.
CREATE INDEX findings_by_bill ON findings (database, agent_bill_no);
CREATE INDEX findings_by_user ON findings (database, user_id);
