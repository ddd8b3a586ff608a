//! Reading merchants: the public directory with live offers, the officials' lists by
//! status, and one merchant as its caller may see it.

use actix_web::{get, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::principal::MaybePrincipal;
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult, Problem};
use crate::merchants::domain::{Category, District};
use crate::merchants::{DirectoryEntry, Merchant, MerchantRecord, MerchantStatus};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::{merchants, offers};
use crate::state::AppState;
use crate::tier::Tier;

#[derive(Debug, Deserialize, IntoParams)]
pub struct DirectoryFilter {
    /// `clothing`, `food`, `housing`, `transport`, `medical`, `education`, `leisure`, `other`.
    #[param(pattern = "^(clothing|food|housing|transport|medical|education|leisure|other)$")]
    pub category: Option<String>,
    #[param(inline)]
    pub district: Option<crate::text::SingleLine>,
    /// Only merchants with an offer this tier (A–E, either case) may use, and only those
    /// offers. The pattern is `crate::tier::tier_letter_query_pattern` (checked by a test:
    /// a parameter attribute takes only a literal).
    #[param(
        pattern = r"^[\u0009-\u000D \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[A-Ea-e][\u0009-\u000D \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
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
            let Some(merchant) = crate::merchants::find(conn, id)? else {
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
