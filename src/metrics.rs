//! Prometheus metrics, served at `GET /metrics`.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Codes with a wrong signature (forged, or stale beyond aliasing), in this process: the
/// forgery alarm. Process-wide because the code guard runs below the handlers, where
/// only the connection is at hand.
pub static CODE_FORGERY_SUSPECTED: LazyLock<IntCounter> = LazyLock::new(|| {
    IntCounter::new(
        "code_forgery_suspected_total",
        "Codes refused for a wrong signature (forgery guesses)",
    )
    .expect("valid metric")
});

/// Code checks refused by the guessing limits, by `scope` (`account`, `merchant`).
pub static CODE_GUESS_REFUSALS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "code_guess_refusals_total",
            "Code checks refused by the forged-code guessing limits",
        ),
        &["scope"],
    )
    .expect("valid metric")
});

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// Redemptions made, by merchant category.
    pub redemptions: IntCounterVec,
    /// Refused redemptions and quotes, by problem code.
    pub refusals: IntCounterVec,
    /// Redemptions made, by how: `quoted` (the one statement a quote prepared),
    /// `quoted_then_transaction` (that statement found something moved), `transaction`.
    pub redemption_paths: IntCounterVec,
    /// Passwords checked at login (each an argon2 verification): what the login throttle
    /// bounds, so a storm of wrong passwords shows here.
    pub login_password_checks: IntCounter,
    /// Open anomaly flags by rule and severity, read from the database at each scrape
    /// (every instance reports the same numbers: alert on max, not sum).
    pub anomaly_flags_open: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("talentcard".into()), None).expect("valid prefix");
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let redemptions = IntCounterVec::new(
            Opts::new("redemptions_total", "Redemptions made"),
            &["category"],
        )
        .expect("valid metric");
        let refusals = IntCounterVec::new(
            Opts::new(
                "redemption_refusals_total",
                "Quotes and redemptions refused, by problem code",
            ),
            &["code"],
        )
        .expect("valid metric");
        let redemption_paths = IntCounterVec::new(
            Opts::new(
                "redemption_paths_total",
                "Redemptions made, by path: quoted, quoted_then_transaction, transaction",
            ),
            &["path"],
        )
        .expect("valid metric");
        let login_password_checks = IntCounter::new(
            "login_password_checks_total",
            "Passwords verified at login (argon2 checks)",
        )
        .expect("valid metric");
        let anomaly_flags_open = IntGaugeVec::new(
            Opts::new(
                "anomaly_flags_open",
                "Open anomaly flags by rule and severity (the review queue)",
            ),
            &["rule", "severity"],
        )
        .expect("valid metric");
        for m in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(redemptions.clone()),
            Box::new(refusals.clone()),
            Box::new(redemption_paths.clone()),
            Box::new(login_password_checks.clone()),
            Box::new(anomaly_flags_open.clone()),
            Box::new(CODE_FORGERY_SUSPECTED.clone()),
            Box::new(CODE_GUESS_REFUSALS.clone()),
        ] {
            registry.register(m).expect("metric registered once");
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            redemptions,
            refusals,
            redemption_paths,
            login_password_checks,
            anomaly_flags_open,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Open anomaly flags by rule and severity, read from the flag table for
/// [`Metrics::anomaly_flags_open`].
pub fn open_anomaly_flags(
    conn: &mut crate::db::DbConnection,
) -> crate::error::ApiResult<Vec<(String, String, i64)>> {
    use crate::schema::anomaly_flags;
    use diesel::prelude::*;
    Ok(anomaly_flags::table
        .filter(anomaly_flags::status.eq("open"))
        .group_by((anomaly_flags::rule, anomaly_flags::severity))
        .select((
            anomaly_flags::rule,
            anomaly_flags::severity,
            diesel::dsl::count_star(),
        ))
        .load(conn)?)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
