//! Demo history for `hms demo-data`: for every past visit that went through consultation, the
//! vital signs taken at triage, a signed note with a Kenyan outpatient case mix (diagnoses coded
//! from the catalogue, MOH 705 form and row fixed by the age on the visit day), and the orders
//! that match the visit's route (a test when it went to the laboratory, a drug when it went to
//! the pharmacy), done. Deterministic for a seed; written once.

use hms_core::auth::users;
use hms_core::day::Day;
use hms_core::db::DbError;
use hms_core::demo::{DemoCount, DemoFuture, DemoGenerator, DemoRun};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::model::Age;
use crate::repo::demo::{self as sql, DemoDiagnosis, DemoNote, DemoOrder, DemoVitals};

/// Visits read and written per transaction.
const PAGE: i64 = 1_000;

/// A condition of the case mix: its ICD-10 code (the catalogue's entry with that code, or the
/// first whose code starts with it), weight among children under five and among older
/// patients, and the note, test and drug that go with it.
struct Condition {
    icd10: &'static str,
    under_five: u32,
    older: u32,
    complaint: &'static str,
    examination: &'static str,
    test: (&'static str, &'static str),
    drug: (&'static str, &'static str, i64),
}

/// The commonest outpatient conditions of a Kenyan facility, weighted roughly as MOH 705
/// returns show them (respiratory infections first, then malaria, diarrhoea, skin and urinary
/// infections; hypertension and diabetes among adults).
const CASE_MIX: &[Condition] = &[
    Condition {
        icd10: "J06",
        under_five: 30,
        older: 24,
        complaint: "Cough and running nose",
        examination: "Throat injected, chest clear",
        test: ("Full blood count", "Normal indices"),
        drug: (
            "Paracetamol 500 mg tablets",
            r#"{"code":null,"drug":"Paracetamol 500 mg","dose":"1","dose_unit":"tablet","route":"oral","frequency":"TDS","max_per_day":null,"duration_days":3,"quantity":9,"instructions":"After meals"}"#,
            9,
        ),
    },
    Condition {
        icd10: "B5",
        under_five: 12,
        older: 12,
        complaint: "Fever and headache",
        examination: "Febrile, no pallor, no neck stiffness",
        test: ("Malaria RDT", "Positive (P. falciparum)"),
        drug: (
            "Artemether/lumefantrine 20/120 mg tablets",
            r#"{"code":null,"drug":"Artemether/lumefantrine 20/120 mg","dose":"4","dose_unit":"tablet","route":"oral","frequency":"BD","max_per_day":null,"duration_days":3,"quantity":24,"instructions":"Take with food"}"#,
            24,
        ),
    },
    Condition {
        icd10: "A09",
        under_five: 15,
        older: 6,
        complaint: "Loose stools",
        examination: "Mildly dehydrated, abdomen soft",
        test: ("Stool microscopy", "No ova or cysts seen"),
        drug: (
            "ORS sachets",
            r#"{"code":null,"drug":"Oral rehydration salts","dose":"1","dose_unit":"sachet","route":"oral","frequency":"PRN","max_per_day":6,"duration_days":3,"quantity":6,"instructions":"One sachet in a litre of clean water"}"#,
            6,
        ),
    },
    Condition {
        icd10: "J18",
        under_five: 10,
        older: 4,
        complaint: "Cough and fast breathing",
        examination: "Crackles on the right base",
        test: ("Full blood count", "WBC 14.2 H"),
        drug: (
            "Amoxicillin 250 mg capsules",
            r#"{"code":null,"drug":"Amoxicillin 250 mg","dose":"2","dose_unit":"capsule","route":"oral","frequency":"TDS","max_per_day":null,"duration_days":5,"quantity":30,"instructions":"Finish the course"}"#,
            30,
        ),
    },
    Condition {
        icd10: "L30",
        under_five: 10,
        older: 6,
        complaint: "Itchy skin rash",
        examination: "Papular rash on both forearms",
        test: ("Skin scraping", "No fungal elements"),
        drug: (
            "Calamine lotion",
            r#"{"code":null,"drug":"Calamine lotion","dose":"1","dose_unit":"application","route":"topical","frequency":"BD","max_per_day":null,"duration_days":7,"quantity":1,"instructions":"Apply thinly"}"#,
            1,
        ),
    },
    Condition {
        icd10: "B82",
        under_five: 6,
        older: 4,
        complaint: "Abdominal pain",
        examination: "Abdomen soft, non-tender",
        test: ("Stool microscopy", "Ascaris ova seen"),
        drug: (
            "Albendazole 400 mg tablets",
            r#"{"code":null,"drug":"Albendazole 400 mg","dose":"1","dose_unit":"tablet","route":"oral","frequency":"OD","max_per_day":null,"duration_days":1,"quantity":1,"instructions":"Chew the tablet"}"#,
            1,
        ),
    },
    Condition {
        icd10: "N39",
        under_five: 2,
        older: 10,
        complaint: "Pain on passing urine",
        examination: "Suprapubic tenderness",
        test: ("Urinalysis", "Leucocytes ++, nitrites positive"),
        drug: (
            "Nitrofurantoin 100 mg tablets",
            r#"{"code":null,"drug":"Nitrofurantoin 100 mg","dose":"1","dose_unit":"tablet","route":"oral","frequency":"BD","max_per_day":null,"duration_days":5,"quantity":10,"instructions":"Take with food"}"#,
            10,
        ),
    },
    Condition {
        icd10: "I10",
        under_five: 0,
        older: 10,
        complaint: "Review of blood pressure",
        examination: "BP 152/96, heart sounds normal",
        test: ("Urea, electrolytes and creatinine", "Within normal limits"),
        drug: (
            "Amlodipine 5 mg tablets",
            r#"{"code":null,"drug":"Amlodipine 5 mg","dose":"1","dose_unit":"tablet","route":"oral","frequency":"OD","max_per_day":null,"duration_days":30,"quantity":30,"instructions":"Every morning"}"#,
            30,
        ),
    },
    Condition {
        icd10: "E11",
        under_five: 0,
        older: 5,
        complaint: "Review of diabetes",
        examination: "Feet intact, no oedema",
        test: ("Random blood sugar", "9.8 mmol/L"),
        drug: (
            "Metformin 500 mg tablets",
            r#"{"code":null,"drug":"Metformin 500 mg","dose":"1","dose_unit":"tablet","route":"oral","frequency":"BD","max_per_day":null,"duration_days":30,"quantity":60,"instructions":"With meals"}"#,
            60,
        ),
    },
    Condition {
        icd10: "M25",
        under_five: 0,
        older: 8,
        complaint: "Knee pain",
        examination: "No swelling, full range of movement",
        test: ("Uric acid", "Within normal limits"),
        drug: (
            "Ibuprofen 400 mg tablets",
            r#"{"code":null,"drug":"Ibuprofen 400 mg","dose":"1","dose_unit":"tablet","route":"oral","frequency":"TDS","max_per_day":null,"duration_days":5,"quantity":15,"instructions":"After meals"}"#,
            15,
        ),
    },
    Condition {
        icd10: "H10",
        under_five: 5,
        older: 3,
        complaint: "Red itchy eyes",
        examination: "Conjunctivae injected, discharge",
        test: ("Eye swab", "No growth"),
        drug: (
            "Tetracycline eye ointment 1%",
            r#"{"code":null,"drug":"Tetracycline eye ointment 1%","dose":"1","dose_unit":"application","route":"eye","frequency":"TDS","max_per_day":null,"duration_days":5,"quantity":1,"instructions":"Both eyes"}"#,
            1,
        ),
    },
];

