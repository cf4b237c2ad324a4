//! The module's contributions to reports and claims: MOH 705 cases per row (counted from
//! diagnoses fixed at signing), referrals out, deaths, procedures for MOH 717, a visit's
//! diagnoses and procedures for claims, and its part of a patient's export.
//!
//! A case is a diagnosis of a signed note, on the day of its visit, on the form and row fixed
//! at signing (or by the addendum that added it); a diagnosis an addendum marked entered in
//! error is not counted. "Tested malaria" adds the negative tests (their own entry) to the
//! confirmed cases, and malaria in pregnancy on 705B; deaths due to road traffic injuries are
//! notes signed with outcome `died` and a diagnosis on the road traffic injuries row.

#[path = "moh705_indicators.rs"]
mod moh705_indicators;

use std::collections::HashMap;

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::{
    AgeBand, ExportSection, FactKind, Figure, FigurePart, FigureRange, FigureSource, Indicator,
    Unit, VisitFact,
};
use serde_json::json;
use sqlx::Row;

use crate::diagnoses::{
    ALL_OTHER_A, CONFIRMED_MALARIA_A, CONFIRMED_MALARIA_B, FORM_A, FORM_B, MALARIA_IN_PREGNANCY_B,
    ROAD_DEATHS_A, ROAD_DEATHS_B, ROAD_INJURY_A, ROAD_INJURY_B, TESTED_MALARIA_A, TESTED_MALARIA_B,
};

pub const MOH705_CASES: &str = "consultations.moh705_cases";
pub const REFERRALS_OUT: &str = "consultations.referrals_out";
pub const REFERRALS_TO_FACILITY: &str = "consultations.referrals_to_facility";
pub const REFERRALS_TO_COMMUNITY: &str = "consultations.referrals_to_community";
pub const DEATHS: &str = "consultations.deaths";
pub const PROCEDURES: &str = "consultations.procedures";

/// The procedures counted for MOH 717 one by one: (indicator, `encounter_procedures.code`).
/// The codes are those of the procedure list (`procedures::ALL`, with its 717 rows).
const PROCEDURE_CODES: &[(&str, &str)] = &[
    ("consultations.procedures.dressing", "dressing"),
    ("consultations.procedures.stitch_removal", "stitch_removal"),
    ("consultations.procedures.injection", "injection"),
    ("consultations.procedures.stitching", "stitching"),
];

const GENERAL: &[Indicator] = &[
    Indicator {
        code: MOH705_CASES,
        name: "consultations_diagnoses.indicator_moh705_cases",
        description: "Diagnoses of notes signed for visits on the days of the range, each on \
                      the MOH 705 form (705A under five years on the visit day, else 705B) and \
                      row fixed at signing; diagnoses marked entered in error are left out. \
                      Each row is also an indicator of its own: consultations.moh705a.<row>, \
                      consultations.moh705b.<row>.",
        unit: Unit::Visits,
        moh: &["MOH 705A", "MOH 705B"],
    },
    Indicator {
        code: REFERRALS_OUT,
        name: "consultations_diagnoses.indicator_referrals_out",
        description: "Notes signed for visits on the days of the range with outcome referral \
                      (to another facility or a community unit); under five years on 705A.",
        unit: Unit::Visits,
        moh: &[
            "MOH 705A row 75",
            "MOH 705A row 76",
            "MOH 705B row 72",
            "MOH 705B row 73",
        ],
    },
    Indicator {
        code: REFERRALS_TO_FACILITY,
        name: "consultations_diagnoses.indicator_referrals_facility",
        description: "Notes signed for visits on the days of the range with outcome referral \
                      to another health facility (KMHFL code); under five years on 705A.",
        unit: Unit::Visits,
        moh: &["MOH 705A row 75", "MOH 705B row 72"],
    },
    Indicator {
        code: REFERRALS_TO_COMMUNITY,
        name: "consultations_diagnoses.indicator_referrals_community",
        description: "Notes signed for visits on the days of the range with outcome referral \
                      to a community unit; under five years on 705A.",
        unit: Unit::Visits,
        moh: &["MOH 705A row 76", "MOH 705B row 73"],
    },
    Indicator {
        code: DEATHS,
        name: "consultations_diagnoses.indicator_deaths",
        description: "Notes signed for visits on the days of the range with outcome died.",
        unit: Unit::Patients,
        moh: &[],
    },
    Indicator {
        code: PROCEDURES,
        name: "consultations_diagnoses.indicator_procedures",
        description: "Procedures done in the consultation room (dressing, injection, \
                      stitching, stitch removal) on the days of the range.",
        unit: Unit::Items,
        moh: &[
            "MOH 717 A.9",
            "MOH 717 A.10",
            "MOH 717 A.11",
            "MOH 717 A.12",
        ],
    },
    Indicator {
        code: "consultations.procedures.dressing",
        name: "consultations_diagnoses.indicator_dressings",
        description: "Dressings done in the consultation room on the days of the range.",
        unit: Unit::Items,
        moh: &["MOH 717 A.9"],
    },
    Indicator {
        code: "consultations.procedures.stitch_removal",
        name: "consultations_diagnoses.indicator_stitch_removals",
        description: "Removals of stitches done in the consultation room on the days of the \
                      range.",
        unit: Unit::Items,
        moh: &["MOH 717 A.10"],
    },
    Indicator {
        code: "consultations.procedures.injection",
        name: "consultations_diagnoses.indicator_injections",
        description: "Injections given in the consultation room on the days of the range.",
        unit: Unit::Items,
        moh: &["MOH 717 A.11"],
    },
    Indicator {
        code: "consultations.procedures.stitching",
        name: "consultations_diagnoses.indicator_stitchings",
        description: "Wounds stitched in the consultation room on the days of the range.",
        unit: Unit::Items,
        moh: &["MOH 717 A.12"],
    },
];

