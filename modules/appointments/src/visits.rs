//! The visit and queue contract other modules build on (consultations, laboratory, pharmacy,
//! billing). A patient who arrives is checked in as a **visit**: the day's token number and who
//! pays. The visit then moves through **queue entries**, one service point at a time (triage,
//! consultation, laboratory, pharmacy, cashier): each entry is `waiting`, then `called`, then
//! `serving`, and ends `done` (served), `left` (left without being seen), `moved` (sent elsewhere
//! before being served) or `cancelled` (the visit closed while it waited).
//!
//! Every function takes the caller's transaction and appends its audit row last, so a module
//! that, say, sends a patient to the laboratory while saving an order does both in one COMMIT.
//! Every change of state is a guarded update; a lost race is [`VisitError::Conflict`], never a
//! silent double call.

use serde::Serialize;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::i18n::t;
use hms_core::ids::{PatientId, VisitId};
use hms_patients::api as patients;

use crate::model::{is_payer, EntryState, Priority};
use crate::repo::queue as qp;
use crate::repo::visits as q;

/// The first service point of a walk-in unless reception chooses another.
pub const FIRST_POINT: &str = "triage";

/// How many times `call_next` tries again when another desk took the entry it chose.
const CALL_ATTEMPTS: usize = 5;

/// A visit: one patient's stay at the facility on one day.
#[derive(Debug, Clone, Serialize)]
pub struct Visit {
    pub id: VisitId,
    pub patient_id: PatientId,
    pub appointment_id: Option<i64>,
    /// The facility's local date.
    pub day: Day,
    /// The day's token number, called out and shown on the waiting-room screen.
    pub token: i64,
    /// `cash`, `mpesa`, `sha`, `insurance` or `waiver`.
    pub payer: String,
    /// `open`, `completed` or `left`.
    pub status: String,
    pub checked_in_at: String,
}

impl Visit {
    pub fn is_open(&self) -> bool {
        self.status == "open"
    }
}

impl From<q::VisitRow> for Visit {
    fn from(v: q::VisitRow) -> Self {
        Visit {
            id: v.id,
            patient_id: v.patient_id,
            appointment_id: v.appointment_id,
            day: v.day,
            token: v.token,
            payer: v.payer,
            status: v.status,
            checked_in_at: v.checked_in_at,
        }
    }
}

/// A visit's place in one service point's queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    pub id: i64,
    pub visit_id: VisitId,
    pub patient_id: PatientId,
    pub token: i64,
    /// The service point's code (`triage`, `consultation`, ...).
    pub point: String,
    pub state: EntryState,
    pub priority: Priority,
    pub enqueued_at: String,
    pub called_at: Option<String>,
}

impl From<q::EntryRow> for QueueEntry {
    fn from(e: q::EntryRow) -> Self {
        QueueEntry {
            id: e.id,
            visit_id: e.visit_id,
            patient_id: e.patient_id,
            token: e.token,
            point: e.point_code,
            state: EntryState::parse(&e.state).unwrap_or(EntryState::Done),
            priority: Priority::from_stored(e.priority_reason.as_deref()),
            enqueued_at: e.enqueued_at,
            called_at: e.called_at,
        }
    }
}

/// Why a visit or queue change was refused.
#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    /// The patient has an open visit today: its id and token (unknown when another desk checked
    /// the patient in at the same moment).
    #[error("the patient already has an open visit today")]
    AlreadyOpen {
        visit_id: Option<VisitId>,
        token: Option<i64>,
    },
    #[error("no such patient")]
    PatientNotFound,
    #[error("the patient's record is inactive")]
    PatientInactive,
    #[error("no such appointment for this patient")]
    AppointmentNotFound,
    #[error("the appointment is for another day")]
    AppointmentNotToday,
    #[error("the appointment is no longer booked")]
    AppointmentNotBooked,
    #[error("unknown payer")]
    UnknownPayer,
    #[error("no such service point")]
    UnknownPoint,
    #[error("no such visit or queue entry")]
    NotFound,
    #[error("the visit is already closed")]
    VisitClosed,
    /// The guarded update found the entry or visit in another state: someone else acted first,
    /// or the action does not fit (serving a patient who was not called).
    #[error("the entry is not in the state this action needs")]
    Conflict,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for VisitError {
    fn from(e: sqlx::Error) -> Self {
        VisitError::Db(DbError::from(e))
    }
}

