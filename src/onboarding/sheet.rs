//! Reading an uploaded spreadsheet into rows of cells, numbered as Excel shows them.
//!
//! XLSX (and XLS) go through calamine; anything else is taken as CSV, decoded from UTF-8
//! (with or without BOM), UTF-16 with BOM (Excel's "Unicode text") or else GB18030 —
//! what Chinese Excel writes when it saves CSV. Nobody is asked which: the bytes say.

use std::io::Cursor;

use calamine::{Data, Reader};

use crate::error::{ApiError, ApiResult};

/// One cell as the file holds it. Numbers stay numbers so that an ID number Excel turned
/// into a float can be recognised as such rather than read as text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// An Excel date: its serial day number (1 = 1900-01-01).
    Date(f64),
}

impl Cell {
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => crate::onboarding::clean::clean(s).is_empty(),
            Cell::Number(_) | Cell::Date(_) => false,
        }
    }

    /// The cell as text, numbers written without a fraction when they have none.
    pub fn as_text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) | Cell::Date(n) => whole_number(*n),
        }
    }
}

/// `13812345678.0` → `13812345678`; other numbers as Rust writes them.
pub fn whole_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// A row of the sheet with its number as Excel shows it (1-based).
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u32,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(Cell::is_blank)
    }
}

/// What was read: the sheet's name (spreadsheets only), its first column's index, and
/// every row in order.
#[derive(Debug)]
pub struct Table {
    pub format: Format,
    pub sheet: Option<String>,
    /// Index of the first column (0 = A): a sheet may start further right.
    pub first_column: u32,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Xlsx,
    Xls,
    CsvUtf8,
    CsvUtf16,
    CsvGb18030,
}

/// The column letter Excel shows for a 0-based index: 0 → A, 25 → Z, 26 → AA.
pub fn column_letter(index: u32) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

fn unreadable(detail: String) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        "file_unreadable",
        detail,
    )
}

/// Reads the upload. `choose_sheet` picks, from each sheet's rows, the one holding the
/// talents (a workbook may open on a cover sheet); the first sheet when none is chosen.
pub fn read(bytes: &[u8], choose_sheet: impl Fn(&[Row]) -> bool) -> ApiResult<Table> {
    if bytes.is_empty() {
        return Err(unreadable("The file is empty.".into()));
    }
    const ZIP: &[u8] = b"PK\x03\x04";
    const CFB: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if bytes.starts_with(ZIP) {
        read_workbook(
            calamine::Xlsx::new(Cursor::new(bytes)).map_err(|e| {
                unreadable(format!("The file looks like XLSX but cannot be read: {e}"))
            })?,
            Format::Xlsx,
            choose_sheet,
        )
    } else if bytes.starts_with(CFB) {
        read_workbook(
            calamine::Xls::new(Cursor::new(bytes)).map_err(|e| {
                unreadable(format!("The file looks like XLS but cannot be read: {e}"))
            })?,
            Format::Xls,
            choose_sheet,
        )
    } else {
        read_csv(bytes)
    }
}

fn read_workbook<'a, R: Reader<Cursor<&'a [u8]>>>(
    mut workbook: R,
    format: Format,
    choose_sheet: impl Fn(&[Row]) -> bool,
) -> ApiResult<Table>
where
    R::Error: std::fmt::Display,
{
    let names = workbook.sheet_names();
    let mut first: Option<Table> = None;
    for name in names {
        let range = workbook
            .worksheet_range(&name)
            .map_err(|e| unreadable(format!("Sheet {name:?} cannot be read: {e}")))?;
        let (row0, col0) = range.start().unwrap_or((0, 0));
        let rows: Vec<Row> = range
            .rows()
            .enumerate()
            .map(|(i, cells)| Row {
                number: row0 + i as u32 + 1,
                cells: cells.iter().map(cell_of).collect(),
            })
            .collect();
        let table = Table {
            format,
            sheet: Some(name),
            first_column: col0,
            rows,
        };
        if choose_sheet(&table.rows) {
            return Ok(table);
        }
        first.get_or_insert(table);
    }
    first.ok_or_else(|| unreadable("The workbook has no sheet.".into()))
}

fn cell_of(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(d) => Cell::Date(d.as_f64()),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

fn read_csv(bytes: &[u8]) -> ApiResult<Table> {
    let (text, format) = decode(bytes)?;
    // Excel saves CSV with commas; its "Unicode text" with tabs.
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains('\t') && !first_line.contains(',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record =
            record.map_err(|e| unreadable(format!("Row {} cannot be read as CSV: {e}", i + 1)))?;
        rows.push(Row {
            // Excel numbers a CSV's records, whatever line breaks sit inside quotes.
            number: i as u32 + 1,
            cells: record
                .iter()
                .map(|s| {
                    if s.is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(s.to_owned())
                    }
                })
                .collect(),
        });
    }
    Ok(Table {
        format,
        sheet: None,
        first_column: 0,
        rows,
    })
}

/// UTF-8 (BOM or not), UTF-16 with a BOM, else GB18030 — refused when it is none of them.
fn decode(bytes: &[u8]) -> ApiResult<(String, Format)> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if had_errors {
            return Err(unreadable(format!(
                "The file starts as {} but has bytes that are not.",
                encoding.name()
            )));
        }
        let format = if encoding == encoding_rs::UTF_8 {
            Format::CsvUtf8
        } else {
            Format::CsvUtf16
        };
        return Ok((text.into_owned(), format));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((text.to_owned(), Format::CsvUtf8));
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors || text.contains('\0') {
        return Err(unreadable(
            "The file is neither a spreadsheet (XLSX, XLS) nor a CSV in UTF-8 or GB18030.".into(),
        ));
    }
    Ok((text.into_owned(), Format::CsvGb18030))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_as_excel_does() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn csv_in_every_encoding_excel_writes_reads_the_same() {
        let text = "姓名,身份证号\n张三,11010519491231002X\n";
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in text.replace(',', "\t").encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        for (bytes, format) in [
            (text.as_bytes().to_vec(), Format::CsvUtf8),
            (bom, Format::CsvUtf8),
            (gbk.into_owned(), Format::CsvGb18030),
            (utf16, Format::CsvUtf16),
        ] {
            let table = read(&bytes, |_| true).unwrap();
            assert_eq!(table.format, format);
            assert_eq!(table.rows.len(), 2);
            assert_eq!(table.rows[0].cells[0], Cell::Text("姓名".into()));
            assert_eq!(
                table.rows[1].cells[1],
                Cell::Text("11010519491231002X".into())
            );
            assert_eq!(table.rows[1].number, 2);
        }
    }

    #[test]
    fn a_binary_file_is_refused_not_guessed() {
        let err = read(&[0x00, 0x81, 0xFF, 0x00, 0x30], |_| true).unwrap_err();
        assert!(err.to_string().contains("neither"), "{err}");
        assert!(read(b"", |_| true).is_err());
        assert!(read(b"PK\x03\x04broken", |_| true).is_err());
    }

    #[test]
    fn whole_numbers_lose_their_fraction() {
        assert_eq!(whole_number(13812345678.0), "13812345678");
        assert_eq!(whole_number(1.5), "1.5");
    }
}
