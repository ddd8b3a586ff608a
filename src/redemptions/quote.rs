//! The quote: what redeeming a code would give at a merchant, offer by offer, and the
//! offer a counter would choose; consumes nothing.

use actix_web::http::StatusCode;
use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Caller;
use super::eligibility::{active_merchant, eligibility, limit_refusal, uses_so_far};
use super::quoted::{KeptOffer, QuotedSale};
use super::redeem::{CounterMerchant, code_used};
use super::{MaskedTalent, local_keys, problem};
use crate::auth::principal::{Claimed, MerchantStaff};
use crate::budgets;
use crate::cards::Card;
use crate::codes::{self, CodeId};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::offers;
use crate::offers::money::{self, Fen, Outcome};
use crate::schema::talents;
use crate::secrets::Secrets;

/// One offer as a quote shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuotedOffer {
    pub offer_id: i64,
    pub title: String,
    pub eligible: bool,
    /// Problem code of why not, e.g. `not_eligible`, `not_for_dependents`,
    /// `min_spend_not_met`, `limit_reached`.
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
    /// A family card (附属卡): only offers open to family cards apply.
    pub family_card: bool,
    pub bill_fen: i64,
    pub offers: Vec<QuotedOffer>,
    pub chosen: Option<Chosen>,
}

/// Everything a quote by code needs besides the card, from one read (see
/// [`quote_read`]).
struct QuoteRead {
    versions: Versions,
    /// The year's merchant cap, when the year has a budget.
    cap: Option<i64>,
    talent_name: String,
    user: (crate::users::SessionUser, Option<i64>),
    failures: codes::guard::Failures,
    merchant: Option<CounterMerchant>,
    code_used: bool,
    offers: Vec<LiveOffer>,
}

/// The versions of the rows a quote read (see [`crate::db::version`]; all `None` on
/// SQLite). The guessing counters' are `None` where there is no row.
#[derive(Debug, Queryable)]
struct Versions {
    card: Option<String>,
    user: Option<String>,
    account_throttle: Option<String>,
    merchant_throttle: Option<String>,
    merchant: Option<String>,
}

/// A live offer of the merchant with what the card has used of it today and this month
/// (counted only for offers with per-card limits; 0 for the others).
struct LiveOffer {
    offer: offers::Offer,
    /// Its row's version (PostgreSQL; see [`crate::db::version`]).
    version: Option<String>,
    used_today: i64,
    used_this_month: i64,
}

