//! Cashier shifts: opened with a float, closed with a blind count of the drawer (the cashier
//! never sees what the system expects before counting), a variance explained, approved by
//! someone else. A payment moves its shift's takings by a guarded update that needs the shift
//! open, so a payment racing the close either lands before it (and is counted) or is refused.

use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
use hms_core::money::Money;

#[derive(Debug, Clone, Serialize)]
pub struct Shift {
    pub id: i64,
    pub cashier_id: i64,
    pub cashier: String,
    pub status: String,
    pub float: Money,
    pub cash_taken: Money,
    pub other_taken: Money,
    /// Cash paid back out of the drawer for refunds.
    pub cash_refunded: Money,
    pub payments: i64,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub counted: Option<Money>,
    pub expected: Option<Money>,
    pub variance: Option<Money>,
    pub variance_reason: Option<String>,
    pub approved_by: Option<String>,
}

macro_rules! select_shifts {
    ($tail:literal) => {
        concat!(
            "SELECT s.id, s.cashier_id, COALESCE(u.full_name, u.username), s.status, s.float_cents, ",
            "s.cash_taken_cents, s.other_taken_cents, s.payments, s.opened_at, s.closed_at, ",
            "s.counted_cents, s.expected_cents, s.variance_reason, ",
            "(SELECT COALESCE(a.full_name, a.username) FROM users a WHERE a.id = s.approved_by), ",
            "s.cash_refunded_cents ",
            "FROM billing_shifts s JOIN users u ON u.id = s.cashier_id ",
            $tail
        )
    };
}

fn shift_at(r: &AnyRow) -> Shift {
    let counted: Option<Money> = r.get(10);
    let expected: Option<Money> = r.get(11);
    Shift {
        id: r.get(0),
        cashier_id: r.get(1),
        cashier: r.get(2),
        status: r.get(3),
        float: r.get(4),
        cash_taken: r.get(5),
        other_taken: r.get(6),
        cash_refunded: r.get(14),
        payments: r.get(7),
        opened_at: r.get(8),
        closed_at: r.get(9),
        counted,
        expected,
        variance: counted.zip(expected).map(|(c, e)| c - e),
        variance_reason: r.get(12),
        approved_by: r.get(13),
    }
}

/// The cashier's open shift, if any.
pub async fn open_of(db: &Db, cashier: i64) -> Result<Option<Shift>, DbError> {
    let row = sqlx::query(select_shifts!(
        "WHERE s.cashier_id = $1 AND s.status = 'open'"
    ))
    .bind(cashier)
    .fetch_optional(db.read())
    .await?;
    Ok(row.as_ref().map(shift_at))
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Shift>, DbError> {
    let row = sqlx::query(select_shifts!("WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    Ok(row.as_ref().map(shift_at))
}

/// Shifts newest first, a page at a time.
pub async fn recent(db: &Db, limit: i64, offset: i64) -> Result<Vec<Shift>, DbError> {
    let rows = sqlx::query(select_shifts!(
        "ORDER BY s.id DESC LIMIT CAST($1 AS BIGINT) OFFSET CAST($2 AS BIGINT)"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(shift_at).collect())
}

/// Takings of a shift by method: (method, count, total).
pub async fn by_method(db: &Db, shift: i64) -> Result<Vec<(String, i64, Money)>, DbError> {
    let rows = sqlx::query(
        "SELECT method, COUNT(*), CAST(SUM(amount_cents) AS BIGINT) FROM billing_payments \
         WHERE shift_id = $1 GROUP BY method ORDER BY method",
    )
    .bind(shift)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum ShiftError {
    #[error("a shift is open already")]
    AlreadyOpen,
    #[error("no open shift")]
    NotOpen,
    #[error("a variance needs a reason")]
    ReasonNeeded,
    #[error("not closed, or one's own")]
    CannotApprove,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ShiftError {
    fn from(e: sqlx::Error) -> Self {
        ShiftError::Db(e.into())
    }
}

impl ShiftError {
    pub fn key(&self) -> &'static str {
        match self {
            ShiftError::AlreadyOpen => "billing_shifts.error_open",
            ShiftError::NotOpen => "billing.error_no_shift",
            ShiftError::ReasonNeeded => "billing_shifts.error_reason",
            ShiftError::CannotApprove => "billing_shifts.error_approve",
            ShiftError::Db(_) => "billing_shifts.error_open",
        }
    }
}

/// Opens a shift for the actor with a float (one open shift per cashier: the unique index
/// decides between two clicks at once).
pub async fn open(tx: &mut Tx, actor: &Actor, float: Money, now: &str) -> Result<i64, ShiftError> {
    let row = sqlx::query(
        "INSERT INTO billing_shifts (cashier_id, status, float_cents, opened_at) \
         VALUES ($1, 'open', $2, $3) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(actor.user_id)
    .bind(float)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    let id: i64 = row.ok_or(ShiftError::AlreadyOpen)?.get(0);
    audit::record(
        tx,
        actor,
        Event::new("billing.shift.open", "billing_shift", Some(id))
            .detail(json!({ "float": float.cents() })),
    )
    .await?;
    Ok(id)
}

/// Closes the actor's open shift with the counted cash (and its count by denomination); a
/// count that differs from the float plus the cash taken needs a reason.
pub async fn close(
    tx: &mut Tx,
    actor: &Actor,
    counted: Money,
    detail: &serde_json::Value,
    reason: &str,
    now: &str,
) -> Result<i64, ShiftError> {
    let row = sqlx::query(
        "UPDATE billing_shifts SET status = 'closed', counted_cents = $1, count_detail = $2, \
         expected_cents = float_cents + cash_taken_cents - cash_refunded_cents, closed_at = $3, variance_reason = $4 \
         WHERE cashier_id = $5 AND status = 'open' RETURNING id, expected_cents",
    )
    .bind(counted)
    .bind(detail.to_string())
    .bind(now)
    .bind(Some(reason.trim()).filter(|r| !r.is_empty()))
    .bind(actor.user_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(ShiftError::NotOpen)?;
    let id: i64 = row.get(0);
    let expected: Money = row.get(1);
    if counted != expected && reason.trim().is_empty() {
        return Err(ShiftError::ReasonNeeded);
    }
    audit::record(
        tx,
        actor,
        Event::new("billing.shift.close", "billing_shift", Some(id)).detail(json!({
            "counted": counted.cents(),
            "expected": expected.cents(),
            "variance": (counted - expected).cents(),
            "reason": reason.trim(),
        })),
    )
    .await?;
    Ok(id)
}

/// Approves a closed shift: never one's own (the check is part of the update).
pub async fn approve(tx: &mut Tx, actor: &Actor, shift: i64, now: &str) -> Result<(), ShiftError> {
    let done = sqlx::query(
        "UPDATE billing_shifts SET status = 'approved', approved_by = $1, approved_at = $2 \
         WHERE id = $3 AND status = 'closed' AND cashier_id <> $1",
    )
    .bind(actor.user_id)
    .bind(now)
    .bind(shift)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ShiftError::CannotApprove);
    }
    audit::record(
        tx,
        actor,
        Event::new("billing.shift.approve", "billing_shift", Some(shift)),
    )
    .await?;
    Ok(())
}
