//! The patient form: what a receptionist types at registration or when correcting a record, and
//! its validation into [`Details`]. Registration, editing and the spreadsheet import all read
//! patients through here, so a rule is written once and a file row is checked exactly like the
//! form.

use chrono::NaiveDate;
use serde::Serialize;

use hms_core::http::Form;
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{outbox, phone};

use crate::model::{self, Sex};

/// Blood groups offered on the form (ABO and Rh D).
pub const BLOOD_GROUPS: &[&str] = &["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"];

/// Relationships offered for the next of kin (stored as the value, shown translated).
pub const KIN_RELATIONSHIPS: &[&str] = &[
    "parent", "spouse", "child", "sibling", "guardian", "relative", "friend", "other",
];

/// The fields of the patient form as typed (trimmed), kept to show the form again on an error.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Typed {
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub age_years: String,
    pub age_months: String,
    pub phone: String,
    pub email: String,
    pub id_type: String,
    pub id_number: String,
    pub sha_number: String,
    pub nupi: String,
    pub county_code: String,
    pub sub_county: String,
    pub ward: String,
    pub kin_name: String,
    pub kin_relationship: String,
    pub kin_phone: String,
    pub allergies: String,
    pub blood_group: String,
    pub consent_contact: bool,
}

/// Free text is cut, not refused: a long allergy list still saves its first 500 characters.
fn clip(value: &str, max: usize) -> String {
    value.trim().chars().take(max).collect()
}

impl Typed {
    /// Reads the form fields by name (missing fields are empty).
    pub fn from_form(f: &Form) -> Self {
        Self::from_fields(|k| f.get(k).to_string())
    }

    /// Reads the fields from any source of named values (a form, a spreadsheet row).
    pub fn from_fields(get: impl Fn(&str) -> String) -> Self {
        let g = |k: &str| clip(&get(k), 120);
        Typed {
            first_name: g("first_name"),
            middle_name: g("middle_name"),
            last_name: g("last_name"),
            sex: g("sex").to_lowercase(),
            date_of_birth: g("date_of_birth"),
            age_years: g("age_years"),
            age_months: g("age_months"),
            phone: g("phone"),
            email: g("email").to_lowercase(),
            id_type: g("id_type"),
            id_number: g("id_number"),
            sha_number: g("sha_number"),
            nupi: g("nupi"),
            county_code: g("county_code"),
            sub_county: g("sub_county"),
            ward: g("ward"),
            kin_name: g("kin_name"),
            kin_relationship: g("kin_relationship"),
            kin_phone: g("kin_phone"),
            allergies: clip(&get("allergies"), 500),
            blood_group: g("blood_group").to_uppercase(),
            consent_contact: matches!(
                get("consent_contact").trim().to_lowercase().as_str(),
                "1" | "yes" | "true" | "on"
            ),
        }
    }
}

