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

use chrono::{Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::i18n::t;
use hms_core::ids::PatientId;

use crate::repo::queue as q;

/// The first service point of a walk-in unless reception chooses another.
pub const FIRST_POINT: &str = "triage";

/// How many times `call_next` tries again when another desk took the entry it chose.
const CALL_ATTEMPTS: usize = 5;

/// Today in the facility's time zone: visits and tokens belong to this day.
pub fn today() -> NaiveDate {
    clock::to_local(Utc::now()).date_naive()
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Why a patient goes ahead of those who came earlier. Emergencies first, then the elderly,
/// pregnant women and children under five, then everyone else, each by arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    Emergency,
    Elderly,
    Pregnant,
    UnderFive,
}

impl Priority {
    /// Every choice, in the order a form offers them.
    pub const ALL: [Priority; 5] = [
        Priority::Normal,
        Priority::Emergency,
        Priority::Elderly,
        Priority::Pregnant,
        Priority::UnderFive,
    ];

    /// The stored reason (`priority_reason`); empty for no priority.
    pub fn code(self) -> &'static str {
        match self {
            Priority::Normal => "",
            Priority::Emergency => "emergency",
            Priority::Elderly => "elderly",
            Priority::Pregnant => "pregnant",
            Priority::UnderFive => "under_five",
        }
    }

    /// A reason as typed in a form or stored; `None` for an unknown one.
    pub fn parse(code: &str) -> Option<Priority> {
        Self::ALL.into_iter().find(|p| p.code() == code.trim())
    }

    /// The queue's sort level: higher is called first.
    pub fn level(self) -> i64 {
        match self {
            Priority::Normal => 0,
            Priority::Emergency => 2,
            _ => 1,
        }
    }

    fn from_stored(reason: Option<&str>) -> Priority {
        reason.and_then(Priority::parse).unwrap_or(Priority::Normal)
    }

    /// The priority a birth date suggests at check-in: 65 or older, or under five. Pregnancy and
    /// emergencies are for the receptionist to say.
    pub fn suggested(date_of_birth: NaiveDate, today: NaiveDate) -> Priority {
        match age_years(date_of_birth, today) {
            y if y >= 65 => Priority::Elderly,
            y if y < 5 => Priority::UnderFive,
            _ => Priority::Normal,
        }
    }

    /// The reason in the request's language.
    pub fn label(self) -> String {
        match self {
            Priority::Normal => t("appointments_queue.priority_none"),
            Priority::Emergency => t("appointments_queue.priority_emergency"),
            Priority::Elderly => t("appointments_queue.priority_elderly"),
            Priority::Pregnant => t("appointments_queue.priority_pregnant"),
            Priority::UnderFive => t("appointments_queue.priority_under_five"),
        }
    }
}

/// Whole years from `dob` to `today` (0 for a date in the future).
pub fn age_years(dob: NaiveDate, today: NaiveDate) -> i32 {
    let mut years = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    years.max(0)
}

/// An age in the clinical unit: days under a month, months under two years, else years.
pub fn age_text(dob: NaiveDate, today: NaiveDate) -> String {
    if dob > today {
        return "0 d".into();
    }
    let mut months = (today.year() - dob.year()) * 12 + today.month() as i32 - dob.month() as i32;
    if today.day() < dob.day() {
        // The month is complete on its last day when the birth day does not exist in it.
        let last_day = today
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .and_then(|d| d.pred_opt())
            .map(|d| d.day())
            .unwrap_or(31);
        if !(today.day() == last_day && dob.day() > last_day) {
            months -= 1;
        }
    }
    match months.max(0) {
        0 => format!("{} d", (today - dob).num_days()),
        m if m < 24 => format!("{m} m"),
        m => format!("{} y", m / 12),
    }
}

/// Where an entry stands in its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Waiting,
    Called,
    Serving,
    Done,
    Left,
    Moved,
    Cancelled,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Waiting => "waiting",
            EntryState::Called => "called",
            EntryState::Serving => "serving",
            EntryState::Done => "done",
            EntryState::Left => "left",
            EntryState::Moved => "moved",
            EntryState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<EntryState> {
        [
            EntryState::Waiting,
            EntryState::Called,
            EntryState::Serving,
            EntryState::Done,
            EntryState::Left,
            EntryState::Moved,
            EntryState::Cancelled,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }

    /// Still in the queue (waiting, called or being served).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            EntryState::Waiting | EntryState::Called | EntryState::Serving
        )
    }
}

