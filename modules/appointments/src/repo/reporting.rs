//! SQL of the appointments module's reporting contract, on its own tables only: attendances
//! over a range of days (index `visits_day`), whether each was the patient's first of the year
//! (index `visits_patient`), bookings kept and missed (index `appointments_day`), and a patient's
//! visits and appointments for the export and the chart panel.

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::FigureSource;
use sqlx::Row;

/// True when an earlier visit of the same patient falls in the same calendar year (same day:
/// an earlier check-in). Used as `CASE WHEN <this> ...` on visits aliased `v`.
macro_rules! seen_this_year {
    () => {
        "EXISTS (SELECT 1 FROM visits e WHERE e.patient_id = v.patient_id \
           AND e.day >= (substr(v.day, 1, 4) || '-01-01') \
           AND (e.day < v.day OR (e.day = v.day AND e.id < v.id)))"
    };
}

/// Visits on the days `$1..=$2`: (all, first attendances of the year).
pub async fn attendance_counts(db: &Db, from: Day, to: Day) -> Result<(i64, i64), DbError> {
    let r = sqlx::query(concat!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN ",
        seen_this_year!(),
        " THEN 0 ELSE 1 END), 0) AS BIGINT) FROM visits v WHERE v.day >= $1 AND v.day <= $2"
    ))
    .bind(from)
    .bind(to)
    .fetch_one(db.read())
    .await?;
    Ok((r.get(0), r.get(1)))
}

/// Which visits of the days `$1..=$2` to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attendances {
    All,
    First,
    Repeat,
}

/// The visits behind an attendance figure, in day and check-in order.
pub async fn attendance_sources(
    db: &Db,
    from: Day,
    to: Day,
    which: Attendances,
) -> Result<Vec<FigureSource>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT v.id, v.patient_id, v.day, CASE WHEN ",
        seen_this_year!(),
        " THEN 1 ELSE 0 END FROM visits v WHERE v.day >= $1 AND v.day <= $2 ORDER BY v.day, v.id"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .filter(|r| match which {
            Attendances::All => true,
            Attendances::First => r.get::<i64, _>(3) == 0,
            Attendances::Repeat => r.get::<i64, _>(3) == 1,
        })
        .map(|r| FigureSource {
            patient: r.get(1),
            visit: Some(r.get(0)),
            record: r.get(0),
            day: r.get(2),
        })
        .collect())
}

/// A booking's status as reported: kept (the patient arrived) or missed (marked no-show, or
/// still booked on a day before `today`).
macro_rules! booking_where {
    () => {
        " FROM appointments a WHERE a.day >= $1 AND a.day <= $2 AND ( \
           ($3 = 'kept' AND a.status = 'arrived') \
           OR ($3 = 'missed' AND (a.status = 'no_show' OR (a.status = 'booked' AND a.day < $4))))"
    };
}

pub async fn booking_count(
    db: &Db,
    (from, to): (Day, Day),
    kind: &str,
    today: Day,
) -> Result<i64, DbError> {
    Ok(sqlx::query(concat!("SELECT COUNT(*)", booking_where!()))
        .bind(from)
        .bind(to)
        .bind(kind)
        .bind(today)
        .fetch_one(db.read())
        .await?
        .get(0))
}

/// The bookings behind a kept or missed figure, with the visit of a kept one.
pub async fn booking_sources(
    db: &Db,
    (from, to): (Day, Day),
    kind: &str,
    today: Day,
) -> Result<Vec<FigureSource>, DbError> {
    Ok(sqlx::query(concat!(
        "SELECT a.id, a.patient_id, a.day, (SELECT v.id FROM visits v WHERE v.appointment_id = a.id)",
        booking_where!(),
        " ORDER BY a.day, a.id"
    ))
    .bind(from)
    .bind(to)
    .bind(kind)
    .bind(today)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| FigureSource {
        patient: r.get(1),
        visit: r.get::<Option<VisitId>, _>(3),
        record: r.get(0),
        day: r.get(2),
    })
    .collect())
}

/// A visit's payer and the service points that served it: (payer, [(code, name, served at)]).
pub async fn visit_facts(
    db: &Db,
    visit: VisitId,
) -> Result<Option<(String, Vec<(String, String, Option<String>)>)>, DbError> {
    let Some(payer) = sqlx::query("SELECT payer FROM visits WHERE id = $1")
        .bind(visit)
        .fetch_optional(db.read())
        .await?
    else {
        return Ok(None);
    };
    let points = sqlx::query(
        "SELECT s.code, s.name, e.served_at FROM queue_entries e \
         JOIN service_points s ON s.id = e.service_point_id \
         WHERE e.visit_id = $1 AND e.served_at IS NOT NULL ORDER BY e.id",
    )
    .bind(visit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        let code: String = r.get(0);
        let name = super::queue::seeded_in_language(&code, "name", r.get(1));
        (code, name, r.get(2))
    })
    .collect();
    Ok(Some((payer.get(0), points)))
}

/// A visit as the export and the chart panel show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VisitRow {
    pub id: VisitId,
    pub patient_id: PatientId,
    pub day: Day,
    pub token: i64,
    pub payer: String,
    pub status: String,
    pub checked_in_at: String,
    pub closed_at: Option<String>,
}

/// A patient record's visits, newest first, at most `limit`.
pub async fn visits_of(db: &Db, patient: PatientId, limit: i64) -> Result<Vec<VisitRow>, DbError> {
    Ok(sqlx::query(
        "SELECT id, patient_id, day, token, payer, status, checked_in_at, closed_at FROM visits \
         WHERE patient_id = $1 ORDER BY day DESC, id DESC LIMIT CAST($2 AS BIGINT)",
    )
    .bind(patient)
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| VisitRow {
        id: r.get(0),
        patient_id: r.get(1),
        day: r.get(2),
        token: r.get(3),
        payer: r.get(4),
        status: r.get(5),
        checked_in_at: r.get(6),
        closed_at: r.get(7),
    })
    .collect())
}

/// An appointment as the export and the chart panel show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppointmentRow {
    pub id: i64,
    pub patient_id: PatientId,
    pub day: Day,
    pub start_minute: Option<i64>,
    pub clinic: String,
    pub clinician: Option<String>,
    pub status: String,
    pub reason: Option<String>,
}

/// A patient record's appointments on or after `from` (all of them when `None`), soonest
/// first, at most `limit`; with `to_come`, only those still booked or arrived.
pub async fn appointments_of(
    db: &Db,
    patient: PatientId,
    (from, to_come): (Option<Day>, bool),
    limit: i64,
) -> Result<Vec<AppointmentRow>, DbError> {
    Ok(sqlx::query(
        "SELECT a.id, a.patient_id, a.day, a.start_minute, c.name, u.full_name, a.status, a.reason \
         FROM appointments a JOIN clinics c ON c.id = a.clinic_id \
         LEFT JOIN users u ON u.id = a.clinician_id \
         WHERE a.patient_id = $1 AND a.day >= $2 \
           AND ($4 = 0 OR a.status IN ('booked', 'arrived')) \
         ORDER BY a.day, COALESCE(a.start_minute, -1), a.id LIMIT CAST($3 AS BIGINT)",
    )
    .bind(patient)
    .bind(from.map_or_else(|| "0000-00-00".to_string(), |d| d.text()))
    .bind(limit)
    .bind(i64::from(to_come))
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| AppointmentRow {
        id: r.get(0),
        patient_id: r.get(1),
        day: r.get(2),
        start_minute: r.get(3),
        clinic: r.get(4),
        clinician: r.get(5),
        status: r.get(6),
        reason: r.get(7),
    })
    .collect())
}
