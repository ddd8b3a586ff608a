//! Talent cards: issue, suspend, resume, revoke, reissue, and automatic expiry.
//!
//! Expiry needs no batch job: a live card whose `expires_at` has passed is reported and
//! treated as `expired` by [`effective_status`], everywhere, from that instant. The
//! stored status only becomes `expired` when a new card supersedes the lapsed one.
//! Every transition is a conditional `UPDATE … WHERE status = <expected>` whose row
//! count is checked, so two officials acting at once cannot both succeed, and each
//! change is audited in its own transaction. The partial unique index
//! `cards_one_live_per_talent` keeps at most one active-or-suspended card per talent.

pub mod card_no;
pub mod family;
pub mod print;
pub mod renewal;
pub mod routes;

use chrono::{Months, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use card_no::CardNo;

use crate::audit;
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{cards, talents};
use crate::talents::Tier;

/// How a card stands right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CardStatus {
    Active,
    Suspended,
    Revoked,
    Expired,
}

impl CardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Active => "active",
            CardStatus::Suspended => "suspended",
            CardStatus::Revoked => "revoked",
            CardStatus::Expired => "expired",
        }
    }
}

/// The status as of `now`: a live card past its validity is expired.
pub fn effective_status(stored: &str, expires_at: NaiveDateTime, now: NaiveDateTime) -> CardStatus {
    match stored {
        "revoked" => CardStatus::Revoked,
        "expired" => CardStatus::Expired,
        _ if now >= expires_at => CardStatus::Expired,
        "suspended" => CardStatus::Suspended,
        _ => CardStatus::Active,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = cards)]
pub struct Card {
    pub id: i64,
    pub card_no: String,
    pub talent_id: i64,
    pub tier: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub status_changed_at: NaiveDateTime,
    pub replaced_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set on a family card: the principal card it follows.
    pub principal_card_id: Option<i64>,
}

impl Card {
    /// A family (附属) card, which follows its principal card.
    pub fn is_dependent(&self) -> bool {
        self.principal_card_id.is_some()
    }

    pub fn status_at(&self, now: NaiveDateTime) -> CardStatus {
        effective_status(&self.status, self.expires_at, now)
    }

    pub fn view(&self, now: NaiveDateTime) -> CardView {
        CardView {
            id: self.id,
            card_no: self.card_no.clone(),
            talent_id: self.talent_id,
            tier: self.tier.clone(),
            status: self.status_at(now),
            status_reason: self.status_reason.clone(),
            issued_at: self.issued_at,
            valid_until: last_valid_day(self.expires_at),
            replaced_by: self.replaced_by,
            kind: if self.is_dependent() {
                CardKind::Dependent
            } else {
                CardKind::Principal
            },
            principal_card_id: self.principal_card_id,
        }
    }
}

/// A card as clients see it (and as the audit log records it: no personal data).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardView {
    pub id: i64,
    pub card_no: String,
    pub talent_id: i64,
    pub tier: String,
    pub status: CardStatus,
    /// Why it was last suspended, resumed, revoked or reissued.
    pub status_reason: Option<String>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: NaiveDateTime,
    /// Last local (Asia/Shanghai) day on which the card is valid, inclusive.
    #[schema(value_type = String, format = Date)]
    pub valid_until: NaiveDate,
    /// Id of the card that replaced this one (reissue).
    pub replaced_by: Option<i64>,
    pub kind: CardKind,
    /// A family card's principal card (the id of the card it follows).
    pub principal_card_id: Option<i64>,
}

/// A talent's own card, or a family card (附属卡) issued from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CardKind {
    Principal,
    Dependent,
}

/// The local date a card is last valid on, given the instant it stops being valid.
pub fn last_valid_day(expires_at: NaiveDateTime) -> NaiveDate {
    crate::time::to_local(expires_at - chrono::Duration::microseconds(1)).date_naive()
}

/// The instant a card valid through local day `last_day` stops being valid.
pub fn expiry_of(last_day: NaiveDate) -> NaiveDateTime {
    crate::time::local_day_start(last_day + chrono::Duration::days(1))
}