/// A visit: one patient's stay at the facility on one day.
#[derive(Debug, Clone, Serialize)]
pub struct Visit {
    pub id: i64,
    pub patient_id: i64,
    pub appointment_id: Option<i64>,
    /// The facility's local date, YYYY-MM-DD.
    pub day: String,
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
    pub visit_id: i64,
    pub patient_id: i64,
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
        visit_id: Option<i64>,
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
        VisitError::Db(DbError::Sqlx(e))
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

fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation() || d.message().to_lowercase().contains("unique")
        }
        _ => false,
    }
}

/// Whether `payer` is one of the ways a visit is paid for.
pub fn is_payer(payer: &str) -> bool {
    crate::routes::PAYERS.iter().any(|(v, _)| *v == payer)
}

/// Checks a patient in: a visit with the day's next token and the payer, waiting at
/// `first_point`. A booked appointment of today moves to `arrived` (guarded). A patient with an
/// open visit today is refused with [`VisitError::AlreadyOpen`], which names its token.
pub async fn check_in(
    tx: &mut Tx,
    patient_id: i64,
    appointment_id: Option<i64>,
    payer: &str,
    first_point: &str,
    priority: Priority,
    actor: &Actor,
) -> Result<Visit, VisitError> {
    if !is_payer(payer) {
        return Err(VisitError::UnknownPayer);
    }
    let point = q::point(&mut **tx, first_point)
        .await?
        .ok_or(VisitError::UnknownPoint)?;
    let patient = q::patient(&mut **tx, patient_id)
        .await?
        .filter(|p| p.merged_into.is_none())
        .ok_or(VisitError::PatientNotFound)?;
    if !patient.active {
        return Err(VisitError::PatientInactive);
    }
    let today_day = Day::today();
    let day = today_day.text();
    if let Some(open) = q::open_visit(&mut **tx, patient_id, &day).await? {
        return Err(VisitError::AlreadyOpen {
            visit_id: Some(open.id),
            token: Some(open.token),
        });
    }
    let now = clock::now_rfc3339();
    if let Some(appointment) = appointment_id {
        let (owner, on, _) = q::appointment_tx(tx, appointment)
            .await?
            .ok_or(VisitError::AppointmentNotFound)?;
        if owner != patient_id {
            return Err(VisitError::AppointmentNotFound);
        }
        if on != day {
            return Err(VisitError::AppointmentNotToday);
        }
        if !q::mark_arrived(tx, appointment, &now).await? {
            return Err(VisitError::AppointmentNotBooked);
        }
    }
    let token = q::next_token(tx, &day).await?;
    let id = match q::insert_visit(
        tx,
        &q::NewVisit {
            patient_id,
            appointment_id,
            day: &day,
            token,
            payer,
            user: actor.user_id,
            now: &now,
        },
    )
    .await
    {
        Ok(id) => id,
        // Another desk checked the same patient in a moment ago (the unique index).
        Err(e) if is_unique_violation(&e) => {
            return Err(VisitError::AlreadyOpen {
                visit_id: None,
                token: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    hms_patients::api::record_visit(tx, PatientId(patient_id), today_day).await?;
    q::enqueue(
        tx,
        id,
        point.id,
        priority.level(),
        Some(priority.code()).filter(|c| !c.is_empty()),
        actor.user_id,
        &now,
    )
    .await?;
    crate::fees::post_consultation_fee(tx, id, patient_id, &point.code, actor).await?;
    audit::record(
        tx,
        actor,
        Event::new("visit.checkin", "visit", Some(id))
            .patient(patient_id)
            .detail(json!({
                "day": day,
                "token": token,
                "payer": payer,
                "point": point.code,
                "priority": priority.code(),
                "appointment": appointment_id,
            })),
    )
    .await?;
    Ok(Visit {
        id,
        patient_id,
        appointment_id,
        day,
        token,
        payer: payer.to_string(),
        status: "open".into(),
        checked_in_at: now,
    })
}

/// The patient's open visit of today, if any (for modules that attach work to the visit).
pub async fn open_visit(db: &Db, patient_id: i64) -> Result<Option<Visit>, DbError> {
    Ok(q::open_visit(db.read(), patient_id, &day_text(today()))
        .await?
        .map(Visit::from))
}

/// A visit by id.
pub async fn visit(db: &Db, visit_id: i64) -> Result<Option<Visit>, DbError> {
    Ok(q::visit(db.read(), visit_id).await?.map(Visit::from))
}

/// A queue entry by id.
pub async fn entry(db: &Db, entry_id: i64) -> Result<Option<QueueEntry>, DbError> {
    Ok(q::entry(db.read(), entry_id).await?.map(QueueEntry::from))
}

async fn open_visit_row(tx: &mut Tx, visit_id: i64) -> Result<q::VisitRow, VisitError> {
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
    visit_id: i64,
    point_code: &str,
    priority: Option<Priority>,
    actor: &Actor,
) -> Result<QueueEntry, VisitError> {
    let visit = open_visit_row(tx, visit_id).await?;
    let point = q::point(&mut **tx, point_code)
        .await?
        .ok_or(VisitError::UnknownPoint)?;
    let active = q::active_entry_tx(tx, visit_id).await?;
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
        Event::new("queue.send", "visit", Some(visit.id))
            .patient(visit.patient_id)
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
    visit_id: i64,
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
        Err(e) if is_unique_violation(&e) => Err(VisitError::Conflict),
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
    let point = q::point(&mut **tx, point_code)
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
                    .patient(called.patient_id)
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
            .patient(before.patient_id)
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
pub async fn complete_visit(tx: &mut Tx, visit_id: i64, actor: &Actor) -> Result<(), VisitError> {
    let visit = open_visit_row(tx, visit_id).await?;
    let now = clock::now_rfc3339();
    let active = q::active_entry_tx(tx, visit_id).await?;
    if let Some(a) = &active {
        end_active(tx, a, "cancelled", actor, &now).await?;
    }
    if !q::close_visit(tx, visit_id, "completed", &now).await? {
        return Err(VisitError::Conflict);
    }
    audit::record(
        tx,
        actor,
        Event::new("visit.complete", "visit", Some(visit_id))
            .patient(visit.patient_id)
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
            .patient(entry.patient_id)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn the_birth_date_suggests_a_priority() {
        let today = d(2026, 11, 25);
        assert_eq!(
            Priority::suggested(d(1961, 11, 25), today),
            Priority::Elderly
        );
        assert_eq!(
            Priority::suggested(d(1961, 11, 26), today),
            Priority::Normal,
            "64 until tomorrow"
        );
        assert_eq!(
            Priority::suggested(d(2021, 11, 26), today),
            Priority::UnderFive
        );
        assert_eq!(
            Priority::suggested(d(2021, 11, 25), today),
            Priority::Normal,
            "five today"
        );
        assert_eq!(Priority::suggested(d(1990, 1, 1), today), Priority::Normal);
    }

    #[test]
    fn emergencies_go_first_then_the_other_priorities() {
        assert!(Priority::Emergency.level() > Priority::Elderly.level());
        for p in [Priority::Elderly, Priority::Pregnant, Priority::UnderFive] {
            assert!(p.level() > Priority::Normal.level());
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.code()), Some(p));
        }
        assert_eq!(Priority::parse("vip"), None);
    }

    #[test]
    fn ages_are_shown_in_the_clinical_unit() {
        let today = d(2026, 3, 15);
        assert_eq!(age_text(d(1992, 3, 15), today), "34 y");
        assert_eq!(age_text(d(1992, 3, 16), today), "33 y");
        assert_eq!(age_text(d(2024, 3, 16), today), "23 m");
        assert_eq!(age_text(d(2026, 2, 16), today), "27 d");
        assert_eq!(age_text(d(2026, 1, 31), d(2026, 2, 28)), "1 m");
        assert_eq!(age_text(d(2026, 3, 20), today), "0 d");
    }

    #[test]
    fn states_round_trip() {
        for s in [
            "waiting",
            "called",
            "serving",
            "done",
            "left",
            "moved",
            "cancelled",
        ] {
            assert_eq!(EntryState::parse(s).map(EntryState::as_str), Some(s));
        }
        assert!(EntryState::Called.is_active() && !EntryState::Left.is_active());
    }
}
