//! Remittances: what SHA, an insurer or a company pays for its invoices, by bank transfer or
//! SHA's payment notice, recorded once per scheme and reference and split over the invoices it
//! settles. Each part moves an invoice's paid amount by the guarded update a desk payment uses
//! (`paid + credited + part <= total`), so a remittance never pays an invoice twice over; the
//! parts add up to what was received, or nothing is recorded. What a scheme short-pays stays
//! open on its invoice until a credit note writes it off.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
use hms_core::money::Money;

/// A remittance as the accountant typed it.
#[derive(Debug, Clone)]
pub struct NewRemittance {
    pub scheme: i64,
    /// SHA's payment notice number or the bank's transfer reference.
    pub reference: String,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub note: Option<String>,
    /// (invoice id, part of the remittance for it).
    pub parts: Vec<(i64, Money)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RemitError {
    #[error("no invoice given")]
    NoParts,
    /// The parts add up to this, not to the amount received.
    #[error("the parts do not add up")]
    Sum(Money),
    /// The scheme recorded a remittance with this reference already.
    #[error("reference used")]
    ReferenceUsed,
    /// This invoice (id) is not the scheme's, is not open, or has less left than its part.
    #[error("more than the invoice has open")]
    TooMuch(i64),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for RemitError {
    fn from(e: sqlx::Error) -> Self {
        RemitError::Db(e.into())
    }
}

/// Records the remittance and pays its parts, in the caller's transaction (on an error the
/// caller rolls back and nothing is kept).
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    r: &NewRemittance,
    now: &str,
) -> Result<i64, RemitError> {
    if r.parts.is_empty() {
        return Err(RemitError::NoParts);
    }
    let sum = r.parts.iter().fold(Money::ZERO, |s, p| s + p.1);
    if sum != r.amount {
        return Err(RemitError::Sum(sum));
    }
    let inserted = sqlx::query(
        "INSERT INTO billing_remittances (scheme_id, reference, amount_cents, received_on, note, \
         recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(r.scheme)
    .bind(r.reference.trim())
    .bind(r.amount)
    .bind(hms_core::dates::text(r.received_on))
    .bind(r.note.as_deref())
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await;
    let id: i64 = match inserted {
        Ok(row) => row.get(0),
        Err(e) => {
            let e = DbError::from(e);
            return Err(if e.unique_constraint().is_some() {
                RemitError::ReferenceUsed
            } else {
                RemitError::Db(e)
            });
        }
    };
    for &(invoice, part) in &r.parts {
        let paid = sqlx::query(
            "UPDATE billing_invoices SET paid_cents = paid_cents + $1 \
             WHERE id = $2 AND status = 'issued' AND payer = 'scheme' AND scheme_id = $3 \
             AND paid_cents + credited_cents + $1 <= total_cents RETURNING patient_id, number",
        )
        .bind(part)
        .bind(invoice)
        .bind(r.scheme)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(RemitError::TooMuch(invoice))?;
        sqlx::query(
            "INSERT INTO billing_remittance_parts (remittance_id, invoice_id, amount_cents) \
             VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(invoice)
        .bind(part)
        .execute(&mut **tx)
        .await?;
        audit::record(
            tx,
            actor,
            Event::new("billing.remittance.part", "billing_invoice", Some(invoice))
                .patient(paid.get::<i64, _>(0))
                .detail(json!({
                    "remittance": id, "invoice": paid.get::<String, _>(1), "amount": part.cents(),
                })),
        )
        .await?;
    }
    audit::record(
        tx,
        actor,
        Event::new("billing.remittance", "billing_remittance", Some(id)).detail(json!({
            "scheme": r.scheme, "reference": r.reference.trim(), "amount": r.amount.cents(),
            "received_on": hms_core::dates::text(r.received_on), "invoices": r.parts.len(),
        })),
    )
    .await?;
    Ok(id)
}

/// A scheme's invoice with something left to pay, as the remittance form lists it.
#[derive(Debug, Clone, Serialize)]
pub struct OpenInvoice {
    pub id: i64,
    pub number: String,
    pub patient: String,
    pub issued: String,
    pub total: Money,
    pub open: Money,
    /// `open` as a form value (`1250.00`).
    pub open_plain: String,
    /// What SHA approved of its claim and has not yet remitted, when it answered.
    pub approved: Option<Money>,
    pub claim: Option<String>,
}

/// The scheme's open invoices, oldest first, whose number or patient number contains `q`.
pub async fn open_invoices(
    db: &Db,
    scheme: i64,
    q: &str,
    limit: i64,
) -> Result<Vec<OpenInvoice>, DbError> {
    let like = format!("%{}%", q.trim().to_uppercase());
    let rows = sqlx::query(
        "SELECT i.id, i.number, p.number, i.issued_at, i.total_cents, \
         i.total_cents - i.paid_cents - i.credited_cents, c.approved_cents, c.status, \
         (SELECT CAST(COALESCE(SUM(x.amount_cents), 0) AS BIGINT) FROM billing_remittance_parts x \
          WHERE x.invoice_id = i.id) \
         FROM billing_invoices i JOIN patients p ON p.id = i.patient_id \
         LEFT JOIN billing_claims c ON c.invoice_id = i.id \
         WHERE i.scheme_id = $1 AND i.payer = 'scheme' AND i.status = 'issued' \
         AND i.paid_cents + i.credited_cents < i.total_cents \
         AND ($2 = '%%' OR UPPER(i.number) LIKE $2 OR UPPER(p.number) LIKE $2) \
         ORDER BY i.id LIMIT CAST($3 AS BIGINT)",
    )
    .bind(scheme)
    .bind(&like)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let open = Money::from_cents(r.get(5));
            OpenInvoice {
                id: r.get(0),
                number: r.get(1),
                patient: r.get(2),
                issued: hms_core::clock::display_rfc3339(&r.get::<String, _>(3)),
                total: Money::from_cents(r.get(4)),
                open,
                open_plain: open.plain(),
                approved: r
                    .get::<Option<i64>, _>(6)
                    .map(|a| (Money::from_cents(a) - Money::from_cents(r.get(8))).max(Money::ZERO)),
                claim: r.get(7),
            }
        })
        .collect())
}

