//! One verifier for the whole record, fed entry by entry: the offline `verify-export`
//! reads them from an export file, the server's own verify from the database. It checks
//! the chain, every checkpoint's root, text and signatures (strict Ed25519 against keys
//! the caller trusts), the witnesses, that each checkpoint extends the one before (all
//! roots come from one pass over the same leaves), and every settlement anchor.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::chain::{self, ChainEntry, GENESIS_HASH};
use super::merkle::{Frontier, Hash};
use super::signing::{self, CheckpointBody};

/// A checkpoint as the verifier needs it (a line of the export).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckpointRecord {
    pub size: i64,
    /// Hex.
    pub root: String,
    pub text: String,
    pub key_id: String,
    /// Base64.
    pub signature: String,
    #[serde(default)]
    pub witnesses: Vec<WitnessRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WitnessRecord {
    pub key_id: String,
    /// Base64 of the 32-byte Ed25519 key.
    pub public_key: String,
    /// Base64.
    pub signature: String,
}

/// Where the record stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Broken {
    /// Chain position of the first broken entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// Id of that entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Size of the first checkpoint that does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<i64>,
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.seq, self.id, self.checkpoint) {
            (Some(seq), Some(id), _) => write!(f, "entry {seq} (id {id}): {}", self.reason),
            (Some(seq), None, _) => write!(f, "entry {seq}: {}", self.reason),
            (None, _, Some(size)) => write!(f, "checkpoint {size}: {}", self.reason),
            _ => f.write_str(&self.reason),
        }
    }
}

impl Broken {
    fn entry(e: &ChainEntry, reason: impl Into<String>) -> Self {
        Broken {
            seq: Some(e.seq),
            id: Some(e.id),
            checkpoint: None,
            reason: reason.into(),
        }
    }

    fn checkpoint(size: i64, reason: impl Into<String>) -> Self {
        Broken {
            seq: None,
            id: None,
            checkpoint: Some(size),
            reason: reason.into(),
        }
    }
}

/// What a successful verification covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Summary {
    pub entries: i64,
    pub checkpoints: i64,
    pub witnesses: i64,
    /// Entries whose payload was withheld (checked through their payload hash).
    pub withheld: i64,
    /// Entries sealed under hash version 1, whose old hashes were also checked.
    pub legacy_entries: i64,
    pub settlement_anchors: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_at: Option<String>,
}

pub struct Verifier {
    /// Ascending by size, each already checked on its own.
    checkpoints: Vec<(CheckpointRecord, Hash)>,
    next_checkpoint: usize,
    by_size: HashMap<i64, usize>,
    frontier: Frontier,
    prev_hash: String,
    legacy: Vec<String>,
    legacy_ended: bool,
    summary: Summary,
}

