-- The rows a redemption names are never deleted (see the PostgreSQL migration of the same
-- name). SQLite keeps the redemption's foreign keys as well: dropping them would mean
-- rebuilding the table, and here a check is a local B-tree lookup that locks no row.
CREATE TRIGGER merchants_kept BEFORE DELETE ON merchants
BEGIN SELECT RAISE(ABORT, 'merchants rows are never deleted: redemptions name them; end one with its status instead'); END;
CREATE TRIGGER offers_kept BEFORE DELETE ON offers
BEGIN SELECT RAISE(ABORT, 'offers rows are never deleted: redemptions name them; end one with its status instead'); END;
CREATE TRIGGER cards_kept BEFORE DELETE ON cards
BEGIN SELECT RAISE(ABORT, 'cards rows are never deleted: redemptions name them; end one with its status instead'); END;
CREATE TRIGGER talents_kept BEFORE DELETE ON talents
BEGIN SELECT RAISE(ABORT, 'talents rows are never deleted: redemptions name them; end one with its status instead'); END;
CREATE TRIGGER users_kept BEFORE DELETE ON users
BEGIN SELECT RAISE(ABORT, 'users rows are never deleted: redemptions name them; end one with its status instead'); END;
