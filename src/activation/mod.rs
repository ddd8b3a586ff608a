//! Activation codes: a person sets their own password with a one-time code that someone
//! else handed them, so whoever created the account never knows it (DESIGN §10, §13).
//!
//! A code is 16 characters of Crockford's base32 (80 random bits), shown in groups of
//! four. Only its SHA-256 is stored: with 80 bits and throttled guessing, a slow hash
//! would add cost without adding safety. A fresh code replaces the earlier unused ones.

pub mod routes;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::activation_codes;

/// How long a code can be used (DESIGN §10).
pub const VALIDITY_DAYS: i64 = 30;

/// Crockford's base32: no I, L, O or U, so a code read aloud or off paper is not misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_LEN: usize = 16;

/// A freshly issued code: shown once to the one who hands it over, never stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedCode {
    /// e.g. `7K3D-Q9XM-2HBV-T4RA`; letters may be typed in either case, dashes optional.
    pub activation_code: String,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub activation_expires_at: NaiveDateTime,
}

fn generate() -> String {
    let bytes = crate::secrets::random_bytes::<CODE_LEN>();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The code as typed, in canonical form: upper case, without dashes or spaces, with the
/// letters Crockford reads as digits (I, L → 1; O → 0) mapped. `None` when it cannot be
/// a code at all.
fn canonical(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

fn digest(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Issues a code for `user_id`, replacing any earlier unused one.
pub fn issue(
    conn: &mut DbConnection,
    user_id: i64,
    issued_by: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<IssuedCode> {
    diesel::update(
        activation_codes::table
            .filter(activation_codes::user_id.eq(user_id))
            .filter(activation_codes::used_at.is_null()),
    )
    .set(activation_codes::used_at.eq(now))
    .execute(conn)?;
    let code = generate();
    let expires_at = now + Duration::days(VALIDITY_DAYS);
    let hash = digest(&canonical(&code).expect("a generated code is canonical"));
    diesel::insert_into(activation_codes::table)
        .values((
            activation_codes::user_id.eq(user_id),
            activation_codes::code_hash.eq(hash),
            activation_codes::issued_by.eq(issued_by),
            activation_codes::created_at.eq(now),
            activation_codes::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(IssuedCode {
        activation_code: code,
        activation_expires_at: expires_at,
    })
}

/// Wrong, used and expired codes get one answer: which of them it was would help a
/// guesser.
fn wrong_code() -> ApiError {
    ApiError::unauthorized("The activation code is wrong, used or expired.")
}

/// The stored hash `raw` would have, or the refusal when it cannot be a code at all.
fn hash_of(raw: &str) -> ApiResult<String> {
    Ok(digest(&canonical(raw).ok_or_else(wrong_code)?))
}

/// Whether `raw` is a live code of `user_id`, without spending it: checked before the
/// new password is hashed, so wrong guesses cost no argon2 run.
pub fn check(
    conn: &mut DbConnection,
    user_id: i64,
    raw: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let hash = hash_of(raw)?;
    let live: bool = diesel::select(diesel::dsl::exists(
        activation_codes::table
            .filter(activation_codes::user_id.eq(user_id))
            .filter(activation_codes::code_hash.eq(hash))
            .filter(activation_codes::used_at.is_null())
            .filter(activation_codes::expires_at.gt(now)),
    ))
    .get_result(conn)?;
    if live { Ok(()) } else { Err(wrong_code()) }
}

/// Spends `raw` if it is a live code of `user_id` (once, even under concurrent
/// attempts); the caller sets the password in the same transaction.
pub fn redeem(
    conn: &mut DbConnection,
    user_id: i64,
    raw: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let hash = hash_of(raw)?;
    let spent = diesel::update(
        activation_codes::table
            .filter(activation_codes::user_id.eq(user_id))
            .filter(activation_codes::code_hash.eq(hash))
            .filter(activation_codes::used_at.is_null())
            .filter(activation_codes::expires_at.gt(now)),
    )
    .set(activation_codes::used_at.eq(now))
    .execute(conn)?;
    if spent == 1 {
        Ok(())
    } else {
        Err(wrong_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_grouped_and_canonical() {
        let code = generate();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3, "{code}");
        assert_eq!(canonical(&code).unwrap(), code.replace('-', ""));
        assert_ne!(generate(), code);
    }

    #[test]
    fn typing_slips_are_forgiven_and_garbage_is_not() {
        assert_eq!(
            canonical("7k3d q9xm-2hbv-t4ra").as_deref(),
            Some("7K3DQ9XM2HBVT4RA")
        );
        // Crockford: I and L read as 1, O as 0.
        assert_eq!(
            canonical("IL0O-0000-0000-0000").as_deref(),
            Some("1100000000000000")
        );
        assert_eq!(canonical("7K3D-Q9XM-2HBV"), None);
        assert_eq!(canonical("7K3D-Q9XM-2HBV-T4RU"), None);
        assert_eq!(canonical("7K3D-Q9XM-2HBV-T4R\u{0}"), None);
    }
}
