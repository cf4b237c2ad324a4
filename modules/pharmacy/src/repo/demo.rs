//! SQL of the pharmacy's demo: its stores, suppliers and stock list, the drug orders it
//! dispenses (read in pages), and the records around each movement (receipts, transfers,
//! dispenses, the stock take). Balances and the ledger move only through `crate::stock`.

use hms_core::db::{Db, DbError, Tx};
use sqlx::Row;

use crate::model::{drug_from, Drug};
use crate::repo::catalogue;
use crate::select_drugs;

/// Whether stock has ever moved here (the demo's history is written once).
pub async fn any_ledger(db: &Db) -> Result<bool, DbError> {
    Ok(sqlx::query("SELECT 1 FROM stock_ledger LIMIT 1")
        .fetch_optional(db.read())
        .await?
        .is_some())
}

pub async fn all_drugs(tx: &mut Tx) -> Result<Vec<Drug>, DbError> {
    Ok(sqlx::query(select_drugs!("ORDER BY d.id"))
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(drug_from)
        .collect())
}

/// The store with this code, added through the catalogue when missing; returns its id.
pub async fn store(
    tx: &mut Tx,
    code: &str,
    name: &str,
    kind: &str,
    now: &str,
) -> Result<i64, DbError> {
    if let Some(id) = catalogue::insert_store(tx, code, name, kind, now).await? {
        return Ok(id);
    }
    Ok(sqlx::query_scalar("SELECT id FROM stores WHERE code = $1")
        .bind(code)
        .fetch_one(&mut **tx)
        .await?)
}

/// The supplier of this name, added through the catalogue when missing; returns its id.
pub async fn supplier(
    tx: &mut Tx,
    name: &str,
    kind: &str,
    phone: &str,
    now: &str,
) -> Result<i64, DbError> {
    if let Some(id) = catalogue::insert_supplier(tx, name, kind, phone, now).await? {
        return Ok(id);
    }
    Ok(
        sqlx::query_scalar("SELECT id FROM suppliers WHERE name = $1")
            .bind(name)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// A completed visit: (visit, patient, checked in at).
pub struct QuietVisit {
    pub id: i64,
    pub patient: i64,
    pub at: String,
}

/// The latest `limit` completed visits.
pub async fn latest_visits(db: &Db, limit: i64) -> Result<Vec<QuietVisit>, DbError> {
    Ok(sqlx::query(
        "SELECT v.id, v.patient_id, v.checked_in_at FROM visits v \
         WHERE v.status = 'completed' ORDER BY v.id DESC LIMIT CAST($1 AS BIGINT)",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| QuietVisit {
        id: r.get(0),
        patient: r.get(1),
        at: r.get(2),
    })
    .collect())
}

/// A drug order placed and not yet dispensed, as the doctor left it.
pub struct PlacedOrder<'a> {
    pub visit: &'a QuietVisit,
    pub group: &'a str,
    pub code: &'a str,
    pub display: &'a str,
    pub details: &'a str,
    pub quantity: i64,
    pub doctor: Option<i64>,
}

pub async fn placed_order(tx: &mut Tx, o: &PlacedOrder<'_>) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO orders (kind, patient_id, visit_id, placer_module, order_group, code, \
         display, details, quantity, placed_by, placed_at) \
         VALUES ('drug', $1, $2, 'consultations', $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(o.visit.patient)
    .bind(o.visit.id)
    .bind(o.group)
    .bind(o.code)
    .bind(o.display)
    .bind(o.details)
    .bind(o.quantity)
    .bind(o.doctor)
    .bind(&o.visit.at)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// Units of drug orders per month of the visit day ("YYYY-MM"), by what they name: (month,
/// code, free text, state, units).
pub async fn monthly_orders(
    db: &Db,
) -> Result<Vec<(String, Option<String>, Option<String>, String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT SUBSTR(v.day, 1, 7), o.code, o.free_text, o.state, \
           CAST(SUM(o.quantity) AS BIGINT) \
         FROM orders o JOIN visits v ON v.id = o.visit_id \
         WHERE o.kind = 'drug' AND o.state IN ('completed', 'placed') \
         GROUP BY SUBSTR(v.day, 1, 7), o.code, o.free_text, o.state",
    )
    .fetch_all(db.read())
    .await?)
}

/// A completed drug order of a past visit: what the pharmacy handed over.
pub struct DoneOrder {
    pub id: i64,
    pub visit: i64,
    pub patient: i64,
    pub day: String,
    pub code: Option<String>,
    pub free_text: Option<String>,
    pub quantity: i64,
    pub details: String,
    /// When the prescription was written (the visit's consultation ended).
    pub at: String,
}

