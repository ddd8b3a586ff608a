//! Access tokens this instance has already verified, so that a cashier's token is
//! verified once, not at every request: parsing its header and claims and checking its
//! HMAC was 8 % of the server's CPU at the counter (BENCHMARKS.md). An entry is the
//! token's exact text and its claims, and serves until the token expires; the keys that
//! verified it cannot change while the process runs (rotation takes a restart). What
//! the database says of the token — its user, version and session — is still read at
//! every request.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::token::{self, Claims};
use crate::error::ApiError;
use crate::secrets::KeySet;

/// More tokens than any instance has signed-in users; past it, expired ones go first.
const MAX_ENTRIES: usize = 20_000;

#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<Box<str>, Claims>>,
}

impl VerifiedTokens {
    /// [`token::decode`], answered from the tokens already verified while unexpired.
    pub fn decode(&self, keys: &KeySet, token: &str) -> Result<Claims, ApiError> {
        let now = chrono::Utc::now().timestamp();
        if let Some(claims) = self.lock().get(token)
            && token::unexpired(claims, now)
        {
            return Ok(claims.clone());
        }
        let claims = token::decode(keys, token)?;
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, claims| token::unexpired(claims, now));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(token.into(), claims.clone());
        Ok(claims)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Claims>> {
        // The map holds only verified claims; a panic elsewhere leaves it whole.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn keys() -> KeySet {
        let dir = tempfile::tempdir().unwrap();
        crate::secrets::Secrets::load_or_create(&dir.path().join("secrets.json"))
            .unwrap()
            .jwt
    }

    #[test]
    fn a_verified_token_is_answered_again_and_nothing_else_is() {
        let keys = keys();
        let verified = VerifiedTokens::default();
        let token = token::issue(&keys, 7, Role::Cashier, 3, 11, 900).unwrap();
        let first = verified.decode(&keys, &token).unwrap();
        let again = verified.decode(&keys, &token).unwrap();
        assert_eq!((first.sub.as_str(), first.sid), ("7", 11));
        assert_eq!((again.sub.as_str(), again.ver, again.sid), ("7", 3, 11));

        // One character changed in the signature is another text: verified, and refused.
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(verified.decode(&keys, &forged).is_err());

        // Another instance's keys never verified it: its own cache does not answer it.
        assert!(
            VerifiedTokens::default()
                .decode(&self::keys(), &token)
                .is_err()
        );
    }

    #[test]
    fn an_expired_token_is_refused_though_it_was_verified() {
        let keys = keys();
        let verified = VerifiedTokens::default();
        // Expired 4 s ago: still within the 5 s of clock skew tolerated, for a second.
        let token = token::issue(&keys, 7, Role::Cashier, 3, 11, -4).unwrap();
        verified.decode(&keys, &token).unwrap();
        assert!(verified.lock().contains_key(token.as_str()));
        std::thread::sleep(std::time::Duration::from_millis(2_100));
        assert!(verified.decode(&keys, &token).is_err());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let keys = keys();
        let verified = VerifiedTokens::default();
        let token = token::issue(&keys, 1, Role::Cashier, 0, 1, 900).unwrap();
        verified.decode(&keys, &token).unwrap();
        let claims = verified.lock()[token.as_str()].clone();
        let expired = Claims {
            exp: chrono::Utc::now().timestamp() - 60,
            ..claims.clone()
        };
        {
            let mut entries = verified.lock();
            for i in 0..MAX_ENTRIES / 2 {
                entries.insert(format!("expired-{i}").into(), expired.clone());
                entries.insert(format!("live-{i}").into(), claims.clone());
            }
        }
        let next = token::issue(&keys, 2, Role::Cashier, 0, 2, 900).unwrap();
        verified.decode(&keys, &next).unwrap();
        let entries = verified.lock();
        // The expired half went; the live half and the new token stayed.
        assert_eq!(entries.len(), MAX_ENTRIES / 2 + 2, "{}", entries.len());
        assert!(entries.contains_key(next.as_str()));
        assert!(!entries.contains_key("expired-0"));
    }
}
