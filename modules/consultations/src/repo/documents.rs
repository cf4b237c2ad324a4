//! Storage of issued documents (`consultation_documents`, `consultation_document_prints`,
//! `consultation_counters`) and the reads that fill them: the clinician, the note's diagnoses
//! and orders, and the day's rows of the MOH 204 register.

use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::{EncounterId, PatientId, VisitId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An issued document as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: i64,
    pub number: String,
    pub kind: String,
    pub encounter_id: i64,
    pub patient_id: i64,
    pub content: serde_json::Value,
    pub issued_by: Option<String>,
    pub issued_at: String,
    pub prints: i64,
}

/// The columns [`stored_of`] reads (`d` the document; `u` the issuer).
macro_rules! document_columns {
    () => {
        "d.id, d.number, d.kind, d.encounter_id, d.patient_id, d.content, u.full_name, \
         d.issued_at, (SELECT COUNT(*) FROM consultation_document_prints p \
         WHERE p.document_id = d.id) AS prints"
    };
}

fn stored_of(r: &AnyRow) -> Result<Stored, sqlx::Error> {
    let content: String = r.try_get(5)?;
    Ok(Stored {
        id: r.try_get(0)?,
        number: r.try_get(1)?,
        kind: r.try_get(2)?,
        encounter_id: r.try_get(3)?,
        patient_id: r.try_get(4)?,
        content: serde_json::from_str(&content).unwrap_or_default(),
        issued_by: r.try_get(6)?,
        issued_at: r.try_get(7)?,
        prints: r.try_get(8)?,
    })
}

/// One document by id.
pub async fn get(db: &Db, id: i64) -> Result<Option<Stored>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        document_columns!(),
        " FROM consultation_documents d LEFT JOIN users u ON u.id = d.issued_by WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(stored_of).transpose()?)
}

/// The documents of a note, newest first.
pub async fn of_encounter(db: &Db, encounter: EncounterId) -> Result<Vec<Stored>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        document_columns!(),
        " FROM consultation_documents d LEFT JOIN users u ON u.id = d.issued_by \
         WHERE d.encounter_id = $1 ORDER BY d.id DESC"
    ))
    .bind(encounter)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(stored_of).collect::<Result<_, _>>()?)
}

/// A patient's documents, newest first (kind, number, issued at, id).
pub async fn of_patient(
    db: &Db,
    patient: i64,
    limit: i64,
) -> Result<Vec<(String, String, String, i64)>, DbError> {
    let rows = sqlx::query(
        "SELECT kind, number, issued_at, id FROM consultation_documents WHERE patient_id = $1 \
         ORDER BY issued_at DESC, id DESC LIMIT CAST($2 AS BIGINT)",
    )
    .bind(patient)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// The facility a note belongs to (documents are numbered per facility).
pub async fn facility_of(tx: &mut Tx, encounter: EncounterId) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT facility_id FROM encounters WHERE id = $1")
        .bind(encounter)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.get(0))
}

/// The next value of a facility's series; safe when two desks issue at once (the counter row
/// is taken inside the issuing transaction).
pub async fn next_value(tx: &mut Tx, facility: i64, series: &str) -> Result<i64, DbError> {
    let v: i64 = sqlx::query(
        "INSERT INTO consultation_counters (facility_id, series, next_value) VALUES ($1, $2, 1) \
         ON CONFLICT (facility_id, series) DO UPDATE \
         SET next_value = consultation_counters.next_value + 1 RETURNING next_value",
    )
    .bind(facility)
    .bind(series)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(v)
}

/// What a new document row holds.
pub struct NewDocument<'a> {
    pub facility: i64,
    pub number: &'a str,
    pub kind: &'a str,
    pub encounter: EncounterId,
    pub patient: PatientId,
    pub visit: VisitId,
    pub content: &'a serde_json::Value,
    pub issued_by: Option<i64>,
    pub issued_at: &'a str,
}

pub async fn insert(tx: &mut Tx, d: &NewDocument<'_>) -> Result<i64, DbError> {
    let id: i64 = sqlx::query(
        "INSERT INTO consultation_documents (facility_id, number, kind, encounter_id, patient_id, \
         visit_id, content, issued_by, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         RETURNING id",
    )
    .bind(d.facility)
    .bind(d.number)
    .bind(d.kind)
    .bind(d.encounter)
    .bind(d.patient)
    .bind(d.visit)
    .bind(d.content.to_string())
    .bind(d.issued_by)
    .bind(d.issued_at)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(id)
}

