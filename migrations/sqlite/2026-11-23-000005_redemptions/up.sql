-- SQLite twin of the PostgreSQL migration: same tables, constraints and indexes.
-- Redemptions at the counter, their reversals and the talents' disputes.
-- A redemption row is never deleted; its code's identity is unique, which is what makes
-- a code single-use across every counter and instance.
CREATE TABLE redemptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    offer_id BIGINT NOT NULL REFERENCES offers (id),
    card_id BIGINT NOT NULL REFERENCES cards (id),
    talent_id BIGINT NOT NULL REFERENCES talents (id),
    -- Copied at redemption time: reports and settlements group by what was true then.
    tier TEXT NOT NULL,
    category TEXT NOT NULL,
    district TEXT NOT NULL,
    subsidy_bp INTEGER NOT NULL CHECK (subsidy_bp BETWEEN 0 AND 10000),
    bill_fen BIGINT NOT NULL CHECK (bill_fen > 0),
    discount_fen BIGINT NOT NULL CHECK (discount_fen >= 0 AND discount_fen <= bill_fen),
    paid_fen BIGINT NOT NULL CHECK (paid_fen = bill_fen - discount_fen),
    subsidy_fen BIGINT NOT NULL CHECK (subsidy_fen >= 0 AND subsidy_fen <= discount_fen),
    code_window BIGINT NOT NULL,
    code_slot INTEGER NOT NULL,
    -- Local (Asia/Shanghai) day and month, for per-card limits and settlement periods.
    local_day TEXT NOT NULL,
    period TEXT NOT NULL,
    cashier_id BIGINT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'reversed')),
    -- An open dispute holds the redemption out of settlement.
    disputed BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT redemptions_code_once UNIQUE (card_id, code_window, code_slot),
    CONSTRAINT redemptions_idempotency UNIQUE (merchant_id, idempotency_key)
);
CREATE INDEX redemptions_card_offer_period ON redemptions (card_id, offer_id, period);
CREATE INDEX redemptions_merchant_time ON redemptions (merchant_id, created_at);
CREATE INDEX redemptions_talent_time ON redemptions (talent_id, created_at);
CREATE INDEX redemptions_time ON redemptions (created_at);
CREATE INDEX redemptions_period ON redemptions (period, merchant_id);

CREATE TABLE reversals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    redemption_id BIGINT NOT NULL UNIQUE REFERENCES redemptions (id),
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    reason TEXT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES users (id),
    -- The amounts taken back (positive; settlement lines show them negative).
    bill_fen BIGINT NOT NULL,
    discount_fen BIGINT NOT NULL,
    subsidy_fen BIGINT NOT NULL,
    period TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE disputes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    redemption_id BIGINT NOT NULL UNIQUE REFERENCES redemptions (id),
    talent_id BIGINT NOT NULL REFERENCES talents (id),
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'dismissed')),
    resolution_note TEXT,
    resolved_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE INDEX disputes_status ON disputes (status, created_at);
