//! Correcting a record: demographics, further identifiers, and marking a record inactive (a
//! patient is never deleted). Every change is audited with its before and after.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;

use hms_core::day::Day;
use hms_core::http::{render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use super::form_context;
use crate::form::{self, Typed};
use crate::model;
use crate::repo::{self, ChangeError, Chart};

/// The chart of an active (not merged) record, or 404. Edits go to the record itself: a merged
/// record's edit screens lead to the survivor's.
async fn current(cx: &Ctx, id: i64) -> AppResult<Result<Chart, Response>> {
    let chart = repo::chart(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if chart.id != id {
        return Ok(Err(see_other(&format!("/patients/{}", chart.id))));
    }
    Ok(Ok(chart))
}

fn edit_page(
    cx: &Ctx,
    status: StatusCode,
    chart: &Chart,
    values: &Typed,
    errors: &FormErrors,
    version: &str,
) -> AppResult<Response> {
    let mut c = form_context(values, errors);
    c.insert("patient", chart);
    c.insert("allergy_entry", &false);
    c.insert("version", version);
    render_status(cx, status, "patients/edit.html", c)
}

#[handler]
pub async fn edit(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let chart = match current(&cx, id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let values = Typed::from_record(&chart.details, &chart.identifiers);
    edit_page(
        &cx,
        StatusCode::OK,
        &chart,
        &values,
        &FormErrors::new(),
        &chart.version,
    )
}

#[handler]
pub async fn update(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let chart = match current(&cx, id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let v = Typed::from_form(&form);
    let version = form.get("version").to_string();
    let mut valid = match form::validate(&v, false, Day::today().date()) {
        Ok(valid) => valid,
        Err(errors) => {
            return edit_page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &chart,
                &v,
                &errors,
                &version,
            )
        }
    };
    // An estimated date of birth stays estimated unless someone typed a different date.
    if valid.details.date_of_birth == chart.details.date_of_birth {
        valid.details.dob_estimated = chart.details.dob_estimated;
    }
    // Allergies are rows recorded on the chart; the old text column is left as it is.
    valid.details.allergies = chart.details.allergies.clone();
    let mut tx = cx.app().db.begin().await?;
    let mut errors = FormErrors::new();
    match repo::update(&mut tx, id, &version, &valid, &cx.actor()).await {
        Ok(()) => {}
        Err(ChangeError::Stale) => {
            drop(tx);
            errors.add("form", t("patients.error_stale"));
            // Show what is stored now, so the receptionist can redo the change on top of it.
            let fresh = match current(&cx, id).await? {
                Ok(c) => c,
                Err(redirect) => return Ok(redirect),
            };
            let values = Typed::from_record(&fresh.details, &fresh.identifiers);
            return edit_page(
                &cx,
                StatusCode::CONFLICT,
                &fresh,
                &values,
                &errors,
                &fresh.version,
            );
        }
        Err(ChangeError::Taken) => {
            drop(tx);
            let field = identifier_field(&valid.identifiers, &chart.identifiers);
            errors.add(field, t("patients.error_id_taken"));
            return edit_page(&cx, StatusCode::CONFLICT, &chart, &v, &errors, &version);
        }
        Err(ChangeError::Db(e)) => return Err(e.into()),
    }
    tx.commit().await?;
    cx.flash(FlashKind::Success, t("patients.saved"));
    Ok(see_other(&format!("/patients/{id}")))
}

/// Which of the edited identifier fields changed (and so was the one already taken).
fn identifier_field(new: &[(String, String)], old: &[(String, String)]) -> &'static str {
    if new
        .iter()
        .any(|(t, v)| t == "sha_number" && !old.iter().any(|(ot, ov)| ot == t && ov == v))
    {
        "sha_number"
    } else {
        "nupi"
    }
}

/// Reasons a record is made inactive, as (value, translation key).
const INACTIVE_REASONS: &[&str] = &["died", "moved", "transferred", "other"];

fn reason_label(reason: &str) -> String {
    match reason {
        "died" => t("patients.reason_died"),
        "moved" => t("patients.reason_moved"),
        "transferred" => t("patients.reason_transferred"),
        _ => t("patients.reason_other"),
    }
}

fn deactivate_page(
    cx: &Ctx,
    status: StatusCode,
    chart: &Chart,
    form: &DeactivateForm,
    errors: &FormErrors,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("patient", chart);
    c.insert("values", form);
    c.insert("errors", errors);
    c.insert(
        "reasons",
        &INACTIVE_REASONS
            .iter()
            .map(|r| (*r, reason_label(r)))
            .collect::<Vec<_>>(),
    );
    render_status(cx, status, "patients/deactivate.html", c)
}

#[derive(Debug, Default, serde::Serialize)]
struct DeactivateForm {
    reason: String,
    on: String,
    note: String,
}

#[handler]
pub async fn deactivate_form(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let chart = match current(&cx, id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let values = DeactivateForm {
        on: hms_core::day::Day::today().text(),
        ..Default::default()
    };
    deactivate_page(&cx, StatusCode::OK, &chart, &values, &FormErrors::new())
}

#[handler]
pub async fn deactivate(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let chart = match current(&cx, id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let values = DeactivateForm {
        reason: form.get("reason").trim().to_string(),
        on: form.get("on").trim().to_string(),
        note: form.get("note").trim().chars().take(200).collect(),
    };
    let mut errors = FormErrors::new();
    if !INACTIVE_REASONS.contains(&values.reason.as_str()) {
        errors.add("reason", t("patients.error_choose"));
    }
    // Up to today: a deactivation in -262143 or 9999 is refused, not stored.
    match hms_core::dates::within(&values.on, hms_core::dates::earliest(), Day::today().date()) {
        Ok(_) => {}
        Err(hms_core::dates::DateError::TooLate) => errors.add("on", t("patients.error_future")),
        Err(e) => errors.add("on", e.message(Day::today().date())),
    }
    if values.reason == "other" && values.note.is_empty() {
        errors.add("note", t("patients.error_note"));
    }
    if !errors.is_empty() {
        return deactivate_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &chart,
            &values,
            &errors,
        );
    }
    let reason = if values.note.is_empty() {
        values.reason.clone()
    } else {
        format!("{}: {}", values.reason, values.note)
    };
    let mut tx = cx.app().db.begin().await?;
    match repo::set_active(&mut tx, id, Some((&reason, &values.on)), &cx.actor()).await {
        Ok(()) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("patients.deactivated"));
        }
        Err(ChangeError::Db(e)) => return Err(e.into()),
        // Already inactive: someone else did it a moment ago; nothing to do.
        Err(_) => cx.flash(FlashKind::Info, t("patients.already_inactive")),
    }
    Ok(see_other(&format!("/patients/{id}")))
}

#[handler]
pub async fn reactivate(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    if let Err(redirect) = current(&cx, id).await? {
        return Ok(redirect);
    }
    let mut tx = cx.app().db.begin().await?;
    match repo::set_active(&mut tx, id, None, &cx.actor()).await {
        Ok(()) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("patients.reactivated"));
        }
        Err(ChangeError::Db(e)) => return Err(e.into()),
        Err(_) => {}
    }
    Ok(see_other(&format!("/patients/{id}")))
}

