//! Subsidy budgets: a total per year, optional envelopes per merchant category and an
//! optional monthly cap per merchant.
//!
//! Every subsidised redemption reserves its subsidy inside the redemption's transaction
//! with conditional `UPDATE … WHERE there is room` statements, so the budget cannot be
//! overdrawn however many counters redeem at once, on however many instances; CHECK
//! constraints in the schema back this up. The year's total and each envelope are split
//! into reservation [`slots`] so counters do not all queue on one row. Rows are always
//! locked in the same order (merchant month → envelope → year; budget row before its
//! slots) so concurrent transactions cannot deadlock. The money moves reserved → settled
//! (settlement approved) → paid (payout recorded); `remaining = total − reserved −
//! settled − paid` always.

pub mod fast;
pub mod ledger;
pub mod left;
pub mod rooms;
pub mod routes;
pub mod setting;
pub mod slots;

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{budget_envelopes, budgets, merchant_month_subsidy};
pub use slots::Approach;
use slots::Scope;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = budgets)]
pub struct Budget {
    pub year: i32,
    pub total_fen: i64,
    pub merchant_monthly_cap_fen: Option<i64>,
    pub reserved_fen: i64,
    pub settled_fen: i64,
    pub paid_fen: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = budget_envelopes)]
pub struct Envelope {
    pub year: i32,
    pub category: String,
    pub total_fen: i64,
    pub reserved_fen: i64,
    pub settled_fen: i64,
    pub paid_fen: i64,
}

impl Envelope {
    pub fn committed_fen(&self) -> i64 {
        self.reserved_fen + self.settled_fen + self.paid_fen
    }
}

/// A budget as reported: the parts always add up to the total.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct BudgetView {
    pub year: i32,
    pub total_fen: i64,
    pub reserved_fen: i64,
    pub settled_fen: i64,
    pub paid_fen: i64,
    pub remaining_fen: i64,
    pub merchant_monthly_cap_fen: Option<i64>,
    pub categories: Vec<EnvelopeView>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct EnvelopeView {
    pub category: String,
    pub total_fen: i64,
    pub reserved_fen: i64,
    pub settled_fen: i64,
    pub paid_fen: i64,
    pub remaining_fen: i64,
}

pub fn find(conn: &mut DbConnection, year: i32) -> ApiResult<Option<Budget>> {
    Ok(budgets::table
        .find(year)
        .select(Budget::as_select())
        .first(conn)
        .optional()?)
}

pub fn envelopes(conn: &mut DbConnection, year: i32) -> ApiResult<Vec<Envelope>> {
    Ok(budget_envelopes::table
        .filter(budget_envelopes::year.eq(year))
        .order(budget_envelopes::category)
        .select(Envelope::as_select())
        .load(conn)?)
}

pub fn view(conn: &mut DbConnection, year: i32) -> ApiResult<Option<BudgetView>> {
    let Some(b) = find(conn, year)? else {
        return Ok(None);
    };
    // What the slots took since their last fold is reserved too.
    let used = slots::used_by_scope(conn, year)?;
    let used_in = |scope: &str| used.get(scope).copied().unwrap_or(0);
    let categories = envelopes(conn, year)?
        .into_iter()
        .map(|e| {
            let reserved_fen = e.reserved_fen + used_in(&e.category);
            EnvelopeView {
                remaining_fen: e.total_fen - reserved_fen - e.settled_fen - e.paid_fen,
                category: e.category,
                total_fen: e.total_fen,
                reserved_fen,
                settled_fen: e.settled_fen,
                paid_fen: e.paid_fen,
            }
        })
        .collect();
    let reserved_fen = b.reserved_fen + used_in("");
    Ok(Some(BudgetView {
        year: b.year,
        total_fen: b.total_fen,
        reserved_fen,
        settled_fen: b.settled_fen,
        paid_fen: b.paid_fen,
        remaining_fen: b.total_fen - reserved_fen - b.settled_fen - b.paid_fen,
        merchant_monthly_cap_fen: b.merchant_monthly_cap_fen,
        categories,
    }))
}

