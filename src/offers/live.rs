//! The offers live now: for a counter, and for the public directory by merchant.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Offer, OfferStatus, PublicOffer};
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::offers;
use crate::tier::Tier;

/// An offer live at `now`: active, and within its dates where it has them. A filter, or
/// the condition a read joins the merchant's offers on.
#[diesel::dsl::auto_type]
pub fn live_at(now: NaiveDateTime) -> _ {
    let active: &'static str = OfferStatus::Active.as_str();
    offers::status
        .eq(active)
        .and(offers::valid_from.is_null().or(offers::valid_from.le(now)))
        .and(
            offers::valid_until
                .is_null()
                .or(offers::valid_until.gt(now)),
        )
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
        .filter(live_at(now))
        .into_boxed();
    if let Some(tier) = tier {
        query = query.filter(offers::tiers.like(format!("%{}%", tier.as_char())));
    }
    Ok(query
        .order(offers::id)
        .select(Offer::as_select())
        .load(conn)?)
}

/// The live offers of one merchant (what a counter may redeem now). Every quote asks, so
/// the query is not boxed: its prepared statement is found by type, not rebuilt as text.
pub fn live_for_merchant(
    conn: &mut DbConnection,
    merchant_id: i64,
    now: NaiveDateTime,
) -> ApiResult<Vec<Offer>> {
    Ok(crate::db::direct!(conn, |c| offers::table
        .filter(offers::merchant_id.eq(merchant_id))
        .filter(live_at(now))
        .order(offers::id)
        .select(Offer::as_select())
        .load(c))?)
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
