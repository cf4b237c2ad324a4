//! Patients from a spreadsheet file (CSV): reading the file, matching its columns to the fields
//! of the patient form, and deciding each row's outcome. Pure: no database and no HTTP, so every
//! rule is unit-tested here. Each row is checked by `form::validate`, exactly like the
//! registration form; this module only turns what clerks write in spreadsheets ("F", "31/05/1990",
//! "Nairobi", "Mother") into what the form sends.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use hms_core::i18n::t;

use crate::form::{self, Typed, Valid};
use crate::model;

mod cells;
mod outcome;
pub use cells::*;
pub use outcome::*;

/// Largest file accepted (the upload route allows twice this, so a larger file gets a message
/// rather than a bare "too large").
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Most patients in one file.
pub const MAX_ROWS: usize = 20_000;

/// The columns a file may have, in the order of the template file.
pub const COLUMNS: &[&str] = &[
    "file_number",
    "first_name",
    "middle_name",
    "last_name",
    "sex",
    "date_of_birth",
    "age_years",
    "age_months",
    "phone",
    "email",
    "id_type",
    "id_number",
    "sha_number",
    "nupi",
    "county_code",
    "sub_county",
    "ward",
    "kin_name",
    "kin_relationship",
    "kin_phone",
    "allergies",
    "blood_group",
    "consent_contact",
];

/// Other names clerks give the columns, after [`header_key`] (lower case, words joined by `_`).
const ALIASES: &[(&str, &str)] = &[
    ("file_no", "file_number"),
    ("file", "file_number"),
    ("old_file_number", "file_number"),
    ("old_file_no", "file_number"),
    ("patient_file_number", "file_number"),
    ("opd_number", "file_number"),
    ("opd_no", "file_number"),
    ("op_number", "file_number"),
    ("op_no", "file_number"),
    ("first", "first_name"),
    ("firstname", "first_name"),
    ("given_name", "first_name"),
    // Kenyan forms ask for "Surname" and "Other names".
    ("other_names", "first_name"),
    ("middle", "middle_name"),
    ("middlename", "middle_name"),
    ("second_name", "middle_name"),
    ("last", "last_name"),
    ("lastname", "last_name"),
    ("surname", "last_name"),
    ("family_name", "last_name"),
    ("gender", "sex"),
    ("dob", "date_of_birth"),
    ("d_o_b", "date_of_birth"),
    ("birth_date", "date_of_birth"),
    ("birthdate", "date_of_birth"),
    ("date_born", "date_of_birth"),
    ("age", "age_years"),
    ("age_yrs", "age_years"),
    ("months", "age_months"),
    ("age_mths", "age_months"),
    ("phone_number", "phone"),
    ("phone_no", "phone"),
    ("mobile", "phone"),
    ("mobile_number", "phone"),
    ("mobile_no", "phone"),
    ("telephone", "phone"),
    ("telephone_number", "phone"),
    ("tel", "phone"),
    ("tel_no", "phone"),
    ("email_address", "email"),
    ("e_mail", "email"),
    ("id_kind", "id_type"),
    ("document_type", "id_type"),
    ("id_document", "id_type"),
    ("id_no", "id_number"),
    ("national_id", "id_number"),
    ("national_id_number", "id_number"),
    ("national_id_no", "id_number"),
    ("id_card_number", "id_number"),
    ("identification_number", "id_number"),
    ("document_number", "id_number"),
    ("sha", "sha_number"),
    ("sha_no", "sha_number"),
    ("sha_member_number", "sha_number"),
    ("nupi_number", "nupi"),
    ("county", "county_code"),
    ("county_name", "county_code"),
    ("subcounty", "sub_county"),
    ("ward_name", "ward"),
    ("next_of_kin", "kin_name"),
    ("next_of_kin_name", "kin_name"),
    ("nok", "kin_name"),
    ("nok_name", "kin_name"),
    ("kin", "kin_name"),
    ("relationship", "kin_relationship"),
    ("next_of_kin_relationship", "kin_relationship"),
    ("nok_relationship", "kin_relationship"),
    ("next_of_kin_phone", "kin_phone"),
    ("next_of_kin_phone_number", "kin_phone"),
    ("nok_phone", "kin_phone"),
    ("allergy", "allergies"),
    ("known_allergies", "allergies"),
    ("drug_allergies", "allergies"),
    ("blood_type", "blood_group"),
    ("consent", "consent_contact"),
    ("consent_to_contact", "consent_contact"),
    ("sms_consent", "consent_contact"),
];

