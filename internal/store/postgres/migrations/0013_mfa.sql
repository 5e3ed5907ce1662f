-- Second factors of sign-in: an authenticator app (TOTP), passkeys
-- (WebAuthn) and recovery codes; and a tenant's requirement that its
-- admins have one (seed Genesys: "Requires MFA for admin access").
-- Nothing here is a secret in the clear: the TOTP seed is sealed
-- (AES-256-GCM, the user ID as additional data), recovery codes are
-- SHA-256 hashes, and a passkey's public key is public.

ALTER TABLE tenants ADD COLUMN require_admin_mfa boolean NOT NULL DEFAULT false;

-- One authenticator app per user; confirmed_at is NULL while the setup
-- waits for its first code. last_step is the latest RFC 6238 time step a
-- code was accepted for: no code of it or before is accepted again.
CREATE TABLE totp_factors (
    user_id      text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL,
    sealed_seed  bytea NOT NULL,
    last_step    bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz
);

CREATE TABLE recovery_codes (
    user_id    text COLLATE "C" NOT NULL,
    hash       text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, hash)
);

-- id is the credential ID, base64url.
CREATE TABLE passkeys (
    id               text COLLATE "C" PRIMARY KEY,
    user_id          text COLLATE "C" NOT NULL,
    tenant_id        text COLLATE "C" NOT NULL,
    name             text NOT NULL,
    public_key       bytea NOT NULL,
    sign_count       bigint NOT NULL,
    aaguid           bytea NOT NULL,
    transports       text[] NOT NULL,
    attestation_type text NOT NULL,
    user_verified    boolean NOT NULL,
    backup_eligible  boolean NOT NULL,
    backup_state     boolean NOT NULL,
    created_at       timestamptz NOT NULL,
    last_used_at     timestamptz
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at, id);

-- A WebAuthn ceremony begun and not finished: its challenge, kept here so
-- that it is used once. hash is the SHA-256 of the handle the browser
-- holds.
CREATE TABLE passkey_ceremonies (
    hash       text COLLATE "C" PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL,
    tenant_id  text COLLATE "C" NOT NULL,
    purpose    text NOT NULL,
    data       bytea NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX passkey_ceremonies_by_user ON passkey_ceremonies (user_id, purpose);
CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at);
