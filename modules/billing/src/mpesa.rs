//! M-Pesa receipts, whichever way they come: an STK push's callback, a paybill (C2B)
//! confirmation, or a code typed at the desk. Each message is kept as it came first (its own
//! transaction, before the answer goes back); then the receipt is recorded once (`UNIQUE
//! (receipt)`: a repeat, in any order, is acknowledged and books nothing); then it is booked as
//! the bill's payment in the shift of the cashier who asked for it. A receipt that names no bill,
//! whose amount is not what the bill owes, or whose cashier has no open shift waits as unmatched
//! for a cashier to book; nothing is guessed.

use serde_json::{json, Value};
use sqlx::Row;

use hms_appointments::api as appts;
use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::VisitId;
use hms_core::money::Money;

use crate::bill::{self, BillError};
use crate::model::Method;
use crate::pay::{self, Payment};

/// The account reference of a visit's bill (AccountReference of a push, BillRefNumber of a
/// paybill payment): `B` and the visit's number, 12 characters at most.
pub fn bill_ref(visit: VisitId) -> String {
    format!("B{}", visit.get())
}

/// The visit a typed or sent reference names: `B1234`, `b 1234`, `B-1234` or `1234`.
pub fn visit_of_ref(text: &str) -> Option<VisitId> {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '#' | '.'))
        .collect::<String>()
        .to_ascii_uppercase();
    let digits = compact.strip_prefix('B').unwrap_or(&compact);
    if digits.is_empty() || digits.len() > 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok().filter(|n| *n > 0).map(VisitId)
}

/// Where a receipt came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Stk,
    C2b,
    Statement,
}

impl Source {
    fn code(self) -> &'static str {
        match self {
            Source::Stk => "stk",
            Source::C2b => "c2b",
            Source::Statement => "statement",
        }
    }
}

/// A receipt as M-Pesa reported it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub receipt: String,
    pub amount: Money,
    pub phone: Option<String>,
    pub bill_ref: Option<String>,
    pub paid_at: Option<String>,
    pub source: Source,
    /// The push it answers (an STK callback).
    pub push: Option<i64>,
}

/// What became of a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Booked as this payment now.
    Booked(i64),
    /// The desk had booked it already by its code: confirmed.
    Confirmed(i64),
    /// Kept, waiting for a cashier.
    Unmatched,
    /// Seen before: acknowledged, nothing booked.
    Duplicate,
}

/// Keeps a message from M-Pesa as it came, in its own transaction.
pub async fn keep_message(db: &Db, kind: &str, body: &str) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO billing_mpesa_messages (kind, body, received_at) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(body)
        .bind(hms_core::clock::now_rfc3339())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// An M-Pesa receipt code: 10 letters and digits (`SGR7XK2M4P`).
pub fn receipt_ok(code: &str) -> bool {
    code.len() == 10
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The push a callback answers: (id, visit, cashier).
async fn push_by_checkout(tx: &mut Tx, checkout: &str) -> Result<Option<(i64, i64, i64)>, DbError> {
    Ok(sqlx::query(
        "SELECT id, visit_id, requested_by FROM billing_mpesa_pushes WHERE checkout_request_id = $1",
    )
    .bind(checkout)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Records a push's failure (cancelled, wrong PIN, timed out), unless it is settled already.
pub async fn push_failed(db: &Db, checkout: &str, code: &str, words: &str) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE billing_mpesa_pushes SET status = 'failed', result_code = $1, result_desc = $2, resolved_at = $3 \
         WHERE checkout_request_id = $4 AND status IN ('sending', 'waiting', 'confirmed')",
    )
    .bind(code)
    .bind(words)
    .bind(hms_core::clock::now_rfc3339())
    .bind(checkout)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Receives a receipt, with the message it came in (`kind`, `raw`): keeps the message and
/// records the receipt once, and books it when it names a bill that owes exactly its amount and
/// a cashier with an open shift asked for it: one transaction. When booking is refused, the
/// message and the receipt are kept as unmatched in a second one. Both go through the group
/// writer, so callbacks arriving together share a commit.
pub async fn receive(
    db: &Db,
    (kind, raw): (&str, &str),
    checkout: Option<&str>,
    r: Incoming,
) -> Result<Outcome, DbError> {
    let mut received = Received {
        kind: kind.to_string(),
        raw: raw.to_string(),
        checkout: checkout.map(str::to_string),
        receipt: r,
        try_booking: true,
    };
    match db.write_or_refuse(received.clone(), receive_job).await {
        Ok(outcome) => Ok(outcome),
        Err(Attempt::Db(e)) => Err(e),
        Err(Attempt::Refused) => {
            received.try_booking = false;
            match db.write_or_refuse(received, receive_job).await {
                Ok(outcome) => Ok(outcome),
                Err(Attempt::Db(e)) => Err(e),
                Err(Attempt::Refused) => Ok(Outcome::Unmatched),
            }
        }
    }
}

/// What [`receive`] writes: the message, its receipt, and whether to try booking it.
#[derive(Debug, Clone)]
struct Received {
    kind: String,
    raw: String,
    checkout: Option<String>,
    receipt: Incoming,
    try_booking: bool,
}

/// Why an attempt of [`receive`] gave up: booking was refused (its writes roll back), or the
/// database failed.
enum Attempt {
    Refused,
    Db(DbError),
}

impl From<DbError> for Attempt {
    fn from(e: DbError) -> Self {
        Attempt::Db(e)
    }
}

impl From<sqlx::Error> for Attempt {
    fn from(e: sqlx::Error) -> Self {
        Attempt::Db(e.into())
    }
}

fn receive_job<'c>(
    tx: &'c mut Tx,
    r: &'c Received,
) -> hms_core::group_commit::RefusableFuture<'c, Outcome, Attempt> {
    Box::pin(receive_in(tx, r))
}

