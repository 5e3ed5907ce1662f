-- Expiry warnings (seed Breeze), the outbox that delivers them and the
-- tenant's webhook events, and the webhooks themselves.
--
-- warn_at is when an active secret's next warning stage falls due; NULL
-- when none is left (or the secret never expires or is no longer
-- current). The sweep reads the due secrets as one range scan of the
-- partial index, whatever the size of the fleet. Secrets made before this
-- migration are due at once: the first sweep works out their schedules.
ALTER TABLE client_secrets ADD COLUMN warn_at timestamptz;
UPDATE client_secrets SET warn_at = created_at WHERE status = 'active' AND expires_at IS NOT NULL;
CREATE INDEX client_secrets_warn_due ON client_secrets (warn_at) WHERE warn_at IS NOT NULL;

-- One row per (secret, stage) recorded, sent or skipped: the primary key
-- is what makes a stage go out at most once.
CREATE TABLE secret_warnings (
    secret_id text COLLATE "C" NOT NULL REFERENCES client_secrets (id) ON DELETE CASCADE,
    stage     integer NOT NULL,
    client_id text COLLATE "C" NOT NULL,
    tenant_id text COLLATE "C" NOT NULL,
    sent      boolean NOT NULL,
    reason    text NOT NULL,
    at        timestamptz NOT NULL,
    PRIMARY KEY (secret_id, stage)
);

CREATE INDEX secret_warnings_by_client ON secret_warnings (client_id, at);

-- The outbox: one row per mail to one person or event to one webhook.
-- seq orders listings newest first. Rows outlive their clients, as the
-- record of what was said to whom.
CREATE TABLE outbox (
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id              text COLLATE "C" PRIMARY KEY,
    tenant_id       text COLLATE "C" NOT NULL,
    client_id       text COLLATE "C" NOT NULL,
    secret_id       text COLLATE "C" NOT NULL,
    stage           integer NOT NULL,
    channel         text COLLATE "C" NOT NULL,
    event           text NOT NULL,
    recipient       text NOT NULL,
    user_id         text NOT NULL,
    locale          text NOT NULL,
    payload         bytea NOT NULL,
    status          text COLLATE "C" NOT NULL,
    attempts        integer NOT NULL,
    next_attempt_at timestamptz,
    last_error      text NOT NULL,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz
);

CREATE INDEX outbox_due ON outbox (channel, next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_by_tenant ON outbox (tenant_id, seq);
CREATE INDEX outbox_by_client ON outbox (client_id, seq);

CREATE TABLE outbox_attempts (
    delivery_id text COLLATE "C" NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    n           integer NOT NULL,
    at          timestamptz NOT NULL,
    ok          boolean NOT NULL,
    detail      text NOT NULL,
    PRIMARY KEY (delivery_id, n)
);

-- sealed_secret is the signing secret under AES-256-GCM (the webhook's ID
-- as additional data): it must be read back to sign, so it is not hashed.
CREATE TABLE webhooks (
    id            text COLLATE "C" PRIMARY KEY,
    tenant_id     text COLLATE "C" NOT NULL,
    url           text NOT NULL,
    events        text[] NOT NULL,
    sealed_secret bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    created_by    text NOT NULL
);

CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id, created_at, id);

-- The provisioned clients hold every permission as a scope: they gain the
-- new one, webhooks:manage, as a first start today would give it.
UPDATE clients SET scopes = array_append(scopes, 'webhooks:manage')
 WHERE id IN ('latchkey-admin', 'latchkey-console', 'latchkey-cli')
   AND 'oauth:token:introspect' = ANY (scopes) AND NOT 'webhooks:manage' = ANY (scopes);
