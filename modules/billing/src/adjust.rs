//! Credit notes, waivers and refunds. Each is asked for against an issued invoice with a reason
//! and decided by a second person (`billing.approve`, never the one who asked: the check is part
//! of the update and a CHECK backs it). Approving a credit or a waiver issues a credit note at
//! once; an approved refund waits for a cashier to pay it out, which issues the credit note and
//! takes the money off what was paid. A credit note cites its invoice, is numbered from the CN
//! series without gaps, and is never larger than what is left of the invoice (KRA refuses more):
//! the request is bounded by what is left less what is already asked for, and the invoice's own
//! guarded update bounds it again when it is issued.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
use hms_core::money::Money;

use crate::bill::take_number;
use crate::etims;
use crate::model::Method;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Takes part of an invoice back (a wrong price, a line not given): nothing is paid out.
    Credit,
    /// Lets the patient off what is left to pay (MOH 717: a waiver or an exemption).
    Waiver,
    /// Pays back money the patient paid.
    Refund,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "credit" => Some(Kind::Credit),
            "waiver" => Some(Kind::Waiver),
            "refund" => Some(Kind::Refund),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Kind::Credit => "credit",
            Kind::Waiver => "waiver",
            Kind::Refund => "refund",
        }
    }
}

/// The words for a stored code (`kind` credit, waiver, refund; `category` waiver, exemption).
pub fn label(what: &str, code: Option<String>) -> String {
    code.map(|c| hms_core::i18n::t(&format!("billing_adjust.{what}_{c}")))
        .unwrap_or_default()
}

/// How a refund is paid back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundMethod {
    /// From the cashier's drawer (the open shift's cash).
    Cash,
    /// Sent to the patient's phone; the shift records it but its cash is untouched.
    Mpesa,
}

impl RefundMethod {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "cash" => Some(RefundMethod::Cash),
            "mpesa" => Some(RefundMethod::Mpesa),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            RefundMethod::Cash => "cash",
            RefundMethod::Mpesa => "mpesa",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    #[error("no such invoice or request")]
    NotFound,
    /// A waiver or refund of a scheme's invoice: only a patient's invoice has them.
    #[error("not for this invoice")]
    NotForInvoice,
    /// More than is left of the invoice (less what is already asked for).
    #[error("larger than what is left")]
    TooLarge(Money),
    /// Decided already (or a refund not yet approved).
    #[error("already decided")]
    Decided,
    /// One's own request: someone else decides it.
    #[error("own request")]
    OwnRequest,
    #[error("no open shift")]
    NoShift,
    /// The drawer holds less cash than the refund.
    #[error("not enough cash in the drawer")]
    DrawerShort,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AdjustError {
    fn from(e: sqlx::Error) -> Self {
        AdjustError::Db(e.into())
    }
}

impl AdjustError {
    pub fn key(&self) -> &'static str {
        match self {
            AdjustError::NotFound => "billing_adjust.error_not_found",
            AdjustError::NotForInvoice => "billing_adjust.error_not_for_invoice",
            AdjustError::TooLarge(_) => "billing_adjust.error_too_large",
            AdjustError::Decided => "billing_adjust.error_decided",
            AdjustError::OwnRequest => "billing_adjust.error_own",
            AdjustError::NoShift => "billing.error_no_shift",
            AdjustError::DrawerShort => "billing_adjust.error_drawer",
            AdjustError::Db(_) => "billing_adjust.error_not_found",
        }
    }
}

/// A request as typed.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub invoice: i64,
    pub kind: Kind,
    pub amount: Money,
    pub reason: String,
    /// `waiver` or `exemption`, for a waiver.
    pub category: Option<String>,
}

/// What may still be asked of an invoice: credited or waived (what is left to pay, less what
/// is asked for already) and refunded (what was paid, less refunds asked for).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Room {
    pub credit: Money,
    pub refund: Money,
    pub patient: bool,
}

