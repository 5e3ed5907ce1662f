-- A tenant's guardrails for its clients (client.Policy), kept as one JSON
-- document so that a rule added later needs no migration; durations in it
-- are nanoseconds. No row means no rule. require_admin_mfa stays on
-- tenants, where sign-in reads it.
CREATE TABLE tenant_policies (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    policy     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) WITHOUT ROWID;

-- A confidential client that must send PKCE, as public clients always do.
ALTER TABLE clients ADD COLUMN require_pkce INTEGER NOT NULL DEFAULT 0;
