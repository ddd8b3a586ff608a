ALTER TABLE offers DROP COLUMN dependents;
DROP INDEX cards_principal;
ALTER TABLE cards DROP COLUMN principal_card_id;
DROP INDEX talents_principal;
DELETE FROM talents WHERE principal_id IS NOT NULL;
ALTER TABLE talents
    DROP CONSTRAINT talents_principal_has_phone,
    DROP CONSTRAINT talents_phone_whole,
    DROP CONSTRAINT talents_dependent_has_relation,
    DROP COLUMN relation,
    DROP COLUMN principal_id,
    ALTER COLUMN phone_enc SET NOT NULL,
    ALTER COLUMN phone_index SET NOT NULL,
    ALTER COLUMN phone_masked SET NOT NULL;
