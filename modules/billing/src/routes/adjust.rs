//! Credit notes, waivers and refunds on screen. `POST /billing/invoices/:id/requests` asks
//! (fields `kind`, `amount`, `reason`, `category`), from the invoice's page; `/billing/approvals`
//! lists what waits for a second person and the refunds approved but not yet paid out, with the
//! latest decisions; `POST /billing/approvals/:id/approve` and `/reject` (field `note`) decide;
//! `POST /billing/approvals/:id/pay-out` (field `method`) pays an approved refund at the desk;
//! `/billing/credit-notes/:id.pdf` prints a credit note.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde_json::json;
use sqlx::Row;

use hms_core::audit::Event;
use hms_core::db::DbError;
use hms_core::http::{pdf_inline, render, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::money::Money;
use hms_core::pdf::Letterhead;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};
use hms_patients::api as patients;

use crate::adjust::{self, label, AdjustError, Kind, NewRequest, RefundMethod};
use crate::{APPROVE, COLLECT, INVOICE, VIEW};

/// Open requests shown at most; the page says when there are more.
const OPEN_LIMIT: i64 = 200;
/// Latest decisions shown.
const DECIDED_LIMIT: i64 = 20;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::post(
            "/billing/invoices/:id/requests",
            Access::Permission(COLLECT),
            request,
        ),
        RouteSpec::get("/billing/approvals", Access::Permission(VIEW), approvals),
        RouteSpec::post(
            "/billing/approvals/:id/approve",
            Access::Permission(APPROVE),
            approve,
        ),
        RouteSpec::post(
            "/billing/approvals/:id/reject",
            Access::Permission(APPROVE),
            reject,
        ),
        RouteSpec::post(
            "/billing/approvals/:id/pay-out",
            Access::Permission(COLLECT),
            pay_out,
        ),
        RouteSpec::get(
            "/billing/credit-notes/:file",
            Access::Permission(VIEW),
            credit_note,
        ),
    ]
}

/// What the invoice page adds for adjustments: its credit notes, its open requests, and what
/// may still be asked (for the form).
pub async fn invoice_context(
    cx: &Ctx,
    c: &mut tera::Context,
    inv: &crate::docs::Invoice,
) -> AppResult<()> {
    let db = &cx.app().db;
    c.insert(
        "credit_notes",
        &crate::docs::credit_notes_of(db, inv.id).await?,
    );
    let open = sqlx::query(
        "SELECT r.id, r.kind, r.amount_cents, r.reason, r.status, r.requested_at FROM billing_requests r \
         WHERE r.invoice_id = $1 AND r.status IN ('pending', 'approved') ORDER BY r.id",
    )
    .bind(inv.id)
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?;
    let open: Vec<_> = open
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<i64, _>(0), "kind": label("kind", Some(r.get(1))),
                "amount": Money::from_cents(r.get(2)).to_string(), "reason": r.get::<String, _>(3),
                "status": r.get::<String, _>(4),
                "at": hms_core::clock::display_rfc3339(&r.get::<String, _>(5)),
            })
        })
        .collect();
    c.insert("open_requests", &open);
    let room = adjust::room(db, inv.id).await?;
    let can_credit = cx.can(INVOICE);
    let kinds: Vec<&str> = room
        .map(|r| {
            let mut k = Vec::new();
            if can_credit && r.credit > Money::ZERO {
                k.push("credit");
            }
            if r.patient && r.credit > Money::ZERO {
                k.push("waiver");
            }
            if r.patient && r.refund > Money::ZERO {
                k.push("refund");
            }
            k
        })
        .unwrap_or_default();
    c.insert("can_waive", &(cx.can(COLLECT) && kinds.contains(&"waiver")));
    let kinds: Vec<_> = kinds
        .into_iter()
        .filter(|_| cx.can(COLLECT))
        .map(|k| {
            json!({ "code": k, "label": label("kind", Some(k.to_string())),
                    "help": t(&format!("billing_adjust.kind_{k}_help")) })
        })
        .collect();
    c.insert("room", &room);
    c.insert("request_kinds", &kinds);
    Ok(())
}

