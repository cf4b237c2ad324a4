//! Invoices and receipts: `/billing/invoices` (search by number or patient number, newest
//! first, a page at a time), `/billing/invoices/:id` and `:id.pdf`, `/billing/receipts/:id.pdf`
//! (80 mm roll; `?size=a4` for A4), and `/billing/mpesa`, the M-Pesa payments booked at the
//! desk by confirmation code. Every print is recorded; a reprint says COPY.

use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use hms_core::audit::Event;
use hms_core::db::DbError;
use hms_core::http::{pdf_inline, render, render_status, Access, Ctx, RouteSpec};
use hms_core::ids::PatientId;
use hms_core::money::Money;
use hms_core::pdf::{Letterhead, PageSize};
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};
use hms_patients::api as patients;
use poem::http::StatusCode;

use crate::docs::{self, Party};
use crate::etims;
use crate::VIEW;

const PAGE: i64 = 30;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/billing/invoices", Access::Permission(VIEW), invoices),
        RouteSpec::get("/billing/invoices/:file", Access::Permission(VIEW), invoice),
        RouteSpec::get("/billing/receipts/:file", Access::Permission(VIEW), receipt),
        RouteSpec::get("/billing/mpesa", Access::Permission(VIEW), mpesa),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    size: Option<String>,
}

/// GET `/billing/invoices`.
#[handler]
pub async fn invoices(cx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let search = q.q.unwrap_or_default().trim().to_uppercase();
    let page = super::page(q.page.as_deref());
    let patient = if search.is_empty() {
        0
    } else {
        patients::card_by_number(db, &search)
            .await?
            .map(|c| c.id.get())
            .unwrap_or(-1)
    };
    let rows = sqlx::query(
        "SELECT i.id, i.number, i.patient_id, i.payer, s.name, i.total_cents, i.paid_cents + i.credited_cents, i.issued_at \
         FROM billing_invoices i LEFT JOIN billing_schemes s ON s.id = i.scheme_id \
         WHERE i.status = 'issued' AND ($1 = '' OR i.number = $1 OR i.patient_id = $2) \
         ORDER BY i.id DESC LIMIT CAST($3 AS BIGINT) OFFSET CAST($4 AS BIGINT)",
    )
    .bind(&search)
    .bind(patient)
    .bind(PAGE + 1)
    .bind((page - 1) * PAGE)
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?;
    let ids: Vec<PatientId> = rows.iter().map(|r| PatientId(r.get(2))).collect();
    let cards = patients::cards(db, &ids).await?;
    let list: Vec<_> = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| {
            let pid: i64 = r.get(2);
            let card = cards.iter().find(|c| c.id.get() == pid);
            let total: Money = r.get(5);
            let paid: Money = r.get(6);
            json!({
                "id": r.get::<i64, _>(0), "number": r.get::<String, _>(1),
                "patient_number": card.map(|c| c.number.clone()).unwrap_or_default(),
                "patient": card.map(|c| c.full_name.clone()).unwrap_or_default(),
                "payer": r.get::<Option<String>, _>(4).filter(|_| r.get::<String, _>(3) == "scheme"),
                "total": total.to_string(), "balance": (total - paid).to_string(),
                "open": paid < total,
                "issued": hms_core::clock::display_rfc3339(&r.get::<String, _>(7)),
            })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("rows", &list);
    c.insert("q", &search);
    c.insert("page", &page);
    c.insert("has_next", &(rows.len() as i64 > PAGE));
    render(&cx, "billing/invoices.html", c)
}

pub(super) async fn party(db: &hms_core::db::Db, patient: i64) -> AppResult<Party> {
    let card = patients::card(db, PatientId(patient))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Party {
        number: card.number,
        name: card.full_name,
    })
}

pub(super) async fn kra_pin(db: &hms_core::db::Db) -> AppResult<String> {
    Ok(hms_core::settings::get(db, docs::KRA_PIN_SETTING)
        .await?
        .unwrap_or_default())
}

/// Records a print of a money document and audits it as a read of the patient's data; true
/// when it is a reprint (a COPY).
pub(super) async fn print(
    cx: &Ctx,
    (document, id): (&str, i64),
    event: Event,
    patient: i64,
    number: &str,
) -> AppResult<bool> {
    // Through the group writer: prints at several desks share a commit.
    let (document, by) = (document.to_string(), cx.user().map(|u| u.id));
    let copy = cx
        .app()
        .db
        .write(move |tx| {
            let document = document.clone();
            Box::pin(async move { docs::record_print(tx, &document, id, by).await })
        })
        .await?;
    cx.audit_read(
        event
            .patient(patient)
            .detail(json!({ "number": number, "copy": copy })),
    )
    .await;
    Ok(copy)
}

/// The invoice's page, with its credit notes and the form asking for one (`typed` and `errors`
/// when that form comes back).
pub(super) async fn invoice_page(
    cx: &Ctx,
    id: i64,
    status: StatusCode,
    typed: serde_json::Value,
    errors: FormErrors,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let inv = docs::invoice(db, id).await?.ok_or(AppError::NotFound)?;
    let patient = party(db, inv.patient_id).await?;
    cx.audit_read(
        Event::new("billing.invoice.view", "billing_invoice", Some(id)).patient(inv.patient_id),
    )
    .await;
    let mut c = tera::Context::new();
    super::adjust::invoice_context(cx, &mut c, &inv).await?;
    c.insert("inv", &inv);
    c.insert(
        "patient",
        &json!({ "number": patient.number, "name": patient.name }),
    );
    c.insert("typed", &typed);
    c.insert("errors", &errors);
    render_status(cx, status, "billing/invoice.html", c)
}

