//! A visit's bill: its charges not yet priced, priced now by the visit's scheme; its invoices;
//! and *issue*, which freezes the priced lines into an invoice per payer (the patient's share,
//! the scheme's share), numbered from the facility's gapless counter in the same transaction.
//! Paying a bill is in [`crate::pay`].

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use hms_appointments::api as appts;
use hms_core::audit::{self, Actor, Event};
use hms_core::db::{one_row, DbError, Tx};
use hms_core::ids::{PatientId, VisitId};
use hms_core::money::Money;

use crate::etims;
use crate::model::{Method, PayerClass};
use crate::prices::{self, Listed};

/// A charge priced for this bill (not yet on an invoice).
#[derive(Debug, Clone, Serialize)]
pub struct Priced {
    pub charge_id: i64,
    pub item: String,
    pub description: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
    pub payer_share: Money,
    pub patient_share: Money,
    #[serde(skip)]
    pub list_id: Option<i64>,
    pub scheme_code: Option<String>,
    #[serde(skip)]
    pub tax_type: String,
    pub service_point: Option<String>,
    pub facility: i64,
}

/// An invoice of the visit, with what is left to pay.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceSummary {
    pub id: i64,
    pub number: String,
    pub payer: String,
    pub total: Money,
    pub paid: Money,
    /// Taken off by credit notes (credits, waivers, refunds).
    pub credited: Money,
    pub balance: Money,
    pub issued_at: String,
}

/// What the desk sees of a visit.
#[derive(Debug, Clone, Serialize)]
pub struct Bill {
    pub visit: VisitId,
    pub patient: PatientId,
    pub payer: String,
    #[serde(skip)]
    pub class: PayerClass,
    pub scheme: String,
    pub scheme_id: i64,
    pub unbilled: Vec<Priced>,
    pub invoices: Vec<InvoiceSummary>,
    /// What the patient owes now: unbilled patient shares and open patient invoices.
    pub due: Money,
    /// What the scheme will be invoiced (insured visits).
    pub scheme_due: Money,
}

#[derive(Debug, thiserror::Error)]
pub enum BillError {
    #[error("no such visit")]
    NoVisit,
    /// The visit is exempt: nothing is billed.
    #[error("exempt visit")]
    Exempt,
    /// Returns outweigh what is unbilled: a credit note settles it.
    #[error("returns outweigh the charges")]
    Negative,
    /// The bill changed since the page showed it.
    #[error("the bill changed")]
    Stale,
    #[error("nothing to pay")]
    NothingDue,
    /// The visit has no deposit left to use.
    #[error("no deposit left")]
    NoDeposit,
    #[error("no open shift")]
    NoShift,
    /// Cash tendered below what is due, or an M-Pesa or card amount that is not what is due.
    #[error("amount does not match")]
    Amount,
    /// The M-Pesa code or card approval booked a payment already.
    #[error("reference used")]
    ReferenceUsed,
    /// The company's invoices would pass its credit limit (what is left of it).
    #[error("over the credit limit")]
    CreditLimit(Money),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for BillError {
    fn from(e: sqlx::Error) -> Self {
        BillError::Db(e.into())
    }
}

impl BillError {
    pub fn key(&self) -> &'static str {
        match self {
            BillError::NoVisit => "billing.error_no_visit",
            BillError::Exempt => "billing.error_exempt",
            BillError::Negative => "billing.error_negative",
            BillError::Stale => "billing.error_stale",
            BillError::NothingDue => "billing.error_nothing_due",
            BillError::NoDeposit => "billing_deposit.error_none",
            BillError::NoShift => "billing.error_no_shift",
            BillError::Amount => "billing.error_amount_due",
            BillError::ReferenceUsed => "billing.error_reference_used",
            BillError::CreditLimit(_) => "billing.error_credit_limit",
            BillError::Db(_) => "billing.error_amount_unreadable",
        }
    }
}

