//! Procedures done in the consultation room, picked from a short list: each is a charge item
//! the module publishes (`consultations.procedure.<code>`) and a row counted for MOH 717
//! (section A, rows 9 to 12).

use hms_core::charges::ChargeItem;
use hms_core::money::Money;

/// A procedure on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Procedure {
    /// Stored as `encounter_procedures.code`; the charge item is named after it.
    pub code: &'static str,
    /// Translation key of its name.
    pub name: &'static str,
    /// The default cash price in cents (billing may change the item's price later).
    pub price_cents: i64,
    /// Its row of MOH 717 section A ("A.9").
    pub moh717: &'static str,
}

/// The procedures a clinician may record, in the order the form lists them.
pub const ALL: &[Procedure] = &[
    Procedure {
        code: "dressing",
        name: "consultations_orders.procedures.dressing",
        price_cents: 20_000,
        moh717: "A.9",
    },
    Procedure {
        code: "stitch_removal",
        name: "consultations_orders.procedures.stitch_removal",
        price_cents: 20_000,
        moh717: "A.10",
    },
    Procedure {
        code: "injection",
        name: "consultations_orders.procedures.injection",
        price_cents: 10_000,
        moh717: "A.11",
    },
    Procedure {
        code: "stitching",
        name: "consultations_orders.procedures.stitching",
        price_cents: 50_000,
        moh717: "A.12",
    },
];

/// The charge items' prefix; an item is this and the procedure's code.
pub const ITEM_PREFIX: &str = "consultations.procedure.";

/// The charge source of procedures; the reference is `procedure:<id>`.
pub const CHARGE_SOURCE: &str = "consultations";

/// A procedure of the list by code.
pub fn find(code: &str) -> Option<&'static Procedure> {
    ALL.iter().find(|p| p.code == code.trim())
}

impl Procedure {
    /// The charge item code: `consultations.procedure.dressing`.
    pub fn item_code(&self) -> String {
        format!("{ITEM_PREFIX}{}", self.code)
    }

    /// The item as the price list gets it (name in English, as the price list keeps it).
    pub fn charge_item(&self) -> ChargeItem {
        ChargeItem {
            code: self.item_code(),
            name: hms_core::i18n::t_in("en", self.name),
            unit: "procedure".into(),
            price: Money::from_cents(self.price_cents),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_procedure_has_its_own_code_and_moh717_row_a9_to_a12() {
        let rows: Vec<_> = ALL.iter().map(|p| p.moh717).collect();
        assert_eq!(rows, ["A.9", "A.10", "A.11", "A.12"]);
        for p in ALL {
            assert_eq!(find(p.code), Some(p));
            assert!(p.item_code().starts_with(ITEM_PREFIX));
            assert!(p.price_cents > 0);
        }
        assert_eq!(find("amputation"), None);
    }
}
