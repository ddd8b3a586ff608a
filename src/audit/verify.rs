//! The server's own check of its record: the chain read from the database, checked by
//! the same [`Verifier`] as an export, against the server's signed checkpoints and the
//! anchors settlements recorded. A rewrite with recomputed hashes cannot match a
//! checkpoint signed before it, so it is reported, naming the checkpoint.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::chain::ChainEntry;
use super::checkpoints;
use super::verifier::{Broken, CheckpointRecord, Summary, Verifier};
use super::{AuditEvent, sealer};
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::{audit_events, audit_seals, settlements};
use crate::secrets::Secrets;

/// Entries read per query while verifying.
const PAGE: i64 = 10_000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyReport {
    /// True when every sealed entry, checkpoint and settlement anchor verifies.
    pub ok: bool,
    /// Sealed entries checked.
    pub checked: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<Broken>,
    /// What was covered (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Committed entries not yet linked into the chain (sealed within seconds).
    pub unsealed: i64,
    pub head_seq: i64,
    pub head_hash: String,
}

/// Every checkpoint key the server has held, by key id.
pub fn server_keys(secrets: &Secrets) -> HashMap<String, ed25519_dalek::VerifyingKey> {
    secrets
        .audit_keys()
        .all()
        .map(|(kid, key)| (kid.to_owned(), key))
        .collect()
}

/// All checkpoints with their witnesses, as the verifier takes them.
pub fn checkpoint_records(
    conn: &mut DbConnection,
    max_size: i64,
) -> ApiResult<Vec<CheckpointRecord>> {
    Ok(checkpoints::all_up_to(conn, max_size)?
        .iter()
        .map(checkpoints::WitnessedCheckpoint::record)
        .collect())
}

/// A seal as read beside its entry: `(seq, legacy_hash, prev_hash, hash)`.
type SealColumns = (i64, Option<String>, String, String);

/// Sealed entries `from..=to` in chain order, with their seals (at most [`PAGE`]).
pub fn sealed_page(conn: &mut DbConnection, from: i64, to: i64) -> ApiResult<Vec<ChainEntry>> {
    let rows: Vec<(AuditEvent, SealColumns)> = audit_seals::table
        .inner_join(audit_events::table)
        .filter(audit_seals::seq.ge(from))
        .filter(audit_seals::seq.le(to))
        .order(audit_seals::seq)
        .limit(PAGE)
        .select((
            AuditEvent::as_select(),
            (
                audit_seals::seq,
                audit_seals::legacy_hash,
                audit_seals::prev_hash,
                audit_seals::hash,
            ),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        // The stored hash is what the verifier checks; it is not computed here.
        .map(|(e, (seq, legacy_hash, prev_hash, hash))| ChainEntry {
            hash,
            ..sealer::chain_fields(&e, seq, legacy_hash, prev_hash)
        })
        .collect())
}

pub fn verify(conn: &mut DbConnection, secrets: &Secrets) -> ApiResult<VerifyReport> {
    let (head_seq, head_hash) = sealer::head(conn)?;
    let unsealed: i64 = audit_events::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            audit_seals::table.filter(audit_seals::event_id.eq(audit_events::id)),
        )))
        .count()
        .get_result(conn)?;
    let (checked, outcome) = check_record(conn, secrets, head_seq)?;
    let (summary, first_broken) = match outcome {
        Ok(summary) => (Some(summary), None),
        Err(broken) => (None, Some(broken)),
    };
    Ok(VerifyReport {
        ok: first_broken.is_none(),
        checked,
        first_broken,
        summary,
        unsealed,
        head_seq,
        head_hash,
    })
}

/// Runs the verifier over the database: `(entries checked, outcome)`. A database error
/// is an error; a broken record is the outcome.
fn check_record(
    conn: &mut DbConnection,
    secrets: &Secrets,
    head_seq: i64,
) -> ApiResult<(i64, Result<Summary, Broken>)> {
    // Checkpoints beyond the head are included: one that covers more than the chain
    // holds means entries were removed.
    let records = checkpoint_records(conn, i64::MAX)?;
    let mut verifier = match Verifier::new(server_keys(secrets), records) {
        Ok(v) => v,
        Err(broken) => return Ok((0, Err(broken))),
    };
    // Bounded ranges of positions, not "from here on, first PAGE": the planner reads a
    // range through the index, where an open-ended one made it join the whole rest of
    // the log for every page.
    let mut from = 1;
    while from <= head_seq {
        let to = head_seq.min(from + PAGE - 1);
        for entry in &sealed_page(conn, from, to)? {
            if let Err(broken) = verifier.push(entry) {
                return Ok((verifier.entries(), Err(broken)));
            }
        }
        from = to + 1;
    }
    if let Err(broken) = check_settlements(conn, &verifier)? {
        return Ok((verifier.entries(), Err(broken)));
    }
    Ok((verifier.entries(), verifier.finish()))
}

/// The anchors in the settlements table itself, beside those in the approval entries.
fn check_settlements(
    conn: &mut DbConnection,
    verifier: &Verifier,
) -> ApiResult<Result<(), Broken>> {
    type Anchor = (
        i64,
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let anchors: Vec<Anchor> = settlements::table
        .filter(settlements::approved_at.is_not_null())
        .order(settlements::id)
        .select((
            settlements::id,
            settlements::audit_checkpoint_size,
            settlements::audit_checkpoint_root,
            settlements::audit_head_seq,
            settlements::audit_head_hash,
        ))
        .load(conn)?;
    for (id, size, root, seq, hash) in anchors {
        let checked = match (size, root, seq, hash) {
            (Some(size), Some(root), _, _) => verifier.check_checkpoint_anchor(size, &root),
            (None, None, Some(seq), Some(hash)) => verifier.check_legacy_anchor(seq, &hash),
            _ => Err("it names no checkpoint".to_owned()),
        };
        if let Err(why) = checked {
            return Ok(Err(Broken {
                seq: None,
                id: None,
                checkpoint: size,
                reason: format!("settlement {id}: {why}"),
            }));
        }
    }
    Ok(Ok(()))
}
