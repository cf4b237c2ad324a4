//! SHA claims on screen (`billing.claims`). `GET /billing/claims` lists the SHA invoices ready
//! to claim and the claims made (`status` filter, `page`); `POST /billing/claims` (field
//! `invoice`) prepares one; `GET /billing/claims/:id` shows it and `/billing/claims/:id.json`
//! downloads its Bundle; `GET /billing/claims.csv` is the summary of a batch; `POST
//! /billing/claims/:id/submit` sends it to the HIE. From a visit: `POST
//! /billing/visits/:id/preauth` prepares a pre-authorisation of its charges and `POST
//! /billing/visits/:id/eligibility` asks the HIE whether the member is covered.

use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

use hms_core::audit::Event;
use hms_core::db::DbError;
use hms_core::http::{
    csv_attachment, render, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ids::VisitId;
use hms_core::money::Money;
use hms_core::ui::{csv_cell, FormErrors};
use hms_core::{AppError, AppResult};

use crate::claims::{self, ClaimError, Hie, SubmitError};
use crate::CLAIMS;

const PAGE: i64 = 30;
const STATUSES: &[&str] = &["prepared", "submitted", "approved", "partial", "rejected"];

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/billing/claims", Access::Permission(CLAIMS), list),
        RouteSpec::post("/billing/claims", Access::Permission(CLAIMS), prepare),
        RouteSpec::get(
            "/billing/claims.csv",
            Access::Permission(CLAIMS),
            summary_csv,
        ),
        RouteSpec::get("/billing/claims/:file", Access::Permission(CLAIMS), show),
        RouteSpec::post(
            "/billing/claims/:id/submit",
            Access::Permission(CLAIMS),
            submit,
        ),
        RouteSpec::post(
            "/billing/visits/:id/preauth",
            Access::Permission(CLAIMS),
            preauth,
        ),
        RouteSpec::post(
            "/billing/visits/:id/eligibility",
            Access::Permission(CLAIMS),
            eligibility,
        ),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    page: Option<String>,
}

fn status_of(q: &ListQuery) -> &str {
    q.status
        .as_deref()
        .filter(|s| STATUSES.contains(s))
        .unwrap_or("")
}

const LIST: &str = "SELECT c.id, c.purpose, COALESCE(i.number, ''), c.total_cents, c.status, \
     c.approved_cents, c.created_at, c.last_error, p.number, c.visit_id \
     FROM billing_claims c LEFT JOIN billing_invoices i ON i.id = c.invoice_id \
     JOIN patients p ON p.id = c.patient_id WHERE ($1 = '' OR c.status = $1) \
     ORDER BY c.id DESC LIMIT CAST($2 AS BIGINT) OFFSET CAST($3 AS BIGINT)";

/// GET `/billing/claims`.
#[handler]
pub async fn list(cx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let status = status_of(&q);
    let page = super::page(q.page.as_deref());
    let rows = sqlx::query(LIST)
        .bind(status)
        .bind(PAGE + 1)
        .bind((page - 1) * PAGE)
        .fetch_all(db.read())
        .await
        .map_err(DbError::from)?;
    let claims: Vec<Value> = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| {
            json!({
                "id": r.get::<i64, _>(0), "purpose": r.get::<String, _>(1),
                "invoice": r.get::<String, _>(2),
                "total": Money::from_cents(r.get(3)).to_string(),
                "status": r.get::<String, _>(4),
                "approved": r.get::<Option<i64>, _>(5).map(|a| Money::from_cents(a).to_string()),
                "at": hms_core::clock::display_rfc3339(&r.get::<String, _>(6)),
                "error": r.get::<Option<String>, _>(7).unwrap_or_default(),
                "patient": r.get::<String, _>(8),
            })
        })
        .collect();
    let ready: Vec<Value> = sqlx::query(
        "SELECT i.id, i.number, i.total_cents, i.issued_at, p.number FROM billing_invoices i \
         JOIN billing_schemes s ON s.id = i.scheme_id JOIN patients p ON p.id = i.patient_id \
         WHERE i.payer = 'scheme' AND s.kind = 'sha' AND i.status = 'issued' \
         AND NOT EXISTS (SELECT 1 FROM billing_claims c WHERE c.invoice_id = i.id) \
         ORDER BY i.id DESC LIMIT 50",
    )
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?
    .iter()
    .map(|r| {
        json!({
            "id": r.get::<i64, _>(0), "number": r.get::<String, _>(1),
            "total": Money::from_cents(r.get(2)).to_string(),
            "at": hms_core::clock::display_rfc3339(&r.get::<String, _>(3)),
            "patient": r.get::<String, _>(4),
        })
    })
    .collect();
    let mut c = tera::Context::new();
    c.insert("claims", &claims);
    c.insert("ready", &ready);
    c.insert("status", status);
    c.insert("page", &page);
    c.insert("has_next", &(rows.len() as i64 > PAGE));
    c.insert("hie_on", &Hie::from_config(&cx.app().config).is_some());
    render(&cx, "billing/claims.html", c)
}