impl VisitError {
    /// What to tell the person at the desk, in the request's language.
    pub fn message(&self) -> String {
        match self {
            VisitError::AlreadyOpen {
                token: Some(token), ..
            } => t("appointments_queue.error_already_open").replace("{token}", &token.to_string()),
            VisitError::AlreadyOpen { token: None, .. } => {
                t("appointments_queue.error_already_open_now")
            }
            VisitError::PatientNotFound => t("appointments_queue.error_patient"),
            VisitError::PatientInactive => t("appointments_queue.error_inactive"),
            VisitError::AppointmentNotFound => t("appointments_queue.error_appointment"),
            VisitError::AppointmentNotToday => t("appointments_queue.error_appointment_day"),
            VisitError::AppointmentNotBooked => t("appointments_queue.error_appointment_status"),
            VisitError::UnknownPayer => t("appointments_queue.error_payer"),
            VisitError::UnknownPoint => t("appointments_queue.error_point"),
            VisitError::NotFound => t("appointments_queue.error_entry"),
            VisitError::VisitClosed => t("appointments_queue.error_closed"),
            VisitError::Conflict => t("appointments_queue.error_conflict"),
            VisitError::Db(_) => t("error.internal"),
        }
    }
}

/// Checks a patient in: a visit with the day's next token and the payer, waiting at
/// `first_point`. The appointment named, or else the patient's booked appointment of today
/// (whichever screen the check-in started from), moves to `arrived` (guarded) and is linked to
/// the visit. A patient with an open visit today is refused with [`VisitError::AlreadyOpen`],
/// which names its token.
pub async fn check_in(
    tx: &mut Tx,
    patient_id: PatientId,
    appointment_id: Option<i64>,
    payer: &str,
    first_point: &str,
    priority: Priority,
    actor: &Actor,
) -> Result<Visit, VisitError> {
    if !is_payer(payer) {
        return Err(VisitError::UnknownPayer);
    }
    let point = qp::point(&mut **tx, first_point)
        .await?
        .ok_or(VisitError::UnknownPoint)?;
    let day = Day::today();
    admissible(tx, patient_id, day).await?;
    let now = clock::now_rfc3339();
    let appointment_id = match appointment_id {
        Some(appointment) => {
            arrive(tx, appointment, patient_id, day, &now).await?;
            Some(appointment)
        }
        None => qp::arrive_booked_of_day(tx, patient_id, day, &now).await?,
    };
    let visit = open(tx, patient_id, appointment_id, day, payer, actor, &now).await?;
    enqueue(tx, visit.id, point.id, priority, actor, &now).await?;
    crate::fees::post_consultation_fee(tx, visit.id, patient_id, &point.code, actor).await?;
    audit::record(
        tx,
        actor,
        Event::new("visit.checkin", "visit", Some(visit.id.get()))
            .patient(patient_id.get())
            .detail(json!({
                "day": day,
                "token": visit.token,
                "payer": payer,
                "point": point.code,
                "priority": priority.code(),
                "appointment": appointment_id,
            })),
    )
    .await?;
    Ok(visit)
}

/// A patient may be checked in when the record exists, is the surviving one, is active and has
/// no open visit `day`.
async fn admissible(tx: &mut Tx, patient_id: PatientId, day: Day) -> Result<(), VisitError> {
    let patient = patients::card_in(tx, patient_id)
        .await?
        .filter(|p| p.merged_into.is_none())
        .ok_or(VisitError::PatientNotFound)?;
    if !patient.active {
        return Err(VisitError::PatientInactive);
    }
    if let Some(open) = q::open_visit(&mut **tx, patient_id, day).await? {
        return Err(VisitError::AlreadyOpen {
            visit_id: Some(open.id),
            token: Some(open.token),
        });
    }
    Ok(())
}

