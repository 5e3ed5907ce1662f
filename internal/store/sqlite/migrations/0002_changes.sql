-- A counter that grows with every committed change to a client, a secret or
-- the revocation list, so other processes (the CLI, other instances) can
-- tell their caches are stale with one cheap read. Last-used times are left
-- out: they change constantly and no cache depends on them.
CREATE TABLE changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO changes (id, version) VALUES (1, 0);

CREATE TRIGGER clients_changed_insert AFTER INSERT ON clients BEGIN
    UPDATE changes SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_changed_update AFTER UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at ON clients BEGIN
    UPDATE changes SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_changed_delete AFTER DELETE ON clients BEGIN
    UPDATE changes SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER secrets_changed_insert AFTER INSERT ON client_secrets BEGIN
    UPDATE changes SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER secrets_changed_update AFTER UPDATE OF hash, status, expires_at, revoked_at ON client_secrets BEGIN
    UPDATE changes SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER secrets_changed_delete AFTER DELETE ON client_secrets BEGIN
    UPDATE changes SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER revocations_changed_insert AFTER INSERT ON revocations BEGIN
    UPDATE changes SET version = version + 1 WHERE id = 1;
END;
