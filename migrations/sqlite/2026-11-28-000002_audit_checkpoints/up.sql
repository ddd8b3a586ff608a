-- Audit log anchored outside the database (DESIGN §9, docs/audit-format.md); the
-- PostgreSQL twin of this migration explains the tables. SQLite has no roles: the
-- triggers below are what keeps the audit tables append-only.

CREATE TABLE audit_seals (
    seq BIGINT PRIMARY KEY CHECK (seq > 0),
    event_id BIGINT NOT NULL UNIQUE REFERENCES audit_events (id),
    legacy_hash TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    sealed_at TIMESTAMP NOT NULL
);
-- Sealing looks for new entries above the last one sealed a minute ago.
CREATE INDEX audit_seals_sealed_at ON audit_seals (sealed_at);

CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY CHECK (size >= 0),
    root TEXT NOT NULL,
    text TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    frontier TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('schedule', 'settlement', 'request')),
    signed_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_witnesses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    checkpoint_size BIGINT NOT NULL REFERENCES audit_checkpoints (size),
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    witnessed_by BIGINT,
    witnessed_at TIMESTAMP NOT NULL,
    UNIQUE (checkpoint_size, key_id)
);

ALTER TABLE settlements ADD COLUMN audit_checkpoint_size BIGINT;
ALTER TABLE settlements ADD COLUMN audit_checkpoint_root TEXT;

DROP INDEX audit_events_unsealed;
DROP TRIGGER audit_events_seal_once;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_chain_head_no_update BEFORE UPDATE ON audit_chain_head
BEGIN SELECT RAISE(ABORT, 'audit_chain_head is append-only'); END;
CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
BEGIN SELECT RAISE(ABORT, 'audit_chain_head is append-only'); END;
CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only'); END;
CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_witnesses_no_update BEFORE UPDATE ON audit_witnesses
BEGIN SELECT RAISE(ABORT, 'audit_witnesses is append-only'); END;
CREATE TRIGGER audit_witnesses_no_delete BEFORE DELETE ON audit_witnesses
BEGIN SELECT RAISE(ABORT, 'audit_witnesses is append-only'); END;
