//! An offer's life: creation (pending approval when subsidised), the approve, reject,
//! pause, resume and end steps, and revision by a new version.

use diesel::prelude::*;

use super::{NewOffer, Offer, OfferStatus, get};
use crate::audit;
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::merchants::{self, MerchantStatus};
use crate::schema::offers;

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
            offers::dependents.eq(new.dependents),
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
    // A revision of a revision still under review takes that one's place: once live it
    // must end the version that runs now, not the one it withdrew.
    let replaces = match (old_status, old.replaces_id) {
        (OfferStatus::Pending, Some(running)) => running,
        _ => old_id,
    };
    create(conn, actor, old.merchant_id, new, Some(replaces))
}
