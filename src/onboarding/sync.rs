//! The bureau's list is the truth (DESIGN §10): an import with `sync=true` lists the
//! talents of the file's tiers it left out, and an official suspends them in one
//! confirmed step — only those, each card with the import named as the reason.

use chrono::NaiveDateTime;

use super::job;
use super::plan::MissingTalent;
use crate::auth::Actor;
use crate::cards::{self, CardNo, CardStatus, Transition};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};

pub fn suspend_missing(
    conn: &mut DbConnection,
    actor: &Actor,
    job_id: &str,
    talent_ids: &[i64],
    now: NaiveDateTime,
) -> ApiResult<Vec<MissingTalent>> {
    let found = job::find(conn, job_id)?;
    if found.status_at(now) != "done" {
        return Err(ApiError::invalid_transition(
            "Suspend the missing talents once the import is done.",
        ));
    }
    let Some(missing) = job::missing_of(&found)? else {
        return Err(ApiError::invalid_transition(
            "The import was run without sync=true: it lists nobody as missing.",
        ));
    };
    let mut suspended = Vec::new();
    for id in talent_ids {
        let Some(talent) = missing.iter().find(|m| m.talent_id == *id) else {
            return Err(ApiError::invalid_field(
                "talent_ids",
                format!("talent {id} is not on this import's list of missing talents"),
            ));
        };
        let card_no = CardNo::parse(&talent.card_no)?;
        // Suspended since by someone else, or reissued: nothing left to do here.
        if cards::find_by_no(conn, &card_no)?.status_at(now) != CardStatus::Active {
            continue;
        }
        cards::transition(
            conn,
            actor,
            &card_no,
            Transition::Suspend,
            Some(format!(
                "不在人社局名单中（导入 {job_id}） / not on the bureau's list (import {job_id})"
            )),
            now,
        )?;
        suspended.push(talent.clone());
    }
    Ok(suspended)
}
