//! Liveness, readiness and metrics — outside `/api/v1`, no login.

use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

/// The process is up.
#[utoipa::path(tag = "ops", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The process can serve: the database answers.
#[utoipa::path(tag = "ops", responses((status = 200, description = "ready"), (status = 503, body = crate::error::Problem)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, crate::error::ApiError> {
    state.db.ping().await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"status": "ready", "database": state.db.backend().to_string()})))
}

/// Prometheus text exposition.
#[utoipa::path(tag = "ops", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // The review queue lives in the database; without it the other metrics still serve.
    match state.read_reports(crate::metrics::open_anomaly_flags).await {
        Ok(counts) => {
            let gauge = &state.metrics.anomaly_flags_open;
            gauge.reset();
            for (rule, severity, n) in counts {
                gauge.with_label_values(&[&rule, &severity]).set(n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "open anomaly flags not counted for /metrics"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
