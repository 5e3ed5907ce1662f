-- Where a secret was last used from, beside when (last_used_at), so an
-- admin finishing a rotation can tell which caller still holds the old
-- secret; '' when never used or unknown. retiring_warned_at is set once,
-- by the first use of a retiring secret in the last hour of its grace, so
-- that warning is given once across restarts and instances.
ALTER TABLE client_secrets ADD COLUMN last_used_addr TEXT NOT NULL DEFAULT '';
ALTER TABLE client_secrets ADD COLUMN retiring_warned_at INTEGER;
