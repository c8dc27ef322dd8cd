-- Monitoring that breaks is news (issue 13): a tenant whose scans start failing, or
-- recover, is an event for the channels the technician added, once per change of state.
CREATE TABLE monitoring_events (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    tenant_name  TEXT NOT NULL,
    event        TEXT NOT NULL CHECK (event IN ('tenant.broken', 'tenant.recovered')),
    problem      TEXT,
    message      TEXT,
    at           TEXT NOT NULL
);

CREATE TABLE event_deliveries (
    channel          TEXT NOT NULL REFERENCES channels (name) ON DELETE CASCADE,
    event_id         INTEGER NOT NULL REFERENCES monitoring_events (id) ON DELETE CASCADE,
    queued_at        TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  TEXT,
    last_error       TEXT,
    next_attempt_at  TEXT,
    delivered_at     TEXT,
    PRIMARY KEY (channel, event_id)
);
CREATE INDEX event_deliveries_pending ON event_deliveries (channel, event_id) WHERE delivered_at IS NULL;
