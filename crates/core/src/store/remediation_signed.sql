-- Each row names the scheme its hash was made with: 'sha256' (plain SHA-256: every row
-- written before the record was signed) or 'hmac-sha256' (keyed: every row from now on).
-- The first keyed row covers the hash of the last plain one, so it anchors them.
ALTER TABLE remediation_log ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';
