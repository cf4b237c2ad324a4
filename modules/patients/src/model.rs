//! Patient fields: normalisation and validation of what a receptionist types, shared by the
//! registration form, the duplicate check and search. Pure functions, no database, so every rule
//! is unit-tested here. Messages are written for the person at the desk: they say what to fix.

use std::sync::OnceLock;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// Kinds of identity document, as (form value, label). These are the types the Kenyan HIE Client
/// Registry lookup offers, plus "none" for newborns and patients who carry nothing.
pub const ID_TYPES: &[(&str, &str)] = &[
    ("national_id", "National ID"),
    ("birth_certificate", "Birth certificate"),
    ("passport", "Passport"),
    ("alien_id", "Alien ID"),
    ("refugee_id", "Refugee ID"),
    ("none", "None (newborn or unknown)"),
];

/// Further identifiers a patient may carry besides the identity document, as (type, label):
/// insurance and registry numbers, and numbers of older systems and clinics. A patient has at
/// most one of each type; more types can be added here without a schema change.
pub const OTHER_ID_TYPES: &[(&str, &str)] = &[
    ("sha_number", "SHA member number"),
    ("nupi", "NUPI (client registry)"),
    ("file_number", "Old file number"),
    ("ccc_number", "CCC number (HIV clinic)"),
    ("anc_number", "ANC number"),
];

/// The label of any identifier type, document or other, in the request's language (the English
/// labels above stay for reading spreadsheet headings and cells).
pub fn id_type_label(id_type: &str) -> String {
    let known = ID_TYPES
        .iter()
        .chain(OTHER_ID_TYPES)
        .any(|(v, _)| *v == id_type);
    hms_core::i18n::t(&format!(
        "patients.id_kind.{}",
        if known { id_type } else { "other" }
    ))
}

/// Identifier types with their labels in the request's language, for a list to choose from.
pub fn labelled<'a>(
    types: impl IntoIterator<Item = &'a (&'static str, &'static str)>,
) -> Vec<(&'static str, String)> {
    types
        .into_iter()
        .map(|(v, _)| (*v, id_type_label(v)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Counties
// ---------------------------------------------------------------------------------------------

/// One of the 47 counties; `code` is the official 3-digit code ("047" is Nairobi).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct County {
    pub code: &'static str,
    pub name: &'static str,
}

/// All counties in code order, parsed once from the bundled CSV (`code,county` with a header).
pub fn counties() -> &'static [County] {
    static COUNTIES: OnceLock<Vec<County>> = OnceLock::new();
    COUNTIES.get_or_init(|| parse_counties(include_str!("../data/counties.csv")))
}

/// The county with this code, if any (exact match on the 3-digit code).
pub fn county(code: &str) -> Option<&'static County> {
    let code = code.trim();
    counties().iter().find(|c| c.code == code)
}

/// Bundled data, not user input: malformed lines are skipped rather than panicking at runtime;
/// the unit test checks that all 47 counties are there.
fn parse_counties(csv: &'static str) -> Vec<County> {
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let (code, name) = line.split_once(',')?;
            let (code, name) = (code.trim(), name.trim());
            (!code.is_empty() && !name.is_empty()).then_some(County { code, name })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Identity documents
// ---------------------------------------------------------------------------------------------

/// Normalises an identity document number for storage and duplicate checks: trims, removes
/// spaces and dashes (people copy them from cards in groups), upper-cases, then validates
/// according to `id_type` (a value from [`ID_TYPES`]).
///
/// The rules follow KenyaEMR, since no official formats are published: national ID is 5 to 18
/// digits (deliberately loose), other documents are letters and digits. Refugee numbers often
/// contain "/", and no rule was found for them, so they are the loosest.
pub fn normalize_id(id_type: &str, raw: &str) -> Result<String, &'static str> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    // Checks run on ASCII only, so upper-casing cannot change the length (unlike 'ß' → "SS").
    let upper = compact.to_ascii_uppercase();
    let len = upper.chars().count();
    let alnum = |c: char| c.is_ascii_alphanumeric();

    match id_type {
        "none" => {
            if upper.is_empty() {
                Ok(String::new())
            } else {
                Err("patients.check.id_leave_empty")
            }
        }
        "national_id" | "birth_certificate" | "passport" | "alien_id" | "refugee_id"
            if upper.is_empty() =>
        {
            Err("patients.check.id_enter_number")
        }
        "national_id" => {
            if (5..=18).contains(&len) && upper.chars().all(|c| c.is_ascii_digit()) {
                Ok(upper)
            } else {
                Err("patients.check.national_id")
            }
        }
        "birth_certificate" => check_alnum(upper, len, alnum, "patients.check.birth_certificate"),
        "passport" => check_alnum(upper, len, alnum, "patients.check.passport"),
        "alien_id" => check_alnum(upper, len, alnum, "patients.check.alien_id"),
        "refugee_id" => {
            if (3..=30).contains(&len) && upper.chars().all(|c| alnum(c) || c == '/') {
                Ok(upper)
            } else {
                Err("patients.check.refugee_id")
            }
        }
        "sha_number" => check_alnum(upper, len, alnum, "patients.check.sha_number"),
        "nupi" => {
            if (1..=14).contains(&len) && upper.chars().all(alnum) {
                Ok(upper)
            } else {
                Err("patients.check.nupi")
            }
        }
        // Clinic and old-register numbers are written with "/" (e.g. 13939/2019/00012).
        "file_number" | "ccc_number" | "anc_number" => {
            if (1..=30).contains(&len) && upper.chars().all(|c| alnum(c) || c == '/') {
                Ok(upper)
            } else {
                Err("patients.check.file_number")
            }
        }
        _ => Err("patients.check.id_type"),
    }
}

