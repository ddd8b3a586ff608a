//! Reports for officials and auditors: subsidies grouped by category, district, month,
//! merchant or tier — one GROUP BY over the redemptions (reversed ones excluded).

use actix_web::{get, web};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Auth;
use crate::auth::principal::Official;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub mod export;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(subsidies).service(export::subsidies_export);
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// `category`, `district`, `month`, `merchant`, `tier`, `card_kind` (the talents'
    /// own cards against family cards) or `method` (code against printed card and PIN).
    #[param(pattern = "^(category|district|month|merchant|tier|card_kind|method)$")]
    pub group_by: String,
    /// RFC 3339 or local date `YYYY-MM-DD`.
    #[param(inline)]
    pub from: Option<crate::text::SingleLine>,
    /// RFC 3339 or local date `YYYY-MM-DD` (inclusive of that day).
    #[param(inline)]
    pub to: Option<crate::text::SingleLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, QueryableByName)]
pub struct ReportRow {
    /// The group: a category, district, month `YYYY-MM`, merchant id or tier.
    #[diesel(sql_type = Text)]
    pub key: String,
    /// A readable name for the group (the merchant's name when grouping by merchant).
    #[diesel(sql_type = Text)]
    pub label: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub bill_fen: i64,
    #[diesel(sql_type = BigInt)]
    pub discount_fen: i64,
    #[diesel(sql_type = BigInt)]
    pub subsidy_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub group_by: String,
    pub rows: Vec<ReportRow>,
    pub total: ReportRow,
}

/// Subsidy totals per group (admin, auditor).
#[utoipa::path(tag = "reports", params(ReportQuery), responses((status = 200, body = Report)), security(("bearer" = [])))]
#[get("/reports/subsidies")]
pub async fn subsidies(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    query: crate::http::Query<ReportQuery>,
) -> ApiResult<web::Json<Report>> {
    let q = query.into_inner();
    let (from, to) = q.range()?;
    let report = state
        .read_reports(move |conn| subsidy_report(conn, &q.group_by, from, to))
        .await?;
    Ok(web::Json(report))
}

impl ReportQuery {
    /// The `[from, to)` instants of the query's filters (`to` takes its whole day).
    pub fn range(
        &self,
    ) -> ApiResult<(Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>)> {
        let parse = |value: &Option<crate::text::SingleLine>, end: bool, name: &'static str| {
            value
                .as_deref()
                .map(|v| crate::time::parse_filter(v, end))
                .transpose()
                .map_err(|e| ApiError::invalid_field(name, e))
        };
        Ok((
            parse(&self.from, false, "from")?,
            parse(&self.to, true, "to")?,
        ))
    }
}

/// Subsidy totals grouped by `group_by` over redemptions in `[from, to)`, reversed ones
/// excluded: one GROUP BY, fixed SQL per grouping (no user text reaches the statement).
pub fn subsidy_report(
    conn: &mut crate::db::DbConnection,
    group_by: &str,
    from: Option<chrono::NaiveDateTime>,
    to: Option<chrono::NaiveDateTime>,
) -> ApiResult<Report> {
    let (key, label, join) = match group_by {
        "category" => ("r.category", "r.category", ""),
        "district" => ("r.district", "r.district", ""),
        "month" => ("r.period", "r.period", ""),
        "tier" => ("r.tier", "r.tier", ""),
        "merchant" => (
            "CAST(r.merchant_id AS TEXT)",
            "m.name",
            "JOIN merchants m ON m.id = r.merchant_id",
        ),
        "card_kind" => (
            "CASE WHEN c.principal_card_id IS NULL THEN 'principal' ELSE 'dependent' END",
            "CASE WHEN c.principal_card_id IS NULL THEN '主卡' ELSE '附属卡' END",
            "JOIN cards c ON c.id = r.card_id",
        ),
        // A PIN redemption's identity window is negative (see redemptions::by_pin).
        "method" => (
            "CASE WHEN r.code_window < 0 THEN 'pin' ELSE 'code' END",
            "CASE WHEN r.code_window < 0 THEN '实体卡密码' ELSE '扫码' END",
            "",
        ),
        other => {
            return Err(ApiError::invalid_field(
                "group_by",
                format!(
                    "group_by must be category, district, month, merchant, tier, card_kind or method (got {other:?})"
                ),
            ));
        }
    };
    let year_start = |y| {
        crate::time::local_day_start(chrono::NaiveDate::from_ymd_opt(y, 1, 1).expect("valid date"))
    };
    let (from, to) = (
        from.unwrap_or_else(|| year_start(2000)),
        to.unwrap_or_else(|| year_start(3000)),
    );
    // SUM of BIGINT is NUMERIC on PostgreSQL: cast back, the totals fit in i64.
    let rows = diesel::sql_query(format!(
        "SELECT {key} AS key, {label} AS label, COUNT(*) AS count, \
         CAST(SUM(r.bill_fen) AS BIGINT) AS bill_fen, CAST(SUM(r.discount_fen) AS BIGINT) AS discount_fen, \
         CAST(SUM(r.subsidy_fen) AS BIGINT) AS subsidy_fen \
         FROM redemptions r {join} \
         WHERE r.status = 'active' AND r.created_at >= $1 AND r.created_at < $2 \
         GROUP BY {key}, {label} ORDER BY {key}"
    ))
    .bind::<Timestamp, _>(from)
    .bind::<Timestamp, _>(to)
    .load::<ReportRow>(conn)?;
    let total = ReportRow {
        key: "total".into(),
        label: "合计".into(),
        count: rows.iter().map(|r| r.count).sum(),
        bill_fen: rows.iter().map(|r| r.bill_fen).sum(),
        discount_fen: rows.iter().map(|r| r.discount_fen).sum(),
        subsidy_fen: rows.iter().map(|r| r.subsidy_fen).sum(),
    };
    Ok(Report {
        group_by: group_by.to_owned(),
        rows,
        total,
    })
}
