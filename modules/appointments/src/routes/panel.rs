//! The appointments panel on the patient chart: today's visit and the coming bookings of the
//! patient (and of records merged into the patient). Loaded on its own by the chart; also a
//! page of its own for browsers without JavaScript.

use poem::web::Query;
use poem::{handler, Response};
use serde::{Deserialize, Serialize};

use hms_core::audit::Event;
use hms_core::day::Day;
use hms_core::http::{render, Access, Ctx, RouteSpec};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::{AppError, AppResult};

use super::{payer_label, status_label};
use crate::repo::reporting as repo;
use crate::schedule::clock_text;

/// Most records (the patient and merged ones) one panel reads, and bookings it lists.
const MAX_RECORDS: usize = 20;
const UPCOMING_SHOWN: i64 = 5;

pub fn routes() -> Vec<RouteSpec> {
    vec![RouteSpec::get(
        "/appointments/chart-panel",
        Access::Permission(crate::VIEW),
        chart_panel,
    )]
}

#[derive(Deserialize)]
pub struct PanelQuery {
    #[serde(default)]
    patients: String,
}

#[derive(Serialize)]
struct Upcoming {
    id: i64,
    when: String,
    clinic: String,
    clinician: Option<String>,
    status: String,
}

/// `patients` as the chart fills it: the chart's id, then ids merged into it.
fn records(list: &str) -> Option<Vec<PatientId>> {
    let ids: Option<Vec<PatientId>> = list
        .split(',')
        .take(MAX_RECORDS)
        .map(|s| s.trim().parse().ok())
        .collect();
    ids.filter(|ids| !ids.is_empty())
}

#[handler]
pub async fn chart_panel(cx: Ctx, Query(q): Query<PanelQuery>) -> AppResult<Response> {
    let patients = records(&q.patients).ok_or(AppError::NotFound)?;
    let db = &cx.app().db;
    let today = Day::today();
    let (mut upcoming, mut visit) = (Vec::new(), None);
    for &p in &patients {
        upcoming.extend(repo::appointments_of(db, p, (Some(today), true), UPCOMING_SHOWN).await?);
        if visit.is_none() {
            visit = repo::visits_of(db, p, 1)
                .await?
                .into_iter()
                .find(|v| v.day == today);
        }
    }
    cx.audit_read(
        Event::new(
            "appointments.chart_panel",
            "patient",
            Some(patients[0].get()),
        )
        .patient(patients[0].get()),
    )
    .await;
    upcoming.sort_by_key(|a| (a.day, a.start_minute, a.id));
    upcoming.truncate(UPCOMING_SHOWN as usize);
    let mut c = tera::Context::new();
    c.insert(
        "upcoming",
        &upcoming
            .into_iter()
            .map(|a| Upcoming {
                id: a.id,
                when: match a.start_minute {
                    Some(m) => format!(
                        "{} {}",
                        a.day.display(),
                        clock_text(u32::try_from(m).unwrap_or(0))
                    ),
                    None => a.day.display(),
                },
                clinic: a.clinic,
                clinician: a.clinician,
                status: status_label(&a.status),
            })
            .collect::<Vec<_>>(),
    );
    c.insert(
        "visit",
        &visit.map(|v| {
            (
                t("appointments.visit_token").replace("{token}", &v.token.to_string()),
                payer_label(&v.payer),
            )
        }),
    );
    render(&cx, "appointments/chart_panel.html", c)
}
