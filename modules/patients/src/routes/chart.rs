//! The patient chart: banner (allergies first), details, identifiers, and the timeline that other
//! modules contribute to through the core chart contract.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};

use hms_core::audit::Event;
use hms_core::day::Day;
use hms_core::http::{render_status, see_other, Ctx};
use hms_core::ids::PatientId;
use hms_core::module::{ChartLink, TimelineEntry};
use hms_core::ui::FormErrors;
use hms_core::{clock, phone, AppError, AppResult};
use serde::Serialize;

use super::{kin_label, sex_label};
use crate::model;
use crate::repo::{self, Chart};

/// A timeline entry with its time as shown (facility time zone).
#[derive(Serialize)]
struct TimelineShown {
    #[serde(flatten)]
    entry: TimelineEntry,
    when: String,
}

/// Most timeline entries shown on the chart.
const TIMELINE_LIMIT: i64 = 50;

#[handler]
pub async fn chart(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let chart = repo::chart(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if chart.id != id {
        // A merged record: the survivor is the chart.
        return Ok(see_other(&format!("/patients/{}", chart.id)));
    }
    chart_page(&cx, StatusCode::OK, &chart, &FormErrors::new(), ("", "")).await
}

/// Draws the chart; `adding` is the identifier (type, number) being added when it was refused,
/// with its message in `errors`.
pub(crate) async fn chart_page(
    cx: &Ctx,
    status: StatusCode,
    patient: &Chart,
    errors: &FormErrors,
    adding: (&str, &str),
) -> AppResult<Response> {
    cx.audit_read(Event::new("patient.view", "patient", Some(patient.id)).patient(patient.id))
        .await;
    let app = cx.app();
    let d = &patient.details;
    let mut patients = vec![patient.id];
    patients.extend(repo::merged_ids(&app.db, patient.id).await?);
    let timeline = app
        .modules
        .timeline(
            &app.db,
            &patients,
            TIMELINE_LIMIT,
            |m| cx.module_on(m),
            |p| cx.can(p),
        )
        .await;
    let dob = hms_core::day::Day::from_db_text(&d.date_of_birth).map(hms_core::day::Day::date);
    let mut c = tera::Context::new();
    c.insert(
        "age",
        &dob.map(|b| model::age_text(b, d.dob_estimated, Day::today().date()))
            .unwrap_or_default(),
    );
    let shown_phone = |p: &Option<String>| p.as_deref().map(phone::display).unwrap_or_default();
    c.insert("phone", &shown_phone(&d.phone));
    c.insert("kin_phone", &shown_phone(&d.kin_phone));
    c.insert(
        "kin_relationship",
        &d.kin_relationship.as_deref().map(kin_label),
    );
    c.insert(
        "county",
        &d.county_code
            .as_deref()
            .and_then(model::county)
            .map(|c| c.name),
    );
    c.insert(
        "identifiers",
        &patient
            .identifiers
            .iter()
            .map(|(t, v)| (t.as_str(), model::id_type_label(t), v.as_str()))
            .collect::<Vec<_>>(),
    );
    c.insert(
        "addable_types",
        &model::labelled(
            model::ID_TYPES
                .iter()
                .chain(model::OTHER_ID_TYPES)
                .filter(|(t, _)| *t != "none" && !patient.identifiers.iter().any(|(h, _)| h == t)),
        ),
    );
    c.insert("adding", &adding);
    c.insert("errors", errors);
    c.insert("sex", &sex_label(d.sex));
    c.insert("patient", patient);
    c.insert(
        "timeline",
        &timeline
            .into_iter()
            .map(|e| TimelineShown {
                when: clock::display_rfc3339(&e.at),
                entry: e,
            })
            .collect::<Vec<_>>(),
    );
    let (panels, actions) = contributions(cx, &patients);
    c.insert("panels", &panels);
    c.insert("actions", &actions);
    c.insert(
        "allergies",
        &super::allergies::shown(&app.db, patient.id).await?,
    );
    c.insert("can_edit", &cx.can(crate::EDIT));
    c.insert("can_report", &cx.can("audit.patient_report"));
    c.insert("can_merge", &cx.can(crate::MERGE));
    c.insert(
        "merged_records",
        &repo::merge::merged_records(&app.db, patient.id).await?,
    );
    render_status(cx, status, "patients/chart.html", c)
}

/// The panels and actions other modules (and this one) contribute to the chart, for modules that
/// are on and permissions the user holds; `patients` is the chart's id, then merged ids.
fn contributions(cx: &Ctx, patients: &[i64]) -> (Vec<ChartLink>, Vec<ChartLink>) {
    let ids: Vec<PatientId> = patients.iter().map(|&p| PatientId(p)).collect();
    let Some((&this, merged)) = ids.split_first() else {
        return (Vec::new(), Vec::new());
    };
    let modules = &cx.app().modules;
    let panels = modules
        .chart_panels_for(|m| cx.module_on(m), |p| cx.can(p))
        .iter()
        .map(|p| p.link(this, merged))
        .collect();
    (panels, actions_for(cx, this))
}

/// Contributed actions for one patient on the chart (search results get theirs in the picker).
fn actions_for(cx: &Ctx, patient: PatientId) -> Vec<ChartLink> {
    cx.app()
        .modules
        .chart_actions_for(|m| cx.module_on(m), |p| cx.can(p))
        .iter()
        .map(|a| a.link(patient))
        .collect()
}
