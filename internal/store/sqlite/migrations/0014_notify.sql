-- Expiry warnings (seed Breeze), the outbox that delivers them and the
-- tenant's webhook events, and the webhooks themselves. Times are Unix
-- microseconds, as everywhere in this schema.
--
-- warn_at is when an active secret's next warning stage falls due; NULL
-- when none is left (or the secret never expires or is no longer
-- current). The sweep reads the due secrets as one range scan of the
-- partial index. Secrets made before this migration are due at once: the
-- first sweep works out their schedules.
ALTER TABLE client_secrets ADD COLUMN warn_at INTEGER;
UPDATE client_secrets SET warn_at = created_at WHERE status = 'active' AND expires_at IS NOT NULL;
CREATE INDEX client_secrets_warn_due ON client_secrets (warn_at) WHERE warn_at IS NOT NULL;

-- One row per (secret, stage) recorded, sent or skipped: the primary key
-- is what makes a stage go out at most once.
CREATE TABLE secret_warnings (
    secret_id TEXT NOT NULL REFERENCES client_secrets (id) ON DELETE CASCADE,
    stage     INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    sent      INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (secret_id, stage)
) WITHOUT ROWID;

CREATE INDEX secret_warnings_by_client ON secret_warnings (client_id, at);

-- The outbox: one row per mail to one person or event to one webhook.
-- seq orders listings newest first. Rows outlive their clients, as the
-- record of what was said to whom.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    secret_id       TEXT NOT NULL,
    stage           INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    event           TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    locale          TEXT NOT NULL,
    payload         BLOB NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_error      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);

CREATE INDEX outbox_due ON outbox (channel, next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_by_tenant ON outbox (tenant_id, seq);
CREATE INDEX outbox_by_client ON outbox (client_id, seq);

CREATE TABLE outbox_attempts (
    delivery_id TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (delivery_id, n)
) WITHOUT ROWID;

-- events is a JSON list. sealed_secret is the signing secret under
-- AES-256-GCM (the webhook's ID as additional data): it must be read back
-- to sign, so it is not hashed.
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL
);

CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id, created_at, id);

-- The provisioned clients hold every permission as a scope: they gain the
-- new one, webhooks:manage, as a first start today would give it.
UPDATE clients SET scopes = json_insert(scopes, '$[#]', 'webhooks:manage')
 WHERE id IN ('latchkey-admin', 'latchkey-console', 'latchkey-cli')
   AND EXISTS (SELECT 1 FROM json_each(clients.scopes) WHERE value = 'oauth:token:introspect')
   AND NOT EXISTS (SELECT 1 FROM json_each(clients.scopes) WHERE value = 'webhooks:manage');
