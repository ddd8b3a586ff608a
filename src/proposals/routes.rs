//! `GET /proposals`, `GET /proposals/{id}`, `POST /proposals/{id}/approve` and
//! `POST /proposals/{id}/reject`: administrators decide, auditors read.

use actix_web::http::StatusCode;
use actix_web::{get, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Proposal, ProposalView, Status, budget, keys, officials, thresholds};
use crate::activation::IssuedCode;
use crate::audit;
use crate::auth::Auth;
use crate::auth::principal::{Admin, Official};
use crate::budgets::BudgetView;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::proposals;
use crate::state::AppState;
use crate::users::UserView;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(get_one)
        .service(approve)
        .service(reject);
    officials::configure(cfg);
    budget::configure(cfg);
    keys::configure(cfg);
    thresholds::configure(cfg);
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ProposalFilter {
    /// Only proposals in this state (`open`: still waiting and not past their time).
    pub status: Option<Status>,
}

/// Proposals, newest first (administrators and auditors).
#[utoipa::path(
    tag = "proposals",
    params(PageQuery, ProposalFilter),
    responses((status = 200, body = Paginated<ProposalView>), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/proposals")]
pub async fn list(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<ProposalFilter>,
) -> ApiResult<web::Json<Paginated<ProposalView>>> {
    let page = Page::try_from(page.into_inner())?;
    let status = filter.into_inner().status;
    let result = state
        .db
        .run(move |conn| {
            let now = crate::time::now();
            let filtered = || {
                let query = proposals::table.into_boxed();
                // An open proposal past its time is expired, recorded or not.
                match status {
                    None => query,
                    Some(Status::Open) => query
                        .filter(proposals::status.eq("open"))
                        .filter(proposals::expires_at.gt(now)),
                    Some(Status::Expired) => query.filter(
                        proposals::status.eq("expired").or(proposals::status
                            .eq("open")
                            .and(proposals::expires_at.le(now))),
                    ),
                    Some(s) => query.filter(proposals::status.eq(s.as_str())),
                }
            };
            let total: i64 = filtered().count().get_result(conn)?;
            let items: Vec<Proposal> = filtered()
                .order(proposals::id.desc())
                .limit(page.per_page)
                .offset(page.offset())
                .select(Proposal::as_select())
                .load(conn)?;
            let views = super::views(conn, &items, now)?;
            Ok(Paginated::new(views, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

/// One proposal (administrators and auditors).
#[utoipa::path(
    tag = "proposals",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = ProposalView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/proposals/{id}")]
pub async fn get_one(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<ProposalView>> {
    let id = id.into_inner();
    let view = state
        .db
        .run(move |conn| {
            let p = super::find(conn, id)?;
            super::view(conn, &p, crate::time::now())
        })
        .await?;
    Ok(web::Json(view))
}

/// What approval did: the proposal, and the account or budget it changed. For a new or
/// reset official, the activation code to hand over — shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approved {
    pub proposal: ProposalView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<IssuedCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<crate::anomalies::thresholds::Thresholds>,
}

fn not_open(p: &Proposal, now: chrono::NaiveDateTime) -> ApiError {
    let status = p.status(now);
    ApiError::new(
        StatusCode::CONFLICT,
        if status == Status::Expired {
            "proposal_expired"
        } else {
            "invalid_transition"
        },
        format!(
            "Proposal {} is {}; only an open proposal can be decided.",
            p.id,
            status.as_str()
        ),
    )
}

/// Claims an open proposal for a decision: the conditional update lets exactly one of
/// two concurrent decisions through. An overdue one is recorded as expired instead.
fn claim(
    conn: &mut crate::db::DbConnection,
    p: &Proposal,
    decider: i64,
    status: Status,
    reason: Option<&str>,
    now: chrono::NaiveDateTime,
) -> ApiResult<()> {
    if p.status == "open" && p.expires_at <= now {
        return Err(not_open(p, now));
    }
    let claimed = diesel::update(
        proposals::table
            .find(p.id)
            .filter(proposals::status.eq("open"))
            .filter(proposals::expires_at.gt(now)),
    )
    .set((
        proposals::status.eq(status.as_str()),
        proposals::decided_by.eq(decider),
        proposals::decided_at.eq(now),
        proposals::decision_reason.eq(reason),
    ))
    .execute(conn)?;
    if claimed == 1 {
        Ok(())
    } else {
        Err(not_open(p, now))
    }
}

/// Approve a proposal: the change happens now. Only an administrator other than the
/// proposer; refused when the proposal is no longer open or the change no longer
/// applies (e.g. the budget changed since).
#[utoipa::path(
    tag = "proposals",
    params(("id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, body = Approved),
        (status = 403, description = "four_eyes: the proposer cannot approve", body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "proposal_expired, invalid_transition, or the change no longer applies", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/proposals/{id}/approve")]
pub async fn approve(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Approved>> {
    let id = id.into_inner();
    let principal = auth.into_inner();
    let activation_key = state.secrets.activation_key();
    let (expired, outcome) = state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            let p = super::find(conn, id)?;
            if p.proposed_by == principal.user_id {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "four_eyes",
                    "You proposed this; a second administrator must approve it.",
                ));
            }
            if p.status == "open" && p.expires_at <= now {
                // Record the lapse (this transaction commits it), then refuse.
                super::expire_overdue(conn, now)?;
                return Ok((Some(not_open(&p, now)), None));
            }
            claim(conn, &p, principal.user_id, Status::Approved, None, now)?;
            let mut approved = Approved {
                proposal: super::view(conn, &p, now)?,
                user: None,
                activation: None,
                budget: None,
                thresholds: None,
            };
            let result = match p.kind.as_str() {
                // Carried out by the operator on the server (`rotate-key --proposal`).
                keys::ROTATE => serde_json::json!({"carried_out": false}),
                thresholds::SET => {
                    approved.thresholds = Some(thresholds::apply(conn, &principal, &p)?);
                    serde_json::json!({"thresholds": "stored"})
                }
                budget::SET => {
                    let view = budget::apply(conn, &principal, &p)?;
                    let result = serde_json::json!({"year": view.year});
                    approved.budget = Some(view);
                    result
                }
                _ => {
                    let applied = officials::apply(conn, &activation_key, &principal, &p, now)?;
                    let result = serde_json::json!({"user_id": applied.user.id});
                    approved.user = Some(applied.user);
                    approved.activation = applied.activation;
                    result
                }
            };
            let target = approved.user.as_ref().map(|u| u.id).or(p.target_user_id);
            diesel::update(proposals::table.find(p.id))
                .set((
                    proposals::result.eq(result.to_string()),
                    proposals::target_user_id.eq(target),
                ))
                .execute(conn)?;
            let decided = super::find(conn, p.id)?;
            approved.proposal = super::view(conn, &decided, now)?;
            audit::record(
                conn,
                &principal.actor(),
                "proposal.approve",
                "proposal",
                p.id,
                None::<&()>,
                Some(&approved.proposal),
            )?;
            Ok((None, Some(approved)))
        })
        .await?;
    if outcome
        .as_ref()
        .is_some_and(|approved| approved.budget.is_some())
    {
        state.budget_rooms.forget();
    }
    match (expired, outcome) {
        (Some(refusal), _) => Err(refusal),
        (None, Some(approved)) => Ok(web::Json(approved)),
        (None, None) => unreachable!("approval either decides or refuses"),
    }
}

/// Reject a proposal (any administrator; the proposer this way withdraws it). A reason
/// is required.
#[utoipa::path(
    tag = "proposals",
    params(("id" = i64, Path, minimum = 1)),
    request_body = crate::text::RequiredReason,
    responses(
        (status = 200, body = ProposalView),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "proposal_expired or invalid_transition", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/proposals/{id}/reject")]
pub async fn reject(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<crate::text::RequiredReason>,
) -> ApiResult<web::Json<ProposalView>> {
    let id = id.into_inner();
    let reason = body.parse()?;
    let principal = auth.into_inner();
    let (refusal, view) = state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            let p = super::find(conn, id)?;
            if p.status == "open" && p.expires_at <= now {
                super::expire_overdue(conn, now)?;
                return Ok((Some(not_open(&p, now)), None));
            }
            claim(
                conn,
                &p,
                principal.user_id,
                Status::Rejected,
                Some(&reason),
                now,
            )?;
            let decided = super::find(conn, p.id)?;
            let view = super::view(conn, &decided, now)?;
            audit::record(
                conn,
                &principal.actor(),
                "proposal.reject",
                "proposal",
                p.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok((None, Some(view)))
        })
        .await?;
    match (refusal, view) {
        (Some(refusal), _) => Err(refusal),
        (None, Some(view)) => Ok(web::Json(view)),
        (None, None) => unreachable!("rejection either decides or refuses"),
    }
}
