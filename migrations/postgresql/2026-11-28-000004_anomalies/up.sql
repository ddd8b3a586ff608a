-- Anomaly control (DESIGN §8): what the rules found, and which redemptions each flag
-- covers. A flag is identified by (rule, subject, period) while open; a resolved one is
-- never reopened, so only the open one is unique.
CREATE TABLE anomaly_flags (
    id BIGSERIAL PRIMARY KEY,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    period TEXT NOT NULL,
    -- What the rule looked at, e.g. `merchant:3`, `staff:9`, `card:12|merchant:3`.
    subject TEXT NOT NULL,
    merchant_id BIGINT REFERENCES merchants (id),
    staff_id BIGINT REFERENCES users (id),
    card_id BIGINT REFERENCES cards (id),
    -- The numbers behind the hit, as JSON.
    evidence TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cleared', 'confirmed')),
    response TEXT,
    responded_at TIMESTAMP,
    note TEXT,
    resolved_by BIGINT REFERENCES users (id),
    resolved_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE UNIQUE INDEX anomaly_flags_open_subject ON anomaly_flags (rule, subject, period)
    WHERE status = 'open';
CREATE INDEX anomaly_flags_queue ON anomaly_flags (period, status, severity);
CREATE INDEX anomaly_flags_merchant ON anomaly_flags (merchant_id) WHERE merchant_id IS NOT NULL;

CREATE TABLE anomaly_flag_redemptions (
    flag_id BIGINT NOT NULL REFERENCES anomaly_flags (id),
    redemption_id BIGINT NOT NULL REFERENCES redemptions (id),
    PRIMARY KEY (flag_id, redemption_id)
);
-- Holds: is this redemption under an open high flag?
CREATE INDEX anomaly_flag_redemptions_redemption ON anomaly_flag_redemptions (redemption_id);

-- Thresholds that differ from DESIGN §8's defaults (src/anomalies/thresholds.rs), changed
-- by an approved proposal. One row.
CREATE TABLE anomaly_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    thresholds TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Staff may give a phone (optional), kept like a talent's: encrypted, a blind index to
-- compare it with talents' phones (rule staff_redemption), and a masked form to show.
ALTER TABLE users ADD COLUMN phone_enc TEXT;
ALTER TABLE users ADD COLUMN phone_index TEXT;
ALTER TABLE users ADD COLUMN phone_masked TEXT;
CREATE INDEX users_phone_index ON users (phone_index) WHERE phone_index IS NOT NULL;
