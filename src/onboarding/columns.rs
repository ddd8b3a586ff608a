//! The header row: which column holds what. Bureaus name their columns in many ways
//! (姓名 or 名字, 身份证号 or 公民身份号码…), mark required ones with `*`, add notes in
//! brackets and put a title row above; all of that is understood, and a header that is
//! not is named in the report rather than guessed.

use serde::Serialize;
use utoipa::ToSchema;

use super::clean;
use super::sheet::{Row, column_letter};

/// A column the import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Name,
    IdNumber,
    Phone,
    Employer,
    Tier,
    ValidUntil,
}

impl Column {
    pub const REQUIRED: [Column; 4] = [Column::Name, Column::IdNumber, Column::Phone, Column::Tier];

    /// The header of the documented template (DESIGN §10).
    pub fn header(self) -> &'static str {
        match self {
            Column::Name => "姓名",
            Column::IdNumber => "身份证号",
            Column::Phone => "手机号",
            Column::Employer => "工作单位",
            Column::Tier => "人才层次",
            Column::ValidUntil => "有效期至",
        }
    }

    /// The request field of `POST /talents` that holds the same value.
    pub fn field(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::IdNumber => "id_number",
            Column::Phone => "phone",
            Column::Employer => "employer",
            Column::Tier => "tier",
            Column::ValidUntil => "valid_until",
        }
    }

    const ALL: [Column; 6] = [
        Column::Name,
        Column::IdNumber,
        Column::Phone,
        Column::Employer,
        Column::Tier,
        Column::ValidUntil,
    ];

    fn names(self) -> &'static [&'static str] {
        match self {
            Column::Name => &["姓名", "名字", "人才姓名", "name"],
            Column::IdNumber => &[
                "身份证号",
                "身份证号码",
                "公民身份号码",
                "公民身份证号码",
                "居民身份证号",
                "居民身份证号码",
                "身份证",
                "证件号码",
                "id_number",
            ],
            Column::Phone => &[
                "手机号",
                "手机号码",
                "手机",
                "联系电话",
                "电话",
                "电话号码",
                "移动电话",
                "联系方式",
                "phone",
            ],
            Column::Employer => &["工作单位", "单位", "所在单位", "单位名称", "employer"],
            Column::Tier => &[
                "人才层次",
                "层次",
                "类别",
                "人才类别",
                "人才层级",
                "层级",
                "tier",
            ],
            Column::ValidUntil => &[
                "有效期至",
                "有效期",
                "有效期限",
                "到期日",
                "到期日期",
                "截止日期",
                "valid_until",
            ],
        }
    }
}

/// Headers that carry nothing to import and are common in such lists: left alone.
const IGNORED: [&str; 8] = [
    "序号", "编号", "备注", "说明", "性别", "年龄", "no", "remark",
];

/// A header as compared: cleaned, without spaces, `*` marks, a trailing colon or a note
/// in brackets (`身份证号（必填）`), Latin letters in lower case.
fn normalised(raw: &str) -> String {
    let mut s: String = clean::compact(raw)
        .chars()
        .filter(|c| !matches!(c, '*' | '＊' | ':' | '：'))
        .collect();
    for (open, close) in [('(', ')'), ('（', '）'), ('[', ']'), ('【', '】')] {
        if let (Some(start), true) = (s.find(open), s.ends_with(close)) {
            s.truncate(start);
        }
    }
    s.to_lowercase()
}

fn recognise(raw: &str) -> Option<Column> {
    let header = normalised(raw);
    Column::ALL
        .into_iter()
        .find(|c| c.names().contains(&header.as_str()))
}

/// Where each column was found.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The header row's number as Excel shows it.
    pub header_row: u32,
    /// Index into the row's cells for each column found.
    positions: Vec<(Column, usize)>,
    pub problems: Vec<HeaderProblem>,
    pub ignored: Vec<String>,
}

/// A header that stops the import: not understood, twice, or a required one missing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeaderProblem {
    /// `header_unknown`, `header_duplicate` or `header_missing`.
    pub code: &'static str,
    /// The column letter; absent for a missing column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The header as written, or the expected one when missing.
    pub header: String,
}

impl Layout {
    pub fn position(&self, column: Column) -> Option<usize> {
        self.positions
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, i)| *i)
    }

    /// Column letter of a found column.
    pub fn letter(&self, column: Column, first_column: u32) -> String {
        self.position(column)
            .map(|i| column_letter(first_column + i as u32))
            .unwrap_or_default()
    }
}

