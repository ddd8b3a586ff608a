//! `POST /settlements/generate`: close a month (scan, then settle).

use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Auth;
use crate::auth::principal::Admin;
use crate::error::ApiResult;
use crate::settlements::SettlementView;
use crate::settlements::routes::views;
use crate::state::AppState;
use crate::talents::PiiVault;
use crate::time::Period;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(generate);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateBody {
    /// Local month `YYYY-MM`.
    #[schema(pattern = r"^\s*2[0-9]{3}-(0[1-9]|1[0-2])\s*$")]
    pub period: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Generated {
    pub period: String,
    /// Settlements created by this run (empty when nothing new was left to settle).
    pub created: Vec<SettlementView>,
    /// What the run left out and why (held by alerts, disputed), and what earlier runs
    /// had settled already.
    pub left_out: crate::settlements::holds::LeftOut,
}

/// Generate the period's settlements from everything not yet settled. Safe to repeat.
/// The period is scanned for anomalies first: what an open high flag holds waits.
#[utoipa::path(tag = "settlements", request_body = GenerateBody, responses((status = 200, body = Generated)), security(("bearer" = [])))]
#[post("/settlements/generate")]
pub async fn generate(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    body: crate::http::Json<GenerateBody>,
) -> ApiResult<web::Json<Generated>> {
    let period = Period::parse(&body.period)?;
    let actor = auth.actor();
    let vault = PiiVault::new(&state.secrets);
    let result = state
        .db
        .write(move |conn| {
            let settled_before =
                crate::settlements::holds::left_out(conn, period.as_str())?.settled_before_count;
            let made = super::generate(conn, &vault, &actor, &period, crate::time::now())?;
            let left_out = crate::settlements::holds::LeftOut {
                settled_before_count: settled_before,
                ..crate::settlements::holds::left_out(conn, period.as_str())?
            };
            Ok(Generated {
                period: period.as_str().to_owned(),
                created: views(conn, &made)?,
                left_out,
            })
        })
        .await?;
    Ok(web::Json(result))
}
