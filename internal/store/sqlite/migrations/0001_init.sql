-- Latchkey's schema for SQLite.
--
-- Times are INTEGER Unix microseconds (UTC), NULL for "never", so that they
-- sort and compare as numbers. Durations are INTEGER seconds. Lists are JSON
-- arrays of strings, in order.

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX tenants_created ON tenants (created_at, id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    email         TEXT NOT NULL, -- lower-cased
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    roles         TEXT NOT NULL,
    locale        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);

-- pk is an INTEGER PRIMARY KEY so that the rowid the full-text index points
-- at never changes (VACUUM may renumber an implicit rowid).
CREATE TABLE clients (
    pk                INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    tenant_id         TEXT NOT NULL,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL,
    type              TEXT NOT NULL,
    grant_types       TEXT NOT NULL,
    redirect_uris     TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    roles             TEXT NOT NULL,
    owner_user_id     TEXT NOT NULL,
    access_token_ttl  INTEGER NOT NULL,
    refresh_token_ttl INTEGER NOT NULL,
    token_format      TEXT NOT NULL,
    require_consent   INTEGER NOT NULL,
    status            TEXT NOT NULL,
    protected         INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_used_at      INTEGER,
    secret_expires_at INTEGER
);

-- One index per sort order of the client list, each ending in the client
-- ID that breaks ties, so a keyset page is one index range scan. The
-- expressions match those in list.go exactly.
CREATE INDEX clients_by_created    ON clients (tenant_id, created_at, id);
CREATE INDEX clients_by_name       ON clients (tenant_id, lower(name), id);
CREATE INDEX clients_by_id         ON clients (tenant_id, id);
CREATE INDEX clients_by_last_used  ON clients (tenant_id, COALESCE(last_used_at, 0), id);
CREATE INDEX clients_by_expiry     ON clients (tenant_id, COALESCE(secret_expires_at, 0), id);
CREATE INDEX clients_by_status     ON clients (tenant_id, status, id);
CREATE INDEX clients_by_owner      ON clients (tenant_id, owner_user_id);

-- Substring search over a million clients: a trigram full-text index over
-- the client ID and name, kept in step with clients by the triggers below.
CREATE VIRTUAL TABLE clients_fts USING fts5 (
    id, name,
    content = 'clients', content_rowid = 'pk', tokenize = 'trigram'
);

CREATE TRIGGER clients_fts_insert AFTER INSERT ON clients BEGIN
    INSERT INTO clients_fts (rowid, id, name) VALUES (new.pk, new.id, new.name);
END;

CREATE TRIGGER clients_fts_delete AFTER DELETE ON clients BEGIN
    INSERT INTO clients_fts (clients_fts, rowid, id, name) VALUES ('delete', old.pk, old.id, old.name);
END;

CREATE TRIGGER clients_fts_update AFTER UPDATE OF id, name ON clients BEGIN
    INSERT INTO clients_fts (clients_fts, rowid, id, name) VALUES ('delete', old.pk, old.id, old.name);
    INSERT INTO clients_fts (rowid, id, name) VALUES (new.pk, new.id, new.name);
END;

-- seq orders secrets created in the same microsecond by insertion.
CREATE TABLE client_secrets (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    client_id    TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    hash         TEXT NOT NULL,
    hint         TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE INDEX client_secrets_by_client ON client_secrets (client_id, created_at, seq);

CREATE TABLE signing_keys (
    id                 TEXT PRIMARY KEY,
    algorithm          TEXT NOT NULL,
    public_key         BLOB NOT NULL,
    sealed_private_key BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    retired_at         INTEGER,
    publish_until      INTEGER
);

-- At most one current (unretired) key, whatever instances race to rotate.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- Opaque access tokens; id is the jti, hash the SHA-256 of the value.
CREATE TABLE access_tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    client_id  TEXT NOT NULL,
    secret_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    audience   TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

CREATE TABLE revocations (
    token_id   TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX revocations_by_expiry ON revocations (expires_at);
