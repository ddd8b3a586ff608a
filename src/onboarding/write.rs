//! What a batch of an import writes: new talents, each with its login (activation
//! pending), first activation code and card; and the changed details of registered
//! talents when the import may update them. The job around it is in [`super::job`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::job::{Letter, Runner};
use super::plan::{Action, Step};
use crate::audit;
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{talents, users};
use crate::talents::{Field, PiiVault, Talent};

/// Registers the batch's new talents, each with its login (activation pending), first
/// activation code and card; the audit entries go in one statement. A talent someone
/// registered since the check is left alone.
pub(super) fn register(
    conn: &mut DbConnection,
    runner: &Runner,
    actor: &Actor,
    batch: &[Step],
    now: NaiveDateTime,
) -> ApiResult<Vec<Letter>> {
    let vault = &runner.vault;
    let today = crate::time::to_local(now).date_naive();
    let new: Vec<(&Step, String)> = batch
        .iter()
        .filter(|s| matches!(s.action, Action::New))
        .map(|s| (s, vault.blind_index(Field::IdNumber, &s.talent.id_number)))
        .collect();
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let registered: std::collections::HashSet<String> = talents::table
        .filter(talents::id_number_index.eq_any(new.iter().map(|(_, index)| index)))
        .select(talents::id_number_index)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut letters = Vec::new();
    let mut entries = Vec::new();
    for (step, id_index) in new {
        if registered.contains(&id_index) {
            continue;
        }
        let row = &step.talent;
        let talent = crate::talents::NewTalent {
            name: crate::talents::TalentName::parse(&row.name)?,
            id_number: crate::talents::IdNumber::parse(&row.id_number, today)?,
            phone: crate::talents::Phone::parse(&row.phone)?,
            employer: row.employer.clone(),
            tier: row.tier,
        };
        let phone_index = vault.blind_index(Field::Phone, &row.phone);
        let stored = crate::talents::insert(conn, vault, &talent, &id_index, &phone_index, now)?;
        let user = crate::talents::insert_login(
            conn,
            &stored,
            &talent,
            crate::users::UNUSABLE_PASSWORD_HASH,
            now,
        )?;
        let code = crate::activation::issue_first(
            conn,
            &runner.activation_key,
            user.id,
            actor.user_id,
            now,
        )?;
        let expires = crate::cards::expiry_for(row.valid_until, runner.card_validity_years, now)?;
        let card = crate::cards::insert_card(conn, stored.id, &stored.tier, expires, None, now)?;
        entries.push(audit::Entry::new(
            actor,
            "talent.create",
            "talent",
            stored.id,
            None::<&()>,
            Some(&stored.view(None, now)),
        )?);
        entries.push(crate::talents::login_created(actor, &user, &talent)?);
        entries.push(audit::Entry::new(
            actor,
            "card.issue",
            "card",
            card.id,
            None::<&()>,
            Some(&card.view(now)),
        )?);
        letters.push(Letter {
            row: row.row,
            name: stored.name,
            id_number_masked: stored.id_number_masked,
            phone: row.phone.clone(),
            card_no: card.card_no,
            tier: stored.tier,
            activation_code: code.activation_code,
            activation_expires_at: code.activation_expires_at,
        });
    }
    audit::record_all(conn, &entries)?;
    Ok(letters)
}

/// Applies a registered talent's changed name, phone (its login follows), employer and
/// tier (its live card is reissued with it). `false` when nothing differs any more.
pub(super) fn update(
    conn: &mut DbConnection,
    vault: &PiiVault,
    actor: &Actor,
    talent_id: i64,
    step: &Step,
    now: NaiveDateTime,
) -> ApiResult<bool> {
    let row = &step.talent;
    let before = crate::talents::find(conn, talent_id)?;
    let phone_index = vault.blind_index(Field::Phone, &row.phone);
    let changes = super::plan::changes_of(&before, row, &phone_index);
    if changes.is_empty() {
        return Ok(false);
    }
    let after: Talent = diesel::update(talents::table.find(talent_id))
        .set((
            talents::name.eq(&row.name),
            talents::employer.eq(&row.employer),
            talents::phone_enc.eq(vault.encrypt(Field::Phone, &row.phone)?),
            talents::phone_index.eq(&phone_index),
            talents::phone_masked.eq(crate::talents::domain::mask_phone(&row.phone)),
            talents::updated_at.eq(now),
        ))
        .returning(talents::all_columns)
        .get_result::<Talent>(conn)
        .map_err(|e| match ApiError::from(e) {
            ApiError::Problem {
                code: "conflict", ..
            } => ApiError::conflict("The new phone is already registered for another talent."),
            other => other,
        })?;
    if before.phone_index.as_deref() != Some(phone_index.as_str()) {
        // The talent logs in with the phone: the login is renamed with it.
        diesel::update(users::table.filter(users::talent_id.eq(talent_id)))
            .set((users::username.eq(&row.phone), users::updated_at.eq(now)))
            .execute(conn)?;
    }
    audit::record(
        conn,
        actor,
        "talent.update",
        "talent",
        talent_id,
        Some(&before.view(None, now)),
        Some(&after.view(None, now)),
    )?;
    if before.tier != row.tier.as_str() {
        let live = crate::talents::current_cards(conn, &[talent_id])?
            .remove(&talent_id)
            .filter(|c| matches!(c.status.as_str(), "active" | "suspended") && c.expires_at > now);
        match live {
            Some(card) => {
                crate::cards::reissue(
                    conn,
                    actor,
                    &crate::cards::CardNo::parse(&card.card_no)?,
                    "人才层次变更（名单导入） / tier changed by import".into(),
                    Some(row.tier),
                    None,
                    now,
                )?;
            }
            None => crate::talents::set_tier(conn, actor, talent_id, row.tier, now)?,
        }
    }
    Ok(true)
}
