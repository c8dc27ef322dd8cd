-- Who is on duty (issue 14): a technician off duty gets no desktop notification; the
-- panel still lists every alert. No row: on duty.
CREATE TABLE technicians (
    name        TEXT PRIMARY KEY,
    on_duty     INTEGER NOT NULL,
    changed_at  TEXT NOT NULL
);
