//! Money documents as PDF: the invoice (A4), the receipt (80 mm roll or A4) and the shift's
//! Z-report. Each carries the facility letterhead, KMHFL code and KRA PIN, the patient's number,
//! the lines with payer and patient shares, and the total in words. A second print of the same
//! document says COPY.

use serde::Serialize;
use sqlx::Row;

use hms_core::db::{Db, DbError, Tx};
use hms_core::i18n::t;
use hms_core::money::Money;
use hms_core::pdf::{Column, Document, Letterhead, PageSize, Style};

use crate::model::in_words;

/// The facility's KRA PIN, printed on invoices and receipts (a billing setting).
pub const KRA_PIN_SETTING: &str = "billing.kra_pin";

#[derive(Debug, Clone, Serialize)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
    pub payer_share: Money,
    pub patient_share: Money,
    pub scheme_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Invoice {
    pub id: i64,
    pub number: String,
    pub visit_id: Option<i64>,
    pub patient_id: i64,
    pub payer: String,
    pub scheme: Option<String>,
    pub total: Money,
    pub paid: Money,
    /// Taken off by credit notes.
    pub credited: Money,
    pub balance: Money,
    pub issued_at: String,
    pub issued_by: Option<String>,
    pub lines: Vec<InvoiceLine>,
}

/// An issued invoice with its lines (the share each line gives this invoice's payer).
pub async fn invoice(db: &Db, id: i64) -> Result<Option<Invoice>, DbError> {
    let Some(r) = sqlx::query(
        "SELECT i.id, i.number, i.visit_id, i.patient_id, i.payer, s.name, i.total_cents, \
         i.paid_cents, i.issued_at, (SELECT u.full_name FROM users u WHERE u.id = i.issued_by), \
         i.credited_cents \
         FROM billing_invoices i LEFT JOIN billing_schemes s ON s.id = i.scheme_id \
         WHERE i.id = $1 AND i.status = 'issued'",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let lines = sqlx::query(
        "SELECT description, quantity, unit_price_cents, amount_cents, payer_share_cents, \
         patient_share_cents, scheme_code FROM billing_lines \
         WHERE patient_invoice_id = $1 OR payer_invoice_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|l| InvoiceLine {
        description: l.get(0),
        quantity: l.get(1),
        unit_price: l.get(2),
        amount: l.get(3),
        payer_share: l.get(4),
        patient_share: l.get(5),
        scheme_code: l.get(6),
    })
    .collect();
    let total: Money = r.get(6);
    let paid: Money = r.get(7);
    let credited: Money = r.get(10);
    Ok(Some(Invoice {
        id: r.get(0),
        number: r.get(1),
        visit_id: r.get(2),
        patient_id: r.get(3),
        payer: r.get(4),
        scheme: r.get(5),
        total,
        paid,
        credited,
        balance: total - paid - credited,
        issued_at: r.get(8),
        issued_by: r.get(9),
        lines,
    }))
}

#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub id: i64,
    pub number: String,
    pub visit_id: Option<i64>,
    pub patient_id: i64,
    pub method: String,
    pub amount: Money,
    pub tendered: Option<Money>,
    pub reference: Option<String>,
    pub received_at: String,
    pub received_by: Option<String>,
    /// Invoice numbers paid and how much of each.
    pub invoices: Vec<(String, Money)>,
    /// The first invoice paid, whose KRA eTIMS stamp the receipt carries.
    pub first_invoice: Option<i64>,
    /// A deposit, held for the visit's bill.
    pub deposit: bool,
}

