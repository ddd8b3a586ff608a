-- SQLite twin of the PostgreSQL foundation migration: same tables, constraints and
-- append-only rules. INTEGER PRIMARY KEY is SQLite's 64-bit rowid.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'auditor', 'merchant', 'cashier', 'talent')),
    display_name TEXT NOT NULL DEFAULT '',
    merchant_id BIGINT,
    talent_id BIGINT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_merchant ON users (merchant_id) WHERE merchant_id IS NOT NULL;

CREATE TABLE login_throttle (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    actor_id BIGINT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    seq BIGINT UNIQUE,
    prev_hash TEXT,
    hash TEXT
);
CREATE INDEX audit_events_unsealed ON audit_events (id) WHERE seq IS NULL;
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TABLE audit_chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL,
    sealed_at TIMESTAMP NOT NULL
);
INSERT INTO audit_chain_head (id, last_seq, last_hash, sealed_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', strftime('%Y-%m-%d %H:%M:%f', 'now'));

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_seal_once BEFORE UPDATE ON audit_events
WHEN OLD.seq IS NOT NULL
  OR NEW.id IS NOT OLD.id OR NEW.at IS NOT OLD.at
  OR NEW.actor_id IS NOT OLD.actor_id OR NEW.actor IS NOT OLD.actor
  OR NEW.action IS NOT OLD.action OR NEW.entity_type IS NOT OLD.entity_type
  OR NEW.entity_id IS NOT OLD.entity_id
  OR NEW.before_json IS NOT OLD.before_json OR NEW.after_json IS NOT OLD.after_json
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: only sealing may update a row, once');
END;
