//! `GET /reports/subsidies/export`: the subsidy report as XLSX, for the office's own
//! spreadsheets and the auditors' working papers — the same groups, range and totals as
//! the JSON report, with Chinese names for the groups.

use actix_web::{HttpResponse, get, web};
use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};

use super::{Report, ReportQuery, subsidy_report};
use crate::auth::Auth;
use crate::auth::principal::Official;
use crate::error::ApiResult;
use crate::merchants::domain::Category;
use crate::spreadsheet::{
    Spreadsheet, formats, header_row, off_the_worker, response, xlsx_error, yuan,
};
use crate::state::AppState;

/// The subsidy report as XLSX (admin, auditor): one row per group, and the total.
#[utoipa::path(
    tag = "reports",
    params(ReportQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "XLSX")),
    security(("bearer" = []))
)]
#[get("/reports/subsidies/export")]
pub async fn subsidies_export(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    query: crate::http::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let (from, to) = q.range()?;
    let range = describe_range(q.from.as_deref(), q.to.as_deref());
    let group_by = q.group_by.clone();
    let report = state
        .read_reports(move |conn| subsidy_report(conn, &group_by, from, to))
        .await?;
    let filename = format!("subsidies-by-{}.xlsx", report.group_by);
    let sheet = off_the_worker(move || sheet(&report, &range)).await?;
    Ok(response(sheet, &filename))
}

/// The range as the title says it: `2026-01-01 至 2026-11-30`, open ends as 起/今.
fn describe_range(from: Option<&str>, to: Option<&str>) -> String {
    match (from, to) {
        (None, None) => "全部时间".to_owned(),
        (from, to) => format!(
            "{} 至 {}",
            from.map_or("最早", str::trim),
            to.map_or("今", str::trim)
        ),
    }
}

fn group_title(group_by: &str) -> &'static str {
    match group_by {
        "category" => "类别",
        "district" => "区县",
        "month" => "月份",
        "merchant" => "商家",
        "card_kind" => "卡别",
        "method" => "核销方式",
        _ => "人才层次",
    }
}

/// A group's name in Chinese: categories by their label, the rest as the report has it.
fn group_name(group_by: &str, key: &str, label: &str) -> String {
    if group_by == "category" {
        return Category::parse(key).map_or_else(|_| label.to_owned(), |c| c.label().to_owned());
    }
    label.to_owned()
}

fn sheet(report: &Report, range: &str) -> ApiResult<Spreadsheet> {
    let out = Spreadsheet::create()?;
    let mut book = Workbook::new();
    let ws = book.add_worksheet_with_constant_memory();
    write_report(ws, report, range).map_err(xlsx_error)?;
    Spreadsheet::finish(&mut book, out)
}

fn write_report(ws: &mut Worksheet, report: &Report, range: &str) -> Result<(), XlsxError> {
    let f = formats();
    let by = group_title(&report.group_by);
    ws.set_name("补贴统计")?;
    ws.write_string_with_format(
        0,
        0,
        format!("遂州英才卡 补贴统计（按{by}） {range}"),
        &f.bold,
    )?;
    header_row(
        ws,
        1,
        &[by, "笔数", "消费额(元)", "优惠额(元)", "补贴额(元)"],
        &f,
    )?;
    for (i, row) in report.rows.iter().enumerate() {
        let r = 2 + i as u32;
        ws.write_string(r, 0, group_name(&report.group_by, &row.key, &row.label))?;
        ws.write_number(r, 1, row.count as f64)?;
        ws.write_number_with_format(r, 2, yuan(row.bill_fen), &f.money)?;
        ws.write_number_with_format(r, 3, yuan(row.discount_fen), &f.money)?;
        ws.write_number_with_format(r, 4, yuan(row.subsidy_fen), &f.money)?;
    }
    let total = 2 + report.rows.len() as u32;
    let t = &report.total;
    ws.write_string_with_format(total, 0, "合计", &f.bold)?;
    ws.write_number_with_format(total, 1, t.count as f64, &f.bold)?;
    ws.write_number_with_format(total, 2, yuan(t.bill_fen), &f.bold_money)?;
    ws.write_number_with_format(total, 3, yuan(t.discount_fen), &f.bold_money)?;
    ws.write_number_with_format(total, 4, yuan(t.subsidy_fen), &f.bold_money)?;
    for (col, width) in [(0, 28), (1, 10), (2, 16), (3, 16), (4, 16)] {
        ws.set_column_width(col, width)?;
    }
    Ok(())
}
