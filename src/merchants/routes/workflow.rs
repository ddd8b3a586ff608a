//! The officials' workflow: approve, reject, suspend and resume a merchant.

use actix_web::{post, web};

use crate::auth::Auth;
use crate::auth::principal::Admin;
use crate::error::{ApiResult, Problem};
use crate::merchants::{MerchantAction, MerchantRecord};
use crate::state::AppState;
use crate::text::{OptionalReason, RequiredReason};

async fn run_transition(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: i64,
    action: MerchantAction,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<MerchantRecord>> {
    let reason = OptionalReason::parse(body.0, action.needs_reason())?;
    let actor = auth.actor();
    let merchant = state
        .db
        .write(move |conn| {
            crate::merchants::transition(conn, &actor, id, action, reason.as_deref())
        })
        .await?;
    Ok(web::Json(merchant.record()?))
}

/// An approved merchant, and the owner's activation code when the application came
/// without a password (shown once, for the official to hand over).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApprovedMerchant {
    #[serde(flatten)]
    pub merchant: MerchantRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_activation: Option<crate::activation::reissue::ReissuedCode>,
}

/// Approve a pending merchant: it joins the directory and its accounts open. An owner
/// who applied without a password gets an activation code, in the answer.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body(content = Option<OptionalReason>, description = "optional: {reason}"),
    responses((status = 200, body = ApprovedMerchant), (status = 409, description = "invalid_transition", body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/approve")]
pub async fn approve(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<ApprovedMerchant>> {
    let id = path.into_inner();
    let reason = OptionalReason::parse(body.0, MerchantAction::Approve.needs_reason())?;
    let actor = auth.actor();
    let key = state.secrets.activation_key();
    let (merchant, owner_activation) = state
        .db
        .write(move |conn| {
            let merchant = crate::merchants::transition(
                conn,
                &actor,
                id,
                MerchantAction::Approve,
                reason.as_deref(),
            )?;
            let owner_activation = match crate::users::passwordless_owner(conn, id)? {
                Some((user_id, username)) => Some(crate::activation::reissue::ReissuedCode {
                    user_id,
                    username,
                    code: crate::activation::issue(
                        conn,
                        &key,
                        user_id,
                        actor.user_id,
                        crate::time::now(),
                    )?,
                }),
                None => None,
            };
            Ok((merchant, owner_activation))
        })
        .await?;
    Ok(web::Json(ApprovedMerchant {
        merchant: merchant.record()?,
        owner_activation,
    }))
}

/// Reject a pending application (`{reason}` required).
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body = RequiredReason,
    responses((status = 200, body = MerchantRecord), (status = 409, description = "invalid_transition", body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/reject")]
pub async fn reject(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<MerchantRecord>> {
    run_transition(auth, state, path.into_inner(), MerchantAction::Reject, body).await
}

/// Suspend an active merchant (`{reason}` required): it leaves the directory and every
/// account of it is logged out and closed.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body = RequiredReason,
    responses((status = 200, body = MerchantRecord), (status = 409, description = "invalid_transition", body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/suspend")]
pub async fn suspend(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<MerchantRecord>> {
    run_transition(
        auth,
        state,
        path.into_inner(),
        MerchantAction::Suspend,
        body,
    )
    .await
}

/// Resume a suspended merchant: back in the directory, accounts open again.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body(content = Option<OptionalReason>, description = "optional: {reason}"),
    responses((status = 200, body = MerchantRecord), (status = 409, description = "invalid_transition", body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/resume")]
pub async fn resume(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<MerchantRecord>> {
    run_transition(auth, state, path.into_inner(), MerchantAction::Resume, body).await
}
