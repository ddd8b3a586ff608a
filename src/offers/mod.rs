//! Offers (权益): what a merchant gives card holders, and the approval of subsidised ones.
//!
//! Money terms are immutable once stored. Changing them ([`revise`]) inserts a new
//! version that points at the old one; the old version ends when the new one goes live,
//! so every redemption keeps the terms it was made under and the merchant keeps a live
//! offer while the revision waits for review. The computation itself is [`money`].

pub mod money;
pub mod routes;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit;
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::merchants::{self, MerchantStatus};
use crate::schema::offers;
use crate::tier::{Tier, TierSet};
use money::{BasisPoints, Discount, Fen, MoneyTerms};

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

/// A step in an offer's life: approve/reject by an administrator, the rest by the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferAction {
    Approve,
    Reject,
    Pause,
    Resume,
    End,
}

impl OfferAction {
    /// (allowed from, leads to).
    pub fn transition(self) -> (&'static [OfferStatus], OfferStatus) {
        use OfferStatus::*;
        match self {
            OfferAction::Approve => (&[Pending], Active),
            OfferAction::Reject => (&[Pending], Rejected),
            OfferAction::Pause => (&[Active], Paused),
            OfferAction::Resume => (&[Paused], Active),
            OfferAction::End => (&[Pending, Active, Paused], Ended),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OfferAction::Approve => "approve",
            OfferAction::Reject => "reject",
            OfferAction::Pause => "pause",
            OfferAction::Resume => "resume",
            OfferAction::End => "end",
        }
    }
}

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
        })
    }
}

/// An offer to store; [`create`] validates it.
#[derive(Debug, Clone)]
pub struct NewOffer {
    pub title: String,
    pub kind: OfferKind,
    pub percent_bp: Option<i32>,
    pub amount_fen: Option<i64>,
    pub min_spend_fen: i64,
    pub max_discount_fen: Option<i64>,
    pub tiers: TierSet,
    pub per_card_daily: Option<i32>,
    pub per_card_monthly: Option<i32>,
    pub valid_from: Option<NaiveDateTime>,
    pub valid_until: Option<NaiveDateTime>,
    pub subsidy_bp: i32,
}