/// Validity of a card issued at `now`: an explicit last day (in the future, at most 20
/// years ahead) or the configured default number of years.
pub fn expiry_for(
    valid_until: Option<NaiveDate>,
    default_years: u32,
    now: NaiveDateTime,
) -> ApiResult<NaiveDateTime> {
    let today = crate::time::to_local(now).date_naive();
    let last_day = match valid_until {
        Some(day) => {
            if day < today {
                return Err(ApiError::invalid_field(
                    "valid_until",
                    "valid_until must be today or a later date",
                ));
            }
            if day > today + Months::new(12 * 20) {
                return Err(ApiError::invalid_field(
                    "valid_until",
                    "valid_until must be within 20 years",
                ));
            }
            day
        }
        None => (today + Months::new(12 * default_years)) - chrono::Duration::days(1),
    };
    Ok(expiry_of(last_day))
}

pub fn find_by_id(conn: &mut DbConnection, id: i64) -> ApiResult<Option<Card>> {
    Ok(cards::table
        .find(id)
        .select(Card::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_no(conn: &mut DbConnection, card_no: &CardNo) -> ApiResult<Card> {
    find_by_no_optional(conn, card_no)?
        .ok_or_else(|| ApiError::not_found(format!("No card {card_no}.")))
}

pub fn find_by_no_optional(conn: &mut DbConnection, card_no: &CardNo) -> ApiResult<Option<Card>> {
    Ok(cards::table
        .filter(cards::card_no.eq(card_no.as_str()))
        .select(Card::as_select())
        .first(conn)
        .optional()?)
}

/// The talent's current card: the live one if any, else the most recent.
pub fn current_for_talent(conn: &mut DbConnection, talent_id: i64) -> ApiResult<Option<Card>> {
    Ok(cards::table
        .filter(cards::talent_id.eq(talent_id))
        .order(cards::id.desc())
        .select(Card::as_select())
        .load(conn)?
        .into_iter()
        .max_by_key(|c| (matches!(c.status.as_str(), "active" | "suspended"), c.id)))
}

fn load_talent_tier(conn: &mut DbConnection, talent_id: i64) -> ApiResult<String> {
    Ok(load_holder(conn, talent_id)?.0)
}

/// The holder's tier, and whether they are a family member (their principal's id).
fn load_holder(conn: &mut DbConnection, talent_id: i64) -> ApiResult<(String, Option<i64>)> {
    talents::table
        .find(talent_id)
        .select((talents::tier, talents::principal_id))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("No talent {talent_id}.")))
}

/// Inserts an active card with a fresh number, unaudited: the caller records it.
/// `principal_card_id` makes it a family card of that card.
pub(crate) fn insert_card(
    conn: &mut DbConnection,
    talent_id: i64,
    tier: &str,
    expires_at: NaiveDateTime,
    principal_card_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<Card> {
    // A clash of 11 random digits is a once-in-billions event; retrying beats failing.
    for _ in 0..3 {
        let card_no = CardNo::generate();
        let taken: i64 = cards::table
            .filter(cards::card_no.eq(card_no.as_str()))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            continue;
        }
        let card = diesel::insert_into(cards::table)
            .values((
                cards::card_no.eq(card_no.as_str()),
                cards::talent_id.eq(talent_id),
                cards::tier.eq(tier),
                cards::status.eq("active"),
                cards::issued_at.eq(now),
                cards::expires_at.eq(expires_at),
                cards::status_changed_at.eq(now),
                cards::created_at.eq(now),
                cards::updated_at.eq(now),
                cards::principal_card_id.eq(principal_card_id),
            ))
            .returning(cards::all_columns)
            .get_result::<Card>(conn)
            .map_err(|e| match ApiError::from(e) {
                ApiError::Problem {
                    code: "conflict", ..
                } => ApiError::conflict(
                    "This talent already has a live card; reissue it instead of issuing another.",
                ),
                other => other,
            })?;
        return Ok(card);
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "could not draw a free card number"
    )))
}

