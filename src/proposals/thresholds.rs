//! `PUT /audit/anomalies/thresholds` proposes new thresholds for the anomaly rules
//! (DESIGN §8, §13): loosening them would let money through unreviewed, so a second
//! admin approves. The proposal keeps the thresholds it replaces; approval refuses if
//! they changed meanwhile.

use actix_web::{HttpResponse, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{NewProposal, Proposal, Proposed};
use crate::anomalies::thresholds::{self, Thresholds};
use crate::auth::principal::{Admin, Official};
use crate::auth::{Auth, Principal};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const SET: &str = "anomaly.thresholds";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_thresholds).service(propose_thresholds);
}

#[derive(Debug, Serialize, Deserialize)]
struct ThresholdChange {
    thresholds: Thresholds,
    before: Thresholds,
}

/// The thresholds the anomaly rules use now (DESIGN §8's defaults unless changed).
#[utoipa::path(
    tag = "anomalies",
    responses((status = 200, body = Thresholds)),
    security(("bearer" = []))
)]
#[get("/audit/anomalies/thresholds")]
pub async fn get_thresholds(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Thresholds>> {
    Ok(web::Json(state.db.run(thresholds::current).await?))
}

/// Propose new thresholds (fields not given keep DESIGN §8's defaults). A second
/// administrator approves; until then the rules use the current ones.
#[utoipa::path(
    tag = "anomalies",
    request_body = Thresholds,
    responses(
        (status = 202, description = "Proposed; waits for a second administrator", body = Proposed),
        (status = 409, description = "The same change already waits", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[put("/audit/anomalies/thresholds")]
pub async fn propose_thresholds(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    body: crate::http::Json<Thresholds>,
) -> ApiResult<HttpResponse> {
    let proposed = body.into_inner();
    proposed
        .check()
        .map_err(|e| ApiError::validation(e.to_string()))?;
    let principal = auth.into_inner();
    let proposal = state
        .db
        .write(move |conn| propose(conn, &principal, proposed))
        .await?;
    Ok(HttpResponse::Accepted().json(Proposed { proposal }))
}

fn propose(
    conn: &mut DbConnection,
    principal: &Principal,
    proposed: Thresholds,
) -> ApiResult<super::ProposalView> {
    let now = crate::time::now();
    let before = thresholds::current(conn)?;
    if before == proposed {
        return Err(ApiError::conflict(
            "These are the thresholds in force already.",
        ));
    }
    let same = |p: &Proposal| {
        p.payload::<ThresholdChange>()
            .is_ok_and(|c| c.thresholds == proposed)
    };
    if let Some(id) = super::open_exists(conn, SET, same, now)? {
        return Err(ApiError::conflict(format!(
            "Proposal {id} already proposes these thresholds and waits for a second administrator."
        )));
    }
    let changed = changes(&before, &proposed);
    super::create(
        conn,
        principal,
        NewProposal {
            kind: SET,
            summary: format!("Change the anomaly thresholds: {}.", changed.join("; ")),
            payload: &ThresholdChange {
                thresholds: proposed,
                before,
            },
            target_user_id: None,
        },
        now,
    )
}

/// "name: old → new" for every threshold that differs.
fn changes(before: &Thresholds, after: &Thresholds) -> Vec<String> {
    let (b, a) = (
        serde_json::to_value(before).unwrap_or_default(),
        serde_json::to_value(after).unwrap_or_default(),
    );
    let (Some(b), Some(a)) = (b.as_object(), a.as_object()) else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| format!("{k} {} → {v}", b.get(k).cloned().unwrap_or_default()))
        .collect()
}

/// Stores the thresholds of an approved proposal.
pub fn apply(
    conn: &mut DbConnection,
    approver: &Principal,
    proposal: &Proposal,
) -> ApiResult<Thresholds> {
    let change: ThresholdChange = proposal.payload()?;
    if thresholds::current(conn)? != change.before {
        return Err(ApiError::conflict(
            "The thresholds changed after this was proposed; reject it and propose again.",
        ));
    }
    let now = crate::time::now();
    thresholds::store(conn, &change.thresholds, now)?;
    crate::audit::record(
        conn,
        &approver.actor(),
        "anomaly.thresholds",
        "anomaly_settings",
        1,
        Some(&change.before),
        Some(&change.thresholds),
    )?;
    Ok(change.thresholds)
}
