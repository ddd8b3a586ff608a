//! HTTP plumbing shared by every route: problem+json for extractor failures and unknown
//! routes, panic containment, request ids and request metrics, health endpoints, the
//! OpenAPI document.

pub mod client;
pub mod health;
pub mod middleware;
pub mod openapi;

use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

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

/// A JSON request body, like `web::Json`, whose 422 names the field at fault.
///
/// Reading, size limits, the content type and JSON syntax are left to `web::Json` (so
/// `json_config` and any per-route `JsonConfig` still answer 400/413/415); only the
/// mapping onto `T` is done here, through `serde_path_to_error`, because serde's own
/// errors do not say which field a refused value was in.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let raw = web::Json::<Box<serde_json::value::RawValue>>::from_request(req, payload);
        Box::pin(async move {
            let raw = raw.await?;
            Ok(Json(body_from_str(raw.get())?))
        })
    }
}

/// Parses a JSON body read by hand: 400 `malformed_json` for bad JSON, 422 naming the
/// field for a value `T` refuses.
pub fn json_from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("The request body is not valid UTF-8: {e}"),
        )
    })?;
    body_from_str(text)
}

/// Maps a JSON text onto `T`; a refusal is a 422 naming the field.
fn body_from_str<T: DeserializeOwned>(json: &str) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = field_at_fault(e.path(), &e.inner().to_string());
        let inner = e.into_inner();
        if inner.is_data() {
            let detail = match &field {
                Some(f) => format!("Invalid request body: {f}: {inner}"),
                None => format!("Invalid request body: {inner}"),
            };
            match field {
                Some(f) => ApiError::invalid_field(f, detail),
                None => ApiError::validation(detail),
            }
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("The request body is not valid JSON: {inner}"),
            )
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    Ok(value)
}

/// The top-level field a deserialisation error is about: the first map key on its path
/// (`tiers` for `tiers[1]`), or, for errors raised by the struct itself, the field its
/// message quotes (serde's "missing field" and "unknown field" messages).
fn field_at_fault(path: &serde_path_to_error::Path, message: &str) -> Option<String> {
    if let Some(serde_path_to_error::Segment::Map { key }) = path.iter().next() {
        return Some(key.clone());
    }
    ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| {
            let rest = &message[message.find(prefix)? + prefix.len()..];
            Some(rest[..rest.find('`')?].to_owned())
        })
}

/// Query parameters, like `web::Query`, whose 422 names the parameter at fault.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Query<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(query_from_str(req.query_string()).map(Query))
    }
}

fn query_from_str<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = field_at_fault(e.path(), &e.inner().to_string());
        match field {
            Some(f) => {
                let detail = format!("Invalid query parameters: {f}: {}", e.inner());
                ApiError::invalid_field(f, detail)
            }
            None => ApiError::validation(format!("Invalid query parameters: {}", e.inner())),
        }
    })
}

/// For handlers still on `web::Query`; [`Query`] names the parameter at fault.
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
        // A body that is sent must say it is JSON, as everywhere else (415 otherwise).
        let declared_json = actix_web::HttpMessage::mime_type(req)
            .ok()
            .flatten()
            .is_some_and(|mime| {
                mime.subtype() == actix_web::mime::JSON
                    || mime.suffix() == Some(actix_web::mime::JSON)
            });
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
            if !declared_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as JSON with Content-Type: application/json.",
                ));
            }
            json_from_slice(&bytes).map(|v| OptionalJson(Some(v)))
        })
    }
}
