-- Each tenant has an issuer of its own: the default tenant the root
-- issuer, every other one {issuer}/t/{slug}, with signing keys of its own.

-- slug names a tenant in its issuer URL: lowercase a-z, 0-9 and '-', 1 to
-- 63 characters, not starting or ending with '-'. NULL for a tenant made
-- without one, which is then reached only at the root if it is the default.
ALTER TABLE tenants ADD COLUMN slug TEXT;
-- is_default marks the tenant the root issuer serves; at most one.
ALTER TABLE tenants ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;

-- The oldest tenant is the one the first start provisioned.
UPDATE tenants SET is_default = 1
    WHERE id = (SELECT id FROM tenants ORDER BY created_at, id LIMIT 1);

-- Existing tenants get slugs by one rule on every backend, which can never
-- collide: the default tenant "default", every other "tenant-N", numbered
-- by age. (Before this migration only a first start made tenants, so an
-- existing database normally holds the default tenant alone; slugs derived
-- from names are for tenants made from now on.)
UPDATE tenants SET slug = 'default' WHERE is_default = 1;
UPDATE tenants SET slug = (
    SELECT 'tenant-' || n FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n
                                FROM tenants WHERE is_default = 0) numbered
    WHERE numbered.id = tenants.id)
    WHERE is_default = 0;

CREATE UNIQUE INDEX tenants_slug ON tenants (slug) WHERE slug IS NOT NULL;
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default = 1;

-- Signing keys belong to a tenant; the keys made before tenants had their
-- own are the default tenant's.
ALTER TABLE signing_keys ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
UPDATE signing_keys SET tenant_id = COALESCE((SELECT id FROM tenants WHERE is_default = 1), '');
DROP INDEX signing_keys_one_current;
-- At most one current (unretired) key per tenant, whatever instances race
-- to rotate.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (tenant_id) WHERE retired_at IS NULL;
CREATE INDEX signing_keys_by_tenant ON signing_keys (tenant_id, created_at);