/// The card, its talent's name, the caller's user row and session, its and its
/// merchant's failed code checks, the merchant, whether this code was used, the year's
/// merchant cap, and — a row each — the merchant's live offers with the card's uses of
/// those it limits: one statement, where it was three plus one per limited offer, and no
/// lock (a quote consumes nothing). The room left in the budget comes from
/// [`budgets::rooms`]. `None` when there is no such card (or user).
fn quote_read(
    conn: &mut DbConnection,
    code: &CodeId,
    (user_id, session_id): (i64, i64),
    now: NaiveDateTime,
) -> ApiResult<Option<(Card, QuoteRead)>> {
    use super::eligibility::UsesOf;
    use crate::budgets::left::YearCap;
    use crate::db::version::{
        AccountThrottleVersion, CardVersion, MerchantThrottleVersion, MerchantVersion,
        OfferVersion, UserVersion,
    };
    use crate::schema::{
        cards, code_guess_throttle as throttle, merchant_guess_throttle as merchant_throttle,
        merchants, offers as offers_table, redemptions, sessions, users,
    };
    type Row = (
        Card,
        String,
        crate::users::SessionUser,
        Option<i64>,
        (codes::guard::Counted, codes::guard::Counted),
        Option<CounterMerchant>,
        bool,
        Option<i64>,
        Option<offers::Offer>,
        (i64, i64),
        Versions,
        Option<String>,
    );
    let (day, period, year) = local_keys(now);
    let (first_day, last_day) = super::eligibility::month_days(&period);
    let used = redemptions::table
        .filter(redemptions::card_id.eq(code.card_id))
        .filter(redemptions::code_window.eq(code.window))
        .filter(redemptions::code_slot.eq(code.slot as i32));
    let live = offers_table::merchant_id
        .eq(merchants::id)
        .and(offers::live_at(now));
    let today = UsesOf {
        from: &day,
        to: &day,
    };
    let this_month = UsesOf {
        from: &first_day,
        to: &last_day,
    };
    let rows = crate::db::direct!(conn, |c| cards::table
        .inner_join(talents::table)
        .inner_join(users::table.on(users::id.eq(user_id)))
        .left_join(sessions::table.on(crate::auth::session::live(session_id, now)))
        .left_join(throttle::table.on(throttle::user_id.eq(users::id)))
        .left_join(
            merchant_throttle::table.on(merchant_throttle::merchant_id
                .nullable()
                .eq(users::merchant_id)),
        )
        .left_join(merchants::table.on(merchants::id.nullable().eq(users::merchant_id)))
        .left_join(offers_table::table.on(live))
        .filter(cards::id.eq(code.card_id))
        .select((
            Card::as_select(),
            talents::name,
            crate::users::SessionUser::as_select(),
            sessions::id.nullable(),
            (
                (throttle::failures, throttle::window_start).nullable(),
                (merchant_throttle::failures, merchant_throttle::window_start).nullable(),
            ),
            Option::<CounterMerchant>::as_select(),
            diesel::dsl::exists(used),
            YearCap { year },
            Option::<offers::Offer>::as_select(),
            (today, this_month),
            (
                CardVersion,
                UserVersion,
                AccountThrottleVersion,
                MerchantThrottleVersion,
                MerchantVersion,
            ),
            OfferVersion,
        ))
        .load::<Row>(c))?;
    let mut offers = Vec::with_capacity(rows.len());
    let mut first = None;
    for (
        card,
        talent_name,
        user,
        session,
        failures,
        merchant,
        code_used,
        cap,
        offer,
        uses,
        versions,
        offer_version,
    ) in rows
    {
        if let Some(offer) = offer {
            offers.push(LiveOffer {
                offer,
                version: offer_version,
                used_today: uses.0,
                used_this_month: uses.1,
            });
        }
        first.get_or_insert((
            card,
            talent_name,
            user,
            session,
            failures,
            merchant,
            code_used,
            cap,
            versions,
        ));
    }
    // Ordered here rather than by the statement: a sort node in every quote's plan.
    offers.sort_unstable_by_key(|live| live.offer.id);
    Ok(first.map(
        |(
            card,
            talent_name,
            user,
            session,
            (account, merchant_failures),
            merchant,
            code_used,
            cap,
            versions,
        )| {
            let read = QuoteRead {
                versions,
                cap,
                talent_name,
                user: (user, session),
                failures: codes::guard::Failures::new(account, merchant_failures),
                merchant,
                code_used,
                offers,
            };
            (card, read)
        },
    ))
}

/// Prepares [`quote_read`] (see [`super::warm_up`]).
pub(super) fn warm_up(conn: &mut DbConnection, now: NaiveDateTime) -> ApiResult<()> {
    let nobody = CodeId {
        card_id: 0,
        window: 0,
        slot: 0,
    };
    quote_read(conn, &nobody, (0, 0), now).map(|_| ())
}

/// What redeeming this code would give at the caller's merchant; consumes nothing. The
/// HTTP path: the token's user row comes with the quote's own read, as a redemption's
/// does. With the quote comes, on PostgreSQL, what the redemption of the same code needs
/// (see [`super::quoted`]), for the caller to keep.
#[allow(clippy::too_many_arguments)]
pub fn quote_by_token(
    conn: &mut DbConnection,
    secrets: &Secrets,
    rooms: &budgets::rooms::RoomsSeen,
    claimed: &Claimed<MerchantStaff>,
    code: &str,
    bill: Fen,
    offer_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<(Quote, Option<(CodeId, QuotedSale)>)> {
    let id = match codes::decode(&secrets.code, code, now) {
        Ok(id) => id,
        // Not genuine or not current: the session and the guessing limit are judged
        // first, and a wrong signature counts against the account.
        Err(error) => {
            let (staff, failures) = super::session(conn, claimed)?;
            codes::guard::refuse_if_throttled(failures, now)?;
            return Err(codes::guard::refuse_undecoded(
                conn,
                staff.user_id,
                staff.merchant_scope(),
                failures,
                error,
                now,
            ));
        }
    };
    let caller = Caller::Token(claimed);
    let mut read = None;
    let verified = codes::check_card(
        |_| match quote_read(conn, &id, (claimed.user_id(), claimed.session_id()), now)? {
            None => {
                // No such card, or no such user: the session is still judged first.
                let (_, failures) = super::session(conn, claimed)?;
                codes::guard::refuse_if_throttled(failures, now)?;
                Ok(None)
            }
            Some((card, found)) => {
                let staff = caller.admit(Some(found.user.clone()), found.failures, now)?;
                read = Some((staff, found));
                Ok(Some(card))
            }
        },
        id,
        now,
    )?;
    let Some((staff, mut found)) = read else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "card checked without being read"
        )));
    };
    if found.code_used {
        return Err(code_used());
    }
    let merchant = found
        .merchant
        .take()
        .filter(|m| Some(m.id) == staff.merchant_scope())
        .ok_or_else(|| ApiError::forbidden("Only merchant staff quote."))?;
    if merchant.status != crate::merchants::MerchantStatus::Active.as_str() {
        return Err(super::eligibility::inactive_merchant());
    }
    let year = crate::time::to_local(now).year();
    let budget_left = rooms.left(conn, year, &merchant.category)?;
    let quote = quote_offers(
        &verified.card,
        &found.talent_name,
        bill,
        offer_id,
        &found.offers,
        budget_left,
        now,
    )?;
    let sale = quoted_sale(found, budget_left, verified.card, merchant, year);
    Ok((quote, sale.map(|sale| (id, sale))))
}

