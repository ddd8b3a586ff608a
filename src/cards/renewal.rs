//! Renewing cards (DESIGN §10): the office lists the cards that run out soon
//! (`GET /cards?expiring_within_days=N`, or as a spreadsheet) and extends each one
//! (`POST /cards/{no}/renew {valid_until}`, audited). The card keeps its number, so
//! the talent's codes keep working; a revoked or replaced card cannot be renewed.

use actix_web::{HttpResponse, get, post, web};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::card_no::CardNo;
use super::{Card, CardView, expiry_for, last_valid_day};
use crate::audit;
use crate::auth::principal::{Admin, Official};
use crate::auth::{Actor, Auth};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::{cards, talents};
use crate::spreadsheet::{Spreadsheet, formats, header_row, off_the_worker, response, xlsx_error};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(renew_card).service(export_expiring);
}

/// The longest look ahead for expiring cards: a year.
pub const MAX_WITHIN_DAYS: u32 = 366;

/// `expiring_within_days` checked: 1 to 366.
pub fn within(days: u32) -> ApiResult<chrono::Duration> {
    if (1..=MAX_WITHIN_DAYS).contains(&days) {
        Ok(chrono::Duration::days(i64::from(days)))
    } else {
        Err(ApiError::invalid_field(
            "expiring_within_days",
            format!("expiring_within_days must be 1 to {MAX_WITHIN_DAYS}"),
        ))
    }
}