/// Locks the issued invoice (a write that changes nothing: the row lock on PostgreSQL, the
/// write lock on SQLite) and works out its room, so two requests cannot both take the last of it.
async fn lock_room(tx: &mut Tx, invoice: i64) -> Result<(Room, i64), AdjustError> {
    let r = sqlx::query(
        "UPDATE billing_invoices SET paid_cents = paid_cents WHERE id = $1 AND status = 'issued' \
         RETURNING payer, total_cents - paid_cents - credited_cents, paid_cents, patient_id",
    )
    .bind(invoice)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AdjustError::NotFound)?;
    let asked = asked(&mut **tx, invoice).await?;
    let open: Money = r.get(1);
    let paid: Money = r.get(2);
    Ok((
        Room {
            credit: open - asked.0,
            refund: paid - asked.1,
            patient: r.get::<String, _>(0) == "patient",
        },
        r.get(3),
    ))
}

/// What open requests already ask of the invoice: (credits and waivers, refunds).
async fn asked<'e, E>(ex: E, invoice: i64) -> Result<(Money, Money), DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let r = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN kind <> 'refund' THEN amount_cents ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'refund' THEN amount_cents ELSE 0 END), 0) AS BIGINT) \
         FROM billing_requests WHERE invoice_id = $1 AND status IN ('pending', 'approved')",
    )
    .bind(invoice)
    .fetch_one(ex)
    .await?;
    Ok((r.get(0), r.get(1)))
}

/// The invoice's room, read without locking (for the form).
pub async fn room(db: &Db, invoice: i64) -> Result<Option<Room>, DbError> {
    let Some(r) = sqlx::query(
        "SELECT payer, total_cents - paid_cents - credited_cents, paid_cents FROM billing_invoices \
         WHERE id = $1 AND status = 'issued'",
    )
    .bind(invoice)
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let asked = asked(db.read(), invoice).await?;
    Ok(Some(Room {
        credit: r.get::<Money, _>(1) - asked.0,
        refund: r.get::<Money, _>(2) - asked.1,
        patient: r.get::<String, _>(0) == "patient",
    }))
}

/// Records a request, bounded by the invoice's room in the same transaction.
pub async fn request(
    tx: &mut Tx,
    actor: &Actor,
    r: &NewRequest,
    now: &str,
) -> Result<i64, AdjustError> {
    let (room, patient) = lock_room(tx, r.invoice).await?;
    if r.kind != Kind::Credit && !room.patient {
        return Err(AdjustError::NotForInvoice);
    }
    let left = match r.kind {
        Kind::Refund => room.refund,
        _ => room.credit,
    };
    if r.amount > left {
        return Err(AdjustError::TooLarge(left.max(Money::ZERO)));
    }
    let id: i64 = sqlx::query(
        "INSERT INTO billing_requests (kind, invoice_id, amount_cents, reason, category, \
         requested_by, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(r.kind.code())
    .bind(r.invoice)
    .bind(r.amount)
    .bind(r.reason.trim())
    .bind(r.category.as_deref())
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    audit::record(
        tx,
        actor,
        Event::new("billing.request", "billing_request", Some(id))
            .patient(patient)
            .detail(json!({
                "kind": r.kind.code(), "invoice": r.invoice, "amount": r.amount.cents(),
                "reason": r.reason.trim(), "category": r.category,
            })),
    )
    .await?;
    Ok(id)
}

/// A request as the decision reads it.
struct Decided {
    kind: String,
    invoice: i64,
    amount: Money,
    reason: String,
}

/// Why an update of a request touched nothing: gone, decided, or the actor's own.
async fn why_not(tx: &mut Tx, id: i64, actor: &Actor) -> Result<AdjustError, DbError> {
    let row = sqlx::query("SELECT status, requested_by FROM billing_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        None => AdjustError::NotFound,
        Some(r)
            if r.get::<String, _>(0) == "pending"
                && r.get::<i64, _>(1) == actor.user_id.unwrap_or(0) =>
        {
            AdjustError::OwnRequest
        }
        Some(_) => AdjustError::Decided,
    })
}

