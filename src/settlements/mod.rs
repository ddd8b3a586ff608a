//! Monthly subsidy settlement (结算): per merchant per local month, every unsettled
//! redemption and reversal as a line, exactly once; then four-eyes approval and payout.
//!
//! Generation is set-based SQL (a handful of statements whatever the volume) under a named job
//! lock, so two runs — on one instance or several — never settle a line twice; the
//! partial unique index `settlement_lines_once` enforces it in the schema as well.
//! Totals are sums of the stored lines, written in the same transaction.
//!
//! Budget: approval moves a settlement's subsidy reserved → settled (a reversal line
//! takes its redemption's subsidy back out of whichever part holds it); payout moves
//! settled → paid.

pub mod export;
pub mod holds;
pub mod routes;
pub mod workflow;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::audit;
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{settlement_lines, settlements};

pub use crate::time::Period;
pub use workflow::{Step, apply};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = settlements)]
pub struct Settlement {
    pub id: i64,
    pub merchant_id: i64,
    pub period: String,
    pub run: i32,
    pub status: String,
    pub line_count: i32,
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub subsidy_fen: i64,
    pub generation: String,
    pub confirmed_by: Option<i64>,
    pub confirmed_at: Option<NaiveDateTime>,
    pub verified_by: Option<i64>,
    pub verified_at: Option<NaiveDateTime>,
    pub approved_by: Option<i64>,
    pub approved_at: Option<NaiveDateTime>,
    pub paid_by: Option<i64>,
    pub paid_at: Option<NaiveDateTime>,
    pub bank_reference: Option<String>,
    pub rejected_by: Option<i64>,
    pub rejected_at: Option<NaiveDateTime>,
    pub rejected_reason: Option<String>,
    pub lines_digest: Option<String>,
    pub audit_head_seq: Option<i64>,
    pub audit_head_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub audit_checkpoint_size: Option<i64>,
    pub audit_checkpoint_root: Option<String>,
    pub invoice_no: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = settlement_lines)]
pub struct Line {
    pub id: i64,
    pub settlement_id: i64,
    pub redemption_id: i64,
    pub kind: String,
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub subsidy_fen: i64,
    pub at: NaiveDateTime,
    pub active: bool,
}

/// A settlement as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SettlementView {
    pub id: i64,
    pub merchant_id: i64,
    pub merchant_name: String,
    pub period: String,
    /// 1 for the period's settlement, 2… for supplementary runs.
    pub run: i32,
    pub status: String,
    pub line_count: i32,
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub subsidy_fen: i64,
    pub confirmed_by: Option<i64>,
    pub verified_by: Option<i64>,
    pub approved_by: Option<i64>,
    pub paid_by: Option<i64>,
    pub bank_reference: Option<String>,
    /// The merchant's 发票 (invoice) number for the subsidy, given at confirmation.
    #[serde(default)]
    pub invoice_no: Option<String>,
    pub rejected_reason: Option<String>,
    pub lines_digest: Option<String>,
    /// Audit chain head recorded by approvals before signed checkpoints (hash version 1).
    pub audit_head_seq: Option<i64>,
    pub audit_head_hash: Option<String>,
    /// The signed audit checkpoint this settlement was approved against (size and hex
    /// root, see `GET /audit/checkpoints`).
    pub audit_checkpoint_size: Option<i64>,
    pub audit_checkpoint_root: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<LineView>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    pub redemption_id: i64,
    /// `redemption` or `reversal` (negative amounts).
    pub kind: String,
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub subsidy_fen: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: String,
    pub talent: String,
}

/// Redemptions of the period not yet in a live settlement, not reversed, not disputed
/// (generation also leaves out those an open high anomaly flag holds).
const UNSETTLED_REDEMPTIONS: &str = "FROM redemptions r WHERE r.period = $1 AND r.status = 'active' AND NOT r.disputed \
     AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.redemption_id = r.id AND l.kind = 'redemption' AND l.active)";

/// Reversals (up to the period) of redemptions already paid out, not yet settled
/// themselves: they become negative lines that net the money back. (A reversal of an
/// approved, not yet paid redemption waits for that payout.) (A redemption
/// reversed while its settlement is still under review simply leaves that settlement.)
const UNSETTLED_REVERSALS: &str = "FROM reversals v WHERE v.period <= $1 \
     AND EXISTS (SELECT 1 FROM settlement_lines l JOIN settlements o ON o.id = l.settlement_id \
                 WHERE l.redemption_id = v.redemption_id AND l.kind = 'redemption' AND l.active AND o.status = 'paid') \
     AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.redemption_id = v.redemption_id AND l.kind = 'reversal' AND l.active)";

