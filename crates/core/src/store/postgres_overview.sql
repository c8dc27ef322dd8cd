-- The Overview's chart counts the incidents begun in its last 30 days (issue 15): a range
-- of this index rather than a read of every alert.
CREATE INDEX incidents_by_first_event ON incidents (first_event, id);
