DROP TRIGGER IF EXISTS audit_events_seal_once;
DROP TRIGGER IF EXISTS audit_events_no_delete;
DROP TABLE audit_chain_head;
DROP TABLE audit_events;
DROP TABLE login_throttle;
DROP TABLE users;
