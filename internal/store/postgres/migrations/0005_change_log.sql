-- Two things other processes need to learn about, done the same way on both
-- backends:
--
-- 1. The change counters of 0002 become an append-only change log. Every
--    committed change to what a process caches appends a row (seq, kind,
--    key, at) in the same transaction, written by the triggers below, so a
--    reader learns what changed (which client, which revoked token), not
--    only that something did, and no row is updated by every write in the
--    cluster: seq comes from a sequence, which takes no row lock. kind is
--    'client' (key: the client ID, also for its secrets), 'revocation' (key:
--    the token ID) or 'signing_key' (key: the key's tenant, '' for all).
--    Last-used times are left out: they change constantly and no cache
--    depends on them. Old rows are pruned by the readers.
--
--    Sequence values are handed out at insert, not at commit, so a row may
--    become visible after rows with higher seqs: readers remember the gaps
--    they see for a while (package changes).
--
-- 2. Signing keys get a state: 'next' (published ahead of use, not yet
--    signing), 'current' (signing) or 'retired' (published until its tokens
--    expire), and the time each started signing.

DROP TRIGGER clients_changed ON clients;
DROP TRIGGER secrets_changed ON client_secrets;
DROP TRIGGER revocations_changed ON revocations;
DROP TRIGGER signing_keys_changed ON signing_keys;
DROP FUNCTION bump_changes();
DROP TABLE changes;

ALTER TABLE signing_keys
    ADD COLUMN state text COLLATE "C" NOT NULL DEFAULT 'current',
    ADD COLUMN activated_at timestamptz;
UPDATE signing_keys SET state = 'retired' WHERE retired_at IS NOT NULL;
UPDATE signing_keys SET activated_at = created_at;
DROP INDEX signing_keys_one_current;
-- At most one next and one current key, whatever instances race to rotate.
-- One next and one current key per tenant.
CREATE UNIQUE INDEX signing_keys_one_per_state ON signing_keys (tenant_id, state) WHERE state IN ('next', 'current');

CREATE TABLE change_log (
    seq  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text COLLATE "C" NOT NULL,
    key  text COLLATE "C" NOT NULL,
    at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX change_log_by_at ON change_log (at);

-- log_change appends one row of kind TG_ARGV[0] whose key is the column
-- TG_ARGV[1] of the changed row, or '' when the row has no such column
-- (read through jsonb so that a column added later is picked up).
CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    INSERT INTO change_log (kind, key) VALUES (TG_ARGV[0], COALESCE(to_jsonb(r) ->> TG_ARGV[1], ''));
    RETURN NULL;
END
$$;

CREATE TRIGGER clients_logged AFTER INSERT OR DELETE OR UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at
    ON clients FOR EACH ROW EXECUTE FUNCTION log_change('client', 'id');
CREATE TRIGGER secrets_logged AFTER INSERT OR DELETE OR UPDATE OF hash, status, expires_at, revoked_at
    ON client_secrets FOR EACH ROW EXECUTE FUNCTION log_change('client', 'client_id');
CREATE TRIGGER revocations_logged AFTER INSERT OR UPDATE OF expires_at
    ON revocations FOR EACH ROW EXECUTE FUNCTION log_change('revocation', 'token_id');
CREATE TRIGGER signing_keys_logged AFTER INSERT OR DELETE OR UPDATE
    ON signing_keys FOR EACH ROW EXECUTE FUNCTION log_change('signing_key', 'tenant_id');
