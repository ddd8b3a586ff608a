//! The settlement workflow after generation: the merchant confirms, one official
//! verifies, a second approves (never the verifier, nor a pair that set each other up;
//! never while an anomaly flag holds a line), then the payout is recorded — and how each
//! step moves the budget.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::{Settlement, get, holds, lines, lines_digest};
use crate::audit;
use crate::auth::Principal;
use crate::budgets::{self, Deltas};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{redemptions, settlement_lines, settlements};

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
/// state, the four eyes, and moves the budget. `text` is the invoice number (confirm,
/// optional), the reason (reject) or the bank reference (pay); `checkpoint` is the signed audit checkpoint an approval records
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
                settlements::invoice_no.eq(text),
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
