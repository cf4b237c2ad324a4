//! M-Pesa on screen and from Safaricom. `POST /billing/visits/:id/stk` (fields `phone`,
//! `expected` in cents) sends the prompt to the patient's phone; `GET /billing/visits/:id/stk` is
//! the push's status (polled while it waits; after 60 s without a callback it asks M-Pesa);
//! `POST /billing/mpesa/stk/<secret>` takes the push's callback and
//! `/billing/mpesa/c2b/<secret>/confirmation` (and `/validation`) the paybill's: a wrong secret
//! answers 404, a malformed body is kept and answered 400, a repeat is acknowledged.
//! `POST /billing/mpesa/receipts/:id/book` (field `reference`) books an unmatched receipt;
//! `POST /billing/mpesa/statement` (file `statement`) reads an M-Pesa statement and receives
//! each receipt in it as a callback would.

use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Body, Response};
use serde_json::{json, Value};
use sqlx::Row;

use hms_core::audit::Event;
use hms_core::db::DbError;
use hms_core::http::{render, see_other, Access, Ctx, FlashKind, Form, RouteSpec};
use hms_core::i18n::t;
use hms_core::ids::VisitId;
use hms_core::money::Money;
use hms_core::{AppError, AppResult};

use crate::daraja::{self, Daraja, DarajaError};
use crate::mpesa::{self, Outcome, StkResult};
use crate::COLLECT;

/// The largest callback body kept (Daraja's are well under 2 KB).
const CALLBACK_LIMIT: usize = 16 * 1024;
/// Seconds a push waits for its callback before the status query asks.
const QUERY_AFTER: i64 = 60;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::post(
            "/billing/visits/:id/stk",
            Access::Permission(COLLECT),
            send_push,
        ),
        RouteSpec::get(
            "/billing/visits/:id/stk",
            Access::Permission(COLLECT),
            push_status,
        ),
        RouteSpec::post("/billing/mpesa/stk/:secret", Access::Callback, stk_callback)
            .body_limit(CALLBACK_LIMIT),
        RouteSpec::post(
            "/billing/mpesa/c2b/:secret/confirmation",
            Access::Callback,
            c2b_confirmation,
        )
        .body_limit(CALLBACK_LIMIT),
        RouteSpec::post(
            "/billing/mpesa/c2b/:secret/validation",
            Access::Callback,
            c2b_validation,
        )
        .body_limit(CALLBACK_LIMIT),
        RouteSpec::post(
            "/billing/mpesa/statement",
            Access::Permission(COLLECT),
            import_statement,
        )
        .body_limit(crate::statement::MAX_BYTES + 64 * 1024),
        RouteSpec::post(
            "/billing/mpesa/receipts/:id/book",
            Access::Permission(COLLECT),
            book,
        ),
    ]
}

/// A push's result code in words (Daraja's codes; others show M-Pesa's own words).
pub fn result_words(code: &str, desc: &str) -> String {
    match code {
        "0" | "1" | "17" | "1019" | "1025" | "1032" | "1037" | "2001" => {
            t(&format!("billing_mpesa.result_{code}"))
        }
        "2" | "3" | "4" | "8" => t("billing_mpesa.result_limit"),
        _ if desc.is_empty() => t("billing_mpesa.result_other"),
        _ => desc.to_string(),
    }
}

