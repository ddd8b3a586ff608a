DROP TRIGGER users_kept;
DROP TRIGGER talents_kept;
DROP TRIGGER cards_kept;
DROP TRIGGER offers_kept;
DROP TRIGGER merchants_kept;
