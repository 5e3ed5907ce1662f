-- Each tenant has an issuer of its own: the default tenant the root
-- issuer, every other one {issuer}/t/{slug}, with signing keys of its own.

-- slug names a tenant in its issuer URL: lowercase a-z, 0-9 and '-', 1 to
-- 63 characters, not starting or ending with '-'. NULL for a tenant made
-- without one, which is then reached only at the root if it is the default.
ALTER TABLE tenants ADD COLUMN slug text COLLATE "C";
-- is_default marks the tenant the root issuer serves; at most one.
ALTER TABLE tenants ADD COLUMN is_default boolean NOT NULL DEFAULT false;

-- The oldest tenant is the one the first start provisioned.
UPDATE tenants SET is_default = true
    WHERE id = (SELECT id FROM tenants ORDER BY created_at, id LIMIT 1);

-- Existing tenants get a slug from their name: lower-cased, every run of
-- other characters as one '-'. A name that does not make a valid slug, or
-- makes one an older tenant took, falls back to "default" for the default
-- tenant and to "tenant-N" for the others.
UPDATE tenants SET slug = trim(BOTH '-' FROM regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g'));
UPDATE tenants SET slug = NULL WHERE slug = '' OR length(slug) > 63;
UPDATE tenants SET slug = NULL WHERE id IN (
    SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY slug ORDER BY created_at, id) AS n
                    FROM tenants WHERE slug IS NOT NULL) ranked WHERE n > 1);
UPDATE tenants SET slug = 'default'
    WHERE slug IS NULL AND is_default AND NOT EXISTS (SELECT 1 FROM tenants WHERE slug = 'default');
UPDATE tenants t SET slug = 'tenant-' || n FROM (
    SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM tenants WHERE slug IS NULL) f
    WHERE t.id = f.id;

CREATE UNIQUE INDEX tenants_slug ON tenants (slug);
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default;

-- Signing keys belong to a tenant; the keys made before tenants had their
-- own are the default tenant's.
ALTER TABLE signing_keys ADD COLUMN tenant_id text COLLATE "C" NOT NULL DEFAULT '';
UPDATE signing_keys SET tenant_id = COALESCE((SELECT id FROM tenants WHERE is_default), '');
DROP INDEX signing_keys_one_current;
-- At most one current (unretired) key per tenant, whatever instances race
-- to rotate.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (tenant_id) WHERE retired_at IS NULL;
CREATE INDEX signing_keys_by_tenant ON signing_keys (tenant_id, created_at);
