//! Importing drugs from a CSV file: the upload form, the import (or a check that writes
//! nothing) and its per-row report.

use poem::http::StatusCode;
use poem::{handler, Response};
use serde::Serialize;

use hms_core::http::{csv_attachment, render_status, Access, Ctx, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::AppResult;

use crate::catalogue::import::{self, CellError, Outcome, ReportRow, Summary};
use crate::CATALOGUE;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/pharmacy/catalogue/import", P(CATALOGUE), upload_form),
        RouteSpec::post("/pharmacy/catalogue/import", P(CATALOGUE), upload)
            .body_limit(2 * import::MAX_BYTES),
        RouteSpec::get(
            "/pharmacy/catalogue/import/template.csv",
            P(CATALOGUE),
            template,
        ),
        RouteSpec::get("/pharmacy/catalogue/export.csv", P(CATALOGUE), export),
    ]
}

/// A report row as shown.
#[derive(Serialize)]
struct Shown {
    line: u64,
    code: String,
    name: String,
    /// ok, off or bad (the `status-*` badge).
    status: &'static str,
    outcome: String,
    drug: Option<i64>,
    errors: Vec<CellError>,
}

fn shown(r: &ReportRow) -> Shown {
    let (status, outcome, drug, errors) = match &r.outcome {
        Outcome::Created { drug } => (
            "ok",
            t("pharmacy_catalogue.outcome_created"),
            Some(*drug),
            vec![],
        ),
        Outcome::Updated { drug } => (
            "ok",
            t("pharmacy_catalogue.outcome_updated"),
            Some(*drug),
            vec![],
        ),
        Outcome::Unchanged { drug } => (
            "off",
            t("pharmacy_catalogue.outcome_unchanged"),
            Some(*drug),
            vec![],
        ),
        Outcome::Repeated { first } => (
            "bad",
            t("pharmacy_catalogue.outcome_repeated").replace("{row}", &first.to_string()),
            None,
            vec![],
        ),
        Outcome::Invalid { errors } => (
            "bad",
            t("pharmacy_catalogue.outcome_invalid"),
            None,
            errors.clone(),
        ),
    };
    Shown {
        line: r.line,
        code: r.code.clone(),
        name: r.name.clone(),
        status,
        outcome,
        drug,
        errors,
    }
}

fn page(
    cx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    report: Option<(&[ReportRow], bool)>,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("error", &error);
    c.insert("max_rows", &import::MAX_ROWS);
    c.insert("max_mb", &(import::MAX_BYTES / (1024 * 1024)));
    if let Some((rows, check_only)) = report {
        let shown: Vec<Shown> = rows.iter().map(shown).collect();
        c.insert("rows", &shown);
        c.insert("summary", &Summary::of(rows));
        c.insert("check_only", &check_only);
    }
    render_status(cx, status, "pharmacy/catalogue_import.html", c)
}

#[handler]
pub async fn upload_form(cx: Ctx) -> AppResult<Response> {
    page(&cx, StatusCode::OK, None, None)
}

/// The whole catalogue as CSV, in the import's columns.
#[handler]
pub async fn export(cx: Ctx) -> AppResult<Response> {
    let drugs = crate::repo::catalogue::all_drugs(&cx.app().db).await?;
    Ok(csv_attachment("drug-catalogue", import::export_csv(&drugs)))
}

#[handler]
pub async fn template(_cx: Ctx) -> AppResult<Response> {
    Ok(csv_attachment(
        "drugs-import-template",
        import::template_csv(),
    ))
}

#[handler]
pub async fn upload(cx: Ctx, form: Form) -> AppResult<Response> {
    let Some(file) = form.file("file") else {
        let message = Some(t("pharmacy_catalogue.import_no_file"));
        return page(&cx, StatusCode::UNPROCESSABLE_ENTITY, message, None);
    };
    let parsed = match import::parse(&file.data) {
        Ok(p) => p,
        Err(e) => {
            return page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.message()),
                None,
            )
        }
    };
    let check_only = form.get("check_only") == "1";
    let report = import::run(&cx.app().db, &parsed, check_only, &cx.actor()).await?;
    if !parsed.ignored.is_empty() {
        cx.flash(
            hms_core::http::FlashKind::Info,
            t("pharmacy_catalogue.import_ignored").replace("{columns}", &parsed.ignored.join(", ")),
        );
    }
    page(&cx, StatusCode::OK, None, Some((&report, check_only)))
}
