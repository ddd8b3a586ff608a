-- Talents and their cards. Personal data (ID number, phone) is stored only as AEAD
-- ciphertext, a keyed blind index for exact lookups and its masked display form; the
-- plain value never reaches the database.

CREATE TABLE talents (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    id_number_enc TEXT NOT NULL,
    -- HMAC-SHA256 of the normalised ID number: one talent per person.
    id_number_index TEXT NOT NULL UNIQUE,
    id_number_masked TEXT NOT NULL,
    phone_enc TEXT NOT NULL,
    phone_index TEXT NOT NULL UNIQUE,
    phone_masked TEXT NOT NULL,
    employer TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('A', 'B', 'C', 'D', 'E')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX talents_tier ON talents (tier);

-- Stored status is active | suspended | revoked | expired; 'expired' is only written
-- when a lapsed card is superseded by a new one. A live card past expires_at is
-- reported as expired without any batch job (see cards::effective_status).
CREATE TABLE cards (
    id BIGSERIAL PRIMARY KEY,
    card_no TEXT NOT NULL UNIQUE,
    talent_id BIGINT NOT NULL REFERENCES talents (id),
    tier TEXT NOT NULL CHECK (tier IN ('A', 'B', 'C', 'D', 'E')),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked', 'expired')),
    status_reason TEXT,
    issued_at TIMESTAMP NOT NULL,
    -- First instant (UTC) at which the card is no longer valid.
    expires_at TIMESTAMP NOT NULL,
    status_changed_at TIMESTAMP NOT NULL,
    -- Set on a card revoked by reissue: the card that replaced it.
    replaced_by BIGINT REFERENCES cards (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (expires_at > issued_at)
);
-- At most one live (active or suspended) card per talent, even under concurrent issues.
CREATE UNIQUE INDEX cards_one_live_per_talent ON cards (talent_id) WHERE status IN ('active', 'suspended');
CREATE INDEX cards_talent ON cards (talent_id);
CREATE INDEX cards_status ON cards (status, expires_at);

-- Codes with a wrong signature per merchant staff account in the current hour: bounds
-- how many guesses anyone can make at forging a code (see codes::guard).
CREATE TABLE code_guess_throttle (
    user_id BIGINT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL
);