impl NewOffer {
    /// The rules of issue 4: percent 1..=10000 bp with a cap, fixed > 0, subsidy
    /// 0..=10000 bp, positive limits, dates in order.
    pub fn validate(&self) -> ApiResult<()> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 100 {
            return Err(ApiError::invalid_field(
                "title",
                "title must have 1 to 100 characters",
            ));
        }
        match self.kind {
            OfferKind::Percent => {
                match self.percent_bp {
                    Some(bp) if (1..=BasisPoints::FULL).contains(&bp) => {}
                    Some(_) => {
                        return Err(ApiError::invalid_field(
                            "percent_bp",
                            "percent_bp must be between 1 and 10000 basis points (10000 = 100 %)",
                        ));
                    }
                    None => {
                        return Err(ApiError::validation("a percent offer needs percent_bp"));
                    }
                }
                match self.max_discount_fen {
                    Some(cap) if cap > 0 => {}
                    Some(_) => {
                        return Err(ApiError::invalid_field(
                            "max_discount_fen",
                            "max_discount_fen must be more than 0 fen",
                        ));
                    }
                    None => {
                        return Err(ApiError::validation(
                            "a percent offer needs max_discount_fen, the most it gives per use",
                        ));
                    }
                }
                if self.amount_fen.is_some() {
                    return Err(ApiError::validation(
                        "amount_fen belongs to fixed offers; a percent offer uses percent_bp",
                    ));
                }
            }
            OfferKind::Fixed => {
                match self.amount_fen {
                    Some(a) if a > 0 => {}
                    Some(_) => {
                        return Err(ApiError::invalid_field(
                            "amount_fen",
                            "amount_fen must be more than 0 fen",
                        ));
                    }
                    None => return Err(ApiError::validation("a fixed offer needs amount_fen")),
                }
                if self.percent_bp.is_some() || self.max_discount_fen.is_some() {
                    return Err(ApiError::validation(
                        "percent_bp and max_discount_fen belong to percent offers; a fixed offer gives amount_fen, at most the bill",
                    ));
                }
            }
        }
        Fen::parse("min_spend_fen", self.min_spend_fen)?;
        BasisPoints::parse("subsidy_bp", i64::from(self.subsidy_bp))?;
        for (field, limit) in [
            ("per_card_daily", self.per_card_daily),
            ("per_card_monthly", self.per_card_monthly),
        ] {
            if limit.is_some_and(|l| l < 1) {
                return Err(ApiError::validation(format!(
                    "{field} must be at least 1 when given (leave it out for no limit)"
                )));
            }
        }
        if let (Some(d), Some(m)) = (self.per_card_daily, self.per_card_monthly)
            && d > m
        {
            return Err(ApiError::validation(
                "per_card_daily cannot be more than per_card_monthly",
            ));
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && from >= until
        {
            return Err(ApiError::invalid_field(
                "valid_from",
                "valid_from must be before valid_until",
            ));
        }
        Ok(())
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

/// Stores a new offer for an active merchant: `pending` when it carries a subsidy (an
/// official must approve it), `active` at once otherwise. Call inside a write transaction.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    merchant_id: i64,
    new: NewOffer,
    replaces_id: Option<i64>,
) -> ApiResult<Offer> {
    new.validate()?;
    let merchant = merchants::get(conn, merchant_id)?;
    if merchant.status()? != MerchantStatus::Active {
        return Err(ApiError::invalid_transition(format!(
            "Merchant {merchant_id} is {}: only an active merchant can publish offers.",
            merchant.status
        )));
    }
    let now = crate::time::now();
    if new.valid_until.is_some_and(|until| until <= now) {
        return Err(ApiError::invalid_field(
            "valid_until",
            "valid_until is already past: an offer must be usable for some time",
        ));
    }
    let status = if new.subsidy_bp > 0 {
        OfferStatus::Pending
    } else {
        OfferStatus::Active
    };
    let offer = diesel::insert_into(offers::table)
        .values((
            offers::merchant_id.eq(merchant_id),
            offers::title.eq(new.title.trim()),
            offers::kind.eq(new.kind.as_str()),
            offers::percent_bp.eq(new.percent_bp),
            offers::amount_fen.eq(new.amount_fen),
            offers::min_spend_fen.eq(new.min_spend_fen),
            offers::max_discount_fen.eq(new.max_discount_fen),
            offers::tiers.eq(new.tiers.to_stored()),
            offers::per_card_daily.eq(new.per_card_daily),
            offers::per_card_monthly.eq(new.per_card_monthly),
            offers::valid_from.eq(new.valid_from),
            offers::valid_until.eq(new.valid_until),
            offers::subsidy_bp.eq(new.subsidy_bp),
            offers::status.eq(status.as_str()),
            offers::replaces_id.eq(replaces_id),
            offers::created_at.eq(now),
            offers::updated_at.eq(now),
        ))
        .returning(offers::all_columns)
        .get_result::<Offer>(conn)?;
    audit::record(
        conn,
        actor,
        "offer.create",
        "offer",
        offer.id,
        None::<&()>,
        Some(&offer),
    )?;
    if status == OfferStatus::Active {
        end_replaced(conn, actor, &offer)?;
    }
    Ok(offer)
}

/// Applies a workflow step if the offer is in a state it starts from. Approval of a
/// revision ends the version it replaces. Call inside a write transaction.
pub fn transition(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    action: OfferAction,
    reason: Option<&str>,
) -> ApiResult<Offer> {
    let before = get(conn, id)?;
    let (from, to) = action.transition();
    let from_names: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let changed = diesel::update(
        offers::table
            .find(id)
            .filter(offers::status.eq_any(from_names.clone())),
    )
    .set((
        offers::status.eq(to.as_str()),
        offers::status_reason.eq(reason),
        offers::updated_at.eq(crate::time::now()),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(ApiError::invalid_transition(format!(
            "Cannot {} offer {id}: it is {}; this is allowed only for {} offers.",
            action.name(),
            before.status,
            from_names.join(" or "),
        )));
    }
    let after = get(conn, id)?;
    audit::record(
        conn,
        actor,
        &format!("offer.{}", action.name()),
        "offer",
        id,
        Some(&before),
        Some(&after),
    )?;
    if action == OfferAction::Approve {
        end_replaced(conn, actor, &after)?;
    }
    Ok(after)
}

/// Once a revision is live, the version it replaces ends (if it still runs).
fn end_replaced(conn: &mut DbConnection, actor: &Actor, live: &Offer) -> ApiResult<()> {
    let Some(old_id) = live.replaces_id else {
        return Ok(());
    };
    let before = get(conn, old_id)?;
    let changed = diesel::update(
        offers::table
            .find(old_id)
            .filter(offers::status.eq_any(["active", "paused", "pending"])),
    )
    .set((
        offers::status.eq(OfferStatus::Ended.as_str()),
        offers::status_reason.eq(format!("replaced by offer {}", live.id)),
        offers::updated_at.eq(crate::time::now()),
    ))
    .execute(conn)?;
    if changed > 0 {
        let after = get(conn, old_id)?;
        audit::record(
            conn,
            actor,
            "offer.end",
            "offer",
            old_id,
            Some(&before),
            Some(&after),
        )?;
    }
    Ok(())
}

/// Changes an offer by inserting a new version (money terms are never rewritten in
/// place). A subsidised revision waits for approval while the old version keeps running;
/// an unsubsidised one goes live and ends the old one at once. A revision of a still
/// pending offer withdraws that offer. Call inside a write transaction.
pub fn revise(
    conn: &mut DbConnection,
    actor: &Actor,
    old_id: i64,
    new: NewOffer,
) -> ApiResult<Offer> {
    let old = get(conn, old_id)?;
    let old_status = old.status()?;
    if !matches!(
        old_status,
        OfferStatus::Pending | OfferStatus::Active | OfferStatus::Paused
    ) {
        return Err(ApiError::invalid_transition(format!(
            "Offer {old_id} is {}; only a pending, active or paused offer can be revised.",
            old.status
        )));
    }
    let waiting: i64 = offers::table
        .filter(offers::replaces_id.eq(old_id))
        .filter(offers::status.eq(OfferStatus::Pending.as_str()))
        .count()
        .get_result(conn)?;
    if waiting > 0 {
        return Err(ApiError::conflict(format!(
            "Offer {old_id} already has a revision waiting for review; revise that one instead."
        )));
    }
    if old_status == OfferStatus::Pending {
        transition(
            conn,
            actor,
            old_id,
            OfferAction::End,
            Some("withdrawn by a revision"),
        )?;
    }
    create(conn, actor, old.merchant_id, new, Some(old_id))
}

/// The offers of the given merchants live at `now`, optionally only those a tier may use.
pub fn live_offers(
    conn: &mut DbConnection,
    merchant_ids: &[i64],
    tier: Option<Tier>,
    now: NaiveDateTime,
) -> ApiResult<Vec<Offer>> {
    let mut query = offers::table
        .filter(offers::merchant_id.eq_any(merchant_ids))
        .filter(offers::status.eq(OfferStatus::Active.as_str()))
        .filter(offers::valid_from.is_null().or(offers::valid_from.le(now)))
        .filter(
            offers::valid_until
                .is_null()
                .or(offers::valid_until.gt(now)),
        )
        .into_boxed();
    if let Some(tier) = tier {
        query = query.filter(offers::tiers.like(format!("%{}%", tier.as_char())));
    }
    Ok(query
        .order(offers::id)
        .select(Offer::as_select())
        .load(conn)?)
}

/// The live offers of one merchant (what a counter may redeem now).
pub fn live_for_merchant(
    conn: &mut DbConnection,
    merchant_id: i64,
    now: NaiveDateTime,
) -> ApiResult<Vec<Offer>> {
    live_offers(conn, &[merchant_id], None, now)
}

/// The live offers of the given merchants (for the directory), optionally only those a
/// tier may use, grouped by merchant.
pub fn live_offers_by_merchant(
    conn: &mut DbConnection,
    merchant_ids: &[i64],
    tier: Option<Tier>,
) -> ApiResult<HashMap<i64, Vec<PublicOffer>>> {
    let rows = live_offers(conn, merchant_ids, tier, crate::time::now())?;
    let mut grouped: HashMap<i64, Vec<PublicOffer>> = HashMap::new();
    for offer in &rows {
        grouped
            .entry(offer.merchant_id)
            .or_default()
            .push(offer.public()?);
    }
    Ok(grouped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent_offer() -> NewOffer {
        NewOffer {
            title: "九折".into(),
            kind: OfferKind::Percent,
            percent_bp: Some(1000),
            amount_fen: None,
            min_spend_fen: 0,
            max_discount_fen: Some(5_000),
            tiers: TierSet::new(&[Tier::A]).unwrap(),
            per_card_daily: None,
            per_card_monthly: None,
            valid_from: None,
            valid_until: None,
            subsidy_bp: 5000,
        }
    }

    #[test]
    fn offer_rules_refuse_incomplete_or_out_of_range_terms() {
        assert!(percent_offer().validate().is_ok());
        type Breakage = Box<dyn Fn(&mut NewOffer)>;
        let cases: Vec<Breakage> = vec![
            Box::new(|o| o.percent_bp = Some(0)),
            Box::new(|o| o.percent_bp = Some(10_001)),
            Box::new(|o| o.percent_bp = None),
            Box::new(|o| o.max_discount_fen = None),
            Box::new(|o| o.max_discount_fen = Some(0)),
            Box::new(|o| o.amount_fen = Some(100)),
            Box::new(|o| o.subsidy_bp = 10_001),
            Box::new(|o| o.subsidy_bp = -1),
            Box::new(|o| o.min_spend_fen = -1),
            Box::new(|o| o.per_card_daily = Some(0)),
            Box::new(|o| {
                o.per_card_daily = Some(5);
                o.per_card_monthly = Some(4);
            }),
            Box::new(|o| o.title = "  ".into()),
            Box::new(|o| {
                let t = crate::time::now();
                o.valid_from = Some(t);
                o.valid_until = Some(t);
            }),
            Box::new(|o| {
                o.kind = OfferKind::Fixed;
                o.percent_bp = None;
                o.max_discount_fen = None;
                o.amount_fen = Some(0);
            }),
            Box::new(|o| {
                o.kind = OfferKind::Fixed;
                o.amount_fen = Some(100);
            }),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut offer = percent_offer();
            case(&mut offer);
            assert!(offer.validate().is_err(), "case {i} accepted");
        }
    }

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
