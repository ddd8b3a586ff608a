//! Offer endpoints.
//!
//! | endpoint | who |
//! |---|---|
//! | `POST /merchants/{id}/offers` | that merchant's owner |
//! | `POST /offers/{id}/revise` | the offer's merchant owner (new version; see [`super::revise`]) |
//! | `POST /offers/{id}/pause\|resume\|end` | the offer's merchant owner |
//! | `POST /offers/{id}/approve\|reject` | admin (`{reason}` required to reject) |
//! | `GET /offers` | officials: all (`?status=`, `?merchant_id=`); owner/cashier: own merchant's |
//! | `GET /offers/{id}` | officials; the offer's merchant staff |

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{NewOffer, Offer, OfferAction, OfferKind, OfferStatus, OfferView};
use crate::auth::Auth;
use crate::auth::principal::{Admin, MerchantOwner, OfficialOrStaff};
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::{merchants, offers};
use crate::state::AppState;
use crate::text::{OptionalReason, RequiredReason};
use crate::tier::{Tier, TierSet};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_offer)
        .service(list_offers)
        .service(get_offer)
        .service(revise)
        .service(approve)
        .service(reject)
        .service(pause)
        .service(resume)
        .service(end);
}

/// An offer's terms (DESIGN §4). Money in fen, rates in basis points.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferBody {
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub title: crate::text::DisplayName,
    pub kind: OfferKind,
    /// Percent offers: 1..=10000 (1000 = 10 % off).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    pub percent_bp: Option<i64>,
    /// Fixed offers: fen off, more than 0.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub amount_fen: Option<i64>,
    #[schema(minimum = 0)]
    pub min_spend_fen: i64,
    /// Percent offers: the most one use gives, in fen (required).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_discount_fen: Option<i64>,
    #[schema(schema_with = crate::tier::tier_letters_schema)]
    pub tiers: Vec<crate::text::SingleLine>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2_147_483_647)]
    pub per_card_daily: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2_147_483_647)]
    pub per_card_monthly: Option<i64>,
    /// RFC 3339, or a local date `YYYY-MM-DD` (from the start of that day).
    #[serde(default)]
    pub valid_from: Option<crate::text::SingleLine>,
    /// RFC 3339, or a local date `YYYY-MM-DD` (through the end of that day).
    #[serde(default)]
    pub valid_until: Option<crate::text::SingleLine>,
    /// Share of the discount the government pays back, 0..=10000; more than 0 needs an
    /// official's approval before the offer goes live.
    #[schema(minimum = 0, maximum = 10000)]
    pub subsidy_bp: i64,
    /// Whether family (dependent) cards may use the offer; false when left out. Part of
    /// the money terms: changing it is a revision.
    #[serde(default)]
    pub dependents: bool,
}

/// The kind decides which amounts apply ([`NewOffer::validate`]): a percent offer has
/// `percent_bp` and `max_discount_fen` and no `amount_fen`; a fixed offer the reverse.
/// Left out and `null` are the same.
pub fn offer_body_rules() -> serde_json::Value {
    serde_json::json!({"oneOf": [
        {
            "required": ["kind", "percent_bp", "max_discount_fen"],
            "properties": {
                "kind": {"const": "percent"},
                "percent_bp": {"type": "integer"},
                "max_discount_fen": {"type": "integer"},
                "amount_fen": {"type": "null"}
            }
        },
        {
            "required": ["kind", "amount_fen"],
            "properties": {
                "kind": {"const": "fixed"},
                "amount_fen": {"type": "integer"},
                "percent_bp": {"type": "null"},
                "max_discount_fen": {"type": "null"}
            }
        }
    ]})
}

fn small_int(field: &str, v: Option<i64>) -> ApiResult<Option<i32>> {
    v.map(|v| {
        i32::try_from(v).map_err(|_| ApiError::validation(format!("{field} is out of range")))
    })
    .transpose()
}

fn date(field: &str, v: Option<&str>, end_of_day: bool) -> ApiResult<Option<NaiveDateTime>> {
    v.map(|v| {
        crate::time::parse_filter(v.trim(), end_of_day)
            .map(crate::time::truncate_micros)
            .map_err(|e| ApiError::validation(format!("{field}: {e}")))
    })
    .transpose()
}

impl TryFrom<OfferBody> for NewOffer {
    type Error = ApiError;