/// Every indicator: the general ones, then one per disease row of MOH 705A and 705B.
pub static INDICATORS: &[Indicator] = &{
    const G: usize = GENERAL.len();
    const R: usize = moh705_indicators::ROWS.len();
    let mut all = [GENERAL[0]; G + R];
    let mut i = 0;
    while i < G {
        all[i] = GENERAL[i];
        i += 1;
    }
    let mut j = 0;
    while j < R {
        all[G + j] = moh705_indicators::ROWS[j];
        j += 1;
    }
    all
};

/// Which cases an indicator counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cases {
    All,
    /// Diagnoses on these rows of one form.
    Rows(&'static str, &'static [i64]),
    /// Signed with outcome died and a diagnosis on this road traffic injuries row.
    RoadDeaths(&'static str, i64),
}

/// The cases an indicator code counts (`None` for codes that are not case counts).
fn cases_of(indicator: &str) -> Option<Cases> {
    if indicator == MOH705_CASES {
        return Some(Cases::All);
    }
    let (form, row) = if let Some(r) = indicator.strip_prefix("consultations.moh705a.") {
        (FORM_A, r.parse::<i64>().ok()?)
    } else if let Some(r) = indicator.strip_prefix("consultations.moh705b.") {
        (FORM_B, r.parse::<i64>().ok()?)
    } else {
        return None;
    };
    const TESTED_A: &[i64] = &[TESTED_MALARIA_A, CONFIRMED_MALARIA_A];
    const TESTED_B: &[i64] = &[
        TESTED_MALARIA_B,
        CONFIRMED_MALARIA_B,
        MALARIA_IN_PREGNANCY_B,
    ];
    Some(match (form, row) {
        (FORM_A, TESTED_MALARIA_A) => Cases::Rows(FORM_A, TESTED_A),
        (FORM_B, TESTED_MALARIA_B) => Cases::Rows(FORM_B, TESTED_B),
        (FORM_A, ROAD_DEATHS_A) => Cases::RoadDeaths(FORM_A, ROAD_INJURY_A),
        (FORM_B, ROAD_DEATHS_B) => Cases::RoadDeaths(FORM_B, ROAD_INJURY_B),
        (FORM_A, r) if (1..=ALL_OTHER_A).contains(&r) => Cases::Rows(FORM_A, leak_row(r)),
        (FORM_B, r) if (1..=crate::diagnoses::ALL_OTHER_B).contains(&r) => {
            Cases::Rows(FORM_B, leak_row(r))
        }
        _ => return None,
    })
}

