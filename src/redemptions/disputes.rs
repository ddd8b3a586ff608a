//! Disputes: a talent who does not recognise a redemption disputes it within 7 days;
//! it is held out of settlement until an administrator resolves it — upheld reverses
//! it, dismissed lets it settle normally.

use actix_web::{HttpResponse, get, post, web};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::audit;
use crate::auth::principal::{Admin, OfficialOrTalent, TalentRole};
use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::{disputes, redemptions};
use crate::state::AppState;
use crate::text::RequiredReason;

/// How long after a redemption its talent may dispute it.
pub fn dispute_window() -> Duration {
    Duration::days(7)
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(open_dispute)
        .service(list_disputes)
        .service(resolve_dispute);
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = disputes)]
pub struct Dispute {
    pub id: i64,
    pub redemption_id: i64,
    pub talent_id: i64,
    pub reason: String,
    /// `open`, `upheld` or `dismissed`.
    pub status: String,
    pub resolution_note: Option<String>,
    pub resolved_by: Option<i64>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::rfc3339_local::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<NaiveDateTime>,
}

/// Dispute one of your own redemptions (talent, within 7 days).
#[utoipa::path(
    tag = "disputes",
    params(("id" = i64, Path, description = "Redemption id")),
    request_body = RequiredReason,
    responses((status = 201, body = Dispute), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/redemptions/{id}/dispute")]
pub async fn open_dispute(
    auth: Auth<TalentRole>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<RequiredReason>,
) -> ApiResult<HttpResponse> {
    let reason = body.parse()?;
    let id = id.into_inner();
    let principal = auth.into_inner();
    let dispute = state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            let redemption = super::get(conn, id)?;
            crate::family::ensure_can_view_holder(conn, &principal, redemption.talent_id)?;
            if redemption.status != "active" {
                return Err(ApiError::invalid_transition("This redemption was reversed; there is nothing to dispute."));
            }
            if now - redemption.created_at > dispute_window() {
                return Err(ApiError::invalid_transition(
                    "Redemptions can be disputed within 7 days; contact the talent office for older ones.",
                ));
            }
            let dispute = diesel::insert_into(disputes::table)
                .values((
                    disputes::redemption_id.eq(id),
                    disputes::talent_id.eq(redemption.talent_id),
                    disputes::reason.eq(&reason),
                    disputes::created_at.eq(now),
                ))
                .returning(disputes::all_columns)
                .get_result::<Dispute>(conn)
                .map_err(|e| match ApiError::from(e) {
                    ApiError::Problem { code: "conflict", .. } => {
                        ApiError::conflict("This redemption has already been disputed.")
                    }
                    other => other,
                })?;
            diesel::update(redemptions::table.find(id)).set(redemptions::disputed.eq(true)).execute(conn)?;
            audit::record(conn, &principal.actor(), "dispute.open", "dispute", dispute.id, None::<&()>, Some(&dispute))?;
            Ok(dispute)
        })
        .await?;
    Ok(HttpResponse::Created().json(dispute))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DisputeFilter {
    /// `open`, `upheld` or `dismissed`.
    #[param(pattern = "^(open|upheld|dismissed)$")]
    pub status: Option<String>,
}

/// A dispute in a list, with the redemption it is about (merchant, offer, amounts, the
/// holder masked) so a list needs no request per row, and who decided it by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedDispute {
    #[serde(flatten)]
    pub dispute: Dispute,
    pub redemption: Option<super::RedemptionView>,
    /// The administrator who resolved it (officials only; null for the talent).
    pub resolved_by_name: Option<String>,
}

