-- Two things other processes need to learn about, done the same way on both
-- backends:
--
-- 1. The change counters of 0002 become an append-only change log. Every
--    committed change to what a process caches appends a row (seq, kind,
--    key, at) in the same transaction, written by the triggers below, so a
--    reader learns what changed (which client, which revoked token), not
--    only that something did, and no row is updated by every write. kind is
--    'client' (key: the client ID, also for its secrets), 'revocation' (key:
--    the token ID) or 'signing_key' (key: the key's tenant, '' for all).
--    Last-used times are left out: they change constantly and no cache
--    depends on them. Old rows are pruned by the readers.
--
-- 2. Signing keys get a state: 'next' (published ahead of use, not yet
--    signing), 'current' (signing) or 'retired' (published until its tokens
--    expire), and the time each started signing.

DROP TRIGGER clients_changed_insert;
DROP TRIGGER clients_changed_update;
DROP TRIGGER clients_changed_delete;
DROP TRIGGER secrets_changed_insert;
DROP TRIGGER secrets_changed_update;
DROP TRIGGER secrets_changed_delete;
DROP TRIGGER revocations_changed_insert;
DROP TRIGGER signing_keys_changed_insert;
DROP TRIGGER signing_keys_changed_update;
DROP TRIGGER signing_keys_changed_delete;
DROP TABLE changes;

ALTER TABLE signing_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'current';
ALTER TABLE signing_keys ADD COLUMN activated_at INTEGER;
UPDATE signing_keys SET state = 'retired' WHERE retired_at IS NOT NULL;
UPDATE signing_keys SET activated_at = created_at;
DROP INDEX signing_keys_one_current;
-- At most one next and one current key, whatever instances race to rotate.
-- One next and one current key per tenant.
CREATE UNIQUE INDEX signing_keys_one_per_state ON signing_keys (tenant_id, state) WHERE state IN ('next', 'current');

-- AUTOINCREMENT so that a seq is never handed out twice, even after pruning
-- has emptied the table. SQLite serializes writers, so rows commit in seq
-- order and its one sqlite_sequence row costs no contention.
CREATE TABLE change_log (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    at   INTEGER NOT NULL
);

CREATE INDEX change_log_by_at ON change_log (at);

CREATE TRIGGER clients_logged_insert AFTER INSERT ON clients BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('client', new.id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER clients_logged_update AFTER UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at ON clients BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('client', new.id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER clients_logged_delete AFTER DELETE ON clients BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('client', old.id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER secrets_logged_insert AFTER INSERT ON client_secrets BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('client', new.client_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER secrets_logged_update AFTER UPDATE OF hash, status, expires_at, revoked_at ON client_secrets BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('client', new.client_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER secrets_logged_delete AFTER DELETE ON client_secrets BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('client', old.client_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER revocations_logged_insert AFTER INSERT ON revocations BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('revocation', new.token_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER revocations_logged_update AFTER UPDATE OF expires_at ON revocations BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('revocation', new.token_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
-- A signing key's change names its tenant, whose key set readers reload.
CREATE TRIGGER signing_keys_logged_insert AFTER INSERT ON signing_keys BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('signing_key', new.tenant_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER signing_keys_logged_update AFTER UPDATE ON signing_keys BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('signing_key', new.tenant_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER signing_keys_logged_delete AFTER DELETE ON signing_keys BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('signing_key', old.tenant_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
