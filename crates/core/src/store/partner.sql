-- Tenants reached through the signed-in partner account (GDAP) sit beside app-only
-- ones. SQLite cannot change a CHECK, so the table is rebuilt (foreign keys are off
-- while migrations run, so nothing referring to it is touched).
CREATE TABLE tenants_new (
    tenant_id        TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    auth_method      TEXT NOT NULL CHECK (auth_method IN ('client_secret', 'certificate', 'partner')),
    cert_thumbprint  TEXT,
    added_at         TEXT NOT NULL
);
INSERT INTO tenants_new (tenant_id, name, client_id, auth_method, cert_thumbprint, added_at)
    SELECT tenant_id, name, client_id, auth_method, cert_thumbprint, added_at FROM tenants;
DROP TABLE tenants;
ALTER TABLE tenants_new RENAME TO tenants;

-- Every customer the partner account reached when last listed.
CREATE TABLE partner_customers (
    tenant_id      TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    -- The technician chose not to watch it, even with "watch all customers" on.
    excluded       INTEGER NOT NULL DEFAULT 0,
    -- The GDAP roles the partner's active relationships grant in it (JSON array of
    -- names); NULL when they could not be read.
    gdap_roles     TEXT,
    first_seen_at  TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL
);
