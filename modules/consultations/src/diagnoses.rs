//! Diagnoses: the catalogue (`data/diagnoses.csv`: name, ICD-10, our mapping to MOH 705A and
//! 705B rows, Kiswahili synonyms), the diagnoses of a note, and the form and row fixed at
//! signing from the age on the visit day.
//!
//! No published source maps MOH 705 rows to ICD-10: the rows of each catalogue entry are the
//! mapping of this product (`mapping = hms` in the file and the table), which an administrator
//! may change on the catalogue screen (`mapping = admin` from then on). The catalogue is written
//! into `diagnosis_catalogue` on first use; entries added to the file in a later release are
//! added the same way, and an administrator's changes are never overwritten.

use std::collections::HashMap;
use std::sync::OnceLock;

use hms_core::audit::Actor;
use hms_core::db::{Db, DbError, Tx};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use serde::Serialize;

use crate::encounter::Encounter;
use crate::model::Age;
use crate::repo::diagnoses as repo;

/// MOH 705A: outpatient morbidity of children under five years.
pub const FORM_A: &str = "705A";
/// MOH 705B: outpatient morbidity of patients five years and over.
pub const FORM_B: &str = "705B";
/// "ALL OTHER DISEASES": free text, and catalogue entries without a row on the form.
pub const ALL_OTHER_A: i64 = 71;
pub const ALL_OTHER_B: i64 = 68;
/// Road traffic injuries, and the deaths among them (counted from notes signed with outcome
/// `died` and a diagnosis on the injuries row, not from a catalogue entry).
pub const ROAD_INJURY_A: i64 = 42;
pub const ROAD_INJURY_B: i64 = 40;
pub const ROAD_DEATHS_A: i64 = 43;
pub const ROAD_DEATHS_B: i64 = 41;
/// "Tested malaria": every malaria test, negative (its own entry) or positive (the confirmed
/// rows, and malaria in pregnancy on 705B).
pub const TESTED_MALARIA_A: i64 = 14;
pub const CONFIRMED_MALARIA_A: i64 = 16;
pub const TESTED_MALARIA_B: i64 = 13;
pub const CONFIRMED_MALARIA_B: i64 = 15;
pub const MALARIA_IN_PREGNANCY_B: i64 = 16;

pub const PROVISIONAL: &str = "provisional";
pub const FINAL: &str = "final";
pub const CERTAINTIES: &[&str] = &[PROVISIONAL, FINAL];

/// Longest free-text diagnosis.
pub const FREE_TEXT_MAX: usize = 200;

/// The shipped catalogue.
const CATALOGUE_CSV: &str = include_str!("../data/diagnoses.csv");
/// The rows of MOH 705A and 705B as printed (form, row number, condition).
const MOH705_CSV: &str = include_str!("../data/moh705.csv");

/// One entry of the catalogue.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_sw: Option<String>,
    /// Other names, Kiswahili first, separated by `;`.
    pub synonyms: String,
    pub icd10: Option<String>,
    pub icd11: Option<String>,
    pub mapping: Mapping,
    /// `hms` (shipped) or `admin` (changed on the catalogue screen).
    pub source: String,
    pub active: bool,
}

/// Where an entry is counted on MOH 705.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Mapping {
    pub a: Option<i64>,
    pub b: Option<i64>,
    /// The 705B row when the patient is pregnant (malaria in pregnancy).
    pub pregnancy: Option<i64>,
}

/// An entry as the file ships it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipped {
    pub code: String,
    pub name: String,
    pub name_sw: String,
    pub synonyms: String,
    pub icd10: String,
    pub icd11: String,
    pub mapping: Mapping,
}

fn optional_row(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| format!("not a row number: {text}"))
}