/// Records a print: the first of a document is the original, every later one a copy (of two
/// at once, the unique index lets one original through). Returns whether this print is a copy.
pub async fn record_print(
    tx: &mut Tx,
    document: i64,
    facility_of_document: i64,
    by: Option<i64>,
    at: &str,
) -> Result<bool, DbError> {
    let original = sqlx::query(
        "INSERT INTO consultation_document_prints (facility_id, document_id, copy, printed_by, \
         printed_at) VALUES ($1, $2, 0, $3, $4) \
         ON CONFLICT (document_id) WHERE copy = 0 DO NOTHING RETURNING id",
    )
    .bind(facility_of_document)
    .bind(document)
    .bind(by)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?;
    if original.is_some() {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO consultation_document_prints (facility_id, document_id, copy, printed_by, \
         printed_at) VALUES ($1, $2, 1, $3, $4)",
    )
    .bind(facility_of_document)
    .bind(document)
    .bind(by)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// The facility of a document.
pub async fn document_facility(tx: &mut Tx, document: i64) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT facility_id FROM consultation_documents WHERE id = $1")
        .bind(document)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.get(0))
}

/// A clinician as documents name them.
#[derive(Debug, Clone, Default)]
pub struct Clinician {
    pub name: String,
    pub cadre: String,
    pub registration_no: String,
}

pub async fn clinician(db: &Db, user: i64) -> Result<Clinician, DbError> {
    let row = sqlx::query("SELECT full_name, cadre, registration_no FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(db.read())
        .await?;
    Ok(row
        .map(|r| Clinician {
            name: r.get(0),
            cadre: r.get::<Option<String>, _>(1).unwrap_or_default(),
            registration_no: r.get::<Option<String>, _>(2).unwrap_or_default(),
        })
        .unwrap_or_default())
}

/// A diagnosis as documents print it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Diagnosis {
    pub display: String,
    pub icd10: Option<String>,
    pub certainty: String,
}

/// The diagnoses that stand in the condition `$1`-scoped by the caller's query: those of a note
/// not marked entered in error by an addendum.
macro_rules! standing_diagnoses {
    ($where:literal) => {
        concat!(
            "SELECT d.encounter_id, d.display, d.icd10, d.certainty FROM note_diagnoses d ",
            $where,
            " AND NOT EXISTS (SELECT 1 FROM encounter_addenda a WHERE a.diagnosis_id = d.id \
             AND a.kind = 'error') ORDER BY d.encounter_id, d.id"
        )
    };
}

fn diagnosis_of(r: &AnyRow) -> (i64, Diagnosis) {
    (
        r.get(0),
        Diagnosis {
            display: r.get(1),
            icd10: r.get(2),
            certainty: r.get(3),
        },
    )
}

/// The note's standing diagnoses, in the order they were made.
pub async fn diagnoses(db: &Db, encounter: EncounterId) -> Result<Vec<Diagnosis>, DbError> {
    let rows = sqlx::query(standing_diagnoses!("WHERE d.encounter_id = $1"))
        .bind(encounter)
        .fetch_all(db.read())
        .await?;
    Ok(rows.iter().map(|r| diagnosis_of(r).1).collect())
}

/// An order line as documents print it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Line {
    pub display: String,
    pub quantity: i64,
    pub priority: String,
    pub instructions: String,
}

/// The visit's orders of `kind` placed from consultations and not cancelled, first to last.
pub async fn lines(db: &Db, visit: VisitId, kind: &str) -> Result<Vec<Line>, DbError> {
    let rows = sqlx::query(
        "SELECT display, quantity, priority, details FROM orders WHERE visit_id = $1 \
         AND kind = $2 AND placer_module = 'consultations' AND state <> 'cancelled' ORDER BY id",
    )
    .bind(visit)
    .bind(kind)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let details: String = r.get(3);
            let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
            Line {
                display: r.get(0),
                quantity: r.get(1),
                priority: r.get(2),
                instructions: details
                    .get("instructions")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
            }
        })
        .collect())
}

