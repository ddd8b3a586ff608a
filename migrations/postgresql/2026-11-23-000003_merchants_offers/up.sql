-- Partner merchants and their offers. Money is integer fen, rates basis points;
-- coordinates integer micro-degrees. The SQLite twin has the same columns and checks.

CREATE TABLE merchants (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    -- 统一社会信用代码, check character verified by the application: one merchant each.
    uscc TEXT NOT NULL UNIQUE CHECK (length(uscc) = 18),
    category TEXT NOT NULL CHECK (category IN ('clothing', 'food', 'housing', 'transport',
        'medical', 'education', 'leisure', 'other')),
    -- From the configured list (DISTRICTS), which may change: not constrained here.
    district TEXT NOT NULL,
    address TEXT NOT NULL,
    lat_e6 INTEGER CHECK (lat_e6 BETWEEN -90000000 AND 90000000),
    lon_e6 INTEGER CHECK (lon_e6 BETWEEN -180000000 AND 180000000),
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    bank_name TEXT NOT NULL,
    bank_account TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'rejected')),
    -- Why it was last rejected or suspended.
    status_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((lat_e6 IS NULL) = (lon_e6 IS NULL))
);
CREATE INDEX merchants_directory ON merchants (status, category, district);

-- Money terms are immutable: an edit inserts a new version (replaces_id) and ends the
-- old one, so every redemption keeps the terms it was made under.
CREATE TABLE offers (
    id BIGSERIAL PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
    percent_bp INTEGER,
    amount_fen BIGINT,
    min_spend_fen BIGINT NOT NULL CHECK (min_spend_fen >= 0),
    max_discount_fen BIGINT,
    -- Eligible tiers as sorted letters, e.g. 'ACE'.
    tiers TEXT NOT NULL CHECK (length(tiers) BETWEEN 1 AND 5),
    per_card_daily INTEGER CHECK (per_card_daily > 0),
    per_card_monthly INTEGER CHECK (per_card_monthly > 0),
    valid_from TIMESTAMP,
    valid_until TIMESTAMP,
    subsidy_bp INTEGER NOT NULL CHECK (subsidy_bp BETWEEN 0 AND 10000),
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'paused', 'ended', 'rejected')),
    status_reason TEXT,
    replaces_id BIGINT REFERENCES offers (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (
        (kind = 'percent' AND percent_bp BETWEEN 1 AND 10000 AND max_discount_fen > 0
            AND amount_fen IS NULL)
        OR (kind = 'fixed' AND amount_fen > 0 AND percent_bp IS NULL
            AND max_discount_fen IS NULL)
    ),
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);
CREATE INDEX offers_merchant ON offers (merchant_id, status);
CREATE INDEX offers_status ON offers (status, id);
CREATE INDEX offers_replaces ON offers (replaces_id) WHERE replaces_id IS NOT NULL;
