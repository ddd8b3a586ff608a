//! The quoted path (PostgreSQL): a sale at a counter is a quote and then a redemption of
//! the same code by the same session, seconds apart. The quote's read already holds what
//! the redemption checks — the card, the caller, the merchant, the offers and the
//! budget's shape — so it is kept here, with each row's version ([`crate::db::version`]),
//! and the redemption that follows is decided from it and written as one statement that
//! also confirms nothing it relied on has changed ([`super::guarded`]): one round trip
//! instead of four (BEGIN, counter read, write, COMMIT).
//!
//! Whatever the statement finds moved — the card suspended or redeemed for a limited
//! offer, the session ended, the offer or merchant edited, a guessing counter bumped,
//! the budget reshaped or its slot dry — it writes nothing, and the redemption runs the
//! usual way, which decides from what is there now. So does every case this path does
//! not take: no quote here (another instance's, or none), anything the kept read would
//! refuse (the usual way words the refusal), SQLite.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::Redemption;
use super::eligibility::limit_refusal;
use super::guarded::{BudgetGuard, Guard, GuardedWrite};
use super::redeem::{CounterMerchant, Made, RedeemRequest, decided};
use crate::audit;
use crate::auth::principal::{Claimed, MerchantStaff};
use crate::budgets::fast::FastReservation;
use crate::budgets::{Shape, slots::Approach};
use crate::cards::Card;
use crate::codes::guard::Failures;
use crate::codes::{self, CodeId};
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::offers::Offer;
use crate::users::SessionUser;

/// How long a quote stays ready for its redemption: a cashier confirms within seconds,
/// and a code is accepted only in its 60-second window (give or take the clock skew).
const KEPT_FOR: Duration = Duration::from_secs(120);

/// Most quotes kept at once (1–2 KiB each). A redemption takes its quote at once, so
/// only abandoned quotes pile up; when they reach this, the expired ones go, and if that
/// is not enough, all of them (their sales then take the usual way).
const MOST_KEPT: usize = 5_000;

/// What a quote read, as the redemption of the same code needs it.
#[derive(Debug)]
pub struct QuotedSale {
    pub(super) card: Card,
    pub(super) card_version: String,
    pub(super) talent_name: String,
    pub(super) user: (SessionUser, Option<i64>),
    pub(super) user_version: String,
    pub(super) failures: Failures,
    pub(super) throttles: (Option<String>, Option<String>),
    pub(super) merchant: CounterMerchant,
    pub(super) merchant_version: String,
    /// The merchant's live offers, each with its version.
    pub(super) offers: Vec<KeptOffer>,
    /// The year's budget shape for the merchant's category (`None`: no budget).
    pub(super) shape: Option<Shape>,
    pub(super) year: i32,
}

/// A live offer as the quote read it, with the card's uses of it when it limits them.
#[derive(Debug)]
pub struct KeptOffer {
    pub(super) offer: Offer,
    pub(super) version: String,
    pub(super) used_today: i64,
    pub(super) used_this_month: i64,
}

/// The quotes kept for their redemptions, by session and code.
#[derive(Default)]
pub struct QuotedSales {
    kept: Mutex<HashMap<(i64, CodeId), (Instant, QuotedSale)>>,
    /// Redemption ids drawn ahead from the sequence (see [`QuotedSales::next_id`]).
    ids: Mutex<Vec<i64>>,
}

/// Ids drawn from the sequence at once: one statement per this many quoted redemptions.
const IDS_AT_ONCE: i64 = 64;

impl QuotedSales {
    pub fn keep(&self, session_id: i64, code: CodeId, sale: QuotedSale) {
        let now = Instant::now();
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= MOST_KEPT {
            kept.retain(|_, (at, _)| now.duration_since(*at) < KEPT_FOR);
            if kept.len() >= MOST_KEPT {
                kept.clear();
            }
        }
        kept.insert((session_id, code), (now, sale));
    }

    /// The quote of this code by this session, if one is kept and recent; taken, so a
    /// second redemption of the code (refused as used) never finds it.
    fn take(&self, session_id: i64, code: CodeId) -> Option<QuotedSale> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let (at, sale) = kept.remove(&(session_id, code))?;
        (at.elapsed() < KEPT_FOR).then_some(sale)
    }

    /// An id for a redemption row, from a block drawn ahead: its audit entry names the
    /// row before the one statement writes both. Unused ids are gaps, as a rolled-back
    /// transaction leaves in any sequence.
    fn next_id(&self, pg: &mut PgConnection) -> QueryResult<i64> {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if ids.is_empty() {
            let drawn: Vec<DrawnId> = diesel::sql_query(format!(
                "SELECT nextval('redemptions_id_seq') AS id FROM generate_series(1, {IDS_AT_ONCE})"
            ))
            .load(pg)?;
            // Popped from the end: the smallest first.
            ids.extend(drawn.into_iter().rev().map(|d| d.id));
        }
        ids.pop()
            .ok_or_else(|| diesel::result::Error::QueryBuilderError("no id drawn".into()))
    }
}

