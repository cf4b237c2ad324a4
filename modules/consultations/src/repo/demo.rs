//! Storage of the demo history: past visits read in pages, and their vitals, signed notes,
//! diagnoses and orders written one row each (inside the caller's transaction per page).

use hms_core::db::{Db, DbError, Tx};
use sqlx::Row;

/// A past visit that went through consultation, with what the demo needs of its patient and
/// route.
pub struct PastVisit {
    pub id: i64,
    pub patient_id: i64,
    pub day: String,
    pub date_of_birth: String,
    /// When triage and the consultation were served and done (RFC 3339).
    pub triaged_at: Option<String>,
    pub consulted_at: String,
    pub consulted_until: String,
    pub doctor: Option<i64>,
    /// Whether the visit went on to the laboratory and the pharmacy.
    pub lab: bool,
    pub pharmacy: bool,
}

/// Whether notes exist already (the history is written once).
pub async fn any_encounters(db: &Db) -> Result<bool, DbError> {
    Ok(sqlx::query("SELECT 1 FROM encounters LIMIT 1")
        .fetch_optional(db.read())
        .await?
        .is_some())
}

/// Completed visits with a served consultation, ids above `after`, at most `limit`, by id.
pub async fn past_visits(db: &Db, after: i64, limit: i64) -> Result<Vec<PastVisit>, DbError> {
    let rows = sqlx::query(
        "SELECT v.id, v.patient_id, v.day, p.date_of_birth, \
           (SELECT t.served_at FROM queue_entries t JOIN service_points tp ON tp.id = t.service_point_id \
             WHERE t.visit_id = v.id AND tp.code = 'triage' LIMIT 1), \
           c.served_at, c.done_at, c.served_by, \
           (SELECT COUNT(*) FROM queue_entries l JOIN service_points lp ON lp.id = l.service_point_id \
             WHERE l.visit_id = v.id AND lp.code = 'laboratory'), \
           (SELECT COUNT(*) FROM queue_entries f JOIN service_points fp ON fp.id = f.service_point_id \
             WHERE f.visit_id = v.id AND fp.code = 'pharmacy') \
         FROM visits v \
         JOIN patients p ON p.id = v.patient_id \
         JOIN queue_entries c ON c.visit_id = v.id \
         JOIN service_points cp ON cp.id = c.service_point_id AND cp.code = 'consultation' \
         WHERE v.id > $1 AND v.status = 'completed' AND c.served_at IS NOT NULL \
         ORDER BY v.id LIMIT CAST($2 AS BIGINT)",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| PastVisit {
            id: r.get(0),
            patient_id: r.get(1),
            day: r.get(2),
            date_of_birth: r.get(3),
            triaged_at: r.get(4),
            consulted_at: r.get(5),
            consulted_until: r.get::<Option<String>, _>(6).unwrap_or_else(|| r.get(5)),
            doctor: r.get(7),
            lab: r.get::<i64, _>(8) > 0,
            pharmacy: r.get::<i64, _>(9) > 0,
        })
        .collect())
}

/// One vital-signs set, as integers (0.1 °C, beats and breaths a minute, mmHg, %, g, mm).
pub struct DemoVitals {
    pub temperature_dc: i64,
    pub pulse: i64,
    pub resp_rate: i64,
    pub blood_pressure: Option<(i64, i64)>,
    pub spo2: i64,
    pub weight_g: i64,
    pub height_mm: Option<i64>,
    pub worst: &'static str,
}

