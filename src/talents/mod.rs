//! Talents (人才): the people who hold cards, with their login.
//!
//! Personal data rules, exact: the ID number and phone are stored only as AEAD
//! ciphertext ([`pii`]), a blind index for exact lookups and a masked display form.
//! Every response and audit entry carries the masked forms; the one way to see an
//! unmasked ID number is the admin-only PII endpoint, and each use of it is audited.

pub mod domain;
pub mod pii;
pub mod routes;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

pub use domain::{IdNumber, Phone, TalentName, Tier, mask_name};
pub use pii::{Field, PiiVault};

use crate::audit;
use crate::auth::{Actor, Role};
use crate::cards::{self, Card, CardStatus};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{cards as cards_t, talents};
use crate::users::{self, User, Username};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = talents)]
pub struct Talent {
    pub id: i64,
    pub name: String,
    pub id_number_enc: String,
    pub id_number_index: String,
    pub id_number_masked: String,
    /// A talent always has a phone (their login); a family member may have none.
    pub phone_enc: Option<String>,
    pub phone_index: Option<String>,
    pub phone_masked: Option<String>,
    pub employer: String,
    pub tier: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set on a family member (附属卡持卡人): the talent whose card theirs hangs from.
    pub principal_id: Option<i64>,
    pub relation: Option<String>,
}

/// The talent's current card in a talent listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardBrief {
    pub card_no: String,
    pub status: CardStatus,
}

/// A talent as clients and the audit log see it: personal data masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TalentView {
    pub id: i64,
    pub name: String,
    /// e.g. `5109**********1234`.
    pub id_number_masked: String,
    /// e.g. `138****5678`; none for a family member without a phone.
    pub phone_masked: Option<String>,
    pub employer: String,
    pub tier: String,
    pub card: Option<CardBrief>,
    /// A family member's principal talent.
    pub principal_id: Option<i64>,
    /// A family member's relation to the principal: `spouse`, `child` or `parent`.
    pub relation: Option<String>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

impl Talent {
    pub fn view(&self, card: Option<&Card>, now: NaiveDateTime) -> TalentView {
        TalentView {
            id: self.id,
            name: self.name.clone(),
            id_number_masked: self.id_number_masked.clone(),
            phone_masked: self.phone_masked.clone(),
            employer: self.employer.clone(),
            tier: self.tier.clone(),
            card: card.map(|c| CardBrief {
                card_no: c.card_no.clone(),
                status: c.status_at(now),
            }),
            created_at: self.created_at,
            principal_id: self.principal_id,
            relation: self.relation.clone(),
        }
    }
}

/// A validated registration.
#[derive(Debug)]
pub struct NewTalent {
    pub name: TalentName,
    pub id_number: IdNumber,
    pub phone: Phone,
    pub employer: String,
    pub tier: Tier,
}

pub fn parse_employer(raw: &str) -> ApiResult<String> {
    let employer = raw.trim();
    if employer.chars().count() > 100 || employer.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "employer",
            "employer must have at most 100 characters and no control characters",
        ));
    }
    Ok(employer.to_owned())
}

pub fn find(conn: &mut DbConnection, id: i64) -> ApiResult<Talent> {
    talents::table
        .find(id)
        .select(Talent::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("No talent {id}.")))
}

/// Finds a talent by an exact ID number or phone through the blind index.
pub fn find_by_index(
    conn: &mut DbConnection,
    field: Field,
    index: &str,
) -> ApiResult<Option<Talent>> {
    let query = talents::table.select(Talent::as_select());
    Ok(match field {
        Field::IdNumber => query
            .filter(talents::id_number_index.eq(index))
            .first(conn)
            .optional()?,
        Field::Phone => query
            .filter(talents::phone_index.eq(index))
            .first(conn)
            .optional()?,
    })
}

/// An exact ID number or phone to find a talent by: the column, its blind index and
/// the masked form the audit log records (never the number itself).
#[derive(Debug, Clone)]
pub struct ExactNumber {
    field: Field,
    index: String,
    masked: String,
}

impl ExactNumber {
    pub fn id_number(vault: &PiiVault, id: &IdNumber) -> Self {
        ExactNumber {
            field: Field::IdNumber,
            index: vault.blind_index(Field::IdNumber, id.as_str()),
            masked: id.masked(),
        }
    }

