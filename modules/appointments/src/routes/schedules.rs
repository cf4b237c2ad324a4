//! Setting up what can be booked (administrators): clinics, clinicians' working hours, days off
//! and the holidays announced each year (Idd) or gazetted.

use std::collections::HashMap;

use chrono::Datelike;
use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde::Serialize;

use hms_core::dates;
use hms_core::day::Day;
use hms_core::http::{render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use super::typed_day;
use crate::holidays;
use crate::repo::schedules::{self as repo, ClinicFields, BOOKING_KINDS};
use crate::schedule::{clock_text, parse_clock, HoursError, WorkingHours};
use crate::SCHEDULES;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/schedules", P(SCHEDULES), overview),
        RouteSpec::post("/schedules/clinics", P(SCHEDULES), create_clinic),
        RouteSpec::get("/schedules/clinics/:id", P(SCHEDULES), clinic_page),
        RouteSpec::post("/schedules/clinics/:id", P(SCHEDULES), update_clinic),
        RouteSpec::post("/schedules/clinics/:id/hours", P(SCHEDULES), add_hours),
        RouteSpec::post("/schedules/hours/:id/remove", P(SCHEDULES), remove_hours),
        RouteSpec::post("/schedules/days-off", P(SCHEDULES), add_day_off),
        RouteSpec::post("/schedules/days-off/remove", P(SCHEDULES), remove_day_off),
        RouteSpec::post("/schedules/holidays", P(SCHEDULES), declare_holiday),
        RouteSpec::post("/schedules/holidays/remove", P(SCHEDULES), remove_holiday),
    ]
}

/// Weekdays as (ISO number, translated name).
pub(crate) fn weekdays() -> Vec<(i64, String)> {
    crate::schedule::WEEKDAY_KEYS
        .iter()
        .enumerate()
        .map(|(i, key)| (i as i64 + 1, t(key)))
        .collect()
}

