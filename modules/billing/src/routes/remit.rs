//! Remittances on screen (`billing.invoice`). `GET /billing/remittances` lists those recorded
//! (`page`) and asks which scheme paid; `GET /billing/remittances/new?scheme=&q=` is the form:
//! the scheme's open invoices, oldest first (`q` narrows them by invoice or patient number),
//! each with a field for its part; `POST /billing/remittances` records it; `GET
//! /billing/remittances/:id` shows one with the invoices it paid.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use hms_core::audit::Event;
use hms_core::http::{render, render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::money::Money;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use crate::model;
use crate::prices;
use crate::remit::{self, NewRemittance, RemitError};
use crate::INVOICE;

const PAGE: i64 = 30;
/// Open invoices the form lists at once; a search finds the others.
const SHOWN: i64 = 100;
/// A remittance settles many bills: up to KES 1,000,000,000 at once.
const MAX_REMITTANCE: Money = Money::from_cents(100_000_000_000);

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/billing/remittances", Access::Permission(INVOICE), list),
        RouteSpec::post("/billing/remittances", Access::Permission(INVOICE), record),
        RouteSpec::get(
            "/billing/remittances/new",
            Access::Permission(INVOICE),
            new_form,
        ),
        RouteSpec::get(
            "/billing/remittances/:id",
            Access::Permission(INVOICE),
            show,
        ),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    page: Option<String>,
}

/// The schemes that pay by remittance (all but cash).
async fn payers(cx: &Ctx) -> AppResult<Vec<prices::Scheme>> {
    Ok(prices::schemes(&cx.app().db)
        .await?
        .into_iter()
        .filter(|s| s.kind != "cash")
        .collect())
}