/// Why a file cannot be read at all (nothing is staged then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    TooLarge,
    /// An Excel workbook (.xlsx or .xls), not a CSV file.
    Workbook,
    /// Not UTF-8 text (e.g. saved as "CSV" in a Windows code page, or UTF-16).
    NotUtf8,
    Empty,
    /// The first line does not name the columns every patient needs.
    MissingColumns(Vec<&'static str>),
    /// Two columns of the file mean the same field.
    RepeatedColumn(String),
    /// The header names the columns but no row follows.
    NoRows,
    TooManyRows,
    /// The CSV reader gave up (e.g. a quote never closed) at this line.
    Malformed(u64),
}

impl FileError {
    /// What the person uploading should do, in the request's language.
    pub fn message(&self) -> String {
        match self {
            FileError::TooLarge => t("patients_import.error_too_large"),
            FileError::Workbook => t("patients_import.error_workbook"),
            FileError::NotUtf8 => t("patients_import.error_not_utf8"),
            FileError::Empty => t("patients_import.error_empty"),
            FileError::MissingColumns(columns) => {
                t("patients_import.error_missing_columns").replace("{columns}", &columns.join(", "))
            }
            FileError::RepeatedColumn(name) => {
                t("patients_import.error_repeated_column").replace("{column}", name)
            }
            FileError::NoRows => t("patients_import.error_no_rows"),
            FileError::TooManyRows => {
                t("patients_import.error_too_many_rows").replace("{max}", &MAX_ROWS.to_string())
            }
            FileError::Malformed(line) => {
                t("patients_import.error_malformed").replace("{line}", &line.to_string())
            }
        }
    }
}

/// One row of the file with a patient in it.
#[derive(Debug, Clone)]
pub struct FileRow {
    /// The line the row starts on (the header is line 1), as a spreadsheet numbers its rows.
    pub line: u64,
    cells: HashMap<&'static str, String>,
    /// Filled cells beyond the named columns (usually a stray separator inside a value).
    extra_cells: bool,
}

impl FileRow {
    pub fn get(&self, column: &str) -> &str {
        self.cells.get(column).map(String::as_str).unwrap_or("")
    }
}

/// A readable file: its text (without a byte-order mark), rows and columns.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub text: String,
    pub rows: Vec<FileRow>,
    /// Each known column and its name as written in the file's header.
    pub headers: HashMap<&'static str, String>,
    /// Column names of the file that mean nothing here (ignored, listed on the preview).
    pub ignored: Vec<String>,
}

/// A column name as a key: lower case, anything in brackets dropped ("Date of birth
/// (DD/MM/YYYY)"), words joined by `_`.
pub fn header_key(header: &str) -> String {
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in header.trim().trim_start_matches('\u{feff}').chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            c if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let mut key = String::new();
    for c in plain.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    key.trim_end_matches('_').to_string()
}

/// The field a column name stands for, if any.
pub fn column_of(header: &str) -> Option<&'static str> {
    let key = header_key(header);
    COLUMNS
        .iter()
        .copied()
        .find(|c| *c == key)
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == key).map(|(_, c)| *c))
}