/// Issues a card to a talent who has no live card. A lapsed card is marked `expired`
/// (history kept); an active or suspended one is a 409: reissue it instead.
pub fn issue(
    conn: &mut DbConnection,
    actor: &Actor,
    talent_id: i64,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> ApiResult<Card> {
    let (tier, principal) = load_holder(conn, talent_id)?;
    if principal.is_some() {
        return Err(ApiError::invalid_transition(format!(
            "Talent {talent_id} is a family member: their card is issued from the principal card \
             (POST /cards/{{card_no}}/dependents) and follows it."
        )));
    }
    let live: Vec<Card> = cards::table
        .filter(cards::talent_id.eq(talent_id))
        .filter(cards::status.eq_any(["active", "suspended"]))
        .select(Card::as_select())
        .load(conn)?;
    let mut lapsed = Vec::new();
    for old in live {
        if old.status_at(now) != CardStatus::Expired {
            return Err(ApiError::conflict(format!(
                "Talent {talent_id} already has the {} card {}; reissue it instead of issuing another.",
                old.status, old.card_no
            )));
        }
        let before = old.view(now);
        let changed = diesel::update(
            cards::table
                .find(old.id)
                .filter(cards::status.eq(&old.status)),
        )
        .set((
            cards::status.eq("expired"),
            cards::status_changed_at.eq(now),
            cards::updated_at.eq(now),
        ))
        .returning(cards::all_columns)
        .get_result::<Card>(conn)
        .optional()?
        .ok_or_else(|| ApiError::conflict("The old card changed meanwhile; retry."))?;
        audit::record(
            conn,
            actor,
            "card.expire",
            "card",
            changed.id,
            Some(&before),
            Some(&changed.view(now)),
        )?;
        lapsed.push(changed.id);
    }
    let card = insert_card(conn, talent_id, &tier, expires_at, None, now)?;
    audit::record(
        conn,
        actor,
        "card.issue",
        "card",
        card.id,
        None::<&()>,
        Some(&card.view(now)),
    )?;
    // The family lapsed with the old card; the new card carries them on.
    for old_id in lapsed {
        family::relink(conn, actor, old_id, &card, now)?;
    }
    Ok(card)
}

/// A lifecycle step on an existing card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Suspend,
    Resume,
    Revoke,
}

impl Transition {
    fn action(self) -> &'static str {
        match self {
            Transition::Suspend => "card.suspend",
            Transition::Resume => "card.resume",
            Transition::Revoke => "card.revoke",
        }
    }

    /// (stored statuses it may start from, stored status it ends in).
    fn rule(self) -> (&'static [&'static str], &'static str) {
        match self {
            Transition::Suspend => (&["active"], "suspended"),
            Transition::Resume => (&["suspended"], "active"),
            Transition::Revoke => (&["active", "suspended"], "revoked"),
        }
    }
}

fn refuse(card: &Card, what: &str, now: NaiveDateTime) -> ApiError {
    ApiError::invalid_transition(format!(
        "Card {} is {}; it cannot be {what} now.",
        card.card_no,
        card.status_at(now).as_str()
    ))
}

/// Suspends, resumes or revokes a card (expired cards only accept revoke).
pub fn transition(
    conn: &mut DbConnection,
    actor: &Actor,
    card_no: &CardNo,
    step: Transition,
    reason: Option<String>,
    now: NaiveDateTime,
) -> ApiResult<Card> {
    let card = find_by_no(conn, card_no)?;
    let (from, to) = step.rule();
    let verb = match step {
        Transition::Suspend => "suspended",
        Transition::Resume => "resumed",
        Transition::Revoke => "revoked",
    };
    let expired = card.status_at(now) == CardStatus::Expired;
    if !from.contains(&card.status.as_str()) || (expired && step != Transition::Revoke) {
        return Err(refuse(&card, verb, now));
    }
    if step == Transition::Resume {
        family::may_resume(conn, &card, now)?;
    }
    let before = card.view(now);
    let updated = diesel::update(
        cards::table
            .find(card.id)
            .filter(cards::status.eq(&card.status)),
    )
    .set((
        cards::status.eq(to),
        cards::status_reason.eq(reason),
        cards::status_changed_at.eq(now),
        cards::updated_at.eq(now),
    ))
    .returning(cards::all_columns)
    .get_result::<Card>(conn)
    .optional()?
    .ok_or_else(|| refuse(&card, verb, now))?;
    audit::record(
        conn,
        actor,
        step.action(),
        "card",
        updated.id,
        Some(&before),
        Some(&updated.view(now)),
    )?;
    family::follow(conn, actor, &updated, step, now)?;
    Ok(updated)
}

