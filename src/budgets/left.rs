//! What a quote needs of the budget — the room left in the year and in the category's
//! envelope, slots counted — in one prepared statement instead of the year, its
//! envelopes and its slots read one by one ([`super::view`]); or, for the counter's
//! quote, as two columns of the quote's own read ([`YearRoom`], [`EnvelopeRoom`]).

use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use crate::db::DbConnection;
use crate::error::ApiResult;

/// The room left in `year` (`None`: no budget), and in `category`'s envelope when the
/// year has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Left {
    pub year_fen: i64,
    pub envelope_fen: Option<i64>,
}

impl Left {
    /// The most a subsidy may be: the smaller of the two.
    pub fn for_subsidy(self) -> i64 {
        self.envelope_fen
            .map_or(self.year_fen, |envelope| envelope.min(self.year_fen))
    }
}

struct BudgetLeft<'a> {
    year: i32,
    category: &'a str,
}

impl QueryId for BudgetLeft<'_> {
    type QueryId = BudgetLeft<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for BudgetLeft<'_> {
    type SqlType = (BigInt, Nullable<BigInt>);
}

impl<Conn> RunQueryDsl<Conn> for BudgetLeft<'_> {}

impl<DB> QueryFragment<DB> for BudgetLeft<'_>
where
    DB: Backend,
    i32: ToSql<Integer, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // remaining = total − reserved − settled − paid, where what the slots took since
        // their last fold is reserved too; an absent envelope leaves the second NULL.
        out.push_sql(
            "SELECT CAST(b.total_fen - b.reserved_fen - b.settled_fen - b.paid_fen - \
             COALESCE((SELECT SUM(s.used_fen) FROM budget_slots s \
             WHERE s.year = b.year AND s.scope = ''), 0) AS BIGINT), \
             CAST(e.total_fen - e.reserved_fen - e.settled_fen - e.paid_fen - \
             COALESCE((SELECT SUM(s.used_fen) FROM budget_slots s \
             WHERE s.year = b.year AND s.scope = e.category), 0) AS BIGINT) \
             FROM budgets b LEFT JOIN budget_envelopes e ON e.year = b.year AND e.category = ",
        );
        out.push_bind_param::<Text, _>(self.category)?;
        out.push_sql(" WHERE b.year = ");
        out.push_bind_param::<Integer, _>(&self.year)
    }
}

/// The room left for a subsidy of a merchant of `category` in `year`.
pub fn left_for(conn: &mut DbConnection, year: i32, category: &str) -> ApiResult<Option<Left>> {
    let query = BudgetLeft { year, category };
    let row: Option<(i64, Option<i64>)> = match conn {
        DbConnection::Pg(pg) => query.get_result(pg).optional()?,
        DbConnection::Sqlite(sqlite) => query.get_result(sqlite).optional()?,
    };
    Ok(row.map(|(year_fen, envelope_fen)| Left {
        year_fen,
        envelope_fen,
    }))
}

/// The room left in `year` (NULL: no budget), as a column of a query that reads
/// anything: `total − reserved − settled − paid`, less what the slots took since their
/// last fold.
#[derive(Debug, Clone, Copy)]
pub struct YearRoom {
    pub year: i32,
}

crate::db::scalar_subquery!(YearRoom, YearRoom, Nullable<BigInt>);

impl<DB> QueryFragment<DB> for YearRoom
where
    DB: Backend,
    i32: ToSql<Integer, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(
            "(SELECT CAST(b.total_fen - b.reserved_fen - b.settled_fen - b.paid_fen - \
             COALESCE((SELECT SUM(s.used_fen) FROM budget_slots s \
             WHERE s.year = b.year AND s.scope = ''), 0) AS BIGINT) \
             FROM budgets b WHERE b.year = ",
        );
        out.push_bind_param::<Integer, _>(&self.year)?;
        out.push_sql(")");
        Ok(())
    }
}

/// The room left in the envelope of the joined merchant's category in `year` (NULL: the
/// year has no envelope for it), as a column of a query that joins `merchants`.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeRoom {
    pub year: i32,
}

crate::db::scalar_subquery!(EnvelopeRoom, EnvelopeRoom, Nullable<BigInt>);

impl<DB> QueryFragment<DB> for EnvelopeRoom
where
    DB: Backend,
    i32: ToSql<Integer, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(
            "(SELECT CAST(e.total_fen - e.reserved_fen - e.settled_fen - e.paid_fen - \
             COALESCE((SELECT SUM(s.used_fen) FROM budget_slots s \
             WHERE s.year = e.year AND s.scope = e.category), 0) AS BIGINT) \
             FROM budget_envelopes e WHERE e.category = merchants.category AND e.year = ",
        );
        out.push_bind_param::<Integer, _>(&self.year)?;
        out.push_sql(")");
        Ok(())
    }
}

impl Left {
    /// From the two rooms a read selected ([`YearRoom`], [`EnvelopeRoom`]).
    pub fn from_rooms(year_fen: Option<i64>, envelope_fen: Option<i64>) -> Option<Self> {
        year_fen.map(|year_fen| Left {
            year_fen,
            envelope_fen,
        })
    }
}
