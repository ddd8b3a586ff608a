//! The one-time move of the chain from hash version 1 to version 2 (docs/audit-format.md,
//! "Version 1 entries").
//!
//! Version 1 hashed each payload in full, so an entry holding personal data could not be
//! exported without it. At the first seal after the upgrade, the version 1 chain is
//! verified end to end against its recorded head; only if it is intact is every entry
//! re-sealed under version 2 at the same position, with its version 1 hash committed as
//! `legacy_hash`. Settlement anchors taken under version 1 stay checkable through those.

use diesel::prelude::*;

use super::chain::{self, ChainEntry, GENESIS_HASH};
use super::sealer::{chain_entry, insert_seals};
use super::{AuditEvent, record};
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{audit_chain_head, audit_events};

const PAGE: i64 = 10_000;

/// Re-seals the version 1 chain under version 2, in the caller's transaction (which
/// holds the sealing lock and has found no version 2 seal). Returns the new head.
pub fn reseal_legacy(conn: &mut DbConnection) -> ApiResult<(i64, String)> {
    let (legacy_head_seq, legacy_head_hash): (i64, String) = audit_chain_head::table
        .find(1)
        .select((audit_chain_head::last_seq, audit_chain_head::last_hash))
        .first(conn)?;
    if legacy_head_seq == 0 {
        return Ok((0, GENESIS_HASH.to_owned()));
    }
    let mut legacy_prev = GENESIS_HASH.to_owned();
    let mut prev = GENESIS_HASH.to_owned();
    let mut expected = 1;
    loop {
        let page: Vec<AuditEvent> = audit_events::table
            .filter(audit_events::seq.ge(expected))
            .order(audit_events::seq)
            .limit(PAGE)
            .select(AuditEvent::as_select())
            .load(conn)?;
        let mut entries: Vec<ChainEntry> = Vec::with_capacity(page.len());
        for event in &page {
            let broken = |reason: String| {
                ApiError::internal(anyhow::anyhow!(
                    "the version 1 audit chain is broken at position {expected} ({reason}); \
                     it is not re-sealed: investigate before serving (docs/audit-format.md)"
                ))
            };
            if event.seq != Some(expected) {
                return Err(broken("an entry is missing".into()));
            }
            if event.prev_hash.as_deref() != Some(legacy_prev.as_str()) {
                return Err(broken("prev_hash does not match the entry before".into()));
            }
            let legacy_hash = event.hash.clone().unwrap_or_default();
            let entry = chain_entry(event, expected, Some(legacy_hash.clone()), prev);
            if chain::legacy_entry_hash(&entry, &legacy_prev) != legacy_hash {
                return Err(broken(format!(
                    "entry {} does not match its hash",
                    event.id
                )));
            }
            prev = entry.hash.clone();
            legacy_prev = legacy_hash;
            entries.push(entry);
            expected += 1;
        }
        insert_seals(conn, &entries)?;
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    let legacy_entries = expected - 1;
    if legacy_entries != legacy_head_seq || legacy_prev != legacy_head_hash {
        return Err(ApiError::internal(anyhow::anyhow!(
            "the version 1 audit chain ends at position {legacy_entries} but its head records \
             {legacy_head_seq}: entries were removed; it is not re-sealed"
        )));
    }
    record(
        conn,
        &Actor::system("audit-upgrade"),
        "audit.chain_upgraded",
        "audit_chain",
        2,
        None::<&()>,
        Some(&serde_json::json!({
            "legacy_entries": legacy_entries,
            "legacy_head_hash": legacy_head_hash,
            "version": 2,
        })),
    )?;
    tracing::info!(
        legacy_entries,
        "audit chain verified under version 1 and re-sealed under version 2"
    );
    Ok((legacy_entries, prev))
}