/// The visit's latest push, for the page.
pub async fn latest_push(db: &hms_core::db::Db, visit: VisitId) -> Result<Option<Value>, DbError> {
    let row = sqlx::query(
        "SELECT id, phone, amount_cents, status, result_code, result_desc, mpesa_receipt, requested_at, \
         checkout_request_id, queried_at FROM billing_mpesa_pushes WHERE visit_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(visit)
    .fetch_optional(db.read())
    .await?;
    Ok(row.map(|r| {
        let status: String = r.get(3);
        let code: Option<String> = r.get(4);
        json!({
            "id": r.get::<i64, _>(0), "phone": hms_core::phone::display(&r.get::<String, _>(1)),
            "amount": Money::from_cents(r.get(2)).to_string(), "status": status,
            "waiting": status == "sending" || status == "waiting",
            "words": code.map(|c| result_words(&c, &r.get::<Option<String>, _>(5).unwrap_or_default())),
            "receipt": r.get::<Option<String>, _>(6), "requested_at": r.get::<String, _>(7),
            "checkout": r.get::<Option<String>, _>(8), "queried_at": r.get::<Option<String>, _>(9),
        })
    }))
}

/// POST `/billing/visits/:id/stk`.
#[handler]
pub async fn send_push(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let visit = VisitId(id);
    let app = cx.app();
    let db = &app.db;
    let Some(daraja) = Daraja::from_config(&app.config) else {
        return Err(AppError::BadRequest(t("billing_mpesa.not_configured")));
    };
    let phone =
        hms_core::phone::normalize_mobile(form.get("phone")).map_err(AppError::BadRequest)?;
    // Daraja wants 2547XXXXXXXX (or 2541XXXXXXXX): the stored E.164 form without its plus.
    let phone = phone.trim_start_matches('+').to_string();
    let expected = form.get("expected").trim().parse::<i64>().ok();
    let me = cx.require_user()?.id;
    if crate::shifts::open_of(db, me).await?.is_none() {
        return Err(AppError::Conflict(t("billing.error_no_shift")));
    }
    let mut tx = db.begin().await?;
    let bill = crate::bill::load(&mut tx, visit).await;
    let bill = match bill {
        Ok(b) => b,
        Err(crate::bill::BillError::NoVisit) => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::Conflict(t(e.key()))),
    };
    if expected != Some(bill.due.cents()) {
        return Err(AppError::Conflict(t("billing.error_stale")));
    }
    if bill.due <= Money::ZERO || bill.due.cents() % 100 != 0 {
        return Err(AppError::Conflict(t("billing_mpesa.whole_shillings")));
    }
    let now = hms_core::clock::now_rfc3339();
    // A push left `sending` by a power cut or crash before M-Pesa answered would block the
    // visit's prompts for ever: after two minutes it is taken as not sent.
    let stale = (chrono::Utc::now() - chrono::Duration::minutes(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query(
        "UPDATE billing_mpesa_pushes SET status = 'failed', result_code = 'unreachable', \
         result_desc = 'no answer from M-Pesa was recorded', resolved_at = $1 \
         WHERE visit_id = $2 AND status = 'sending' AND requested_at < $3",
    )
    .bind(&now)
    .bind(visit)
    .bind(&stale)
    .execute(&mut *tx)
    .await
    .map_err(DbError::from)?;
    // The partial unique index refuses a second push while one waits.
    let inserted = sqlx::query(
        "INSERT INTO billing_mpesa_pushes (visit_id, patient_id, phone, amount_cents, account_ref, status, \
         requested_by, requested_at) VALUES ($1, $2, $3, $4, $5, 'sending', $6, $7) RETURNING id",
    )
    .bind(visit)
    .bind(bill.patient)
    .bind(&phone)
    .bind(bill.due)
    .bind(mpesa::bill_ref(visit))
    .bind(me)
    .bind(&now)
    .fetch_one(&mut *tx)
    .await;
    let push_id: i64 = match inserted {
        Ok(r) => r.get(0),
        Err(e) => {
            let e = DbError::from(e);
            return Err(if e.is_unique() {
                AppError::Conflict(t("billing_mpesa.already_waiting"))
            } else {
                e.into()
            });
        }
    };
    hms_core::audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("billing.mpesa.push", "billing_mpesa_push", Some(push_id))
            .patient(bill.patient.get())
            .detail(json!({ "visit": visit, "amount": bill.due.cents() })),
    )
    .await?;
    tx.commit().await?;
    // The request to M-Pesa goes out with no transaction open.
    let sent = daraja
        .push(&phone, bill.due.cents() / 100, &mpesa::bill_ref(visit))
        .await;
    let mut tx = db.begin().await?;
    match &sent {
        Ok((checkout, merchant)) => sqlx::query(
            "UPDATE billing_mpesa_pushes SET status = 'waiting', checkout_request_id = $1, merchant_request_id = $2 \
             WHERE id = $3 AND status = 'sending'",
        )
        .bind(checkout)
        .bind(merchant)
        .bind(push_id),
        Err(e) => {
            let (code, words) = match e {
                DarajaError::Refused(c, w) => (c.clone(), w.clone()),
                DarajaError::Unreachable(w) => ("unreachable".to_string(), w.clone()),
            };
            sqlx::query(
                "UPDATE billing_mpesa_pushes SET status = 'failed', result_code = $1, result_desc = $2, \
                 resolved_at = $3 WHERE id = $4 AND status = 'sending'",
            )
            .bind(code)
            .bind(words)
            .bind(hms_core::clock::now_rfc3339())
            .bind(push_id)
        }
    }
    .execute(&mut *tx)
    .await
    .map_err(DbError::from)?;
    tx.commit().await?;
    match sent {
        Ok(_) => cx.flash(FlashKind::Info, t("billing_mpesa.prompt_sent")),
        Err(DarajaError::Unreachable(_)) => {
            cx.flash(FlashKind::Warning, t("billing_mpesa.unreachable"))
        }
        Err(DarajaError::Refused(..)) => cx.flash(FlashKind::Warning, t("billing_mpesa.refused")),
    }
    Ok(see_other(&format!("/billing/visits/{id}#stk")))
}

/// GET `/billing/visits/:id/stk`: the push's status; asks M-Pesa when the callback is late.
#[handler]
pub async fn push_status(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let visit = VisitId(id);
    let app = cx.app();
    let mut push = latest_push(&app.db, visit).await?;
    if let (Some(p), Some(daraja)) = (&push, Daraja::from_config(&app.config)) {
        let since = |at: &str| {
            chrono::DateTime::parse_from_rfc3339(at)
                .map(|t| (chrono::Utc::now() - t.to_utc()).num_seconds())
                .unwrap_or(0)
        };
        let waited = since(p["requested_at"].as_str().unwrap_or(""));
        let asked_recently = p["queried_at"]
            .as_str()
            .is_some_and(|q| since(q) < QUERY_AFTER / 2);
        if p["status"] == "waiting" && waited >= QUERY_AFTER && !asked_recently {
            if let Some(checkout) = p["checkout"].as_str() {
                query(&app.db, &daraja, checkout).await?;
                push = latest_push(&app.db, visit).await?;
            }
        }
    }
    let mut c = tera::Context::new();
    c.insert("visit", &id);
    c.insert("push", &push);
    render(&cx, "billing/_stk_status.html", c)
}

/// Asks M-Pesa what became of a push, and records a failure or a payment it reports. A
/// payment reported by the query has no receipt code: the push is marked confirmed and the
/// receipt books when its callback, paybill confirmation or the desk's code arrives.
async fn query(db: &hms_core::db::Db, daraja: &Daraja, checkout: &str) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE billing_mpesa_pushes SET queried_at = $1 WHERE checkout_request_id = $2")
        .bind(hms_core::clock::now_rfc3339())
        .bind(checkout)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let Ok(Some((code, words))) = daraja.query(checkout).await else {
        return Ok(());
    };
    mpesa::keep_message(
        db,
        "stk_query",
        &json!({ "CheckoutRequestID": checkout, "ResultCode": code, "ResultDesc": words })
            .to_string(),
    )
    .await?;
    if code == "0" {
        let mut tx = db.begin().await?;
        sqlx::query(
            "UPDATE billing_mpesa_pushes SET status = 'confirmed', result_code = '0', result_desc = $1 \
             WHERE checkout_request_id = $2 AND status = 'waiting'",
        )
        .bind(&words)
        .bind(checkout)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    } else {
        mpesa::push_failed(db, checkout, &code, &words).await
    }
}

