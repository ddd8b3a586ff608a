//! Personal data at rest: XChaCha20-Poly1305 ciphertext (random 192-bit nonces, so
//! nonce reuse is not a concern at any volume) plus a blind index, HMAC-SHA256 under a
//! separate key, for exact lookups and the one-person-one-talent constraint.
//!
//! Each value is bound to its field through the AEAD's associated data, so a phone
//! ciphertext copied into the ID-number column fails to decrypt instead of showing the
//! wrong value. Stored form: `v1:` + base64(nonce ‖ ciphertext ‖ tag).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{ApiError, ApiResult};
use crate::secrets::Secrets;

/// Which column a value belongs to; part of both the AEAD associated data and the
/// blind-index input, so equal phone and ID strings never share an index.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    IdNumber,
    Phone,
}

impl Field {
    fn label(self) -> &'static [u8] {
        match self {
            Field::IdNumber => b"talent.id_number",
            Field::Phone => b"talent.phone",
        }
    }
}

const VERSION_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

pub struct PiiVault {
    cipher: XChaCha20Poly1305,
    index_key: [u8; 32],
}

impl PiiVault {
    pub fn new(secrets: &Secrets) -> Self {
        PiiVault {
            cipher: XChaCha20Poly1305::new(&secrets.pii_encryption_key().into()),
            index_key: secrets.pii_index_key(),
        }
    }

    pub fn encrypt(&self, field: Field, plaintext: &str) -> ApiResult<String> {
        let nonce_bytes = crate::secrets::random_bytes::<NONCE_LEN>();
        let nonce = XNonce::from_slice(&nonce_bytes);
        let ciphertext = self
            .cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: field.label(),
                },
            )
            .map_err(|_| ApiError::internal(anyhow::anyhow!("PII encryption failed")))?;
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(format!("{VERSION_PREFIX}{}", B64.encode(blob)))
    }

    pub fn decrypt(&self, field: Field, stored: &str) -> ApiResult<String> {
        let broken = || {
            ApiError::internal(anyhow::anyhow!(
                "stored {field:?} cannot be decrypted: wrong key or altered data"
            ))
        };
        let blob = stored
            .strip_prefix(VERSION_PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(broken)?;
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: field.label(),
                },
            )
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }

    /// Seals a document holding personal data (an import's planned rows, its activation
    /// letters) under the same key, bound to `purpose`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, purpose: &[u8], plaintext: &[u8]) -> ApiResult<Vec<u8>> {
        let nonce_bytes = crate::secrets::random_bytes::<NONCE_LEN>();
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce_bytes),
                Payload {
                    msg: plaintext,
                    aad: purpose,
                },
            )
            .map_err(|_| ApiError::internal(anyhow::anyhow!("sealing failed")))?;
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    /// Opens what [`PiiVault::seal`] sealed for the same `purpose`.
    pub fn open(&self, purpose: &[u8], sealed: &[u8]) -> ApiResult<Vec<u8>> {
        if sealed.len() <= NONCE_LEN {
            return Err(ApiError::internal(anyhow::anyhow!(
                "sealed data is truncated"
            )));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: purpose,
                },
            )
            .map_err(|_| {
                ApiError::internal(anyhow::anyhow!(
                    "sealed data cannot be opened: wrong key or altered data"
                ))
            })
    }

    /// Hex HMAC-SHA256 of the normalised value; equal inputs give equal indexes.
    pub fn blind_index(&self, field: Field, normalised: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC takes any key length");
        mac.update(field.label());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> PiiVault {
        let dir = tempfile::tempdir().unwrap();
        PiiVault::new(&Secrets::load_or_create(&dir.path().join("s.json")).unwrap())
    }

    #[test]
    fn round_trips_with_fresh_nonces_and_binds_the_field() {
        let v = vault();
        let a = v.encrypt(Field::IdNumber, "11010519491231002X").unwrap();
        let b = v.encrypt(Field::IdNumber, "11010519491231002X").unwrap();
        assert_ne!(
            a, b,
            "random nonces: equal plaintexts give different ciphertexts"
        );
        assert!(!a.contains("1101051949"));
        assert_eq!(
            v.decrypt(Field::IdNumber, &a).unwrap(),
            "11010519491231002X"
        );
        assert!(v.decrypt(Field::Phone, &a).is_err(), "field bound via AAD");
        let mut tampered = a.clone();
        tampered.replace_range(10..11, if &a[10..11] == "A" { "B" } else { "A" });
        assert!(v.decrypt(Field::IdNumber, &tampered).is_err());
    }

    #[test]
    fn blind_index_is_deterministic_and_field_separated() {
        let v = vault();
        assert_eq!(
            v.blind_index(Field::Phone, "13812345678"),
            v.blind_index(Field::Phone, "13812345678")
        );
        assert_ne!(
            v.blind_index(Field::Phone, "13812345678"),
            v.blind_index(Field::IdNumber, "13812345678")
        );
        assert_ne!(
            v.blind_index(Field::Phone, "13812345678"),
            vault().blind_index(Field::Phone, "13812345678"),
            "a different key gives a different index"
        );
    }
}
