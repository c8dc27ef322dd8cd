-- Issue 13. `sent`: whether a delivered row was sent (0: the channel's route passed it
-- over), so the first message a channel sends about an incident says it opened even
-- when the incident's earlier alerts were below the channel's route.
-- `digest_sent_at`: when an e-mail channel last sent its daily digest.
ALTER TABLE deliveries ADD COLUMN sent INTEGER NOT NULL DEFAULT 1;
ALTER TABLE channels ADD COLUMN digest_sent_at TEXT;
-- The PSA ticket each incident (or a tenant's broken monitoring) opened in a PSA
-- channel; `opened_by_alert`: the alert whose delivery opened it.
CREATE TABLE psa_tickets (
    channel          TEXT NOT NULL REFERENCES channels (name) ON DELETE CASCADE,
    thread           TEXT NOT NULL,
    ticket_id        INTEGER NOT NULL,
    opened_by_alert  INTEGER,
    opened_at        TEXT NOT NULL,
    PRIMARY KEY (channel, thread)
);
