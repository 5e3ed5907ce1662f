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
-- writing transaction, not by a foreign key: 'home' exists in every
-- tenant by construction.

CREATE TABLE divisions (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

INSERT INTO divisions (tenant_id, id, name, created_at) SELECT id, 'home', 'Home Division', created_at FROM tenants;

ALTER TABLE clients ADD COLUMN division_id TEXT NOT NULL DEFAULT 'home';
ALTER TABLE users ADD COLUMN division_id TEXT NOT NULL DEFAULT 'home';

-- A client's division is part of its configuration: the change log learns
-- of it, as of the other configuration columns.
DROP TRIGGER clients_logged_update;
CREATE TRIGGER clients_logged_update AFTER UPDATE OF
    name, description, type, grant_types, redirect_uris, scopes, roles, owner_user_id,
    access_token_ttl, refresh_token_ttl, token_format, require_consent, status, protected,
    updated_at, secret_expires_at, token_endpoint_auth_method, id_token_alg, post_logout_redirect_uris,
    division_id
    ON clients BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('client', new.id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

-- The client list restricted to divisions, in its default order; and a
-- division's members, counted before it is deleted.
CREATE INDEX clients_by_division ON clients (tenant_id, division_id, created_at, id);
CREATE INDEX users_by_division   ON users (tenant_id, division_id, email);

-- A tenant's own roles, beside the built-in ones. permissions is a JSON
-- array of permission names in display order.
CREATE TABLE roles (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) WITHOUT ROWID;

-- The protocol endpoints cache each tenant's roles: a change to them is
-- logged under kind 'role', keyed by the tenant.
CREATE TRIGGER roles_logged_insert AFTER INSERT ON roles BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('role', new.tenant_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER roles_logged_update AFTER UPDATE ON roles BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('role', new.tenant_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
CREATE TRIGGER roles_logged_delete AFTER DELETE ON roles BEGIN
    INSERT INTO change_log (kind, key, at) VALUES ('role', old.tenant_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
