-- Divisions and custom roles (seed Genesys: "Roles scoped to divisions",
-- default "Home Division"), done the same way on both backends.
--
-- Within a tenant, every client and user belongs to one division. Each
-- tenant has the division 'home', "Home Division", from its creation; the
-- tenants made so far get theirs here, and every client and user so far
-- belongs to it. A role is granted in every division (stored as its name,
-- as before) or in one ('oauth_admin@emea'), so the roles columns keep
-- their form.
--
-- A division named by a client or user is checked by the domain in the
-- writing transaction (under a share lock on the division's row), not by a
-- foreign key: 'home' exists in every tenant by construction.

CREATE TABLE divisions (
    tenant_id  text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

INSERT INTO divisions (tenant_id, id, name, created_at) SELECT id, 'home', 'Home Division', created_at FROM tenants;

-- A column with a constant default is added without rewriting the table.
ALTER TABLE clients ADD COLUMN division_id text COLLATE "C" NOT NULL DEFAULT 'home';
ALTER TABLE users ADD COLUMN division_id text COLLATE "C" NOT NULL DEFAULT 'home';

-- A client's division is part of its configuration: the change log learns
-- of it, as of the other configuration columns.
DROP TRIGGER clients_logged ON clients;
CREATE TRIGGER clients_logged AFTER INSERT OR DELETE OR UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at, token_endpoint_auth_method, id_token_alg, post_logout_redirect_uris,
    division_id
    ON clients FOR EACH ROW EXECUTE FUNCTION log_change('client', 'id');

-- The client list restricted to divisions, in its default order; and a
-- division's members, counted before it is deleted.
CREATE INDEX clients_by_division ON clients (tenant_id, division_id, created_at, id);
CREATE INDEX users_by_division   ON users (tenant_id, division_id, email);

-- A tenant's own roles, beside the built-in ones; permissions are in
-- display order.
CREATE TABLE roles (
    tenant_id   text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    description text NOT NULL,
    permissions text[] NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- The protocol endpoints cache each tenant's roles: a change to them is
-- logged under kind 'role', keyed by the tenant.
CREATE TRIGGER roles_logged AFTER INSERT OR DELETE OR UPDATE
    ON roles FOR EACH ROW EXECUTE FUNCTION log_change('role', 'tenant_id');