/// The diagnoses of a visit from the modules that record them (and are on).
async fn diagnoses(cx: &Ctx, visit: VisitId) -> AppResult<Vec<(Option<String>, String)>> {
    let app = cx.app();
    let facts = app
        .modules
        .visit_facts(&app.db, &[visit], |m| cx.module_on(m))
        .await?;
    Ok(claims::diagnoses_of(&facts, visit))
}

fn claim_error(e: ClaimError) -> AppError {
    match e {
        ClaimError::Db(e) => e.into(),
        e => AppError::Conflict(t(e.key())),
    }
}

/// POST `/billing/claims`.
#[handler]
pub async fn prepare(cx: Ctx, form: Form) -> AppResult<Response> {
    let invoice: i64 = form
        .get("invoice")
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest(t("billing_claims.error_not_sha")))?;
    let db = &cx.app().db;
    let visit: Option<i64> =
        sqlx::query("SELECT visit_id FROM billing_invoices WHERE id = $1 AND payer = 'scheme'")
            .bind(invoice)
            .fetch_optional(db.read())
            .await
            .map_err(DbError::from)?
            .and_then(|r| r.get(0));
    let visit = visit.ok_or_else(|| AppError::Conflict(t("billing_claims.error_not_sha")))?;
    let found = diagnoses(&cx, VisitId(visit)).await?;
    let id = claims::prepare(db, &cx.actor(), invoice, found)
        .await
        .map_err(claim_error)?;
    cx.flash(FlashKind::Success, t("billing_claims.prepared_flash"));
    Ok(see_other(&format!("/billing/claims/{id}")))
}

/// POST `/billing/visits/:id/preauth`.
#[handler]
pub async fn preauth(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let visit = VisitId(id);
    let specialised = match specialised(&form) {
        Ok(s) => s,
        Err(errors) => {
            let (mut c, _) = super::desk::visit_context(&cx, visit).await?;
            c.insert("errors", &errors);
            c.insert("typed", &json!({ "method": "cash" }));
            c.insert("preauth_typed", &typed_preauth(&form));
            return render_status(
                &cx,
                poem::http::StatusCode::UNPROCESSABLE_ENTITY,
                "billing/visit.html",
                c,
            );
        }
    };
    let found = diagnoses(&cx, visit).await?;
    let claim = claims::prepare_preauth(&cx.app().db, &cx.actor(), visit, found, specialised)
        .await
        .map_err(claim_error)?;
    cx.flash(FlashKind::Success, t("billing_claims.preauth_flash"));
    Ok(see_other(&format!("/billing/claims/{claim}")))
}

const PREAUTH_FIELDS: &[&str] = &[
    "profile",
    "indication",
    "complaint",
    "history",
    "investigations",
    "anaesthesia",
    "session_date",
    "lens",
];
const ANAESTHESIA: &[&str] = &["general", "regional", "local", "sedation"];