fn check_alnum(
    value: String,
    len: usize,
    allowed: impl Fn(char) -> bool,
    message: &'static str,
) -> Result<String, &'static str> {
    if (4..=20).contains(&len) && value.chars().all(allowed) {
        Ok(value)
    } else {
        Err(message)
    }
}

// ---------------------------------------------------------------------------------------------
// Names and search tokens
// ---------------------------------------------------------------------------------------------

/// Most tokens taken from a search box; more words only slow the query without narrowing much.
const MAX_QUERY_TOKENS: usize = 5;

/// Search-index tokens for a patient's names: lower-case, simple accents folded to ASCII,
/// split into words, without duplicates, in order.
/// `["Wanjiru", "Kamau-Njoroge"]` → `["wanjiru", "kamau", "njoroge"]`.
///
/// Words are split on anything that is not a letter or digit (whitespace, hyphens, apostrophes,
/// dots, and commas in a typed query), so "O'Brien" matches "o brien" and "St. John" matches "st".
pub fn name_tokens(names: &[&str]) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    for name in names {
        for token in fold(name)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
        {
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_string());
            }
        }
    }
    tokens
}

/// Tokens of what a receptionist typed in the search box, normalised like [`name_tokens`] so
/// they can be prefix-matched against the index: "wanj kam" → `["wanj", "kam"]`. At most 5.
pub fn query_tokens(q: &str) -> Vec<String> {
    let mut tokens = name_tokens(&[q]);
    tokens.truncate(MAX_QUERY_TOKENS);
    tokens
}

/// Lower-cases and folds common Latin accents to ASCII, so "Zoë" and "Zoe" find each other.
/// Letters of other scripts are kept as they are; combining accents (decomposed input) dropped.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => out.push('a'),
            'æ' => out.push_str("ae"),
            'ç' | 'ć' | 'č' => out.push('c'),
            'ď' | 'đ' => out.push('d'),
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => out.push('i'),
            'ñ' | 'ń' | 'ň' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => out.push('o'),
            'œ' => out.push_str("oe"),
            'ř' => out.push('r'),
            'ś' | 'š' | 'ş' => out.push('s'),
            'ß' => out.push_str("ss"),
            'ť' | 'ţ' => out.push('t'),
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ź' | 'ż' | 'ž' => out.push('z'),
            c if is_combining_mark(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Combining diacritical marks (U+0300–U+036F): "e" + U+0301 is how some keyboards send "é".
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Apostrophes as typed on phones and in word processors, not only the ASCII one.
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}')
}

