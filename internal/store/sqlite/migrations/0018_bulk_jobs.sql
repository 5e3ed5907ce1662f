-- Bulk jobs (bulk.Job): one confirmed change over the clients a filter
-- matched, run by whichever server holds its lease. filter, params and
-- actor are JSON documents.
CREATE TABLE bulk_jobs (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    op               TEXT NOT NULL,
    filter           TEXT NOT NULL,
    params           TEXT NOT NULL,
    actor            TEXT NOT NULL,
    state            TEXT NOT NULL,
    total            INTEGER NOT NULL DEFAULT 0,
    done             INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_until      INTEGER NOT NULL DEFAULT 0,
    result_delivered INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX bulk_jobs_tenant ON bulk_jobs (tenant_id, created_at);
CREATE INDEX bulk_jobs_open ON bulk_jobs (created_at) WHERE state IN ('pending', 'running', 'stopping');

-- The clients a job snapshot at confirmation, one row each. sealed holds
-- a rotated client's new secret, encrypted, until the result is
-- downloaded.
CREATE TABLE bulk_job_items (
    job_id     TEXT NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    client_id  TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending',
    detail     TEXT NOT NULL DEFAULT '',
    sealed     BLOB,
    expires_at INTEGER,
    PRIMARY KEY (job_id, seq),
    UNIQUE (job_id, client_id)
) WITHOUT ROWID;
CREATE INDEX bulk_job_items_pending ON bulk_job_items (job_id, seq) WHERE state = 'pending';
