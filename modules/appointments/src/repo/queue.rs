//! SQL of visits and service-point queues. Every change of state is a guarded update
//! (`... WHERE state = 'waiting'`) whose row count says whether this request won: two desks
//! pressing "Call next" at the same moment never get the same patient. The typed contract
//! around these statements is `crate::visits`.

use hms_core::db::{Db, DbError, Tx};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

// Column lists shared by the queries below (macros, so `concat!` makes one static string).
macro_rules! point_columns {
    () => {
        "id, code, name, room, CASE WHEN display_key_hash IS NULL THEN 0 ELSE 1 END"
    };
}
macro_rules! patient_columns {
    () => {
        "p.id, p.number, p.first_name, p.middle_name, p.last_name, p.sex, p.date_of_birth, \
         p.is_active, p.merged_into"
    };
}
macro_rules! visit_columns {
    () => {
        "v.id, v.patient_id, v.appointment_id, v.day, v.token, v.payer, v.status, v.checked_in_at"
    };
}
macro_rules! entry_columns {
    () => {
        "e.id, e.visit_id, v.patient_id, v.token, e.service_point_id, s.code, e.state, \
         e.priority, e.priority_reason, e.enqueued_at, e.called_at"
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
    PointRow {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        room: r.get(3),
        has_display: r.get::<i64, _>(4) == 1,
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
pub async fn first_entry_point(db: &Db, visit_id: i64) -> Result<Option<PointRow>, DbError> {
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
// Patients and appointments (read for check-in)
// ---------------------------------------------------------------------------------------------

/// What check-in needs to know about a patient.
#[derive(Debug, Clone)]
pub struct PatientRow {
    pub id: i64,
    pub number: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub active: bool,
    pub merged_into: Option<i64>,
}

fn patient_at(r: &AnyRow) -> PatientRow {
    PatientRow {
        id: r.get(0),
        number: r.get(1),
        first_name: r.get(2),
        middle_name: r.get(3),
        last_name: r.get(4),
        sex: r.get(5),
        date_of_birth: r.get(6),
        active: r.get::<i64, _>(7) == 1,
        merged_into: r.get(8),
    }
}

pub async fn patient<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: i64,
) -> Result<Option<PatientRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        patient_columns!(),
        " FROM patients p WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(patient_at))
}

/// An appointment as check-in sees it: (patient, day, status, clinic name).
pub async fn appointment(
    db: &Db,
    id: i64,
) -> Result<Option<(i64, String, String, String)>, DbError> {
    let row = sqlx::query(
        "SELECT a.patient_id, a.day, a.status, c.name FROM appointments a \
         JOIN clinics c ON c.id = a.clinic_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
}

pub async fn appointment_tx(
    tx: &mut Tx,
    id: i64,
) -> Result<Option<(i64, String, String)>, DbError> {
    let row = sqlx::query("SELECT patient_id, day, status FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// booked -> arrived, guarded: false when the appointment is no longer booked.
pub async fn mark_arrived(tx: &mut Tx, id: i64, now: &str) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE appointments SET status = 'arrived', updated_at = $2 \
         WHERE id = $1 AND status = 'booked'",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------------------------------------
// Visits
// ---------------------------------------------------------------------------------------------

/// A visit as stored.
#[derive(Debug, Clone)]
pub struct VisitRow {
    pub id: i64,
    pub patient_id: i64,
    pub appointment_id: Option<i64>,
    pub day: String,
    pub token: i64,
    pub payer: String,
    pub status: String,
    pub checked_in_at: String,
}

fn visit_at(r: &AnyRow) -> VisitRow {
    VisitRow {
        id: r.get(0),
        patient_id: r.get(1),
        appointment_id: r.get(2),
        day: r.get(3),
        token: r.get(4),
        payer: r.get(5),
        status: r.get(6),
        checked_in_at: r.get(7),
    }
}

pub async fn visit<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: i64,
) -> Result<Option<VisitRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits v WHERE v.id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(visit_at))
}

/// The patient's open visit of `day`, if any.
pub async fn open_visit<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient_id: i64,
    day: &str,
) -> Result<Option<VisitRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits v \
         WHERE v.patient_id = $1 AND v.day = $2 AND v.status = 'open'"
    ))
    .bind(patient_id)
    .bind(day)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(visit_at))
}

/// The day's next token: one upsert, atomic on both databases (the row stays locked until the
/// transaction ends, so concurrent check-ins queue behind it and get distinct numbers).
pub async fn next_token(tx: &mut Tx, day: &str) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO visit_tokens (day, next_token) VALUES ($1, 1) \
         ON CONFLICT (facility_id, day) DO UPDATE SET next_token = visit_tokens.next_token + 1 \
         RETURNING next_token",
    )
    .bind(day)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// The new visit's fields.
pub struct NewVisit<'a> {
    pub patient_id: i64,
    pub appointment_id: Option<i64>,
    pub day: &'a str,
    pub token: i64,
    pub payer: &'a str,
    pub user: Option<i64>,
    pub now: &'a str,
}

/// Inserts an open visit; the unique index refuses a second open visit of the patient that day.
pub async fn insert_visit(tx: &mut Tx, v: &NewVisit<'_>) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO visits (patient_id, appointment_id, day, token, payer, status, \
         checked_in_by, checked_in_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7) RETURNING id",
    )
    .bind(v.patient_id)
    .bind(v.appointment_id)
    .bind(v.day)
    .bind(v.token)
    .bind(v.payer)
    .bind(v.user)
    .bind(v.now)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// Closes an open visit (`completed` or `left`), guarded: false when it was not open.
