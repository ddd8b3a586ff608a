//! HTTP plumbing shared by every route: problem+json for extractor failures and unknown
//! routes, panic containment, request ids and request metrics, health endpoints, the
//! OpenAPI document.

pub mod client;
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

/// A JSON body that may be left out (e.g. `{reason}` on steps where it is optional).
///
/// `Option<web::Json<T>>` would turn *any* body error into `None`, silently ignoring a
/// malformed or misspelled body; here only an empty body is `None`, and a bad one is the
/// same 400/422 problem as everywhere else.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|e| {
                ApiError::new(
                    e.as_response_error().status_code(),
                    "bad_request",
                    e.to_string(),
                )
            })?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            serde_json::from_slice(&bytes)
                .map(|v| OptionalJson(Some(v)))
                .map_err(|e| {
                    if e.is_data() {
                        ApiError::validation(format!("Invalid request body: {e}"))
                    } else {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "malformed_json",
                            format!("The request body is not valid JSON: {e}"),
                        )
                    }
                })
        })
    }
}
