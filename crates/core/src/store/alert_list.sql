-- The panel reads the alert list a page at a time, newest first (issue 15). Walking
-- alerts_by_time, a page stops after its rows, and it holds every column the filters and
-- the search read, so neither they nor a count read the table, whose rows carry the raw
-- audit record. alerts_by_status and alerts_by_tenant count and find one status's or one
-- tenant's alerts, and the tenant filter's options, without a pass over every alert.
CREATE INDEX alerts_by_time ON alerts (
    event_time, id, status, severity, assignee, tenant_id,
    tenant_name, rule, target, actor, client_ip, summary
);
CREATE INDEX alerts_by_status ON alerts (status, event_time, id);
CREATE INDEX alerts_by_tenant ON alerts (tenant_id, event_time, id);
-- A forwarding fan-in looks for the open fan-in alert of its destination within its
-- window on every forwarding alert stored; without this it read every alert each time,
-- which a year of alerts made quadratic. Rule and time only: no text an audit record
-- chose goes in the entry.
CREATE INDEX alerts_by_rule ON alerts (rule, event_time);