/// Disputes, newest first: officials see all, a talent their own.
#[utoipa::path(
    tag = "disputes",
    params(PageQuery, DisputeFilter),
    responses((status = 200, body = Paginated<ListedDispute>)),
    security(("bearer" = []))
)]
#[get("/disputes")]
pub async fn list_disputes(
    auth: Auth<OfficialOrTalent>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<DisputeFilter>,
) -> ApiResult<web::Json<Paginated<ListedDispute>>> {
    let page = Page::try_from(page.into_inner())?;
    let status = filter.into_inner().status;
    if let Some(s) = &status
        && !["open", "upheld", "dismissed"].contains(&s.as_str())
    {
        return Err(ApiError::invalid_field(
            "status",
            "status must be open, upheld or dismissed",
        ));
    }
    let talent = (auth.role == Role::Talent).then_some(auth.talent_id.unwrap_or(-1));
    let result = state
        .db
        .run(move |conn| {
            let build = || {
                let mut q = disputes::table.into_boxed();
                if let Some(t) = talent {
                    // A talent answers for their family cards' uses too.
                    q = q.filter(
                        disputes::talent_id.eq(t).or(disputes::talent_id.eq_any(
                            crate::schema::talents::table
                                .filter(crate::schema::talents::principal_id.eq(t))
                                .select(crate::schema::talents::id),
                        )),
                    );
                }
                if let Some(s) = &status {
                    q = q.filter(disputes::status.eq(s.to_string()));
                }
                q
            };
            let total = build().count().get_result(conn)?;
            let items: Vec<Dispute> = build()
                .order(disputes::id.desc())
                .limit(page.per_page)
                .offset(page.offset())
                .select(Dispute::as_select())
                .load(conn)?;
            let ids: Vec<i64> = items.iter().map(|d| d.redemption_id).collect();
            let rows: Vec<super::Redemption> = redemptions::table
                .filter(redemptions::id.eq_any(&ids))
                .select(super::Redemption::as_select())
                .load(conn)?;
            let mut listed = super::views(conn, &rows, false)?;
            if talent.is_none() {
                super::name_cashiers(conn, &mut listed)?;
            }
            let mut views: std::collections::HashMap<i64, super::RedemptionView> =
                listed.into_iter().map(|v| (v.id, v)).collect();
            let deciders: Vec<i64> = if talent.is_some() {
                Vec::new()
            } else {
                items.iter().filter_map(|d| d.resolved_by).collect()
            };
            let names = crate::audit::labels::user_names(conn, &deciders)?;
            let items = items
                .into_iter()
                .map(|d| ListedDispute {
                    redemption: views.remove(&d.redemption_id),
                    resolved_by_name: d.resolved_by.and_then(|id| names.get(&id).cloned()),
                    dispute: d,
                })
                .collect();
            Ok(Paginated::new(items, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The talent is right: the redemption is reversed.
    Upheld,
    /// The redemption stands and settles normally.
    Dismissed,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    pub outcome: Outcome,
    #[schema(schema_with = crate::text::required_note_schema)]
    pub note: crate::text::MultiLine,
}

/// Resolve an open dispute (administrators).
#[utoipa::path(
    tag = "disputes",
    params(("id" = i64, Path)),
    request_body = Resolve,
    responses((status = 200, body = Dispute), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/disputes/{id}/resolve")]
pub async fn resolve_dispute(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<Resolve>,
) -> ApiResult<web::Json<Dispute>> {
    let Resolve { outcome, note } = body.into_inner();
    let note = crate::text::parse_required_reason(&note)
        .map_err(|_| ApiError::invalid_field("note", "note is required (1–500 characters)"))?;
    let id = id.into_inner();
    let principal = auth.into_inner();
    let dispute = state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            let status = match outcome {
                Outcome::Upheld => "upheld",
                Outcome::Dismissed => "dismissed",
            };
            let resolved =
                diesel::update(disputes::table.find(id).filter(disputes::status.eq("open")))
                    .set((
                        disputes::status.eq(status),
                        disputes::resolution_note.eq(&note),
                        disputes::resolved_by.eq(principal.user_id),
                        disputes::resolved_at.eq(now),
                    ))
                    .returning(disputes::all_columns)
                    .get_result::<Dispute>(conn)
                    .optional()?;
            let Some(resolved) = resolved else {
                // Either no such dispute (404) or already resolved (409).
                disputes::table
                    .find(id)
                    .select(disputes::id)
                    .first::<i64>(conn)?;
                return Err(ApiError::invalid_transition(
                    "This dispute has already been resolved.",
                ));
            };
            diesel::update(redemptions::table.find(resolved.redemption_id))
                .set(redemptions::disputed.eq(false))
                .execute(conn)?;
            if outcome == Outcome::Upheld {
                let redemption = super::get(conn, resolved.redemption_id)?;
                if redemption.status == "active" {
                    super::reverse(
                        conn,
                        &principal.actor(),
                        &redemption,
                        &format!("dispute upheld: {note}"),
                        now,
                    )?;
                }
            }
            audit::record(
                conn,
                &principal.actor(),
                &format!("dispute.{status}"),
                "dispute",
                id,
                None::<&()>,
                Some(&resolved),
            )?;
            Ok(resolved)
        })
        .await?;
    Ok(web::Json(dispute))
}
