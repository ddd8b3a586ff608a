//! The redeem path: the request, the one read and the one write transaction a redemption
//! is (see [`super`]), the replay of an Idempotency-Key, and who the caller is.

use actix_web::http::StatusCode;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::eligibility::{
    active_merchant, eligibility, inactive_merchant, limit_refusal, uses_so_far,
};
use super::{
    Caller, Redemption, RedemptionView, local_keys, merchant_of, problem, session, view, write,
};
use crate::auth::Principal;
use crate::budgets::{self, Approach, Reservation};
use crate::cards::Card;
use crate::codes::guard::Failures;
use crate::codes::{self, CodeId};
use crate::db::{DbConnection, ForNoKeyUpdateOf, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::merchants::MerchantStatus;
use crate::offers::Offer;
use crate::offers::money::{self, Fen};
use crate::schema::{
    cards as cards_table, merchants as merchants_table, offers as offers_table, redemptions,
    talents,
};
use crate::secrets::Secrets;
use crate::users::SessionUser;

/// Everything a counter sends to redeem.
#[derive(Debug, Clone)]
pub struct RedeemRequest {
    pub code: String,
    pub bill: Fen,
    pub offer_id: i64,
    pub idempotency_key: String,
}

impl RedeemRequest {
    /// Identifies the request body, to tell a retry from a different request that
    /// reuses an Idempotency-Key.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::json!([self.code.trim(), self.bill.get(), self.offer_id]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// A redemption made now, or the one an earlier request with the same key made.
pub enum Redeemed {
    Created(Redemption),
    Replayed(Redemption),
}

/// The first result of an Idempotency-Key, if any; a different body is refused.
pub fn replay(
    conn: &mut DbConnection,
    merchant_id: i64,
    req: &RedeemRequest,
) -> ApiResult<Option<Redemption>> {
    let existing = redemptions::table
        .filter(redemptions::merchant_id.eq(merchant_id))
        .filter(redemptions::idempotency_key.eq(&req.idempotency_key))
        .select(Redemption::as_select())
        .first(conn)
        .optional()?;
    match existing {
        Some(r) if r.request_hash == req.fingerprint() => Ok(Some(r)),
        Some(_) => Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_mismatch",
            "This Idempotency-Key was already used for a different redemption request.",
        )),
        None => Ok(None),
    }
}

/// What a redemption needs of the merchant: the rest of the row (licence, bank, contact)
/// would only widen the hot read.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = merchants_table)]
pub(super) struct CounterMerchant {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) category: String,
    pub(super) district: String,
    pub(super) status: String,
}

/// The offer, its merchant and the shape of this year's budget for the merchant's
/// category.
type OfferSide = (CounterMerchant, Offer, Option<budgets::Shape>);

/// Everything a redemption checks, from one read (see [`counter_read`]).
struct CounterRead {
    card: Card,
    talent_name: String,
    /// The caller's user row and, if still running, its session.
    user: (SessionUser, Option<i64>),
    failures: Failures,
    /// `None` when the caller's merchant has no such offer.
    offer_side: Option<OfferSide>,
    /// The id the redemption will have (see [`write::NextRedemptionId`]).
    next_id: i64,
}

