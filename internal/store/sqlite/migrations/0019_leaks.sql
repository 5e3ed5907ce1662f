-- A leak report names a secret by its value only: it is found by its hash,
-- so the hash is indexed.
CREATE INDEX client_secrets_by_hash ON client_secrets (hash);

-- When a credible report said the secret had leaked; NULL for never.
ALTER TABLE client_secrets ADD COLUMN leaked_at INTEGER;
