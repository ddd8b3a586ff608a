//! HTTP for settlements, payouts and their exports.

use actix_web::{HttpResponse, get, post, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::export::{self, PayoutRow};
use super::{LineView, Period, Settlement, SettlementView, Step};
use crate::auth::principal::{Admin, MerchantOwner, Official, OfficialOrStaff};
use crate::auth::{Auth, Principal};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::{cards, merchants, redemptions, settlements, talents};
use crate::spreadsheet::{off_the_worker, response as xlsx};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(get_one)
        .service(confirm)
        .service(verify)
        .service(approve)
        .service(reject)
        .service(pay)
        .service(export_statement)
        .service(export_payouts);
}

fn merchant_names(
    conn: &mut DbConnection,
    ids: &[i64],
) -> ApiResult<std::collections::HashMap<i64, String>> {
    Ok(merchants::table
        .filter(merchants::id.eq_any(ids))
        .select((merchants::id, merchants::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

fn view(s: &Settlement, merchant_name: String, lines: Option<Vec<LineView>>) -> SettlementView {
    SettlementView {
        id: s.id,
        merchant_id: s.merchant_id,
        merchant_name,
        period: s.period.clone(),
        run: s.run,
        status: s.status.clone(),
        line_count: s.line_count,
        bill_fen: s.bill_fen,
        discount_fen: s.discount_fen,
        subsidy_fen: s.subsidy_fen,
        confirmed_by: s.confirmed_by,
        verified_by: s.verified_by,
        approved_by: s.approved_by,
        paid_by: s.paid_by,
        bank_reference: s.bank_reference.clone(),
        invoice_no: s.invoice_no.clone(),
        rejected_reason: s.rejected_reason.clone(),
        lines_digest: s.lines_digest.clone(),
        audit_head_seq: s.audit_head_seq,
        audit_head_hash: s.audit_head_hash.clone(),
        audit_checkpoint_size: s.audit_checkpoint_size,
        audit_checkpoint_root: s.audit_checkpoint_root.clone(),
        lines,
    }
}

pub fn views(conn: &mut DbConnection, rows: &[Settlement]) -> ApiResult<Vec<SettlementView>> {
    let names = merchant_names(
        conn,
        &rows.iter().map(|s| s.merchant_id).collect::<Vec<_>>(),
    )?;
    Ok(rows
        .iter()
        .map(|s| {
            view(
                s,
                names.get(&s.merchant_id).cloned().unwrap_or_default(),
                None,
            )
        })
        .collect())
}

/// The settlement with its lines (talents by masked name only), after a scope check.
fn full_view(conn: &mut DbConnection, principal: &Principal, id: i64) -> ApiResult<SettlementView> {
    let s = super::get(conn, id)?;
    principal.ensure_can_view_merchant(s.merchant_id)?;
    let lines = super::lines(conn, id)?;
    let names: std::collections::HashMap<i64, String> = redemptions::table
        .inner_join(cards::table.on(cards::id.eq(redemptions::card_id)))
        .inner_join(talents::table.on(talents::id.eq(cards::talent_id)))
        .filter(redemptions::id.eq_any(lines.iter().map(|l| l.redemption_id).collect::<Vec<_>>()))
        .select((redemptions::id, talents::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let line_views = lines
        .iter()
        .map(|l| LineView {
            redemption_id: l.redemption_id,
            kind: l.kind.clone(),
            bill_fen: l.bill_fen,
            discount_fen: l.discount_fen,
            subsidy_fen: l.subsidy_fen,
            at: crate::time::to_local(l.at).to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            talent: crate::talents::domain::mask_name(
                names.get(&l.redemption_id).map_or("", String::as_str),
            ),
        })
        .collect();
    let name = merchant_names(conn, &[s.merchant_id])?
        .remove(&s.merchant_id)
        .unwrap_or_default();
    Ok(view(&s, name, Some(line_views)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SettlementFilter {
    /// Local month `YYYY-MM`.
    #[param(pattern = r"^\s*2[0-9]{3}-(0[1-9]|1[0-2])\s*$")]
    pub period: Option<String>,
    /// `draft`, `confirmed`, `verified`, `approved`, `paid` or `rejected`.
    #[param(pattern = "^(draft|confirmed|verified|approved|paid|rejected)$")]
    pub status: Option<String>,
    pub merchant_id: Option<i64>,
}

const STATUSES: [&str; 6] = [
    "draft",
    "confirmed",
    "verified",
    "approved",
    "paid",
    "rejected",
];

/// Settlements, newest first: merchants see their own, officials all.
#[utoipa::path(tag = "settlements", params(PageQuery, SettlementFilter), responses((status = 200, body = Paginated<SettlementView>)), security(("bearer" = [])))]
#[get("/settlements")]
pub async fn list(
    auth: Auth<OfficialOrStaff>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
    filter: crate::http::Query<SettlementFilter>,
) -> ApiResult<web::Json<Paginated<SettlementView>>> {
    let page = Page::try_from(page.into_inner())?;
    let f = filter.into_inner();
    let period = f.period.as_deref().map(Period::parse).transpose()?;
    if let Some(s) = &f.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::invalid_field(
            "status",
            format!("status must be one of {}", STATUSES.join(", ")),
        ));
    }
    let scope = auth.merchant_scope();
    if let (Some(own), Some(asked)) = (scope, f.merchant_id)
        && own != asked
    {
        return Err(ApiError::forbidden("This belongs to another merchant."));
    }
    let merchant = scope.or(f.merchant_id);
    let result = state
        .db
        .run(move |conn| {
            let build = || {
                let mut q = settlements::table.into_boxed();
                if let Some(p) = &period {
                    q = q.filter(settlements::period.eq(p.as_str().to_owned()));
                }
                if let Some(s) = &f.status {
                    q = q.filter(settlements::status.eq(s.to_string()));
                }
                if let Some(m) = merchant {
                    q = q.filter(settlements::merchant_id.eq(m));
                }
                q
            };
            let total = build().count().get_result(conn)?;
            let rows: Vec<Settlement> = build()
                .order(settlements::id.desc())
                .limit(page.per_page)
                .offset(page.offset())
                .select(Settlement::as_select())
                .load(conn)?;
            Ok(Paginated::new(views(conn, &rows)?, total, page))
        })
        .await?;
    Ok(web::Json(result))
}

/// One settlement with its lines.
#[utoipa::path(tag = "settlements", params(("id" = i64, Path)), responses((status = 200, body = SettlementView)), security(("bearer" = [])))]
#[get("/settlements/{id}")]
pub async fn get_one(
    auth: Auth<OfficialOrStaff>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<SettlementView>> {
    let id = id.into_inner();
    let principal = auth.into_inner();
    Ok(web::Json(
        state
            .db
            .run(move |conn| full_view(conn, &principal, id))
            .await?,
    ))
}

async fn step(
    state: web::Data<AppState>,
    principal: Principal,
    id: i64,
    step: Step,
    text: Option<String>,
) -> ApiResult<web::Json<SettlementView>> {
    let checkpoint = match step {
        Step::Approve => {
            let (secrets, config) = (state.secrets.clone(), state.config.clone());
            Some(
                state
                    .db
                    .run_writing(move |conn| {
                        crate::audit::seal_pending(conn)?;
                        crate::audit::checkpoints::sign(
                            conn,
                            &secrets,
                            &config,
                            crate::audit::checkpoints::Reason::Settlement,
                        )
                    })
                    .await?,
            )
        }
        _ => None,
    };
    let view = state
        .db
        .write(move |conn| {
            super::apply(
                conn,
                &principal,
                id,
                step,
                text.as_deref(),
                checkpoint.as_ref(),
                crate::time::now(),
            )?;
            full_view(conn, &principal, id)
        })
        .await?;
    // Approval, payout and rejection move the budget's parts.
    state.budget_rooms.forget();
    Ok(web::Json(view))
}

/// What `invoice_no` is once trimmed: a 发票号码 is 8 or 20 digits; some merchants
/// write their own letters or dashes around it, so letters and `-` are allowed too.
const INVOICE_NO_CORE: &str = "[0-9A-Za-z-]{1,40}";

/// The schema of `invoice_no` as [`parse_invoice_no`] takes it (`null` means none).
pub fn invoice_no_schema() -> utoipa::openapi::schema::Object {
    crate::text::or_null(crate::text::pattern_schema(
        crate::text::trimmed_pattern(INVOICE_NO_CORE),
        "The merchant's 发票 number for the subsidy (optional): 1 to 40 letters A–Z, a–z, digits and hyphens, white space around it trimmed.",
    ))
}

/// An invoice number: trimmed, 1 to 40 ASCII letters, digits and hyphens.
pub fn parse_invoice_no(raw: &str) -> ApiResult<String> {
    let value = raw.trim();
    if value.is_empty()
        || value.len() > 40
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ApiError::invalid_field(
            "invoice_no",
            "invoice_no (发票号码) must have 1 to 40 letters, digits or hyphens",
        ));
    }
    Ok(value.to_owned())
}

/// The owner's confirmation: optionally with the invoice for the subsidy.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The merchant's 发票 number for the subsidy; shown on the settlement, its
    /// statement and the payout batch.
    #[serde(default)]
    #[schema(schema_with = invoice_no_schema)]
    pub invoice_no: Option<crate::text::SingleLine>,
}

/// The merchant owner confirms the draft, optionally with the 发票 number for the subsidy.
#[utoipa::path(
    tag = "settlements",
    params(("id" = i64, Path)),
    request_body(content = Option<ConfirmBody>, description = "optional: {invoice_no}"),
    responses((status = 200, body = SettlementView), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/settlements/{id}/confirm")]
pub async fn confirm(
    auth: Auth<MerchantOwner>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::OptionalJson<ConfirmBody>,
) -> ApiResult<web::Json<SettlementView>> {
    let invoice_no = body
        .0
        .and_then(|b| b.invoice_no)
        .map(|raw| parse_invoice_no(&raw))
        .transpose()?;
    step(
        state,
        auth.into_inner(),
        id.into_inner(),
        Step::Confirm,
        invoice_no,
    )
    .await
}

/// A first official verifies the confirmed settlement.
#[utoipa::path(tag = "settlements", params(("id" = i64, Path)), responses((status = 200, body = SettlementView), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
#[post("/settlements/{id}/verify")]
pub async fn verify(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<SettlementView>> {
    step(
        state,
        auth.into_inner(),
        id.into_inner(),
        Step::Verify,
        None,
    )
    .await
}

/// A second official (not the verifier) approves; the budget moves reserved → settled
/// and the lines' digest and a freshly signed audit checkpoint are recorded.
#[utoipa::path(tag = "settlements", params(("id" = i64, Path)), responses((status = 200, body = SettlementView), (status = 403, description = "four_eyes", body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
#[post("/settlements/{id}/approve")]
pub async fn approve(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<SettlementView>> {
    step(
        state,
        auth.into_inner(),
        id.into_inner(),
        Step::Approve,
        None,
    )
    .await
}

/// Reject a settlement under review; its lines go back to the next run.
#[utoipa::path(tag = "settlements", params(("id" = i64, Path)), request_body = crate::text::RequiredReason, responses((status = 200, body = SettlementView), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
#[post("/settlements/{id}/reject")]
pub async fn reject(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<crate::text::RequiredReason>,
) -> ApiResult<web::Json<SettlementView>> {
    let reason = body.parse()?;
    step(
        state,
        auth.into_inner(),
        id.into_inner(),
        Step::Reject,
        Some(reason),
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    /// The bank's reference of the transfer: 1 to 64 printable characters.
    #[schema(value_type = String, min_length = 1, max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202A-\u202F\u205F\u2066-\u2069\u3000][^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    pub bank_reference: crate::text::SingleLine,
}

/// Record the payout of an approved settlement. Paid is final.
#[utoipa::path(tag = "settlements", params(("id" = i64, Path)), request_body = PayBody, responses((status = 200, body = SettlementView), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
#[post("/settlements/{id}/pay")]
pub async fn pay(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<PayBody>,
) -> ApiResult<web::Json<SettlementView>> {
    let reference = body.bank_reference.trim().to_owned();
    if reference.is_empty()
        || reference.chars().count() > 64
        || reference.chars().any(char::is_control)
    {
        return Err(ApiError::invalid_field(
            "bank_reference",
            "bank_reference is required: 1 to 64 printable characters",
        ));
    }
    step(
        state,
        auth.into_inner(),
        id.into_inner(),
        Step::Pay,
        Some(reference),
    )
    .await
}

/// Builds a spreadsheet on the blocking pool: a statement of a busy merchant's month has
/// tens of thousands of lines, and an HTTP worker must not stall its other requests.
/// The settlement statement (结算单) as XLSX.
#[utoipa::path(tag = "settlements", params(("id" = i64, Path)), responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "XLSX")), security(("bearer" = [])))]
#[get("/settlements/{id}/export")]
pub async fn export_statement(
    auth: Auth<OfficialOrStaff>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let principal = auth.into_inner();
    let settlement = state
        .db
        .run(move |conn| full_view(conn, &principal, id))
        .await?;
    let filename = format!("settlement-{}-{}.xlsx", settlement.period, settlement.id);
    let sheet = off_the_worker(move || {
        export::statement(&settlement, settlement.lines.as_deref().unwrap_or_default())
    })
    .await?;
    Ok(xlsx(sheet, &filename))
}

/// A payout row as read: settlement, merchant and bank, amount, invoice, payment.
type PayoutSelection = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<chrono::NaiveDateTime>,
);

#[derive(Debug, Deserialize, IntoParams)]
pub struct PayoutQuery {
    /// Local month `YYYY-MM`.
    #[param(pattern = r"^\s*2[0-9]{3}-(0[1-9]|1[0-2])\s*$")]
    pub period: String,
}

/// The bank payout batch of a period: one row per approved or paid settlement — which,
/// with the bank reference once paid — and the totals (all, paid, to pay).
#[utoipa::path(tag = "settlements", params(PayoutQuery), responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "XLSX")), security(("bearer" = [])))]
#[get("/payouts/export")]
pub async fn export_payouts(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    query: crate::http::Query<PayoutQuery>,
) -> ApiResult<HttpResponse> {
    let period = Period::parse(&query.period)?;
    let p = period.as_str().to_owned();
    let rows = state
        .db
        .run(move |conn| {
            let rows = settlements::table
                .inner_join(merchants::table.on(merchants::id.eq(settlements::merchant_id)))
                .filter(settlements::period.eq(&p))
                .filter(settlements::status.eq_any(["approved", "paid"]))
                .order(settlements::id)
                .select((
                    settlements::id,
                    merchants::name,
                    merchants::uscc,
                    merchants::bank_name,
                    merchants::bank_account,
                    settlements::subsidy_fen,
                    settlements::invoice_no,
                    settlements::bank_reference,
                    settlements::paid_at,
                ))
                .load::<PayoutSelection>(conn)?;
            Ok(rows
                .into_iter()
                .map(
                    |(
                        settlement_id,
                        merchant_name,
                        uscc,
                        bank_name,
                        bank_account,
                        subsidy_fen,
                        invoice_no,
                        bank_reference,
                        paid_at,
                    )| {
                        PayoutRow {
                            settlement_id,
                            merchant_name,
                            uscc,
                            bank_name,
                            bank_account,
                            subsidy_fen,
                            invoice_no,
                            paid: bank_reference.zip(paid_at),
                        }
                    },
                )
                .collect::<Vec<_>>())
        })
        .await?;
    let p = period.as_str().to_owned();
    let sheet = off_the_worker(move || export::payout_batch(&p, &rows)).await?;
    Ok(xlsx(sheet, &format!("payouts-{}.xlsx", period.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_invoice_no_pattern_is_what_the_parser_takes() {
        let accepts =
            |s: &str| crate::text::SingleLine::parse(s).is_ok() && parse_invoice_no(s).is_ok();
        crate::text::pattern_check::agrees(
            &[&crate::text::trimmed_pattern(INVOICE_NO_CORE)],
            &[
                "12345678",
                " 25442000000012345678\u{3000}",
                "SZ-2026-0001",
                "1234567890123456789012345678901234567890",
            ],
            accepts,
        );
        assert_eq!(
            parse_invoice_no("  SZ-0001 ").unwrap(),
            "SZ-0001",
            "trimmed"
        );
        for bad in ["", "   ", "12 34", "发票123", "1234/5678", &"9".repeat(41)] {
            assert!(parse_invoice_no(bad).is_err(), "{bad:?} accepted");
        }
        let schema = serde_json::to_value(invoice_no_schema()).unwrap();
        assert_eq!(schema["type"], serde_json::json!(["string", "null"]));
    }

    #[test]
    fn the_document_says_confirm_takes_an_optional_invoice_number() {
        let doc = serde_json::to_value(crate::startup::openapi_document()).unwrap();
        let step = &doc["paths"]["/api/v1/settlements/{id}/confirm"]["post"];
        assert_ne!(step["requestBody"]["required"], true, "{step}");
        assert!(step["responses"]["422"].is_object(), "{step}");
        let body = &doc["components"]["schemas"]["ConfirmBody"];
        assert_eq!(
            body["properties"]["invoice_no"]["pattern"],
            crate::text::trimmed_pattern(INVOICE_NO_CORE),
            "{body}"
        );
        assert_eq!(body["additionalProperties"], false, "{body}");
        assert!(
            doc["components"]["schemas"]["SettlementView"]["properties"]["invoice_no"].is_object()
        );
    }
}
