//! How a redemption is written once it has been decided: the row, its audit entry and,
//! on the usual path, the budget reservation. On PostgreSQL these go as one statement
//! ([`InOneStatement`]), which is why the row's id is read beforehand
//! ([`NextRedemptionId`]): the audit entry describes the row, id included, before it
//! exists. On SQLite they run one after another.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use diesel::sqlite::Sqlite;
use diesel::{AppearsOnTable, Expression, SelectableExpression};

use super::Redemption;
use crate::audit;
use crate::budgets::fast::{Chained, FastReservation};
use crate::db::{DbConnection, InOneStatement, SelectOne};
use crate::schema::redemptions;

/// The id the next redemption row gets, selected with the counter read. PostgreSQL: the
/// next value of the id sequence. SQLite: one past the largest id, which stays true
/// until commit because the transaction has held SQLite's one write lock since
/// `BEGIN IMMEDIATE`.
#[derive(Debug, Clone, Copy, QueryId, diesel::expression::ValidGrouping)]
pub struct NextRedemptionId;

impl Expression for NextRedemptionId {
    type SqlType = BigInt;
}

impl<QS> SelectableExpression<QS> for NextRedemptionId {}

impl<QS> AppearsOnTable<QS> for NextRedemptionId {}

impl QueryFragment<Pg> for NextRedemptionId {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("nextval('redemptions_id_seq')");
        Ok(())
    }
}

impl QueryFragment<Sqlite> for NextRedemptionId {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("(SELECT coalesce(max(id), 0) + 1 FROM redemptions)");
        Ok(())
    }
}

/// What the budget step of [`write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// The reservation statement took the subsidy.
    Taken,
    /// Its slot was dry: roll back and run again with the locked approach.
    SlotDry,
    /// No reservation statement was given; the caller reserves.
    NotAsked,
}

/// The INSERT of a redemption row. A tuple, not `#[derive(Insertable)]`: diesel does not
/// keep the derived insert prepared, and PostgreSQL then planned it on every redemption
/// (measured: ~25 % fewer redemptions per second). A macro so the test below checks the
/// very statement `write` sends.
macro_rules! row_insert {
    ($redemption:expr) => {{
        let redemption: &Redemption = $redemption;
        diesel::insert_into(redemptions::table).values((
            redemptions::id.eq(redemption.id),
            redemptions::merchant_id.eq(redemption.merchant_id),
            redemptions::offer_id.eq(redemption.offer_id),
            redemptions::card_id.eq(redemption.card_id),
            redemptions::talent_id.eq(redemption.talent_id),
            redemptions::tier.eq(&redemption.tier),
            redemptions::category.eq(&redemption.category),
            redemptions::district.eq(&redemption.district),
            redemptions::subsidy_bp.eq(redemption.subsidy_bp),
            redemptions::bill_fen.eq(redemption.bill_fen),
            redemptions::discount_fen.eq(redemption.discount_fen),
            redemptions::paid_fen.eq(redemption.paid_fen),
            redemptions::subsidy_fen.eq(redemption.subsidy_fen),
            redemptions::code_window.eq(redemption.code_window),
            redemptions::code_slot.eq(redemption.code_slot),
            redemptions::local_day.eq(&redemption.local_day),
            redemptions::period.eq(&redemption.period),
            redemptions::cashier_id.eq(redemption.cashier_id),
            redemptions::idempotency_key.eq(&redemption.idempotency_key),
            redemptions::request_hash.eq(&redemption.request_hash),
            redemptions::status.eq(&redemption.status),
            redemptions::disputed.eq(redemption.disputed),
            redemptions::created_at.eq(redemption.created_at),
        ))
    }};
}

