//! Login throttling, shared by all instances through the database ([`crate::ratelimit`]).
//!
//! Every attempt is counted *before* its password is checked, by atomic conditional
//! updates, so a storm of concurrent wrong passwords gets at most the limit's worth of
//! argon2 checks; a correct password gives its counts back. Three counters:
//!
//! * **username from this address**: [`MAX_FAILURES`] per [`WINDOW_MINUTES`]. This is
//!   the lock a guesser meets, and it only ever locks the guesser's own address: a
//!   stranger's failures elsewhere cannot lock an official out.
//! * **this address, any username**: [`MAX_ADDRESS_FAILURES`] per window. Bounds the
//!   argon2 work one address can cause by spraying usernames; generous, since a carrier
//!   NAT puts many honest people behind one address.
//! * **username, any address**: [`MAX_ACCOUNT_FAILURES`] per window, a softer backoff
//!   against guessing from many addresses. When it is reached, an address that has not
//!   failed for this username in the window still gets its password checked (once: a
//!   failure makes it an address that has failed), so a distributed guesser is slowed to
//!   one guess per address per window while the official logging in from their own
//!   machine is not locked out.
//!
//! Unknown usernames are counted the same way (nothing reveals who has an account), and
//! their rows are purged once their window ends.

use chrono::{Duration, NaiveDateTime};

use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::{self, Limit, Take};

/// Failures allowed for one username from one address within [`WINDOW_MINUTES`].
pub const MAX_FAILURES: i32 = 5;
/// Failures allowed from one address (IPv4 address or IPv6 /64), whatever the username:
/// four a minute, room for a carrier NAT's honest typos.
pub const MAX_ADDRESS_FAILURES: i32 = 60;
/// Failures for one username from all addresses before only fresh addresses are heard.
pub const MAX_ACCOUNT_FAILURES: i32 = 20;
pub const WINDOW_MINUTES: i64 = 15;

fn limit(max: i32) -> Limit {
    Limit {
        max,
        window: Duration::minutes(WINDOW_MINUTES),
    }
}

/// The counters one admitted attempt holds, to give back if the password is right.
#[derive(Debug, Clone)]
pub struct Admitted {
    pair: String,
    address: String,
    account: Option<String>,
}

fn buckets(username: &str, address: &str) -> (String, String, String) {
    // The address comes first: it never contains '|', so no username can collide.
    (
        format!("login|{address}|{username}"),
        format!("login-address|{address}"),
        format!("login-account|{username}"),
    )
}

fn refused(until: NaiveDateTime, now: NaiveDateTime, what: &str) -> ApiError {
    ApiError::rate_limited(
        "too_many_attempts",
        format!(
            "Too many failed logins {what}; try again in {} minutes.",
            ratelimit::wait_in(until, now, 60)
        ),
        until,
        now,
    )
}

/// Counts a login attempt for `username` from `address` before its password is
/// checked; a 429 when a limit refuses it (nothing stays counted then).
pub fn admit(
    conn: &mut DbConnection,
    username: &str,
    address: &str,
    now: NaiveDateTime,
) -> ApiResult<Admitted> {
    let (pair, address, account) = buckets(username, address);
    let pair_hits = match ratelimit::take(conn, &pair, limit(MAX_FAILURES), now)? {
        Take::Taken { hits } => hits,
        Take::Refused { until } => return Err(refused(until, now, "for this username")),
    };
    if let Take::Refused { until } =
        ratelimit::take(conn, &address, limit(MAX_ADDRESS_FAILURES), now)?
    {
        ratelimit::refund(conn, &pair, now)?;
        return Err(refused(until, now, "from your network"));
    }
    let account = match ratelimit::take(conn, &account, limit(MAX_ACCOUNT_FAILURES), now)? {
        Take::Taken { .. } => Some(account),
        // Under a distributed attack an address that has not failed is still heard once.
        Take::Refused { .. } if pair_hits == 1 => None,
        Take::Refused { until } => {
            ratelimit::refund(conn, &pair, now)?;
            ratelimit::refund(conn, &address, now)?;
            return Err(refused(until, now, "for this username"));
        }
    };
    Ok(Admitted {
        pair,
        address,
        account,
    })
}

/// The password was right: the attempt was no failure. The username's failures from
/// this address are forgotten; the shared counters get this attempt back (not the
/// others' failures: a success must not reset what a guesser has built up).
pub fn succeeded(
    conn: &mut DbConnection,
    admitted: &Admitted,
    now: NaiveDateTime,
) -> ApiResult<()> {
    ratelimit::clear(conn, &admitted.pair)?;
    ratelimit::refund(conn, &admitted.address, now)?;
    if let Some(account) = &admitted.account {
        ratelimit::refund(conn, account, now)?;
    }
    Ok(())
}
