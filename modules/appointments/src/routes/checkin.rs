//! Check-in: reception checks a patient in (a booked patient or a walk-in) and prints the token
//! slip. The patient is read through the patients module's card, so name, age and sex show as on
//! every other screen.

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
use hms_core::ids::{PatientId, VisitId};
use hms_core::ui::FormErrors;
use hms_core::{clock, AppError, AppResult};
use hms_patients::api::{self as patients, Choose, PatientCard, Screen};

use super::queue::point_choices;
use super::{payer_label, PAYERS};
use crate::model::{is_payer, Priority};
use crate::repo::queue as q;
use crate::visits::{self, VisitError};
use crate::CHECKIN;

/// Most patients the check-in search lists.
const SEARCH_LIMIT: i64 = 20;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/visits/checkin", P(CHECKIN), checkin_form),
        RouteSpec::post("/visits", P(CHECKIN), check_in),
        RouteSpec::get("/visits/:id/slip", P(CHECKIN), slip),
    ]
}

/// A patient as the check-in screen shows them (the patients module's display rules).
#[derive(Serialize)]
struct PatientShown {
    id: PatientId,
    number: String,
    name: String,
    age: String,
    sex: String,
}

fn patient_shown(p: &PatientCard) -> PatientShown {
    PatientShown {
        id: p.id,
        number: p.number.clone(),
        name: p.full_name.clone(),
        age: p.age_text.clone(),
        sex: p.sex_label.clone(),
    }
}

/// The patient's age in whole years today, when the birth date is known.
fn age_of(p: &PatientCard) -> Option<i32> {
    p.date_of_birth
        .map(|d| crate::model::age_years(d.date(), hms_core::day::Day::today().date()))
}

/// The priorities offered for a patient: the age-bound ones only when the age fits.
fn priority_choices(age: Option<i32>) -> Vec<(&'static str, String)> {
    Priority::ALL
        .iter()
        .filter(|p| p.fits(age))
        .map(|p| (p.code(), p.label()))
        .collect()
}

fn payer_choices() -> Vec<(&'static str, String)> {
    PAYERS.iter().map(|(v, key)| (*v, t(key))).collect()
}

#[derive(Debug, Default, Deserialize)]
pub struct CheckinQuery {
    #[serde(default)]
    patient: Option<PatientId>,
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
    patient: &'a PatientCard,
    appointment: Option<AppointmentShown>,
    values: CheckinValues,
    errors: FormErrors,
    /// The patient's open visit today, when a second check-in was refused.
    open_visit: Option<visits::Visit>,
}

async fn checkin_page(cx: &Ctx, status: StatusCode, page: CheckinPage<'_>) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("patient", &patient_shown(page.patient));
    c.insert("appointment", &page.appointment);
    c.insert("values", &page.values);
    c.insert("errors", &page.errors);
    c.insert("open_visit", &page.open_visit);
    c.insert("payers", &payer_choices());
    c.insert("points", &point_choices(cx).await?);
    c.insert("priorities", &priority_choices(age_of(page.patient)));
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
        appointment = Some(AppointmentShown {
            id,
            clinic,
            day: day.text(),
        });
    }
    let Some(patient_id) = patient_id else {
        return search_page(&cx, &query.q).await;
    };
    let patient = patients::card(db, patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let (Some(survivor), None) = (patient.merged_into, &appointment) {
        // A merged record: check in the record it was merged into.
        return Ok(hms_core::http::see_other(&format!(
            "/visits/checkin?patient={survivor}"
        )));
    }
    cx.audit_read(
        Event::new("visit.checkin_form", "patient", Some(patient.id.get()))
            .patient(patient.id.get()),
    )
    .await;
    let suggested = patient
        .date_of_birth
        .map(|d| Priority::suggested(d.date(), hms_core::day::Day::today().date()))
        .unwrap_or(Priority::Normal);
    if appointment.is_none() {
        // Checked in from the menu: today's booking is the one that arrives.
        appointment = q::booked_of_day(db, patient.id, hms_core::day::Day::today())
            .await?
            .map(|(id, clinic)| AppointmentShown {
                id,
                clinic,
                day: hms_core::day::Day::today().text(),
            });
    }
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
    let picker = patients::picker(
        cx,
        Screen {
            name: "checkin",
            q: typed,
            after: "",
            limit: SEARCH_LIMIT,
            pages: None,
            choose: Some(Choose {
                id: "check-in",
                label: "appointments_queue.check_in",
                href: "/visits/checkin?patient={patient}".into(),
            }),
            // "Book" beside "Check in": the next steps from each result.
            actions: true,
            chart_links: false,
            newest: false,
            no_match: "appointments_queue.no_match",
            exclude: None,
            register: true,
        },
    )
    .await?;
    let mut c = tera::Context::new();
    c.insert("patient", &None::<()>);
    c.insert("q", &picker.q);
    c.insert("picker", &picker);
    render_part(
        cx,
        "appointments/checkin.html",
        "appointments/_checkin_results.html",
        c,
    )
}

/// What the check-in form was filled with, the priority when it is one, and the messages.
async fn checked_values(
    cx: &Ctx,
    form: &Form,
    patient: &PatientCard,
) -> AppResult<(CheckinValues, Option<Priority>, FormErrors)> {
    let values = CheckinValues {
        payer: form.get("payer").trim().to_string(),
        point: form.get("point").trim().to_string(),
        priority: form.get("priority").trim().to_string(),
    };
    let mut errors = FormErrors::new();
    if !is_payer(&values.payer) {
        errors.add("payer", t("appointments_queue.error_payer"));
    }
    let priority = Priority::parse(&values.priority);
    match priority {
        None => errors.add("priority", t("appointments_queue.error_priority")),
        Some(p) if !p.fits(age_of(patient)) => errors.add(
            "priority",
            t("appointments_queue.error_priority_age").replace("{age}", &patient.age_text),
        ),
        Some(_) => {}
    }
    if q::point(cx.app().db.read(), &values.point).await?.is_none() {
        errors.add("point", t("appointments_queue.error_point"));
    }
    Ok((values, priority, errors))
}

/// The patient and appointment a check-in form names (400 when unreadable).
fn form_ids(form: &Form) -> AppResult<(PatientId, Option<i64>)> {
    let patient_id: PatientId = form
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
    Ok((patient_id, appointment_id))
}

#[handler]
pub async fn check_in(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let (patient_id, appointment_id) = form_ids(&form)?;
    let patient = patients::card(&app.db, patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let appointment = match appointment_id {
        Some(id) => q::appointment(&app.db, id)
            .await?
            .map(|(_, day, _, clinic)| AppointmentShown {
                id,
                clinic,
                day: day.text(),
            }),
        None => None,
    };
    let (values, priority, mut errors) = checked_values(&cx, &form, &patient).await?;
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
pub async fn slip(cx: Ctx, Path(id): Path<VisitId>) -> AppResult<Response> {
    let db = &cx.app().db;
    let visit = visits::visit(db, id).await?.ok_or(AppError::NotFound)?;
    let patient = patients::card(db, visit.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let first = q::first_entry_point(db, visit.id).await?;
    cx.audit_read(
        Event::new("visit.slip", "visit", Some(visit.id.get()))
            .patient(visit.patient_id.get())
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