/// How many of a row's cells are known headers: a title above the header has none.
pub fn known_headers(row: &Row) -> usize {
    row.cells
        .iter()
        .filter(|c| recognise(&c.as_text()).is_some())
        .count()
}

/// Whether a sheet holds the talent list: one of its first rows has at least two known
/// headers.
pub fn holds_talents(rows: &[Row]) -> bool {
    rows.iter().take(10).any(|r| known_headers(r) >= 2)
}

/// Finds the header row — the first of the first ten rows with two known headers, else
/// the first row with anything in it — and maps its columns.
pub fn layout(rows: &[Row], first_column: u32) -> Option<(usize, Layout)> {
    let index = rows
        .iter()
        .take(10)
        .position(|r| known_headers(r) >= 2)
        .or_else(|| rows.iter().position(|r| !r.is_blank()))?;
    let row = &rows[index];
    let mut positions: Vec<(Column, usize)> = Vec::new();
    let mut problems = Vec::new();
    let mut ignored = Vec::new();
    for (i, cell) in row.cells.iter().enumerate() {
        let text = cell.as_text();
        if cell.is_blank() {
            continue;
        }
        let letter = column_letter(first_column + i as u32);
        match recognise(&text) {
            Some(column) if positions.iter().any(|(c, _)| *c == column) => {
                problems.push(HeaderProblem {
                    code: "header_duplicate",
                    column: Some(letter),
                    header: clean::clean(&text),
                })
            }
            Some(column) => positions.push((column, i)),
            None if IGNORED.contains(&normalised(&text).as_str()) => {
                ignored.push(clean::clean(&text))
            }
            None => problems.push(HeaderProblem {
                code: "header_unknown",
                column: Some(letter),
                header: clean::clean(&text),
            }),
        }
    }
    for column in Column::REQUIRED {
        if !positions.iter().any(|(c, _)| *c == column) {
            problems.push(HeaderProblem {
                code: "header_missing",
                column: None,
                header: column.header().to_owned(),
            });
        }
    }
    Some((
        index,
        Layout {
            header_row: row.number,
            positions,
            problems,
            ignored,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::sheet::Cell;
    use super::*;

    fn row(number: u32, cells: &[&str]) -> Row {
        Row {
            number,
            cells: cells
                .iter()
                .map(|s| {
                    if s.is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text((*s).into())
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn common_header_variants_are_understood() {
        for (raw, column) in [
            ("姓名", Column::Name),
            ("名字", Column::Name),
            (" 姓 名 ", Column::Name),
            ("*身份证号码", Column::IdNumber),
            ("公民身份号码（必填）", Column::IdNumber),
            ("联系电话：", Column::Phone),
            ("手机", Column::Phone),
            ("单位", Column::Employer),
            ("类别", Column::Tier),
            ("层次", Column::Tier),
            ("有效期", Column::ValidUntil),
            ("ID_Number", Column::IdNumber),
        ] {
            assert_eq!(recognise(raw), Some(column), "{raw}");
        }
        assert_eq!(recognise("籍贯"), None);
    }

    #[test]
    fn a_title_row_above_the_header_is_skipped() {
        let rows = vec![
            row(1, &["遂州市2026年第一批人才名单", "", ""]),
            row(2, &["序号", "姓名", "身份证号", "手机号", "层次", "籍贯"]),
        ];
        let (index, layout) = layout(&rows, 0).unwrap();
        assert_eq!(index, 1);
        assert_eq!(layout.header_row, 2);
        assert_eq!(layout.position(Column::Name), Some(1));
        assert_eq!(layout.letter(Column::Tier, 0), "E");
        assert_eq!(layout.ignored, vec!["序号"]);
        assert_eq!(layout.problems.len(), 1);
        assert_eq!(layout.problems[0].code, "header_unknown");
        assert_eq!(layout.problems[0].column.as_deref(), Some("F"));
        assert_eq!(layout.problems[0].header, "籍贯");
    }

    #[test]
    fn missing_and_repeated_columns_are_named() {
        let rows = vec![row(1, &["姓名", "名字", "身份证号"])];
        let (_, layout) = layout(&rows, 0).unwrap();
        let codes: Vec<_> = layout
            .problems
            .iter()
            .map(|p| (p.code, p.header.as_str()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("header_duplicate", "名字"),
                ("header_missing", "手机号"),
                ("header_missing", "人才层次"),
            ]
        );
    }
}
