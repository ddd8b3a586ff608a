//! A quoted redemption's one statement (PostgreSQL): the guard, the reservation, the row
//! and its audit entry, chained so each runs only if the one before it had a row.
//!
//! ```sql
//! WITH g AS (SELECT 1 FROM cards WHERE id = … AND xmin = … AND <nothing else moved>
//!            FOR NO KEY UPDATE),
//!      cap AS (INSERT INTO merchant_month_subsidy … WHERE EXISTS (SELECT 1 FROM g) …),
//!      env AS (UPDATE budget_slots … AND EXISTS (SELECT 1 FROM cap)),
//!      yr  AS (UPDATE budget_slots … AND EXISTS (SELECT 1 FROM env)),
//!      w1  AS (INSERT INTO redemptions … WHERE EXISTS (SELECT 1 FROM yr) RETURNING 1),
//!      w2  AS (INSERT INTO audit_events … WHERE EXISTS (SELECT 1 FROM w1))
//! SELECT count(*) FROM w1
//! ```
//!
//! For an offer with per-card limits `g` writes the card's row instead of locking it
//! (see [`Guard::limited`]).
//!
//! 1 means the redemption is made and committed (the statement is its own transaction);
//! 0 means nothing was written — a row the quote read has changed, the session ended, or
//! the budget slot was dry — and the caller redeems the usual way. The card's lock is
//! taken first and the budget's rows last, in the order every other path takes them.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

use super::Redemption;
use crate::audit;
use crate::budgets::fast::FastReservation;

/// What the quote read, which must be unchanged for the redemption to be written.
#[derive(Debug, Clone, Copy)]
pub struct Guard<'a> {
    pub card_id: i64,
    pub card_version: &'a str,
    pub user_id: i64,
    pub user_version: &'a str,
    /// The session must still be live at `now`.
    pub session_id: i64,
    pub now: NaiveDateTime,
    /// The account's and the merchant's guessing counters (`None`: no row then).
    pub account_throttle: Option<&'a str>,
    pub merchant_throttle: Option<&'a str>,
    pub offer_id: i64,
    pub offer_version: &'a str,
    pub merchant_id: i64,
    pub merchant_version: &'a str,
    /// The budget's shape the reservation was built for.
    pub budget: BudgetGuard<'a>,
    /// Whether the offer has per-card limits. Their uses are the quote's count, which
    /// stays exact as long as the card's row is the version the quote read: every
    /// redemption of a limited offer writes that row (a no-op UPDATE, a new row version)
    /// — this statement does, in place of its lock, and so does the usual way before it
    /// commits. A redemption of the card that committed after the quote, or that this
    /// statement had to wait for, leaves the card's version changed, and this statement
    /// writes nothing.
    pub limited: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct BudgetGuard<'a> {
    pub year: i32,
    pub cap: Option<i64>,
    pub category: &'a str,
    pub has_envelope: bool,
}

/// The statement. `CAP` and `ENVELOPE` give the budget's shape, `RESERVES` whether
/// there is a subsidy to reserve at all and `LIMITED` whether the offer has per-card
/// limits, so each shape is its own prepared statement.
pub struct GuardedWrite<
    'a,
    const RESERVES: bool,
    const CAP: bool,
    const ENVELOPE: bool,
    const LIMITED: bool,
> {
    guard: Guard<'a>,
    row: &'a Redemption,
    entry: &'a audit::Entry,
    reservation: Option<FastReservation<'a>>,
}

impl<'a, const RESERVES: bool, const CAP: bool, const ENVELOPE: bool, const LIMITED: bool>
    GuardedWrite<'a, RESERVES, CAP, ENVELOPE, LIMITED>
{
    pub fn new(
        guard: Guard<'a>,
        row: &'a Redemption,
        entry: &'a audit::Entry,
        reservation: Option<FastReservation<'a>>,
    ) -> Self {
        Self {
            guard,
            row,
            entry,
            reservation,
        }
    }
}

