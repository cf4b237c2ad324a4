//! Check-in and the service-point queues: reception checks a patient in (a booked patient or a
//! walk-in) and prints the token slip; each service point's screen lists who is waiting, for how
//! long, and calls, serves and sends patients on. The lists refresh themselves (HTMX polling).

use chrono::{DateTime, NaiveDate, Utc};
use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{
    hx_or_see_other, render, render_part, render_status, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{clock, AppError, AppResult};

use super::{payer_label, PAYERS};
use crate::repo::queue as q;
use crate::visits::{self, Priority, VisitError};
use crate::{CALL, CHECKIN};

/// Most lines a queue screen shows.
const QUEUE_LIMIT: i64 = 200;
/// Most patients the check-in search lists.
const SEARCH_LIMIT: i64 = 20;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/visits/checkin", P(CHECKIN), checkin_form),
        RouteSpec::post("/visits", P(CHECKIN), check_in),
        RouteSpec::get("/visits/:id/slip", P(CHECKIN), slip),
        RouteSpec::get("/queues", P(CALL), queues),
        RouteSpec::get("/queues/:code", P(CALL), queue),
        RouteSpec::post("/queues/:code/call", P(CALL), call_next),
        RouteSpec::post("/queues/:code/entries/:id/serve", P(CALL), serve),
        RouteSpec::post("/queues/:code/entries/:id/send", P(CALL), send),
        RouteSpec::post("/queues/:code/entries/:id/complete", P(CALL), complete),
        RouteSpec::post("/queues/:code/entries/:id/left", P(CALL), left),
        RouteSpec::get("/cards/queues", P(CALL), card),
    ]
}

