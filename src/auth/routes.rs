//! `POST /auth/login`, `/auth/refresh`, `/auth/logout`, `/auth/logout-all`, `GET /me`,
//! `POST /me/password`.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::principal::{AnyRole, SESSION_COOKIE};
use super::session::{self, REFRESH_COOKIE, REFRESH_COOKIE_PATH, Renewed};
use super::{Auth, Role, password, throttle, token};
use crate::auth::password::Password;
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::http::client::client_key;
use crate::state::AppState;
use crate::users::{self, UserView};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(login)
        .service(refresh_session)
        .service(logout)
        .service(logout_all)
        .service(me)
        .service(change_password);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: crate::text::SingleLine,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub role: Role,
}

fn session_cookie(state: &AppState, token: &str, ttl: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.cookie_secure)
        .path("/")
        .max_age(CookieDuration::seconds(ttl))
        .finish()
}

fn refresh_cookie(state: &AppState, token: &str, ttl: i64) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, token.to_owned())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.cookie_secure)
        .path(REFRESH_COOKIE_PATH)
        .max_age(CookieDuration::seconds(ttl))
        .finish()
}

/// Both session cookies, made to expire now (logout).
fn removed_cookies(state: &AppState) -> [Cookie<'static>; 2] {
    let mut access = session_cookie(state, "", 0);
    access.make_removal();
    let mut refresh = refresh_cookie(state, "", 0);
    refresh.make_removal();
    [access, refresh]
}

/// A new access token for a session just opened or renewed, in the body and as the
/// session cookie, with the rotated refresh cookie when there is one. The access token
/// never outlives its session.
pub(crate) fn session_response(state: &AppState, renewed: &Renewed) -> ApiResult<HttpResponse> {
    let now = crate::time::now();
    let session_left = (renewed.expires_at - now).num_seconds().max(1);
    let ttl = (state.config.token_ttl.as_secs() as i64).min(session_left);
    let access_token = token::issue(
        &state.secrets.jwt,
        renewed.user_id,
        renewed.role,
        renewed.token_version,
        renewed.session_id,
        ttl,
    )
    .map_err(ApiError::internal)?;
    let mut response = HttpResponse::Ok();
    response.cookie(session_cookie(state, &access_token, ttl));
    if let Some(refresh) = &renewed.refresh_token {
        response.cookie(refresh_cookie(state, refresh, session_left));
    }
    Ok(response.json(LoginResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ttl,
        role: renewed.role,
    }))
}

enum LoginOutcome {
    Ok(i64, Role, i32),
    /// The right password for a disabled account; for merchant staff, the merchant's
    /// status and the reason an official gave, which is why.
    Inactive(Option<(String, Option<String>)>),
    Wrong,
}

/// Why the right password does not open a disabled account. A merchant's owner (or
/// cashier) learns where the application stands, or why the merchant was rejected or
/// suspended, in the official's own words; they proved they hold the account.
fn inactive(merchant: Option<(String, Option<String>)>) -> ApiError {
    match merchant {
        Some((status, _)) if status == "pending" => ApiError::new(
            StatusCode::FORBIDDEN,
            "merchant_pending",
            "The merchant application is still being reviewed; the account opens once it is approved.",
        ),
        Some((status, reason)) if status == "rejected" => ApiError::new(
            StatusCode::FORBIDDEN,
            "merchant_rejected",
            "The merchant application was rejected.",
        )
        .with_reason(reason),
        Some((status, reason)) if status == "suspended" => ApiError::new(
            StatusCode::FORBIDDEN,
            "merchant_suspended",
            "The merchant is suspended from the programme.",
        )
        .with_reason(reason),
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "account_inactive",
            "This account is not active.",
        ),
    }
}

/// Log in with username and password. The token comes back in the body (for API
/// clients) and as an HttpOnly cookie (for the web pages).
///
/// Failures are limited per username and address, per address and per username (see
/// [`throttle`]); each attempt is counted before its password is checked.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "Wrong username or password", body = crate::error::Problem),
        (status = 429, description = "Too many failed logins for this username or from this address; see Retry-After", body = crate::error::Problem),
    )
)]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::http::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest { username, password } = body.into_inner();
    let username = username.trim().to_lowercase();
    if username.is_empty() || username.len() > 64 || password.len() > Password::MAX_LEN * 4 {
        return Err(ApiError::unauthorized("Wrong username or password."));
    }
    let address = client_key(&req, &state.config.trusted_proxies);
    let now = crate::time::now();
    let admitted = {
        let username = username.clone();
        state
            .db
            .run_writing(move |conn| throttle::admit(conn, &username, &address, now))
            .await?
    };
    let user = {
        let username = username.clone();
        state
            .db
            .run(move |conn| users::find_by_username(conn, &username))
            .await?
    };
    state.metrics.login_password_checks.inc();
    // Verified against a dummy hash when the user is unknown: same work, same answer.
    // Off the connection pool and in turn (see `password::check_turns`).
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let valid = password::verify_in_turn(&state.password_checks, password, stored).await?;
    let outcome = match user {
        Some(user) if valid && user.active => {
            LoginOutcome::Ok(user.id, user.role()?, user.token_version)
        }
        Some(user) if valid => LoginOutcome::Inactive(match user.merchant_id {
            Some(merchant_id) => {
                state
                    .db
                    .run(move |conn| {
                        use crate::schema::merchants;
                        Ok(merchants::table
                            .find(merchant_id)
                            .select((merchants::status, merchants::status_reason))
                            .first(conn)
                            .optional()?)
                    })
                    .await?
            }
            None => None,
        }),
        _ => LoginOutcome::Wrong,
    };
    match outcome {
        LoginOutcome::Ok(id, role, version) => {
            // The right password: this attempt was no failure, and a device session opens.
            let opened = state
                .db
                .run_writing(move |conn| {
                    throttle::succeeded(conn, &admitted, now)?;
                    write_tx(conn, |conn| session::open(conn, id, role, version, now))
                })
                .await?;
            session_response(&state, &opened)
        }
        LoginOutcome::Inactive(merchant) => {
            state
                .db
                .run_writing(move |conn| throttle::succeeded(conn, &admitted, now))
                .await?;
            Err(inactive(merchant))
        }
        LoginOutcome::Wrong => Err(ApiError::unauthorized("Wrong username or password.")),
    }
}