/// The visit's scheme (id, name, class): its account's if one was set (a scheme other than cash
/// makes the visit insured), else the payer class's default scheme.
async fn scheme_of(
    tx: &mut Tx,
    visit: VisitId,
    payer: &str,
) -> Result<(i64, String, PayerClass), DbError> {
    let class = PayerClass::of(payer);
    let account = sqlx::query(
        "SELECT s.id, s.name, s.kind FROM billing_accounts a \
         JOIN billing_schemes s ON s.id = a.scheme_id WHERE a.visit_id = $1",
    )
    .bind(visit)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(r) = account {
        let kind: String = r.get(2);
        return Ok((r.get(0), r.get(1), class.with_account(&kind)));
    }
    let s = prices::scheme_by_code(tx, PayerClass::default_scheme(payer))
        .await?
        .ok_or(DbError::Conflict)?;
    Ok((s.id, s.name, class))
}

/// The Nairobi day of an RFC 3339 time.
fn day_of(at: &str) -> NaiveDate {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| hms_core::clock::to_local(t.to_utc()).date_naive())
        .unwrap_or_else(|_| hms_core::day::Day::today().date())
}

/// The visit's bill, read inside `tx` (so pay sees exactly what it books).
pub async fn load(tx: &mut Tx, visit_id: VisitId) -> Result<Bill, BillError> {
    let visit = appts::visit_in(tx, visit_id)
        .await?
        .ok_or(BillError::NoVisit)?;
    let (scheme_id, scheme, class) = scheme_of(tx, visit_id, &visit.payer).await?;
    // Unbilled charges, a reversal with the line of the charge it takes back (if priced).
    let rows = sqlx::query(
        "SELECT c.id, c.item_code, COALESCE(ci.name, c.item_code), c.quantity, c.unit_price_cents, \
         COALESCE(o.posted_at, c.posted_at), c.service_point, c.facility_id, \
         ol.quantity, ol.unit_price_cents, ol.payer_share_cents, ol.price_list_id, ol.scheme_code, \
         ol.tax_type \
         FROM charges c LEFT JOIN charge_items ci ON ci.code = c.item_code \
         LEFT JOIN charges o ON o.id = c.reverses \
         LEFT JOIN billing_lines ol ON ol.charge_id = c.reverses \
         WHERE c.visit_id = $1 AND NOT EXISTS (SELECT 1 FROM billing_lines l WHERE l.charge_id = c.id) \
         ORDER BY c.id",
    )
    .bind(visit_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut unbilled = Vec::with_capacity(rows.len());
    for r in &rows {
        let quantity: i64 = r.get(3);
        let own_price: Money = r.get(4);
        let priced_line: Option<i64> = r.get(8);
        let (unit_price, payer_share, list_id, scheme_code, tax_type) =
            if let Some(orig_qty) = priced_line {
                // A reversal of a priced charge takes back at the line's price and split.
                let unit: Money = r.get(9);
                let payer: Money = r.get(10);
                let per_unit = Money::from_cents(payer.cents() / orig_qty.max(1));
                (unit, per_unit * quantity, r.get(11), r.get(12), r.get(13))
            } else {
                let listed: Option<Listed> = if class == PayerClass::Exempt {
                    None
                } else {
                    let item: String = r.get(1);
                    prices::listed(tx, scheme_id, &item, day_of(&r.get::<String, _>(5))).await?
                };
                let unit = listed.as_ref().map(|l| l.price).unwrap_or(own_price);
                let (payer, _) = prices::split(class, listed.as_ref(), quantity, unit);
                let tax_type = listed
                    .as_ref()
                    .map_or_else(|| "A".to_string(), |l| l.tax_type.clone());
                (
                    unit,
                    payer,
                    listed.as_ref().map(|l| l.list_id),
                    listed.and_then(|l| l.scheme_code),
                    tax_type,
                )
            };
        let amount = unit_price * quantity;
        unbilled.push(Priced {
            charge_id: r.get(0),
            item: r.get(1),
            description: r.get(2),
            quantity,
            unit_price,
            amount,
            payer_share,
            patient_share: amount - payer_share,
            list_id,
            scheme_code,
            tax_type,
            service_point: r.get(6),
            facility: r.get(7),
        });
    }
    let invoices = invoices_of(tx, visit_id).await?;
    let open: Money = invoices
        .iter()
        .filter(|i| i.payer == "patient")
        .map(|i| i.balance)
        .sum();
    let unbilled_patient: Money = unbilled.iter().map(|l| l.patient_share).sum();
    Ok(Bill {
        visit: visit_id,
        patient: visit.patient_id,
        payer: visit.payer.clone(),
        class,
        scheme,
        scheme_id,
        scheme_due: unbilled.iter().map(|l| l.payer_share).sum(),
        unbilled,
        invoices,
        // An exempt visit owes nothing at the desk (its charges stay on record).
        due: if class == PayerClass::Exempt {
            Money::ZERO
        } else {
            open + unbilled_patient
        },
    })
}

async fn invoices_of(tx: &mut Tx, visit: VisitId) -> Result<Vec<InvoiceSummary>, DbError> {
    let rows = sqlx::query(
        "SELECT id, number, payer, total_cents, paid_cents, issued_at, credited_cents FROM billing_invoices \
         WHERE visit_id = $1 AND status = 'issued' ORDER BY id",
    )
    .bind(visit)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let total: Money = r.get(3);
            let paid: Money = r.get(4);
            let credited: Money = r.get(6);
            InvoiceSummary {
                id: r.get(0),
                number: r.get(1),
                payer: r.get(2),
                total,
                paid,
                credited,
                balance: total - paid - credited,
                issued_at: r.get(5),
            }
        })
        .collect())
}

