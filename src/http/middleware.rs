//! Request-level middleware: request id header, metrics, containment of panics, the
//! API's security headers and the CSRF check of cookie-authenticated writes.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::FutureExt;
use tracing_actix_web::RequestId;

use crate::auth::principal::{SESSION_COOKIE, bearer_token};
use crate::auth::session::REFRESH_COOKIE;
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

/// The API's answers are personal and live (codes, bank accounts): never cached, never
/// sniffed into another type. Set on every `/api/` answer, errors included — also those
/// that reach here as errors rather than responses (a contained panic).
pub async fn api_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !req.path().starts_with("/api/") {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    match next.call(req).await {
        Ok(mut res) => {
            add_api_headers(res.headers_mut());
            Ok(res.map_into_boxed_body())
        }
        Err(e) => Err(WithApiHeaders(e).into()),
    }
}

fn add_api_headers(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// An error on its way out of an `/api/` request, rendered with the API's headers.
#[derive(Debug)]
struct WithApiHeaders(actix_web::Error);

impl std::fmt::Display for WithApiHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for WithApiHeaders {
    fn status_code(&self) -> StatusCode {
        self.0.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = self.0.error_response();
        add_api_headers(res.headers_mut());
        res
    }
}

/// Refuses a cookie-authenticated write that a browser says comes from another site
/// (DESIGN §4). `SameSite=Strict` already keeps the cookie off most cross-site requests;
/// this holds where it does not (older browsers, a sibling subdomain being same-site).
/// Bearer clients and requests without a session cookie are not affected: a foreign
/// page can make a browser send cookies, never an `Authorization` header.
pub async fn csrf(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(detail) = cross_site_cookie_write(req.request()) {
        let (req, _) = req.into_parts();
        let refusal = ApiError::new(StatusCode::FORBIDDEN, "csrf", detail);
        return Ok(ServiceResponse::new(req, refusal.error_response()));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Why the request is a cross-site cookie write, if it is one.
fn cross_site_cookie_write(req: &HttpRequest) -> Option<String> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let headers = req.headers();
    let has_session_cookie =
        req.cookie(SESSION_COOKIE).is_some() || req.cookie(REFRESH_COOKIE).is_some();
    if bearer_token(req).is_some() || !has_session_cookie {
        return None;
    }
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if let Some(site @ ("cross-site" | "same-site")) = fetch_site.as_deref() {
        return Some(format!(
            "A signed-in write from another site is refused (Sec-Fetch-Site: {site})."
        ));
    }
    let origin = headers.get(header::ORIGIN);
    if let Some(origin) = origin {
        let origin = origin.to_str().unwrap_or("");
        let info = req.connection_info();
        let ours = format!("{}://{}", info.scheme(), info.host());
        if !origin.eq_ignore_ascii_case(&ours) {
            return Some(format!(
                "A signed-in write from another site is refused (Origin {origin:?} is not {ours:?})."
            ));
        }
    }
    // Neither header (an old browser, or not a browser): only a JSON body, which a
    // cross-site form cannot send without a CORS preflight that this server never grants.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if fetch_site.is_none() && origin.is_none() && !json {
        return Some(
            "A signed-in write without Origin or Sec-Fetch-Site must be sent as application/json."
                .to_owned(),
        );
    }
    None
}
