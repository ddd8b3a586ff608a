//! `talentcard budget-verify`: the budget's books against the redemptions they stand
//! for. After a crash or a failover nothing may be reserved for a redemption that is
//! gone, and no kept redemption may be missing from the reservations.
//!
//! What each year (and each category envelope) has committed — reserved, settled and
//! paid — must equal the subsidy of its redemptions that still count: the active ones,
//! plus reversed ones that had been settled and whose negative line is not approved yet
//! (the money goes back only when that line settles).

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::budgets;

/// One year's or envelope's books against its redemptions.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub year: i32,
    /// `None` for the year's total.
    pub category: Option<String>,
    pub total_fen: i64,
    pub committed_fen: i64,
    /// The subsidy of the redemptions that still count against it.
    pub redeemed_fen: i64,
    pub remaining_fen: i64,
}

impl Account {
    pub fn ok(&self) -> bool {
        self.committed_fen == self.redeemed_fen && self.remaining_fen >= 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub ok: bool,
    pub accounts: Vec<Account>,
}

#[derive(QueryableByName)]
struct Subsidy {
    #[diesel(sql_type = diesel::sql_types::Text)]
    period: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    category: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    subsidy_fen: i64,
}

/// Reconciles every budget year. Read-only; run it against a quiet database (a drill's
/// end, a restored backup), since redemptions made meanwhile would move the figures.
pub fn reconcile(conn: &mut DbConnection) -> ApiResult<Reconciliation> {
    // Summed in the database, in one pass: a year has millions of redemptions. A line
    // counts as settled once its settlement is approved or paid.
    let still_counting: Vec<Subsidy> = diesel::sql_query(
        "SELECT r.period, r.category, CAST(COALESCE(SUM(r.subsidy_fen), 0) AS BIGINT) AS subsidy_fen \
         FROM redemptions r WHERE r.status = 'active' OR (r.status = 'reversed' \
           AND EXISTS (SELECT 1 FROM settlement_lines l JOIN settlements s ON s.id = l.settlement_id \
             WHERE l.redemption_id = r.id AND l.kind = 'redemption' AND l.active \
               AND s.status IN ('approved', 'paid')) \
           AND NOT EXISTS (SELECT 1 FROM settlement_lines l JOIN settlements s ON s.id = l.settlement_id \
             WHERE l.redemption_id = r.id AND l.kind = 'reversal' AND l.active \
               AND s.status IN ('approved', 'paid'))) \
         GROUP BY r.period, r.category",
    )
    .load(conn)?;
    // (year, category) → subsidy that still counts.
    let mut counted: BTreeMap<(i32, String), i64> = BTreeMap::new();
    for Subsidy {
        period,
        category,
        subsidy_fen,
    } in still_counting
    {
        if let Some(year) = period.get(..4).and_then(|y| y.parse::<i32>().ok()) {
            *counted.entry((year, category)).or_default() += subsidy_fen;
        }
    }

    // A year with subsidised redemptions but no budget is a mismatch too.
    let mut years: BTreeSet<i32> = budgets::table
        .select(budgets::year)
        .load::<i32>(conn)?
        .into_iter()
        .collect();
    years.extend(
        counted
            .iter()
            .filter(|(_, fen)| **fen != 0)
            .map(|((y, _), _)| *y),
    );
    let mut accounts = Vec::new();
    for year in years {
        let in_year = |category: Option<&str>| -> i64 {
            counted
                .iter()
                .filter(|((y, c), _)| *y == year && category.is_none_or(|want| want == c))
                .map(|(_, fen)| fen)
                .sum()
        };
        let Some(view) = super::view(conn, year)? else {
            accounts.push(Account {
                year,
                category: None,
                total_fen: 0,
                committed_fen: 0,
                redeemed_fen: in_year(None),
                remaining_fen: 0,
            });
            continue;
        };
        accounts.push(Account {
            year,
            category: None,
            total_fen: view.total_fen,
            committed_fen: view.reserved_fen + view.settled_fen + view.paid_fen,
            redeemed_fen: in_year(None),
            remaining_fen: view.remaining_fen,
        });
        for envelope in &view.categories {
            accounts.push(Account {
                year,
                category: Some(envelope.category.clone()),
                total_fen: envelope.total_fen,
                committed_fen: envelope.reserved_fen + envelope.settled_fen + envelope.paid_fen,
                redeemed_fen: in_year(Some(&envelope.category)),
                remaining_fen: envelope.remaining_fen,
            });
        }
    }
    let ok = accounts.iter().all(Account::ok);
    Ok(Reconciliation { ok, accounts })
}
