//! Deciding a flag: the merchant's owner may answer once while it is open; an admin
//! clears it (its money is released to the next settlement run) or confirms it (its
//! redemptions are reversed with the flag as the reason — negative lines in the next
//! settlement if already paid). Audited.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Flag, FlagStatus, find, redemption_ids};
use crate::audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::anomaly_flags;

fn ensure_open(flag: &Flag) -> ApiResult<()> {
    if flag.status == "open" {
        Ok(())
    } else {
        Err(ApiError::invalid_transition(format!(
            "Flag {} is {} already.",
            flag.id, flag.status
        )))
    }
}

/// The merchant owner's answer: once, while the flag is open, for their own merchant's
/// high flags (the ones they are shown).
pub fn respond(
    conn: &mut DbConnection,
    owner: &Principal,
    id: i64,
    note: &str,
    now: NaiveDateTime,
) -> ApiResult<Flag> {
    let flag = find(conn, id)?;
    match flag.merchant_id {
        Some(m) if flag.severity == "high" => owner.ensure_merchant_owner(m)?,
        // Other flags are not shown to merchants: the same answer as a missing one.
        _ => return Err(ApiError::not_found(format!("No anomaly flag {id}."))),
    }
    ensure_open(&flag)?;
    let answered = diesel::update(
        anomaly_flags::table
            .find(id)
            .filter(anomaly_flags::status.eq("open"))
            .filter(anomaly_flags::response.is_null()),
    )
    .set((
        anomaly_flags::response.eq(note),
        anomaly_flags::responded_at.eq(now),
        anomaly_flags::updated_at.eq(now),
    ))
    .execute(conn)?;
    if answered == 0 {
        return Err(ApiError::invalid_transition(format!(
            "Flag {id} has been answered already; an official will decide."
        )));
    }
    audit::record(
        conn,
        &owner.actor(),
        "anomaly.respond",
        "anomaly_flag",
        id,
        None::<&()>,
        Some(&serde_json::json!({"response": note})),
    )?;
    find(conn, id)
}

/// An admin's decision, with a note. `Confirmed` reverses the flagged redemptions that
/// are still active.
pub fn resolve(
    conn: &mut DbConnection,
    admin: &Principal,
    id: i64,
    outcome: FlagStatus,
    note: &str,
    now: NaiveDateTime,
) -> ApiResult<(Flag, usize)> {
    if outcome == FlagStatus::Open {
        return Err(ApiError::invalid_field(
            "outcome",
            "outcome must be cleared or confirmed",
        ));
    }
    let flag = find(conn, id)?;
    ensure_open(&flag)?;
    let decided = diesel::update(
        anomaly_flags::table
            .find(id)
            .filter(anomaly_flags::status.eq("open")),
    )
    .set((
        anomaly_flags::status.eq(outcome.as_str()),
        anomaly_flags::note.eq(note),
        anomaly_flags::resolved_by.eq(admin.user_id),
        anomaly_flags::resolved_at.eq(now),
        anomaly_flags::updated_at.eq(now),
    ))
    .execute(conn)?;
    if decided == 0 {
        return Err(ApiError::invalid_transition(format!(
            "Flag {id} was decided meanwhile."
        )));
    }
    let actor = admin.actor();
    let mut reversed = 0;
    if outcome == FlagStatus::Confirmed {
        let reason = format!("anomaly flag {id} ({}) confirmed: {note}", flag.rule);
        for rid in redemption_ids(conn, id)? {
            let redemption = crate::redemptions::get(conn, rid)?;
            if redemption.status == "active" {
                crate::redemptions::reverse(conn, &actor, &redemption, &reason, now)?;
                reversed += 1;
            }
        }
    }
    audit::record(
        conn,
        &actor,
        "anomaly.resolve",
        "anomaly_flag",
        id,
        None::<&()>,
        Some(&serde_json::json!({"outcome": outcome, "note": note, "reversed": reversed})),
    )?;
    Ok((find(conn, id)?, reversed))
}
