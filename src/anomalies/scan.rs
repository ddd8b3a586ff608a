//! Turning the rules' hits into flags, idempotently: a flag is identified by (rule,
//! subject, period). Scanning again refreshes an open flag's evidence and redemptions,
//! never duplicates it and never reopens a resolved one; redemptions a resolved flag did
//! not cover that match again raise a new flag.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::rules::{self, Hit};
use super::{Flag, thresholds};
use crate::audit;
use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{anomaly_flag_redemptions, anomaly_flags};
use crate::talents::PiiVault;
use crate::time::Period;

/// What a scan did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ScanReport {
    pub period: String,
    /// Flags raised by this scan.
    pub raised: usize,
    /// Open flags whose evidence this scan refreshed.
    pub refreshed: usize,
    /// Hits entirely covered by flags already resolved: nothing new to review.
    pub already_resolved: usize,
    /// Open flags of the period after the scan, by rule.
    #[schema(value_type = Object)]
    pub open_by_rule: std::collections::BTreeMap<String, i64>,
}

/// Scans `period`: every rule, then the flags. One scan at a time (job lock); run
/// inside a write transaction.
pub fn scan(
    conn: &mut DbConnection,
    vault: &PiiVault,
    actor: &Actor,
    period: &Period,
    now: NaiveDateTime,
) -> ApiResult<ScanReport> {
    crate::db::job_lock(conn, "anomalies.scan")?;
    let t = thresholds::current(conn)?;
    let hits = rules::all(conn, period, &t, vault)?;
    let mut report = ScanReport {
        period: period.as_str().to_owned(),
        ..ScanReport::default()
    };
    for hit in &hits {
        match apply(conn, period, hit, now)? {
            Applied::Raised(id) => {
                report.raised += 1;
                audit::record(
                    conn,
                    actor,
                    "anomaly.raise",
                    "anomaly_flag",
                    id,
                    None::<&()>,
                    Some(&serde_json::json!({
                        "rule": hit.rule,
                        "severity": hit.severity,
                        "subject": hit.subject,
                        "redemptions": hit.redemption_ids.len(),
                    })),
                )?;
            }
            Applied::Refreshed => report.refreshed += 1,
            Applied::AlreadyResolved => report.already_resolved += 1,
        }
    }
    let open: Vec<(String, i64)> = anomaly_flags::table
        .filter(anomaly_flags::period.eq(period.as_str()))
        .filter(anomaly_flags::status.eq("open"))
        .group_by(anomaly_flags::rule)
        .select((anomaly_flags::rule, diesel::dsl::count_star()))
        .load(conn)?;
    report.open_by_rule = open.into_iter().collect();
    Ok(report)
}

enum Applied {
    Raised(i64),
    Refreshed,
    AlreadyResolved,
}

fn apply(
    conn: &mut DbConnection,
    period: &Period,
    hit: &Hit,
    now: NaiveDateTime,
) -> ApiResult<Applied> {
    let same = anomaly_flags::table
        .filter(anomaly_flags::rule.eq(hit.rule.as_str()))
        .filter(anomaly_flags::subject.eq(&hit.subject))
        .filter(anomaly_flags::period.eq(period.as_str()));
    let flags: Vec<Flag> = same.select(Flag::as_select()).load(conn)?;
    let resolved: Vec<i64> = flags
        .iter()
        .filter(|f| f.status != "open")
        .map(|f| f.id)
        .collect();
    let covered: BTreeSet<i64> = anomaly_flag_redemptions::table
        .filter(anomaly_flag_redemptions::flag_id.eq_any(&resolved))
        .select(anomaly_flag_redemptions::redemption_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let fresh: Vec<i64> = hit
        .redemption_ids
        .iter()
        .copied()
        .filter(|id| !covered.contains(id))
        .collect();
    let evidence = serde_json::to_string(&hit.evidence).map_err(ApiError::internal)?;
    if let Some(open) = flags.iter().find(|f| f.status == "open") {
        diesel::update(anomaly_flags::table.find(open.id))
            .set((
                anomaly_flags::evidence.eq(&evidence),
                anomaly_flags::severity.eq(hit.severity.as_str()),
                anomaly_flags::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::delete(
            anomaly_flag_redemptions::table.filter(anomaly_flag_redemptions::flag_id.eq(open.id)),
        )
        .execute(conn)?;
        cover(conn, open.id, &fresh)?;
        return Ok(Applied::Refreshed);
    }
    // A resolved flag stays resolved: only what it did not cover can raise a new one.
    if !resolved.is_empty() && fresh.is_empty() {
        return Ok(Applied::AlreadyResolved);
    }
    diesel::insert_into(anomaly_flags::table)
        .values((
            anomaly_flags::rule.eq(hit.rule.as_str()),
            anomaly_flags::severity.eq(hit.severity.as_str()),
            anomaly_flags::period.eq(period.as_str()),
            anomaly_flags::subject.eq(&hit.subject),
            anomaly_flags::merchant_id.eq(hit.merchant_id),
            anomaly_flags::staff_id.eq(hit.staff_id),
            anomaly_flags::card_id.eq(hit.card_id),
            anomaly_flags::evidence.eq(&evidence),
            anomaly_flags::status.eq("open"),
            anomaly_flags::created_at.eq(now),
            anomaly_flags::updated_at.eq(now),
        ))
        .execute(conn)?;
    // Insert-then-select: the multi-backend connection cannot return from INSERT. The
    // open flag of (rule, subject, period) is unique.
    let id: i64 = same
        .filter(anomaly_flags::status.eq("open"))
        .select(anomaly_flags::id)
        .first(conn)?;
    cover(conn, id, &fresh)?;
    Ok(Applied::Raised(id))
}

/// Links a flag to its redemptions, many rows per statement.
fn cover(conn: &mut DbConnection, flag_id: i64, redemption_ids: &[i64]) -> ApiResult<()> {
    for chunk in redemption_ids.chunks(500) {
        // Integers only: safe to write into the statement.
        let values: Vec<String> = chunk.iter().map(|r| format!("({flag_id}, {r})")).collect();
        diesel::sql_query(format!(
            "INSERT INTO anomaly_flag_redemptions (flag_id, redemption_id) VALUES {}",
            values.join(", ")
        ))
        .execute(conn)?;
    }
    Ok(())
}
