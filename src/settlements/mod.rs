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

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Actor, Principal};
use crate::budgets::{self, Deltas};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{redemptions, settlement_lines, settlements};

pub use crate::time::Period;

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

/// A workflow step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Confirm,
    Verify,
    Approve,
    Pay,
    Reject,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Confirm => "confirm",
            Step::Verify => "verify",
            Step::Approve => "approve",
            Step::Pay => "pay",
            Step::Reject => "reject",
        }
    }

    fn past_tense(self) -> &'static str {
        match self {
            Step::Confirm => "confirmed",
            Step::Verify => "verified",
            Step::Approve => "approved",
            Step::Pay => "paid",
            Step::Reject => "rejected",
        }
    }

    /// (states it may start from, state it leads to)
    fn transition(self) -> (&'static [&'static str], &'static str) {
        match self {
            Step::Confirm => (&["draft"], "confirmed"),
            Step::Verify => (&["confirmed"], "verified"),
            Step::Approve => (&["verified"], "approved"),
            Step::Pay => (&["approved"], "paid"),
            Step::Reject => (&["draft", "confirmed", "verified"], "rejected"),
        }
    }
}

/// Applies a workflow step: who may is checked by the caller's role; this checks the
/// state, the four eyes, and moves the budget. `text` is the reason (reject) or the
/// bank reference (pay); `checkpoint` is the signed audit checkpoint an approval records
/// (taken just before, so it covers the history the approval relied on).
pub fn apply(
    conn: &mut DbConnection,
    principal: &Principal,
    id: i64,
    step: Step,
    text: Option<&str>,
    checkpoint: Option<&audit::checkpoints::Checkpoint>,
    now: NaiveDateTime,
) -> ApiResult<Settlement> {
    let before = get(conn, id)?;
    if step == Step::Confirm {
        principal.ensure_merchant_owner(before.merchant_id)?;
    }
    let (from, to) = step.transition();
    if !from.contains(&before.status.as_str()) {
        return Err(ApiError::invalid_transition(format!(
            "A {} settlement cannot be {}; it must be {} first.",
            before.status,
            step.past_tense(),
            from.join(" or ")
        )));
    }
    if step == Step::Approve {
        let holds = holds::holds_on_settlement(conn, id)?;
        if !holds.is_empty() {
            let ids: Vec<String> = holds.iter().map(i64::to_string).collect();
            return Err(ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "anomaly_hold",
                format!(
                    "Open high anomaly flags ({}) hold redemptions of this settlement: clear or confirm them first, or reject the settlement so the rest is paid in the next run.",
                    ids.join(", ")
                ),
            ));
        }
    }
    if step == Step::Approve && before.verified_by == Some(principal.user_id) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "four_eyes",
            "The official who verified this settlement cannot also approve it: a second official must.",
        ));
    }
    if step == Step::Approve
        && let Some(verifier) = before.verified_by
        && crate::proposals::set_up_one_another(conn, verifier, principal.user_id, now)?
    {
        // A pair that set each other up may be one person holding two accounts.
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "four_eyes",
            format!(
                "You and the official who verified this settlement proposed or approved one another's account within the last {} days: another official must approve it.",
                crate::proposals::PAIR_RULE_DAYS
            ),
        ));
    }
    let user = Some(principal.user_id);
    let guarded = settlements::table
        .find(id)
        .filter(settlements::status.eq(&before.status));
    let updated = match step {
        Step::Confirm => diesel::update(guarded)
            .set((
                settlements::status.eq(to),
                settlements::confirmed_by.eq(user),
                settlements::confirmed_at.eq(now),
            ))
            .execute(conn)?,
        Step::Verify => diesel::update(guarded)
            .set((
                settlements::status.eq(to),
                settlements::verified_by.eq(user),
                settlements::verified_at.eq(now),
            ))
            .execute(conn)?,
        Step::Approve => {
            let digest = lines_digest(&lines(conn, id)?);
            let checkpoint = checkpoint.ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("an approval needs a signed checkpoint"))
            })?;
            let n = diesel::update(guarded)
                .set((
                    settlements::status.eq(to),
                    settlements::approved_by.eq(user),
                    settlements::approved_at.eq(now),
                    settlements::lines_digest.eq(digest),
                    settlements::audit_checkpoint_size.eq(checkpoint.size),
                    settlements::audit_checkpoint_root.eq(&checkpoint.root),
                ))
                .execute(conn)?;
            move_budget_on_approval(conn, id)?;
            n
        }
        Step::Pay => {
            let reference = text.unwrap_or_default();
            let n = diesel::update(guarded)
                .set((
                    settlements::status.eq(to),
                    settlements::paid_by.eq(user),
                    settlements::paid_at.eq(now),
                    settlements::bank_reference.eq(reference),
                ))
                .execute(conn)?;
            move_budget_on_payout(conn, id)?;
            n
        }
        Step::Reject => {
            let n = diesel::update(guarded)
                .set((
                    settlements::status.eq(to),
                    settlements::rejected_by.eq(user),
                    settlements::rejected_at.eq(now),
                    settlements::rejected_reason.eq(text),
                ))
                .execute(conn)?;
            release_lines(conn, id)?;
            n
        }
    };
    if updated != 1 {
        return Err(ApiError::invalid_transition(
            "The settlement changed meanwhile; reload it and try again.",
        ));
    }
    let after = get(conn, id)?;
    audit::record(
        conn,
        &principal.actor(),
        &format!("settlement.{}", step.name()),
        "settlement",
        id,
        Some(&before),
        Some(&after),
    )?;
    Ok(after)
}

