//! The one error type of the HTTP boundary.
//!
//! Handlers and query functions return [`ApiError`]. Clients get an RFC 9457
//! `application/problem+json` body with a stable machine `code` and a human `detail`;
//! the cause chain of unexpected failures goes to the log, never to the client.
//! Diesel and pool errors convert in one place ([`From<diesel::result::Error>`]):
//! not found → 404, unique violation → 409, unavailable database → 503.

use std::borrow::Cow;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

/// RFC 9457 problem document, as sent to clients.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` is the stable identifier clients switch on.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `code_used`, `validation`, `forbidden`.
    pub code: String,
    /// What went wrong, for a person.
    pub detail: String,
    /// The request field at fault, for `validation` problems and for a `conflict` with a
    /// stored value (a taken USCC or username) (an RFC 9457 extension member): pages
    /// show their own message for it in the user's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client-facing refusal with its status, stable code and detail.
    #[error("{code}: {detail}")]
    Problem {
        status: StatusCode,
        code: &'static str,
        detail: Cow<'static, str>,
        /// The request field at fault, when one is.
        field: Option<Cow<'static, str>>,
    },
    /// A limit is reached (logins, applications, code guesses): 429 with `Retry-After`.
    #[error("{code}: {detail}")]
    RateLimited {
        code: &'static str,
        detail: Cow<'static, str>,
        retry_after_secs: u64,
    },
    /// The database connection broke (server stopped, network cut, failover): a 503
    /// the client may retry, and a sign for the pool to drop the connection.
    #[error("database connection lost: {0:#}")]
    ConnectionLost(anyhow::Error),
    /// Something we did not expect; logged with its cause chain, answered as a bare 500.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// Seconds a client is asked to wait before retrying a 503.
const RETRY_AFTER_SECS: u64 = 1;

impl ApiError {
    /// A 429 until `until` (as seen at `now`), with `Retry-After` in whole seconds.
    pub fn rate_limited(
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
        until: chrono::NaiveDateTime,
        now: chrono::NaiveDateTime,
    ) -> Self {
        ApiError::RateLimited {
            code,
            detail: detail.into(),
            retry_after_secs: (until - now).num_seconds().max(1) as u64,
        }
    }

    pub fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError::Problem {
            status,
            code,
            detail: detail.into(),
            field: None,
        }
    }

    /// A 422 `validation` problem that names the request field at fault.
    pub fn invalid_field(
        field: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError::Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation",
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    /// The same problem, naming `field` as the one at fault (a no-op for other errors).
    pub fn with_field(self, name: impl Into<Cow<'static, str>>) -> Self {
        match self {
            ApiError::Problem {
                status,
                code,
                detail,
                ..
            } => ApiError::Problem {
                status,
                code,
                detail,
                field: Some(name.into()),
            },
            other => other,
        }
    }

    /// The field named by a validation problem, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Problem { field, .. } => field.as_deref(),
            ApiError::RateLimited { .. } | ApiError::ConnectionLost(_) | ApiError::Internal(_) => {
                None
            }
        }
    }

    pub fn validation(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail)
    }

    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    pub fn unauthorized(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn conflict(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// A workflow step that is not allowed in the current state.
    pub fn invalid_transition(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_transition", detail)
    }

    pub fn unavailable(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }

    /// The stable code, also used as a metrics label.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Problem { code, .. } => code,
            ApiError::RateLimited { code, .. } => code,
            ApiError::ConnectionLost(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let (code, detail, field) = match self {
            ApiError::Problem {
                code,
                detail,
                field,
                ..
            } => (
                *code,
                detail.to_string(),
                field.as_ref().map(|f| f.to_string()),
            ),
            ApiError::RateLimited { code, detail, .. } => (*code, detail.to_string(), None),
            ApiError::ConnectionLost(_) => (
                "unavailable",
                "The database connection was lost; retry the request.".to_owned(),
                None,
            ),
            ApiError::Internal(_) => (
                "internal",
                "An unexpected error occurred; it has been logged.".to_owned(),
                None,
            ),
        };
        Problem {
            type_: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail,
            field,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Problem { status, .. } => *status,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ConnectionLost(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            ApiError::ConnectionLost(e) => {
                tracing::warn!(error = format!("{e:#}"), "database connection lost")
            }
            ApiError::Problem { .. } | ApiError::RateLimited { .. } => {}
        }
        let mut builder = HttpResponse::build(self.status_code());
        builder.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if self.status_code() == StatusCode::UNAUTHORIZED {
            builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        let retry_after = match self {
            ApiError::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => Some(RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(secs) = retry_after {
            builder.insert_header((header::RETRY_AFTER, secs));
        }
        builder.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

/// Whether `e` means the connection itself is gone or unusable, as opposed to a
/// refusal of this one statement. PostgreSQL reports a stop in several ways depending
/// on where the statement was: libpq's own messages (no SQLSTATE reaches us through
/// diesel), 57P01 "terminating connection due to administrator command", 57P03 "the
/// database system is shutting down / starting up". A read-only refusal (25006) means
/// the connection landed on a standby or a demoted primary: also drop it.
pub fn is_connection_loss(e: &DieselError) -> bool {
    const GONE: [&str; 11] = [
        "server closed the connection",
        "no connection to the server",
        "terminating connection",
        "could not receive data from server",
        "could not send data to server",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "connection to server",
        "SSL connection has been closed",
        "Connection refused",
    ];
    match e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ReadOnlyTransaction,
            _,
        ) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            GONE.iter().any(|fragment| message.contains(fragment))
        }
        // A transaction whose connection broke leaves the manager unusable.
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

impl From<DieselError> for ApiError {
    fn from(e: DieselError) -> Self {
        if is_connection_loss(&e) {
            return ApiError::ConnectionLost(e.into());
        }
        match &e {
            DieselError::NotFound => ApiError::not_found("No such record."),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::debug!(constraint = info.constraint_name(), "unique violation");
                ApiError::conflict("A record with the same unique value already exists.")
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                ApiError::conflict(
                    "The change refers to a record that does not exist or is still in use.",
                )
            }
            DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, info) => {
                ApiError::validation(format!(
                    "A value is out of range ({}).",
                    info.constraint_name().unwrap_or("check")
                ))
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ApiError::unavailable(
                    "The database was busy with a conflicting change; retry the request.",
                )
            }
            // SQLite reports lock time-outs as a generic error with this text.
            DieselError::DatabaseError(_, info)
                if info.message().contains("database is locked") =>
            {
                ApiError::unavailable("The database is busy; retry the request.")
            }
            _ => ApiError::internal(e),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %e, "database pool unavailable");
        ApiError::unavailable("The database is unavailable; retry shortly.")
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
