//! `POST /users` and `GET /users`: administrators manage official and auditor accounts.

use actix_web::{HttpResponse, get, post, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{NewAccount, User, UserView, Username};
use crate::auth::password::Password;
use crate::auth::principal::Admin;
use crate::auth::{Auth, Role};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::users;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_user).service(list_users);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(schema_with = crate::users::username_schema)]
    pub username: crate::text::SingleLine,
    #[schema(schema_with = crate::auth::password::new_password_schema)]
    pub password: String,
    /// `admin` or `auditor`; merchant, cashier and talent accounts come with their records.
    pub role: Role,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub display_name: Option<crate::text::DisplayName>,
}

/// Create an official (admin) or auditor account.
#[utoipa::path(
    tag = "users",
    request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    body: crate::http::Json<CreateUser>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    if !matches!(body.role, Role::Admin | Role::Auditor) {
        return Err(ApiError::invalid_field(
            "role",
            "role must be admin or auditor here; merchant, cashier and talent accounts are created with their merchant or talent",
        ));
    }
    let username = Username::parse(&body.username)?;
    let password = Password::parse(&body.password)?;
    let display_name = body.display_name.unwrap_or_default();
    if display_name.chars().count() > 100 {
        return Err(ApiError::invalid_field(
            "display_name",
            "display_name must have at most 100 characters",
        ));
    }
    let actor = auth.actor();
    let user = state
        .db
        .run(move |conn| {
            // Hash before taking the write lock: argon2 takes tens of milliseconds.
            let password_hash = super::hash_password(&password)?;
            write_tx(conn, |conn| {
                super::create(
                    conn,
                    &actor,
                    NewAccount {
                        username: &username,
                        password_hash,
                        role: body.role,
                        display_name: &display_name,
                        merchant_id: None,
                        talent_id: None,
                        active: true,
                    },
                )
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(user.view()))
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
