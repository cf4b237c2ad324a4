//! SQL of the demo history: rows written as they would have been by the desks over the days,
//! without the checks a live booking makes (the generator only makes valid ones).

use hms_core::db::{DbError, Tx};
use sqlx::Row;

/// An appointment of the history.
pub struct PastAppointment<'a> {
    pub patient_id: i64,
    pub clinic_id: i64,
    pub clinician_id: Option<i64>,
    pub day: &'a str,
    pub start_minute: Option<i64>,
    pub status: &'a str,
    pub created_by: Option<i64>,
    pub at: &'a str,
}

pub async fn appointment(tx: &mut Tx, a: &PastAppointment<'_>) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO appointments (patient_id, clinic_id, clinician_id, day, start_minute, status, \
         cancel_reason, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(a.patient_id)
    .bind(a.clinic_id)
    .bind(a.clinician_id)
    .bind(a.day)
    .bind(a.start_minute)
    .bind(a.status)
    .bind((a.status == "cancelled").then_some("Patient asked to come another day"))
    .bind(a.created_by)
    .bind(a.at)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// Places taken on a clinic day.
pub async fn day_places(tx: &mut Tx, clinic: i64, day: &str, booked: i64) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO clinic_day_bookings (clinic_id, day, booked) VALUES ($1, $2, $3) \
         ON CONFLICT (clinic_id, day) DO UPDATE SET booked = clinic_day_bookings.booked + $3",
    )
    .bind(clinic)
    .bind(day)
    .bind(booked)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A finished visit of the history.
pub struct PastVisit<'a> {
    pub patient_id: i64,
    pub appointment_id: Option<i64>,
    pub day: &'a str,
    pub token: i64,
    pub payer: &'a str,
    pub checked_in_by: Option<i64>,
    pub checked_in_at: &'a str,
    pub closed_at: &'a str,
}

pub async fn visit(tx: &mut Tx, v: &PastVisit<'_>) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO visits (patient_id, appointment_id, day, token, payer, status, checked_in_by, \
         checked_in_at, closed_at) VALUES ($1, $2, $3, $4, $5, 'completed', $6, $7, $8) RETURNING id",
    )
    .bind(v.patient_id)
    .bind(v.appointment_id)
    .bind(v.day)
    .bind(v.token)
    .bind(v.payer)
    .bind(v.checked_in_by)
    .bind(v.checked_in_at)
    .bind(v.closed_at)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// A queue entry that was served and finished: (enqueued, called, served, done) times.
pub async fn served_entry(
    tx: &mut Tx,
    visit: i64,
    point: i64,
    times: [&str; 4],
    by: Option<i64>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO queue_entries (visit_id, service_point_id, state, priority, enqueued_at, \
         called_at, called_by, served_at, served_by, done_at, done_by) \
         VALUES ($1, $2, 'done', 0, $3, $4, $7, $5, $7, $6, $7)",
    )
    .bind(visit)
    .bind(point)
    .bind(times[0])
    .bind(times[1])
    .bind(times[2])
    .bind(times[3])
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The day's token counter, where check-in continues.
pub async fn tokens_used(tx: &mut Tx, day: &str, last: i64) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO visit_tokens (day, next_token) VALUES ($1, $2) \
         ON CONFLICT (facility_id, day) DO UPDATE SET next_token = $2",
    )
    .bind(day)
    .bind(last)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Each visited patient's last visit day, after the history is written (the patients module
/// records it through its api).
pub async fn last_visit_days(tx: &mut Tx) -> Result<Vec<(i64, String)>, DbError> {
    Ok(
        sqlx::query("SELECT patient_id, MAX(day) FROM visits GROUP BY patient_id")
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect(),
    )
}

/// Whether any appointment is stored (the history is written once, into a facility without).
pub async fn any_appointments(tx: &mut Tx) -> Result<bool, DbError> {
    Ok(sqlx::query("SELECT 1 FROM appointments LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}
