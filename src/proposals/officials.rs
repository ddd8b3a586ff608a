//! Official accounts under dual control: `POST /users` (a new admin or auditor),
//! `POST /users/{id}/role`, `POST /users/{id}/reactivate` and `POST /users/{id}/activation`
//! (a forgotten password) each propose; approval by a second admin makes the change.
//! A new or reset official gets an activation code, answered to the approver only, so the
//! proposer never knows the password and nobody chose it for them.

use actix_web::{HttpResponse, post, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{NewProposal, Proposal, Proposed};
use crate::activation::{self, IssuedCode};
use crate::auth::principal::Admin;
use crate::auth::{Auth, Principal, Role};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::users as accounts;
use crate::state::AppState;
use crate::users::{self, NewAccount, User, UserView, Username};

pub const CREATE: &str = "official.create";
pub const ROLE: &str = "official.role";
pub const REACTIVATE: &str = "official.reactivate";
pub const RESET: &str = "official.reset";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(propose_official)
        .service(propose_role)
        .service(propose_reactivation)
        .service(propose_reset);
}

/// The roles an official account can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfficialRole {
    Admin,
    Auditor,
}

impl From<OfficialRole> for Role {
    fn from(r: OfficialRole) -> Role {
        match r {
            OfficialRole::Admin => Role::Admin,
            OfficialRole::Auditor => Role::Auditor,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOfficial {
    #[schema(schema_with = crate::users::username_schema)]
    pub username: crate::text::SingleLine,
    /// Merchant, cashier and talent accounts come with their records.
    pub role: OfficialRole,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub display_name: Option<crate::text::DisplayName>,
}

/// What `official.create` stores: no password — the new official sets their own.
#[derive(Debug, Serialize, Deserialize)]
struct NewOfficial {
    username: String,
    role: OfficialRole,
    display_name: String,
}

/// What the other kinds store: the account and its role when proposed.
#[derive(Debug, Serialize, Deserialize)]
struct AccountChange {
    user_id: i64,
    username: String,
    role: OfficialRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_role: Option<OfficialRole>,
}

fn official_role(user: &User) -> ApiResult<OfficialRole> {
    match user.role()? {
        Role::Admin => Ok(OfficialRole::Admin),
        Role::Auditor => Ok(OfficialRole::Auditor),
        _ => Err(ApiError::conflict(format!(
            "Account {} is not an official's: merchant, cashier and talent accounts follow their merchant or talent.",
            user.id
        ))),
    }
}

fn find_official(conn: &mut DbConnection, id: i64) -> ApiResult<(User, OfficialRole)> {
    let user = users::find_by_id(conn, id)?
        .ok_or_else(|| ApiError::not_found(format!("No account {id}.")))?;
    let role = official_role(&user)?;
    Ok((user, role))
}

fn already_proposed(id: i64) -> ApiError {
    ApiError::conflict(format!(
        "Proposal {id} already proposes this and waits for a second administrator."
    ))
}

fn accepted(proposal: super::ProposalView) -> HttpResponse {
    HttpResponse::Accepted().json(Proposed { proposal })
}

/// Propose a new official (admin) or auditor account. A second administrator approves
/// it; the approval answers the new account's activation code.
#[utoipa::path(
    tag = "users",
    request_body = CreateOfficial,
    responses(
        (status = 202, description = "Proposed; waits for a second administrator", body = Proposed),
        (status = 409, description = "The username is taken or already proposed", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn propose_official(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    body: crate::http::Json<CreateOfficial>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let username = Username::parse(&body.username)?;
    let display_name = body.display_name.map(|d| d.to_string()).unwrap_or_default();
    if display_name.chars().count() > 100 {
        return Err(ApiError::invalid_field(
            "display_name",
            "display_name must have at most 100 characters",
        ));
    }
    let principal = auth.into_inner();
    let proposal = state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            if users::find_by_username(conn, username.as_str())?.is_some() {
                return Err(ApiError::conflict(format!(
                    "The username {:?} is already taken.",
                    username.as_str()
                )));
            }
            let name = username.as_str().to_owned();
            let same = |p: &Proposal| {
                p.payload::<NewOfficial>()
                    .is_ok_and(|n| n.username == name)
            };
            if let Some(id) = super::open_exists(conn, CREATE, same, now)? {
                return Err(already_proposed(id));
            }
            let payload = NewOfficial {
                username: username.as_str().to_owned(),
                role: body.role,
                display_name,
            };
            let summary = format!(
                "Create the {} account {:?}{}; its holder sets a password with the activation code that approval gives.",
                Role::from(payload.role),
                payload.username,
                if payload.display_name.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", payload.display_name)
                }
            );
            super::create(
                conn,
                &principal,
                NewProposal {
                    kind: CREATE,
                    summary,
                    payload: &payload,
                    target_user_id: None,
                },
                now,
            )
        })
        .await?;
    Ok(accepted(proposal))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: OfficialRole,
}

/// Propose changing an official's role (admin ↔ auditor).
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, minimum = 1, description = "Account id")),
    request_body = ChangeRole,
    responses(
        (status = 202, description = "Proposed; waits for a second administrator", body = Proposed),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "Not an official, already that role, or already proposed", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/role")]
pub async fn propose_role(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<ChangeRole>,
) -> ApiResult<HttpResponse> {
    let new_role = body.into_inner().role;
    let proposal = propose_about(
        &state,
        auth.into_inner(),
        id.into_inner(),
        ROLE,
        move |user, role| {
            if role == new_role {
                return Err(ApiError::conflict(format!(
                    "{:?} is already {}.",
                    user.username,
                    Role::from(role)
                )));
            }
            Ok((
                Some(new_role),
                format!(
                    "Change the role of {:?} from {} to {}.",
                    user.username,
                    Role::from(role),
                    Role::from(new_role)
                ),
            ))
        },
    )
    .await?;
    Ok(accepted(proposal))
}

/// Propose enabling a disabled official again.
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, minimum = 1, description = "Account id")),
    responses(
        (status = 202, description = "Proposed; waits for a second administrator", body = Proposed),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "Not an official, not disabled, or already proposed", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/reactivate")]
pub async fn propose_reactivation(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let proposal = propose_about(
        &state,
        auth.into_inner(),
        id.into_inner(),
        REACTIVATE,
        |user, role| {
            if user.active {
                return Err(ApiError::conflict(format!(
                    "{:?} is not disabled.",
                    user.username
                )));
            }
            Ok((
                None,
                format!(
                    "Enable the disabled {} account {:?} again.",
                    Role::from(role),
                    user.username
                ),
            ))
        },
    )
    .await?;
    Ok(accepted(proposal))
}

/// Propose a fresh activation code for an official who lost their password. On
/// approval their current password stops working and their sessions end.
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, minimum = 1, description = "Account id")),
    responses(
        (status = 202, description = "Proposed; waits for a second administrator", body = Proposed),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "Not an official, or already proposed", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/activation")]
pub async fn propose_reset(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let proposal = propose_about(&state, auth.into_inner(), id.into_inner(), RESET, |user, role| {
        Ok((
            None,
            format!(
                "Give the {} account {:?} a new activation code; its current password stops working.",
                Role::from(role),
                user.username
            ),
        ))
    })
    .await?;
    Ok(accepted(proposal))
}

/// Proposes a change of kind `kind` to official `user_id`. `decide` checks it applies
/// and says what it does: the new role, if any, and the summary.
async fn propose_about(
    state: &AppState,
    principal: Principal,
    user_id: i64,
    kind: &'static str,
    decide: impl FnOnce(&User, OfficialRole) -> ApiResult<(Option<OfficialRole>, String)>
    + Send
    + 'static,
) -> ApiResult<super::ProposalView> {
    state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            let (user, role) = find_official(conn, user_id)?;
            let (new_role, summary) = decide(&user, role)?;
            if let Some(id) =
                super::open_exists(conn, kind, |p| p.target_user_id == Some(user_id), now)?
            {
                return Err(already_proposed(id));
            }
            let payload = AccountChange {
                user_id: user.id,
                username: user.username.clone(),
                role,
                new_role,
            };
            super::create(
                conn,
                &principal,
                NewProposal {
                    kind,
                    summary,
                    payload: &payload,
                    target_user_id: Some(user_id),
                },
                now,
            )
        })
        .await
}

