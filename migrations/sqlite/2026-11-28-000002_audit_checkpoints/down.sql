DROP TRIGGER audit_witnesses_no_delete;
DROP TRIGGER audit_witnesses_no_update;
DROP TRIGGER audit_checkpoints_no_delete;
DROP TRIGGER audit_checkpoints_no_update;
DROP TRIGGER audit_seals_no_delete;
DROP TRIGGER audit_seals_no_update;
DROP TRIGGER audit_chain_head_no_delete;
DROP TRIGGER audit_chain_head_no_update;
DROP TRIGGER audit_events_no_update;
DROP TABLE audit_witnesses;
DROP TABLE audit_checkpoints;
DROP TABLE audit_seals;
ALTER TABLE settlements DROP COLUMN audit_checkpoint_root;
ALTER TABLE settlements DROP COLUMN audit_checkpoint_size;
CREATE INDEX audit_events_unsealed ON audit_events (id) WHERE seq IS NULL;
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