impl Verifier {
    /// Checks every checkpoint's text, signature and witnesses against `keys` (key id →
    /// key) before any entry is read; roots are checked as the entries arrive.
    pub fn new(
        keys: HashMap<String, VerifyingKey>,
        mut checkpoints: Vec<CheckpointRecord>,
    ) -> Result<Self, Broken> {
        checkpoints.sort_by_key(|c| c.size);
        let mut checked = Vec::with_capacity(checkpoints.len());
        let mut summary = Summary::default();
        for c in checkpoints {
            let fail = |reason: String| Broken::checkpoint(c.size, reason);
            if checked
                .last()
                .is_some_and(|(p, _): &(CheckpointRecord, Hash)| p.size == c.size)
            {
                return Err(fail("listed twice".into()));
            }
            let body = CheckpointBody::parse(&c.text).map_err(fail)?;
            if body.size as i64 != c.size {
                return Err(fail(format!("its text says size {}", body.size)));
            }
            if hex::encode(body.root) != c.root {
                return Err(fail("its text names a different root".into()));
            }
            let key = keys.get(&c.key_id).ok_or_else(|| {
                fail(format!(
                    "signed by key {}, which is not among the trusted keys",
                    c.key_id
                ))
            })?;
            signing::verify(key, &c.text, &c.signature)
                .map_err(|e| fail(format!("server signature: {e}")))?;
            for w in &c.witnesses {
                let key = signing::parse_public_key(&w.public_key)
                    .map_err(|e| fail(format!("witness {}: {e}", w.key_id)))?;
                if signing::key_id(&key) != w.key_id {
                    return Err(fail(format!("witness {} has another key's id", w.key_id)));
                }
                signing::verify(&key, &c.text, &w.signature)
                    .map_err(|e| fail(format!("witness {}: {e}", w.key_id)))?;
                summary.witnesses += 1;
            }
            if c.size == 0 && body.root != super::merkle::empty_root() {
                return Err(fail("an empty tree has another root".into()));
            }
            checked.push((c, body.root));
        }
        let by_size = checked
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (c.size, i))
            .collect();
        let mut verifier = Verifier {
            checkpoints: checked,
            next_checkpoint: 0,
            by_size,
            frontier: Frontier::new(),
            prev_hash: GENESIS_HASH.to_owned(),
            legacy: Vec::new(),
            legacy_ended: false,
            summary,
        };
        verifier.reach_checkpoints()?;
        Ok(verifier)
    }

    /// The newest checkpoint must carry a valid signature of each of these keys.
    pub fn require_witnesses(&self, witnesses: &[VerifyingKey]) -> Result<(), Broken> {
        if witnesses.is_empty() {
            return Ok(());
        }
        let Some((latest, _)) = self.checkpoints.last() else {
            return Err(Broken::checkpoint(
                0,
                "there is no checkpoint for a witness to sign",
            ));
        };
        for key in witnesses {
            let kid = signing::key_id(key);
            // Signatures listed were verified in `new`; here only presence matters.
            if !latest.witnesses.iter().any(|w| w.key_id == kid) {
                return Err(Broken::checkpoint(
                    latest.size,
                    format!("the latest checkpoint is not signed by witness {kid}"),
                ));
            }
        }
        Ok(())
    }

    pub fn push(&mut self, e: &ChainEntry) -> Result<(), Broken> {
        let expected = self.summary.entries + 1;
        if e.seq != expected {
            return Err(Broken {
                seq: Some(expected),
                id: None,
                checkpoint: None,
                reason: format!("missing: the next entry found is at position {}", e.seq),
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(Broken::entry(
                e,
                "prev_hash does not match the entry before it",
            ));
        }
        if e.withheld {
            if e.before_json.is_some() || e.after_json.is_some() {
                return Err(Broken::entry(e, "marked withheld but carries a payload"));
            }
            self.summary.withheld += 1;
        } else if chain::payload_hash(e.before_json.as_deref(), e.after_json.as_deref())
            != e.payload_hash
        {
            return Err(Broken::entry(
                e,
                "the payload does not match its hash (entry altered)",
            ));
        }
        if chain::entry_hash(e) != e.hash {
            return Err(Broken::entry(
                e,
                "content does not match its hash (entry altered)",
            ));
        }
        let hash_bytes = chain::hash_bytes(&e.hash)
            .ok_or_else(|| Broken::entry(e, "the hash is not 64 hex digits"))?;
        self.check_legacy(e)?;
        if e.action == "settlement.approve" {
            self.check_approval(e)?;
        }
        self.frontier.push(&hash_bytes);
        self.prev_hash = e.hash.clone();
        self.summary.entries += 1;
        if self.summary.first_at.is_none() {
            self.summary.first_at = Some(e.at.clone());
        }
        self.summary.last_at = Some(e.at.clone());
        self.reach_checkpoints()
    }

    /// Version 1 entries form a prefix of the chain; where the payload is present their
    /// old hash is recomputed too.
    fn check_legacy(&mut self, e: &ChainEntry) -> Result<(), Broken> {
        let Some(legacy_hash) = &e.legacy_hash else {
            self.legacy_ended = true;
            return Ok(());
        };
        if self.legacy_ended {
            return Err(Broken::entry(e, "a version 1 hash after version 2 entries"));
        }
        if !e.withheld {
            let legacy_prev = self.legacy.last().map_or(GENESIS_HASH, String::as_str);
            if chain::legacy_entry_hash(e, legacy_prev) != *legacy_hash {
                return Err(Broken::entry(
                    e,
                    "content does not match its version 1 hash",
                ));
            }
        }
        self.legacy.push(legacy_hash.clone());
        self.summary.legacy_entries += 1;
        Ok(())
    }

    fn check_approval(&mut self, e: &ChainEntry) -> Result<(), Broken> {
        let Some(after) = &e.after_json else {
            return Err(Broken::entry(
                e,
                "a settlement approval without its record cannot be checked",
            ));
        };
        let after: serde_json::Value = serde_json::from_str(after)
            .map_err(|_| Broken::entry(e, "the approval's record is not JSON"))?;
        let field = |name: &str| after.get(name).filter(|v| !v.is_null());
        let anchor = match (
            field("audit_checkpoint_size").and_then(|v| v.as_i64()),
            field("audit_checkpoint_root").and_then(|v| v.as_str()),
            field("audit_head_seq").and_then(|v| v.as_i64()),
            field("audit_head_hash").and_then(|v| v.as_str()),
        ) {
            (Some(size), Some(root), _, _) => self.check_checkpoint_anchor(size, root),
            (None, None, Some(seq), Some(hash)) => self.check_legacy_anchor(seq, hash),
            _ => Err("the approval names no checkpoint".to_owned()),
        };
        anchor.map_err(|why| Broken::entry(e, format!("settlement approval: {why}")))?;
        self.summary.settlement_anchors += 1;
        Ok(())
    }

    /// A settlement approved against checkpoint `size` with `root`: that checkpoint is
    /// listed (and therefore verified) with that root.
    pub fn check_checkpoint_anchor(&self, size: i64, root: &str) -> Result<(), String> {
        let &i = self
            .by_size
            .get(&size)
            .ok_or_else(|| format!("checkpoint {size} is not in the record"))?;
        if self.checkpoints[i].0.root != root {
            return Err(format!(
                "checkpoint {size} has another root than the approval recorded"
            ));
        }
        Ok(())
    }

    /// A settlement approved under hash version 1 recorded the chain head `(seq, hash)`.
    pub fn check_legacy_anchor(&self, seq: i64, hash: &str) -> Result<(), String> {
        let found = match seq {
            0 => Some(GENESIS_HASH),
            n => self.legacy.get((n - 1) as usize).map(String::as_str),
        };
        match found {
            Some(h) if h == hash => Ok(()),
            Some(_) => Err(format!(
                "the version 1 hash at position {seq} differs from the one recorded"
            )),
            None => Err(format!("position {seq} is not a version 1 entry")),
        }
    }

    fn reach_checkpoints(&mut self) -> Result<(), Broken> {
        while let Some((c, root)) = self.checkpoints.get(self.next_checkpoint) {
            if c.size != self.frontier.size() as i64 {
                break;
            }
            if self.frontier.root() != *root {
                let after = match self.next_checkpoint {
                    0 => 0,
                    i => self.checkpoints[i - 1].0.size,
                };
                return Err(Broken::checkpoint(
                    c.size,
                    format!(
                        "the entries do not match this signed checkpoint: an entry between \
                         positions {} and {} was rewritten after it was signed",
                        after + 1,
                        c.size
                    ),
                ));
            }
            self.summary.checkpoints += 1;
            self.next_checkpoint += 1;
        }
        Ok(())
    }

    /// Ends the pass: every checkpoint must have been reached.
    pub fn finish(self) -> Result<Summary, Broken> {
        if let Some((c, _)) = self.checkpoints.get(self.next_checkpoint) {
            return Err(Broken::checkpoint(
                c.size,
                format!(
                    "covers {} entries but the chain has only {} (entries removed)",
                    c.size, self.summary.entries
                ),
            ));
        }
        Ok(self.summary)
    }

    pub fn entries(&self) -> i64 {
        self.summary.entries
    }
}
