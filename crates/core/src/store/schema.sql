-- Tenants Rulewatch watches. Secrets are in the OS keychain, never here.
CREATE TABLE tenants (
    tenant_id        TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    auth_method      TEXT NOT NULL CHECK (auth_method IN ('client_secret', 'certificate')),
    cert_thumbprint  TEXT,
    added_at         TEXT NOT NULL
);

-- The outcome of the latest scan of each tenant.
CREATE TABLE tenant_status (
    tenant_id        TEXT PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    state            TEXT NOT NULL,
    problem          TEXT,
    message          TEXT,
    last_attempt_at  TEXT,
    last_success_at  TEXT,
    throttled        INTEGER NOT NULL DEFAULT 0,
    retried          INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE accepted_domains (
    tenant_id   TEXT PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    domains     TEXT NOT NULL,
    fetched_at  TEXT NOT NULL
);

-- Every blob listed before this instant has been processed (or recorded as lost).
CREATE TABLE cursors (
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    content_type    TEXT NOT NULL,
    complete_until  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, content_type)
);

CREATE TABLE processed_blobs (
    tenant_id        TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    content_id       TEXT NOT NULL,
    content_created  TEXT NOT NULL,
    processed_at     TEXT NOT NULL,
    records          INTEGER NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('processed', 'expired')),
    PRIMARY KEY (tenant_id, content_id)
);

-- Errors and data gaps worth keeping beyond the latest status.
CREATE TABLE tenant_events (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    content_id  TEXT,
    message     TEXT NOT NULL
);

-- Alerts outlive their tenant's removal: they are the history of what happened.
CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    tenant_name  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    rule         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    operation    TEXT NOT NULL,
    target       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    client_ip    TEXT,
    summary      TEXT NOT NULL,
    details      TEXT NOT NULL,
    event_time   TEXT,
    detected_at  TEXT NOT NULL,
    content_id   TEXT,
    status       TEXT NOT NULL DEFAULT 'open',
    raw_record   TEXT NOT NULL,
    UNIQUE (tenant_id, record_id, rule)
);

-- Alerts waiting to be delivered (printed by `scan`, notified by the desktop app).
CREATE TABLE outbox (
    alert_id      INTEGER PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
    queued_at     TEXT NOT NULL,
    delivered_at  TEXT
);
CREATE INDEX outbox_pending ON outbox (alert_id) WHERE delivered_at IS NULL;
