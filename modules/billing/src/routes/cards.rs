//! Dashboard cards: the cashier's "My shift" and "Waiting to pay", the accountant's "Today's
//! collections". Each is a fragment for the dashboard and a page of its own.

use poem::{handler, Response};
use sqlx::Row;

use hms_core::db::DbError;
use hms_core::http::{render, Access, Ctx, RouteSpec};
use hms_core::money::Money;
use hms_core::AppResult;

use crate::{COLLECT, INVOICE, VIEW};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get(
            "/billing/cards/my-shift",
            Access::Permission(COLLECT),
            my_shift,
        ),
        RouteSpec::get(
            "/billing/cards/waiting",
            Access::Permission(COLLECT),
            waiting,
        ),
        RouteSpec::get(
            "/billing/cards/attention",
            Access::Permission(VIEW),
            attention,
        ),
        RouteSpec::get(
            "/billing/cards/collections",
            Access::Permission(INVOICE),
            collections,
        ),
    ]
}

/// GET `/billing/cards/my-shift`.
#[handler]
pub async fn my_shift(cx: Ctx) -> AppResult<Response> {
    let me = cx.require_user()?.id;
    let shift = crate::shifts::open_of(&cx.app().db, me).await?;
    let mut c = tera::Context::new();
    c.insert("shift", &shift);
    render(&cx, "billing/card_my_shift.html", c)
}

/// GET `/billing/cards/waiting`.
#[handler]
pub async fn waiting(cx: Ctx) -> AppResult<Response> {
    let rows = super::desk::waiting(&cx.app().db, &super::desk::desk_since(), None, 6, 0).await?;
    let mut c = tera::Context::new();
    c.insert("rows", &rows.iter().take(5).collect::<Vec<_>>());
    c.insert("more", &(rows.len() > 5));
    render(&cx, "billing/card_waiting.html", c)
}

/// GET `/billing/cards/collections`: today's payments by method.
#[handler]
pub async fn collections(cx: Ctx) -> AppResult<Response> {
    let since = chrono::DateTime::from_timestamp_millis(hms_core::day::Day::today().start_ms())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let rows = sqlx::query(
        "SELECT method, COUNT(*), CAST(SUM(amount_cents) AS BIGINT) FROM billing_payments \
         WHERE received_at >= $1 GROUP BY method ORDER BY method",
    )
    .bind(&since)
    .fetch_all(cx.app().db.read())
    .await
    .map_err(DbError::from)?;
    let mut total = Money::ZERO;
    let methods: Vec<_> = rows
        .iter()
        .map(|r| {
            let amount: Money = r.get(2);
            total += amount;
            let method = crate::model::Method::parse(&r.get::<String, _>(0))
                .map(|m| hms_core::i18n::t(m.label_key()))
                .unwrap_or_default();
            serde_json::json!({ "method": method, "count": r.get::<i64, _>(1), "amount": amount.to_string() })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("methods", &methods);
    c.insert("total", &total.to_string());
    render(&cx, "billing/card_collections.html", c)
}

/// GET `/billing/cards/attention`: what waits on someone: requests to approve, refunds to pay
/// out, unmatched M-Pesa payments, documents KRA eTIMS refused, claims SHA rejected.
#[handler]
pub async fn attention(cx: Ctx) -> AppResult<Response> {
    let r = sqlx::query(
        "SELECT (SELECT CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM billing_requests WHERE status IN ('pending', 'approved')), \
         (SELECT CAST(COALESCE(SUM(CASE WHEN status = 'approved' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM billing_requests WHERE status IN ('pending', 'approved')), \
         (SELECT COUNT(*) FROM billing_mpesa_receipts WHERE status = 'unmatched'), \
         (SELECT COUNT(*) FROM billing_etims_documents WHERE status = 'failed'), \
         (SELECT COUNT(*) FROM billing_claims WHERE status = 'rejected')",
    )
    .fetch_one(cx.app().db.read())
    .await
    .map_err(DbError::from)?;
    let mut c = tera::Context::new();
    c.insert("pending", &r.get::<i64, _>(0));
    c.insert("to_pay", &r.get::<i64, _>(1));
    c.insert("unmatched", &r.get::<i64, _>(2));
    c.insert("refused", &r.get::<i64, _>(3));
    let rejected = if cx.can(crate::CLAIMS) {
        r.get::<i64, _>(4)
    } else {
        0
    };
    c.insert("rejected", &rejected);
    render(&cx, "billing/card_attention.html", c)
}
