//! What waits for the official who is signed in: the counts behind the badges of the
//! official face. "For me" follows the rules that will judge the step: a proposal waits
//! for any administrator but its proposer; a verified settlement waits for any
//! administrator but its verifier and whoever set the verifier up, or was set up by
//! them (the four-eyes pair rule of [`crate::settlements::workflow`]). Auditors decide
//! nothing: their counts of decisions are zero, and they see what is open for review
//! (disputes and anomaly flags).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Principal, Role};
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::{anomaly_flags, disputes, merchants, offers, proposals, settlements};

/// Settlements that wait for this official's step.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct SettlementTodo {
    /// Confirmed by the merchant, to verify.
    pub verify: i64,
    /// Verified by another official this one may approve with (four eyes).
    pub approve: i64,
    /// Approved, to pay (record the bank's reference).
    pub pay: i64,
}

/// Counts of what waits for the signed-in official.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct TodoCounts {
    /// Open proposals another administrator made, which this one may approve or reject.
    pub proposals: i64,
    /// Merchant applications waiting for approval.
    pub merchants: i64,
    /// Offers waiting for approval.
    pub offers: i64,
    pub settlements: SettlementTodo,
    /// Disputes not yet resolved.
    pub disputes: i64,
    /// Open anomaly flags.
    pub anomalies: i64,
    /// Open flags of high severity: they hold money.
    pub anomalies_held: i64,
}

fn count_status(conn: &mut DbConnection, status: &str) -> ApiResult<i64> {
    Ok(settlements::table
        .filter(settlements::status.eq(status))
        .count()
        .get_result(conn)?)
}

/// The counts for `me` at `now`.
pub fn counts(
    conn: &mut DbConnection,
    me: &Principal,
    now: NaiveDateTime,
) -> ApiResult<TodoCounts> {
    let mut todo = TodoCounts {
        disputes: disputes::table
            .filter(disputes::status.eq("open"))
            .count()
            .get_result(conn)?,
        anomalies: anomaly_flags::table
            .filter(anomaly_flags::status.eq("open"))
            .count()
            .get_result(conn)?,
        anomalies_held: anomaly_flags::table
            .filter(anomaly_flags::status.eq("open"))
            .filter(anomaly_flags::severity.eq("high"))
            .count()
            .get_result(conn)?,
        ..TodoCounts::default()
    };
    if me.role != Role::Admin {
        return Ok(todo);
    }
    todo.proposals = proposals::table
        .filter(proposals::status.eq("open"))
        .filter(proposals::expires_at.gt(now))
        .filter(proposals::proposed_by.ne(me.user_id))
        .count()
        .get_result(conn)?;
    todo.merchants = merchants::table
        .filter(merchants::status.eq("pending"))
        .count()
        .get_result(conn)?;
    todo.offers = offers::table
        .filter(offers::status.eq("pending"))
        .count()
        .get_result(conn)?;
    todo.settlements.verify = count_status(conn, "confirmed")?;
    todo.settlements.pay = count_status(conn, "approved")?;
    // Verified ones, by verifier: the pair rule is asked once per verifier, not per
    // settlement (a handful of officials verify thousands of settlements).
    let by_verifier: Vec<(Option<i64>, i64)> = settlements::table
        .filter(settlements::status.eq("verified"))
        .group_by(settlements::verified_by)
        .select((settlements::verified_by, diesel::dsl::count_star()))
        .load(conn)?;
    for (verifier, n) in by_verifier {
        let mine = match verifier {
            Some(v) if v == me.user_id => false,
            Some(v) => !crate::proposals::set_up_one_another(conn, v, me.user_id, now)?,
            None => true,
        };
        if mine {
            todo.settlements.approve += n;
        }
    }
    Ok(todo)
}
