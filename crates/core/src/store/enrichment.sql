-- The addresses each user signed in from (Audit.AzureActiveDirectory UserLoggedIn),
-- to tell a change made from somewhere new.
CREATE TABLE sign_ins (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    user        TEXT NOT NULL,
    ip          TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    sign_ins    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user, ip)
);

-- Where the change came from: the address's location and whether the actor had signed
-- in from there before (JSON; NULL when nothing could be learnt).
ALTER TABLE alerts ADD COLUMN origin TEXT;
