ALTER TABLE redemptions DROP CONSTRAINT redemptions_idempotency;
ALTER TABLE redemptions ADD CONSTRAINT redemptions_idempotency UNIQUE (merchant_id, idempotency_key);
