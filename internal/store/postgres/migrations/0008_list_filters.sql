-- The client list's filters by type, grant, creator, secret expiry and
-- use. The expressions match those in list.go exactly.
--
-- The planner chooses between scanning the index of a page's order and
-- checking each client (quick for filters that keep many) and an index of
-- the filter; the indexes here serve the counts, read from the index
-- alone, and the filters that keep few clients each (owner, creator),
-- which lead their indexes and are followed by the default order, as
-- clients_by_division is.

CREATE INDEX clients_by_type ON clients (tenant_id, type);

-- One partial index per grant: a count reads exactly the clients that
-- have it.
CREATE INDEX clients_with_client_credentials ON clients (tenant_id) WHERE grant_types @> ARRAY['client_credentials']::text[];
CREATE INDEX clients_with_authorization_code ON clients (tenant_id) WHERE grant_types @> ARRAY['authorization_code']::text[];
CREATE INDEX clients_with_refresh_token      ON clients (tenant_id) WHERE grant_types @> ARRAY['refresh_token']::text[];

CREATE INDEX clients_by_creator ON clients (tenant_id, created_by, created_at, id);
DROP INDEX clients_by_owner;
CREATE INDEX clients_by_owner ON clients (tenant_id, owner_user_id, created_at, id);

-- Secret expiry and use are ranges of clients_by_expiry and
-- clients_by_last_used, which map "never" to the epoch.

-- A search's count, for a substring too common for the trigram indexes to
-- pay, reads the tenant's clients until it has counted past the cap,
-- checking each name and ID: this narrow copy of them, a fifth of the
-- table's size, is read without visiting the table.
CREATE INDEX clients_search_scan ON clients (tenant_id) INCLUDE (name, id);