/// The SQL condition "usable now, and runs out within `days`": active or suspended, not
/// yet past its last day.
pub fn expiring(
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> Box<
    dyn BoxableExpression<cards::table, crate::db::MultiBackend, SqlType = diesel::sql_types::Bool>,
> {
    Box::new(
        cards::status
            .eq_any(["active", "suspended"])
            .and(cards::expires_at.gt(now))
            .and(cards::expires_at.le(until)),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewBody {
    /// The new last valid day (local date), after the current one and within 20 years.
    #[schema(value_type = String, format = Date)]
    pub valid_until: NaiveDate,
}

/// Extends `card_no` to last through `valid_until`.
pub fn renew(
    conn: &mut DbConnection,
    actor: &Actor,
    card_no: &CardNo,
    valid_until: NaiveDate,
    now: NaiveDateTime,
) -> ApiResult<Card> {
    let before = super::find_by_no(conn, card_no)?;
    if before.is_dependent() {
        return Err(ApiError::invalid_transition(
            "A family card is valid as long as its principal card: renew the principal card.",
        ));
    }
    if !["active", "suspended", "expired"].contains(&before.status.as_str()) {
        return Err(ApiError::invalid_transition(format!(
            "A {} card cannot be renewed; issue a new one.",
            before.status
        )));
    }
    let expires_at = expiry_for(Some(valid_until), 0, now)?;
    if expires_at <= before.expires_at {
        return Err(ApiError::invalid_field(
            "valid_until",
            format!(
                "valid_until must be after the card's current last day, {}",
                last_valid_day(before.expires_at)
            ),
        ));
    }
    // An expired card that is renewed is live again: expiry is a date, not a decision.
    let status = if before.status == "expired" {
        "active"
    } else {
        before.status.as_str()
    };
    diesel::update(cards::table.find(before.id))
        .set((cards::expires_at.eq(expires_at), cards::status.eq(status)))
        .execute(conn)?;
    let after = super::find_by_no(conn, card_no)?;
    audit::record(
        conn,
        actor,
        "card.renew",
        "card",
        after.id,
        Some(&before.view(now)),
        Some(&after.view(now)),
    )?;
    super::family::follow_renewal(conn, actor, &after, now)?;
    Ok(after)
}

/// Extend a card's validity (admin, audited). The card keeps its number and its codes.
#[utoipa::path(
    tag = "cards",
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),
    request_body = RenewBody,
    responses((status = 200, body = CardView), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/cards/{card_no}/renew")]
pub async fn renew_card(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: crate::http::Json<RenewBody>,
) -> ApiResult<web::Json<CardView>> {
    let card_no = CardNo::parse(&path.into_inner())?;
    let valid_until = body.into_inner().valid_until;
    let actor = auth.actor();
    let now = crate::time::now();
    let card = state
        .db
        .write(move |conn| renew(conn, &actor, &card_no, valid_until, now))
        .await?;
    Ok(web::Json(card.view(now)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExpiringQuery {
    /// Cards that run out within this many days (1–366).
    #[param(minimum = 1, maximum = 366)]
    pub expiring_within_days: u32,
}

/// One row of the renewal list.
struct Expiring {
    card_no: String,
    holder: String,
    tier: String,
    last_day: NaiveDate,
    status: String,
}

/// The cards that run out within N days as XLSX, soonest first (officials).
#[utoipa::path(
    tag = "cards",
    params(ExpiringQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "XLSX")),
    security(("bearer" = []))
)]
#[get("/cards/expiring/export")]
pub async fn export_expiring(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    query: crate::http::Query<ExpiringQuery>,
) -> ApiResult<HttpResponse> {
    let days = query.expiring_within_days;
    let span = within(days)?;
    let now = crate::time::now();
    let rows = state
        .db
        .run(move |conn| {
            // The list's own condition, then the holders' names in one more query.
            let found: Vec<Card> = cards::table
                .into_boxed()
                .filter(expiring(now, now + span))
                .order((cards::expires_at.asc(), cards::id.asc()))
                .select(Card::as_select())
                .load(conn)?;
            let holders: std::collections::HashMap<i64, String> = talents::table
                .filter(talents::id.eq_any(found.iter().map(|c| c.talent_id)))
                .select((talents::id, talents::name))
                .load::<(i64, String)>(conn)?
                .into_iter()
                .collect();
            Ok(found
                .into_iter()
                .map(|card| Expiring {
                    holder: holders.get(&card.talent_id).cloned().unwrap_or_default(),
                    last_day: last_valid_day(card.expires_at),
                    card_no: card.card_no,
                    tier: card.tier,
                    status: card.status,
                })
                .collect::<Vec<_>>())
        })
        .await?;
    let today = crate::time::to_local(now).date_naive();
    let sheet = off_the_worker(move || expiring_sheet(days, today, &rows)).await?;
    Ok(response(sheet, &format!("cards-expiring-{days}d.xlsx")))
}

fn expiring_sheet(days: u32, today: NaiveDate, rows: &[Expiring]) -> ApiResult<Spreadsheet> {
    let out = Spreadsheet::create()?;
    let mut book = Workbook::new();
    let ws = book.add_worksheet_with_constant_memory();
    write_expiring(ws, days, today, rows).map_err(xlsx_error)?;
    Spreadsheet::finish(&mut book, out)
}

fn write_expiring(
    ws: &mut Worksheet,
    days: u32,
    today: NaiveDate,
    rows: &[Expiring],
) -> Result<(), XlsxError> {
    let f = formats();
    ws.set_name("待续期")?;
    ws.write_string_with_format(
        0,
        0,
        format!("遂州英才卡 {days} 天内到期的卡（{today} 制表）"),
        &f.bold,
    )?;
    header_row(
        ws,
        1,
        &["卡号", "持卡人", "人才层次", "有效期至", "剩余天数", "状态"],
        &f,
    )?;
    for (i, row) in rows.iter().enumerate() {
        let r = 2 + i as u32;
        // Text: twelve digits must not turn into a number in Excel.
        ws.write_string(r, 0, &row.card_no)?;
        ws.write_string(r, 1, &row.holder)?;
        ws.write_string(r, 2, &row.tier)?;
        ws.write_string(r, 3, row.last_day.to_string())?;
        ws.write_number(r, 4, (row.last_day - today).num_days() as f64 + 1.0)?;
        ws.write_string(
            r,
            5,
            if row.status == "suspended" {
                "已暂停"
            } else {
                "有效"
            },
        )?;
    }
    for (col, width) in [(0, 16), (1, 14), (2, 10), (3, 12), (4, 10), (5, 8)] {
        ws.set_column_width(col, width)?;
    }
    Ok(())
}
