-- Family cards go; talents is rebuilt without the dependent columns (see up.sql).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
ALTER TABLE offers DROP COLUMN dependents;
DROP INDEX cards_principal;
ALTER TABLE cards DROP COLUMN principal_card_id;
DELETE FROM talents WHERE principal_id IS NOT NULL;
CREATE TABLE talents_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    id_number_enc TEXT NOT NULL,
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
INSERT INTO talents_rebuilt SELECT id, name, id_number_enc, id_number_index,
    id_number_masked, phone_enc, phone_index, phone_masked, employer, tier, created_at,
    updated_at FROM talents;
DROP TABLE talents;
ALTER TABLE talents_rebuilt RENAME TO talents;
CREATE INDEX talents_tier ON talents (tier);
COMMIT;
PRAGMA foreign_keys = ON;
