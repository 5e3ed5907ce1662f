-- The console's dashboard: tokens issued per day, and fleet counts that
-- stay cheap at a million clients. Done the same way on both backends.
--
-- 1. Tokens issued per UTC day. The usage recorder counts them in memory
--    and its flush adds them here, so issuing a token writes nothing.
--    client_token_days is per client and goes with it;
--    tenant_token_days is per tenant and the client's division at issue,
--    and stays when clients go, so the fleet's history does not shrink
--    (and an admin of some divisions sees theirs). day is the UTC
--    midnight counted, in Unix microseconds. Rows older than
--    client.TokenHistoryDays are pruned with expired tokens, through
--    client_token_days_by_day.

CREATE TABLE client_token_days (
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    day       INTEGER NOT NULL,
    tokens    INTEGER NOT NULL,
    PRIMARY KEY (client_id, day)
) WITHOUT ROWID;

CREATE INDEX client_token_days_by_day ON client_token_days (day);

CREATE TABLE tenant_token_days (
    tenant_id   TEXT NOT NULL,
    day         INTEGER NOT NULL,
    division_id TEXT NOT NULL,
    tokens      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day, division_id)
) WITHOUT ROWID;

-- 2. Clients counted by tenant, status, UTC day of secret expiry and
--    division, kept by the triggers below. Counting a million clients by
--    status, or those whose secret expired, reads an index entry each
--    (100 ms and more); these counts are a few thousand rows a tenant.
--    expiry_day is days since 1970-01-01 of secret_expires_at, -1 when
--    it never expires. A count that falls to 0 stays, as a row.
--
--    Expiry at an instant (now, now + 7 days) is the whole days before
--    it, from here, plus the part of its own day, read from
--    clients_active_by_expiry: a range of one day's clients at most.

CREATE TABLE client_counts (
    tenant_id   TEXT NOT NULL,
    status      TEXT NOT NULL,
    expiry_day  INTEGER NOT NULL,
    division_id TEXT NOT NULL,
    clients     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, status, expiry_day, division_id)
) WITHOUT ROWID;

INSERT INTO client_counts (tenant_id, status, expiry_day, division_id, clients)
    SELECT tenant_id, status, COALESCE(secret_expires_at / 86400000000, -1), division_id, COUNT(*)
    FROM clients GROUP BY 1, 2, 3, 4;

CREATE TRIGGER clients_status_counted_insert AFTER INSERT ON clients BEGIN
    INSERT INTO client_counts (tenant_id, status, expiry_day, division_id, clients)
        VALUES (new.tenant_id, new.status, COALESCE(new.secret_expires_at / 86400000000, -1), new.division_id, 1)
        ON CONFLICT (tenant_id, status, expiry_day, division_id) DO UPDATE SET clients = clients + 1;
END;

CREATE TRIGGER clients_status_counted_delete AFTER DELETE ON clients BEGIN
    UPDATE client_counts SET clients = clients - 1
        WHERE tenant_id = old.tenant_id AND status = old.status
          AND expiry_day = COALESCE(old.secret_expires_at / 86400000000, -1) AND division_id = old.division_id;
END;

CREATE TRIGGER clients_status_counted_update AFTER UPDATE OF tenant_id, status, secret_expires_at, division_id ON clients
    WHEN new.tenant_id <> old.tenant_id OR new.status <> old.status OR new.division_id <> old.division_id
      OR COALESCE(new.secret_expires_at / 86400000000, -1) <> COALESCE(old.secret_expires_at / 86400000000, -1)
BEGIN
    UPDATE client_counts SET clients = clients - 1
        WHERE tenant_id = old.tenant_id AND status = old.status
          AND expiry_day = COALESCE(old.secret_expires_at / 86400000000, -1) AND division_id = old.division_id;
    INSERT INTO client_counts (tenant_id, status, expiry_day, division_id, clients)
        VALUES (new.tenant_id, new.status, COALESCE(new.secret_expires_at / 86400000000, -1), new.division_id, 1)
        ON CONFLICT (tenant_id, status, expiry_day, division_id) DO UPDATE SET clients = clients + 1;
END;

-- The active clients by secret expiry, for the part-days above. The
-- division is in the index so that an admin of some divisions is
-- answered from it alone.
CREATE INDEX clients_active_by_expiry ON clients (tenant_id, secret_expires_at, division_id)
    WHERE status = 'active' AND secret_expires_at IS NOT NULL;