/// The consultations module's demo data (see the module comment).
pub struct ConsultationsDemo;

const COUNTS: &[DemoCount] = &[
    DemoCount {
        key: "vital_signs",
        label: Some("vital-sign sets"),
    },
    DemoCount {
        key: "encounters",
        label: Some("signed consultations"),
    },
    DemoCount {
        key: "orders",
        label: Some("orders"),
    },
];

impl DemoGenerator for ConsultationsDemo {
    fn counts(&self) -> &'static [DemoCount] {
        COUNTS
    }

    fn generate<'a>(&'a self, run: &'a DemoRun<'a>) -> DemoFuture<'a, ()> {
        Box::pin(async move { generate(run).await.map_err(|e| e.to_string()) })
    }
}

/// A catalogue entry a condition resolved to.
struct Coded {
    code: String,
    name: String,
    icd10: String,
    row_705a: Option<i64>,
    row_705b: Option<i64>,
}

/// Each condition of [`CASE_MIX`] with its catalogue entry (conditions the catalogue lacks are
/// left out).
async fn resolve(run: &DemoRun<'_>) -> Result<Vec<(&'static Condition, Coded)>, DbError> {
    crate::diagnoses::ensure_catalogue(run.db).await?;
    let catalogue = sql::catalogue_by_icd10(run.db).await?;
    Ok(CASE_MIX
        .iter()
        .filter_map(|c| {
            let hit = catalogue
                .iter()
                .find(|e| e.0.eq_ignore_ascii_case(c.icd10))
                .or_else(|| catalogue.iter().find(|e| e.0.starts_with(c.icd10)))?;
            Some((
                c,
                Coded {
                    icd10: hit.0.clone(),
                    code: hit.1.clone(),
                    name: hit.2.clone(),
                    row_705a: hit.3,
                    row_705b: hit.4,
                },
            ))
        })
        .collect())
}

/// A condition drawn by the weights of the patient's age group.
fn draw<'c>(
    mix: &'c [(&'static Condition, Coded)],
    under_five: bool,
    rng: &mut StdRng,
) -> Option<&'c (&'static Condition, Coded)> {
    let weight = |c: &Condition| if under_five { c.under_five } else { c.older };
    let total: u32 = mix.iter().map(|(c, _)| weight(c)).sum();
    if total == 0 {
        return None;
    }
    let mut roll = rng.random_range(0..total);
    mix.iter().find(|(c, _)| {
        let hit = roll < weight(c);
        roll = roll.saturating_sub(weight(c));
        hit
    })
}

