//! Writes that need nothing from one another, sent as one PostgreSQL statement:
//! `WITH w1 AS (A), w2 AS (B) C`. PostgreSQL runs every data-modifying statement of a
//! WITH exactly once and to completion, and the statement succeeds or fails as a whole,
//! so this is the three statements in one round trip instead of three. SQLite has no
//! data-modifying WITH; there the caller runs them one by one (in process, no round
//! trips to save).

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `first` and `second` in a WITH, then `last`, whose row count the statement returns.
#[derive(Debug, Clone, Copy, QueryId)]
pub struct InOneStatement<A, B, C> {
    first: A,
    second: B,
    last: C,
}

impl<A, B, C> InOneStatement<A, B, C> {
    pub fn new(first: A, second: B, last: C) -> Self {
        Self {
            first,
            second,
            last,
        }
    }
}

impl<A, B, C, Conn> RunQueryDsl<Conn> for InOneStatement<A, B, C> {}

impl<A, B, C> QueryFragment<Pg> for InOneStatement<A, B, C>
where
    A: QueryFragment<Pg>,
    B: QueryFragment<Pg>,
    C: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH w1 AS (");
        self.first.walk_ast(out.reborrow())?;
        out.push_sql("), w2 AS (");
        self.second.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.last.walk_ast(out.reborrow())
    }
}

/// `SELECT 1`, to close an [`InOneStatement`] whose writes are all in its WITH (an
/// unsubsidised redemption: its row and its audit entry, nothing to reserve).
#[derive(Debug, Clone, Copy, QueryId)]
pub struct SelectOne;

impl QueryFragment<Pg> for SelectOne {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT 1");
        Ok(())
    }
}