/// Checks one name field (first, middle, last): 1 to 60 characters after trimming, letters of
/// any script, spaces, hyphen, apostrophe and dot ("St. John", "O'Neil", "Kamau-Njoroge").
/// An optional field may be empty.
pub fn check_name(value: &str, required: bool) -> Result<(), &'static str> {
    let value = value.trim();
    if value.is_empty() {
        return if required {
            Err("patients.check.name_required")
        } else {
            Ok(())
        };
    }
    if value.chars().count() > 60 {
        return Err("patients.check.name_too_long");
    }
    let allowed = |c: char| {
        c.is_alphabetic()
            || is_combining_mark(c)
            || c == ' '
            || c == '-'
            || c == '.'
            || is_apostrophe(c)
    };
    if !value.chars().all(allowed) {
        return Err("patients.check.name_characters");
    }
    if !value.chars().any(char::is_alphabetic) {
        return Err("patients.check.name_letter");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sex
// ---------------------------------------------------------------------------------------------

/// Sex recorded at registration (the two values MoH registers and reports use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    /// Parses the form / database value "female" or "male" (case and surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Sex> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("female") {
            Some(Sex::Female)
        } else if s.eq_ignore_ascii_case("male") {
            Some(Sex::Male)
        } else {
            None
        }
    }

    /// The stored value: "female" or "male".
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Date of birth and age
// ---------------------------------------------------------------------------------------------

/// Oldest age accepted; anything beyond is a typing mistake in the year.
const MAX_AGE_YEARS: u32 = 130;

/// A date of birth; `estimated` when it was computed from an age the patient gave, which is
/// common when there is no birth certificate. Shown with "~" so clinicians know.
/// (No `Serialize`: the workspace builds chrono without its serde feature.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate {
    pub date: NaiveDate,
    pub estimated: bool,
}

/// Reads the date-of-birth part of the registration form: the exact date `dob` (YYYY-MM-DD, as
/// an HTML date input sends it) when given, otherwise an estimated age in years and/or months.
/// Errors name the form field to show the message beside.
pub fn birth_date(
    dob: &str,
    age_years: &str,
    age_months: &str,
    today: NaiveDate,
) -> Result<BirthDate, (&'static str, &'static str)> {
    let dob = dob.trim();
    if !dob.is_empty() {
        let date = match hms_core::dates::birth(dob, today) {
            Ok(date) => date,
            Err(hms_core::dates::DateError::Unreadable) => {
                return Err(("date_of_birth", "patients.check.dob_unreadable"))
            }
            Err(hms_core::dates::DateError::NoSuchDay { .. }) => {
                return Err(("date_of_birth", "patients.check.dob_no_such_day"))
            }
            Err(hms_core::dates::DateError::TooLate) => {
                return Err(("date_of_birth", "patients.check.dob_future"))
            }
            Err(hms_core::dates::DateError::TooEarly) => {
                return Err(("date_of_birth", "patients.check.dob_too_old"))
            }
        };
        let too_old = today
            .checked_sub_months(Months::new(MAX_AGE_YEARS * 12))
            .is_some_and(|limit| date < limit);
        if too_old {
            return Err(("date_of_birth", "patients.check.dob_too_old"));
        }
        return Ok(BirthDate {
            date,
            estimated: false,
        });
    }

    let (years, months) = (age_years.trim(), age_months.trim());
    if years.is_empty() && months.is_empty() {
        return Err(("date_of_birth", "patients.check.dob_or_age"));
    }
    let years = if years.is_empty() {
        0
    } else {
        match years.parse::<u32>() {
            Ok(y) if y <= MAX_AGE_YEARS => y,
            Ok(_) => return Err(("age_years", "patients.check.age_range")),
            Err(_) => return Err(("age_years", "patients.check.age_whole")),
        }
    };
    let months = if months.is_empty() {
        0
    } else {
        match months.parse::<u32>() {
            Ok(m) if m <= 11 => m,
            Ok(_) => return Err(("age_months", "patients.check.months_range")),
            Err(_) => return Err(("age_months", "patients.check.months_whole")),
        }
    };
    // Month arithmetic clamps to the month's end (a 1-year-old on 29 Feb 2025 → 28 Feb 2024 + …).
    let date = today
        .checked_sub_months(Months::new(years * 12 + months))
        .ok_or(("age_years", "patients.check.age_range"))?;
    Ok(BirthDate {
        date,
        estimated: true,
    })
}

/// Whole months from `from` to `to` (0 if `to` is earlier), counting a month as complete on the
/// same day of the month (or the month's last day when that day does not exist).
fn whole_months(from: NaiveDate, to: NaiveDate) -> u32 {
    use chrono::Datelike;
    if to <= from {
        return 0;
    }
    let guess = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    let guess = u32::try_from(guess).unwrap_or(0);
    // The calendar difference is either right or one too many (day of month not reached yet).
    match from.checked_add_months(Months::new(guess)) {
        Some(d) if d <= to => guess,
        _ => guess.saturating_sub(1),
    }
}

