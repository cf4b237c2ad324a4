//! Spreadsheet values to form values: what clerks write ("F", "31/05/1990", "Nairobi",
//! "Mother") turned into what the registration form sends.

use super::*;

// ---------------------------------------------------------------------------------------------
// Spreadsheet values to form values
// ---------------------------------------------------------------------------------------------

/// A date of birth as stored (YYYY-MM-DD). Spreadsheets in Kenya write DD/MM/YYYY (also with `-`
/// or `.`, and one-digit days and months; read by `hms_core::dates::read`), sometimes with a time
/// of midnight after it. Anything else is left as written, for validation to explain.
pub fn normalise_date(raw: &str) -> String {
    let raw = raw.trim();
    let date = raw
        .strip_suffix("00:00:00")
        .or_else(|| raw.strip_suffix("00:00"))
        .map_or(raw, str::trim_end);
    let date = date.strip_suffix('T').unwrap_or(date);
    match hms_core::dates::read(date) {
        Ok(date) => hms_core::dates::text(date),
        Err(_) => raw.to_string(),
    }
}

/// Lower case letters and digits only: "Murang'a" and "muranga", "Homa-Bay" and "Homa Bay" meet.
pub(crate) fn squash(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// A county as its 3-digit code, from a code ("47", "047") or a name ("Nairobi", "Nairobi City
/// County", "Murang'a"). Anything else is left as written, for validation to explain.
pub fn county_code(raw: &str) -> String {
    let raw = raw.trim();
    if !raw.is_empty() && raw.len() <= 3 && raw.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = raw.parse::<u32>() {
            return format!("{n:03}");
        }
    }
    let mut name = squash(raw);
    for suffix in ["county", "city"] {
        if let Some(rest) = name.strip_suffix(suffix) {
            name = rest.to_string();
        }
    }
    model::counties()
        .iter()
        .find(|c| !name.is_empty() && squash(c.name) == name)
        .map_or_else(|| raw.to_string(), |c| c.code.to_string())
}

pub(crate) fn sex(raw: &str) -> String {
    match squash(raw).as_str() {
        "f" | "female" | "kike" | "ke" => "female".into(),
        "m" | "male" | "kiume" | "me" => "male".into(),
        _ => raw.to_string(),
    }
}

/// The kind of identity document, from the form value or its label ("National ID"). A number
/// without a kind is taken as a national ID, the usual column of a register.
pub(crate) fn id_type(raw: &str, number: &str) -> String {
    let key = squash(raw);
    if key.is_empty() {
        return if number.trim().is_empty() {
            "none".into()
        } else {
            "national_id".into()
        };
    }
    if matches!(key.as_str(), "id" | "nid" | "nationalidcard" | "idcard") {
        return "national_id".into();
    }
    if matches!(key.as_str(), "birthcert" | "bc" | "birthcertificateno") {
        return "birth_certificate".into();
    }
    model::ID_TYPES
        .iter()
        .find(|(value, label)| squash(value) == key || squash(label) == key)
        .map_or_else(|| raw.to_string(), |(value, _)| value.to_string())
}

pub(crate) fn kin_relationship(raw: &str) -> String {
    let known = match squash(raw).as_str() {
        "mother" | "father" | "parent" | "mama" | "baba" | "mzazi" => "parent",
        "wife" | "husband" | "spouse" | "mke" | "mume" => "spouse",
        "son" | "daughter" | "child" | "mtoto" => "child",
        "brother" | "sister" | "sibling" | "kaka" | "dada" => "sibling",
        "guardian" | "mlezi" => "guardian",
        "relative" | "uncle" | "aunt" | "aunty" | "auntie" | "cousin" | "grandmother"
        | "grandfather" | "grandparent" | "niece" | "nephew" | "ndugu" => "relative",
        "friend" | "rafiki" => "friend",
        "other" => "other",
        _ => return raw.trim().to_string(),
    };
    known.to_string()
}

pub(crate) fn consent(raw: &str) -> String {
    match squash(raw).as_str() {
        "y" | "ndiyo" | "ndio" => "yes".into(),
        _ => raw.to_string(),
    }
}

/// The form as it would have been typed for this row, and the old file number.
pub fn typed(row: &FileRow) -> (Typed, String) {
    let typed = Typed::from_fields(|field| match field {
        "sex" => sex(row.get(field)),
        "date_of_birth" => normalise_date(row.get(field)),
        "county_code" => county_code(row.get(field)),
        "id_type" => id_type(row.get(field), row.get("id_number")),
        "kin_relationship" => kin_relationship(row.get(field)),
        "consent_contact" => consent(row.get(field)),
        "blood_group" => row.get(field).split_whitespace().collect(),
        _ => row.get(field).to_string(),
    });
    (typed, row.get("file_number").trim().to_string())
}