pub async fn receipt(db: &Db, id: i64) -> Result<Option<Receipt>, DbError> {
    let Some(r) = sqlx::query(
        "SELECT p.id, p.receipt_number, p.visit_id, p.patient_id, p.method, p.amount_cents, \
         p.tendered_cents, COALESCE(p.mpesa_receipt, p.card_reference), p.received_at, \
         (SELECT u.full_name FROM users u WHERE u.id = p.received_by), p.purpose \
         FROM billing_payments p WHERE p.id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let invoices = sqlx::query(
        "SELECT i.number, a.amount_cents, i.id FROM billing_allocations a \
         JOIN billing_invoices i ON i.id = a.invoice_id WHERE a.payment_id = $1 ORDER BY i.id",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?;
    let first_invoice = invoices.first().map(|a| a.get(2));
    let invoices = invoices.iter().map(|a| (a.get(0), a.get(1))).collect();
    Ok(Some(Receipt {
        id: r.get(0),
        number: r.get(1),
        visit_id: r.get(2),
        patient_id: r.get(3),
        method: r.get(4),
        amount: r.get(5),
        tendered: r.get(6),
        reference: r.get(7),
        received_at: r.get(8),
        first_invoice,
        received_by: r.get(9),
        invoices,
        deposit: r.get::<String, _>(10) == "deposit",
    }))
}

/// Records a print; true when an earlier print exists (this one is a COPY).
pub async fn record_print(
    tx: &mut Tx,
    document: &str,
    id: i64,
    by: Option<i64>,
) -> Result<bool, DbError> {
    let earlier: i64 =
        sqlx::query("SELECT COUNT(*) FROM billing_prints WHERE document = $1 AND document_id = $2")
            .bind(document)
            .bind(id)
            .fetch_one(&mut **tx)
            .await?
            .get(0);
    sqlx::query(
        "INSERT INTO billing_prints (document, document_id, printed_by, printed_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(document)
    .bind(id)
    .bind(by)
    .bind(hms_core::clock::now_rfc3339())
    .execute(&mut **tx)
    .await?;
    Ok(earlier > 0)
}

/// The patient as documents name them: number and name.
pub struct Party {
    pub number: String,
    pub name: String,
}

fn head(doc: &mut Document, letterhead: &Letterhead, kra_pin: &str, title: &str, copy: bool) {
    doc.letterhead(letterhead);
    if !kra_pin.is_empty() {
        doc.text(
            Style::Small,
            &format!("{} {kra_pin}", t("billing_docs.kra_pin")),
        );
    }
    doc.heading(title);
    if copy {
        doc.text(Style::Big, &t("billing_docs.copy"));
    }
}

/// KRA's stamp at the foot of an invoice or credit note: its eTIMS number, receipt number,
/// SCU, internal data and signature with the QR code, or that it waits to be sent.
fn etims_block(doc: &mut Document, print: Option<&crate::etims::Print>) {
    let Some(p) = print else { return };
    doc.space(3.0);
    let s = &p.stamp;
    let Some(signature) = &s.signature else {
        doc.text(Style::Small, &t("billing_etims.waiting_pdf"));
        return;
    };
    let qr_size = 28.0;
    doc.keep_together(qr_size + 2.0);
    let (left, top, width) = (doc.left(), doc.cursor(), doc.content_width());
    if let Some(qr) = &p.qr {
        doc.qr_at(left + width - qr_size, top, qr_size, qr);
    }
    let lines = [
        (Style::Bold, t("billing_etims.signed")),
        (
            Style::Small,
            format!(
                "{} {} / {}",
                t("billing_etims.receipt_no"),
                s.receipt_no.as_deref().unwrap_or(""),
                s.seq
            ),
        ),
        (
            Style::Small,
            format!(
                "{} {}  {}",
                t("billing_etims.scu"),
                s.sdc_id.as_deref().unwrap_or(""),
                kra_time(s.signed_at.as_deref().unwrap_or(""))
            ),
        ),
        (
            Style::Small,
            format!(
                "{} {}",
                t("billing_etims.internal_data"),
                s.internal_data.as_deref().unwrap_or("")
            ),
        ),
        (
            Style::Small,
            format!("{} {signature}", t("billing_etims.signature")),
        ),
    ];
    let mut y = top;
    for (style, text) in &lines {
        doc.text_at(left, y, width - qr_size - 3.0, *style, text);
        y += doc.line_mm(*style);
    }
    doc.space(qr_size + 2.0);
}

/// KRA's `YYYYMMDDhhmmss` as `DD/MM/YYYY hh:mm:ss`; anything else as it came.
fn kra_time(stamp: &str) -> String {
    match chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S") {
        Ok(t) => t.format("%d/%m/%Y %H:%M:%S").to_string(),
        Err(_) => stamp.to_string(),
    }
}

pub fn invoice_pdf(
    letterhead: &Letterhead,
    kra_pin: &str,
    inv: &Invoice,
    patient: &Party,
    etims: Option<&crate::etims::Print>,
    copy: bool,
) -> Vec<u8> {
    let title = format!("{} {}", t("billing_docs.invoice"), inv.number);
    let mut doc = Document::new(PageSize::A4, &title).page_numbers(&t("pdf.page_of"));
    head(&mut doc, letterhead, kra_pin, &title, copy);
    let bill_to = match &inv.scheme {
        Some(s) if inv.payer == "scheme" => s.clone(),
        _ => patient.name.clone(),
    };
    doc.fields(&[
        (&t("billing_docs.bill_to"), &bill_to),
        (
            &t("billing_docs.patient"),
            &format!("{} · {}", patient.number, patient.name),
        ),
        (
            &t("billing_docs.issued"),
            &hms_core::clock::display_rfc3339(&inv.issued_at),
        ),
        (
            &t("billing_docs.issued_by"),
            inv.issued_by.as_deref().unwrap_or(""),
        ),
    ]);
    let scheme = inv.payer == "scheme";
    let rows: Vec<Vec<String>> = inv
        .lines
        .iter()
        .map(|l| {
            let share = if scheme {
                l.payer_share
            } else {
                l.patient_share
            };
            vec![
                l.description.clone(),
                l.scheme_code.clone().unwrap_or_default(),
                l.quantity.to_string(),
                l.unit_price.to_string(),
                l.amount.to_string(),
                share.to_string(),
            ]
        })
        .collect();
    doc.table(
        &[
            Column::new(&t("billing_docs.item"), 3.0),
            Column::new(&t("billing_docs.code"), 1.2),
            Column::new(&t("billing_docs.qty"), 0.6),
            Column::new(&t("billing_docs.unit_price"), 1.2),
            Column::new(&t("billing_docs.amount"), 1.2),
            Column::new(&t("billing_docs.share"), 1.2),
        ],
        &rows,
    );
    doc.space(3.0);
    doc.text(
        Style::Bold,
        &format!("{} {}", t("billing_docs.total"), inv.total),
    );
    doc.text(Style::Body, &in_words(inv.total));
    doc.text(
        Style::Body,
        &format!("{} {}", t("billing_docs.paid"), inv.paid),
    );
    if inv.credited > Money::ZERO {
        doc.text(
            Style::Body,
            &format!("{} {}", t("billing_docs.credited"), inv.credited),
        );
    }
    doc.text(
        Style::Bold,
        &format!("{} {}", t("billing_docs.balance"), inv.balance),
    );
    etims_block(&mut doc, etims);
    doc.finish()
}

pub fn receipt_pdf(
    letterhead: &Letterhead,
    kra_pin: &str,
    r: &Receipt,
    patient: &Party,
    size: PageSize,
    etims: Option<&crate::etims::Print>,
    copy: bool,
) -> Vec<u8> {
    let title = format!("{} {}", t("billing_docs.receipt"), r.number);
    let mut doc = Document::new(size, &title);
    head(&mut doc, letterhead, kra_pin, &title, copy);
    let method = match r.method.as_str() {
        "mpesa" => t("billing.method_mpesa"),
        "card" => t("billing.method_card"),
        _ => t("billing.method_cash"),
    };
    let mut fields: Vec<(String, String)> = vec![
        (
            t("billing_docs.patient"),
            format!("{} · {}", patient.number, patient.name),
        ),
        (
            t("billing_docs.received"),
            hms_core::clock::display_rfc3339(&r.received_at),
        ),
        (t("billing_docs.method"), method),
    ];
    if r.deposit {
        fields.push((t("billing_docs.purpose"), t("billing_docs.deposit")));
    }
    if let Some(reference) = &r.reference {
        fields.push((t("billing_docs.reference"), reference.clone()));
    }
    for (number, amount) in &r.invoices {
        fields.push((t("billing_docs.invoice"), format!("{number} · {amount}")));
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    doc.fields(&pairs);
    doc.space(2.0);
    doc.text(
        Style::Title,
        &format!("{} {}", t("billing_docs.amount_paid"), r.amount),
    );
    doc.text(Style::Body, &in_words(r.amount));
    if let Some(tendered) = r.tendered {
        doc.text(
            Style::Body,
            &format!("{} {}", t("billing_docs.tendered"), tendered),
        );
        doc.text(
            Style::Body,
            &format!("{} {}", t("billing_docs.change"), tendered - r.amount),
        );
    }
    doc.text(
        Style::Small,
        &format!(
            "{} {}",
            t("billing_docs.served_by"),
            r.received_by.as_deref().unwrap_or("")
        ),
    );
    etims_block(&mut doc, etims);
    doc.finish()
}

/// The shift's Z-report: float, takings by method, expected, counted and the variance.
pub fn z_report_pdf(
    letterhead: &Letterhead,
    shift: &crate::shifts::Shift,
    by_method: &[(String, i64, Money)],
) -> Vec<u8> {
    let title = format!("{} #{}", t("billing_docs.z_report"), shift.id);
    let mut doc = Document::new(PageSize::A4, &title);
    head(&mut doc, letterhead, "", &title, false);
    let dash = || "—".to_string();
    doc.fields(&[
        (&t("billing_shifts.cashier"), &shift.cashier),
        (
            &t("billing_shifts.opened"),
            &hms_core::clock::display_rfc3339(&shift.opened_at),
        ),
        (
            &t("billing_shifts.closed"),
            &shift
                .closed_at
                .as_deref()
                .map(hms_core::clock::display_rfc3339)
                .unwrap_or_else(dash),
        ),
        (&t("billing_shifts.float"), &shift.float.to_string()),
    ]);
    let rows: Vec<Vec<String>> = by_method
        .iter()
        .map(|(m, n, total)| vec![m.clone(), n.to_string(), total.to_string()])
        .collect();
    doc.table(
        &[
            Column::new(&t("billing_docs.method"), 2.0),
            Column::new(&t("billing_shifts.payments"), 1.0),
            Column::new(&t("billing_docs.amount"), 1.5),
        ],
        &rows,
    );
    let money = |m: Option<Money>| m.map(|m| m.to_string()).unwrap_or_else(dash);
    doc.fields(&[
        (
            &t("billing_shifts.cash_refunded"),
            &shift.cash_refunded.to_string(),
        ),
        (&t("billing_shifts.expected"), &money(shift.expected)),
        (&t("billing_shifts.counted"), &money(shift.counted)),
        (&t("billing_shifts.variance"), &money(shift.variance)),
        (
            &t("billing_shifts.reason"),
            shift.variance_reason.as_deref().unwrap_or(""),
        ),
        (
            &t("billing_shifts.approved_by"),
            shift.approved_by.as_deref().unwrap_or(""),
        ),
    ]);
    doc.finish()
}

/// A credit note: what it takes off which invoice, why, who approved it, and for a refund how
/// the money went back.
#[derive(Debug, Clone, Serialize)]
pub struct CreditNote {
    pub id: i64,
    pub number: String,
    pub kind: String,
    /// The kind in the reader's words.
    pub kind_label: String,
    pub invoice_id: i64,
    pub invoice_number: String,
    pub invoice_issued_at: String,
    pub patient_id: i64,
    pub amount: Money,
    pub reason: String,
    pub category: Option<String>,
    pub refund_method: Option<String>,
    pub issued_at: String,
    pub issued_by: Option<String>,
    pub requested_by: Option<String>,
    pub approved_by: Option<String>,
}

macro_rules! select_credit_notes {
    ($tail:literal) => {
        concat!(
            "SELECT n.id, n.number, n.kind, n.invoice_id, i.number, i.issued_at, n.patient_id, ",
            "n.amount_cents, n.reason, r.category, n.refund_method, n.issued_at, ",
            "(SELECT u.full_name FROM users u WHERE u.id = n.issued_by), ",
            "(SELECT u.full_name FROM users u WHERE u.id = r.requested_by), ",
            "(SELECT u.full_name FROM users u WHERE u.id = r.decided_by) ",
            "FROM billing_credit_notes n JOIN billing_invoices i ON i.id = n.invoice_id ",
            "JOIN billing_requests r ON r.id = n.request_id ",
            $tail
        )
    };
}

fn credit_note_at(r: &sqlx::any::AnyRow) -> CreditNote {
    CreditNote {
        id: r.get(0),
        number: r.get(1),
        kind: r.get(2),
        kind_label: crate::adjust::label("kind", Some(r.get(2))),
        invoice_id: r.get(3),
        invoice_number: r.get(4),
        invoice_issued_at: r.get(5),
        patient_id: r.get(6),
        amount: r.get(7),
        reason: r.get(8),
        category: r.get(9),
        refund_method: r.get(10),
        issued_at: r.get(11),
        issued_by: r.get(12),
        requested_by: r.get(13),
        approved_by: r.get(14),
    }
}

pub async fn credit_note(db: &Db, id: i64) -> Result<Option<CreditNote>, DbError> {
    Ok(sqlx::query(select_credit_notes!("WHERE n.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .as_ref()
        .map(credit_note_at))
}

/// The credit notes of an invoice, oldest first.
pub async fn credit_notes_of(db: &Db, invoice: i64) -> Result<Vec<CreditNote>, DbError> {
    Ok(sqlx::query(select_credit_notes!(
        "WHERE n.invoice_id = $1 ORDER BY n.id"
    ))
    .bind(invoice)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(credit_note_at)
    .collect())
}

/// One invoice on a company's statement.
pub struct StatementRow {
    pub number: String,
    pub issued_at: String,
    pub patient: String,
    pub total: Money,
    pub paid: Money,
    pub credited: Money,
}

/// A company's monthly statement: the invoices issued to it in the month with what was paid
/// and credited of each, the month's balance, and what it owes in all now.
pub fn statement_pdf(
    letterhead: &Letterhead,
    kra_pin: &str,
    (scheme, month): (&str, &str),
    rows: &[StatementRow],
    owed_now: Money,
) -> Vec<u8> {
    let title = format!("{} · {scheme} · {month}", t("billing_statement_pdf.title"));
    let mut doc = Document::new(PageSize::A4, &title).page_numbers(&t("pdf.page_of"));
    head(&mut doc, letterhead, kra_pin, &title, false);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.number.clone(),
                hms_core::clock::display_rfc3339(&r.issued_at),
                r.patient.clone(),
                r.total.to_string(),
                r.paid.to_string(),
                r.credited.to_string(),
                (r.total - r.paid - r.credited).to_string(),
            ]
        })
        .collect();
    if table.is_empty() {
        doc.paragraph(&t("billing_statement_pdf.none"));
    } else {
        doc.table(
            &[
                Column::new(&t("billing_docs.invoice"), 2.2),
                Column::new(&t("billing_docs.issued"), 1.7),
                Column::new(&t("billing_docs.patient"), 2.3),
                Column::new(&t("billing_docs.total"), 1.2),
                Column::new(&t("billing_docs.paid"), 1.2),
                Column::new(&t("billing_docs.credited"), 1.2),
                Column::new(&t("billing_docs.balance"), 1.2),
            ],
            &table,
        );
    }
    doc.space(3.0);
    let month_balance: Money = rows.iter().map(|r| r.total - r.paid - r.credited).sum();
    doc.text(
        Style::Body,
        &format!(
            "{} {month_balance}",
            t("billing_statement_pdf.month_balance")
        ),
    );
    doc.text(
        Style::Bold,
        &format!("{} {owed_now}", t("billing_statement_pdf.owed_now")),
    );
    doc.text(Style::Body, &in_words(owed_now));
    doc.finish()
}

pub fn credit_note_pdf(
    letterhead: &Letterhead,
    kra_pin: &str,
    n: &CreditNote,
    patient: &Party,
    etims: Option<&crate::etims::Print>,
    copy: bool,
) -> Vec<u8> {
    let title = format!("{} {}", t("billing_docs.credit_note"), n.number);
    let mut doc = Document::new(PageSize::A4, &title);
    head(&mut doc, letterhead, kra_pin, &title, copy);
    let kind = n.kind_label.clone();
    let mut fields: Vec<(String, String)> = vec![
        (
            t("billing_docs.patient"),
            format!("{} · {}", patient.number, patient.name),
        ),
        (
            t("billing_docs.against_invoice"),
            format!(
                "{} · {}",
                n.invoice_number,
                hms_core::clock::display_rfc3339(&n.invoice_issued_at)
            ),
        ),
        (t("billing_adjust.kind"), kind),
        (t("billing_adjust.reason"), n.reason.clone()),
        (
            t("billing_docs.issued"),
            hms_core::clock::display_rfc3339(&n.issued_at),
        ),
        (
            t("billing_adjust.requested_by"),
            n.requested_by.clone().unwrap_or_default(),
        ),
        (
            t("billing_adjust.approved_by"),
            n.approved_by.clone().unwrap_or_default(),
        ),
    ];
    if let Some(c) = &n.category {
        fields.push((
            t("billing_adjust.category"),
            crate::adjust::label("category", Some(c.clone())),
        ));
    }
    if let Some(m) = &n.refund_method {
        fields.push((
            t("billing_adjust.refunded_by"),
            t(&format!("billing.method_{m}")),
        ));
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    doc.fields(&pairs);
    doc.space(3.0);
    doc.text(
        Style::Title,
        &format!("{} {}", t("billing_docs.credited"), n.amount),
    );
    doc.text(Style::Body, &in_words(n.amount));
    etims_block(&mut doc, etims);
    doc.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn kra_times_read_as_people_write_them() {
        assert_eq!(super::kra_time("20261207101500"), "07/12/2026 10:15:00");
        assert_eq!(super::kra_time("soon"), "soon");
    }
}
