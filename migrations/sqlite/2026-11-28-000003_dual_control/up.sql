-- SQLite twin. -- Dual control (DESIGN §13): changes one official must not make alone wait here as
-- proposals until a second admin approves them, or they are rejected or expire.
CREATE TABLE proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    -- What approving it does, in plain words (English; the pages render their own).
    summary TEXT NOT NULL,
    -- The request as JSON, validated when proposed; never a secret.
    payload TEXT NOT NULL,
    -- The account the proposal is about (role change, reactivation; for a new official,
    -- the account approval created). The pair rule of settlement approval reads it.
    target_user_id BIGINT REFERENCES users (id),
    status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'approved', 'rejected', 'expired')),
    proposed_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMP,
    decision_reason TEXT,
    -- What approval produced, as JSON (never an activation code).
    result TEXT,
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE INDEX proposals_open ON proposals (expires_at) WHERE status = 'open';
CREATE INDEX proposals_target_user ON proposals (target_user_id, decided_at)
    WHERE target_user_id IS NOT NULL;

-- One-time codes that let a person set their own password (new officials now; talents,
-- merchant owners and cashiers with onboarding). Only a SHA-256 of the code is kept.
CREATE TABLE activation_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL UNIQUE,
    issued_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX activation_codes_user ON activation_codes (user_id);
