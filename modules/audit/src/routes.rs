//! Screens of the audit trail.

use poem::http::StatusCode;
use poem::web::Query;
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::http::{csv_attachment, render_status, Ctx};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::{AppError, AppResult};
use hms_patients::api;

use crate::repo::{self, Filters};
use crate::{EXPORT, PATIENT_REPORT};

const PAGE_SIZE: i64 = 50;
/// More rows than this in one export are refused: narrow the filters instead.
const EXPORT_MAX: usize = 200_000;

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    patient: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

impl LogQuery {
    fn filters(&self) -> Filters {
        Filters {
            user: self.user.chars().take(64).collect(),
            patient: self.patient.chars().take(20).collect(),
            action: self.action.chars().take(64).collect(),
            from: self.from.chars().take(10).collect(),
            to: self.to.chars().take(10).collect(),
        }
    }

    /// The filters as a query string, for page links and the export link.
    fn query_string(&self) -> String {
        let f = self.filters();
        form_urlencoded::Serializer::new(String::new())
            .append_pair("user", &f.user)
            .append_pair("patient", &f.patient)
            .append_pair("action", &f.action)
            .append_pair("from", &f.from)
            .append_pair("to", &f.to)
            .finish()
    }
}

fn errors_map(errors: Vec<(&'static str, String)>) -> hms_core::ui::FormErrors {
    let mut map = hms_core::ui::FormErrors::new();
    for (field, message) in errors {
        map.add(field, message);
    }
    map
}

/// A row's detail as people read it: each stored date (`"2026-12-07"`) or time
/// (`"2026-12-07T05:05:00Z"`) written the Kenyan way, in the request's language. The export keeps
/// the stored text.
fn readable_dates(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len());
    let mut pieces = detail.split('"');
    if let Some(first) = pieces.next() {
        out.push_str(first);
    }
    for (i, piece) in pieces.enumerate() {
        out.push('"');
        // Odd pieces sit inside quotes: JSON strings (and keys).
        let inside = i % 2 == 0;
        let day = inside
            .then(|| hms_core::day::Day::from_db_text(piece))
            .flatten();
        match day {
            Some(day) if piece.len() == 10 => out.push_str(&day.display()),
            _ if inside
                && piece.len() > 10
                && piece.as_bytes()[10] == b'T'
                && hms_core::day::Day::from_db_text(&piece[..10]).is_some() =>
            {
                out.push_str(&hms_core::clock::display_rfc3339(piece))
            }
            _ => out.push_str(piece),
        }
    }
    out
}

/// The filters checked, with the patient number turned into the record it names; or the
/// messages to show beside the filters.
async fn resolved(
    cx: &Ctx,
    filters: &Filters,
) -> AppResult<Result<repo::Bounds, Vec<(&'static str, String)>>> {
    let bounds = match filters.bounds() {
        Ok(b) => b,
        Err(errors) => return Ok(Err(errors)),
    };
    let number = filters.patient.trim().to_uppercase();
    if number.is_empty() {
        return Ok(Ok(bounds));
    }
    Ok(match api::card_by_number(&cx.app().db, &number).await? {
        Some(card) => Ok(bounds.for_patient(card.id.get())),
        None => Err(vec![("patient", unknown_number(&number))]),
    })
}

/// "No patient has the number P-26-00099."
pub(crate) fn unknown_number(number: &str) -> String {
    t("audit.error_patient_unknown").replace("{number}", number)
}

/// The report search box as typed, and its message when the number was refused.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ReportBox {
    pub number: String,
    pub error: String,
}

#[handler]
pub async fn log(cx: Ctx, Query(q): Query<LogQuery>) -> AppResult<Response> {
    log_page(&cx, &q, ReportBox::default(), StatusCode::OK).await
}

/// The audit trail page; `report` refills the access report box (with its message, drawn with
/// `status`) when a number typed there was refused.
pub(crate) async fn log_page(
    cx: &Ctx,
    q: &LogQuery,
    report: ReportBox,
    status: StatusCode,
) -> AppResult<Response> {
    let filters = q.filters();
    let mut c = tera::Context::new();
    c.insert("filters", &filters);
    c.insert("query", &q.query_string());
    c.insert("can_export", &cx.can(EXPORT));
    c.insert("can_report", &cx.can(PATIENT_REPORT));
    c.insert("report", &report);
    let bounds = match resolved(cx, &filters).await? {
        Ok(b) => b,
        Err(errors) => {
            c.insert("errors", &errors_map(errors));
            c.insert("rows", &Vec::<repo::AuditRow>::new());
            c.insert("next", &None::<i64>);
            c.insert("first_page", &true);
            return render_status(cx, StatusCode::UNPROCESSABLE_ENTITY, "audit/log.html", c);
        }
    };
    let before: i64 = q.before.trim().parse().unwrap_or(0).max(0);
    let db = &cx.app().db;
    let mut rows = repo::page(db, &bounds, before, PAGE_SIZE + 1).await?;
    let next = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    // Patients by their number, as people know them (one batched read for the page).
    let mut ids: Vec<PatientId> = rows
        .iter()
        .filter_map(|r| r.patient_id)
        .map(PatientId)
        .collect();
    ids.sort_unstable_by_key(|p| p.get());
    ids.dedup();
    let numbers: std::collections::HashMap<i64, String> = api::cards(db, &ids)
        .await?
        .into_iter()
        .map(|c| (c.id.get(), c.number))
        .collect();
    for r in &mut rows {
        r.patient_number = r.patient_id.and_then(|id| numbers.get(&id).cloned());
        r.detail = readable_dates(&r.detail);
        let key = format!("audit_entity.{}", r.entity);
        if hms_core::i18n::has(&key) {
            r.entity = hms_core::i18n::t(&key);
        }
    }
    c.insert("errors", &hms_core::ui::FormErrors::new());
    c.insert("rows", &rows);
    c.insert("next", &next);
    c.insert("first_page", &(before == 0));
    render_status(cx, status, "audit/log.html", c)
}

#[handler]
pub async fn export(cx: Ctx, Query(q): Query<LogQuery>) -> AppResult<Response> {
    let app = cx.app();
    let filters = q.filters();
    let bounds = resolved(&cx, &filters).await?.map_err(|e| {
        AppError::BadRequest(
            e.iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
    })?;
    let mut out = String::from("\u{feff}");
    out.push_str(repo::CSV_HEADER);
    let mut before = 0;
    let mut count = 0usize;
    loop {
        let rows = repo::page(&app.db, &bounds, before, 5000).await?;
        let Some(last) = rows.last() else { break };
        before = last.id;
        count += rows.len();
        if count > EXPORT_MAX {
            return Err(AppError::BadRequest(
                hms_core::i18n::t("audit.error_export_too_many")
                    .replace("{count}", &EXPORT_MAX.to_string()),
            ));
        }
        for r in &rows {
            out.push_str(&repo::csv_line(r));
        }
    }
    // An export of the trail is itself recorded.
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("audit.export", "audit_log", None)
            .detail(json!({"filters": filters, "rows": count})),
    )
    .await?;
    tx.commit().await?;
    Ok(csv_attachment("hms-audit", out))
}
