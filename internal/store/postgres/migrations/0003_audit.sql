-- The audit trail: append-only events, one hash chain per tenant. The
-- chain's head (the last event's seq and hash) has a row of its own, locked
-- FOR UPDATE by each append, so appends to one tenant's chain serialise
-- while other tenants' do not wait.
CREATE TABLE audit_events (
    tenant_id   text NOT NULL COLLATE "C",
    seq         bigint NOT NULL,
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL,
    actor_name  text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL COLLATE "C",
    result      text NOT NULL,
    source_addr text NOT NULL,
    request_id  text NOT NULL,
    changes     text[] NOT NULL,
    details     text NOT NULL, -- a JSON object of strings, as the hash saw it
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE INDEX audit_events_by_target ON audit_events (tenant_id, target_type, target_id, seq);

CREATE TABLE audit_heads (
    tenant_id text PRIMARY KEY COLLATE "C",
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
