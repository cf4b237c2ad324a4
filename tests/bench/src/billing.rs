//! Billing's scenarios: a cashier takes a cash payment (`pay_cash`: the bill, then *Take
//! payment*, which issues the invoice and the receipt and books the payment in the open shift)
//! and anyone opens an invoice as PDF (`invoice_pdf`, a print: recorded and audited).
//!
//! The bills come from patients checked in to the laboratory before the clock starts (check-in
//! posts the consultation fee the demo data set); the invoices are the demo data's. The
//! pharmacy is not held for payment during the benchmark (`dispense` measures the pharmacy's own
//! work; the cashier's is `pay_cash`).

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::RngExt;
use sqlx::Row;

use crate::http::Client;
use crate::scenarios::{expect, NO_MORE_WORK};

/// The secret of the callback addresses the benchmark's server is configured with.
pub const CALLBACK_SECRET: &str = "bench-callback-secret-0001";
/// A repeated callback acknowledged (counted apart from errors).
pub const DUPLICATE: &str = "duplicate acknowledged";

/// The billing part of the shared state.
#[derive(Default)]
pub struct Billing {
    /// The demo data's issued invoices (lowest and highest id).
    pub invoices: Option<(i64, i64)>,
    /// Visits with a bill to pay, taken one per `pay_cash`.
    pub bills: Mutex<Vec<i64>>,
    /// Pushes waiting for their callback: (CheckoutRequestID, shillings).
    pub pushes: Mutex<Vec<(String, i64)>>,
    /// Callbacks sent, for the repeats.
    pub sent: Mutex<Vec<String>>,
    /// Numbers the receipts of the run.
    pub receipts: std::sync::atomic::AtomicU64,
}

/// Reads the invoices and lets the pharmacy work without payment holds (nothing when the
/// billing module is off: its tables are missing).
pub async fn load(db: &hms_core::db::Db) -> Result<Billing, String> {
    let range =
        sqlx::query("SELECT MIN(id), MAX(id) FROM billing_invoices WHERE status = 'issued'")
            .fetch_one(db.read())
            .await;
    let Ok(range) = range else {
        return Ok(Billing::default());
    };
    let invoices = match (
        range.get::<Option<i64>, _>(0),
        range.get::<Option<i64>, _>(1),
    ) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let mut tx = db.begin().await.map_err(|e| e.to_string())?;
    hms_core::settings::put(&mut tx, "billing.pay_before", "laboratory,imaging")
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(Billing {
        invoices,
        ..Billing::default()
    })
}

/// Opens the cashier's shift (once: a second open finds it open).
pub async fn open_shift(c: &mut Client) -> Result<(), String> {
    let desk = c.get("/billing").await?;
    expect(&desk, 200, "GET /billing")?;
    let r = c
        .post_form("/billing/shifts/open", &[("float", "5000")])
        .await?;
    expect(&r, 303, "POST /billing/shifts/open")
}

/// Bills waiting at the cashier with something to pay, up to `want`: the visits `fresh`
/// (checked in just now) first, then those the desk lists (the demo's, and the visits other
/// scenarios checked in), each checked for a pay form before the clock starts.
pub async fn bills(c: &mut Client, fresh: Vec<i64>, want: usize) -> Result<Vec<i64>, String> {
    let mut candidates = fresh;
    let mut page = 1;
    while candidates.len() < want * 2 && page <= 400 {
        let r = c.get(&format!("/billing?page={page}")).await?;
        expect(&r, 200, "GET /billing")?;
        let body = r.text();
        let before = candidates.len();
        for part in body.split("href=\"/billing/visits/").skip(1) {
            if let Some(id) = part.split('"').next().and_then(|id| id.parse::<i64>().ok()) {
                if !candidates.contains(&id) {
                    candidates.push(id);
                }
            }
        }
        if candidates.len() == before {
            break;
        }
        page += 1;
    }
    let mut ready = Vec::with_capacity(want);
    for visit in candidates {
        if ready.len() >= want {
            break;
        }
        let bill = c.get(&format!("/billing/visits/{visit}")).await?;
        if bill.status == 200 && hidden(&bill.text(), "expected").is_some() {
            ready.push(visit);
        }
    }
    Ok(ready)
}

/// A hidden field's value.
fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = body.find(&marker)? + marker.len();
    Some(body[at..at + body[at..].find('"')?].to_string())
}

