//! The one shape of a drug order's details, used by every prescriber and filler (consultations,
//! pharmacy, later the ward): dose and unit, route, frequency with its times a day, duration,
//! quantity in whole dispensing units, instructions. Stored as JSON in `orders.details`.

use serde::{Deserialize, Serialize};

use super::OrderError;

/// How the drug is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Oral,
    Sublingual,
    Topical,
    Inhaled,
    Rectal,
    Vaginal,
    Eye,
    Ear,
    Nasal,
    Intravenous,
    Intramuscular,
    Subcutaneous,
}

/// How often, by its usual prescription code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frequency {
    /// Once a day.
    #[serde(rename = "OD")]
    Od,
    /// Twice a day.
    #[serde(rename = "BD")]
    Bd,
    /// Three times a day.
    #[serde(rename = "TDS")]
    Tds,
    /// Four times a day.
    #[serde(rename = "QID")]
    Qid,
    /// Every eight hours.
    #[serde(rename = "Q8H")]
    Q8h,
    /// As needed, up to `max_per_day` times a day.
    #[serde(rename = "PRN")]
    Prn,
}

impl Frequency {
    pub const ALL: [Frequency; 6] = [
        Frequency::Od,
        Frequency::Bd,
        Frequency::Tds,
        Frequency::Qid,
        Frequency::Q8h,
        Frequency::Prn,
    ];

    /// The code as written on a prescription.
    pub fn code(self) -> &'static str {
        match self {
            Frequency::Od => "OD",
            Frequency::Bd => "BD",
            Frequency::Tds => "TDS",
            Frequency::Qid => "QID",
            Frequency::Q8h => "Q8H",
            Frequency::Prn => "PRN",
        }
    }

    pub fn parse(code: &str) -> Option<Frequency> {
        let code = code.trim().to_ascii_uppercase();
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    /// Times a day; as needed has no fixed count (its maximum is in the details).
    pub fn times_a_day(self) -> Option<i64> {
        match self {
            Frequency::Od => Some(1),
            Frequency::Bd => Some(2),
            Frequency::Tds | Frequency::Q8h => Some(3),
            Frequency::Qid => Some(4),
            Frequency::Prn => None,
        }
    }
}

/// A prescription line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrugDetails {
    /// The filler's catalogue code, when the drug is in it.
    pub code: Option<String>,
    /// The drug as prescribed (generic name and strength).
    pub drug: String,
    /// The amount per dose as written ("1", "0.5", "250").
    pub dose: String,
    /// The unit of a dose ("tablet", "mg", "ml").
    pub dose_unit: String,
    pub route: Route,
    pub frequency: Frequency,
    /// For as needed: the most doses in a day.
    pub max_per_day: Option<i64>,
    pub duration_days: i64,
    /// Whole dispensing units to hand over (tablets, bottles, tubes).
    pub quantity: i64,
    pub instructions: String,
}

fn invalid(field: &'static str, key: &'static str) -> OrderError {
    OrderError::Invalid { field, key }
}

impl DrugDetails {
    /// Checks the prescription; the first problem, with its field.
    pub fn validate(&self) -> Result<(), OrderError> {
        if self.drug.trim().is_empty() {
            return Err(invalid("drug", "orders.drug.error_drug"));
        }
        let dose_ok = self.dose.trim().parse::<f64>().is_ok_and(|d| d > 0.0)
            && self
                .dose
                .trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.');
        if !dose_ok {
            return Err(invalid("dose", "orders.drug.error_dose"));
        }
        if self.dose_unit.trim().is_empty() {
            return Err(invalid("dose_unit", "orders.drug.error_dose_unit"));
        }
        match (self.frequency, self.max_per_day) {
            (Frequency::Prn, Some(max)) if (1..=24).contains(&max) => {}
            (Frequency::Prn, _) => return Err(invalid("max_per_day", "orders.drug.error_prn")),
            (_, None) => {}
            (_, Some(_)) => return Err(invalid("max_per_day", "orders.drug.error_max_fixed")),
        }
        if !(1..=365).contains(&self.duration_days) {
            return Err(invalid("duration_days", "orders.drug.error_duration"));
        }
        if !(1..=100_000).contains(&self.quantity) {
            return Err(invalid("quantity", "orders.drug.error_quantity_units"));
        }
        Ok(())
    }

    /// Doses a day: the fixed count, or the most allowed as needed.
    pub fn doses_a_day(&self) -> Option<i64> {
        self.frequency.times_a_day().or(self.max_per_day)
    }

    /// One line for lists and labels: "Amoxicillin 500 mg: 1 capsule TDS x 5 days (15)".
    pub fn display(&self) -> String {
        let max = match (self.frequency, self.max_per_day) {
            (Frequency::Prn, Some(m)) => format!(" (max {m}/day)"),
            _ => String::new(),
        };
        format!(
            "{}: {} {} {}{} x {} days ({})",
            self.drug.trim(),
            self.dose.trim(),
            self.dose_unit.trim(),
            self.frequency.code(),
            max,
            self.duration_days,
            self.quantity
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amoxicillin() -> DrugDetails {
        DrugDetails {
            code: Some("amox500".into()),
            drug: "Amoxicillin 500 mg".into(),
            dose: "1".into(),
            dose_unit: "capsule".into(),
            route: Route::Oral,
            frequency: Frequency::Tds,
            max_per_day: None,
            duration_days: 5,
            quantity: 15,
            instructions: "After food".into(),
        }
    }

    fn field(d: &DrugDetails) -> Option<&'static str> {
        match d.validate() {
            Ok(()) => None,
            Err(OrderError::Invalid { field, .. }) => Some(field),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn frequencies_know_their_times_a_day() {
        let times: Vec<_> = Frequency::ALL.iter().map(|f| f.times_a_day()).collect();
        assert_eq!(times, [Some(1), Some(2), Some(3), Some(4), Some(3), None]);
        assert_eq!(Frequency::parse(" tds"), Some(Frequency::Tds));
        assert_eq!(Frequency::parse("5x"), None);
    }

    #[test]
    fn a_prescription_round_trips_through_json_with_codes() {
        let d = amoxicillin();
        let text = serde_json::to_string(&d).unwrap();
        assert!(text.contains(r#""frequency":"TDS""#), "{text}");
        assert!(text.contains(r#""route":"oral""#), "{text}");
        assert_eq!(serde_json::from_str::<DrugDetails>(&text).unwrap(), d);
        assert_eq!(
            d.display(),
            "Amoxicillin 500 mg: 1 capsule TDS x 5 days (15)"
        );
    }

    #[test]
    fn validation_names_the_field_at_fault() {
        assert_eq!(field(&amoxicillin()), None);
        let mut d = amoxicillin();
        d.dose = "-1".into();
        assert_eq!(field(&d), Some("dose"));
        let mut d = amoxicillin();
        d.frequency = Frequency::Prn;
        assert_eq!(field(&d), Some("max_per_day"));
        d.max_per_day = Some(4);
        assert_eq!(field(&d), None);
        assert_eq!(d.doses_a_day(), Some(4));
        let mut d = amoxicillin();
        d.max_per_day = Some(2);
        assert_eq!(field(&d), Some("max_per_day"));
        let mut d = amoxicillin();
        d.quantity = 0;
        assert_eq!(field(&d), Some("quantity"));
        let mut d = amoxicillin();
        d.duration_days = 0;
        assert_eq!(field(&d), Some("duration_days"));
    }
}
