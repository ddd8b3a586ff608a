//! The K reservation slots of a budget (see migration `budget_slots`).
//!
//! Every subsidised redemption must take its subsidy out of the year's budget. Were that
//! one row, every counter in the city would queue on its lock until commit. So each
//! budget — the year's total (scope `""`) and each category envelope — is split into
//! [`SLOTS`] rows. A slot holds `room_fen` handed to it from the budget and `used_fen`,
//! what redemptions took from that room since the last fold. A redemption touches only
//! the one slot its id picks, with a conditional `UPDATE … WHERE room_fen >= amount`.
//!
//! Room is handed out, or taken back from every slot, only by a transaction holding the
//! budget row's lock, so "room for exactly 3" still grants exactly 3: a redemption is
//! refused only after all room has been reclaimed under every slot's lock and the budget
//! still cannot cover it. Locks are taken budget row first, then slots, and envelopes
//! before the year, everywhere, so these paths cannot deadlock.

use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::{budget_envelopes, budget_slots, budgets};

/// Slots per budget. With the id-picked slot, 16 lets far more counters redeem at once
/// than a 2-core database commits; the cost is 16 small rows read by `GET /budgets`.
pub const SLOTS: i32 = 16;

/// Which budget a slot belongs to: the year's total or one category's envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Year,
    Envelope(&'a str),
}

impl<'a> Scope<'a> {
    fn key(self) -> &'a str {
        match self {
            Scope::Year => "",
            Scope::Envelope(category) => category,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = budget_slots)]
struct Slot {
    slot: i32,
    room_fen: i64,
    used_fen: i64,
}

/// A [`Slot`]'s columns, for `RETURNING` (diesel's `as_returning` does not reach through
/// the multi-backend connection).
const SLOT_COLUMNS: (
    budget_slots::slot,
    budget_slots::room_fen,
    budget_slots::used_fen,
) = (
    budget_slots::slot,
    budget_slots::room_fen,
    budget_slots::used_fen,
);

/// The parts of a budget row that decide how much room is left.
struct Parent {
    total_fen: i64,
    committed_fen: i64,
}

type PartsRow = (i64, i64, i64, i64);

/// Reads the budget row (year or envelope) and takes its lock until commit; `None` when
/// there is no such budget.
fn lock_parent(conn: &mut DbConnection, year: i32, scope: Scope<'_>) -> ApiResult<Option<Parent>> {
    let row: Option<PartsRow> = match scope {
        // A no-op UPDATE is the row lock both backends understand (SQLite writers are
        // serialised by BEGIN IMMEDIATE anyway).
        Scope::Year => diesel::update(budgets::table.find(year))
            .set(budgets::updated_at.eq(budgets::updated_at))
            .returning((
                budgets::total_fen,
                budgets::reserved_fen,
                budgets::settled_fen,
                budgets::paid_fen,
            ))
            .get_result(conn)
            .optional()?,
        Scope::Envelope(category) => diesel::update(budget_envelopes::table.find((year, category)))
            .set(budget_envelopes::total_fen.eq(budget_envelopes::total_fen))
            .returning((
                budget_envelopes::total_fen,
                budget_envelopes::reserved_fen,
                budget_envelopes::settled_fen,
                budget_envelopes::paid_fen,
            ))
            .get_result(conn)
            .optional()?,
    };
    Ok(row.map(|(total, reserved, settled, paid)| Parent {
        total_fen: total,
        committed_fen: reserved + settled + paid,
    }))
}

fn add_to_parent_reserved(
    conn: &mut DbConnection,
    year: i32,
    scope: Scope<'_>,
    amount: i64,
) -> ApiResult<()> {
    match scope {
        Scope::Year => diesel::update(budgets::table.find(year))
            .set(budgets::reserved_fen.eq(budgets::reserved_fen + amount))
            .execute(conn)?,
        Scope::Envelope(category) => diesel::update(budget_envelopes::table.find((year, category)))
            .set(budget_envelopes::reserved_fen.eq(budget_envelopes::reserved_fen + amount))
            .execute(conn)?,
    };
    Ok(())
}

type ScopeSlots<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<budget_slots::table, diesel::dsl::Eq<budget_slots::year, i32>>,
    diesel::dsl::Eq<budget_slots::scope, &'a str>,
>;

fn scope_slots<'a>(year: i32, scope: Scope<'a>) -> ScopeSlots<'a> {
    budget_slots::table
        .filter(budget_slots::year.eq(year))
        .filter(budget_slots::scope.eq(scope.key()))
}

/// Every slot of the budget, locked until commit (waiting for the redemptions in flight
/// on them).
fn lock_slots(conn: &mut DbConnection, year: i32, scope: Scope<'_>) -> ApiResult<Vec<Slot>> {
    Ok(diesel::update(scope_slots(year, scope))
        .set(budget_slots::room_fen.eq(budget_slots::room_fen))
        .returning(SLOT_COLUMNS)
        .get_results(conn)?)
}

/// How a reservation approaches its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approach {
    /// One conditional UPDATE of the slot, nothing else: the path of nearly every
    /// redemption.
    Fast,
    /// The budget row's lock first, then the slot, refilling it when it is dry.
    Locked,
}

