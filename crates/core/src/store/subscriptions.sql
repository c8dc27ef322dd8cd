-- The last subscriptions/start per tenant and content type: Microsoft allows one every
-- 15 minutes, so a stopped subscription is restarted at most that often.
CREATE TABLE subscription_starts (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    content_type  TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    -- When the start failed: the problem's kind and message, to repeat until the next try.
    problem       TEXT,
    message       TEXT,
    PRIMARY KEY (tenant_id, content_type)
);
