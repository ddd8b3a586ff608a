//! `PUT /budgets/{year}` proposes the year's budget; approval by a second admin sets it.
//! The proposal records the settings it replaces, and approval refuses if they changed
//! meanwhile: the approver approves exactly the change they were shown.

use actix_web::{HttpResponse, put, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{NewProposal, Proposal, Proposed};
use crate::auth::principal::Admin;
use crate::auth::{Auth, Principal};
use crate::budgets::setting::{self, BudgetSettings, check_year};
use crate::budgets::{self, BudgetView};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const SET: &str = "budget.set";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(propose_budget);
}

/// What `budget.set` stores.
#[derive(Debug, Serialize, Deserialize)]
struct BudgetChange {
    year: i32,
    settings: BudgetSettings,
    /// The settings when proposed; `None` for a year without a budget.
    before: Option<BudgetSettings>,
}

fn yuan(fen: i64) -> String {
    format!("¥{}.{:02}", fen / 100, fen % 100)
}

fn describe(s: &BudgetSettings) -> String {
    let mut text = yuan(s.total_fen);
    if let Some(categories) = s.categories.as_ref().filter(|c| !c.is_empty()) {
        let parts: Vec<String> = categories
            .iter()
            .map(|(c, fen)| format!("{c} {}", yuan(*fen)))
            .collect();
        text += &format!(", envelopes {}", parts.join(", "));
    }
    if let Some(cap) = s.merchant_monthly_cap_fen {
        text += &format!(", at most {} per merchant and month", yuan(cap));
    }
    text
}

/// The settings in force for `year`, if it has a budget.
fn current(conn: &mut DbConnection, year: i32) -> ApiResult<Option<BudgetSettings>> {
    Ok(budgets::view(conn, year)?.as_ref().map(BudgetSettings::of))
}

/// Propose a year's budget (create or change it). A second administrator approves it;
/// until then the budget stays as it is. Lowering anything below what is already
/// reserved, settled or paid is refused when it is approved.
#[utoipa::path(
    tag = "budgets",
    params(("year" = i32, Path, minimum = 2000, maximum = 2999, description = "Calendar year")),
    request_body = BudgetSettings,
    responses(
        (status = 202, description = "Proposed; waits for a second administrator", body = Proposed),
        (status = 409, description = "The same change already waits, or it would go below what is committed", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[put("/budgets/{year}")]
pub async fn propose_budget(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    year: web::Path<i32>,
    body: crate::http::Json<BudgetSettings>,
) -> ApiResult<HttpResponse> {
    let year = check_year(year.into_inner())?;
    let settings = body.into_inner();
    settings.validate()?;
    let principal = auth.into_inner();
    let proposal = state
        .db
        .write(move |conn| propose(conn, &principal, year, settings))
        .await?;
    Ok(HttpResponse::Accepted().json(Proposed { proposal }))
}

/// Records a `budget.set` proposal (validated settings) by `principal`.
pub fn propose(
    conn: &mut DbConnection,
    principal: &Principal,
    year: i32,
    settings: BudgetSettings,
) -> ApiResult<super::ProposalView> {
    let now = crate::time::now();
    let in_force = budgets::view(conn, year)?;
    let before = in_force.as_ref().map(BudgetSettings::of);
    if let Some(view) = &in_force {
        // Refused now rather than at approval: it could never apply.
        let committed = view.reserved_fen + view.settled_fen + view.paid_fen;
        if settings.total_fen < committed {
            return Err(ApiError::conflict(format!(
                "{committed} fen of the {year} budget are already reserved, settled or paid; the total cannot go below that"
            )));
        }
    }
    let same = |p: &Proposal| {
        p.payload::<BudgetChange>()
            .is_ok_and(|c| c.year == year && c.settings == settings)
    };
    if let Some(id) = super::open_exists(conn, SET, same, now)? {
        return Err(ApiError::conflict(format!(
            "Proposal {id} already proposes this budget and waits for a second administrator."
        )));
    }
    let summary = match &before {
        None => format!("Set the {year} budget: {}.", describe(&settings)),
        Some(b) => format!(
            "Change the {year} budget from {} to {}.",
            describe(b),
            describe(&settings)
        ),
    };
    super::create(
        conn,
        principal,
        NewProposal {
            kind: SET,
            summary,
            payload: &BudgetChange {
                year,
                settings,
                before,
            },
            target_user_id: None,
        },
        now,
    )
}

/// Sets the budget of an approved `budget.set` proposal, as `approver`.
pub fn apply(
    conn: &mut DbConnection,
    approver: &Principal,
    proposal: &Proposal,
) -> ApiResult<BudgetView> {
    let change: BudgetChange = proposal.payload()?;
    let now_in_force = current(conn, change.year)?;
    if now_in_force != change.before {
        return Err(ApiError::conflict(format!(
            "The {} budget changed after this was proposed; reject it and propose again.",
            change.year
        )));
    }
    setting::apply(conn, &approver.actor(), change.year, &change.settings)
}
