//! Fixed-window counters in the database (`rate_limits`), shared by every instance:
//! login attempts, the public application form, cashier creation.
//!
//! [`take`] counts an attempt *before* the work it guards, in one conditional statement:
//! `UPDATE … SET hits = hits + 1 WHERE bucket = ? AND window_end > now AND hits < max`.
//! PostgreSQL re-checks that WHERE on the row version it locks, and SQLite has one writer
//! at a time, so concurrent takers never get more than `max` between them on either
//! backend. A bucket seen for the first time is an INSERT; two first takers race on the
//! primary key, and the loser retries the UPDATE (no `ON CONFLICT` through the
//! multi-backend connection, see STYLE.md). Work that turns out not to count (a correct
//! password) gives its hit back with [`refund`].
//!
//! Rows outlive their window by nothing: every new bucket first deletes the expired
//! ones, so unknown usernames and one-off addresses do not accumulate.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::{DbConnection, write_tx};
use crate::error::ApiResult;
use crate::schema::rate_limits as rl;

/// At most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: i32,
    pub window: Duration,
}

/// The outcome of [`take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Counted; `hits` is the count in this window, this one included.
    Taken { hits: i32 },
    /// The limit is reached until `until`.
    Refused { until: NaiveDateTime },
}

/// Counts one hit on `bucket` if the limit allows it. Safe inside or outside a
/// transaction (the INSERT runs in a savepoint when nested).
pub fn take(
    conn: &mut DbConnection,
    bucket: &str,
    limit: Limit,
    now: NaiveDateTime,
) -> ApiResult<Take> {
    // Three rounds: a lost INSERT race or a window that ends between two statements only
    // ever needs one more.
    for _ in 0..3 {
        let counted: Option<i32> = diesel::update(
            rl::table
                .find(bucket)
                .filter(rl::window_end.gt(now))
                .filter(rl::hits.lt(limit.max)),
        )
        .set(rl::hits.eq(rl::hits + 1))
        .returning(rl::hits)
        .get_result(conn)
        .optional()?;
        if let Some(hits) = counted {
            return Ok(Take::Taken { hits });
        }
        // The window is over: this hit opens the next one.
        let restarted = diesel::update(rl::table.find(bucket).filter(rl::window_end.le(now)))
            .set((rl::hits.eq(1), rl::window_end.eq(now + limit.window)))
            .execute(conn)?;
        if restarted == 1 {
            return Ok(Take::Taken { hits: 1 });
        }
        let row: Option<(i32, NaiveDateTime)> = rl::table
            .find(bucket)
            .select((rl::hits, rl::window_end))
            .first(conn)
            .optional()?;
        match row {
            Some((hits, until)) if hits >= limit.max && until > now => {
                return Ok(Take::Refused { until });
            }
            // Changed under us (a refund, a restart): count again.
            Some(_) => continue,
            None => {}
        }
        let inserted = write_tx(conn, |conn| {
            purge_expired(conn, now)?;
            diesel::insert_into(rl::table)
                .values((
                    rl::bucket.eq(bucket),
                    rl::hits.eq(1),
                    rl::window_end.eq(now + limit.window),
                ))
                .execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(Take::Taken { hits: 1 }),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    // Only reachable under a churn no client produces; refusing briefly is the safe side.
    Ok(Take::Refused {
        until: now + Duration::seconds(1),
    })
}

/// Gives back one hit of the current window (the attempt did not count after all).
pub fn refund(conn: &mut DbConnection, bucket: &str, now: NaiveDateTime) -> ApiResult<()> {
    diesel::update(
        rl::table
            .find(bucket)
            .filter(rl::window_end.gt(now))
            .filter(rl::hits.gt(0)),
    )
    .set(rl::hits.eq(rl::hits - 1))
    .execute(conn)?;
    Ok(())
}

/// Forgets the bucket.
pub fn clear(conn: &mut DbConnection, bucket: &str) -> ApiResult<()> {
    diesel::delete(rl::table.find(bucket)).execute(conn)?;
    Ok(())
}

/// Deletes every bucket whose window has ended (they would restart at 1 anyway).
pub fn purge_expired(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rl::table.filter(rl::window_end.le(now))).execute(conn)
}

/// Whole units of `unit_secs` (minutes, hours) until `until`, rounded up, for details
/// people read.
pub fn wait_in(until: NaiveDateTime, now: NaiveDateTime, unit_secs: u64) -> u64 {
    ((until - now).num_seconds().max(1) as u64).div_ceil(unit_secs)
}
