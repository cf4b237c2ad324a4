//! SQL of vital signs: a set is inserted once and never edited; marking it entered in error is
//! the one guarded update.

use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::{PatientId, VisitId, VitalsId};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// The columns every read of a set takes, in the order of [`vitals_of`].
macro_rules! vitals_columns {
    () => {
        "s.id, s.patient_id, s.visit_id, s.age_days, s.temperature_dc, s.pulse, s.resp_rate, \
         s.systolic, s.diastolic, s.spo2, s.weight_g, s.height_mm, s.muac_mm, s.pain, \
         s.pregnant, s.lmp, s.danger_signs, s.triage_category, s.note, s.flags, s.worst, \
         s.checked, s.recorded_at, u.full_name, s.error_at, s.error_reason"
    };
}

/// The tables every read of a set joins (the recorder's name).
macro_rules! vitals_from {
    () => {
        " FROM vital_signs s LEFT JOIN users u ON u.id = s.recorded_by "
    };
}

/// A set as stored.
#[derive(Debug, Clone)]
pub struct VitalsRow {
    pub id: VitalsId,
    pub patient_id: PatientId,
    pub visit_id: Option<VisitId>,
    pub age_days: Option<i64>,
    pub temperature_dc: Option<i64>,
    pub pulse: Option<i64>,
    pub resp_rate: Option<i64>,
    pub systolic: Option<i64>,
    pub diastolic: Option<i64>,
    pub spo2: Option<i64>,
    pub weight_g: Option<i64>,
    pub height_mm: Option<i64>,
    pub muac_mm: Option<i64>,
    pub pain: Option<i64>,
    pub pregnant: Option<i64>,
    pub lmp: Option<String>,
    pub danger_signs: String,
    pub triage_category: Option<String>,
    pub note: Option<String>,
    pub flags: String,
    pub worst: String,
    pub checked: String,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
    pub error_at: Option<String>,
    pub error_reason: Option<String>,
}

fn vitals_of(r: &AnyRow) -> VitalsRow {
    VitalsRow {
        id: r.get(0),
        patient_id: r.get(1),
        visit_id: r.get(2),
        age_days: r.get(3),
        temperature_dc: r.get(4),
        pulse: r.get(5),
        resp_rate: r.get(6),
        systolic: r.get(7),
        diastolic: r.get(8),
        spo2: r.get(9),
        weight_g: r.get(10),
        height_mm: r.get(11),
        muac_mm: r.get(12),
        pain: r.get(13),
        pregnant: r.get(14),
        lmp: r.get(15),
        danger_signs: r.get(16),
        triage_category: r.get(17),
        note: r.get(18),
        flags: r.get(19),
        worst: r.get(20),
        checked: r.get(21),
        recorded_at: r.get(22),
        recorded_by: r.get(23),
        error_at: r.get(24),
        error_reason: r.get(25),
    }
}

/// A set to insert (values in stored units).
pub struct NewVitals<'a> {
    pub patient_id: PatientId,
    pub visit_id: VisitId,
    pub age_days: Option<i64>,
    pub values: [Option<i64>; 10],
    pub pregnant: Option<bool>,
    pub lmp: Option<String>,
    pub danger_signs: &'a str,
    pub triage_category: &'a str,
    pub note: Option<&'a str>,
    pub flags: &'a str,
    pub worst: &'a str,
    pub checked: &'a str,
    pub recorded_by: Option<i64>,
    pub recorded_at: &'a str,
}

/// Inserts a set; its id.
pub async fn insert(tx: &mut Tx, v: &NewVitals<'_>) -> Result<VitalsId, DbError> {
    let [t, p, rr, sys, dia, spo2, w, h, muac, pain] = v.values;
    Ok(sqlx::query(
        "INSERT INTO vital_signs (patient_id, visit_id, age_days, temperature_dc, pulse, \
         resp_rate, systolic, diastolic, spo2, weight_g, height_mm, muac_mm, pain, pregnant, lmp, \
         danger_signs, triage_category, note, flags, worst, checked, recorded_by, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23) RETURNING id",
    )
    .bind(v.patient_id)
    .bind(v.visit_id)
    .bind(v.age_days)
    .bind(t)
    .bind(p)
    .bind(rr)
    .bind(sys)
    .bind(dia)
    .bind(spo2)
    .bind(w)
    .bind(h)
    .bind(muac)
    .bind(pain)
    .bind(v.pregnant.map(i64::from))
    .bind(v.lmp.as_deref())
    .bind(v.danger_signs)
    .bind(v.triage_category)
    .bind(v.note)
    .bind(v.flags)
    .bind(v.worst)
    .bind(v.checked)
    .bind(v.recorded_by)
    .bind(v.recorded_at)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// A set by id.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: VitalsId,
) -> Result<Option<VitalsRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        vitals_columns!(),
        vitals_from!(),
        "WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(vitals_of))
}

/// The sets of a visit, newest first (those entered in error too).
pub async fn of_visit(db: &Db, visit: VisitId) -> Result<Vec<VitalsRow>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        vitals_columns!(),
        vitals_from!(),
        "WHERE s.visit_id = $1 ORDER BY s.recorded_at DESC, s.id DESC LIMIT 50"
    ))
    .bind(visit)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(vitals_of).collect())
}

/// The latest set of a patient that is not entered in error.
pub async fn latest_of_patient(db: &Db, patient: PatientId) -> Result<Option<VitalsRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        vitals_columns!(),
        vitals_from!(),
        "WHERE s.patient_id = $1 AND s.error_at IS NULL \
         ORDER BY s.recorded_at DESC, s.id DESC LIMIT 1"
    ))
    .bind(patient)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(vitals_of))
}

/// The newest `limit` sets of one patient record, newest first (those entered in error too).
pub async fn of_patient(
    db: &Db,
    patient: PatientId,
    limit: i64,
) -> Result<Vec<VitalsRow>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        vitals_columns!(),
        vitals_from!(),
        "WHERE s.patient_id = $1 ORDER BY s.recorded_at DESC, s.id DESC LIMIT CAST($2 AS BIGINT)"
    ))
    .bind(patient)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(vitals_of).collect())
}

/// Marks a set entered in error, once (guarded): false when it already was.
pub async fn mark_error(
    tx: &mut Tx,
    id: VitalsId,
    by: Option<i64>,
    reason: &str,
    now: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE vital_signs SET error_at = $2, error_by = $3, error_reason = $4 \
         WHERE id = $1 AND error_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .bind(by)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Critical sets recorded since `since` (RFC 3339) and not entered in error, newest first:
/// how many, and the newest `limit`.
pub async fn critical_since(
    db: &Db,
    since: &str,
    limit: i64,
) -> Result<(i64, Vec<VitalsRow>), DbError> {
    let count: i64 = sqlx::query(
        "SELECT COUNT(*) FROM vital_signs \
         WHERE worst = 'critical' AND recorded_at >= $1 AND error_at IS NULL",
    )
    .bind(since)
    .fetch_one(db.read())
    .await?
    .get(0);
    let rows = sqlx::query(concat!(
        "SELECT ",
        vitals_columns!(),
        vitals_from!(),
        "WHERE s.worst = 'critical' AND s.recorded_at >= $1 AND s.error_at IS NULL \
         ORDER BY s.recorded_at DESC, s.id DESC LIMIT CAST($2 AS BIGINT)"
    ))
    .bind(since)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok((count, rows.iter().map(vitals_of).collect()))
}