/// Age for lists and the chart header, in the unit clinicians use at that age: "34 y",
/// "7 m" under 2 years (dosing for infants goes by months), "12 d" under a month.
/// Prefixed with "~" when the date of birth was estimated.
pub fn age_text(dob: NaiveDate, estimated: bool, today: NaiveDate) -> String {
    let prefix = if estimated { "~" } else { "" };
    let months = whole_months(dob, today);
    let (key, n) = if months == 0 {
        ("age.days", (today - dob).num_days().max(0))
    } else if months < 24 {
        ("age.months", i64::from(months))
    } else {
        ("age.years", i64::from(months / 12))
    };
    format!(
        "{prefix}{}",
        hms_core::i18n::t(key).replace("{n}", &n.to_string())
    )
}

// ---------------------------------------------------------------------------------------------
// Display helpers
// ---------------------------------------------------------------------------------------------

/// A phone number with the middle hidden, for lists and search results seen over the counter:
/// "+254712345678" → "0712 *** 678". Anything else shows only its last 3 characters.
pub fn mask_phone(e164: &str) -> String {
    match e164.strip_prefix("+254") {
        Some(n) if n.len() == 9 && n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("0{} *** {}", &n[..3], &n[6..])
        }
        _ => {
            let chars: Vec<char> = e164.trim().chars().collect();
            if chars.len() > 3 {
                let tail: String = chars[chars.len() - 3..].iter().collect();
                format!("*** {tail}")
            } else {
                "***".to_string()
            }
        }
    }
}

/// The prefix of this install's patient numbers (`P-26-00042`): registration, the import and
/// the demo data all number with it.
pub const NUMBER_PREFIX: &str = "P";