/// Approves or rejects a pending request, never one's own. Approving a credit or a waiver
/// issues its credit note now (the id is returned); an approved refund waits to be paid out.
pub async fn decide(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    approve: bool,
    note: &str,
    now: &str,
) -> Result<Option<i64>, AdjustError> {
    let note = Some(note.trim()).filter(|n| !n.is_empty());
    let row = sqlx::query(
        "UPDATE billing_requests SET status = CASE WHEN kind = 'refund' THEN $1 ELSE $6 END, \
         decided_by = $2, decided_at = $3, decision_note = $4 \
         WHERE id = $5 AND status = 'pending' AND requested_by <> $2 \
         RETURNING kind, invoice_id, amount_cents, reason",
    )
    .bind(if approve { "approved" } else { "rejected" })
    .bind(actor.user_id)
    .bind(now)
    .bind(note)
    .bind(id)
    .bind(if approve { "done" } else { "rejected" })
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = row else {
        return Err(why_not(tx, id, actor).await?);
    };
    let req = Decided {
        kind: r.get(0),
        invoice: r.get(1),
        amount: r.get(2),
        reason: r.get(3),
    };
    let mut note_id = None;
    if approve && req.kind != "refund" {
        let credited = sqlx::query(
            "UPDATE billing_invoices SET credited_cents = credited_cents + $1 \
             WHERE id = $2 AND status = 'issued' AND paid_cents + credited_cents + $1 <= total_cents",
        )
        .bind(req.amount)
        .bind(req.invoice)
        .execute(&mut **tx)
        .await?;
        if credited.rows_affected() != 1 {
            return Err(AdjustError::TooLarge(Money::ZERO));
        }
        note_id = Some(credit_note(tx, actor, id, &req, None, now).await?);
    }
    // The audit rows come last: the chain's head is the last lock a money write takes.
    let event = if approve {
        "billing.request.approve"
    } else {
        "billing.request.reject"
    };
    audit::record(
        tx,
        actor,
        Event::new(event, "billing_request", Some(id))
            .detail(json!({ "kind": req.kind, "amount": req.amount.cents(), "note": note })),
    )
    .await?;
    Ok(note_id)
}

