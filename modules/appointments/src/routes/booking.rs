//! Booking (reception): pick the patient, the clinic and a clinician's free slot or a clinic day
//! with places left; reschedule, cancel, mark no-shows; day and week lists; missed appointments
//! for follow-up; the reception's dashboard card.

use chrono::NaiveDate;
use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};

use hms_core::audit::Event;
use hms_core::dates;
use hms_core::day::Day;
use hms_core::http::{
    render_part, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::ui::FormErrors;
use hms_core::{phone, AppError, AppResult};
use hms_patients::api::{self as patients, Choose, Screen};

use super::availability::{availability, Availability};
use super::{lists, status_label, typed_day};
use crate::repo::booking::{self, BookError, Booked, Request};
use crate::repo::schedules::{self, Clinic};
use crate::schedule::clock_text;
use crate::{BOOK, MANAGE, VIEW};

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/appointments", P(VIEW), lists::day_list),
        RouteSpec::get("/appointments/book", P(BOOK), book_form),
        RouteSpec::post("/appointments", P(BOOK), book),
        RouteSpec::get("/appointments/missed", P(MANAGE), lists::missed),
        RouteSpec::get("/appointments/cards/today", P(VIEW), lists::card_today),
        RouteSpec::get("/appointments/:id", P(VIEW), show),
        RouteSpec::post("/appointments/:id/cancel", P(BOOK), cancel),
        RouteSpec::post("/appointments/:id/no-show", P(MANAGE), no_show),
    ]
}

/// A day chosen on the booking form, or a stored one (always within the event range).
fn parse_day(s: &str) -> Option<NaiveDate> {
    Day::event(s).ok().map(Day::date)
}

/// What the booking form has chosen so far (from the query or the posted form).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Choice {
    #[serde(default)]
    patient: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    clinic: String,
    #[serde(default)]
    clinician: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    slot: String,
    #[serde(default)]
    reason: String,
    /// The appointment being moved, when rescheduling.
    #[serde(default)]
    reschedule: String,
    /// Which part of the page an HTMX request wants: "patients" (the search results) or the
    /// availability.
    #[serde(default)]
    part: String,
}

impl Choice {
    fn from_form(f: &Form) -> Self {
        let g = |k: &str| f.get(k).trim().to_string();
        Choice {
            patient: g("patient"),
            q: String::new(),
            clinic: g("clinic"),
            clinician: g("clinician"),
            day: g("day"),
            slot: g("slot"),
            reason: g("reason"),
            reschedule: g("reschedule"),
            part: String::new(),
        }
    }
    pub(super) fn id(value: &str) -> Option<i64> {
        value.parse::<i64>().ok().filter(|v| *v > 0)
    }
}

async fn form_page(
    cx: &Ctx,
    status: StatusCode,
    choice: &Choice,
    errors: &FormErrors,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let mut c = tera::Context::new();
    let patient = match Choice::id(&choice.patient) {
        Some(id) => patients::pick(db, PatientId(id)).await?,
        None => None,
    };
    if patient.is_none() {
        // The one patient picker; choosing keeps a reschedule going.
        let moving = Choice::id(&choice.reschedule)
            .map(|r| format!("&reschedule={r}"))
            .unwrap_or_default();
        let picker = patients::picker(
            cx,
            Screen {
                name: "booking",
                q: &choice.q,
                after: "",
                limit: 10,
                pages: None,
                choose: Some(Choose {
                    id: "book",
                    label: "patients.picker_choose",
                    href: format!("/appointments/book?patient={{patient}}{moving}"),
                }),
                actions: true,
                chart_links: false,
                newest: false,
                no_match: "patients.no_match",
                exclude: None,
                register: true,
            },
        )
        .await?;
        c.insert("picker", &picker);
    }
    let clinics: Vec<Clinic> = schedules::clinics(db)
        .await?
        .into_iter()
        .filter(|c| c.is_active)
        .collect();
    let clinic = Choice::id(&choice.clinic).and_then(|id| clinics.iter().find(|c| c.id == id));
    let clinicians = match clinic {
        Some(c) if c.booking == "slots" => schedules::clinicians_of(db, c.id).await?,
        _ => Vec::new(),
    };
    let clinician =
        Choice::id(&choice.clinician).filter(|id| clinicians.iter().any(|(c, _)| c == id));
    let day = parse_day(&choice.day);
    let avail = match (clinic, day) {
        (Some(clinic), Some(day)) => {
            let named = clinician.and_then(|id| {
                clinicians
                    .iter()
                    .find(|(c, _)| *c == id)
                    .map(|(c, name)| (*c, name.as_str()))
            });
            Some(availability(db, clinic, named, day).await?)
        }
        _ => None,
    };
    let moving = match Choice::id(&choice.reschedule) {
        Some(id) => booking::get(db, id).await?,
        None => None,
    };
    c.insert("patient", &patient);
    c.insert("clinics", &clinics);
    c.insert("clinic", &clinic);
    c.insert("clinicians", &clinicians);
    c.insert("availability", &avail);
    c.insert("choice", choice);
    c.insert("moving", &moving);
    c.insert("errors", errors);
    c.insert("can_schedules", &cx.can(crate::SCHEDULES));
    c.insert("chosen_clinician", &clinician.unwrap_or(0));
    c.insert(
        "chosen_slot",
        &choice.slot.parse::<u32>().unwrap_or(u32::MAX),
    );
    if status == StatusCode::OK {
        let part = if choice.part == "patients" {
            "appointments/_book_patients.html"
        } else {
            "appointments/_book_availability.html"
        };
        render_part(cx, "appointments/book.html", part, c)
    } else {
        render_status(cx, status, "appointments/book.html", c)
    }
}

