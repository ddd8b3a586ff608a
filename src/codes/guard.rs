//! The rate limits that bound forgery attempts (see the security margin in [`super`]):
//! per staff account, and per merchant for all its staff together, since an owner can
//! add cashiers (at most `CASHIERS_PER_MERCHANT_PER_DAY` a day). Every forged code also
//! counts in `code_forgery_suspected_total` and every refusal in
//! `code_guess_refusals_total{scope}` on /metrics, the alarm that someone is guessing.
//!
//! Only codes whose *signature* is wrong count: an honest cashier's typo is caught by
//! the check digit and a stale or payment code is a different refusal, so real counters
//! never trip it, while every forgery guess does (a forger can always fix up the check
//! digit). The count lives in the database so it holds across instances, and is written
//! in its own transaction so a failed request's rollback cannot erase it.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::{
    CodeError, MAX_FAILED_VERIFICATIONS_PER_HOUR, MAX_FAILED_VERIFICATIONS_PER_MERCHANT_HOUR,
    VerifiedCode,
};
use crate::auth::principal::SessionRead;
use crate::db::{DbConnection, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::metrics::{CODE_FORGERY_SUSPECTED, CODE_GUESS_REFUSALS};
use crate::schema::{code_guess_throttle as t, merchant_guess_throttle as m, users};
use crate::secrets::Secrets;
use crate::users::SessionUser;

const WINDOW: Duration = Duration::hours(1);

/// [`super::verify`] for a code submitted by merchant staff account `user_id` of
/// `merchant_id`, with the guessing limits applied. Call it outside the consumer's
/// transaction (the failure count must survive that transaction's rollback).
pub fn verify_as_staff(
    conn: &mut DbConnection,
    secrets: &Secrets,
    user_id: i64,
    merchant_id: Option<i64>,
    input: &str,
    now: NaiveDateTime,
) -> ApiResult<VerifiedCode> {
    let account = t::table
        .find(user_id)
        .select((t::failures, t::window_start))
        .first(conn)
        .optional()?;
    let merchant = match merchant_id {
        Some(id) => m::table
            .find(id)
            .select((m::failures, m::window_start))
            .first(conn)
            .optional()?,
        None => None,
    };
    let seen = Failures::new(account, merchant);
    refuse_if_throttled(seen, now)?;
    let id = super::decode(&secrets.code, input, now)
        .map_err(|error| refuse_undecoded(conn, user_id, merchant_id, seen, error, now))?;
    super::check_card(|card_id| crate::cards::find_by_id(conn, card_id), id, now)
}

/// Failed verifications within a window: `(failures, window_start)` as stored.
pub type Counted = Option<(i32, NaiveDateTime)>;

/// Recent failed verifications of a staff account and of its merchant (all its staff
/// together), as counted in `code_guess_throttle` and `merchant_guess_throttle`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Failures {
    account: Counted,
    merchant: Counted,
}

impl Failures {
    pub fn new(account: Counted, merchant: Counted) -> Self {
        Failures { account, merchant }
    }
}

/// The caller's user row (if any) and the failed verifications of it and its merchant,
/// in one read.
pub fn staff_and_failures(
    conn: &mut DbConnection,
    user_id: i64,
    session_id: i64,
) -> ApiResult<(SessionRead, Failures)> {
    use crate::schema::sessions;
    let now = crate::time::now();
    let found: Option<(SessionUser, Option<i64>, Counted, Counted)> = users::table
        .left_join(t::table.on(t::user_id.eq(users::id)))
        .left_join(m::table.on(m::merchant_id.nullable().eq(users::merchant_id)))
        .left_join(sessions::table.on(crate::auth::session::live(session_id, now)))
        .filter(users::id.eq(user_id))
        .select((
            SessionUser::as_select(),
            sessions::id.nullable(),
            (t::failures, t::window_start).nullable(),
            (m::failures, m::window_start).nullable(),
        ))
        .first(conn)
        .optional()?;
    Ok(found.map_or(
        (None, Failures::default()),
        |(user, session, account, merchant)| {
            (Some((user, session)), Failures::new(account, merchant))
        },
    ))
}

