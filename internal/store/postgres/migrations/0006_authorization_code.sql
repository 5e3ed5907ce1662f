-- End users sign in and approve applications: the authorization code flow
-- with PKCE, refresh tokens, OpenID Connect, and the "Authorized
-- applications" page. Done the same way on both backends.
--
-- Codes, refresh tokens and sessions are stored only as the SHA-256 of
-- their values (base64url); the values themselves never reach the
-- database.

-- A disabled user cannot sign in. Every user so far could.
ALTER TABLE users ADD COLUMN status text COLLATE "C" NOT NULL DEFAULT 'active';

-- A client's one token endpoint authentication method, the algorithm of
-- its ID tokens ('' for the default) and where logout may return to.
ALTER TABLE clients
    ADD COLUMN token_endpoint_auth_method text NOT NULL DEFAULT '',
    ADD COLUMN id_token_alg text NOT NULL DEFAULT '',
    ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}';
-- Existing clients keep authenticating as they did: public ones with none,
-- confidential ones with HTTP Basic, the default of RFC 7591 §2. The
-- change-log trigger does not know the column yet, so the upgrade does not
-- log every client as changed.
UPDATE clients SET token_endpoint_auth_method = CASE type WHEN 'public' THEN 'none' ELSE 'client_secret_basic' END;

-- The latest authorization and the latest token, kept like last_used_at:
-- coalesced and written in batches, NULL for never.
ALTER TABLE clients
    ADD COLUMN last_authorized_at timestamptz,
    ADD COLUMN last_authorized_user text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN last_authorized_redirect_uri text NOT NULL DEFAULT '',
    ADD COLUMN last_token_at timestamptz,
    ADD COLUMN last_token_grant text COLLATE "C" NOT NULL DEFAULT '';

-- Sort orders of the client list, like clients_by_last_used; the
-- expressions match those in list.go exactly.
CREATE INDEX clients_by_last_authorized ON clients (tenant_id, COALESCE(last_authorized_at, TIMESTAMPTZ 'epoch'), id);
CREATE INDEX clients_by_last_token      ON clients (tenant_id, COALESCE(last_token_at, TIMESTAMPTZ 'epoch'), id);
-- The "authorized by" filter, like clients_by_owner.
CREATE INDEX clients_by_authorizer      ON clients (tenant_id, last_authorized_user);

-- The change log learns the new configuration columns. The activity
-- columns stay out of it, as last_used_at does: they change constantly and
-- no cache depends on them.
DROP TRIGGER clients_logged ON clients;
CREATE TRIGGER clients_logged AFTER INSERT OR DELETE OR UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at, token_endpoint_auth_method, id_token_alg, post_logout_redirect_uris
    ON clients FOR EACH ROW EXECUTE FUNCTION log_change('client', 'id');

-- Each tenant has a lineage of keys per use ('access' tokens, 'id'
-- tokens), rotated on its own: one next and one current key per tenant and
-- use. The keys made so far sign access tokens.
ALTER TABLE signing_keys ADD COLUMN use text COLLATE "C" NOT NULL DEFAULT 'access';
DROP INDEX signing_keys_one_per_state;
CREATE UNIQUE INDEX signing_keys_one_per_state ON signing_keys (tenant_id, use, state) WHERE state IN ('next', 'current');

-- A revocation with issued_before is a cut-off: every token of a subject
-- (and client) issued before it is revoked. NULL for a token's own
-- revocation. Moving a cut-off later is a change readers must learn of.
ALTER TABLE revocations ADD COLUMN issued_before timestamptz;
DROP TRIGGER revocations_logged ON revocations;
CREATE TRIGGER revocations_logged AFTER INSERT OR UPDATE OF expires_at, issued_before
    ON revocations FOR EACH ROW EXECUTE FUNCTION log_change('revocation', 'token_id');

-- A signed-in browser; hash is the SHA-256 of its cookie value.
CREATE TABLE sessions (
    id         text COLLATE "C" PRIMARY KEY,
    hash       text COLLATE "C" NOT NULL UNIQUE,
    tenant_id  text COLLATE "C" NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    auth_time  timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_by_user   ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- What a user approved for an application, listed latest first.
CREATE TABLE consents (
    user_id   text COLLATE "C" NOT NULL,
    client_id text COLLATE "C" NOT NULL,
    tenant_id text COLLATE "C" NOT NULL,
    scopes    text[] NOT NULL,
    first_at  timestamptz NOT NULL,
    last_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE INDEX consents_by_user_last ON consents (user_id, last_at);
-- Deleting a client deletes its consents.
CREATE INDEX consents_by_client    ON consents (client_id);

-- Authorization codes: single use, a minute's life. The access token an
-- exchange issued is recorded, so that a replay can revoke it.
CREATE TABLE auth_codes (
    hash              text COLLATE "C" PRIMARY KEY,
    tenant_id         text COLLATE "C" NOT NULL,
    client_id         text COLLATE "C" NOT NULL,
    user_id           text COLLATE "C" NOT NULL,
    session_id        text COLLATE "C" NOT NULL,
    redirect_uri      text NOT NULL,
    scopes            text[] NOT NULL,
    nonce             text NOT NULL,
    code_challenge    text NOT NULL,
    auth_time         timestamptz,
    issued_at         timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    family_id         text COLLATE "C" NOT NULL,
    used_at           timestamptz,
    access_token_id   text COLLATE "C" NOT NULL,
    access_expires_at timestamptz
);

CREATE INDEX auth_codes_by_expiry ON auth_codes (expires_at);
CREATE INDEX auth_codes_by_client ON auth_codes (client_id);

-- Refresh tokens, rotated on every use: each family is the chain one code
-- exchange started, revoked whole when a used token comes back.
CREATE TABLE refresh_tokens (
    id                text COLLATE "C" PRIMARY KEY,
    hash              text COLLATE "C" NOT NULL UNIQUE,
    family_id         text COLLATE "C" NOT NULL,
    tenant_id         text COLLATE "C" NOT NULL,
    client_id         text COLLATE "C" NOT NULL,
    user_id           text COLLATE "C" NOT NULL,
    scopes            text[] NOT NULL,
    auth_time         timestamptz,
    access_token_id   text COLLATE "C" NOT NULL,
    access_expires_at timestamptz,
    issued_at         timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    used_at           timestamptz,
    revoked_at        timestamptz
);

CREATE INDEX refresh_tokens_by_family      ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user_client ON refresh_tokens (user_id, client_id);
CREATE INDEX refresh_tokens_by_client      ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_by_expiry      ON refresh_tokens (expires_at);