#[handler]
pub async fn book_form(cx: Ctx, Query(choice): Query<Choice>) -> AppResult<Response> {
    form_page(&cx, StatusCode::OK, &choice, &FormErrors::new()).await
}

/// The patient, clinic and day the form names, each with its message when missing or wrong.
async fn chosen(
    cx: &Ctx,
    choice: &Choice,
    errors: &mut FormErrors,
) -> AppResult<(Option<patients::Pick>, Option<Clinic>, Option<NaiveDate>)> {
    let db = &cx.app().db;
    let patient = match Choice::id(&choice.patient) {
        Some(id) => patients::pick(db, PatientId(id)).await?,
        None => None,
    };
    if patient.is_none() {
        errors.add("patient", t("appointments.error_patient"));
    }
    let clinic = match Choice::id(&choice.clinic) {
        Some(id) => schedules::clinic(db, id).await?.filter(|c| c.is_active),
        None => None,
    };
    if clinic.is_none() {
        errors.add("clinic", t("appointments.error_choose"));
    }
    let day = match typed_day(&choice.day) {
        Ok(d) => Some(d.date()),
        Err(message) => {
            errors.add("day", message);
            None
        }
    };
    if let Some(message) = too_long(&choice.reason) {
        errors.add("reason", message);
    }
    Ok((patient, clinic, day))
}

/// The most a booking or cancelling reason holds.
const REASON_MAX: usize = 200;

/// The message for a reason longer than [`REASON_MAX`] characters (refused, never cut).
fn too_long(reason: &str) -> Option<String> {
    (reason.chars().count() > REASON_MAX).then(|| {
        t("appointments.error_reason_long")
            .replace("{max}", &REASON_MAX.to_string())
            .replace("{count}", &reason.chars().count().to_string())
    })
}

#[handler]
pub async fn book(cx: Ctx, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let choice = Choice::from_form(&form);
    if !form.get("refresh").is_empty() {
        // "Show free times" without JavaScript: the form again with what is free, nothing booked.
        return form_page(&cx, StatusCode::OK, &choice, &FormErrors::new()).await;
    }
    let mut errors = FormErrors::new();
    let (patient, clinic, day) = chosen(&cx, &choice, &mut errors).await?;
    let clinician = Choice::id(&choice.clinician);
    let (Some(patient), Some(clinic), Some(day), true) = (patient, clinic, day, errors.is_empty())
    else {
        return form_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &choice, &errors).await;
    };
    // The clinician's name only words the hints, which the redrawn form works out again.
    let avail = availability(db, &clinic, clinician.map(|id| (id, "")), day).await?;
    let start_minute = start_minute(&clinic, clinician, &choice.slot, &avail, &mut errors);
    if !errors.is_empty() {
        let taken = errors.get("slot") == Some(t("appointments.slot_taken").as_str());
        let status = if taken || avail.full {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return form_page(&cx, status, &choice, &errors).await;
    }
    let request = Request {
        patient_id: patient.id,
        clinic_id: clinic.id,
        clinician_id: if clinic.booking == "slots" {
            clinician
        } else {
            None
        },
        day: dates::text(day),
        start_minute,
        reason: Some(choice.reason.clone()).filter(|r| !r.is_empty()),
        capacity: clinic.daily_capacity,
        rescheduled_from: Choice::id(&choice.reschedule),
    };
    let mut tx = db.begin().await?;
    let outcome = async {
        if let Some(old) = request.rescheduled_from {
            booking::close(&mut tx, old, "cancelled", Some("rescheduled"), &cx.actor()).await?;
        }
        booking::book(&mut tx, &request, &cx.actor()).await
    }
    .await;
    let (field, message, status) = match outcome {
        Ok(id) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("appointments.booked"));
            return Ok(see_other(&format!("/appointments/{id}")));
        }
        Err(e) => refusal(e)?,
    };
    drop(tx);
    errors.add(field, message);
    form_page(&cx, status, &choice, &errors).await
}

