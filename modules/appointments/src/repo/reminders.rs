//! Reminders: which bookings of a day are due one, and the guarded update that lets exactly one
//! run of the reminder job (of several, on several app servers) queue each. Whether the patient
//! may be written to is the patients module's answer (`hms_patients::api::contact_in`).

use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::PatientId;
use sqlx::Row;

/// Booked appointments on `day` still without a reminder, as (appointment, patient): ids above
/// `after`, in id order, at most `limit`.
pub async fn due(
    db: &Db,
    day: Day,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, PatientId)>, DbError> {
    Ok(sqlx::query(
        "SELECT a.id, a.patient_id FROM appointments a \
         WHERE a.day = $1 AND a.status = 'booked' AND a.reminder_queued_at IS NULL \
         AND a.id > $2 ORDER BY a.id LIMIT CAST($3 AS BIGINT)",
    )
    .bind(day)
    .bind(after)
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// What a reminder needs of the appointment, read under the claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub patient_id: PatientId,
    pub day: Day,
    pub start_minute: Option<i64>,
    pub clinic: String,
}

/// Claims the appointment's reminder inside `tx`: sets `reminder_queued_at` only while the
/// booking is still `booked` and has no reminder, checked for one row. `None` when another run
/// or server got there first, or the booking changed meanwhile: then nothing else is to be done.
pub async fn claim(tx: &mut Tx, id: i64, now: &str) -> Result<Option<Claimed>, DbError> {
    let done = sqlx::query(
        "UPDATE appointments SET reminder_queued_at = $1 \
         WHERE id = $2 AND status = 'booked' AND reminder_queued_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    let r = sqlx::query(
        "SELECT a.patient_id, a.day, a.start_minute, c.name FROM appointments a \
         JOIN clinics c ON c.id = a.clinic_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some(Claimed {
        patient_id: r.get(0),
        day: r.get(1),
        start_minute: r.get(2),
        clinic: r.get(3),
    }))
}