/// What [`take`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    Taken,
    /// The budget cannot cover the amount, even with every slot's room taken back.
    NoRoom,
    /// The slot was dry on the fast path. The failed UPDATE may still hold the slot's
    /// lock (PostgreSQL keeps the lock it takes to recheck a concurrently updated row),
    /// and waiting for the budget row while holding a slot would deadlock against a
    /// fold, which holds the budget row and waits for every slot. So the caller rolls
    /// back what holds the lock and tries again with [`Approach::Locked`].
    Retry,
}

/// Takes `amount` fen for one redemption from the slot `slot_key` picks.
pub fn take(
    conn: &mut DbConnection,
    year: i32,
    scope: Scope<'_>,
    slot_key: i64,
    amount: i64,
    approach: Approach,
) -> ApiResult<Take> {
    let fast = TakeFromSlot::new(year, scope, slot_key, amount);
    let parent = match approach {
        Approach::Fast => None,
        Approach::Locked => match lock_parent(conn, year, scope)? {
            Some(parent) => Some(parent),
            None => return Ok(Take::NoRoom),
        },
    };
    if fast.execute(conn)? == 1 {
        return Ok(Take::Taken);
    }
    match parent {
        None => Ok(Take::Retry),
        Some(parent) => refill_and_take(conn, year, scope, fast.slot, amount, parent),
    }
}

/// `UPDATE budget_slots … WHERE room_fen >= amount` for one slot: every subsidised
/// redemption runs it. Written out rather than with `diesel::update`, because diesel
/// never keeps an UPDATE as a prepared statement, so PostgreSQL parsed and planned this
/// one on every redemption (pg_stat_statements: plans = calls).
///
/// It changes one row when it took the amount, none when the slot was dry.
#[derive(Debug, Clone, Copy)]
pub struct TakeFromSlot<'a> {
    year: i32,
    scope: &'a str,
    slot: i32,
    amount: i64,
}

impl<'a> TakeFromSlot<'a> {
    /// Taking `amount` from the slot `slot_key` picks.
    pub fn new(year: i32, scope: Scope<'a>, slot_key: i64, amount: i64) -> Self {
        TakeFromSlot {
            year,
            scope: scope.key(),
            slot: slot_key.rem_euclid(i64::from(SLOTS)) as i32,
            amount,
        }
    }
}

impl QueryId for TakeFromSlot<'_> {
    type QueryId = TakeFromSlot<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for TakeFromSlot<'_>
where
    DB: Backend,
    i32: ToSql<Integer, DB>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE budget_slots SET room_fen = room_fen - ");
        out.push_bind_param::<BigInt, _>(&self.amount)?;
        out.push_sql(", used_fen = used_fen + ");
        out.push_bind_param::<BigInt, _>(&self.amount)?;
        out.push_sql(" WHERE year = ");
        out.push_bind_param::<Integer, _>(&self.year)?;
        out.push_sql(" AND scope = ");
        out.push_bind_param::<Text, _>(self.scope)?;
        out.push_sql(" AND slot = ");
        out.push_bind_param::<Integer, _>(&self.slot)?;
        out.push_sql(" AND room_fen >= ");
        out.push_bind_param::<BigInt, _>(&self.amount)
    }
}

impl<Conn> RunQueryDsl<Conn> for TakeFromSlot<'_> {}

/// The slow path: the slot lacks room and we hold the budget row's lock. Hand the slot a
/// share of the unassigned room — or, if there is too little, take back every slot's
/// room first.
fn refill_and_take(
    conn: &mut DbConnection,
    year: i32,
    scope: Scope<'_>,
    slot: i32,
    amount: i64,
    parent: Parent,
) -> ApiResult<Take> {
    let slots: Vec<Slot> = scope_slots(year, scope)
        .select(Slot::as_select())
        .load(conn)?;
    create_missing(conn, year, scope, &slots)?;
    // Redemptions move fen from room to used, leaving room + used of a slot unchanged;
    // only holders of the budget lock change that sum. So this read stays true.
    let handed_out: i64 = slots.iter().map(|s| s.room_fen + s.used_fen).sum();
    let mut free = parent.total_fen - parent.committed_fen - handed_out;
    if free < amount {
        // Take every slot's room back (waiting for the redemptions in flight on them);
        // what they used is unchanged by this, so the returned rows tell it.
        let reclaimed: Vec<Slot> = diesel::update(scope_slots(year, scope))
            .set(budget_slots::room_fen.eq(0))
            .returning(SLOT_COLUMNS)
            .get_results(conn)?;
        let used: i64 = reclaimed.iter().map(|s| s.used_fen).sum();
        free = parent.total_fen - parent.committed_fen - used;
        if free < amount {
            return Ok(Take::NoRoom);
        }
    }
    // A share of what is free, so the next few redemptions on this slot take the fast
    // path; near the end of a budget the shares shrink to exactly what is asked.
    let grant = (free / i64::from(SLOTS)).clamp(amount, free);
    diesel::update(scope_slots(year, scope).filter(budget_slots::slot.eq(slot)))
        .set((
            budget_slots::room_fen.eq(budget_slots::room_fen + (grant - amount)),
            budget_slots::used_fen.eq(budget_slots::used_fen + amount),
        ))
        .execute(conn)?;
    Ok(Take::Taken)
}

