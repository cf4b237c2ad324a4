//! Drugs from a spreadsheet file (another system's export, or the starter list): the file is
//! read, every row checked with the form's own validation, and the import reports each row's
//! outcome (added, updated, unchanged, refused with its reasons). A drug is matched by its code:
//! importing the same file twice changes nothing the second time, and the columns a file lacks
//! keep what the catalogue holds. A check-only run shows the same report and writes nothing.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;

use super::{fields, DrugFields, Saved};
use crate::model::Drug;
use crate::repo::catalogue as repo;

/// Largest file taken.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Most rows in one file.
pub const MAX_ROWS: usize = 5000;

/// A row of the file as typed: its line number (the header is line 1) and its cells.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
}

/// A file read: the known column of each position (`None`: ignored) and its rows.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub headers: Vec<Option<&'static str>>,
    pub rows: Vec<Row>,
    pub ignored: Vec<String>,
}

/// Why a file cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    TooLarge,
    Unreadable,
    NoColumns(Vec<&'static str>),
    TooManyRows,
    Empty,
}

impl FileError {
    pub fn message(&self) -> String {
        match self {
            FileError::TooLarge => t("pharmacy_catalogue.import_too_large")
                .replace("{mb}", &(MAX_BYTES / (1024 * 1024)).to_string()),
            FileError::Unreadable => t("pharmacy_catalogue.import_unreadable"),
            FileError::NoColumns(missing) => t("pharmacy_catalogue.import_missing_columns")
                .replace("{columns}", &missing.join(", ")),
            FileError::TooManyRows => {
                t("pharmacy_catalogue.import_too_many_rows").replace("{max}", &MAX_ROWS.to_string())
            }
            FileError::Empty => t("pharmacy_catalogue.import_empty"),
        }
    }
}

/// Column names taken besides the field names themselves (lower case, spaces as `_`).
const ALIASES: &[(&str, &str)] = &[
    ("name", "generic_name"),
    ("generic", "generic_name"),
    ("drug", "generic_name"),
    ("dosage_form", "form"),
    ("dispensing_unit", "unit"),
    ("pack", "pack_size"),
    ("class", "drug_class"),
    ("allergy_group", "allergy_groups"),
    ("moh_717", "moh717"),
    ("category", "moh717"),
    ("rx_only", "prescription_only"),
    ("level", "level_of_care"),
    ("unit_price", "price"),
    ("price_ksh", "price"),
    ("brand", "brands"),
];

/// Columns a file must have (a new drug's row needs more: name, form and unit, checked per row).
const REQUIRED: &[&str] = &["code"];

fn column(name: &str) -> Option<&'static str> {
    let key = name
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace([' ', '-'], "_");
    fields::FIELDS
        .iter()
        .find(|f| **f == key)
        .copied()
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == key).map(|(_, f)| *f))
}

/// Reads a CSV file (comma or semicolon separated, UTF-8, a header row first).
pub fn parse(data: &[u8]) -> Result<Parsed, FileError> {
    if data.len() > MAX_BYTES {
        return Err(FileError::TooLarge);
    }
    let text = std::str::from_utf8(data).map_err(|_| FileError::Unreadable)?;
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header_row = reader.headers().map_err(|_| FileError::Unreadable)?.clone();
    let mut headers = Vec::new();
    let mut ignored = Vec::new();
    let mut seen = HashSet::new();
    for h in header_row.iter() {
        match column(h).filter(|c| seen.insert(*c)) {
            Some(c) => headers.push(Some(c)),
            None => {
                if !h.trim().is_empty() {
                    ignored.push(h.trim().to_string());
                }
                headers.push(None)
            }
        }
    }
    let missing: Vec<&'static str> = REQUIRED
        .iter()
        .filter(|r| !seen.contains(*r))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(FileError::NoColumns(missing));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|_| FileError::Unreadable)?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(FileError::TooManyRows);
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        rows.push(Row {
            line,
            cells: record.iter().map(str::to_string).collect(),
        });
    }
    if rows.is_empty() {
        return Err(FileError::Empty);
    }
    Ok(Parsed {
        headers,
        rows,
        ignored,
    })
}