/// One attempt of [`receive`] in `tx`.
async fn receive_in(tx: &mut Tx, received: &Received) -> Result<Outcome, Attempt> {
    let Received {
        kind,
        raw,
        checkout,
        receipt: r,
        try_booking,
    } = received;
    let now = hms_core::clock::now_rfc3339();
    sqlx::query("INSERT INTO billing_mpesa_messages (kind, body, received_at) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(raw)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
    let push = match checkout {
        Some(c) => push_by_checkout(tx, c).await?,
        None => None,
    };
    let visit = push
        .map(|p| VisitId(p.1))
        .or_else(|| r.bill_ref.as_deref().and_then(visit_of_ref));
    // A reference naming no visit is kept as typed, with no visit.
    let visit = match visit {
        Some(v) => appts::visit_in(tx, v).await?.map(|_| v),
        None => None,
    };
    let inserted = sqlx::query(
        "INSERT INTO billing_mpesa_receipts (receipt, amount_cents, phone, bill_ref, paid_at, source, \
         status, visit_id, push_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, 'unmatched', $7, $8, $9) \
         ON CONFLICT (receipt) DO NOTHING RETURNING id",
    )
    .bind(&r.receipt)
    .bind(r.amount)
    .bind(r.phone.as_deref())
    .bind(r.bill_ref.as_deref())
    .bind(r.paid_at.as_deref())
    .bind(r.source.code())
    .bind(visit)
    .bind(push.map(|p| p.0))
    .bind(&now)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = inserted else {
        // Seen before: the message is kept, nothing else changes.
        return Ok(Outcome::Duplicate);
    };
    let id: i64 = row.get(0);
    if let Some(p) = push {
        sqlx::query(
            "UPDATE billing_mpesa_pushes SET status = 'paid', mpesa_receipt = $1, resolved_at = $2 \
             WHERE id = $3 AND status IN ('sending', 'waiting', 'confirmed', 'failed')",
        )
        .bind(&r.receipt)
        .bind(&now)
        .bind(p.0)
        .execute(&mut **tx)
        .await?;
    }
    // Typed at the desk already: the confirmation confirms it.
    let desk: Option<i64> = sqlx::query("SELECT id FROM billing_payments WHERE mpesa_receipt = $1")
        .bind(&r.receipt)
        .fetch_optional(&mut **tx)
        .await?
        .map(|p| p.get(0));
    let mut outcome = Outcome::Unmatched;
    if let Some(payment) = desk {
        mark_booked(tx, id, payment, None).await?;
        outcome = Outcome::Confirmed(payment);
    } else if *try_booking {
        // The cashier who asked: the push's, or the one whose push for this visit still waits.
        let cashier = match (push, visit) {
            (Some(p), _) => Some(p.2),
            (None, Some(v)) => sqlx::query(
                "SELECT requested_by FROM billing_mpesa_pushes WHERE visit_id = $1 \
                 AND status IN ('sending', 'waiting', 'confirmed') ORDER BY id DESC LIMIT 1",
            )
            .bind(v)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.get(0)),
            (None, None) => None,
        };
        if let (Some(cashier), Some(visit)) = (cashier, visit) {
            let actor = Actor {
                user_id: Some(cashier),
                client_addr: Some("mpesa".into()),
                request_id: None,
            };
            let (booked, rows) =
                audit::deferring(book_in(tx, &actor, id, visit, (&r.receipt, r.amount))).await;
            match booked? {
                Ok(payment) => {
                    rows.append(tx).await?;
                    outcome = Outcome::Booked(payment);
                }
                Err(_) => return Err(Attempt::Refused),
            }
        }
    }
    // The audit row last: the chain's head is the last lock a money write takes.
    audit::record(
        tx,
        &Actor::cli(None),
        Event::new("billing.mpesa.receipt", "billing_mpesa_receipt", Some(id)).detail(json!({
            "receipt": r.receipt, "amount": r.amount.cents(), "source": r.source.code(),
            "visit": visit, "push": push.map(|p| p.0),
            "payment": match outcome { Outcome::Booked(p) | Outcome::Confirmed(p) => Some(p), _ => None },
        })),
    )
    .await?;
    Ok(outcome)
}

