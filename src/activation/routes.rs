//! `POST /auth/activate`: set one's own password with an activation code, and sign in.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::password::Password;
use crate::auth::{Actor, throttle};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::http::client::client_key;
use crate::state::AppState;
use crate::{audit, users};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(activate);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    pub username: crate::text::SingleLine,
    /// The code from the activation letter, e.g. `7K3D-Q9XM-2HBV-T4RA`.
    #[schema(max_length = 64)]
    pub activation_code: crate::text::SingleLine,
    #[schema(schema_with = crate::auth::password::new_password_schema)]
    pub new_password: String,
}

/// Set your password with the activation code you were given, and sign in. Wrong
/// guesses count against the same limits as failed logins.
#[utoipa::path(
    tag = "auth",
    request_body = Activate,
    responses(
        (status = 200, body = crate::auth::routes::LoginResponse),
        (status = 401, description = "Unknown username, or a wrong, used or expired code", body = crate::error::Problem),
        (status = 403, description = "account_inactive", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = crate::error::Problem),
    )
)]
#[post("/auth/activate")]
pub async fn activate(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::http::Json<Activate>,
) -> ApiResult<HttpResponse> {
    let Activate {
        username,
        activation_code,
        new_password,
    } = body.into_inner();
    let new_password = Password::parse(&new_password)?;
    let username = username.trim().to_lowercase();
    if username.is_empty() || username.len() > 64 || activation_code.len() > 64 {
        return Err(ApiError::unauthorized(
            "The activation code is wrong, used or expired.",
        ));
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
    let key = state.secrets.activation_key();
    let opened = state
        .db
        .run(move |conn| {
            let user = users::find_by_username(conn, &username)?.ok_or_else(|| {
                ApiError::unauthorized("The activation code is wrong, used or expired.")
            })?;
            super::check(conn, &key, user.id, &activation_code, now)?;
            if !user.active {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::FORBIDDEN,
                    "account_inactive",
                    "This account is disabled; ask an administrator.",
                ));
            }
            // Hashed only once the code is known to be right: guesses cost no argon2 run.
            let hash = users::hash_password(&new_password)?;
            let role = user.role()?;
            write_tx(conn, |conn| {
                super::redeem(conn, &key, user.id, &activation_code, now)?;
                let actor = Actor {
                    user_id: Some(user.id),
                    name: user.username.clone(),
                };
                let version = users::set_password(conn, &actor, user.id, &hash)?;
                audit::record(
                    conn,
                    &actor,
                    "user.activate",
                    "user",
                    user.id,
                    None::<&()>,
                    None::<&()>,
                )?;
                crate::auth::session::end_all(conn, user.id, "activated", now)?;
                crate::auth::session::open(conn, user.id, role, version, now)
            })
        })
        .await?;
    state
        .db
        .run_writing(move |conn| throttle::succeeded(conn, &admitted, now))
        .await?;
    crate::auth::routes::session_response(&state, &opened)
}
