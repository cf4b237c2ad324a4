//! SQL of service points and of the screens over their queues (check-in, queue lists, the
//! waiting-room display). Visits and queue entries change in `visits.rs`.

use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::{PatientId, VisitId};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

// Column lists shared by the queries below (macros, so `concat!` makes one static string).
macro_rules! point_columns {
    () => {
        "id, code, name, room, CASE WHEN display_key_hash IS NULL THEN 0 ELSE 1 END"
    };
}
/// A service point as stored.
#[derive(Debug, Clone)]
pub struct PointRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub room: Option<String>,
    pub has_display: bool,
}

fn point_at(r: &AnyRow) -> PointRow {
    let code: String = r.get(1);
    let name: String = r.get(2);
    let room: Option<String> = r.get(3);
    PointRow {
        id: r.get(0),
        name: seeded_in_language(&code, "name", name),
        room: room.map(|room| seeded_in_language(&code, "room", room)),
        code,
        has_display: r.get::<i64, _>(4) == 1,
    }
}

/// A seeded point's name or room in the request's language; a name the facility gave stays as
/// it was written.
pub fn seeded_in_language(code: &str, part: &str, stored: String) -> String {
    let key = format!("appointments_points.{code}.{part}");
    if hms_core::i18n::has(&key) && hms_core::i18n::t_in("en", &key) == stored {
        hms_core::i18n::t(&key)
    } else {
        stored
    }
}

/// The active service points in their order.
pub async fn points(db: &Db) -> Result<Vec<PointRow>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        point_columns!(),
        " FROM service_points WHERE is_active = 1 ORDER BY sort_order, id"
    ))
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(point_at).collect())
}

/// An active service point by its code.
pub async fn point<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    code: &str,
) -> Result<Option<PointRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        point_columns!(),
        " FROM service_points WHERE code = $1 AND is_active = 1"
    ))
    .bind(code)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(point_at))
}

/// The service point whose display key hashes to `hash`.
pub async fn point_by_display_hash(db: &Db, hash: &str) -> Result<Option<PointRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        point_columns!(),
        " FROM service_points WHERE display_key_hash = $1 AND is_active = 1"
    ))
    .bind(hash)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(point_at))
}

