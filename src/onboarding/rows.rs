//! One data row into a talent, or the reasons it cannot be one: each with the row and
//! column as Excel shows them, a stable code and a message in Chinese and English.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clean;
use super::columns::{Column, Layout};
use super::sheet::{Cell, Row, column_letter, whole_number};
use crate::talents::{IdNumber, Phone, TalentName, Tier};

/// Why a row (or one of its cells) cannot be imported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// The row number as Excel shows it.
    pub row: u32,
    /// The column letter as Excel shows it; absent when the whole row is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The field of `POST /talents` the column holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// Stable: `required`, `name_invalid`, `id_number_invalid`, `id_number_check`,
    /// `id_number_as_number`, `phone_invalid`, `employer_invalid`, `tier_invalid`,
    /// `valid_until_invalid`, `valid_until_out_of_range`, `duplicate_conflict`,
    /// `phone_duplicate`, `phone_taken`, `family_member`.
    pub code: &'static str,
    /// In Chinese, for the official reading the report.
    pub message: String,
    pub message_en: String,
}

/// A row that passed every check, in the canonical forms the talent will be stored in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TalentRow {
    pub row: u32,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub employer: String,
    pub tier: Tier,
    /// The card's last day when the sheet gives one.
    pub valid_until: Option<NaiveDate>,
}

/// What the data rows hold.
#[derive(Debug, Default)]
pub struct Read {
    pub talents: Vec<TalentRow>,
    pub errors: Vec<RowError>,
    /// Rows with anything in them.
    pub rows: u32,
    /// Every well-formed ID number in the file, its row's other faults notwithstanding:
    /// such a person is on the bureau's list all the same.
    pub id_numbers: Vec<String>,
}

/// Reads every data row below the header. Blank rows (the trailing ones Excel keeps
/// after a deletion, separators) are skipped; the rest become talents or errors.
pub fn read(rows: &[Row], layout: &Layout, first_column: u32, today: NaiveDate) -> Read {
    let mut read = Read::default();
    for row in rows.iter().filter(|r| !r.is_blank()) {
        read.rows += 1;
        let reader = RowReader {
            row,
            layout,
            first_column,
            errors: Vec::new(),
            id_number: None,
        };
        let (id_number, talent) = reader.talent(today);
        read.id_numbers.extend(id_number);
        match talent {
            Ok(talent) => read.talents.push(talent),
            Err(mut row_errors) => read.errors.append(&mut row_errors),
        }
    }
    read
}

struct RowReader<'a> {
    row: &'a Row,
    layout: &'a Layout,
    first_column: u32,
    errors: Vec<RowError>,
    id_number: Option<String>,
}

