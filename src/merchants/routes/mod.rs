//! Merchant endpoints.
//!
//! | endpoint | who |
//! |---|---|
//! | `POST /merchants` | anyone (public application form), admin too |
//! | `GET /districts` | anyone: the districts an application may name |
//! | `GET /merchants` | anyone: directory of active merchants; `?status=` officials only |
//! | `GET /merchants/{id}` | anyone sees an active merchant's public entry; owner and officials the full record, cashiers the record with the bank account masked |
//! | `POST /merchants/{id}/approve\|reject\|suspend\|resume` | admin |
//! | `POST /merchants/{id}/cashiers`, `DELETE /merchants/{id}/cashiers/{user_id}` | that merchant's owner |
//! | `GET /merchants/{id}/cashiers` | that merchant's owner, officials |

mod application;
mod cashiers;
mod directory;
mod workflow;

use utoipa_actix_web::service_config::ServiceConfig;

use application::{apply, list_districts};
use cashiers::{add_cashier, list_cashiers, remove_cashier};
use directory::{get_merchant, list_merchants};
use workflow::{approve, reject, resume, suspend};

pub use application::{APPLICATIONS_PER_ADDRESS_PER_HOUR, application_rules};
pub use cashiers::CASHIERS_PER_MERCHANT_PER_DAY;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(apply)
        .service(list_districts)
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