async fn mark_booked(
    tx: &mut Tx,
    receipt: i64,
    payment: i64,
    by: Option<i64>,
) -> Result<(), DbError> {
    hms_core::db::one_row(
        sqlx::query(
            "UPDATE billing_mpesa_receipts SET status = 'booked', payment_id = $1, booked_by = $2 \
             WHERE id = $3 AND status = 'unmatched'",
        )
        .bind(payment)
        .bind(by)
        .bind(receipt)
        .execute(&mut **tx)
        .await?,
    )
}

/// Books an unmatched receipt as the payment of `visit`'s bill, in the actor's open shift: the
/// bill must owe exactly the receipt's amount. On a refusal nothing changes.
pub async fn book(
    db: &Db,
    actor: &Actor,
    receipt: i64,
    visit: VisitId,
) -> Result<Result<i64, BillError>, DbError> {
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "SELECT receipt, amount_cents FROM billing_mpesa_receipts WHERE id = $1 AND status = 'unmatched'",
    )
    .bind(receipt)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(Err(BillError::Stale));
    };
    let code: String = row.get(0);
    let (out, rows) =
        audit::deferring(book_in(&mut tx, actor, receipt, visit, (&code, row.get(1)))).await;
    match out? {
        Ok(payment) => {
            rows.append(&mut tx).await?;
            tx.commit().await?;
            Ok(Ok(payment))
        }
        Err(e) => {
            tx.rollback().await?;
            Ok(Err(e))
        }
    }
}

/// Books the receipt (`code`, `amount`) as the payment of `visit`'s bill in `tx`; on a refusal
/// the caller rolls back.
async fn book_in(
    tx: &mut Tx,
    actor: &Actor,
    receipt: i64,
    visit: VisitId,
    (code, amount): (&str, Money),
) -> Result<Result<i64, BillError>, DbError> {
    let due = match bill::load(tx, visit).await {
        Ok(b) => b.due,
        Err(BillError::Db(e)) => return Err(e),
        Err(e) => return Ok(Err(e)),
    };
    let payment = Payment {
        visit,
        token: format!("mpesa-{code}"),
        expected: due,
        method: Method::Mpesa,
        amount,
        mpesa_receipt: Some(code.to_string()),
        card_reference: None,
        at: hms_core::clock::now_rfc3339(),
    };
    let booked = match pay::pay(tx, actor, &payment).await {
        Ok(b) => b,
        Err(BillError::Db(e)) if !e.is_unique() => return Err(e),
        Err(e) => return Ok(Err(e)),
    };
    mark_booked(tx, receipt, booked.payment, actor.user_id).await?;
    Ok(Ok(booked.payment))
}

/// Reads an STK callback: the push it answers, and either its receipt or its failure.
pub enum StkResult {
    Paid(String, Incoming),
    Failed {
        checkout: String,
        code: String,
        words: String,
    },
}

