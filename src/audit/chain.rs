//! The hash construction of the audit chain (docs/audit-format.md is its contract).
//!
//! Version 2 commits to a hash of each entry's payload rather than the payload itself,
//! so an export can withhold a payload (personal data written before masking) and the
//! chain still verifies. Every field is length-prefixed, so no field's content can be
//! shifted into its neighbour and a verifier in any language needs no JSON canonicaliser.
//! Entries sealed under version 1 keep their old hash as `legacy_hash`, which the
//! version 2 hash commits to: old settlement anchors stay checkable.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const PAYLOAD_DOMAIN: &[u8] = b"talentcard-audit-payload-v2\n";
const ENTRY_DOMAIN: &[u8] = b"talentcard-audit-entry-v2\n";

/// One chain position with everything its hash is computed from: a row of the export
/// and what the server's own verify reads from the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
// A misspelt or extra field in an export is an error, never silently a null.
#[serde(deny_unknown_fields)]
pub struct ChainEntry {
    pub seq: i64,
    pub id: i64,
    /// UTC, `YYYY-MM-DDTHH:MM:SS.ffffff` (no offset), exactly as hashed.
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    /// Null when the entry had none, or when withheld.
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    /// True when the export leaves out `before_json`/`after_json`; `payload_hash`
    /// still commits to them.
    #[serde(default)]
    pub withheld: bool,
    pub payload_hash: String,
    /// The version 1 hash of entries sealed before version 2, else null.
    pub legacy_hash: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// `at` as hashed: microseconds, no offset (the database stores UTC).
pub fn format_at(at: &chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn field(h: &mut Sha256, value: Option<&str>) {
    match value {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

pub fn payload_hash(before_json: Option<&str>, after_json: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(PAYLOAD_DOMAIN);
    field(&mut h, before_json);
    field(&mut h, after_json);
    hex::encode(h.finalize())
}

/// The version 2 hash of `e` at its `seq` after its `prev_hash`, from its
/// `payload_hash` (the caller checks that against the payload when it has one).
pub fn entry_hash(e: &ChainEntry) -> String {
    let mut h = Sha256::new();
    h.update(ENTRY_DOMAIN);
    field(&mut h, Some(&e.seq.to_string()));
    field(&mut h, Some(&e.id.to_string()));
    field(&mut h, Some(&e.at));
    field(&mut h, e.actor_id.map(|a| a.to_string()).as_deref());
    field(&mut h, Some(&e.actor));
    field(&mut h, Some(&e.action));
    field(&mut h, Some(&e.entity_type));
    field(&mut h, Some(&e.entity_id));
    field(&mut h, Some(&e.payload_hash));
    field(&mut h, e.legacy_hash.as_deref());
    field(&mut h, Some(&e.prev_hash));
    hex::encode(h.finalize())
}

/// The version 1 hash (entries sealed before version 2): one compact JSON array, as
/// serde_json writes it, of the fields and the full payload. Needs the payload.
pub fn legacy_entry_hash(e: &ChainEntry, legacy_prev_hash: &str) -> String {
    let canonical = serde_json::json!([
        e.seq,
        e.id,
        e.at,
        e.actor_id,
        e.actor,
        e.action,
        e.entity_type,
        e.entity_id,
        e.before_json,
        e.after_json,
        legacy_prev_hash
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The 32 bytes of a hex hash, for the Merkle tree.
pub fn hash_bytes(hex_hash: &str) -> Option<[u8; 32]> {
    hex::decode(hex_hash).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ChainEntry {
        let mut e = ChainEntry {
            seq: 1,
            id: 7,
            at: "2026-11-28T01:02:03.000004".into(),
            actor_id: Some(3),
            actor: "admin".into(),
            action: "card.suspend".into(),
            entity_type: "card".into(),
            entity_id: "42".into(),
            before_json: Some(r#"{"status":"active"}"#.into()),
            after_json: None,
            withheld: false,
            payload_hash: String::new(),
            legacy_hash: None,
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        e.payload_hash = payload_hash(e.before_json.as_deref(), e.after_json.as_deref());
        e
    }

    /// docs/audit-format.md quotes these values so that a verifier written from the
    /// document can check itself against them.
    #[test]
    fn the_documented_example() {
        let e = entry();
        assert_eq!(
            e.payload_hash,
            "5a57407dcb55799df8d51d6fb9e7338a0fdd64d30a401f7e6d1b5671fbe9ab13"
        );
        assert_eq!(
            entry_hash(&e),
            "ecae9a951281300b816223c41ac270a374161ae62298ec592d9ecdc8cb75e654"
        );
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = entry();
        let h = entry_hash(&base);
        type Change = Box<dyn Fn(&mut ChainEntry)>;
        let variants: Vec<Change> = vec![
            Box::new(|e| e.seq = 2),
            Box::new(|e| e.id = 8),
            Box::new(|e| e.at.push('1')),
            Box::new(|e| e.actor_id = None),
            Box::new(|e| e.actor = "auditor".into()),
            Box::new(|e| e.action = "card.resume".into()),
            Box::new(|e| e.entity_type = "cards".into()),
            Box::new(|e| e.entity_id = "43".into()),
            Box::new(|e| e.payload_hash = payload_hash(None, None)),
            Box::new(|e| e.legacy_hash = Some(GENESIS_HASH.into())),
            Box::new(|e| e.prev_hash = "1".repeat(64)),
        ];
        for change in variants {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(entry_hash(&e), h);
        }
    }

    #[test]
    fn fields_cannot_shift_into_each_other() {
        assert_ne!(
            payload_hash(Some("ab"), Some("c")),
            payload_hash(Some("a"), Some("bc"))
        );
        assert_ne!(payload_hash(None, Some("")), payload_hash(Some(""), None));
    }
}
