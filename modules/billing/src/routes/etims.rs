//! The KRA eTIMS queue on screen. `GET /billing/etims` (`status`: queued, sent, failed or all;
//! `page`) lists the documents in chain order, newest first, with KRA's receipt number and
//! signature once signed; `POST /billing/etims/send` sends what is due now (as the server does
//! every 30 seconds); `POST /billing/etims/:id/retry` puts a refused document back in the queue
//! once its cause is put right.

use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use hms_core::db::DbError;
use hms_core::http::{render, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::{AppError, AppResult};

use crate::etims::{self, Oscu};
use crate::{INVOICE, VIEW};

const PAGE: i64 = 30;
const STATUSES: &[&str] = &["queued", "sent", "failed"];

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get("/billing/etims", Access::Permission(VIEW), queue),
        RouteSpec::post("/billing/etims/send", Access::Permission(INVOICE), send_now),
        RouteSpec::post(
            "/billing/etims/:id/retry",
            Access::Permission(INVOICE),
            retry,
        ),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    page: Option<String>,
}

/// GET `/billing/etims`.
#[handler]
pub async fn queue(cx: Ctx, Query(q): Query<QueueQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let status = q
        .status
        .as_deref()
        .filter(|s| STATUSES.contains(s))
        .unwrap_or("");
    let page = super::page(q.page.as_deref());
    let rows = sqlx::query(
        "SELECT d.id, d.seq, d.number, d.status, d.attempts, d.last_error, d.receipt_no, \
         d.signature, d.created_at, d.sent_at, d.invoice_id, d.credit_note_id, d.next_attempt_at \
         FROM billing_etims_documents d WHERE ($1 = '' OR d.status = $1) \
         ORDER BY d.facility_id, d.seq DESC LIMIT CAST($2 AS BIGINT) OFFSET CAST($3 AS BIGINT)",
    )
    .bind(status)
    .bind(PAGE + 1)
    .bind((page - 1) * PAGE)
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?;
    let display = |at: Option<String>| {
        at.map(|a| hms_core::clock::display_rfc3339(&a))
            .unwrap_or_default()
    };
    let list: Vec<_> = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| {
            let invoice: Option<i64> = r.get(10);
            let note: Option<i64> = r.get(11);
            json!({
                "id": r.get::<i64, _>(0), "seq": r.get::<i64, _>(1),
                "number": r.get::<String, _>(2), "status": r.get::<String, _>(3),
                "attempts": r.get::<i64, _>(4),
                "error": r.get::<Option<String>, _>(5).unwrap_or_default(),
                "receipt_no": r.get::<Option<String>, _>(6).unwrap_or_default(),
                "signature": r.get::<Option<String>, _>(7).unwrap_or_default(),
                "created": display(r.get(8)), "sent": display(r.get(9)),
                "next": display(r.get(12)),
                "href": match (invoice, note) {
                    (Some(i), _) => format!("/billing/invoices/{i}"),
                    (_, Some(n)) => format!("/billing/credit-notes/{n}.pdf"),
                    _ => String::new(),
                },
            })
        })
        .collect();
    let counts = sqlx::query(
        "SELECT status, COUNT(*) FROM billing_etims_documents GROUP BY status ORDER BY status",
    )
    .fetch_all(db.read())
    .await
    .map_err(DbError::from)?;
    let count = |s: &str| {
        counts
            .iter()
            .find(|r| r.get::<String, _>(0) == s)
            .map_or(0, |r| r.get::<i64, _>(1))
    };
    let mut c = tera::Context::new();
    c.insert("rows", &list);
    c.insert("status", status);
    c.insert("statuses", STATUSES);
    c.insert("page", &page);
    c.insert("has_next", &(rows.len() as i64 > PAGE));
    c.insert("queued", &count("queued"));
    c.insert("sent", &count("sent"));
    c.insert("failed", &count("failed"));
    c.insert("configured", &Oscu::from_config(&cx.app().config).is_some());
    c.insert("can_send", &cx.can(INVOICE));
    render(&cx, "billing/etims.html", c)
}

/// POST `/billing/etims/send`.
#[handler]
pub async fn send_now(cx: Ctx, _form: Form) -> AppResult<Response> {
    let app = cx.app();
    let Some(oscu) = Oscu::from_config(&app.config) else {
        return Err(AppError::Conflict(t("billing_etims.not_configured")));
    };
    let tin = hms_core::settings::get(&app.db, crate::docs::KRA_PIN_SETTING)
        .await?
        .filter(|p| !p.is_empty())
        .ok_or_else(|| AppError::Conflict(t("billing_etims.no_pin")))?;
    let round = etims::send_due(&app.db, &oscu, &tin, true).await?;
    let sent = round.sent.to_string();
    if let Some(why) = &round.refused {
        cx.flash(
            FlashKind::Danger,
            t("billing_etims.refused_flash")
                .replace("{sent}", &sent)
                .replace("{why}", why),
        );
    } else if round.offline.is_some() {
        cx.flash(
            FlashKind::Warning,
            t("billing_etims.offline_flash").replace("{sent}", &sent),
        );
    } else {
        cx.flash(
            FlashKind::Success,
            t("billing_etims.sent_flash").replace("{sent}", &sent),
        );
    }
    Ok(see_other("/billing/etims"))
}

/// POST `/billing/etims/:id/retry`.
#[handler]
pub async fn retry(cx: Ctx, Path(id): Path<i64>, _form: Form) -> AppResult<Response> {
    let mut tx = cx.app().db.begin().await?;
    if !etims::retry(&mut tx, &cx.actor(), id).await? {
        return Err(AppError::Conflict(t("billing_etims.not_failed")));
    }
    tx.commit().await.map_err(DbError::from)?;
    cx.flash(FlashKind::Success, t("billing_etims.retry_flash"));
    Ok(see_other("/billing/etims?status=queued"))
}
