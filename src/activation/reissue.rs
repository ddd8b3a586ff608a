//! A new activation code for a forgotten password (DESIGN §10): an official gives one
//! to a talent or a merchant's owner, an owner to a cashier of their shop (an official's
//! own goes through a second admin: `POST /users/{id}/activation`, a proposal). The new
//! code replaces any earlier unused one; the current password keeps working until the
//! person sets a new one, so asking for a letter locks nobody out.

use actix_web::{post, web};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::IssuedCode;
use crate::auth::principal::{Admin, MerchantOwner};
use crate::auth::{Actor, Auth};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::users;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(for_talent)
        .service(for_owner)
        .service(for_cashier);
}

/// The account a code was issued for, and the code (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReissuedCode {
    pub user_id: i64,
    /// The login the code activates.
    pub username: String,
    #[serde(flatten)]
    pub code: IssuedCode,
}

/// Issues a code for the account `find` reads (404 `missing` when none), audited as
/// `user.activation_issued`: the one path behind every route below.
async fn reissue(
    state: &AppState,
    actor: Actor,
    missing: &'static str,
    find: impl FnOnce(&mut DbConnection) -> ApiResult<Option<(i64, String)>> + Send + 'static,
) -> ApiResult<web::Json<ReissuedCode>> {
    let key = state.secrets.activation_key();
    let issued = state
        .db
        .write(move |conn| {
            let (user_id, username) = find(conn)?.ok_or_else(|| ApiError::not_found(missing))?;
            let code = super::issue(conn, &key, user_id, actor.user_id, crate::time::now())?;
            crate::audit::record(
                conn,
                &actor,
                "user.activation_issued",
                "user",
                user_id,
                None::<&()>,
                None::<&()>,
            )?;
            Ok(ReissuedCode {
                user_id,
                username,
                code,
            })
        })
        .await?;
    Ok(web::Json(issued))
}

/// A new activation code for a talent's login (a forgotten password). The earlier unused
/// code stops working.
#[utoipa::path(
    tag = "talents",
    params(("id" = i64, Path, description = "The talent")),
    responses((status = 200, body = ReissuedCode)),
    security(("bearer" = []))
)]
#[post("/talents/{id}/activation")]
pub async fn for_talent(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<ReissuedCode>> {
    let talent_id = id.into_inner();
    reissue(
        &state,
        auth.actor(),
        "No such talent, or it has no login.",
        move |conn| {
            Ok(users::table
                .filter(users::talent_id.eq(talent_id))
                .filter(users::role.eq("talent"))
                .select((users::id, users::username))
                .first(conn)
                .optional()?)
        },
    )
    .await
}

/// A new activation code for a merchant owner's login (a forgotten password).
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path, description = "The merchant")),
    responses((status = 200, body = ReissuedCode)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/activation")]
pub async fn for_owner(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<ReissuedCode>> {
    let merchant_id = id.into_inner();
    reissue(&state, auth.actor(), "No such merchant.", move |conn| {
        Ok(users::table
            .filter(users::merchant_id.eq(merchant_id))
            .filter(users::role.eq("merchant"))
            .select((users::id, users::username))
            .first(conn)
            .optional()?)
    })
    .await
}

/// A new activation code for a cashier of the owner's own shop (a forgotten password).
#[utoipa::path(
    tag = "merchants",
    params(
        ("id" = i64, Path, description = "The merchant"),
        ("user_id" = i64, Path, description = "The cashier's account"),
    ),
    responses((status = 200, body = ReissuedCode)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/cashiers/{user_id}/activation")]
pub async fn for_cashier(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> ApiResult<web::Json<ReissuedCode>> {
    let (merchant_id, cashier_id) = path.into_inner();
    auth.ensure_merchant_owner(merchant_id)?;
    reissue(
        &state,
        auth.actor(),
        "This shop has no such cashier.",
        move |conn| {
            Ok(users::table
                .filter(users::id.eq(cashier_id))
                .filter(users::merchant_id.eq(merchant_id))
                .filter(users::role.eq("cashier"))
                .filter(users::active.eq(true))
                .select((users::id, users::username))
                .first(conn)
                .optional()?)
        },
    )
    .await
}
