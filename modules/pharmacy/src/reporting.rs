//! The pharmacy's contributions to reports: prescriptions per MOH 717 D.1-D.4, and the
//! patient's medicines in their data export.
//!
//! A prescription is one dispense of kind `prescription` issued in the range (at least one unit
//! issued; over-the-counter sales are not prescriptions). MOH 717 prints four lines and no rule
//! for a prescription holding drugs of several kinds, so a prescription counts once on each of
//! D.1 (common drugs), D.2 (antibiotics) and D.3 (special drugs) for which it holds at least one
//! line (by the drug's MOH 717 category in the catalogue), and once more on D.4 (drugs for
//! children) when the patient was under five years old on the day of issue: the same under-five
//! line as MOH 717 A.1 and MOH 705A. D.4 thus overlaps D.1-D.3; the totals row counts each
//! prescription once.

use std::collections::HashMap;

use serde_json::json;

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::{
    AgeBand, ExportSection, Figure, FigurePart, FigureRange, FigureSource, Indicator, Unit,
};
use hms_patients::api as patients;

use crate::repo::reports::{self as repo, Prescription};

pub const PRESCRIPTIONS: &str = "pharmacy.prescriptions";
pub const COMMON: &str = "pharmacy.prescriptions.common";
pub const ANTIBIOTICS: &str = "pharmacy.prescriptions.antibiotics";
pub const SPECIAL: &str = "pharmacy.prescriptions.special";
pub const CHILDREN: &str = "pharmacy.prescriptions.children";

pub const INDICATORS: &[Indicator] = &[
    Indicator {
        code: PRESCRIPTIONS,
        name: "pharmacy_reports.indicator_prescriptions",
        description: "Prescriptions issued on the days of the range: dispenses of kind \
                      prescription with at least one unit issued (sales left out), each once; \
                      broken down by age band on the day of issue.",
        unit: Unit::Prescriptions,
        moh: &[],
    },
    Indicator {
        code: COMMON,
        name: "pharmacy_reports.indicator_common",
        description: "Prescriptions issued on the days of the range holding at least one \
                      drug of MOH 717 category common.",
        unit: Unit::Prescriptions,
        moh: &["MOH 717 D.1"],
    },
    Indicator {
        code: ANTIBIOTICS,
        name: "pharmacy_reports.indicator_antibiotics",
        description: "Prescriptions issued on the days of the range holding at least one \
                      antibiotic (MOH 717 category antibiotic).",
        unit: Unit::Prescriptions,
        moh: &["MOH 717 D.2"],
    },
    Indicator {
        code: SPECIAL,
        name: "pharmacy_reports.indicator_special",
        description: "Prescriptions issued on the days of the range holding at least one \
                      special drug (MOH 717 category special).",
        unit: Unit::Prescriptions,
        moh: &["MOH 717 D.3"],
    },
    Indicator {
        code: CHILDREN,
        name: "pharmacy_reports.indicator_children",
        description: "Prescriptions issued on the days of the range for children under five \
                      years on the day of issue (also counted on D.1-D.3).",
        unit: Unit::Prescriptions,
        moh: &["MOH 717 D.4"],
    },
];

/// The MOH 717 D counts of a range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moh717 {
    pub all: i64,
    pub common: i64,
    pub antibiotic: i64,
    pub special: i64,
    pub children: i64,
}

/// A prescription with the patient's age band on the day of issue.
struct Counted {
    p: Prescription,
    day: Day,
    band: Option<AgeBand>,
}

/// The range's prescriptions with each patient's age band (birth dates read through the
/// patients module, in batches).
async fn counted(db: &Db, range: &FigureRange) -> Result<Vec<Counted>, DbError> {
    let (from, to) = range.utc_bounds();
    let list = repo::prescriptions(db, &from, &to, range.facility.unwrap_or(0)).await?;
    let ids: Vec<PatientId> = list.iter().map(|p| PatientId(p.patient)).collect();
    let born: HashMap<i64, Day> = patients::cards(db, &ids)
        .await?
        .into_iter()
        .filter_map(|c| c.date_of_birth.map(|b| (c.id.get(), b)))
        .collect();
    Ok(list
        .into_iter()
        .map(|p| {
            let day = issue_day(&p.issued_at).unwrap_or(range.from);
            let band = born.get(&p.patient).map(|b| AgeBand::at(*b, day));
            Counted { p, day, band }
        })
        .collect())
}