/// `Body.stkCallback` as Daraja sends it; `None` when malformed.
pub fn read_stk_callback(v: &Value) -> Option<StkResult> {
    let cb = &v["Body"]["stkCallback"];
    let checkout = cb["CheckoutRequestID"].as_str()?.to_string();
    let code = match &cb["ResultCode"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let words = cb["ResultDesc"].as_str().unwrap_or("").to_string();
    if code != "0" {
        return Some(StkResult::Failed {
            checkout,
            code,
            words,
        });
    }
    let items = cb["CallbackMetadata"]["Item"].as_array()?;
    let item = |name: &str| {
        items
            .iter()
            .find(|i| i["Name"] == name)
            .map(|i| &i["Value"])
    };
    let receipt = item("MpesaReceiptNumber")?.as_str()?.to_string();
    let amount = money_of(item("Amount")?)?;
    if !receipt_ok(&receipt) {
        return None;
    }
    let plain = |v: Option<&Value>| {
        v.map(|v| match v {
            Value::String(s) => clean(s),
            other => other.to_string(),
        })
    };
    Some(StkResult::Paid(
        checkout,
        Incoming {
            receipt,
            amount,
            phone: plain(item("PhoneNumber")),
            bill_ref: None,
            paid_at: plain(item("TransactionDate")),
            source: Source::Stk,
            push: None,
        },
    ))
}

/// A paybill confirmation; `None` when malformed.
pub fn read_c2b(v: &Value) -> Option<Incoming> {
    let receipt = v["TransID"].as_str()?.to_string();
    if !receipt_ok(&receipt) {
        return None;
    }
    let amount = money_of(&v["TransAmount"])?;
    let text = |k: &str| v[k].as_str().map(clean).filter(|s| !s.is_empty());
    Some(Incoming {
        receipt,
        amount,
        phone: text("MSISDN"),
        bill_ref: text("BillRefNumber"),
        paid_at: text("TransTime"),
        source: Source::C2b,
        push: None,
    })
}

/// Text from M-Pesa as kept: no control characters (PostgreSQL refuses NUL), 40 at most.
pub(crate) fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// An amount as Daraja writes it (a number, or text like "500.00"), positive and within bounds.
fn money_of(v: &Value) -> Option<Money> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    crate::model::amount(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_visit_however_typed() {
        assert_eq!(bill_ref(VisitId(1234)), "B1234");
        for typed in ["B1234", "b 1234", "B-1234", "1234", " #b1234 "] {
            assert_eq!(visit_of_ref(typed), Some(VisitId(1234)), "{typed}");
        }
        for bad in ["", "B", "X1234", "B12a4", "B0", "B123456789012"] {
            assert_eq!(visit_of_ref(bad), None, "{bad}");
        }
    }

    #[test]
    fn callbacks_are_read_and_malformed_ones_refused() {
        let paid = json!({"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_1",
            "ResultCode": 0, "ResultDesc": "ok", "CallbackMetadata": {"Item": [
                {"Name": "Amount", "Value": 850.0}, {"Name": "MpesaReceiptNumber", "Value": "SGR7XK2M4P"},
                {"Name": "TransactionDate", "Value": 20261207101500u64}, {"Name": "PhoneNumber", "Value": 254712345678u64}]}}}});
        match read_stk_callback(&paid) {
            Some(StkResult::Paid(c, i)) => {
                assert_eq!(c, "ws_CO_1");
                assert_eq!(i.amount, Money::from_shillings(850));
                assert_eq!(i.phone.as_deref(), Some("254712345678"));
            }
            _ => panic!("a paid callback"),
        }
        let cancelled = json!({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_2", "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}});
        assert!(
            matches!(read_stk_callback(&cancelled), Some(StkResult::Failed { code, .. }) if code == "1032")
        );
        for bad in [
            json!({}),
            json!({"Body": {"stkCallback": {"CheckoutRequestID": "x", "ResultCode": 0}}}),
            json!({"Body": {"stkCallback": {"CheckoutRequestID": "x", "ResultCode": 0, "CallbackMetadata": {"Item": [
                        {"Name": "Amount", "Value": -5}, {"Name": "MpesaReceiptNumber", "Value": "SGR7XK2M4P"}]}}}}),
        ] {
            assert!(read_stk_callback(&bad).is_none(), "{bad}");
        }
        let c2b = json!({"TransactionType": "Pay Bill", "TransID": "SGR7XK2M4Q", "TransTime": "20261207101500",
            "TransAmount": "850.00", "BusinessShortCode": "600000", "BillRefNumber": "b 12", "MSISDN": "25470****149"});
        let i = read_c2b(&c2b).unwrap();
        assert_eq!(
            (i.amount, i.bill_ref.as_deref()),
            (Money::from_shillings(850), Some("b 12"))
        );
        assert!(read_c2b(&json!({"TransID": "bad", "TransAmount": "1"})).is_none());
    }
}
