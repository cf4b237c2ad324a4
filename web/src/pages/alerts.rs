//! Critical results waiting for the signed-in user: the count in the top bar (a small fragment
//! loaded with each page, one indexed count) and the list, where each is acknowledged once.

use poem::web::Path;
use poem::{handler, Response};

use hms_core::audit::Event;
use hms_core::http::{hx_or_see_other, render, Ctx, FlashKind};
use hms_core::i18n::t;
use hms_core::ids::UserId;
use hms_core::orders::alerts;
use hms_core::AppResult;

/// Most alerts listed at once.
const LIST_LIMIT: i64 = 200;

/// `GET /orders/alerts/badge`: the open count, empty when none.
#[handler]
pub async fn badge(cx: Ctx) -> AppResult<Response> {
    let user = UserId(cx.require_user()?.id);
    let open = alerts::open_count(&cx.app().db, user).await?;
    let body = if open > 0 {
        format!(
            "<span class=\"badge text-bg-danger\" title=\"{}\">{open}</span>",
            t("orders.alerts_title")
        )
    } else {
        String::new()
    };
    Ok(Response::builder()
        .content_type("text/html; charset=utf-8")
        .header("Cache-Control", "no-store")
        .body(body))
}

/// `GET /orders/alerts`: the user's open alerts.
#[handler]
pub async fn list(cx: Ctx) -> AppResult<Response> {
    let user = UserId(cx.require_user()?.id);
    let open = alerts::open_for(&cx.app().db, user, LIST_LIMIT).await?;
    for a in &open {
        cx.audit_read(
            Event::new("order.alert_read", "order", Some(a.order.get())).patient(a.patient.get()),
        )
        .await;
    }
    let rows: Vec<serde_json::Value> = open
        .iter()
        .map(|a| {
            serde_json::json!({
                "id": a.id,
                "patient": a.patient,
                "display": a.display,
                "summary": a.summary,
                "amended": a.amended,
                "when": hms_core::clock::display_rfc3339(&a.created_at),
            })
        })
        .collect();
    let mut context = tera::Context::new();
    context.insert("alerts", &rows);
    render(&cx, "order_alerts.html", context)
}

/// `POST /orders/alerts/:id/ack`: acknowledges one of the user's alerts.
#[handler]
pub async fn acknowledge(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let user = UserId(cx.require_user()?.id);
    let mut tx = cx.app().db.begin().await?;
    alerts::acknowledge(&mut tx, &cx.actor(), id, user).await?;
    tx.commit().await.map_err(hms_core::AppError::from)?;
    cx.flash(FlashKind::Success, t("orders.alerts_acknowledged"));
    Ok(hx_or_see_other(&cx, "/orders/alerts"))
}
