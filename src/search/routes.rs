//! `GET /search`, `GET /redemptions/{id}/trace` and `GET /me/todo`.

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::find::{self, CardHit, CardKey, MerchantHit, SearchKind, SearchMatch, TalentKey};
use super::todo::TodoCounts;
use super::trace::RedemptionTrace;
use crate::auth::Auth;
use crate::auth::principal::{Official, OfficialOrStaff};
use crate::error::ApiResult;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;
use crate::talents::{ExactNumber, PiiVault, TalentFilter, TalentView};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(search).service(trace).service(todo);
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// What to look for, 1 to 64 characters: part of a name; a whole ID number or
    /// mobile number (talents, exact, audited); a whole card number or 4–11 of its
    /// digits (cards; spaces and dashes ignored); a whole 统一社会信用代码 (merchants).
    #[param(value_type = String, min_length = 1, max_length = 64, pattern = r"^[^\u0000-\u001F\u007F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u0020\u007F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202A-\u202F\u205F\u2066-\u2069\u3000][^\u0000-\u001F\u007F\u202A-\u202E\u2066-\u2069]*$")]
    pub q: crate::text::SingleLine,
    #[param(inline)]
    pub kind: SearchKind,
}

/// One thing found: its kind, its id (what a page links on) and the section of its kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub kind: SearchKind,
    /// The talent's, card's or merchant's id.
    pub id: i64,
    /// A talent, personal data masked (with the current card, if any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub talent: Option<TalentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<CardHit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant: Option<MerchantHit>,
}

/// A page of search results (the list contract), and how the query was read.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub kind: SearchKind,
    pub matched_by: SearchMatch,
}

impl SearchResults {
    fn new(
        kind: SearchKind,
        matched_by: SearchMatch,
        items: Vec<SearchHit>,
        total: i64,
        page: Page,
    ) -> Self {
        SearchResults {
            items,
            total,
            page: page.page,
            per_page: page.per_page,
            kind,
            matched_by,
        }
    }
}

