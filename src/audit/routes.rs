//! `GET /audit/events` and `GET /audit/verify` for officials and auditors.

use actix_web::{get, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{AuditEvent, VerifyReport};
use crate::auth::Auth;
use crate::auth::principal::Official;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::{audit_events, audit_seals};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_events).service(verify_chain);
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventFilter {
    /// Username of the actor (exact).
    #[param(inline)]
    pub actor: Option<crate::text::SingleLine>,
    /// e.g. `user`, `card`, `merchant`.
    #[param(inline)]
    pub entity_type: Option<crate::text::SingleLine>,
    #[param(inline)]
    pub entity_id: Option<crate::text::SingleLine>,
    /// e.g. `card.suspend` (exact) or a prefix ending in `.`, e.g. `card.`.
    #[param(inline)]
    pub action: Option<crate::text::SingleLine>,
    /// RFC 3339 or a local date `YYYY-MM-DD`.
    #[param(inline)]
    pub from: Option<crate::text::SingleLine>,
    /// RFC 3339 or a local date `YYYY-MM-DD` (inclusive of that day).
    #[param(inline)]
    pub to: Option<crate::text::SingleLine>,
}

/// An entry as listed: the entry, its payloads withheld when they hold unmasked personal
/// data (entries written before snapshots were masked).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedEvent {
    #[serde(flatten)]
    pub event: AuditEvent,
    /// True when `before_json` and `after_json` are withheld (answered as null) because
    /// one of them holds unmasked personal data or a full bank account, or is not JSON.
    /// The stored entry is unchanged and still verifies.
    pub payload_withheld: bool,
    /// Who acted, as the pages name them: the account's display name (else its login),
    /// or the recorded actor for the system (`system:cli`) and anonymous applicants.
    pub actor_name: String,
    /// What the entry is about, by name (a merchant's name, a card's number and holder,
    /// a settlement's merchant and period…); null for kinds the id already names.
    pub entity_label: Option<String>,
}

impl ListedEvent {
    fn new(mut event: AuditEvent, actor_name: String, entity_label: Option<String>) -> Self {
        let payload_withheld = [&event.before_json, &event.after_json]
            .into_iter()
            .flatten()
            .any(|json| super::privacy::holds_unmasked_personal_data(json));
        if payload_withheld {
            event.before_json = None;
            event.after_json = None;
        }
        ListedEvent {
            event,
            payload_withheld,
            actor_name,
            entity_label,
        }
    }
}

/// List audit entries, newest first. Payloads holding unmasked personal data are
/// withheld (`payload_withheld`).
#[utoipa::path(
    tag = "audit",
    params(PageQuery, EventFilter),
    responses((status = 200, body = Paginated<ListedEvent>)),
    security(("bearer" = []))
)]
#[get("/audit/events")]
pub async fn list_events(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<EventFilter>,
) -> ApiResult<web::Json<Paginated<ListedEvent>>> {
    let page = Page::try_from(page.into_inner())?;
    let f = filter.into_inner();
    let from = f
        .from
        .as_deref()
        .map(|v| crate::time::parse_filter(v, false))
        .transpose()
        .map_err(ApiError::validation)?;
    let to =
        f.to.as_deref()
            .map(|v| crate::time::parse_filter(v, true))
            .transpose()
            .map_err(ApiError::validation)?;
    let result = state
        .db
        .run(move |conn| {
            let build = || {
                let mut q = audit_events::table.into_boxed();
                if let Some(actor) = &f.actor {
                    q = q.filter(audit_events::actor.eq(actor.to_lowercase()));
                }
                if let Some(t) = &f.entity_type {
                    q = q.filter(audit_events::entity_type.eq(t.to_string()));
                }
                if let Some(id) = &f.entity_id {
                    q = q.filter(audit_events::entity_id.eq(id.to_string()));
                }
                if let Some(action) = &f.action {
                    q = match action.strip_suffix('.') {
                        Some(prefix) => q.filter(
                            audit_events::action.like(format!("{}.%", escape_like(prefix))),
                        ),
                        None => q.filter(audit_events::action.eq(action.to_string())),
                    };
                }
                if let Some(from) = from {
                    q = q.filter(audit_events::at.ge(from));
                }
                if let Some(to) = to {
                    q = q.filter(audit_events::at.lt(to));
                }
                q
            };
            let total: i64 = build().count().get_result(conn)?;
            let items = build()
                .order(audit_events::id.desc())
                .limit(page.per_page)
                .offset(page.offset())
                .select(AuditEvent::as_select())
                .load::<AuditEvent>(conn)?;
            // The chain position is the seal's (the row's own seal columns hold only the
            // version 1 chain).
            let ids: Vec<i64> = items.iter().map(|e| e.id).collect();
            let mut seals: std::collections::HashMap<i64, (i64, String, String)> =
                audit_seals::table
                    .filter(audit_seals::event_id.eq_any(ids))
                    .select((
                        audit_seals::event_id,
                        (audit_seals::seq, audit_seals::prev_hash, audit_seals::hash),
                    ))
                    .load::<(i64, (i64, String, String))>(conn)?
                    .into_iter()
                    .collect();
            let actor_ids: Vec<i64> = items.iter().filter_map(|e| e.actor_id).collect();
            let names = super::labels::user_names(conn, &actor_ids)?;
            let entities: Vec<(&str, &str)> = items
                .iter()
                .map(|e| (e.entity_type.as_str(), e.entity_id.as_str()))
                .collect();
            let labels = super::labels::entity_labels(conn, &entities)?;
            let items = items
                .into_iter()
                .map(|mut e| {
                    let seal = seals.remove(&e.id);
                    e.seq = seal.as_ref().map(|s| s.0);
                    e.prev_hash = seal.as_ref().map(|s| s.1.clone());
                    e.hash = seal.map(|s| s.2);
                    let actor = super::labels::actor_name(&names, e.actor_id, &e.actor);
                    let label = labels
                        .get(&(e.entity_type.clone(), e.entity_id.clone()))
                        .cloned();
                    ListedEvent::new(e, actor, label)
                })
                .collect();
            Ok(Paginated::new(items, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Verify the audit record: every sealed entry intact, nothing removed, every signed
/// checkpoint and settlement anchor consistent with the entries.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, body = VerifyReport)),
    security(("bearer" = []))
)]
#[get("/audit/verify")]
pub async fn verify_chain(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<VerifyReport>> {
    let secrets = state.secrets.clone();
    Ok(web::Json(
        state
            .db
            .run(move |conn| super::verify(conn, &secrets))
            .await?,
    ))
}