pub async fn close_visit(
    tx: &mut Tx,
    visit_id: i64,
    status: &str,
    now: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE visits SET status = $2, closed_at = $3 WHERE id = $1 AND status = 'open'",
    )
    .bind(visit_id)
    .bind(status)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------------------------------------
// Queue entries
// ---------------------------------------------------------------------------------------------

/// A queue entry with its visit's token and patient, and its point's code.
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub id: i64,
    pub visit_id: i64,
    pub patient_id: i64,
    pub token: i64,
    pub point_id: i64,
    pub point_code: String,
    pub state: String,
    pub priority: i64,
    pub priority_reason: Option<String>,
    pub enqueued_at: String,
    pub called_at: Option<String>,
}

fn entry_at(r: &AnyRow) -> EntryRow {
    EntryRow {
        id: r.get(0),
        visit_id: r.get(1),
        patient_id: r.get(2),
        token: r.get(3),
        point_id: r.get(4),
        point_code: r.get(5),
        state: r.get(6),
        priority: r.get(7),
        priority_reason: r.get(8),
        enqueued_at: r.get(9),
        called_at: r.get(10),
    }
}

pub async fn entry<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: i64,
) -> Result<Option<EntryRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM queue_entries e JOIN visits v ON v.id = e.visit_id \
         JOIN service_points s ON s.id = e.service_point_id WHERE e.id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(entry_at))
}

/// The visit's entry that is waiting, called or being served, if any.
pub async fn active_entry_tx(tx: &mut Tx, visit_id: i64) -> Result<Option<EntryRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM queue_entries e JOIN visits v ON v.id = e.visit_id \
         JOIN service_points s ON s.id = e.service_point_id \
         WHERE e.visit_id = $1 AND e.state IN ('waiting', 'called', 'serving')"
    ))
    .bind(visit_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.as_ref().map(entry_at))
}

/// Puts a visit in a point's queue; returns the entry id.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    tx: &mut Tx,
    visit_id: i64,
    point_id: i64,
    priority: i64,
    reason: Option<&str>,
    user: Option<i64>,
    now: &str,
) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO queue_entries (visit_id, service_point_id, state, priority, priority_reason, \
         enqueued_at, enqueued_by) VALUES ($1, $2, 'waiting', $3, $4, $5, $6) RETURNING id",
    )
    .bind(visit_id)
    .bind(point_id)
    .bind(priority)
    .bind(reason)
    .bind(now)
    .bind(user)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// The entry a point would call next: priority first, then the longest waiting.
pub async fn next_waiting_id(tx: &mut Tx, point_id: i64) -> Result<Option<i64>, DbError> {
    let row = sqlx::query(
        "SELECT id FROM queue_entries WHERE service_point_id = $1 AND state = 'waiting' \
         ORDER BY priority DESC, enqueued_at, id LIMIT 1",
    )
    .bind(point_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// waiting -> called, guarded: false when someone else called the entry first.
pub async fn mark_called(
    tx: &mut Tx,
    id: i64,
    user: Option<i64>,
    now: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE queue_entries SET state = 'called', called_at = $2, called_by = $3 \
         WHERE id = $1 AND state = 'waiting'",
    )
    .bind(id)
    .bind(now)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// called -> serving, guarded.
pub async fn mark_serving(
    tx: &mut Tx,
    id: i64,
    user: Option<i64>,
    now: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE queue_entries SET state = 'serving', served_at = $2, served_by = $3 \
         WHERE id = $1 AND state = 'called'",
    )
    .bind(id)
    .bind(now)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends an entry: `from` is the state it must be in (the guard), `to` its final state (`done`,
/// `left`, `moved`).
pub async fn end_entry(
    tx: &mut Tx,
    id: i64,
    from: &str,
    to: &str,
    user: Option<i64>,
    now: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE queue_entries SET state = $3, done_at = $4, done_by = $5 \
         WHERE id = $1 AND state = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(now)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------------------------------------
// Queue screens and the waiting-room display
// ---------------------------------------------------------------------------------------------

/// One line of a point's queue screen.
#[derive(Debug, Clone)]
pub struct QueueLine {
    pub entry_id: i64,
    pub patient_id: i64,
    pub token: i64,
    pub number: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub state: String,
    pub priority_reason: Option<String>,
    pub enqueued_at: String,
    pub called_at: Option<String>,
    pub called_by: Option<String>,
    pub payer: String,
}

/// A point's entries that are waiting, called or being served: called and serving first (oldest
/// call first), then the waiting in calling order. At most `limit`.
pub async fn point_lines(db: &Db, point_id: i64, limit: i64) -> Result<Vec<QueueLine>, DbError> {
    let rows = sqlx::query(
        "SELECT e.id, v.patient_id, v.token, p.number, p.first_name, p.middle_name, \
         p.last_name, p.sex, p.date_of_birth, e.state, e.priority_reason, \
         e.enqueued_at, e.called_at, u.full_name, v.payer \
         FROM queue_entries e JOIN visits v ON v.id = e.visit_id \
         JOIN patients p ON p.id = v.patient_id LEFT JOIN users u ON u.id = e.called_by \
         WHERE e.service_point_id = $1 AND e.state IN ('waiting', 'called', 'serving') \
         ORDER BY CASE WHEN e.state = 'waiting' THEN 1 ELSE 0 END, e.called_at, \
                  e.priority DESC, e.enqueued_at, e.id \
         LIMIT CAST($2 AS BIGINT)",
    )
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
            number: r.get(3),
            first_name: r.get(4),
            middle_name: r.get(5),
            last_name: r.get(6),
            sex: r.get(7),
            date_of_birth: r.get(8),
            state: r.get(9),
            priority_reason: r.get(10),
            enqueued_at: r.get(11),
            called_at: r.get(12),
            called_by: r.get(13),
            payer: r.get(14),
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
