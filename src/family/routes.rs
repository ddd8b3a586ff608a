//! Family card endpoints: adding a family member (admin), a card's family (officials),
//! and the talent's own family.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Family, FamilyMember, NewDependent, Relation};
use crate::auth::Auth;
use crate::auth::principal::{Admin, Official, TalentRole};
use crate::cards::{CardNo, CardView};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::talents::{IdNumber, Phone, PiiVault, TalentName, TalentView};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(add_dependent)
        .service(card_family)
        .service(my_family);
}

/// A family member to add to a card.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDependent {
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub name: crate::text::DisplayName,
    #[schema(schema_with = crate::talents::domain::id_number_schema)]
    pub id_number: crate::text::SingleLine,
    pub relation: Relation,
    /// Their own mobile, if they have one: it becomes their login, activated by the code
    /// in the answer. Left out for a family member without a phone (a child, an elderly
    /// parent), who uses the printed card with a PIN.
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(schema_with = crate::talents::domain::phone_schema)]
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddedDependent {
    pub member: TalentView,
    pub card: CardView,
    /// The login name (their phone), when they have a login.
    pub username: Option<String>,
    /// The activation code for their login: shown once, for the letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<crate::activation::IssuedCode>,
}

/// Issue a family card (附属卡) from an active talent card: the spouse, a child or a
/// parent, at most 4 per card. It has its own number and codes, takes the card's tier and
/// validity, and follows it (suspend, resume, revoke, reissue, renew).
#[utoipa::path(
    tag = "cards",
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "the principal card; 12 digits, spaces and dashes ignored")),
    request_body = AddDependent,
    responses(
        (status = 201, body = AddedDependent),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem, description = "the card is not active or is a family card (`invalid_transition`), has 4 family cards (`dependents_limit`), or the person already holds a card (`conflict`)"),
        (status = 422, body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[post("/cards/{card_no}/dependents")]
pub async fn add_dependent(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: crate::http::Json<AddDependent>,
) -> ApiResult<HttpResponse> {
    let card_no = CardNo::parse(&path.into_inner())?;
    let body = body.into_inner();
    let now = crate::time::now();
    let today = crate::time::to_local(now).date_naive();
    let new = NewDependent {
        name: TalentName::parse(&body.name).map_err(|e| e.with_field("name"))?,
        id_number: IdNumber::parse(&body.id_number, today)
            .map_err(|e| e.with_field("id_number"))?,
        relation: body.relation,
        phone: body
            .phone
            .as_deref()
            .map(Phone::parse)
            .transpose()
            .map_err(|e| e.with_field("phone"))?,
    };
    let actor = auth.actor();
    let vault = PiiVault::new(&state.secrets);
    let key = state.secrets.activation_key();
    let (member, card, login, activation) = state
        .db
        .write(move |conn| {
            write_tx(conn, |conn| {
                let (member, card, login) = super::add(conn, &actor, &vault, &card_no, &new, now)?;
                let activation = login
                    .as_ref()
                    .map(|user| crate::activation::issue(conn, &key, user.id, actor.user_id, now))
                    .transpose()?;
                Ok((member, card, login, activation))
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(AddedDependent {
        member: member.view(Some(&card), now),
        card: card.view(now),
        username: login.map(|u| u.username),
        activation,
    }))
}

/// The family cards issued from a card (officials): live ones first, then ended ones.
#[utoipa::path(
    tag = "cards",
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),
    responses((status = 200, body = Vec<FamilyMember>), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/cards/{card_no}/dependents")]
pub async fn card_family(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<Vec<FamilyMember>>> {
    let card_no = CardNo::parse(&path.into_inner())?;
    let now = crate::time::now();
    let members = state
        .db
        .run(move |conn| {
            let card = crate::cards::find_by_no(conn, &card_no)?;
            super::members_of_card(conn, card.id, now)
        })
        .await?;
    Ok(web::Json(members))
}

/// My family: the family cards issued from my card, or, on a family card, whose card
/// mine hangs from.
#[utoipa::path(
    tag = "cards",
    responses((status = 200, body = Family), (status = 403, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = []))
)]
#[get("/me/family")]
pub async fn my_family(
    auth: Auth<TalentRole>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Family>> {
    let talent_id = auth
        .talent_id
        .ok_or_else(|| ApiError::forbidden("This account has no talent record."))?;
    let now = crate::time::now();
    let family = state
        .db
        .run(move |conn| super::family_of(conn, talent_id, now))
        .await?;
    Ok(web::Json(family))
}