impl<const RESERVES: bool, const CAP: bool, const ENVELOPE: bool, const LIMITED: bool> QueryId
    for GuardedWrite<'_, RESERVES, CAP, ENVELOPE, LIMITED>
{
    type QueryId = GuardedWrite<'static, RESERVES, CAP, ENVELOPE, LIMITED>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const RESERVES: bool, const CAP: bool, const ENVELOPE: bool, const LIMITED: bool> Query
    for GuardedWrite<'_, RESERVES, CAP, ENVELOPE, LIMITED>
{
    type SqlType = BigInt;
}

impl<Conn, const RESERVES: bool, const CAP: bool, const ENVELOPE: bool, const LIMITED: bool>
    RunQueryDsl<Conn> for GuardedWrite<'_, RESERVES, CAP, ENVELOPE, LIMITED>
{
}

fn missing(what: &'static str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(what.into())
}

impl<const RESERVES: bool, const CAP: bool, const ENVELOPE: bool, const LIMITED: bool>
    QueryFragment<Pg> for GuardedWrite<'_, RESERVES, CAP, ENVELOPE, LIMITED>
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let g = &self.guard;
        out.push_sql(if LIMITED {
            "WITH g AS (UPDATE cards SET updated_at = cards.updated_at WHERE cards.id = "
        } else {
            "WITH g AS (SELECT 1 FROM cards WHERE cards.id = "
        });
        out.push_bind_param::<BigInt, _>(&g.card_id)?;
        out.push_sql(" AND cards.xmin::text = ");
        out.push_bind_param::<Text, _>(g.card_version)?;
        out.push_sql(
            " AND EXISTS (SELECT 1 FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = ",
        );
        out.push_bind_param::<BigInt, _>(&g.user_id)?;
        out.push_sql(" AND u.xmin::text = ");
        out.push_bind_param::<Text, _>(g.user_version)?;
        out.push_sql(" AND s.id = ");
        out.push_bind_param::<BigInt, _>(&g.session_id)?;
        out.push_sql(" AND s.ended_at IS NULL AND s.expires_at > ");
        out.push_bind_param::<Timestamp, _>(&g.now)?;
        out.push_sql(") AND (SELECT t.xmin::text FROM code_guess_throttle t WHERE t.user_id = ");
        out.push_bind_param::<BigInt, _>(&g.user_id)?;
        out.push_sql(") IS NOT DISTINCT FROM ");
        out.push_bind_param::<Nullable<Text>, _>(&g.account_throttle)?;
        out.push_sql(
            " AND (SELECT t.xmin::text FROM merchant_guess_throttle t WHERE t.merchant_id = ",
        );
        out.push_bind_param::<BigInt, _>(&g.merchant_id)?;
        out.push_sql(") IS NOT DISTINCT FROM ");
        out.push_bind_param::<Nullable<Text>, _>(&g.merchant_throttle)?;
        out.push_sql(" AND EXISTS (SELECT 1 FROM offers o WHERE o.id = ");
        out.push_bind_param::<BigInt, _>(&g.offer_id)?;
        out.push_sql(" AND o.xmin::text = ");
        out.push_bind_param::<Text, _>(g.offer_version)?;
        out.push_sql(") AND EXISTS (SELECT 1 FROM merchants m WHERE m.id = ");
        out.push_bind_param::<BigInt, _>(&g.merchant_id)?;
        out.push_sql(" AND m.xmin::text = ");
        out.push_bind_param::<Text, _>(g.merchant_version)?;
        out.push_sql(")");
        if RESERVES {
            let b = &g.budget;
            out.push_sql(" AND EXISTS (SELECT 1 FROM budgets b WHERE b.year = ");
            out.push_bind_param::<Integer, _>(&b.year)?;
            out.push_sql(" AND b.merchant_monthly_cap_fen IS NOT DISTINCT FROM ");
            out.push_bind_param::<Nullable<BigInt>, _>(&b.cap)?;
            out.push_sql(") AND EXISTS (SELECT 1 FROM budget_envelopes e WHERE e.year = ");
            out.push_bind_param::<Integer, _>(&b.year)?;
            out.push_sql(" AND e.category = ");
            out.push_bind_param::<Text, _>(b.category)?;
            out.push_sql(") = ");
            out.push_bind_param::<Bool, _>(&b.has_envelope)?;
        }
        if LIMITED {
            out.push_sql(" RETURNING 1)");
        } else {
            out.push_sql(" FOR NO KEY UPDATE)");
        }

        let mut last = "g";
        if RESERVES {
            let r = self
                .reservation
                .as_ref()
                .ok_or_else(|| missing("a reserving write without its reservation"))?;
            if CAP {
                let cap = r
                    .cap
                    .as_ref()
                    .ok_or_else(|| missing("a cap without its step"))?;
                out.push_sql(", cap AS (");
                cap.walk_after(out.reborrow(), last)?;
                out.push_sql(" RETURNING 1)");
                last = "cap";
            }
            let mut take = |name: &'static str,
                            step: &'b crate::budgets::slots::TakeFromSlot<'_>,
                            out: &mut AstPass<'_, 'b, Pg>|
             -> QueryResult<()> {
                out.push_sql(", ");
                out.push_sql(name);
                out.push_sql(" AS (");
                step.walk_ast(out.reborrow())?;
                out.push_sql(" AND EXISTS (SELECT 1 FROM ");
                out.push_sql(last);
                out.push_sql(") RETURNING 1)");
                last = name;
                Ok(())
            };
            if ENVELOPE {
                let envelope = r
                    .envelope
                    .as_ref()
                    .ok_or_else(|| missing("an envelope without its step"))?;
                take("env", envelope, &mut out)?;
            }
            take("yr", &r.year, &mut out)?;
        }

        out.push_sql(", w1 AS (");
        walk_row_insert(self.row, out.reborrow())?;
        out.push_sql(" WHERE EXISTS (SELECT 1 FROM ");
        out.push_sql(last);
        out.push_sql(") RETURNING 1), w2 AS (");
        self.entry.walk_insert_after(out.reborrow(), "w1")?;
        out.push_sql(") SELECT count(*) FROM w1");
        Ok(())
    }
}

