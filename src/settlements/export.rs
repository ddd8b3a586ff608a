//! Spreadsheets that open correctly in Chinese Excel: the settlement statement (结算单)
//! and the bank payout batch. XLSX (no encoding guesswork: text is UTF-8 inside);
//! amounts are numbers in 元 with two decimals, never text.

use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::{LineView, SettlementView};
use crate::error::{ApiError, ApiResult};

pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn yuan(fen: i64) -> f64 {
    // Display only: fen → 元. Exact for every amount below 2^53 fen.
    fen as f64 / 100.0
}

struct Formats {
    money: Format,
    bold: Format,
    bold_money: Format,
    header: Format,
}

fn formats() -> Formats {
    Formats {
        money: Format::new().set_num_format("#,##0.00"),
        bold: Format::new().set_bold(),
        bold_money: Format::new().set_bold().set_num_format("#,##0.00"),
        header: Format::new()
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_background_color(0xE8EEF7),
    }
}

fn header_row(ws: &mut Worksheet, row: u32, titles: &[&str], f: &Formats) -> Result<(), XlsxError> {
    for (col, title) in titles.iter().enumerate() {
        ws.write_string_with_format(row, col as u16, *title, &f.header)?;
    }
    Ok(())
}

fn xlsx_error(e: XlsxError) -> ApiError {
    ApiError::internal(anyhow::anyhow!("writing spreadsheet: {e}"))
}

/// 结算单: the settlement's header, its lines and a totals row.
pub fn statement(s: &SettlementView, lines: &[LineView]) -> ApiResult<Vec<u8>> {
    let mut book = Workbook::new();
    let f = formats();
    let ws = book.add_worksheet();
    (|| -> Result<(), XlsxError> {
        ws.set_name("结算单")?;
        ws.write_string_with_format(0, 0, "遂州英才卡 商家补贴结算单", &f.bold)?;
        let info: [(&str, String); 6] = [
            ("结算单号", s.id.to_string()),
            ("商家", s.merchant_name.clone()),
            ("结算期间", format!("{} (第{}次)", s.period, s.run)),
            ("状态", s.status.clone()),
            ("笔数", s.line_count.to_string()),
            ("银行流水号", s.bank_reference.clone().unwrap_or_default()),
        ];
        for (i, (k, v)) in info.iter().enumerate() {
            ws.write_string_with_format(1 + i as u32, 0, *k, &f.bold)?;
            ws.write_string(1 + i as u32, 1, v)?;
        }
        let top = 8;
        header_row(
            ws,
            top,
            &[
                "核销编号",
                "类型",
                "时间",
                "人才",
                "消费金额(元)",
                "优惠金额(元)",
                "补贴金额(元)",
            ],
            &f,
        )?;
        for (i, l) in lines.iter().enumerate() {
            let r = top + 1 + i as u32;
            ws.write_number(r, 0, l.redemption_id as f64)?;
            ws.write_string(
                r,
                1,
                if l.kind == "reversal" {
                    "冲正"
                } else {
                    "核销"
                },
            )?;
            ws.write_string(r, 2, &l.at)?;
            ws.write_string(r, 3, &l.talent)?;
            ws.write_number_with_format(r, 4, yuan(l.bill_fen), &f.money)?;
            ws.write_number_with_format(r, 5, yuan(l.discount_fen), &f.money)?;
            ws.write_number_with_format(r, 6, yuan(l.subsidy_fen), &f.money)?;
        }
        let total = top + 1 + lines.len() as u32;
        ws.write_string_with_format(total, 0, "合计", &f.bold)?;
        ws.write_number_with_format(total, 4, yuan(s.bill_fen), &f.bold_money)?;
        ws.write_number_with_format(total, 5, yuan(s.discount_fen), &f.bold_money)?;
        ws.write_number_with_format(total, 6, yuan(s.subsidy_fen), &f.bold_money)?;
        ws.set_column_width(2, 26)?;
        for col in [1, 3, 4, 5, 6] {
            ws.set_column_width(col, 14)?;
        }
        Ok(())
    })()
    .map_err(xlsx_error)?;
    book.save_to_buffer().map_err(xlsx_error)
}

/// One row of the bank payout batch.
pub struct PayoutRow {
    pub settlement_id: i64,
    pub merchant_name: String,
    pub uscc: String,
    pub bank_name: String,
    pub bank_account: String,
    pub subsidy_fen: i64,
}

/// 补贴拨付批次: one row per approved settlement of the period, and a totals row.
pub fn payout_batch(period: &str, rows: &[PayoutRow]) -> ApiResult<Vec<u8>> {
    let mut book = Workbook::new();
    let f = formats();
    let ws = book.add_worksheet();
    (|| -> Result<(), XlsxError> {
        ws.set_name("拨付批次")?;
        ws.write_string_with_format(0, 0, format!("遂州英才卡 补贴拨付批次 {period}"), &f.bold)?;
        header_row(
            ws,
            1,
            &[
                "结算单号",
                "商家名称",
                "统一社会信用代码",
                "开户银行",
                "银行账号",
                "拨付金额(元)",
            ],
            &f,
        )?;
        for (i, p) in rows.iter().enumerate() {
            let r = 2 + i as u32;
            ws.write_number(r, 0, p.settlement_id as f64)?;
            ws.write_string(r, 1, &p.merchant_name)?;
            ws.write_string(r, 2, &p.uscc)?;
            ws.write_string(r, 3, &p.bank_name)?;
            // Text, so Excel keeps every digit of a long account number.
            ws.write_string(r, 4, &p.bank_account)?;
            ws.write_number_with_format(r, 5, yuan(p.subsidy_fen), &f.money)?;
        }
        let total = 2 + rows.len() as u32;
        ws.write_string_with_format(total, 0, "合计", &f.bold)?;
        ws.write_number_with_format(
            total,
            5,
            yuan(rows.iter().map(|p| p.subsidy_fen).sum()),
            &f.bold_money,
        )?;
        for (col, width) in [(1, 28), (2, 22), (3, 20), (4, 24), (5, 14)] {
            ws.set_column_width(col, width)?;
        }
        Ok(())
    })()
    .map_err(xlsx_error)?;
    book.save_to_buffer().map_err(xlsx_error)
}
