-- SQLite twin. -- Family cards (附属卡, DESIGN §11). A dependent — the spouse, a child
-- or a parent of a talent — is a card holder in their own right (own card number, codes,
-- login when they have a phone), so it is a talents row linked to its principal. The ID
-- number's blind index stays unique: one person, one card holder.
-- The rebuild is SQLite's documented twelve steps: foreign keys off, new table, copy,
-- drop, rename, indexes, check, commit.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE talents_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    id_number_enc TEXT NOT NULL,
    id_number_index TEXT NOT NULL UNIQUE,
    id_number_masked TEXT NOT NULL,
    phone_enc TEXT,
    phone_index TEXT UNIQUE,
    phone_masked TEXT,
    employer TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('A', 'B', 'C', 'D', 'E')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    principal_id BIGINT REFERENCES talents (id),
    relation TEXT CHECK (relation IN ('spouse', 'child', 'parent')),
    CONSTRAINT talents_dependent_has_relation CHECK ((principal_id IS NULL) = (relation IS NULL)),
    CONSTRAINT talents_phone_whole CHECK (
        (phone_enc IS NULL) = (phone_index IS NULL) AND (phone_index IS NULL) = (phone_masked IS NULL)
    ),
    CONSTRAINT talents_principal_has_phone CHECK (principal_id IS NOT NULL OR phone_index IS NOT NULL)
);
INSERT INTO talents_rebuilt (id, name, id_number_enc, id_number_index, id_number_masked,
        phone_enc, phone_index, phone_masked, employer, tier, created_at, updated_at)
    SELECT id, name, id_number_enc, id_number_index, id_number_masked,
        phone_enc, phone_index, phone_masked, employer, tier, created_at, updated_at
    FROM talents;
DROP TABLE talents;
ALTER TABLE talents_rebuilt RENAME TO talents;
CREATE INDEX talents_tier ON talents (tier);
CREATE INDEX talents_principal ON talents (principal_id) WHERE principal_id IS NOT NULL;

ALTER TABLE cards ADD COLUMN principal_card_id BIGINT REFERENCES cards (id);
CREATE INDEX cards_principal ON cards (principal_card_id) WHERE principal_card_id IS NOT NULL;

ALTER TABLE offers ADD COLUMN dependents BOOLEAN NOT NULL DEFAULT FALSE;
COMMIT;
PRAGMA foreign_keys = ON;
