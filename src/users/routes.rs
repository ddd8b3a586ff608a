//! `GET /users` and `POST /users/{id}/deactivate`. Creating an official, changing a
//! role and enabling an account again are proposals (`crate::proposals::officials`).

use actix_web::{get, post, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{User, UserView};
use crate::auth::principal::Admin;
use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::users;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_users).service(deactivate_user);
}

/// Disable an official's account at once: its sessions end and it cannot log in. One
/// administrator may do this alone — taking power away is what a compromised account
/// needs quickly — but not to themselves (so at least the caller stays an admin).
/// Enabling it again is a proposal (`POST /users/{id}/reactivate`).
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, minimum = 1, description = "Account id")),
    request_body = crate::text::RequiredReason,
    responses(
        (status = 200, body = UserView),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "Your own account, not an official, or already disabled", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/deactivate")]
pub async fn deactivate_user(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<crate::text::RequiredReason>,
) -> ApiResult<web::Json<UserView>> {
    let id = id.into_inner();
    let reason = body.parse()?;
    let principal = auth.into_inner();
    let view = state
        .db
        .write(move |conn| {
            if id == principal.user_id {
                return Err(ApiError::conflict(
                    "You cannot disable your own account; another administrator can.",
                ));
            }
            let user = super::find_by_id(conn, id)?
                .ok_or_else(|| ApiError::not_found(format!("No account {id}.")))?;
            let role = user.role()?;
            if !matches!(role, Role::Admin | Role::Auditor) {
                return Err(ApiError::conflict(
                    "Only officials' accounts are disabled here; merchant, cashier and talent accounts follow their merchant or card.",
                ));
            }
            if !user.active {
                return Err(ApiError::conflict(format!(
                    "{:?} is already disabled.",
                    user.username
                )));
            }
            diesel::update(users::table.find(id))
                .set(users::active.eq(false))
                .execute(conn)?;
            super::bump_token_version(conn, id)?;
            let after = super::find_by_id(conn, id)?
                .ok_or_else(|| ApiError::not_found("account vanished"))?
                .view();
            crate::audit::record(
                conn,
                &principal.actor(),
                "user.deactivate",
                "user",
                id,
                Some(&user.view()),
                Some(&serde_json::json!({"account": &after, "reason": reason})),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UserFilter {
    pub role: Option<Role>,
}

/// List accounts (administrators only).
#[utoipa::path(
    tag = "users",
    params(PageQuery, UserFilter),
    responses((status = 200, body = Paginated<UserView>)),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    _auth: Auth<Admin>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<UserFilter>,
) -> ApiResult<web::Json<Paginated<UserView>>> {
    let page = Page::try_from(page.into_inner())?;
    let role = filter.into_inner().role;
    let result = state
        .db
        .run(move |conn| {
            let mut count = users::table.into_boxed();
            let mut query = users::table.into_boxed();
            if let Some(role) = role {
                count = count.filter(users::role.eq(role.as_str()));
                query = query.filter(users::role.eq(role.as_str()));
            }
            let total: i64 = count.count().get_result(conn)?;
            let items: Vec<User> = query
                .order(users::id)
                .limit(page.per_page)
                .offset(page.offset())
                .select(User::as_select())
                .load(conn)?;
            Ok(Paginated::new(
                items.iter().map(User::view).collect(),
                total,
                page,
            ))
        })
        .await?;
    Ok(web::Json(result))
}
