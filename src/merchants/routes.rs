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

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::domain::{self, Category, Coordinates, District, Uscc};
use super::{
    DirectoryEntry, Merchant, MerchantAction, MerchantRecord, MerchantStatus, NewMerchant,
};
use crate::auth::password::Password;
use crate::auth::principal::{Admin, MaybePrincipal, MerchantOwner};
use crate::auth::{Actor, Auth, Role};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::client::client_key;
use crate::pagination::{Page, PageQuery, Paginated};
use crate::ratelimit::{self, Limit, Take};
use crate::schema::{merchants, offers};
use crate::state::AppState;
use crate::tier::Tier;
use crate::users::{self, UserView, Username};

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

/// A merchant's application (DESIGN §4).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*[^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub name: crate::text::DisplayName,
    /// 统一社会信用代码, 18 characters with its check character.
    pub uscc: crate::text::SingleLine,
    #[schema(value_type = String, pattern = "^(clothing|food|housing|transport|medical|education|leisure|other)$")]
    pub category: crate::text::SingleLine,
    /// One of the configured districts (`DISTRICTS`).
    pub district: crate::text::SingleLine,
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069 \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    pub address: crate::text::SingleLine,
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069 \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    pub contact_name: crate::text::SingleLine,
    pub contact_phone: crate::text::SingleLine,
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069 \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    pub bank_name: crate::text::SingleLine,
    pub bank_account: crate::text::SingleLine,
    #[schema(schema_with = crate::users::username_schema)]
    pub owner_username: crate::text::SingleLine,
    #[schema(schema_with = crate::auth::password::new_password_schema)]
    pub owner_password: String,
    /// WGS-84 latitude, with `lon`.
    #[serde(default)]
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[serde(default)]
    #[schema(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
}

/// Applications one address may send per hour without logging in: a shop applies once,
/// and each application hashes a password and leaves a pending merchant to review.
pub const APPLICATIONS_PER_ADDRESS_PER_HOUR: i32 = 10;
/// Cashier accounts a merchant may create per day: a shop hires a few people at a time,
/// and every staff account adds forged-code guesses (see `codes::guard`).
pub const CASHIERS_PER_MERCHANT_PER_DAY: i32 = 20;

/// Apply to join the alliance (no login needed). The merchant starts `pending`; its owner
/// account can log in once an administrator approves it.
#[utoipa::path(
    tag = "merchants",
    request_body = Application,
    responses(
        (status = 201, body = MerchantRecord),
        (status = 401, description = "`unauthorized`: a token was sent but is not valid; send none to apply anonymously", body = Problem),
        (status = 409, description = "USCC or username already registered", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "Too many applications from this address; see Retry-After", body = Problem)
    )
)]
#[post("/merchants")]
pub async fn apply(
    req: HttpRequest,
    caller: MaybePrincipal,
    state: web::Data<AppState>,
    body: crate::http::Json<Application>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let districts = &state.config.districts;
    let owner_password = Password::parse(&body.owner_password)
        .map_err(|e| rename_field(e, "password", "owner_password"))?;
    let application = (
        domain::required_text("name", &body.name, 100)?,
        Uscc::parse(&body.uscc)?,
        Category::parse(&body.category)?,
        District::parse(&body.district, districts)?,
        domain::required_text("address", &body.address, 200)?,
        Coordinates::parse(body.lat, body.lon)?,
        domain::required_text("contact_name", &body.contact_name, 50)?,
        domain::parse_phone(&body.contact_phone)?,
        domain::required_text("bank_name", &body.bank_name, 100)?,
        domain::parse_bank_account(&body.bank_account)?,
        Username::parse(&body.owner_username)
            .map_err(|e| rename_field(e, "username", "owner_username"))?,
    );
    let is_admin = caller.0.as_ref().is_some_and(|p| p.role == Role::Admin);
    let actor = caller
        .0
        .as_ref()
        .map_or_else(Actor::anonymous, |p| p.actor());
    // Counted once the form is valid (a typo costs nothing) and whatever the outcome: a
    // 409 answer is what someone probing for taken usernames wants.
    if !is_admin {
        let bucket = format!("apply|{}", client_key(&req, &state.config.trusted_proxies));
        let now = crate::time::now();
        let limit = Limit {
            max: APPLICATIONS_PER_ADDRESS_PER_HOUR,
            window: chrono::Duration::hours(1),
        };
        let taken = state
            .db
            .run_writing(move |conn| ratelimit::take(conn, &bucket, limit, now))
            .await?;
        if let Take::Refused { until } = taken {
            return Err(ApiError::rate_limited(
                "too_many_requests",
                format!(
                    "Too many applications from this address; try again in {} minutes.",
                    ratelimit::wait_in(until, now, 60)
                ),
                until,
                now,
            ));
        }
    }
    let record = state
        .db
        .run(move |conn| {
            let (
                name,
                uscc,
                category,
                district,
                address,
                coordinates,
                contact_name,
                contact_phone,
                bank_name,
                bank_account,
                owner_username,
            ) = application;
            // Hash before taking the write lock: argon2 takes tens of milliseconds.
            let owner_password_hash = users::hash_password(&owner_password)?;
            write_tx(conn, |conn| {
                super::apply(
                    conn,
                    &actor,
                    NewMerchant {
                        name,
                        uscc,
                        category,
                        district,
                        address,
                        coordinates,
                        contact_name,
                        contact_phone,
                        bank_name,
                        bank_account,
                        owner_username,
                        owner_password_hash,
                    },
                )
            })?
            .record()
        })
        .await?;
    Ok(HttpResponse::Created().json(record))
}