/// Pays out an approved refund at the desk, in the cashier's open shift: takes it off what was
/// paid of the invoice and issues the credit note. Locks in the order a payment does (request,
/// shift, invoice, counter), so a refund and a payment never deadlock.
pub async fn pay_out(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    method: RefundMethod,
    now: &str,
) -> Result<i64, AdjustError> {
    let row = sqlx::query(
        "UPDATE billing_requests SET status = 'done' \
         WHERE id = $1 AND status = 'approved' AND kind = 'refund' \
         RETURNING kind, invoice_id, amount_cents, reason",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = row else {
        return Err(match why_not(tx, id, actor).await? {
            AdjustError::NotFound => AdjustError::NotFound,
            _ => AdjustError::Decided,
        });
    };
    let req = Decided {
        kind: r.get(0),
        invoice: r.get(1),
        amount: r.get(2),
        reason: r.get(3),
    };
    let cash = if method == RefundMethod::Cash {
        req.amount
    } else {
        Money::ZERO
    };
    let shift: Option<i64> = sqlx::query(
        "UPDATE billing_shifts SET cash_refunded_cents = cash_refunded_cents + $1 \
         WHERE cashier_id = $2 AND status = 'open' \
         AND float_cents + cash_taken_cents - cash_refunded_cents >= $1 RETURNING id",
    )
    .bind(cash)
    .bind(actor.user_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.get(0));
    let Some(shift) = shift else {
        let open =
            sqlx::query("SELECT 1 FROM billing_shifts WHERE cashier_id = $1 AND status = 'open'")
                .bind(actor.user_id)
                .fetch_optional(&mut **tx)
                .await?;
        return Err(if open.is_some() {
            AdjustError::DrawerShort
        } else {
            AdjustError::NoShift
        });
    };
    let taken = sqlx::query(
        "UPDATE billing_invoices SET paid_cents = paid_cents - $1, credited_cents = credited_cents + $1 \
         WHERE id = $2 AND status = 'issued' AND paid_cents >= $1",
    )
    .bind(req.amount)
    .bind(req.invoice)
    .execute(&mut **tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Err(AdjustError::TooLarge(Money::ZERO));
    }
    credit_note(tx, actor, id, &req, Some((shift, method)), now).await
}

/// Issues the credit note of a decided request, numbered in the CN series.
async fn credit_note(
    tx: &mut Tx,
    actor: &Actor,
    request: i64,
    req: &Decided,
    refund: Option<(i64, RefundMethod)>,
    now: &str,
) -> Result<i64, AdjustError> {
    let inv = sqlx::query(
        "SELECT i.facility_id, i.patient_id, i.number, i.payer, s.name, s.kra_pin \
         FROM billing_invoices i LEFT JOIN billing_schemes s ON s.id = i.scheme_id WHERE i.id = $1",
    )
    .bind(req.invoice)
    .fetch_one(&mut **tx)
    .await?;
    let (facility, patient): (i64, i64) = (inv.get(0), inv.get(1));
    let (invoice_number, payer): (String, String) = (inv.get(2), inv.get(3));
    let (scheme_name, scheme_pin): (Option<String>, Option<String>) = (inv.get(4), inv.get(5));
    let (year, seq, number) = take_number(tx, facility, "CN", now).await?;
    let id: i64 = sqlx::query(
        "INSERT INTO billing_credit_notes (facility_id, series, year, seq, number, request_id, \
         invoice_id, patient_id, kind, amount_cents, reason, refund_method, shift_id, issued_by, \
         issued_at) VALUES ($1, 'CN', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         RETURNING id",
    )
    .bind(facility)
    .bind(year)
    .bind(seq)
    .bind(&number)
    .bind(request)
    .bind(req.invoice)
    .bind(patient)
    .bind(&req.kind)
    .bind(req.amount)
    .bind(&req.reason)
    .bind(refund.map(|(_, m)| m.code()))
    .bind(refund.map(|(s, _)| s))
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    let parts = credited_by_tax_type(tx, req.invoice, req.amount).await?;
    // KRA's records are kept in English whatever the cashier's language.
    let name = format!("Credit of invoice {invoice_number}");
    let scheme = payer == "scheme";
    let doc = etims::Document {
        number: &number,
        receipt_type: "R",
        original: etims::seq_of_invoice(tx, req.invoice).await?,
        customer_pin: scheme_pin.as_deref().filter(|_| scheme),
        customer_name: scheme_name.as_deref().filter(|_| scheme),
        payment_type: match refund {
            Some((_, RefundMethod::Cash)) => etims::payment_type(Some(Method::Cash)),
            Some((_, RefundMethod::Mpesa)) => etims::payment_type(Some(Method::Mpesa)),
            None => etims::payment_type(None),
        },
        reason: Some(&req.reason),
        items: parts
            .iter()
            .map(|(tax_type, amount)| etims::Item {
                code: "CREDIT",
                name: &name,
                quantity: 1,
                unit_price: *amount,
                amount: *amount,
                tax_type,
            })
            .collect(),
    };
    etims::enqueue(tx, facility, etims::Of::CreditNote(id), &doc, now).await?;
    audit::record(
        tx,
        actor,
        Event::new("billing.credit_note", "billing_credit_note", Some(id))
            .patient(patient)
            .detail(json!({
                "number": number, "invoice": req.invoice, "kind": req.kind,
                "amount": req.amount.cents(), "refund": refund.map(|(_, m)| m.code()),
            })),
    )
    .await?;
    Ok(id)
}

/// `amount` of invoice `invoice` split over the tax types of its lines in proportion to each
/// type's part of the invoice (the rounding left to the largest part), for KRA.
async fn credited_by_tax_type(
    tx: &mut Tx,
    invoice: i64,
    amount: Money,
) -> Result<Vec<(String, Money)>, DbError> {
    let rows = sqlx::query(
        "SELECT tax_type, CAST(SUM(CASE WHEN patient_invoice_id = $1 THEN patient_share_cents \
         ELSE 0 END + CASE WHEN payer_invoice_id = $1 THEN payer_share_cents ELSE 0 END) AS BIGINT) \
         FROM billing_lines WHERE patient_invoice_id = $1 OR payer_invoice_id = $1 \
         GROUP BY tax_type ORDER BY 2 DESC, tax_type",
    )
    .bind(invoice)
    .fetch_all(&mut **tx)
    .await?;
    let parts: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .filter(|(_, c)| *c > 0)
        .collect();
    let whole: i64 = parts.iter().map(|(_, c)| c).sum();
    if whole <= 0 {
        return Ok(vec![("A".to_string(), amount)]);
    }
    let mut out: Vec<(String, Money)> = parts
        .iter()
        .map(|(t, c)| {
            let share = i128::from(amount.cents()) * i128::from(*c) / i128::from(whole);
            (t.clone(), Money::from_cents(share as i64))
        })
        .collect();
    let given: Money = out.iter().map(|(_, m)| *m).sum();
    out[0].1 += amount - given;
    out.retain(|(_, m)| *m != Money::ZERO);
    Ok(out)
}
