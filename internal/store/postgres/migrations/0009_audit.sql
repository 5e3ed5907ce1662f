-- An update's values before and after, and the indexes the audit log's
-- queries need. before_values and after_values are JSON objects of
-- strings, as the hash saw them, or NULL for an event that records no
-- values (every event stored before this migration): the hash omits them
-- then, so older chains verify unchanged.
ALTER TABLE audit_events ADD COLUMN before_values text, ADD COLUMN after_values text;

-- An action prefix ("client.") is a range of actions, which must sort by
-- their bytes, as on SQLite: the "C" collation. Only the collation
-- changes, so the table is not rewritten.
ALTER TABLE audit_events ALTER COLUMN action SET DATA TYPE text COLLATE "C";

-- The log is read by time (an export since a moment), by action or action
-- prefix, and by actor; by target the index of 0003 answers. Each ends in
-- seq, which orders a page.
CREATE INDEX audit_events_by_time ON audit_events (tenant_id, at, seq);
CREATE INDEX audit_events_by_action ON audit_events (tenant_id, action, seq);
CREATE INDEX audit_events_by_actor ON audit_events (tenant_id, actor_id, seq);
