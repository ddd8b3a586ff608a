DROP TRIGGER audit_witnesses_no_truncate ON audit_witnesses;
DROP TRIGGER audit_witnesses_append_only ON audit_witnesses;
DROP TRIGGER audit_checkpoints_no_truncate ON audit_checkpoints;
DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints;
DROP TRIGGER audit_seals_no_truncate ON audit_seals;
DROP TRIGGER audit_seals_append_only ON audit_seals;
DROP TRIGGER audit_chain_head_frozen ON audit_chain_head;
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_append_only();
DROP TABLE audit_witnesses;
DROP TABLE audit_checkpoints;
DROP TABLE audit_seals;
ALTER TABLE settlements DROP COLUMN audit_checkpoint_root;
ALTER TABLE settlements DROP COLUMN audit_checkpoint_size;
CREATE INDEX audit_events_unsealed ON audit_events (id) WHERE seq IS NULL;
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