/// The callback's secret checked against the configured one (constant time): a wrong one is 404.
fn check_secret(cx: &Ctx, secret: &str) -> AppResult<()> {
    match daraja::callback_secret(&cx.app().config) {
        Some(s) if hms_core::auth::constant_time_eq(s.as_bytes(), secret.as_bytes()) => Ok(()),
        _ => Err(AppError::NotFound),
    }
}

/// Daraja's acknowledgement: `{"ResultCode": 0, "ResultDesc": "Accepted"}`.
fn acknowledge(status: StatusCode, desc: &str) -> Response {
    let code = if status == StatusCode::OK { 0 } else { 1 };
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(json!({ "ResultCode": code, "ResultDesc": desc }).to_string())
}

/// The body as text (NUL removed: PostgreSQL refuses it) and, when it is JSON, parsed.
async fn read(body: Body) -> AppResult<(String, Option<Value>)> {
    let bytes = body
        .into_vec()
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let text = String::from_utf8_lossy(&bytes).replace('\0', "");
    let value = serde_json::from_str(&text).ok();
    Ok((text, value))
}

/// POST `/billing/mpesa/stk/<secret>`.
#[handler]
pub async fn stk_callback(cx: Ctx, Path(secret): Path<String>, body: Body) -> AppResult<Response> {
    check_secret(&cx, &secret)?;
    let (text, value) = read(body).await?;
    let db = &cx.app().db;
    const KIND: &str = "stk_callback";
    match value.as_ref().and_then(mpesa::read_stk_callback) {
        None => {
            mpesa::keep_message(db, KIND, &text).await?;
            Ok(acknowledge(StatusCode::BAD_REQUEST, "malformed"))
        }
        Some(StkResult::Failed {
            checkout,
            code,
            words,
        }) => {
            mpesa::keep_message(db, KIND, &text).await?;
            mpesa::push_failed(db, &checkout, &code, &words).await?;
            Ok(acknowledge(StatusCode::OK, "Accepted"))
        }
        Some(StkResult::Paid(checkout, incoming)) => {
            let outcome = mpesa::receive(db, (KIND, &text), Some(&checkout), incoming).await?;
            Ok(acknowledge(StatusCode::OK, desc(outcome)))
        }
    }
}

fn desc(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Duplicate => "Duplicate",
        _ => "Accepted",
    }
}