impl Typed {
    fn text_fields(&self) -> [(&'static str, &str); 21] {
        [
            ("first_name", &self.first_name),
            ("middle_name", &self.middle_name),
            ("last_name", &self.last_name),
            ("sex", &self.sex),
            ("date_of_birth", &self.date_of_birth),
            ("age_years", &self.age_years),
            ("age_months", &self.age_months),
            ("phone", &self.phone),
            ("email", &self.email),
            ("id_type", &self.id_type),
            ("id_number", &self.id_number),
            ("sha_number", &self.sha_number),
            ("nupi", &self.nupi),
            ("county_code", &self.county_code),
            ("sub_county", &self.sub_county),
            ("ward", &self.ward),
            ("kin_name", &self.kin_name),
            ("kin_relationship", &self.kin_relationship),
            ("kin_phone", &self.kin_phone),
            ("allergies", &self.allergies),
            ("blood_group", &self.blood_group),
        ]
    }

    /// The form filled from a stored record, for correcting it.
    pub fn from_record(d: &Details, identifiers: &[(String, String)]) -> Self {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let id = |kind: &str| {
            identifiers
                .iter()
                .find(|(t, _)| t == kind)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Typed {
            first_name: d.first_name.clone(),
            middle_name: o(&d.middle_name),
            last_name: d.last_name.clone(),
            sex: d.sex.to_string(),
            // An estimated date stays a date here: correcting it means typing the real one.
            date_of_birth: d.date_of_birth.clone(),
            phone: d.phone.as_deref().map(phone::display).unwrap_or_default(),
            email: o(&d.email),
            sha_number: id("sha_number"),
            nupi: id("nupi"),
            county_code: o(&d.county_code),
            sub_county: o(&d.sub_county),
            ward: o(&d.ward),
            kin_name: o(&d.kin_name),
            kin_relationship: o(&d.kin_relationship),
            kin_phone: d
                .kin_phone
                .as_deref()
                .map(phone::display)
                .unwrap_or_default(),
            allergies: o(&d.allergies),
            blood_group: o(&d.blood_group),
            consent_contact: d.consent_contact,
            ..Default::default()
        }
    }
}

/// A validated patient's demographics (everything but identifiers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Details {
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub sex: &'static str,
    pub date_of_birth: String,
    pub dob_estimated: bool,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub county_code: Option<String>,
    pub sub_county: Option<String>,
    pub ward: Option<String>,
    pub kin_name: Option<String>,
    pub kin_relationship: Option<String>,
    pub kin_phone: Option<String>,
    pub allergies: Option<String>,
    pub blood_group: Option<String>,
    pub consent_contact: bool,
}

impl Details {
    /// The search-index tokens of the names.
    pub fn tokens(&self) -> Vec<String> {
        model::name_tokens(&[
            &self.first_name,
            self.middle_name.as_deref().unwrap_or(""),
            &self.last_name,
        ])
    }
}

/// A validated patient: demographics and identifiers as (type, normalised value).
#[derive(Debug, Clone)]
pub struct Valid {
    pub details: Details,
    pub identifiers: Vec<(String, String)>,
}

fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn optional_phone(errors: &mut FormErrors, field: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    match phone::normalize_mobile(value) {
        Ok(p) => Some(p),
        Err(m) => {
            errors.add(field, m);
            None
        }
    }
}

/// Checks a short free-text place or name field: at most 60 characters (control characters
/// are refused for every field by `validate`).
fn check_text(errors: &mut FormErrors, field: &str, value: &str) -> Option<String> {
    if value.chars().count() > 60 {
        errors.add(field, t("patients.error_too_long"));
        return None;
    }
    optional(value)
}

/// The typed date's error when it names a day its month does not have.
fn no_such_day(typed: &str) -> Option<hms_core::dates::DateError> {
    match hms_core::dates::read(typed) {
        Err(e @ hms_core::dates::DateError::NoSuchDay { .. }) => Some(e),
        _ => None,
    }
}

/// Adds the message of a model check (a catalogue key) in the request's language.
fn check(errors: &mut FormErrors, field: &str, result: Result<(), &'static str>) {
    if let Err(key) = result {
        errors.add(field, t(key));
    }
}

/// Validates the form. `with_document` reads the identity document fields (`id_type`,
/// `id_number`), which registration and import carry and the edit form does not.
pub fn validate(v: &Typed, with_document: bool, today: NaiveDate) -> Result<Valid, FormErrors> {
    let mut errors = FormErrors::new();
    // The web form's fields were checked by the platform; a spreadsheet's cells were not.
    for (field, value) in v.text_fields() {
        if value.chars().any(char::is_control) {
            errors.add(field, t("validation.control_character"));
        }
    }
    check(
        &mut errors,
        "first_name",
        model::check_name(&v.first_name, true),
    );
    check(
        &mut errors,
        "middle_name",
        model::check_name(&v.middle_name, false),
    );
    check(
        &mut errors,
        "last_name",
        model::check_name(&v.last_name, true),
    );
    let sex = Sex::parse(&v.sex);
    if sex.is_none() {
        errors.add("sex", t("patients.error_sex"));
    }
    let birth = match model::birth_date(&v.date_of_birth, &v.age_years, &v.age_months, today) {
        Ok(b) => Some(b),
        Err((field, message)) => {
            // A day its month does not have is named: "There is no 31 February 2026".
            let text = match no_such_day(&v.date_of_birth) {
                Some(e) if field == "date_of_birth" => e.message(today),
                _ => t(message),
            };
            errors.add(field, text);
            None
        }
    };
    let phone = optional_phone(&mut errors, "phone", &v.phone);
    let email = optional(&v.email);
    if email.as_deref().is_some_and(|e| !outbox::valid_address(e)) {
        errors.add("email", t("patients.error_email"));
    }
    if v.consent_contact && phone.is_none() && email.is_none() && errors.get("phone").is_none() {
        errors.add("consent_contact", t("patients.error_consent"));
    }

    let mut identifiers = Vec::new();
    if with_document {
        let id_type = if v.id_type.is_empty() {
            "none"
        } else {
            &v.id_type
        };
        match model::normalize_id(id_type, &v.id_number) {
            Ok(n) if id_type == "none" => debug_assert!(n.is_empty()),
            Ok(n) => identifiers.push((id_type.to_string(), n)),
            Err(m) => errors.add("id_number", t(m)),
        }
    }
    for field in ["sha_number", "nupi"] {
        let value = if field == "sha_number" {
            &v.sha_number
        } else {
            &v.nupi
        };
        if value.is_empty() {
            continue;
        }
        match model::normalize_id(field, value) {
            Ok(n) => identifiers.push((field.to_string(), n)),
            Err(m) => errors.add(field, t(m)),
        }
    }

    let county_code = optional(&v.county_code);
    if county_code
        .as_deref()
        .is_some_and(|c| model::county(c).is_none())
    {
        errors.add("county_code", t("patients.error_county"));
    }
    let sub_county = check_text(&mut errors, "sub_county", &v.sub_county);
    let ward = check_text(&mut errors, "ward", &v.ward);
    let kin_name = optional(&v.kin_name);
    if kin_name.is_some() {
        check(
            &mut errors,
            "kin_name",
            model::check_name(&v.kin_name, false),
        );
    }
    let kin_relationship = optional(&v.kin_relationship);
    if kin_relationship
        .as_deref()
        .is_some_and(|r| !KIN_RELATIONSHIPS.contains(&r))
    {
        errors.add("kin_relationship", t("patients.error_choose"));
    }
    let kin_phone = optional_phone(&mut errors, "kin_phone", &v.kin_phone);
    let blood_group = optional(&v.blood_group);
    if blood_group
        .as_deref()
        .is_some_and(|b| !BLOOD_GROUPS.contains(&b))
    {
        errors.add("blood_group", t("patients.error_choose"));
    }

    let (Some(sex), Some(birth), true) = (sex, birth, errors.is_empty()) else {
        return Err(errors);
    };
    Ok(Valid {
        details: Details {
            first_name: v.first_name.clone(),
            middle_name: optional(&v.middle_name),
            last_name: v.last_name.clone(),
            sex: sex.as_str(),
            date_of_birth: hms_core::dates::text(birth.date),
            dob_estimated: birth.estimated,
            phone,
            email,
            county_code,
            sub_county,
            ward,
            kin_name,
            kin_relationship,
            kin_phone,
            allergies: optional(&v.allergies),
            blood_group,
            consent_contact: v.consent_contact,
        },
        identifiers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
    }

    fn typed(pairs: &[(&str, &str)]) -> Typed {
        let base = [
            ("first_name", "Amina"),
            ("last_name", "Wanjiru"),
            ("sex", "female"),
            ("date_of_birth", "1990-05-31"),
        ];
        Typed::from_fields(|k| {
            pairs
                .iter()
                .chain(base.iter())
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        })
    }

    #[test]
    fn a_minimal_patient_is_valid() {
        let v = validate(&typed(&[]), true, today()).expect("valid");
        assert_eq!(v.details.sex, "female");
        assert_eq!(v.details.date_of_birth, "1990-05-31");
        assert!(v.identifiers.is_empty(), "no document: id type none");
        assert_eq!(v.details.tokens(), ["amina", "wanjiru"]);
    }

    #[test]
    fn identifiers_are_normalised_and_collected() {
        let v = validate(
            &typed(&[
                ("id_type", "national_id"),
                ("id_number", "1234 5678"),
                ("sha_number", "cr-1569230130821"),
                ("nupi", "ab12"),
            ]),
            true,
            today(),
        )
        .expect("valid");
        assert_eq!(
            v.identifiers,
            [
                ("national_id".to_string(), "12345678".to_string()),
                ("sha_number".to_string(), "CR1569230130821".to_string()),
                ("nupi".to_string(), "AB12".to_string()),
            ]
        );
        let edit = validate(
            &typed(&[("id_type", "national_id"), ("id_number", "1")]),
            false,
            today(),
        )
        .expect("the edit form ignores the document fields");
        assert!(edit.identifiers.is_empty());
    }

    #[test]
    fn each_bad_field_gets_its_own_message() {
        let errors = validate(
            &typed(&[
                ("sex", "x"),
                ("phone", "12"),
                ("kin_phone", "0712"),
                ("email", "not an address"),
                ("blood_group", "C+"),
                ("kin_relationship", "boss"),
                ("county_code", "099"),
                ("ward", &"w".repeat(61)),
            ]),
            true,
            today(),
        )
        .expect_err("invalid");
        for field in [
            "sex",
            "phone",
            "kin_phone",
            "email",
            "blood_group",
            "kin_relationship",
            "county_code",
            "ward",
        ] {
            assert!(errors.get(field).is_some(), "{field} has a message");
        }
        assert!(errors.get("first_name").is_none());
    }

    #[test]
    fn consent_needs_a_way_to_reach_the_patient() {
        let errors =
            validate(&typed(&[("consent_contact", "1")]), true, today()).expect_err("no contact");
        assert!(errors.get("consent_contact").is_some());
        let v = validate(
            &typed(&[("consent_contact", "on"), ("phone", "0712345678")]),
            true,
            today(),
        )
        .expect("valid");
        assert!(v.details.consent_contact);
        assert_eq!(v.details.phone.as_deref(), Some("+254712345678"));
    }
}