/// Why a subsidy could not be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No budget was set for the year: nothing can be reserved.
    NoBudget,
    YearExhausted,
    EnvelopeExhausted,
    MerchantCapReached,
}

impl Refusal {
    pub fn detail(self) -> &'static str {
        match self {
            Refusal::NoBudget => {
                "No subsidy budget is set for this year, so no subsidy can be granted."
            }
            Refusal::YearExhausted => "This year's subsidy budget is exhausted.",
            Refusal::EnvelopeExhausted => {
                "The subsidy budget for this merchant category is exhausted."
            }
            Refusal::MerchantCapReached => "This merchant has reached its monthly subsidy cap.",
        }
    }
}

/// Where a subsidy is booked: the local year and month of the redemption, the
/// merchant and its category.
#[derive(Debug, Clone)]
pub struct Booking<'a> {
    pub year: i32,
    /// Local month `YYYY-MM`.
    pub period: &'a str,
    pub merchant_id: i64,
    pub category: &'a str,
    pub amount_fen: i64,
    /// The redemption's id: it picks the reservation slot, spreading concurrent
    /// redemptions evenly over the slots.
    pub redemption_id: i64,
}

/// What a reservation must respect in a year: whether the year has a budget at all, its
/// merchant cap, and whether the category has an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub merchant_monthly_cap_fen: Option<i64>,
    pub has_envelope: bool,
}

/// The year's [`Shape`] for `category`; `None` when no budget is set for the year.
pub fn shape(conn: &mut DbConnection, year: i32, category: &str) -> ApiResult<Option<Shape>> {
    let envelope = budget_envelopes::table
        .filter(budget_envelopes::year.eq(year))
        .filter(budget_envelopes::category.eq(category.to_owned()));
    let found: Option<(Option<i64>, bool)> = budgets::table
        .find(year)
        .select((
            budgets::merchant_monthly_cap_fen,
            diesel::dsl::exists(envelope),
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(cap, has_envelope)| Shape {
        merchant_monthly_cap_fen: cap,
        has_envelope,
    }))
}

/// Reserves `booking.amount_fen` against the merchant cap, the category envelope (if the
/// year has one for this category) and the year — all or nothing: a refusal leaves no
/// trace, so the caller may go on (e.g. redeem without subsidy).
pub fn reserve(
    conn: &mut DbConnection,
    booking: &Booking<'_>,
    approach: Approach,
) -> ApiResult<Reservation> {
    let shape = shape(conn, booking.year, booking.category)?;
    reserve_in(conn, booking, shape, approach)
}

/// The outcome of [`reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Made,
    Refused(Refusal),
    /// Roll the transaction back and run it again with [`Approach::Locked`] (see
    /// [`slots::Take::Retry`]). Only the fast approach asks for this.
    Retry,
}

/// [`reserve`] with the year's shape already read (a redemption reads it together with
/// its offer, saving a round trip).
pub fn reserve_in(
    conn: &mut DbConnection,
    booking: &Booking<'_>,
    shape: Option<Shape>,
    approach: Approach,
) -> ApiResult<Reservation> {
    debug_assert!(booking.amount_fen > 0);
    let Some(Shape {
        merchant_monthly_cap_fen: cap,
        has_envelope,
    }) = shape
    else {
        return Ok(Reservation::Refused(Refusal::NoBudget));
    };
    if cap.is_none() && !has_envelope {
        // One budget to take from: no savepoint needed to undo a partial reservation.
        return match take(conn, booking, Scope::Year, Refusal::YearExhausted, approach) {
            Ok(()) => Ok(Reservation::Made),
            Err(Step::Refused(refusal)) => Ok(Reservation::Refused(refusal)),
            Err(Step::Retry) => Ok(Reservation::Retry),
            Err(Step::Failed(e)) => Err(e),
        };
    }
    let outcome = conn.transaction(|conn| {
        // Any refusal rolls the savepoint back: nothing of this reservation stays.
        if let Some(cap) = cap {
            reserve_merchant_month(conn, booking, cap)?.map_err(Step::Refused)?;
        }
        if has_envelope {
            let envelope = Scope::Envelope(booking.category);
            take(
                conn,
                booking,
                envelope,
                Refusal::EnvelopeExhausted,
                approach,
            )?;
        }
        take(conn, booking, Scope::Year, Refusal::YearExhausted, approach)
    });
    match outcome {
        Ok(()) => Ok(Reservation::Made),
        Err(Step::Refused(refusal)) => Ok(Reservation::Refused(refusal)),
        // The savepoint's rollback released whatever slot lock the fast path held, so
        // the locked approach can follow at once, in this transaction.
        Err(Step::Retry) => reserve_in(conn, booking, shape, Approach::Locked),
        Err(Step::Failed(e)) => Err(e),
    }
}

