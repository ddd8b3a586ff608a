//! Setting a year's budget: the settings an official asks for, their validation, and
//! applying them. A change is a proposal a second admin approves (DESIGN §13,
//! `crate::proposals::budget`); this module only knows budgets.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::BudgetView;
use crate::audit;
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{budget_envelopes, budgets};

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

/// The envelopes' schema: amounts in fen keyed by merchant category.
fn categories_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let amount = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64,
        )))
        .minimum(Some(0))
        .maximum(Some(MAX_FEN));
    let names = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(CATEGORIES));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::RefOr(utoipa::openapi::RefOr::T(
                utoipa::openapi::Schema::Object(amount.build()),
            )),
        ))
        .property_names(Some(names.build()))
        .description(Some(
            "Envelopes per merchant category in fen; when given, it replaces the set of envelopes (an envelope with commitments cannot be removed or lowered below them).",
        ))
        .build()
}

/// What an official asks a year's budget to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetSettings {
    /// The year's subsidy budget in fen.
    #[schema(minimum = 0, maximum = 100_000_000_000_000_i64)]
    pub total_fen: i64,
    #[schema(schema_with = categories_schema)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<BTreeMap<String, i64>>,
    /// Cap on the subsidy one merchant may receive per calendar month, in fen.
    #[schema(minimum = 0, maximum = 100_000_000_000_000_i64)]
    #[serde(default)]
    pub merchant_monthly_cap_fen: Option<i64>,
}

pub fn check_year(year: i32) -> ApiResult<i32> {
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

impl BudgetSettings {
    /// Refuses settings that could never apply: amounts out of range, unknown categories,
    /// envelopes adding up to more than the total.
    pub fn validate(&self) -> ApiResult<()> {
        let total = check_fen("total_fen", self.total_fen)?;
        if let Some(cap) = self.merchant_monthly_cap_fen {
            check_fen("merchant_monthly_cap_fen", cap)?;
        }
        if let Some(categories) = &self.categories {
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
        Ok(())
    }

    /// The settings a budget has now, in the same shape (envelopes always listed).
    pub fn of(view: &BudgetView) -> Self {
        BudgetSettings {
            total_fen: view.total_fen,
            categories: Some(
                view.categories
                    .iter()
                    .map(|e| (e.category.clone(), e.total_fen))
                    .collect(),
            ),
            merchant_monthly_cap_fen: view.merchant_monthly_cap_fen,
        }
    }
}

/// Sets (creates or changes) a year's budget. Lowering anything below what is already
/// reserved, settled or paid is refused (409). Audited as `budget.set` by `actor`.
pub fn apply(
    conn: &mut DbConnection,
    actor: &Actor,
    year: i32,
    settings: &BudgetSettings,
) -> ApiResult<BudgetView> {
    settings.validate()?;
    let total = settings.total_fen;
    let cap = settings.merchant_monthly_cap_fen;
    // Bring what the slots hold home first: the budget rows then tell the whole truth,
    // and their locks keep every redemption of the year out until commit.
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
    if let Some(categories) = &settings.categories {
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
                    diesel::delete(budget_envelopes::table.find((year, &e.category)))
                        .execute(conn)?;
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
    // The slots get their share of the new budget now, not one by one on first use.
    super::slots::prime_year(conn, year)?;
    let after = super::view(conn, year)?.ok_or_else(|| ApiError::not_found("budget vanished"))?;
    audit::record(
        conn,
        actor,
        "budget.set",
        "budget",
        year,
        before.as_ref(),
        Some(&after),
    )?;
    Ok(after)
}
