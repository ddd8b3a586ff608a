//! The whole file checked before anything is written: rows against each other (the same
//! person twice, one phone for two people) and against the talents already registered
//! (matched by ID number, so a re-import creates nothing new), giving the report an
//! official reads and the plan a job carries out.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::columns::{self, Column, HeaderProblem};
use super::rows::{self, RowError, TalentRow};
use super::sheet::{self, Format};
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::{cards, talents};
use crate::talents::{Field, PiiVault, Talent, Tier};

/// What the import may do beyond creating new talents.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Options {
    /// Apply changed phones, employers, names and tiers of registered talents.
    pub update_existing: bool,
    /// Import the valid rows of a file that has invalid ones.
    pub skip_invalid: bool,
    /// List the talents of the file's tiers missing from it.
    pub sync: bool,
}

/// What happens to one row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Action {
    New,
    Update { talent_id: i64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub talent: TalentRow,
    pub action: Action,
}

/// A column found in the header row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FoundColumn {
    /// The column letter.
    pub column: String,
    pub field: Column,
}

/// A registered talent whose row differs from what is stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangedRow {
    pub row: u32,
    pub talent_id: i64,
    pub name: String,
    pub changes: Vec<Change>,
    /// Whether the import applies it (`update_existing=true`).
    pub applied: bool,
}

/// One changed value; phones masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    pub field: Column,
    pub from: String,
    pub to: String,
}

/// One person on several rows: the first is imported, identical repeats are skipped.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Duplicate {
    pub id_number_masked: String,
    pub rows: Vec<u32>,
}

/// A talent of the file's tiers whose live card is not on the file (`sync=true`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MissingTalent {
    pub talent_id: i64,
    pub name: String,
    pub id_number_masked: String,
    pub tier: Tier,
    pub card_no: String,
}

/// The row-by-row report: the answer of a dry run and the report of a job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub format: Format,
    /// The sheet read, for a workbook: the first one whose first rows hold the headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    pub header_row: u32,
    pub columns: Vec<FoundColumn>,
    /// Headers read and deliberately left alone (序号, 备注…).
    pub ignored_columns: Vec<String>,
    /// Header faults: with any, nothing can be imported.
    pub header_problems: Vec<HeaderProblem>,
    /// Data rows with anything in them.
    pub rows: u32,
    /// Rows without an error.
    pub ok: u32,
    /// Rows that register a new talent.
    pub new: u32,
    /// Rows of registered talents that match what is stored.
    pub unchanged: u32,
    pub changed: Vec<ChangedRow>,
    pub errors: Vec<RowError>,
    pub duplicates: Vec<Duplicate>,
    /// With `sync=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<MissingTalent>>,
}

/// A checked file: the report, and the writes it calls for.
#[derive(Debug)]
pub struct Plan {
    pub report: ImportReport,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn is_clean(&self) -> bool {
        self.report.header_problems.is_empty() && self.report.errors.is_empty()
    }
}

/// Reads and checks an upload. Reads the database, writes nothing.
pub fn check(
    conn: &mut DbConnection,
    vault: &PiiVault,
    bytes: &[u8],
    options: Options,
    now: NaiveDateTime,
) -> ApiResult<Plan> {
    let today = crate::time::to_local(now).date_naive();
    let table = sheet::read(bytes, columns::holds_talents)?;
    let empty = ImportReport {
        format: table.format,
        sheet: table.sheet.clone(),
        header_row: 0,
        columns: Vec::new(),
        ignored_columns: Vec::new(),
        header_problems: Vec::new(),
        rows: 0,
        ok: 0,
        new: 0,
        unchanged: 0,
        changed: Vec::new(),
        errors: Vec::new(),
        duplicates: Vec::new(),
        missing: None,
    };
    let Some((header_index, layout)) = columns::layout(&table.rows, table.first_column) else {
        let mut report = empty;
        report.header_problems = Column::REQUIRED
            .iter()
            .map(|c| HeaderProblem {
                code: "header_missing",
                column: None,
                header: c.header().to_owned(),
            })
            .collect();
        return Ok(Plan {
            report,
            steps: Vec::new(),
        });
    };
    let mut report = ImportReport {
        header_row: layout.header_row,
        columns: [
            Column::Name,
            Column::IdNumber,
            Column::Phone,
            Column::Employer,
            Column::Tier,
            Column::ValidUntil,
        ]
        .into_iter()
        .filter(|c| layout.position(*c).is_some())
        .map(|c| FoundColumn {
            column: layout.letter(c, table.first_column),
            field: c,
        })
        .collect(),
        ignored_columns: layout.ignored.clone(),
        header_problems: layout.problems.clone(),
        ..empty
    };
    if !report.header_problems.is_empty() {
        return Ok(Plan {
            report,
            steps: Vec::new(),
        });
    }
    let read = rows::read(
        &table.rows[header_index + 1..],
        &layout,
        table.first_column,
        today,
    );
    report.rows = read.rows;
    let mut errors = read.errors;
    let unique = within_file(read.talents, &mut errors, &mut report.duplicates, |c| {
        layout.letter(c, table.first_column)
    });
    let tiers: BTreeSet<&'static str> = unique.iter().map(|t| t.tier.as_str()).collect();
    let steps = against_registered(conn, vault, unique, options, &mut errors, &mut report)?;
    if options.sync {
        report.missing = Some(missing(conn, vault, &read.id_numbers, &tiers, now)?);
    }
    errors.sort_by_key(|e| e.row);
    report.ok = report.rows - errors.iter().map(|e| e.row).collect::<BTreeSet<_>>().len() as u32;
    report.errors = errors;
    Ok(Plan { report, steps })
}

