-- Family cards (附属卡, DESIGN §11). A dependent — the spouse, a child or a parent of a
-- talent — is a card holder in their own right (own card number, codes, login when they
-- have a phone), so it is a talents row linked to its principal. The ID number's blind
-- index stays unique: one person, one card holder, whether talent or dependent.
ALTER TABLE talents
    ALTER COLUMN phone_enc DROP NOT NULL,
    ALTER COLUMN phone_index DROP NOT NULL,
    ALTER COLUMN phone_masked DROP NOT NULL,
    ADD COLUMN principal_id BIGINT REFERENCES talents (id),
    ADD COLUMN relation TEXT CHECK (relation IN ('spouse', 'child', 'parent')),
    ADD CONSTRAINT talents_dependent_has_relation CHECK ((principal_id IS NULL) = (relation IS NULL)),
    -- A phone is all three forms or none; only a dependent may have none.
    ADD CONSTRAINT talents_phone_whole CHECK (
        (phone_enc IS NULL) = (phone_index IS NULL) AND (phone_index IS NULL) = (phone_masked IS NULL)
    ),
    ADD CONSTRAINT talents_principal_has_phone CHECK (principal_id IS NOT NULL OR phone_index IS NOT NULL);
CREATE INDEX talents_principal ON talents (principal_id) WHERE principal_id IS NOT NULL;

-- A dependent card follows the principal card it hangs from (suspend, resume, revoke,
-- expiry, tier); a reissue of the principal relinks it to the new card.
ALTER TABLE cards ADD COLUMN principal_card_id BIGINT REFERENCES cards (id);
CREATE INDEX cards_principal ON cards (principal_card_id) WHERE principal_card_id IS NOT NULL;

-- Whether family cards may use the offer: part of its money terms (a change is a revision).
ALTER TABLE offers ADD COLUMN dependents BOOLEAN NOT NULL DEFAULT FALSE;
