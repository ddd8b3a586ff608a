DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
DROP FUNCTION IF EXISTS audit_events_append_only();
DROP TABLE audit_chain_head;
DROP TABLE audit_events;
DROP TABLE login_throttle;
DROP TABLE users;
