//! Screens of the documents part: a note's documents, the form to issue one, the PDF of an
//! issued document (original first, then copies), and the daily MOH 204A/B OPD register.

use chrono::Datelike;
use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::day::Day;
use hms_core::http::{pdf_inline, render, render_status, see_other, Access, Ctx, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ids::EncounterId;
use hms_core::pdf::Letterhead;
use hms_core::ui::FormErrors;
use hms_core::{clock, AppError, AppResult};

use super::encounter_of;
use crate::documents::{self, Fields};
use crate::encounter::Encounter;
use crate::register;
use crate::repo::documents as repo;
use crate::{DOCUMENTS, VIEW};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get(
            "/consultations/:id/documents",
            Access::Permission(VIEW),
            list,
        ),
        RouteSpec::get(
            "/consultations/:id/documents/new",
            Access::Permission(DOCUMENTS),
            new,
        ),
        RouteSpec::post(
            "/consultations/:id/documents",
            Access::Permission(DOCUMENTS),
            issue,
        )
        .multiline(&["reason", "summary", "remarks", "clinical_notes"]),
        RouteSpec::get(
            "/consultations/documents/:file",
            Access::Permission(VIEW),
            print,
        ),
        RouteSpec::get(
            "/consultations/register",
            Access::Permission(VIEW),
            register_page,
        ),
        RouteSpec::get(
            "/consultations/register.csv",
            Access::Permission(VIEW),
            register_csv,
        ),
        RouteSpec::get(
            "/consultations/register.pdf",
            Access::Permission(VIEW),
            register_pdf,
        ),
    ]
}

