//! Taking money at the desk: [`pay`] issues what is unbilled and books one payment against the
//! patient's open invoices, in the cashier's open shift, with its receipt number; [`receive`]
//! books money into the shift under a receipt (a payment, a deposit) and [`allocate`] spreads it
//! over open invoices by guarded updates. One transaction each, so a payment is never half
//! booked and a rollback gives the numbers back.

use serde_json::json;
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{one_row, DbError, Tx};
use hms_core::ids::{PatientId, VisitId};
use hms_core::money::Money;

use crate::bill::{issue, load, take_number, BillError};
use crate::model::{Method, PayerClass};

/// A payment as the desk typed it.
#[derive(Debug, Clone)]
pub struct Payment {
    pub visit: VisitId,
    /// The form's one-time token: a double click books once.
    pub token: String,
    /// What the page said was due: a different figure now means the bill changed (409).
    pub expected: Money,
    pub method: Method,
    /// Cash handed over (cash), or the amount paid (M-Pesa, card).
    pub amount: Money,
    pub mpesa_receipt: Option<String>,
    pub card_reference: Option<String>,
    /// When it was received (RFC 3339): now at the desk.
    pub at: String,
}

/// A payment booked (or the one the same token booked before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booked {
    pub payment: i64,
    /// Change to hand back (cash).
    pub change: Money,
    /// Whether this call booked it (false: the token's earlier payment).
    pub new: bool,
}

/// [`pay`] with its audit rows put on the chain last, just before COMMIT: a payment takes its
/// locks in one order (invoice counter, shift, receipt counter, then the audit chain's head),
/// so payments at several desks wait for each other but never deadlock on PostgreSQL.
pub async fn pay_audited(tx: &mut Tx, actor: &Actor, p: &Payment) -> Result<Booked, BillError> {
    let (booked, rows) = audit::deferring(pay(&mut *tx, actor, p)).await;
    let booked = booked?;
    rows.append(tx).await?;
    Ok(booked)
}

/// The payment a form token booked, if any.
pub async fn by_token(tx: &mut Tx, token: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query("SELECT id FROM billing_payments WHERE form_token = $1")
            .bind(token)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.get(0)),
    )
}

/// Issues what is unbilled and books the payment of everything the patient owes on the visit,
/// in the cashier's open shift. Run in one transaction; on an error the caller rolls back.
pub async fn pay(tx: &mut Tx, actor: &Actor, p: &Payment) -> Result<Booked, BillError> {
    if let Some(payment) = by_token(tx, &p.token).await? {
        return Ok(Booked {
            payment,
            change: Money::ZERO,
            new: false,
        });
    }
    let bill = load(tx, p.visit).await?;
    if bill.class == PayerClass::Exempt {
        return Err(BillError::Exempt);
    }
    if bill.due != p.expected {
        return Err(BillError::Stale);
    }
    if bill.due <= Money::ZERO {
        return Err(BillError::NothingDue);
    }
    let due = bill.due;
    let change = match p.method {
        Method::Cash if p.amount >= due => p.amount - due,
        Method::Mpesa | Method::Card if p.amount == due => Money::ZERO,
        _ => return Err(BillError::Amount),
    };
    issue(tx, actor, &bill, Some(p.method), &p.at).await?;
    let open = open_patient_invoices(tx, p.visit).await?;
    let (payment, shift, number) = receive(
        tx,
        actor,
        &Receiving {
            visit: p.visit,
            patient: bill.patient,
            facility: open.first().map(|o| o.2).unwrap_or(1),
            method: p.method,
            amount: due,
            tendered: (p.method == Method::Cash).then_some(p.amount),
            token: &p.token,
            mpesa_receipt: p.mpesa_receipt.as_deref(),
            card_reference: p.card_reference.as_deref(),
            at: &p.at,
            purpose: "bill",
        },
    )
    .await?;
    let left = allocate(tx, payment, &open, due).await?;
    if left != Money::ZERO {
        return Err(BillError::Stale);
    }
    audit::record(
        tx,
        actor,
        Event::new("billing.payment", "billing_payment", Some(payment))
            .patient(bill.patient.get())
            .detail(json!({
                "receipt": number,
                "visit": p.visit,
                "method": p.method.code(),
                "amount": due.cents(),
                "shift": shift,
            })),
    )
    .await?;
    Ok(Booked {
        payment,
        change,
        new: true,
    })
}