/// The next number of `series` for the facility's Nairobi year of `now`, taken in `tx`: the
/// counter row stays locked until COMMIT, and a rollback gives the number back.
pub async fn take_number(
    tx: &mut Tx,
    facility: i64,
    series: &str,
    now: &str,
) -> Result<(i32, i64, String), DbError> {
    let year = chrono::Datelike::year(&day_of(now));
    let seq: i64 = sqlx::query(
        "INSERT INTO billing_counters (facility_id, series, year, last_number) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (facility_id, series, year) DO UPDATE \
         SET last_number = billing_counters.last_number + 1 RETURNING last_number",
    )
    .bind(facility)
    .bind(series)
    .bind(year)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    let prefix = if facility == 1 {
        String::new()
    } else {
        format!("F{facility}-")
    };
    Ok((year, seq, format!("{prefix}{series}-{year}-{seq:06}")))
}

/// The invoices one issue made: the patient's and the scheme's, when each has something.
#[derive(Debug, Clone, Copy, Default)]
pub struct Issued {
    pub patient: Option<i64>,
    pub scheme: Option<i64>,
}

/// Freezes the bill's unbilled lines into invoices (one per payer with a positive share) and
/// queues each for KRA eTIMS. Lines that net to nothing for both payers are recorded without an
/// invoice. `paid_by`: how the patient's invoice is being paid now (none: on credit).
pub async fn issue(
    tx: &mut Tx,
    actor: &Actor,
    bill: &Bill,
    paid_by: Option<Method>,
    now: &str,
) -> Result<Issued, BillError> {
    if bill.unbilled.is_empty() {
        return Ok(Issued::default());
    }
    if bill.class == PayerClass::Exempt {
        return Err(BillError::Exempt);
    }
    let patient_total: Money = bill.unbilled.iter().map(|l| l.patient_share).sum();
    if patient_total.is_negative() || bill.scheme_due.is_negative() {
        return Err(BillError::Negative);
    }
    if bill.scheme_due > Money::ZERO {
        within_credit(tx, bill.scheme_id, bill.scheme_due).await?;
    }
    let facility = bill.unbilled[0].facility;
    let mut issued = Issued::default();
    for (payer, total) in [("patient", patient_total), ("scheme", bill.scheme_due)] {
        if total == Money::ZERO {
            continue;
        }
        let (year, seq, number) = take_number(tx, facility, "INV", now).await?;
        let id: i64 = sqlx::query(
            "INSERT INTO billing_invoices (facility_id, series, year, seq, number, visit_id, \
             patient_id, payer, scheme_id, total_cents, status, issued_by, issued_at) \
             VALUES ($1, 'INV', $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11) RETURNING id",
        )
        .bind(facility)
        .bind(year)
        .bind(seq)
        .bind(&number)
        .bind(bill.visit)
        .bind(bill.patient)
        .bind(payer)
        .bind((payer == "scheme").then_some(bill.scheme_id))
        .bind(total)
        .bind(actor.user_id)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?
        .get(0);
        if payer == "patient" {
            issued.patient = Some(id);
        } else {
            issued.scheme = Some(id);
        }
    }
    for l in &bill.unbilled {
        sqlx::query(
            "INSERT INTO billing_lines (facility_id, charge_id, visit_id, item_code, description, \
             quantity, unit_price_cents, amount_cents, payer_share_cents, patient_share_cents, \
             price_list_id, scheme_code, patient_invoice_id, payer_invoice_id, tax_type) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(l.facility)
        .bind(l.charge_id)
        .bind(bill.visit)
        .bind(&l.item)
        .bind(&l.description)
        .bind(l.quantity)
        .bind(l.unit_price)
        .bind(l.amount)
        .bind(l.payer_share)
        .bind(l.patient_share)
        .bind(l.list_id)
        .bind(l.scheme_code.as_deref())
        .bind(
            (l.patient_share != Money::ZERO)
                .then_some(issued.patient)
                .flatten(),
        )
        .bind(
            (l.payer_share != Money::ZERO)
                .then_some(issued.scheme)
                .flatten(),
        )
        .bind(&l.tax_type)
        .execute(&mut **tx)
        .await?;
    }
    for id in [issued.patient, issued.scheme].into_iter().flatten() {
        one_row(
            sqlx::query(
                "UPDATE billing_invoices SET status = 'issued' WHERE id = $1 AND status = 'draft'",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?,
        )?;
        audit::record(
            tx,
            actor,
            Event::new("billing.invoice.issue", "billing_invoice", Some(id))
                .patient(bill.patient.get())
                .detail(json!({ "visit": bill.visit, "lines": bill.unbilled.len() })),
        )
        .await?;
    }
    if let Some(id) = issued.patient {
        queue_for_etims(tx, bill, id, false, paid_by, now).await?;
    }
    if let Some(id) = issued.scheme {
        queue_for_etims(tx, bill, id, true, None, now).await?;
    }
    Ok(issued)
}

/// A company's invoices never take it past its credit limit. The scheme's row is locked (a
/// write that changes nothing) while what it owes is summed, so two desks issuing at once cannot
/// both pass the check; schemes without a limit pass at once.
async fn within_credit(tx: &mut Tx, scheme: i64, adding: Money) -> Result<(), BillError> {
    let limit = sqlx::query(
        "UPDATE billing_schemes SET credit_limit_cents = credit_limit_cents \
         WHERE id = $1 AND kind = 'corporate' AND credit_limit_cents IS NOT NULL \
         RETURNING credit_limit_cents",
    )
    .bind(scheme)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(limit) = limit.map(|r| r.get::<Money, _>(0)) else {
        return Ok(());
    };
    let owed = owed_by(&mut **tx, scheme).await?;
    if owed + adding > limit {
        return Err(BillError::CreditLimit(limit - owed));
    }
    Ok(())
}

/// What a scheme owes: the open balance of its issued invoices.
pub async fn owed_by<'e, E>(ex: E, scheme: i64) -> Result<Money, DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query(
        "SELECT CAST(COALESCE(SUM(total_cents - paid_cents - credited_cents), 0) AS BIGINT) \
         FROM billing_invoices WHERE scheme_id = $1 AND payer = 'scheme' AND status = 'issued'",
    )
    .bind(scheme)
    .fetch_one(ex)
    .await?
    .get(0))
}

