-- SQLite twin. -- Device sessions (DESIGN §4): each login is one, renewed by a rotating refresh token
-- held in an HttpOnly cookie. Only a SHA-256 of a refresh token is kept. Access tokens
-- name their session, so ending one (logout at one till) ends its access at once while
-- the account's other devices stay signed in.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    refresh_hash TEXT NOT NULL UNIQUE,
    -- The token this one replaced: presented again within a few seconds it is a second
    -- tab racing the first (answered without rotating); later, a copy someone kept —
    -- the session ends.
    previous_hash TEXT,
    rotated_at TIMESTAMP NOT NULL,
    -- The account's token version at login: a logout-all, password change or
    -- deactivation bumps it and so ends every session.
    token_version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- Last renewal: the idle limit of officials counts from here.
    last_used_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    end_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
