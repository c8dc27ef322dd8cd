-- Allowlist entries for every tenant, for one account, with who added them and when
-- they expire, trusting applications and whole rules too (as allowlist_scope.sql).
ALTER TABLE allowlist ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE allowlist ADD COLUMN account TEXT COLLATE "C";
ALTER TABLE allowlist ADD COLUMN added_by TEXT COLLATE "C";
ALTER TABLE allowlist ADD COLUMN expires_at TEXT COLLATE "C";
ALTER TABLE allowlist DROP CONSTRAINT allowlist_kind_check;
ALTER TABLE allowlist ADD CONSTRAINT allowlist_kind_check
    CHECK (kind IN ('destination', 'rule_name', 'application', 'rule'));
DROP INDEX allowlist_entry;
CREATE UNIQUE INDEX allowlist_entry
    ON allowlist (COALESCE(tenant_id, ''), COALESCE(lower(account), ''), kind, lower(value));