/// Per (budget year, category): the subsidy of this settlement's lines, split by where
/// the money sits now.
fn budget_moves(
    conn: &mut DbConnection,
    settlement_id: i64,
) -> ApiResult<BTreeMap<(i32, String), Deltas>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        period: String,
        #[diesel(sql_type = Text)]
        category: String,
        #[diesel(sql_type = Text)]
        kind: String,
        /// For reversal lines: the status of the settlement holding the redemption.
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        origin_status: Option<String>,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        subsidy: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT r.period, r.category, l.kind, o.status AS origin_status, CAST(SUM(l.subsidy_fen) AS BIGINT) AS subsidy \
         FROM settlement_lines l JOIN redemptions r ON r.id = l.redemption_id \
         LEFT JOIN settlement_lines ol ON l.kind = 'reversal' AND ol.redemption_id = l.redemption_id AND ol.kind = 'redemption' AND ol.active \
         LEFT JOIN settlements o ON o.id = ol.settlement_id \
         WHERE l.settlement_id = $1 AND l.active \
         GROUP BY r.period, r.category, l.kind, o.status",
    )
    .bind::<diesel::sql_types::BigInt, _>(settlement_id)
    .load(conn)?;
    let mut moves: BTreeMap<(i32, String), Deltas> = BTreeMap::new();
    for row in rows {
        let year = row.period[..4]
            .parse()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("bad period {}", row.period)))?;
        let d = moves.entry((year, row.category)).or_default();
        match (row.kind.as_str(), row.origin_status.as_deref()) {
            ("redemption", _) => {
                d.reserved -= row.subsidy;
                d.settled += row.subsidy;
            }
            // A reversal line is negative: the redemption's subsidy leaves the part that holds it.
            // Generation makes reversal lines only for paid redemptions: the negative
            // line takes their subsidy back out of `paid`.
            _ => d.paid += row.subsidy,
        }
    }
    Ok(moves)
}

fn move_budget_on_approval(conn: &mut DbConnection, settlement_id: i64) -> ApiResult<()> {
    // Settled reversals also leave the merchants' monthly totals. First: a redemption
    // locks its merchant's month before any budget row, and so must we.
    let reversed: Vec<(i64, String, i64)> = settlement_lines::table
        .inner_join(redemptions::table)
        .filter(settlement_lines::settlement_id.eq(settlement_id))
        .filter(settlement_lines::kind.eq("reversal"))
        .filter(settlement_lines::active.eq(true))
        .select((
            redemptions::merchant_id,
            redemptions::period,
            redemptions::subsidy_fen,
        ))
        .order((redemptions::merchant_id, redemptions::period))
        .load(conn)?;
    for (merchant_id, period, subsidy) in reversed {
        budgets::uncount_merchant_month(conn, merchant_id, &period, subsidy)?;
    }
    let moves = budget_moves(conn, settlement_id)?;
    budgets::adjust(conn, &moves)
}

fn move_budget_on_payout(conn: &mut DbConnection, settlement_id: i64) -> ApiResult<()> {
    // What approval moved into `settled` (the redemption lines) is paid now; reversal
    // lines already came out of `paid` at approval.
    let moves = budget_moves(conn, settlement_id)?
        .into_iter()
        .map(|(key, deltas)| {
            let approved = deltas.settled;
            let paid_out = Deltas {
                reserved: 0,
                settled: -approved,
                paid: approved,
            };
            (key, paid_out)
        })
        .collect();
    budgets::adjust(conn, &moves)
}

/// A rejected settlement releases its lines to the next run (no money had moved yet).
fn release_lines(conn: &mut DbConnection, settlement_id: i64) -> ApiResult<()> {
    diesel::update(
        settlement_lines::table.filter(settlement_lines::settlement_id.eq(settlement_id)),
    )
    .set(settlement_lines::active.eq(false))
    .execute(conn)?;
    Ok(())
}
