-- Counters that grow with every committed change to what other processes
-- cache: clients and their secrets, the revocation list, the signing keys.
-- One cheap read tells the CLI's or another instance's changes apart from
-- none. Last-used times are left out: they change constantly and no cache
-- depends on them. Each kind has its own counter, so a burst of token
-- revocations never empties the client cache.
CREATE TABLE changes (
    name    TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO changes (name, version) VALUES ('clients', 0), ('revocations', 0), ('signing_keys', 0);

CREATE TRIGGER clients_changed_insert AFTER INSERT ON clients BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'clients';
END;
CREATE TRIGGER clients_changed_update AFTER UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at ON clients BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'clients';
END;
CREATE TRIGGER clients_changed_delete AFTER DELETE ON clients BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'clients';
END;
CREATE TRIGGER secrets_changed_insert AFTER INSERT ON client_secrets BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'clients';
END;
CREATE TRIGGER secrets_changed_update AFTER UPDATE OF hash, status, expires_at, revoked_at ON client_secrets BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'clients';
END;
CREATE TRIGGER secrets_changed_delete AFTER DELETE ON client_secrets BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'clients';
END;
CREATE TRIGGER revocations_changed_insert AFTER INSERT ON revocations BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'revocations';
END;
CREATE TRIGGER signing_keys_changed_insert AFTER INSERT ON signing_keys BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'signing_keys';
END;
CREATE TRIGGER signing_keys_changed_update AFTER UPDATE ON signing_keys BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'signing_keys';
END;
CREATE TRIGGER signing_keys_changed_delete AFTER DELETE ON signing_keys BEGIN
    UPDATE changes SET version = version + 1 WHERE name = 'signing_keys';
END;
