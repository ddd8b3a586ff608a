-- SQLite twin. -- Physical cards (DESIGN §11): a talent without a smartphone shows the printed card and
-- types a 6-digit PIN at the counter. Only a keyed hash of the PIN is kept (HMAC under a
-- server-held key: a slow hash of six digits would protect little). Wrong PINs lock PIN
-- use: 5 in a row for 15 minutes, 10 in a local day until a new PIN is set.
CREATE TABLE card_pins (
    card_id BIGINT PRIMARY KEY REFERENCES cards (id),
    pin_hash TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL,
    set_by BIGINT REFERENCES users (id),
    failures INTEGER NOT NULL DEFAULT 0,
    day_failures INTEGER NOT NULL DEFAULT 0,
    failures_day TEXT,
    locked_until TIMESTAMP,
    blocked BOOLEAN NOT NULL DEFAULT FALSE
);