    pub fn phone(vault: &PiiVault, phone: &Phone) -> Self {
        ExactNumber {
            field: Field::Phone,
            index: vault.blind_index(Field::Phone, phone.as_str()),
            masked: phone.masked(),
        }
    }

    /// `id_number` or `phone`: which number was looked up.
    pub fn by(&self) -> &'static str {
        match self.field {
            Field::IdNumber => "id_number",
            Field::Phone => "phone",
        }
    }
}

/// Finds the talent holding an exact ID number or phone through the blind index, and
/// audits the look-up (`talent.lookup`: who looked, by which number, masked, and whom
/// it found): knowing a person's number and learning who they are is a view of personal
/// data. `via` says which endpoint asked. Call inside a write transaction.
pub fn lookup(
    conn: &mut DbConnection,
    actor: &Actor,
    number: &ExactNumber,
    via: &str,
) -> ApiResult<Option<Talent>> {
    let found = find_by_index(conn, number.field, &number.index)?;
    let masked_key = match number.field {
        Field::IdNumber => "id_number_masked",
        Field::Phone => "phone_masked",
    };
    audit::record(
        conn,
        actor,
        "talent.lookup",
        "talent",
        found
            .as_ref()
            .map_or_else(|| "none".to_owned(), |t| t.id.to_string()),
        None::<&()>,
        Some(&serde_json::json!({
            "by": number.by(),
            masked_key: number.masked,
            "via": via,
            "found": found.is_some(),
        })),
    )?;
    Ok(found)
}

/// Creates the talent and its login (username = phone) in the caller's transaction.
/// `password_hash` is computed before the transaction: argon2 is slow.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    vault: &PiiVault,
    new: &NewTalent,
    password_hash: String,
    now: NaiveDateTime,
) -> ApiResult<(Talent, User)> {
    let id_index = vault.blind_index(Field::IdNumber, new.id_number.as_str());
    let phone_index = vault.blind_index(Field::Phone, new.phone.as_str());
    if find_by_index(conn, Field::IdNumber, &id_index)?.is_some() {
        return Err(ApiError::conflict(format!(
            "A talent with ID number {} is already registered.",
            new.id_number.masked()
        )));
    }
    if find_by_index(conn, Field::Phone, &phone_index)?.is_some() {
        return Err(ApiError::conflict(format!(
            "A talent with phone {} is already registered.",
            new.phone.masked()
        )));
    }
    let talent = insert(conn, vault, new, &id_index, &phone_index, now)?;
    audit::record(
        conn,
        actor,
        "talent.create",
        "talent",
        talent.id,
        None::<&()>,
        Some(&talent.view(None, now)),
    )?;
    let user = create_login(conn, actor, &talent, new, password_hash, now)?;
    Ok((talent, user))
}

/// Inserts the talent, unaudited (the caller records `talent.create`). `id_index` and
/// `phone_index` are the blind indexes of its numbers.
pub fn insert(
    conn: &mut DbConnection,
    vault: &PiiVault,
    new: &NewTalent,
    id_index: &str,
    phone_index: &str,
    now: NaiveDateTime,
) -> ApiResult<Talent> {
    diesel::insert_into(talents::table)
        .values((
            talents::name.eq(new.name.as_str()),
            talents::id_number_enc.eq(vault.encrypt(Field::IdNumber, new.id_number.as_str())?),
            talents::id_number_index.eq(id_index),
            talents::id_number_masked.eq(new.id_number.masked()),
            talents::phone_enc.eq(vault.encrypt(Field::Phone, new.phone.as_str())?),
            talents::phone_index.eq(phone_index),
            talents::phone_masked.eq(new.phone.masked()),
            talents::employer.eq(&new.employer),
            talents::tier.eq(new.tier.as_str()),
            talents::created_at.eq(now),
            talents::updated_at.eq(now),
        ))
        .returning(talents::all_columns)
        .get_result::<Talent>(conn)
        .map_err(|e| match ApiError::from(e) {
            // Lost a race with a concurrent registration of the same person.
            ApiError::Problem {
                code: "conflict", ..
            } => ApiError::conflict("This ID number or phone is already registered."),
            other => other,
        })
}

