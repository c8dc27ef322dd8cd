-- A queue per channel (issue 13): the desktop's notifications and `rulewatch scan`'s
-- output each receive every alert, so whichever runs first no longer takes an alert
-- from the other, as the single outbox did. Later channels (webhooks, e-mail, PSAs)
-- add their own rows here.
CREATE TABLE channels (
    name      TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    added_at  TEXT NOT NULL
);
INSERT INTO channels (name, kind, added_at) VALUES
    ('desktop', 'desktop', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('scan', 'scan', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- One row per alert a channel is to receive; `delivered_at` is set once it has.
CREATE TABLE deliveries (
    channel          TEXT NOT NULL REFERENCES channels (name) ON DELETE CASCADE,
    alert_id         INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    queued_at        TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  TEXT,
    last_error       TEXT,
    delivered_at     TEXT,
    PRIMARY KEY (channel, alert_id)
);
CREATE INDEX deliveries_pending ON deliveries (channel, alert_id) WHERE delivered_at IS NULL;

-- What the outbox still held goes to both; what it had delivered stays delivered.
INSERT INTO deliveries (channel, alert_id, queued_at, delivered_at)
    SELECT c.name, o.alert_id, o.queued_at, o.delivered_at FROM outbox o CROSS JOIN channels c;
DROP TABLE outbox;
