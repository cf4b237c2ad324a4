//! The patient chart.

use poem::web::Path;
use poem::{handler, Response};

use hms_core::audit::Event;
use hms_core::http::{render, see_other, Ctx};
use hms_core::{phone, AppError, AppResult};

use super::{sex_label, today};
use crate::model;
use crate::repo;

#[handler]
pub async fn chart(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let chart = repo::chart(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if chart.id != id {
        // A merged record: the survivor is the chart.
        return Ok(see_other(&format!("/patients/{}", chart.id)));
    }
    cx.audit_read(Event::new("patient.view", "patient", Some(chart.id)).patient(chart.id))
        .await;
    let dob = chrono::NaiveDate::parse_from_str(&chart.date_of_birth, "%Y-%m-%d").ok();
    let mut c = tera::Context::new();
    c.insert(
        "age",
        &dob.map(|d| model::age_text(d, chart.dob_estimated, today()))
            .unwrap_or_default(),
    );
    c.insert(
        "phone",
        &chart
            .phone
            .as_deref()
            .map(phone::display)
            .unwrap_or_default(),
    );
    c.insert(
        "county",
        &chart
            .county_code
            .as_deref()
            .and_then(model::county)
            .map(|c| c.name),
    );
    c.insert("id_types", model::ID_TYPES);
    c.insert("sex", &sex_label(&chart.sex));
    c.insert("patient", &chart);
    c.insert("can_report", &cx.can("audit.patient_report"));
    render(&cx, "patients/chart.html", c)
}
