//! The rules' thresholds, in one place. The defaults are DESIGN §8's (what tests use); a
//! deployment changes them with a proposal a second admin approves (DESIGN §13), kept as
//! one JSON row in `anomaly_settings` naming only what differs from the defaults.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::anomaly_settings;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// `rapid_repeat`: one card at one merchant this many times within the window…
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub rapid_repeat_count: i64,
    /// …and high from this many.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub rapid_repeat_high_count: i64,
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub rapid_repeat_window_secs: i64,
    /// `cashier_burst`: distinct cards by one staff account within the window.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub cashier_burst_cards: i64,
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub cashier_burst_window_secs: i64,
    /// `min_spend_bunching`: a merchant with at least this many redemptions on offers
    /// with a minimum spend…
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub bunching_min_redemptions: i64,
    /// …of which this share (basis points) have a bill within `bunching_band_bp` above
    /// the minimum; high from `bunching_high_share_bp`.
    #[schema(minimum = 0, maximum = 10_000)]
    pub bunching_share_bp: i64,
    #[schema(minimum = 0, maximum = 10_000)]
    pub bunching_high_share_bp: i64,
    #[schema(minimum = 0, maximum = 10_000)]
    pub bunching_band_bp: i64,
    /// `round_bills`: a merchant with at least this many redemptions, this share of
    /// bills whole multiples of `round_bill_unit_fen`.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub round_min_redemptions: i64,
    #[schema(minimum = 0, maximum = 10_000)]
    pub round_share_bp: i64,
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub round_bill_unit_fen: i64,
    /// `peer_outlier`: subsidy above this multiple of the category median (with at least
    /// `peer_min_peers` other merchants) and above `peer_min_subsidy_fen`.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub peer_multiple: i64,
    #[schema(minimum = 0, maximum = 100_000_000_000_000_i64)]
    pub peer_min_peers: i64,
    #[schema(minimum = 0, maximum = 100_000_000_000_000_i64)]
    pub peer_min_subsidy_fen: i64,
    /// `reversal_ratio`: a staff account with at least this many redemptions, this share
    /// of them reversed.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub reversal_min_redemptions: i64,
    #[schema(minimum = 0, maximum = 10_000)]
    pub reversal_share_bp: i64,
    /// `card_velocity`: one card in two districts within this many seconds.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub velocity_window_secs: i64,
    /// `off_hours`: local hours [start, end).
    #[schema(minimum = 0, maximum = 24)]
    pub off_hours_start_hour: i64,
    #[schema(minimum = 0, maximum = 24)]
    pub off_hours_end_hour: i64,
    /// `reissue_churn`: this many reissues of a talent's card within `reissue_months`.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub reissue_count: i64,
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub reissue_months: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            rapid_repeat_count: 2,
            rapid_repeat_high_count: 3,
            rapid_repeat_window_secs: 30 * 60,
            cashier_burst_cards: 10,
            cashier_burst_window_secs: 5 * 60,
            bunching_min_redemptions: 10,
            bunching_share_bp: 5_000,
            bunching_high_share_bp: 8_000,
            bunching_band_bp: 500,
            round_min_redemptions: 20,
            round_share_bp: 8_000,
            round_bill_unit_fen: 1_000,
            peer_multiple: 5,
            peer_min_peers: 3,
            peer_min_subsidy_fen: 100_000,
            reversal_min_redemptions: 10,
            reversal_share_bp: 3_000,
            velocity_window_secs: 10 * 60,
            off_hours_start_hour: 0,
            off_hours_end_hour: 5,
            reissue_count: 3,
            reissue_months: 12,
        }
    }
}

/// The thresholds in force: the stored ones, or the defaults.
pub fn current(conn: &mut DbConnection) -> ApiResult<Thresholds> {
    let stored: Option<String> = anomaly_settings::table
        .find(1)
        .select(anomaly_settings::thresholds)
        .first(conn)
        .optional()?;
    match stored {
        None => Ok(Thresholds::default()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("stored anomaly thresholds: {e}"))),
    }
}

/// Stores new thresholds (an approved proposal).
pub fn store(conn: &mut DbConnection, t: &Thresholds, now: chrono::NaiveDateTime) -> ApiResult<()> {
    let json = serde_json::to_string(t).map_err(ApiError::internal)?;
    let updated = diesel::update(anomaly_settings::table.find(1))
        .set((
            anomaly_settings::thresholds.eq(&json),
            anomaly_settings::updated_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(anomaly_settings::table)
            .values((
                anomaly_settings::id.eq(1),
                anomaly_settings::thresholds.eq(&json),
                anomaly_settings::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

impl Thresholds {
    /// Thresholds as a client sends them: partial JSON over the defaults.
    pub fn from_json(raw: &str) -> anyhow::Result<Self> {
        let t: Thresholds =
            serde_json::from_str(raw).map_err(|e| anyhow::anyhow!("thresholds: {e}"))?;
        t.check()?;
        Ok(t)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        let positive = [
            self.rapid_repeat_count,
            self.rapid_repeat_high_count,
            self.rapid_repeat_window_secs,
            self.cashier_burst_cards,
            self.cashier_burst_window_secs,
            self.bunching_min_redemptions,
            self.round_min_redemptions,
            self.round_bill_unit_fen,
            self.peer_multiple,
            self.reversal_min_redemptions,
            self.velocity_window_secs,
            self.reissue_count,
            self.reissue_months,
        ];
        anyhow::ensure!(
            positive.iter().all(|v| (1..=1_000_000_000).contains(v)),
            "counts, windows, months and units must be between 1 and 1000000000"
        );
        let shares = [
            self.bunching_share_bp,
            self.bunching_high_share_bp,
            self.bunching_band_bp,
            self.round_share_bp,
            self.reversal_share_bp,
        ];
        anyhow::ensure!(
            shares.iter().all(|v| (0..=10_000).contains(v)),
            "shares are basis points between 0 and 10000"
        );
        anyhow::ensure!(
            (0..=100_000_000_000_000).contains(&self.peer_min_peers)
                && (0..=100_000_000_000_000).contains(&self.peer_min_subsidy_fen),
            "peer_min_peers and peer_min_subsidy_fen must not be negative"
        );
        anyhow::ensure!(
            (0..=24).contains(&self.off_hours_start_hour)
                && (0..=24).contains(&self.off_hours_end_hour),
            "off-hours are hours 0–24"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_names_only_what_differs() {
        let t = Thresholds::from_json(r#"{"off_hours_end_hour": 6}"#).unwrap();
        assert_eq!(t.off_hours_end_hour, 6);
        assert_eq!(t.rapid_repeat_window_secs, 1800);
        assert!(Thresholds::from_json(r#"{"cashier_burst_cards": 0}"#).is_err());
        assert!(Thresholds::from_json(r#"{"no_such_threshold": 1}"#).is_err());
    }
}
