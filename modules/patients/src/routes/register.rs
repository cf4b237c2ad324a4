//! Registering a patient.

use chrono::Datelike;
use poem::http::StatusCode;
use poem::{handler, Response};

use hms_core::day::Day;
use hms_core::http::{render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ui::FormErrors;
use hms_core::AppResult;

use super::form_context;
use crate::form::{self, Typed};
use crate::repo;

fn form_page(
    cx: &Ctx,
    status: StatusCode,
    values: &Typed,
    errors: &FormErrors,
    duplicates: &[repo::Candidate],
    blocked: bool,
) -> AppResult<Response> {
    let mut c = form_context(values, errors);
    c.insert("duplicates", duplicates);
    c.insert("blocked", &blocked);
    render_status(cx, status, "patients/new.html", c)
}

#[handler]
pub async fn new(cx: Ctx) -> AppResult<Response> {
    let values = Typed {
        id_type: "national_id".into(),
        ..Default::default()
    };
    form_page(&cx, StatusCode::OK, &values, &FormErrors::new(), &[], false)
}

#[handler]
pub async fn register(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let v = Typed::from_form(&form);
    let valid = match form::validate(&v, true, Day::today().date()) {
        Ok(valid) => valid,
        Err(errors) => {
            return form_page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &v,
                &errors,
                &[],
                false,
            )
        }
    };
    let mut errors = FormErrors::new();

    // The same identifier blocks; a likely match needs an explicit "register anyway".
    for (id_type, value) in &valid.identifiers {
        if let Some(holder) = repo::holder_of(&app.db, id_type, value).await? {
            let field = if id_type == "sha_number" || id_type == "nupi" {
                id_type.as_str()
            } else {
                "id_number"
            };
            errors.add(field, t("patients.error_id_taken"));
            return form_page(&cx, StatusCode::CONFLICT, &v, &errors, &[holder], true);
        }
    }
    let d = &valid.details;
    if form.get("register_anyway") != "1" {
        let likely = repo::likely_matches(
            &app.db,
            d.phone.as_deref(),
            &d.date_of_birth,
            d.sex,
            &d.tokens(),
        )
        .await?;
        if !likely.is_empty() {
            return form_page(&cx, StatusCode::CONFLICT, &v, &errors, &likely, false);
        }
    }

    // Registrations from several desks at once share a commit (group commit).
    let (actor, year) = (cx.actor(), Day::today().date().year());
    let job = std::sync::Arc::new(valid);
    let registered = app
        .db
        .write(move |tx| {
            let (valid, actor) = (job.clone(), actor.clone());
            Box::pin(async move {
                repo::register(tx, &valid, crate::model::NUMBER_PREFIX, year, &actor).await
            })
        })
        .await;
    let (id, number) = match registered {
        Ok(r) => r,
        Err(hms_core::db::DbError::Unique { .. }) => {
            // Someone registered the same document a moment ago.
            errors.add("id_number", t("patients.error_id_taken"));
            return form_page(&cx, StatusCode::CONFLICT, &v, &errors, &[], true);
        }
        Err(e) => return Err(e.into()),
    };
    cx.flash(
        FlashKind::Success,
        t("patients.registered").replace("{number}", &number),
    );
    Ok(see_other(&format!("/patients/{id}")))
}