/// A one-row slice for any row number of the forms (1 to 76), without allocating.
fn leak_row(row: i64) -> &'static [i64] {
    const ALL: [i64; 76] = {
        let mut a = [0i64; 76];
        let mut i = 0;
        while i < 76 {
            a[i] = i as i64 + 1;
            i += 1;
        }
        a
    };
    let i = usize::try_from(row - 1).unwrap_or(0).min(75);
    &ALL[i..=i]
}

/// One counted case: the diagnosis (or note, for deaths), patient, visit and day.
struct Case {
    record: i64,
    patient: PatientId,
    visit: VisitId,
    day: Day,
}

fn facility(range: &FigureRange) -> i64 {
    range.facility.unwrap_or(0)
}

/// The columns of a case read from a diagnosis `d`.
macro_rules! case_columns {
    () => {
        "d.id, d.patient_id, d.visit_id, d.visit_day"
    };
}

/// Diagnoses not marked entered in error, fixed on a form, in the range.
macro_rules! counted_diagnoses {
    () => {
        " FROM note_diagnoses d \
          WHERE d.moh_form IS NOT NULL AND d.visit_day >= $1 AND d.visit_day <= $2 \
          AND ($3 = 0 OR d.facility_id = $3) \
          AND NOT EXISTS (SELECT 1 FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
          AND a.kind = 'error')"
    };
}

fn case_of(r: &sqlx::any::AnyRow) -> Result<Case, sqlx::Error> {
    Ok(Case {
        record: r.try_get(0)?,
        patient: r.try_get(1)?,
        visit: r.try_get(2)?,
        day: r.try_get(3)?,
    })
}

async fn cases(db: &Db, which: Cases, range: &FigureRange) -> Result<Vec<Case>, DbError> {
    let rows = match which {
        Cases::All => {
            sqlx::query(concat!(
                "SELECT ",
                case_columns!(),
                counted_diagnoses!(),
                " ORDER BY d.id"
            ))
            .bind(range.from)
            .bind(range.to)
            .bind(facility(range))
            .fetch_all(db.read())
            .await?
        }
        Cases::Rows(form, rows) => {
            let mut all = Vec::new();
            for row in rows {
                all.extend(
                    sqlx::query(concat!(
                        "SELECT ",
                        case_columns!(),
                        counted_diagnoses!(),
                        " AND d.moh_form = $4 AND d.moh_row = $5 ORDER BY d.id"
                    ))
                    .bind(range.from)
                    .bind(range.to)
                    .bind(facility(range))
                    .bind(form)
                    .bind(row)
                    .fetch_all(db.read())
                    .await?,
                );
            }
            all
        }
        Cases::RoadDeaths(form, injury_row) => {
            sqlx::query(
                "SELECT e.id, e.patient_id, e.visit_id, e.visit_day FROM encounters e \
                 WHERE e.state = 'signed' AND e.outcome = 'died' \
                 AND e.visit_day >= $1 AND e.visit_day <= $2 AND ($3 = 0 OR e.facility_id = $3) \
                 AND EXISTS (SELECT 1 FROM note_diagnoses d WHERE d.encounter_id = e.id \
                 AND d.moh_form = $4 AND d.moh_row = $5 AND NOT EXISTS (SELECT 1 FROM \
                 encounter_addenda a WHERE a.diagnosis_id = d.id AND a.kind = 'error')) \
                 ORDER BY e.id",
            )
            .bind(range.from)
            .bind(range.to)
            .bind(facility(range))
            .bind(form)
            .bind(injury_row)
            .fetch_all(db.read())
            .await?
        }
    };
    Ok(rows.iter().map(case_of).collect::<Result<_, _>>()?)
}

/// Signed notes with an outcome, in the range.
async fn outcomes(db: &Db, outcome: &str, range: &FigureRange) -> Result<Vec<Case>, DbError> {
    outcomes_with(db, outcome, range, None).await
}

