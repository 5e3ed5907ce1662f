-- The admin API's Idempotency-Key records: one per tenant, principal and
-- key; the response body never holds a secret.
CREATE TABLE idempotency_keys (
    tenant_id    TEXT        NOT NULL,
    actor_id     TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    request_hash TEXT        NOT NULL,
    status       INTEGER     NOT NULL,
    body         BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, actor_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
