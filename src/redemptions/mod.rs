//! Redemption at the counter (核销): quote, redeem, reverse — and the talents' disputes.
//!
//! One redemption is one transaction (see [`redeem_code`]). Its first statement reads
//! everything the redemption checks — the card (row locked), the caller's session and
//! failed code checks, the offer, its merchant, the budget shape and the id the row will
//! get — then, with per-card limits, counts the card's uses; then writes the redemption,
//! whose `UNIQUE (card_id, code_window, code_slot)` makes the code single-use across
//! every counter and instance, its audit entry and the subsidy's reservation from a
//! budget slot: on PostgreSQL one statement for all three ([`write`]). The card row lock
//! serialises redemptions of one card only (so its daily and monthly counts are exact
//! under concurrency), and the shared budget slot is touched last, so its lock is held
//! only until commit.

pub mod disputes;
pub mod routes;
mod write;

use actix_web::http::StatusCode;
use chrono::{Datelike, Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::audit;
use crate::auth::principal::{Claimed, MerchantStaff};
use crate::auth::{Actor, Principal};
use crate::budgets::{self, Approach, Booking, Reservation};
use crate::cards::Card;
use crate::codes::guard::{Failures, staff_and_failures};
use crate::codes::{self, CodeId};
use crate::db::{DbConnection, ForNoKeyUpdateOf, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::merchants::{self, Merchant, MerchantStatus};
use crate::offers::money::{self, Fen, Outcome};
use crate::offers::{self, Offer};
use crate::schema::{
    cards as cards_table, merchants as merchants_table, offers as offers_table, redemptions,
    reversals, talents,
};
use crate::secrets::Secrets;
use crate::tier::Tier;
use crate::users::SessionUser;

/// Largest bill accepted at a counter: 1 000 000 元.
pub const MAX_BILL_FEN: i64 = 100_000_000;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = redemptions)]
pub struct Redemption {
    pub id: i64,
    pub merchant_id: i64,
    pub offer_id: i64,
    pub card_id: i64,
    pub talent_id: i64,
    pub tier: String,
    pub category: String,
    pub district: String,
    pub subsidy_bp: i32,
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub paid_fen: i64,
    pub subsidy_fen: i64,
    pub code_window: i64,
    pub code_slot: i32,
    pub local_day: String,
    pub period: String,
    pub cashier_id: i64,
    #[serde(skip)]
    pub idempotency_key: String,
    #[serde(skip)]
    pub request_hash: String,
    pub status: String,
    pub disputed: bool,
    pub created_at: NaiveDateTime,
}

impl Redemption {
    pub fn booking(&self) -> Booking<'_> {
        Booking {
            year: self.period[..4].parse().unwrap_or_default(),
            period: &self.period,
            merchant_id: self.merchant_id,
            category: &self.category,
            amount_fen: self.subsidy_fen,
            redemption_id: self.id,
        }
    }
}

/// A redemption as clients see it: the talent only by masked name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedemptionView {
    pub id: i64,
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub paid_fen: i64,
    pub subsidy_fen: i64,
    pub status: String,
    pub disputed: bool,
    pub offer: Named,
    pub merchant: Named,
    pub talent: MaskedTalent,
    pub card_no: String,
    pub tier: String,
    pub category: String,
    pub district: String,
    pub cashier_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MaskedTalent {
    pub masked_name: String,
}

/// Local (Asia/Shanghai) calendar keys of an instant: day `YYYY-MM-DD`, month `YYYY-MM`.
pub fn local_keys(at: NaiveDateTime) -> (String, String, i32) {
    let local = crate::time::to_local(at);
    (
        local.format("%Y-%m-%d").to_string(),
        local.format("%Y-%m").to_string(),
        local.year(),
    )
}

fn problem(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(status, code, detail.into())
}

fn not_eligible(detail: impl Into<String>) -> ApiError {
    problem(StatusCode::UNPROCESSABLE_ENTITY, "not_eligible", detail)
}

/// The bill as sent by the counter, checked.
pub fn parse_bill(bill_fen: i64) -> ApiResult<Fen> {
    if bill_fen <= 0 || bill_fen > MAX_BILL_FEN {
        return Err(ApiError::invalid_field(
            "bill_fen",
            format!("bill_fen must be between 1 and {MAX_BILL_FEN} fen"),
        ));
    }
    Fen::new(bill_fen).ok_or_else(|| {
        ApiError::invalid_field("bill_fen", "bill_fen must be a positive amount in fen")
    })
}

