-- Failed authentications pooled by every process on the database, so that
-- a limit holds in total however the attempts are spread (see
-- ratelimit.Shared). key is a limiter's scope and a SHA-256 of its key,
-- never the key itself: that may be an email address someone typed. A
-- window runs from its first failure, started_at, to expires_at; a failure
-- after expires_at starts the next one. Times are Unix microseconds.
CREATE TABLE failure_counts (
    key        TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX failure_counts_by_expiry ON failure_counts (expires_at);