/// A refused cell: its column and what to fix.
#[derive(Debug, Clone, Serialize)]
pub struct CellError {
    pub column: String,
    pub message: String,
}

/// Checks one row with the form's validation (missing columns take the usual defaults).
pub fn check(row: &Row, headers: &[Option<&'static str>]) -> Result<DrugFields, Vec<CellError>> {
    check_over(row, headers, None)
}

/// Checks one row that may update `before`: the columns the file lacks keep `before`'s values
/// (a file of codes and prices changes prices only); for a new drug they take the usual
/// defaults.
pub fn check_over(
    row: &Row,
    headers: &[Option<&'static str>],
    before: Option<&Drug>,
) -> Result<DrugFields, Vec<CellError>> {
    let cells: HashMap<&str, &str> = headers
        .iter()
        .zip(row.cells.iter())
        .filter_map(|(h, c)| h.map(|h| (h, c.as_str())))
        .collect();
    let stored = before
        .map(|d| DrugFields::of(d).file_values())
        .unwrap_or_default();
    fields::read(
        &|k| match cells.get(k) {
            Some(c) => c.to_string(),
            None => stored.get(k).cloned().unwrap_or_default(),
        },
        true,
    )
    .map_err(|errors| {
        fields::FIELDS
            .iter()
            .filter_map(|f| {
                errors.get(f).map(|m| CellError {
                    column: f.to_string(),
                    message: m.to_string(),
                })
            })
            .collect()
    })
}

/// What happened to a row.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Created {
        drug: i64,
    },
    Updated {
        drug: i64,
    },
    Unchanged {
        drug: i64,
    },
    /// The code appears on an earlier row of the file: only the first counts.
    Repeated {
        first: u64,
    },
    Invalid {
        errors: Vec<CellError>,
    },
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub line: u64,
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The counts of a report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
}

impl Summary {
    pub fn of(report: &[ReportRow]) -> Self {
        let mut s = Summary {
            rows: report.len(),
            ..Summary::default()
        };
        for r in report {
            match r.outcome {
                Outcome::Created { .. } => s.created += 1,
                Outcome::Updated { .. } => s.updated += 1,
                Outcome::Unchanged { .. } => s.unchanged += 1,
                Outcome::Repeated { .. } | Outcome::Invalid { .. } => s.refused += 1,
            }
        }
        s
    }
}

