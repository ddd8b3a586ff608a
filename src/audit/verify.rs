//! Walks the audit chain and reports the first broken link.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::{AuditEvent, GENESIS_HASH, entry_hash};
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::{audit_chain_head, audit_events};

/// Entries read per query while verifying.
const PAGE: i64 = 10_000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyReport {
    /// True when every sealed entry is intact and the chain ends at the recorded head.
    pub ok: bool,
    /// Sealed entries checked.
    pub checked: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<BrokenLink>,
    /// Committed entries not yet linked into the chain (sealed within seconds).
    pub unsealed: i64,
    pub head_seq: i64,
    pub head_hash: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrokenLink {
    /// Chain position where the chain stops being trustworthy.
    pub seq: i64,
    /// The entry found there, if any.
    pub id: Option<i64>,
    pub reason: String,
}

pub fn verify(conn: &mut DbConnection) -> ApiResult<VerifyReport> {
    let (head_seq, head_hash): (i64, String) = audit_chain_head::table
        .find(1)
        .select((audit_chain_head::last_seq, audit_chain_head::last_hash))
        .first(conn)?;
    let unsealed: i64 = audit_events::table
        .filter(audit_events::seq.is_null())
        .count()
        .get_result(conn)?;
    let mut report = VerifyReport {
        ok: true,
        checked: 0,
        first_broken: None,
        unsealed,
        head_seq,
        head_hash,
    };
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS_HASH.to_owned();
    'pages: loop {
        let page: Vec<AuditEvent> = audit_events::table
            .filter(audit_events::seq.ge(expected_seq))
            .order(audit_events::seq)
            .limit(PAGE)
            .select(AuditEvent::as_select())
            .load(conn)?;
        for entry in &page {
            let seq = entry.seq.unwrap_or_default();
            let broken = if seq != expected_seq {
                Some((
                    expected_seq,
                    None,
                    format!("entry at position {expected_seq} is missing"),
                ))
            } else if entry.prev_hash.as_deref() != Some(prev_hash.as_str()) {
                Some((
                    seq,
                    Some(entry.id),
                    "prev_hash does not match the entry before it".to_owned(),
                ))
            } else if entry.hash.as_deref() != Some(entry_hash(entry, seq, &prev_hash).as_str()) {
                Some((
                    seq,
                    Some(entry.id),
                    "content does not match its hash (entry altered)".to_owned(),
                ))
            } else {
                None
            };
            if let Some((seq, id, reason)) = broken {
                report.ok = false;
                report.first_broken = Some(BrokenLink { seq, id, reason });
                break 'pages;
            }
            report.checked += 1;
            prev_hash = entry.hash.clone().unwrap_or_default();
            expected_seq += 1;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    if report.ok && (expected_seq - 1 != report.head_seq || prev_hash != report.head_hash) {
        report.ok = false;
        report.first_broken = Some(BrokenLink {
            seq: expected_seq,
            id: None,
            reason: format!(
                "the chain ends at position {} but the head records {} (entries removed from the end)",
                expected_seq - 1,
                report.head_seq
            ),
        });
    }
    Ok(report)
}