/// A remittance recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Remittance {
    pub id: i64,
    pub scheme: String,
    pub reference: String,
    pub amount: Money,
    pub received_on: String,
    pub note: Option<String>,
    pub recorded_by: String,
    pub recorded_at: String,
    pub invoices: i64,
}

/// The remittance query with `$tail` (a condition, an order) appended.
macro_rules! remittances {
    ($tail:literal) => {
        concat!(
            "SELECT r.id, s.name, r.reference, r.amount_cents, r.received_on, r.note, \
             COALESCE(u.full_name, ''), r.recorded_at, \
             (SELECT COUNT(*) FROM billing_remittance_parts x WHERE x.remittance_id = r.id) \
             FROM billing_remittances r JOIN billing_schemes s ON s.id = r.scheme_id \
             LEFT JOIN users u ON u.id = r.recorded_by ",
            $tail
        )
    };
}

fn remittance_at(r: &sqlx::any::AnyRow) -> Remittance {
    let on: String = r.get(4);
    Remittance {
        id: r.get(0),
        scheme: r.get(1),
        reference: r.get(2),
        amount: Money::from_cents(r.get(3)),
        received_on: NaiveDate::parse_from_str(&on, "%Y-%m-%d")
            .map(hms_core::dates::show)
            .unwrap_or(on),
        note: r.get(5),
        recorded_by: r.get(6),
        recorded_at: hms_core::clock::display_rfc3339(&r.get::<String, _>(7)),
        invoices: r.get(8),
    }
}

/// The latest remittances, newest first.
pub async fn recent(db: &Db, limit: i64, offset: i64) -> Result<Vec<Remittance>, DbError> {
    Ok(sqlx::query(remittances!(
        "ORDER BY r.id DESC LIMIT CAST($1 AS BIGINT) OFFSET CAST($2 AS BIGINT)"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(remittance_at)
    .collect())
}

/// A part of a remittance: the invoice it paid and how much.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub invoice_id: i64,
    pub invoice: String,
    pub patient: String,
    pub patient_id: i64,
    pub amount: Money,
    /// What is still open on the invoice now.
    pub open: Money,
}

/// One remittance with its parts.
pub async fn get(db: &Db, id: i64) -> Result<Option<(Remittance, Vec<Part>)>, DbError> {
    let Some(row) = sqlx::query(remittances!("WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
    else {
        return Ok(None);
    };
    let parts = sqlx::query(
        "SELECT i.id, i.number, p.number, p.id, x.amount_cents, \
         i.total_cents - i.paid_cents - i.credited_cents \
         FROM billing_remittance_parts x JOIN billing_invoices i ON i.id = x.invoice_id \
         JOIN patients p ON p.id = i.patient_id WHERE x.remittance_id = $1 ORDER BY i.id",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| Part {
        invoice_id: r.get(0),
        invoice: r.get(1),
        patient: r.get(2),
        patient_id: r.get(3),
        amount: Money::from_cents(r.get(4)),
        open: Money::from_cents(r.get(5)),
    })
    .collect();
    Ok(Some((remittance_at(&row), parts)))
}
