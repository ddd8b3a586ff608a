//! Dual control (DESIGN §13): the changes one official must not make alone — creating an
//! official, changing a role, reactivating or resetting an official, setting a year's
//! budget, rotating a signing key, changing the anomaly thresholds — are proposals. A second admin approves (the change happens then, in the same
//! transaction) or rejects; an open proposal expires after [`LIFETIME_HOURS`]. The
//! proposer can never approve their own. Every step is audited.
//!
//! Each kind lives in its own file with the endpoint that proposes it and what approval
//! does: [`officials`], [`budget`], [`thresholds`] and [`keys`] (approval there lets the operator rotate
//! the key on the server). [`routes`] lists and decides proposals; [`break_glass`] is the
//! one way around them.

pub mod break_glass;
pub mod budget;
pub mod keys;
pub mod officials;
pub mod routes;
pub mod thresholds;

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Actor, Principal};
use crate::db::{Db, DbConnection};
use crate::error::{ApiError, ApiResult};
use crate::schema::{proposals, users};

/// How long a proposal waits for a second admin (DESIGN §13).
pub const LIFETIME_HOURS: i64 = 72;

/// Settlement approval refuses a pair of officials where one set up the other's account
/// through a proposal decided this recently (see [`set_up_one_another`]).
pub const PAIR_RULE_DAYS: i64 = 30;

/// Kinds that put an account into an official's hands: the ones the pair rule reads.
pub const ACCOUNT_KINDS: [&str; 4] = [
    officials::CREATE,
    officials::ROLE,
    officials::REACTIVATE,
    officials::RESET,
];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = proposals)]
pub struct Proposal {
    pub id: i64,
    pub kind: String,
    pub summary: String,
    pub payload: String,
    pub target_user_id: Option<i64>,
    pub status: String,
    pub proposed_by: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub decided_by: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_reason: Option<String>,
    pub result: Option<String>,
}

/// Where a proposal stands. An open proposal past its time reads as expired even before
/// the sweep has recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Approved,
    Rejected,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
        }
    }
}

/// A proposal as clients see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalView {
    pub id: i64,
    /// `official.create`, `official.role`, `official.reactivate`, `official.reset`,
    /// `budget.set`, `key.rotate` or `anomaly.thresholds`.
    pub kind: String,
    /// What approving it does, in plain words (English; the pages say it in the reader's
    /// language from `kind` and `payload`).
    pub summary: String,
    /// The proposed change as validated when it was proposed.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub target_user_id: Option<i64>,
    pub status: Status,
    pub proposed_by: i64,
    pub proposed_by_username: String,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: NaiveDateTime,
    pub decided_by: Option<i64>,
    pub decided_by_username: Option<String>,
    #[serde(serialize_with = "crate::time::rfc3339_local::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<NaiveDateTime>,
    pub decision_reason: Option<String>,
    /// What approval produced (e.g. the new account's id); never an activation code.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
}

/// The answer to a proposing request: 202 with the proposal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Proposed {
    pub proposal: ProposalView,
}

impl Proposal {
    pub fn status(&self, now: NaiveDateTime) -> Status {
        match self.status.as_str() {
            "open" if self.expires_at <= now => Status::Expired,
            "open" => Status::Open,
            "approved" => Status::Approved,
            "rejected" => Status::Rejected,
            _ => Status::Expired,
        }
    }

    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> ApiResult<T> {
        serde_json::from_str(&self.payload).map_err(|e| {
            ApiError::internal(anyhow::anyhow!("proposal {}: bad payload: {e}", self.id))
        })
    }
}

pub fn view(conn: &mut DbConnection, p: &Proposal, now: NaiveDateTime) -> ApiResult<ProposalView> {
    let mut one = views(conn, std::slice::from_ref(p), now)?;
    one.pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("proposal {} has no view", p.id)))
}

/// Views of many proposals, with the proposers' and deciders' names read in one query.
pub fn views(
    conn: &mut DbConnection,
    list: &[Proposal],
    now: NaiveDateTime,
) -> ApiResult<Vec<ProposalView>> {
    let ids: Vec<i64> = list
        .iter()
        .flat_map(|p| std::iter::once(p.proposed_by).chain(p.decided_by))
        .collect();
    let names: std::collections::BTreeMap<i64, String> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::username))
        .load(conn)?
        .into_iter()
        .collect();
    let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    Ok(list
        .iter()
        .map(|p| ProposalView {
            id: p.id,
            kind: p.kind.clone(),
            summary: p.summary.clone(),
            payload: parse(&p.payload),
            target_user_id: p.target_user_id,
            status: p.status(now),
            proposed_by: p.proposed_by,
            proposed_by_username: name(p.proposed_by),
            created_at: p.created_at,
            expires_at: p.expires_at,
            decided_by: p.decided_by,
            decided_by_username: p.decided_by.map(name),
            decided_at: p.decided_at,
            decision_reason: p.decision_reason.clone(),
            result: p.result.as_deref().map(parse),
        })
        .collect())
}