/// Generates the settlements of `period` for everything not yet settled. Safe to run
/// again (it picks up only what is new) and concurrently (job lock + unique index).
/// Set-based: six statements whatever the volume.
pub fn generate(
    conn: &mut DbConnection,
    actor: &Actor,
    period: &Period,
    now: NaiveDateTime,
) -> ApiResult<Vec<Settlement>> {
    crate::db::job_lock(conn, "settlement.generate")?;
    let generation = uuid::Uuid::new_v4().to_string();
    // Candidates are collected first: an INSERT into settlement_lines whose own
    // NOT EXISTS probes settlement_lines was planned as a nested loop over a table the
    // statement itself grows — quadratic (minutes for 1M rows instead of seconds).
    diesel::sql_query(
        "CREATE TEMP TABLE settle_candidates (redemption_id BIGINT NOT NULL, merchant_id BIGINT NOT NULL, \
         kind TEXT NOT NULL, bill_fen BIGINT NOT NULL, discount_fen BIGINT NOT NULL, subsidy_fen BIGINT NOT NULL, \
         at TIMESTAMP NOT NULL)",
    )
    .execute(conn)?;
    diesel::sql_query(format!(
        "INSERT INTO settle_candidates SELECT r.id, r.merchant_id, 'redemption', r.bill_fen, r.discount_fen, \
         r.subsidy_fen, r.created_at {UNSETTLED_REDEMPTIONS} AND NOT {held}",
        held = holds::HELD
    ))
    .bind::<Text, _>(period.as_str())
    .execute(conn)?;
    diesel::sql_query(format!(
        "INSERT INTO settle_candidates SELECT v.redemption_id, v.merchant_id, 'reversal', -v.bill_fen, \
         -v.discount_fen, -v.subsidy_fen, v.created_at {UNSETTLED_REVERSALS}"
    ))
    .bind::<Text, _>(period.as_str())
    .execute(conn)?;
    diesel::sql_query(
        "INSERT INTO settlements (merchant_id, period, run, status, line_count, bill_fen, discount_fen, subsidy_fen, generation, created_at) \
         SELECT c.merchant_id, $1, COALESCE((SELECT MAX(s.run) FROM settlements s WHERE s.merchant_id = c.merchant_id AND s.period = $1), 0) + 1, \
                'draft', 0, 0, 0, 0, $2, $3 \
         FROM (SELECT DISTINCT merchant_id FROM settle_candidates) c",
    )
    .bind::<Text, _>(period.as_str())
    .bind::<Text, _>(&generation)
    .bind::<Timestamp, _>(now)
    .execute(conn)?;
    diesel::sql_query(
        "INSERT INTO settlement_lines (settlement_id, redemption_id, kind, bill_fen, discount_fen, subsidy_fen, at, active) \
         SELECT s.id, c.redemption_id, c.kind, c.bill_fen, c.discount_fen, c.subsidy_fen, c.at, TRUE \
         FROM settle_candidates c JOIN settlements s ON s.merchant_id = c.merchant_id WHERE s.generation = $1",
    )
    .bind::<Text, _>(&generation)
    .execute(conn)?;
    diesel::sql_query("DROP TABLE settle_candidates").execute(conn)?;
    recompute_totals(conn, &generation)?;
    let made: Vec<Settlement> = settlements::table
        .filter(settlements::generation.eq(&generation))
        .order(settlements::merchant_id)
        .select(Settlement::as_select())
        .load(conn)?;
    for s in &made {
        audit::record(
            conn,
            actor,
            "settlement.generate",
            "settlement",
            s.id,
            None::<&()>,
            Some(s),
        )?;
    }
    Ok(made)
}

