-- Many instances on one database: every row of the change log is also
-- sent, as it commits, on the channel latchkey_changes (NOTIFY is
-- delivered at commit and never for
-- a transaction that rolls back), so that instances listening apply a
-- change within milliseconds instead of at their next poll. The payload
-- carries the row itself, so a revocation is applied by its token ID and
-- nothing is reloaded whole; "at" (microseconds since the epoch) lets
-- a listener measure how long the change took to reach it. Polling the
-- log stays as the safety net for a listener that lost its connection.

CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('latchkey_changes', json_build_object(
        'seq', NEW.seq, 'kind', NEW.kind, 'key', NEW.key,
        'at', (extract(epoch FROM NEW.at) * 1000000)::bigint)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER change_log_notified AFTER INSERT ON change_log
    FOR EACH ROW EXECUTE FUNCTION notify_change();
