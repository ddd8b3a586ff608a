//! Redemptions as clients see them: the talent only by masked name, the card number
//! masked for merchants.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Redemption;
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::{cards as cards_table, talents};

/// A redemption as clients see it: the talent only by masked name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedemptionView {
    pub id: i64,
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub paid_fen: i64,
    pub subsidy_fen: i64,
    pub status: String,
    pub disputed: bool,
    pub offer: Named,
    pub merchant: Named,
    pub talent: MaskedTalent,
    pub card_no: String,
    pub tier: String,
    pub category: String,
    pub district: String,
    pub cashier_id: i64,
    /// Made with the printed card and its PIN rather than a rolling code.
    pub by_pin: bool,
    /// Made with a family card (附属卡), by a talent's family member.
    #[serde(default)]
    pub family_card: bool,
    /// The staff account that scanned it, by name (lists; not on the counter's receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier_name: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MaskedTalent {
    pub masked_name: String,
}

/// Views for a page of redemptions: names and card numbers fetched in three queries,
/// not one per row.
pub fn views(
    conn: &mut DbConnection,
    rows: &[Redemption],
    mask_card: bool,
) -> ApiResult<Vec<RedemptionView>> {
    use std::collections::HashMap;
    let ids = |f: fn(&Redemption) -> i64| rows.iter().map(f).collect::<Vec<_>>();
    let merchant_names: HashMap<i64, String> = crate::schema::merchants::table
        .filter(crate::schema::merchants::id.eq_any(ids(|r| r.merchant_id)))
        .select((crate::schema::merchants::id, crate::schema::merchants::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let offer_titles: HashMap<i64, String> = crate::schema::offers::table
        .filter(crate::schema::offers::id.eq_any(ids(|r| r.offer_id)))
        .select((crate::schema::offers::id, crate::schema::offers::title))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let talents_cards: HashMap<i64, (String, String, bool)> = cards_table::table
        .inner_join(talents::table)
        .filter(cards_table::id.eq_any(ids(|r| r.card_id)))
        .select((
            cards_table::id,
            cards_table::card_no,
            talents::name,
            cards_table::principal_card_id.is_not_null(),
        ))
        .load::<(i64, String, String, bool)>(conn)?
        .into_iter()
        .map(|(id, no, name, family)| (id, (no, name, family)))
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            let (card_no, name, family) =
                talents_cards.get(&r.card_id).cloned().unwrap_or_default();
            let merchant = merchant_names
                .get(&r.merchant_id)
                .map_or("", String::as_str);
            let offer = offer_titles.get(&r.offer_id).map_or("", String::as_str);
            let mut view = view(r, merchant, offer, &card_no, &name, mask_card);
            view.family_card = family;
            view
        })
        .collect())
}

/// Adds the cashier's name to each view, in one query: for officials and the merchant's
/// own staff (a talent's history does not name the shop's staff accounts).
pub fn name_cashiers(conn: &mut DbConnection, views: &mut [RedemptionView]) -> ApiResult<()> {
    let ids: Vec<i64> = views.iter().map(|v| v.cashier_id).collect();
    let names = crate::audit::labels::user_names(conn, &ids)?;
    for v in views {
        v.cashier_name = names.get(&v.cashier_id).cloned();
    }
    Ok(())
}

/// One redemption as clients see it, from names already at hand.
pub fn view(
    r: &Redemption,
    merchant: &str,
    offer: &str,
    card_no: &str,
    talent_name: &str,
    mask_card: bool,
) -> RedemptionView {
    RedemptionView {
        id: r.id,
        bill_fen: r.bill_fen,
        discount_fen: r.discount_fen,
        paid_fen: r.paid_fen,
        subsidy_fen: r.subsidy_fen,
        status: r.status.clone(),
        disputed: r.disputed,
        offer: Named {
            id: r.offer_id,
            name: offer.to_owned(),
        },
        merchant: Named {
            id: r.merchant_id,
            name: merchant.to_owned(),
        },
        talent: MaskedTalent {
            masked_name: crate::talents::domain::mask_name(talent_name),
        },
        card_no: if mask_card {
            mask_card_no(card_no)
        } else {
            card_no.to_owned()
        },
        tier: r.tier.clone(),
        category: r.category.clone(),
        district: r.district.clone(),
        cashier_id: r.cashier_id,
        by_pin: r.by_pin(),
        family_card: false,
        cashier_name: None,
        created_at: crate::time::to_local(r.created_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    }
}

/// Merchants see only the last four digits of a card number.
pub fn mask_card_no(card_no: &str) -> String {
    let keep = card_no.len().saturating_sub(4);
    format!("{}{}", "*".repeat(keep), &card_no[keep..])
}
