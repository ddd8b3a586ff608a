-- Reservation slots. Every subsidised redemption must take its subsidy from the year's
-- budget (and its category's envelope); with one counter row per budget every counter in
-- the city would queue on that row's lock until commit. Instead each budget (scope '' =
-- the year's total, otherwise a category envelope) is split into K slots. A slot holds
-- room handed to it from the budget (room_fen) and what redemptions took from that room
-- since the last fold (used_fen). A redemption touches one slot, picked by its id; the
-- slot is refilled, or all room reclaimed, only under the budget row's lock, so a budget
-- with room for 3 still grants exactly 3. The budget's reserved_fen plus the slots'
-- used_fen is what is reserved; remaining = total - reserved - settled - paid.
CREATE TABLE budget_slots (
    year INTEGER NOT NULL REFERENCES budgets (year),
    scope TEXT NOT NULL,
    slot INTEGER NOT NULL CHECK (slot >= 0),
    room_fen BIGINT NOT NULL DEFAULT 0 CHECK (room_fen >= 0),
    used_fen BIGINT NOT NULL DEFAULT 0 CHECK (used_fen >= 0),
    PRIMARY KEY (year, scope, slot)
);