fn take(
    conn: &mut DbConnection,
    booking: &Booking<'_>,
    scope: Scope<'_>,
    exhausted: Refusal,
    approach: Approach,
) -> Result<(), Step> {
    let (year, key, amount) = (booking.year, booking.redemption_id, booking.amount_fen);
    match slots::take(conn, year, scope, key, amount, approach)? {
        slots::Take::Taken => Ok(()),
        slots::Take::NoRoom => Err(Step::Refused(exhausted)),
        slots::Take::Retry => Err(Step::Retry),
    }
}

/// A reservation step inside the savepoint: refused (roll back, not an error), to be
/// retried with the locked approach, or failed.
enum Step {
    Refused(Refusal),
    Retry,
    Failed(ApiError),
}

impl From<diesel::result::Error> for Step {
    fn from(e: diesel::result::Error) -> Self {
        Step::Failed(e.into())
    }
}

impl From<ApiError> for Step {
    fn from(e: ApiError) -> Self {
        Step::Failed(e)
    }
}

fn reserve_merchant_month(
    conn: &mut DbConnection,
    booking: &Booking<'_>,
    cap: i64,
) -> ApiResult<Result<(), Refusal>> {
    let amount = booking.amount_fen;
    if amount > cap {
        return Ok(Err(Refusal::MerchantCapReached));
    }
    let key = merchant_month_subsidy::table
        .filter(merchant_month_subsidy::merchant_id.eq(booking.merchant_id))
        .filter(merchant_month_subsidy::period.eq(booking.period));
    let add = || {
        diesel::update(key.filter(merchant_month_subsidy::subsidy_fen.le(cap - amount))).set(
            merchant_month_subsidy::subsidy_fen.eq(merchant_month_subsidy::subsidy_fen + amount),
        )
    };
    if add().execute(conn)? == 1 {
        return Ok(Ok(()));
    }
    if diesel::select(diesel::dsl::exists(key)).get_result::<bool>(conn)? {
        return Ok(Err(Refusal::MerchantCapReached));
    }
    // The merchant's first subsidy this month. A concurrent first insert wins the
    // primary key; then ours (in its own savepoint) fails and we add to the row it made.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(merchant_month_subsidy::table)
            .values((
                merchant_month_subsidy::merchant_id.eq(booking.merchant_id),
                merchant_month_subsidy::period.eq(booking.period),
                merchant_month_subsidy::subsidy_fen.eq(amount),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(Ok(())),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(if add().execute(conn)? == 1 {
            Ok(())
        } else {
            Err(Refusal::MerchantCapReached)
        }),
        Err(e) => Err(e.into()),
    }
}

/// Gives a reservation back (a reversal before settlement).
pub fn release(conn: &mut DbConnection, booking: &Booking<'_>) -> ApiResult<()> {
    let amount = booking.amount_fen;
    diesel::update(
        merchant_month_subsidy::table
            .filter(merchant_month_subsidy::merchant_id.eq(booking.merchant_id))
            .filter(merchant_month_subsidy::period.eq(booking.period)),
    )
    .set(merchant_month_subsidy::subsidy_fen.eq(merchant_month_subsidy::subsidy_fen - amount))
    .execute(conn)?;
    let reserved = Deltas {
        reserved: -amount,
        ..Deltas::default()
    };
    adjust(
        conn,
        &BTreeMap::from([((booking.year, booking.category.to_owned()), reserved)]),
    )
}

/// A change to the parts of a budget (fen; negative takes away).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deltas {
    pub reserved: i64,
    pub settled: i64,
    pub paid: i64,
}

