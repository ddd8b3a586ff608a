//! What a quote needs of the budget — the room left in the year and in the category's
//! envelope, slots counted — as two columns ([`YearRoom`], [`EnvelopeRoom`]): of the
//! counter's quote read, or selected on their own ([`left_for`]), instead of the year,
//! its envelopes and its slots read one by one ([`super::view`]).

use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
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

/// The room left for a subsidy of a merchant of `category` in `year`.
pub fn left_for(conn: &mut DbConnection, year: i32, category: &str) -> ApiResult<Option<Left>> {
    let rooms = (
        YearRoom { year },
        EnvelopeRoom {
            year,
            category: category.into_sql::<Text>(),
        },
    );
    let (year_fen, envelope_fen): (Option<i64>, Option<i64>) =
        crate::db::direct!(conn, |c| diesel::select(rooms).get_result(c))?;
    Ok(Left::from_rooms(year_fen, envelope_fen))
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

/// The room left in `category`'s envelope in `year` (NULL: the year has no envelope for
/// it), as a column: `category` is a bound name, or the column of a joined merchant.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeRoom<C> {
    pub year: i32,
    pub category: C,
}

impl<C: Expression<SqlType = Text>> Expression for EnvelopeRoom<C> {
    type SqlType = Nullable<BigInt>;
}

impl<C, QS> diesel::AppearsOnTable<QS> for EnvelopeRoom<C> where Self: Expression {}

impl<C, QS> diesel::SelectableExpression<QS> for EnvelopeRoom<C> where Self: Expression {}

impl<C, GB> diesel::expression::ValidGrouping<GB> for EnvelopeRoom<C> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<C: QueryId> QueryId for EnvelopeRoom<C> {
    type QueryId = EnvelopeRoom<C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C, DB> QueryFragment<DB> for EnvelopeRoom<C>
where
    DB: Backend,
    C: QueryFragment<DB>,
    i32: ToSql<Integer, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(
            "(SELECT CAST(e.total_fen - e.reserved_fen - e.settled_fen - e.paid_fen - \
             COALESCE((SELECT SUM(s.used_fen) FROM budget_slots s \
             WHERE s.year = e.year AND s.scope = e.category), 0) AS BIGINT) \
             FROM budget_envelopes e WHERE e.category = ",
        );
        self.category.walk_ast(out.reborrow())?;
        out.push_sql(" AND e.year = ");
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

/// The year's merchant monthly cap (NULL: no cap, or no budget), as a column.
#[derive(Debug, Clone, Copy)]
pub struct YearCap {
    pub year: i32,
}

crate::db::scalar_subquery!(YearCap, YearCap, Nullable<BigInt>);

impl<DB> QueryFragment<DB> for YearCap
where
    DB: Backend,
    i32: ToSql<Integer, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(SELECT b.merchant_monthly_cap_fen FROM budgets b WHERE b.year = ");
        out.push_bind_param::<Integer, _>(&self.year)?;
        out.push_sql(")");
        Ok(())
    }
}