/// Makes the slots `slots` lacks, empty. Under the budget lock, so no one races us here;
/// one row at a time, as a multi-row INSERT is not portable across the backends.
fn create_missing(
    conn: &mut DbConnection,
    year: i32,
    scope: Scope<'_>,
    slots: &[Slot],
) -> ApiResult<()> {
    for missing in (0..SLOTS).filter(|s| !slots.iter().any(|have| have.slot == *s)) {
        diesel::insert_into(budget_slots::table)
            .values((
                budget_slots::year.eq(year),
                budget_slots::scope.eq(scope.key()),
                budget_slots::slot.eq(missing),
                budget_slots::room_fen.eq(0),
                budget_slots::used_fen.eq(0),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Hands every slot of the budget a share of its free room, making the slots that are
/// missing. Without it the first redemptions after a budget is set all found their slot
/// dry and queued on the budget row while it filled one slot at a time: the first second
/// of every loadgen run had a 150–180 ms worst case (BENCHMARKS.md). Half of what is free
/// goes out, a 32nd to each slot; the rest stays with the budget for refills, so a budget
/// near its end is still shared out exactly. Call it after a change of the budget is
/// complete: room is handed out from the totals as they then stand.
pub fn prime(conn: &mut DbConnection, year: i32, scope: Scope<'_>) -> ApiResult<()> {
    let Some(parent) = lock_parent(conn, year, scope)? else {
        return Ok(());
    };
    let slots = lock_slots(conn, year, scope)?;
    create_missing(conn, year, scope, &slots)?;
    let handed_out: i64 = slots.iter().map(|s| s.room_fen + s.used_fen).sum();
    let share = (parent.total_fen - parent.committed_fen - handed_out) / (2 * i64::from(SLOTS));
    if share > 0 {
        diesel::update(scope_slots(year, scope))
            .set(budget_slots::room_fen.eq(budget_slots::room_fen + share))
            .execute(conn)?;
    }
    Ok(())
}

/// [`prime`] for every budget of the year, in the lock order (see [`each_scope`]).
pub fn prime_year(conn: &mut DbConnection, year: i32) -> ApiResult<()> {
    each_scope(conn, year, prime)
}

/// Runs `step` on every envelope of the year (in category order), then on the year
/// itself: the lock order every path keeps.
fn each_scope(
    conn: &mut DbConnection,
    year: i32,
    step: fn(&mut DbConnection, i32, Scope<'_>) -> ApiResult<()>,
) -> ApiResult<()> {
    let categories: Vec<String> = budget_envelopes::table
        .filter(budget_envelopes::year.eq(year))
        .order(budget_envelopes::category)
        .select(budget_envelopes::category)
        .load(conn)?;
    for category in &categories {
        step(conn, year, Scope::Envelope(category))?;
    }
    step(conn, year, Scope::Year)
}

/// Moves what the slots took into the budget row's `reserved_fen` and takes their room
/// back, under the budget row's and every slot's lock. Anything that lowers `reserved_fen`
/// or reads the budget row's parts to change them folds first.
pub fn fold(conn: &mut DbConnection, year: i32, scope: Scope<'_>) -> ApiResult<()> {
    if lock_parent(conn, year, scope)?.is_none() {
        return Ok(());
    }
    let locked = lock_slots(conn, year, scope)?;
    if locked.iter().all(|s| s.room_fen == 0 && s.used_fen == 0) {
        return Ok(());
    }
    diesel::update(scope_slots(year, scope))
        .set((budget_slots::room_fen.eq(0), budget_slots::used_fen.eq(0)))
        .execute(conn)?;
    let used = locked.iter().map(|s| s.used_fen).sum();
    add_to_parent_reserved(conn, year, scope, used)
}

/// [`fold`] for every budget of the year, in the lock order (see [`each_scope`]).
pub fn fold_year(conn: &mut DbConnection, year: i32) -> ApiResult<()> {
    each_scope(conn, year, fold)
}

/// Removes an envelope's slots (the envelope is being removed; it was folded first).
pub fn drop_envelope_slots(conn: &mut DbConnection, year: i32, category: &str) -> ApiResult<()> {
    diesel::delete(scope_slots(year, Scope::Envelope(category))).execute(conn)?;
    Ok(())
}

/// What the slots have taken since their last fold, per scope (`""` = the year).
pub fn used_by_scope(
    conn: &mut DbConnection,
    year: i32,
) -> ApiResult<std::collections::HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = budget_slots::table
        .filter(budget_slots::year.eq(year))
        .select((budget_slots::scope, budget_slots::used_fen))
        .load(conn)?;
    let mut used = std::collections::HashMap::new();
    for (scope, fen) in rows {
        *used.entry(scope).or_insert(0) += fen;
    }
    Ok(used)
}
