//! HTTP for reading redemptions: the officials' and merchants' ledger, one redemption,
//! and a talent's own history.

use actix_web::{get, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Redemption, RedemptionView};
use crate::auth::principal::{OfficialOrStaff, TalentRole};
use crate::auth::{Auth, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::{cards, redemptions};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list).service(get_one).service(my_redemptions);
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RedemptionFilter {
    /// RFC 3339 or local date `YYYY-MM-DD`.
    #[param(inline)]
    pub from: Option<crate::text::SingleLine>,
    /// RFC 3339 or local date `YYYY-MM-DD` (inclusive of that day).
    #[param(inline)]
    pub to: Option<crate::text::SingleLine>,
    pub merchant_id: Option<i64>,
    /// 12 digits; spaces and dashes are ignored.
    #[param(pattern = r"^[ -]*([0-9][ -]*){12}$")]
    pub card_no: Option<String>,
    /// `active` or `reversed`.
    #[param(pattern = "^(active|reversed)$")]
    pub status: Option<String>,
}

fn load_page(
    conn: &mut crate::db::DbConnection,
    filter: &RedemptionFilter,
    scope_merchant: Option<i64>,
    scope_talent: Option<i64>,
    page: Page,
) -> ApiResult<(Vec<Redemption>, i64)> {
    let from = filter
        .from
        .as_deref()
        .map(|v| crate::time::parse_filter(v, false))
        .transpose()
        .map_err(ApiError::validation)?;
    let to = filter
        .to
        .as_deref()
        .map(|v| crate::time::parse_filter(v, true))
        .transpose()
        .map_err(ApiError::validation)?;
    if let Some(status) = &filter.status
        && !["active", "reversed"].contains(&status.as_str())
    {
        return Err(ApiError::invalid_field(
            "status",
            "status must be active or reversed",
        ));
    }
    let card_id = match &filter.card_no {
        Some(no) => {
            let no = crate::cards::card_no::CardNo::parse(no)?;
            let id: Option<i64> = cards::table
                .filter(cards::card_no.eq(no.as_str()))
                .select(cards::id)
                .first(conn)
                .optional()?;
            Some(id.unwrap_or(-1))
        }
        None => None,
    };
    let build = || {
        let mut q = redemptions::table.into_boxed();
        if let Some(m) = scope_merchant.or(filter.merchant_id) {
            q = q.filter(redemptions::merchant_id.eq(m));
        }
        if let Some(t) = scope_talent {
            // A talent's history holds their family cards' uses too (DESIGN §11).
            q = q.filter(
                redemptions::talent_id
                    .eq(t)
                    .or(redemptions::talent_id.eq_any(
                        crate::schema::talents::table
                            .filter(crate::schema::talents::principal_id.eq(t))
                            .select(crate::schema::talents::id),
                    )),
            );
        }
        if let Some(c) = card_id {
            q = q.filter(redemptions::card_id.eq(c));
        }
        if let Some(s) = &filter.status {
            q = q.filter(redemptions::status.eq(s.to_string()));
        }
        if let Some(f) = from {
            q = q.filter(redemptions::created_at.ge(f));
        }
        if let Some(t) = to {
            q = q.filter(redemptions::created_at.lt(t));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows = build()
        .order(redemptions::id.desc())
        .limit(page.per_page)
        .offset(page.offset())
        .select(Redemption::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Redemptions, newest first (the officials' ledger): merchant staff see their
/// merchant's, officials all. Each names its merchant, offer, masked holder and cashier.
#[utoipa::path(
    tag = "redemptions",
    params(PageQuery, RedemptionFilter),
    responses((status = 200, body = Paginated<RedemptionView>)),
    security(("bearer" = []))
)]
#[get("/redemptions")]
pub async fn list(
    auth: Auth<OfficialOrStaff>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<RedemptionFilter>,
) -> ApiResult<web::Json<Paginated<RedemptionView>>> {
    let page = Page::try_from(page.into_inner())?;
    let filter = filter.into_inner();
    let principal = auth.into_inner();
    if let (Some(own), Some(asked)) = (principal.merchant_scope(), filter.merchant_id)
        && own != asked
    {
        return Err(ApiError::forbidden("This belongs to another merchant."));
    }
    let result = state
        .db
        .run(move |conn| {
            let (rows, total) = load_page(conn, &filter, principal.merchant_scope(), None, page)?;
            let mut views = super::views(conn, &rows, !principal.is_official())?;
            super::name_cashiers(conn, &mut views)?;
            Ok(Paginated::new(views, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

/// One redemption (its merchant's staff, its talent, officials).
#[utoipa::path(tag = "redemptions", params(("id" = i64, Path)), responses((status = 200, body = RedemptionView)), security(("bearer" = [])))]
#[get("/redemptions/{id}")]
pub async fn get_one(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<RedemptionView>> {
    let id = id.into_inner();
    let view = state
        .db
        .run(move |conn| {
            let r = super::get(conn, id)?;
            match principal.role {
                Role::Talent => {
                    crate::family::ensure_can_view_holder(conn, &principal, r.talent_id)?
                }
                _ => principal.ensure_can_view_merchant(r.merchant_id)?,
            }
            let mut views = super::views(conn, &[r], !principal.is_official())?;
            if principal.role != Role::Talent {
                super::name_cashiers(conn, &mut views)?;
            }
            Ok(views.remove(0))
        })
        .await?;
    Ok(web::Json(view))
}

/// The talent's own redemptions (savings history), newest first.
#[utoipa::path(
    tag = "redemptions",
    params(PageQuery, RedemptionFilter),
    responses((status = 200, body = Paginated<RedemptionView>)),
    security(("bearer" = []))
)]
#[get("/me/redemptions")]
pub async fn my_redemptions(
    auth: Auth<TalentRole>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<RedemptionFilter>,
) -> ApiResult<web::Json<Paginated<RedemptionView>>> {
    let page = Page::try_from(page.into_inner())?;
    let mut filter = filter.into_inner();
    filter.merchant_id = None;
    let talent_id = auth
        .talent_id
        .ok_or_else(|| ApiError::forbidden("This account has no talent record."))?;
    let result = state
        .db
        .run(move |conn| {
            let (rows, total) = load_page(conn, &filter, None, Some(talent_id), page)?;
            Ok(Paginated::new(
                super::views(conn, &rows, false)?,
                total,
                page,
            ))
        })
        .await?;
    Ok(web::Json(result))
}