/// The card, its row locked until commit (redemptions of one card queue here, so the
/// per-card limit counts that follow are exact), its talent's name, the caller's user
/// row and failed code checks, and the offer of the caller's merchant with that
/// merchant and the budget shape: one statement. `None` when there is no such card (or
/// user).
fn counter_read(
    conn: &mut DbConnection,
    card_id: i64,
    (user_id, session_id): (i64, i64),
    offer_id: i64,
    year: i32,
    now: NaiveDateTime,
) -> ApiResult<Option<CounterRead>> {
    use crate::schema::{
        budget_envelopes, budgets as budgets_table, code_guess_throttle as throttle,
        merchant_guess_throttle as merchant_throttle, sessions, users,
    };
    // Card, talent name, user, its and its merchant's failures, and from the left joins:
    // offer, merchant, budget year, its cap, envelope category.
    type Row = (
        Card,
        String,
        SessionUser,
        Option<i64>,
        (codes::guard::Counted, codes::guard::Counted),
        Option<Offer>,
        Option<CounterMerchant>,
        Option<i32>,
        Option<i64>,
        Option<String>,
        i64,
    );
    // A macro, not a value: `as_select` is typed per backend, and each arm needs its own.
    macro_rules! query {
        () => {
            cards_table::table
                .inner_join(talents::table)
                .inner_join(users::table.on(users::id.eq(user_id)))
                .left_join(sessions::table.on(crate::auth::session::live(session_id, now)))
                .left_join(throttle::table.on(throttle::user_id.eq(users::id)))
                .left_join(
                    merchant_throttle::table.on(merchant_throttle::merchant_id
                        .nullable()
                        .eq(users::merchant_id)),
                )
                .left_join(
                    offers_table::table.on(offers_table::id
                        .eq(offer_id)
                        .and(offers_table::merchant_id.nullable().eq(users::merchant_id))),
                )
                .left_join(
                    merchants_table::table.on(merchants_table::id.eq(offers_table::merchant_id)),
                )
                .left_join(budgets_table::table.on(budgets_table::year.eq(year)))
                .left_join(
                    budget_envelopes::table.on(budget_envelopes::year
                        .eq(year)
                        .and(budget_envelopes::category.eq(merchants_table::category))),
                )
                .filter(cards_table::id.eq(card_id))
                .select((
                    Card::as_select(),
                    talents::name,
                    SessionUser::as_select(),
                    sessions::id.nullable(),
                    (
                        (throttle::failures, throttle::window_start).nullable(),
                        (merchant_throttle::failures, merchant_throttle::window_start).nullable(),
                    ),
                    Option::<Offer>::as_select(),
                    Option::<CounterMerchant>::as_select(),
                    budgets_table::year.nullable(),
                    budgets_table::merchant_monthly_cap_fen.nullable(),
                    budget_envelopes::category.nullable(),
                    write::NextRedemptionId,
                ))
                .limit(1)
        };
    }
    let found: Option<Row> = match conn {
        // The lock an UPDATE of the card would take, without writing a new row version
        // and its index entries on every redemption; `OF cards`, as diesel's own locking
        // clause would lock every joined row.
        DbConnection::Pg(pg) => ForNoKeyUpdateOf::new(query!(), cards_table::table)
            .get_result(pg)
            .optional()?,
        // SQLite's BEGIN IMMEDIATE has already serialised every writer.
        DbConnection::Sqlite(lite) => query!().get_result(lite).optional()?,
    };
    Ok(found.map(
        |(
            card,
            talent_name,
            user,
            session,
            (account_failures, merchant_failures),
            offer,
            merchant,
            budget_year,
            cap,
            envelope,
            next_id,
        )| {
            let offer_side = offer.zip(merchant).map(|(offer, merchant)| {
                let shape = budget_year.map(|_| budgets::Shape {
                    merchant_monthly_cap_fen: cap,
                    has_envelope: envelope.is_some(),
                });
                (merchant, offer, shape)
            });
            CounterRead {
                card,
                talent_name,
                user: (user, session),
                failures: Failures::new(account_failures, merchant_failures),
                offer_side,
                next_id,
            }
        },
    ))
}

/// Prepares the redemption's reads (see [`super::warm_up`]); its write is prepared by
/// the first redemption.
pub(super) fn warm_up(conn: &mut DbConnection, now: NaiveDateTime) -> ApiResult<()> {
    let (day, period, year) = local_keys(now);
    counter_read(conn, 0, (0, 0), 0, year, now)?;
    uses_so_far(conn, 0, 0, &day, &period)?;
    Ok(())
}

/// Redeems a code submitted as text (decoding it first), for staff already
/// authenticated. The HTTP handler decodes the code itself and calls [`redeem_code`] with
/// [`Caller::Token`], so the session is confirmed within the redemption's own read.
pub fn redeem(
    conn: &mut DbConnection,
    secrets: &Secrets,
    staff: &Principal,
    req: &RedeemRequest,
    now: NaiveDateTime,
) -> ApiResult<Made> {
    let code = codes::decode(&secrets.code, &req.code, now).map_err(|e| e.to_api())?;
    redeem_code(conn, Caller::Staff(staff), req, code, now)
}

