//! What a drug is made of, as typed on the catalogue form or in a row of an imported file, and
//! its checks: one validation for the form, the edit, the import and the starter list.

use serde::Serialize;

use hms_core::i18n::t;
use hms_core::money::Money;
use hms_core::ui::FormErrors;

use crate::model::Drug;

/// MOH 717 D categories a drug counts under (D.4, children, is decided by age at dispensing).
pub const MOH717: &[&str] = &["common", "antibiotic", "special"];

/// The fields of a drug, every one as typed (names as on the form and in the CSV file).
pub const FIELDS: &[&str] = &[
    "code",
    "generic_name",
    "strength",
    "form",
    "unit",
    "pack_size",
    "route",
    "drug_class",
    "allergy_groups",
    "moh717",
    "controlled",
    "prescription_only",
    "level_of_care",
    "price",
    "brands",
    "active",
];

/// The largest pack a supplier sends (units); beyond it a typing slip is more likely.
pub const PACK_MAX: i64 = 100_000;

/// A drug's fields, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrugFields {
    pub code: String,
    pub generic_name: String,
    pub strength: String,
    pub form: String,
    pub unit: String,
    pub pack_size: i64,
    pub route: String,
    pub drug_class: String,
    /// Lower case, comma-separated, no spaces: `penicillins,nsaids`.
    pub allergy_groups: String,
    pub moh717: String,
    pub controlled: bool,
    pub prescription_only: bool,
    pub level_of_care: i64,
    pub price_cents: i64,
    pub brands: String,
    pub active: bool,
}

impl DrugFields {
    /// The fields of a stored drug (to compare an imported row with it, or fill the form).
    pub fn of(d: &Drug) -> Self {
        d.fields.clone()
    }

    /// The drug these fields describe (id 0 until stored).
    pub fn drug(&self, id: i64) -> Drug {
        Drug {
            id,
            fields: self.clone(),
        }
    }

    /// The values to show in the form (an unticked box is "").
    pub fn values(&self) -> std::collections::HashMap<String, String> {
        self.typed(false)
    }

    /// The values as a file row would hold them (yes/no as 1/0), read back by [`read`] with
    /// `from_file` to these same fields.
    pub fn file_values(&self) -> std::collections::HashMap<String, String> {
        self.typed(true)
    }