/// Totals are sums of the stored lines, never computed any other way.
///
/// Raw SQL here numbers its parameters in order of first appearance: SQLite binds
/// `$N` by that order, PostgreSQL by N.
fn recompute_totals(conn: &mut DbConnection, generation: &str) -> ApiResult<()> {
    // One grouped pass over the new lines (every new settlement has at least one):
    // four correlated sums per settlement cost seconds on a million lines.
    diesel::sql_query(
        "UPDATE settlements SET line_count = t.n, bill_fen = t.bill, discount_fen = t.discount, subsidy_fen = t.subsidy \
         FROM (SELECT l.settlement_id, COUNT(*) AS n, SUM(l.bill_fen) AS bill, SUM(l.discount_fen) AS discount, \
                      SUM(l.subsidy_fen) AS subsidy \
               FROM settlement_lines l JOIN settlements g ON g.id = l.settlement_id \
               WHERE g.generation = $1 AND l.active GROUP BY l.settlement_id) t \
         WHERE settlements.id = t.settlement_id",
    )
    .bind::<Text, _>(generation)
    .execute(conn)?;
    Ok(())
}

/// Recomputes one settlement's totals (after a line left it; it may have none left).
fn recompute_settlement(conn: &mut DbConnection, settlement_id: i64) -> ApiResult<()> {
    let sum = |col: &str| {
        format!(
            "(SELECT COALESCE(SUM(l.{col}), 0) FROM settlement_lines l WHERE l.settlement_id = settlements.id AND l.active)"
        )
    };
    diesel::sql_query(format!(
        "UPDATE settlements SET \
         line_count = (SELECT COUNT(*) FROM settlement_lines l WHERE l.settlement_id = settlements.id AND l.active), \
         bill_fen = {}, discount_fen = {}, subsidy_fen = {} WHERE id = $1",
        sum("bill_fen"),
        sum("discount_fen"),
        sum("subsidy_fen")
    ))
    .bind::<diesel::sql_types::BigInt, _>(settlement_id)
    .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: i64) -> ApiResult<Settlement> {
    settlements::table
        .find(id)
        .select(Settlement::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No such settlement."))
}

pub fn lines(conn: &mut DbConnection, settlement_id: i64) -> ApiResult<Vec<Line>> {
    Ok(settlement_lines::table
        .filter(settlement_lines::settlement_id.eq(settlement_id))
        .filter(settlement_lines::active.eq(true))
        .order(settlement_lines::id)
        .select(Line::as_select())
        .load(conn)?)
}

/// What reversing a redemption means for settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversalEffect {
    /// Not in a settlement yet: the subsidy reservation is simply released.
    Unsettled,
    /// In a settlement still under review: the line leaves it, the reservation is released.
    RemovedFromReview,
    /// In an approved or paid settlement: the reversal becomes a negative line of the
    /// merchant's next settlement once that money has been paid.
    NegativeLineNext,
}

/// Takes a reversed redemption out of settlement where it may still go, and says what
/// the reversal means for the money. Call in the reversal's transaction.
pub fn on_reversal(
    conn: &mut DbConnection,
    actor: &Actor,
    redemption_id: i64,
) -> ApiResult<ReversalEffect> {
    let live: Option<(i64, i64, String)> = settlement_lines::table
        .inner_join(settlements::table)
        .filter(settlement_lines::redemption_id.eq(redemption_id))
        .filter(settlement_lines::kind.eq("redemption"))
        .filter(settlement_lines::active.eq(true))
        .select((settlement_lines::id, settlements::id, settlements::status))
        .first(conn)
        .optional()?;
    match live {
        None => Ok(ReversalEffect::Unsettled),
        Some((_, _, status)) if status == "approved" || status == "paid" => {
            Ok(ReversalEffect::NegativeLineNext)
        }
        Some((line_id, settlement_id, _)) => {
            let before = get(conn, settlement_id)?;
            diesel::update(settlement_lines::table.find(line_id))
                .set(settlement_lines::active.eq(false))
                .execute(conn)?;
            recompute_settlement(conn, settlement_id)?;
            let after = get(conn, settlement_id)?;
            audit::record(
                conn,
                actor,
                "settlement.line_removed",
                "settlement",
                settlement_id,
                Some(&before),
                Some(&after),
            )?;
            Ok(ReversalEffect::RemovedFromReview)
        }
    }
}

/// SHA-256 over the lines in id order: recorded at approval, recomputable by auditors.
pub fn lines_digest(lines: &[Line]) -> String {
    let canonical: Vec<_> = lines
        .iter()
        .map(|l| {
            serde_json::json!([
                l.redemption_id,
                l.kind,
                l.bill_fen,
                l.discount_fen,
                l.subsidy_fen,
                l.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
            ])
        })
        .collect();
    hex::encode(Sha256::digest(
        serde_json::Value::Array(canonical).to_string().as_bytes(),
    ))
}