/// What approving an official's proposal produced.
pub struct Applied {
    pub user: UserView,
    pub activation: Option<IssuedCode>,
}

/// Makes the change of an approved `official.*` proposal, as `approver`.
pub fn apply(
    conn: &mut DbConnection,
    activation_key: &[u8; 32],
    approver: &Principal,
    proposal: &Proposal,
    now: NaiveDateTime,
) -> ApiResult<Applied> {
    let actor = approver.actor();
    if proposal.kind == CREATE {
        let new: NewOfficial = proposal.payload()?;
        let username = Username::parse(&new.username)?;
        let user = users::create(
            conn,
            &actor,
            NewAccount {
                username: &username,
                password_hash: users::UNUSABLE_PASSWORD_HASH.to_owned(),
                role: new.role.into(),
                display_name: &new.display_name,
                merchant_id: None,
                talent_id: None,
                active: true,
            },
        )?;
        let code = activation::issue(conn, activation_key, user.id, Some(approver.user_id), now)?;
        return Ok(Applied {
            user: user.view(),
            activation: Some(code),
        });
    }
    let change: AccountChange = proposal.payload()?;
    let (user, role) = find_official(conn, change.user_id)?;
    if role != change.role {
        return Err(ApiError::conflict(format!(
            "{:?} is {} now, not {} as when this was proposed; reject it and propose again.",
            user.username,
            Role::from(role),
            Role::from(change.role)
        )));
    }
    let before = user.view();
    let mut activation = None;
    let action = match proposal.kind.as_str() {
        ROLE => {
            let new_role = change
                .new_role
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("role proposal without role")))?;
            diesel::update(accounts::table.find(user.id))
                .set(accounts::role.eq(Role::from(new_role).as_str()))
                .execute(conn)?;
            // Tokens carry the role: the old ones must not keep the old powers.
            users::bump_token_version(conn, user.id)?;
            "user.role_change"
        }
        REACTIVATE => {
            if user.active {
                return Err(ApiError::conflict(format!(
                    "{:?} is already enabled.",
                    user.username
                )));
            }
            diesel::update(accounts::table.find(user.id))
                .set(accounts::active.eq(true))
                .execute(conn)?;
            users::bump_token_version(conn, user.id)?;
            "user.reactivate"
        }
        RESET => {
            diesel::update(accounts::table.find(user.id))
                .set(accounts::password_hash.eq(users::UNUSABLE_PASSWORD_HASH))
                .execute(conn)?;
            users::bump_token_version(conn, user.id)?;
            activation = Some(activation::issue(
                conn,
                activation_key,
                user.id,
                Some(approver.user_id),
                now,
            )?);
            "user.activation_reset"
        }
        other => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "not an official's proposal: {other}"
            )));
        }
    };
    let after = users::find_by_id(conn, user.id)?
        .ok_or_else(|| ApiError::not_found("account vanished"))?
        .view();
    crate::audit::record(
        conn,
        &actor,
        action,
        "user",
        user.id,
        Some(&before),
        Some(&after),
    )?;
    Ok(Applied {
        user: after,
        activation,
    })
}
