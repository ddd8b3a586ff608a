//! The settlement statement (结算单) and the bank payout batch as XLSX, written with the
//! streamed pieces of [`crate::spreadsheet`].

use chrono::NaiveDateTime;
use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};

use super::{LineView, SettlementView};
use crate::error::ApiResult;
use crate::spreadsheet::{Spreadsheet, formats, header_row, xlsx_error, yuan};

/// 结算单: the settlement's header, its lines and a totals row.
pub fn statement(s: &SettlementView, lines: &[LineView]) -> ApiResult<Spreadsheet> {
    let out = Spreadsheet::create()?;
    let mut book = Workbook::new();
    // Rows are written top to bottom, as constant-memory mode requires.
    let ws = book.add_worksheet_with_constant_memory();
    write_statement(ws, s, lines).map_err(xlsx_error)?;
    Spreadsheet::finish(&mut book, out)
}

fn write_statement(
    ws: &mut Worksheet,
    s: &SettlementView,
    lines: &[LineView],
) -> Result<(), XlsxError> {
    let f = formats();
    ws.set_name("结算单")?;
    ws.write_string_with_format(0, 0, "遂州英才卡 商家补贴结算单", &f.bold)?;
    let info: [(&str, String); 7] = [
        ("结算单号", s.id.to_string()),
        ("商家", s.merchant_name.clone()),
        ("结算期间", format!("{} (第{}次)", s.period, s.run)),
        ("状态", s.status.clone()),
        ("笔数", s.line_count.to_string()),
        ("发票号码", s.invoice_no.clone().unwrap_or_default()),
        ("银行流水号", s.bank_reference.clone().unwrap_or_default()),
    ];
    for (i, (k, v)) in info.iter().enumerate() {
        ws.write_string_with_format(1 + i as u32, 0, *k, &f.bold)?;
        ws.write_string(1 + i as u32, 1, v)?;
    }
    let top = 9;
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
}

/// One row of the bank payout batch.
pub struct PayoutRow {
    pub settlement_id: i64,
    pub merchant_name: String,
    pub uscc: String,
    pub bank_name: String,
    pub bank_account: String,
    pub subsidy_fen: i64,
    /// The merchant's 发票 number for this subsidy, when given at confirmation.
    pub invoice_no: Option<String>,
    /// Paid: the bank's reference and when it was recorded; `None` while approved and
    /// waiting for the transfer.
    pub paid: Option<(String, NaiveDateTime)>,
}

/// 补贴拨付批次: one row per approved or paid settlement of the period — which, and the
/// bank's reference once paid — and the totals: all, paid, still to pay.
pub fn payout_batch(period: &str, rows: &[PayoutRow]) -> ApiResult<Spreadsheet> {
    let out = Spreadsheet::create()?;
    let mut book = Workbook::new();
    let ws = book.add_worksheet_with_constant_memory();
    write_payout_batch(ws, period, rows).map_err(xlsx_error)?;
    Spreadsheet::finish(&mut book, out)
}

