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
