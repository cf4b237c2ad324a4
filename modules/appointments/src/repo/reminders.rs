//! Reminders: which bookings of a day are due one, and the guarded update that lets exactly one
//! run of the reminder job (of several, on several app servers) queue each.

use hms_core::db::{Db, DbError, Tx};
use sqlx::Row;

/// Booked appointments on `day` (YYYY-MM-DD) still without a reminder whose patient (or the
/// record it was merged into) is active, has an email address and agreed to be contacted: ids
/// above `after`, in id order, at most `limit`.
pub async fn due(db: &Db, day: &str, after: i64, limit: i64) -> Result<Vec<i64>, DbError> {
    Ok(sqlx::query(
        "SELECT a.id FROM appointments a \
         JOIN patients p0 ON p0.id = a.patient_id \
         JOIN patients p ON p.id = COALESCE(p0.merged_into, p0.id) \
         WHERE a.day = $1 AND a.status = 'booked' AND a.reminder_queued_at IS NULL \
         AND p.consent_contact = 1 AND p.is_active = 1 \
         AND p.email IS NOT NULL AND p.email <> '' AND a.id > $2 \
         ORDER BY a.id LIMIT CAST($3 AS BIGINT)",
    )
    .bind(day)
    .bind(after)
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| r.get(0))
    .collect())
}

/// What a reminder needs, read under the claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub patient_id: i64,
    pub day: String,
    pub start_minute: Option<i64>,
    pub clinic: String,
    email: Option<String>,
    consent: bool,
    active: bool,
}

impl Claimed {
    /// The address to write to, while the patient still agrees to be contacted.
    pub fn email_to(&self) -> Option<&str> {
        self.email
            .as_deref()
            .map(str::trim)
            .filter(|e| self.consent && self.active && !e.is_empty())
    }
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
        "SELECT a.patient_id, a.day, a.start_minute, c.name, p.email, p.consent_contact, \
         p.is_active FROM appointments a JOIN clinics c ON c.id = a.clinic_id \
         JOIN patients p0 ON p0.id = a.patient_id \
         JOIN patients p ON p.id = COALESCE(p0.merged_into, p0.id) WHERE a.id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some(Claimed {
        patient_id: r.get(0),
        day: r.get(1),
        start_minute: r.get(2),
        clinic: r.get(3),
        email: r.get(4),
        consent: r.get::<i64, _>(5) == 1,
        active: r.get::<i64, _>(6) == 1,
    }))
}

#[cfg(test)]
impl Claimed {
    pub fn for_test(patient_id: i64, day: &str, start_minute: Option<i64>, clinic: &str) -> Self {
        Self {
            patient_id,
            day: day.into(),
            start_minute,
            clinic: clinic.into(),
            email: Some("patient@example.co.ke".into()),
            consent: true,
            active: true,
        }
    }
}
