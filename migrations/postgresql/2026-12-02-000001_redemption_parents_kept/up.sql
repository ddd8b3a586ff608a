-- A redemption names its merchant, offer, card, talent and cashier. Those rows are never
-- deleted (a merchant, offer, card or account ends with a status; the row stays so the
-- money records keep their names), and from now on the database refuses to delete them.
-- That is what the redemption's five foreign keys guarded, at a price on every sale:
-- each insert ran five lookups, each locking its parent row FOR KEY SHARE (a write to that
-- row's page, and a multixact when two counters of one shop sold at once). Measured on
-- the realistic counter mix (BENCHMARKS.md): the redemption's write took 241 µs with
-- them, 171 µs without. The ids a redemption carries are read in its own transaction,
-- the card's row locked.
ALTER TABLE redemptions
    DROP CONSTRAINT redemptions_merchant_id_fkey,
    DROP CONSTRAINT redemptions_offer_id_fkey,
    DROP CONSTRAINT redemptions_card_id_fkey,
    DROP CONSTRAINT redemptions_talent_id_fkey,
    DROP CONSTRAINT redemptions_cashier_id_fkey;

CREATE FUNCTION refuse_delete_of_kept_rows() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted: redemptions name them; end one with its status instead', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER merchants_kept BEFORE DELETE ON merchants
    FOR EACH ROW EXECUTE FUNCTION refuse_delete_of_kept_rows();
CREATE TRIGGER offers_kept BEFORE DELETE ON offers
    FOR EACH ROW EXECUTE FUNCTION refuse_delete_of_kept_rows();
CREATE TRIGGER cards_kept BEFORE DELETE ON cards
    FOR EACH ROW EXECUTE FUNCTION refuse_delete_of_kept_rows();
CREATE TRIGGER talents_kept BEFORE DELETE ON talents
    FOR EACH ROW EXECUTE FUNCTION refuse_delete_of_kept_rows();
CREATE TRIGGER users_kept BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION refuse_delete_of_kept_rows();