/// One signed consultation of the day, with what the register needs of its patient and visit.
#[derive(Debug, Clone)]
pub struct RegisterRow {
    pub encounter_id: i64,
    pub visit_id: i64,
    pub patient_number: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub phone: Option<String>,
    pub county_code: Option<String>,
    pub sub_county: Option<String>,
    pub ward: Option<String>,
    pub complaint_duration: String,
    pub outcome: Option<String>,
    pub outcome_detail: String,
    /// The patient had a visit before this day.
    pub revisit: bool,
}

/// The day's signed consultations, in the order they were signed.
pub async fn register_rows(db: &Db, day: &str) -> Result<Vec<RegisterRow>, DbError> {
    let rows = sqlx::query(
        "SELECT e.id, e.visit_id, p.number, p.first_name, p.middle_name, \
         p.last_name, p.sex, p.date_of_birth, p.phone, p.county_code, p.sub_county, p.ward, \
         e.complaint_duration, e.outcome, e.outcome_detail, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM visits v WHERE v.patient_id = e.patient_id \
         AND v.day < e.visit_day) THEN 1 ELSE 0 END AS BIGINT) \
         FROM encounters e JOIN patients p ON p.id = e.patient_id \
         WHERE e.state = 'signed' AND e.visit_day = $1 ORDER BY e.signed_at, e.id",
    )
    .bind(day)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| RegisterRow {
            encounter_id: r.get(0),
            visit_id: r.get(1),
            patient_number: r.get(2),
            first_name: r.get(3),
            middle_name: r.get(4),
            last_name: r.get(5),
            sex: r.get(6),
            date_of_birth: r.get(7),
            phone: r.get(8),
            county_code: r.get(9),
            sub_county: r.get(10),
            ward: r.get(11),
            complaint_duration: r.get(12),
            outcome: r.get(13),
            outcome_detail: r.get(14),
            revisit: r.get::<i64, _>(15) == 1,
        })
        .collect())
}

/// The standing diagnoses of the day's signed notes, by note.
pub async fn register_diagnoses(db: &Db, day: &str) -> Result<Vec<(i64, Diagnosis)>, DbError> {
    let rows = sqlx::query(standing_diagnoses!(
        "JOIN encounters e ON e.id = d.encounter_id WHERE e.state = 'signed' AND e.visit_day = $1"
    ))
    .bind(day)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(diagnosis_of).collect())
}

/// The vital signs taken at the visits of the day's signed notes (not entered in error), the
/// last set of each visit last: visit, weight g, height mm, MUAC mm, temperature 0.1 °C,
/// respiratory rate, SpO2, pulse, systolic, diastolic, danger signs.
pub type Vitals = (
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
);

pub async fn register_vitals(db: &Db, day: &str) -> Result<Vec<Vitals>, DbError> {
    let rows = sqlx::query(
        "SELECT s.visit_id, s.weight_g, s.height_mm, s.muac_mm, s.temperature_dc, s.resp_rate, \
         s.spo2, s.pulse, s.systolic, s.diastolic, s.danger_signs FROM vital_signs s \
         WHERE s.error_at IS NULL AND s.visit_id IN (SELECT e.visit_id FROM encounters e \
         WHERE e.state = 'signed' AND e.visit_day = $1) ORDER BY s.visit_id, s.recorded_at, s.id",
    )
    .bind(day)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
                r.get(8),
                r.get(9),
                r.get(10),
            )
        })
        .collect())
}

/// The orders of `kind` (drugs, lab tests) at the visits of the day's signed notes, not
/// cancelled: visit, line.
pub async fn register_orders(
    db: &Db,
    day: &str,
    kind: &str,
) -> Result<Vec<(i64, String)>, DbError> {
    let rows = sqlx::query(
        "SELECT o.visit_id, o.display FROM orders o WHERE o.kind = $2 \
         AND o.state <> 'cancelled' AND o.visit_id IN (SELECT e.visit_id FROM encounters e \
         WHERE e.state = 'signed' AND e.visit_day = $1) ORDER BY o.visit_id, o.id",
    )
    .bind(day)
    .bind(kind)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
