//! Links committed audit entries into the hash chain by inserting their seals.
//!
//! Sealing only inserts (into `audit_seals`): the service's database role needs no
//! UPDATE on any audit table, and a seal is a narrow row rather than a rewrite of the
//! entry through all its indexes. The seal's primary key is the chain position, so two
//! sealers can never both claim one; the `audit.seal` job lock makes them take turns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::chain::{self, ChainEntry};
use super::{AuditEvent, checkpoints, upgrade};
use crate::db::{Db, DbConnection, write_tx};
use crate::error::ApiResult;
use crate::schema::{audit_events, audit_seals};
use crate::secrets::Secrets;

/// Entries sealed per transaction; bounds how long the job lock is held.
const BATCH: i64 = 5_000;

/// Seals inserted per statement: 6 parameters each, well below SQLite's limit of
/// 32 766 bound parameters and PostgreSQL's 65 535.
const SEALS_PER_STATEMENT: usize = 1_000;

/// A transaction that wrote an audit entry ends within this long (far longer than any
/// request or batch here takes); a slower one's entries wait for the full sweep.
const MAX_TRANSACTION: Duration = Duration::from_secs(60);

/// How far back the background sealer's pass of every tick looks. Each pass rereads
/// every entry allocated in its window: over [`MAX_TRANSACTION`], at 2 700 sales a
/// second, that was 120 000 entries and 130 ms of PostgreSQL's time every second
/// (BENCHMARKS.md). The counter's transactions last milliseconds; an entry of a longer
/// one (an import's batch, a settlement run) waits for the pass over
/// [`MAX_TRANSACTION`] every [`WIDE_PASS`].
const TICK_WINDOW: Duration = Duration::from_secs(5);

/// How often the background sealer looks back over [`MAX_TRANSACTION`].
const WIDE_PASS: Duration = Duration::from_secs(30);

/// How often the background sealer asks whether a checkpoint is due.
const CHECKPOINT_CHECK: Duration = Duration::from_secs(60);

/// How often the background sealer also looks for unsealed entries among all ids.
const FULL_SWEEP: Duration = Duration::from_secs(600);

/// The last seal: `(seq, hash)`, or `(0, GENESIS_HASH)` for an empty chain.
pub fn head(conn: &mut DbConnection) -> ApiResult<(i64, String)> {
    Ok(audit_seals::table
        .order(audit_seals::seq.desc())
        .select((audit_seals::seq, audit_seals::hash))
        .first(conn)
        .optional()?
        .unwrap_or_else(|| (0, chain::GENESIS_HASH.to_owned())))
}

/// An entry sealed at `seq` after `prev_hash`, with its hash computed.
pub fn chain_entry(
    e: &AuditEvent,
    seq: i64,
    legacy_hash: Option<String>,
    prev_hash: String,
) -> ChainEntry {
    let mut entry = chain_fields(e, seq, legacy_hash, prev_hash);
    entry.hash = chain::entry_hash(&entry);
    entry
}

/// The chain fields of an entry at `seq` (payload hash computed), its own hash left
/// empty for the caller: computed when sealing, read from the seal when verifying.
pub fn chain_fields(
    e: &AuditEvent,
    seq: i64,
    legacy_hash: Option<String>,
    prev_hash: String,
) -> ChainEntry {
    ChainEntry {
        seq,
        id: e.id,
        at: chain::format_at(&e.at),
        actor_id: e.actor_id,
        actor: e.actor.clone(),
        action: e.action.clone(),
        entity_type: e.entity_type.clone(),
        entity_id: e.entity_id.clone(),
        before_json: e.before_json.clone(),
        after_json: e.after_json.clone(),
        withheld: false,
        payload_hash: chain::payload_hash(e.before_json.as_deref(), e.after_json.as_deref()),
        legacy_hash,
        prev_hash,
        hash: String::new(),
    }
}

/// Inserts seals for `entries` (already hashed), many per statement. Written as SQL
/// because diesel's batch insert is not available over the two-backend connection.
pub(super) fn insert_seals(conn: &mut DbConnection, entries: &[ChainEntry]) -> ApiResult<()> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    let now = crate::time::now();
    for chunk in entries.chunks(SEALS_PER_STATEMENT) {
        let rows = (0..chunk.len())
            .map(|i| {
                let p = i * 6;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO audit_seals (seq, event_id, legacy_hash, prev_hash, hash, sealed_at) \
             VALUES {rows}"
        );
        let mut query = diesel::sql_query(sql).into_boxed::<crate::db::MultiBackend>();
        for e in chunk {
            query = query
                .bind::<BigInt, _>(e.seq)
                .bind::<BigInt, _>(e.id)
                .bind::<Nullable<Text>, _>(e.legacy_hash.clone())
                .bind::<Text, _>(e.prev_hash.clone())
                .bind::<Text, _>(e.hash.clone())
                .bind::<Timestamp, _>(now);
        }
        query.execute(conn)?;
    }
    Ok(())
}