fn exhausted(counted: Counted, max: u32, now: NaiveDateTime) -> Option<NaiveDateTime> {
    counted
        .filter(|(failures, start)| now - *start < WINDOW && *failures >= max as i32)
        .map(|(_, start)| start + WINDOW)
}

/// The 429 for an account, or a merchant's staff together, that has entered too many
/// forged codes within the hour.
pub fn refuse_if_throttled(seen: Failures, now: NaiveDateTime) -> ApiResult<()> {
    let (scope, resume, whom) =
        if let Some(resume) = exhausted(seen.account, MAX_FAILED_VERIFICATIONS_PER_HOUR, now) {
            ("account", resume, "this account")
        } else if let Some(resume) = exhausted(
            seen.merchant,
            MAX_FAILED_VERIFICATIONS_PER_MERCHANT_HOUR,
            now,
        ) {
            ("merchant", resume, "this merchant's accounts")
        } else {
            return Ok(());
        };
    CODE_GUESS_REFUSALS.with_label_values(&[scope]).inc();
    Err(ApiError::rate_limited(
        "too_many_attempts",
        format!(
            "Too many codes that are not genuine were entered from {whom}; code checks resume at {}.",
            crate::time::to_local(resume).format("%H:%M")
        ),
        resume,
        now,
    ))
}

/// The refusal of a code that did not decode, submitted by staff account `user_id` of
/// `merchant_id` (whose failures were `seen`) once the guessing limits let it be checked:
/// a wrong signature counts against the account and its merchant, in a transaction of
/// its own that the refusal does not roll back.
pub fn refuse_undecoded(
    conn: &mut DbConnection,
    user_id: i64,
    merchant_id: Option<i64>,
    seen: Failures,
    error: CodeError,
    now: NaiveDateTime,
) -> ApiError {
    if error == CodeError::Signature {
        // The alarm: every forged (or badly stale) code, whoever sent it.
        CODE_FORGERY_SUSPECTED.inc();
        if let Err(failed) = write_tx(conn, |conn| {
            record_failure(conn, user_id, merchant_id, seen, now)
        }) {
            return failed;
        }
    }
    error.to_api()
}

fn fresh_window(counted: Counted, now: NaiveDateTime) -> bool {
    counted.is_none_or(|(_, start)| now - start >= WINDOW)
}

/// Counts one failure on a counter table shaped `(key, failures, window_start)`:
/// restarts an expired window, else increments relatively (concurrent failures each
/// count); a first failure inserts, in a savepoint so that losing the race to a
/// concurrent first failure does not abort the transaction (the winner's row then takes
/// the increment). One body for the account and the merchant counter.
macro_rules! count_failure {
    ($conn:expr, $table:ident, $key_column:ident, $key:expr, $seen:expr, $now:expr) => {{
        let (conn, key, now): (&mut DbConnection, _, _) = (&mut *$conn, $key, $now);
        let updated = if fresh_window($seen, now) {
            diesel::update($table::table.find(key))
                .set(($table::failures.eq(1), $table::window_start.eq(now)))
                .execute(conn)?
        } else {
            diesel::update($table::table.find(key))
                .set($table::failures.eq($table::failures + 1))
                .execute(conn)?
        };
        if updated == 0 {
            let inserted = conn.transaction(|conn| {
                diesel::insert_into($table::table)
                    .values((
                        $table::$key_column.eq(key),
                        $table::failures.eq(1),
                        $table::window_start.eq(now),
                    ))
                    .execute(conn)
            });
            match inserted {
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    diesel::update($table::table.find(key))
                        .set($table::failures.eq($table::failures + 1))
                        .execute(conn)?;
                }
                other => {
                    other?;
                }
            }
        }
    }};
}

pub(crate) fn record_failure(
    conn: &mut DbConnection,
    user_id: i64,
    merchant_id: Option<i64>,
    seen: Failures,
    now: NaiveDateTime,
) -> ApiResult<()> {
    count_failure!(conn, t, user_id, user_id, seen.account, now);
    if let Some(merchant_id) = merchant_id {
        count_failure!(conn, m, merchant_id, merchant_id, seen.merchant, now);
    }
    Ok(())
}
