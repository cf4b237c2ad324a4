//! Bookings: a time slot with a clinician (one active booking per slot, kept by a partial
//! unique index) or a clinic day (a per-day counter raised by a guarded update that stops at the
//! capacity). Both are safe when many desks book the same slot or the last place at once.

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::PatientId;
use hms_patients::api as patients;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// Someone booked this slot a moment ago.
    #[error("slot taken")]
    Taken,
    /// The clinic day has no place left.
    #[error("clinic day full")]
    Full,
    /// The patient already has an active booking at this clinic that day.
    #[error("already booked")]
    AlreadyBooked,
    /// The booking is no longer in the state the action needs (cancelled meanwhile...).
    #[error("changed meanwhile")]
    Stale,
}

impl From<sqlx::Error> for BookError {
    fn from(e: sqlx::Error) -> Self {
        match DbError::from(e) {
            DbError::Unique { .. } => BookError::Taken,
            e => BookError::Db(e),
        }
    }
}

/// What is booked.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub patient_id: PatientId,
    pub clinic_id: i64,
    /// With a clinician at `start_minute`, or a clinic day (both None).
    pub clinician_id: Option<i64>,
    pub day: String,
    pub start_minute: Option<i64>,
    pub reason: Option<String>,
    /// For a clinic day: its capacity.
    #[serde(skip)]
    pub capacity: i64,
    pub rescheduled_from: Option<i64>,
}

/// Books; returns the appointment id.
pub async fn book(tx: &mut Tx, r: &Request, actor: &Actor) -> Result<i64, BookError> {
    let same_day = sqlx::query(
        "SELECT 1 FROM appointments WHERE patient_id = $1 AND clinic_id = $2 AND day = $3 \
         AND status IN ('booked', 'arrived')",
    )
    .bind(r.patient_id)
    .bind(r.clinic_id)
    .bind(&r.day)
    .fetch_optional(&mut **tx)
    .await?;
    if same_day.is_some() {
        return Err(BookError::AlreadyBooked);
    }
    if r.start_minute.is_none() {
        sqlx::query(
            "INSERT INTO clinic_day_bookings (clinic_id, day, booked) VALUES ($1, $2, 0) \
             ON CONFLICT DO NOTHING",
        )
        .bind(r.clinic_id)
        .bind(&r.day)
        .execute(&mut **tx)
        .await?;
        let raised = sqlx::query(
            "UPDATE clinic_day_bookings SET booked = booked + 1 \
             WHERE clinic_id = $1 AND day = $2 AND booked < $3",
        )
        .bind(r.clinic_id)
        .bind(&r.day)
        .bind(r.capacity)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if raised != 1 {
            return Err(BookError::Full);
        }
    }
    let now = clock::now_rfc3339();
    let id: i64 = sqlx::query(
        "INSERT INTO appointments (patient_id, clinic_id, clinician_id, day, start_minute, status, \
         reason, rescheduled_from, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'booked', $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(r.patient_id)
    .bind(r.clinic_id)
    .bind(r.clinician_id)
    .bind(&r.day)
    .bind(r.start_minute)
    .bind(&r.reason)
    .bind(r.rescheduled_from)
    .bind(actor.user_id)
    .bind(&now)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    audit::record(
        tx,
        actor,
        Event::new("appointment.book", "appointment", Some(id))
            .patient(r.patient_id.get())
            .detail(json!({"after": r})),
    )
    .await?;
    Ok(id)
}

/// Ends a booking that is still `booked`: cancelled (with a reason) or a no-show. A cancelled
/// clinic-day booking gives its place back.
pub async fn close(
    tx: &mut Tx,
    id: i64,
    status: &str,
    reason: Option<&str>,
    actor: &Actor,
) -> Result<(), BookError> {
    let Some(r) = sqlx::query(
        "UPDATE appointments SET status = $1, cancel_reason = $2, updated_at = $3 \
         WHERE id = $4 AND status = 'booked' RETURNING patient_id, clinic_id, day, start_minute",
    )
    .bind(status)
    .bind(reason)
    .bind(clock::now_rfc3339())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Err(BookError::Stale);
    };
    let (patient, clinic, day): (i64, i64, String) = (r.get(0), r.get(1), r.get(2));
    if status == "cancelled" && r.get::<Option<i64>, _>(3).is_none() {
        sqlx::query(
            "UPDATE clinic_day_bookings SET booked = booked - 1 \
             WHERE clinic_id = $1 AND day = $2 AND booked > 0",
        )
        .bind(clinic)
        .bind(&day)
        .execute(&mut **tx)
        .await?;
    }
    audit::record(
        tx,
        actor,
        Event::new("appointment.status", "appointment", Some(id))
            .patient(patient)
            .detail(json!({"before": "booked", "after": status, "reason": reason})),
    )
    .await?;
    Ok(())
}

/// Slot starts already taken for a clinician from `from` to `to` (both included), as
/// (day, minute).
pub async fn taken_between(
    db: &Db,
    clinician: i64,
    from: &str,
    to: &str,
) -> Result<Vec<(String, u32)>, DbError> {
    Ok(sqlx::query(
        "SELECT day, start_minute FROM appointments WHERE clinician_id = $1 AND day >= $2 \
         AND day <= $3 AND status IN ('booked', 'arrived') AND start_minute IS NOT NULL",
    )
    .bind(clinician)
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .filter_map(|r| Some((r.get(0), u32::try_from(r.get::<i64, _>(1)).ok()?)))
    .collect())
}

