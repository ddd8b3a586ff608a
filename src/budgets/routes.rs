//! `PUT /budgets/{year}` (admin), `GET /budgets/{year}` and `GET /budgets` (officials).

use std::collections::BTreeMap;

use actix_web::{get, put, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::BudgetView;
use crate::audit;
use crate::auth::Auth;
use crate::auth::principal::{Admin, Official};
use crate::error::{ApiError, ApiResult};
use crate::schema::{budget_envelopes, budgets};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(set_budget)
        .service(get_budget)
        .service(list_budgets);
}

/// Merchant categories a budget envelope may name (衣食住行 and the rest).
pub const CATEGORIES: [&str; 8] = [
    "clothing",
    "food",
    "housing",
    "transport",
    "medical",
    "education",
    "leisure",
    "other",
];

/// Largest amount accepted: 10¹⁴ fen (one trillion 元) is far beyond any city budget and
/// keeps every sum well inside `i64`.
const MAX_FEN: i64 = 100_000_000_000_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBudget {
    /// The year's subsidy budget in fen.
    #[schema(minimum = 0, maximum = 100_000_000_000_000_i64)]
    pub total_fen: i64,
    /// Envelopes per merchant category in fen; when given, it replaces the set of
    /// envelopes (an envelope with commitments cannot be removed or lowered below them).
    pub categories: Option<BTreeMap<String, i64>>,
    /// Cap on the subsidy one merchant may receive per calendar month, in fen.
    #[schema(minimum = 0, maximum = 100_000_000_000_000_i64)]
    pub merchant_monthly_cap_fen: Option<i64>,
}

fn check_year(year: i32) -> ApiResult<i32> {
    if (2000..=2999).contains(&year) {
        Ok(year)
    } else {
        Err(ApiError::invalid_field(
            "year",
            "year must be between 2000 and 2999",
        ))
    }
}

fn check_fen(name: &str, value: i64) -> ApiResult<i64> {
    if (0..=MAX_FEN).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::validation(format!(
            "{name} must be between 0 and {MAX_FEN} fen"
        )))
    }
}

/// Set (create or change) a year's budget. Lowering anything below what is already
/// reserved, settled or paid is refused.
#[utoipa::path(
    tag = "budgets",
    params(("year" = i32, Path, minimum = 2000, maximum = 2999, description = "Calendar year")),
    request_body = SetBudget,
    responses((status = 200, body = BudgetView), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[put("/budgets/{year}")]
pub async fn set_budget(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    year: web::Path<i32>,
    body: crate::http::Json<SetBudget>,
) -> ApiResult<web::Json<BudgetView>> {
    let year = check_year(year.into_inner())?;
    let body = body.into_inner();
    let total = check_fen("total_fen", body.total_fen)?;
    let cap = body
        .merchant_monthly_cap_fen
        .map(|c| check_fen("merchant_monthly_cap_fen", c))
        .transpose()?;
    if let Some(categories) = &body.categories {
        let mut sum = 0;
        for (category, amount) in categories {
            if !CATEGORIES.contains(&category.as_str()) {
                return Err(ApiError::validation(format!(
                    "unknown category {category:?}; expected one of {}",
                    CATEGORIES.join(", ")
                )));
            }
            sum += check_fen(&format!("categories.{category}"), *amount)?;
        }
        if sum > total {
            return Err(ApiError::validation(format!(
                "the category envelopes add up to {sum} fen, more than the total of {total} fen"
            )));
        }
    }
    let actor = auth.actor();
    let view = state
        .db
        .write(move |conn| {
            // Bring what the slots hold home first: the budget rows then tell the whole
            // truth, and their locks keep every redemption of the year out until commit.
            super::slots::fold_year(conn, year)?;
            let before = super::view(conn, year)?;
            let now = crate::time::now();
            match &before {
                None => {
                    diesel::insert_into(budgets::table)
                        .values((
                            budgets::year.eq(year),
                            budgets::total_fen.eq(total),
                            budgets::merchant_monthly_cap_fen.eq(cap),
                            budgets::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                Some(b) => {
                    let committed = b.reserved_fen + b.settled_fen + b.paid_fen;
                    if total < committed {
                        return Err(ApiError::conflict(format!(
                            "{committed} fen of the {year} budget are already reserved, settled or paid; the total cannot go below that"
                        )));
                    }
                    diesel::update(budgets::table.find(year))
                        .set((
                            budgets::total_fen.eq(total),
                            budgets::merchant_monthly_cap_fen.eq(cap),
                            budgets::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                }
            }
            if let Some(categories) = &body.categories {
                let existing = super::envelopes(conn, year)?;
                for e in &existing {
                    match categories.get(&e.category) {
                        Some(&amount) if amount < e.committed_fen() => {
                            return Err(ApiError::conflict(format!(
                                "{} fen of the {} envelope are already committed; it cannot go below that",
                                e.committed_fen(),
                                e.category
                            )));
                        }
                        Some(&amount) => {
                            diesel::update(budget_envelopes::table.find((year, &e.category)))
                                .set(budget_envelopes::total_fen.eq(amount))
                                .execute(conn)?;
                        }
                        None if e.committed_fen() > 0 => {
                            return Err(ApiError::conflict(format!(
                                "the {} envelope has commitments and cannot be removed",
                                e.category
                            )));
                        }
                        None => {
                            super::slots::drop_envelope_slots(conn, year, &e.category)?;
                            diesel::delete(budget_envelopes::table.find((year, &e.category))).execute(conn)?;
                        }
                    }
                }
                for (category, amount) in categories {
                    if !existing.iter().any(|e| &e.category == category) {
                        diesel::insert_into(budget_envelopes::table)
                            .values((
                                budget_envelopes::year.eq(year),
                                budget_envelopes::category.eq(category),
                                budget_envelopes::total_fen.eq(amount),
                            ))
                            .execute(conn)?;
                    }
                }
            }
            let after = super::view(conn, year)?.ok_or_else(|| ApiError::not_found("budget vanished"))?;
            audit::record(conn, &actor, "budget.set", "budget", year, before.as_ref(), Some(&after))?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
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
