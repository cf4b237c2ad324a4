//! The M-Pesa statement a facility downloads from the M-Pesa org portal (CSV), read so that
//! what the callbacks missed (the link was down, the server was off) is booked all the same.
//! Columns are found by their headers, in any order: `Receipt No.`, `Completion Time`,
//! `Transaction Status`, `Paid In`, and for the bill `A/C No.` (the paybill account typed by
//! the payer) and `Other Party Info`. Only completed money paid in is read; each row then goes
//! through [`crate::mpesa::receive`] like a callback, so a receipt seen before is a duplicate
//! and one naming no bill waits as unmatched for a cashier.

use hms_core::money::Money;

use crate::mpesa::{receipt_ok, Incoming, Source};

/// The largest statement read (a month of a busy paybill is well under this).
pub const MAX_BYTES: usize = 5 * 1024 * 1024;

/// Why a statement could not be read: a translation key and, for a row, its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementError {
    pub key: &'static str,
    pub line: Option<u64>,
}

fn error(key: &'static str, line: Option<u64>) -> StatementError {
    StatementError { key, line }
}

/// One receipt of the statement with the row as it was (kept with the message).
#[derive(Debug, Clone)]
pub struct Row {
    pub incoming: Incoming,
    pub raw: String,
}

/// What a statement holds: receipts paid in, and how many other rows were passed over
/// (withdrawals, charges, failed transactions).
#[derive(Debug, Default)]
pub struct Statement {
    pub rows: Vec<Row>,
    pub skipped: usize,
}

fn key_of(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Reads a statement file.
pub fn read(bytes: &[u8]) -> Result<Statement, StatementError> {
    if bytes.len() > MAX_BYTES {
        return Err(error("billing_statement.error_large", None));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| error("billing_statement.error_encoding", None))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    // The portal puts a few lines about the account above the table: the header is the first
    // line naming a receipt column.
    let mut header = None;
    for record in records.by_ref() {
        let record = record.map_err(|e| error("billing_statement.error_malformed", line(&e)))?;
        if record.iter().any(|h| key_of(h) == "receiptno") {
            header = Some(record);
            break;
        }
    }
    let header = header.ok_or_else(|| error("billing_statement.error_columns", None))?;
    let column = |name: &str| header.iter().position(|h| key_of(h) == name);
    let (Some(receipt), Some(paid_in)) = (column("receiptno"), column("paidin")) else {
        return Err(error("billing_statement.error_columns", None));
    };
    let (time, status) = (column("completiontime"), column("transactionstatus"));
    let (account, party) = (column("acno"), column("otherpartyinfo"));
    let mut out = Statement::default();
    for record in records {
        let record = record.map_err(|e| error("billing_statement.error_malformed", line(&e)))?;
        let at = record.position().map(|p| p.line());
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let code = cell(Some(receipt)).to_ascii_uppercase();
        if code.is_empty() {
            continue;
        }
        let paid = cell(Some(paid_in)).replace(',', "");
        let completed = status.is_none_or(|_| cell(status).eq_ignore_ascii_case("completed"));
        if paid.is_empty() || !completed {
            out.skipped += 1;
            continue;
        }
        if !receipt_ok(&code) {
            return Err(error("billing_statement.error_receipt", at));
        }
        let amount = match Money::parse(&paid) {
            Ok(m) if m > Money::ZERO && m <= crate::model::MAX_AMOUNT => m,
            Ok(_) => {
                out.skipped += 1;
                continue;
            }
            Err(_) => return Err(error("billing_statement.error_amount", at)),
        };
        let clean = |s: &str| Some(crate::mpesa::clean(s)).filter(|s| !s.is_empty());
        out.rows.push(Row {
            incoming: Incoming {
                receipt: code,
                amount,
                phone: clean(cell(party)),
                bill_ref: clean(cell(account)),
                paid_at: clean(cell(time)),
                source: Source::Statement,
                push: None,
            },
            raw: record.iter().collect::<Vec<_>>().join(","),
        });
    }
    if out.rows.is_empty() && out.skipped == 0 {
        return Err(error("billing_statement.error_empty", None));
    }
    Ok(out)
}

fn line(e: &csv::Error) -> Option<u64> {
    e.position().map(|p| p.line())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTAL: &str = "Account Name:,Demo Health Centre\n\
        Time Period:,01-12-2026 - 07-12-2026\n\
        Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.\n\
        SLA1B2C3D4,2026-12-07 10:15:00,2026-12-07 10:14:58,\"Pay Bill from 2547******12 - AMINA K Acc. B42\",Completed,\"1,250.00\",,\"90,000.00\",true,Pay Bill,2547******12 - AMINA K,,B42\n\
        SLA1B2C3D5,2026-12-07 10:20:00,2026-12-07 10:19:58,Business Charge,Completed,,-25.00,\"89,975.00\",true,Charge,,,\n\
        SLA1B2C3D6,2026-12-07 11:00:00,2026-12-07 10:59:58,Pay Bill,Failed,300.00,,,,Pay Bill,,,B43\n";

    #[test]
    fn portal_statements_give_completed_money_paid_in() {
        let s = read(PORTAL.as_bytes()).unwrap();
        assert_eq!((s.rows.len(), s.skipped), (1, 2));
        let r = &s.rows[0].incoming;
        assert_eq!(r.receipt, "SLA1B2C3D4");
        assert_eq!(r.amount, Money::from_shillings(1250));
        assert_eq!(r.bill_ref.as_deref(), Some("B42"));
        assert_eq!(r.source, Source::Statement);
    }

    #[test]
    fn files_that_are_not_statements_are_explained() {
        let key = |b: &[u8]| read(b).unwrap_err().key;
        assert_eq!(
            key(b"name,amount\nx,1\n"),
            "billing_statement.error_columns"
        );
        assert_eq!(key(&[0xff, 0xfe, 0x00]), "billing_statement.error_encoding");
        assert_eq!(
            key(b"Receipt No.,Paid In\n"),
            "billing_statement.error_empty"
        );
        let bad = read(b"Receipt No.,Paid In\nSLA1B2C3D4,12x\n").unwrap_err();
        assert_eq!(
            (bad.key, bad.line),
            ("billing_statement.error_amount", Some(2))
        );
        assert_eq!(
            key(b"Receipt No.,Paid In\nNOT-A-CODE,12\n"),
            "billing_statement.error_receipt"
        );
    }
}
