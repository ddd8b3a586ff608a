//! Reversing a redemption, and how long its merchant's staff may.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{Redemption, local_keys};
use crate::audit;
use crate::auth::Actor;
use crate::budgets;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{redemptions, reversals};

/// Reverses a redemption: a reversal record, the redemption marked reversed, and the
/// subsidy reservation released unless it was already settled (then the reversal
/// becomes a negative line of the merchant's next settlement).
pub fn reverse(
    conn: &mut DbConnection,
    actor: &Actor,
    redemption: &Redemption,
    reason: &str,
    now: NaiveDateTime,
) -> ApiResult<Redemption> {
    let updated = diesel::update(
        redemptions::table
            .find(redemption.id)
            .filter(redemptions::status.eq("active")),
    )
    .set(redemptions::status.eq("reversed"))
    .returning(redemptions::all_columns)
    .get_result::<Redemption>(conn)
    .optional()?
    .ok_or_else(|| ApiError::invalid_transition("This redemption has already been reversed."))?;
    let (_, period, _) = local_keys(now);
    let actor_id = actor
        .user_id
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("reversal without a user")))?;
    diesel::insert_into(reversals::table)
        .values((
            reversals::redemption_id.eq(redemption.id),
            reversals::merchant_id.eq(redemption.merchant_id),
            reversals::reason.eq(reason),
            reversals::actor_id.eq(actor_id),
            reversals::bill_fen.eq(redemption.bill_fen),
            reversals::discount_fen.eq(redemption.discount_fen),
            reversals::subsidy_fen.eq(redemption.subsidy_fen),
            reversals::period.eq(&period),
            reversals::created_at.eq(now),
        ))
        .execute(conn)?;
    let effect = crate::settlements::on_reversal(conn, actor, redemption.id)?;
    if redemption.subsidy_fen > 0 && effect != crate::settlements::ReversalEffect::NegativeLineNext
    {
        budgets::release(conn, &redemption.booking())?;
    }
    audit::record(
        conn,
        actor,
        "redemption.reverse",
        "redemption",
        redemption.id,
        Some(redemption),
        Some(&serde_json::json!({"status": "reversed", "reason": reason})),
    )?;
    Ok(updated)
}

/// How long merchant staff may reverse their own redemption (officials: any time).
pub fn reversal_window() -> Duration {
    Duration::hours(24)
}