fn typed_preauth(form: &Form) -> Value {
    PREAUTH_FIELDS
        .iter()
        .map(|f| (f.to_string(), json!(form.get(f))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The pre-authorisation form's profile and details: none for a general one; the messages
/// (under `preauth_` and the field's name) when something is wrong.
fn specialised(form: &Form) -> Result<Option<claims::Specialised>, FormErrors> {
    let profile = form.get("profile").trim();
    if profile.is_empty() {
        return Ok(None);
    }
    let mut errors = FormErrors::new();
    if !claims::PROFILES.contains(&profile) {
        errors.add("preauth_profile", t("billing_claims.error_profile"));
    }
    let text = |name: &str, errors: &mut FormErrors| {
        let value = form.get(name).trim().to_string();
        if value.chars().count() > 500 {
            errors.add(
                &format!("preauth_{name}"),
                t("billing_claims.error_too_long"),
            );
        }
        value
    };
    let s = claims::Specialised {
        profile: profile.to_string(),
        indication: text("indication", &mut errors),
        complaint: text("complaint", &mut errors),
        history: text("history", &mut errors),
        investigations: text("investigations", &mut errors),
        anaesthesia: form.get("anaesthesia").trim().to_string(),
        session_date: None,
        lens: text("lens", &mut errors),
    };
    if s.indication.is_empty() {
        errors.add("preauth_indication", t("billing_claims.error_indication"));
    }
    if !s.anaesthesia.is_empty() && !ANAESTHESIA.contains(&s.anaesthesia.as_str()) {
        errors.add("preauth_anaesthesia", t("billing_claims.error_anaesthesia"));
    }
    if profile == "surgical" && s.anaesthesia.is_empty() {
        errors.add("preauth_anaesthesia", t("billing_claims.error_anaesthesia"));
    }
    if profile == "optical" && s.lens.is_empty() {
        errors.add("preauth_lens", t("billing_claims.error_lens"));
    }
    let day = form.get("session_date").trim();
    let session_date = if day.is_empty() {
        None
    } else {
        match hms_core::dates::event(day) {
            Ok(d) => Some(hms_core::dates::text(d)),
            Err(e) => {
                errors.add(
                    "preauth_session_date",
                    e.message(hms_core::dates::latest_event()),
                );
                None
            }
        }
    };
    if errors.is_empty() {
        Ok(Some(claims::Specialised { session_date, ..s }))
    } else {
        Err(errors)
    }
}

/// POST `/billing/visits/:id/eligibility`.
#[handler]
pub async fn eligibility(cx: Ctx, Path(id): Path<i64>, _form: Form) -> AppResult<Response> {
    let app = cx.app();
    let hie = Hie::from_config(&app.config)
        .ok_or_else(|| AppError::Conflict(t("billing_claims.hie_off")))?;
    let visit = VisitId(id);
    let row = sqlx::query(
        "SELECT a.member_number, v.patient_id FROM billing_accounts a JOIN visits v ON v.id = a.visit_id \
         JOIN billing_schemes s ON s.id = a.scheme_id WHERE a.visit_id = $1 AND s.kind = 'sha'",
    )
    .bind(visit)
    .fetch_optional(app.db.read())
    .await
    .map_err(DbError::from)?
    .ok_or_else(|| AppError::Conflict(t("billing_claims.error_no_account")))?;
    let member: Option<String> = row.get(0);
    let member = match member.filter(|m| !m.trim().is_empty()) {
        Some(m) => m,
        None => hms_patients::api::identifier(
            &app.db,
            hms_core::ids::PatientId(row.get(1)),
            "sha_number",
        )
        .await?
        .ok_or_else(|| AppError::Conflict(t("billing_claims.error_no_member")))?,
    };
    match claims::check_eligibility(&app.db, &hie, &cx.actor(), visit, &member).await {
        Ok(true) => cx.flash(FlashKind::Success, t("billing_claims.eligible_flash")),
        Ok(false) => cx.flash(FlashKind::Warning, t("billing_claims.not_eligible_flash")),
        Err(SubmitError::Db(e)) => return Err(e.into()),
        Err(e) => cx.flash(
            FlashKind::Warning,
            t("billing_claims.hie_failed_flash").replace("{why}", &e.to_string()),
        ),
    }
    Ok(see_other(&format!("/billing/visits/{id}")))
}

/// GET `/billing/claims/:id` (the page) or `/billing/claims/:id.json` (the Bundle as a file).
#[handler]
pub async fn show(cx: Ctx, Path(file): Path<String>) -> AppResult<Response> {
    let (id, json_file) = match file.strip_suffix(".json") {
        Some(id) => (id.parse::<i64>().ok(), true),
        None => (file.parse::<i64>().ok(), false),
    };
    let id = id.ok_or(AppError::NotFound)?;
    let db = &cx.app().db;
    let r = sqlx::query(
        "SELECT c.purpose, COALESCE(i.number, ''), c.total_cents, c.status, c.approved_cents, \
         c.created_at, c.last_error, c.bundle, c.patient_id, c.visit_id, c.external_id, c.uuid, \
         c.invoice_id FROM billing_claims c LEFT JOIN billing_invoices i ON i.id = c.invoice_id \
         WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await
    .map_err(DbError::from)?
    .ok_or(AppError::NotFound)?;
    let patient: i64 = r.get(8);
    cx.audit_read(
        Event::new(
            if json_file {
                "billing.claim.export"
            } else {
                "billing.claim.view"
            },
            "billing_claim",
            Some(id),
        )
        .patient(patient),
    )
    .await;
    let bundle: String = r.get(7);
    if json_file {
        let uuid: String = r.get(11);
        return Ok(Response::builder()
            .content_type("application/fhir+json")
            .header(
                "content-disposition",
                format!("attachment; filename=\"claim-{uuid}.json\""),
            )
            .body(bundle));
    }
    let parsed: Value = serde_json::from_str(&bundle).unwrap_or(Value::Null);
    let claim = parsed["entry"]
        .as_array()
        .and_then(|e| e.iter().find(|x| x["resource"]["resourceType"] == "Claim"))
        .map(|x| x["resource"].clone())
        .unwrap_or(Value::Null);
    let items: Vec<Value> = claim["item"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    json!({
                        "code": i["productOrService"]["coding"][0]["code"].as_str().unwrap_or(""),
                        "text": i["productOrService"]["text"].as_str().unwrap_or(""),
                        "quantity": i["quantity"]["value"],
                        "net": format!("{:.2}", i["net"]["value"].as_f64().unwrap_or(0.0)),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let diagnoses: Vec<String> = claim["diagnosis"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|x| {
                    x["diagnosisReference"]["display"]
                        .as_str()
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut c = tera::Context::new();
    c.insert("id", &id);
    c.insert("purpose", &r.get::<String, _>(0));
    c.insert("invoice", &r.get::<String, _>(1));
    c.insert("invoice_id", &r.get::<Option<i64>, _>(12));
    c.insert("total", &Money::from_cents(r.get(2)).to_string());
    c.insert("status", &r.get::<String, _>(3));
    c.insert(
        "approved",
        &r.get::<Option<i64>, _>(4)
            .map(|a| Money::from_cents(a).to_string()),
    );
    c.insert(
        "at",
        &hms_core::clock::display_rfc3339(&r.get::<String, _>(5)),
    );
    c.insert("error", &r.get::<Option<String>, _>(6));
    c.insert("visit", &r.get::<i64, _>(9));
    c.insert("external_id", &r.get::<Option<String>, _>(10));
    c.insert("items", &items);
    c.insert("diagnoses", &diagnoses);
    c.insert("hie_on", &Hie::from_config(&cx.app().config).is_some());
    render(&cx, "billing/claim.html", c)
}

/// POST `/billing/claims/:id/submit`.
#[handler]
pub async fn submit(cx: Ctx, Path(id): Path<i64>, _form: Form) -> AppResult<Response> {
    let app = cx.app();
    let hie = Hie::from_config(&app.config)
        .ok_or_else(|| AppError::Conflict(t("billing_claims.hie_off")))?;
    match claims::submit(&app.db, &hie, &cx.actor(), id).await {
        Ok(d) => cx.flash(
            if d.status == "rejected" {
                FlashKind::Danger
            } else {
                FlashKind::Success
            },
            t("billing_claims.submitted_flash").replace(
                "{status}",
                &t(&format!("billing_claims.status_{}", d.status)),
            ),
        ),
        Err(SubmitError::NotPrepared) => {
            return Err(AppError::Conflict(t("billing_claims.error_not_prepared")))
        }
        Err(SubmitError::Db(e)) => return Err(e.into()),
        Err(e) => cx.flash(
            FlashKind::Warning,
            t("billing_claims.hie_failed_flash").replace("{why}", &e.to_string()),
        ),
    }
    Ok(see_other(&format!("/billing/claims/{id}")))
}

/// GET `/billing/claims.csv`: the claims of the list (its `status` filter), newest first.
#[handler]
pub async fn summary_csv(cx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let rows = sqlx::query(
        "SELECT c.uuid, c.purpose, COALESCE(i.number, ''), c.visit_id, p.number, c.total_cents, \
         c.status, c.approved_cents, c.created_at, c.bundle FROM billing_claims c \
         LEFT JOIN billing_invoices i ON i.id = c.invoice_id JOIN patients p ON p.id = c.patient_id \
         WHERE ($1 = '' OR c.status = $1) ORDER BY c.id DESC LIMIT 10000",
    )
    .bind(status_of(&q))
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?;
    let mut out = String::from(claims::csv_header());
    for r in &rows {
        let bundle: Value = serde_json::from_str(&r.get::<String, _>(9)).unwrap_or(Value::Null);
        let member = bundle["entry"][1]["resource"]["identifier"][0]["value"]
            .as_str()
            .unwrap_or("");
        let cells = [
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<i64, _>(3).to_string(),
            r.get::<String, _>(4),
            member.to_string(),
            Money::from_cents(r.get(5)).plain(),
            r.get::<String, _>(6),
            r.get::<Option<i64>, _>(7)
                .map(|a| Money::from_cents(a).plain())
                .unwrap_or_default(),
            r.get::<String, _>(8),
        ];
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    cx.audit_read(Event::new("billing.claim.export", "billing_claim", None))
        .await;
    Ok(csv_attachment("sha-claims", out))
}
