//! Anomaly control on subsidy money (DESIGN §8): ten named rules scan a period's
//! redemptions ([`rules`], thresholds in [`thresholds`]); every hit becomes a flag in a
//! review queue ([`scan`]); an open high flag holds its redemptions out of settlement
//! until an official clears or confirms it ([`review`]). [`routes`] is the HTTP side.

pub mod review;
pub mod routes;
pub mod rules;
pub mod scan;
pub mod thresholds;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{anomaly_flag_redemptions, anomaly_flags, merchants};

/// The rules, by their stable ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    RapidRepeat,
    CashierBurst,
    MinSpendBunching,
    RoundBills,
    PeerOutlier,
    StaffRedemption,
    ReversalRatio,
    CardVelocity,
    OffHours,
    ReissueChurn,
}

impl Rule {
    pub const ALL: [Rule; 10] = [
        Rule::RapidRepeat,
        Rule::CashierBurst,
        Rule::MinSpendBunching,
        Rule::RoundBills,
        Rule::PeerOutlier,
        Rule::StaffRedemption,
        Rule::ReversalRatio,
        Rule::CardVelocity,
        Rule::OffHours,
        Rule::ReissueChurn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::RapidRepeat => "rapid_repeat",
            Rule::CashierBurst => "cashier_burst",
            Rule::MinSpendBunching => "min_spend_bunching",
            Rule::RoundBills => "round_bills",
            Rule::PeerOutlier => "peer_outlier",
            Rule::StaffRedemption => "staff_redemption",
            Rule::ReversalRatio => "reversal_ratio",
            Rule::CardVelocity => "card_velocity",
            Rule::OffHours => "off_hours",
            Rule::ReissueChurn => "reissue_churn",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagStatus {
    Open,
    Cleared,
    Confirmed,
}

impl FlagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagStatus::Open => "open",
            FlagStatus::Cleared => "cleared",
            FlagStatus::Confirmed => "confirmed",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = anomaly_flags)]
pub struct Flag {
    pub id: i64,
    pub rule: String,
    pub severity: String,
    pub period: String,
    pub subject: String,
    pub merchant_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub card_id: Option<i64>,
    pub evidence: String,
    pub status: String,
    pub response: Option<String>,
    pub responded_at: Option<NaiveDateTime>,
    pub note: Option<String>,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MerchantRef {
    pub id: i64,
    pub name: String,
}

/// A flag as the review queue shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlagView {
    pub id: i64,
    pub rule: String,
    pub severity: String,
    pub period: String,
    pub merchant: Option<MerchantRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<i64>,
    /// The staff account by name (display name, else login).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_no: Option<String>,
    /// The card's holder, masked like a receipt (`王*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_holder: Option<String>,
    /// Exactly the redemptions the flag covers.
    pub redemption_ids: Vec<i64>,
    /// The numbers behind the hit (per rule; see DESIGN §8).
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    pub status: String,
    pub response: Option<String>,
    pub note: Option<String>,
    pub resolved_by: Option<i64>,
    /// The administrator who decided, by name.
    pub resolved_by_name: Option<String>,
    #[serde(serialize_with = "crate::time::rfc3339_local::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, id: i64) -> ApiResult<Flag> {
    anomaly_flags::table
        .find(id)
        .select(Flag::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("No anomaly flag {id}.")))
}

pub fn redemption_ids(conn: &mut DbConnection, flag_id: i64) -> ApiResult<Vec<i64>> {
    Ok(anomaly_flag_redemptions::table
        .filter(anomaly_flag_redemptions::flag_id.eq(flag_id))
        .select(anomaly_flag_redemptions::redemption_id)
        .order(anomaly_flag_redemptions::redemption_id)
        .load(conn)?)
}

pub fn view(conn: &mut DbConnection, f: &Flag) -> ApiResult<FlagView> {
    let mut one = views(conn, std::slice::from_ref(f))?;
    one.pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("flag {} has no view", f.id)))
}

/// Views of many flags in four queries (merchant names, card numbers and holders,
/// covered redemptions, staff and deciders' names), not four per flag: the queue lists
/// up to 200 at a time.
pub fn views(conn: &mut DbConnection, flags: &[Flag]) -> ApiResult<Vec<FlagView>> {
    use std::collections::BTreeMap;

    use crate::schema::cards;
    let merchant_ids: Vec<i64> = flags.iter().filter_map(|f| f.merchant_id).collect();
    let names: BTreeMap<i64, String> = merchants::table
        .filter(merchants::id.eq_any(&merchant_ids))
        .select((merchants::id, merchants::name))
        .load(conn)?
        .into_iter()
        .collect();
    let card_ids: Vec<i64> = flags.iter().filter_map(|f| f.card_id).collect();
    let card_nos: BTreeMap<i64, (String, String)> = cards::table
        .inner_join(crate::schema::talents::table)
        .filter(cards::id.eq_any(&card_ids))
        .select((cards::id, cards::card_no, crate::schema::talents::name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, no, holder)| (id, (no, crate::talents::mask_name(&holder))))
        .collect();
    let people: Vec<i64> = flags
        .iter()
        .flat_map(|f| f.staff_id.into_iter().chain(f.resolved_by))
        .collect();
    let people_names = crate::audit::labels::user_names(conn, &people)?;
    let flag_ids: Vec<i64> = flags.iter().map(|f| f.id).collect();
    let mut covered: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let pairs: Vec<(i64, i64)> = anomaly_flag_redemptions::table
        .filter(anomaly_flag_redemptions::flag_id.eq_any(&flag_ids))
        .select((
            anomaly_flag_redemptions::flag_id,
            anomaly_flag_redemptions::redemption_id,
        ))
        .order((
            anomaly_flag_redemptions::flag_id,
            anomaly_flag_redemptions::redemption_id,
        ))
        .load(conn)?;
    for (flag, redemption) in pairs {
        covered.entry(flag).or_default().push(redemption);
    }
    Ok(flags
        .iter()
        .map(|f| FlagView {
            id: f.id,
            rule: f.rule.clone(),
            severity: f.severity.clone(),
            period: f.period.clone(),
            merchant: f.merchant_id.and_then(|id| {
                names.get(&id).map(|name| MerchantRef {
                    id,
                    name: name.clone(),
                })
            }),
            staff_id: f.staff_id,
            staff_name: f.staff_id.and_then(|id| people_names.get(&id).cloned()),
            card_no: f
                .card_id
                .and_then(|id| card_nos.get(&id).map(|c| c.0.clone())),
            card_holder: f
                .card_id
                .and_then(|id| card_nos.get(&id).map(|c| c.1.clone())),
            redemption_ids: covered.remove(&f.id).unwrap_or_default(),
            evidence: serde_json::from_str(&f.evidence).unwrap_or(serde_json::Value::Null),
            status: f.status.clone(),
            response: f.response.clone(),
            note: f.note.clone(),
            resolved_by: f.resolved_by,
            resolved_by_name: f.resolved_by.and_then(|id| people_names.get(&id).cloned()),
            resolved_at: f.resolved_at,
            created_at: f.created_at,
            updated_at: f.updated_at,
        })
        .collect())
}