/// `pay_cash`: the bill, then the payment in cash (notes rounded up to the next hundred).
pub async fn pay_cash(c: &mut Client, b: &Billing) -> Result<(), String> {
    let visit = b
        .bills
        .lock()
        .expect("not poisoned")
        .pop()
        .ok_or(NO_MORE_WORK)?;
    let page = c.get(&format!("/billing/visits/{visit}")).await?;
    expect(&page, 200, "the bill")?;
    let body = page.text();
    let (Some(token), Some(expected)) = (hidden(&body, "token"), hidden(&body, "expected")) else {
        return Err(format!("visit {visit}: the bill has no pay form"));
    };
    let cents: i64 = expected
        .parse()
        .map_err(|_| "the amount due is not a number")?;
    let tendered = ((cents + 9_999) / 10_000 * 100).to_string();
    let r = c
        .post_form(
            &format!("/billing/visits/{visit}/pay"),
            &[
                ("token", token.as_str()),
                ("expected", expected.as_str()),
                ("method", "cash"),
                ("amount", tendered.as_str()),
            ],
        )
        .await?;
    if r.status == 422 {
        // The message beside the field or above the form says why.
        let body = r.text();
        let why = [
            "id=\"form-error\">",
            "class=\"invalid-feedback\" id=\"pay-amount-error\">",
        ]
        .iter()
        .find_map(|m| body.split(m).nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or("no message");
        return Err(format!("visit {visit}: the payment was refused: {why}"));
    }
    expect(&r, 303, "POST /billing/visits/:id/pay")
}

/// `invoice_pdf`: a demo invoice as PDF.
pub async fn invoice_pdf(c: &mut Client, b: &Billing, rng: &mut StdRng) -> Result<(), String> {
    let (low, high) = b.invoices.ok_or("the demo data has no invoices")?;
    let id = rng.random_range(low..=high);
    let r = c.get(&format!("/billing/invoices/{id}.pdf")).await?;
    expect(&r, 200, "an invoice PDF")
}

/// Waiting STK pushes for the bills, as the desk's *Send prompt* records them (M-Pesa itself is
/// not called: the benchmark plays its callbacks).
pub async fn pushes(
    shared: &crate::scenarios::Shared,
    c: &mut Client,
    cashier: &str,
    bills: Vec<i64>,
) -> Result<(), String> {
    let mut due = Vec::with_capacity(bills.len());
    for visit in bills {
        let page = c.get(&format!("/billing/visits/{visit}")).await?;
        let cents = hidden(&page.text(), "expected").and_then(|e| e.parse::<i64>().ok());
        if let Some(cents) = cents.filter(|c| *c > 0 && c % 100 == 0) {
            due.push((visit, cents));
        }
    }
    let db = hms_core::db::Db::connect(&shared.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let err = |e: sqlx::Error| e.to_string();
    let user: i64 = sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(cashier)
        .fetch_one(db.read())
        .await
        .map_err(err)?
        .get(0);
    let mut tx = db.begin().await.map_err(|e| e.to_string())?;
    let now = hms_core::clock::now_rfc3339();
    let mut waiting = Vec::with_capacity(due.len());
    for (visit, cents) in due {
        let checkout = format!("ws_CO_bench_{visit}");
        let made = sqlx::query(
            "INSERT INTO billing_mpesa_pushes (visit_id, patient_id, phone, amount_cents, account_ref, \
             checkout_request_id, status, requested_by, requested_at) \
             SELECT id, patient_id, '254712345678', $1, $2, $3, 'waiting', $4, $5 FROM visits WHERE id = $6 \
             ON CONFLICT DO NOTHING",
        )
        .bind(cents)
        .bind(format!("B{visit}"))
        .bind(&checkout)
        .bind(user)
        .bind(&now)
        .bind(visit)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if made.rows_affected() == 1 {
            waiting.push((checkout, cents / 100));
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    db.close().await;
    waiting.reverse();
    *shared.billing.pushes.lock().expect("not poisoned") = waiting;
    Ok(())
}

fn callback(checkout: &str, receipt: &str, shillings: i64) -> String {
    serde_json::json!({"Body": {"stkCallback": {"MerchantRequestID": "bench",
        "CheckoutRequestID": checkout, "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": shillings},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "TransactionDate", "Value": 20261207101500u64},
            {"Name": "PhoneNumber", "Value": 254712345678u64}]}}}})
    .to_string()
}

/// `stk_callback`: M-Pesa's callback for a waiting push, or (30%) one already sent again.
pub async fn stk_callback(c: &mut Client, b: &Billing, rng: &mut StdRng) -> Result<(), String> {
    let repeat = {
        let sent = b.sent.lock().expect("not poisoned");
        (!sent.is_empty() && rng.random_bool(0.3))
            .then(|| sent[rng.random_range(0..sent.len())].clone())
    };
    let body = match &repeat {
        Some(body) => body.clone(),
        None => {
            let (checkout, shillings) = b
                .pushes
                .lock()
                .expect("not poisoned")
                .pop()
                .ok_or(NO_MORE_WORK)?;
            let n = b
                .receipts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            callback(&checkout, &format!("BN{n:08}"), shillings)
        }
    };
    let path = format!("/billing/mpesa/stk/{CALLBACK_SECRET}");
    let r = c
        .send(
            hyper::Method::POST,
            &path,
            &[("content-type", "application/json")],
            Some(body.clone()),
        )
        .await?;
    expect(&r, 200, "POST /billing/mpesa/stk/:secret")?;
    let answer = r.text();
    match (repeat.is_some(), answer.contains("Duplicate")) {
        (true, true) => Err(DUPLICATE.into()),
        (true, false) => Err("a repeated callback was not taken as a repeat".into()),
        (false, true) => Err("a new callback was taken as a repeat".into()),
        (false, false) => {
            b.sent.lock().expect("not poisoned").push(body);
            Ok(())
        }
    }
}

/// Receipts booked as more than one payment (0 when one receipt books one payment).
pub async fn double_payments(url: &str) -> Result<u64, String> {
    let db = hms_core::db::Db::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM (SELECT r.receipt FROM billing_mpesa_receipts r \
         JOIN billing_payments p ON p.mpesa_receipt = r.receipt GROUP BY r.receipt HAVING COUNT(*) > 1) d",
    )
    .fetch_one(db.read())
    .await
    .map_err(|e| e.to_string())?
    .get(0);
    db.close().await;
    Ok(n as u64)
}
