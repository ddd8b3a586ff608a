//! The whole reservation of a redemption on the fast path, whatever the budget's shape:
//! the merchant's month under its cap, the category envelope's slot and the year's slot,
//! each a statement that changes one row when it may and none when it may not.
//!
//! On PostgreSQL they go as one statement with the redemption's row and audit entry
//! (see [`crate::db::InOneStatement`]), chained so each runs only if the one before it
//! changed its row — `cap AS (… RETURNING 1), env AS (… AND EXISTS (SELECT 1 FROM cap)
//! RETURNING 1) UPDATE year … AND EXISTS (SELECT 1 FROM env)` — which also takes the locks
//! in the order every other path takes them: the merchant's month, the envelope, the
//! year. The statement's row count is 1 when everything was taken; 0 means something was
//! short (a dry slot, or the cap reached), and the caller rolls the whole transaction
//! back and reserves the slow way, which tells a refusal from a dry slot exactly.
//! SQLite runs the same statements one after another under its one write lock.

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Text};

use super::slots::{Scope, TakeFromSlot};
use super::{Booking, Shape};
use crate::budgets::slots::Approach;

/// `INSERT … ON CONFLICT DO UPDATE … WHERE` adding `amount` to the merchant's month when
/// it stays within `cap` (one row changed), or changing nothing (none).
#[derive(Debug, Clone, Copy)]
pub struct AddToMerchantMonth<'a> {
    merchant_id: i64,
    period: &'a str,
    amount: i64,
    cap: i64,
}

impl QueryId for AddToMerchantMonth<'_> {
    type QueryId = AddToMerchantMonth<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for AddToMerchantMonth<'_>
where
    DB: Backend,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.walk(out, None)
    }
}

impl<Conn> RunQueryDsl<Conn> for AddToMerchantMonth<'_> {}

impl AddToMerchantMonth<'_> {
    /// The same upsert inside a PostgreSQL `WITH`, adding only when the entry `after`
    /// has a row (see [`crate::redemptions`]'s quoted path).
    pub fn walk_after<'b>(&'b self, out: AstPass<'_, 'b, Pg>, after: &str) -> QueryResult<()> {
        self.walk(out, Some(after))
    }

    fn walk<'b, DB>(&'b self, mut out: AstPass<'_, 'b, DB>, after: Option<&str>) -> QueryResult<()>
    where
        DB: Backend,
        i64: ToSql<BigInt, DB>,
        str: ToSql<Text, DB>,
    {
        out.push_sql("INSERT INTO merchant_month_subsidy (merchant_id, period, subsidy_fen) ");
        out.push_sql(if after.is_some() {
            "SELECT "
        } else {
            "VALUES ("
        });
        out.push_bind_param::<BigInt, _>(&self.merchant_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.period)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.amount)?;
        match after {
            Some(after) => {
                out.push_sql(" WHERE EXISTS (SELECT 1 FROM ");
                out.push_sql(after);
                out.push_sql(")");
            }
            None => out.push_sql(")"),
        }
        out.push_sql(
            " ON CONFLICT (merchant_id, period) DO UPDATE SET subsidy_fen = \
             merchant_month_subsidy.subsidy_fen + excluded.subsidy_fen \
             WHERE merchant_month_subsidy.subsidy_fen + excluded.subsidy_fen <= ",
        );
        out.push_bind_param::<BigInt, _>(&self.cap)
    }
}

/// The fast reservation of one redemption: the year's slot, and the merchant's month and
/// the envelope's slot where the budget has a cap and an envelope for the category.
#[derive(Debug, Clone, Copy)]
pub struct FastReservation<'a> {
    pub cap: Option<AddToMerchantMonth<'a>>,
    pub envelope: Option<TakeFromSlot<'a>>,
    pub year: TakeFromSlot<'a>,
}

impl<'a> FastReservation<'a> {
    /// The fast reservation for `booking` in a year of `shape`, or `None` where only the
    /// slow way can answer: no budget for the year, nothing to reserve, the locked
    /// approach asked for, or an amount above the cap (a refusal the slow way states).
    pub fn of(booking: &Booking<'a>, shape: Option<Shape>, approach: Approach) -> Option<Self> {
        let shape = shape?;
        if approach != Approach::Fast || booking.amount_fen <= 0 {
            return None;
        }
        let cap = match shape.merchant_monthly_cap_fen {
            Some(cap) if booking.amount_fen > cap => return None,
            Some(cap) => Some(AddToMerchantMonth {
                merchant_id: booking.merchant_id,
                period: booking.period,
                amount: booking.amount_fen,
                cap,
            }),
            None => None,
        };
        let take = |scope| {
            TakeFromSlot::new(
                booking.year,
                scope,
                booking.redemption_id,
                booking.amount_fen,
            )
        };
        Some(FastReservation {
            cap,
            envelope: shape
                .has_envelope
                .then(|| take(Scope::Envelope(booking.category))),
            year: take(Scope::Year),
        })
    }

    /// Runs the steps one by one (SQLite): true when every step changed its row.
    pub fn run_in_turn(&self, conn: &mut crate::db::DbConnection) -> QueryResult<bool> {
        if let Some(cap) = self.cap
            && cap.execute(conn)? != 1
        {
            return Ok(false);
        }
        if let Some(envelope) = self.envelope
            && envelope.execute(conn)? != 1
        {
            return Ok(false);
        }
        Ok(self.year.execute(conn)? == 1)
    }
}

/// The chained form of a [`FastReservation`] for the end of a PostgreSQL `WITH`: the
/// guards as further WITH entries, then the year's slot. `CAP` and `ENVELOPE` say which
/// guards there are, so each shape is its own prepared statement.
#[derive(Debug, Clone, Copy)]
pub struct Chained<'a, const CAP: bool, const ENVELOPE: bool>(pub FastReservation<'a>);

impl<const CAP: bool, const ENVELOPE: bool> QueryId for Chained<'_, CAP, ENVELOPE> {
    type QueryId = Chained<'static, CAP, ENVELOPE>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn, const CAP: bool, const ENVELOPE: bool> RunQueryDsl<Conn> for Chained<'_, CAP, ENVELOPE> {}

impl<const CAP: bool, const ENVELOPE: bool> QueryFragment<Pg> for Chained<'_, CAP, ENVELOPE> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let r = &self.0;
        let mut last = None;
        if CAP {
            let cap = r
                .cap
                .as_ref()
                .ok_or(diesel::result::Error::QueryBuilderError(
                    "a capped reservation without its cap".into(),
                ))?;
            out.push_sql(", cap AS (");
            cap.walk_ast(out.reborrow())?;
            out.push_sql(" RETURNING 1)");
            last = Some("cap");
        }
        if ENVELOPE {
            let envelope = r
                .envelope
                .as_ref()
                .ok_or(diesel::result::Error::QueryBuilderError(
                    "an envelope reservation without its envelope".into(),
                ))?;
            out.push_sql(", env AS (");
            envelope.walk_ast(out.reborrow())?;
            if let Some(before) = last {
                out.push_sql(" AND EXISTS (SELECT 1 FROM ");
                out.push_sql(before);
                out.push_sql(")");
            }
            out.push_sql(" RETURNING 1)");
            last = Some("env");
        }
        out.push_sql(" ");
        r.year.walk_ast(out.reborrow())?;
        if let Some(before) = last {
            out.push_sql(" AND EXISTS (SELECT 1 FROM ");
            out.push_sql(before);
            out.push_sql(")");
        }
        Ok(())
    }
}