/// A patient's names as one line: first, middle (when there is one), last.
pub fn full_name(first: &str, middle: Option<&str>, last: &str) -> String {
    [Some(first), middle, Some(last)]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// "Female"/"Male" in the request's language.
pub fn sex_label(sex: &str) -> String {
    match sex {
        "female" => hms_core::i18n::t("patients.sex_female"),
        "male" => hms_core::i18n::t("patients.sex_male"),
        other => other.to_string(),
    }
}

/// [`age_text`] of a stored date of birth (`YYYY-MM-DD`) on `today`; empty when unreadable.
pub fn age_of(date_of_birth: &str, estimated: bool, today: hms_core::day::Day) -> String {
    hms_core::day::Day::from_db_text(date_of_birth)
        .map(|d| age_text(d.date(), estimated, today.date()))
        .unwrap_or_default()
}

/// The patient number printed on cards and files: facility prefix, 2-digit year, sequence
/// padded to 5 digits (wider once a facility passes 99,999 in a year).
/// `("MW", 2026, 42)` → `"MW-26-00042"`.
pub fn patient_number(prefix: &str, year: i32, seq: i64) -> String {
    format!("{prefix}-{:02}-{seq:05}", year.rem_euclid(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    #[test]
    fn id_types_and_blood_groups_are_complete() {
        let values: Vec<&str> = ID_TYPES.iter().map(|(v, _)| *v).collect();
        assert_eq!(
            values,
            [
                "national_id",
                "birth_certificate",
                "passport",
                "alien_id",
                "refugee_id",
                "none"
            ]
        );
        assert_eq!(ID_TYPES[5].1, "None (newborn or unknown)");
    }

    #[test]
    fn all_47_counties_are_loaded() {
        let all = counties();
        assert_eq!(all.len(), 47);
        assert_eq!(
            all[0],
            County {
                code: "001",
                name: "Mombasa"
            }
        );
        assert_eq!(all[46].name, "Nairobi");
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.code, format!("{:03}", i + 1), "codes are in order");
            assert!(!c.name.contains(['\r', ',']), "{c:?}");
        }
        // Parsed once: the same slice every time.
        assert!(std::ptr::eq(counties(), all));
    }

    #[test]
    fn county_lookup() {
        assert_eq!(county("047").map(|c| c.name), Some("Nairobi"));
        assert_eq!(county("004").map(|c| c.name), Some("Tana River"));
        assert_eq!(county(" 001 ").map(|c| c.name), Some("Mombasa"));
        assert!(county("048").is_none());
        assert!(county("").is_none());
        assert!(county("code").is_none(), "the header is not a county");
    }

    #[test]
    fn county_csv_parsing_tolerates_crlf_and_blank_lines() {
        let parsed = parse_counties("code,county\r\n001,Mombasa\r\n\r\nbad line\n002 , Kwale \n");
        assert_eq!(
            parsed,
            [
                County {
                    code: "001",
                    name: "Mombasa"
                },
                County {
                    code: "002",
                    name: "Kwale"
                }
            ]
        );
    }

    #[test]
    fn national_id_is_5_to_18_digits() {
        assert_eq!(
            normalize_id("national_id", " 1234 5678 ").unwrap(),
            "12345678"
        );
        assert_eq!(
            normalize_id("national_id", "12-345-678").unwrap(),
            "12345678"
        );
        assert_eq!(normalize_id("national_id", "12345").unwrap(), "12345");
        assert_eq!(
            normalize_id("national_id", &"9".repeat(18)).unwrap(),
            "9".repeat(18)
        );
        for bad in [
            "1234",
            &"9".repeat(19),
            "1234567A",
            "١٢٣٤٥٦٧٨",
            "12.345.678",
        ] {
            assert_eq!(
                normalize_id("national_id", bad),
                Err("patients.check.national_id"),
                "{bad}"
            );
        }
    }

    #[test]
    fn alphanumeric_documents() {
        assert_eq!(
            normalize_id("passport", "ak 123-4567").unwrap(),
            "AK1234567"
        );
        assert_eq!(normalize_id("birth_certificate", "1234").unwrap(), "1234");
        assert_eq!(
            normalize_id("alien_id", "a".repeat(20).as_str()).unwrap(),
            "A".repeat(20)
        );
        for t in ["birth_certificate", "passport", "alien_id"] {
            assert!(normalize_id(t, "abc").is_err(), "{t}: too short");
            assert!(normalize_id(t, &"a".repeat(21)).is_err(), "{t}: too long");
            assert!(normalize_id(t, "AB/1234").is_err(), "{t}: slash");
            assert!(normalize_id(t, "ÉCOLE1").is_err(), "{t}: non-ASCII");
            assert!(
                normalize_id(t, "straße1").is_err(),
                "{t}: ß must not become SS"
            );
        }
    }

    #[test]
    fn refugee_id_allows_slashes() {
        assert_eq!(
            normalize_id("refugee_id", "kak/15/123").unwrap(),
            "KAK/15/123"
        );
        assert_eq!(normalize_id("refugee_id", "ab1").unwrap(), "AB1");
        assert!(normalize_id("refugee_id", "ab").is_err());
        assert!(normalize_id("refugee_id", &"1".repeat(31)).is_err());
        assert!(normalize_id("refugee_id", "KAK\\15").is_err());
    }

    #[test]
    fn none_and_unknown_types() {
        assert_eq!(normalize_id("none", "").unwrap(), "");
        assert_eq!(normalize_id("none", "  - ").unwrap(), "");
        assert!(normalize_id("none", "12345678").is_err());
        assert_eq!(
            normalize_id("driving_licence", "12345678"),
            Err("patients.check.id_type")
        );
        assert_eq!(normalize_id("", ""), Err("patients.check.id_type"));
        for (t, _) in ID_TYPES.iter().filter(|(t, _)| *t != "none") {
            let message = normalize_id(t, "  ").unwrap_err();
            assert_eq!(message, "patients.check.id_enter_number", "{t}");
        }
    }

    #[test]
    fn name_tokens_split_fold_and_dedupe() {
        assert_eq!(
            name_tokens(&["Wanjiru Kamau-Njoroge"]),
            ["wanjiru", "kamau", "njoroge"]
        );
        assert_eq!(
            name_tokens(&["Wanjiru", "", "Kamau", "kamau", "  WANJIRU  "]),
            ["wanjiru", "kamau"]
        );
        assert_eq!(
            name_tokens(&["O'Brien", "N\u{2019}Dour"]),
            ["o", "brien", "n", "dour"]
        );
        assert_eq!(
            name_tokens(&["Zoë Renée", "Ñandú Æsir"]),
            ["zoe", "renee", "nandu", "aesir"]
        );
        assert_eq!(name_tokens(&["Jose\u{301}"]), ["jose"], "decomposed accent");
        assert_eq!(name_tokens(&["Straße"]), ["strasse"]);
        assert_eq!(name_tokens(&["St. John"]), ["st", "john"]);
        assert_eq!(name_tokens(&["Αλέξης"]), ["αλέξης"], "other scripts kept");
        assert!(name_tokens(&[]).is_empty());
        assert!(name_tokens(&["  - ' "]).is_empty());
    }

    #[test]
    fn query_tokens_match_index_and_are_capped() {
        assert_eq!(query_tokens("wanj kam"), ["wanj", "kam"]);
        assert_eq!(query_tokens("  Kamau,  WANJIRU "), ["kamau", "wanjiru"]);
        assert_eq!(query_tokens("rené"), ["rene"]);
        assert_eq!(query_tokens("a b c d e f g"), ["a", "b", "c", "d", "e"]);
        assert_eq!(
            query_tokens("a a b b c c d d e e f"),
            ["a", "b", "c", "d", "e"]
        );
        assert!(query_tokens("").is_empty());
        assert!(query_tokens("   ").is_empty());
    }

    #[test]
    fn names_are_checked() {
        for ok in [
            "Wanjiru",
            "Kamau-Njoroge",
            "O'Neil",
            "N\u{2019}Dour",
            "St. John",
            "Zoë",
            "Αλέξης",
            "  Ann  ",
        ] {
            assert_eq!(check_name(ok, true), Ok(()), "{ok}");
        }
        assert_eq!(check_name("", true), Err("patients.check.name_required"));
        assert_eq!(check_name("   ", true), Err("patients.check.name_required"));
        assert_eq!(check_name("", false), Ok(()));
        assert_eq!(check_name(&"a".repeat(60), true), Ok(()));
        assert_eq!(
            check_name(&format!(" {} ", "a".repeat(60)), true),
            Ok(()),
            "trimmed"
        );
        assert_eq!(
            check_name(&"é".repeat(60), true),
            Ok(()),
            "counted in characters"
        );
        assert!(check_name(&"a".repeat(61), true).is_err());
        for bad in ["Kamau2", "Ann;", "<b>", "a_b", "Ann\tMary"] {
            assert_eq!(
                check_name(bad, false),
                Err("patients.check.name_characters"),
                "{bad}"
            );
        }
        assert!(check_name("-", true).is_err(), "needs a letter");
        assert!(check_name("'.", false).is_err(), "needs a letter");
    }

    #[test]
    fn sex_parses_and_serialises_lowercase() {
        assert_eq!(Sex::parse("female"), Some(Sex::Female));
        assert_eq!(Sex::parse(" Male "), Some(Sex::Male));
        assert_eq!(Sex::parse(""), None);
        assert_eq!(Sex::parse("f"), None);
        assert_eq!(Sex::Female.as_str(), "female");
        assert_eq!(Sex::Male.as_str(), "male");
        for s in [Sex::Female, Sex::Male] {
            assert_eq!(Sex::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn exact_date_of_birth() {
        let today = d(2026, 3, 15);
        assert_eq!(
            birth_date("1990-05-31", "", "", today),
            Ok(BirthDate {
                date: d(1990, 5, 31),
                estimated: false
            })
        );
        // An exact date wins over an age also left in the form.
        assert_eq!(
            birth_date(" 2026-03-15 ", "40", "2", today).unwrap().date,
            today
        );
        assert_eq!(
            birth_date("2026-03-16", "", "", today),
            Err(("date_of_birth", "patients.check.dob_future"))
        );
        // Nobody alive was born before 1900, nor is older than 130.
        assert!(birth_date("1900-01-01", "", "", today).is_ok());
        assert_eq!(
            birth_date("1899-12-31", "", "", today),
            Err(("date_of_birth", "patients.check.dob_too_old"))
        );
        let later = NaiveDate::from_ymd_opt(2040, 3, 15).expect("date");
        assert_eq!(
            birth_date("1910-03-14", "", "", later),
            Err(("date_of_birth", "patients.check.dob_too_old"))
        );
        assert!(
            birth_date("1910-03-15", "", "", later).is_ok(),
            "exactly 130"
        );
        assert_eq!(
            birth_date("31/05/1990", "", "", today).map(|b| b.date),
            Ok(d(1990, 5, 31)),
            "day first, as Kenyans write it"
        );
        for bad in [
            "31/02/1990",
            "05/31/1990",
            "1990-02-30",
            "1990-5",
            "yesterday",
        ] {
            assert_eq!(
                birth_date(bad, "", "", today).unwrap_err().0,
                "date_of_birth",
                "{bad}"
            );
        }
    }

    #[test]
    fn estimated_date_of_birth_from_age() {
        let today = d(2026, 3, 15);
        let est = |y, m| birth_date("", y, m, today);
        assert_eq!(
            est("34", ""),
            Ok(BirthDate {
                date: d(1992, 3, 15),
                estimated: true
            })
        );
        assert_eq!(est("", "7").unwrap().date, d(2025, 8, 15));
        assert_eq!(est("1", "6").unwrap().date, d(2024, 9, 15));
        assert_eq!(est(" 0 ", "0").unwrap().date, today, "newborn");
        assert_eq!(est("130", "").unwrap().date, d(1896, 3, 15));
        assert_eq!(
            birth_date("", "1", "", d(2025, 2, 28)).unwrap().date,
            d(2024, 2, 28)
        );
        assert_eq!(
            birth_date("", "", "1", d(2026, 3, 31)).unwrap().date,
            d(2026, 2, 28),
            "clamped to the month's end"
        );
        assert_eq!(
            est("", ""),
            Err(("date_of_birth", "patients.check.dob_or_age"))
        );
        assert_eq!(est("  ", " "), est("", ""));
        for bad in ["abc", "-1", "34.5", "131", "99999999999"] {
            assert_eq!(est(bad, "").unwrap_err().0, "age_years", "{bad}");
        }
        for bad in ["x", "-1", "12", "1.5"] {
            assert_eq!(est("3", bad).unwrap_err().0, "age_months", "{bad}");
        }
    }

    #[test]
    fn age_text_uses_the_clinical_unit() {
        let today = d(2026, 3, 15);
        assert_eq!(age_text(d(1992, 3, 15), false, today), "34 y");
        assert_eq!(
            age_text(d(1992, 3, 16), false, today),
            "33 y",
            "birthday tomorrow"
        );
        assert_eq!(age_text(d(1992, 3, 15), true, today), "~34 y");
        assert_eq!(age_text(d(2024, 3, 15), false, today), "2 y");
        assert_eq!(age_text(d(2024, 3, 16), false, today), "23 m");
        assert_eq!(age_text(d(2025, 8, 15), false, today), "7 m");
        assert_eq!(age_text(d(2026, 2, 15), false, today), "1 m");
        assert_eq!(age_text(d(2026, 2, 16), false, today), "27 d");
        assert_eq!(age_text(d(2026, 3, 3), false, today), "12 d");
        assert_eq!(age_text(today, false, today), "0 d");
        assert_eq!(age_text(today, true, today), "~0 d");
        assert_eq!(
            age_text(d(2026, 3, 20), false, today),
            "0 d",
            "future dob is not negative"
        );
        // Born on the 31st: one month is complete on the last day of a shorter month.
        assert_eq!(age_text(d(2026, 1, 31), false, d(2026, 2, 28)), "1 m");
        assert_eq!(age_text(d(2026, 1, 31), false, d(2026, 2, 27)), "27 d");
        // Round trip with an estimated age.
        let b = birth_date("", "1", "6", today).unwrap();
        assert_eq!(age_text(b.date, b.estimated, today), "~18 m");
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("+254712345678"), "0712 *** 678");
        assert_eq!(mask_phone("+254110123456"), "0110 *** 456");
        assert_eq!(mask_phone("+25471234567"), "*** 567", "not a stored mobile");
        assert_eq!(
            mask_phone("+2547123456é8"),
            "*** 6é8",
            "no panic on non-ASCII"
        );
        assert_eq!(mask_phone("12"), "***");
        assert_eq!(mask_phone(""), "***");
    }

    #[test]
    fn patient_numbers() {
        assert_eq!(patient_number("MW", 2026, 42), "MW-26-00042");
        assert_eq!(patient_number("MW", 2026, 1), "MW-26-00001");
        assert_eq!(patient_number("MW", 2026, 99_999), "MW-26-99999");
        assert_eq!(patient_number("MW", 2026, 123_456), "MW-26-123456");
        assert_eq!(patient_number("KNH", 2100, 7), "KNH-00-00007");
        assert_eq!(patient_number("KNH", 2009, 7), "KNH-09-00007");
    }
}
