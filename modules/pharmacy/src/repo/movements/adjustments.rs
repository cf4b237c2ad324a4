//! SQL of adjustments and of the expired stock still on the shelf.

use serde::Serialize;
use sqlx::Row;

use hms_core::db::{Db, DbError, Tx};

use super::{batch_from, select_batches, BatchRow};

/// A new adjustment; `None` when its form token was posted before.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    batch: &BatchRow,
    quantity: i64,
    reason: &str,
    note: Option<&str>,
    token: &str,
    user: Option<i64>,
    at: &str,
) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO adjustments (store_id, drug_id, batch_id, quantity, reason, note, \
         form_token, made_by, made_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (form_token) DO NOTHING RETURNING id",
    )
    .bind(batch.store_id)
    .bind(batch.drug_id)
    .bind(batch.id)
    .bind(quantity)
    .bind(reason)
    .bind(note)
    .bind(token)
    .bind(user)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn by_token(tx: &mut Tx, token: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM adjustments WHERE form_token = $1")
            .bind(token)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// An adjustment as listed.
#[derive(Debug, Clone, Serialize)]
pub struct AdjustmentRow {
    pub id: i64,
    pub store: String,
    pub drug: String,
    pub batch_no: String,
    pub expiry: String,
    pub quantity: i64,
    pub reason: String,
    pub note: String,
    pub made_by: String,
    pub made_at: String,
}

/// The latest adjustments, newest first, `limit` of them before `before` (keyset).
pub async fn list(db: &Db, before: Option<i64>, limit: i64) -> Result<Vec<AdjustmentRow>, DbError> {
    let rows = sqlx::query(
        "SELECT a.id, s.name, d.generic_name, d.strength, d.form, b.batch_no, b.expiry, \
         a.quantity, a.reason, COALESCE(a.note, ''), COALESCE(u.full_name, ''), a.made_at \
         FROM adjustments a JOIN stores s ON s.id = a.store_id JOIN drugs d ON d.id = a.drug_id \
         JOIN stock_batches b ON b.id = a.batch_id LEFT JOIN users u ON u.id = a.made_by \
         WHERE a.id < $1 ORDER BY a.id DESC LIMIT CAST($2 AS BIGINT)",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let parts: [String; 3] = [r.get(2), r.get(3), r.get(4)];
            AdjustmentRow {
                id: r.get(0),
                store: r.get(1),
                drug: super::drug_name(parts),
                batch_no: r.get(5),
                expiry: r.get(6),
                quantity: r.get(7),
                reason: r.get(8),
                note: r.get(9),
                made_by: r.get(10),
                made_at: r.get(11),
            }
        })
        .collect())
}

/// Batches past their expiry with units still on the shelf (in one store, or all), earliest
/// expiry first.
pub async fn expired(db: &Db, today: &str, store: Option<i64>) -> Result<Vec<BatchRow>, DbError> {
    Ok(sqlx::query(select_batches!(
        "WHERE b.qty_on_hand > 0 AND b.expiry < $1 AND ($2 = 0 OR b.store_id = $2) \
         ORDER BY b.expiry, b.id"
    ))
    .bind(today)
    .bind(store.unwrap_or(0))
    .fetch_all(db.read())
    .await?
    .iter()
    .map(batch_from)
    .collect())
}

/// The same, read inside the write-off's transaction (one batch, or a store's, or all).
pub async fn expired_in(
    tx: &mut Tx,
    today: &str,
    store: Option<i64>,
    batch: Option<i64>,
) -> Result<Vec<BatchRow>, DbError> {
    Ok(sqlx::query(select_batches!(
        "WHERE b.qty_on_hand > 0 AND b.expiry < $1 AND ($2 = 0 OR b.store_id = $2) \
         AND ($3 = 0 OR b.id = $3) ORDER BY b.expiry, b.id"
    ))
    .bind(today)
    .bind(store.unwrap_or(0))
    .bind(batch.unwrap_or(0))
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(batch_from)
    .collect())
}
