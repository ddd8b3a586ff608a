//! Offers (权益): what a merchant gives card holders, and the approval of subsidised ones.
//!
//! Money terms are immutable once stored. Changing them ([`revise`]) inserts a new
//! version that points at the old one; the old version ends when the new one goes live,
//! so every redemption keeps the terms it was made under and the merchant keeps a live
//! offer while the revision waits for review. The computation itself is [`money`].

mod live;
pub mod money;
pub mod routes;
mod terms;
mod views;
mod workflow;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::offers;
use crate::tier::{Tier, TierSet};
use money::{BasisPoints, Discount, Fen, MoneyTerms};

pub use live::{live_at, live_for_merchant, live_offers, live_offers_by_merchant};
pub use terms::NewOffer;
pub use views::{OfferView, PublicOffer};
pub use workflow::{OfferAction, create, revise, transition};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = offers)]
pub struct Offer {
    pub id: i64,
    pub merchant_id: i64,
    pub title: String,
    pub kind: String,
    pub percent_bp: Option<i32>,
    pub amount_fen: Option<i64>,
    pub min_spend_fen: i64,
    pub max_discount_fen: Option<i64>,
    pub tiers: String,
    pub per_card_daily: Option<i32>,
    pub per_card_monthly: Option<i32>,
    pub valid_from: Option<NaiveDateTime>,
    pub valid_until: Option<NaiveDateTime>,
    pub subsidy_bp: i32,
    pub status: String,
    pub status_reason: Option<String>,
    pub replaces_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Whether family (dependent) cards may use it.
    pub dependents: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfferKind {
    /// `percent_bp` of the bill, capped by `max_discount_fen`.
    Percent,
    /// `amount_fen` off, never more than the bill.
    Fixed,
}

impl OfferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::Percent => "percent",
            OfferKind::Fixed => "fixed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfferStatus {
    Pending,
    Active,
    Paused,
    Ended,
    Rejected,
}

impl OfferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferStatus::Pending => "pending",
            OfferStatus::Active => "active",
            OfferStatus::Paused => "paused",
            OfferStatus::Ended => "ended",
            OfferStatus::Rejected => "rejected",
        }
    }
}

fn corrupt(offer_id: i64, what: &str) -> ApiError {
    ApiError::internal(anyhow::anyhow!("offer {offer_id}: {what}"))
}

impl Offer {
    pub fn kind(&self) -> ApiResult<OfferKind> {
        match self.kind.as_str() {
            "percent" => Ok(OfferKind::Percent),
            "fixed" => Ok(OfferKind::Fixed),
            other => Err(corrupt(self.id, &format!("unknown kind {other:?}"))),
        }
    }

    pub fn status(&self) -> ApiResult<OfferStatus> {
        use OfferStatus::*;
        [Pending, Active, Paused, Ended, Rejected]
            .into_iter()
            .find(|s| s.as_str() == self.status)
            .ok_or_else(|| corrupt(self.id, &format!("unknown status {:?}", self.status)))
    }

    pub fn tier_list(&self) -> Vec<Tier> {
        TierSet::from_stored(&self.tiers)
    }

    /// May a card of `tier` use this offer?
    pub fn allows_tier(&self, tier: Tier) -> bool {
        self.tier_list().contains(&tier)
    }

    /// The money terms to hand to [`money::compute`] (the database checks guarantee
    /// them; a row that breaks them is reported, never guessed at).
    pub fn money_terms(&self) -> ApiResult<MoneyTerms> {
        let fen = |v: Option<i64>, what: &str| {
            v.and_then(Fen::new)
                .ok_or_else(|| corrupt(self.id, &format!("bad {what}")))
        };
        let discount = match self.kind()? {
            OfferKind::Percent => Discount::Percent {
                rate: self
                    .percent_bp
                    .and_then(BasisPoints::new)
                    .ok_or_else(|| corrupt(self.id, "bad percent_bp"))?,
                cap: fen(self.max_discount_fen, "max_discount_fen")?,
            },
            OfferKind::Fixed => Discount::Fixed {
                amount: fen(self.amount_fen, "amount_fen")?,
            },
        };
        Ok(MoneyTerms {
            discount,
            min_spend: fen(Some(self.min_spend_fen), "min_spend_fen")?,
            subsidy: BasisPoints::new(self.subsidy_bp)
                .ok_or_else(|| corrupt(self.id, "bad subsidy_bp"))?,
        })
    }

    /// Live right now: active and inside its validity window.
    pub fn is_live_at(&self, now: NaiveDateTime) -> bool {
        self.status == OfferStatus::Active.as_str()
            && self.valid_from.is_none_or(|f| f <= now)
            && self.valid_until.is_none_or(|u| now < u)
    }
}

pub fn find(conn: &mut DbConnection, id: i64) -> ApiResult<Option<Offer>> {
    Ok(offers::table
        .find(id)
        .select(Offer::as_select())
        .first(conn)
        .optional()?)
}

pub fn get(conn: &mut DbConnection, id: i64) -> ApiResult<Offer> {
    find(conn, id)?.ok_or_else(|| ApiError::not_found(format!("No offer with id {id}.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(kind: &str, percent_bp: Option<i32>, amount: Option<i64>, cap: Option<i64>) -> Offer {
        let now = crate::time::now();
        Offer {
            id: 7,
            merchant_id: 1,
            title: "t".into(),
            kind: kind.into(),
            percent_bp,
            amount_fen: amount,
            min_spend_fen: 1_000,
            max_discount_fen: cap,
            tiers: "BD".into(),
            per_card_daily: None,
            per_card_monthly: None,
            valid_from: None,
            valid_until: None,
            subsidy_bp: 5000,
            status: "active".into(),
            status_reason: None,
            replaces_id: None,
            created_at: now,
            updated_at: now,
            dependents: false,
        }
    }

    #[test]
    fn stored_offers_hand_their_terms_to_the_money_function() {
        let percent = stored("percent", Some(1250), None, Some(500));
        let outcome =
            money::compute(&percent.money_terms().unwrap(), Fen::new(2_000).unwrap()).unwrap();
        assert_eq!(
            (outcome.discount_fen, outcome.paid_fen, outcome.subsidy_fen),
            (250, 1_750, 125)
        );
        let fixed = stored("fixed", None, Some(300), None);
        let terms = fixed.money_terms().unwrap();
        assert!(money::compute(&terms, Fen::new(999).unwrap()).is_err());
        assert_eq!(
            money::compute(&terms, Fen::new(1_000).unwrap())
                .unwrap()
                .subsidy_fen,
            150
        );
        assert!(fixed.allows_tier(Tier::D) && !fixed.allows_tier(Tier::A));
        // A row that breaks the invariants is reported, not guessed at.
        assert!(
            stored("percent", Some(1000), None, None)
                .money_terms()
                .is_err()
        );
        assert!(stored("bogus", None, Some(1), None).money_terms().is_err());
    }
}