/// Money received at the desk, as its receipt records it.
pub(crate) struct Receiving<'a> {
    pub visit: VisitId,
    pub patient: PatientId,
    pub facility: i64,
    pub method: Method,
    pub amount: Money,
    /// Cash handed over, when more than the amount (the change goes back).
    pub tendered: Option<Money>,
    pub token: &'a str,
    pub mpesa_receipt: Option<&'a str>,
    pub card_reference: Option<&'a str>,
    pub at: &'a str,
    /// `bill` (paid towards invoices now) or `deposit` (held for the visit's bill).
    pub purpose: &'static str,
}

/// Books money received into the cashier's open shift under a new receipt number: (payment,
/// shift, receipt number). The shift's row is moved before the receipt counter, the order every
/// payment takes its locks in.
pub(crate) async fn receive(
    tx: &mut Tx,
    actor: &Actor,
    r: &Receiving<'_>,
) -> Result<(i64, i64, String), BillError> {
    let (cash, other) = match r.method {
        Method::Cash => (r.amount, Money::ZERO),
        _ => (Money::ZERO, r.amount),
    };
    let shift: Option<i64> = sqlx::query(
        "UPDATE billing_shifts SET cash_taken_cents = cash_taken_cents + $1, \
         other_taken_cents = other_taken_cents + $2, payments = payments + 1 \
         WHERE cashier_id = $3 AND status = 'open' RETURNING id",
    )
    .bind(cash)
    .bind(other)
    .bind(actor.user_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.get(0));
    let shift = shift.ok_or(BillError::NoShift)?;
    let (year, seq, number) = take_number(tx, r.facility, "RCT", r.at).await?;
    let inserted = sqlx::query(
        "INSERT INTO billing_payments (facility_id, series, year, seq, receipt_number, shift_id, \
         visit_id, patient_id, method, amount_cents, tendered_cents, form_token, mpesa_receipt, \
         card_reference, received_by, received_at, purpose) \
         VALUES ($1, 'RCT', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         RETURNING id",
    )
    .bind(r.facility)
    .bind(year)
    .bind(seq)
    .bind(&number)
    .bind(shift)
    .bind(r.visit)
    .bind(r.patient)
    .bind(r.method.code())
    .bind(r.amount)
    .bind(r.tendered)
    .bind(r.token)
    .bind(r.mpesa_receipt)
    .bind(r.card_reference)
    .bind(actor.user_id)
    .bind(r.at)
    .bind(r.purpose)
    .fetch_one(&mut **tx)
    .await;
    match inserted {
        Ok(row) => Ok((row.get(0), shift, number)),
        Err(e) => {
            let e = DbError::from(e);
            Err(match e.unique_constraint() {
                Some(c) if c.contains("mpesa") || c.contains("card") => BillError::ReferenceUsed,
                _ => BillError::Db(e),
            })
        }
    }
}

/// The patient's open invoices of the visit, oldest first: (invoice, left to pay, facility).
pub(crate) async fn open_patient_invoices(
    tx: &mut Tx,
    visit: VisitId,
) -> Result<Vec<(i64, Money, i64)>, DbError> {
    Ok(sqlx::query(
        "SELECT id, total_cents - paid_cents - credited_cents, facility_id FROM billing_invoices \
         WHERE visit_id = $1 AND payer = 'patient' AND status = 'issued' \
         AND paid_cents + credited_cents < total_cents ORDER BY id",
    )
    .bind(visit)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect())
}

/// Spreads `amount` of a payment over `open` invoices, oldest first, each by a guarded update
/// of what it has paid: what could not be placed.
pub(crate) async fn allocate(
    tx: &mut Tx,
    payment: i64,
    open: &[(i64, Money, i64)],
    amount: Money,
) -> Result<Money, BillError> {
    let mut left = amount;
    for &(invoice, balance, _) in open {
        if left <= Money::ZERO {
            break;
        }
        let part = balance.min(left);
        sqlx::query(
            "INSERT INTO billing_allocations (payment_id, invoice_id, amount_cents) VALUES ($1, $2, $3)",
        )
        .bind(payment)
        .bind(invoice)
        .bind(part)
        .execute(&mut **tx)
        .await?;
        one_row(
            sqlx::query(
                "UPDATE billing_invoices SET paid_cents = paid_cents + $1 \
                 WHERE id = $2 AND status = 'issued' AND paid_cents + credited_cents + $1 <= total_cents",
            )
            .bind(part)
            .bind(invoice)
            .execute(&mut **tx)
            .await?,
        )?;
        left = left - part;
    }
    Ok(left)
}
