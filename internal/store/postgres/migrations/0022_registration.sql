-- Dynamic client registration (RFC 7591/7592). A registered client keeps
-- the record of how it came: the hash of its registration access token
-- (never the token), who registered it (an initial access token's ID, or
-- "open"), from where, its template and the RFC 7591 metadata the client
-- model has no field for. The record goes with its client.
CREATE TABLE client_registrations (
    client_id       text COLLATE "C" PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    tenant_id       text COLLATE "C" NOT NULL,
    token_hash      text COLLATE "C" NOT NULL UNIQUE,
    template        text NOT NULL,
    registered_by   text NOT NULL,
    registered_addr text NOT NULL,
    metadata        text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX client_registrations_by_tenant ON client_registrations (tenant_id, created_at);

-- Initial access tokens (RFC 7591 §3): what an admin hands out for
-- registration in a tenant that requires one. Stored as a SHA-256 hash.
CREATE TABLE initial_access_tokens (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL,
    hash         text COLLATE "C" NOT NULL UNIQUE,
    name         text NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    max_uses     integer NOT NULL,
    uses         integer NOT NULL DEFAULT 0,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX initial_access_tokens_by_tenant ON initial_access_tokens (tenant_id, created_at);
