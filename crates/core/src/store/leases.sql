-- One scan of a tenant at a time across the processes on one data folder (the desktop
-- app, `rulewatch watch`, `rulewatch scan`): a process holds a tenant's lease while it
-- scans it; a lease left by a process that died expires.
CREATE TABLE scan_leases (
    tenant_id   TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