/// Vital signs usual for the age, with a fever now and then.
fn vitals_for(age: Option<Age>, rng: &mut StdRng) -> DemoVitals {
    let years = age.map_or(30, |a| a.years);
    let fever = rng.random_range(0..100) < 20;
    let temperature_dc = if fever {
        rng.random_range(378..396)
    } else {
        rng.random_range(360..374)
    };
    let (pulse, resp_rate, weight_g, height_mm) = match years {
        0 => (
            rng.random_range(110..150),
            rng.random_range(30..45),
            rng.random_range(4_000..9_500),
            Some(rng.random_range(550..750)),
        ),
        1..=4 => (
            rng.random_range(90..130),
            rng.random_range(24..36),
            rng.random_range(9_000..18_000),
            Some(rng.random_range(750..1_100)),
        ),
        5..=12 => (
            rng.random_range(75..115),
            rng.random_range(18..26),
            rng.random_range(18_000..40_000),
            Some(rng.random_range(1_100..1_550)),
        ),
        _ => (
            rng.random_range(60..100),
            rng.random_range(14..20),
            rng.random_range(48_000..92_000),
            Some(rng.random_range(1_500..1_850)),
        ),
    };
    let blood_pressure = (years >= 13).then(|| {
        let systolic = rng.random_range(105..160);
        (systolic, rng.random_range(60..systolic.min(100)))
    });
    let high_bp = blood_pressure.is_some_and(|(s, d)| s >= 140 || d >= 90);
    DemoVitals {
        temperature_dc,
        pulse,
        resp_rate,
        blood_pressure,
        spo2: rng.random_range(94..100),
        weight_g,
        height_mm,
        worst: if fever || high_bp {
            "abnormal"
        } else {
            "normal"
        },
    }
}

async fn generate(run: &DemoRun<'_>) -> Result<(), DbError> {
    let db = run.db;
    if sql::any_encounters(db).await? {
        return Ok(());
    }
    let doctor = users::id_by_username(db, "demo.doctor").await?;
    let nurse = users::id_by_username(db, "demo.nurse").await?;
    let mix = resolve(run).await?;
    let mut rng = StdRng::seed_from_u64(run.seed ^ 0xc0_25_17);
    let started = std::time::Instant::now();
    let (mut vitals, mut notes, mut orders) = (0u64, 0u64, 0u64);
    let mut after = 0;
    loop {
        let page = sql::past_visits(db, after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        let mut tx = db.begin().await?;
        for v in &page {
            let Some(doctor) = v.doctor.or(doctor) else {
                continue;
            };
            let age = Day::from_db_text(&v.date_of_birth)
                .zip(Day::from_db_text(&v.day))
                .and_then(|(born, day)| Age::on(born, day));
            let under_five = age.is_some_and(Age::under_five);
            sql::vitals(
                &mut tx,
                v,
                age.map_or(0, |a| a.days),
                &vitals_for(age, &mut rng),
                nurse,
            )
            .await?;
            vitals += 1;
            let Some((condition, coded)) = draw(&mix, under_five, &mut rng) else {
                continue;
            };
            let note = DemoNote {
                complaint: condition.complaint,
                duration: ["1 day", "2 days", "3 days", "1 week"][rng.random_range(0..4)],
                history: "No known chronic illness. No drug allergies known.",
                examination: condition.examination,
                assessment: &coded.name,
                plan: "Treatment as prescribed; return if not better in 3 days.",
            };
            let encounter = sql::signed_note(&mut tx, v, doctor, &note).await?;
            let (form, row) = if under_five {
                ("705A", coded.row_705a)
            } else {
                ("705B", coded.row_705b)
            };
            sql::diagnosis(
                &mut tx,
                v,
                encounter,
                doctor,
                &DemoDiagnosis {
                    code: &coded.code,
                    display: &coded.name,
                    icd10: Some(&coded.icd10),
                    form,
                    row,
                },
            )
            .await?;
            notes += 1;
            if v.lab {
                let (test, result) = condition.test;
                let order = DemoOrder {
                    kind: hms_core::orders::LAB,
                    display: test,
                    details: "{}",
                    quantity: 1,
                    outcome: Some(result),
                };
                sql::completed_order(&mut tx, v, encounter, doctor, &order).await?;
                orders += 1;
            }
            if v.pharmacy {
                let (display, details, quantity) = condition.drug;
                let order = DemoOrder {
                    kind: hms_core::orders::DRUG,
                    display,
                    details,
                    quantity,
                    outcome: None,
                };
                sql::completed_order(&mut tx, v, encounter, doctor, &order).await?;
                orders += 1;
            }
        }
        run.audit_batch(&mut tx, "demo.consultations", notes, None)
            .await?;
        tx.commit().await?;
        run.set("vital_signs", vitals);
        run.set("encounters", notes);
        run.set("orders", orders);
    }
    println!(
        "{vitals} vital-sign sets, {notes} signed consultations and {orders} orders in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