fn full_name(first: &str, middle: Option<&str>, last: &str) -> String {
    [first, middle.unwrap_or(""), last]
        .iter()
        .filter(|n| !n.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn birth_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Whole minutes from a stored RFC 3339 time to `now` (0 when unreadable or in the future).
fn minutes_since(at: &str, now: DateTime<Utc>) -> i64 {
    DateTime::parse_from_rfc3339(at)
        .map(|t| (now - t.with_timezone(&Utc)).num_minutes().max(0))
        .unwrap_or(0)
}

/// A patient as the check-in screen shows them.
#[derive(Serialize)]
struct PatientShown {
    id: i64,
    number: String,
    name: String,
    age: String,
    sex: String,
}

fn sex_label(sex: &str) -> String {
    match sex {
        "female" => t("patients.sex_female"),
        "male" => t("patients.sex_male"),
        other => other.to_string(),
    }
}

fn patient_shown(p: &q::PatientRow, today: NaiveDate) -> PatientShown {
    PatientShown {
        id: p.id,
        number: p.number.clone(),
        name: full_name(&p.first_name, p.middle_name.as_deref(), &p.last_name),
        age: birth_date(&p.date_of_birth)
            .map(|d| visits::age_text(d, today))
            .unwrap_or_default(),
        sex: sex_label(&p.sex),
    }
}

fn priority_choices() -> Vec<(&'static str, String)> {
    Priority::ALL
        .iter()
        .map(|p| (p.code(), p.label()))
        .collect()
}

fn payer_choices() -> Vec<(&'static str, String)> {
    PAYERS.iter().map(|(v, key)| (*v, t(key))).collect()
}

async fn point_choices(cx: &Ctx) -> AppResult<Vec<(String, String)>> {
    Ok(q::points(&cx.app().db)
        .await?
        .into_iter()
        .map(|p| (p.code, p.name))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Check-in
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct CheckinQuery {
    #[serde(default)]
    patient: Option<i64>,
    #[serde(default)]
    appointment: Option<i64>,
    #[serde(default)]
    q: String,
}

/// What the check-in form was filled with.
#[derive(Debug, Default, Serialize)]
struct CheckinValues {
    payer: String,
    point: String,
    priority: String,
}

/// The appointment a booked patient arrives for.
#[derive(Serialize)]
struct AppointmentShown {
    id: i64,
    clinic: String,
    day: String,
}

struct CheckinPage<'a> {
    patient: &'a q::PatientRow,
    appointment: Option<AppointmentShown>,
    values: CheckinValues,
    errors: FormErrors,
    /// The patient's open visit today, when a second check-in was refused.
    open_visit: Option<visits::Visit>,
}

async fn checkin_page(cx: &Ctx, status: StatusCode, page: CheckinPage<'_>) -> AppResult<Response> {
    let today = visits::today();
    let mut c = tera::Context::new();
    c.insert("patient", &patient_shown(page.patient, today));
    c.insert("appointment", &page.appointment);
    c.insert("values", &page.values);
    c.insert("errors", &page.errors);
    c.insert("open_visit", &page.open_visit);
    c.insert("payers", &payer_choices());
    c.insert("points", &point_choices(cx).await?);
    c.insert("priorities", &priority_choices());
    c.insert("q", "");
    c.insert("results", &Vec::<()>::new());
    render_status(cx, status, "appointments/checkin.html", c)
}

#[handler]
pub async fn checkin_form(cx: Ctx, Query(query): Query<CheckinQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let mut appointment = None;
    let mut patient_id = query.patient;
    if let Some(id) = query.appointment {
        let (owner, day, _status, clinic) =
            q::appointment(db, id).await?.ok_or(AppError::NotFound)?;
        patient_id = Some(owner);
        appointment = Some(AppointmentShown { id, clinic, day });
    }
    let Some(patient_id) = patient_id else {
        return search_page(&cx, &query.q).await;
    };
    let patient = q::patient(db.read(), patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let (Some(survivor), None) = (patient.merged_into, &appointment) {
        // A merged record: check in the record it was merged into.
        return Ok(hms_core::http::see_other(&format!(
            "/visits/checkin?patient={survivor}"
        )));
    }
    cx.audit_read(
        Event::new("visit.checkin_form", "patient", Some(patient.id)).patient(patient.id),
    )
    .await;
    let suggested = birth_date(&patient.date_of_birth)
        .map(|d| Priority::suggested(d, visits::today()))
        .unwrap_or(Priority::Normal);
    let open_visit = visits::open_visit(db, patient.id).await?;
    checkin_page(
        &cx,
        StatusCode::OK,
        CheckinPage {
            patient: &patient,
            appointment,
            values: CheckinValues {
                payer: String::new(),
                point: visits::FIRST_POINT.into(),
                priority: suggested.code().into(),
            },
            errors: FormErrors::new(),
            open_visit,
        },
    )
    .await
}

/// The check-in page before a patient is chosen: a live search by number or name.
async fn search_page(cx: &Ctx, typed: &str) -> AppResult<Response> {
    let q: String = typed.trim().chars().take(80).collect();
    let mut results = Vec::new();
    if !q.is_empty() {
        results = hms_patients::api::search(&cx.app().db, &q, "", SEARCH_LIMIT)
            .await?
            .0;
        // One audit row per search, without the typed text (it may be a name).
        cx.audit_read(
            Event::new("patient.search", "patient", None)
                .detail(json!({"results": results.len(), "screen": "checkin"})),
        )
        .await;
    }
    let mut c = tera::Context::new();
    c.insert("patient", &None::<()>);
    c.insert("q", &q);
    c.insert("results", &results);
    render_part(
        cx,
        "appointments/checkin.html",
        "appointments/_checkin_results.html",
        c,
    )
}

#[handler]
pub async fn check_in(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let patient_id: i64 = form
        .get("patient")
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("patient".into()))?;
    let appointment_id: Option<i64> = match form.get("appointment").trim() {
        "" => None,
        a => Some(
            a.parse()
                .map_err(|_| AppError::BadRequest("appointment".into()))?,
        ),
    };
    let patient = q::patient(app.db.read(), patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let appointment = match appointment_id {
        Some(id) => q::appointment(&app.db, id)
            .await?
            .map(|(_, day, _, clinic)| AppointmentShown { id, clinic, day }),
        None => None,
    };
    let values = CheckinValues {
        payer: form.get("payer").trim().to_string(),
        point: form.get("point").trim().to_string(),
        priority: form.get("priority").trim().to_string(),
    };
    let mut errors = FormErrors::new();
    if !visits::is_payer(&values.payer) {
        errors.add("payer", t("appointments_queue.error_payer"));
    }
    let priority = Priority::parse(&values.priority);
    if priority.is_none() {
        errors.add("priority", t("appointments_queue.error_priority"));
    }
    if q::point(app.db.read(), &values.point).await?.is_none() {
        errors.add("point", t("appointments_queue.error_point"));
    }
    let page = |values, errors, open_visit| CheckinPage {
        patient: &patient,
        appointment,
        values,
        errors,
        open_visit,
    };
    let Some(priority) = priority.filter(|_| errors.is_empty()) else {
        return checkin_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            page(values, errors, None),
        )
        .await;
    };

    let mut tx = app.db.begin().await?;
    let result = visits::check_in(
        &mut tx,
        patient_id,
        appointment_id,
        &values.payer,
        &values.point,
        priority,
        &cx.actor(),
    )
    .await;
    let visit = match result {
        Ok(v) => v,
        Err(VisitError::Db(e)) => return Err(e.into()),
        Err(VisitError::PatientNotFound) => return Err(AppError::NotFound),
        Err(e) => {
            drop(tx);
            let status = match e {
                VisitError::UnknownPayer | VisitError::UnknownPoint => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::CONFLICT,
            };
            let open_visit = match e {
                VisitError::AlreadyOpen { .. } => visits::open_visit(&app.db, patient_id).await?,
                _ => None,
            };
            errors.add("form", e.message());
            return checkin_page(&cx, status, page(values, errors, open_visit)).await;
        }
    };
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("appointments_queue.checked_in").replace("{token}", &visit.token.to_string()),
    );
    Ok(hx_or_see_other(&cx, &format!("/visits/{}/slip", visit.id)))
}

/// The token slip, for an 80 mm thermal printer: the token in large figures, where to go and
/// the date. The patient number identifies the slip at the desk; the name is not printed.
#[handler]
pub async fn slip(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let db = &cx.app().db;
    let visit = visits::visit(db, id).await?.ok_or(AppError::NotFound)?;
    let patient = q::patient(db.read(), visit.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let first = q::first_entry_point(db, visit.id).await?;
    cx.audit_read(
        Event::new("visit.slip", "visit", Some(visit.id))
            .patient(visit.patient_id)
            .detail(json!({"token": visit.token})),
    )
    .await;
    let mut c = tera::Context::new();
    c.insert("visit", &visit);
    c.insert("number", &patient.number);
    c.insert("payer", &payer_label(&visit.payer));
    c.insert("checked_in", &clock::display_rfc3339(&visit.checked_in_at));
    c.insert(
        "go_to",
        &first.map(|p| p.room.unwrap_or(p.name)).unwrap_or_default(),
    );
    render(&cx, "appointments/visit_slip.html", c)
}

// ---------------------------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------------------------

/// A service point with its waiting figures.
#[derive(Serialize)]
struct PointShown {
    code: String,
    name: String,
    room: String,
    waiting: i64,
    longest_minutes: i64,
}

async fn points_shown(cx: &Ctx) -> AppResult<Vec<PointShown>> {
    let db = &cx.app().db;
    let counts = q::waiting_counts(db).await?;
    let now = Utc::now();
    Ok(q::points(db)
        .await?
        .into_iter()
        .map(|p| {
            let found = counts.iter().find(|(id, _, _)| *id == p.id);
            PointShown {
                waiting: found.map(|c| c.1).unwrap_or(0),
                longest_minutes: found
                    .and_then(|c| c.2.as_deref())
                    .map(|at| minutes_since(at, now))
                    .unwrap_or(0),
                code: p.code,
                name: p.name,
                room: p.room.unwrap_or_default(),
            }
        })
        .collect())
}

#[handler]
pub async fn queues(cx: Ctx) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("points", &points_shown(&cx).await?);
    c.insert("can_checkin", &cx.can(CHECKIN));
    render(&cx, "appointments/queues.html", c)
}

/// The service point each built-in role usually works at, for "your queue" on the dashboard.
const ROLE_POINTS: &[(&str, &str)] = &[
    ("nurse", "triage"),
    ("doctor", "consultation"),
    ("lab_tech", "laboratory"),
    ("pharmacist", "pharmacy"),
    ("accountant", "cashier"),
];

/// Tokens shown per queue on the dashboard card.
const CARD_TOKENS: i64 = 5;

/// A waiting token on the dashboard card (no name: the card refreshes itself and is glanced at).
#[derive(Serialize)]
struct TokenShown {
    token: i64,
    minutes: i64,
    priority: Option<String>,
}

/// The service points' waiting figures on a dashboard, with the next tokens and their waiting
/// times at the user's own service point (refreshes itself).
#[handler]
pub async fn card(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    let user = cx.require_user()?;
    let points = points_shown(&cx).await?;
    let now = Utc::now();
    let mut mine = Vec::new();
    for (role, code) in ROLE_POINTS {
        let Some(p) = points.iter().find(|p| p.code == *code) else {
            continue;
        };
        if !user.has_role(role) {
            continue;
        }
        let Some(point) = q::point(db.read(), code).await? else {
            continue;
        };
        let tokens: Vec<TokenShown> = q::waiting_tokens(db, point.id, CARD_TOKENS)
            .await?
            .into_iter()
            .map(|(token, at, reason)| TokenShown {
                token,
                minutes: minutes_since(&at, now),
                priority: Priority::parse(reason.as_deref().unwrap_or(""))
                    .filter(|p| *p != Priority::Normal)
                    .map(Priority::label),
            })
            .collect();
        mine.push(json!({"code": p.code, "name": p.name, "waiting": p.waiting, "tokens": tokens}));
    }
    let mut c = tera::Context::new();
    c.insert("points", &points);
    c.insert("mine", &mine);
    render(&cx, "appointments/queue_card.html", c)
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    /// Set by the polling request, which wants only the lists.
    #[serde(default)]
    live: Option<String>,
}

/// One line of a queue screen.
#[derive(Serialize)]
struct LineShown {
    entry_id: i64,
    patient_id: i64,
    token: i64,
    number: String,
    name: String,
    age: String,
    sex: String,
    state: String,
    priority: Option<String>,
    emergency: bool,
    minutes: i64,
    called_by: Option<String>,
    payer: String,
}

#[handler]
pub async fn queue(
    cx: Ctx,
    Path(code): Path<String>,
    Query(query): Query<QueueQuery>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let point = q::point(db.read(), &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let today = visits::today();
    let lines: Vec<LineShown> = q::point_lines(db, point.id, QUEUE_LIMIT)
        .await?
        .into_iter()
        .map(|l| {
            let priority = Priority::parse(l.priority_reason.as_deref().unwrap_or(""))
                .filter(|p| *p != Priority::Normal);
            let since = if l.state == "waiting" {
                l.enqueued_at.as_str()
            } else {
                l.called_at.as_deref().unwrap_or(&l.enqueued_at)
            };
            LineShown {
                entry_id: l.entry_id,
                patient_id: l.patient_id,
                token: l.token,
                number: l.number.clone(),
                name: full_name(&l.first_name, l.middle_name.as_deref(), &l.last_name),
                age: birth_date(&l.date_of_birth)
                    .map(|d| visits::age_text(d, today))
                    .unwrap_or_default(),
                sex: sex_label(&l.sex),
                minutes: minutes_since(since, now),
                state: l.state,
                emergency: priority == Some(Priority::Emergency),
                priority: priority.map(Priority::label),
                called_by: l.called_by,
                payer: payer_label(&l.payer),
            }
        })
        .collect();
    let (waiting, active): (Vec<LineShown>, Vec<LineShown>) =
        lines.into_iter().partition(|l| l.state == "waiting");
    let live = query.live.is_some();
    if !live {
        // A queue screen lists patients: one read row per view (the polling refreshes of an
        // open screen continue that view and are not recorded again).
        cx.audit_read(
            Event::new("queue.view", "service_point", Some(point.id)).detail(
                json!({"point": point.code, "waiting": waiting.len(), "active": active.len()}),
            ),
        )
        .await;
    }
    let others: Vec<(String, String)> = point_choices(&cx)
        .await?
        .into_iter()
        .filter(|(c, _)| *c != point.code)
        .collect();
    let mut c = tera::Context::new();
    c.insert(
        "point",
        &json!({"code": point.code, "name": point.name, "room": point.room}),
    );
    c.insert("waiting", &waiting);
    c.insert("active", &active);
    c.insert("others", &others);
    c.insert("can_checkin", &cx.can(CHECKIN));
    c.insert(
        "updated",
        &clock::to_local(now).format("%H:%M:%S").to_string(),
    );
    if live {
        render_part(
            &cx,
            "appointments/queue.html",
            "appointments/_queue_live.html",
            c,
        )
    } else {
        render(&cx, "appointments/queue.html", c)
    }
}

/// Maps a refused queue action to a message on the queue screen.
fn refused(cx: &Ctx, code: &str, e: VisitError) -> AppResult<Response> {
    match e {
        VisitError::Db(e) => Err(e.into()),
        e => {
            cx.flash(FlashKind::Warning, e.message());
            Ok(hx_or_see_other(cx, &format!("/queues/{code}")))
        }
    }
}

#[handler]
pub async fn call_next(cx: Ctx, Path(code): Path<String>) -> AppResult<Response> {
    let app = cx.app();
    let point = q::point(app.db.read(), &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = app.db.begin().await?;
    match visits::call_next(&mut tx, &point.code, &cx.actor()).await {
        Ok(Some(entry)) => {
            tx.commit().await?;
            cx.flash(
                FlashKind::Success,
                t("appointments_queue.called").replace("{token}", &entry.token.to_string()),
            );
        }
        Ok(None) => {
            drop(tx);
            cx.flash(FlashKind::Info, t("appointments_queue.nobody_waiting"));
        }
        Err(e) => {
            drop(tx);
            return refused(&cx, &point.code, e);
        }
    }
    Ok(hx_or_see_other(&cx, &format!("/queues/{}", point.code)))
}

/// The entry `id` of the point `code`: 404 when it is at another point, so a form of one screen
/// cannot act on another point's patient.
async fn entry_at_point(cx: &Ctx, code: &str, id: i64) -> AppResult<visits::QueueEntry> {
    let entry = visits::entry(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if entry.point != code {
        return Err(AppError::NotFound);
    }
    Ok(entry)
}

/// What a queue action does, once its entry is known to belong to the screen's point.
enum Action<'a> {
    Serve,
    Send(&'a str),
    Complete,
    Left,
}

async fn act(cx: &Ctx, code: &str, id: i64, action: Action<'_>) -> AppResult<Response> {
    let app = cx.app();
    let entry = entry_at_point(cx, code, id).await?;
    let actor = cx.actor();
    let mut tx = app.db.begin().await?;
    let token = entry.token.to_string();
    let done = match action {
        Action::Serve => visits::serve(&mut tx, entry.id, &actor)
            .await
            .map(|_| t("appointments_queue.serving").replace("{token}", &token)),
        Action::Send(to) => match q::point(app.db.read(), to).await? {
            Some(p) => visits::finish(&mut tx, entry.id, Some(&p.code), &actor)
                .await
                .map(|_| {
                    t("appointments_queue.sent")
                        .replace("{token}", &token)
                        .replace("{point}", &p.name)
                }),
            None => Err(VisitError::UnknownPoint),
        },
        Action::Complete => visits::finish(&mut tx, entry.id, None, &actor)
            .await
            .map(|_| t("appointments_queue.completed").replace("{token}", &token)),
        Action::Left => visits::left_without_being_seen(&mut tx, entry.id, &actor)
            .await
            .map(|_| t("appointments_queue.left_recorded").replace("{token}", &token)),
    };
    match done {
        Ok(message) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, message);
            Ok(hx_or_see_other(cx, &format!("/queues/{code}")))
        }
        Err(e) => {
            drop(tx);
            refused(cx, code, e)
        }
    }
}

#[handler]
pub async fn serve(cx: Ctx, Path((code, id)): Path<(String, i64)>) -> AppResult<Response> {
    act(&cx, &code, id, Action::Serve).await
}

#[handler]
pub async fn send(
    cx: Ctx,
    Path((code, id)): Path<(String, i64)>,
    form: Form,
) -> AppResult<Response> {
    act(&cx, &code, id, Action::Send(form.get("point").trim())).await
}

#[handler]
pub async fn complete(cx: Ctx, Path((code, id)): Path<(String, i64)>) -> AppResult<Response> {
    act(&cx, &code, id, Action::Complete).await
}

#[handler]
pub async fn left(cx: Ctx, Path((code, id)): Path<(String, i64)>) -> AppResult<Response> {
    act(&cx, &code, id, Action::Left).await
}
