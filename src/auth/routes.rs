//! `POST /auth/login`, `POST /auth/logout`, `GET /me`, `POST /me/password`.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::principal::{AnyRole, SESSION_COOKIE};
use super::{Auth, Role, password, throttle, token};
use crate::auth::password::Password;
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::http::client::client_key;
use crate::state::AppState;
use crate::users::{self, UserView};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(login)
        .service(logout)
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

fn session_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.cookie_secure)
        .path("/")
        .max_age(CookieDuration::seconds(
            state.config.token_ttl.as_secs() as i64
        ))
        .finish()
}

pub(crate) fn token_response(
    state: &AppState,
    user_id: i64,
    role: Role,
    version: i32,
) -> ApiResult<HttpResponse> {
    let ttl = state.config.token_ttl.as_secs() as i64;
    let access_token = token::issue(&state.secrets.jwt, user_id, role, version, ttl)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(state, &access_token))
        .json(LoginResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: ttl,
            role,
        }))
}

enum LoginOutcome {
    Ok(i64, Role, i32),
    Inactive,
    Wrong,
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
    let metrics = state.metrics.clone();
    // A read connection only: argon2 takes tens of milliseconds, and on SQLite holding
    // the writers' turn that long would stall every other write.
    let outcome = state
        .db
        .run(move |conn| {
            let user = users::find_by_username(conn, &username)?;
            metrics.login_password_checks.inc();
            // Verified against a dummy hash when the user is unknown: same work, same answer.
            let valid =
                password::verify(&password, user.as_ref().map(|u| u.password_hash.as_str()));
            Ok(match user {
                Some(user) if valid && user.active => {
                    LoginOutcome::Ok(user.id, user.role()?, user.token_version)
                }
                Some(_) if valid => LoginOutcome::Inactive,
                _ => LoginOutcome::Wrong,
            })
        })
        .await?;
    if !matches!(outcome, LoginOutcome::Wrong) {
        // The right password: this attempt was no failure.
        state
            .db
            .run_writing(move |conn| throttle::succeeded(conn, &admitted, now))
            .await?;
    }
    match outcome {
        LoginOutcome::Ok(id, role, version) => token_response(&state, id, role, version),
        LoginOutcome::Inactive => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_inactive",
            "This account is not active (a merchant account opens once the merchant is approved).",
        )),
        LoginOutcome::Wrong => Err(ApiError::unauthorized("Wrong username or password.")),
    }
}

/// Log out: ends every token of this account and clears the session cookie.
#[utoipa::path(tag = "auth", responses((status = 204)), security(("bearer" = [])))]
#[post("/auth/logout")]
pub async fn logout(auth: Auth<AnyRole>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let user_id = auth.user_id;
    state
        .db
        .write(move |conn| users::bump_token_version(conn, user_id))
        .await?;
    let mut gone = session_cookie(&state, "");
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
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

/// Change the password; other sessions of the account end, this one gets a new token.
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
    let version = state
        .db
        .run(move |conn| {
            let user = users::find_by_id(conn, user_id)?
                .ok_or_else(|| ApiError::not_found("No such user."))?;
            if !password::verify(&current_password, Some(&user.password_hash)) {
                return Err(ApiError::unauthorized("The current password is wrong."));
            }
            let hash = users::hash_password(&new_password)?;
            write_tx(conn, |conn| {
                users::set_password(conn, &actor, user_id, &hash)
            })
        })
        .await?;
    token_response(&state, user_id, principal.role, version)
}