/// The patient as the pages head them, and the read audited.
async fn patient_of(
    cx: &Ctx,
    enc: &Encounter,
    action: &'static str,
) -> AppResult<hms_patients::api::PatientCard> {
    let card = hms_patients::api::card(&cx.app().db, enc.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    cx.audit_read(
        Event::new(action, "encounter", Some(enc.id.get())).patient(enc.patient_id.get()),
    )
    .await;
    Ok(card)
}

#[handler]
pub async fn list(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let enc = encounter_of(&cx.app().db, EncounterId::from(id)).await?;
    let patient = patient_of(&cx, &enc, "consultations.documents_view").await?;
    let mut c = tera::Context::new();
    c.insert("patient", &patient);
    c.insert("encounter", &enc);
    c.insert("documents", &documents::section(&cx.app().db, &enc).await?);
    c.insert("can_issue", &cx.can(DOCUMENTS));
    render(&cx, "consultations/documents.html", c)
}

#[derive(Debug, Default, Deserialize)]
pub struct KindQuery {
    #[serde(default)]
    kind: String,
}

fn form_page(
    cx: &Ctx,
    status: StatusCode,
    enc: &Encounter,
    patient: &hms_patients::api::PatientCard,
    values: &Fields,
    errors: &FormErrors,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("patient", patient);
    c.insert("encounter", enc);
    c.insert("values", values);
    c.insert("errors", errors);
    c.insert("kind_label", &documents::kind_label(&values.kind));
    c.insert("kind_help", &documents::kind_help(&values.kind));
    c.insert(
        "consents",
        &[
            ("yes", t("consultations_documents.consent_yes")),
            ("no", t("consultations_documents.consent_no")),
        ],
    );
    render_status(cx, status, "consultations/document_form.html", c)
}

#[handler]
pub async fn new(cx: Ctx, Path(id): Path<i64>, Query(q): Query<KindQuery>) -> AppResult<Response> {
    let enc = encounter_of(&cx.app().db, EncounterId::from(id)).await?;
    if !documents::is_kind(&q.kind) {
        return Ok(see_other(&format!("/consultations/{id}/documents")));
    }
    let patient = patient_of(&cx, &enc, "consultations.documents_view").await?;
    let values = Fields {
        kind: q.kind.clone(),
        // The referral as signed: the facility's KMHFL code, or else the community unit.
        referral_to: ["facility", "community_unit"]
            .iter()
            .filter_map(|k| enc.outcome_detail.get(*k).and_then(|v| v.as_str()))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
            .to_string(),
        rest_from: enc.visit_day.text(),
        rest_days: "1".into(),
        ..Default::default()
    };
    form_page(
        &cx,
        StatusCode::OK,
        &enc,
        &patient,
        &values,
        &FormErrors::new(),
    )
}

#[handler]
pub async fn issue(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let enc = encounter_of(db, EncounterId::from(id)).await?;
    let values = Fields {
        kind: form.get("kind").trim().to_string(),
        referral_to: form.get("referral_to").to_string(),
        reason: form.get("reason").to_string(),
        summary: form.get("summary").to_string(),
        rest_days: form.get("rest_days").to_string(),
        rest_from: form.get("rest_from").to_string(),
        consent: form.get("consent").to_string(),
        remarks: form.get("remarks").to_string(),
        clinical_notes: form.get("clinical_notes").to_string(),
    };
    let user = cx.require_user()?.id;
    let fields = match documents::validate(&values) {
        Ok(f) => f,
        Err(errors) => return refused(&cx, &enc, &values, &errors).await,
    };
    let content = match documents::content(db, &enc, &values.kind, fields, user).await? {
        Ok(c) => c,
        Err(errors) => return refused(&cx, &enc, &values, &errors).await,
    };
    let issued_at = clock::now_rfc3339();
    let year = clock::to_local(chrono::Utc::now()).year();
    let mut tx = db.begin().await?;
    let facility = repo::facility_of(&mut tx, enc.id).await?;
    let value = repo::next_value(&mut tx, facility, &documents::series(&values.kind, year)).await?;
    let number = documents::number(&values.kind, year, value);
    let doc_id = repo::insert(
        &mut tx,
        &repo::NewDocument {
            facility,
            number: &number,
            kind: &values.kind,
            encounter: enc.id,
            patient: enc.patient_id,
            visit: enc.visit_id,
            content: &content,
            issued_by: Some(user),
            issued_at: &issued_at,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new(
            "consultations.document_issue",
            "consultation_document",
            Some(doc_id),
        )
        .patient(enc.patient_id.get())
        .detail(json!({"kind": values.kind, "number": number, "encounter": enc.id.get()})),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other(&format!("/consultations/documents/{doc_id}.pdf")))
}

/// The form again with what to fix (422); nothing was saved.
async fn refused(
    cx: &Ctx,
    enc: &Encounter,
    values: &Fields,
    errors: &FormErrors,
) -> AppResult<Response> {
    let patient = patient_of(cx, enc, "consultations.documents_view").await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    form_page(cx, status, enc, &patient, values, errors)
}

/// `42.pdf` gives 42.
fn document_id(file: &str) -> Option<i64> {
    file.strip_suffix(".pdf")?.parse().ok()
}

#[handler]
pub async fn print(cx: Ctx, Path(file): Path<String>) -> AppResult<Response> {
    let id = document_id(&file).ok_or(AppError::NotFound)?;
    let db = &cx.app().db;
    let doc = repo::get(db, id).await?.ok_or(AppError::NotFound)?;
    let mut tx = db.begin().await?;
    let facility = repo::document_facility(&mut tx, id).await?;
    let by = cx.user().map(|u| u.id);
    let copy = repo::record_print(&mut tx, id, facility, by, &clock::now_rfc3339()).await?;
    tx.commit().await?;
    cx.audit_read(
        Event::new(
            "consultations.document_print",
            "consultation_document",
            Some(id),
        )
        .patient(doc.patient_id)
        .detail(json!({
            "kind": doc.kind,
            "number": doc.number,
            "encounter": doc.encounter_id,
            "copy": copy,
        })),
    )
    .await;
    let head = Letterhead::load(db).await?;
    let bytes = documents::pdf(&head, &doc.number, &doc.issued_at, &doc.content, copy);
    Ok(pdf_inline(&format!("{}.pdf", doc.number), bytes))
}

#[derive(Debug, Default, Deserialize)]
pub struct RegisterQuery {
    #[serde(default)]
    day: String,
    #[serde(default)]
    form: String,
}

impl RegisterQuery {
    /// The day asked for (today when none; 400 for one that is not a date) and the form.
    fn parse(&self) -> AppResult<(Day, register::Form)> {
        let day = if self.day.trim().is_empty() {
            Day::today()
        } else {
            Day::event(self.day.trim()).map_err(|_| AppError::BadRequest("day".into()))?
        };
        let form = match self.form.trim().to_ascii_uppercase().as_str() {
            "" | "204A" | "A" => register::Form::A,
            "204B" | "B" => register::Form::B,
            _ => return Err(AppError::BadRequest("form".into())),
        };
        Ok((day, form))
    }
}

async fn audited_register(
    cx: &Ctx,
    day: Day,
    form: register::Form,
    format: &str,
) -> AppResult<register::Register> {
    let reg = register::build(&cx.app().db, day, form).await?;
    cx.audit_read(
        Event::new("consultations.register_view", "moh204", None).detail(json!({
            "day": day.text(),
            "form": form.code(),
            "format": format,
            "rows": reg.rows.len(),
        })),
    )
    .await;
    Ok(reg)
}

#[handler]
pub async fn register_page(cx: Ctx, Query(q): Query<RegisterQuery>) -> AppResult<Response> {
    let (day, form) = q.parse()?;
    let reg = audited_register(&cx, day, form, "html").await?;
    let mut c = tera::Context::new();
    c.insert("day", &day.text());
    c.insert("day_display", &day.display());
    c.insert("form", form.code());
    c.insert("headings", &register::headings(form));
    c.insert(
        "rows_text",
        &t("consultations_documents.register.rows").replace("{count}", &reg.rows.len().to_string()),
    );
    c.insert("rows", &reg.rows);
    c.insert("query", &format!("day={}&form={}", day.text(), form.code()));
    render(&cx, "consultations/register.html", c)
}

#[handler]
pub async fn register_csv(cx: Ctx, Query(q): Query<RegisterQuery>) -> AppResult<Response> {
    let (day, form) = q.parse()?;
    let reg = audited_register(&cx, day, form, "csv").await?;
    Ok(hms_core::http::csv_attachment(
        &format!("moh{}-{}", form.code().to_ascii_lowercase(), day.text()),
        register::csv(form, &reg),
    ))
}

#[handler]
pub async fn register_pdf(cx: Ctx, Query(q): Query<RegisterQuery>) -> AppResult<Response> {
    let (day, form) = q.parse()?;
    let reg = audited_register(&cx, day, form, "pdf").await?;
    let head = Letterhead::load(&cx.app().db).await?;
    Ok(pdf_inline(
        &format!("moh{}-{}.pdf", form.code().to_ascii_lowercase(), day.text()),
        register::pdf(&head, day, form, &reg),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_document_file_names_its_id() {
        assert_eq!(super::document_id("42.pdf"), Some(42));
        assert_eq!(super::document_id("42"), None);
        assert_eq!(super::document_id("x.pdf"), None);
    }
}
