//! Secret keys: generated at first start, kept in `SECRET_KEY_FILE` (default
//! `DATA_DIR/secrets.json`, mode 0600), never in the repository or the binary.
//!
//! Several instances behind a load balancer must share the same file (a mounted secret).
//! Signing keys carry a key id so they can rotate: the newest key signs, older keys
//! keep verifying what they signed until it expires.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::audit::signing::AuditKeys;

/// A set of symmetric keys addressed by key id; `current` signs.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeySet {
    pub current: String,
    keys: BTreeMap<String, String>,
}

impl KeySet {
    fn generate(prefix: &str) -> Self {
        let mut set = KeySet {
            current: String::new(),
            keys: BTreeMap::new(),
        };
        set.rotate(prefix);
        set
    }

    /// Adds a fresh key and makes it the signing key; older keys stay for verification.
    pub fn rotate(&mut self, prefix: &str) -> String {
        let next = self
            .keys
            .keys()
            .filter_map(|k| k.strip_prefix(prefix)?.parse::<u32>().ok())
            .max()
            .map_or(1, |n| n + 1);
        let kid = format!("{prefix}{next}");
        self.keys
            .insert(kid.clone(), B64.encode(random_bytes::<32>()));
        self.current = kid.clone();
        kid
    }

    pub fn get(&self, kid: &str) -> Option<Vec<u8>> {
        self.keys.get(kid).and_then(|k| B64.decode(k).ok())
    }

