//! Printing a patient card (given to the patient) and a file label (stuck on the paper file):
//! on an A4 or A5 sheet, or on an 80 mm thermal printer. Both carry the patient number in
//! large text and as a Code 128 barcode, so a scanner at the desk finds the chart again.

use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{render, see_other, Ctx};
use hms_core::i18n::t;
use hms_core::{AppError, AppResult};

use super::sex_label;
use crate::repo;
use hms_core::pdf::barcode;

/// The paper sizes offered; the first is used when none is chosen.
const LAYOUTS: &[&str] = &["a4", "a5", "thermal"];

#[derive(Debug, Default, Deserialize)]
pub struct PrintQuery {
    #[serde(default)]
    layout: String,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum What {
    Card,
    Label,
}

impl What {
    fn path(self) -> &'static str {
        match self {
            What::Card => "card",
            What::Label => "label",
        }
    }
}

#[handler]
pub async fn card(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<PrintQuery>,
) -> AppResult<Response> {
    print(cx, id, What::Card, &q.layout).await
}

#[handler]
pub async fn label(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<PrintQuery>,
) -> AppResult<Response> {
    print(cx, id, What::Label, &q.layout).await
}

async fn print(cx: Ctx, id: i64, what: What, layout: &str) -> AppResult<Response> {
    let layout = match layout.trim() {
        "" => LAYOUTS[0],
        chosen => *LAYOUTS
            .iter()
            .find(|l| **l == chosen)
            .ok_or_else(|| AppError::BadRequest("layout".into()))?,
    };
    let patient = repo::chart(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if patient.id != id {
        // A merged record: print the survivor's card.
        return Ok(see_other(&format!(
            "/patients/{}/{}?layout={layout}",
            patient.id,
            what.path()
        )));
    }
    cx.audit_read(
        Event::new("patient.print", "patient", Some(patient.id))
            .patient(patient.id)
            .detail(json!({"what": what.path(), "layout": layout})),
    )
    .await;
    // The number was made by registration (or checked by import); the barcode is built from it
    // alone and escapes its label, so the template may insert it unescaped.
    let code = barcode::svg(
        &patient.number,
        &format!("{} {}", t("patients_print.barcode"), patient.number),
    );
    let mut c = tera::Context::new();
    c.insert("what", &what);
    c.insert("layout", layout);
    c.insert("sex", &sex_label(patient.details.sex));
    c.insert("barcode", &code);
    c.insert(
        "allergies",
        &super::allergies::active_text(&cx.app().db, patient.id).await?,
    );
    c.insert("patient", &patient);
    render(&cx, "patients/print.html", c)
}