fn write_payout_batch(
    ws: &mut Worksheet,
    period: &str,
    rows: &[PayoutRow],
) -> Result<(), XlsxError> {
    let f = formats();
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
            "发票号码",
            "状态",
            "银行流水号",
            "拨付时间",
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
        // Text: an all-digit 发票号码 must keep its leading zeros.
        if let Some(invoice_no) = &p.invoice_no {
            ws.write_string(r, 6, invoice_no)?;
        }
        match &p.paid {
            Some((reference, at)) => {
                ws.write_string(r, 7, "已拨付")?;
                ws.write_string(r, 8, reference)?;
                ws.write_string(
                    r,
                    9,
                    crate::time::to_local(*at)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                )?;
            }
            None => {
                ws.write_string(r, 7, "待拨付")?;
            }
        }
    }
    let total = 2 + rows.len() as u32;
    let sum = |paid: Option<bool>| -> f64 {
        yuan(
            rows.iter()
                .filter(|p| paid.is_none_or(|paid| p.paid.is_some() == paid))
                .map(|p| p.subsidy_fen)
                .sum(),
        )
    };
    for (offset, label, which) in [
        (0, "合计", None),
        (1, "其中已拨付", Some(true)),
        (2, "其中待拨付", Some(false)),
    ] {
        ws.write_string_with_format(total + offset, 0, label, &f.bold)?;
        ws.write_number_with_format(total + offset, 5, sum(which), &f.bold_money)?;
    }
    for (col, width) in [
        (1, 28),
        (2, 22),
        (3, 20),
        (4, 24),
        (5, 14),
        (6, 24),
        (7, 10),
        (8, 24),
        (9, 18),
    ] {
        ws.set_column_width(col, width)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read, Seek};

    use calamine::{Data, Reader, Xlsx};

    use super::*;
    use crate::spreadsheet::CHUNK;

    fn cells(bytes: Vec<u8>, sheet: &str) -> Vec<Vec<Data>> {
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range(sheet).unwrap();
        range.rows().map(|r| r.to_vec()).collect()
    }

    /// The same sheet written the way exports were before streaming: every cell in
    /// memory, then `save_to_buffer`.
    fn in_memory(write: impl FnOnce(&mut Worksheet) -> Result<(), XlsxError>) -> Vec<u8> {
        let mut book = Workbook::new();
        write(book.add_worksheet()).unwrap();
        book.save_to_buffer().unwrap()
    }

    fn settlement(lines: &[LineView]) -> SettlementView {
        let sum = |f: fn(&LineView) -> i64| lines.iter().map(f).sum::<i64>();
        serde_json::from_value(serde_json::json!({
            "id": 7, "merchant_id": 3, "merchant_name": "遂州老火锅 二店",
            "period": "2026-11", "run": 2, "status": "approved",
            "line_count": lines.len(),
            "bill_fen": sum(|l| l.bill_fen),
            "discount_fen": sum(|l| l.discount_fen),
            "subsidy_fen": sum(|l| l.subsidy_fen),
            "bank_reference": "ICBC-20261205-0001",
            "invoice_no": "00012345678901234567",
        }))
        .unwrap()
    }

    fn lines(n: i64) -> Vec<LineView> {
        (1..=n)
            .map(|i| LineView {
                redemption_id: i,
                kind: if i % 10 == 0 {
                    "reversal"
                } else {
                    "redemption"
                }
                .into(),
                bill_fen: if i % 10 == 0 { -10_000 } else { 10_000 + i },
                discount_fen: if i % 10 == 0 { -1_000 } else { 1_000 },
                subsidy_fen: if i % 10 == 0 { -500 } else { 500 },
                at: format!("2026-11-{:02}T12:00:00+08:00", 1 + i % 28),
                talent: "张*".into(),
            })
            .collect()
    }

    #[test]
    fn a_streamed_statement_holds_what_the_in_memory_one_did() {
        let lines = lines(2_500);
        let s = settlement(&lines);
        let streamed = statement(&s, &lines).unwrap().into_bytes();
        let before = in_memory(|ws| write_statement(ws, &s, &lines));
        let rows = cells(streamed, "结算单");
        assert_eq!(rows, cells(before, "结算单"));
        assert_eq!(rows.len(), 10 + 2_500 + 1);
        assert_eq!(rows[10 + 2_500][0], Data::String("合计".into()));
        assert_eq!(rows[10 + 9][1], Data::String("冲正".into()));
        assert_eq!(
            rows[10][4],
            Data::Float(100.01),
            "amounts are numbers in 元"
        );
        assert_eq!(rows[6][1], Data::String("00012345678901234567".into()));
    }

    #[test]
    fn a_streamed_payout_batch_holds_what_the_in_memory_one_did() {
        let rows: Vec<PayoutRow> = (1..=300)
            .map(|i| PayoutRow {
                settlement_id: i,
                merchant_name: format!("商行 {i}"),
                uscc: "91350100M000100Y43".into(),
                bank_name: "工商银行遂州分行".into(),
                bank_account: format!("62220202001122{i:05}"),
                subsidy_fen: 1_168 * i,
                invoice_no: (i % 2 == 0).then(|| format!("0{i:019}")),
                paid: (i % 3 == 0).then(|| (format!("BANK{i}"), NaiveDateTime::default())),
            })
            .collect();
        let streamed = payout_batch("2026-11", &rows).unwrap().into_bytes();
        let before = in_memory(|ws| write_payout_batch(ws, "2026-11", &rows));
        let cells_now = cells(streamed, "拨付批次");
        assert_eq!(cells_now, cells(before, "拨付批次"));
        assert_eq!(cells_now[2][4], Data::String("6222020200112200001".into()));
        assert_eq!(cells_now[3][6], Data::String("00000000000000000002".into()));
    }

    #[actix_web::test]
    async fn the_body_is_the_file_with_its_length() {
        use actix_web::body::MessageBody;
        let lines = lines(10_000);
        let sheet = statement(&settlement(&lines), &lines).unwrap();
        let len = sheet.len;
        assert!(len > 2 * CHUNK as u64, "several chunks: {len} bytes");
        let mut copy = sheet.file.try_clone().unwrap();
        let mut expected = Vec::new();
        copy.read_to_end(&mut expected).unwrap();
        copy.rewind().unwrap();
        let body = sheet.into_body();
        assert_eq!(body.size(), actix_web::body::BodySize::Sized(len));
        let bytes = actix_web::body::to_bytes(body).await.unwrap();
        assert_eq!(bytes.as_ref(), expected.as_slice());
    }
}
