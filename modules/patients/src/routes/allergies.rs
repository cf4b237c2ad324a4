//! Allergies on the chart: the list with severity (the banner shows the active ones), a form to
//! add one and a button to mark one refuted, for staff who may edit patients.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};

use hms_core::db::{Db, DbError};
use hms_core::http::{render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::ui::FormErrors;
use hms_core::{clock, AppError, AppResult};
use serde::Serialize;

use crate::allergies::{self, group_label, NewAllergy, DRUG_GROUPS, SEVERITIES};
use crate::repo::{self, Chart};

/// An allergy as the chart and the printed card show it.
#[derive(Serialize)]
pub(crate) struct Shown {
    id: i64,
    allergen: String,
    group: Option<String>,
    reaction: Option<String>,
    severity: Option<String>,
    /// `mild`, `moderate`, `severe` or empty, for the badge's style.
    severity_code: String,
    active: bool,
    recorded: String,
    refuted: String,
}

/// A patient's allergies (with those of records merged into it) as shown: active, refuted.
#[derive(Serialize)]
pub(crate) struct ShownAllergies {
    active: Vec<Shown>,
    refuted: Vec<Shown>,
}

pub(crate) async fn shown(db: &Db, patient: i64) -> Result<ShownAllergies, DbError> {
    let who = |name: Option<String>, at: &str| {
        let at = clock::display_rfc3339(at);
        name.map(|n| format!("{n}, {at}")).unwrap_or(at)
    };
    let (active, refuted) = allergies::allergies(db, PatientId(patient))
        .await?
        .into_iter()
        .map(|a| Shown {
            id: a.id,
            group: a.drug_group.as_deref().map(group_label),
            reaction: a.reaction,
            severity: a
                .severity
                .as_deref()
                .map(|s| t(&format!("patients_allergies.severity_{s}"))),
            severity_code: a.severity.unwrap_or_default(),
            active: a.active,
            recorded: who(a.recorded_by, &a.recorded_at),
            refuted: a
                .refuted_at
                .as_deref()
                .map(|at| who(a.refuted_by, at))
                .unwrap_or_default(),
            allergen: a.allergen,
        })
        .partition(|a| a.active);
    Ok(ShownAllergies { active, refuted })
}

/// The active allergies in a line ("Penicillin, Peanuts"), for printed cards and labels.
pub(crate) async fn active_text(db: &Db, patient: i64) -> Result<String, DbError> {
    Ok(allergies::allergies(db, PatientId(patient))
        .await?
        .into_iter()
        .filter(|a| a.active)
        .map(|a| a.allergen)
        .collect::<Vec<_>>()
        .join(", "))
}

/// The patient's chart record, or the way to the survivor of a merge.
async fn patient(cx: &Ctx, id: i64) -> AppResult<Result<Chart, Response>> {
    let chart = repo::chart(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if chart.id != id {
        return Ok(Err(see_other(&format!("/patients/{}", chart.id))));
    }
    Ok(Ok(chart))
}

fn add_page(
    cx: &Ctx,
    status: StatusCode,
    chart: &Chart,
    values: &NewAllergyForm,
    errors: &FormErrors,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("patient", chart);
    c.insert("values", values);
    c.insert("errors", errors);
    c.insert(
        "groups",
        &DRUG_GROUPS
            .iter()
            .map(|(g, _)| (*g, group_label(g)))
            .collect::<Vec<_>>(),
    );
    c.insert(
        "severities",
        &SEVERITIES
            .iter()
            .map(|s| (*s, t(&format!("patients_allergies.severity_{s}"))))
            .collect::<Vec<_>>(),
    );
    render_status(cx, status, "patients/allergy_add.html", c)
}

/// What was typed in the form, shown again when it is refused.
#[derive(Default, Serialize)]
struct NewAllergyForm {
    allergen: String,
    drug_group: String,
    reaction: String,
    severity: String,
}

#[handler]
pub async fn new(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let chart = match patient(&cx, id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let values = NewAllergyForm::default();
    add_page(&cx, StatusCode::OK, &chart, &values, &FormErrors::new())
}

#[handler]
pub async fn add(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let chart = match patient(&cx, id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let values = NewAllergyForm {
        allergen: form.get("allergen").to_string(),
        drug_group: form.get("drug_group").to_string(),
        reaction: form.get("reaction").to_string(),
        severity: form.get("severity").to_string(),
    };
    let valid = match NewAllergy::validate(
        &values.allergen,
        &values.drug_group,
        &values.reaction,
        &values.severity,
    ) {
        Ok(v) => v,
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return add_page(&cx, status, &chart, &values, &errors);
        }
    };
    let mut tx = cx.app().db.begin().await?;
    repo::allergies::add(&mut tx, id, &valid, &cx.actor()).await?;
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("patients_allergies.added").replace("{allergen}", &valid.allergen),
    );
    Ok(see_other(&format!("/patients/{id}")))
}

#[handler]
pub async fn refute(cx: Ctx, Path((id, allergy)): Path<(i64, i64)>) -> AppResult<Response> {
    if let Err(redirect) = patient(&cx, id).await? {
        return Ok(redirect);
    }
    let mut tx = cx.app().db.begin().await?;
    match repo::allergies::refute(&mut tx, id, allergy, &cx.actor()).await {
        Ok(()) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("patients_allergies.refuted_done"));
        }
        Err(DbError::Conflict) => {
            drop(tx);
            cx.flash(FlashKind::Warning, t("patients_allergies.refuted_already"));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/patients/{id}")))
}
