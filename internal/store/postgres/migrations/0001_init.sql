-- Latchkey's schema for PostgreSQL.
--
-- Times are timestamptz (microseconds), NULL for "never". Durations are
-- bigint seconds. Lists are text[], in order. Identifier, name and status
-- columns use the "C" collation so that the client list sorts bytewise,
-- the same on every server whatever its locale, and the same as SQLite.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE tenants (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX tenants_created ON tenants (created_at, id);

CREATE TABLE users (
    id            text COLLATE "C" PRIMARY KEY,
    tenant_id     text COLLATE "C" NOT NULL,
    email         text COLLATE "C" NOT NULL, -- lower-cased
    name          text NOT NULL,
    password_hash text NOT NULL,
    roles         text[] NOT NULL,
    locale        text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE clients (
    id                text COLLATE "C" PRIMARY KEY,
    tenant_id         text COLLATE "C" NOT NULL,
    name              text COLLATE "C" NOT NULL,
    description       text NOT NULL,
    type              text NOT NULL,
    grant_types       text[] NOT NULL,
    redirect_uris     text[] NOT NULL,
    scopes            text[] NOT NULL,
    roles             text[] NOT NULL,
    owner_user_id     text COLLATE "C" NOT NULL,
    access_token_ttl  bigint NOT NULL,
    refresh_token_ttl bigint NOT NULL,
    token_format      text NOT NULL,
    require_consent   boolean NOT NULL,
    status            text COLLATE "C" NOT NULL,
    protected         boolean NOT NULL,
    created_at        timestamptz NOT NULL,
    created_by        text NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_used_at      timestamptz,
    secret_expires_at timestamptz
);

-- One index per sort order of the client list, each ending in the client
-- ID that breaks ties, so a keyset page is one index range scan. The
-- expressions match those in list.go exactly.
CREATE INDEX clients_by_created   ON clients (tenant_id, created_at, id);
CREATE INDEX clients_by_name      ON clients (tenant_id, lower(name), id);
CREATE INDEX clients_by_id        ON clients (tenant_id, id);
CREATE INDEX clients_by_last_used ON clients (tenant_id, COALESCE(last_used_at, TIMESTAMPTZ 'epoch'), id);
CREATE INDEX clients_by_expiry    ON clients (tenant_id, COALESCE(secret_expires_at, TIMESTAMPTZ 'epoch'), id);
CREATE INDEX clients_by_status    ON clients (tenant_id, status, id);
CREATE INDEX clients_by_owner     ON clients (tenant_id, owner_user_id);

-- Substring search over a million clients: trigram indexes answer ILIKE
-- '%...%' on the lower-cased name and client ID.
CREATE INDEX clients_name_trgm ON clients USING gin (lower(name) gin_trgm_ops);
CREATE INDEX clients_id_trgm   ON clients USING gin (lower(id) gin_trgm_ops);

-- seq orders secrets created in the same microsecond by insertion.
CREATE TABLE client_secrets (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text COLLATE "C" NOT NULL UNIQUE,
    client_id    text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    hash         text NOT NULL,
    hint         text NOT NULL,
    status       text NOT NULL,
    created_at   timestamptz NOT NULL,
    created_by   text NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE INDEX client_secrets_by_client ON client_secrets (client_id, created_at, seq);

CREATE TABLE signing_keys (
    id                 text COLLATE "C" PRIMARY KEY,
    algorithm          text NOT NULL,
    public_key         bytea NOT NULL,
    sealed_private_key bytea NOT NULL,
    created_at         timestamptz NOT NULL,
    retired_at         timestamptz,
    publish_until      timestamptz
);

-- At most one current (unretired) key, whatever instances race to rotate.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- Opaque access tokens; id is the jti, hash the SHA-256 of the value.
CREATE TABLE access_tokens (
    id         text COLLATE "C" PRIMARY KEY,
    hash       text COLLATE "C" NOT NULL UNIQUE,
    client_id  text NOT NULL,
    secret_id  text NOT NULL,
    subject    text NOT NULL,
    audience   text[] NOT NULL,
    scopes     text[] NOT NULL,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

CREATE TABLE revocations (
    token_id   text COLLATE "C" PRIMARY KEY,
    client_id  text NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX revocations_by_expiry ON revocations (expires_at);
