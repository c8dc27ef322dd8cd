-- What each record counts towards a burst (rulewatch-detect's burst.rs): mail deleted or
-- synchronised in bulk, accounts or admins removed in bulk. Kept as long as blob marks, so
-- a burst split across blobs, scans or a late blob is still counted whole (issue 16).
CREATE TABLE burst_events (
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    record_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    at         TEXT NOT NULL,
    -- The event as JSON (burst::Countable).
    event      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, record_id)
);
CREATE INDEX burst_events_by_key ON burst_events (tenant_id, kind, key, at);
CREATE INDEX burst_events_by_time ON burst_events (at);
