//! The audit log: an append-only record of every state change and every view of
//! unmasked personal data, linked into a SHA-256 hash chain.
//!
//! Writers call [`record`] inside the transaction of the change they describe, and only
//! insert: no shared row is touched, so redemptions at a hundred counters never queue on
//! a chain head. A single [`sealer`] (one at a time across instances) then links
//! committed entries into the chain in the order it sees them commit, within about a
//! second, by inserting seals ([`chain`] is the hash construction). [`checkpoints`] signs
//! the Merkle tree over the chain ([`merkle`], [`signing`]) so the record is anchored
//! outside the database; [`verifier`] checks all of it, for [`verify`] on the server and
//! for exports. Every audit table is append-only (triggers, and the service's database
//! role may only insert and read them).

pub mod chain;
pub mod checkpoint_routes;
pub mod checkpoints;
pub mod export;
pub mod export_routes;
pub mod labels;
pub mod merkle;
pub mod privacy;
pub mod routes;
pub mod sealer;
pub mod signing;
pub mod upgrade;
pub mod verifier;
pub mod verify;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::audit_events;

pub use chain::GENESIS_HASH;
pub use sealer::seal_pending;
pub use verify::{VerifyReport, verify};

/// Appends an entry describing a change made by `actor`, in the caller's transaction.
pub fn record<B: Serialize + ?Sized, A: Serialize + ?Sized>(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_id: impl ToString,
    before: Option<&B>,
    after: Option<&A>,
) -> ApiResult<()> {
    Entry::new(actor, action, entity_type, entity_id, before, after)?
        .insert()
        .execute(conn)?;
    Ok(())
}

/// An audit entry ready to insert: the statement itself, so a caller that writes in one
/// statement on PostgreSQL (a redemption) can put it beside its own writes.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub struct Entry {
    at: NaiveDateTime,
    actor_id: Option<i64>,
    actor: String,
    action: String,
    entity_type: String,
    entity_id: String,
    before_json: Option<String>,
    after_json: Option<String>,
}

impl Entry {
    pub fn new<B: Serialize + ?Sized, A: Serialize + ?Sized>(
        actor: &Actor,
        action: &str,
        entity_type: &str,
        entity_id: impl ToString,
        before: Option<&B>,
        after: Option<&A>,
    ) -> ApiResult<Self> {
        Ok(Entry {
            at: crate::time::now(),
            actor_id: actor.user_id,
            actor: actor.name.clone(),
            action: action.to_owned(),
            entity_type: entity_type.to_owned(),
            entity_id: entity_id.to_string(),
            before_json: to_json(before)?,
            after_json: to_json(after)?,
        })
    }
}

fn to_json<T: Serialize + ?Sized>(value: Option<&T>) -> ApiResult<Option<String>> {
    value
        .map(serde_json::to_string)
        .transpose()
        .map_err(ApiError::internal)
}

/// Inserts many entries in one statement (a batch of an import), in their order.
pub fn record_all(conn: &mut DbConnection, entries: &[Entry]) -> ApiResult<()> {
    // Statements stay well below the backends' bind-parameter limits (8 per entry).
    // Multi-row inserts are per backend: the multi-backend connection has none.
    for chunk in entries.chunks(1000) {
        let insert = diesel::insert_into(audit_events::table).values(chunk);
        match conn {
            DbConnection::Pg(pg) => insert.execute(pg)?,
            DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
        };
    }
    Ok(())
}

impl Entry {
    /// This entry's INSERT inside a PostgreSQL `WITH`, made only when the entry `after`
    /// has a row (a redemption's one guarded statement, see [`crate::redemptions`]).
    pub fn walk_insert_after<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
        after: &str,
    ) -> diesel::QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
        out.push_sql(
            "INSERT INTO audit_events (at, actor_id, actor, action, entity_type, entity_id, \
             before_json, after_json) SELECT ",
        );
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.actor_id)?;
        for text in [
            &self.actor,
            &self.action,
            &self.entity_type,
            &self.entity_id,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(text)?;
        }
        for json in [&self.before_json, &self.after_json] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(json)?;
        }
        out.push_sql(" WHERE EXISTS (SELECT 1 FROM ");
        out.push_sql(after);
        out.push_sql(")");
        Ok(())
    }

    /// The INSERT of this entry. `None` binds NULL rather than writing DEFAULT, so the
    /// statement's text never varies and diesel keeps it prepared.
    pub fn insert(
        &self,
    ) -> diesel::dsl::Values<diesel::dsl::insert_into<audit_events::table>, &Self> {
        diesel::insert_into(audit_events::table).values(self)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    /// Position in the chain; null until sealed. (In the table, these three columns
    /// hold the version 1 chain only; listings answer with the entry's seal.)
    pub seq: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}
