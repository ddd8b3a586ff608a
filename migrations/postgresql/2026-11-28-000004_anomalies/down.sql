DROP INDEX users_phone_index;
ALTER TABLE users DROP COLUMN phone_masked;
ALTER TABLE users DROP COLUMN phone_index;
ALTER TABLE users DROP COLUMN phone_enc;
DROP TABLE anomaly_settings;
DROP TABLE anomaly_flag_redemptions;
DROP TABLE anomaly_flags;