/// Seals what has been committed recently: entries with ids above the last one sealed
/// [`MAX_TRANSACTION`] ago. Every entry below it was allocated before then, so its
/// transaction has ended; if it committed after that seal (a straggler) the periodic
/// [`seal_all`] of the background sealer links it. Cheap however long the log is.
pub fn seal_pending(conn: &mut DbConnection) -> ApiResult<usize> {
    seal_within(conn, MAX_TRANSACTION)
}

/// [`seal_pending`] looking back only `window`: entries with ids above the last one
/// sealed `window` ago. A transaction that took longer leaves its entries to a wider
/// pass.
pub fn seal_within(conn: &mut DbConnection, window: Duration) -> ApiResult<usize> {
    let low = recent_low(conn, window)?;
    seal_above(conn, low)
}

/// Seals every committed entry, looking at all ids once (at start, and every
/// [`FULL_SWEEP`] in the background).
pub fn seal_all(conn: &mut DbConnection) -> ApiResult<usize> {
    seal_above(conn, 0)
}

/// The entry id of the last seal made at least `window` ago (0 if none).
fn recent_low(conn: &mut DbConnection, window: Duration) -> ApiResult<i64> {
    let cutoff = crate::time::now() - chrono::Duration::from_std(window).expect("a small duration");
    Ok(audit_seals::table
        .filter(audit_seals::sealed_at.le(cutoff))
        .order(audit_seals::sealed_at.desc())
        .select(audit_seals::event_id)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Seals committed entries with ids above `low`, a batch per transaction; each batch
/// starts where the one before ended, so a pass reads each id once.
fn seal_above(conn: &mut DbConnection, mut low: i64) -> ApiResult<usize> {
    let mut total = 0;
    loop {
        let (sealed, last_id) = write_tx(conn, |conn| seal_batch(conn, low))?;
        total += sealed;
        if sealed < BATCH as usize {
            return Ok(total);
        }
        low = last_id;
    }
}

/// Seals up to [`BATCH`] entries above `low`: `(how many, the highest id sealed)`.
fn seal_batch(conn: &mut DbConnection, low: i64) -> ApiResult<(usize, i64)> {
    crate::db::job_lock(conn, "audit.seal")?;
    let (mut last_seq, mut last_hash) = match head(conn)? {
        // No seal yet: entries sealed by the version 1 sealer are re-sealed first.
        (0, _) => upgrade::reseal_legacy(conn)?,
        head => head,
    };
    let pending: Vec<AuditEvent> = audit_events::table
        .filter(audit_events::id.gt(low))
        .filter(not(exists(
            audit_seals::table.filter(audit_seals::event_id.eq(audit_events::id)),
        )))
        .order(audit_events::id)
        .limit(BATCH)
        .select(AuditEvent::as_select())
        .load(conn)?;
    let mut entries = Vec::with_capacity(pending.len());
    for event in &pending {
        last_seq += 1;
        let entry = chain_entry(event, last_seq, None, last_hash);
        last_hash = entry.hash.clone();
        entries.push(entry);
    }
    insert_seals(conn, &entries)?;
    Ok((pending.len(), pending.last().map_or(low, |e| e.id)))
}

/// Seals every `interval` and signs a checkpoint when one is due, until the process ends.
pub fn spawn(db: Db, secrets: Arc<Secrets>, config: Arc<crate::config::Config>) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(config.audit_seal_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Startup has just sealed everything (`seal_all`).
        let mut next_full_sweep = Instant::now() + FULL_SWEEP;
        let mut next_wide_pass = Instant::now() + WIDE_PASS;
        let mut next_checkpoint_check = Instant::now();
        loop {
            ticker.tick().await;
            let started = Instant::now();
            let full = started >= next_full_sweep;
            let wide = started >= next_wide_pass;
            let sealing = db
                .run_writing(move |conn| {
                    if full {
                        seal_all(conn)
                    } else if wide {
                        seal_pending(conn)
                    } else {
                        seal_within(conn, TICK_WINDOW)
                    }
                })
                .await;
            match sealing {
                Ok(sealed) => {
                    if full {
                        next_full_sweep = started + FULL_SWEEP;
                    }
                    if full || wide {
                        next_wide_pass = started + WIDE_PASS;
                    }
                    if sealed > 0 {
                        tracing::debug!(sealed, "audit entries sealed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit sealing failed; will retry");
                    continue;
                }
            }
            // Whether a checkpoint is due is asked at most once a minute, not every tick.
            if started < next_checkpoint_check {
                continue;
            }
            next_checkpoint_check =
                started + CHECKPOINT_CHECK.min(config.audit_checkpoint_interval);
            let (secrets, config) = (secrets.clone(), config.clone());
            let signing = db
                .run_writing(move |conn| {
                    checkpoints::sign_if_due(conn, &secrets, &config, crate::time::now())
                })
                .await;
            match signing {
                Ok(Some(c)) => tracing::info!(size = c.size, "audit checkpoint signed"),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "signing an audit checkpoint failed; will retry")
                }
            }
        }
    });
}
