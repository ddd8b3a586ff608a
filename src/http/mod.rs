//! HTTP plumbing shared by every route: problem+json for extractor failures and unknown
//! routes, panic containment, request ids and request metrics, health endpoints, the
//! OpenAPI document.

pub mod health;
pub mod middleware;
pub mod openapi;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

/// Bad JSON is a 400, a well-formed body with wrong or unknown fields a 422, an oversized
/// one a 413 — always problem+json.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let problem = match &err {
                JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("The request body has {length} bytes; at most {limit} are accepted."),
                ),
                JsonPayloadError::Overflow { limit } => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("The request body is larger than {limit} bytes."),
                ),
                JsonPayloadError::ContentType => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as JSON with Content-Type: application/json.",
                ),
                JsonPayloadError::Deserialize(e) if e.is_data() => {
                    ApiError::validation(format!("Invalid request body: {e}"))
                }
                JsonPayloadError::Deserialize(e) => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("The request body is not valid JSON: {e}"),
                ),
                other => {
                    ApiError::bad_request(format!("The request body could not be read: {other}"))
                }
            };
            problem.into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        ApiError::validation(format!("Invalid query parameters: {err}")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        ApiError::not_found(format!("No such resource: {err}")).into()
    })
}

/// Unknown routes under the API get a problem+json 404 (or 405 for a known path).
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "There is no {} {}.",
        req.method(),
        req.path()
    )))
}
