//! SQL of stock takes and their count sheets.

use serde::Serialize;
use sqlx::Row;

use hms_core::db::{one_row, Db, DbError, Tx};

/// Starts a stock take of a store with a line for every batch holding stock. A store with a
/// stock take already open answers a unique violation (index `stock_takes_open`).
pub async fn start(
    tx: &mut Tx,
    store: i64,
    blind: bool,
    user: Option<i64>,
    at: &str,
) -> Result<(i64, u64), DbError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO stock_takes (store_id, blind, state, started_by, started_at) \
         VALUES ($1, $2, 'counting', $3, $4) RETURNING id",
    )
    .bind(store)
    .bind(i64::from(blind))
    .bind(user)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    let lines = sqlx::query(
        "INSERT INTO stock_take_lines (stock_take_id, batch_id, drug_id) \
         SELECT $1, id, drug_id FROM stock_batches WHERE store_id = $2 AND qty_on_hand > 0",
    )
    .bind(id)
    .bind(store)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok((id, lines))
}

/// The open stock take of a store, if any.
pub async fn open_of(db: &Db, store: i64) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM stock_takes WHERE store_id = $1 AND state IN ('counting', 'submitted')",
    )
    .bind(store)
    .fetch_optional(db.read())
    .await?)
}

/// Holds the stock take in `state` for the rest of the transaction (a guarded no-op update:
/// on PostgreSQL it locks the row, so counting, submitting and deciding never cross).
pub async fn hold(tx: &mut Tx, id: i64, state: &str) -> Result<(), DbError> {
    one_row(
        sqlx::query("UPDATE stock_takes SET state = state WHERE id = $1 AND state = $2")
            .bind(id)
            .bind(state)
            .execute(&mut **tx)
            .await?,
    )
}

/// Records a count: the counted quantity and the system's balance at this moment.
pub async fn count_line(
    tx: &mut Tx,
    take: i64,
    line: i64,
    counted: i64,
    user: Option<i64>,
    at: &str,
) -> Result<(), DbError> {
    one_row(
        sqlx::query(
            "UPDATE stock_take_lines SET counted_qty = $1, \
             system_qty = (SELECT b.qty_on_hand FROM stock_batches b \
                           WHERE b.id = stock_take_lines.batch_id), \
             counted_by = $2, counted_at = $3 WHERE id = $4 AND stock_take_id = $5",
        )
        .bind(counted)
        .bind(user)
        .bind(at)
        .bind(line)
        .bind(take)
        .execute(&mut **tx)
        .await?,
    )
}

pub async fn counted_lines(tx: &mut Tx, take: i64) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM stock_take_lines WHERE stock_take_id = $1 AND counted_qty IS NOT NULL",
    )
    .bind(take)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn submit(tx: &mut Tx, id: i64, user: Option<i64>, at: &str) -> Result<(), DbError> {
    one_row(
        sqlx::query(
            "UPDATE stock_takes SET state = 'submitted', submitted_by = $1, submitted_at = $2 \
             WHERE id = $3 AND state = 'counting'",
        )
        .bind(user)
        .bind(at)
        .bind(id)
        .execute(&mut **tx)
        .await?,
    )
}

/// Decides a submitted stock take (`approved` or `rejected`), guarded.
pub async fn decide(
    tx: &mut Tx,
    id: i64,
    state: &str,
    user: Option<i64>,
    at: &str,
) -> Result<(), DbError> {
    one_row(
        sqlx::query(
            "UPDATE stock_takes SET state = $1, decided_by = $2, decided_at = $3 \
             WHERE id = $4 AND state = 'submitted'",
        )
        .bind(state)
        .bind(user)
        .bind(at)
        .bind(id)
        .execute(&mut **tx)
        .await?,
    )
}

/// Whether `user` counted any line of the stock take or submitted it.
pub async fn counted_by(tx: &mut Tx, id: i64, user: i64) -> Result<bool, DbError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM stock_take_lines WHERE stock_take_id = $1 AND counted_by = $2) \
         + (SELECT COUNT(*) FROM stock_takes WHERE id = $1 AND submitted_by = $2)",
    )
    .bind(id)
    .bind(user)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// A counted line's variance to post: (line, batch, counted - system), batches in (expiry, id)
