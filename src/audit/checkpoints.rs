//! Signed checkpoints of the audit log and their witnesses (DESIGN §9).

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::merkle::Frontier;
use super::sealer;
use super::signing::{self, CheckpointBody};
use super::verifier::{CheckpointRecord, WitnessRecord};
use crate::auth::Actor;
use crate::config::Config;
use crate::db::{DbConnection, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::schema::{audit_checkpoints, audit_seals, audit_witnesses};
use crate::secrets::Secrets;

/// Seal hashes read per query while extending the tree.
const PAGE: i64 = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The log grew and the last checkpoint is older than the interval.
    Schedule,
    /// Taken for a settlement approval, which records it.
    Settlement,
    /// `POST /audit/checkpoints`.
    Request,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Schedule => "schedule",
            Reason::Settlement => "settlement",
            Reason::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = audit_checkpoints)]
pub struct Checkpoint {
    /// Entries 1..size are covered.
    pub size: i64,
    /// RFC 6962 tree hash over the entry hashes, hex.
    pub root: String,
    /// The exact bytes signed: a C2SP tlog-checkpoint body.
    pub text: String,
    /// Id of the server key that signed (see `GET /audit/public-key`).
    pub key_id: String,
    /// Ed25519 signature over `text`, base64.
    pub signature: String,
    #[serde(skip)]
    pub frontier: String,
    /// `schedule`, `settlement` or `request`.
    pub reason: String,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub signed_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = audit_witnesses)]
pub struct Witness {
    #[serde(skip)]
    pub id: i64,
    pub checkpoint_size: i64,
    /// Id of the witness key: first 8 bytes of SHA-256 of the raw public key, hex.
    pub key_id: String,
    /// The witness's Ed25519 public key, base64 of its 32 bytes.
    pub public_key: String,
    /// Ed25519 signature over the checkpoint text, base64.
    pub signature: String,
    pub witnessed_by: Option<i64>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub witnessed_at: NaiveDateTime,
}

/// A checkpoint with the witnesses who countersigned it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WitnessedCheckpoint {
    #[serde(flatten)]
    pub checkpoint: Checkpoint,
    pub witnesses: Vec<Witness>,
}

impl WitnessedCheckpoint {
    /// The checkpoint as the verifier takes it, and as an export lists it.
    pub fn record(&self) -> CheckpointRecord {
        CheckpointRecord {
            size: self.checkpoint.size,
            root: self.checkpoint.root.clone(),
            text: self.checkpoint.text.clone(),
            key_id: self.checkpoint.key_id.clone(),
            signature: self.checkpoint.signature.clone(),
            witnesses: self
                .witnesses
                .iter()
                .map(|w| WitnessRecord {
                    key_id: w.key_id.clone(),
                    public_key: w.public_key.clone(),
                    signature: w.signature.clone(),
                })
                .collect(),
        }
    }
}

pub fn latest(conn: &mut DbConnection) -> ApiResult<Option<Checkpoint>> {
    Ok(audit_checkpoints::table
        .order(audit_checkpoints::size.desc())
        .select(Checkpoint::as_select())
        .first(conn)
        .optional()?)
}

pub fn get(conn: &mut DbConnection, size: i64) -> ApiResult<Option<Checkpoint>> {
    Ok(audit_checkpoints::table
        .find(size)
        .select(Checkpoint::as_select())
        .first(conn)
        .optional()?)
}

/// Every checkpoint up to `max_size`, oldest first, with its witnesses.
pub fn all_up_to(conn: &mut DbConnection, max_size: i64) -> ApiResult<Vec<WitnessedCheckpoint>> {
    let checkpoints: Vec<Checkpoint> = audit_checkpoints::table
        .filter(audit_checkpoints::size.le(max_size))
        .order(audit_checkpoints::size)
        .select(Checkpoint::as_select())
        .load(conn)?;
    let witnesses: Vec<Witness> = audit_witnesses::table
        .filter(audit_witnesses::checkpoint_size.le(max_size))
        .order(audit_witnesses::id)
        .select(Witness::as_select())
        .load(conn)?;
    Ok(attach(checkpoints, witnesses))
}

pub fn attach(checkpoints: Vec<Checkpoint>, witnesses: Vec<Witness>) -> Vec<WitnessedCheckpoint> {
    let mut by_size: std::collections::HashMap<i64, Vec<Witness>> = Default::default();
    for w in witnesses {
        by_size.entry(w.checkpoint_size).or_default().push(w);
    }
    checkpoints
        .into_iter()
        .map(|c| WitnessedCheckpoint {
            witnesses: by_size.remove(&c.size).unwrap_or_default(),
            checkpoint: c,
        })
        .collect()
}

