//! Screens of the patients module, one file per screen; shared display helpers here.

pub mod allergies;
pub mod chart;
pub mod edit;
pub mod find;
pub mod import;
pub mod merge;
pub mod print;
pub mod register;

use chrono::Utc;
use serde::Serialize;

use hms_core::clock;
use hms_core::i18n::t;

use hms_core::ui::FormErrors;

use crate::form::{Typed, BLOOD_GROUPS, KIN_RELATIONSHIPS};
use crate::model;
use crate::repo::Found;

const PAGE_SIZE: i64 = 25;

/// Today in the facility's time zone.
pub(crate) fn today() -> chrono::NaiveDate {
    clock::to_local(Utc::now()).date_naive()
}

/// A search result as shown: age instead of the date, the phone partly masked.
#[derive(Serialize)]
pub struct Shown {
    pub id: i64,
    pub number: String,
    pub name: String,
    pub sex: String,
    pub age: String,
    pub phone: String,
    pub last_visit: String,
}

pub fn shown(f: Found) -> Shown {
    let age = chrono::NaiveDate::parse_from_str(&f.date_of_birth, "%Y-%m-%d")
        .map(|d| model::age_text(d, f.dob_estimated, today()))
        .unwrap_or_default();
    Shown {
        id: f.id,
        number: f.number,
        name: f.name,
        sex: sex_label(&f.sex),
        age,
        phone: f
            .phone
            .as_deref()
            .map(model::mask_phone)
            .unwrap_or_default(),
        last_visit: f
            .last_visit_on
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(|d| d.format("%d %b %Y").to_string())
            .unwrap_or_default(),
    }
}

/// The context every patient form (registration, correction) is drawn from: what was typed, the
/// messages, and the choices of each list.
pub(crate) fn form_context(values: &Typed, errors: &FormErrors) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("values", values);
    c.insert("errors", errors);
    // Allergies are typed at registration; afterwards the chart records them one by one.
    c.insert("allergy_entry", &true);
    c.insert("id_types", model::ID_TYPES);
    c.insert("counties", model::counties());
    c.insert(
        "blood_groups",
        &BLOOD_GROUPS.iter().map(|b| (*b, *b)).collect::<Vec<_>>(),
    );
    c.insert(
        "kin_relationships",
        &KIN_RELATIONSHIPS
            .iter()
            .map(|r| (*r, kin_label(r)))
            .collect::<Vec<_>>(),
    );
    c
}

/// A next-of-kin relationship in the request's language.
pub(crate) fn kin_label(relationship: &str) -> String {
    match relationship {
        "parent" => t("patients.kin_parent"),
        "spouse" => t("patients.kin_spouse"),
        "child" => t("patients.kin_child"),
        "sibling" => t("patients.kin_sibling"),
        "guardian" => t("patients.kin_guardian"),
        "relative" => t("patients.kin_relative"),
        "friend" => t("patients.kin_friend"),
        _ => t("patients.kin_other"),
    }
}

/// "Female"/"Male" in the request's language.
pub(crate) fn sex_label(sex: &str) -> String {
    match sex {
        "female" => t("patients.sex_female"),
        "male" => t("patients.sex_male"),
        other => other.to_string(),
    }
}