pub async fn vitals(
    tx: &mut Tx,
    v: &PastVisit,
    age_days: i64,
    s: &DemoVitals,
    by: Option<i64>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO vital_signs (patient_id, visit_id, age_days, temperature_dc, pulse, \
         resp_rate, systolic, diastolic, spo2, weight_g, height_mm, triage_category, worst, \
         recorded_by, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         CASE WHEN $12 = 'normal' THEN 'queue' ELSE 'priority' END, $12, $13, $14)",
    )
    .bind(v.patient_id)
    .bind(v.id)
    .bind(age_days)
    .bind(s.temperature_dc)
    .bind(s.pulse)
    .bind(s.resp_rate)
    .bind(s.blood_pressure.map(|b| b.0))
    .bind(s.blood_pressure.map(|b| b.1))
    .bind(s.spo2)
    .bind(s.weight_g)
    .bind(s.height_mm)
    .bind(s.worst)
    .bind(by)
    .bind(v.triaged_at.as_deref().unwrap_or(&v.consulted_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The texts of a signed note.
pub struct DemoNote<'a> {
    pub complaint: &'a str,
    pub duration: &'a str,
    pub history: &'a str,
    pub examination: &'a str,
    pub assessment: &'a str,
    pub plan: &'a str,
}

/// A signed note of the visit; returns its id.
pub async fn signed_note(
    tx: &mut Tx,
    v: &PastVisit,
    doctor: i64,
    n: &DemoNote<'_>,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO encounters (patient_id, visit_id, visit_day, clinician_id, state, version, \
         complaint, complaint_duration, history, examination, assessment, plan, outcome, \
         started_at, updated_at, updated_by, signed_at, signed_by) \
         VALUES ($1, $2, $3, $4, 'signed', 3, $5, $6, $7, $8, $9, $10, 'home', $11, $12, $4, \
         $12, $4) RETURNING id",
    )
    .bind(v.patient_id)
    .bind(v.id)
    .bind(&v.day)
    .bind(doctor)
    .bind(n.complaint)
    .bind(n.duration)
    .bind(n.history)
    .bind(n.examination)
    .bind(n.assessment)
    .bind(n.plan)
    .bind(&v.consulted_at)
    .bind(&v.consulted_until)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// A diagnosis of a note, its MOH form and row already fixed (as signing fixes them).
pub struct DemoDiagnosis<'a> {
    pub code: &'a str,
    pub display: &'a str,
    pub icd10: Option<&'a str>,
    pub form: &'static str,
    pub row: Option<i64>,
}

pub async fn diagnosis(
    tx: &mut Tx,
    v: &PastVisit,
    encounter: i64,
    doctor: i64,
    d: &DemoDiagnosis<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO encounter_diagnoses (encounter_id, patient_id, visit_id, visit_day, \
         catalogue_code, display, icd10, certainty, moh_form, moh_row, added_by, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'final', $8, $9, $10, $11)",
    )
    .bind(encounter)
    .bind(v.patient_id)
    .bind(v.id)
    .bind(&v.day)
    .bind(d.code)
    .bind(d.display)
    .bind(d.icd10)
    .bind(d.form)
    .bind(d.row)
    .bind(doctor)
    .bind(&v.consulted_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An order the note placed, done along the visit's route (completed).
pub struct DemoOrder<'a> {
    pub kind: &'static str,
    pub display: &'a str,
    pub details: &'a str,
    pub quantity: i64,
    pub outcome: Option<&'a str>,
}

pub async fn completed_order(
    tx: &mut Tx,
    v: &PastVisit,
    encounter: i64,
    doctor: i64,
    o: &DemoOrder<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO orders (kind, patient_id, visit_id, placer_module, placer_ref, code, \
         free_text, display, details, quantity, quantity_done, state, outcome_summary, \
         outcome_flag, placed_by, placed_at, ended_at) \
         VALUES ($1, $2, $3, 'consultations', $4, NULL, $5, $5, $6, $7, $7, 'completed', $8, \
         $9, $10, $11, $12)",
    )
    .bind(o.kind)
    .bind(v.patient_id)
    .bind(v.id)
    .bind(format!("encounter:{encounter}"))
    .bind(o.display)
    .bind(o.details)
    .bind(o.quantity)
    .bind(o.outcome)
    .bind(o.outcome.map(|_| "normal"))
    .bind(doctor)
    .bind(&v.consulted_at)
    .bind(&v.consulted_until)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The catalogue's entry for each ICD-10 code asked for: (icd10, code, name, 705A row, 705B
/// row).
pub async fn catalogue_by_icd10(
    db: &Db,
) -> Result<Vec<(String, String, String, Option<i64>, Option<i64>)>, DbError> {
    Ok(sqlx::query(
        "SELECT icd10, code, name, moh705a_row, moh705b_row FROM diagnosis_catalogue \
         WHERE active = 1 AND icd10 IS NOT NULL ORDER BY id",
    )
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect())
}
