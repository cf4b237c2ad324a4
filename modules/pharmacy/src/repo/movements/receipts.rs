//! SQL of receipts from suppliers.

use serde::Serialize;
use sqlx::Row;

use hms_core::db::{Db, DbError, Tx};

/// A new receipt's header. `None` when its form token was posted before (the caller then
/// answers with that receipt).
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    store: i64,
    supplier: i64,
    reference: &str,
    received_on: &str,
    token: &str,
    user: Option<i64>,
    at: &str,
) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO receipts (store_id, supplier_id, reference, received_on, form_token, \
         posted_by, posted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (form_token) DO NOTHING RETURNING id",
    )
    .bind(store)
    .bind(supplier)
    .bind(reference)
    .bind(received_on)
    .bind(token)
    .bind(user)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?)
}

/// The receipt a form token made.
pub async fn by_token(tx: &mut Tx, token: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM receipts WHERE form_token = $1")
            .bind(token)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_line(
    tx: &mut Tx,
    receipt: i64,
    drug: i64,
    batch: i64,
    packs: Option<i64>,
    quantity: i64,
    unit_cost_cents: i64,
) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO receipt_lines (receipt_id, drug_id, batch_id, packs, quantity, \
         unit_cost_cents) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(receipt)
    .bind(drug)
    .bind(batch)
    .bind(packs)
    .bind(quantity)
    .bind(unit_cost_cents)
    .fetch_one(&mut **tx)
    .await?)
}

/// A receipt as listed and shown.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptRow {
    pub id: i64,
    pub store: String,
    pub supplier: String,
    pub reference: String,
    /// `YYYY-MM-DD`.
    pub received_on: String,
    pub posted_by: String,
    pub posted_at: String,
    pub lines: i64,
    pub value_cents: i64,
}

macro_rules! select_receipts {
    ($tail:literal) => {
        concat!(
            "SELECT r.id, s.name, p.name, r.reference, r.received_on, ",
            "COALESCE(u.full_name, ''), r.posted_at, ",
            "(SELECT COUNT(*) FROM receipt_lines l WHERE l.receipt_id = r.id), ",
            "(SELECT CAST(COALESCE(SUM(l.quantity * l.unit_cost_cents), 0) AS BIGINT) ",
            "FROM receipt_lines l WHERE l.receipt_id = r.id) ",
            "FROM receipts r JOIN stores s ON s.id = r.store_id ",
            "JOIN suppliers p ON p.id = r.supplier_id LEFT JOIN users u ON u.id = r.posted_by ",
            $tail
        )
    };
}

fn receipt_from(r: &sqlx::any::AnyRow) -> ReceiptRow {
    ReceiptRow {
        id: r.get(0),
        store: r.get(1),
        supplier: r.get(2),
        reference: r.get(3),
        received_on: r.get(4),
        posted_by: r.get(5),
        posted_at: r.get(6),
        lines: r.get(7),
        value_cents: r.get(8),
    }
}

/// The latest receipts, newest first, `limit` of them before `before` (keyset).
pub async fn list(db: &Db, before: Option<i64>, limit: i64) -> Result<Vec<ReceiptRow>, DbError> {
    Ok(sqlx::query(select_receipts!(
        "WHERE r.id < $1 ORDER BY r.id DESC LIMIT CAST($2 AS BIGINT)"
    ))
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(receipt_from)
    .collect())
}

pub async fn get(db: &Db, id: i64) -> Result<Option<ReceiptRow>, DbError> {
    Ok(sqlx::query(select_receipts!("WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .map(|r| receipt_from(&r)))
}

/// A line of a receipt as shown.
#[derive(Debug, Clone, Serialize)]
pub struct LineRow {
    pub id: i64,
    pub drug: String,
    pub unit: String,
    pub batch_no: String,
    pub expiry: String,
    pub packs: Option<i64>,
    pub quantity: i64,
    pub unit_cost_cents: i64,
}

pub async fn lines(db: &Db, receipt: i64) -> Result<Vec<LineRow>, DbError> {
    let rows = sqlx::query(
        "SELECT l.id, d.generic_name, d.strength, d.form, d.unit, b.batch_no, b.expiry, \
         l.packs, l.quantity, l.unit_cost_cents FROM receipt_lines l \
         JOIN drugs d ON d.id = l.drug_id JOIN stock_batches b ON b.id = l.batch_id \
         WHERE l.receipt_id = $1 ORDER BY l.id",
    )
    .bind(receipt)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let parts: [String; 3] = [r.get(1), r.get(2), r.get(3)];
            LineRow {
                id: r.get(0),
                drug: super::drug_name(parts),
                unit: r.get(4),
                batch_no: r.get(5),
                expiry: r.get(6),
                packs: r.get(7),
                quantity: r.get(8),
                unit_cost_cents: r.get(9),
            }
        })
        .collect())
}

/// Whether an active store / supplier with this id exists.
pub async fn store_active(db: &Db, id: i64) -> Result<bool, DbError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stores WHERE id = $1 AND active = 1")
        .bind(id)
        .fetch_one(db.read())
        .await?;
    Ok(n == 1)
}

pub async fn supplier_active(db: &Db, id: i64) -> Result<bool, DbError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM suppliers WHERE id = $1 AND active = 1")
        .bind(id)
        .fetch_one(db.read())
        .await?;
    Ok(n == 1)
}
