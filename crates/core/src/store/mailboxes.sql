-- Mailboxes named by GUID or alias (Set-InboxRule's ObjectId is `<mailbox GUID>\<rule id>`,
-- ../shared/reference/m365-api.md): the UPN Exchange gave for the name, kept per tenant,
-- and on each alert, so one mailbox's alerts form one incident whatever each record
-- called it.
ALTER TABLE alerts ADD COLUMN mailbox TEXT;
CREATE TABLE mailbox_names (
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    upn          TEXT NOT NULL,
    resolved_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
