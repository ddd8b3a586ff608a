-- The Idempotency-Key lookup runs before every redemption. With the constraint's columns
-- as (merchant_id, idempotency_key), a plan cached while the table was small may pick
-- redemptions_merchant_time (merchant_id, created_at) instead and filter the key over
-- every redemption of the merchant: measured at 560 buffer reads and 1.8 ms per
-- redemption after 5k rows. Key first, only this index can answer the lookup. The
-- uniqueness it enforces is unchanged.
ALTER TABLE redemptions DROP CONSTRAINT redemptions_idempotency;
ALTER TABLE redemptions ADD CONSTRAINT redemptions_idempotency UNIQUE (idempotency_key, merchant_id);