/// What the redemption of the quoted code needs, when every row read has a version
/// (PostgreSQL).
fn quoted_sale(
    found: QuoteRead,
    budget_left: Option<budgets::left::Left>,
    card: Card,
    merchant: CounterMerchant,
    year: i32,
) -> Option<QuotedSale> {
    let versions = found.versions;
    let offers = found
        .offers
        .into_iter()
        .filter_map(|o| {
            Some(KeptOffer {
                version: o.version?,
                offer: o.offer,
                used_today: o.used_today,
                used_this_month: o.used_this_month,
            })
        })
        .collect();
    Some(QuotedSale {
        card,
        card_version: versions.card?,
        talent_name: found.talent_name,
        user: found.user,
        user_version: versions.user?,
        failures: found.failures,
        throttles: (versions.account_throttle, versions.merchant_throttle),
        merchant,
        merchant_version: versions.merchant?,
        offers,
        shape: budget_left.map(|left| budgets::Shape {
            merchant_monthly_cap_fen: found.cap,
            has_envelope: left.envelope_fen.is_some(),
        }),
        year,
    })
}

/// What the card (its code or PIN already verified) would get at the merchant.
pub fn quote_card(
    conn: &mut DbConnection,
    merchant_id: i64,
    card: Card,
    bill: Fen,
    offer_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<Quote> {
    let merchant = active_merchant(conn, merchant_id)?;
    let name: String = talents::table
        .find(card.talent_id)
        .select(talents::name)
        .first(conn)?;
    let (day, period, year) = local_keys(now);
    let budget_left = budgets::left::left_for(conn, year, &merchant.category)?;
    let mut live = Vec::new();
    for offer in offers::live_for_merchant(conn, merchant_id, now)? {
        let (used_today, used_this_month) =
            if offer.per_card_daily.is_some() || offer.per_card_monthly.is_some() {
                uses_so_far(conn, card.id, offer.id, &day, &period)?
            } else {
                (0, 0)
            };
        live.push(LiveOffer {
            offer,
            version: None,
            used_today,
            used_this_month,
        });
    }
    quote_offers(&card, &name, bill, offer_id, &live, budget_left, now)
}

/// The quote of each live offer of the merchant for the card, and the one chosen.
fn quote_offers(
    card: &Card,
    name: &str,
    bill: Fen,
    offer_id: Option<i64>,
    live: &[LiveOffer],
    budget_left: Option<budgets::left::Left>,
    now: NaiveDateTime,
) -> ApiResult<Quote> {
    let budget_left = budget_left.map(|left| left.for_subsidy());
    if let Some(id) = offer_id
        && !live.iter().any(|o| o.offer.id == id)
    {
        return Err(ApiError::not_found(
            "This merchant has no such offer available now.",
        ));
    }
    let mut quoted = Vec::with_capacity(live.len());
    for LiveOffer {
        offer,
        used_today,
        used_this_month,
        ..
    } in live
    {
        let mut refusal = eligibility(offer, card, now)?;
        let outcome = money::compute(&offer.money_terms()?, bill);
        if refusal.is_none()
            && let Err(e) = outcome
        {
            refusal = Some(e.into());
        }
        if refusal.is_none() {
            refusal = limit_refusal(offer, *used_today, *used_this_month);
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
            masked_name: crate::talents::domain::mask_name(name),
        },
        family_card: card.is_dependent(),
        tier: card.tier.clone(),
        bill_fen: bill.get(),
        offers: quoted,
        chosen,
    })
}
