-- What the technician decided about an alert: acknowledged, or a false positive and why.
ALTER TABLE alerts ADD COLUMN status_note TEXT;
ALTER TABLE alerts ADD COLUMN status_changed_at TEXT;