/// POST `/billing/invoices/:id/requests`.
#[handler]
pub async fn request(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let typed = json!({
        "kind": form.get("kind"), "amount": form.get("amount"),
        "reason": form.get("reason"), "category": form.get("category"),
    });
    let kind = Kind::parse(form.get("kind"));
    match kind {
        None => errors.add("kind", t("billing_adjust.error_kind")),
        Some(Kind::Credit) if !cx.can(INVOICE) => {
            errors.add("kind", t("billing_adjust.error_kind"))
        }
        _ => {}
    }
    let amount = match crate::model::amount(form.get("amount")) {
        Ok(a) => Some(a),
        Err(key) => {
            errors.add("amount", t(key));
            None
        }
    };
    let reason = form.get("reason").trim().to_string();
    let reason_ok = (3..=500).contains(&reason.chars().count())
        && !reason
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r');
    if !reason_ok {
        errors.add("reason", t("billing_adjust.error_reason"));
    }
    let category = match form.get("category").trim() {
        c @ ("waiver" | "exemption") => Some(c.to_string()),
        _ => None,
    };
    if kind == Some(Kind::Waiver) && category.is_none() {
        errors.add("category", t("billing_adjust.error_category"));
    }
    let (Some(kind), Some(amount), true) = (kind, amount, errors.is_empty()) else {
        return super::documents::invoice_page(
            &cx,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            typed,
            errors,
        )
        .await;
    };
    let new = NewRequest {
        invoice: id,
        kind,
        amount,
        reason,
        category: category.filter(|_| kind == Kind::Waiver),
    };
    let mut tx = cx.app().db.begin().await?;
    let now = hms_core::clock::now_rfc3339();
    match adjust::request(&mut tx, &cx.actor(), &new, &now).await {
        Ok(_) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("billing_adjust.requested_flash"));
            Ok(see_other(&format!("/billing/invoices/{id}")))
        }
        Err(e) => {
            tx.rollback().await.ok();
            let (field, message) = match e {
                AdjustError::NotFound => return Err(AppError::NotFound),
                AdjustError::Db(d) => return Err(d.into()),
                AdjustError::TooLarge(left) => {
                    ("amount", t(e.key()).replace("{left}", &left.to_string()))
                }
                other => ("kind", t(other.key())),
            };
            errors.add(field, message);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            super::documents::invoice_page(&cx, id, status, typed, errors).await
        }
    }
}

macro_rules! select_requests {
    ($tail:literal) => {
        concat!(
            "SELECT r.id, r.kind, r.amount_cents, r.reason, r.category, r.status, r.requested_at, ",
            "r.requested_by, (SELECT COALESCE(u.full_name, u.username) FROM users u WHERE u.id = r.requested_by), ",
            "(SELECT COALESCE(u.full_name, u.username) FROM users u WHERE u.id = r.decided_by), ",
            "r.decided_at, r.decision_note, i.id, i.number, i.patient_id, n.id, n.number ",
            "FROM billing_requests r JOIN billing_invoices i ON i.id = r.invoice_id ",
            "LEFT JOIN billing_credit_notes n ON n.request_id = r.id ",
            $tail
        )
    };
}

/// GET `/billing/approvals`.
#[handler]
pub async fn approvals(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    let open = sqlx::query(select_requests!(
        "WHERE r.status IN ('pending', 'approved') ORDER BY r.id LIMIT CAST($1 AS BIGINT)"
    ))
    .bind(OPEN_LIMIT + 1)
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?;
    let decided = sqlx::query(select_requests!(
        "WHERE r.decided_at IS NOT NULL AND r.status IN ('rejected', 'done') \
         ORDER BY r.decided_at DESC LIMIT CAST($1 AS BIGINT)"
    ))
    .bind(DECIDED_LIMIT)
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?;
    let ids: Vec<PatientId> = open
        .iter()
        .chain(decided.iter())
        .map(|r| PatientId(r.get(14)))
        .collect();
    let cards = patients::cards(db, &ids).await?;
    let me = cx.user().map(|u| u.id).unwrap_or(0);
    let row = |r: &sqlx::any::AnyRow| {
        let pid: i64 = r.get(14);
        let card = cards.iter().find(|c| c.id.get() == pid);
        json!({
            "id": r.get::<i64, _>(0), "kind": label("kind", Some(r.get(1))),
            "amount": Money::from_cents(r.get(2)).to_string(), "reason": r.get::<String, _>(3),
            "category": r.get::<Option<String>, _>(4).map(|c| label("category", Some(c))),
            "status": r.get::<String, _>(5),
            "requested_at": hms_core::clock::display_rfc3339(&r.get::<String, _>(6)),
            "mine": r.get::<i64, _>(7) == me,
            "requested_by": r.get::<Option<String>, _>(8),
            "decided_by": r.get::<Option<String>, _>(9),
            "decided_at": r.get::<Option<String>, _>(10).as_deref().map(hms_core::clock::display_rfc3339),
            "note": r.get::<Option<String>, _>(11),
            "invoice_id": r.get::<i64, _>(12), "invoice": r.get::<String, _>(13),
            "patient_number": card.map(|c| c.number.clone()).unwrap_or_default(),
            "patient": card.map(|c| c.full_name.clone()).unwrap_or_default(),
            "credit_note_id": r.get::<Option<i64>, _>(15),
            "credit_note": r.get::<Option<String>, _>(16),
        })
    };
    let pending: Vec<_> = open
        .iter()
        .take(OPEN_LIMIT as usize)
        .filter(|r| r.get::<String, _>(5) == "pending")
        .map(row)
        .collect();
    let to_pay: Vec<_> = open
        .iter()
        .take(OPEN_LIMIT as usize)
        .filter(|r| r.get::<String, _>(5) == "approved")
        .map(row)
        .collect();
    let decided: Vec<_> = decided.iter().map(row).collect();
    cx.audit_read(
        Event::new("billing.approvals.view", "billing_request", None)
            .detail(json!({ "shown": pending.len() + to_pay.len() + decided.len() })),
    )
    .await;
    let mut c = tera::Context::new();
    c.insert("pending", &pending);
    c.insert("to_pay", &to_pay);
    c.insert("decided", &decided);
    c.insert("more", &(open.len() as i64 > OPEN_LIMIT));
    c.insert("can_approve", &cx.can(APPROVE));
    c.insert("can_collect", &cx.can(COLLECT));
    render(&cx, "billing/approvals.html", c)
}

