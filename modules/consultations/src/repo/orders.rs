//! Storage of the order basket of a draft (`encounter_basket`) and the procedures done in the
//! room (`encounter_procedures`). Orders placed from a note live in core's `orders`.

use hms_core::db::{Db, DbError, Tx};
use hms_core::ids::{EncounterId, UserId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

/// The columns [`line_of`] reads.
macro_rules! basket_columns {
    () => {
        "id, encounter_id, kind, code, free_text, display, details, quantity, priority, \
         allergy_reason, added_at"
    };
}

/// An item in the basket, not yet ordered.
#[derive(Debug, Clone, Serialize)]
pub struct BasketLine {
    pub id: i64,
    pub encounter_id: EncounterId,
    pub kind: String,
    pub code: Option<String>,
    pub free_text: Option<String>,
    pub display: String,
    /// For drug lines, the prescription (`hms_core::orders::DrugDetails`).
    pub details: serde_json::Value,
    pub quantity: i64,
    pub priority: String,
    /// Why a drug matching a recorded allergy is prescribed anyway.
    pub allergy_reason: Option<String>,
    pub added_at: String,
}

fn line_of(r: &AnyRow) -> BasketLine {
    let details: String = r.get(6);
    BasketLine {
        id: r.get(0),
        encounter_id: EncounterId(r.get(1)),
        kind: r.get(2),
        code: r.get(3),
        free_text: r.get(4),
        display: r.get(5),
        details: serde_json::from_str(&details).unwrap_or_default(),
        quantity: r.get(7),
        priority: r.get(8),
        allergy_reason: r.get(9),
        added_at: r.get(10),
    }
}

/// A line to put in the basket.
pub struct NewLine<'a> {
    pub kind: &'a str,
    pub code: Option<&'a str>,
    pub free_text: Option<&'a str>,
    pub display: &'a str,
    pub details: &'a serde_json::Value,
    pub quantity: i64,
    pub priority: &'a str,
    pub allergy_reason: Option<&'a str>,
}

pub async fn add(
    tx: &mut Tx,
    encounter: EncounterId,
    line: &NewLine<'_>,
    by: Option<i64>,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO encounter_basket (encounter_id, kind, code, free_text, display, details, \
         quantity, priority, allergy_reason, added_by, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(encounter)
    .bind(line.kind)
    .bind(line.code)
    .bind(line.free_text)
    .bind(line.display)
    .bind(line.details.to_string())
    .bind(line.quantity)
    .bind(line.priority)
    .bind(line.allergy_reason)
    .bind(by)
    .bind(hms_core::clock::now_rfc3339())
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// The basket of a note, in the order items were added.
pub async fn basket(db: &Db, encounter: EncounterId) -> Result<Vec<BasketLine>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        basket_columns!(),
        " FROM encounter_basket WHERE encounter_id = $1 ORDER BY id"
    ))
    .bind(encounter)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(line_of).collect())
}

/// The basket inside a transaction (what *Place orders* turns into orders).
pub async fn basket_in(tx: &mut Tx, encounter: EncounterId) -> Result<Vec<BasketLine>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        basket_columns!(),
        " FROM encounter_basket WHERE encounter_id = $1 ORDER BY id"
    ))
    .bind(encounter)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(line_of).collect())
}

/// Takes one line out of the note's basket; returns it. Gone already (removed or placed by
/// another request): [`DbError::Conflict`].
pub async fn take(tx: &mut Tx, encounter: EncounterId, line: i64) -> Result<BasketLine, DbError> {
    let row = sqlx::query(concat!(
        "DELETE FROM encounter_basket WHERE id = $1 AND encounter_id = $2 RETURNING ",
        basket_columns!()
    ))
    .bind(line)
    .bind(encounter)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::Conflict)?;
    Ok(line_of(&row))
}

/// Items left in the note's basket.
pub async fn count_in(tx: &mut Tx, encounter: EncounterId) -> Result<i64, DbError> {
    Ok(
        sqlx::query("SELECT COUNT(*) FROM encounter_basket WHERE encounter_id = $1")
            .bind(encounter)
            .fetch_one(&mut **tx)
            .await?
            .get(0),
    )
}

/// A procedure done, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct ProcedureDone {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub done_by: Option<UserId>,
    pub done_at: String,
}

/// What [`record_procedure`] writes.
pub struct NewProcedure<'a> {
    pub encounter: &'a crate::encounter::Encounter,
    pub code: &'a str,
    pub name: &'a str,
}

/// Records a procedure done; returns its id.
pub async fn record_procedure(
    tx: &mut Tx,
    p: &NewProcedure<'_>,
    by: Option<i64>,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO encounter_procedures (encounter_id, patient_id, visit_id, visit_day, code, \
         name, done_by, done_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(p.encounter.id)
    .bind(p.encounter.patient_id)
    .bind(p.encounter.visit_id)
    .bind(p.encounter.visit_day)
    .bind(p.code)
    .bind(p.name)
    .bind(by)
    .bind(hms_core::clock::now_rfc3339())
    .fetch_one(&mut **tx)
    .await?
    .get(0))
}

/// Links a procedure to the charge it posted (once: the database refuses a second link and any
/// other change).
pub async fn link_charge(tx: &mut Tx, procedure: i64, charge: i64) -> Result<(), DbError> {
    let done = sqlx::query(
        "UPDATE encounter_procedures SET charge_id = $2 WHERE id = $1 AND charge_id IS NULL",
    )
    .bind(procedure)
    .bind(charge)
    .execute(&mut **tx)
    .await?;
    hms_core::db::one_row(done)
}

/// The procedures done in a note, first to last.
pub async fn procedures(db: &Db, encounter: EncounterId) -> Result<Vec<ProcedureDone>, DbError> {
    let rows = sqlx::query(
        "SELECT id, code, name, done_by, done_at FROM encounter_procedures \
         WHERE encounter_id = $1 ORDER BY id",
    )
    .bind(encounter)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| ProcedureDone {
            id: r.get(0),
            code: r.get(1),
            name: r.get(2),
            done_by: r.get::<Option<i64>, _>(3).map(UserId),
            done_at: r.get(4),
        })
        .collect())
}