/// The first row of each person stands; identical repeats are only listed, differing
/// ones are errors, as is one phone on two people.
fn within_file(
    talents: Vec<TalentRow>,
    errors: &mut Vec<RowError>,
    duplicates: &mut Vec<Duplicate>,
    letter: impl Fn(Column) -> String,
) -> Vec<TalentRow> {
    let mut first_by_id: HashMap<String, usize> = HashMap::new();
    let mut first_by_phone: HashMap<String, u32> = HashMap::new();
    let mut groups: HashMap<String, Vec<u32>> = HashMap::new();
    let mut unique: Vec<TalentRow> = Vec::new();
    for talent in talents {
        if let Some(&i) = first_by_id.get(&talent.id_number) {
            let first = &unique[i];
            groups
                .entry(talent.id_number.clone())
                .or_insert_with(|| vec![first.row])
                .push(talent.row);
            let same = first.name == talent.name
                && first.phone == talent.phone
                && first.employer == talent.employer
                && first.tier == talent.tier
                && first.valid_until == talent.valid_until;
            if !same {
                errors.push(RowError {
                    row: talent.row,
                    column: Some(letter(Column::IdNumber)),
                    field: Some("id_number"),
                    code: "duplicate_conflict",
                    message: format!("与第 {} 行是同一身份证号，但其他内容不同：请只保留正确的一行", first.row),
                    message_en: format!(
                        "the same ID number as row {} with different details: keep only the right row",
                        first.row
                    ),
                });
            }
            continue;
        }
        if let Some(&row) = first_by_phone.get(&talent.phone) {
            errors.push(RowError {
                row: talent.row,
                column: Some(letter(Column::Phone)),
                field: Some("phone"),
                code: "phone_duplicate",
                message: format!("与第 {row} 行的手机号相同：一个手机号只能登录一位人才"),
                message_en: format!(
                    "the same phone as row {row}: one phone logs in one talent only"
                ),
            });
            continue;
        }
        first_by_phone.insert(talent.phone.clone(), talent.row);
        first_by_id.insert(talent.id_number.clone(), unique.len());
        unique.push(talent);
    }
    let mut duplicates_found: Vec<Duplicate> = groups
        .into_iter()
        .map(|(id, rows)| Duplicate {
            id_number_masked: crate::talents::domain::mask_id_number(&id),
            rows,
        })
        .collect();
    duplicates_found.sort_by_key(|d| d.rows[0]);
    *duplicates = duplicates_found;
    unique
}

/// Loads registered talents by blind index, `eq_any` in chunks the backends accept.
fn by_index(
    conn: &mut DbConnection,
    field: Field,
    indexes: &[String],
) -> ApiResult<HashMap<String, Talent>> {
    let mut found = HashMap::new();
    for chunk in indexes.chunks(500) {
        let query = talents::table.select(Talent::as_select());
        let rows: Vec<Talent> = match field {
            Field::IdNumber => query
                .filter(talents::id_number_index.eq_any(chunk))
                .load(conn)?,
            Field::Phone => query
                .filter(talents::phone_index.eq_any(chunk))
                .load(conn)?,
        };
        for talent in rows {
            let key = match field {
                Field::IdNumber => talent.id_number_index.clone(),
                Field::Phone => talent.phone_index.clone().unwrap_or_default(),
            };
            found.insert(key, talent);
        }
    }
    Ok(found)
}

