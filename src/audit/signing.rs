//! Checkpoint text and Ed25519 signatures (DESIGN §9).
//!
//! The text is a C2SP `tlog-checkpoint` body: origin line, tree size, base64 root, each
//! ending in a newline. The server and witnesses sign exactly those bytes with Ed25519,
//! so `openssl pkeyutl -sign -rawin` makes a valid witness signature. Verification is
//! strict (`verify_strict`): no small-order keys, no malleable signatures.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// A signed tree head: the log had `size` entries whose tree hash was `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl CheckpointBody {
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body; extension lines (C2SP allows them) are refused, since
    /// this log never writes any and accepting them would let a signed text say more.
    pub fn parse(text: &str) -> Result<Self, String> {
        let body = text
            .strip_suffix('\n')
            .ok_or("a checkpoint text ends with a newline")?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root] = lines[..] else {
            return Err(format!(
                "a checkpoint text has 3 lines (origin, size, root), this one has {}",
                lines.len()
            ));
        };
        if origin.is_empty() {
            return Err("the checkpoint's origin line is empty".into());
        }
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| size == "0" || !size.starts_with('0'))
            .ok_or_else(|| format!("the checkpoint size {size:?} is not a decimal number"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or("the checkpoint root is not 32 bytes of base64")?;
        Ok(CheckpointBody {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// A key's id: the first 8 bytes of SHA-256 of its 32-byte public key, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

pub fn encode_public_key(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// Reads a public key as base64 of its 32 raw bytes, base64 of its DER
/// SubjectPublicKeyInfo (what `openssl pkey -pubout -outform DER` writes), or PEM.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text)
            .map_err(|_| "the PEM text is not an Ed25519 public key".to_owned());
    }
    let bytes = B64
        .decode(text)
        .map_err(|_| "a public key is base64 (32 raw bytes or DER), or PEM".to_owned())?;
    let key = match bytes.len() {
        32 => VerifyingKey::from_bytes(&bytes.try_into().expect("length checked")),
        _ => VerifyingKey::from_public_key_der(&bytes)
            .map_err(|_| ed25519_dalek::SignatureError::new()),
    }
    .map_err(|_| "not an Ed25519 public key".to_owned())?;
    if key.is_weak() {
        return Err("a weak (small-order) Ed25519 key cannot sign anything meaningful".into());
    }
    Ok(key)
}

/// Checks a base64 Ed25519 signature over `text`, strictly.
pub fn verify(key: &VerifyingKey, text: &str, signature_b64: &str) -> Result<(), String> {
    let bytes = B64
        .decode(signature_b64.trim())
        .map_err(|_| "the signature is not base64".to_owned())?;
    let signature = Signature::from_slice(&bytes)
        .map_err(|_| format!("an Ed25519 signature is 64 bytes, this one {}", bytes.len()))?;
    key.verify_strict(text.as_bytes(), &signature)
        .map_err(|_| "the signature does not verify over the checkpoint text".to_owned())
}

/// The server's checkpoint signing keys, kept in the secrets file: `current` signs,
/// earlier keys stay listed so what they signed keeps verifying.
#[derive(Clone, Serialize, Deserialize)]
pub struct AuditKeys {
    pub current: String,
    /// key id → base64 of the 32-byte Ed25519 seed.
    keys: BTreeMap<String, String>,
}

impl AuditKeys {
    pub fn generate() -> Self {
        let mut keys = AuditKeys {
            current: String::new(),
            keys: BTreeMap::new(),
        };
        keys.rotate();
        keys
    }

    /// Adds a fresh key and makes it current; returns its id.
    pub fn rotate(&mut self) -> String {
        let signing = SigningKey::from_bytes(&crate::secrets::random_bytes::<32>());
        let kid = key_id(&signing.verifying_key());
        self.keys
            .insert(kid.clone(), B64.encode(signing.to_bytes()));
        self.current = kid.clone();
        kid
    }

    fn signing_key(&self, kid: &str) -> Option<SigningKey> {
        let seed: [u8; 32] = B64.decode(self.keys.get(kid)?).ok()?.try_into().ok()?;
        Some(SigningKey::from_bytes(&seed))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        for kid in self.keys.keys() {
            let key = self
                .signing_key(kid)
                .ok_or_else(|| anyhow::anyhow!("secrets: audit key {kid} is not a 32-byte seed"))?;
            if key_id(&key.verifying_key()) != *kid {
                anyhow::bail!("secrets: audit key {kid} does not match its id");
            }
        }
        if !self.keys.contains_key(&self.current) {
            anyhow::bail!("secrets: the current audit key is missing");
        }
        Ok(())
    }

    /// Signs `text` with the current key: `(key id, base64 signature)`.
    pub fn sign(&self, text: &str) -> (String, String) {
        let key = self
            .signing_key(&self.current)
            .expect("current key checked on load");
        (
            self.current.clone(),
            B64.encode(key.sign(text.as_bytes()).to_bytes()),
        )
    }

    pub fn current_public(&self) -> VerifyingKey {
        self.public(&self.current)
            .expect("current key checked on load")
    }

    pub fn public(&self, kid: &str) -> Option<VerifyingKey> {
        Some(self.signing_key(kid)?.verifying_key())
    }

    /// Every key, current and previous, by id.
    pub fn all(&self) -> impl Iterator<Item = (&str, VerifyingKey)> {
        self.keys
            .keys()
            .filter_map(|k| Some((k.as_str(), self.public(k)?)))
    }

    /// Every key but the current one, by id.
    pub fn previous(&self) -> impl Iterator<Item = (&str, VerifyingKey)> {
        self.all().filter(|(k, _)| *k != self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_text_round_trips_and_refuses_variants() {
        let body = CheckpointBody {
            origin: "example.org/audit".into(),
            size: 12,
            root: [7; 32],
        };
        let text = body.text();
        assert_eq!(CheckpointBody::parse(&text).unwrap(), body);
        for bad in [
            text.trim_end().to_owned(),
            text.replace("\n12\n", "\n012\n"),
            format!("{text}extension\n"),
            text.replace("example.org/audit", ""),
        ] {
            assert!(CheckpointBody::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signatures_verify_only_with_the_right_key_and_text() {
        let keys = AuditKeys::generate();
        let text = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let (kid, sig) = keys.sign(text);
        assert_eq!(kid, key_id(&keys.current_public()));
        verify(&keys.current_public(), text, &sig).unwrap();
        assert!(verify(&keys.current_public(), "o\n2\n", &sig).is_err());
        let other = AuditKeys::generate();
        assert!(verify(&other.current_public(), text, &sig).is_err());
    }

    #[test]
    fn rotation_keeps_the_old_key_listed() {
        let mut keys = AuditKeys::generate();
        let old = keys.current.clone();
        let new = keys.rotate();
        assert_ne!(old, new);
        assert_eq!(keys.previous().map(|(k, _)| k).collect::<Vec<_>>(), [old]);
        keys.validate().unwrap();
    }

    #[test]
    fn public_keys_parse_from_raw_der_and_pem() {
        let keys = AuditKeys::generate();
        let public = keys.current_public();
        assert_eq!(
            parse_public_key(&encode_public_key(&public)).unwrap(),
            public
        );
        use ed25519_dalek::pkcs8::EncodePublicKey;
        let der = public.to_public_key_der().unwrap();
        assert_eq!(
            parse_public_key(&B64.encode(der.as_bytes())).unwrap(),
            public
        );
        let pem = public
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(parse_public_key(&pem).unwrap(), public);
        assert!(parse_public_key("bm90IGEga2V5").is_err());
    }
}