/// Stores (or, with `None`, clears) the hash of a point's display key; the old key stops working.
pub async fn set_display_hash(
    tx: &mut Tx,
    point_id: i64,
    hash: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE service_points SET display_key_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(point_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The service point a visit was first sent to (where its slip says to go).
pub async fn first_entry_point(db: &Db, visit_id: VisitId) -> Result<Option<PointRow>, DbError> {
    let row = sqlx::query(
        "SELECT s.id, s.code, s.name, s.room, \
         CASE WHEN s.display_key_hash IS NULL THEN 0 ELSE 1 END \
         FROM queue_entries e JOIN service_points s ON s.id = e.service_point_id \
         WHERE e.visit_id = $1 ORDER BY e.id LIMIT 1",
    )
    .bind(visit_id)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(point_at))
}

/// Waiting entries per service point id: (point id, count, oldest enqueued_at).
pub async fn waiting_counts(db: &Db) -> Result<Vec<(i64, i64, Option<String>)>, DbError> {
    let rows = sqlx::query(
        "SELECT service_point_id, COUNT(*), MIN(enqueued_at) FROM queue_entries \
         WHERE state = 'waiting' GROUP BY service_point_id",
    )
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Check-in form and queue screens and the waiting-room display
// ---------------------------------------------------------------------------------------------

/// An appointment as check-in sees it: (patient, day, status, clinic name).
pub async fn appointment(
    db: &Db,
    id: i64,
) -> Result<Option<(PatientId, Day, String, String)>, DbError> {
    let row = sqlx::query(
        "SELECT a.patient_id, a.day, a.status, c.name FROM appointments a \
         JOIN clinics c ON c.id = a.clinic_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
}

/// Which of a patient's bookings of a day check-in marks arrived when none is named: the
/// earliest time, then a clinic day, then the first booked. (A `WHERE`/`ORDER BY` shared by
/// the check-in form and the check-in itself, so both pick the same one.)
macro_rules! booked_of_day {
    () => {
        "SELECT id FROM appointments WHERE patient_id = $1 AND day = $2 AND status = 'booked' \
         ORDER BY CASE WHEN start_minute IS NULL THEN 1 ELSE 0 END, start_minute, id LIMIT 1"
    };
}

/// The patient's booked appointment of `day` that a check-in would mark arrived, with its
/// clinic's name.
pub async fn booked_of_day(
    db: &Db,
    patient_id: PatientId,
    day: Day,
) -> Result<Option<(i64, String)>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT a.id, c.name FROM appointments a JOIN clinics c ON c.id = a.clinic_id \
         WHERE a.id = (",
        booked_of_day!(),
        ")"
    ))
    .bind(patient_id)
    .bind(day)
    .fetch_optional(db.read())
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Marks the patient's booked appointment of `day` arrived in one guarded statement; its id,
/// or `None` when the patient has no booking left that day.
pub async fn arrive_booked_of_day(
    tx: &mut Tx,
    patient_id: PatientId,
    day: Day,
    now: &str,
) -> Result<Option<i64>, DbError> {
    let row = sqlx::query(concat!(
        "UPDATE appointments SET status = 'arrived', updated_at = $3 WHERE status = 'booked' \
         AND id = (",
        booked_of_day!(),
        ") RETURNING id"
    ))
    .bind(patient_id)
    .bind(day)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// One line of a point's queue screen.
#[derive(Debug, Clone)]
pub struct QueueLine {
    pub entry_id: i64,
    pub patient_id: PatientId,
    pub token: i64,
    pub state: String,
    pub priority_reason: Option<String>,
    pub enqueued_at: String,
    pub called_at: Option<String>,
    pub called_by: Option<String>,
    pub payer: String,
}

/// A point's entries that are waiting, called or being served: called and serving first (oldest
/// call first), then the waiting in calling order. At most `limit`, the waiting read in calling
/// order from their index.
pub async fn point_lines(db: &Db, point_id: i64, limit: i64) -> Result<Vec<QueueLine>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT e.id, v.patient_id, v.token, e.state, e.priority_reason, \
         e.enqueued_at, e.called_at, u.full_name, v.payer FROM (",
        calling_order!("$1", "$2"),
        ") AS pick JOIN queue_entries e ON e.id = pick.id \
         JOIN visits v ON v.id = e.visit_id \
         LEFT JOIN users u ON u.id = e.called_by \
         ORDER BY CASE WHEN e.state = 'waiting' THEN 1 ELSE 0 END, e.called_at, \
                  e.priority DESC, e.enqueued_at, e.id \
         LIMIT CAST($2 AS BIGINT)"
    ))
    .bind(point_id)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| QueueLine {
            entry_id: r.get(0),
            patient_id: r.get(1),
            token: r.get(2),
            state: r.get(3),
            priority_reason: r.get(4),
            enqueued_at: r.get(5),
            called_at: r.get(6),
            called_by: r.get(7),
            payer: r.get(8),
        })
        .collect())
}

/// Tokens a point called since `since` (RFC 3339) that are still called or being served, newest
/// call first: (token, state, called_at). No names: this feeds the waiting-room screen.
pub async fn display_called(
    db: &Db,
    point_id: i64,
    since: &str,
    limit: i64,
) -> Result<Vec<(i64, String, String)>, DbError> {
    let rows = sqlx::query(
        "SELECT v.token, e.state, e.called_at FROM queue_entries e \
         JOIN visits v ON v.id = e.visit_id \
         WHERE e.service_point_id = $1 AND e.called_at >= $2 \
           AND e.state IN ('called', 'serving') \
         ORDER BY e.called_at DESC, e.id DESC LIMIT CAST($3 AS BIGINT)",
    )
    .bind(point_id)
    .bind(since)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The next waiting tokens of a point in calling order, with when each was enqueued and its
/// priority reason: (token, enqueued_at, priority_reason). No names.
pub async fn waiting_tokens(
    db: &Db,
    point_id: i64,
    limit: i64,
) -> Result<Vec<(i64, String, Option<String>)>, DbError> {
    let rows = sqlx::query(
        "SELECT v.token, e.enqueued_at, e.priority_reason FROM queue_entries e \
         JOIN visits v ON v.id = e.visit_id \
         WHERE e.service_point_id = $1 AND e.state = 'waiting' \
         ORDER BY e.priority DESC, e.enqueued_at, e.id LIMIT CAST($2 AS BIGINT)",
    )
    .bind(point_id)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}
