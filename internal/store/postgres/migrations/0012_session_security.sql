-- Console sessions end after a while without activity, and remember how
-- the user proved who they are (RFC 8176 AMR values). Sessions started
-- before this knew only passwords, and were last seen, as far as anyone
-- knows, when they began.
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE sessions ALTER COLUMN last_seen_at SET NOT NULL;
ALTER TABLE sessions ADD COLUMN methods text[] NOT NULL DEFAULT '{pwd}';
ALTER TABLE sessions ALTER COLUMN methods DROP DEFAULT;

-- A user whose password someone else chose (generated at first start, or
-- set by an admin) is asked to choose their own at their next console
-- sign-in. Every user so far chose theirs, or is trusted to have.
ALTER TABLE users ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;
