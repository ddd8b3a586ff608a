//! Request-level middleware: request id header, metrics, and containment of panics.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::FutureExt;
use tracing_actix_web::RequestId;

use crate::error::ApiError;
use crate::state::AppState;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A panic in a handler becomes a logged 500 problem instead of a dropped connection.
pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // No clone of the request here: actix needs it unshared while routing.
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res.map(ServiceResponse::map_into_boxed_body),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            // An error returned from middleware is rendered with its `error_response()`.
            Err(ApiError::internal(anyhow::anyhow!("handler panicked: {what}")).into())
        }
    }
}

/// Counts and times every request by route pattern (not raw path: ids would explode the
/// label set), and echoes the request id so clients can quote it.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    if let Some(state) = state {
        let status = res.status().as_u16().to_string();
        state
            .metrics
            .http_requests
            .with_label_values(&[&method, &route, &status])
            .inc();
        state
            .metrics
            .http_duration
            .with_label_values(&[&method, &route])
            .observe(started.elapsed().as_secs_f64());
    }
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(REQUEST_ID.clone(), id);
    }
    Ok(res)
}

/// Errors that actix answers by itself (405 on a known path, 404 for a missing asset…)
/// come without a body; give them the same problem+json every other error has.
pub async fn problem_for_bare_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let has_type = res
        .headers()
        .contains_key(actix_web::http::header::CONTENT_TYPE);
    if !status.is_client_error() && !status.is_server_error() || has_type {
        return Ok(res);
    }
    let (code, detail) = match status.as_u16() {
        404 => ("not_found", "There is no such resource.".to_owned()),
        405 => (
            "method_not_allowed",
            format!(
                "{} is not allowed on {}.",
                res.request().method(),
                res.request().path()
            ),
        ),
        413 => (
            "payload_too_large",
            "The request body is too large.".to_owned(),
        ),
        s if s >= 500 => (
            "internal",
            "An unexpected error occurred; it has been logged.".to_owned(),
        ),
        _ => (
            "bad_request",
            status
                .canonical_reason()
                .unwrap_or("Bad request")
                .to_owned(),
        ),
    };
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(
        req,
        ApiError::new(status, code, detail).error_response(),
    ))
}
