//! The quote: what redeeming a code would give at a merchant, offer by offer, and the
//! offer a counter would choose; consumes nothing.

use actix_web::http::StatusCode;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::eligibility::{active_merchant, eligibility, limit_refusal, uses_so_far};
use super::redeem::{code_used, code_used_before};
use super::{MaskedTalent, local_keys, problem};
use crate::auth::Principal;
use crate::budgets;
use crate::cards::Card;
use crate::codes;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::offers;
use crate::offers::money::{self, Fen, Outcome};
use crate::schema::talents;
use crate::secrets::Secrets;

/// One offer as a quote shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuotedOffer {
    pub offer_id: i64,
    pub title: String,
    pub eligible: bool,
    /// Problem code of why not, e.g. `not_eligible`, `not_for_dependents`,
    /// `min_spend_not_met`, `limit_reached`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_detail: Option<String>,
    pub discount_fen: i64,
    pub paid_fen: i64,
    pub subsidy_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Chosen {
    pub offer_id: i64,
    pub discount_fen: i64,
    pub paid_fen: i64,
    pub subsidy_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    pub talent: MaskedTalent,
    pub tier: String,
    /// A family card (附属卡): only offers open to family cards apply.
    pub family_card: bool,
    pub bill_fen: i64,
    pub offers: Vec<QuotedOffer>,
    pub chosen: Option<Chosen>,
}

/// What redeeming this code would give at this merchant; consumes nothing.
pub fn quote(
    conn: &mut DbConnection,
    secrets: &Secrets,
    staff: &Principal,
    code: &str,
    bill: Fen,
    offer_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<Quote> {
    let merchant_id = staff
        .merchant_scope()
        .ok_or_else(|| ApiError::forbidden("Only merchant staff quote."))?;
    let verified =
        codes::guard::verify_as_staff(conn, secrets, staff.user_id, Some(merchant_id), code, now)?;
    if code_used_before(conn, &verified.id)? {
        return Err(code_used());
    }
    quote_card(conn, merchant_id, verified.card, bill, offer_id, now)
}

/// What the card (its code or PIN already verified) would get at the merchant.
pub fn quote_card(
    conn: &mut DbConnection,
    merchant_id: i64,
    card: Card,
    bill: Fen,
    offer_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<Quote> {
    let merchant = active_merchant(conn, merchant_id)?;
    let name: String = talents::table
        .find(card.talent_id)
        .select(talents::name)
        .first(conn)?;
    let (day, period, year) = local_keys(now);
    let budget_left = budgets::view(conn, year)?.map(|b| {
        let envelope = b
            .categories
            .iter()
            .find(|c| c.category == merchant.category)
            .map(|c| c.remaining_fen);
        envelope.map_or(b.remaining_fen, |e| e.min(b.remaining_fen))
    });
    let live = offers::live_for_merchant(conn, merchant_id, now)?;
    if let Some(id) = offer_id
        && !live.iter().any(|o| o.id == id)
    {
        return Err(ApiError::not_found(
            "This merchant has no such offer available now.",
        ));
    }
    let mut quoted = Vec::with_capacity(live.len());
    for offer in &live {
        let mut refusal = eligibility(offer, &card, now)?;
        let outcome = money::compute(&offer.money_terms()?, bill);
        if refusal.is_none()
            && let Err(e) = outcome
        {
            refusal = Some(e.into());
        }
        if refusal.is_none() && (offer.per_card_daily.is_some() || offer.per_card_monthly.is_some())
        {
            let (today, month) = uses_so_far(conn, card.id, offer.id, &day, &period)?;
            refusal = limit_refusal(offer, today, month);
        }
        let outcome = outcome.unwrap_or(Outcome {
            bill_fen: bill.get(),
            discount_fen: 0,
            paid_fen: bill.get(),
            subsidy_fen: 0,
        });
        if refusal.is_none()
            && outcome.subsidy_fen > 0
            && budget_left.is_none_or(|left| left < outcome.subsidy_fen)
        {
            refusal = Some(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "budget_exhausted",
                "The subsidy budget cannot cover this redemption.",
            ));
        }
        quoted.push(QuotedOffer {
            offer_id: offer.id,
            title: offer.title.clone(),
            eligible: refusal.is_none(),
            reason: refusal.as_ref().map(|e| e.code().to_owned()),
            reason_detail: refusal.map(|e| e.problem().detail),
            discount_fen: outcome.discount_fen,
            paid_fen: outcome.paid_fen,
            subsidy_fen: outcome.subsidy_fen,
        });
    }
    let chosen = quoted
        .iter()
        .filter(|q| q.eligible && offer_id.is_none_or(|id| id == q.offer_id))
        // The best deal for the talent; among equals, the older offer.
        .max_by_key(|q| (q.discount_fen, -q.offer_id))
        .map(|q| Chosen {
            offer_id: q.offer_id,
            discount_fen: q.discount_fen,
            paid_fen: q.paid_fen,
            subsidy_fen: q.subsidy_fen,
        });
    Ok(Quote {
        talent: MaskedTalent {
            masked_name: crate::talents::domain::mask_name(&name),
        },
        family_card: card.is_dependent(),
        tier: card.tier,
        bill_fen: bill.get(),
        offers: quoted,
        chosen,
    })
}
