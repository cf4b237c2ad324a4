//! SQL of the pharmacy's movements (receipts, adjustments, transfers, stock takes), and the
//! choices their forms offer. Balances and the ledger are written only by `crate::stock`.

pub mod adjustments;
pub mod receipts;
pub mod stocktakes;
pub mod transfers;

use sqlx::Row;

use hms_core::db::{Db, DbError, Tx};

use crate::model::Drug;
use crate::select_drugs;

/// Active drugs for a form's select, by name. The catalogue's own search replaces this
/// where a screen needs typing ahead.
pub async fn drug_choices(db: &Db) -> Result<Vec<Drug>, DbError> {
    Ok(sqlx::query(select_drugs!(
        "WHERE d.active = 1 ORDER BY d.generic_name, d.strength, d.id"
    ))
    .fetch_all(db.read())
    .await?
    .iter()
    .map(crate::model::drug_from)
    .collect())
}

/// A drug by id inside a transaction (active or not).
pub async fn drug_in(tx: &mut Tx, id: i64) -> Result<Option<Drug>, DbError> {
    Ok(sqlx::query(select_drugs!("WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| crate::model::drug_from(&r)))
}

/// A supplier: KEMSA, MEDS, a wholesaler...
#[derive(Debug, Clone, serde::Serialize)]
pub struct Supplier {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub active: bool,
}

pub async fn suppliers(db: &Db) -> Result<Vec<Supplier>, DbError> {
    Ok(
        sqlx::query("SELECT id, name, kind, active FROM suppliers ORDER BY active DESC, name, id")
            .fetch_all(db.read())
            .await?
            .into_iter()
            .map(|r| Supplier {
                id: r.get(0),
                name: r.get(1),
                kind: r.get(2),
                active: r.get::<i64, _>(3) != 0,
            })
            .collect(),
    )
}

/// A batch as the movement screens show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BatchRow {
    pub id: i64,
    pub store_id: i64,
    pub store: String,
    pub drug_id: i64,
    pub drug: String,
    pub unit: String,
    pub batch_no: String,
    /// `YYYY-MM-DD`.
    pub expiry: String,
    pub unit_cost_cents: i64,
    pub qty_on_hand: i64,
}

/// Columns [`batch_from`] reads, from `stock_batches b` joined to `stores s` and `drugs d`.
macro_rules! select_batches {
    ($tail:literal) => {
        concat!(
            "SELECT b.id, b.store_id, s.name, b.drug_id, d.generic_name, d.strength, d.form, ",
            "d.unit, b.batch_no, b.expiry, b.unit_cost_cents, b.qty_on_hand ",
            "FROM stock_batches b JOIN stores s ON s.id = b.store_id ",
            "JOIN drugs d ON d.id = b.drug_id ",
            $tail
        )
    };
}
pub(crate) use select_batches;

pub fn batch_from(r: &sqlx::any::AnyRow) -> BatchRow {
    let name: String = r.get(4);
    let strength: String = r.get(5);
    let form: String = r.get(6);
    BatchRow {
        id: r.get(0),
        store_id: r.get(1),
        store: r.get(2),
        drug_id: r.get(3),
        drug: [name, strength, form]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        unit: r.get(7),
        batch_no: r.get(8),
        expiry: r.get(9),
        unit_cost_cents: r.get(10),
        qty_on_hand: r.get(11),
    }
}

/// One batch by id, in a transaction.
pub async fn batch_in(tx: &mut Tx, id: i64) -> Result<Option<BatchRow>, DbError> {
    Ok(sqlx::query(select_batches!("WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| batch_from(&r)))
}

/// One batch by id.
pub async fn batch(db: &Db, id: i64) -> Result<Option<BatchRow>, DbError> {
    Ok(sqlx::query(select_batches!("WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .map(|r| batch_from(&r)))
}

/// The batches of a drug in a store, earliest expiry first (empty ones too: stock found may go
/// back into one).
pub async fn batches_of(db: &Db, store: i64, drug: i64) -> Result<Vec<BatchRow>, DbError> {
    Ok(sqlx::query(select_batches!(
        "WHERE b.store_id = $1 AND b.drug_id = $2 ORDER BY b.expiry, b.id"
    ))
    .bind(store)
    .bind(drug)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(batch_from)
    .collect())
}

/// A batch's balance now, in a transaction (for the audit row's before and after).
pub async fn balance(tx: &mut Tx, batch: i64) -> Result<i64, DbError> {
    Ok(
        sqlx::query_scalar("SELECT qty_on_hand FROM stock_batches WHERE id = $1")
            .bind(batch)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// "Amoxicillin 500 mg capsule" from its three parts.
pub fn drug_name(parts: [String; 3]) -> String {
    parts
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
