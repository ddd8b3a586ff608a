ALTER TABLE settlements DROP COLUMN invoice_no;
