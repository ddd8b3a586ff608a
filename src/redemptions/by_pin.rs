//! The counter with a printed card: `{card_no, pin}` in place of a rolling code.
//!
//! The card number's check digit is verified before any lookup. Each request tries the
//! PIN once, in a transaction of its own that commits whatever the answer, and a wrong
//! PIN — or a card number that names no card — counts in the cashier's and merchant's
//! guessing budget like a forged code (a quote is no free guess either).
//!
//! A PIN redemption has no code, so it takes a code identity of its own: the window is
//! the negated local day number (real windows are positive) and the slot is the card's
//! n-th PIN redemption that day, below [`pins::REDEMPTIONS_PER_DAY`]. The redemptions'
//! `UNIQUE (card_id, code_window, code_slot)` then holds the daily PIN limit exactly
//! under concurrent counters, and marks the row as made by PIN.

use actix_web::http::StatusCode;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::problem;
use crate::auth::Principal;
use crate::cards::{self, Card, CardNo, CardStatus};
use crate::codes::guard::{Failures, record_failure, refuse_if_throttled};
use crate::codes::{CodeError, CodeId};
use crate::db::{DbConnection, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::pins;
use crate::schema::redemptions;

/// The card behind `card_no` if `pin` is its PIN: the one place a PIN is tried at a
/// counter.
pub fn admit(
    conn: &mut DbConnection,
    key: &[u8; 32],
    staff: &Principal,
    failures: Failures,
    card_no: &CardNo,
    pin: &str,
    now: NaiveDateTime,
) -> ApiResult<Card> {
    refuse_if_throttled(failures, now)?;
    let merchant_id = staff.merchant_scope();
    // The refusal is decided inside and returned after commit: a rollback would forget
    // the wrong PIN.
    write_tx(conn, |conn| -> ApiResult<ApiResult<Card>> {
        let Some(card) = cards::find_by_no_optional(conn, card_no)? else {
            record_failure(conn, staff.user_id, merchant_id, failures, now)?;
            return Ok(Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "card_unknown",
                "No card has this number: check the number printed on the card.",
            )));
        };
        let status = card.status_at(now);
        if status != CardStatus::Active {
            return Ok(Err(CodeError::CardInactive(status).to_api()));
        }
        if !pins::check(conn, key, &card, pin.trim(), now)? {
            record_failure(conn, staff.user_id, merchant_id, failures, now)?;
            return Ok(Err(pins::wrong_pin()));
        }
        Ok(Ok(card))
    })?
}

fn day_number(now: NaiveDateTime) -> i64 {
    let today = crate::time::to_local(now).date_naive();
    (today - NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")).num_days()
}

/// The code identity the card's next PIN redemption today takes, or the refusal once
/// today's PIN redemptions are used up.
pub fn next_identity(
    conn: &mut DbConnection,
    card: &Card,
    now: NaiveDateTime,
) -> ApiResult<CodeId> {
    let window = -day_number(now);
    let used: i64 = redemptions::table
        .filter(redemptions::card_id.eq(card.id))
        .filter(redemptions::code_window.eq(window))
        .count()
        .get_result(conn)?;
    if used >= pins::REDEMPTIONS_PER_DAY {
        return Err(limit_reached());
    }
    Ok(CodeId {
        card_id: card.id,
        window,
        slot: used,
    })
}

pub fn limit_reached() -> ApiError {
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "pin_limit_reached",
        format!(
            "This card has been used with its PIN {} times today, the most a day: the talent can still pay with the code in the app.",
            pins::REDEMPTIONS_PER_DAY
        ),
    )
}
