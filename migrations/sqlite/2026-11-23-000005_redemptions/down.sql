DROP TABLE disputes;
DROP TABLE reversals;
DROP TABLE redemptions;
