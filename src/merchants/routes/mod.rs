//! Merchant endpoints.
//!
//! | endpoint | who |
//! |---|---|
//! | `POST /merchants` | anyone (public application form), admin too |
//! | `GET /merchants` | anyone: directory of active merchants; `?status=` officials only |
//! | `GET /merchants/{id}` | anyone sees an active merchant's public entry; owner and officials the full record, cashiers the record with the bank account masked |
//! | `POST /merchants/{id}/approve\|reject\|suspend\|resume` | admin |
//! | `POST /merchants/{id}/cashiers`, `DELETE /merchants/{id}/cashiers/{user_id}` | that merchant's owner |
//! | `GET /merchants/{id}/cashiers` | that merchant's owner, officials |

mod application;
mod cashiers;
mod directory;
mod workflow;

use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ApiError, ApiResult};
use application::apply;
use cashiers::{add_cashier, list_cashiers, remove_cashier};
use directory::{get_merchant, list_merchants};
use workflow::{approve, reject, resume, suspend};

pub use application::{APPLICATIONS_PER_ADDRESS_PER_HOUR, application_rules};
pub use cashiers::CASHIERS_PER_MERCHANT_PER_DAY;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(apply)
        .service(list_merchants)
        .service(get_merchant)
        .service(approve)
        .service(reject)
        .service(suspend)
        .service(resume)
        .service(add_cashier)
        .service(list_cashiers)
        .service(remove_cashier);
}

/// `{reason}` for reject and suspend; optional elsewhere.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OptionalReason)]
pub struct ReasonBody {
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F\u202A-\u202E\u2066-\u2069]*$")]
    pub reason: Option<crate::text::MultiLine>,
}

/// Parses the reason of a workflow step: required (and non-blank) where `required`.
pub fn parse_reason(
    body: crate::http::OptionalJson<ReasonBody>,
    required: bool,
) -> ApiResult<Option<String>> {
    let reason = body
        .0
        .and_then(|b| b.reason)
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    match reason {
        None if required => Err(ApiError::invalid_field(
            "reason",
            "reason is required for this step: say why, it is kept in the record",
        )),
        Some(r) if r.chars().count() > 500 => Err(ApiError::invalid_field(
            "reason",
            "reason must have at most 500 characters",
        )),
        other => Ok(other),
    }
}
