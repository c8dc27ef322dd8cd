-- Every remediation step, hash-chained: each row's hash covers its fields and the hash
-- of the row before it, so an edited, deleted or inserted row breaks the chain.
-- No foreign keys: the record outlives the tenant and the alert it is about.
CREATE TABLE remediation_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    os_user TEXT NOT NULL,
    machine TEXT NOT NULL,
    -- The partner account whose sign-in made the change, when it was not the app's own.
    operator TEXT,
    tenant_id TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    alert_id INTEGER,
    action TEXT NOT NULL,
    -- What was asked of Microsoft, never a secret.
    request TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    -- The row an undo reverses.
    undoes INTEGER,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX remediation_log_alert ON remediation_log (alert_id);
CREATE INDEX remediation_log_undoes ON remediation_log (undoes);
