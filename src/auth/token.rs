//! Access tokens: HS256 JWTs signed with the current key of the `jwt` key set. The key id
//! travels in the header, so keys rotate without logging everyone out.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::error::ApiError;
use crate::secrets::KeySet;

const ISSUER: &str = "talentcard";
/// Clock skew tolerated between instances when checking `exp`.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub role: Role,
    /// Token version of the user when issued; a newer version in the database ends it.
    pub ver: i32,
    /// The device session the token belongs to; ending the session ends the token.
    pub sid: i64,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

pub fn issue(
    keys: &KeySet,
    user_id: i64,
    role: Role,
    version: i32,
    session_id: i64,
    ttl_secs: i64,
) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: user_id.to_string(),
        role,
        ver: version,
        sid: session_id,
        iat: now,
        exp: now + ttl_secs,
        iss: ISSUER.to_owned(),
    };
    let (kid, key) = keys.current_key();
    let header = Header {
        kid: Some(kid),
        ..Header::new(Algorithm::HS256)
    };
    Ok(jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(&key),
    )?)
}

/// Whether `claims` are still within their time, as [`decode`] judges it.
pub fn unexpired(claims: &Claims, now: i64) -> bool {
    now <= claims.exp.saturating_add(LEEWAY_SECS as i64)
}

/// Checks signature, key id, issuer and expiry. Every failure is the same 401 to the
/// client; the reason goes to the debug log only.
pub fn decode(keys: &KeySet, token: &str) -> Result<Claims, ApiError> {
    let refuse = |why: &str| {
        tracing::debug!(why, "access token refused");
        ApiError::unauthorized("The access token is invalid or has expired; log in again.")
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| refuse("malformed"))?;
    if header.alg != Algorithm::HS256 {
        return Err(refuse("algorithm"));
    }
    let kid = header.kid.ok_or_else(|| refuse("no kid"))?;
    let key = keys.get(&kid).ok_or_else(|| refuse("unknown kid"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "sub", "iss"]);
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&key), &validation)
        .map(|data| data.claims)
        .map_err(|e| refuse(&e.to_string()))
}
