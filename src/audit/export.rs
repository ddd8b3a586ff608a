//! The self-contained export of the audit record and its offline verification
//! (docs/audit-format.md, "Export file").

use std::collections::HashMap;
use std::io::BufRead;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::chain::ChainEntry;
use super::signing;
use super::verifier::{Broken, CheckpointRecord, Summary, Verifier};

pub const FORMAT: &str = "talentcard-audit-export";
pub const VERSION: u32 = 1;
pub const HASH_VERSION: u32 = 2;

/// One line of an export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Line {
    Header(Header),
    Checkpoint(ExportedCheckpoint),
    Entry(ChainEntry),
    End(End),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub hash_version: u32,
    pub origin: String,
    pub size: i64,
    pub exported_at: String,
    pub keys: Vec<ExportedKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedKey {
    pub key_id: String,
    pub algorithm: String,
    pub public_key: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedCheckpoint {
    #[serde(flatten)]
    pub record: CheckpointRecord,
    pub reason: String,
    pub signed_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct End {
    pub entries: i64,
    pub checkpoints: i64,
}

/// Why an export does not verify: the record is broken, or the file is not an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Broken(Broken),
    #[error("line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

/// Verifies an export read from `input` against the pinned server keys, requiring a
/// valid signature of each `witnesses` key on the latest checkpoint.
pub fn verify_export(
    input: impl BufRead,
    server_keys: &[VerifyingKey],
    witnesses: &[VerifyingKey],
) -> Result<Summary, ExportError> {
    let keys: HashMap<String, VerifyingKey> = server_keys
        .iter()
        .map(|k| (signing::key_id(k), *k))
        .collect();
    let mut header: Option<Header> = None;
    let mut checkpoints: Vec<CheckpointRecord> = Vec::new();
    let mut verifier: Option<Verifier> = None;
    let mut end: Option<End> = None;
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let malformed = |reason: String| ExportError::Malformed {
            line: number,
            reason,
        };
        let line = line?;
        if end.is_some() {
            return Err(malformed("text after the end line".into()));
        }
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| malformed(format!("not a line of an export: {e}")))?;
        match (parsed, header.is_some()) {
            (Line::Header(h), false) => {
                if h.format != FORMAT || h.version != VERSION || h.hash_version != HASH_VERSION {
                    return Err(malformed(format!(
                        "format {} version {} hash version {} is not {FORMAT} {VERSION} / {HASH_VERSION}",
                        h.format, h.version, h.hash_version
                    )));
                }
                header = Some(h);
            }
            (_, false) => return Err(malformed("the file does not start with a header".into())),
            (Line::Header(_), true) => return Err(malformed("a second header".into())),
            (Line::Checkpoint(c), true) => {
                if verifier.is_some() {
                    return Err(malformed("a checkpoint after the entries began".into()));
                }
                checkpoints.push(c.record);
            }
            (Line::Entry(e), true) => {
                if verifier.is_none() {
                    verifier = Some(
                        Verifier::new(keys.clone(), std::mem::take(&mut checkpoints))
                            .map_err(ExportError::Broken)?,
                    );
                }
                let v = verifier.as_mut().expect("created above");
                v.push(&e).map_err(ExportError::Broken)?;
            }
            (Line::End(e), true) => end = Some(e),
        }
    }
    let header = header.ok_or_else(|| ExportError::Malformed {
        line: 0,
        reason: "the file is empty".into(),
    })?;
    let end = end.ok_or_else(|| ExportError::Malformed {
        line: 0,
        reason: "no end line: the export was cut short".into(),
    })?;
    let verifier = match verifier {
        Some(v) => v,
        None => Verifier::new(keys, checkpoints).map_err(ExportError::Broken)?,
    };
    verifier
        .require_witnesses(witnesses)
        .map_err(ExportError::Broken)?;
    let summary = verifier.finish().map_err(ExportError::Broken)?;
    if summary.entries != header.size || end.entries != header.size {
        return Err(ExportError::Malformed {
            line: 0,
            reason: format!(
                "the header promises {} entries, the end line says {}, the file holds {}",
                header.size, end.entries, summary.entries
            ),
        });
    }
    if end.checkpoints != summary.checkpoints {
        return Err(ExportError::Malformed {
            line: 0,
            reason: format!(
                "the end line counts {} checkpoints, the file holds {}",
                end.checkpoints, summary.checkpoints
            ),
        });
    }
    Ok(summary)
}

/// A public key given on the command line: base64, or a file holding base64 or PEM.
pub fn read_key_argument(arg: &str) -> anyhow::Result<VerifyingKey> {
    let path = std::path::Path::new(arg);
    let text = if path.is_file() {
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading key file {arg}: {e}"))?
    } else {
        arg.to_owned()
    };
    signing::parse_public_key(&text).map_err(|e| anyhow::anyhow!("{arg}: {e}"))
}