/// The merchant the staff member works for, which must be active to redeem.
fn active_merchant(conn: &mut DbConnection, merchant_id: i64) -> ApiResult<Merchant> {
    let merchant = merchants::get(conn, merchant_id)?;
    if merchant.status != MerchantStatus::Active.as_str() {
        return Err(inactive_merchant());
    }
    Ok(merchant)
}

fn inactive_merchant() -> ApiError {
    ApiError::forbidden("This merchant is not active in the alliance and cannot redeem.")
}

fn uses_so_far(
    conn: &mut DbConnection,
    card_id: i64,
    offer_id: i64,
    day: &str,
    period: &str,
) -> ApiResult<(i64, i64)> {
    let days: Vec<String> = redemptions::table
        .filter(redemptions::card_id.eq(card_id))
        .filter(redemptions::offer_id.eq(offer_id))
        .filter(redemptions::period.eq(period))
        .filter(redemptions::status.eq("active"))
        .select(redemptions::local_day)
        .load(conn)?;
    let today = days.iter().filter(|d| d.as_str() == day).count() as i64;
    Ok((today, days.len() as i64))
}

/// Why this card may not use this offer right now, if it may not.
fn limit_refusal(offer: &Offer, used_today: i64, used_month: i64) -> Option<ApiError> {
    let reached = |what: &str, limit: i32| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit_reached",
            format!("This card has used this offer {limit} time(s) {what}, the most it allows."),
        )
    };
    match (offer.per_card_daily, offer.per_card_monthly) {
        (Some(limit), _) if used_today >= i64::from(limit) => Some(reached("today", limit)),
        (_, Some(limit)) if used_month >= i64::from(limit) => Some(reached("this month", limit)),
        _ => None,
    }
}

fn eligibility(offer: &Offer, card: &Card, now: NaiveDateTime) -> ApiResult<Option<ApiError>> {
    if !offer.is_live_at(now) {
        return Ok(Some(not_eligible("This offer is not available right now.")));
    }
    let tier: Tier = card.tier.parse()?;
    if !offer.allows_tier(tier) {
        return Ok(Some(not_eligible(format!(
            "This offer is not for tier {} cards.",
            tier.as_char()
        ))));
    }
    Ok(None)
}

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
struct CounterMerchant {
    id: i64,
    name: String,
    category: String,
    district: String,
    status: String,
}

/// The offer, its merchant and the shape of this year's budget for the merchant's
/// category.
type OfferSide = (CounterMerchant, Offer, Option<budgets::Shape>);

/// Everything a redemption checks, from one read (see [`counter_read`]).
struct CounterRead {
    card: Card,
    talent_name: String,
    user: SessionUser,
    failures: Failures,
    /// `None` when the caller's merchant has no such offer.
    offer_side: Option<OfferSide>,
    /// The id the redemption will have (see [`write::NextRedemptionId`]).
    next_id: i64,
}

/// Who redeems: staff already authenticated, or (the HTTP hot path) an access token whose
/// user row comes with the redemption's own read, one statement fewer per redemption.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Staff(&'a Principal),
    Token(&'a Claimed<MerchantStaff>),
}

impl Caller<'_> {
    fn user_id(self) -> i64 {
        match self {
            Caller::Staff(staff) => staff.user_id,
            Caller::Token(claimed) => claimed.user_id(),
        }
    }

    /// The staff member, once the token is confirmed by its user row (401/403) and the
    /// account is not locked out for entering forged codes (429), in that order.
    fn admit(
        self,
        user: Option<SessionUser>,
        failures: Failures,
        now: NaiveDateTime,
    ) -> ApiResult<Principal> {
        match self {
            Caller::Staff(staff) => Ok(staff.clone()),
            Caller::Token(claimed) => {
                let staff = confirmed(claimed, user)?;
                codes::guard::refuse_if_throttled(failures, now)?;
                Ok(staff)
            }
        }
    }
}

/// The merchant a staff member redeems for; anyone else may not redeem.
pub fn merchant_of(staff: &Principal) -> ApiResult<i64> {
    staff
        .merchant_scope()
        .ok_or_else(|| ApiError::forbidden("Only merchant staff redeem."))
}

