-- Failed authentications pooled by every instance on the database, so
-- that a limit holds in total however a load balancer spreads the
-- attempts (see ratelimit.Shared). key is a limiter's scope and a SHA-256
-- of its key, never the key itself: that may be an email address someone
-- typed. A window runs from its first failure, started_at, to expires_at; a
-- failure after expires_at starts the next one.
CREATE TABLE failure_counts (
    key        text COLLATE "C" PRIMARY KEY,
    started_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    failures   integer NOT NULL
);

CREATE INDEX failure_counts_by_expiry ON failure_counts (expires_at);