/// Queues invoice `id` (the patient's or the scheme's share of `bill`) for KRA eTIMS.
async fn queue_for_etims(
    tx: &mut Tx,
    bill: &Bill,
    id: i64,
    scheme: bool,
    paid_by: Option<Method>,
    now: &str,
) -> Result<(), DbError> {
    let row = sqlx::query(
        "SELECT i.number, i.facility_id, s.name, s.kra_pin FROM billing_invoices i \
         LEFT JOIN billing_schemes s ON s.id = i.scheme_id WHERE i.id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let (number, facility): (String, i64) = (row.get(0), row.get(1));
    let (name, pin): (Option<String>, Option<String>) = (row.get(2), row.get(3));
    let items = bill
        .unbilled
        .iter()
        .filter_map(|l| {
            let share = if scheme {
                l.payer_share
            } else {
                l.patient_share
            };
            // A share that is not the whole line goes as one unit of that share.
            let (quantity, unit_price) = match share {
                s if s == Money::ZERO => return None,
                s if s == l.amount => (l.quantity, l.unit_price),
                s => (1, s),
            };
            Some(etims::Item {
                code: &l.item,
                name: &l.description,
                quantity,
                unit_price,
                amount: share,
                tax_type: &l.tax_type,
            })
        })
        .collect();
    let doc = etims::Document {
        number: &number,
        receipt_type: "S",
        original: None,
        customer_pin: pin.as_deref().filter(|_| scheme),
        customer_name: name.as_deref().filter(|_| scheme),
        payment_type: etims::payment_type(paid_by),
        reason: None,
        items,
    };
    etims::enqueue(tx, facility, etims::Of::Invoice(id), &doc, now).await?;
    Ok(())
}

/// Issues the visit's unbilled lines without taking a payment (an insured visit's scheme
/// invoice and co-pay, a corporate's credit), when the bill is still what the page showed.
pub async fn issue_now(
    tx: &mut Tx,
    actor: &Actor,
    visit: VisitId,
    expected_lines: usize,
    now: &str,
) -> Result<Issued, BillError> {
    let bill = load(tx, visit).await?;
    if bill.unbilled.len() != expected_lines {
        return Err(BillError::Stale);
    }
    if bill.unbilled.is_empty() {
        return Err(BillError::NothingDue);
    }
    issue(tx, actor, &bill, None, now).await
}

/// Sets who pays for the visit (a scheme and the member number), while nothing of it has been
/// invoiced: the guard is part of the write.
pub async fn set_account(
    tx: &mut Tx,
    actor: &Actor,
    visit: VisitId,
    scheme: i64,
    member: Option<&str>,
) -> Result<(), BillError> {
    let done = sqlx::query(
        "INSERT INTO billing_accounts (visit_id, scheme_id, member_number, set_by, set_at) \
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS \
         (SELECT 1 FROM billing_invoices WHERE visit_id = $1) \
         ON CONFLICT (visit_id) DO UPDATE SET scheme_id = $2, member_number = $3, set_by = $4, set_at = $5",
    )
    .bind(visit)
    .bind(scheme)
    .bind(member)
    .bind(actor.user_id)
    .bind(hms_core::clock::now_rfc3339())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(BillError::Stale);
    }
    audit::record(
        tx,
        actor,
        Event::new("billing.account.set", "visit", Some(visit.get()))
            .detail(json!({ "scheme": scheme, "member_number": member })),
    )
    .await?;
    Ok(())
}

/// [`issue_now`] with its audit rows put on the chain last (see [`crate::pay::pay_audited`]).
pub async fn issue_now_audited(
    tx: &mut Tx,
    actor: &Actor,
    visit: VisitId,
    expected_lines: usize,
    now: &str,
) -> Result<Issued, BillError> {
    let (issued, rows) =
        audit::deferring(issue_now(&mut *tx, actor, visit, expected_lines, now)).await;
    let issued = issued?;
    rows.append(tx).await?;
    Ok(issued)
}