pub fn find(conn: &mut DbConnection, id: i64) -> ApiResult<Proposal> {
    proposals::table
        .find(id)
        .select(Proposal::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("No proposal {id}.")))
}

/// A change to propose: its kind, plain-words summary, payload and the account it is
/// about.
pub struct NewProposal<'a, T: Serialize> {
    pub kind: &'static str,
    pub summary: String,
    pub payload: &'a T,
    pub target_user_id: Option<i64>,
}

/// Records a proposal by `principal` (an admin) and audits it.
pub fn create<T: Serialize>(
    conn: &mut DbConnection,
    principal: &Principal,
    new: NewProposal<'_, T>,
    now: NaiveDateTime,
) -> ApiResult<ProposalView> {
    let payload = serde_json::to_string(new.payload).map_err(ApiError::internal)?;
    diesel::insert_into(proposals::table)
        .values((
            proposals::kind.eq(new.kind),
            proposals::summary.eq(&new.summary),
            proposals::payload.eq(&payload),
            proposals::target_user_id.eq(new.target_user_id),
            proposals::status.eq(Status::Open.as_str()),
            proposals::proposed_by.eq(principal.user_id),
            proposals::created_at.eq(now),
            proposals::expires_at.eq(now + Duration::hours(LIFETIME_HOURS)),
        ))
        .execute(conn)?;
    // Insert-then-select: the multi-backend connection cannot return a row from INSERT.
    let id: i64 = proposals::table
        .filter(proposals::proposed_by.eq(principal.user_id))
        .select(proposals::id)
        .order(proposals::id.desc())
        .first(conn)?;
    let created = find(conn, id)?;
    let shown = view(conn, &created, now)?;
    audit::record(
        conn,
        &principal.actor(),
        "proposal.create",
        "proposal",
        id,
        None::<&()>,
        Some(&shown),
    )?;
    Ok(shown)
}

/// Whether an open proposal of `kind` about the same thing already waits: a second one
/// would only confuse the approver.
pub fn open_exists(
    conn: &mut DbConnection,
    kind: &str,
    payload_matches: impl Fn(&Proposal) -> bool,
    now: NaiveDateTime,
) -> ApiResult<Option<i64>> {
    let open: Vec<Proposal> = proposals::table
        .filter(proposals::kind.eq(kind))
        .filter(proposals::status.eq("open"))
        .filter(proposals::expires_at.gt(now))
        .select(Proposal::as_select())
        .load(conn)?;
    Ok(open.iter().find(|p| payload_matches(p)).map(|p| p.id))
}

/// Records every open proposal past its time as expired, audited. Returns how many.
pub fn expire_overdue(conn: &mut DbConnection, now: NaiveDateTime) -> ApiResult<usize> {
    let overdue: Vec<(i64, NaiveDateTime)> = proposals::table
        .filter(proposals::status.eq("open"))
        .filter(proposals::expires_at.le(now))
        .select((proposals::id, proposals::expires_at))
        .load(conn)?;
    let actor = Actor::system("proposals");
    let mut expired = 0;
    for (id, expires_at) in overdue {
        let n = diesel::update(
            proposals::table
                .find(id)
                .filter(proposals::status.eq("open")),
        )
        .set((
            proposals::status.eq(Status::Expired.as_str()),
            proposals::decided_at.eq(expires_at),
        ))
        .execute(conn)?;
        if n == 1 {
            audit::record(
                conn,
                &actor,
                "proposal.expire",
                "proposal",
                id,
                None::<&()>,
                None::<&()>,
            )?;
            expired += 1;
        }
    }
    Ok(expired)
}

/// Records expiries once a minute in the background, so the audit record shows when a
/// proposal lapsed even if nobody looks at it again.
pub fn spawn_expiry(db: Db) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(StdDuration::from_secs(60));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let sweep = db
                .write(|conn| expire_overdue(conn, crate::time::now()))
                .await;
            match sweep {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "proposals expired"),
                Err(e) => tracing::warn!(error = %e, "expiring proposals failed; will retry"),
            }
        }
    });
}

/// Whether one of two officials set up the other's account — proposed or approved its
/// creation, role change, reactivation or password reset — within [`PAIR_RULE_DAYS`].
/// Such a pair cannot be the four eyes of one settlement: one of them may hold both
/// accounts.
pub fn set_up_one_another(
    conn: &mut DbConnection,
    a: i64,
    b: i64,
    now: NaiveDateTime,
) -> ApiResult<bool> {
    let since = now - Duration::days(PAIR_RULE_DAYS);
    let by = |target: i64, other: i64| {
        proposals::target_user_id.eq(target).and(
            proposals::proposed_by
                .eq(other)
                .or(proposals::decided_by.eq(other)),
        )
    };
    Ok(diesel::select(diesel::dsl::exists(
        proposals::table
            .filter(proposals::status.eq("approved"))
            .filter(proposals::kind.eq_any(ACCOUNT_KINDS))
            .filter(proposals::decided_at.gt(since))
            .filter(by(a, b).or(by(b, a))),
    ))
    .get_result(conn)?)
}
