//! `GET /budgets/{year}` and `GET /budgets` (officials). Setting a budget is a proposal:
//! `PUT /budgets/{year}` lives in `crate::proposals::budget`.

use actix_web::{get, web};
use diesel::prelude::*;
use utoipa_actix_web::service_config::ServiceConfig;

use super::BudgetView;
use super::setting::check_year;
use crate::auth::Auth;
use crate::auth::principal::Official;
use crate::error::{ApiError, ApiResult};
use crate::schema::budgets;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_budget).service(list_budgets);
}

/// A year's budget: total, reserved, settled, paid and remaining (they add up), per
/// category too.
#[utoipa::path(
    tag = "budgets",
    params(("year" = i32, Path, minimum = 2000, maximum = 2999, description = "Calendar year")),
    responses((status = 200, body = BudgetView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/budgets/{year}")]
pub async fn get_budget(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    year: web::Path<i32>,
) -> ApiResult<web::Json<BudgetView>> {
    let year = check_year(year.into_inner())?;
    let view = state
        .db
        .run(move |conn| {
            super::view(conn, year)?
                .ok_or_else(|| ApiError::not_found(format!("No budget is set for {year}.")))
        })
        .await?;
    Ok(web::Json(view))
}

/// Every year with a budget, newest first.
#[utoipa::path(tag = "budgets", responses((status = 200, body = Vec<BudgetView>)), security(("bearer" = [])))]
#[get("/budgets")]
pub async fn list_budgets(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<BudgetView>>> {
    let views = state
        .db
        .run(|conn| {
            let years: Vec<i32> = budgets::table
                .select(budgets::year)
                .order(budgets::year.desc())
                .load(conn)?;
            years
                .into_iter()
                .filter_map(|y| super::view(conn, y).transpose())
                .collect::<ApiResult<Vec<_>>>()
        })
        .await?;
    Ok(web::Json(views))
}