/// Reads an uploaded file: UTF-8 (a byte-order mark is dropped), comma separated, or `;` / tab
/// separated when the header line has no comma (Excel in some locales).
pub fn parse(bytes: &[u8]) -> Result<Parsed, FileError> {
    if bytes.len() > MAX_BYTES {
        return Err(FileError::TooLarge);
    }
    // Zip (.xlsx, .ods) and OLE (.xls) containers.
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(FileError::Workbook);
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(FileError::NotUtf8);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| FileError::NotUtf8)?;
    if text.contains('\0') {
        return Err(FileError::NotUtf8);
    }
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains(',') {
        b','
    } else if first_line.contains(';') {
        b';'
    } else if first_line.contains('\t') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(FileError::Malformed(error_line(&e))),
        None => return Err(FileError::Empty),
    };
    let mut columns: Vec<Option<&'static str>> = Vec::new();
    let mut headers: HashMap<&'static str, String> = HashMap::new();
    let mut ignored = Vec::new();
    for name in header.iter() {
        let name = name.trim().trim_start_matches('\u{feff}').trim();
        let column = column_of(name);
        if let Some(c) = column {
            if headers.insert(c, name.to_string()).is_some() {
                return Err(FileError::RepeatedColumn(name.to_string()));
            }
        } else if !name.is_empty() {
            ignored.push(name.to_string());
        }
        columns.push(column);
    }
    let mut missing: Vec<&'static str> = ["first_name", "last_name", "sex"]
        .into_iter()
        .filter(|c| !headers.contains_key(c))
        .collect();
    if !["date_of_birth", "age_years", "age_months"]
        .iter()
        .any(|c| headers.contains_key(c))
    {
        missing.push("date_of_birth");
    }
    if !missing.is_empty() {
        return Err(FileError::MissingColumns(missing));
    }

    let mut rows = Vec::new();
    // Lines counted from byte offsets: the reader's own count does not match a spreadsheet's
    // row numbers. A record's position is where the previous line ended: skip line breaks.
    let mut counted = (0usize, 1u64);
    let mut line_at = |byte: usize| {
        let (from, line) = counted;
        let mut byte = byte.clamp(from, text.len());
        while matches!(text.as_bytes().get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        let more = text.as_bytes()[from..byte]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted = (byte, line + more);
        line + more
    };
    for record in records {
        let record = record.map_err(|e| FileError::Malformed(error_line(&e)))?;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(FileError::TooManyRows);
        }
        let mut cells = HashMap::new();
        let mut extra_cells = false;
        for (i, cell) in record.iter().enumerate() {
            match columns.get(i) {
                Some(Some(column)) => {
                    cells.insert(*column, cell.trim().to_string());
                }
                Some(None) => {}
                None => extra_cells |= !cell.trim().is_empty(),
            }
        }
        let line = line_at(record.position().map_or(0, |p| p.byte() as usize));
        rows.push(FileRow {
            line,
            cells,
            extra_cells,
        });
    }
    if rows.is_empty() {
        return Err(FileError::NoRows);
    }
    Ok(Parsed {
        text: text.to_string(),
        rows,
        headers,
        ignored,
    })
}

fn error_line(e: &csv::Error) -> u64 {
    e.position().map_or(0, |p| p.line())
}

// ---------------------------------------------------------------------------------------------
// Checking a row
// ---------------------------------------------------------------------------------------------

/// A problem with one cell: the column (as named in the file) and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellError {
    pub column: String,
    pub message: String,
}

/// A row checked as the form would check it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub line: u64,
    /// The names as written, to show which row is meant.
    pub name: String,
    /// What makes the row the same row in another file: its old file number, or else all its
    /// values (after normalising).
    pub key: String,
    pub result: Result<Valid, Vec<CellError>>,
}

