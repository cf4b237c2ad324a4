//! Deposits: money a patient pays ahead of the bill (on admission, before a procedure). Taking
//! one books a payment with its receipt in the cashier's open shift, allocated to nothing and
//! held for the visit; using it issues what is unbilled and pays the patient's open invoices
//! from what is left of the visit's deposits, oldest deposit first. What is used of a deposit
//! moves by a guarded update (`used + part <= amount`), so two desks never spend it twice.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::VisitId;
use hms_core::money::Money;

use crate::bill::{self, BillError};
use crate::model::{Method, PayerClass};
use crate::pay::{self, Booked, Receiving};

/// A deposit as the desk typed it.
#[derive(Debug, Clone)]
pub struct NewDeposit {
    pub visit: VisitId,
    /// The form's one-time token: a double click books once.
    pub token: String,
    pub method: Method,
    pub amount: Money,
    pub mpesa_receipt: Option<String>,
    pub card_reference: Option<String>,
    pub at: String,
}

/// Books a deposit for the visit in the cashier's open shift, with its receipt.
pub async fn take(tx: &mut Tx, actor: &Actor, d: &NewDeposit) -> Result<Booked, BillError> {
    if let Some(payment) = pay::by_token(tx, &d.token).await? {
        return Ok(Booked {
            payment,
            change: Money::ZERO,
            new: false,
        });
    }
    let visit = sqlx::query("SELECT patient_id, facility_id, payer FROM visits WHERE id = $1")
        .bind(d.visit)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(BillError::NoVisit)?;
    // An exempt visit bills nothing: a deposit could never be used.
    if PayerClass::of(&visit.get::<String, _>(2)) == PayerClass::Exempt {
        return Err(BillError::Exempt);
    }
    let patient = hms_core::ids::PatientId(visit.get(0));
    let facility: i64 = visit.get(1);
    let (payment, shift, number) = pay::receive(
        tx,
        actor,
        &Receiving {
            visit: d.visit,
            patient,
            facility,
            method: d.method,
            amount: d.amount,
            tendered: None,
            token: &d.token,
            mpesa_receipt: d.mpesa_receipt.as_deref(),
            card_reference: d.card_reference.as_deref(),
            at: &d.at,
            purpose: "deposit",
        },
    )
    .await?;
    let id: i64 = sqlx::query(
        "INSERT INTO billing_deposits (facility_id, payment_id, visit_id, patient_id, amount_cents) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(facility)
    .bind(payment)
    .bind(d.visit)
    .bind(patient)
    .bind(d.amount)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    audit::record(
        tx,
        actor,
        Event::new("billing.deposit", "billing_deposit", Some(id))
            .patient(patient.get())
            .detail(json!({
                "receipt": number, "visit": d.visit, "method": d.method.code(),
                "amount": d.amount.cents(), "shift": shift,
            })),
    )
    .await?;
    Ok(Booked {
        payment,
        change: Money::ZERO,
        new: true,
    })
}

/// Pays what the patient owes on the visit from its deposits: issues what is unbilled, then
/// spends the deposits' balances on the open invoices, oldest first. `expected` is what the page
/// said was due (another figure: the bill changed, 409). What was used.
pub async fn use_for_bill(
    tx: &mut Tx,
    actor: &Actor,
    visit: VisitId,
    expected: Money,
    at: &str,
) -> Result<Money, BillError> {
    let loaded = bill::load(tx, visit).await?;
    if loaded.class == PayerClass::Exempt {
        return Err(BillError::Exempt);
    }
    if loaded.due != expected {
        return Err(BillError::Stale);
    }
    if loaded.due <= Money::ZERO {
        return Err(BillError::NothingDue);
    }
    let held: Vec<(i64, i64, Money)> = sqlx::query(
        "SELECT id, payment_id, amount_cents - used_cents FROM billing_deposits \
         WHERE visit_id = $1 AND used_cents < amount_cents ORDER BY id",
    )
    .bind(visit)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    if held.is_empty() {
        return Err(BillError::NoDeposit);
    }
    bill::issue(tx, actor, &loaded, None, at).await?;
    let mut used = Money::ZERO;
    for (deposit, payment, balance) in held {
        let open = pay::open_patient_invoices(tx, visit).await?;
        let owed = open.iter().fold(Money::ZERO, |s, o| s + o.1);
        let part = balance.min(owed);
        if part <= Money::ZERO {
            break;
        }
        // The guard: a deposit another desk spent meanwhile leaves this one to roll back.
        hms_core::db::one_row(
            sqlx::query(
                "UPDATE billing_deposits SET used_cents = used_cents + $1 \
                 WHERE id = $2 AND used_cents + $1 <= amount_cents",
            )
            .bind(part)
            .bind(deposit)
            .execute(&mut **tx)
            .await?,
        )?;
        if pay::allocate(tx, payment, &open, part).await? != Money::ZERO {
            return Err(BillError::Stale);
        }
        used += part;
    }
    audit::record(
        tx,
        actor,
        Event::new("billing.deposit.used", "visit", Some(visit.get()))
            .patient(loaded.patient.get())
            .detail(json!({ "amount": used.cents() })),
    )
    .await?;
    Ok(used)
}

/// A deposit of the visit as its page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub receipt_id: i64,
    pub receipt: String,
    pub amount: Money,
    pub used: Money,
    pub left: Money,
    pub at: String,
}

/// The visit's deposits, oldest first.
pub async fn of_visit(db: &Db, visit: VisitId) -> Result<Vec<Held>, DbError> {
    Ok(sqlx::query(
        "SELECT p.id, p.receipt_number, d.amount_cents, d.used_cents, p.received_at \
         FROM billing_deposits d JOIN billing_payments p ON p.id = d.payment_id \
         WHERE d.visit_id = $1 ORDER BY d.id",
    )
    .bind(visit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        let (amount, used) = (Money::from_cents(r.get(2)), Money::from_cents(r.get(3)));
        Held {
            receipt_id: r.get(0),
            receipt: r.get(1),
            amount,
            used,
            left: amount - used,
            at: hms_core::clock::display_rfc3339(&r.get::<String, _>(4)),
        }
    })
    .collect())
}
