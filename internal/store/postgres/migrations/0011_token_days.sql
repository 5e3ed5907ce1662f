-- The console's dashboard: tokens issued per day, and fleet counts that
-- stay cheap at a million clients. Done the same way on both backends.
--
-- 1. Tokens issued per UTC day. The usage recorder counts them in memory
--    and its flush adds them here, so issuing a token writes nothing.
--    client_token_days is per client and goes with it;
--    tenant_token_days is per tenant and the client's division at issue,
--    and stays when clients go, so the fleet's history does not shrink
--    (and an admin of some divisions sees theirs). Rows older than
--    client.TokenHistoryDays are pruned with expired tokens, through
--    client_token_days_by_day.

CREATE TABLE client_token_days (
    client_id text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    day       date NOT NULL,
    tokens    bigint NOT NULL,
    PRIMARY KEY (client_id, day)
);

CREATE INDEX client_token_days_by_day ON client_token_days (day);

CREATE TABLE tenant_token_days (
    tenant_id   text COLLATE "C" NOT NULL,
    day         date NOT NULL,
    division_id text COLLATE "C" NOT NULL,
    tokens      bigint NOT NULL,
    PRIMARY KEY (tenant_id, day, division_id)
);

-- 2. Clients counted by tenant, status, UTC day of secret expiry and
--    division, kept by the triggers below. Counting a million clients by
--    status, or those whose secret expired, reads an index entry each
--    (hundreds of milliseconds); these counts are a few thousand rows a
--    tenant. expiry_day is days since 1970-01-01 of secret_expires_at, -1
--    when it never expires. A count that falls to 0 stays, as a row.
--
--    Expiry at an instant (now, now + 7 days) is the whole days before
--    it, from here, plus the part of its own day, read from
--    clients_active_by_expiry: a range of one day's clients at most.

CREATE TABLE client_counts (
    tenant_id   text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,
    expiry_day  integer NOT NULL,
    division_id text COLLATE "C" NOT NULL,
    clients     bigint NOT NULL,
    PRIMARY KEY (tenant_id, status, expiry_day, division_id)
);

CREATE FUNCTION client_expiry_day(t timestamptz) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT COALESCE(floor(extract(epoch FROM t) / 86400)::integer, -1) $$;

-- Inserts and deletes are counted once a statement, from its transition
-- table, so that a bulk load adds to each count once rather than once a
-- row. Every statement takes its counts' row locks in key order, so two
-- of them never wait on each other in turn.
CREATE FUNCTION count_clients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO client_counts AS c (tenant_id, status, expiry_day, division_id, clients)
        SELECT tenant_id, status, client_expiry_day(secret_expires_at), division_id, count(*)
        FROM counted_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (tenant_id, status, expiry_day, division_id) DO UPDATE SET clients = c.clients + excluded.clients;
    ELSE
        INSERT INTO client_counts AS c (tenant_id, status, expiry_day, division_id, clients)
        SELECT tenant_id, status, client_expiry_day(secret_expires_at), division_id, -count(*)
        FROM counted_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (tenant_id, status, expiry_day, division_id) DO UPDATE SET clients = c.clients + excluded.clients;
    END IF;
    RETURN NULL;
END
$$;

-- An update moves one client from one count to another, when what is
-- counted changed: row by row, so that updates of other columns (last
-- used times, above all) cost nothing.
CREATE FUNCTION recount_client() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO client_counts AS c (tenant_id, status, expiry_day, division_id, clients)
    SELECT * FROM (VALUES
        (OLD.tenant_id, OLD.status, client_expiry_day(OLD.secret_expires_at), OLD.division_id, -1::bigint),
        (NEW.tenant_id, NEW.status, client_expiry_day(NEW.secret_expires_at), NEW.division_id, 1::bigint)
    ) AS v (tenant_id, status, expiry_day, division_id, clients)
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (tenant_id, status, expiry_day, division_id) DO UPDATE SET clients = c.clients + excluded.clients;
    RETURN NULL;
END
$$;

-- The triggers come before the counts of the clients so far: creating
-- them locks out writers to clients until this migration commits, so no
-- client is missed or counted twice.
CREATE TRIGGER clients_counted_insert AFTER INSERT ON clients
    REFERENCING NEW TABLE AS counted_rows FOR EACH STATEMENT EXECUTE FUNCTION count_clients();
CREATE TRIGGER clients_counted_delete AFTER DELETE ON clients
    REFERENCING OLD TABLE AS counted_rows FOR EACH STATEMENT EXECUTE FUNCTION count_clients();
CREATE TRIGGER clients_recounted AFTER UPDATE OF tenant_id, status, secret_expires_at, division_id ON clients
    FOR EACH ROW WHEN (OLD.tenant_id <> NEW.tenant_id OR OLD.status <> NEW.status OR OLD.division_id <> NEW.division_id
        OR client_expiry_day(OLD.secret_expires_at) <> client_expiry_day(NEW.secret_expires_at))
    EXECUTE FUNCTION recount_client();

INSERT INTO client_counts (tenant_id, status, expiry_day, division_id, clients)
    SELECT tenant_id, status, client_expiry_day(secret_expires_at), division_id, count(*)
    FROM clients GROUP BY 1, 2, 3, 4;

-- The active clients by secret expiry, for the part-days above. The
-- division is in the index so that an admin of some divisions is
-- answered from it alone.
CREATE INDEX clients_active_by_expiry ON clients (tenant_id, secret_expires_at, division_id)
    WHERE status = 'active' AND secret_expires_at IS NOT NULL;
