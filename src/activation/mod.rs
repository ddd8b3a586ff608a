//! Activation codes: a person sets their own password with a one-time code that someone
//! else handed them, so whoever created the account never knows it (DESIGN §10, §13).
//!
//! A code is 16 characters of a 32-letter alphabet without 0, O, 1 and I (80 random
//! bits), shown in groups of four, so it is read off paper or a phone without doubt.
//! Only a keyed hash (HMAC-SHA256 under a server-held key) is stored: a copy of the
//! table alone cannot be checked against guesses. A fresh code replaces the earlier
//! unused ones.

pub mod reissue;
pub mod routes;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::activation_codes;

/// How long a code can be used (DESIGN §10).
pub const VALIDITY_DAYS: i64 = 30;

/// Digits and capitals without the look-alikes 0/O and 1/I.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const CODE_LEN: usize = 16;

/// Codes issued before the keyed hash used Crockford's base32 and a plain SHA-256; they
/// stay valid until they expire (30 days), so both forms are looked up. Remove once no
/// unexpired code of that kind is left.
const LEGACY_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

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

/// The code as typed, upper case, without dashes or spaces.
fn typed(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The code in canonical form; `None` when it cannot be one.
fn canonical(raw: &str) -> Option<String> {
    let code = typed(raw);
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// A code of the earlier kind in its canonical form (Crockford: I, L read as 1, O as 0).
fn legacy_canonical(raw: &str) -> Option<String> {
    let code: String = typed(raw)
        .chars()
        .map(|c| match c {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| LEGACY_ALPHABET.contains(&b))).then_some(code)
}

/// What is stored of a code: HMAC-SHA256 under the server's activation key.
fn digest(key: &[u8; 32], canonical: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn legacy_digest(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Issues a code for `user_id`, replacing any earlier unused one.
pub fn issue(
    conn: &mut DbConnection,
    key: &[u8; 32],
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
    issue_first(conn, key, user_id, issued_by, now)
}

/// Issues the first code of an account that has never had one (an imported talent):
/// nothing earlier to replace.
pub fn issue_first(
    conn: &mut DbConnection,
    key: &[u8; 32],
    user_id: i64,
    issued_by: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<IssuedCode> {
    let code = generate();
    let expires_at = now + Duration::days(VALIDITY_DAYS);
    let hash = digest(
        key,
        &canonical(&code).expect("a generated code is canonical"),
    );
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

/// The stored hashes `raw` may have (its current and its earlier form), or the refusal
/// when it cannot be a code at all.
fn hashes_of(key: &[u8; 32], raw: &str) -> ApiResult<Vec<String>> {
    let hashes: Vec<String> = canonical(raw)
        .map(|c| digest(key, &c))
        .into_iter()
        .chain(legacy_canonical(raw).map(|c| legacy_digest(&c)))
        .collect();
    if hashes.is_empty() {
        Err(wrong_code())
    } else {
        Ok(hashes)
    }
}

/// Whether `raw` is a live code of `user_id`, without spending it: checked before the
/// new password is hashed, so wrong guesses cost no argon2 run.
pub fn check(
    conn: &mut DbConnection,
    key: &[u8; 32],
    user_id: i64,
    raw: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let hashes = hashes_of(key, raw)?;
    let live: bool = diesel::select(diesel::dsl::exists(
        activation_codes::table
            .filter(activation_codes::user_id.eq(user_id))
            .filter(activation_codes::code_hash.eq_any(&hashes))
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
    key: &[u8; 32],
    user_id: i64,
    raw: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let hashes = hashes_of(key, raw)?;
    let spent = diesel::update(
        activation_codes::table
            .filter(activation_codes::user_id.eq(user_id))
            .filter(activation_codes::code_hash.eq_any(&hashes))
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
    fn codes_have_no_look_alikes() {
        for _ in 0..200 {
            let code = generate();
            assert!(!code.contains(['0', 'O', '1', 'I']), "no 0/O/1/I in {code}");
        }
    }

    #[test]
    fn typing_slips_are_forgiven_and_garbage_is_not() {
        assert_eq!(
            canonical("7k3d q9xm-2hbv-t4ra").as_deref(),
            Some("7K3DQ9XM2HBVT4RA")
        );
        assert_eq!(canonical("7K3D-Q9XM-2HBV"), None);
        assert_eq!(canonical("7K3D-Q9XM-2HBV-T401"), None, "no 0 or 1");
        assert_eq!(canonical("7K3D-Q9XM-2HBV-T4R\u{0}"), None);
        // An earlier code (Crockford) still reads, I and L as 1, O as 0.
        assert_eq!(
            legacy_canonical("IL0O-0000-0000-0000").as_deref(),
            Some("1100000000000000")
        );
    }

    #[test]
    fn the_stored_hash_needs_the_key() {
        let code = canonical("7K3D-Q9XM-2HBV-T4RA").unwrap();
        let one = digest(&[1; 32], &code);
        assert_ne!(one, digest(&[2; 32], &code), "another key, another hash");
        assert_ne!(one, legacy_digest(&code), "not a plain SHA-256");
        assert_eq!(hashes_of(&[1; 32], "7k3d-q9xm-2hbv-t4ra").unwrap()[0], one);
    }
}
