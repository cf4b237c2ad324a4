//! The access report screens: opened by patient number (from the search box on the audit
//! screen), on screen and as a PDF.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{pdf_inline, render, see_other, Ctx};
use hms_core::i18n::t;
use hms_core::pdf::{Column, Document, Letterhead, PageSize, Style};
use hms_core::{clock, AppError, AppResult};
use hms_patients::api::{self, PatientCard};

use crate::access::{self, Access};
use crate::routes;

#[derive(Debug, Default, Deserialize)]
pub struct NumberQuery {
    #[serde(default)]
    number: String,
}

/// The search box: sends the reader to the report of the number typed. A number that is not
/// one, or names nobody, comes back beside the box (on the audit trail page for those who may
/// read it; as an error page otherwise).
#[handler]
pub async fn find(cx: Ctx, Query(q): Query<NumberQuery>) -> AppResult<Response> {
    let number = q.number.trim().to_uppercase();
    let (status, error) = if number.is_empty()
        || !number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/')
    {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            t("audit.report.bad_number"),
        )
    } else {
        match api::card_by_number(&cx.app().db, &number).await? {
            Some(card) => return Ok(see_other(&format!("/audit/patients/{}", card.number))),
            None => (StatusCode::NOT_FOUND, routes::unknown_number(&number)),
        }
    };
    if !cx.can(crate::VIEW) {
        return Err(if status == StatusCode::NOT_FOUND {
            AppError::NotFound
        } else {
            AppError::BadRequest(error)
        });
    }
    let report = routes::ReportBox {
        number: q.number.chars().take(40).collect(),
        error,
    };
    routes::log_page(&cx, &routes::LogQuery::default(), report, status).await
}

/// The patient and every entry about them, the report's own read recorded.
async fn load(cx: &Ctx, number: &str, format: &str) -> AppResult<(PatientCard, Vec<Access>)> {
    let db = &cx.app().db;
    let card = api::card_by_number(db, &number.trim().to_uppercase())
        .await?
        .ok_or(AppError::NotFound)?;
    let mut ids = vec![card.id.get()];
    ids.extend(card.merged_ids.iter().map(|m| m.get()));
    let rows = access::entries(db, &ids).await?;
    cx.audit_read(
        Event::new("audit.patient_report", "patient", Some(card.id.get()))
            .patient(card.id.get())
            .detail(json!({"format": format, "records": ids, "entries": rows.len()})),
    )
    .await;
    Ok((card, rows))
}

#[handler]
pub async fn page(cx: Ctx, Path(number): Path<String>) -> AppResult<Response> {
    let (card, rows) = load(&cx, &number, "html").await?;
    if card.number != number {
        // A merged record's number, or typed in another case: the survivor's report.
        return Ok(see_other(&format!("/audit/patients/{}", card.number)));
    }
    let mut c = tera::Context::new();
    c.insert("card", &card);
    c.insert("rows", &rows);
    c.insert(
        "generated_at",
        &clock::display_rfc3339(&clock::now_rfc3339()),
    );
    render(&cx, "audit/patient_report.html", c)
}

#[handler]
pub async fn pdf(cx: Ctx, Path(number): Path<String>) -> AppResult<Response> {
    let (card, rows) = load(&cx, &number, "pdf").await?;
    let head = Letterhead::load(&cx.app().db).await?;
    let title = format!("{} {}", t("audit.report.title"), card.number);
    let mut doc = Document::new(PageSize::A4, &title).page_numbers(&t("pdf.page_of"));
    doc.letterhead(&head);
    doc.heading(&t("audit.report.title"));
    doc.fields(&[
        (&t("audit.report.name"), &card.full_name),
        (&t("audit.report.number"), &card.number),
        (
            &t("audit.generated"),
            &format!(
                "{}, {}",
                clock::display_rfc3339(&clock::now_rfc3339()),
                cx.user().map(|u| u.full_name.clone()).unwrap_or_default()
            ),
        ),
        (&t("audit.entries"), &rows.len().to_string()),
    ]);
    doc.space(1.0);
    doc.paragraph(&t("audit.report_intro"));
    if !card.merged_ids.is_empty() {
        doc.paragraph(&t("audit.report.merged_note"));
    }
    if rows.is_empty() {
        doc.paragraph(&t("audit.report_empty"));
    } else {
        let columns = [
            Column::new(&t("audit.when"), 1.1),
            Column::new(&t("audit.who"), 1.6),
            Column::new(&t("audit.what"), 1.6),
            Column::new(&t("audit.computer"), 0.9),
        ];
        let merged = t("audit.report.merged_record");
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let what = if r.merged_record {
                    format!("{} ({merged})", r.what)
                } else {
                    r.what.clone()
                };
                vec![r.at_local.clone(), r.who.clone(), what, r.computer.clone()]
            })
            .collect();
        doc.table(&columns, &table);
    }
    doc.text(Style::Small, &t("audit.read_window"));
    Ok(pdf_inline(
        &format!("access-report-{}.pdf", card.number),
        doc.finish(),
    ))
}