/// The Nairobi day of a stored time.
fn issue_day(at: &str) -> Option<Day> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| Day::new(hms_core::clock::to_local(t.to_utc()).date_naive()))
}

fn counts_of(list: &[Counted]) -> Moh717 {
    let mut m = Moh717::default();
    for c in list {
        m.all += 1;
        m.common += i64::from(c.p.common);
        m.antibiotic += i64::from(c.p.antibiotic);
        m.special += i64::from(c.p.special);
        m.children += i64::from(c.band == Some(AgeBand::Under5));
    }
    m
}

/// MOH 717 D over a range.
pub async fn moh717_counts(db: &Db, range: &FigureRange) -> Result<Moh717, DbError> {
    Ok(counts_of(&counted(db, range).await?))
}

/// Whether indicator `code` counts this prescription.
fn counts(code: &str, c: &Counted) -> bool {
    match code {
        PRESCRIPTIONS => true,
        COMMON => c.p.common,
        ANTIBIOTICS => c.p.antibiotic,
        SPECIAL => c.p.special,
        CHILDREN => c.band == Some(AgeBand::Under5),
        _ => false,
    }
}

fn ours(indicator: &str) -> Option<&'static str> {
    INDICATORS
        .iter()
        .find(|i| i.code == indicator)
        .map(|i| i.code)
}

pub async fn figures(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Option<Figure>, DbError> {
    let Some(code) = ours(indicator) else {
        return Ok(None);
    };
    let list = counted(db, range).await?;
    let mut bands: HashMap<Option<AgeBand>, i64> = HashMap::new();
    let mut value = 0;
    for c in list.iter().filter(|c| counts(code, c)) {
        value += 1;
        *bands.entry(c.band).or_default() += 1;
    }
    let mut parts: Vec<FigurePart> = bands
        .into_iter()
        .map(|(band, value)| FigurePart {
            sex: None,
            age_band: band,
            value,
        })
        .collect();
    parts.sort_by_key(|p| p.age_band);
    Ok(Some(Figure {
        indicator: code,
        value,
        parts,
    }))
}

pub async fn figure_sources(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Vec<FigureSource>, DbError> {
    let Some(code) = ours(indicator) else {
        return Ok(Vec::new());
    };
    Ok(counted(db, range)
        .await?
        .into_iter()
        .filter(|c| counts(code, c))
        .map(|c| FigureSource {
            patient: PatientId(c.p.patient),
            visit: c.p.visit.map(VisitId),
            record: c.p.dispense,
            day: c.day,
        })
        .collect())
}

/// The medicines issued to the patient (and the records merged into theirs).
pub async fn export(db: &Db, patients: &[PatientId]) -> Result<Vec<ExportSection>, DbError> {
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for p in patients {
        for l in repo::patient_lines(db, p.get()).await? {
            let day = issue_day(&l.issued_at);
            let mut value = format!("{} · {} {}", l.drug_name, l.issued, l.unit);
            if l.returned > 0 {
                value.push_str(&format!(
                    " · {} {}",
                    t("pharmacy_reports.export_returned"),
                    l.returned
                ));
            }
            if !l.instructions.is_empty() {
                value.push_str(&format!(" · {}", l.instructions));
            }
            rows.push((day.map(|d| d.display()).unwrap_or_default(), value));
            items.push(json!({
                "day": day,
                "dispense": l.dispense,
                "drug": l.drug_name,
                "unit": l.unit,
                "quantity_issued": l.issued,
                "quantity_returned": l.returned,
                "instructions": l.instructions,
            }));
        }
    }
    if items.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![ExportSection {
        module: "pharmacy",
        title: t("pharmacy_reports.export_title"),
        rows,
        json: json!(items),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_indicator_is_counted() {
        let c = Counted {
            p: Prescription {
                dispense: 1,
                patient: 1,
                visit: None,
                issued_at: String::new(),
                common: true,
                antibiotic: false,
                special: false,
            },
            day: Day::today(),
            band: Some(AgeBand::Under5),
        };
        for i in INDICATORS {
            assert!(
                counts(i.code, &c) || [ANTIBIOTICS, SPECIAL].contains(&i.code),
                "{}",
                i.code
            );
        }
        assert_eq!(
            counts_of(&[c]),
            Moh717 {
                all: 1,
                common: 1,
                antibiotic: 0,
                special: 0,
                children: 1
            }
        );
    }
}
