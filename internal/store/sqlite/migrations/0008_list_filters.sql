-- The client list's filters by type, grant, creator, secret expiry and
-- use, and a total that stays cheap past the point where counting stops.
-- The expressions match those in list.go exactly.
--
-- A page of a filtered list scans the index of its order and checks each
-- client, which is quick for filters that keep many clients; the indexes
-- here serve the counts (read from the index alone), and the filters that
-- keep few clients each (owner, creator), which lead their indexes and
-- are followed by the default order, as clients_by_division is.

CREATE INDEX clients_by_type ON clients (tenant_id, type);

-- One partial index per grant: a count reads exactly the clients that
-- have it. grant_types is a JSON array of strings.
CREATE INDEX clients_with_client_credentials ON clients (tenant_id) WHERE instr(grant_types, '"client_credentials"') > 0;
CREATE INDEX clients_with_authorization_code ON clients (tenant_id) WHERE instr(grant_types, '"authorization_code"') > 0;
CREATE INDEX clients_with_refresh_token      ON clients (tenant_id) WHERE instr(grant_types, '"refresh_token"') > 0;

CREATE INDEX clients_by_creator ON clients (tenant_id, created_by, created_at, id);
DROP INDEX clients_by_owner;
CREATE INDEX clients_by_owner ON clients (tenant_id, owner_user_id, created_at, id);

-- Secret expiry and use are ranges of clients_by_expiry and
-- clients_by_last_used, which map "never" to 0.

-- Each tenant's number of clients, kept by the triggers below: the total
-- of an unfiltered list past its cap, which SQLite could otherwise learn
-- only by reading an index entry per client.
CREATE TABLE tenant_client_counts (
    tenant_id TEXT PRIMARY KEY,
    clients   INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO tenant_client_counts (tenant_id, clients) SELECT tenant_id, COUNT(*) FROM clients GROUP BY tenant_id;

CREATE TRIGGER clients_counted_insert AFTER INSERT ON clients BEGIN
    INSERT INTO tenant_client_counts (tenant_id, clients) VALUES (new.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET clients = clients + 1;
END;

CREATE TRIGGER clients_counted_delete AFTER DELETE ON clients BEGIN
    UPDATE tenant_client_counts SET clients = clients - 1 WHERE tenant_id = old.tenant_id;
END;

-- A client never changes tenant; should one, the counts follow.
CREATE TRIGGER clients_counted_move AFTER UPDATE OF tenant_id ON clients WHEN new.tenant_id <> old.tenant_id BEGIN
    UPDATE tenant_client_counts SET clients = clients - 1 WHERE tenant_id = old.tenant_id;
    INSERT INTO tenant_client_counts (tenant_id, clients) VALUES (new.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET clients = clients + 1;
END;
