//! Family cards (附属卡, DESIGN §11): a talent's spouse, children and parents hold cards
//! of their own, issued from the talent's card. A family member is a card holder like
//! the talent — a `talents` row with its own card, codes and, when they have a phone, a
//! login by activation code — linked to its principal. How their card follows the
//! principal card lives with the cards ([`crate::cards::family`]); this module issues
//! family cards and shows a family.

pub mod routes;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit;
use crate::auth::Actor;
use crate::cards::{self, Card, CardNo, CardStatus, CardView};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{cards as cards_t, talents, users};
use crate::talents::{Field, IdNumber, NewTalent, Phone, PiiVault, Talent, TalentName};
use crate::users::User;

/// At most this many live family cards hang from one card.
pub const MAX_DEPENDENTS: i64 = 4;

/// How a family member is related to the talent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    Spouse,
    Child,
    Parent,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Spouse => "spouse",
            Relation::Child => "child",
            Relation::Parent => "parent",
        }
    }
}

/// A validated family member to add.
#[derive(Debug)]
pub struct NewDependent {
    pub name: TalentName,
    pub id_number: IdNumber,
    pub relation: Relation,
    pub phone: Option<Phone>,
}

/// A family member as the talent and officials see them: personal data masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FamilyMember {
    pub talent_id: i64,
    pub name: String,
    /// `spouse`, `child` or `parent`.
    pub relation: String,
    pub id_number_masked: String,
    pub phone_masked: Option<String>,
    /// Whether they have a login of their own (they had a phone).
    pub has_login: bool,
    pub card: CardView,
}

fn dependents_limit() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::CONFLICT,
        "dependents_limit",
        format!("This card already has {MAX_DEPENDENTS} family cards, the most it may have."),
    )
}

/// Issues a family card from the active principal card `principal_no`, in the caller's
/// write transaction. Returns the member, their card and their login (when they have a
/// phone; its activation code is the caller's to issue).
pub fn add(
    conn: &mut DbConnection,
    actor: &Actor,
    vault: &PiiVault,
    principal_no: &CardNo,
    new: &NewDependent,
    now: NaiveDateTime,
) -> ApiResult<(Talent, Card, Option<User>)> {
    let principal = cards::find_by_no(conn, principal_no)?;
    if principal.is_dependent() {
        return Err(ApiError::invalid_transition(format!(
            "Card {} is itself a family card: family cards are added to the talent's own card.",
            principal.card_no
        )));
    }
    if principal.status_at(now) != CardStatus::Active {
        return Err(ApiError::invalid_transition(format!(
            "Card {} is {}: family cards are added to an active card.",
            principal.card_no,
            principal.status_at(now).as_str()
        )));
    }
    // Holds the principal card's row until commit, so two additions at once cannot both
    // count three and make five.
    diesel::update(cards_t::table.find(principal.id))
        .set(cards_t::updated_at.eq(cards_t::updated_at))
        .execute(conn)?;
    let live: i64 = cards_t::table
        .filter(cards_t::principal_card_id.eq(principal.id))
        .filter(cards_t::status.eq_any(["active", "suspended"]))
        .count()
        .get_result(conn)?;
    if live >= MAX_DEPENDENTS {
        return Err(dependents_limit());
    }
    let id_index = vault.blind_index(Field::IdNumber, new.id_number.as_str());
    if crate::talents::find_by_index(conn, Field::IdNumber, &id_index)?.is_some() {
        return Err(ApiError::conflict(format!(
            "The person with ID number {} already holds a card, as a talent or a family member: one person, one card.",
            new.id_number.masked()
        ))
        .with_field("id_number"));
    }
    let phone_index = new
        .phone
        .as_ref()
        .map(|p| vault.blind_index(Field::Phone, p.as_str()));
    if let Some(index) = &phone_index
        && crate::talents::find_by_index(conn, Field::Phone, index)?.is_some()
    {
        return Err(ApiError::conflict(format!(
            "The phone {} is already a card holder's login.",
            new.phone.as_ref().map(Phone::masked).unwrap_or_default()
        ))
        .with_field("phone"));
    }
    let holder = crate::talents::find(conn, principal.talent_id)?;
    let member = diesel::insert_into(talents::table)
        .values((
            talents::name.eq(new.name.as_str()),
            talents::id_number_enc.eq(vault.encrypt(Field::IdNumber, new.id_number.as_str())?),
            talents::id_number_index.eq(&id_index),
            talents::id_number_masked.eq(new.id_number.masked()),
            talents::phone_enc.eq(new
                .phone
                .as_ref()
                .map(|p| vault.encrypt(Field::Phone, p.as_str()))
                .transpose()?),
            talents::phone_index.eq(&phone_index),
            talents::phone_masked.eq(new.phone.as_ref().map(Phone::masked)),
            talents::employer.eq(""),
            talents::tier.eq(&principal.tier),
            talents::principal_id.eq(holder.id),
            talents::relation.eq(new.relation.as_str()),
            talents::created_at.eq(now),
            talents::updated_at.eq(now),
        ))
        .returning(talents::all_columns)
        .get_result::<Talent>(conn)
        .map_err(|e| match ApiError::from(e) {
            // Lost a race with a registration of the same person or phone.
            ApiError::Problem {
                code: "conflict", ..
            } => ApiError::conflict("This ID number or phone already holds a card."),
            other => other,
        })?;
    audit::record(
        conn,
        actor,
        "talent.create",
        "talent",
        member.id,
        None::<&()>,
        Some(&member.view(None, now)),
    )?;
    let card = cards::insert_card(
        conn,
        member.id,
        &principal.tier,
        principal.expires_at,
        Some(principal.id),
        now,
    )?;
    audit::record(
        conn,
        actor,
        "card.issue",
        "card",
        card.id,
        None::<&()>,
        Some(&card.view(now)),
    )?;
    let login = match &new.phone {
        Some(phone) => {
            // The login of a talent: username = phone, password set by activation code.
            let as_talent = NewTalent {
                name: new.name.clone(),
                id_number: new.id_number.clone(),
                phone: phone.clone(),
                employer: String::new(),
                tier: principal.tier.parse()?,
            };
            let user = crate::talents::insert_login(
                conn,
                &member,
                &as_talent,
                crate::users::UNUSABLE_PASSWORD_HASH,
                now,
            )?;
            crate::talents::login_created(actor, &user, &as_talent)?
                .insert()
                .execute(conn)?;
            Some(user)
        }
        None => None,
    };
    Ok((member, card, login))
}

