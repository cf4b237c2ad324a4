//! A patient's allergies, one row each: the allergen as written, the drug group it belongs to
//! (so a prescriber or the pharmacy can match a whole group: an allergy to amoxicillin warns
//! about every penicillin), the reaction, the severity, and whether it is active or was refuted.
//! Rows are never deleted; a wrong entry is refuted, by whom and when.

use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::ui::FormErrors;
use serde::Serialize;

pub use crate::repo::allergies::Allergy;

/// Drug groups and the drug names (lower case, parts of words) that show an allergen belongs
/// to one, tried in this order. Migration 0018 makes the same guess in SQL for the text that
/// registration kept before allergies became rows.
pub const DRUG_GROUPS: &[(&str, &[&str])] = &[
    ("penicillins", &["cillin", "penicil", "augmentin"]),
    (
        "sulfonamides",
        &["sulfa", "sulpha", "septrin", "trimoxazole", "fansidar"],
    ),
    ("cephalosporins", &["ceph", "cef", "rocephin"]),
    (
        "nsaids",
        &[
            "nsaid",
            "aspirin",
            "ibuprofen",
            "brufen",
            "diclofenac",
            "naproxen",
            "indomethacin",
            "meloxicam",
            "piroxicam",
            "mefenamic",
        ],
    ),
    ("opioids", &["codeine", "morphine", "tramadol", "pethidine"]),
];

pub const SEVERITIES: &[&str] = &["mild", "moderate", "severe"];

/// Longest allergen and reaction kept.
const ALLERGEN_MAX: usize = 100;
const REACTION_MAX: usize = 200;

/// The drug group an allergen obviously belongs to, from well-known drug names.
pub fn drug_group(allergen: &str) -> Option<&'static str> {
    let lower = allergen.to_lowercase();
    DRUG_GROUPS
        .iter()
        .find(|(_, names)| names.iter().any(|n| lower.contains(n)))
        .map(|(group, _)| *group)
}

/// The entries of an allergies text as reception types it ("Penicillin; sulfa drugs, peanuts"):
/// split at commas and semicolons, trimmed, blanks dropped, each cut to the longest kept.
pub fn entries(text: &str) -> Vec<String> {
    text.split([',', ';'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| e.chars().take(ALLERGEN_MAX).collect())
        .collect()
}

/// A new allergy as the chart's form sends it, checked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewAllergy {
    pub allergen: String,
    pub drug_group: Option<String>,
    pub reaction: Option<String>,
    pub severity: Option<String>,
}

impl NewAllergy {
    /// An entry typed at registration: its drug group guessed, nothing else known.
    pub fn from_entry(allergen: String) -> Self {
        Self {
            drug_group: drug_group(&allergen).map(str::to_string),
            allergen,
            ..Self::default()
        }
    }

    /// Checks the form's fields: an allergen of 2 to 100 characters, a drug group and a
    /// severity from their lists (or none; the group is then guessed), a reaction of at most
    /// 200 characters.
    pub fn validate(
        allergen: &str,
        group: &str,
        reaction: &str,
        severity: &str,
    ) -> Result<Self, FormErrors> {
        let mut errors = FormErrors::new();
        let allergen = allergen.trim();
        let count = allergen.chars().count();
        if !(2..=ALLERGEN_MAX).contains(&count) || allergen.chars().any(char::is_control) {
            errors.add("allergen", t("patients_allergies.error_allergen"));
        }
        let group = group.trim();
        if !group.is_empty() && !DRUG_GROUPS.iter().any(|(g, _)| *g == group) {
            errors.add("drug_group", t("patients_allergies.error_group"));
        }
        let severity = severity.trim();
        if !severity.is_empty() && !SEVERITIES.contains(&severity) {
            errors.add("severity", t("patients_allergies.error_severity"));
        }
        let reaction = reaction.trim();
        if reaction.chars().count() > REACTION_MAX || reaction.chars().any(char::is_control) {
            errors.add("reaction", t("patients_allergies.error_reaction"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Ok(Self {
            drug_group: some(group).or_else(|| drug_group(allergen).map(str::to_string)),
            allergen: allergen.to_string(),
            reaction: some(reaction),
            severity: some(severity),
        })
    }
}

/// A patient's allergies, active first, with those of records merged into the patient: what a
/// patient card, a prescriber or the pharmacy checks before a drug is given.
pub async fn allergies(db: &Db, patient: PatientId) -> Result<Vec<Allergy>, DbError> {
    crate::repo::allergies::of_patients(db, patient.get()).await
}

/// The label of a drug group, in the user's language.
pub fn group_label(group: &str) -> String {
    t(&format!("patients_allergies.group_{group}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_split_at_commas_and_semicolons() {
        assert_eq!(
            entries(" Penicillin; sulfa drugs (co-trimoxazole),, peanuts ;"),
            ["Penicillin", "sulfa drugs (co-trimoxazole)", "peanuts"]
        );
        assert!(entries(" ; , ").is_empty());
    }

    #[test]
    fn obvious_drug_groups_are_guessed_and_others_left_open() {
        assert_eq!(drug_group("Amoxicillin"), Some("penicillins"));
        assert_eq!(drug_group("Augmentin"), Some("penicillins"));
        assert_eq!(drug_group("Septrin"), Some("sulfonamides"));
        assert_eq!(drug_group("ceftriaxone"), Some("cephalosporins"));
        assert_eq!(drug_group("Diclofenac gel"), Some("nsaids"));
        assert_eq!(drug_group("Codeine"), Some("opioids"));
        assert_eq!(drug_group("Peanuts"), None);
        assert_eq!(drug_group("Chloroquine"), None);
    }
}
