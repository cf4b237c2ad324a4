//! Deposits at the desk (`billing.collect`). `POST /billing/visits/:id/deposit` (fields `token`,
//! `method`, `amount`, `mpesa_code`, `card_terminal`, `card_approval`) takes one with its
//! receipt; `POST /billing/visits/:id/deposit/use` (field `expected`, the amount due the page
//! showed, in cents) pays the bill from the visit's deposits. Both answer 303 to the visit, the
//! first 422 with messages beside the deposit form's fields, the second 409 when the bill changed.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde_json::json;

use hms_core::http::{render_status, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ids::VisitId;
use hms_core::money::Money;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use super::desk::{tender, typed_tender, visit_context, Tender};
use crate::bill::BillError;
use crate::deposit::{self, NewDeposit};
use crate::COLLECT;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::post(
            "/billing/visits/:id/deposit",
            Access::Permission(COLLECT),
            take,
        ),
        RouteSpec::post(
            "/billing/visits/:id/deposit/use",
            Access::Permission(COLLECT),
            use_deposit,
        ),
    ]
}

/// The visit's page again with the deposit form open, what was typed and its messages.
async fn form_again(
    cx: &Ctx,
    visit: VisitId,
    typed: serde_json::Value,
    errors: FormErrors,
) -> AppResult<Response> {
    let (mut c, _) = visit_context(cx, visit).await?;
    c.insert("errors", &FormErrors::new());
    c.insert("typed", &json!({ "method": "cash" }));
    c.insert("deposit_errors", &errors);
    c.insert("deposit_typed", &typed);
    c.insert("deposit_open", &true);
    render_status(
        cx,
        StatusCode::UNPROCESSABLE_ENTITY,
        "billing/visit.html",
        c,
    )
}

/// POST `/billing/visits/:id/deposit`.
#[handler]
pub async fn take(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let visit = VisitId(id);
    let mut errors = FormErrors::new();
    let typed = typed_tender(&form);
    let token = form.get("token").trim().to_string();
    if token.is_empty() || token.len() > 100 {
        return Err(AppError::BadRequest(t("billing.error_token")));
    }
    let Tender {
        method,
        amount,
        mpesa,
        card,
    } = tender(&form, &mut errors);
    let (Some(method), Some(amount), true) = (method, amount, errors.is_empty()) else {
        return form_again(&cx, visit, typed, errors).await;
    };
    let new = NewDeposit {
        visit,
        token,
        method,
        amount,
        mpesa_receipt: mpesa,
        card_reference: card,
        at: hms_core::clock::now_rfc3339(),
    };
    let actor = cx.actor();
    let mut tx = cx.app().db.begin().await?;
    let (booked, rows) = hms_core::audit::deferring(deposit::take(&mut tx, &actor, &new)).await;
    let booked = match booked {
        Ok(b) => {
            rows.append(&mut tx).await?;
            tx.commit().await?;
            b
        }
        Err(e) => {
            tx.rollback().await.ok();
            // The same form posted twice at once: the first's deposit stands.
            if matches!(e, BillError::Db(ref d) if d.unique_constraint().is_some_and(|c| c.contains("form_token")))
            {
                let mut tx = cx.app().db.begin().await?;
                let earlier = crate::pay::by_token(&mut tx, &new.token).await?;
                tx.rollback().await.ok();
                if let Some(p) = earlier {
                    return Ok(see_other(&format!("/billing/visits/{id}?receipt={p}")));
                }
            }
            let field = match e {
                BillError::ReferenceUsed if new.mpesa_receipt.is_some() => "mpesa_code",
                BillError::ReferenceUsed => "card_approval",
                BillError::NoShift => "form",
                BillError::Db(ref d) if d.is_unique() => {
                    return Err(AppError::Conflict(t("billing.error_stale")))
                }
                other => return Err(other.into_app()),
            };
            errors.add(field, t(e.key()));
            return form_again(&cx, visit, typed, errors).await;
        }
    };
    if booked.new {
        cx.flash(FlashKind::Success, t("billing_deposit.taken"));
    }
    Ok(see_other(&format!(
        "/billing/visits/{id}?receipt={}",
        booked.payment
    )))
}

/// POST `/billing/visits/:id/deposit/use`.
#[handler]
pub async fn use_deposit(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let expected = form
        .get("expected")
        .trim()
        .parse::<i64>()
        .map(Money::from_cents)
        .map_err(|_| AppError::Conflict(t("billing.error_stale")))?;
    let actor = cx.actor();
    let mut tx = cx.app().db.begin().await?;
    let now = hms_core::clock::now_rfc3339();
    let (used, rows) = hms_core::audit::deferring(deposit::use_for_bill(
        &mut tx,
        &actor,
        VisitId(id),
        expected,
        &now,
    ))
    .await;
    match used {
        Ok(used) => {
            rows.append(&mut tx).await?;
            tx.commit().await?;
            cx.flash(
                FlashKind::Success,
                t("billing_deposit.used").replace("{amount}", &used.to_string()),
            );
            Ok(see_other(&format!("/billing/visits/{id}")))
        }
        Err(e) => {
            tx.rollback().await.ok();
            // Another desk billed the same charges first.
            if matches!(e, BillError::Db(ref d) if d.is_unique()) {
                return Err(AppError::Conflict(t("billing.error_stale")));
            }
            Err(e.into_app())
        }
    }
}
