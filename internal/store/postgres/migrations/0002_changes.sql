-- Counters that grow with every committed change to what other processes
-- cache: clients and their secrets, the revocation list, the signing keys.
-- They are rows, not sequences, so a new value becomes visible only when the
-- change commits. Last-used times are left out: they change constantly and
-- no cache depends on them. Each kind has its own counter, so a burst of
-- token revocations never empties the client cache.
CREATE TABLE changes (
    name    text PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO changes (name, version) VALUES ('clients', 0), ('revocations', 0), ('signing_keys', 0);

CREATE FUNCTION bump_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE changes SET version = version + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$;

CREATE TRIGGER clients_changed AFTER INSERT OR DELETE OR UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at
    ON clients FOR EACH STATEMENT EXECUTE FUNCTION bump_changes('clients');
CREATE TRIGGER secrets_changed AFTER INSERT OR DELETE OR UPDATE OF hash, status, expires_at, revoked_at
    ON client_secrets FOR EACH STATEMENT EXECUTE FUNCTION bump_changes('clients');
CREATE TRIGGER revocations_changed AFTER INSERT
    ON revocations FOR EACH STATEMENT EXECUTE FUNCTION bump_changes('revocations');
CREATE TRIGGER signing_keys_changed AFTER INSERT OR DELETE OR UPDATE
    ON signing_keys FOR EACH STATEMENT EXECUTE FUNCTION bump_changes('signing_keys');
