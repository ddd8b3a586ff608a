//! Links committed audit entries into the hash chain.

use std::time::Duration;

use diesel::prelude::*;

use super::{AuditEvent, entry_hash};
use crate::db::{Db, DbConnection, write_tx};
use crate::error::ApiResult;
use crate::schema::{audit_chain_head, audit_events};

/// Entries sealed per transaction; bounds how long the head lock is held.
const BATCH: i64 = 5_000;

/// Rows linked per UPDATE statement: 4 parameters each, well below SQLite's limit of
/// 32 766 bound parameters and PostgreSQL's 65 535.
const LINKS_PER_STATEMENT: usize = 1_000;

/// Writes `(id, seq, prev_hash, hash)` for many entries in one set-based UPDATE; a
/// statement per row made sealing the bottleneck (about 4 000 entries/s).
fn link(conn: &mut DbConnection, links: &[(i64, i64, String, String)]) -> ApiResult<()> {
    use diesel::sql_types::{BigInt, Text};
    // VALUES columns are called column1… on both backends; UPDATE … FROM works on both.
    let rows = (0..links.len())
        .map(|i| {
            let p = i * 4;
            format!(
                "(CAST(${} AS BIGINT), CAST(${} AS BIGINT), CAST(${} AS TEXT), CAST(${} AS TEXT))",
                p + 1,
                p + 2,
                p + 3,
                p + 4
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE audit_events SET seq = v.column2, prev_hash = v.column3, hash = v.column4 \
         FROM (VALUES {rows}) AS v WHERE audit_events.id = v.column1"
    );
    let mut query = diesel::sql_query(sql).into_boxed::<crate::db::MultiBackend>();
    for (id, seq, prev, hash) in links {
        query = query
            .bind::<BigInt, _>(*id)
            .bind::<BigInt, _>(*seq)
            .bind::<Text, _>(prev.clone())
            .bind::<Text, _>(hash.clone());
    }
    let updated = query.execute(conn)?;
    if updated != links.len() {
        return Err(crate::error::ApiError::internal(anyhow::anyhow!(
            "sealing linked {updated} of {} audit entries",
            links.len()
        )));
    }
    Ok(())
}

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
    let mut links = Vec::with_capacity(pending.len());
    for entry in &pending {
        let seq = last_seq + 1;
        let hash = entry_hash(entry, seq, &last_hash);
        links.push((
            entry.id,
            seq,
            std::mem::replace(&mut last_hash, hash.clone()),
            hash,
        ));
        last_seq = seq;
    }
    for chunk in links.chunks(LINKS_PER_STATEMENT) {
        link(conn, chunk)?;
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
            match db.run_writing(seal_pending).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sealed = n, "audit entries sealed"),
                Err(e) => tracing::warn!(error = %e, "audit sealing failed; will retry"),
            }
        }
    });
}