    fn try_from(b: OfferBody) -> ApiResult<NewOffer> {
        let tiers = b
            .tiers
            .iter()
            .map(|t| t.parse::<Tier>())
            .collect::<ApiResult<Vec<_>>>()?;
        let offer = NewOffer {
            title: b.title.trim().to_owned(),
            kind: b.kind,
            percent_bp: small_int("percent_bp", b.percent_bp)?,
            amount_fen: b.amount_fen,
            min_spend_fen: b.min_spend_fen,
            max_discount_fen: b.max_discount_fen,
            tiers: TierSet::new(&tiers)?,
            per_card_daily: small_int("per_card_daily", b.per_card_daily)?,
            per_card_monthly: small_int("per_card_monthly", b.per_card_monthly)?,
            valid_from: date("valid_from", b.valid_from.as_deref(), false)?,
            valid_until: date("valid_until", b.valid_until.as_deref(), true)?,
            subsidy_bp: small_int("subsidy_bp", Some(b.subsidy_bp))?.unwrap_or_default(),
            dependents: b.dependents,
        };
        offer.validate()?;
        Ok(offer)
    }
}

/// Publish an offer (the merchant's owner). Subsidised offers start `pending` until an
/// official approves them; unsubsidised ones are `active` at once.
#[utoipa::path(
    tag = "offers",
    params(("id" = i64, Path, description = "merchant id")),
    request_body = OfferBody,
    responses((status = 201, body = OfferView), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/offers")]
pub async fn create_offer(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::Json<OfferBody>,
) -> ApiResult<HttpResponse> {
    let merchant_id = path.into_inner();
    auth.ensure_merchant_owner(merchant_id)?;
    let new = NewOffer::try_from(body.into_inner())?;
    let actor = auth.actor();
    let offer = state
        .db
        .write(move |conn| super::create(conn, &actor, merchant_id, new, None))
        .await?;
    Ok(HttpResponse::Created().json(offer.view()?))
}

/// Change an offer's terms: a new version is created (`replaces_id` names the old one),
/// reviewed like a new offer when subsidised; the old version ends when the new one goes
/// live. Stored redemptions keep the terms they were made under.
#[utoipa::path(
    tag = "offers",
    params(("id" = i64, Path)),
    request_body = OfferBody,
    responses((status = 201, body = OfferView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/offers/{id}/revise")]
pub async fn revise(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::Json<OfferBody>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let new = NewOffer::try_from(body.into_inner())?;
    let principal = auth.into_inner();
    let offer = state
        .db
        .write(move |conn| {
            let old = super::get(conn, id)?;
            principal.ensure_merchant_owner(old.merchant_id)?;
            super::revise(conn, &principal.actor(), id, new)
        })
        .await?;
    Ok(HttpResponse::Created().json(offer.view()?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OfferFilter {
    /// `pending` (the approval queue), `active`, `paused`, `ended`, `rejected`.
    pub status: Option<OfferStatus>,
    /// Officials: one merchant's offers (staff always see only their own).
    pub merchant_id: Option<i64>,
}

/// An offer in a list, with its merchant's name (the approval queue names the shop).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedOffer {
    #[serde(flatten)]
    pub offer: OfferView,
    pub merchant_name: String,
}

/// Offers: officials see all (`?status=pending` is the approval queue); a merchant's
/// owner and cashiers see only their own merchant's. Each names its merchant.
#[utoipa::path(
    tag = "offers",
    params(PageQuery, OfferFilter),
    responses((status = 200, body = Paginated<ListedOffer>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/offers")]
pub async fn list_offers(
    auth: Auth<OfficialOrStaff>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<OfferFilter>,
) -> ApiResult<web::Json<Paginated<ListedOffer>>> {
    let page = Page::try_from(page.into_inner())?;
    let f = filter.into_inner();
    let merchant_id = match auth.merchant_scope() {
        Some(own) => {
            if f.merchant_id.is_some_and(|m| m != own) {
                return Err(ApiError::forbidden("This belongs to another merchant."));
            }
            Some(own)
        }
        None => f.merchant_id,
    };
    let result = state
        .db
        .run(move |conn| {
            let build = || {
                let mut q = offers::table.into_boxed();
                if let Some(m) = merchant_id {
                    q = q.filter(offers::merchant_id.eq(m));
                }
                if let Some(s) = f.status {
                    q = q.filter(offers::status.eq(s.as_str()));
                }
                q
            };
            let total: i64 = build().count().get_result(conn)?;
            let rows: Vec<Offer> = build()
                // Oldest first: the approval queue is worked in arrival order.
                .order(offers::id)
                .limit(page.per_page)
                .offset(page.offset())
                .select(Offer::as_select())
                .load(conn)?;
            let names: std::collections::HashMap<i64, String> = merchants::table
                .filter(merchants::id.eq_any(rows.iter().map(|o| o.merchant_id)))
                .select((merchants::id, merchants::name))
                .load::<(i64, String)>(conn)?
                .into_iter()
                .collect();
            let items = rows
                .iter()
                .map(|o| {
                    Ok(ListedOffer {
                        offer: o.view()?,
                        merchant_name: names.get(&o.merchant_id).cloned().unwrap_or_default(),
                    })
                })
                .collect::<ApiResult<_>>()?;
            Ok(Paginated::new(items, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

/// One offer with its subsidy share and status (officials; the merchant's staff).
#[utoipa::path(
    tag = "offers",
    params(("id" = i64, Path)),
    responses((status = 200, body = OfferView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/offers/{id}")]
pub async fn get_offer(
    auth: Auth<OfficialOrStaff>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<web::Json<OfferView>> {
    let id = path.into_inner();
    let principal = auth.into_inner();
    let offer = state
        .db
        .run(move |conn| {
            let offer = super::get(conn, id)?;
            principal.ensure_can_view_merchant(offer.merchant_id)?;
            Ok(offer)
        })
        .await?;
    Ok(web::Json(offer.view()?))
}

async fn owner_step(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    id: i64,
    action: OfferAction,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<OfferView>> {
    let reason = OptionalReason::parse(body.0, false)?;
    let principal = auth.into_inner();
    let offer = state
        .db
        .write(move |conn| {
            let offer = super::get(conn, id)?;
            principal.ensure_merchant_owner(offer.merchant_id)?;
            super::transition(conn, &principal.actor(), id, action, reason.as_deref())
        })
        .await?;
    Ok(web::Json(offer.view()?))
}

async fn admin_step(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: i64,
    action: OfferAction,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<OfferView>> {
    let reason = OptionalReason::parse(body.0, action == OfferAction::Reject)?;
    let actor = auth.actor();
    let offer = state
        .db
        .write(move |conn| super::transition(conn, &actor, id, action, reason.as_deref()))
        .await?;
    Ok(web::Json(offer.view()?))
}

/// Approve a pending offer: it goes live (and ends the version it revises, if any).
#[utoipa::path(
    tag = "offers",
    params(("id" = i64, Path)),
    request_body(content = Option<OptionalReason>, description = "optional: {reason}"),
    responses((status = 200, body = OfferView), (status = 409, description = "invalid_transition", body = Problem)),
    security(("bearer" = []))
)]
#[post("/offers/{id}/approve")]
pub async fn approve(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<OfferView>> {
    admin_step(auth, state, path.into_inner(), OfferAction::Approve, body).await
}

/// Reject a pending offer (`{reason}` required).
#[utoipa::path(
    tag = "offers",
    params(("id" = i64, Path)),
    request_body = RequiredReason,
    responses((status = 200, body = OfferView), (status = 409, description = "invalid_transition", body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/offers/{id}/reject")]
pub async fn reject(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<OfferView>> {
    admin_step(auth, state, path.into_inner(), OfferAction::Reject, body).await
}

/// Pause an active offer (the merchant's owner).
#[utoipa::path(
    tag = "offers",
    params(("id" = i64, Path)),
    request_body(content = Option<OptionalReason>, description = "optional: {reason}"),
    responses((status = 200, body = OfferView), (status = 403, body = Problem), (status = 409, description = "invalid_transition", body = Problem)),
    security(("bearer" = []))
)]
#[post("/offers/{id}/pause")]
pub async fn pause(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<OfferView>> {
    owner_step(auth, state, path.into_inner(), OfferAction::Pause, body).await
}

/// Resume a paused offer (the merchant's owner).
#[utoipa::path(
    tag = "offers",
    params(("id" = i64, Path)),
    request_body(content = Option<OptionalReason>, description = "optional: {reason}"),
    responses((status = 200, body = OfferView), (status = 403, body = Problem), (status = 409, description = "invalid_transition", body = Problem)),
    security(("bearer" = []))
)]
#[post("/offers/{id}/resume")]
pub async fn resume(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<OfferView>> {
    owner_step(auth, state, path.into_inner(), OfferAction::Resume, body).await
}

/// End an offer for good, or withdraw one still under review (the merchant's owner).
#[utoipa::path(
    tag = "offers",
    params(("id" = i64, Path)),
    request_body(content = Option<OptionalReason>, description = "optional: {reason}"),
    responses((status = 200, body = OfferView), (status = 403, body = Problem), (status = 409, description = "invalid_transition", body = Problem)),
    security(("bearer" = []))
)]
#[post("/offers/{id}/end")]
pub async fn end(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<OfferView>> {
    owner_step(auth, state, path.into_inner(), OfferAction::End, body).await
}
