//! The lists of bookings: a day or a week per clinic and clinician (with a CSV export), the
//! missed appointments to follow up, and the reception's dashboard card of today.

use chrono::Datelike;
use poem::web::Query;
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::dates;
use hms_core::day::Day;
use hms_core::http::{csv_attachment, render, render_status, Ctx};
use hms_core::ui::csv_cell;
use hms_core::{phone, AppError, AppResult};
use poem::http::StatusCode;

use super::booking::{row, Choice, Row};
use super::status_label;
use crate::repo::booking;
use crate::repo::schedules;
use crate::BOOK;

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ListQuery {
    #[serde(default)]
    day: String,
    #[serde(default)]
    clinic: String,
    #[serde(default)]
    clinician: String,
    /// "week" for the seven days from Monday of `day`'s week.
    #[serde(default)]
    view: String,
}

#[handler]
pub async fn day_list(cx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    // A day nobody could mean (year 262142) shows today, with a word on why.
    let (day, date_notice) = dates::filter(&q.day, Day::today().date());
    let week = q.view == "week";
    let (from, to) = if week {
        let monday = dates::monday_of(day);
        (monday, dates::shift(monday, 6))
    } else {
        (day, day)
    };
    let clinic = Choice::id(&q.clinic);
    let clinician = Choice::id(&q.clinician);
    let rows = booking::between(
        db,
        &dates::text(from),
        &dates::text(to),
        clinic,
        clinician,
        1000,
    )
    .await?;
    cx.audit_read(
        Event::new("appointment.list", "appointment", None).detail(json!({
            "from": dates::text(from), "to": dates::text(to), "rows": rows.len(),
        })),
    )
    .await;
    let mut days: Vec<(String, Vec<Row>)> = Vec::new();
    for b in rows {
        let label = Day::event(&b.day)
            .ok()
            .map(Day::date)
            .map(|d| {
                let weekday = dates::weekday_name(hms_core::i18n::current(), d.weekday());
                format!("{weekday} {}", dates::show(d))
            })
            .unwrap_or_default();
        match days.last_mut() {
            Some((l, list)) if *l == label => list.push(row(b)),
            _ => days.push((label, vec![row(b)])),
        }
    }
    let step = if week { 7 } else { 1 };
    let mut c = tera::Context::new();
    c.insert("days", &days);
    c.insert("day", &dates::text(day));
    c.insert("title_day", &dates::show_long(day));
    c.insert("week", &week);
    c.insert("from", &dates::text(from));
    c.insert("to", &dates::text(to));
    c.insert("prev", &dates::text(dates::shift(day, -step)));
    c.insert("next", &dates::text(dates::shift(day, step)));
    c.insert("clinics", &schedules::clinics(db).await?);
    c.insert("clinicians", &schedules::clinicians(db).await?);
    c.insert("sel_clinic", &clinic.unwrap_or(0));
    c.insert("sel_clinician", &clinician.unwrap_or(0));
    c.insert("q", &q);
    c.insert("can_book", &cx.can(BOOK));
    c.insert("date_notice", &date_notice);
    match date_notice {
        Some(_) => render_status(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "appointments/day.html",
            c,
        ),
        None => render(&cx, "appointments/day.html", c),
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct MissedQuery {
    #[serde(default)]
    clinic: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

#[handler]
pub async fn missed(cx: Ctx, Query(q): Query<MissedQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let (to, to_notice) = dates::filter(&q.to, Day::today().date());
    let (from, from_notice) = dates::filter(&q.from, dates::shift(to, -30));
    let date_notice = to_notice.or(from_notice);
    if let (Some(notice), "csv") = (&date_notice, q.format.as_str()) {
        return Err(AppError::BadRequest(notice.clone()));
    }
    let clinic = Choice::id(&q.clinic);
    let rows = booking::missed(
        db,
        &dates::text(from),
        &dates::text(to),
        &Day::today().text(),
        clinic,
        5000,
    )
    .await?;
    let csv = q.format == "csv";
    cx.audit_read(
        Event::new(
            if csv {
                "appointment.missed_export"
            } else {
                "appointment.missed_list"
            },
            "appointment",
            None,
        )
        .detail(json!({"from": dates::text(from), "to": dates::text(to), "rows": rows.len()})),
    )
    .await;
    if csv {
        let mut out = String::from("day,clinic,patient_number,name,phone,status\r\n");
        for b in &rows {
            let cells = [
                b.day.as_str(),
                b.clinic.as_str(),
                b.number.as_str(),
                b.name.as_str(),
                &b.phone.as_deref().map(phone::display).unwrap_or_default(),
                &status_label(&b.status),
            ]
            .map(csv_cell);
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        return Ok(csv_attachment("hms-missed-appointments", out));
    }
    let mut c = tera::Context::new();
    c.insert("rows", &rows.into_iter().map(row).collect::<Vec<_>>());
    c.insert("from", &dates::text(from));
    c.insert("to", &dates::text(to));
    c.insert("clinics", &schedules::clinics(db).await?);
    c.insert("sel_clinic", &clinic.unwrap_or(0));
    c.insert("q", &q);
    c.insert("date_notice", &date_notice);
    match date_notice {
        Some(_) => render_status(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "appointments/missed.html",
            c,
        ),
        None => render(&cx, "appointments/missed.html", c),
    }
}

#[handler]
pub async fn card_today(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    let (booked, arrived, no_shows) = booking::day_counts(db, &Day::today().text()).await?;
    // Queue lengths, so reception sees where patients are waiting.
    let waiting = crate::repo::queue::waiting_counts(db).await?;
    let queues: Vec<(String, i64)> = crate::repo::queue::points(db)
        .await?
        .into_iter()
        .map(|p| {
            let n = waiting
                .iter()
                .find(|(id, _, _)| *id == p.id)
                .map_or(0, |(_, n, _)| *n);
            (p.name, n)
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("queues", &queues);
    c.insert("booked", &booked);
    c.insert("arrived", &arrived);
    c.insert("no_shows", &no_shows);
    c.insert("day", &Day::today().text());
    render(&cx, "appointments/card_today.html", c)
}