/// GET `/billing/remittances`.
#[handler]
pub async fn list(cx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Response> {
    let page = super::page(q.page.as_deref());
    let rows = remit::recent(&cx.app().db, PAGE + 1, (page - 1) * PAGE).await?;
    let mut c = tera::Context::new();
    c.insert("has_next", &(rows.len() as i64 > PAGE));
    c.insert(
        "remittances",
        &rows.into_iter().take(PAGE as usize).collect::<Vec<_>>(),
    );
    c.insert("page", &page);
    c.insert("schemes", &payers(&cx).await?);
    render(&cx, "billing/remittances.html", c)
}

#[derive(Debug, Default, Deserialize)]
pub struct FormQuery {
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

/// GET `/billing/remittances/new?scheme=`.
#[handler]
pub async fn new_form(cx: Ctx, Query(q): Query<FormQuery>) -> AppResult<Response> {
    let Some(scheme) = q
        .scheme
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok())
    else {
        return Ok(see_other("/billing/remittances"));
    };
    let typed = json!({
        "received_on": hms_core::dates::form_text(hms_core::day::Day::today().date()),
    });
    let search = q.q.unwrap_or_default();
    page(
        &cx,
        StatusCode::OK,
        scheme,
        &search,
        typed,
        &[],
        FormErrors::new(),
    )
    .await
}

/// The form, with what was typed into it (`typed`, and `parts` by invoice id) and its errors.
async fn page(
    cx: &Ctx,
    status: StatusCode,
    scheme: i64,
    search: &str,
    typed: Value,
    parts: &[(i64, String)],
    errors: FormErrors,
) -> AppResult<Response> {
    let scheme = payers(cx)
        .await?
        .into_iter()
        .find(|s| s.id == scheme)
        .ok_or(AppError::NotFound)?;
    let invoices: Vec<Value> = remit::open_invoices(&cx.app().db, scheme.id, search, SHOWN)
        .await?
        .into_iter()
        .map(|i| {
            let part = parts
                .iter()
                .find(|p| p.0 == i.id)
                .map(|p| p.1.clone())
                .unwrap_or_default();
            let error = errors.get(&format!("part_{}", i.id)).map(str::to_string);
            json!({ "inv": i, "typed": part, "error": error })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("scheme", &scheme);
    c.insert("q", search);
    c.insert("full", &(invoices.len() as i64 == SHOWN));
    c.insert("invoices", &invoices);
    c.insert("typed", &typed);
    c.insert("errors", &errors);
    render_status(cx, status, "billing/remittance_form.html", c)
}

/// POST `/billing/remittances`: fields `scheme`, `q` (the search the form was shown with),
/// `reference`, `amount`, `received_on`, `note`, and per listed invoice `invoice` (its id) with
/// `part_<id>` (blank: not paid by this remittance).
#[handler]
pub async fn record(cx: Ctx, form: Form) -> AppResult<Response> {
    let scheme: i64 = form
        .get("scheme")
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest(t("billing_remit.error_scheme")))?;
    let search = form.get("q").to_string();
    let typed = json!({
        "reference": form.get("reference"), "amount": form.get("amount"),
        "received_on": form.get("received_on"), "note": form.get("note"),
    });
    let mut errors = FormErrors::new();
    let reference = form.get("reference").trim().to_string();
    if reference.is_empty() {
        errors.add("reference", t("billing_remit.error_reference"));
    } else if reference.chars().count() > 60 {
        errors.add("reference", t("billing_remit.error_reference_long"));
    }
    let amount = model::amount_up_to(form.get("amount"), MAX_REMITTANCE)
        .map_err(|key| errors.add("amount", t(key)))
        .ok();
    let today = hms_core::day::Day::today().date();
    let received_on = match hms_core::dates::within(
        form.get("received_on"),
        hms_core::dates::earliest(),
        today,
    ) {
        Ok(d) => d,
        Err(e) => {
            errors.add("received_on", e.message(today));
            today
        }
    };
    let note = form.get("note").trim();
    if note.chars().count() > 300 {
        errors.add("note", t("billing_remit.error_note"));
    }
    let mut typed_parts = Vec::new();
    let mut parts = Vec::new();
    for invoice in form.all("invoice") {
        let Ok(invoice) = invoice.trim().parse::<i64>() else {
            continue;
        };
        let field = format!("part_{invoice}");
        let text = form.get(&field);
        typed_parts.push((invoice, text.to_string()));
        if text.trim().is_empty() || parts.iter().any(|(i, _)| *i == invoice) {
            continue;
        }
        match model::amount(text) {
            Ok(part) => parts.push((invoice, part)),
            Err(key) => errors.add(&field, t(key)),
        }
    }
    if parts.is_empty() && errors.is_empty() {
        errors.add("form", t("billing_remit.error_no_parts"));
    }
    let again = |errors| {
        page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            scheme,
            &search,
            typed.clone(),
            &typed_parts,
            errors,
        )
    };
    let (Some(amount), true) = (amount, errors.is_empty()) else {
        return again(errors).await;
    };
    let new = NewRemittance {
        scheme,
        reference,
        amount,
        received_on,
        note: (!note.is_empty()).then(|| note.to_string()),
        parts,
    };
    let mut tx = cx.app().db.begin().await?;
    match remit::record(&mut tx, &cx.actor(), &new, &hms_core::clock::now_rfc3339()).await {
        Ok(id) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("billing_remit.recorded"));
            Ok(see_other(&format!("/billing/remittances/{id}")))
        }
        Err(e) => {
            tx.rollback().await.ok();
            match e {
                RemitError::NoParts => errors.add("form", t("billing_remit.error_no_parts")),
                RemitError::Sum(sum) => errors.add(
                    "amount",
                    t("billing_remit.error_sum").replace("{sum}", &sum.to_string()),
                ),
                RemitError::ReferenceUsed => {
                    errors.add("reference", t("billing_remit.error_reference_used"))
                }
                RemitError::TooMuch(invoice) => errors.add(
                    &format!("part_{invoice}"),
                    t("billing_remit.error_too_much"),
                ),
                RemitError::Db(e) => return Err(e.into()),
            }
            again(errors).await
        }
    }
}

/// GET `/billing/remittances/:id`.
#[handler]
pub async fn show(cx: Ctx, Path(id): Path<String>) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let (remittance, parts) = remit::get(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    cx.audit_read(Event::new(
        "billing.remittance.view",
        "billing_remittance",
        Some(id),
    ))
    .await;
    let mut c = tera::Context::new();
    c.insert("r", &remittance);
    c.insert("parts", &parts);
    render(&cx, "billing/remittance.html", c)
}