#[derive(QueryableByName)]
struct DrawnId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// What [`redeem_quoted`] did.
pub enum Quoted {
    /// The redemption is made and committed.
    Made(Box<Made>),
    /// There was a quote, but something it read has moved (or the usual way must answer
    /// for another reason): nothing was written.
    Moved,
    /// No quote of this code by this session is kept here.
    NotQuoted,
}

/// The redemption of a code this session quoted, in one statement, when nothing it
/// relied on has moved (see the module's header). Errors are the connection's.
pub fn redeem_quoted(
    conn: &mut DbConnection,
    sales: &QuotedSales,
    claimed: &Claimed<MerchantStaff>,
    req: &RedeemRequest,
    code: CodeId,
    now: NaiveDateTime,
) -> ApiResult<Quoted> {
    let DbConnection::Pg(pg) = conn else {
        return Ok(Quoted::NotQuoted);
    };
    let Some(sale) = sales.take(claimed.session_id(), code) else {
        return Ok(Quoted::NotQuoted);
    };
    Ok(
        match redeem_sale(pg, sales, sale, claimed, req, code, now)? {
            Some(made) => Quoted::Made(Box::new(made)),
            None => Quoted::Moved,
        },
    )
}

fn redeem_sale(
    pg: &mut PgConnection,
    sales: &QuotedSales,
    sale: QuotedSale,
    claimed: &Claimed<MerchantStaff>,
    req: &RedeemRequest,
    code: CodeId,
    now: NaiveDateTime,
) -> ApiResult<Option<Made>> {
    let QuotedSale {
        card,
        card_version,
        talent_name,
        user,
        user_version,
        failures,
        throttles,
        merchant,
        merchant_version,
        offers,
        shape,
        year,
    } = sale;
    // As the usual way would judge them, from the rows the statement confirms unchanged.
    let Ok(staff) = super::Caller::Token(claimed).admit(Some(user), failures, now) else {
        return Ok(None);
    };
    let Some(quoted) = offers.iter().find(|o| o.offer.id == req.offer_id) else {
        return Ok(None);
    };
    let (offer, offer_version) = (&quoted.offer, &quoted.version);
    // The quote's count is still the card's (see [`Guard::limited`]); used up, the usual way
    // says so.
    if limit_refusal(offer, quoted.used_today, quoted.used_this_month).is_some()
        || staff.merchant_id != Some(merchant.id)
    {
        return Ok(None);
    }
    let Ok(verified) = codes::check_card(|_| Ok(Some(card)), code, now) else {
        return Ok(None);
    };
    let id = sales.next_id(pg)?;
    let Ok(redemption) = decided(id, &staff, &merchant, offer, &verified.card, code, req, now)
    else {
        return Ok(None);
    };
    let booking = redemption.booking();
    // The budget's shape was read for the quote's year.
    if booking.year != year {
        return Ok(None);
    }
    let entry = redemption.creation_entry(&staff.actor())?;
    let limited = offer.per_card_daily.is_some() || offer.per_card_monthly.is_some();
    let guard = Guard {
        card_id: verified.card.id,
        card_version: &card_version,
        user_id: staff.user_id,
        user_version: &user_version,
        session_id: claimed.session_id(),
        now,
        account_throttle: throttles.0.as_deref(),
        merchant_throttle: throttles.1.as_deref(),
        offer_id: offer.id,
        offer_version,
        merchant_id: merchant.id,
        merchant_version: &merchant_version,
        budget: BudgetGuard {
            year,
            cap: shape.and_then(|s| s.merchant_monthly_cap_fen),
            category: &merchant.category,
            has_envelope: shape.is_some_and(|s| s.has_envelope),
        },
        limited,
    };
    let reservation = if redemption.subsidy_fen == 0 {
        None
    } else {
        match FastReservation::of(&booking, shape, Approach::Fast) {
            Some(r) => Some(r),
            // No budget, or a subsidy above the cap: the usual way refuses it.
            None => return Ok(None),
        }
    };
    let written = write(pg, guard, &redemption, &entry, reservation);
    match written {
        Ok(1) => Ok(Some(Made::new(
            redemption,
            &merchant,
            offer,
            &verified.card,
            &talent_name,
        ))),
        Ok(_) => Ok(None),
        // A used code or a reused key: the usual way tells which and answers for it.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The one statement of the redemption's shape.
fn write(
    pg: &mut PgConnection,
    guard: Guard<'_>,
    redemption: &Redemption,
    entry: &audit::Entry,
    reservation: Option<FastReservation<'_>>,
) -> QueryResult<i64> {
    macro_rules! run {
        ($reserves:literal, $cap:literal, $envelope:literal) => {
            if guard.limited {
                GuardedWrite::<$reserves, $cap, $envelope, true>::new(
                    guard,
                    redemption,
                    entry,
                    reservation,
                )
                .get_result(pg)
            } else {
                GuardedWrite::<$reserves, $cap, $envelope, false>::new(
                    guard,
                    redemption,
                    entry,
                    reservation,
                )
                .get_result(pg)
            }
        };
    }
    match reservation.map(|r| (r.cap.is_some(), r.envelope.is_some())) {
        None => run!(false, false, false),
        Some((false, false)) => run!(true, false, false),
        Some((true, false)) => run!(true, true, false),
        Some((false, true)) => run!(true, false, true),
        Some((true, true)) => run!(true, true, true),
    }
}