/// Renew the session: the refresh cookie (HttpOnly, sent only to `/api/v1/auth`) is
/// replaced and a new access token answered, as at login. Sessions last a shift for
/// counter staff, 30 days for talents, and for officials until 30 minutes without a
/// renewal (8 hours at most); a logout, a logout everywhere, a password change or a
/// disabled account ends them.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "No session to renew: log in", body = crate::error::Problem),
    ),
    security(("refresh_cookie" = []))
)]
#[post("/auth/refresh")]
pub async fn refresh_session(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let token = req
        .cookie(REFRESH_COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or_else(|| ApiError::unauthorized("There is no session to renew; log in."))?;
    let now = crate::time::now();
    let renewed = state
        .db
        .write(move |conn| session::renew(conn, &token, now))
        .await;
    match renewed? {
        Some(renewed) => session_response(&state, &renewed),
        // The cookies of an ended session are of no use: drop them with the refusal.
        None => {
            let refusal = ApiError::unauthorized("This session has ended; log in again.");
            let mut response = actix_web::ResponseError::error_response(&refusal);
            for cookie in removed_cookies(&state) {
                response.add_cookie(&cookie).map_err(ApiError::internal)?;
            }
            Ok(response)
        }
    }
}

/// Log out this device: ends its session and clears its cookies. The account's other
/// sessions (another till, the talent's other phone) stay signed in.
#[utoipa::path(tag = "auth", responses((status = 204)), security(("bearer" = [])))]
#[post("/auth/logout")]
pub async fn logout(auth: Auth<AnyRole>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let session_id = auth.session_id;
    let now = crate::time::now();
    state
        .db
        .write(move |conn| session::end(conn, session_id, "logout", now))
        .await?;
    let mut response = HttpResponse::NoContent();
    for cookie in removed_cookies(&state) {
        response.cookie(cookie);
    }
    Ok(response.finish())
}

/// Log out everywhere: ends every session and every access token of the account.
#[utoipa::path(tag = "auth", responses((status = 204)), security(("bearer" = [])))]
#[post("/auth/logout-all")]
pub async fn logout_all(
    auth: Auth<AnyRole>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let user_id = auth.user_id;
    let now = crate::time::now();
    state
        .db
        .write(move |conn| {
            users::bump_token_version(conn, user_id)?;
            session::end_all(conn, user_id, "logout everywhere", now)
        })
        .await?;
    let mut response = HttpResponse::NoContent();
    for cookie in removed_cookies(&state) {
        response.cookie(cookie);
    }
    Ok(response.finish())
}

/// The logged-in account.
#[utoipa::path(tag = "auth", responses((status = 200, body = UserView)), security(("bearer" = [])))]
#[get("/me")]
pub async fn me(auth: Auth<AnyRole>, state: web::Data<AppState>) -> ApiResult<web::Json<UserView>> {
    let user_id = auth.user_id;
    let user = state
        .db
        .run(move |conn| {
            users::find_by_id(conn, user_id)?.ok_or_else(|| ApiError::not_found("No such user."))
        })
        .await?;
    Ok(web::Json(user.view()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(format = Password)]
    pub current_password: String,
    #[schema(schema_with = crate::auth::password::new_password_schema)]
    pub new_password: String,
}

/// Change the password: every session of the account ends, and this device gets a new
/// one.
#[utoipa::path(
    tag = "auth",
    request_body = ChangePassword,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/me/password")]
pub async fn change_password(
    auth: Auth<AnyRole>,
    state: web::Data<AppState>,
    body: crate::http::Json<ChangePassword>,
) -> ApiResult<HttpResponse> {
    let ChangePassword {
        current_password,
        new_password,
    } = body.into_inner();
    let new_password = Password::parse(&new_password)?;
    let principal = auth.into_inner();
    let actor = principal.actor();
    let user_id = principal.user_id;
    let opened = state
        .db
        .run(move |conn| {
            let user = users::find_by_id(conn, user_id)?
                .ok_or_else(|| ApiError::not_found("No such user."))?;
            if !password::verify(&current_password, Some(&user.password_hash)) {
                return Err(ApiError::unauthorized("The current password is wrong."));
            }
            let hash = users::hash_password(&new_password)?;
            let now = crate::time::now();
            write_tx(conn, |conn| {
                let version = users::set_password(conn, &actor, user_id, &hash)?;
                session::end_all(conn, user_id, "password changed", now)?;
                session::open(conn, user_id, principal.role, version, now)
            })
        })
        .await?;
    session_response(&state, &opened)
}