/// Redeems a decoded code in one write transaction. Nearly always that is the one
/// transaction; when the budget slot it drew was dry, the transaction is rolled back and
/// run once more taking the budget row's lock first (see [`budgets::slots::Take::Retry`]).
pub fn redeem_code(
    conn: &mut DbConnection,
    caller: Caller,
    req: &RedeemRequest,
    code: CodeId,
    now: NaiveDateTime,
) -> ApiResult<Made> {
    let attempt = |conn: &mut DbConnection, approach| {
        write_tx(conn, |conn| {
            redeem_decoded(conn, caller, req, code, now, approach)
        })
    };
    match attempt(conn, Approach::Fast) {
        Ok(made) => Ok(made),
        Err(Attempt::Refused(e)) => Err(e),
        Err(Attempt::RetryLocked) => match attempt(conn, Approach::Locked) {
            Ok(made) => Ok(made),
            Err(Attempt::Refused(e)) => Err(e),
            Err(Attempt::RetryLocked) => Err(ApiError::internal(anyhow::anyhow!(
                "the locked budget approach asked for a retry"
            ))),
        },
    }
}

/// Why a redemption transaction did not commit: refused (or failed), or its budget slot
/// was dry on the fast approach and it must run again with the locked one.
enum Attempt {
    Refused(ApiError),
    RetryLocked,
}

impl From<ApiError> for Attempt {
    fn from(e: ApiError) -> Self {
        Attempt::Refused(e)
    }
}

impl From<diesel::result::Error> for Attempt {
    fn from(e: diesel::result::Error) -> Self {
        Attempt::Refused(e.into())
    }
}

/// The redemption transaction's body.
fn redeem_decoded(
    conn: &mut DbConnection,
    caller: Caller,
    req: &RedeemRequest,
    code: CodeId,
    now: NaiveDateTime,
    approach: Approach,
) -> Result<Made, Attempt> {
    let (_, _, year) = local_keys(now);
    let mut looked_up = None;
    let verified = codes::check_card(
        |card_id| {
            let Some(read) = counter_read(
                conn,
                card_id,
                (caller.user_id(), caller.session_id()),
                req.offer_id,
                year,
                now,
            )?
            else {
                // No such card, or no such user: the session is still judged first.
                if let Caller::Token(claimed) = caller {
                    let (_, failures) = session(conn, claimed)?;
                    codes::guard::refuse_if_throttled(failures, now)?;
                }
                return Ok(None);
            };
            let staff = caller.admit(Some(read.user), read.failures, now)?;
            looked_up = Some((staff, read.talent_name, read.offer_side, read.next_id));
            Ok(Some(read.card))
        },
        code,
        now,
    )?;
    let card = verified.card;
    let Some((staff, talent_name, offer_side, next_id)) = looked_up else {
        return Err(ApiError::internal(anyhow::anyhow!("card checked without being read")).into());
    };
    let staff = &staff;
    let merchant_id = merchant_of(staff)?;
    let Some((merchant, offer, budget)) = offer_side else {
        // Say why: a merchant that is not active, or an offer it does not have.
        active_merchant(conn, merchant_id)?;
        return Err(ApiError::not_found("This merchant has no such offer.").into());
    };
    let redemption = decided(
        next_id,
        staff,
        &merchant,
        &offer,
        &card,
        verified.id,
        req,
        now,
    )?;
    if offer.per_card_daily.is_some() || offer.per_card_monthly.is_some() {
        // Exact: the card row is locked, so no other redemption of this card can commit
        // before ours.
        let (today, month) = uses_so_far(
            conn,
            card.id,
            offer.id,
            &redemption.local_day,
            &redemption.period,
        )?;
        if let Some(refusal) = limit_refusal(&offer, today, month) {
            // A code used twice is `code_used`, not a misleading `limit_reached`.
            if code_used_before(conn, &verified.id)? {
                return Err(code_used().into());
            }
            return Err(refusal.into());
        }
        // A new version of the card's row, so a quoted redemption of it sees that its
        // quote's count is no longer the card's (see [`super::guarded::Guard::limited`]).
        if let DbConnection::Pg(pg) = conn {
            NewCardVersion(card.id).execute(pg)?;
        }
    }
    let entry = redemption.creation_entry(&staff.actor())?;
    let booking = redemption.booking();
    let in_one_go = budgets::fast::FastReservation::of(&booking, budget, approach);
    let reserved = write::write(conn, &redemption, &entry, in_one_go).map_err(refusal_for_write)?;
    // Last: budget slots are shared by every counter in the city, and the slot's lock is
    // held from its UPDATE until commit.
    match reserved {
        write::Reserved::Taken => {}
        write::Reserved::SlotDry => return Err(Attempt::RetryLocked),
        write::Reserved::NotAsked if redemption.subsidy_fen == 0 => {}
        write::Reserved::NotAsked => match budgets::reserve_in(conn, &booking, budget, approach)? {
            Reservation::Made => {}
            Reservation::Refused(refusal) => {
                let exhausted = problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "budget_exhausted",
                    refusal.detail(),
                );
                return Err(exhausted.into());
            }
            Reservation::Retry => return Err(Attempt::RetryLocked),
        },
    }
    Ok(Made::new(
        redemption,
        &merchant,
        &offer,
        &card,
        &talent_name,
    ))
}

