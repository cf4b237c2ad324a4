//! Screens of the patients module, one file per screen; shared display helpers here.

pub mod chart;
pub mod find;
pub mod register;

use chrono::Utc;
use serde::Serialize;

use hms_core::clock;
use hms_core::i18n::t;

use crate::model;
use crate::repo::Found;

const PAGE_SIZE: i64 = 25;

/// Today in the facility's time zone.
pub(crate) fn today() -> chrono::NaiveDate {
    clock::to_local(Utc::now()).date_naive()
}

/// A search result as shown: age instead of the date, the phone partly masked.
#[derive(Serialize)]
pub(crate) struct Shown {
    id: i64,
    number: String,
    name: String,
    sex: String,
    age: String,
    phone: String,
}

pub(crate) fn shown(f: Found) -> Shown {
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

