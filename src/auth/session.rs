//! Device sessions (DESIGN §4): each login opens one, renewed by a rotating refresh token
//! in an HttpOnly cookie scoped to `/api/v1/auth`, so access tokens can stay short while
//! a cashier's session lasts a shift and a talent's phone stays signed in for weeks.
//!
//! A refresh token is `{session id}.{secret}`; only the SHA-256 of the secret is kept.
//! Every renewal replaces the secret. The one it replaced is remembered: presented again
//! within [`RACE_GRACE`] it is a second tab of the same browser racing the first (answered
//! without rotating, the browser already holds the new cookie); presented later it is a
//! copy someone kept, and the session ends. A secret that matches neither ends nothing —
//! otherwise anyone could end another person's session by guessing its id.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::auth::Role;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{sessions, users};

pub const REFRESH_COOKIE: &str = "tc_refresh";
/// The refresh cookie goes to the session endpoints only, never to the rest of the API.
pub const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

/// How long a replaced refresh token is still taken as a racing tab, not a stolen copy.
pub const RACE_GRACE: Duration = Duration::seconds(30);

/// How long sessions are kept after they ended, for the account's own record.
const KEEP_ENDED: Duration = Duration::days(30);

/// How long a session of `role` lives: (idle limit, absolute limit). Counter staff for
/// a shift, talents for weeks on their own phone, officials — who can move public money —
/// until 30 minutes without use and a working day at most.
pub fn lifetime(role: Role) -> (Duration, Duration) {
    match role {
        Role::Merchant | Role::Cashier => (Duration::hours(12), Duration::hours(12)),
        Role::Talent => (Duration::days(30), Duration::days(30)),
        Role::Admin | Role::Auditor => (Duration::minutes(30), Duration::hours(8)),
    }
}

/// A session just opened or renewed: what the response needs.
#[derive(Debug, Clone)]
pub struct Renewed {
    pub session_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub token_version: i32,
    pub expires_at: NaiveDateTime,
    /// The new refresh token for the cookie; `None` when a racing tab was answered
    /// without rotating (the browser holds the newer cookie already).
    pub refresh_token: Option<String>,
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> String {
    hex::encode(crate::secrets::random_bytes::<32>())
}

/// Opens a session for a user who just proved who they are (login, activation, password
/// change). Ended sessions of the account older than a month are dropped here, so the
/// table does not grow with every login.
pub fn open(
    conn: &mut DbConnection,
    user_id: i64,
    role: Role,
    token_version: i32,
    now: NaiveDateTime,
) -> ApiResult<Renewed> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::expires_at.lt(now - KEEP_ENDED)),
    )
    .execute(conn)?;
    let (_, absolute) = lifetime(role);
    let secret = new_secret();
    let expires_at = now + absolute;
    diesel::insert_into(sessions::table)
        .values((
            sessions::user_id.eq(user_id),
            sessions::refresh_hash.eq(digest(&secret)),
            sessions::rotated_at.eq(now),
            sessions::token_version.eq(token_version),
            sessions::created_at.eq(now),
            sessions::last_used_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    // MultiConnection offers no RETURNING on inserts; the hash is unique.
    let session_id = sessions::table
        .filter(sessions::refresh_hash.eq(digest(&secret)))
        .select(sessions::id)
        .first(conn)?;
    Ok(Renewed {
        session_id,
        user_id,
        role,
        token_version,
        expires_at,
        refresh_token: Some(format!("{session_id}.{secret}")),
    })
}

#[derive(Debug, Queryable)]
struct Row {
    refresh_hash: String,
    previous_hash: Option<String>,
    rotated_at: NaiveDateTime,
    token_version: i32,
    last_used_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    ended_at: Option<NaiveDateTime>,
    user_id: i64,
    role: String,
    active: bool,
    current_version: i32,
}

/// Ends a session (logout, reuse of a replaced token, idle or account change).
pub fn end(
    conn: &mut DbConnection,
    session_id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::ended_at.is_null()),
    )
    .set((sessions::ended_at.eq(now), sessions::end_reason.eq(reason)))
    .execute(conn)?;
    Ok(())
}

/// Ends every session of an account (logout-all; a password change opens a new one).
pub fn end_all(
    conn: &mut DbConnection,
    user_id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> ApiResult<usize> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set((sessions::ended_at.eq(now), sessions::end_reason.eq(reason)))
    .execute(conn)?)
}

