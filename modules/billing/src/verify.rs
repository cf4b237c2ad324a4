//! The money check behind `hms billing verify`: recomputes every balance from its parts and
//! looks for gaps in the numbers. Each finding is a line of text; none means the books agree.

use sqlx::Row;

use hms_core::db::{Db, DbError};

/// What was checked and what disagreed.
#[derive(Debug, Default)]
pub struct Verdict {
    pub invoices: i64,
    pub payments: i64,
    pub shifts: i64,
    pub findings: Vec<String>,
}

/// Each query lists the records that break one rule, as (what, detail).
const RULES: &[(&str, &str)] = &[
    (
        "invoice total differs from its lines",
        "SELECT i.number, CAST(i.total_cents - COALESCE((SELECT SUM(CASE WHEN l.patient_invoice_id = i.id \
         THEN l.patient_share_cents ELSE 0 END + CASE WHEN l.payer_invoice_id = i.id \
         THEN l.payer_share_cents ELSE 0 END) FROM billing_lines l \
         WHERE l.patient_invoice_id = i.id OR l.payer_invoice_id = i.id), 0) AS BIGINT) \
         FROM billing_invoices i WHERE i.status = 'issued'",
    ),
    (
        "invoice paid differs from its allocations and remittances less its refunds",
        "SELECT i.number, CAST(i.paid_cents - COALESCE((SELECT SUM(a.amount_cents) \
         FROM billing_allocations a WHERE a.invoice_id = i.id), 0) - COALESCE((SELECT SUM(x.amount_cents) \
         FROM billing_remittance_parts x WHERE x.invoice_id = i.id), 0) + COALESCE((SELECT SUM(n.amount_cents) \
         FROM billing_credit_notes n WHERE n.invoice_id = i.id AND n.kind = 'refund'), 0) AS BIGINT) \
         FROM billing_invoices i",
    ),
    (
        "invoice credited differs from its credit notes",
        "SELECT i.number, CAST(i.credited_cents - COALESCE((SELECT SUM(n.amount_cents) \
         FROM billing_credit_notes n WHERE n.invoice_id = i.id), 0) AS BIGINT) FROM billing_invoices i",
    ),
    (
        "shift cash refunded differs from its cash refunds",
        "SELECT CAST(s.id AS TEXT), CAST(s.cash_refunded_cents - COALESCE((SELECT SUM(n.amount_cents) \
         FROM billing_credit_notes n WHERE n.shift_id = s.id AND n.refund_method = 'cash'), 0) AS BIGINT) \
         FROM billing_shifts s",
    ),
    (
        "credit note differs from its approved request",
        "SELECT n.number, CAST(n.amount_cents - r.amount_cents AS BIGINT) \
         + CASE WHEN r.status = 'done' AND r.invoice_id = n.invoice_id AND r.kind = n.kind THEN 0 ELSE 1 END \
         FROM billing_credit_notes n JOIN billing_requests r ON r.id = n.request_id",
    ),
    (
        "payment (a deposit: what is used of it) differs from its allocations",
        "SELECT p.receipt_number, CAST(CASE WHEN p.purpose = 'deposit' THEN COALESCE((SELECT d.used_cents \
         FROM billing_deposits d WHERE d.payment_id = p.id), -1) ELSE p.amount_cents END \
         - COALESCE((SELECT SUM(a.amount_cents) FROM billing_allocations a WHERE a.payment_id = p.id), 0) \
         AS BIGINT) FROM billing_payments p",
    ),
    (
        "remittance differs from its parts",
        "SELECT r.reference, CAST(r.amount_cents - COALESCE((SELECT SUM(x.amount_cents) \
         FROM billing_remittance_parts x WHERE x.remittance_id = r.id), 0) AS BIGINT) \
         FROM billing_remittances r",
    ),
    (
        "shift takings differ from its payments",
        "SELECT CAST(s.id AS TEXT), CAST((s.cash_taken_cents + s.other_taken_cents) \
         - COALESCE((SELECT SUM(p.amount_cents) FROM billing_payments p WHERE p.shift_id = s.id), 0) AS BIGINT) \
         FROM billing_shifts s",
    ),
    (
        "line amount differs from a charge",
        "SELECT CAST(l.charge_id AS TEXT), l.quantity - c.quantity \
         FROM billing_lines l JOIN charges c ON c.id = l.charge_id",
    ),
];

/// Numbers of a series and year must run 1..n: the count equals the largest.
const GAPS: &str = "SELECT facility_id, series, year, COUNT(*), CAST(MAX(seq) AS BIGINT) FROM ( \
     SELECT facility_id, series, year, seq FROM billing_invoices WHERE status = 'issued' \
     UNION ALL SELECT facility_id, series, year, seq FROM billing_payments \
     UNION ALL SELECT facility_id, series, year, seq FROM billing_credit_notes) n \
     GROUP BY facility_id, series, year";

pub async fn run(db: &Db) -> Result<Verdict, DbError> {
    let mut v = Verdict::default();
    let count = |sql: &'static str| async move {
        sqlx::query(sql)
            .fetch_one(db.read())
            .await
            .map(|r| r.get::<i64, _>(0))
    };
    v.invoices = count("SELECT COUNT(*) FROM billing_invoices").await?;
    v.payments = count("SELECT COUNT(*) FROM billing_payments").await?;
    v.shifts = count("SELECT COUNT(*) FROM billing_shifts").await?;
    for (what, sql) in RULES {
        for r in sqlx::query(*sql).fetch_all(db.read()).await? {
            let off: i64 = r.get(1);
            if off != 0 {
                v.findings
                    .push(format!("{what}: {} (by {off})", r.get::<String, _>(0)));
            }
        }
    }
    for r in sqlx::query(GAPS).fetch_all(db.read()).await? {
        let (n, max): (i64, i64) = (r.get(3), r.get(4));
        if n != max {
            v.findings.push(format!(
                "numbers of {}-{} at facility {} have gaps: {n} issued, the last is {max}",
                r.get::<String, _>(1),
                r.get::<i32, _>(2),
                r.get::<i64, _>(0),
            ));
        }
    }
    for (what, detail) in crate::etims::verify_chain(db).await? {
        v.findings.push(format!("{what}: {detail}"));
    }
    // Every invoice and credit note is queued for KRA in the transaction that issues it (those
    // issued before the facility's chain began, by a version without eTIMS, are not).
    for r in sqlx::query(UNQUEUED).fetch_all(db.read()).await? {
        v.findings
            .push(format!("not queued for eTIMS: {}", r.get::<String, _>(0)));
    }
    Ok(v)
}

const UNQUEUED: &str = "SELECT i.number FROM billing_invoices i WHERE i.status = 'issued' \
     AND NOT EXISTS (SELECT 1 FROM billing_etims_documents d WHERE d.invoice_id = i.id) \
     AND i.id > (SELECT COALESCE(MIN(d.invoice_id), i.id) FROM billing_etims_documents d \
                 WHERE d.facility_id = i.facility_id) \
     UNION ALL SELECT n.number FROM billing_credit_notes n \
     WHERE NOT EXISTS (SELECT 1 FROM billing_etims_documents d WHERE d.credit_note_id = n.id) \
     AND n.id > (SELECT COALESCE(MIN(d.credit_note_id), n.id) FROM billing_etims_documents d \
                 WHERE d.facility_id = n.facility_id)";