/// Checks one row with `form::validate` (identity document included) and the old file number.
pub fn check(row: &FileRow, headers: &HashMap<&'static str, String>, today: NaiveDate) -> Checked {
    let (typed, file_number) = typed(row);
    let name = [&typed.first_name, &typed.middle_name, &typed.last_name]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    // Messages name the column as the file does, in the file's column order.
    let mut errors: Vec<(usize, CellError)> = Vec::new();
    let mut add = |field: &str, message: String| {
        let order = COLUMNS
            .iter()
            .position(|c| *c == field)
            .unwrap_or(usize::MAX);
        let column = match field {
            "" => String::new(),
            f => headers.get(f).cloned().unwrap_or_else(|| f.to_string()),
        };
        errors.push((order, CellError { column, message }));
    };
    let file_id = if file_number.is_empty() {
        None
    } else {
        match model::normalize_id("file_number", &file_number) {
            Ok(n) => Some(n),
            Err(m) => {
                add("file_number", t(m));
                None
            }
        }
    };
    let key = row_key(&typed, file_id.as_deref());
    let mut valid = match form::validate(&typed, true, today) {
        Ok(v) => Some(v),
        Err(form_errors) => {
            let map = serde_json::to_value(&form_errors).unwrap_or_default();
            let known_id_type = model::ID_TYPES.iter().any(|(v, _)| *v == typed.id_type);
            for (field, message) in map.as_object().into_iter().flatten() {
                // The form's "choose from the list" means little in a spreadsheet: say what
                // to write instead.
                let (field, message) = match field.as_str() {
                    "sex" => ("sex", t("patients_import.error_sex")),
                    "county_code" => ("county_code", t("patients_import.error_county")),
                    "kin_relationship" => (
                        "kin_relationship",
                        t("patients_import.error_kin_relationship")
                            .replace("{values}", &form::KIN_RELATIONSHIPS.join(", ")),
                    ),
                    "blood_group" => (
                        "blood_group",
                        t("patients_import.error_blood_group")
                            .replace("{values}", &form::BLOOD_GROUPS.join(", ")),
                    ),
                    "id_number" if !known_id_type => (
                        "id_type",
                        t("patients_import.error_id_type").replace(
                            "{values}",
                            &model::ID_TYPES
                                .iter()
                                .map(|(v, _)| *v)
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                    ),
                    other => (other, message.as_str().unwrap_or_default().to_string()),
                };
                add(field, message);
            }
            None
        }
    };
    if row.extra_cells {
        add("", t("patients_import.error_extra_cells"));
    }
    errors.sort_by_key(|(order, _)| *order);
    let errors: Vec<CellError> = errors.into_iter().map(|(_, e)| e).collect();
    let result = match (valid.take(), errors.is_empty()) {
        (Some(mut v), true) => {
            if let Some(n) = file_id {
                v.identifiers.push(("file_number".to_string(), n));
            }
            Ok(v)
        }
        _ => Err(errors),
    };
    Checked {
        line: row.line,
        name,
        key,
        result,
    }
}

/// SHA-256 of the old file number when there is one (the register's own key), else of every
/// value of the row as the form reads it (so spaces, "F" or "31/05/1990" do not make a row new).
pub fn row_key(typed: &Typed, file_number: Option<&str>) -> String {
    let mut h = Sha256::new();
    match file_number {
        Some(n) => {
            h.update(b"file_number\n");
            h.update(n.as_bytes());
        }
        None => {
            h.update(b"row\n");
            h.update(serde_json::to_string(typed).unwrap_or_default().as_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// A file name fit to show and store: the last part of a path, without control characters, at
/// most 120 characters.
pub fn clean_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = last.chars().filter(|c| !c.is_control()).take(120).collect();
    let clean = clean.trim().to_string();
    if clean.is_empty() {
        "patients.csv".to_string()
    } else {
        clean
    }
}

/// The template file: the header row (with a byte-order mark, so Excel opens it as UTF-8).
pub fn template_csv() -> String {
    format!("\u{feff}{}\r\n", COLUMNS.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
    }

    fn checked(text: &str) -> Vec<Checked> {
        let parsed = parse(text.as_bytes()).expect("parses");
        parsed
            .rows
            .iter()
            .map(|r| check(r, &parsed.headers, today()))
            .collect()
    }

    #[test]
    fn headers_are_matched_by_name_and_alias() {
        assert_eq!(column_of(" First_Name "), Some("first_name"));
        assert_eq!(column_of("Date of birth"), Some("date_of_birth"));
        assert_eq!(
            column_of("Date of birth (DD/MM/YYYY)"),
            Some("date_of_birth")
        );
        assert_eq!(column_of("DOB"), Some("date_of_birth"));
        assert_eq!(column_of("Phone number"), Some("phone"));
        assert_eq!(column_of("Phone No."), Some("phone"));
        assert_eq!(column_of("ID number"), Some("id_number"));
        assert_eq!(column_of("County"), Some("county_code"));
        assert_eq!(column_of("Surname"), Some("last_name"));
        assert_eq!(column_of("Other names"), Some("first_name"));
        assert_eq!(column_of("Next of kin"), Some("kin_name"));
        assert_eq!(column_of("File No"), Some("file_number"));
        assert_eq!(column_of("Gender"), Some("sex"));
        assert_eq!(
            column_of("id"),
            None,
            "another system's row id is not an ID number"
        );
        assert_eq!(column_of("Remarks"), None);
        assert_eq!(header_key("  Sub-County  "), "sub_county");
        for c in COLUMNS {
            assert_eq!(column_of(c), Some(*c), "{c}");
            assert_eq!(column_of(&c.to_uppercase()), Some(*c), "{c}");
        }
        for (alias, column) in ALIASES {
            assert!(COLUMNS.contains(column), "{alias} -> {column}");
            assert_eq!(header_key(alias), *alias, "aliases are written as keys");
        }
    }

    #[test]
    fn dates_are_read_the_kenyan_way() {
        assert_eq!(normalise_date("31/05/1990"), "1990-05-31");
        assert_eq!(normalise_date("1/2/2003"), "2003-02-01", "day first");
        assert_eq!(normalise_date("31-05-1990"), "1990-05-31");
        assert_eq!(normalise_date("31.05.1990"), "1990-05-31");
        assert_eq!(normalise_date("1990-05-31"), "1990-05-31");
        assert_eq!(normalise_date("31/05/1990 00:00"), "1990-05-31");
        assert_eq!(normalise_date("1990-05-31 00:00:00"), "1990-05-31");
        assert_eq!(normalise_date(" 31/05/1990 "), "1990-05-31");
        for kept in ["05/31/1990", "31/02/1990", "31/05/90", "yesterday", ""] {
            assert_eq!(normalise_date(kept), kept, "{kept} is left for validation");
        }
    }

    #[test]
    fn counties_sexes_and_documents_as_clerks_write_them() {
        assert_eq!(county_code("047"), "047");
        assert_eq!(county_code("47"), "047");
        assert_eq!(county_code("1"), "001");
        assert_eq!(county_code("Nairobi"), "047");
        assert_eq!(county_code("nairobi city county"), "047");
        assert_eq!(county_code("Murang'a"), "021");
        assert_eq!(county_code("HOMA-BAY"), "043");
        assert_eq!(county_code("Atlantis"), "Atlantis");
        assert_eq!(county_code(""), "");
        assert_eq!(sex("F"), "female");
        assert_eq!(sex("m"), "male");
        assert_eq!(sex("Female"), "female");
        assert_eq!(sex("Kiume"), "male");
        assert_eq!(sex("x"), "x");
        assert_eq!(id_type("", "12345678"), "national_id");
        assert_eq!(id_type("", ""), "none");
        assert_eq!(id_type("National ID", "1"), "national_id");
        assert_eq!(id_type("passport", "1"), "passport");
        assert_eq!(id_type("Birth Certificate", "1"), "birth_certificate");
        assert_eq!(id_type("driving licence", "1"), "driving licence");
        assert_eq!(kin_relationship("Mother"), "parent");
        assert_eq!(kin_relationship("WIFE"), "spouse");
        assert_eq!(kin_relationship("boss"), "boss");
    }

    #[test]
    fn a_bom_and_semicolons_from_excel_are_read() {
        let text =
            "\u{feff}First name;Surname;Sex;DOB;County\r\nAmina;Kamau;F;31/05/1990;Nairobi\r\n";
        let parsed = parse(text.as_bytes()).expect("parses");
        assert!(!parsed.text.starts_with('\u{feff}'));
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].line, 2);
        assert_eq!(parsed.headers["first_name"], "First name");
        let c = check(&parsed.rows[0], &parsed.headers, today());
        let v = c.result.expect("valid");
        assert_eq!(v.details.date_of_birth, "1990-05-31");
        assert_eq!(v.details.sex, "female");
        assert_eq!(v.details.county_code.as_deref(), Some("047"));
        assert_eq!(c.name, "Amina Kamau");
        let commas = parse(b"first_name,last_name,sex,age_years\n\"Kamau, Jr\",X,M,3\n").unwrap();
        assert_eq!(commas.rows[0].get("first_name"), "Kamau, Jr");
    }

    #[test]
    fn files_that_cannot_be_read_are_explained() {
        assert_eq!(parse(b"PK\x03\x04rest").unwrap_err(), FileError::Workbook);
        assert_eq!(parse(b"\xFF\xFEa\0b\0").unwrap_err(), FileError::NotUtf8);
        assert_eq!(
            parse(b"first_name,last_name,sex,age_years\nJos\xe9,K,M,3\n").unwrap_err(),
            FileError::NotUtf8,
            "Windows-1252"
        );
        assert_eq!(parse(b"  \n").unwrap_err(), FileError::Empty);
        assert_eq!(
            parse(b"name,phone\nAmina Kamau,0712345678\n").unwrap_err(),
            FileError::MissingColumns(vec!["first_name", "last_name", "sex", "date_of_birth"])
        );
        assert_eq!(
            parse(b"first_name,last_name,sex,dob,Date of birth\n").unwrap_err(),
            FileError::RepeatedColumn("Date of birth".into())
        );
        assert_eq!(
            parse(b"first_name,last_name,sex,dob\n,,,\n").unwrap_err(),
            FileError::NoRows
        );
        let mut big = String::from("first_name,last_name,sex,age_years\n");
        for _ in 0..=MAX_ROWS {
            big.push_str("A,B,F,3\n");
        }
        assert_eq!(parse(big.as_bytes()).unwrap_err(), FileError::TooManyRows);
        assert_eq!(
            parse(&vec![b'a'; MAX_BYTES + 1]).unwrap_err(),
            FileError::TooLarge
        );
    }

    #[test]
    fn ignored_columns_blank_rows_and_extra_cells() {
        let parsed = parse(
            b"first_name,last_name,sex,age_years,Remarks\nA,B,F,3,x\n,,,,\n\nC,D,M,4,y,extra\n",
        )
        .unwrap();
        assert_eq!(parsed.ignored, ["Remarks"]);
        assert_eq!(parsed.rows.len(), 2, "blank rows are skipped");
        assert_eq!(
            parsed.rows[1].line, 5,
            "rows keep their spreadsheet numbers"
        );
        let c = check(&parsed.rows[1], &parsed.headers, today());
        let errors = c.result.unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].column.is_empty());
    }

    #[test]
    fn invalid_rows_carry_the_form_messages_by_column() {
        use hms_core::module::Module;
        hms_core::i18n::install(&[("patients", crate::PatientsModule.locales())]).unwrap();
        let rows = checked(
            "First name,Surname,Sex,Date of birth,Phone number,File No\n\
             Amina,K4mau,X,31/13/1990,0812000000,A#1\n",
        );
        let errors = rows[0].result.clone().unwrap_err();
        let by = |column: &str| {
            errors
                .iter()
                .find(|e| e.column == column)
                .map(|e| e.message.clone())
                .unwrap_or_else(|| panic!("{column} has a message: {errors:?}"))
        };
        assert_eq!(
            errors[0].column, "File No",
            "in the order of the form's columns"
        );
        assert!(by("Surname").contains("Names may use"));
        assert!(!by("Sex").is_empty());
        assert!(by("Date of birth").contains("day/month/year"), "{errors:?}");
        assert!(by("Phone number").contains("Kenyan mobile"));
        assert!(by("File No").contains("letters, digits and /"));
        assert!(errors.iter().all(|e| e.column != "First name"));
    }

    #[test]
    fn a_file_number_becomes_an_identifier_and_the_row_key() {
        let rows = checked(
            "file_number,first_name,last_name,sex,date_of_birth,id_number\n\
             13939/2019/12,Amina,Kamau,F,1990-05-31,1234 5678\n\
             13939/2019/12,Amina,Kamau,F,31/05/1990,12345678\n\
             ,Amina,Kamau,F,31/05/1990,\n\
             , Amina ,Kamau,female,1990-05-31,\n",
        );
        let v = rows[0].result.clone().unwrap();
        assert_eq!(
            v.identifiers,
            [
                ("national_id".to_string(), "12345678".to_string()),
                ("file_number".to_string(), "13939/2019/12".to_string())
            ]
        );
        assert_eq!(rows[0].key, rows[1].key, "the file number is the key");
        assert_ne!(rows[0].key, rows[2].key);
        assert_eq!(rows[2].key, rows[3].key, "values are compared normalised");
        assert_eq!(rows[0].key.len(), 64);
    }

    #[test]
    fn outcomes_follow_what_is_known() {
        let rows = checked(
            "first_name,last_name,sex,date_of_birth,phone,id_number\n\
             Amina,Kamau,F,1990-05-31,0712345678,12345678\n\
             Amina,Kamau,F,1990-05-31,0712345678,12345678\n\
             Baraka,Otieno,M,1980-01-01,,12345678\n\
             Zawadi,Achieng,F,2001-01-01,0712345678,\n\
             Wanjiru,Kamau,F,1990-05-31,,\n\
             Juma,Mwangi,M,1970-01-01,,\n",
        );
        let mut seen = Seen::default();
        let none = Lookup::default();
        let mut outcomes = Vec::new();
        for c in &rows {
            let v = c.result.as_ref().unwrap();
            let o = decide(&c.key, v, &none, &seen, false);
            if o == Outcome::Create {
                seen.add(c.line, &c.key, v);
            }
            outcomes.push(o);
        }
        assert_eq!(outcomes[0], Outcome::Create);
        assert_eq!(
            outcomes[1],
            Outcome::Duplicate {
                why: Why::SameRow,
                patient: None,
                row: Some(2)
            }
        );
        assert_eq!(
            outcomes[2],
            Outcome::Duplicate {
                why: Why::Identifier,
                patient: None,
                row: Some(2)
            }
        );
        assert_eq!(
            outcomes[3],
            Outcome::Possible {
                why: Why::Phone,
                patient: None,
                row: Some(2)
            }
        );
        assert_eq!(
            outcomes[4],
            Outcome::Possible {
                why: Why::Likely,
                patient: None,
                row: Some(2)
            }
        );
        assert_eq!(outcomes[5], Outcome::Create);

        let juma = &rows[5];
        let v = juma.result.as_ref().unwrap();
        let fresh = Seen::default();
        let p = Existing {
            id: 7,
            number: "P-26-00007".into(),
        };
        let known = |l: Lookup| decide(&juma.key, v, &l, &fresh, false);
        assert_eq!(
            known(Lookup {
                already: true,
                holder: Some(p.clone()),
                ..Lookup::default()
            }),
            Outcome::Already
        );
        assert_eq!(
            known(Lookup {
                holder: Some(p.clone()),
                phone: Some(p.clone()),
                ..Lookup::default()
            }),
            Outcome::Duplicate {
                why: Why::Identifier,
                patient: Some(p.clone()),
                row: None
            }
        );
        let shared_phone = Lookup {
            phone: Some(p.clone()),
            ..Lookup::default()
        };
        assert_eq!(
            known(shared_phone.clone()),
            Outcome::Possible {
                why: Why::Phone,
                patient: Some(p.clone()),
                row: None
            }
        );
        assert_eq!(
            decide(&juma.key, v, &shared_phone, &fresh, true),
            Outcome::Create,
            "possible duplicates are imported when asked for"
        );
    }

    #[test]
    fn summaries_count_each_outcome() {
        let row = |outcome| ReportRow {
            line: 2,
            name: "A B".into(),
            outcome,
        };
        let s = summarise(&[
            row(Outcome::Create),
            row(Outcome::Create),
            row(Outcome::Already),
            row(Outcome::Invalid { errors: Vec::new() }),
        ]);
        assert_eq!((s.rows, s.create, s.already, s.invalid), (4, 2, 1, 1));
        let json = serde_json::to_string(&row(Outcome::Duplicate {
            why: Why::Identifier,
            patient: None,
            row: Some(3),
        }))
        .unwrap();
        assert!(json.contains("\"kind\":\"duplicate\"") && json.contains("\"why\":\"identifier\""));
    }

    #[test]
    fn file_names_are_cleaned_and_the_template_lists_every_column() {
        assert_eq!(
            clean_filename("C:\\Users\\desk\\register.csv"),
            "register.csv"
        );
        assert_eq!(clean_filename("a/b/reg\u{7}.csv"), "reg.csv");
        assert_eq!(clean_filename(""), "patients.csv");
        let template = template_csv();
        let parsed = parse(format!("{template}A,B,F\n").as_bytes());
        assert!(parsed.is_ok() || matches!(parsed, Err(FileError::NoRows)));
        assert!(template.starts_with("\u{feff}file_number,first_name,"));
        assert_eq!(template.trim().split(',').count(), COLUMNS.len());
    }
}
