-- Channels a technician adds (issue 13): a webhook's URL (never its secret, which is in
-- the keychain) in `config`; and when a failed delivery is next tried.
ALTER TABLE channels ADD COLUMN config TEXT;
ALTER TABLE deliveries ADD COLUMN next_attempt_at TEXT;
