-- Second factors of sign-in: an authenticator app (TOTP), passkeys
-- (WebAuthn) and recovery codes; and a tenant's requirement that its
-- admins have one (seed Genesys: "Requires MFA for admin access").
-- Nothing here is a secret in the clear: the TOTP seed is sealed
-- (AES-256-GCM, the user ID as additional data), recovery codes are
-- SHA-256 hashes, and a passkey's public key is public.

ALTER TABLE tenants ADD COLUMN require_admin_mfa INTEGER NOT NULL DEFAULT 0;

-- One authenticator app per user; confirmed_at is NULL while the setup
-- waits for its first code. last_step is the latest RFC 6238 time step a
-- code was accepted for: no code of it or before is accepted again.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    sealed_seed  BLOB NOT NULL,
    last_step    INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER
);

CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
) WITHOUT ROWID;

-- id is the credential ID, base64url. transports is a JSON list.
CREATE TABLE passkeys (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    public_key       BLOB NOT NULL,
    sign_count       INTEGER NOT NULL,
    aaguid           BLOB NOT NULL,
    transports       TEXT NOT NULL,
    attestation_type TEXT NOT NULL,
    user_verified    INTEGER NOT NULL,
    backup_eligible  INTEGER NOT NULL,
    backup_state     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at, id);

-- A WebAuthn ceremony begun and not finished: its challenge, kept here so
-- that it is used once. hash is the SHA-256 of the handle the browser
-- holds.
CREATE TABLE passkey_ceremonies (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    data       BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_by_user ON passkey_ceremonies (user_id, purpose);
CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at);
