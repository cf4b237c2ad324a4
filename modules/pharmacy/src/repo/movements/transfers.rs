//! SQL of transfers between stores and their lines.

use serde::Serialize;
use sqlx::Row;

use hms_core::db::{Db, DbError, Tx};

/// A new transfer, `requested` (a dispensary's requisition) or `issued` at once (a direct
/// transfer); `None` when its form token was posted before.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    from: i64,
    to: i64,
    state: &str,
    note: Option<&str>,
    token: &str,
    user: Option<i64>,
    at: &str,
) -> Result<Option<i64>, DbError> {
    let issued = state == "issued";
    Ok(sqlx::query_scalar(
        "INSERT INTO transfers (from_store_id, to_store_id, state, note, form_token, \
         requested_by, requested_at, issued_by, issued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (form_token) DO NOTHING RETURNING id",
    )
    .bind(from)
    .bind(to)
    .bind(state)
    .bind(note)
    .bind(token)
    .bind(user)
    .bind(at)
    .bind(if issued { user } else { None })
    .bind(if issued { Some(at) } else { None })
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn by_token(tx: &mut Tx, token: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM transfers WHERE form_token = $1")
            .bind(token)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

pub async fn insert_line(
    tx: &mut Tx,
    transfer: i64,
    drug: i64,
    requested: Option<i64>,
) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO transfer_lines (transfer_id, drug_id, quantity_requested) \
         VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(transfer)
    .bind(drug)
    .bind(requested)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn set_issued(tx: &mut Tx, line: i64, quantity: i64) -> Result<(), DbError> {
    hms_core::db::one_row(
        sqlx::query("UPDATE transfer_lines SET quantity_issued = $1 WHERE id = $2")
            .bind(quantity)
            .bind(line)
            .execute(&mut **tx)
            .await?,
    )
}

/// Moves a requisition from `requested` to `issued` (guarded: one row or none); returns its
/// stores (from, to).
pub async fn mark_issued(
    tx: &mut Tx,
    id: i64,
    user: Option<i64>,
    at: &str,
) -> Result<Option<(i64, i64)>, DbError> {
    Ok(sqlx::query(
        "UPDATE transfers SET state = 'issued', issued_by = $1, issued_at = $2 \
         WHERE id = $3 AND state = 'requested' RETURNING from_store_id, to_store_id",
    )
    .bind(user)
    .bind(at)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.get(0), r.get(1))))
}

/// Cancels a requisition not yet issued (guarded).
pub async fn cancel(tx: &mut Tx, id: i64) -> Result<(), DbError> {
    hms_core::db::one_row(
        sqlx::query(
            "UPDATE transfers SET state = 'cancelled' WHERE id = $1 AND state = 'requested'",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?,
    )
}

/// The unit cost of a batch (carried to the batch it lands in).
pub async fn batch_cost(tx: &mut Tx, batch: i64) -> Result<i64, DbError> {
    Ok(
        sqlx::query_scalar("SELECT unit_cost_cents FROM stock_batches WHERE id = $1")
            .bind(batch)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// A transfer as listed and shown.
#[derive(Debug, Clone, Serialize)]
pub struct TransferRow {
    pub id: i64,
    pub from_store_id: i64,
    pub from_store: String,
    pub to_store_id: i64,
    pub to_store: String,
    pub state: String,
    pub note: String,
    pub requested_by: String,
    pub requested_at: String,
    pub issued_by: String,
    pub issued_at: String,
    pub lines: i64,
}

macro_rules! select_transfers {
    ($tail:literal) => {
        concat!(
            "SELECT t.id, t.from_store_id, f.name, t.to_store_id, o.name, t.state, ",
            "COALESCE(t.note, ''), COALESCE(ru.full_name, ''), COALESCE(t.requested_at, ''), ",
            "COALESCE(iu.full_name, ''), COALESCE(t.issued_at, ''), ",
            "(SELECT COUNT(*) FROM transfer_lines l WHERE l.transfer_id = t.id) ",
            "FROM transfers t JOIN stores f ON f.id = t.from_store_id ",
            "JOIN stores o ON o.id = t.to_store_id ",
            "LEFT JOIN users ru ON ru.id = t.requested_by LEFT JOIN users iu ON iu.id = t.issued_by ",
            $tail
        )
    };
}

fn transfer_from(r: &sqlx::any::AnyRow) -> TransferRow {
    TransferRow {
        id: r.get(0),
        from_store_id: r.get(1),
        from_store: r.get(2),
        to_store_id: r.get(3),
        to_store: r.get(4),
        state: r.get(5),
        note: r.get(6),
        requested_by: r.get(7),
        requested_at: r.get(8),
        issued_by: r.get(9),
        issued_at: r.get(10),
        lines: r.get(11),
    }
}

/// Requisitions waiting to be issued, oldest first.
pub async fn waiting(db: &Db) -> Result<Vec<TransferRow>, DbError> {
    Ok(sqlx::query(select_transfers!(
        "WHERE t.state = 'requested' ORDER BY t.id LIMIT 200"
    ))
    .fetch_all(db.read())
    .await?
    .iter()
    .map(transfer_from)
    .collect())
}

/// Transfers done or cancelled, newest first (keyset before `before`).
pub async fn done(db: &Db, before: Option<i64>, limit: i64) -> Result<Vec<TransferRow>, DbError> {
    Ok(sqlx::query(select_transfers!(
        "WHERE t.state <> 'requested' AND t.id < $1 ORDER BY t.id DESC LIMIT CAST($2 AS BIGINT)"
    ))
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(transfer_from)
    .collect())
}

pub async fn get(db: &Db, id: i64) -> Result<Option<TransferRow>, DbError> {
    Ok(sqlx::query(select_transfers!("WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .map(|r| transfer_from(&r)))
}

/// A line as shown, with the usable stock of the issuing store.
#[derive(Debug, Clone, Serialize)]
pub struct LineRow {
    pub id: i64,
    pub drug_id: i64,
    pub drug: String,
    pub unit: String,
    pub requested: Option<i64>,
    pub issued: Option<i64>,
    pub available: i64,
}

/// The lines of a transfer, with what the issuing store holds usable on `today`.
pub async fn lines(db: &Db, transfer: i64, today: &str) -> Result<Vec<LineRow>, DbError> {
    let rows = sqlx::query(
        "SELECT l.id, l.drug_id, d.generic_name, d.strength, d.form, d.unit, \
         l.quantity_requested, l.quantity_issued, \
         (SELECT CAST(COALESCE(SUM(b.qty_on_hand), 0) AS BIGINT) FROM stock_batches b \
          WHERE b.store_id = t.from_store_id AND b.drug_id = l.drug_id AND b.expiry >= $2) \
         FROM transfer_lines l JOIN transfers t ON t.id = l.transfer_id \
         JOIN drugs d ON d.id = l.drug_id WHERE l.transfer_id = $1 ORDER BY l.id",
    )
    .bind(transfer)
    .bind(today)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let parts: [String; 3] = [r.get(2), r.get(3), r.get(4)];
            LineRow {
                id: r.get(0),
                drug_id: r.get(1),
                drug: super::drug_name(parts),
                unit: r.get(5),
                requested: r.get(6),
                issued: r.get(7),
                available: r.get(8),
            }
        })
        .collect())
}

/// The lines of a requisition inside the issuing transaction: (line, drug).
pub async fn line_drugs(tx: &mut Tx, transfer: i64) -> Result<Vec<(i64, i64)>, DbError> {
    Ok(sqlx::query(
        "SELECT id, drug_id FROM transfer_lines WHERE transfer_id = $1 ORDER BY drug_id, id",
    )
    .bind(transfer)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}
