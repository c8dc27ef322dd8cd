-- Incidents (issue 13): the alerts about one mailbox of one tenant within a day, or a
-- fan-in's about one outside address, are one incident; a channel reports an incident
-- once and later alerts update it. `key` is a UUID, stable wherever the row is copied.
CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    tenant_id    TEXT NOT NULL,
    tenant_name  TEXT NOT NULL,
    -- The mailbox (or a fan-in's outside address), lower-cased.
    subject      TEXT NOT NULL,
    severity     TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    first_event  TEXT NOT NULL,
    last_event   TEXT NOT NULL,
    opened_at    TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX incidents_by_subject ON incidents (tenant_id, subject, last_event);

ALTER TABLE alerts ADD COLUMN incident_id INTEGER REFERENCES incidents (id);
CREATE INDEX alerts_by_incident ON alerts (incident_id);