async fn decide(cx: &Ctx, id: i64, approving: bool, form: &Form) -> AppResult<Response> {
    let note = form.get("note").trim();
    if note.chars().count() > 500 {
        return Err(AppError::BadRequest(t("billing_adjust.error_note")));
    }
    let mut tx = cx.app().db.begin().await?;
    let now = hms_core::clock::now_rfc3339();
    match adjust::decide(&mut tx, &cx.actor(), id, approving, note, &now).await {
        Ok(note_id) => {
            tx.commit().await?;
            let message = match note_id {
                Some(_) => t("billing_adjust.approved_note_flash"),
                None if approving => t("billing_adjust.approved_refund_flash"),
                None => t("billing_adjust.rejected_flash"),
            };
            cx.flash(FlashKind::Success, message);
            Ok(see_other("/billing/approvals"))
        }
        Err(e) => {
            tx.rollback().await.ok();
            Err(into_app(e))
        }
    }
}

fn into_app(e: AdjustError) -> AppError {
    match e {
        AdjustError::NotFound => AppError::NotFound,
        AdjustError::Db(d) => d.into(),
        AdjustError::TooLarge(_) => AppError::Conflict(t("billing_adjust.error_changed")),
        other => AppError::Conflict(t(other.key())),
    }
}

/// POST `/billing/approvals/:id/approve`.
#[handler]
pub async fn approve(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    decide(&cx, id, true, &form).await
}

/// POST `/billing/approvals/:id/reject`.
#[handler]
pub async fn reject(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    decide(&cx, id, false, &form).await
}

/// POST `/billing/approvals/:id/pay-out`.
#[handler]
pub async fn pay_out(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let method = RefundMethod::parse(form.get("method"))
        .ok_or_else(|| AppError::BadRequest(t("billing.error_method")))?;
    let mut tx = cx.app().db.begin().await?;
    let now = hms_core::clock::now_rfc3339();
    match adjust::pay_out(&mut tx, &cx.actor(), id, method, &now).await {
        Ok(note) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("billing_adjust.paid_out_flash"));
            Ok(see_other(&format!("/billing/approvals?credit_note={note}")))
        }
        Err(e) => {
            tx.rollback().await.ok();
            Err(into_app(e))
        }
    }
}

/// GET `/billing/credit-notes/:id.pdf`.
#[handler]
pub async fn credit_note(cx: Ctx, Path(file): Path<String>) -> AppResult<Response> {
    let Some((id, true)) = super::file_id(&file) else {
        return Err(AppError::NotFound);
    };
    let db = &cx.app().db;
    let n = crate::docs::credit_note(db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let patient = super::documents::party(db, n.patient_id).await?;
    let printed = Event::new("billing.credit_note.print", "billing_credit_note", Some(id));
    let copy =
        super::documents::print(&cx, ("credit_note", id), printed, n.patient_id, &n.number).await?;
    let head = Letterhead::load(db).await?;
    let pin = super::documents::kra_pin(db).await?;
    let of = crate::etims::Of::CreditNote(id);
    let stamp = crate::etims::print_of(db, of, &pin, &cx.app().config).await?;
    let bytes = crate::docs::credit_note_pdf(&head, &pin, &n, &patient, stamp.as_ref(), copy);
    Ok(pdf_inline(&format!("{}.pdf", n.number), bytes))
}
