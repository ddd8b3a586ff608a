-- The holder is told of every use of their card (DESIGN §11). Where a message gateway is
-- configured, each redemption becomes one notification here and is delivered to the
-- gateway's webhook: one row per redemption (never twice), retried with backoff until
-- the gateway takes it (never lost).
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    redemption_id BIGINT NOT NULL UNIQUE REFERENCES redemptions (id),
    talent_id BIGINT NOT NULL REFERENCES talents (id),
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE delivered_at IS NULL;
