-- burst_events as bursts.sql makes it for SQLite.
CREATE TABLE burst_events (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    record_id  TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    at         TEXT COLLATE "C" NOT NULL,
    event      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, record_id)
);
CREATE INDEX burst_events_by_key ON burst_events (tenant_id, kind, key, at);
CREATE INDEX burst_events_by_time ON burst_events (at);
