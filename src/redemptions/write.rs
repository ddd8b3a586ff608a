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
use crate::budgets::slots::TakeFromSlot;
use crate::db::{DbConnection, InOneStatement};
use crate::error::ApiResult;
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

/// Inserts `redemption` (with its id) and `entry`, and runs `reservation` if given.
/// Errors are diesel's, so the caller can tell a used code from a reused key.
pub fn write(
    conn: &mut DbConnection,
    redemption: &Redemption,
    entry: audit::Entry,
    reservation: Option<TakeFromSlot<'_>>,
) -> Result<Reserved, diesel::result::Error> {
    macro_rules! insert_row {
        () => {
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
        };
    }
    let taken = match (conn, reservation) {
        (DbConnection::Pg(pg), Some(take)) => {
            InOneStatement::new(insert_row!(), entry, take).execute(pg)?
        }
        (DbConnection::Pg(pg), None) => {
            insert_row!().execute(pg)?;
            entry.execute(pg)?;
            return Ok(Reserved::NotAsked);
        }
        (DbConnection::Sqlite(lite), reservation) => {
            insert_row!().execute(lite)?;
            entry.execute(lite)?;
            match reservation {
                Some(take) => take.execute(lite)?,
                None => return Ok(Reserved::NotAsked),
            }
        }
    };
    Ok(if taken == 1 {
        Reserved::Taken
    } else {
        Reserved::SlotDry
    })
}

/// Whether a redemption already used this code (the constraint `write` would hit).
pub fn code_used(conn: &mut DbConnection, code: &crate::codes::CodeId) -> ApiResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        redemptions::table
            .filter(redemptions::card_id.eq(code.card_id))
            .filter(redemptions::code_window.eq(code.window))
            .filter(redemptions::code_slot.eq(code.slot as i32)),
    ))
    .get_result(conn)?)
}