    fn typed(&self, file: bool) -> std::collections::HashMap<String, String> {
        let flag = |b: bool| {
            match (b, file) {
                (true, _) => "1",
                (false, true) => "0",
                (false, false) => "",
            }
            .to_string()
        };
        [
            ("code", self.code.clone()),
            ("generic_name", self.generic_name.clone()),
            ("strength", self.strength.clone()),
            ("form", self.form.clone()),
            ("unit", self.unit.clone()),
            ("pack_size", self.pack_size.to_string()),
            ("route", self.route.clone()),
            ("drug_class", self.drug_class.clone()),
            ("allergy_groups", self.allergy_groups.replace(',', ", ")),
            ("moh717", self.moh717.clone()),
            ("controlled", flag(self.controlled)),
            ("prescription_only", flag(self.prescription_only)),
            ("level_of_care", self.level_of_care.to_string()),
            ("price", Money::from_cents(self.price_cents).plain()),
            ("brands", self.brands.clone()),
            ("active", flag(self.active)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// A yes/no as typed: a ticked box sends `1`; a file may say yes/no, true/false, y/n, 1/0.
/// `None` when it is none of these.
fn yes_no(text: &str, blank: bool) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "" => Some(blank),
        "1" | "yes" | "y" | "true" | "ndiyo" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "hapana" | "off" => Some(false),
        _ => None,
    }
}

/// Reads a drug from typed fields (`get` answers "" for a missing one). With `from_file` (a row
/// of an imported file) blanks take the usual values: pack size 1, oral, common, level 2,
/// prescription only, in use; on the form an unticked box is "no" and the rest must be given.
pub fn read(get: &dyn Fn(&str) -> String, from_file: bool) -> Result<DrugFields, FormErrors> {
    let mut errors = FormErrors::new();
    let text = |key: &str, max: usize, required: bool, errors: &mut FormErrors| -> String {
        let v = get(key).trim().to_string();
        if required && v.is_empty() {
            errors.add(key, t(&format!("pharmacy_catalogue.error_{key}")));
        } else if v.chars().count() > max {
            errors.add(
                key,
                t("pharmacy_catalogue.error_too_long").replace("{max}", &max.to_string()),
            );
        }
        v
    };
    let code = text("code", 30, true, &mut errors).to_uppercase();
    if !code.is_empty()
        && !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        errors.add("code", t("pharmacy_catalogue.error_code_chars"));
    }
    let generic_name = text("generic_name", 120, true, &mut errors);
    let strength = text("strength", 60, false, &mut errors);
    let form = text("form", 40, true, &mut errors);
    let unit = text("unit", 30, true, &mut errors).to_lowercase();
    let pack_text = get("pack_size").trim().to_string();
    let pack_size = if pack_text.is_empty() && from_file {
        1
    } else {
        match pack_text.parse::<i64>() {
            Ok(n) if (1..=PACK_MAX).contains(&n) => n,
            _ => {
                errors.add(
                    "pack_size",
                    t("pharmacy_catalogue.error_pack_size").replace("{max}", &PACK_MAX.to_string()),
                );
                0
            }
        }
    };
    let mut route = text("route", 30, !from_file, &mut errors).to_lowercase();
    if route.is_empty() {
        route = "oral".into();
    }
    let drug_class = text("drug_class", 80, false, &mut errors);
    let groups_text = text("allergy_groups", 200, false, &mut errors).to_lowercase();
    let groups: Vec<String> = groups_text
        .split([',', ';'])
        .map(|g| g.trim().replace(' ', "_"))
        .filter(|g| !g.is_empty())
        .collect();
    if groups.iter().any(|g| {
        !g.chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
    }) {
        errors.add(
            "allergy_groups",
            t("pharmacy_catalogue.error_allergy_groups"),
        );
    }
    let allergy_groups = groups.join(",");
    let moh717_text = get("moh717").trim().to_lowercase();
    let moh717 = if moh717_text.is_empty() && from_file {
        "common".to_string()
    } else if MOH717.contains(&moh717_text.as_str()) {
        moh717_text
    } else {
        errors.add("moh717", t("pharmacy_catalogue.error_moh717"));
        String::new()
    };
    let mut flag = |key: &str, blank: bool| match yes_no(&get(key), blank) {
        Some(b) => b,
        None => {
            errors.add(key, t("pharmacy_catalogue.error_yes_no"));
            false
        }
    };
    let controlled = flag("controlled", false);
    let prescription_only = flag("prescription_only", from_file);
    let active = flag("active", from_file);
    let level_text = get("level_of_care").trim().to_string();
    let level_of_care = if level_text.is_empty() && from_file {
        2
    } else {
        match level_text.parse::<i64>() {
            Ok(n) if (1..=6).contains(&n) => n,
            _ => {
                errors.add("level_of_care", t("pharmacy_catalogue.error_level"));
                0
            }
        }
    };
    let price_text = get("price").trim().to_string();
    let price_cents = if price_text.is_empty() {
        0
    } else {
        match Money::parse(&price_text) {
            Ok(m) if m.cents() <= 100_000_000 => m.cents(),
            _ => {
                errors.add("price", t("pharmacy_catalogue.error_price"));
                0
            }
        }
    };
    let brands = text("brands", 200, false, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(DrugFields {
        code,
        generic_name,
        strength,
        form,
        unit,
        pack_size,
        route,
        drug_class,
        allergy_groups,
        moh717,
        controlled,
        prescription_only,
        level_of_care,
        price_cents,
        brands,
        active,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn typed(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn read_map(m: &HashMap<String, String>, file: bool) -> Result<DrugFields, FormErrors> {
        read(&|k| m.get(k).cloned().unwrap_or_default(), file)
    }

    const GOOD: &[(&str, &str)] = &[
        ("code", "amx-500-cap"),
        ("generic_name", "Amoxicillin"),
        ("strength", "500 mg"),
        ("form", "capsule"),
        ("unit", "Capsule"),
        ("pack_size", "100"),
        ("route", "oral"),
        ("allergy_groups", "Penicillins; beta lactams"),
        ("moh717", "antibiotic"),
        ("prescription_only", "1"),
        ("level_of_care", "2"),
        ("price", "5.50"),
        ("active", "1"),
    ];

    #[test]
    fn a_good_drug_is_read_and_normalised() {
        let d = read_map(&typed(GOOD), false).unwrap();
        assert_eq!(d.code, "AMX-500-CAP");
        assert_eq!(d.unit, "capsule");
        assert_eq!(d.allergy_groups, "penicillins,beta_lactams");
        assert_eq!(d.price_cents, 550);
        assert!(d.prescription_only && d.active && !d.controlled);
    }

    #[test]
    fn pack_size_zero_a_bad_category_and_a_bad_level_are_refused_beside_their_fields() {
        let mut m = typed(GOOD);
        m.insert("pack_size".into(), "0".into());
        m.insert("moh717".into(), "vitamins".into());
        m.insert("level_of_care".into(), "7".into());
        m.insert("price".into(), "-3".into());
        m.insert("code".into(), "AMX 500".into());
        let e = read_map(&m, false).unwrap_err();
        for field in ["pack_size", "moh717", "level_of_care", "price", "code"] {
            assert!(e.get(field).is_some(), "{field}");
        }
        m.insert("pack_size".into(), "2.5".into());
        assert!(read_map(&m, false).unwrap_err().get("pack_size").is_some());
    }

    #[test]
    fn a_file_row_takes_the_usual_defaults_for_missing_columns() {
        let m = typed(&[
            ("code", "X1"),
            ("generic_name", "Zinc"),
            ("form", "tablet"),
            ("unit", "tablet"),
        ]);
        let d = read_map(&m, true).unwrap();
        assert_eq!(
            (d.pack_size, d.route.as_str(), d.moh717.as_str()),
            (1, "oral", "common")
        );
        assert!(d.prescription_only && d.active);
        // On the form the same blanks are errors (pack size, route, category, level).
        let e = read_map(&m, false).unwrap_err();
        assert!(e.get("pack_size").is_some() && e.get("route").is_some());
    }
}
