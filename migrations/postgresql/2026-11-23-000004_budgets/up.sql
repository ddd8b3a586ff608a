-- Subsidy budgets. Every subsidised redemption reserves its subsidy here in its own
-- transaction; the CHECK constraints make a negative remainder impossible whatever the
-- application does. Money is integer fen.
CREATE TABLE budgets (
    year INTEGER PRIMARY KEY CHECK (year BETWEEN 2000 AND 2999),
    total_fen BIGINT NOT NULL CHECK (total_fen >= 0),
    -- Optional cap on the subsidy one merchant may receive per calendar month.
    merchant_monthly_cap_fen BIGINT CHECK (merchant_monthly_cap_fen >= 0),
    reserved_fen BIGINT NOT NULL DEFAULT 0 CHECK (reserved_fen >= 0),
    settled_fen BIGINT NOT NULL DEFAULT 0 CHECK (settled_fen >= 0),
    paid_fen BIGINT NOT NULL DEFAULT 0 CHECK (paid_fen >= 0),
    updated_at TIMESTAMP NOT NULL,
    CHECK (reserved_fen + settled_fen + paid_fen <= total_fen)
);

-- Optional envelopes per merchant category (衣食住行…) inside a year's budget.
CREATE TABLE budget_envelopes (
    year INTEGER NOT NULL REFERENCES budgets (year),
    category TEXT NOT NULL,
    total_fen BIGINT NOT NULL CHECK (total_fen >= 0),
    reserved_fen BIGINT NOT NULL DEFAULT 0 CHECK (reserved_fen >= 0),
    settled_fen BIGINT NOT NULL DEFAULT 0 CHECK (settled_fen >= 0),
    paid_fen BIGINT NOT NULL DEFAULT 0 CHECK (paid_fen >= 0),
    PRIMARY KEY (year, category),
    CHECK (reserved_fen + settled_fen + paid_fen <= total_fen)
);

-- Subsidy committed per merchant per local month, for the monthly cap.
CREATE TABLE merchant_month_subsidy (
    merchant_id BIGINT NOT NULL,
    period TEXT NOT NULL,
    subsidy_fen BIGINT NOT NULL CHECK (subsidy_fen >= 0),
    PRIMARY KEY (merchant_id, period)
);