fn against_registered(
    conn: &mut DbConnection,
    vault: &PiiVault,
    unique: Vec<TalentRow>,
    options: Options,
    errors: &mut Vec<RowError>,
    report: &mut ImportReport,
) -> ApiResult<Vec<Step>> {
    let id_indexes: Vec<String> = unique
        .iter()
        .map(|t| vault.blind_index(Field::IdNumber, &t.id_number))
        .collect();
    let phone_indexes: Vec<String> = unique
        .iter()
        .map(|t| vault.blind_index(Field::Phone, &t.phone))
        .collect();
    let by_id = by_index(conn, Field::IdNumber, &id_indexes)?;
    let by_phone = by_index(conn, Field::Phone, &phone_indexes)?;
    let phone_letter = report
        .columns
        .iter()
        .find(|c| c.field == Column::Phone)
        .map(|c| c.column.clone());
    let mut steps = Vec::new();
    for ((talent, id_index), phone_index) in unique.into_iter().zip(id_indexes).zip(phone_indexes) {
        let registered = by_id.get(&id_index);
        if let Some(holder) = by_phone.get(&phone_index)
            && registered.is_none_or(|r| r.id != holder.id)
        {
            errors.push(RowError {
                row: talent.row,
                column: phone_letter.clone(),
                field: Some("phone"),
                code: "phone_taken",
                message: format!(
                    "手机号已是另一位人才（{}，{}）的登录名",
                    crate::talents::mask_name(&holder.name),
                    holder.id_number_masked
                ),
                message_en: format!(
                    "the phone is already the login of another talent ({}, {})",
                    crate::talents::mask_name(&holder.name),
                    holder.id_number_masked
                ),
            });
            continue;
        }
        if let Some(member) = registered.filter(|r| r.principal_id.is_some()) {
            let id_letter = report
                .columns
                .iter()
                .find(|c| c.field == Column::IdNumber)
                .map(|c| c.column.clone());
            errors.push(RowError {
                row: talent.row,
                column: id_letter,
                field: Some("id_number"),
                code: "family_member",
                message: format!(
                    "此人（{}）已持附属卡：一人只持一张卡，请先注销其附属卡",
                    crate::talents::mask_name(&member.name)
                ),
                message_en: format!(
                    "this person ({}) holds a family card: one person holds one card, so revoke it first",
                    crate::talents::mask_name(&member.name)
                ),
            });
            continue;
        }
        let Some(registered) = registered else {
            report.new += 1;
            steps.push(Step {
                talent,
                action: Action::New,
            });
            continue;
        };
        let changes = changes_of(registered, &talent, &phone_index);
        if changes.is_empty() {
            report.unchanged += 1;
            continue;
        }
        report.changed.push(ChangedRow {
            row: talent.row,
            talent_id: registered.id,
            name: registered.name.clone(),
            changes,
            applied: options.update_existing,
        });
        if options.update_existing {
            steps.push(Step {
                talent,
                action: Action::Update {
                    talent_id: registered.id,
                },
            });
        }
    }
    Ok(steps)
}

/// What the row would change of a registered talent. The card's validity is not
/// compared: renewals have their own step.
pub fn changes_of(registered: &Talent, row: &TalentRow, phone_index: &str) -> Vec<Change> {
    let mut changes = Vec::new();
    if registered.name != row.name {
        changes.push(Change {
            field: Column::Name,
            from: registered.name.clone(),
            to: row.name.clone(),
        });
    }
    if registered.phone_index.as_deref() != Some(phone_index) {
        changes.push(Change {
            field: Column::Phone,
            from: registered.phone_masked.clone().unwrap_or_default(),
            to: crate::talents::domain::mask_phone(&row.phone),
        });
    }
    if registered.employer != row.employer {
        changes.push(Change {
            field: Column::Employer,
            from: registered.employer.clone(),
            to: row.employer.clone(),
        });
    }
    if registered.tier != row.tier.as_str() {
        changes.push(Change {
            field: Column::Tier,
            from: registered.tier.clone(),
            to: row.tier.as_str().to_owned(),
        });
    }
    changes
}

/// Talents of the file's tiers with a live card whose ID number is not in the file.
fn missing(
    conn: &mut DbConnection,
    vault: &PiiVault,
    id_numbers: &[String],
    tiers: &BTreeSet<&'static str>,
    now: NaiveDateTime,
) -> ApiResult<Vec<MissingTalent>> {
    let in_file: std::collections::HashSet<String> = id_numbers
        .iter()
        .map(|id| vault.blind_index(Field::IdNumber, id))
        .collect();
    let live: Vec<(i64, String, String, String, String, String)> = talents::table
        .inner_join(cards::table.on(cards::talent_id.eq(talents::id)))
        .filter(talents::tier.eq_any(tiers.iter().copied().collect::<Vec<_>>()))
        // Family members are on no bureau list: they follow their talent's card.
        .filter(talents::principal_id.is_null())
        .filter(cards::status.eq("active"))
        .filter(cards::replaced_by.is_null())
        .filter(cards::expires_at.gt(now))
        .order(talents::id)
        .select((
            talents::id,
            talents::name,
            talents::id_number_index,
            talents::id_number_masked,
            talents::tier,
            cards::card_no,
        ))
        .load(conn)?;
    Ok(live
        .into_iter()
        .filter(|(_, _, index, ..)| !in_file.contains(index))
        .map(
            |(talent_id, name, _, id_number_masked, tier, card_no)| MissingTalent {
                talent_id,
                name,
                id_number_masked,
                tier: tier.parse().unwrap_or(Tier::E),
                card_no,
            },
        )
        .collect())
}