/// Identifier types that can be added on the chart: documents and further numbers.
fn addable(id_type: &str) -> bool {
    id_type != "none"
        && model::ID_TYPES
            .iter()
            .chain(model::OTHER_ID_TYPES)
            .any(|(v, _)| *v == id_type)
}

#[handler]
pub async fn add_identifier(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let chart = match current(&cx, id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let id_type = form.get("id_type").trim().to_string();
    let typed = form.get("value").trim().to_string();
    let value = if addable(&id_type) {
        model::normalize_id(&id_type, &typed).map_err(t)
    } else {
        Err(t("patients.error_choose"))
    };
    let outcome = match value {
        Ok(value) => {
            let mut tx = cx.app().db.begin().await?;
            match repo::add_identifier(&mut tx, id, &id_type, &value, &cx.actor()).await {
                Ok(()) => {
                    tx.commit().await?;
                    cx.flash(FlashKind::Success, t("patients.identifier_added"));
                    return Ok(see_other(&format!("/patients/{id}")));
                }
                Err(ChangeError::Taken) => t("patients.error_id_taken"),
                Err(ChangeError::Stale) => t("patients.error_id_type_held"),
                Err(ChangeError::Db(e)) => return Err(e.into()),
            }
        }
        Err(message) => message,
    };
    let mut errors = FormErrors::new();
    errors.add("value", outcome);
    super::chart::chart_page(
        &cx,
        StatusCode::UNPROCESSABLE_ENTITY,
        &chart,
        &errors,
        (&id_type, &typed),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct TypeQuery {
    #[serde(default, rename = "type")]
    id_type: String,
}

#[handler]
pub async fn remove_identifier_form(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<TypeQuery>,
) -> AppResult<Response> {
    let chart = match current(&cx, id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let Some((id_type, value)) = chart.identifiers.iter().find(|(t, _)| *t == q.id_type) else {
        return Err(AppError::NotFound);
    };
    let mut c = tera::Context::new();
    c.insert("patient", &chart);
    c.insert("id_type", id_type);
    c.insert("label", &model::id_type_label(id_type));
    c.insert("value", value);
    render_status(&cx, StatusCode::OK, "patients/remove_identifier.html", c)
}

#[handler]
pub async fn remove_identifier(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    if let Err(redirect) = current(&cx, id).await? {
        return Ok(redirect);
    }
    let mut tx = cx.app().db.begin().await?;
    match repo::remove_identifier(&mut tx, id, form.get("id_type"), &cx.actor()).await {
        Ok(()) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("patients.identifier_removed"));
        }
        Err(ChangeError::Db(e)) => return Err(e.into()),
        Err(_) => {}
    }
    Ok(see_other(&format!("/patients/{id}")))
}