/// Completed drug orders with ids above `after`, at most `limit`, by id.
pub async fn done_orders(db: &Db, after: i64, limit: i64) -> Result<Vec<DoneOrder>, DbError> {
    Ok(sqlx::query(
        "SELECT o.id, o.visit_id, o.patient_id, v.day, o.code, o.free_text, o.quantity, \
           o.details, COALESCE(o.ended_at, o.placed_at) \
         FROM orders o JOIN visits v ON v.id = o.visit_id \
         WHERE o.id > $1 AND o.kind = 'drug' AND o.state = 'completed' \
         ORDER BY o.id LIMIT CAST($2 AS BIGINT)",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| DoneOrder {
        id: r.get(0),
        visit: r.get(1),
        patient: r.get(2),
        day: r.get(3),
        code: r.get(4),
        free_text: r.get(5),
        quantity: r.get(6),
        details: r.get(7),
        at: r.get(8),
    })
    .collect())
}

/// A transfer issued at once (the dispensary's monthly requisition); returns its id.
pub async fn transfer(
    tx: &mut Tx,
    from: i64,
    to: i64,
    token: &str,
    by: Option<i64>,
    at: &str,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO transfers (from_store_id, to_store_id, state, note, form_token, \
         requested_by, requested_at, issued_by, issued_at) \
         VALUES ($1, $2, 'issued', 'Monthly requisition', $3, $4, $5, $4, $5) RETURNING id",
    )
    .bind(from)
    .bind(to)
    .bind(token)
    .bind(by)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

pub async fn transfer_line(
    tx: &mut Tx,
    transfer: i64,
    drug: i64,
    requested: i64,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO transfer_lines (transfer_id, drug_id, quantity_requested, quantity_issued) \
         VALUES ($1, $2, $3, 0) RETURNING id",
    )
    .bind(transfer)
    .bind(drug)
    .bind(requested)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

pub async fn transfer_issued(tx: &mut Tx, line: i64, issued: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE transfer_lines SET quantity_issued = $1 WHERE id = $2")
        .bind(issued)
        .bind(line)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An issued prescription dispense; returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn dispense(
    tx: &mut Tx,
    store: i64,
    patient: i64,
    visit: i64,
    token: &str,
    by: Option<i64>,
    at: &str,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO dispenses (kind, store_id, patient_id, visit_id, state, form_token, \
         prepared_by, prepared_at, issued_by, issued_at) \
         VALUES ('prescription', $1, $2, $3, 'issued', $4, $5, $6, $5, $6) RETURNING id",
    )
    .bind(store)
    .bind(patient)
    .bind(visit)
    .bind(token)
    .bind(by)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// A line issued in full (see [`short_line`] when the shelf held less).
pub async fn dispense_line(
    tx: &mut Tx,
    dispense: i64,
    order: i64,
    drug: &Drug,
    quantity: i64,
    instructions: &str,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO dispense_lines (dispense_id, order_id, drug_id, quantity, quantity_issued, \
         unit_price_cents, instructions) VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id",
    )
    .bind(dispense)
    .bind(order)
    .bind(drug.id)
    .bind(quantity)
    .bind(drug.price_cents)
    .bind(instructions)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

pub async fn short_line(tx: &mut Tx, line: i64, issued: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE dispense_lines SET quantity_issued = $1 WHERE id = $2")
        .bind(issued)
        .bind(line)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An approved stock take of `store`, counted by `counter` and approved by `approver`.
pub async fn stock_take(
    tx: &mut Tx,
    store: i64,
    counter: Option<i64>,
    approver: Option<i64>,
    (started, decided): (&str, &str),
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO stock_takes (store_id, blind, state, note, started_by, started_at, \
         submitted_by, submitted_at, decided_by, decided_at) \
         VALUES ($1, 1, 'approved', 'Quarterly count', $2, $3, $2, $4, $5, $4) RETURNING id",
    )
    .bind(store)
    .bind(counter)
    .bind(started)
    .bind(decided)
    .bind(approver)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// Batches of `store` holding stock: (batch, drug, on hand), by id.
pub async fn batches_on_hand(tx: &mut Tx, store: i64) -> Result<Vec<(i64, i64, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, drug_id, qty_on_hand FROM stock_batches \
         WHERE store_id = $1 AND qty_on_hand > 0 ORDER BY id",
    )
    .bind(store)
    .fetch_all(&mut **tx)
    .await?)
}

#[allow(clippy::too_many_arguments)]
pub async fn stock_take_line(
    tx: &mut Tx,
    take: i64,
    batch: i64,
    drug: i64,
    system: i64,
    counted: i64,
    by: Option<i64>,
    at: &str,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO stock_take_lines (stock_take_id, batch_id, drug_id, system_qty, \
         counted_qty, counted_by, counted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(take)
    .bind(batch)
    .bind(drug)
    .bind(system)
    .bind(counted)
    .bind(by)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// Units on hand per (store, drug).
pub async fn on_hand(tx: &mut Tx) -> Result<Vec<(i64, i64, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT store_id, drug_id, CAST(SUM(qty_on_hand) AS BIGINT) FROM stock_batches \
         GROUP BY store_id, drug_id",
    )
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn store_level(
    tx: &mut Tx,
    store: i64,
    drug: i64,
    (reorder, maximum): (i64, i64),
    now: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO store_levels (store_id, drug_id, reorder_level, maximum_level, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (store_id, drug_id) DO NOTHING",
    )
    .bind(store)
    .bind(drug)
    .bind(reorder)
    .bind(maximum)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