/// The staff member behind a claimed token, from its user row: what `Auth` would give.
fn confirmed(claimed: &Claimed<MerchantStaff>, user: Option<SessionUser>) -> ApiResult<Principal> {
    let staff = claimed.confirm(user)?.into_inner();
    merchant_of(&staff)?;
    Ok(staff)
}

/// The claimed caller confirmed from a read of its own, with the account's failed code
/// checks: for the paths off the hot one (a code that does not decode, a refusal).
pub fn session(
    conn: &mut DbConnection,
    claimed: &Claimed<MerchantStaff>,
) -> ApiResult<(Principal, Failures)> {
    let (user, failures) = staff_and_failures(conn, claimed.user_id())?;
    Ok((confirmed(claimed, user)?, failures))
}

/// The card, its row locked until commit (redemptions of one card queue here, so the
/// per-card limit counts that follow are exact), its talent's name, the caller's user
/// row and failed code checks, and the offer of the caller's merchant with that
/// merchant and the budget shape: one statement. `None` when there is no such card (or
/// user).
fn counter_read(
    conn: &mut DbConnection,
    card_id: i64,
    user_id: i64,
    offer_id: i64,
    year: i32,
) -> ApiResult<Option<CounterRead>> {
    use crate::schema::{
        budget_envelopes, budgets as budgets_table, code_guess_throttle as throttle,
        merchant_guess_throttle as merchant_throttle, users,
    };
    // Card, talent name, user, its and its merchant's failures, and from the left joins:
    // offer, merchant, budget year, its cap, envelope category.
    type Row = (
        Card,
        String,
        SessionUser,
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
                user,
                failures: Failures::new(account_failures, merchant_failures),
                offer_side,
                next_id,
            }
        },
    ))
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
    let (day, period, year) = local_keys(now);
    let mut looked_up = None;
    let verified = codes::check_card(
        |card_id| {
            let Some(read) = counter_read(conn, card_id, caller.user_id(), req.offer_id, year)?
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
    if merchant.status != MerchantStatus::Active.as_str() {
        return Err(inactive_merchant().into());
    }
    if let Some(refusal) = eligibility(&offer, &card, now)? {
        return Err(refusal.into());
    }
    let outcome = money::compute(&offer.money_terms()?, req.bill).map_err(ApiError::from)?;
    let redemption = Redemption {
        id: next_id,
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
        code_window: verified.id.window,
        code_slot: verified.id.slot as i32,
        local_day: day,
        period,
        cashier_id: staff.user_id,
        idempotency_key: req.idempotency_key.clone(),
        request_hash: req.fingerprint(),
        status: "active".to_owned(),
        disputed: false,
        created_at: now,
    };
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
    }
    let entry = audit::Entry::new(
        &staff.actor(),
        "redemption.create",
        "redemption",
        redemption.id,
        None::<&()>,
        Some(&redemption),
    )?;
    let booking = redemption.booking();
    let in_one_go = budgets::single_statement(&booking, budget, approach);
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
    let receipt = view(
        &redemption,
        &merchant.name,
        &offer.title,
        &card.card_no,
        &talent_name,
        true,
    );
    Ok(Made {
        redemption,
        receipt,
    })
}

/// A redemption just made, with the receipt the counter shows.
pub struct Made {
    pub redemption: Redemption,
    pub receipt: RedemptionView,
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
fn code_used_before(conn: &mut DbConnection, code: &CodeId) -> ApiResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        redemptions::table
            .filter(redemptions::card_id.eq(code.card_id))
            .filter(redemptions::code_window.eq(code.window))
            .filter(redemptions::code_slot.eq(code.slot as i32)),
    ))
    .get_result(conn)?)
}

fn code_used() -> ApiError {
    problem(
        StatusCode::CONFLICT,
        "code_used",
        "This code has already been used. Ask the talent to show the next code.",
    )
}

/// One offer as a quote shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuotedOffer {
    pub offer_id: i64,
    pub title: String,
    pub eligible: bool,
    /// Problem code of why not, e.g. `not_eligible`, `min_spend_not_met`, `limit_reached`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_detail: Option<String>,
    pub discount_fen: i64,
    pub paid_fen: i64,
    pub subsidy_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Chosen {
    pub offer_id: i64,
    pub discount_fen: i64,
    pub paid_fen: i64,
    pub subsidy_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    pub talent: MaskedTalent,
    pub tier: String,
    pub bill_fen: i64,
    pub offers: Vec<QuotedOffer>,
    pub chosen: Option<Chosen>,
}