/// `INSERT INTO redemptions (…) SELECT …`, the caller adding the condition.
fn walk_row_insert<'b>(r: &'b Redemption, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
    out.push_sql(
        "INSERT INTO redemptions (id, merchant_id, offer_id, card_id, talent_id, tier, \
         category, district, subsidy_bp, bill_fen, discount_fen, paid_fen, subsidy_fen, \
         code_window, code_slot, local_day, period, cashier_id, idempotency_key, \
         request_hash, status, disputed, created_at) SELECT ",
    );
    for (i, id) in [&r.id, &r.merchant_id, &r.offer_id, &r.card_id, &r.talent_id]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push_sql(", ");
        }
        out.push_bind_param::<BigInt, _>(id)?;
    }
    for text in [&r.tier, &r.category, &r.district] {
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(text)?;
    }
    out.push_sql(", ");
    out.push_bind_param::<Integer, _>(&r.subsidy_bp)?;
    for amount in [
        &r.bill_fen,
        &r.discount_fen,
        &r.paid_fen,
        &r.subsidy_fen,
        &r.code_window,
    ] {
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(amount)?;
    }
    out.push_sql(", ");
    out.push_bind_param::<Integer, _>(&r.code_slot)?;
    for text in [&r.local_day, &r.period] {
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(text)?;
    }
    out.push_sql(", ");
    out.push_bind_param::<BigInt, _>(&r.cashier_id)?;
    for text in [&r.idempotency_key, &r.request_hash, &r.status] {
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(text)?;
    }
    out.push_sql(", ");
    out.push_bind_param::<Bool, _>(&r.disputed)?;
    out.push_sql(", ");
    out.push_bind_param::<Timestamp, _>(&r.created_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Actor;
    use crate::budgets::slots::Approach;
    use crate::budgets::{Booking, Shape};

    fn has_static_id<T: QueryId>(_: &T) -> bool {
        T::HAS_STATIC_QUERY_ID
    }

    /// Every shape of the quoted redemption is one prepared statement (planned once per
    /// connection), its steps chained in the order every path takes the locks, and a
    /// limited offer's guard writes the card's row where the others lock it.
    #[test]
    fn each_shape_is_one_prepared_statement_chained_in_lock_order() {
        let redemption = Redemption::sample();
        let actor = Actor {
            user_id: Some(2),
            name: "cashier".into(),
        };
        let entry = redemption.creation_entry(&actor).unwrap();
        let booking = Booking {
            year: 2026,
            period: "2026-11",
            merchant_id: 1,
            category: "food",
            amount_fen: 500,
            redemption_id: 7,
        };
        let shape = Shape {
            merchant_monthly_cap_fen: Some(100_000),
            has_envelope: true,
        };
        let reservation = FastReservation::of(&booking, Some(shape), Approach::Fast);
        let guard = Guard {
            card_id: 1,
            card_version: "42",
            user_id: 2,
            user_version: "43",
            session_id: 3,
            now: crate::time::now(),
            account_throttle: None,
            merchant_throttle: Some("44"),
            offer_id: 1,
            offer_version: "45",
            merchant_id: 1,
            merchant_version: "46",
            budget: BudgetGuard {
                year: 2026,
                cap: Some(100_000),
                category: "food",
                has_envelope: true,
            },
            limited: true,
        };
        let full =
            GuardedWrite::<true, true, true, false>::new(guard, &redemption, &entry, reservation);
        assert!(full.is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(has_static_id(&full));
        let sql = diesel::debug_query::<Pg, _>(&full).to_string();
        let at = |what: &str| sql.find(what).unwrap_or_else(|| panic!("{what} in {sql}"));
        assert!(
            at("WITH g AS (SELECT 1 FROM cards") < at("cap AS (INSERT INTO merchant_month_subsidy")
        );
        assert!(at("cap AS") < at("env AS (UPDATE budget_slots"));
        assert!(at("env AS") < at("yr AS (UPDATE budget_slots"));
        assert!(at("yr AS") < at("w1 AS (INSERT INTO redemptions"));
        assert!(at("w1 AS") < at("w2 AS (INSERT INTO audit_events"));
        assert!(
            sql.contains("AND EXISTS (SELECT 1 FROM env) RETURNING 1)"),
            "{sql}"
        );
        assert!(
            sql.contains("WHERE EXISTS (SELECT 1 FROM yr) RETURNING 1)"),
            "{sql}"
        );
        assert!(sql.contains("FOR NO KEY UPDATE)"), "{sql}");
        assert!(sql.contains(") SELECT count(*) FROM w1"), "{sql}");

        let limited =
            GuardedWrite::<false, false, false, true>::new(guard, &redemption, &entry, None);
        assert!(limited.is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(has_static_id(&limited));
        let sql = diesel::debug_query::<Pg, _>(&limited).to_string();
        assert!(
            sql.starts_with("WITH g AS (UPDATE cards SET updated_at = cards.updated_at"),
            "{sql}"
        );
        assert!(!sql.contains("FOR NO KEY UPDATE"), "{sql}");
        assert!(!sql.contains("budget_slots"), "nothing to reserve: {sql}");
        assert!(
            sql.contains("WHERE EXISTS (SELECT 1 FROM g) RETURNING 1)"),
            "{sql}"
        );
    }
}
