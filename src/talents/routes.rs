//! Talent endpoints: registration (admin), list/search (officials), the audited
//! unmasked view (admin only).

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    ExactNumber, Field, IdNumber, NewTalent, Phone, PiiVault, TalentFilter, TalentName, TalentView,
    Tier,
};
use crate::audit;
use crate::auth::Auth;
use crate::auth::password::Password;
use crate::auth::principal::{Admin, AnyRole, Official};
use crate::cards::CardStatus;
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_talent)
        .service(list_talents)
        .service(lookup_talent)
        .service(get_talent)
        .service(talent_pii);
}

/// Registration of a talent. Personal data is never echoed back unmasked.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTalent {
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub name: crate::text::DisplayName,
    #[schema(schema_with = super::domain::id_number_schema)]
    pub id_number: crate::text::SingleLine,
    /// Mainland mobile; it becomes the talent's login name.
    #[schema(schema_with = super::domain::phone_schema)]
    pub phone: crate::text::SingleLine,
    #[serde(default)]
    #[schema(value_type = String, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    pub employer: crate::text::SingleLine,
    pub tier: Tier,
    /// Initial password of the talent's login. Better left out: the answer then carries
    /// an activation code for the talent to set their own (DESIGN §10).
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(schema_with = crate::auth::password::new_password_schema)]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginInfo {
    pub user_id: i64,
    /// The phone number: the talent logs in with it.
    pub username: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTalent {
    #[serde(flatten)]
    pub talent: TalentView,
    pub login: LoginInfo,
    /// The activation code, when no password was given: shown once, for the letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<crate::activation::IssuedCode>,
}

/// Register a talent and create its login (username = phone). One talent per ID number.
#[utoipa::path(
    tag = "talents",
    request_body = CreateTalent,
    responses((status = 201, body = CreatedTalent), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/talents")]
pub async fn create_talent(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    body: crate::http::Json<CreateTalent>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let now = crate::time::now();
    let today = crate::time::to_local(now).date_naive();
    let new = NewTalent {
        name: TalentName::parse(&body.name)?,
        id_number: IdNumber::parse(&body.id_number, today)?,
        phone: Phone::parse(&body.phone)?,
        employer: super::parse_employer(&body.employer)?,
        tier: body.tier,
    };
    let password = body.password.as_deref().map(Password::parse).transpose()?;
    let actor = auth.actor();
    let vault = PiiVault::new(&state.secrets);
    let key = state.secrets.activation_key();
    let (talent, user, activation) = state
        .db
        .run(move |conn| {
            // Hash before taking the write lock: argon2 takes tens of milliseconds.
            let hash = match &password {
                Some(password) => crate::users::hash_password(password)?,
                None => crate::users::UNUSABLE_PASSWORD_HASH.to_owned(),
            };
            write_tx(conn, |conn| {
                let (talent, user) = super::create(conn, &actor, &vault, &new, hash, now)?;
                let activation = match password {
                    Some(_) => None,
                    None => Some(crate::activation::issue(
                        conn,
                        &key,
                        user.id,
                        actor.user_id,
                        now,
                    )?),
                };
                Ok((talent, user, activation))
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedTalent {
        talent: talent.view(None, now),
        login: LoginInfo {
            user_id: user.id,
            username: user.username,
        },
        activation,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TalentQuery {
    pub tier: Option<Tier>,
    /// Part of the employer's name.
    #[param(inline)]
    pub employer: Option<crate::text::SingleLine>,
    /// Part of the talent's name.
    #[param(inline)]
    pub name: Option<crate::text::SingleLine>,
    /// Status of the talent's current card, or `none` for talents without a card.
    #[param(pattern = "^(active|suspended|revoked|expired|none)$")]
    pub card_status: Option<String>,
}

/// List and search talents (officials and auditors); personal data masked.
#[utoipa::path(
    tag = "talents",
    params(PageQuery, TalentQuery),
    responses((status = 200, body = Paginated<TalentView>)),
    security(("bearer" = []))
)]
#[get("/talents")]
pub async fn list_talents(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    query: crate::http::Query<TalentQuery>,
) -> ApiResult<web::Json<Paginated<TalentView>>> {
    let page = Page::try_from(page.into_inner())?;
    let q = query.into_inner();
    let card_status = match q.card_status.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(s) => Some(Some(
            serde_json::from_value::<CardStatus>(serde_json::Value::String(s.into())).map_err(
                |_| {
                    ApiError::invalid_field(
                        "card_status",
                        "card_status must be active, suspended, revoked, expired or none",
                    )
                },
            )?,
        )),
    };
    let filter = TalentFilter {
        tier: q.tier,
        employer: q
            .employer
            .map(String::from)
            .filter(|s| !s.trim().is_empty()),
        name: q.name.map(String::from).filter(|s| !s.trim().is_empty()),
        card_status,
    };
    let now = crate::time::now();
    let result = state
        .db
        .run(move |conn| {
            let (items, total) = super::list(conn, &filter, page, now)?;
            let ids: Vec<i64> = items.iter().map(|t| t.id).collect();
            let cards = super::current_cards(conn, &ids)?;
            let views = items
                .iter()
                .map(|t| t.view(cards.get(&t.id), now))
                .collect();
            Ok(Paginated::new(views, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

/// Exact lookup by ID number or phone (in the body, so it stays out of URLs and logs).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupTalent {
    #[schema(schema_with = id_number_or_null)]
    pub id_number: Option<crate::text::SingleLine>,
    #[schema(schema_with = phone_or_null)]
    pub phone: Option<crate::text::SingleLine>,
}

fn id_number_or_null() -> utoipa::openapi::schema::Object {
    crate::text::or_null(super::domain::id_number_schema())
}

fn phone_or_null() -> utoipa::openapi::schema::Object {
    crate::text::or_null(super::domain::phone_schema())
}

/// Exactly one of the two numbers is given: the other is left out or `null`.
pub fn lookup_talent_rules() -> serde_json::Value {
    let one = |given: &str, other: &str| {
        serde_json::json!({
            "required": [given],
            "properties": {given: {"type": "string"}, other: {"type": "null"}}
        })
    };
    serde_json::json!({"oneOf": [one("id_number", "phone"), one("phone", "id_number")]})
}

/// Find a talent by exact ID number or phone through the blind index (officials). Each
/// look-up is audited (`talent.lookup`, the number masked), found or not.
#[utoipa::path(
    tag = "talents",
    request_body = LookupTalent,
    responses((status = 200, body = TalentView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/talents/lookup")]
pub async fn lookup_talent(
    auth: Auth<Official>,
    state: web::Data<AppState>,
    body: crate::http::Json<LookupTalent>,
) -> ApiResult<web::Json<TalentView>> {
    let body = body.into_inner();
    let vault = PiiVault::new(&state.secrets);
    let number = match (body.id_number, body.phone) {
        (Some(id), None) => {
            let today = crate::time::to_local(crate::time::now()).date_naive();
            ExactNumber::id_number(&vault, &IdNumber::parse(&id, today)?)
        }
        (None, Some(phone)) => ExactNumber::phone(&vault, &Phone::parse(&phone)?),
        _ => {
            return Err(ApiError::validation(
                "give exactly one of id_number or phone",
            ));
        }
    };
    let now = crate::time::now();
    let actor = auth.actor();
    let view = state
        .db
        .write(move |conn| {
            let talent = super::lookup(conn, &actor, &number, "lookup")?
                .ok_or_else(|| ApiError::not_found("No talent with that number."))?;
            let card = crate::cards::current_for_talent(conn, talent.id)?;
            Ok(talent.view(card.as_ref(), now))
        })
        .await?;
    Ok(web::Json(view))
}

/// One talent, masked: officials, or the talent themself.
#[utoipa::path(
    tag = "talents",
    responses((status = 200, body = TalentView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/talents/{id}")]
pub async fn get_talent(
    auth: Auth<AnyRole>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<web::Json<TalentView>> {
    let id = path.into_inner();
    auth.ensure_can_view_talent(id)?;
    let now = crate::time::now();
    let view = state
        .db
        .run(move |conn| {
            let talent = super::find(conn, id)?;
            let card = crate::cards::current_for_talent(conn, id)?;
            Ok(talent.view(card.as_ref(), now))
        })
        .await?;
    Ok(web::Json(view))
}

/// Unmasked personal data.
#[derive(Debug, Serialize, ToSchema)]
pub struct TalentPii {
    pub id: i64,
    pub name: String,
    pub id_number: String,
    /// None for a family member without a phone.
    pub phone: Option<String>,
}

/// Unmasked ID number and phone (administrators only); every view is audited.
#[utoipa::path(
    tag = "talents",
    responses((status = 200, body = TalentPii), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/talents/{id}/pii")]
pub async fn talent_pii(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let actor = auth.actor();
    let vault = PiiVault::new(&state.secrets);
    let pii = state
        .db
        .write(move |conn| {
            let talent = super::find(conn, id)?;
            let pii = TalentPii {
                id: talent.id,
                name: talent.name.clone(),
                id_number: vault.decrypt(Field::IdNumber, &talent.id_number_enc)?,
                phone: talent
                    .phone_enc
                    .as_deref()
                    .map(|enc| vault.decrypt(Field::Phone, enc))
                    .transpose()?,
            };
            // The entry says what was seen, never the values themselves.
            audit::record(
                conn,
                &actor,
                "talent.pii_view",
                "talent",
                id,
                None::<&()>,
                Some(&serde_json::json!({"fields": ["id_number", "phone"]})),
            )?;
            Ok(pii)
        })
        .await?;
    // Unmasked personal data must not linger in shared caches.
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(pii))
}
