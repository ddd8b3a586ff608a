//! Links committed audit entries into the hash chain.

use std::time::Duration;

use diesel::prelude::*;

use super::{AuditEvent, entry_hash};
use crate::db::{Db, DbConnection, write_tx};
use crate::error::ApiResult;
use crate::schema::{audit_chain_head, audit_events};

/// Entries sealed per transaction; bounds how long the head lock is held.
const BATCH: i64 = 5_000;

/// Seals every entry committed so far; returns how many it sealed.
pub fn seal_pending(conn: &mut DbConnection) -> ApiResult<usize> {
    let mut total = 0;
    loop {
        let sealed = write_tx(conn, seal_batch)?;
        total += sealed;
        if sealed < BATCH as usize {
            return Ok(total);
        }
    }
}

fn seal_batch(conn: &mut DbConnection) -> ApiResult<usize> {
    // Taking the head row's lock makes this the only sealer across instances; writers of
    // entries never touch this row, so they are never blocked by it.
    let (mut last_seq, mut last_hash): (i64, String) =
        diesel::update(audit_chain_head::table.find(1))
            .set(audit_chain_head::sealed_at.eq(audit_chain_head::sealed_at))
            .returning((audit_chain_head::last_seq, audit_chain_head::last_hash))
            .get_result(conn)?;
    let pending: Vec<AuditEvent> = audit_events::table
        .filter(audit_events::seq.is_null())
        .order(audit_events::id)
        .limit(BATCH)
        .select(AuditEvent::as_select())
        .load(conn)?;
    for entry in &pending {
        let seq = last_seq + 1;
        let hash = entry_hash(entry, seq, &last_hash);
        diesel::update(audit_events::table.find(entry.id))
            .set((
                audit_events::seq.eq(seq),
                audit_events::prev_hash.eq(&last_hash),
                audit_events::hash.eq(&hash),
            ))
            .execute(conn)?;
        last_seq = seq;
        last_hash = hash;
    }
    if !pending.is_empty() {
        diesel::update(audit_chain_head::table.find(1))
            .set((
                audit_chain_head::last_seq.eq(last_seq),
                audit_chain_head::last_hash.eq(&last_hash),
                audit_chain_head::sealed_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
    }
    Ok(pending.len())
}

/// Runs the sealer every `interval` until the process ends.
pub fn spawn(db: Db, interval: Duration) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match db.run(seal_pending).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sealed = n, "audit entries sealed"),
                Err(e) => tracing::warn!(error = %e, "audit sealing failed; will retry"),
            }
        }
    });
}