/// The patient's booked appointment of `day` moves to `arrived` (guarded).
async fn arrive(
    tx: &mut Tx,
    appointment: i64,
    patient_id: PatientId,
    day: Day,
    now: &str,
) -> Result<(), VisitError> {
    let (owner, on, _) = q::appointment_tx(tx, appointment)
        .await?
        .ok_or(VisitError::AppointmentNotFound)?;
    if owner != patient_id {
        return Err(VisitError::AppointmentNotFound);
    }
    if on != day {
        return Err(VisitError::AppointmentNotToday);
    }
    if !q::mark_arrived(tx, appointment, now).await? {
        return Err(VisitError::AppointmentNotBooked);
    }
    Ok(())
}

/// Opens the visit with the day's next token and records the day on the patient.
async fn open(
    tx: &mut Tx,
    patient_id: PatientId,
    appointment_id: Option<i64>,
    day: Day,
    payer: &str,
    actor: &Actor,
    now: &str,
) -> Result<Visit, VisitError> {
    let token = q::next_token(tx, day).await?;
    let new = q::NewVisit {
        patient_id,
        appointment_id,
        day,
        token,
        payer,
        user: actor.user_id,
        now,
    };
    let id = match q::insert_visit(tx, &new).await {
        Ok(id) => id,
        // Another desk checked the same patient in a moment ago (the unique index).
        Err(DbError::Unique { .. }) => {
            return Err(VisitError::AlreadyOpen {
                visit_id: None,
                token: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    patients::record_visit(tx, patient_id, day).await?;
    Ok(Visit {
        id,
        patient_id,
        appointment_id,
        day,
        token,
        payer: payer.to_string(),
        status: "open".into(),
        checked_in_at: now.to_string(),
    })
}

/// The patient's open visit of today, if any (for modules that attach work to the visit).
pub async fn open_visit(db: &Db, patient_id: PatientId) -> Result<Option<Visit>, DbError> {
    Ok(q::open_visit(db.read(), patient_id, Day::today())
        .await?
        .map(Visit::from))
}

/// A visit by id.
pub async fn visit(db: &Db, visit_id: VisitId) -> Result<Option<Visit>, DbError> {
    Ok(q::visit(db.read(), visit_id).await?.map(Visit::from))
}

/// The ids of the visits of `day` and after, oldest first (for work over a period's visits).
pub async fn visit_ids_since(db: &Db, day: Day) -> Result<Vec<VisitId>, DbError> {
    Ok(
        sqlx::query("SELECT id FROM visits WHERE day >= $1 ORDER BY id")
            .bind(day.text())
            .fetch_all(db.read())
            .await?
            .iter()
            .map(|r| VisitId(sqlx::Row::get(r, 0)))
            .collect(),
    )
}

/// Visits by id, in no particular order: one query per 64.
pub async fn visits(db: &Db, ids: &[VisitId]) -> Result<Vec<Visit>, DbError> {
    let ids: Vec<i64> = ids.iter().map(|v| v.get()).collect();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(hms_core::db::ID_LIST_LEN) {
        out.extend(
            q::visits(db.read(), chunk)
                .await?
                .into_iter()
                .map(Visit::from),
        );
    }
    Ok(out)
}

/// A queue entry by id.
pub async fn entry(db: &Db, entry_id: i64) -> Result<Option<QueueEntry>, DbError> {
    Ok(q::entry(db.read(), entry_id).await?.map(QueueEntry::from))
}

async fn open_visit_row(tx: &mut Tx, visit_id: VisitId) -> Result<q::VisitRow, VisitError> {
    let v = q::visit(&mut **tx, visit_id)
        .await?
        .ok_or(VisitError::NotFound)?;
    if v.status != "open" {
        return Err(VisitError::VisitClosed);
    }
    Ok(v)
}

/// Ends the visit's active entry before it goes elsewhere: served when it was being served,
/// `moved` (or `to_unserved`) when it had not been. Guarded on the state read.
async fn end_active(
    tx: &mut Tx,
    active: &q::EntryRow,
    to_unserved: &str,
    actor: &Actor,
    now: &str,
) -> Result<(), VisitError> {
    let to = if active.state == "serving" {
        "done"
    } else {
        to_unserved
    };
    if !q::end_entry(tx, active.id, &active.state, to, actor.user_id, now).await? {
        return Err(VisitError::Conflict);
    }
    Ok(())
}

/// Sends an open visit to `point_code`'s queue. Its current entry ends (served if it was being
/// served, else `moved`); `priority` `None` keeps the priority it had. Sending a visit to the
/// queue it already waits in changes nothing.
pub async fn send_to(
    tx: &mut Tx,
    visit_id: VisitId,
    point_code: &str,
    priority: Option<Priority>,
    actor: &Actor,
) -> Result<QueueEntry, VisitError> {
    let visit = open_visit_row(tx, visit_id).await?;
    let point = qp::point(&mut **tx, point_code)
        .await?
        .ok_or(VisitError::UnknownPoint)?;
    let active = q::active_entry(&mut **tx, visit_id).await?;
    let now = clock::now_rfc3339();
    let mut from = None;
    let mut kept = Priority::Normal;
    if let Some(a) = &active {
        kept = Priority::from_stored(a.priority_reason.as_deref());
        if a.point_id == point.id && a.state == "waiting" && priority.is_none_or(|p| p == kept) {
            return Ok(QueueEntry::from(a.clone()));
        }
        end_active(tx, a, "moved", actor, &now).await?;
        from = Some(a.point_code.clone());
    }
    let priority = priority.unwrap_or(kept);
    let id = enqueue(tx, visit.id, point.id, priority, actor, &now).await?;
    audit::record(
        tx,
        actor,
        Event::new("queue.send", "visit", Some(visit.id.get()))
            .patient(visit.patient_id.get())
            .detail(json!({
                "token": visit.token,
                "from": from,
                "to": point.code,
                "entry": id,
                "priority": priority.code(),
            })),
    )
    .await?;
    entry_in(tx, id).await
}

async fn enqueue(
    tx: &mut Tx,
    visit_id: VisitId,
    point_id: i64,
    priority: Priority,
    actor: &Actor,
    now: &str,
) -> Result<i64, VisitError> {
    match q::enqueue(
        tx,
        visit_id,
        point_id,
        priority.level(),
        Some(priority.code()).filter(|c| !c.is_empty()),
        actor.user_id,
        now,
    )
    .await
    {
        Ok(id) => Ok(id),
        // The visit was put in a queue by someone else meanwhile (one active entry per visit).
        Err(DbError::Unique { .. }) => Err(VisitError::Conflict),
        Err(e) => Err(e.into()),
    }
}

async fn entry_in(tx: &mut Tx, id: i64) -> Result<QueueEntry, VisitError> {
    q::entry(&mut **tx, id)
        .await?
        .map(QueueEntry::from)
        .ok_or(VisitError::NotFound)
}

/// Calls the next patient of a service point: priority first, then the longest waiting. The
/// update is guarded (`WHERE state = 'waiting'`); when another desk called the chosen entry at
/// the same moment, the next one is tried. `None` when nobody is waiting.
pub async fn call_next(
    tx: &mut Tx,
    point_code: &str,
    actor: &Actor,
) -> Result<Option<QueueEntry>, VisitError> {
    let point = qp::point(&mut **tx, point_code)
        .await?
        .ok_or(VisitError::UnknownPoint)?;
    let now = clock::now_rfc3339();
    for _ in 0..CALL_ATTEMPTS {
        let Some(id) = q::next_waiting_id(tx, point.id).await? else {
            return Ok(None);
        };
        if q::mark_called(tx, id, actor.user_id, &now).await? {
            let called = entry_in(tx, id).await?;
            audit::record(
                tx,
                actor,
                Event::new("queue.call", "queue_entry", Some(id))
                    .patient(called.patient_id.get())
                    .detail(json!({
                        "visit": called.visit_id,
                        "token": called.token,
                        "point": point.code,
                    })),
            )
            .await?;
            return Ok(Some(called));
        }
    }
    Err(VisitError::Conflict)
}

/// Starts serving a called entry (guarded: only a `called` entry).
pub async fn serve(tx: &mut Tx, entry_id: i64, actor: &Actor) -> Result<QueueEntry, VisitError> {
    let before = entry_in(tx, entry_id).await?;
    let now = clock::now_rfc3339();
    if !q::mark_serving(tx, entry_id, actor.user_id, &now).await? {
        return Err(VisitError::Conflict);
    }
    audit::record(
        tx,
        actor,
        Event::new("queue.serve", "queue_entry", Some(entry_id))
            .patient(before.patient_id.get())
            .detail(json!({
                "visit": before.visit_id,
                "token": before.token,
                "point": before.point,
            })),
    )
    .await?;
    entry_in(tx, entry_id).await
}

/// Ends the service of an entry being served: the patient goes on to `next_point`'s queue (same
/// priority), or, with `None`, the visit is complete. Returns the new entry when sent on.
pub async fn finish(
    tx: &mut Tx,
    entry_id: i64,
    next_point: Option<&str>,
    actor: &Actor,
) -> Result<Option<QueueEntry>, VisitError> {
    let entry = entry_in(tx, entry_id).await?;
    if entry.state != EntryState::Serving {
        return Err(VisitError::Conflict);
    }
    match next_point {
        Some(code) => {
            if code == entry.point {
                return Err(VisitError::UnknownPoint);
            }
            send_to(tx, entry.visit_id, code, Some(entry.priority), actor)
                .await
                .map(Some)
        }
        None => complete_visit(tx, entry.visit_id, actor)
            .await
            .map(|_| None),
    }
}

/// Completes an open visit: an entry being served is done, one still waiting or called is
/// `cancelled`, and the visit is `completed`.
pub async fn complete_visit(
    tx: &mut Tx,
    visit_id: VisitId,
    actor: &Actor,
) -> Result<(), VisitError> {
    let visit = open_visit_row(tx, visit_id).await?;
    let now = clock::now_rfc3339();
    let active = q::active_entry(&mut **tx, visit_id).await?;
    if let Some(a) = &active {
        end_active(tx, a, "cancelled", actor, &now).await?;
    }
    if !q::close_visit(tx, visit_id, "completed", &now).await? {
        return Err(VisitError::Conflict);
    }
    audit::record(
        tx,
        actor,
        Event::new("visit.complete", "visit", Some(visit_id.get()))
            .patient(visit.patient_id.get())
            .detail(json!({
                "token": visit.token,
                "day": visit.day,
                "point": active.map(|a| a.point_code),
            })),
    )
    .await?;
    Ok(())
}

/// Records that a waiting or called patient left without being seen: the entry is `left` and
/// the visit closes as `left`.
pub async fn left_without_being_seen(
    tx: &mut Tx,
    entry_id: i64,
    actor: &Actor,
) -> Result<(), VisitError> {
    let entry = entry_in(tx, entry_id).await?;
    if !matches!(entry.state, EntryState::Waiting | EntryState::Called) {
        return Err(VisitError::Conflict);
    }
    let now = clock::now_rfc3339();
    if !q::end_entry(
        tx,
        entry_id,
        entry.state.as_str(),
        "left",
        actor.user_id,
        &now,
    )
    .await?
    {
        return Err(VisitError::Conflict);
    }
    q::close_visit(tx, entry.visit_id, "left", &now).await?;
    audit::record(
        tx,
        actor,
        Event::new("queue.left", "queue_entry", Some(entry_id))
            .patient(entry.patient_id.get())
            .detail(json!({
                "visit": entry.visit_id,
                "token": entry.token,
                "point": entry.point,
                "was": entry.state.as_str(),
            })),
    )
    .await?;
    Ok(())
}
