-- Allowlist entries for every tenant (no tenant), for one account, with who added them
-- and when they expire (issue 16 item 5); entries may trust an application or a whole
-- rule. SQLite cannot drop a NOT NULL constraint, so the table is rebuilt.
CREATE TABLE allowlist_scoped (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    account     TEXT COLLATE NOCASE,
    kind        TEXT NOT NULL CHECK (kind IN ('destination', 'rule_name', 'application', 'rule')),
    value       TEXT NOT NULL COLLATE NOCASE,
    note        TEXT,
    added_at    TEXT NOT NULL,
    added_by    TEXT,
    expires_at  TEXT
);
INSERT INTO allowlist_scoped (id, tenant_id, kind, value, note, added_at)
    SELECT id, tenant_id, kind, value, note, added_at FROM allowlist;
DROP TABLE allowlist;
ALTER TABLE allowlist_scoped RENAME TO allowlist;
-- One entry per scope and value; no tenant and no account count as one scope each.
CREATE UNIQUE INDEX allowlist_entry
    ON allowlist (COALESCE(tenant_id, ''), COALESCE(lower(account), ''), kind, lower(value));