/// Search talents, cards or merchants (officials and auditors). Talents by part of the
/// name, or by a whole ID number or phone through the blind index — those searches are
/// audited (`talent.lookup`, the number masked); cards by number or part of one;
/// merchants by part of the name (either case) or their whole USCC, in any status.
/// A query that is an ID number or a card number with a wrong check character is a 422
/// naming `q`.
#[utoipa::path(
    tag = "search",
    params(PageQuery, SearchQuery),
    responses((status = 200, body = SearchResults), (status = 422, description = "`validation`: `q` is empty, too long, holds a control character, or is a mistyped ID or card number", body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/search")]
pub async fn search(
    auth: Auth<Official>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    query: crate::http::Query<SearchQuery>,
) -> ApiResult<web::Json<SearchResults>> {
    let page = Page::try_from(page.into_inner())?;
    let SearchQuery { q, kind } = query.into_inner();
    let q = find::check_query(&q)?.to_owned();
    let now = crate::time::now();
    let results = match kind {
        SearchKind::Talent => {
            let today = crate::time::to_local(now).date_naive();
            let vault = PiiVault::new(&state.secrets);
            match find::talent_key(&q, today)? {
                TalentKey::IdNumber(id) => {
                    exact_talent(
                        &state,
                        &auth,
                        ExactNumber::id_number(&vault, &id),
                        SearchMatch::IdNumber,
                        page,
                        now,
                    )
                    .await?
                }
                TalentKey::Phone(phone) => {
                    exact_talent(
                        &state,
                        &auth,
                        ExactNumber::phone(&vault, &phone),
                        SearchMatch::Phone,
                        page,
                        now,
                    )
                    .await?
                }
                TalentKey::Name(name) => {
                    let filter = TalentFilter {
                        name: Some(name),
                        ..TalentFilter::default()
                    };
                    state
                        .db
                        .run(move |conn| {
                            let (rows, total) = crate::talents::list(conn, &filter, page, now)?;
                            let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
                            let cards = crate::talents::current_cards(conn, &ids)?;
                            let items = rows
                                .iter()
                                .map(|t| talent_hit(t.view(cards.get(&t.id), now)))
                                .collect();
                            Ok(SearchResults::new(
                                kind,
                                SearchMatch::Name,
                                items,
                                total,
                                page,
                            ))
                        })
                        .await?
                }
                TalentKey::None => SearchResults::new(kind, SearchMatch::None, Vec::new(), 0, page),
            }
        }
        SearchKind::Card => {
            let key = find::card_key(&q)?;
            let matched_by = match key {
                CardKey::Whole(_) => SearchMatch::CardNo,
                CardKey::Part(_) => SearchMatch::CardNoPart,
                CardKey::None => SearchMatch::None,
            };
            if matches!(key, CardKey::None) {
                SearchResults::new(kind, matched_by, Vec::new(), 0, page)
            } else {
                state
                    .db
                    .run(move |conn| {
                        let (hits, total) = find::cards(conn, &key, page, now)?;
                        let items = hits
                            .into_iter()
                            .map(|c| SearchHit {
                                kind: SearchKind::Card,
                                id: c.id,
                                talent: None,
                                card: Some(c),
                                merchant: None,
                            })
                            .collect();
                        Ok(SearchResults::new(kind, matched_by, items, total, page))
                    })
                    .await?
            }
        }
        SearchKind::Merchant => {
            let key = find::merchant_key(&q);
            let matched_by = match key {
                find::MerchantKey::Uscc(_) => SearchMatch::Uscc,
                find::MerchantKey::Name(_) => SearchMatch::Name,
            };
            state
                .db
                .run(move |conn| {
                    let (hits, total) = find::merchants(conn, &key, page)?;
                    let items = hits
                        .into_iter()
                        .map(|m| SearchHit {
                            kind: SearchKind::Merchant,
                            id: m.id,
                            talent: None,
                            card: None,
                            merchant: Some(m),
                        })
                        .collect();
                    Ok(SearchResults::new(kind, matched_by, items, total, page))
                })
                .await?
        }
    };
    Ok(web::Json(results))
}

fn talent_hit(view: TalentView) -> SearchHit {
    SearchHit {
        kind: SearchKind::Talent,
        id: view.id,
        talent: Some(view),
        card: None,
        merchant: None,
    }
}

/// A talent by a whole ID number or phone, the look-up audited like `POST
/// /talents/lookup` (it is the same function).
async fn exact_talent(
    state: &AppState,
    auth: &Auth<Official>,
    number: ExactNumber,
    matched_by: SearchMatch,
    page: Page,
    now: chrono::NaiveDateTime,
) -> ApiResult<SearchResults> {
    let actor = auth.actor();
    state
        .db
        .write(move |conn| {
            let found = crate::talents::lookup(conn, &actor, &number, "search")?;
            let mut items = Vec::new();
            let total = i64::from(found.is_some());
            if let Some(t) = found
                && page.page == 1
            {
                let card = crate::cards::current_for_talent(conn, t.id)?;
                items.push(talent_hit(t.view(card.as_ref(), now)));
            }
            Ok(SearchResults::new(
                SearchKind::Talent,
                matched_by,
                items,
                total,
                page,
            ))
        })
        .await
}

/// Trace a redemption from the counter to its payout: the redemption with names, its
/// reversal and dispute, its settlement lines with their settlements (who confirmed,
/// verified, approved) and payouts (bank reference), and the audit entries of all of
/// them with their actors by name. Officials; a merchant's staff for their merchant's
/// redemptions, without audit entries, flags and officials' names.
#[utoipa::path(
    tag = "redemptions",
    params(("id" = i64, Path, description = "Redemption id")),
    responses((status = 200, body = RedemptionTrace), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/redemptions/{id}/trace")]
pub async fn trace(
    auth: Auth<OfficialOrStaff>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<RedemptionTrace>> {
    let id = id.into_inner();
    let viewer = auth.into_inner();
    let trace = state
        .db
        .run(move |conn| super::trace::trace(conn, &viewer, id))
        .await?;
    Ok(web::Json(trace))
}

/// What waits for me (officials): proposals I may decide, merchants and offers to
/// approve, settlements to verify, approve (four eyes) or pay, open disputes and anomaly
/// flags. An auditor's decision counts are zero.
#[utoipa::path(
    tag = "search",
    responses((status = 200, body = TodoCounts)),
    security(("bearer" = []))
)]
#[get("/me/todo")]
pub async fn todo(
    auth: Auth<Official>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<TodoCounts>> {
    let me = auth.into_inner();
    let counts = state
        .db
        .run(move |conn| super::todo::counts(conn, &me, crate::time::now()))
        .await?;
    Ok(web::Json(counts))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_states_the_query_rule() {
        let doc = serde_json::to_value(crate::startup::openapi_document()).unwrap();
        let params = doc["paths"]["/api/v1/search"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let q = params.iter().find(|p| p["name"] == "q").unwrap();
        assert_eq!(q["required"], true);
        assert_eq!(q["schema"]["pattern"], super::find::QUERY_PATTERN);
        assert_eq!(q["schema"]["maxLength"], super::find::MAX_QUERY_CHARS);
        let kind = params.iter().find(|p| p["name"] == "kind").unwrap();
        assert_eq!(kind["required"], true);
    }
}
