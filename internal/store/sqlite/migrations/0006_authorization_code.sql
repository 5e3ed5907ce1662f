-- End users sign in and approve applications: the authorization code flow
-- with PKCE, refresh tokens, OpenID Connect, and the "Authorized
-- applications" page. Done the same way on both backends.
--
-- Codes, refresh tokens and sessions are stored only as the SHA-256 of
-- their values (base64url); the values themselves never reach the
-- database.

-- A disabled user cannot sign in. Every user so far could.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';

-- A client's one token endpoint authentication method, the algorithm of
-- its ID tokens ('' for the default) and where logout may return to.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
-- Existing clients keep authenticating as they did: public ones with none,
-- confidential ones with HTTP Basic, the default of RFC 7591 §2. Written
-- before the change-log trigger below learns the column, so the upgrade
-- does not log every client as changed.
UPDATE clients SET token_endpoint_auth_method = CASE type WHEN 'public' THEN 'none' ELSE 'client_secret_basic' END;

-- The latest authorization and the latest token, kept like last_used_at:
-- coalesced and written in batches, NULL for never.
ALTER TABLE clients ADD COLUMN last_authorized_at INTEGER;
ALTER TABLE clients ADD COLUMN last_authorized_user TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN last_authorized_redirect_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN last_token_at INTEGER;
ALTER TABLE clients ADD COLUMN last_token_grant TEXT NOT NULL DEFAULT '';

-- Sort orders of the client list, like clients_by_last_used; the
-- expressions match those in list.go exactly.
CREATE INDEX clients_by_last_authorized ON clients (tenant_id, COALESCE(last_authorized_at, 0), id);
CREATE INDEX clients_by_last_token      ON clients (tenant_id, COALESCE(last_token_at, 0), id);
-- The "authorized by" filter, like clients_by_owner.
CREATE INDEX clients_by_authorizer      ON clients (tenant_id, last_authorized_user);

-- The change log learns the new configuration columns. The activity
-- columns stay out of it, as last_used_at does: they change constantly and
-- no cache depends on them.
DROP TRIGGER clients_logged_update;
CREATE TRIGGER clients_logged_update AFTER UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at, token_endpoint_auth_method, id_token_alg, post_logout_redirect_uris
    ON clients BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('client', new.id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

-- Each tenant has a lineage of keys per use ('access' tokens, 'id'
-- tokens), rotated on its own: one next and one current key per tenant and
-- use. The keys made so far sign access tokens.
ALTER TABLE signing_keys ADD COLUMN use TEXT NOT NULL DEFAULT 'access';
DROP INDEX signing_keys_one_per_state;
CREATE UNIQUE INDEX signing_keys_one_per_state ON signing_keys (tenant_id, use, state) WHERE state IN ('next', 'current');

-- A revocation with issued_before is a cut-off: every token of a subject
-- (and client) issued before it is revoked. NULL for a token's own
-- revocation. Moving a cut-off later is a change readers must learn of.
ALTER TABLE revocations ADD COLUMN issued_before INTEGER;
DROP TRIGGER revocations_logged_update;
CREATE TRIGGER revocations_logged_update AFTER UPDATE OF expires_at, issued_before ON revocations BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('revocation', new.token_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

-- A signed-in browser; hash is the SHA-256 of its cookie value.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX sessions_by_user   ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- What a user approved for an application, listed latest first.
CREATE TABLE consents (
    user_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    scopes    TEXT NOT NULL,
    first_at  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;

CREATE INDEX consents_by_user_last ON consents (user_id, last_at);
-- Deleting a client deletes its consents.
CREATE INDEX consents_by_client    ON consents (client_id);

-- Authorization codes: single use, a minute's life. The access token an
-- exchange issued is recorded, so that a replay can revoke it.
CREATE TABLE auth_codes (
    hash              TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    session_id        TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    nonce             TEXT NOT NULL,
    code_challenge    TEXT NOT NULL,
    auth_time         INTEGER,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    family_id         TEXT NOT NULL,
    used_at           INTEGER,
    access_token_id   TEXT NOT NULL,
    access_expires_at INTEGER
) WITHOUT ROWID;

CREATE INDEX auth_codes_by_expiry ON auth_codes (expires_at);
CREATE INDEX auth_codes_by_client ON auth_codes (client_id);

-- Refresh tokens, rotated on every use: each family is the chain one code
-- exchange started, revoked whole when a used token comes back.
CREATE TABLE refresh_tokens (
    id                TEXT PRIMARY KEY,
    hash              TEXT NOT NULL UNIQUE,
    family_id         TEXT NOT NULL,
    tenant_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    auth_time         INTEGER,
    access_token_id   TEXT NOT NULL,
    access_expires_at INTEGER,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    used_at           INTEGER,
    revoked_at        INTEGER
);

CREATE INDEX refresh_tokens_by_family      ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user_client ON refresh_tokens (user_id, client_id);
CREATE INDEX refresh_tokens_by_client      ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_by_expiry      ON refresh_tokens (expires_at);