/// Revokes `card_no` and issues its replacement in the caller's transaction. The new
/// card takes `new_tier` (which also becomes the talent's tier) or the talent's tier;
/// it keeps the old validity unless `expires_at` is given.
pub fn reissue(
    conn: &mut DbConnection,
    actor: &Actor,
    card_no: &CardNo,
    reason: String,
    new_tier: Option<Tier>,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> ApiResult<(Card, Card)> {
    let old = find_by_no(conn, card_no)?;
    if old.status == "revoked" || old.status == "expired" {
        return Err(refuse(&old, "reissued", now));
    }
    // A family card keeps its principal's tier and validity: it is reissued as it is.
    let principal = match old.principal_card_id {
        Some(id) => Some(family::principal_for_reissue(
            conn, id, new_tier, expires_at, now,
        )?),
        None => None,
    };
    if let Some(tier) = new_tier {
        crate::talents::set_tier(conn, actor, old.talent_id, tier, now)?;
    }
    let tier = load_talent_tier(conn, old.talent_id)?;
    let expires_at = match (expires_at, &principal) {
        (_, Some(principal)) => principal.expires_at,
        (Some(t), None) => t,
        (None, None) if old.expires_at > now => old.expires_at,
        (None, None) => {
            return Err(ApiError::validation(
                "the card has expired: give valid_until for the new card",
            ));
        }
    };
    let before = old.view(now);
    // Revoke first: the one-live-card index would refuse the new card otherwise.
    let revoked = diesel::update(
        cards::table
            .find(old.id)
            .filter(cards::status.eq(&old.status)),
    )
    .set((
        cards::status.eq("revoked"),
        cards::status_reason.eq(&reason),
        cards::status_changed_at.eq(now),
        cards::updated_at.eq(now),
    ))
    .execute(conn)?;
    if revoked != 1 {
        return Err(refuse(&old, "reissued", now));
    }
    let new = insert_card(
        conn,
        old.talent_id,
        &tier,
        expires_at,
        old.principal_card_id,
        now,
    )?;
    let old = diesel::update(cards::table.find(old.id))
        .set(cards::replaced_by.eq(new.id))
        .returning(cards::all_columns)
        .get_result::<Card>(conn)?;
    audit::record(
        conn,
        actor,
        "card.reissue",
        "card",
        old.id,
        Some(&before),
        Some(&old.view(now)),
    )?;
    audit::record(
        conn,
        actor,
        "card.issue",
        "card",
        new.id,
        None::<&()>,
        Some(&new.view(now)),
    )?;
    family::relink(conn, actor, old.id, &new, now)?;
    Ok((old, new))
}

/// The SQL condition "has effective status `status` at `now`", for list filters.
pub fn status_filter(
    status: CardStatus,
    now: NaiveDateTime,
) -> Box<
    dyn BoxableExpression<cards::table, crate::db::MultiBackend, SqlType = diesel::sql_types::Bool>,
> {
    match status {
        CardStatus::Active => Box::new(cards::status.eq("active").and(cards::expires_at.gt(now))),
        CardStatus::Suspended => {
            Box::new(cards::status.eq("suspended").and(cards::expires_at.gt(now)))
        }
        CardStatus::Revoked => Box::new(cards::status.eq("revoked")),
        CardStatus::Expired => Box::new(
            cards::status.eq("expired").or(cards::status
                .eq_any(["active", "suspended"])
                .and(cards::expires_at.le(now))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn a_live_card_expires_at_the_end_of_its_last_local_day() {
        let last = NaiveDate::from_ymd_opt(2029, 11, 22).unwrap();
        let expires = expiry_of(last);
        // Midnight 2029-11-23 in Shanghai is 16:00 UTC the day before.
        assert_eq!(expires, at("2029-11-22 16:00:00"));
        assert_eq!(last_valid_day(expires), last);
        assert_eq!(
            effective_status("active", expires, at("2029-11-22 15:59:59")),
            CardStatus::Active
        );
        assert_eq!(
            effective_status("suspended", expires, at("2029-11-22 16:00:00")),
            CardStatus::Expired
        );
        assert_eq!(
            effective_status("revoked", expires, at("2020-01-01 00:00:00")),
            CardStatus::Revoked
        );
    }

    #[test]
    fn default_validity_is_whole_years_to_the_day_before() {
        let now = at("2026-11-23 04:00:00");
        let expires = expiry_for(None, 3, now).unwrap();
        assert_eq!(
            last_valid_day(expires),
            NaiveDate::from_ymd_opt(2029, 11, 22).unwrap()
        );
        assert!(expiry_for(NaiveDate::from_ymd_opt(2026, 11, 22), 3, now).is_err());
        assert!(expiry_for(NaiveDate::from_ymd_opt(2060, 1, 1), 3, now).is_err());
    }
}
