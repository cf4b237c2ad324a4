//! SQL of visits and queue entries. Every change of state is a guarded update
//! (`... WHERE state = 'waiting'`) whose row count says whether this request won: two desks
//! pressing "Call next" at the same moment never get the same patient. The typed contract
//! around these statements is `crate::visits`.

use hms_core::day::Day;
use hms_core::db::{DbError, Tx};
use hms_core::ids::{PatientId, VisitId};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

// Column lists shared by the queries below (macros, so `concat!` makes one static string).
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

// ---------------------------------------------------------------------------------------------
// Appointments arriving
// ---------------------------------------------------------------------------------------------

/// An appointment as check-in checks it: (patient, day, status).
pub async fn appointment_tx(
    tx: &mut Tx,
    id: i64,
) -> Result<Option<(PatientId, Day, String)>, DbError> {
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
    pub id: VisitId,
    pub patient_id: PatientId,
    pub appointment_id: Option<i64>,
    pub day: Day,
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
    id: VisitId,
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

/// Visits by id (at most [`hms_core::db::ID_LIST_LEN`]), in no particular order.
pub async fn visits<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    ids: &[i64],
) -> Result<Vec<VisitRow>, DbError> {
    let Some(first) = ids.first() else {
        return Ok(Vec::new());
    };
    let mut q = sqlx::query(concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits v WHERE v.id IN ",
        hms_core::id_list!()
    ));
    for i in 0..hms_core::db::ID_LIST_LEN {
        q = q.bind(ids.get(i).unwrap_or(first));
    }
    Ok(q.fetch_all(ex).await?.iter().map(visit_at).collect())
}

/// The patient's open visit of `day`, if any.
pub async fn open_visit<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient_id: PatientId,
    day: Day,
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
pub async fn next_token(tx: &mut Tx, day: Day) -> Result<i64, DbError> {
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
    pub patient_id: PatientId,
    pub appointment_id: Option<i64>,
    pub day: Day,
    pub token: i64,
    pub payer: &'a str,
    pub user: Option<i64>,
    pub now: &'a str,
}

/// Inserts an open visit; the unique index refuses a second open visit of the patient that day.
pub async fn insert_visit(tx: &mut Tx, v: &NewVisit<'_>) -> Result<VisitId, DbError> {
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
    visit_id: VisitId,
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
    pub visit_id: VisitId,
    pub patient_id: PatientId,
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

/// The visit's entry that is waiting, called or being served, if any (in a transaction, or
/// through the read pool).
pub async fn active_entry<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    visit_id: VisitId,
) -> Result<Option<EntryRow>, DbError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM queue_entries e JOIN visits v ON v.id = e.visit_id \
         JOIN service_points s ON s.id = e.service_point_id \
         WHERE e.visit_id = $1 AND e.state IN ('waiting', 'called', 'serving')"
    ))
    .bind(visit_id)
    .fetch_optional(ex)
    .await?;
    Ok(row.as_ref().map(entry_at))
}

/// Puts a visit in a point's queue; returns the entry id.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    tx: &mut Tx,
    visit_id: VisitId,
    point_id: i64,
    priority: i64,
    reason: Option<&str>,
    user: Option<i64>,
    now: &str,
) -> Result<i64, DbError> {
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
    // PostgreSQL: the entry is locked as it is chosen, and one another caller has locked is
    // passed over; without that, doctors pressing *Take next* together all queued behind the
    // first caller's lock on one entry, then found it taken.
    // SQLite's single writer serialises callers already.
    let sql = if tx.backend_name().eq_ignore_ascii_case("postgresql") {
        "SELECT id FROM queue_entries WHERE service_point_id = $1 AND state = 'waiting' \
         ORDER BY priority DESC, enqueued_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
    } else {
        "SELECT id FROM queue_entries WHERE service_point_id = $1 AND state = 'waiting' \
         ORDER BY priority DESC, enqueued_at, id LIMIT 1"
    };
    let row = sqlx::query(sql)
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

/// A service point's entries that are waiting, called or being served, in calling order
/// (called and serving first, then the waiting by priority and arrival). At most `limit`: the
/// waiting are read in that order from their index (see [`calling_order!`]), never all sorted.
pub async fn point_entries<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    point_code: &str,
    limit: i64,
) -> Result<Vec<EntryRow>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM (",
        calling_order!("(SELECT id FROM service_points WHERE code = $1)", "$2"),
        ") AS pick JOIN queue_entries e ON e.id = pick.id \
         JOIN visits v ON v.id = e.visit_id \
         JOIN service_points s ON s.id = e.service_point_id \
         ORDER BY CASE WHEN e.state = 'waiting' THEN 1 ELSE 0 END, e.called_at, \
                  e.priority DESC, e.enqueued_at, e.id \
         LIMIT CAST($2 AS BIGINT)"
    ))
    .bind(point_code)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    Ok(rows.iter().map(entry_at).collect())
}
