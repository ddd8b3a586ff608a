-- Twin of the PostgreSQL migration, which reorders the columns of the Idempotency-Key
-- constraint so PostgreSQL's cached plans cannot pick the wrong index. SQLite's planner
-- always prefers a unique index matched on every column, and the constraint is part of
-- the table definition here (changing it means rebuilding the table), so there is
-- nothing to change: the uniqueness is the same on both backends.
SELECT 1;