/// Places already taken on a clinic's days from `from` to `to` (both included), as (day, places).
pub async fn day_booked_between(
    db: &Db,
    clinic: i64,
    from: &str,
    to: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    Ok(sqlx::query(
        "SELECT day, booked FROM clinic_day_bookings WHERE clinic_id = $1 AND day >= $2 AND day <= $3",
    )
    .bind(clinic)
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// A booking as lists show it.
#[derive(Debug, Clone, Serialize)]
pub struct Booked {
    pub id: i64,
    pub day: String,
    pub start_minute: Option<i64>,
    pub status: String,
    pub reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub clinic_id: i64,
    pub clinic: String,
    pub clinician_id: Option<i64>,
    pub clinician: Option<String>,
    pub patient_id: PatientId,
    pub number: String,
    pub name: String,
    pub phone: Option<String>,
}

/// The SELECT and joins `booked_at` reads.
macro_rules! booked_select {
    () => {
        "SELECT a.id, a.day, a.start_minute, a.status, a.reason, a.cancel_reason, a.clinic_id, \
         c.name, a.clinician_id, u.full_name, a.patient_id FROM appointments a \
         JOIN clinics c ON c.id = a.clinic_id LEFT JOIN users u ON u.id = a.clinician_id"
    };
}

/// A booking as stored; the patient's number, name and phone come from the patients module.
fn booked_at(r: &sqlx::any::AnyRow) -> Booked {
    Booked {
        id: r.get(0),
        day: r.get(1),
        start_minute: r.get(2),
        status: r.get(3),
        reason: r.get(4),
        cancel_reason: r.get(5),
        clinic_id: r.get(6),
        clinic: r.get(7),
        clinician_id: r.get(8),
        clinician: r.get(9),
        patient_id: r.get(10),
        number: String::new(),
        name: String::new(),
        phone: None,
    }
}

/// Fills in each booking's patient (number, name, phone) through the patients module's api,
/// in batches for the whole list.
async fn with_patients(db: &Db, mut rows: Vec<Booked>) -> Result<Vec<Booked>, DbError> {
    let ids: Vec<PatientId> = rows.iter().map(|b| b.patient_id).collect();
    let cards = patients::cards(db, &ids).await?;
    let contacts = patients::contacts(db, &ids).await?;
    for b in &mut rows {
        let id = b.patient_id;
        if let Some(card) = cards.iter().find(|c| c.id == id) {
            b.number = card.number.clone();
            b.name = card.full_name.clone();
        }
        b.phone = contacts
            .iter()
            .find(|(p, _)| *p == id)
            .and_then(|(_, c)| c.phone.clone());
    }
    Ok(rows)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Booked>, DbError> {
    let row = sqlx::query(concat!(booked_select!(), " WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .as_ref()
        .map(booked_at);
    Ok(with_patients(db, row.into_iter().collect()).await?.pop())
}

/// Bookings from `from` to `to` (inclusive), optionally of one clinic and/or clinician, in time
/// order; at most `limit`.
pub async fn between(
    db: &Db,
    from: &str,
    to: &str,
    clinic: Option<i64>,
    clinician: Option<i64>,
    limit: i64,
) -> Result<Vec<Booked>, DbError> {
    let rows = sqlx::query(concat!(
        booked_select!(),
        " WHERE a.day >= $1 AND a.day <= $2 \
         AND ($3 = 0 OR a.clinic_id = $3) AND ($4 = 0 OR a.clinician_id = $4) \
         ORDER BY a.day, COALESCE(a.start_minute, -1), c.name, a.id LIMIT CAST($5 AS BIGINT)"
    ))
    .bind(from)
    .bind(to)
    .bind(clinic.unwrap_or(0))
    .bind(clinician.unwrap_or(0))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(booked_at)
    .collect();
    with_patients(db, rows).await
}

/// Patients who did not come: marked no-show, or still "booked" on a day that has passed
/// (`before` is today), newest first; for follow-up ("defaulter tracing").
pub async fn missed(
    db: &Db,
    from: &str,
    to: &str,
    before: &str,
    clinic: Option<i64>,
    limit: i64,
) -> Result<Vec<Booked>, DbError> {
    let rows = sqlx::query(concat!(
        booked_select!(),
        " WHERE a.day >= $1 AND a.day <= $2 AND ($3 = 0 OR a.clinic_id = $3) \
         AND (a.status = 'no_show' OR (a.status = 'booked' AND a.day < $4)) \
         ORDER BY a.day DESC, c.name, a.id LIMIT CAST($5 AS BIGINT)"
    ))
    .bind(from)
    .bind(to)
    .bind(clinic.unwrap_or(0))
    .bind(before)
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(booked_at)
    .collect();
    with_patients(db, rows).await
}

/// Today's figures for the reception card: (booked, arrived, no-shows).
pub async fn day_counts(db: &Db, day: &str) -> Result<(i64, i64, i64), DbError> {
    let r = sqlx::query(
        "SELECT \
           COALESCE(SUM(CASE WHEN status IN ('booked', 'arrived') THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN status = 'arrived' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN status = 'no_show' THEN 1 ELSE 0 END), 0) \
         FROM appointments WHERE day = $1",
    )
    .bind(day)
    .fetch_one(db.read())
    .await?;
    Ok((r.get(0), r.get(1), r.get(2)))
}