impl<'a> RowReader<'a> {
    /// The row's cell of `column`; empty when the row stops short or has no such column.
    fn cell(&self, column: Column) -> &'a Cell {
        const EMPTY: &Cell = &Cell::Empty;
        self.layout
            .position(column)
            .and_then(|i| self.row.cells.get(i))
            .unwrap_or(EMPTY)
    }

    fn refuse(&mut self, column: Column, code: &'static str, zh: String, en: String) {
        self.errors.push(RowError {
            row: self.row.number,
            column: self
                .layout
                .position(column)
                .map(|i| column_letter(self.first_column + i as u32)),
            field: Some(column.field()),
            code,
            message: zh,
            message_en: en,
        });
    }

    /// The cell's text, or a `required` error when a required cell is blank.
    fn required(&mut self, column: Column) -> Option<&'a Cell> {
        let cell = self.cell(column);
        if cell.is_blank() {
            self.refuse(
                column,
                "required",
                format!("{}为空", column.header()),
                format!("{} is empty", column.field()),
            );
            None
        } else {
            Some(cell)
        }
    }

    fn talent(mut self, today: NaiveDate) -> (Option<String>, Result<TalentRow, Vec<RowError>>) {
        let name = self.required(Column::Name).map(|c| c.as_text());
        let name = name.and_then(|raw| match TalentName::parse(&clean::name(&raw)) {
            Ok(name) => Some(name.as_str().to_owned()),
            Err(e) => {
                self.refuse(
                    Column::Name,
                    "name_invalid",
                    "姓名须为 1–50 个字符，不能含控制字符或不可见字符".into(),
                    e.to_string(),
                );
                None
            }
        });
        let id_number = self
            .required(Column::IdNumber)
            .and_then(|cell| self.id_number(cell, today));
        self.id_number.clone_from(&id_number);
        let phone = self
            .required(Column::Phone)
            .and_then(|cell| self.phone(cell));
        let employer = match crate::talents::parse_employer(&clean::clean(
            &self.cell(Column::Employer).as_text(),
        )) {
            Ok(employer) => Some(employer),
            Err(e) => {
                self.refuse(
                    Column::Employer,
                    "employer_invalid",
                    "工作单位最多 100 个字符，不能含控制字符".into(),
                    e.to_string(),
                );
                None
            }
        };
        let tier = self
            .required(Column::Tier)
            .map(Cell::as_text)
            .and_then(|raw| match tier(&raw) {
                Some(tier) => Some(tier),
                None => {
                    self.refuse(
                        Column::Tier,
                        "tier_invalid",
                        format!(
                            "人才层次“{}”无法识别：请填 A–E 或 顶尖/领军/拔尖/骨干/青年",
                            clean::clean(&raw)
                        ),
                        format!(
                            "tier {:?} is not one of A–E or 顶尖/领军/拔尖/骨干/青年",
                            clean::clean(&raw)
                        ),
                    );
                    None
                }
            });
        let cell = self.cell(Column::ValidUntil);
        let valid_until = if cell.is_blank() {
            Some(None)
        } else {
            self.valid_until(cell, today).map(Some)
        };
        let talent = match (name, id_number, phone, employer, tier, valid_until) {
            (
                Some(name),
                Some(id_number),
                Some(phone),
                Some(employer),
                Some(tier),
                Some(valid_until),
            ) if self.errors.is_empty() => Ok(TalentRow {
                row: self.row.number,
                name,
                id_number,
                phone,
                employer,
                tier,
                valid_until,
            }),
            _ => Err(self.errors),
        };
        (self.id_number, talent)
    }

    fn id_number(&mut self, cell: &Cell, today: NaiveDate) -> Option<String> {
        const AS_NUMBER_ZH: &str = "身份证号被 Excel 存成了数字，末几位已经丢失：请把这一列设置为“文本”格式，重新填写身份证号";
        const AS_NUMBER_EN: &str = "Excel stored this ID number as a number and lost its last digits: format the column as text and enter the ID numbers again";
        let text = match cell {
            // 18 digits are beyond a float's 15–16: the number is already wrong.
            Cell::Number(n) | Cell::Date(n) => {
                let shown = whole_number(*n);
                self.refuse(
                    Column::IdNumber,
                    "id_number_as_number",
                    format!("{AS_NUMBER_ZH}（读到 {shown}）"),
                    format!("{AS_NUMBER_EN} (read {shown})"),
                );
                return None;
            }
            other => clean::compact(&other.as_text()).to_ascii_uppercase(),
        };
        if is_scientific(&text) {
            self.refuse(
                Column::IdNumber,
                "id_number_as_number",
                format!("{AS_NUMBER_ZH}（读到 {text}）"),
                format!("{AS_NUMBER_EN} (read {text})"),
            );
            return None;
        }
        match IdNumber::parse(&text, today) {
            Ok(id) => Some(id.as_str().to_owned()),
            Err(e) => {
                let check = e.to_string().contains("check character");
                // Excel keeps 15 significant digits: the rest come back as zeros.
                if check && text.ends_with("000") {
                    self.refuse(
                        Column::IdNumber,
                        "id_number_as_number",
                        format!("{AS_NUMBER_ZH}（读到 {}）", masked_digits(&text)),
                        format!("{AS_NUMBER_EN} (read {})", masked_digits(&text)),
                    );
                } else if check {
                    self.refuse(
                        Column::IdNumber,
                        "id_number_check",
                        "身份证号校验位不对：请核对是否有错字".into(),
                        e.to_string(),
                    );
                } else {
                    self.refuse(
                        Column::IdNumber,
                        "id_number_invalid",
                        "身份证号须为 18 位：地区码、出生日期、顺序码和校验位（0–9 或 X）".into(),
                        e.to_string(),
                    );
                }
                None
            }
        }
    }

    fn phone(&mut self, cell: &Cell) -> Option<String> {
        let digits: String = clean::compact(&cell.as_text())
            .chars()
            .filter(|c| !matches!(c, '-' | '(' | ')' | '（' | '）' | '.'))
            .collect();
        let national = digits
            .strip_prefix("+86")
            .or_else(|| digits.strip_prefix("0086"))
            .or_else(|| digits.strip_prefix("86").filter(|rest| rest.len() == 11))
            .unwrap_or(&digits);
        match Phone::parse(national) {
            Ok(phone) => Some(phone.as_str().to_owned()),
            Err(e) => {
                self.refuse(
                    Column::Phone,
                    "phone_invalid",
                    "手机号须为 11 位大陆手机号（13–19 开头），可带 +86".into(),
                    e.to_string(),
                );
                None
            }
        }
    }

    fn valid_until(&mut self, cell: &Cell, today: NaiveDate) -> Option<NaiveDate> {
        let Some(day) = date(cell) else {
            let shown = clean::clean(&cell.as_text());
            self.refuse(
                Column::ValidUntil,
                "valid_until_invalid",
                format!("有效期至“{shown}”不是日期：请写成 2028-12-31"),
                format!("valid_until {shown:?} is not a date: write it as 2028-12-31"),
            );
            return None;
        };
        if day < today || day > today + Months::new(12 * 20) {
            self.refuse(
                Column::ValidUntil,
                "valid_until_out_of_range",
                format!("有效期至 {day} 须在今天到 20 年之内"),
                format!("valid_until {day} must be between today and 20 years from now"),
            );
            return None;
        }
        Some(day)
    }
}

