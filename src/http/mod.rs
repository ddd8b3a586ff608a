//! HTTP plumbing shared by every route: problem+json for extractor failures and unknown
//! routes, panic containment, request ids and request metrics, health endpoints, the
//! OpenAPI document.

pub mod health;
pub mod middleware;
pub mod openapi;

use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

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

/// A path segment that does not parse names no resource (404) — unless the path is
/// another route's literal one asked with the wrong method (`GET /redemptions/quote`
/// reaches `GET /redemptions/{id}`): that is a 405.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, req| {
        let matched = req.match_pattern();
        if let Some(allowed) = allowed_methods(req.path(), matched.as_deref()) {
            let res = method_not_allowed(req, &allowed);
            return actix_web::error::InternalError::from_response(err, res).into();
        }
        ApiError::not_found(format!("No such resource: {err}")).into()
    })
}

/// Unknown routes get a problem+json 404; a known path asked with a method it does not
/// have gets 405 with `Allow` (RFC 9110 §15.5.6). Each handler is its own actix resource
/// guarded by its method, so actix itself only ever sees "no route" here.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(allowed) = allowed_methods(req.path(), None) {
        return Ok(method_not_allowed(&req, &allowed));
    }
    Err(ApiError::not_found(format!(
        "There is no {} {}.",
        req.method(),
        req.path()
    )))
}

fn method_not_allowed(req: &HttpRequest, allowed: &[&str]) -> HttpResponse {
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}; use {}.",
            req.method(),
            req.path(),
            allowed.join(", ")
        ),
    )
    .error_response();
    if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// The methods the OpenAPI document lists for the path templates `path` matches
/// (`/talents/lookup` matches `/talents/{id}` too), leaving out the template `except`;
/// `None` when it matches none.
fn allowed_methods(path: &str, except: Option<&str>) -> Option<Vec<&'static str>> {
    static ROUTES: OnceLock<Vec<(ResourceDef, Vec<String>)>> = OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let api = crate::startup::openapi_document();
        let mut routes: Vec<(ResourceDef, Vec<String>)> = api
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(m, _)| m.to_owned())
                .collect();
                (ResourceDef::new(template.as_str()), methods)
            })
            .collect();
        routes.push((
            ResourceDef::new("/api/v1/openapi.json"),
            vec!["GET".to_owned()],
        ));
        routes
    });
    let mut allowed: Vec<&'static str> = routes
        .iter()
        .filter(|(def, _)| def.is_match(path) && Some(def.pattern().unwrap_or("")) != except)
        .flat_map(|(_, methods)| methods.iter().map(String::as_str))
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    (!allowed.is_empty()).then_some(allowed)
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
            // No body, or JSON `null`, both mean "nothing sent".
            if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
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