/// Reads the catalogue file; an error names the line.
pub fn parse_catalogue(text: &str) -> Result<Vec<Shipped>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let r = record.map_err(|e| format!("line {}: {e}", i + 2))?;
        let field = |n: usize| r.get(n).unwrap_or("").trim().to_string();
        let row = |n: usize| optional_row(&field(n)).map_err(|e| format!("line {}: {e}", i + 2));
        out.push(Shipped {
            code: field(0),
            name: field(1),
            name_sw: field(2),
            synonyms: field(3),
            icd10: field(4),
            icd11: field(5),
            mapping: Mapping {
                a: row(6)?,
                b: row(7)?,
                pregnancy: row(8)?,
            },
        });
    }
    Ok(out)
}

/// The shipped catalogue, read once.
pub fn shipped() -> &'static [Shipped] {
    static SHIPPED: OnceLock<Vec<Shipped>> = OnceLock::new();
    SHIPPED.get_or_init(|| parse_catalogue(CATALOGUE_CSV).expect("data/diagnoses.csv is valid"))
}

/// The conditions of the MOH 705 rows, keyed by (form, row).
pub fn moh705_rows() -> &'static HashMap<(String, i64), String> {
    static ROWS: OnceLock<HashMap<(String, i64), String>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut reader = csv::Reader::from_reader(MOH705_CSV.as_bytes());
        reader
            .records()
            .filter_map(Result::ok)
            .filter_map(|r| {
                let row = r.get(1)?.parse::<i64>().ok()?;
                Some(((r.get(0)?.to_string(), row), r.get(2)?.to_string()))
            })
            .collect()
    })
}

/// The text searched: names, synonyms and the ICD-10 code with and without its dot, in
/// lower case.
pub fn search_text(name: &str, name_sw: &str, synonyms: &str, icd10: &str) -> String {
    let code = icd10.to_lowercase();
    [
        name.to_lowercase(),
        name_sw.to_lowercase(),
        synonyms.to_lowercase(),
        code.clone(),
        code.replace('.', ""),
    ]
    .join(" | ")
}

/// The form of a patient of this age on the visit day: 705A under five years, 705B from the
/// fifth birthday (and when the age is unknown: an adult form is the safer guess for a patient
/// registered without any date of birth).
pub fn form_for(age: Option<Age>) -> &'static str {
    match age {
        Some(a) if a.under_five() => FORM_A,
        _ => FORM_B,
    }
}

/// The row of a diagnosis on `form`: the entry's row on that form (its pregnancy row on 705B
/// when the patient is pregnant), or "all other diseases" for free text and entries without a
/// row on the form.
pub fn row_for(form: &str, mapping: Option<&Mapping>, pregnant: Option<bool>) -> i64 {
    let m = mapping.copied().unwrap_or_default();
    if form == FORM_A {
        return m.a.unwrap_or(ALL_OTHER_A);
    }
    match (pregnant, m.pregnancy) {
        (Some(true), Some(row)) => row,
        _ => m.b.unwrap_or(ALL_OTHER_B),
    }
}

/// "705A row 16: Confirmed Malaria (only positive cases)".
pub fn row_label(form: &str, row: i64) -> String {
    let condition = moh705_rows()
        .get(&(form.to_string(), row))
        .cloned()
        .unwrap_or_default();
    t("consultations_diagnoses.row_label")
        .replace("{form}", form)
        .replace("{row}", &row.to_string())
        .replace("{condition}", &condition)
}

