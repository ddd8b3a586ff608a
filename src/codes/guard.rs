//! The rate limit that bounds forgery attempts (see the security margin in [`super`]).
//!
//! Only codes whose *signature* is wrong count: an honest cashier's typo is caught by
//! the check digit and a stale or payment code is a different refusal, so real counters
//! never trip it, while every forgery guess does (a forger can always fix up the check
//! digit). The count lives in the database so it holds across instances, and is written
//! in its own transaction so a failed request's rollback cannot erase it.

use actix_web::http::StatusCode;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{CodeError, CodeId, MAX_FAILED_VERIFICATIONS_PER_HOUR, VerifiedCode};
use crate::db::{DbConnection, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::schema::code_guess_throttle as t;
use crate::secrets::Secrets;

const WINDOW: Duration = Duration::hours(1);

/// [`super::verify`] for a code submitted by merchant staff account `user_id`, with
/// the guessing limit applied. Call it outside the consumer's transaction (the failure
/// count must survive that transaction's rollback).
pub fn verify_as_staff(
    conn: &mut DbConnection,
    secrets: &Secrets,
    user_id: i64,
    input: &str,
    now: NaiveDateTime,
) -> ApiResult<VerifiedCode> {
    let id = decode_as_staff(conn, secrets, user_id, input, now)?;
    super::check_card(|card_id| crate::cards::find_by_id(conn, card_id), id, now)
}

/// The signature-and-window half of [`verify_as_staff`], for consumers that read the
/// card themselves inside their transaction (the redemption locks the card row).
pub fn decode_as_staff(
    conn: &mut DbConnection,
    secrets: &Secrets,
    user_id: i64,
    input: &str,
    now: NaiveDateTime,
) -> ApiResult<CodeId> {
    let row: Option<(i32, NaiveDateTime)> = t::table
        .find(user_id)
        .select((t::failures, t::window_start))
        .first(conn)
        .optional()?;
    if let Some((failures, start)) = row
        && now - start < WINDOW
        && failures >= MAX_FAILED_VERIFICATIONS_PER_HOUR as i32
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!(
                "Too many codes that are not genuine were entered from this account; code checks resume at {}.",
                crate::time::to_local(start + WINDOW).format("%H:%M")
            ),
        ));
    }
    let decoded = super::decode(&secrets.code, input, now);
    if decoded == Err(CodeError::Signature) {
        write_tx(conn, |conn| record_failure(conn, user_id, row, now))?;
    }
    decoded.map_err(|e| e.to_api())
}

fn record_failure(
    conn: &mut DbConnection,
    user_id: i64,
    seen: Option<(i32, NaiveDateTime)>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let fresh_window = seen.is_none_or(|(_, start)| now - start >= WINDOW);
    let updated = if fresh_window {
        diesel::update(t::table.find(user_id))
            .set((t::failures.eq(1), t::window_start.eq(now)))
            .execute(conn)?
    } else {
        // Relative increment: concurrent failures each count.
        diesel::update(t::table.find(user_id))
            .set(t::failures.eq(t::failures + 1))
            .execute(conn)?
    };
    if updated == 0 {
        diesel::insert_into(t::table)
            .values((
                t::user_id.eq(user_id),
                t::failures.eq(1),
                t::window_start.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