    pub fn current_key(&self) -> (String, Vec<u8>) {
        let key = self
            .get(&self.current)
            .expect("current key exists: checked on load");
        (self.current.clone(), key)
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

/// Every secret the service needs.
#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    /// HMAC keys for access tokens (JWT `kid`).
    pub jwt: KeySet,
    /// HMAC keys for the talents' rolling codes.
    pub code: KeySet,
    /// AEAD key encrypting personal data at rest (ID numbers, phones).
    pub pii_encryption: String,
    /// Key of the blind index that finds personal data without decrypting it.
    pub pii_index: String,
    /// Ed25519 keys signing the audit log's checkpoints. Absent in files written before
    /// checkpoints existed: [`Secrets::load_or_create`] adds it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audit: Option<AuditKeys>,
    /// Key of the keyed hash under which activation codes are stored. Absent in files
    /// written before it existed: [`Secrets::load_or_create`] adds it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activation: Option<String>,
    /// Key of the keyed hash under which physical-card PINs are stored. Absent in files
    /// written before PINs existed: [`Secrets::load_or_create`] adds it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pin: Option<String>,
    /// Key signing the notifications sent to the message gateway's webhook (the
    /// gateway checks `X-Talentcard-Signature` with it). Added on load when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("jwt_kids", &self.jwt.kids().collect::<Vec<_>>())
            .field("code_kids", &self.code.kids().collect::<Vec<_>>())
            .field(
                "audit_kid",
                &self.audit.as_ref().map(|a| a.current.as_str()),
            )
            .finish_non_exhaustive()
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

impl Secrets {
    fn generate() -> Self {
        Secrets {
            jwt: KeySet::generate("jwt-"),
            code: KeySet::generate(""),
            pii_encryption: B64.encode(random_bytes::<32>()),
            pii_index: B64.encode(random_bytes::<32>()),
            audit: Some(AuditKeys::generate()),
            activation: Some(B64.encode(random_bytes::<32>())),
            pin: Some(B64.encode(random_bytes::<32>())),
            webhook: Some(B64.encode(random_bytes::<32>())),
        }
    }

    /// The key activation codes are hashed with (present after loading).
    pub fn activation_key(&self) -> [u8; 32] {
        decode_key(self.activation.as_deref().expect("added on load"))
    }

    /// The key notifications to the webhook are signed with (present after loading).
    pub fn webhook_key(&self) -> [u8; 32] {
        decode_key(self.webhook.as_deref().expect("added on load"))
    }

    /// The key PINs are hashed with (present after loading).
    pub fn pin_key(&self) -> [u8; 32] {
        decode_key(self.pin.as_deref().expect("added on load"))
    }

    /// The audit checkpoint keys (present after loading).
    pub fn audit_keys(&self) -> &AuditKeys {
        self.audit.as_ref().expect("added on load")
    }

    pub fn audit_keys_mut(&mut self) -> &mut AuditKeys {
        self.audit.get_or_insert_with(AuditKeys::generate)
    }

    pub fn pii_encryption_key(&self) -> [u8; 32] {
        decode_key(&self.pii_encryption)
    }

    pub fn pii_index_key(&self) -> [u8; 32] {
        decode_key(&self.pii_index)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for (name, set) in [("jwt", &self.jwt), ("code", &self.code)] {
            if set.get(&set.current).is_none_or(|k| k.len() < 32) {
                bail!("secrets: the current {name} key is missing or shorter than 32 bytes");
            }
        }
        for (name, key) in [
            ("pii_encryption", &self.pii_encryption),
            ("pii_index", &self.pii_index),
        ] {
            if B64.decode(key).map(|k| k.len()).unwrap_or(0) != 32 {
                bail!("secrets: {name} must be 32 bytes, base64");
            }
        }
        if let Some(audit) = &self.audit {
            audit.validate()?;
        }
        for (name, key) in [
            ("activation", &self.activation),
            ("pin", &self.pin),
            ("webhook", &self.webhook),
        ] {
            if let Some(key) = key
                && B64.decode(key).map(|k| k.len()).unwrap_or(0) != 32
            {
                bail!("secrets: {name} must be 32 bytes, base64");
            }
        }
        Ok(())
    }

    /// Loads the secrets file, creating it with fresh keys on first start. Creation is
    /// exclusive, so two instances starting at once end up with the same keys.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Only directories created here are made 0700; an existing one (a mounted
            // secret) is left as the operator set it.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        let generated = Secrets::generate();
        match create_private(path) {
            Ok(mut file) => {
                file.write_all(serde_json::to_string_pretty(&generated)?.as_bytes())?;
                file.sync_all()?;
                tracing::info!(path = %path.display(), "generated new secret keys");
                return Ok(generated);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
        let mut secrets = Self::load(path)?;
        if secrets.audit.is_none() {
            // A file from before audit checkpoints: add the key once. Another instance
            // upgrading at the same moment may win the rename; reading back makes every
            // instance sign with the key that stayed in the file.
            secrets.audit = Some(AuditKeys::generate());
            secrets.save(path)?;
            tracing::info!(path = %path.display(), "generated the audit checkpoint signing key");
            secrets = Self::load(path)?;
        }
        // Keys added after the file was first written (keyed activation codes, PINs,
        // webhook signatures): each is added once, as above.
        type Slot = fn(&mut Secrets) -> &mut Option<String>;
        let added: [(&str, Slot); 3] = [
            ("activation code", |s| &mut s.activation),
            ("PIN", |s| &mut s.pin),
            ("webhook", |s| &mut s.webhook),
        ];
        for (name, key) in added {
            if key(&mut secrets).is_none() {
                *key(&mut secrets) = Some(B64.encode(random_bytes::<32>()));
                secrets.save(path)?;
                tracing::info!(path = %path.display(), "generated the {name} key");
                secrets = Self::load(path)?;
            }
        }
        Ok(secrets)
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let secrets: Secrets =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        secrets.validate()?;
        Ok(secrets)
    }

    /// Writes the secrets back (after a rotation), replacing the file atomically.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let _ = fs::remove_file(&tmp);
        let mut file = create_private(&tmp)?;
        file.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    }
}

fn decode_key(b64: &str) -> [u8; 32] {
    let bytes = B64.decode(b64).expect("validated on load");
    bytes.try_into().expect("validated on load")
}

fn create_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_generates_then_reuses_the_same_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let first = Secrets::load_or_create(&path).unwrap();
        let second = Secrets::load_or_create(&path).unwrap();
        assert_eq!(first.jwt.current_key(), second.jwt.current_key());
        assert_eq!(first.pii_encryption, second.pii_encryption);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn rotation_keeps_old_keys_for_verification() {
        let mut set = KeySet::generate("jwt-");
        let (old_kid, old_key) = set.current_key();
        let new_kid = set.rotate("jwt-");
        assert_ne!(old_kid, new_kid);
        assert_eq!(set.current, new_kid);
        assert_eq!(set.get(&old_kid), Some(old_key));
    }
}
