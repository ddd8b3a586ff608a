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
//!
//! On PostgreSQL the redemption that follows its quote (same session, same code) is one
//! statement instead of that transaction ([`quoted`]): the quote's read is kept, and the
//! statement confirms none of it has moved before it writes ([`guarded`]).

pub mod by_pin;
mod caller;
pub mod disputes;
mod eligibility;
mod guarded;
pub mod lists;
mod quote;
mod quoted;
mod redeem;
mod reversal;
pub mod routes;
mod views;
mod write;

use actix_web::http::StatusCode;
use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::budgets::Booking;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::offers::money::Fen;
use crate::schema::redemptions;

pub use caller::{Caller, merchant_of, session};
pub use quote::{Chosen, Quote, QuotedOffer, quote_by_token, quote_card};
pub use quoted::{Quoted, QuotedSales, redeem_quoted};
pub use redeem::{Made, RedeemRequest, Redeemed, redeem, redeem_code, replay};
pub use reversal::{reversal_window, reverse};
pub use views::{MaskedTalent, Named, RedemptionView, mask_card_no, name_cashiers, view, views};

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
    /// Made with the printed card and its PIN (see [`by_pin`]).
    pub fn by_pin(&self) -> bool {
        self.code_window < 0
    }

    /// The audit entry of this redemption's creation, by `actor`.
    pub fn creation_entry(&self, actor: &crate::auth::Actor) -> ApiResult<crate::audit::Entry> {
        crate::audit::Entry::new(
            actor,
            "redemption.create",
            "redemption",
            self.id,
            None::<&()>,
            Some(self),
        )
    }

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

#[cfg(test)]
impl Redemption {
    /// A redemption for the statement tests: id 7, ¥100, ¥5 subsidised.
    pub(crate) fn sample() -> Self {
        Redemption {
            id: 7,
            merchant_id: 1,
            offer_id: 1,
            card_id: 1,
            talent_id: 1,
            tier: "C".into(),
            category: "food".into(),
            district: "船山区".into(),
            subsidy_bp: 5_000,
            bill_fen: 10_000,
            discount_fen: 1_000,
            paid_fen: 9_000,
            subsidy_fen: 500,
            code_window: 1,
            code_slot: 0,
            local_day: "2026-11-24".into(),
            period: "2026-11".into(),
            cashier_id: 2,
            idempotency_key: "k".into(),
            request_hash: "h".into(),
            status: "active".into(),
            disputed: false,
            created_at: crate::time::now(),
        }
    }
}

/// Prepares the counter's statements on a connection fresh from the pool's start, so
/// the first quotes and redemptions after a start do not each pay for a new PostgreSQL
/// backend parsing, planning and loading its catalog caches (under load, the first
/// second of a run was its slowest: BENCHMARKS.md). It reads card 0, which no card is:
/// nothing is locked or changed.
pub fn warm_up(conn: &mut DbConnection) -> ApiResult<()> {
    let now = crate::time::now();
    quote::warm_up(conn, now)?;
    redeem::warm_up(conn, now)
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

pub fn get(conn: &mut DbConnection, id: i64) -> ApiResult<Redemption> {
    redemptions::table
        .find(id)
        .select(Redemption::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No such redemption."))
}