/// Imports the rows in one transaction: each valid row adds its drug or updates the drug of
/// its code (charge item published with it), refused rows change nothing. With `check_only`
/// nothing is kept: the report says what the import would do.
pub async fn run(
    db: &Db,
    parsed: &Parsed,
    check_only: bool,
    actor: &Actor,
) -> Result<Vec<ReportRow>, DbError> {
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let mut report = Vec::with_capacity(parsed.rows.len());
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for row in &parsed.rows {
        let cell = |name: &str| {
            parsed
                .headers
                .iter()
                .position(|h| *h == Some(name))
                .and_then(|i| row.cells.get(i))
                .map(|c| c.trim().to_string())
                .unwrap_or_default()
        };
        let (code, name) = (cell("code").to_uppercase(), cell("generic_name"));
        let outcome = if let Some(first) = first_line.get(&code) {
            Outcome::Repeated { first: *first }
        } else {
            let before = if code.is_empty() {
                None
            } else {
                repo::drug_by_code_in(&mut tx, &code).await?
            };
            match check_over(row, &parsed.headers, before.as_ref()) {
                Err(errors) => Outcome::Invalid { errors },
                Ok(f) => {
                    first_line.insert(f.code.clone(), row.line);
                    match before {
                        None => match super::create_quietly(&mut tx, &f, &now).await? {
                            Saved::Created(drug) => Outcome::Created { drug },
                            _ => Outcome::Repeated { first: row.line },
                        },
                        Some(before) => {
                            let drug = before.id;
                            match super::update(&mut tx, &before, None, &f, actor, &now).await? {
                                Saved::Updated => Outcome::Updated { drug },
                                _ => Outcome::Unchanged { drug },
                            }
                        }
                    }
                }
            }
        };
        report.push(ReportRow {
            line: row.line,
            code,
            name,
            outcome,
        });
    }
    let summary = Summary::of(&report);
    if check_only {
        tx.rollback().await?;
        return Ok(report);
    }
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.catalogue_import", "drug", None).detail(json!({
            "rows": summary.rows,
            "created": summary.created,
            "updated": summary.updated,
            "refused": summary.refused,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// The catalogue as a file the import reads back unchanged (to edit prices in a spreadsheet
/// and import them again). Cells a spreadsheet would run as formulas are defused.
pub fn export_csv(drugs: &[Drug]) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&fields::FIELDS.join(","));
    out.push_str("\r\n");
    for d in drugs {
        let values = DrugFields::of(d).file_values();
        let cells: Vec<String> = fields::FIELDS
            .iter()
            .map(|f| hms_core::ui::csv_cell(values.get(*f).map(String::as_str).unwrap_or("")))
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// An empty file with the column names, to fill in a spreadsheet.
pub fn template_csv() -> String {
    let mut out = fields::FIELDS
        .iter()
        .filter(|f| **f != "active")
        .copied()
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_aliases_and_semicolons_is_read_and_each_row_checked() {
        let file = "Code;Name;Strength;Dosage form;Unit;Pack;Notes\n\
                    x1;Zinc;20 mg;dispersible tablet;tablet;10;ok\n\
                    ;Nothing;;tablet;tablet;0;\n\n";
        let p = parse(file.as_bytes()).unwrap();
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.ignored, vec!["Notes".to_string()]);
        let good = check(&p.rows[0], &p.headers).unwrap();
        assert_eq!((good.code.as_str(), good.pack_size), ("X1", 10));
        let bad = check(&p.rows[1], &p.headers).unwrap_err();
        let columns: Vec<_> = bad.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(columns, vec!["code", "pack_size"]);
        assert_eq!(p.rows[1].line, 3);
    }

    #[test]
    fn columns_a_file_lacks_keep_the_stored_values_of_the_drug_it_updates() {
        let p = parse(b"code,price\nAMX-500-CAP,6\nNEW-1,2\n").unwrap();
        let stored = super::super::fields::read(
            &|k| {
                match k {
                    "code" => "AMX-500-CAP",
                    "generic_name" => "Amoxicillin",
                    "form" => "capsule",
                    "unit" => "capsule",
                    "pack_size" => "100",
                    "moh717" => "antibiotic",
                    "level_of_care" => "2",
                    "route" => "oral",
                    "controlled" => "",
                    "prescription_only" => "1",
                    "active" => "",
                    _ => "",
                }
                .to_string()
            },
            false,
        )
        .unwrap()
        .drug(7);
        let f = check_over(&p.rows[0], &p.headers, Some(&stored)).unwrap();
        assert_eq!(
            (f.price_cents, f.pack_size, f.moh717.as_str()),
            (600, 100, "antibiotic")
        );
        assert!(!f.active && f.prescription_only && !f.controlled);
        // A new drug needs its name, form and unit on its row.
        let errors = check(&p.rows[1], &p.headers).unwrap_err();
        let columns: Vec<_> = errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(columns, vec!["generic_name", "form", "unit"]);
    }

    #[test]
    fn a_file_without_the_needed_columns_or_rows_is_refused_whole() {
        assert_eq!(
            parse(b"name,price\nA,B\n").unwrap_err(),
            FileError::NoColumns(vec!["code"])
        );
        assert_eq!(
            parse(b"code,name,form,unit\n").unwrap_err(),
            FileError::Empty
        );
        assert_eq!(
            parse(&[0xff, 0xfe, 0x00]).unwrap_err(),
            FileError::Unreadable
        );
    }
}