/// Signed notes with an outcome in the range; with `detail`, only those whose outcome details
/// have that key (a referral's `facility` or `community_unit`).
async fn outcomes_with(
    db: &Db,
    outcome: &str,
    range: &FigureRange,
    detail: Option<&str>,
) -> Result<Vec<Case>, DbError> {
    let rows = sqlx::query(
        "SELECT e.id, e.patient_id, e.visit_id, e.visit_day, e.outcome_detail FROM encounters e \
         WHERE e.state = 'signed' AND e.outcome = $4 \
         AND e.visit_day >= $1 AND e.visit_day <= $2 AND ($3 = 0 OR e.facility_id = $3) \
         ORDER BY e.id",
    )
    .bind(range.from)
    .bind(range.to)
    .bind(facility(range))
    .bind(outcome)
    .fetch_all(db.read())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        if let Some(key) = detail {
            let text: String = r.try_get(4)?;
            let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if json
                .get(key)
                .and_then(|v| v.as_str())
                .is_none_or(str::is_empty)
            {
                continue;
            }
        }
        out.push(case_of(r)?);
    }
    Ok(out)
}

/// Procedures done in the range; of one code, or all when `code` is empty.
async fn procedures(db: &Db, range: &FigureRange, code: &str) -> Result<Vec<Case>, DbError> {
    let rows = sqlx::query(
        "SELECT p.id, p.patient_id, p.visit_id, p.visit_day FROM encounter_procedures p \
         WHERE p.visit_day >= $1 AND p.visit_day <= $2 AND ($3 = 0 OR p.facility_id = $3) \
         AND ($4 = '' OR p.code = $4) ORDER BY p.id",
    )
    .bind(range.from)
    .bind(range.to)
    .bind(facility(range))
    .bind(code)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(case_of).collect::<Result<_, _>>()?)
}

