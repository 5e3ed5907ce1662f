-- A tenant's guardrails for its clients (client.Policy), kept as one JSON
-- document so that a rule added later needs no migration; durations in it
-- are nanoseconds. No row means no rule. require_admin_mfa stays on
-- tenants, where sign-in reads it.
CREATE TABLE tenant_policies (
    tenant_id  text COLLATE "C" PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    policy     jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);

-- A confidential client that must send PKCE, as public clients always do.
ALTER TABLE clients ADD COLUMN require_pkce boolean NOT NULL DEFAULT false;