/// The redemption a sale makes (its id already drawn) once the merchant, the offer and
/// the card are read: refused when the merchant is not active, the card may not have the
/// offer, or the bill does not meet its terms.
#[allow(clippy::too_many_arguments)]
pub(super) fn decided(
    id: i64,
    staff: &Principal,
    merchant: &CounterMerchant,
    offer: &Offer,
    card: &Card,
    code: CodeId,
    req: &RedeemRequest,
    now: NaiveDateTime,
) -> ApiResult<Redemption> {
    if merchant.status != MerchantStatus::Active.as_str() {
        return Err(inactive_merchant());
    }
    if let Some(refusal) = eligibility(offer, card, now)? {
        return Err(refusal);
    }
    let outcome = money::compute(&offer.money_terms()?, req.bill)?;
    let (day, period, _) = local_keys(now);
    Ok(Redemption {
        id,
        merchant_id: merchant.id,
        offer_id: offer.id,
        card_id: card.id,
        talent_id: card.talent_id,
        tier: card.tier.clone(),
        category: merchant.category.clone(),
        district: merchant.district.clone(),
        subsidy_bp: offer.subsidy_bp,
        bill_fen: outcome.bill_fen,
        discount_fen: outcome.discount_fen,
        paid_fen: outcome.paid_fen,
        subsidy_fen: outcome.subsidy_fen,
        code_window: code.window,
        code_slot: code.slot as i32,
        local_day: day,
        period,
        cashier_id: staff.user_id,
        idempotency_key: req.idempotency_key.clone(),
        request_hash: req.fingerprint(),
        status: "active".to_owned(),
        disputed: false,
        created_at: now,
    })
}

/// A redemption just made, with the receipt the counter shows.
pub struct Made {
    pub redemption: Redemption,
    pub receipt: RedemptionView,
}

impl Made {
    pub(super) fn new(
        redemption: Redemption,
        merchant: &CounterMerchant,
        offer: &Offer,
        card: &Card,
        talent_name: &str,
    ) -> Self {
        let mut receipt = view(
            &redemption,
            &merchant.name,
            &offer.title,
            &card.card_no,
            talent_name,
            true,
        );
        receipt.family_card = card.is_dependent();
        Made {
            redemption,
            receipt,
        }
    }
}

/// The refusal for a redemption row the database would not take: its code was used, or
/// its Idempotency-Key is taken by a request still in flight.
fn refusal_for_write(e: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match &e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            let which = format!(
                "{} {}",
                info.constraint_name().unwrap_or_default(),
                info.message()
            );
            if which.contains("idempotency") {
                ApiError::conflict(
                    "A request with this Idempotency-Key is being processed; retry it to get its result.",
                )
            } else {
                code_used()
            }
        }
        _ => e.into(),
    }
}

/// Whether a redemption already used this code (what the unique constraint on its
/// identity would refuse).
pub(super) fn code_used_before(conn: &mut DbConnection, code: &CodeId) -> ApiResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        redemptions::table
            .filter(redemptions::card_id.eq(code.card_id))
            .filter(redemptions::code_window.eq(code.window))
            .filter(redemptions::code_slot.eq(code.slot as i32)),
    ))
    .get_result(conn)?)
}

pub(super) fn code_used() -> ApiError {
    problem(
        StatusCode::CONFLICT,
        "code_used",
        "This code has already been used. Ask the talent to show the next code.",
    )
}

/// `UPDATE cards SET updated_at = updated_at WHERE id = …`: a new version of the row and
/// nothing else (see [`super::guarded::Guard::limited`]). Hand-written so it stays prepared.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct NewCardVersion(i64);

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for NewCardVersion {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE cards SET updated_at = updated_at WHERE id = ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.0)
    }
}

impl<Conn> RunQueryDsl<Conn> for NewCardVersion {}
