//! A merchant's cashier accounts: added and removed by its owner, listed for the owner
//! and officials.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::auth::password::Password;
use crate::auth::principal::MerchantOwner;
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult, Problem};
use crate::merchants::domain;
use crate::ratelimit::{self, Limit, Take};
use crate::state::AppState;
use crate::users::{self, UserView, Username};

/// Cashier accounts a merchant may create per day: a shop hires a few people at a time,
/// and every staff account adds forged-code guesses (see `codes::guard`).
pub const CASHIERS_PER_MERCHANT_PER_DAY: i32 = 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCashier {
    #[schema(schema_with = crate::users::username_schema)]
    pub username: crate::text::SingleLine,
    #[schema(schema_with = crate::auth::password::new_password_schema)]
    pub password: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 50, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub display_name: Option<crate::text::DisplayName>,
    /// The cashier's mobile number (optional): kept encrypted, shown masked, and compared
    /// with talents' phones to catch staff redeeming at their own counter.
    #[serde(default)]
    #[schema(schema_with = crate::talents::domain::phone_schema)]
    pub phone: Option<crate::text::SingleLine>,
}

/// Add a cashier account (the merchant's owner only).
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body = NewCashier,
    responses((status = 201, body = UserView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 429, description = "The merchant's cashier accounts for today are used up; see Retry-After", body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/cashiers")]
pub async fn add_cashier(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::Json<NewCashier>,
) -> ApiResult<HttpResponse> {
    let merchant_id = path.into_inner();
    auth.ensure_merchant_owner(merchant_id)?;
    let body = body.into_inner();
    let username = Username::parse(&body.username)?;
    let password = Password::parse(&body.password)?;
    let display_name = match body.display_name.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(name) => domain::required_text("display_name", name, 50)?,
    };
    let phone = match body.phone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(crate::talents::Phone::parse(raw).map_err(|_| {
            ApiError::invalid_field("phone", "phone must be an 11-digit mainland mobile number")
        })?),
    };
    let vault = crate::talents::PiiVault::new(&state.secrets);
    let actor = auth.actor();
    let user = state
        .db
        .run(move |conn| {
            let hash = users::hash_password(&password)?;
            let now = crate::time::now();
            write_tx(conn, |conn| {
                // In the creating transaction: a creation that fails gives its count back.
                let limit = Limit {
                    max: CASHIERS_PER_MERCHANT_PER_DAY,
                    window: chrono::Duration::days(1),
                };
                let bucket = format!("cashiers|{merchant_id}");
                if let Take::Refused { until } = ratelimit::take(conn, &bucket, limit, now)? {
                    return Err(ApiError::rate_limited(
                        "too_many_requests",
                        format!(
                            "A merchant may add at most {CASHIERS_PER_MERCHANT_PER_DAY} cashiers a day; try again in {} hours.",
                            ratelimit::wait_in(until, now, 3600)
                        ),
                        until,
                        now,
                    ));
                }
                let user = crate::merchants::add_cashier(conn, &actor, merchant_id, &username, &display_name, hash)?;
                match &phone {
                    Some(phone) => users::set_phone(conn, &vault, user.id, phone),
                    None => Ok(user),
                }
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(user.view()))
}

/// The merchant's cashier accounts (owner and officials).
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/merchants/{id}/cashiers")]
pub async fn list_cashiers(
    auth: crate::auth::Principal,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<web::Json<Vec<UserView>>> {
    let merchant_id = path.into_inner();
    if !auth.is_official() {
        auth.ensure_merchant_owner(merchant_id)?;
    }
    let cashiers = state
        .db
        .run(move |conn| {
            crate::merchants::get(conn, merchant_id)?;
            crate::merchants::list_cashiers(conn, merchant_id)
        })
        .await?;
    Ok(web::Json(cashiers))
}

/// Remove a cashier (the merchant's owner only): the account is closed and its sessions
/// end at once. The account record stays for the history of what it scanned.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/merchants/{id}/cashiers/{user_id}")]
pub async fn remove_cashier(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (merchant_id, user_id) = path.into_inner();
    auth.ensure_merchant_owner(merchant_id)?;
    let actor = auth.actor();
    state
        .db
        .write(move |conn| crate::merchants::remove_cashier(conn, &actor, merchant_id, user_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
