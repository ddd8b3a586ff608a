//! Whether a card may redeem an offer here and now: the merchant active, the offer live,
//! for the card's tier and — for a family card — open to family cards, and the card
//! within the offer's per-card limits.

use actix_web::http::StatusCode;
use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Text};

use super::problem;
use crate::cards::Card;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::merchants::{self, Merchant, MerchantStatus};
use crate::offers::Offer;
use crate::schema::redemptions;
use crate::tier::Tier;

fn not_eligible(detail: impl Into<String>) -> ApiError {
    problem(StatusCode::UNPROCESSABLE_ENTITY, "not_eligible", detail)
}

/// The merchant the staff member works for, which must be active to redeem.
pub(super) fn active_merchant(conn: &mut DbConnection, merchant_id: i64) -> ApiResult<Merchant> {
    let merchant = merchants::get(conn, merchant_id)?;
    if merchant.status != MerchantStatus::Active.as_str() {
        return Err(inactive_merchant());
    }
    Ok(merchant)
}

pub(super) fn inactive_merchant() -> ApiError {
    ApiError::forbidden("This merchant is not active in the alliance and cannot redeem.")
}

pub(super) fn uses_so_far(
    conn: &mut DbConnection,
    card_id: i64,
    offer_id: i64,
    day: &str,
    period: &str,
) -> ApiResult<(i64, i64)> {
    // The month as a range of local days, not `period = …`: each connection keeps this
    // statement prepared, and a plan made while the table was nearly empty chose the
    // (period, merchant_id) index — then read every redemption of the month on each call
    // (1.7 ms at 7 000 rows and growing, measured with loadgen --realistic). Without a
    // period predicate only the card's own indexes serve it.
    let (first, last) = month_days(period);
    let days: Vec<String> = crate::db::direct!(conn, |c| redemptions::table
        .filter(redemptions::card_id.eq(card_id))
        .filter(redemptions::offer_id.eq(offer_id))
        .filter(redemptions::local_day.between(&first, &last))
        .filter(redemptions::status.eq("active"))
        .select(redemptions::local_day)
        .load(c))?;
    let today = days.iter().filter(|d| d.as_str() == day).count() as i64;
    Ok((today, days.len() as i64))
}

/// The first and last local day a month `YYYY-MM` may have, for `local_day BETWEEN`
/// (see [`uses_so_far`] for why the month is counted as its days).
pub(super) fn month_days(period: &str) -> (String, String) {
    (format!("{period}-01"), format!("{period}-31"))
}

/// How often the joined card has used the joined offer on the local days `from` to `to`
/// (a day, or a month as its days, as in [`uses_so_far`]), as a column of a query that
/// joins `cards` and `offers`: 0 for an offer without per-card limits (or no offer),
/// whose count nobody needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct UsesOf<'a> {
    pub(super) from: &'a str,
    pub(super) to: &'a str,
}

crate::db::scalar_subquery!(UsesOf<'_>, UsesOf<'static>, BigInt);

impl<DB> QueryFragment<DB> for UsesOf<'_>
where
    DB: Backend,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(
            "(CASE WHEN offers.per_card_daily IS NULL AND offers.per_card_monthly IS NULL \
             THEN 0 ELSE (SELECT COUNT(*) FROM redemptions r WHERE r.card_id = cards.id \
             AND r.offer_id = offers.id AND r.status = 'active' AND r.local_day BETWEEN ",
        );
        out.push_bind_param::<Text, _>(self.from)?;
        out.push_sql(" AND ");
        out.push_bind_param::<Text, _>(self.to)?;
        out.push_sql(") END)");
        Ok(())
    }
}

/// Why this card may not use this offer right now, if it may not.
pub(super) fn limit_refusal(offer: &Offer, used_today: i64, used_month: i64) -> Option<ApiError> {
    let reached = |what: &str, limit: i32| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit_reached",
            format!("This card has used this offer {limit} time(s) {what}, the most it allows."),
        )
    };
    match (offer.per_card_daily, offer.per_card_monthly) {
        (Some(limit), _) if used_today >= i64::from(limit) => Some(reached("today", limit)),
        (_, Some(limit)) if used_month >= i64::from(limit) => Some(reached("this month", limit)),
        _ => None,
    }
}

pub(super) fn eligibility(
    offer: &Offer,
    card: &Card,
    now: NaiveDateTime,
) -> ApiResult<Option<ApiError>> {
    if !offer.is_live_at(now) {
        return Ok(Some(not_eligible("This offer is not available right now.")));
    }
    let tier: Tier = card.tier.parse()?;
    if !offer.allows_tier(tier) {
        return Ok(Some(not_eligible(format!(
            "This offer is not for tier {} cards.",
            tier.as_char()
        ))));
    }
    if card.is_dependent() && !offer.dependents {
        return Ok(Some(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_for_dependents",
            "This offer is for the talent's own card, not for family cards.",
        )));
    }
    Ok(None)
}