async fn counted(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Option<Vec<Case>>, DbError> {
    if let Some(which) = cases_of(indicator) {
        return Ok(Some(cases(db, which, range).await?));
    }
    Ok(match indicator {
        REFERRALS_OUT => Some(outcomes(db, "referral", range).await?),
        REFERRALS_TO_FACILITY => {
            Some(outcomes_with(db, "referral", range, Some("facility")).await?)
        }
        REFERRALS_TO_COMMUNITY => {
            Some(outcomes_with(db, "referral", range, Some("community_unit")).await?)
        }
        DEATHS => Some(outcomes(db, "died", range).await?),
        PROCEDURES => Some(procedures(db, range, "").await?),
        other => match PROCEDURE_CODES.iter().find(|(i, _)| *i == other) {
            Some((_, code)) => Some(procedures(db, range, code).await?),
            None => None,
        },
    })
}

/// Patients' cards are read in batches of this many.
const CARD_BATCH: usize = 500;

/// Cases by sex and MOH age band on the visit day (through the patients module's cards).
async fn parts(db: &Db, cases: &[Case]) -> Result<Vec<FigurePart>, DbError> {
    let mut ids: Vec<PatientId> = cases.iter().map(|c| c.patient).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut people: HashMap<PatientId, (String, Option<Day>)> = HashMap::new();
    for chunk in ids.chunks(CARD_BATCH) {
        for card in hms_patients::api::cards(db, chunk).await? {
            people.insert(card.id, (card.sex, card.date_of_birth));
        }
    }
    let mut counts: HashMap<(Option<String>, Option<AgeBand>), i64> = HashMap::new();
    for c in cases {
        let (sex, born) = people
            .get(&c.patient)
            .map(|(s, b)| (Some(s.clone()), *b))
            .unwrap_or((None, None));
        let band = born.map(|b| AgeBand::at(b, c.day));
        *counts.entry((sex, band)).or_default() += 1;
    }
    let mut parts: Vec<FigurePart> = counts
        .into_iter()
        .map(|((sex, age_band), value)| FigurePart {
            sex,
            age_band,
            value,
        })
        .collect();
    parts.sort_by(|a, b| (&a.sex, a.age_band).cmp(&(&b.sex, b.age_band)));
    Ok(parts)
}

pub async fn figures(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Option<Figure>, DbError> {
    let Some(code) = INDICATORS
        .iter()
        .find(|i| i.code == indicator)
        .map(|i| i.code)
    else {
        return Ok(None);
    };
    let Some(found) = counted(db, indicator, range).await? else {
        return Ok(None);
    };
    Ok(Some(Figure {
        indicator: code,
        value: i64::try_from(found.len()).unwrap_or(i64::MAX),
        parts: parts(db, &found).await?,
    }))
}

pub async fn figure_sources(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Vec<FigureSource>, DbError> {
    Ok(counted(db, indicator, range)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|c| FigureSource {
            patient: c.patient,
            visit: Some(c.visit),
            record: c.record,
            day: c.day,
        })
        .collect())
}

/// Each visit's diagnoses (ICD-10 code and words; those of signed notes, not entered in error)
/// and procedures done in the room.
pub async fn visit_facts(db: &Db, visits: &[VisitId]) -> Result<Vec<VisitFact>, DbError> {
    let mut facts = Vec::new();
    for &visit in visits {
        let diagnoses = sqlx::query(
            "SELECT d.icd10, d.display, d.added_at FROM note_diagnoses d \
             WHERE d.visit_id = $1 AND d.moh_form IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
             AND a.kind = 'error') ORDER BY d.id",
        )
        .bind(visit)
        .fetch_all(db.read())
        .await?;
        for r in &diagnoses {
            facts.push(VisitFact {
                visit,
                module: "consultations",
                kind: FactKind::Diagnosis,
                code: r.try_get(0)?,
                text: r.try_get(1)?,
                quantity: 1,
                at: Some(r.try_get(2)?),
            });
        }
        let procedures = sqlx::query(
            "SELECT code, name, done_at FROM encounter_procedures WHERE visit_id = $1 ORDER BY id",
        )
        .bind(visit)
        .fetch_all(db.read())
        .await?;
        for r in &procedures {
            facts.push(VisitFact {
                visit,
                module: "consultations",
                kind: FactKind::Procedure,
                code: Some(r.try_get(0)?),
                text: r.try_get(1)?,
                quantity: 1,
                at: Some(r.try_get(2)?),
            });
        }
    }
    Ok(facts)
}

/// Most diagnoses and procedures of one record in an export.
const EXPORT_LIMIT: i64 = 5000;

/// The patient's diagnoses (all of signed notes, those entered in error marked so) and
/// procedures, of the record and of every record merged into it.
pub async fn export(db: &Db, patients: &[PatientId]) -> Result<Vec<ExportSection>, DbError> {
    let mut diagnoses = Vec::new();
    let mut procedures = Vec::new();
    for &p in patients {
        let rows = sqlx::query(
            "SELECT d.visit_day, d.display, d.icd10, d.certainty, d.moh_form, d.moh_row, \
             (SELECT COUNT(*) FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
             AND a.kind = 'error') AS errors \
             FROM note_diagnoses d JOIN encounters e ON e.id = d.encounter_id \
             WHERE d.patient_id = $1 AND e.state = 'signed' ORDER BY d.visit_day, d.id LIMIT CAST($2 AS BIGINT)",
        )
        .bind(p)
        .bind(EXPORT_LIMIT)
        .fetch_all(db.read())
        .await?;
        for r in &rows {
            let day: Day = r.try_get(0)?;
            let in_error = r.try_get::<i64, _>(6)? > 0;
            diagnoses.push(json!({
                "day": day,
                "diagnosis": r.try_get::<String, _>(1)?,
                "icd10": r.try_get::<Option<String>, _>(2)?,
                "certainty": r.try_get::<String, _>(3)?,
                "moh_form": r.try_get::<Option<String>, _>(4)?,
                "moh_row": r.try_get::<Option<i64>, _>(5)?,
                "entered_in_error": in_error,
            }));
        }
        let rows = sqlx::query(
            "SELECT visit_day, code, name FROM encounter_procedures WHERE patient_id = $1 \
             ORDER BY visit_day, id LIMIT CAST($2 AS BIGINT)",
        )
        .bind(p)
        .bind(EXPORT_LIMIT)
        .fetch_all(db.read())
        .await?;
        for r in &rows {
            let day: Day = r.try_get(0)?;
            procedures.push(json!({
                "day": day,
                "code": r.try_get::<String, _>(1)?,
                "procedure": r.try_get::<String, _>(2)?,
            }));
        }
    }
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let diagnosis_rows = diagnoses
        .iter()
        .map(|d| {
            let day = d["day"]
                .as_str()
                .and_then(Day::from_db_text)
                .map(|d| d.display())
                .unwrap_or_default();
            let mut value = text(d, "diagnosis");
            if let Some(code) = d["icd10"].as_str() {
                value.push_str(&format!(" ({code})"));
            }
            value.push_str(&format!(
                " · {}",
                t(&format!(
                    "consultations_diagnoses.certainty_{}",
                    text(d, "certainty")
                ))
            ));
            if d["entered_in_error"].as_bool() == Some(true) {
                value.push_str(&format!(" · {}", t("consultations_diagnoses.in_error")));
            }
            (day, value)
        })
        .collect();
    let procedure_rows = procedures
        .iter()
        .map(|p| {
            let day = p["day"]
                .as_str()
                .and_then(Day::from_db_text)
                .map(|d| d.display())
                .unwrap_or_default();
            (day, text(p, "procedure"))
        })
        .collect();
    // A patient never seen in consultation has no section here.
    let mut sections = Vec::new();
    if !diagnoses.is_empty() {
        sections.push(ExportSection {
            module: "consultations",
            title: t("consultations_diagnoses.export_diagnoses"),
            rows: diagnosis_rows,
            json: json!(diagnoses),
        });
    }
    if !procedures.is_empty() {
        sections.push(ExportSection {
            module: "consultations",
            title: t("consultations_diagnoses.export_procedures"),
            rows: procedure_rows,
            json: json!(procedures),
        });
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_indicator_code_is_unique_and_counts_something() {
        let mut codes: Vec<&str> = INDICATORS.iter().map(|i| i.code).collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
        assert_eq!(n, GENERAL.len() + 71 + 68);
        assert_eq!(GENERAL.len(), 6 + PROCEDURE_CODES.len());
        for i in INDICATORS {
            assert!(
                cases_of(i.code).is_some()
                    || [
                        REFERRALS_OUT,
                        REFERRALS_TO_FACILITY,
                        REFERRALS_TO_COMMUNITY,
                        DEATHS,
                        PROCEDURES
                    ]
                    .contains(&i.code)
                    || PROCEDURE_CODES.iter().any(|(c, _)| *c == i.code),
                "{}",
                i.code
            );
        }
    }

    /// The generated row indicators say what `data/moh705.csv` says, row for row: the file is
    /// written once from the form, and this keeps the two from drifting apart.
    #[test]
    fn each_row_indicator_names_its_row_as_the_form_does() {
        let mut rows = csv::Reader::from_reader(include_str!("../data/moh705.csv").as_bytes());
        let mut expected = Vec::new();
        for r in rows.records() {
            let r = r.unwrap();
            let (form, row, condition) = (&r[0], r[1].parse::<i64>().unwrap(), &r[2]);
            let last_disease = if form == "705A" { 71 } else { 68 };
            if row <= last_disease {
                expected.push((
                    format!("consultations.moh{}.{row}", form.to_lowercase()),
                    format!("MOH {form} row {row}: {condition}."),
                ));
            }
        }
        assert_eq!(expected.len(), moh705_indicators::ROWS.len());
        for (i, (code, name)) in moh705_indicators::ROWS.iter().zip(&expected) {
            assert_eq!(i.code, code);
            assert!(
                i.description.starts_with(name.as_str()),
                "{}: {}",
                i.code,
                i.description
            );
        }
    }

    #[test]
    fn tested_malaria_adds_the_positive_tests() {
        assert_eq!(
            cases_of("consultations.moh705b.13"),
            Some(Cases::Rows(FORM_B, &[13, 15, 16]))
        );
        assert_eq!(
            cases_of("consultations.moh705a.16"),
            Some(Cases::Rows(FORM_A, &[16]))
        );
        assert_eq!(
            cases_of("consultations.moh705a.43"),
            Some(Cases::RoadDeaths(FORM_A, 42))
        );
        assert_eq!(cases_of("consultations.moh705a.72"), None);
        assert_eq!(cases_of("consultations.moh705b.x"), None);
    }
}