/// (id, name) pairs as text, for a select that compares with what was typed.
fn options(pairs: &[(i64, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(id, name)| (id.to_string(), name.clone()))
        .collect()
}

#[derive(Serialize)]
struct HolidayShown {
    day: String,
    name: String,
    declared: bool,
}

async fn overview_page(
    cx: &Ctx,
    status: StatusCode,
    errors: &FormErrors,
    values: &HashMap<String, String>,
    checked: &[i64],
) -> AppResult<Response> {
    let db = &cx.app().db;
    let declared = repo::declared_holidays(db).await?;
    let year = Day::today().date().year();
    let mut shown: Vec<HolidayShown> = Vec::new();
    for y in [year, year + 1] {
        for h in holidays::holidays(y, &declared) {
            // The coming twelve months.
            if h.date >= Day::today().date()
                && h.date <= Day::today().date() + chrono::Duration::days(365)
            {
                let is_declared = declared.contains(&h);
                shown.push(HolidayShown {
                    day: dates::text(h.date),
                    name: if is_declared {
                        h.name
                    } else {
                        holidays::name_in_language(&h.name)
                    },
                    declared: is_declared,
                });
            }
        }
    }
    let mut c = tera::Context::new();
    c.insert("clinics", &repo::clinics(db).await?);
    c.insert("holidays", &shown);
    c.insert("days_off", &repo::days_off(db, Day::today()).await?);
    c.insert("clinicians", &options(&repo::clinicians(db).await?));
    c.insert("weekdays", &weekdays());
    c.insert("checked_weekdays", &checked);
    c.insert("booking_kinds", BOOKING_KINDS);
    c.insert("errors", errors);
    c.insert("values", values);
    render_status(cx, status, "appointments/schedules.html", c)
}

#[handler]
pub async fn overview(cx: Ctx) -> AppResult<Response> {
    let mut values = HashMap::new();
    values.insert("booking".to_string(), "slots".to_string());
    values.insert("slot_minutes".to_string(), "15".to_string());
    values.insert("daily_capacity".to_string(), "40".to_string());
    overview_page(&cx, StatusCode::OK, &FormErrors::new(), &values, &[]).await
}

fn typed(form: &Form, keys: &[&str]) -> HashMap<String, String> {
    keys.iter()
        .map(|k| (k.to_string(), form.get(k).trim().to_string()))
        .collect()
}

const CLINIC_KEYS: &[&str] = &[
    "name",
    "booking",
    "slot_minutes",
    "daily_capacity",
    "opens_on_holidays",
    "is_active",
];

/// Reads and checks the clinic form.
fn clinic_fields(form: &Form) -> Result<ClinicFields, FormErrors> {
    let mut errors = FormErrors::new();
    let name: String = form.get("name").trim().chars().take(80).collect();
    if name.is_empty() {
        errors.add("name", t("appointments.error_clinic_name"));
    }
    let booking = form.get("booking").trim().to_string();
    if !BOOKING_KINDS.contains(&booking.as_str()) {
        errors.add("booking", t("appointments.error_choose"));
    }
    let number =
        |key: &str, range: std::ops::RangeInclusive<i64>, errors: &mut FormErrors| match form
            .get(key)
            .trim()
            .parse::<i64>()
        {
            Ok(n) if range.contains(&n) => n,
            _ => {
                errors.add(
                    key,
                    t("appointments.error_number")
                        .replace("{min}", &range.start().to_string())
                        .replace("{max}", &range.end().to_string()),
                );
                0
            }
        };
    let (slot_minutes, daily_capacity) = if booking == "day" {
        (15, number("daily_capacity", 1..=2000, &mut errors))
    } else {
        (number("slot_minutes", 5..=240, &mut errors), 0)
    };
    let weekdays = typed_weekdays(form);
    if booking == "day" && weekdays.is_empty() {
        errors.add("weekday", t("appointments.error_weekdays"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ClinicFields {
        name,
        booking,
        slot_minutes,
        daily_capacity,
        opens_on_holidays: form.get("opens_on_holidays") == "1",
        is_active: form.get("is_active") != "0",
        weekdays,
    })
}

fn typed_weekdays(form: &Form) -> Vec<i64> {
    form.all("weekday")
        .iter()
        .filter_map(|d| d.parse::<i64>().ok())
        .filter(|d| (1..=7).contains(d))
        .collect()
}

fn taken_name(e: &hms_core::db::DbError) -> bool {
    matches!(e, hms_core::db::DbError::Unique { .. })
}

#[handler]
pub async fn create_clinic(cx: Ctx, form: Form) -> AppResult<Response> {
    save_clinic(&cx, None, &form).await
}

/// Saves the clinic form (a new clinic when `id` is None); a refused form is shown again where
/// it was filled in: the overview for a new clinic, the clinic's page otherwise.
async fn save_clinic(cx: &Ctx, id: Option<i64>, form: &Form) -> AppResult<Response> {
    let refused = |status: StatusCode, errors: FormErrors| async move {
        match id {
            None => {
                let values = typed(form, CLINIC_KEYS);
                overview_page(cx, status, &errors, &values, &typed_weekdays(form)).await
            }
            Some(id) => clinic_view(cx, status, id, &errors, None).await,
        }
    };
    let fields = match clinic_fields(form) {
        Ok(f) => f,
        Err(errors) => return refused(StatusCode::UNPROCESSABLE_ENTITY, errors).await,
    };
    let mut tx = cx.app().db.begin().await?;
    match repo::save_clinic(&mut tx, id, &fields, &cx.actor()).await {
        Ok(id) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("appointments.clinic_saved"));
            Ok(see_other(&format!("/schedules/clinics/{id}")))
        }
        Err(e) if taken_name(&e) => {
            drop(tx);
            let mut errors = FormErrors::new();
            errors.add("name", t("appointments.error_clinic_taken"));
            refused(StatusCode::CONFLICT, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn clinic_view(
    cx: &Ctx,
    status: StatusCode,
    id: i64,
    errors: &FormErrors,
    values: Option<&HashMap<String, String>>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let clinic = repo::clinic(db, id).await?.ok_or(AppError::NotFound)?;
    let hours: Vec<serde_json::Value> = repo::hours_of_clinic(db, id)
        .await?
        .into_iter()
        .map(|h| {
            serde_json::json!({
                "id": h.id,
                "clinician": h.clinician,
                "weekday": h.hours.weekday,
                "start": clock_text(h.hours.start),
                "end": clock_text(h.hours.end),
                "break": h.hours.break_start.zip(h.hours.break_end)
                    .map(|(s, e)| format!("{}–{}", clock_text(s), clock_text(e))),
            })
        })
        .collect();
    // The clinic's settings fill its form; what was typed in the hours form is kept beside them.
    let mut shown: HashMap<String, String> = values.cloned().unwrap_or_default();
    for (k, v) in [
        ("name", clinic.name.clone()),
        ("booking", clinic.booking.clone()),
        ("slot_minutes", clinic.slot_minutes.to_string()),
        ("daily_capacity", clinic.daily_capacity.to_string()),
        (
            "opens_on_holidays",
            if clinic.opens_on_holidays { "1" } else { "" }.to_string(),
        ),
    ] {
        shown.insert(k.to_string(), v);
    }
    let mut c = tera::Context::new();
    c.insert("clinic", &clinic);
    c.insert("hours", &hours);
    c.insert("clinicians", &options(&repo::clinicians(db).await?));
    c.insert("weekdays", &weekdays());
    c.insert("weekday_options", &options(&weekdays()));
    c.insert("checked_weekdays", &clinic.weekdays);
    c.insert("booking_kinds", BOOKING_KINDS);
    c.insert("errors", errors);
    c.insert("values", &shown);
    render_status(cx, status, "appointments/clinic.html", c)
}

#[handler]
pub async fn clinic_page(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    clinic_view(&cx, StatusCode::OK, id, &FormErrors::new(), None).await
}

#[handler]
pub async fn update_clinic(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    if repo::clinic(&cx.app().db, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    save_clinic(&cx, Some(id), &form).await
}

const HOURS_KEYS: &[&str] = &[
    "clinician",
    "weekday",
    "start",
    "end",
    "break_start",
    "break_end",
];

#[handler]
pub async fn add_hours(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    repo::clinic(db, id).await?.ok_or(AppError::NotFound)?;
    let values = typed(&form, HOURS_KEYS);
    let mut errors = FormErrors::new();
    let clinician = form.get("clinician").parse::<i64>().ok().filter(|c| *c > 0);
    let clinicians = repo::clinicians(db).await?;
    if !clinicians.iter().any(|(c, _)| Some(*c) == clinician) {
        errors.add("clinician", t("appointments.error_choose"));
    }
    let time = |key: &str, errors: &mut FormErrors| {
        let v = form.get(key).trim();
        let parsed = parse_clock(v);
        if parsed.is_none() {
            errors.add(key, t("appointments.error_time"));
        }
        parsed
    };
    let start = time("start", &mut errors);
    let end = time("end", &mut errors);
    let (break_start, break_end) =
        if form.get("break_start").trim().is_empty() && form.get("break_end").trim().is_empty() {
            (None, None)
        } else {
            (
                time("break_start", &mut errors),
                time("break_end", &mut errors),
            )
        };
    let hours = WorkingHours {
        weekday: form.get("weekday").parse().unwrap_or(0),
        start: start.unwrap_or(0),
        end: end.unwrap_or(0),
        break_start,
        break_end,
    };
    if errors.is_empty() {
        match hours.check() {
            Ok(()) => {}
            Err(HoursError::Weekday) => errors.add("weekday", t("appointments.error_choose")),
            Err(HoursError::EndBeforeStart) => errors.add("end", t("appointments.error_end")),
            Err(HoursError::BreakOutside) => {
                errors.add("break_start", t("appointments.error_break"))
            }
        }
    }
    let (Some(clinician), true) = (clinician, errors.is_empty()) else {
        return clinic_view(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            id,
            &errors,
            Some(&values),
        )
        .await;
    };
    let mut tx = db.begin().await?;
    repo::add_hours(&mut tx, id, clinician, &hours, &cx.actor()).await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("appointments.hours_added"));
    Ok(see_other(&format!("/schedules/clinics/{id}")))
}

#[handler]
pub async fn remove_hours(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let mut tx = cx.app().db.begin().await?;
    let clinic = repo::remove_hours(&mut tx, id, &cx.actor()).await?;
    tx.commit().await?;
    match clinic {
        Some(clinic) => {
            cx.flash(FlashKind::Success, t("appointments.hours_removed"));
            Ok(see_other(&format!("/schedules/clinics/{clinic}")))
        }
        None => Ok(see_other("/schedules")),
    }
}

#[handler]
pub async fn add_day_off(cx: Ctx, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let values = typed(&form, &["off_clinician", "off_day", "off_reason"]);
    let mut errors = FormErrors::new();
    let clinician = form.get("off_clinician").parse::<i64>().unwrap_or(0);
    if !repo::clinicians(db)
        .await?
        .iter()
        .any(|(c, _)| *c == clinician)
    {
        errors.add("off_clinician", t("appointments.error_choose"));
    }
    let day = match typed_day(form.get("off_day")) {
        Err(message) => {
            errors.add("off_day", message);
            None
        }
        Ok(d) if d < Day::today() => {
            errors.add("off_day", t("appointments.error_past"));
            None
        }
        Ok(d) => Some(d),
    };
    let (Some(day), true) = (day, errors.is_empty()) else {
        return overview_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &errors, &values, &[]).await;
    };
    let reason: String = form.get("off_reason").trim().chars().take(100).collect();
    let mut tx = db.begin().await?;
    let reason = Some(reason.as_str()).filter(|r| !r.is_empty());
    repo::add_day_off(&mut tx, clinician, day, reason, &cx.actor()).await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("appointments.day_off_added"));
    Ok(see_other("/schedules"))
}

#[handler]
pub async fn remove_day_off(cx: Ctx, form: Form) -> AppResult<Response> {
    let clinician = form.get("clinician").parse::<i64>().unwrap_or(0);
    let mut tx = cx.app().db.begin().await?;
    repo::remove_day_off(&mut tx, clinician, form.get("day"), &cx.actor()).await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("appointments.day_off_removed"));
    Ok(see_other("/schedules"))
}

#[handler]
pub async fn declare_holiday(cx: Ctx, form: Form) -> AppResult<Response> {
    let values = typed(&form, &["holiday_day", "holiday_name"]);
    let mut errors = FormErrors::new();
    let day = match typed_day(form.get("holiday_day")) {
        Ok(d) => Some(d),
        Err(message) => {
            errors.add("holiday_day", message);
            None
        }
    };
    let name: String = form.get("holiday_name").trim().chars().take(80).collect();
    if name.is_empty() {
        errors.add("holiday_name", t("appointments.error_holiday_name"));
    }
    let (Some(day), true) = (day, errors.is_empty()) else {
        return overview_page(&cx, StatusCode::UNPROCESSABLE_ENTITY, &errors, &values, &[]).await;
    };
    let mut tx = cx.app().db.begin().await?;
    repo::declare_holiday(&mut tx, day, &name, &cx.actor()).await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("appointments.holiday_added"));
    Ok(see_other("/schedules"))
}

#[handler]
pub async fn remove_holiday(cx: Ctx, form: Form) -> AppResult<Response> {
    let mut tx = cx.app().db.begin().await?;
    repo::remove_holiday(&mut tx, form.get("day"), &cx.actor()).await?;
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("appointments.holiday_removed"));
    Ok(see_other("/schedules"))
}
