//! Names for what audit entries point at, so a page can say "王芳 verified 遂州小吃
//! 2026-11" instead of "settlement.verify / settlement 4 / user 15". The entry itself
//! keeps the ids (they are what the chain commits to); names are looked up when listed,
//! in one query per kind of thing on the page, never one per entry.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::{
    anomaly_flags, cards, merchants, offers, redemptions, settlements, talents, users,
};

/// How a person is named on the pages: the display name where there is one, else the
/// login name.
pub fn person_name(username: &str, display_name: &str) -> String {
    if display_name.trim().is_empty() {
        username.to_owned()
    } else {
        display_name.to_owned()
    }
}

/// [`person_name`] of each of `ids` that exists.
pub fn user_names(conn: &mut DbConnection, ids: &[i64]) -> ApiResult<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::username, users::display_name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, username, display)| (id, person_name(&username, &display)))
        .collect())
}

/// The name an entry's actor goes by: the account's name when the actor was a user,
/// else the recorded actor (`system:cli`, `anonymous`), which the pages translate.
pub fn actor_name(names: &HashMap<i64, String>, actor_id: Option<i64>, recorded: &str) -> String {
    actor_id
        .and_then(|id| names.get(&id).cloned())
        .unwrap_or_else(|| recorded.to_owned())
}

/// A label for each `(entity_type, entity_id)` that names something still known: a
/// user's name, a merchant's, a talent's, a card's number and holder, an offer's title
/// and merchant, a settlement's merchant and period, a redemption's merchant and offer,
/// an anomaly flag's merchant. Other kinds (budgets, proposals, keys) are left out: their
/// id already says what they are.
pub fn entity_labels(
    conn: &mut DbConnection,
    entities: &[(&str, &str)],
) -> ApiResult<HashMap<(String, String), String>> {
    let ids_of = |kind: &str| -> Vec<i64> {
        let mut ids: Vec<i64> = entities
            .iter()
            .filter(|(t, _)| *t == kind)
            .filter_map(|(_, id)| id.parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let mut labels: HashMap<(String, String), String> = HashMap::new();
    let mut put = |kind: &str, id: i64, label: String| {
        labels.insert((kind.to_owned(), id.to_string()), label);
    };
    for (id, name) in user_names(conn, &ids_of("user"))? {
        put("user", id, name);
    }
    let ids = ids_of("merchant");
    if !ids.is_empty() {
        for (id, name) in merchants::table
            .filter(merchants::id.eq_any(&ids))
            .select((merchants::id, merchants::name))
            .load::<(i64, String)>(conn)?
        {
            put("merchant", id, name);
        }
    }
    let ids = ids_of("talent");
    if !ids.is_empty() {
        for (id, name) in talents::table
            .filter(talents::id.eq_any(&ids))
            .select((talents::id, talents::name))
            .load::<(i64, String)>(conn)?
        {
            put("talent", id, name);
        }
    }
    let ids = ids_of("card");
    if !ids.is_empty() {
        for (id, no, holder) in cards::table
            .inner_join(talents::table)
            .filter(cards::id.eq_any(&ids))
            .select((cards::id, cards::card_no, talents::name))
            .load::<(i64, String, String)>(conn)?
        {
            put("card", id, format!("{no} · {holder}"));
        }
    }
    let ids = ids_of("offer");
    if !ids.is_empty() {
        for (id, title, merchant) in offers::table
            .inner_join(merchants::table)
            .filter(offers::id.eq_any(&ids))
            .select((offers::id, offers::title, merchants::name))
            .load::<(i64, String, String)>(conn)?
        {
            put("offer", id, format!("{title} · {merchant}"));
        }
    }
    let ids = ids_of("settlement");
    if !ids.is_empty() {
        for (id, period, merchant) in settlements::table
            .inner_join(merchants::table.on(merchants::id.eq(settlements::merchant_id)))
            .filter(settlements::id.eq_any(&ids))
            .select((settlements::id, settlements::period, merchants::name))
            .load::<(i64, String, String)>(conn)?
        {
            put("settlement", id, format!("{merchant} · {period}"));
        }
    }
    let ids = ids_of("redemption");
    if !ids.is_empty() {
        for (id, merchant, offer) in redemptions::table
            .inner_join(merchants::table.on(merchants::id.eq(redemptions::merchant_id)))
            .inner_join(offers::table.on(offers::id.eq(redemptions::offer_id)))
            .filter(redemptions::id.eq_any(&ids))
            .select((redemptions::id, merchants::name, offers::title))
            .load::<(i64, String, String)>(conn)?
        {
            put("redemption", id, format!("{merchant} · {offer}"));
        }
    }
    let ids = ids_of("anomaly_flag");
    if !ids.is_empty() {
        for (id, merchant) in anomaly_flags::table
            .inner_join(
                merchants::table.on(anomaly_flags::merchant_id.eq(merchants::id.nullable())),
            )
            .filter(anomaly_flags::id.eq_any(&ids))
            .select((anomaly_flags::id, merchants::name))
            .load::<(i64, String)>(conn)?
        {
            put("anomaly_flag", id, merchant);
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_goes_by_the_display_name_else_the_login() {
        assert_eq!(person_name("wang.fang", "王芳"), "王芳");
        assert_eq!(person_name("wang.fang", " "), "wang.fang");
    }

    #[test]
    fn a_system_actor_keeps_its_recorded_name() {
        let names = HashMap::from([(15, "王芳".to_owned())]);
        assert_eq!(actor_name(&names, Some(15), "wang.fang"), "王芳");
        assert_eq!(actor_name(&names, None, "system:cli"), "system:cli");
        assert_eq!(actor_name(&names, Some(99), "gone"), "gone");
    }
}