/// GET `/billing/invoices/:id` and `/billing/invoices/:id.pdf`.
#[handler]
pub async fn invoice(cx: Ctx, Path(file): Path<String>) -> AppResult<Response> {
    let (id, pdf) = super::file_id(&file).ok_or(AppError::NotFound)?;
    let db = &cx.app().db;
    if !pdf {
        return invoice_page(&cx, id, StatusCode::OK, json!({}), FormErrors::new()).await;
    }
    let inv = docs::invoice(db, id).await?.ok_or(AppError::NotFound)?;
    let patient = party(db, inv.patient_id).await?;
    let printed = Event::new("billing.invoice.print", "billing_invoice", Some(id));
    let copy = print(&cx, ("invoice", id), printed, inv.patient_id, &inv.number).await?;
    let head = Letterhead::load(db).await?;
    let pin = kra_pin(db).await?;
    let stamp = etims::print_of(db, etims::Of::Invoice(id), &pin, &cx.app().config).await?;
    let bytes = docs::invoice_pdf(&head, &pin, &inv, &patient, stamp.as_ref(), copy);
    Ok(pdf_inline(&format!("{}.pdf", inv.number), bytes))
}

/// GET `/billing/receipts/:id.pdf`.
#[handler]
pub async fn receipt(
    cx: Ctx,
    Path(file): Path<String>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let (id, _) = super::file_id(&file).ok_or(AppError::NotFound)?;
    let db = &cx.app().db;
    let r = docs::receipt(db, id).await?.ok_or(AppError::NotFound)?;
    let patient = party(db, r.patient_id).await?;
    let size = q
        .size
        .as_deref()
        .and_then(PageSize::from_query)
        .filter(|s| matches!(s, PageSize::A4 | PageSize::A5 | PageSize::Receipt80))
        .unwrap_or(PageSize::Receipt80);
    let printed = Event::new("billing.receipt.print", "billing_payment", Some(id));
    let copy = print(&cx, ("receipt", id), printed, r.patient_id, &r.number).await?;
    let head = Letterhead::load(db).await?;
    let pin = kra_pin(db).await?;
    let stamp = match r.first_invoice {
        Some(i) => etims::print_of(db, etims::Of::Invoice(i), &pin, &cx.app().config).await?,
        None => None,
    };
    let bytes = docs::receipt_pdf(&head, &pin, &r, &patient, size, stamp.as_ref(), copy);
    Ok(pdf_inline(&format!("{}.pdf", r.number), bytes))
}

/// GET `/billing/mpesa`: M-Pesa payments booked at the desk, newest first; `q` finds a code.
#[handler]
pub async fn mpesa(cx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let search = q.q.unwrap_or_default().trim().to_uppercase();
    let page = super::page(q.page.as_deref());
    let rows = sqlx::query(
        "SELECT p.id, p.mpesa_receipt, p.receipt_number, p.amount_cents, p.received_at, p.visit_id, \
         (SELECT COUNT(*) FROM billing_mpesa_receipts m WHERE m.payment_id = p.id) \
         FROM billing_payments p WHERE p.method = 'mpesa' AND ($1 = '' OR p.mpesa_receipt = $1) \
         ORDER BY p.id DESC LIMIT CAST($2 AS BIGINT) OFFSET CAST($3 AS BIGINT)",
    )
    .bind(&search)
    .bind(PAGE + 1)
    .bind((page - 1) * PAGE)
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?;
    let list: Vec<_> = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| {
            json!({
                "id": r.get::<i64, _>(0), "code": r.get::<String, _>(1),
                "receipt": r.get::<String, _>(2),
                "amount": Money::from_cents(r.get(3)).to_string(),
                "at": hms_core::clock::display_rfc3339(&r.get::<String, _>(4)),
                "visit": r.get::<Option<i64>, _>(5),
                "confirmed": r.get::<i64, _>(6) > 0,
            })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("rows", &list);
    c.insert("q", &search);
    c.insert("page", &page);
    c.insert("has_next", &(rows.len() as i64 > PAGE));
    let unmatched: Vec<_> = sqlx::query(
        "SELECT id, receipt, amount_cents, phone, bill_ref, received_at, visit_id FROM billing_mpesa_receipts \
         WHERE status = 'unmatched' ORDER BY received_at LIMIT 100",
    )
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?
    .iter()
    .map(|r| {
        json!({
            "id": r.get::<i64, _>(0), "code": r.get::<String, _>(1),
            "amount": Money::from_cents(r.get(2)).to_string(),
            "phone": r.get::<Option<String>, _>(3).unwrap_or_default(),
            "bill_ref": r.get::<Option<String>, _>(4).unwrap_or_default(),
            "at": hms_core::clock::display_rfc3339(&r.get::<String, _>(5)),
            "suggested": r.get::<Option<i64>, _>(6)
                .map(|v| crate::mpesa::bill_ref(hms_core::ids::VisitId(v)))
                .unwrap_or_default(),
        })
    })
    .collect();
    c.insert("unmatched", &unmatched);
    c.insert("can_collect", &cx.can(crate::COLLECT));
    render(&cx, "billing/mpesa.html", c)
}