/// The talent's login, username = phone. Inserted here rather than through
/// `users::create` because that audits the username verbatim, and a talent's username
/// is a phone number: the audit entry must carry it masked.
fn create_login(
    conn: &mut DbConnection,
    actor: &Actor,
    talent: &Talent,
    new: &NewTalent,
    password_hash: String,
    now: NaiveDateTime,
) -> ApiResult<User> {
    let user = insert_login(conn, talent, new, &password_hash, now)?;
    login_created(actor, &user, new)?.insert().execute(conn)?;
    Ok(user)
}

/// The audit entry of a talent's new login, its username (the phone) masked.
pub fn login_created(actor: &Actor, user: &User, new: &NewTalent) -> ApiResult<audit::Entry> {
    let mut view = user.view();
    view.username = new.phone.masked();
    audit::Entry::new(
        actor,
        "user.create",
        "user",
        user.id,
        None::<&()>,
        Some(&view),
    )
}

/// Inserts the talent's login, unaudited (see [`login_created`]).
pub fn insert_login(
    conn: &mut DbConnection,
    talent: &Talent,
    new: &NewTalent,
    password_hash: &str,
    now: NaiveDateTime,
) -> ApiResult<User> {
    use crate::schema::users;
    let username = Username::for_talent(&new.phone);
    diesel::insert_into(users::table)
        .values((
            users::username.eq(username.as_str()),
            users::password_hash.eq(password_hash),
            users::role.eq(Role::Talent.as_str()),
            users::display_name.eq(new.name.as_str()),
            users::talent_id.eq(Some(talent.id)),
            users::active.eq(true),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(users::all_columns)
        .get_result::<User>(conn)
        .map_err(|e| match ApiError::from(e) {
            ApiError::Problem {
                code: "conflict", ..
            } => ApiError::conflict(format!(
                "The login name {} is already taken by another account.",
                new.phone.masked()
            )),
            other => other,
        })
}

/// Changes a talent's tier (done with a reissue, so the card shows the new tier).
pub fn set_tier(
    conn: &mut DbConnection,
    actor: &Actor,
    talent_id: i64,
    tier: Tier,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let before = find(conn, talent_id)?;
    if before.tier == tier.as_str() {
        return Ok(());
    }
    let after = diesel::update(talents::table.find(talent_id))
        .set((talents::tier.eq(tier.as_str()), talents::updated_at.eq(now)))
        .returning(talents::all_columns)
        .get_result::<Talent>(conn)?;
    audit::record(
        conn,
        actor,
        "talent.tier_change",
        "talent",
        talent_id,
        Some(&before.view(None, now)),
        Some(&after.view(None, now)),
    )
}

/// The current card of each listed talent, in one query.
pub fn current_cards(conn: &mut DbConnection, talent_ids: &[i64]) -> ApiResult<HashMap<i64, Card>> {
    let rows: Vec<Card> = cards_t::table
        .filter(cards_t::talent_id.eq_any(talent_ids))
        .select(Card::as_select())
        .load(conn)?;
    let mut current: HashMap<i64, Card> = HashMap::new();
    for card in rows {
        let key = |c: &Card| (matches!(c.status.as_str(), "active" | "suspended"), c.id);
        match current.get(&card.talent_id) {
            Some(best) if key(best) >= key(&card) => {}
            _ => {
                current.insert(card.talent_id, card);
            }
        }
    }
    Ok(current)
}

/// Filters of the talent list.
#[derive(Debug, Default, Clone)]
pub struct TalentFilter {
    pub tier: Option<Tier>,
    /// Substring of the employer.
    pub employer: Option<String>,
    /// Substring of the name.
    pub name: Option<String>,
    /// Talents whose current card has this status; `None` inside = no card at all.
    pub card_status: Option<Option<CardStatus>>,
}

fn like_pattern(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A page of talents matching the filter, oldest first, with the total count. Family
/// members are not talents in this list: they show on their talent's page.
pub fn list(
    conn: &mut DbConnection,
    filter: &TalentFilter,
    page: crate::pagination::Page,
    now: NaiveDateTime,
) -> ApiResult<(Vec<Talent>, i64)> {
    let build = || {
        let mut q = talents::table
            .filter(talents::principal_id.is_null())
            .into_boxed();
        if let Some(tier) = filter.tier {
            q = q.filter(talents::tier.eq(tier.as_str()));
        }
        if let Some(employer) = &filter.employer {
            q = q.filter(talents::employer.like(like_pattern(employer)).escape('\\'));
        }
        if let Some(name) = &filter.name {
            q = q.filter(talents::name.like(like_pattern(name)).escape('\\'));
        }
        match filter.card_status {
            None => {}
            Some(None) => {
                q = q.filter(talents::id.ne_all(cards_t::table.select(cards_t::talent_id)));
            }
            // A card superseded by a reissue is history, not the talent's status. Raw SQL
            // because diesel's typed subqueries cannot take the boxed status condition.
            Some(Some(status)) => {
                const PICK: &str = "talents.id IN (SELECT c.talent_id FROM cards c WHERE c.replaced_by IS NULL AND ";
                let (head, tail) = match status {
                    CardStatus::Active => ("c.status = 'active' AND c.expires_at > ", ")"),
                    CardStatus::Suspended => ("c.status = 'suspended' AND c.expires_at > ", ")"),
                    CardStatus::Expired => (
                        "(c.status = 'expired' OR (c.status IN ('active', 'suspended') AND c.expires_at <= ",
                        ")))",
                    ),
                    // Revocation does not depend on time; the condition on issued_at
                    // always holds and only keeps the statement's shape uniform.
                    CardStatus::Revoked => ("c.status = 'revoked' AND c.issued_at <= ", ")"),
                };
                q = q.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("{PICK}{head}"))
                        .bind::<diesel::sql_types::Timestamp, _>(now)
                        .sql(tail),
                );
            }
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let items = build()
        .order(talents::id)
        .limit(page.per_page)
        .offset(page.offset())
        .select(Talent::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// Demo talents with cards (tiers A and C, one suspended), returning their logins.
pub fn seed_demo(
    conn: &mut DbConnection,
    vault: &PiiVault,
    card_validity_years: u32,
) -> ApiResult<Vec<crate::demo::DemoLogin>> {
    use crate::auth::password::Password;
    let actor = Actor::system("demo");
    let now = crate::time::now();
    let today = crate::time::to_local(now).date_naive();
    let mut logins = Vec::new();
    for (name, body, phone, employer, tier, suspend) in [
        (
            "李明",
            "51090219850612003",
            "13800000001",
            "遂州大学",
            Tier::A,
            false,
        ),
        (
            "王芳",
            "51090319920304002",
            "13800000002",
            "遂州锂电科技有限公司",
            Tier::C,
            false,
        ),
        (
            "陈静",
            "51092119950823004",
            "13800000003",
            "遂州市中心医院",
            Tier::C,
            true,
        ),
    ] {
        let mut id = body.as_bytes().to_vec();
        id.push(domain::id_check_char(&id));
        let id = String::from_utf8(id).map_err(ApiError::internal)?;
        let password = hex::encode(crate::secrets::random_bytes::<6>());
        let hash = users::hash_password(&Password::parse(&password)?)?;
        let new = NewTalent {
            name: TalentName::parse(name)?,
            id_number: IdNumber::parse(&id, today)?,
            phone: Phone::parse(phone)?,
            employer: employer.into(),
            tier,
        };
        crate::db::write_tx(conn, |conn| {
            let (talent, _) = create(conn, &actor, vault, &new, hash, now)?;
            let expires = cards::expiry_for(None, card_validity_years, now)?;
            let card = cards::issue(conn, &actor, talent.id, expires, now)?;
            if suspend {
                cards::transition(
                    conn,
                    &actor,
                    &cards::CardNo::parse(&card.card_no)?,
                    cards::Transition::Suspend,
                    Some("演示：挂失处理中 (demo: reported lost)".into()),
                    now,
                )?;
            }
            Ok::<_, ApiError>(())
        })?;
        logins.push(crate::demo::DemoLogin {
            role: Role::Talent,
            username: phone.into(),
            password,
            note: format!(
                "talent {name}, tier {tier}{}",
                if suspend {
                    ", card suspended"
                } else {
                    ": shows rolling codes"
                }
            ),
        });
    }
    Ok(logins)
}