fn is_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once('E') else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let mantissa_ok = mantissa.split_once('.').map_or_else(
        || !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
        |(int, frac)| {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        },
    );
    mantissa_ok && !exponent.is_empty() && exponent.bytes().all(|b| b.is_ascii_digit())
}

/// An ID number in an error message: never whole, even when it is wrong.
fn masked_digits(s: &str) -> String {
    if s.len() > 8 && s.is_ascii() {
        format!("{}…{}", &s[..4], &s[s.len() - 4..])
    } else {
        s.to_owned()
    }
}

/// A tier as bureaus write it: `A`, `a`, `A类`, `顶尖`, `顶尖人才`, `青年/基础`…
pub fn tier(raw: &str) -> Option<Tier> {
    let s = clean::compact(raw).to_uppercase();
    let s = s.strip_suffix("人才").unwrap_or(&s);
    let s = ["类", "层次", "级", "层"]
        .iter()
        .find_map(|suffix| s.strip_suffix(suffix))
        .unwrap_or(s);
    match s {
        "顶尖" => Some(Tier::A),
        "领军" => Some(Tier::B),
        "拔尖" => Some(Tier::C),
        "骨干" => Some(Tier::D),
        "青年" | "基础" | "青年/基础" => Some(Tier::E),
        _ => s.parse().ok(),
    }
}

/// A date cell: an Excel date, an Excel serial number, or text in the usual forms.
pub fn date(cell: &Cell) -> Option<NaiveDate> {
    match cell {
        Cell::Date(serial) | Cell::Number(serial) => from_serial(*serial),
        Cell::Text(raw) => {
            let s = clean::clean(raw);
            // `2028-12-31 00:00:00` or an ISO date-time: the day is what counts.
            let day = s.split(['T', ' ']).next().unwrap_or(&s);
            if day.len() <= 5 && day.bytes().all(|b| b.is_ascii_digit()) {
                return day.parse::<f64>().ok().and_then(from_serial);
            }
            ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d"]
                .iter()
                .find_map(|format| NaiveDate::parse_from_str(day, format).ok())
        }
        Cell::Empty => None,
    }
}

/// Excel's serial day: 1 = 1900-01-01, counted from 1899-12-30 because Excel believes
/// 1900 was a leap year (only dates before March 1900 would differ).
fn from_serial(serial: f64) -> Option<NaiveDate> {
    if !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?
        .checked_add_days(chrono::Days::new(serial.trunc() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_read_as_bureaus_write_them() {
        for (raw, tier_) in [
            ("A", Tier::A),
            (" b ", Tier::B),
            ("Ｃ类", Tier::C),
            ("D级", Tier::D),
            ("顶尖", Tier::A),
            ("领军人才", Tier::B),
            ("拔尖", Tier::C),
            ("骨干", Tier::D),
            ("青年", Tier::E),
            ("青年/基础", Tier::E),
        ] {
            assert_eq!(tier(raw), Some(tier_), "{raw}");
        }
        assert_eq!(tier("F"), None);
        assert_eq!(tier("优秀"), None);
    }

    #[test]
    fn dates_come_as_serials_or_text() {
        let day = NaiveDate::from_ymd_opt(2028, 12, 31).unwrap();
        for cell in [
            Cell::Date(47118.0),
            Cell::Number(47118.0),
            Cell::Text("47118".into()),
            Cell::Text("2028-12-31".into()),
            Cell::Text("2028/12/31".into()),
            Cell::Text("2028.12.31".into()),
            Cell::Text("2028年12月31日".into()),
            Cell::Text("20281231".into()),
            Cell::Text("２０２８－１２－３１".into()),
            Cell::Text("2028-12-31 00:00:00".into()),
        ] {
            assert_eq!(date(&cell), Some(day), "{cell:?}");
        }
        assert_eq!(date(&Cell::Text("明年".into())), None);
        assert_eq!(date(&Cell::Number(-3.0)), None);
    }

    #[test]
    fn scientific_notation_is_recognised() {
        assert!(is_scientific("5.10903E+17"));
        assert!(is_scientific("5E17"));
        assert!(!is_scientific("51090319900101100X"));
        assert!(!is_scientific("E+17"));
    }
}
