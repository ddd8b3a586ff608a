//! Family cards (附属卡) follow their principal card (DESIGN §11): suspended, resumed
//! and revoked with it, carried to the new card when it is reissued or issued again
//! after a lapse (taking its tier and validity), renewed with it.
//!
//! A family card suspended *because* its principal was is marked by its status reason,
//! so resuming the principal resumes those and leaves alone a family card an official
//! suspended on its own account. Every change is audited like the principal's own.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Card, CardStatus, Transition, find_by_id};
use crate::audit;
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{cards, talents};
use crate::talents::Tier;

/// Status reason of a family card suspended with its principal card.
pub const SUSPENDED_WITH_PRINCIPAL: &str = "随主卡暂停 · suspended with the principal card";
/// Status reason of a family card revoked with its principal card.
pub const REVOKED_WITH_PRINCIPAL: &str = "随主卡注销 · revoked with the principal card";

/// The family cards of `principal_card_id` that are active or suspended.
pub fn live_dependents(conn: &mut DbConnection, principal_card_id: i64) -> ApiResult<Vec<Card>> {
    Ok(cards::table
        .filter(cards::principal_card_id.eq(principal_card_id))
        .filter(cards::status.eq_any(["active", "suspended"]))
        .order(cards::id)
        .select(Card::as_select())
        .load(conn)?)
}

/// Applies to the family cards the step just taken by their principal card.
pub(super) fn follow(
    conn: &mut DbConnection,
    actor: &Actor,
    principal: &Card,
    step: Transition,
    now: NaiveDateTime,
) -> ApiResult<()> {
    if principal.is_dependent() {
        return Ok(());
    }
    for card in live_dependents(conn, principal.id)? {
        let reason = card.status_reason.as_deref();
        let (to, new_reason) = match (step, card.status.as_str()) {
            (Transition::Suspend, "active") => ("suspended", Some(SUSPENDED_WITH_PRINCIPAL)),
            (Transition::Resume, "suspended") if reason == Some(SUSPENDED_WITH_PRINCIPAL) => {
                ("active", None)
            }
            (Transition::Revoke, _) => ("revoked", Some(REVOKED_WITH_PRINCIPAL)),
            _ => continue,
        };
        let after = diesel::update(
            cards::table
                .find(card.id)
                .filter(cards::status.eq(&card.status)),
        )
        .set((
            cards::status.eq(to),
            cards::status_reason.eq(new_reason),
            cards::status_changed_at.eq(now),
            cards::updated_at.eq(now),
        ))
        .returning(cards::all_columns)
        .get_result::<Card>(conn)?;
        audited(conn, actor, step.action(), &card, &after, now)?;
    }
    Ok(())
}

/// Records `action` on a family card, from `before` to `after`.
fn audited(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    before: &Card,
    after: &Card,
    now: NaiveDateTime,
) -> ApiResult<()> {
    audit::record(
        conn,
        actor,
        action,
        "card",
        after.id,
        Some(&before.view(now)),
        Some(&after.view(now)),
    )
}

/// A family card resumes only while its principal card is active.
pub(super) fn may_resume(
    conn: &mut DbConnection,
    card: &Card,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let Some(principal_id) = card.principal_card_id else {
        return Ok(());
    };
    let principal = principal_card(conn, principal_id)?;
    match principal.status_at(now) {
        CardStatus::Active => Ok(()),
        status => Err(ApiError::invalid_transition(format!(
            "The principal card {} is {}: its family cards resume with it.",
            principal.card_no,
            status.as_str()
        ))),
    }
}

fn principal_card(conn: &mut DbConnection, id: i64) -> ApiResult<Card> {
    find_by_id(conn, id)?.ok_or_else(|| ApiError::not_found(format!("No card {id}.")))
}

/// The live principal card a family card is reissued under, refusing what a family card
/// cannot choose for itself: its tier and its validity are its principal's.
pub(super) fn principal_for_reissue(
    conn: &mut DbConnection,
    principal_card_id: i64,
    new_tier: Option<Tier>,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> ApiResult<Card> {
    if new_tier.is_some() {
        return Err(ApiError::invalid_field(
            "tier",
            "a family card takes the principal card's tier; change the principal's tier instead",
        ));
    }
    if expires_at.is_some() {
        return Err(ApiError::invalid_field(
            "valid_until",
            "a family card is valid as long as its principal card; renew the principal instead",
        ));
    }
    let principal = principal_card(conn, principal_card_id)?;
    if principal.status_at(now) != CardStatus::Active {
        return Err(ApiError::invalid_transition(format!(
            "The principal card {} is {}: its family cards cannot be reissued now.",
            principal.card_no,
            principal.status_at(now).as_str()
        )));
    }
    Ok(principal)
}

/// Moves the live family cards of `old_principal_id` onto `new_principal`, with its
/// tier and validity; a card suspended only because the old principal was resumes
/// when the new one is active.
pub(super) fn relink(
    conn: &mut DbConnection,
    actor: &Actor,
    old_principal_id: i64,
    new_principal: &Card,
    now: NaiveDateTime,
) -> ApiResult<()> {
    for card in live_dependents(conn, old_principal_id)? {
        let resumes = card.status == "suspended"
            && card.status_reason.as_deref() == Some(SUSPENDED_WITH_PRINCIPAL)
            && new_principal.status == "active";
        let (status, reason) = if resumes {
            ("active", None)
        } else {
            (card.status.as_str(), card.status_reason.as_deref())
        };
        let after = diesel::update(cards::table.find(card.id))
            .set((
                cards::principal_card_id.eq(new_principal.id),
                cards::tier.eq(&new_principal.tier),
                cards::expires_at.eq(new_principal.expires_at),
                cards::status.eq(status),
                cards::status_reason.eq(reason),
                cards::updated_at.eq(now),
            ))
            .returning(cards::all_columns)
            .get_result::<Card>(conn)?;
        diesel::update(talents::table.find(card.talent_id))
            .set((
                talents::tier.eq(&new_principal.tier),
                talents::updated_at.eq(now),
            ))
            .execute(conn)?;
        audited(conn, actor, "card.relink", &card, &after, now)?;
    }
    Ok(())
}

/// Renews the live family cards of `principal` to its new validity.
pub(super) fn follow_renewal(
    conn: &mut DbConnection,
    actor: &Actor,
    principal: &Card,
    now: NaiveDateTime,
) -> ApiResult<()> {
    for card in live_dependents(conn, principal.id)? {
        let after = diesel::update(cards::table.find(card.id))
            .set((
                cards::expires_at.eq(principal.expires_at),
                cards::updated_at.eq(now),
            ))
            .returning(cards::all_columns)
            .get_result::<Card>(conn)?;
        audited(conn, actor, "card.renew", &card, &after, now)?;
    }
    Ok(())
}
