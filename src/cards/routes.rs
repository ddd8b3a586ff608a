//! Card endpoints: issue, look up, lifecycle (admin), and the talent's own card.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{CardNo, CardStatus, CardView, Transition};
use crate::auth::Auth;
use crate::auth::principal::{Admin, Official, TalentRole};
use crate::error::{ApiError, ApiResult};
use crate::http::OptionalJson;
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::{cards, talents};
use crate::state::AppState;
use crate::talents::Tier;
use crate::text::{OptionalReason, RequiredReason};

pub fn configure(cfg: &mut ServiceConfig) {
    // First: `/cards/expiring/export` must not be read as a card number.
    super::renewal::configure(cfg);
    cfg.service(issue_card)
        .service(list_cards)
        .service(get_card)
        .service(suspend_card)
        .service(resume_card)
        .service(revoke_card)
        .service(reissue_card)
        .service(my_card)
        .service(super::print::print_card);
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCard {
    /// Last valid local day (`YYYY-MM-DD`); default: the configured number of years.
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
}

/// Issue a card to a talent who has no live card.
#[utoipa::path(
    tag = "cards",
    request_body = IssueCard,
    responses((status = 201, body = CardView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/talents/{id}/cards")]
pub async fn issue_card(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: OptionalJson<IssueCard>,
) -> ApiResult<HttpResponse> {
    let talent_id = path.into_inner();
    let body = body.0.unwrap_or_default();
    let now = crate::time::now();
    let expires_at = super::expiry_for(body.valid_until, state.config.card_validity_years, now)?;
    let actor = auth.actor();
    let card = state
        .db
        .write(move |conn| super::issue(conn, &actor, talent_id, expires_at, now))
        .await?;
    Ok(HttpResponse::Created().json(card.view(now)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CardFilter {
    /// Effective status (a card past its validity is `expired`).
    pub status: Option<CardStatus>,
    pub tier: Option<Tier>,
    pub talent_id: Option<i64>,
    /// Only usable cards that run out within this many days (1–366), soonest first:
    /// the renewal list.
    #[param(minimum = 1, maximum = 366)]
    pub expiring_within_days: Option<u32>,
}

/// A card in the officials' list: the card, and its holder by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedCard {
    #[serde(flatten)]
    pub card: CardView,
    /// The talent holding the card (officials see names unmasked, as in the talent list).
    pub holder_name: String,
}

/// List cards (officials and auditors), newest first, each with its holder's name.
#[utoipa::path(
    tag = "cards",
    params(PageQuery, CardFilter),
    responses((status = 200, body = Paginated<ListedCard>)),
    security(("bearer" = []))
)]
#[get("/cards")]
pub async fn list_cards(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<CardFilter>,
) -> ApiResult<web::Json<Paginated<ListedCard>>> {
    let page = Page::try_from(page.into_inner())?;
    let f = filter.into_inner();
    let now = crate::time::now();
    let until = f
        .expiring_within_days
        .map(super::renewal::within)
        .transpose()?
        .map(|span| now + span);
    let result = state
        .db
        .run(move |conn| {
            let build = || {
                let mut q = cards::table.into_boxed();
                if let Some(status) = f.status {
                    q = q.filter(super::status_filter(status, now));
                }
                if let Some(tier) = f.tier {
                    q = q.filter(cards::tier.eq(tier.as_str()));
                }
                if let Some(talent_id) = f.talent_id {
                    q = q.filter(cards::talent_id.eq(talent_id));
                }
                if let Some(until) = until {
                    q = q.filter(super::renewal::expiring(now, until));
                }
                q
            };
            let total: i64 = build().count().get_result(conn)?;
            let ordered = if until.is_some() {
                build().order((cards::expires_at.asc(), cards::id.asc()))
            } else {
                build().order(cards::id.desc())
            };
            let items: Vec<super::Card> = ordered
                .limit(page.per_page)
                .offset(page.offset())
                .select(super::Card::as_select())
                .load(conn)?;
            let holders: std::collections::HashMap<i64, String> = talents::table
                .filter(talents::id.eq_any(items.iter().map(|c| c.talent_id)))
                .select((talents::id, talents::name))
                .load::<(i64, String)>(conn)?
                .into_iter()
                .collect();
            Ok(Paginated::new(
                items
                    .iter()
                    .map(|c| ListedCard {
                        card: c.view(now),
                        holder_name: holders.get(&c.talent_id).cloned().unwrap_or_default(),
                    })
                    .collect(),
                total,
                page,
            ))
        })
        .await?;
    Ok(web::Json(result))
}

/// One card by number (officials and auditors). A mistyped number is a 422 before
/// any lookup.
#[utoipa::path(
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),
    tag = "cards",
    responses((status = 200, body = CardView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/cards/{card_no}")]
pub async fn get_card(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<CardView>> {
    let card_no = CardNo::parse(&path.into_inner())?;
    let now = crate::time::now();
    let card = state
        .db
        .run(move |conn| super::find_by_no(conn, &card_no))
        .await?;
    Ok(web::Json(card.view(now)))
}

async fn run_transition(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    card_no: String,
    body: OptionalJson<OptionalReason>,
    step: Transition,
) -> ApiResult<web::Json<CardView>> {
    let card_no = CardNo::parse(&card_no)?;
    let reason = OptionalReason::parse(body.0, step != Transition::Resume)?;
    let actor = auth.actor();
    let now = crate::time::now();
    let card = state
        .db
        .write(move |conn| super::transition(conn, &actor, &card_no, step, reason, now))
        .await?;
    Ok(web::Json(card.view(now)))
}

/// Suspend an active card (`{reason}` required); its codes are refused until resumed.
#[utoipa::path(
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),tag = "cards", request_body = RequiredReason,
    responses((status = 200, body = CardView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[post("/cards/{card_no}/suspend")]
pub async fn suspend_card(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<CardView>> {
    run_transition(auth, state, path.into_inner(), body, Transition::Suspend).await
}

/// Resume a suspended card; codes still inside their window work again.
#[utoipa::path(
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),tag = "cards", request_body(content = Option<OptionalReason>, description = "optional: {reason}"),
    responses((status = 200, body = CardView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[post("/cards/{card_no}/resume")]
pub async fn resume_card(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<CardView>> {
    run_transition(auth, state, path.into_inner(), body, Transition::Resume).await
}

/// Revoke a card for good (`{reason}` required); every code of it dies at once.
#[utoipa::path(
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),tag = "cards", request_body = RequiredReason,
    responses((status = 200, body = CardView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[post("/cards/{card_no}/revoke")]
pub async fn revoke_card(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: OptionalJson<OptionalReason>,
) -> ApiResult<web::Json<CardView>> {
    run_transition(auth, state, path.into_inner(), body, Transition::Revoke).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReissueBody {
    /// Why (lost phone, tier change…): required.
    #[schema(schema_with = crate::text::required_note_schema, required = true)]
    pub reason: Option<crate::text::MultiLine>,
    /// New tier for the talent and the new card; default: unchanged.
    pub tier: Option<Tier>,
    /// Last valid day of the new card; default: the old card's.
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reissued {
    /// The old card, now revoked.
    pub old: CardView,
    pub new: CardView,
}

/// Revoke a card and issue its replacement with a new number, in one transaction.
#[utoipa::path(
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),tag = "cards", request_body = ReissueBody,
    responses((status = 201, body = Reissued), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[post("/cards/{card_no}/reissue")]
pub async fn reissue_card(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: crate::http::Json<ReissueBody>,
) -> ApiResult<HttpResponse> {
    let card_no = CardNo::parse(&path.into_inner())?;
    let body = body.into_inner();
    let reason = crate::text::parse_reason(body.reason.as_deref(), true)?.unwrap_or_default();
    let now = crate::time::now();
    let expires_at = body
        .valid_until
        .map(|d| super::expiry_for(Some(d), state.config.card_validity_years, now))
        .transpose()?;
    let actor = auth.actor();
    let (old, new) = state
        .db
        .write(move |conn| {
            super::reissue(conn, &actor, &card_no, reason, body.tier, expires_at, now)
        })
        .await?;
    Ok(HttpResponse::Created().json(Reissued {
        old: old.view(now),
        new: new.view(now),
    }))
}

/// The calling talent's current card.
#[utoipa::path(tag = "cards",
    responses((status = 200, body = CardView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []), ("cookie" = [])))]
#[get("/me/card")]
pub async fn my_card(
    auth: Auth<TalentRole>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<CardView>> {
    let talent_id = auth
        .talent_id
        .ok_or_else(|| ApiError::forbidden("This account has no talent record."))?;
    let now = crate::time::now();
    let card = state
        .db
        .run(move |conn| super::current_for_talent(conn, talent_id))
        .await?
        .ok_or_else(|| ApiError::not_found("No card has been issued to you yet."))?;
    Ok(web::Json(card.view(now)))
}