/// Shared validators speak of `username`/`password`; the form's fields are prefixed.
fn rename_field(e: ApiError, from: &str, to: &'static str) -> ApiError {
    match e {
        ApiError::Problem {
            code: "validation",
            detail,
            ..
        } => ApiError::invalid_field(to, detail.replacen(from, to, 1)),
        other => other,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DirectoryFilter {
    /// `clothing`, `food`, `housing`, `transport`, `medical`, `education`, `leisure`, `other`.
    #[param(pattern = "^(clothing|food|housing|transport|medical|education|leisure|other)$")]
    pub category: Option<String>,
    #[param(inline)]
    pub district: Option<crate::text::SingleLine>,
    /// Only merchants with an offer this tier (A–E) may use, and only those offers.
    #[param(pattern = "^[A-E]$")]
    pub tier: Option<String>,
    /// Text search in name and address.
    #[param(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F\u202A-\u202E\u2066-\u2069]*$")]
    pub q: Option<crate::text::SingleLine>,
    /// Officials only: list merchant records in this status (`pending` is the approval
    /// queue; `all` for every status) instead of the public directory.
    #[param(pattern = "^(pending|active|suspended|rejected|all)$")]
    pub status: Option<String>,
}

/// A directory entry, or (officials with `?status=`) a record with the bank account masked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum MerchantListItem {
    Directory(DirectoryEntry),
    Record(MerchantRecord),
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The public directory of active merchants and their live offers (no login needed).
/// Never shows bank details, contact phones or credit codes.
#[utoipa::path(
    tag = "merchants",
    params(PageQuery, DirectoryFilter),
    responses((status = 200, body = Paginated<MerchantListItem>), (status = 401, description = "`unauthorized`: a token was sent but is not valid; send none for the public view", body = Problem), (status = 403, description = "`forbidden`: `?status=` is for officials", body = Problem), (status = 422, body = Problem))
)]
#[get("/merchants")]
pub async fn list_merchants(
    caller: MaybePrincipal,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<DirectoryFilter>,
) -> ApiResult<web::Json<Paginated<MerchantListItem>>> {
    let page = Page::try_from(page.into_inner())?;
    let f = filter.into_inner();
    let category = f.category.as_deref().map(Category::parse).transpose()?;
    let district = f
        .district
        .as_deref()
        .map(|d| District::parse(d, &state.config.districts))
        .transpose()?;
    let tier: Option<Tier> = f
        .tier
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: ApiError| e.with_field("tier"))?;
    let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 100) {
        return Err(ApiError::invalid_field(
            "q",
            "q must have at most 100 characters",
        ));
    }
    let pattern = q.map(like_pattern);
    // `None`: the public directory; `Some(None)`: every status; `Some(Some(s))`: one.
    let records: Option<Option<MerchantStatus>> = match f.status.as_deref() {
        None => None,
        Some(status) => {
            let official = caller.0.as_ref().is_some_and(|p| p.is_official());
            if !official {
                return Err(ApiError::forbidden(
                    "Only officials may list merchants by status; the public directory shows active merchants.",
                ));
            }
            Some(match status {
                "all" => None,
                "pending" => Some(MerchantStatus::Pending),
                "active" => Some(MerchantStatus::Active),
                "suspended" => Some(MerchantStatus::Suspended),
                "rejected" => Some(MerchantStatus::Rejected),
                other => {
                    return Err(ApiError::validation(format!(
                        "status {other:?} is not one of pending, active, suspended, rejected, all"
                    )));
                }
            })
        }
    };
    let result = state
        .db
        .run(move |conn| {
            let now = crate::time::now();
            let build = || {
                let mut query = merchants::table.into_boxed();
                query = match records {
                    None => query.filter(merchants::status.eq(MerchantStatus::Active.as_str())),
                    Some(Some(status)) => query.filter(merchants::status.eq(status.as_str())),
                    Some(None) => query,
                };
                if let Some(category) = category {
                    query = query.filter(merchants::category.eq(category.as_str()));
                }
                if let Some(district) = &district {
                    query = query.filter(merchants::district.eq(district.as_str().to_owned()));
                }
                if let Some(pattern) = &pattern {
                    query = query.filter(
                        lower(merchants::name)
                            .like(pattern.clone())
                            .escape('\\')
                            .or(lower(merchants::address).like(pattern.clone()).escape('\\')),
                    );
                }
                if let Some(tier) = tier {
                    query = query.filter(
                        merchants::id.eq_any(
                            offers::table
                                .filter(offers::status.eq("active"))
                                .filter(offers::valid_from.is_null().or(offers::valid_from.le(now)))
                                .filter(
                                    offers::valid_until
                                        .is_null()
                                        .or(offers::valid_until.gt(now)),
                                )
                                .filter(offers::tiers.like(format!("%{}%", tier.as_char())))
                                .select(offers::merchant_id),
                        ),
                    );
                }
                query
            };
            let total: i64 = build().count().get_result(conn)?;
            let rows: Vec<Merchant> = build()
                .order((merchants::name, merchants::id))
                .limit(page.per_page)
                .offset(page.offset())
                .select(Merchant::as_select())
                .load(conn)?;
            let items = if records.is_some() {
                rows.iter()
                    .map(|m| m.masked_record().map(MerchantListItem::Record))
                    .collect::<ApiResult<Vec<_>>>()?
            } else {
                let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
                let mut offers = crate::offers::live_offers_by_merchant(conn, &ids, tier)?;
                rows.iter()
                    .map(|m| {
                        m.directory_entry(offers.remove(&m.id).unwrap_or_default())
                            .map(MerchantListItem::Directory)
                    })
                    .collect::<ApiResult<Vec<_>>>()?
            };
            Ok(Paginated::new(items, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

/// One merchant. Anyone sees an active merchant's directory entry; its owner and
/// officials get the full record (bank account included), its cashiers the record with
/// the bank account masked. An official's view of the bank account is audited.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    responses((status = 200, body = MerchantListItem), (status = 401, description = "`unauthorized`: a token was sent but is not valid; send none for the public view", body = Problem), (status = 404, body = Problem))
)]
#[get("/merchants/{id}")]
pub async fn get_merchant(
    caller: MaybePrincipal,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<web::Json<MerchantListItem>> {
    let id = path.into_inner();
    let caller = caller.0;
    let item = state
        .db
        .run(move |conn| {
            let Some(merchant) = super::find(conn, id)? else {
                return Err(not_found(id));
            };
            match &caller {
                Some(p) if p.ensure_merchant_owner(id).is_ok() => {
                    Ok(MerchantListItem::Record(merchant.record()?))
                }
                // The owner is handled above, so this is one of its cashiers.
                Some(p) if p.merchant_scope() == Some(id) => {
                    Ok(MerchantListItem::Record(merchant.masked_record()?))
                }
                Some(p) if p.is_official() => write_tx(conn, |conn| {
                    crate::audit::record(
                        conn,
                        &p.actor(),
                        "merchant.view_bank_account",
                        "merchant",
                        id,
                        None::<&()>,
                        None::<&()>,
                    )?;
                    Ok(MerchantListItem::Record(merchant.record()?))
                }),
                // Everyone else, other merchants' staff included, sees what the public
                // sees — and nothing of a merchant that is not active.
                _ if merchant.status()? == MerchantStatus::Active => {
                    let mut offers = crate::offers::live_offers_by_merchant(conn, &[id], None)?;
                    Ok(MerchantListItem::Directory(
                        merchant.directory_entry(offers.remove(&id).unwrap_or_default())?,
                    ))
                }
                _ => Err(not_found(id)),
            }
        })
        .await?;
    Ok(web::Json(item))
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("No merchant with id {id}."))
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

async fn run_transition(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: i64,
    action: MerchantAction,
    body: crate::http::OptionalJson<ReasonBody>,
) -> ApiResult<web::Json<MerchantRecord>> {
    let reason = parse_reason(body, action.needs_reason())?;
    let actor = auth.actor();
    let merchant = state
        .db
        .write(move |conn| super::transition(conn, &actor, id, action, reason.as_deref()))
        .await?;
    Ok(web::Json(merchant.record()?))
}

/// Approve a pending merchant: it joins the directory and its accounts open.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body(content = Option<ReasonBody>, description = "optional: {reason}"),
    responses((status = 200, body = MerchantRecord), (status = 409, description = "invalid_transition", body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/approve")]
pub async fn approve(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<ReasonBody>,
) -> ApiResult<web::Json<MerchantRecord>> {
    run_transition(
        auth,
        state,
        path.into_inner(),
        MerchantAction::Approve,
        body,
    )
    .await
}

/// Reject a pending application (`{reason}` required).
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body = crate::redemptions::routes::ReasonBody,
    responses((status = 200, body = MerchantRecord), (status = 409, description = "invalid_transition", body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/reject")]
pub async fn reject(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<ReasonBody>,
) -> ApiResult<web::Json<MerchantRecord>> {
    run_transition(auth, state, path.into_inner(), MerchantAction::Reject, body).await
}

/// Suspend an active merchant (`{reason}` required): it leaves the directory and every
/// account of it is logged out and closed.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body = crate::redemptions::routes::ReasonBody,
    responses((status = 200, body = MerchantRecord), (status = 409, description = "invalid_transition", body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/suspend")]
pub async fn suspend(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<ReasonBody>,
) -> ApiResult<web::Json<MerchantRecord>> {
    run_transition(
        auth,
        state,
        path.into_inner(),
        MerchantAction::Suspend,
        body,
    )
    .await
}

/// Resume a suspended merchant: back in the directory, accounts open again.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body(content = Option<ReasonBody>, description = "optional: {reason}"),
    responses((status = 200, body = MerchantRecord), (status = 409, description = "invalid_transition", body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/resume")]
pub async fn resume(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::OptionalJson<ReasonBody>,
) -> ApiResult<web::Json<MerchantRecord>> {
    run_transition(auth, state, path.into_inner(), MerchantAction::Resume, body).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCashier {
    #[schema(schema_with = crate::users::username_schema)]
    pub username: crate::text::SingleLine,
    #[schema(schema_with = crate::auth::password::new_password_schema)]
    pub password: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 50, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub display_name: Option<crate::text::DisplayName>,
}

/// Add a cashier account (the merchant's owner only).
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    request_body = NewCashier,
    responses((status = 201, body = UserView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 429, description = "The merchant's cashier accounts for today are used up; see Retry-After", body = Problem)),
    security(("bearer" = []))
)]
#[post("/merchants/{id}/cashiers")]
pub async fn add_cashier(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: crate::http::Json<NewCashier>,
) -> ApiResult<HttpResponse> {
    let merchant_id = path.into_inner();
    auth.ensure_merchant_owner(merchant_id)?;
    let body = body.into_inner();
    let username = Username::parse(&body.username)?;
    let password = Password::parse(&body.password)?;
    let display_name = match body.display_name.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(name) => domain::required_text("display_name", name, 50)?,
    };
    let actor = auth.actor();
    let user = state
        .db
        .run(move |conn| {
            let hash = users::hash_password(&password)?;
            let now = crate::time::now();
            write_tx(conn, |conn| {
                // In the creating transaction: a creation that fails gives its count back.
                let limit = Limit {
                    max: CASHIERS_PER_MERCHANT_PER_DAY,
                    window: chrono::Duration::days(1),
                };
                let bucket = format!("cashiers|{merchant_id}");
                if let Take::Refused { until } = ratelimit::take(conn, &bucket, limit, now)? {
                    return Err(ApiError::rate_limited(
                        "too_many_requests",
                        format!(
                            "A merchant may add at most {CASHIERS_PER_MERCHANT_PER_DAY} cashiers a day; try again in {} hours.",
                            ratelimit::wait_in(until, now, 3600)
                        ),
                        until,
                        now,
                    ));
                }
                super::add_cashier(conn, &actor, merchant_id, &username, &display_name, hash)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(user.view()))
}

/// The merchant's cashier accounts (owner and officials).
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/merchants/{id}/cashiers")]
pub async fn list_cashiers(
    auth: crate::auth::Principal,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<web::Json<Vec<UserView>>> {
    let merchant_id = path.into_inner();
    if !auth.is_official() {
        auth.ensure_merchant_owner(merchant_id)?;
    }
    let cashiers = state
        .db
        .run(move |conn| {
            super::get(conn, merchant_id)?;
            super::list_cashiers(conn, merchant_id)
        })
        .await?;
    Ok(web::Json(cashiers))
}

/// Remove a cashier (the merchant's owner only): the account is closed and its sessions
/// end at once. The account record stays for the history of what it scanned.
#[utoipa::path(
    tag = "merchants",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/merchants/{id}/cashiers/{user_id}")]
pub async fn remove_cashier(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (merchant_id, user_id) = path.into_inner();
    auth.ensure_merchant_owner(merchant_id)?;
    let actor = auth.actor();
    state
        .db
        .write(move |conn| super::remove_cashier(conn, &actor, merchant_id, user_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