/// Writes the shipped entries missing from the table (all of them on first use). Cheap when
/// nothing is missing: one count.
pub async fn ensure_catalogue(db: &Db) -> Result<(), DbError> {
    let have = repo::catalogue_size(db).await?;
    if have >= i64::try_from(shipped().len()).unwrap_or(i64::MAX) {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    let added = repo::seed(&mut tx, shipped()).await?;
    if added > 0 {
        hms_core::audit::record(
            &mut tx,
            &Actor::cli(None),
            hms_core::audit::Event::new("diagnoses.catalogue_seed", "diagnosis_catalogue", None)
                .detail(serde_json::json!({ "added": added })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What a clinician picked: a catalogue entry or free text, and the certainty.
#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    pub code: Option<String>,
    pub free_text: Option<String>,
    pub display: String,
    pub icd10: Option<String>,
    pub certainty: String,
    #[serde(skip)]
    pub mapping: Option<Mapping>,
}

/// Checks a picked diagnosis (form fields `code` or `free_text`, and `certainty`): a known,
/// active catalogue code, or free text of at most [`FREE_TEXT_MAX`] characters.
pub async fn read_pick(
    db: &Db,
    code: &str,
    free_text: &str,
    certainty: &str,
) -> Result<Result<Pick, FormErrors>, DbError> {
    let mut errors = FormErrors::new();
    let certainty = certainty.trim();
    let certainty = if certainty.is_empty() {
        PROVISIONAL
    } else {
        certainty
    };
    if !CERTAINTIES.contains(&certainty) {
        errors.add("certainty", t("consultations_diagnoses.error_certainty"));
    }
    let (code, free_text) = (code.trim(), free_text.trim());
    let mut pick = Pick {
        code: None,
        free_text: None,
        display: String::new(),
        icd10: None,
        certainty: certainty.to_string(),
        mapping: None,
    };
    if !code.is_empty() {
        ensure_catalogue(db).await?;
        match repo::entry_by_code(db, code).await? {
            Some(e) if e.active => {
                pick.display = e.name.clone();
                pick.icd10 = e.icd10.clone();
                pick.mapping = Some(e.mapping);
                pick.code = Some(e.code);
            }
            _ => errors.add("code", t("consultations_diagnoses.error_unknown_code")),
        }
    } else if free_text.is_empty() {
        errors.add("free_text", t("consultations_diagnoses.error_choose"));
    } else if free_text.chars().count() > FREE_TEXT_MAX {
        errors.add(
            "free_text",
            t("consultations_diagnoses.error_too_long")
                .replace("{max}", &FREE_TEXT_MAX.to_string()),
        );
    } else {
        pick.display = free_text.to_string();
        pick.free_text = Some(free_text.to_string());
    }
    Ok(if errors.is_empty() {
        Ok(pick)
    } else {
        Err(errors)
    })
}

/// A diagnosis of a note as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub id: i64,
    pub display: String,
    pub icd10: Option<String>,
    pub free_text: bool,
    pub certainty: String,
    pub certainty_label: String,
    /// The form and row: fixed ones once signed, what signing would fix while a draft.
    pub moh_form: String,
    pub moh_row: i64,
    pub moh_label: String,
    pub fixed: bool,
    /// Added to the signed note by an addendum.
    pub by_addendum: bool,
    /// Marked entered in error by an addendum (kept, struck through, not counted).
    pub in_error: bool,
}

/// The patient's age on the note's visit day (None without a date of birth).
pub async fn age_at_visit(db: &Db, encounter: &Encounter) -> Result<Option<Age>, DbError> {
    let card = hms_patients::api::card(db, encounter.patient_id).await?;
    Ok(card
        .and_then(|c| c.date_of_birth)
        .and_then(|born| Age::on(born, encounter.visit_day)))
}

/// What signing and an addendum need besides the note: the patient's age on the visit day and
/// whether she was pregnant at the visit (from triage).
pub async fn at_visit(
    db: &Db,
    encounter: &Encounter,
) -> Result<(Option<Age>, Option<bool>), DbError> {
    Ok((
        age_at_visit(db, encounter).await?,
        crate::vitals::pregnant_at_visit(db, encounter.visit_id).await?,
    ))
}

/// The diagnoses of a note as shown on it, with the form and row each counts on.
pub async fn shown(db: &Db, encounter: &Encounter) -> Result<Vec<Shown>, DbError> {
    let rows = repo::of_encounter(db, encounter.id).await?;
    let draft = encounter.is_draft();
    let (form, pregnant) = if draft {
        (
            form_for(age_at_visit(db, encounter).await?),
            crate::vitals::pregnant_at_visit(db, encounter.visit_id).await?,
        )
    } else {
        (FORM_B, None)
    };
    Ok(rows
        .into_iter()
        .map(|d| {
            let (moh_form, moh_row, fixed) = match (&d.moh_form, d.moh_row) {
                (Some(f), Some(r)) => (f.clone(), r, true),
                _ => (
                    form.to_string(),
                    row_for(form, d.mapping.as_ref(), pregnant),
                    false,
                ),
            };
            Shown {
                id: d.id,
                moh_label: row_label(&moh_form, moh_row),
                display: d.display,
                icd10: d.icd10,
                free_text: d.catalogue_code.is_none(),
                certainty_label: t(&format!(
                    "consultations_diagnoses.certainty_{}",
                    d.certainty
                )),
                certainty: d.certainty,
                moh_form,
                moh_row,
                fixed,
                by_addendum: d.by_addendum,
                in_error: d.in_error,
            }
        })
        .collect())
}

/// The diagnoses of a note for the consultation page (JSON for
/// `consultations/_diagnoses.html`).
pub async fn section(db: &Db, encounter: &Encounter) -> Result<serde_json::Value, DbError> {
    section_with(db, encounter, &FormErrors::new(), &HashMap::new()).await
}

/// The section with a refused form's messages and what was typed.
pub async fn section_with(
    db: &Db,
    encounter: &Encounter,
    errors: &FormErrors,
    values: &HashMap<String, String>,
) -> Result<serde_json::Value, DbError> {
    let items = shown(db, encounter).await?;
    Ok(serde_json::json!({
        "encounter": encounter.id,
        "draft": encounter.is_draft(),
        // A signed note takes more diagnoses by addendum only.
        "can_add_by_addendum": !encounter.is_draft(),
        "items": items,
        "errors": errors,
        "values": values,
    }))
}

/// At signing, in the signing transaction and before the note's state changes: fixes the MOH
/// form and row of each diagnosis of the note from the patient's age on the visit day (and
/// pregnancy, for malaria in pregnancy); returns how many diagnoses the note has.
pub async fn fix_at_signing(
    tx: &mut Tx,
    encounter: &Encounter,
    age: Option<Age>,
    pregnant: Option<bool>,
) -> Result<i64, DbError> {
    let form = form_for(age);
    let rows = repo::mappings_in(tx, encounter.id).await?;
    let mut by_row: HashMap<i64, Vec<i64>> = HashMap::new();
    for (id, mapping) in &rows {
        by_row
            .entry(row_for(form, mapping.as_ref(), pregnant))
            .or_default()
            .push(*id);
    }
    for (row, ids) in by_row {
        repo::fix_rows(tx, encounter.id, &ids, form, row).await?;
    }
    Ok(i64::try_from(rows.len()).unwrap_or(i64::MAX))
}

/// Adds a diagnosis to a signed note (an addendum of kind `diagnosis`), its form and row fixed
/// at once from the age on the visit day; returns the new diagnosis's id. The caller writes the
/// addendum row pointing at it and records the audit event of the addendum.
pub async fn add_to_signed(
    tx: &mut Tx,
    encounter: &Encounter,
    pick: &Pick,
    age: Option<Age>,
    pregnant: Option<bool>,
    actor: &Actor,
) -> Result<i64, DbError> {
    let form = form_for(age);
    let row = row_for(form, pick.mapping.as_ref(), pregnant);
    repo::insert(tx, encounter, pick, Some((form, row)), actor).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use hms_core::day::Day;

    fn day(y: i32, m: u32, d: u32) -> Day {
        Day::new(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn the_form_changes_on_the_fifth_birthday() {
        let born = day(2021, 3, 1);
        // 4 years and 364 days: the day before the fifth birthday.
        let eve = Age::on(born, day(2026, 2, 28));
        assert_eq!(form_for(eve), FORM_A);
        assert_eq!(form_for(Age::on(born, day(2026, 3, 1))), FORM_B);
        assert_eq!(form_for(None), FORM_B);
    }

    #[test]
    fn rows_follow_the_form_pregnancy_and_free_text() {
        let malaria = Mapping {
            a: Some(16),
            b: Some(15),
            pregnancy: Some(16),
        };
        assert_eq!(row_for(FORM_A, Some(&malaria), Some(true)), 16);
        assert_eq!(row_for(FORM_B, Some(&malaria), None), 15);
        assert_eq!(row_for(FORM_B, Some(&malaria), Some(false)), 15);
        assert_eq!(
            row_for(FORM_B, Some(&malaria), Some(true)),
            MALARIA_IN_PREGNANCY_B
        );
        let hypertension = Mapping {
            a: None,
            b: Some(33),
            pregnancy: None,
        };
        assert_eq!(row_for(FORM_A, Some(&hypertension), None), ALL_OTHER_A);
        assert_eq!(row_for(FORM_B, None, Some(true)), ALL_OTHER_B);
        assert_eq!(row_for(FORM_A, None, None), ALL_OTHER_A);
    }

    /// Rows that are not diseases: attendances and referrals.
    fn is_disease_row(condition: &str) -> bool {
        let c = condition.to_uppercase();
        !(c.starts_with("NO. OF") || c.starts_with("RE-ATTENDANCES") || c.starts_with("REFERRALS"))
    }

    #[test]
    fn every_disease_row_of_moh705_has_an_entry() {
        let entries = shipped();
        let mut missing = Vec::new();
        let mut reader = csv::Reader::from_reader(MOH705_CSV.as_bytes());
        let mut disease_rows = 0;
        for r in reader.records() {
            let r = r.unwrap();
            let (form, row, condition) = (&r[0], r[1].parse::<i64>().unwrap(), &r[2]);
            if !is_disease_row(condition) {
                continue;
            }
            disease_rows += 1;
            // Reached by a rule rather than an entry: all other diseases, deaths from road
            // traffic injuries.
            let by_rule = match form {
                FORM_A => [ALL_OTHER_A, ROAD_DEATHS_A].contains(&row),
                _ => [ALL_OTHER_B, ROAD_DEATHS_B].contains(&row),
            };
            let by_entry = entries.iter().any(|e| match form {
                FORM_A => e.mapping.a == Some(row),
                _ => e.mapping.b == Some(row) || e.mapping.pregnancy == Some(row),
            });
            if !by_rule && !by_entry {
                missing.push(format!("{form} row {row} {condition}"));
            }
        }
        assert_eq!(disease_rows, 71 + 68, "the disease rows of 705A and 705B");
        assert!(missing.is_empty(), "rows without an entry: {missing:?}");
    }

    #[test]
    fn the_catalogue_file_is_whole() {
        let entries = shipped();
        let mut codes: Vec<&str> = entries.iter().map(|e| e.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), entries.len(), "codes are unique");
        let rows = moh705_rows();
        for e in entries {
            assert!(
                !e.name.is_empty() && !e.name_sw.is_empty(),
                "{} named",
                e.code
            );
            assert!(!e.icd10.is_empty(), "{} has an ICD-10 code", e.code);
            assert!(
                e.icd11.is_empty(),
                "ICD-11 stays empty until claims need it"
            );
            for (form, row) in [
                (FORM_A, e.mapping.a),
                (FORM_B, e.mapping.b),
                (FORM_B, e.mapping.pregnancy),
            ] {
                if let Some(row) = row {
                    assert!(
                        rows.contains_key(&(form.to_string(), row)),
                        "{} {form} {row}",
                        e.code
                    );
                }
            }
        }
        let mapping_column = CATALOGUE_CSV.lines().skip(1).all(|l| l.ends_with(",hms"));
        assert!(mapping_column, "every shipped row is marked as our mapping");
    }

    #[test]
    fn search_text_finds_codes_with_and_without_the_dot() {
        let s = search_text(
            "Confirmed malaria",
            "Malaria iliyothibitishwa",
            "homa",
            "B50.8",
        );
        assert!(s.contains("b50.8") && s.contains("b508") && s.contains("homa"));
    }
}

/// Signing and addenda on a real (SQLite) database: the rows fixed from the age and pregnancy,
/// and a diagnosis added to a signed note fixed at once. (The HTTP tests cover both databases
/// once the workspace signs through these functions.)
#[cfg(test)]
mod signing_tests {
    use super::*;
    use hms_core::day::Day;
    use hms_core::ids::{EncounterId, PatientId, UserId, VisitId};
    use sqlx::Row;

    /// A fresh database: SQLite in a temporary directory, or a new PostgreSQL database on the
    /// server of `HMS_TEST_POSTGRES_URL` (`None` when it is not set: the run is skipped).
    struct TestDb {
        db: Db,
        dir: Option<std::path::PathBuf>,
        pg: Option<(String, String)>,
    }

    fn unique() -> String {
        format!(
            "{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )
    }

    async fn database(postgres: bool) -> Option<TestDb> {
        if !postgres {
            let mut dir = std::env::temp_dir();
            dir.push(format!("hms-diagnoses-{}", unique()));
            let url = format!("sqlite://{}/hms.db", dir.display());
            return Some(TestDb {
                db: Db::open(&url).await.unwrap(),
                dir: Some(dir),
                pg: None,
            });
        }
        let admin = std::env::var("HMS_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        let name = format!("hms_diagnoses_{}", unique());
        let admin_db = Db::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin_db.read())
            .await
            .unwrap();
        admin_db.close().await;
        let (base, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        Some(TestDb {
            db: Db::open(&url).await.unwrap(),
            dir: None,
            pg: Some((admin, name)),
        })
    }

    impl TestDb {
        async fn finish(self) {
            self.db.close().await;
            if let Some(dir) = self.dir {
                std::fs::remove_dir_all(dir).ok();
            }
            if let Some((admin, name)) = self.pg {
                let admin_db = Db::connect(&admin).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(admin_db.read())
                .await
                .ok();
                admin_db.close().await;
            }
        }
    }

    /// A user, a patient, a visit on `day` and a draft note on it.
    async fn draft(db: &Db, day: Day, n: i64) -> Encounter {
        let now = "2026-01-01T08:00:00.000Z";
        let mut tx = db.begin().await.unwrap();
        let user: i64 = sqlx::query(
            "INSERT INTO users (username, full_name, password_hash, password_changed_at, \
             created_at, updated_at) VALUES ($2, 'D', 'x', $1, $1, $1) RETURNING id",
        )
        .bind(now)
        .bind(format!("d{n}"))
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get(0);
        let patient: i64 = sqlx::query(
            "INSERT INTO patients (number, first_name, last_name, sex, date_of_birth, \
             created_at, updated_at) VALUES ($2, 'A', 'B', 'female', '2000-01-01', $1, $1) \
             RETURNING id",
        )
        .bind(now)
        .bind(format!("P{n}"))
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get(0);
        let visit: i64 = sqlx::query(
            "INSERT INTO visits (patient_id, day, token, payer, status, checked_in_at) \
             VALUES ($1, $2, $4, 'cash', 'open', $3) RETURNING id",
        )
        .bind(patient)
        .bind(day)
        .bind(now)
        .bind(n)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get(0);
        let id: i64 = sqlx::query(
            "INSERT INTO encounters (patient_id, visit_id, visit_day, clinician_id, started_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(patient)
        .bind(visit)
        .bind(day)
        .bind(user)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get(0);
        tx.commit().await.unwrap();
        Encounter {
            id: EncounterId(id),
            patient_id: PatientId(patient),
            visit_id: VisitId(visit),
            visit_day: day,
            clinician_id: UserId(user),
            state: crate::encounter::DRAFT.into(),
            version: 1,
            complaint: String::new(),
            complaint_duration: String::new(),
            history: String::new(),
            examination: String::new(),
            assessment: String::new(),
            plan: String::new(),
            outcome: None,
            outcome_detail: serde_json::Value::Null,
            started_at: String::new(),
            updated_at: String::new(),
            signed_at: None,
            signed_by: None,
            queue_entry_id: None,
        }
    }

    async fn pick(db: &Db, code: &str, free: &str) -> Pick {
        read_pick(db, code, free, FINAL).await.unwrap().unwrap()
    }

    async fn rows(db: &Db, enc: &Encounter) -> Vec<(String, i64)> {
        sqlx::query(
            "SELECT moh_form, moh_row FROM note_diagnoses WHERE encounter_id = $1 ORDER BY id",
        )
        .bind(enc.id)
        .fetch_all(db.read())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    }

    fn day(y: i32, m: u32, d: u32) -> Day {
        Day::new(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signing_fixes_form_and_row_from_the_age_and_pregnancy_sqlite() {
        signing_fixes_form_and_row(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signing_fixes_form_and_row_from_the_age_and_pregnancy_postgres() {
        signing_fixes_form_and_row(true).await;
    }

    async fn signing_fixes_form_and_row(postgres: bool) {
        let Some(test) = database(postgres).await else {
            return;
        };
        let db = test.db.clone();
        let visit_day = day(2026, 3, 1);
        let born = day(2021, 3, 1);
        let actor = Actor::default();
        let mut n = 0;
        for (age, pregnant, expected) in [
            // 4 years 364 days.
            (
                Age::on(born, day(2026, 2, 28)),
                None,
                vec![("705A", 16), ("705A", ALL_OTHER_A), ("705A", ALL_OTHER_A)],
            ),
            // 5 years.
            (
                Age::on(born, visit_day),
                Some(false),
                vec![("705B", 15), ("705B", 33), ("705B", ALL_OTHER_B)],
            ),
            (
                Age::on(day(1996, 1, 1), visit_day),
                Some(true),
                vec![("705B", 16), ("705B", 33), ("705B", ALL_OTHER_B)],
            ),
        ] {
            n += 1;
            let enc = draft(&db, visit_day, n).await;
            let picks = [
                pick(&db, "malaria-confirmed", "").await,
                pick(&db, "hypertension", "").await,
                pick(&db, "", "Hiccups").await,
            ];
            let mut tx = db.begin().await.unwrap();
            for p in picks {
                repo::insert(&mut tx, &enc, &p, None, &actor).await.unwrap();
            }
            assert_eq!(
                fix_at_signing(&mut tx, &enc, age, pregnant).await.unwrap(),
                3
            );
            tx.commit().await.unwrap();
            let expected: Vec<(String, i64)> = expected
                .into_iter()
                .map(|(f, r)| (f.to_string(), r))
                .collect();
            assert_eq!(rows(&db, &enc).await, expected);
        }
        drop(db);
        test.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_diagnosis_added_to_a_signed_note_is_fixed_at_once_sqlite() {
        added_to_a_signed_note(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_diagnosis_added_to_a_signed_note_is_fixed_at_once_postgres() {
        added_to_a_signed_note(true).await;
    }

    async fn added_to_a_signed_note(postgres: bool) {
        let Some(test) = database(postgres).await else {
            return;
        };
        let db = test.db.clone();
        let enc = draft(&db, day(2026, 3, 1), 1).await;
        let malaria = pick(&db, "malaria-suspected", "").await;
        let mut tx = db.begin().await.unwrap();
        sqlx::query(
            "UPDATE encounters SET state = 'signed', signed_at = 'x', signed_by = clinician_id \
             WHERE id = $1",
        )
        .bind(enc.id)
        .execute(&mut *tx)
        .await
        .unwrap();
        let under_five = Age::on(day(2023, 1, 1), enc.visit_day);
        let id = add_to_signed(&mut tx, &enc, &malaria, under_five, None, &Actor::default())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(id > 0);
        assert_eq!(rows(&db, &enc).await, vec![("705A".to_string(), 15)]);
        // The database keeps it as added.
        let mut tx = db.begin().await.unwrap();
        assert!(
            sqlx::query("UPDATE encounter_diagnoses SET moh_row = 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .is_err()
        );
        drop(tx);
        drop(db);
        test.finish().await;
    }
}
