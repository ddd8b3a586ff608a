-- Audit log anchored outside the database (DESIGN §9, docs/audit-format.md).
--
-- Sealing becomes insert-only: the chain position and hashes of an entry live in
-- audit_seals, so the service's role needs only INSERT and SELECT on audit tables
-- (src/db/roles.rs grants exactly that). The seal columns of audit_events and
-- audit_chain_head keep the version 1 chain as it was; the service re-seals those
-- entries under version 2 once, committing to each old hash (src/audit/upgrade.rs).

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

-- Signed tree heads. `frontier` holds the right-edge subtree roots so the next
-- checkpoint reads only the entries sealed since.
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

-- Countersignatures of checkpoints by keys the server never holds.
CREATE TABLE audit_witnesses (
    id BIGSERIAL PRIMARY KEY,
    checkpoint_size BIGINT NOT NULL REFERENCES audit_checkpoints (size),
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    witnessed_by BIGINT,
    witnessed_at TIMESTAMP NOT NULL,
    UNIQUE (checkpoint_size, key_id)
);

-- A settlement approval records the checkpoint it was approved against.
ALTER TABLE settlements ADD COLUMN audit_checkpoint_size BIGINT;
ALTER TABLE settlements ADD COLUMN audit_checkpoint_root TEXT;

DROP INDEX audit_events_unsealed;

-- Every audit table is append-only, enforced for every role but the owner (who alone
-- may disable triggers; the service does not run as the owner).
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_chain_head_frozen BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_witnesses_append_only BEFORE UPDATE OR DELETE ON audit_witnesses
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_witnesses_no_truncate BEFORE TRUNCATE ON audit_witnesses
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
