//! The activation letters of an import as one XLSX: a list for an SMS gateway or a mail
//! merge, and sheets ready to print with one letter per page in Chinese.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::job::Letter;
use crate::error::ApiResult;
use crate::spreadsheet::{Spreadsheet, formats, header_row, xlsx_error};

/// Excel keeps at most 1,023 manual page breaks per sheet: letters are printed from
/// sheets of a thousand.
const LETTERS_PER_PRINT_SHEET: usize = 1000;
/// Rows per printed letter, the page break after them.
const LETTER_ROWS: u32 = 9;

pub fn spreadsheet(letters: &[Letter]) -> ApiResult<Spreadsheet> {
    let out = Spreadsheet::create()?;
    let mut book = Workbook::new();
    write_list(book.add_worksheet_with_constant_memory(), letters).map_err(xlsx_error)?;
    for (i, chunk) in letters.chunks(LETTERS_PER_PRINT_SHEET).enumerate() {
        let ws = book.add_worksheet_with_constant_memory();
        write_print(ws, i + 1, chunk).map_err(xlsx_error)?;
    }
    Spreadsheet::finish(&mut book, out)
}

fn local_day(at: chrono::NaiveDateTime) -> String {
    crate::time::to_local(at).format("%Y-%m-%d").to_string()
}

fn write_list(ws: &mut Worksheet, letters: &[Letter]) -> Result<(), XlsxError> {
    let f = formats();
    ws.set_name("激活信")?;
    header_row(
        ws,
        0,
        &[
            "表中行号",
            "姓名",
            "身份证号",
            "手机号（登录名）",
            "卡号",
            "人才层次",
            "激活码",
            "激活码有效期至",
        ],
        &f,
    )?;
    for (i, letter) in letters.iter().enumerate() {
        let r = 1 + i as u32;
        ws.write_number(r, 0, f64::from(letter.row))?;
        ws.write_string(r, 1, &letter.name)?;
        ws.write_string(r, 2, &letter.id_number_masked)?;
        // Text: digits must not turn into numbers in Excel.
        ws.write_string(r, 3, &letter.phone)?;
        ws.write_string(r, 4, &letter.card_no)?;
        ws.write_string(r, 5, crate::tier::printed(&letter.tier))?;
        ws.write_string(r, 6, &letter.activation_code)?;
        ws.write_string(r, 7, local_day(letter.activation_expires_at))?;
    }
    for (col, width) in [
        (0, 9),
        (1, 12),
        (2, 22),
        (3, 16),
        (4, 16),
        (5, 14),
        (6, 24),
        (7, 16),
    ] {
        ws.set_column_width(col, width)?;
    }
    Ok(())
}

fn write_print(ws: &mut Worksheet, number: usize, letters: &[Letter]) -> Result<(), XlsxError> {
    ws.set_name(format!("打印信函{number}"))?;
    ws.set_paper_size(9); // A4
    ws.set_column_width(0, 90)?;
    let title = Format::new().set_bold().set_font_size(18);
    let code = Format::new().set_bold().set_font_size(20);
    let body = Format::new().set_font_size(12).set_text_wrap();
    let mut breaks = Vec::with_capacity(letters.len());
    for (i, letter) in letters.iter().enumerate() {
        let r = i as u32 * LETTER_ROWS;
        let until = local_day(letter.activation_expires_at);
        ws.write_string_with_format(r, 0, "遂州英才卡 开通通知", &title)?;
        ws.write_string_with_format(r + 1, 0, format!("{} 您好：", letter.name), &body)?;
        ws.write_string_with_format(
            r + 2,
            0,
            format!(
                "您的遂州英才卡已开通：卡号 {}，人才层次 {}。",
                letter.card_no,
                crate::tier::printed(&letter.tier)
            ),
            &body,
        )?;
        ws.write_string_with_format(
            r + 3,
            0,
            format!(
                "请在 {until} 前登录遂州英才卡，选择“用激活码设置密码”，输入手机号 {} 和下面的激活码，设置您自己的密码。",
                letter.phone
            ),
            &body,
        )?;
        ws.set_row_height(r + 3, 36)?;
        ws.write_string_with_format(
            r + 4,
            0,
            format!("激活码：{}", letter.activation_code),
            &code,
        )?;
        ws.set_row_height(r + 4, 30)?;
        ws.write_string_with_format(
            r + 5,
            0,
            "激活码只能使用一次，请勿告诉他人；工作人员不会向您索要密码或激活码。",
            &body,
        )?;
        ws.write_string_with_format(
            r + 6,
            0,
            "在合作商家出示英才卡页面上的动态二维码即可享受优惠。",
            &body,
        )?;
        ws.write_string_with_format(r + 7, 0, "遂州市人才工作办公室", &body)?;
        breaks.push(r + LETTER_ROWS);
    }
    if !breaks.is_empty() {
        breaks.pop();
        ws.set_page_breaks(&breaks)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_list_and_print_one_per_page() {
        let letters: Vec<Letter> = (0..3)
            .map(|i| Letter {
                row: i + 2,
                name: format!("测试{i}"),
                id_number_masked: "1101**********002X".into(),
                phone: format!("1380000000{i}"),
                card_no: format!("00000000000{i}"),
                tier: "A".into(),
                activation_code: "ABCD-EFGH-JKLM-NPQR".into(),
                activation_expires_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 29)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            })
            .collect();
        let bytes = spreadsheet(&letters).unwrap().into_bytes();
        use calamine::Reader;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), vec!["激活信", "打印信函1"]);
        let list = book.worksheet_range("激活信").unwrap();
        assert_eq!(list.height(), 4);
        assert_eq!(list.get_value((1, 3)).unwrap().to_string(), "13800000000");
        assert_eq!(
            list.get_value((1, 6)).unwrap().to_string(),
            "ABCD-EFGH-JKLM-NPQR"
        );
        let print = book.worksheet_range("打印信函1").unwrap();
        assert_eq!(
            print.get_value((LETTER_ROWS + 4, 0)).unwrap().to_string(),
            "激活码：ABCD-EFGH-JKLM-NPQR"
        );
    }
}