/// Inserts `redemption` (with its id) and `entry`, and runs `reservation` if given.
/// Errors are diesel's, so the caller can tell a used code from a reused key.
pub fn write(
    conn: &mut DbConnection,
    redemption: &Redemption,
    entry: &audit::Entry,
    reservation: Option<FastReservation<'_>>,
) -> Result<Reserved, diesel::result::Error> {
    let row = row_insert!(redemption);
    let entry = entry.insert();
    let taken = match (conn, reservation) {
        // One statement per budget shape, each its own prepared statement.
        (DbConnection::Pg(pg), Some(r)) => {
            let changed = match (r.cap.is_some(), r.envelope.is_some()) {
                (false, false) => InOneStatement::new(row, entry, r.year).execute(pg)?,
                (true, false) => {
                    InOneStatement::new(row, entry, Chained::<true, false>(r)).execute(pg)?
                }
                (false, true) => {
                    InOneStatement::new(row, entry, Chained::<false, true>(r)).execute(pg)?
                }
                (true, true) => {
                    InOneStatement::new(row, entry, Chained::<true, true>(r)).execute(pg)?
                }
            };
            changed == 1
        }
        // Nothing to reserve (an unsubsidised offer): the row and the entry, one statement.
        (DbConnection::Pg(pg), None) => {
            InOneStatement::new(row, entry, SelectOne).execute(pg)?;
            return Ok(Reserved::NotAsked);
        }
        (conn, reservation) => {
            row.execute(conn)?;
            entry.execute(conn)?;
            match reservation {
                Some(r) => r.run_in_turn(conn)?,
                None => return Ok(Reserved::NotAsked),
            }
        }
    };
    Ok(if taken {
        Reserved::Taken
    } else {
        Reserved::SlotDry
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Actor;
    use crate::budgets::Booking;
    use crate::budgets::slots::{Approach, Scope, TakeFromSlot};

    fn has_static_id<T: QueryId>(_: &T) -> bool {
        T::HAS_STATIC_QUERY_ID
    }

    /// The one statement of a redemption must stay a prepared statement (planned once
    /// per connection): it is what every counter in the city runs.
    #[test]
    fn the_one_statement_of_a_redemption_is_kept_prepared() {
        let redemption = Redemption::sample();
        let actor = Actor {
            user_id: Some(2),
            name: "cashier".into(),
        };
        let entry = redemption.creation_entry(&actor).unwrap();
        let take = TakeFromSlot::new(2026, Scope::Year, 7, 500);
        let statement = InOneStatement::new(row_insert!(&redemption), entry.insert(), take);
        assert!(statement.is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(has_static_id(&statement));
        // The budgets with a merchant cap and category envelopes: still one prepared
        // statement, the steps chained in the order every path locks them.
        let booking = Booking {
            year: 2026,
            period: "2026-11",
            merchant_id: 1,
            category: "food",
            amount_fen: 500,
            redemption_id: 7,
        };
        let shape = crate::budgets::Shape {
            merchant_monthly_cap_fen: Some(100_000),
            has_envelope: true,
        };
        let fast = FastReservation::of(&booking, Some(shape), Approach::Fast).unwrap();
        let chained = InOneStatement::new(
            row_insert!(&redemption),
            entry.insert(),
            Chained::<true, true>(fast),
        );
        assert!(chained.is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(has_static_id(&chained));
        let sql = diesel::debug_query::<Pg, _>(&chained).to_string();
        let (cap, env, year) = (
            sql.find("cap AS (INSERT INTO merchant_month_subsidy")
                .unwrap(),
            sql.find("env AS (UPDATE budget_slots").unwrap(),
            sql.rfind("UPDATE budget_slots").unwrap(),
        );
        assert!(cap < env && env < year, "{sql}");
        assert!(
            sql.contains("AND EXISTS (SELECT 1 FROM cap) RETURNING 1)"),
            "{sql}"
        );
        assert!(
            sql.contains("AND room_fen >= $47 AND EXISTS (SELECT 1 FROM env) -- binds"),
            "the year's slot goes last, only after the envelope's: {sql}"
        );
        // An unsubsidised redemption: its row and entry, still one prepared statement.
        let unsubsidised = InOneStatement::new(row_insert!(&redemption), entry.insert(), SelectOne);
        assert!(unsubsidised.is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(has_static_id(&unsubsidised));
        // An amount above the cap is the slow path's to refuse.
        let too_much = Booking {
            amount_fen: 200_000,
            ..booking
        };
        assert!(FastReservation::of(&too_much, Some(shape), Approach::Fast).is_none());
        assert!(FastReservation::of(&booking, Some(shape), Approach::Locked).is_none());
        assert!(FastReservation::of(&booking, None, Approach::Fast).is_none());
        // What the check tells apart: diesel's own UPDATE is never kept prepared.
        let slot_update = diesel::update(crate::schema::budget_slots::table)
            .set(crate::schema::budget_slots::room_fen.eq(0_i64));
        assert!(!slot_update.is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(
            row_insert!(&redemption)
                .is_safe_to_cache_prepared(&Sqlite)
                .unwrap()
        );
        assert!(entry.insert().is_safe_to_cache_prepared(&Sqlite).unwrap());
        assert!(take.is_safe_to_cache_prepared(&Sqlite).unwrap());
    }
}