/// order, the order every mover touches them in.
pub async fn variances(tx: &mut Tx, id: i64) -> Result<Vec<(i64, i64, i64)>, DbError> {
    Ok(sqlx::query(
        "SELECT l.id, l.batch_id, l.counted_qty - l.system_qty FROM stock_take_lines l \
         JOIN stock_batches b ON b.id = l.batch_id \
         WHERE l.stock_take_id = $1 AND l.counted_qty IS NOT NULL AND l.system_qty IS NOT NULL \
         AND l.counted_qty <> l.system_qty ORDER BY b.expiry, b.id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect())
}

/// A stock take as listed and shown.
#[derive(Debug, Clone, Serialize)]
pub struct StockTakeRow {
    pub id: i64,
    pub store_id: i64,
    pub store: String,
    pub blind: bool,
    pub state: String,
    pub started_by: String,
    pub started_at: String,
    pub submitted_by: String,
    pub decided_by: String,
    pub decided_at: String,
    pub lines: i64,
    pub counted: i64,
}

macro_rules! select_takes {
    ($tail:literal) => {
        concat!(
            "SELECT k.id, k.store_id, s.name, k.blind, k.state, COALESCE(su.full_name, ''), ",
            "k.started_at, COALESCE(bu.full_name, ''), COALESCE(du.full_name, ''), ",
            "COALESCE(k.decided_at, ''), ",
            "(SELECT COUNT(*) FROM stock_take_lines l WHERE l.stock_take_id = k.id), ",
            "(SELECT COUNT(*) FROM stock_take_lines l WHERE l.stock_take_id = k.id ",
            "AND l.counted_qty IS NOT NULL) ",
            "FROM stock_takes k JOIN stores s ON s.id = k.store_id ",
            "LEFT JOIN users su ON su.id = k.started_by LEFT JOIN users bu ON bu.id = k.submitted_by ",
            "LEFT JOIN users du ON du.id = k.decided_by ",
            $tail
        )
    };
}

fn take_from(r: &sqlx::any::AnyRow) -> StockTakeRow {
    StockTakeRow {
        id: r.get(0),
        store_id: r.get(1),
        store: r.get(2),
        blind: r.get::<i64, _>(3) != 0,
        state: r.get(4),
        started_by: r.get(5),
        started_at: r.get(6),
        submitted_by: r.get(7),
        decided_by: r.get(8),
        decided_at: r.get(9),
        lines: r.get(10),
        counted: r.get(11),
    }
}

/// Stock takes, newest first (keyset before `before`).
pub async fn list(db: &Db, before: Option<i64>, limit: i64) -> Result<Vec<StockTakeRow>, DbError> {
    Ok(sqlx::query(select_takes!(
        "WHERE k.id < $1 ORDER BY k.id DESC LIMIT CAST($2 AS BIGINT)"
    ))
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(take_from)
    .collect())
}

pub async fn get(db: &Db, id: i64) -> Result<Option<StockTakeRow>, DbError> {
    Ok(sqlx::query(select_takes!("WHERE k.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .map(|r| take_from(&r)))
}

/// A line of the count sheet.
#[derive(Debug, Clone, Serialize)]
pub struct SheetLine {
    pub id: i64,
    pub drug: String,
    pub unit: String,
    pub batch_no: String,
    pub expiry: String,
    pub system_qty: Option<i64>,
    pub counted_qty: Option<i64>,
    pub counted_by: String,
    /// What the batch holds now (shown when the sheet is not blind).
    pub on_hand: i64,
}

pub async fn sheet(db: &Db, id: i64) -> Result<Vec<SheetLine>, DbError> {
    let rows = sqlx::query(
        "SELECT l.id, d.generic_name, d.strength, d.form, d.unit, b.batch_no, b.expiry, \
         l.system_qty, l.counted_qty, COALESCE(u.full_name, ''), b.qty_on_hand \
         FROM stock_take_lines l JOIN stock_batches b ON b.id = l.batch_id \
         JOIN drugs d ON d.id = l.drug_id LEFT JOIN users u ON u.id = l.counted_by \
         WHERE l.stock_take_id = $1 ORDER BY d.generic_name, d.strength, b.expiry, b.id",
    )
    .bind(id)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SheetLine {
            id: r.get(0),
            drug: super::drug_name([r.get(1), r.get(2), r.get(3)]),
            unit: r.get(4),
            batch_no: r.get(5),
            expiry: r.get(6),
            system_qty: r.get(7),
            counted_qty: r.get(8),
            counted_by: r.get(9),
            on_hand: r.get(10),
        })
        .collect())
}