/// The family cards issued from `principal_card_id` (live first), as members.
pub fn members_of_card(
    conn: &mut DbConnection,
    principal_card_id: i64,
    now: NaiveDateTime,
) -> ApiResult<Vec<FamilyMember>> {
    let rows: Vec<(Card, Talent)> = cards_t::table
        .inner_join(talents::table)
        .filter(cards_t::principal_card_id.eq(principal_card_id))
        .order(cards_t::id)
        .select((Card::as_select(), Talent::as_select()))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(_, t)| t.id).collect();
    let with_login: Vec<i64> = users::table
        .filter(users::talent_id.eq_any(&ids))
        .select(users::talent_id.assume_not_null())
        .load(conn)?;
    let mut members: Vec<FamilyMember> = rows
        .into_iter()
        .map(|(card, member)| FamilyMember {
            talent_id: member.id,
            name: member.name,
            relation: member.relation.unwrap_or_default(),
            id_number_masked: member.id_number_masked,
            phone_masked: member.phone_masked,
            has_login: with_login.contains(&member.id),
            card: card.view(now),
        })
        .collect();
    members.sort_by_key(|m| !matches!(m.card.status, CardStatus::Active | CardStatus::Suspended));
    Ok(members)
}

/// The principal talent of a family member, or None for a talent.
pub fn principal_of(conn: &mut DbConnection, talent_id: i64) -> ApiResult<Option<i64>> {
    Ok(talents::table
        .find(talent_id)
        .select(talents::principal_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

/// Whether the caller may see (and dispute) what `talent_id`'s card did: officials, the
/// holder, and — for a family card — the talent it belongs to, who answers for it.
pub fn ensure_can_view_holder(
    conn: &mut DbConnection,
    caller: &crate::auth::principal::Principal,
    talent_id: i64,
) -> ApiResult<()> {
    if caller.ensure_can_view_talent(talent_id).is_ok() {
        return Ok(());
    }
    match principal_of(conn, talent_id)? {
        Some(principal) => caller.ensure_can_view_talent(principal),
        None => caller.ensure_can_view_talent(talent_id),
    }
}

/// A talent's family as they see it: the members on their current card, or — for a
/// family member — the card holder they belong to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Family {
    /// For a family member: the talent whose card theirs hangs from, name masked.
    pub principal: Option<PrincipalBrief>,
    /// For a talent: the family cards issued from their card.
    pub members: Vec<FamilyMember>,
    pub max_members: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalBrief {
    pub name: String,
    pub relation: String,
}

pub fn family_of(conn: &mut DbConnection, talent_id: i64, now: NaiveDateTime) -> ApiResult<Family> {
    let me = crate::talents::find(conn, talent_id)?;
    if let Some(principal_id) = me.principal_id {
        let principal = crate::talents::find(conn, principal_id)?;
        return Ok(Family {
            principal: Some(PrincipalBrief {
                name: crate::talents::mask_name(&principal.name),
                relation: me.relation.unwrap_or_default(),
            }),
            members: Vec::new(),
            max_members: 0,
        });
    }
    let members = match cards::current_for_talent(conn, talent_id)? {
        Some(card) => members_of_card(conn, card.id, now)?,
        None => Vec::new(),
    };
    Ok(Family {
        principal: None,
        members,
        max_members: MAX_DEPENDENTS,
    })
}