/// The slot's start minute for a clinic that books slots (`None` for a clinic day), adding the
/// message when the clinician or slot is missing or the slot was taken meanwhile. A day with
/// nothing free is said once, where the form shows what is free (`availability`).
fn start_minute(
    clinic: &Clinic,
    clinician: Option<i64>,
    slot: &str,
    avail: &Availability,
    errors: &mut FormErrors,
) -> Option<i64> {
    if let Some(closed) = &avail.closed {
        errors.add("availability", closed.clone());
        return None;
    }
    if clinic.booking != "slots" {
        return None;
    }
    if clinician.is_none() {
        errors.add("clinician", t("appointments.error_choose"));
        return None;
    }
    match slot.parse::<u32>().ok() {
        Some(s) if avail.slots.iter().any(|(m, _)| *m == s) => Some(i64::from(s)),
        // Offered when the form was drawn, gone now: someone else took it.
        Some(_) => {
            errors.add("slot", t("appointments.slot_taken"));
            None
        }
        None => {
            errors.add("slot", t("appointments.error_slot"));
            None
        }
    }
}

/// A refused booking as (field, message, status); a database failure stays an error.
fn refusal(e: BookError) -> AppResult<(&'static str, String, StatusCode)> {
    Ok(match e {
        BookError::Db(e) => return Err(e.into()),
        BookError::Taken => ("slot", t("appointments.slot_taken"), StatusCode::CONFLICT),
        BookError::Full => ("day", t("appointments.day_full"), StatusCode::CONFLICT),
        BookError::AlreadyBooked => (
            "patient",
            t("appointments.already_booked"),
            StatusCode::CONFLICT,
        ),
        BookError::Stale => (
            "reschedule",
            t("appointments.error_changed"),
            StatusCode::CONFLICT,
        ),
    })
}

async fn load(cx: &Ctx, id: i64) -> AppResult<Booked> {
    let found = booking::get(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    cx.audit_read(
        Event::new("appointment.view", "appointment", Some(id)).patient(found.patient_id.get()),
    )
    .await;
    Ok(found)
}

#[derive(Serialize)]
pub(super) struct Row {
    #[serde(flatten)]
    booked: Booked,
    time: String,
    status_text: String,
    phone_text: String,
}

pub(super) fn row(b: Booked) -> Row {
    Row {
        time: b
            .start_minute
            .and_then(|m| u32::try_from(m).ok())
            .map(clock_text)
            .unwrap_or_default(),
        status_text: status_label(&b.status),
        phone_text: b.phone.as_deref().map(phone::display).unwrap_or_default(),
        booked: b,
    }
}

#[handler]
pub async fn show(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let b = load(&cx, id).await?;
    show_page(&cx, StatusCode::OK, b, &FormErrors::new(), "")
}

fn show_page(
    cx: &Ctx,
    status: StatusCode,
    b: Booked,
    errors: &FormErrors,
    cancel_reason: &str,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("can_book", &cx.can(BOOK));
    c.insert("can_manage", &cx.can(MANAGE));
    c.insert("can_checkin", &cx.can(crate::CHECKIN));
    c.insert("is_today", &(b.day == Day::today().text()));
    c.insert("a", &row(b));
    c.insert("errors", errors);
    c.insert("cancel_reason", cancel_reason);
    render_status(cx, status, "appointments/show.html", c)
}

#[handler]
pub async fn cancel(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let reason = form.get("cancel_reason").trim().to_string();
    let refused = if reason.is_empty() {
        Some(t("appointments.error_cancel_reason"))
    } else {
        too_long(&reason)
    };
    if let Some(message) = refused {
        let b = load(&cx, id).await?;
        let mut errors = FormErrors::new();
        errors.add("cancel_reason", message);
        return show_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, b, &errors, &reason);
    }
    close(
        &cx,
        id,
        "cancelled",
        Some(&reason),
        "appointments.cancelled",
    )
    .await
}

#[handler]
pub async fn no_show(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let b = booking::get(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if parse_day(&b.day).is_some_and(|d| d > Day::today().date()) {
        cx.flash(FlashKind::Warning, t("appointments.no_show_future"));
        return Ok(see_other(&format!("/appointments/{id}")));
    }
    close(&cx, id, "no_show", None, "appointments.marked_no_show").await
}

async fn close(
    cx: &Ctx,
    id: i64,
    status: &str,
    reason: Option<&str>,
    done: &str,
) -> AppResult<Response> {
    let mut tx = cx.app().db.begin().await?;
    match booking::close(&mut tx, id, status, reason, &cx.actor()).await {
        Ok(()) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t(done));
        }
        Err(BookError::Db(e)) => return Err(e.into()),
        Err(_) => cx.flash(FlashKind::Warning, t("appointments.error_changed")),
    }
    Ok(see_other(&format!("/appointments/{id}")))
}