/// What redeeming this code would give at this merchant; consumes nothing.
pub fn quote(
    conn: &mut DbConnection,
    secrets: &Secrets,
    staff: &Principal,
    code: &str,
    bill: Fen,
    offer_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<Quote> {
    let merchant_id = staff
        .merchant_scope()
        .ok_or_else(|| ApiError::forbidden("Only merchant staff quote."))?;
    let verified =
        codes::guard::verify_as_staff(conn, secrets, staff.user_id, Some(merchant_id), code, now)?;
    let card = verified.card;
    if code_used_before(conn, &verified.id)? {
        return Err(code_used());
    }
    let merchant = active_merchant(conn, merchant_id)?;
    let name: String = talents::table
        .find(card.talent_id)
        .select(talents::name)
        .first(conn)?;
    let (day, period, year) = local_keys(now);
    let budget_left = budgets::view(conn, year)?.map(|b| {
        let envelope = b
            .categories
            .iter()
            .find(|c| c.category == merchant.category)
            .map(|c| c.remaining_fen);
        envelope.map_or(b.remaining_fen, |e| e.min(b.remaining_fen))
    });
    let live = offers::live_for_merchant(conn, merchant_id, now)?;
    if let Some(id) = offer_id
        && !live.iter().any(|o| o.id == id)
    {
        return Err(ApiError::not_found(
            "This merchant has no such offer available now.",
        ));
    }
    let mut quoted = Vec::with_capacity(live.len());
    for offer in &live {
        let mut refusal = eligibility(offer, &card, now)?;
        let outcome = money::compute(&offer.money_terms()?, bill);
        if refusal.is_none()
            && let Err(e) = outcome
        {
            refusal = Some(e.into());
        }
        if refusal.is_none() && (offer.per_card_daily.is_some() || offer.per_card_monthly.is_some())
        {
            let (today, month) = uses_so_far(conn, card.id, offer.id, &day, &period)?;
            refusal = limit_refusal(offer, today, month);
        }
        let outcome = outcome.unwrap_or(Outcome {
            bill_fen: bill.get(),
            discount_fen: 0,
            paid_fen: bill.get(),
            subsidy_fen: 0,
        });
        if refusal.is_none()
            && outcome.subsidy_fen > 0
            && budget_left.is_none_or(|left| left < outcome.subsidy_fen)
        {
            refusal = Some(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "budget_exhausted",
                "The subsidy budget cannot cover this redemption.",
            ));
        }
        quoted.push(QuotedOffer {
            offer_id: offer.id,
            title: offer.title.clone(),
            eligible: refusal.is_none(),
            reason: refusal.as_ref().map(|e| e.code().to_owned()),
            reason_detail: refusal.map(|e| e.problem().detail),
            discount_fen: outcome.discount_fen,
            paid_fen: outcome.paid_fen,
            subsidy_fen: outcome.subsidy_fen,
        });
    }
    let chosen = quoted
        .iter()
        .filter(|q| q.eligible && offer_id.is_none_or(|id| id == q.offer_id))
        // The best deal for the talent; among equals, the older offer.
        .max_by_key(|q| (q.discount_fen, -q.offer_id))
        .map(|q| Chosen {
            offer_id: q.offer_id,
            discount_fen: q.discount_fen,
            paid_fen: q.paid_fen,
            subsidy_fen: q.subsidy_fen,
        });
    Ok(Quote {
        talent: MaskedTalent {
            masked_name: crate::talents::domain::mask_name(&name),
        },
        tier: card.tier,
        bill_fen: bill.get(),
        offers: quoted,
        chosen,
    })
}

