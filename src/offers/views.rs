//! Offers as clients see them: in full for their merchant and officials, and the public
//! directory's shorter form.

use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Offer, OfferKind, OfferStatus};
use crate::error::ApiResult;
use crate::tier::Tier;

/// An offer as its merchant and officials see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferView {
    pub id: i64,
    pub merchant_id: i64,
    pub title: String,
    pub kind: OfferKind,
    pub percent_bp: Option<i32>,
    pub amount_fen: Option<i64>,
    pub min_spend_fen: i64,
    pub max_discount_fen: Option<i64>,
    pub tiers: Vec<Tier>,
    pub per_card_daily: Option<i32>,
    pub per_card_monthly: Option<i32>,
    #[serde(serialize_with = "crate::time::rfc3339_local::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::time::rfc3339_local::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<NaiveDateTime>,
    /// Share of the discount the government pays back, in basis points.
    pub subsidy_bp: i32,
    /// Whether family (dependent) cards may use it.
    pub dependents: bool,
    pub status: OfferStatus,
    pub status_reason: Option<String>,
    /// The earlier version this one revises.
    pub replaces_id: Option<i64>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

/// An offer as the public directory shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicOffer {
    pub id: i64,
    pub title: String,
    pub kind: OfferKind,
    pub percent_bp: Option<i32>,
    pub amount_fen: Option<i64>,
    pub min_spend_fen: i64,
    pub max_discount_fen: Option<i64>,
    pub tiers: Vec<Tier>,
    pub per_card_daily: Option<i32>,
    pub per_card_monthly: Option<i32>,
    #[serde(serialize_with = "crate::time::rfc3339_local::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::time::rfc3339_local::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<NaiveDateTime>,
    /// Whether family (dependent) cards may use it.
    pub dependents: bool,
}

impl Offer {
    pub fn view(&self) -> ApiResult<OfferView> {
        Ok(OfferView {
            id: self.id,
            merchant_id: self.merchant_id,
            title: self.title.clone(),
            kind: self.kind()?,
            percent_bp: self.percent_bp,
            amount_fen: self.amount_fen,
            min_spend_fen: self.min_spend_fen,
            max_discount_fen: self.max_discount_fen,
            tiers: self.tier_list(),
            per_card_daily: self.per_card_daily,
            per_card_monthly: self.per_card_monthly,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            subsidy_bp: self.subsidy_bp,
            dependents: self.dependents,
            status: self.status()?,
            status_reason: self.status_reason.clone(),
            replaces_id: self.replaces_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn public(&self) -> ApiResult<PublicOffer> {
        Ok(PublicOffer {
            id: self.id,
            title: self.title.clone(),
            kind: self.kind()?,
            percent_bp: self.percent_bp,
            amount_fen: self.amount_fen,
            min_spend_fen: self.min_spend_fen,
            max_discount_fen: self.max_discount_fen,
            tiers: self.tier_list(),
            per_card_daily: self.per_card_daily,
            per_card_monthly: self.per_card_monthly,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            dependents: self.dependents,
        })
    }
}
