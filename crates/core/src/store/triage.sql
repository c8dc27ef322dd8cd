-- Triage that names people (issue 14): who holds an alert, since when, and each step of
-- its review (taken, released, a status, a note) with the technician and the time.
ALTER TABLE alerts ADD COLUMN assignee TEXT;
ALTER TABLE alerts ADD COLUMN assigned_at TEXT;
CREATE TABLE alert_history (
    id          INTEGER PRIMARY KEY,
    alert_id    INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    technician  TEXT NOT NULL,
    action      TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX alert_history_by_alert ON alert_history (alert_id, id);
