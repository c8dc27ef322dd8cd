-- Destinations and rule names a technician trusts for one tenant.
CREATE TABLE allowlist (
    id         INTEGER PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('destination', 'rule_name')),
    value      TEXT NOT NULL COLLATE NOCASE,
    note       TEXT,
    added_at   TEXT NOT NULL,
    UNIQUE (tenant_id, kind, value)
);

-- Why an alert was stored as suppressed (status 'suppressed') instead of notified.
ALTER TABLE alerts ADD COLUMN suppressed_by TEXT;

-- The outside destinations of forwarding alerts, for forwarding-fan-in across tenants.
CREATE TABLE forwards (
    alert_id     INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    destination  TEXT NOT NULL,
    PRIMARY KEY (alert_id, destination)
);
CREATE INDEX forwards_by_destination ON forwards (destination);
