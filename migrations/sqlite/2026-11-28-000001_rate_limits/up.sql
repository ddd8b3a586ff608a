-- SQLite twin. Fixed-window counters for every limit counted before the work it guards (login
-- attempts per username+address, per address and per username; public applications per
-- address; cashiers created per merchant and day). See src/ratelimit.rs.
DROP TABLE login_throttle;
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    hits INTEGER NOT NULL CHECK (hits >= 0),
    window_end TIMESTAMP NOT NULL
);
-- Expired windows are purged by this column.
CREATE INDEX rate_limits_window_end ON rate_limits (window_end);

-- Forged-code guesses per merchant, all its staff together (src/codes/guard.rs): the
-- per-account limit alone lets an owner multiply guesses by adding cashiers.
CREATE TABLE merchant_guess_throttle (
    merchant_id BIGINT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL
);
