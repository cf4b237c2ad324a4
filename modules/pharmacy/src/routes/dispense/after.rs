//! A dispense's page and what follows preparing: *Issue* (after payment when billing asks for
//! it; a second click never issues twice), *Cancel* a prepared one, returns of unopened
//! medicine, and closing a prescription's balance.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ids::{OrderId, PatientId};
use hms_core::money::Money;
use hms_core::orders;
use hms_core::{AppError, AppResult};

use crate::dispense::{self, CloseReason, DispenseError};
use crate::repo::dispenses as repo;

fn back(id: i64) -> String {
    format!("/pharmacy/dispenses/{id}")
}

async fn context(
    cx: &Ctx,
    id: i64,
    errors: Option<(i64, String)>,
) -> AppResult<(tera::Context, Option<i64>)> {
    let app = cx.app();
    let db = &app.db;
    let d = repo::dispense(db, id).await?.ok_or(AppError::NotFound)?;
    let lines = repo::lines(db, id).await?;
    let taken = repo::taken_from(db, id).await?;
    let patient = match d.patient {
        Some(p) => hms_patients::api::card(db, PatientId(p)).await?,
        None => None,
    };
    let mut total = 0;
    let rows: Vec<_> = lines
        .iter()
        .map(|l| {
            let counted = if d.state == "issued" { l.issued - l.returned } else { l.quantity };
            total += counted * l.unit_price_cents;
            let batches: Vec<String> = taken
                .iter()
                .filter(|(line, _, _, _)| *line == l.id)
                .map(|(_, no, exp, n)| format!("{no} × {n} ({} {})", t("pharmacy_dispense.exp"), exp_show(exp)))
                .collect();
            json!({
                "id": l.id, "drug": l.drug_name, "unit": l.unit, "quantity": l.quantity,
                "issued": l.issued, "returned": l.returned,
                "returned_label": t("pharmacy_dispense.returned_n").replace("{n}", &l.returned.to_string()), "returnable": l.issued - l.returned,
                "price": Money::from_cents(l.unit_price_cents).to_string(),
                "amount": Money::from_cents(counted * l.unit_price_cents).to_string(),
                "instructions": l.instructions, "batches": batches.join(", "),
                "batch_reason": l.batch_reason, "short": d.state == "issued" && l.issued < l.quantity,
                "error": errors.as_ref().filter(|(line, _)| *line == l.id).map(|(_, m)| m.clone()),
            })
        })
        .collect();
    let awaiting = if d.state == "prepared" {
        !crate::dispense::cleared_now(app, id).await?
    } else {
        false
    };
    let mut c = tera::Context::new();
    c.insert("d", &json!({
        "id": d.id, "kind": d.kind, "state": d.state,
        "state_label": t(&format!("pharmacy_dispense.dispense_{}", d.state)),
        "store": d.store_name, "visit": d.visit, "walk_in_name": d.walk_in_name,
        "language": d.language, "emergency": d.emergency,
        "prepared_by": d.prepared_by, "prepared_at": hms_core::clock::display_rfc3339(&d.prepared_at),
        "issued_by": d.issued_by,
        "issued_at": d.issued_at.as_deref().map(hms_core::clock::display_rfc3339),
    }));
    c.insert("patient", &patient);
    c.insert("lines", &rows);
    c.insert("total", &Money::from_cents(total).to_string());
    c.insert("awaiting", &awaiting);
    c.insert("can_dispense", &cx.can(crate::DISPENSE));
    Ok((c, d.patient))
}

fn exp_show(ymd: &str) -> String {
    chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d")
        .map(|d| d.format("%m/%Y").to_string())
        .unwrap_or_else(|_| ymd.to_string())
}

async fn show(
    cx: &Ctx,
    id: i64,
    status: StatusCode,
    errors: Option<(i64, String)>,
) -> AppResult<Response> {
    let (c, patient) = context(cx, id, errors).await?;
    if let Some(p) = patient {
        cx.audit_read(Event::new("pharmacy.dispense_view", "dispense", Some(id)).patient(p))
            .await;
    }
    render_status(cx, status, "pharmacy/dispense.html", c)
}

/// GET `/pharmacy/dispenses/:id`.
#[handler]
pub async fn page(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    show(&cx, id, StatusCode::OK, None).await
}

/// POST `/pharmacy/dispenses/:id/issue`: once; the second click is told it is done.
#[handler]
pub async fn issue(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    match dispense::issue(cx.app(), &cx.actor(), id).await {
        Ok(()) => {
            cx.flash(FlashKind::Success, t("pharmacy_dispense.issued"));
            Ok(see_other(&back(id)))
        }
        Err(DispenseError::Short(_)) => Err(AppError::Conflict(t(
            "pharmacy_dispense.error_short_at_issue",
        ))),
        Err(e) => Err(e.into()),
    }
}

/// POST `/pharmacy/dispenses/:id/cancel` (a reason).
#[handler]
pub async fn cancel(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    match dispense::cancel(cx.app(), &cx.actor(), id, form.get("reason")).await {
        Ok(()) => {
            cx.flash(FlashKind::Success, t("pharmacy_dispense.cancelled"));
            Ok(see_other(&back(id)))
        }
        Err(DispenseError::Invalid(errors)) => {
            let m = errors.get("reason").unwrap_or_default().to_string();
            let (mut c, _) = context(&cx, id, None).await?;
            c.insert("cancel_error", &m);
            render_status(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                "pharmacy/dispense.html",
                c,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// POST `/pharmacy/dispenses/:id/lines/:line/return`: unopened units back (`quantity`, `reason`).
#[handler]
pub async fn return_line(
    cx: Ctx,
    Path((id, line)): Path<(i64, i64)>,
    form: Form,
) -> AppResult<Response> {
    let quantity = match dispense::units(form.get("quantity")) {
        Ok(n) => n,
        Err(key) => {
            return show(
                &cx,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some((line, t(key))),
            )
            .await;
        }
    };
    match dispense::return_line(
        cx.app(),
        &cx.actor(),
        id,
        line,
        quantity,
        form.get("reason"),
    )
    .await
    {
        Ok(()) => {
            cx.flash(FlashKind::Success, t("pharmacy_dispense.returned"));
            Ok(see_other(&back(id)))
        }
        Err(DispenseError::Invalid(errors)) => {
            let m = errors
                .get("quantity")
                .or(errors.get("reason"))
                .unwrap_or_default()
                .to_string();
            show(&cx, id, StatusCode::UNPROCESSABLE_ENTITY, Some((line, m))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST `/pharmacy/orders/:id/close`: `reason` = `outside` (bought outside) or `unavailable`.
#[handler]
pub async fn close(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let order = orders::get(&cx.app().db, OrderId(id))
        .await?
        .filter(|o| o.kind == orders::DRUG)
        .ok_or(AppError::NotFound)?;
    let visit_page = match order.visit {
        Some(v) => format!("/pharmacy/visits/{}", v.get()),
        None => "/pharmacy".to_string(),
    };
    let Some(reason) = CloseReason::parse(form.get("reason")) else {
        return Err(AppError::BadRequest(t(
            "pharmacy_dispense.error_close_reason",
        )));
    };
    match dispense::close_balance(cx.app(), &cx.actor(), id, reason).await {
        Ok(()) => {
            cx.flash(FlashKind::Success, t("pharmacy_dispense.closed"));
            Ok(see_other(&visit_page))
        }
        Err(DispenseError::Invalid(_)) => {
            Err(AppError::Conflict(t("pharmacy_dispense.error_closed")))
        }
        Err(e) => Err(e.into()),
    }
}
