-- Foundation: accounts, login throttling and the append-only audit chain.
-- Portable column types only (BIGINT, INTEGER, TEXT, BOOLEAN, TIMESTAMP): the same
-- diesel schema serves the SQLite twin of this migration. Timestamps are UTC.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'auditor', 'merchant', 'cashier', 'talent')),
    display_name TEXT NOT NULL DEFAULT '',
    -- Scope of merchant/cashier and talent accounts; set in the transaction that
    -- creates the merchant or talent.
    merchant_id BIGINT,
    talent_id BIGINT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Bumped on logout and password change: tokens carrying an older version are dead.
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_merchant ON users (merchant_id) WHERE merchant_id IS NOT NULL;

-- Failed logins per (lower-cased) username, known or not, shared by all instances.
CREATE TABLE login_throttle (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

-- Writers insert with seq NULL in their own transaction; the sealer links committed
-- entries into the hash chain (seq, prev_hash, hash) one batch at a time.
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
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

-- The chain head: its row lock is held only by the sealer, never by writers.
CREATE TABLE audit_chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL,
    sealed_at TIMESTAMP NOT NULL
);
INSERT INTO audit_chain_head (id, last_seq, last_hash, sealed_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', now() AT TIME ZONE 'UTC');

-- Append-only, enforced by the database: no delete, and a row changes once, when sealed.
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_events is append-only';
    END IF;
    IF OLD.seq IS NOT NULL
       OR NEW.id <> OLD.id OR NEW.at <> OLD.at
       OR NEW.actor_id IS DISTINCT FROM OLD.actor_id OR NEW.actor <> OLD.actor
       OR NEW.action <> OLD.action OR NEW.entity_type <> OLD.entity_type
       OR NEW.entity_id <> OLD.entity_id
       OR NEW.before_json IS DISTINCT FROM OLD.before_json
       OR NEW.after_json IS DISTINCT FROM OLD.after_json THEN
        RAISE EXCEPTION 'audit_events is append-only: only sealing may update a row, once';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
