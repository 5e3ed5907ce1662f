-- A counter that grows with every committed change to a client, a secret or
-- the revocation list, so other instances and the CLI's changes reach
-- caches with one cheap read. It is a row, not a sequence, so the new value
-- becomes visible only when the change commits. Last-used times are left
-- out: they change constantly and no cache depends on them.
CREATE TABLE changes (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO changes (id, version) VALUES (1, 0);

CREATE FUNCTION bump_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE changes SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER clients_changed AFTER INSERT OR DELETE OR UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at
    ON clients FOR EACH STATEMENT EXECUTE FUNCTION bump_changes();
CREATE TRIGGER secrets_changed AFTER INSERT OR DELETE OR UPDATE OF hash, status, expires_at, revoked_at
    ON client_secrets FOR EACH STATEMENT EXECUTE FUNCTION bump_changes();
CREATE TRIGGER revocations_changed AFTER INSERT
    ON revocations FOR EACH STATEMENT EXECUTE FUNCTION bump_changes();
