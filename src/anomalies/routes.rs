//! `GET /audit/anomalies`, `GET /audit/anomalies/{id}`, `POST /audit/anomalies/scan`,
//! `POST /audit/anomalies/{id}/respond` and `POST /audit/anomalies/{id}/resolve`.

use actix_web::{get, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::scan::ScanReport;
use super::{Flag, FlagStatus, FlagView, Rule, Severity};
use crate::auth::principal::{Admin, MerchantOwner, OfficialOrOwner as FlagReader};
use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::anomaly_flags;
use crate::state::AppState;
use crate::talents::PiiVault;
use crate::time::Period;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(scan)
        .service(get_one)
        .service(respond)
        .service(resolve);
}

#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct FlagFilter {
    /// `YYYY-MM`
    #[param(pattern = r"^\s*2[0-9]{3}-(0[1-9]|1[0-2])\s*$")]
    pub period: Option<String>,
    #[param(inline)]
    pub status: Option<FlagStatus>,
    #[param(inline)]
    pub rule: Option<Rule>,
    #[param(inline)]
    pub severity: Option<Severity>,
    #[param(minimum = 1)]
    pub merchant_id: Option<i64>,
}

/// The review queue: flags, most severe and newest first. A merchant owner sees only
/// its own merchant's high flags (what holds its money).
#[utoipa::path(
    tag = "anomalies",
    params(PageQuery, FlagFilter),
    responses((status = 200, body = Paginated<FlagView>), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/audit/anomalies")]
pub async fn list(
    auth: Auth<FlagReader>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<FlagFilter>,
) -> ApiResult<web::Json<Paginated<FlagView>>> {
    let page = Page::try_from(page.into_inner())?;
    let mut filter = filter.into_inner();
    let period = filter.period.as_deref().map(Period::parse).transpose()?;
    if filter.merchant_id.is_some_and(|m| m < 1) {
        return Err(ApiError::invalid_field(
            "merchant_id",
            "merchant_id must be a positive id",
        ));
    }
    if auth.role == Role::Merchant {
        filter.merchant_id = auth.merchant_id.or(Some(-1));
        filter.severity = Some(Severity::High);
    }
    let result = state
        .read_reports(move |conn| {
            let query = || {
                let mut q = anomaly_flags::table.into_boxed();
                if let Some(p) = &period {
                    q = q.filter(anomaly_flags::period.eq(p.as_str().to_owned()));
                }
                if let Some(s) = filter.status {
                    q = q.filter(anomaly_flags::status.eq(s.as_str()));
                }
                if let Some(r) = filter.rule {
                    q = q.filter(anomaly_flags::rule.eq(r.as_str()));
                }
                if let Some(s) = filter.severity {
                    q = q.filter(anomaly_flags::severity.eq(s.as_str()));
                }
                if let Some(m) = filter.merchant_id {
                    q = q.filter(anomaly_flags::merchant_id.eq(m));
                }
                q
            };
            let total: i64 = query().count().get_result(conn)?;
            // 'high' > 'medium' > 'low' is not alphabetical: rank explicitly.
            let rank = diesel::dsl::sql::<diesel::sql_types::Integer>(
                "CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END",
            );
            let flags: Vec<Flag> = query()
                .order((rank, anomaly_flags::id.desc()))
                .limit(page.per_page)
                .offset(page.offset())
                .select(Flag::as_select())
                .load(conn)?;
            let views = super::views(conn, &flags)?;
            Ok(Paginated::new(views, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

/// One flag.
#[utoipa::path(
    tag = "anomalies",
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = FlagView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/audit/anomalies/{id}")]
pub async fn get_one(
    auth: Auth<FlagReader>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<FlagView>> {
    let id = id.into_inner();
    let principal = auth.into_inner();
    let view = state
        .db
        .run(move |conn| {
            let f = super::find(conn, id)?;
            if principal.role == Role::Merchant
                && (f.severity != "high"
                    || f.merchant_id.is_none()
                    || f.merchant_id != principal.merchant_id)
            {
                return Err(ApiError::not_found(format!("No anomaly flag {id}.")));
            }
            super::view(conn, &f)
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// `YYYY-MM`
    #[schema(pattern = r"^\s*2[0-9]{3}-(0[1-9]|1[0-2])\s*$")]
    pub period: String,
}

/// Scan a period against every rule (idempotent; settlement generation does it first).
#[utoipa::path(
    tag = "anomalies",
    request_body = ScanRequest,
    responses((status = 200, body = ScanReport), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/audit/anomalies/scan")]
pub async fn scan(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    body: crate::http::Json<ScanRequest>,
) -> ApiResult<web::Json<ScanReport>> {
    let period = Period::parse(&body.period)?;
    let actor = auth.actor();
    let vault = PiiVault::new(&state.secrets);
    let report = state
        .db
        .write(move |conn| super::scan::scan(conn, &vault, &actor, &period, crate::time::now()))
        .await?;
    Ok(web::Json(report))
}

/// The merchant owner's answer to a flag on its merchant: once, while it is open.
#[utoipa::path(
    tag = "anomalies",
    params(("id" = i64, Path, minimum = 1)),
    request_body = Note,
    responses((status = 200, body = FlagView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/audit/anomalies/{id}/respond")]
pub async fn respond(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<Note>,
) -> ApiResult<web::Json<FlagView>> {
    let note = body.note()?;
    let id = id.into_inner();
    let principal = auth.into_inner();
    let view = state
        .db
        .write(move |conn| {
            let f = super::review::respond(conn, &principal, id, &note, crate::time::now())?;
            super::view(conn, &f)
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Note {
    #[schema(schema_with = crate::text::required_note_schema)]
    pub note: crate::text::MultiLine,
}

impl Note {
    fn note(&self) -> ApiResult<String> {
        crate::text::parse_reason(Some(&self.note), true)
            .map(|n| n.unwrap_or_default())
            .map_err(|_| {
                ApiError::invalid_field(
                    "note",
                    "note is required: say what you found, at most 500 characters",
                )
            })
    }
}

/// How an admin decides a flag.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagOutcome {
    /// Nothing wrong: the held money goes to the next settlement run.
    Cleared,
    /// Wrong: the flagged redemptions are reversed with the flag as reason.
    Confirmed,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveFlag {
    pub outcome: FlagOutcome,
    #[schema(schema_with = crate::text::required_note_schema)]
    pub note: crate::text::MultiLine,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resolved {
    pub flag: FlagView,
    /// Redemptions reversed by a confirmation.
    pub reversed: usize,
}

/// Decide a flag (admin): `cleared` or `confirmed`, with a note. Audited.
#[utoipa::path(
    tag = "anomalies",
    params(("id" = i64, Path, minimum = 1)),
    request_body = ResolveFlag,
    responses((status = 200, body = Resolved), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/audit/anomalies/{id}/resolve")]
pub async fn resolve(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<ResolveFlag>,
) -> ApiResult<web::Json<Resolved>> {
    let body = body.into_inner();
    let note = Note { note: body.note }.note()?;
    let outcome = match body.outcome {
        FlagOutcome::Cleared => FlagStatus::Cleared,
        FlagOutcome::Confirmed => FlagStatus::Confirmed,
    };
    let id = id.into_inner();
    let principal = auth.into_inner();
    let resolved = state
        .db
        .write(move |conn| {
            let (f, reversed) =
                super::review::resolve(conn, &principal, id, outcome, &note, crate::time::now())?;
            Ok(Resolved {
                flag: super::view(conn, &f)?,
                reversed,
            })
        })
        .await?;
    Ok(web::Json(resolved))
}
