//! Login throttling per username, known or unknown alike (so it reveals nothing), shared
//! by all instances through the database.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::login_throttle;

/// Failures allowed within [`WINDOW_MINUTES`] before the username is locked.
pub const MAX_FAILURES: i32 = 5;
pub const WINDOW_MINUTES: i64 = 15;
pub const LOCK_MINUTES: i64 = 15;

/// When the username is locked, until when.
pub fn locked_until(
    conn: &mut DbConnection,
    username: &str,
    now: NaiveDateTime,
) -> ApiResult<Option<NaiveDateTime>> {
    let until: Option<Option<NaiveDateTime>> = login_throttle::table
        .find(username)
        .select(login_throttle::locked_until)
        .first(conn)
        .optional()?;
    Ok(until.flatten().filter(|t| *t > now))
}

/// Counts a failed login (inside a write transaction).
pub fn record_failure(
    conn: &mut DbConnection,
    username: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let row: Option<(i32, NaiveDateTime)> = login_throttle::table
        .find(username)
        .select((login_throttle::failures, login_throttle::window_start))
        .first(conn)
        .optional()?;
    let (failures, window_start) = match row {
        Some((n, start)) if now - start < Duration::minutes(WINDOW_MINUTES) => (n + 1, start),
        _ => (1, now),
    };
    let locked_until = (failures >= MAX_FAILURES).then(|| now + Duration::minutes(LOCK_MINUTES));
    let updated = diesel::update(login_throttle::table.find(username))
        .set((
            login_throttle::failures.eq(failures),
            login_throttle::window_start.eq(window_start),
            login_throttle::locked_until.eq(locked_until),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(login_throttle::table)
            .values((
                login_throttle::username.eq(username),
                login_throttle::failures.eq(failures),
                login_throttle::window_start.eq(window_start),
                login_throttle::locked_until.eq(locked_until),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn clear(conn: &mut DbConnection, username: &str) -> ApiResult<()> {
    diesel::delete(login_throttle::table.find(username)).execute(conn)?;
    Ok(())
}
