-- Console sessions end after a while without activity, and remember how
-- the user proved who they are (RFC 8176 AMR values, a JSON list).
-- Sessions started before this knew only passwords, and were last seen,
-- as far as anyone knows, when they began.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN methods TEXT NOT NULL DEFAULT '["pwd"]';
UPDATE sessions SET last_seen_at = created_at;

-- A user whose password someone else chose (generated at first start, or
-- set by an admin) is asked to choose their own at their next console
-- sign-in. Every user so far chose theirs, or is trusted to have.
ALTER TABLE users ADD COLUMN password_change_required INTEGER NOT NULL DEFAULT 0;