/// POST `/billing/mpesa/c2b/<secret>/confirmation`.
#[handler]
pub async fn c2b_confirmation(
    cx: Ctx,
    Path(secret): Path<String>,
    body: Body,
) -> AppResult<Response> {
    check_secret(&cx, &secret)?;
    let (text, value) = read(body).await?;
    const KIND: &str = "c2b_confirmation";
    let db = &cx.app().db;
    match value.as_ref().and_then(mpesa::read_c2b) {
        None => {
            mpesa::keep_message(db, KIND, &text).await?;
            Ok(acknowledge(StatusCode::BAD_REQUEST, "malformed"))
        }
        Some(incoming) => {
            let outcome = mpesa::receive(db, (KIND, &text), None, incoming).await?;
            Ok(acknowledge(StatusCode::OK, desc(outcome)))
        }
    }
}

/// POST `/billing/mpesa/c2b/<secret>/validation`: every payment is accepted (it is matched
/// after it lands, never refused at the till).
#[handler]
pub async fn c2b_validation(
    cx: Ctx,
    Path(secret): Path<String>,
    body: Body,
) -> AppResult<Response> {
    check_secret(&cx, &secret)?;
    let (text, _) = read(body).await?;
    mpesa::keep_message(&cx.app().db, "c2b_validation", &text).await?;
    Ok(acknowledge(StatusCode::OK, "Accepted"))
}

/// POST `/billing/mpesa/receipts/:id/book` (field `reference`: the bill's reference; empty: the
/// bill the receipt named).
#[handler]
pub async fn book(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let named: Option<i64> = sqlx::query(
        "SELECT visit_id FROM billing_mpesa_receipts WHERE id = $1 AND status = 'unmatched'",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await
    .map_err(DbError::from)?
    .ok_or(AppError::Conflict(t("billing_mpesa.already_booked")))?
    .get(0);
    let typed = form.get("reference").trim();
    let visit = if typed.is_empty() {
        named.map(VisitId)
    } else {
        mpesa::visit_of_ref(typed)
    };
    let Some(visit) = visit else {
        return Err(AppError::BadRequest(t("billing_mpesa.error_reference")));
    };
    match mpesa::book(db, &cx.actor(), id, visit).await? {
        Ok(payment) => {
            cx.flash(FlashKind::Success, t("billing_mpesa.booked_flash"));
            Ok(see_other(&format!(
                "/billing/visits/{}?receipt={payment}",
                visit.get()
            )))
        }
        Err(e) => Err(AppError::Conflict(t(e.key()))),
    }
}

/// POST `/billing/mpesa/statement`: every receipt of the statement received once; the counts go
/// back as a message, and what names no bill waits in the unmatched list.
#[handler]
pub async fn import_statement(cx: Ctx, form: Form) -> AppResult<Response> {
    let Some(file) = form.file("statement").filter(|f| !f.data.is_empty()) else {
        return Err(AppError::BadRequest(t("billing_statement.error_missing")));
    };
    let statement = match crate::statement::read(&file.data) {
        Ok(s) => s,
        Err(e) => {
            let mut message = t(e.key);
            if let Some(line) = e.line {
                message = format!(
                    "{} {message}",
                    t("billing_statement.at_line").replace("{line}", &line.to_string())
                );
            }
            cx.flash(FlashKind::Danger, message);
            return Ok(see_other("/billing/mpesa"));
        }
    };
    let db = &cx.app().db;
    let (mut booked, mut unmatched, mut seen) = (0usize, 0usize, 0usize);
    for row in statement.rows {
        match mpesa::receive(db, ("statement", &row.raw), None, row.incoming).await? {
            Outcome::Booked(_) | Outcome::Confirmed(_) => booked += 1,
            Outcome::Unmatched => unmatched += 1,
            Outcome::Duplicate => seen += 1,
        }
    }
    // Each receipt is audited as it is received; this row says who brought the statement.
    let mut tx = db.begin().await?;
    hms_core::audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("billing.mpesa.statement", "billing_mpesa_receipt", None).detail(json!({
            "file": crate::mpesa::clean(&file.file_name), "booked": booked,
            "unmatched": unmatched, "seen": seen, "skipped": statement.skipped,
        })),
    )
    .await
    .map_err(DbError::from)?;
    tx.commit().await.map_err(DbError::from)?;
    cx.flash(
        if unmatched > 0 {
            FlashKind::Warning
        } else {
            FlashKind::Success
        },
        t("billing_statement.done")
            .replace("{booked}", &booked.to_string())
            .replace("{unmatched}", &unmatched.to_string())
            .replace("{seen}", &seen.to_string())
            .replace("{skipped}", &statement.skipped.to_string()),
    );
    Ok(see_other("/billing/mpesa"))
}