/// Signs a checkpoint over everything sealed so far, or returns the latest one when
/// the log has not grown since. The caller seals first if it needs recent entries in.
pub fn sign(
    conn: &mut DbConnection,
    secrets: &Secrets,
    config: &Config,
    reason: Reason,
) -> ApiResult<Checkpoint> {
    write_tx(conn, |conn| {
        crate::db::job_lock(conn, "audit.checkpoint")?;
        let previous = latest(conn)?;
        let (head, _) = sealer::head(conn)?;
        if let Some(previous) = previous.as_ref().filter(|p| p.size == head) {
            return Ok(previous.clone());
        }
        let mut frontier = match &previous {
            Some(p) => stored_frontier(p)?,
            None => Frontier::new(),
        };
        while (frontier.size() as i64) < head {
            let hashes: Vec<(i64, String)> = audit_seals::table
                .filter(audit_seals::seq.gt(frontier.size() as i64))
                .filter(audit_seals::seq.le(head))
                .order(audit_seals::seq)
                .limit(PAGE)
                .select((audit_seals::seq, audit_seals::hash))
                .load(conn)?;
            if hashes.is_empty() {
                return Err(internal("the seals end before the chain head"));
            }
            for (seq, hash) in hashes {
                let bytes = super::chain::hash_bytes(&hash)
                    .filter(|_| seq == frontier.size() as i64 + 1)
                    .ok_or_else(|| internal("a gap or a malformed hash among the seals"))?;
                frontier.push(&bytes);
            }
        }
        let body = CheckpointBody {
            origin: config.audit_log_origin.clone(),
            size: head as u64,
            root: frontier.root(),
        };
        let text = body.text();
        let (key_id, signature) = secrets.audit_keys().sign(&text);
        let checkpoint = Checkpoint {
            size: head,
            root: hex::encode(body.root),
            text,
            key_id,
            signature,
            frontier: serde_json::to_string(&frontier.to_hex()).map_err(ApiError::internal)?,
            reason: reason.as_str().to_owned(),
            signed_at: crate::time::now(),
        };
        diesel::insert_into(audit_checkpoints::table)
            .values((
                audit_checkpoints::size.eq(checkpoint.size),
                audit_checkpoints::root.eq(&checkpoint.root),
                audit_checkpoints::text.eq(&checkpoint.text),
                audit_checkpoints::key_id.eq(&checkpoint.key_id),
                audit_checkpoints::signature.eq(&checkpoint.signature),
                audit_checkpoints::frontier.eq(&checkpoint.frontier),
                audit_checkpoints::reason.eq(&checkpoint.reason),
                audit_checkpoints::signed_at.eq(checkpoint.signed_at),
            ))
            .execute(conn)?;
        Ok(checkpoint)
    })
}

fn stored_frontier(c: &Checkpoint) -> ApiResult<Frontier> {
    serde_json::from_str::<Vec<String>>(&c.frontier)
        .ok()
        .and_then(|parts| Frontier::from_hex(c.size as u64, &parts))
        .ok_or_else(|| internal("the stored frontier of the last checkpoint is unreadable"))
}

fn internal(why: &str) -> ApiError {
    ApiError::internal(anyhow::anyhow!("audit checkpoint: {why}"))
}

/// Signs a checkpoint when the log has grown and the last one is older than the
/// configured interval (or there is none yet).
pub fn sign_if_due(
    conn: &mut DbConnection,
    secrets: &Secrets,
    config: &Config,
    now: NaiveDateTime,
) -> ApiResult<Option<Checkpoint>> {
    let previous = latest(conn)?;
    let (head, _) = sealer::head(conn)?;
    let due = match &previous {
        None => head > 0,
        Some(p) => {
            p.size < head
                && now
                    .signed_duration_since(p.signed_at)
                    .to_std()
                    .unwrap_or_default()
                    >= config.audit_checkpoint_interval.max(Duration::from_secs(1))
        }
    };
    if !due {
        return Ok(None);
    }
    sign(conn, secrets, config, Reason::Schedule).map(Some)
}

/// Stores a witness's countersignature of the checkpoint at `size` once it verifies.
pub fn add_witness(
    conn: &mut DbConnection,
    actor: &Actor,
    size: i64,
    public_key: &str,
    signature: &str,
) -> ApiResult<Witness> {
    let key = signing::parse_public_key(public_key)
        .map_err(|e| ApiError::invalid_field("public_key", e))?;
    write_tx(conn, |conn| {
        let checkpoint = get(conn, size)?.ok_or_else(|| {
            ApiError::not_found(format!("There is no checkpoint of size {size}."))
        })?;
        signing::verify(&key, &checkpoint.text, signature)
            .map_err(|e| ApiError::invalid_field("signature", e))?;
        let key_id = signing::key_id(&key);
        let exists = audit_witnesses::table
            .filter(audit_witnesses::checkpoint_size.eq(size))
            .filter(audit_witnesses::key_id.eq(&key_id))
            .select(Witness::as_select())
            .first(conn)
            .optional()?;
        if let Some(existing) = exists {
            return Ok(existing);
        }
        diesel::insert_into(audit_witnesses::table)
            .values((
                audit_witnesses::checkpoint_size.eq(size),
                audit_witnesses::key_id.eq(&key_id),
                audit_witnesses::public_key.eq(signing::encode_public_key(&key)),
                audit_witnesses::signature.eq(signature.trim()),
                audit_witnesses::witnessed_by.eq(actor.user_id),
                audit_witnesses::witnessed_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        let witness: Witness = audit_witnesses::table
            .filter(audit_witnesses::checkpoint_size.eq(size))
            .filter(audit_witnesses::key_id.eq(&key_id))
            .select(Witness::as_select())
            .first(conn)?;
        super::record(
            conn,
            actor,
            "audit.witness",
            "audit_checkpoint",
            size,
            None::<&()>,
            Some(&witness),
        )?;
        Ok(witness)
    })
}
