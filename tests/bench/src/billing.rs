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

/// The billing part of the shared state.
#[derive(Default)]
pub struct Billing {
    /// The demo data's issued invoices (lowest and highest id).
    pub invoices: Option<(i64, i64)>,
    /// Visits with a bill to pay, taken one per `pay_cash`.
    pub bills: Mutex<Vec<i64>>,
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
        bills: Mutex::new(Vec::new()),
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
