DROP TRIGGER users_kept ON users;
DROP TRIGGER talents_kept ON talents;
DROP TRIGGER cards_kept ON cards;
DROP TRIGGER offers_kept ON offers;
DROP TRIGGER merchants_kept ON merchants;
DROP FUNCTION refuse_delete_of_kept_rows();
ALTER TABLE redemptions
    ADD CONSTRAINT redemptions_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
    ADD CONSTRAINT redemptions_offer_id_fkey FOREIGN KEY (offer_id) REFERENCES offers (id),
    ADD CONSTRAINT redemptions_card_id_fkey FOREIGN KEY (card_id) REFERENCES cards (id),
    ADD CONSTRAINT redemptions_talent_id_fkey FOREIGN KEY (talent_id) REFERENCES talents (id),
    ADD CONSTRAINT redemptions_cashier_id_fkey FOREIGN KEY (cashier_id) REFERENCES users (id);
