-- SQLite twin. The merchant's 发票 (invoice) number for a settlement's subsidy, given when
-- the owner confirms it (DESIGN §4: confirm takes `{invoice_no?}`); shown on the
-- settlement, its statement and the payout batch. NULL when the merchant gave none.
ALTER TABLE settlements ADD COLUMN invoice_no TEXT;
