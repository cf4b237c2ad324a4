//! Importing patients from a spreadsheet file (paper registers typed up, or another system's
//! export): upload, a preview with the outcome of every row, the import, and its report (also as
//! a CSV file). Nothing is registered before the administrator confirms the preview, and the
//! import reads the file staged at upload, not a second copy from the browser.

use chrono::Datelike;
use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use hms_core::audit::Event;
use hms_core::day::Day;
use hms_core::http::{csv_attachment, render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ui::csv_cell;
use hms_core::{AppError, AppResult};

use crate::import::{self, CellError, Checked, Existing, Outcome, ReportRow, Why};
use crate::repo;

/// Most rows drawn on the page; the CSV report always has them all.
const SHOWN_MAX: usize = 1000;

/// A report row as shown: the outcome in words, a status colour and the patient it concerns.
#[derive(Serialize)]
struct RowShown {
    line: u64,
    name: String,
    /// ok, bad or off (the `status-*` badge).
    status: &'static str,
    outcome: String,
    patient: Option<Existing>,
    detail: String,
    errors: Vec<CellError>,
}

fn why_text(why: Why) -> String {
    match why {
        Why::SameRow => t("patients_import.why_same_row"),
        Why::Identifier => t("patients_import.why_identifier"),
        Why::Phone => t("patients_import.why_phone"),
        Why::Likely => t("patients_import.why_likely"),
    }
}

fn shown(r: &ReportRow) -> RowShown {
    let mut row = RowShown {
        line: r.line,
        name: r.name.clone(),
        status: "ok",
        outcome: String::new(),
        patient: None,
        detail: String::new(),
        errors: Vec::new(),
    };
    match &r.outcome {
        Outcome::Create => row.outcome = t("patients_import.outcome_create"),
        Outcome::Created { patient } => {
            row.outcome = t("patients_import.outcome_created");
            row.patient = Some(patient.clone());
        }
        Outcome::Duplicate {
            why,
            patient,
            row: other,
        }
        | Outcome::Possible {
            why,
            patient,
            row: other,
        } => {
            let possible = matches!(r.outcome, Outcome::Possible { .. });
            row.status = "off";
            row.outcome =
                match (possible, other) {
                    (false, Some(line)) => t("patients_import.outcome_duplicate_row")
                        .replace("{row}", &line.to_string()),
                    (true, Some(line)) => t("patients_import.outcome_possible_row")
                        .replace("{row}", &line.to_string()),
                    (false, None) => t("patients_import.outcome_duplicate"),
                    (true, None) => t("patients_import.outcome_possible"),
                };
            row.patient = patient.clone();
            row.detail = why_text(*why);
        }
        Outcome::Already => {
            row.status = "off";
            row.outcome = t("patients_import.outcome_already");
        }
        Outcome::Invalid { errors } => {
            row.status = "bad";
            row.outcome = t("patients_import.outcome_invalid");
            row.errors = errors.clone();
        }
    }
    row
}

fn upload_page(
    cx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    recent: &[repo::import::Staged],
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("error", &error);
    c.insert("recent", recent);
    c.insert("max_rows", &import::MAX_ROWS);
    c.insert("max_mb", &(import::MAX_BYTES / (1024 * 1024)));
    render_status(cx, status, "patients/import.html", c)
}

async fn upload_page_with(
    cx: &Ctx,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let recent = repo::import::recent(&cx.app().db, 10).await?;
    upload_page(cx, status, error, &recent)
}

/// The upload form, with help on the columns and the latest imports.
#[handler]
pub async fn upload_form(cx: Ctx) -> AppResult<Response> {
    upload_page_with(&cx, StatusCode::OK, None).await
}

/// An empty file with the column names, to fill in a spreadsheet.
#[handler]
pub async fn template(_cx: Ctx) -> AppResult<Response> {
    Ok(csv_attachment(
        "patients-import-template",
        import::template_csv(),
    ))
}

/// Reads the uploaded file, checks every row and stages it with its preview.
#[handler]
pub async fn upload(cx: Ctx, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let Some(file) = form.file("file") else {
        let message = Some(t("patients_import.error_no_file"));
        return upload_page_with(&cx, StatusCode::UNPROCESSABLE_ENTITY, message).await;
    };
    let parsed = match import::parse(&file.data) {
        Ok(p) => p,
        Err(e) => {
            return upload_page_with(&cx, StatusCode::UNPROCESSABLE_ENTITY, Some(e.message())).await
        }
    };
    let today = Day::today().date();
    let rows: Vec<Checked> = parsed
        .rows
        .iter()
        .map(|r| import::check(r, &parsed.headers, today))
        .collect();
    let report = repo::import::preview(&app.db, &rows).await?;
    let sha = hex::encode(Sha256::digest(&file.data));
    let filename = import::clean_filename(&file.file_name);
    let id = repo::import::stage(
        &app.db,
        &repo::import::NewImport {
            file_sha256: &sha,
            filename: &filename,
            content: &parsed.text,
            report: &report,
        },
        &cx.actor(),
    )
    .await?;
    if !parsed.ignored.is_empty() {
        cx.flash(
            FlashKind::Info,
            t("patients_import.ignored_columns").replace("{columns}", &parsed.ignored.join(", ")),
        );
    }
    Ok(see_other(&format!("/patients/import/{id}")))
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    show: String,
}

/// The preview of an upload (before the import) or its report (after).
#[handler]
pub async fn show(cx: Ctx, Path(id): Path<i64>, Query(q): Query<ShowQuery>) -> AppResult<Response> {
    let app = cx.app();
    let staged = repo::import::get(&app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let report = repo::import::report(&app.db, id).await?.unwrap_or_default();
    cx.audit_read(Event::new(
        "patient.import_view",
        "patient_import",
        Some(id),
    ))
    .await;
    let problems_only = q.show == "problems";
    let matching: Vec<&ReportRow> = report
        .iter()
        .filter(|r| {
            !problems_only || !matches!(r.outcome, Outcome::Create | Outcome::Created { .. })
        })
        .collect();
    let rows: Vec<RowShown> = matching.iter().take(SHOWN_MAX).map(|r| shown(r)).collect();
    let before = if staged.status == "imported" {
        None
    } else {
        repo::import::imported_before(&app.db, &staged.file_sha256, id).await?
    };
    let mut c = tera::Context::new();
    c.insert("staged", &staged);
    c.insert("summary", &staged.summary);
    c.insert("rows", &rows);
    c.insert("matching", &matching.len());
    c.insert("cut", &(matching.len() > SHOWN_MAX));
    c.insert("shown_max", &SHOWN_MAX);
    c.insert("problems_only", &problems_only);
    c.insert("imported_before", &before);
    render_status(&cx, StatusCode::OK, "patients/import_preview.html", c)
}

/// Imports a previewed upload. Guarded so that two clicks, or two administrators, import it
/// once; the work runs in its own task so that a browser closed half-way does not stop it.
#[handler]
pub async fn run(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let staged = repo::import::get(&app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let actor = cx.actor();
    let here = format!("/patients/import/{id}");
    if !repo::import::start(&app.db, id, &actor).await? {
        let text = if staged.status == "imported" {
            t("patients_import.already_done")
        } else {
            t("patients_import.already_running")
        };
        cx.flash(FlashKind::Warning, text);
        return Ok(see_other(&here));
    }
    let content = repo::import::content(&app.db, id)
        .await?
        .unwrap_or_default();
    let parsed = match import::parse(content.as_bytes()) {
        Ok(p) => p,
        Err(_) => {
            repo::import::abandon(&app.db, id).await?;
            return Err(AppError::Internal(
                "a staged import file cannot be read".into(),
            ));
        }
    };
    let today = Day::today().date();
    let rows: Vec<Checked> = parsed
        .rows
        .iter()
        .map(|r| import::check(r, &parsed.headers, today))
        .collect();
    let include_possible = form.get("include_possible") == "1";
    let db = app.db.clone();
    let work = async move {
        let result = async {
            let report =
                repo::import::run(&db, id, &rows, include_possible, today.year(), &actor).await?;
            repo::import::finish(&db, &staged, &report, include_possible, &actor).await
        }
        .await;
        if result.is_err() {
            // Committed batches stay (with their row keys); the upload can be imported again.
            let _ = repo::import::abandon(&db, id).await;
        }
        result
    };
    let task = tokio::spawn(hms_core::i18n::scope(hms_core::i18n::current(), work));
    let summary = task.await.map_err(AppError::internal)??;
    tracing::info!(
        import = id,
        created = summary.created,
        "patients imported from a file"
    );
    cx.flash(
        FlashKind::Success,
        t("patients_import.imported").replace("{count}", &summary.created.to_string()),
    );
    Ok(see_other(&here))
}

/// The per-row report as a CSV file (cells that a spreadsheet would run as formulas defused).
#[handler]
pub async fn report_csv(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let app = cx.app();
    let report = repo::import::report(&app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    cx.audit_read(Event::new(
        "patient.import_report",
        "patient_import",
        Some(id),
    ))
    .await;
    let mut out = String::from("\u{feff}");
    let head = [
        t("patients_import.col_row"),
        t("patients_import.col_name"),
        t("patients_import.col_outcome"),
        t("patients_import.col_patient"),
        t("patients_import.col_details"),
    ];
    push_line(&mut out, &head);
    for r in &report {
        let s = shown(r);
        let details = if s.errors.is_empty() {
            s.detail
        } else {
            s.errors
                .iter()
                .map(|e| {
                    if e.column.is_empty() {
                        e.message.clone()
                    } else {
                        format!("{}: {}", e.column, e.message)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        push_line(
            &mut out,
            &[
                s.line.to_string(),
                s.name,
                s.outcome,
                s.patient.map(|p| p.number).unwrap_or_default(),
                details,
            ],
        );
    }
    Ok(csv_attachment(&format!("patient-import-{id}-report"), out))
}

fn push_line(out: &mut String, cells: &[String]) {
    let line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str(&line);
    out.push_str("\r\n");
}
