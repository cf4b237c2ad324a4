//! Screens of the patients module, one file per screen; shared display helpers here.

pub mod allergies;
pub mod chart;
pub mod edit;
pub mod find;
pub mod import;
pub mod merge;
pub mod pdf;
pub mod print;
pub mod register;

use hms_core::i18n::t;

use hms_core::ui::FormErrors;

use crate::form::{Typed, BLOOD_GROUPS, KIN_RELATIONSHIPS};
use crate::model;

const PAGE_SIZE: i64 = 25;

pub(crate) use crate::model::sex_label;

/// The context every patient form (registration, correction) is drawn from: what was typed, the
/// messages, and the choices of each list.
pub(crate) fn form_context(values: &Typed, errors: &FormErrors) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("values", values);
    c.insert("errors", errors);
    // Allergies are typed at registration; afterwards the chart records them one by one.
    c.insert("allergy_entry", &true);
    c.insert("id_types", &model::labelled(model::ID_TYPES));
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
