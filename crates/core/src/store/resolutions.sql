-- Resolving an incident (issue 13): when and why, and its news for each channel the
-- technician added (a webhook's `incident.resolved`, a PSA ticket's closing note),
-- queued like alerts and monitoring events.
ALTER TABLE incidents ADD COLUMN resolved_at TEXT;
ALTER TABLE incidents ADD COLUMN resolution_note TEXT;
CREATE TABLE resolution_deliveries (
    channel          TEXT NOT NULL REFERENCES channels (name) ON DELETE CASCADE,
    incident_id      INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    queued_at        TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  TEXT,
    last_error       TEXT,
    next_attempt_at  TEXT,
    delivered_at     TEXT,
    PRIMARY KEY (channel, incident_id)
);
