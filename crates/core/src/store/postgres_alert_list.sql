-- The panel reads the alert list a page at a time, newest first (issue 15): as SQLite's
-- alert_list.sql, except that alerts_by_time holds no text an audit record chose (the
-- summary, the mailbox…), since a B-tree entry longer than about 2.7 kB would refuse the
-- alert's insert; a search reads the table.
CREATE INDEX alerts_by_time ON alerts (event_time, id, status, severity, assignee, tenant_id);
CREATE INDEX alerts_by_status ON alerts (status, event_time, id);
CREATE INDEX alerts_by_tenant ON alerts (tenant_id, event_time, id);
-- A forwarding fan-in looks for the open fan-in alert of its destination within its
-- window on every forwarding alert stored; without this it read every alert each time,
-- which a year of alerts made quadratic. Rule and time only: no text an audit record
-- chose goes in the entry.
CREATE INDEX alerts_by_rule ON alerts (rule, event_time);
