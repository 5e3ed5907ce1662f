-- Dynamic client registration (RFC 7591/7592). A registered client keeps
-- the record of how it came: the hash of its registration access token
-- (never the token), who registered it (an initial access token's ID, or
-- "open"), from where, its template and the RFC 7591 metadata the client
-- model has no field for. The record goes with its client.
CREATE TABLE client_registrations (
    client_id       TEXT NOT NULL PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    template        TEXT NOT NULL,
    registered_by   TEXT NOT NULL,
    registered_addr TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX client_registrations_by_tenant ON client_registrations (tenant_id, created_at);

-- Initial access tokens (RFC 7591 §3): what an admin hands out for
-- registration in a tenant that requires one. Stored as a SHA-256 hash.
CREATE TABLE initial_access_tokens (
    id           TEXT NOT NULL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    max_uses     INTEGER NOT NULL,
    uses         INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX initial_access_tokens_by_tenant ON initial_access_tokens (tenant_id, created_at);
