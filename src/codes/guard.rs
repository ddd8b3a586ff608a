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

use super::{CodeError, MAX_FAILED_VERIFICATIONS_PER_HOUR, VerifiedCode};
use crate::db::{DbConnection, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::schema::{code_guess_throttle as t, users};
use crate::secrets::Secrets;
use crate::users::SessionUser;

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
    let seen = t::table
        .find(user_id)
        .select(Failures::as_select())
        .first(conn)
        .optional()?;
    refuse_if_throttled(seen, now)?;
    let id = super::decode(&secrets.code, input, now)
        .map_err(|error| refuse_undecoded(conn, user_id, seen, error, now))?;
    super::check_card(|card_id| crate::cards::find_by_id(conn, card_id), id, now)
}

/// An account's recent failed verifications, as counted in `code_guess_throttle`.
#[derive(Debug, Clone, Copy, Queryable, Selectable)]
#[diesel(table_name = t)]
pub struct Failures {
    failures: i32,
    window_start: NaiveDateTime,
}

/// The caller's user row (if any) and its failed verifications, in one read.
pub fn staff_and_failures(
    conn: &mut DbConnection,
    user_id: i64,
) -> ApiResult<(Option<SessionUser>, Option<Failures>)> {
    let found = users::table
        .left_join(t::table.on(t::user_id.eq(users::id)))
        .filter(users::id.eq(user_id))
        .select((SessionUser::as_select(), Option::<Failures>::as_select()))
        .first(conn)
        .optional()?;
    Ok(found.map_or((None, None), |(user, failures)| (Some(user), failures)))
}

/// The 429 for an account that has entered too many forged codes within the hour.
pub fn refuse_if_throttled(seen: Option<Failures>, now: NaiveDateTime) -> ApiResult<()> {
    match seen {
        Some(Failures {
            failures,
            window_start: start,
        }) if now - start < WINDOW && failures >= MAX_FAILED_VERIFICATIONS_PER_HOUR as i32 => {
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!(
                    "Too many codes that are not genuine were entered from this account; code checks resume at {}.",
                    crate::time::to_local(start + WINDOW).format("%H:%M")
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// The refusal of a code that did not decode, submitted by staff account `user_id`
/// (whose failures were `seen`) once the guessing limit let it be checked: a wrong
/// signature counts against the account, in a transaction of its own that the refusal
/// does not roll back.
pub fn refuse_undecoded(
    conn: &mut DbConnection,
    user_id: i64,
    seen: Option<Failures>,
    error: CodeError,
    now: NaiveDateTime,
) -> ApiError {
    if error == CodeError::Signature
        && let Err(failed) = write_tx(conn, |conn| record_failure(conn, user_id, seen, now))
    {
        return failed;
    }
    error.to_api()
}

fn record_failure(
    conn: &mut DbConnection,
    user_id: i64,
    seen: Option<Failures>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let fresh_window = seen.is_none_or(|seen| now - seen.window_start >= WINDOW);
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