/// Reverses a redemption: a reversal record, the redemption marked reversed, and the
/// subsidy reservation released unless it was already settled (then the reversal
/// becomes a negative line of the merchant's next settlement).
pub fn reverse(
    conn: &mut DbConnection,
    actor: &Actor,
    redemption: &Redemption,
    reason: &str,
    now: NaiveDateTime,
) -> ApiResult<Redemption> {
    let updated = diesel::update(
        redemptions::table
            .find(redemption.id)
            .filter(redemptions::status.eq("active")),
    )
    .set(redemptions::status.eq("reversed"))
    .returning(redemptions::all_columns)
    .get_result::<Redemption>(conn)
    .optional()?
    .ok_or_else(|| ApiError::invalid_transition("This redemption has already been reversed."))?;
    let (_, period, _) = local_keys(now);
    let actor_id = actor
        .user_id
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("reversal without a user")))?;
    diesel::insert_into(reversals::table)
        .values((
            reversals::redemption_id.eq(redemption.id),
            reversals::merchant_id.eq(redemption.merchant_id),
            reversals::reason.eq(reason),
            reversals::actor_id.eq(actor_id),
            reversals::bill_fen.eq(redemption.bill_fen),
            reversals::discount_fen.eq(redemption.discount_fen),
            reversals::subsidy_fen.eq(redemption.subsidy_fen),
            reversals::period.eq(&period),
            reversals::created_at.eq(now),
        ))
        .execute(conn)?;
    let effect = crate::settlements::on_reversal(conn, actor, redemption.id)?;
    if redemption.subsidy_fen > 0 && effect != crate::settlements::ReversalEffect::NegativeLineNext
    {
        budgets::release(conn, &redemption.booking())?;
    }
    audit::record(
        conn,
        actor,
        "redemption.reverse",
        "redemption",
        redemption.id,
        Some(redemption),
        Some(&serde_json::json!({"status": "reversed", "reason": reason})),
    )?;
    Ok(updated)
}

pub fn get(conn: &mut DbConnection, id: i64) -> ApiResult<Redemption> {
    redemptions::table
        .find(id)
        .select(Redemption::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No such redemption."))
}

/// How long merchant staff may reverse their own redemption (officials: any time).
pub fn reversal_window() -> Duration {
    Duration::hours(24)
}

/// Views for a page of redemptions: names and card numbers fetched in three queries,
/// not one per row.
pub fn views(
    conn: &mut DbConnection,
    rows: &[Redemption],
    mask_card: bool,
) -> ApiResult<Vec<RedemptionView>> {
    use std::collections::HashMap;
    let ids = |f: fn(&Redemption) -> i64| rows.iter().map(f).collect::<Vec<_>>();
    let merchant_names: HashMap<i64, String> = crate::schema::merchants::table
        .filter(crate::schema::merchants::id.eq_any(ids(|r| r.merchant_id)))
        .select((crate::schema::merchants::id, crate::schema::merchants::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let offer_titles: HashMap<i64, String> = crate::schema::offers::table
        .filter(crate::schema::offers::id.eq_any(ids(|r| r.offer_id)))
        .select((crate::schema::offers::id, crate::schema::offers::title))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let talents_cards: HashMap<i64, (String, String)> = cards_table::table
        .inner_join(talents::table)
        .filter(cards_table::id.eq_any(ids(|r| r.card_id)))
        .select((cards_table::id, cards_table::card_no, talents::name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, no, name)| (id, (no, name)))
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            let (card_no, name) = talents_cards.get(&r.card_id).cloned().unwrap_or_default();
            let merchant = merchant_names
                .get(&r.merchant_id)
                .map_or("", String::as_str);
            let offer = offer_titles.get(&r.offer_id).map_or("", String::as_str);
            view(r, merchant, offer, &card_no, &name, mask_card)
        })
        .collect())
}

/// One redemption as clients see it, from names already at hand.
pub fn view(
    r: &Redemption,
    merchant: &str,
    offer: &str,
    card_no: &str,
    talent_name: &str,
    mask_card: bool,
) -> RedemptionView {
    RedemptionView {
        id: r.id,
        bill_fen: r.bill_fen,
        discount_fen: r.discount_fen,
        paid_fen: r.paid_fen,
        subsidy_fen: r.subsidy_fen,
        status: r.status.clone(),
        disputed: r.disputed,
        offer: Named {
            id: r.offer_id,
            name: offer.to_owned(),
        },
        merchant: Named {
            id: r.merchant_id,
            name: merchant.to_owned(),
        },
        talent: MaskedTalent {
            masked_name: crate::talents::domain::mask_name(talent_name),
        },
        card_no: if mask_card {
            mask_card_no(card_no)
        } else {
            card_no.to_owned()
        },
        tier: r.tier.clone(),
        category: r.category.clone(),
        district: r.district.clone(),
        cashier_id: r.cashier_id,
        created_at: crate::time::to_local(r.created_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    }
}

/// Merchants see only the last four digits of a card number.
pub fn mask_card_no(card_no: &str) -> String {
    let keep = card_no.len().saturating_sub(4);
    format!("{}{}", "*".repeat(keep), &card_no[keep..])
}