/// The join condition that finds an access token's session still running, beside the
/// user row every authenticated request reads: ended or expired, it finds nothing.
#[diesel::dsl::auto_type]
pub fn live(session_id: i64, now: NaiveDateTime) -> _ {
    sessions::id
        .eq(session_id)
        .and(sessions::user_id.eq(users::id))
        .and(sessions::ended_at.is_null())
        .and(sessions::expires_at.gt(now))
}

/// The session id and secret of a refresh cookie; `None` when it cannot be one.
fn parse(token: &str) -> Option<(i64, &str)> {
    let (id, secret) = token.split_once('.')?;
    let id = id.parse().ok()?;
    (secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())).then_some((id, secret))
}

/// Renews the session of a refresh token: a new secret (rotation) and a later idle
/// limit. `None` is a refusal (the caller answers 401): no such session, or one that
/// ended — a replaced token presented after the grace ends it here, as it can only be a
/// copy, and that end is written even though the request is refused.
pub fn renew(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> ApiResult<Option<Renewed>> {
    let Some((session_id, secret)) = parse(token) else {
        return Ok(None);
    };
    let row: Option<Row> = sessions::table
        .inner_join(users::table.on(users::id.eq(sessions::user_id)))
        .filter(sessions::id.eq(session_id))
        .select((
            sessions::refresh_hash,
            sessions::previous_hash,
            sessions::rotated_at,
            sessions::token_version,
            sessions::last_used_at,
            sessions::expires_at,
            sessions::ended_at,
            users::id,
            users::role,
            users::active,
            users::token_version,
        ))
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let presented = digest(secret);
    let current = presented == row.refresh_hash;
    let replaced = row.previous_hash.as_deref() == Some(presented.as_str());
    if (!current && !replaced) || row.ended_at.is_some() {
        return Ok(None);
    }
    let role: Role = row
        .role
        .parse()
        .map_err(|e: String| ApiError::internal(anyhow::anyhow!("user {}: {e}", row.user_id)))?;
    let (idle, _) = lifetime(role);
    let why_not = if !row.active {
        Some("account disabled")
    } else if row.token_version != row.current_version {
        Some("account signed out everywhere")
    } else if now >= row.expires_at {
        Some("expired")
    } else if now - row.last_used_at > idle {
        Some("idle")
    } else if replaced && now - row.rotated_at > RACE_GRACE {
        tracing::warn!(
            session_id,
            "a replaced refresh token came back; session ended"
        );
        Some("replaced token reused")
    } else {
        None
    };
    if let Some(reason) = why_not {
        end(conn, session_id, reason, now)?;
        return Ok(None);
    }
    let refresh_token = if current {
        let secret = new_secret();
        // Conditional on the hash still being the one presented: of two renewals racing
        // with the same token, one rotates and the other is the racing tab.
        let rotated = diesel::update(
            sessions::table
                .find(session_id)
                .filter(sessions::refresh_hash.eq(&presented)),
        )
        .set((
            sessions::refresh_hash.eq(digest(&secret)),
            sessions::previous_hash.eq(&presented),
            sessions::rotated_at.eq(now),
            sessions::last_used_at.eq(now),
        ))
        .execute(conn)?;
        (rotated == 1).then(|| format!("{session_id}.{secret}"))
    } else {
        None
    };
    Ok(Some(Renewed {
        session_id,
        user_id: row.user_id,
        role,
        token_version: row.current_version,
        expires_at: row.expires_at,
        refresh_token,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_refresh_tokens_parse() {
        let secret = "ab".repeat(32);
        assert_eq!(parse(&format!("12.{secret}")), Some((12, secret.as_str())));
        assert_eq!(parse(&format!("x.{secret}")), None);
        assert_eq!(parse("12.abc"), None);
        assert_eq!(parse(&format!("12{secret}")), None);
        assert_eq!(parse(&format!("12.{}", "zz".repeat(32))), None);
    }

    #[test]
    fn officials_sessions_end_soonest() {
        let (idle, absolute) = lifetime(Role::Admin);
        assert_eq!(
            (idle, absolute),
            (Duration::minutes(30), Duration::hours(8))
        );
        assert_eq!(lifetime(Role::Cashier).1, Duration::hours(12));
        assert_eq!(lifetime(Role::Talent).1, Duration::days(30));
    }
}