impl Deltas {
    pub fn is_zero(&self) -> bool {
        *self == Deltas::default()
    }
}

/// Applies each `(year, category)` change to the year's budget and to its envelope for
/// the category, if any. Used by settlement (reserved → settled on approval, settled →
/// paid on payout) and by reversals (reserved released). Envelopes are changed first,
/// then the years — the lock order of a redemption. The CHECK constraints refuse any
/// move that would overdraw a part.
pub fn adjust(conn: &mut DbConnection, moves: &BTreeMap<(i32, String), Deltas>) -> ApiResult<()> {
    let mut per_year: BTreeMap<i32, Deltas> = BTreeMap::new();
    let mut folded_envelopes: Vec<(i32, &str)> = Vec::new();
    let mut folded_years: Vec<i32> = Vec::new();
    for ((year, category), deltas) in moves {
        if deltas.is_zero() {
            continue;
        }
        let total = per_year.entry(*year).or_default();
        total.reserved += deltas.reserved;
        total.settled += deltas.settled;
        total.paid += deltas.paid;
        if deltas.reserved != 0 {
            // The slots hold part of what is reserved: bring it home before taking any out.
            slots::fold(conn, *year, Scope::Envelope(category))?;
            folded_envelopes.push((*year, category));
        }
        diesel::update(budget_envelopes::table.find((*year, category)))
            .set((
                budget_envelopes::reserved_fen.eq(budget_envelopes::reserved_fen + deltas.reserved),
                budget_envelopes::settled_fen.eq(budget_envelopes::settled_fen + deltas.settled),
                budget_envelopes::paid_fen.eq(budget_envelopes::paid_fen + deltas.paid),
            ))
            .execute(conn)?;
    }
    for (year, deltas) in per_year {
        if deltas.is_zero() {
            continue;
        }
        if deltas.reserved != 0 {
            slots::fold(conn, year, Scope::Year)?;
            folded_years.push(year);
        }
        let updated = diesel::update(budgets::table.find(year))
            .set((
                budgets::reserved_fen.eq(budgets::reserved_fen + deltas.reserved),
                budgets::settled_fen.eq(budgets::settled_fen + deltas.settled),
                budgets::paid_fen.eq(budgets::paid_fen + deltas.paid),
                budgets::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        if updated == 0 {
            return Err(ApiError::internal(anyhow::anyhow!(
                "budget {year} missing while moving subsidy"
            )));
        }
    }
    // A fold leaves its slots dry; hand them their share again at once (this transaction
    // holds every lock it needs already), or the next redemptions of each slot would
    // queue on the budget row to refill it, one by one, after every settlement approval.
    for (year, category) in folded_envelopes {
        slots::prime(conn, year, Scope::Envelope(category))?;
    }
    for year in folded_years {
        slots::prime(conn, year, Scope::Year)?;
    }
    Ok(())
}

/// Takes subsidy off a merchant's monthly total (a reversal that was settled first).
pub fn uncount_merchant_month(
    conn: &mut DbConnection,
    merchant_id: i64,
    period: &str,
    amount: i64,
) -> ApiResult<()> {
    diesel::update(
        merchant_month_subsidy::table
            .filter(merchant_month_subsidy::merchant_id.eq(merchant_id))
            .filter(merchant_month_subsidy::period.eq(period)),
    )
    .set(merchant_month_subsidy::subsidy_fen.eq(merchant_month_subsidy::subsidy_fen - amount))
    .execute(conn)?;
    Ok(())
}
